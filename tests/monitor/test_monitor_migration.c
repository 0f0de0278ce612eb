/* test_monitor_migration.c: the monitor's push duty, end to end (issue 6, scenarios 5 and 6):
 * a migration pushed and concluded, cancelled, redirected to another destination, refused for a
 * destination whose TLS key is not the contract's, and the seed design's Recovery state.
 * Node slots: 0 = A (the operator's running node, serves the keyshares), 1 = B, 2 = C. */
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

/* A serving epoch 4 (with an unrelated epoch-3 keyshare) and one endpoint. */
static void source_world(struct sc *s)
{
	char *ks = sc_keyshares(4, 0, 1);

	assert_int_equal(sc_node_start(s, 0, ks, NULL, NULL), 0);
	free(ks);
	assert_int_equal(sc_rpc_start(s, 1, NULL), 0);
}

/* Config written, Running epoch 4 with op.near = A, the monitor started (with metrics) and the
 * keyset backed up. */
static void start_monitor(struct sc *s, const char *extra_config)
{
	assert_int_equal(sc_write_config(s, extra_config), 0);
	assert_int_equal(sc_publish_running(s, 4, 0, 0, -1), 0);
	assert_int_equal(sc_run_start(s, 1, NULL), 0);
	assert_int_equal(sc_wait_log(s, "backed up epoch 4", 1, SC_WAIT), 0);
}

/* The bytes node slot i received equal what A serves for epoch 4. */
static void assert_received_served(struct sc *s, int i)
{
	char *served = sc_served(4, 0);
	char *got = sc_read_file(s->nodes[i].received, NULL);

	assert_non_null(got);
	if (strcmp(got, served) != 0)
		printf("received:\n%s\nserved:\n%s\n", got, served);
	assert_string_equal(got, served);
	free(got);
	free(served);
}

/* Nothing at all happens at the nodes over several polls. */
static void assert_quiet(struct sc *s)
{
	int acc[SC_MAX_NODES], ref[SC_MAX_NODES];
	char *before, *after;

	for (int i = 0; i < SC_MAX_NODES; i++) {
		sc_node_pump(s, i);
		acc[i] = s->nodes[i].accepted;
		ref[i] = s->nodes[i].refused;
	}
	before = sc_log_text(s);
	assert_int_equal(sc_wait_polls(s, 0, 10, SC_WAIT), 0);
	after = sc_log_text(s);
	for (int i = 0; i < SC_MAX_NODES; i++) {
		sc_node_pump(s, i);
		assert_int_equal(s->nodes[i].accepted, acc[i]);
		assert_int_equal(s->nodes[i].refused, ref[i]);
	}
	assert_string_equal(before, after);
	free(before);
	free(after);
}

/* 5a. A destination appears: the keyshares arrive byte-identical; it becomes the participant:
 * "migration concluded" and the monitor goes quiet. */
static void test_migration_push_and_conclude(void **state)
{
	struct sc *s = *state;

	source_world(s);
	assert_int_equal(sc_node_start(s, 1, NULL, NULL, NULL), 0);
	start_monitor(s, NULL);

	assert_int_equal(sc_publish_running(s, 4, 0, 0, 1), 0);
	assert_int_equal(sc_wait_log(s, "pushed epoch 4 (2 domains", 1, SC_WAIT), 0);
	assert_int_equal(sc_node_wait(s, 1, &s->nodes[1].sets, 1, SC_WAIT), 0);
	assert_received_served(s, 1);
	/* A 200 is not success: it waits for the contract, without pushing again. */
	assert_quiet(s);
	assert_int_equal(s->nodes[1].sets, 1);
	assert_int_equal(s->nodes[0].gets, 1);

	/* The contract concludes: B is op.near's participant, no destination. */
	assert_int_equal(sc_publish_running(s, 4, 0, 1, -1), 0);
	assert_int_equal(sc_wait_log(s, "migration concluded", 1, SC_WAIT), 0);
	/* "named ... acting if the next poll agrees", "migration of", "concluded" */
	assert_int_equal(sc_log_count(s, s->nodes[1].key), 3);
	assert_quiet(s);
	assert_int_equal(s->nodes[0].gets, 1);
	assert_int_equal(s->nodes[1].gets, 0);
	assert_int_equal(s->nodes[1].sets, 1);
	assert_int_equal(sc_log_count(s, "migration concluded"), 1);
	assert_int_equal(sc_log_count(s, "cancelled"), 0);
	assert_true(sc_metric_get(s, "mpc_backup_migrations_total{outcome=\"concluded\"}") == 1);
	assert_true(sc_metric_get(s, "mpc_backup_pushes_total{outcome=\"ok\"}") == 1);
	assert_int_equal(sc_store_files(s), 1);
	stop_ok(s);
}

