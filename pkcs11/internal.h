/* internal.h: the token layer's inside: Cryptoki types, the loaded function lists, the
 * definitions of struct mpc_p11_ctx and struct mpc_token, parsed URIs, key handles, and the
 * CK_RV-to-error mapping.
 *
 * Only the token layer's own sources (pkcs11/), and the tests and benchmarks that must call
 * Cryptoki directly (tests/pkcs11, bench/pkcs11, tests/fuzz/fuzz_pkcs11_uri.c), include this
 * header. (tests/vendor speaks Cryptoki to its own stand-in modules, not through this header.) Every other layer sees the token through the public headers (token.h, keys.h,
 * seal.h, ed25519.h, transport.h, inventory.h, provider.h, uri.h), which name no PKCS#11 type;
 * tests/pkcs11/closed_token_layer.sh checks that.
 *
 * Locking: everything here that takes a struct mpc_token expects the caller to hold the
 * token's lock (mpc_token_lock) unless it says it takes the lock itself.
 */
#ifndef MPC_PKCS11_INTERNAL_H
#define MPC_PKCS11_INTERNAL_H

#include <pthread.h>
#include <stddef.h>

#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>

#include "pkcs11/keys.h"
#include "pkcs11/module.h"
#include "pkcs11/token.h"
#include "src/util/err.h"

/* ---- modules (module.c) ---- */

struct mpc_p11_module {
	char *path;           /* owned: the file loaded */
	char *name;           /* owned: p11-kit registered name, or NULL */
	CK_FUNCTION_LIST *fn; /* p11-kit owns the function list */
	char *reserved;       /* owned: the x-init-reserved string C_Initialize took, or NULL */
	unsigned generation;  /* bumped by each re-initialisation (recover.c): session and
			       * object handles from an earlier generation are dead */
	int down;             /* its last C_Initialize failed: not initialised */
};

#define MPC_P11_MAX_MODULES 16

struct mpc_p11_ctx {
	struct mpc_p11_module mod[MPC_P11_MAX_MODULES];
	int n;
};

/* Load (once) the module at `path`. *out is borrowed from ctx. */
int mpc_p11_load_path(struct mpc_p11_ctx *ctx, const char *path, struct mpc_p11_module **out,
		      struct mpc_err *e);
/* Load (once) the module p11-kit registered as `name`. */
int mpc_p11_load_name(struct mpc_p11_ctx *ctx, const char *name, struct mpc_p11_module **out,
		      struct mpc_err *e);
/* Load every module p11-kit has registered (for URIs that name no module). Returns how many
 * are loaded in ctx in *n. Modules that fail to load are skipped. */
int mpc_p11_load_registered(struct mpc_p11_ctx *ctx, int *n, struct mpc_err *e);

struct mpc_token_uri;

/* The modules a URI selects: the one its module-path= or module-name= names, or (u == NULL, or
 * a URI naming none) every module p11-kit has registered. On success the selected modules are
 * ctx->mod[*first .. *end-1]; the range is empty when nothing is registered. */
int mpc_p11_modules_for_uri(struct mpc_p11_ctx *ctx, const struct mpc_token_uri *u, int *first,
			    int *end, struct mpc_err *e);

/* 1 if the slot lists `mech` (C_GetMechanismList) with all of `flags` (CKF_ENCRYPT, CKF_SIGN,
 * ...) in its C_GetMechanismInfo. */
int mpc_p11_slot_has_mechanism(CK_FUNCTION_LIST *fn, CK_SLOT_ID slot, CK_MECHANISM_TYPE mech,
			       CK_FLAGS flags);

/* Copy a blank-padded CK_UTF8CHAR field of n bytes into dst[n + 1], trailing blanks trimmed. */
void mpc_p11_trim(char *dst, const unsigned char *src, size_t n);

/* ---- URIs (uri.c) ---- */

struct mpc_token_uri {
	P11KitUri *uri;    /* owned */
	char *module_path; /* owned, or NULL */
	char *module_name; /* owned, or NULL */
	char *pin_file;    /* owned: path from pin-source, or NULL */
	char *object;      /* owned: object= label, or NULL */
	char *text;        /* owned: the URI as shown in messages (mpc_uri_for_message) */
	int has_slot_id;   /* slot-id= given: only slot `slot_id` matches */
	CK_SLOT_ID slot_id;
};

