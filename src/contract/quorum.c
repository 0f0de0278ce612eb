/* quorum.c: one final block, parallel reads over N endpoints, and the agreement rule. */
#include "src/contract/quorum.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "src/util/escape.h"

#define ORIGIN_ADDRS_MAX 16

struct mpc_quorum {
	size_t n, k;
	struct mpc_rpc_endpoint *eps[MPC_QUORUM_MAX_ENDPOINTS];
	CURLM *multi;
	const volatile sig_atomic_t *cancel; /* borrowed, may be NULL */
};

/* What one endpoint said during a poll. */
struct reading {
	int rc;
	struct mpc_err err;
	struct mpc_rpc_block block; /* its final block (step 1) */
	int behind;                 /* it does not have block h yet */
	struct mpc_rpc_result state, mi;
	struct mpc_contract_view view;
	int off_block; /* answered for another block, or with two hashes */
};

enum phase {
	PHASE_BLOCK,
	PHASE_STATE,
	PHASE_MI
};

const char *mpc_endpoint_status_name(enum mpc_endpoint_status s)
{
	switch (s) {
	case MPC_ENDPOINT_OK:
		return "ok";
	case MPC_ENDPOINT_ERROR:
		return "error";
	case MPC_ENDPOINT_DISAGREE:
		return "disagree";
	}
	return "unknown";
}

/* --- origins ------------------------------------------------------------------------------- */

struct origin {
	char scheme[8];
	char host[MPC_URL_HOST_MAX];
	uint16_t port;
	int literal; /* host is an IP literal */
	size_t n_addrs;
	struct in6_addr addrs[ORIGIN_ADDRS_MAX]; /* IPv4 as v4-mapped */
};

static void mapped_v4(const struct in_addr *a, struct in6_addr *out)
{
	memset(out, 0, sizeof(*out));
	out->s6_addr[10] = 0xff;
	out->s6_addr[11] = 0xff;
	memcpy(&out->s6_addr[12], a, 4);
}

static int is_v4(const struct in6_addr *a)
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(a->s6_addr, prefix, 12) == 0;
}

/* Loopback, private or link-local: one machine or one site, where two names for one address
 * are one server. */
static int non_public(const struct in6_addr *a)
{
	const uint8_t *b = a->s6_addr;

	if (is_v4(a))
		return b[12] == 127 || b[12] == 10 || (b[12] == 172 && (b[13] & 0xf0) == 16) ||
		       (b[12] == 192 && b[13] == 168) || (b[12] == 169 && b[13] == 254) ||
		       (b[12] == 0);
	return IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_LINKLOCAL(a) || (b[0] & 0xfe) == 0xfc;
}

static void add_addr(struct origin *o, const struct in6_addr *a)
{
	for (size_t i = 0; i < o->n_addrs; i++)
		if (memcmp(&o->addrs[i], a, sizeof(*a)) == 0)
			return;
	if (o->n_addrs < ORIGIN_ADDRS_MAX)
		o->addrs[o->n_addrs++] = *a;
}

static int origin_of(const char *url, int resolve, struct origin *o, struct mpc_err *e)
{
	struct mpc_url_parts u;
	struct in_addr a4;
	struct in6_addr a6;
	struct addrinfo hints, *res = NULL;
	size_t hl;
	int rc = mpc_url_split(url, &u, "rpc url", e);

	memset(o, 0, sizeof(*o));
	if (rc != MPC_OK)
		return rc;
	snprintf(o->scheme, sizeof(o->scheme), "%s", u.scheme);
	o->port = u.port != 0 ? u.port : strcmp(u.scheme, "https") == 0 ? 443 : 80;
	hl = strlen(u.host);
	if (hl > 1 && u.host[hl - 1] == '.')
		u.host[--hl] = '\0';
	for (size_t i = 0; i < hl; i++)
		o->host[i] = (char)tolower((unsigned char)u.host[i]);
	if (u.ipv6 && inet_pton(AF_INET6, o->host, &a6) == 1) {
		o->literal = 1;
		if (IN6_IS_ADDR_V4MAPPED(&a6))
			inet_ntop(AF_INET, &a6.s6_addr[12], o->host, sizeof(o->host));
		else
			inet_ntop(AF_INET6, &a6, o->host, sizeof(o->host));
		add_addr(o, &a6);
		return MPC_OK;
	}
	if (!u.ipv6 && inet_pton(AF_INET, o->host, &a4) == 1) {
		o->literal = 1;
		mapped_v4(&a4, &a6);
		add_addr(o, &a6);
		return MPC_OK;
	}
	/* A name: what it resolves to now (not resolving is not an error here: the endpoint
	 * fails at poll time and counts as not answering). One endpoint has nothing to be
	 * compared with: no lookup. */
	if (!resolve)
		return MPC_OK;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	if (getaddrinfo(o->host, NULL, &hints, &res) == 0) {
		for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
			if (ai->ai_family == AF_INET) {
				mapped_v4(&((struct sockaddr_in *)ai->ai_addr)->sin_addr, &a6);
				add_addr(o, &a6);
			} else if (ai->ai_family == AF_INET6) {
				add_addr(o, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr);
			}
		}
		freeaddrinfo(res);
	}
	return MPC_OK;
}

