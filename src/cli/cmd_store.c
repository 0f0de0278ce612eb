/* cmd_store.c: `mpc-backup store list|verify|prune|quarantine`. list, prune and quarantine
 * read headers only and need no token; verify opens every file in the token(s). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "src/cli/cfgopts.h"
#include "src/cli/cmd_replica.h"
#include "src/cli/session.h"
#include "src/util/mem.h"

static const char store_help[] =
	"usage: mpc-backup store list       --store DIR [--json]   (or --config FILE for --store)\n"
	"       mpc-backup store verify     --store DIR [--seal-to URI ...] [token options] [--json]\n"
	"       mpc-backup store prune      --store DIR --keep N [--json]\n"
	"       mpc-backup store quarantine --store DIR --epoch N [--json]\n"
	"       mpc-backup store replicate|fetch ...  (replicas: see store replicate --help)\n"
	"\n"
	"list        stored keysets: epoch, domains with attempts, sealing mechanism and tokens,\n"
	"            creation time, size; quarantined files are marked. No token needed.\n"
	"verify      opens every file in the token(s) and checks it against its header; exit 0\n"
	"            only when at least one keyset is stored and every one is intact; 18 when\n"
	"            the store is empty, 15 when a file does not open.\n"
	"prune       removes the oldest keysets beyond the N newest (N >= 1); never the newest.\n"
	"quarantine  moves every file of epoch N to DIR/quarantine/: it no longer counts as a\n"
	"            backup (use it for a keyset that turned out bad).\n"
	"\n"
	"options:\n"
	"  --keep N, --epoch N  for prune and quarantine\n" MPC_CLI_CONFIG_HELP MPC_CLI_STORE_HELP
		MPC_CLI_COMMON_HELP;

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (s == NULL || s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return *end == '\0' && errno != ERANGE ? 0 : -1;
}

static void print_entry(const struct mpc_store_entry *en)
{
	char when[32] = "?";

	if (!en->header_ok) {
		printf("%s  UNREADABLE: %s\n", en->name, en->problem);
		return;
	}
	{
		time_t t = (time_t)en->hdr.created;
		struct tm tm;

		gmtime_r(&t, &tm);
		if (strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
			snprintf(when, sizeof(when), "?");
	}
	printf("%s  epoch %llu  %zu domain(s) [", en->name, (unsigned long long)en->hdr.epoch,
	       en->hdr.keyset.n_domains);
	for (size_t i = 0; i < en->hdr.keyset.n_domains; i++)
		printf("%s%llu@%llu:%s", i ? " " : "",
		       (unsigned long long)en->hdr.keyset.domains[i].domain_id,
		       (unsigned long long)en->hdr.keyset.domains[i].attempt,
		       mpc_curve_name(en->hdr.keyset.domains[i].curve));
	printf("]  %s  %llu bytes  sealed to", when, (unsigned long long)en->size);
	for (size_t i = 0; i < en->hdr.n_tokens; i++)
		printf(" %s(%s)", en->hdr.tokens[i].label,
		       mpc_seal_mech_name(en->hdr.tokens[i].mech));
	printf("%s%s\n", en->newest ? "  [newest]" : "", en->quarantined ? "  [QUARANTINED]" : "");
}

static int store_list(const struct mpc_cli_common *c, const struct mpc_store *s)
{
	struct mpc_store_list l;
	struct mpc_err e = { 0 };
	int rc = mpc_store_list(s, &l, &e);

	if (rc != MPC_OK)
		return mpc_cli_fail("store list", &e);
	if (c->json) {
		json_t *j = mpc_store_list_json(&l, &e);

		mpc_store_list_free(&l);
		return j != NULL ? mpc_cli_print_json(j) : mpc_cli_fail("store list", &e);
	}
	if (l.n == 0)
		printf("the store is empty\n");
	for (size_t i = 0; i < l.n; i++)
		print_entry(&l.items[i]);
	mpc_store_list_free(&l);
	return 0;
}

static int store_verify(const struct mpc_cli_common *c, const struct mpc_cli_node_opts *no)
{
	struct mpc_cli_session s;
	struct mpc_store_verify_report r;
	struct mpc_err e = { 0 };
	int rc, status;

	rc = mpc_cli_session_open(c, no, MPC_SESSION_KEYSHARES | MPC_SESSION_STORE, &s, &e);
	if (rc != MPC_OK)
		return mpc_cli_fail("store verify", &e);
	rc = mpc_store_verify(s.store, s.seal, s.n_seal, &r, &e);
	mpc_cli_session_close(&s);
	if (rc != MPC_OK)
		return mpc_cli_fail("store verify", &e);
	/* nothing stored is "not found" (18), a file that does not open is 15 */
	status = r.all_ok ? 0 : mpc_exit_status(r.n == 0 ? MPC_ERR_NOT_FOUND : MPC_ERR_AUTH);
	if (c->json) {
		json_t *j = mpc_store_verify_report_json(&r, &e);

		mpc_store_verify_report_free(&r);
		if (j == NULL)
			return mpc_cli_fail("store verify", &e);
		return mpc_cli_print_json(j) != 0 ? 70 : status;
	}
	for (size_t i = 0; i < r.n; i++)
		printf("%s  %s%s  %s\n", r.items[i].name, r.items[i].ok ? "OK" : "FAILED",
		       r.items[i].quarantined ? " (quarantined)" : "", r.items[i].msg);
	if (r.n == 0)
		printf("the store is empty: nothing to restore from\n");
	printf("%zu intact, %zu failed%s\n", r.n_ok, r.n_failed,
	       r.all_ok ? "" : ": NOT all intact");
	if (!r.all_ok)
		fprintf(stderr, "mpc-backup store verify: %s\n",
			r.n == 0 ? "the store holds no keyset" : "some stored keysets do not open");
	mpc_store_verify_report_free(&r);
	return status;
}

