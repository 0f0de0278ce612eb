/* cmd_drill.c: `mpc-backup drill` (open every stored keyset in the token, compare it with the
 * contract's keyset, restore the newest one of the contract's epoch in memory, wipe), and the
 * configuration-style option parsing and contract read that `import` shares. */
#include <stdlib.h>
#include <string.h>

#include "pkcs11/uri.h"
#include "src/cli/cfgopts.h"
#include "src/cli/session.h"
#include "src/contract/quorum.h"
#include "src/monitor/config.h"
#include "src/store/drill.h"
#include "src/store/replica.h"

static const char drill_help[] =
	"usage: mpc-backup drill --store DIR [--rpc-url URL ... --account OPERATOR] [options]\n"
	"       mpc-backup drill --config FILE [options]\n"
	"\n"
	"A restore drill that never leaves the token: opens every stored keyset in the token(s),\n"
	"compares it with the contract's current keyset (domain ids, attempts, public keys),\n"
	"restores the newest keyset of the contract's epoch in locked memory, validates it against\n"
	"the contract and wipes it. One line per file: current, superseded, older, ahead, mismatch,\n"
	"failed or quarantined. Exit 0 when the newest keyset of the contract's epoch can be\n"
	"restored (without --rpc-url: when the newest stored keyset can), else non-zero.\n"
	"\n"
	"With replicas (--replica, or replica in --config) the copies on each replica are drilled\n"
	"too: the newest 64 (at most 256 MiB) downloaded one by one into a private temporary\n"
	"directory in the store's directory, opened in the token, compared, wiped and deleted;\n"
	"nothing in the store changes. Exit 15 when a replica's copies cannot restore the\n"
	"contract's keyset, 74 when a replica could not be drilled (down, refused).\n"
	"\n" MPC_CLI_CFG_HELP
	"  --replica REMOTE:PATH  drill the copies on this rclone remote (repeatable)\n"
	"  --rclone-config FILE   rclone's configuration (mode 0600), --replica-timeout S\n"
	"  --local-only           drill the local store only, not the replicas in --config\n" MPC_CLI_COMMON_HELP;

#define OPT_LOCAL_ONLY 'L'

static int drill_extra(void *ctx, int opt, const char *arg)
{
	(void)arg;
	if (opt != OPT_LOCAL_ONLY)
		return 0;
	*(int *)ctx = 1;
	return 1;
}

static int is_cfg_key(const char *name)
{
	static const char *const keys[] = { "token",         "tls-token",      "seal-token",
					    "pin-file",      "seal-to",        "store",
					    "rpc-url",       "rpc-quorum",     "contract",
					    "account",       "rpc-timeout",    "transport-key-file",
					    "node-timeout",  "migration-port", "replica",
					    "rclone-config", "replica-timeout" };

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(name, keys[i]) == 0)
			return 1;
	return strcmp(name, "token-profile") == 0;
}

