/* test_keys.c: the key ceremony on a real SoftHSM2 token: exactly the documented objects,
 * idempotent, keys that cannot leave the token (checked by Cryptoki and by pkcs11-tool, an
 * independent client), Ed25519 signatures that OpenSSL verifies, the transport key import,
 * the public accessors (token description, key presence and attributes), and URI parsing. */
#include "tests/pkcs11/ptest.h"

#include <stdlib.h>

#include <openssl/evp.h>

#include "pkcs11/ed25519.h"
#include "pkcs11/seal.h"
#include "pkcs11/uri.h"

static CK_ULONG count_objects(struct mpc_token *t)
{
	CK_OBJECT_HANDLE h[64];
	CK_ULONG n = 0;

	assert_int_equal(t->fn->C_FindObjectsInit(t->session, NULL, 0), CKR_OK);
	assert_int_equal(t->fn->C_FindObjects(t->session, h, 64, &n), CKR_OK);
	assert_int_equal(t->fn->C_FindObjectsFinal(t->session), CKR_OK);
	return n;
}

static void test_ceremony_exact_and_idempotent(void **state)
{
	struct ptest *p = *state;
	struct mpc_ceremony_report rep;
	struct mpc_err e = { 0 };
	const enum mpc_key_role roles[] = { MPC_KEY_SEAL_GCM, MPC_KEY_SEAL_CBC, MPC_KEY_SEAL_HMAC,
					    MPC_KEY_TLS_PRIVATE, MPC_KEY_TLS_PUBLIC };

	/* The setup ran the ceremony once: five objects, each found by label and id. */
	assert_int_equal(count_objects(p->t), 5);
	for (size_t i = 0; i < 5; i++) {
		CK_OBJECT_HANDLE h;

		assert_int_equal(mpc_key_find(p->t, roles[i], &h, &e), MPC_OK);
	}
	assert_int_equal(mpc_key_ceremony(p->t, MPC_CEREMONY_SEAL | MPC_CEREMONY_TLS, &rep, &e), MPC_OK);
	for (int r = 0; r < MPC_KEY_ROLE_COUNT; r++)
		assert_int_equal(rep.created[r], 0);
	assert_int_equal(rep.present[MPC_KEY_TRANSPORT], 0);
	assert_int_equal(count_objects(p->t), 5);
}

static void test_keys_security_attributes(void **state)
{
	struct ptest *p = *state;
	const enum mpc_key_role secret[] = { MPC_KEY_SEAL_GCM, MPC_KEY_SEAL_CBC, MPC_KEY_SEAL_HMAC,
					     MPC_KEY_TLS_PRIVATE };
	struct mpc_err e = { 0 };

	for (size_t i = 0; i < 4; i++) {
		struct mpc_key_attrs a;

		/* the public accessor: takes the lock, finds the key, reads its attributes */
		assert_int_equal(mpc_key_attrs(p->t, secret[i], &a, &e), MPC_OK);
		assert_int_equal(a.token, 1);
		assert_int_equal(a.private_, 1);
		assert_int_equal(a.sensitive, 1);
		assert_int_equal(a.extractable, 0);
		assert_int_equal(a.never_extractable, 1);
		assert_true(a.wrap != 1 && a.unwrap != 1 && a.derive != 1);
		if (secret[i] == MPC_KEY_TLS_PRIVATE || secret[i] == MPC_KEY_SEAL_HMAC)
			assert_true(a.sign == 1 && a.decrypt != 1);
		else
			assert_true(a.encrypt == 1 && a.decrypt == 1 && a.sign != 1);
	}
}

