/* cmd_contract.c: `mpc-backup contract status`: what the contract says for the operator, read
 * through the same quorum the monitor uses. */
#include <stdlib.h>
#include <string.h>

#include "pkcs11/ed25519.h"
#include "src/cli/cli.h"
#include "src/contract/status.h"
#include "src/contract/url.h"
#include "src/monitor/config.h"
#include "src/node/debug_config.h"
#include "src/store/store.h"

static const char contract_help[] =
	"usage: mpc-backup contract status --rpc-url URL [--rpc-url URL ...] --account OPERATOR\n"
	"                                  [--contract ACCOUNT] [--rpc-quorum K]\n"
	"                                  [--migration-port PORT] [--store DIR] [--token URI] [--json]\n"
	"                                  [--debug-port PORT]\n"
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
	"Exit 0 when K endpoints agree, 25 when they do not, 24 on RPC errors.\n";

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

/* The TLS public key of the token, if one was named. */
static int token_key(const struct mpc_cli_common *c, uint8_t pub[32], struct mpc_err *e)
{
	struct mpc_cli_tokens tk;
	int rc = mpc_cli_open_tokens(c, MPC_CLI_NEED_TLS, &tk, e);

	if (rc == MPC_OK) {
		rc = mpc_ed25519_public_key(tk.tls, pub, e);
		mpc_cli_close_tokens(&tk);
	}
	return rc;
}

/* Add the node's own migration port hint to the status (item: older nodes serve 8081). */
static void add_port_hint(json_t *status, unsigned debug_port)
{
	const char *url = json_string_value(json_object_get(json_object_get(status, "node"), "url"));
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

int mpc_cmd_contract(int argc, char **argv)
{
	enum { OPT_RPC = MPC_OPT_FIRST_COMMAND_OPTION, OPT_QUORUM, OPT_CONTRACT, OPT_ACCOUNT,
	       OPT_PORT, OPT_STORE, OPT_RPC_TIMEOUT, OPT_DEBUG_PORT };
	static const struct option opts[] = {
		MPC_CLI_COMMON_OPTIONS,
		{ "rpc-url", required_argument, NULL, OPT_RPC },
		{ "rpc-quorum", required_argument, NULL, OPT_QUORUM },
		{ "contract", required_argument, NULL, OPT_CONTRACT },
		{ "account", required_argument, NULL, OPT_ACCOUNT },
		{ "migration-port", required_argument, NULL, OPT_PORT },
		{ "store", required_argument, NULL, OPT_STORE },
		{ "rpc-timeout", required_argument, NULL, OPT_RPC_TIMEOUT },
		{ "debug-port", required_argument, NULL, OPT_DEBUG_PORT },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const keys[] = { "rpc_url", "rpc_quorum", "contract", "account",
					    "migration_port", "store", "rpc_timeout" };
	struct mpc_cli_common c;
	struct mpc_config cfg;
	struct mpc_err e = { 0 };
	struct mpc_status_args a;
	struct mpc_rpc_options ro;
	struct mpc_address_config addr;
	struct covers_ctx cc = { NULL };
	uint8_t pub[32];
	json_t *status = NULL;
	int opt, rc, poll_rc = MPC_OK, want_token = 0, st;
	unsigned debug_port = 0; /* opt-in: it contacts a host the contract names, in clear */

	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		fputs(contract_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "status") != 0)
		return mpc_cli_usage("contract", "unknown subcommand \"%.40s\"", argv[1]);
	if (mpc_cli_check_options("contract status", argc - 1, argv + 1, opts) != 0)
		return 2;
	mpc_cli_common_init(&c);
	mpc_config_defaults(&cfg);
	while ((opt = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
		if (opt == MPC_OPT_HELP) {
			fputs(contract_help, stdout);
			mpc_config_free(&cfg);
			return 0;
		}
		if (opt == MPC_OPT_TOKEN || opt == MPC_OPT_TLS_TOKEN)
			want_token = 1;
		if (mpc_cli_common_opt(&c, opt, optarg))
			continue;
		if (opt == OPT_DEBUG_PORT) {
			char *end = NULL;
			unsigned long v = strtoul(optarg, &end, 10);

			if (optarg[0] == '\0' || *end != '\0' || v == 0 || v > 65535 || optarg[0] == '-') {
				mpc_config_free(&cfg);
				return mpc_cli_usage("contract status",
						     "--debug-port: a port 1..65535");
			}
			debug_port = (unsigned)v;
			continue;
		}
		if (opt < OPT_RPC || opt > OPT_RPC_TIMEOUT) {
			mpc_config_free(&cfg);
			return mpc_cli_bad_option("contract status", argv + 1);
		}
		{
			char where[64];

			snprintf(where, sizeof(where), "--%s", opts[7 + opt - OPT_RPC].name);
			rc = mpc_config_set(&cfg, keys[opt - OPT_RPC], optarg, where, &e);
		}
		if (rc != MPC_OK) {
			mpc_config_free(&cfg);
			return mpc_cli_fail("contract status", &e);
		}
	}
	if (mpc_cli_no_extra_args("contract status", argc - 1, argv + 1) != 0 ||
	    cfg.n_rpc_url == 0 || cfg.account == NULL) {
		mpc_config_free(&cfg);
		return mpc_cli_usage("contract status", "--rpc-url URL and --account OPERATOR are required");
	}
	rc = MPC_OK;
	if (want_token)
		rc = token_key(&c, pub, &e);
	if (rc == MPC_OK && cfg.store != NULL)
		rc = mpc_store_open(cfg.store, 0, &cc.store, &e);
	if (rc == MPC_OK) {
		memset(&ro, 0, sizeof(ro));
		ro.contract = cfg.contract;
		ro.timeout_ms = (long)(cfg.rpc_timeout * 1000);
		memset(&addr, 0, sizeof(addr));
		addr.migration_port = (uint16_t)cfg.migration_port;
		memset(&a, 0, sizeof(a));
		a.rpc_urls = (const char *const *)cfg.rpc_url;
		a.n_urls = cfg.n_rpc_url;
		a.quorum = cfg.rpc_quorum;
		a.rpc = &ro;
		a.operator_account = cfg.account;
		a.own_tls_key = want_token ? pub : NULL;
		a.addresses = &addr;
		a.covers = cfg.store != NULL ? covers_cb : NULL;
		a.covers_ctx = &cc;
		rc = mpc_contract_status_run(&a, &status, &poll_rc, &e);
	}
	mpc_store_close(cc.store);
	mpc_config_free(&cfg);
	if (rc != MPC_OK)
		return mpc_cli_fail("contract status", &e);
	add_port_hint(status, debug_port);
	if (c.json) {
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
	return st != 0 ? st : mpc_exit_status(poll_rc);
}