int mpc_cli_cfg_parse(const char *cmd, const char *help, int argc, char **argv,
		      const struct option *opts, struct mpc_cli_cfg *out,
		      int (*extra)(void *ctx, int opt, const char *arg), void *ctx)
{
	struct mpc_err e = { 0 };
	const char *file = NULL;
	int opt, idx, pass;

	memset(out, 0, sizeof(*out));
	mpc_config_defaults(&out->cfg);
	if (mpc_cli_check_options(cmd, argc, argv, opts) != 0)
		return 2;
	for (pass = 0; pass < 2; pass++) {
		int rpc_seen = 0, seal_seen = 0, replica_seen = 0;

		opterr = 0;
		optind = 1;
		while ((opt = getopt_long(argc, argv, "", opts, &idx)) != -1) {
			char key[64], where[80];

			if (opt == MPC_OPT_HELP) {
				fputs(help, stdout);
				mpc_config_free(&out->cfg);
				return -1;
			}
			if (opt == '?' || opt == ':') {
				mpc_config_free(&out->cfg);
				return mpc_cli_bad_option(cmd, argv);
			}
			if (pass == 0) {
				if (opt == MPC_CLI_OPT_CONFIG) {
					file = optarg;
					out->has_config = 1;
				}
				continue;
			}
			if (opt == MPC_CLI_OPT_CONFIG)
				continue;
			if (opt == MPC_OPT_JSON) {
				out->json = 1;
				continue;
			}
			if (opt == MPC_OPT_FINAL_TRY) {
				out->final_try = 1;
				continue;
			}
			if (opt != 0 || !is_cfg_key(opts[idx].name)) {
				int r = extra != NULL ? extra(ctx, opt, optarg) : 0;

				if (r <= 0)
					mpc_config_free(&out->cfg);
				if (r < 0)
					return 2;
				if (r == 0)
					return mpc_cli_bad_option(cmd, argv);
				continue;
			}
			snprintf(key, sizeof(key), "%s", opts[idx].name);
			for (char *p = key; *p; p++)
				if (*p == '-')
					*p = '_';
			if (strcmp(key, "rpc_url") == 0 && !rpc_seen++) {
				for (size_t i = 0; i < out->cfg.n_rpc_url; i++)
					free(out->cfg.rpc_url[i]);
				out->cfg.n_rpc_url = 0;
			}
			if (strcmp(key, "replica") == 0 && !replica_seen++) {
				for (size_t i = 0; i < out->cfg.n_replica; i++)
					free(out->cfg.replica[i]);
				out->cfg.n_replica = 0;
			}
			if (strcmp(key, "seal_to") == 0 && !seal_seen++) {
				for (size_t i = 0; i < out->cfg.n_seal_to; i++)
					free(out->cfg.seal_to[i]);
				out->cfg.n_seal_to = 0;
			}
			snprintf(where, sizeof(where), "--%s", opts[idx].name);
			/* on a command line a PIN is refused as the token commands always did (65) */
			if (strstr(key, "token") != NULL && mpc_uri_has_pin_value(optarg)) {
				mpc_fail(
					&e, MPC_ERR_PARSE,
					"%s: PKCS#11 URI carries pin-value: a PIN must never be given on "
					"a command line; use pin-source=file:..., --pin-file or "
					"MPC_BACKUP_PIN",
					where);
				mpc_config_free(&out->cfg);
				return mpc_cli_fail(cmd, &e);
			}
			if (mpc_config_set(&out->cfg, key, optarg, where, &e) != MPC_OK) {
				mpc_config_free(&out->cfg);
				return mpc_cli_fail(cmd, &e);
			}
		}
		if (pass == 0 && file != NULL &&
		    mpc_config_load_file(&out->cfg, file, &e) != MPC_OK) {
			mpc_config_free(&out->cfg);
			return mpc_cli_fail(cmd, &e);
		}
	}
	if (mpc_cli_no_extra_args(cmd, argc, argv) != 0) {
		mpc_config_free(&out->cfg);
		return 2;
	}
	/* the session's view of the configuration (strings borrowed from cfg) */
	mpc_cli_common_init(&out->c);
	if (out->cfg.token != NULL)
		out->c.token_uri = out->cfg.token;
	out->c.tls_token_uri = out->cfg.tls_token;
	out->c.seal_token_uri = out->cfg.seal_token;
	out->c.token_profile = out->cfg.token_profile;
	out->c.pin.pin_file = out->cfg.pin_file;
	out->c.pin.allow_final_try = out->final_try;
	out->c.json = out->json;
	out->no.store = out->cfg.store;
	out->no.contract = out->cfg.contract != NULL ? out->cfg.contract : "v1.signer";
	out->no.account = out->cfg.account;
	for (size_t i = 0; i < out->cfg.n_seal_to && i < MPC_STORE_MAX_TOKENS; i++)
		out->no.seal_to[out->no.n_seal_to++] = out->cfg.seal_to[i];
	return 0;
}

int mpc_cli_contract_keyset(const struct mpc_config *cfg, struct mpc_keyset *ks, struct mpc_err *e)
{
	struct mpc_quorum *q = NULL;
	struct mpc_contract_view v;
	int rc;

	memset(&v, 0, sizeof(v));
	if (cfg->account == NULL)
		return mpc_fail(e, MPC_ERR_USAGE, "--account OPERATOR is needed with --rpc-url");
	rc = mpc_config_quorum_new(cfg, mpc_cli_cancel_flag(), &q, e);
	if (rc == MPC_OK)
		rc = mpc_quorum_poll(q, cfg->account, &v, NULL, e);
	if (rc == MPC_OK && !v.has_keyset)
		rc = mpc_fail(e, MPC_ERR_STATE, "the contract has no keyset yet (initializing)");
	if (rc == MPC_OK)
		rc = mpc_keyset_copy(ks, &v.keyset, e);
	if (rc != MPC_OK)
		mpc_err_prefix(e, "reading the contract's keyset: ");
	mpc_contract_view_free(&v);
	mpc_quorum_free(q);
	return rc;
}

static void print_files(const struct mpc_drill_report *r, const char *indent)
{
	for (size_t i = 0; i < r->n; i++)
		printf("%s%s  epoch %llu  %-11s  %s\n", indent, r->items[i].name,
		       (unsigned long long)r->items[i].epoch,
		       mpc_drill_verdict_name(r->items[i].verdict), r->items[i].msg);
}

/* One block per replica drilled; returns the exit status its results call for (0 if none). */
static int print_replicas(const struct mpc_drill_report *r, int print)
{
	int st = 0;

	for (size_t i = 0; i < r->n_replicas; i++) {
		const struct mpc_drill_replica *p = &r->replicas[i];

		if (!p->reached) {
			if (print)
				printf("replica %s: NOT DRILLED: %s\n", p->remote, p->error);
			st = st != 0 ? st : mpc_exit_status(MPC_ERR_IO);
			continue;
		}
		if (print) {
			printf("replica %s: %zu cop%s listed, %zu drilled, %zu left out (bounds)\n",
			       p->remote, p->n_listed, p->n_listed == 1 ? "y" : "ies", p->r.n,
			       p->n_omitted);
			print_files(&p->r, "  ");
			if (p->r.restorable)
				printf("  restorable from the replica: %s opened in the token and "
				       "matches %s (%.2f s); wiped\n",
				       p->r.restored,
				       p->r.has_contract ? "the contract's keyset" : "its header",
				       p->r.seconds);
			else
				printf("  NOT restorable from the replica: %s\n", p->r.problem);
		}
		if (!p->r.restorable || p->r.n_failed > 0)
			st = mpc_exit_status(MPC_ERR_AUTH);
	}
	return st;
}

