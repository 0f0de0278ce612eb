/* keyset.h: the contract's Keyset (epoch + per-domain public keys) and the node's Keyshare
 * identity, parsed from and written to the exact JSON the MPC node and contract use.
 *
 * JSON (docs/contract.md and docs/node.md; checked against near/mpc):
 *   Keyset       {"epoch_id": u64, "domains": [KeyForDomain]}
 *   KeyForDomain {"domain_id": u64, "key": PublicKeyExtended, "attempt": u64}
 *   PublicKeyExtended: {"Secp256k1": {"near_public_key": "secp256k1:<base58 64 bytes x||y>"}}
 *                    | {"Ed25519": {"near_public_key_compressed": "ed25519:<base58 32>",
 *                                   "edwards_point": [32 numbers]}}
 *                    | {"Bls12381": {"public_key": "bls12381g2:<base58 96 bytes>"}}
 *
 * Ownership: a struct mpc_keyset owns its `domains` array; free it with mpc_keyset_free().
 * Parsers fail with MPC_ERR_PARSE and a message naming the JSON path ("keyset.domains[1].key")
 * on any missing, mistyped or out-of-range field; unknown fields are ignored.
 */
#ifndef MPC_MODEL_KEYSET_H
#define MPC_MODEL_KEYSET_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "src/model/curve.h"
#include "src/util/err.h"

#define MPC_KEYSET_MAX_DOMAINS 4096

struct mpc_domain_key {
	uint64_t domain_id;
	uint64_t attempt;
	enum mpc_curve curve;
	size_t pk_len;
	uint8_t pk[MPC_PK_MAX];
};

struct mpc_keyset {
	uint64_t epoch_id;
	size_t n_domains;
	struct mpc_domain_key *domains; /* owned, in contract order */
};

/* Parse a Keyset object. `path` names the object in messages ("state.Running.keyset").
 * Duplicate domain ids are refused. On failure *out is left zeroed. */
int mpc_keyset_from_json(const json_t *j, const char *path, struct mpc_keyset *out,
			 struct mpc_err *e);
/* Parse Keyset JSON text of `len` bytes (bounded by the caller). */
int mpc_keyset_parse(const char *text, size_t len, struct mpc_keyset *out, struct mpc_err *e);

/* The Keyset as the node and contract expect it (field order epoch_id, domains; domain_id, key,
 * attempt). Returns a new reference or NULL with e set. */
json_t *mpc_keyset_to_json(const struct mpc_keyset *ks, struct mpc_err *e);

/* Deep copy into *dst (dst is overwritten, not freed). */
int mpc_keyset_copy(struct mpc_keyset *dst, const struct mpc_keyset *src, struct mpc_err *e);
/* Same epoch and same (domain_id, attempt, curve, pk) list in the same order. */
int mpc_keyset_equal(const struct mpc_keyset *a, const struct mpc_keyset *b);
/* Look up a domain; NULL if absent. */
const struct mpc_domain_key *mpc_keyset_domain(const struct mpc_keyset *ks, uint64_t domain_id);

/* Release the domains array and zero the struct. Accepts NULL. */
void mpc_keyset_free(struct mpc_keyset *ks);

#endif
