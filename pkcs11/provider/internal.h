/* internal.h: what the mpc-token provider's pieces share: the provider context (the core's
 * error functions), the reasons it reports, the key object and the dispatch tables. Not for use
 * outside pkcs11/provider/. */
#ifndef MPC_PKCS11_PROVIDER_INTERNAL_H
#define MPC_PKCS11_PROVIDER_INTERNAL_H

#include <stdint.h>

#include <openssl/core.h>
#include <openssl/core_dispatch.h>

#include "pkcs11/token.h"

#define MPC_TOKEN_REF_MAGIC 0x6d706374u /* "mpct" */

/* The provider context: what the core gave us to report errors with. Made by the provider's
 * init, freed by its teardown. */
struct mpc_prov_ctx {
	const OSSL_CORE_HANDLE *handle;
	OSSL_FUNC_core_new_error_fn *new_error;
	OSSL_FUNC_core_set_error_debug_fn *set_error_debug;
	OSSL_FUNC_core_vset_error_fn *vset_error;
};

/* Reasons the provider puts on OpenSSL's error stack (library "mpc-token"; the strings are in
 * provider.c and registered through OSSL_FUNC_PROVIDER_GET_REASON_STRINGS). */
enum {
	MPC_PROV_R_TOKEN_SIGN_FAILED = 1, /* data: the token layer's message */
	MPC_PROV_R_BAD_TOKEN_REFERENCE,   /* an import carried a malformed token reference */
	MPC_PROV_R_PRIVATE_KEY_IN_TOKEN,  /* an export asked for the private key */
	MPC_PROV_R_NO_KEY,                /* an operation without a token key */
	MPC_PROV_R_TOKEN_UNAVAILABLE,     /* data: the token layer's message; the token is gone */
};

/* Push one error (reason + formatted detail) onto the calling thread's OpenSSL error stack,
 * with the caller's file, line and function. Accepts pc == NULL (then does nothing). */
void mpc_prov_raise_at(const struct mpc_prov_ctx *pc, const char *file, int line, const char *func,
		       int reason, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
#define mpc_prov_raise(pc, reason, ...) \
	mpc_prov_raise_at(pc, OPENSSL_FILE, OPENSSL_LINE, OPENSSL_FUNC, reason, __VA_ARGS__)

/* What crosses OSSL_PARAM into the keymgmt import: a borrowed token and its public key. */
struct mpc_token_ref {
	uint32_t magic;
	struct mpc_token *token;
	uint8_t pub[32];
};

/* The provider-side key. `token` is borrowed; the private half stays in the token. */
struct mpc_prov_key {
	const struct mpc_prov_ctx *pc; /* the provider's context, for errors */
	struct mpc_token *token;       /* NULL for an empty key */
	uint8_t pub[32];
	int has_pub;
};

extern const OSSL_DISPATCH mpc_prov_keymgmt_functions[];
extern const OSSL_DISPATCH mpc_prov_signature_functions[];

#endif
