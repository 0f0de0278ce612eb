/* drill.h: restore drills without leaving the token.
 *
 * mpc_drill_run() opens every stored file in the token(s) (mpc_store_verify: each blob
 * unsealed with the header as associated data, the plaintext checked against the header's
 * keyset, wiped), compares each file's keyset with the contract's current keyset, and then
 * restores for real the newest file of the contract's epoch (mpc_store_open_keyset) and checks
 * its plaintext against the contract's keyset (mpc_keyshares_validate: every domain once,
 * epoch, attempts, public keys) before wiping it. Nothing leaves the process or is written.
 *
 * Per-file verdicts:
 *   current     the contract's epoch, every contract domain, same attempts and public keys
 *   superseded  the contract's epoch and keys, but fewer domains (a domain was added since)
 *   older       an older epoch than the contract's (kept for history, not restorable today)
 *   ahead       a later epoch than the contract's (e.g. a resharing that did not conclude)
 *   mismatch    the contract's epoch but a different attempt, curve or public key
 *   failed      did not open in the token, or does not match its own header
 *   quarantined taken out of service (reported, not counted)
 * Without a contract keyset every intact file is "unchecked" and the newest file is restored.
 *
 * The drill is restorable when the newest file of the contract's epoch opens and validates
 * against the contract's keyset (without a contract keyset: the newest file opens).
 */
#ifndef MPC_STORE_DRILL_H
#define MPC_STORE_DRILL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "pkcs11/token.h"
#include "src/model/keyset.h"
#include "src/store/store.h"
#include "src/util/err.h"

enum mpc_drill_verdict {
	MPC_DRILL_CURRENT = 0,
	MPC_DRILL_SUPERSEDED,
	MPC_DRILL_OLDER,
	MPC_DRILL_AHEAD,
	MPC_DRILL_MISMATCH,
	MPC_DRILL_FAILED,
	MPC_DRILL_QUARANTINED,
	MPC_DRILL_UNCHECKED,
};

struct mpc_drill_item {
	char name[MPC_STORE_NAME_MAX];
	uint64_t epoch;
	size_t n_domains;
	int opened; /* 1: every blob for a given token opened and matched */
	enum mpc_drill_verdict verdict;
	char msg[MPC_ERR_MSG_MAX]; /* what was checked, or what failed */
};

struct mpc_drill_replica;

struct mpc_drill_report {
	size_t n;
	struct mpc_drill_item *items; /* owned; in the store's order (oldest first) */
	size_t n_opened, n_failed;    /* over non-quarantined files */
	size_t n_mismatch;            /* files of the contract's epoch that disagree with it */
	int has_contract;
	uint64_t contract_epoch;
	int restorable;                    /* see above */
	char restored[MPC_STORE_NAME_MAX]; /* the file restored in the drill, "" if none */
	int none_of_epoch;                 /* not restorable only because no file has the contract's
					  epoch yet (a backup that is still due) */
	char problem[MPC_ERR_MSG_MAX];     /* why not restorable, "" when restorable */
	uint64_t finished;                 /* Unix seconds */
	double seconds;                    /* wall time of the drill */
	size_t n_replicas;                 /* replica copies drilled (src/store/replica.h) */
	struct mpc_drill_replica *replicas; /* owned; NULL when none */
};

/* The drill of one replica's copies (mpc_replica_drill): each copy downloaded to a private
 * temporary, opened in the token(s) and compared like a store file, then deleted. */
#define MPC_DRILL_REMOTE_MAX 256
struct mpc_drill_replica {
	char remote[MPC_DRILL_REMOTE_MAX];
	int reached;                 /* 1: listed, and every chosen copy downloaded */
	char error[MPC_ERR_MSG_MAX]; /* why not reached (sanitised), "" when reached */
	size_t n_listed;             /* store files the replica lists */
	size_t n_omitted;            /* not drilled: past the bounds (the oldest are left out) */
	struct mpc_drill_report r;   /* verdicts of the copies drilled (r.n_replicas == 0) */
};

/* Run a drill over the store with the given tokens (1..MPC_STORE_MAX_TOKENS). contract_ks may
 * be NULL (no contract view). Fails only when the report cannot be made (the store cannot be
 * read, no memory); per-file failures and restorability are in *out (free with
 * mpc_drill_report_free). */
int mpc_drill_run(const struct mpc_store *s, struct mpc_token *const *tokens, size_t n_tokens,
		  const struct mpc_keyset *contract_ks, struct mpc_drill_report *out,
		  struct mpc_err *e) __attribute__((warn_unused_result));
void mpc_drill_report_free(struct mpc_drill_report *r); /* accepts NULL */

/* Add room for one more replica result to r (zeroed, remote copied in); NULL on no memory. */
struct mpc_drill_replica *mpc_drill_add_replica(struct mpc_drill_report *r, const char *remote);

/* Static "current", "superseded", ... */
const char *mpc_drill_verdict_name(enum mpc_drill_verdict v);

/* The report as JSON (a new reference, NULL with e set); replica copies under "replicas", each
 * {"remote", "reached", "error", "listed", "omitted", and the fields of its own report}. */
json_t *mpc_drill_report_json(const struct mpc_drill_report *r, struct mpc_err *e);

/* The report as Prometheus text (HELP/TYPE lines, then the samples; for the monitor's
 * /metrics), NUL-terminated in buf:
 *   mpc_backup_last_drill_timestamp_seconds <finished>
 *   mpc_backup_last_drill_duration_seconds <seconds>
 *   mpc_backup_last_drill_restorable 0|1
 *   mpc_backup_last_drill_contract_epoch <epoch>          (only with a contract keyset)
 *   mpc_backup_last_drill_files{verdict="<name>"} <count> (every verdict, 0 included)
 * and per replica drilled (label replica="<remote:path>"):
 *   mpc_backup_last_drill_replica_reached{replica=} 0|1
 *   mpc_backup_last_drill_replica_restorable{replica=} 0|1
 *   mpc_backup_last_drill_replica_omitted{replica=} <files past the bounds>
 *   mpc_backup_last_drill_replica_files{replica=,verdict=} <count>
 * Returns the length, or -1 (MPC_ERR_TOO_LARGE in e) if cap is too small (MPC_DRILL_METRICS_MAX
 * is enough for MPC_REPLICA_MAX replicas: each takes at most about 700 bytes plus 22 remote
 * names of MPC_DRILL_REMOTE_MAX, 6.3 KiB, and the local lines less than 8 KiB). */
#define MPC_DRILL_METRICS_MAX 65536
int mpc_drill_metrics_text(const struct mpc_drill_report *r, char *buf, size_t cap,
			   struct mpc_err *e);

#endif
