/* cmd_backup.c: `mpc-backup backup` (fetch, validate, seal, store one keyset) and
 * `mpc-backup restore` (push a stored keyset to a node). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/cli/cfgopts.h"
#include "src/cli/session.h"
#include "src/util/encoding.h"
#include "src/util/file.h"
#include "src/util/mem.h"

static const char backup_help[] =
	"usage: mpc-backup backup --store DIR --node HOST:PORT --node-key ed25519:...\n"
	"                         --keyset FILE|- [--contract ACCOUNT --account OPERATOR] [options]\n"
	"       mpc-backup backup --config FILE --node HOST:PORT --node-key ed25519:... [options]\n"
	"\n"
	"Fetches the keyshares of the keyset (the contract's Keyset JSON, from FILE or stdin; or\n"
	"without --keyset, the keyset a quorum of --rpc-url endpoints reads from the contract) from\n"
	"the node, checks them against the keyset (every domain once, epoch, attempts, public\n"
	"keys), seals them in the token(s) and adds them to the store. A keyset the store already\n"
	"covers is not fetched again (exit 0, says so). Exit 26 when the node's keyshares do not\n"
	"match the keyset, 27 for an older epoch than the store's newest (nothing fetched).\n"
	"\n"
	"options:\n"
	"  --keyset FILE|-      the Keyset JSON ({\"epoch_id\":..,\"domains\":[..]}), at most 1 MiB\n" MPC_CLI_PEER_HELP
		MPC_CLI_CFG_HELP MPC_CLI_COMMON_HELP;

static const char restore_help[] =
	"usage: mpc-backup restore --store DIR --node HOST:PORT --node-key ed25519:... [--epoch N]\n"
	"                          [options]\n"
	"       mpc-backup restore --config FILE --node HOST:PORT --node-key ed25519:... [options]\n"
	"\n"
	"Opens the newest stored keyset (or the newest of epoch N) in the token and pushes it to\n"
	"the node with PUT /set_keyshares. An empty store or a missing epoch is an error (exit 18),\n"
	"never a silent success. The node's 200 only means it took the keyshares: the migration is\n"
	"complete when the contract concludes it.\n"
	"\n"
	"options:\n"
	"  --epoch N            push the newest stored keyset of epoch N\n" MPC_CLI_PEER_HELP
		MPC_CLI_CFG_HELP MPC_CLI_COMMON_HELP;

static int read_keyset(const char *path, struct mpc_keyset *ks, struct mpc_err *e)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = strcmp(path, "-") == 0
			 ? mpc_fd_read_all(STDIN_FILENO, 1 << 20, 0, "stdin", &buf, &len, e)
			 : mpc_file_read(path, 1 << 20, 0, &buf, &len, e);

	if (rc == MPC_OK)
		rc = mpc_keyset_parse((const char *)buf, len, ks, e);
	free(buf);
	return rc;
}

/* A keyset older than the store's newest backup is refused before anything is fetched (27):
 * the contract only ever asks for its current keyset, so an older one is a stale file. */
static int refuse_older(const struct mpc_store *s, const struct mpc_keyset *ks, struct mpc_err *e)
{
	struct mpc_store_list l;
	int rc = mpc_store_list(s, &l, e);

	if (rc != MPC_OK)
		return rc;
	for (size_t i = 0; i < l.n; i++)
		if (l.items[i].newest && l.items[i].header_ok &&
		    l.items[i].hdr.epoch > ks->epoch_id) {
			rc = mpc_fail(
				e, MPC_ERR_STATE,
				"epoch %llu is older than the store's newest keyset (epoch %llu, "
				"%s): nothing fetched",
				(unsigned long long)ks->epoch_id,
				(unsigned long long)l.items[i].hdr.epoch, l.items[i].name);
			break;
		}
	mpc_store_list_free(&l);
	return rc;
}

