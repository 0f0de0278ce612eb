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
 * Concurrency: one session per open token, used under the token's mutex. Every function of the
 * token layer that takes a struct mpc_token takes that lock itself; callers never lock. A call
 * that finds the session or login lost (session closed, user logged out, device removed)
 * re-opens the session and logs in again once.
 *
 * struct mpc_token is opaque: its Cryptoki state (function list, slot, session, handles) is
 * reached only through pkcs11/internal.h, inside the token layer.
 */
#ifndef MPC_PKCS11_TOKEN_H
#define MPC_PKCS11_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "src/util/err.h"

struct mpc_p11_ctx; /* loaded modules; see module.h */
struct mpc_token;   /* an open token; opaque */

#define MPC_DEFAULT_TOKEN_URI "pkcs11:token=mpc-backup"
#define MPC_DEFAULT_PIN_ENV   "MPC_BACKUP_PIN"

struct mpc_pin_opts {
	const char *pin_file; /* --pin-file, or NULL */
	const char *pin_env;  /* environment variable name, NULL for MPC_DEFAULT_PIN_ENV */
	int allow_final_try;  /* log in even when CKF_USER_PIN_FINAL_TRY is set */
	int no_login;         /* set by mpc_token_open_public() only: read-only session, no
			       * C_Login, no PIN read, until mpc_token_login() */
};

/* Open the one token that matches `uri` (NULL: MPC_DEFAULT_TOKEN_URI; every library-*, slot-*
 * and token attribute filters), open a read-write session and log in as the user. On success
 * *out owns the token; free with mpc_token_close.
 * Errors: MPC_ERR_PARSE (URI, naming an unknown attribute), MPC_ERR_MODULE,
 * MPC_ERR_TOKEN_NOT_FOUND (message lists the tokens that were seen), MPC_ERR_USAGE (more than
 * one token matches: the message lists each one's URI), MPC_ERR_PIN, MPC_ERR_PKCS11. */
int mpc_token_open(struct mpc_p11_ctx *ctx, const char *uri, const struct mpc_pin_opts *pin,
		   struct mpc_token **out, struct mpc_err *e) __attribute__((warn_unused_result));

/* Log out, close the session and free. The module stays loaded in ctx. Accepts NULL. */
void mpc_token_close(struct mpc_token *t);

/* What identifies an open token: its CK_TOKEN_INFO strings with trailing blanks trimmed, and
 * the module it was found in. */
struct mpc_token_desc {
	char label[33];
	char serial[17];
	char manufacturer[33];
	char model[17];
	char module[256]; /* the module's file path (truncated if longer) */
};

/* Copy the token's description into *d. Takes the token's lock. */
void mpc_token_describe(struct mpc_token *t, struct mpc_token_desc *d);

/* A token that goes away and comes back (pkcs11/presence.c, session.c, recover.c).
 *
 * Any call that fails because the token is absent, its device failed or its module lost it
 * (SoftHSM2 with its token directory moved away) fails with MPC_ERR_TOKEN_UNAVAILABLE and a
 * message "token "LABEL" (module PATH) is unavailable (...)": never as a failed authentication
 * of sealed data, a missing key, or a peer's fault. It stays so until mpc_token_reinit() finds
 * the token again; a module keeps no memory of a token that came back on its own. */

/* Takes the lock itself: does the token answer as itself (C_GetTokenInfo on its slot gives the
 * same label and serial, its module is initialised)? MPC_OK, or MPC_ERR_TOKEN_UNAVAILABLE
 * saying why. A cheap probe: no session is used or opened. */
int mpc_token_check(struct mpc_token *t, struct mpc_err *e);

/* Bring back the n tokens (duplicates allowed), all open in the same context: takes the lock
 * of each, re-initialises (C_Finalize, C_Initialize) each module of which a token does not
 * answer, finds each such token again in its module by its URI (every library-*, slot-* and
 * token attribute filters; two matches are refused) and checks it has the identity it had when
 * opened (label, serial, manufacturer, model), opens a session and logs in again (reading the
 * PIN source again).
 * Session and key handles of the module's previous life are forgotten, never reused. A token
 * opened on a re-initialised module but not in the list finds itself again at its next use;
 * the caller makes sure no other thread uses such a token meanwhile. MPC_OK when every token
 * is ready; MPC_ERR_TOKEN_UNAVAILABLE while one is still away (call again later, with
 * backoff); MPC_ERR_PIN when the PIN is refused (never retried here). */
