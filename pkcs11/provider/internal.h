/* internal.h: what the mpc-token provider's pieces share: the key object and the dispatch
 * tables. Not for use outside pkcs11/provider/. */
#ifndef MPC_PKCS11_PROVIDER_INTERNAL_H
#define MPC_PKCS11_PROVIDER_INTERNAL_H

#include <stdint.h>

#include <openssl/core_dispatch.h>

#include "pkcs11/token.h"

#define MPC_TOKEN_REF_MAGIC 0x6d706374u /* "mpct" */

/* What crosses OSSL_PARAM into the keymgmt import: a borrowed token and its public key. */
struct mpc_token_ref {
	uint32_t magic;
	struct mpc_token *token;
	uint8_t pub[32];
};

/* The provider-side key. `token` is borrowed; the private half stays in the token. */
struct mpc_prov_key {
	struct mpc_token *token; /* NULL for an empty key */
	uint8_t pub[32];
	int has_pub;
};

extern const OSSL_DISPATCH mpc_prov_keymgmt_functions[];
extern const OSSL_DISPATCH mpc_prov_signature_functions[];

#endif
