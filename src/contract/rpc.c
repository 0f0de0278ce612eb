/* rpc.c: JSON-RPC `query` call_function over libcurl, bounded in size and time. */
#include "src/contract/rpc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/contract/rpc_envelope.h"
#include "src/util/encoding.h"
#include "src/util/mem.h"

struct mpc_rpc_endpoint {
	char *url;                       /* secret-bearing: never printed */
	char name[MPC_URL_REDACTED_MAX]; /* redacted */
	char *contract;
	char *ca_file; /* NULL: the system's CA store */
	size_t max_response;
	long connect_timeout_ms, timeout_ms;
	const volatile sig_atomic_t *cancel; /* borrowed, may be NULL */
	CURL *curl;
	struct curl_slist *headers;
	char errbuf[CURL_ERROR_SIZE];
	/* the response being received */
	char *buf;
	size_t len, cap;
	int too_large;
	int no_memory;     /* growing buf failed: the transfer was aborted by us */
	int unknown_block; /* the last failure was nearcore's unknown block */
};

static size_t on_write(char *data, size_t size, size_t nmemb, void *userp)
{
	struct mpc_rpc_endpoint *ep = userp;
	size_t n = size * nmemb;

	if (n > ep->max_response || ep->len > ep->max_response - n) {
		ep->too_large = 1;
		return 0; /* abort the transfer now: CURLE_WRITE_ERROR */
	}
	if (ep->len + n + 1 > ep->cap) {
		size_t cap = ep->cap != 0 ? ep->cap : 16384;
		char *nb;

		while (cap < ep->len + n + 1)
			cap *= 2;
		if (cap > ep->max_response + 1)
			cap = ep->max_response + 1;
		nb = realloc(ep->buf, cap);
		if (nb == NULL) {
			ep->no_memory = 1;
			return 0; /* CURLE_WRITE_ERROR */
		}
		ep->buf = nb;
		ep->cap = cap;
	}
	memcpy(ep->buf + ep->len, data, n);
	ep->len += n;
	ep->buf[ep->len] = '\0';
	return n;
}

static int cancelled(const struct mpc_rpc_endpoint *ep)
{
	return ep->cancel != NULL && *ep->cancel;
}

/* libcurl's progress callback: a set cancel flag aborts the transfer (CURLE_ABORTED_BY_CALLBACK).
 * Called about once a second even while the server sends nothing. */
static int on_progress(void *userp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	const struct mpc_rpc_endpoint *ep = userp;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return cancelled(ep);
}

int mpc_rpc_endpoint_new(const char *url, const struct mpc_rpc_options *opt,
			 struct mpc_rpc_endpoint **out, struct mpc_err *e)
{
	struct mpc_rpc_endpoint *ep = NULL;
	struct mpc_url_parts parts;
	const char *contract =
		opt != NULL && opt->contract != NULL ? opt->contract : MPC_RPC_DEFAULT_CONTRACT;
	int rc;

	*out = NULL;
	rc = mpc_url_split(url, &parts, "rpc url", e);
	if (rc != MPC_OK) {
		if (e != NULL)
			e->code = MPC_ERR_USAGE;
		return MPC_ERR_USAGE;
	}
	ep = calloc(1, sizeof(*ep));
	if (ep == NULL)
		return mpc_fail(e, MPC_ERR_NOMEM, "rpc endpoint: out of memory");
	mpc_url_redact(url, ep->name);
	ep->url = strdup(url);
	ep->contract = strdup(contract);
	if (opt != NULL && opt->ca_file != NULL && (ep->ca_file = strdup(opt->ca_file)) == NULL) {
		rc = mpc_fail(e, MPC_ERR_NOMEM, "rpc %s: out of memory", ep->name);
		goto out;
	}
	ep->max_response = opt != NULL && opt->max_response != 0 ? opt->max_response
								 : MPC_RPC_DEFAULT_MAX_RESPONSE;
	ep->connect_timeout_ms = opt != NULL && opt->connect_timeout_ms > 0
					 ? opt->connect_timeout_ms
					 : MPC_RPC_DEFAULT_CONNECT_TIMEOUT_MS;
	ep->timeout_ms =
		opt != NULL && opt->timeout_ms > 0 ? opt->timeout_ms : MPC_RPC_DEFAULT_TIMEOUT_MS;
	ep->cancel = opt != NULL ? opt->cancel : NULL;
	ep->curl = curl_easy_init();
	ep->headers = curl_slist_append(NULL, "Content-Type: application/json");
	if (ep->url == NULL || ep->contract == NULL || ep->curl == NULL || ep->headers == NULL) {
		rc = mpc_fail(e, MPC_ERR_NOMEM, "rpc %s: out of memory", ep->name);
		goto out;
	}
	*out = ep;
	ep = NULL;
	rc = MPC_OK;
out:
	mpc_rpc_endpoint_free(ep);
	return rc;
}

