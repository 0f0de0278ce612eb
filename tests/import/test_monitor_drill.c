/* test_monitor_drill.c: the monitor's periodic restore drill (drill_interval): the real
 * `mpc-backup run` against fake-node and fake-rpc. After the backup, drills log that the newest
 * keyset of the contract's epoch restores and /metrics shows mpc_backup_last_drill_*; when the
 * contract moves to an epoch the node cannot serve, the drill says it cannot be restored (a
 * warning: the backup duty owns that alarm) and the gauge drops to 0; a damaged stored file is
 * an error naming it. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>

#include "tests/monitor/scen.h"

static void test_drills(void **state)
{
	struct sc *s = *state;
	char *ks = sc_keyshares(4, 0, 0);

	assert_non_null(ks);
	assert_int_equal(sc_node_start(s, 0, ks, NULL, NULL), 0);
	free(ks);
	assert_int_equal(sc_rpc_start(s, 1, NULL), 0);
	assert_int_equal(sc_write_config(s, "drill_interval = 0.5\n"), 0);
	assert_int_equal(sc_publish_running(s, 4, 0, 0, -1), 0);
	assert_int_equal(sc_run_start(s, 1, NULL), 0);
	assert_int_equal(sc_wait_log(s, "backed up epoch 4 (2 domains", 1, SC_WAIT), 0);
	assert_int_equal(sc_wait_log(s, "restores and matches the contract's keyset", 1, SC_WAIT),
			 0);
	assert_true(sc_metric_get(s, "mpc_backup_last_drill_restorable") == 1);
	assert_true(sc_metric_get(s, "mpc_backup_last_drill_contract_epoch") == 4);
	assert_true(sc_metric_get(s, "mpc_backup_last_drill_files{verdict=\"current\"}") == 1);
	assert_true(sc_metric_get(s, "mpc_backup_last_drill_timestamp_seconds") > 1.7e9);
	assert_int_equal(sc_log_count(s, "drill: NOT restorable"), 0);

	/* the contract moves to epoch 5, which the node does not serve: not restorable */
	assert_int_equal(sc_publish_running(s, 5, 0, 0, -1), 0);
	assert_int_equal(sc_wait_log(s, "WARN  drill: NOT restorable: no stored keyset of the "
				     "contract's epoch 5", 1, SC_WAIT),
			 0);
	assert_true(sc_metric_get(s, "mpc_backup_last_drill_restorable") == 0);
	assert_true(sc_metric_get(s, "mpc_backup_last_drill_files{verdict=\"older\"}") == 1);

	/* back at epoch 4 with the stored file damaged: an error naming it */
	{
		DIR *d = opendir(s->store);
		struct dirent *de;
		char path[700];
		int fd;
		uint8_t b;

		assert_non_null(d);
		while ((de = readdir(d)) != NULL)
			if (strncmp(de->d_name, "keyset-", 7) == 0)
				break;
		assert_non_null(de);
		snprintf(path, sizeof(path), "%s/%s", s->store, de->d_name);
		closedir(d);
		fd = open(path, O_RDWR);
		assert_true(fd >= 0);
		assert_int_equal(pread(fd, &b, 1, 300), 1);
		b ^= 0x01;
		assert_int_equal(pwrite(fd, &b, 1, 300), 1);
		close(fd);
	}
	assert_int_equal(sc_publish_running(s, 4, 0, 0, -1), 0);
	assert_int_equal(sc_wait_log(s, "ERROR drill: keyset-", 1, SC_WAIT), 0);
	assert_true(sc_metric_get(s, "mpc_backup_last_drill_files{verdict=\"failed\"}") >= 1);
	assert_true(sc_metric_get(s, "mpc_backup_last_drill_restorable") == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_drills, sc_cmocka_setup, sc_cmocka_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