/* CKA_VALUE is refused, C_WrapKey is refused. */
static void test_keys_cannot_leave_via_cryptoki(void **state)
{
	struct ptest *p = *state;
	const enum mpc_key_role secret[] = { MPC_KEY_SEAL_GCM, MPC_KEY_SEAL_CBC, MPC_KEY_SEAL_HMAC,
					     MPC_KEY_TLS_PRIVATE };
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_ULONG len = 32;
	CK_ATTRIBUTE wt[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_KEY_TYPE, &kt, sizeof(kt) },
			      { CKA_VALUE_LEN, &len, sizeof(len) }, { CKA_TOKEN, &no, sizeof(no) },
			      { CKA_WRAP, &yes, sizeof(yes) } };
	CK_MECHANISM gen = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_MECHANISM wrap = { CKM_AES_KEY_WRAP_PAD, NULL, 0 };
	CK_OBJECT_HANDLE wk;
	struct mpc_err e = { 0 };

	assert_int_equal(p->t->fn->C_GenerateKey(p->t->session, &gen, wt, 5, &wk), CKR_OK);
	for (size_t i = 0; i < 4; i++) {
		CK_OBJECT_HANDLE h;
		uint8_t buf[512];
		CK_ULONG n = sizeof(buf);
		CK_ATTRIBUTE a = { CKA_VALUE, buf, sizeof(buf) };

		assert_int_equal(mpc_key_find(p->t, secret[i], &h, &e), MPC_OK);
		assert_int_equal(p->t->fn->C_GetAttributeValue(p->t->session, h, &a, 1),
				 CKR_ATTRIBUTE_SENSITIVE);
		assert_int_equal(a.ulValueLen, (CK_ULONG)-1);
		assert_int_not_equal(p->t->fn->C_WrapKey(p->t->session, &wrap, wk, h, buf, &n), CKR_OK);
	}
	assert_int_equal(p->t->fn->C_DestroyObject(p->t->session, wk), CKR_OK);
}

/* An independent client (OpenSC's pkcs11-tool) cannot read them either. */
static void test_keys_cannot_leave_via_pkcs11_tool(void **state)
{
	struct ptest *p = *state;
	const char *labels[][2] = { { "secrkey", "mpc-backup-seal-gcm" },
				    { "secrkey", "mpc-backup-seal-cbc" },
				    { "secrkey", "mpc-backup-seal-hmac" } };
	char cmd[1024], out[8192];
	const char *priv;

	/* Sanity: the tool can log in and sees the keys at all. It reports the private key's
	 * access flags (it has no private-key export to try). */
	snprintf(cmd, sizeof(cmd), "pkcs11-tool --module %s --token-label mpc-backup --login --pin %s --list-objects",
		 p->hsm.module, TH_USER_PIN);
	assert_int_equal(th_run(cmd, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "mpc-backup-seal-gcm"));
	priv = strstr(out, "Private Key Object");
	assert_non_null(priv);
	assert_non_null(strstr(priv, "never extractable"));
	assert_non_null(strstr(priv, "sensitive"));
	for (size_t i = 0; i < 3; i++) {
		snprintf(cmd, sizeof(cmd),
			 "pkcs11-tool --module %s --token-label mpc-backup --login --pin %s "
			 "--read-object --type %s --label %s -o %s/leak",
			 p->hsm.module, TH_USER_PIN, labels[i][0], labels[i][1], p->hsm.dir);
		if (th_run(cmd, out, sizeof(out)) == 0)
			fail_msg("pkcs11-tool read %s: %s", labels[i][1], out);
	}
}

static void test_ed25519_sign_verifies_in_openssl(void **state)
{
	struct ptest *p = *state;
	uint8_t pub[32], sig[64];
	const uint8_t msg[] = "TLS 1.3, client CertificateVerify";
	struct mpc_err e = { 0 };
	EVP_PKEY *pk;
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	assert_int_equal(mpc_ed25519_public_key(p->t, pub, &e), MPC_OK);
	assert_int_equal(mpc_ed25519_sign(p->t, msg, sizeof(msg), sig, &e), MPC_OK);
	pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
	assert_non_null(pk);
	assert_int_equal(EVP_DigestVerifyInit(md, NULL, NULL, NULL, pk), 1);
	assert_int_equal(EVP_DigestVerify(md, sig, 64, msg, sizeof(msg)), 1);
	sig[10] ^= 1;
	assert_int_equal(EVP_DigestVerifyInit(md, NULL, NULL, NULL, pk), 1);
	assert_int_not_equal(EVP_DigestVerify(md, sig, 64, msg, sizeof(msg)), 1);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pk);
}

