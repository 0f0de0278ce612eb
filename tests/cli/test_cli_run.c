/* test_cli_run.c: `mpc-backup run` refuses a bad configuration before it starts anything: a PIN
 * or a key in the configuration file (naming the line, never echoing the secret), an unknown
 * setting or a malformed line (file:line), missing --store/--account/--rpc-url (exit 2). Each
 * run must end by itself with one line on stderr and leave no process behind. */
#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <unistd.h>

#include "tests/cli/cli_harness.h"

#define PIN "97531"

struct fx {
	char dir[64];
	char store[600];
	struct ch_result r;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(nh_tmpdir(f->dir, sizeof(f->dir)), 0);
	snprintf(f->store, sizeof(f->store), "%s/store", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	ch_result_free(&f->r);
	nh_rmdir(f->dir);
	free(f);
	return 0;
}

/* Processes (other than us) whose command line mentions `needle`. */
static int processes_mentioning(const char *needle)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		char path[300], buf[4096];
		FILE *fp;
		size_t len;

		if (de->d_name[0] < '0' || de->d_name[0] > '9' || atoi(de->d_name) == (int)getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		fp = fopen(path, "r");
		if (fp == NULL)
			continue;
		len = fread(buf, 1, sizeof(buf) - 1, fp);
		fclose(fp);
		for (size_t i = 0; i < len; i++)
			if (buf[i] == '\0')
				buf[i] = ' ';
		buf[len] = '\0';
		if (strstr(buf, needle) != NULL)
			n++;
	}
	closedir(d);
	return n;
}

/* Run with `args`, expect `status`, one stderr line holding every needle, no secret echoed. */
static void refused(struct fx *f, const char *const *args, int status, const char *n1,
		    const char *n2)
{
	ch_runv(&f->r, NULL, NULL, args);
	ch_expect(&f->r, status, n1);
	if (n2 != NULL && strstr(f->r.err, n2) == NULL)
		fail_msg("stderr does not say \"%s\":\n%s", n2, f->r.err);
	ch_expect_one_error_line(&f->r, "run");
	assert_int_equal(f->r.out_len, 0);
	assert_null(strstr(f->r.err, PIN));
	assert_int_equal(processes_mentioning(f->dir), 0);
}

static void conf(struct fx *f, const char *name, const char *last_line, char *path)
{
	char text[2048];

	snprintf(text, sizeof(text),
		 "# mpc-backup run configuration\n"
		 "store = %s\n"
		 "account = op.near\n"
		 "\n"
		 "rpc_url = http://127.0.0.1:9\n"
		 "%s\n",
		 f->store, last_line);
	ch_write(f->dir, name, text, path);
}

