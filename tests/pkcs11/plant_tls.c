/* plant_tls.c: what anyone with access to a token can do without its PIN: from a read-write
 * session that never called C_Login, create a public token object of class CKO_PUBLIC_KEY
 * labelled like mpc-backup's TLS key, holding a fresh Ed25519 public key whose private half
 * only this program ever had. For the tests of `register` (test_cli_token.c).
 *
 * usage: plant_tls MODULE TOKEN-LABEL ID-BYTE   (the module path; CKA_ID one byte, hex)
 * Exits 0 when the object was created, 1 with the CKR otherwise. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>

static int fail(const char *what, CK_RV rv)
{
	fprintf(stderr, "plant_tls: %s failed: 0x%lx\n", what, (unsigned long)rv);
	return 1;
}

int main(int argc, char **argv)
{
	CK_RV (*get)(CK_FUNCTION_LIST_PTR_PTR);
	CK_FUNCTION_LIST *f = NULL;
	CK_SLOT_ID slots[32];
	CK_ULONG n = 32;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE o;
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	CK_KEY_TYPE kt = CKK_EC_EDWARDS;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_BYTE id, params[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 }, point[34] = { 0x04, 0x20 };
	const char *label = "mpc-backup-tls";
	CK_ATTRIBUTE a[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &no, sizeof(no) },
		{ CKA_VERIFY, &yes, sizeof(yes) },
		{ CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_ID, &id, sizeof(id) },
		{ CKA_EC_PARAMS, params, sizeof(params) },
		{ CKA_EC_POINT, point, sizeof(point) },
	};
	EVP_PKEY *k = NULL;
	size_t len = 32;
	void *h;
	CK_RV rv;
	int found = 0;

	if (argc != 4)
		return fprintf(stderr, "usage: plant_tls MODULE TOKEN-LABEL ID-BYTE\n"), 2;
	id = (CK_BYTE)strtoul(argv[3], NULL, 16);
	k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (k == NULL || EVP_PKEY_get_raw_public_key(k, point + 2, &len) != 1 || len != 32)
		return fprintf(stderr, "plant_tls: no Ed25519 key\n"), 1;
	EVP_PKEY_free(k);
	h = dlopen(argv[1], RTLD_NOW);
	if (h == NULL)
		return fprintf(stderr, "plant_tls: %s\n", dlerror()), 1;
	*(void **)&get = dlsym(h, "C_GetFunctionList");
	if (get == NULL || get(&f) != CKR_OK)
		return fprintf(stderr, "plant_tls: no C_GetFunctionList\n"), 1;
	rv = f->C_Initialize(NULL);
	if (rv != CKR_OK)
		return fail("C_Initialize", rv);
	rv = f->C_GetSlotList(CK_TRUE, slots, &n);
	if (rv != CKR_OK)
		return fail("C_GetSlotList", rv);
	for (CK_ULONG i = 0; i < n && !found; i++) {
		CK_TOKEN_INFO ti;
		char l[33];
		size_t m = 32;

		if (f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		memcpy(l, ti.label, 32);
		while (m > 0 && (l[m - 1] == ' ' || l[m - 1] == '\0'))
			m--;
		l[m] = '\0';
		if (strcmp(l, argv[2]) != 0)
			continue;
		found = 1;
		/* no C_Login, ever */
		rv = f->C_OpenSession(slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
				      &s);
		if (rv != CKR_OK)
			return fail("C_OpenSession", rv);
		rv = f->C_CreateObject(s, a, sizeof(a) / sizeof(a[0]), &o);
		(void)f->C_CloseSession(s);
		if (rv != CKR_OK)
			return fail("C_CreateObject", rv);
	}
	(void)f->C_Finalize(NULL);
	if (!found)
		return fprintf(stderr, "plant_tls: no token \"%s\"\n", argv[2]), 1;
	return 0;
}
