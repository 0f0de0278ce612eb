/* main.c: the mpc-backup process entry point: hardening, process-wide library settings, and
 * dispatch to one subcommand. The only place with process-global state. */
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "src/cli/cli.h"
#include "src/util/mem.h"

static const struct {
	const char *name;
	mpc_cli_fn fn;
	const char *summary;
} commands[] = {
	{ "token", mpc_cmd_token, "list tokens, run the key ceremony, show keys" },
	{ "register", mpc_cmd_register, "print what to register on the contract" },
	{ "node", mpc_cmd_node, "prove the authenticated path to a node (hello)" },
	{ "backup", mpc_cmd_backup, "fetch, validate, seal and store one keyset" },
	{ "restore", mpc_cmd_restore, "push a stored keyset to a node" },
	{ "store", mpc_cmd_store, "list, verify, prune, quarantine stored keysets" },
	{ "contract", mpc_cmd_contract, "read the contract: status for the operator" },
	{ "run", mpc_cmd_run, "the monitor: automatic backup and recovery" },
	{ "import", mpc_cmd_import, "import keyshares from backup-cli or a node's permanent_keys" },
	{ "drill", mpc_cmd_drill, "restore drill: open, check against the contract, wipe" },
	{ "doctor", mpc_cmd_doctor, "check token, keys, RPC endpoints and node: is all ready?" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: mpc-backup COMMAND [options]   (mpc-backup COMMAND --help)\n\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f,
		"\nPINs and keys are never taken on the command line: see docs/operations.md.\n");
}

/* Set by SIGINT/SIGTERM while a one-shot command runs; the node and RPC clients poll it and
 * abort their transfer with MPC_ERR_CANCELLED, so the command ends cleanly with exit 28. */
static volatile sig_atomic_t cancel_flag;

static void on_cancel(int sig)
{
	(void)sig;
	cancel_flag = 1;
}

const volatile sig_atomic_t *mpc_cli_cancel_flag(void)
{
	return &cancel_flag;
}

/* SA_RESETHAND: a second signal kills the process the default way, so a command blocked
 * where nothing polls the flag (a PKCS#11 call, a read of stdin) still stops. */
static void install_cancel_handlers(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_cancel;
	sa.sa_flags = (int)SA_RESETHAND;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* jansson's allocations are wiped when freed: parsed keyshares pass through it. Blocks are
 * plain malloc() blocks (so strings jansson hands out, e.g. from json_dumps, may still be
 * released with free()); the size to wipe comes from malloc_usable_size(). */
static void *json_wiping_malloc(size_t n)
{
	return malloc(n);
}

static void json_wiping_free(void *ptr)
{
	if (ptr == NULL)
		return;
	mpc_memzero(ptr, malloc_usable_size(ptr));
	free(ptr);
}

/* Threads started by libraries get THREAD_STACK bytes of stack instead of the default 8 MiB:
 * they run short callbacks (name resolution, HTTP request handlers). */
#define THREAD_STACK ((size_t)256 << 10)

static int set_thread_stack_size(void)
{
	pthread_attr_t a;
	int rc;

	if (pthread_attr_init(&a) != 0)
		return -1;
	rc = pthread_attr_setstacksize(&a, THREAD_STACK);
	if (rc == 0)
		rc = pthread_setattr_default_np(&a);
	pthread_attr_destroy(&a);
	return rc;
}

/* Output is printed without checking each call; a write error (disk full, closed pipe) is
 * caught here, once, so a script never takes truncated output for a success. */
static int finish(int status)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "mpc-backup: cannot write to standard output\n");
		return status != 0 ? status : 74;
	}
	return status;
}

int main(int argc, char **argv)
{
	static char help_opt[] = "--help";
	struct mpc_err e = { 0 };

	if (mpc_harden_process(&e) != MPC_OK) {
		fprintf(stderr, "mpc-backup: %s\n", e.msg);
		return 70;
	}
	/* Commands that handle keyshares lock every page they map (mlockall, MCL_FUTURE), so the
	 * address space is what RLIMIT_MEMLOCK must cover: one malloc arena instead of a 64 MiB
	 * reservation per thread, and small stacks for the threads libraries start (libcurl's
	 * resolver, libmicrohttpd), keep it to what was measured (docs/operations.md). Both are
	 * tuning: an allocator that ignores M_ARENA_MAX (AddressSanitizer's) is not an error. */
	(void)mallopt(M_ARENA_MAX, 1);
	if (set_thread_stack_size() != 0) {
		fprintf(stderr, "mpc-backup: cannot set the default thread stack size\n");
		return 70;
	}
	json_set_alloc_funcs(json_wiping_malloc, json_wiping_free);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "mpc-backup: libcurl cannot initialise\n");
		return 70;
	}
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return finish(0);
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("mpc-backup %s\n", MPC_VERSION);
		return finish(0);
	}
	/* `-h` is `--help` for every command (no option takes a value starting with '-') */
	for (int i = 2; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "-h") == 0)
			argv[i] = help_opt;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		int status;

		if (strcmp(argv[1], commands[i].name) != 0)
			continue;
		/* `run` installs its own handlers (stop, reload) */
		if (commands[i].fn != mpc_cmd_run)
			install_cancel_handlers();
		status = commands[i].fn(argc - 1, argv + 1);
		/* Stopped by a signal before it finished: 28, whatever error the interruption
		 * surfaced as (docs/operations.md, "Exit statuses"). */
		if (cancel_flag && status != 0 && commands[i].fn != mpc_cmd_run)
			status = mpc_exit_status(MPC_ERR_CANCELLED);
		return finish(status);
	}
	{
		const char *names[sizeof(commands) / sizeof(commands[0]) + 1];
		const char *near;

		for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
			names[i] = commands[i].name;
		names[sizeof(commands) / sizeof(commands[0])] = NULL;
		near = mpc_cli_nearest(argv[1], names);
		fprintf(stderr,
			"mpc-backup: unknown command \"%.40s\"%s%s%s (see mpc-backup --help)\n",
			argv[1], near != NULL ? ", did you mean \"" : "", near != NULL ? near : "",
			near != NULL ? "\"?" : "");
	}
	return 2;
}
