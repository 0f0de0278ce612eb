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
/* Who may control a file, as the mode bits it must not have (the `forbidden` argument below). */
#define MPC_FILE_CONFIG 0022u /* configuration, store files: only the owner may change it */
#define MPC_FILE_SECRET 0077u /* a PIN or key: only the owner may read or change it */

/* The same for a file that decides what runs as this user, refusing it before anything is read
 * with MPC_ERR_STATE (a message naming the path, what is wrong and the chown/chmod that fixes
 * it) unless all of these hold, each checked on an open descriptor so nothing can change
 * between check and read:
 * - every directory from / down to the file's own, after resolving symbolic links in the
 *   directory part (realpath), is opened one at a time with O_NOFOLLOW and is owned by the
 *   effective user or root and not writable by group or others, except that a sticky directory
 *   (/tmp) may be: there others cannot rename or remove a file they do not own, and the file
 *   itself must be owned by us or root (next rule);
 * - the file is opened relative to that checked directory with O_NOFOLLOW (a symbolic link is
 *   refused: it could be pointed elsewhere) and O_NONBLOCK (a FIFO cannot stall the open), and
 *   is a regular file owned by the effective user or root;
 * - its mode has none of `forbidden`'s bits, and a bit forbidden for others is forbidden for
 *   the group too (a group holds other users): 0007 acts as MPC_FILE_SECRET, 0002 as
 *   MPC_FILE_CONFIG.
 * With forbidden == 0 this is mpc_file_read(): no checks. */
int mpc_file_read_checked(const char *path, size_t max, int secure, unsigned forbidden,
			  uint8_t **out, size_t *len, struct mpc_err *e);

/* The same checks without reading, for a file used by path after the check (a PKCS#11 module
 * to load: once it and its directories pass, only this user or root can change them), except
 * that a symbolic link is followed (libraries are installed as links): the directories holding
 * the name as given are checked, then the resolved file and its directories. */
int mpc_file_check(const char *path, unsigned forbidden, struct mpc_err *e);

/* MPC_OK if the open file or directory `fd` (named `path` in messages) is owned by the
 * effective user or root and has none of `forbidden` (widened as above) in its mode, else
 * MPC_ERR_STATE naming the path, the owner or the mode, and the fix; MPC_ERR_IO if fstat fails. */
int mpc_fd_check_owner(int fd, const char *path, unsigned forbidden, struct mpc_err *e);

/* Check the directories from / down to `dir` by the first rule above, and `dir` itself also by
 * `forbidden` (widened as above, no sticky exception; 0: the first rule only). On success *fd
 * (if not NULL) gets an O_PATH descriptor of `dir` (usable with fstat and as openat's dirfd;
 * close it). MPC_ERR_NOT_FOUND if a component is missing, MPC_ERR_STATE if one is not
 * trusted, MPC_ERR_IO otherwise. */
int mpc_dir_open_checked(const char *dir, unsigned forbidden, int *fd, struct mpc_err *e);

int mpc_fd_read_all(int fd, size_t max, int secure, const char *what, uint8_t **out, size_t *len,
		    struct mpc_err *e);

int mpc_file_write_atomic(const char *path, const uint8_t *data, size_t len, unsigned mode,
			  int no_replace, struct mpc_err *e);

/* fsync a directory (after a rename or unlink inside it). */
int mpc_dir_sync(const char *dir, struct mpc_err *e);

#endif
