/* cmd_replica.c: `mpc-backup store replicate` (catch every replica up once) and `mpc-backup store
 * fetch` (fill an empty store on a new host from a replica), through rclone. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "src/cli/cmd_replica.h"
#include "src/cli/session.h"
#include "src/store/replica.h"

static const char replica_help[] =
	"usage: mpc-backup store replicate --store DIR --replica REMOTE:PATH ...\n"
	"                                  --rclone-config F [--check] [--timeout S] [--json]\n"
	"       mpc-backup store fetch --store DIR --from REMOTE:PATH --rclone-config F\n"
	"                              [--verify [--seal-to URI ...] [token options]] [--json]\n"
	"\n"
	"replicate  copies every stored keyset a replica lacks to it (by name, to a temporary\n"
	"           name then moved into place; nothing on a replica is ever overwritten or\n"
	"           deleted) and compares the others by size and digest. With --check nothing is\n"
	"           copied and files the remote cannot hash are downloaded to hash them. Exit 0:\n"
	"           every replica holds every keyset; 26: a replica holds a different file of\n"
	"           the same name; 74: a replica could not be reached or copied to (it is\n"
	"           behind); 23: --timeout passed before every replica was tried.\n"
	"fetch      downloads the store files of a replica into an empty store (or completes\n"
	"           one whose files are all on the replica, identical), checks each file's\n"
	"           header and that its name carries the header's digest and, with --verify,\n"
	"           opens it in the token(s); refused files are not written. Exit 0: every file\n"
	"           accepted; else the status of the first refusal (15: the token does not open\n"
	"           it, or its name does not match its header).\n"
	"\n"
	"options:\n"
	"  --store DIR            the sealed store (fetch creates it if missing)\n"
	"  --replica REMOTE:PATH  an rclone remote and path (repeatable, up to 8)\n"
	"  --from REMOTE:PATH     the replica to fetch from\n"
	"  --rclone-config FILE   rclone's configuration (mode 0600, owned by you or root)\n"
	"  --rclone PROGRAM       the rclone program (default /usr/bin/rclone)\n"
	"  --call-timeout S       seconds for one rclone call (default 60)\n"
	"  --timeout S            seconds for the whole run (replicate; default none)\n"
	"  --host-id ID           names this host's temporaries on replicas (default host name)\n"
	"  --check, --verify, --seal-to URI (repeatable)\n" MPC_CLI_COMMON_HELP;

/* Set by SIGINT/SIGTERM: the running rclone (in its own process group, which a terminal's ^C
 * does not reach) is killed and the command ends. Signal-handler state, like run's. */
static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void catch_stop_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static int parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	if (s == NULL || s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (*end != '\0' || errno != 0 || v <= 0 || v > 86400)
		return -1;
	*out = v;
	return 0;
}

static void print_report(const struct mpc_replica_report *r)
{
	for (size_t i = 0; i < r->n_findings; i++)
		printf("%s  %s  %s  %s\n", r->items[r->findings[i].replica].remote,
		       mpc_replica_finding_name(r->findings[i].kind), r->findings[i].name,
		       r->findings[i].detail);
	for (size_t i = 0; i < r->n; i++) {
		const struct mpc_replica_status *st = &r->items[i];

		printf("%s  %s  behind %zu  different %zu  extra %zu%s%s\n", st->remote,
		       !st->reached                                ? "UNREACHABLE"
		       : (st->files_behind || st->files_different) ? "NOT CURRENT"
								   : "current",
		       st->files_behind, st->files_different, st->files_extra,
		       st->last_error[0] ? "  error: " : "", st->last_error);
	}
	printf("%zu file(s) copied, %zu replica(s) failed, %zu skipped, %.2f s\n", r->uploaded,
	       r->failed, r->skipped, r->seconds);
}

