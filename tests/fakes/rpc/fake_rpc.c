/* fake_rpc.c: a fake NEAR JSON-RPC endpoint serving the MPC contract's `state` and
 * `migration_info` views from a scripted timeline, with injectable faults.
 *
 * Usage: fake-rpc --dir DIR [--port N] [--fault KIND] [--height N]
 *                 [--tls-cert PEM --tls-key PEM]
 *
 *   --dir DIR     timeline directory, re-read on every request (replace files atomically with
 *                 rename(2) to advance the timeline):
 *                   DIR/state.json            the `state` view's JSON (served byte for byte)
 *                   DIR/migration_info.json   the `migration_info` view's JSON ({} if absent)
 *                   DIR/lie-state.json        served for `state` under the `lie` fault
 *                   DIR/lie-migration_info.json  served for `migration_info` under `lie`, if any
 *                   DIR/fault                 optional: first word = fault, overrides --fault
 *                   DIR/height                optional: block height to report
 *   --port N      TCP port on 127.0.0.1 (default 0 = any). The first line on stdout is
 *                 "PORT <n>", flushed, once the server is listening.
 *   --fault KIND  none | lie | refuse (close the connection, no response) | 503 |
 *                 hang (answer nothing while the fault stays `hang`; polls every 100 ms) |
 *                 oversized (stream a ~50 MB valid-looking response; logs "oversized
 *                 stopped after N bytes" when the client hangs up or it ends) | nonjson |
 *                 rpc-error (JSON-RPC `error` object) | panic (`result.error`, as nearcore
 *                 reports a contract panic) | echo (a JSON-RPC error quoting the request's path
 *                 and query: for testing that clients scrub what servers echo)
 *   --height N    block height to report (default 100000000, +1 per request)
 *   --tls-cert PEM, --tls-key PEM   serve HTTPS with this certificate and key
 *
 * The path and query string of the request are ignored (an RPC URL may carry an API key
 * there). Each request logs one line to stderr: "fake-rpc: method=<method_name> fault=<kind>",
 * and each new connection logs "fake-rpc: connection"; scenario tests count these lines.
 * Runs until killed (SIGTERM/SIGKILL).
 *
 * Response shape (nearcore's RpcQueryResponse for call_function):
 *   {"jsonrpc":"2.0","result":{"result":[bytes],"logs":[],"block_height":N,
 *    "block_hash":"<base58>"},"id":<the request id>}
 */
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BODY_MAX 65536
#define FILE_MAX ((size_t)256 << 20)
#define OVERSIZED_BYTES ((size_t)50 << 20)
#define BLOCK_HASH "6Kq3p9Yqk9n5aF9ZbGWGBZ3C4NzKxgK5c8v8d7aV1Q2s"

struct config {
	const char *dir;
	const char *fault;
	unsigned long long height;
	const char *tls_cert, *tls_key;
};

struct request {
	char *body;
	size_t len;
	int too_large;
};

/* Mutable per-process counter only: this is a test fake, not library code. */
static _Atomic unsigned long long g_requests;

struct buf {
	char *p;
	size_t len, cap;
};

