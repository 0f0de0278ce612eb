/* fake_rpc.c: a fake NEAR JSON-RPC endpoint serving the MPC contract's views from a scripted
 * timeline of blocks, with injectable faults.
 *
 * Usage: fake-rpc --dir DIR [--port N] [--fault KIND] [--height N]
 *                 [--tls-cert PEM --tls-key PEM]
 *
 *   --dir DIR     timeline directory, re-read on every request (replace files atomically with
 *                 rename(2) to advance the timeline):
 *                   DIR/<M>.json              view M's JSON (served byte for byte), e.g.
 *                                             state.json, migration_info.json ({} if absent),
 *                                             get_attestation.json; a view without a file is
 *                                             answered as nearcore does for a missing method
 *                   DIR/<M>@<H>.json          view M as of block H and later: a query for block
 *                                             h is served from the file with the largest H <= h,
 *                                             else from DIR/<M>.json
 *                   DIR/lie-<M>.json          served for M under the `lie` fault, if present
 *                   DIR/fault                 optional: first word = fault, overrides --fault
 *                   DIR/height                optional: "N" = the final block height is N;
 *                                             "N+" = N plus the requests answered so far
 *                   DIR/lag                   optional: the final height is this much lower
 *                                             (an endpoint behind the others)
 *                   DIR/lie-height, DIR/lie-hash  under `lie`: the final height and the block
 *                                             hash this endpoint reports (a fabricated block)
 *   --port N      TCP port on 127.0.0.1 (default 0 = any). The first line on stdout is
 *                 "PORT <n>", flushed, once the server is listening.
 *   --fault KIND  none | lie | refuse (close the connection, no response) | 503 |
 *                 hang (answer nothing while the fault stays `hang`; polls every 100 ms) |
 *                 hang-M (the same for view M's queries only, e.g. hang-get_attestation;
 *                 every other request is answered as under `none`) |
 *                 oversized (stream a ~50 MB valid-looking response; logs "oversized
 *                 stopped after N bytes" when the client hangs up or it ends) | nonjson |
 *                 rpc-error (JSON-RPC `error` object) | panic (`result.error`, as nearcore
 *                 reports a contract panic) | echo (a JSON-RPC error quoting the request's path
 *                 and query: for testing that clients scrub what servers echo)
 *   --height N    base of the default final height (default 100000000): without DIR/height the
 *                 final height is N + the wall clock in tenths of a second (mod 10^9), so
 *                 separate fake processes agree and a block one of them reports is known to
 *                 all of them a moment later
 *   --tls-cert PEM, --tls-key PEM   serve HTTPS with this certificate and key
 *
 * JSON-RPC methods:
 *   block {"finality":"final"}      {"result":{"author":..,"header":{"height":H,"hash":..,...},
 *                                    "chunks":[]}}; `lie`: DIR/lie-height and DIR/lie-hash
 *   query call_function             with "finality":"final" or "block_id":h. A block above the
 *                                   final height gets nearcore's UNKNOWN_BLOCK error:
 *                                   {"error":{"name":"HANDLER_ERROR","cause":{"name":
 *                                   "UNKNOWN_BLOCK","info":{...}},"code":-32000,"message":
 *                                   "Server error","data":"DB Not Found Error: BLOCK HEIGHT: h
 *                                   \n Cause: Unknown"}}. args_base64 must decode to JSON
 *                                   (else a PARSE_ERROR error); the args are logged.
 * The block hash of height h is a fixed function of h (all honest fakes agree).
 *
 * The path and query string of the request are ignored (an RPC URL may carry an API key
 * there). Each request logs one line to stderr: "fake-rpc: method=<method_name> fault=<kind>"
 * (a block request logs "method=block"), and each new connection logs "fake-rpc: connection";
 * scenario tests count these lines. Runs until killed (SIGTERM/SIGKILL).
 *
 * Response shape (nearcore's RpcQueryResponse for call_function):
 *   {"jsonrpc":"2.0","result":{"result":[bytes],"logs":[],"block_height":N,
 *    "block_hash":"<base58>"},"id":<the request id>}
 */
#include <dirent.h>
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
#define HASH_MAX 64

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

