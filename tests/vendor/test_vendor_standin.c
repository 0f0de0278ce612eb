/* test_vendor_standin.c: the vendor stand-in refuses what the vendor refuses (so it is not a
 * pass-through), and mpc-backup's sealing layer meets each vendor's rules through it.
 * Run as `test_vendor_standin PROFILE` (yubihsm2, cloudhsm, kmsp11): a module is loaded once
 * per process, so each profile is its own ctest entry. */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <p11-kit/pkcs11.h>

#include "pkcs11/keys.h"
#include "pkcs11/module.h"
#include "pkcs11/seal.h"
#include "pkcs11/token.h"
#include "pkcs11/vendor.h"
#include "src/util/mem.h"
#include "tests/support/softhsm.h"

#define CKA_KMS_ALGORITHM (0x80000000UL | 0x1E100UL | 0x01UL)
#define CKM_CLOUDKMS_AES_GCM (0x80000000UL | 0x1E100UL | 0x01UL)
#define KMS_AES_256_CBC 43UL
#define KMS_AES_256_GCM 19UL
#define KMS_HMAC_SHA256 32UL

static const char *g_profile;

struct fx {
	struct th_softhsm hsm;
	char vendor_uri[1024];
	void *dl;
	CK_FUNCTION_LIST *fn;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE s;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char uri[512];
	CK_C_GetFunctionList gfl;
	CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };
	CK_SLOT_ID slots[4];
	CK_ULONG n = 4;

	assert_non_null(f);
	assert_int_equal(th_softhsm_setup(&f->hsm, "mpc-backup", NULL), 0);
	assert_int_equal(th_softhsm_add_token(&f->hsm, "vendor", uri), 0);
	setenv("MPC_STANDIN_MODULE", f->hsm.module, 1);
	setenv("MPC_STANDIN_PROFILE", g_profile, 1);
	setenv("MPC_STANDIN_TOKEN", "vendor", 1);
	snprintf(f->vendor_uri, sizeof(f->vendor_uri), "pkcs11:token=%s?module-path=%s",
		 strcmp(g_profile, "yubihsm2") == 0 ? "YubiHSM" : "vendor", getenv("MPC_STANDIN"));
	f->dl = dlopen(getenv("MPC_STANDIN"), RTLD_NOW | RTLD_LOCAL);
	assert_non_null(f->dl);
	gfl = (CK_C_GetFunctionList)dlsym(f->dl, "C_GetFunctionList");
	assert_non_null(gfl);
	assert_int_equal(gfl(&f->fn), CKR_OK);
	assert_int_equal(f->fn->C_Initialize(&args), CKR_OK);
	assert_int_equal(f->fn->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	assert_int_equal(n, 1); /* only the vendor token: the other one is hidden */
	f->slot = slots[0];
	assert_int_equal(f->fn->C_OpenSession(f->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
					      NULL, &f->s),
			 CKR_OK);
	assert_int_equal(f->fn->C_Login(f->s, CKU_USER, (CK_UTF8CHAR *)TH_USER_PIN,
					strlen(TH_USER_PIN)),
			 CKR_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	(void)f->fn->C_CloseAllSessions(f->slot);
	(void)f->fn->C_Finalize(NULL);
	dlclose(f->dl);
	th_softhsm_teardown(&f->hsm);
	free(f);
	return 0;
}

static int listed(struct fx *f, CK_MECHANISM_TYPE m)
{
	CK_MECHANISM_TYPE all[256];
	CK_ULONG n = 256;

	assert_int_equal(f->fn->C_GetMechanismList(f->slot, all, &n), CKR_OK);
	for (CK_ULONG i = 0; i < n; i++)
		if (all[i] == m)
			return 1;
	return 0;
}

static CK_RV gen_secret(struct fx *f, CK_MECHANISM_TYPE mech, CK_KEY_TYPE type, int with_len,
			int mac, const char *label, CK_OBJECT_HANDLE *h)
{
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ULONG len = 32;
	CK_MECHANISM m = { mech, NULL, 0 };
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_KEY_TYPE, &type, sizeof(type) },
		{ CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &no, sizeof(no) },
		{ CKA_ENCRYPT, mac ? &no : &yes, sizeof(yes) },
		{ CKA_DECRYPT, mac ? &no : &yes, sizeof(yes) },
		{ CKA_SIGN, mac ? &yes : &no, sizeof(yes) },
		{ CKA_VERIFY, mac ? &yes : &no, sizeof(yes) },
		{ CKA_VALUE_LEN, &len, sizeof(len) },
	};

	return f->fn->C_GenerateKey(f->s, &m, t, with_len ? 12 : 11, h);
}

