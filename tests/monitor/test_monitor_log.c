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

#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "src/monitor/log.h"
#include "src/monitor/retry.h"

/* Log one message at WARN into a temporary file; the file's text. */
static void log_one(const char *msg, char *buf, size_t cap)
{
	FILE *f = tmpfile();
	struct mpc_logger l = { f, MPC_LOG_INFO, MPC_LOG_TEXT };
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

/* Every line of `format` at `min` for one message per level; the text. */
static void log_levels(enum mpc_log_format format, enum mpc_log_level min, char *buf, size_t cap)
{
	FILE *f = tmpfile();
	struct mpc_logger l = { f, min, format };
	size_t n;

	assert_non_null(f);
	mpc_log(&l, MPC_LOG_DEBUG, "d \"quoted\"");
	mpc_log(&l, MPC_LOG_INFO, "i");
	mpc_log(&l, MPC_LOG_WARN, "w\nforged");
	mpc_log(&l, MPC_LOG_ERROR, "e");
	rewind(f);
	n = fread(buf, 1, cap - 1, f);
	buf[n] = '\0';
	fclose(f);
	printf("%s", buf);
}

/* Under systemd: <N> priorities journald understands, no timestamp (journald stamps). */
static void test_journal_format(void **state)
{
	char buf[2048];

	(void)state;
	log_levels(MPC_LOG_JOURNAL, MPC_LOG_DEBUG, buf, sizeof(buf));
	assert_string_equal(buf, "<7>DEBUG d \"quoted\"\n<6>INFO  i\n<4>WARN  w\\nforged\n"
				 "<3>ERROR e\n");
}

/* One JSON object per line, with the time, the level and the message, escaped twice over. */
static void test_json_format(void **state)
{
	char buf[2048], *line, *save = NULL;
	static const char *const want_level[] = { "info", "warn", "error" };
	static const char *const want_msg[] = { "i", "w\\nforged", "e" };
	int k = 0;

	(void)state;
	log_levels(MPC_LOG_JSON, MPC_LOG_INFO, buf, sizeof(buf));
	for (line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		json_error_t err;
		json_t *j = json_loads(line, 0, &err);
		const char *t, *lvl, *msg;

		assert_non_null(j);
		assert_int_equal(json_unpack(j, "{s:s, s:s, s:s}", "time", &t, "level", &lvl, "msg",
					     &msg),
				 0);
		assert_true(k < 3);
		assert_int_equal(strlen(t), 20);
		assert_string_equal(lvl, want_level[k]);
		assert_string_equal(msg, want_msg[k]);
		json_decref(j);
		k++;
	}
	assert_int_equal(k, 3);
}

/* JOURNAL_STREAM names stderr's device and inode: journal format; another file: text. */
static void test_journal_stream_detection(void **state)
{
	struct stat st;
	char v[64];
	int saved = dup(2);
	FILE *f = tmpfile();

	(void)state;
	assert_true(saved >= 0);
	assert_non_null(f);
	assert_int_equal(dup2(fileno(f), 2), 2);
	assert_int_equal(fstat(2, &st), 0);
	unsetenv("JOURNAL_STREAM");
	assert_int_equal(mpc_log_format_default(), MPC_LOG_TEXT);
	snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", v, 1);
	assert_int_equal(mpc_log_format_default(), MPC_LOG_JOURNAL);
	snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino + 1);
	setenv("JOURNAL_STREAM", v, 1);
	assert_int_equal(mpc_log_format_default(), MPC_LOG_TEXT);
	unsetenv("JOURNAL_STREAM");
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	fclose(f);
	assert_int_equal(mpc_log_format_parse("json"), MPC_LOG_JSON);
	assert_int_equal(mpc_log_format_parse("syslog"), -1);
}

/* A full disk fails every retry with another temporary file's name: one failure, logged once.
 * A different failure is logged. */
static void test_same_failure_masks_temporaries(void **state)
{
	struct mpc_retry r;

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(
		mpc_retry_failed(&r, 0, 1, 10,
				 "store: write /var/lib/mpc-backup/.tmp-keyset-4.mpcs-a1B2c3: "
				 "No space left on device"),
		1);
	assert_int_equal(
		mpc_retry_failed(&r, 1, 1, 10,
				 "store: write /var/lib/mpc-backup/.tmp-keyset-4.mpcs-Zz9Yy8: "
				 "No space left on device"),
		0);
	assert_int_equal(
		mpc_retry_failed(&r, 2, 1, 10,
				 "store: write /var/lib/mpc-backup/.tmp-keyset-4.mpcs-Zz9Yy8: "
				 "Input/output error"),
		1);
	assert_true(mpc_retry_same_failure("a.conf.tmp.AbCdEf: full", "a.conf.tmp.XyZ123: full"));
	assert_true(mpc_retry_same_failure("node: timed out after 5001 ms",
					   "node: timed out after 5003 ms"));
	assert_false(mpc_retry_same_failure("node: timed out after 5001 ms", "node: refused"));
	assert_false(mpc_retry_same_failure("epoch 4", "epoch 5"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_text_unchanged),
		cmocka_unit_test(test_forged_line),
		cmocka_unit_test(test_terminal_and_bidi),
		cmocka_unit_test(test_journal_format),
		cmocka_unit_test(test_json_format),
		cmocka_unit_test(test_journal_stream_detection),
		cmocka_unit_test(test_same_failure_masks_temporaries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
