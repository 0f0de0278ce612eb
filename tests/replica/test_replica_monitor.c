/* test_replica_monitor.c: replicas in `mpc-backup run` (the real binary against fake-node and
 * fake-rpc, tests/monitor/scen.h): the backed-up file reaches a reachable replica (rclone's
 * local backend) while another replica is down (a webdav remote on a refusing port); the down
 * one's error is logged once, /metrics shows both, and /healthz turns unhealthy once the down
 * replica has been behind for longer than replica_grace. A replica that hangs delays neither
 * the backup nor a SIGTERM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>
#include <cmocka.h>

#include "src/monitor/metrics.h"
#include "tests/monitor/scen.h"

static int count_keysets(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		n += strncmp(de->d_name, "keyset-", 7) == 0;
	closedir(d);
	return n;
}

static void test_run_replicates(void **state)
{
	struct sc *s = *state;
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t l = sizeof(a);
	char conf[400], rep[400], text[1024], extra[2048], name[600];
	static char body[131072];
	char *ks = sc_keyshares(4, 0, 0);
	int fd = socket(AF_INET, SOCK_STREAM, 0), cf, status = 0;
	double deadline, v;

	/* a loopback port bound and never listening: the "down" replica is refused */
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	snprintf(conf, sizeof(conf), "%s/rclone.conf", s->dir);
	snprintf(rep, sizeof(rep), "%s/replica", s->dir);
	snprintf(text, sizeof(text),
		 "[loc]\ntype = local\n\n[down]\ntype = webdav\nurl = http://127.0.0.1:%u/\n"
		 "vendor = other\n",
		 (unsigned)ntohs(a.sin_port));
	cf = open(conf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(cf >= 0);
	assert_int_equal(write(cf, text, strlen(text)), (ssize_t)strlen(text));
	close(cf);
	snprintf(extra, sizeof(extra),
		 "replica = loc:%s\nreplica = down:backups\nrclone_config = %s\n"
		 "replica_grace = 2\nreplica_timeout = 10\ndrill_interval = 1\n",
		 rep, conf);

	assert_int_equal(sc_node_start(s, 0, ks, NULL, NULL), 0);
	free(ks);
	assert_int_equal(sc_rpc_start(s, 1, NULL), 0);
	assert_int_equal(sc_write_config(s, extra), 0);
	assert_int_equal(sc_publish_running(s, 4, 0, 0, -1), 0);
	assert_int_equal(sc_run_start(s, 1, NULL), 0);
	assert_int_equal(sc_wait_log(s, "backed up epoch 4", 1, SC_WAIT), 0);

	/* the durable file reaches the reachable replica */
	deadline = sc_now() + SC_WAIT;
	while (count_keysets(rep) < 1 && sc_now() < deadline)
		sc_sleep_ms(SC_POLL_MS);
	if (count_keysets(rep) != 1)
		sc_dump(s);
	assert_int_equal(count_keysets(rep), 1);
	assert_int_equal(sc_wait_log(s, "replicas: 1 file(s) copied", 1, SC_WAIT), 0);

	/* metrics per replica */
	snprintf(name, sizeof(name), "mpc_backup_replica_files_behind{replica=\"loc:%s\"}", rep);
	deadline = sc_now() + SC_WAIT;
	while ((v = sc_metric_get(s, name)) != 0 && sc_now() < deadline)
		sc_sleep_ms(SC_POLL_MS);
	assert_true(v == 0);
	snprintf(name, sizeof(name), "mpc_backup_replica_up{replica=\"loc:%s\"}", rep);
	assert_true(sc_metric_get(s, name) == 1);
	assert_true(sc_metric_get(s, "mpc_backup_replica_files_behind{replica=\"down:backups\"}") ==
		    1);
	assert_true(sc_metric_get(s, "mpc_backup_replica_up{replica=\"down:backups\"}") == 0);

	/* the down replica: behind past the grace period -> /healthz 503 naming replicas */
	deadline = sc_now() + SC_WAIT;
	do {
		sc_sleep_ms(200);
		assert_int_equal(sc_http_get(s->metrics_port, "/healthz", &status, body,
					     sizeof(body)),
				 0);
	} while (status != 503 && sc_now() < deadline);
	if (status != 503)
		sc_dump(s);
	assert_int_equal(status, 503);
	assert_non_null(strstr(body, "replica: 1 replica(s) behind for more than 2 s"));
	/* its error logged once although every poll tries it again */
	assert_int_equal(sc_wait_polls(s, 0, 4, SC_WAIT), 0);
	assert_int_equal(sc_log_count(s, "replica down:backups: listing"), 1);

	/* the drill opens the replica's copy in the token; the down one is reported not drilled */
	snprintf(name, sizeof(name), "mpc_backup_last_drill_replica_restorable{replica=\"loc:%s\"}",
		 rep);
	deadline = sc_now() + SC_WAIT;
	while ((v = sc_metric_get(s, name)) != 1 && sc_now() < deadline)
		sc_sleep_ms(SC_POLL_MS);
	if (v != 1)
		sc_dump(s);
	assert_true(v == 1);
	assert_true(sc_metric_get(s, "mpc_backup_last_drill_replica_reached{replica=\"down:backups\"}") ==
		    0);
	assert_true(sc_log_count(s, "drill: replica down:backups not drilled") >= 1);
	assert_int_equal(sc_http_get(s->metrics_port, "/metrics", &status, body, sizeof(body)), 0);
	assert_int_equal(status, 200);
	if (access("/usr/bin/promtool", X_OK) == 0) {
		char path[600], cmd[800];
		FILE *fp;

		snprintf(path, sizeof(path), "%s/metrics.prom", s->dir);
		fp = fopen(path, "w");
		assert_non_null(fp);
		fputs(body, fp);
		fclose(fp);
		snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s'", path);
		assert_int_equal(system(cmd), 0);
	}
	close(fd);
}

