/* test_replica.c: replicas through a real rclone: the local backend and `rclone serve webdav`
 * with authentication on loopback, SoftHSM2 tokens and real store files. Faults, each with
 * nothing lost locally: replica down (then caught up), wrong credentials, replica disk full (a
 * 64 KiB tmpfs behind the server), an upload interrupted by kill -9, a tampered file on the
 * replica (found by verify, refused by the token on fetch), two hosts replicating to one
 * remote, a file of the same name never overwritten, a hung server bounded by the timeout;
 * the same against `rclone serve sftp` with a password; restore drills of the replica copies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "src/store/drill.h"
#include "src/store/replica.h"
#include "src/store/store.h"
#include "src/util/file.h"
#include "src/util/mem.h"
#include "tests/store/sfix.h"
#include "tests/support/softhsm.h"

#define RCLONE "/usr/bin/rclone"

struct server {
	pid_t pid;
	unsigned port;
	char dir[256];
	char log[300];
};

struct st {
	struct th_softhsm h;
	struct mpc_p11_ctx *ctx;
	struct mpc_token *t;
	char tmp[64];
	char dir[256];   /* the store */
	char conf[300];  /* rclone configuration */
	char local[300]; /* directory behind the "loc" remote */
	struct mpc_store *s;
	struct server wd; /* rclone serve webdav */
	char names[4][MPC_STORE_NAME_MAX];
	size_t n_names;
};

static unsigned free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static int wait_port(unsigned port, double secs)
{
	double end = mpc_replica_now() + secs;

	while (mpc_replica_now() < end) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
		int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
		close(fd);
		if (ok)
			return 0;
		usleep(50000);
	}
	return -1;
}

static void server_serve(struct server *sv, struct st *x, const char *kind);

/* rclone serve webdav --user U --pass P on 127.0.0.1:port serving dir. */
static void server_start(struct server *sv, struct st *x)
{
	server_serve(sv, x, "webdav");
}

