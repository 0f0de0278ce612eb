/* seal.c: sealing and opening byte strings with the token's keys (AES-GCM, or AES-CBC-PAD
 * with HMAC-SHA256 encrypt-then-MAC). Blob layout in seal.h and docs/store-format.md. */
#include "pkcs11/seal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "pkcs11/internal.h"
#include "pkcs11/keys.h"
#include "pkcs11/vendor.h"
#include "src/util/mem.h"

#define BLOB_MAGIC   "MPCS"
#define BLOB_VERSION 1
#define HDR_LEN      7 /* magic(4) version(1) mech(1) iv_len(1) */
#define GCM_IV_LEN   12
#define GCM_TAG_LEN  16
#define CBC_IV_LEN   16
#define HMAC_LEN     32

const char *mpc_seal_mech_name(enum mpc_seal_mech m)
{
	switch (m) {
	case MPC_SEAL_AES_GCM:
		return "aes-256-gcm";
	case MPC_SEAL_AES_CBC_HMAC:
		return "aes-256-cbc-hmac-sha256";
	case MPC_SEAL_AES_CBC_HMAC_DIGEST:
		return "aes-256-cbc-hmac-sha256-digest";
	case MPC_SEAL_AUTO:
		return "auto";
	}
	return "unknown";
}

int mpc_seal_mech_parse(const char *s, enum mpc_seal_mech *out, struct mpc_err *e)
{
	static const enum mpc_seal_mech all[] = { MPC_SEAL_AUTO, MPC_SEAL_AES_GCM,
						  MPC_SEAL_AES_CBC_HMAC,
						  MPC_SEAL_AES_CBC_HMAC_DIGEST };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (strcmp(s, mpc_seal_mech_name(all[i])) == 0) {
			*out = all[i];
			return MPC_OK;
		}
	}
	return mpc_fail(e, MPC_ERR_USAGE,
			"unknown sealing mechanism \"%.40s\" (auto, aes-256-gcm, "
			"aes-256-cbc-hmac-sha256, aes-256-cbc-hmac-sha256-digest)",
			s);
}

static int gcm_usable(struct mpc_token *t)
{
	return mpc_token_has_mechanism(t, CKM_AES_GCM, CKF_ENCRYPT | CKF_DECRYPT);
}

static int cbc_usable(struct mpc_token *t)
{
	return mpc_token_has_mechanism(t, CKM_AES_CBC_PAD, CKF_ENCRYPT | CKF_DECRYPT) &&
	       mpc_token_has_mechanism(t, CKM_SHA256_HMAC, CKF_SIGN | CKF_VERIFY);
}

size_t mpc_seal_max_single_part(struct mpc_token *t, enum mpc_seal_mech mech)
{
	size_t lim = mpc_vendor_rules(t)->gcm_max_input;

	/* The whole blob body (ciphertext || tag) must go back in one C_Decrypt. */
	if (mech != MPC_SEAL_AES_GCM || lim == 0)
		return 0;
	return lim > GCM_TAG_LEN ? lim - GCM_TAG_LEN : 1;
}

/* "n bytes are over the token's single-part AES-GCM limit" (MPC_ERR_TOO_LARGE). */
static int over_gcm_limit(struct mpc_token *t, size_t n, const char *why, struct mpc_err *e)
{
	const struct mpc_vendor_rules *vr = mpc_vendor_rules(t);

	return mpc_fail(e, MPC_ERR_TOO_LARGE,
			"token \"%s\" (%s): %zu bytes of keyshares are over its single-part "
			"AES-GCM limit of %zu bytes of input (%zu of plaintext)%s",
			MPC_TOKEN_LABEL(t), mpc_token_kind_name(vr->kind), n, vr->gcm_max_input,
			mpc_seal_max_single_part(t, MPC_SEAL_AES_GCM), why);
}

/* Bytes the token's HMAC covers in a CBC+HMAC blob of n bytes of plaintext. */
static size_t cbc_mac_input(size_t n, size_t aad_len)
{
	return HDR_LEN + CBC_IV_LEN + 8 + aad_len + (n / 16 + 1) * 16;
}

