/* fuzz_config.c: the monitor's configuration file (src/monitor/config.h), read from a private
 * 0600 file that each input overwrites (the reader takes a path and refuses files others may
 * write). A loaded configuration then goes through mpc_config_check and is freed. */
#include <fcntl.h>
#include <unistd.h>

#include "src/monitor/config.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[256]; /* the fuzzer's per-process scratch file */
	struct mpc_err e = { 0 };
	struct mpc_config c;
	int fd, rc;

	if (path[0] == '\0') {
		const char *tmp = getenv("TMPDIR");
		char dir[200];

		snprintf(dir, sizeof(dir), "%s/mpc-fuzz-config-XXXXXX", tmp != NULL ? tmp : "/tmp");
		FUZZ_CHECK(mkdtemp(dir) != NULL);
		snprintf(path, sizeof(path), "%s/mpc-backup.conf", dir);
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FUZZ_CHECK(fd >= 0);
	FUZZ_CHECK(write(fd, data, size) == (ssize_t)size);
	FUZZ_CHECK(close(fd) == 0);
	mpc_config_defaults(&c);
	rc = mpc_config_load_file(&c, path, &e);
	fuzz_check_rc(rc, &e);
	if (rc == MPC_OK) {
		FUZZ_CHECK(c.n_rpc_url <= MPC_CONFIG_MAX_LIST && c.n_seal_to <= MPC_CONFIG_MAX_LIST);
		FUZZ_CHECK(c.n_overrides <= MPC_CONFIG_MAX_OVERRIDES);
		memset(&e, 0, sizeof(e));
		rc = mpc_config_check(&c, &e);
		fuzz_check_rc(rc, &e);
	}
	mpc_config_free(&c);
	return 0;
}
