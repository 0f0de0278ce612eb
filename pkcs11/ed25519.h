/* ed25519.h: the token-resident Ed25519 TLS identity: pure Ed25519 signing with CKM_EDDSA and
 * the 32-byte public key read from CKA_EC_POINT. The private key never leaves the token; no code
 * here (or anywhere in mpc-backup) reads CKA_VALUE of a private key.
 */
#ifndef MPC_PKCS11_ED25519_H
#define MPC_PKCS11_ED25519_H

#include <stddef.h>
#include <stdint.h>

#include "pkcs11/token.h"

/* The TLS public key (32 raw bytes). */
int mpc_ed25519_public_key(struct mpc_token *t, uint8_t pub[32], struct mpc_err *e);

/* Sign msg (pure Ed25519, no prehash) into sig[64]. Takes the token lock; recovers a lost
 * session once. */
int mpc_ed25519_sign(struct mpc_token *t, const uint8_t *msg, size_t n, uint8_t sig[64],
		     struct mpc_err *e);

#endif
