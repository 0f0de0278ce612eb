/* keyshares.h: checking the node's plaintext Keyshare array against the keyset it was asked for.
 *
 * The node's /get_keyshares answer (after transport decryption) is a JSON array of
 *   {"key_id": {"epoch_id": u64, "domain_id": u64, "attempt_id": u64},
 *    "data": {"<Scheme>": {"private_share": "<hex 32-byte scalar>",
 *                          "public_key": "<hex compressed point>"}}}
 * with Scheme Secp256k1 (33-byte SEC1 point), Ed25519 (32 bytes) or Bls12381 (96-byte G2).
 * The bytes are secret: callers keep them in mpc_secure_alloc() memory. Nothing here copies a
 * private_share: jansson parses the text (its allocations are wiped when the process installs
 * the wipe-on-free allocator, see docs/store-format.md) and only public fields are extracted.
 * Messages never quote the input (jansson's own error text can echo secret bytes, so only line
 * and column are reported).
 *
 * The bytes that are sealed and later pushed back to a node are exactly the bytes received, so a
 * restore is byte-identical; these functions only read them.
 */
#ifndef MPC_STORE_KEYSHARES_H
#define MPC_STORE_KEYSHARES_H

#include <stddef.h>
#include <stdint.h>

#include "src/model/keyset.h"
#include "src/util/err.h"

/* Largest plaintext keyshare array accepted (well above 4096 domains of BLS). */
#define MPC_STORE_KEYSHARES_MAX (4u * 1024 * 1024)

/* The public half of one keyshare. pk is the point as the node writes it (33/32/96 bytes). */
struct mpc_keyshare_meta {
	uint64_t epoch_id;
	uint64_t domain_id;
	uint64_t attempt_id;
	enum mpc_curve curve;
	size_t pk_len;
	uint8_t pk[MPC_PK_MAX];
};

struct mpc_keyshares_meta {
	size_t n;
	struct mpc_keyshare_meta *items; /* owned (malloc), in array order */
};

/* Parse `len` bytes of Keyshare JSON and extract the public fields. Checks shape, scheme names,
 * that private_share is 64 hex digits, and public_key's length per scheme. On failure
 * (MPC_ERR_PARSE, MPC_ERR_TOO_LARGE, MPC_ERR_NOMEM) *out is left zeroed. */
int mpc_keyshares_inspect(const uint8_t *buf, size_t len, struct mpc_keyshares_meta *out,
			  struct mpc_err *e) __attribute__((warn_unused_result));

/* Check inspected keyshares against `ks`: every domain exactly once, no extra domain, the
 * keyset's epoch, key ids (epoch, domain, attempt) equal, the scheme matching the domain's curve,
 * and the public key equal to the keyset's (secp256k1: the contract's x||y compressed with the
 * parity of y). MPC_ERR_INVALID with a message naming the domain on the first mismatch. */
int mpc_keyshares_check(const struct mpc_keyshares_meta *m, const struct mpc_keyset *ks,
			struct mpc_err *e) __attribute__((warn_unused_result));

/* inspect + check. */
int mpc_keyshares_validate(const uint8_t *buf, size_t len, const struct mpc_keyset *ks,
			   struct mpc_err *e) __attribute__((warn_unused_result));

/* Release items and zero the struct. Accepts NULL. */
void mpc_keyshares_meta_free(struct mpc_keyshares_meta *m);

/* The length of the Keyshare array for `ks` as the node writes it (serde_json, compact: the
 * shape above, hex private_share and public_key). What a backup will have to seal, known
 * before anything is fetched; a node that writes more (whitespace) is checked again on the
 * bytes received. */
size_t mpc_keyshares_expected_size(const struct mpc_keyset *ks);

/* The 33-byte SEC1 compressed form of a 64-byte x||y secp256k1 key (no curve check). */
void mpc_secp256k1_compress_xy(const uint8_t xy[64], uint8_t out[33]);

#endif
