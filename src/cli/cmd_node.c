/* cmd_node.c: `mpc-backup node hello`: proves the whole authenticated path to a node (token
 * key in TLS 1.3, node-style certificate, the node's key pinned to the contract's). */
#include <string.h>

#include "src/cli/cfgopts.h"
#include "src/cli/session.h"
#include "src/node/client.h"
#include "src/util/encoding.h"

static const char node_help[] =
	"usage: mpc-backup node hello --node HOST:PORT --node-key ed25519:... [token options]\n"
	"\n"
	"Connects to the node's migration server with mutual TLS 1.3 using the token's Ed25519\n"
	"key, checks that the node's key is the one given (as the contract lists it), and asks\n"
	"GET /hello. Exit 0 when the node answers \"Hello, world!\"; 21 when the node's key differs\n"
	"or the node refuses ours (not registered on the contract); 20 TLS; 22 HTTP; 23 timeout.\n"
	"\n"
	"options:\n"
	"  --node HOST:PORT     the node's migration address (IPv4, [IPv6]:PORT, https://host[:port])\n"
	"  --node-key KEY       the node's TLS key as the contract lists it (ed25519:<base58>)\n"
	"  --node-timeout S     seconds for the request (default 60)\n" MPC_CLI_CONFIG_HELP
		MPC_CLI_COMMON_HELP;

static int node_opt(void *ctx, int opt, const char *arg)
{
	return mpc_cli_node_opt("node hello", ctx, opt, arg);
}

int mpc_cmd_node(int argc, char **argv)
{
	/* only what hello uses: no store, no transport key */
	static const struct option opts[] = {
		MPC_CLI_CFG_TOKEN_OPTIONS,
		{ "node", required_argument, NULL, MPC_OPT_NODE },
		{ "node-key", required_argument, NULL, MPC_OPT_NODE_KEY },
		{ "node-timeout", required_argument, NULL, MPC_OPT_NODE_TIMEOUT },
		{ NULL, 0, NULL, 0 },
	};
	struct mpc_cli_cfg a;
	struct mpc_cli_node_opts no;
	struct mpc_cli_session s;
	struct mpc_node_client_opts co;
	struct mpc_node_client *client = NULL;
	struct mpc_err e = { 0 };
	char ours[MPC_ED25519_KEY_STR_MAX];
	int rc, st;

	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		fputs(node_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "hello") != 0) {
		static const char *const subs[] = { "hello", NULL };

		return mpc_cli_unknown_subcommand("node", argv[1], subs);
	}
	memset(&no, 0, sizeof(no));
	st = mpc_cli_cfg_parse("node hello", node_help, argc - 1, argv + 1, opts, &a, node_opt,
			       &no);
	if (st != 0)
		return st < 0 ? 0 : st;
	if (no.node == NULL) {
		mpc_config_free(&a.cfg);
		return mpc_cli_usage("node hello", "--node HOST:PORT is required");
	}
	memset(&co, 0, sizeof(co));
	rc = mpc_cli_node_key(&no, co.node_pub, &e);
	if (rc != MPC_OK)
		goto out;
	/* the session opens only the TLS key (token settings borrowed from a.cfg) */
	rc = mpc_cli_session_open(&a.c, &no, MPC_SESSION_TLS, &s, &e);
	if (rc != MPC_OK)
		goto out;
	co.client_key = s.tls_key;
	memcpy(co.client_pub, s.tls_pub, 32);
	co.address = no.node;
	co.timeout_ms = (long)(no.node_timeout * 1000);
	co.cancel = mpc_cli_cancel_flag();
	rc = mpc_node_client_new(&co, &client, &e);
	if (rc == MPC_OK)
		rc = mpc_node_hello(client, &e);
	mpc_node_client_free(client);
	if (rc == MPC_OK)
		rc = mpc_ed25519_key_format(s.tls_pub, ours, &e);
	mpc_cli_session_close(&s);
out:
	if (rc != MPC_OK)
		st = mpc_cli_fail("node hello", &e);
	else if (a.json)
		st = mpc_cli_print_json(json_pack("{s:s, s:s, s:s, s:b}", "node", no.node,
						  "node_key", no.node_key, "client_key", ours,
						  "hello", 1));
	else
		printf("node at %s (%s) answered \"Hello, world!\" over mutual TLS 1.3; our key %s\n",
		       no.node, no.node_key, ours);
	mpc_config_free(&a.cfg);
	return st;
}