/* What backup and restore take besides the configuration-style options. */
struct peer_ctx {
	const char *cmd;
	struct mpc_cli_node_opts no; /* node, node_key only */
	const char *extra;           /* --keyset or --epoch */
};

#define OPT_EXTRA MPC_OPT_SESSION_LAST
/* The options backup and restore share: mpc-backup.conf(5)'s (--config first, flags override)
 * and the node to talk to. */
#define PEER_OPTIONS                                                            \
	MPC_CLI_CFG_OPTIONS, { "node", required_argument, NULL, MPC_OPT_NODE }, \
		{ "node-key", required_argument, NULL, MPC_OPT_NODE_KEY },      \
		{ "transport-key-file", required_argument, NULL, 0 },           \
	{                                                                       \
		"node-timeout", required_argument, NULL, 0                      \
	}

static int peer_opt(void *ctx, int opt, const char *arg)
{
	struct peer_ctx *p = ctx;

	if (opt == OPT_EXTRA) {
		p->extra = arg;
		return 1;
	}
	if (opt == MPC_OPT_NODE || opt == MPC_OPT_NODE_KEY)
		return mpc_cli_node_opt(p->cmd, &p->no, opt, arg);
	return 0;
}

/* Parse; 0 (caller frees a->cfg), 1 after --help, or an exit status. */
static int parse_common(const char *cmd, const char *help, int argc, char **argv,
			const char *extra_name, struct mpc_cli_cfg *a, struct peer_ctx *p)
{
	const struct option opts[] = { PEER_OPTIONS,
				       { extra_name, required_argument, NULL, OPT_EXTRA },
				       { NULL, 0, NULL, 0 } };
	int st;

	memset(p, 0, sizeof(*p));
	p->cmd = cmd;
	st = mpc_cli_cfg_parse(cmd, help, argc, argv, opts, a, peer_opt, p);
	if (st != 0)
		return st < 0 ? 1 : st;
	a->no.node = p->no.node;
	a->no.node_key = p->no.node_key;
	a->no.transport_key_file = a->cfg.transport_key_file;
	a->no.node_timeout = a->cfg.node_timeout;
	st = 0;
	if (a->no.node == NULL)
		st = mpc_cli_usage(cmd, "--node HOST:PORT is required");
	else if (a->no.store == NULL)
		st = mpc_cli_usage(cmd, "--store DIR is required");
	if (st != 0)
		mpc_config_free(&a->cfg);
	return st;
}