static void test_secrets_in_config(void **state)
{
	struct fx *f = *state;
	char path[512], where[600];
	const char *args[] = { "run", "--config", path, NULL };
	static const struct {
		const char *line, *needle;
	} cases[] = {
		{ "pin = " PIN, "secrets are never configuration" },
		{ "token = pkcs11:token=mpc-backup?pin-value=" PIN, "pin-value" },
		{ "seal_token = pkcs11:token=mpc-backup?pin-value=" PIN, "pin-value" },
		{ "transport_key = 5ab0c1d2e3f405162738495a6b7c8d9eafb0c1d2e3f4051627384" PIN,
		  "secrets are never configuration" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		conf(f, "secret.conf", cases[i].line, path);
		snprintf(where, sizeof(where), "%s:6:", path); /* the file and the line */
		refused(f, args, 2, where, cases[i].needle);
	}
	/* The same on the command line. */
	{
		const char *cl[] = { "run",
				     "--store",
				     f->store,
				     "--account",
				     "op.near",
				     "--rpc-url",
				     "http://127.0.0.1:9",
				     "--token",
				     "pkcs11:token=mpc-backup?pin-value=" PIN,
				     NULL };

		refused(f, cl, 2, "--token", "pin-value");
	}
}

static void test_bad_config_lines(void **state)
{
	struct fx *f = *state;
	char path[512], where[600];
	const char *args[] = { "run", "--config", path, NULL };

	conf(f, "unknown.conf", "frobnicate = 3", path);
	snprintf(where, sizeof(where), "%s:6: unknown setting \"frobnicate\"", path);
	refused(f, args, 2, where, NULL);
	conf(f, "malformed.conf", "store", path);
	snprintf(where, sizeof(where), "%s:6:", path);
	refused(f, args, 65, where, "key = value");
	conf(f, "badnumber.conf", "poll_interval = often", path);
	snprintf(where, sizeof(where), "%s:6:", path);
	refused(f, args, 2, where, "not a number of seconds");
	/* A token URI is parsed when the token opens, yet the error names its line. */
	conf(f, "uri.conf", "token = pkcs11:token=%zz   # a typo", path);
	snprintf(where, sizeof(where), "%s:6:", path);
	refused(f, args, 65, where, "PKCS#11 URI");
	snprintf(path, sizeof(path), "%s/absent.conf", f->dir);
	refused(f, args, 18, "absent.conf", NULL);
}

static void test_missing_settings(void **state)
{
	struct fx *f = *state;
	const char *no_store[] = { "run",       "--account",          "op.near",
				   "--rpc-url", "http://127.0.0.1:9", NULL };
	const char *no_account[] = { "run", "--store", f->store, "--rpc-url", "http://127.0.0.1:9",
				     NULL };
	const char *no_rpc[] = { "run", "--store", f->store, "--account", "op.near", NULL };
	const char *bad_opt[] = { "run",
				  "--store",
				  f->store,
				  "--account",
				  "op.near",
				  "--rpc-url",
				  "http://127.0.0.1:9",
				  "--frobnicate",
				  NULL };
	const char *extra[] = { "run",
				"--store",
				f->store,
				"--account",
				"op.near",
				"--rpc-url",
				"http://127.0.0.1:9",
				"now",
				NULL };
	const char *quorum[] = { "run",
				 "--store",
				 f->store,
				 "--account",
				 "op.near",
				 "--rpc-url",
				 "http://127.0.0.1:9",
				 "--rpc-quorum",
				 "2",
				 NULL };

	refused(f, no_store, 2, "--store DIR", NULL);
	refused(f, no_account, 2, "--account OPERATOR", NULL);
	refused(f, no_rpc, 2, "--rpc-url URL", NULL);
	refused(f, bad_opt, 2, "--frobnicate", NULL);
	refused(f, extra, 2, NULL, NULL);
	refused(f, quorum, 2, "quorum", NULL);
	/* Complete settings, but the token's module is not there: it stops (11), starts nothing. */
	{
		const char *no_module[] = {
			"run",
			"--store",
			f->store,
			"--account",
			"op.near",
			"--rpc-url",
			"http://127.0.0.1:9",
			"--token",
			"pkcs11:token=mpc-backup?module-path=/nonexistent/module.so",
			NULL
		};

		refused(f, no_module, 11, "/nonexistent/module.so", NULL);
	}
	ch_run(&f->r, NULL, NULL, "run", "--help", (char *)NULL);
	ch_expect(&f->r, 0, "usage: mpc-backup run");
}

/* Issue 9 item 16: a malformed address is refused at start-up, naming the setting, not at the
 * first metrics request or migration. */
static void test_malformed_addresses(void **state)
{
	struct fx *f = *state;
	char path[512], where[600];
	const char *args[] = { "run", "--config", path, NULL };
	static const char *const bad[] = {
		"metrics_listen = [::1:9464",
		"metrics_listen = [::1]9464",
		"metrics_listen = ::1:9464",
		"metrics_listen = 127.0.0.1:",
		"metrics_listen = 127.0.0.1:99999",
		"address.account.alice.near = [::1",
		"address.account.alice.near = [::1]",
		"address.account.alice.near = [fe80::zz]:8079",
		"address.key.ed25519:2XPuwqhg71RXRiTUMKGapd8FYWgXnxVvydYBK9tS1ex2 = node:port",
		"address.account.alice.near = user@node:8079",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		conf(f, "addr.conf", bad[i], path);
		snprintf(where, sizeof(where), "%s:6:", path);
		refused(f, args, 2, where, NULL);
	}
	{
		const char *cl[] = { "run",
				     "--store",
				     f->store,
				     "--account",
				     "op.near",
				     "--rpc-url",
				     "http://127.0.0.1:9",
				     "--metrics-listen",
				     "[::1:9464",
				     NULL };

		refused(f, cl, 2, "--metrics-listen", "is not [IPv6-ADDRESS]:PORT");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_secrets_in_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_config_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_settings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_addresses, setup, teardown),
	};

	return CH_MAIN(tests);
}
