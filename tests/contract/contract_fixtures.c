/* contract_fixtures.c: fixture reading and JSON text editing for the contract tests. */
#include "tests/contract/contract_fixtures.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <dirent.h>
#include <unistd.h>

#include "src/util/file.h"

char *fixture_read(const char *name, size_t *len)
{
	char path[4096];
	uint8_t *data = NULL;
	struct mpc_err e = { 0 };
	const char *src = getenv("MPC_SOURCE_DIR"), *fixtures = getenv("MPC_FIXTURES_DIR");

	if (strcmp(name, "mainnet") == 0) {
		assert_non_null(fixtures);
		snprintf(path, sizeof(path), "%s/near-mpc/mainnet-contract-state.json", fixtures);
	} else {
		assert_non_null(src);
		snprintf(path, sizeof(path), "%s/tests/contract/fixtures/%s", src, name);
	}
	if (mpc_file_read(path, 64u << 20, 0, &data, len, &e) != MPC_OK)
		fail_msg("cannot read %s: %s", path, e.msg);
	return (char *)data;
}

char *fixture_replace(const char *text, const char *from, const char *to)
{
	const char *p = strstr(text, from);
	size_t n;
	char *out;

	if (p == NULL)
		fail_msg("fixture_replace: [%s] not found", from);
	n = strlen(text) - strlen(from) + strlen(to) + 1;
	out = malloc(n);
	assert_non_null(out);
	snprintf(out, n, "%.*s%s%s", (int)(p - text), text, to, p + strlen(from));
	return out;
}

void fixture_write(const char *dir, const char *name, const char *text)
{
	char path[4096];
	struct mpc_err e = { 0 };

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (mpc_file_write_atomic(path, (const uint8_t *)text, strlen(text), 0600, 0, &e) !=
	    MPC_OK)
		fail_msg("cannot write %s: %s", path, e.msg);
}

void fixture_copy(const char *fixture, const char *dir, const char *name)
{
	size_t len;
	char *t = fixture_read(fixture, &len);

	fixture_write(dir, name, t);
	free(t);
}

const char *fixture_tmpdir(int slot)
{
	static char dirs[8][256];
	const char *tmp = getenv("TMPDIR");

	assert_true(slot >= 0 && slot < 8);
	snprintf(dirs[slot], sizeof(dirs[slot]), "%s/mpc-contract-XXXXXX",
		 tmp != NULL ? tmp : "/tmp");
	assert_non_null(mkdtemp(dirs[slot]));
	return dirs[slot];
}

void fixture_rmdir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[4096];

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}
