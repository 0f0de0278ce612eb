/* daemon.h: `mpc-backup run`'s process around the monitor: signals (SIGTERM/SIGINT stop within a
 * second, SIGHUP re-reads the configuration, SIGPIPE ignored), the metrics server, the RPC
 * quorum, the poll loop and its sleep, and shutdown. The CLI parses the options, opens the
 * session (tokens, store, transport key) and hands over to mpc_daemon_run().
 *
 * The signal flags are the process's only mutable globals outside main: a signal handler can
 * reach nothing else. They are set by the handlers and read here (and, through the pointer
 * mpc_daemon_signals() returns, by transfers that must abort on a signal).
 */
#ifndef MPC_MONITOR_DAEMON_H
#define MPC_MONITOR_DAEMON_H

#include <signal.h>

#include "src/monitor/config.h"
#include "src/monitor/log.h"
#include "src/monitor/ops.h"
#include "src/util/err.h"

/* Re-read the configuration (the file, then the flags) into *fresh, which the callee
 * initialises; on failure it returns non-zero with e set (fresh is then freed by the daemon). */
typedef int (*mpc_daemon_reread_fn)(void *ctx, struct mpc_config *fresh, struct mpc_err *e);

struct mpc_daemon_opts {
	struct mpc_config *cfg;      /* the caller's; replaced in place on SIGHUP */
	const char *config_file;     /* named in the start-up line; may be NULL */
	const struct mpc_ops *ops;   /* from the session; copied (cancel is set here) */
	mpc_daemon_reread_fn reread; /* NULL: SIGHUP only logs that nothing was re-read */
	void *reread_ctx;
	struct mpc_logger *log; /* its level follows log_level on SIGHUP */
	const char *version;    /* for mpc_backup_build_info; may be NULL */
};

/* Install the handlers. Returns the stop flag (set by SIGTERM/SIGINT) for the session's
 * transfers; call before opening anything slow. */
const volatile sig_atomic_t *mpc_daemon_signals(void);

/* Serve metrics (if configured), build the quorum, read and verify the store, tell the service
 * manager READY=1 (sd_notify; nothing without $NOTIFY_SOCKET), then poll until a signal stops it,
 * pinging the watchdog (WATCHDOG=1 every half of $WATCHDOG_USEC) from the loop and saying
 * STATUS= after each poll and STOPPING=1 at the end. MPC_OK after a stop signal; an error (with
 * e set) when it cannot start. */
int mpc_daemon_run(const struct mpc_daemon_opts *o, struct mpc_err *e);

#endif
