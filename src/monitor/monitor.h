/* monitor.h: `mpc-backup run`'s state machine (drawn in docs/design.md, "The monitor").
 *
 * Every poll reads the contract through the quorum reader and, only when the endpoints agree:
 *   backup duty   the keyset to back up is not covered by the store -> fetch it from the
 *                 operator's node (authenticated by the contract's TLS key for the operator's
 *                 account), validate, seal, store;
 *   push duty     a destination for the operator in migration_info (or, in the seed design's
 *                 Recovery state, the operator's prospective participant with a new TLS key)
 *                 -> push the stored keyshares of exactly the contract's keyset to it,
 *                 authenticated by the destination's contract TLS key, once per distinct
 *                 destination and keyset (again when the contract's keyset changes, e.g. domains
 *                 added within an epoch); then watch for the contract to conclude (the
 *                 destination is now the operator's participant) or cancel (it is gone).
 *                 A target, or its end, is acted on only when two consecutive agreeing polls
 *                 show it (a one-poll flicker never sends keyshares), and a migration is pushed
 *                 only while the contract is Running (the node imports only then).
 *   oddities      the epoch going backwards, the operator leaving the participants, an unknown
 *                 state, this service's registration missing: logged when each starts and
 *                 clears, counted, shown in /healthz and /metrics.
 * Failures retry with capped exponential backoff, also when the contract does not change; each
 * distinct failure is logged once and the recovery from it once.
 *
 * One thread; the metrics server runs in its own (metrics.h).
 */
#ifndef MPC_MONITOR_MONITOR_H
#define MPC_MONITOR_MONITOR_H

#include <signal.h>
#include <stdint.h>

#include "src/contract/address.h"
#include "src/contract/participants.h"
#include "src/contract/quorum.h"
#include "src/monitor/config.h"
#include "src/monitor/log.h"
#include "src/monitor/metrics.h"
#include "src/monitor/ops.h"
#include "src/monitor/replicas.h"
#include "src/monitor/retry.h"
#include "src/util/clock.h"

enum mpc_push_kind {
	MPC_PUSH_MIGRATION = 1,
	MPC_PUSH_RECOVERY = 2
};

/* The push duty's states, as docs/design.md ("The monitor") draws them. CONCLUDED and CANCELLED
 * are where a push ends (logged and counted once); they act as IDLE until a target appears. */
enum mpc_push_phase {
	MPC_PUSH_IDLE = 0,  /* no destination named */
	MPC_PUSH_PENDING,   /* a destination named, its keyshares not (yet) taken */
	MPC_PUSH_SENT,      /* the node took the keyshares: waiting for the contract */
	MPC_PUSH_CONCLUDED, /* the destination became the operator's participant */
	MPC_PUSH_CANCELLED, /* the destination disappeared without becoming it */
};

/* "idle", "pending", ... */
const char *mpc_push_phase_name(enum mpc_push_phase p);

struct mpc_push_state {
	enum mpc_push_phase phase;
	enum mpc_push_kind kind;
	struct mpc_participant_info target; /* the destination as the contract names it */
	char address[MPC_ADDRESS_MAX];
	uint64_t epoch;         /* the keyset epoch pushed (or to push) */
	unsigned pushes_ok;     /* pushes to this destination the node took */
	unsigned pushes_failed; /* pushes to this destination that failed */
	int has_pushed;
	struct mpc_keyset pushed; /* owned: the keyset the node last took */
	double sent_at;           /* monotonic: when it was taken */
	int diagnosed;            /* the conclude-timeout diagnosis was logged */
	struct mpc_retry retry;
};