/* 5b. The destination refuses our pushes; then the contract drops the destination: "cancelled"
 * logged once, and nothing is pushed afterwards even when the node would take it. */
static void test_migration_cancelled(void **state)
{
	struct sc *s = *state;
	int refused;

	source_world(s);
	assert_int_equal(sc_node_start(s, 1, NULL, s->other_key, NULL), 0); /* refuses us */
	start_monitor(s, NULL);

	assert_int_equal(sc_publish_running(s, 4, 0, 0, 1), 0);
	assert_int_equal(sc_wait_log(s, "migration push to", 1, SC_WAIT), 0);
	assert_int_equal(sc_node_wait(s, 1, &s->nodes[1].refused, 2, SC_WAIT), 0);
	assert_int_equal(sc_log_count(s, "migration push to"), 1);

	assert_int_equal(sc_publish_running(s, 4, 0, 0, -1), 0);
	assert_int_equal(sc_wait_log(s, "was cancelled on the contract", 1, SC_WAIT), 0);
	assert_int_equal(sc_log_count(s, "before any push succeeded"), 1);

	/* B now accepts us (same key, same address): still nothing arrives. */
	sc_node_pump(s, 1);
	refused = s->nodes[1].refused;
	assert_int_equal(sc_node_start(s, 1, NULL, NULL, NULL), 0);
	assert_quiet(s);
	assert_int_equal(s->nodes[1].sets, 0);
	assert_int_equal(s->nodes[1].accepted, 0);
	assert_int_equal(s->nodes[1].refused, refused);
	assert_int_equal(sc_log_count(s, "pushed"), 0);
	assert_int_equal(sc_log_count(s, "was cancelled"), 1);
	assert_true(sc_metric_get(s, "mpc_backup_migrations_total{outcome=\"cancelled\"}") == 1);
	assert_true(sc_metric_get(s, "mpc_backup_pushes_total{outcome=\"ok\"}") == 0);
	stop_ok(s);
}

/* 5c. The destination changes from B (refusing) to C: pushed to C only. */
static void test_migration_destination_changed(void **state)
{
	struct sc *s = *state;
	int refused;

	source_world(s);
	assert_int_equal(sc_node_start(s, 1, NULL, s->other_key, NULL), 0); /* refuses us */
	assert_int_equal(sc_node_start(s, 2, NULL, NULL, NULL), 0);
	start_monitor(s, NULL);

	assert_int_equal(sc_publish_running(s, 4, 0, 0, 1), 0);
	assert_int_equal(sc_wait_log(s, "migration push to", 1, SC_WAIT), 0);
	assert_int_equal(sc_node_wait(s, 1, &s->nodes[1].refused, 1, SC_WAIT), 0);

	assert_int_equal(sc_publish_running(s, 4, 0, 0, 2), 0);
	assert_int_equal(sc_wait_log(s, "destination changed", 1, SC_WAIT), 0);
	assert_int_equal(sc_wait_log(s, "pushed epoch 4", 1, SC_WAIT), 0);
	assert_int_equal(sc_node_wait(s, 2, &s->nodes[2].sets, 1, SC_WAIT), 0);
	assert_received_served(s, 2);
	sc_node_pump(s, 1);
	refused = s->nodes[1].refused;
	assert_quiet(s);
	assert_int_equal(s->nodes[1].refused, refused);
	assert_int_equal(s->nodes[1].sets, 0);
	assert_int_equal(s->nodes[1].accepted, 0);
	assert_int_equal(s->nodes[2].sets, 1);
	assert_int_equal(sc_log_count(s, "pushed epoch"), 1);

	assert_int_equal(sc_publish_running(s, 4, 0, 2, -1), 0);
	assert_int_equal(sc_wait_log(s, "migration concluded", 1, SC_WAIT), 0);
	stop_ok(s);
}

/* 5d. The contract names destination key X, but the node at that address presents Y: refused
 * loudly (both keys in the log, once), nothing pushed. */
