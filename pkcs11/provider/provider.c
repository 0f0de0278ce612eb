/* provider.c: the built-in "mpc-token" OpenSSL 3 provider (entry point and algorithm tables),
 * and the functions the rest of mpc-backup calls to load it and to make token-backed keys. */
#include <stdarg.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/params.h>

#include "pkcs11/ed25519.h"
#include "pkcs11/provider.h"
#include "pkcs11/provider/internal.h"

#define PROPS "provider=" MPC_PROVIDER_NAME

static const OSSL_ALGORITHM keymgmt_algs[] = {
	{ "ED25519:1.3.101.112", PROPS, mpc_prov_keymgmt_functions, "token-resident Ed25519" },
	{ NULL, NULL, NULL, NULL },
};

static const OSSL_ALGORITHM signature_algs[] = {
	{ "ED25519:1.3.101.112", PROPS, mpc_prov_signature_functions, "Ed25519 by CKM_EDDSA" },
	{ NULL, NULL, NULL, NULL },
};

static const OSSL_ALGORITHM *prov_query(void *provctx, int operation_id, int *no_store)
{
	(void)provctx;
	*no_store = 0;
	switch (operation_id) {
	case OSSL_OP_KEYMGMT:
		return keymgmt_algs;
	case OSSL_OP_SIGNATURE:
		return signature_algs;
	default:
		return NULL;
	}
}

static const OSSL_ITEM reason_strings[] = {
	{ MPC_PROV_R_TOKEN_SIGN_FAILED, "token sign failed" },
	{ MPC_PROV_R_BAD_TOKEN_REFERENCE, "malformed token key reference" },
	{ MPC_PROV_R_PRIVATE_KEY_IN_TOKEN, "the private key cannot leave the token" },
	{ MPC_PROV_R_NO_KEY, "no token key" },
	{ MPC_PROV_R_TOKEN_UNAVAILABLE, "token unavailable" },
	{ 0, NULL },
};

static const OSSL_ITEM *prov_reason_strings(void *provctx)
{
	(void)provctx;
	return reason_strings;
}

static void prov_teardown(void *provctx)
{
	OPENSSL_free(provctx);
}

static const OSSL_DISPATCH prov_functions[] = {
	{ OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))prov_query },
	{ OSSL_FUNC_PROVIDER_GET_REASON_STRINGS, (void (*)(void))prov_reason_strings },
	{ OSSL_FUNC_PROVIDER_TEARDOWN, (void (*)(void))prov_teardown },
	{ 0, NULL },
};

static int prov_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
		     const OSSL_DISPATCH **out, void **provctx)
{
	struct mpc_prov_ctx *pc = OPENSSL_zalloc(sizeof(*pc));

	if (pc == NULL)
		return 0;
	pc->handle = handle;
	for (; in != NULL && in->function_id != 0; in++) {
		switch (in->function_id) {
		case OSSL_FUNC_CORE_NEW_ERROR:
			pc->new_error = OSSL_FUNC_core_new_error(in);
			break;
		case OSSL_FUNC_CORE_SET_ERROR_DEBUG:
			pc->set_error_debug = OSSL_FUNC_core_set_error_debug(in);
			break;
		case OSSL_FUNC_CORE_VSET_ERROR:
			pc->vset_error = OSSL_FUNC_core_vset_error(in);
			break;
		default:
			break;
		}
	}
	*out = prov_functions;
	*provctx = pc;
	return 1;
}

void mpc_prov_raise_at(const struct mpc_prov_ctx *pc, const char *file, int line, const char *func,
		       int reason, const char *fmt, ...)
{
	va_list ap;

	if (pc == NULL || pc->new_error == NULL || pc->vset_error == NULL)
		return;
	pc->new_error(pc->handle);
	if (pc->set_error_debug != NULL)
		pc->set_error_debug(pc->handle, file, line, func);
	va_start(ap, fmt);
	pc->vset_error(pc->handle, (uint32_t)reason, fmt, ap);
	va_end(ap);
}

int mpc_provider_load(OSSL_LIB_CTX *libctx, struct mpc_provider *p, struct mpc_err *e)
{
	memset(p, 0, sizeof(*p));
	/* Loading any provider turns off the implicit default one: load it first, explicitly. */
	p->deflt = OSSL_PROVIDER_load(libctx, "default");
	if (p->deflt == NULL)
		return mpc_fail(e, MPC_ERR_INTERNAL, "OpenSSL: cannot load the default provider");
	if (!OSSL_PROVIDER_available(libctx, MPC_PROVIDER_NAME) &&
	    !OSSL_PROVIDER_add_builtin(libctx, MPC_PROVIDER_NAME, prov_init)) {
		mpc_provider_unload(p);
		return mpc_fail(e, MPC_ERR_INTERNAL, "OpenSSL: cannot register the token provider");
	}
	p->token = OSSL_PROVIDER_load(libctx, MPC_PROVIDER_NAME);
	if (p->token == NULL) {
		mpc_provider_unload(p);
		return mpc_fail(e, MPC_ERR_INTERNAL, "OpenSSL: cannot load the token provider");
	}
	/* Everything that does not ask for the token stays in software. */
	if (!EVP_set_default_properties(libctx, "?provider=default")) {
		mpc_provider_unload(p);
		return mpc_fail(e, MPC_ERR_INTERNAL, "OpenSSL: cannot set default properties");
	}
	return MPC_OK;
}

void mpc_provider_unload(struct mpc_provider *p)
{
	if (p->token != NULL)
		OSSL_PROVIDER_unload(p->token);
	if (p->deflt != NULL)
		OSSL_PROVIDER_unload(p->deflt);
	memset(p, 0, sizeof(*p));
}

int mpc_provider_token_pkey(OSSL_LIB_CTX *libctx, struct mpc_token *t, EVP_PKEY **out,
			    struct mpc_err *e)
{
	struct mpc_token_ref ref;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_PKEY *pkey = NULL;
	OSSL_PARAM params[2];
	int rc;

	*out = NULL;
	memset(&ref, 0, sizeof(ref));
	ref.magic = MPC_TOKEN_REF_MAGIC;
	ref.token = t;
	rc = mpc_ed25519_public_key(t, ref.pub, e);
	if (rc != MPC_OK)
		return rc;
	params[0] =
		OSSL_PARAM_construct_octet_string(MPC_PROVIDER_PARAM_TOKEN_REF, &ref, sizeof(ref));
	params[1] = OSSL_PARAM_construct_end();
	pctx = EVP_PKEY_CTX_new_from_name(libctx, "ED25519", PROPS);
	if (pctx == NULL || EVP_PKEY_fromdata_init(pctx) <= 0 ||
	    EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_KEYPAIR, params) <= 0) {
		unsigned long ossl = ERR_get_error();
		char buf[256];

		ERR_error_string_n(ossl, buf, sizeof(buf));
		EVP_PKEY_CTX_free(pctx);
		return mpc_fail(
			e, MPC_ERR_INTERNAL,
			"cannot make an OpenSSL key for the token's TLS key (is the provider "
			"loaded?): %s",
			ossl ? buf : "no detail");
	}
	EVP_PKEY_CTX_free(pctx);
	*out = pkey;
	return MPC_OK;
}
