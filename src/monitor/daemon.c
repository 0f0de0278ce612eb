/* daemon.c: the run loop of `mpc-backup run`: signals, sleeping, SIGHUP reload, shutdown, and
 * the service manager's protocol (sd_notify: READY, STATUS, WATCHDOG, RELOADING, STOPPING). */
#include "src/monitor/daemon.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "src/contract/rpc.h"
#include "src/monitor/monitor.h"
#include "src/util/clock.h"
#include "src/util/encoding.h"

/* Process-wide, set only by the signal handlers (see daemon.h). */
static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t reload_flag;

static void on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void on_hup(int sig)
{
	(void)sig;
	reload_flag = 1;
}

const volatile sig_atomic_t *mpc_daemon_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	return &stop_flag;
}

static int make_quorum(const struct mpc_config *cfg, struct mpc_quorum **q, struct mpc_err *e)
{
	return mpc_config_quorum_new(cfg, &stop_flag, q, e);
}

static int same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* K = 1 among several endpoints: any one of them decides alone. */
static void warn_quorum(const struct mpc_logger *log, const struct mpc_quorum *q)
{
	if (mpc_quorum_threshold(q) == 1 && mpc_quorum_size(q) >= 2)
		mpc_log(log, MPC_LOG_WARN,
			"rpc_quorum is 1 with %zu endpoints: any single endpoint decides what is backed "
			"up and where keyshares are pushed; use a majority",
			mpc_quorum_size(q));
}

/* The replica settings of cfg moved into fresh (its own freed): the running replica set and the
 * configuration in force must agree when the new set could not be made. */
static void keep_replica_settings(struct mpc_config *cfg, struct mpc_config *fresh)
{
	for (size_t i = 0; i < fresh->n_replica; i++)
		free(fresh->replica[i]);
	free(fresh->rclone_config);
	memcpy(fresh->replica, cfg->replica, sizeof(cfg->replica));
	fresh->n_replica = cfg->n_replica;
	fresh->rclone_config = cfg->rclone_config;
	fresh->replica_timeout = cfg->replica_timeout;
	fresh->replica_grace = cfg->replica_grace;
	memset(cfg->replica, 0, sizeof(cfg->replica));
	cfg->n_replica = 0;
	cfg->rclone_config = NULL;
}

/* SIGHUP: re-read. Settings that need reopened tokens or another store keep their old value
 * (said in the log); everything else takes effect at the next poll. */
static void reload(const struct mpc_daemon_opts *o, struct mpc_quorum **q, struct mpc_monitor *m)
{
	struct mpc_config *cfg = o->cfg, fresh;
	struct mpc_quorum *nq = NULL;
	struct mpc_err e = { 0 };

	mpc_config_defaults(&fresh);
	if (o->reread == NULL) {
		mpc_log(o->log, MPC_LOG_WARN, "SIGHUP: nothing to re-read");
		return;
	}
	if (o->reread(o->reread_ctx, &fresh, &e) != 0 || make_quorum(&fresh, &nq, &e) != MPC_OK) {
		mpc_log(o->log, MPC_LOG_ERROR, "SIGHUP: configuration not reloaded: %s", e.msg);
		mpc_config_free(&fresh);
		return;
	}
	if (!same(fresh.token, cfg->token) || !same(fresh.tls_token, cfg->tls_token) ||
	    !same(fresh.seal_token, cfg->seal_token) || !same(fresh.store, cfg->store) ||
	    !same(fresh.account, cfg->account) ||
	    !same(fresh.transport_key_file, cfg->transport_key_file))
		mpc_log(o->log, MPC_LOG_WARN,
			"SIGHUP: token, store, account and transport key changes take effect only "
			"after a restart");
	{
		/* Keep what needs a restart; take the rest. */
		char *keep[] = { cfg->token,   cfg->tls_token,          cfg->seal_token, cfg->store,
				 cfg->account, cfg->transport_key_file, cfg->pin_file };
		char **slot[] = { &fresh.token,   &fresh.tls_token, &fresh.seal_token,
				  &fresh.store,   &fresh.account,   &fresh.transport_key_file,
				  &fresh.pin_file };

		for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
			free(*slot[i]);
			*slot[i] = keep[i];
		}
		cfg->token = cfg->tls_token = cfg->seal_token = cfg->store = cfg->account = NULL;
		cfg->transport_key_file = cfg->pin_file = NULL;
	}
	if (m->replicas != NULL) {
		struct mpc_monitor_replicas nr;

		if (mpc_monitor_replicas_open(&nr, &fresh, &stop_flag, &e) != MPC_OK) {
			mpc_log(o->log, MPC_LOG_ERROR,
				"SIGHUP: replica settings kept as they were (the rest is re-read): %s",
				e.msg);
			keep_replica_settings(cfg, &fresh);
		} else {
			mpc_monitor_replicas_close(m->replicas);
			*m->replicas = nr;
			mpc_metrics_replicas(m->metrics, NULL, 0);
			mpc_metrics_health(m->metrics, MPC_HEALTH_REPLICA, 1, NULL);
		}
	}
	mpc_config_free(cfg);
	*cfg = fresh;
	mpc_quorum_free(*q);
	*q = nq;
	mpc_monitor_reconfigure(m, cfg, nq);
	if (cfg->log_level != NULL)
		o->log->min = (enum mpc_log_level)mpc_log_level_parse(cfg->log_level);
	if (cfg->log_format != NULL)
		o->log->format = (enum mpc_log_format)mpc_log_format_parse(cfg->log_format);
	mpc_log(o->log, MPC_LOG_INFO,
		"SIGHUP: configuration re-read (%zu endpoints, quorum %zu, poll every %.1f s)",
		mpc_quorum_size(nq), mpc_quorum_threshold(nq), cfg->poll_interval);
	warn_quorum(o->log, nq);
}

