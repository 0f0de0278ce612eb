/* drill.c: open every stored keyset in the token, compare it with the contract, restore one. */
#include "src/store/drill.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "src/store/keyshares.h"
#include "src/util/clock.h"

const char *mpc_drill_verdict_name(enum mpc_drill_verdict v)
{
	switch (v) {
	case MPC_DRILL_CURRENT:
		return "current";
	case MPC_DRILL_SUPERSEDED:
		return "superseded";
	case MPC_DRILL_OLDER:
		return "older";
	case MPC_DRILL_AHEAD:
		return "ahead";
	case MPC_DRILL_MISMATCH:
		return "mismatch";
	case MPC_DRILL_FAILED:
		return "failed";
	case MPC_DRILL_QUARANTINED:
		return "quarantined";
	case MPC_DRILL_UNCHECKED:
		return "unchecked";
	}
	return "unknown";
}

/* Compare a stored keyset (same epoch as the contract's) with the contract's. */
static enum mpc_drill_verdict compare_same_epoch(const struct mpc_keyset *h,
						 const struct mpc_keyset *c, char *msg, size_t cap)
{
	for (size_t i = 0; i < h->n_domains; i++) {
		const struct mpc_domain_key *d = &h->domains[i];
		const struct mpc_domain_key *k = mpc_keyset_domain(c, d->domain_id);

		if (k == NULL) {
			snprintf(msg, cap, "domain %llu is not in the contract's keyset",
				 (unsigned long long)d->domain_id);
			return MPC_DRILL_MISMATCH;
		}
		if (k->attempt != d->attempt || k->curve != d->curve || k->pk_len != d->pk_len ||
		    memcmp(k->pk, d->pk, d->pk_len) != 0) {
			snprintf(msg, cap, "domain %llu: %s (attempt %llu vs the contract's %llu)",
				 (unsigned long long)d->domain_id,
				 k->attempt != d->attempt ? "another attempt"
				 : k->curve != d->curve   ? "another curve"
							  : "another public key",
				 (unsigned long long)d->attempt, (unsigned long long)k->attempt);
			return MPC_DRILL_MISMATCH;
		}
	}
	if (h->n_domains < c->n_domains) {
		snprintf(msg, cap, "opened; %zu of the contract's %zu domains: superseded",
			 h->n_domains, c->n_domains);
		return MPC_DRILL_SUPERSEDED;
	}
	snprintf(msg, cap, "opened; matches the contract's keyset (%zu domains)", h->n_domains);
	return MPC_DRILL_CURRENT;
}

static const struct mpc_store_entry *find_entry(const struct mpc_store_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->items[i].name, name) == 0)
			return &l->items[i];
	return NULL;
}

/* The real restore: open the newest file (of the contract's epoch) and validate it. */
static void restore_one(const struct mpc_store *s, struct mpc_token *const *tokens, size_t n_tokens,
			const struct mpc_keyset *c, struct mpc_drill_report *r)
{
	struct mpc_store_restore rs;
	struct mpc_err e = { 0 };
	int rc;

	memset(&rs, 0, sizeof(rs));
	rc = mpc_store_open_keyset(s, tokens, n_tokens, c == NULL, c != NULL ? c->epoch_id : 0, &rs,
				   &e);
	if (rc == MPC_OK) {
		snprintf(r->restored, sizeof(r->restored), "%s", rs.name);
		rc = mpc_keyshares_validate(rs.keyshares, rs.keyshares_len,
					    c != NULL ? c : &rs.hdr.keyset, &e);
		if (rc != MPC_OK)
			mpc_err_prefix(&e, "%s does not match %s: ", rs.name,
				       c != NULL ? "the contract's keyset" : "its header");
	}
	mpc_store_restore_free(&rs);
	r->restorable = rc == MPC_OK;
	r->none_of_epoch = rc == MPC_ERR_NOT_FOUND && c != NULL;
	if (rc == MPC_ERR_NOT_FOUND && c != NULL)
		snprintf(r->problem, sizeof(r->problem),
			 "no stored keyset of the contract's epoch %llu",
			 (unsigned long long)c->epoch_id);
	else if (rc != MPC_OK)
		snprintf(r->problem, sizeof(r->problem), "%s", e.msg);
}

