/* standin.c: a PKCS#11 module for tests that forwards to a real module (SoftHSM2) and enforces
 * one vendor's documented rules, so mpc-backup can be run against what a YubiHSM 2, an AWS
 * CloudHSM or Google's kmsp11 would accept and refuse. Every rule cites its source in
 * tests/vendor/RULES.md; the rule names below are the ones used there.
 *
 * Configuration (environment, read at C_GetFunctionList):
 *   MPC_STANDIN_MODULE   path of the real module (required)
 *   MPC_STANDIN_PROFILE  yubihsm2 | cloudhsm | kmsp11 (required)
 *   MPC_STANDIN_TOKEN    label of the one real token this module exposes (optional; others
 *                        are hidden, so a test can keep the TLS token in SoftHSM directly)
 *
 * A PKCS#11 module is a process-wide object by definition: its state (the loaded module, the
 * open-session table) lives in file-scope variables, guarded by one mutex. This is test code,
 * never linked into mpc-backup. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

/* Vendor-defined values, from the vendors' public headers (RULES.md). */
#define SI_CKA_KMS_ALGORITHM (0x80000000UL | 0x1E100UL | 0x01UL)
#define SI_CKA_KMS_PROTECTION_LEVEL (0x80000000UL | 0x1E100UL | 0x02UL)
#define SI_CKA_KMS_CRYPTO_KEY_BACKEND (0x80000000UL | 0x1E100UL | 0x03UL)
#define SI_CKM_CLOUDKMS_AES_GCM (0x80000000UL | 0x1E100UL | 0x01UL)
#define SI_KMS_AES_256_GCM 19UL
#define SI_KMS_AES_256_CBC 43UL
#define SI_KMS_HMAC_SHA256 32UL

#define SI_YUBIHSM_MAX_SESSIONS 16
#define SI_YUBIHSM_OP_BUFSIZE 4096 /* pkcs11/yubihsm_pkcs11.h YUBIHSM_PKCS11_OP_BUFSIZE */
#define SI_YUBIHSM_MSG_BUF 3136    /* lib/yubihsm.h YH_MSG_BUF_SIZE */
#define SI_CLOUDHSM_GCM_MAX 16384 /* "cannot exceed 16 KB" (CloudHSM known issues) */
#define SI_MAX_SESSIONS 64

enum profile { P_NONE, P_YUBIHSM2, P_CLOUDHSM, P_KMSP11 };