/* Parse `s` (see uri.h for what is accepted). *out is owned by the caller. */
int mpc_token_uri_parse(const char *s, struct mpc_token_uri **out, struct mpc_err *e);
void mpc_token_uri_free(struct mpc_token_uri *u);
/* 1 if the token described by `info` matches the URI's token attributes. */
int mpc_token_uri_match_token(const struct mpc_token_uri *u, CK_TOKEN_INFO *info);

/* ---- tokens (token.c) ---- */

struct mpc_token {
	struct mpc_p11_ctx *ctx; /* borrowed */
	CK_FUNCTION_LIST *fn;    /* borrowed from ctx */
	const char *module_path; /* borrowed from ctx */
	CK_SLOT_ID slot;
	CK_TOKEN_INFO info;
	struct mpc_token_desc desc; /* label, serial, ... trimmed; fixed at open */
	CK_SESSION_HANDLE session;  /* CK_INVALID_HANDLE when closed */
	struct mpc_token_uri *uri;  /* owned */
	struct mpc_pin_opts pin;    /* strings borrowed from the caller */
	int logged_in;
	CK_OBJECT_HANDLE key_cache[8]; /* by enum mpc_key_role; 0 = not looked up; cleared by
					   * mpc_token_recover() */
	unsigned char rng_pool[512];   /* token RNG output not yet used for IVs (IVs are
					   * public: this holds no secret) */
	size_t rng_left;               /* unused bytes at the end of rng_pool */
	pthread_mutex_t lock;
	int kind;            /* enum mpc_token_kind whose rules apply (vendor.c) */
	int detected_kind;   /* what mpc_vendor_detect found at open */
	int kind_overridden; /* 1: kind set by a profile (mpc_token_set_profile) */
	unsigned generation; /* the module's generation its session and handles belong to */
};

/* The token's label, for messages from inside the layer (fixed at open). */
#define MPC_TOKEN_LABEL(t) ((t)->desc.label)

void mpc_token_lock(struct mpc_token *t);
void mpc_token_unlock(struct mpc_token *t);

/* 1 if rv means the session or login was lost and mpc_token_recover() may help. */
int mpc_token_rv_is_lost_session(CK_RV rv);
/* Re-open the session and log in again (reading the PIN source again). A token whose module
 * was re-initialised since its session opened is found again instead (mpc_token_refind): its
 * old session is forgotten, never closed. */
int mpc_token_recover(struct mpc_token *t, struct mpc_err *e);
/* Make sure there is a logged-in session (after a failed recovery there is none until this
 * succeeds). */
int mpc_token_ready(struct mpc_token *t, struct mpc_err *e);

/* Takes the lock itself: run op(t, arg, e) under the token's lock. If it fails because the
 * session or login was lost (its error's ckr says so), re-open the session, log in again and
 * run it once more. op must be safe to repeat (start every Cryptoki operation afresh). */
int mpc_token_call(struct mpc_token *t,
		   int (*op)(struct mpc_token *t, void *arg, struct mpc_err *e), void *arg,
		   struct mpc_err *e);

/* 1 if the token's slot offers `mech` with `flags` (no lock needed: slot-level query). */
int mpc_token_has_mechanism(struct mpc_token *t, CK_MECHANISM_TYPE mech, CK_FLAGS flags);

/* The Ed25519 public key of object h (CKA_EC_POINT, DER or raw) into pub (ed25519.c). Lock
 * held, session ready. MPC_ERR_PKCS11 for a failed read or a point that is not 32 bytes. */
int mpc_ed25519_read_point(struct mpc_token *t, CK_OBJECT_HANDLE h, const char *label,
			   uint8_t pub[32], struct mpc_err *e);

/* The URI's object= selector (for naming the TLS key explicitly), or NULL. */
const char *mpc_token_uri_object(const struct mpc_token *t);

/* ---- keys (keys.c) ---- */

