/* cli_harness.c: running mpc-backup and its peers from the CLI end-to-end tests. */
#include "tests/cli/cli_harness.h"


#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <cmocka.h>

#include "src/node/client.h"
#include "src/util/encoding.h"
#include "src/util/file.h"

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

void ch_result_free(struct ch_result *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

static void child_env(const char *const *env)
{
	for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
		const char *eq = strchr(env[i], '=');

		if (eq == NULL) {
			unsetenv(env[i]);
		} else {
			char name[128];

			snprintf(name, sizeof(name), "%.*s", (int)(eq - env[i]), env[i]);
			setenv(name, eq + 1, 1);
		}
	}
}

static void drain(int *fd, char *buf, size_t *len)
{
	ssize_t n;

	if (*len < CH_OUT_MAX)
		n = read(*fd, buf + *len, CH_OUT_MAX - *len);
	else {
		char sink[4096];

		n = read(*fd, sink, sizeof(sink));
		if (n > 0)
			return;
	}
	if (n > 0) {
		*len += (size_t)n;
		buf[*len] = '\0';
	} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
		close(*fd);
		*fd = -1;
	}
}

int ch_runv(struct ch_result *r, const char *stdin_path, const char *const *env,
	    const char *const *args)
{
	const char *bin = getenv("MPC_BACKUP_BIN");
	const char *argv[64];
	int po[2], pe[2], st = 0, k = 0;
	long deadline = now_ms() + CH_RUN_LIMIT_S * 1000L;
	pid_t pid;

	ch_result_free(r);
	if (bin == NULL)
		fail_msg("MPC_BACKUP_BIN is not set");
	argv[k++] = bin;
	for (size_t i = 0; args[i] != NULL && k < 63; i++)
		argv[k++] = args[i];
	argv[k] = NULL;
	r->out = calloc(1, CH_OUT_MAX + 1);
	r->err = calloc(1, CH_OUT_MAX + 1);
	assert_non_null(r->out);
	assert_non_null(r->err);
	assert_int_equal(pipe2(po, O_CLOEXEC), 0);
	assert_int_equal(pipe2(pe, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int in = open(stdin_path != NULL ? stdin_path : "/dev/null", O_RDONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (in < 0 || dup2(in, 0) < 0 || dup2(po[1], 1) < 0 || dup2(pe[1], 2) < 0)
			_exit(126);
		child_env(env);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	while (po[0] >= 0 || pe[0] >= 0) {
		struct pollfd p[2] = { { .fd = po[0], .events = POLLIN }, { .fd = pe[0], .events = POLLIN } };
		long left = deadline - now_ms();

		if (left <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			if (po[0] >= 0)
				close(po[0]);
			if (pe[0] >= 0)
				close(pe[0]);
			fail_msg("mpc-backup %s ran for more than %d s (killed); stderr so far: %s",
				 args[0] ? args[0] : "", CH_RUN_LIMIT_S, r->err);
		}
		if (poll(p, 2, (int)(left > 1000 ? 1000 : left)) < 0 && errno != EINTR)
			break;
		if (po[0] >= 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			drain(&po[0], r->out, &r->out_len);
		if (pe[0] >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR)))
			drain(&pe[0], r->err, &r->err_len);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	if (strstr(r->err, "Sanitizer") != NULL || strstr(r->err, "runtime error:") != NULL)
		fail_msg("mpc-backup %s: sanitizer report:\n%s", args[0] ? args[0] : "", r->err);
	return r->status;
}

int ch_run(struct ch_result *r, const char *stdin_path, const char *const *env, ...)
{
	const char *args[64];
	va_list ap;
	int k = 0;

	va_start(ap, env);
	for (const char *a = va_arg(ap, const char *); a != NULL && k < 63; a = va_arg(ap, const char *))
		args[k++] = a;
	va_end(ap);
	args[k] = NULL;
	return ch_runv(r, stdin_path, env, args);
}

int ch_lines(const char *s)
{
	int n = 0;

	for (; s != NULL && *s; s++)
		n += *s == '\n';
	return n;
}

void ch_expect(const struct ch_result *r, int want, const char *needle)
{
	if (r->status != want ||
	    (needle != NULL && strstr(r->out, needle) == NULL && strstr(r->err, needle) == NULL))
		fail_msg("expected exit %d%s%s%s, got %d\n--- stdout:\n%s\n--- stderr:\n%s", want,
			 needle ? " and \"" : "", needle ? needle : "", needle ? "\"" : "", r->status,
			 r->out, r->err);
}

void ch_expect_one_error_line(const struct ch_result *r, const char *cmd)
{
	char prefix[64];

	snprintf(prefix, sizeof(prefix), "mpc-backup %s: ", cmd);
	if (ch_lines(r->err) != 1 || strncmp(r->err, prefix, strlen(prefix)) != 0)
		fail_msg("expected one line on stderr starting \"%s\", got:\n%s", prefix, r->err);
}

void ch_token_init(const char *uri, char *key)
{
	struct ch_result r = { 0 };
	const char *p;

	ch_run(&r, NULL, NULL, "token", "init", "--token", uri, (char *)NULL);
	ch_expect(&r, 0, "TLS public key: ed25519:");
	p = strstr(r.out, "TLS public key: ") + 16;
	snprintf(key, 64, "%.*s", (int)strcspn(p, "\n"), p);
	ch_result_free(&r);
}

void ch_write(const char *dir, const char *name, const char *text, char *out)
{
	assert_int_equal(nh_write_file(dir, name, text, out), 0);
}

char *ch_read(const char *path, size_t *len)
{
	uint8_t *buf = NULL;
	size_t n = 0;

	/* test files are small: 64 MiB is a generous bound */
	if (mpc_file_read(path, (size_t)64 << 20, 0, &buf, &n, NULL) != MPC_OK)
		return NULL;
	if (len != NULL)
		*len = n;
	return (char *)buf;
}

int ch_count_files(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name), s = strlen(suffix);

		if (de->d_name[0] != '.' && l >= s && strcmp(de->d_name + l - s, suffix) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static void append_line(char *log, size_t cap, const char *line)
{
	size_t o = strlen(log);

	if (o < cap)
		snprintf(log + o, cap - o, "%s\n", line);
}

void ch_node_events_until(struct nh_node *n, const char *until, char *log, size_t cap)
{
	long deadline = now_ms() + 20000;

	log[0] = '\0';
	for (;;) {
		char line[512];
		long left = deadline - now_ms();

		if (left <= 0 || nh_wait_line(n, "", (int)left, line, sizeof(line)) != 0)
			fail_msg("fake-node: no event \"%s\" within 20 s; events: %s", until, log);
		append_line(log, cap, line);
		if (strncmp(line, until, strlen(until)) == 0)
			return;
	}
}

void ch_node_events_flush(struct nh_node *n, char *log, size_t cap)
{
	struct mpc_node_client_opts o;
	struct mpc_node_client *c = NULL;
	struct mpc_err e = { 0 };
	char addr[64], marker[128], ks[MPC_ED25519_KEY_STR_MAX];
	char *last;

	memset(&o, 0, sizeof(o));
	o.client_key = nh_software_key(o.client_pub);
	assert_non_null(o.client_key);
	memcpy(o.node_pub, n->key, 32);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", n->port);
	o.address = addr;
	o.timeout_ms = 20000;
	o.fresh_connection = 1;
	assert_int_equal(mpc_node_client_new(&o, &c, &e), MPC_OK);
	(void)mpc_node_hello(c, &e); /* refused: that is the marker */
	mpc_node_client_free(c);
	EVP_PKEY_free(o.client_key);
	assert_int_equal(mpc_ed25519_key_format(o.client_pub, ks, NULL), MPC_OK);
	snprintf(marker, sizeof(marker), "REFUSED %s", ks);
	ch_node_events_until(n, marker, log, cap);
	/* drop the marker line itself */
	log[strlen(log) - 1] = '\0';
	last = strrchr(log, '\n');
	if (last != NULL)
		last[1] = '\0';
	else
		log[0] = '\0';
}

static pid_t spawn_common(char *const argv[], const char *cwd, const char *log_path, int *stdin_fd)
{
	int in[2] = { -1, -1 };
	pid_t pid;

	if (stdin_fd != NULL)
		assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	/* a fresh log: never read a previous server's lines */
	if (unlink(log_path) != 0 && errno != ENOENT)
		fail_msg("cannot remove %s", log_path);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int nul = open("/dev/null", O_RDONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd < 0 || nul < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0 ||
		    dup2(stdin_fd != NULL ? in[0] : nul, 0) < 0 || (cwd != NULL && chdir(cwd) != 0))
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (stdin_fd != NULL) {
		close(in[0]);
		*stdin_fd = in[1];
	}
	return pid;
}

pid_t ch_spawn(char *const argv[], const char *cwd, const char *log_path)
{
	return spawn_common(argv, cwd, log_path, NULL);
}

pid_t ch_spawn_piped(char *const argv[], const char *cwd, const char *log_path, int *stdin_fd)
{
	return spawn_common(argv, cwd, log_path, stdin_fd);
}

void ch_stop(pid_t *pid)
{
	if (*pid <= 0)
		return;
	kill(*pid, SIGTERM);
	for (int i = 0; i < 100; i++) {
		if (waitpid(*pid, NULL, WNOHANG) == *pid) {
			*pid = 0;
			return;
		}
		nap_ms(50);
	}
	kill(*pid, SIGKILL);
	waitpid(*pid, NULL, 0);
	*pid = 0;
}

char *ch_wait_file(const char *path, const char *needle)
{
	long deadline = now_ms() + 20000;
	char *text = NULL;

	for (;;) {
		free(text);
		text = ch_read(path, NULL);
		if (text != NULL && strstr(text, needle) != NULL)
			return text;
		if (now_ms() > deadline)
			break;
		nap_ms(50);
	}
	fail_msg("%s: no \"%s\" within 20 s; it holds:\n%s", path, needle, text ? text : "(nothing)");
	return NULL;
}

unsigned ch_free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned p;

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	p = ntohs(a.sin_port);
	close(fd);
	return p;
}

int ch_refusing_port(unsigned *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

int ch_stalling_port(unsigned *port)
{
	int fd = ch_refusing_port(port);

	assert_int_equal(listen(fd, 16), 0);
	return fd;
}

int ch_run_signalled(const char *log_path, int after_ms, int sig, int limit_s,
		     const char *const *args)
{
	const char *bin = getenv("MPC_BACKUP_BIN");
	char *argv[64];
	size_t n = 0;
	pid_t pid;
	int ws = 0;

	assert_non_null(bin);
	argv[n++] = (char *)bin;
	for (; args[n - 1] != NULL && n < 63; n++)
		argv[n] = (char *)args[n - 1];
	argv[n] = NULL;
	pid = ch_spawn(argv, NULL, log_path);
	nap_ms(after_ms);
	assert_int_equal(kill(pid, sig), 0);
	for (int i = 0; i < limit_s * 20; i++) {
		if (waitpid(pid, &ws, WNOHANG) == pid)
			return WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
		nap_ms(50);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fail_msg("mpc-backup did not end within %d s of signal %d", limit_s, sig);
	return -1;
}

int ch_main(const char *name, const struct CMUnitTest *tests, size_t n)
{
	int rc;

	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = _cmocka_run_group_tests(name, tests, n, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
