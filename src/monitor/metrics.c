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

#include "src/util/escape.h"

static const double bucket_le[MPC_METRICS_BUCKETS] = { 0.0005, 0.001, 0.0025, 0.005, 0.01,
						       0.025,  0.1,   0.5,    2.5 };

int mpc_metrics_init(struct mpc_metrics *m, struct mpc_err *e)
{
	memset(m, 0, sizeof(*m));
	if (pthread_mutex_init(&m->mu, NULL) != 0)
		return mpc_fail(e, MPC_ERR_INTERNAL, "cannot create a mutex");
	m->ok[MPC_HEALTH_TOKEN] = m->ok[MPC_HEALTH_STORE] = 1;
	m->ok[MPC_HEALTH_COVERAGE] = m->ok[MPC_HEALTH_BACKUP] = m->ok[MPC_HEALTH_REPLICA] = 1;
	m->covered = -1;
	m->token_available = 1;
	snprintf(m->version, sizeof(m->version), "unknown");
	snprintf(m->why[MPC_HEALTH_CONTRACT], sizeof(m->why[0]), "no contract read yet");
	return MPC_OK;
}

void mpc_metrics_build(struct mpc_metrics *m, const char *version)
{
	pthread_mutex_lock(&m->mu);
	snprintf(m->version, sizeof(m->version), "%s", version != NULL ? version : "unknown");
	pthread_mutex_unlock(&m->mu);
}

void mpc_metrics_destroy(struct mpc_metrics *m)
{
	if (m->daemon != NULL)
		MHD_stop_daemon(m->daemon);
	m->daemon = NULL;
	pthread_mutex_destroy(&m->mu);
}

static void lock(struct mpc_metrics *m)
{
	pthread_mutex_lock(&m->mu);
}

static void unlock(struct mpc_metrics *m)
{
	pthread_mutex_unlock(&m->mu);
}

void mpc_metrics_count(struct mpc_metrics *m, enum mpc_counter c)
{
	if ((unsigned)c >= MPC_COUNT_N)
		return;
	lock(m);
	m->count[c]++;
	unlock(m);
}

uint64_t mpc_metrics_get(struct mpc_metrics *m, enum mpc_counter c)
{
	uint64_t v = 0;

	if ((unsigned)c >= MPC_COUNT_N)
		return 0;
	lock(m);
	v = m->count[c];
	unlock(m);
	return v;
}

void mpc_metrics_backup_stored(struct mpc_metrics *m, uint64_t epoch, double when)
{
	lock(m);
	m->count[MPC_COUNT_BACKUPS_OK]++;
	m->has_backup = 1;
	m->last_backup_epoch = epoch;
	m->last_backup_time = when;
	unlock(m);
}

void mpc_metrics_backup_found(struct mpc_metrics *m, uint64_t epoch, double when)
{
	lock(m);
	if (!m->has_backup) {
		m->has_backup = 1;
		m->last_backup_epoch = epoch;
		m->last_backup_time = when;
	}
	unlock(m);
}

void mpc_metrics_poll_ok(struct mpc_metrics *m, double when, int has_epoch, uint64_t epoch,
			 int covered)
{
	lock(m);
	m->last_poll_ok = when;
	m->has_contract_epoch = has_epoch;
	m->contract_epoch = epoch;
	m->covered = has_epoch ? covered : -1;
	unlock(m);
}

void mpc_metrics_endpoint(struct mpc_metrics *m, const char *name, enum mpc_read_outcome status)
{
	size_t i;

	lock(m);
	for (i = 0; i < m->n_endpoints; i++)
		if (strcmp(m->endpoints[i].name, name) == 0)
			break;
	if (i == m->n_endpoints && i < MPC_METRICS_MAX_ENDPOINTS) {
		snprintf(m->endpoints[i].name, sizeof(m->endpoints[i].name), "%s", name);
		m->n_endpoints++;
	}
	if (i < m->n_endpoints) {
		if (status == MPC_READ_OK)
			m->endpoints[i].ok++;
		else if (status == MPC_READ_ERROR)
			m->endpoints[i].error++;
		else
			m->endpoints[i].disagree++;
	}
	unlock(m);
}

