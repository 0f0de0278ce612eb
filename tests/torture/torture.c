/* torture.c: the allocation-failure run (issue 10, item 8): a contract read (parsing the
 * deployed state, and a quorum poll over a fake-rpc), a backup and a restore (push) against a
 * fake-node with a real SoftHSM2 token, each repeated with the N-th allocation failing for N =
 * 1, 2, ... until the operation no longer reaches N allocations. Every run must end with an
 * error and a message (or succeed despite the failure), never crash, leave the store as it was
 * after a failed backup, and leak nothing (AddressSanitizer builds check after every run).
 * See tests/torture/README.md for what is covered and the environment variables.
 * Prints one line per operation and a final "N passed, N failed"; exit 0 when none failed. */
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/err.h>

#include "pkcs11/ed25519.h"
#include "pkcs11/keys.h"
#include "pkcs11/module.h"
#include "pkcs11/provider.h"
#include "src/contract/quorum.h"
#include "src/contract/view.h"
#include "src/monitor/ops.h"
#include "src/util/encoding.h"
#include "tests/fakes/rpc/fake_rpc_spawn.h"
#include "tests/node/node_harness.h"
#include "tests/support/softhsm.h"
#include "tests/torture/alloc_fail.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define HAVE_LSAN 1
/* Sanitizer builds run about 10x slower, and scripts/test runs the whole suite at once. */
#define DENSE_DEFAULT 100
#define SAMPLES_DEFAULT 50
#else
#define HAVE_LSAN 0
#define DENSE_DEFAULT 300
#define SAMPLES_DEFAULT 150
#endif

/* The operator of the mainnet fixture whose migration_info registers a backup key. */
#define OPERATOR "n1-multichain.near"
#define MAX_MSGS 24
#define SNAP_MAX 65536

struct world {
	struct th_softhsm hsm;
	struct mpc_p11_ctx *ctx;
	struct mpc_token *tok;
	struct mpc_token *seal[1];
	struct mpc_provider prov;
	struct mpc_transport_key tk;
	EVP_PKEY *key;
	uint8_t pub[32];
	char dir[64];
	struct nh_node node;
	char addr[64];
	struct mpc_keyset ks;
	struct mpc_store *backup_store, *push_store;
	char backup_dir[128], push_dir[128];
	char baseline[SNAP_MAX]; /* the backup store's listing before any run */
	struct mpc_fake_rpc rpc[2]; /* two servers (a quorum counts servers) on one timeline */
	char rpc_dir[128];
	char *state, *mi;
	size_t state_len, mi_len;
	/* What a successful run must have produced. */
	struct mpc_contract_view ref_view, got_view;
	int have_got;
	uint8_t *ref_keyshares; /* the push store's keyshares, as stored */
	size_t ref_len;
	char received[512];     /* fake-node's --received file */
	char wrong[512];        /* set by a reset: the successful run's result is wrong */
	int leak_seen;
};

struct op {
	const char *name;
	int (*run)(struct world *w, struct mpc_err *e);
	/* After a run that failed: what must still hold (NULL: nothing); 0 if fine, else a
	 * message in why. */
	int (*check_failed)(struct world *w, char *why, size_t cap);
	/* After a run that succeeded (not counted): check its result (a wrong one goes to
	 * w->wrong) and reset for the next run (NULL: nothing). 0 on success. */
	int (*reset)(struct world *w);
	/* After the first run (no failure) and its reset: record what check_failed compares
	 * with (NULL: nothing). 0 on success. */
	int (*prepare)(struct world *w);
};

struct msg_count {
	int code;
	char msg[MPC_ERR_MSG_MAX];
	unsigned n;
};

struct tally {
	unsigned runs, failed_clean, nomem, recovered, skipped, bad, err_queue;
	struct msg_count msgs[MAX_MSGS];
	size_t n_msgs;
	unsigned msgs_dropped;
};

static char *read_all(const char *path, size_t *len);

/* The watchdog (the entry point's state; SIGALRM has no context argument): a run that does not
 * end within RUN_LIMIT_S is a hang; say which, stop the fakes, exit. */
