/* vendor.c: the vendor-rules table (key templates, key lookup, single-part limits per token
 * kind), each rule citing its source, and the detection of a token's kind from what it reports.
 * The same sources are listed, with the commits read, in tests/vendor/RULES.md; the stand-in
 * module there enforces these rules in the tests. */
#include "pkcs11/vendor.h"

#include <stdio.h>
#include <string.h>

#include "pkcs11/internal.h"

/* Sources (tests/vendor/RULES.md names the commits read):
 *   [yubihsm-shell]  github.com/Yubico/yubihsm-shell pkcs11/yubihsm_pkcs11.c, pkcs11/util_pkcs11.c
 *   [kmsp11]         github.com/GoogleCloudPlatform/kms-integrations kmsp11/kmsp11.h,
 *                    kmsp11/session.cc, kmsp11/object.cc, kmsp11/token.cc, kmsp11/provider.cc,
 *                    kmsp11/docs/user_guide.md
 *   [cloudhsm-ki]    https://docs.aws.amazon.com/cloudhsm/latest/userguide/ki-pkcs11-sdk.html
 *   [pkcs11-3.0]     OASIS PKCS#11 Current Mechanisms Specification 3.0 (generic secret keys)
 */
static const struct mpc_vendor_rules rules[MPC_TOKEN_KIND_COUNT] = {
	/* generic: PKCS#11 3.0 as written [pkcs11-3.0]: an HMAC key is a CKK_GENERIC_SECRET of
	 * CKA_VALUE_LEN bytes. An unknown token that refuses that template is asked once more
	 * for CKK_SHA256_HMAC (as a YubiHSM 2 wants it) so a renamed device still works. */
	[MPC_TOKEN_KIND_GENERIC] = { .kind = MPC_TOKEN_KIND_GENERIC,
				     .hmac_key_type = CKK_GENERIC_SECRET,
				     .hmac_value_len = 1,
				     .hmac_retry = 1 },
	/* SoftHSM2 and NSS softokn: PKCS#11 as written (both tested here for real). */
	[MPC_TOKEN_KIND_SOFTHSM2] = { .kind = MPC_TOKEN_KIND_SOFTHSM2,
				      .hmac_key_type = CKK_GENERIC_SECRET,
				      .hmac_value_len = 1 },
	[MPC_TOKEN_KIND_NSS] = { .kind = MPC_TOKEN_KIND_NSS,
				 .hmac_key_type = CKK_GENERIC_SECRET,
				 .hmac_value_len = 1 },
	/* YubiHSM 2: C_GenerateKey makes HMAC keys only as CKK_SHA_1/256/384/512_HMAC and calls
	 * CKK_GENERIC_SECRET an unknown key type; parse_hmac_template accepts no CKA_VALUE_LEN
	 * (the length follows the hash) [yubihsm-shell yubihsm_pkcs11.c C_GenerateKey,
	 * util_pkcs11.c parse_hmac_template]. No CKM_AES_GCM in its mechanism table
	 * [util_pkcs11.c get_mechanism_list]: the ceremony sees that in the mechanism list.
	 * HMAC input goes to the device in one message: yh_util_sign_hmac takes at most
	 * YH_MSG_BUF_SIZE - 2 = 3134 bytes, yh_util_verify_hmac at most 3134 bytes of data and
	 * signature together (3102 of data for SHA-256) [lib/yubihsm.c, lib/yubihsm.h
	 * YH_MSG_BUF_SIZE 3136; the module's own buffer is YUBIHSM_PKCS11_OP_BUFSIZE 4096,
	 * pkcs11/yubihsm_pkcs11.h]. A CBC+HMAC blob's MAC input must fit in 3102 bytes. */
	[MPC_TOKEN_KIND_YUBIHSM2] = { .kind = MPC_TOKEN_KIND_YUBIHSM2,
				      .hmac_key_type = CKK_SHA256_HMAC,
				      .hmac_value_len = 0,
				      .hmac_max_input = 3134 - 32 },
	/* AWS CloudHSM: "Buffers for the C_Encrypt and C_Decrypt API operations cannot exceed
	 * 16 KB when using the CKM_AES_GCM mechanism" [cloudhsm-ki]. Input, so a sealed GCM blob
	 * must be openable too: ciphertext || 16-byte tag <= 16384. The token writes its own GCM
	 * IV (handled for every token in seal.c). */
	[MPC_TOKEN_KIND_CLOUDHSM] = { .kind = MPC_TOKEN_KIND_CLOUDHSM,
				      .hmac_key_type = CKK_GENERIC_SECRET,
				      .hmac_value_len = 1,
				      .gcm_max_input = 16384 },
	/* Google kmsp11: C_GenerateKey takes CKA_LABEL and CKA_KMS_ALGORITHM (required) and
	 * nothing else but two optional KMS attributes: any other attribute is
	 * CKR_TEMPLATE_INCONSISTENT [kmsp11 session.cc ExtractKeyGenerationParams]; algorithms
	 * AES_256_CBC (43) for CKM_AES_CBC_PAD and HMAC_SHA256 (32) for CKM_SHA256_HMAC
	 * [kmsp11.h, user_guide.md]; AES_256_GCM keys work only through CKM_CLOUDKMS_AES_GCM,
	 * which mpc-backup does not use (CKM_AES_GCM is not listed, so no GCM key is made).
	 * A key object's CKA_ID is its CryptoKeyVersion name, not a caller's id [object.cc]: keys
	 * are found by label. C_CreateObject is not supported [user_guide.md "Functions"]. */
	[MPC_TOKEN_KIND_KMSP11] = { .kind = MPC_TOKEN_KIND_KMSP11,
				    .hmac_key_type = CKK_GENERIC_SECRET,
				    .kms_keygen = 1,
				    .find_by_label = 1,
				    .no_create_object = 1 },
};

