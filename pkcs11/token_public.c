/* token_public.c: opening a token without a PIN, for what needs only its public objects, and
 * the TLS public key: proven to pair with the private key when a PIN is given. */
#include "pkcs11/token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkcs11/ed25519.h"
#include "pkcs11/internal.h"

int mpc_token_open_public(struct mpc_p11_ctx *ctx, const char *uri, const struct mpc_pin_opts *pin,
			  struct mpc_token **out, struct mpc_err *e)
{
	struct mpc_pin_opts p = { 0 };

	if (pin != NULL)
		p = *pin;
	p.no_login = 1; /* token.c's open_session: read-only session, no C_Login */
	return mpc_token_open(ctx, uri, &p, out, e);
}

int mpc_token_pin_configured(struct mpc_token *t)
{
	const char *env;
	int yes;

	mpc_token_lock(t);
	env = t->pin.pin_env != NULL ? t->pin.pin_env : MPC_DEFAULT_PIN_ENV;
	yes = t->pin.pin_file != NULL || (t->uri != NULL && t->uri->pin_file != NULL) ||
	      getenv(env) != NULL;
	mpc_token_unlock(t);
	return yes;
}

int mpc_token_needs_login(struct mpc_token *t)
{
	int yes;

	mpc_token_lock(t);
	yes = t->pin.no_login && !t->logged_in && (t->info.flags & CKF_LOGIN_REQUIRED) != 0;
	mpc_token_unlock(t);
	return yes;
}

int mpc_token_login(struct mpc_token *t, struct mpc_err *e)
{
	int rc = MPC_OK;

	mpc_token_lock(t);
	if (t->pin.no_login) {
		/* the public session goes; recovery opens the read-write one and logs in (after
		 * finding the token again if its module was re-initialised meanwhile: the old
		 * session's number may be another's now) */
		t->pin.no_login = 0;
		rc = mpc_token_stale(t) ? mpc_token_refind(t, e) : mpc_token_recover(t, e);
	}
	mpc_token_unlock(t);
	return rc;
}

#define TLS_OBJECTS_MAX 8

/* The TLS key objects of one class the session sees, found by label alone (a planted object
 * need not copy the CKA_ID). */
struct tls_objects {
	CK_OBJECT_CLASS cls;
	CK_OBJECT_HANDLE h[TLS_OBJECTS_MAX];
	CK_ULONG n;
	char ids[160]; /* their CKA_IDs, comma-separated, for messages */
};

struct tls_find {
	struct tls_objects pub, priv;
	int want_private;
	uint8_t point[32]; /* the public key, when there is exactly one public object */
};

static const char *tls_label(struct mpc_token *t)
{
	const char *obj = mpc_token_uri_object(t);

	return obj != NULL ? obj : mpc_key_desc(MPC_KEY_TLS_PUBLIC)->label;
}

static int find_class(struct mpc_token *t, struct tls_objects *o, struct mpc_err *e)
{
	const char *label = tls_label(t);
	CK_ATTRIBUTE tmpl[2] = {
		{ CKA_CLASS, &o->cls, sizeof(o->cls) },
		{ CKA_LABEL, (void *)label, strlen(label) },
	};
	size_t used = 0;
	CK_RV rv;

	o->n = 0;
	o->ids[0] = '\0';
	rv = t->fn->C_FindObjectsInit(t->session, tmpl, 2);
	if (rv != CKR_OK)
		return mpc_fail_ck(e, rv, "C_FindObjectsInit", label);
	rv = t->fn->C_FindObjects(t->session, o->h, TLS_OBJECTS_MAX, &o->n);
	(void)t->fn->C_FindObjectsFinal(t->session);
	if (rv != CKR_OK)
		return mpc_fail_ck(e, rv, "C_FindObjects", label);
	for (CK_ULONG i = 0; i < o->n && used + 40 < sizeof(o->ids); i++) {
		char id[40];

		mpc_key_object_id(t, o->h[i], id, sizeof(id));
		used += (size_t)snprintf(o->ids + used, sizeof(o->ids) - used, "%s%s",
					 i > 0 ? ", " : "", id);
	}
	return MPC_OK;
}

static int too_many(struct mpc_token *t, const struct tls_objects *o, const char *kind,
		    struct mpc_err *e)
{
	return mpc_fail(e, MPC_ERR_STATE,
			"token \"%s\" has %s%lu %s key objects labelled \"%s\" (CKA_ID %s): "
			"refusing to guess which is the TLS key (any session, without a PIN, can "
			"create a public object on many tokens: remove the ones that are not "
			"mpc-backup's with the token's own tools)",
			MPC_TOKEN_LABEL(t), o->n == TLS_OBJECTS_MAX ? "at least " : "",
			(unsigned long)o->n, kind, tls_label(t), o->ids);
}

