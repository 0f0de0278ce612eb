/* check.h: the token checks of `mpc-backup doctor` that need Cryptoki: which modules a URI
 * loads, which tokens it matches (with their PIN flags, read without logging in), the
 * mechanisms a token offers, a key's presence and security attributes (CKA_LOCAL included),
 * and seal/unseal and sign/verify self-tests that write nothing anywhere.
 *
 * Every function reports; none changes the token. Errors as in token.h (MPC_ERR_PARSE for a
 * URI, MPC_ERR_MODULE, MPC_ERR_PKCS11, MPC_ERR_STATE for two objects with one key's label).
 */
#ifndef MPC_PKCS11_CHECK_H
#define MPC_PKCS11_CHECK_H

#include <stddef.h>

#include "pkcs11/keys.h"
#include "pkcs11/module.h"
#include "pkcs11/seal.h"
#include "pkcs11/token.h"

/* Load the module(s) `uri` selects (its module-path= or module-name=, else every module
 * p11-kit has registered) into ctx and write their file paths, comma-separated, to
 * loaded[cap] (on success only). MPC_ERR_MODULE when none loads. */
int mpc_check_modules(struct mpc_p11_ctx *ctx, const char *uri, char *loaded, size_t cap,
		      struct mpc_err *e);

/* The token a URI selects, as its slot reports it: no session, no login. */
struct mpc_check_token {
	char module[256];
	unsigned long slot;
	char label[33], serial[17], manufacturer[33], model[17];
	int initialized;          /* CKF_TOKEN_INITIALIZED */
	int login_required;       /* CKF_LOGIN_REQUIRED */
	int user_pin_initialized; /* CKF_USER_PIN_INITIALIZED */
	int pin_count_low;        /* CKF_USER_PIN_COUNT_LOW: a wrong PIN since the last login */
	int pin_final_try;        /* CKF_USER_PIN_FINAL_TRY: one more wrong PIN locks it */
	int pin_locked;           /* CKF_USER_PIN_LOCKED */
	int pin_to_be_changed;    /* CKF_USER_PIN_TO_BE_CHANGED */
};

/* The one token `uri` selects, found as mpc_token_open() finds it (RFC 7512 token, slot and
 * library attributes), with its flags read before any session or login. Errors as
 * mpc_token_open's search: MPC_ERR_PARSE, MPC_ERR_MODULE, MPC_ERR_TOKEN_NOT_FOUND (the message
 * lists the tokens seen), MPC_ERR_USAGE when more than one token matches (the message lists
 * each match's URI). *out is set on success only. */
int mpc_check_token_find(struct mpc_p11_ctx *ctx, const char *uri, struct mpc_check_token *out,
			 struct mpc_err *e);

/* What an open token's slot offers of what mpc-backup uses. */
struct mpc_check_mechs {
	int aes_gcm;     /* CKM_AES_GCM encrypt+decrypt */
	int aes_cbc_pad; /* CKM_AES_CBC_PAD encrypt+decrypt */
	int hmac;        /* CKM_SHA256_HMAC sign+verify */
	int eddsa;       /* CKM_EDDSA sign */
	int eddsa_gen;   /* CKM_EC_EDWARDS_KEY_PAIR_GEN (only the key ceremony needs it) */
};
void mpc_check_mechanisms(struct mpc_token *t, struct mpc_check_mechs *m);

/* A key of mpc-backup's, found as the token layer finds it (label and CKA_ID; the URI's object=
 * for the TLS key). */
struct mpc_check_key {
	int present;
	struct mpc_key_attrs attrs; /* when present */
	int local;                  /* CKA_LOCAL: 1 made in the token, 0 imported, -1 unknown */
};
/* Absent is not an error (present = 0); two matching objects are MPC_ERR_STATE. Takes the
 * token's lock. */
int mpc_check_key(struct mpc_token *t, enum mpc_key_role role, struct mpc_check_key *out,
		  struct mpc_err *e);
/* 1 if a present key's attributes are safe for its role: a secret or private key CKA_TOKEN,
 * CKA_SENSITIVE and not CKA_EXTRACTABLE; a public key CKA_TOKEN. Else 0 and why[cap] names
 * each unsafe attribute ("CKA_EXTRACTABLE true"). */
int mpc_check_key_safe(enum mpc_key_role role, const struct mpc_check_key *k, char *why,
		       size_t cap);

/* Seal random bytes with `mech` (not MPC_SEAL_AUTO), open them again and compare, then check
 * that a blob with one bit flipped is refused; the bytes are wiped. MPC_ERR_AUTH when the round
 * trip or the tamper check fails; the sealing errors otherwise. */
int mpc_check_seal_selftest(struct mpc_token *t, enum mpc_seal_mech mech, struct mpc_err *e);

/* Sign random bytes with the TLS key in the token and verify the signature in software with
 * the token's public key. MPC_ERR_AUTH when the signature does not verify. */
int mpc_check_sign_selftest(struct mpc_token *t, struct mpc_err *e);

#endif
