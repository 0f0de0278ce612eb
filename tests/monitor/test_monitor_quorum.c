/* test_monitor_quorum.c: K-of-N agreement and what it shows (issue 6, scenarios 7 and 9; issue
 * 9): one lying endpoint of three blocks all action; two disagreeing endpoints of three too;
 * /metrics and /healthz answer and move as the scenario goes. Three fake-rpc endpoints with
 * their own timelines; node slot 0 = A (op.near's node), slot 1 = a node a liar points at. */
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

/* A and B both serve epochs 4 and 5 (so that following a lie would show), three endpoints. */
static void world(struct sc *s)
{
	const uint64_t epochs[] = { 4, 5 };
	const size_t extras[] = { 0, 0 };
	char *ks = sc_keyshares_multi(epochs, extras, 2);

	assert_int_equal(sc_node_start(s, 0, ks, NULL, NULL), 0);
	assert_int_equal(sc_node_start(s, 1, ks, NULL, NULL), 0);
	free(ks);
	assert_int_equal(sc_rpc_start(s, 3, NULL), 0);
	assert_int_equal(sc_write_config(s, NULL), 0);
}

/* GET /healthz: its status, body in out. */
static int healthz(struct sc *s, char *out, size_t cap)
{
	int status = 0;

	assert_int_equal(sc_http_get(s->metrics_port, "/healthz", &status, out, cap), 0);
	return status;
}

static void wait_healthz(struct sc *s, int want)
{
	double deadline = sc_now() + SC_WAIT;
	char body[1024];
	int st;

	while ((st = healthz(s, body, sizeof(body))) != want && sc_now() < deadline)
		sc_sleep_ms(SC_POLL_MS);
	if (st != want)
		printf("healthz %d: %s\n", st, body);
	assert_int_equal(st, want);
}

static void wait_metric_at_least(struct sc *s, const char *name, double v)
{
	double deadline = sc_now() + SC_WAIT, got;

	while ((got = sc_metric_get(s, name)) < v && sc_now() < deadline)
		sc_sleep_ms(SC_POLL_MS);
	if (got < v) {
		printf("%s = %g, wanted >= %g\n", name, got, v);
		sc_dump(s);
	}
	assert_true(got >= v);
}

/* 7a. One endpoint of three lies (it says op.near's node is B). A responding endpoint that
 * disagrees blocks every action (issue 9): no backup from either node, said once in the log,
 * counted, /healthz 503 with the reason; the liar shows in the per-endpoint metrics. When it
 * tells the truth again, the backup is made from A. */
static void test_one_liar_blocks(void **state)
{
	struct sc *s = *state;
	char name[256], body[2048];

	world(s);
	assert_int_equal(sc_publish_running(s, 4, 0, 0, -1), 0);
	/* Endpoint 2 lies about op.near's node (and so about whom to trust). */
	{
		json_t *lie = sc_state_running(sc_std_body(s, 4, 0, 1));

		assert_int_equal(sc_timeline(s, 2, "lie-state.json", lie), 0);
		json_decref(lie);
	}
	assert_int_equal(sc_timeline_text(s, 2, "fault", "lie\n"), 0);
	assert_int_equal(sc_run_start(s, 1, NULL), 0);

	assert_int_equal(sc_wait_log(s, "taking no action", 1, SC_WAIT), 0);
	assert_int_equal(sc_wait_polls(s, 0, 6, SC_WAIT), 0);
	sc_node_pump(s, 0);
	sc_node_pump(s, 1);
	assert_int_equal(s->nodes[0].accepted, 0);
	assert_int_equal(s->nodes[1].accepted, 0);
	assert_int_equal(sc_store_files(s), 0);
	assert_int_equal(sc_log_count(s, "taking no action"), 1);
	snprintf(name, sizeof(name),
		 "mpc_backup_contract_reads_total{endpoint=\"%s\",outcome=\"disagree\"}",
		 s->rpc[2].url);
	assert_true(sc_metric_get(s, name) >= 3);
	assert_true(sc_metric_get(s, "mpc_backup_endpoint_disagreements_total") >= 3);
	/* The log names every endpoint and what it said, the liar's different node among them. */
	{
		char *log = sc_log_text(s), *line = strstr(log, "taking no action"), *start = line;

		assert_non_null(line);
		while (start > log && start[-1] != '\n')
			start--;
		*strchr(line, '\n') = '\0';
		printf("%s\n", start);
		assert_non_null(strstr(start, s->rpc[0].url));
		assert_non_null(strstr(start, s->rpc[2].url));
		free(log);
	}
	assert_int_equal(healthz(s, body, sizeof(body)), 503);
	printf("%s", body);
	assert_non_null(strstr(body, "contract: RPC endpoints disagree: "));

	/* The liar tells the truth: the backup is made from A, /healthz recovers. */
	assert_int_equal(sc_timeline_text(s, 2, "fault", "none\n"), 0);
	assert_int_equal(sc_wait_log(s, "contract reads agree again", 1, SC_WAIT), 0);
	assert_int_equal(sc_wait_log(s, "backed up epoch 4", 1, SC_WAIT), 0);
	wait_healthz(s, 200);
	sc_node_pump(s, 0);
	sc_node_pump(s, 1);
	assert_int_equal(s->nodes[0].gets, 1);
	assert_int_equal(s->nodes[1].accepted, 0);
	stop_ok(s);
}

