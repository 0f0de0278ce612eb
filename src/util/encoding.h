/* encoding.h: strict hex, base58 (Bitcoin alphabet, as NEAR uses) and base64 codecs.
 *
 * Decoders reject anything that is not exactly a canonical encoding (wrong characters, odd
 * length, bad padding, output over the caller's bound) with MPC_ERR_PARSE or MPC_ERR_TOO_LARGE
 * and a message naming `what` (the field being decoded). They never write past `out_cap`.
 * Encoders write a NUL-terminated string and fail with MPC_ERR_TOO_LARGE if `out_cap` is short.
 */
#ifndef MPC_UTIL_ENCODING_H
#define MPC_UTIL_ENCODING_H

#include <stddef.h>
#include <stdint.h>

#include "src/util/err.h"

/* Lowercase hex. Needs out_cap >= 2*n + 1. */
int mpc_hex_encode(const uint8_t *in, size_t n, char *out, size_t out_cap, struct mpc_err *e);
/* Accepts upper or lower case; `len` is strlen-like (no NUL needed). */
int mpc_hex_decode(const char *in, size_t len, uint8_t *out, size_t out_cap, size_t *out_len,
		   const char *what, struct mpc_err *e);

/* Base58 with leading '1's for leading zero bytes. Inputs over 1024 characters are refused. */
int mpc_base58_encode(const uint8_t *in, size_t n, char *out, size_t out_cap, struct mpc_err *e);
int mpc_base58_decode(const char *in, size_t len, uint8_t *out, size_t out_cap, size_t *out_len,
		      const char *what, struct mpc_err *e);

/* Standard base64 with padding (RFC 4648 section 4). */
size_t mpc_base64_encoded_len(size_t n); /* including the NUL */
int mpc_base64_encode(const uint8_t *in, size_t n, char *out, size_t out_cap, struct mpc_err *e);
/* Upper bound on decoded size of `len` characters. */
size_t mpc_base64_decoded_max(size_t len);
int mpc_base64_decode(const char *in, size_t len, uint8_t *out, size_t out_cap, size_t *out_len,
		      const char *what, struct mpc_err *e);

/* "ed25519:<base58 of 32 bytes>" in and out. */
#define MPC_ED25519_KEY_STR_MAX 64
int mpc_ed25519_key_format(const uint8_t key[32], char out[MPC_ED25519_KEY_STR_MAX],
			   struct mpc_err *e);
int mpc_ed25519_key_parse(const char *in, uint8_t key[32], const char *what, struct mpc_err *e);

#endif