void mpc_rpc_endpoint_free(struct mpc_rpc_endpoint *ep)
{
	if (ep == NULL)
		return;
	if (ep->curl != NULL)
		curl_easy_cleanup(ep->curl);
	curl_slist_free_all(ep->headers);
	if (ep->url != NULL)
		mpc_memzero(ep->url, strlen(ep->url)); /* it may hold an API key */
	free(ep->url);
	free(ep->contract);
	free(ep->ca_file);
	free(ep->buf);
	free(ep);
}

const char *mpc_rpc_endpoint_name(const struct mpc_rpc_endpoint *ep)
{
	return ep->name;
}

/* The request, in malloc() memory (json_dumpb: independent of jansson's allocator). */
static char *dump(json_t *j)
{
	size_t n = j != NULL ? json_dumpb(j, NULL, 0, JSON_COMPACT | JSON_PRESERVE_ORDER) : 0;
	char *s = n > 0 ? malloc(n + 1) : NULL;

	if (s != NULL && json_dumpb(j, s, n, JSON_COMPACT | JSON_PRESERVE_ORDER) == n)
		s[n] = '\0';
	else {
		free(s);
		s = NULL;
	}
	json_decref(j);
	return s;
}

/* A query call_function request; the block is pinned by height or final. */
static char *query_body(const struct mpc_rpc_endpoint *ep, const struct mpc_rpc_query *q,
			const char *args_b64)
{
	json_t *params =
		json_pack("{s:s,s:s,s:s,s:s}", "request_type", "call_function", "account_id",
			  ep->contract, "method_name", q->method, "args_base64", args_b64);
	json_t *j = NULL;
	int bad = params == NULL;

	if (!bad && q->block_height != 0)
		bad = json_object_set_new(params, "block_id",
					  json_integer((json_int_t)q->block_height)) != 0;
	else if (!bad)
		bad = json_object_set_new(params, "finality", json_string("final")) != 0;
	if (!bad)
		j = json_pack("{s:s,s:s,s:s,s:O}", "jsonrpc", "2.0", "id", "mpc-backup", "method",
			      "query", "params", params);
	json_decref(params);
	return bad ? NULL : dump(j);
}

static char *block_body(void)
{
	return dump(json_pack("{s:s,s:s,s:s,s:{s:s}}", "jsonrpc", "2.0", "id", "mpc-backup",
			      "method", "block", "params", "finality", "final"));
}

/* Configure the easy handle to POST `body` (copied). */
static CURL *begin(struct mpc_rpc_endpoint *ep, char *body, struct mpc_err *e)
{
	CURL *c = ep->curl;
	CURLcode cc = CURLE_OK;

	if (body == NULL) {
		mpc_fail(e, MPC_ERR_NOMEM, "rpc %s: out of memory", ep->name);
		return NULL;
	}
	ep->len = 0;
	ep->too_large = 0;
	ep->no_memory = 0;
	ep->unknown_block = 0;
	ep->errbuf[0] = '\0';
	/* Options are re-applied on every call: cheap, and the handle stays self-describing. */
	cc |= curl_easy_setopt(c, CURLOPT_URL, ep->url);
	/* No proxy from the environment: it would see an http:// URL's API key in clear. */
	cc |= curl_easy_setopt(c, CURLOPT_PROXY, "");
	cc |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	cc |= curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	cc |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	cc |= curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	cc |= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ep->connect_timeout_ms);
	cc |= curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ep->timeout_ms);
	cc |= curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)ep->max_response);
	cc |= curl_easy_setopt(c, CURLOPT_HTTPHEADER, ep->headers);
	cc |= curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, body);
	cc |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	cc |= curl_easy_setopt(c, CURLOPT_WRITEDATA, ep);
	cc |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ep->errbuf);
	/* the cancel flag (a stop) ends a call in flight, not only between calls */
	cc |= curl_easy_setopt(c, CURLOPT_NOPROGRESS, ep->cancel != NULL ? 0L : 1L);
	if (ep->cancel != NULL) {
		cc |= curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
		cc |= curl_easy_setopt(c, CURLOPT_XFERINFODATA, ep);
	}
	cc |= curl_easy_setopt(c, CURLOPT_USERAGENT, "mpc-backup");
	cc |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	cc |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ep->ca_file != NULL)
		cc |= curl_easy_setopt(c, CURLOPT_CAINFO, ep->ca_file);
	free(body);
	if (cc != CURLE_OK) {
		mpc_fail(e, MPC_ERR_INTERNAL, "rpc %s: cannot configure the request", ep->name);
		return NULL;
	}
	return c;
}

