/* test_monitor_odd.c: the contract's oddities and the health endpoint under pressure (issue 9
 * items 12, 14, 16): the registration vanishing and returning, the epoch going backwards, the
 * operator leaving the participants (each logged once when it starts and once when it clears,
 * counted, shown in /healthz and /metrics); idle connections to the metrics port never keep a
 * probe from an answer; a quorum of one among several endpoints is warned about.
 * Node slot 0 = A (op.near's node, serves epochs 4 and 5). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/monitor/scen.h"

static void stop_ok(struct sc *s)
{
	double elapsed = 0;
	int st = -1;

	assert_int_equal(sc_run_stop(s, SIGTERM, 10.0, &elapsed, &st), 0);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void start(struct sc *s, size_t n_rpc, const char *const *args)
{
	const uint64_t epochs[] = { 4, 5 };
	const size_t extras[] = { 0, 0 };
	char *ks = sc_keyshares_multi(epochs, extras, 2);

	assert_int_equal(sc_node_start(s, 0, ks, NULL, NULL), 0);
	free(ks);
	assert_int_equal(sc_rpc_start(s, n_rpc, NULL), 0);
	assert_int_equal(sc_write_config(s, NULL), 0);
	assert_int_equal(sc_publish_running(s, 4, 0, 0, -1), 0);
	assert_int_equal(sc_run_start(s, 1, args), 0);
	assert_int_equal(sc_wait_log(s, "backed up epoch 4", 1, SC_WAIT), 0);
}

static int healthz(struct sc *s, char *out, size_t cap)
{
	int status = 0;

	assert_int_equal(sc_http_get(s->metrics_port, "/healthz", &status, out, cap), 0);
	return status;
}

/* Wait for /healthz to answer `want` with `needle` in the body (NULL: any). */
static void wait_healthz(struct sc *s, int want, const char *needle)
{
	double deadline = sc_now() + SC_WAIT;
	char body[2048];
	int st;

	while (((st = healthz(s, body, sizeof(body))) != want ||
		(needle != NULL && strstr(body, needle) == NULL)) &&
	       sc_now() < deadline)
		sc_sleep_ms(SC_POLL_MS);
	if (st != want || (needle != NULL && strstr(body, needle) == NULL))
		printf("healthz %d: %s\n", st, body);
	assert_int_equal(st, want);
	if (needle != NULL)
		assert_non_null(strstr(body, needle));
}

static void assert_anomaly(struct sc *s, const char *kind, double active, double total)
{
	char name[128];

	snprintf(name, sizeof(name), "mpc_backup_anomaly{kind=\"%s\"}", kind);
	assert_true(sc_metric_get(s, name) == active);
	snprintf(name, sizeof(name), "mpc_backup_anomalies_total{kind=\"%s\"}", kind);
	assert_true(sc_metric_get(s, name) == total);
}

/* Items 12 and 14. Orphan cleanup removes op.near's registration: WARN once with the command
 * to run, /healthz 503, counted; registered again: cleared once, /healthz 200. The backup duty
 * keeps working throughout (it does not depend on the registration being visible). */
static void test_registration_vanishes_and_returns(void **state)
{
	struct sc *s = *state;

	start(s, 1, NULL);
	wait_healthz(s, 200, "ok");
	assert_anomaly(s, "registration", 0, 0);

	assert_int_equal(sc_publish(s, -1, sc_state_running(sc_std_body(s, 4, 0, 0)),
				    sc_migration_info(NULL, NULL, NULL)),
			 0);
	assert_int_equal(sc_wait_log(s,
				     "no backup service is registered on the contract for "
				     "op.near",
				     1, SC_WAIT),
			 0);
	wait_healthz(s, 503, "registration: no backup service is registered");
	assert_int_equal(sc_wait_polls(s, 0, 4, SC_WAIT), 0);
	assert_int_equal(sc_log_count(s, "no backup service is registered"), 1);
	assert_int_equal(sc_log_count(s, "`mpc-backup register --account op.near --contract "
					 "v1.signer`"),
			 1);
	assert_int_equal(sc_log_count(s, " WARN  no backup service is registered"), 1);
	assert_anomaly(s, "registration", 1, 1);
	assert_true(sc_metric_get(s, "mpc_backup_healthy") == 0);

	assert_int_equal(sc_publish_running(s, 4, 0, 0, -1), 0);
	assert_int_equal(sc_wait_log(s,
				     "cleared: migration_info registers this service's key again",
				     1, SC_WAIT),
			 0);
	wait_healthz(s, 200, "ok");
	assert_anomaly(s, "registration", 0, 1);
	assert_int_equal(sc_wait_polls(s, 0, 3, SC_WAIT), 0);
	assert_int_equal(sc_log_count(s, "cleared:"), 1);
	stop_ok(s);
}

