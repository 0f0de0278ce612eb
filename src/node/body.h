/* body.h: the migration service's body encryption, and the transport key that drives it.
 *
 * A body on the wire (both directions, /get_keyshares answers and /set_keyshares requests) is
 * standard base64 with padding of nonce(12 random bytes) || AES-256-GCM ciphertext || tag(16),
 * with no associated data (near/mpc migration_service/web/encryption.rs + serialization.rs).
 *
 * The transport key is shared with the node out of band (the node reads
 * MPC_BACKUP_ENCRYPTION_KEY_HEX). Here it is either
 *   - a software key: 32 bytes in mpc_secure_alloc() memory, loaded from the environment
 *     variable MPC_BACKUP_TRANSPORT_KEY_HEX or from a file (never from argv), or
 *   - a pair of callbacks (token-backed AES-GCM inside a PKCS#11 token) with an opaque ctx.
 *
 * Ownership: a struct mpc_transport_key owns its software key; mpc_transport_key_clear() wipes
 * and frees it (the callbacks' ctx stays the caller's). Plaintext from mpc_body_decrypt() is in
 * mpc_secure_alloc() memory: release it with mpc_secure_free().
 */
#ifndef MPC_NODE_BODY_H
#define MPC_NODE_BODY_H

#include <stddef.h>
#include <stdint.h>

#include "src/util/err.h"

#define MPC_BODY_NONCE_LEN    12
#define MPC_BODY_TAG_LEN      16
#define MPC_TRANSPORT_KEY_LEN 32
#define MPC_TRANSPORT_KEY_ENV "MPC_BACKUP_TRANSPORT_KEY_HEX"

/* AES-256-GCM with no AAD, done elsewhere (a token). Both return MPC_OK or MPC_ERR_*.
 * encrypt: `iv` holds 12 fresh random bytes on entry; a token that must choose its own IV
 *   overwrites them with the IV it used (they are sent as the nonce). Writes n bytes of
 *   ciphertext followed by the 16-byte tag to ct_and_tag.
 * decrypt: `ct_and_tag` holds n bytes of ciphertext followed by the tag; writes n bytes of
 *   plaintext to `pt` (secure memory). A tag mismatch must return MPC_ERR_AUTH. */
typedef int (*mpc_transport_encrypt_fn)(void *ctx, uint8_t iv[12], const uint8_t *pt, size_t n,
					uint8_t *ct_and_tag, struct mpc_err *e);
typedef int (*mpc_transport_decrypt_fn)(void *ctx, const uint8_t iv[12], const uint8_t *ct_and_tag,
					size_t n, uint8_t *pt, struct mpc_err *e);

struct mpc_transport_key {
	uint8_t *sw; /* 32 bytes, mpc_secure_alloc(), or NULL when callbacks are used */
	mpc_transport_encrypt_fn encrypt;
	mpc_transport_decrypt_fn decrypt;
	void *ctx; /* borrowed */
};

/* Software key from 64 hex characters (a trailing "\n" or "\r\n" is allowed). */
int mpc_transport_key_from_hex(struct mpc_transport_key *k, const char *hex, size_t len,
			       struct mpc_err *e);
/* From the environment variable `var` (NULL: MPC_TRANSPORT_KEY_ENV). MPC_ERR_NOT_FOUND if the
 * variable is unset. */
int mpc_transport_key_from_env(struct mpc_transport_key *k, const char *var, struct mpc_err *e);
/* From a file holding the hex key (read into secure memory, at most 4 KiB). */
int mpc_transport_key_from_file(struct mpc_transport_key *k, const char *path, struct mpc_err *e);
/* Token-backed key: callbacks and their ctx (borrowed, must outlive k). */
void mpc_transport_key_set_callbacks(struct mpc_transport_key *k, mpc_transport_encrypt_fn enc,
				     mpc_transport_decrypt_fn dec, void *ctx);
/* Wipe and release the software key; zero the struct. Accepts NULL. */
void mpc_transport_key_clear(struct mpc_transport_key *k);

/* Encrypt n plaintext bytes into a NUL-terminated base64 body (malloc(), free() it; the
 * ciphertext is not secret). */
int mpc_body_encrypt(const struct mpc_transport_key *k, const uint8_t *pt, size_t n, char **body,
		     size_t *body_len, struct mpc_err *e);

/* Decrypt a body of `len` characters. Strict base64 (no whitespace, canonical padding); a body
 * over `max_len` characters is refused with MPC_ERR_TOO_LARGE before decoding; shorter than
 * nonce+tag is MPC_ERR_PARSE; a tag failure is MPC_ERR_AUTH "wrong transport key or corrupted
 * body". The plaintext (with one extra NUL after *pt_len bytes) is in secure memory. */
int mpc_body_decrypt(const struct mpc_transport_key *k, const char *body, size_t len,
		     size_t max_len, uint8_t **pt, size_t *pt_len, struct mpc_err *e);

#endif
