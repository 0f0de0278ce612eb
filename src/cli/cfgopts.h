/* cfgopts.h: the option parsing `drill` and `import` share (options named like the keys of
 * mpc-backup.conf(5), --config read first) and the contract read they both need. */
#ifndef MPC_CLI_CFGOPTS_H
#define MPC_CLI_CFGOPTS_H

#include "src/cli/cli.h"
#include "src/cli/session.h"
#include "src/model/keyset.h"
#include "src/monitor/config.h"

#define MPC_CLI_OPT_CONFIG 'c'
/* Option groups, one definition each; options with val 0 are configuration keys. */
#define MPC_CLI_CFG_TOKEN_OPTIONS                                                \
	{ "config", required_argument, NULL, MPC_CLI_OPT_CONFIG },               \
		{ "token", required_argument, NULL, 0 },                         \
		{ "tls-token", required_argument, NULL, 0 },                     \
		{ "seal-token", required_argument, NULL, 0 },                    \
		{ "token-profile", required_argument, NULL, 0 },                 \
		{ "pin-file", required_argument, NULL, 0 },                      \
		{ "allow-final-pin-try", no_argument, NULL, MPC_OPT_FINAL_TRY }, \
		{ "json", no_argument, NULL, MPC_OPT_JSON },                     \
	{                                                                        \
		"help", no_argument, NULL, MPC_OPT_HELP                          \
	}
#define MPC_CLI_CFG_STORE_OPTIONS                   \
	{ "seal-to", required_argument, NULL, 0 },  \
	{                                           \
		"store", required_argument, NULL, 0 \
	}
#define MPC_CLI_CFG_RPC_OPTIONS                                                                  \
	{ "rpc-url", required_argument, NULL, 0 }, { "rpc-quorum", required_argument, NULL, 0 }, \
		{ "contract", required_argument, NULL, 0 },                                      \
		{ "account", required_argument, NULL, 0 },                                       \
	{                                                                                        \
		"rpc-timeout", required_argument, NULL, 0                                        \
	}
#define MPC_CLI_CFG_OPTIONS \
	MPC_CLI_CFG_TOKEN_OPTIONS, MPC_CLI_CFG_STORE_OPTIONS, MPC_CLI_CFG_RPC_OPTIONS

#define MPC_CLI_CONFIG_HELP \
	"  --config FILE        read these settings from mpc-backup.conf(5); flags override\n"
#define MPC_CLI_STORE_HELP                          \
	"  --store DIR          the sealed store\n" \
	"  --seal-to URI        seal to this token (repeatable; default: the sealing token)\n"
#define MPC_CLI_RPC_HELP                                                                          \
	"  --rpc-url URL        NEAR RPC endpoint (repeatable); with --account, the contract's\n" \
	"                       keyset is read by a quorum of them\n"                             \
	"  --rpc-quorum K, --rpc-timeout S, --contract ACCOUNT, --account OPERATOR\n"
#define MPC_CLI_CFG_HELP MPC_CLI_CONFIG_HELP MPC_CLI_STORE_HELP MPC_CLI_RPC_HELP

/* Parse argv (argv[0] = the command) with --config FILE read first and flags overriding it;
 * options with val 0 and a configuration key's name go into cfg, the rest to extra(ctx, opt,
 * arg) (1 taken, 0 unknown, -1 bad value with a message printed). Returns 0, -1 after --help,
 * or an exit status. On 0 the caller frees out->cfg (mpc_config_free). */
struct mpc_cli_cfg {
	struct mpc_config cfg;
	struct mpc_cli_common c;     /* strings borrowed from cfg */
	struct mpc_cli_node_opts no; /* strings borrowed from cfg */
	int json, final_try;
	int has_config; /* --config FILE was given (and loaded) */
};
int mpc_cli_cfg_parse(const char *cmd, const char *help, int argc, char **argv,
		      const struct option *opts, struct mpc_cli_cfg *out,
		      int (*extra)(void *ctx, int opt, const char *arg), void *ctx);
/* The contract's current keyset as a quorum of cfg's RPC endpoints agrees on it. */
int mpc_cli_contract_keyset(const struct mpc_config *cfg, struct mpc_keyset *ks, struct mpc_err *e);

#endif
