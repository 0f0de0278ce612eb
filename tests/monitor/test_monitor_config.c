/* test_monitor_config.c: the configuration file as documented: the example in
 * docs/operations.md (comments after values) and dist/run.conf.example load as written; a # in
 * a value stays; every error names the file and line, text values (RPC URL, log level and
 * format) included, and never echoes an RPC URL's query string; a token URI (parsed by the
 * token layer when it opens) is traced back to its line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/monitor/config.h"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	assert_non_null(f);
	buf = calloc(1, 1 << 20);
	assert_non_null(buf);
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Write text to a private temporary file; its path in out. */
static void write_conf(const char *text, char *out, size_t cap)
{
	int fd;
	FILE *f;

	snprintf(out, cap, "/tmp/mpc-conf-XXXXXX");
	fd = mkstemp(out);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static const char *src_dir(void)
{
	const char *d = getenv("MPC_SOURCE_DIR");

	return d != NULL ? d : ".";
}

/* The ``` block of docs/operations.md that starts "# /etc/mpc-backup/run.conf". */
static void test_docs_example_loads(void **state)
{
	char path[600], conf[64];
	char *doc, *start, *end;
	struct mpc_config c;
	struct mpc_err e = { 0 };

	(void)state;
	snprintf(path, sizeof(path), "%s/docs/operations.md", src_dir());
	doc = slurp(path);
	start = strstr(doc, "```\n# /etc/mpc-backup/run.conf\n");
	assert_non_null(start);
	start += 4;
	end = strstr(start, "```");
	assert_non_null(end);
	*end = '\0';
	write_conf(start, conf, sizeof(conf));
	mpc_config_defaults(&c);
	if (mpc_config_load_file(&c, conf, &e) != MPC_OK)
		fail_msg("the documented example does not load: %s", e.msg);
	assert_int_equal(mpc_config_check(&c, &e), MPC_OK);
	assert_int_equal(c.n_rpc_url, 3);
	assert_int_equal(c.rpc_quorum, 2);
	assert_string_equal(c.log_level, "info");
	assert_true(c.poll_interval == 30);
	assert_true(c.backoff_max == 300);
	assert_string_equal(c.transport_key_file, "/run/secrets/transport-key.hex");
	assert_int_equal(c.n_overrides, 2);
	mpc_config_free(&c);
	unlink(conf);
	free(doc);

	snprintf(path, sizeof(path), "%s/dist/run.conf.example", src_dir());
	mpc_config_defaults(&c);
	if (mpc_config_load_file(&c, path, &e) != MPC_OK)
		fail_msg("dist/run.conf.example does not load: %s", e.msg);
	assert_int_equal(mpc_config_check(&c, &e), MPC_OK);
	mpc_config_free(&c);
}

static void test_comments_after_values(void **state)
{
	char conf[64];
	struct mpc_config c;
	struct mpc_err e = { 0 };

	(void)state;
	write_conf("store = /srv/store#1   # a # in a value stays\n"
		   "account = op.near\t# tab before the comment\n"
		   "rpc_url = https://rpc.example/p#frag # a URL fragment stays\n"
		   "   # an indented comment line\n"
		   "log_format = json # for the collector\n"
		   "uncovered_grace = 120 # seconds\n"
		   "backup_failures_unhealthy = 5 #\n",
		   conf, sizeof(conf));
	mpc_config_defaults(&c);
	if (mpc_config_load_file(&c, conf, &e) != MPC_OK)
		fail_msg("%s", e.msg);
	assert_string_equal(c.store, "/srv/store#1");
	assert_string_equal(c.account, "op.near");
	assert_string_equal(c.rpc_url[0], "https://rpc.example/p#frag");
	assert_string_equal(c.log_format, "json");
	assert_true(c.uncovered_grace == 120);
	assert_int_equal(c.backup_failures_unhealthy, 5);
	mpc_config_free(&c);
	unlink(conf);
}

/* Each bad line is line 3, after two good ones; the error names conf:3. */
static void test_errors_name_file_and_line(void **state)
{
	static const struct {
		const char *line, *needle;
	} cases[] = {
		{ "log_level = loud # typo",
		  "log_level \"loud\" is not debug, info, warn or error" },
		{ "log_format = syslog", "log_format \"syslog\" is not text, journal or json" },
		{ "rpc_url = ftp://rpc.example/?key=SECRETKEY", "URL" },
		{ "rpc_url = https://rpc example/?key=SECRETKEY", "no spaces" },
		{ "rpc_url = https://?key=SECRETKEY", "URL" },
		{ "uncovered_grace = soon", "not a number of seconds" },
		{ "backup_failures_unhealthy = 0", "not an integer" },
		{ "contract", "expected key = value" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[512], conf[64], where[128];
		struct mpc_config c;
		struct mpc_err e = { 0 };

		snprintf(text, sizeof(text), "store = /srv/s\naccount = op.near\n%s\n",
			 cases[i].line);
		write_conf(text, conf, sizeof(conf));
		mpc_config_defaults(&c);
		assert_int_not_equal(mpc_config_load_file(&c, conf, &e), MPC_OK);
		printf("%s -> %s\n", cases[i].line, e.msg);
		snprintf(where, sizeof(where), "%s:3: ", conf);
		if (strncmp(e.msg, where, strlen(where)) != 0)
			fail_msg("\"%s\": the error does not start with %s: %s", cases[i].line,
				 where, e.msg);
		if (cases[i].needle != NULL && strstr(e.msg, cases[i].needle) == NULL)
			fail_msg("\"%s\": the error does not say \"%s\": %s", cases[i].line,
				 cases[i].needle, e.msg);
		assert_null(strstr(e.msg, "SECRETKEY"));
		mpc_config_free(&c);
		unlink(conf);
	}
}

static void test_uri_where(void **state)
{
	char conf[64], where[128];
	struct mpc_config c;
	struct mpc_err e = { 0 };

	(void)state;
	write_conf("store = /srv/s\ntoken = pkcs11:token=a\nseal_to = pkcs11:token=b\n"
		   "seal_to = pkcs11:token=c?bogus-attr=1\n",
		   conf, sizeof(conf));
	mpc_config_defaults(&c);
	assert_int_equal(mpc_config_load_file(&c, conf, &e), MPC_OK);
	snprintf(where, sizeof(where), "%s:4", conf);
	assert_string_equal(mpc_config_uri_where(&c,
						 "malformed PKCS#11 URI \"pkcs11:token=c?...\": "
						 "bad"),
			    where);
	snprintf(where, sizeof(where), "%s:2", conf);
	assert_string_equal(mpc_config_uri_where(&c, "no token matches \"pkcs11:token=a\""), where);
	assert_null(mpc_config_uri_where(&c, "something else"));
	mpc_config_free(&c);
	unlink(conf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_docs_example_loads),
		cmocka_unit_test(test_comments_after_values),
		cmocka_unit_test(test_errors_name_file_and_line),
		cmocka_unit_test(test_uri_where),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
