/* test_store_crash.c: kill -9 the store writer at every step (MPC_STORE_CRASH_AT) and at random
 * instants (a real SIGKILL after a random delay), at least 200 runs in all. After each run the
 * whole store verifies, no file is damaged, the newest backup is either the previous one or the
 * new one (the new one exactly when the writer got past link(2)), and the previous backup
 * still opens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "src/store/store.h"
#include "src/util/mem.h"
#include "tests/store/sfix.h"
#include "tests/support/softhsm.h"

#define NDOM 4
#define SEED 3
#define HOOK_RUNS 120
#define KILL_RUNS 120

static const char *const steps[] = { "tmp-created", "tmp-written", "tmp-synced",
				     "linked",      "tmp-unlinked", "dir-synced" };
#define N_STEPS (sizeof(steps) / sizeof(steps[0]))

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run the writer for `epoch`; crash at `step` (or NULL); kill after delay_us (or < 0: never).
 * Returns the wait status; *after_ready gets the time from login to exit. */
static int run_writer(const char *dir, const char *uri, uint64_t epoch, const char *step,
		      long delay_us, double *after_ready)
{
	char ep[24], nd[8], sd[8], fdnum[12], c;
	int st = 0, pfd[2];
	pid_t pid;

	snprintf(ep, sizeof(ep), "%llu", (unsigned long long)epoch);
	snprintf(nd, sizeof(nd), "%d", NDOM);
	snprintf(sd, sizeof(sd), "%d", SEED);
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		snprintf(fdnum, sizeof(fdnum), "%d", pfd[1]);
		setenv("STORE_WRITER_READY_FD", fdnum, 1);
		char *argv[] = { (char *)STORE_WRITER_PATH, (char *)dir, (char *)uri, ep, nd, sd,
				 NULL };

		if (step != NULL)
			setenv("MPC_STORE_CRASH_AT", step, 1);
		else
			unsetenv("MPC_STORE_CRASH_AT");
		if (freopen("/dev/null", "w", stdout) == NULL)
			_exit(98);
		execv(STORE_WRITER_PATH, argv);
		_exit(97);
	}
	close(pfd[1]);
	/* wait until the writer has logged in to the token (see store-writer.c for why) */
	if (read(pfd[0], &c, 1) == 1) {
		double t0 = now();

		if (delay_us >= 0) {
			usleep((useconds_t)delay_us);
			kill(pid, SIGKILL);
		}
		assert_int_equal(waitpid(pid, &st, 0), pid);
		if (after_ready != NULL)
			*after_ready = now() - t0;
	} else {
		assert_int_equal(waitpid(pid, &st, 0), pid);
	}
	close(pfd[0]);
	return st;
}

/* The store is intact: every file verifies, no damaged file, and newest is `want_newest`. */
static void check_store(const struct mpc_store *s, struct mpc_token *t, uint64_t want_newest,
			uint64_t prev, int run)
{
	struct mpc_store_verify_report vr;
	struct mpc_store_restore r;
	struct mpc_err e = { 0 };
	struct sf_set f;
	uint8_t *js = NULL;
	size_t len = 0;

	assert_int_equal(mpc_store_verify(s, &t, 1, &vr, &e), MPC_OK);
	if (!vr.all_ok) {
		for (size_t i = 0; i < vr.n; i++)
			if (!vr.items[i].ok)
				fprintf(stderr, "run %d: %s\n", run, vr.items[i].msg);
		fail_msg("run %d: store does not verify", run);
	}
	mpc_store_verify_report_free(&vr);
	if (mpc_store_open_keyset(s, &t, 1, 1, 0, &r, &e) != MPC_OK)
		fail_msg("run %d: newest does not open: %s", run, e.msg);
	if (r.hdr.epoch != want_newest)
		fail_msg("run %d: newest is epoch %llu, expected %llu", run,
			 (unsigned long long)r.hdr.epoch, (unsigned long long)want_newest);
	assert_int_equal(sf_synthetic_set(want_newest, NDOM, SEED, &f), 0);
	assert_int_equal(sf_shares_json(f.shares, f.n, &js, &len), 0);
	assert_int_equal(r.keyshares_len, len);
	assert_memory_equal(r.keyshares, js, len);
	mpc_secure_free(js);
	sf_set_free(&f);
	mpc_store_restore_free(&r);
	if (prev != want_newest) {
		if (mpc_store_open_keyset(s, &t, 1, 0, prev, &r, &e) != MPC_OK)
			fail_msg("run %d: previous backup (epoch %llu) does not open: %s", run,
				 (unsigned long long)prev, e.msg);
		mpc_store_restore_free(&r);
	}
}

