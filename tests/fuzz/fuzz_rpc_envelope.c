/* fuzz_rpc_envelope.c: the NEAR JSON-RPC response readers (src/contract/rpc_envelope.h), the
 * first readers of an RPC endpoint's bytes: the `query` scanner and the `block` answer. On
 * success the view bytes are at most len/2 + 1, NUL-terminated after *out_len; a block hash is
 * always a bounded base58 string. */
#include <jansson.h>

#include "src/contract/rpc_envelope.h"
#include "tests/fuzz/fuzz.h"

/* The scanner "validates the whole document as JSON": whatever it got through (a result or a
 * JSON-RPC/contract error) jansson must read too, except for what jansson refuses beyond JSON's
 * grammar (integers over int64, \u0000, lone surrogates, invalid UTF-8; those the scanner only
 * passes through, the JSON loader of src/model/json.h handles them where they matter). */
static void check_is_json(const uint8_t *data, size_t size)
{
	json_error_t jerr;
	json_t *j = json_loadb((const char *)data, size, 0, &jerr);
	enum json_error_code c;

	if (j != NULL) {
		json_decref(j);
		return;
	}
	c = json_error_code(&jerr);
	if (c == json_error_numeric_overflow || c == json_error_null_character ||
	    c == json_error_invalid_utf8 || strstr(jerr.text, "Unicode") != NULL ||
	    strstr(jerr.text, "surrogate") != NULL)
		return;
	fprintf(stderr, "scanner accepted what jansson refuses: %s (code %d) at %d\n", jerr.text,
		(int)c, jerr.position);
	FUZZ_CHECK(!"the envelope scanner accepted invalid JSON");
}

static void check_meta(const struct mpc_rpc_meta *m)
{
	size_t n = strnlen(m->block_hash, sizeof(m->block_hash));

	FUZZ_CHECK(n < sizeof(m->block_hash));
	FUZZ_CHECK(strspn(m->block_hash, "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz") ==
		   n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mpc_err e = { 0 };
	struct mpc_rpc_meta meta;
	char *out = NULL;
	size_t out_len = 12345;
	int rc = mpc_rpc_envelope_decode_meta((const char *)data, size, &out, &out_len, &meta, &e);

	fuzz_check_rc(rc, &e);
	check_meta(&meta);
	if (rc == MPC_OK || rc == MPC_ERR_RPC)
		check_is_json(data, size);
	if (rc != MPC_OK) {
		FUZZ_CHECK(out == NULL);
	} else {
		FUZZ_CHECK(out != NULL);
		FUZZ_CHECK(out_len <= size / 2 + 1);
		FUZZ_CHECK(out[out_len] == '\0');
		free(out);
	}
	/* The same bytes as an answer to a `block` request. */
	memset(&e, 0, sizeof(e));
	rc = mpc_rpc_block_decode((const char *)data, size, &meta, &e);
	fuzz_check_rc(rc, &e);
	check_meta(&meta);
	if (rc == MPC_OK)
		FUZZ_CHECK(meta.block_hash[0] != '\0');
	return 0;
}
