/* cmd_run.c: `mpc-backup run`, the monitor's process: configuration (file, then flags),
 * signals (SIGTERM/SIGINT stop within a second, SIGHUP re-reads the configuration), the
 * session, the metrics server and the poll loop. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "src/cli/session.h"
#include "src/monitor/monitor.h"
#include "src/util/encoding.h"
#include "src/util/mem.h"

static const char run_help[] =
	"usage: mpc-backup run --store DIR --rpc-url URL [--rpc-url URL ...] --account OPERATOR\n"
	"                      [--contract ACCOUNT] [--rpc-quorum K] [--poll-interval SECONDS]\n"
	"                      [--migration-port PORT] [--metrics-listen ADDR:PORT] [--config FILE]\n"
	"                      [--token URI] [--tls-token URI] [--seal-token URI] [--seal-to URI ...]\n"
	"                      [--pin-file FILE] [--transport-key-file FILE] [--log-level LEVEL]\n"
	"                      [--node-timeout S] [--rpc-timeout S] [--backoff-initial S]\n"
	"                      [--backoff-max S] [--verify-interval S]\n"
	"\n"
	"The monitor. Watches the contract through K agreeing endpoints (default: a majority) and\n"
	"  - backs up the contract's keyset from the operator's node when the store does not cover\n"
	"    it (the node is authenticated by the TLS key the contract lists for the operator);\n"
	"  - pushes the stored keyshares of the contract's keyset to a new node when the contract\n"
	"    names a migration destination for the operator (or the operator's prospective\n"
	"    participant in the Recovery state), authenticated by that destination's TLS key, and\n"
	"    watches the contract until the migration concludes or is cancelled.\n"
	"Every flag can be a line `name = value` in --config FILE (dashes become underscores;\n"
	"address.account.<account> = HOST:PORT and address.key.<ed25519:...> = HOST:PORT override a\n"
	"node's migration address). Flags override the file. SIGHUP re-reads the file. SIGTERM or\n"
	"SIGINT stops within a second. Exit 0 after a signal.\n";

/* Process-wide, set only by the signal handlers. */
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

static const struct option run_opts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "help", no_argument, NULL, 'h' },
	{ "token", required_argument, NULL, 0 },
	{ "tls-token", required_argument, NULL, 0 },
	{ "seal-token", required_argument, NULL, 0 },
	{ "seal-to", required_argument, NULL, 0 },
	{ "pin-file", required_argument, NULL, 0 },
	{ "store", required_argument, NULL, 0 },
	{ "rpc-url", required_argument, NULL, 0 },
	{ "rpc-quorum", required_argument, NULL, 0 },
	{ "contract", required_argument, NULL, 0 },
	{ "account", required_argument, NULL, 0 },
	{ "poll-interval", required_argument, NULL, 0 },
	{ "migration-port", required_argument, NULL, 0 },
	{ "metrics-listen", required_argument, NULL, 0 },
	{ "transport-key-file", required_argument, NULL, 0 },
	{ "node-timeout", required_argument, NULL, 0 },
	{ "node-connect-timeout", required_argument, NULL, 0 },
	{ "rpc-timeout", required_argument, NULL, 0 },
	{ "backoff-initial", required_argument, NULL, 0 },
	{ "backoff-max", required_argument, NULL, 0 },
	{ "verify-interval", required_argument, NULL, 0 },
	{ "log-level", required_argument, NULL, 0 },
	{ NULL, 0, NULL, 0 },
};

/* The file (if any), then the flags. List flags replace the file's list. Returns an exit
 * status (0 ok; 1 for --help printed). */
static int load_config(int argc, char **argv, struct mpc_config *cfg, const char **file,
		       struct mpc_err *e)
{
	int opt, idx, pass;