/* A small number from DIR/name, or -1 when absent. */
static long long dir_number(const struct config *cfg, const char *name, int *plus)
{
	size_t n = 0;
	char *f = read_file(cfg->dir, name, &n);
	char *end = NULL;
	long long v;

	if (f == NULL)
		return -1;
	v = strtoll(f, &end, 10);
	if (plus != NULL)
		*plus = end != NULL && *end == '+';
	free(f);
	return v;
}

/* The final block height this endpoint reports now (before lies). */
static unsigned long long final_height(const struct config *cfg)
{
	int plus = 0;
	long long fixed = dir_number(cfg, "height", &plus), lag = dir_number(cfg, "lag", NULL);
	unsigned long long h;

	if (fixed >= 0) {
		h = (unsigned long long)fixed + (plus ? g_requests - 1 : 0);
	} else {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		h = cfg->height + ((unsigned long long)ts.tv_sec * 10 +
				   (unsigned long long)ts.tv_nsec / 100000000) % 1000000000ULL;
	}
	if (lag > 0)
		h = (unsigned long long)lag < h ? h - (unsigned long long)lag : 1;
	return h;
}

/* The hash of block h: a fixed function of h, in the base58 alphabet (44 characters). */
static void block_hash(unsigned long long h, char out[HASH_MAX])
{
	static const char digits[] = "ABCDEFGHJK";
	char num[24];
	size_t o = 0;

	snprintf(num, sizeof(num), "%llu", h);
	out[o++] = 'F';
	out[o++] = 'k';
	for (size_t i = 0; num[i] != '\0'; i++)
		out[o++] = digits[num[i] - '0'];
	while (o < 44)
		out[o++] = 'z';
	out[o] = '\0';
}

/* The liar's hash, if it has one. */
static int lie_hash(const struct config *cfg, char out[HASH_MAX])
{
	size_t n = 0, i = 0;
	char *f = read_file(cfg->dir, "lie-hash", &n);

	if (f == NULL)
		return 0;
	while (i < n && i < HASH_MAX - 1 && f[i] != '\n' && f[i] != ' ')
		i++;
	memcpy(out, f, i);
	out[i] = '\0';
	free(f);
	return 1;
}

/* The view file for method M at block h: DIR/<prefix><M>@<H>.json with the largest H <= h,
 * else DIR/<prefix><M>.json. NULL when neither exists. */
static char *view_file(const struct config *cfg, const char *prefix, const char *m,
		       unsigned long long h, size_t *len)
{
	char want[160], best[256] = "";
	unsigned long long best_h = 0;
	size_t wl;
	DIR *d;
	struct dirent *de;

	snprintf(want, sizeof(want), "%s%s@", prefix, m);
	wl = strlen(want);
	d = opendir(cfg->dir);
	while (d != NULL && (de = readdir(d)) != NULL) {
		char *end = NULL;
		unsigned long long v;

		if (strncmp(de->d_name, want, wl) != 0)
			continue;
		v = strtoull(de->d_name + wl, &end, 10);
		if (end == NULL || strcmp(end, ".json") != 0 || v > h || v < best_h)
			continue;
		best_h = v;
		snprintf(best, sizeof(best), "%s", de->d_name);
	}
	if (d != NULL)
		closedir(d);
	if (best[0] != '\0')
		return read_file(cfg->dir, best, len);
	snprintf(want, sizeof(want), "%s%s.json", prefix, m);
	return read_file(cfg->dir, want, len);
}

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Standard base64 with padding; NULL if malformed. */
static char *b64decode(const char *in, size_t *outlen)
{
	size_t n = strlen(in), o = 0;
	char *out;

	if (n % 4 != 0)
		return NULL;
	out = malloc(n / 4 * 3 + 1);
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];

		for (int k = 0; k < 4; k++) {
			v[k] = in[i + k] == '=' && i + 4 == n && k >= 2 ? 0 : b64val(in[i + k]);
			if (v[k] < 0 || (in[i + k] == '=' && k == 2 && in[i + 3] != '=')) {
				free(out);
				return NULL;
			}
		}
		out[o++] = (char)(v[0] << 2 | v[1] >> 4);
		if (in[i + 2] != '=')
			out[o++] = (char)((v[1] & 15) << 4 | v[2] >> 2);
		if (in[i + 3] != '=')
			out[o++] = (char)((v[2] & 3) << 6 | v[3]);
	}
	out[o] = '\0';
	*outlen = o;
	return out;
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
	static const char tail[] = "1],\"logs\":[],\"block_height\":1,\"block_hash\":\"x1\"}}";
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

