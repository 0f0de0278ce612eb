/* config.c: the monitor's configuration file and settings. */
#include "src/monitor/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkcs11/uri.h"
#include "pkcs11/vendor.h"
#include "src/contract/quorum.h"
#include "src/contract/rpc.h"
#include "src/contract/url.h"
#include "src/monitor/log.h"
#include "src/util/encoding.h"
#include "src/util/file.h"

void mpc_config_defaults(struct mpc_config *c)
{
	memset(c, 0, sizeof(*c));
	c->poll_interval = 30;
	c->migration_port = MPC_MIGRATION_PORT_DEFAULT;
	c->node_timeout = 60;
	c->node_connect_timeout = 10;
	c->rpc_timeout = 30;
	c->backoff_initial = 1;
	c->backoff_max = 300;
	c->verify_interval = 3600;
	c->drill_interval = 86400;
	c->conclude_timeout = 600;
	c->uncovered_grace = 600;
	c->backup_failures_unhealthy = 3;
	c->replica_grace = 3600;
	c->replica_timeout = 60;
	c->token_retry_initial = 1;
	c->token_retry_max = 60;
}

/* "host:port" or "[v6]:port", port 1..65535: refused at start-up, not at the first use. */
static int check_host_port(const char *v, const char *where, struct mpc_err *e)
{
	const char *colon = strrchr(v, ':'), *host_end = colon;
	char *end;
	unsigned long p;

	if (v[0] == '[') {
		const char *close = strchr(v, ']');
		char inner[64];
		unsigned char buf[16];

		if (close == NULL || close[1] != ':' || (size_t)(close - v - 1) >= sizeof(inner))
			return mpc_fail(e, MPC_ERR_USAGE,
					"%s: \"%.80s\" is not [IPv6-ADDRESS]:PORT", where, v);
		memcpy(inner, v + 1, (size_t)(close - v - 1));
		inner[close - v - 1] = '\0';
		if (inet_pton(AF_INET6, inner, buf) != 1)
			return mpc_fail(e, MPC_ERR_USAGE, "%s: \"%.80s\" is not an IPv6 address",
					where, inner);
		colon = close + 1;
		host_end = close + 1;
	} else if (colon == NULL || colon == v || strchr(v, ']') != NULL ||
		   memchr(v, ':', (size_t)(colon - v)) != NULL) {
		return mpc_fail(
			e, MPC_ERR_USAGE,
			"%s: \"%.80s\" is not HOST:PORT (an IPv6 address is [ADDRESS]:PORT)", where,
			v);
	}
	for (const char *q = v; q < host_end; q++)
		if (*q <= ' ' || *q == 0x7f || *q == '/' || *q == '@')
			return mpc_fail(e, MPC_ERR_USAGE, "%s: \"%.80s\" is not HOST:PORT", where,
					v);
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (errno != 0 || colon[1] < '0' || colon[1] > '9' || *end != '\0' || p > 65535)
		return mpc_fail(e, MPC_ERR_USAGE, "%s: bad port in \"%.80s\"", where, v);
	return MPC_OK;
}

static void free_list(char **l, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free(l[i]);
	*n = 0;
}

void mpc_config_free(struct mpc_config *c)
{
	char **strs[] = { &c->token,     &c->tls_token,      &c->seal_token,
			  &c->pin_file,  &c->store,          &c->contract,
			  &c->account,   &c->metrics_listen, &c->transport_key_file,
			  &c->log_level, &c->log_format,     &c->rclone_config };

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
	free(c->token_profile);
	c->token_profile = NULL;
	free_list(c->seal_to, &c->n_seal_to);
	free_list(c->rpc_url, &c->n_rpc_url);
	free_list(c->replica, &c->n_replica);
	for (size_t i = 0; i < c->n_overrides; i++) {
		free((char *)c->overrides[i].account_id);
		free((char *)c->overrides[i].address);
	}
	c->n_overrides = 0;
}

