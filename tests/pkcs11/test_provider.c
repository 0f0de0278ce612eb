/* test_provider.c: the token's Ed25519 key inside OpenSSL: signatures made through EVP verify
 * in software, the private key cannot be exported, libssl accepts the key, and a real TLS 1.3
 * handshake with client authentication signs its CertificateVerify in the token. SoftHSM2's
 * own use of libcrypto in the same process keeps working with the provider loaded. A failed
 * token signature puts the token's reason on OpenSSL's error stack; a good one leaves none. */
#include "tests/pkcs11/ptest.h"

#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "pkcs11/ed25519.h"
#include "pkcs11/provider.h"
#include "pkcs11/seal.h"
#include "src/util/mem.h"

struct ptest_prov {
	struct ptest p;
	struct mpc_provider prov;
	EVP_PKEY *key;
};

/* 1 if OpenSSL's error stack (which this empties) holds an error of the mpc-token provider
 * whose reason is `reason` and whose detail contains `detail` (NULL: any); ERR_print_errors
 * shows the same text. */
static int error_stack_has(const char *reason, const char *detail)
{
	const char *data = NULL;
	unsigned long code;
	int flags = 0, found = 0;

	while ((code = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		const char *lib = ERR_lib_error_string(code);
		const char *why = ERR_reason_error_string(code);

		print_message("error stack: lib %s reason %s data %s\n", lib ? lib : "?",
			      why ? why : "?", (flags & ERR_TXT_STRING) && data ? data : "");
		if (lib != NULL && strcmp(lib, MPC_PROVIDER_NAME) == 0 && why != NULL &&
		    strcmp(why, reason) == 0 &&
		    (detail == NULL || ((flags & ERR_TXT_STRING) && data && strstr(data, detail))))
			found = 1;
	}
	return found;
}

static int setup(void **state)
{
	struct ptest_prov *pp = calloc(1, sizeof(*pp));
	struct mpc_err e = { 0 };
	void *inner;

	assert_non_null(pp);
	/* The provider first: the ceremony then runs SoftHSM2's libcrypto with it loaded. */
	assert_int_equal(mpc_provider_load(NULL, &pp->prov, &e), MPC_OK);
	ptest_setup(&inner);
	pp->p = *(struct ptest *)inner;
	free(inner);
	if (mpc_provider_token_pkey(NULL, pp->p.t, &pp->key, &e) != MPC_OK)
		fail_msg("token pkey: %s", e.msg);
	*state = pp;
	return 0;
}

static int teardown(void **state)
{
	struct ptest_prov *pp = *state;
	struct ptest *inner = malloc(sizeof(*inner));
	void *v = inner;

	EVP_PKEY_free(pp->key);
	*inner = pp->p;
	ptest_teardown(&v);
	mpc_provider_unload(&pp->prov);
	free(pp);
	return 0;
}

static void test_evp_sign_verifies_in_software(void **state)
{
	struct ptest_prov *pp = *state;
	const unsigned char msg[] = "signed by the token through EVP";
	unsigned char sig[64], pub[32];
	size_t siglen = sizeof(sig), publen = sizeof(pub);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY *soft;

	assert_true(EVP_PKEY_is_a(pp->key, "ED25519"));
	ERR_clear_error();
	assert_int_equal(EVP_DigestSignInit_ex(md, NULL, NULL, NULL, NULL, pp->key, NULL), 1);
	assert_int_equal(EVP_DigestSign(md, NULL, &siglen, msg, sizeof(msg)), 1);
	assert_int_equal(siglen, 64);
	assert_int_equal(EVP_DigestSign(md, sig, &siglen, msg, sizeof(msg)), 1);
	/* Finding our signer (OpenSSL tries the key's export first) leaves nothing behind. */
	assert_int_equal(ERR_peek_error(), 0);
	EVP_MD_CTX_free(md);
	/* A digest name is refused: Ed25519 is pure. */
	md = EVP_MD_CTX_new();
	assert_int_not_equal(EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, pp->key, NULL), 1);
	EVP_MD_CTX_free(md);
	ERR_clear_error();
	assert_int_equal(EVP_PKEY_get_raw_public_key(pp->key, pub, &publen), 1);
	soft = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", "provider=default", pub, 32);
	assert_non_null(soft);
	md = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit_ex(md, NULL, NULL, NULL, NULL, soft, NULL), 1);
	assert_int_equal(EVP_DigestVerify(md, sig, 64, msg, sizeof(msg)), 1);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(soft);
}

