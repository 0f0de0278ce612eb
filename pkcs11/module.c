/* module.c: loading PKCS#11 modules through p11-kit, each initialised once per context. */
#include "pkcs11/module.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <p11-kit/p11-kit.h>

#include "pkcs11/internal.h"
#include "src/util/file.h"

int mpc_p11_ctx_new(struct mpc_p11_ctx **out, struct mpc_err *e)
{
	*out = calloc(1, sizeof(**out));
	if (*out == NULL)
		return mpc_fail(e, MPC_ERR_NOMEM, "out of memory");
	return MPC_OK;
}

void mpc_p11_ctx_free(struct mpc_p11_ctx *ctx)
{
	if (ctx == NULL)
		return;
	for (int i = 0; i < ctx->n; i++) {
		if (ctx->mod[i].fn != NULL) {
			(void)ctx->mod[i].fn->C_Finalize(NULL);
			p11_kit_module_release(ctx->mod[i].fn);
		}
		free(ctx->mod[i].path);
		free(ctx->mod[i].name);
		free(ctx->mod[i].reserved);
	}
	free(ctx);
}

/* reserved: the module's p11-kit x-init-reserved option (the initialisation string NSS's
 * softokn needs, e.g. "configdir='sql:DIR' ..."), or NULL. */
static CK_RV initialize(CK_FUNCTION_LIST *fn, const char *reserved)
{
	CK_C_INITIALIZE_ARGS args;
	CK_RV rv;

	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	args.pReserved = (void *)reserved;
	rv = fn->C_Initialize(&args);
	/* Someone else in this process (a library we link) may have initialised it already. */
	if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED)
		rv = CKR_OK;
	return rv;
}

/* Take ownership of a raw function list loaded from `path`, initialise and register it. */
static int adopt(struct mpc_p11_ctx *ctx, CK_FUNCTION_LIST *fn, const char *path, const char *name,
		 const char *reserved, struct mpc_p11_module **out, struct mpc_err *e)
{
	struct mpc_p11_module *m;
	CK_RV rv;

	for (int i = 0; i < ctx->n; i++) {
		if (ctx->mod[i].fn == fn || strcmp(ctx->mod[i].path, path) == 0) {
			if (ctx->mod[i].fn != fn)
				p11_kit_module_release(fn);
			*out = &ctx->mod[i];
			return MPC_OK;
		}
	}
	if (ctx->n == MPC_P11_MAX_MODULES) {
		p11_kit_module_release(fn);
		return mpc_fail(e, MPC_ERR_MODULE, "too many PKCS#11 modules (at most %d)",
				MPC_P11_MAX_MODULES);
	}
	rv = initialize(fn, reserved);
	if (rv != CKR_OK) {
		p11_kit_module_release(fn);
		mpc_fail_ck(e, rv, "C_Initialize", path);
		return mpc_fail(e, MPC_ERR_MODULE, "cannot initialise module %s", path);
	}
	m = &ctx->mod[ctx->n];
	m->path = strdup(path);
	m->name = name != NULL ? strdup(name) : NULL;
	m->reserved = reserved != NULL ? strdup(reserved) : NULL; /* for a re-initialisation */
	if (m->path == NULL || (name != NULL && m->name == NULL) ||
	    (reserved != NULL && m->reserved == NULL)) {
		free(m->path);
		free(m->name);
		free(m->reserved);
		(void)fn->C_Finalize(NULL);
		p11_kit_module_release(fn);
		memset(m, 0, sizeof(*m));
		return mpc_fail(e, MPC_ERR_NOMEM, "out of memory");
	}
	m->fn = fn;
	ctx->n++;
	*out = m;
	return MPC_OK;
}

/* A module runs as us: refuse one that another user could have written or replaced (the file,
 * or any directory above it, writable by group or others, or owned by another user). A name
 * without a directory is the file p11-kit loads from its module directory. */