static int set_str(char **dst, const char *v, const char *where, struct mpc_err *e)
{
	char *d = strdup(v);

	if (d == NULL)
		return mpc_fail(e, MPC_ERR_NOMEM, "%s: out of memory", where);
	free(*dst);
	*dst = d;
	return MPC_OK;
}

static int add_list(char **l, size_t *n, const char *v, const char *where, struct mpc_err *e)
{
	if (*n == MPC_CONFIG_MAX_LIST)
		return mpc_fail(e, MPC_ERR_USAGE, "%s: at most %d values", where,
				MPC_CONFIG_MAX_LIST);
	l[*n] = strdup(v);
	if (l[*n] == NULL)
		return mpc_fail(e, MPC_ERR_NOMEM, "%s: out of memory", where);
	(*n)++;
	return MPC_OK;
}

static int set_seconds(double *dst, const char *v, double min, double max, const char *where,
		       struct mpc_err *e)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(v, &end);
	if (errno != 0 || end == v || *end != '\0' || !isfinite(d) || d < min || d > max)
		return mpc_fail(e, MPC_ERR_USAGE,
				"%s: \"%.40s\" is not a number of seconds in [%g, %g]", where, v,
				min, max);
	*dst = d;
	return MPC_OK;
}

static int set_uint(unsigned *dst, const char *v, unsigned min, unsigned max, const char *where,
		    struct mpc_err *e)
{
	char *end;
	unsigned long u;

	errno = 0;
	u = strtoul(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || v[0] == '-' || u < min || u > max)
		return mpc_fail(e, MPC_ERR_USAGE, "%s: \"%.40s\" is not an integer in [%u, %u]",
				where, v, min, max);
	*dst = (unsigned)u;
	return MPC_OK;
}

/* http(s)://HOST[:PORT]...: checked as the RPC client will split it (src/contract/url.h); the
 * message never quotes the URL (its path or query may hold an API key). */
static int check_url(const char *v, const char *where, struct mpc_err *e)
{
	struct mpc_url_parts parts;

	for (const char *q = v; *q; q++)
		if ((unsigned char)*q <= ' ' || *q == 0x7f)
			return mpc_fail(e, MPC_ERR_USAGE,
					"%s: an RPC URL has no spaces or control characters",
					where);
	if (mpc_url_split(v, &parts, where, e) != MPC_OK) {
		e->code = MPC_ERR_USAGE; /* a bad setting: exit 2 as for any other */
		return MPC_ERR_USAGE;
	}
	return MPC_OK;
}

/* A token URI, and where it was set: the token layer parses it when it opens the token, and
 * `run` then names this place in the error (mpc_config_uri_where). */
static int set_uri(struct mpc_config *c, const char *key, const char *v, const char *where,
		   struct mpc_err *e)
{
	size_t slot = 0;
	int rc;

	if (strcmp(key, "token") == 0) {
		rc = set_str(&c->token, v, where, e);
	} else if (strcmp(key, "tls_token") == 0) {
		slot = 1;
		rc = set_str(&c->tls_token, v, where, e);
	} else if (strcmp(key, "seal_token") == 0) {
		slot = 2;
		rc = set_str(&c->seal_token, v, where, e);
	} else {
		slot = 3 + c->n_seal_to;
		rc = add_list(c->seal_to, &c->n_seal_to, v, where, e);
	}
	if (rc == MPC_OK && slot < sizeof(c->uri_where) / sizeof(c->uri_where[0]))
		snprintf(c->uri_where[slot], sizeof(c->uri_where[slot]), "%s", where);
	return rc;
}

const char *mpc_config_uri_where(const struct mpc_config *c, const char *msg)
{
	const char *uris[3 + MPC_CONFIG_MAX_LIST] = { c->token, c->tls_token, c->seal_token };
	char shown[160];

	for (size_t i = 0; i < c->n_seal_to && i < MPC_CONFIG_MAX_LIST; i++)
		uris[3 + i] = c->seal_to[i];
	for (size_t i = 0; i < 3 + c->n_seal_to; i++) {
		if (uris[i] == NULL || c->uri_where[i][0] == '\0')
			continue;
		mpc_uri_for_message(uris[i], shown, sizeof(shown));
		if (strstr(msg, shown) != NULL)
			return c->uri_where[i];
	}
	return NULL;
}

