/* test_escape.c: mpc_escape_untrusted against forged lines, terminal escapes, bidi overrides,
 * malformed UTF-8, and truncation at a boundary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "src/util/escape.h"

static void expect(const char *in, const char *want)
{
	char out[256];
	size_t n = mpc_escape_untrusted(in, out, sizeof(out));

	if (strcmp(out, want) != 0)
		fail_msg("escape [%s]: got [%s], want [%s]", in != NULL ? in : "(null)", out, want);
	assert_int_equal(n, strlen(want));
}

static void test_escapes(void **state)
{
	(void)state;
	expect("https://node.example:3000", "https://node.example:3000");
	expect(NULL, "");
	/* A participant URL that would print a fake line in `contract status`. */
	expect("http://a\r\nbackup service:      registered (ours: yes)",
	       "http://a\\r\\nbackup service:      registered (ours: yes)");
	expect("a\tb\\c", "a\\tb\\\\c");
	expect("\x1b[31mred\x7f", "\\x1b[31mred\\x7f");
	/* Bidi override and isolate (Trojan Source), C1 control, line separator. */
	expect("evil\xe2\x80\xaegnp.exe", "evil\\u202egnp.exe");
	expect("a\xe2\x81\xa6" "b\xe2\x81\xa9", "a\\u2066b\\u2069");
	expect("x\xc2\x9by", "x\\u009by");
	expect("p\xe2\x80\xa8q", "p\\u2028q");
	/* Well-formed UTF-8 passes. */
	expect("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91");
	/* Malformed: stray continuation, overlong, surrogate, truncated, above U+10FFFF. */
	expect("\x80", "\\x80");
	expect("\xc0\xaf", "\\xc0\\xaf");
	expect("\xed\xa0\x80", "\\xed\\xa0\\x80");
	expect("\xe2\x80", "\\xe2\\x80");
	expect("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80");
}

static void test_truncation(void **state)
{
	char out[8];
	size_t n;

	(void)state;
	/* "ab" fits, "\r" (2) fits, then "\u202e" (6) does not: cut before it, never inside. */
	n = mpc_escape_untrusted("ab\r\xe2\x80\xaexyz", out, sizeof(out));
	assert_string_equal(out, "ab\\r");
	assert_int_equal(n, 2 + 2 + 6 + 3);
	/* A multi-byte character is never split. */
	n = mpc_escape_untrusted("abcdef\xc3\xa9", out, sizeof(out));
	assert_string_equal(out, "abcdef");
	assert_int_equal(n, 8);
	assert_int_equal(mpc_escape_untrusted("abc", NULL, 0), 3);
	n = mpc_escape_untrusted("abc", out, 1);
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_truncation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
