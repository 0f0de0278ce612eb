/* test_seal.c: seal/unseal on a real SoftHSM2 token: round trips, every tamper, wrong key,
 * lost sessions. */
#include "tests/pkcs11/ptest.h"

#include <stdlib.h>

#include "pkcs11/seal.h"
#include "src/util/mem.h"

static const uint8_t aad[] = "mpc-backup store header";

static void roundtrip(struct mpc_token *t, enum mpc_seal_mech mech, size_t n)
{
	uint8_t *pt = malloc(n + 1), *blob = NULL, *back = NULL;
	size_t blob_len = 0, back_len = 0;
	struct mpc_err e = { 0 };
	enum mpc_seal_mech got;

	assert_non_null(pt);
	for (size_t i = 0; i < n; i++)
		pt[i] = (uint8_t)(i * 7 + 3);
	if (mpc_seal(t, mech, aad, sizeof(aad), pt, n, &blob, &blob_len, &e) != MPC_OK)
		fail_msg("seal %zu bytes: %s", n, e.msg);
	assert_int_equal(mpc_seal_blob_mech(blob, blob_len, &got, &e), MPC_OK);
	assert_int_equal(got, mech);
	if (mpc_unseal(t, aad, sizeof(aad), blob, blob_len, &back, &back_len, &e) != MPC_OK)
		fail_msg("unseal %zu bytes: %s", n, e.msg);
	assert_int_equal(back_len, n);
	if (n > 0)
		assert_memory_equal(back, pt, n);
	mpc_secure_free(back);
	free(blob);
	free(pt);
}

static void test_roundtrip_sizes(void **state)
{
	struct ptest *p = *state;
	const size_t sizes[] = { 0, 1, 1024 * 1024 };

	for (size_t i = 0; i < 3; i++) {
		roundtrip(p->t, MPC_SEAL_AES_GCM, sizes[i]);
		roundtrip(p->t, MPC_SEAL_AES_CBC_HMAC, sizes[i]);
	}
}

static void test_auto_prefers_gcm(void **state)
{
	struct ptest *p = *state;
	enum mpc_seal_mech m;
	struct mpc_err e = { 0 };

	assert_int_equal(mpc_seal_pick(p->t, MPC_SEAL_AUTO, &m, &e), MPC_OK);
	assert_int_equal(m, MPC_SEAL_AES_GCM);
}

/* Every single-bit flip, every truncation, a wrong AAD: all refused, nothing returned. */
static void tamper_all(struct mpc_token *t, enum mpc_seal_mech mech)
{
	const uint8_t pt[] = "x";
	uint8_t *blob = NULL, *out = NULL;
	size_t blob_len = 0, out_len = 0;
	struct mpc_err e = { 0 };
	uint8_t bad_aad[sizeof(aad)];

	assert_int_equal(mpc_seal(t, mech, aad, sizeof(aad), pt, 1, &blob, &blob_len, &e), MPC_OK);
	for (size_t i = 0; i < blob_len * 8; i++) {
		int rc;

		blob[i / 8] ^= (uint8_t)(1u << (i % 8));
		mpc_err_clear(&e);
		rc = mpc_unseal(t, aad, sizeof(aad), blob, blob_len, &out, &out_len, &e);
		blob[i / 8] ^= (uint8_t)(1u << (i % 8));
		if (rc == MPC_OK)
			fail_msg("bit %zu flipped was accepted", i);
		assert_true(rc == MPC_ERR_AUTH || rc == MPC_ERR_PARSE);
		assert_null(out);
		assert_true(e.msg[0] != '\0');
	}
	for (size_t l = 0; l < blob_len; l++) {
		mpc_err_clear(&e);
		assert_int_not_equal(mpc_unseal(t, aad, sizeof(aad), blob, l, &out, &out_len, &e), MPC_OK);
		assert_null(out);
	}
	memcpy(bad_aad, aad, sizeof(aad));
	bad_aad[0] ^= 1;
	mpc_err_clear(&e);
	assert_int_equal(mpc_unseal(t, bad_aad, sizeof(bad_aad), blob, blob_len, &out, &out_len, &e),
			 MPC_ERR_AUTH);
	assert_non_null(strstr(e.msg, "authentication"));
	mpc_err_clear(&e);
	assert_int_equal(mpc_unseal(t, aad, sizeof(aad) - 1, blob, blob_len, &out, &out_len, &e),
			 MPC_ERR_AUTH);
	free(blob);
}

static void test_tamper_gcm(void **state)
{
	tamper_all(((struct ptest *)*state)->t, MPC_SEAL_AES_GCM);
}

static void test_tamper_cbc_hmac(void **state)
{
	tamper_all(((struct ptest *)*state)->t, MPC_SEAL_AES_CBC_HMAC);
}