/* The Cryptoki class and key type of a role's object. */
CK_OBJECT_CLASS mpc_key_ck_class(enum mpc_key_role role);
CK_KEY_TYPE mpc_key_ck_type(enum mpc_key_role role);

/* Find the object for `role` by label and CKA_ID (for the TLS key, the URI's object= may name
 * another label). *h = CK_INVALID_HANDLE and MPC_ERR_OBJECT_NOT_FOUND if absent; more than one
 * match is MPC_ERR_STATE. */
int mpc_key_find(struct mpc_token *t, enum mpc_key_role role, CK_OBJECT_HANDLE *h,
		 struct mpc_err *e);

/* mpc_key_find with the handle cached in the token (handles are per session; the cache is
 * cleared when the session is recovered). A secret or private key that could leave the token
 * (extractable, or not sensitive) is refused with MPC_ERR_STATE. */
int mpc_key_get(struct mpc_token *t, enum mpc_key_role role, CK_OBJECT_HANDLE *h,
		struct mpc_err *e);

/* The CKA_ID of object `h` for messages, into out[cap]: printable text as is, else hex;
 * "(none)" if unreadable. */
void mpc_key_object_id(struct mpc_token *t, CK_OBJECT_HANDLE h, char *out, size_t cap);

/* Security attributes of the object `h`. */
int mpc_key_get_attrs(struct mpc_token *t, CK_OBJECT_HANDLE h, struct mpc_key_attrs *a,
		      struct mpc_err *e);

/* ---- Cryptoki return values (ckr.c) ----
 * Every CK_RV that is not CKR_OK goes through mpc_fail_ck(), which records the Cryptoki name
 * ("CKR_PIN_INCORRECT"), the operation ("C_Login") and the object ("token mpc-backup") in one
 * line, maps the value to an MPC_ERR_* class, and keeps the CK_RV in e->ckr. */

/* Static name of a CK_RV ("CKR_PIN_INCORRECT"), "CKR_VENDOR_DEFINED" or "CKR_(unknown)". */
const char *mpc_ckr_name(CK_RV rv);

/* The MPC_ERR_* class for a CK_RV (MPC_ERR_PIN for PIN errors, MPC_ERR_AUTH for failed
 * decryption or signature checks, MPC_ERR_TOKEN_UNAVAILABLE for a token not present or a device
 * removed or failed, MPC_ERR_PKCS11 otherwise). */
int mpc_ckr_class(CK_RV rv);

/* Record "<op> on <object> failed: <CKR name>" (+ detail) and return the mapped class. */
int mpc_fail_ck_at(const char *file, int line, const char *func, struct mpc_err *e, CK_RV rv,
		   const char *op, const char *object);
#define mpc_fail_ck(e, rv, op, object) \
	mpc_fail_ck_at(MPC_ERR_FILE, MPC_ERR_LINE, MPC_ERR_FUNC, e, rv, op, object)

/* CKA_EC_PARAMS of an Ed25519 key: the DER OID 1.3.101.112 (RFC 8410), in keys.c. */
extern const CK_BYTE mpc_ed25519_ec_params[5];

/* ---- vendor rules (vendor.c; sources cited there and in tests/vendor/RULES.md) ---- */

/* Google kmsp11's vendor-defined values (kmsp11/kmsp11.h): CKA_KMS_ALGORITHM takes a Cloud
 * KMS CryptoKeyVersionAlgorithm number. */
#define MPC_CKA_KMS_ALGORITHM    (CKA_VENDOR_DEFINED | 0x1E100UL | 0x01UL)
#define MPC_CKM_CLOUDKMS_AES_GCM (CKM_VENDOR_DEFINED | 0x1E100UL | 0x01UL)
#define MPC_KMS_AES_256_CBC      43UL
#define MPC_KMS_HMAC_SHA256      32UL

