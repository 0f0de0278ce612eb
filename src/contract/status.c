/* status.c: building and rendering `contract status`, and the one-shot CLI glue. */
#include "src/contract/status.h"

#include "src/model/json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/model/near_key.h"
#include "src/util/encoding.h"
#include "src/util/escape.h"

/* Allocation failures are collected in `oom` and reported once at the end. */
struct builder {
	int oom;
};

static void set(struct builder *b, json_t *obj, const char *key, json_t *v)
{
	if (v == NULL || json_object_set_new(obj, key, v) != 0)
		b->oom = 1;
}

/* A string another party sent (a participant URL), escaped: it cannot forge a line or reorder
 * text in a terminal, and it is valid UTF-8 for JSON. */
static json_t *escaped_json(const char *s)
{
	char out[MPC_PARTICIPANT_URL_MAX * 6 + 1];

	mpc_escape_untrusted(s, out, sizeof(out));
	return json_string(out);
}

static json_t *ed_key_json(const uint8_t key[32])
{
	char s[MPC_ED25519_KEY_STR_MAX];

	if (mpc_ed25519_key_format(key, s, NULL) != MPC_OK)
		return NULL;
	return json_string(s);
}

static json_t *keyset_json(struct builder *b, const struct mpc_keyset *ks)
{
	json_t *o = json_object(), *arr = json_array();

	if (o == NULL || arr == NULL) {
		b->oom = 1;
		json_decref(o);
		json_decref(arr);
		return NULL;
	}
	set(b, o, "epoch_id", mpc_cjson_u64_shown(ks->epoch_id));
	for (size_t i = 0; i < ks->n_domains; i++) {
		const struct mpc_domain_key *d = &ks->domains[i];
		char pk[MPC_NEAR_KEY_STR_MAX];
		json_t *dj = json_object();

		if (dj == NULL || json_array_append_new(arr, dj) != 0) {
			b->oom = 1;
			continue;
		}
		set(b, dj, "domain_id", mpc_cjson_u64_shown(d->domain_id));
		set(b, dj, "attempt", mpc_cjson_u64_shown(d->attempt));
		set(b, dj, "curve", json_string(mpc_curve_name(d->curve)));
		if (mpc_near_key_format(d->curve, d->pk, d->pk_len, pk, NULL) == MPC_OK)
			set(b, dj, "public_key", json_string(pk));
	}
	set(b, o, "domains", arr);
	return o;
}

/* {"url", "tls_public_key", "migration_address", "address_overridden"} for a node. */
static json_t *node_json(struct builder *b, const struct mpc_status_input *in, const char *account,
			 const struct mpc_participant_info *info)
{
	char addr[MPC_ADDRESS_MAX];
	int overridden = 0;
	json_t *o = json_object();

	if (o == NULL) {
		b->oom = 1;
		return NULL;
	}
	set(b, o, "url", escaped_json(info->url));
	set(b, o, "tls_public_key", ed_key_json(info->tls_key));
	if (mpc_migration_address(in->addresses, account, info->url, info->tls_key, addr,
				  &overridden, NULL) == MPC_OK) {
		set(b, o, "migration_address", json_string(addr));
		set(b, o, "address_overridden", json_boolean(overridden));
	} else {
		set(b, o, "migration_address", json_null());
		set(b, o, "address_overridden", json_false());
	}
	return o;
}

static json_t *endpoints_json(struct builder *b, const struct mpc_status_input *in)
{
	json_t *arr = json_array();

	if (arr == NULL) {
		b->oom = 1;
		return NULL;
	}
	for (size_t i = 0; i < in->n_outcomes; i++) {
		const struct mpc_endpoint_outcome *oc = &in->outcomes[i];
		json_t *o = json_object();

		if (o == NULL || json_array_append_new(arr, o) != 0) {
			b->oom = 1;
			continue;
		}
		set(b, o, "endpoint", json_string(oc->endpoint));
		set(b, o, "status", json_string(mpc_endpoint_status_name(oc->status)));
		set(b, o, "block_height", mpc_cjson_u64_shown(oc->block_height));
		set(b, o, "detail", escaped_json(oc->detail));
	}
	return arr;
}

