/* check.c: token checks for `mpc-backup doctor`: modules, matching tokens and PIN flags,
 * mechanisms, key attributes, and self-tests that seal, open and sign without writing. */
#include "pkcs11/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "pkcs11/ed25519.h"
#include "pkcs11/internal.h"
#include "src/util/mem.h"

static void append(char *dst, size_t cap, const char *sep, const char *s)
{
	size_t used = strlen(dst);

	if (used + 1 < cap)
		snprintf(dst + used, cap - used, "%s%s", used > 0 ? sep : "", s);
}

int mpc_check_modules(struct mpc_p11_ctx *ctx, const char *uri, char *loaded, size_t cap,
		      struct mpc_err *e)
{
	struct mpc_token_uri *u = NULL;
	char list[1024] = "";
	int rc, first = 0, end = 0;

	rc = mpc_token_uri_parse(uri != NULL ? uri : MPC_DEFAULT_TOKEN_URI, &u, e);
	if (rc != MPC_OK)
		return rc;
	rc = mpc_p11_modules_for_uri(ctx, u, &first, &end, e);
	if (rc == MPC_OK && first == end)
		rc = mpc_fail(e, MPC_ERR_MODULE,
			      "no PKCS#11 module: the URI names none and p11-kit has none "
			      "registered");
	for (int i = first; rc == MPC_OK && i < end; i++)
		append(list, sizeof(list), ", ", ctx->mod[i].path);
	if (rc == MPC_OK && cap > 0)
		snprintf(loaded, cap, "%s", list);
	mpc_token_uri_free(u);
	return rc;
}

static void fill(struct mpc_check_token *c, const struct mpc_p11_module *m, CK_SLOT_ID slot,
		 const CK_TOKEN_INFO *ti)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->module, sizeof(c->module), "%s", m->path);
	c->slot = slot;
	mpc_p11_trim(c->label, ti->label, 32);
	mpc_p11_trim(c->serial, ti->serialNumber, 16);
	mpc_p11_trim(c->manufacturer, ti->manufacturerID, 32);
	mpc_p11_trim(c->model, ti->model, 16);
	c->initialized = !!(ti->flags & CKF_TOKEN_INITIALIZED);
	c->login_required = !!(ti->flags & CKF_LOGIN_REQUIRED);
	c->user_pin_initialized = !!(ti->flags & CKF_USER_PIN_INITIALIZED);
	c->pin_count_low = !!(ti->flags & CKF_USER_PIN_COUNT_LOW);
	c->pin_final_try = !!(ti->flags & CKF_USER_PIN_FINAL_TRY);
	c->pin_locked = !!(ti->flags & CKF_USER_PIN_LOCKED);
	c->pin_to_be_changed = !!(ti->flags & CKF_USER_PIN_TO_BE_CHANGED);
}

int mpc_check_token_find(struct mpc_p11_ctx *ctx, const char *uri, struct mpc_check_token *out,
			 struct mpc_err *e)
{
	struct mpc_token_uri *u = NULL;
	struct mpc_token_found f;
	int rc;

	rc = mpc_token_uri_parse(uri != NULL ? uri : MPC_DEFAULT_TOKEN_URI, &u, e);
	if (rc != MPC_OK)
		return rc;
	rc = mpc_token_find(ctx, u, &f, e);
	if (rc == MPC_OK)
		fill(out, f.mod, f.slot, &f.info);
	mpc_token_uri_free(u);
	return rc;
}

void mpc_check_mechanisms(struct mpc_token *t, struct mpc_check_mechs *m)
{
	memset(m, 0, sizeof(*m));
	m->aes_gcm = mpc_token_has_mechanism(t, CKM_AES_GCM, CKF_ENCRYPT | CKF_DECRYPT);
	m->aes_cbc_pad = mpc_token_has_mechanism(t, CKM_AES_CBC_PAD, CKF_ENCRYPT | CKF_DECRYPT);
	m->hmac = mpc_token_has_mechanism(t, CKM_SHA256_HMAC, CKF_SIGN | CKF_VERIFY);
	m->eddsa = mpc_token_has_mechanism(t, CKM_EDDSA, CKF_SIGN);
	m->eddsa_gen =
		mpc_token_has_mechanism(t, CKM_EC_EDWARDS_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR);
}

struct key_call {
	enum mpc_key_role role;
	struct mpc_check_key *out;
};

