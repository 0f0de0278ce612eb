/* token_public.c: opening a token without a PIN, for what needs only its public objects. */
#include "pkcs11/token.h"

#include <stdlib.h>

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
		/* the public session goes; recovery opens the read-write one and logs in */
		t->pin.no_login = 0;
		rc = mpc_token_recover(t, e);
	}
	mpc_token_unlock(t);
	return rc;
}

int mpc_token_tls_public_key(struct mpc_token *t, uint8_t pub[32], int *logged_in,
			     struct mpc_err *e)
{
	struct mpc_err first = { 0 };
	int rc;

	if (logged_in != NULL)
		*logged_in = 0;
	rc = mpc_ed25519_public_key(t, pub, &first);
	if (rc != MPC_ERR_OBJECT_NOT_FOUND || !mpc_token_needs_login(t)) {
		if (rc != MPC_OK && e != NULL)
			*e = first;
		return rc;
	}
	/* Invisible without a login: a private object on this token, or absent. The PIN says. */
	rc = mpc_token_login(t, e);
	if (rc == MPC_ERR_PIN) {
		mpc_err_prefix(e,
			       "the TLS public key of token \"%s\" cannot be read without logging "
			       "in (this token keeps it as a private object, or it is absent), "
			       "and the login failed: ",
			       MPC_TOKEN_LABEL(t));
		return rc;
	}
	if (rc == MPC_OK)
		rc = mpc_ed25519_public_key(t, pub, e);
	if (rc == MPC_OK && logged_in != NULL)
		*logged_in = 1;
	return rc;
}
