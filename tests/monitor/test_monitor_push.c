/* test_monitor_push.c: the push duty against the contract's real behaviour (issue 9 items 3, 6,
 * 7, 9, 11, 16): a one-poll flicker never sends keyshares; domains added within an epoch are
 * pushed again so that the destination holds exactly the contract's keyset; a migration waits
 * through Resharing and resumes; a node that left onboarding is named as such and retried; a
 * push that does not conclude is diagnosed once; a cancellation says what happened.
 * Node slots: 0 = A (the operator's running node, serves the keyshares), 1 = B (destination). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

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

/* A serves `ks`; n endpoints; B started (accepting us) unless b_fault is "down". */
static void world(struct sc *s, char *ks, size_t n_rpc, const char *b_fault)
{
	assert_int_equal(sc_node_start(s, 0, ks, NULL, NULL), 0);
	free(ks);
	assert_int_equal(sc_rpc_start(s, n_rpc, NULL), 0);
	assert_int_equal(sc_node_start(s, 1, NULL, NULL, b_fault), 0);
}

/* Running epoch 4 with op.near = A, the monitor started (with metrics), epoch 4 backed up. */
static void start_monitor(struct sc *s, const char *extra_config)
{
	assert_int_equal(sc_write_config(s, extra_config), 0);
	assert_int_equal(sc_publish_running(s, 4, 0, 0, -1), 0);
	assert_int_equal(sc_run_start(s, 1, NULL), 0);
	assert_int_equal(sc_wait_log(s, "backed up epoch 4", 1, SC_WAIT), 0);
}

static void assert_received(struct sc *s, int i, uint64_t epoch, size_t n_extra)
{
	char *served = sc_served(epoch, n_extra);
	char *got = sc_read_file(s->nodes[i].received, NULL);

	assert_non_null(got);
	if (strcmp(got, served) != 0)
		printf("received:\n%s\nserved:\n%s\n", got, served);
	assert_string_equal(got, served);
	free(got);
	free(served);
}

/* Item 3. Every endpoint names B as destination for exactly one poll (a liar in control of the
 * quorum for a moment): logged, never acted on, B never contacted. Held for two polls, it is. */
static void test_one_poll_flicker_never_pushes(void **state)
{
	struct sc *s = *state;

	world(s, sc_keyshares(4, 0, 1), 3, NULL);
	/* Long polls, so that the test reverts well within one. */
	start_monitor(s, "poll_interval = 1\n");

	assert_int_equal(sc_publish_running(s, 4, 0, 0, 1), 0);
	assert_int_equal(sc_wait_log(s, "named for op.near: acting if the next poll agrees", 1,
				     SC_WAIT),
			 0);
	assert_int_equal(sc_publish_running(s, 4, 0, 0, -1), 0);
	assert_int_equal(sc_wait_log(s, "named in one poll is not named in the next: not acted on",
				     1, SC_WAIT),
			 0);
	assert_int_equal(sc_wait_polls(s, 0, 3, SC_WAIT), 0);
	sc_node_pump(s, 1);
	assert_int_equal(s->nodes[1].accepted, 0);
	assert_int_equal(s->nodes[1].refused, 0);
	assert_int_equal(s->nodes[1].sets, 0);
	assert_int_equal(sc_log_count(s, "migration of op.near"), 0);
	assert_int_equal(sc_log_count(s, "pushed"), 0);
	assert_int_equal(sc_log_count(s, "cancelled"), 0);
	assert_true(sc_metric_get(s, "mpc_backup_pushes_total{outcome=\"ok\"}") == 0);

	/* The same destination, held: pushed once. */
	assert_int_equal(sc_publish_running(s, 4, 0, 0, 1), 0);
	assert_int_equal(sc_wait_log(s, "pushed epoch 4 (2 domains", 1, SC_WAIT), 0);
	assert_int_equal(sc_node_wait(s, 1, &s->nodes[1].sets, 1, SC_WAIT), 0);
	assert_received(s, 1, 4, 0);
	assert_int_equal(sc_log_count(s, "named in one poll"), 1);
	stop_ok(s);
}

