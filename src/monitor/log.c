/* log.c: timestamped log lines, escaped. */
#include "src/monitor/log.h"

#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *p, uint32_t *cp)
{
	size_t n;
	uint32_t c;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		c = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		c = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		c = p[0] & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) || (n == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	*cp = c;
	return n;
}

/* Characters that could forge a line or reorder what a reader sees. */
static int dangerous(uint32_t c)
{
	return c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f) || c == 0x061c || c == 0x200e ||
	       c == 0x200f || (c >= 0x2028 && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

size_t mpc_log_escape(const char *in, char *out, size_t cap)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t o = 0;

	if (cap == 0)
		return 0;
	while (*p != '\0') {
		char esc[16];
		uint32_t c = 0;
		size_t n = utf8_len(p, &c), l;

		if (n == 0)
			snprintf(esc, sizeof(esc), "\\x%02x", p[0]);
		else if (dangerous(c))
			snprintf(esc, sizeof(esc), c < 0x80 ? "\\x%02x" : "\\u%04x", (unsigned)c);
		else
			esc[0] = '\0';
		l = esc[0] != '\0' ? strlen(esc) : n;
		if (o + l >= cap)
			break;
		memcpy(out + o, esc[0] != '\0' ? esc : (const char *)p, l);
		o += l;
		p += n == 0 ? 1 : n;
	}
	out[o] = '\0';
	return o;
}

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
	mpc_log_escape(line, safe, sizeof(safe));
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