/* Flips in a 1 MiB blob: start, middle, tag. */
static void test_tamper_large(void **state)
{
	struct ptest *p = *state;
	size_t n = 1024 * 1024;
	uint8_t *pt = calloc(1, n), *blob = NULL, *out = NULL;
	size_t blob_len, out_len;
	struct mpc_err e = { 0 };
	const enum mpc_seal_mech mechs[] = { MPC_SEAL_AES_GCM, MPC_SEAL_AES_CBC_HMAC };

	assert_non_null(pt);
	for (size_t m = 0; m < 2; m++) {
		assert_int_equal(mpc_seal(p->t, mechs[m], aad, sizeof(aad), pt, n, &blob, &blob_len, &e),
				 MPC_OK);
		for (size_t pos = 0; pos < blob_len; pos += blob_len / 7) {
			blob[pos] ^= 0x80;
			assert_int_not_equal(mpc_unseal(p->t, aad, sizeof(aad), blob, blob_len, &out, &out_len, &e), MPC_OK);
			blob[pos] ^= 0x80;
			mpc_err_clear(&e);
		}
		blob[blob_len - 1] ^= 1;
		assert_int_equal(mpc_unseal(p->t, aad, sizeof(aad), blob, blob_len, &out, &out_len, &e), MPC_ERR_AUTH);
		mpc_err_clear(&e);
		free(blob);
	}
	free(pt);
}

/* A blob from another token's keys does not open. */
static void test_wrong_key(void **state)
{
	struct ptest *p = *state;
	char uri2[512];
	struct mpc_token *t2;
	struct mpc_ceremony_report rep;
	const enum mpc_seal_mech mechs[] = { MPC_SEAL_AES_GCM, MPC_SEAL_AES_CBC_HMAC };
	struct mpc_err e = { 0 };

	/* SoftHSM2 reads its token directory at C_Initialize: add the token, then start over. */
	assert_int_equal(th_softhsm_add_token(&p->hsm, "other", uri2), 0);
	mpc_token_close(p->t);
	mpc_p11_ctx_free(p->ctx);
	assert_int_equal(mpc_p11_ctx_new(&p->ctx, &e), MPC_OK);
	p->t = ptest_open(p, p->hsm.uri);
	t2 = ptest_open(p, uri2);
	assert_int_equal(mpc_key_ceremony(t2, MPC_CEREMONY_SEAL, &rep, &e), MPC_OK);
	for (size_t m = 0; m < 2; m++) {
		uint8_t *blob = NULL, *out = NULL;
		size_t blob_len, out_len;

		assert_int_equal(mpc_seal(t2, mechs[m], aad, sizeof(aad), (const uint8_t *)"secret", 6, &blob, &blob_len, &e), MPC_OK);
		assert_int_equal(mpc_unseal(p->t, aad, sizeof(aad), blob, blob_len, &out, &out_len, &e), MPC_ERR_AUTH);
		assert_null(out);
		mpc_err_clear(&e);
		free(blob);
	}
	mpc_token_close(t2);
}

/* The session disappears behind our back (token reset, HSM failover): re-open and log in once. */
static void test_lost_session_recovers(void **state)
{
	struct ptest *p = *state;
	uint8_t *blob = NULL, *out = NULL;
	size_t blob_len, out_len;
	struct mpc_err e = { 0 };

	assert_int_equal(p->t->fn->C_CloseAllSessions(p->t->slot), CKR_OK);
	if (mpc_seal(p->t, MPC_SEAL_AES_GCM, aad, sizeof(aad), (const uint8_t *)"abc", 3, &blob, &blob_len, &e) != MPC_OK)
		fail_msg("seal after lost session: %s", e.msg);
	assert_int_equal(p->t->fn->C_CloseAllSessions(p->t->slot), CKR_OK);
	if (mpc_unseal(p->t, aad, sizeof(aad), blob, blob_len, &out, &out_len, &e) != MPC_OK)
		fail_msg("unseal after lost session: %s", e.msg);
	assert_memory_equal(out, "abc", 3);
	mpc_secure_free(out);
	free(blob);
}

/* A re-login that fails (the PIN source briefly unreadable) leaves no half-open session: once
 * the PIN is back, the next operation logs in again instead of reporting missing keys. */
static void test_failed_relogin_recovers_later(void **state)
{
	struct ptest *p = *state;
	uint8_t *blob = NULL;
	size_t blob_len;
	struct mpc_err e = { 0 };

	assert_int_equal(p->t->fn->C_CloseAllSessions(p->t->slot), CKR_OK);
	unsetenv("MPC_BACKUP_PIN");
	assert_int_equal(mpc_seal(p->t, MPC_SEAL_AES_GCM, aad, sizeof(aad), (const uint8_t *)"k", 1, &blob, &blob_len, &e),
			 MPC_ERR_PIN);
	assert_null(blob);
	mpc_err_clear(&e);
	assert_int_equal(mpc_seal(p->t, MPC_SEAL_AES_GCM, aad, sizeof(aad), (const uint8_t *)"k", 1, &blob, &blob_len, &e),
			 MPC_ERR_PIN);
	mpc_err_clear(&e);
	setenv("MPC_BACKUP_PIN", TH_USER_PIN, 1);
	if (mpc_seal(p->t, MPC_SEAL_AES_GCM, aad, sizeof(aad), (const uint8_t *)"k", 1, &blob, &blob_len, &e) != MPC_OK)
		fail_msg("seal after the PIN came back: %s", e.msg);
	free(blob);
}

