/* log.h: the monitor's log: one line per event on stderr,
 * "2026-11-25T13:40:00Z LEVEL message". Only the monitor and the CLI log; libraries return
 * errors. Messages must never contain secrets or RPC URL query strings (use redacted names).
 * Every line is escaped (mpc_escape_untrusted, src/util/escape.h): text from the contract or a
 * node cannot forge a line or hide its meaning with bidirectional overrides.
 */
#ifndef MPC_MONITOR_LOG_H
#define MPC_MONITOR_LOG_H

#include <stdio.h>

enum mpc_log_level {
	MPC_LOG_DEBUG = 0,
	MPC_LOG_INFO,
	MPC_LOG_WARN,
	MPC_LOG_ERROR
};

struct mpc_logger {
	FILE *out; /* NULL: stderr */
	enum mpc_log_level min;
};

void mpc_log(const struct mpc_logger *l, enum mpc_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Parse "debug", "info", "warn", "error"; -1 if unknown. */
int mpc_log_level_parse(const char *s);

#endif
