/* state.c: parsing ProtocolContractState. */
#include "src/contract/state.h"

#include <stdio.h>
#include <string.h>

#include "src/model/json.h"
#include "src/util/escape.h"

const char *mpc_protocol_kind_name(enum mpc_protocol_kind k)
{
	switch (k) {
	case MPC_STATE_NOT_INITIALIZED:
		return "NotInitialized";
	case MPC_STATE_INITIALIZING:
		return "Initializing";
	case MPC_STATE_RUNNING:
		return "Running";
	case MPC_STATE_RESHARING:
		return "Resharing";
	case MPC_STATE_RECOVERY:
		return "Recovery";
	case MPC_STATE_UNKNOWN:
		break;
	}
	return "unknown";
}

/* A Running body at `path`: keyset, parameters.participants, parameters.threshold. */
static int parse_running(const json_t *j, const char *path, struct mpc_contract_state *st,
			 struct mpc_err *e)
{
	char p[MPC_CJSON_PATH_MAX], pp[MPC_CJSON_PATH_MAX];
	json_t *ks = NULL, *params = NULL, *parts = NULL;
	int rc = mpc_cjson_expect_object(j, path, e);

	if (rc == MPC_OK)
		rc = mpc_cjson_object(j, path, "keyset", &ks, e);
	if (rc != MPC_OK)
		return rc;
	mpc_cjson_path_key(p, path, "keyset");
	rc = mpc_keyset_from_json(ks, p, &st->keyset, e);
	if (rc == MPC_OK)
		rc = mpc_cjson_object(j, path, "parameters", &params, e);
	if (rc != MPC_OK)
		return rc;
	mpc_cjson_path_key(p, path, "parameters");
	rc = mpc_cjson_member_u64(params, p, "threshold", &st->threshold, e);
	if (rc == MPC_OK)
		rc = mpc_cjson_object(params, p, "participants", &parts, e);
	if (rc != MPC_OK)
		return rc;
	mpc_cjson_path_key(pp, p, "participants");
	rc = mpc_participants_from_json(parts, pp, &st->participants, e);
	if (rc == MPC_OK)
		st->has_running = 1;
	return rc;
}

/* Exactly the keys `want` (NULL-terminated) in object j at path: the seed's Recovery shape is
 * taken field for field, since the deployed contract never defined it. */
static int exact_keys(const json_t *j, const char *path, const char *const *want, struct mpc_err *e)
{
	char p[MPC_CJSON_PATH_MAX];
	const char *k;
	json_t *v;
	int rc = mpc_cjson_expect_object(j, path, e);

	if (rc != MPC_OK)
		return rc;
	for (size_t i = 0; want[i] != NULL; i++) {
		if (json_object_get(j, want[i]) == NULL) {
			mpc_cjson_path_key(p, path, want[i]);
			return mpc_fail(
				e, MPC_ERR_PARSE,
				"%s: missing (Recovery must match the seed's shape field for "
				"field)",
				p);
		}
	}
	json_object_foreach((json_t *)j, k, v)
	{
		size_t i = 0;
		char esc[80];

		while (want[i] != NULL && strcmp(want[i], k) != 0)
			i++;
		if (want[i] == NULL) {
			mpc_escape_untrusted(k, esc, sizeof(esc));
			return mpc_fail(
				e, MPC_ERR_PARSE,
				"%s: unexpected field \"%s\" (Recovery must match the seed's "
				"shape field for field)",
				path, esc);
		}
	}
	return MPC_OK;
}

static int parse_body(enum mpc_protocol_kind kind, const json_t *body, const char *p,
		      struct mpc_contract_state *st, struct mpc_err *e)
{
	char q[MPC_CJSON_PATH_MAX];
	json_t *v = NULL;
	int rc;

