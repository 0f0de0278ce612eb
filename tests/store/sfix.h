/* sfix.h: fixtures for the store tests, the crash driver and the bench: keysets with matching
 * node keyshare JSON (real values from tests/fixtures/near-mpc or seeded synthetic ones) and
 * SoftHSM2 tokens with the mpc-backup keys made by the key ceremony.
 */
#ifndef MPC_TESTS_STORE_SFIX_H
#define MPC_TESTS_STORE_SFIX_H

#include <stddef.h>
#include <stdint.h>

#include "pkcs11/module.h"
#include "pkcs11/token.h"
#include "src/model/keyset.h"

/* One keyshare as the node would send it; tests mutate these to build bad inputs. */
struct sf_share {
	uint64_t epoch, domain, attempt;
	const char *scheme;        /* "Secp256k1", "Ed25519", "Bls12381" or anything */
	char pk_hex[2 * 96 + 1];
	char share_hex[2 * 32 + 1];
};

struct sf_set {
	struct mpc_keyset ks;      /* owned */
	struct sf_share *shares;   /* owned, one per domain, matching ks */
	size_t n;
};

/* Keyset of epoch 4 from the mainnet fixture's shape: domain 0 Secp256k1 attempt 240 whose
 * public key is the secp256k1 snap key decompressed to x||y with OpenSSL, domain 1 Ed25519
 * attempt 0 with the ed25519 snap key; shares are participant `who` (0..2) of the snaps. */
int sf_fixture_set(int who, struct sf_set *out);

/* Seeded synthetic keyset: n domains (ids 0..n-1, attempt = seed % 7), curves cycling
 * Ed25519, Secp256k1, Bls12381, random keys and shares. */
int sf_synthetic_set(uint64_t epoch, size_t n, uint64_t seed, struct sf_set *out);

/* JSON text of shares[0..n) in secure memory (mpc_secure_free). */
int sf_shares_json(const struct sf_share *s, size_t n, uint8_t **out, size_t *len);

void sf_set_free(struct sf_set *s);

/* Open the token at uri (MPC_BACKUP_PIN set by th_softhsm_setup) and run the key ceremony. */
int sf_token_open(struct mpc_p11_ctx *ctx, const char *uri, struct mpc_token **out);

/* $MPC_FIXTURES_DIR (tests/fixtures), or NULL when unset. */
const char *sf_fixtures_dir(void);

#endif
