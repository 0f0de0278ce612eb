/* metrics.c: Prometheus text and /healthz over libmicrohttpd. */
#include "src/monitor/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

static const double bucket_le[MPC_METRICS_BUCKETS] = { 0.0005, 0.001, 0.0025, 0.005, 0.01,
						       0.025, 0.1, 0.5, 2.5 };

int mpc_metrics_init(struct mpc_metrics *m, struct mpc_err *e)
{
	memset(m, 0, sizeof(*m));
	if (pthread_mutex_init(&m->mu, NULL) != 0)
		return mpc_fail(e, MPC_ERR_INTERNAL, "cannot create a mutex");
	m->token_ok = m->store_ok = 1;
	snprintf(m->contract_why, sizeof(m->contract_why), "no contract read yet");
	return MPC_OK;
}

void mpc_metrics_destroy(struct mpc_metrics *m)
{
	if (m->daemon != NULL)
		MHD_stop_daemon(m->daemon);
	m->daemon = NULL;
	pthread_mutex_destroy(&m->mu);
}

void mpc_metrics_lock(struct mpc_metrics *m)
{
	pthread_mutex_lock(&m->mu);
}

void mpc_metrics_unlock(struct mpc_metrics *m)
{
	pthread_mutex_unlock(&m->mu);
}

void mpc_metrics_endpoint(struct mpc_metrics *m, const char *name, int status)
{
	size_t i;

	mpc_metrics_lock(m);
	for (i = 0; i < m->n_endpoints; i++)
		if (strcmp(m->endpoints[i].name, name) == 0)
			break;
	if (i == m->n_endpoints && i < MPC_METRICS_MAX_ENDPOINTS) {
		snprintf(m->endpoints[i].name, sizeof(m->endpoints[i].name), "%s", name);
		m->n_endpoints++;
	}
	if (i < m->n_endpoints) {
		if (status == 0)
			m->endpoints[i].ok++;
		else if (status == 1)
			m->endpoints[i].error++;
		else
			m->endpoints[i].disagree++;
	}
	mpc_metrics_unlock(m);
}

void mpc_metrics_token_op(struct mpc_metrics *m, double seconds)
{
	mpc_metrics_lock(m);
	for (int i = 0; i < MPC_METRICS_BUCKETS; i++)
		if (seconds <= bucket_le[i]) {
			m->token_buckets[i]++;
			break;
		}
	m->token_count++;
	m->token_sum += seconds;
	mpc_metrics_unlock(m);
}

void mpc_metrics_health(struct mpc_metrics *m, int which, int ok, const char *why)
{
	int *flag[] = { &m->contract_ok, &m->token_ok, &m->store_ok };
	char *text[] = { m->contract_why, m->token_why, m->store_why };

	if (which < 0 || which > 2)
		return;
	mpc_metrics_lock(m);
	*flag[which] = ok;
	snprintf(text[which], 256, "%s", ok || why == NULL ? "" : why);
	mpc_metrics_unlock(m);
}

struct out {
	char *p;
	size_t cap, len;
	int overflow;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len)
		o->overflow = 1;
	else
		o->len += (size_t)n;
}

/* Label values are redacted URLs; escape what Prometheus requires anyway. */
static void put_label(struct out *o, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			put(o, "\\%c", *v);
		else if (*v == '\n')
			put(o, "\\n");
		else
			put(o, "%c", *v);
	}
}

