/* keys.h: the token objects mpc-backup owns, the key ceremony that creates them, and lookups.
 *
 * Fixed labels and CKA_IDs (documented in docs/operations.md), so a second ceremony finds the
 * keys and never makes duplicates:
 *   mpc-backup-seal-gcm    CKA_ID 01  AES-256 secret key, CKA_ENCRYPT/CKA_DECRYPT only
 *   mpc-backup-seal-cbc    CKA_ID 02  AES-256 secret key, CKA_ENCRYPT/CKA_DECRYPT only
 *   mpc-backup-seal-hmac   CKA_ID 03  256-bit generic secret (CKK_SHA256_HMAC on a YubiHSM 2),
 *                                     CKA_SIGN/CKA_VERIFY only
 *   mpc-backup-tls         CKA_ID 10  Ed25519 key pair (private: CKA_SIGN only)
 *   mpc-backup-transport   CKA_ID 20  imported AES-256 node transport key (optional)
 * Every secret and private key is CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE, CKA_EXTRACTABLE=false.
 * The GCM key is made when the token offers CKM_AES_GCM; the CBC and HMAC keys when it offers
 * CKM_AES_CBC_PAD and CKM_SHA256_HMAC. Nothing is ever overwritten or deleted.
 * Templates and lookups follow the token's vendor rules (vendor.h): on Google kmsp11 a key is
 * made from its label and CKA_KMS_ALGORITHM alone and found by label (its CKA_ID is the key
 * version's name).
 */
#ifndef MPC_PKCS11_KEYS_H
#define MPC_PKCS11_KEYS_H

#include <stdint.h>

#include "pkcs11/token.h"

enum mpc_key_role {
	MPC_KEY_SEAL_GCM = 0,
	MPC_KEY_SEAL_CBC,
	MPC_KEY_SEAL_HMAC,
	MPC_KEY_TLS_PRIVATE,
	MPC_KEY_TLS_PUBLIC,
	MPC_KEY_TRANSPORT,
	MPC_KEY_ROLE_COUNT
};

enum mpc_key_kind {
	MPC_KEY_KIND_SECRET = 0,
	MPC_KEY_KIND_PRIVATE,
	MPC_KEY_KIND_PUBLIC,
};

struct mpc_key_desc {
	enum mpc_key_role role;
	const char *label;
	uint8_t id;
	enum mpc_key_kind kind;
};

/* The fixed description of a role, or NULL for a role out of range. */
const struct mpc_key_desc *mpc_key_desc(enum mpc_key_role role);
/* Static "secret", "private" or "public". */
const char *mpc_key_kind_name(enum mpc_key_kind kind);

/* Whether the object for `role` is in the token (found by label and CKA_ID; for the TLS key
 * the URI's object= may name another label): *present = 1 or 0. More than one match is
 * MPC_ERR_STATE. Takes the token's lock. */
int mpc_key_present(struct mpc_token *t, enum mpc_key_role role, int *present, struct mpc_err *e);

struct mpc_ceremony_report {
	int created[MPC_KEY_ROLE_COUNT]; /* 1: made by this run */
	int present[MPC_KEY_ROLE_COUNT]; /* 1: there after this run */
};

#define MPC_CEREMONY_SEAL 1 /* the sealing keys */
#define MPC_CEREMONY_TLS  2 /* the Ed25519 TLS key pair */

/* Create whatever of the keys named by `what` is missing (idempotent). A TLS key pair with
 * only one half present is MPC_ERR_STATE: the operator must look. The report also says which
 * of all the roles are present. Takes the token's lock. */
int mpc_key_ceremony(struct mpc_token *t, int what, struct mpc_ceremony_report *rep,
		     struct mpc_err *e);

/* Import the node's 32-byte transport key as a non-extractable AES key; MPC_ERR_EXISTS if one
 * is already there (never overwritten). The caller wipes `key`. Takes the token's lock. */
int mpc_key_import_transport(struct mpc_token *t, const uint8_t key[32], struct mpc_err *e);

/* Security attributes of an object, for `token show`: 1 true, 0 false, -1 where the attribute
 * does not apply to the object's class. */
struct mpc_key_attrs {
	int token, private_, sensitive, extractable, always_sensitive, never_extractable;
	int encrypt, decrypt, sign, verify, wrap, unwrap, derive;
	unsigned long value_len;
};

/* Find the object for `role` and read its security attributes into *a. MPC_ERR_OBJECT_NOT_FOUND
 * if it is absent, MPC_ERR_STATE if more than one object matches. Takes the token's lock. */
int mpc_key_attrs(struct mpc_token *t, enum mpc_key_role role, struct mpc_key_attrs *a,
		  struct mpc_err *e);

#endif