struct sess {
	CK_SESSION_HANDLE h;
	int used;
	CK_MECHANISM_TYPE enc, dec; /* mechanism of the active operation (as the caller named it) */
	int mac;                    /* 1: an HMAC sign or verify is active (yubihsm2.hmac-limit) */
	CK_ULONG mac_len;           /* bytes given to it so far */
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static enum profile g_profile;
static void *g_dl;
static CK_FUNCTION_LIST *g_real;
static CK_FUNCTION_LIST g_list;
static char g_token[33];
static int g_owns_init;
static struct sess g_sess[SI_MAX_SESSIONS];

/* Mechanisms each vendor's module lists (RULES.md, "Mechanisms"). Only those SoftHSM2 also
 * offers are shown, except SI_CKM_CLOUDKMS_AES_GCM which is served by SoftHSM's CKM_AES_GCM. */
static const CK_MECHANISM_TYPE yubihsm2_mechs[] = {
	CKM_AES_KEY_GEN, CKM_AES_ECB, CKM_AES_CBC, CKM_AES_CBC_PAD, CKM_GENERIC_SECRET_KEY_GEN,
	CKM_SHA_1_HMAC, CKM_SHA256_HMAC, CKM_SHA384_HMAC, CKM_SHA512_HMAC,
	CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA, CKM_EC_KEY_PAIR_GEN, CKM_ECDSA, CKM_ECDSA_SHA256,
	CKM_ECDSA_SHA384, CKM_ECDSA_SHA512, CKM_ECDH1_DERIVE, CKM_RSA_PKCS_KEY_PAIR_GEN, CKM_RSA_PKCS,
	CKM_RSA_PKCS_PSS, CKM_RSA_PKCS_OAEP, CKM_SHA256_RSA_PKCS, CKM_SHA_1, CKM_SHA256, CKM_SHA384,
	CKM_SHA512,
};
static const CK_MECHANISM_TYPE cloudhsm_mechs[] = {
	CKM_AES_KEY_GEN, CKM_AES_ECB, CKM_AES_CBC, CKM_AES_CBC_PAD, CKM_AES_CTR, CKM_AES_GCM,
	CKM_AES_KEY_WRAP, CKM_AES_KEY_WRAP_PAD, CKM_AES_CMAC, CKM_GENERIC_SECRET_KEY_GEN,
	CKM_SHA_1_HMAC, CKM_SHA224_HMAC, CKM_SHA256_HMAC, CKM_SHA384_HMAC, CKM_SHA512_HMAC,
	CKM_EC_KEY_PAIR_GEN, CKM_ECDSA, CKM_ECDSA_SHA1, CKM_ECDSA_SHA224, CKM_ECDSA_SHA256,
	CKM_ECDSA_SHA384, CKM_ECDSA_SHA512, CKM_RSA_PKCS_KEY_PAIR_GEN, CKM_RSA_X_509, CKM_RSA_PKCS,
	CKM_RSA_PKCS_PSS, CKM_RSA_PKCS_OAEP, CKM_SHA256_RSA_PKCS, CKM_SHA_1, CKM_SHA224, CKM_SHA256,
	CKM_SHA384, CKM_SHA512,
};
static const CK_MECHANISM_TYPE kmsp11_mechs[] = {
	CKM_ECDSA, CKM_ECDSA_SHA256, CKM_ECDSA_SHA384, CKM_EC_KEY_PAIR_GEN,
	CKM_RSA_PKCS_KEY_PAIR_GEN, CKM_RSA_PKCS, CKM_SHA256_RSA_PKCS, CKM_SHA512_RSA_PKCS,
	CKM_RSA_PKCS_OAEP, CKM_RSA_PKCS_PSS, CKM_SHA256_RSA_PKCS_PSS, CKM_SHA512_RSA_PKCS_PSS,
	CKM_GENERIC_SECRET_KEY_GEN, CKM_SHA_1_HMAC, CKM_SHA224_HMAC, CKM_SHA256_HMAC,
	CKM_SHA384_HMAC, CKM_SHA512_HMAC, CKM_AES_KEY_GEN, SI_CKM_CLOUDKMS_AES_GCM, CKM_AES_CTR,
	CKM_AES_CBC, CKM_AES_CBC_PAD,
};

static int allowed(CK_MECHANISM_TYPE m)
{
	const CK_MECHANISM_TYPE *l;
	size_t n;

	switch (g_profile) {
	case P_YUBIHSM2:
		l = yubihsm2_mechs;
		n = sizeof(yubihsm2_mechs) / sizeof(yubihsm2_mechs[0]);
		break;
	case P_CLOUDHSM:
		l = cloudhsm_mechs;
		n = sizeof(cloudhsm_mechs) / sizeof(cloudhsm_mechs[0]);
		break;
	case P_KMSP11:
		l = kmsp11_mechs;
		n = sizeof(kmsp11_mechs) / sizeof(kmsp11_mechs[0]);
		break;
	default:
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		if (l[i] == m)
			return 1;
	return 0;
}

/* The real mechanism that serves a listed one. */
static CK_MECHANISM_TYPE real_mech(CK_MECHANISM_TYPE m)
{
	return m == SI_CKM_CLOUDKMS_AES_GCM ? CKM_AES_GCM : m;
}

static void pad(CK_UTF8CHAR *dst, size_t cap, const char *s)
{
	size_t n = strlen(s);

	memset(dst, ' ', cap);
	memcpy(dst, s, n < cap ? n : cap);
}

/* ---- session table ---- */

static struct sess *sess_find(CK_SESSION_HANDLE h)
{
	for (int i = 0; i < SI_MAX_SESSIONS; i++)
		if (g_sess[i].used && g_sess[i].h == h)
			return &g_sess[i];
	return NULL;
}

static int sess_count(void)
{
	int n = 0;

	for (int i = 0; i < SI_MAX_SESSIONS; i++)
		n += g_sess[i].used;
	return n;
}

/* ---- general ---- */

static CK_RV si_Initialize(CK_VOID_PTR args)
{
	CK_RV rv = g_real->C_Initialize(args);

	/* The real module may be shared with the process (mpc-backup loads SoftHSM2 directly for
	 * the TLS token): then whoever initialised it finalises it. */
	if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED && !g_owns_init)
		return CKR_OK;
	if (rv == CKR_OK)
		g_owns_init = 1;
	return rv;
}

static CK_RV si_Finalize(CK_VOID_PTR r)
{
	CK_RV rv = CKR_OK;

	pthread_mutex_lock(&g_lock);
	memset(g_sess, 0, sizeof(g_sess));
	pthread_mutex_unlock(&g_lock);
	if (g_owns_init) {
		rv = g_real->C_Finalize(r);
		g_owns_init = 0;
	}
	return rv;
}

static CK_RV si_GetInfo(CK_INFO_PTR info)
{
	CK_RV rv = g_real->C_GetInfo(info);

	if (rv != CKR_OK)
		return rv;
	switch (g_profile) {
	case P_YUBIHSM2:
		pad(info->manufacturerID, sizeof(info->manufacturerID), "Yubico (www.yubico.com)");
		pad(info->libraryDescription, sizeof(info->libraryDescription),
		    "YubiHSM PKCS#11 Library");
		break;
	case P_CLOUDHSM:
		pad(info->manufacturerID, sizeof(info->manufacturerID), "Amazon Web Services");
		pad(info->libraryDescription, sizeof(info->libraryDescription),
		    "AWS CloudHSM PKCS#11 stand-in");
		break;
	case P_KMSP11:
		pad(info->manufacturerID, sizeof(info->manufacturerID), "Google");
		pad(info->libraryDescription, sizeof(info->libraryDescription),
		    "Cloud KMS PKCS#11 stand-in");
		break;
	default:
		break;
	}
	return CKR_OK;
}

/* 1 if the real slot holds the token this stand-in exposes. */
static int slot_exposed(CK_SLOT_ID s)
{
	CK_TOKEN_INFO ti;
	char label[33];
	size_t n;

	if (g_token[0] == '\0')
		return 1;
	if (g_real->C_GetTokenInfo(s, &ti) != CKR_OK)
		return 0;
	memcpy(label, ti.label, 32);
	n = 32;
	while (n > 0 && label[n - 1] == ' ')
		n--;
	label[n] = '\0';
	return strcmp(label, g_token) == 0;
}

static CK_RV si_GetSlotList(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
	CK_SLOT_ID all[64];
	CK_ULONG n = 64, k = 0;
	CK_RV rv = g_real->C_GetSlotList(CK_TRUE, all, &n);

	(void)present;
	if (rv != CKR_OK)
		return rv;
	for (CK_ULONG i = 0; i < n; i++) {
		if (!slot_exposed(all[i]))
			continue;
		if (list != NULL && k < *count)
			list[k] = all[i];
		k++;
	}
	if (list != NULL && k > *count) {
		*count = k;
		return CKR_BUFFER_TOO_SMALL;
	}
	*count = k;
	return CKR_OK;
}

static CK_RV si_GetTokenInfo(CK_SLOT_ID s, CK_TOKEN_INFO_PTR ti)
{
	CK_RV rv;

	if (!slot_exposed(s))
		return CKR_SLOT_ID_INVALID;
	rv = g_real->C_GetTokenInfo(s, ti);
	if (rv != CKR_OK)
		return rv;
	switch (g_profile) {
	case P_YUBIHSM2: /* yubihsm_pkcs11.c C_GetTokenInfo: fixed label and model */
		pad(ti->label, sizeof(ti->label), "YubiHSM");
		pad(ti->manufacturerID, sizeof(ti->manufacturerID), "Yubico (www.yubico.com)");
		pad(ti->model, sizeof(ti->model), "YubiHSM");
		break;
	case P_CLOUDHSM:
		pad(ti->manufacturerID, sizeof(ti->manufacturerID), "Amazon Web Services");
		pad(ti->model, sizeof(ti->model), "CloudHSM");
		break;
	case P_KMSP11: /* kmsp11/token.cc NewTokenInfo */
		pad(ti->manufacturerID, sizeof(ti->manufacturerID), "Google");
		pad(ti->model, sizeof(ti->model), "Cloud KMS Token");
		break;
	default:
		break;
	}
	return CKR_OK;
}

static CK_RV si_GetMechanismList(CK_SLOT_ID s, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count)
{
	CK_MECHANISM_TYPE all[256];
	CK_ULONG n = 256, k = 0;
	CK_RV rv;
	int gcm = 0;

	if (!slot_exposed(s))
		return CKR_SLOT_ID_INVALID;
	rv = g_real->C_GetMechanismList(s, all, &n);
	if (rv != CKR_OK)
		return rv;
	for (CK_ULONG i = 0; i <= n; i++) {
		CK_MECHANISM_TYPE m;

		if (i < n) {
			m = all[i];
			gcm |= m == CKM_AES_GCM;
		} else if (g_profile == P_KMSP11 && gcm) {
			m = SI_CKM_CLOUDKMS_AES_GCM; /* served by the real CKM_AES_GCM */
		} else {
			break;
		}
		if (!allowed(m))
			continue;
		if (list != NULL && k < *count)
			list[k] = m;
		k++;
	}
	if (list != NULL && k > *count) {
		*count = k;
		return CKR_BUFFER_TOO_SMALL;
	}
	*count = k;
	return CKR_OK;
}

static CK_RV si_GetMechanismInfo(CK_SLOT_ID s, CK_MECHANISM_TYPE m, CK_MECHANISM_INFO_PTR info)
{
	if (!slot_exposed(s))
		return CKR_SLOT_ID_INVALID;
	if (!allowed(m))
		return CKR_MECHANISM_INVALID;
	return g_real->C_GetMechanismInfo(s, real_mech(m), info);
}

static CK_RV si_OpenSession(CK_SLOT_ID s, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify,
			    CK_SESSION_HANDLE_PTR h)
{
	CK_RV rv;

	if (!slot_exposed(s))
		return CKR_SLOT_ID_INVALID;
	pthread_mutex_lock(&g_lock);
	/* yubihsm2.max-sessions: YH_MAX_SESSIONS 16 per device (lib/yubihsm.h). The stand-in
	 * counts this process's sessions; a real device also counts other clients'. */
	if ((g_profile == P_YUBIHSM2 && sess_count() >= SI_YUBIHSM_MAX_SESSIONS) ||
	    sess_count() >= SI_MAX_SESSIONS) {
		pthread_mutex_unlock(&g_lock);
		return CKR_SESSION_COUNT;
	}
	rv = g_real->C_OpenSession(s, flags, app, notify, h);
	if (rv == CKR_OK) {
		for (int i = 0; i < SI_MAX_SESSIONS; i++) {
			if (!g_sess[i].used) {
				g_sess[i] = (struct sess){ *h, 1, 0, 0, 0, 0 };
				break;
			}
		}
	}
	pthread_mutex_unlock(&g_lock);
	return rv;
}

static CK_RV si_CloseSession(CK_SESSION_HANDLE h)
{
	CK_RV rv = g_real->C_CloseSession(h);
	struct sess *s;

	pthread_mutex_lock(&g_lock);
	s = sess_find(h);
	if (s != NULL && (rv == CKR_OK || rv == CKR_SESSION_HANDLE_INVALID))
		memset(s, 0, sizeof(*s));
	pthread_mutex_unlock(&g_lock);
	return rv;
}

static CK_RV si_CloseAllSessions(CK_SLOT_ID slot)
{
	CK_RV rv = g_real->C_CloseAllSessions(slot);

	pthread_mutex_lock(&g_lock);
	memset(g_sess, 0, sizeof(g_sess));
	pthread_mutex_unlock(&g_lock);
	return rv;
}

/* ---- key generation ---- */

static const CK_ATTRIBUTE *attr_find(const CK_ATTRIBUTE *t, CK_ULONG n, CK_ATTRIBUTE_TYPE type)
{
	for (CK_ULONG i = 0; i < n; i++)
		if (t[i].type == type)
			return &t[i];
	return NULL;
}

static int attr_ulong(const CK_ATTRIBUTE *a, CK_ULONG *v)
{
	if (a == NULL || a->pValue == NULL || a->ulValueLen != sizeof(CK_ULONG))
		return 0;
	memcpy(v, a->pValue, sizeof(*v));
	return 1;
}

static int attr_bool_is(const CK_ATTRIBUTE *a, CK_BBOOL want)
{
	return a->pValue != NULL && a->ulValueLen == sizeof(CK_BBOOL) &&
	       (*(const CK_BBOOL *)a->pValue ? CK_TRUE : CK_FALSE) == want;
}

/* yubihsm2.keygen-aes / yubihsm2.keygen-hmac: the attribute rules of parse_aes_template and
 * parse_hmac_template (pkcs11/util_pkcs11.c). */
static CK_RV yubihsm_check(const CK_ATTRIBUTE *t, CK_ULONG n, int hmac)
{
	for (CK_ULONG i = 0; i < n; i++) {
		switch (t[i].type) {
		case CKA_TOKEN:
		case CKA_PRIVATE:
		case CKA_SENSITIVE:
			if (!attr_bool_is(&t[i], CK_TRUE))
				return CKR_ATTRIBUTE_VALUE_INVALID;
			break;
		case CKA_WRAP:
		case CKA_UNWRAP:
		case CKA_DERIVE:
		case CKA_MODIFIABLE:
		case CKA_COPYABLE:
			if (!attr_bool_is(&t[i], CK_FALSE))
				return CKR_ATTRIBUTE_VALUE_INVALID;
			break;
		case CKA_ENCRYPT:
		case CKA_DECRYPT:
			if (hmac && !attr_bool_is(&t[i], CK_FALSE))
				return CKR_ATTRIBUTE_VALUE_INVALID;
			break;
		case CKA_SIGN:
		case CKA_VERIFY:
			if (!hmac && !attr_bool_is(&t[i], CK_FALSE))
				return CKR_ATTRIBUTE_VALUE_INVALID;
			break;
		case CKA_VALUE_LEN:
			if (hmac) /* not in parse_hmac_template's list: the default case */
				return CKR_ATTRIBUTE_TYPE_INVALID;
			break;
		case CKA_KEY_TYPE:
		case CKA_CLASS:
		case CKA_SUBJECT:
		case CKA_ID:
		case CKA_LABEL:
		case CKA_EXTRACTABLE:
			break;
		default:
			return CKR_ATTRIBUTE_TYPE_INVALID;
		}
	}
	if (!hmac) {
		CK_ULONG len = 0;

		if (!attr_ulong(attr_find(t, n, CKA_VALUE_LEN), &len) ||
		    (len != 16 && len != 24 && len != 32))
			return CKR_TEMPLATE_INCONSISTENT;
	}
	return CKR_OK;
}

/* Copy template t into out (cap entries) without the attribute types in drop[], then append
 * extra[]. Returns the count, or 0 if it does not fit. */
static CK_ULONG rebuild(const CK_ATTRIBUTE *t, CK_ULONG n, const CK_ATTRIBUTE_TYPE *drop,
			size_t ndrop, const CK_ATTRIBUTE *extra, size_t nextra, CK_ATTRIBUTE *out,
			CK_ULONG cap)
{
	CK_ULONG k = 0;

	for (CK_ULONG i = 0; i < n; i++) {
		int skip = 0;

		for (size_t j = 0; j < ndrop; j++)
			skip |= t[i].type == drop[j];
		if (skip)
			continue;
		if (k == cap)
			return 0;
		out[k++] = t[i];
	}
	for (size_t j = 0; j < nextra; j++) {
		if (k == cap)
			return 0;
		out[k++] = extra[j];
	}
	return k;
}

static CK_RV yubihsm_generate(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR t,
			      CK_ULONG n, CK_OBJECT_HANDLE_PTR key)
{
	CK_ULONG cls = CKO_SECRET_KEY, type = CKK_AES;
	int has_cls = attr_ulong(attr_find(t, n, CKA_CLASS), &cls);
	int has_type = attr_ulong(attr_find(t, n, CKA_KEY_TYPE), &type);
	CK_RV rv;

	/* yubihsm2.keygen-mech: C_GenerateKey takes only these two mechanisms. */
	if (m->mechanism != CKM_GENERIC_SECRET_KEY_GEN && m->mechanism != CKM_AES_KEY_GEN)
		return CKR_MECHANISM_INVALID;
	if ((!has_cls || !has_type) && m->mechanism != CKM_AES_KEY_GEN)
		return CKR_TEMPLATE_INCOMPLETE;
	if (cls != CKO_SECRET_KEY)
		return CKR_TEMPLATE_INCONSISTENT;
	if (type == CKK_SHA256_HMAC) {
		/* Served by a SoftHSM generic secret of 32 bytes (HMAC-SHA256 block-size keys on
		 * the device are not modelled). */
		CK_KEY_TYPE gen = CKK_GENERIC_SECRET;
		CK_ULONG len = 32;
		CK_MECHANISM gm = { CKM_GENERIC_SECRET_KEY_GEN, NULL, 0 };
		const CK_ATTRIBUTE_TYPE drop[] = { CKA_KEY_TYPE };
		CK_ATTRIBUTE extra[] = { { CKA_KEY_TYPE, &gen, sizeof(gen) },
					 { CKA_VALUE_LEN, &len, sizeof(len) } };
		CK_ATTRIBUTE out[40];
		CK_ULONG k;

		rv = yubihsm_check(t, n, 1);
		if (rv != CKR_OK)
			return rv;
		k = rebuild(t, n, drop, 1, extra, 2, out, 40);
		if (k == 0)
			return CKR_TEMPLATE_INCONSISTENT;
		return g_real->C_GenerateKey(h, &gm, out, k, key);
	}
	if (type == CKK_SHA_1_HMAC || type == CKK_SHA384_HMAC || type == CKK_SHA512_HMAC)
		return CKR_FUNCTION_NOT_SUPPORTED; /* not modelled by the stand-in */
	if (type != CKK_AES)
		return CKR_ATTRIBUTE_VALUE_INVALID; /* "Unknown key_type" (CKK_GENERIC_SECRET too) */
	if (m->mechanism != CKM_AES_KEY_GEN)
		return CKR_TEMPLATE_INCONSISTENT;
	rv = yubihsm_check(t, n, 0);
	if (rv != CKR_OK)
		return rv;
	return g_real->C_GenerateKey(h, m, t, n, key);
}

/* kmsp11.keygen: only CKA_LABEL (a CryptoKey id), CKA_KMS_ALGORITHM (required),
 * CKA_KMS_PROTECTION_LEVEL and CKA_KMS_CRYPTO_KEY_BACKEND (kmsp11/session.cc
 * ExtractKeyGenerationParams). The object gets CKA_ID = the key version's resource name
 * (kmsp11/object.cc). */
static CK_RV kmsp11_generate(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR t,
			     CK_ULONG n, CK_OBJECT_HANDLE_PTR key)
{
	const CK_ATTRIBUTE *label = NULL;
	CK_ULONG alg = 0;
	int has_alg = 0;
	char id[200];
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE type;
	CK_ULONG len = 32;
	CK_MECHANISM gm = { CKM_AES_KEY_GEN, NULL, 0 };
	int mac;

	if (m->mechanism != CKM_AES_KEY_GEN && m->mechanism != CKM_GENERIC_SECRET_KEY_GEN)
		return CKR_MECHANISM_INVALID;
	for (CK_ULONG i = 0; i < n; i++) {
		switch (t[i].type) {
		case CKA_LABEL:
			label = &t[i];
			if (t[i].pValue == NULL || t[i].ulValueLen < 1 || t[i].ulValueLen > 63)
				return CKR_ATTRIBUTE_VALUE_INVALID;
			for (CK_ULONG j = 0; j < t[i].ulValueLen; j++) {
				char c = ((const char *)t[i].pValue)[j];

				if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				      (c >= '0' && c <= '9') || c == '_' || c == '-'))
					return CKR_ATTRIBUTE_VALUE_INVALID;
			}
			break;
		case SI_CKA_KMS_ALGORITHM:
			if (!attr_ulong(&t[i], &alg))
				return CKR_ATTRIBUTE_VALUE_INVALID;
			has_alg = 1;
			break;
		case SI_CKA_KMS_PROTECTION_LEVEL:
		case SI_CKA_KMS_CRYPTO_KEY_BACKEND:
			break;
		default:
			return CKR_TEMPLATE_INCONSISTENT;
		}
	}
	if (label == NULL || !has_alg)
		return CKR_TEMPLATE_INCOMPLETE;
	if (alg == SI_KMS_AES_256_GCM || alg == SI_KMS_AES_256_CBC) {
		type = CKK_AES;
		mac = 0;
	} else if (alg == SI_KMS_HMAC_SHA256) {
		type = CKK_GENERIC_SECRET;
		gm.mechanism = CKM_GENERIC_SECRET_KEY_GEN;
		mac = 1;
	} else {
		return CKR_FUNCTION_NOT_SUPPORTED; /* other algorithms are not modelled */
	}
	snprintf(id, sizeof(id),
		 "projects/standin/locations/global/keyRings/standin/cryptoKeys/%.*s/"
		 "cryptoKeyVersions/1",
		 (int)label->ulValueLen, (const char *)label->pValue);
	{
		CK_ATTRIBUTE out[] = {
			{ CKA_CLASS, &cls, sizeof(cls) },
			{ CKA_KEY_TYPE, &type, sizeof(type) },
			{ CKA_VALUE_LEN, &len, sizeof(len) },
			{ CKA_LABEL, label->pValue, label->ulValueLen },
			{ CKA_ID, id, strlen(id) },
			{ CKA_TOKEN, &yes, sizeof(yes) },
			{ CKA_PRIVATE, &yes, sizeof(yes) },
			{ CKA_SENSITIVE, &yes, sizeof(yes) },
			{ CKA_EXTRACTABLE, &no, sizeof(no) },
			{ CKA_ENCRYPT, mac ? &no : &yes, sizeof(yes) },
			{ CKA_DECRYPT, mac ? &no : &yes, sizeof(yes) },
			{ CKA_SIGN, mac ? &yes : &no, sizeof(yes) },
			{ CKA_VERIFY, mac ? &yes : &no, sizeof(yes) },
		};

		return g_real->C_GenerateKey(h, &gm, out, sizeof(out) / sizeof(out[0]), key);
	}
}

