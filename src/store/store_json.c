/* store_json.c: JSON forms of `store list` and `store verify` results for the CLI. */
#include <stdio.h>
#include <string.h>

#include "src/model/json.h"
#include "src/model/near_key.h"
#include "src/store/store.h"
#include "src/util/encoding.h"

/* The object, or NULL with e set if building it failed anywhere (it is released then). */
static json_t *finish(json_t *o, int bad, struct mpc_err *e)
{
	if (!bad)
		return o;
	json_decref(o);
	mpc_fail(e, MPC_ERR_NOMEM, "building store JSON failed");
	return NULL;
}

static int set(json_t *o, const char *k, json_t *v)
{
	return v == NULL ? -1 : json_object_set_new(o, k, v);
}

static json_t *header_json(const struct mpc_store_header *h, struct mpc_err *e)
{
	json_t *o = json_object(), *doms = json_array(), *toks = json_array();
	int bad = o == NULL || doms == NULL || toks == NULL;

	for (size_t i = 0; !bad && i < h->keyset.n_domains; i++) {
		const struct mpc_domain_key *d = &h->keyset.domains[i];
		char pk[MPC_NEAR_KEY_STR_MAX];
		json_t *dj = json_object();

		if (dj == NULL ||
		    mpc_near_key_format(d->curve, d->pk, d->pk_len, pk, e) != MPC_OK) {
			json_decref(dj);
			bad = 1;
			break;
		}
		bad |= set(dj, "domain_id", mpc_cjson_u64_shown(d->domain_id)) |
		       set(dj, "attempt", mpc_cjson_u64_shown(d->attempt)) |
		       set(dj, "curve", json_string(mpc_curve_name(d->curve))) |
		       set(dj, "public_key", json_string(pk));
		bad |= json_array_append_new(doms, dj);
	}
	for (size_t i = 0; !bad && i < h->n_tokens; i++) {
		const struct mpc_store_token_id *t = &h->tokens[i];
		char id[2 * sizeof(t->key_id) + 1];
		json_t *tj = json_object();

		if (tj == NULL ||
		    mpc_hex_encode(t->key_id, t->key_id_len, id, sizeof(id), e) != MPC_OK) {
			json_decref(tj);
			bad = 1;
			break;
		}
		bad |= set(tj, "mechanism", json_string(mpc_seal_mech_name(t->mech))) |
		       set(tj, "token_label", json_string(t->label)) |
		       set(tj, "token_serial", json_string(t->serial)) |
		       set(tj, "key_label", json_string(t->key_label)) |
		       set(tj, "key_id", json_string(id));
		bad |= json_array_append_new(toks, tj);
	}
	if (!bad)
		bad |= set(o, "epoch", mpc_cjson_u64_shown(h->epoch)) |
		       set(o, "created", mpc_cjson_u64_shown(h->created)) |
		       set(o, "contract", json_string(h->contract)) |
		       set(o, "operator", json_string(h->operator_));
	if (!bad) {
		bad |= json_object_set(o, "domains", doms) | json_object_set(o, "tokens", toks);
	}
	json_decref(doms);
	json_decref(toks);
	return finish(o, bad, e);
}

json_t *mpc_store_entry_json(const struct mpc_store_entry *en, struct mpc_err *e)
{
	json_t *o;
	int bad;

	if (en->header_ok) {
		o = header_json(&en->hdr, e);
		if (o == NULL)
			return NULL;
	} else {
		o = json_object();
		if (o == NULL) {
			mpc_fail(e, MPC_ERR_NOMEM, "building store JSON failed");
			return NULL;
		}
	}
	bad = set(o, "file", json_string(en->name)) |
	      set(o, "size", mpc_cjson_u64_shown(en->size)) |
	      set(o, "quarantined", json_boolean(en->quarantined)) |
	      set(o, "newest", json_boolean(en->newest)) |
	      set(o, "header_ok", json_boolean(en->header_ok));
	if (!en->header_ok)
		bad |= set(o, "problem", json_string(en->problem)) |
		       set(o, "error", json_string(mpc_errname(en->problem_code)));
	return finish(o, bad, e);
}

json_t *mpc_store_list_json(const struct mpc_store_list *l, struct mpc_err *e)
{
	json_t *o = json_object(), *arr = json_array();
	int bad = o == NULL || arr == NULL;

	for (size_t i = 0; !bad && i < l->n; i++) {
		json_t *j = mpc_store_entry_json(&l->items[i], e);

		bad |= j == NULL || json_array_append_new(arr, j);
	}
	if (!bad)
		bad |= json_object_set(o, "files", arr) |
		       set(o, "temporaries", mpc_cjson_u64_shown(l->n_temp));
	json_decref(arr);
	return finish(o, bad, e);
}

json_t *mpc_store_verify_item_json(const struct mpc_store_verify_item *it, struct mpc_err *e)
{
	json_t *o = json_object();
	int bad = o == NULL;

	if (!bad)
		bad = set(o, "file", json_string(it->name)) |
		      set(o, "quarantined", json_boolean(it->quarantined)) |
		      set(o, "epoch", mpc_cjson_u64_shown(it->epoch)) |
		      set(o, "domains", mpc_cjson_u64_shown(it->n_domains)) |
		      set(o, "ok", json_boolean(it->ok)) |
		      set(o, "error", it->ok ? json_null() : json_string(mpc_errname(it->code))) |
		      set(o, "blobs_checked", mpc_cjson_u64_shown(it->blobs_checked)) |
		      set(o, "blobs_unchecked", mpc_cjson_u64_shown(it->blobs_unchecked)) |
		      set(o, "message", json_string(it->msg));
	return finish(o, bad, e);
}

json_t *mpc_store_verify_report_json(const struct mpc_store_verify_report *r, struct mpc_err *e)
{
	json_t *o = json_object(), *arr = json_array();
	int bad = o == NULL || arr == NULL;

	for (size_t i = 0; !bad && i < r->n; i++) {
		json_t *j = mpc_store_verify_item_json(&r->items[i], e);

		bad |= j == NULL || json_array_append_new(arr, j);
	}
	if (!bad)
		bad |= json_object_set(o, "files", arr) |
		       set(o, "ok", mpc_cjson_u64_shown(r->n_ok)) |
		       set(o, "failed", mpc_cjson_u64_shown(r->n_failed)) |
		       set(o, "temporaries", mpc_cjson_u64_shown(r->n_temp)) |
		       set(o, "all_ok", json_boolean(r->all_ok));
	json_decref(arr);
	return finish(o, bad, e);
}