static void print_report(const struct mpc_drill_report *r)
{
	print_files(r, "");
	if (r->n == 0)
		printf("the store is empty: nothing to restore from\n");
	if (r->restorable)
		printf("restorable: %s opened in the token and %s (%.2f s); wiped\n", r->restored,
		       r->has_contract ? "matches the contract's keyset" : "matches its header",
		       r->seconds);
	else
		printf("NOT restorable: %s\n", r->problem);
	printf("%zu opened, %zu failed, %zu disagree with the contract\n", r->n_opened, r->n_failed,
	       r->n_mismatch);
	(void)print_replicas(r, 1);
}

/* Drill the copies on the configured replicas into r (cfg's replica list, rclone_config). */
static int drill_replicas(const struct mpc_config *cfg, const struct mpc_cli_session *s,
			  const struct mpc_keyset *ks, struct mpc_drill_report *r,
			  struct mpc_err *e)
{
	struct mpc_replica_opts ro = { 0 };
	struct mpc_replica_set *set = NULL;
	int rc;

	if (cfg->rclone_config == NULL)
		return mpc_fail(e, MPC_ERR_USAGE, "--replica needs --rclone-config FILE");
	ro.config = cfg->rclone_config;
	ro.call_timeout = cfg->replica_timeout;
	ro.cancel = mpc_cli_cancel_flag();
	rc = mpc_replica_set_new(&ro, &set, e);
	for (size_t i = 0; rc == MPC_OK && i < cfg->n_replica; i++)
		rc = mpc_replica_set_add(set, cfg->replica[i], e);
	if (rc == MPC_OK)
		rc = mpc_replica_drill(set, s->store, s->seal, s->n_seal, ks, 0, r, e);
	mpc_replica_set_free(set);
	return rc;
}

int mpc_cmd_drill(int argc, char **argv)
{
	static const struct option opts[] = { MPC_CLI_CFG_OPTIONS,
					      { "replica", required_argument, NULL, 0 },
					      { "rclone-config", required_argument, NULL, 0 },
					      { "replica-timeout", required_argument, NULL, 0 },
					      { "local-only", no_argument, NULL, OPT_LOCAL_ONLY },
					      { NULL, 0, NULL, 0 } };
	struct mpc_cli_cfg a;
	struct mpc_cli_session s;
	struct mpc_keyset ks = { 0 };
	struct mpc_drill_report r;
	struct mpc_err e = { 0 };
	int rc, st, have_ks = 0, local_only = 0;

	st = mpc_cli_cfg_parse("drill", drill_help, argc, argv, opts, &a, drill_extra, &local_only);
	if (st != 0)
		return st < 0 ? 0 : st;
	memset(&r, 0, sizeof(r));
	if (a.no.store == NULL) {
		mpc_config_free(&a.cfg);
		return mpc_cli_usage("drill", "--store DIR (or store in --config) is required");
	}
	rc = MPC_OK;
	if (a.cfg.n_rpc_url > 0) {
		rc = mpc_cli_contract_keyset(&a.cfg, &ks, &e);
		have_ks = rc == MPC_OK;
	}
	if (rc == MPC_OK)
		rc = mpc_cli_session_open(&a.c, &a.no, MPC_SESSION_KEYSHARES | MPC_SESSION_STORE,
					  &s, &e);
	if (rc == MPC_OK) {
		rc = mpc_drill_run(s.store, s.seal, s.n_seal, have_ks ? &ks : NULL, &r, &e);
		if (rc == MPC_OK && a.cfg.n_replica > 0 && !local_only)
			rc = drill_replicas(&a.cfg, &s, have_ks ? &ks : NULL, &r, &e);
		mpc_cli_session_close(&s);
	}
	mpc_keyset_free(&ks);
	mpc_config_free(&a.cfg);
	if (rc != MPC_OK) {
		mpc_drill_report_free(&r);
		return mpc_cli_fail("drill", &e);
	}
	st = r.restorable ? 0 : mpc_exit_status(MPC_ERR_AUTH);
	if (st == 0)
		st = print_replicas(&r, 0);
	if (a.json) {
		json_t *j = mpc_drill_report_json(&r, &e);

		mpc_drill_report_free(&r);
		if (j == NULL)
			return mpc_cli_fail("drill", &e);
		return mpc_cli_print_json(j) != 0 ? 70 : st;
	}
	print_report(&r);
	if (!r.restorable)
		fprintf(stderr, "mpc-backup drill: the newest keyset%s cannot be restored: %s\n",
			r.has_contract ? " of the contract's epoch" : "", r.problem);
	mpc_drill_report_free(&r);
	return st;
}