/* 1 if a and b reach the same server; *why says how it was told. */
static int same_server(const struct origin *a, const struct origin *b, const char **why)
{
	if (strcmp(a->scheme, b->scheme) != 0 || a->port != b->port)
		return 0;
	if (strcmp(a->host, b->host) == 0) {
		*why = "the same origin";
		return 1;
	}
	for (size_t i = 0; i < a->n_addrs; i++) {
		for (size_t j = 0; j < b->n_addrs; j++) {
			if (memcmp(&a->addrs[i], &b->addrs[j], sizeof(a->addrs[i])) != 0)
				continue;
			if (a->literal || b->literal) {
				*why = "a name and the address it resolves to";
				return 1;
			}
			if (non_public(&a->addrs[i])) {
				*why = "two names for one local or private address";
				return 1;
			}
		}
	}
	return 0;
}

/* --- lifecycle ----------------------------------------------------------------------------- */

int mpc_quorum_new(const char *const *urls, size_t n, size_t k, const struct mpc_rpc_options *opt,
		   struct mpc_quorum **out, struct mpc_err *e)
{
	struct mpc_quorum *q = NULL;
	struct origin *orig = NULL;
	int rc;

	*out = NULL;
	if (n == 0 || n > MPC_QUORUM_MAX_ENDPOINTS)
		return mpc_fail(e, MPC_ERR_USAGE, "need 1..%d RPC endpoints, got %zu",
				MPC_QUORUM_MAX_ENDPOINTS, n);
	if (k > n)
		return mpc_fail(e, MPC_ERR_USAGE, "quorum %zu is more than the %zu endpoints", k,
				n);
	q = calloc(1, sizeof(*q));
	orig = calloc(n, sizeof(*orig));
	if (q == NULL || orig == NULL) {
		rc = mpc_fail(e, MPC_ERR_NOMEM, "quorum: out of memory");
		goto out;
	}
	q->k = k != 0 ? k : n / 2 + 1;
	q->cancel = opt != NULL ? opt->cancel : NULL;
	q->multi = curl_multi_init();
	if (q->multi == NULL) {
		rc = mpc_fail(e, MPC_ERR_NOMEM, "quorum: cannot create a curl multi handle");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		rc = mpc_rpc_endpoint_new(urls[i], opt, &q->eps[i], e);
		if (rc != MPC_OK) {
			mpc_err_prefix(e, "RPC endpoint %zu: ", i + 1);
			goto out;
		}
		q->n = i + 1;
		rc = origin_of(urls[i], n > 1, &orig[i], e);
		if (rc != MPC_OK) {
			mpc_err_prefix(e, "RPC endpoint %zu: ", i + 1);
			goto out;
		}
		for (size_t j = 0; j < i; j++) {
			const char *why = NULL;

			if (!same_server(&orig[j], &orig[i], &why))
				continue;
			rc = mpc_fail(e, MPC_ERR_USAGE,
				      "RPC endpoints %zu (%s) and %zu (%s) are one server (%s): a "
				      "quorum counts servers, so list each once",
				      j + 1, mpc_rpc_endpoint_name(q->eps[j]), i + 1,
				      mpc_rpc_endpoint_name(q->eps[i]), why);
			goto out;
		}
	}
	*out = q;
	q = NULL;
	rc = MPC_OK;
out:
	free(orig);
	mpc_quorum_free(q);
	return rc;
}

