/* test_monitor_ops.c: operating the monitor (issue 6): the RPC URL's API key never reaches the
 * log or the metrics, even when an endpoint echoes it back in an error; SIGHUP re-reads the
 * configuration file (and a broken file keeps the old one); SIGINT stops like SIGTERM. */
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

static void stop_ok(struct sc *s, int sig)
{
	double elapsed = 0;
	int st = -1;

	assert_int_equal(sc_run_stop(s, sig, 10.0, &elapsed, &st), 0);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_true(elapsed < SC_STOP_BOUND_S);
}

static void assert_no_secret(const char *text)
{
	if (strstr(text, "SECRET123") != NULL || strstr(text, "secret-path") != NULL)
		printf("secret found in:\n%s\n", text);
	assert_null(strstr(text, "SECRET123"));
	assert_null(strstr(text, "secret-path"));
	assert_null(strstr(text, "apikey"));
}

/* The API key in the RPC URLs appears nowhere: not in the disagreement message quoting an
 * endpoint that echoes the request's path and query, not in the metrics' endpoint labels. */
static void test_rpc_api_key_never_logged(void **state)
{
	struct sc *s = *state;
	char *ks = sc_keyshares(4, 0, 0), *body = malloc(128 * 1024), *log;
	int status = 0;

	assert_non_null(body);
	assert_int_equal(sc_node_start(s, 0, ks, NULL, NULL), 0);
	free(ks);
	assert_int_equal(sc_rpc_start(s, 2, "/secret-path?apikey=SECRET123"), 0);
	assert_int_equal(sc_write_config(s, NULL), 0);
	assert_int_equal(sc_publish_running(s, 4, 0, 0, -1), 0);
	/* Endpoint 1 answers with a JSON-RPC error quoting the path and query it was sent. */
	assert_int_equal(sc_timeline_text(s, 1, "fault", "echo\n"), 0);
	assert_int_equal(sc_run_start(s, 1, NULL), 0);
	assert_int_equal(sc_wait_log(s, "taking no action until 2 of 2 endpoints agree", 1,
				     SC_WAIT),
			 0);
	assert_int_equal(sc_wait_polls(s, 1, 3, SC_WAIT), 0);
	assert_int_equal(sc_http_get(s->metrics_port, "/metrics", &status, body, 128 * 1024), 0);
	assert_int_equal(status, 200);
	assert_non_null(strstr(body, s->rpc[1].url)); /* the endpoint is named, redacted */
	assert_no_secret(body);
	assert_int_equal(sc_http_get(s->metrics_port, "/healthz", &status, body, 128 * 1024), 0);
	assert_int_equal(status, 503);
	assert_no_secret(body);

	/* The endpoint recovers: the backup is made, nothing secret logged on the way. */
	assert_int_equal(sc_timeline_text(s, 1, "fault", "none\n"), 0);
	assert_int_equal(sc_wait_log(s, "contract reads agree again", 1, SC_WAIT), 0);
	assert_int_equal(sc_wait_log(s, "backed up epoch 4", 1, SC_WAIT), 0);
	assert_int_equal(sc_http_get(s->metrics_port, "/metrics", &status, body, 128 * 1024), 0);
	assert_no_secret(body);
	stop_ok(s, SIGTERM);
	log = sc_log_text(s);
	assert_non_null(strstr(log, s->rpc[1].url)); /* named in the disagreement, redacted */
	assert_no_secret(log);
	free(log);
	free(body);
}

/* SIGHUP re-reads the config file: a corrected address override takes effect (the backup that
 * failed at the wrong address succeeds), a new poll interval is reported; a broken file is
 * refused and the running configuration kept. */
static void test_sighup_rereads_config(void **state)
{
	struct sc *s = *state;
	char *ks = sc_keyshares(4, 0, 0), extra[300];
	unsigned dead;

	/* A port where nothing listens. */
	assert_int_equal(sc_node_reserve_port(s, 3), 0);
	dead = s->nodes[3].port;
	s->nodes[3].port = 0;
	/* The config sends node A's key to the dead port (A has no port yet, so no line of its
	 * own). */
	snprintf(extra, sizeof(extra), "address.key.%s = 127.0.0.1:%u\n", s->nodes[0].key, dead);
	assert_int_equal(sc_write_config(s, extra), 0);
	assert_int_equal(sc_node_start(s, 0, ks, NULL, NULL), 0);
	free(ks);
	assert_int_equal(sc_rpc_start(s, 1, NULL), 0);
	assert_int_equal(sc_publish_running(s, 4, 0, 0, -1), 0);
	assert_int_equal(sc_run_start(s, 0, NULL), 0);
	assert_int_equal(sc_wait_log(s, "backup of epoch 4 failed", 1, SC_WAIT), 0);
	assert_int_equal(sc_log_count(s, "cannot connect"), 1);

	/* Correct the address and slow the polls down; SIGHUP. */
	assert_int_equal(sc_write_config(s, "poll_interval = 0.3\n"), 0);
	assert_int_equal(kill(s->run_pid, SIGHUP), 0);
	assert_int_equal(sc_wait_log(s, "configuration re-read", 1, SC_WAIT), 0);
	assert_int_equal(sc_log_count(s, "poll every 0.3 s"), 1);
	assert_int_equal(sc_wait_log(s, "backed up epoch 4", 1, SC_WAIT), 0);
	assert_int_equal(sc_log_count(s, "backup works again"), 1);
	sc_node_pump(s, 0);
	assert_int_equal(s->nodes[0].gets, 1);

	/* A broken file: refused, the process keeps running and polling with the old settings. */
	assert_int_equal(sc_write_config(s, "this is not a setting\n"), 0);
	assert_int_equal(kill(s->run_pid, SIGHUP), 0);
	assert_int_equal(sc_wait_log(s, "configuration not reloaded", 1, SC_WAIT), 0);
	assert_int_equal(sc_wait_polls(s, 0, 4, SC_WAIT), 0);
	assert_true(sc_run_alive(s));
	assert_int_equal(sc_log_count(s, "configuration re-read"), 1);
	stop_ok(s, SIGINT);
	assert_int_equal(sc_log_count(s, "stopping on a signal"), 1);
}

