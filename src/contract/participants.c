/* participants.c: parsing Participants and ParticipantInfo. */
#include "src/contract/participants.h"

#include <stdlib.h>
#include <string.h>

#include "src/model/json.h"
#include "src/util/encoding.h"

int mpc_account_id_check(const char *s, const char *path, struct mpc_err *e)
{
	size_t n = strlen(s);
	int prev_sep = 1; /* no separator first */

	if (n < 2 || n > MPC_ACCOUNT_ID_MAX)
		return mpc_fail(e, MPC_ERR_PARSE, "%s: an account id is 2..%d characters, got %zu",
				path, MPC_ACCOUNT_ID_MAX, n);
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int sep = c == '.' || c == '-' || c == '_';

		/* Anything else (upper case, space, a control or bidi character, any non-ASCII
		 * byte) is refused without being quoted. */
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || sep))
			return mpc_fail(e, MPC_ERR_PARSE,
					"%s: invalid character in account id at offset %zu (NEAR "
					"account ids are a-z 0-9 . - _)",
					path, i);
		if (sep && prev_sep)
			return mpc_fail(
				e, MPC_ERR_PARSE,
				"%s: account id has a separator at offset %zu where NEAR allows "
				"none (first, or after another separator)",
				path, i);
		prev_sep = sep;
	}
	if (prev_sep)
		return mpc_fail(e, MPC_ERR_PARSE, "%s: account id ends with a separator", path);
	return MPC_OK;
}

int mpc_participant_info_from_json(const json_t *j, const char *path,
				   struct mpc_participant_info *out, struct mpc_err *e)
{
	char p[MPC_CJSON_PATH_MAX];
	const char *url = NULL, *key = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = mpc_cjson_string(j, path, "url", &url, e);
	if (rc == MPC_OK)
		rc = mpc_cjson_string(j, path, "tls_public_key", &key, e);
	if (rc != MPC_OK)
		return rc;
	if (strlen(url) >= sizeof(out->url)) {
		mpc_cjson_path_key(p, path, "url");
		return mpc_fail(e, MPC_ERR_PARSE, "%s: longer than %zu characters", p,
				sizeof(out->url) - 1);
	}
	mpc_cjson_path_key(p, path, "tls_public_key");
	rc = mpc_ed25519_key_parse(key, out->tls_key, p, e);
	if (rc != MPC_OK) {
		if (e != NULL)
			e->code = MPC_ERR_PARSE;
		return MPC_ERR_PARSE;
	}
	memcpy(out->url, url, strlen(url) + 1);
	return MPC_OK;
}

static int parse_entry(const json_t *t, const char *pe, struct mpc_participant *pt,
		       struct mpc_err *e)
{
	char p[MPC_CJSON_PATH_MAX];
	const char *acct = NULL;
	int rc;

	if (!json_is_array(t) || json_array_size(t) != 3)
		return mpc_fail(e, MPC_ERR_PARSE,
				"%s: expected [account_id, participant_id, ParticipantInfo]", pe);
	mpc_cjson_path_index(p, pe, 0);
	rc = mpc_cjson_expect_string(json_array_get(t, 0), p, &acct, e);
	if (rc == MPC_OK)
		rc = mpc_account_id_check(acct, p, e);
	if (rc != MPC_OK)
		return rc;
	memcpy(pt->account_id, acct, strlen(acct) + 1);
	mpc_cjson_path_index(p, pe, 1);
	rc = mpc_cjson_u64(json_array_get(t, 1), p, &pt->participant_id, e);
	if (rc != MPC_OK)
		return rc;
	mpc_cjson_path_index(p, pe, 2);
	return mpc_participant_info_from_json(json_array_get(t, 2), p, &pt->info, e);
}

int mpc_participants_from_json(const json_t *j, const char *path, struct mpc_participants *out,
			       struct mpc_err *e)
{
	char p[MPC_CJSON_PATH_MAX], pe[MPC_CJSON_PATH_MAX];
	struct mpc_participants ps = { 0 };
	json_t *arr = NULL;
	size_t n;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = mpc_cjson_member_u64(j, path, "next_id", &ps.next_id, e);
	if (rc == MPC_OK)
		rc = mpc_cjson_array(j, path, "participants", &arr, e);
	if (rc != MPC_OK)
		goto out;
	mpc_cjson_path_key(p, path, "participants");
	n = json_array_size(arr);
	if (n > MPC_MAX_PARTICIPANTS) {
		rc = mpc_fail(e, MPC_ERR_PARSE, "%s: %zu participants, at most %d allowed", p, n,
			      MPC_MAX_PARTICIPANTS);
		goto out;
	}
	if (n > 0) {
		ps.items = calloc(n, sizeof(*ps.items));
		if (ps.items == NULL) {
			rc = mpc_fail(e, MPC_ERR_NOMEM, "%s: out of memory", p);
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct mpc_participant *pt = &ps.items[i];

		mpc_cjson_path_index(pe, p, i);
		rc = parse_entry(json_array_get(arr, i), pe, pt, e);
		if (rc != MPC_OK)
			goto out;
		/* Quadratic, but bounded by MPC_MAX_PARTICIPANTS and cheap per pair. */
		for (size_t k = 0; k < i; k++) {
			if (strcmp(ps.items[k].account_id, pt->account_id) == 0 ||
			    ps.items[k].participant_id == pt->participant_id) {
				rc = mpc_fail(
					e, MPC_ERR_PARSE,
					"%s: duplicate account id or participant id (also at [%zu])",
					pe, k);
				goto out;
			}
		}
	}
	ps.n = n;
	*out = ps;
	memset(&ps, 0, sizeof(ps));
	rc = MPC_OK;
out:
	mpc_participants_free(&ps);
	return rc;
}

const struct mpc_participant *mpc_participants_find(const struct mpc_participants *ps,
						    const char *account_id)
{
	if (ps == NULL || account_id == NULL)
		return NULL;
	for (size_t i = 0; i < ps->n; i++)
		if (strcmp(ps->items[i].account_id, account_id) == 0)
			return &ps->items[i];
	return NULL;
}

void mpc_participants_free(struct mpc_participants *ps)
{
	if (ps == NULL)
		return;
	free(ps->items);
	memset(ps, 0, sizeof(ps[0]));
}