static int buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *np;

		while (cap < b->len + n + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (np == NULL)
			return -1;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static int buf_str(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

static char *read_file(const char *dir, const char *name, size_t *len)
{
	char path[4096];
	FILE *f;
	char *data = NULL;
	size_t cap = 0, n = 0;

	if (dir != NULL)
		snprintf(path, sizeof(path), "%s/%s", dir, name);
	else
		snprintf(path, sizeof(path), "%s", name);
	f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	for (;;) {
		size_t got;

		if (n + 65536 + 1 > cap) {
			char *nd;

			cap = cap ? cap * 2 : 131072;
			if (cap > FILE_MAX)
				break;
			nd = realloc(data, cap);
			if (nd == NULL)
				break;
			data = nd;
		}
		got = fread(data + n, 1, 65536, f);
		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	if (data == NULL)
		data = calloc(1, 1);
	if (data != NULL)
		data[n] = '\0';
	*len = n;
	return data;
}

/* The fault in force: DIR/fault if present, else --fault. */
static void current_fault(const struct config *cfg, char out[32])
{
	size_t n = 0;
	char *f = read_file(cfg->dir, "fault", &n);

	if (f != NULL) {
		size_t i = 0;

		while (i < n && i < 31 && f[i] != '\n' && f[i] != ' ' && f[i] != '\r')
			i++;
		memcpy(out, f, i);
		out[i] = '\0';
		free(f);
		if (out[0] != '\0')
			return;
	}
	snprintf(out, 32, "%s", cfg->fault);
}

static unsigned long long current_height(const struct config *cfg)
{
	size_t n = 0;
	char *f = read_file(cfg->dir, "height", &n);
	unsigned long long h;

	if (f == NULL)
		return cfg->height + g_requests;
	h = strtoull(f, NULL, 10);
	free(f);
	return h;
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *type,
				 char *body, size_t len)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	if (r == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, struct buf *b)
{
	return send_text(c, status, "application/json", b->p, b->len);
}

/* Oversized streaming: a valid prefix, then "1," until OVERSIZED_BYTES, then a valid end. */
struct oversized {
	uint64_t sent;
};

static void oversized_free(void *cls)
{
	struct oversized *o = cls;

	fprintf(stderr, "fake-rpc: oversized stopped after %llu bytes\n",
		(unsigned long long)o->sent);
	free(o);
}

static ssize_t oversized_cb(void *cls, uint64_t pos, char *out, size_t max)
{
	struct oversized *o = cls;

	static const char head[] = "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"result\":{\"result\":[";
	static const char tail[] = "1],\"logs\":[],\"block_height\":1,\"block_hash\":\"x\"}}";
	size_t i = 0;

	if (pos >= OVERSIZED_BYTES + sizeof(tail) - 1)
		return MHD_CONTENT_READER_END_OF_STREAM;
	while (i < max) {
		uint64_t p = pos + i;

		if (p < sizeof(head) - 1)
			out[i] = head[p];
		else if (p < OVERSIZED_BYTES)
			out[i] = (p - (sizeof(head) - 1)) % 2 == 0 ? '1' : ',';
		else if (p < OVERSIZED_BYTES + sizeof(tail) - 1)
			out[i] = tail[p - OVERSIZED_BYTES];
		else
			break;
		i++;
	}
	o->sent = pos + i;
	return (ssize_t)i;
}

static int add_id(struct buf *b, json_t *id)
{
	char *s = id != NULL ? json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	int rc = buf_str(b, s != NULL ? s : "null");

	free(s);
	return rc;
}

static enum MHD_Result rpc_error(struct MHD_Connection *c, json_t *id, const char *name,
				 const char *cause, const char *data)
{
	struct buf b = { 0 };
	json_t *err = json_pack("{s:s,s:{s:s,s:{}},s:i,s:s,s:s}", "name", name, "cause", "name",
				cause, "info", "code", -32000, "message", "Server error", "data",
				data);
	char *es = err != NULL ? json_dumps(err, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

	json_decref(err);
	buf_str(&b, "{\"jsonrpc\":\"2.0\",\"error\":");
	buf_str(&b, es != NULL ? es : "{}");
	buf_str(&b, ",\"id\":");
	add_id(&b, id);
	buf_str(&b, "}");
	free(es);
	return send_json(c, 200, &b);
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct buf *b = cls;

	(void)kind;
	buf_str(b, b->len > 0 && strchr(b->p, '?') != NULL ? "&" : "?");
	buf_str(b, key);
	if (value != NULL) {
		buf_str(b, "=");
		buf_str(b, value);
	}
	return MHD_YES;
}

static enum MHD_Result answer(struct MHD_Connection *c, const struct config *cfg, const char *url,
			      const struct request *req)
{
	json_t *j = NULL, *id = NULL, *params;
	const char *method = NULL, *rpc_method;
	char fault[32], file[64], height[32];
	struct buf b = { 0 };
	char *data = NULL;
	size_t len = 0;
	enum MHD_Result ret;

	g_requests++;
	if (req->too_large)
		return send_text(c, 413, "text/plain", strdup("too large"), 9);
	j = json_loadb(req->body != NULL ? req->body : "", req->len, 0, NULL);
	id = json_object_get(j, "id");
	params = json_object_get(j, "params");
	method = json_string_value(json_object_get(params, "method_name"));
	current_fault(cfg, fault);
	fprintf(stderr, "fake-rpc: method=%s fault=%s\n", method != NULL ? method : "-",
		fault[0] ? fault : "none");
	rpc_method = json_string_value(json_object_get(j, "method"));
	if (rpc_method == NULL || strcmp(rpc_method, "query") != 0 || method == NULL) {
		ret = rpc_error(c, id, "REQUEST_VALIDATION_ERROR", "PARSE_ERROR",
				"fake-rpc: expected a query call_function request");
		goto out;
	}
	while (strcmp(fault, "hang") == 0) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };

		nanosleep(&ts, NULL);
		current_fault(cfg, fault);
	}
	if (strcmp(fault, "refuse") == 0) {
		ret = MHD_NO; /* MHD closes the connection without a response */
		goto out;
	}
	if (strcmp(fault, "503") == 0) {
		ret = send_text(c, 503, "text/plain", strdup("Service Unavailable"), 19);
		goto out;
	}
	if (strcmp(fault, "nonjson") == 0) {
		const char *html = "<html><body>502 Bad Gateway</body></html>";

		ret = send_text(c, 200, "text/html", strdup(html), strlen(html));
		goto out;
	}
	if (strcmp(fault, "rpc-error") == 0) {
		ret = rpc_error(c, id, "HANDLER_ERROR", "UNKNOWN_BLOCK",
				"DB Not Found Error: BLOCK HEIGHT: 1 (fake-rpc)");
		goto out;
	}
	if (strcmp(fault, "echo") == 0) {
		struct buf u = { 0 };

		buf_str(&u, url);
		MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, &u);
		ret = rpc_error(c, id, "HANDLER_ERROR", "UNAUTHORIZED", u.p != NULL ? u.p : "");
		free(u.p);
		goto out;
	}
	if (strcmp(fault, "oversized") == 0) {
		struct oversized *ov = calloc(1, sizeof(*ov));
		struct MHD_Response *r = ov == NULL ? NULL : MHD_create_response_from_callback(
			MHD_SIZE_UNKNOWN, 65536, oversized_cb, ov, oversized_free);

		if (r == NULL) {
			free(ov);
			ret = MHD_NO;
			goto out;
		}
		MHD_add_response_header(r, "Content-Type", "application/json");
		ret = MHD_queue_response(c, 200, r);
		MHD_destroy_response(r);
		goto out;
	}
	snprintf(height, sizeof(height), "%llu", current_height(cfg));
	if (strcmp(fault, "panic") == 0) {
		buf_str(&b, "{\"jsonrpc\":\"2.0\",\"result\":{\"error\":\"wasm execution failed with "
			    "error: FunctionCallError(ExecutionError(\\\"Smart contract panicked: "
			    "fake-rpc panic\\\"))\",\"logs\":[],\"block_height\":");
		buf_str(&b, height);
		buf_str(&b, ",\"block_hash\":\"" BLOCK_HASH "\"},\"id\":");
		add_id(&b, id);
		buf_str(&b, "}");
		ret = send_json(c, 200, &b);
		goto out;
	}
	if (strcmp(method, "state") != 0 && strcmp(method, "migration_info") != 0) {
		buf_str(&b, "{\"jsonrpc\":\"2.0\",\"result\":{\"error\":\"wasm execution failed with "
			    "error: MethodResolveError(MethodNotFound)\",\"logs\":[],"
			    "\"block_height\":");
		buf_str(&b, height);
		buf_str(&b, ",\"block_hash\":\"" BLOCK_HASH "\"},\"id\":");
		add_id(&b, id);
		buf_str(&b, "}");
		ret = send_json(c, 200, &b);
		goto out;
	}
	snprintf(file, sizeof(file), "%s%s.json", strcmp(fault, "lie") == 0 ? "lie-" : "", method);
	data = read_file(cfg->dir, file, &len);
	if (data == NULL && strcmp(fault, "lie") == 0)
		data = read_file(cfg->dir, file + 4, &len);
	if (data == NULL && strcmp(method, "migration_info") == 0) {
		data = strdup("{}");
		len = 2;
	}
	if (data == NULL) {
		ret = rpc_error(c, id, "HANDLER_ERROR", "NO_CONTRACT_CODE",
				"fake-rpc: no view file for this method");
		goto out;
	}
	buf_str(&b, "{\"jsonrpc\":\"2.0\",\"result\":{\"result\":[");
	for (size_t i = 0; i < len; i++) {
		char num[8];
		int n = snprintf(num, sizeof(num), i ? ",%u" : "%u", (unsigned char)data[i]);

		if (buf_add(&b, num, (size_t)n) != 0)
			break;
	}
	buf_str(&b, strcmp(method, "migration_info") == 0 ? "],\"logs\":[\"migration_info\"],"
							    : "],\"logs\":[],");
	buf_str(&b, "\"block_height\":");
	buf_str(&b, height);
	buf_str(&b, ",\"block_hash\":\"" BLOCK_HASH "\"},\"id\":");
	add_id(&b, id);
	buf_str(&b, "}");
	ret = send_json(c, 200, &b);
out:
	free(data);
	json_decref(j);
	return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	const struct config *cfg = cls;
	struct request *req = *con_cls;

	(void)version;
	if (req == NULL) {
		req = calloc(1, sizeof(*req));
		if (req == NULL)
			return MHD_NO;
		*con_cls = req;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (req->len + *upload_size > BODY_MAX) {
			req->too_large = 1;
		} else {
			char *nb = realloc(req->body, req->len + *upload_size + 1);

			if (nb == NULL)
				return MHD_NO;
			req->body = nb;
			memcpy(req->body + req->len, upload, *upload_size);
			req->len += *upload_size;
			req->body[req->len] = '\0';
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "POST") != 0)
		return send_text(c, 405, "text/plain", strdup("POST only"), 9);
	return answer(c, cfg, url, req);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct request *req = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (req != NULL) {
		free(req->body);
		free(req);
		*con_cls = NULL;
	}
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	(void)cls;
	(void)c;
	(void)socket_context;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		fprintf(stderr, "fake-rpc: connection\n");
}

static void usage(void)
{
	fprintf(stderr, "usage: fake-rpc --dir DIR [--port N] [--fault KIND] [--height N] "
			"[--tls-cert PEM --tls-key PEM]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct config cfg = { NULL, "none", 100000000ULL, NULL, NULL };
	char *cert = NULL, *key = NULL;
	size_t cert_len = 0, key_len = 0;
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_ERROR_LOG;
	struct sockaddr_in sa;
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	unsigned long port = 0;

	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--dir") == 0)
			cfg.dir = argv[++i];
		else if (strcmp(argv[i], "--port") == 0)
			port = strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--fault") == 0)
			cfg.fault = argv[++i];
		else if (strcmp(argv[i], "--height") == 0)
			cfg.height = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--tls-cert") == 0)
			cfg.tls_cert = argv[++i];
		else if (strcmp(argv[i], "--tls-key") == 0)
			cfg.tls_key = argv[++i];
		else
			usage();
	}
	if (cfg.dir == NULL || port > 65535 || (cfg.tls_cert == NULL) != (cfg.tls_key == NULL))
		usage();
	if (cfg.tls_cert != NULL) {
		cert = read_file(NULL, cfg.tls_cert, &cert_len);
		key = read_file(NULL, cfg.tls_key, &key_len);
		if (cert == NULL || key == NULL) {
			fprintf(stderr, "fake-rpc: cannot read the TLS certificate or key\n");
			return 1;
		}
		flags |= MHD_USE_TLS;
	}
	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* Without TLS the two HTTPS options are not passed: the list ends early. */
	d = MHD_start_daemon(flags, 0, NULL, NULL, handler, &cfg, MHD_OPTION_SOCK_ADDR, &sa,
			     MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
			     MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
			     MHD_OPTION_CONNECTION_TIMEOUT, 120u,
			     cert != NULL ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert,
			     MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "fake-rpc: cannot listen: %s\n", strerror(errno));
		return 1;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	printf("PORT %u\n", info != NULL ? (unsigned)info->port : (unsigned)port);
	fflush(stdout);
	for (;;)
		pause();
}
