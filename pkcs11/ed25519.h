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

/* Prove that `pub` is the public half of the token's TLS private key: sign 32 random bytes with
 * the private key in the token (mpc_ed25519_sign) and verify the signature in software
 * (OpenSSL) with `pub`. MPC_ERR_AUTH when it does not verify (the objects are not one key pair);
 * the signing errors otherwise. Takes the token's lock (through mpc_ed25519_sign). */
int mpc_ed25519_verify_pair(struct mpc_token *t, const uint8_t pub[32], struct mpc_err *e);

/* Import an existing 32-byte Ed25519 seed (RFC 8032 private key) as the TLS key pair:
 * sensitive, non-extractable, CKA_LOCAL false (the token's record that it was imported, not
 * generated); the public key is written to pub_out. MPC_ERR_EXISTS if either half of a TLS key
 * is already there (never overwritten). The caller wipes `seed`. Takes the token's lock.
 * (pkcs11/import_ed25519.c) */
int mpc_ed25519_import_tls(struct mpc_token *t, const uint8_t seed[32], uint8_t pub_out[32],
			   struct mpc_err *e);

#endif
