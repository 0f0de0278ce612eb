/* token.c: finding a token by URI, its session, login, lock and recovery. */
#include "pkcs11/token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkcs11/internal.h"
#include "pkcs11/pin.h"
#include "src/util/mem.h"

static int login(struct mpc_token *t, struct mpc_err *e)
{
	CK_TOKEN_INFO info;
	char *pin = NULL;
	size_t pin_len = 0;
	const char *source = NULL;
	char what[64];
	CK_RV rv;
	int rc;

	snprintf(what, sizeof(what), "token \"%s\"", MPC_TOKEN_LABEL(t));
	rv = t->fn->C_GetTokenInfo(t->slot, &info);
	if (rv != CKR_OK)
		return mpc_fail_ck(e, rv, "C_GetTokenInfo", what);
	if (!(info.flags & CKF_LOGIN_REQUIRED)) {
		t->logged_in = 0;
		return MPC_OK;
	}
	if (!(info.flags & CKF_USER_PIN_INITIALIZED))
		return mpc_fail(e, MPC_ERR_PIN, "%s has no user PIN set (initialise it first)",
				what);
	if (info.flags & CKF_USER_PIN_LOCKED)
		return mpc_fail(e, MPC_ERR_PIN,
				"%s: the user PIN is locked; the security officer must unlock it",
				what);
	if ((info.flags & CKF_USER_PIN_FINAL_TRY) && !t->pin.allow_final_try)
		return mpc_fail(
			e, MPC_ERR_PIN,
			"%s: one wrong PIN away from locking; not trying. Check the PIN, then "
			"pass --allow-final-pin-try",
			what);
	rc = mpc_pin_read(t->pin.pin_file, t->uri->pin_file, t->pin.pin_env, &pin, &pin_len,
			  &source, e);
	if (rc != MPC_OK)
		return rc;
	rv = t->fn->C_Login(t->session, CKU_USER, (CK_UTF8CHAR_PTR)pin, pin_len);
	mpc_secure_free(pin);
	if (rv == CKR_USER_ALREADY_LOGGED_IN)
		rv = CKR_OK;
	if (rv != CKR_OK) {
		rc = mpc_fail_ck(e, rv, "C_Login", what);
		if (rv == CKR_PIN_INCORRECT)
			mpc_err_prefix(e, "PIN from %s rejected: ", source);
		return rc;
	}
	t->logged_in = 1;
	return MPC_OK;
}

static int open_session(struct mpc_token *t, struct mpc_err *e)
{
	char what[64];
	CK_RV rv;
	int rc;

	snprintf(what, sizeof(what), "token \"%s\"", MPC_TOKEN_LABEL(t));
	/* no_login (mpc_token_open_public): a read-only public session, no PIN read */
	rv = t->fn->C_OpenSession(t->slot,
				  CKF_SERIAL_SESSION | (t->pin.no_login ? 0 : CKF_RW_SESSION), NULL,
				  NULL, &t->session);
	if (rv != CKR_OK) {
		t->session = CK_INVALID_HANDLE;
		return mpc_fail_ck(e, rv, "C_OpenSession", what);
	}
	t->generation = mpc_token_module_generation(t);
	rc = t->pin.no_login ? MPC_OK : login(t, e);
	if (rc != MPC_OK) {
		/* No half-open state: a session that is not logged in would hide the private
		 * keys and look like missing keys. The next call recovers from scratch. */
		(void)t->fn->C_CloseSession(t->session);
		t->session = CK_INVALID_HANDLE;
	}
	return rc;
}

int mpc_token_open(struct mpc_p11_ctx *ctx, const char *uri, const struct mpc_pin_opts *pin,
		   struct mpc_token **out, struct mpc_err *e)
{
	struct mpc_token *t = NULL;
	struct mpc_token_uri *u = NULL;
	struct mpc_token_found found;
	int rc;

	*out = NULL;
	rc = mpc_token_uri_parse(uri != NULL ? uri : MPC_DEFAULT_TOKEN_URI, &u, e);
	if (rc != MPC_OK)
		return rc;
	rc = mpc_token_find(ctx, u, &found, e);
	if (rc != MPC_OK)
		goto out;
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		rc = mpc_fail(e, MPC_ERR_NOMEM, "out of memory");
		goto out;
	}
	t->session = CK_INVALID_HANDLE;
	t->fn = found.mod->fn;
	t->module_path = found.mod->path;
	t->slot = found.slot;
	t->info = found.info;
	t->ctx = ctx;
	t->uri = u;
	u = NULL;
	if (pin != NULL)
		t->pin = *pin;
	mpc_p11_trim(t->desc.label, t->info.label, 32);
	mpc_p11_trim(t->desc.serial, t->info.serialNumber, 16);
	mpc_p11_trim(t->desc.manufacturer, t->info.manufacturerID, 32);
	mpc_p11_trim(t->desc.model, t->info.model, 16);
	snprintf(t->desc.module, sizeof(t->desc.module), "%s", t->module_path);
	t->kind = t->detected_kind = mpc_vendor_detect(t->fn, t->slot, &t->info);
	if (pthread_mutex_init(&t->lock, NULL) != 0) {
		rc = mpc_fail(e, MPC_ERR_INTERNAL, "cannot create a mutex");
		goto out;
	}
	rc = open_session(t, e);
	if (rc != MPC_OK) {
		mpc_token_close(t);
		t = NULL;
		goto out;
	}
	*out = t;
	t = NULL;
