/* main.c: the mpc-backup process entry point: hardening, process-wide library settings, and
 * dispatch to one subcommand. The only place with process-global state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
};

static void usage(FILE *f)
{
	fprintf(f, "usage: mpc-backup COMMAND [options]   (mpc-backup COMMAND --help)\n\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nPINs and keys are never taken on the command line: see docs/operations.md.\n");
}

/* jansson's allocations are wiped when freed: parsed keyshares pass through it. The size is
 * kept in a header in front of the block. */
static void *json_wiping_malloc(size_t n)
{
	size_t *p = malloc(n + sizeof(size_t) * 2);

	if (p == NULL)
		return NULL;
	p[0] = n;
	return p + 2;
}

static void json_wiping_free(void *ptr)
{
	size_t *p;

	if (ptr == NULL)
		return;
	p = (size_t *)ptr - 2;
	mpc_memzero(ptr, p[0]);
	free(p);
}

int main(int argc, char **argv)
{
	struct mpc_err e = { 0 };

	if (mpc_harden_process(&e) != MPC_OK) {
		fprintf(stderr, "mpc-backup: %s\n", e.msg);
		return 70;
	}
	json_set_alloc_funcs(json_wiping_malloc, json_wiping_free);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("mpc-backup %s\n", MPC_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "mpc-backup: unknown command \"%.40s\" (see mpc-backup --help)\n", argv[1]);
	return 2;
}
