/* test_monitor_token.c: a token that goes away and comes back while `mpc-backup run` runs
 * (issue 11 item 5). The SoftHSM2 token directory is moved away, the contract moves to a new
 * keyset meanwhile, and the directory is put back: the monitor says "token unavailable" once
 * (log, /healthz, mpc_backup_token_available), reports no stored file as failing and blames no
 * node, re-initialises the module with backoff, and once the token is back backs up and
 * verifies the new keyset. A migration named meanwhile waits for the token, then is pushed. Real processes on loopback: `mpc-backup run`, fake-node, fake-rpc;
 * a fresh SoftHSM2 token per test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tests/monitor/scen.h"

static void stop_ok(struct sc *s)
{
	double elapsed = 0;
	int st = -1;

	assert_int_equal(sc_run_stop(s, SIGTERM, 10.0, &elapsed, &st), 0);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static int healthz(struct sc *s, char *out, size_t cap)
{
	int status = 0;

	assert_int_equal(sc_http_get(s->metrics_port, "/healthz", &status, out, cap), 0);
	return status;
}

/* Wait for /healthz to answer `want` with `needle` in the body. */
static void wait_healthz(struct sc *s, int want, const char *needle)
{
	double deadline = sc_now() + SC_WAIT;
	char body[4096];
	int st;

	while (((st = healthz(s, body, sizeof(body))) != want || strstr(body, needle) == NULL) &&
	       sc_now() < deadline)
		sc_sleep_ms(SC_POLL_MS);
	if (st != want || strstr(body, needle) == NULL) {
		printf("healthz %d: %s\n", st, body);
		sc_dump(s);
	}
	assert_int_equal(st, want);
	assert_non_null(strstr(body, needle));
}

/* The directory to move: the whole token directory, or the token's own one inside it. */
static void token_path(struct sc *s, int whole, char *out, size_t cap)
{
	char dir[300];
	struct dirent *d;
	DIR *dp;

	snprintf(dir, sizeof(dir), "%s/tokens", s->th.dir);
	snprintf(out, cap, "%s", dir);
	if (whole)
		return;
	dp = opendir(dir);
	assert_non_null(dp);
	while ((d = readdir(dp)) != NULL)
		if (d->d_name[0] != '.')
			snprintf(out, cap, "%.200s/%.90s", dir, d->d_name);
	closedir(dp);
	assert_true(strcmp(out, dir) != 0);
}

/* Nothing that an operator would act on against a stored file or a node. */
static void no_wrong_verdicts(struct sc *s)
{
	assert_int_equal(sc_log_count(s, "fail verification"), 0);
	assert_int_equal(sc_log_count(s, "store: keyset-"), 0);
	assert_int_equal(sc_log_count(s, "failed authentication"), 0);
	assert_int_equal(sc_log_count(s, ": failed: "), 0); /* a drill's verdict on a file */
	assert_int_equal(sc_log_count(s, ": mismatch: "), 0);
	assert_int_equal(sc_log_count(s, "NOT restorable"), 0);
	assert_int_equal(sc_log_count(s, "refused our client key"), 0);
	assert_int_equal(sc_log_count(s, "backup of epoch"), 0);
	assert_int_equal(sc_log_count(s, "node at "), 0);
	assert_int_equal(sc_log_count(s, "token init"), 0);
	assert_int_equal(sc_log_count(s, "CKR_GENERAL_ERROR every"), 0);
	assert_true(sc_metric_get(s, "mpc_backup_backups_total{outcome=\"error\"}") == 0);
	assert_true(sc_metric_get(s, "mpc_backup_health{part=\"store\"}") == 1);
	assert_true(sc_metric_get(s, "mpc_backup_health{part=\"backup\"}") == 1);
}

