/* vendor.h: which kind of token an open token is, so the token layer applies that vendor's
 * rules (key templates, key lookup, single-part limits; the table is in vendor.c, each rule
 * citing its source).
 *
 * The kind is detected when a token is opened, from what the token reports: the module's
 * C_GetInfo (manufacturerID, libraryDescription), the token's C_GetTokenInfo (manufacturerID,
 * model) and its mechanism list. An operator can override it with a profile name
 * (`token_profile` in mpc-backup.conf(5), --token-profile): "auto" (detect), or one of the
 * kind names below. Kinds with no rules of their own (generic, softhsm2, nss) follow PKCS#11
 * 3.0 as written.
 */
#ifndef MPC_PKCS11_VENDOR_H
#define MPC_PKCS11_VENDOR_H

#include "pkcs11/token.h"
#include "src/util/err.h"

enum mpc_token_kind {
	MPC_TOKEN_KIND_GENERIC = 0,
	MPC_TOKEN_KIND_SOFTHSM2,
	MPC_TOKEN_KIND_YUBIHSM2,
	MPC_TOKEN_KIND_CLOUDHSM,
	MPC_TOKEN_KIND_KMSP11,
	MPC_TOKEN_KIND_NSS,
	MPC_TOKEN_KIND_COUNT
};

#define MPC_TOKEN_PROFILE_AUTO "auto"

/* Static name of a kind ("generic", "softhsm2", "yubihsm2", "cloudhsm", "kmsp11", "nss"). */
const char *mpc_token_kind_name(enum mpc_token_kind k);

/* Parse a profile name: "auto" sets *is_auto = 1 (and *out = GENERIC), a kind name sets
 * *is_auto = 0 and *out. Anything else is MPC_ERR_USAGE naming the accepted names. */
int mpc_token_profile_parse(const char *s, int *is_auto, enum mpc_token_kind *out,
			    struct mpc_err *e);

/* The kind whose rules apply to t; *overridden (may be NULL) = 1 if set by a profile rather
 * than detected. Takes the token's lock. */
enum mpc_token_kind mpc_token_kind_of(struct mpc_token *t, int *overridden);

/* Apply a profile (NULL or "auto": the detected kind). Bad names: MPC_ERR_USAGE, t unchanged.
 * Takes the token's lock; forgets cached key handles (the lookup rule may change). */
int mpc_token_set_profile(struct mpc_token *t, const char *profile, struct mpc_err *e);

#endif