static void test_private_key_never_leaves(void **state)
{
	struct ptest_prov *pp = *state;
	unsigned char priv[64];
	size_t len = sizeof(priv);
	OSSL_PARAM *params = NULL;
	BIO *mem = BIO_new(BIO_s_mem());

	assert_int_not_equal(EVP_PKEY_get_raw_private_key(pp->key, priv, &len), 1);
	ERR_clear_error();
	assert_int_not_equal(EVP_PKEY_todata(pp->key, EVP_PKEY_KEYPAIR, &params), 1);
	assert_true(error_stack_has("the private key cannot leave the token", NULL));
	assert_int_not_equal(PEM_write_bio_PrivateKey(mem, pp->key, NULL, NULL, 0, NULL, NULL), 1);
	BIO_free(mem);
	ERR_clear_error();
}

/* A token signature that fails (the session is gone and the re-login finds no PIN) fails the
 * EVP call, and OpenSSL's error stack says so with the token layer's reason. */
static void test_failed_sign_reports_reason(void **state)
{
	struct ptest_prov *pp = *state;
	const unsigned char msg[] = "not signed";
	unsigned char sig[64];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	ERR_clear_error();
	assert_int_equal(EVP_DigestSignInit_ex(md, NULL, NULL, NULL, NULL, pp->key, NULL), 1);
	assert_int_equal(pp->p.t->fn->C_CloseAllSessions(pp->p.t->slot), CKR_OK);
	unsetenv("MPC_BACKUP_PIN");
	assert_int_not_equal(EVP_DigestSign(md, sig, &siglen, msg, sizeof(msg)), 1);
	assert_true(error_stack_has("token sign failed", "MPC_BACKUP_PIN"));
	EVP_MD_CTX_free(md);
	setenv("MPC_BACKUP_PIN", TH_USER_PIN, 1);
	ERR_clear_error();
}

/* Software keys are not taken over by the provider: a software Ed25519 key still signs and
 * SoftHSM2 (which uses libcrypto internally) still seals and signs. */
static void test_software_keys_unaffected(void **state)
{
	struct ptest_prov *pp = *state;
	EVP_PKEY *soft = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char sig[64];
	size_t siglen = sizeof(sig);
	uint8_t *blob = NULL, *out = NULL;
	size_t blob_len, out_len;
	struct mpc_err e = { 0 };

	assert_non_null(soft);
	assert_int_equal(EVP_DigestSignInit_ex(md, NULL, NULL, NULL, NULL, soft, NULL), 1);
	assert_int_equal(EVP_DigestSign(md, sig, &siglen, (const unsigned char *)"m", 1), 1);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(soft);
	assert_int_equal(mpc_seal(pp->p.t, MPC_SEAL_AUTO, NULL, 0, (const uint8_t *)"k", 1, &blob, &blob_len, &e), MPC_OK);
	assert_int_equal(mpc_unseal(pp->p.t, NULL, 0, blob, blob_len, &out, &out_len, &e), MPC_OK);
	mpc_secure_free(out);
	free(blob);
	assert_int_equal(mpc_ed25519_sign(pp->p.t, (const uint8_t *)"m", 1, sig, &e), MPC_OK);
}

static X509 *make_cert(EVP_PKEY *subject, EVP_PKEY *issuer_key)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();

	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)"test", -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, n);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, subject);
	assert_int_not_equal(X509_sign(x, issuer_key, NULL), 0);
	X509_NAME_free(n);
	return x;
}