/* Secrets are not configuration. */
static int refuse_secret(const char *key, const char *value, const char *where, struct mpc_err *e)
{
	if (strcmp(key, "pin") == 0 || strcmp(key, "transport_key") == 0 ||
	    strcmp(key, "transport_key_hex") == 0)
		return mpc_fail(e, MPC_ERR_USAGE,
				"%s: secrets are never configuration: name a file (pin_file, "
				"transport_key_file) or use the environment",
				where);
	if (mpc_uri_has_pin_value(value))
		return mpc_fail(e, MPC_ERR_USAGE,
				"%s: a token URI with pin-value= would put the PIN in a file of "
				"settings; use pin-source=file:... or pin_file",
				where);
	return MPC_OK;
}

static int add_override(struct mpc_config *c, const char *sel, const char *value, const char *where,
			struct mpc_err *e)
{
	struct mpc_address_override *o;
	int rc;

	if (c->n_overrides == MPC_CONFIG_MAX_OVERRIDES)
		return mpc_fail(e, MPC_ERR_USAGE, "%s: at most %d address overrides", where,
				MPC_CONFIG_MAX_OVERRIDES);
	if (strlen(value) == 0 || strlen(value) >= MPC_ADDRESS_MAX)
		return mpc_fail(e, MPC_ERR_USAGE, "%s: the address must be host:port", where);
	rc = check_host_port(value, where, e);
	if (rc != MPC_OK)
		return rc;
	o = &c->overrides[c->n_overrides];
	memset(o, 0, sizeof(*o));
	if (strncmp(sel, "account.", 8) == 0 && sel[8] != '\0') {
		o->account_id = strdup(sel + 8);
		if (o->account_id == NULL)
			return mpc_fail(e, MPC_ERR_NOMEM, "out of memory");
	} else if (strncmp(sel, "key.", 4) == 0) {
		rc = mpc_ed25519_key_parse(sel + 4, o->tls_key, where, e);
		if (rc != MPC_OK)
			return rc;
		o->has_tls_key = 1;
	} else {
		return mpc_fail(e, MPC_ERR_USAGE,
				"%s: address overrides are address.account.<account> or "
				"address.key.ed25519:<base58>",
				where);
	}
	o->address = strdup(value);
	if (o->address == NULL) {
		free((char *)o->account_id);
		return mpc_fail(e, MPC_ERR_NOMEM, "out of memory");
	}
	c->n_overrides++;
	return MPC_OK;
}

int mpc_config_set(struct mpc_config *c, const char *key, const char *value, const char *where,
		   struct mpc_err *e)
{
	int rc = refuse_secret(key, value, where, e);