static void test_transport_import(void **state)
{
	struct ptest *p = *state;
	uint8_t key[32];
	struct mpc_key_attrs a;
	struct mpc_err e = { 0 };
	int present = -1;

	assert_int_equal(mpc_key_present(p->t, MPC_KEY_TRANSPORT, &present, &e), MPC_OK);
	assert_int_equal(present, 0);
	assert_int_equal(mpc_key_attrs(p->t, MPC_KEY_TRANSPORT, &a, &e), MPC_ERR_OBJECT_NOT_FOUND);
	assert_non_null(strstr(e.msg, "mpc-backup-transport"));
	mpc_err_clear(&e);
	memset(key, 0x42, sizeof(key));
	assert_int_equal(mpc_key_import_transport(p->t, key, &e), MPC_OK);
	assert_int_equal(mpc_key_import_transport(p->t, key, &e), MPC_ERR_EXISTS);
	mpc_err_clear(&e);
	assert_int_equal(mpc_key_present(p->t, MPC_KEY_TRANSPORT, &present, &e), MPC_OK);
	assert_int_equal(present, 1);
	assert_int_equal(mpc_key_attrs(p->t, MPC_KEY_TRANSPORT, &a, &e), MPC_OK);
	assert_int_equal(a.sensitive, 1);
	assert_int_equal(a.extractable, 0);
}

/* What other layers may know of a token: its description, read under its lock, the same as
 * Cryptoki's token info; key lookups that recover a session lost under them. */
static void test_public_accessors(void **state)
{
	struct ptest *p = *state;
	struct mpc_token_desc d;
	struct mpc_key_attrs a;
	struct mpc_err e = { 0 };
	CK_TOKEN_INFO ti;
	char serial[17];
	int present = 0;

	mpc_token_describe(p->t, &d);
	assert_string_equal(d.label, "mpc-backup");
	assert_int_equal(p->t->fn->C_GetTokenInfo(p->t->slot, &ti), CKR_OK);
	mpc_p11_trim(serial, ti.serialNumber, 16);
	assert_true(serial[0] != '\0');
	assert_string_equal(d.serial, serial);
	assert_string_equal(d.manufacturer, "SoftHSM project");
	assert_string_equal(d.model, "SoftHSM v2");
	assert_string_equal(d.module, p->hsm.module);
	assert_string_equal(mpc_key_kind_name(mpc_key_desc(MPC_KEY_SEAL_GCM)->kind), "secret");
	assert_string_equal(mpc_key_kind_name(mpc_key_desc(MPC_KEY_TLS_PRIVATE)->kind), "private");
	assert_string_equal(mpc_key_kind_name(mpc_key_desc(MPC_KEY_TLS_PUBLIC)->kind), "public");

	assert_int_equal(p->t->fn->C_CloseAllSessions(p->t->slot), CKR_OK);
	assert_int_equal(mpc_key_present(p->t, MPC_KEY_TLS_PUBLIC, &present, &e), MPC_OK);
	assert_int_equal(present, 1);
	assert_int_equal(p->t->fn->C_CloseAllSessions(p->t->slot), CKR_OK);
	if (mpc_key_attrs(p->t, MPC_KEY_TLS_PRIVATE, &a, &e) != MPC_OK)
		fail_msg("key attributes after a lost session: %s", e.msg);
	assert_int_equal(a.sign, 1);
}