/* A replica that accepts connections and never answers: the backup is stored regardless, and
 * SIGTERM stops the monitor at once although an rclone call is hanging. */
static void test_hung_replica_and_sigterm(void **state)
{
	struct sc *s = *state;
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t l = sizeof(a);
	char conf[400], text[1024], extra[2048];
	char *ks = sc_keyshares(4, 0, 0);
	int fd = socket(AF_INET, SOCK_STREAM, 0), cf, st = -1;
	double elapsed = 99;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 16), 0); /* never accepted: requests hang */
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	snprintf(conf, sizeof(conf), "%s/rclone.conf", s->dir);
	snprintf(text, sizeof(text),
		 "[hang]\ntype = webdav\nurl = http://127.0.0.1:%u/\nvendor = other\n",
		 (unsigned)ntohs(a.sin_port));
	cf = open(conf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(cf >= 0);
	assert_int_equal(write(cf, text, strlen(text)), (ssize_t)strlen(text));
	close(cf);
	snprintf(extra, sizeof(extra),
		 "replica = hang:backups\nrclone_config = %s\nreplica_timeout = 60\n"
		 "poll_interval = 30\n",
		 conf);
	assert_int_equal(sc_node_start(s, 0, ks, NULL, NULL), 0);
	free(ks);
	assert_int_equal(sc_rpc_start(s, 1, NULL), 0);
	assert_int_equal(sc_write_config(s, extra), 0);
	assert_int_equal(sc_publish_running(s, 4, 0, 0, -1), 0);
	assert_int_equal(sc_run_start(s, 0, NULL), 0);
	assert_int_equal(sc_wait_log(s, "backed up epoch 4", 1, SC_WAIT), 0);
	assert_int_equal(sc_store_files(s), 1);
	sc_sleep_ms(1500); /* the pass is now waiting on the hung replica */
	assert_int_equal(sc_run_stop(s, SIGTERM, 10.0, &elapsed, &st), 0);
	if (elapsed >= 2)
		sc_dump(s);
	assert_true(elapsed < 2);
	assert_int_equal(sc_store_files(s), 1);
	close(fd);
}

/* /metrics is never a 200 with a cut or empty body: past its first buffer it grows; past its
 * bound it answers 500 saying why (the drill's per-replica series make the text longer). */
static void test_metrics_body_bound(void **state)
{
	struct mpc_metrics m;
	struct mpc_err e = { 0 };
	unsigned port = 0;
	int status = 0;
	static char body[65536];

	(void)state;
	assert_int_equal(mpc_metrics_init(&m, &e), MPC_OK);
	assert_int_equal(mpc_metrics_listen(&m, "127.0.0.1:0", &port, &e), MPC_OK);
	mpc_metrics_drill(&m, "# TYPE mpc_backup_last_drill_restorable gauge\n"
			      "mpc_backup_last_drill_restorable 1\n");
	m.render_cap = 256; /* far below the text's length */
	assert_int_equal(sc_http_get(port, "/metrics", &status, body, sizeof(body)), 0);
	assert_int_equal(status, 200);
	assert_non_null(strstr(body, "mpc_backup_last_drill_restorable 1\n"));
	assert_non_null(strstr(body, "mpc_backup_healthy "));
	m.render_max = 1024;
	assert_int_equal(sc_http_get(port, "/metrics", &status, body, sizeof(body)), 0);
	assert_int_equal(status, 500);
	assert_non_null(strstr(body, "over 1024 bytes"));
	mpc_metrics_destroy(&m);
}