/* SIGHUP with `contract = ...` in the config file, then a backup: the store header records the
 * contract account.
 * Regression test for a fixed bug: src/cli/cmd_run.c reload() frees the old configuration's
 * `contract` string (it is not in the keep-list of settings moved into the fresh config), but
 * the session's ops still point at it (src/cli/session.c: s->ops.contract = o->contract, set
 * from cfg->contract by session_options), so the next backup after a SIGHUP writes a freed
 * string into the store header: heap-use-after-free under ASan, garbage or a crash otherwise. */
static void test_sighup_then_backup_records_contract(void **state)
{
	struct sc *s = *state;
	const uint64_t epochs[] = { 4, 5 };
	const size_t extras[] = { 0, 0 };
	char *ks, out[16384];

	ks = sc_keyshares_multi(epochs, extras, 2);
	assert_int_equal(sc_node_start(s, 0, ks, NULL, NULL), 0);
	free(ks);
	assert_int_equal(sc_rpc_start(s, 1, NULL), 0);
	assert_int_equal(sc_write_config(s, "contract = mpc.test-contract.near\n"), 0);
	assert_int_equal(sc_publish_running(s, 4, 0, 0, -1), 0);
	assert_int_equal(sc_run_start(s, 0, NULL), 0);
	assert_int_equal(sc_wait_log(s, "backed up epoch 4", 1, SC_WAIT), 0);
	assert_int_equal(kill(s->run_pid, SIGHUP), 0);
	assert_int_equal(sc_wait_log(s, "configuration re-read", 1, SC_WAIT), 0);
	assert_int_equal(sc_publish_running(s, 5, 0, 0, -1), 0);
	assert_int_equal(sc_wait_log(s, "backed up epoch 5", 1, SC_WAIT), 0);
	stop_ok(s, SIGTERM);
	assert_int_equal(sc_store_cmd(s, "list --json", out, sizeof(out)), 0);
	assert_int_equal(sc_count(out, "\"contract\": \"mpc.test-contract.near\""), 2);
}

/* SIGHUP with a new node_timeout: the next fetch uses it ("everything else takes effect at the
 * next poll", docs/operations.md and src/cli/cmd_run.c reload()).
 * Regression test for a fixed bug: the node timeouts are copied into the session's ops once at
 * startup (src/cli/session.c: s->ops.timeout_ms; cmd_run.c: s.ops.connect_timeout_ms) and
 * mpc_monitor_reconfigure() does not update m->ops, so node_timeout and node_connect_timeout
 * changes are silently ignored until a restart although the log says the configuration was
 * re-read. */
static void test_sighup_node_timeout_takes_effect(void **state)
{
	struct sc *s = *state;
	char *ks;

	ks = sc_keyshares(4, 0, 0);
	assert_int_equal(sc_node_reserve_port(s, 0), 0); /* down at first: fails fast */
	assert_int_equal(sc_rpc_start(s, 1, NULL), 0);
	assert_int_equal(sc_write_config(s, "node_timeout = 30\n"), 0);
	assert_int_equal(sc_publish_running(s, 4, 0, 0, -1), 0);
	assert_int_equal(sc_run_start(s, 0, NULL), 0);
	assert_int_equal(sc_wait_log(s, "backup of epoch 4 failed", 1, SC_WAIT), 0);
	assert_int_equal(sc_write_config(s, "node_timeout = 0.5\n"), 0);
	assert_int_equal(kill(s->run_pid, SIGHUP), 0);
	assert_int_equal(sc_wait_log(s, "configuration re-read", 1, SC_WAIT), 0);
	/* Now the node answers nothing: the fetch must give up after 0.5 s, not 30 s. */
	assert_int_equal(sc_node_start(s, 0, ks, NULL, "hang"), 0);
	free(ks);
	assert_int_equal(sc_wait_log(s, "no complete answer within 500 ms", 1, 10.0), 0);
	stop_ok(s, SIGTERM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rpc_api_key_never_logged, sc_cmocka_setup,
						sc_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_sighup_rereads_config, sc_cmocka_setup,
						sc_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_sighup_then_backup_records_contract,
						sc_cmocka_setup, sc_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_sighup_node_timeout_takes_effect,
						sc_cmocka_setup, sc_cmocka_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
