/* fuzz_pkcs11_uri.c: our checks around p11-kit's RFC 7512 parser (pkcs11/uri.h, and the parsed
 * form in the token layer's internal header), without loading a module: a URI with a pin-value in any spelling is refused and no message echoes its query;
 * the printable form is bounded and NUL-terminated; a parsed URI matches a token or not without
 * crashing, and its pin-source is a plain path. */
#include "pkcs11/internal.h"
#include "pkcs11/uri.h"
#include "tests/fuzz/fuzz.h"

#define QUERY_HINTS "?module-path=...?module-name=...?pin-source=..."

static void token_info(CK_TOKEN_INFO *ti)
{
	memset(ti, 0, sizeof(*ti));
	memset(ti->label, ' ', sizeof(ti->label));
	memcpy(ti->label, "mpc-backup", 10);
	memset(ti->manufacturerID, ' ', sizeof(ti->manufacturerID));
	memcpy(ti->manufacturerID, "SoftHSM project", 15);
	memset(ti->model, ' ', sizeof(ti->model));
	memcpy(ti->model, "SoftHSM v2", 10);
	memset(ti->serialNumber, ' ', sizeof(ti->serialNumber));
	memcpy(ti->serialNumber, "1b2a3c4d5e6f7a8b", 16);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mpc_err e = { 0 };
	struct mpc_token_uri *u = NULL;
	CK_TOKEN_INFO ti;
	char *s = fuzz_cstr(data, size), shown[160];
	const char *q;
	int has_pin, rc;
	size_t cap = size % sizeof(shown) + 1;

	has_pin = mpc_uri_has_pin_value(s);
	memset(shown, 'x', sizeof(shown));
	mpc_uri_for_message(s, shown, cap);
	FUZZ_CHECK(memchr(shown, '\0', cap) != NULL);
	if (has_pin)
		FUZZ_CHECK(strstr(shown, "pin-value") == NULL);
	rc = mpc_token_uri_parse(s, &u, &e);
	fuzz_check_rc(rc, &e);
	q = strchr(s, '?');
	if (rc != MPC_OK) {
		FUZZ_CHECK(u == NULL);
		/* (the hint for a misplaced query attribute quotes "?pin-source=..." itself) */
		if (q != NULL && strlen(q) >= 8 && strstr(QUERY_HINTS, q) == NULL)
			FUZZ_CHECK(strstr(e.msg, q) == NULL);
		free(s);
		return 0;
	}
	FUZZ_CHECK(!has_pin);
	FUZZ_CHECK(u != NULL && u->uri != NULL && u->text != NULL);
	if (u->pin_file != NULL)
		FUZZ_CHECK(u->pin_file[0] != '\0' && strchr(u->pin_file, ':') == NULL &&
			   strchr(u->pin_file, '|') == NULL);
	token_info(&ti);
	(void)mpc_token_uri_match_token(u, &ti);
	mpc_token_uri_free(u);
	free(s);
	return 0;
}