static int replicate(const struct mpc_cli_common *c, const struct mpc_cli_node_opts *no,
		     const struct mpc_replica_opts *ro, const char *const *remotes, size_t n,
		     int check, double budget)
{
	struct mpc_replica_set *set = NULL;
	struct mpc_store *store = NULL;
	struct mpc_replica_report *r = NULL;
	struct mpc_err e = { 0 };
	int rc, status = 0;
	double deadline = budget > 0 ? mpc_replica_now() + budget : 0;

	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return mpc_exit_status(MPC_ERR_NOMEM);
	rc = mpc_replica_set_new(ro, &set, &e);
	for (size_t i = 0; rc == MPC_OK && i < n; i++)
		rc = mpc_replica_set_add(set, remotes[i], &e);
	if (rc == MPC_OK)
		rc = mpc_store_open(no->store, 0, &store, &e);
	if (rc == MPC_OK)
		rc = check ? mpc_replica_verify(set, store, deadline, r, &e)
			   : mpc_replica_sync(set, store, deadline, r, &e);
	if (rc != MPC_OK) {
		status = mpc_cli_fail("store replicate", &e);
		goto out;
	}
	for (size_t i = 0; i < r->n && status == 0; i++)
		if (r->items[i].files_different)
			status = mpc_exit_status(MPC_ERR_INVALID);
	if (status == 0 && r->failed)
		status = mpc_exit_status(MPC_ERR_IO);
	if (status == 0 && r->skipped)
		status = mpc_exit_status(MPC_ERR_TIMEOUT);
	if (c->json) {
		json_t *j = mpc_replica_report_json(r, &e);

		if (j == NULL)
			status = mpc_cli_fail("store replicate", &e);
		else if (mpc_cli_print_json(j) != 0)
			status = 70;
	} else {
		print_report(r);
	}
	if (status != 0 && status != 70)
		fprintf(stderr, "mpc-backup store replicate: %s\n",
			status == mpc_exit_status(MPC_ERR_INVALID)
				? "a replica holds a different file under a keyset's name"
			: status == mpc_exit_status(MPC_ERR_IO)
				? "a replica is behind (unreachable or a copy failed)"
				: "the time ran out before every replica was tried");
out:
	mpc_store_close(store);
	mpc_replica_set_free(set);
	free(r);
	return status;
}

static int fetch(const struct mpc_cli_common *c, const struct mpc_cli_node_opts *no,
		 const struct mpc_replica_opts *ro, const char *from, int verify)
{
	struct mpc_cli_session s;
	struct mpc_store *store = NULL;
	struct mpc_replica_fetch_report r = { 0 };
	struct mpc_err e = { 0 };
	int rc, status = 0, opened = 0;

	memset(&s, 0, sizeof(s));
	if (verify) {
		rc = mpc_cli_session_open(c, no, MPC_SESSION_KEYSHARES | MPC_SESSION_STORE_CREATE,
					  &s, &e);
		opened = rc == MPC_OK;
		store = s.store;
	} else {
		rc = mpc_store_open(no->store, 1, &store, &e);
	}
	if (rc == MPC_OK)
		rc = mpc_replica_fetch(ro, from, store, verify ? s.seal : NULL,
				       verify ? s.n_seal : 0, &r, &e);
	if (rc != MPC_OK) {
		status = mpc_cli_fail("store fetch", &e);
		goto out;
	}
	for (size_t i = 0; i < r.n && status == 0; i++)
		if (!r.items[i].accepted)
			status = mpc_exit_status(r.items[i].code);
	if (c->json) {
		json_t *j = mpc_replica_fetch_report_json(&r, &e);

		if (j == NULL)
			status = mpc_cli_fail("store fetch", &e);
		else if (mpc_cli_print_json(j) != 0)
			status = 70;
	} else {
		for (size_t i = 0; i < r.n; i++)
			printf("%s  %s  %s\n", r.items[i].name,
			       r.items[i].accepted ? "OK" : "REFUSED", r.items[i].msg);
		printf("%zu written, %zu already present, %zu refused%s\n", r.n_accepted,
		       r.n_present, r.n_refused,
		       r.verified ? " (opened in the token)" : " (headers checked; no token)");
	}
	if (r.n_refused)
		fprintf(stderr, "mpc-backup store fetch: %zu file(s) refused: not written\n",
			r.n_refused);
out:
	mpc_replica_fetch_report_free(&r);
	if (opened)
		mpc_cli_session_close(&s);
	else
		mpc_store_close(store);
	return status;
}