void mpc_quorum_free(struct mpc_quorum *q)
{
	if (q == NULL)
		return;
	for (size_t i = 0; i < q->n; i++)
		mpc_rpc_endpoint_free(q->eps[i]);
	if (q->multi != NULL)
		curl_multi_cleanup(q->multi);
	free(q);
}

size_t mpc_quorum_size(const struct mpc_quorum *q)
{
	return q->n;
}

size_t mpc_quorum_threshold(const struct mpc_quorum *q)
{
	return q->k;
}

int mpc_quorum_single_server_decides(const struct mpc_quorum *q)
{
	return q->k == 1;
}

/* --- the poll ------------------------------------------------------------------------------ */

static CURL *begin(struct mpc_quorum *q, size_t i, enum phase ph, uint64_t h, struct reading *r)
{
	struct mpc_rpc_query query = { ph == PHASE_STATE ? "state" : "migration_info", NULL, h };

	if (ph == PHASE_BLOCK)
		return mpc_rpc_begin_block(q->eps[i], &r->err);
	return mpc_rpc_begin_call(q->eps[i], &query, &r->err);
}

static void finish(struct mpc_quorum *q, size_t i, enum phase ph, CURLcode cc, struct reading *r)
{
	if (ph == PHASE_BLOCK)
		r->rc = mpc_rpc_finish_block(q->eps[i], cc, &r->block, &r->err);
	else
		r->rc = mpc_rpc_finish(q->eps[i], cc, ph == PHASE_STATE ? &r->state : &r->mi,
				       &r->err);
	if (r->rc != MPC_OK && ph != PHASE_BLOCK && mpc_rpc_unknown_block(q->eps[i]))
		r->behind = 1;
}

/* One request on every endpoint still without an error, in parallel. */
static void fetch_all(struct mpc_quorum *q, enum phase ph, uint64_t h, struct reading *r)
{
	CURL *handles[MPC_QUORUM_MAX_ENDPOINTS] = { 0 };
	int running = 0;

	for (size_t i = 0; i < q->n; i++) {
		if (r[i].rc != MPC_OK)
			continue;
		handles[i] = begin(q, i, ph, h, &r[i]);
		if (handles[i] == NULL || curl_multi_add_handle(q->multi, handles[i]) != CURLM_OK) {
			r[i].rc = mpc_fail(&r[i].err, MPC_ERR_INTERNAL,
					   "rpc %s: cannot start request",
					   mpc_rpc_endpoint_name(q->eps[i]));
			handles[i] = NULL;
		}
	}
	do {
		CURLMsg *msg;
		int left = 0;

		if (curl_multi_perform(q->multi, &running) != CURLM_OK)
			break;
		if (q->cancel != NULL && *q->cancel)
			break; /* the unfinished count as errors below */
		if (running > 0 && curl_multi_poll(q->multi, NULL, 0, 100, NULL) != CURLM_OK)
			break;
		while ((msg = curl_multi_info_read(q->multi, &left)) != NULL) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			for (size_t i = 0; i < q->n; i++) {
				if (handles[i] != msg->easy_handle)
					continue;
				curl_multi_remove_handle(q->multi, handles[i]);
				handles[i] = NULL;
				finish(q, i, ph, msg->data.result, &r[i]);
			}
		}
	} while (running > 0);
	/* Anything not finished (multi failure or cancel): count as an error. */
	for (size_t i = 0; i < q->n; i++) {
		if (handles[i] == NULL)
			continue;
		curl_multi_remove_handle(q->multi, handles[i]);
		r[i].rc = q->cancel != NULL && *q->cancel
				  ? mpc_fail(&r[i].err, MPC_ERR_CANCELLED, "rpc %s: cancelled",
					     mpc_rpc_endpoint_name(q->eps[i]))
				  : mpc_fail(&r[i].err, MPC_ERR_HTTP,
					     "rpc %s: request did not complete",
					     mpc_rpc_endpoint_name(q->eps[i]));
	}
}

static int desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* The height to read at: the K'-th highest reported, K' = max(k, 2), or the lowest when fewer
 * endpoints reported. 0 when none did. */
static uint64_t pick_height(const struct reading *r, size_t n, size_t k)
{
	uint64_t h[MPC_QUORUM_MAX_ENDPOINTS];
	size_t m = 0, kk = k < 2 ? 2 : k;

	for (size_t i = 0; i < n; i++)
		if (r[i].rc == MPC_OK)
			h[m++] = r[i].block.height;
	if (m == 0)
		return 0;
	qsort(h, m, sizeof(h[0]), desc);
	return h[(kk < m ? kk : m) - 1];
}

