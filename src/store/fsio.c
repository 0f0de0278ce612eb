/* fsio.c: the store's atomic new-file write, lock, quarantine move and test-only hooks. */
#include "src/store/fsio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/util/file.h"

/* The hooks exist only in the test build of the library (mpc_store_hooked); the production
 * library cannot be crashed or failed through the environment. */
#ifdef MPC_STORE_TEST_HOOKS
void mpc_store_hook_crash(const char *step)
{
	const char *v = getenv("MPC_STORE_CRASH_AT");

	if (v != NULL && strcmp(v, step) == 0) {
		raise(SIGKILL);
		_exit(99); /* not reached */
	}
}

int mpc_store_hook_fail(const char *op)
{
	const char *v = getenv("MPC_STORE_FAIL_AT");

	return v != NULL && strcmp(v, op) == 0;
}
#else
void mpc_store_hook_crash(const char *step)
{
	(void)step;
}

int mpc_store_hook_fail(const char *op)
{
	(void)op;
	return 0;
}
#endif

static int join(char *out, size_t cap, const char *a, const char *b, struct mpc_err *e)
{
	if (snprintf(out, cap, "%s/%s", a, b) >= (int)cap)
		return mpc_fail(e, MPC_ERR_USAGE, "path too long: %s/%s", a, b);
	return MPC_OK;
}

static int write_all(int fd, const uint8_t *data, size_t len)
{
	size_t off = 0;

	if (mpc_store_hook_fail("write")) {
		size_t half = len / 2;

		while (off < half) {
			ssize_t w = write(fd, data + off, half - off);

			if (w < 0)
				break;
			off += (size_t)w;
		}
		errno = ENOSPC;
		return -1;
	}
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		off += (size_t)w;
	}
	return 0;
}

int mpc_store_write_new(const char *dir, const char *name, const uint8_t *data, size_t len,
			struct mpc_err *e)
{
	char tmp[PATH_MAX], path[PATH_MAX], base[PATH_MAX];
	int fd = -1, rc, tmp_made = 0, linked = 0;