#define RUN_LIMIT_S 120
static char hang_msg[160];
static volatile pid_t child_pids[3];

static void on_alarm(int sig)
{
	(void)sig;
	if (write(STDOUT_FILENO, hang_msg, strlen(hang_msg)) < 0) {
		/* nothing to do: exiting anyway */
	}
	for (int i = 0; i < 3; i++)
		if (child_pids[i] > 0)
			kill(child_pids[i], SIGKILL);
	_exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long env_ul(const char *name, unsigned long dflt)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? strtoul(v, NULL, 10) : dflt;
}

/* ---- the operations ---- */

static int op_view_parse(struct world *w, struct mpc_err *e)
{
	struct mpc_contract_view v;
	int rc;

	rc = mpc_contract_view_parse(w->state, w->state_len, w->mi, w->mi_len, OPERATOR, &v, e);
	if (rc == MPC_OK) {
		w->got_view = v;
		w->have_got = 1;
	}
	return rc;
}

static int op_quorum_poll(struct world *w, struct mpc_err *e)
{
	const char *urls[2] = { w->rpc[0].url, w->rpc[1].url };
	struct mpc_rpc_options opt;
	struct mpc_quorum *q = NULL;
	struct mpc_contract_view v;
	struct mpc_endpoint_outcome oc[2];
	int rc;

	memset(&opt, 0, sizeof(opt));
	opt.connect_timeout_ms = 5000;
	opt.timeout_ms = 10000;
	rc = mpc_quorum_new(urls, 2, 2, &opt, &q, e);
	if (rc != MPC_OK)
		return rc;
	rc = mpc_quorum_poll(q, OPERATOR, &v, oc, e);
	if (rc == MPC_OK) {
		w->got_view = v;
		w->have_got = 1;
	}
	mpc_quorum_free(q);
	return rc;
}

static void ops_for(struct world *w, struct mpc_ops *o, const struct mpc_store *st)
{
	memset(o, 0, sizeof(*o));
	o->tls_key = w->key;
	memcpy(o->tls_pub, w->pub, 32);
	o->seal_tokens = w->seal;
	o->n_seal = 1;
	o->tk = &w->tk;
	o->store = st;
	o->contract = "v1.signer";
	o->operator_ = OPERATOR;
	o->connect_timeout_ms = 5000;
	o->timeout_ms = 10000;
}

static int op_backup(struct world *w, struct mpc_err *e)
{
	struct mpc_ops o;
	struct mpc_backup_outcome out;
	int rc;

	ops_for(w, &o, w->backup_store);
	rc = mpc_op_backup(&o, w->addr, w->node.key, &w->ks, &out, e);
	if (rc == MPC_OK && out.already_covered)
		return mpc_fail(e, MPC_ERR_STATE, "torture: the backup store was not reset");
	return rc;
}

static int op_push(struct world *w, struct mpc_err *e)
{
	struct mpc_ops o;
	struct mpc_push_outcome out;

	ops_for(w, &o, w->push_store);
	return mpc_op_push(&o, w->addr, w->node.key, &w->ks, 0, 0, &out, e);
}

/* ---- the store directory, before and after ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every entry under dir (recursively), "relpath mode size\n", sorted, into out. */
static int snapshot(const char *dir, const char *rel, char *out, size_t cap)
{
	char path[512], *names[256], line[600];
	size_t n = 0;
	struct dirent *d;
	DIR *dh;
	int rc = 0;

	snprintf(path, sizeof(path), "%s%s%s", dir, *rel ? "/" : "", rel);
	dh = opendir(path);
	if (dh == NULL)
		return -1;
	while ((d = readdir(dh)) != NULL && n < 256) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		names[n++] = strdup(d->d_name);
	}
	closedir(dh);
	qsort(names, n, sizeof(names[0]), cmp_str);
	for (size_t i = 0; i < n; i++) {
		char sub[512], full[1024];
		struct stat sb;

		snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", names[i]);
		snprintf(full, sizeof(full), "%s/%s", dir, sub);
		if (lstat(full, &sb) != 0) {
			rc = -1;
			continue;
		}
		snprintf(line, sizeof(line), "%s %o %lld\n", sub, (unsigned)sb.st_mode,
			 (long long)sb.st_size);
		if (strlen(out) + strlen(line) + 1 > cap)
			rc = -1;
		else
			strcat(out, line);
		if (S_ISDIR(sb.st_mode) && snapshot(dir, sub, out, cap) != 0)
			rc = -1;
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	return rc;
}

