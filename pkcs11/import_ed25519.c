/* import_ed25519.c: an existing Ed25519 private key (a backup-cli p2p key) made the TLS key. */
#include "pkcs11/ed25519.h"

#include <string.h>

#include <openssl/evp.h>

#include "pkcs11/internal.h"
#include "pkcs11/keys.h"

/* The public key of a 32-byte seed (RFC 8032), computed in OpenSSL. */
static int public_of_seed(const uint8_t seed[32], uint8_t pub[32], struct mpc_err *e)
{
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
	size_t n = 32;
	int rc = MPC_OK;

	if (k == NULL || EVP_PKEY_get_raw_public_key(k, pub, &n) != 1 || n != 32)
		rc = mpc_fail(e, MPC_ERR_INTERNAL, "the Ed25519 public key could not be computed");
	EVP_PKEY_free(k); /* OpenSSL cleanses its copy of the seed */
	return rc;
}

static int absent(struct mpc_token *t, enum mpc_key_role role, const char *label, struct mpc_err *e)
{
	CK_OBJECT_HANDLE h;
	struct mpc_err probe = { 0 };
	int rc = mpc_key_find(t, role, &h, &probe);

	if (rc == MPC_ERR_OBJECT_NOT_FOUND)
		return MPC_OK;
	if (rc != MPC_OK) {
		*e = probe;
		return rc;
	}
	return mpc_fail(e, MPC_ERR_EXISTS,
			"token \"%s\" already holds a TLS key \"%s\"; it is never overwritten (an "
			"imported key needs a token without one)",
			MPC_TOKEN_LABEL(t), label);
}

int mpc_ed25519_import_tls(struct mpc_token *t, const uint8_t seed[32], uint8_t pub_out[32],
			   struct mpc_err *e)
{
	const struct mpc_key_desc *d = mpc_key_desc(MPC_KEY_TLS_PRIVATE);
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_CLASS pub_cls = CKO_PUBLIC_KEY, priv_cls = CKO_PRIVATE_KEY;
	CK_KEY_TYPE type = CKK_EC_EDWARDS;
	CK_BYTE id = d->id;
	uint8_t pub[32], point[34];
	CK_ATTRIBUTE priv_t[] = {
		{ CKA_CLASS, &priv_cls, sizeof(priv_cls) },
		{ CKA_KEY_TYPE, &type, sizeof(type) },
		{ CKA_EC_PARAMS, (void *)mpc_ed25519_ec_params, sizeof(mpc_ed25519_ec_params) },
		{ CKA_VALUE, (void *)seed, 32 },
		{ CKA_LABEL, (void *)d->label, strlen(d->label) },
		{ CKA_ID, &id, sizeof(id) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &no, sizeof(no) },
		{ CKA_SIGN, &yes, sizeof(yes) },
		{ CKA_DECRYPT, &no, sizeof(no) },
		{ CKA_UNWRAP, &no, sizeof(no) },
		{ CKA_DERIVE, &no, sizeof(no) },
	};
	CK_ATTRIBUTE pub_t[] = {
		{ CKA_CLASS, &pub_cls, sizeof(pub_cls) },
		{ CKA_KEY_TYPE, &type, sizeof(type) },
		{ CKA_EC_PARAMS, (void *)mpc_ed25519_ec_params, sizeof(mpc_ed25519_ec_params) },
		{ CKA_EC_POINT, point, sizeof(point) },
		{ CKA_LABEL, (void *)d->label, strlen(d->label) },
		{ CKA_ID, &id, sizeof(id) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &no, sizeof(no) },
		{ CKA_VERIFY, &yes, sizeof(yes) },
		{ CKA_ENCRYPT, &no, sizeof(no) },
		{ CKA_WRAP, &no, sizeof(no) },
		{ CKA_DERIVE, &no, sizeof(no) },
	};
	CK_OBJECT_HANDLE hpriv = CK_INVALID_HANDLE, hpub = CK_INVALID_HANDLE;
	CK_RV rv;
	int rc;

	rc = public_of_seed(seed, pub, e);
	if (rc != MPC_OK)
		return rc;
	point[0] = 0x04; /* DER OCTET STRING, as PKCS#11 3.0 specifies CKA_EC_POINT */
	point[1] = 0x20;
	memcpy(point + 2, pub, 32);
	mpc_token_lock(t);
	rc = mpc_token_ready(t, e);
	if (rc == MPC_OK)
		rc = absent(t, MPC_KEY_TLS_PRIVATE, d->label, e);
	if (rc == MPC_OK)
		rc = absent(t, MPC_KEY_TLS_PUBLIC, d->label, e);
	if (rc != MPC_OK)
		goto out;
	rv = t->fn->C_CreateObject(t->session, priv_t, sizeof(priv_t) / sizeof(priv_t[0]), &hpriv);
	if (rv != CKR_OK) {
		rc = mpc_fail_ck(e, rv, "C_CreateObject(Ed25519 private key)", d->label);
		goto out;
	}
	rv = t->fn->C_CreateObject(t->session, pub_t, sizeof(pub_t) / sizeof(pub_t[0]), &hpub);
	if (rv != CKR_OK) {
		/* Leave no half pair behind: the private object is the one this call just made. */
		CK_RV rv2 = t->fn->C_DestroyObject(t->session, hpriv);

		rc = mpc_fail_ck(e, rv, "C_CreateObject(Ed25519 public key)", d->label);
		if (rv2 != CKR_OK)
			mpc_err_prefix(e,
				       "the imported private key could not be removed again "
				       "(%s): ",
				       mpc_ckr_name(rv2));
		goto out;
	}
	t->key_cache[MPC_KEY_TLS_PRIVATE] = 0;
	t->key_cache[MPC_KEY_TLS_PUBLIC] = 0;
	memcpy(pub_out, pub, 32);
out:
	mpc_token_unlock(t);
	return rc;
}
