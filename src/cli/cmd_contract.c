/* cmd_contract.c: `mpc-backup contract status`: what the contract says for the operator, read
 * through the same quorum the monitor uses. */
#include <stdlib.h>
#include <string.h>

#include "pkcs11/ed25519.h"
#include "src/cli/cfgopts.h"
#include "src/cli/cli.h"
#include "src/contract/status.h"
#include "src/contract/url.h"
#include "src/monitor/config.h"
#include "src/node/debug_config.h"
#include "src/store/store.h"

enum {
	OPT_DEBUG_PORT = MPC_OPT_FIRST_COMMAND_OPTION
};

static const char contract_help[] =
	"usage: mpc-backup contract status --rpc-url URL [--rpc-url URL ...] --account OPERATOR\n"
	"                                  [--contract ACCOUNT] [--rpc-quorum K]\n"
	"                                  [--migration-port PORT] [--store DIR] [--token URI] [--json]\n"
	"                                  [--debug-port PORT]\n"
	"       mpc-backup contract status --config FILE [options]\n"
	"\n"
	"Reads `state` and `migration_info` from every endpoint and prints the protocol state,\n"
	"the keyset (epoch, domains, attempts, curves), the operator's node (contract URL, derived\n"
	"migration address, TLS key), the registered backup key and whether it is this token's\n"
	"(with --token), the migration entry, whether the store covers the keyset (with --store),\n"
	"and whether the endpoints agree. Only scheme and host of an RPC URL are ever printed.\n"
	"With --debug-port PORT (the node's web UI port, normally 8080) it also asks the node's\n"
	"own debug page (http://<node host>:PORT/debug/node_config) which migration port it\n"
	"serves (8079, or 8081 on older nodes) and prints that as an unauthenticated hint; it\n"
	"never changes where the backup service connects or which TLS key it pins.\n"
	"With --config, the migration address honours the file's address.* overrides as `run`\n"
	"does. Exit 0 when K endpoints agree, 25 when an answering endpoint disagrees; when\n"
	"fewer than K answer: 23 if they timed out, else 24 (refused, HTTP or RPC errors).\n"
	"\n"
	"options:\n"
	"  --migration-port PORT  the node's migration port when no override applies (8079)\n"
	"  --debug-port PORT    ask the node's debug page which migration port it serves\n" MPC_CLI_CFG_HELP
		MPC_CLI_COMMON_HELP;

struct covers_ctx {
	struct mpc_store *store;
};

static int covers_cb(void *ctx, const struct mpc_keyset *ks)
{
	struct covers_ctx *c = ctx;
	struct mpc_err e = { 0 };
	int covered = 0;

	if (c->store == NULL || mpc_store_covers(c->store, ks, &covered, NULL, &e) != MPC_OK)
		return MPC_TRI_UNKNOWN;
	return covered ? MPC_TRI_YES : MPC_TRI_NO;
}

/* The TLS public key of the token, if one was named: read without a PIN where the token lets
 * it be (see mpc_token_tls_public_key). */
static int token_key(const struct mpc_cli_common *c, uint8_t pub[32], struct mpc_err *e)
{
	struct mpc_cli_tokens tk;
	int rc = mpc_cli_open_tokens(c, MPC_CLI_NEED_TLS | MPC_CLI_PUBLIC, &tk, e);

	if (rc == MPC_OK) {
		rc = mpc_token_tls_public_key(tk.tls, pub, NULL, e);
		mpc_cli_close_tokens(&tk);
	}
	return rc;
}

/* Add the node's own migration port hint to the status (item: older nodes serve 8081). */
static void add_port_hint(json_t *status, unsigned debug_port)
{
	const char *url =
		json_string_value(json_object_get(json_object_get(status, "node"), "url"));
	struct mpc_url_parts u;
	struct mpc_err e = { 0 };
	uint16_t port = 0;
	char source[400];
	json_t *h;

	if (url == NULL || debug_port == 0 || mpc_url_split(url, &u, "node url", NULL) != MPC_OK)
		return;
	snprintf(source, sizeof(source), "http://%s%s%s:%u/debug/node_config", u.ipv6 ? "[" : "",
		 u.host, u.ipv6 ? "]" : "", debug_port);
	h = json_object();
	if (h == NULL)
		return;
	if (mpc_node_migration_port_hint(u.host, (uint16_t)debug_port, 0, &port, &e) == MPC_OK) {
		json_object_set_new(h, "port", json_integer(port));
		json_object_set_new(h, "error", json_null());
	} else {
		json_object_set_new(h, "port", json_null());
		json_object_set_new(h, "error", json_string(e.msg));
	}
	json_object_set_new(h, "source", json_string(source));
	json_object_set_new(status, "migration_port_hint", h);
}

