/* near_key.h: NEAR-style public key strings "<curve>:<base58>" as the contract writes them.
 *
 *   "ed25519:"     32 bytes   (TLS keys, backup service keys, Ed25519 domain keys)
 *   "secp256k1:"   64 bytes   (x||y, uncompressed without the 0x04 tag)
 *   "bls12381g2:"  96 bytes   (compressed G2 point)
 *
 * Parsers fail with MPC_ERR_PARSE naming `path` for a wrong prefix, bad base58 or a wrong
 * decoded length. No allocation.
 */
#ifndef MPC_MODEL_NEAR_KEY_H
#define MPC_MODEL_NEAR_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "src/model/curve.h"
#include "src/util/err.h"

/* String prefix for a curve's key ("secp256k1:", "ed25519:", "bls12381g2:"). */
const char *mpc_near_key_prefix(enum mpc_curve c);
/* Decoded key length for a curve (64, 32, 96). */
size_t mpc_near_key_len(enum mpc_curve c);

/* Parse `s`, which must be a key on `curve`, into out[mpc_near_key_len(curve)]. */
int mpc_near_key_parse(const char *s, enum mpc_curve curve, uint8_t out[MPC_PK_MAX],
		       const char *path, struct mpc_err *e);
/* Format into out (NUL-terminated); MPC_NEAR_KEY_STR_MAX always suffices. */
#define MPC_NEAR_KEY_STR_MAX 160
int mpc_near_key_format(enum mpc_curve curve, const uint8_t *pk, size_t pk_len,
			char out[MPC_NEAR_KEY_STR_MAX], struct mpc_err *e);

#endif