/* "the MAC of a CBC+HMAC blob would be over the token's HMAC limit" (MPC_ERR_TOO_LARGE). */
static int over_hmac_limit(struct mpc_token *t, size_t n, size_t mac_input, struct mpc_err *e)
{
	const struct mpc_vendor_rules *vr = mpc_vendor_rules(t);

	return mpc_fail(e, MPC_ERR_TOO_LARGE,
			"token \"%s\" (%s): sealing %zu bytes of keyshares by AES-CBC + "
			"HMAC-SHA256 needs an HMAC over %zu bytes, over the %zu it takes in one "
			"message (auto seals with aes-256-cbc-hmac-sha256-digest there)",
			MPC_TOKEN_LABEL(t), mpc_token_kind_name(vr->kind), n, mac_input,
			vr->hmac_max_input);
}

/* The sealing key(s) of `mech` looked up (and checked: a key that can leave the token is
 * refused by name) under the token's lock. */
static int keys_usable(struct mpc_token *t, enum mpc_seal_mech mech, struct mpc_err *e)
{
	CK_OBJECT_HANDLE h;
	int rc;

	mpc_token_lock(t);
	rc = mpc_token_ready(t, e);
	if (rc == MPC_OK && mech == MPC_SEAL_AES_GCM)
		rc = mpc_key_get(t, MPC_KEY_SEAL_GCM, &h, e);
	if (rc == MPC_OK && mech == MPC_SEAL_AES_CBC_HMAC)
		rc = mpc_key_get(t, MPC_KEY_SEAL_CBC, &h, e);
	if (rc == MPC_OK && mech == MPC_SEAL_AES_CBC_HMAC)
		rc = mpc_key_get(t, MPC_KEY_SEAL_HMAC, &h, e);
	mpc_token_unlock(t);
	return rc;
}

int mpc_seal_pick_for(struct mpc_token *t, enum mpc_seal_mech want, size_t n,
		      enum mpc_seal_mech *out, struct mpc_err *e)
{
	size_t gcm_max = mpc_seal_max_single_part(t, MPC_SEAL_AES_GCM);
	struct mpc_err tmp = { 0 };
	int rc, too_big = 0;

	if (want == MPC_SEAL_AUTO || want == MPC_SEAL_AES_GCM) {
		if (gcm_usable(t)) {
			rc = keys_usable(t, MPC_SEAL_AES_GCM, &tmp);
			/* No silent downgrade: only a GCM key that is not there at all lets AUTO
			 * use CBC+HMAC; one that is there but refused (extractable, not sensitive,
			 * two of them) or a failing token is reported. */
			if (rc != MPC_OK &&
			    (want == MPC_SEAL_AES_GCM || rc != MPC_ERR_OBJECT_NOT_FOUND)) {
				if (e != NULL)
					*e = tmp;
				return rc;
			}
			if (rc == MPC_OK && (gcm_max == 0 || n <= gcm_max)) {
				*out = MPC_SEAL_AES_GCM;
				return MPC_OK;
			}
			if (rc == MPC_OK && want == MPC_SEAL_AES_GCM)
				return over_gcm_limit(t, n, "", e);
			too_big = rc == MPC_OK;
		} else if (want == MPC_SEAL_AES_GCM) {
			return mpc_fail(e, MPC_ERR_UNSUPPORTED,
					"token \"%s\" does not offer CKM_AES_GCM for encryption",
					MPC_TOKEN_LABEL(t));
		}
	}
	if (!cbc_usable(t)) {
		if (too_big)
			return over_gcm_limit(t, n,
					      " and it offers no CKM_AES_CBC_PAD with "
					      "CKM_SHA256_HMAC to seal them otherwise",
					      e);
		return mpc_fail(e, MPC_ERR_UNSUPPORTED,
				"token \"%s\" offers no usable sealing mechanism (AES-GCM, or "
				"AES-CBC-PAD with HMAC-SHA256)",
				MPC_TOKEN_LABEL(t));
	}
	mpc_err_clear(&tmp);
	rc = keys_usable(t, MPC_SEAL_AES_CBC_HMAC, &tmp);
	if (rc == MPC_ERR_OBJECT_NOT_FOUND && too_big)
		return over_gcm_limit(t, n,
				      " and it holds no CBC+HMAC keys to seal them otherwise (run "
				      "`mpc-backup token init` on it)",
				      e);
	if (rc != MPC_OK) {
		if (e != NULL)
			*e = tmp;
		return rc;
	}
	/* A token with an HMAC input limit (YubiHSM 2) MACs a digest: 32 bytes whatever n. */
	if (want == MPC_SEAL_AES_CBC_HMAC_DIGEST ||
	    (want == MPC_SEAL_AUTO && mpc_vendor_rules(t)->hmac_max_input != 0)) {
		*out = MPC_SEAL_AES_CBC_HMAC_DIGEST;
		return MPC_OK;
	}
	/* The store's header is MACed too (checked again when sealing, nothing written yet). */
	if (n > 0 && mpc_vendor_rules(t)->hmac_max_input != 0 &&
	    cbc_mac_input(n, 0) > mpc_vendor_rules(t)->hmac_max_input)
		return over_hmac_limit(t, n, cbc_mac_input(n, 0), e);
	*out = MPC_SEAL_AES_CBC_HMAC;
	return MPC_OK;
}

