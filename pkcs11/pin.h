/* pin.h: reading the user PIN from its source into locked memory.
 *
 * Sources, first match wins: the --pin-file path, the URI's pin-source file, the environment
 * variable (MPC_BACKUP_PIN unless another name is configured). A file's trailing newline is
 * dropped; a file over 256 bytes, an empty PIN, or a PIN with a NUL or control character is
 * refused. The PIN never appears in a message.
 */
#ifndef MPC_PKCS11_PIN_H
#define MPC_PKCS11_PIN_H

#include <stddef.h>

#include "src/util/err.h"

#define MPC_PIN_MAX 256

/* On success *pin is mpc_secure_alloc() memory holding *len bytes plus a NUL; the caller
 * frees it with mpc_secure_free() right after C_Login. `source` receives a static description
 * of where it came from ("--pin-file", "URI pin-source", "environment MPC_BACKUP_PIN"). */
int mpc_pin_read(const char *pin_file, const char *uri_pin_file, const char *env_name, char **pin,
		 size_t *len, const char **source, struct mpc_err *e);

#endif