/* The watchdog: a ping every half of WatchdogSec, from the run loop only (a hung loop stops the
 * pings and systemd restarts the service). interval 0: no watchdog. */
struct watchdog {
	double interval; /* seconds between pings */
	double next;     /* monotonic */
};

static void watchdog_init(struct watchdog *w)
{
	uint64_t usec = 0;

	memset(w, 0, sizeof(*w));
	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
		w->interval = (double)usec / 2e6;
}

static void watchdog_ping(struct watchdog *w, int force)
{
	double now;

	if (w->interval <= 0)
		return;
	now = mpc_now_monotonic();
	if (!force && now < w->next)
		return;
	sd_notify(0, "WATCHDOG=1");
	w->next = now + w->interval;
}

/* STATUS= for `systemctl status`: what the last poll found (the metrics hold it). */
static void status_line(struct mpc_metrics *mt, const char *prefix)
{
	char line[300];
	int ok, covered, has_epoch;
	unsigned long long epoch;
	const char *part = "";

	pthread_mutex_lock(&mt->mu);
	ok = 1;
	for (int i = 0; i < MPC_HEALTH_N && ok; i++)
		if (!mt->ok[i]) {
			ok = 0;
			part = mt->why[i];
		}
	covered = mt->covered;
	has_epoch = mt->has_contract_epoch;
	epoch = (unsigned long long)mt->contract_epoch;
	pthread_mutex_unlock(&mt->mu);
	if (has_epoch)
		snprintf(line, sizeof(line), "STATUS=%s: contract epoch %llu %s; %s%.200s", prefix,
			 epoch,
			 covered == 1   ? "backed up"
			 : covered == 0 ? "NOT backed up"
					: "(store unreadable)",
			 ok ? "healthy" : "unhealthy: ", ok ? "" : part);
	else
		snprintf(line, sizeof(line), "STATUS=%s: %s%.200s", prefix,
			 ok ? "healthy" : "unhealthy: ", ok ? "" : part);
	for (char *p = line; *p; p++)
		if (*p == '\n')
			*p = ' ';
	sd_notify(0, line);
}

/* The longest one poll can keep the run loop from a watchdog ping, each request bounded by its
 * timeout: the quorum read (the final block, then state and migration_info at it: three
 * rounds of parallel requests), a backup and a push (a node connection and transfer each), and
 * the rare diagnosis of a migration that does not conclude (every endpoint in turn). */
static double longest_poll(const struct mpc_config *cfg)
{
	return 3 * cfg->rpc_timeout + 2 * (cfg->node_connect_timeout + cfg->node_timeout) +
	       (double)cfg->n_rpc_url * cfg->rpc_timeout;
}

static void warn_watchdog(const struct mpc_logger *log, const struct watchdog *w,
			  const struct mpc_config *cfg)
{
	double longest = longest_poll(cfg);

	if (w->interval > 0 && longest > 2 * w->interval)
		mpc_log(log, MPC_LOG_WARN,
			"WatchdogSec (%.0f s) is shorter than the longest one poll can take with these "
			"timeouts (%.0f s: 3 x rpc_timeout, 2 x (node_connect_timeout + "
			"node_timeout), rpc_timeout per endpoint): a slow node or endpoint could get "
			"the service killed by the watchdog; raise WatchdogSec or lower the timeouts",
			2 * w->interval, longest);
	else if (w->interval > 0)
		mpc_log(log, MPC_LOG_DEBUG,
			"watchdog: a ping every %.1f s; one poll takes at most %.0f s", w->interval,
			longest);
}

/* Sleep until `until` (monotonic) in short steps, waking early for a signal. */
static void nap(double until, struct watchdog *w)
{
	while (!stop_flag && !reload_flag) {
		double left = until - mpc_now_monotonic();
		struct timespec ts;

		if (left <= 0)
			return;
		if (left > 0.05)
			left = 0.05;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)(left * 1e9);
		nanosleep(&ts, NULL);
		watchdog_ping(w, 0);
	}
}

/* Sleep until `until` like nap(), but while a token is unavailable wake for each of its
 * re-initialisations (their backoff is shorter than a poll interval at first); when the token is
 * back, return at once so that the next poll backs up what changed meanwhile. */
