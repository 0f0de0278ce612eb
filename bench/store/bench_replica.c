/* bench_replica.c: does replication slow the local durable write? (never run by ctest)
 *
 *   bench_replica [ROUNDS]
 * In one run, round by round, the local durable write (mpc_store_put: seal on a SoftHSM2
 * token, temp write, fsync, link, directory fsync) of an 8-domain keyset into three stores:
 *   A  no replica, nothing else running;
 *   B  two replicas configured, one reachable (rclone's local backend in /dev/shm, standing
 *      for a remote host's disk) and one down (a webdav
 *      remote on a loopback port that refuses connections), the monitor's flow: the write,
 *      then one replication pass (mpc_replica_sync) before the next round;
 *   C  the same replicas, worst case: the write while a pass (copying the previous file) runs
 *      in a background thread and competes for CPU and disk;
 *   A2 A again into a store of its own: its difference from A is the noise floor of the run.
 * Prints mean, median and quartiles per mode with the overhead against A (the budget is 5%),
 * the per-round ratio to A (median and quartiles: a round's writes are close in time, so the
 * paired ratio is the figure that load drift disturbs least), the load average before and
 * after (the figures mean little on a loaded host), and the replication time per sealed file
 * (copyto + moveto to the reachable replica) and per pass.
 * After the rounds, the restore drill over B's store (mpc_drill_run: every file opened in the
 * token, the newest restored and validated against its keyset) and over B's replicas
 * (mpc_replica_drill: the newest copies downloaded and drilled; the down one refused), each
 * with its total time.
 * BENCH_REPLICA_SETTLE_MS (default 250) is the quiet time before every write.
 * BENCH_REPLICA_DOWN_ONLY=1 gives B only the down replica (a pass that copies nothing), to tell
 * the cost of copying from the cost of running rclone at all.
 * Needs MPC_SOURCE_DIR (the SoftHSM2 template) and /usr/bin/rclone.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "src/store/drill.h"
#include "src/store/replica.h"
#include "src/store/store.h"
#include "src/util/mem.h"
#include "tests/store/sfix.h"
#include "tests/support/softhsm.h"

struct bg {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int pending, busy, stop;
	struct mpc_replica_set *set;
	struct mpc_store *store;
	double pass_total;
	size_t passes;
};

static void bg_wait_idle(struct bg *b)
{
	pthread_mutex_lock(&b->mu);
	while (b->pending || b->busy)
		pthread_cond_wait(&b->cv, &b->mu);
	pthread_mutex_unlock(&b->mu);
}

static void *bg_main(void *arg)
{
	struct bg *b = arg;

	pthread_mutex_lock(&b->mu);
	for (;;) {
		struct mpc_replica_report r;
		struct mpc_err e = { 0 };
		double t0;

		while (!b->pending && !b->stop)
			pthread_cond_wait(&b->cv, &b->mu);
		if (b->stop && !b->pending)
			break;
		b->pending = 0;
		b->busy = 1;
		pthread_cond_broadcast(&b->cv);
		pthread_mutex_unlock(&b->mu);
		t0 = mpc_replica_now();
		if (mpc_replica_sync(b->set, b->store, t0 + 60, &r, &e) != MPC_OK)
			fprintf(stderr, "sync: %s\n", e.msg);
		pthread_mutex_lock(&b->mu);
		b->pass_total += mpc_replica_now() - t0;
		b->passes++;
		b->busy = 0;
		pthread_cond_broadcast(&b->cv);
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

static int put_one(struct mpc_store *s, struct mpc_token *t, uint64_t epoch, double *secs)
{
	struct mpc_store_put_opts o = { .tokens = &t,
					.n_tokens = 1,
					.mech = MPC_SEAL_AUTO,
					.contract = "v1.signer",
					.operator_ = "bench.near" };
	struct mpc_err e = { 0 };
	struct sf_set f;
	uint8_t *js = NULL;
	size_t len = 0;
	double t0;
	int rc;

	if (sf_synthetic_set(epoch, 8, epoch, &f) != 0 ||
	    sf_shares_json(f.shares, f.n, &js, &len) != 0)
		return -1;
	t0 = mpc_replica_now();
	rc = mpc_store_put(s, &o, &f.ks, js, len, NULL, &e);
	*secs = mpc_replica_now() - t0;
	if (rc != MPC_OK)
		fprintf(stderr, "put: %s\n", e.msg);
	mpc_secure_free(js);
	sf_set_free(&f);
	return rc == MPC_OK ? 0 : -1;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Quartile q (0..4) of a sorted array. */
