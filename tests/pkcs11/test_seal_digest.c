/* test_seal_digest.c: the CBC+HMAC blob whose HMAC is taken over a SHA-256 digest (mechanism
 * 3, for tokens that take little HMAC input: YubiHSM 2) on a real SoftHSM2 token: it opens to
 * the plaintext, any change to the blob, the associated data or the mechanism byte fails
 * authentication, and its MAC is not the plain CBC+HMAC blob's. */
#include "tests/pkcs11/ptest.h"

#include <stdlib.h>

#include "pkcs11/seal.h"
#include "src/util/mem.h"

static const uint8_t aad[] = "store header";

static void seal3(struct ptest *p, const uint8_t *pt, size_t n, uint8_t **blob, size_t *len)
{
	struct mpc_err e = { 0 };

	if (mpc_seal(p->t, MPC_SEAL_AES_CBC_HMAC_DIGEST, aad, sizeof(aad), pt, n, blob, len, &e) !=
	    MPC_OK)
		fail_msg("seal: %s", e.msg);
}

static int opens(struct ptest *p, const uint8_t *a, size_t a_len, const uint8_t *blob, size_t len)
{
	struct mpc_err e = { 0 };
	uint8_t *out = NULL;
	size_t out_len = 0;
	int rc = mpc_unseal(p->t, a, a_len, blob, len, &out, &out_len, &e);

	mpc_secure_free(out);
	return rc;
}

static void test_digest_roundtrip_and_tamper(void **state)
{
	struct ptest *p = *state;
	static uint8_t pt[20000];
	struct mpc_err e = { 0 };
	enum mpc_seal_mech m;
	uint8_t *blob = NULL, *out = NULL;
	size_t len = 0, out_len = 0;

	memset(pt, 0x42, sizeof(pt));
	assert_int_equal(mpc_seal_mech_parse("aes-256-cbc-hmac-sha256-digest", &m, &e), MPC_OK);
	assert_int_equal(m, MPC_SEAL_AES_CBC_HMAC_DIGEST);
	seal3(p, pt, sizeof(pt), &blob, &len);
	assert_int_equal(blob[5], MPC_SEAL_AES_CBC_HMAC_DIGEST);
	assert_int_equal(mpc_seal_blob_mech(blob, len, &m, &e), MPC_OK);
	assert_int_equal(m, MPC_SEAL_AES_CBC_HMAC_DIGEST);
	assert_int_equal(mpc_unseal(p->t, aad, sizeof(aad), blob, len, &out, &out_len, &e), MPC_OK);
	assert_int_equal(out_len, sizeof(pt));
	assert_memory_equal(out, pt, sizeof(pt));
	mpc_secure_free(out);
	/* every part the digest covers is authenticated */
	blob[len / 2] ^= 1; /* ciphertext */
	assert_int_equal(opens(p, aad, sizeof(aad), blob, len), MPC_ERR_AUTH);
	blob[len / 2] ^= 1;
	blob[8] ^= 1; /* IV */
	assert_int_equal(opens(p, aad, sizeof(aad), blob, len), MPC_ERR_AUTH);
	blob[8] ^= 1;
	blob[len - 1] ^= 1; /* MAC */
	assert_int_equal(opens(p, aad, sizeof(aad), blob, len), MPC_ERR_AUTH);
	blob[len - 1] ^= 1;
	assert_int_equal(opens(p, (const uint8_t *)"store headeR", sizeof(aad), blob, len),
			 MPC_ERR_AUTH);
	/* the mechanism byte is under the MAC: read as plain CBC+HMAC it does not open */
	blob[5] = MPC_SEAL_AES_CBC_HMAC;
	assert_int_equal(opens(p, aad, sizeof(aad), blob, len), MPC_ERR_AUTH);
	blob[5] = MPC_SEAL_AES_CBC_HMAC_DIGEST;
	assert_int_equal(opens(p, aad, sizeof(aad), blob, len), MPC_OK);
	assert_int_equal(opens(p, aad, sizeof(aad), blob, len - 16), MPC_ERR_AUTH); /* truncated */
	free(blob);
	/* SoftHSM2 has no HMAC limit: AUTO keeps GCM, and plain CBC+HMAC for CBC */
	assert_int_equal(mpc_seal_pick(p->t, MPC_SEAL_AES_CBC_HMAC, &m, &e), MPC_OK);
	assert_int_equal(m, MPC_SEAL_AES_CBC_HMAC);
	assert_int_equal(mpc_seal_pick(p->t, MPC_SEAL_AUTO, &m, &e), MPC_OK);
	assert_int_equal(m, MPC_SEAL_AES_GCM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_digest_roundtrip_and_tamper, ptest_setup,
						ptest_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