	if (mpc_cli_check_options("run", argc, argv, run_opts) != 0) {
		mpc_config_defaults(cfg);
		return 2;
	}
	mpc_config_defaults(cfg);
	*file = NULL;
	for (pass = 0; pass < 2; pass++) {
		int rpc_seen = 0, seal_seen = 0;

		opterr = 0;
		optind = 1;
		while ((opt = getopt_long(argc, argv, "", run_opts, &idx)) != -1) {
			char key[64], where[80];
			int rc;

			if (opt == 'h') {
				fputs(run_help, stdout);
				return 1;
			}
			if (opt == 'c') {
				*file = optarg;
				continue;
			}
			if (opt != 0)
				return mpc_cli_bad_option("run", argv);
			if (pass == 0)
				continue;
			snprintf(key, sizeof(key), "%s", run_opts[idx].name);
			for (char *p = key; *p; p++)
				if (*p == '-')
					*p = '_';
			if (strcmp(key, "rpc_url") == 0 && !rpc_seen++) {
				for (size_t i = 0; i < cfg->n_rpc_url; i++)
					free(cfg->rpc_url[i]);
				cfg->n_rpc_url = 0;
			}
			if (strcmp(key, "seal_to") == 0 && !seal_seen++) {
				for (size_t i = 0; i < cfg->n_seal_to; i++)
					free(cfg->seal_to[i]);
				cfg->n_seal_to = 0;
			}
			snprintf(where, sizeof(where), "--%s", run_opts[idx].name);
			rc = mpc_config_set(cfg, key, optarg, where, e);
			if (rc != MPC_OK)
				return mpc_cli_fail("run", e);
		}
		if (pass == 0 && *file != NULL && mpc_config_load_file(cfg, *file, e) != MPC_OK)
			return mpc_cli_fail("run", e);
	}
	if (mpc_cli_no_extra_args("run", argc, argv) != 0)
		return 2;
	if (mpc_config_check(cfg, e) != MPC_OK)
		return mpc_cli_fail("run", e);
	return 0;
}

static void session_options(const struct mpc_config *cfg, struct mpc_cli_common *c,
			    struct mpc_cli_node_opts *no)
{
	mpc_cli_common_init(c);
	if (cfg->token != NULL)
		c->token_uri = cfg->token;
	c->tls_token_uri = cfg->tls_token;
	c->seal_token_uri = cfg->seal_token;
	c->pin.pin_file = cfg->pin_file;
	memset(no, 0, sizeof(*no));
	no->store = cfg->store;
	no->transport_key_file = cfg->transport_key_file;
	no->contract = cfg->contract != NULL ? cfg->contract : "v1.signer";
	no->account = cfg->account;
	no->node_timeout = cfg->node_timeout;
	for (size_t i = 0; i < cfg->n_seal_to && i < MPC_STORE_MAX_TOKENS; i++)
		no->seal_to[no->n_seal_to++] = cfg->seal_to[i];
}

static int make_quorum(const struct mpc_config *cfg, struct mpc_quorum **q, struct mpc_err *e)
{
	struct mpc_rpc_options ro;

	memset(&ro, 0, sizeof(ro));
	ro.contract = cfg->contract;
	ro.timeout_ms = (long)(cfg->rpc_timeout * 1000);
	ro.connect_timeout_ms = (long)(cfg->rpc_timeout * 1000);
	ro.cancel = &stop_flag;
	return mpc_quorum_new((const char *const *)cfg->rpc_url, cfg->n_rpc_url, cfg->rpc_quorum, &ro,
			      q, e);
}

static int same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* SIGHUP: re-read. Settings that need reopened tokens or another store keep their old value
 * (said in the log); everything else takes effect at the next poll. */
static void reload(int argc, char **argv, struct mpc_config *cfg, struct mpc_quorum **q,
		   struct mpc_monitor *m, struct mpc_logger *log)
{
	struct mpc_config fresh;
	struct mpc_quorum *nq = NULL;
	struct mpc_err e = { 0 };
	const char *file;

	if (load_config(argc, argv, &fresh, &file, &e) != 0 ||
	    make_quorum(&fresh, &nq, &e) != MPC_OK) {
		mpc_log(log, MPC_LOG_ERROR, "SIGHUP: configuration not reloaded: %s", e.msg);
		mpc_config_free(&fresh);
		return;
	}
	if (!same(fresh.token, cfg->token) || !same(fresh.tls_token, cfg->tls_token) ||
	    !same(fresh.seal_token, cfg->seal_token) || !same(fresh.store, cfg->store) ||
	    !same(fresh.account, cfg->account) || !same(fresh.transport_key_file, cfg->transport_key_file))
		mpc_log(log, MPC_LOG_WARN,
			"SIGHUP: token, store, account and transport key changes take effect only "
			"after a restart");
	{
		/* Keep what needs a restart; take the rest. */
		char *keep[] = { cfg->token, cfg->tls_token, cfg->seal_token, cfg->store, cfg->account,
				 cfg->transport_key_file, cfg->pin_file };
		char **slot[] = { &fresh.token, &fresh.tls_token, &fresh.seal_token, &fresh.store,
				  &fresh.account, &fresh.transport_key_file, &fresh.pin_file };

		for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
			free(*slot[i]);
			*slot[i] = keep[i];
		}
		cfg->token = cfg->tls_token = cfg->seal_token = cfg->store = cfg->account = NULL;
		cfg->transport_key_file = cfg->pin_file = NULL;
	}
	mpc_config_free(cfg);
	*cfg = fresh;
	mpc_quorum_free(*q);
	*q = nq;
	mpc_monitor_reconfigure(m, cfg, nq);
	if (cfg->log_level != NULL)
		log->min = (enum mpc_log_level)mpc_log_level_parse(cfg->log_level);
	mpc_log(log, MPC_LOG_INFO, "SIGHUP: configuration re-read (%zu endpoints, quorum %zu, poll every %.1f s)",
		mpc_quorum_size(nq), mpc_quorum_threshold(nq), cfg->poll_interval);
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Sleep until `until` (monotonic) in short steps, waking early for a signal. */
static void nap(double until)
{
	while (!stop_flag && !reload_flag) {
		double left = until - mpc_monitor_now();
		struct timespec ts;

		if (left <= 0)
			return;
		if (left > 0.05)
			left = 0.05;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)(left * 1e9);
		nanosleep(&ts, NULL);
	}
}