static double quart(const double *v, int n, int q)
{
	int i = (n - 1) * q / 4;

	return v[i < 0 ? 0 : i];
}

static void print_load(const char *when)
{
	FILE *f = fopen("/proc/loadavg", "r");
	char line[128] = "";

	if (f != NULL) {
		if (fgets(line, sizeof(line), f) == NULL)
			line[0] = '\0';
		fclose(f);
	}
	printf("load average %s: %s", when, line[0] ? line : "unknown\n");
}

static unsigned refusing_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &l) != 0)
		return 1;
	/* bound, never listening: connections are refused; fd kept open for the run */
	return ntohs(a.sin_port);
}

/* The drills after the rounds, timed: the store's (every file) and the replicas' (newest
 * copies), against the keyset of `epoch` (the newest file's: the "contract's"). */
static int drill_figures(struct mpc_store *s, struct mpc_replica_set *set, struct mpc_token *t,
			 uint64_t epoch, int n_files)
{
	struct mpc_drill_report dr;
	struct mpc_err e = { 0 };
	struct sf_set f;
	double t0, local, remote;
	int rc = -1;

	memset(&dr, 0, sizeof(dr));
	if (sf_synthetic_set(epoch, 8, epoch, &f) != 0)
		return -1;
	t0 = mpc_replica_now();
	if (mpc_drill_run(s, &t, 1, &f.ks, &dr, &e) != MPC_OK) {
		fprintf(stderr, "drill: %s\n", e.msg);
		goto out;
	}
	local = mpc_replica_now() - t0;
	printf("restore drill of B's store (mpc_drill_run, %d files opened in the token, the newest "
	       "restored and validated): %.1f ms total, %.2f ms per file; %s, %zu opened, %zu "
	       "failed\n",
	       n_files, 1e3 * local, 1e3 * local / n_files,
	       dr.restorable ? "restorable" : "NOT restorable", dr.n_opened, dr.n_failed);
	t0 = mpc_replica_now();
	if (mpc_replica_drill(set, s, &t, 1, &f.ks, t0 + 120, &dr, &e) != MPC_OK) {
		fprintf(stderr, "replica drill: %s\n", e.msg);
		goto out;
	}
	remote = mpc_replica_now() - t0;
	printf("restore drill of B's replicas (mpc_replica_drill): %.1f ms total\n",
	       1e3 * remote);
	for (size_t i = 0; i < dr.n_replicas; i++) {
		const struct mpc_drill_replica *r = &dr.replicas[i];

		if (r->reached)
			printf("  %s: reached, %zu of %zu copies drilled, %s\n", r->remote, r->r.n,
			       r->n_listed, r->r.restorable ? "restorable" : "NOT restorable");
		else
			printf("  %s: not reached (%s)\n", r->remote, r->error);
	}
	printf("the drill's total time (store + replicas, as `mpc-backup drill` runs both): "
	       "%.1f ms\n",
	       1e3 * (local + remote));
	rc = 0;
out:
	mpc_drill_report_free(&dr);
	sf_set_free(&f);
	return rc;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 40;
	struct th_softhsm h;
	struct mpc_p11_ctx *ctx = NULL;
	struct mpc_token *t = NULL;
	struct mpc_store *sa = NULL, *sb = NULL;
	struct mpc_err e = { 0 };
	struct bg b = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
	char tmp[] = "/tmp/mpc-bench-replica-XXXXXX", da[128], db[128], conf[160], loc[200];
	char cmd[300], text[512], shm[] = "/dev/shm/mpc-bench-replica-XXXXXX";
	double *wa = NULL, *wb = NULL, *wc = NULL, sum_a = 0, sum_b = 0, sum_c = 0;
	double *wd = NULL, *rd = NULL, sum_d = 0; /* A2: a second store without replicas */
	struct mpc_store *sd = NULL;
	char dd[128];
	int nd = 0;
	double pass_b = 0, upload_b = 0, *rb = NULL, *rc_ = NULL;
	uint64_t uploads_b = 0, last_b = 0; /* the epoch of B's newest file */
	struct mpc_replica_set *setb = NULL;
	struct mpc_store *sc = NULL;
	char dc[128], loc2[200];
	struct mpc_replica_opts ro = { 0 };
	pthread_t th;
	int started = 0, rc = 1, na = 0, nb = 0, nc = 0;
	long settle_ms = 250; /* quiet time before each write (BENCH_REPLICA_SETTLE_MS) */
	uint64_t epoch = 1;
	FILE *f;

	if (rounds < 2)
		rounds = 2;
	if (getenv("BENCH_REPLICA_SETTLE_MS") != NULL)
		settle_ms = atol(getenv("BENCH_REPLICA_SETTLE_MS"));
	if (settle_ms < 0 || settle_ms > 60000)
		settle_ms = 250;
	wa = calloc((size_t)rounds, sizeof(double));
	wb = calloc((size_t)rounds, sizeof(double));
	wc = calloc((size_t)rounds, sizeof(double));
	rb = calloc((size_t)rounds, sizeof(double));
	rc_ = calloc((size_t)rounds, sizeof(double));
	wd = calloc((size_t)rounds, sizeof(double));
	rd = calloc((size_t)rounds, sizeof(double));
	if (wa == NULL || wb == NULL || wc == NULL || rb == NULL || rc_ == NULL || wd == NULL ||
	    rd == NULL ||
	    th_softhsm_setup(&h, "bench", NULL) != 0 || mpc_p11_ctx_new(&ctx, &e) != MPC_OK ||
	    sf_token_open(ctx, h.uri, &t) != 0 || mkdtemp(tmp) == NULL) {
		fprintf(stderr, "bench setup failed: %s\n", e.msg);
		goto out;
	}
	snprintf(da, sizeof(da), "%s/none", tmp);
	snprintf(db, sizeof(db), "%s/two", tmp);
	snprintf(conf, sizeof(conf), "%s/rclone.conf", tmp);
	snprintf(dc, sizeof(dc), "%s/overlap", tmp);
	snprintf(dd, sizeof(dd), "%s/none2", tmp);
	/* the reachable replica stands for a remote host: keep it off the store's file system
	 * (in /dev/shm when there is one), so its writes do not join the store's fsyncs */
	if (access("/dev/shm", W_OK) == 0 && mkdtemp(shm) != NULL) {
		snprintf(loc, sizeof(loc), "loc:%s/replica", shm);
		snprintf(loc2, sizeof(loc2), "loc:%s/replica-overlap", shm);
	} else {
		shm[0] = '\0';
		snprintf(loc, sizeof(loc), "loc:%s/replica", tmp);
		snprintf(loc2, sizeof(loc2), "loc:%s/replica-overlap", tmp);
	}
	snprintf(text, sizeof(text),
		 "[loc]\ntype = local\n\n[down]\ntype = webdav\nurl = http://127.0.0.1:%u/\n"
		 "vendor = other\n",
		 refusing_port());
	f = fopen(conf, "w");
	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0 || chmod(conf, 0600) != 0)
		goto out;
	ro.config = conf;
	ro.call_timeout = 20;
	ro.host_id = "bench";
	if (mpc_store_open(da, 1, &sa, &e) != MPC_OK || mpc_store_open(db, 1, &sb, &e) != MPC_OK ||
	    mpc_store_open(dc, 1, &sc, &e) != MPC_OK || mpc_store_open(dd, 1, &sd, &e) != MPC_OK ||
	    mpc_replica_set_new(&ro, &setb, &e) != MPC_OK ||
	    (getenv("BENCH_REPLICA_DOWN_ONLY") == NULL &&
	     mpc_replica_set_add(setb, loc, &e) != MPC_OK) ||
	    mpc_replica_set_add(setb, "down:backups", &e) != MPC_OK ||
	    mpc_replica_set_new(&ro, &b.set, &e) != MPC_OK ||
	    mpc_replica_set_add(b.set, loc2, &e) != MPC_OK ||
	    mpc_replica_set_add(b.set, "down:backups", &e) != MPC_OK) {
		fprintf(stderr, "bench setup failed: %s\n", e.msg);
		goto out;
	}
	b.store = sc;
	print_load("before");
	if (pthread_create(&th, NULL, bg_main, &b) != 0)
		goto out;
	started = 1;
	/* warm-up of every store (first fsyncs, token sessions) */
	last_b = epoch + 1;
	if (put_one(sa, t, epoch++, &wa[0]) != 0 || put_one(sb, t, epoch++, &wb[0]) != 0 ||
	    put_one(sc, t, epoch++, &wc[0]) != 0 || put_one(sd, t, epoch++, &wd[0]) != 0)
		goto out;
	for (int i = 0; i < rounds; i++) {
		for (int step = 0; step < 4; step++) {
			/* the order rotates: no mode always goes first */
			int mode = (i + step) % 4;
			struct mpc_replica_report r;
			struct timespec settle = { settle_ms / 1000, (settle_ms % 1000) * 1000000L };
			double s, t0;

			/* every write starts after the same quiet time: a write right after another
			 * one's fsync is slower, whatever the mode */
			bg_wait_idle(&b);
			nanosleep(&settle, NULL);

			if (mode == 3) { /* A2: A again, in its own store: the noise floor */
				if (put_one(sd, t, epoch++, &s) != 0)
					goto out;
				wd[nd++] = s;
				sum_d += s;
			} else if (mode == 0) { /* A: no replica, nothing else running */
				bg_wait_idle(&b);
				if (put_one(sa, t, epoch++, &s) != 0)
					goto out;
				wa[na++] = s;
				sum_a += s;
			} else if (mode == 1) { /* B: the write, then one pass */
				bg_wait_idle(&b);
				last_b = epoch;
				if (put_one(sb, t, epoch++, &s) != 0)
					goto out;
				wb[nb++] = s;
				sum_b += s;
				t0 = mpc_replica_now();
				if (mpc_replica_sync(setb, sb, t0 + 60, &r, &e) != MPC_OK) {
					fprintf(stderr, "sync: %s\n", e.msg);
					goto out;
				}
				pass_b += mpc_replica_now() - t0;
				upload_b = r.items[0].upload_seconds_total;
				uploads_b = r.items[0].uploads_total;
			} else { /* C: the write while a pass runs */
				pthread_mutex_lock(&b.mu);
				b.pending = 1;
				pthread_cond_signal(&b.cv);
				while (!b.busy)
					pthread_cond_wait(&b.cv, &b.mu);
				pthread_mutex_unlock(&b.mu);
				if (put_one(sc, t, epoch++, &s) != 0)
					goto out;
				wc[nc++] = s;
				sum_c += s;
			}
		}
	}
	bg_wait_idle(&b);
	{
		struct mpc_replica_report r;

		if (mpc_replica_sync(setb, sb, mpc_replica_now() + 60, &r, &e) != MPC_OK)
			goto out;
		if (r.n > 1)
			printf("replica state after the run: reachable behind %zu, down behind %zu "
			       "(of %d files)\n",
			       r.items[0].files_behind, r.items[1].files_behind, nb + 1);
		else
			printf("replica state after the run: down behind %zu (of %d files)\n",
			       r.items[0].files_behind, nb + 1);
	}
	/* per-round ratios: the store grows and the host's load drifts; a round's three writes
	 * are close in time, so their ratio is the robust figure */
	for (int i = 0; i < na && i < nb && i < nc && i < nd; i++) {
		rb[i] = wb[i] / wa[i];
		rc_[i] = wc[i] / wa[i];
		rd[i] = wd[i] / wa[i];
	}
	qsort(rd, (size_t)na, sizeof(double), cmp);
	qsort(wd, (size_t)nd, sizeof(double), cmp);
	qsort(rb, (size_t)na, sizeof(double), cmp);
	qsort(rc_, (size_t)na, sizeof(double), cmp);
	qsort(wa, (size_t)na, sizeof(double), cmp);
	qsort(wb, (size_t)nb, sizeof(double), cmp);
	qsort(wc, (size_t)nc, sizeof(double), cmp);
	print_load("after");
	printf("local durable write (mpc_store_put: seal in SoftHSM2, write, fsync, link, directory "
	       "fsync; 8 domains), %d rounds, interleaved A B C A2 (order rotating):\n",
	       na);
	printf("  A no replica:                        mean %.2f ms  median %.2f ms  "
	       "quartiles %.2f..%.2f ms\n",
	       1e3 * sum_a / na, 1e3 * wa[na / 2], 1e3 * quart(wa, na, 1), 1e3 * quart(wa, na, 3));
	printf("  A2 no replica (control, own store):  mean %.2f ms  median %.2f ms  "
	       "quartiles %.2f..%.2f ms  against A: mean %+.1f%% median %+.1f%% (noise floor)\n",
	       1e3 * sum_d / nd, 1e3 * wd[nd / 2], 1e3 * quart(wd, nd, 1), 1e3 * quart(wd, nd, 3),
	       100.0 * ((sum_d / nd) / (sum_a / na) - 1), 100.0 * (wd[nd / 2] / wa[na / 2] - 1));
	printf("  B 2 replicas (1 down), pass after:   mean %.2f ms  median %.2f ms  "
	       "quartiles %.2f..%.2f ms  overhead mean %+.1f%% median %+.1f%% (budget 5%%)\n",
	       1e3 * sum_b / nb, 1e3 * wb[nb / 2], 1e3 * quart(wb, nb, 1), 1e3 * quart(wb, nb, 3),
	       100.0 * ((sum_b / nb) / (sum_a / na) - 1), 100.0 * (wb[nb / 2] / wa[na / 2] - 1));
	printf("  C 2 replicas (1 down), pass running: mean %.2f ms  median %.2f ms  "
	       "quartiles %.2f..%.2f ms  overhead mean %+.1f%% median %+.1f%% (worst case)\n",
	       1e3 * sum_c / nc, 1e3 * wc[nc / 2], 1e3 * quart(wc, nc, 1), 1e3 * quart(wc, nc, 3),
	       100.0 * ((sum_c / nc) / (sum_a / na) - 1), 100.0 * (wc[nc / 2] / wa[na / 2] - 1));
	printf("  per-round ratio to A: A2 median %+.1f%% (quartiles %+.1f%%..%+.1f%%)\n",
	       100.0 * (rd[na / 2] - 1), 100.0 * (quart(rd, na, 1) - 1),
	       100.0 * (quart(rd, na, 3) - 1));
	printf("  per-round ratio to A: B median %+.1f%% (quartiles %+.1f%%..%+.1f%%)  C median "
	       "%+.1f%% (quartiles %+.1f%%..%+.1f%%)\n",
	       100.0 * (rb[na / 2] - 1), 100.0 * (quart(rb, na, 1) - 1),
	       100.0 * (quart(rb, na, 3) - 1), 100.0 * (rc_[na / 2] - 1),
	       100.0 * (quart(rc_, na, 1) - 1), 100.0 * (quart(rc_, na, 3) - 1));
	printf("replication: %.1f ms per sealed file (copyto + moveto, local backend); a pass "
	       "(list both, copy one file, the down one refused) %.1f ms\n",
	       uploads_b ? 1e3 * upload_b / (double)uploads_b : 0.0, 1e3 * pass_b / nb);
	if (drill_figures(sb, setb, t, last_b, nb + 1) != 0)
		goto out;
	rc = 0;
out:
	if (started) {
		pthread_mutex_lock(&b.mu);
		b.stop = 1;
		pthread_cond_broadcast(&b.cv);
		pthread_mutex_unlock(&b.mu);
		pthread_join(th, NULL);
	}
	mpc_replica_set_free(b.set);
	mpc_replica_set_free(setb);
	mpc_store_close(sa);
	mpc_store_close(sb);
	mpc_store_close(sc);
	mpc_store_close(sd);
	mpc_token_close(t);
	mpc_p11_ctx_free(ctx);
	th_softhsm_teardown(&h);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", tmp, shm);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmp);
	free(wa);
	free(wb);
	free(wc);
	free(rb);
	free(rc_);
	free(wd);
	free(rd);
	return rc;
}
