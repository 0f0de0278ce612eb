/* test_no_downgrade.c: a sealing key that can leave the token (CKA_EXTRACTABLE true or
 * CKA_SENSITIVE false) planted under mpc-backup's GCM label is refused by name (label and
 * CKA_ID), by sealing, by the mechanism choice a backup makes before fetching, and by the key
 * ceremony; it never makes sealing fall back to CBC+HMAC. A GCM key that is simply absent
 * still lets AUTO use CBC+HMAC. Real SoftHSM2 token. */
#include "tests/pkcs11/ptest.h"

#include <stdlib.h>

#include "pkcs11/seal.h"
#include "pkcs11/vendor.h"
#include "src/util/mem.h"

/* Destroy the ceremony's GCM key (found through the layer, so by its label and id). */
static void destroy_gcm_key(struct ptest *p)
{
	struct mpc_err e = { 0 };
	CK_OBJECT_HANDLE h;

	mpc_token_lock(p->t);
	assert_int_equal(mpc_key_find(p->t, MPC_KEY_SEAL_GCM, &h, &e), MPC_OK);
	assert_int_equal(p->t->fn->C_DestroyObject(p->t->session, h), CKR_OK);
	memset(p->t->key_cache, 0, sizeof(p->t->key_cache));
	mpc_token_unlock(p->t);
}

/* An AES-256 key with the GCM key's label and id, and the given SENSITIVE/EXTRACTABLE. */
static void plant_gcm_key(struct ptest *p, CK_BBOOL sensitive, CK_BBOOL extractable)
{
	CK_BBOOL yes = CK_TRUE;
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_ULONG len = 32;
	CK_BYTE id = 0x01;
	const char *label = "mpc-backup-seal-gcm";
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_VALUE_LEN, &len, sizeof(len) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &sensitive, sizeof(sensitive) },
		{ CKA_EXTRACTABLE, &extractable, sizeof(extractable) },
		{ CKA_ENCRYPT, &yes, sizeof(yes) },
		{ CKA_DECRYPT, &yes, sizeof(yes) },
		{ CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_ID, &id, 1 },
	};
	CK_MECHANISM gen = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_OBJECT_HANDLE h;

	mpc_token_lock(p->t);
	assert_int_equal(p->t->fn->C_GenerateKey(p->t->session, &gen, tmpl,
						 sizeof(tmpl) / sizeof(tmpl[0]), &h),
			 CKR_OK);
	mpc_token_unlock(p->t);
}

/* Every way in refuses the planted key, naming it and why. */
static void expect_refused(struct ptest *p, const char *why)
{
	struct mpc_err e = { 0 };
	struct mpc_ceremony_report rep;
	enum mpc_seal_mech m = MPC_SEAL_AUTO;
	uint8_t *blob = NULL;
	size_t blob_len = 0;

	assert_int_equal(mpc_seal_pick(p->t, MPC_SEAL_AUTO, &m, &e), MPC_ERR_STATE);
	assert_int_equal(m, MPC_SEAL_AUTO); /* nothing picked */
	assert_non_null(strstr(e.msg, "\"mpc-backup-seal-gcm\""));
	assert_non_null(strstr(e.msg, "CKA_ID 01"));
	assert_non_null(strstr(e.msg, why));
	mpc_err_clear(&e);
	assert_int_equal(mpc_seal_pick_for(p->t, MPC_SEAL_AUTO, 15000, &m, &e), MPC_ERR_STATE);
	mpc_err_clear(&e);
	assert_int_equal(mpc_seal(p->t, MPC_SEAL_AUTO, (const uint8_t *)"h", 1,
				  (const uint8_t *)"keyshares", 9, &blob, &blob_len, &e),
			 MPC_ERR_STATE);
	assert_null(blob);
	assert_non_null(strstr(e.msg, "mpc-backup-seal-gcm"));
	mpc_err_clear(&e);
	/* the CBC+HMAC keys are there and fine: asked for by name, they still work */
	assert_int_equal(mpc_seal_pick(p->t, MPC_SEAL_AES_CBC_HMAC, &m, &e), MPC_OK);
	assert_int_equal(m, MPC_SEAL_AES_CBC_HMAC);
	/* `token init` does not count it as the GCM key */
	assert_int_equal(mpc_key_ceremony(p->t, MPC_CEREMONY_SEAL, &rep, &e), MPC_ERR_STATE);
	assert_non_null(strstr(e.msg, "mpc-backup-seal-gcm"));
	assert_non_null(strstr(e.msg, why));
}

static void test_planted_extractable_gcm_key(void **state)
{
	struct ptest *p = *state;

	destroy_gcm_key(p);
	plant_gcm_key(p, CK_TRUE, CK_TRUE);
	expect_refused(p, "is extractable");
}

static void test_planted_not_sensitive_gcm_key(void **state)
{
	struct ptest *p = *state;

	destroy_gcm_key(p);
	plant_gcm_key(p, CK_FALSE, CK_FALSE);
	expect_refused(p, "is not sensitive");
}

/* Control: with no GCM key at all (a token set up without one) AUTO uses CBC+HMAC. */
static void test_absent_gcm_key_uses_cbc(void **state)
{
	struct ptest *p = *state;
	struct mpc_err e = { 0 };
	enum mpc_seal_mech m;
	uint8_t *blob = NULL, *out = NULL;
	size_t blob_len = 0, out_len = 0;

	/* SoftHSM2 is recognised (pkcs11/vendor.c) and has no rules that would refuse here */
	assert_int_equal(mpc_token_kind_of(p->t, NULL), MPC_TOKEN_KIND_SOFTHSM2);
	destroy_gcm_key(p);
	assert_int_equal(mpc_seal_pick(p->t, MPC_SEAL_AUTO, &m, &e), MPC_OK);
	assert_int_equal(m, MPC_SEAL_AES_CBC_HMAC);
	assert_int_equal(mpc_seal(p->t, MPC_SEAL_AUTO, (const uint8_t *)"h", 1,
				  (const uint8_t *)"keyshares", 9, &blob, &blob_len, &e),
			 MPC_OK);
	assert_int_equal(blob[5], MPC_SEAL_AES_CBC_HMAC);
	assert_int_equal(mpc_unseal(p->t, (const uint8_t *)"h", 1, blob, blob_len, &out, &out_len,
				    &e),
			 MPC_OK);
	assert_memory_equal(out, "keyshares", 9);
	mpc_secure_free(out);
	free(blob);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_planted_extractable_gcm_key, ptest_setup,
						ptest_teardown),
		cmocka_unit_test_setup_teardown(test_planted_not_sensitive_gcm_key, ptest_setup,
						ptest_teardown),
		cmocka_unit_test_setup_teardown(test_absent_gcm_key_uses_cbc, ptest_setup,
						ptest_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
