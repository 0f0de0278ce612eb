/* quorum.c: parallel reads over N endpoints and the K-of-N agreement rule. */
#include "src/contract/quorum.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	struct mpc_rpc_result state, mi;
	struct mpc_contract_view view;
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

int mpc_quorum_new(const char *const *urls, size_t n, size_t k, const struct mpc_rpc_options *opt,
		   struct mpc_quorum **out, struct mpc_err *e)
{
	struct mpc_quorum *q = NULL;
	int rc;

	*out = NULL;
	if (n == 0 || n > MPC_QUORUM_MAX_ENDPOINTS)
		return mpc_fail(e, MPC_ERR_USAGE, "need 1..%d RPC endpoints, got %zu",
				MPC_QUORUM_MAX_ENDPOINTS, n);
	if (k > n)
		return mpc_fail(e, MPC_ERR_USAGE, "quorum %zu is more than the %zu endpoints", k, n);
	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return mpc_fail(e, MPC_ERR_NOMEM, "quorum: out of memory");
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
	}
	*out = q;
	q = NULL;
	rc = MPC_OK;
out:
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

/* Call `method` on every endpoint still without an error, in parallel. */
static int fetch_all(struct mpc_quorum *q, const char *method, struct reading *r, int mi)
{
	CURL *handles[MPC_QUORUM_MAX_ENDPOINTS] = { 0 };
	int running = 0;

	for (size_t i = 0; i < q->n; i++) {
		if (r[i].rc != MPC_OK)
			continue;
		handles[i] = mpc_rpc_begin(q->eps[i], method, &r[i].err);
		if (handles[i] == NULL || curl_multi_add_handle(q->multi, handles[i]) != CURLM_OK) {
			r[i].rc = mpc_fail(&r[i].err, MPC_ERR_INTERNAL, "rpc %s: cannot start request",
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
				r[i].rc = mpc_rpc_finish(q->eps[i], msg->data.result,
							 mi ? &r[i].mi : &r[i].state, &r[i].err);
			}
		}
	} while (running > 0);
	/* Anything not finished (multi failure): count as an error. */
	for (size_t i = 0; i < q->n; i++) {
		if (handles[i] == NULL)
			continue;
		curl_multi_remove_handle(q->multi, handles[i]);
		r[i].rc = q->cancel != NULL && *q->cancel
				  ? mpc_fail(&r[i].err, MPC_ERR_CANCELLED, "rpc %s: cancelled",
					     mpc_rpc_endpoint_name(q->eps[i]))
				  : mpc_fail(&r[i].err, MPC_ERR_HTTP, "rpc %s: request did not complete",
					     mpc_rpc_endpoint_name(q->eps[i]));
	}
	return MPC_OK;
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

int mpc_quorum_poll(struct mpc_quorum *q, const char *operator_account,
		    struct mpc_contract_view *agreed, struct mpc_endpoint_outcome *outcomes,
		    struct mpc_err *e)
{
	struct reading *r = NULL;
	size_t votes[MPC_QUORUM_MAX_ENDPOINTS] = { 0 }, best = 0, best_votes = 0;
	int rc;

	memset(agreed, 0, sizeof(*agreed));
	if (operator_account == NULL)
		return mpc_fail(e, MPC_ERR_USAGE, "no operator account id");
	r = calloc(q->n, sizeof(*r));
	if (r == NULL)
		return mpc_fail(e, MPC_ERR_NOMEM, "quorum: out of memory");
	fetch_all(q, "state", r, 0);
	fetch_all(q, "migration_info", r, 1);
	for (size_t i = 0; i < q->n; i++) {
		struct mpc_err pe = { 0 };

		if (r[i].rc != MPC_OK)
			continue;
		r[i].rc = mpc_contract_view_parse(r[i].state.json, r[i].state.len, r[i].mi.json,
						  r[i].mi.len, operator_account, &r[i].view, &pe);
		if (r[i].rc != MPC_OK)
			mpc_fail(&r[i].err, r[i].rc, "rpc %s: %s", mpc_rpc_endpoint_name(q->eps[i]),
				 pe.msg);
	}
	/* Votes: each answering endpoint counts the answering endpoints with an equal view. */
	for (size_t i = 0; i < q->n; i++) {
		if (r[i].rc != MPC_OK)
			continue;
		for (size_t j = 0; j < q->n; j++)
			if (r[j].rc == MPC_OK && mpc_contract_view_equal(&r[i].view, &r[j].view))
				votes[i]++;
		if (votes[i] > best_votes) {
			best_votes = votes[i];
			best = i;
		}
	}
	for (size_t i = 0; outcomes != NULL && i < q->n; i++) {
		struct mpc_endpoint_outcome *o = &outcomes[i];

		memset(o, 0, sizeof(*o));
		snprintf(o->endpoint, sizeof(o->endpoint), "%s", mpc_rpc_endpoint_name(q->eps[i]));
		o->block_height = r[i].state.block_height;
		if (r[i].rc != MPC_OK) {
			o->status = MPC_ENDPOINT_ERROR;
			o->code = r[i].rc;
			snprintf(o->detail, sizeof(o->detail), "%s", r[i].err.msg);
			continue;
		}
		mpc_contract_view_summary(&r[i].view, o->detail, sizeof(o->detail));
		o->status = best_votes >= q->k && mpc_contract_view_equal(&r[i].view, &r[best].view)
				    ? MPC_ENDPOINT_OK
				    : MPC_ENDPOINT_DISAGREE;
		o->code = o->status == MPC_ENDPOINT_OK ? MPC_OK : MPC_ERR_DISAGREE;
	}
	if (best_votes >= q->k) {
		rc = mpc_contract_view_copy(agreed, &r[best].view, e);
		if (rc != MPC_OK)
			memset(agreed, 0, sizeof(*agreed));
		goto out;
	}
	{
		char msg[MPC_ERR_MSG_MAX];
		size_t o = 0;

		size_t n_views = 0;
		int code = MPC_ERR_DISAGREE, common = r[0].rc;

		for (size_t i = 0; i < q->n; i++) {
			n_views += r[i].rc == MPC_OK;
			if (r[i].rc != common)
				common = MPC_ERR_RPC;
		}
		/* Nobody answered: that is a failure to read (an RPC error, a timeout...), not a
		 * disagreement. */
		if (n_views == 0)
			code = common;
		if (n_views == 0)
			snprintf(msg, sizeof(msg), "no RPC endpoint produced a reading (%zu of %zu needed):",
				 q->k, q->n);
		else
			snprintf(msg, sizeof(msg),
				 "RPC endpoints do not agree (%zu of %zu needed, best %zu):",
				 q->k, q->n, best_votes);
		o = strlen(msg);
		for (size_t i = 0; i < q->n; i++) {
			char s[MPC_ERR_MSG_MAX];

			if (r[i].rc == MPC_OK)
				mpc_contract_view_summary(&r[i].view, s, sizeof(s));
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
