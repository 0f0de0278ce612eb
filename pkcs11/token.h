/* token.h: one open PKCS#11 token: module, slot, a logged-in session, and the lock that
 * serialises its use.
 *
 * A token is named by an RFC 7512 PKCS#11 URI ("pkcs11:token=mpc-backup", optionally with
 * module-path=, module-name=, pin-source=, object=, id=, type=). Modules are loaded once per
 * process through struct mpc_p11_ctx and initialised with CKF_OS_LOCKING_OK.
 *
 * PINs come, in this order, from --pin-file (struct mpc_pin_opts.pin_file), the URI's
 * pin-source=file:..., or the environment variable named by pin_env (default MPC_BACKUP_PIN).
 * A pin-value= in the URI is refused: it would put the PIN on a command line. The PIN is read
 * into locked memory and wiped right after C_Login; a re-login after a lost session reads the
 * source again. CKR_PIN_INCORRECT is reported once and never retried. A token whose flags say
 * the user PIN is locked is refused before login; one whose flags say the next wrong PIN locks
 * it is refused unless allow_final_try is set.
 *
 * Concurrency: one session per open token, used under the token's mutex (mpc_token_lock /
 * mpc_token_unlock around every Cryptoki call sequence). A call that fails with
 * CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED, CKR_USER_NOT_LOGGED_IN or CKR_DEVICE_REMOVED
 * may call mpc_token_recover() once, which re-opens the session and logs in again.
 */
#ifndef MPC_PKCS11_TOKEN_H
#define MPC_PKCS11_TOKEN_H

#include <pthread.h>
#include <stddef.h>

#include <p11-kit/pkcs11.h>

#include "src/util/err.h"

struct mpc_p11_ctx;  /* loaded modules; see module.h */
struct mpc_token_uri; /* parsed URI; see uri.h */

#define MPC_DEFAULT_TOKEN_URI "pkcs11:token=mpc-backup"
#define MPC_DEFAULT_PIN_ENV "MPC_BACKUP_PIN"

struct mpc_pin_opts {
	const char *pin_file; /* --pin-file, or NULL */
	const char *pin_env;  /* environment variable name, NULL for MPC_DEFAULT_PIN_ENV */
	int allow_final_try;  /* log in even when CKF_USER_PIN_FINAL_TRY is set */
};

struct mpc_token {
	struct mpc_p11_ctx *ctx;          /* borrowed */
	CK_FUNCTION_LIST *fn;             /* borrowed from ctx */
	const char *module_path;          /* borrowed from ctx */
	CK_SLOT_ID slot;
	CK_TOKEN_INFO info;
	char label[33];                   /* token label, trailing blanks trimmed */
	char serial[17];                  /* token serial, trailing blanks trimmed */
	CK_SESSION_HANDLE session;        /* CK_INVALID_HANDLE when closed */
	struct mpc_token_uri *uri;        /* owned */
	struct mpc_pin_opts pin;          /* strings borrowed from the caller */
	int logged_in;
	CK_OBJECT_HANDLE key_cache[8];    /* by enum mpc_key_role; 0 = not looked up; cleared by
					   * mpc_token_recover() */
	unsigned char rng_pool[512];      /* token RNG output not yet used for IVs (IVs are
					   * public: this holds no secret) */
	size_t rng_left;                  /* unused bytes at the end of rng_pool */
	pthread_mutex_t lock;
};

/* Open the first token that matches `uri` (NULL: MPC_DEFAULT_TOKEN_URI), open a read-write
 * session and log in as the user. On success *out owns the token; free with mpc_token_close.
 * Errors: MPC_ERR_PARSE (URI), MPC_ERR_MODULE, MPC_ERR_TOKEN_NOT_FOUND (message lists the
 * tokens that were seen), MPC_ERR_PIN, MPC_ERR_PKCS11. */
int mpc_token_open(struct mpc_p11_ctx *ctx, const char *uri, const struct mpc_pin_opts *pin,
		   struct mpc_token **out, struct mpc_err *e) __attribute__((warn_unused_result));

/* Log out, close the session and free. The module stays loaded in ctx. Accepts NULL. */
void mpc_token_close(struct mpc_token *t);

void mpc_token_lock(struct mpc_token *t);
void mpc_token_unlock(struct mpc_token *t);

/* 1 if rv means the session or login was lost and mpc_token_recover() may help. */
int mpc_token_rv_is_lost_session(CK_RV rv);
/* Re-open the session and log in again (reading the PIN source again). Call with the lock
 * held. */
int mpc_token_recover(struct mpc_token *t, struct mpc_err *e);

/* With the lock held: make sure there is a logged-in session (after a failed recovery there is
 * none until this succeeds). */
int mpc_token_ready(struct mpc_token *t, struct mpc_err *e);

/* Run op(t, arg, e) under the token's lock. If it fails because the session or login was lost
 * (its error's ckr says so), re-open the session, log in again and run it once more. op must
 * be safe to repeat (start every Cryptoki operation afresh). */
int mpc_token_call(struct mpc_token *t, int (*op)(struct mpc_token *t, void *arg, struct mpc_err *e),
		   void *arg, struct mpc_err *e);

/* 1 if the token's slot lists `mech` (C_GetMechanismList) with all of `flags` (CKF_ENCRYPT,
 * CKF_SIGN, ...) in its C_GetMechanismInfo. */
int mpc_token_has_mechanism(struct mpc_token *t, CK_MECHANISM_TYPE mech, CK_FLAGS flags);
int mpc_p11_slot_has_mechanism(CK_FUNCTION_LIST *fn, CK_SLOT_ID slot, CK_MECHANISM_TYPE mech,
				CK_FLAGS flags);

/* Fill `buf` with n random bytes from the token's RNG. */
int mpc_token_random(struct mpc_token *t, unsigned char *buf, size_t n, struct mpc_err *e);

/* The URI's object= and id= selectors, if any (for naming a key explicitly). NULL/0 if absent. */
const char *mpc_token_uri_object(const struct mpc_token *t);

#endif