static const char *const names[MPC_TOKEN_KIND_COUNT] = {
	"generic", "softhsm2", "yubihsm2", "cloudhsm", "kmsp11", "nss",
};

const char *mpc_token_kind_name(enum mpc_token_kind k)
{
	return (unsigned)k < MPC_TOKEN_KIND_COUNT ? names[k] : "unknown";
}

int mpc_token_profile_parse(const char *s, int *is_auto, enum mpc_token_kind *out,
			    struct mpc_err *e)
{
	if (s == NULL || strcmp(s, MPC_TOKEN_PROFILE_AUTO) == 0) {
		*is_auto = 1;
		*out = MPC_TOKEN_KIND_GENERIC;
		return MPC_OK;
	}
	for (int k = 0; k < MPC_TOKEN_KIND_COUNT; k++) {
		if (strcmp(s, names[k]) == 0) {
			*is_auto = 0;
			*out = (enum mpc_token_kind)k;
			return MPC_OK;
		}
	}
	return mpc_fail(e, MPC_ERR_USAGE,
			"unknown token profile \"%.40s\" (auto, generic, softhsm2, yubihsm2, "
			"cloudhsm, kmsp11, nss)",
			s);
}

const struct mpc_vendor_rules *mpc_vendor_rules(const struct mpc_token *t)
{
	return (unsigned)t->kind < MPC_TOKEN_KIND_COUNT ? &rules[t->kind]
							: &rules[MPC_TOKEN_KIND_GENERIC];
}

static int starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

int mpc_vendor_detect(CK_FUNCTION_LIST *fn, CK_SLOT_ID slot, const CK_TOKEN_INFO *ti)
{
	CK_INFO info;
	char lib_manuf[33] = "", lib_desc[33] = "", manuf[33], model[17];

	if (fn->C_GetInfo(&info) == CKR_OK) {
		mpc_p11_trim(lib_manuf, info.manufacturerID, 32);
		mpc_p11_trim(lib_desc, info.libraryDescription, 32);
	}
	mpc_p11_trim(manuf, ti->manufacturerID, 32);
	mpc_p11_trim(model, ti->model, 16);
	/* yubihsm_pkcs11.c: YUBIHSM_PKCS11_MANUFACTURER "Yubico (www.yubico.com)",
	 * YUBIHSM_PKCS11_LIBDESC "YubiHSM PKCS#11 Library"; C_GetTokenInfo model "YubiHSM". */
	if (starts(lib_desc, "YubiHSM") || (starts(manuf, "Yubico") && starts(model, "YubiHSM")))
		return MPC_TOKEN_KIND_YUBIHSM2;
	/* kmsp11 provider.cc NewCkInfo: "Google", "Cryptoki Library for Cloud KMS"; token.cc
	 * NewTokenInfo: manufacturer "Google", model "Cloud KMS Token". CKM_CLOUDKMS_AES_GCM
	 * (kmsp11.h) is kmsp11's own mechanism: listing it says kmsp11 whatever the strings. */
	if ((starts(lib_manuf, "Google") && strstr(lib_desc, "Cloud KMS") != NULL) ||
	    (starts(manuf, "Google") && starts(model, "Cloud KMS")) ||
	    mpc_p11_slot_has_mechanism(fn, slot, MPC_CKM_CLOUDKMS_AES_GCM, 0))
		return MPC_TOKEN_KIND_KMSP11;
	/* AWS CloudHSM publishes no source; its documents name the vendor "Amazon Web
	 * Services" (not verified against a device: override with token_profile=cloudhsm). */
	if (starts(lib_manuf, "Amazon") || starts(manuf, "Amazon") || strstr(model, "CloudHSM"))
		return MPC_TOKEN_KIND_CLOUDHSM;
	/* SoftHSM2: manufacturer "SoftHSM project", model "SoftHSM v2"; NSS softokn: token
	 * manufacturer "Mozilla Foundation", model "NSS 3" (as both report here). */
	if (starts(lib_manuf, "SoftHSM") || starts(manuf, "SoftHSM"))
		return MPC_TOKEN_KIND_SOFTHSM2;
	if (starts(manuf, "Mozilla") || starts(model, "NSS"))
		return MPC_TOKEN_KIND_NSS;
	return MPC_TOKEN_KIND_GENERIC;
}