size_t mpc_metrics_render(struct mpc_metrics *m, char *buf, size_t cap)
{
	struct out o = { buf, cap, 0, 0 };
	uint64_t cum = 0;

	mpc_metrics_lock(m);
	put(&o, "# HELP mpc_backup_up 1 while the monitor runs.\n# TYPE mpc_backup_up gauge\n"
		"mpc_backup_up 1\n");
	put(&o, "# HELP mpc_backup_last_backup_epoch Epoch of the newest keyset backed up by this "
		"process.\n# TYPE mpc_backup_last_backup_epoch gauge\n");
	if (m->has_backup)
		put(&o, "mpc_backup_last_backup_epoch %llu\n"
			"# TYPE mpc_backup_last_backup_timestamp_seconds gauge\n"
			"mpc_backup_last_backup_timestamp_seconds %.0f\n",
		    (unsigned long long)m->last_backup_epoch, m->last_backup_time);
	put(&o, "# HELP mpc_backup_backups_total Backups by outcome (covered: polls that found the "
		"keyset already backed up).\n"
		"# TYPE mpc_backup_backups_total counter\n"
		"mpc_backup_backups_total{outcome=\"ok\"} %llu\n"
		"mpc_backup_backups_total{outcome=\"error\"} %llu\n"
		"mpc_backup_backups_total{outcome=\"covered\"} %llu\n",
	    (unsigned long long)m->backups_ok, (unsigned long long)m->backups_error,
	    (unsigned long long)m->backups_covered);
	put(&o, "# HELP mpc_backup_pushes_total Keyshare pushes to a new node by outcome.\n"
		"# TYPE mpc_backup_pushes_total counter\n"
		"mpc_backup_pushes_total{outcome=\"ok\"} %llu\n"
		"mpc_backup_pushes_total{outcome=\"error\"} %llu\n",
	    (unsigned long long)m->pushes_ok, (unsigned long long)m->pushes_error);
	put(&o, "# HELP mpc_backup_migrations_total Migrations or recoveries seen to their end.\n"
		"# TYPE mpc_backup_migrations_total counter\n"
		"mpc_backup_migrations_total{outcome=\"concluded\"} %llu\n"
		"mpc_backup_migrations_total{outcome=\"cancelled\"} %llu\n",
	    (unsigned long long)m->migrations_concluded, (unsigned long long)m->migrations_cancelled);
	put(&o, "# HELP mpc_backup_polls_total Contract polls.\n# TYPE mpc_backup_polls_total counter\n"
		"mpc_backup_polls_total %llu\n",
	    (unsigned long long)m->polls);
	put(&o, "# HELP mpc_backup_endpoint_disagreements_total Polls whose endpoints did not reach "
		"the quorum.\n# TYPE mpc_backup_endpoint_disagreements_total counter\n"
		"mpc_backup_endpoint_disagreements_total %llu\n",
	    (unsigned long long)m->disagreements);
	put(&o, "# HELP mpc_backup_contract_reads_total Contract reads by endpoint and outcome.\n"
		"# TYPE mpc_backup_contract_reads_total counter\n");
	for (size_t i = 0; i < m->n_endpoints; i++) {
		static const char *const names[] = { "ok", "error", "disagree" };
		uint64_t v[] = { m->endpoints[i].ok, m->endpoints[i].error, m->endpoints[i].disagree };

		for (int k = 0; k < 3; k++) {
			put(&o, "mpc_backup_contract_reads_total{endpoint=\"");
			put_label(&o, m->endpoints[i].name);
			put(&o, "\",outcome=\"%s\"} %llu\n", names[k], (unsigned long long)v[k]);
		}
	}
	put(&o, "# HELP mpc_backup_token_operation_seconds Latency of token operations (seal, "
		"unseal, sign).\n# TYPE mpc_backup_token_operation_seconds histogram\n");
	for (int i = 0; i < MPC_METRICS_BUCKETS; i++) {
		cum += m->token_buckets[i];
		put(&o, "mpc_backup_token_operation_seconds_bucket{le=\"%g\"} %llu\n", bucket_le[i],
		    (unsigned long long)cum);
	}
	put(&o, "mpc_backup_token_operation_seconds_bucket{le=\"+Inf\"} %llu\n"
		"mpc_backup_token_operation_seconds_sum %.6f\n"
		"mpc_backup_token_operation_seconds_count %llu\n",
	    (unsigned long long)m->token_count, m->token_sum, (unsigned long long)m->token_count);
	put(&o, "# HELP mpc_backup_healthy 1 when contract reads, token and store are healthy.\n"
		"# TYPE mpc_backup_healthy gauge\nmpc_backup_healthy %d\n",
	    m->contract_ok && m->token_ok && m->store_ok);
	mpc_metrics_unlock(m);
	return o.overflow ? 0 : o.len;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
			     char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_len, void **con_cls)
{
	struct mpc_metrics *m = cls;
	char small[1024];

	(void)version;
	(void)upload;
	(void)con_cls;
	if (*upload_len != 0)
		return MHD_NO; /* no request bodies here */
	if (strcmp(method, "GET") != 0)
		return reply(conn, 405, "text/plain", (char *)"method not allowed\n", 19);
	if (strcmp(url, "/metrics") == 0) {
		size_t cap = 64 * 1024, len;
		char *buf = malloc(cap);
		enum MHD_Result ret;

		if (buf == NULL)
			return MHD_NO;
		len = mpc_metrics_render(m, buf, cap);
		ret = reply(conn, 200, "text/plain; version=0.0.4", buf, len);
		free(buf);
		return ret;
	}
	if (strcmp(url, "/healthz") == 0) {
		int ok;
		int n;

		mpc_metrics_lock(m);
		ok = m->contract_ok && m->token_ok && m->store_ok;
		if (ok)
			n = snprintf(small, sizeof(small), "ok\n");
		else
			n = snprintf(small, sizeof(small), "unhealthy:%s%s%s%s%s%s\n",
				     m->contract_ok ? "" : " contract: ", m->contract_ok ? "" : m->contract_why,
				     m->token_ok ? "" : " token: ", m->token_ok ? "" : m->token_why,
				     m->store_ok ? "" : " store: ", m->store_ok ? "" : m->store_why);
		mpc_metrics_unlock(m);
		if (n < 0)
			n = 0;
		if ((size_t)n >= sizeof(small))
			n = sizeof(small) - 1;
		return reply(conn, ok ? 200 : 503, "text/plain", small, (size_t)n);
	}
	return reply(conn, 404, "text/plain", (char *)"not found\n", 10);
}

