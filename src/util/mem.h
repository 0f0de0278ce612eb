/* mem.h: wiping, constant-time comparison and locked memory for secrets.
 *
 * Plaintext keyshares, PINs and transport keys live only in buffers from mpc_secure_alloc():
 * page-aligned anonymous mappings that are mlock()ed (never swapped) and excluded from core
 * dumps (MADV_DONTDUMP), and that mpc_secure_free() wipes before unmapping.
 */
#ifndef MPC_UTIL_MEM_H
#define MPC_UTIL_MEM_H

#include <stddef.h>

#include "src/util/err.h"

/* Wipe memory in a way the compiler may not remove. Accepts NULL. */
void mpc_memzero(void *p, size_t n);

/* Constant-time equality of two buffers of the same length: 1 if equal, 0 otherwise. */
int mpc_memeq_ct(const void *a, const void *b, size_t n);

/* Locked, dump-excluded, zero-filled allocation of n bytes (n may be 0). Returns NULL and
 * records MPC_ERR_NOMEM in e if memory or the mlock limit is exhausted. */
void *mpc_secure_alloc(size_t n, struct mpc_err *e);

/* Grow (or shrink) a secure buffer, copying min(old, new) bytes; the old buffer is wiped and
 * freed only on success. Returns NULL on failure, leaving p intact. */
void *mpc_secure_realloc(void *p, size_t n, struct mpc_err *e);

/* Size the caller asked for when p was allocated. */
size_t mpc_secure_size(const void *p);

/* Wipe, unlock and release. Accepts NULL. */
void mpc_secure_free(void *p);

/* Process hardening for the entry point: no core dumps, not ptrace-attachable by other
 * processes of the same user. Returns MPC_OK or records why not. */
int mpc_harden_process(struct mpc_err *e);

/* Lock all current and future pages of the process in RAM (mlockall with MCL_ONFAULT), so
 * that copies of keyshares made by libraries (jansson's parser, libcurl's buffers) are never
 * swapped. Fails with MPC_ERR_NOMEM naming RLIMIT_MEMLOCK when not permitted. */
int mpc_lock_all_memory(struct mpc_err *e);

#endif
