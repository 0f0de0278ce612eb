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

#include "src/util/err.h"

#define MPC_METRICS_MAX_ENDPOINTS 16
#define MPC_METRICS_BUCKETS 9

struct mpc_metrics {
	pthread_mutex_t mu;
	uint64_t last_backup_epoch;
	int has_backup;
	double last_backup_time;          /* Unix seconds */
	uint64_t backups_ok, backups_error, backups_covered;
	uint64_t pushes_ok, pushes_error;
	uint64_t migrations_concluded, migrations_cancelled;
	uint64_t disagreements;
	uint64_t polls;
	struct {
		char name[128];
		uint64_t ok, error, disagree;
	} endpoints[MPC_METRICS_MAX_ENDPOINTS];
	size_t n_endpoints;
	uint64_t token_buckets[MPC_METRICS_BUCKETS]; /* cumulative at render time */
	uint64_t token_count;
	double token_sum;
	/* health */
	int contract_ok, token_ok, store_ok;
	char contract_why[256], token_why[256], store_why[256];
	void *daemon; /* struct MHD_Daemon * */
};

int mpc_metrics_init(struct mpc_metrics *m, struct mpc_err *e);
void mpc_metrics_destroy(struct mpc_metrics *m); /* stops the server too */

/* Serve on "ADDR:PORT" (IPv4, or [IPv6]:PORT). PORT 0 picks one; *port gets the bound port. */
int mpc_metrics_listen(struct mpc_metrics *m, const char *listen, unsigned *port,
		       struct mpc_err *e);

/* Updates (each takes the mutex). */
void mpc_metrics_endpoint(struct mpc_metrics *m, const char *name, int status /* 0 ok, 1 error,
								 2 disagree */);
void mpc_metrics_token_op(struct mpc_metrics *m, double seconds);
void mpc_metrics_health(struct mpc_metrics *m, int which /* 0 contract 1 token 2 store */, int ok,
			const char *why);

void mpc_metrics_lock(struct mpc_metrics *m);
void mpc_metrics_unlock(struct mpc_metrics *m);

/* Render /metrics into buf (NUL-terminated). Returns the length, or 0 if cap was too small. */
size_t mpc_metrics_render(struct mpc_metrics *m, char *buf, size_t cap);

#endif
