/* test_monitor_backup.c: the monitor's backup duty, end to end (issue 6, scenarios 1-4 and 8):
 * fresh start and restart, epoch advance and an added domain, Resharing, a node that is down
 * and comes back, and SIGTERM during a hanging fetch. Real processes on loopback: `mpc-backup
 * run`, fake-node, fake-rpc; a fresh SoftHSM2 token per test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>

#include "tests/monitor/scen.h"

/* Node slot 0 serving `keyshares`, one endpoint, config written. */
static void start_world(struct sc *s, const char *keyshares)
{
	assert_int_equal(sc_node_start(s, 0, keyshares, NULL, NULL), 0);
	assert_int_equal(sc_rpc_start(s, 1, NULL), 0);
	assert_int_equal(sc_write_config(s, NULL), 0);
}

static void stop_ok(struct sc *s)
{
	double elapsed = 0;
	int st = -1;

	assert_int_equal(sc_run_stop(s, SIGTERM, 10.0, &elapsed, &st), 0);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* 1. A fresh start backs up the running keyset; a restart fetches nothing. */
static void test_fresh_start_then_restart(void **state)
{
	struct sc *s = *state;
	char *ks = sc_keyshares(4, 0, 1), out[8192];

	start_world(s, ks);
	free(ks);
	assert_int_equal(sc_publish_running(s, 4, 0, 0, -1), 0);
	assert_int_equal(sc_run_start(s, 0, NULL), 0);
	assert_int_equal(sc_wait_log(s, "backed up epoch 4 (2 domains", 1, SC_WAIT), 0);
	sc_node_pump(s, 0);
	assert_int_equal(s->nodes[0].gets, 1);
	assert_int_equal(sc_store_files(s), 1);
	assert_int_equal(sc_store_cmd(s, "list", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "epoch 4  2 domain(s) [0@240:Secp256k1 1@0:Ed25519]"));
	/* Covered: later polls fetch nothing. */
	assert_int_equal(sc_wait_polls(s, 0, 6, SC_WAIT), 0);
	sc_node_pump(s, 0);
	assert_int_equal(s->nodes[0].gets, 1);
	assert_int_equal(sc_log_count(s, "backed up epoch"), 1);
	stop_ok(s);

	/* Restart: the store covers the keyset; nothing is fetched and nothing is logged as done. */
	assert_int_equal(sc_run_start(s, 0, NULL), 0);
	assert_int_equal(sc_wait_log(s, "store verified: 1 keyset(s)", 1, SC_WAIT), 0);
	assert_int_equal(sc_wait_polls(s, 0, 8, SC_WAIT), 0);
	sc_node_pump(s, 0);
	assert_int_equal(s->nodes[0].gets, 1);
	assert_int_equal(s->nodes[0].accepted, 1); /* not even a connection */
	assert_int_equal(sc_log_count(s, "backed up"), 0);
	assert_int_equal(sc_log_count(s, "failed"), 0);
	assert_int_equal(sc_log_count(s, "WARN"), 0);
	assert_int_equal(sc_log_count(s, "ERROR"), 0);
	assert_int_equal(sc_store_files(s), 1);
	stop_ok(s);
}

/* 2. An epoch advance makes exactly one new backup; so does a same-epoch added domain. */
static void test_epoch_advance_and_added_domain(void **state)
{
	struct sc *s = *state;
	const uint64_t epochs[] = { 4, 5 };
	const size_t extras[] = { 0, 1 };
	char *ks = sc_keyshares_multi(epochs, extras, 2), out[8192];

	start_world(s, ks);
	free(ks);
	assert_int_equal(sc_publish_running(s, 4, 0, 0, -1), 0);
	assert_int_equal(sc_run_start(s, 0, NULL), 0);
	assert_int_equal(sc_wait_log(s, "backed up epoch 4 (2 domains", 1, SC_WAIT), 0);
	sc_node_pump(s, 0);
	assert_int_equal(s->nodes[0].gets, 1);
	assert_int_equal(sc_store_files(s), 1);

	/* Epoch 5 (resharing concluded: same public keys, new shares). */
	assert_int_equal(sc_publish_running(s, 5, 0, 0, -1), 0);
	assert_int_equal(sc_wait_log(s, "backed up epoch 5 (2 domains", 1, SC_WAIT), 0);
	assert_int_equal(sc_wait_polls(s, 0, 6, SC_WAIT), 0);
	sc_node_pump(s, 0);
	assert_int_equal(s->nodes[0].gets, 2);
	assert_int_equal(sc_store_files(s), 2);
	assert_int_equal(sc_log_count(s, "backed up epoch"), 2);

	/* vote_add_domains: epoch 5 gains domain 2; the stored epoch 5 no longer covers it. */
	assert_int_equal(sc_publish_running(s, 5, 1, 0, -1), 0);
	assert_int_equal(sc_wait_log(s, "backed up epoch 5 (3 domains", 1, SC_WAIT), 0);
	assert_int_equal(sc_wait_polls(s, 0, 6, SC_WAIT), 0);
	sc_node_pump(s, 0);
	assert_int_equal(s->nodes[0].gets, 2 + 1);
	assert_int_equal(sc_store_files(s), 3);
	assert_int_equal(sc_log_count(s, "backed up epoch"), 3);
	assert_int_equal(sc_store_cmd(s, "list", out, sizeof(out)), 0);
	assert_non_null(
		strstr(out, "epoch 5  3 domain(s) [0@240:Secp256k1 1@0:Ed25519 2@0:Ed25519]"));
	assert_int_equal(sc_log_count(s, "ERROR"), 0);
	stop_ok(s);
}

/* 3a. Starting during Resharing with nothing stored backs up the previous running keyset, and
 * never the new epoch's. */
static void test_resharing_fresh_backs_up_previous(void **state)
{
	struct sc *s = *state;
	const uint64_t epochs[] = { 4, 5 };
	const size_t extras[] = { 0, 0 };
	char *ks = sc_keyshares_multi(epochs, extras, 2), out[8192];

	start_world(s, ks);
	free(ks);
	assert_int_equal(sc_publish(s, -1, sc_state_resharing(sc_std_body(s, 4, 0, 0), 5),
				    sc_std_mi(s, -1)),
			 0);
	assert_int_equal(sc_run_start(s, 0, NULL), 0);
	assert_int_equal(sc_wait_log(s, "backed up epoch 4 (2 domains", 1, SC_WAIT), 0);
	assert_int_equal(sc_wait_polls(s, 0, 8, SC_WAIT), 0);
	sc_node_pump(s, 0);
	assert_int_equal(s->nodes[0].gets, 1);
	assert_int_equal(sc_store_files(s), 1);
	assert_int_equal(sc_store_cmd(s, "list", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "epoch 4  2 domain(s)"));
	assert_null(strstr(out, "epoch 5"));
	assert_int_equal(sc_log_count(s, "epoch 5"), 0);
	stop_ok(s);
}

/* 3b. Running -> Resharing keeps the previous keyset as the one backed up (no fetch while
 * resharing); the concluded epoch is backed up once Running again. */
static void test_resharing_keeps_previous_keyset(void **state)
{
	struct sc *s = *state;
	const uint64_t epochs[] = { 4, 5 };
	const size_t extras[] = { 0, 0 };
	char *ks = sc_keyshares_multi(epochs, extras, 2);

	start_world(s, ks);
	free(ks);
	assert_int_equal(sc_publish_running(s, 4, 0, 0, -1), 0);
	assert_int_equal(sc_run_start(s, 0, NULL), 0);
	assert_int_equal(sc_wait_log(s, "backed up epoch 4", 1, SC_WAIT), 0);
	assert_int_equal(sc_publish(s, -1, sc_state_resharing(sc_std_body(s, 4, 0, 0), 5),
				    sc_std_mi(s, -1)),
			 0);
	assert_int_equal(sc_wait_polls(s, 0, 10, SC_WAIT), 0);
	sc_node_pump(s, 0);
	assert_int_equal(s->nodes[0].gets, 1);
	assert_int_equal(s->nodes[0].accepted, 1);
	assert_int_equal(sc_store_files(s), 1);
	assert_int_equal(sc_log_count(s, "epoch 5"), 0);

	assert_int_equal(sc_publish_running(s, 5, 0, 0, -1), 0);
	assert_int_equal(sc_wait_log(s, "backed up epoch 5", 1, SC_WAIT), 0);
	sc_node_pump(s, 0);
	assert_int_equal(s->nodes[0].gets, 2);
	assert_int_equal(sc_store_files(s), 2);
	stop_ok(s);
}

/* Distinct "backup of epoch 4 failed" failures logged, each once. A connection refused on
 * loopback reads "after 0 ms"; should it ever read "after 1 ms" on a loaded machine, that is
 * the known bug of test_node_unreachable_logged_once, not a flake of this test. Fails if a line
 * repeats the previous one verbatim (a failure logged at every attempt). */
static int failures(struct sc *s)
{
	int repeats = 0, n = sc_log_failures(s, "backup of epoch 4 failed", &repeats);

	if (repeats != 0 || n != sc_log_count(s, "backup of epoch 4 failed"))
		sc_dump(s);
	assert_int_equal(repeats, 0);
	return n;
}

/* 4. The node is down (nothing listens), then refuses our key, then works: retried with
 * backoff, each distinct failure logged once, then backed up and the recovery logged once. */
static void test_node_down_then_up(void **state)
{
	struct sc *s = *state;
	const char *err_metric = "mpc_backup_backups_total{outcome=\"error\"}";
	char *ks = sc_keyshares(4, 0, 0);
	double deadline, errors;
	int polls0, refused0;

	assert_int_equal(sc_node_reserve_port(s, 0), 0);
	assert_int_equal(sc_rpc_start(s, 1, NULL), 0);
	assert_int_equal(sc_write_config(s, NULL), 0);
	assert_int_equal(sc_publish_running(s, 4, 0, 0, -1), 0);
	assert_int_equal(sc_run_start(s, 1, NULL), 0);

	/* Down: connection refused, retried several times, logged once. */
	assert_int_equal(sc_wait_log(s, "backup of epoch 4 failed", 1, SC_WAIT), 0);
	deadline = sc_now() + SC_WAIT;
	while ((errors = sc_metric_get(s, err_metric)) < 4 && sc_now() < deadline)
		sc_sleep_ms(SC_POLL_MS);
	if (errors < 4)
		sc_dump(s);
	assert_true(errors >= 4);
	assert_int_equal(failures(s), 1);

	/* Up, but refusing our client key: another failure, logged once too. Attempts are spaced
	 * by the backoff (capped at 1 s), not made at every poll (0.2 s). */
	assert_int_equal(sc_node_start(s, 0, ks, s->other_key, NULL), 0);
	assert_int_equal(sc_wait_log(s, "backup of epoch 4 failed", 2, SC_WAIT), 0);
	assert_int_equal(sc_node_wait(s, 0, &s->nodes[0].refused, 1, SC_WAIT), 0);
	refused0 = s->nodes[0].refused;
	polls0 = sc_rpc_state_reads(s, 0);
	assert_int_equal(sc_node_wait(s, 0, &s->nodes[0].refused, refused0 + 3, SC_WAIT), 0);
	assert_true(sc_rpc_state_reads(s, 0) - polls0 >= 2 * (s->nodes[0].refused - refused0));
	assert_int_equal(failures(s), 2);
	assert_int_equal(sc_log_count(s, "refused our client key"), 1);

	/* Works again. */
	assert_int_equal(sc_node_start(s, 0, ks, NULL, NULL), 0);
	free(ks);
	assert_int_equal(sc_wait_log(s, "backed up epoch 4", 1, SC_WAIT), 0);
	assert_int_equal(sc_wait_polls(s, 0, 6, SC_WAIT), 0);
	sc_node_pump(s, 0);
	assert_int_equal(s->nodes[0].gets, 1);
	assert_int_equal(sc_log_count(s, "backup works again"), 1);
	assert_int_equal(failures(s), 2);
	assert_true(sc_metric_get(s, "mpc_backup_backups_total{outcome=\"ok\"}") == 1);
	assert_int_equal(sc_store_files(s), 1);
	stop_ok(s);
}

/* A listening socket whose accept queue is full: connections to it time out (SYNs dropped),
 * like a node behind a firewall that drops packets. fds[0] is the listener; *port its port. */
static int blackhole(int fds[4], unsigned *port)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fds[0] < 0 || bind(fds[0], (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(fds[0], (struct sockaddr *)&a, &al) != 0 || listen(fds[0], 0) != 0)
		return -1;
	*port = ntohs(a.sin_port);
	for (int i = 1; i < 4; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fds[i] < 0)
			return -1;
		(void)connect(fds[i], (struct sockaddr *)&a, sizeof(a)); /* EINPROGRESS */
	}
	return 0;
}

