/* test_monitor_log.c: every log line is escaped (issue 9 item 15): text from the contract or a
 * node cannot forge a second line, move the cursor, or reorder what a reader sees with
 * bidirectional overrides; plain text and ordinary UTF-8 pass unchanged. (The escaping itself,
 * mpc_escape_untrusted, is tested in tests/unit/test_escape.c; this tests that mpc_log applies
 * it to every line, whole.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/monitor/log.h"

/* Log one message at WARN into a temporary file; the file's text. */
static void log_one(const char *msg, char *buf, size_t cap)
{
	FILE *f = tmpfile();
	struct mpc_logger l = { f, MPC_LOG_INFO };
	size_t n;

	assert_non_null(f);
	mpc_log(&l, MPC_LOG_WARN, "node said: %s", msg);
	mpc_log(&l, MPC_LOG_DEBUG, "not shown");
	rewind(f);
	n = fread(buf, 1, cap - 1, f);
	buf[n] = '\0';
	fclose(f);
	printf("%s", buf);
	/* one line, ending in its only newline */
	assert_true(n > 0);
	assert_ptr_equal(strchr(buf, '\n'), buf + n - 1);
	assert_null(strstr(buf, "not shown"));
}

static void expect(const char *msg, const char *want)
{
	char buf[2048], line[600];

	log_one(msg, buf, sizeof(buf));
	snprintf(line, sizeof(line), " WARN  node said: %s\n", want);
	assert_non_null(strstr(buf, line));
}

static void test_plain_text_unchanged(void **state)
{
	(void)state;
	expect("backed up epoch 4 from node-a.example:8079 (caf\xc3\xa9, \xe2\x82\xac)",
	       "backed up epoch 4 from node-a.example:8079 (caf\xc3\xa9, \xe2\x82\xac)");
}

static void test_forged_line(void **state)
{
	(void)state;
	expect("bad\n2026-01-01T00:00:00Z INFO  migration concluded\r",
	       "bad\\n2026-01-01T00:00:00Z INFO  migration concluded\\r");
}

static void test_terminal_and_bidi(void **state)
{
	(void)state;
	expect("\x1b[2J\x7f key \xe2\x80\xae"
	       "cba \xe2\x81\xa6x\xe2\x81\xa9 \xc2\x85",
	       "\\x1b[2J\\x7f key \\u202ecba \\u2066x\\u2069 \\u0085");
	/* not UTF-8 */
	expect("\x80"
	       "a\xc0\xaf",
	       "\\x80a\\xc0\\xaf");
	/* a backslash cannot fake an escape */
	expect("\\x0a", "\\\\x0a");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_text_unchanged),
		cmocka_unit_test(test_forged_line),
		cmocka_unit_test(test_terminal_and_bidi),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
