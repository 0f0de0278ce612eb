/* view.c: deriving, comparing and summarising the operator's view of the contract. */
#include "src/contract/view.h"

#include <stdio.h>
#include <string.h>

int mpc_contract_view_derive(const struct mpc_contract_state *st,
			     const struct mpc_migration_info *mi, const char *operator_account,
			     struct mpc_contract_view *out, struct mpc_err *e)
{
	const struct mpc_keyset *ks = mpc_contract_state_backup_keyset(st);
	const struct mpc_participant *own =
		mpc_participants_find(&st->participants, operator_account);
	const struct mpc_migration_entry *m = mpc_migration_info_find(mi, operator_account);
	int rc;

	memset(out, 0, sizeof(*out));
	if (operator_account == NULL)
		return mpc_fail(e, MPC_ERR_USAGE, "no operator account id");
	out->kind = st->kind;
	memcpy(out->variant, st->variant, sizeof(out->variant));
	/* An unknown variant has no keyset and no participants (its body is not read); its
	 * migration_info entry is kept as read, for display: acting on it is the caller's call,
	 * and the monitor takes no action while the kind is unknown. */
	if (ks != NULL) {
		rc = mpc_keyset_copy(&out->keyset, ks, e);
		if (rc != MPC_OK)
			return rc;
		out->has_keyset = 1;
	}
	if (st->has_running)
		out->running_epoch = st->keyset.epoch_id;
	if (own != NULL) {
		out->own = *own;
		out->has_own = 1;
	}
	if (m != NULL) {
		out->migration = *m;
		out->has_migration = 1;
	}
	if (st->kind == MPC_STATE_RECOVERY) {
		const struct mpc_participant *p =
			mpc_participants_find(&st->prospective, operator_account);

		if (p != NULL &&
		    (own == NULL || memcmp(p->info.tls_key, own->info.tls_key, 32) != 0 ||
		     strcmp(p->info.url, own->info.url) != 0)) {
			out->prospective = *p;
			out->has_prospective = 1;
		}
	}
	out->has_next_epoch = st->has_next_epoch;
	out->next_epoch = st->next_epoch;
	out->threshold = st->threshold;
	out->n_participants = st->participants.n;
	return MPC_OK;
}

int mpc_contract_view_parse(const char *state_text, size_t state_len, const char *mi_text,
			    size_t mi_len, const char *operator_account,
			    struct mpc_contract_view *out, struct mpc_err *e)
{
	struct mpc_contract_state st;
	struct mpc_migration_info mi;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = mpc_contract_state_parse(state_text, state_len, &st, e);
	if (rc != MPC_OK)
		return rc;
	rc = mpc_migration_info_parse(mi_text, mi_len, &mi, e);
	if (rc == MPC_OK) {
		rc = mpc_contract_view_derive(&st, &mi, operator_account, out, e);
		mpc_migration_info_free(&mi);
	}
	mpc_contract_state_free(&st);
	return rc;
}

static int participant_equal(const struct mpc_participant *a, const struct mpc_participant *b)
{
	return strcmp(a->account_id, b->account_id) == 0 &&
	       a->participant_id == b->participant_id && strcmp(a->info.url, b->info.url) == 0 &&
	       memcmp(a->info.tls_key, b->info.tls_key, 32) == 0;
}

static int migration_equal(const struct mpc_migration_entry *a, const struct mpc_migration_entry *b)
{
	if (a->has_backup != b->has_backup || a->has_destination != b->has_destination)
		return 0;
	if (a->has_backup && memcmp(a->backup_key, b->backup_key, 32) != 0)
		return 0;
	if (a->has_destination &&
	    (a->signer_curve != b->signer_curve || a->signer_pk_len != b->signer_pk_len ||
	     memcmp(a->signer_pk, b->signer_pk, a->signer_pk_len) != 0 ||
	     strcmp(a->destination.url, b->destination.url) != 0 ||
	     memcmp(a->destination.tls_key, b->destination.tls_key, 32) != 0))
		return 0;
	return 1;
}

