/* test_util_file.c: bounded reads and atomic writes on real files, and the owner/mode/directory
 * checks of files that decide what runs as us (some cases need root to chown files to another
 * user, uid 65534: they are skipped with a message when not root; CI runs as root). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
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

#define OTHER_UID 65534 /* nobody */

/* A fresh directory below /tmp (0700) for one test. */
static void tmpdir(char dir[64])
{
	snprintf(dir, 64, "/tmp/mpc-fchk-XXXXXX");
	assert_non_null(mkdtemp(dir));
}

static void rmtree(const char *dir)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void put_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* Read `path` with `forbidden`; expect `want` and, on failure, every needle in the message and
 * nothing returned. */
static void expect_read(const char *path, unsigned forbidden, int want, const char *n1,
			const char *n2)
{
	struct mpc_err e = { 0 };
	uint8_t *buf = (uint8_t *)"unset";
	size_t len = 7;
	int rc = mpc_file_read_checked(path, 4096, 1, forbidden, &buf, &len, &e);

	if (rc != want)
		fail_msg("%s (forbidden %04o): got %d want %d: %s", path, forbidden, rc, want, e.msg);
	if (want == MPC_OK) {
		assert_non_null(buf);
		mpc_secure_free(buf);
		return;
	}
	assert_null(buf);
	assert_int_equal(len, 0);
	if (n1 != NULL && strstr(e.msg, n1) == NULL)
		fail_msg("message lacks '%s': %s", n1, e.msg);
	if (n2 != NULL && strstr(e.msg, n2) == NULL)
		fail_msg("message lacks '%s': %s", n2, e.msg);
}

static int need_root(void)
{
	if (geteuid() == 0)
		return 1;
	fprintf(stderr, "not root: cannot chown files to another user; skipping (CI runs as "
			"root)\n");
	return 0;
}

/* Configuration: no write bit for group or others; the legacy mask 0002 acts as 0022. */
static void test_config_mode(void **state)
{
	char dir[64], path[128];

	(void)state;
	tmpdir(dir);
	snprintf(path, sizeof(path), "%s/config", dir);
	put_file(path, "a = b\n", 0644);
	expect_read(path, 0002, MPC_OK, NULL, NULL);
	expect_read(path, MPC_FILE_CONFIG, MPC_OK, NULL, NULL);
	assert_int_equal(chmod(path, 0664), 0); /* group-writable: accepted before this check */
	expect_read(path, 0002, MPC_ERR_STATE, "writable by group (mode 0664)", "chmod go-w");
	expect_read(path, MPC_FILE_CONFIG, MPC_ERR_STATE, path, "chmod go-w");
	assert_int_equal(chmod(path, 0646), 0);
	expect_read(path, 0002, MPC_ERR_STATE, "writable by others", "must not be able to change");
	assert_int_equal(chmod(path, 0666), 0);
	expect_read(path, 0002, MPC_ERR_STATE, "writable by group and others", NULL);
	/* no checks asked: read as before */
	expect_read(path, 0, MPC_OK, NULL, NULL);
	rmtree(dir);
}

/* Secrets: no bit at all for group or others; the legacy mask 0007 acts as 0077. */
static void test_secret_mode(void **state)
{
	static const struct {
		mode_t mode;
		int want;
		const char *needle;
	} cases[] = {
		{ 0600, MPC_OK, NULL },
		{ 0400, MPC_OK, NULL },
		{ 0640, MPC_ERR_STATE, "readable by group (mode 0640)" },
		{ 0660, MPC_ERR_STATE, "readable by group (mode 0660)" },
		{ 0620, MPC_ERR_STATE, "writable by group (mode 0620)" },
		{ 0610, MPC_ERR_STATE, "accessible by group (mode 0610)" },
		{ 0604, MPC_ERR_STATE, "readable by others (mode 0604)" },
		{ 0602, MPC_ERR_STATE, "writable by others (mode 0602)" },
		{ 0644, MPC_ERR_STATE, "readable by group and others" },
	};
	char dir[64], path[128];

	(void)state;
	tmpdir(dir);
	snprintf(path, sizeof(path), "%s/pin", dir);
	put_file(path, "1234\n", 0600);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(chmod(path, cases[i].mode), 0);
		expect_read(path, 0007, cases[i].want, cases[i].needle,
			    cases[i].want ? "chmod go-rwx" : NULL);
		expect_read(path, MPC_FILE_SECRET, cases[i].want, cases[i].needle,
			    cases[i].want ? "must not be accessible to other users" : NULL);
	}
	rmtree(dir);
}

