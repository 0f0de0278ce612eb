/* common.c: options, token opening, output and errors shared by the subcommands. */
#include "src/cli/cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "pkcs11/vendor.h"

void mpc_cli_common_init(struct mpc_cli_common *c)
{
	memset(c, 0, sizeof(*c));
	c->token_uri = MPC_DEFAULT_TOKEN_URI;
	opterr = 0; /* mpc_cli_bad_option() says it in one line */
	optind = 1;
}

int mpc_cli_bad_option(const char *cmd, char **argv)
{
	const char *bad = optind > 0 ? argv[optind - 1] : "?";
	size_t n = strcspn(bad, "=");

	/* Only the option's name, never a value: a mistyped flag may carry a secret. */
	if (optopt != 0 && optopt < 256 && bad[0] == '-' && bad[1] != '-')
		return mpc_cli_usage(cmd, "unknown option -%c", optopt);
	return mpc_cli_usage(cmd, "unknown option or missing value: \"%.*s\"",
			     (int)(n > 24 ? 24 : n), bad);
}

/* Edit distance between a[0..an) and b, capped: only small distances matter. */
static size_t edit_distance(const char *a, size_t an, const char *b)
{
	size_t bn = strlen(b), prev[64], cur[64];

	if (an >= 63 || bn >= 63)
		return 99;
	for (size_t j = 0; j <= bn; j++)
		prev[j] = j;
	for (size_t i = 1; i <= an; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= bn; j++) {
			size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;

			cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
		memcpy(prev, cur, (bn + 1) * sizeof(size_t));
	}
	return prev[bn];
}

static const char *nearest_n(const char *word, size_t n, const char *const *names)
{
	const char *best = NULL;
	size_t best_d = n <= 3 ? 1 : 2; /* a typo, not another word */

	for (; *names != NULL; names++) {
		size_t d = edit_distance(word, n, *names);

		if (d <= best_d && (best == NULL || d < best_d)) {
			best = *names;
			best_d = d;
		}
	}
	return best;
}

const char *mpc_cli_nearest(const char *word, const char *const *names)
{
	return nearest_n(word, strlen(word), names);
}

int mpc_cli_unknown_subcommand(const char *cmd, const char *sub, const char *const *subs)
{
	const char *near = mpc_cli_nearest(sub, subs);

	if (near != NULL)
		return mpc_cli_usage(cmd, "unknown subcommand \"%.40s\", did you mean \"%s\"?", sub,
				     near);
	return mpc_cli_usage(cmd, "unknown subcommand \"%.40s\"", sub);
}

int mpc_cli_check_options(const char *cmd, int argc, char **argv, const struct option *opts)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const struct option *o;
		size_t n;

		if (strcmp(a, "--") == 0)
			break;
		if (strncmp(a, "--", 2) != 0)
			continue;
		n = strcspn(a + 2, "=");
		for (o = opts; o->name != NULL; o++)
			if (strlen(o->name) == n && strncmp(o->name, a + 2, n) == 0)
				break;
		/* getopt_long would take "--pin=..." for "--pin-file=...": names must be exact */
		if (o->name == NULL) {
			const char *names[128];
			const char *near;
			size_t k = 0;

			for (o = opts; o->name != NULL && k + 1 < sizeof(names) / sizeof(names[0]);
			     o++)
				names[k++] = o->name;
			names[k] = NULL;
			near = nearest_n(a + 2, n, names);
			if (near != NULL)
				return mpc_cli_usage(
					cmd, "unknown option \"--%.*s\", did you mean \"--%s\"?",
					(int)(n > 24 ? 24 : n), a + 2, near);
			return mpc_cli_usage(cmd, "unknown option \"--%.*s\"",
					     (int)(n > 24 ? 24 : n), a + 2);
		}
		if (o->has_arg == required_argument && a[2 + n] != '=')
			i++;
	}
	return 0;
}