static int check_module_file(const char *path, struct mpc_err *e)
{
	char full[4096];
	int rc;

	if (strchr(path, '/') == NULL) {
		int n = snprintf(full, sizeof(full), "%s/%s", MPC_P11_MODULE_PATH, path);

		if (n < 0 || (size_t)n >= sizeof(full))
			return mpc_fail(e, MPC_ERR_MODULE, "PKCS#11 module name too long");
		path = full;
	}
	if (access(path, F_OK) != 0)
		return mpc_fail(e, MPC_ERR_MODULE, "cannot load PKCS#11 module %s: %s", path,
				strerror(errno));
	rc = mpc_file_check(path, MPC_FILE_CONFIG, e);
	if (rc != MPC_OK) {
		mpc_err_prefix(e, "refusing to load PKCS#11 module: ");
		if (e != NULL)
			e->code = MPC_ERR_MODULE;
		return MPC_ERR_MODULE;
	}
	return MPC_OK;
}

static int load_path(struct mpc_p11_ctx *ctx, const char *path, const char *reserved,
		     struct mpc_p11_module **out, struct mpc_err *e)
{
	CK_FUNCTION_LIST *fn;
	int rc;

	*out = NULL;
	for (int i = 0; i < ctx->n; i++) {
		if (strcmp(ctx->mod[i].path, path) == 0) {
			*out = &ctx->mod[i];
			return MPC_OK;
		}
	}
	rc = check_module_file(path, e);
	if (rc != MPC_OK)
		return rc;
	fn = p11_kit_module_load(path, P11_KIT_MODULE_UNMANAGED | P11_KIT_MODULE_CRITICAL);
	if (fn == NULL)
		return mpc_fail(e, MPC_ERR_MODULE, "cannot load PKCS#11 module %s: %s", path,
				p11_kit_message() ? p11_kit_message()
						  : "not found or not a module");
	return adopt(ctx, fn, path, NULL, reserved, out, e);
}

int mpc_p11_load_path(struct mpc_p11_ctx *ctx, const char *path, struct mpc_p11_module **out,
		      struct mpc_err *e)
{
	return load_path(ctx, path, NULL, out, e);
}

int mpc_p11_load_name(struct mpc_p11_ctx *ctx, const char *name, struct mpc_p11_module **out,
		      struct mpc_err *e)
{
	CK_FUNCTION_LIST **all;
	char *path = NULL, *reserved = NULL;
	int rc;

	*out = NULL;
	for (int i = 0; i < ctx->n; i++) {
		if (ctx->mod[i].name != NULL && strcmp(ctx->mod[i].name, name) == 0) {
			*out = &ctx->mod[i];
			return MPC_OK;
		}
	}
	/* Ask p11-kit where the named module lives, then load that file ourselves, unmanaged. */
	all = p11_kit_modules_load(NULL, P11_KIT_MODULE_UNMANAGED);
	if (all != NULL) {
		CK_FUNCTION_LIST *m = p11_kit_module_for_name(all, name);

		if (m != NULL) {
			path = p11_kit_module_get_filename(m);
			reserved = p11_kit_config_option(m, "x-init-reserved");
		}
		p11_kit_modules_release(all);
	}
	if (path == NULL) {
		free(reserved);
		return mpc_fail(e, MPC_ERR_MODULE,
				"no PKCS#11 module registered with p11-kit as \"%s\" (see "
				"/usr/share/p11-kit/modules/)",
				name);
	}
	rc = load_path(ctx, path, reserved, out, e);
	if (rc == MPC_OK && *out != NULL && (*out)->name == NULL) {
		(*out)->name = strdup(name);
		if ((*out)->name == NULL)
			rc = mpc_fail(e, MPC_ERR_NOMEM, "out of memory");
	}
	free(path);
	free(reserved);
	return rc;
}