int mpc_token_reinit(struct mpc_token *const *tokens, size_t n, struct mpc_err *e);

/* ---- without a PIN (token_public.c) ----
 * `register` and `token show` need only the TLS public key, which mpc-backup creates as a public
 * object (CKA_PRIVATE false) that a session without C_Login can read. These open the token that
 * way, so no PIN is read (and no PIN try is spent) where none is given; a key read so is not
 * checked against the private key (mpc_token_tls_key). */

/* Find the token as mpc_token_open does, but open a read-only session and do not log in: no PIN
 * source is read. `pin` (may be NULL) is kept for a later mpc_token_login(). Only public
 * objects are visible until then: the key lookups report private and secret keys as absent.
 * Errors: as mpc_token_open, except MPC_ERR_PIN. */
int mpc_token_open_public(struct mpc_p11_ctx *ctx, const char *uri, const struct mpc_pin_opts *pin,
			  struct mpc_token **out, struct mpc_err *e)
	__attribute__((warn_unused_result));

/* 1 if a PIN source is configured for `t` (--pin-file, the URI's pin-source=, or the PIN
 * environment variable is set), without reading it. */
int mpc_token_pin_configured(struct mpc_token *t);

/* 1 if `t` was opened by mpc_token_open_public, is still not logged in, and the token says its
 * private objects need a login (CKF_LOGIN_REQUIRED). */
int mpc_token_needs_login(struct mpc_token *t);

/* Turn a token opened by mpc_token_open_public into one opened by mpc_token_open: a read-write
 * session, logged in with the PIN from its sources. Nothing to do on a logged-in token. Errors:
 * MPC_ERR_PIN, MPC_ERR_PKCS11, MPC_ERR_TOKEN_UNAVAILABLE. Takes the token's lock. */
int mpc_token_login(struct mpc_token *t, struct mpc_err *e) __attribute__((warn_unused_result));

/* What mpc_token_tls_key found out about the key it returned. */
struct mpc_tls_key_check {
	int logged_in; /* 1: the token was logged in (a PIN was read) */
	int verified;  /* 1: proven the public half of the token's TLS private key (a random
			* challenge signed in the token verifies with it); 0: not checked, because
			* no PIN was given and the private key cannot be used without one */
};

/* The TLS public key of `t` (32 raw bytes), found by its label (the URI's object=, else
 * "mpc-backup-tls") among the objects of its class, whatever their CKA_ID: a session without
 * C_Login can create a public object with that label on many tokens, so a key is never taken
 * on its label alone where the token can say more.
 * - A PIN source is configured (mpc_token_pin_configured), or the session can use private
 *   objects (a logged-in token, one that needs no login): the token is logged in
 *   (mpc_token_login), exactly one public and one private TLS key object must be there, and
 *   the public one must verify a signature the private one made over a random challenge
 *   (mpc_ed25519_verify_pair). chk->verified = 1.
 * - No PIN: exactly one public TLS key object must be visible; it is returned unverified
 *   (chk->verified = 0: the caller says so). None visible (the token keeps it as a private
 *   object, or it is absent): MPC_ERR_PIN saying the key cannot be read without logging in.
 * Errors: MPC_ERR_STATE (more than one public, or private, TLS key object: the message gives
 * the count and their CKA_IDs), MPC_ERR_AUTH (the two objects are not one key pair),
 * MPC_ERR_OBJECT_NOT_FOUND (no TLS key: `token init`), MPC_ERR_PIN, MPC_ERR_PKCS11,
 * MPC_ERR_TOKEN_UNAVAILABLE. pub and *chk (chk may be NULL) are set on success only. */
int mpc_token_tls_key(struct mpc_token *t, uint8_t pub[32], struct mpc_tls_key_check *chk,
		      struct mpc_err *e) __attribute__((warn_unused_result));

/* mpc_token_tls_key, with *logged_in (may be NULL) set to chk.logged_in (0 on failure). */
int mpc_token_tls_public_key(struct mpc_token *t, uint8_t pub[32], int *logged_in,
			     struct mpc_err *e);

#endif