/* rclone serve KIND (webdav, sftp) --user U --pass P on 127.0.0.1:port serving dir. */
static void server_serve(struct server *sv, struct st *x, const char *kind)
{
	char addr[64];
	pid_t pid;

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", sv->port);
	snprintf(sv->log, sizeof(sv->log), "%s/%s-%u.log", x->tmp, kind, sv->port);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(sv->log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		setpgid(0, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(RCLONE, RCLONE, "serve", kind, "--config", "/dev/null", "--user", "U", "--pass",
		      "P", "--addr", addr, sv->dir, (char *)NULL);
		_exit(127);
	}
	sv->pid = pid;
	if (wait_port(sv->port, 15) != 0)
		fail_msg("rclone serve %s did not listen on %s", kind, addr);
}

static void server_stop(struct server *sv)
{
	int status;

	if (sv->pid <= 0)
		return;
	kill(-sv->pid, SIGCONT);
	kill(sv->pid, SIGKILL);
	waitpid(sv->pid, &status, 0);
	sv->pid = 0;
}

static void write_text(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void obscure(const char *pass, char *out, size_t cap)
{
	char cmd[128];
	size_t n;

	snprintf(cmd, sizeof(cmd), RCLONE " obscure %s", pass);
	assert_int_equal(th_run(cmd, out, (unsigned)cap), 0);
	n = strlen(out);
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		out[--n] = '\0';
}

/* Remotes: loc (local dir), wd (webdav, right password), bad (webdav, wrong password), down
 * (webdav at a port nobody listens on), plus `extra` appended verbatim. */
static void write_conf(struct st *x, unsigned down_port, const char *extra)
{
	char good[128], wrong[128], text[2048];

	obscure("P", good, sizeof(good));
	obscure("WRONG-secret-9", wrong, sizeof(wrong));
	snprintf(text, sizeof(text),
		 "[loc]\ntype = local\n\n"
		 "[wd]\ntype = webdav\nurl = http://127.0.0.1:%u/\nvendor = other\nuser = U\n"
		 "pass = %s\n\n"
		 "[bad]\ntype = webdav\nurl = http://127.0.0.1:%u/\nvendor = other\nuser = U\n"
		 "pass = %s\n\n"
		 "[down]\ntype = webdav\nurl = http://127.0.0.1:%u/\nvendor = other\nuser = U\n"
		 "pass = %s\n\n%s",
		 x->wd.port, good, x->wd.port, wrong, down_port, good, extra ? extra : "");
	write_text(x->conf, text, 0600);
}

static void put_set(struct st *x, const struct sf_set *f)
{
	struct mpc_store_put_opts o = { .tokens = &x->t,
					.n_tokens = 1,
					.mech = MPC_SEAL_AUTO,
					.contract = "v1.signer",
					.operator_ = "operator.near" };
	struct mpc_err e = { 0 };
	uint8_t *js = NULL;
	size_t len = 0;

	assert_int_equal(sf_shares_json(f->shares, f->n, &js, &len), 0);
	if (mpc_store_put(x->s, &o, &f->ks, js, len, x->names[x->n_names], &e) != MPC_OK)
		fail_msg("put: %s", e.msg);
	x->n_names++;
	mpc_secure_free(js);
}

static void put_epoch(struct st *x, uint64_t epoch)
{
	struct sf_set f;

	if (epoch == 4)
		assert_int_equal(sf_fixture_set(0, &f), 0);
	else
		assert_int_equal(sf_synthetic_set(epoch, 3, epoch, &f), 0);
	put_set(x, &f);
	sf_set_free(&f);
}

static int setup(void **state)
{
	struct st *x = calloc(1, sizeof(*x));
	struct mpc_err e = { 0 };

	if (x == NULL || th_softhsm_setup(&x->h, "replica-a", NULL) != 0)
		return -1;
	if (mpc_p11_ctx_new(&x->ctx, &e) != MPC_OK || sf_token_open(x->ctx, x->h.uri, &x->t) != 0)
		return -1;
	snprintf(x->tmp, sizeof(x->tmp), "/tmp/mpc-replica-XXXXXX");
	if (mkdtemp(x->tmp) == NULL)
		return -1;
	snprintf(x->dir, sizeof(x->dir), "%s/store", x->tmp);
	snprintf(x->conf, sizeof(x->conf), "%s/rclone.conf", x->tmp);
	snprintf(x->local, sizeof(x->local), "%s/local", x->tmp);
	snprintf(x->wd.dir, sizeof(x->wd.dir), "%s/webdav", x->tmp);
	if (mkdir(x->local, 0700) != 0 || mkdir(x->wd.dir, 0700) != 0)
		return -1;
	if (mpc_store_open(x->dir, 1, &x->s, &e) != MPC_OK)
		return -1;
	x->wd.port = free_port();
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct st *x = *state;
	char cmd[256];

	server_stop(&x->wd);
	mpc_store_close(x->s);
	mpc_token_close(x->t);
	mpc_p11_ctx_free(x->ctx);
	th_softhsm_teardown(&x->h);
	snprintf(cmd, sizeof(cmd), "umount -l '%s/webdav' 2>/dev/null; rm -rf '%s'", x->tmp,
		 x->tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", x->tmp);
	free(x);
	return 0;
}

static struct mpc_replica_set *new_set(struct st *x, const char *host, double timeout, ...)
{
	struct mpc_replica_opts o = {
		.rclone = RCLONE, .config = x->conf, .call_timeout = timeout, .host_id = host
	};
	struct mpc_replica_set *s = NULL;
	struct mpc_err e = { 0 };
	const char *r;
	va_list ap;

	if (mpc_replica_set_new(&o, &s, &e) != MPC_OK)
		fail_msg("set: %s", e.msg);
	va_start(ap, timeout);
	while ((r = va_arg(ap, const char *)) != NULL)
		if (mpc_replica_set_add(s, r, &e) != MPC_OK)
			fail_msg("add %s: %s", r, e.msg);
	va_end(ap);
	return s;
}

static void sync_ok(struct mpc_replica_set *s, const struct mpc_store *store,
		    struct mpc_replica_report *r)
{
	struct mpc_err e = { 0 };

	if (mpc_replica_sync(s, store, mpc_replica_now() + 60, r, &e) != MPC_OK)
		fail_msg("sync: %s", e.msg);
}

/* Fail with every replica's error unless the pass left all of them current. */
static void expect_current(const struct mpc_replica_report *r)
{
	if (r->all_current)
		return;
	for (size_t i = 0; i < r->n; i++)
		fprintf(stderr, "replica %s: reached %d behind %zu different %zu error: %s\n",
			r->items[i].remote, r->items[i].reached, r->items[i].files_behind,
			r->items[i].files_different, r->items[i].last_error);
	fail_msg("a replica is not current");
}

/* 1 if dir/name has the same bytes as the store's file. */
static int same_file(struct st *x, const char *dir, const char *name)
{
	char a[600], b[600];
	uint8_t *p = NULL, *q = NULL;
	size_t lp = 0, lq = 0;
	int same;

	snprintf(a, sizeof(a), "%s/%s", x->dir, name);
	snprintf(b, sizeof(b), "%s/%s", dir, name);
	if (mpc_file_read(a, 1 << 24, 0, &p, &lp, NULL) != MPC_OK)
		return 0;
	if (mpc_file_read(b, 1 << 24, 0, &q, &lq, NULL) != MPC_OK) {
		free(p);
		return 0;
	}
	same = lp == lq && memcmp(p, q, lp) == 0;
	free(p);
	free(q);
	return same;
}

static int count_files(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
	closedir(d);
	return n;
}

static size_t store_count(const char *dir)
{
	struct mpc_store *s = NULL;
	struct mpc_store_list l;
	size_t n;

	assert_int_equal(mpc_store_open(dir, 0, &s, NULL), MPC_OK);
	assert_int_equal(mpc_store_list(s, &l, NULL), MPC_OK);
	n = l.n;
	mpc_store_list_free(&l);
	mpc_store_close(s);
	return n;
}

/* Run mpc-backup with args (NULL-terminated) in cwd (NULL: here); stdout+stderr into out.
 * Returns the status. */
static int run_cli(const char *cwd, char *out, size_t cap, ...)
{
	const char *argv[40];
	size_t n = 0;
	int p[2], status;
	va_list ap;
	pid_t pid;
	size_t len = 0;
	ssize_t k;

	argv[n++] = getenv("MPC_BACKUP_BIN");
	assert_non_null(argv[0]);
	va_start(ap, cap);
	while ((argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(devnull, 0);
		dup2(p[1], 1);
		dup2(p[1], 2);
		close(p[0]);
		if (cwd != NULL && chdir(cwd) != 0)
			_exit(126);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	while ((k = read(p[0], out + len, cap - 1 - len)) > 0 && len + (size_t)k < cap - 1)
		len += (size_t)k;
	if (k > 0)
		len += (size_t)k;
	out[len] = '\0';
	close(p[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- tests ---- */

static void test_sanitize_and_config(void **state)
{
	struct st *x = *state;
	struct mpc_replica_opts o = { .rclone = RCLONE, .config = x->conf };
	struct mpc_replica_set *s = NULL;
	struct mpc_err e = { 0 };
	char out[256];
	const char *in =
		"2026/12/01 14:23:15 NOTICE: starting\n"
		"2026/12/01 14:23:15 Failed to copy: Put \"https://user:s3cr3t@host.example"
		":8443/bucket/x?X-Amz-Signature=abcdef&token=zzz\": 403 Forbidden\x01\n";

	mpc_replica_sanitize(in, strlen(in), out, sizeof(out));
	assert_null(strstr(out, "s3cr3t"));
	assert_null(strstr(out, "Signature"));
	assert_null(strstr(out, "bucket"));
	assert_null(strstr(out, "2026/12/01"));
	assert_non_null(strstr(out, "https://host.example:8443"));
	assert_non_null(strstr(out, "403 Forbidden?"));

	/* the configuration file is checked like a PIN file */
	write_conf(x, 1, NULL);
	assert_int_equal(chmod(x->conf, 0640), 0);
	assert_int_equal(mpc_replica_set_new(&o, &s, &e), MPC_ERR_STATE);
	assert_non_null(strstr(e.msg, "0640"));
	assert_int_equal(chmod(x->conf, 0600), 0);
	if (geteuid() == 0) {
		assert_int_equal(chown(x->conf, 12345, 12345), 0);
		mpc_err_clear(&e);
		assert_int_equal(mpc_replica_set_new(&o, &s, &e), MPC_ERR_STATE);
		assert_non_null(strstr(e.msg, "owned by uid 12345"));
		assert_int_equal(chown(x->conf, 0, 0), 0);
	}
	mpc_err_clear(&e);
	assert_int_equal(mpc_replica_set_new(&o, &s, &e), MPC_OK);
	assert_int_equal(mpc_replica_set_add(s, "/tmp/dir", &e), MPC_ERR_USAGE);
	mpc_err_clear(&e);
	assert_int_equal(mpc_replica_set_add(s, "--config=x:y", &e), MPC_ERR_USAGE);
	mpc_err_clear(&e);
	assert_int_equal(mpc_replica_set_add(s, "wd:a b", &e), MPC_ERR_USAGE);
	mpc_err_clear(&e);
	assert_int_equal(mpc_replica_set_add(s, "wd:../up", &e), MPC_ERR_USAGE);
	mpc_err_clear(&e);
	assert_int_equal(mpc_replica_set_add(s, "wd:ok", &e), MPC_OK);
	assert_int_equal(mpc_replica_set_add(s, "wd:ok", &e), MPC_ERR_EXISTS);
	mpc_replica_set_free(s);
}

/* Local backend and authenticated webdav: copies, idempotence, a new file, verify by digest. */
static void test_sync_and_verify(void **state)
{
	struct st *x = *state;
	struct mpc_replica_report r;
	struct mpc_replica_set *s;
	char loc[400], wdr[64] = "wd:backups", wdd[400];
	struct mpc_err e = { 0 };

	server_start(&x->wd, x);
	write_conf(x, 1, NULL);
	snprintf(loc, sizeof(loc), "loc:%s/r1", x->local);
	snprintf(wdd, sizeof(wdd), "%s/backups", x->wd.dir);
	put_epoch(x, 4);
	put_epoch(x, 5);
	s = new_set(x, "hosta", 30, loc, wdr, NULL);
	sync_ok(s, x->s, &r);
	expect_current(&r);
	assert_int_equal(r.uploaded, 4);
	assert_int_equal(r.failed, 0);
	for (size_t i = 0; i < x->n_names; i++) {
		char d[400];

		snprintf(d, sizeof(d), "%s/r1", x->local);
		assert_true(same_file(x, d, x->names[i]));
		assert_true(same_file(x, wdd, x->names[i]));
	}
	assert_int_equal(count_files(wdd, ".tmp-"), 0);
	assert_true(r.items[0].last_success > 0);
	assert_int_equal(r.items[0].files_unhashed, 0); /* local lists digests */
	/* nothing new: nothing copied */
	sync_ok(s, x->s, &r);
	assert_int_equal(r.uploaded, 0);
	expect_current(&r);
	/* a new backup is copied on the next pass */
	put_epoch(x, 6);
	sync_ok(s, x->s, &r);
	expect_current(&r);
	assert_int_equal(r.uploaded, 2);
	assert_true(same_file(x, wdd, x->names[2]));
	assert_true(r.items[1].last_upload_seconds > 0);
	/* verify: webdav lists no digest, so files are downloaded and hashed */
	assert_int_equal(mpc_replica_verify(s, x->s, mpc_replica_now() + 60, &r, &e), MPC_OK);
	expect_current(&r);
	assert_int_equal(r.n_findings, 0);
	assert_int_equal(r.items[1].files_unhashed, 0);
	assert_int_equal(mpc_replica_overdue(s, 0), 0);
	{
		struct mpc_replica_status st;

		mpc_replica_status_get(s, 1, &st);
		assert_string_equal(st.remote, "wd:backups");
		assert_int_equal(st.uploads_total, 3);
		assert_int_equal(st.files_behind, 0);
	}
	mpc_replica_set_free(s);
}

/* A replica that is down, and one with the wrong password: the local store is untouched, the
 * good replica is served, errors are sanitised, and the down one catches up when it is back. */
static void test_down_and_wrong_credentials(void **state)
{
	struct st *x = *state;
	struct mpc_replica_report r;
	struct mpc_replica_set *s;
	char loc[400];
	double t0;

	/* the webdav server is not started yet: "wd" is down */
	write_conf(x, 1, NULL);
	snprintf(loc, sizeof(loc), "loc:%s/r1", x->local);
	put_epoch(x, 4);
	s = new_set(x, "hosta", 10, "wd:b", loc, NULL);
	t0 = mpc_replica_now();
	sync_ok(s, x->s, &r);
	assert_true(mpc_replica_now() - t0 < 45); /* 4 calls of at most 10 s */
	assert_false(r.all_current);
	assert_int_equal(r.failed, 1);
	assert_false(r.items[0].reached);
	assert_int_equal(r.items[0].files_behind, 1);
	assert_true(r.items[1].reached);
	assert_int_equal(r.items[1].files_behind, 0);
	assert_int_equal(r.uploaded, 1);
	assert_non_null(strstr(r.items[0].last_error, "127.0.0.1"));
	assert_int_equal(store_count(x->dir), 1);
	/* it stays behind while down; grace 0 says so */
	put_epoch(x, 5);
	sync_ok(s, x->s, &r);
	assert_int_equal(r.items[0].files_behind, 2);
	assert_int_equal(mpc_replica_overdue(s, 0), 1);
	assert_int_equal(mpc_replica_overdue(s, 3600), 0);
	/* back up: caught up on the next pass */
	server_start(&x->wd, x);
	sync_ok(s, x->s, &r);
	expect_current(&r);
	assert_int_equal(r.uploaded, 2);
	assert_int_equal(mpc_replica_overdue(s, 0), 0);
	mpc_replica_set_free(s);

	/* wrong credentials: refused, the password never appears in the message */
	s = new_set(x, "hosta", 10, "bad:b", NULL);
	sync_ok(s, x->s, &r);
	assert_false(r.items[0].reached);
	assert_non_null(strstr(r.items[0].last_error, "401"));
	assert_null(strstr(r.items[0].last_error, "WRONG-secret-9"));
	{
		FILE *f = fopen(x->conf, "r");
		char line[512];

		assert_non_null(f);
		while (fgets(line, sizeof(line), f) != NULL)
			if (strncmp(line, "pass = ", 7) == 0) {
				line[strcspn(line, "\n")] = '\0';
				assert_null(strstr(r.items[0].last_error, line + 7));
			}
		fclose(f);
	}
	assert_int_equal(store_count(x->dir), 2);
	mpc_replica_set_free(s);
}

/* The server's disk is full: the copy fails, nothing appears under a real name, the local
 * store is untouched; with space again the replica catches up. */
static void test_replica_disk_full(void **state)
{
	struct st *x = *state;
	struct mpc_replica_report r;
	struct mpc_replica_set *s;
	char fill[400];
	static uint8_t chunk[4096];
	int fd;

	if (mount("tmpfs", x->wd.dir, "tmpfs", 0, "size=64k,mode=0700") != 0) {
		fprintf(stderr, "tmpfs mount not permitted (%s): skipping\n", strerror(errno));
		skip();
	}
	server_start(&x->wd, x);
	write_conf(x, 1, NULL);
	put_epoch(x, 4);
	snprintf(fill, sizeof(fill), "%s/fill", x->wd.dir);
	fd = open(fill, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	memset(chunk, 0x5a, sizeof(chunk));
	while (write(fd, chunk, sizeof(chunk)) > 0)
		;
	while (write(fd, chunk, 1) > 0)
		;
	close(fd);
	s = new_set(x, "hosta", 10, "wd:", NULL);
	sync_ok(s, x->s, &r);
	assert_int_equal(r.uploaded, 0);
	assert_int_equal(r.failed, 1);
	assert_int_equal(r.items[0].files_behind, 1);
	assert_int_equal(r.n_findings, 1);
	assert_int_equal(r.findings[0].kind, MPC_REPLICA_BEHIND);
	assert_int_equal(count_files(x->wd.dir, "keyset-"), 0);
	assert_int_equal(store_count(x->dir), 1);
	/* the same finding is not reported again */
	sync_ok(s, x->s, &r);
	assert_int_equal(r.n_findings, 0);
	assert_int_equal(r.items[0].files_behind, 1);
	/* space again */
	assert_int_equal(unlink(fill), 0);
	sync_ok(s, x->s, &r);
	expect_current(&r);
	assert_true(same_file(x, x->wd.dir, x->names[0]));
	assert_int_equal(count_files(x->wd.dir, ".tmp-"), 0);
	mpc_replica_set_free(s);
}

/* The pid of an rclone child running `verb` with our configuration (0: none); with kill_all,
 * SIGKILL every such child (left by a killed mpc-backup) instead. */
static pid_t our_rclone(const char *conf, const char *verb, int kill_all)
{
	pid_t found = 0;
	DIR *d = opendir("/proc");
	struct dirent *de;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		char p[300], buf[4096];
		int fd;
		ssize_t k;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(p, sizeof(p), "/proc/%s/cmdline", de->d_name);
		fd = open(p, O_RDONLY);
		if (fd < 0)
			continue;
		k = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (k <= 0)
			continue;
		for (ssize_t i = 0; i < k; i++)
			if (buf[i] == '\0')
				buf[i] = ' ';
		buf[k] = '\0';
		if (strstr(buf, "rclone") == NULL || strstr(buf, conf) == NULL ||
		    strstr(buf, "serve") != NULL || (verb != NULL && strstr(buf, verb) == NULL))
			continue;
		if (kill_all)
			kill((pid_t)atoi(de->d_name), SIGKILL);
		else
			found = (pid_t)atoi(de->d_name);
	}
	closedir(d);
	return found;
}

/* An upload interrupted by kill -9 (of mpc-backup and of its rclone, as a power cut would):
 * nothing under a real name on the replica, and the next pass completes it and removes the
 * temporary. A hung server is bounded by the call timeout. */
static void test_upload_killed(void **state)
{
	struct st *x = *state;
	struct mpc_replica_report r;
	struct mpc_replica_set *s;
	char out[8192], tmpname[200], tmppath[600];
	pid_t pid, copier;
	int status;
	double t0;

	server_start(&x->wd, x);
	write_conf(x, 1, NULL);
	put_epoch(x, 4);
	put_epoch(x, 5);
	/* a partial temporary of an earlier interrupted upload */
	snprintf(tmpname, sizeof(tmpname), ".tmp-hosta-%s", x->names[1]);
	snprintf(tmppath, sizeof(tmppath), "%s/%s", x->wd.dir, tmpname);
	write_text(tmppath, "MPCSTORE partial", 0600);
	/* mpc-backup lists the replica, then starts copying: at that moment the server stops
	 * answering (the upload is in flight) and mpc-backup and its rclone are killed -9 */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(devnull, 1);
		dup2(devnull, 2);
		execl(getenv("MPC_BACKUP_BIN"), "mpc-backup", "store", "replicate", "--store",
		      x->dir, "--replica", "wd:", "--rclone-config", x->conf, "--host-id", "hosta",
		      (char *)NULL);
		_exit(127);
	}
	t0 = mpc_replica_now();
	while ((copier = our_rclone(x->conf, "copyto", 0)) == 0 && mpc_replica_now() - t0 < 20)
		usleep(500);
	assert_true(copier > 0);
	kill(x->wd.pid, SIGSTOP);
	usleep(300000);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	assert_true(WIFSIGNALED(status));
	our_rclone(x->conf, NULL, 1);
	kill(x->wd.pid, SIGCONT);
	assert_int_equal(count_files(x->wd.dir, "keyset-"), 0);
	assert_int_equal(store_count(x->dir), 2);

	/* a hung server costs at most the call timeout */
	kill(x->wd.pid, SIGSTOP);
	s = new_set(x, "hosta", 2, "wd:", NULL);
	t0 = mpc_replica_now();
	sync_ok(s, x->s, &r);
	assert_true(mpc_replica_now() - t0 < 8);
	assert_false(r.items[0].reached);
	assert_non_null(strstr(r.items[0].last_error, "did not finish within 2 s"));
	/* the next pass leaves it alone for a while instead of waiting again */
	t0 = mpc_replica_now();
	sync_ok(s, x->s, &r);
	assert_true(mpc_replica_now() - t0 < 2);
	assert_int_equal(r.backing_off, 1);
	assert_false(r.all_current);
	assert_int_equal(r.items[0].files_behind, 2);
	assert_true(mpc_replica_overdue(s, 0) == 1);
	kill(x->wd.pid, SIGCONT);
	mpc_replica_set_free(s);

	/* the next pass: temporaries removed, both files complete */
	s = new_set(x, "hosta", 30, "wd:", NULL);
	sync_ok(s, x->s, &r);
	expect_current(&r);
	assert_true(same_file(x, x->wd.dir, x->names[0]));
	assert_true(same_file(x, x->wd.dir, x->names[1]));
	assert_int_equal(count_files(x->wd.dir, ".tmp-"), 0);
	mpc_replica_set_free(s);
	/* the CLI agrees */
	assert_int_equal(run_cli(NULL, out, sizeof(out), "store", "replicate", "--store", x->dir,
				 "--replica", "wd:", "--rclone-config", x->conf, "--check",
				 "--timeout", "120", NULL),
			 0);
	assert_non_null(strstr(out, "current"));
}

/* A tampered file on the replica: verify reports it once as different, never overwrites it;
 * fetch --verify refuses it (the token does not open it) and takes the intact ones; a renamed
 * file is refused by its header even without the token; a new host restores from the replica. */
static void test_tamper_and_fetch(void **state)
{
	struct st *x = *state;
	struct mpc_replica_report r;
	struct mpc_replica_set *s;
	char out[16384], loc[400], rdir[400], p[600], q[600], fresh[300], fresh2[300], tok[600];
	struct mpc_err e = { 0 };
	uint8_t *buf = NULL;
	size_t len = 0;
	int st;

	server_start(&x->wd, x);
	write_conf(x, 1, NULL);
	snprintf(loc, sizeof(loc), "loc:%s/r1", x->local);
	snprintf(rdir, sizeof(rdir), "%s/r1", x->local);
	put_epoch(x, 4);
	put_epoch(x, 5);
	put_epoch(x, 6);
	s = new_set(x, "hosta", 30, loc, "wd:", NULL);
	sync_ok(s, x->s, &r);
	expect_current(&r);

	/* a new host fills an empty store from the webdav replica and can restore */
	snprintf(fresh, sizeof(fresh), "%s/newhost", x->tmp);
	snprintf(tok, sizeof(tok), "%s", x->h.uri);
	st = run_cli(NULL, out, sizeof(out), "store", "fetch", "--store", fresh, "--from",
		     "wd:", "--rclone-config", x->conf, "--verify", "--seal-to", tok, "--token", tok,
		     NULL);
	if (st != 0)
		fail_msg("fetch: %d %s", st, out);
	assert_int_equal(store_count(fresh), 3);
	st = run_cli(NULL, out, sizeof(out), "store", "verify", "--store", fresh, "--token", tok,
		     NULL);
	if (st != 0)
		fail_msg("verify: %d %s", st, out);
	/* a second fetch into that store: identical files, nothing written */
	st = run_cli(NULL, out, sizeof(out), "store", "fetch", "--store", fresh, "--from",
		     "wd:", "--rclone-config", x->conf, NULL);
	assert_int_equal(st, 0);
	assert_non_null(strstr(out, "0 written, 3 already present"));

	/* tamper one blob byte (header intact) and rename another file on the local replica */
	snprintf(p, sizeof(p), "%s/%s", rdir, x->names[1]);
	assert_int_equal(mpc_file_read(p, 1 << 24, 0, &buf, &len, &e), MPC_OK);
	buf[len - 3] ^= 0x01;
	assert_int_equal(unlink(p), 0);
	assert_int_equal(mpc_file_write_atomic(p, buf, len, 0600, 1, &e), MPC_OK);
	free(buf);
	snprintf(p, sizeof(p), "%s/%s", rdir, x->names[2]);
	snprintf(q, sizeof(q), "%s/keyset-e00000000000000000007-0123456789abcdef.mpcs", rdir);
	assert_int_equal(rename(p, q), 0);

	assert_int_equal(mpc_replica_verify(s, x->s, mpc_replica_now() + 60, &r, &e), MPC_OK);
	assert_false(r.all_current);
	assert_int_equal(r.items[0].files_different, 1);
	assert_int_equal(r.items[0].files_behind, 1);
	assert_int_equal(r.items[0].files_extra, 1);
	assert_int_equal(r.n_findings, 3);
	/* reported once */
	assert_int_equal(mpc_replica_verify(s, x->s, mpc_replica_now() + 60, &r, &e), MPC_OK);
	assert_int_equal(r.n_findings, 0);
	assert_int_equal(r.items[0].files_different, 1);
	/* sync never overwrites the different file; the missing one is copied again */
	sync_ok(s, x->s, &r);
	assert_int_equal(r.uploaded, 1);
	assert_int_equal(r.items[0].files_different, 1);
	assert_false(same_file(x, rdir, x->names[1]));
	/* the CLI says "different" with its status */
	st = run_cli(NULL, out, sizeof(out), "store", "replicate", "--store", x->dir, "--replica",
		     loc, "--rclone-config", x->conf, NULL);
	assert_int_equal(st, 26);

	/* fetch --verify from the tampered replica: the tampered and renamed files are refused */
	snprintf(fresh2, sizeof(fresh2), "%s/newhost2", x->tmp);
	st = run_cli(NULL, out, sizeof(out), "store", "fetch", "--store", fresh2, "--from", loc,
		     "--rclone-config", x->conf, "--verify", "--token", tok, "--json", NULL);
	assert_int_equal(st, 15);
	assert_non_null(strstr(out, "\"written\": 2"));
	assert_non_null(strstr(out, "\"refused\": 2"));
	assert_non_null(strstr(out, "refused by the token"));
	assert_non_null(strstr(out, "renamed or tampered"));
	assert_int_equal(store_count(fresh2), 2);
	assert_int_equal(count_files(fresh2, ".tmp-"), 0);
	/* without the token the renamed file is still refused by its header */
	snprintf(fresh2, sizeof(fresh2), "%s/newhost3", x->tmp);
	st = run_cli(NULL, out, sizeof(out), "store", "fetch", "--store", fresh2, "--from", loc,
		     "--rclone-config", x->conf, NULL);
	assert_int_equal(st, 15);
	assert_int_equal(store_count(fresh2), 3);
	/* a store holding other files is refused, nothing written */
	st = run_cli(NULL, out, sizeof(out), "store", "fetch", "--store", x->dir, "--from", "wd:b2",
		     "--rclone-config", x->conf, NULL);
	assert_int_equal(st, 18); /* empty replica */
	mpc_replica_set_free(s);
	s = new_set(x, "hostb", 30, "wd:other", NULL);
	{
		struct sf_set f;

		assert_int_equal(sf_synthetic_set(9, 2, 99, &f), 0);
		mpc_store_close(x->s);
		snprintf(x->dir, sizeof(x->dir), "%s/store-b", x->tmp);
		assert_int_equal(mpc_store_open(x->dir, 1, &x->s, &e), MPC_OK);
		put_set(x, &f);
		sf_set_free(&f);
	}
	sync_ok(s, x->s, &r);
	st = run_cli(NULL, out, sizeof(out), "store", "fetch", "--store", fresh, "--from",
		     "wd:other", "--rclone-config", x->conf, NULL);
	assert_int_equal(st, 17);
	assert_int_equal(store_count(fresh), 3);
	mpc_replica_set_free(s);
}

/* Two hosts replicate to one remote: neither overwrites the other, each sees the other's
 * files as extra (not an error), and a new host fetches both. */
static void test_two_hosts(void **state)
{
	struct st *x = *state;
	struct mpc_replica_report r;
	struct mpc_replica_set *a, *b;
	struct mpc_store *sb = NULL;
	struct mpc_store_put_opts o = { .tokens = &x->t, .n_tokens = 1, .mech = MPC_SEAL_AUTO };
	struct mpc_err e = { 0 };
	char bdir[300], fresh[300], out[8192], nb[MPC_STORE_NAME_MAX];
	struct sf_set f;
	uint8_t *js = NULL;
	size_t len = 0;
	pid_t pid;
	int status, st;

	server_start(&x->wd, x);
	write_conf(x, 1, NULL);
	put_epoch(x, 4);
	snprintf(bdir, sizeof(bdir), "%s/store-b", x->tmp);
	assert_int_equal(mpc_store_open(bdir, 1, &sb, &e), MPC_OK);
	assert_int_equal(sf_synthetic_set(5, 2, 5, &f), 0);
	assert_int_equal(sf_shares_json(f.shares, f.n, &js, &len), 0);
	assert_int_equal(mpc_store_put(sb, &o, &f.ks, js, len, nb, &e), MPC_OK);
	mpc_secure_free(js);
	sf_set_free(&f);
	a = new_set(x, "hosta", 30, "wd:shared", NULL);
	b = new_set(x, "hostb", 30, "wd:shared", NULL);
	/* both at once */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct mpc_replica_report rb;

		_exit(mpc_replica_sync(b, sb, mpc_replica_now() + 60, &rb, NULL) == MPC_OK &&
				      rb.uploaded == 1
			      ? 0
			      : 1);
	}
	sync_ok(a, x->s, &r);
	waitpid(pid, &status, 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(r.uploaded, 1);
	sync_ok(a, x->s, &r);
	expect_current(&r);
	assert_int_equal(r.items[0].files_extra, 1);
	assert_int_equal(r.items[0].files_different, 0);
	sync_ok(b, sb, &r);
	expect_current(&r);
	assert_int_equal(r.items[0].files_extra, 1);
	snprintf(fresh, sizeof(fresh), "%s/shared-fetch", x->tmp);
	{
		char d[400];

		snprintf(d, sizeof(d), "%s/shared", x->wd.dir);
		assert_true(same_file(x, d, x->names[0]));
		assert_int_equal(count_files(d, ".tmp-"), 0);
	}
	/* relative store paths reach rclone as ./path */
	st = run_cli(x->tmp, out, sizeof(out), "store", "fetch", "--store", "shared-fetch",
		     "--from", "wd:shared", "--rclone-config", x->conf, NULL);
	if (st != 0)
		fail_msg("fetch: %d %s", st, out);
	assert_int_equal(store_count(fresh), 2);
	st = run_cli(x->tmp, out, sizeof(out), "store", "replicate", "--store", "shared-fetch",
		     "--replica", "wd:shared", "--rclone-config", x->conf, "--json", NULL);
	if (st != 0)
		fail_msg("replicate: %d %s", st, out);
	assert_non_null(strstr(out, "\"uploaded\": 0"));
	mpc_replica_set_free(a);
	mpc_replica_set_free(b);
	mpc_store_close(sb);
}

/* A file's bytes with one byte flipped near its end (inside the last blob), rewritten. */
static void flip_byte(const char *path)
{
	struct mpc_err e = { 0 };
	uint8_t *buf = NULL;
	size_t len = 0;

	assert_int_equal(mpc_file_read(path, 1 << 24, 0, &buf, &len, &e), MPC_OK);
	buf[len - 3] ^= 0x01;
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mpc_file_write_atomic(path, buf, len, 0600, 1, &e), MPC_OK);
	free(buf);
}

static const struct mpc_drill_item *drill_item(const struct mpc_drill_report *r, const char *n)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->items[i].name, n) == 0)
			return &r->items[i];
	return NULL;
}

/* Restore drills of the replica copies: each copy downloaded to a private temporary, opened in
 * the token and compared with the contract; a tampered copy, a renamed copy, a down replica and
 * wrong credentials each reported per replica and per file; nothing in the store changes. */
static void test_drill_replicas(void **state)
{
	struct st *x = *state;
	struct mpc_replica_report rr;
	struct mpc_replica_set *s;
	struct mpc_drill_report d;
	struct sf_set f6;
	struct mpc_err e = { 0 };
	const struct mpc_drill_item *it;
	char loc[400], rdir[400], p[600], q[600], out[32768], tok[600], *text, metrics[700];
	char cmd[800];
	int st;

	server_start(&x->wd, x);
	write_conf(x, free_port(), NULL);
	snprintf(loc, sizeof(loc), "loc:%s/r1", x->local);
	snprintf(rdir, sizeof(rdir), "%s/r1", x->local);
	put_epoch(x, 4);
	put_epoch(x, 5);
	put_epoch(x, 6);
	s = new_set(x, "hosta", 30, loc, "wd:", NULL);
	sync_ok(s, x->s, &rr);
	expect_current(&rr);
	mpc_replica_set_free(s);

	/* every copy opens; the contract's epoch 6 restores from both replicas */
	assert_int_equal(sf_synthetic_set(6, 3, 6, &f6), 0);
	s = new_set(x, "hosta", 30, loc, "wd:", "down:", "bad:", NULL);
	memset(&d, 0, sizeof(d));
	assert_int_equal(mpc_drill_run(x->s, &x->t, 1, &f6.ks, &d, &e), MPC_OK);
	assert_int_equal(mpc_replica_drill(s, x->s, &x->t, 1, &f6.ks, mpc_replica_now() + 120,
					   &d, &e),
			 MPC_OK);
	assert_true(d.restorable);
	assert_int_equal(d.n_replicas, 4);
	for (size_t i = 0; i < 2; i++) {
		const struct mpc_drill_replica *rp = &d.replicas[i];

		if (!rp->reached)
			fail_msg("%s: %s", rp->remote, rp->error);
		assert_int_equal(rp->n_listed, 3);
		assert_int_equal(rp->n_omitted, 0);
		assert_int_equal(rp->r.n, 3);
		assert_int_equal(rp->r.n_opened, 3);
		assert_true(rp->r.restorable);
		assert_string_equal(rp->r.restored, x->names[2]);
		it = drill_item(&rp->r, x->names[2]);
		assert_non_null(it);
		assert_int_equal(it->verdict, MPC_DRILL_CURRENT);
		it = drill_item(&rp->r, x->names[0]);
		assert_non_null(it);
		assert_int_equal(it->verdict, MPC_DRILL_OLDER);
	}
	assert_false(d.replicas[2].reached); /* down */
	assert_non_null(strstr(d.replicas[2].error, "listing"));
	assert_false(d.replicas[3].reached); /* wrong password */
	assert_null(strstr(d.replicas[3].error, "WRONG"));
	/* metrics: a series per replica; promtool accepts the text */
	text = malloc(MPC_DRILL_METRICS_MAX);
	assert_non_null(text);
	assert_true(mpc_drill_metrics_text(&d, text, MPC_DRILL_METRICS_MAX, &e) > 0);
	snprintf(p, sizeof(p), "mpc_backup_last_drill_replica_restorable{replica=\"%s\"} 1\n", loc);
	assert_non_null(strstr(text, p));
	assert_non_null(strstr(text, "mpc_backup_last_drill_replica_reached{replica=\"down:\"} 0\n"));
	assert_non_null(strstr(text, "mpc_backup_last_drill_replica_files{replica=\"wd:\","
				     "verdict=\"current\"} 1\n"));
	snprintf(metrics, sizeof(metrics), "%s/drill.prom", x->tmp);
	{
		FILE *fp = fopen(metrics, "w");

		assert_non_null(fp);
		/* HELP lines as the monitor's /metrics adds them */
		for (char *l = text; *l != '\0';) {
			char *nl = strchr(l, '\n');

			char help[200];

			snprintf(help, sizeof(help), "# HELP %.*s ", (int)strcspn(l + 7, " "),
				 l + 7);
			if (strncmp(l, "# TYPE ", 7) == 0 && strstr(text, help) == NULL)
				fprintf(fp, "%sA drill result.\n", help);
			fprintf(fp, "%.*s\n", (int)(nl - l), l);
			l = nl + 1;
		}
		fclose(fp);
	}
	free(text);
	if (access("/usr/bin/promtool", X_OK) == 0) {
		snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s' 2>&1", metrics);
		st = th_run(cmd, out, sizeof(out));
		if (st != 0)
			fail_msg("promtool: %s", out);
	}
	mpc_drill_report_free(&d);
	/* the staging directories are gone; the store holds its three files only */
	assert_int_equal(count_files(x->dir, ".tmp-"), 0);
	assert_int_equal(store_count(x->dir), 3);

	/* tamper the newest copy on loc, rename the oldest: found per file, loc not restorable */
	snprintf(p, sizeof(p), "%s/%s", rdir, x->names[2]);
	flip_byte(p);
	snprintf(p, sizeof(p), "%s/%s", rdir, x->names[0]);
	snprintf(q, sizeof(q), "%s/keyset-e00000000000000000003-0123456789abcdef.mpcs", rdir);
	assert_int_equal(rename(p, q), 0);
	memset(&d, 0, sizeof(d));
	assert_int_equal(mpc_drill_run(x->s, &x->t, 1, &f6.ks, &d, &e), MPC_OK);
	assert_int_equal(mpc_replica_drill(s, x->s, &x->t, 1, &f6.ks, 0, &d, &e), MPC_OK);
	assert_true(d.restorable); /* the local store is intact */
	assert_true(d.replicas[0].reached);
	assert_false(d.replicas[0].r.restorable);
	it = drill_item(&d.replicas[0].r, x->names[2]);
	assert_non_null(it);
	assert_int_equal(it->verdict, MPC_DRILL_FAILED);
	it = drill_item(&d.replicas[0].r, "keyset-e00000000000000000003-0123456789abcdef.mpcs");
	assert_non_null(it);
	assert_int_equal(it->verdict, MPC_DRILL_FAILED);
	assert_non_null(strstr(it->msg, "renamed or tampered"));
	assert_int_equal(d.replicas[0].r.n_failed, 2);
	assert_true(d.replicas[1].r.restorable); /* webdav untouched */
	mpc_drill_report_free(&d);
	mpc_replica_set_free(s);
	sf_set_free(&f6);

	/* the CLI: text and --json, per replica and per file, exit 15 for the tampered copy */
	snprintf(tok, sizeof(tok), "%s", x->h.uri);
	st = run_cli(NULL, out, sizeof(out), "drill", "--store", x->dir, "--token", tok,
		     "--replica", loc, "--replica", "wd:", "--rclone-config", x->conf, NULL);
	if (st != 15)
		fail_msg("drill: %d %s", st, out);
	assert_non_null(strstr(out, "NOT restorable from the replica"));
	assert_non_null(strstr(out, "restorable from the replica: keyset-e"));
	st = run_cli(NULL, out, sizeof(out), "drill", "--store", x->dir, "--token", tok,
		     "--replica", "wd:", "--rclone-config", x->conf, "--json", NULL);
	if (st != 0)
		fail_msg("drill wd: %d %s", st, out);
	assert_non_null(strstr(out, "\"replicas\""));
	assert_non_null(strstr(out, "\"remote\": \"wd:\""));
	/* a down replica: 74; --local-only leaves it out */
	st = run_cli(NULL, out, sizeof(out), "drill", "--store", x->dir, "--token", tok,
		     "--replica", "down:", "--rclone-config", x->conf, NULL);
	if (st != 74)
		fail_msg("drill down: %d %s", st, out);
	assert_non_null(strstr(out, "replica down:: NOT DRILLED"));
	st = run_cli(NULL, out, sizeof(out), "drill", "--store", x->dir, "--token", tok,
		     "--replica", "down:", "--rclone-config", x->conf, "--local-only", NULL);
	assert_int_equal(st, 0);
	assert_int_equal(count_files(x->dir, ".tmp-"), 0);
	assert_int_equal(store_count(x->dir), 3);
}

/* `rclone serve sftp` with a password (obscured in rclone's configuration) on loopback:
 * replicate, compare by the digests SFTP lists, fetch --verify on a new host, drill the copies,
 * the server down (nothing lost, caught up when back), wrong credentials (refused fast, never
 * quoted). */
static void test_sftp(void **state)
{
	struct st *x = *state;
	struct mpc_replica_report r;
	struct mpc_replica_set *s;
	struct server sf = { 0 };
	char good[128], wrong[128], extra[1024], out[16384], fresh[300], tok[600];
	double t0;
	int st;

	sf.port = free_port();
	snprintf(sf.dir, sizeof(sf.dir), "%s/sftp", x->tmp);
	assert_int_equal(mkdir(sf.dir, 0700), 0);
	obscure("P", good, sizeof(good));
	obscure("WRONG-secret-9", wrong, sizeof(wrong));
	snprintf(extra, sizeof(extra),
		 "[sf]\ntype = sftp\nhost = 127.0.0.1\nport = %u\nuser = U\npass = %s\n\n"
		 "[sfbad]\ntype = sftp\nhost = 127.0.0.1\nport = %u\nuser = U\npass = %s\n\n",
		 sf.port, good, sf.port, wrong);
	write_conf(x, 1, extra);
	server_serve(&sf, x, "sftp");
	put_epoch(x, 4);
	put_epoch(x, 5);

	/* replicate: both files copied; compared by the digests the SFTP server lists */
	s = new_set(x, "hosta", 20, "sf:b", NULL);
	sync_ok(s, x->s, &r);
	expect_current(&r);
	assert_int_equal(r.uploaded, 2);
	{
		char d[400];

		snprintf(d, sizeof(d), "%s/b", sf.dir);
		assert_true(same_file(x, d, x->names[0]));
		assert_true(same_file(x, d, x->names[1]));
		assert_int_equal(count_files(d, ".tmp-"), 0);
	}
	assert_int_equal(mpc_replica_verify(s, x->s, mpc_replica_now() + 60, &r, NULL), MPC_OK);
	expect_current(&r);
	assert_int_equal(r.items[0].files_unhashed, 0);
	mpc_replica_set_free(s);

	/* fetch --verify on a new host, then drill the copies in place */
	snprintf(fresh, sizeof(fresh), "%s/newhost", x->tmp);
	snprintf(tok, sizeof(tok), "%s", x->h.uri);
	st = run_cli(NULL, out, sizeof(out), "store", "fetch", "--store", fresh, "--from", "sf:b",
		     "--rclone-config", x->conf, "--verify", "--token", tok, NULL);
	if (st != 0)
		fail_msg("fetch: %d %s", st, out);
	assert_int_equal(store_count(fresh), 2);
	assert_int_equal(count_files(fresh, ".tmp-"), 0);
	st = run_cli(NULL, out, sizeof(out), "drill", "--store", x->dir, "--token", tok,
		     "--replica", "sf:b", "--rclone-config", x->conf, NULL);
	if (st != 0)
		fail_msg("drill: %d %s", st, out);
	assert_non_null(strstr(out, "replica sf:b: 2 copies listed, 2 drilled"));

	/* wrong credentials: refused at once, the password never in the message */
	s = new_set(x, "hosta", 20, "sfbad:b", NULL);
	t0 = mpc_replica_now();
	sync_ok(s, x->s, &r);
	assert_true(mpc_replica_now() - t0 < 15);
	assert_false(r.items[0].reached);
	assert_non_null(strstr(r.items[0].last_error, "unable to authenticate"));
	assert_null(strstr(r.items[0].last_error, "WRONG-secret-9"));
	assert_null(strstr(r.items[0].last_error, wrong));
	mpc_replica_set_free(s);
	st = run_cli(NULL, out, sizeof(out), "store", "fetch", "--store", fresh, "--from",
		     "sfbad:b", "--rclone-config", x->conf, NULL);
	assert_int_equal(st, 15); /* refused credentials: MPC_ERR_AUTH */
	assert_null(strstr(out, wrong));

	/* the server goes down: the new file stays local and durable, the replica is behind, and
	 * it is caught up when the server is back */
	server_stop(&sf);
	put_epoch(x, 6);
	s = new_set(x, "hosta", 20, "sf:b", NULL);
	sync_ok(s, x->s, &r);
	assert_false(r.items[0].reached);
	assert_int_equal(r.failed, 1);
	assert_int_equal(store_count(x->dir), 3);
	st = run_cli(NULL, out, sizeof(out), "store", "fetch", "--store", fresh, "--from", "sf:b",
		     "--rclone-config", x->conf, NULL);
	assert_int_equal(st, 74);
	assert_int_equal(store_count(fresh), 2);
	server_serve(&sf, x, "sftp");
	sync_ok(s, x->s, &r);
	expect_current(&r);
	assert_int_equal(r.uploaded, 1);
	mpc_replica_set_free(s);
	server_stop(&sf);
}

/* fetch bounds what it downloads: a replica listing more store files than
 * MPC_REPLICA_FETCH_FILES_MAX is refused before anything is downloaded. */
static void test_fetch_bounds(void **state)
{
	struct st *x = *state;
	char dir[400], p[600], out[4096], fresh[300];
	int st;

	write_conf(x, 1, NULL);
	/* one copy listed over the store's file bound: refused by its listed size, not fetched */
	snprintf(dir, sizeof(dir), "%s/big", x->local);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(p, sizeof(p), "%s/keyset-e%020u-%016x.mpcs", dir, 1u, 1u);
	{
		int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		assert_true(fd >= 0);
		assert_int_equal(ftruncate(fd, (off_t)MPC_STORE_FILE_MAX + 1), 0);
		close(fd);
	}
	snprintf(fresh, sizeof(fresh), "%s/newhost-big", x->tmp);
	snprintf(p, sizeof(p), "loc:%s", dir);
	st = run_cli(NULL, out, sizeof(out), "store", "fetch", "--store", fresh, "--from", p,
		     "--rclone-config", x->conf, NULL);
	if (st != 65)
		fail_msg("fetch big: %d %s", st, out);
	assert_non_null(strstr(out, "over "));
	assert_int_equal(store_count(fresh), 0);
	assert_int_equal(count_files(fresh, ".tmp-"), 0);

	snprintf(dir, sizeof(dir), "%s/many", x->local);
	assert_int_equal(mkdir(dir, 0700), 0);
	for (unsigned i = 0; i <= MPC_REPLICA_FETCH_FILES_MAX; i++) {
		snprintf(p, sizeof(p), "%s/keyset-e%020u-%016x.mpcs", dir, i + 1, i);
		write_text(p, "x", 0600);
	}
	snprintf(fresh, sizeof(fresh), "%s/newhost", x->tmp);
	snprintf(p, sizeof(p), "loc:%s", dir);
	st = run_cli(NULL, out, sizeof(out), "store", "fetch", "--store", fresh, "--from", p,
		     "--rclone-config", x->conf, NULL);
	if (st != 65)
		fail_msg("fetch: %d %s", st, out);
	assert_non_null(strstr(out, "over the bound of 4096 files"));
	assert_int_equal(store_count(fresh), 0);
	assert_int_equal(count_files(fresh, ".tmp-"), 0);

	/* the byte bound counts listed sizes, so a file that is not its listed size is refused:
	 * a replica listing 1 byte cannot fill our disk with more */
	{
		char wrap[400], text[700];

		snprintf(dir, sizeof(dir), "%s/liar", x->local);
		assert_int_equal(mkdir(dir, 0700), 0);
		snprintf(p, sizeof(p), "%s/keyset-e%020u-%016x.mpcs", dir, 7u, 7u);
		write_text(p, "0123456789012345678901234567890123456789", 0600);
		snprintf(wrap, sizeof(wrap), "%s/rclone-liar", x->tmp);
		snprintf(text, sizeof(text),
			 "#!/bin/sh\nfor a in \"$@\"; do [ \"$a\" = lsjson ] && { " RCLONE
			 " \"$@\" | sed 's/\"Size\":[0-9]*/\"Size\":1/g'; exit 0; }; done\n"
			 "exec " RCLONE " \"$@\"\n");
		write_text(wrap, text, 0700);
		snprintf(fresh, sizeof(fresh), "%s/newhost-liar", x->tmp);
		snprintf(p, sizeof(p), "loc:%s", dir);
		st = run_cli(NULL, out, sizeof(out), "store", "fetch", "--store", fresh, "--from",
			     p, "--rclone-config", x->conf, "--rclone", wrap, NULL);
		printf("fetch from a replica that lies about sizes: %d\n%s\n", st, out);
		assert_int_not_equal(st, 0);
		assert_non_null(strstr(out, "listed 1 bytes and sent 40"));
		assert_int_equal(store_count(fresh), 0);
		assert_int_equal(count_files(fresh, ".tmp-"), 0);
	}
}

/* Hosts whose names share a first label ("a.x.example", "a.y.example") or a prefix ("a",
 * "a-b") have distinct temporaries: a pass deletes its own stale temporary only. A move skipped
 * because the name appeared after the listing (another host) is counted as already present, not
 * as an upload, and its temporary is removed. */
static void test_host_names_and_skipped_move(void **state)
{
	struct st *x = *state;
	struct mpc_replica_report r;
	struct mpc_replica_set *s;
	char loc[400], rdir[400], p[700], wrap[400], text[600];
	struct mpc_replica_opts o = { .config = x->conf, .call_timeout = 30 };
	struct mpc_err e = { 0 };

	write_conf(x, 1, NULL);
	snprintf(loc, sizeof(loc), "loc:%s/r1", x->local);
	snprintf(rdir, sizeof(rdir), "%s/r1", x->local);
	assert_int_equal(mkdir(rdir, 0700), 0);
	put_epoch(x, 4);
	/* stale temporaries of four hosts */
	snprintf(p, sizeof(p), "%s/.tmp-a.x.example-%s", rdir, x->names[0]);
	write_text(p, "partial", 0600);
	snprintf(p, sizeof(p), "%s/.tmp-a.y.example-%s", rdir, x->names[0]);
	write_text(p, "partial", 0600);
	snprintf(p, sizeof(p), "%s/.tmp-a-b-%s", rdir, x->names[0]);
	write_text(p, "partial", 0600);
	snprintf(p, sizeof(p), "%s/.tmp-a-%s", rdir, x->names[0]);
	write_text(p, "partial", 0600);
	s = new_set(x, "a.x.example", 30, loc, NULL);
	sync_ok(s, x->s, &r);
	expect_current(&r);
	mpc_replica_set_free(s);
	assert_int_equal(count_files(rdir, ".tmp-a.x.example-"), 0);
	assert_int_equal(count_files(rdir, ".tmp-a.y.example-"), 1);
	assert_int_equal(count_files(rdir, ".tmp-a-b-"), 1);
	s = new_set(x, "a", 30, loc, NULL);
	sync_ok(s, x->s, &r);
	mpc_replica_set_free(s);
	assert_int_equal(count_files(rdir, ".tmp-a-b-"), 1); /* not host a's */
	snprintf(p, sizeof(p), "%s/.tmp-a-%s", rdir, x->names[0]);
	assert_int_equal(access(p, F_OK), -1);

	/* a move skipped: an rclone whose listing misses the file already there (as if another
	 * host wrote it after this host listed) */
	snprintf(wrap, sizeof(wrap), "%s/rclone-blind", x->tmp);
	snprintf(text, sizeof(text),
		 "#!/bin/sh\nfor a in \"$@\"; do [ \"$a\" = lsjson ] && { echo '[]'; exit 0; }; done\n"
		 "exec " RCLONE " \"$@\"\n");
	write_text(wrap, text, 0700);
	o.rclone = wrap;
	o.host_id = "hosta";
	assert_int_equal(mpc_replica_set_new(&o, &s, &e), MPC_OK);
	assert_int_equal(mpc_replica_set_add(s, loc, &e), MPC_OK);
	sync_ok(s, x->s, &r);
	assert_int_equal(r.uploaded, 0);
	assert_int_equal(r.already_present, 1);
	assert_int_equal(r.items[0].uploads_total, 0);
	assert_int_equal(count_files(rdir, ".tmp-hosta-"), 0);
	assert_true(same_file(x, rdir, x->names[0]));
	mpc_replica_set_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sanitize_and_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_and_verify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_down_and_wrong_credentials, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replica_disk_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upload_killed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tamper_and_fetch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_hosts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drill_replicas, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sftp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_names_and_skipped_move, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
