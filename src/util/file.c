/* file.c: bounded whole-file reads and atomic durable writes. */
#include "src/util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/util/mem.h"

static void buf_free(uint8_t *p, int secure)
{
	if (secure)
		mpc_secure_free(p);
	else
		free(p);
}

int mpc_fd_read_all(int fd, size_t max, int secure, const char *what, uint8_t **out, size_t *len,
		    struct mpc_err *e)
{
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0;
	int rc = MPC_ERR_INTERNAL;

	*out = NULL;
	*len = 0;
	for (;;) {
		ssize_t r;

		if (n + 1 >= cap) {
			size_t ncap = cap == 0 ? 4096 : cap * 2;
			uint8_t *nb;

			if (ncap > max + 2)
				ncap = max + 2;
			if (ncap <= cap) {
				rc = mpc_fail(e, MPC_ERR_TOO_LARGE, "%s is larger than %zu bytes", what,
					      max);
				goto out;
			}
			if (secure) {
				nb = mpc_secure_realloc(buf, ncap, e);
			} else {
				nb = realloc(buf, ncap);
				if (nb == NULL)
					mpc_fail(e, MPC_ERR_NOMEM, "reading %s: out of memory", what);
			}
			if (nb == NULL) {
				rc = MPC_ERR_NOMEM;
				goto out;
			}
			buf = nb;
			cap = ncap;
		}
		r = read(fd, buf + n, cap - 1 - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = mpc_fail(e, MPC_ERR_IO, "reading %s: %s", what, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			rc = mpc_fail(e, MPC_ERR_TOO_LARGE, "%s is larger than %zu bytes", what, max);
			goto out;
		}
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
	rc = MPC_OK;
out:
	if (buf != NULL) {
		if (!secure)
			mpc_memzero(buf, cap);
		buf_free(buf, secure);
	}
	return rc;
}

int mpc_file_read_checked(const char *path, size_t max, int secure, unsigned forbidden,
			  uint8_t **out, size_t *len, struct mpc_err *e)
{
	struct stat st;
	int fd, rc;

	*out = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return mpc_fail(e, errno == ENOENT ? MPC_ERR_NOT_FOUND : MPC_ERR_IO, "cannot open %s: %s",
				path, strerror(errno));
	if (forbidden != 0) {
		if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
			close(fd);
			return mpc_fail(e, MPC_ERR_STATE, "%s is not a regular file", path);
		}
		if ((st.st_mode & forbidden) != 0) {
			close(fd);
			return mpc_fail(e, MPC_ERR_STATE,
					"%s has mode %03o: %s (chmod o-rwx, or go-w for configuration)",
					path, (unsigned)(st.st_mode & 0777),
					(forbidden & 0004) ? "a file holding a secret must not be accessible "
							     "to other users"
							   : "other users must not be able to change it");
		}
	}
	rc = mpc_fd_read_all(fd, max, secure, path, out, len, e);
	close(fd);
	return rc;
}

int mpc_file_read(const char *path, size_t max, int secure, uint8_t **out, size_t *len,
		  struct mpc_err *e)
{
	return mpc_file_read_checked(path, max, secure, 0, out, len, e);
}

static int split_dir(const char *path, char *dir, size_t cap)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (slash == NULL) {
		if (cap < 2)
			return -1;
		memcpy(dir, ".", 2);
		return 0;
	}
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n + 1 > cap)
		return -1;
	memcpy(dir, path, n);
	dir[n] = '\0';
	return 0;
}

int mpc_dir_sync(const char *dir, struct mpc_err *e)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return mpc_fail(e, MPC_ERR_IO, "cannot open directory %s: %s", dir, strerror(errno));
	if (fsync(fd) != 0) {
		int err = errno;

		close(fd);
		return mpc_fail(e, MPC_ERR_IO, "fsync of directory %s: %s", dir, strerror(err));
	}
	close(fd);
	return MPC_OK;
}

int mpc_file_write_atomic(const char *path, const uint8_t *data, size_t len, unsigned mode,
			  int no_replace, struct mpc_err *e)
{
	char dir[PATH_MAX], tmp[PATH_MAX];
	int fd = -1, rc = MPC_ERR_INTERNAL, tmp_made = 0;
	size_t off = 0;

	if (split_dir(path, dir, sizeof(dir)) != 0 ||
	    snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp))
		return mpc_fail(e, MPC_ERR_USAGE, "path too long: %s", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		rc = mpc_fail(e, MPC_ERR_IO, "cannot create a temporary file beside %s: %s", path,
			      strerror(errno));
		goto out;
	}
	tmp_made = 1;
	if (fchmod(fd, mode) != 0) {
		rc = mpc_fail(e, MPC_ERR_IO, "chmod %s: %s", tmp, strerror(errno));
		goto out;
	}
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			rc = mpc_fail(e, MPC_ERR_IO, "writing %s: %s", tmp, strerror(errno));
			goto out;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0) {
		rc = mpc_fail(e, MPC_ERR_IO, "fsync %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = mpc_fail(e, MPC_ERR_IO, "closing %s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (no_replace) {
		/* link() fails with EEXIST instead of replacing: the target can never be lost. */
		if (link(tmp, path) != 0) {
			rc = mpc_fail(e, errno == EEXIST ? MPC_ERR_EXISTS : MPC_ERR_IO,
				      "cannot create %s: %s", path, strerror(errno));
			goto out;
		}
		unlink(tmp);
		tmp_made = 0;
	} else {
		if (rename(tmp, path) != 0) {
			rc = mpc_fail(e, MPC_ERR_IO, "rename to %s: %s", path, strerror(errno));
			goto out;
		}
		tmp_made = 0;
	}
	rc = mpc_dir_sync(dir, e);
out:
	if (fd >= 0)
		close(fd);
	if (tmp_made)
		unlink(tmp);
	return rc;
}