/* {"jsonrpc":"2.0","result":{<inner>,"block_height":h,"block_hash":"<hash>"},"id":<id>} */
static enum MHD_Result send_result(struct MHD_Connection *c, json_t *id, struct buf *b,
				   unsigned long long h, const char *hash)
{
	char tail[160];

	snprintf(tail, sizeof(tail), "\"block_height\":%llu,\"block_hash\":\"%s\"},\"id\":", h,
		 hash);
	buf_str(b, tail);
	add_id(b, id);
	buf_str(b, "}");
	return send_json(c, 200, b);
}

static enum MHD_Result answer_block(struct MHD_Connection *c, const struct config *cfg,
				    json_t *id, int lie)
{
	unsigned long long h = final_height(cfg);
	long long lh = lie ? dir_number(cfg, "lie-height", NULL) : -1;
	char hash[HASH_MAX], prev[HASH_MAX], tmp[512];
	struct buf b = { 0 };

	if (lh > 0)
		h = (unsigned long long)lh;
	block_hash(h, hash);
	block_hash(h - 1, prev);
	if (lie)
		lie_hash(cfg, hash);
	snprintf(tmp, sizeof(tmp),
		 "{\"jsonrpc\":\"2.0\",\"result\":{\"author\":\"fake-validator.near\","
		 "\"header\":{\"height\":%llu,\"prev_height\":%llu,\"epoch_id\":"
		 "\"11111111111111111111111111111111\",\"hash\":\"%s\",\"prev_hash\":\"%s\","
		 "\"timestamp\":%llu,\"chunks_included\":6},\"chunks\":[]},\"id\":",
		 h, h - 1, hash, prev, h * 1000000000ULL);
	buf_str(&b, tmp);
	add_id(&b, id);
	buf_str(&b, "}");
	return send_json(c, 200, &b);
}