struct store_ctx {
	const char *keep, *epoch;
};

enum {
	OPT_KEEP = MPC_OPT_FIRST_COMMAND_OPTION,
	OPT_EPOCH
};

static int store_opt(void *ctx, int opt, const char *arg)
{
	struct store_ctx *sc = ctx;

	if (opt == OPT_KEEP)
		sc->keep = arg;
	else if (opt == OPT_EPOCH)
		sc->epoch = arg;
	else
		return 0;
	return 1;
}

int mpc_cmd_store(int argc, char **argv)
{
	static const struct option opts[] = { MPC_CLI_CFG_TOKEN_OPTIONS,
					      MPC_CLI_CFG_STORE_OPTIONS,
					      { "keep", required_argument, NULL, OPT_KEEP },
					      { "epoch", required_argument, NULL, OPT_EPOCH },
					      { NULL, 0, NULL, 0 } };
	static const char *const subs[] = { "list",      "verify", "prune", "quarantine",
					    "replicate", "fetch",  NULL };
	struct mpc_cli_cfg a;
	struct store_ctx sc = { NULL, NULL };
	struct mpc_store *s = NULL;
	struct mpc_err e = { 0 };
	const char *sub;
	char cmd[32];
	uint64_t n = 0;
	size_t count = 0;
	int rc, status = 0;

	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		fputs(store_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "replicate") == 0 || strcmp(argv[1], "fetch") == 0)
		return mpc_cmd_store_replica(argc, argv);
	sub = argv[1];
	if (strcmp(sub, "list") != 0 && strcmp(sub, "verify") != 0 && strcmp(sub, "prune") != 0 &&
	    strcmp(sub, "quarantine") != 0)
		return mpc_cli_unknown_subcommand("store", sub, subs);
	/* errors name the full command: "mpc-backup store list: ..." */
	snprintf(cmd, sizeof(cmd), "store %s", sub);
	status = mpc_cli_cfg_parse(cmd, store_help, argc - 1, argv + 1, opts, &a, store_opt, &sc);
	if (status != 0)
		return status < 0 ? 0 : status;
	if (a.no.store == NULL)
		status = mpc_cli_usage(cmd, "--store DIR is required");
	else if (strcmp(sub, "verify") == 0)
		status = store_verify(&a.c, &a.no);
	else if (strcmp(sub, "prune") == 0 && (parse_u64(sc.keep, &n) != 0 || n < 1))
		status = mpc_cli_usage(cmd, "--keep N (N >= 1) is required");
	else if (strcmp(sub, "quarantine") == 0 && parse_u64(sc.epoch, &n) != 0)
		status = mpc_cli_usage(cmd, "--epoch N is required");
	if (status != 0 || strcmp(sub, "verify") == 0) {
		mpc_config_free(&a.cfg);
		return status;
	}
	rc = mpc_store_open(a.no.store, 0, &s, &e);
	if (rc != MPC_OK) {
		mpc_config_free(&a.cfg);
		return mpc_cli_fail(cmd, &e);
	}
	if (strcmp(sub, "list") == 0) {
		status = store_list(&a.c, s);
	} else {
		int prune = strcmp(sub, "prune") == 0;

		rc = prune ? mpc_store_prune(s, (size_t)n, &count, &e)
			   : mpc_store_quarantine(s, n, &count, &e);
		if (rc != MPC_OK)
			status = mpc_cli_fail(cmd, &e);
		else if (a.json)
			status = mpc_cli_print_json(json_pack("{s:s, s:I, s:I}", "action",
							      prune ? "prune" : "quarantine",
							      "files", (json_int_t)count,
							      prune ? "keep" : "epoch",
							      (json_int_t)n));
		else if (prune)
			printf("removed %zu file(s); the %llu newest kept\n", count,
			       (unsigned long long)n);
		else
			printf("moved %zu file(s) of epoch %llu to quarantine/: no longer a backup\n",
			       count, (unsigned long long)n);
	}
	mpc_store_close(s);
	mpc_config_free(&a.cfg);
	return status;
}