static int key_op(struct mpc_token *t, void *arg, struct mpc_err *e)
{
	struct key_call *a = arg;
	struct mpc_err nf = { 0 };
	CK_OBJECT_HANDLE h;
	CK_BBOOL local = CK_FALSE;
	CK_ATTRIBUTE one = { CKA_LOCAL, &local, sizeof(local) };
	CK_RV rv;
	int rc;

	memset(a->out, 0, sizeof(*a->out));
	rc = mpc_key_find(t, a->role, &h, &nf);
	if (rc == MPC_ERR_OBJECT_NOT_FOUND)
		return MPC_OK;
	if (rc != MPC_OK) {
		if (e != NULL)
			*e = nf;
		return rc;
	}
	rc = mpc_key_get_attrs(t, h, &a->out->attrs, e);
	if (rc != MPC_OK)
		return rc;
	rv = t->fn->C_GetAttributeValue(t->session, h, &one, 1);
	if (rv == CKR_OK && one.ulValueLen == sizeof(local))
		a->out->local = local ? 1 : 0;
	else if (rv == CKR_OK || rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE)
		a->out->local = -1;
	else
		return mpc_fail_ck(e, rv, "C_GetAttributeValue(CKA_LOCAL)",
				   mpc_key_desc(a->role)->label);
	a->out->present = 1;
	return MPC_OK;
}

int mpc_check_key(struct mpc_token *t, enum mpc_key_role role, struct mpc_check_key *out,
		  struct mpc_err *e)
{
	struct mpc_check_key got;
	struct key_call a = { role, &got };
	int rc;

	if (mpc_key_desc(role) == NULL)
		return mpc_fail(e, MPC_ERR_INTERNAL, "no key role %d", (int)role);
	rc = mpc_token_call(t, key_op, &a, e);
	if (rc == MPC_OK)
		*out = got;
	return rc;
}

int mpc_check_key_safe(enum mpc_key_role role, const struct mpc_check_key *k, char *why, size_t cap)
{
	const struct mpc_key_desc *d = mpc_key_desc(role);
	const struct mpc_key_attrs *a = &k->attrs;

	if (cap == 0)
		return 0; /* no room to say why */
	why[0] = '\0';
	if (d == NULL || !k->present)
		return 0;
	if (a->token != 1)
		append(why, cap, ", ", "CKA_TOKEN false (a session object)");
	if (d->kind != MPC_KEY_KIND_PUBLIC) {
		if (a->sensitive != 1)
			append(why, cap, ", ", "CKA_SENSITIVE false");
		if (a->extractable != 0)
			append(why, cap, ", ", "CKA_EXTRACTABLE true");
	}
	return why[0] == '\0';
}

int mpc_check_seal_selftest(struct mpc_token *t, enum mpc_seal_mech mech, struct mpc_err *e)
{
	static const uint8_t aad[] = "mpc-backup doctor self-test";
	uint8_t pt[64];
	uint8_t *blob = NULL, *back = NULL;
	size_t blob_len = 0, back_len = 0;
	struct mpc_err tamper = { 0 };
	int rc;

	if (mech != MPC_SEAL_AES_GCM && mech != MPC_SEAL_AES_CBC_HMAC &&
	    mech != MPC_SEAL_AES_CBC_HMAC_DIGEST)
		return mpc_fail(e, MPC_ERR_USAGE, "self-test: unknown sealing mechanism %d",
				(int)mech);
	if (RAND_bytes(pt, (int)sizeof(pt)) != 1)
		return mpc_fail(e, MPC_ERR_INTERNAL, "OpenSSL RAND_bytes failed");
	rc = mpc_seal(t, mech, aad, sizeof(aad) - 1, pt, sizeof(pt), &blob, &blob_len, e);
	if (rc != MPC_OK)
		goto out;
	rc = mpc_unseal(t, aad, sizeof(aad) - 1, blob, blob_len, &back, &back_len, e);
	if (rc != MPC_OK)
		goto out;
	if (back_len != sizeof(pt) || CRYPTO_memcmp(back, pt, sizeof(pt)) != 0) {
		rc = mpc_fail(e, MPC_ERR_AUTH,
			      "%s: the token opened the self-test blob to different bytes",
			      mpc_seal_mech_name(mech));
		goto out;
	}
	mpc_secure_free(back);
	back = NULL;
	/* the last byte is the tag (GCM) or the HMAC (CBC): a changed one must be refused */
	blob[blob_len - 1] ^= 0x01;
	rc = mpc_unseal(t, aad, sizeof(aad) - 1, blob, blob_len, &back, &back_len, &tamper);
	if (rc == MPC_OK) {
		rc = mpc_fail(e, MPC_ERR_AUTH, "%s: the token opened a tampered self-test blob",
			      mpc_seal_mech_name(mech));
		goto out;
	}
	if (rc != MPC_ERR_AUTH) {
		if (e != NULL)
			*e = tamper;
		mpc_err_prefix(e,
			       "%s: opening a tampered self-test blob: ", mpc_seal_mech_name(mech));
		goto out;
	}
	rc = MPC_OK;
out:
	mpc_memzero(pt, sizeof(pt));
	mpc_secure_free(back);
	free(blob);
	return rc;
}

int mpc_check_sign_selftest(struct mpc_token *t, struct mpc_err *e)
{
	uint8_t pub[32];
	int rc;

	rc = mpc_ed25519_public_key(t, pub, e);
	if (rc == MPC_OK)
		rc = mpc_ed25519_verify_pair(t, pub, e);
	return rc;
}
