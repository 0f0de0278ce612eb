/* module.h: the process's loaded PKCS#11 modules.
 *
 * Modules are loaded through p11-kit by file path (module-path=) or by registered module name
 * (module-name=); with neither, the modules p11-kit has registered are searched. Each module is
 * loaded and C_Initialize()d once per context with CKF_OS_LOCKING_OK, and finalised by
 * mpc_p11_ctx_free(). The CLI and the monitor make one context at the process entry point and
 * pass it down. The context is opaque: only the token layer looks inside.
 */
#ifndef MPC_PKCS11_MODULE_H
#define MPC_PKCS11_MODULE_H

#include "src/util/err.h"

struct mpc_p11_ctx;

/* An empty context; *out owned by the caller (free with mpc_p11_ctx_free). MPC_ERR_NOMEM. */
int mpc_p11_ctx_new(struct mpc_p11_ctx **out, struct mpc_err *e);
/* C_Finalize and unload every module. Accepts NULL. */
void mpc_p11_ctx_free(struct mpc_p11_ctx *ctx);

#endif