/* Parse the endpoint's two answers into its view, checking they are for block h. */
static void derive(struct mpc_quorum *q, size_t i, uint64_t h, const char *account,
		   struct reading *r)
{
	const char *name = mpc_rpc_endpoint_name(q->eps[i]);
	struct mpc_err pe = { 0 };

	if (r->rc != MPC_OK) {
		/* Without the heights: the poll's message stays the same from poll to poll while
		 * the situation does (the monitor logs a failure once, until it changes). */
		if (r->behind) {
			mpc_err_clear(&r->err);
			mpc_fail(&r->err, r->rc,
				 "rpc %s: behind: does not have the chosen final "
				 "block yet",
				 name);
		}
		return;
	}
	if (r->state.block_hash[0] == '\0' || r->mi.block_hash[0] == '\0') {
		r->rc = mpc_fail(&r->err, MPC_ERR_PARSE, "rpc %s: an answer without block_hash",
				 name);
		return;
	}
	r->rc = mpc_contract_view_parse(r->state.json, r->state.len, r->mi.json, r->mi.len, account,
					&r->view, &pe);
	if (r->rc != MPC_OK) {
		char esc[MPC_ERR_MSG_MAX];

		/* A parser's message may quote the server's bytes. */
		mpc_escape_untrusted(pe.msg, esc, sizeof(esc));
		mpc_fail(&r->err, r->rc, "rpc %s: %s", name, esc);
		return;
	}
	/* What block the answers are for is part of the view: an endpoint that answers for
	 * another block, or with two hashes for one block, dissents. */
	r->view.block_height = r->state.block_height;
	snprintf(r->view.block_hash, sizeof(r->view.block_hash), "%s", r->state.block_hash);
	r->off_block = r->state.block_height != h || r->mi.block_height != h ||
		       strcmp(r->state.block_hash, r->mi.block_hash) != 0;
}

static int same(const struct reading *a, const struct reading *b)
{
	return !a->off_block && !b->off_block &&
	       strcmp(a->view.block_hash, b->view.block_hash) == 0 &&
	       mpc_contract_view_equal(&a->view, &b->view);
}

/* Append " <name>: <what>;" to out. */
static void append(char *out, size_t cap, size_t *o, const char *a, const char *b)
{
	int n;

	if (*o >= cap)
		return;
	n = snprintf(out + *o, cap - *o, " %s: %s;", a, b);
	*o = n < 0 ? cap : *o + (size_t)n;
}

/* The view's summary, and how its block differs from the reference reading's. No heights
 * or hashes: they change every poll, and the message must not while the situation does not. */
static void summary(const struct reading *r, const struct reading *ref, char *s, size_t cap)
{
	char v[400];

	mpc_contract_view_summary(&r->view, v, sizeof(v));
	snprintf(s, cap, "%s%s", v,
		 r->off_block ? " (answered for another block than asked)"
		 : strcmp(r->view.block_hash, ref->view.block_hash) != 0
			 ? " (another block hash at the same height)"
			 : "");
}

int mpc_quorum_poll(struct mpc_quorum *q, const char *operator_account,
		    struct mpc_contract_view *agreed, struct mpc_endpoint_outcome *outcomes,
		    struct mpc_err *e)
{
	struct reading *r = NULL;
	size_t n_views = 0, first = 0;
	int all_same = 1, rc;
	uint64_t h;