static int check_backup_failed(struct world *w, char *why, size_t cap)
{
	static char now[SNAP_MAX];

	now[0] = '\0';
	if (snapshot(w->backup_dir, "", now, sizeof(now)) != 0) {
		snprintf(why, cap, "cannot list the store directory");
		return -1;
	}
	if (strcmp(now, w->baseline) != 0) {
		snprintf(why, cap, "the store directory changed after a failed backup:\n%s", now);
		return -1;
	}
	return 0;
}

/* A contract read that succeeded: the view must be the one read with no failure. */
static int reset_view(struct world *w)
{
	char a[512], b[512];

	if (!w->have_got) {
		snprintf(w->wrong, sizeof(w->wrong), "no view returned");
		return 0;
	}
	if (!mpc_contract_view_equal(&w->got_view, &w->ref_view)) {
		mpc_contract_view_summary(&w->got_view, a, sizeof(a));
		mpc_contract_view_summary(&w->ref_view, b, sizeof(b));
		snprintf(w->wrong, sizeof(w->wrong), "view [%.200s], expected [%.200s]", a, b);
	}
	mpc_contract_view_free(&w->got_view);
	w->have_got = 0;
	return 0;
}

static int same_keyshares(struct world *w, const uint8_t *p, size_t n, const char *what)
{
	if (n != w->ref_len || memcmp(p, w->ref_keyshares, n) != 0) {
		snprintf(w->wrong, sizeof(w->wrong), "%s: %zu bytes differ from the %zu stored",
			 what, n, w->ref_len);
		return -1;
	}
	return 0;
}

/* A push that succeeded: the node got exactly the stored keyshares. */
static int reset_push(struct world *w)
{
	size_t n = 0;
	char *got = read_all(w->received, &n);

	if (got == NULL) {
		snprintf(w->wrong, sizeof(w->wrong), "the node received nothing");
		return 0;
	}
	same_keyshares(w, (const uint8_t *)got, n, "the node received");
	free(got);
	return unlink(w->received);
}

/* The store as the first backup and its reset left it (its .lock file made). */
static int prepare_backup(struct world *w)
{
	w->baseline[0] = '\0';
	return snapshot(w->backup_dir, "", w->baseline, sizeof(w->baseline));
}

/* A backup that succeeded (despite the failure): remove its file so the next run backs up
 * again. */
static int reset_backup(struct world *w)
{
	char path[512], *names[64];
	size_t n = 0;
	struct dirent *d;
	DIR *dh;
	struct mpc_store_restore r;
	struct mpc_err e;
	int rc = 0;

	/* The file holds what the node served: the keyshares the push store holds. */
	mpc_err_clear(&e);
	if (mpc_store_open_keyset(w->backup_store, w->seal, 1, 1, 0, &r, &e) != MPC_OK)
		snprintf(w->wrong, sizeof(w->wrong), "the new backup does not open: %.400s", e.msg);
	else
		same_keyshares(w, r.keyshares, r.keyshares_len, "the new backup");
	mpc_store_restore_free(&r);
	dh = opendir(w->backup_dir);
	if (dh == NULL)
		return -1;
	while ((d = readdir(dh)) != NULL && n < 64)
		if (strncmp(d->d_name, "keyset-", 7) == 0)
			names[n++] = strdup(d->d_name);
	closedir(dh);
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", w->backup_dir, names[i]);
		if (unlink(path) != 0)
			rc = -1;
		free(names[i]);
	}
	return n == 1 ? rc : -1;
}