/* What the token layer does differently for one kind of token. */
struct mpc_vendor_rules {
	int kind;                  /* enum mpc_token_kind */
	CK_KEY_TYPE hmac_key_type; /* key type asked for the HMAC sealing key */
	int hmac_value_len;        /* 1: the HMAC template carries CKA_VALUE_LEN 32 */
	int hmac_retry;            /* 1: a refused HMAC template is asked again as CKK_SHA256_HMAC
				    * without CKA_VALUE_LEN (unknown tokens only) */
	int kms_keygen;        /* 1: C_GenerateKey templates are CKA_LABEL + CKA_KMS_ALGORITHM */
	int find_by_label;     /* 1: secret keys are found by class and label (not CKA_ID) */
	int no_create_object;  /* 1: C_CreateObject is not supported (no key import) */
	size_t gcm_max_input;  /* largest single-part CKM_AES_GCM input; 0: no known limit */
	size_t hmac_max_input; /* largest CKM_SHA256_HMAC input a blob's MAC may have, so that
				* C_Verify takes it too; 0: no known limit */
};

/* The rules that apply to t (its detected kind, or the profile set on it). */
const struct mpc_vendor_rules *mpc_vendor_rules(const struct mpc_token *t);
/* The kind of the token in `slot`, from the module's C_GetInfo, the token info and the slot's
 * mechanism list. */
int mpc_vendor_detect(CK_FUNCTION_LIST *fn, CK_SLOT_ID slot, const CK_TOKEN_INFO *ti);
/* ---- finding the token a URI names (find.c, uri.c) ----
 * RFC 7512 matching: a module matches when its C_GetInfo matches the URI's library-description,
 * library-manufacturer and library-version; a slot when its id is the URI's slot-id and its
 * C_GetSlotInfo matches slot-description and slot-manufacturer; a token when its
 * C_GetTokenInfo matches token, manufacturer, serial and model. An attribute the URI does not
 * give matches anything; strings compare blank-padded (trailing blanks do not count). */

/* Turn the NULs of a CK_UTF8CHAR field of n bytes into blanks: some modules pad with NULs
 * where PKCS#11 says blanks, and URIs compare blank-padded values. */
void mpc_p11_blank_pad(unsigned char *f, size_t n);

/* 1 if the module described by `info` matches the URI's library-* attributes. */
int mpc_token_uri_match_module(const struct mpc_token_uri *u, const CK_INFO *info);
/* 1 if the URI gives slot-description or slot-manufacturer (C_GetSlotInfo is needed). */
int mpc_token_uri_has_slot_info(const struct mpc_token_uri *u);
/* 1 if slot `id`, described by `info` (NULL when the URI needs no C_GetSlotInfo), matches the
 * URI's slot-id, slot-description and slot-manufacturer. */
int mpc_token_uri_match_slot(const struct mpc_token_uri *u, CK_SLOT_ID id,
			     const CK_SLOT_INFO *info);

/* The URI that names exactly one token (RFC 7512, percent-encoded, as p11tool --list-tokens
 * prints it): model, manufacturer, serial and token from `ti`; slot-id=`slot` when with_slot
 * (another slot of the same module shows a token with the same four values); then the module in
 * the query: module-name= if p11-kit registered it under a name, else module-path=. Pasted back
 * as --token it selects that token. *out is malloc()ed, owned by the caller. MPC_ERR_NOMEM. */
int mpc_token_uri_format(const CK_TOKEN_INFO *ti, CK_SLOT_ID slot, int with_slot,
			 const struct mpc_p11_module *m, char **out, struct mpc_err *e);

/* The token a URI selects. */
struct mpc_token_found {
	struct mpc_p11_module *mod; /* borrowed from the context */
	CK_SLOT_ID slot;
	CK_TOKEN_INFO info;
};

/* Find the one token `u` selects among the modules it names (mpc_p11_modules_for_uri),
 * loading them into ctx. Opens no session. On success *out describes it.
 * Errors: MPC_ERR_MODULE (no module, or it cannot be loaded), MPC_ERR_TOKEN_NOT_FOUND (the
 * message lists the tokens seen and any module excluded by library-* attributes),
 * MPC_ERR_USAGE when more than one token matches (refused rather than guessed: the message
 * lists each match's URI, from mpc_token_uri_format), MPC_ERR_PKCS11, MPC_ERR_NOMEM. */
int mpc_token_find(struct mpc_p11_ctx *ctx, const struct mpc_token_uri *u,
		   struct mpc_token_found *out, struct mpc_err *e);

