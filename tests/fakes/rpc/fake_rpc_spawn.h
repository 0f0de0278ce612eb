/* fake_rpc_spawn.h: start and stop fake-rpc processes from tests and benchmarks.
 *
 * mpc_fake_rpc_start() creates nothing on disk itself: the caller provides the timeline
 * directory. The child's stderr (its request log) goes to `log_path` (truncated), so a test can
 * count "method=state" lines. The child is killed with SIGKILL by mpc_fake_rpc_stop(), which
 * also reaps it. Test-support code: returns 0 on success, -1 on failure (errno or message on
 * stderr).
 */
#ifndef MPC_TESTS_FAKE_RPC_SPAWN_H
#define MPC_TESTS_FAKE_RPC_SPAWN_H

#include <sys/types.h>

struct mpc_fake_rpc {
	pid_t pid;
	unsigned port;
	char url[128];   /* "http://127.0.0.1:<port>" */
};

/* fault may be NULL ("none"). */
int mpc_fake_rpc_start(struct mpc_fake_rpc *f, const char *dir, const char *fault,
		       const char *log_path);
/* The same over HTTPS with a PEM certificate and key; url is "https://127.0.0.1:<port>". */
int mpc_fake_rpc_start_tls(struct mpc_fake_rpc *f, const char *dir, const char *fault,
			   const char *log_path, const char *cert_pem, const char *key_pem);
void mpc_fake_rpc_stop(struct mpc_fake_rpc *f);

/* Count lines in the file containing `needle` (-1 if unreadable). */
int mpc_fake_rpc_count(const char *log_path, const char *needle);

#endif
