/* module.h: the process's loaded PKCS#11 modules.
 *
 * Modules are loaded through p11-kit by file path (module-path=) or by registered module name
 * (module-name=); with neither, the modules p11-kit has registered are searched. Each module is
 * loaded and C_Initialize()d once per context with CKF_OS_LOCKING_OK, and finalised by
 * mpc_p11_ctx_free(). The CLI and the monitor make one context at the process entry point and
 * pass it down.
 */
#ifndef MPC_PKCS11_MODULE_H
#define MPC_PKCS11_MODULE_H

#include <p11-kit/pkcs11.h>

#include "src/util/err.h"

struct mpc_p11_module {
	char *path;            /* owned: the file loaded */
	char *name;            /* owned: p11-kit registered name, or NULL */
	CK_FUNCTION_LIST *fn;  /* p11-kit owns the function list */
};

#define MPC_P11_MAX_MODULES 16

struct mpc_p11_ctx {
	struct mpc_p11_module mod[MPC_P11_MAX_MODULES];
	int n;
};

int mpc_p11_ctx_new(struct mpc_p11_ctx **out, struct mpc_err *e);
/* C_Finalize and unload every module. Accepts NULL. */
void mpc_p11_ctx_free(struct mpc_p11_ctx *ctx);

/* Load (once) the module at `path`. *out is borrowed from ctx. */
int mpc_p11_load_path(struct mpc_p11_ctx *ctx, const char *path, struct mpc_p11_module **out,
		      struct mpc_err *e);
/* Load (once) the module p11-kit registered as `name`. */
int mpc_p11_load_name(struct mpc_p11_ctx *ctx, const char *name, struct mpc_p11_module **out,
		      struct mpc_err *e);
/* Load every module p11-kit has registered (for URIs that name no module). Returns how many
 * are loaded in ctx in *n. Modules that fail to load are skipped. */
int mpc_p11_load_registered(struct mpc_p11_ctx *ctx, int *n, struct mpc_err *e);

#endif