	if ((rc = join(path, sizeof(path), dir, name, e)) != MPC_OK)
		return rc;
	if (snprintf(base, sizeof(base), ".tmp-%s-XXXXXX", name) >= (int)sizeof(base) ||
	    join(tmp, sizeof(tmp), dir, base, e) != MPC_OK)
		return mpc_fail(e, MPC_ERR_USAGE, "path too long: %s", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		rc = mpc_fail(e, MPC_ERR_IO, "cannot create a temporary file in %s: %s", dir,
			      strerror(errno));
		goto out;
	}
	tmp_made = 1;
	if (fchmod(fd, 0600) != 0) {
		rc = mpc_fail(e, MPC_ERR_IO, "chmod %s: %s", tmp, strerror(errno));
		goto out;
	}
	mpc_store_hook_crash("tmp-created");
	if (write_all(fd, data, len) != 0) {
		rc = mpc_fail(e, MPC_ERR_IO, "writing %s: %s", tmp, strerror(errno));
		goto out;
	}
	mpc_store_hook_crash("tmp-written");
	if (mpc_store_hook_fail("fsync") ? (errno = ENOSPC, 1) : fsync(fd) != 0) {
		rc = mpc_fail(e, MPC_ERR_IO, "fsync %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = mpc_fail(e, MPC_ERR_IO, "closing %s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	mpc_store_hook_crash("tmp-synced");
	/* link() fails with EEXIST instead of replacing: nothing is ever overwritten. */
	if (mpc_store_hook_fail("link") ? (errno = ENOSPC, 1) : link(tmp, path) != 0) {
		rc = mpc_fail(e, errno == EEXIST ? MPC_ERR_EXISTS : MPC_ERR_IO,
			      "cannot create %s: %s", path, strerror(errno));
		goto out;
	}
	linked = 1;
	mpc_store_hook_crash("linked");
	if (unlink(tmp) == 0)
		tmp_made = 0;
	mpc_store_hook_crash("tmp-unlinked");
	if (mpc_store_hook_fail("dir-sync")) {
		rc = mpc_fail(e, MPC_ERR_IO, "fsync of directory %s: %s", dir, strerror(ENOSPC));
		goto out;
	}
	rc = mpc_dir_sync(dir, e);
	if (rc != MPC_OK)
		goto out;
	linked = 0;
	mpc_store_hook_crash("dir-synced");
out:
	if (fd >= 0)
		close(fd);
	if (tmp_made)
		unlink(tmp);
	if (linked) {
		/* the name exists but is not known durable: take it back so the caller's error means
		 * "nothing was stored", then make that durable (best effort). */
		unlink(path);
		(void)mpc_dir_sync(dir, NULL);
	}
	return rc;
}

int mpc_store_lock(const char *dir, int *fd, struct mpc_err *e)
{
	char path[PATH_MAX];
	int rc, f;

	*fd = -1;
	if ((rc = join(path, sizeof(path), dir, ".lock", e)) != MPC_OK)
		return rc;
	f = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (f < 0)
		return mpc_fail(e, MPC_ERR_IO, "cannot open the store lock %s: %s", path,
				strerror(errno));
	/* a lock file another user controls would let them hold the lock forever */
	if ((rc = mpc_fd_check_owner(f, path, MPC_FILE_CONFIG, e)) != MPC_OK) {
		close(f);
		return rc;
	}
	while (flock(f, LOCK_EX) != 0) {
		if (errno == EINTR)
			continue;
		rc = mpc_fail(e, MPC_ERR_IO, "cannot lock %s: %s", path, strerror(errno));
		close(f);
		return rc;
	}
	*fd = f;
	return MPC_OK;
}

void mpc_store_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}

int mpc_store_mkdir(const char *path, struct mpc_err *e)
{
	char parent[PATH_MAX];
	const char *slash;
	size_t n;

	if (mkdir(path, 0700) != 0) {
		struct stat st;

		if (errno != EEXIST)
			return mpc_fail(e, MPC_ERR_IO, "cannot create directory %s: %s", path,
					strerror(errno));
		if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
			return mpc_fail(e, MPC_ERR_IO, "%s exists and is not a directory", path);
		return MPC_OK;
	}
	slash = strrchr(path, '/');
	if (slash == NULL)
		return mpc_dir_sync(".", e);
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= sizeof(parent))
		return mpc_fail(e, MPC_ERR_USAGE, "path too long: %s", path);
	memcpy(parent, path, n);
	parent[n] = '\0';
	return mpc_dir_sync(parent, e);
}

int mpc_store_move_to_quarantine(const char *dir, const char *name, struct mpc_err *e)
{
	char qdir[PATH_MAX], from[PATH_MAX], to[PATH_MAX];
	int rc;

	if ((rc = join(qdir, sizeof(qdir), dir, "quarantine", e)) != MPC_OK ||
	    (rc = join(from, sizeof(from), dir, name, e)) != MPC_OK ||
	    (rc = join(to, sizeof(to), qdir, name, e)) != MPC_OK)
		return rc;
	if ((rc = mpc_store_mkdir(qdir, e)) != MPC_OK)
		return rc;
	if (link(from, to) != 0) {
		struct stat a, b;

		/* Only an interrupted earlier quarantine of this very file (same inode) may be
		 * there already; another file of the same name is never replaced or lost. */
		if (errno != EEXIST)
			return mpc_fail(e, MPC_ERR_IO, "cannot link %s into quarantine: %s", from,
					strerror(errno));
		if (lstat(from, &a) != 0 || lstat(to, &b) != 0 || a.st_ino != b.st_ino ||
		    a.st_dev != b.st_dev)
			return mpc_fail(
				e, MPC_ERR_EXISTS,
				"cannot quarantine %s: quarantine/ already holds another file "
				"of that name",
				name);
	}
	if ((rc = mpc_dir_sync(qdir, e)) != MPC_OK)
		return rc;
	mpc_store_hook_crash("q-linked");
	if (unlink(from) != 0 && errno != ENOENT)
		return mpc_fail(e, MPC_ERR_IO, "cannot remove %s after quarantining it: %s", from,
				strerror(errno));
	mpc_store_hook_crash("q-unlinked");
	return mpc_dir_sync(dir, e);
}
