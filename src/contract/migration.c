/* migration.c: parsing the migration_info view. */
#include "src/contract/migration.h"

#include <stdlib.h>
#include <string.h>

#include "src/model/json.h"
#include "src/model/near_key.h"
#include "src/util/encoding.h"
#include "src/util/escape.h"

static int parse_backup(const json_t *j, const char *path, struct mpc_migration_entry *m,
			struct mpc_err *e)
{
	char p[MPC_CJSON_PATH_MAX];
	const char *key = NULL;
	int rc = mpc_cjson_string(j, path, "public_key", &key, e);

	if (rc != MPC_OK)
		return rc;
	mpc_cjson_path_key(p, path, "public_key");
	if (mpc_ed25519_key_parse(key, m->backup_key, p, e) != MPC_OK) {
		if (e != NULL)
			e->code = MPC_ERR_PARSE;
		return MPC_ERR_PARSE;
	}
	m->has_backup = 1;
	return MPC_OK;
}

static int parse_destination(const json_t *j, const char *path, struct mpc_migration_entry *m,
			     struct mpc_err *e)
{
	char p[MPC_CJSON_PATH_MAX];
	uint8_t pk[MPC_PK_MAX];
	const char *s = NULL;
	json_t *info = NULL;
	int rc = mpc_cjson_string(j, path, "signer_account_pk", &s, e);

	if (rc != MPC_OK)
		return rc;
	mpc_cjson_path_key(p, path, "signer_account_pk");
	/* The deployed contract's DestinationNodeInfo.signer_account_pk is an Ed25519PublicKey
	 * (near/mpc crates/near-mpc-contract-interface/src/types/node_migrations.rs). */
	m->signer_curve = MPC_CURVE_ED25519;
	if (strncmp(s, "ed25519:", 8) != 0)
		return mpc_fail(e, MPC_ERR_PARSE,
				"%s: expected an \"ed25519:\" key (the contract "
				"takes no other signer key)",
				p);
	rc = mpc_near_key_parse(s, m->signer_curve, pk, p, e);
	if (rc != MPC_OK)
		return rc;
	m->signer_pk_len = mpc_near_key_len(m->signer_curve);
	memcpy(m->signer_pk, pk, m->signer_pk_len);
	rc = mpc_cjson_object(j, path, "destination_node_info", &info, e);
	if (rc != MPC_OK)
		return rc;
	mpc_cjson_path_key(p, path, "destination_node_info");
	rc = mpc_participant_info_from_json(info, p, &m->destination, e);
	if (rc == MPC_OK)
		m->has_destination = 1;
	return rc;
}

static int parse_entry(const char *acct, const json_t *v, const char *path,
		       struct mpc_migration_entry *m, struct mpc_err *e)
{
	char pe[MPC_CJSON_PATH_MAX], p[MPC_CJSON_PATH_MAX], esc[2 * MPC_ACCOUNT_ID_MAX];
	const json_t *b, *d;
	int rc;

	if (acct == NULL)
		return mpc_fail(e, MPC_ERR_PARSE, "%s: an entry without an account id", path);
	/* The key is the contract's text: escaped before it goes into a path (a message). */
	mpc_escape_untrusted(acct, esc, sizeof(esc));
	mpc_cjson_path_key(pe, path, esc);
	rc = mpc_account_id_check(acct, pe, e);
	if (rc != MPC_OK)
		return rc;
	memcpy(m->account_id, acct, strlen(acct) + 1);
	if (!json_is_array(v) || json_array_size(v) != 2)
		return mpc_fail(e, MPC_ERR_PARSE,
				"%s: expected [BackupServiceInfo|null, DestinationNodeInfo|null]",
				pe);
	b = json_array_get(v, 0);
	d = json_array_get(v, 1);
	if (!json_is_null(b)) {
		mpc_cjson_path_index(p, pe, 0);
		rc = parse_backup(b, p, m, e);
		if (rc != MPC_OK)
			return rc;
	}
	if (!json_is_null(d)) {
		mpc_cjson_path_index(p, pe, 1);
		rc = parse_destination(d, p, m, e);
		if (rc != MPC_OK)
			return rc;
	}
	return MPC_OK;
}

int mpc_migration_info_from_json(const json_t *j, const char *path, struct mpc_migration_info *out,
				 struct mpc_err *e)
{
	struct mpc_migration_info mi = { 0 };
	const char *acct;
	json_t *v;
	size_t n, i = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = mpc_cjson_expect_object(j, path, e);
	if (rc != MPC_OK)
		return rc;
	n = json_object_size(j);
	if (n > MPC_MAX_MIGRATION_ENTRIES)
		return mpc_fail(e, MPC_ERR_PARSE, "%s: %zu entries, at most %d allowed", path, n,
				MPC_MAX_MIGRATION_ENTRIES);
	if (n > 0) {
		mi.entries = calloc(n, sizeof(*mi.entries));
		if (mi.entries == NULL)
			return mpc_fail(e, MPC_ERR_NOMEM, "%s: out of memory", path);
	}
	/* jansson iterates in insertion order only with JSON_PRESERVE_ORDER on dump; order here
	 * does not matter: entries are looked up by account id. */
	json_object_foreach((json_t *)j, acct, v)
	{
		if (i >= n) { /* the object grew while we iterate: cannot happen, never overrun */
			rc = mpc_fail(e, MPC_ERR_INTERNAL, "%s: more entries than counted", path);
			goto out;
		}
		rc = parse_entry(acct, v, path, &mi.entries[i], e);
		if (rc != MPC_OK)
			goto out;
		mi.n = ++i;
	}
	*out = mi;
	memset(&mi, 0, sizeof(mi));
	rc = MPC_OK;
out:
	mpc_migration_info_free(&mi);
	return rc;
}

int mpc_migration_info_parse(const char *text, size_t len, struct mpc_migration_info *out,
			     struct mpc_err *e)
{
	json_t *j = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = mpc_cjson_load(text, len, "migration_info", &j, e);
	if (rc == MPC_OK)
		rc = mpc_migration_info_from_json(j, "migration_info", out, e);
	json_decref(j);
	return rc;
}

const struct mpc_migration_entry *mpc_migration_info_find(const struct mpc_migration_info *mi,
							  const char *account_id)
{
	if (mi == NULL || account_id == NULL)
		return NULL;
	for (size_t i = 0; i < mi->n; i++)
		if (strcmp(mi->entries[i].account_id, account_id) == 0)
			return &mi->entries[i];
	return NULL;
}

void mpc_migration_info_free(struct mpc_migration_info *mi)
{
	if (mi == NULL)
		return;
	free(mi->entries);
	memset(mi, 0, sizeof(*mi));
}