static CK_RV si_GenerateKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR t,
			    CK_ULONG n, CK_OBJECT_HANDLE_PTR key)
{
	if (m == NULL || !allowed(m->mechanism))
		return CKR_MECHANISM_INVALID;
	if (g_profile == P_YUBIHSM2)
		return yubihsm_generate(h, m, t, n, key);
	if (g_profile == P_KMSP11)
		return kmsp11_generate(h, m, t, n, key);
	return g_real->C_GenerateKey(h, m, t, n, key);
}

static CK_RV si_GenerateKeyPair(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR pub,
				CK_ULONG npub, CK_ATTRIBUTE_PTR priv, CK_ULONG npriv,
				CK_OBJECT_HANDLE_PTR hpub, CK_OBJECT_HANDLE_PTR hpriv)
{
	if (m == NULL || !allowed(m->mechanism))
		return CKR_MECHANISM_INVALID;
	return g_real->C_GenerateKeyPair(h, m, pub, npub, priv, npriv, hpub, hpriv);
}

static CK_RV si_CreateObject(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR t, CK_ULONG n,
			     CK_OBJECT_HANDLE_PTR o)
{
	if (g_profile == P_KMSP11) /* kmsp11.no-create: C_CreateObject is not supported */
		return CKR_FUNCTION_NOT_SUPPORTED;
	return g_real->C_CreateObject(h, t, n, o);
}