/* mpc_token_find within one module already loaded in ctx (the one a token was opened on):
 * loads nothing and lists no registered modules, so it may run while other threads use ctx.
 * Every URI attribute filters (library-*, slot-*, token), and more than one match is
 * MPC_ERR_USAGE, as there. */
int mpc_token_find_in_module(struct mpc_p11_ctx *ctx, struct mpc_p11_module *m,
			     const struct mpc_token_uri *u, struct mpc_token_found *out,
			     struct mpc_err *e);

/* ---- a token that goes away and comes back (presence.c: classify, probe; session.c:
 * re-find; recover.c: re-initialise; module.c) ----
 * A token whose device is removed, whose module lost it (SoftHSM2 with its token directory
 * moved away answers CKR_GENERAL_ERROR to C_GetTokenInfo and finds no objects), or whose module
 * is not initialised, is "unavailable": MPC_ERR_TOKEN_UNAVAILABLE, never a verdict on the data
 * or on a peer. Recovery re-initialises the module (mpc_token_reinit in token.h); handles of
 * the module's earlier generation are forgotten, never passed to it again. */

/* C_Finalize (its result ignored: a module whose last C_Initialize failed is not initialised)
 * and C_Initialize with the arguments it was loaded with; bumps m->generation either way and
 * sets m->down on failure (MPC_ERR_TOKEN_UNAVAILABLE naming the module and the CKR). Every
 * session and object handle of the module is dead afterwards: the caller holds the lock of
 * every token open on it. */
int mpc_p11_module_reinit(struct mpc_p11_module *m, struct mpc_err *e);

/* The loaded module t's function list belongs to, or NULL (token.c). */
struct mpc_p11_module *mpc_token_module_of(const struct mpc_token *t);

/* Open t's session (read-write and logged in, or read-only without a login for a token opened
 * by mpc_token_open_public) and record the module's generation; on failure no session is left
 * half-open (token.c). Lock held. */
int mpc_token_open_session(struct mpc_token *t, struct mpc_err *e);

/* Does the token answer as itself (its module initialised, C_GetTokenInfo on its slot with the
 * label and serial it had)? CKR_OK, or the CK_RV that says it does not (presence.c). */
CK_RV mpc_token_probe(struct mpc_token *t);

/* Forget t's session and the handles found in it; the session is closed only while it belongs
 * to its module's current generation (presence.c). Lock held. */
void mpc_token_drop_session(struct mpc_token *t);

/* 1 if rv by itself says the token or its device is gone (CKR_TOKEN_NOT_PRESENT,
 * CKR_TOKEN_NOT_RECOGNIZED, CKR_DEVICE_REMOVED, CKR_DEVICE_ERROR, CKR_SLOT_ID_INVALID,
 * CKR_CRYPTOKI_NOT_INITIALIZED). */
int mpc_token_rv_is_gone(CK_RV rv);

/* 1 if t's session and handles belong to an earlier generation of its module. */
int mpc_token_stale(const struct mpc_token *t);

/* The generation of t's module (recorded in t when its session opens). */
unsigned mpc_token_module_generation(const struct mpc_token *t);

/* After a failure `rc` of a call on t: if e->ckr says the token is gone, or the token no longer
 * answers C_GetTokenInfo as itself (same label and serial), turn e into
 * MPC_ERR_TOKEN_UNAVAILABLE ("token "L" (module M) is unavailable (why): what failed") and drop
 * the session; else leave rc and e alone. Failures that cannot come from the token (PIN
 * source, memory, usage) are left alone. Returns the code. Lock held. */
int mpc_token_classify(struct mpc_token *t, int rc, struct mpc_err *e);

/* The module was re-initialised since t's session opened: forget the session and the cached
 * key handles (never closing them: the numbers may belong to another session now), find the
 * token again in its module by its URI (mpc_token_find_in_module: slot-id, library-* and token
 * attributes all filter, and two matches are refused), check it has the identity it had when
 * opened (label, serial, manufacturer, model), and open a session and log in again. Lock held. */
int mpc_token_refind(struct mpc_token *t, struct mpc_err *e);

#endif