/* Item 14. The epoch goes backwards (5, then 4) and op.near leaves the participants: each a
 * WARN once when it starts and once when it clears, counted, in /healthz and /metrics. */
static void test_epoch_backwards_and_operator_gone(void **state)
{
	struct sc *s = *state;
	struct sc_part without_op[2] = {
		{ "alice.near", 0, "https://alice.example",
		  "ed25519:2XPuwqhg71RXRiTUMKGapd8FYWgXnxVvydYBK9tS1ex2" },
		{ "bob.near", 2, "https://bob.example",
		  "ed25519:JBjY7yjbfQ51na3bStPPYMyfModUTFHco5xUNEem3uu6" },
	};

	start(s, 1, NULL);
	assert_int_equal(sc_publish_running(s, 5, 0, 0, -1), 0);
	assert_int_equal(sc_wait_log(s, "backed up epoch 5", 1, SC_WAIT), 0);

	assert_int_equal(sc_publish_running(s, 4, 0, 0, -1), 0);
	assert_int_equal(sc_wait_log(s, "the contract's keyset epoch went backwards: 4 after 5", 1,
				     SC_WAIT),
			 0);
	wait_healthz(s, 503, "epoch_backwards: the contract's keyset epoch went backwards");
	assert_int_equal(sc_wait_polls(s, 0, 3, SC_WAIT), 0);
	assert_int_equal(sc_log_count(s, "went backwards"), 1);
	assert_anomaly(s, "epoch_backwards", 1, 1);
	assert_int_equal(sc_publish_running(s, 5, 0, 0, -1), 0);
	assert_int_equal(sc_wait_log(s, "cleared: the contract's keyset epoch", 1, SC_WAIT), 0);
	wait_healthz(s, 200, "ok");
	assert_anomaly(s, "epoch_backwards", 0, 1);

	assert_int_equal(sc_publish(s, -1, sc_state_running(sc_running_body(5, 0, without_op, 2)),
				    sc_std_mi(s, -1)),
			 0);
	assert_int_equal(sc_wait_log(s, "op.near is no longer a participant", 1, SC_WAIT), 0);
	wait_healthz(s, 503, "operator_gone:");
	assert_int_equal(sc_wait_polls(s, 0, 3, SC_WAIT), 0);
	assert_int_equal(sc_log_count(s, "is no longer a participant"), 1);
	assert_anomaly(s, "operator_gone", 1, 1);
	assert_int_equal(sc_publish_running(s, 5, 0, 0, -1), 0);
	assert_int_equal(sc_wait_log(s, "cleared: the operator is a participant again", 1, SC_WAIT),
			 0);
	wait_healthz(s, 200, "ok");
	assert_anomaly(s, "operator_gone", 0, 1);
	assert_int_equal(sc_log_count(s, "cleared:"), 2);
	stop_ok(s);
}

/* Item 14. A state variant this build does not know (with a bidi override in its name): WARN
 * once, escaped; no action even with a destination named; /healthz 503; cleared when the
 * contract is Running again. */
