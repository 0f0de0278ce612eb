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
				rc = mpc_fail(e, MPC_ERR_TOO_LARGE, "%s is larger than %zu bytes",
					      what, max);
				goto out;
			}
			if (secure) {
				nb = mpc_secure_realloc(buf, ncap, e);
			} else {
				nb = realloc(buf, ncap);
				if (nb == NULL)
					mpc_fail(e, MPC_ERR_NOMEM, "reading %s: out of memory",
						 what);
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
			rc = mpc_fail(e, MPC_ERR_TOO_LARGE, "%s is larger than %zu bytes", what,
				      max);
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

/* A bit forbidden for others is forbidden for the group too. */
static unsigned widen(unsigned forbidden)
{
	return (forbidden & 0077u) | ((forbidden & 0007u) << 3);
}

/* "go-w", "go-rwx": the chmod that clears `bits` (group/other bits only). */
static void chmod_spec(unsigned bits, char *out, size_t cap)
{
	snprintf(out, cap, "%s%s-%s%s%s", (bits & 0070u) ? "g" : "", (bits & 0007u) ? "o" : "",
		 (bits & 0044u) ? "r" : "", (bits & 0022u) ? "w" : "", (bits & 0011u) ? "x" : "");
}

/* "group", "others" or "group and others" for the classes that have any of `bits`. */
static const char *who_of(unsigned bits)
{
	if ((bits & 0070u) && (bits & 0007u))
		return "group and others";
	return (bits & 0070u) ? "group" : "others";
}

static int owner_ok(const struct stat *st)
{
	return st->st_uid == geteuid() || st->st_uid == 0;
}

static int owner_fail(const char *path, const struct stat *st, struct mpc_err *e)
{
	uid_t me = geteuid();

	if (me == 0)
		return mpc_fail(e, MPC_ERR_STATE,
				"%s: owned by uid %u, not by root (the user running mpc-backup): "
				"another user could change it; fix with chown root %s",
				path, (unsigned)st->st_uid, path);
	return mpc_fail(e, MPC_ERR_STATE,
			"%s: owned by uid %u, not by uid %u (the user running mpc-backup) or root: "
			"another user could change it; fix with chown %u %s",
			path, (unsigned)st->st_uid, (unsigned)me, (unsigned)me, path);
}

/* `bad`: the offending bits; the fix clears every bit of `fix`. */
static int mode_fail(const char *path, const struct stat *st, unsigned bad, unsigned fix,
		     int is_dir, struct mpc_err *e)
{
	const char *why = "other users must not be able to change it";
	char spec[16];

	if (is_dir)
		why = "others could replace the files in it";
	else if (fix & 0044u)
		why = "a file holding a secret must not be accessible to other users";
	chmod_spec(fix, spec, sizeof(spec));
	return mpc_fail(e, MPC_ERR_STATE, "%s: %s by %s (mode %04o): %s; fix with chmod %s %s",
			path,
			(bad & 0044u)   ? "readable"
			: (bad & 0022u) ? "writable"
					: "accessible",
			who_of(bad), (unsigned)(st->st_mode & 07777), why, spec, path);
}

int mpc_fd_check_owner(int fd, const char *path, unsigned forbidden, struct mpc_err *e)
{
	struct stat st;
	unsigned bad;

	if (fstat(fd, &st) != 0)
		return mpc_fail(e, MPC_ERR_IO, "%s: fstat: %s", path, strerror(errno));
	if (!owner_ok(&st))
		return owner_fail(path, &st, e);
	bad = (unsigned)st.st_mode & widen(forbidden);
	if (bad != 0)
		return mode_fail(path, &st, bad, widen(forbidden), S_ISDIR(st.st_mode), e);
	return MPC_OK;
}

/* One directory of the walk: owned by us or root; not writable by group or others unless
 * sticky; with `forbidden` (the last one) none of those bits either. */
static int check_dir(int fd, const char *path, unsigned forbidden, struct mpc_err *e)
{
	struct stat st;
	unsigned bad;

	if (fstat(fd, &st) != 0)
		return mpc_fail(e, MPC_ERR_IO, "%s: fstat: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return mpc_fail(e, MPC_ERR_STATE, "%s is not a directory", path);
	if (!owner_ok(&st))
		return owner_fail(path, &st, e);
	bad = (unsigned)st.st_mode & widen(forbidden);
	if (bad != 0)
		return mode_fail(path, &st, bad, widen(forbidden), 1, e);
	bad = (unsigned)st.st_mode & 0022u;
	if (bad != 0 && (st.st_mode & S_ISVTX) == 0) {
		char spec[16];

		chmod_spec(bad, spec, sizeof(spec));
		return mpc_fail(
			e, MPC_ERR_STATE,
			"%s: directory writable by %s (mode %04o): others could replace the "
			"files below it; fix with chmod %s %s",
			path, who_of(bad), (unsigned)(st.st_mode & 07777), spec, path);
	}
	return MPC_OK;
}

int mpc_dir_open_checked(const char *dir, unsigned forbidden, int *fd_out, struct mpc_err *e)
{
	char *real = NULL, *p, *save = NULL, prefix[PATH_MAX];
	size_t plen = 0;
	int fd = -1, rc;

	if (fd_out != NULL)
		*fd_out = -1;
	real = realpath(dir, NULL);
	if (real == NULL) {
		rc = mpc_fail(e, errno == ENOENT ? MPC_ERR_NOT_FOUND : MPC_ERR_IO,
			      "cannot open %s: %s", dir, strerror(errno));
		goto out;
	}
	fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		rc = mpc_fail(e, MPC_ERR_IO, "cannot open /: %s", strerror(errno));
		goto out;
	}
	prefix[0] = '/';
	prefix[1] = '\0';
	p = strtok_r(real, "/", &save);
	if ((rc = check_dir(fd, "/", p == NULL ? forbidden : 0, e)) != MPC_OK)
		goto out;
	while (p != NULL) {
		char *next = strtok_r(NULL, "/", &save);
		size_t cl = strlen(p);
		int nfd;

		if (plen + 1 + cl + 1 > sizeof(prefix)) {
			rc = mpc_fail(e, MPC_ERR_USAGE, "path too long: %s", dir);
			goto out;
		}
		prefix[plen] = '/';
		memcpy(prefix + plen + 1, p, cl + 1);
		plen += 1 + cl;
		/* O_NOFOLLOW: a component turned into a link after realpath is refused, not followed */
		nfd = openat(fd, p, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0) {
			rc = mpc_fail(e, errno == ENOENT ? MPC_ERR_NOT_FOUND : MPC_ERR_IO,
				      "cannot open %s: %s", prefix, strerror(errno));
			goto out;
		}
		close(fd);
		fd = nfd;
		if ((rc = check_dir(fd, prefix, next == NULL ? forbidden : 0, e)) != MPC_OK)
			goto out;
		p = next;
	}
	if (fd_out != NULL) {
		*fd_out = fd;
		fd = -1;
	}
	rc = MPC_OK;
out:
	if (fd >= 0)
		close(fd);
	free(real);
	return rc;
}

/* Open `path` for reading after the checks of mpc_file_read_checked (forbidden != 0). */
static int open_checked(const char *path, unsigned forbidden, int *fd_out, struct mpc_err *e)
{
	char dir[PATH_MAX];
	const char *base, *slash;
	struct stat st;
	int dfd = -1, fd = -1, rc;

	*fd_out = -1;
	slash = strrchr(path, '/');
	base = slash != NULL ? slash + 1 : path;
	if (*base == '\0' || split_dir(path, dir, sizeof(dir)) != 0)
		return mpc_fail(e, MPC_ERR_USAGE, "not a file name: %s", path);
	if ((rc = mpc_dir_open_checked(dir, 0, &dfd, e)) != MPC_OK) {
		mpc_err_prefix(e, "%s: ", path);
		goto out;
	}
	fd = openat(dfd, base, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ELOOP)
			rc = mpc_fail(e, MPC_ERR_STATE,
				      "%s is a symbolic link: give the path of the file itself (a "
				      "link can be pointed elsewhere)",
				      path);
		else
			rc = mpc_fail(e, errno == ENOENT ? MPC_ERR_NOT_FOUND : MPC_ERR_IO,
				      "cannot open %s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = mpc_fail(e, MPC_ERR_STATE, "%s is not a regular file", path);
		goto out;
	}
	if ((rc = mpc_fd_check_owner(fd, path, forbidden, e)) != MPC_OK)
		goto out;
	*fd_out = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	return rc;
}

int mpc_file_check(const char *path, unsigned forbidden, struct mpc_err *e)
{
	char dir[PATH_MAX], *real = NULL;
	int fd = -1, rc;

	/* the directories holding the name as given (so a link there is ours or root's) ... */
	if (split_dir(path, dir, sizeof(dir)) != 0)
		return mpc_fail(e, MPC_ERR_USAGE, "path too long: %s", path);
	if ((rc = mpc_dir_open_checked(dir, 0, NULL, e)) != MPC_OK) {
		mpc_err_prefix(e, "%s: ", path);
		return rc;
	}
	/* ... then the file the links lead to, and its directories */
	real = realpath(path, NULL);
	if (real == NULL)
		return mpc_fail(e, errno == ENOENT ? MPC_ERR_NOT_FOUND : MPC_ERR_IO,
				"cannot open %s: %s", path, strerror(errno));
	rc = open_checked(real, forbidden, &fd, e);
	if (rc == MPC_OK)
		close(fd);
	else if (strcmp(real, path) != 0)
		mpc_err_prefix(e, "%s: ", path);
	free(real);
	return rc;
}

int mpc_file_read_checked(const char *path, size_t max, int secure, unsigned forbidden,
			  uint8_t **out, size_t *len, struct mpc_err *e)
{
	int fd, rc;

	*out = NULL;
	*len = 0;
	if (forbidden == 0) {
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			return mpc_fail(e, errno == ENOENT ? MPC_ERR_NOT_FOUND : MPC_ERR_IO,
					"cannot open %s: %s", path, strerror(errno));
	} else if ((rc = open_checked(path, forbidden, &fd, e)) != MPC_OK) {
		return rc;
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

int mpc_dir_sync(const char *dir, struct mpc_err *e)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return mpc_fail(e, MPC_ERR_IO, "cannot open directory %s: %s", dir,
				strerror(errno));
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