int mpc_cmd_backup(int argc, char **argv)
{
	struct mpc_cli_cfg a;
	struct peer_ctx p;
	struct mpc_cli_session s;
	struct mpc_keyset ks;
	struct mpc_backup_outcome out;
	struct mpc_err e = { 0 };
	uint8_t node_pub[32];
	int rc, st;

	st = parse_common("backup", backup_help, argc, argv, "keyset", &a, &p);
	if (st != 0)
		return st == 1 ? 0 : st;
	if (p.extra == NULL && a.cfg.n_rpc_url == 0) {
		mpc_config_free(&a.cfg);
		return mpc_cli_usage(
			"backup",
			"--keyset FILE|-, or --rpc-url URL and --account "
			"OPERATOR (or --config) to read it from the contract, is required");
	}
	memset(&ks, 0, sizeof(ks));
	rc = mpc_cli_node_key(&a.no, node_pub, &e);
	if (rc == MPC_OK)
		rc = p.extra != NULL ? read_keyset(p.extra, &ks, &e)
				     : mpc_cli_contract_keyset(&a.cfg, &ks, &e);
	if (rc != MPC_OK)
		goto fail;
	rc = mpc_cli_session_open(&a.c, &a.no, MPC_SESSION_NODE_OPS | MPC_SESSION_STORE_CREATE, &s,
				  &e);
	if (rc != MPC_OK)
		goto fail;
	rc = refuse_older(s.store, &ks, &e);
	if (rc == MPC_OK)
		rc = mpc_op_backup(&s.ops, a.no.node, node_pub, &ks, &out, &e);
	mpc_cli_session_close(&s);
	if (rc != MPC_OK)
		goto fail;
	if (a.json)
		st = mpc_cli_print_json(
			json_pack("{s:I, s:I, s:b, s:s, s:I, s:{s:f, s:f, s:f, s:f}}", "epoch",
				  (json_int_t)ks.epoch_id, "domains", (json_int_t)ks.n_domains,
				  "already_covered", out.already_covered, "file", out.file, "bytes",
				  (json_int_t)out.bytes, "seconds", "node", out.t.node_s, "token",
				  out.t.token_s, "disk", out.t.disk_s, "total", out.t.total_s));
	else if (out.already_covered)
		printf("epoch %llu (%zu domains) is already covered by %s: nothing fetched\n",
		       (unsigned long long)ks.epoch_id, ks.n_domains, out.file);
	else
		printf("stored epoch %llu (%zu domains, %zu bytes of keyshares) in %s/%s "
		       "(node %.1f ms, token %.2f ms, disk %.1f ms)\n",
		       (unsigned long long)ks.epoch_id, ks.n_domains, out.bytes, a.no.store,
		       out.file, out.t.node_s * 1e3, out.t.token_s * 1e3, out.t.disk_s * 1e3);
	mpc_keyset_free(&ks);
	mpc_config_free(&a.cfg);
	return st;
fail:
	mpc_keyset_free(&ks);
	mpc_config_free(&a.cfg);
	return mpc_cli_fail("backup", &e);
}

int mpc_cmd_restore(int argc, char **argv)
{
	struct mpc_cli_cfg a;
	struct peer_ctx p;
	struct mpc_cli_session s;
	struct mpc_push_outcome out;
	struct mpc_err e = { 0 };
	uint64_t epoch = 0;
	uint8_t node_pub[32];
	int rc, st;

	st = parse_common("restore", restore_help, argc, argv, "epoch", &a, &p);
	if (st != 0)
		return st == 1 ? 0 : st;
	if (p.extra != NULL) {
		char *end = NULL;

		errno = 0;
		if (p.extra[0] >= '0' && p.extra[0] <= '9')
			epoch = strtoull(p.extra, &end, 10);
		if (p.extra[0] < '0' || p.extra[0] > '9' || *end != '\0' || errno == ERANGE) {
			mpc_config_free(&a.cfg);
			return mpc_cli_usage("restore", "--epoch: \"%.40s\" is not an epoch number",
					     p.extra);
		}
	}
	rc = mpc_cli_node_key(&a.no, node_pub, &e);
	if (rc == MPC_OK)
		rc = mpc_cli_session_open(&a.c, &a.no, MPC_SESSION_NODE_OPS | MPC_SESSION_STORE, &s,
					  &e);
	if (rc == MPC_OK) {
		rc = mpc_op_push(&s.ops, a.no.node, node_pub, NULL, p.extra == NULL, epoch, &out,
				 &e);
		mpc_cli_session_close(&s);
	}
	if (rc != MPC_OK) {
		mpc_config_free(&a.cfg);
		return mpc_cli_fail("restore", &e);
	}
	if (a.json)
		st = mpc_cli_print_json(
			json_pack("{s:I, s:I, s:s, s:I, s:s}", "epoch", (json_int_t)out.epoch,
				  "domains", (json_int_t)out.n_domains, "file", out.file, "bytes",
				  (json_int_t)out.bytes, "node", a.no.node));
	else
		printf("pushed epoch %llu (%zu domains, %zu bytes) from %s to %s: the node took them; "
		       "the move is complete when the contract concludes the migration\n",
		       (unsigned long long)out.epoch, out.n_domains, out.bytes, out.file,
		       a.no.node);
	mpc_config_free(&a.cfg);
	return st;
}