int mpc_seal_pick(struct mpc_token *t, enum mpc_seal_mech want, enum mpc_seal_mech *out,
		  struct mpc_err *e)
{
	return mpc_seal_pick_for(t, want, 0, out, e);
}

/* Random IV: the token's RNG XOR OpenSSL's, so either one being sound is enough. The token's
 * bytes are drawn 512 at a time (each byte used once): one C_GenerateRandom per ~40 seals. */
static int fresh_iv(struct mpc_token *t, uint8_t *iv, size_t n, struct mpc_err *e)
{
	uint8_t mine[CBC_IV_LEN];
	CK_RV rv;

	if (RAND_bytes(mine, (int)n) != 1)
		return mpc_fail(e, MPC_ERR_INTERNAL, "OpenSSL RAND_bytes failed");
	if (t->rng_left < n) {
		rv = t->fn->C_GenerateRandom(t->session, t->rng_pool, sizeof(t->rng_pool));
		if (rv != CKR_OK)
			return mpc_fail_ck(e, rv, "C_GenerateRandom", MPC_TOKEN_LABEL(t));
		t->rng_left = sizeof(t->rng_pool);
	}
	t->rng_left -= n;
	for (size_t i = 0; i < n; i++) {
		iv[i] = t->rng_pool[t->rng_left + i] ^ mine[i];
		t->rng_pool[t->rng_left + i] = 0; /* never used twice */
	}
	return MPC_OK;
}

static void be64(uint8_t out[8], uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		out[i] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
}

/* HMAC-SHA256 over header || iv || be64(aad_len) || aad || ct (digest = 0), or over the
 * SHA-256 of that (digest = 1, computed here: all of it is public), signed (verify=0) into mac
 * or checked (verify=1) against mac, in the token. Returns the CK_RV; CKR_HOST_MEMORY if the
 * digest cannot be computed. */
static CK_RV hmac_blob(struct mpc_token *t, CK_OBJECT_HANDLE k, int verify, int digest,
		       const uint8_t *hdr, const uint8_t *iv, const uint8_t *aad, size_t aad_len,
		       const uint8_t *ct, size_t ct_len, uint8_t *mac)
{
	CK_MECHANISM mech = { CKM_SHA256_HMAC, NULL, 0 };
	CK_FUNCTION_LIST *f = t->fn;
	CK_SESSION_HANDLE s = t->session;
	uint8_t len8[8], md[32];
	CK_ULONG mac_len = HMAC_LEN;
	CK_RV rv;
	struct {
		const uint8_t *p;
		size_t n;
	} parts[] = {
		{ hdr, HDR_LEN }, { iv, CBC_IV_LEN }, { len8, 8 }, { aad, aad_len }, { ct, ct_len }
	};
	size_t nparts = sizeof(parts) / sizeof(parts[0]);

	be64(len8, aad_len);
	if (digest) {
		EVP_MD_CTX *c = EVP_MD_CTX_new();
		int ok = c != NULL && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1;
		unsigned int md_len = 0;

		for (size_t i = 0; ok && i < nparts; i++)
			ok = parts[i].n == 0 || EVP_DigestUpdate(c, parts[i].p, parts[i].n) == 1;
		ok = ok && EVP_DigestFinal_ex(c, md, &md_len) == 1 && md_len == sizeof(md);
		EVP_MD_CTX_free(c);
		if (!ok)
			return CKR_HOST_MEMORY;
		parts[0].p = md;
		parts[0].n = sizeof(md);
		nparts = 1;
	}
	rv = verify ? f->C_VerifyInit(s, &mech, k) : f->C_SignInit(s, &mech, k);
	if (rv != CKR_OK)
		return rv;
	{
		for (size_t i = 0; i < nparts; i++) {
			if (parts[i].n == 0)
				continue;
			rv = verify ? f->C_VerifyUpdate(s, (CK_BYTE_PTR)parts[i].p, parts[i].n)
				    : f->C_SignUpdate(s, (CK_BYTE_PTR)parts[i].p, parts[i].n);
			if (rv != CKR_OK) {
				/* Terminate the operation so the session stays usable. */
				uint8_t junk[HMAC_LEN] = { 0 };
				CK_ULONG jl = sizeof(junk);

				if (verify)
					(void)f->C_VerifyFinal(s, junk, jl);
				else
					(void)f->C_SignFinal(s, junk, &jl);
				return rv;
			}
		}
	}
	if (verify)
		return f->C_VerifyFinal(s, mac, HMAC_LEN);
	rv = f->C_SignFinal(s, mac, &mac_len);
	/* a token that gives fewer bytes would leave the blob's MAC partly unwritten */
	if (rv == CKR_OK && mac_len != HMAC_LEN)
		return CKR_FUNCTION_FAILED;
	return rv;
}

