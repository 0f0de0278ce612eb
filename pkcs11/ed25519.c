/* ed25519.c: Ed25519 public key export, CKM_EDDSA signing in the token, and the proof that a
 * public key pairs with the token's private key. */
#include "pkcs11/ed25519.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "pkcs11/internal.h"
#include "pkcs11/keys.h"

int mpc_ed25519_read_point(struct mpc_token *t, CK_OBJECT_HANDLE h, const char *label,
			   uint8_t pub[32], struct mpc_err *e)
{
	uint8_t point[64];
	CK_ATTRIBUTE a = { CKA_EC_POINT, point, sizeof(point) };
	CK_RV rv = t->fn->C_GetAttributeValue(t->session, h, &a, 1);

	if (rv != CKR_OK)
		return mpc_fail_ck(e, rv, "C_GetAttributeValue(CKA_EC_POINT)", label);
	/* PKCS#11 3.0 says DER OCTET STRING (04 20 || key); some tokens return the raw 32 bytes. */
	if (a.ulValueLen == 34 && point[0] == 0x04 && point[1] == 0x20)
		memcpy(pub, point + 2, 32);
	else if (a.ulValueLen == 32)
		memcpy(pub, point, 32);
	else
		return mpc_fail(e, MPC_ERR_PKCS11,
				"CKA_EC_POINT of the TLS key is %lu bytes, not an Ed25519 point",
				(unsigned long)a.ulValueLen);
	return MPC_OK;
}

static int public_key_op(struct mpc_token *t, void *arg, struct mpc_err *e)
{
	CK_OBJECT_HANDLE h;
	int rc = mpc_key_get(t, MPC_KEY_TLS_PUBLIC, &h, e);

	if (rc != MPC_OK)
		return rc;
	return mpc_ed25519_read_point(t, h, "mpc-backup-tls", arg, e);
}

int mpc_ed25519_public_key(struct mpc_token *t, uint8_t pub[32], struct mpc_err *e)
{
	return mpc_token_call(t, public_key_op, pub, e);
}

struct sign_call {
	const uint8_t *msg;
	size_t n;
	uint8_t *sig;
};

static int sign_op(struct mpc_token *t, void *arg, struct mpc_err *e)
{
	struct sign_call *a = arg;
	const uint8_t *msg = a->msg;
	size_t n = a->n;
	uint8_t *sig = a->sig;
	CK_MECHANISM m = { CKM_EDDSA, NULL, 0 }; /* NULL parameter: pure Ed25519 */
	CK_OBJECT_HANDLE h;
	CK_ULONG sig_len = 64;
	CK_RV rv;
	int rc;

	rc = mpc_key_get(t, MPC_KEY_TLS_PRIVATE, &h, e);
	if (rc != MPC_OK)
		return rc;
	rv = t->fn->C_SignInit(t->session, &m, h);
	if (rv == CKR_OK)
		rv = t->fn->C_Sign(t->session, (CK_BYTE_PTR)msg, n, sig, &sig_len);
	if (rv != CKR_OK)
		return mpc_fail_ck(e, rv, "C_Sign(CKM_EDDSA)", "mpc-backup-tls");
	if (sig_len != 64)
		return mpc_fail(e, MPC_ERR_PKCS11, "C_Sign(CKM_EDDSA) returned %lu bytes, not 64",
				(unsigned long)sig_len);
	return MPC_OK;
}

int mpc_ed25519_sign(struct mpc_token *t, const uint8_t *msg, size_t n, uint8_t sig[64],
		     struct mpc_err *e)
{
	struct sign_call a = { msg, n, sig };

	return mpc_token_call(t, sign_op, &a, e);
}

int mpc_ed25519_verify_pair(struct mpc_token *t, const uint8_t pub[32], struct mpc_err *e)
{
	uint8_t msg[32], sig[64];
	EVP_PKEY *pk = NULL;
	EVP_MD_CTX *md = NULL;
	int rc;

	if (RAND_bytes(msg, (int)sizeof(msg)) != 1)
		return mpc_fail(e, MPC_ERR_INTERNAL, "OpenSSL RAND_bytes failed");
	rc = mpc_ed25519_sign(t, msg, sizeof(msg), sig, e);
	if (rc != MPC_OK)
		return rc;
	pk = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", "?provider=default", pub, 32);
	md = EVP_MD_CTX_new();
	if (pk == NULL || md == NULL ||
	    EVP_DigestVerifyInit_ex(md, NULL, NULL, NULL, "?provider=default", pk, NULL) != 1) {
		rc = mpc_fail(e, MPC_ERR_INTERNAL, "OpenSSL cannot verify Ed25519 signatures");
		goto out;
	}
	if (EVP_DigestVerify(md, sig, sizeof(sig), msg, sizeof(msg)) != 1)
		rc = mpc_fail(e, MPC_ERR_AUTH,
			      "the token's Ed25519 signature does not verify with its own public "
			      "key: the TLS private and public objects are not one key pair");
out:
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pk);
	return rc;
}
