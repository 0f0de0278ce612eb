/* store.h: the sealed keyshare store: one sealed file per backed-up keyset in a directory.
 *
 * Layout (docs/store-format.md):
 *   DIR/keyset-e<epoch:20>-<digest:16>.mpcs   one file per backup, never rewritten
 *   DIR/quarantine/<same names>              files taken out of service by quarantine()
 *   DIR/.tmp-*                               temporaries of an interrupted write (ignored)
 *   DIR/.lock                                flock()ed by every writer
 * Each file's header (epoch, domains with attempts and public keys, accounts, sealing tokens,
 * creation time) is the associated data of its sealed blobs, and the file name carries the
 * epoch and a digest of the header: editing, truncating, renaming or swapping headers between
 * files makes opening fail.
 *
 * Rules:
 * - Only the effective user (or root) controls the store: the directory, quarantine/ and every
 *   file read must be owned by the effective user or root and not writable by group or others,
 *   and the directories above the store by the rules of mpc_dir_open_checked() (src/util/file.h).
 *   A directory that fails is an error (MPC_ERR_STATE naming the path and the chown/chmod fix);
 *   a file that fails is listed as untrusted, and coverage, put, prune and restore refuse to
 *   work while a non-quarantined untrusted file is there (a header planted by another user must
 *   never count as a backup).
 * - Nothing is overwritten: every backup adds a new file (link(2) never replaces).
 * - No downgrade: a keyset of an older epoch than the newest non-quarantined file is refused
 *   (MPC_ERR_STATE). A keyset already covered is refused with MPC_ERR_EXISTS.
 * - Newest = greatest (epoch, number of domains, created, name) among non-quarantined files
 *   with a readable header.
 * - Covered = some non-quarantined file has the same or a later epoch and every domain of the
 *   keyset; for the same epoch also the same attempt, curve and public key per domain.
 *   Coverage and the downgrade rule read headers only (no token): mpc_store_verify() is what
 *   authenticates the files.
 * - prune(keep) removes only the oldest non-quarantined files beyond `keep` (>= 1): the newest
 *   is never removed. Quarantined and unreadable files are never removed.
 *
 * Errors: MPC_OK or negative MPC_ERR_* with one line in e. Library code never prints.
 * Plaintext keyshares are only ever in mpc_secure_alloc() memory.
 */
#ifndef MPC_STORE_STORE_H
#define MPC_STORE_STORE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "pkcs11/seal.h"
#include "pkcs11/token.h"
#include "src/model/keyset.h"
#include "src/store/format.h"
#include "src/util/err.h"

struct mpc_store {
	char dir[PATH_MAX];
};

/* Open the store in `dir`; with `create`, make the directory (0700) if missing and its .lock.
 * *out is freed with mpc_store_close. MPC_ERR_NOT_FOUND if the directory is missing and
 * !create; MPC_ERR_STATE (path and fix) if it or a directory above it is not trusted (Rules). */
int mpc_store_open(const char *dir, int create, struct mpc_store **out, struct mpc_err *e)
	__attribute__((warn_unused_result));
void mpc_store_close(struct mpc_store *s); /* accepts NULL */

/* ---- writing ---- */

struct mpc_store_put_stats {
	double token_seconds; /* time spent in mpc_seal (all tokens) */
	double disk_seconds;  /* time spent writing, fsyncing and linking */
};

struct mpc_store_put_opts {
	struct mpc_token *const *tokens; /* 1..MPC_STORE_MAX_TOKENS tokens, each gets a blob */
	size_t n_tokens;
	enum mpc_seal_mech mech;           /* MPC_SEAL_AUTO: each token's best */
	const char *contract;              /* contract account, or NULL */
	const char *operator_;             /* operator account, or NULL */
	uint64_t created;                  /* Unix seconds; 0 means now */
	struct mpc_store_put_stats *stats; /* optional */
};

/* Validate `keyshares` (the node's plaintext bytes, `len` bytes, in secure memory) against `ks`
 * (mpc_keyshares_validate: MPC_ERR_INVALID naming the domain on a mismatch), apply the
 * downgrade and coverage rules, seal the bytes unchanged to every token with the header as
 * associated data, and add the file atomically and durably. Also removes temporaries left by
 * crashed writers. On success the new file's name is copied to name_out (may be NULL). On any
 * failure the store is as it was. */
int mpc_store_put(const struct mpc_store *s, const struct mpc_store_put_opts *o,
		  const struct mpc_keyset *ks, const uint8_t *keyshares, size_t len,
		  char name_out[MPC_STORE_NAME_MAX], struct mpc_err *e)
	__attribute__((warn_unused_result));

/* Remove the oldest non-quarantined files beyond the `keep` newest (keep >= 1, else
 * MPC_ERR_USAGE). *removed (may be NULL) gets how many. */
int mpc_store_prune(const struct mpc_store *s, size_t keep, size_t *removed, struct mpc_err *e);

/* Move every file of `epoch` into DIR/quarantine/. MPC_ERR_NOT_FOUND if there is none. */
int mpc_store_quarantine(const struct mpc_store *s, uint64_t epoch, size_t *moved,
			 struct mpc_err *e);

