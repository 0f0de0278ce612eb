/* log.c: timestamped log lines. */
#include "src/monitor/log.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

void mpc_log(const struct mpc_logger *l, enum mpc_log_level lvl, const char *fmt, ...)
{
	static const char *const names[] = { "DEBUG", "INFO", "WARN", "ERROR" };
	FILE *f = l != NULL && l->out != NULL ? l->out : stderr;
	char ts[32], line[2048];
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
	/* One event, one line: fold any newline a message might carry. */
	for (char *p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	fprintf(f, "%s %-5s %s\n", ts, names[lvl], line);
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