/* Discard fake-node's pending event lines ("ACCEPTED", "SET n", ...): unread, they fill the
 * pipe after some thousands of runs and the node blocks writing them, answering nobody. */
static void drain_node(struct world *w)
{
	char scratch[4096];
	struct pollfd p = { .fd = w->node.out_fd, .events = POLLIN };

	while (w->node.out_fd > 0 && poll(&p, 1, 0) == 1 && (p.revents & POLLIN) &&
	       read(w->node.out_fd, scratch, sizeof(scratch)) > 0)
		;
}

/* ---- the loop ---- */

static void note_msg(struct tally *t, const struct mpc_err *e)
{
	for (size_t i = 0; i < t->n_msgs; i++)
		if (t->msgs[i].code == e->code && strcmp(t->msgs[i].msg, e->msg) == 0) {
			t->msgs[i].n++;
			return;
		}
	if (t->n_msgs == MAX_MSGS) {
		t->msgs_dropped++;
		return;
	}
	t->msgs[t->n_msgs].code = e->code;
	snprintf(t->msgs[t->n_msgs].msg, sizeof(t->msgs[t->n_msgs].msg), "%s", e->msg);
	t->msgs[t->n_msgs].n = 1;
	t->n_msgs++;
}

/* One run failing the n-th allocation (0: none). Returns 0 when it ended as it must; *done = 1
 * when it made fewer than n allocations (nothing was failed: the end of the sweep). */
static int one_run(struct world *w, const struct op *op, unsigned long n, struct tally *t,
		   int *done, unsigned long *count)
{
	struct mpc_err e;
	char why[SNAP_MAX + 128];
	int rc, injected = 0, skipped = 0, bad = 0, verbose = getenv("TORTURE_VERBOSE") != NULL;

	*done = 0;
	why[0] = '\0';
	mpc_err_clear(&e);
	ERR_clear_error();
	snprintf(hang_msg, sizeof(hang_msg), "FAIL %s N=%lu: hangs (no end within %d s)\n",
		 op->name, n, RUN_LIMIT_S);
	alarm(RUN_LIMIT_S);
	af_arm(n);
	rc = op->run(w, &e);
	*count = af_disarm(&injected, &skipped);
	alarm(0);
	drain_node(w);
	t->runs++;
	w->wrong[0] = '\0';
	if (rc == MPC_OK && op->reset != NULL && op->reset(w) != 0) {
		snprintf(why, sizeof(why), "cannot reset after a successful run");
		bad = 1;
	}
	if (rc == MPC_OK && w->wrong[0] != '\0') {
		snprintf(why, sizeof(why), "succeeded with a wrong result: %s", w->wrong);
		bad = 1;
	}
	if (ERR_peek_error() != 0) {
		t->err_queue++;
		ERR_clear_error();
	}
	if (!injected && !skipped)
		*done = 1;
	if (bad) {
		/* counted below */
	} else if (!injected && !skipped) {
		if (rc != MPC_OK) {
			snprintf(why, sizeof(why), "failed with no injected failure: %s", e.msg);
			bad = 1;
		}
	} else if (skipped) {
		t->skipped++;
		if (rc != MPC_OK) {
			snprintf(why, sizeof(why), "failed with no injected failure (token-internal "
				 "allocation let through): %s", e.msg);
			bad = 1;
		}
	} else if (rc == MPC_OK) {
		t->recovered++;
	} else if (e.msg[0] == '\0' || e.code != rc) {
		snprintf(why, sizeof(why), "returned %d with %s message (code %d)", rc,
			 e.msg[0] == '\0' ? "no" : "a mismatched", e.code);
		bad = 1;
	} else {
		t->failed_clean++;
		if (rc == MPC_ERR_NOMEM)
			t->nomem++;
		note_msg(t, &e);
		if (op->check_failed != NULL && op->check_failed(w, why, sizeof(why)) != 0)
			bad = 1;
	}
#if HAVE_LSAN
	/* After each run, so that a leak names its N; once one is found, every later check
	 * would report it again: the check at exit covers the rest. */
	if (!bad && !w->leak_seen && getenv("TORTURE_NO_LEAK_EACH") == NULL &&
	    __lsan_do_recoverable_leak_check()) {
		snprintf(why, sizeof(why), "leak (see the LeakSanitizer report above); later runs "
			 "are checked only at exit");
		w->leak_seen = 1;
		bad = 1;
	}
#endif
	if (bad) {
		t->bad++;
		printf("FAIL %s N=%lu (%s allocation): %s\n", op->name, n,
		       af_source_name(af_failed_source()), why);
	} else if (verbose) {
		printf("ok %s N=%lu (%s) rc=%d %s\n", op->name, n,
		       injected || skipped ? af_source_name(af_failed_source()) : "-", rc, e.msg);
	}
	fflush(stdout);
	return bad ? -1 : 0;
}