/* 4b. A node that does not answer at all (connect times out): the same failure at every
 * attempt must be logged once.
 * Regression test for a fixed bug: the failure message embedded libcurl's error buffer, "Failed to
 * connect to 127.0.0.1 port P after 301 ms: Timeout was reached", whose elapsed time varies
 * from attempt to attempt (300 ms, 301 ms, ...), and src/monitor/retry.c compares whole
 * messages, so the same failure is logged again at almost every retry. */
static void test_node_unreachable_logged_once(void **state)
{
	struct sc *s = *state;

	const char *err_metric = "mpc_backup_backups_total{outcome=\"error\"}";
	int fds[4] = { -1, -1, -1, -1 };
	unsigned port = 0;
	char extra[300];
	double deadline, errors;
	int lines;

	assert_int_equal(blackhole(fds, &port), 0);
	assert_int_equal(sc_rpc_start(s, 1, NULL), 0);
	snprintf(extra, sizeof(extra),
		 "address.key.%s = 127.0.0.1:%u\nnode_connect_timeout = 0.3\n", s->nodes[0].key,
		 port);
	assert_int_equal(sc_write_config(s, extra), 0);
	assert_int_equal(sc_publish_running(s, 4, 0, 0, -1), 0);
	assert_int_equal(sc_run_start(s, 1, NULL), 0);
	assert_int_equal(sc_wait_log(s, "backup of epoch 4 failed", 1, SC_WAIT), 0);
	deadline = sc_now() + SC_WAIT;
	while ((errors = sc_metric_get(s, err_metric)) < 4 && sc_now() < deadline)
		sc_sleep_ms(SC_POLL_MS);
	lines = sc_log_count(s, "backup of epoch 4 failed");
	for (int i = 0; i < 4; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	assert_true(errors >= 4);
	/* One failure, differing at most in libcurl's "after N ms" ... */
	assert_int_equal(failures(s), 1);
	/* ... and it must be logged once. */
	if (lines != 1)
		sc_dump(s);
	assert_int_equal(lines, 1);
	stop_ok(s);
}

/* 8a. SIGTERM while the node hangs in the fetch, nothing stored yet: exit 0 within one second,
 * the store empty and no temporary left. */
static void test_sigterm_during_hanging_fetch_empty_store(void **state)
{
	struct sc *s = *state;
	char *ks = sc_keyshares(4, 0, 0);
	double elapsed = 99;
	int st = -1;

	assert_int_equal(sc_node_start(s, 0, ks, NULL, "hang"), 0);
	free(ks);
	assert_int_equal(sc_rpc_start(s, 1, NULL), 0);
	assert_int_equal(sc_write_config(s, NULL), 0);
	assert_int_equal(sc_publish_running(s, 4, 0, 0, -1), 0);
	assert_int_equal(sc_run_start(s, 0, NULL), 0);
	/* The node took our connection and the request: the fetch is now hanging (the node
	 * timeout is 5 s). */
	assert_int_equal(sc_node_wait(s, 0, &s->nodes[0].accepted, 1, SC_WAIT), 0);
	sc_sleep_ms(200);
	assert_int_equal(sc_log_count(s, "failed"), 0);
	assert_int_equal(sc_run_stop(s, SIGTERM, 10.0, &elapsed, &st), 0);
	printf("SIGTERM to exit: %.3f s\n", elapsed);
	assert_true(elapsed < SC_STOP_BOUND_S);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(sc_log_count(s, "stopping on a signal"), 1);
	assert_int_equal(sc_log_count(s, "backed up"), 0);
	assert_int_equal(sc_store_files(s), 0);
	assert_int_equal(sc_store_temps(s), 0);
}

/* 8b. The same with an earlier backup in the store: it stays intact (store verify passes). */
static void test_sigterm_during_hanging_fetch_keeps_store(void **state)
{
	struct sc *s = *state;
	const uint64_t epochs[] = { 4, 5 };
	const size_t extras[] = { 0, 0 };
	char *ks = sc_keyshares_multi(epochs, extras, 2), out[8192];
	double elapsed = 99;
	int st = -1, accepted0;

	start_world(s, ks);
	assert_int_equal(sc_publish_running(s, 4, 0, 0, -1), 0);
	assert_int_equal(sc_run_start(s, 0, NULL), 0);
	assert_int_equal(sc_wait_log(s, "backed up epoch 4", 1, SC_WAIT), 0);

	/* The same node (key and port) now hangs; the contract moves to epoch 5. */
	assert_int_equal(sc_node_start(s, 0, ks, NULL, "hang"), 0);
	free(ks);
	accepted0 = s->nodes[0].accepted;
	assert_int_equal(sc_publish_running(s, 5, 0, 0, -1), 0);
	assert_int_equal(sc_node_wait(s, 0, &s->nodes[0].accepted, accepted0 + 1, SC_WAIT), 0);
	sc_sleep_ms(200);
	assert_int_equal(sc_run_stop(s, SIGTERM, 10.0, &elapsed, &st), 0);
	printf("SIGTERM to exit: %.3f s\n", elapsed);
	assert_true(elapsed < SC_STOP_BOUND_S);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(sc_store_files(s), 1);
	assert_int_equal(sc_store_temps(s), 0);
	assert_int_equal(sc_store_cmd(s, "verify", out, sizeof(out)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fresh_start_then_restart, sc_cmocka_setup,
						sc_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_epoch_advance_and_added_domain,
						sc_cmocka_setup, sc_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_resharing_fresh_backs_up_previous,
						sc_cmocka_setup, sc_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_resharing_keeps_previous_keyset,
						sc_cmocka_setup, sc_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_node_down_then_up, sc_cmocka_setup,
						sc_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_node_unreachable_logged_once, sc_cmocka_setup,
						sc_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_sigterm_during_hanging_fetch_empty_store,
						sc_cmocka_setup, sc_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_sigterm_during_hanging_fetch_keeps_store,
						sc_cmocka_setup, sc_cmocka_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