static CK_RV gen_ed25519(struct fx *f)
{
	static const CK_BYTE params[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
	CK_MECHANISM m = { CKM_EC_EDWARDS_KEY_PAIR_GEN, NULL, 0 };
	CK_ATTRIBUTE pub[] = { { CKA_EC_PARAMS, (void *)params, sizeof(params) } };
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE priv[] = { { CKA_SIGN, &yes, sizeof(yes) } };
	CK_OBJECT_HANDLE a, b;

	return f->fn->C_GenerateKeyPair(f->s, &m, pub, 1, priv, 1, &a, &b);
}

static CK_RV gcm_encrypt(struct fx *f, CK_MECHANISM_TYPE mech, CK_OBJECT_HANDLE k, uint8_t *iv,
			 const uint8_t *pt, size_t n, uint8_t *out, CK_ULONG *out_len)
{
	CK_GCM_PARAMS p = { iv, 12, 96, NULL, 0, 128 };
	CK_MECHANISM m = { mech, &p, sizeof(p) };
	CK_RV rv = f->fn->C_EncryptInit(f->s, &m, k);

	if (rv != CKR_OK)
		return rv;
	return f->fn->C_Encrypt(f->s, (CK_BYTE_PTR)pt, n, out, out_len);
}

static void expect_token_strings(struct fx *f, const char *manuf, const char *model)
{
	CK_TOKEN_INFO ti;

	assert_int_equal(f->fn->C_GetTokenInfo(f->slot, &ti), CKR_OK);
	assert_memory_equal(ti.manufacturerID, manuf, strlen(manuf));
	assert_memory_equal(ti.model, model, strlen(model));
}

/* YubiHSM 2: no GCM; HMAC keys only as CKK_SHA256_HMAC (and friends) without CKA_VALUE_LEN;
 * Ed25519 offered; 16 sessions. */
static void test_yubihsm2_rules(void **state)
{
	struct fx *f = *state;
	CK_OBJECT_HANDLE h;
	CK_SESSION_HANDLE more[20];
	int opened = 0;
	CK_RV rv = CKR_OK;

	expect_token_strings(f, "Yubico (www.yubico.com)", "YubiHSM");
	assert_false(listed(f, CKM_AES_GCM));
	assert_true(listed(f, CKM_AES_CBC_PAD));
	assert_true(listed(f, CKM_SHA256_HMAC));
	assert_true(listed(f, CKM_EDDSA));
	assert_int_equal(gen_secret(f, CKM_AES_KEY_GEN, CKK_AES, 1, 0, "aes", &h), CKR_OK);
	{
		uint8_t iv[12] = { 0 }, out[64];
		CK_ULONG ol = sizeof(out);

		assert_int_equal(gcm_encrypt(f, CKM_AES_GCM, h, iv, (const uint8_t *)"x", 1, out, &ol),
				 CKR_MECHANISM_INVALID);
	}
	/* what `token init` asked for before the fix: refused as the real module does */
	assert_int_equal(gen_secret(f, CKM_GENERIC_SECRET_KEY_GEN, CKK_GENERIC_SECRET, 1, 1, "g", &h),
			 CKR_ATTRIBUTE_VALUE_INVALID);
	assert_int_equal(gen_secret(f, CKM_GENERIC_SECRET_KEY_GEN, CKK_SHA256_HMAC, 1, 1, "g", &h),
			 CKR_ATTRIBUTE_TYPE_INVALID);
	assert_int_equal(gen_secret(f, CKM_GENERIC_SECRET_KEY_GEN, CKK_SHA256_HMAC, 0, 1, "g", &h),
			 CKR_OK);
	{ /* yubihsm2.hmac-limit: one device message (3134 bytes), a 4096-byte module buffer */
		static uint8_t data[5000];
		uint8_t mac[32];
		CK_ULONG ml = sizeof(mac);
		CK_MECHANISM hm = { CKM_SHA256_HMAC, NULL, 0 };

		assert_int_equal(f->fn->C_SignInit(f->s, &hm, h), CKR_OK);
		assert_int_equal(f->fn->C_Sign(f->s, data, 3134, mac, &ml), CKR_OK);
		assert_int_equal(f->fn->C_VerifyInit(f->s, &hm, h), CKR_OK);
		assert_int_equal(f->fn->C_Verify(f->s, data, 3102, mac, 32), CKR_SIGNATURE_INVALID);
		assert_int_equal(f->fn->C_SignInit(f->s, &hm, h), CKR_OK);
		ml = sizeof(mac);
		assert_int_equal(f->fn->C_Sign(f->s, data, 3135, mac, &ml), CKR_ARGUMENTS_BAD);
		assert_int_equal(f->fn->C_VerifyInit(f->s, &hm, h), CKR_OK);
		assert_int_equal(f->fn->C_Verify(f->s, data, 3103, mac, 32), CKR_ARGUMENTS_BAD);
		assert_int_equal(f->fn->C_SignInit(f->s, &hm, h), CKR_OK);
		assert_int_equal(f->fn->C_SignUpdate(f->s, data, 4000), CKR_OK);
		assert_int_equal(f->fn->C_SignUpdate(f->s, data, 97), CKR_DATA_LEN_RANGE);
		/* the refused operation is over: the session takes a new one */
		assert_int_equal(f->fn->C_SignInit(f->s, &hm, h), CKR_OK);
		ml = sizeof(mac);
		assert_int_equal(f->fn->C_Sign(f->s, data, 16, mac, &ml), CKR_OK);
	}
	assert_int_equal(gen_ed25519(f), CKR_OK);
	/* one session is open (the fixture's): 15 more, then the 17th is refused */
	for (int i = 0; i < 20; i++) {
		rv = f->fn->C_OpenSession(f->slot, CKF_SERIAL_SESSION, NULL, NULL, &more[i]);
		if (rv != CKR_OK)
			break;
		opened++;
	}
	assert_int_equal(rv, CKR_SESSION_COUNT);
	assert_int_equal(opened, 15);
	for (int i = 0; i < opened; i++)
		assert_int_equal(f->fn->C_CloseSession(more[i]), CKR_OK);
	assert_int_equal(f->fn->C_OpenSession(f->slot, CKF_SERIAL_SESSION, NULL, NULL, &more[0]),
			 CKR_OK);
	assert_int_equal(f->fn->C_CloseSession(more[0]), CKR_OK);
}

/* CloudHSM (hsm1): no Ed25519; GCM IV written by the token; 16 KB single-part GCM limit. */
static void test_cloudhsm_rules(void **state)
{
	struct fx *f = *state;
	CK_OBJECT_HANDLE h;
	uint8_t iv[12] = { 0 }, zero[12] = { 0 };
	static uint8_t big[16385], out[16385 + 16];
	CK_ULONG ol = sizeof(out);

	expect_token_strings(f, "Amazon Web Services", "CloudHSM");
	assert_true(listed(f, CKM_AES_GCM));
	assert_false(listed(f, CKM_EDDSA));
	assert_false(listed(f, CKM_EC_EDWARDS_KEY_PAIR_GEN));
	assert_int_equal(gen_ed25519(f), CKR_MECHANISM_INVALID);
	assert_int_equal(gen_secret(f, CKM_AES_KEY_GEN, CKK_AES, 1, 0, "aes", &h), CKR_OK);
	assert_int_equal(gcm_encrypt(f, CKM_AES_GCM, h, iv, big, 16384, out, &ol), CKR_OK);
	assert_int_equal(ol, 16384 + 16);
	assert_memory_not_equal(iv, zero, 12); /* the token wrote its IV */
	ol = sizeof(out);
	assert_int_equal(gcm_encrypt(f, CKM_AES_GCM, h, iv, big, 16385, out, &ol),
			 CKR_DATA_LEN_RANGE);
	/* the refused operation is over: the session takes a new one */
	ol = sizeof(out);
	assert_int_equal(gcm_encrypt(f, CKM_AES_GCM, h, iv, big, 16, out, &ol), CKR_OK);
	{
		CK_GCM_PARAMS p = { NULL, 0, 0, NULL, 0, 128 };
		CK_MECHANISM m = { CKM_AES_GCM, &p, sizeof(p) };

		assert_int_equal(f->fn->C_EncryptInit(f->s, &m, h), CKR_MECHANISM_PARAM_INVALID);
	}
}

/* kmsp11: no Ed25519; GCM only as CKM_CLOUDKMS_AES_GCM; C_GenerateKey takes CKA_LABEL and
 * CKA_KMS_ALGORITHM and nothing else; no C_CreateObject. */
static void test_kmsp11_rules(void **state)
{
	struct fx *f = *state;
	CK_OBJECT_HANDLE h;
	CK_ULONG alg = KMS_AES_256_GCM;
	const char *label = "seal-gcm";
	CK_ATTRIBUTE t[] = { { CKA_LABEL, (void *)label, strlen(label) },
			     { CKA_KMS_ALGORITHM, &alg, sizeof(alg) } };
	CK_MECHANISM m = { CKM_AES_KEY_GEN, NULL, 0 };
	uint8_t iv[12] = { 0 }, zero[12] = { 0 }, out[64];
	CK_ULONG ol = sizeof(out);

	expect_token_strings(f, "Google", "Cloud KMS Token");
	assert_false(listed(f, CKM_AES_GCM));
	assert_true(listed(f, CKM_CLOUDKMS_AES_GCM));
	assert_true(listed(f, CKM_AES_CBC_PAD));
	assert_true(listed(f, CKM_SHA256_HMAC));
	assert_false(listed(f, CKM_EDDSA));
	assert_int_equal(gen_ed25519(f), CKR_MECHANISM_INVALID);
	/* mpc-backup's template (CKA_CLASS, ...): refused */
	assert_int_equal(gen_secret(f, CKM_AES_KEY_GEN, CKK_AES, 1, 0, "aes", &h),
			 CKR_TEMPLATE_INCONSISTENT);
	assert_int_equal(f->fn->C_GenerateKey(f->s, &m, t, 1, &h), CKR_TEMPLATE_INCOMPLETE);
	assert_int_equal(f->fn->C_GenerateKey(f->s, &m, t, 2, &h), CKR_OK);
	assert_int_equal(gcm_encrypt(f, CKM_AES_GCM, h, iv, (const uint8_t *)"x", 1, out, &ol),
			 CKR_MECHANISM_INVALID);
	ol = sizeof(out);
	assert_int_equal(gcm_encrypt(f, CKM_CLOUDKMS_AES_GCM, h, iv, (const uint8_t *)"x", 1, out, &ol),
			 CKR_OK);
	assert_memory_not_equal(iv, zero, 12);
	{
		uint8_t rnd[2048];

		assert_int_equal(f->fn->C_GenerateRandom(f->s, rnd, 1024), CKR_OK);
		assert_int_equal(f->fn->C_GenerateRandom(f->s, rnd, 2048), CKR_ARGUMENTS_BAD);
	}
	{
		CK_OBJECT_CLASS cls = CKO_DATA;
		CK_ATTRIBUTE d[] = { { CKA_CLASS, &cls, sizeof(cls) } };

		assert_int_equal(f->fn->C_CreateObject(f->s, d, 1, &h), CKR_FUNCTION_NOT_SUPPORTED);
	}
}

/* The objects labelled `label` in the vendor token: how many, and the first one's CKA_ID. */
static CK_ULONG objects_labelled(struct fx *f, const char *label, CK_OBJECT_HANDLE *first,
				 char *id, size_t id_cap)
{
	CK_ATTRIBUTE t = { CKA_LABEL, (void *)label, strlen(label) };
	CK_OBJECT_HANDLE found[4];
	CK_ULONG n = 0;

	assert_int_equal(f->fn->C_FindObjectsInit(f->s, &t, 1), CKR_OK);
	assert_int_equal(f->fn->C_FindObjects(f->s, found, 4, &n), CKR_OK);
	assert_int_equal(f->fn->C_FindObjectsFinal(f->s), CKR_OK);
	if (n > 0 && first != NULL)
		*first = found[0];
	if (n > 0 && id != NULL) {
		CK_ATTRIBUTE a = { CKA_ID, id, id_cap - 1 };

		assert_int_equal(f->fn->C_GetAttributeValue(f->s, found[0], &a, 1), CKR_OK);
		id[a.ulValueLen] = '\0';
	}
	return n;
}

/* Seal n bytes of pt with AUTO, check the blob's mechanism, open it again. */
static void roundtrip(struct mpc_token *t, const uint8_t *pt, size_t n, enum mpc_seal_mech want)
{
	struct mpc_err e = { 0 };
	uint8_t *blob = NULL, *back = NULL;
	size_t blen = 0, blen2 = 0;

	if (mpc_seal(t, MPC_SEAL_AUTO, (const uint8_t *)"aad", 3, pt, n, &blob, &blen, &e) != MPC_OK)
		fail_msg("seal %zu bytes: %s", n, e.msg);
	assert_int_equal(blob[5], want);
	if (mpc_unseal(t, (const uint8_t *)"aad", 3, blob, blen, &back, &blen2, &e) != MPC_OK)
		fail_msg("unseal %zu bytes: %s", n, e.msg);
	assert_int_equal(blen2, n);
	assert_memory_equal(back, pt, n);
	mpc_secure_free(back);
	free(blob);
}

/* cloudhsm.gcm-limit through the product: up to the limit GCM, over it CBC+HMAC, an explicit
 * GCM seal over it refused naming the limit; without CBC+HMAC keys a keyshare set over the
 * limit is refused by mpc_seal_pick_for (what `backup` asks before fetching). */
static void cloudhsm_limit(struct fx *f, struct mpc_token *t, const uint8_t *pt, size_t n)
{
	struct mpc_err e = { 0 };
	enum mpc_seal_mech mech;
	uint8_t *blob = NULL;
	size_t blen = 0;
	CK_OBJECT_HANDLE h;
	int rc;

	assert_int_equal(mpc_seal_max_single_part(t, MPC_SEAL_AES_GCM), 16384 - 16);
	assert_int_equal(mpc_seal_pick_for(t, MPC_SEAL_AUTO, 16368, &mech, &e), MPC_OK);
	assert_int_equal(mech, MPC_SEAL_AES_GCM);
	assert_int_equal(mpc_seal_pick_for(t, MPC_SEAL_AUTO, 16369, &mech, &e), MPC_OK);
	assert_int_equal(mech, MPC_SEAL_AES_CBC_HMAC);
	roundtrip(t, pt, 16368, MPC_SEAL_AES_GCM);
	roundtrip(t, pt, n, MPC_SEAL_AES_CBC_HMAC);
	mpc_err_clear(&e);
	assert_int_equal(mpc_seal(t, MPC_SEAL_AES_GCM, (const uint8_t *)"aad", 3, pt, n, &blob, &blen,
				  &e),
			 MPC_ERR_TOO_LARGE);
	assert_null(blob);
	assert_non_null(strstr(e.msg, "16384"));
	/* an operator's override lifts the rule: the stand-in then refuses the call itself */
	assert_int_equal(mpc_token_set_profile(t, "generic", &e), MPC_OK);
	assert_int_equal(mpc_token_kind_of(t, NULL), MPC_TOKEN_KIND_GENERIC);
	assert_int_equal(mpc_seal_pick_for(t, MPC_SEAL_AUTO, n, &mech, &e), MPC_OK);
	assert_int_equal(mech, MPC_SEAL_AES_GCM);
	mpc_err_clear(&e);
	assert_int_not_equal(mpc_seal(t, MPC_SEAL_AUTO, (const uint8_t *)"aad", 3, pt, n, &blob,
				      &blen, &e),
			     MPC_OK);
	assert_non_null(strstr(e.msg, "CKR_DATA_LEN_RANGE"));
	assert_int_equal(mpc_token_set_profile(t, "auto", &e), MPC_OK);
	assert_int_equal(mpc_token_kind_of(t, NULL), MPC_TOKEN_KIND_CLOUDHSM);
	/* no CBC key: over the limit nothing can seal it in one part, refused naming the limit */
	assert_int_equal(objects_labelled(f, "mpc-backup-seal-cbc", &h, NULL, 0), 1);
	assert_int_equal(f->fn->C_DestroyObject(f->s, h), CKR_OK);
	assert_int_equal(mpc_token_set_profile(t, NULL, &e), MPC_OK); /* forget cached handles */
	mpc_err_clear(&e);
	rc = mpc_seal_pick_for(t, MPC_SEAL_AUTO, n, &mech, &e);
	if (rc != MPC_ERR_TOO_LARGE)
		fail_msg("pick without a CBC key: %d %s", rc, e.msg);
	assert_non_null(strstr(e.msg, "16384"));
	assert_non_null(strstr(e.msg, "no CBC+HMAC keys"));
	assert_int_equal(mpc_seal_pick_for(t, MPC_SEAL_AUTO, 15000, &mech, &e), MPC_OK);
	assert_int_equal(mech, MPC_SEAL_AES_GCM);
}

/* Seal n bytes of pt as `mech` (not AUTO), check the blob says so, open it again. */
static void roundtrip_as(struct mpc_token *t, enum mpc_seal_mech mech, const uint8_t *pt,
			 size_t n)
{
	struct mpc_err e = { 0 };
	uint8_t *blob = NULL, *back = NULL;
	size_t blen = 0, blen2 = 0;

	if (mpc_seal(t, mech, (const uint8_t *)"aad", 3, pt, n, &blob, &blen, &e) != MPC_OK)
		fail_msg("seal %zu bytes as %s: %s", n, mpc_seal_mech_name(mech), e.msg);
	assert_int_equal(blob[5], mech);
	if (mpc_unseal(t, (const uint8_t *)"aad", 3, blob, blen, &back, &blen2, &e) != MPC_OK)
		fail_msg("unseal %zu bytes: %s", n, e.msg);
	assert_int_equal(blen2, n);
	assert_memory_equal(back, pt, n);
	mpc_secure_free(back);
	free(blob);
}

/* yubihsm2.hmac-limit through the product: AUTO seals CBC+HMAC with the HMAC over a SHA-256
 * digest (32 bytes to the device whatever the size), so 15 KB and 20 KB seal and open. The
 * plain CBC+HMAC blob, whose MAC input (header, IV, aad length, aad, ciphertext) must fit in
 * 3102 bytes, is still refused over it naming the limit (3055 bytes of plaintext with 3 bytes
 * of aad is the most). Under the generic rules (plain CBC+HMAC) the stand-in refuses the
 * HMAC itself. */
static void yubihsm_limit(struct mpc_token *t, const uint8_t *pt, size_t n)
{
	struct mpc_err e = { 0 };
	enum mpc_seal_mech mech;
	uint8_t *blob = NULL;
	size_t blen = 0;

	assert_int_equal(mpc_seal_pick_for(t, MPC_SEAL_AUTO, n, &mech, &e), MPC_OK);
	assert_int_equal(mech, MPC_SEAL_AES_CBC_HMAC_DIGEST);
	roundtrip(t, pt, 15000, MPC_SEAL_AES_CBC_HMAC_DIGEST);
	roundtrip(t, pt, n, MPC_SEAL_AES_CBC_HMAC_DIGEST);
	roundtrip_as(t, MPC_SEAL_AES_CBC_HMAC, pt, 3055);
	assert_int_equal(mpc_seal(t, MPC_SEAL_AES_CBC_HMAC, (const uint8_t *)"aad", 3, pt, 3056,
				  &blob, &blen, &e),
			 MPC_ERR_TOO_LARGE);
	assert_null(blob);
	assert_non_null(strstr(e.msg, "3102"));
	mpc_err_clear(&e);
	assert_int_equal(mpc_seal_pick_for(t, MPC_SEAL_AES_CBC_HMAC, n, &mech, &e),
			 MPC_ERR_TOO_LARGE);
	assert_non_null(strstr(e.msg, "3102"));
	mpc_err_clear(&e);
	assert_int_equal(mpc_token_set_profile(t, "generic", &e), MPC_OK);
	assert_int_equal(mpc_seal_pick_for(t, MPC_SEAL_AUTO, n, &mech, &e), MPC_OK);
	assert_int_equal(mech, MPC_SEAL_AES_CBC_HMAC);
	assert_int_not_equal(mpc_seal(t, MPC_SEAL_AUTO, (const uint8_t *)"aad", 3, pt, n, &blob,
				      &blen, &e),
			     MPC_OK);
	assert_null(blob);
	assert_non_null(strstr(e.msg, "CKR_DATA_LEN_RANGE"));
	assert_int_equal(mpc_token_set_profile(t, "auto", &e), MPC_OK);
}

/* mpc-backup's sealing layer through the stand-in: the kind detected, the ceremony made the
 * vendor's way, sealing within the vendor's limits. */
static void test_product_seal(void **state)
{
	struct fx *f = *state;
	struct mpc_p11_ctx *ctx = NULL;
	struct mpc_token *t = NULL;
	struct mpc_err e = { 0 };
	struct mpc_ceremony_report rep;
	struct mpc_pin_opts pin = { 0 };
	static uint8_t pt[20000];
	enum mpc_seal_mech mech;
	int rc;

	setenv("MPC_BACKUP_PIN", TH_USER_PIN, 1);
	memset(pt, 0x5a, sizeof(pt));
	assert_int_equal(mpc_p11_ctx_new(&ctx, &e), MPC_OK);
	rc = mpc_token_open(ctx, f->vendor_uri, &pin, &t, &e);
	if (rc != MPC_OK)
		fail_msg("open %s: %s", f->vendor_uri, e.msg);
	assert_string_equal(mpc_token_kind_name(mpc_token_kind_of(t, NULL)), g_profile);
	if (strcmp(g_profile, "yubihsm2") == 0) {
		/* The table, not trial and error, makes the HMAC key: under the softhsm2 rules
		 * (PKCS#11's CKK_GENERIC_SECRET + CKA_VALUE_LEN) the device's refusal stands. */
		assert_int_equal(mpc_token_set_profile(t, "softhsm2", &e), MPC_OK);
		assert_int_not_equal(mpc_key_ceremony(t, MPC_CEREMONY_SEAL, &rep, &e), MPC_OK);
		assert_non_null(strstr(e.msg, "CKR_ATTRIBUTE_VALUE_INVALID"));
		assert_non_null(strstr(e.msg, "mpc-backup-seal-hmac"));
		mpc_err_clear(&e);
		/* a token of no known kind gets one retry the YubiHSM way: that works too */
		assert_int_equal(mpc_token_set_profile(t, "generic", &e), MPC_OK);
		rc = mpc_key_ceremony(t, MPC_CEREMONY_SEAL, &rep, &e);
		if (rc != MPC_OK)
			fail_msg("ceremony under the generic rules: %s", e.msg);
		assert_int_equal(rep.created[MPC_KEY_SEAL_HMAC], 1);
		assert_int_equal(mpc_token_set_profile(t, "nonsense", &e), MPC_ERR_USAGE);
		assert_non_null(strstr(e.msg, "yubihsm2"));
		mpc_err_clear(&e);
		assert_int_equal(mpc_token_set_profile(t, "auto", &e), MPC_OK);
	}
	rc = mpc_key_ceremony(t, MPC_CEREMONY_SEAL, &rep, &e);
	if (rc != MPC_OK)
		fail_msg("ceremony: %s", e.msg);
	assert_int_equal(mpc_key_ceremony(t, MPC_CEREMONY_SEAL, &rep, &e), MPC_OK);
	for (int i = 0; i < MPC_KEY_ROLE_COUNT; i++)
		assert_int_equal(rep.created[i], 0); /* idempotent: found again, none made */
	assert_int_equal(mpc_seal_pick(t, MPC_SEAL_AUTO, &mech, &e), MPC_OK);
	if (strcmp(g_profile, "cloudhsm") == 0) {
		assert_int_equal(mech, MPC_SEAL_AES_GCM);
		roundtrip(t, pt, 15000, MPC_SEAL_AES_GCM); /* a 64-domain keyset's size */
		cloudhsm_limit(f, t, pt, sizeof(pt));
		goto out;
	}
	assert_int_equal(mech, strcmp(g_profile, "yubihsm2") == 0 ? MPC_SEAL_AES_CBC_HMAC_DIGEST
								   : MPC_SEAL_AES_CBC_HMAC);
	assert_int_equal(rep.present[MPC_KEY_SEAL_GCM], 0);
	assert_int_equal(rep.present[MPC_KEY_SEAL_CBC], 1);
	assert_int_equal(rep.present[MPC_KEY_SEAL_HMAC], 1);
	if (strcmp(g_profile, "kmsp11") == 0) {
		/* kmsp11.object-id: the keys carry the key version's name as CKA_ID, and are
		 * found by label all the same */
		char id[256];

		assert_int_equal(objects_labelled(f, "mpc-backup-seal-cbc", NULL, id, sizeof(id)), 1);
		assert_non_null(strstr(id, "cryptoKeys/mpc-backup-seal-cbc/cryptoKeyVersions/"));
		assert_int_equal(objects_labelled(f, "mpc-backup-seal-hmac", NULL, id, sizeof(id)), 1);
		assert_non_null(strstr(id, "cryptoKeys/mpc-backup-seal-hmac/cryptoKeyVersions/"));
		/* kmsp11.no-create: the transport key cannot be imported, said before trying */
		{
			uint8_t k[32] = { 0 };

			mpc_err_clear(&e);
			assert_int_equal(mpc_key_import_transport(t, k, &e), MPC_ERR_UNSUPPORTED);
			assert_non_null(strstr(e.msg, "C_CreateObject"));
		}
	}
	if (strcmp(g_profile, "yubihsm2") == 0) {
		yubihsm_limit(t, pt, sizeof(pt));
		goto out;
	}
	roundtrip(t, pt, 15000, MPC_SEAL_AES_CBC_HMAC);
	roundtrip(t, pt, sizeof(pt), MPC_SEAL_AES_CBC_HMAC);
out:
	mpc_token_close(t);
	mpc_p11_ctx_free(ctx);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest yubi[] = {
		cmocka_unit_test_setup_teardown(test_yubihsm2_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_product_seal, setup, teardown),
	};
	const struct CMUnitTest cloud[] = {
		cmocka_unit_test_setup_teardown(test_cloudhsm_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_product_seal, setup, teardown),
	};
	const struct CMUnitTest kms[] = {
		cmocka_unit_test_setup_teardown(test_kmsp11_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_product_seal, setup, teardown),
	};

	g_profile = argc > 1 ? argv[1] : "";
	if (strcmp(g_profile, "yubihsm2") == 0)
		return cmocka_run_group_tests_name("standin yubihsm2", yubi, NULL, NULL);
	if (strcmp(g_profile, "cloudhsm") == 0)
		return cmocka_run_group_tests_name("standin cloudhsm", cloud, NULL, NULL);
	if (strcmp(g_profile, "kmsp11") == 0)
		return cmocka_run_group_tests_name("standin kmsp11", kms, NULL, NULL);
	fprintf(stderr, "usage: %s yubihsm2|cloudhsm|kmsp11\n", argv[0]);
	return 2;
}
