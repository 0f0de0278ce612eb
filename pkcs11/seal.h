/* seal.h: authenticated encryption of byte strings by the token's sealing keys.
 *
 * A sealed blob is self-describing (see docs/store-format.md, "Sealed blob"):
 *   "MPCS" | version (1) | mechanism (1) | iv_len (1) | iv | body
 * where for MPC_SEAL_AES_GCM the body is AES-256-GCM ciphertext || 16-byte tag made by
 * C_Encrypt(CKM_AES_GCM) with the key labelled "mpc-backup-seal-gcm", and for
 * MPC_SEAL_AES_CBC_HMAC it is AES-256-CBC-PAD ciphertext (key "mpc-backup-seal-cbc") followed
 * by HMAC-SHA256 (key "mpc-backup-seal-hmac", C_Sign/C_Verify) over
 *   blob header || iv || be64(aad length) || aad || ciphertext.
 * For GCM the associated data given to the token is blob header || caller aad, so neither the
 * mechanism nor the IV length can be changed without detection. MPC_SEAL_AES_CBC_HMAC_DIGEST
 * is MPC_SEAL_AES_CBC_HMAC with the token's HMAC taken over the SHA-256 digest (computed here)
 * of that same input, so the token MACs 32 bytes whatever the size (YubiHSM 2 takes at most
 * about 3 KB in one HMAC); AUTO picks it on a token with an HMAC input limit.
 *
 * The IV stored is the one in the CK_GCM_PARAMS buffer after C_Encrypt, so a token that
 * generates its own IV (AWS CloudHSM) works as well as one that takes the caller's (SoftHSM2).
 * Caller IVs are 96 random bits: token RNG XOR OpenSSL RAND (see docs/design.md).
 */
#ifndef MPC_PKCS11_SEAL_H
#define MPC_PKCS11_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "pkcs11/token.h"

enum mpc_seal_mech {
	MPC_SEAL_AUTO = 0, /* pick: GCM if the token offers it, else CBC+HMAC */
	MPC_SEAL_AES_GCM = 1,
	MPC_SEAL_AES_CBC_HMAC = 2,
	MPC_SEAL_AES_CBC_HMAC_DIGEST = 3, /* as 2, the token's HMAC over SHA-256 of the MAC input */
};

#define MPC_SEAL_MAX_PLAINTEXT (64u * 1024 * 1024)

/* Static name ("aes-256-gcm", "aes-256-cbc-hmac-sha256"). */
const char *mpc_seal_mech_name(enum mpc_seal_mech m);
/* Parse a name as printed above, or "auto". */
int mpc_seal_mech_parse(const char *s, enum mpc_seal_mech *out, struct mpc_err *e);

/* The mechanism MPC_SEAL_AUTO resolves to on this token (its keys present and the mechanism
 * offered), or MPC_ERR_UNSUPPORTED / MPC_ERR_OBJECT_NOT_FOUND. */
int mpc_seal_pick(struct mpc_token *t, enum mpc_seal_mech want, enum mpc_seal_mech *out,
		  struct mpc_err *e);

/* The same for n bytes of plaintext: on a token with a single-part AES-GCM limit (AWS
 * CloudHSM, vendor.h) AUTO picks CBC+HMAC for a plaintext over it, and a plaintext no usable
 * mechanism can seal in one part is MPC_ERR_TOO_LARGE naming the limit (also a CBC+HMAC
 * seal whose MAC input is over the token's HMAC limit: YubiHSM 2, 3102 bytes). No silent downgrade:
 * AUTO falls back from GCM to CBC+HMAC only when the GCM key is absent or n is over the
 * limit; a GCM key that is there but refused (extractable, not sensitive) is the error.
 * Callers that know the size before fetching anything (the backup) call this first. */
int mpc_seal_pick_for(struct mpc_token *t, enum mpc_seal_mech want, size_t n,
		      enum mpc_seal_mech *out, struct mpc_err *e);

/* The largest plaintext `mech` can seal on t in one part so that the blob opens there again
 * (0: no limit known). */
size_t mpc_seal_max_single_part(struct mpc_token *t, enum mpc_seal_mech mech);

/* Seal n bytes of plaintext with associated data `aad`. On success *blob is a malloc()ed
 * buffer of *blob_len bytes owned by the caller (it holds no secret). The plaintext is not
 * modified. */
int mpc_seal(struct mpc_token *t, enum mpc_seal_mech mech, const uint8_t *aad, size_t aad_len,
	     const uint8_t *pt, size_t n, uint8_t **blob, size_t *blob_len, struct mpc_err *e)
	__attribute__((warn_unused_result));

/* Open a blob made by mpc_seal with the same aad. On success *pt is mpc_secure_alloc() memory
 * of *pt_len bytes (free with mpc_secure_free). Any change to blob or aad, a blob from another
 * key, or a truncated blob fails with MPC_ERR_AUTH (or MPC_ERR_PARSE for a malformed header);
 * nothing is returned then. */
int mpc_unseal(struct mpc_token *t, const uint8_t *aad, size_t aad_len, const uint8_t *blob,
	       size_t blob_len, uint8_t **pt, size_t *pt_len, struct mpc_err *e)
	__attribute__((warn_unused_result));

/* The same into caller buffers (no allocation: for hot paths and benchmarks). mpc_seal_to
 * needs cap >= mpc_seal_size(n); mpc_unseal_to needs cap >= blob_len and the caller's buffer
 * must be locked memory (it receives plaintext; it is wiped on failure). */
size_t mpc_seal_size(size_t n);
int mpc_seal_to(struct mpc_token *t, enum mpc_seal_mech mech, const uint8_t *aad, size_t aad_len,
		const uint8_t *pt, size_t n, uint8_t *out, size_t cap, size_t *blob_len,
		struct mpc_err *e) __attribute__((warn_unused_result));
int mpc_unseal_to(struct mpc_token *t, const uint8_t *aad, size_t aad_len, const uint8_t *blob,
		  size_t blob_len, uint8_t *out, size_t cap, size_t *pt_len, struct mpc_err *e)
	__attribute__((warn_unused_result));

/* The mechanism recorded in a blob's header, without opening it. */
int mpc_seal_blob_mech(const uint8_t *blob, size_t blob_len, enum mpc_seal_mech *out,
		       struct mpc_err *e);

#endif