/* Item 6. vote_add_domains during a migration: the same epoch grows a domain. The grown keyset
 * is backed up, pushed again, and the destination ends with exactly the contract's keyset. */
static void test_domain_added_during_migration(void **state)
{
	struct sc *s = *state;

	/* A holds domains 0, 1 and 2 of epoch 4 (the backup asks for what the keyset names). */
	world(s, sc_keyshares(4, 1, 1), 1, NULL);
	start_monitor(s, NULL);

	assert_int_equal(sc_publish_running(s, 4, 0, 0, 1), 0);
	assert_int_equal(sc_wait_log(s, "pushed epoch 4 (2 domains", 1, SC_WAIT), 0);
	assert_int_equal(sc_node_wait(s, 1, &s->nodes[1].sets, 1, SC_WAIT), 0);
	assert_received(s, 1, 4, 0);

	/* Domain 2 added within epoch 4; the migration record survives. */
	assert_int_equal(sc_publish_running(s, 4, 1, 0, 1), 0);
	assert_int_equal(sc_wait_log(s, "backed up epoch 4 (3 domains", 1, SC_WAIT), 0);
	assert_int_equal(sc_wait_log(s, "the contract's keyset changed since the push", 1, SC_WAIT),
			 0);
	assert_int_equal(sc_wait_log(s, "pushed epoch 4 (3 domains", 1, SC_WAIT), 0);
	assert_int_equal(sc_node_wait(s, 1, &s->nodes[1].sets, 2, SC_WAIT), 0);
	assert_received(s, 1, 4, 1);
	assert_int_equal(sc_store_files(s), 2);

	/* Once is enough: no third push while the contract does not change. */
	assert_int_equal(sc_wait_polls(s, 0, 5, SC_WAIT), 0);
	sc_node_pump(s, 1);
	assert_int_equal(s->nodes[1].sets, 2);
	assert_int_equal(sc_publish_running(s, 4, 1, 1, -1), 0);
	assert_int_equal(sc_wait_log(s, "migration concluded", 1, SC_WAIT), 0);
	stop_ok(s);
}

/* Item 7. The destination is named while the contract is Resharing: nothing is pushed, and the
 * reason is said once; Running again (the new epoch 5), it is backed up and pushed. */
static void test_resharing_waits_and_resumes(void **state)
{
	struct sc *s = *state;
	const uint64_t epochs[] = { 4, 5 };
	const size_t extras[] = { 0, 0 };

	world(s, sc_keyshares_multi(epochs, extras, 2), 1, NULL);
	start_monitor(s, NULL);

	assert_int_equal(sc_publish(s, -1, sc_state_resharing(sc_std_body(s, 4, 0, 0), 5),
				    sc_std_mi(s, 1)),
			 0);
	assert_int_equal(sc_wait_log(s,
				     "the contract is in state Resharing: the destination node "
				     "imports keyshares only in Running",
				     1, SC_WAIT),
			 0);
	assert_int_equal(sc_wait_polls(s, 0, 8, SC_WAIT), 0);
	sc_node_pump(s, 1);
	assert_int_equal(s->nodes[1].accepted, 0);
	assert_int_equal(s->nodes[1].sets, 0);
	assert_int_equal(sc_log_count(s, "imports keyshares only in Running"), 1);
	assert_int_equal(sc_log_count(s, "pushed"), 0);
	assert_int_equal(sc_log_count(s, "cancelled"), 0);

	assert_int_equal(sc_publish_running(s, 5, 0, 0, 1), 0);
	assert_int_equal(sc_wait_log(s, "backed up epoch 5", 1, SC_WAIT), 0);
	assert_int_equal(sc_wait_log(s, "the migration resumes", 1, SC_WAIT), 0);
	assert_int_equal(sc_wait_log(s, "pushed epoch 5 (2 domains", 1, SC_WAIT), 0);
	assert_int_equal(sc_node_wait(s, 1, &s->nodes[1].sets, 1, SC_WAIT), 0);
	assert_received(s, 1, 5, 0);
	stop_ok(s);
}

