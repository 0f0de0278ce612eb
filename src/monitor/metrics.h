/* metrics.h: the monitor's counters, and the HTTP endpoint that serves them
 * (libmicrohttpd, its own thread): Prometheus text on /metrics, and /healthz answering 200
 * "ok" while the last contract read, the token and the store are healthy, else 503 with the
 * reasons. The monitor thread updates under the struct's mutex; the HTTP thread reads under it.
 * Endpoint labels are redacted names (scheme://host[:port]) only.
 */
#ifndef MPC_MONITOR_METRICS_H
#define MPC_MONITOR_METRICS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "src/contract/url.h"
#include "src/store/replica.h"
#include "src/util/err.h"

#define MPC_METRICS_MAX_ENDPOINTS   16
#define MPC_METRICS_BUCKETS         9
#define MPC_METRICS_PER_CLIENT      8   /* connections one client address may hold */
#define MPC_METRICS_MAX_CONNECTIONS 256 /* all clients together */
#define MPC_METRICS_IDLE_S          5   /* an idle connection is closed after this */

/* The counters, each a monotonic total. */
enum mpc_counter {
	MPC_COUNT_POLLS = 0,
	MPC_COUNT_BACKUPS_OK,
	MPC_COUNT_BACKUPS_ERROR,
	MPC_COUNT_BACKUPS_COVERED,
	MPC_COUNT_PUSHES_OK,
	MPC_COUNT_PUSHES_ERROR,
	MPC_COUNT_MIGRATIONS_CONCLUDED,
	MPC_COUNT_MIGRATIONS_CANCELLED,
	MPC_COUNT_DISAGREEMENTS,
	MPC_COUNT_N
};

/* The parts /healthz reports on; all must be healthy for a 200. */
enum mpc_health {
	MPC_HEALTH_CONTRACT = 0, /* the last contract read agreed */
	MPC_HEALTH_TOKEN,        /* the last token operation worked */
	MPC_HEALTH_STORE,        /* the store verifies and can be read */
	MPC_HEALTH_COVERAGE,     /* the contract's keyset is backed up, or not for long */
	MPC_HEALTH_BACKUP,       /* backups are not failing again and again */
	MPC_HEALTH_REPLICA,      /* no replica behind for longer than replica_grace */
	MPC_HEALTH_N
};

/* The contract's oddities: each is logged when it starts and when it clears, counted each time
 * it starts, shown as a gauge, and makes /healthz 503 with its reason while it lasts. */
enum mpc_anomaly {
	MPC_ANOMALY_EPOCH_BACKWARDS = 0, /* the keyset's epoch is below one seen before */
	MPC_ANOMALY_OPERATOR_GONE,       /* the operator was a participant and is not any more */
	MPC_ANOMALY_UNKNOWN_STATE,       /* a state variant this build does not know */
	MPC_ANOMALY_REGISTRATION,        /* migration_info does not list this service's key */
	MPC_ANOMALY_N
};

/* "epoch_backwards", "operator_gone", "unknown_state", "registration". */
const char *mpc_anomaly_name(enum mpc_anomaly a);

/* How a contract read ended, per endpoint (the quorum's enum mpc_endpoint_status values). */
enum mpc_read_outcome {
	MPC_READ_OK = 0,
	MPC_READ_ERROR = 1,
	MPC_READ_DISAGREE = 2
};

#define MPC_METRICS_BODY_MAX (4u * 1024 * 1024)