int mpc_drill_run(const struct mpc_store *s, struct mpc_token *const *tokens, size_t n_tokens,
		  const struct mpc_keyset *contract_ks, struct mpc_drill_report *out,
		  struct mpc_err *e)
{
	struct mpc_drill_report r;
	struct mpc_store_verify_report vr;
	struct mpc_store_list l;
	double t0 = mpc_now_monotonic();
	int rc;

	memset(&r, 0, sizeof(r));
	memset(&vr, 0, sizeof(vr));
	memset(&l, 0, sizeof(l));
	memset(out, 0, sizeof(*out));
	rc = mpc_store_verify(s, tokens, n_tokens, &vr, e);
	if (rc != MPC_OK)
		goto out;
	rc = mpc_store_list(s, &l, e);
	if (rc != MPC_OK)
		goto out;
	r.items = calloc(vr.n > 0 ? vr.n : 1, sizeof(*r.items));
	if (r.items == NULL) {
		rc = mpc_fail(e, MPC_ERR_NOMEM, "drill: out of memory");
		goto out;
	}
	r.has_contract = contract_ks != NULL;
	r.contract_epoch = contract_ks != NULL ? contract_ks->epoch_id : 0;
	for (size_t i = 0; i < vr.n; i++) {
		const struct mpc_store_verify_item *v = &vr.items[i];
		const struct mpc_store_entry *en = find_entry(&l, v->name);
		struct mpc_drill_item *it = &r.items[r.n++];

		snprintf(it->name, sizeof(it->name), "%s", v->name);
		it->epoch = v->epoch;
		it->n_domains = v->n_domains;
		it->opened = v->ok;
		if (v->quarantined) {
			it->verdict = MPC_DRILL_QUARANTINED;
			snprintf(it->msg, sizeof(it->msg), "%s: %.700s",
				 v->ok ? "opened" : "does not open", v->msg);
			continue;
		}
		if (!v->ok || en == NULL || !en->header_ok) {
			it->verdict = MPC_DRILL_FAILED;
			snprintf(it->msg, sizeof(it->msg), "%s",
				 !v->ok ? v->msg : "the file changed during the drill");
			it->opened = 0;
			r.n_failed++;
			continue;
		}
		r.n_opened++;
		if (contract_ks == NULL) {
			it->verdict = MPC_DRILL_UNCHECKED;
			snprintf(it->msg, sizeof(it->msg),
				 "opened (no contract keyset to compare)");
		} else if (v->epoch < contract_ks->epoch_id) {
			it->verdict = MPC_DRILL_OLDER;
			snprintf(it->msg, sizeof(it->msg),
				 "opened; epoch %llu is older than the "
				 "contract's %llu",
				 (unsigned long long)v->epoch,
				 (unsigned long long)contract_ks->epoch_id);
		} else if (v->epoch > contract_ks->epoch_id) {
			it->verdict = MPC_DRILL_AHEAD;
			snprintf(it->msg, sizeof(it->msg),
				 "opened; epoch %llu is later than the "
				 "contract's %llu",
				 (unsigned long long)v->epoch,
				 (unsigned long long)contract_ks->epoch_id);
		} else {
			it->verdict = compare_same_epoch(&en->hdr.keyset, contract_ks, it->msg,
							 sizeof(it->msg));
			if (it->verdict == MPC_DRILL_MISMATCH)
				r.n_mismatch++;
		}
	}
	restore_one(s, tokens, n_tokens, contract_ks, &r);
	r.finished = (uint64_t)time(NULL);
	r.seconds = mpc_now_monotonic() - t0;
	*out = r;
	memset(&r, 0, sizeof(r));
out:
	mpc_store_list_free(&l);
	mpc_store_verify_report_free(&vr);
	mpc_drill_report_free(&r);
	return rc;
}

void mpc_drill_report_free(struct mpc_drill_report *r)
{
	if (r == NULL)
		return;
	free(r->items);
	for (size_t i = 0; i < r->n_replicas; i++)
		mpc_drill_report_free(&r->replicas[i].r);
	free(r->replicas);
	memset(r, 0, sizeof(*r));
}

