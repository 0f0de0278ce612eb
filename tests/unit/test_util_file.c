/* test_util_file.c: bounded reads and atomic writes on real files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "src/util/file.h"
#include "src/util/mem.h"

static void test_roundtrip_and_bounds(void **state)
{
	char dir[] = "/tmp/mpc-file-XXXXXX";
	char path[256];
	uint8_t *buf = NULL;
	size_t len = 0;
	struct mpc_err e = { 0 };
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	assert_int_equal(mpc_file_write_atomic(path, (const uint8_t *)"hello", 5, 0600, 1, &e), MPC_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* no_replace refuses to touch an existing file */
	assert_int_equal(mpc_file_write_atomic(path, (const uint8_t *)"world", 5, 0600, 1, &e), MPC_ERR_EXISTS);
	mpc_err_clear(&e);
	assert_int_equal(mpc_file_read(path, 5, 1, &buf, &len, &e), MPC_OK);
	assert_int_equal(len, 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(buf[5], 0);
	mpc_secure_free(buf);
	assert_int_equal(mpc_file_read(path, 4, 0, &buf, &len, &e), MPC_ERR_TOO_LARGE);
	assert_null(buf);
	mpc_err_clear(&e);
	assert_int_equal(mpc_file_write_atomic(path, (const uint8_t *)"world!", 6, 0600, 0, &e), MPC_OK);
	assert_int_equal(mpc_file_read(path, 100, 0, &buf, &len, &e), MPC_OK);
	assert_memory_equal(buf, "world!", 6);
	free(buf);
	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(mpc_file_read(path, 100, 0, &buf, &len, &e), MPC_ERR_NOT_FOUND);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

static void test_secure_alloc(void **state)
{
	struct mpc_err e = { 0 };
	uint8_t *p = mpc_secure_alloc(100, &e);

	(void)state;
	assert_non_null(p);
	assert_int_equal(mpc_secure_size(p), 100);
	memset(p, 0xaa, 100);
	p = mpc_secure_realloc(p, 9000, &e);
	assert_non_null(p);
	assert_int_equal(p[99], 0xaa);
	assert_int_equal(p[100], 0);
	mpc_secure_free(p);
	mpc_secure_free(NULL);
	assert_true(mpc_memeq_ct("abc", "abc", 3));
	assert_false(mpc_memeq_ct("abc", "abd", 3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_and_bounds),
		cmocka_unit_test(test_secure_alloc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