struct contract_ctx {
	unsigned debug_port; /* opt-in: it contacts a host the contract names, in clear */
};

static int contract_opt(void *ctx, int opt, const char *arg)
{
	struct contract_ctx *cc = ctx;
	char *end = NULL;
	unsigned long v;

	if (opt != OPT_DEBUG_PORT)
		return 0;
	v = strtoul(arg, &end, 10);
	if (arg[0] == '\0' || *end != '\0' || v == 0 || v > 65535 || arg[0] == '-') {
		mpc_cli_usage("contract status", "--debug-port: a port 1..65535");
		return -1;
	}
	cc->debug_port = (unsigned)v;
	return 1;
}

int mpc_cmd_contract(int argc, char **argv)
{
	static const struct option opts[] = {
		MPC_CLI_CFG_OPTIONS,
		{ "migration-port", required_argument, NULL, 0 },
		{ "debug-port", required_argument, NULL, OPT_DEBUG_PORT },
		{ NULL, 0, NULL, 0 },
	};
	struct mpc_cli_cfg a;
	struct contract_ctx ctx = { 0 };
	struct mpc_err e = { 0 };
	struct mpc_status_args sa;
	struct mpc_rpc_options ro;
	struct mpc_address_config addr;
	struct covers_ctx cc = { NULL };
	uint8_t pub[32];
	json_t *status = NULL;
	int rc, poll_rc = MPC_OK, want_token, st;

	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		fputs(contract_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "status") != 0) {
		static const char *const subs[] = { "status", NULL };

		return mpc_cli_unknown_subcommand("contract", argv[1], subs);
	}
	st = mpc_cli_cfg_parse("contract status", contract_help, argc - 1, argv + 1, opts, &a,
			       contract_opt, &ctx);
	if (st != 0)
		return st < 0 ? 0 : st;
	if (a.cfg.n_rpc_url == 0 || a.cfg.account == NULL) {
		mpc_config_free(&a.cfg);
		return mpc_cli_usage("contract status", "--rpc-url URL and --account OPERATOR (or "
							"--config) are required");
	}
	/* the token is only opened when one is named (it may ask for a PIN) */
	want_token = a.cfg.token != NULL || a.cfg.tls_token != NULL;
	rc = MPC_OK;
	if (want_token)
		rc = token_key(&a.c, pub, &e);
	if (rc == MPC_OK && a.cfg.store != NULL)
		rc = mpc_store_open(a.cfg.store, 0, &cc.store, &e);
	if (rc == MPC_OK) {
		memset(&ro, 0, sizeof(ro));
		ro.contract = a.cfg.contract;
		ro.timeout_ms = (long)(a.cfg.rpc_timeout * 1000);
		ro.cancel = mpc_cli_cancel_flag();
		memset(&addr, 0, sizeof(addr));
		addr.migration_port = (uint16_t)a.cfg.migration_port;
		/* address.* overrides from --config, as `run` applies them */
		addr.overrides = a.cfg.overrides;
		addr.n_overrides = a.cfg.n_overrides;
		memset(&sa, 0, sizeof(sa));
		sa.rpc_urls = (const char *const *)a.cfg.rpc_url;
		sa.n_urls = a.cfg.n_rpc_url;
		sa.quorum = a.cfg.rpc_quorum;
		sa.rpc = &ro;
		sa.operator_account = a.cfg.account;
		sa.own_tls_key = want_token ? pub : NULL;
		sa.addresses = &addr;
		sa.covers = a.cfg.store != NULL ? covers_cb : NULL;
		sa.covers_ctx = &cc;
		rc = mpc_contract_status_run(&sa, &status, &poll_rc, &e);
	}
	mpc_store_close(cc.store);
	if (rc == MPC_OK)
		add_port_hint(status, ctx.debug_port);
	mpc_config_free(&a.cfg);
	if (rc != MPC_OK)
		return mpc_cli_fail("contract status", &e);
	if (a.json) {
		st = mpc_cli_print_json(status);
	} else {
		char *text = NULL;

		rc = mpc_status_render_text(status, &text, &e);
		json_decref(status);
		if (rc != MPC_OK)
			return mpc_cli_fail("contract status", &e);
		fputs(text, stdout);
		free(text);
		st = 0;
	}
	/* Fewer than K endpoints answered: 23 when the failing ones timed out, else 24 (an
	 * endpoint that refuses the connection or answers HTTP 5xx is an RPC failure here). */
	if (poll_rc == MPC_ERR_HTTP || poll_rc == MPC_ERR_TLS)
		poll_rc = MPC_ERR_RPC;
	return st != 0 ? st : mpc_exit_status(poll_rc);
}
