/* log.c: log lines (text, journal or JSON), escaped. */
#include "src/monitor/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "src/util/escape.h"

void mpc_log(const struct mpc_logger *l, enum mpc_log_level lvl, const char *fmt, ...)
{
	static const char *const names[] = { "DEBUG", "INFO", "WARN", "ERROR" };
	static const char *const lower[] = { "debug", "info", "warn", "error" };
	static const int prio[] = { 7, 6, 4, 3 };
	FILE *f = l != NULL && l->out != NULL ? l->out : stderr;
	enum mpc_log_format format = l != NULL ? l->format : MPC_LOG_TEXT;
	char ts[32], line[2048], safe[4096];
	struct tm tm;
	time_t now = time(NULL);
	va_list ap;

	if (l != NULL && lvl < l->min)
		return;
	if ((unsigned)lvl > MPC_LOG_ERROR)
		lvl = MPC_LOG_ERROR;
	gmtime_r(&now, &tm);
	if (strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(ts, sizeof(ts), "?");
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One event, one line, as written: what the contract or a node sent is escaped. */
	mpc_escape_untrusted(line, safe, sizeof(safe));
	if (format == MPC_LOG_JOURNAL) {
		fprintf(f, "<%d>%-5s %s\n", prio[lvl], names[lvl], safe);
	} else if (format == MPC_LOG_JSON) {
		json_t *j =
			json_pack("{s:s, s:s, s:s}", "time", ts, "level", lower[lvl], "msg", safe);
		char *text = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

		if (text != NULL)
			fprintf(f, "%s\n", text);
		else
			fprintf(f,
				"{\"time\":\"%s\",\"level\":\"error\",\"msg\":\"(a log line could "
				"not be encoded)\"}\n",
				ts);
		free(text);
		json_decref(j);
	} else {
		fprintf(f, "%s %-5s %s\n", ts, names[lvl], safe);
	}
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

int mpc_log_format_parse(const char *s)
{
	static const char *const names[] = { "text", "journal", "json" };

	for (int i = 0; i < 3; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

enum mpc_log_format mpc_log_format_default(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	char *end = NULL;
	struct stat st;

	/* systemd sets it to stderr's (and stdout's) device and inode ("DEV:INO") when they go to
	 * the journal; a child whose stderr was redirected inherits it, so compare. */
	if (js == NULL || *js < '0' || *js > '9')
		return MPC_LOG_TEXT;
	errno = 0;
	dev = strtoull(js, &end, 10);
	if (errno != 0 || *end != ':' || end[1] < '0' || end[1] > '9')
		return MPC_LOG_TEXT;
	ino = strtoull(end + 1, &end, 10);
	if (errno != 0 || *end != '\0' || fstat(2, &st) != 0)
		return MPC_LOG_TEXT;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino
		       ? MPC_LOG_JOURNAL
		       : MPC_LOG_TEXT;
}
