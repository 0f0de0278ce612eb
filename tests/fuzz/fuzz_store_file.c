/* fuzz_store_file.c: a sealed store file as read back from disk (src/store/format.h): the whole
 * file with its blobs, the header alone, the prefix, and the input as a file name. A parsed
 * header re-encodes to exactly the bytes it came from (one canonical form), blobs lie inside the
 * buffer, and a parsed file name prints back to itself. */
#include <inttypes.h>

#include "src/store/format.h"
#include "tests/fuzz/fuzz.h"

static void check_name(const uint8_t *data, size_t size)
{
	char *name = fuzz_cstr(data, size < 80 ? size : 80);
	char digest[MPC_STORE_DIGEST_HEX + 1], back[MPC_STORE_NAME_MAX + 16];
	uint64_t epoch = 0;

	if (mpc_store_name_parse(name, &epoch, digest)) {
		snprintf(back, sizeof(back), "keyset-e%020" PRIu64 "-%s.mpcs", epoch, digest);
		FUZZ_CHECK(strcmp(back, name) == 0);
	}
	(void)mpc_store_name_is_temp(name);
	free(name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mpc_err e = { 0 };
	struct mpc_store_header h, h2;
	struct mpc_store_blob_ref blobs[MPC_STORE_MAX_TOKENS];
	size_t hdr_len = 0, hdr_len2 = 0, n_blobs = 0, plen = 0, enc_len = 0;
	uint8_t *enc = NULL;
	int rc, rc2;

	check_name(data, size);
	rc = mpc_store_file_parse(data, size, &h, &hdr_len, blobs, &n_blobs, &e);
	fuzz_check_rc(rc, &e);
	memset(&e, 0, sizeof(e));
	rc2 = mpc_store_file_parse(data, size, &h2, &hdr_len2, NULL, NULL, &e);
	fuzz_check_rc(rc2, &e);
	if (rc == MPC_OK)
		FUZZ_CHECK(rc2 == MPC_OK && hdr_len2 == hdr_len);
	if (rc2 == MPC_OK) {
		FUZZ_CHECK(hdr_len2 <= size);
		FUZZ_CHECK(mpc_store_header_len(data, size, &plen, &e) == MPC_OK && plen == hdr_len2);
		FUZZ_CHECK(h2.n_tokens <= MPC_STORE_MAX_TOKENS);
		FUZZ_CHECK(h2.keyset.epoch_id == h2.epoch);
		memset(&e, 0, sizeof(e));
		if (mpc_store_header_encode(&h2, &enc, &enc_len, &e) != MPC_OK)
			fprintf(stderr, "re-encode: %s\n", e.msg);
		FUZZ_CHECK(enc != NULL);
		FUZZ_CHECK(enc_len == hdr_len2 && memcmp(enc, data, enc_len) == 0);
		free(enc);
		mpc_store_header_free(&h2);
	}
	if (rc == MPC_OK) {
		FUZZ_CHECK(n_blobs == h.n_tokens);
		for (size_t i = 0; i < n_blobs; i++) {
			FUZZ_CHECK(blobs[i].token_index == i);
			FUZZ_CHECK(blobs[i].p >= data + hdr_len);
			FUZZ_CHECK(blobs[i].p + blobs[i].len <= data + size);
		}
		mpc_store_header_free(&h);
	}
	return 0;
}