/* IVs never repeat across many seals of the same plaintext. */
static void test_ivs_unique(void **state)
{
	struct ptest *p = *state;
	enum { N = 2000 };
	static uint8_t ivs[N][12];
	struct mpc_err e = { 0 };

	for (int i = 0; i < N; i++) {
		uint8_t *blob = NULL;
		size_t blob_len;

		assert_int_equal(mpc_seal(p->t, MPC_SEAL_AES_GCM, NULL, 0, (const uint8_t *)"same", 4, &blob, &blob_len, &e), MPC_OK);
		memcpy(ivs[i], blob + 7, 12);
		free(blob);
	}
	for (int i = 0; i < N; i++)
		for (int j = i + 1; j < N; j++)
			assert_memory_not_equal(ivs[i], ivs[j], 12);
}

/* A token that fails while opening a GCM blob (CKR_DEVICE_ERROR from C_Decrypt, through the
 * lockshim test module) is the token's failure, never "the data was altered": the blob is
 * good, and a verification that said otherwise would invite quarantining it. */
static void test_device_error_is_not_tamper(void **state)
{
	struct ptest *p = *state;
	struct mpc_err e = { 0 };
	const char *shim = getenv("LOCKSHIM");
	char uri[1024];
	uint8_t pt[64], *blob = NULL, *out = NULL;
	size_t blob_len = 0, out_len = 0;
	int rc;

	assert_non_null(shim);
	/* the same token through the shim, in a context of its own (SoftHSM2 loaded once) */
	mpc_token_close(p->t);
	p->t = NULL;
	mpc_p11_ctx_free(p->ctx);
	assert_int_equal(setenv("LOCKSHIM_REAL", p->hsm.module, 1), 0);
	assert_int_equal(mpc_p11_ctx_new(&p->ctx, &e), MPC_OK);
	snprintf(uri, sizeof(uri), "pkcs11:token=mpc-backup?module-path=%s", shim);
	p->t = ptest_open(p, uri);
	memset(pt, 0x5a, sizeof(pt));
	assert_int_equal(mpc_seal(p->t, MPC_SEAL_AES_GCM, NULL, 0, pt, sizeof(pt), &blob,
				  &blob_len, &e),
			 MPC_OK);
	assert_int_equal(setenv("LOCKSHIM_DECRYPT_RV", "48", 1), 0); /* CKR_DEVICE_ERROR */
	rc = mpc_unseal(p->t, NULL, 0, blob, blob_len, &out, &out_len, &e);
	assert_int_equal(unsetenv("LOCKSHIM_DECRYPT_RV"), 0);
	printf("device error: rc %d: %s\n", rc, e.msg);
	/* CKR_DEVICE_ERROR says by itself that the device failed (presence.c) */
	assert_int_equal(rc, MPC_ERR_TOKEN_UNAVAILABLE);
	assert_null(strstr(e.msg, "altered"));
	assert_non_null(strstr(e.msg, "CKR_DEVICE_ERROR"));
	/* and a real bad tag through the same module is still a verdict on the data */
	mpc_err_clear(&e);
	blob[blob_len - 1] ^= 1;
	assert_int_equal(mpc_unseal(p->t, NULL, 0, blob, blob_len, &out, &out_len, &e),
			 MPC_ERR_AUTH);
	free(blob);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip_sizes, ptest_setup, ptest_teardown),
		cmocka_unit_test_setup_teardown(test_auto_prefers_gcm, ptest_setup, ptest_teardown),
		cmocka_unit_test_setup_teardown(test_tamper_gcm, ptest_setup, ptest_teardown),
		cmocka_unit_test_setup_teardown(test_tamper_cbc_hmac, ptest_setup, ptest_teardown),
		cmocka_unit_test_setup_teardown(test_tamper_large, ptest_setup, ptest_teardown),
		cmocka_unit_test_setup_teardown(test_device_error_is_not_tamper, ptest_setup,
						ptest_teardown),
		cmocka_unit_test_setup_teardown(test_wrong_key, ptest_setup, ptest_teardown),
		cmocka_unit_test_setup_teardown(test_lost_session_recovers, ptest_setup, ptest_teardown),
		cmocka_unit_test_setup_teardown(test_failed_relogin_recovers_later, ptest_setup, ptest_teardown),
		cmocka_unit_test_setup_teardown(test_ivs_unique, ptest_setup, ptest_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
