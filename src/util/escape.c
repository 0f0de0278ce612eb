/* escape.c: escaping untrusted text for terminals and logs (see escape.h). */
#include "src/util/escape.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Length of the well-formed UTF-8 sequence at s (2..4) with its code point, or 0. */
static size_t utf8_seq(const unsigned char *s, uint32_t *cp)
{
	size_t n;
	uint32_t c;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		c = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		c = s[0] & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0; /* also stops at the NUL */
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

static int must_escape(uint32_t c)
{
	return (c >= 0x80 && c <= 0x9f) || c == 0x061c || c == 0x200e || c == 0x200f ||
	       (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) || c == 0x2028 ||
	       c == 0x2029;
}

size_t mpc_escape_untrusted(const char *in, char *out, size_t cap)
{
	const unsigned char *s = (const unsigned char *)(in != NULL ? in : "");
	size_t need = 0, o = 0;
	int full = 0;

	while (*s != '\0') {
		char tmp[8];
		const char *piece = tmp;
		size_t len;
		uint32_t cp = 0;

		if (*s == '\\') {
			piece = "\\\\";
			len = 2;
			s++;
		} else if (*s == '\n' || *s == '\r' || *s == '\t') {
			piece = *s == '\n' ? "\\n" : *s == '\r' ? "\\r" : "\\t";
			len = 2;
			s++;
		} else if (*s >= 0x20 && *s < 0x7f) {
			tmp[0] = (char)*s;
			len = 1;
			s++;
		} else if (*s >= 0x80 && (len = utf8_seq(s, &cp)) != 0) {
			if (must_escape(cp)) {
				len = (size_t)snprintf(tmp, sizeof(tmp), "\\u%04x", (unsigned)cp);
			} else {
				piece = (const char *)s;
			}
			s += utf8_seq(s, &cp);
		} else {
			len = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", *s);
			s++;
		}
		need += len;
		if (!full && cap > 0 && o + len < cap) {
			memcpy(out + o, piece, len);
			o += len;
		} else {
			full = 1; /* cut at a boundary: nothing after a piece that did not fit */
		}
	}
	if (cap > 0)
		out[o] = '\0';
	return need;
}