/* Item 9. The destination answers 500 "keyshares receiver channel is closed": the log says it
 * left onboarding and that restarting it fixes it, once; retried with backoff; restarted, it
 * takes the keyshares. */
static void test_receiver_closed(void **state)
{
	struct sc *s = *state;

	world(s, sc_keyshares(4, 0, 1), 1, "receiver-closed");
	start_monitor(s, NULL);

	assert_int_equal(sc_publish_running(s, 4, 0, 0, 1), 0);
	assert_int_equal(sc_wait_log(s, "has left onboarding", 1, SC_WAIT), 0);
	assert_int_equal(sc_node_wait(s, 1, &s->nodes[1].closed, 3, SC_WAIT), 0);
	assert_int_equal(sc_log_count(s, "has left onboarding"), 1);
	assert_int_equal(sc_log_count(s, "restart the destination node"), 1);
	assert_int_equal(sc_log_count(s, "keyshares receiver channel is closed"), 1);
	assert_int_equal(sc_log_count(s, "pushed"), 0);

	assert_int_equal(sc_node_start(s, 1, NULL, NULL, NULL), 0); /* restarted */
	assert_int_equal(sc_wait_log(s, "pushed epoch 4", 1, SC_WAIT), 0);
	assert_int_equal(sc_node_wait(s, 1, &s->nodes[1].sets, 1, SC_WAIT), 0);
	assert_received(s, 1, 4, 0);
	stop_ok(s);
}

/* Item 11. Pushed, then the contract goes Resharing and does not conclude, and has no
 * attestation for the destination: after conclude_timeout the monitor says once which
 * conditions are unmet and which signer key the contract expects. */
static void test_conclude_timeout_diagnosis(void **state)
{
	struct sc *s = *state;
	char *log, *line, *end, want[200];

	world(s, sc_keyshares(4, 0, 1), 2, NULL);
	assert_int_equal(sc_timeline_text(s, -1, "get_attestation.json", "null"), 0);
	start_monitor(s, "conclude_timeout = 1\n");

	assert_int_equal(sc_publish_running(s, 4, 0, 0, 1), 0);
	assert_int_equal(sc_wait_log(s, "pushed epoch 4", 1, SC_WAIT), 0);
	assert_int_equal(sc_publish(s, -1, sc_state_resharing(sc_std_body(s, 4, 0, 0), 5),
				    sc_std_mi(s, 1)),
			 0);
	assert_int_equal(sc_wait_log(s, "has not concluded", 1, SC_WAIT), 0);
	assert_int_equal(sc_wait_polls(s, 0, 5, SC_WAIT), 0);
	assert_int_equal(sc_log_count(s, "has not concluded"), 1);
	log = sc_log_text(s);
	line = strstr(log, "has not concluded");
	end = strchr(line, '\n');
	if (end != NULL)
		*end = '\0';
	printf("%s\n", line);
	assert_non_null(strstr(line, "the contract is in state Resharing, not Running"));
	/* sc_migration_info's signer_account_pk */
	assert_non_null(strstr(line, "ed25519:2XPuwqhg71RXRiTUMKGapd8FYWgXnxVvydYBK9tS1ex2"));
	assert_non_null(strstr(line, "cancel_node_migration"));
	snprintf(want, sizeof(want), "get_attestation(%s) returns null (2 of 2 endpoints)",
		 s->nodes[1].key);
	assert_non_null(strstr(line, want));
	assert_null(strstr(line, "keyset ("));
	free(log);
	/* It asked with the destination's key, once per endpoint. */
	assert_int_equal(mpc_fake_rpc_count(s->rpclog[0], "method=get_attestation"), 1);
	assert_int_equal(mpc_fake_rpc_count(s->rpclog[1], "method=get_attestation"), 1);
	sc_node_pump(s, 1);
	assert_int_equal(s->nodes[1].sets, 1);
	stop_ok(s);
}