static enum MHD_Result answer(struct MHD_Connection *c, const struct config *cfg, const char *url,
			      const struct request *req)
{
	json_t *j = NULL, *id = NULL, *params, *bid;
	const char *method = NULL, *rpc_method, *args64;
	char fault[32], hash[HASH_MAX], msg[160];
	struct buf b = { 0 };
	char *data = NULL, *args = NULL;
	size_t len = 0, args_len = 0;
	unsigned long long final, h;
	int is_block, lie;
	enum MHD_Result ret;

	g_requests++;
	if (req->too_large)
		return send_text(c, 413, "text/plain", strdup("too large"), 9);
	j = json_loadb(req->body != NULL ? req->body : "", req->len, 0, NULL);
	id = json_object_get(j, "id");
	params = json_object_get(j, "params");
	rpc_method = json_string_value(json_object_get(j, "method"));
	is_block = rpc_method != NULL && strcmp(rpc_method, "block") == 0;
	method = is_block ? "block" : json_string_value(json_object_get(params, "method_name"));
	current_fault(cfg, fault);
	lie = strcmp(fault, "lie") == 0;
	fprintf(stderr, "fake-rpc: method=%s fault=%s\n", method != NULL ? method : "-",
		fault[0] ? fault : "none");
	if (is_block) {
		const char *fin = json_string_value(json_object_get(params, "finality"));

		if (fin == NULL || strcmp(fin, "final") != 0) {
			ret = rpc_error(c, id, "REQUEST_VALIDATION_ERROR", "PARSE_ERROR",
					"fake-rpc: block supports only {\"finality\":\"final\"}");
			goto out;
		}
	} else if (rpc_method == NULL || strcmp(rpc_method, "query") != 0 || method == NULL ||
		   strcmp(json_string_value(json_object_get(params, "request_type")) != NULL
				  ? json_string_value(json_object_get(params, "request_type"))
				  : "",
			  "call_function") != 0) {
		ret = rpc_error(c, id, "REQUEST_VALIDATION_ERROR", "PARSE_ERROR",
				"fake-rpc: expected a query call_function or a block request");
		goto out;
	}
	while (strcmp(fault, "hang") == 0 ||
	       (strncmp(fault, "hang-", 5) == 0 && method != NULL && strcmp(fault + 5, method) == 0)) {
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
	if (is_block) {
		ret = answer_block(c, cfg, id, lie);
		goto out;
	}
	/* The block asked for, against what this endpoint has. */
	final = final_height(cfg);
	if (lie && dir_number(cfg, "lie-height", NULL) > 0)
		final = (unsigned long long)dir_number(cfg, "lie-height", NULL);
	bid = json_object_get(params, "block_id");
	if (bid != NULL) {
		if (!json_is_integer(bid) || json_integer_value(bid) <= 0 ||
		    json_object_get(params, "finality") != NULL) {
			ret = rpc_error(c, id, "REQUEST_VALIDATION_ERROR", "PARSE_ERROR",
					"fake-rpc: block_id must be a height, without finality");
			goto out;
		}
		h = (unsigned long long)json_integer_value(bid);
		if (h > final) {
			json_t *err;

			snprintf(msg, sizeof(msg), "DB Not Found Error: BLOCK HEIGHT: %llu \n Cause: Unknown",
				 h);
			err = json_pack("{s:s,s:{s:s,s:{s:{s:I}}},s:i,s:s,s:s}", "name",
					"HANDLER_ERROR", "cause", "name", "UNKNOWN_BLOCK", "info",
					"block_reference", "block_id", (json_int_t)h, "code", -32000,
					"message", "Server error", "data", msg);
			char *es = err != NULL ? json_dumps(err, JSON_COMPACT) : NULL;

			json_decref(err);
			buf_str(&b, "{\"jsonrpc\":\"2.0\",\"error\":");
			buf_str(&b, es != NULL ? es : "{}");
			buf_str(&b, ",\"id\":");
			add_id(&b, id);
			buf_str(&b, "}");
			free(es);
			ret = send_json(c, 200, &b);
			goto out;
		}
	} else {
		const char *fin = json_string_value(json_object_get(params, "finality"));

		if (fin == NULL || strcmp(fin, "final") != 0) {
			ret = rpc_error(c, id, "REQUEST_VALIDATION_ERROR", "PARSE_ERROR",
					"fake-rpc: expected finality final or a block_id");
			goto out;
		}
		h = final;
	}
	block_hash(h, hash);
	if (lie)
		lie_hash(cfg, hash);
	args64 = json_string_value(json_object_get(params, "args_base64"));
	args = args64 != NULL ? b64decode(args64, &args_len) : NULL;
	{
		json_t *aj = args != NULL ? json_loadb(args, args_len, JSON_DECODE_ANY, NULL) : NULL;

		if (aj == NULL) {
			free(args);
			args = NULL;
		}
		json_decref(aj);
	}
	if (args == NULL) {
		ret = rpc_error(c, id, "REQUEST_VALIDATION_ERROR", "PARSE_ERROR",
				"fake-rpc: args_base64 is not base64 of JSON");
		goto out;
	}
	fprintf(stderr, "fake-rpc: args=%.200s block=%llu\n", args, h);
	if (strcmp(fault, "panic") == 0) {
		buf_str(&b, "{\"jsonrpc\":\"2.0\",\"result\":{\"error\":\"wasm execution failed with "
			    "error: FunctionCallError(ExecutionError(\\\"Smart contract panicked: "
			    "fake-rpc panic\\\"))\",\"logs\":[],");
		ret = send_result(c, id, &b, h, hash);
		goto out;
	}
	data = lie ? view_file(cfg, "lie-", method, h, &len) : NULL;
	if (data == NULL)
		data = view_file(cfg, "", method, h, &len);
	if (data == NULL && strcmp(method, "migration_info") == 0) {
		data = strdup("{}");
		len = 2;
	}
	if (data == NULL && strcmp(method, "state") == 0) {
		ret = rpc_error(c, id, "HANDLER_ERROR", "NO_CONTRACT_CODE",
				"fake-rpc: no view file for this method");
		goto out;
	}
	if (data == NULL) {
		buf_str(&b, "{\"jsonrpc\":\"2.0\",\"result\":{\"error\":\"wasm execution failed with "
			    "error: MethodResolveError(MethodNotFound)\",\"logs\":[],");
		ret = send_result(c, id, &b, h, hash);
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
	ret = send_result(c, id, &b, h, hash);
out:
	free(data);
	free(args);
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
