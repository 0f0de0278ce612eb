/* config.h: the monitor's configuration: a file of `key = value` lines (format in
 * docs/operations.md, "The configuration file") and command-line flags that override it.
 *
 * Secrets are never configuration: a PIN or a key in the file is refused (pin= , pin-value=
 * in a URI, transport_key=). Files, PIN and transport key are named by path or environment.
 * Every value is bounded and checked; an unknown key or a malformed line is an error naming
 * the file and line.
 *
 * Ownership: strings are owned by the struct (strdup); free with mpc_config_free().
 */
#ifndef MPC_MONITOR_CONFIG_H
#define MPC_MONITOR_CONFIG_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "src/contract/address.h"
#include "src/util/err.h"

#define MPC_CONFIG_MAX_LIST      16
#define MPC_CONFIG_MAX_OVERRIDES 64

struct mpc_config {
	char *token, *tls_token, *seal_token, *pin_file;
	char *token_profile; /* the sealing token's vendor rules (pkcs11/vendor.h); NULL: auto */
	char *seal_to[MPC_CONFIG_MAX_LIST];
	size_t n_seal_to;
	char *store;
	char *rpc_url[MPC_CONFIG_MAX_LIST];
	size_t n_rpc_url;
	unsigned rpc_quorum; /* 0: strict majority */
	char *contract;      /* default v1.signer */
	char *account;
	double poll_interval;        /* seconds, default 30 */
	unsigned migration_port;     /* default 8079 */
	char *metrics_listen;        /* "ADDR:PORT" or NULL */
	char *transport_key_file;    /* else env MPC_BACKUP_TRANSPORT_KEY_HEX, else the token */
	double node_timeout;         /* seconds, default 60 */
	double node_connect_timeout; /* seconds, default 10 */
	double rpc_timeout;          /* seconds, default 30 */
	double backoff_initial;      /* seconds, default 1 */
	double backoff_max;          /* seconds, default 300 */
	double drill_interval;       /* seconds between restore drills, default 86400; 0: none */
	double verify_interval;      /* seconds between full store verifications, default 3600 */
	double conclude_timeout;     /* seconds after a push before saying why the migration has
					  not concluded, default 600 */
	char *log_level;             /* debug, info, warn, error */
	char *log_format;            /* text, journal, json; NULL: journal under systemd, else
					text */
	double uncovered_grace;      /* seconds the contract's keyset may stay uncovered before
					/healthz says so, default 600 */
	unsigned backup_failures_unhealthy; /* consecutive failed backups before /healthz says so,
					       default 3 */
	char *replica[MPC_CONFIG_MAX_LIST]; /* rclone remote:path (src/store/replica.h) */
	size_t n_replica;
	char *rclone_config;  /* rclone's configuration file, required with a replica */
	double replica_grace; /* seconds a replica may stay behind before /healthz says so, 3600 */
	double replica_timeout; /* seconds for one rclone call, default 60 */
	struct mpc_address_override overrides[MPC_CONFIG_MAX_OVERRIDES];
	size_t n_overrides;
	/* where each token URI was set ("FILE:LINE" or "--token"): token, tls_token, seal_token,
	 * then seal_to in order */
	char uri_where[3 + MPC_CONFIG_MAX_LIST][300];
	/* which of the list options were set on the command line (they replace the file's) */
	int cli_rpc_url, cli_seal_to;
	double token_retry_initial; /* seconds before re-initialising a module whose token went
				       away, doubling, default 1 */
	double token_retry_max;     /* ... up to this, default 60 */
};

void mpc_config_defaults(struct mpc_config *c);
void mpc_config_free(struct mpc_config *c);

/* Apply one setting (from a file line or a flag). `where` names it in messages
 * ("/etc/mpc-backup.conf:12" or "--rpc-url"). */
int mpc_config_set(struct mpc_config *c, const char *key, const char *value, const char *where,
		   struct mpc_err *e);

/* Where the token URI that error message `msg` quotes (as mpc_uri_for_message shows it) was set;
 * NULL if none matches. The token layer parses URIs when it opens a token, after the file was
 * read: `run` prefixes this to name the file and line. */
const char *mpc_config_uri_where(const struct mpc_config *c, const char *msg);

/* Read a file (at most 64 KiB) into c. */
int mpc_config_load_file(struct mpc_config *c, const char *path, struct mpc_err *e);

/* What `run` needs before it starts: store, account, at least one RPC URL, quorum <= URLs. */
int mpc_config_check(const struct mpc_config *c, struct mpc_err *e);

/* A quorum over c's RPC endpoints with c's contract, quorum and rpc_timeout (connect and whole
 * request); `cancel` (borrowed, may be NULL) aborts its polls. *q owned by the caller
 * (mpc_quorum_free). Errors: as mpc_quorum_new. */
struct mpc_quorum;
int mpc_config_quorum_new(const struct mpc_config *c, const volatile sig_atomic_t *cancel,
			  struct mpc_quorum **q, struct mpc_err *e);

#endif