int mpc_cmd_store_replica(int argc, char **argv)
{
	enum {
		OPT_REPLICA = MPC_OPT_SESSION_LAST,
		OPT_FROM,
		OPT_CONFIG,
		OPT_RCLONE,
		OPT_CALL_TIMEOUT,
		OPT_TIMEOUT,
		OPT_HOST_ID,
		OPT_CHECK,
		OPT_VERIFY,
	};
	static const struct option opts[] = {
		MPC_CLI_COMMON_OPTIONS,
		MPC_CLI_NODE_OPTIONS,
		{ "replica", required_argument, NULL, OPT_REPLICA },
		{ "from", required_argument, NULL, OPT_FROM },
		{ "rclone-config", required_argument, NULL, OPT_CONFIG },
		{ "rclone", required_argument, NULL, OPT_RCLONE },
		{ "call-timeout", required_argument, NULL, OPT_CALL_TIMEOUT },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "host-id", required_argument, NULL, OPT_HOST_ID },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "verify", no_argument, NULL, OPT_VERIFY },
		{ NULL, 0, NULL, 0 }
	};
	struct mpc_cli_common c;
	struct mpc_cli_node_opts no;
	struct mpc_replica_opts ro = { 0 };
	const char *remotes[MPC_REPLICA_MAX], *from = NULL, *sub = argv[1];
	size_t n = 0;
	double budget = 0;
	int opt, r, check = 0, verify = 0, fetching = strcmp(sub, "fetch") == 0;
	const char *cmd = fetching ? "store fetch" : "store replicate";

	if (mpc_cli_check_options(cmd, argc - 1, argv + 1, opts) != 0)
		return 2;
	memset(&no, 0, sizeof(no));
	mpc_cli_common_init(&c);
	while ((opt = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
		if (opt == MPC_OPT_HELP) {
			fputs(replica_help, stdout);
			return 0;
		}
		if (mpc_cli_common_opt(&c, opt, optarg))
			continue;
		switch (opt) {
		case OPT_REPLICA:
			if (n == MPC_REPLICA_MAX)
				return mpc_cli_usage(cmd, "at most %d --replica", MPC_REPLICA_MAX);
			remotes[n++] = optarg;
			continue;
		case OPT_FROM:
			from = optarg;
			continue;
		case OPT_CONFIG:
			ro.config = optarg;
			continue;
		case OPT_RCLONE:
			ro.rclone = optarg;
			continue;
		case OPT_HOST_ID:
			ro.host_id = optarg;
			continue;
		case OPT_CALL_TIMEOUT:
			if (parse_seconds(optarg, &ro.call_timeout) != 0 || ro.call_timeout > 3600)
				return mpc_cli_usage(cmd, "--call-timeout wants 0 < S <= 3600");
			continue;
		case OPT_TIMEOUT:
			if (parse_seconds(optarg, &budget) != 0)
				return mpc_cli_usage(cmd, "--timeout wants 0 < S <= 86400");
			continue;
		case OPT_CHECK:
			check = 1;
			continue;
		case OPT_VERIFY:
			verify = 1;
			continue;
		default:
			break;
		}
		r = mpc_cli_node_opt(cmd, &no, opt, optarg);
		if (r < 0)
			return 2;
		if (r == 0)
			return mpc_cli_bad_option(cmd, argv + 1);
	}
	if (mpc_cli_no_extra_args(cmd, argc - 1, argv + 1) != 0)
		return 2;
	if (no.store == NULL)
		return mpc_cli_usage(cmd, "--store DIR is required");
	if (ro.config == NULL)
		return mpc_cli_usage(cmd, "--rclone-config FILE is required");
	ro.cancel = &stop_requested;
	catch_stop_signals();
	if (fetching) {
		if (from == NULL || n > 0 || check)
			return mpc_cli_usage(cmd, "fetch takes --from REMOTE:PATH (not --replica, "
						  "--check)");
		return fetch(&c, &no, &ro, from, verify);
	}
	if (n == 0 || from != NULL || verify)
		return mpc_cli_usage(cmd, "replicate takes one or more --replica REMOTE:PATH (not "
					  "--from, --verify)");
	return replicate(&c, &no, &ro, remotes, n, check, budget);
}
