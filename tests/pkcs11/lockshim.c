/* lockshim.c: a test-only PKCS#11 module that wraps a real one (SoftHSM2) and reports token
 * PIN states SoftHSM2 cannot reach (it has no PIN lockout): the flags in $LOCKSHIM_FLAGS
 * (decimal) are ORed into C_GetTokenInfo's flags, and C_Login answers CKR_PIN_LOCKED when
 * CKF_USER_PIN_LOCKED is among them. With $LOCKSHIM_DECRYPT_RV (decimal CK_RV) set, C_Decrypt
 * runs in the real module (so its operation ends) and then answers that value: a token that
 * fails while opening a blob. $LOCKSHIM_LIBRARY, when set, is the libraryDescription C_GetInfo
 * reports (read at each call: a test changes it to make the module another library).
 * $LOCKSHIM_REAL names the real module. Everything else passes straight through. */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

static CK_FUNCTION_LIST shim;
static CK_FUNCTION_LIST *real;

static CK_FLAGS extra_flags(void)
{
	const char *f = getenv("LOCKSHIM_FLAGS");

	return f != NULL ? strtoul(f, NULL, 10) : 0;
}

static CK_RV shim_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
	CK_RV rv = real->C_GetTokenInfo(slot, info);

	if (rv == CKR_OK)
		info->flags |= extra_flags();
	return rv;
}

static CK_RV shim_GetInfo(CK_INFO_PTR info)
{
	const char *lib = getenv("LOCKSHIM_LIBRARY");
	CK_RV rv = real->C_GetInfo(info);

	if (rv == CKR_OK && lib != NULL) {
		size_t n = strlen(lib);

		memset(info->libraryDescription, ' ', sizeof(info->libraryDescription));
		memcpy(info->libraryDescription, lib,
		       n < sizeof(info->libraryDescription) ? n : sizeof(info->libraryDescription));
	}
	return rv;
}

static CK_RV shim_Login(CK_SESSION_HANDLE s, CK_USER_TYPE u, CK_UTF8CHAR_PTR pin, CK_ULONG n)
{
	if (extra_flags() & CKF_USER_PIN_LOCKED)
		return CKR_PIN_LOCKED;
	return real->C_Login(s, u, pin, n);
}

static CK_RV shim_Decrypt(CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG n, CK_BYTE_PTR out,
			  CK_ULONG_PTR out_len)
{
	const char *f = getenv("LOCKSHIM_DECRYPT_RV");
	CK_RV rv = real->C_Decrypt(s, in, n, out, out_len);

	if (f == NULL || (out == NULL && rv == CKR_OK))
		return rv; /* a length query keeps its operation going */
	if (out != NULL && out_len != NULL)
		memset(out, 0, *out_len);
	return strtoul(f, NULL, 10);
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out);
CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out)
{
	if (real == NULL) {
		const char *path = getenv("LOCKSHIM_REAL");
		void *h = path != NULL ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
		CK_C_GetFunctionList get;

		if (h == NULL)
			return CKR_GENERAL_ERROR;
		*(void **)&get = dlsym(h, "C_GetFunctionList");
		if (get == NULL || get(&real) != CKR_OK)
			return CKR_GENERAL_ERROR;
		shim = *real;
		shim.C_GetTokenInfo = shim_GetTokenInfo;
		shim.C_Login = shim_Login;
		shim.C_GetInfo = shim_GetInfo;
		shim.C_Decrypt = shim_Decrypt;
	}
	*out = &shim;
	return CKR_OK;
}