struct mpc_metrics {
	pthread_mutex_t mu;
	uint64_t last_backup_epoch;
	int has_backup;
	double last_backup_time; /* Unix seconds */
	uint64_t contract_epoch; /* the keyset epoch of the last agreed read */
	int has_contract_epoch;
	int covered;         /* -1 unknown, 0/1: the store covers the contract's keyset */
	double last_poll_ok; /* Unix seconds of the last agreed read; 0 none */
	char version[32];    /* build info */
	uint64_t count[MPC_COUNT_N];
	struct {
		char name[MPC_URL_REDACTED_MAX]; /* a redacted endpoint name */
		uint64_t ok, error, disagree;
	} endpoints[MPC_METRICS_MAX_ENDPOINTS];
	size_t n_endpoints;
	uint64_t token_buckets[MPC_METRICS_BUCKETS]; /* cumulative at render time */
	uint64_t token_count;
	double token_sum;
	int ok[MPC_HEALTH_N];
	char why[MPC_HEALTH_N][256];
	int anomaly[MPC_ANOMALY_N];        /* active */
	uint64_t anomalies[MPC_ANOMALY_N]; /* times started */
	char anomaly_why[MPC_ANOMALY_N][256];
	struct mpc_replica_status replicas[MPC_REPLICA_MAX]; /* as of the last replica pass */
	size_t n_replicas;
	char drill
		[MPC_DRILL_METRICS_MAX]; /* the last drill's lines (mpc_drill_metrics_text), "" before one */
	void *daemon;                    /* struct MHD_Daemon * */
	/* the tokens: 0 from a token found unavailable until it is back, and how often */
	int token_available;
	uint64_t token_losses;
	/* /metrics renders into render_cap bytes (0: 64 KiB), doubling up to render_max (0:
	 * MPC_METRICS_BODY_MAX); past it the answer is 500 with a message, never a cut body */
	size_t render_cap, render_max;
};

/* Every field below is changed only through these functions (each takes the mutex); the HTTP
 * thread reads under the same mutex. */
int mpc_metrics_init(struct mpc_metrics *m, struct mpc_err *e);
/* The build's version for mpc_backup_build_info (copied; NULL: "unknown"). */
void mpc_metrics_build(struct mpc_metrics *m, const char *version);
void mpc_metrics_destroy(struct mpc_metrics *m); /* stops the server too */

/* Serve on "ADDR:PORT" (IPv4, or [IPv6]:PORT). PORT 0 picks one; *port gets the bound port. */
int mpc_metrics_listen(struct mpc_metrics *m, const char *listen, unsigned *port,
		       struct mpc_err *e);

void mpc_metrics_count(struct mpc_metrics *m, enum mpc_counter c);
/* A backup of `epoch` was stored at Unix time `when`. */
void mpc_metrics_backup_stored(struct mpc_metrics *m, uint64_t epoch, double when);
/* The newest backup the store held at start (not counted as a backup of this process). */
void mpc_metrics_backup_found(struct mpc_metrics *m, uint64_t epoch, double when);
/* An agreed read at Unix time `when`: the contract's keyset epoch (has_epoch 0: no keyset) and
 * whether the store covers it (-1: unknown). */
void mpc_metrics_poll_ok(struct mpc_metrics *m, double when, int has_epoch, uint64_t epoch,
			 int covered);
void mpc_metrics_endpoint(struct mpc_metrics *m, const char *name, enum mpc_read_outcome o);
void mpc_metrics_token_op(struct mpc_metrics *m, double seconds);
/* Set one part's health; `why` (may be NULL) is shown by /healthz while it is unhealthy. */
void mpc_metrics_health(struct mpc_metrics *m, enum mpc_health part, int ok, const char *why);
/* Set an anomaly active (with why, may be NULL) or cleared. Returns 1 when that changed it (the
 * caller logs the start or the end), 0 when it stays as it was. */
int mpc_metrics_anomaly(struct mpc_metrics *m, enum mpc_anomaly a, int active, const char *why);
/* The replicas' status after a pass (n <= MPC_REPLICA_MAX; 0: none configured). */
void mpc_metrics_replicas(struct mpc_metrics *m, const struct mpc_replica_status *st, size_t n);
/* Keep the last restore drill's metric lines (text from mpc_drill_metrics_text, copied). */
void mpc_metrics_drill(struct mpc_metrics *m, const char *text);
/* Every token answers (1), or one was found unavailable (0; each 1 -> 0 is counted). */
void mpc_metrics_token_available(struct mpc_metrics *m, int available);
/* A counter's value (tests and benchmarks). */
uint64_t mpc_metrics_get(struct mpc_metrics *m, enum mpc_counter c);

/* Render /metrics into buf (NUL-terminated). Returns the length, or 0 if cap was too small. */
size_t mpc_metrics_render(struct mpc_metrics *m, char *buf, size_t cap);

#endif