/* SIGHUP with replica settings whose new set cannot be made (rclone's configuration readable
 * by others): the running set and the replica settings in force stay the old ones together
 * (replica_grace among them), the rest is re-read, and the log says so. */
static void test_sighup_replica_reopen_fails(void **state)
{
	struct sc *s = *state;
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t l = sizeof(a);
	char conf[400], loose[400], rep[400], text[1024], extra[2048], name[600], body[4096];
	char *ks = sc_keyshares(4, 0, 0);
	int fd = socket(AF_INET, SOCK_STREAM, 0), cf, status = 0;
	double deadline;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	snprintf(conf, sizeof(conf), "%s/rclone.conf", s->dir);
	snprintf(loose, sizeof(loose), "%s/rclone-loose.conf", s->dir);
	snprintf(rep, sizeof(rep), "%s/replica", s->dir);
	snprintf(text, sizeof(text),
		 "[loc]\ntype = local\n\n[down]\ntype = webdav\nurl = http://127.0.0.1:%u/\n"
		 "vendor = other\n",
		 (unsigned)ntohs(a.sin_port));
	cf = open(conf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(cf >= 0);
	assert_int_equal(write(cf, text, strlen(text)), (ssize_t)strlen(text));
	close(cf);
	cf = open(loose, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(cf >= 0);
	assert_int_equal(write(cf, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(cf, 0644), 0);
	close(cf);
	snprintf(extra, sizeof(extra),
		 "replica = loc:%s\nreplica = down:backups\nrclone_config = %s\n"
		 "replica_grace = 3600\nreplica_timeout = 10\n",
		 rep, conf);
	assert_int_equal(sc_node_start(s, 0, ks, NULL, NULL), 0);
	free(ks);
	assert_int_equal(sc_rpc_start(s, 1, NULL), 0);
	assert_int_equal(sc_write_config(s, extra), 0);
	assert_int_equal(sc_publish_running(s, 4, 0, 0, -1), 0);
	assert_int_equal(sc_run_start(s, 1, NULL), 0);
	assert_int_equal(sc_wait_log(s, "backed up epoch 4", 1, SC_WAIT), 0);
	assert_int_equal(sc_wait_log(s, "replicas: 1 file(s) copied", 1, SC_WAIT), 0);

	/* new replica settings with a loose rclone configuration and a grace of 1 s */
	snprintf(extra, sizeof(extra),
		 "replica = loc:%s-new\nreplica = down:backups\nrclone_config = %s\n"
		 "replica_grace = 1\nreplica_timeout = 10\n",
		 rep, loose);
	assert_int_equal(sc_write_config(s, extra), 0);
	assert_int_equal(kill(s->run_pid, SIGHUP), 0);
	assert_int_equal(sc_wait_log(s, "SIGHUP: replica settings kept as they were", 1, SC_WAIT),
			 0);
	assert_int_equal(sc_wait_log(s, "SIGHUP: configuration re-read", 1, SC_WAIT), 0);
	/* the old grace holds with the old set: the down replica is not overdue after 3 s */
	assert_int_equal(sc_wait_polls(s, 0, 3, SC_WAIT), 0);
	deadline = sc_now() + 3;
	while (sc_now() < deadline) {
		assert_int_equal(sc_http_get(s->metrics_port, "/healthz", &status, body,
					     sizeof(body)),
				 0);
		if (status != 200)
			sc_dump(s);
		assert_int_equal(status, 200);
		sc_sleep_ms(300);
	}
	snprintf(name, sizeof(name), "mpc_backup_replica_up{replica=\"loc:%s\"}", rep);
	assert_true(sc_metric_get(s, name) == 1);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metrics_body_bound),
		cmocka_unit_test_setup_teardown(test_run_replicates, sc_cmocka_setup,
						sc_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_hung_replica_and_sigterm, sc_cmocka_setup,
						sc_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_sighup_replica_reopen_fails, sc_cmocka_setup,
						sc_cmocka_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
