/* signature.c: the mpc-token provider's ED25519 signer: one-shot digest-sign (pure Ed25519,
 * no digest) by C_Sign(CKM_EDDSA) in the token; verification with the public key in
 * software. */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "pkcs11/ed25519.h"
#include "pkcs11/provider.h"
#include "pkcs11/provider/internal.h"

_Static_assert(MPC_PROV_R_TOKEN_SIGN_FAILED == MPC_PROVIDER_R_TOKEN_SIGN_FAILED &&
		       MPC_PROV_R_TOKEN_UNAVAILABLE == MPC_PROVIDER_R_TOKEN_UNAVAILABLE,
	       "provider.h publishes these reasons");

struct sig_ctx {
	const struct mpc_prov_ctx *pc; /* the provider's context, for errors */
	struct mpc_prov_key *key;      /* borrowed from the EVP_PKEY */
};

static void *sig_newctx(void *provctx, const char *propq)
{
	struct sig_ctx *c = OPENSSL_zalloc(sizeof(*c));

	(void)propq;
	if (c != NULL)
		c->pc = provctx;
	return c;
}

static void sig_freectx(void *ctx)
{
	OPENSSL_free(ctx);
}

static void *sig_dupctx(void *ctx)
{
	struct sig_ctx *d = OPENSSL_zalloc(sizeof(*d));

	if (d != NULL)
		*d = *(struct sig_ctx *)ctx;
	return d;
}

/* libssl also calls this while choosing algorithms, without signing afterwards. */
static int sig_digest_sign_init(void *ctx, const char *mdname, void *provkey,
				const OSSL_PARAM params[])
{
	struct sig_ctx *c = ctx;
	struct mpc_prov_key *k = provkey;

	(void)params;
	if (mdname != NULL && mdname[0] != '\0')
		return 0; /* Ed25519 signs the message itself: no digest may be named */
	if (k == NULL && c->key == NULL)
		return 0;
	if (k != NULL) {
		if (k->token == NULL)
			return 0;
		c->key = k;
	}
	return 1;
}

static int sig_digest_sign(void *ctx, unsigned char *sig, size_t *siglen, size_t sigsize,
			   const unsigned char *tbs, size_t tbslen)
{
	struct sig_ctx *c = ctx;
	struct mpc_err e = { 0 };

	if (sig == NULL) {
		*siglen = 64;
		return 1;
	}
	if (c->key == NULL || c->key->token == NULL) {
		mpc_prov_raise(c->pc, MPC_PROV_R_NO_KEY, "sign called without a token key");
		return 0;
	}
	if (sigsize < 64) {
		mpc_prov_raise(c->pc, MPC_PROV_R_TOKEN_SIGN_FAILED,
			       "signature buffer of %zu bytes (64 needed)", sigsize);
		return 0;
	}
	if (mpc_ed25519_sign(c->key->token, tbs, tbslen, sig, &e) != MPC_OK) {
		int reason = e.code == MPC_ERR_TOKEN_UNAVAILABLE ? MPC_PROV_R_TOKEN_UNAVAILABLE
								 : MPC_PROV_R_TOKEN_SIGN_FAILED;
		struct mpc_token_desc d;

		/* The token's reason, naming the token, so that ERR_print_errors (libcurl,
		 * libssl) says why and a TLS client can blame the token, not its peer. */
		mpc_token_describe(c->key->token, &d);
		if (strncmp(e.msg, "token \"", 7) == 0)
			mpc_prov_raise(c->pc, reason, "%s", e.msg);
		else
			mpc_prov_raise(c->pc, reason, "token \"%s\": %s", d.label, e.msg);
		return 0;
	}
	*siglen = 64;
	return 1;
}

/* Verification needs no secret: it runs in software, in the default provider. */
static int sig_digest_verify_init(void *ctx, const char *mdname, void *provkey,
				  const OSSL_PARAM params[])
{
	struct sig_ctx *c = ctx;
	struct mpc_prov_key *k = provkey;

	(void)params;
	if (mdname != NULL && mdname[0] != '\0')
		return 0;
	if (k != NULL) {
		if (!k->has_pub)
			return 0;
		c->key = k;
	}
	return c->key != NULL;
}

static int sig_digest_verify(void *ctx, const unsigned char *sig, size_t siglen,
			     const unsigned char *tbs, size_t tbslen)
{
	struct sig_ctx *c = ctx;
	EVP_PKEY *pub;
	EVP_MD_CTX *md;
	int ok = 0;

	if (c->key == NULL || siglen != 64)
		return 0;
	pub = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", "provider=default", c->key->pub, 32);
	md = EVP_MD_CTX_new();
	if (pub != NULL && md != NULL &&
	    EVP_DigestVerifyInit_ex(md, NULL, NULL, NULL, "provider=default", pub, NULL) == 1)
		ok = EVP_DigestVerify(md, sig, siglen, tbs, tbslen) == 1;
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pub);
	return ok;
}

/* X.509 signing asks for the AlgorithmIdentifier: id-Ed25519, no parameters (RFC 8410). */
static int sig_get_ctx_params(void *ctx, OSSL_PARAM params[])
{
	static const unsigned char alg_id[] = { 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70 };
	OSSL_PARAM *p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_ALGORITHM_ID);

	(void)ctx;
	return p == NULL || OSSL_PARAM_set_octet_string(p, alg_id, sizeof(alg_id));
}

static const OSSL_PARAM *sig_gettable_ctx_params(void *ctx, void *provctx)
{
	static const OSSL_PARAM types[] = {
		OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, NULL, 0),
		OSSL_PARAM_END,
	};

	(void)ctx;
	(void)provctx;
	return types;
}

const OSSL_DISPATCH mpc_prov_signature_functions[] = {
	{ OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS, (void (*)(void))sig_get_ctx_params },
	{ OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS, (void (*)(void))sig_gettable_ctx_params },
	{ OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))sig_newctx },
	{ OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))sig_freectx },
	{ OSSL_FUNC_SIGNATURE_DUPCTX, (void (*)(void))sig_dupctx },
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, (void (*)(void))sig_digest_sign_init },
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN, (void (*)(void))sig_digest_sign },
	{ OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_INIT, (void (*)(void))sig_digest_verify_init },
	{ OSSL_FUNC_SIGNATURE_DIGEST_VERIFY, (void (*)(void))sig_digest_verify },
	{ 0, NULL },
};
