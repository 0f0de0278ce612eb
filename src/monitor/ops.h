/* ops.h: the two things mpc-backup does to an MPC node, shared by the one-shot commands
 * (`backup`, `restore`) and the monitor:
 *   backup: fetch the keyshares of a keyset from a node authenticated by its contract TLS key,
 *           validate them against the keyset, seal them to every sealing token, store them;
 *   push:   open a stored keyset and PUT it to a node authenticated by its contract TLS key.
 * Plaintext keyshares exist only in locked memory between the node and the token, and are
 * wiped before these functions return.
 */
#ifndef MPC_MONITOR_OPS_H
#define MPC_MONITOR_OPS_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "pkcs11/seal.h"
#include "pkcs11/token.h"
#include "src/model/keyset.h"
#include "src/node/body.h"
#include "src/store/store.h"
#include "src/util/err.h"

struct mpc_ops {
	EVP_PKEY *tls_key; /* borrowed: the token-backed TLS identity */
	uint8_t tls_pub[32];
	struct mpc_token *tls_token; /* borrowed: the token holding tls_key; NULL: not known (the
				      * monitor then watches only the sealing tokens) */
	struct mpc_token *const *seal_tokens; /* borrowed: sealed to all, opened with any */
	size_t n_seal;
	enum mpc_seal_mech mech;
	const struct mpc_transport_key *tk; /* borrowed */
	const struct mpc_store *store;      /* borrowed */
	const char *contract;               /* recorded in store headers; may be NULL */
	const char *operator_;              /* recorded in store headers; may be NULL */
	long connect_timeout_ms;            /* 0: the node client's defaults */
	long timeout_ms;
	size_t max_response;
	const volatile sig_atomic_t *cancel; /* set by a signal: abort transfers; may be NULL */
};

struct mpc_op_timing {
	double node_s;  /* TLS handshake + request + response + body decryption */
	double token_s; /* sealing or unsealing in the token(s) */
	double disk_s;  /* writing, fsync, link, directory fsync */
	double total_s;
};

struct mpc_backup_outcome {
	int already_covered;           /* nothing fetched: the store covers the keyset */
	char file[MPC_STORE_NAME_MAX]; /* the new file, or the covering one */
	size_t bytes;                  /* plaintext size sealed */
	struct mpc_op_timing t;
};

/* Back up `ks` from the node at `address` whose contract TLS key is `node_pub`. Covered
 * already: MPC_OK with already_covered set and nothing fetched. */
int mpc_op_backup(const struct mpc_ops *o, const char *address, const uint8_t node_pub[32],
		  const struct mpc_keyset *ks, struct mpc_backup_outcome *out, struct mpc_err *e);

struct mpc_push_outcome {
	char file[MPC_STORE_NAME_MAX];
	uint64_t epoch;
	size_t n_domains;
	size_t bytes;
	struct mpc_op_timing t;
};

/* Push a stored keyset to the node at `address` whose contract TLS key is `node_pub`:
 * `exact` != NULL: the stored keyset must equal it (the contract's current keyset) or the push
 *                  is refused (MPC_ERR_NOT_FOUND / MPC_ERR_INVALID), never another keyset;
 * else the newest stored keyset (`newest`) or the newest of `epoch`.
 * A 200 from the node only means it took the body. */
int mpc_op_push(const struct mpc_ops *o, const char *address, const uint8_t node_pub[32],
		const struct mpc_keyset *exact, int newest, uint64_t epoch,
		struct mpc_push_outcome *out, struct mpc_err *e);

#endif