static int sweep(struct world *w, const struct op *op, unsigned *passed, unsigned *failed)
{
	struct tally t;
	unsigned long total, count, n, step, dense = env_ul("TORTURE_DENSE", DENSE_DEFAULT),
		      samples = env_ul("TORTURE_SAMPLES", SAMPLES_DEFAULT);
	unsigned long per[AF_NSOURCES];
	const char *only = getenv("TORTURE_ONLY");
	double t0 = now_s();
	int done = 0;

	if (only != NULL && (strncmp(only, op->name, strcspn(only, ":")) != 0 ||
			     strlen(op->name) != strcspn(only, ":")))
		return 0;
	memset(&t, 0, sizeof(t));
	/* A first run with no failure: warms the caches that later runs find filled (OpenSSL's
	 * fetched algorithms, libcurl's and SoftHSM's one-time set-up) and measures the size. */
	if (one_run(w, op, 0, &t, &done, &total) != 0) {
		(*failed)++;
		return -1;
	}
	for (int s = 0; s < AF_NSOURCES; s++)
		per[s] = af_count((enum af_source)s);
	if (op->prepare != NULL && op->prepare(w) != 0) {
		printf("FAIL %s: cannot prepare\n", op->name);
		(*failed)++;
		return -1;
	}
	memset(&t, 0, sizeof(t));
	if (only != NULL && strchr(only, ':') != NULL) {
		n = strtoul(strchr(only, ':') + 1, NULL, 10);
		if (one_run(w, op, n, &t, &done, &count) == 0)
			(*passed)++;
		else
			(*failed)++;
		return 0;
	}
	step = getenv("TORTURE_FULL") != NULL || total <= dense || samples == 0
		       ? 1 : (total - dense) / samples + 1;
	for (n = 1, done = 0; !done; n += n < dense ? 1 : step) {
		if (one_run(w, op, n, &t, &done, &count) == 0)
			(*passed)++;
		else
			(*failed)++;
	}
	/* The sweep ended at the first run that reached no N (one_run checked it succeeded). */
	printf("%s: %lu allocation points (ours %lu, mmap %lu, jansson %lu, openssl %lu, curl %lu); "
	       "%u runs (every N to %lu, then every %lu): %u failed cleanly (%u MPC_ERR_NOMEM), "
	       "%u succeeded despite the failure, %u token-internal (not failed), %u bad; "
	       "%u left OpenSSL's error queue non-empty; %.1f s\n",
	       op->name, total, per[AF_OURS], per[AF_MMAP], per[AF_JANSSON], per[AF_OPENSSL],
	       per[AF_CURL], t.runs, dense < total ? dense : total, step, t.failed_clean, t.nomem,
	       t.recovered, t.skipped, t.bad, t.err_queue, now_s() - t0);
	for (size_t i = 0; i < t.n_msgs; i++)
		printf("  %4u x [%d] %s\n", t.msgs[i].n, t.msgs[i].code, t.msgs[i].msg);
	if (t.msgs_dropped > 0)
		printf("  (%u more runs with other messages)\n", t.msgs_dropped);
	return 0;
}

