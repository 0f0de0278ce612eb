/* view.h: what one reading of the contract means for one operator, the unit the quorum reader
 * compares across endpoints and the monitor acts on.
 *
 * Derived from `state` and `migration_info` for `operator_account`:
 *   kind          the protocol state kind
 *   keyset        the keyset to back up (see mpc_contract_state_backup_keyset), if any
 *   own           the operator's participant entry in the (previous) running state, if any
 *   migration     the operator's migration_info entry (backup key, destination), if any
 *   prospective   Recovery only: the operator's prospective participant when its TLS key or URL
 *                 differs from `own` (or the operator is not a running participant)
 * plus informational fields that are not compared (threshold, participant count, next epoch).
 * An unknown state variant (MPC_STATE_UNKNOWN) has only its kind and variant name: no keyset,
 * no participant, nothing to act on; two unknown variants are equal only by name.
 *
 * A struct mpc_contract_view owns its keyset; free with mpc_contract_view_free() (accepts NULL).
 */
#ifndef MPC_CONTRACT_VIEW_H
#define MPC_CONTRACT_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "src/model/keyset.h"
#include "src/contract/migration.h"
#include "src/contract/participants.h"
#include "src/contract/rpc_envelope.h"
#include "src/contract/state.h"
#include "src/util/err.h"

struct mpc_contract_view {
	enum mpc_protocol_kind kind;
	char variant[MPC_STATE_VARIANT_MAX]; /* the state variant's (escaped) name: for
						MPC_STATE_UNKNOWN, what to alert about */
	int has_keyset;
	struct mpc_keyset keyset; /* owned */
	int has_own;
	struct mpc_participant own;
	int has_migration;
	struct mpc_migration_entry migration;
	int has_prospective;
	struct mpc_participant prospective;
	/* informational, not compared */
	uint64_t running_epoch; /* the (previous) running keyset's epoch, if any */
	int has_next_epoch;
	uint64_t next_epoch;
	uint64_t threshold;
	size_t n_participants;
	/* the block the views were read at (set by the quorum reader; 0 / "" otherwise) */
	uint64_t block_height;
	char block_hash[MPC_BLOCK_HASH_MAX];
};

/* Derive the view; st and mi are only read. */
int mpc_contract_view_derive(const struct mpc_contract_state *st,
			     const struct mpc_migration_info *mi, const char *operator_account,
			     struct mpc_contract_view *out, struct mpc_err *e);

/* Parse both views' JSON texts and derive. */
int mpc_contract_view_parse(const char *state_text, size_t state_len, const char *mi_text,
			    size_t mi_len, const char *operator_account,
			    struct mpc_contract_view *out, struct mpc_err *e);

/* 1 if the compared parts are the same. */
int mpc_contract_view_equal(const struct mpc_contract_view *a, const struct mpc_contract_view *b);

/* One-line summary for disagreement messages, e.g.
 * "Running epoch 4 [0@240 1@0] own=yes backup=yes destination=no #1a2b3c4d", the last part a
 * fingerprint of the compared keys and URLs (truncated to cap). */
void mpc_contract_view_summary(const struct mpc_contract_view *v, char *out, size_t cap);

int mpc_contract_view_copy(struct mpc_contract_view *dst, const struct mpc_contract_view *src,
			   struct mpc_err *e);
void mpc_contract_view_free(struct mpc_contract_view *v);

#endif
