/* replica.h: copies of the store's sealed files on remote replicas through rclone, their
 * verification, and fetching a store back from a replica (docs/store-format.md "Replicas").
 *
 * A replica is an rclone remote path ("name:path", the remote defined in rclone's own
 * configuration file). rclone runs as a child process (posix_spawn, an argv array, never a
 * shell), stdin /dev/null, stdout and stderr captured through pipes with a size bound, in its own
 * process group that is killed on timeout, with `--config FILE` always given, the environment
 * reduced to PATH, HOME, TMPDIR and LC_ALL=C (no RCLONE_* variable of the caller). Its
 * configuration file is checked like a PIN file (mpc_file_check, MPC_FILE_SECRET): a regular
 * file owned by the effective user or root with no group or other permission bits, in
 * directories only they can change. rclone is only ever given the store's sealed
 * files, one by name (`rclone copyto DIR/NAME REMOTE/.tmp-<host>-NAME`), which is then moved
 * into place with `rclone moveto --ignore-existing`, so an interrupted upload never leaves a
 * file under a real name and an existing file is never overwritten. Messages quoting rclone's
 * output are sanitised: one short line, URL userinfo/path/query removed, non-printable bytes
 * replaced.
 *
 * Findings per replica: "behind" = a local file the replica lacks, "different" = same name,
 * other size or digest, "extra" = a store file on the replica that is not in the local store
 * (pruned here, or written by another host: counted, never an error, never deleted). Digests are
 * compared with whichever of SHA-256, SHA-1 and MD5 the remote lists (`rclone lsjson --hash`);
 * mpc_replica_verify() downloads and hashes (`rclone hashsum sha256 --download`) what the remote
 * cannot hash itself.
 *
 * Errors: MPC_OK or negative MPC_ERR_* with one line in e. A replica that is down or refuses is
 * not an error of sync/verify: it is reported per replica in the report. Nothing is printed.
 * Not thread-safe: one set is used by one thread at a time.
 */
#ifndef MPC_STORE_REPLICA_H
#define MPC_STORE_REPLICA_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "pkcs11/token.h"
#include "src/store/drill.h"
#include "src/store/store.h"
#include "src/util/err.h"

#define MPC_REPLICA_MAX             8                    /* replicas in one set */
#define MPC_REPLICA_REMOTE_MAX      MPC_DRILL_REMOTE_MAX /* "remote:path" incl. NUL: 256 */
#define MPC_REPLICA_FINDINGS_MAX    32                   /* new findings carried by one report */
#define MPC_REPLICA_DEFAULT_RCLONE  "/usr/bin/rclone"
#define MPC_REPLICA_DEFAULT_TIMEOUT 60.0  /* seconds for one rclone call */
#define MPC_REPLICA_BACKOFF_BASE    30.0  /* a replica that timed out is left alone this long, */
#define MPC_REPLICA_BACKOFF_MAX     600.0 /* doubling per consecutive timeout up to this */
#define MPC_REPLICA_FETCH_FILES_MAX 4096  /* store files one fetch takes */
#define MPC_REPLICA_FETCH_BYTES_MAX ((uint64_t)2 << 30) /* bytes one fetch takes */
#define MPC_REPLICA_DRILL_FILES_MAX 64 /* copies drilled per replica (the newest) */
#define MPC_REPLICA_DRILL_BYTES_MAX ((uint64_t)256 << 20) /* bytes a drill downloads/replica */

struct mpc_replica_opts {
	const char *rclone;  /* rclone program; NULL: MPC_REPLICA_DEFAULT_RCLONE */
	const char *config;  /* rclone configuration file (required; checked as above) */
	double call_timeout; /* seconds for one rclone call; 0: MPC_REPLICA_DEFAULT_TIMEOUT */
	const char *host_id; /* names this host's temporaries; NULL: the host name */
	/* set by a signal handler: a running rclone is killed and the pass ends; may be NULL */
	const volatile sig_atomic_t *cancel;
};