/* Remove temporaries of interrupted writes and finish interrupted quarantine moves. */
int mpc_store_cleanup(const struct mpc_store *s, size_t *removed, struct mpc_err *e);

/* ---- reading headers ---- */

struct mpc_store_entry {
	char name[MPC_STORE_NAME_MAX];
	int quarantined;
	int header_ok;    /* 0: unreadable or not matching its name; see problem */
	int problem_code; /* MPC_ERR_* of the problem when !header_ok */
	int untrusted;    /* 1: another user could have written it (see problem) */
	char problem[MPC_ERR_MSG_MAX];
	uint64_t size;               /* file size in bytes */
	int newest;                  /* 1 for the newest non-quarantined file */
	struct mpc_store_header hdr; /* owned; valid when header_ok */
};

struct mpc_store_list {
	size_t n;
	struct mpc_store_entry *items; /* owned; oldest first (by the newest order above) */
	size_t n_temp;                 /* temporaries seen (ignored) */
};

/* Read every file's header (not the sealed part; no token needed). Files that are not store
 * files by name are ignored. */
int mpc_store_list(const struct mpc_store *s, struct mpc_store_list *out, struct mpc_err *e)
	__attribute__((warn_unused_result));
void mpc_store_list_free(struct mpc_store_list *l); /* accepts NULL */

/* *covered = 1 if a non-quarantined file covers `ks` (its name to by, may be NULL). */
int mpc_store_covers(const struct mpc_store *s, const struct mpc_keyset *ks, int *covered,
		     char by[MPC_STORE_NAME_MAX], struct mpc_err *e)
	__attribute__((warn_unused_result));

/* ---- opening sealed content ---- */

struct mpc_store_verify_item {
	char name[MPC_STORE_NAME_MAX];
	int quarantined;
	uint64_t epoch; /* from the header (0 if unreadable) */
	size_t n_domains;
	int ok;                    /* 1: every blob for an open token opened and matched */
	int code;                  /* MPC_OK or the failure's MPC_ERR_* */
	size_t blobs_checked;      /* blobs opened with a token given */
	size_t blobs_unchecked;    /* blobs for tokens not given */
	char msg[MPC_ERR_MSG_MAX]; /* the failure, or a summary of what was checked */
};

struct mpc_store_verify_report {
	size_t n;
	struct mpc_store_verify_item *items; /* owned; same order as mpc_store_list */
	size_t n_ok, n_failed;               /* over non-quarantined files */
	size_t n_temp;
	int all_ok; /* 1: at least one non-quarantined file and none of them failed */
};

/* Open every file (quarantined ones too, reported but not counted) with the given tokens: name
 * bound to header, each blob whose token is given unsealed with the header as associated data,
 * the plaintext checked against the header's keyset, and all blobs' plaintexts identical. The
 * function fails only when the report cannot be made; per-file failures are in the report. A
 * token that is unavailable (pkcs11/token.h) stops it with MPC_ERR_TOKEN_UNAVAILABLE and no
 * report: that says nothing about any file. */
int mpc_store_verify(const struct mpc_store *s, struct mpc_token *const *tokens, size_t n_tokens,
		     struct mpc_store_verify_report *out, struct mpc_err *e)
	__attribute__((warn_unused_result));
void mpc_store_verify_report_free(struct mpc_store_verify_report *r); /* accepts NULL */

struct mpc_store_restore {
	char name[MPC_STORE_NAME_MAX];
	struct mpc_store_header hdr; /* owned; hdr.keyset is the keyset of the keyshares */
	uint8_t *keyshares;          /* mpc_secure_alloc(): the node's bytes exactly as stored */
	size_t keyshares_len;
};

/* Open for restore the newest non-quarantined file (all_epochs != 0) or the newest
 * non-quarantined file of `epoch`, with the first of `tokens` the file is sealed to.
 * MPC_ERR_NOT_FOUND for an empty store or no file for the epoch; MPC_ERR_AUTH / MPC_ERR_PARSE
 * for a damaged or tampered file (never a fallback to another file). Free with
 * mpc_store_restore_free, which wipes the keyshares. */
int mpc_store_open_keyset(const struct mpc_store *s, struct mpc_token *const *tokens,
			  size_t n_tokens, int newest, uint64_t epoch,
			  struct mpc_store_restore *out, struct mpc_err *e)
	__attribute__((warn_unused_result));
void mpc_store_restore_free(struct mpc_store_restore *r); /* accepts NULL */

/* ---- JSON for the CLI (new references, NULL with e set on failure) ---- */
json_t *mpc_store_entry_json(const struct mpc_store_entry *en, struct mpc_err *e);
json_t *mpc_store_list_json(const struct mpc_store_list *l, struct mpc_err *e);
json_t *mpc_store_verify_item_json(const struct mpc_store_verify_item *it, struct mpc_err *e);
json_t *mpc_store_verify_report_json(const struct mpc_store_verify_report *r, struct mpc_err *e);

#endif