static CK_RV si_GenerateRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR buf, CK_ULONG n)
{
	if (g_profile == P_KMSP11 && (n < 8 || n > 1024)) /* kmsp11.random: 8..1024 bytes */
		return CKR_ARGUMENTS_BAD;
	return g_real->C_GenerateRandom(h, buf, n);
}

/* ---- encryption ---- */

/* The token writes its own GCM IV (cloudhsm.gcm-iv, kmsp11.gcm-iv): 12 random bytes from the
 * real token into the caller's pIv; a caller that gives no 12-byte IV buffer is refused. */
static CK_RV token_iv(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_MECHANISM *fwd)
{
	CK_GCM_PARAMS *p = m->pParameter;

	if (p == NULL || m->ulParameterLen != sizeof(*p) || p->pIv == NULL || p->ulIvLen != 12)
		return CKR_MECHANISM_PARAM_INVALID;
	*fwd = (CK_MECHANISM){ CKM_AES_GCM, m->pParameter, m->ulParameterLen };
	return g_real->C_GenerateRandom(h, p->pIv, 12);
}

static CK_RV crypt_init(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k, int enc)
{
	CK_MECHANISM fwd;
	struct sess *s;
	CK_RV rv;

	if (m == NULL || !allowed(m->mechanism))
		return CKR_MECHANISM_INVALID;
	fwd = *m;
	fwd.mechanism = real_mech(m->mechanism);
	if (enc && ((g_profile == P_CLOUDHSM && m->mechanism == CKM_AES_GCM) ||
		    (g_profile == P_KMSP11 && m->mechanism == SI_CKM_CLOUDKMS_AES_GCM))) {
		rv = token_iv(h, m, &fwd);
		if (rv != CKR_OK)
			return rv;
	}
	rv = enc ? g_real->C_EncryptInit(h, &fwd, k) : g_real->C_DecryptInit(h, &fwd, k);
	if (rv == CKR_OK) {
		pthread_mutex_lock(&g_lock);
		s = sess_find(h);
		if (s != NULL) {
			if (enc)
				s->enc = m->mechanism;
			else
				s->dec = m->mechanism;
		}
		pthread_mutex_unlock(&g_lock);
	}
	return rv;
}