/* Owner: the effective user or root, whatever the group. */
static void test_owner(void **state)
{
	char dir[64], cfg[128], pin[128];

	(void)state;
	if (!need_root())
		skip();
	tmpdir(dir);
	snprintf(cfg, sizeof(cfg), "%s/config", dir);
	snprintf(pin, sizeof(pin), "%s/pin", dir);
	put_file(cfg, "a = b\n", 0644);
	put_file(pin, "1234\n", 0600);
	/* group-owned by another group but 0600: nobody else can read it, accepted */
	assert_int_equal(chown(pin, 0, OTHER_UID), 0);
	expect_read(pin, 0007, MPC_OK, NULL, NULL);
	/* ... but 0640 with that group is the case the issue names */
	assert_int_equal(chmod(pin, 0640), 0);
	expect_read(pin, 0007, MPC_ERR_STATE, "readable by group", NULL);
	assert_int_equal(chmod(pin, 0600), 0);
	/* owned by another user: refused even at 0600 / 0644 (they can chmod and rewrite it) */
	assert_int_equal(chown(pin, OTHER_UID, 0), 0);
	expect_read(pin, 0007, MPC_ERR_STATE, "owned by uid 65534", "fix with chown root");
	assert_int_equal(chown(cfg, OTHER_UID, OTHER_UID), 0);
	expect_read(cfg, 0002, MPC_ERR_STATE, "owned by uid 65534", cfg);
	assert_int_equal(chown(cfg, 0, OTHER_UID), 0);
	expect_read(cfg, 0002, MPC_OK, NULL, NULL);
	rmtree(dir);
}

/* A symbolic link as the file is refused, even to a good file; links in the directory part are
 * resolved and the real directories checked. */