struct mpc_monitor {
	const struct mpc_config *cfg;   /* borrowed; replaced on reload */
	const struct mpc_logger *log;   /* borrowed */
	struct mpc_metrics *metrics;    /* borrowed */
	struct mpc_quorum *quorum;      /* borrowed */
	struct mpc_ops ops;             /* borrowed pointers inside */
	struct mpc_address_config addr; /* points into cfg */
	struct mpc_retry read;          /* contract reads (log-once only) */
	struct mpc_retry backup;
	struct mpc_push_state push;
	char note[MPC_ERR_MSG_MAX];      /* the last "cannot act" notice, logged once */
	char push_note[MPC_ERR_MSG_MAX]; /* the last "push waits" notice, logged once */
	int has_prev;
	struct mpc_contract_view prev; /* owned: the previous agreeing poll's view */
	int has_announced;             /* a target seen in one poll, not yet acted on */
	enum mpc_push_kind announced_kind;
	struct mpc_participant_info announced;
	int has_max_epoch;
	uint64_t max_epoch; /* the highest keyset epoch seen */
	int had_own;        /* the operator was a participant */
	double next_verify;
	double uncovered_since; /* monotonic: when the contract's keyset was first seen uncovered;
				   0 while covered */
	struct mpc_monitor_replicas *replicas; /* borrowed, NULL: none (set by the daemon) */
	double next_drill;                     /* 0: at the first poll */
	/* The tokens (tokens.c): from when one is found unavailable until mpc_token_reinit()
	 * brings every one back, no duty uses them. */
	int token_down;
	double token_down_since;          /* monotonic */
	double token_next_try;            /* monotonic: the next re-initialisation */
	double token_delay;               /* the current backoff, seconds */
	unsigned token_tries;             /* re-initialisations tried while down */
	char token_last[MPC_ERR_MSG_MAX]; /* the last re-initialisation failure */
};

/* Prepare (no I/O). cfg, log, metrics, quorum and the ops' objects must outlive m. */
void mpc_monitor_init(struct mpc_monitor *m, const struct mpc_config *cfg,
		      const struct mpc_logger *log, struct mpc_metrics *metrics,
		      struct mpc_quorum *quorum, const struct mpc_ops *ops);

/* Release what the monitor owns (accepts a zeroed monitor). */
void mpc_monitor_free(struct mpc_monitor *m);

/* Point at a new configuration (after SIGHUP); keeps the duties' state. */
void mpc_monitor_reconfigure(struct mpc_monitor *m, const struct mpc_config *cfg,
			     struct mpc_quorum *quorum);

/* One poll: read, decide, act. Returns MPC_OK or the reason nothing could be read. */
int mpc_monitor_poll(struct mpc_monitor *m);

/* Read the store's headers (no token): the newest backup's epoch and time go to the metrics, so
 * that a restart does not forget them. Logs; MPC_OK or why the store cannot be listed. */
int mpc_monitor_read_store(struct mpc_monitor *m);

/* A restore drill (src/store/drill.h) against the contract's keyset (NULL: none); logs each
 * file that fails or disagrees and keeps the mpc_backup_last_drill_* metrics. Returns MPC_OK
 * when the newest keyset of the contract's epoch restores. */
int mpc_monitor_drill(struct mpc_monitor *m, const struct mpc_keyset *contract_ks);

/* Verify the whole store with the sealing tokens; logs and updates store health. */
int mpc_monitor_verify_store(struct mpc_monitor *m);

/* A token that goes away and comes back (tokens.c; docs/design.md, "A token that goes away").
 * A token found unavailable (MPC_ERR_TOKEN_UNAVAILABLE from an operation, or a probe after a
 * failed one, or the probe at the start of each poll) is logged once, shown as /healthz
 * "token unavailable" and mpc_backup_token_available 0; no backup, push, verification or drill
 * runs meanwhile, so none can report a good file as failing or blame a node. Its module is
 * re-initialised with backoff (token_retry_initial doubling to token_retry_max); when every
 * token is back that is logged once, the store is verified at the next poll and the backup duty
 * backs up whatever the contract's keyset became meanwhile. */

/* Probe every token (cheap: no session used). 1 if one is unavailable (now or already), 0 if
 * all answer. Logs and records the loss once. */
int mpc_monitor_token_probe(struct mpc_monitor *m, double now);

/* Record that a token is unavailable (`why`: the message saying so). Logs once per outage. */
void mpc_monitor_token_lost(struct mpc_monitor *m, double now, const char *why);

/* While a token is unavailable, the monotonic time of the next re-initialisation (the daemon
 * wakes for it); 0 while every token is available. */
double mpc_monitor_token_due(const struct mpc_monitor *m);

/* If a token is unavailable and its re-initialisation is due, try it (mpc_token_reinit): logs
 * once when every token is back. MPC_OK when every token is available, else why not. */
int mpc_monitor_token_retry(struct mpc_monitor *m);

#endif