static void add_view(struct builder *b, json_t *root, const struct mpc_status_input *in)
{
	const struct mpc_contract_view *v = in->view;
	json_t *bs, *mig, *o;

	set(b, root, "protocol_state", json_string(mpc_protocol_kind_name(v->kind)));
	set(b, root, "state_variant", json_string(v->variant)); /* escaped when parsed */
	set(b, root, "next_epoch",
	    v->has_next_epoch ? mpc_cjson_u64_shown(v->next_epoch) : json_null());
	set(b, root, "keyset", v->has_keyset ? keyset_json(b, &v->keyset) : json_null());
	if (v->has_own) {
		o = node_json(b, in, v->own.account_id, &v->own.info);
		if (o != NULL) {
			set(b, o, "account_id", json_string(v->own.account_id));
			set(b, o, "participant_id", mpc_cjson_u64_shown(v->own.participant_id));
		}
		set(b, root, "node", o);
	} else {
		set(b, root, "node", json_null());
	}
	bs = json_object();
	set(b, root, "backup_service", bs);
	if (bs != NULL) {
		int reg = v->has_migration && v->migration.has_backup;

		set(b, bs, "registered", json_boolean(reg));
		set(b, bs, "public_key", reg ? ed_key_json(v->migration.backup_key) : json_null());
		if (reg && in->own_tls_key != NULL)
			set(b, bs, "is_ours",
			    json_boolean(memcmp(in->own_tls_key, v->migration.backup_key, 32) ==
					 0));
		else
			set(b, bs, "is_ours", json_null());
	}
	mig = json_object();
	set(b, root, "migration", mig);
	if (mig != NULL) {
		if (v->has_migration && v->migration.has_destination) {
			char pk[MPC_NEAR_KEY_STR_MAX];

			o = node_json(b, in, in->operator_account, &v->migration.destination);
			if (o != NULL &&
			    mpc_near_key_format(v->migration.signer_curve, v->migration.signer_pk,
						v->migration.signer_pk_len, pk, NULL) == MPC_OK)
				set(b, o, "signer_account_pk", json_string(pk));
			set(b, mig, "destination", o);
		} else {
			set(b, mig, "destination", json_null());
		}
	}
	if (v->kind == MPC_STATE_RECOVERY) {
		o = json_object();
		set(b, root, "recovery", o);
		if (o != NULL)
			set(b, o, "prospective",
			    v->has_prospective ? node_json(b, in, v->prospective.account_id,
							   &v->prospective.info)
					       : json_null());
	} else {
		set(b, root, "recovery", json_null());
	}
}

json_t *mpc_status_build(const struct mpc_status_input *in, struct mpc_err *e)
{
	struct builder b = { 0 };
	json_t *root = json_object(), *q = json_object();

	if (root == NULL || q == NULL) {
		json_decref(root);
		json_decref(q);
		mpc_fail(e, MPC_ERR_NOMEM, "contract status: out of memory");
		return NULL;
	}
	set(&b, root, "contract",
	    json_string(in->contract != NULL ? in->contract : MPC_RPC_DEFAULT_CONTRACT));
	set(&b, root, "operator_account",
	    in->operator_account != NULL ? json_string(in->operator_account) : json_null());
	set(&b, root, "agreed", json_boolean(in->view != NULL));
	set(&b, q, "required", mpc_cjson_u64_shown(in->quorum));
	set(&b, q, "endpoints", mpc_cjson_u64_shown(in->n_outcomes));
	set(&b, root, "quorum", q);
	set(&b, root, "disagreement",
	    in->view == NULL && in->disagreement != NULL ? escaped_json(in->disagreement)
							 : json_null());
	set(&b, root, "endpoints", endpoints_json(&b, in));
	if (in->view != NULL) {
		add_view(&b, root, in);
	} else {
		static const char *const none[] = { "protocol_state", "state_variant",
						    "next_epoch",     "keyset",
						    "node",           "backup_service",
						    "migration",      "recovery" };

		for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++)
			set(&b, root, none[i], json_null());
	}
	set(&b, root, "store_covers_keyset",
	    in->store_covers == MPC_TRI_UNKNOWN ? json_null()
						: json_boolean(in->store_covers == MPC_TRI_YES));
	{
		json_t *w = json_array();

		if (w != NULL && in->single_server_decides &&
		    json_array_append_new(w, json_string(MPC_STATUS_WARN_QUORUM_1)) != 0)
			b.oom = 1;
		set(&b, root, "warnings", w);
	}
	if (in->view != NULL && in->view->block_height != 0) {
		json_t *blk = json_object();

		set(&b, root, "block", blk);
		if (blk != NULL) {
			set(&b, blk, "height", mpc_cjson_u64_shown(in->view->block_height));
			set(&b, blk, "hash", json_string(in->view->block_hash));
		}
	} else {
		set(&b, root, "block", json_null());
	}
	if (b.oom) {
		json_decref(root);
		mpc_fail(e, MPC_ERR_NOMEM, "contract status: out of memory");
		return NULL;
	}
	return root;
}

/* --- text rendering ------------------------------------------------------------------------ */

