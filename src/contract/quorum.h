/* quorum.h: several RPC endpoints, one truth.
 *
 * A struct mpc_quorum holds N endpoints and a quorum K (default: strict majority N/2+1). One
 * call to mpc_quorum_poll() per monitor poll reads `state` and `migration_info` from every
 * endpoint in parallel (curl multi), derives each endpoint's struct mpc_contract_view for the
 * operator and succeeds only when at least K endpoints produced equal views (see
 * mpc_contract_view_equal: state kind, keyset to back up, own participant entry, own
 * migration_info entry, Recovery's prospective participant). A failing endpoint counts as not
 * agreeing. Otherwise it fails with MPC_ERR_DISAGREE and a message naming each (redacted)
 * endpoint and what it said ("https://a.example: Running epoch 4 [0@240 1@0] ...").
 *
 * Per-endpoint outcomes are returned in every case (for metrics and `contract status`).
 * The quorum owns its endpoints and keeps their connections alive between polls.
 */
#ifndef MPC_CONTRACT_QUORUM_H
#define MPC_CONTRACT_QUORUM_H

#include <stddef.h>
#include <stdint.h>

#include "src/contract/rpc.h"
#include "src/contract/url.h"
#include "src/contract/view.h"
#include "src/util/err.h"

#define MPC_QUORUM_MAX_ENDPOINTS 16

enum mpc_endpoint_status {
	MPC_ENDPOINT_OK = 0,       /* part of the agreeing quorum */
	MPC_ENDPOINT_ERROR = 1,    /* failed (transport, RPC error, unparsable) */
	MPC_ENDPOINT_DISAGREE = 2, /* answered, but not with the quorum's view */
};

struct mpc_endpoint_outcome {
	char endpoint[MPC_URL_REDACTED_MAX]; /* redacted: scheme://host[:port] */
	enum mpc_endpoint_status status;
	int code;                            /* MPC_OK or the MPC_ERR_* of the failure */
	char detail[MPC_ERR_MSG_MAX];        /* the error message, or the view summary */
	uint64_t block_height;               /* of the state read, 0 if unknown */
};

struct mpc_quorum;

/* urls[n] are copied; k == 0 means n/2+1. Fails with MPC_ERR_USAGE when n is 0 or over
 * MPC_QUORUM_MAX_ENDPOINTS, k > n, or a URL is not http(s). */
int mpc_quorum_new(const char *const *urls, size_t n, size_t k, const struct mpc_rpc_options *opt,
		   struct mpc_quorum **out, struct mpc_err *e);
void mpc_quorum_free(struct mpc_quorum *q);

size_t mpc_quorum_size(const struct mpc_quorum *q);
size_t mpc_quorum_threshold(const struct mpc_quorum *q);

/* One poll. outcomes must have room for mpc_quorum_size(q) entries (it may be NULL). On MPC_OK
 * *agreed holds the agreed view (free with mpc_contract_view_free). On MPC_ERR_DISAGREE (or
 * MPC_ERR_NOMEM / MPC_ERR_USAGE) *agreed is zeroed. */
int mpc_quorum_poll(struct mpc_quorum *q, const char *operator_account,
		    struct mpc_contract_view *agreed, struct mpc_endpoint_outcome *outcomes,
		    struct mpc_err *e);

/* Static name of an endpoint status: "ok", "error", "disagree". */
const char *mpc_endpoint_status_name(enum mpc_endpoint_status s);

#endif
