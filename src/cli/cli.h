/* cli.h: what the subcommands share: common options, opening tokens, printing results and
 * errors, exit statuses.
 *
 * Each subcommand lives in its own cmd_<name>.c and has the signature of mpc_cli_fn: it gets
 * argv with argv[0] = the subcommand name, returns the process exit status, and prints its
 * result on stdout (text, or JSON with --json) and errors as one line on stderr.
 */
#ifndef MPC_CLI_CLI_H
#define MPC_CLI_CLI_H

#include <getopt.h>
#include <signal.h>
#include <stdio.h>

#include <jansson.h>

#include "pkcs11/module.h"
#include "pkcs11/token.h"
#include "src/util/err.h"

typedef int (*mpc_cli_fn)(int argc, char **argv);

/* Options every token-using command takes. */
struct mpc_cli_common {
	const char *token_uri;      /* --token, default MPC_DEFAULT_TOKEN_URI */
	const char *tls_token_uri;  /* --tls-token, default: --token */
	const char *seal_token_uri; /* --seal-token, default: --token */
	const char *token_profile;  /* --token-profile: the sealing token's rules, NULL: auto */
	struct mpc_pin_opts pin;    /* --pin-file, --allow-final-pin-try */
	int json;                   /* --json */
};

enum {
	MPC_OPT_TOKEN = 1000,
	MPC_OPT_TLS_TOKEN,
	MPC_OPT_SEAL_TOKEN,
	MPC_OPT_PIN_FILE,
	MPC_OPT_FINAL_TRY,
	MPC_OPT_JSON,
	MPC_OPT_HELP,
	MPC_OPT_PROFILE,
	MPC_OPT_FIRST_COMMAND_OPTION, /* subcommands number their own options from here */
};

#define MPC_CLI_COMMON_OPTIONS                                                   \
	{ "token", required_argument, NULL, MPC_OPT_TOKEN },                     \
		{ "tls-token", required_argument, NULL, MPC_OPT_TLS_TOKEN },     \
		{ "seal-token", required_argument, NULL, MPC_OPT_SEAL_TOKEN },   \
		{ "pin-file", required_argument, NULL, MPC_OPT_PIN_FILE },       \
		{ "allow-final-pin-try", no_argument, NULL, MPC_OPT_FINAL_TRY }, \
		{ "json", no_argument, NULL, MPC_OPT_JSON },                     \
		{ "token-profile", required_argument, NULL, MPC_OPT_PROFILE },   \
	{                                                                        \
		"help", no_argument, NULL, MPC_OPT_HELP                          \
	}

#define MPC_CLI_COMMON_HELP                                                                            \
	"  --token URI          PKCS#11 URI of the token (default pkcs11:token=mpc-backup); may\n"     \
	"                       carry module-path=, module-name= and pin-source=file:...\n"            \
	"  --tls-token URI      token holding the Ed25519 TLS key, if not --token\n"                   \
	"  --seal-token URI     token holding the sealing keys, if not --token\n"                      \
	"  --token-profile P    the sealing token's vendor rules: auto (detected, the default),\n"     \
	"                       generic, softhsm2, yubihsm2, cloudhsm, kmsp11 or nss\n"                \
	"  --pin-file FILE      read the user PIN from FILE (else pin-source, else $MPC_BACKUP_PIN)\n" \
	"  --allow-final-pin-try  log in even if the token says one more wrong PIN locks it\n"         \
	"  --json               print the result as JSON\n"                                            \
	"  --help               this text\n"

void mpc_cli_common_init(struct mpc_cli_common *c);
/* Handle a common option; returns 1 if `opt` was one, 0 if not. */
int mpc_cli_common_opt(struct mpc_cli_common *c, int opt, const char *arg);

/* Print "mpc-backup <cmd>: <message>" on stderr and return the exit status for e->code. */
int mpc_cli_fail(const char *cmd, const struct mpc_err *e);
/* Usage error: print the message and "see mpc-backup <cmd> --help"; returns 2. */
int mpc_cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* getopt_long returned '?' or ':': name the offending argument. Returns 2. */
int mpc_cli_bad_option(const char *cmd, char **argv);
/* Before getopt: refuse unknown or abbreviated long options (getopt_long accepts unambiguous
 * prefixes, so "--pin=1234" would become "--pin-file=1234"). argv[0] is the command's name.
 * Never quotes a value. Returns 0 or 2. */
int mpc_cli_check_options(const char *cmd, int argc, char **argv, const struct option *opts);
/* The name in `names` (NULL-terminated) a mistyped `word` most likely meant, or NULL. */
const char *mpc_cli_nearest(const char *word, const char *const *names);
/* Usage error for an unknown subcommand, with "did you mean" from subs (NULL-terminated). */
int mpc_cli_unknown_subcommand(const char *cmd, const char *sub, const char *const *subs);
/* Set by SIGINT/SIGTERM during a one-shot command (main.c installs the handlers): pass it as
 * the `cancel` of node and RPC clients so the command stops within 100 ms with exit 28. */
const volatile sig_atomic_t *mpc_cli_cancel_flag(void);
/* Reject positional arguments left after getopt (without quoting them). Returns 0 or 2. */
int mpc_cli_no_extra_args(const char *cmd, int argc, char **argv);

/* Print a JSON value on stdout (indented) and release it. Returns 0, or 70 on failure. */
int mpc_cli_print_json(json_t *j);

/* Opened tokens for a command. tls and seal may be the same object. */
struct mpc_cli_tokens {
	struct mpc_p11_ctx *p11;
	struct mpc_token *tls;
	struct mpc_token *seal;
};

#define MPC_CLI_NEED_TLS  1
#define MPC_CLI_NEED_SEAL 2
#define MPC_CLI_PUBLIC    4 /* open without logging in (mpc_token_open_public): no PIN read */
int mpc_cli_open_tokens(const struct mpc_cli_common *c, int need, struct mpc_cli_tokens *out,
			struct mpc_err *e);
void mpc_cli_close_tokens(struct mpc_cli_tokens *t);

/* The subcommands. */
int mpc_cmd_token(int argc, char **argv);
int mpc_cmd_register(int argc, char **argv);
int mpc_cmd_node(int argc, char **argv);
int mpc_cmd_backup(int argc, char **argv);
int mpc_cmd_restore(int argc, char **argv);
int mpc_cmd_store(int argc, char **argv);
int mpc_cmd_contract(int argc, char **argv);
int mpc_cmd_run(int argc, char **argv);
int mpc_cmd_import(int argc, char **argv);
int mpc_cmd_drill(int argc, char **argv);
int mpc_cmd_doctor(int argc, char **argv);

#endif