struct text {
	char *p;
	size_t len, cap;
	int oom;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->oom)
		return;
	for (;;) {
		size_t room = t->cap - t->len;

		va_start(ap, fmt);
		n = vsnprintf(t->p != NULL ? t->p + t->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->oom = 1;
			return;
		}
		if ((size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		{
			size_t cap = t->cap ? t->cap * 2 : 1024;
			char *np;

			while (cap < t->len + (size_t)n + 1)
				cap *= 2;
			np = realloc(t->p, cap);
			if (np == NULL) {
				t->oom = 1;
				return;
			}
			t->p = np;
			t->cap = cap;
		}
	}
}

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "-";
}

/* A u64 field written as an integer or (above 2^63-1) a string. */
static const char *num(const json_t *o, const char *key, char buf[24])
{
	const json_t *v = json_object_get(o, key);

	if (json_is_integer(v))
		snprintf(buf, 24, "%lld", (long long)json_integer_value(v));
	else if (json_is_string(v))
		snprintf(buf, 24, "%s", json_string_value(v));
	else
		snprintf(buf, 24, "-");
	return buf;
}

static const char *tri(const json_t *v)
{
	return json_is_true(v) ? "yes" : json_is_false(v) ? "no" : "unknown";
}

static void put_node(struct text *t, const char *indent, const json_t *n)
{
	put(t, "%surl:               %s\n", indent, str(n, "url"));
	put(t, "%smigration address: %s%s\n", indent, str(n, "migration_address"),
	    json_is_true(json_object_get(n, "address_overridden")) ? " (override)" : "");
	put(t, "%stls key:           %s\n", indent, str(n, "tls_public_key"));
}

int mpc_status_render_text(const json_t *s, char **out, struct mpc_err *e)
{
	struct text t = { 0 };
	const json_t *q = json_object_get(s, "quorum"), *eps = json_object_get(s, "endpoints");
	const json_t *ks = json_object_get(s, "keyset"), *node = json_object_get(s, "node");
	const json_t *bs = json_object_get(s, "backup_service");
	const json_t *mig = json_object_get(json_object_get(s, "migration"), "destination");
	const json_t *rec = json_object_get(s, "recovery");
	char b1[24], b2[24];
	size_t n_ok = 0;

	*out = NULL;
	for (size_t i = 0; i < json_array_size(eps); i++)
		if (strcmp(str(json_array_get(eps, i), "status"), "ok") == 0)
			n_ok++;
	for (size_t i = 0; i < json_array_size(json_object_get(s, "warnings")); i++)
		put(&t, "WARNING: %s\n",
		    json_string_value(json_array_get(json_object_get(s, "warnings"), i)));
	put(&t, "contract:            %s\n", str(s, "contract"));
	put(&t, "operator account:    %s\n", str(s, "operator_account"));
	if (json_is_true(json_object_get(s, "agreed")))
		put(&t, "endpoints:           %zu of %s agree (quorum %s)\n", n_ok,
		    num(q, "endpoints", b1), num(q, "required", b2));
	else
		put(&t, "endpoints:           NO AGREEMENT: fewer than %s of %s agree\n",
		    num(q, "required", b2), num(q, "endpoints", b1));
	for (size_t i = 0; i < json_array_size(eps); i++) {
		const json_t *ep = json_array_get(eps, i);

		put(&t, "  %-32s %-8s %s\n", str(ep, "endpoint"), str(ep, "status"),
		    str(ep, "detail"));
	}
	if (!json_is_true(json_object_get(s, "agreed"))) {
		put(&t, "store covers keyset: %s\n",
		    tri(json_object_get(s, "store_covers_keyset")));
		goto done;
	}
	if (json_is_object(json_object_get(s, "block")))
		put(&t, "block:               %s %s\n",
		    num(json_object_get(s, "block"), "height", b1),
		    str(json_object_get(s, "block"), "hash"));
	put(&t, "protocol state:      %s", str(s, "protocol_state"));
	if (strcmp(str(s, "protocol_state"), "unknown") == 0)
		put(&t, " (variant \"%s\": not understood by this version, no action is taken)",
		    str(s, "state_variant"));
	if (json_object_get(s, "next_epoch") != NULL &&
	    !json_is_null(json_object_get(s, "next_epoch")))
		put(&t, " (next epoch %s)", num(s, "next_epoch", b1));
	put(&t, "\n");
	if (json_is_object(ks)) {
		const json_t *doms = json_object_get(ks, "domains");

		put(&t, "keyset:              epoch %s, %zu domain(s)\n", num(ks, "epoch_id", b1),
		    json_array_size(doms));
		for (size_t i = 0; i < json_array_size(doms); i++) {
			const json_t *d = json_array_get(doms, i);

			put(&t, "  domain %s  %-9s attempt %s  %s\n", num(d, "domain_id", b1),
			    str(d, "curve"), num(d, "attempt", b2), str(d, "public_key"));
		}
	} else {
		put(&t, "keyset:              none to back up\n");
	}
	if (json_is_object(node)) {
		const json_t *hint = json_object_get(s, "migration_port_hint");

		put(&t, "node:                %s (participant %s)\n", str(node, "account_id"),
		    num(node, "participant_id", b1));
		put_node(&t, "  ", node);
		if (json_is_object(hint) && json_is_integer(json_object_get(hint, "port")))
			put(&t,
			    "  migration port hint (unauthenticated): %s (the node's %s, "
			    "migration_web_ui; the TLS pin is still the contract's key)\n",
			    num(hint, "port", b1), str(hint, "source"));
		else if (json_is_object(hint))
			put(&t, "  migration port hint (unauthenticated): could not be read (%s)\n",
			    str(hint, "error"));
	} else {
		put(&t, "node:                not a participant\n");
	}
	if (json_is_true(json_object_get(bs, "registered")))
		put(&t, "backup service:      registered %s (ours: %s)\n", str(bs, "public_key"),
		    tri(json_object_get(bs, "is_ours")));
	else
		put(&t, "backup service:      not registered\n");
	if (json_is_object(mig)) {
		put(&t, "migration:           to a destination node (signer %s)\n",
		    str(mig, "signer_account_pk"));
		put_node(&t, "  ", mig);
	} else {
		put(&t, "migration:           none\n");
	}
	if (json_is_object(rec)) {
		const json_t *p = json_object_get(rec, "prospective");

		if (json_is_object(p)) {
			put(&t, "recovery:            prospective node\n");
			put_node(&t, "  ", p);
		} else {
			put(&t, "recovery:            nothing for this operator\n");
		}
	}
	put(&t, "store covers keyset: %s\n", tri(json_object_get(s, "store_covers_keyset")));
done:
	if (t.oom || t.p == NULL) {
		free(t.p);
		return mpc_fail(e, MPC_ERR_NOMEM, "contract status: out of memory");
	}
	*out = t.p;
	return MPC_OK;
}

