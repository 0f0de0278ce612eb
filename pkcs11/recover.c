/* recover.c: a token that goes away and comes back: telling "the token is unavailable" apart
 * from a failed call, and re-initialising its module to find it again. */
#include "pkcs11/token.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkcs11/internal.h"

static struct mpc_p11_module *module_of(const struct mpc_token *t)
{
	if (t->ctx == NULL)
		return NULL;
	for (int i = 0; i < t->ctx->n; i++)
		if (t->ctx->mod[i].fn == t->fn)
			return &t->ctx->mod[i];
	return NULL;
}

unsigned mpc_token_module_generation(const struct mpc_token *t)
{
	const struct mpc_p11_module *m = module_of(t);

	return m != NULL ? m->generation : 0;
}

int mpc_token_stale(const struct mpc_token *t)
{
	const struct mpc_p11_module *m = module_of(t);

	return m != NULL && m->generation != t->generation;
}

int mpc_token_rv_is_gone(CK_RV rv)
{
	return rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_TOKEN_NOT_RECOGNIZED ||
	       rv == CKR_DEVICE_REMOVED || rv == CKR_DEVICE_ERROR || rv == CKR_SLOT_ID_INVALID ||
	       rv == CKR_CRYPTOKI_NOT_INITIALIZED;
}

/* Does the token answer as itself? CKR_OK, or what says it does not. */
static CK_RV probe(struct mpc_token *t)
{
	const struct mpc_p11_module *m = module_of(t);
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
static void drop_session(struct mpc_token *t)
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
	prv = probe(t);
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
	drop_session(t);
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
	prv = probe(t);
	if (prv != CKR_OK) {
		const char *words = probe_words(prv);
		char why[160];

		if (words != NULL)
			snprintf(why, sizeof(why), "%s", words);
		else
			snprintf(why, sizeof(why), "C_GetTokenInfo answers %s", mpc_ckr_name(prv));
		drop_session(t);
		rc = mpc_fail(e, MPC_ERR_TOKEN_UNAVAILABLE,
			      "token \"%s\" (serial %s, module %s) is unavailable: %s",
			      MPC_TOKEN_LABEL(t), t->desc.serial, t->desc.module, why);
		if (e != NULL)
			e->ckr = prv;
	}
	mpc_token_unlock(t);
	return rc;
}

/* Does the token found have the identity t had when opened? */
static int same_identity(const struct mpc_token *t, const CK_TOKEN_INFO *ti)
{
	struct mpc_token_desc d;

	mpc_p11_trim(d.label, ti->label, 32);
	mpc_p11_trim(d.serial, ti->serialNumber, 16);
	mpc_p11_trim(d.manufacturer, ti->manufacturerID, 32);
	mpc_p11_trim(d.model, ti->model, 16);
	return strcmp(d.label, t->desc.label) == 0 && strcmp(d.serial, t->desc.serial) == 0 &&
	       strcmp(d.manufacturer, t->desc.manufacturer) == 0 &&
	       strcmp(d.model, t->desc.model) == 0;
}