/* 7b. Two of three endpoints disagree (with the truth and with each other): no action at all,
 * said once in the log, counted in the metrics, /healthz 503 with the reason. When they agree
 * again the backup is made. */
static void test_two_disagreeing_stop_all_action(void **state)
{
	struct sc *s = *state;
	char body[1024];

	world(s);
	assert_int_equal(sc_publish_running(s, 4, 0, 0, -1), 0);
	assert_int_equal(sc_publish(s, 1, sc_state_running(sc_std_body(s, 4, 0, 1)),
				    sc_std_mi(s, -1)),
			 0);
	assert_int_equal(sc_publish(s, 2, sc_state_running(sc_std_body(s, 5, 0, 0)),
				    sc_std_mi(s, -1)),
			 0);
	assert_int_equal(sc_run_start(s, 1, NULL), 0);

	assert_int_equal(sc_wait_log(s, "taking no action until 2 of 3 endpoints agree", 1,
				     SC_WAIT),
			 0);
	assert_int_equal(sc_wait_polls(s, 0, 10, SC_WAIT), 0);
	sc_node_pump(s, 0);
	sc_node_pump(s, 1);
	assert_int_equal(s->nodes[0].accepted, 0);
	assert_int_equal(s->nodes[1].accepted, 0);
	assert_int_equal(sc_store_files(s), 0);
	assert_int_equal(sc_log_count(s, "taking no action"), 1);
	assert_int_equal(sc_log_count(s, "backed up"), 0);
	assert_true(sc_metric_get(s, "mpc_backup_endpoint_disagreements_total") >= 5);
	assert_true(sc_metric_get(s, "mpc_backup_healthy") == 0);
	assert_int_equal(healthz(s, body, sizeof(body)), 503);
	assert_non_null(strstr(body, "RPC endpoints disagree"));

	/* Endpoint 2 comes back to the truth: 2 of 3 agree, but endpoint 1 still lies, and one
	 * responding endpoint that disagrees blocks: still no action. */
	assert_int_equal(sc_publish(s, 2, sc_state_running(sc_std_body(s, 4, 0, 0)),
				    sc_std_mi(s, -1)),
			 0);
	assert_int_equal(sc_wait_polls(s, 0, 5, SC_WAIT), 0);
	assert_int_equal(sc_log_count(s, "backed up"), 0);
	assert_int_equal(sc_store_files(s), 0);
	/* Endpoint 1 too: all agree. */
	assert_int_equal(sc_publish(s, 1, sc_state_running(sc_std_body(s, 4, 0, 0)),
				    sc_std_mi(s, -1)),
			 0);
	assert_int_equal(sc_wait_log(s, "contract reads agree again", 1, SC_WAIT), 0);
	assert_int_equal(sc_wait_log(s, "backed up epoch 4", 1, SC_WAIT), 0);
	sc_node_pump(s, 0);
	sc_node_pump(s, 1);
	assert_int_equal(s->nodes[0].gets, 1);
	assert_int_equal(s->nodes[1].accepted, 0);
	wait_healthz(s, 200);
	stop_ok(s);
}

