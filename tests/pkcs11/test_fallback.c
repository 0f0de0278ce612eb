/* test_fallback.c: a token without AES-GCM (SoftHSM2 with only non-GCM mechanisms enabled, as on a
 * YubiHSM 2): the ceremony makes only the CBC and HMAC keys and sealing falls back to
 * AES-CBC-PAD + HMAC-SHA256. */
#include "tests/pkcs11/ptest.h"

#include <stdlib.h>

#include "pkcs11/seal.h"
#include "src/util/mem.h"

static int setup_no_gcm(void **state)
{
	/* SoftHSM 2.6.1 ignores a "-CKM_..." exclusion list, so name what stays enabled. */
	return ptest_setup_mech(state, "CKM_AES_KEY_GEN,CKM_AES_CBC_PAD,CKM_GENERIC_SECRET_KEY_GEN,"
				       "CKM_SHA256_HMAC,CKM_EC_EDWARDS_KEY_PAIR_GEN,CKM_EDDSA");
}

static void test_fallback_roundtrip(void **state)
{
	struct ptest *p = *state;
	enum mpc_seal_mech m;
	CK_OBJECT_HANDLE h;
	uint8_t *blob = NULL, *out = NULL;
	size_t blob_len, out_len;
	struct mpc_err e = { 0 };

	assert_false(mpc_token_has_mechanism(p->t, CKM_AES_GCM, CKF_ENCRYPT));
	mpc_token_lock(p->t);
	assert_int_equal(mpc_key_find(p->t, MPC_KEY_SEAL_GCM, &h, &e), MPC_ERR_OBJECT_NOT_FOUND);
	mpc_err_clear(&e);
	assert_int_equal(mpc_key_find(p->t, MPC_KEY_SEAL_CBC, &h, &e), MPC_OK);
	assert_int_equal(mpc_key_find(p->t, MPC_KEY_SEAL_HMAC, &h, &e), MPC_OK);
	mpc_token_unlock(p->t);
	assert_int_equal(mpc_seal_pick(p->t, MPC_SEAL_AUTO, &m, &e), MPC_OK);
	assert_int_equal(m, MPC_SEAL_AES_CBC_HMAC);
	assert_int_equal(mpc_seal_pick(p->t, MPC_SEAL_AES_GCM, &m, &e), MPC_ERR_UNSUPPORTED);
	mpc_err_clear(&e);
	assert_int_equal(mpc_seal(p->t, MPC_SEAL_AUTO, (const uint8_t *)"h", 1, (const uint8_t *)"keyshares", 9, &blob, &blob_len, &e), MPC_OK);
	assert_int_equal(blob[5], MPC_SEAL_AES_CBC_HMAC);
	assert_int_equal(mpc_unseal(p->t, (const uint8_t *)"h", 1, blob, blob_len, &out, &out_len, &e), MPC_OK);
	assert_int_equal(out_len, 9);
	assert_memory_equal(out, "keyshares", 9);
	mpc_secure_free(out);
	free(blob);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fallback_roundtrip, setup_no_gcm, ptest_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