void mpc_metrics_drill(struct mpc_metrics *m, const char *text)
{
	lock(m);
	snprintf(m->drill, sizeof(m->drill), "%s", text);
	unlock(m);
}

void mpc_metrics_token_op(struct mpc_metrics *m, double seconds)
{
	lock(m);
	for (int i = 0; i < MPC_METRICS_BUCKETS; i++)
		if (seconds <= bucket_le[i]) {
			m->token_buckets[i]++;
			break;
		}
	m->token_count++;
	m->token_sum += seconds;
	unlock(m);
}

void mpc_metrics_health(struct mpc_metrics *m, enum mpc_health part, int ok, const char *why)
{
	if ((unsigned)part >= MPC_HEALTH_N)
		return;
	lock(m);
	m->ok[part] = ok;
	mpc_escape_untrusted(ok || why == NULL ? "" : why, m->why[part], sizeof(m->why[part]));
	unlock(m);
}

void mpc_metrics_replicas(struct mpc_metrics *m, const struct mpc_replica_status *st, size_t n)
{
	lock(m);
	m->n_replicas = n < MPC_REPLICA_MAX ? n : MPC_REPLICA_MAX;
	for (size_t i = 0; i < m->n_replicas; i++)
		m->replicas[i] = st[i];
	unlock(m);
}

static const char *const anomaly_names[MPC_ANOMALY_N] = { "epoch_backwards", "operator_gone",
							  "unknown_state", "registration" };

const char *mpc_anomaly_name(enum mpc_anomaly a)
{
	return (unsigned)a < MPC_ANOMALY_N ? anomaly_names[a] : "?";
}

int mpc_metrics_anomaly(struct mpc_metrics *m, enum mpc_anomaly a, int active, const char *why)
{
	int changed;

	if ((unsigned)a >= MPC_ANOMALY_N)
		return 0;
	active = active != 0;
	lock(m);
	changed = m->anomaly[a] != active;
	m->anomaly[a] = active;
	if (changed && active)
		m->anomalies[a]++;
	mpc_escape_untrusted(active && why != NULL ? why : "", m->anomaly_why[a],
			     sizeof(m->anomaly_why[a]));
	unlock(m);
	return changed;
}

static const char *const health_names[MPC_HEALTH_N] = { "contract", "token",  "store",
							"coverage", "backup", "replica" };

