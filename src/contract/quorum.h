/* quorum.h: several RPC endpoints, one truth.
 *
 * A struct mpc_quorum holds N endpoints and a quorum K (default: strict majority N/2+1). One
 * call to mpc_quorum_poll() per monitor poll:
 *   1. asks every endpoint for its final block (`block`, finality final), in parallel;
 *   2. picks one height h: the K'-th highest reported height, K' = max(K, 2) (or the only one
 *      when a single endpoint answered). With fewer than K' liars h lies at or below an honest
 *      endpoint's final height, so one liar can neither push the read into the past nor make it
 *      wait for a block nobody has;
 *   3. reads `state` and `migration_info` at block h ("block_id": h) from every endpoint that
 *      answered step 1, in parallel, and derives each endpoint's struct mpc_contract_view for
 *      the operator. The block hash each endpoint answers with is part of what must agree.
 * The agreement rule: the poll succeeds only when at least K endpoints produced a view and
 * every endpoint that produced a view produced the same one (see mpc_contract_view_equal:
 * state kind and variant, keyset to back up, own participant entry, own migration_info entry,
 * Recovery's prospective participant; plus the block hash). Endpoints that failed (transport,
 * HTTP, JSON-RPC error, unparsable view, or "unknown block": a node that does not have block h
 * yet) neither vote nor block. Endpoint order never matters. Any differing view fails the poll
 * with MPC_ERR_DISAGREE and a message naming each (redacted) endpoint and what it said
 * ("https://a.example: Running epoch 4 [0@240 1@0] ... #1a2b3c4d"); fewer than K views and no
 * difference fails with the failing endpoints' code (MPC_ERR_RPC when they differ).
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
	MPC_ENDPOINT_ERROR = 1,    /* failed (transport, RPC error, unparsable, behind) */
	MPC_ENDPOINT_DISAGREE = 2, /* produced a view, and views differ: nothing is agreed */
};

struct mpc_endpoint_outcome {
	char endpoint[MPC_URL_REDACTED_MAX]; /* redacted: scheme://host[:port] */
	enum mpc_endpoint_status status;
	int code;                            /* MPC_OK or the MPC_ERR_* of the failure */
	char detail[MPC_ERR_MSG_MAX];        /* the error message, or the view summary */
	uint64_t block_height;               /* the block read at (the poll's h), 0 if none */
	char block_hash[MPC_BLOCK_HASH_MAX]; /* the hash this endpoint answered with, or "" */
	uint64_t final_height;               /* the final height it reported, 0 if none */
	int behind;                          /* it did not have block h yet */
};

struct mpc_quorum;

/* urls[n] are copied; k == 0 means n/2+1. Fails with MPC_ERR_USAGE when n is 0 or over
 * MPC_QUORUM_MAX_ENDPOINTS, k > n, a URL is not http(s), or two URLs reach the same server:
 * endpoints are distinct only by origin (scheme, host, port; the host lowercased without a
 * trailing dot, IPv6 literals in canonical form, 80/443 when absent; path, query and userinfo
 * do not count), and a name is also compared with the addresses it resolves to
 * (getaddrinfo, at this call): an IP literal and a name resolving to it, or two names sharing
 * a loopback, private or link-local address, are one server. Two public names sharing an
 * address are allowed (virtual hosting: CDNs front many providers on shared addresses). The
 * message names both endpoints by their redacted names. */
int mpc_quorum_new(const char *const *urls, size_t n, size_t k, const struct mpc_rpc_options *opt,
		   struct mpc_quorum **out, struct mpc_err *e);
void mpc_quorum_free(struct mpc_quorum *q);

size_t mpc_quorum_size(const struct mpc_quorum *q);
size_t mpc_quorum_threshold(const struct mpc_quorum *q);

/* 1 when K = 1: one server's answer is enough whenever the others do not answer (down,
 * behind, or made to look behind), so a single lying server can decide. Callers warn about
 * it: `contract status` prints it, the monitor logs it at start-up. */
int mpc_quorum_single_server_decides(const struct mpc_quorum *q);

/* One poll. outcomes must have room for mpc_quorum_size(q) entries (it may be NULL). On MPC_OK
 * *agreed holds the agreed view with the block it was read at (free with
 * mpc_contract_view_free). On any failure *agreed is zeroed. */
int mpc_quorum_poll(struct mpc_quorum *q, const char *operator_account,
		    struct mpc_contract_view *agreed, struct mpc_endpoint_outcome *outcomes,
		    struct mpc_err *e);

/* Static name of an endpoint status: "ok", "error", "disagree". */
const char *mpc_endpoint_status_name(enum mpc_endpoint_status s);

#endif
