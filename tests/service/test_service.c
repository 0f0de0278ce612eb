/* test_service.c: `mpc-backup run` as a systemd service, without systemd: the sd_notify protocol
 * through a datagram socket of our own (READY=1, STATUS=, WATCHDOG=1, STOPPING=1), journal log
 * lines when stderr is $JOURNAL_STREAM, the debug log's per-poll decision, the exit statuses
 * the unit lists in RestartPreventExitStatus=, /metrics through `promtool check metrics` and the
 * series a restart keeps, /healthz's reasons (an uncovered keyset past its grace, failing
 * backups), and the sample alert rules through `promtool check rules` and `promtool test
 * rules`. Real processes on loopback (tests/monitor/scen.h); no timing is asserted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/monitor/scen.h"

static const char *src_dir(void)
{
	const char *d = getenv("MPC_SOURCE_DIR");

	return d != NULL ? d : ".";
}

/* A datagram socket at dir/notify, as systemd's NOTIFY_SOCKET. */
static int notify_open(struct sc *s, char *path, size_t cap)
{
	struct sockaddr_un a;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(path, cap, "%s/notify", s->dir);
	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	assert_true(strlen(path) < sizeof(a.sun_path));
	memcpy(a.sun_path, path, strlen(path) + 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Read datagrams (each appended to acc with a newline) until acc holds `needle` `n` times. */
static int notify_wait(int fd, char *acc, size_t cap, const char *needle, int n, double timeout)
{
	double t0 = sc_now();

	while (sc_count(acc, needle) < n) {
		struct pollfd p = { fd, POLLIN, 0 };
		char msg[4096];
		ssize_t got;
		size_t len = strlen(acc);

		if (sc_now() - t0 > timeout) {
			printf("notify: waited for %d x \"%s\"; got:\n%s\n", n, needle, acc);
			return -1;
		}
		if (poll(&p, 1, 100) <= 0)
			continue;
		got = recv(fd, msg, sizeof(msg) - 1, 0);
		if (got <= 0)
			continue;
		msg[got] = '\0';
		snprintf(acc + len, cap - len, "%s\n", msg);
	}
	return 0;
}

static void world(struct sc *s, const char *extra)
{
	char *ks = sc_keyshares(4, 0, 0);

	assert_int_equal(sc_node_start(s, 0, ks, NULL, NULL), 0);
	free(ks);
	assert_int_equal(sc_rpc_start(s, 1, NULL), 0);
	assert_int_equal(sc_write_config(s, extra), 0);
	assert_int_equal(sc_publish_running(s, 4, 0, 0, -1), 0);
}

static void stop_ok(struct sc *s)
{
	double elapsed = 0;
	int st = -1;

	assert_int_equal(sc_run_stop(s, SIGTERM, 10.0, &elapsed, &st), 0);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* Type=notify: READY=1 once started, STATUS= after polls, WATCHDOG=1 from the loop at half of
 * WATCHDOG_USEC, STOPPING=1 on SIGTERM. Under $JOURNAL_STREAM the log has <N> priorities and
 * no timestamp; at debug level each poll's decision is logged. */
static void test_notify_and_journal(void **state)
{
	struct sc *s = *state;
	char path[300], js[64], acc[65536] = "", *log;
	struct stat st;
	int fd = notify_open(s, path, sizeof(path)), lfd;

	world(s, "log_level = debug\n");
	/* The run log file is its stderr: name it as the journal stream. */
	lfd = open(s->runlog, O_WRONLY | O_CREAT, 0600);
	assert_true(lfd >= 0);
	assert_int_equal(fstat(lfd, &st), 0);
	close(lfd);
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("NOTIFY_SOCKET", path, 1);
	setenv("WATCHDOG_USEC", "600000", 1); /* a ping at least every 0.3 s */
	setenv("JOURNAL_STREAM", js, 1);
	assert_int_equal(sc_run_start(s, 0, NULL), 0);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("JOURNAL_STREAM");
	assert_int_equal(notify_wait(fd, acc, sizeof(acc), "READY=1", 1, SC_WAIT), 0);
	assert_int_equal(notify_wait(fd, acc, sizeof(acc),
				     "STATUS=polling: contract epoch 4 "
				     "backed up; healthy",
				     1, SC_WAIT),
			 0);
	assert_int_equal(notify_wait(fd, acc, sizeof(acc), "WATCHDOG=1", 3, SC_WAIT), 0);
	assert_null(strstr(acc, "STOPPING=1"));
	stop_ok(s);
	assert_int_equal(notify_wait(fd, acc, sizeof(acc), "STOPPING=1", 1, SC_WAIT), 0);
	close(fd);
	/* READY=1 comes after the store was read and verified. */
	assert_true(strstr(acc, "STATUS=start-up checks") < strstr(acc, "READY=1"));

	log = sc_log_text(s);
	printf("%s", log);
	assert_non_null(strstr(log, "<6>INFO  mpc-backup run: operator op.near"));
	assert_non_null(strstr(log, "<6>INFO  backed up epoch 4 (2 domains"));
	/* A watchdog shorter than the longest poll these timeouts allow is warned about. */
	assert_non_null(
		strstr(log, "<4>WARN  WatchdogSec (1 s) is shorter than the longest one poll"));
	assert_non_null(strstr(log, "<7>DEBUG poll: state Running, keyset epoch 4 (2 domains): "
				    "covered by the store; push idle"));
	/* Every line starts with a priority; none carries a timestamp. */
	for (char *line = log; *line != '\0';) {
		char *nl = strchr(line, '\n');

		assert_true(line[0] == '<' && line[2] == '>');
		assert_null(strstr(line, "Z INFO"));
		if (nl == NULL)
			break;
		line = nl + 1;
	}
	free(log);
}

/* `mpc-backup run` with the scenario's standard options plus `extra` (NULL-terminated), stderr
 * into err (cap bytes): its exit status. It must stop by itself (a start is a failure). */
static int run_status(struct sc *s, const char *const *extra, int journal, char *err, size_t cap)
{
	const char *argv[32];
	char bin[600], errpath[400];
	int k = 0, st = 0;
	pid_t pid;
	double t0;
	char *text;

	snprintf(bin, sizeof(bin), "%s/src/cli/mpc-backup", getenv("MPC_BINARY_DIR"));
	snprintf(errpath, sizeof(errpath), "%s/status.err", s->dir);
	argv[k++] = bin;
	argv[k++] = "run";
	argv[k++] = "--token";
	argv[k++] = s->th.uri;
	argv[k++] = "--store";
	argv[k++] = s->store;
	argv[k++] = "--rpc-url";
	argv[k++] = s->rpc_url[0];
	argv[k++] = "--account";
	argv[k++] = SC_OPERATOR;
	argv[k++] = "--config";
	argv[k++] = s->config;
	for (int i = 0; extra != NULL && extra[i] != NULL && k < 30; i++)
		argv[k++] = extra[i];
	argv[k] = NULL;
	unlink(errpath);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		struct stat st_err;
		char js[64];

		if (fd < 0 || dup2(fd, 2) < 0 || dup2(fd, 1) < 0 || fstat(fd, &st_err) != 0)
			_exit(127);
		/* Under systemd: stderr is the journal stream JOURNAL_STREAM names. */
		snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st_err.st_dev,
			 (unsigned long long)st_err.st_ino);
		if (journal)
			setenv("JOURNAL_STREAM", js, 1);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	for (t0 = sc_now(); waitpid(pid, &st, WNOHANG) != pid; sc_sleep_ms(20))
		if (sc_now() - t0 > SC_WAIT) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			fail_msg("mpc-backup run did not stop by itself");
		}
	text = sc_read_file(errpath, NULL);
	snprintf(err, cap, "%s", text != NULL ? text : "");
	free(text);
	printf("exit %d: %s", WIFEXITED(st) ? WEXITSTATUS(st) : -1, err);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* The exit statuses dist/systemd/mpc-backup.service lists in RestartPreventExitStatus= are what
 * `run` returns for a wrong PIN, a bad configuration (an unknown setting, a malformed line) and
 * a token without the service's keys: systemd does not retry what a restart cannot fix. */
static void test_exit_statuses_in_unit(void **state)
{
	struct sc *s = *state;
	char unit_path[600], pin_path[400], empty_uri[512], err[8192], where[400];
	char *unit, *line;
	const char *wrong_pin[] = { "--pin-file", pin_path, NULL };
	const char *no_keys[] = { "--token", empty_uri, NULL };
	int got[4], k = 0;
	FILE *f;

	world(s, NULL);
	snprintf(unit_path, sizeof(unit_path), "%s/dist/systemd/mpc-backup.service", src_dir());
	unit = sc_read_file(unit_path, NULL);
	assert_non_null(unit);
	line = strstr(unit, "\nRestartPreventExitStatus=");
	assert_non_null(line);

	/* A wrong PIN: 14, said once, not retried. */
	snprintf(pin_path, sizeof(pin_path), "%s/wrong-pin", s->dir);
	f = fopen(pin_path, "w");
	assert_non_null(f);
	fputs("000000\n", f);
	fclose(f);
	assert_int_equal(chmod(pin_path, 0600), 0);
	got[k++] = run_status(s, wrong_pin, 1, err, sizeof(err));
	assert_int_equal(got[k - 1], 14);
	assert_non_null(strstr(err, "CKR_PIN_INCORRECT"));
	/* In the journal, as an error (priority 3). */
	assert_int_equal(strncmp(err, "<3>mpc-backup run: ", 19), 0);
	assert_null(strstr(err, "000000"));

	/* A bad configuration: 2, naming the file and line (a comment after the value is fine). */
	assert_int_equal(sc_write_config(s, "poll_interval = 0.2 # seconds\n"
					    "log_level = loud # a typo\n"),
			 0);
	got[k++] = run_status(s, NULL, 0, err, sizeof(err));
	assert_int_equal(got[k - 1], 2);
	assert_int_equal(strncmp(err, "mpc-backup run: ", 16), 0);
	snprintf(where, sizeof(where), "%s:", s->config);
	assert_non_null(strstr(err, where));
	assert_non_null(strstr(err, "log_level \"loud\" is not debug, info, warn or error"));
	/* A malformed line: 65. */
	assert_int_equal(sc_write_config(s, "store\n"), 0);
	got[k++] = run_status(s, NULL, 1, err, sizeof(err));
	assert_int_equal(got[k - 1], 65);
	assert_int_equal(strncmp(err, "<3>mpc-backup run: ", 19), 0);
	assert_non_null(strstr(err, where));

	/* A token without the service's keys (the key ceremony was not run): 13. */
	assert_int_equal(sc_write_config(s, NULL), 0);
	assert_int_equal(th_softhsm_add_token(&s->th, "empty", empty_uri), 0);
	got[k++] = run_status(s, no_keys, 0, err, sizeof(err));
	assert_int_equal(got[k - 1], 13);

	{
		char *eol = strchr(line + 1, '\n'), *tok, *save = NULL;
		int listed[16], n = 0;

		assert_non_null(eol);
		*eol = '\0';
		for (tok = strtok_r(strchr(line, '=') + 1, " ", &save); tok != NULL && n < 16;
		     tok = strtok_r(NULL, " ", &save))
			listed[n++] = atoi(tok);
		for (int i = 0; i < k; i++) {
			int in = 0;

			for (int j = 0; j < n; j++)
				in |= listed[j] == got[i];
			if (!in)
				fail_msg("exit status %d is not in RestartPreventExitStatus=",
					 got[i]);
		}
	}
	free(unit);
}

static int shell(const char *cmd)
{
	int st;

	printf("$ %s\n", cmd);
	fflush(stdout);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* /metrics passes promtool's lint; the new series are there; a restart keeps the last backup's
 * epoch and time (read from the store) instead of forgetting them. */
static void test_metrics_promtool_and_restart(void **state)
{
	struct sc *s = *state;
	char *body = malloc(256 * 1024), path[400], cmd[900];
	int status = 0;
	FILE *f;

	assert_non_null(body);
	world(s, NULL);
	assert_int_equal(sc_run_start(s, 1, NULL), 0);
	assert_int_equal(sc_wait_log(s, "backed up epoch 4 (2 domains", 1, SC_WAIT), 0);
	assert_int_equal(sc_wait_polls(s, 0, 2, SC_WAIT), 0);
	assert_int_equal(sc_http_get(s->metrics_port, "/metrics", &status, body, 256 * 1024), 0);
	assert_int_equal(status, 200);
	printf("%s", body);
	snprintf(path, sizeof(path), "%s/metrics.txt", s->dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(body, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s'", path);
	assert_int_equal(shell(cmd), 0);
	assert_true(sc_metric(body, "mpc_backup_contract_epoch") == 4);
	assert_true(sc_metric(body, "mpc_backup_keyset_covered") == 1);
	assert_true(sc_metric(body, "mpc_backup_last_backup_epoch") == 4);
	assert_true(sc_metric(body, "mpc_backup_last_successful_poll_timestamp_seconds") > 1e9);
	assert_non_null(strstr(body, "\nmpc_backup_build_info{version=\""));
	assert_true(sc_metric(body, "mpc_backup_health{part=\"coverage\"}") == 1);
	/* Every series has HELP and TYPE. */
	for (char *l = body; (l = strstr(l, "\nmpc_backup_")) != NULL; l++) {
		char name[128], help[160];
		size_t n = strcspn(l + 1, "{ ");

		assert_true(n < sizeof(name));
		memcpy(name, l + 1, n);
		name[n] = '\0';
		if (strstr(name, "_bucket") || strstr(name, "_sum") || strstr(name, "_count"))
			continue;
		snprintf(help, sizeof(help), "# HELP %s ", name);
		if (strstr(body, help) == NULL)
			fail_msg("no HELP for %s", name);
		snprintf(help, sizeof(help), "# TYPE %s ", name);
		if (strstr(body, help) == NULL)
			fail_msg("no TYPE for %s", name);
	}
	stop_ok(s);

	/* Restarted: nothing to back up, yet the last backup is known. */
	assert_int_equal(sc_run_start(s, 1, NULL), 0);
	assert_int_equal(sc_wait_log(s, "the store's newest backup: epoch 4", 1, SC_WAIT), 0);
	assert_int_equal(sc_http_get(s->metrics_port, "/metrics", &status, body, 256 * 1024), 0);
	assert_true(sc_metric(body, "mpc_backup_last_backup_epoch") == 4);
	assert_true(sc_metric(body, "mpc_backup_last_backup_timestamp_seconds") > 1e9);
	assert_true(sc_metric(body, "mpc_backup_backups_total{outcome=\"ok\"}") == 0);
	stop_ok(s);
	free(body);
}

/* /healthz: 503 with the reason while the keyset stays uncovered past uncovered_grace and
 * backups keep failing (the node is down); 200 once the node is back and the backup is made. */
static void test_healthz_uncovered_and_failing(void **state)
{
	struct sc *s = *state;
	char body[4096];
	int status = 0, seen = 0;
	double t0;
	char *ks;

	assert_int_equal(sc_node_reserve_port(s, 0), 0);
	assert_int_equal(sc_rpc_start(s, 1, NULL), 0);
	assert_int_equal(sc_write_config(s, "uncovered_grace = 0.5   # seconds\n"
					    "backup_failures_unhealthy = 2\n"),
			 0);
	assert_int_equal(sc_publish_running(s, 4, 0, 0, -1), 0);
	assert_int_equal(sc_run_start(s, 1, NULL), 0);
	for (t0 = sc_now(); sc_now() - t0 < SC_WAIT && !seen; sc_sleep_ms(SC_POLL_MS)) {
		assert_int_equal(sc_http_get(s->metrics_port, "/healthz", &status, body,
					     sizeof(body)),
				 0);
		seen = status == 503 &&
		       strstr(body, "coverage: the contract's keyset (epoch 4) has "
				    "not been backed up for") != NULL &&
		       strstr(body, "backup: ") != NULL &&
		       strstr(body, "backups failed in a row") != NULL;
	}
	printf("%s", body);
	assert_true(seen);
	assert_true(sc_metric_get(s, "mpc_backup_keyset_covered") == 0);
	assert_true(sc_metric_get(s, "mpc_backup_health{part=\"backup\"}") == 0);
	/* The node comes back: backed up, healthy. */
	ks = sc_keyshares(4, 0, 0);
	assert_int_equal(sc_node_start(s, 0, ks, NULL, NULL), 0);
	free(ks);
	assert_int_equal(sc_wait_log(s, "backed up epoch 4 (2 domains", 1, SC_WAIT), 0);
	for (seen = 0, t0 = sc_now(); sc_now() - t0 < SC_WAIT && !seen; sc_sleep_ms(SC_POLL_MS)) {
		assert_int_equal(sc_http_get(s->metrics_port, "/healthz", &status, body,
					     sizeof(body)),
				 0);
		seen = status == 200 && strcmp(body, "ok\n") == 0;
	}
	printf("%s", body);
	assert_true(seen);
	stop_ok(s);
}

/* The sample alert rules are valid and fire as documented (promtool's unit tests). */
static void test_alert_rules(void **state)
{
	char cmd[1200];

	(void)state;
	snprintf(cmd, sizeof(cmd), "promtool check rules '%s/dist/prometheus/mpc-backup.rules.yml'",
		 src_dir());
	assert_int_equal(shell(cmd), 0);
	snprintf(cmd, sizeof(cmd), "cd '%s' && promtool test rules tests/service/rules.test.yml",
		 src_dir());
	assert_int_equal(shell(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_notify_and_journal, sc_cmocka_setup,
						sc_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_exit_statuses_in_unit, sc_cmocka_setup,
						sc_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_metrics_promtool_and_restart, sc_cmocka_setup,
						sc_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_healthz_uncovered_and_failing, sc_cmocka_setup,
						sc_cmocka_teardown),
		cmocka_unit_test(test_alert_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