static int healthy(const struct mpc_metrics *m)
{
	for (int i = 0; i < MPC_HEALTH_N; i++)
		if (!m->ok[i])
			return 0;
	for (int i = 0; i < MPC_ANOMALY_N; i++)
		if (m->anomaly[i])
			return 0;
	return 1;
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

/* HELP for the drill's series (its text carries TYPE lines; promtool wants HELP for each). */
static const char *drill_help(const char *name)
{
	static const struct {
		const char *name, *help;
	} helps[] = {
		{ "mpc_backup_last_drill_timestamp_seconds",
		  "When the last restore drill ran (Unix seconds)." },
		{ "mpc_backup_last_drill_duration_seconds",
		  "How long the last restore drill took." },
		{ "mpc_backup_last_drill_contract_epoch",
		  "The contract's keyset epoch the last restore drill checked against." },
		{ "mpc_backup_last_drill_files",
		  "Store files by the last restore drill's verdict." },
		{ "mpc_backup_last_drill_replica_reached",
		  "1 when the last restore drill listed and downloaded the replica's copies." },
		{ "mpc_backup_last_drill_replica_restorable",
		  "1 when the replica's newest copy of the contract's epoch opened and matched." },
		{ "mpc_backup_last_drill_replica_omitted",
		  "Replica copies the last restore drill left out (past its bounds)." },
		{ "mpc_backup_last_drill_replica_files",
		  "Replica copies by the last restore drill's verdict." },
	};

	for (size_t i = 0; i < sizeof(helps) / sizeof(helps[0]); i++)
		if (strcmp(helps[i].name, name) == 0)
			return helps[i].help;
	return "A result of the last restore drill (docs/operations.md).";
}

/* Copy text, putting a HELP line before each "# TYPE name" that has none in the text. */
static void put_with_help(struct out *o, const char *text)
{
	const char *line = text;

	while (*line != '\0') {
		const char *nl = strchr(line, '\n');
		size_t len = nl != NULL ? (size_t)(nl - line) + 1 : strlen(line);

		if (strncmp(line, "# TYPE ", 7) == 0) {
			char name[128], help[160];
			size_t n = strcspn(line + 7, " \n");

			if (n < sizeof(name)) {
				memcpy(name, line + 7, n);
				name[n] = '\0';
				snprintf(help, sizeof(help), "# HELP %s ", name);
				if (strstr(text, help) == NULL)
					put(o, "# HELP %s %s\n", name, drill_help(name));
			}
		}
		put(o, "%.*s", (int)len, line);
		line += len;
	}
	if (line > text && line[-1] != '\n')
		put(o, "\n");
}

size_t mpc_metrics_render(struct mpc_metrics *m, char *buf, size_t cap)
{
	struct out o = { buf, cap, 0, 0 };
	uint64_t cum = 0;

	lock(m);
	put(&o, "# HELP mpc_backup_up 1 while the monitor runs.\n# TYPE mpc_backup_up gauge\n"
		"mpc_backup_up 1\n");
	put(&o, "# HELP mpc_backup_build_info The running build (its version in the label); always "
		"1.\n# TYPE mpc_backup_build_info gauge\nmpc_backup_build_info{version=\"");
	put_label(&o, m->version);
	put(&o, "\"} 1\n");
	put(&o,
	    "# HELP mpc_backup_last_backup_epoch Epoch of the newest keyset in the store (read "
	    "from the store at start, then each backup).\n"
	    "# TYPE mpc_backup_last_backup_epoch gauge\n"
	    "# HELP mpc_backup_last_backup_timestamp_seconds When the newest keyset in the store "
	    "was backed up (Unix seconds).\n"
	    "# TYPE mpc_backup_last_backup_timestamp_seconds gauge\n");
	if (m->has_backup)
		put(&o,
		    "mpc_backup_last_backup_epoch %llu\n"
		    "mpc_backup_last_backup_timestamp_seconds %.0f\n",
		    (unsigned long long)m->last_backup_epoch, m->last_backup_time);
	put(&o, "# HELP mpc_backup_contract_epoch The keyset epoch of the contract at the last "
		"agreed read.\n# TYPE mpc_backup_contract_epoch gauge\n"
		"# HELP mpc_backup_keyset_covered 1 when the store holds the contract's current "
		"keyset (as of the last agreed read), 0 when not.\n"
		"# TYPE mpc_backup_keyset_covered gauge\n");
	if (m->has_contract_epoch)
		put(&o, "mpc_backup_contract_epoch %llu\n", (unsigned long long)m->contract_epoch);
	if (m->covered >= 0)
		put(&o, "mpc_backup_keyset_covered %d\n", m->covered);
	put(&o, "# HELP mpc_backup_last_successful_poll_timestamp_seconds When the RPC endpoints "
		"last agreed on the contract (Unix seconds).\n"
		"# TYPE mpc_backup_last_successful_poll_timestamp_seconds gauge\n");
	if (m->last_poll_ok > 0)
		put(&o, "mpc_backup_last_successful_poll_timestamp_seconds %.0f\n",
		    m->last_poll_ok);
	put(&o,
	    "# HELP mpc_backup_backups_total Backups by outcome (covered: polls that found the "
	    "keyset already backed up).\n"
	    "# TYPE mpc_backup_backups_total counter\n"
	    "mpc_backup_backups_total{outcome=\"ok\"} %llu\n"
	    "mpc_backup_backups_total{outcome=\"error\"} %llu\n"
	    "mpc_backup_backups_total{outcome=\"covered\"} %llu\n",
	    (unsigned long long)m->count[MPC_COUNT_BACKUPS_OK],
	    (unsigned long long)m->count[MPC_COUNT_BACKUPS_ERROR],
	    (unsigned long long)m->count[MPC_COUNT_BACKUPS_COVERED]);
	put(&o,
	    "# HELP mpc_backup_pushes_total Keyshare pushes to a new node by outcome.\n"
	    "# TYPE mpc_backup_pushes_total counter\n"
	    "mpc_backup_pushes_total{outcome=\"ok\"} %llu\n"
	    "mpc_backup_pushes_total{outcome=\"error\"} %llu\n",
	    (unsigned long long)m->count[MPC_COUNT_PUSHES_OK],
	    (unsigned long long)m->count[MPC_COUNT_PUSHES_ERROR]);
	put(&o,
	    "# HELP mpc_backup_migrations_total Migrations or recoveries seen to their end.\n"
	    "# TYPE mpc_backup_migrations_total counter\n"
	    "mpc_backup_migrations_total{outcome=\"concluded\"} %llu\n"
	    "mpc_backup_migrations_total{outcome=\"cancelled\"} %llu\n",
	    (unsigned long long)m->count[MPC_COUNT_MIGRATIONS_CONCLUDED],
	    (unsigned long long)m->count[MPC_COUNT_MIGRATIONS_CANCELLED]);
	put(&o,
	    "# HELP mpc_backup_polls_total Contract polls.\n# TYPE mpc_backup_polls_total counter\n"
	    "mpc_backup_polls_total %llu\n",
	    (unsigned long long)m->count[MPC_COUNT_POLLS]);
	put(&o,
	    "# HELP mpc_backup_endpoint_disagreements_total Polls whose endpoints did not reach "
	    "the quorum.\n# TYPE mpc_backup_endpoint_disagreements_total counter\n"
	    "mpc_backup_endpoint_disagreements_total %llu\n",
	    (unsigned long long)m->count[MPC_COUNT_DISAGREEMENTS]);
	put(&o, "# HELP mpc_backup_contract_reads_total Contract reads by endpoint and outcome.\n"
		"# TYPE mpc_backup_contract_reads_total counter\n");
	for (size_t i = 0; i < m->n_endpoints; i++) {
		static const char *const names[] = { "ok", "error", "disagree" };
		uint64_t v[] = { m->endpoints[i].ok, m->endpoints[i].error,
				 m->endpoints[i].disagree };

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
	put(&o,
	    "mpc_backup_token_operation_seconds_bucket{le=\"+Inf\"} %llu\n"
	    "mpc_backup_token_operation_seconds_sum %.6f\n"
	    "mpc_backup_token_operation_seconds_count %llu\n",
	    (unsigned long long)m->token_count, m->token_sum, (unsigned long long)m->token_count);
	put(&o,
	    "# HELP mpc_backup_token_available 0 from when a token is found unavailable (absent, "
	    "device failed, module lost it) until its module is re-initialised and it answers "
	    "again, else 1.\n# TYPE mpc_backup_token_available gauge\nmpc_backup_token_available "
	    "%d\n# HELP mpc_backup_token_unavailable_total Times a token was found unavailable.\n"
	    "# TYPE mpc_backup_token_unavailable_total counter\n"
	    "mpc_backup_token_unavailable_total %llu\n",
	    m->token_available, (unsigned long long)m->token_losses);
	put(&o, "# HELP mpc_backup_anomaly 1 while the contract shows this oddity.\n"
		"# TYPE mpc_backup_anomaly gauge\n");
	for (int i = 0; i < MPC_ANOMALY_N; i++)
		put(&o, "mpc_backup_anomaly{kind=\"%s\"} %d\n", anomaly_names[i], m->anomaly[i]);
	put(&o, "# HELP mpc_backup_anomalies_total Times each oddity of the contract started.\n"
		"# TYPE mpc_backup_anomalies_total counter\n");
	for (int i = 0; i < MPC_ANOMALY_N; i++)
		put(&o, "mpc_backup_anomalies_total{kind=\"%s\"} %llu\n", anomaly_names[i],
		    (unsigned long long)m->anomalies[i]);
	if (m->n_replicas > 0) {
		static const char *const help[] = {
			"mpc_backup_replica_up 1 when the last pass listed the replica",
			"mpc_backup_replica_last_success_timestamp_seconds Unix time of the last pass "
			"that copied all it had to (0: never)",
			"mpc_backup_replica_files_behind Local keyset files the replica lacks",
			"mpc_backup_replica_files_different Files of the same name with another size "
			"or digest",
			"mpc_backup_replica_files_extra Keyset files on the replica only",
			"mpc_backup_replica_uploads_total Files copied to the replica",
			"mpc_backup_replica_failures_total Failed rclone calls for the replica",
		};
		for (size_t k = 0; k < sizeof(help) / sizeof(help[0]); k++) {
			size_t nl = strcspn(help[k], " ");

			put(&o, "# HELP %s\n# TYPE %.*s %s\n", help[k], (int)nl, help[k],
			    strstr(help[k], "_total ") != NULL ? "counter" : "gauge");
			for (size_t i = 0; i < m->n_replicas; i++) {
				const struct mpc_replica_status *r = &m->replicas[i];
				double v[] = { r->reached,
					       (double)r->last_success,
					       (double)r->files_behind,
					       (double)r->files_different,
					       (double)r->files_extra,
					       (double)r->uploads_total,
					       (double)r->failures_total };

				put(&o, "%.*s{replica=\"", (int)nl, help[k]);
				put_label(&o, r->remote);
				put(&o, "\"} %.0f\n", v[k]);
			}
		}
	}
	put_with_help(&o, m->drill);
	put(&o, "# HELP mpc_backup_health 1 while this part is healthy (what /healthz checks).\n"
		"# TYPE mpc_backup_health gauge\n");
	for (int i = 0; i < MPC_HEALTH_N; i++)
		put(&o, "mpc_backup_health{part=\"%s\"} %d\n", health_names[i], m->ok[i]);
	put(&o,
	    "# HELP mpc_backup_healthy 1 when every part is healthy and the contract shows no "
	    "oddity (/healthz answers 200).\n"
	    "# TYPE mpc_backup_healthy gauge\nmpc_backup_healthy %d\n",
	    healthy(m));
	unlock(m);
	return o.overflow ? 0 : o.len;
}

/* "ok\n", or "unhealthy: contract: why token: why ...\n" (truncated to cap). Under the mutex. */
static size_t healthz_text(const struct mpc_metrics *m, char *buf, size_t cap)
{
	struct out o = { buf, cap - 1, 0, 0 };

	if (healthy(m)) {
		put(&o, "ok\n");
		return o.len;
	}
	put(&o, "unhealthy:");
	for (int i = 0; i < MPC_HEALTH_N; i++)
		if (!m->ok[i])
			put(&o, " %s: %s;", health_names[i], m->why[i]);
	for (int i = 0; i < MPC_ANOMALY_N; i++)
		if (m->anomaly[i])
			put(&o, " %s: %s;", anomaly_names[i], m->anomaly_why[i]);
	put(&o, "\n");
	if (o.overflow) {
		o.len = strnlen(buf, cap - 1);
		buf[o.len] = '\0';
	}
	return o.len;
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
	char small[2048];

	(void)version;
	(void)upload;
	(void)con_cls;
	if (*upload_len != 0)
		return MHD_NO; /* no request bodies here */
	if (strcmp(method, "GET") != 0)
		return reply(conn, 405, "text/plain", (char *)"method not allowed\n", 19);
	if (strcmp(url, "/metrics") == 0) {
		size_t cap = m->render_cap > 0 ? m->render_cap : 64 * 1024, len = 0;
		size_t max = m->render_max > 0 ? m->render_max : MPC_METRICS_BODY_MAX;
		char *buf = NULL;
		enum MHD_Result ret;

		/* never a 200 with a cut or empty body: grow, or say why not */
		for (; len == 0 && cap <= max; cap *= 2) {
			char *nb = realloc(buf, cap);

			if (nb == NULL)
				break;
			buf = nb;
			len = mpc_metrics_render(m, buf, cap);
		}
		if (len == 0) {
			int n = snprintf(small, sizeof(small),
					 "metrics: the text is over %zu bytes; not served\n", max);

			free(buf);
			return reply(conn, 500, "text/plain", small, (size_t)n);
		}
		ret = reply(conn, 200, "text/plain; version=0.0.4", buf, len);
		free(buf);
		return ret;
	}
	if (strcmp(url, "/healthz") == 0) {
		int ok;
		size_t n;

		lock(m);
		ok = healthy(m);
		n = healthz_text(m, small, sizeof(small));
		unlock(m);
		return reply(conn, ok ? 200 : 503, "text/plain", small, n);
	}
	return reply(conn, 404, "text/plain", (char *)"not found\n", 10);
}

int mpc_metrics_listen(struct mpc_metrics *m, const char *listen, unsigned *port, struct mpc_err *e)
{
	struct sockaddr_storage ss;
	char host[128];
	const char *colon = strrchr(listen, ':');
	unsigned long p;
	char *end;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;

	memset(&ss, 0, sizeof(ss));
	if (colon == NULL || (size_t)(colon - listen) >= sizeof(host) || colon == listen)
		return mpc_fail(e, MPC_ERR_USAGE,
				"--metrics-listen: expected ADDR:PORT, got \"%.60s\"", listen);
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	p = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || colon[1] == '\0' || p > 65535)
		return mpc_fail(e, MPC_ERR_USAGE, "--metrics-listen: bad port in \"%.60s\"",
				listen);
	if (host[0] == '[' && host[strlen(host) - 1] != ']')
		return mpc_fail(e, MPC_ERR_USAGE,
				"--metrics-listen: \"%.60s\": an IPv6 address is [ADDR]:PORT",
				listen);
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
	/* A probe must always get an answer: one client holds at most MPC_METRICS_PER_CLIENT
	 * connections, idle ones close after MPC_METRICS_IDLE_S, and the total leaves room for
	 * many clients. */
	m->daemon =
		MHD_start_daemon(flags, (uint16_t)p, NULL, NULL, handle, m, MHD_OPTION_SOCK_ADDR,
				 (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_TIMEOUT,
				 (unsigned)MPC_METRICS_IDLE_S, MHD_OPTION_CONNECTION_LIMIT,
				 (unsigned)MPC_METRICS_MAX_CONNECTIONS,
				 MHD_OPTION_PER_IP_CONNECTION_LIMIT,
				 (unsigned)MPC_METRICS_PER_CLIENT, MHD_OPTION_END);
	if (m->daemon == NULL)
		return mpc_fail(e, MPC_ERR_IO, "cannot serve metrics on %.60s (address in use?)",
				listen);
	info = MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_BIND_PORT);
	if (port != NULL)
		*port = info != NULL ? info->port : (unsigned)p;
	return MPC_OK;
}

void mpc_metrics_token_available(struct mpc_metrics *m, int available)
{
	lock(m);
	if (m->token_available && !available)
		m->token_losses++;
	m->token_available = available ? 1 : 0;
	unlock(m);
}