int mpc_cmd_run(int argc, char **argv)
{
	struct mpc_config cfg;
	struct mpc_cli_common c;
	struct mpc_cli_node_opts no;
	struct mpc_cli_session s;
	struct mpc_logger log = { NULL, MPC_LOG_INFO };
	struct mpc_metrics metrics;
	struct mpc_quorum *q = NULL;
	struct mpc_monitor m;
	struct mpc_err e = { 0 };
	const char *file = NULL;
	char key[MPC_ED25519_KEY_STR_MAX];
	int st, rc, metrics_up = 0;

	st = load_config(argc, argv, &cfg, &file, &e);
	if (st != 0) {
		mpc_config_free(&cfg);
		return st == 1 ? 0 : st;
	}
	if (cfg.log_level != NULL)
		log.min = (enum mpc_log_level)mpc_log_level_parse(cfg.log_level);
	install_signals();
	session_options(&cfg, &c, &no);
	rc = mpc_cli_session_open(&c, &no, MPC_SESSION_NODE_OPS | MPC_SESSION_STORE_CREATE, &s, &e);
	if (rc != MPC_OK) {
		mpc_config_free(&cfg);
		return mpc_cli_fail("run", &e);
	}
	s.ops.cancel = &stop_flag;
	s.ops.connect_timeout_ms = (long)(cfg.node_connect_timeout * 1000);
	rc = mpc_metrics_init(&metrics, &e);
	if (rc == MPC_OK)
		metrics_up = 1;
	if (rc == MPC_OK && cfg.metrics_listen != NULL) {
		unsigned port = 0;

		rc = mpc_metrics_listen(&metrics, cfg.metrics_listen, &port, &e);
		if (rc == MPC_OK)
			mpc_log(&log, MPC_LOG_INFO, "metrics on %s (port %u): /metrics, /healthz",
				cfg.metrics_listen, port);
	}
	if (rc == MPC_OK)
		rc = make_quorum(&cfg, &q, &e);
	if (rc == MPC_OK)
		rc = mpc_ed25519_key_format(s.tls_pub, key, &e);
	if (rc != MPC_OK) {
		st = mpc_cli_fail("run", &e);
		goto out;
	}
	mpc_monitor_init(&m, &cfg, &log, &metrics, q, &s.ops);
	mpc_log(&log, MPC_LOG_INFO,
		"mpc-backup run: operator %s, contract %s, %zu RPC endpoint(s) with quorum %zu, "
		"store %s, TLS key %s, %zu sealing token(s), poll every %.1f s%s%s",
		cfg.account, no.contract, mpc_quorum_size(q), mpc_quorum_threshold(q), cfg.store, key,
		s.n_seal, cfg.poll_interval, file ? ", config " : "", file ? file : "");
	(void)mpc_monitor_verify_store(&m);
	while (!stop_flag) {
		double next = mpc_monitor_now() + cfg.poll_interval;

		(void)mpc_monitor_poll(&m);
		nap(next);
		if (reload_flag) {
			reload_flag = 0;
			reload(argc, argv, &cfg, &q, &m, &log);
		}
	}
	mpc_log(&log, MPC_LOG_INFO, "stopping on a signal");
	st = 0;
out:
	mpc_quorum_free(q);
	if (metrics_up)
		mpc_metrics_destroy(&metrics);
	mpc_cli_session_close(&s);
	mpc_config_free(&cfg);
	return st;
}
