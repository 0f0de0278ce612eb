/* keymgmt.c: the mpc-token provider's ED25519 key management: keys that are references to a
 * token-resident private key plus its public key. Import accepts only token references;
 * export gives out the public key only; match compares public keys. */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>

#include "pkcs11/provider/internal.h"
#include "pkcs11/provider.h"
#include "src/util/mem.h"

static void *km_new(void *provctx)
{
	struct mpc_prov_key *k = OPENSSL_zalloc(sizeof(*k));

	if (k != NULL)
		k->pc = provctx;
	return k;
}

static void km_free(void *keydata)
{
	OPENSSL_free(keydata);
}

static int km_has(const void *keydata, int selection)
{
	const struct mpc_prov_key *k = keydata;

	if (k == NULL)
		return 0;
	if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) && k->token == NULL)
		return 0;
	if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) && !k->has_pub)
		return 0;
	return 1;
}

/* Only a token reference made by mpc_provider_token_pkey() is accepted: software keys offered
 * by OpenSSL (peer certificates, SoftHSM's own libcrypto calls) are refused so that they stay
 * with the default provider. */
static int km_import(void *keydata, int selection, const OSSL_PARAM params[])
{
	struct mpc_prov_key *k = keydata;
	const OSSL_PARAM *p = OSSL_PARAM_locate_const(params, MPC_PROVIDER_PARAM_TOKEN_REF);
	struct mpc_token_ref ref;

	(void)selection;
	if (k == NULL || p == NULL)
		return 0; /* not ours: OpenSSL keeps the key in software, nothing went wrong */
	if (p->data_type != OSSL_PARAM_OCTET_STRING || p->data_size != sizeof(ref)) {
		mpc_prov_raise(k->pc, MPC_PROV_R_BAD_TOKEN_REFERENCE,
			       "%s is %zu bytes of type %u, not a token reference",
			       MPC_PROVIDER_PARAM_TOKEN_REF, p->data_size, p->data_type);
		return 0;
	}
	memcpy(&ref, p->data, sizeof(ref));
	if (ref.magic != MPC_TOKEN_REF_MAGIC || ref.token == NULL) {
		mpc_prov_raise(k->pc, MPC_PROV_R_BAD_TOKEN_REFERENCE,
			       "%s has a bad magic number or no token",
			       MPC_PROVIDER_PARAM_TOKEN_REF);
		return 0;
	}
	k->token = ref.token;
	memcpy(k->pub, ref.pub, 32);
	k->has_pub = 1;
	return 1;
}

static const OSSL_PARAM *km_import_types(int selection)
{
	static const OSSL_PARAM types[] = {
		OSSL_PARAM_octet_string(MPC_PROVIDER_PARAM_TOKEN_REF, NULL, 0),
		OSSL_PARAM_END,
	};

	(void)selection;
	return types;
}

static int km_export(void *keydata, int selection, OSSL_CALLBACK *cb, void *cbarg)
{
	struct mpc_prov_key *k = keydata;
	OSSL_PARAM out[2];

	/* The private half cannot leave the token: refusing here is also what makes OpenSSL
	 * give up on the default provider's signer and use ours. */
	if (k != NULL && (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY)) {
		mpc_prov_raise(k->pc, MPC_PROV_R_PRIVATE_KEY_IN_TOKEN,
			       "export of the private key refused (only the public key can be "
			       "exported)");
		return 0;
	}
	if (k == NULL || !k->has_pub)
		return 0;
	if (!(selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY))
		return 0;
	out[0] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, k->pub, 32);
	out[1] = OSSL_PARAM_construct_end();
	return cb(out, cbarg);
}

static const OSSL_PARAM *km_export_types(int selection)
{
	static const OSSL_PARAM types[] = {
		OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
		OSSL_PARAM_END,
	};

	if (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY)
		return NULL;
	return types;
}

static int km_match(const void *a, const void *b, int selection)
{
	const struct mpc_prov_key *x = a, *y = b;

	(void)selection;
	return x != NULL && y != NULL && x->has_pub && y->has_pub &&
	       mpc_memeq_ct(x->pub, y->pub, 32);
}

static int km_get_params(void *keydata, OSSL_PARAM params[])
{
	struct mpc_prov_key *k = keydata;
	OSSL_PARAM *p;

	if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_BITS)) != NULL &&
	    !OSSL_PARAM_set_int(p, 253))
		return 0;
	if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_SECURITY_BITS)) != NULL &&
	    !OSSL_PARAM_set_int(p, 128))
		return 0;
	if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_MAX_SIZE)) != NULL &&
	    !OSSL_PARAM_set_int(p, 64))
		return 0;
	if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_MANDATORY_DIGEST)) != NULL &&
	    !OSSL_PARAM_set_utf8_string(p, ""))
		return 0;
	if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_PUB_KEY)) != NULL &&
	    (k == NULL || !k->has_pub || !OSSL_PARAM_set_octet_string(p, k->pub, 32)))
		return 0;
	return 1;
}

static const OSSL_PARAM *km_gettable_params(void *provctx)
{
	static const OSSL_PARAM types[] = {
		OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
		OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
		OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_MANDATORY_DIGEST, NULL, 0),
		OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
		OSSL_PARAM_END,
	};

	(void)provctx;
	return types;
}

const OSSL_DISPATCH mpc_prov_keymgmt_functions[] = {
	{ OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))km_new },
	{ OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))km_free },
	{ OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))km_has },
	{ OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))km_import },
	{ OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))km_import_types },
	{ OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))km_export },
	{ OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))km_export_types },
	{ OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))km_match },
	{ OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))km_get_params },
	{ OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, (void (*)(void))km_gettable_params },
	{ 0, NULL },
};