	switch (kind) {
	case MPC_STATE_RUNNING:
		return parse_running(body, p, st, e);
	case MPC_STATE_INITIALIZING:
		rc = mpc_cjson_expect_object(body, p, e);
		if (rc == MPC_OK)
			rc = mpc_cjson_member_u64(body, p, "epoch_id", &st->next_epoch, e);
		st->has_next_epoch = rc == MPC_OK;
		return rc;
	case MPC_STATE_RESHARING:
	case MPC_STATE_RECOVERY:
		if (kind == MPC_STATE_RECOVERY) {
			static const char *const body_keys[] = { "previous_running_state",
								 "prospective_participants", NULL };
			static const char *const parts_keys[] = { "next_id", "participants", NULL };

			rc = exact_keys(body, p, body_keys, e);
			if (rc != MPC_OK)
				return rc;
			mpc_cjson_path_key(q, p, "prospective_participants");
			rc = exact_keys(json_object_get(body, "prospective_participants"), q,
					parts_keys, e);
			if (rc != MPC_OK)
				return rc;
		}
		rc = mpc_cjson_member(body, p, "previous_running_state", &v, e);
		if (rc != MPC_OK)
			return rc;
		mpc_cjson_path_key(q, p, "previous_running_state");
		rc = parse_running(v, q, st, e);
		if (rc != MPC_OK)
			return rc;
		if (kind == MPC_STATE_RESHARING) {
			v = json_object_get(body, "resharing_key");
			if (v == NULL)
				return MPC_OK;
			mpc_cjson_path_key(q, p, "resharing_key");
			rc = mpc_cjson_member_u64(v, q, "epoch_id", &st->next_epoch, e);
			st->has_next_epoch = rc == MPC_OK;
			return rc;
		}
		rc = mpc_cjson_object(body, p, "prospective_participants", &v, e);
		if (rc != MPC_OK)
			return rc;
		mpc_cjson_path_key(q, p, "prospective_participants");
		return mpc_participants_from_json(v, q, &st->prospective, e);
	case MPC_STATE_NOT_INITIALIZED:
	case MPC_STATE_UNKNOWN:
		break;
	}
	return mpc_fail(e, MPC_ERR_INTERNAL, "%s: unexpected state kind", p);
}

int mpc_contract_state_from_json(const json_t *j, const char *path, struct mpc_contract_state *out,
				 struct mpc_err *e)
{
	static const struct {
		const char *name;
		enum mpc_protocol_kind kind;
	} kinds[] = {
		{ "Initializing", MPC_STATE_INITIALIZING },
		{ "Running", MPC_STATE_RUNNING },
		{ "Resharing", MPC_STATE_RESHARING },
		{ "Recovery", MPC_STATE_RECOVERY },
	};
	char p[MPC_CJSON_PATH_MAX];
	struct mpc_contract_state st;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&st, 0, sizeof(st));
	if (json_is_string(j) && strcmp(json_string_value(j), "NotInitialized") == 0) {
		out->kind = MPC_STATE_NOT_INITIALIZED;
		snprintf(out->variant, sizeof(out->variant), "NotInitialized");
		return MPC_OK;
	}
	if (json_is_string(j)) {
		/* A unit variant this build does not know. */
		out->kind = MPC_STATE_UNKNOWN;
		mpc_escape_untrusted(json_string_value(j), out->variant, sizeof(out->variant));
		return MPC_OK;
	}
	if (!json_is_object(j))
		return mpc_fail(e, MPC_ERR_PARSE,
				"%s: expected a variant name or an object with one variant", path);
	if (json_object_size(j) != 1)
		return mpc_fail(e, MPC_ERR_PARSE, "%s: expected exactly one key, got %zu", path,
				json_object_size(j));
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		const json_t *body = json_object_get(j, kinds[i].name);

		if (body == NULL)
			continue;
		st.kind = kinds[i].kind;
		snprintf(st.variant, sizeof(st.variant), "%s", kinds[i].name);
		mpc_cjson_path_key(p, path, kinds[i].name);
		rc = parse_body(st.kind, body, p, &st, e);
		if (rc != MPC_OK) {
			mpc_contract_state_free(&st);
			return rc;
		}
		*out = st;
		return MPC_OK;
	}
	/* An object variant this build does not know: its body is not read. */
	out->kind = MPC_STATE_UNKNOWN;
	mpc_escape_untrusted(json_object_iter_key(json_object_iter((json_t *)j)), out->variant,
			     sizeof(out->variant));
	return MPC_OK;
}

int mpc_contract_state_parse(const char *text, size_t len, struct mpc_contract_state *out,
			     struct mpc_err *e)
{
	json_t *j = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = mpc_cjson_load(text, len, "state", &j, e);
	if (rc == MPC_OK)
		rc = mpc_contract_state_from_json(j, "state", out, e);
	json_decref(j);
	return rc;
}

const struct mpc_keyset *mpc_contract_state_backup_keyset(const struct mpc_contract_state *st)
{
	if (st == NULL || !st->has_running || st->keyset.n_domains == 0)
		return NULL;
	if (st->kind != MPC_STATE_RUNNING && st->kind != MPC_STATE_RESHARING &&
	    st->kind != MPC_STATE_RECOVERY)
		return NULL;
	return &st->keyset;
}

void mpc_contract_state_free(struct mpc_contract_state *st)
{
	if (st == NULL)
		return;
	mpc_keyset_free(&st->keyset);
	mpc_participants_free(&st->participants);
	mpc_participants_free(&st->prospective);
	memset(st, 0, sizeof(*st));
}
