/* transport.h: AES-256-GCM with the node's backup transport key imported into the token
 * ("mpc-backup-transport", see keys.h), so body encryption to and from the node can happen
 * inside the token. No associated data, 96-bit IV, 128-bit tag: the node's body format.
 *
 * The signatures match src/node/body.h's mpc_transport_encrypt_fn / mpc_transport_decrypt_fn
 * with `ctx` = the struct mpc_token *, so they plug into a struct mpc_transport_key directly.
 */
#ifndef MPC_PKCS11_TRANSPORT_H
#define MPC_PKCS11_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "src/util/err.h"

/* iv: 12 fresh random bytes on entry; a token that chooses its own IV overwrites them.
 * Writes n bytes of ciphertext and the 16-byte tag to ct_and_tag. */
int mpc_transport_token_encrypt(void *token, uint8_t iv[12], const uint8_t *pt, size_t n,
				uint8_t *ct_and_tag, struct mpc_err *e);
/* ct_and_tag: n bytes of ciphertext then the tag; writes n bytes of plaintext to pt (the
 * caller's locked memory). A wrong key or altered body is MPC_ERR_AUTH. */
int mpc_transport_token_decrypt(void *token, const uint8_t iv[12], const uint8_t *ct_and_tag,
				size_t n, uint8_t *pt, struct mpc_err *e);

#endif