static void test_migration_destination_wrong_key(void **state)
{
	struct sc *s = *state;
	const char *err_metric = "mpc_backup_pushes_total{outcome=\"error\"}";
	char extra[300], *log;
	double deadline, errors;

	source_world(s);
	assert_int_equal(sc_node_start(s, 1, NULL, NULL, NULL), 0); /* Y: would accept us */
	/* The contract's destination is slot 3's key X; its address is B's. */
	snprintf(extra, sizeof(extra), "address.key.%s = 127.0.0.1:%u\n", s->nodes[3].key,
		 s->nodes[1].port);
	start_monitor(s, extra);

	assert_int_equal(sc_publish_running(s, 4, 0, 0, 3), 0);
	assert_int_equal(sc_wait_log(s, "migration push to", 1, SC_WAIT), 0);
	deadline = sc_now() + SC_WAIT;
	while ((errors = sc_metric_get(s, err_metric)) < 3 && sc_now() < deadline)
		sc_sleep_ms(SC_POLL_MS);
	assert_true(errors >= 3);
	log = sc_log_text(s);
	{
		char *line = strstr(log, "migration push to"), *start = line, *end;

		assert_non_null(line);
		while (start > log && start[-1] != '\n')
			start--;
		end = strchr(line, '\n');
		if (end != NULL)
			*end = '\0';
		printf("%s\n", start);
		assert_non_null(strstr(start, " ERROR "));
		assert_non_null(strstr(line, s->nodes[1].key)); /* what it presented */
		assert_non_null(strstr(line, s->nodes[3].key)); /* what the contract says */
	}
	free(log);
	assert_int_equal(sc_log_count(s, "migration push to"), 1);
	assert_int_equal(sc_log_count(s, "pushed"), 0);
	sc_node_pump(s, 1);
	assert_int_equal(s->nodes[1].sets, 0);
	assert_int_equal(s->nodes[1].accepted, 0);
	stop_ok(s);
}

/* 6. The seed design's Recovery state: op.near's prospective participant (B, new TLS key and
 * URL) gets the keyshares, starting with an empty store (backed up from A first); concluded
 * when Running again with op.near = B. */
static void test_recovery_push_and_conclude(void **state)
{
	struct sc *s = *state;
	struct sc_part prospective[3] = {
		{ "alice.near", 0, "https://alice.example",
		  "ed25519:2XPuwqhg71RXRiTUMKGapd8FYWgXnxVvydYBK9tS1ex2" },
		{ SC_OPERATOR, 1, sc_node_url(1), s->nodes[1].key },
		{ "bob.near", 2, "https://bob.example",
		  "ed25519:JBjY7yjbfQ51na3bStPPYMyfModUTFHco5xUNEem3uu6" },
	};

	source_world(s);
	assert_int_equal(sc_node_start(s, 1, NULL, NULL, NULL), 0);
	assert_int_equal(sc_write_config(s, NULL), 0);
	assert_int_equal(sc_publish(s, -1,
				    sc_state_recovery(sc_std_body(s, 4, 0, 0), prospective, 3),
				    sc_std_mi(s, -1)),
			 0);
	assert_int_equal(sc_run_start(s, 1, NULL), 0);
	assert_int_equal(sc_wait_log(s, "backed up epoch 4", 1, SC_WAIT), 0);
	assert_int_equal(sc_wait_log(s, "recovery of op.near to", 1, SC_WAIT), 0);
	assert_int_equal(sc_wait_log(s, "pushed epoch 4 (2 domains", 1, SC_WAIT), 0);
	assert_int_equal(sc_node_wait(s, 1, &s->nodes[1].sets, 1, SC_WAIT), 0);
	assert_received_served(s, 1);
	assert_quiet(s);

	assert_int_equal(sc_publish_running(s, 4, 0, 1, -1), 0);
	assert_int_equal(sc_wait_log(s, "recovery concluded", 1, SC_WAIT), 0);
	assert_quiet(s);
	assert_int_equal(s->nodes[0].gets, 1);
	assert_int_equal(s->nodes[1].sets, 1);
	assert_int_equal(s->nodes[1].gets, 0);
	assert_int_equal(sc_log_count(s, "cancelled"), 0);
	stop_ok(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_migration_push_and_conclude, sc_cmocka_setup,
						sc_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_migration_cancelled, sc_cmocka_setup,
						sc_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_migration_destination_changed, sc_cmocka_setup,
						sc_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_migration_destination_wrong_key,
						sc_cmocka_setup, sc_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_recovery_push_and_conclude, sc_cmocka_setup,
						sc_cmocka_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