static void test_kill9(void **state)
{
	struct th_softhsm h;
	struct mpc_p11_ctx *ctx = NULL;
	struct mpc_token *t = NULL;
	struct mpc_store *s = NULL;
	struct mpc_err e = { 0 };
	char tmp[] = "/tmp/mpc-crash-XXXXXX", dir[64], cmd[128];
	uint64_t newest = 1, epoch = 1;
	double full = 0;
	int completed = 0, interrupted = 0, st, kills_mid_write = 0;

	(void)state;
	assert_int_equal(th_softhsm_setup(&h, "crash", NULL), 0);
	assert_int_equal(mpc_p11_ctx_new(&ctx, &e), MPC_OK);
	assert_int_equal(sf_token_open(ctx, h.uri, &t), 0);
	assert_non_null(mkdtemp(tmp));
	snprintf(dir, sizeof(dir), "%s/store", tmp);
	assert_int_equal(mpc_store_open(dir, 1, &s, &e), MPC_OK);

	/* the first backup, and a timing of a whole writer run for the random kills */
	st = run_writer(dir, h.uri, epoch, NULL, -1, &full);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	check_store(s, t, 1, 1, 0);
	srand((unsigned)time(NULL) ^ (unsigned)getpid());

	for (int run = 0; run < HOOK_RUNS + KILL_RUNS; run++) {
		const char *step = run < HOOK_RUNS ? steps[run % N_STEPS] : NULL;
		long delay = step ? -1 : (long)((double)rand() / RAND_MAX * full * 1.3e6);
		uint64_t prev = newest;

		epoch++;
		st = run_writer(dir, h.uri, epoch, step, delay, NULL);
		if (step != NULL) {
			/* the hook must have fired: killed by SIGKILL, never a normal exit */
			if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL))
				fail_msg("run %d: writer at step %s was not killed (status %d)", run,
					 step, st);
			if (run % N_STEPS >= 3) /* from "linked" on, the new file is in place */
				newest = epoch;
		} else if (WIFEXITED(st)) {
			assert_int_equal(WEXITSTATUS(st), 0);
			newest = epoch;
		} else {
			/* killed somewhere: either outcome is legal; find out which */
			struct mpc_store_list l;

			assert_int_equal(mpc_store_list(s, &l, &e), MPC_OK);
			if (l.n_temp > 0)
				kills_mid_write++;
			for (size_t i = 0; i < l.n; i++)
				if (l.items[i].newest && l.items[i].hdr.epoch == epoch)
					newest = epoch;
			mpc_store_list_free(&l);
		}
		if (newest == epoch)
			completed++;
		else
			interrupted++;
		check_store(s, t, newest, prev, run);
		if (run % 25 == 24) {
			size_t removed = 0;

			assert_int_equal(mpc_store_prune(s, 2, &removed, &e), MPC_OK);
		}
	}
	{
		size_t removed = 0;
		struct mpc_store_list l;

		assert_int_equal(mpc_store_cleanup(s, &removed, &e), MPC_OK);
		assert_int_equal(mpc_store_list(s, &l, &e), MPC_OK);
		assert_int_equal(l.n_temp, 0);
		mpc_store_list_free(&l);
		printf("crash runs: %d (%d by hook, %d by kill -9 within %.0f ms); backups completed "
		       "%d, interrupted %d; %d kills left a temporary; %zu temporaries cleaned\n",
		       HOOK_RUNS + KILL_RUNS, HOOK_RUNS, KILL_RUNS, full * 1.3e3, completed,
		       interrupted, kills_mid_write, removed);
	}
	mpc_store_close(s);
	mpc_token_close(t);
	mpc_p11_ctx_free(ctx);
	th_softhsm_teardown(&h);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	assert_int_equal(system(cmd), 0);
}

/* Quarantine killed between its link and its unlink: the file is in both places and counts as
 * quarantined; cleanup finishes the move. */
static void test_kill9_quarantine(void **state)
{
	static const char *const qsteps[] = { "q-linked", "q-unlinked" };
	struct th_softhsm h;
	struct mpc_p11_ctx *ctx = NULL;
	struct mpc_token *t = NULL;
	struct mpc_store *s = NULL;
	struct mpc_err e = { 0 };
	char tmp[] = "/tmp/mpc-crash-XXXXXX", dir[64], cmd[160];
	int st;

	(void)state;
	assert_int_equal(th_softhsm_setup(&h, "crashq", NULL), 0);
	assert_int_equal(mpc_p11_ctx_new(&ctx, &e), MPC_OK);
	assert_int_equal(sf_token_open(ctx, h.uri, &t), 0);
	assert_non_null(mkdtemp(tmp));
	snprintf(dir, sizeof(dir), "%s/store", tmp);
	assert_int_equal(mpc_store_open(dir, 1, &s, &e), MPC_OK);
	for (size_t i = 0; i < 2; i++) {
		struct mpc_store_list l;
		size_t removed = 0, in_main = 0;
		uint64_t ep = 10 + 2 * i;
		pid_t pid;

		assert_true(WIFEXITED(run_writer(dir, h.uri, ep, NULL, -1, NULL)));
		assert_true(WIFEXITED(run_writer(dir, h.uri, ep + 1, NULL, -1, NULL)));
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			char epb[24];
			char *argv[] = { (char *)STORE_WRITER_PATH, dir, (char *)"quarantine", epb, NULL };

			snprintf(epb, sizeof(epb), "%llu", (unsigned long long)(ep + 1));
			setenv("MPC_STORE_CRASH_AT", qsteps[i], 1);
			execv(STORE_WRITER_PATH, argv);
			_exit(97);
		}
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
		/* the epoch is out of service whatever the step */
		check_store(s, t, ep, ep, (int)i);
		assert_int_equal(mpc_store_list(s, &l, &e), MPC_OK);
		for (size_t k = 0; k < l.n; k++)
			if (l.items[k].hdr.epoch == ep + 1)
				assert_true(l.items[k].quarantined);
		mpc_store_list_free(&l);
		snprintf(cmd, sizeof(cmd), "ls %s | grep -q keyset-e%020llu", dir,
			 (unsigned long long)(ep + 1));
		in_main = (size_t)system(cmd) == 0;
		assert_int_equal(in_main, i == 0); /* after q-linked the original is still there */
		assert_int_equal(mpc_store_cleanup(s, &removed, &e), MPC_OK);
		assert_int_equal(removed, i == 0 ? 1 : 0);
		check_store(s, t, ep, ep, (int)i);
		assert_int_equal(mpc_store_quarantine(s, ep, NULL, &e), MPC_OK);
	}
	mpc_store_close(s);
	mpc_token_close(t);
	mpc_p11_ctx_free(ctx);
	th_softhsm_teardown(&h);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill9),
		cmocka_unit_test(test_kill9_quarantine),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
