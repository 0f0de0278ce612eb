/* replica_int.h: the rclone runner shared by the replica sources (not part of the public API). */
#ifndef MPC_STORE_REPLICA_INT_H
#define MPC_STORE_REPLICA_INT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "src/store/drill.h"
#include "src/store/replica.h"

#define MPC_RCLONE_ERR_KEEP 16384              /* bytes of rclone's stderr kept */
#define MPC_RCLONE_LIST_MAX (8u * 1024 * 1024) /* bytes of `rclone lsjson`/`hashsum` accepted */

struct mpc_rclone {
	const char *program;
	const char *config;
	double timeout;                      /* seconds for one call */
	const volatile sig_atomic_t *cancel; /* set by a signal: kill rclone now; may be NULL */
};

struct mpc_rclone_out {
	int status; /* exit status, or -1 if it died by a signal */
	char *out;  /* stdout (malloc, NUL-terminated), owned */
	size_t out_len;
	char err[MPC_RCLONE_ERR_KEEP + 1]; /* the first bytes of stderr, NUL-terminated */
	size_t err_len;
};

/* Run `rclone --config CONFIG <fixed flags> args...` (args NULL-terminated) and wait for it, at
 * most min(timeout, deadline - now) seconds (deadline 0: none). MPC_OK when it ran to its exit
 * (whatever its status); MPC_ERR_TIMEOUT (process group killed), MPC_ERR_TOO_LARGE (stdout over
 * out_max: killed), MPC_ERR_CANCELLED (rc->cancel set: killed), MPC_ERR_IO (could not start). r->out is released by mpc_rclone_out_free. */
int mpc_rclone_run(const struct mpc_rclone *rc, double deadline, const char *const *args,
		   size_t out_max, struct mpc_rclone_out *r, struct mpc_err *e);
void mpc_rclone_out_free(struct mpc_rclone_out *r); /* accepts NULL */

/* e gets "<what>: rclone exited with N: <sanitised stderr>" (code MPC_ERR_IO, or MPC_ERR_AUTH
 * when rclone says the credentials were refused). Returns the code. */
int mpc_rclone_fail(const struct mpc_rclone_out *r, const char *what, struct mpc_err *e);

/* Check a configuration file: regular, owned by the effective user or root, no group/other
 * permission bits. MPC_ERR_NOT_FOUND, MPC_ERR_STATE naming the problem. */
int mpc_rclone_check_config(const char *path, struct mpc_err *e);

struct mpc_replica_digests {
	char sha256[65], sha1[41], md5[33]; /* lower-case hex; empty: not known */
};

struct mpc_replica_rfile { /* one store file as a replica lists it */
	char name[MPC_STORE_NAME_MAX];
	uint64_t size;
	struct mpc_replica_digests d;
};

/* The checks of mpc_replica_set_add on one "remote:path". */
int mpc_replica_check_remote(const char *remote, struct mpc_err *e);

/* remote + "/" + name (no '/' after "remote:" or a trailing '/'). */
int mpc_replica_join(const char *remote, const char *name, char *out, size_t cap,
		     struct mpc_err *e);

/* `rclone lsjson --hash --max-depth 1 REMOTE`: the store files on it (*out, malloc), and (when
 * tmps != NULL) the names starting with tmp_prefix. A missing directory is an empty replica. */
int mpc_replica_list(const struct mpc_rclone *rc, const char *remote, double deadline,
		     const char *tmp_prefix, struct mpc_replica_rfile **out, size_t *n_out,
		     char (**tmps)[MPC_STORE_NAME_MAX + 64], size_t *n_tmps, struct mpc_err *e);

/* Download REMOTE/NAME into DIR/NAME (`rclone copyto`, one call: its own timeout, bounded by
 * deadline) refusing more than MPC_STORE_FILE_MAX bytes; the file is left mode 0600. Errors:
 * MPC_ERR_TOO_LARGE / MPC_ERR_NOT_FOUND for this file (nothing left in DIR), anything else is the
 * replica's or rclone's (MPC_ERR_TIMEOUT, MPC_ERR_CANCELLED, MPC_ERR_IO, MPC_ERR_AUTH). */
int mpc_replica_download(const struct mpc_rclone *rc, const char *remote, const char *name,
			 const char *dir, double deadline, struct mpc_err *e);

/* The store file at path parses and its name is the one its header gives (MPC_ERR_AUTH: renamed
 * or tampered; MPC_ERR_PARSE; MPC_ERR_IO). */
int mpc_replica_check_file(const char *path, const char *name, struct mpc_err *e);

/* Remove a staging directory and the plain files in it. */
void mpc_replica_remove_staging(const char *dir);

struct mpc_replica_drill_bounds {
	size_t files_max;   /* copies drilled per replica (the newest) */
	uint64_t bytes_max; /* bytes downloaded per replica */
};

/* Drill the copies on one replica into *out (remote already set; see drill.h): never fails,
 * out->reached = 0 with out->error when the replica could not be listed or downloaded from. */
void mpc_replica_drill_one(const struct mpc_rclone *rc, const char *remote,
			   const struct mpc_store *store, struct mpc_token *const *tokens,
			   size_t n_tokens, const struct mpc_keyset *contract_ks, double deadline,
			   const struct mpc_replica_drill_bounds *b, struct mpc_drill_replica *out);

#endif
