/* format.h: the byte layout of one sealed store file and its file name (docs/store-format.md).
 *
 * A file is   header || blobs   where the header (all of it, magic included) is the associated
 * data of every sealed blob:
 *   header  = "MPCSTORE" | u16 version (1) | u32 body_len | body
 *   body    = u64 epoch | u64 created | str8 contract | str8 operator
 *             | u8 n_tokens | n_tokens * (u8 mech | str8 serial | str8 label | str8 key_label
 *                                         | str8 key_id)
 *             | u32 n_domains | n_domains * (u64 domain_id | u64 attempt | u8 curve | u8 pk_len
 *                                            | pk)
 *   blobs   = u8 n_blobs (== n_tokens) | n_blobs * (u8 token_index (== i) | u32 len | blob)
 * Integers are big-endian; str8 is a u8 length and that many printable ASCII bytes. The file ends
 * exactly after the last blob. The file name is
 *   keyset-e<epoch, 20 decimal digits>-<first 8 bytes of SHA-256(header), 16 hex>.mpcs
 * so it binds the header (epoch and digest), and names sort by epoch.
 *
 * Parsing is bounded everywhere (hostile files): every length is checked against the bytes left
 * and the limits below before use. Errors are MPC_ERR_PARSE (or MPC_ERR_TOO_LARGE) naming the
 * field. Nothing here holds secrets: blobs are ciphertext.
 */
#ifndef MPC_STORE_FORMAT_H
#define MPC_STORE_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "pkcs11/seal.h"
#include "src/store/keyshares.h"
#include "src/model/keyset.h"
#include "src/util/err.h"

#define MPC_STORE_MAGIC       "MPCSTORE"
#define MPC_STORE_MAGIC_LEN   8
#define MPC_STORE_VERSION     1
#define MPC_STORE_PREFIX_LEN  14 /* magic + version + body_len */
#define MPC_STORE_MAX_TOKENS  4
#define MPC_STORE_HEADER_MAX  (1024u * 1024) /* body_len bound */
#define MPC_STORE_BLOB_MAX    (MPC_STORE_KEYSHARES_MAX + 4096u)
#define MPC_STORE_ACCOUNT_MAX 64 /* NEAR account ids are at most 64 bytes */
#define MPC_STORE_NAME_MAX    64 /* file name incl. NUL (actual: 50 + 1) */
#define MPC_STORE_DIGEST_HEX  16
#define MPC_STORE_FILE_MAX                                         \
	((size_t)MPC_STORE_PREFIX_LEN + MPC_STORE_HEADER_MAX + 1 + \
	 (size_t)MPC_STORE_MAX_TOKENS * (5 + MPC_STORE_BLOB_MAX))

/* The identity of one sealing token and key, recorded so a file names what opens it. */
struct mpc_store_token_id {
	enum mpc_seal_mech mech;
	char serial[17];    /* CK_TOKEN_INFO serialNumber, trimmed */
	char label[33];     /* CK_TOKEN_INFO label, trimmed */
	char key_label[65]; /* CKA_LABEL of the sealing key ("mpc-backup-seal-gcm") */
	size_t key_id_len;
	uint8_t key_id[32]; /* CKA_ID of the sealing key */
};

struct mpc_store_header {
	uint16_t version;
	uint64_t epoch;   /* == keyset.epoch_id */
	uint64_t created; /* Unix seconds */
	char contract[MPC_STORE_ACCOUNT_MAX + 1];
	char operator_[MPC_STORE_ACCOUNT_MAX + 1];
	size_t n_tokens;
	struct mpc_store_token_id tokens[MPC_STORE_MAX_TOKENS];
	struct mpc_keyset keyset; /* owned: domains in keyset order */
};

/* A blob inside a parsed file: borrowed pointer into the file's buffer. */
struct mpc_store_blob_ref {
	size_t token_index;
	const uint8_t *p;
	size_t len;
};

/* Serialise the header. *out is malloc()ed (*len bytes), owned by the caller. Refuses (with
 * MPC_ERR_INVALID) what the parser would refuse: no domains, too many, duplicate domain ids, a
 * public key of the wrong length for its curve, strings too long or not printable ASCII. */
int mpc_store_header_encode(const struct mpc_store_header *h, uint8_t **out, size_t *len,
			    struct mpc_err *e);

/* Parse a whole file: header into *h (free with mpc_store_header_free), the header's byte length
 * into *hdr_len (the AAD is buf[0 .. *hdr_len)), and the blobs into blobs[] (borrowed from buf).
 * With blobs == NULL only the header is parsed (buf may then stop after it). */
int mpc_store_file_parse(const uint8_t *buf, size_t len, struct mpc_store_header *h,
			 size_t *hdr_len, struct mpc_store_blob_ref blobs[MPC_STORE_MAX_TOKENS],
			 size_t *n_blobs, struct mpc_err *e) __attribute__((warn_unused_result));

/* The header's total length from its first MPC_STORE_PREFIX_LEN bytes (checks magic, version,
 * bound). */
int mpc_store_header_len(const uint8_t *prefix, size_t len, size_t *hdr_len, struct mpc_err *e);

/* Assemble header || blobs into one malloc()ed buffer. */
int mpc_store_file_build(const uint8_t *hdr, size_t hdr_len, const uint8_t *const *blobs,
			 const size_t *blob_lens, size_t n_blobs, uint8_t **out, size_t *len,
			 struct mpc_err *e);

/* The file name for a header's bytes. */
int mpc_store_file_name(const uint8_t *hdr, size_t hdr_len, uint64_t epoch,
			char out[MPC_STORE_NAME_MAX], struct mpc_err *e);

/* 1 if `name` has the shape of a store file name (then *epoch and digest are filled), else 0. */
int mpc_store_name_parse(const char *name, uint64_t *epoch, char digest[MPC_STORE_DIGEST_HEX + 1]);

/* 1 if `name` is a temporary file of the write protocol (".tmp-" prefix). */
int mpc_store_name_is_temp(const char *name);

void mpc_store_header_free(struct mpc_store_header *h);

#endif