int mpc_token_refind(struct mpc_token *t, struct mpc_err *e)
{
	struct mpc_p11_module *m = module_of(t);
	struct mpc_token_found found;
	struct mpc_err fe = { 0 };
	CK_SLOT_ID slot;
	CK_TOKEN_INFO info;
	int rc;

	drop_session(t); /* stale: forgotten, not closed */
	if (m == NULL)
		return mpc_fail(e, MPC_ERR_INTERNAL, "token \"%s\": its module is not loaded",
				MPC_TOKEN_LABEL(t));
	if (m->down)
		return mpc_fail(e, MPC_ERR_TOKEN_UNAVAILABLE,
				"token \"%s\" (module %s) is unavailable: its module is not "
				"initialised (its last C_Initialize failed)",
				MPC_TOKEN_LABEL(t), t->desc.module);
	/* By its URI, as it was opened: every attribute filters, two matches are refused. */
	rc = mpc_token_find_in_module(t->ctx, m, t->uri, &found, &fe);
	if (rc == MPC_ERR_TOKEN_NOT_FOUND || rc == MPC_ERR_PKCS11) {
		if (e != NULL)
			*e = fe;
		mpc_err_prefix(e, "token \"%s\" (serial %s, module %s) is unavailable: ",
			       MPC_TOKEN_LABEL(t), t->desc.serial, t->desc.module);
		if (e != NULL)
			e->code = MPC_ERR_TOKEN_UNAVAILABLE;
		return MPC_ERR_TOKEN_UNAVAILABLE;
	}
	if (rc != MPC_OK) {
		if (e != NULL)
			*e = fe;
		mpc_err_prefix(e, "token \"%s\" (serial %s, module %s) cannot be found again: ",
			       MPC_TOKEN_LABEL(t), t->desc.serial, t->desc.module);
		return rc;
	}
	if (!same_identity(t, &found.info)) {
		char label[33], serial[17];

		mpc_p11_trim(label, found.info.label, 32);
		mpc_p11_trim(serial, found.info.serialNumber, 16);
		return mpc_fail(
			e, MPC_ERR_TOKEN_UNAVAILABLE,
			"token \"%s\" (serial %s, module %s) is unavailable: its URI now "
			"matches another token, \"%s\" (serial %s), which is not used in its "
			"place",
			MPC_TOKEN_LABEL(t), t->desc.serial, t->desc.module, label, serial);
	}
	slot = found.slot;
	info = found.info;
	t->slot = slot;
	t->info = info;
	t->generation = m->generation;
	t->rng_left = 0;
	return mpc_token_recover(t, e);
}

#define REINIT_MAX 32

int mpc_token_reinit(struct mpc_token *const *tokens, size_t n, struct mpc_err *e)
{
	struct mpc_token *t[REINIT_MAX];
	struct mpc_p11_module *done[REINIT_MAX];
	size_t nt = 0, nd = 0;
	int rc = MPC_OK;

	for (size_t i = 0; i < n; i++) {
		int dup = tokens[i] == NULL;

		for (size_t k = 0; k < nt && !dup; k++)
			dup = t[k] == tokens[i];
		if (dup)
			continue;
		if (nt == REINIT_MAX)
			return mpc_fail(e, MPC_ERR_USAGE, "at most %d tokens", REINIT_MAX);
		t[nt++] = tokens[i];
	}
	/* One order for every caller (by address): no two callers wait on each other's locks. */
	for (size_t i = 1; i < nt; i++)
		for (size_t k = i; k > 0 && (uintptr_t)t[k - 1] > (uintptr_t)t[k]; k--) {
			struct mpc_token *x = t[k - 1];

			t[k - 1] = t[k];
			t[k] = x;
		}
	for (size_t i = 0; i < nt; i++)
		mpc_token_lock(t[i]);
	/* Re-initialise each module of which a token does not answer, once. */
	for (size_t i = 0; i < nt; i++) {
		struct mpc_p11_module *m = module_of(t[i]);
		struct mpc_err me = { 0 };
		int seen = 0;

		for (size_t k = 0; k < nd && !seen; k++)
			seen = done[k] == m;
		if (m == NULL || seen || (!m->down && probe(t[i]) == CKR_OK))
			continue;
		done[nd++] = m;
		if (mpc_p11_module_reinit(m, &me) != MPC_OK && rc == MPC_OK) {
			if (e != NULL)
				*e = me;
			mpc_err_prefix(e, "token \"%s\" is unavailable: ", MPC_TOKEN_LABEL(t[i]));
			rc = MPC_ERR_TOKEN_UNAVAILABLE;
		}
	}
	/* Find each token again (a re-initialised module) or make sure its session is open. */
	for (size_t i = 0; i < nt; i++) {
		struct mpc_err te = { 0 };
		int trc = mpc_token_ready(t[i], &te);

		if (trc == MPC_OK && probe(t[i]) != CKR_OK)
			trc = mpc_token_classify(t[i], MPC_ERR_PKCS11, &te);
		if (trc != MPC_OK && rc == MPC_OK) {
			if (e != NULL)
				*e = te;
			rc = trc;
		}
	}
	for (size_t i = nt; i-- > 0;)
		mpc_token_unlock(t[i]);
	return rc;
}