/* ---- set-up ---- */

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) != NULL) {
		if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
			*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

static int setup(struct world *w, struct mpc_err *e)
{
	const char *src = getenv("MPC_SOURCE_DIR"), *fx = getenv("MPC_FIXTURES_DIR");
	char pub_s[MPC_ED25519_KEY_STR_MAX], ksfile[512], path[512], rpclog[256], rpclog2[256],
	     rfile[512];
	const char *args[] = { "--client-key", pub_s, "--keyshares", ksfile, "--received", rfile,
			       NULL };
	struct mpc_ceremony_report rep;
	struct mpc_ops o;
	struct mpc_backup_outcome out;
	char *json = NULL;
	int rc;

	if (src == NULL || fx == NULL) {
		fprintf(stderr, "torture: MPC_SOURCE_DIR and MPC_FIXTURES_DIR must be set (ctest "
			"sets them)\n");
		return -1;
	}
	w->node.out_fd = -1;
	if (th_softhsm_setup(&w->hsm, "torture", NULL) != 0 || nh_tmpdir(w->dir, sizeof(w->dir)) != 0)
		return mpc_fail(e, MPC_ERR_IO, "SoftHSM2 token or temp dir");
	if (mpc_provider_load(NULL, &w->prov, e) != MPC_OK || mpc_p11_ctx_new(&w->ctx, e) != MPC_OK ||
	    mpc_token_open(w->ctx, w->hsm.uri, NULL, &w->tok, e) != MPC_OK ||
	    mpc_key_ceremony(w->tok, MPC_CEREMONY_SEAL | MPC_CEREMONY_TLS, &rep, e) != MPC_OK ||
	    mpc_provider_token_pkey(NULL, w->tok, &w->key, e) != MPC_OK ||
	    mpc_ed25519_public_key(w->tok, w->pub, e) != MPC_OK ||
	    mpc_transport_key_from_hex(&w->tk, NH_TRANSPORT_KEY_HEX, strlen(NH_TRANSPORT_KEY_HEX),
				       e) != MPC_OK)
		return -1;
	w->seal[0] = w->tok;
	if (af_exclude_module("libsofthsm2.so") != 0)
		return mpc_fail(e, MPC_ERR_MODULE, "SoftHSM2 is not loaded in this process");
	mpc_ed25519_key_format(w->pub, pub_s, NULL);
	snprintf(rfile, sizeof(rfile), "%s/received.json", w->dir);
	snprintf(w->received, sizeof(w->received), "%s", rfile);
	/* Two synthetic Ed25519 domains (the store checks the public keys against the keyset). */
	rc = nh_synthetic(2, &w->ks, &json);
	if (rc == 0)
		rc = nh_write_file(w->dir, "ks.json", json, ksfile);
	free(json);
	if (rc != 0 || nh_start(&w->node, args) != 0)
		return mpc_fail(e, MPC_ERR_IO, "fake-node");
	snprintf(w->addr, sizeof(w->addr), "127.0.0.1:%u", w->node.port);
	child_pids[0] = w->node.pid;

	/* Two stores: one that backups go to (empty; must stay so when a backup fails), one
	 * holding the keyset that pushes read. */
	snprintf(w->backup_dir, sizeof(w->backup_dir), "%s/store-backup", w->dir);
	snprintf(w->push_dir, sizeof(w->push_dir), "%s/store-push", w->dir);
	if (mpc_store_open(w->backup_dir, 1, &w->backup_store, e) != MPC_OK ||
	    mpc_store_open(w->push_dir, 1, &w->push_store, e) != MPC_OK)
		return -1;
	ops_for(w, &o, w->push_store);
	if (mpc_op_backup(&o, w->addr, w->node.key, &w->ks, &out, e) != MPC_OK)
		return -1;

	/* The deployed contract state, and a fake-rpc serving it. */
	snprintf(path, sizeof(path), "%s/near-mpc/mainnet-contract-state.json", fx);
	w->state = read_all(path, &w->state_len);
	snprintf(path, sizeof(path), "%s/tests/contract/fixtures/migration_info.json", src);
	w->mi = read_all(path, &w->mi_len);
	snprintf(w->rpc_dir, sizeof(w->rpc_dir), "%s/rpc", w->dir);
	snprintf(rpclog, sizeof(rpclog), "%s/rpc.log", w->dir);
	snprintf(rpclog2, sizeof(rpclog2), "%s/rpc2.log", w->dir);
	if (w->state == NULL || w->mi == NULL || mkdir(w->rpc_dir, 0700) != 0 ||
	    nh_write_file(w->rpc_dir, "state.json", w->state, path) != 0 ||
	    nh_write_file(w->rpc_dir, "migration_info.json", w->mi, path) != 0 ||
	    mpc_fake_rpc_start(&w->rpc[0], w->rpc_dir, NULL, rpclog) != 0 ||
	    mpc_fake_rpc_start(&w->rpc[1], w->rpc_dir, NULL, rpclog2) != 0)
		return mpc_fail(e, MPC_ERR_IO, "fixtures or fake-rpc");
	child_pids[1] = w->rpc[0].pid;
	child_pids[2] = w->rpc[1].pid;
	if (mpc_contract_view_parse(w->state, w->state_len, w->mi, w->mi_len, OPERATOR,
				    &w->ref_view, e) != MPC_OK)
		return -1;
	{
		struct mpc_store_restore r;

		if (mpc_store_open_keyset(w->push_store, w->seal, 1, 1, 0, &r, e) != MPC_OK)
			return -1;
		w->ref_keyshares = malloc(r.keyshares_len);
		if (w->ref_keyshares != NULL) {
			memcpy(w->ref_keyshares, r.keyshares, r.keyshares_len);
			w->ref_len = r.keyshares_len;
		}
		mpc_store_restore_free(&r);
		if (w->ref_keyshares == NULL)
			return mpc_fail(e, MPC_ERR_NOMEM, "out of memory");
	}
	return MPC_OK;
}

static void teardown(struct world *w)
{
	for (int i = 0; i < 2; i++)
		if (w->rpc[i].pid > 0)
			mpc_fake_rpc_stop(&w->rpc[i]);
	nh_stop(&w->node);
	mpc_store_close(w->backup_store);
	mpc_store_close(w->push_store);
	mpc_keyset_free(&w->ks);
	free(w->state);
	free(w->mi);
	mpc_contract_view_free(&w->ref_view);
	mpc_contract_view_free(&w->got_view);
	free(w->ref_keyshares);
	EVP_PKEY_free(w->key);
	mpc_transport_key_clear(&w->tk);
	mpc_token_close(w->tok);
	mpc_p11_ctx_free(w->ctx);
	mpc_provider_unload(&w->prov);
	th_softhsm_teardown(&w->hsm);
	if (w->dir[0] != '\0')
		nh_rmdir(w->dir);
}

int main(void)
{
	static const struct op ops[] = {
		{ "view_parse", op_view_parse, NULL, reset_view, NULL },
		{ "quorum_poll", op_quorum_poll, NULL, reset_view, NULL },
		{ "backup", op_backup, check_backup_failed, reset_backup, prepare_backup },
		{ "push", op_push, NULL, reset_push, NULL },
	};
	static struct world w;
	struct mpc_err e;
	unsigned passed = 0, failed = 0;
	double t0 = now_s();

	signal(SIGALRM, on_alarm);
	if (af_install() != 0) {
		fprintf(stderr, "torture: cannot install the allocation hooks\n");
		return 1;
	}
	mpc_err_clear(&e);
	if (setup(&w, &e) != MPC_OK) {
		fprintf(stderr, "torture: set-up: %s\n", e.msg);
		teardown(&w);
		curl_global_cleanup();
		return 1;
	}
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		sweep(&w, &ops[i], &passed, &failed);
	teardown(&w);
	curl_global_cleanup();
	printf("torture: %.1f s\n%u passed, %u failed\n", now_s() - t0, passed, failed);
	return failed == 0 ? 0 : 1;
}