/* AES-256-GCM in the token with the blob's GCM parameters: IV at `iv` (GCM_IV_LEN bytes; a
 * token that makes its own IV writes it there when encrypting), associated data blob header
 * (hdr) || caller aad, 128-bit tag. Encrypts or decrypts `in` into `out` (*out_len: capacity
 * in, length out). Returns the CK_RV; CKR_HOST_MEMORY if the associated data cannot be
 * assembled. */
static CK_RV gcm_blob(struct mpc_token *t, CK_OBJECT_HANDLE k, int decrypt, const uint8_t *hdr,
		      uint8_t *iv, const uint8_t *aad, size_t aad_len, const uint8_t *in,
		      size_t in_len, uint8_t *out, CK_ULONG *out_len)
{
	uint8_t aad_stack[512];
	uint8_t *gcm_aad =
		HDR_LEN + aad_len <= sizeof(aad_stack) ? aad_stack : malloc(HDR_LEN + aad_len);
	CK_GCM_PARAMS p;
	CK_MECHANISM m = { CKM_AES_GCM, &p, sizeof(p) };
	CK_RV rv;

	if (gcm_aad == NULL)
		return CKR_HOST_MEMORY;
	memcpy(gcm_aad, hdr, HDR_LEN);
	if (aad_len > 0)
		memcpy(gcm_aad + HDR_LEN, aad, aad_len);
	p = (CK_GCM_PARAMS){ iv,      GCM_IV_LEN,        GCM_IV_LEN * 8,
			     gcm_aad, HDR_LEN + aad_len, GCM_TAG_LEN * 8 };
	rv = decrypt ? t->fn->C_DecryptInit(t->session, &m, k)
		     : t->fn->C_EncryptInit(t->session, &m, k);
	if (rv == CKR_OK)
		rv = decrypt ? t->fn->C_Decrypt(t->session, (CK_BYTE_PTR)in, in_len, out, out_len)
			     : t->fn->C_Encrypt(t->session, (CK_BYTE_PTR)in, in_len, out, out_len);
	if (gcm_aad != aad_stack)
		free(gcm_aad);
	return rv;
}

static int seal_once(struct mpc_token *t, enum mpc_seal_mech mech, const uint8_t *aad,
		     size_t aad_len, const uint8_t *pt, size_t n, uint8_t *blob, size_t *blob_len,
		     struct mpc_err *e)
{
	static const uint8_t empty[1] = { 0 };
	const uint8_t *in = n > 0 ? pt : empty;
	CK_OBJECT_HANDLE k, km;
	CK_ULONG out_len;
	CK_RV rv = CKR_OK;
	int rc;