static void away_and_back(struct sc *s, int whole)
{
	const uint64_t epochs[] = { 4, 5 };
	const size_t extras[] = { 0, 1 };
	char *ks = sc_keyshares_multi(epochs, extras, 2), path[400], away[400], out[8192];
	double back_at, stored_at;
	int errors_before;

	assert_int_equal(sc_node_start(s, 0, ks, NULL, NULL), 0);
	free(ks);
	assert_int_equal(sc_rpc_start(s, 1, NULL), 0);
	/* verifications and drills fall due while the token is away */
	assert_int_equal(sc_write_config(s, "verify_interval = 1\n"
					    "drill_interval = 1\n"
					    "token_retry_initial = 0.2\n"
					    "token_retry_max = 1\n"),
			 0);
	assert_int_equal(sc_publish_running(s, 4, 0, 0, -1), 0);
	assert_int_equal(sc_run_start(s, 1, NULL), 0);
	assert_int_equal(sc_wait_log(s, "backed up epoch 4 (2 domains", 1, SC_WAIT), 0);
	assert_int_equal(sc_wait_log(s, "drill: keyset", 1, SC_WAIT), 0);
	wait_healthz(s, 200, "ok");
	assert_true(sc_metric_get(s, "mpc_backup_token_available") == 1);
	assert_true(sc_metric_get(s, "mpc_backup_token_unavailable_total") == 0);
	errors_before = sc_log_count(s, "ERROR");
	assert_int_equal(errors_before, 0);

	/* The token goes away. */
	token_path(s, whole, path, sizeof(path));
	snprintf(away, sizeof(away), "%s/away", s->th.dir);
	assert_int_equal(rename(path, away), 0);
	assert_int_equal(sc_wait_log(s, "token unavailable: token \"mpc-backup\"", 1, SC_WAIT), 0);
	wait_healthz(s, 503, "token: token unavailable: token \"mpc-backup\"");
	assert_true(sc_metric_get(s, "mpc_backup_token_available") == 0);
	assert_true(sc_metric_get(s, "mpc_backup_token_unavailable_total") == 1);

	/* The contract moves on meanwhile: nothing is fetched, nothing fails, nobody is blamed. */
	assert_int_equal(sc_publish_running(s, 5, 1, 0, -1), 0);
	assert_int_equal(sc_wait_polls(s, 0, 15, SC_WAIT), 0); /* 3 s: retries, verifies due */
	sc_node_pump(s, 0);
	assert_int_equal(s->nodes[0].gets, 1);
	assert_int_equal(sc_log_count(s, "backed up epoch 5"), 0);
	assert_int_equal(sc_log_count(s, "token unavailable:"), 1); /* once, not every poll */
	assert_int_equal(sc_log_count(s, "ERROR"), 1);              /* that one line */
	assert_int_equal(sc_log_count(s, "token available again"), 0);
	no_wrong_verdicts(s);
	wait_healthz(s, 503, "token: token unavailable");
	assert_true(sc_metric_get(s, "mpc_backup_token_available") == 0);
	assert_true(sc_metric_get(s, "mpc_backup_keyset_covered") == 0);

	/* It comes back: re-initialised, then the keyset that changed is backed up and the store
	 * verified with the token that came back. */
	assert_int_equal(rename(away, path), 0);
	back_at = sc_now();
	assert_int_equal(sc_wait_log(s, "token available again after", 1, SC_WAIT), 0);
	assert_int_equal(sc_wait_log(s, "backed up epoch 5 (3 domains", 1, SC_WAIT), 0);
	stored_at = sc_now();
	printf("recovery: epoch 5 backed up %.2f s after the token directory came back\n",
	       stored_at - back_at);
	assert_int_equal(sc_wait_log(s, "store verified: 2 keyset(s)", 1, SC_WAIT), 0);
	assert_int_equal(sc_wait_log(s, "drill: keyset", 2, SC_WAIT), 0);
	wait_healthz(s, 200, "ok");
	assert_true(sc_metric_get(s, "mpc_backup_token_available") == 1);
	assert_true(sc_metric_get(s, "mpc_backup_token_unavailable_total") == 1);
	assert_true(sc_metric_get(s, "mpc_backup_keyset_covered") == 1);
	sc_node_pump(s, 0);
	assert_int_equal(s->nodes[0].gets, 2);
	assert_int_equal(sc_log_count(s, "token available again"), 1);
	assert_int_equal(sc_log_count(s, "token unavailable:"), 1);
	assert_int_equal(sc_log_count(s, "ERROR"), 1);
	no_wrong_verdicts(s);
	assert_int_equal(sc_store_files(s), 2);
	/* an independent check of what is stored, with the token put back */
	stop_ok(s);
	assert_int_equal(sc_store_cmd(s, "verify", out, sizeof(out)), 0);
}