static CK_RV si_EncryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
	return crypt_init(h, m, k, 1);
}

static CK_RV si_DecryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
	return crypt_init(h, m, k, 0);
}

/* cloudhsm.gcm-limit: single-part GCM input over 16 KB is refused. The real operation is
 * finished (its output discarded) so the session is left without an active operation, as
 * PKCS#11 requires after an error. */
static int over_limit(CK_SESSION_HANDLE h, int enc, CK_ULONG n)
{
	struct sess *s;
	int over = 0;

	if (g_profile != P_CLOUDHSM)
		return 0;
	pthread_mutex_lock(&g_lock);
	s = sess_find(h);
	if (s != NULL && (enc ? s->enc : s->dec) == CKM_AES_GCM && n > SI_CLOUDHSM_GCM_MAX)
		over = 1;
	pthread_mutex_unlock(&g_lock);
	return over;
}

static CK_RV finish_discard(CK_SESSION_HANDLE h, int enc, CK_BYTE_PTR in, CK_ULONG n)
{
	CK_ULONG len = n + 64;
	CK_BYTE *junk = malloc(len);

	if (junk != NULL) {
		if (enc)
			(void)g_real->C_Encrypt(h, in, n, junk, &len);
		else
			(void)g_real->C_Decrypt(h, in, n, junk, &len);
		memset(junk, 0, n + 64);
		free(junk);
	}
	return CKR_DATA_LEN_RANGE;
}