	if (rc != MPC_OK)
		return rc;
	if (strlen(value) > 4096)
		return mpc_fail(e, MPC_ERR_TOO_LARGE, "%s: value longer than 4096 characters",
				where);
	if (strcmp(key, "token") == 0 || strcmp(key, "tls_token") == 0 ||
	    strcmp(key, "seal_token") == 0 || strcmp(key, "seal_to") == 0)
		return set_uri(c, key, value, where, e);
	if (strcmp(key, "pin_file") == 0)
		return set_str(&c->pin_file, value, where, e);
	if (strcmp(key, "token_profile") == 0) {
		enum mpc_token_kind k;
		int is_auto;

		rc = mpc_token_profile_parse(value, &is_auto, &k, e);
		if (rc != MPC_OK)
			return mpc_err_prefix(e, "%s: ", where);
		return set_str(&c->token_profile, value, where, e);
	}
	if (strcmp(key, "store") == 0)
		return set_str(&c->store, value, where, e);
	if (strcmp(key, "rpc_url") == 0 && (rc = check_url(value, where, e)) != MPC_OK)
		return rc;
	if (strcmp(key, "rpc_url") == 0)
		return add_list(c->rpc_url, &c->n_rpc_url, value, where, e);
	if (strcmp(key, "rpc_quorum") == 0)
		return set_uint(&c->rpc_quorum, value, 1, MPC_CONFIG_MAX_LIST, where, e);
	if (strcmp(key, "contract") == 0)
		return set_str(&c->contract, value, where, e);
	if (strcmp(key, "account") == 0)
		return set_str(&c->account, value, where, e);
	if (strcmp(key, "poll_interval") == 0)
		return set_seconds(&c->poll_interval, value, 0.05, 86400, where, e);
	if (strcmp(key, "migration_port") == 0)
		return set_uint(&c->migration_port, value, 1, 65535, where, e);
	if (strcmp(key, "metrics_listen") == 0) {
		rc = check_host_port(value, where, e);
		return rc != MPC_OK ? rc : set_str(&c->metrics_listen, value, where, e);
	}
	if (strcmp(key, "transport_key_file") == 0)
		return set_str(&c->transport_key_file, value, where, e);
	if (strcmp(key, "node_timeout") == 0)
		return set_seconds(&c->node_timeout, value, 0.1, 3600, where, e);
	if (strcmp(key, "node_connect_timeout") == 0)
		return set_seconds(&c->node_connect_timeout, value, 0.1, 600, where, e);
	if (strcmp(key, "rpc_timeout") == 0)
		return set_seconds(&c->rpc_timeout, value, 0.1, 600, where, e);
	if (strcmp(key, "backoff_initial") == 0)
		return set_seconds(&c->backoff_initial, value, 0.01, 3600, where, e);
	if (strcmp(key, "backoff_max") == 0)
		return set_seconds(&c->backoff_max, value, 0.01, 86400, where, e);
	if (strcmp(key, "token_retry_initial") == 0)
		return set_seconds(&c->token_retry_initial, value, 0.01, 3600, where, e);
	if (strcmp(key, "token_retry_max") == 0)
		return set_seconds(&c->token_retry_max, value, 0.01, 3600, where, e);
	if (strcmp(key, "replica") == 0)
		return add_list(c->replica, &c->n_replica, value, where, e);
	if (strcmp(key, "rclone_config") == 0)
		return set_str(&c->rclone_config, value, where, e);
	if (strcmp(key, "replica_grace") == 0)
		return set_seconds(&c->replica_grace, value, 1, 30 * 86400, where, e);
	if (strcmp(key, "replica_timeout") == 0)
		return set_seconds(&c->replica_timeout, value, 1, 3600, where, e);
	if (strcmp(key, "drill_interval") == 0)
		return set_seconds(&c->drill_interval, value, 0, 30 * 86400, where, e);
	if (strcmp(key, "verify_interval") == 0)
		return set_seconds(&c->verify_interval, value, 1, 30 * 86400, where, e);
	if (strcmp(key, "conclude_timeout") == 0)
		return set_seconds(&c->conclude_timeout, value, 0.1, 30 * 86400, where, e);
	if (strcmp(key, "log_level") == 0) {
		if (mpc_log_level_parse(value) < 0)
			return mpc_fail(e, MPC_ERR_USAGE,
					"%s: log_level \"%.40s\" is not debug, info, warn or error",
					where, value);
		return set_str(&c->log_level, value, where, e);
	}
	if (strcmp(key, "log_format") == 0) {
		if (mpc_log_format_parse(value) < 0)
			return mpc_fail(e, MPC_ERR_USAGE,
					"%s: log_format \"%.40s\" is not text, journal or json",
					where, value);
		return set_str(&c->log_format, value, where, e);
	}
	if (strcmp(key, "uncovered_grace") == 0)
		return set_seconds(&c->uncovered_grace, value, 0, 30 * 86400, where, e);
	if (strcmp(key, "backup_failures_unhealthy") == 0)
		return set_uint(&c->backup_failures_unhealthy, value, 1, 1000000, where, e);
	if (strncmp(key, "address.", 8) == 0)
		return add_override(c, key + 8, value, where, e);
	return mpc_fail(e, MPC_ERR_USAGE, "%s: unknown setting \"%.60s\"", where, key);
}

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/* "# ..." to the end of the line, where # starts the line or follows a space or tab: the
 * documentation's own example comments its values. A # inside a value ("a#b") stays. */
