/* token.c: finding a token by URI, its session, login, lock and recovery. */
#include "pkcs11/token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkcs11/internal.h"
#include "pkcs11/vendor.h"
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

int mpc_token_open_session(struct mpc_token *t, struct mpc_err *e)
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
	rc = mpc_token_open_session(t, e);
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

int mpc_token_has_mechanism(struct mpc_token *t, CK_MECHANISM_TYPE mech, CK_FLAGS flags)
{
	return mpc_p11_slot_has_mechanism(t->fn, t->slot, mech, flags);
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

struct mpc_p11_module *mpc_token_module_of(const struct mpc_token *t)
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
	const struct mpc_p11_module *m = mpc_token_module_of(t);

	return m != NULL ? m->generation : 0;
}

int mpc_token_stale(const struct mpc_token *t)
{
	const struct mpc_p11_module *m = mpc_token_module_of(t);

	return m != NULL && m->generation != t->generation;
}

enum mpc_token_kind mpc_token_kind_of(struct mpc_token *t, int *overridden)
{
	enum mpc_token_kind k;

	mpc_token_lock(t);
	k = (enum mpc_token_kind)mpc_vendor_rules(t)->kind;
	if (overridden != NULL)
		*overridden = t->kind_overridden;
	mpc_token_unlock(t);
	return k;
}

int mpc_token_set_profile(struct mpc_token *t, const char *profile, struct mpc_err *e)
{
	enum mpc_token_kind k = MPC_TOKEN_KIND_GENERIC; /* not set by "auto" */
	int is_auto = 0;
	int rc = mpc_token_profile_parse(profile, &is_auto, &k, e);

	if (rc != MPC_OK)
		return mpc_err_prefix(e, "token \"%s\": ", MPC_TOKEN_LABEL(t));
	mpc_token_lock(t);
	t->kind = is_auto ? t->detected_kind : (int)k;
	t->kind_overridden = !is_auto;
	memset(t->key_cache, 0, sizeof(t->key_cache));
	mpc_token_unlock(t);
	return MPC_OK;
}