static void test_symlink(void **state)
{
	char dir[64], real[128], link[128], sub[128], via[160];

	(void)state;
	tmpdir(dir);
	snprintf(real, sizeof(real), "%s/pin.real", dir);
	snprintf(link, sizeof(link), "%s/pin", dir);
	put_file(real, "1234\n", 0600);
	assert_int_equal(symlink(real, link), 0);
	expect_read(real, 0007, MPC_OK, NULL, NULL);
	expect_read(link, 0007, MPC_ERR_STATE, "is a symbolic link", link);
	expect_read(link, 0002, MPC_ERR_STATE, "is a symbolic link", NULL);
	/* dangling or to /etc/shadow-like targets: the same refusal, nothing read */
	assert_int_equal(unlink(link), 0);
	assert_int_equal(symlink("/nonexistent/x", link), 0);
	expect_read(link, 0007, MPC_ERR_STATE, "is a symbolic link", NULL);
	/* dir/sub -> dir/d (0700): the file is read through the resolved directory */
	snprintf(sub, sizeof(sub), "%s/d", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(via, sizeof(via), "%s/d/pin", dir);
	put_file(via, "1234\n", 0600);
	snprintf(sub, sizeof(sub), "%s/lnk", dir);
	assert_int_equal(symlink("d", sub), 0);
	snprintf(via, sizeof(via), "%s/lnk/pin", dir);
	expect_read(via, 0007, MPC_OK, NULL, NULL);
	/* ... and a link to a directory others can write is refused for that directory */
	snprintf(sub, sizeof(sub), "%s/d", dir);
	assert_int_equal(chmod(sub, 0777), 0);
	expect_read(via, 0007, MPC_ERR_STATE, "directory writable by group and others", sub);
	rmtree(dir);
}

/* Directories: the file's own and every one above it. */
static void test_parent_dirs(void **state)
{
	char dir[64], a[128], b[160], pin[192];

	(void)state;
	tmpdir(dir);
	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(b, sizeof(b), "%s/a/b", dir);
	snprintf(pin, sizeof(pin), "%s/a/b/pin", dir);
	assert_int_equal(mkdir(a, 0755), 0);
	assert_int_equal(mkdir(b, 0700), 0);
	put_file(pin, "1234\n", 0600);
	expect_read(pin, 0007, MPC_OK, NULL, NULL);
	/* the immediate parent writable by others: they could swap the file */
	assert_int_equal(chmod(b, 0777), 0);
	expect_read(pin, 0007, MPC_ERR_STATE, "directory writable by group and others (mode 0777)",
		    "chmod go-w");
	assert_int_equal(chmod(b, 0770), 0);
	expect_read(pin, 0002, MPC_ERR_STATE, "directory writable by group", b);
	assert_int_equal(chmod(b, 0700), 0);
	/* a grandparent writable by group: they could rename the parent away */
	assert_int_equal(chmod(a, 0775), 0);
	expect_read(pin, 0007, MPC_ERR_STATE, "directory writable by group", a);
	/* sticky (like /tmp): others cannot rename or remove our file, accepted */
	assert_int_equal(chmod(a, 01777), 0);
	assert_int_equal(chmod(b, 01777), 0);
	expect_read(pin, 0007, MPC_OK, NULL, NULL);
	assert_int_equal(chmod(a, 0755), 0);
	assert_int_equal(chmod(b, 0700), 0);
	if (need_root()) {
		/* ... but in a sticky directory a file owned by another user is still refused */
		assert_int_equal(chmod(b, 01777), 0);
		assert_int_equal(chown(pin, OTHER_UID, 0), 0);
		expect_read(pin, 0007, MPC_ERR_STATE, "owned by uid 65534", NULL);
		assert_int_equal(chown(pin, 0, 0), 0);
		assert_int_equal(chmod(b, 0700), 0);
		/* a directory owned by another user (who can chmod it at will) */
		assert_int_equal(chown(b, OTHER_UID, OTHER_UID), 0);
		expect_read(pin, 0007, MPC_ERR_STATE, "owned by uid 65534", b);
		assert_int_equal(chown(b, 0, 0), 0);
		assert_int_equal(chown(a, OTHER_UID, 0), 0);
		expect_read(pin, 0007, MPC_ERR_STATE, "owned by uid 65534", a);
		assert_int_equal(chown(a, 0, 0), 0);
	}
	/* relative paths are checked the same way (from /, through the working directory) */
	{
		char cwd[4096];

		assert_non_null(getcwd(cwd, sizeof(cwd)));
		assert_int_equal(chdir(b), 0);
		expect_read("pin", 0007, MPC_OK, NULL, NULL);
		assert_int_equal(chmod(b, 0777), 0);
		expect_read("pin", 0007, MPC_ERR_STATE, "directory writable", NULL);
		assert_int_equal(chmod(b, 0700), 0);
		assert_int_equal(chdir(cwd), 0);
	}
	rmtree(dir);
}

/* Not a regular file: a FIFO must not stall the open, a directory is refused, a missing file
 * or directory is MPC_ERR_NOT_FOUND. */
static void test_not_regular(void **state)
{
	char dir[64], p[128];

	(void)state;
	tmpdir(dir);
	snprintf(p, sizeof(p), "%s/fifo", dir);
	assert_int_equal(mkfifo(p, 0600), 0);
	expect_read(p, 0007, MPC_ERR_STATE, "not a regular file", NULL);
	snprintf(p, sizeof(p), "%s/d", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	expect_read(p, 0007, MPC_ERR_STATE, "not a regular file", NULL);
	snprintf(p, sizeof(p), "%s/missing", dir);
	expect_read(p, 0007, MPC_ERR_NOT_FOUND, "cannot open", NULL);
	snprintf(p, sizeof(p), "%s/nodir/pin", dir);
	expect_read(p, 0007, MPC_ERR_NOT_FOUND, "cannot open", NULL);
	snprintf(p, sizeof(p), "%s/", dir);
	expect_read(p, 0007, MPC_ERR_USAGE, "not a file name", NULL);
	rmtree(dir);
}

/* mpc_dir_open_checked and mpc_fd_check_owner as the store uses them. */
static void test_dir_checks(void **state)
{
	char dir[64], s[128];
	struct mpc_err e = { 0 };
	int fd = -1;

	(void)state;
	tmpdir(dir);
	snprintf(s, sizeof(s), "%s/store", dir);
	assert_int_equal(mkdir(s, 0750), 0);
	assert_int_equal(mpc_dir_open_checked(s, MPC_FILE_CONFIG, &fd, &e), MPC_OK);
	assert_true(fd >= 0);
	assert_int_equal(mpc_fd_check_owner(fd, s, MPC_FILE_CONFIG, &e), MPC_OK);
	close(fd);
	/* the last directory gets no sticky exception when it is checked strictly */
	assert_int_equal(chmod(s, 01777), 0);
	assert_int_equal(mpc_dir_open_checked(s, 0, NULL, &e), MPC_OK);
	fd = 5;
	assert_int_equal(mpc_dir_open_checked(s, MPC_FILE_CONFIG, &fd, &e), MPC_ERR_STATE);
	assert_int_equal(fd, -1);
	assert_non_null(strstr(e.msg, "writable by group and others (mode 1777)"));
	assert_non_null(strstr(e.msg, "chmod go-w"));
	mpc_err_clear(&e);
	assert_int_equal(chmod(s, 0770), 0);
	assert_int_equal(mpc_dir_open_checked(s, 0002, NULL, &e), MPC_ERR_STATE);
	mpc_err_clear(&e);
	snprintf(s, sizeof(s), "%s/none", dir);
	assert_int_equal(mpc_dir_open_checked(s, 0, NULL, &e), MPC_ERR_NOT_FOUND);
	mpc_err_clear(&e);
	rmtree(dir);
}

/* mpc_file_check, for a module loaded by path: links followed, both ends' directories checked. */
static void test_file_check(void **state)
{
	char dir[64], lib[128], d2[128], lnk[160], lnk2[160];
	struct mpc_err e = { 0 };

	(void)state;
	tmpdir(dir);
	snprintf(d2, sizeof(d2), "%s/lib", dir);
	assert_int_equal(mkdir(d2, 0755), 0);
	snprintf(lib, sizeof(lib), "%s/lib/mod.so", dir);
	put_file(lib, "not really a module", 0755);
	snprintf(lnk, sizeof(lnk), "%s/mod.so", dir);
	assert_int_equal(symlink("lib/mod.so", lnk), 0);
	assert_int_equal(mpc_file_check(lib, MPC_FILE_CONFIG, &e), MPC_OK);
	assert_int_equal(mpc_file_check(lnk, MPC_FILE_CONFIG, &e), MPC_OK);
	/* the resolved file writable by the group */
	assert_int_equal(chmod(lib, 0775), 0);
	assert_int_equal(mpc_file_check(lnk, MPC_FILE_CONFIG, &e), MPC_ERR_STATE);
	assert_non_null(strstr(e.msg, lib));
	assert_non_null(strstr(e.msg, "writable by group"));
	mpc_err_clear(&e);
	assert_int_equal(chmod(lib, 0755), 0);
	/* the resolved file's directory writable by others */
	assert_int_equal(chmod(d2, 0777), 0);
	assert_int_equal(mpc_file_check(lnk, MPC_FILE_CONFIG, &e), MPC_ERR_STATE);
	assert_non_null(strstr(e.msg, "directory writable"));
	mpc_err_clear(&e);
	assert_int_equal(chmod(d2, 0755), 0);
	/* the directory holding the link writable by others: they could repoint it */
	snprintf(lnk2, sizeof(lnk2), "%s/lib/sub", dir);
	assert_int_equal(mkdir(lnk2, 0777), 0);
	assert_int_equal(chmod(lnk2, 0777), 0);
	snprintf(lnk2, sizeof(lnk2), "%s/lib/sub/mod.so", dir);
	assert_int_equal(symlink("../mod.so", lnk2), 0);
	assert_int_equal(mpc_file_check(lnk2, MPC_FILE_CONFIG, &e), MPC_ERR_STATE);
	assert_non_null(strstr(e.msg, "directory writable by group and others"));
	mpc_err_clear(&e);
	snprintf(lnk2, sizeof(lnk2), "%s/dangling", dir);
	assert_int_equal(symlink("nowhere", lnk2), 0);
	assert_int_equal(mpc_file_check(lnk2, MPC_FILE_CONFIG, &e), MPC_ERR_NOT_FOUND);
	mpc_err_clear(&e);
	rmtree(dir);
	/* the installed SoftHSM2 module (root's, often reached through a link) passes */
	if (getenv("SOFTHSM2_MODULE") != NULL && *getenv("SOFTHSM2_MODULE") != '\0' &&
	    mpc_file_check(getenv("SOFTHSM2_MODULE"), MPC_FILE_CONFIG, &e) != MPC_OK)
		fail_msg("%s", e.msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_and_bounds),
		cmocka_unit_test(test_secure_alloc),
		cmocka_unit_test(test_config_mode),
		cmocka_unit_test(test_secret_mode),
		cmocka_unit_test(test_owner),
		cmocka_unit_test(test_symlink),
		cmocka_unit_test(test_parent_dirs),
		cmocka_unit_test(test_not_regular),
		cmocka_unit_test(test_dir_checks),
		cmocka_unit_test(test_file_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
