/* bcli_writer.h: an independent writer of backup-cli's on-disk format for the import tests:
 * OpenSSL EVP used directly and JSON written with printf, sharing no code with the reader in
 * src/store/import_backupcli.c, so a misunderstanding of the format cannot pass unnoticed.
 */
#ifndef MPC_TESTS_IMPORT_BCLI_WRITER_H
#define MPC_TESTS_IMPORT_BCLI_WRITER_H

#include <stddef.h>
#include <stdint.h>

/* HOME/secrets.json as serde_json writes backup-cli's PersistentSecrets (ed25519-dalek's
 * SigningKey as 32 numbers, [u8; 16] as 16 numbers), with the given file mode. */
int bw_write_secrets(const char *home, const uint8_t p2p[32], const uint8_t signer[32],
		     const uint8_t aes[16], unsigned mode);

/* HOME_OR_KEYS_DIR/<name> = nonce(12) || AES-128-GCM(plaintext) || tag(16), and, when link
 * is not NULL, hard-link it as `link` (replacing it) like the node does with HOME/key. */
int bw_write_keyfile(const char *dir, const char *name, const uint8_t aes[16],
		     const uint8_t *plaintext, size_t len, const char *link);

/* The JSON {"epoch_id":E,"keyshares":<shares_json>} in malloc() memory (NUL-terminated). */
char *bw_permanent_json(uint64_t epoch, const uint8_t *shares_json, size_t len);

#endif
