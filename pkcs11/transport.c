/* transport.c: body encryption with the token-resident transport key (AES-256-GCM, no AAD). */
#include "pkcs11/transport.h"

#include <string.h>

#include "pkcs11/internal.h"
#include "pkcs11/keys.h"
#include "pkcs11/token.h"
#include "src/util/mem.h"

#define TAG_LEN 16

static int gcm_once(struct mpc_token *t, int decrypt, uint8_t iv[12], const uint8_t *in,
		    size_t in_len, uint8_t *out, CK_ULONG *out_len, struct mpc_err *e)
{
	static const uint8_t empty[1];
	CK_GCM_PARAMS p = { iv, 12, 96, NULL, 0, TAG_LEN * 8 };
	CK_MECHANISM m = { CKM_AES_GCM, &p, sizeof(p) };
	CK_OBJECT_HANDLE k;
	CK_RV rv;
	int rc = mpc_key_get(t, MPC_KEY_TRANSPORT, &k, e);

	if (rc != MPC_OK)
		return rc;
	if (decrypt) {
		rv = t->fn->C_DecryptInit(t->session, &m, k);
		if (rv == CKR_OK)
			rv = t->fn->C_Decrypt(t->session, (CK_BYTE_PTR)in, in_len, out, out_len);
	} else {
		rv = t->fn->C_EncryptInit(t->session, &m, k);
		if (rv == CKR_OK)
			rv = t->fn->C_Encrypt(t->session,
					      (CK_BYTE_PTR)(uintptr_t)(in_len ? in : empty), in_len,
					      out, out_len);
	}
	if (rv == CKR_OK)
		return MPC_OK;
	if (decrypt && !mpc_token_rv_is_lost_session(rv))
		return mpc_fail(e, MPC_ERR_AUTH,
				"body failed authentication in the token (%s): wrong transport key "
				"or corrupted body",
				mpc_ckr_name(rv));
	return mpc_fail_ck(e, rv, decrypt ? "C_Decrypt(CKM_AES_GCM)" : "C_Encrypt(CKM_AES_GCM)",
			   "mpc-backup-transport");
}

struct gcm_call {
	int decrypt;
	uint8_t *iv;
	const uint8_t *in;
	size_t in_len;
	uint8_t *out;
	CK_ULONG cap, out_len;
};

static int gcm_op(struct mpc_token *t, void *arg, struct mpc_err *e)
{
	struct gcm_call *a = arg;

	a->out_len = a->cap;
	return gcm_once(t, a->decrypt, a->iv, a->in, a->in_len, a->out, &a->out_len, e);
}

/* Run once; on a lost session recover and run again. */
static int with_recovery(struct mpc_token *t, int decrypt, uint8_t iv[12], const uint8_t *in,
			 size_t in_len, uint8_t *out, CK_ULONG *out_len, struct mpc_err *e)
{
	struct gcm_call a = { decrypt, iv, in, in_len, out, *out_len, 0 };
	int rc = mpc_token_call(t, gcm_op, &a, e);

	*out_len = a.out_len;
	return rc;
}

int mpc_transport_token_encrypt(void *token, uint8_t iv[12], const uint8_t *pt, size_t n,
				uint8_t *ct_and_tag, struct mpc_err *e)
{
	CK_ULONG out_len = n + TAG_LEN;
	int rc = with_recovery(token, 0, iv, pt, n, ct_and_tag, &out_len, e);

	if (rc == MPC_OK && out_len != n + TAG_LEN)
		return mpc_fail(e, MPC_ERR_PKCS11, "token GCM returned %lu bytes for %zu",
				(unsigned long)out_len, n);
	return rc;
}

int mpc_transport_token_decrypt(void *token, const uint8_t iv[12], const uint8_t *ct_and_tag,
				size_t n, uint8_t *pt, struct mpc_err *e)
{
	/* Tokens may want an output buffer as long as the input: decrypt into locked scratch. */
	uint8_t ivc[12];
	uint8_t *scratch = mpc_secure_alloc(n + TAG_LEN, e);
	CK_ULONG out_len = n + TAG_LEN;
	int rc;

	if (scratch == NULL)
		return MPC_ERR_NOMEM;
	memcpy(ivc, iv, 12);
	rc = with_recovery(token, 1, ivc, ct_and_tag, n + TAG_LEN, scratch, &out_len, e);
	if (rc == MPC_OK && out_len != n)
		rc = mpc_fail(e, MPC_ERR_PKCS11, "token GCM returned %lu bytes for %zu",
			      (unsigned long)out_len, n);
	if (rc == MPC_OK)
		memcpy(pt, scratch, n);
	mpc_secure_free(scratch);
	return rc;
}
