/* fuzz_body.c: the migration service's encrypted body (src/node/body.h) with a fixed software
 * transport key. Input byte 0 even: the rest is a body to decrypt (strict base64, length and tag
 * checks); odd: the rest is plaintext that must survive encrypt then decrypt unchanged. */
#include "src/node/body.h"
#include "src/util/mem.h"
#include "tests/fuzz/fuzz.h"

static const char KEY_HEX[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mpc_transport_key key; /* the fuzzer's per-process fixture, never freed */
	struct mpc_err e = { 0 };
	uint8_t *pt = NULL;
	size_t pt_len = 0, body_len = 0;
	char *body = NULL;
	int rc;

	if (key.sw == NULL)
		FUZZ_CHECK(mpc_transport_key_from_hex(&key, KEY_HEX, strlen(KEY_HEX), &e) == MPC_OK);
	if (size < 1)
		return 0;
	if (data[0] % 2 == 0) {
		rc = mpc_body_decrypt(&key, (const char *)data + 1, size - 1, 64 * 1024, &pt, &pt_len,
				      &e);
		fuzz_check_rc(rc, &e);
		if (rc != MPC_OK) {
			FUZZ_CHECK(pt == NULL && pt_len == 0);
			return 0;
		}
		FUZZ_CHECK(pt[pt_len] == '\0');
		mpc_secure_free(pt);
		return 0;
	}
	FUZZ_CHECK(mpc_body_encrypt(&key, data + 1, size - 1, &body, &body_len, &e) == MPC_OK);
	FUZZ_CHECK(strlen(body) == body_len);
	rc = mpc_body_decrypt(&key, body, body_len, body_len, &pt, &pt_len, &e);
	FUZZ_CHECK(rc == MPC_OK && pt_len == size - 1 && memcmp(pt, data + 1, pt_len) == 0);
	mpc_secure_free(pt);
	pt = NULL;
	/* one bit flipped anywhere in the body must fail authentication or decoding */
	body[(data[0] / 2) % body_len] ^= 1;
	memset(&e, 0, sizeof(e));
	rc = mpc_body_decrypt(&key, body, body_len, body_len, &pt, &pt_len, &e);
	FUZZ_CHECK(rc == MPC_ERR_AUTH || rc == MPC_ERR_PARSE);
	fuzz_check_rc(rc, &e);
	free(body);
	return 0;
}
