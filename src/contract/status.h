/* status.h: `mpc-backup contract status`: what the contract says for this operator, as a JSON
 * object and as plain text. The CLI owns argument parsing and printing; this file owns the
 * content.
 *
 * Status JSON (fields with no value are null):
 *   {"contract": "v1.signer", "operator_account": "...",
 *    "agreed": bool, "quorum": {"required": k, "endpoints": n}, "disagreement": "..."|null,
 *    "endpoints": [{"endpoint": "scheme://host[:port]", "status": "ok"|"error"|"disagree",
 *                   "block_height": n, "detail": "..."}],
 *    "protocol_state": "Running"|...|"unknown", "state_variant": "..." (the name as sent,
 *    escaped), "next_epoch": n|null,
 *    "keyset": {"epoch_id": n, "domains": [{"domain_id", "attempt", "curve", "public_key"}]}|null,
 *    "node": {"account_id", "participant_id", "url", "tls_public_key", "migration_address",
 *             "address_overridden"}|null,
 *    "backup_service": {"registered": bool, "public_key": "ed25519:..."|null,
 *                       "is_ours": bool|null},
 *    "migration": {"destination": {"url", "tls_public_key", "migration_address",
 *                                  "signer_account_pk"}|null},
 *    "recovery": {"prospective": {"url", "tls_public_key", "migration_address"}|null}|null,
 *    "store_covers_keyset": bool|null, "warnings": ["...", ...],
 *    "block": {"height": n, "hash": "..."}|null}
 * "warnings" holds configuration warnings (quorum 1: a single server decides).
 * The CLI may add "migration_port_hint": {"port": n|null, "source": "http://host:8080/debug/
 * node_config", "error": "..."|null} (src/node/debug_config.h: unauthenticated, display only);
 * the text rendering prints it under the node.
 * RPC URLs appear only in redacted form. u64 values above 2^63-1 are written as strings.
 */
#ifndef MPC_CONTRACT_STATUS_H
#define MPC_CONTRACT_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "src/contract/address.h"
#include "src/contract/quorum.h"
#include "src/contract/rpc.h"
#include "src/contract/view.h"
#include "src/util/err.h"

#define MPC_STATUS_WARN_QUORUM_1                                                              \
	"rpc quorum 1: one RPC server's answer is enough whenever the others do not answer; " \
	"use 2 or more"

enum mpc_tristate {
	MPC_TRI_UNKNOWN = -1,
	MPC_TRI_NO = 0,
	MPC_TRI_YES = 1,
};

struct mpc_status_input {
	const char *contract; /* NULL: MPC_RPC_DEFAULT_CONTRACT */
	const char *operator_account;
	const struct mpc_contract_view *view; /* the agreed view, or NULL */
	const char *disagreement;             /* the poll's error message when no view */
	const struct mpc_endpoint_outcome *outcomes;
	size_t n_outcomes;
	size_t quorum;
	const uint8_t *own_tls_key;                 /* 32 bytes: this service's TLS key, or NULL */
	int store_covers;                           /* enum mpc_tristate */
	const struct mpc_address_config *addresses; /* may be NULL */
	int single_server_decides;                  /* quorum 1: warn */
};

/* Build the status object. Returns a new reference or NULL with e set. */
json_t *mpc_status_build(const struct mpc_status_input *in, struct mpc_err *e);

/* Render a status object as plain text (malloc'd, NUL-terminated; free()). */
int mpc_status_render_text(const json_t *status, char **out, struct mpc_err *e);

/* CLI glue: poll the endpoints once and build the status. `covers` (may be NULL: unknown) is
 * asked whether the store covers the agreed keyset and returns an enum mpc_tristate. */
struct mpc_status_args {
	const char *const *rpc_urls;
	size_t n_urls;
	size_t quorum;                     /* 0: majority */
	const struct mpc_rpc_options *rpc; /* may be NULL */
	const char *operator_account;
	const uint8_t *own_tls_key;                 /* may be NULL */
	const struct mpc_address_config *addresses; /* may be NULL */
	int (*covers)(void *ctx, const struct mpc_keyset *ks);
	void *covers_ctx;
};

/* Returns MPC_OK with *out set even when endpoints disagree (the status says so; *poll_rc, if
 * not NULL, receives the poll's code, e.g. MPC_ERR_DISAGREE, for the exit status). Fails only
 * for bad arguments or out of memory. */
int mpc_contract_status_run(const struct mpc_status_args *a, json_t **out, int *poll_rc,
			    struct mpc_err *e);

#endif
