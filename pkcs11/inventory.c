/* inventory.c: listing slots and tokens with their capabilities. */
#include "pkcs11/inventory.h"

#include <stdlib.h>
#include <string.h>

#include "pkcs11/internal.h"

static int has(CK_FUNCTION_LIST *fn, CK_SLOT_ID s, CK_MECHANISM_TYPE m, CK_FLAGS f)
{
	return mpc_p11_slot_has_mechanism(fn, s, m, f);
}

static int report_module(struct mpc_p11_module *m, struct mpc_slot_report **arr, size_t *n,
			 struct mpc_err *e)
{
	CK_SLOT_ID slots[64];
	CK_ULONG ns = 64;
	CK_RV rv = m->fn->C_GetSlotList(CK_TRUE, slots, &ns);

	if (rv == CKR_BUFFER_TOO_SMALL)
		ns = 64; /* report the first 64 */
	else if (rv != CKR_OK)
		return mpc_fail_ck(e, rv, "C_GetSlotList", m->path);
	for (CK_ULONG i = 0; i < ns; i++) {
		CK_TOKEN_INFO ti;
		struct mpc_slot_report *r, *grown;

		if (m->fn->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		mpc_p11_blank_pad(ti.label, sizeof(ti.label));
		mpc_p11_blank_pad(ti.manufacturerID, sizeof(ti.manufacturerID));
		mpc_p11_blank_pad(ti.model, sizeof(ti.model));
		mpc_p11_blank_pad(ti.serialNumber, sizeof(ti.serialNumber));
		grown = realloc(*arr, (*n + 1) * sizeof(**arr));
		if (grown == NULL)
			return mpc_fail(e, MPC_ERR_NOMEM, "out of memory");
		*arr = grown;
		r = &grown[(*n)++];
		memset(r, 0, sizeof(*r));
		r->module = m->path;
		r->slot = slots[i];
		mpc_p11_trim(r->label, ti.label, 32);
		mpc_p11_trim(r->serial, ti.serialNumber, 16);
		mpc_p11_trim(r->manufacturer, ti.manufacturerID, 32);
		mpc_p11_trim(r->model, ti.model, 16);
		r->token_initialized = !!(ti.flags & CKF_TOKEN_INITIALIZED);
		r->login_required = !!(ti.flags & CKF_LOGIN_REQUIRED);
		r->user_pin_initialized = !!(ti.flags & CKF_USER_PIN_INITIALIZED);
		r->user_pin_locked = !!(ti.flags & CKF_USER_PIN_LOCKED);
		r->user_pin_final_try = !!(ti.flags & CKF_USER_PIN_FINAL_TRY);
		r->user_pin_count_low = !!(ti.flags & CKF_USER_PIN_COUNT_LOW);
		r->eddsa =
			has(m->fn, slots[i], CKM_EC_EDWARDS_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR) &&
			has(m->fn, slots[i], CKM_EDDSA, CKF_SIGN);
		r->aes_gcm = has(m->fn, slots[i], CKM_AES_GCM, CKF_ENCRYPT | CKF_DECRYPT);
		r->cbc_hmac = has(m->fn, slots[i], CKM_AES_CBC_PAD, CKF_ENCRYPT | CKF_DECRYPT) &&
			      has(m->fn, slots[i], CKM_SHA256_HMAC, CKF_SIGN | CKF_VERIFY);
	}
	return MPC_OK;
}

/* Each report's URI; slot-id only where another slot of the same module shows the same token
 * label, manufacturer, model and serial. */
static int report_uris(struct mpc_p11_ctx *ctx, struct mpc_slot_report *arr, size_t n,
		       struct mpc_err *e)
{
	for (size_t i = 0; i < n; i++) {
		struct mpc_p11_module *m = NULL;
		CK_TOKEN_INFO ti;
		char *uri = NULL;
		int with_slot = 0, rc;

		for (int k = 0; k < ctx->n && m == NULL; k++)
			if (ctx->mod[k].path == arr[i].module)
				m = &ctx->mod[k];
		for (size_t j = 0; j < n && !with_slot; j++)
			with_slot = j != i && arr[j].module == arr[i].module &&
				    strcmp(arr[j].label, arr[i].label) == 0 &&
				    strcmp(arr[j].serial, arr[i].serial) == 0 &&
				    strcmp(arr[j].manufacturer, arr[i].manufacturer) == 0 &&
				    strcmp(arr[j].model, arr[i].model) == 0;
		if (m == NULL)
			return mpc_fail(e, MPC_ERR_INTERNAL, "inventory: module not in context");
		memset(&ti, ' ', sizeof(ti));
		memcpy(ti.label, arr[i].label, strlen(arr[i].label));
		memcpy(ti.serialNumber, arr[i].serial, strlen(arr[i].serial));
		memcpy(ti.manufacturerID, arr[i].manufacturer, strlen(arr[i].manufacturer));
		memcpy(ti.model, arr[i].model, strlen(arr[i].model));
		rc = mpc_token_uri_format(&ti, arr[i].slot, with_slot, m, &uri, e);
		if (rc != MPC_OK)
			return rc;
		if (strlen(uri) >= sizeof(arr[i].uri)) {
			free(uri);
			return mpc_fail(e, MPC_ERR_TOO_LARGE,
					"the URI of the token in slot %lu of %s is longer than %zu "
					"characters",
					arr[i].slot, arr[i].module, sizeof(arr[i].uri) - 1);
		}
		memcpy(arr[i].uri, uri, strlen(uri) + 1);
		free(uri);
	}
	return MPC_OK;
}

int mpc_p11_inventory(struct mpc_p11_ctx *ctx, const char *uri, struct mpc_slot_report **out,
		      size_t *n, struct mpc_err *e)
{
	struct mpc_token_uri *u = NULL;
	struct mpc_slot_report *arr = NULL;
	size_t count = 0;
	int rc = MPC_OK, nmods = 0, first = 0;

	*out = NULL;
	*n = 0;
	if (uri != NULL) {
		rc = mpc_token_uri_parse(uri, &u, e);
		if (rc != MPC_OK)
			return rc;
	}
	rc = mpc_p11_modules_for_uri(ctx, u, &first, &nmods, e);
	if (rc != MPC_OK)
		goto out;
	for (int i = first; i < nmods; i++) {
		rc = report_module(&ctx->mod[i], &arr, &count, e);
		if (rc != MPC_OK)
			goto out;
	}
	rc = report_uris(ctx, arr, count, e);
	if (rc != MPC_OK)
		goto out;
	*out = arr;
	*n = count;
	arr = NULL;
out:
	free(arr);
	mpc_token_uri_free(u);
	return rc;
}

/* mpc-backup's mechanisms and the flags it needs of each, in the order they are reported. */
static const struct {
	CK_MECHANISM_TYPE mech;
	CK_FLAGS flags;
	const char *name;
} used_mechs[] = {
	{ CKM_AES_KEY_GEN, CKF_GENERATE, "CKM_AES_KEY_GEN" },
	{ CKM_GENERIC_SECRET_KEY_GEN, CKF_GENERATE, "CKM_GENERIC_SECRET_KEY_GEN" },
	{ CKM_AES_GCM, CKF_ENCRYPT | CKF_DECRYPT, "CKM_AES_GCM" },
	{ CKM_AES_CBC_PAD, CKF_ENCRYPT | CKF_DECRYPT, "CKM_AES_CBC_PAD" },
	{ CKM_SHA256_HMAC, CKF_SIGN | CKF_VERIFY, "CKM_SHA256_HMAC" },
	{ CKM_EC_EDWARDS_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR, "CKM_EC_EDWARDS_KEY_PAIR_GEN" },
	{ CKM_EDDSA, CKF_SIGN, "CKM_EDDSA" },
};

size_t mpc_token_mechanism_names(struct mpc_token *t, const char **names, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < sizeof(used_mechs) / sizeof(used_mechs[0]) && n < max; i++)
		if (mpc_token_has_mechanism(t, used_mechs[i].mech, used_mechs[i].flags))
			names[n++] = used_mechs[i].name;
	return n;
}
