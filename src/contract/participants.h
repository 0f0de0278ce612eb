/* participants.h: the contract's Participants list and ParticipantInfo.
 *
 * JSON: {"next_id": u64, "participants": [[account_id, participant_id, ParticipantInfo], ...]}
 *       ParticipantInfo {"url": string, "tls_public_key": "ed25519:<base58 32>"}
 *
 * Bounds: at most MPC_MAX_PARTICIPANTS entries, account ids valid by NEAR's rules (2..64
 * characters of a-z 0-9 . - _, no separator first, last or next to another: this also refuses
 * control and bidi characters), URLs shorter than MPC_PARTICIPANT_URL_MAX. A URL is kept as
 * sent: print it only through mpc_escape_untrusted(). A struct
 * mpc_participants owns its `items`; free with mpc_participants_free() (accepts NULL).
 */
#ifndef MPC_CONTRACT_PARTICIPANTS_H
#define MPC_CONTRACT_PARTICIPANTS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "src/util/err.h"

#define MPC_ACCOUNT_ID_MAX      64
#define MPC_PARTICIPANT_URL_MAX 1024
#define MPC_MAX_PARTICIPANTS    10000

struct mpc_participant_info {
	char url[MPC_PARTICIPANT_URL_MAX];
	uint8_t tls_key[32];
};

struct mpc_participant {
	char account_id[MPC_ACCOUNT_ID_MAX + 1];
	uint64_t participant_id;
	struct mpc_participant_info info;
};

struct mpc_participants {
	uint64_t next_id;
	size_t n;
	struct mpc_participant *items; /* owned */
};

/* Validate a NEAR account id at `path` (MPC_ERR_PARSE naming the path and offset; the id
 * itself is never quoted). */
int mpc_account_id_check(const char *s, const char *path, struct mpc_err *e);

/* Parse a ParticipantInfo object at `path`. */
int mpc_participant_info_from_json(const json_t *j, const char *path,
				   struct mpc_participant_info *out, struct mpc_err *e);

/* Parse a Participants object at `path`. Duplicate account ids or participant ids are refused.
 * On failure *out is zeroed. */
int mpc_participants_from_json(const json_t *j, const char *path, struct mpc_participants *out,
			       struct mpc_err *e);

/* The entry for `account_id`, or NULL. */
const struct mpc_participant *mpc_participants_find(const struct mpc_participants *ps,
						    const char *account_id);

void mpc_participants_free(struct mpc_participants *ps);

#endif
