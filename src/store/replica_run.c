/* replica_run.c: runs rclone as a bounded child process (no shell) and sanitises its output. */
#include "src/store/replica_int.h"

#include "src/util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RCLONE_MAX_ARGS 48

double mpc_replica_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int mpc_rclone_check_config(const char *path, struct mpc_err *e)
{
	int rc;

	if (path == NULL || path[0] == '\0')
		return mpc_fail(e, MPC_ERR_USAGE, "an rclone configuration file is required");
	/* it holds credentials: checked like a PIN file (owner, mode, and the directories) */
	rc = mpc_file_check(path, MPC_FILE_SECRET, e);
	if (rc != MPC_OK)
		mpc_err_prefix(e, "rclone configuration: ");
	return rc;
}

void mpc_rclone_out_free(struct mpc_rclone_out *r)
{
	if (r == NULL)
		return;
	free(r->out);
	r->out = NULL;
	r->out_len = 0;
}

/* The environment rclone gets: nothing of the caller's but where it may write. */
static void build_env(char *buf[6], char home[PATH_MAX + 8], char tmp[PATH_MAX + 8])
{
	const char *h = getenv("HOME"), *t = getenv("TMPDIR");
	size_t n = 0;

	buf[n++] = "PATH=/usr/local/bin:/usr/bin:/bin";
	buf[n++] = "LC_ALL=C";
	if (h != NULL && h[0] == '/' && strlen(h) < PATH_MAX) {
		snprintf(home, PATH_MAX + 8, "HOME=%s", h);
		buf[n++] = home;
	} else {
		buf[n++] = "HOME=/";
	}
	if (t != NULL && t[0] == '/' && strlen(t) < PATH_MAX) {
		snprintf(tmp, PATH_MAX + 8, "TMPDIR=%s", t);
		buf[n++] = tmp;
	}
	buf[n] = NULL;
}

/* In the forked child: only system calls until execve. Own process group (killed as a whole
 * on timeout), default signal dispositions and an empty mask, nice 10 and the lowest
 * best-effort I/O priority (replication must never slow a backup), stdin /dev/null,
 * stdout/stderr to the pipes. On
 * failure the errno goes up the close-on-exec pipe `ep`. */
static void child(const char *program, const char *const *argv, char *const *envp, int out, int err,
		  int ep)
{
	struct sigaction dfl;
	sigset_t none;
	int fd, saved;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setpgid(0, 0);
	/* 10, not 19: at 19 a host busy with other work starves rclone past its timeout */
	setpriority(PRIO_PROCESS, 0, 10);
	/* best effort, lowest level (not the idle class, which a busy disk can starve forever) */
	syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, (2 << 13) | 7);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || dup2(fd, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		goto fail;
	/* rclone gets nothing else of ours (the token module's sockets and files): every other
	 * descriptor closes at exec, the error pipe included once execve succeeds. */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
		long max = sysconf(_SC_OPEN_MAX); /* a kernel before 5.11: one by one */

		for (int i = 3; i < (max > 0 && max < 65536 ? max : 65536); i++)
			(void)fcntl(i, F_SETFD, FD_CLOEXEC);
	}
	execve(program, (char *const *)argv, envp);
fail:
	saved = errno;
	(void)!write(ep, &saved, sizeof(saved));
	_exit(127);
}

static int append(char **p, size_t *len, size_t *cap, const char *buf, size_t n, size_t max)
{
	if (*len + n > max)
		return -1;
	if (*len + n + 1 > *cap) {
		size_t nc = *cap ? *cap : 4096;
		char *q;

		while (nc < *len + n + 1)
			nc *= 2;
		q = realloc(*p, nc);
		if (q == NULL)
			return -2;
		*p = q;
		*cap = nc;
	}
	memcpy(*p + *len, buf, n);
	*len += n;
	(*p)[*len] = '\0';
	return 0;
}