static CK_RV si_Encrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG n, CK_BYTE_PTR out,
			CK_ULONG_PTR out_len)
{
	if (over_limit(h, 1, n))
		return finish_discard(h, 1, in, n);
	return g_real->C_Encrypt(h, in, n, out, out_len);
}

static CK_RV si_Decrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG n, CK_BYTE_PTR out,
			CK_ULONG_PTR out_len)
{
	if (over_limit(h, 0, n))
		return finish_discard(h, 0, in, n);
	return g_real->C_Decrypt(h, in, n, out, out_len);
}

/* ---- signing ---- */

/* yubihsm2.hmac-limit: the module buffers HMAC input in a 4096-byte operation buffer (an
 * update past it is CKR_DATA_LEN_RANGE) and sends it to the device in one message:
 * yh_util_sign_hmac refuses more than YH_MSG_BUF_SIZE - 2 bytes, yh_util_verify_hmac more
 * than YH_MSG_BUF_SIZE - 2 bytes of data and signature together (YHR_INVALID_PARAMETERS,
 * which the module returns as CKR_ARGUMENTS_BAD). */
static void mac_start(CK_SESSION_HANDLE h, CK_MECHANISM_TYPE m)
{
	struct sess *s;

	pthread_mutex_lock(&g_lock);
	s = sess_find(h);
	if (s != NULL) {
		s->mac = g_profile == P_YUBIHSM2 &&
			 (m == CKM_SHA_1_HMAC || m == CKM_SHA256_HMAC || m == CKM_SHA384_HMAC ||
			  m == CKM_SHA512_HMAC);
		s->mac_len = 0;
	}
	pthread_mutex_unlock(&g_lock);
}