out:
	if (t != NULL) {
		mpc_token_uri_free(t->uri);
		free(t);
	}
	mpc_token_uri_free(u);
	return rc;
}

void mpc_token_close(struct mpc_token *t)
{
	if (t == NULL)
		return;
	if (t->session != CK_INVALID_HANDLE && !mpc_token_stale(t)) {
		if (t->logged_in)
			(void)t->fn->C_Logout(t->session);
		(void)t->fn->C_CloseSession(t->session);
	}
	pthread_mutex_destroy(&t->lock);
	mpc_token_uri_free(t->uri);
	free(t);
}

void mpc_token_lock(struct mpc_token *t)
{
	pthread_mutex_lock(&t->lock);
}

void mpc_token_unlock(struct mpc_token *t)
{
	pthread_mutex_unlock(&t->lock);
}

int mpc_token_rv_is_lost_session(CK_RV rv)
{
	return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED ||
	       rv == CKR_USER_NOT_LOGGED_IN || rv == CKR_DEVICE_REMOVED;
}

int mpc_token_recover(struct mpc_token *t, struct mpc_err *e)
{
	/* A session of the module's previous life is forgotten, never closed (its number may be
	 * another token's session now), and the token is found again (recover.c). */
	if (mpc_token_stale(t))
		return mpc_token_refind(t, e);
	if (t->session != CK_INVALID_HANDLE) {
		(void)t->fn->C_CloseSession(t->session);
		t->session = CK_INVALID_HANDLE;
	}
	t->logged_in = 0;
	memset(t->key_cache, 0, sizeof(t->key_cache));
	/* a re-open that fails because the token went away says so (recover.c) */
	return mpc_token_classify(t, open_session(t, e), e);
}

int mpc_token_ready(struct mpc_token *t, struct mpc_err *e)
{
	if (mpc_token_stale(t)) /* its module was re-initialised: handles are dead (recover.c) */
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

int mpc_p11_slot_has_mechanism(CK_FUNCTION_LIST *fn, CK_SLOT_ID slot, CK_MECHANISM_TYPE mech,
			       CK_FLAGS flags)
{
	CK_MECHANISM_TYPE list[512];
	CK_ULONG n = 512;
	CK_MECHANISM_INFO mi;
	int listed = 0;
	CK_RV rv;

	/* The list is authoritative: SoftHSM2 answers C_GetMechanismInfo even for mechanisms
	 * its configuration (slots.mechanisms) disabled. */
	rv = fn->C_GetMechanismList(slot, list, &n);
	if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL)
		return 0;
	if (rv == CKR_BUFFER_TOO_SMALL)
		listed = 1; /* too many to list here: trust C_GetMechanismInfo */
	for (CK_ULONG i = 0; i < n && !listed; i++)
		listed = list[i] == mech;
	if (!listed || fn->C_GetMechanismInfo(slot, mech, &mi) != CKR_OK)
		return 0;
	return (mi.flags & flags) == flags;
}

int mpc_token_has_mechanism(struct mpc_token *t, CK_MECHANISM_TYPE mech, CK_FLAGS flags)
{
	return mpc_p11_slot_has_mechanism(t->fn, t->slot, mech, flags);
}

int mpc_token_random(struct mpc_token *t, unsigned char *buf, size_t n, struct mpc_err *e)
{
	CK_RV rv;
	int rc;

	mpc_token_lock(t);
	rc = mpc_token_ready(t, e); /* never a session of the module's previous life */
	if (rc != MPC_OK) {
		mpc_token_unlock(t);
		return rc;
	}
	rv = t->fn->C_GenerateRandom(t->session, buf, n);
	if (mpc_token_rv_is_lost_session(rv) && mpc_token_recover(t, e) == MPC_OK)
		rv = t->fn->C_GenerateRandom(t->session, buf, n);
	mpc_token_unlock(t);
	if (rv != CKR_OK)
		return mpc_fail_ck(e, rv, "C_GenerateRandom", MPC_TOKEN_LABEL(t));
	return MPC_OK;
}

const char *mpc_token_uri_object(const struct mpc_token *t)
{
	return t->uri != NULL ? t->uri->object : NULL;
}

void mpc_token_describe(struct mpc_token *t, struct mpc_token_desc *d)
{
	mpc_token_lock(t);
	*d = t->desc;
	mpc_token_unlock(t);
}