int mpc_rclone_run(const struct mpc_rclone *rc, double deadline, const char *const *args,
		   size_t out_max, struct mpc_rclone_out *r, struct mpc_err *e)
{
	char to[32], cto[32], home[PATH_MAX + 8], tmp[PATH_MAX + 8], *envp[6];
	const char *argv[RCLONE_MAX_ARGS + 1];
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, ret = MPC_OK, status = 0, started = 0;
	int ep[2] = { -1, -1 }, out_open, err_open;
	char *out = NULL;
	size_t out_len = 0, out_cap = 0, n = 0;
	double limit, t_end;
	pid_t pid = -1;

	memset(r, 0, sizeof(*r));
	limit = rc->timeout > 0 ? rc->timeout : MPC_REPLICA_DEFAULT_TIMEOUT;
	t_end = mpc_replica_now() + limit;
	if (deadline > 0 && deadline < t_end)
		t_end = deadline;
	if (t_end - mpc_replica_now() <= 0.05)
		return mpc_fail(e, MPC_ERR_TIMEOUT, "no time left before the deadline");
	/* rclone's own network timeouts stay inside ours so it can report what failed. */
	snprintf(cto, sizeof(cto), "%.0fs", limit / 3 < 1 ? 1 : limit / 3);
	snprintf(to, sizeof(to), "%.0fs", limit / 2 < 1 ? 1 : limit / 2);
	argv[n++] = rc->program;
	argv[n++] = "--config";
	argv[n++] = rc->config;
	argv[n++] = "--ask-password=false";
	argv[n++] = "--log-level";
	argv[n++] = "ERROR";
	argv[n++] = "--stats";
	argv[n++] = "0";
	argv[n++] = "--retries";
	argv[n++] = "1";
	argv[n++] = "--low-level-retries";
	argv[n++] = "2";
	argv[n++] = "--contimeout";
	argv[n++] = cto;
	argv[n++] = "--timeout";
	argv[n++] = to;
	for (size_t i = 0; args[i] != NULL; i++) {
		if (n >= RCLONE_MAX_ARGS)
			return mpc_fail(e, MPC_ERR_INTERNAL, "too many rclone arguments");
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	build_env(envp, home, tmp);

	if (pipe2(outp, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0) {
		ret = mpc_fail(e, MPC_ERR_IO, "pipe: %s", strerror(errno));
		goto out;
	}
	if (pipe2(ep, O_CLOEXEC) != 0) {
		ret = mpc_fail(e, MPC_ERR_IO, "pipe: %s", strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		ret = mpc_fail(e, MPC_ERR_IO, "cannot start %s: fork: %s", rc->program,
			       strerror(errno));
		goto out;
	}
	if (pid == 0)
		child(rc->program, argv, envp, outp[1], errp[1], ep[1]); /* does not return */
	close(ep[1]);
	ep[1] = -1;
	{
		int child_errno = 0;
		ssize_t k;

		/* EOF: execve succeeded (the pipe is close-on-exec); else the child's errno */
		while ((k = read(ep[0], &child_errno, sizeof(child_errno))) < 0 && errno == EINTR)
			;
		if (k == (ssize_t)sizeof(child_errno)) {
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			ret = mpc_fail(e, MPC_ERR_IO, "cannot start %s: %s", rc->program,
				       strerror(child_errno));
			goto out;
		}
	}
	started = 1;
	close(outp[1]);
	close(errp[1]);
	outp[1] = errp[1] = -1;

	out_open = err_open = 1;
	while (out_open || err_open) {
		struct pollfd p[2] = { { outp[0], POLLIN, 0 }, { errp[0], POLLIN, 0 } };
		double left = t_end - mpc_replica_now();
		char buf[8192];
		int pr;

		if (left <= 0) {
			ret = mpc_fail(e, MPC_ERR_TIMEOUT, "rclone did not finish within %.0f s",
				       limit);
			goto out;
		}
		if (!out_open)
			p[0].fd = -1;
		if (!err_open)
			p[1].fd = -1;
		if (rc->cancel != NULL && *rc->cancel) {
			ret = mpc_fail(e, MPC_ERR_CANCELLED, "rclone stopped by a signal");
			goto out;
		}
		/* short slices so that a stop signal is seen within 0.1 s */
		pr = poll(p, 2, left > 0.1 ? 100 : (int)(left * 1000) + 1);
		if (pr < 0 && errno != EINTR) {
			ret = mpc_fail(e, MPC_ERR_IO, "poll: %s", strerror(errno));
			goto out;
		}
		if (pr <= 0)
			continue;
		if (out_open && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t k = read(outp[0], buf, sizeof(buf));

			if (k <= 0 && !(k < 0 && errno == EINTR)) {
				out_open = 0;
			} else if (k > 0) {
				int a = append(&out, &out_len, &out_cap, buf, (size_t)k, out_max);

				if (a == -1) {
					ret = mpc_fail(e, MPC_ERR_TOO_LARGE,
						       "rclone printed more than %zu bytes",
						       out_max);
					goto out;
				}
				if (a != 0) {
					ret = mpc_fail(e, MPC_ERR_NOMEM, "out of memory");
					goto out;
				}
			}
		}
		if (err_open && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t k = read(errp[0], buf, sizeof(buf));

			if (k <= 0 && !(k < 0 && errno == EINTR)) {
				err_open = 0;
			} else if (k > 0) {
				size_t room = MPC_RCLONE_ERR_KEEP - r->err_len;
				size_t c = (size_t)k < room ? (size_t)k : room;

				memcpy(r->err + r->err_len, buf, c);
				r->err_len += c;
				r->err[r->err_len] = '\0';
			}
		}
	}
	/* Both pipes closed: the process is exiting; wait within the same bound. */
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			ret = mpc_fail(e, MPC_ERR_IO, "waitpid: %s", strerror(errno));
			goto out;
		}
		if (mpc_replica_now() >= t_end) {
			ret = mpc_fail(e, MPC_ERR_TIMEOUT, "rclone did not exit within %.0f s",
				       limit);
			goto out;
		}
		{
			struct timespec ts = { 0, 2000000 };

			nanosleep(&ts, NULL);
		}
	}
	started = 0;
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	if (out == NULL && append(&out, &out_len, &out_cap, "", 0, out_max) != 0) {
		ret = mpc_fail(e, MPC_ERR_NOMEM, "out of memory");
		goto out;
	}
	r->out = out;
	r->out_len = out_len;
	out = NULL;
out:
	if (started) {
		/* timed out, too much output or a failure while it ran: kill its whole group */
		kill(-pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	for (int i = 0; i < 2; i++) {
		if (ep[i] >= 0)
			close(ep[i]);
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	free(out);
	return ret;
}

/* c when it is printable ASCII from `low` to '~', else '?'. */
static char printable_or(char c, char low)
{
	if (c < low || c > '~')
		return '?';
	return c;
}

/* Copy [p, q) into out as printable ASCII, reducing URLs to scheme://host[:port]. */
static void clean_line(const char *p, const char *q, char *out, size_t cap)
{
	size_t o = 0;

	while (p < q && o + 1 < cap) {
		const char *sep = NULL;

		/* at "://": keep the scheme already copied, drop userinfo, path and query */
		if (q - p >= 3 && memcmp(p, "://", 3) == 0)
			sep = p;
		if (sep != NULL) {
			const char *a = sep + 3, *end = a, *at = NULL, *host;

			while (end < q && *end != '/' && *end != '?' && *end != '#' &&
			       *end != ' ' && *end != '"' && *end != '\'' && *end != '>' &&
			       *end != ')') {
				if (*end == '@')
					at = end;
				end++;
			}
			host = at != NULL ? at + 1 : a;
			for (const char *s = "://"; *s && o + 1 < cap; s++)
				out[o++] = *s;
			for (const char *s = host; s < end && o + 1 < cap; s++)
				out[o++] = printable_or(*s, 0x21);
			/* skip path, query and fragment up to whitespace or a quote */
			while (end < q && *end != ' ' && *end != '"' && *end != '\'' &&
			       *end != '>' && *end != ')')
				end++;
			p = end;
			continue;
		}
		out[o++] = printable_or(*p, 0x20);
		p++;
	}
	out[o] = '\0';
}

void mpc_replica_sanitize(const char *in, size_t len, char *out, size_t cap)
{
	const char *best = NULL, *best_end = NULL, *last = NULL, *last_end = NULL;
	const char *p = in, *end = in + len;
	char tmp[512];

	if (cap == 0)
		return;
	out[0] = '\0';
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl != NULL ? nl : end;
		const char *s = p;

		while (s < le && (*s == ' ' || *s == '\t' || *s == '\r'))
			s++;
		if (s < le) {
			last = s;
			last_end = le;
			for (const char *k = s; k + 5 <= le; k++)
				if (memcmp(k, "ERROR", 5) == 0 || memcmp(k, "Faile", 5) == 0 ||
				    memcmp(k, "error", 5) == 0) {
					best = s;
					best_end = le;
					break;
				}
		}
		p = nl != NULL ? nl + 1 : end;
	}
	if (best == NULL) {
		best = last;
		best_end = last_end;
	}
	if (best == NULL) {
		snprintf(out, cap, "(no message)");
		return;
	}
	/* drop rclone's "YYYY/MM/DD HH:MM:SS " timestamp */
	if (best_end - best > 20 && best[4] == '/' && best[7] == '/' && best[13] == ':' &&
	    best[19] == ' ')
		best += 20;
	while (best_end > best && (best_end[-1] == '\r' || best_end[-1] == ' '))
		best_end--;
	if (best_end - best > 400)
		best_end = best + 400;
	clean_line(best, best_end, tmp, sizeof(tmp));
	snprintf(out, cap, "%s", tmp);
}

int mpc_rclone_fail(const struct mpc_rclone_out *r, const char *what, struct mpc_err *e)
{
	char msg[320];
	int code = MPC_ERR_IO;

	mpc_replica_sanitize(r->err, r->err_len, msg, sizeof(msg));
	if (strstr(r->err, "401") != NULL || strstr(r->err, "403") != NULL ||
	    strstr(r->err, "nauthorized") != NULL || strstr(r->err, "unable to authenticate") ||
	    strstr(r->err, "AccessDenied") != NULL || strstr(r->err, "permission denied") != NULL)
		code = MPC_ERR_AUTH;
	return mpc_fail(e, code, "%s: rclone exited with %d: %s", what, r->status, msg);
}
