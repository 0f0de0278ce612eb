/* replicas.h: the monitor's use of replicas (src/store/replica.h): a pass after each poll that
 * stored a backup or left a replica behind, a comparison by digest every verify_interval, each
 * finding and each replica error logged once, per-replica metrics, and /healthz unhealthy
 * while a replica has been behind for longer than replica_grace.
 *
 * A replica never delays the backup: the pass runs after the poll's duties, when the new file
 * is already durable, and is bounded by one poll interval (a replica that timed out is then
 * left alone for a while: MPC_REPLICA_BACKOFF_*).
 */
#ifndef MPC_MONITOR_REPLICAS_H
#define MPC_MONITOR_REPLICAS_H

#include "src/monitor/config.h"
#include "src/monitor/log.h"
#include "src/monitor/metrics.h"
#include "src/store/replica.h"

struct mpc_monitor_replicas {
	struct mpc_replica_set *set;                /* owned; NULL when no replica is configured */
	double next_verify;                         /* monotonic */
	int pending;                                /* a pass is due at the next step */
	char err[MPC_REPLICA_MAX][MPC_ERR_MSG_MAX]; /* the error last logged per replica */
};

/* Build the set from cfg (nothing when cfg->n_replica == 0); `cancel` (may be NULL), set by a
 * stop signal, kills a running rclone at once. Checks rclone and its
 * configuration file (MPC_ERR_STATE / MPC_ERR_NOT_FOUND / MPC_ERR_USAGE). A first pass is due. */
int mpc_monitor_replicas_open(struct mpc_monitor_replicas *r, const struct mpc_config *cfg,
			      const volatile sig_atomic_t *cancel, struct mpc_err *e)
	__attribute__((warn_unused_result));
void mpc_monitor_replicas_close(struct mpc_monitor_replicas *r); /* accepts a zeroed one */

/* After a poll: `stored` = this poll stored a backup. Runs a pass when one is due, logs,
 * updates metrics and the replica health. */
void mpc_monitor_replicas_step(struct mpc_monitor_replicas *r, const struct mpc_config *cfg,
			       const struct mpc_logger *log, struct mpc_metrics *metrics,
			       const struct mpc_store *store, int stored);

#endif