	/* Four magic bytes of a binary blob, not a string. */
	memcpy(blob, BLOB_MAGIC, 4); /* NOLINT(bugprone-not-null-terminated-result) */
	blob[4] = BLOB_VERSION;
	blob[5] = (uint8_t)mech;
	if (mech == MPC_SEAL_AES_GCM) {
		uint8_t *iv = blob + HDR_LEN;

		blob[6] = GCM_IV_LEN;
		if (mpc_seal_max_single_part(t, MPC_SEAL_AES_GCM) != 0 &&
		    n > mpc_seal_max_single_part(t, MPC_SEAL_AES_GCM))
			return over_gcm_limit(t, n, "", e);
		rc = mpc_key_get(t, MPC_KEY_SEAL_GCM, &k, e);
		if (rc == MPC_OK)
			rc = fresh_iv(t, iv, GCM_IV_LEN, e);
		if (rc != MPC_OK)
			return rc;
		out_len = n + GCM_TAG_LEN;
		rv = gcm_blob(t, k, 0, blob, iv, aad, aad_len, in, n, blob + HDR_LEN + GCM_IV_LEN,
			      &out_len);
		/* A token that makes its own IV writes it into the parameters' IV (== iv): it is
		 * stored as is. */
		if (rv != CKR_OK)
			return mpc_fail_ck(e, rv, "C_Encrypt(CKM_AES_GCM)", "mpc-backup-seal-gcm");
		if (out_len != n + GCM_TAG_LEN)
			return mpc_fail(e, MPC_ERR_PKCS11,
					"C_Encrypt(CKM_AES_GCM) returned %lu bytes for %zu",
					out_len, n);
		*blob_len = HDR_LEN + GCM_IV_LEN + out_len;
		return MPC_OK;
	}
	{
		uint8_t *iv = blob + HDR_LEN;
		uint8_t *ct = iv + CBC_IV_LEN;
		CK_MECHANISM m = { CKM_AES_CBC_PAD, iv, CBC_IV_LEN };

		blob[6] = CBC_IV_LEN;
		if (mech == MPC_SEAL_AES_CBC_HMAC && mpc_vendor_rules(t)->hmac_max_input != 0 &&
		    cbc_mac_input(n, aad_len) > mpc_vendor_rules(t)->hmac_max_input)
			return over_hmac_limit(t, n, cbc_mac_input(n, aad_len), e);
		rc = mpc_key_get(t, MPC_KEY_SEAL_CBC, &k, e);
		if (rc == MPC_OK)
			rc = mpc_key_get(t, MPC_KEY_SEAL_HMAC, &km, e);
		if (rc == MPC_OK)
			rc = fresh_iv(t, iv, CBC_IV_LEN, e);
		if (rc != MPC_OK)
			return rc;
		rv = t->fn->C_EncryptInit(t->session, &m, k);
		if (rv == CKR_OK) {
			out_len = (n / 16 + 1) * 16;
			rv = t->fn->C_Encrypt(t->session, (CK_BYTE_PTR)in, n, ct, &out_len);
		}
		if (rv != CKR_OK)
			return mpc_fail_ck(e, rv, "C_Encrypt(CKM_AES_CBC_PAD)",
					   "mpc-backup-seal-cbc");
		rv = hmac_blob(t, km, 0, mech == MPC_SEAL_AES_CBC_HMAC_DIGEST, blob, iv, aad,
			       aad_len, ct, out_len, ct + out_len);
		if (rv != CKR_OK)
			return mpc_fail_ck(e, rv, "C_Sign(CKM_SHA256_HMAC)",
					   "mpc-backup-seal-hmac");
		*blob_len = HDR_LEN + CBC_IV_LEN + out_len + HMAC_LEN;
		return MPC_OK;
	}
}

/* One seal or unseal, as mpc_token_call() runs it (again after a lost session). */
struct seal_call {
	enum mpc_seal_mech mech;
	const uint8_t *aad;
	size_t aad_len;
	const uint8_t *in; /* plaintext to seal, or the blob to open */
	size_t in_len;
	uint8_t *out; /* the blob, or the plaintext */
	size_t *out_len;
};

static int seal_op(struct mpc_token *t, void *arg, struct mpc_err *e)
{
	struct seal_call *a = arg;

	return seal_once(t, a->mech, a->aad, a->aad_len, a->in, a->in_len, a->out, a->out_len, e);
}

size_t mpc_seal_size(size_t n)
{
	return HDR_LEN + CBC_IV_LEN + n + 16 + HMAC_LEN;
}

