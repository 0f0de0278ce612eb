/* log.c: timestamped log lines, escaped. */
#include "src/monitor/log.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "src/util/escape.h"

void mpc_log(const struct mpc_logger *l, enum mpc_log_level lvl, const char *fmt, ...)
{
	static const char *const names[] = { "DEBUG", "INFO", "WARN", "ERROR" };
	FILE *f = l != NULL && l->out != NULL ? l->out : stderr;
	char ts[32], line[2048], safe[4096];
	struct tm tm;
	time_t now = time(NULL);
	va_list ap;

	if (l != NULL && lvl < l->min)
		return;
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One event, one line, as written: what the contract or a node sent is escaped. */
	mpc_escape_untrusted(line, safe, sizeof(safe));
	fprintf(f, "%s %-5s %s\n", ts, names[lvl], safe);
	fflush(f);
}

int mpc_log_level_parse(const char *s)
{
	static const char *const names[] = { "debug", "info", "warn", "error" };

	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}