/* --- CLI glue ------------------------------------------------------------------------------ */

int mpc_contract_status_run(const struct mpc_status_args *a, json_t **out, int *poll_rc,
			    struct mpc_err *e)
{
	struct mpc_quorum *q = NULL;
	struct mpc_endpoint_outcome *oc = NULL;
	struct mpc_contract_view view;
	struct mpc_status_input in;
	struct mpc_err pe = { 0 };
	int rc, prc;

	*out = NULL;
	memset(&view, 0, sizeof(view));
	if (poll_rc != NULL)
		*poll_rc = MPC_OK;
	rc = mpc_quorum_new(a->rpc_urls, a->n_urls, a->quorum, a->rpc, &q, e);
	if (rc != MPC_OK)
		goto out;
	oc = calloc(mpc_quorum_size(q), sizeof(*oc));
	if (oc == NULL) {
		rc = mpc_fail(e, MPC_ERR_NOMEM, "contract status: out of memory");
		goto out;
	}
	prc = mpc_quorum_poll(q, a->operator_account, &view, oc, &pe);
	if (prc == MPC_ERR_USAGE || prc == MPC_ERR_NOMEM) {
		rc = mpc_fail(e, prc, "%s", pe.msg);
		goto out;
	}
	if (poll_rc != NULL)
		*poll_rc = prc;
	memset(&in, 0, sizeof(in));
	in.contract = a->rpc != NULL ? a->rpc->contract : NULL;
	in.operator_account = a->operator_account;
	in.view = prc == MPC_OK ? &view : NULL;
	in.disagreement = prc == MPC_OK ? NULL : pe.msg;
	in.outcomes = oc;
	in.n_outcomes = mpc_quorum_size(q);
	in.quorum = mpc_quorum_threshold(q);
	in.own_tls_key = a->own_tls_key;
	in.store_covers = MPC_TRI_UNKNOWN;
	if (prc == MPC_OK && view.has_keyset && a->covers != NULL)
		in.store_covers = a->covers(a->covers_ctx, &view.keyset);
	in.addresses = a->addresses;
	in.single_server_decides = mpc_quorum_single_server_decides(q);
	*out = mpc_status_build(&in, e);
	rc = *out != NULL ? MPC_OK : MPC_ERR_NOMEM;
out:
	mpc_contract_view_free(&view);
	free(oc);
	mpc_quorum_free(q);
	return rc;
}
