/* migration.h: the contract's `migration_info` view.
 *
 * JSON: {account_id: [BackupServiceInfo | null, DestinationNodeInfo | null], ...}
 *   BackupServiceInfo   {"public_key": "ed25519:<base58 32>"}
 *   DestinationNodeInfo {"signer_account_pk": "ed25519:...",
 *                        "destination_node_info": ParticipantInfo}
 *   (signer_account_pk is an Ed25519PublicKey in the deployed contract: anything else, e.g.
 *   "secp256k1:...", is an MPC_ERR_PARSE)
 * An ongoing migration of account A is a non-null second element for A.
 *
 * At most MPC_MAX_MIGRATION_ENTRIES entries. struct mpc_migration_info owns `entries`; free it
 * with mpc_migration_info_free() (accepts NULL).
 */
#ifndef MPC_CONTRACT_MIGRATION_H
#define MPC_CONTRACT_MIGRATION_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "src/model/keyset.h"
#include "src/contract/participants.h"
#include "src/util/err.h"

#define MPC_MAX_MIGRATION_ENTRIES 10000

struct mpc_migration_entry {
	char account_id[MPC_ACCOUNT_ID_MAX + 1];
	int has_backup;              /* a registered backup service */
	uint8_t backup_key[32];      /* its Ed25519 TLS key */
	int has_destination;         /* an ongoing migration */
	enum mpc_curve signer_curve; /* MPC_CURVE_ED25519 */
	uint8_t signer_pk[64];
	size_t signer_pk_len;
	struct mpc_participant_info destination;
};

struct mpc_migration_info {
	size_t n;
	struct mpc_migration_entry *entries; /* owned, in the order jansson iterates */
};

int mpc_migration_info_from_json(const json_t *j, const char *path, struct mpc_migration_info *out,
				 struct mpc_err *e);
/* Parse `len` bytes of the view's JSON text. Path prefix "migration_info". */
int mpc_migration_info_parse(const char *text, size_t len, struct mpc_migration_info *out,
			     struct mpc_err *e);

/* The entry for `account_id`, or NULL. */
const struct mpc_migration_entry *mpc_migration_info_find(const struct mpc_migration_info *mi,
							  const char *account_id);

void mpc_migration_info_free(struct mpc_migration_info *mi);

#endif