/* 9. /metrics and /healthz through a scenario: backups_total{outcome="ok"} counts backups,
 * healthz is 200 while all is well and 503 with a reason while the endpoints disagree. */
static void test_metrics_and_healthz_move(void **state)
{
	struct sc *s = *state;
	const char *ok = "mpc_backup_backups_total{outcome=\"ok\"}";
	char body[1024];
	double polls;
	int status = 0;

	world(s);
	assert_int_equal(sc_publish_running(s, 4, 0, 0, -1), 0);
	assert_int_equal(sc_run_start(s, 1, NULL), 0);
	assert_int_equal(sc_wait_log(s, "metrics on 127.0.0.1:0 (port ", 1, SC_WAIT), 0);

	assert_int_equal(sc_wait_log(s, "backed up epoch 4", 1, SC_WAIT), 0);
	assert_true(sc_metric_get(s, ok) == 1);
	assert_true(sc_metric_get(s, "mpc_backup_last_backup_epoch") == 4);
	assert_true(sc_metric_get(s, "mpc_backup_up") == 1);
	wait_healthz(s, 200);
	assert_int_equal(healthz(s, body, sizeof(body)), 200);
	assert_string_equal(body, "ok\n");
	assert_int_equal(sc_http_get(s->metrics_port, "/nope", &status, body, sizeof(body)), 0);
	assert_int_equal(status, 404);

	assert_int_equal(sc_publish_running(s, 5, 0, 0, -1), 0);
	assert_int_equal(sc_wait_log(s, "backed up epoch 5", 1, SC_WAIT), 0);
	assert_true(sc_metric_get(s, ok) == 2);
	assert_true(sc_metric_get(s, "mpc_backup_last_backup_epoch") == 5);
	assert_true(sc_metric_get(s, "mpc_backup_token_operation_seconds_count") >= 2);

	/* Endpoints 1 and 2 go separate ways. */
	assert_int_equal(sc_publish(s, 1, sc_state_running(sc_std_body(s, 5, 0, 1)),
				    sc_std_mi(s, -1)),
			 0);
	assert_int_equal(sc_publish(s, 2, sc_state_running(sc_std_body(s, 6, 0, 0)),
				    sc_std_mi(s, -1)),
			 0);
	wait_healthz(s, 503);
	assert_int_equal(healthz(s, body, sizeof(body)), 503);
	assert_non_null(strstr(body, "contract: RPC endpoints disagree"));
	wait_metric_at_least(s, "mpc_backup_endpoint_disagreements_total", 1);
	polls = sc_metric_get(s, "mpc_backup_polls_total");
	wait_metric_at_least(s, "mpc_backup_polls_total", polls + 3);
	assert_true(sc_metric_get(s, ok) == 2);
	assert_true(sc_metric_get(s, "mpc_backup_healthy") == 0);

	assert_int_equal(sc_publish_running(s, 5, 0, 0, -1), 0);
	wait_healthz(s, 200);
	assert_true(sc_metric_get(s, "mpc_backup_healthy") == 1);
	assert_true(sc_metric_get(s, ok) == 2);
	assert_true(sc_metric_get(s, "mpc_backup_backups_total{outcome=\"error\"}") == 0);
	sc_node_pump(s, 0);
	assert_int_equal(s->nodes[0].gets, 2);
	stop_ok(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_one_liar_blocks, sc_cmocka_setup,
						sc_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_two_disagreeing_stop_all_action,
						sc_cmocka_setup, sc_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_metrics_and_healthz_move, sc_cmocka_setup,
						sc_cmocka_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