int mpc_cli_common_opt(struct mpc_cli_common *c, int opt, const char *arg)
{
	switch (opt) {
	case MPC_OPT_TOKEN:
		c->token_uri = arg;
		return 1;
	case MPC_OPT_TLS_TOKEN:
		c->tls_token_uri = arg;
		return 1;
	case MPC_OPT_SEAL_TOKEN:
		c->seal_token_uri = arg;
		return 1;
	case MPC_OPT_PROFILE:
		c->token_profile = arg;
		return 1;
	case MPC_OPT_PIN_FILE:
		c->pin.pin_file = arg;
		return 1;
	case MPC_OPT_FINAL_TRY:
		c->pin.allow_final_try = 1;
		return 1;
	case MPC_OPT_JSON:
		c->json = 1;
		return 1;
	default:
		return 0;
	}
}

int mpc_cli_fail(const char *cmd, const struct mpc_err *e)
{
	int code = e->code != MPC_OK ? e->code : MPC_ERR_INTERNAL;

	char where[256];

	mpc_err_where(e, where, sizeof(where));
	/* `where` is empty unless built with MPC_ERR_LOCATIONS (debug builds) */
	fprintf(stderr, "mpc-backup %s: %s%s%s%s\n", cmd,
		e->msg[0] != '\0' ? e->msg : mpc_strerror(code), where[0] ? " [at " : "", where,
		where[0] ? "]" : "");
	return mpc_exit_status(code);
}

int mpc_cli_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "mpc-backup %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see mpc-backup %s --help)\n", cmd);
	return 2;
}

int mpc_cli_no_extra_args(const char *cmd, int argc, char **argv)
{
	(void)argv;
	if (optind < argc)
		return mpc_cli_usage(cmd,
				     "unexpected argument #%d (not shown: it might be a secret; "
				     "PINs and keys are never taken on the command line)",
				     optind);
	return 0;
}

int mpc_cli_print_json(json_t *j)
{
	int rc;

	if (j == NULL) {
		fprintf(stderr, "mpc-backup: out of memory building JSON output\n");
		return 70;
	}
	rc = json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	fputc('\n', stdout);
	return rc == 0 ? 0 : 70;
}

int mpc_cli_open_tokens(const struct mpc_cli_common *c, int need, struct mpc_cli_tokens *out,
			struct mpc_err *e)
{
	const char *tls_uri = c->tls_token_uri != NULL ? c->tls_token_uri : c->token_uri;
	const char *seal_uri = c->seal_token_uri != NULL ? c->seal_token_uri : c->token_uri;
	int (*open_fn)(struct mpc_p11_ctx *, const char *, const struct mpc_pin_opts *,
		       struct mpc_token **, struct mpc_err *) =
		(need & MPC_CLI_PUBLIC) ? mpc_token_open_public : mpc_token_open;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = mpc_p11_ctx_new(&out->p11, e);
	if (rc != MPC_OK)
		return rc;
	if (need & MPC_CLI_NEED_SEAL) {
		rc = open_fn(out->p11, seal_uri, &c->pin, &out->seal, e);
		/* --token-profile / token_profile: the sealing token's vendor rules (vendor.h) */
		if (rc == MPC_OK && c->token_profile != NULL)
			rc = mpc_token_set_profile(out->seal, c->token_profile, e);
		if (rc != MPC_OK)
			goto fail;
	}
	if (need & MPC_CLI_NEED_TLS) {
		if (out->seal != NULL && strcmp(tls_uri, seal_uri) == 0) {
			out->tls = out->seal;
		} else {
			rc = open_fn(out->p11, tls_uri, &c->pin, &out->tls, e);
			if (rc != MPC_OK)
				goto fail;
		}
	}
	return MPC_OK;
fail:
	mpc_cli_close_tokens(out);
	return rc;
}

void mpc_cli_close_tokens(struct mpc_cli_tokens *t)
{
	if (t->tls != NULL && t->tls != t->seal)
		mpc_token_close(t->tls);
	mpc_token_close(t->seal);
	mpc_p11_ctx_free(t->p11);
	memset(t, 0, sizeof(*t));
}
