/* presence.c: is the token there? Failures classified as "the token is unavailable" rather
 * than as a verdict on the data or a peer, and the cheap probe the monitor polls. */
#include "pkcs11/token.h"

#include <stdio.h>
#include <string.h>

#include "pkcs11/internal.h"

int mpc_token_rv_is_gone(CK_RV rv)
{
	return rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_TOKEN_NOT_RECOGNIZED ||
	       rv == CKR_DEVICE_REMOVED || rv == CKR_DEVICE_ERROR || rv == CKR_SLOT_ID_INVALID ||
	       rv == CKR_CRYPTOKI_NOT_INITIALIZED;
}

/* Does the token answer as itself? CKR_OK, or what says it does not. */
CK_RV mpc_token_probe(struct mpc_token *t)
{
	const struct mpc_p11_module *m = mpc_token_module_of(t);
	CK_TOKEN_INFO ti;
	char label[33], serial[17];
	CK_RV rv;

	if (m != NULL && m->down)
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	rv = t->fn->C_GetTokenInfo(t->slot, &ti);
	if (rv != CKR_OK)
		return rv;
	mpc_p11_trim(label, ti.label, 32);
	mpc_p11_trim(serial, ti.serialNumber, 16);
	if (strcmp(label, t->desc.label) != 0 || strcmp(serial, t->desc.serial) != 0)
		return CKR_TOKEN_NOT_RECOGNIZED; /* another token in its slot now */
	return CKR_OK;
}

/* Forget the session and the handles found in it. The session is closed only while it belongs
 * to the module's current generation (an older number may be another session's now). */
void mpc_token_drop_session(struct mpc_token *t)
{
	if (t->session != CK_INVALID_HANDLE && !mpc_token_stale(t)) {
		CK_RV rv = t->fn->C_CloseSession(t->session);

		(void)rv; /* the token is going or gone: its answer changes nothing */
	}
	t->session = CK_INVALID_HANDLE;
	t->logged_in = 0;
	memset(t->key_cache, 0, sizeof(t->key_cache));
}

static const char *probe_words(CK_RV rv)
{
	switch (rv) {
	case CKR_CRYPTOKI_NOT_INITIALIZED:
		return "its module is not initialised";
	case CKR_TOKEN_NOT_RECOGNIZED:
		return "its slot holds another token, or none it recognises";
	case CKR_TOKEN_NOT_PRESENT:
		return "not present in its slot";
	case CKR_SLOT_ID_INVALID:
		return "its slot is gone";
	default:
		return NULL;
	}
}

int mpc_token_classify(struct mpc_token *t, int rc, struct mpc_err *e)
{
	char orig[MPC_ERR_MSG_MAX], why[160];
	const char *words;
	unsigned long ckr = e != NULL ? e->ckr : 0;
	CK_RV prv;

	/* What a token cannot cause: a PIN source, memory, a bad argument, a stop signal. */
	if (rc == MPC_OK || rc == MPC_ERR_TOKEN_UNAVAILABLE || rc == MPC_ERR_PIN ||
	    rc == MPC_ERR_NOMEM || rc == MPC_ERR_USAGE || rc == MPC_ERR_TOO_LARGE ||
	    rc == MPC_ERR_PARSE || rc == MPC_ERR_CANCELLED || rc == MPC_ERR_IO)
		return rc;
	prv = mpc_token_probe(t);
	if (prv == CKR_OK && !mpc_token_rv_is_gone(ckr))
		return rc;
	words = probe_words(prv);
	if (prv == CKR_OK)
		snprintf(why, sizeof(why), "%s", mpc_ckr_name(ckr));
	else if (words != NULL)
		snprintf(why, sizeof(why), "%s", words);
	else
		snprintf(why, sizeof(why), "C_GetTokenInfo answers %s", mpc_ckr_name(prv));
	snprintf(orig, sizeof(orig), "%s", e != NULL ? e->msg : "");
	mpc_token_drop_session(t);
	if (e == NULL)
		return MPC_ERR_TOKEN_UNAVAILABLE;
	mpc_err_clear(e);
	/* A failed authentication seen while the token is away is the token's failure, not a
	 * verdict on the data: its words are not repeated. */
	if (rc == MPC_ERR_AUTH)
		snprintf(orig, sizeof(orig),
			 "the operation failed, which says nothing about the data");
	mpc_fail(e, MPC_ERR_TOKEN_UNAVAILABLE,
		 "token \"%s\" (module %s) is unavailable (%s)%s%.400s", MPC_TOKEN_LABEL(t),
		 t->desc.module, why, orig[0] ? ": " : "", orig);
	e->ckr = prv != CKR_OK ? prv : ckr;
	return MPC_ERR_TOKEN_UNAVAILABLE;
}

int mpc_token_check(struct mpc_token *t, struct mpc_err *e)
{
	int rc = MPC_OK;
	CK_RV prv;

	mpc_token_lock(t);
	prv = mpc_token_probe(t);
	if (prv != CKR_OK) {
		const char *words = probe_words(prv);
		char why[160];

		if (words != NULL)
			snprintf(why, sizeof(why), "%s", words);
		else
			snprintf(why, sizeof(why), "C_GetTokenInfo answers %s", mpc_ckr_name(prv));
		mpc_token_drop_session(t);
		rc = mpc_fail(e, MPC_ERR_TOKEN_UNAVAILABLE,
			      "token \"%s\" (serial %s, module %s) is unavailable: %s",
			      MPC_TOKEN_LABEL(t), t->desc.serial, t->desc.module, why);
		if (e != NULL)
			e->ckr = prv;
	}
	mpc_token_unlock(t);
	return rc;
}
