/* state.h: the contract's `state` view (ProtocolContractState), reduced to what a backup
 * service needs.
 *
 * Accepted JSON (unknown fields ignored everywhere):
 *   "NotInitialized"
 *   {"Initializing": {"epoch_id": u64, ...}}                   nothing concluded to back up
 *   {"Running": Running}
 *   {"Resharing": {"previous_running_state": Running, "resharing_key": {"epoch_id": u64, ...}?,
 *                  ...}}                                       back up the previous keyset
 *   {"Recovery": {"previous_running_state": Running,
 *                 "prospective_participants": Participants}}   the seed design (TEE.md); the
 *                                                              deployed contract has no such state
 *   Running = {"keyset": Keyset, "parameters": {"participants": Participants, "threshold": u64},
 *              ...}
 * An object must have exactly one key. Missing or mistyped required fields fail with
 * MPC_ERR_PARSE naming the JSON path ("state.Resharing.previous_running_state.keyset.epoch_id").
 * Recovery is checked field for field (the seed's shape, not the deployed contract's): its body
 * and its prospective_participants must have exactly the keys above; a missing or extra key is
 * an MPC_ERR_PARSE naming it. Any other variant ("Frozen", {"Migrating": ...}) parses as
 * MPC_STATE_UNKNOWN with its name kept in `variant` and nothing else: no keyset, no
 * participants, so no action can follow from it.
 *
 * A struct mpc_contract_state owns its keyset and participant arrays; free it with
 * mpc_contract_state_free() (accepts NULL).
 */
#ifndef MPC_CONTRACT_STATE_H
#define MPC_CONTRACT_STATE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "src/model/keyset.h"
#include "src/contract/participants.h"
#include "src/util/err.h"

enum mpc_protocol_kind {
	MPC_STATE_NOT_INITIALIZED = 1,
	MPC_STATE_INITIALIZING = 2,
	MPC_STATE_RUNNING = 3,
	MPC_STATE_RESHARING = 4,
	MPC_STATE_RECOVERY = 5,
	MPC_STATE_UNKNOWN = 6, /* a variant this build does not know: alert, no action */
};

#define MPC_STATE_VARIANT_MAX 64

struct mpc_contract_state {
	enum mpc_protocol_kind kind;
	char variant[MPC_STATE_VARIANT_MAX];  /* the variant's name as sent, escaped (see
						mpc_escape_untrusted) and truncated */
	int has_running;                      /* Running, Resharing, Recovery: the fields below */
	struct mpc_keyset keyset;             /* the (previous) running keyset */
	struct mpc_participants participants; /* the (previous) running participants */
	uint64_t threshold;
	struct mpc_participants prospective; /* Recovery only */
	int has_next_epoch;                  /* Initializing: epoch_id; Resharing: resharing_key */
	uint64_t next_epoch;
};

/* "NotInitialized", "Initializing", "Running", "Resharing", "Recovery", "unknown". */
const char *mpc_protocol_kind_name(enum mpc_protocol_kind k);

int mpc_contract_state_from_json(const json_t *j, const char *path, struct mpc_contract_state *out,
				 struct mpc_err *e);
/* Parse `len` bytes of the view's JSON text (the RPC result bytes). Path prefix "state". */
int mpc_contract_state_parse(const char *text, size_t len, struct mpc_contract_state *out,
			     struct mpc_err *e);

/* The keyset to back up: Running's keyset, or the previous running keyset while Resharing or
 * in Recovery; NULL otherwise and when it has no domains. Borrowed from st. */
const struct mpc_keyset *mpc_contract_state_backup_keyset(const struct mpc_contract_state *st);

void mpc_contract_state_free(struct mpc_contract_state *st);

#endif
