/* rpc_envelope.h: decoding a NEAR JSON-RPC `query` response without building a JSON tree.
 *
 * A response is {"jsonrpc": "2.0", "id": ..., "result": {"result": [bytes], "logs": [...],
 * "block_height": u64, "block_hash": "..."}} or carries an `error` object, or (contract panic)
 * a `result.error` string. The view's bytes can be tens of MiB of "123," text; decoding them
 * into a jansson tree would cost ~50 bytes of heap per byte, so this scanner validates the
 * whole document as JSON (depth-limited) and writes the byte array straight into a buffer of at
 * most len/2 + 1 bytes. Only the small `error` values are handed to jansson.
 *
 * On success *out (malloc'd, NUL-terminated after *out_len bytes; free()) holds the view's JSON
 * text. Errors: MPC_ERR_PARSE (not a valid response), MPC_ERR_RPC (JSON-RPC error or contract
 * panic; the message quotes the server's text, truncated), MPC_ERR_NOMEM.
 */
#ifndef MPC_CONTRACT_RPC_ENVELOPE_H
#define MPC_CONTRACT_RPC_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "src/util/err.h"

/* Longest block hash accepted (base58 of 32 bytes is at most 44 characters), with the NUL. */
#define MPC_BLOCK_HASH_MAX 64

/* What a response says about the block it answers for, and about an error. */
struct mpc_rpc_meta {
	uint64_t block_height;               /* 0 when absent */
	char block_hash[MPC_BLOCK_HASH_MAX]; /* "" when absent; 1..63 base58 characters */
	int unknown_block;                   /* on MPC_ERR_RPC: nearcore said it does not have the
					      block asked for (cause UNKNOWN_BLOCK or
					      GARBAGE_COLLECTED_BLOCK, or the legacy "DB Not Found
					      Error" data) */
};

int mpc_rpc_envelope_decode(const char *text, size_t len, char **out, size_t *out_len,
			    uint64_t *block_height, struct mpc_err *e);

/* The same, filling *meta in every case (zeroed first). */
int mpc_rpc_envelope_decode_meta(const char *text, size_t len, char **out, size_t *out_len,
				 struct mpc_rpc_meta *meta, struct mpc_err *e);

/* A `block` response: {"result": {"header": {"height": u64, "hash": "<base58>", ...}, ...}}.
 * Fills meta->block_height and meta->block_hash on success; meta->unknown_block as above. The
 * response is parsed with jansson (a block answer is a few KiB). Errors: MPC_ERR_PARSE,
 * MPC_ERR_RPC, MPC_ERR_NOMEM. */
int mpc_rpc_block_decode(const char *text, size_t len, struct mpc_rpc_meta *meta,
			 struct mpc_err *e);

#endif