/* Where one replica stands (cumulative in the set; copied into each report). */
struct mpc_replica_status {
	char remote[MPC_REPLICA_REMOTE_MAX];
	int reached; /* 1: the last pass listed the replica */
	/* Unix seconds of the last pass that listed it and copied all it had to (0: never) */
	uint64_t last_success;
	/* Unix seconds since it is behind, different or unreachable (0 while current) */
	uint64_t behind_since;
	size_t files_behind; /* as of the last pass */
	size_t files_different;
	size_t files_extra;
	size_t files_unhashed;       /* present but not compared by digest (remote lists no hash) */
	uint64_t uploads_total;      /* files copied to it */
	uint64_t failures_total;     /* failed rclone calls */
	uint64_t findings_total;     /* findings reported (each once) */
	double last_upload_seconds;  /* time of the last file's copy (copyto + moveto) */
	double upload_seconds_total; /* time of all copies (per file: / uploads_total) */
	char last_error[MPC_ERR_MSG_MAX]; /* sanitised; empty after a clean pass */
};

enum mpc_replica_finding_kind {
	MPC_REPLICA_BEHIND,    /* local file not on the replica (and not copied this pass) */
	MPC_REPLICA_DIFFERENT, /* same name, other size or digest */
	MPC_REPLICA_EXTRA,     /* store file on the replica only */
};

struct mpc_replica_finding {
	size_t replica; /* index in the set */
	enum mpc_replica_finding_kind kind;
	char name[MPC_STORE_NAME_MAX];
	char detail[128];
};

struct mpc_replica_report {
	size_t n;                                         /* replicas */
	struct mpc_replica_status items[MPC_REPLICA_MAX]; /* snapshot after the pass */
	size_t uploaded;    /* files copied in this pass (all replicas) */
	size_t failed;      /* replicas this pass could not list or fully copy to */
	size_t skipped;     /* replicas not tried because the deadline had passed */
	size_t backing_off; /* replicas not tried: they timed out recently (see BACKOFF) */
	size_t n_findings;  /* new findings (each reported once while it lasts) */
	struct mpc_replica_finding findings[MPC_REPLICA_FINDINGS_MAX];
	size_t findings_omitted; /* new findings beyond the array (reported on a later pass) */
	double seconds;
	/* copies not moved into place because the replica had the name by then (another host
	 * wrote it between the listing and the move): not counted as uploaded */
	size_t already_present;
	int all_current; /* 1: every replica reached, nothing behind or different */
};

struct mpc_replica_set;

/* A set with no replica yet. Checks the configuration file and that rclone is an executable
 * file: MPC_ERR_STATE (mode/owner), MPC_ERR_NOT_FOUND, MPC_ERR_USAGE (bad option). */
int mpc_replica_set_new(const struct mpc_replica_opts *o, struct mpc_replica_set **out,
			struct mpc_err *e) __attribute__((warn_unused_result));
void mpc_replica_set_free(struct mpc_replica_set *s); /* accepts NULL */

/* Add "remote:path" (printable ASCII, a ':' after a non-empty remote name, no leading '-', no
 * "..", under MPC_REPLICA_REMOTE_MAX). MPC_ERR_USAGE naming what is wrong (without quoting more
 * than the remote's name), MPC_ERR_EXISTS for a duplicate, MPC_ERR_TOO_LARGE past
 * MPC_REPLICA_MAX. */
int mpc_replica_set_add(struct mpc_replica_set *s, const char *remote, struct mpc_err *e)
	__attribute__((warn_unused_result));
size_t mpc_replica_set_count(const struct mpc_replica_set *s);
/* The current status of replica i (< count), e.g. for /metrics between passes. */
void mpc_replica_status_get(const struct mpc_replica_set *s, size_t i,
			    struct mpc_replica_status *out);

/* Catch every replica up with the store: list it, copy each non-quarantined readable store
 * file it lacks, compare the others by size and listed digest. `deadline` is a CLOCK_MONOTONIC
 * time in seconds (mpc_replica_now() + budget; 0: none): no rclone call outlives it, replicas
 * not reached before it are skipped. A replica whose listing timed out (a hung or black-holed
 * server) is not tried again for MPC_REPLICA_BACKOFF_BASE seconds, doubling per consecutive
 * timeout up to MPC_REPLICA_BACKOFF_MAX, so a dead server costs a poll loop one call timeout
 * per backoff period, not one per poll (a refused connection or refused credentials fail fast
 * and are retried every pass). Fails only when the local store cannot be read (or out of
 * memory); per-replica outcomes are in *out (always filled on MPC_OK). */
int mpc_replica_sync(struct mpc_replica_set *s, const struct mpc_store *store, double deadline,
		     struct mpc_replica_report *out, struct mpc_err *e)
	__attribute__((warn_unused_result));

/* List and compare every replica by size and digest (downloading to hash what the remote cannot
 * hash), copying nothing. Same contract as mpc_replica_sync. */