/* A key planted under mpc-backup's label that can leave the token is refused, not used. */
static void test_planted_extractable_key_refused(void **state)
{
	struct th_softhsm hsm;
	struct mpc_p11_ctx *ctx = NULL;
	struct mpc_token *t = NULL;
	struct mpc_err e = { 0 };
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_ULONG len = 32;
	CK_BYTE id = 0x01;
	const char *label = "mpc-backup-seal-gcm";
	CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_KEY_TYPE, &kt, sizeof(kt) },
				{ CKA_VALUE_LEN, &len, sizeof(len) }, { CKA_TOKEN, &yes, sizeof(yes) },
				{ CKA_PRIVATE, &yes, sizeof(yes) }, { CKA_SENSITIVE, &no, sizeof(no) },
				{ CKA_EXTRACTABLE, &yes, sizeof(yes) }, { CKA_ENCRYPT, &yes, sizeof(yes) },
				{ CKA_DECRYPT, &yes, sizeof(yes) }, { CKA_LABEL, (void *)label, strlen(label) },
				{ CKA_ID, &id, 1 } };
	CK_MECHANISM gen = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_OBJECT_HANDLE h;
	uint8_t *blob = NULL;
	size_t blob_len;

	(void)state;
	assert_int_equal(th_softhsm_setup(&hsm, "planted", NULL), 0);
	assert_int_equal(mpc_p11_ctx_new(&ctx, &e), MPC_OK);
	assert_int_equal(mpc_token_open(ctx, hsm.uri, NULL, &t, &e), MPC_OK);
	assert_int_equal(t->fn->C_GenerateKey(t->session, &gen, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &h), CKR_OK);
	assert_int_equal(mpc_seal(t, MPC_SEAL_AES_GCM, NULL, 0, (const uint8_t *)"x", 1, &blob, &blob_len, &e),
			 MPC_ERR_STATE);
	assert_non_null(strstr(e.msg, "can leave the token"));
	assert_null(blob);
	mpc_token_close(t);
	mpc_p11_ctx_free(ctx);
	th_softhsm_teardown(&hsm);
}

static void test_uri_parsing(void **state)
{
	struct mpc_token_uri *u = NULL;
	struct mpc_err e = { 0 };

	(void)state;
	assert_int_equal(mpc_token_uri_parse("pkcs11:token=a%20b;object=k?module-name=softhsm2&pin-source=file:/run/pin", &u, &e), MPC_OK);
	assert_string_equal(u->module_name, "softhsm2");
	assert_string_equal(u->pin_file, "/run/pin");
	assert_string_equal(u->object, "k");
	mpc_token_uri_free(u);
	assert_int_equal(mpc_token_uri_parse("pkcs11:token=x?pin-value=1234", &u, &e), MPC_ERR_PARSE);
	assert_null(strstr(e.msg, "1234"));
	mpc_err_clear(&e);
	assert_int_equal(mpc_token_uri_parse("pkcs11:token=x;module-path=/m.so", &u, &e), MPC_ERR_PARSE);
	assert_non_null(strstr(e.msg, "query attribute"));
	mpc_err_clear(&e);
	assert_int_equal(mpc_token_uri_parse("http://x", &u, &e), MPC_ERR_PARSE);
	mpc_err_clear(&e);
	assert_int_equal(mpc_token_uri_parse("pkcs11:token=%zz", &u, &e), MPC_ERR_PARSE);
	mpc_err_clear(&e);
	assert_int_equal(mpc_token_uri_parse("pkcs11:frobnicate=1", &u, &e), MPC_ERR_PARSE);
	mpc_err_clear(&e);
	assert_int_equal(mpc_token_uri_parse("pkcs11:token=x?pin-source=|/bin/cat", &u, &e), MPC_ERR_PARSE);
	mpc_err_clear(&e);
	assert_int_equal(mpc_token_uri_parse("", &u, &e), MPC_ERR_PARSE);
	assert_null(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ceremony_exact_and_idempotent, ptest_setup, ptest_teardown),
		cmocka_unit_test_setup_teardown(test_keys_security_attributes, ptest_setup, ptest_teardown),
		cmocka_unit_test_setup_teardown(test_keys_cannot_leave_via_cryptoki, ptest_setup, ptest_teardown),
		cmocka_unit_test_setup_teardown(test_keys_cannot_leave_via_pkcs11_tool, ptest_setup, ptest_teardown),
		cmocka_unit_test_setup_teardown(test_ed25519_sign_verifies_in_openssl, ptest_setup, ptest_teardown),
		cmocka_unit_test_setup_teardown(test_transport_import, ptest_setup, ptest_teardown),
		cmocka_unit_test_setup_teardown(test_public_accessors, ptest_setup, ptest_teardown),
		cmocka_unit_test(test_planted_extractable_key_refused),
		cmocka_unit_test(test_uri_parsing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