int mpc_contract_view_equal(const struct mpc_contract_view *a, const struct mpc_contract_view *b)
{
	if (a->kind != b->kind || strcmp(a->variant, b->variant) != 0 ||
	    a->has_keyset != b->has_keyset || a->has_own != b->has_own ||
	    a->has_migration != b->has_migration || a->has_prospective != b->has_prospective)
		return 0;
	if (a->has_keyset && !mpc_keyset_equal(&a->keyset, &b->keyset))
		return 0;
	if (a->has_own && !participant_equal(&a->own, &b->own))
		return 0;
	if (a->has_migration && !migration_equal(&a->migration, &b->migration))
		return 0;
	if (a->has_prospective && !participant_equal(&a->prospective, &b->prospective))
		return 0;
	return 1;
}

static uint32_t fnv(uint32_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

/* A short fingerprint of everything compared, so two summaries that read alike but differ
 * (another key at the same attempt, another URL) can be told apart in a message. */
static uint32_t fingerprint(const struct mpc_contract_view *v)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; v->has_keyset && i < v->keyset.n_domains; i++)
		h = fnv(h, v->keyset.domains[i].pk, v->keyset.domains[i].pk_len);
	if (v->has_own)
		h = fnv(fnv(h, v->own.info.url, strlen(v->own.info.url)), v->own.info.tls_key, 32);
	if (v->has_migration) {
		h = fnv(h, v->migration.backup_key, 32);
		h = fnv(h, v->migration.destination.url, strlen(v->migration.destination.url));
		h = fnv(h, v->migration.destination.tls_key, 32);
	}
	if (v->has_prospective)
		h = fnv(fnv(h, v->prospective.info.url, strlen(v->prospective.info.url)),
			v->prospective.info.tls_key, 32);
	return h;
}

void mpc_contract_view_summary(const struct mpc_contract_view *v, char *out, size_t cap)
{
	size_t o = 0;
	int n;

	if (cap == 0)
		return;
	out[0] = '\0';
#define APPEND(...)                                                  \
	do {                                                         \
		if (o < cap) {                                       \
			n = snprintf(out + o, cap - o, __VA_ARGS__); \
			o = n < 0 ? cap : o + (size_t)n;             \
		}                                                    \
	} while (0)
	if (v->kind == MPC_STATE_UNKNOWN)
		APPEND("unknown state variant \"%s\"", v->variant);
	else
		APPEND("%s", mpc_protocol_kind_name(v->kind));
	if (v->has_keyset) {
		APPEND(" epoch %llu [", (unsigned long long)v->keyset.epoch_id);
		for (size_t i = 0; i < v->keyset.n_domains && i < 16; i++)
			APPEND("%s%llu@%llu", i ? " " : "",
			       (unsigned long long)v->keyset.domains[i].domain_id,
			       (unsigned long long)v->keyset.domains[i].attempt);
		APPEND("%s]", v->keyset.n_domains > 16 ? " ..." : "");
	} else {
		APPEND(" no keyset");
	}
	APPEND(" own=%s backup=%s destination=%s", v->has_own ? "yes" : "no",
	       v->has_migration && v->migration.has_backup ? "yes" : "no",
	       v->has_migration && v->migration.has_destination ? "yes" : "no");
	if (v->kind == MPC_STATE_RECOVERY)
		APPEND(" prospective=%s", v->has_prospective ? "yes" : "no");
	APPEND(" #%08x", (unsigned)fingerprint(v));
#undef APPEND
}

int mpc_contract_view_copy(struct mpc_contract_view *dst, const struct mpc_contract_view *src,
			   struct mpc_err *e)
{
	int rc;

	*dst = *src;
	memset(&dst->keyset, 0, sizeof(dst->keyset));
	rc = mpc_keyset_copy(&dst->keyset, &src->keyset, e);
	if (rc != MPC_OK)
		memset(dst, 0, sizeof(*dst));
	return rc;
}

void mpc_contract_view_free(struct mpc_contract_view *v)
{
	if (v == NULL)
		return;
	mpc_keyset_free(&v->keyset);
	memset(v, 0, sizeof(*v));
}
