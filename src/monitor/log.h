/* log.h: the monitor's log: one line per event on stderr, in one of three formats:
 *   text     "2026-11-25T13:40:00Z LEVEL message" (a terminal, a file);
 *   journal  "<N>LEVEL message", N the syslog priority (7 debug, 6 info, 4 warn, 3 error) and
 *            no timestamp: journald stamps and prioritises the line itself. Chosen by default
 *            when stderr is the journal stream systemd names in $JOURNAL_STREAM;
 *   json     {"time":"2026-11-25T13:40:00Z","level":"info","msg":"..."} for log collectors.
 * Only the monitor and the CLI log; libraries return errors. Messages must never contain
 * secrets or RPC URL query strings (use redacted names). Every message is escaped
 * (mpc_escape_untrusted, src/util/escape.h): text from the contract or a node cannot forge a
 * line or hide its meaning with bidirectional overrides.
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

enum mpc_log_format {
	MPC_LOG_TEXT = 0,
	MPC_LOG_JOURNAL,
	MPC_LOG_JSON
};

struct mpc_logger {
	FILE *out; /* NULL: stderr */
	enum mpc_log_level min;
	enum mpc_log_format format;
};

void mpc_log(const struct mpc_logger *l, enum mpc_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Parse "debug", "info", "warn", "error"; -1 if unknown. */
int mpc_log_level_parse(const char *s);

/* Parse "text", "journal", "json"; -1 if unknown. */
int mpc_log_format_parse(const char *s);

/* The format when none is configured: journal when stderr is the stream $JOURNAL_STREAM
 * ("DEVICE:INODE") names, else text. */
enum mpc_log_format mpc_log_format_default(void);

#endif