	memset(agreed, 0, sizeof(*agreed));
	if (operator_account == NULL)
		return mpc_fail(e, MPC_ERR_USAGE, "no operator account id");
	r = calloc(q->n, sizeof(*r));
	if (r == NULL)
		return mpc_fail(e, MPC_ERR_NOMEM, "quorum: out of memory");
	fetch_all(q, PHASE_BLOCK, 0, r);
	h = pick_height(r, q->n, q->k);
	/* An endpoint that answered `block` with an error or garbage (a gateway may allow only
	 * `query`) is still asked for block h; one that did not answer at all (timeout, refused,
	 * HTTP status) is not asked twice more in the same poll. */
	for (size_t i = 0; h != 0 && i < q->n; i++) {
		if (r[i].rc == MPC_ERR_RPC || r[i].rc == MPC_ERR_PARSE) {
			r[i].rc = MPC_OK;
			mpc_err_clear(&r[i].err);
			memset(&r[i].block, 0, sizeof(r[i].block));
		}
	}
	if (h != 0) {
		fetch_all(q, PHASE_STATE, h, r);
		fetch_all(q, PHASE_MI, h, r);
	}
	for (size_t i = 0; i < q->n; i++) {
		derive(q, i, h, operator_account, &r[i]);
		if (r[i].rc != MPC_OK)
			continue;
		if (n_views++ == 0)
			first = i;
		else if (!same(&r[first], &r[i]))
			all_same = 0;
	}
	for (size_t i = 0; outcomes != NULL && i < q->n; i++) {
		struct mpc_endpoint_outcome *o = &outcomes[i];

		memset(o, 0, sizeof(*o));
		snprintf(o->endpoint, sizeof(o->endpoint), "%s", mpc_rpc_endpoint_name(q->eps[i]));
		o->final_height = r[i].block.height;
		o->behind = r[i].behind;
		if (r[i].rc != MPC_OK) {
			o->status = MPC_ENDPOINT_ERROR;
			o->code = r[i].rc;
			o->block_height = h;
			if (r[i].behind)
				snprintf(
					o->detail, sizeof(o->detail),
					"behind: block %llu not there yet (its final block was %llu)",
					(unsigned long long)h,
					(unsigned long long)r[i].block.height);
			else
				snprintf(o->detail, sizeof(o->detail), "%s", r[i].err.msg);
			continue;
		}
		o->block_height = r[i].view.block_height;
		snprintf(o->block_hash, sizeof(o->block_hash), "%s", r[i].view.block_hash);
		mpc_contract_view_summary(&r[i].view, o->detail, sizeof(o->detail));
		/* With too few views and no difference, the views still agree (the poll fails
		 * for want of answers, not for a dissent). */
		o->status = all_same ? MPC_ENDPOINT_OK : MPC_ENDPOINT_DISAGREE;
		o->code = o->status == MPC_ENDPOINT_OK ? MPC_OK : MPC_ERR_DISAGREE;
	}
	if (n_views >= q->k && all_same) {
		rc = mpc_contract_view_copy(agreed, &r[first].view, e);
		if (rc != MPC_OK)
			memset(agreed, 0, sizeof(*agreed));
		goto out;
	}
	{
		char msg[MPC_ERR_MSG_MAX];
		size_t o = 0;
		int code = MPC_ERR_DISAGREE, common = 0;

		for (size_t i = 0; i < q->n; i++) {
			if (r[i].rc == MPC_OK)
				continue;
			if (common == 0)
				common = r[i].rc;
			else if (r[i].rc != common)
				common = MPC_ERR_RPC;
		}
		if (!all_same)
			snprintf(msg, sizeof(msg),
				 "RPC endpoints do not agree (%zu of %zu answered, %zu needed; any "
				 "difference blocks):",
				 n_views, q->n, q->k);
		else if (n_views == 0)
			snprintf(msg, sizeof(msg),
				 "no RPC endpoint produced a reading (%zu of %zu needed):", q->k,
				 q->n);
		else
			snprintf(msg, sizeof(msg),
				 "too few RPC endpoints answered (%zu of %zu, %zu needed):",
				 n_views, q->n, q->k);
		if (all_same)
			code = common != 0 ? common : MPC_ERR_RPC;
		o = strlen(msg);
		for (size_t i = 0; i < q->n; i++) {
			char s[MPC_ERR_MSG_MAX];

			if (r[i].rc == MPC_OK)
				summary(&r[i], &r[first], s, sizeof(s));
			else
				snprintf(s, sizeof(s), "error %s (%.160s)", mpc_errname(r[i].rc),
					 r[i].err.msg);
			append(msg, sizeof(msg), &o, mpc_rpc_endpoint_name(q->eps[i]), s);
		}
		if (o > 0 && o < sizeof(msg) && msg[o - 1] == ';')
			msg[o - 1] = '\0';
		rc = mpc_fail(e, code, "%s", msg);
	}
out:
	for (size_t i = 0; i < q->n; i++) {
		mpc_rpc_result_free(&r[i].state);
		mpc_rpc_result_free(&r[i].mi);
		mpc_contract_view_free(&r[i].view);
	}
	free(r);
	return rc;
}
