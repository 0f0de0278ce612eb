/* debug_config.h: the MPC node's own word on its migration port, as an unauthenticated hint.
 *
 * The node serves its configuration at http://<host>:8080/debug/node_config (its web_ui;
 * near/mpc crates/node/src/web.rs, NodeConfigResponse), with the field "migration_web_ui":
 * "<ip>:<port>" ("0.0.0.0:8079", "[::]:8081"). The migration port is 8079 by default and older
 * nodes often serve 8081; this tells which. It is plain HTTP from an address the contract
 * names: anyone on the path can change it, so it is only ever printed as a hint
 * (`contract status`), never used to choose where to connect, and never a reason to trust a
 * peer: the TLS pin stays the contract's key.
 *
 * Bounds: one GET, no redirects, no proxy, http only, the body refused over
 * MPC_DEBUG_CONFIG_MAX bytes, MPC_DEBUG_CONFIG_TIMEOUT_MS for the whole request.
 */
#ifndef MPC_NODE_DEBUG_CONFIG_H
#define MPC_NODE_DEBUG_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "src/util/err.h"

#define MPC_DEBUG_CONFIG_PORT       8080
#define MPC_DEBUG_CONFIG_MAX        65536
#define MPC_DEBUG_CONFIG_TIMEOUT_MS 2000L

/* Fetch http://<host>:<port>/debug/node_config (host: a name, an IPv4 or a bare IPv6
 * literal; port 0: MPC_DEBUG_CONFIG_PORT; timeout_ms 0: the default) and return the port of
 * migration_web_ui. Errors: MPC_ERR_USAGE (bad host), MPC_ERR_HTTP, MPC_ERR_TIMEOUT,
 * MPC_ERR_TOO_LARGE, MPC_ERR_PARSE (not JSON, field missing or not "<ip>:<port>"). Messages
 * never quote what the server sent. */
int mpc_node_migration_port_hint(const char *host, uint16_t port, long timeout_ms,
				 uint16_t *migration_port, struct mpc_err *e);

#endif
