/* rpc.h: a NEAR JSON-RPC client for the contract's view functions (libcurl).
 *
 * One struct mpc_rpc_endpoint per RPC URL holds a CURL easy handle that is reused across polls
 * (HTTP keep-alive). A view call POSTs
 *   {"jsonrpc":"2.0","id":"mpc-backup","method":"query","params":{"request_type":"call_function",
 *    "account_id":<contract>,"method_name":<view>,"args_base64":<base64 of the args JSON>,
 *    "finality":"final" | "block_id":<height>}}
 * and returns the view's JSON text (the bytes of `result.result`) with the block height and
 * hash the answer is for. A block call POSTs {"method":"block","params":{"finality":"final"}}
 * and returns `result.header.height` and `result.header.hash`.
 *
 * Bounds: the response body is refused once it exceeds max_response bytes (checked in the write
 * callback as bytes arrive, and up front from Content-Length); connect and total timeouts;
 * only http and https; no redirects.
 *
 * Errors: MPC_ERR_CANCELLED (the options' cancel flag), MPC_ERR_TIMEOUT, MPC_ERR_HTTP (transport, non-200 status), MPC_ERR_TOO_LARGE,
 * MPC_ERR_TLS, MPC_ERR_PARSE (not a JSON-RPC response), MPC_ERR_RPC (JSON-RPC error or contract
 * panic, with its message). Every message starts with the endpoint's redacted name
 * ("rpc https://rpc.example.org: ...") and has the URL's path, query and userinfo scrubbed.
 */
#ifndef MPC_CONTRACT_RPC_H
#define MPC_CONTRACT_RPC_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "src/contract/rpc_envelope.h"
#include "src/contract/url.h"
#include "src/util/err.h"

#define MPC_RPC_DEFAULT_CONTRACT           "v1.signer"
#define MPC_RPC_DEFAULT_MAX_RESPONSE       ((size_t)32 << 20)
#define MPC_RPC_DEFAULT_CONNECT_TIMEOUT_MS 5000L
#define MPC_RPC_DEFAULT_TIMEOUT_MS         30000L

struct mpc_rpc_options {
	const char *contract;    /* NULL: MPC_RPC_DEFAULT_CONTRACT; copied */
	size_t max_response;     /* 0: MPC_RPC_DEFAULT_MAX_RESPONSE */
	long connect_timeout_ms; /* 0: default */
	long timeout_ms;         /* 0: default; whole request */
	const char *ca_file;     /* https: PEM CA bundle to trust instead of the system's; copied */
	/* borrowed, may be NULL: non-zero aborts a quorum poll within 100 ms, and a single call
	 * (mpc_rpc_call, mpc_rpc_view, mpc_rpc_final_block) in flight within about a second
	 * (libcurl's progress callback), or before it starts: MPC_ERR_CANCELLED */
	const volatile sig_atomic_t *cancel;
};

struct mpc_rpc_endpoint;

#define MPC_RPC_ARGS_MAX 16384

/* The result of one view call. Free with mpc_rpc_result_free() (accepts NULL). */
struct mpc_rpc_result {
	char *json; /* the view's JSON text, NUL-terminated, malloc'd */
	size_t len;
	uint64_t block_height; /* the block the answer is for (0 if the server did not say) */
	char block_hash[MPC_BLOCK_HASH_MAX]; /* its hash, base58 ("" if the server did not say) */
};

/* One view call: `method` on the contract with `args_json` (NULL: {}; at most
 * MPC_RPC_ARGS_MAX bytes, sent as given), at block `block_height` (0: finality final). */
struct mpc_rpc_query {
	const char *method;
	const char *args_json;
	uint64_t block_height;
};

/* The final block an endpoint reports. */
struct mpc_rpc_block {
	uint64_t height;
	char hash[MPC_BLOCK_HASH_MAX];
};

/* Create an endpoint for `url` (copied). opt may be NULL. Fails with MPC_ERR_USAGE for a URL
 * that is not http(s). The caller must have called curl_global_init() (or let libcurl do it
 * lazily in a single-threaded program). */
int mpc_rpc_endpoint_new(const char *url, const struct mpc_rpc_options *opt,
			 struct mpc_rpc_endpoint **out, struct mpc_err *e);
void mpc_rpc_endpoint_free(struct mpc_rpc_endpoint *ep);

/* The redacted name, "scheme://host[:port]": the only form of the URL to print. */
const char *mpc_rpc_endpoint_name(const struct mpc_rpc_endpoint *ep);

/* Make the call `q` and wait for the answer. Fails with MPC_ERR_USAGE for a missing method
 * or oversized arguments; otherwise as described at the top. */
int mpc_rpc_call(struct mpc_rpc_endpoint *ep, const struct mpc_rpc_query *q,
		 struct mpc_rpc_result *out, struct mpc_err *e);

/* Call view `method` ("state", "migration_info") with {} at the final block. */
int mpc_rpc_view(struct mpc_rpc_endpoint *ep, const char *method, struct mpc_rpc_result *out,
		 struct mpc_err *e);

/* Ask for the endpoint's final block. */
int mpc_rpc_final_block(struct mpc_rpc_endpoint *ep, struct mpc_rpc_block *out, struct mpc_err *e);

/* After a failed call or block request: 1 if the server said it does not have the block asked
 * for (nearcore's UNKNOWN_BLOCK or GARBAGE_COLLECTED_BLOCK cause, or the legacy "DB Not Found
 * Error: BLOCK HEIGHT" text), else 0. */
int mpc_rpc_unknown_block(const struct mpc_rpc_endpoint *ep);

/* The same split in two for a curl multi handle (the quorum reader runs endpoints in
 * parallel): begin returns the prepared easy handle (owned by ep) or NULL with e set; after the
 * transfer is done, finish takes its CURLcode. One request per endpoint at a time. */
CURL *mpc_rpc_begin_call(struct mpc_rpc_endpoint *ep, const struct mpc_rpc_query *q,
			 struct mpc_err *e);
CURL *mpc_rpc_begin(struct mpc_rpc_endpoint *ep, const char *method, struct mpc_err *e);
int mpc_rpc_finish(struct mpc_rpc_endpoint *ep, CURLcode cc, struct mpc_rpc_result *out,
		   struct mpc_err *e);
CURL *mpc_rpc_begin_block(struct mpc_rpc_endpoint *ep, struct mpc_err *e);
int mpc_rpc_finish_block(struct mpc_rpc_endpoint *ep, CURLcode cc, struct mpc_rpc_block *out,
			 struct mpc_err *e);

void mpc_rpc_result_free(struct mpc_rpc_result *r);

#endif