int mpc_seal_to(struct mpc_token *t, enum mpc_seal_mech mech, const uint8_t *aad, size_t aad_len,
		const uint8_t *pt, size_t n, uint8_t *out, size_t cap, size_t *blob_len,
		struct mpc_err *e)
{
	size_t len = 0;
	int rc;

	*blob_len = 0;
	if (n > MPC_SEAL_MAX_PLAINTEXT)
		return mpc_fail(e, MPC_ERR_TOO_LARGE, "cannot seal %zu bytes (at most %u)", n,
				MPC_SEAL_MAX_PLAINTEXT);
	if (mech == MPC_SEAL_AUTO) {
		rc = mpc_seal_pick_for(t, MPC_SEAL_AUTO, n, &mech, e);
		if (rc != MPC_OK)
			return rc;
	}
	if (mech != MPC_SEAL_AES_GCM && mech != MPC_SEAL_AES_CBC_HMAC &&
	    mech != MPC_SEAL_AES_CBC_HMAC_DIGEST)
		return mpc_fail(e, MPC_ERR_USAGE, "unknown sealing mechanism %d", (int)mech);
	if (cap < mpc_seal_size(n))
		return mpc_fail(e, MPC_ERR_TOO_LARGE, "sealing %zu bytes needs a %zu-byte buffer",
				n, mpc_seal_size(n));
	{
		struct seal_call a = { mech, aad, aad_len, pt, n, out, &len };

		rc = mpc_token_call(t, seal_op, &a, e);
	}
	if (rc == MPC_OK)
		*blob_len = len;
	return rc;
}

int mpc_seal(struct mpc_token *t, enum mpc_seal_mech mech, const uint8_t *aad, size_t aad_len,
	     const uint8_t *pt, size_t n, uint8_t **blob, size_t *blob_len, struct mpc_err *e)
{
	uint8_t *out;
	int rc;

	*blob = NULL;
	*blob_len = 0;
	if (n > MPC_SEAL_MAX_PLAINTEXT)
		return mpc_fail(e, MPC_ERR_TOO_LARGE, "cannot seal %zu bytes (at most %u)", n,
				MPC_SEAL_MAX_PLAINTEXT);
	out = malloc(mpc_seal_size(n));
	if (out == NULL)
		return mpc_fail(e, MPC_ERR_NOMEM, "out of memory sealing %zu bytes", n);
	rc = mpc_seal_to(t, mech, aad, aad_len, pt, n, out, mpc_seal_size(n), blob_len, e);
	if (rc != MPC_OK) {
		free(out);
		return rc;
	}
	*blob = out;
	return MPC_OK;
}

int mpc_seal_blob_mech(const uint8_t *blob, size_t blob_len, enum mpc_seal_mech *out,
		       struct mpc_err *e)
{
	if (blob_len < HDR_LEN || memcmp(blob, BLOB_MAGIC, 4) != 0)
		return mpc_fail(e, MPC_ERR_PARSE, "sealed data: bad magic (not a sealed blob)");
	if (blob[4] != BLOB_VERSION)
		return mpc_fail(e, MPC_ERR_PARSE, "sealed data: unsupported version %u", blob[4]);
	if (blob[5] == MPC_SEAL_AES_GCM && blob[6] == GCM_IV_LEN &&
	    blob_len >= HDR_LEN + GCM_IV_LEN + GCM_TAG_LEN) {
		*out = MPC_SEAL_AES_GCM;
		return MPC_OK;
	}
	if ((blob[5] == MPC_SEAL_AES_CBC_HMAC || blob[5] == MPC_SEAL_AES_CBC_HMAC_DIGEST) &&
	    blob[6] == CBC_IV_LEN && blob_len >= HDR_LEN + CBC_IV_LEN + 16 + HMAC_LEN &&
	    (blob_len - HDR_LEN - CBC_IV_LEN - HMAC_LEN) % 16 == 0) {
		*out = (enum mpc_seal_mech)blob[5];
		return MPC_OK;
	}
	if (blob[5] != MPC_SEAL_AES_GCM && blob[5] != MPC_SEAL_AES_CBC_HMAC &&
	    blob[5] != MPC_SEAL_AES_CBC_HMAC_DIGEST)
		return mpc_fail(e, MPC_ERR_PARSE, "sealed data: unknown mechanism %u", blob[5]);
	return mpc_fail(e, MPC_ERR_AUTH, "sealed data is truncated or has a bad IV length");
}