static int tls_find_op(struct mpc_token *t, void *arg, struct mpc_err *e)
{
	struct tls_find *f = arg;
	int rc;

	f->pub.cls = CKO_PUBLIC_KEY;
	f->priv.cls = CKO_PRIVATE_KEY;
	rc = find_class(t, &f->pub, e);
	if (rc == MPC_OK && f->want_private)
		rc = find_class(t, &f->priv, e);
	if (rc != MPC_OK)
		return rc;
	if (f->pub.n > 1)
		return too_many(t, &f->pub, "public", e);
	if (f->want_private && f->priv.n > 1)
		return too_many(t, &f->priv, "private", e);
	if (f->want_private && (f->pub.n == 0 || f->priv.n == 0))
		return mpc_fail(e, MPC_ERR_OBJECT_NOT_FOUND,
				"token \"%s\" has no %s key \"%s\" (run `mpc-backup token init`)",
				MPC_TOKEN_LABEL(t), f->pub.n == 0 ? "public" : "private",
				tls_label(t));
	if (f->pub.n == 0) {
		/* without a login: a private object, or absent; or the token went away, which
		 * finds nothing too (presence.c tells the two apart) */
		struct mpc_err nf = { 0 };

		if (mpc_token_classify(t, MPC_ERR_OBJECT_NOT_FOUND, &nf) ==
		    MPC_ERR_TOKEN_UNAVAILABLE) {
			if (e != NULL)
				*e = nf;
			return MPC_ERR_TOKEN_UNAVAILABLE;
		}
		return MPC_OK;
	}
	return mpc_ed25519_read_point(t, f->pub.h[0], tls_label(t), f->point, e);
}

/* Can this session use the private key (logged in, or a token that needs no login)? */
static int sees_private(struct mpc_token *t)
{
	int yes;

	mpc_token_lock(t);
	yes = !t->pin.no_login || t->logged_in || (t->info.flags & CKF_LOGIN_REQUIRED) == 0;
	mpc_token_unlock(t);
	return yes;
}

int mpc_token_tls_key(struct mpc_token *t, uint8_t pub[32], struct mpc_tls_key_check *chk,
		      struct mpc_err *e)
{
	struct tls_find f;
	struct mpc_tls_key_check c = { 0 };
	int rc;

	memset(&f, 0, sizeof(f));
	if (mpc_token_pin_configured(t) || sees_private(t)) {
		/* A PIN is given (or the private key is usable without one): log in, and
		 * return a key only once the token proves it holds the private half. */
		rc = mpc_token_login(t, e);
		if (rc != MPC_OK)
			return rc;
		f.want_private = 1;
		rc = mpc_token_call(t, tls_find_op, &f, e);
		if (rc != MPC_OK)
			return rc;
		rc = mpc_ed25519_verify_pair(t, f.point, e);
		if (rc == MPC_ERR_AUTH)
			mpc_err_prefix(e,
				       "token \"%s\": refusing the TLS public key (CKA_ID %s), it "
				       "does not pair with the private key (CKA_ID %s): ",
				       MPC_TOKEN_LABEL(t), f.pub.ids, f.priv.ids);
		else if (rc != MPC_OK)
			mpc_err_prefix(e,
				       "token \"%s\": the TLS public key cannot be checked against "
				       "the private key: ",
				       MPC_TOKEN_LABEL(t));
		if (rc != MPC_OK)
			return rc;
		c.verified = 1;
		mpc_token_lock(t);
		c.logged_in = t->logged_in;
		mpc_token_unlock(t);
	} else {
		/* No PIN: only the public objects are visible, and anyone may have made one. */
		rc = mpc_token_call(t, tls_find_op, &f, e);
		if (rc != MPC_OK)
			return rc;
		if (f.pub.n == 0) {
			/* Invisible without a login: a private object, or absent. The PIN says
			 * (none is configured: this fails unless the token needs none after all). */
			rc = mpc_token_login(t, e);
			if (rc == MPC_OK)
				return mpc_token_tls_key(t, pub, chk, e);
			mpc_err_prefix(
				e,
				"the TLS public key of token \"%s\" cannot be read without "
				"logging in (this token keeps it as a private object, or it is "
				"absent), and the login failed: ",
				MPC_TOKEN_LABEL(t));
			return rc;
		}
	}
	memcpy(pub, f.point, 32);
	if (chk != NULL)
		*chk = c;
	return MPC_OK;
}

int mpc_token_tls_public_key(struct mpc_token *t, uint8_t pub[32], int *logged_in,
			     struct mpc_err *e)
{
	struct mpc_tls_key_check c;
	int rc = mpc_token_tls_key(t, pub, &c, e);

	if (logged_in != NULL)
		*logged_in = rc == MPC_OK && c.logged_in;
	return rc;
}
