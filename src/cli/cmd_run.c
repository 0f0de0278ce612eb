/* cmd_run.c: `mpc-backup run`: its options (the configuration file, then the flags) and the
 * session (tokens, store, transport key); the process itself (signals, the poll loop, SIGHUP,
 * metrics) is the monitor's daemon (src/monitor/daemon.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/cli/session.h"
#include "src/contract/rpc.h"
#include "src/monitor/daemon.h"

static const char run_help[] =
	"usage: mpc-backup run --store DIR --rpc-url URL [--rpc-url URL ...] --account OPERATOR\n"
	"                      [--contract ACCOUNT] [--rpc-quorum K] [--poll-interval SECONDS]\n"
	"                      [--migration-port PORT] [--metrics-listen ADDR:PORT] [--config FILE]\n"
	"                      [--token URI] [--tls-token URI] [--seal-token URI] [--seal-to URI ...]\n"
	"                      [--token-profile auto|generic|softhsm2|yubihsm2|cloudhsm|kmsp11|nss]\n"
	"                      [--pin-file FILE] [--transport-key-file FILE] [--log-level LEVEL]\n"
	"                      [--node-timeout S] [--rpc-timeout S] [--backoff-initial S]\n"
	"                      [--backoff-max S] [--verify-interval S] [--conclude-timeout S]\n"
	"                      [--log-format text|journal|json] [--uncovered-grace S]\n"
	"                      [--backup-failures-unhealthy N] [--drill-interval S]\n"
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
	"SIGINT stops within a second. Exit 0 after a signal. Under systemd (Type=notify) it says\n"
	"READY=1 after its start-up checks, STATUS= after each poll, pings the watchdog and says\n"
	"STOPPING=1; log lines carry <N> priorities (--log-format journal) when stderr is the\n"
	"journal.\n";

static const struct option run_opts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "help", no_argument, NULL, 'h' },
	{ "token", required_argument, NULL, 0 },
	{ "tls-token", required_argument, NULL, 0 },
	{ "seal-token", required_argument, NULL, 0 },
	{ "token-profile", required_argument, NULL, 0 },
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
	{ "drill-interval", required_argument, NULL, 0 },
	{ "conclude-timeout", required_argument, NULL, 0 },
	{ "log-level", required_argument, NULL, 0 },
	{ "log-format", required_argument, NULL, 0 },
	{ "uncovered-grace", required_argument, NULL, 0 },
	{ "backup-failures-unhealthy", required_argument, NULL, 0 },
	{ NULL, 0, NULL, 0 },
};

/* The error line that stops `run`, as every command prints it; under systemd with the journal
 * as stderr it starts with <3> so that journald records it as an error, like the monitor's own
 * lines. Returns the exit status. */
static int run_fail(struct mpc_err *e)
{
	if (mpc_log_format_default() == MPC_LOG_JOURNAL)
		fputs("<3>", stderr);
	return mpc_cli_fail("run", e);
}

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
				return run_fail(e);
		}
		if (pass == 0 && *file != NULL && mpc_config_load_file(cfg, *file, e) != MPC_OK)
			return run_fail(e);
	}
	if (mpc_cli_no_extra_args("run", argc, argv) != 0)
		return 2;
	if (mpc_config_check(cfg, e) != MPC_OK)
		return run_fail(e);
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
	c->token_profile = cfg->token_profile;
	c->pin.pin_file = cfg->pin_file;
	memset(no, 0, sizeof(*no));
	no->store = cfg->store;
	no->transport_key_file = cfg->transport_key_file;
	no->contract = cfg->contract != NULL ? cfg->contract : MPC_RPC_DEFAULT_CONTRACT;
	no->account = cfg->account;
	no->node_timeout = cfg->node_timeout;
	for (size_t i = 0; i < cfg->n_seal_to && i < MPC_STORE_MAX_TOKENS; i++)
		no->seal_to[no->n_seal_to++] = cfg->seal_to[i];
}

/* SIGHUP: the same options again. */
struct reread_ctx {
	int argc;
	char **argv;
};

static int reread(void *ctx, struct mpc_config *fresh, struct mpc_err *e)
{
	struct reread_ctx *r = ctx;
	const char *file = NULL;

	return load_config(r->argc, r->argv, fresh, &file, e);
}

int mpc_cmd_run(int argc, char **argv)
{
	struct mpc_config cfg;
	struct mpc_cli_common c;
	struct mpc_cli_node_opts no;
	struct mpc_cli_session s;
	struct mpc_logger log = { NULL, MPC_LOG_INFO, MPC_LOG_TEXT };
	struct mpc_daemon_opts d;
	struct reread_ctx rctx = { argc, argv };
	struct mpc_err e = { 0 };
	const volatile sig_atomic_t *stop;
	const char *file = NULL;
	int st, rc;

	st = load_config(argc, argv, &cfg, &file, &e);
	if (st != 0) {
		mpc_config_free(&cfg);
		return st == 1 ? 0 : st;
	}
	if (cfg.log_level != NULL)
		log.min = (enum mpc_log_level)mpc_log_level_parse(cfg.log_level);
	log.format = cfg.log_format != NULL
			     ? (enum mpc_log_format)mpc_log_format_parse(cfg.log_format)
			     : mpc_log_format_default();
	stop = mpc_daemon_signals();
	session_options(&cfg, &c, &no);
	rc = mpc_cli_session_open(&c, &no, MPC_SESSION_NODE_OPS | MPC_SESSION_STORE_CREATE, &s, &e);
	if (rc != MPC_OK && mpc_config_uri_where(&cfg, e.msg) != NULL)
		mpc_err_prefix(&e, "%s: ", mpc_config_uri_where(&cfg, e.msg));
	if (rc != MPC_OK) {
		mpc_config_free(&cfg);
		return run_fail(&e);
	}
	s.ops.cancel = stop;
	s.ops.connect_timeout_ms = (long)(cfg.node_connect_timeout * 1000);
	memset(&d, 0, sizeof(d));
	d.cfg = &cfg;
	d.config_file = file;
	d.ops = &s.ops;
	d.reread = reread;
	d.reread_ctx = &rctx;
	d.log = &log;
	d.version = MPC_VERSION;
	rc = mpc_daemon_run(&d, &e);
	st = rc == MPC_OK ? 0 : run_fail(&e);
	mpc_cli_session_close(&s);
	mpc_config_free(&cfg);
	return st;
}