struct mpc_drill_replica *mpc_drill_add_replica(struct mpc_drill_report *r, const char *remote)
{
	struct mpc_drill_replica *a = realloc(r->replicas, (r->n_replicas + 1) * sizeof(*a));

	if (a == NULL)
		return NULL;
	r->replicas = a;
	a = &r->replicas[r->n_replicas++];
	memset(a, 0, sizeof(*a));
	snprintf(a->remote, sizeof(a->remote), "%s", remote);
	return a;
}

static json_t *replicas_json(const struct mpc_drill_report *r, struct mpc_err *e)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < r->n_replicas; i++) {
		const struct mpc_drill_replica *p = &r->replicas[i];
		json_t *o = mpc_drill_report_json(&p->r, e);

		if (o == NULL) {
			json_decref(a);
			return NULL;
		}
		if (json_object_set_new(o, "remote", json_string(p->remote)) != 0 ||
		    json_object_set_new(o, "reached", json_boolean(p->reached)) != 0 ||
		    json_object_set_new(o, "error", json_string(p->error)) != 0 ||
		    json_object_set_new(o, "listed", json_integer((json_int_t)p->n_listed)) != 0 ||
		    json_object_set_new(o, "omitted", json_integer((json_int_t)p->n_omitted)) !=
			    0) {
			json_decref(o);
			json_decref(a);
			a = NULL;
		} else if (json_array_append_new(a, o) != 0) { /* it freed o */
			json_decref(a);
			a = NULL;
		}
	}
	if (a == NULL)
		mpc_fail(e, MPC_ERR_NOMEM, "drill report: out of memory");
	return a;
}

json_t *mpc_drill_report_json(const struct mpc_drill_report *r, struct mpc_err *e)
{
	json_t *files = json_array(), *j = NULL;

	if (files == NULL)
		goto nomem;
	for (size_t i = 0; i < r->n; i++) {
		const struct mpc_drill_item *it = &r->items[i];
		json_t *o = json_pack("{s:s, s:I, s:I, s:b, s:s, s:s}", "name", it->name, "epoch",
				      (json_int_t)it->epoch, "domains", (json_int_t)it->n_domains,
				      "opened", it->opened, "verdict",
				      mpc_drill_verdict_name(it->verdict), "message", it->msg);

		if (o == NULL || json_array_append_new(files, o) != 0)
			goto nomem;
	}
	j = json_pack("{s:o, s:I, s:I, s:I, s:b, s:b, s:s, s:s, s:I, s:f}", "files", files,
		      "opened", (json_int_t)r->n_opened, "failed", (json_int_t)r->n_failed,
		      "mismatch", (json_int_t)r->n_mismatch, "restorable", r->restorable,
		      "has_contract", r->has_contract, "restored", r->restored, "problem",
		      r->problem, "finished", (json_int_t)r->finished, "seconds", r->seconds);
	files = NULL;
	if (j == NULL)
		goto nomem;
	if (r->has_contract &&
	    json_object_set_new(j, "contract_epoch", json_integer((json_int_t)r->contract_epoch)) !=
		    0)
		goto nomem;
	if (r->n_replicas > 0) {
		json_t *a = replicas_json(r, e);

		if (a == NULL) {
			json_decref(j);
			return NULL;
		}
		if (json_object_set_new(j, "replicas", a) != 0)
			goto nomem;
	}
	return j;
nomem:
	json_decref(files);
	json_decref(j);
	mpc_fail(e, MPC_ERR_NOMEM, "drill report: out of memory");
	return NULL;
}

/* Append to buf at *len; -1 when it does not fit. */
static int append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap - *len)
		return -1;
	*len += (size_t)n;
	return 0;
}

/* A Prometheus label value: backslash, quote and newline escaped. */
static int append_label(char *buf, size_t cap, size_t *len, const char *v)
{
	for (; *v != '\0'; v++) {
		int rc = *v == '\\' || *v == '"' ? append(buf, cap, len, "\\%c", *v)
			 : *v == '\n'            ? append(buf, cap, len, "\\n")
						 : append(buf, cap, len, "%c", *v);

		if (rc != 0)
			return -1;
	}
	return 0;
}