/* Add n bytes to the session's HMAC input; the total, or 0 if no limit applies. */
static CK_ULONG mac_add(CK_SESSION_HANDLE h, CK_ULONG n)
{
	struct sess *s;
	CK_ULONG total = 0;

	pthread_mutex_lock(&g_lock);
	s = sess_find(h);
	if (s != NULL && s->mac) {
		s->mac_len += n;
		total = s->mac_len;
	}
	pthread_mutex_unlock(&g_lock);
	return total;
}

/* End the real operation (an error ends a PKCS#11 operation) and return rv. */
static CK_RV mac_abort(CK_SESSION_HANDLE h, int verify, CK_RV rv)
{
	CK_BYTE junk[64] = { 0 };
	CK_ULONG jl = sizeof(junk);

	if (verify)
		(void)g_real->C_VerifyFinal(h, junk, 32);
	else
		(void)g_real->C_SignFinal(h, junk, &jl);
	mac_start(h, 0);
	return rv;
}

static CK_RV si_SignInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
	CK_RV rv;

	if (m == NULL || !allowed(m->mechanism))
		return CKR_MECHANISM_INVALID;
	rv = g_real->C_SignInit(h, m, k);
	if (rv == CKR_OK)
		mac_start(h, m->mechanism);
	return rv;
}

static CK_RV si_VerifyInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
	CK_RV rv;

	if (m == NULL || !allowed(m->mechanism))
		return CKR_MECHANISM_INVALID;
	rv = g_real->C_VerifyInit(h, m, k);
	if (rv == CKR_OK)
		mac_start(h, m->mechanism);
	return rv;
}

static CK_RV si_SignUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG n)
{
	if (mac_add(h, n) > SI_YUBIHSM_OP_BUFSIZE)
		return mac_abort(h, 0, CKR_DATA_LEN_RANGE);
	return g_real->C_SignUpdate(h, in, n);
}

static CK_RV si_VerifyUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG n)
{
	if (mac_add(h, n) > SI_YUBIHSM_OP_BUFSIZE)
		return mac_abort(h, 1, CKR_DATA_LEN_RANGE);
	return g_real->C_VerifyUpdate(h, in, n);
}

