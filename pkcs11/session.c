/* session.c: making an open token's session usable again (a lost session re-opened, a token
 * whose module was re-initialised found again) and running one operation with that recovery. */
#include "pkcs11/token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkcs11/internal.h"

int mpc_token_recover(struct mpc_token *t, struct mpc_err *e)
{
	/* A session of the module's previous life is forgotten, never closed (its number may be
	 * another token's session now), and the token is found again (mpc_token_refind below). */
	if (mpc_token_stale(t))
		return mpc_token_refind(t, e);
	if (t->session != CK_INVALID_HANDLE) {
		(void)t->fn->C_CloseSession(t->session);
		t->session = CK_INVALID_HANDLE;
	}
	t->logged_in = 0;
	memset(t->key_cache, 0, sizeof(t->key_cache));
	/* a re-open that fails because the token went away says so (presence.c) */
	return mpc_token_classify(t, mpc_token_open_session(t, e), e);
}

int mpc_token_ready(struct mpc_token *t, struct mpc_err *e)
{
	if (mpc_token_stale(t)) /* its module was re-initialised: handles are dead */
		return mpc_token_refind(t, e);
	return t->session != CK_INVALID_HANDLE ? MPC_OK : mpc_token_recover(t, e);
}

int mpc_token_call(struct mpc_token *t,
		   int (*op)(struct mpc_token *t, void *arg, struct mpc_err *e), void *arg,
		   struct mpc_err *e)
{
	struct mpc_err first = { 0 };
	int rc;

	mpc_token_lock(t);
	rc = mpc_token_ready(t, e);
	if (rc != MPC_OK) {
		mpc_token_unlock(t);
		return rc;
	}
	rc = op(t, arg, &first);
	if (rc != MPC_OK &&
	    (mpc_token_rv_is_lost_session(first.ckr) || first.ckr == CKR_OPERATION_ACTIVE)) {
		/* a lost session, or one left mid-operation by an earlier failure: start over */
		rc = mpc_token_recover(t, e);
		if (rc == MPC_OK)
			rc = op(t, arg, e);
	} else if (rc != MPC_OK) {
		/* An operation that failed after its Init (e.g. CKR_BUFFER_TOO_SMALL) may still be
		 * active in the session: drop the session so the next call starts clean. */
		if (first.ckr != 0 && mpc_ckr_class(first.ckr) != MPC_ERR_AUTH &&
		    t->session != CK_INVALID_HANDLE) {
			(void)t->fn->C_CloseSession(t->session);
			t->session = CK_INVALID_HANDLE;
			t->logged_in = 0;
			memset(t->key_cache, 0, sizeof(t->key_cache));
		}
		if (e != NULL)
			*e = first;
	}
	if (rc != MPC_OK) /* the token went away: say so, not what the call made of it */
		rc = mpc_token_classify(t, rc, e);
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
	struct mpc_p11_module *m = mpc_token_module_of(t);
	struct mpc_token_found found;
	struct mpc_err fe = { 0 };
	CK_SLOT_ID slot;
	CK_TOKEN_INFO info;
	int rc;

	mpc_token_drop_session(t); /* stale: forgotten, not closed */
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
