/* url.c: splitting, redacting and scrubbing RPC and participant URLs. */
#include "src/contract/url.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int host_char_ok(char c, int ipv6)
{
	if (isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_')
		return 1;
	return ipv6 && (c == ':' || c == '%');
}

int mpc_url_split(const char *url, struct mpc_url_parts *out, const char *what, struct mpc_err *e)
{
	const char *p, *auth, *end, *at, *h, *hend, *port = NULL;
	size_t hl;

	memset(out, 0, sizeof(*out));
	if (url == NULL)
		return mpc_fail(e, MPC_ERR_PARSE, "%s: no URL", what);
	if (strncasecmp(url, "https://", 8) == 0) {
		strcpy(out->scheme, "https");
		auth = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		strcpy(out->scheme, "http");
		auth = url + 7;
	} else {
		return mpc_fail(e, MPC_ERR_PARSE, "%s: URL scheme must be http:// or https://",
				what);
	}
	end = auth + strcspn(auth, "/?#");
	at = NULL;
	for (p = auth; p < end; p++) {
		/* user@name@host: clients disagree on where the host starts; refused */
		if (*p == '@' && at != NULL)
			return mpc_fail(
				e, MPC_ERR_PARSE,
				"%s: URL has more than one '@' before its host (write an '@' "
				"in a user name or password as %%40)",
				what);
		if (*p == '@')
			at = p;
	}
	h = at != NULL ? at + 1 : auth;
	if (h < end && *h == '[') {
		hend = memchr(h, ']', (size_t)(end - h));
		if (hend == NULL)
			return mpc_fail(e, MPC_ERR_PARSE, "%s: URL has an unclosed IPv6 bracket",
					what);
		out->ipv6 = 1;
		h++;
		if (hend + 1 < end) {
			if (hend[1] != ':')
				return mpc_fail(e, MPC_ERR_PARSE, "%s: URL has junk after ']'",
						what);
			port = hend + 2;
		}
	} else {
		hend = memchr(h, ':', (size_t)(end - h));
		if (hend == NULL)
			hend = end;
		else
			port = hend + 1;
	}
	hl = (size_t)(hend - h);
	if (hl == 0)
		return mpc_fail(e, MPC_ERR_PARSE, "%s: URL has no host", what);
	if (hl >= sizeof(out->host))
		return mpc_fail(e, MPC_ERR_PARSE, "%s: URL host is longer than %zu characters",
				what, sizeof(out->host) - 1);
	for (size_t i = 0; i < hl; i++)
		if (!host_char_ok(h[i], out->ipv6))
			return mpc_fail(e, MPC_ERR_PARSE, "%s: URL host has an invalid character",
					what);
	memcpy(out->host, h, hl);
	out->host[hl] = '\0';
	if (port != NULL) {
		unsigned long v = 0;
		size_t pl = (size_t)(end - port);

		if (pl == 0 || pl > 5)
			return mpc_fail(e, MPC_ERR_PARSE, "%s: URL port is not a number 1..65535",
					what);
		for (size_t i = 0; i < pl; i++) {
			if (!isdigit((unsigned char)port[i]))
				return mpc_fail(e, MPC_ERR_PARSE,
						"%s: URL port is not a number 1..65535", what);
			v = v * 10 + (unsigned long)(port[i] - '0');
		}
		if (v == 0 || v > 65535)
			return mpc_fail(e, MPC_ERR_PARSE, "%s: URL port is not a number 1..65535",
					what);
		out->port = (uint16_t)v;
	}
	return MPC_OK;
}

void mpc_url_redact(const char *url, char out[MPC_URL_REDACTED_MAX])
{
	struct mpc_url_parts u;
	char port[8] = "";

	if (mpc_url_split(url, &u, "url", NULL) != MPC_OK) {
		snprintf(out, MPC_URL_REDACTED_MAX, "<invalid url>");
		return;
	}
	if (u.port != 0)
		snprintf(port, sizeof(port), ":%u", (unsigned)u.port);
	snprintf(out, MPC_URL_REDACTED_MAX, "%s://%s%s%s%s", u.scheme, u.ipv6 ? "[" : "", u.host,
		 u.ipv6 ? "]" : "", port);
}

static void blank_all(char *text, const char *needle, size_t nl)
{
	char *p = text;

	if (nl == 0)
		return;
	while ((p = strstr(p, needle)) != NULL) {
		memset(p, '*', nl);
		p += nl;
	}
}

/* A message cut to a length bound can end inside a secret: blank a tail of 4+ characters that
 * is the start of s (a piece of the URL the server echoed before the text was cut). */
static void blank_cut_tail(char *text, const char *s, size_t n)
{
	size_t tl = strlen(text);

	for (size_t k = n - 1 < tl ? n - 1 : tl; k >= 4; k--) {
		if (memcmp(text + tl - k, s, k) == 0) {
			memset(text + tl - k, '*', k);
			return;
		}
	}
}

static void blank_copy(char *text, const char *s, size_t n)
{
	char *needle;

	if (n == 0)
		return;
	needle = strndup(s, n);
	if (needle == NULL) {
		/* Cannot search: drop the whole text rather than risk leaking. */
		text[0] = '\0';
		return;
	}
	blank_all(text, needle, n);
	free(needle);
	blank_cut_tail(text, s, n);
}

void mpc_url_scrub(char *text, const char *url)
{
	const char *auth, *rest, *q, *at;
	size_t n;

	if (text == NULL || url == NULL)
		return;
	auth = strstr(url, "://");
	auth = auth != NULL ? auth + 3 : url;
	rest = auth + strcspn(auth, "/?#");
	/* Userinfo: everything before the last '@' in the authority. */
	at = NULL;
	for (const char *p = auth; p < rest; p++)
		if (*p == '@')
			at = p;
	if (at != NULL)
		blank_copy(text, auth, (size_t)(at - auth));
	n = strlen(rest);
	blank_copy(text, rest, n);
	/* Each '/'-, '?', '&'- or '='-separated piece of 4+ characters on its own. */
	q = rest;
	while (*q != '\0') {
		size_t len;

		q += strspn(q, "/?#&=");
		len = strcspn(q, "/?#&=");
		if (len >= 4)
			blank_copy(text, q, len);
		q += len;
	}
}