/* 1 if a failed GCM decryption's rv says the blob is not what was sealed (a bad tag, a bad
 * length) rather than that the token failed. CKR_GENERAL_ERROR and CKR_FUNCTION_FAILED are
 * what some modules answer for a bad tag; a token that went away meanwhile is still told
 * apart by the probe in mpc_token_classify. */
static int gcm_rv_is_bad_data(CK_RV rv)
{
	return rv == CKR_ENCRYPTED_DATA_INVALID || rv == CKR_ENCRYPTED_DATA_LEN_RANGE ||
	       rv == CKR_DATA_INVALID || rv == CKR_DATA_LEN_RANGE || rv == CKR_GENERAL_ERROR ||
	       rv == CKR_FUNCTION_FAILED;
}

static int unseal_once(struct mpc_token *t, enum mpc_seal_mech mech, const uint8_t *aad,
		       size_t aad_len, const uint8_t *blob, size_t blob_len, uint8_t *pt,
		       size_t *pt_len, struct mpc_err *e)
{
	CK_OBJECT_HANDLE k, km;
	CK_ULONG out_len = blob_len;
	CK_RV rv;
	int rc;

	if (mech == MPC_SEAL_AES_GCM) {
		uint8_t iv[GCM_IV_LEN];
		size_t lim = mpc_vendor_rules(t)->gcm_max_input;

		if (lim != 0 && blob_len - HDR_LEN - GCM_IV_LEN > lim)
			return mpc_fail(
				e, MPC_ERR_TOO_LARGE,
				"token \"%s\" (%s) cannot open this AES-GCM blob: %zu bytes "
				"are over its single-part limit of %zu bytes of input; open it "
				"with another token it is sealed to",
				MPC_TOKEN_LABEL(t), mpc_token_kind_name(mpc_vendor_rules(t)->kind),
				blob_len - HDR_LEN - GCM_IV_LEN, lim);
		rc = mpc_key_get(t, MPC_KEY_SEAL_GCM, &k, e);
		if (rc != MPC_OK)
			return rc;
		memcpy(iv, blob + HDR_LEN, GCM_IV_LEN);
		rv = gcm_blob(t, k, 1, blob, iv, aad, aad_len, blob + HDR_LEN + GCM_IV_LEN,
			      blob_len - HDR_LEN - GCM_IV_LEN, pt, &out_len);
		if (rv != CKR_OK) {
			if (mpc_token_rv_is_lost_session(rv) || rv == CKR_HOST_MEMORY)
				return mpc_fail_ck(e, rv, "C_Decrypt(CKM_AES_GCM)",
						   "mpc-backup-seal-gcm");
			/* Tokens differ in what they return for a bad tag (SoftHSM2:
			 * CKR_ENCRYPTED_DATA_INVALID); those are a verdict on the data, the
			 * associated data or the key. Anything else is the token failing. */
			if (!gcm_rv_is_bad_data(rv))
				return mpc_fail_ck(e, rv, "C_Decrypt(CKM_AES_GCM)",
						   "mpc-backup-seal-gcm");
			rc = mpc_fail(e, MPC_ERR_AUTH,
				      "sealed data failed authentication (%s): it was altered, "
				      "truncated, moved, or sealed by another key",
				      mpc_ckr_name(rv));
			/* kept, so that a token that went away meanwhile is told apart (presence.c) */
			if (e != NULL)
				e->ckr = rv;
			return rc;
		}
		*pt_len = out_len;
		return MPC_OK;
	}
	{
		const uint8_t *iv = blob + HDR_LEN;
		const uint8_t *ct = iv + CBC_IV_LEN;
		size_t ct_len = blob_len - HDR_LEN - CBC_IV_LEN - HMAC_LEN;
		CK_MECHANISM m = { CKM_AES_CBC_PAD, (void *)iv, CBC_IV_LEN };
		size_t mac_in = HDR_LEN + CBC_IV_LEN + 8 + aad_len + ct_len;
		size_t lim = mpc_vendor_rules(t)->hmac_max_input;

		if (mech == MPC_SEAL_AES_CBC_HMAC && lim != 0 && mac_in > lim)
			return mpc_fail(
				e, MPC_ERR_TOO_LARGE,
				"token \"%s\" (%s) cannot check this blob's HMAC: it covers "
				"%zu bytes, over the %zu it takes in one message; open it with "
				"another token it is sealed to",
				MPC_TOKEN_LABEL(t), mpc_token_kind_name(mpc_vendor_rules(t)->kind),
				mac_in, lim);
		rc = mpc_key_get(t, MPC_KEY_SEAL_CBC, &k, e);
		if (rc == MPC_OK)
			rc = mpc_key_get(t, MPC_KEY_SEAL_HMAC, &km, e);
		if (rc != MPC_OK)
			return rc;
		rv = hmac_blob(t, km, 1, mech == MPC_SEAL_AES_CBC_HMAC_DIGEST, blob, iv, aad,
			       aad_len, ct, ct_len, (uint8_t *)(uintptr_t)(ct + ct_len));
		if (rv != CKR_OK) {
			if (mpc_token_rv_is_lost_session(rv) || mpc_ckr_class(rv) != MPC_ERR_AUTH)
				return mpc_fail_ck(e, rv, "C_Verify(CKM_SHA256_HMAC)",
						   "mpc-backup-seal-hmac");
			return mpc_fail(e, MPC_ERR_AUTH,
					"sealed data failed authentication (HMAC mismatch): it was "
					"altered, truncated, moved, or sealed by another key");
		}
		rv = t->fn->C_DecryptInit(t->session, &m, k);
		if (rv == CKR_OK)
			rv = t->fn->C_Decrypt(t->session, (CK_BYTE_PTR)ct, ct_len, pt, &out_len);
		if (rv != CKR_OK)
			return mpc_fail_ck(e, rv, "C_Decrypt(CKM_AES_CBC_PAD)",
					   "mpc-backup-seal-cbc");
		*pt_len = out_len;
		return MPC_OK;
	}
}