int mpc_p11_load_registered(struct mpc_p11_ctx *ctx, int *n, struct mpc_err *e)
{
	CK_FUNCTION_LIST **all;
	char *names[MPC_P11_MAX_MODULES] = { 0 };
	int count = 0;

	*n = 0;
	all = p11_kit_modules_load(NULL, P11_KIT_MODULE_UNMANAGED);
	if (all == NULL)
		return mpc_fail(e, MPC_ERR_MODULE, "p11-kit could not list the registered modules");
	for (int i = 0; all[i] != NULL && count < MPC_P11_MAX_MODULES; i++) {
		char *nm = p11_kit_module_get_name(all[i]);

		if (nm != NULL)
			names[count++] = nm;
	}
	p11_kit_modules_release(all);
	for (int i = 0; i < count; i++) {
		struct mpc_p11_module *m;
		struct mpc_err ignored = { 0 };

		/* A registered module that fails to load (e.g. a smart-card stack with no reader
		 * daemon) must not hide the others. */
		(void)mpc_p11_load_name(ctx, names[i], &m, &ignored);
		free(names[i]);
	}
	*n = ctx->n;
	return MPC_OK;
}

int mpc_p11_modules_for_uri(struct mpc_p11_ctx *ctx, const struct mpc_token_uri *u, int *first,
			    int *end, struct mpc_err *e)
{
	struct mpc_p11_module *m;
	int rc, n = 0;

	if (u != NULL && (u->module_path != NULL || u->module_name != NULL)) {
		rc = u->module_path != NULL ? mpc_p11_load_path(ctx, u->module_path, &m, e)
					    : mpc_p11_load_name(ctx, u->module_name, &m, e);
		if (rc != MPC_OK)
			return rc;
		*first = (int)(m - ctx->mod);
		*end = *first + 1;
		return MPC_OK;
	}
	rc = mpc_p11_load_registered(ctx, &n, e);
	if (rc != MPC_OK)
		return rc;
	*first = 0;
	*end = n;
	return MPC_OK;
}

void mpc_p11_trim(char *dst, const unsigned char *src, size_t n)
{
	memcpy(dst, src, n);
	dst[n] = '\0';
	while (n > 0 && dst[n - 1] == ' ')
		dst[--n] = '\0';
}

void mpc_p11_blank_pad(unsigned char *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (f[i] == '\0')
			f[i] = ' ';
}

int mpc_p11_module_reinit(struct mpc_p11_module *m, struct mpc_err *e)
{
	CK_RV rv;

	/* Its result is not a reason to stop: a module whose last C_Initialize failed answers
	 * CKR_CRYPTOKI_NOT_INITIALIZED, and one that lost its token may fail here too. What
	 * matters is the C_Initialize after it. */
	rv = m->fn->C_Finalize(NULL);
	(void)rv;
	m->generation++;
	rv = initialize(m->fn, m->reserved);
	m->down = rv != CKR_OK;
	if (rv != CKR_OK) {
		mpc_fail(e, MPC_ERR_TOKEN_UNAVAILABLE,
			 "module %s cannot be initialised again: C_Initialize failed: %s", m->path,
			 mpc_ckr_name(rv));
		if (e != NULL)
			e->ckr = rv;
		return MPC_ERR_TOKEN_UNAVAILABLE;
	}
	return MPC_OK;
}

int mpc_p11_slot_has_mechanism(CK_FUNCTION_LIST *fn, CK_SLOT_ID slot, CK_MECHANISM_TYPE mech,
			       CK_FLAGS flags)
{
	CK_MECHANISM_TYPE list[512];
	CK_ULONG n = 512;
	CK_MECHANISM_INFO mi;
	int listed = 0;
	CK_RV rv;

	/* The list is authoritative: SoftHSM2 answers C_GetMechanismInfo even for mechanisms
	 * its configuration (slots.mechanisms) disabled. */
	rv = fn->C_GetMechanismList(slot, list, &n);
	if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL)
		return 0;
	if (rv == CKR_BUFFER_TOO_SMALL)
		listed = 1; /* too many to list here: trust C_GetMechanismInfo */
	for (CK_ULONG i = 0; i < n && !listed; i++)
		listed = list[i] == mech;
	if (!listed || fn->C_GetMechanismInfo(slot, mech, &mi) != CKR_OK)
		return 0;
	return (mi.flags & flags) == flags;
}
