/* test_monitor_log.c: every log line is escaped (issue 9 item 15): text from the contract or a
 * node cannot forge a second line, move the cursor, or reorder what a reader sees with
 * bidirectional overrides; plain text and ordinary UTF-8 pass unchanged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/monitor/log.h"

static void expect(const char *in, const char *want)
{
	char out[512];
	size_t n = mpc_log_escape(in, out, sizeof(out));

	if (strcmp(out, want) != 0)
		printf("escape(%s) = %s, want %s\n", in, out, want);
	assert_string_equal(out, want);
	assert_int_equal(n, strlen(want));
}

static void test_escape(void **state)
{
	(void)state;
	expect("backed up epoch 4 from node-a.example:8079", "backed up epoch 4 from node-a.example:8079");
	expect("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91");
	expect("a\nFAKE 2026-01-01T00:00:00Z INFO ok", "a\\x0aFAKE 2026-01-01T00:00:00Z INFO ok");
	expect("\r\t\x1b[2J\x7f", "\\x0d\\x09\\x1b[2J\\x7f");
	/* RLO, LRI, PDI, LRM, line separator, a C1 control (NEL), ALM */
	expect("key \xe2\x80\xae" "cba", "key \\u202ecba");
	expect("\xe2\x81\xa6x\xe2\x81\xa9\xe2\x80\x8e\xe2\x80\xa8\xc2\x85\xd8\x9c",
	       "\\u2066x\\u2069\\u200e\\u2028\\u0085\\u061c");
	/* not UTF-8: a lone continuation byte, a truncated sequence, an overlong '/', a surrogate */
	expect("\x80" "a\xe2\x80" "b\xc0\xaf\xed\xa0\x80", "\\x80a\\xe2\\x80b\\xc0\\xaf\\xed\\xa0\\x80");
}

static void test_escape_bounded(void **state)
{
	char out[8];

	(void)state;
	/* Cut at a whole escape, never in the middle of one, always terminated. */
	assert_int_equal(mpc_log_escape("abc\x1b\x1b", out, sizeof(out)), 7);
	assert_string_equal(out, "abc\\x1b");
	assert_int_equal(mpc_log_escape("\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", out, sizeof(out)), 6);
	assert_string_equal(out, "\xe2\x82\xac\xe2\x82\xac");
	assert_int_equal(mpc_log_escape("x", out, 1), 0);
	assert_string_equal(out, "");
}

static void test_log_line(void **state)
{
	FILE *f = tmpfile();
	struct mpc_logger l = { f, MPC_LOG_INFO };
	char buf[1024];
	size_t n;

	(void)state;
	assert_non_null(f);
	mpc_log(&l, MPC_LOG_WARN, "node said: %s", "bad\n2026-01-01T00:00:00Z INFO  \xe2\x80\xae" "fake");
	mpc_log(&l, MPC_LOG_DEBUG, "not shown");
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	printf("%s", buf);
	assert_int_equal(strchr(buf, '\n') - buf, (long)n - 1); /* one line */
	assert_non_null(strstr(buf, " WARN  node said: bad\\x0a2026-01-01T00:00:00Z INFO  \\u202efake\n"));
	assert_null(strstr(buf, "not shown"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_escape_bounded),
		cmocka_unit_test(test_log_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
