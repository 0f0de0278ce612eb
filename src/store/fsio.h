/* fsio.h: the store's crash-safe file-system steps, with the test-only fault hooks.
 *
 * The store writes files with the same protocol as mpc_file_write_atomic(no_replace) but through
 * its own code, so that a test can stop the process between any two steps:
 *   1 create DIR/.tmp-<name>-XXXXXX (O_EXCL, mode 0600)   step "tmp-created"
 *   2 write all bytes                                      step "tmp-written"
 *   3 fsync + close the temporary                          step "tmp-synced"
 *   4 link(temporary, DIR/<name>)  (never replaces)        step "linked"
 *   5 unlink the temporary                                 step "tmp-unlinked"
 *   6 fsync DIR                                            step "dir-synced"
 * A crash before 4 leaves only a temporary (ignored by list/verify, removed by the next write or
 * by mpc_store_cleanup); after 4 the complete file is in place.
 *
 * TEST-ONLY hooks (documented in docs/store-format.md), compiled in only in the test build of
 * the library (mpc_store_hooked, MPC_STORE_TEST_HOOKS); no-ops in the product:
 *   MPC_STORE_CRASH_AT=<step>  the process kills itself with SIGKILL right after <step>
 *                              (also "q-linked", "q-unlinked" in quarantine, "pruned" in prune).
 *   MPC_STORE_FAIL_AT=<op>     the operation <op> ("write", "fsync", "link", "dir-sync") fails
 *                              with ENOSPC as a full disk would ("write" after half the bytes).
 * They are read from the environment at each step; no global state.
 */
#ifndef MPC_STORE_FSIO_H
#define MPC_STORE_FSIO_H

#include <stddef.h>
#include <stdint.h>

#include "src/util/err.h"

/* Crash here if MPC_STORE_CRASH_AT names `step` (test-only). */
void mpc_store_hook_crash(const char *step);
/* 1 if MPC_STORE_FAIL_AT names `op` (test-only). */
int mpc_store_hook_fail(const char *op);

/* Write `data` as the new file DIR/name by the protocol above. MPC_ERR_EXISTS if the name is
 * taken (nothing written), MPC_ERR_IO on any failure (the temporary is removed; the directory is
 * as it was). */
int mpc_store_write_new(const char *dir, const char *name, const uint8_t *data, size_t len,
			struct mpc_err *e);

/* Exclusive advisory lock on DIR/.lock (created if missing) for writers. *fd gets the open
 * descriptor; release with mpc_store_unlock. */
int mpc_store_lock(const char *dir, int *fd, struct mpc_err *e);
void mpc_store_unlock(int fd);

/* Move DIR/name to DIR/quarantine/name: link, fsync quarantine/, unlink, fsync DIR. A crash in
 * between leaves the file in both places, which readers treat as quarantined. */
int mpc_store_move_to_quarantine(const char *dir, const char *name, struct mpc_err *e);

/* Create `path` as a directory (0700) if missing and fsync its parent. */
int mpc_store_mkdir(const char *path, struct mpc_err *e);

#endif