/* The conclusion diagnosis asks each endpoint for the destination's attestation; an endpoint
 * that never answers must not hold a stop: SIGTERM ends the call in flight (not at its 20 s
 * rpc_timeout), the next endpoint is not asked, and the monitor exits 0. 5 s is a liveness
 * bound. */
static void test_stop_during_diagnosis(void **state)
{
	struct sc *s = *state;
	double elapsed = 0, t0;
	int st = -1;

	world(s, sc_keyshares(4, 0, 1), 2, NULL);
	assert_int_equal(sc_timeline_text(s, -1, "fault", "hang-get_attestation"), 0);
	start_monitor(s, "conclude_timeout = 1\nrpc_timeout = 20\n");
	assert_int_equal(sc_publish_running(s, 4, 0, 0, 1), 0);
	assert_int_equal(sc_wait_log(s, "pushed epoch 4", 1, SC_WAIT), 0);
	assert_int_equal(sc_publish(s, -1, sc_state_resharing(sc_std_body(s, 4, 0, 0), 5),
				    sc_std_mi(s, 1)),
			 0);
	/* wait until the monitor's get_attestation hangs on the first endpoint */
	for (t0 = sc_now(); mpc_fake_rpc_count(s->rpclog[0], "method=get_attestation") < 1;)
		if (sc_now() - t0 > SC_WAIT)
			fail_msg("the monitor never asked get_attestation");
		else
			sc_sleep_ms(50);
	sc_sleep_ms(200);
	assert_int_equal(sc_run_stop(s, SIGTERM, 5.0, &elapsed, &st), 0);
	assert_true(elapsed < 5.0);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(mpc_fake_rpc_count(s->rpclog[1], "method=get_attestation"), 0);
	assert_int_equal(sc_log_count(s, "the attestation check was stopped"), 1);
	assert_int_equal(sc_timeline_text(s, -1, "fault", "none"), 0); /* frees the fakes */
}

/* Item 16. A destination that refused every push is cancelled: the log says no push succeeded
 * and why the last failed, not "after the keyshares were pushed". */
static void test_cancel_says_what_happened(void **state)
{
	struct sc *s = *state;
	char *log, *line;

	world(s, sc_keyshares(4, 0, 1), 1, "status500");
	start_monitor(s, NULL);

	assert_int_equal(sc_publish_running(s, 4, 0, 0, 1), 0);
	assert_int_equal(sc_wait_log(s, "migration push to", 1, SC_WAIT), 0);
	assert_int_equal(sc_publish_running(s, 4, 0, 0, -1), 0);
	assert_int_equal(sc_wait_log(s, "was cancelled on the contract", 1, SC_WAIT), 0);
	log = sc_log_text(s);
	line = strstr(log, "was cancelled on the contract");
	*strchr(line, '\n') = '\0';
	printf("%s\n", line);
	assert_non_null(strstr(line, "before any push succeeded ("));
	assert_non_null(strstr(line, "push(es) failed, the last with: "));
	assert_non_null(strstr(line, "answered HTTP 500"));
	assert_null(strstr(line, "took"));
	free(log);
	stop_ok(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_one_poll_flicker_never_pushes, sc_cmocka_setup,
						sc_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_domain_added_during_migration, sc_cmocka_setup,
						sc_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_resharing_waits_and_resumes, sc_cmocka_setup,
						sc_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_receiver_closed, sc_cmocka_setup,
						sc_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_conclude_timeout_diagnosis, sc_cmocka_setup,
						sc_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_cancel_says_what_happened, sc_cmocka_setup,
						sc_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_stop_during_diagnosis, sc_cmocka_setup,
						sc_cmocka_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