static int accept_all(int ok, X509_STORE_CTX *c)
{
	(void)ok;
	(void)c;
	return 1;
}

/* A TLS 1.3 handshake over a BIO pair: the server demands a client certificate, the client's
 * CertificateVerify is signed in the token, and the server sees the token's public key. */
static void test_tls13_client_auth(void **state)
{
	struct ptest_prov *pp = *state;
	EVP_PKEY *server_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	X509 *server_cert = make_cert(server_key, server_key);
	X509 *client_cert = make_cert(pp->key, pp->key); /* self-signed by the token */
	SSL_CTX *sctx = SSL_CTX_new(TLS_server_method()), *cctx = SSL_CTX_new(TLS_client_method());
	SSL *s, *c;
	BIO *bs, *bc;
	X509 *seen;
	EVP_PKEY *seen_key;
	unsigned char a[32], b[32];
	size_t la = 32, lb = 32;
	int done_c = 0, done_s = 0;

	assert_int_equal(X509_verify(client_cert, server_key), 0); /* not signed by that one */
	ERR_clear_error();
	assert_int_equal(X509_verify(client_cert, pp->key), 1);
	SSL_CTX_set_min_proto_version(sctx, TLS1_3_VERSION);
	SSL_CTX_set_min_proto_version(cctx, TLS1_3_VERSION);
	assert_int_equal(SSL_CTX_use_certificate(sctx, server_cert), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(sctx, server_key), 1);
	SSL_CTX_set_verify(sctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, accept_all);
	SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, accept_all);
	assert_int_equal(SSL_CTX_use_certificate(cctx, client_cert), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(cctx, pp->key), 1);
	assert_int_equal(SSL_CTX_check_private_key(cctx), 1);
	s = SSL_new(sctx);
	c = SSL_new(cctx);
	assert_int_equal(BIO_new_bio_pair(&bs, 0, &bc, 0), 1);
	SSL_set_bio(s, bs, bs);
	SSL_set_bio(c, bc, bc);
	SSL_set_accept_state(s);
	SSL_set_connect_state(c);
	for (int i = 0; i < 50 && !(done_c && done_s); i++) {
		if (!done_c)
			done_c = SSL_do_handshake(c) == 1;
		if (!done_s)
			done_s = SSL_do_handshake(s) == 1;
	}
	if (!(done_c && done_s)) {
		char buf[256];

		ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
		fail_msg("handshake failed: %s", buf);
	}
	/* Loading, checking and using the token key left nothing on the error stack (a stale
	 * error there would make SSL_get_error report a failure on the next short read). */
	assert_int_equal(ERR_peek_error(), 0);
	/* Drive the post-handshake bytes (the server reads the client's Finished). */
	{
		char byte = 'x';

		assert_int_equal(SSL_write(c, &byte, 1), 1);
		assert_int_equal(SSL_read(s, &byte, 1), 1);
	}
	assert_int_equal(SSL_version(s), TLS1_3_VERSION);
	seen = SSL_get1_peer_certificate(s);
	assert_non_null(seen);
	seen_key = X509_get0_pubkey(seen);
	assert_int_equal(EVP_PKEY_get_raw_public_key(seen_key, a, &la), 1);
	assert_int_equal(EVP_PKEY_get_raw_public_key(pp->key, b, &lb), 1);
	assert_memory_equal(a, b, 32);
	X509_free(seen);
	SSL_free(s);
	SSL_free(c);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	X509_free(server_cert);
	X509_free(client_cert);
	EVP_PKEY_free(server_key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_evp_sign_verifies_in_software, setup, teardown),
		cmocka_unit_test_setup_teardown(test_private_key_never_leaves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_sign_reports_reason, setup, teardown),
		cmocka_unit_test_setup_teardown(test_software_keys_unaffected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls13_client_auth, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