static void nap_or_recover(struct mpc_monitor *m, double until, struct watchdog *w)
{
	while (!stop_flag && !reload_flag) {
		double due = mpc_monitor_token_due(m);

		if (due <= 0 || due >= until) {
			nap(until, w);
			return;
		}
		nap(due, w);
		if (stop_flag || reload_flag)
			return;
		watchdog_ping(w, 0);
		if (mpc_monitor_token_retry(m) == MPC_OK)
			return;
		watchdog_ping(w, 0);
	}
}

int mpc_daemon_run(const struct mpc_daemon_opts *o, struct mpc_err *e)
{
	struct mpc_config *cfg = o->cfg;
	struct mpc_metrics metrics;
	struct mpc_quorum *q = NULL;
	struct mpc_monitor m;
	struct mpc_monitor_replicas reps;
	struct mpc_ops ops = *o->ops;
	struct watchdog w;
	char key[MPC_ED25519_KEY_STR_MAX];
	int rc, metrics_up = 0;

	ops.cancel = &stop_flag;
	watchdog_init(&w);
	memset(&reps, 0, sizeof(reps));
	rc = mpc_metrics_init(&metrics, e);
	if (rc == MPC_OK) {
		metrics_up = 1;
		mpc_metrics_build(&metrics, o->version);
	}
	if (rc == MPC_OK && cfg->metrics_listen != NULL) {
		unsigned port = 0;

		rc = mpc_metrics_listen(&metrics, cfg->metrics_listen, &port, e);
		if (rc == MPC_OK)
			mpc_log(o->log, MPC_LOG_INFO, "metrics on %s (port %u): /metrics, /healthz",
				cfg->metrics_listen, port);
	}
	if (rc == MPC_OK)
		rc = make_quorum(cfg, &q, e);
	if (rc == MPC_OK)
		rc = mpc_ed25519_key_format(ops.tls_pub, key, e);
	if (rc == MPC_OK && (rc = mpc_monitor_replicas_open(&reps, cfg, &stop_flag, e)) != MPC_OK)
		mpc_err_prefix(e, "replicas: ");
	if (rc != MPC_OK)
		goto out;
	mpc_monitor_init(&m, cfg, o->log, &metrics, q, &ops);
	m.replicas = &reps;
	if (cfg->n_replica > 0)
		mpc_log(o->log, MPC_LOG_INFO, "%zu replica(s) through rclone, configuration %s",
			cfg->n_replica, cfg->rclone_config);
	mpc_log(o->log, MPC_LOG_INFO,
		"mpc-backup run: operator %s, contract %s, %zu RPC endpoint(s) with quorum %zu, "
		"store %s, TLS key %s, %zu sealing token(s), poll every %.1f s%s%s",
		cfg->account, cfg->contract != NULL ? cfg->contract : MPC_RPC_DEFAULT_CONTRACT,
		mpc_quorum_size(q), mpc_quorum_threshold(q), cfg->store, key, ops.n_seal,
		cfg->poll_interval, o->config_file ? ", config " : "",
		o->config_file ? o->config_file : "");
	warn_quorum(o->log, q);
	warn_watchdog(o->log, &w, cfg);
	watchdog_ping(&w, 1);
	sd_notify(0, "STATUS=start-up checks: reading and verifying the store");
	(void)mpc_monitor_read_store(&m);
	(void)mpc_monitor_verify_store(&m);
	/* Ready once what the process takes from the machine is in hand (the token opened with
	 * its PIN, the store read and verified, the metrics port bound): an RPC outage is not a
	 * failed start (systemd would kill and restart it at TimeoutStartSec); /healthz and
	 * STATUS= say whether the endpoints agree. */
	sd_notify(0, "READY=1\nSTATUS=started: first poll");
	mpc_log(o->log, MPC_LOG_DEBUG, "told the service manager READY=1 (if there is one)");
	while (!stop_flag) {
		double next = mpc_now_monotonic() + cfg->poll_interval;

		watchdog_ping(&w, 0);
		(void)mpc_monitor_poll(&m);
		watchdog_ping(&w, 0);
		status_line(&metrics, "polling");
		nap_or_recover(&m, next, &w);
		if (reload_flag) {
			reload_flag = 0;
			sd_notify(0, "RELOADING=1\nSTATUS=re-reading the configuration");
			reload(o, &q, &m);
			warn_watchdog(o->log, &w, cfg);
			sd_notify(0, "READY=1");
		}
	}
	sd_notify(0, "STOPPING=1\nSTATUS=stopping on a signal");
	mpc_log(o->log, MPC_LOG_INFO, "stopping on a signal");
	mpc_monitor_free(&m);
	rc = MPC_OK;
out:
	mpc_monitor_replicas_close(&reps);
	mpc_quorum_free(q);
	if (metrics_up)
		mpc_metrics_destroy(&metrics);
	return rc;
}
