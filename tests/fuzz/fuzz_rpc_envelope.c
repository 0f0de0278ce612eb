/* fuzz_rpc_envelope.c: the NEAR JSON-RPC `query` response scanner (src/contract/rpc_envelope.h),
 * the first reader of an RPC endpoint's bytes. On success the view bytes are at most len/2 + 1,
 * NUL-terminated after *out_len. */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mpc_err e = { 0 };
	char *out = NULL;
	size_t out_len = 12345;
	uint64_t height = 777;
	int rc = mpc_rpc_envelope_decode((const char *)data, size, &out, &out_len, &height, &e);

	fuzz_check_rc(rc, &e);
	if (rc == MPC_OK || rc == MPC_ERR_RPC)
		check_is_json(data, size);
	if (rc != MPC_OK) {
		FUZZ_CHECK(out == NULL);
		return 0;
	}
	FUZZ_CHECK(out != NULL);
	FUZZ_CHECK(out_len <= size / 2 + 1);
	FUZZ_CHECK(out[out_len] == '\0');
	free(out);
	return 0;
}
