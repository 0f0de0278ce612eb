/* import_backupcli.h: reading near/mpc backup-cli's home directory and an MPC node's
 * permanent_keys directory (the formats are described, with the near/mpc sources they were
 * checked against, in docs/store-format.md "Imported formats").
 *
 *   HOME/secrets.json   serde JSON {"p2p_private_key": [32 numbers], "near_signer_key":
 *                       [32 numbers], "local_storage_aes_key": [16 numbers]} (backup-cli)
 *   HOME/permanent_keys/epoch_<E>_with_<N>_domains
 *                       nonce(12) || AES-128-GCM(ciphertext || tag(16)), no associated data,
 *                       of the JSON {"epoch_id": E, "keyshares": [Keyshare, ...]}
 *   HOME/key            a hard link to the newest of those files
 *
 * Secrets (the 16-byte local key, the Ed25519 keys, decrypted keyshares) are only in
 * mpc_secure_alloc() memory and are wiped by the frees below. Files are opened relative to the
 * directory without following symlinks; a file must be a regular file owned by the caller (or
 * root); secrets.json and a local key file may not be accessible to others (mode & 0007), an
 * encrypted keyshare file may not be writable by others (mode & 0002). Messages name the file,
 * never its content.
 *
 * Errors: MPC_ERR_NOT_FOUND (missing file or directory), MPC_ERR_STATE (symlink, not a regular
 * file, wrong owner or mode), MPC_ERR_TOO_LARGE, MPC_ERR_PARSE (malformed JSON or name),
 * MPC_ERR_AUTH (the GCM tag does not verify: wrong key or damaged file), MPC_ERR_INVALID (the
 * file name disagrees with the content), MPC_ERR_IO, MPC_ERR_NOMEM.
 */
#ifndef MPC_STORE_IMPORT_BACKUPCLI_H
#define MPC_STORE_IMPORT_BACKUPCLI_H

#include <stddef.h>
#include <stdint.h>

#include "src/model/keyset.h"
#include "src/util/err.h"

#define MPC_BCLI_SECRETS_MAX ((size_t)64 * 1024)                           /* secrets.json */
#define MPC_BCLI_FILE_MAX    ((size_t)4 * 1024 * 1024 + (size_t)64 * 1024) /* one encrypted file */
#define MPC_BCLI_MAX_FILES   4096 /* files in permanent_keys */
#define MPC_BCLI_NAME_MAX    96

/* The whole struct lives in mpc_secure_alloc() memory. */
struct mpc_bcli_secrets {
	uint8_t p2p_private_key[32];       /* Ed25519 seed: the backup service's TLS key */
	uint8_t near_signer_key[32];       /* Ed25519 seed: its NEAR transaction key (not used) */
	uint8_t local_storage_aes_key[16]; /* AES-128 key of permanent_keys/ */
};

/* Read and parse HOME/secrets.json. *out is freed with mpc_bcli_secrets_free. */
int mpc_bcli_read_secrets(const char *home, struct mpc_bcli_secrets **out, struct mpc_err *e)
	__attribute__((warn_unused_result));
void mpc_bcli_secrets_free(struct mpc_bcli_secrets *s); /* wipes; accepts NULL */

/* Read a node's local storage key: a file holding 32 hex digits (optionally followed by a
 * newline), the value a node is given as its secret store key. *key is mpc_secure_alloc()
 * memory of 16 bytes (mpc_secure_free). */
int mpc_bcli_read_local_key(const char *path, uint8_t **key, struct mpc_err *e)
	__attribute__((warn_unused_result));

struct mpc_bcli_file {
	char name[MPC_BCLI_NAME_MAX]; /* "epoch_<E>_with_<N>_domains" */
	uint64_t epoch;               /* E from the name */
	uint64_t n_domains;           /* N from the name */
	uint64_t size;
	int current; /* 1: the same file as HOME/key (the node's current one) */
};

struct mpc_bcli_listing {
	size_t n;
	struct mpc_bcli_file *items; /* owned; ascending (epoch, n_domains) */
	size_t n_ignored;            /* entries whose name is not epoch_<E>_with_<N>_domains */
	int has_key_link;            /* HOME/key exists */
};

/* List `keys_dir` (HOME/permanent_keys or a node's permanent_keys). `key_link` (may be NULL) is
 * the HOME/key path whose inode marks the current file. Numbers in names are canonical
 * decimal (no sign, no leading zero) or the entry is ignored. */
int mpc_bcli_list(const char *keys_dir, const char *key_link, struct mpc_bcli_listing *out,
		  struct mpc_err *e) __attribute__((warn_unused_result));
void mpc_bcli_listing_free(struct mpc_bcli_listing *l); /* accepts NULL */

struct mpc_bcli_keyset {
	struct mpc_keyset ks; /* owned: the keyset the keyshares' public halves describe */
	uint8_t *keyshares;   /* mpc_secure_alloc(): the Keyshare JSON array, as a node's
				 /get_keyshares answers it */
	size_t len;
};

/* Read, decrypt and parse `keys_dir`/f->name with the 16-byte key: the JSON's epoch_id must
 * equal the name's epoch and the number of keyshares the name's N, every keyshare must carry
 * that epoch, domain ids must be unique (mpc_keyshares_inspect checks the rest of the shape).
 * A GCM failure is MPC_ERR_AUTH naming the file. *out is freed with mpc_bcli_keyset_free. */
int mpc_bcli_open_file(const char *keys_dir, const struct mpc_bcli_file *f, const uint8_t key[16],
		       struct mpc_bcli_keyset *out, struct mpc_err *e)
	__attribute__((warn_unused_result));
void mpc_bcli_keyset_free(struct mpc_bcli_keyset *k); /* wipes; accepts NULL */

#endif