static void strip_comment(char *line)
{
	for (char *p = line; *p; p++)
		if (*p == '#' && (p == line || p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			return;
		}
}

int mpc_config_load_file(struct mpc_config *c, const char *path, struct mpc_err *e)
{
	uint8_t *buf = NULL;
	size_t len = 0, lineno = 0;
	char *line, *save = NULL, where[300];
	int rc = mpc_file_read_checked(path, 64 * 1024, 0, 0002, &buf, &len, e);

	if (rc != MPC_OK)
		return rc;
	if (memchr(buf, '\0', len) != NULL) {
		free(buf);
		return mpc_fail(e, MPC_ERR_PARSE, "%s: not a text file", path);
	}
	/* Split by hand so that empty lines still count. */
	for (line = (char *)buf; line != NULL; line = save) {
		char *nl = strchr(line, '\n'), *eq, *key, *val;

		save = nl != NULL ? nl + 1 : NULL;
		if (nl != NULL)
			*nl = '\0';
		lineno++;
		snprintf(where, sizeof(where), "%.260s:%zu", path, lineno);
		strip_comment(line);
		line = trim(line);
		if (*line == '\0')
			continue;
		eq = strchr(line, '=');
		if (eq == NULL) {
			rc = mpc_fail(e, MPC_ERR_PARSE, "%s: expected key = value", where);
			break;
		}
		*eq = '\0';
		key = trim(line);
		val = trim(eq + 1);
		rc = mpc_config_set(c, key, val, where, e);
		if (rc != MPC_OK)
			break;
	}
	free(buf);
	return rc;
}

int mpc_config_check(const struct mpc_config *c, struct mpc_err *e)
{
	if (c->store == NULL)
		return mpc_fail(e, MPC_ERR_USAGE,
				"no store: --store DIR (or store = in the config)");
	if (c->account == NULL)
		return mpc_fail(
			e, MPC_ERR_USAGE,
			"no operator account: --account OPERATOR (or account = in the config)");
	if (c->n_rpc_url == 0)
		return mpc_fail(e, MPC_ERR_USAGE,
				"no NEAR RPC endpoint: --rpc-url URL (repeatable)");
	if (c->rpc_quorum > c->n_rpc_url)
		return mpc_fail(e, MPC_ERR_USAGE,
				"--rpc-quorum %u is more than the %zu endpoints given",
				c->rpc_quorum, c->n_rpc_url);
	if (c->n_replica > 0 && c->rclone_config == NULL)
		return mpc_fail(e, MPC_ERR_USAGE, "replica needs rclone_config = FILE");
	if (c->backoff_max < c->backoff_initial)
		return mpc_fail(e, MPC_ERR_USAGE, "backoff_max is smaller than backoff_initial");
	if (c->token_retry_max < c->token_retry_initial)
		return mpc_fail(e, MPC_ERR_USAGE,
				"token_retry_max is smaller than token_retry_initial");
	return MPC_OK;
}

int mpc_config_quorum_new(const struct mpc_config *c, const volatile sig_atomic_t *cancel,
			  struct mpc_quorum **q, struct mpc_err *e)
{
	struct mpc_rpc_options ro;

	memset(&ro, 0, sizeof(ro));
	ro.contract = c->contract;
	ro.timeout_ms = (long)(c->rpc_timeout * 1000);
	ro.connect_timeout_ms = ro.timeout_ms;
	ro.cancel = cancel;
	return mpc_quorum_new((const char *const *)c->rpc_url, c->n_rpc_url, c->rpc_quorum, &ro, q,
			      e);
}