int mpc_metrics_listen(struct mpc_metrics *m, const char *listen, unsigned *port,
		       struct mpc_err *e)
{
	struct sockaddr_storage ss;
	char host[128];
	const char *colon = strrchr(listen, ':');
	unsigned long p;
	char *end;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

	memset(&ss, 0, sizeof(ss));
	if (colon == NULL || (size_t)(colon - listen) >= sizeof(host) || colon == listen)
		return mpc_fail(e, MPC_ERR_USAGE, "--metrics-listen: expected ADDR:PORT, got \"%.60s\"",
				listen);
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	p = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || colon[1] == '\0' || p > 65535)
		return mpc_fail(e, MPC_ERR_USAGE, "--metrics-listen: bad port in \"%.60s\"", listen);
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;

		host[strlen(host) - 1] = '\0';
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)p);
		if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
			return mpc_fail(e, MPC_ERR_USAGE, "--metrics-listen: bad IPv6 address");
		flags |= MHD_USE_IPv6;
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;

		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)p);
		if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			return mpc_fail(e, MPC_ERR_USAGE,
					"--metrics-listen: \"%.60s\" is not an IP address", host);
	}
	m->daemon = MHD_start_daemon(flags, (uint16_t)p, NULL, NULL, handle, m, MHD_OPTION_SOCK_ADDR,
				     (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_TIMEOUT,
				     (unsigned)10, MHD_OPTION_CONNECTION_LIMIT, (unsigned)32,
				     MHD_OPTION_END);
	if (m->daemon == NULL)
		return mpc_fail(e, MPC_ERR_IO, "cannot serve metrics on %.60s (address in use?)",
				listen);
	info = MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_BIND_PORT);
	if (port != NULL)
		*port = info != NULL ? info->port : (unsigned)p;
	return MPC_OK;
}