int mpc_replica_verify(struct mpc_replica_set *s, const struct mpc_store *store, double deadline,
		       struct mpc_replica_report *out, struct mpc_err *e)
	__attribute__((warn_unused_result));

/* Number of replicas that have been behind or different for more than `grace` seconds (a
 * replica never reached since the set was made counts from the set's creation). */
size_t mpc_replica_overdue(const struct mpc_replica_set *s, double grace);

/* CLOCK_MONOTONIC seconds (for deadlines). */
double mpc_replica_now(void);

/* ---- fetch: fill a store on a new host from one replica ---- */

struct mpc_replica_fetch_item {
	char name[MPC_STORE_NAME_MAX];
	int accepted; /* 1: written into the store (or already there, identical) */
	int code;     /* MPC_OK or why it was refused */
	char msg[MPC_ERR_MSG_MAX];
};

struct mpc_replica_fetch_report {
	size_t n;
	struct mpc_replica_fetch_item *items; /* owned; by name */
	size_t n_accepted, n_refused, n_present;
	int verified; /* 1: files were opened in the token(s) */
};

/* Download the store files of `remote` (at most MPC_REPLICA_FETCH_FILES_MAX files and
 * MPC_REPLICA_FETCH_BYTES_MAX bytes as listed, else MPC_ERR_TOO_LARGE with nothing fetched) one
 * rclone call per file (each with the call timeout) into a staging directory
 * DIR/.tmp-fetch-XXXXXX (each at most MPC_STORE_FILE_MAX bytes), check each file's header and that its name carries its
 * header's epoch and digest (mpc_store_file_parse, mpc_store_file_name) and, with n_tokens > 0,
 * open it in the tokens (mpc_store_verify); write every accepted file into the store durably
 * (never replacing) and remove the staging directory. A store that already holds files is
 * refused (MPC_ERR_EXISTS, nothing written) unless every file in it is on the replica with the
 * same bytes (a resumed fetch). MPC_ERR_NOT_FOUND if the replica holds no store file. Per-file
 * refusals are in the report (the function still returns MPC_OK). */
int mpc_replica_fetch(const struct mpc_replica_opts *o, const char *remote,
		      const struct mpc_store *store, struct mpc_token *const *tokens,
		      size_t n_tokens, struct mpc_replica_fetch_report *out, struct mpc_err *e)
	__attribute__((warn_unused_result));
void mpc_replica_fetch_report_free(struct mpc_replica_fetch_report *r); /* accepts NULL */

/* ---- drills of the replica copies ---- */

/* Append to r one mpc_drill_replica per replica of the set (drill.h): its store files listed,
 * the newest MPC_REPLICA_DRILL_FILES_MAX within MPC_REPLICA_DRILL_BYTES_MAX each downloaded (one
 * rclone call per file) into a private staging directory in the store's directory
 * (.tmp-drill-XXXXXX, mode 0700, files 0600; nothing in the store itself is touched), its name
 * checked against its header, opened in the tokens and compared with contract_ks (NULL: none) by
 * mpc_drill_run, and the staging directory removed. A replica that cannot be listed or
 * downloaded from, that is backing off after a timeout, or that the deadline (monotonic seconds,
 * 0: none) leaves no time for is reported not reached. Fails only on no memory. */
int mpc_replica_drill(struct mpc_replica_set *s, const struct mpc_store *store,
		      struct mpc_token *const *tokens, size_t n_tokens,
		      const struct mpc_keyset *contract_ks, double deadline,
		      struct mpc_drill_report *r, struct mpc_err *e)
	__attribute__((warn_unused_result));

/* ---- JSON for the CLI and the monitor (new references, NULL with e set on failure) ---- */
json_t *mpc_replica_report_json(const struct mpc_replica_report *r, struct mpc_err *e);
json_t *mpc_replica_fetch_report_json(const struct mpc_replica_fetch_report *r, struct mpc_err *e);
const char *mpc_replica_finding_name(enum mpc_replica_finding_kind k);

/* ---- the rclone runner (replica_run.c; exposed for tests) ---- */

/* Sanitise rclone output into one short printable line (cap bytes incl. NUL): the last line
 * that says ERROR/Failed/error (else the last non-empty one), its log timestamp dropped, any
 * URL reduced to scheme://host[:port], non-printable bytes as '?'. */
void mpc_replica_sanitize(const char *in, size_t len, char *out, size_t cap);

#endif
