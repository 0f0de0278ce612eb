/* file.h: bounded reads and atomic, durable writes of whole files.
 *
 * mpc_file_read() never reads more than `max` bytes: a larger file is refused with
 * MPC_ERR_TOO_LARGE before anything is returned. With `secure` set the bytes land in
 * mpc_secure_alloc() memory (free with mpc_secure_free), else in malloc() memory (free()).
 * The buffer always has one extra NUL byte after `*len` bytes, so text can be used as a string.
 *
 * mpc_file_write_atomic() writes a temporary file in the target's directory, fsyncs it, renames
 * it over (or, with `no_replace`, to) the target and fsyncs the directory: after a crash the
 * target holds the old content or the new, never a mix. On failure the temporary is removed and
 * the target is untouched.
 */
#ifndef MPC_UTIL_FILE_H
#define MPC_UTIL_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "src/util/err.h"

int mpc_file_read(const char *path, size_t max, int secure, uint8_t **out, size_t *len,
		  struct mpc_err *e);
/* The same, refusing (MPC_ERR_STATE, before reading) a file that is not a regular file or
 * whose mode has any of `forbidden` bits (checked on the opened file, so no race): 0007 for
 * files holding a secret (a PIN, a key: others may not touch them), 0002 for configuration
 * (nobody else may rewrite it). */
int mpc_file_read_checked(const char *path, size_t max, int secure, unsigned forbidden,
			  uint8_t **out, size_t *len, struct mpc_err *e);
int mpc_fd_read_all(int fd, size_t max, int secure, const char *what, uint8_t **out, size_t *len,
		    struct mpc_err *e);

int mpc_file_write_atomic(const char *path, const uint8_t *data, size_t len, unsigned mode,
			  int no_replace, struct mpc_err *e);

/* fsync a directory (after a rename or unlink inside it). */
int mpc_dir_sync(const char *dir, struct mpc_err *e);

#endif