static void test_unknown_state(void **state)
{
	struct sc *s = *state;
	char *log;

	start(s, 1, NULL);
	assert_int_equal(sc_node_start(s, 1, NULL, NULL, NULL), 0);
	{
		json_t *mi = sc_std_mi(s, 1); /* a destination, named during the unknown state */

		assert_int_equal(sc_timeline(s, -1, "migration_info.json", mi), 0);
		json_decref(mi);
	}
	assert_int_equal(sc_timeline_text(s, -1, "state.json",
					  "{\"Frozen\xe2\x80\xae\":{\"epoch_id\":4}}"),
			 0);
	assert_int_equal(sc_wait_log(s, "the contract is in a state this build does not know", 1,
				     SC_WAIT),
			 0);
	wait_healthz(s, 503, "unknown_state: the contract is in a state this build does not know");
	assert_int_equal(sc_wait_polls(s, 0, 5, SC_WAIT), 0);
	assert_int_equal(sc_log_count(s, "does not know"), 1);
	assert_anomaly(s, "unknown_state", 1, 1);
	sc_node_pump(s, 1);
	assert_int_equal(s->nodes[1].accepted, 0);
	assert_int_equal(sc_log_count(s, "pushed"), 0);
	log = sc_log_text(s);
	assert_null(strstr(log, "\xe2\x80\xae")); /* the override never reaches the log raw */
	assert_non_null(strstr(log, "Frozen"));
	free(log);

	assert_int_equal(sc_publish_running(s, 4, 0, 0, -1), 0);
	assert_int_equal(sc_wait_log(s, "cleared: the contract's state is one this build knows", 1,
				     SC_WAIT),
			 0);
	wait_healthz(s, 200, "ok");
	assert_anomaly(s, "unknown_state", 0, 1);
	stop_ok(s);
}

/* An idle TCP connection to the metrics port from `src` (a loopback address). */
static int idle_conn(unsigned port, const char *src)
{
	struct sockaddr_in a, b;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(&b, 0, sizeof(b));
	b.sin_family = AF_INET;
	inet_pton(AF_INET, src, &b.sin_addr);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&b, sizeof(b)) != 0 ||
	    connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Item 16. 40 idle connections from one client and 40 from 40 others: /healthz still answers
 * (within the probe's 5 s), and the server closes every idle connection. */
static void test_idle_connections_do_not_block_healthz(void **state)
{
	struct sc *s = *state;
	int fds[80], n = 0, closed = 0;
	char src[32];
	double t0, deadline;

	start(s, 1, NULL);
	for (int i = 0; i < 40; i++)
		fds[n++] = idle_conn(s->metrics_port, "127.0.0.2");
	for (int i = 0; i < 40; i++) {
		snprintf(src, sizeof(src), "127.0.1.%d", i + 1);
		fds[n++] = idle_conn(s->metrics_port, src);
	}
	for (int i = 0; i < n; i++)
		assert_true(fds[i] >= 0);
	sc_sleep_ms(300);
	t0 = sc_now();
	wait_healthz(s, 200, "ok");
	printf("healthz answered in %.3f s with %d idle connections open\n", sc_now() - t0, n);
	assert_true(sc_now() - t0 < 5.0);
	assert_true(sc_metric_get(s, "mpc_backup_up") == 1);

	/* Idle ones are closed by the server (refused over the per-client limit at once, the
	 * others after the idle timeout). */
	deadline = sc_now() + 15;
	while (closed < n && sc_now() < deadline) {
		for (int i = 0; i < n; i++) {
			struct pollfd p = { .fd = fds[i], .events = POLLIN };
			char c;

			if (fds[i] < 0 || poll(&p, 1, 0) <= 0)
				continue;
			if (recv(fds[i], &c, 1, MSG_DONTWAIT) <= 0) {
				close(fds[i]);
				fds[i] = -1;
				closed++;
			}
		}
		sc_sleep_ms(SC_POLL_MS);
	}
	printf("%d of %d idle connections closed by the server after %.1f s\n", closed, n,
	       sc_now() - t0);
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	assert_int_equal(closed, n);
	wait_healthz(s, 200, "ok");
	stop_ok(s);
}

/* Also: a quorum of one among two endpoints lets either one decide: warned at start-up. */
static void test_quorum_of_one_warned(void **state)
{
	struct sc *s = *state;
	const char *args[] = { "--rpc-quorum", "1", NULL };

	start(s, 2, args);
	assert_int_equal(sc_log_count(s, " WARN  rpc_quorum is 1 with 2 endpoints: any single "
					 "endpoint decides"),
			 1);
	stop_ok(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_registration_vanishes_and_returns,
						sc_cmocka_setup, sc_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_epoch_backwards_and_operator_gone,
						sc_cmocka_setup, sc_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_unknown_state, sc_cmocka_setup,
						sc_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_idle_connections_do_not_block_healthz,
						sc_cmocka_setup, sc_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_quorum_of_one_warned, sc_cmocka_setup,
						sc_cmocka_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