CURL *mpc_rpc_begin_call(struct mpc_rpc_endpoint *ep, const struct mpc_rpc_query *q,
			 struct mpc_err *e)
{
	const char *args = q->args_json != NULL ? q->args_json : "{}";
	size_t n = strlen(args);
	char *b64 = NULL;
	CURL *c;

	if (q->method == NULL || q->method[0] == '\0' || strlen(q->method) > 256) {
		mpc_fail(e, MPC_ERR_USAGE, "rpc %s: no view method name", ep->name);
		return NULL;
	}
	if (n > MPC_RPC_ARGS_MAX) {
		mpc_fail(e, MPC_ERR_USAGE, "rpc %s: view arguments over %d bytes", ep->name,
			 MPC_RPC_ARGS_MAX);
		return NULL;
	}
	b64 = malloc(mpc_base64_encoded_len(n));
	if (b64 == NULL || mpc_base64_encode((const uint8_t *)args, n, b64,
					     mpc_base64_encoded_len(n), NULL) != MPC_OK) {
		free(b64);
		mpc_fail(e, MPC_ERR_NOMEM, "rpc %s: out of memory", ep->name);
		return NULL;
	}
	c = begin(ep, query_body(ep, q, b64), e);
	free(b64);
	return c;
}

CURL *mpc_rpc_begin(struct mpc_rpc_endpoint *ep, const char *method, struct mpc_err *e)
{
	struct mpc_rpc_query q = { method, NULL, 0 };

	return mpc_rpc_begin_call(ep, &q, e);
}

CURL *mpc_rpc_begin_block(struct mpc_rpc_endpoint *ep, struct mpc_err *e)
{
	return begin(ep, block_body(), e);
}

static int transport_error(struct mpc_rpc_endpoint *ep, CURLcode cc, struct mpc_err *e)
{
	char detail[CURL_ERROR_SIZE + 64];
	int code = MPC_ERR_HTTP;

	snprintf(detail, sizeof(detail), "%s",
		 ep->errbuf[0] != '\0' ? ep->errbuf : curl_easy_strerror(cc));
	mpc_url_scrub(detail, ep->url);
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		code = MPC_ERR_TIMEOUT;
		break;
	case CURLE_OUT_OF_MEMORY:
		code = MPC_ERR_NOMEM;
		break;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
		code = MPC_ERR_TLS;
		break;
	default:
		break;
	}
	return mpc_fail(e, code, "rpc %s: %s", ep->name, detail);
}

