/* debug_config.c: reading migration_web_ui from the node's /debug/node_config (a hint). */
#include "src/node/debug_config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

struct body {
	char buf[MPC_DEBUG_CONFIG_MAX + 1];
	size_t len;
	int too_large;
};

static size_t on_write(char *data, size_t size, size_t nmemb, void *userp)
{
	struct body *b = userp;
	size_t n = size * nmemb;

	if (n > MPC_DEBUG_CONFIG_MAX - b->len) {
		b->too_large = 1;
		return 0;
	}
	memcpy(b->buf + b->len, data, n);
	b->len += n;
	return n;
}

/* "<ip>:<port>" or "[<ipv6>]:<port>" -> port. */
static int parse_socket_addr(const char *s, uint16_t *port)
{
	const char *colon = strrchr(s, ':');
	unsigned long v = 0;
	size_t n;

	if (colon == NULL || colon == s)
		return -1;
	n = strlen(colon + 1);
	if (n == 0 || n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)colon[1 + i]))
			return -1;
		v = v * 10 + (unsigned long)(colon[1 + i] - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

int mpc_node_migration_port_hint(const char *host, uint16_t port, long timeout_ms,
				 uint16_t *migration_port, struct mpc_err *e)
{
	char url[400];
	struct body *b = NULL;
	CURL *c = NULL;
	CURLcode cc = CURLE_OK;
	json_t *j = NULL;
	const char *addr;
	long status = 0;
	uint16_t p = 0;
	int rc;

	if (host == NULL || host[0] == '\0' || strlen(host) > 255 ||
	    strpbrk(host, "/?#@[] \t\r\n") != NULL)
		return mpc_fail(e, MPC_ERR_USAGE, "node debug config: bad host");
	snprintf(url, sizeof(url),
		 strchr(host, ':') != NULL ? "http://[%s]:%u/debug/node_config"
					   : "http://%s:%u/debug/node_config",
		 host, (unsigned)(port != 0 ? port : MPC_DEBUG_CONFIG_PORT));
	b = calloc(1, sizeof(*b));
	c = curl_easy_init();
	if (b == NULL || c == NULL) {
		rc = mpc_fail(e, MPC_ERR_NOMEM, "node debug config: out of memory");
		goto out;
	}
	cc |= curl_easy_setopt(c, CURLOPT_URL, url);
	cc |= curl_easy_setopt(c, CURLOPT_PROXY, "");
	cc |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
	cc |= curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	cc |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	cc |= curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
			       timeout_ms > 0 ? timeout_ms : MPC_DEBUG_CONFIG_TIMEOUT_MS);
	cc |= curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)MPC_DEBUG_CONFIG_MAX);
	cc |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	cc |= curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	cc |= curl_easy_setopt(c, CURLOPT_USERAGENT, "mpc-backup");
	if (cc != CURLE_OK) {
		rc = mpc_fail(e, MPC_ERR_INTERNAL,
			      "node debug config: cannot configure the request");
		goto out;
	}
	cc = curl_easy_perform(c);
	if (b->too_large || cc == CURLE_FILESIZE_EXCEEDED) {
		rc = mpc_fail(e, MPC_ERR_TOO_LARGE, "node debug config: larger than %d bytes",
			      MPC_DEBUG_CONFIG_MAX);
		goto out;
	}
	if (cc == CURLE_OPERATION_TIMEDOUT) {
		rc = mpc_fail(e, MPC_ERR_TIMEOUT, "node debug config: no answer within %ld ms",
			      timeout_ms > 0 ? timeout_ms : MPC_DEBUG_CONFIG_TIMEOUT_MS);
		goto out;
	}
	if (cc != CURLE_OK) {
		rc = mpc_fail(e, MPC_ERR_HTTP, "node debug config: %s", curl_easy_strerror(cc));
		goto out;
	}
	if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status != 200) {
		rc = mpc_fail(e, MPC_ERR_HTTP, "node debug config: HTTP status %ld", status);
		goto out;
	}
	j = json_loadb(b->buf, b->len, 0, NULL);
	addr = json_string_value(json_object_get(j, "migration_web_ui"));
	if (!json_is_object(j)) {
		rc = mpc_fail(e, MPC_ERR_PARSE, "node debug config: not a JSON object");
		goto out;
	}
	if (addr == NULL || parse_socket_addr(addr, &p) != 0) {
		rc = mpc_fail(e, MPC_ERR_PARSE,
			      "node debug config: migration_web_ui missing or not \"<ip>:<port>\"");
		goto out;
	}
	*migration_port = p;
	rc = MPC_OK;
out:
	json_decref(j);
	if (c != NULL)
		curl_easy_cleanup(c);
	free(b);
	return rc;
}