static int unseal_op(struct mpc_token *t, void *arg, struct mpc_err *e)
{
	struct seal_call *a = arg;

	return unseal_once(t, a->mech, a->aad, a->aad_len, a->in, a->in_len, a->out, a->out_len, e);
}

int mpc_unseal_to(struct mpc_token *t, const uint8_t *aad, size_t aad_len, const uint8_t *blob,
		  size_t blob_len, uint8_t *out, size_t cap, size_t *pt_len, struct mpc_err *e)
{
	enum mpc_seal_mech mech = MPC_SEAL_AUTO;
	size_t len = 0;
	int rc;

	*pt_len = 0;
	rc = mpc_seal_blob_mech(blob, blob_len, &mech, e);
	if (rc != MPC_OK)
		return rc;
	if (blob_len > MPC_SEAL_MAX_PLAINTEXT + 256)
		return mpc_fail(e, MPC_ERR_TOO_LARGE, "sealed data of %zu bytes is over the limit",
				blob_len);
	if (out == NULL || cap < blob_len)
		return mpc_fail(e, MPC_ERR_TOO_LARGE,
				"opening %zu sealed bytes needs a %zu-byte buffer", blob_len,
				blob_len);
	{
		struct seal_call a = { mech, aad, aad_len, blob, blob_len, out, &len };

		rc = mpc_token_call(t, unseal_op, &a, e);
	}
	if (rc != MPC_OK) {
		mpc_memzero(out, cap);
		return rc;
	}
	*pt_len = len;
	return MPC_OK;
}

int mpc_unseal(struct mpc_token *t, const uint8_t *aad, size_t aad_len, const uint8_t *blob,
	       size_t blob_len, uint8_t **pt, size_t *pt_len, struct mpc_err *e)
{
	uint8_t *out;
	int rc;

	*pt = NULL;
	*pt_len = 0;
	if (blob_len > MPC_SEAL_MAX_PLAINTEXT + 256)
		return mpc_fail(e, MPC_ERR_TOO_LARGE, "sealed data of %zu bytes is over the limit",
				blob_len);
	out = mpc_secure_alloc(blob_len, e);
	if (out == NULL)
		return MPC_ERR_NOMEM;
	rc = mpc_unseal_to(t, aad, aad_len, blob, blob_len, out, blob_len, pt_len, e);
	if (rc != MPC_OK) {
		mpc_secure_free(out);
		*pt_len = 0;
		return rc;
	}
	*pt = out;
	return MPC_OK;
}