/* The transfer's outcome; on success the body is in ep->buf (ep->len bytes). */
static int transfer_result(struct mpc_rpc_endpoint *ep, CURLcode cc, struct mpc_err *e)
{
	long status = 0;

	if (ep->too_large || cc == CURLE_FILESIZE_EXCEEDED)
		return mpc_fail(e, MPC_ERR_TOO_LARGE, "rpc %s: response larger than %zu bytes",
				ep->name, ep->max_response);
	if (ep->no_memory)
		return mpc_fail(e, MPC_ERR_NOMEM, "rpc %s: out of memory for the response",
				ep->name);
	if (cc == CURLE_ABORTED_BY_CALLBACK && cancelled(ep))
		return mpc_fail(e, MPC_ERR_CANCELLED, "rpc %s: cancelled", ep->name);
	if (cc != CURLE_OK)
		return transport_error(ep, cc, e);
	if (curl_easy_getinfo(ep->curl, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK ||
	    status != 200)
		return mpc_fail(e, MPC_ERR_HTTP, "rpc %s: HTTP status %ld", ep->name, status);
	return MPC_OK;
}

static void release_buffer(struct mpc_rpc_endpoint *ep)
{
	/* Do not keep a large response buffer between polls. */
	if (ep->cap > (1u << 20)) {
		free(ep->buf);
		ep->buf = NULL;
		ep->cap = 0;
	}
	ep->len = 0;
}

int mpc_rpc_finish(struct mpc_rpc_endpoint *ep, CURLcode cc, struct mpc_rpc_result *out,
		   struct mpc_err *e)
{
	struct mpc_rpc_meta meta;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = transfer_result(ep, cc, e);
	if (rc == MPC_OK) {
		struct mpc_err inner = { 0 };

		rc = mpc_rpc_envelope_decode_meta(ep->buf != NULL ? ep->buf : "", ep->len,
						  &out->json, &out->len, &meta, &inner);
		if (rc != MPC_OK) {
			ep->unknown_block = meta.unknown_block;
			mpc_url_scrub(inner.msg, ep->url);
			rc = mpc_fail(e, rc, "rpc %s: %s", ep->name, inner.msg);
		} else {
			out->block_height = meta.block_height;
			memcpy(out->block_hash, meta.block_hash, sizeof(out->block_hash));
		}
	}
	release_buffer(ep);
	return rc;
}

int mpc_rpc_finish_block(struct mpc_rpc_endpoint *ep, CURLcode cc, struct mpc_rpc_block *out,
			 struct mpc_err *e)
{
	struct mpc_rpc_meta meta;
	int rc = transfer_result(ep, cc, e);

	if (rc == MPC_OK) {
		struct mpc_err inner = { 0 };

		rc = mpc_rpc_block_decode(ep->buf != NULL ? ep->buf : "", ep->len, &meta, &inner);
		if (rc != MPC_OK) {
			ep->unknown_block = meta.unknown_block;
			mpc_url_scrub(inner.msg, ep->url);
			rc = mpc_fail(e, rc, "rpc %s: %s", ep->name, inner.msg);
		} else {
			out->height = meta.block_height;
			memcpy(out->hash, meta.block_hash, sizeof(out->hash));
		}
	}
	release_buffer(ep);
	return rc;
}

int mpc_rpc_unknown_block(const struct mpc_rpc_endpoint *ep)
{
	return ep->unknown_block;
}

int mpc_rpc_view(struct mpc_rpc_endpoint *ep, const char *method, struct mpc_rpc_result *out,
		 struct mpc_err *e)
{
	struct mpc_rpc_query q = { method, NULL, 0 };

	return mpc_rpc_call(ep, &q, out, e);
}

int mpc_rpc_call(struct mpc_rpc_endpoint *ep, const struct mpc_rpc_query *q,
		 struct mpc_rpc_result *out, struct mpc_err *e)
{
	CURL *c;

	memset(out, 0, sizeof(*out));
	if (cancelled(ep))
		return mpc_fail(e, MPC_ERR_CANCELLED, "rpc %s: cancelled", ep->name);
	c = mpc_rpc_begin_call(ep, q, e);
	if (c == NULL)
		return e != NULL ? e->code : MPC_ERR_INTERNAL;
	return mpc_rpc_finish(ep, curl_easy_perform(c), out, e);
}

int mpc_rpc_final_block(struct mpc_rpc_endpoint *ep, struct mpc_rpc_block *out, struct mpc_err *e)
{
	CURL *c;

	if (cancelled(ep))
		return mpc_fail(e, MPC_ERR_CANCELLED, "rpc %s: cancelled", ep->name);
	c = mpc_rpc_begin_block(ep, e);
	if (c == NULL)
		return e != NULL ? e->code : MPC_ERR_INTERNAL;
	return mpc_rpc_finish_block(ep, curl_easy_perform(c), out, e);
}

void mpc_rpc_result_free(struct mpc_rpc_result *r)
{
	if (r == NULL)
		return;
	free(r->json);
	memset(r, 0, sizeof(*r));
}
