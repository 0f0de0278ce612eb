/* session.h: what the commands that talk to a node or open the store set up: the tokens, the
 * OpenSSL provider and the token-backed TLS key, the transport key, the sealing tokens and the
 * store. Built once per command; released with mpc_cli_session_close().
 */
#ifndef MPC_CLI_SESSION_H
#define MPC_CLI_SESSION_H

#include "pkcs11/provider.h"
#include "src/cli/cli.h"
#include "src/monitor/ops.h"
#include "src/node/body.h"
#include "src/store/store.h"

/* The options those commands share, on top of struct mpc_cli_common. */
struct mpc_cli_node_opts {
	const char *node;                          /* --node HOST:PORT */
	const char *node_key;                      /* --node-key ed25519:... */
	const char *transport_key_file;            /* --transport-key-file */
	const char *store;                         /* --store DIR */
	const char *seal_to[MPC_STORE_MAX_TOKENS]; /* --seal-to URI (repeatable) */
	size_t n_seal_to;
	const char *contract, *account; /* recorded in store headers */
	double node_timeout;            /* --node-timeout SECONDS, 0: default */
};

enum {
	MPC_OPT_NODE = MPC_OPT_FIRST_COMMAND_OPTION,
	MPC_OPT_NODE_KEY,
	MPC_OPT_TRANSPORT_FILE,
	MPC_OPT_STORE,
	MPC_OPT_SEAL_TO,
	MPC_OPT_CONTRACT,
	MPC_OPT_ACCOUNT,
	MPC_OPT_NODE_TIMEOUT,
	MPC_OPT_SESSION_LAST, /* commands number their own options from here */
};

#define MPC_CLI_NODE_OPTIONS                                                               \
	{ "node", required_argument, NULL, MPC_OPT_NODE },                                 \
		{ "node-key", required_argument, NULL, MPC_OPT_NODE_KEY },                 \
		{ "transport-key-file", required_argument, NULL, MPC_OPT_TRANSPORT_FILE }, \
		{ "store", required_argument, NULL, MPC_OPT_STORE },                       \
		{ "seal-to", required_argument, NULL, MPC_OPT_SEAL_TO },                   \
		{ "contract", required_argument, NULL, MPC_OPT_CONTRACT },                 \
		{ "account", required_argument, NULL, MPC_OPT_ACCOUNT },                   \
	{                                                                                  \
		"node-timeout", required_argument, NULL, MPC_OPT_NODE_TIMEOUT              \
	}

/* The node to talk to (backup, restore, node hello). */
#define MPC_CLI_PEER_HELP                                                                                \
	"  --node HOST:PORT     the node's migration address (IPv4, [IPv6]:PORT, https://host[:port])\n" \
	"  --node-key KEY       the node's TLS key as the contract lists it (ed25519:<base58>)\n"        \
	"  --transport-key-file F  the node's 32-byte body key in hex (else\n"                           \
	"                       $MPC_BACKUP_TRANSPORT_KEY_HEX, else the token's imported key)\n"         \
	"  --node-timeout S     seconds for one request to the node (default 60)\n"
#define MPC_CLI_NODE_HELP                           \
	MPC_CLI_PEER_HELP                           \
	"  --store DIR          the sealed store\n" \
	"  --seal-to URI        seal to this token (repeatable; default: the sealing token)\n"

/* Handle a session option; 1 if it was one, 0 if not, -1 on a bad value (message printed). */
int mpc_cli_node_opt(const char *cmd, struct mpc_cli_node_opts *o, int opt, const char *arg);

#define MPC_SESSION_TLS          1 /* token TLS key in OpenSSL */
#define MPC_SESSION_TRANSPORT    2 /* the transport key */
#define MPC_SESSION_STORE        4 /* the store and the sealing tokens */
#define MPC_SESSION_STORE_CREATE 8
#define MPC_SESSION_KEYSHARES    16 /* the command handles plaintext keyshares: mlockall() first */
/* What backup, restore and run need to move keyshares between a node and the store. */
#define MPC_SESSION_NODE_OPS (MPC_SESSION_KEYSHARES | MPC_SESSION_TLS | MPC_SESSION_TRANSPORT)

struct mpc_cli_session {
	struct mpc_cli_tokens tk;
	struct mpc_provider prov;
	EVP_PKEY *tls_key;
	uint8_t tls_pub[32];
	struct mpc_transport_key transport;
	struct mpc_token *seal[MPC_STORE_MAX_TOKENS]; /* seal[i] may alias tk.seal */
	size_t n_seal;
	struct mpc_store *store;
	struct mpc_ops ops;
};

int mpc_cli_session_open(const struct mpc_cli_common *c, const struct mpc_cli_node_opts *o,
			 int what, struct mpc_cli_session *s, struct mpc_err *e);
void mpc_cli_session_close(struct mpc_cli_session *s);

/* --node-key parsed. */
int mpc_cli_node_key(const struct mpc_cli_node_opts *o, uint8_t key[32], struct mpc_err *e);

#endif
