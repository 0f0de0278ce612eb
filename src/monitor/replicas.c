/* replicas.c: replicas in the run loop: when to copy and compare, logging once, metrics. */
#include "src/monitor/replicas.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/util/clock.h"

int mpc_monitor_replicas_open(struct mpc_monitor_replicas *r, const struct mpc_config *cfg,
			      const volatile sig_atomic_t *cancel, struct mpc_err *e)
{
	struct mpc_replica_opts o = { 0 };
	struct mpc_replica_set *set = NULL;
	int rc;

	memset(r, 0, sizeof(*r));
	if (cfg->n_replica == 0)
		return MPC_OK;
	o.config = cfg->rclone_config;
	o.call_timeout = cfg->replica_timeout;
	o.cancel = cancel;
	rc = mpc_replica_set_new(&o, &set, e);
	for (size_t i = 0; rc == MPC_OK && i < cfg->n_replica; i++)
		rc = mpc_replica_set_add(set, cfg->replica[i], e);
	if (rc != MPC_OK) {
		mpc_replica_set_free(set);
		return rc;
	}
	r->set = set;
	r->pending = 1;
	r->next_verify = mpc_now_monotonic() + cfg->verify_interval;
	return MPC_OK;
}

void mpc_monitor_replicas_close(struct mpc_monitor_replicas *r)
{
	mpc_replica_set_free(r->set);
	memset(r, 0, sizeof(*r));
}

void mpc_monitor_replicas_step(struct mpc_monitor_replicas *r, const struct mpc_config *cfg,
			       const struct mpc_logger *log, struct mpc_metrics *metrics,
			       const struct mpc_store *store, int stored)
{
	struct mpc_replica_report *rep;
	struct mpc_err e = { 0 };
	double now = mpc_now_monotonic(), budget;
	int verify, rc;
	size_t overdue;

	if (r->set == NULL)
		return;
	verify = now >= r->next_verify;
	if (!stored && !r->pending && !verify)
		return;
	rep = calloc(1, sizeof(*rep));
	if (rep == NULL) {
		mpc_log(log, MPC_LOG_ERROR, "replicas: out of memory");
		return;
	}
	/* at most one poll interval (at least one call timeout's worth of a replica) */
	budget = cfg->poll_interval > 5 ? cfg->poll_interval : 5;
	rc = verify ? mpc_replica_verify(r->set, store, now + budget, rep, &e)
		    : mpc_replica_sync(r->set, store, now + budget, rep, &e);
	if (verify)
		r->next_verify = now + cfg->verify_interval;
	if (rc != MPC_OK) {
		mpc_log(log, MPC_LOG_ERROR, "replicas: %s", e.msg);
		r->pending = 1;
		free(rep);
		return;
	}
	if (rep->uploaded > 0)
		mpc_log(log, MPC_LOG_INFO, "replicas: %zu file(s) copied in %.1f s", rep->uploaded,
			rep->seconds);
	for (size_t i = 0; i < rep->n_findings; i++) {
		const struct mpc_replica_finding *f = &rep->findings[i];

		mpc_log(log, f->kind == MPC_REPLICA_EXTRA ? MPC_LOG_INFO : MPC_LOG_WARN,
			"replica %s: %s %s: %s", rep->items[f->replica].remote,
			mpc_replica_finding_name(f->kind), f->name, f->detail);
	}
	for (size_t i = 0; i < rep->n; i++) {
		const struct mpc_replica_status *st = &rep->items[i];

		if (strcmp(st->last_error, r->err[i]) == 0)
			continue;
		if (st->last_error[0] != '\0')
			mpc_log(log, MPC_LOG_WARN, "replica %s: %s", st->remote, st->last_error);
		else
			mpc_log(log, MPC_LOG_INFO, "replica %s: reachable again", st->remote);
		snprintf(r->err[i], sizeof(r->err[i]), "%s", st->last_error);
	}
	/* copy again next poll while anything is behind; else wait for a backup or verify */
	r->pending = !rep->all_current;
	mpc_metrics_replicas(metrics, rep->items, rep->n);
	overdue = mpc_replica_overdue(r->set, cfg->replica_grace);
	if (overdue > 0) {
		char why[256];

		snprintf(why, sizeof(why), "%zu replica(s) behind for more than %.0f s", overdue,
			 cfg->replica_grace);
		mpc_metrics_health(metrics, MPC_HEALTH_REPLICA, 0, why);
	} else {
		mpc_metrics_health(metrics, MPC_HEALTH_REPLICA, 1, NULL);
	}
	free(rep);
}