/* The per-replica series (see drill.h). */
static int replica_metrics(const struct mpc_drill_report *r, char *buf, size_t cap, size_t *len)
{
	static const char *const names[] = { "reached", "restorable", "omitted" };

	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		if (append(buf, cap, len, "# TYPE mpc_backup_last_drill_replica_%s gauge\n",
			   names[k]) != 0)
			return -1;
		for (size_t i = 0; i < r->n_replicas; i++) {
			const struct mpc_drill_replica *p = &r->replicas[i];
			size_t v = k == 0   ? (size_t)p->reached
				   : k == 1 ? (size_t)(p->reached && p->r.restorable)
					    : p->n_omitted;

			if (append(buf, cap, len, "mpc_backup_last_drill_replica_%s{replica=\"",
				   names[k]) != 0 ||
			    append_label(buf, cap, len, p->remote) != 0 ||
			    append(buf, cap, len, "\"} %zu\n", v) != 0)
				return -1;
		}
	}
	if (append(buf, cap, len, "# TYPE mpc_backup_last_drill_replica_files gauge\n") != 0)
		return -1;
	for (size_t i = 0; i < r->n_replicas; i++) {
		const struct mpc_drill_report *q = &r->replicas[i].r;
		size_t count[MPC_DRILL_UNCHECKED + 1] = { 0 };

		for (size_t j = 0; j < q->n; j++)
			if (q->items[j].verdict <= MPC_DRILL_UNCHECKED)
				count[q->items[j].verdict]++;
		for (int v = 0; v <= MPC_DRILL_UNCHECKED; v++)
			if (append(buf, cap, len,
				   "mpc_backup_last_drill_replica_files{replica=\"") != 0 ||
			    append_label(buf, cap, len, r->replicas[i].remote) != 0 ||
			    append(buf, cap, len, "\",verdict=\"%s\"} %zu\n",
				   mpc_drill_verdict_name((enum mpc_drill_verdict)v),
				   count[v]) != 0)
				return -1;
	}
	return 0;
}

int mpc_drill_metrics_text(const struct mpc_drill_report *r, char *buf, size_t cap,
			   struct mpc_err *e)
{
	size_t count[MPC_DRILL_UNCHECKED + 1] = { 0 }, len = 0;
	int n;

	for (size_t i = 0; i < r->n; i++)
		if (r->items[i].verdict <= MPC_DRILL_UNCHECKED)
			count[r->items[i].verdict]++;
	n = snprintf(
		buf, cap,
		"# HELP mpc_backup_last_drill_restorable 1 when the last restore drill restored "
		"the newest keyset of the contract's epoch.\n"
		"# TYPE mpc_backup_last_drill_restorable gauge\n"
		"# TYPE mpc_backup_last_drill_timestamp_seconds gauge\n"
		"# TYPE mpc_backup_last_drill_duration_seconds gauge\n"
		"# TYPE mpc_backup_last_drill_contract_epoch gauge\n"
		"# TYPE mpc_backup_last_drill_files gauge\n"
		"mpc_backup_last_drill_timestamp_seconds %llu\n"
		"mpc_backup_last_drill_duration_seconds %.3f\n"
		"mpc_backup_last_drill_restorable %d\n",
		(unsigned long long)r->finished, r->seconds, r->restorable ? 1 : 0);
	if (n < 0 || (size_t)n >= cap)
		goto small;
	len = (size_t)n;
	if (r->has_contract) {
		n = snprintf(buf + len, cap - len, "mpc_backup_last_drill_contract_epoch %llu\n",
			     (unsigned long long)r->contract_epoch);
		if (n < 0 || (size_t)n >= cap - len)
			goto small;
		len += (size_t)n;
	}
	for (int v = 0; v <= MPC_DRILL_UNCHECKED; v++) {
		n = snprintf(buf + len, cap - len,
			     "mpc_backup_last_drill_files{verdict=\"%s\"} %zu\n",
			     mpc_drill_verdict_name((enum mpc_drill_verdict)v), count[v]);
		if (n < 0 || (size_t)n >= cap - len)
			goto small;
		len += (size_t)n;
	}
	if (r->n_replicas > 0 && replica_metrics(r, buf, cap, &len) != 0)
		goto small;
	return (int)len;
small:
	mpc_fail(e, MPC_ERR_TOO_LARGE, "drill metrics: buffer of %zu bytes too small", cap);
	return -1;
}
