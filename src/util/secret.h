/* secret.h: reading a fixed-size hex secret (the node's 32-byte backup transport key) from a
 * file or an environment variable, never from argv, into locked memory.
 */
#ifndef MPC_UTIL_SECRET_H
#define MPC_UTIL_SECRET_H

#include <stddef.h>
#include <stdint.h>

#include "src/util/err.h"

/* Read exactly `n` bytes written as 2n hex digits (one trailing newline allowed) from `file`
 * if non-NULL, else from the environment variable `env`. On success *out is
 * mpc_secure_alloc() memory of n bytes (free with mpc_secure_free). Messages name the source,
 * never the value. */
int mpc_secret_hex_read(const char *file, const char *env, size_t n, uint8_t **out,
			struct mpc_err *e);

#endif
