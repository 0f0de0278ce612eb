/* url.h: the small part of URL handling the contract layer needs, and redaction.
 *
 * An RPC URL may carry an API key in its path, query or userinfo. mpc_url_redact() renders
 * only "scheme://host[:port]"; it is the only form of an RPC URL that may appear in any
 * message, log, metric or JSON output. mpc_url_scrub() removes the secret-bearing parts of a
 * URL from text that came from elsewhere (a server's error message may echo the request).
 *
 * mpc_url_split() accepts http:// and https:// URLs (scheme case-insensitive), IPv6 literals in
 * brackets, an optional port (1..65535) and ignores userinfo, path, query and fragment; a URL
 * with two '@' before its host is refused (clients disagree on which is the host).
 */
#ifndef MPC_CONTRACT_URL_H
#define MPC_CONTRACT_URL_H

#include <stddef.h>
#include <stdint.h>

#include "src/util/err.h"

#define MPC_URL_HOST_MAX     256
#define MPC_URL_REDACTED_MAX 300

struct mpc_url_parts {
	char scheme[8];              /* "http" or "https", lowercase */
	char host[MPC_URL_HOST_MAX]; /* without brackets for IPv6 */
	int ipv6;                    /* host is an IPv6 literal */
	uint16_t port;               /* 0 when absent */
};

/* Split `url`. Fails with MPC_ERR_PARSE naming `what`; the message never quotes the URL. */
int mpc_url_split(const char *url, struct mpc_url_parts *out, const char *what, struct mpc_err *e);

/* "scheme://host[:port]" (IPv6 in brackets), or "<invalid url>" when url cannot be split.
 * Always NUL-terminates out. */
void mpc_url_redact(const char *url, char out[MPC_URL_REDACTED_MAX]);

/* Overwrite in `text` (NUL-terminated, modified in place) every occurrence of the URL itself,
 * of its path+query and of its query with "<redacted>"-free filler ('*'), so that neither the
 * key nor its path survive. A no-op for URLs without path, query or userinfo. */
void mpc_url_scrub(char *text, const char *url);

#endif
