/* test_err.c: struct mpc_err: the first failure wins, prefixes add context, and where the
 * message was recorded is known in builds with MPC_ERR_LOCATIONS (this file is compiled with
 * and without it: test_err_locations and test_err) and absent otherwise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "src/util/err.h"

static int inner_failure(struct mpc_err *e)
{
	return mpc_fail(e, MPC_ERR_PARSE, "bad %s", "thing");
}

static void test_first_failure_wins(void **state)
{
	struct mpc_err e = { 0 };

	(void)state;
	assert_int_equal(inner_failure(&e), MPC_ERR_PARSE);
	assert_int_equal(mpc_fail(&e, MPC_ERR_IO, "outer"), MPC_ERR_PARSE);
	assert_string_equal(e.msg, "bad thing");
	assert_int_equal(mpc_err_prefix(&e, "reading %s: ", "x"), MPC_ERR_PARSE);
	assert_string_equal(e.msg, "reading x: bad thing");
	assert_int_equal(mpc_fail(NULL, MPC_ERR_IO, "nobody listens"), MPC_ERR_IO);
	mpc_err_clear(&e);
	assert_int_equal(e.code, MPC_OK);
	assert_string_equal(e.msg, "");
	assert_null(e.file);
}

static void test_location(void **state)
{
	struct mpc_err e = { 0 };
	char where[256];
	int line;

	(void)state;
	line = __LINE__ + 1;
	(void)mpc_fail(&e, MPC_ERR_STATE, "recorded here");
	(void)mpc_fail(&e, MPC_ERR_IO, "not here");
	mpc_err_where(&e, where, sizeof(where));
	assert_string_equal(e.msg, "recorded here");
#ifdef MPC_ERR_LOCATIONS
	/* the first failure's place, not the later one's */
	assert_non_null(e.file);
	assert_non_null(strstr(e.file, "test_err.c"));
	assert_int_equal(e.line, line);
	assert_string_equal(e.func, "test_location");
	assert_non_null(strstr(where, "test_err.c:"));
	assert_non_null(strstr(where, "(test_location)"));
	mpc_err_clear(&e);
	assert_null(e.file);
	assert_int_equal(e.line, 0);
#else
	/* release builds: nothing recorded, messages unchanged */
	(void)line;
	assert_null(e.file);
	assert_null(e.func);
	assert_int_equal(e.line, 0);
	assert_string_equal(where, "");
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_failure_wins),
		cmocka_unit_test(test_location),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