/* The whole SoftHSM2 token directory: C_Initialize itself fails while it is away. */
static void test_token_directory_away_and_back(void **state)
{
	away_and_back(*state, 1);
}

/* Only the token's own directory: the module initialises but lists no such token. */
static void test_token_subdirectory_away_and_back(void **state)
{
	away_and_back(*state, 0);
}

/* A migration named while the token is away: nothing is sent to the destination, no push
 * fails (the destination is not blamed); once the token is back the keyshares are pushed. */
static void test_migration_waits_for_the_token(void **state)
{
	struct sc *s = *state;
	char *ks = sc_keyshares(4, 0, 1), path[400], away[400];

	assert_int_equal(sc_node_start(s, 0, ks, NULL, NULL), 0);
	free(ks);
	assert_int_equal(sc_node_start(s, 1, NULL, NULL, NULL), 0);
	assert_int_equal(sc_rpc_start(s, 1, NULL), 0);
	assert_int_equal(sc_write_config(s, "token_retry_initial = 0.2\n"
					    "token_retry_max = 1\n"),
			 0);
	assert_int_equal(sc_publish_running(s, 4, 0, 0, -1), 0);
	assert_int_equal(sc_run_start(s, 1, NULL), 0);
	assert_int_equal(sc_wait_log(s, "backed up epoch 4 (2 domains", 1, SC_WAIT), 0);

	token_path(s, 1, path, sizeof(path));
	snprintf(away, sizeof(away), "%s/away", s->th.dir);
	assert_int_equal(rename(path, away), 0);
	assert_int_equal(sc_wait_log(s, "token unavailable: token \"mpc-backup\"", 1, SC_WAIT), 0);
	assert_int_equal(sc_publish_running(s, 4, 0, 0, 1), 0);
	assert_int_equal(sc_wait_log(s, "migration of op.near to", 1, SC_WAIT), 0);
	assert_int_equal(sc_wait_polls(s, 0, 10, SC_WAIT), 0);
	sc_node_pump(s, 1);
	assert_int_equal(s->nodes[1].accepted, 0);
	assert_int_equal(s->nodes[1].sets, 0);
	assert_int_equal(sc_log_count(s, "push to"), 0);
	assert_int_equal(sc_log_count(s, "ERROR"), 1);
	assert_true(sc_metric_get(s, "mpc_backup_pushes_total{outcome=\"error\"}") == 0);
	no_wrong_verdicts(s);

	assert_int_equal(rename(away, path), 0);
	assert_int_equal(sc_wait_log(s, "token available again after", 1, SC_WAIT), 0);
	assert_int_equal(sc_wait_log(s, "pushed epoch 4 (2 domains", 1, SC_WAIT), 0);
	assert_int_equal(sc_node_wait(s, 1, &s->nodes[1].sets, 1, SC_WAIT), 0);
	assert_true(sc_metric_get(s, "mpc_backup_pushes_total{outcome=\"ok\"}") == 1);
	assert_true(sc_metric_get(s, "mpc_backup_pushes_total{outcome=\"error\"}") == 0);
	assert_int_equal(sc_log_count(s, "ERROR"), 1);
	stop_ok(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_token_directory_away_and_back, sc_cmocka_setup,
						sc_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_token_subdirectory_away_and_back,
						sc_cmocka_setup, sc_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_migration_waits_for_the_token, sc_cmocka_setup,
						sc_cmocka_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
