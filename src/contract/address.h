/* address.h: where a node's migration web server listens.
 *
 * The contract lists a node's P2P URL, not its migration address. The migration address is the
 * host of that URL with the migration port (MPC_MIGRATION_PORT_DEFAULT unless configured),
 * unless the operator overrides it for the node's account id or for its TLS key (a TLS key
 * override wins over an account override: it names one specific node). The monitor fills
 * struct mpc_address_config from its configuration; the contract layer only reads it.
 *
 * Output is "host:port", IPv6 hosts in brackets ("[::1]:8079"); overrides are used verbatim.
 */
#ifndef MPC_CONTRACT_ADDRESS_H
#define MPC_CONTRACT_ADDRESS_H

#include <stddef.h>
#include <stdint.h>

#include "src/util/err.h"

#define MPC_MIGRATION_PORT_DEFAULT 8079
#define MPC_ADDRESS_MAX            300

struct mpc_address_override {
	const char *account_id; /* match by account id, or NULL */
	int has_tls_key;        /* match by TLS key instead */
	uint8_t tls_key[32];
	const char *address; /* "host:port", borrowed */
};

struct mpc_address_config {
	uint16_t migration_port;                      /* 0 = MPC_MIGRATION_PORT_DEFAULT */
	const struct mpc_address_override *overrides; /* borrowed, may be NULL */
	size_t n_overrides;
};

/* The migration address of the node (account_id, url, tls_key). cfg may be NULL (defaults).
 * *overridden tells whether an override was used (may be NULL). Fails with MPC_ERR_PARSE when
 * the URL cannot be split and no override applies. */
int mpc_migration_address(const struct mpc_address_config *cfg, const char *account_id,
			  const char *url, const uint8_t tls_key[32], char out[MPC_ADDRESS_MAX],
			  int *overridden, struct mpc_err *e);

#endif