static CK_RV si_SignFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG_PTR len)
{
	if (sig != NULL && mac_add(h, 0) > SI_YUBIHSM_MSG_BUF - 2)
		return mac_abort(h, 0, CKR_ARGUMENTS_BAD);
	return g_real->C_SignFinal(h, sig, len);
}

static CK_RV si_VerifyFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG len)
{
	if (mac_add(h, 0) + len > SI_YUBIHSM_MSG_BUF - 2 && mac_add(h, 0) > 0)
		return mac_abort(h, 1, CKR_ARGUMENTS_BAD);
	return g_real->C_VerifyFinal(h, sig, len);
}

static CK_RV si_Sign(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG n, CK_BYTE_PTR sig,
		     CK_ULONG_PTR len)
{
	CK_ULONG total = mac_add(h, n);

	if (total > SI_YUBIHSM_OP_BUFSIZE || (sig != NULL && total > SI_YUBIHSM_MSG_BUF - 2))
		return mac_abort(h, 0, total > SI_YUBIHSM_OP_BUFSIZE ? CKR_DATA_LEN_RANGE
								   : CKR_ARGUMENTS_BAD);
	if (sig == NULL)
		(void)mac_add(h, (CK_ULONG)0 - n); /* a length query: not counted */
	return g_real->C_Sign(h, in, n, sig, len);
}

static CK_RV si_Verify(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG n, CK_BYTE_PTR sig,
		       CK_ULONG len)
{
	CK_ULONG total = mac_add(h, n);

	if (total > SI_YUBIHSM_OP_BUFSIZE || (total > 0 && total + len > SI_YUBIHSM_MSG_BUF - 2))
		return mac_abort(h, 1, total > SI_YUBIHSM_OP_BUFSIZE ? CKR_DATA_LEN_RANGE
								   : CKR_ARGUMENTS_BAD);
	return g_real->C_Verify(h, in, n, sig, len);
}

/* ---- entry point ---- */

static int load(void)
{
	const char *path = getenv("MPC_STANDIN_MODULE");
	const char *prof = getenv("MPC_STANDIN_PROFILE");
	const char *tok = getenv("MPC_STANDIN_TOKEN");
	CK_C_GetFunctionList gfl;

	if (g_real != NULL)
		return 0;
	if (path == NULL || prof == NULL) {
		fprintf(stderr, "standin: MPC_STANDIN_MODULE and MPC_STANDIN_PROFILE must be set\n");
		return -1;
	}
	if (strcmp(prof, "yubihsm2") == 0)
		g_profile = P_YUBIHSM2;
	else if (strcmp(prof, "cloudhsm") == 0)
		g_profile = P_CLOUDHSM;
	else if (strcmp(prof, "kmsp11") == 0)
		g_profile = P_KMSP11;
	else {
		fprintf(stderr, "standin: unknown profile \"%s\"\n", prof);
		return -1;
	}
	snprintf(g_token, sizeof(g_token), "%s", tok != NULL ? tok : "");
	g_dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (g_dl == NULL) {
		fprintf(stderr, "standin: %s\n", dlerror());
		return -1;
	}
	gfl = (CK_C_GetFunctionList)dlsym(g_dl, "C_GetFunctionList");
	if (gfl == NULL || gfl(&g_real) != CKR_OK || g_real == NULL) {
		g_real = NULL;
		return -1;
	}
	g_list = *g_real; /* everything not overridden is forwarded as is */
	g_list.C_Initialize = si_Initialize;
	g_list.C_Finalize = si_Finalize;
	g_list.C_GetInfo = si_GetInfo;
	g_list.C_GetSlotList = si_GetSlotList;
	g_list.C_GetTokenInfo = si_GetTokenInfo;
	g_list.C_GetMechanismList = si_GetMechanismList;
	g_list.C_GetMechanismInfo = si_GetMechanismInfo;
	g_list.C_OpenSession = si_OpenSession;
	g_list.C_CloseSession = si_CloseSession;
	g_list.C_CloseAllSessions = si_CloseAllSessions;
	g_list.C_GenerateKey = si_GenerateKey;
	g_list.C_GenerateKeyPair = si_GenerateKeyPair;
	g_list.C_CreateObject = si_CreateObject;
	g_list.C_GenerateRandom = si_GenerateRandom;
	g_list.C_EncryptInit = si_EncryptInit;
	g_list.C_DecryptInit = si_DecryptInit;
	g_list.C_Encrypt = si_Encrypt;
	g_list.C_Decrypt = si_Decrypt;
	g_list.C_SignInit = si_SignInit;
	g_list.C_VerifyInit = si_VerifyInit;
	g_list.C_SignUpdate = si_SignUpdate;
	g_list.C_VerifyUpdate = si_VerifyUpdate;
	g_list.C_SignFinal = si_SignFinal;
	g_list.C_VerifyFinal = si_VerifyFinal;
	g_list.C_Sign = si_Sign;
	g_list.C_Verify = si_Verify;
	return 0;
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out)
{
	int rc;

	if (out == NULL)
		return CKR_ARGUMENTS_BAD;
	pthread_mutex_lock(&g_lock);
	rc = load();
	pthread_mutex_unlock(&g_lock);
	if (rc != 0)
		return CKR_GENERAL_ERROR;
	*out = &g_list;
	return CKR_OK;
}
