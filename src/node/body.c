/* body.c: base64(nonce || AES-256-GCM ciphertext || tag) bodies, and the transport key sources.
 * See body.h. */
#include "src/node/body.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "src/util/encoding.h"
#include "src/util/file.h"
#include "src/util/mem.h"

int mpc_transport_key_from_hex(struct mpc_transport_key *k, const char *hex, size_t len,
			       struct mpc_err *e)
{
	uint8_t *key = NULL;
	size_t n = 0;
	int rc;

	if (k == NULL || hex == NULL)
		return mpc_fail(e, MPC_ERR_USAGE, "transport key: no input");
	memset(k, 0, sizeof(*k));
	if (len > 0 && hex[len - 1] == '\n')
		len--;
	if (len > 0 && hex[len - 1] == '\r')
		len--;
	if (len != 2 * MPC_TRANSPORT_KEY_LEN) {
		rc = mpc_fail(e, MPC_ERR_PARSE,
			      "transport key: expected 64 hex characters, got %zu characters", len);
		goto out;
	}
	key = mpc_secure_alloc(MPC_TRANSPORT_KEY_LEN, e);
	if (key == NULL) {
		rc = MPC_ERR_NOMEM;
		goto out;
	}
	rc = mpc_hex_decode(hex, len, key, MPC_TRANSPORT_KEY_LEN, &n, "transport key", NULL);
	if (rc != MPC_OK || n != MPC_TRANSPORT_KEY_LEN) {
		/* the decoder's message could quote key characters: use our own */
		rc = mpc_fail(e, MPC_ERR_PARSE, "transport key: not 64 hex characters");
		goto out;
	}
	k->sw = key;
	key = NULL;
	rc = MPC_OK;
out:
	mpc_secure_free(key);
	return rc;
}

int mpc_transport_key_from_env(struct mpc_transport_key *k, const char *var, struct mpc_err *e)
{
	const char *name = var != NULL ? var : MPC_TRANSPORT_KEY_ENV;
	const char *v = getenv(name);
	int rc;

	if (v == NULL)
		return mpc_fail(e, MPC_ERR_NOT_FOUND, "transport key: %s is not set", name);
	rc = mpc_transport_key_from_hex(k, v, strlen(v), e);
	if (rc != MPC_OK)
		mpc_err_prefix(e, "%s: ", name);
	return rc;
}

int mpc_transport_key_from_file(struct mpc_transport_key *k, const char *path, struct mpc_err *e)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	rc = mpc_file_read_checked(path, 4096, 1, 0007, &buf, &len, e);
	if (rc != MPC_OK)
		goto out;
	rc = mpc_transport_key_from_hex(k, (const char *)buf, len, e);
	if (rc != MPC_OK)
		mpc_err_prefix(e, "%s: ", path);
out:
	mpc_secure_free(buf);
	return rc;
}

void mpc_transport_key_set_callbacks(struct mpc_transport_key *k, mpc_transport_encrypt_fn enc,
				     mpc_transport_decrypt_fn dec, void *ctx)
{
	if (k == NULL)
		return;
	mpc_secure_free(k->sw);
	k->sw = NULL;
	k->encrypt = enc;
	k->decrypt = dec;
	k->ctx = ctx;
}

void mpc_transport_key_clear(struct mpc_transport_key *k)
{
	if (k == NULL)
		return;
	mpc_secure_free(k->sw);
	memset(k, 0, sizeof(*k));
}

static int sw_gcm(const uint8_t *key, int enc, const uint8_t iv[12], const uint8_t *in, size_t n,
		  uint8_t *out, uint8_t tag[16], struct mpc_err *e)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int outl = 0, fin = 0, rc = MPC_ERR_INTERNAL;

	if (n > (size_t)INT32_MAX) {
		rc = mpc_fail(e, MPC_ERR_TOO_LARGE, "body of %zu bytes is too large", n);
		goto out;
	}
	if (c == NULL || EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) != 1 ||
	    EVP_CipherInit_ex(c, NULL, NULL, key, iv, enc) != 1 ||
	    (n > 0 && EVP_CipherUpdate(c, out, &outl, in, (int)n) != 1) ||
	    (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag) != 1)) {
		rc = mpc_fail(e, MPC_ERR_INTERNAL, "AES-256-GCM setup failed");
		goto out;
	}
	if (EVP_CipherFinal_ex(c, out + outl, &fin) != 1) {
		rc = enc ? mpc_fail(e, MPC_ERR_INTERNAL, "AES-256-GCM encryption failed")
			 : mpc_fail(e, MPC_ERR_AUTH, "wrong transport key or corrupted body");
		goto out;
	}
	if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag) != 1) {
		rc = mpc_fail(e, MPC_ERR_INTERNAL, "AES-256-GCM tag retrieval failed");
		goto out;
	}
	rc = MPC_OK;
out:
	ERR_clear_error();
	EVP_CIPHER_CTX_free(c);
	return rc;
}

int mpc_body_encrypt(const struct mpc_transport_key *k, const uint8_t *pt, size_t n, char **body,
		     size_t *body_len, struct mpc_err *e)
{
	uint8_t *raw = NULL;
	char *b64 = NULL;
	size_t raw_len, b64_cap;
	int rc;

	if (body != NULL)
		*body = NULL;
	if (body_len != NULL)
		*body_len = 0;
	if (k == NULL || body == NULL || (pt == NULL && n > 0) ||
	    (k->sw == NULL && k->encrypt == NULL)) {
		rc = mpc_fail(e, MPC_ERR_USAGE, "body encryption: no transport key");
		goto out;
	}
	if (n > (size_t)1 << 30) {
		rc = mpc_fail(e, MPC_ERR_TOO_LARGE, "body of %zu bytes is too large", n);
		goto out;
	}
	raw_len = MPC_BODY_NONCE_LEN + n + MPC_BODY_TAG_LEN;
	raw = malloc(raw_len);
	b64_cap = mpc_base64_encoded_len(raw_len);
	b64 = malloc(b64_cap);
	if (raw == NULL || b64 == NULL) {
		rc = mpc_fail(e, MPC_ERR_NOMEM, "body encryption: out of memory");
		goto out;
	}
	if (RAND_bytes(raw, MPC_BODY_NONCE_LEN) != 1) {
		ERR_clear_error();
		rc = mpc_fail(e, MPC_ERR_INTERNAL, "no randomness for the body nonce");
		goto out;
	}
	if (k->sw != NULL)
		rc = sw_gcm(k->sw, 1, raw, pt, n, raw + MPC_BODY_NONCE_LEN,
			    raw + MPC_BODY_NONCE_LEN + n, e);
	else
		rc = k->encrypt(k->ctx, raw, pt, n, raw + MPC_BODY_NONCE_LEN, e);
	if (rc != MPC_OK)
		goto out;
	rc = mpc_base64_encode(raw, raw_len, b64, b64_cap, e);
	if (rc != MPC_OK)
		goto out;
	*body = b64;
	if (body_len != NULL)
		*body_len = strlen(b64);
	b64 = NULL;
out:
	free(raw);
	free(b64);
	return rc;
}

int mpc_body_decrypt(const struct mpc_transport_key *k, const char *body, size_t len,
		     size_t max_len, uint8_t **pt, size_t *pt_len, struct mpc_err *e)
{
	uint8_t *raw = NULL, *plain = NULL;
	size_t raw_cap, raw_len = 0, n;
	int rc;

	if (pt != NULL)
		*pt = NULL;
	if (pt_len != NULL)
		*pt_len = 0;
	if (k == NULL || pt == NULL || pt_len == NULL || (body == NULL && len > 0) ||
	    (k->sw == NULL && k->decrypt == NULL)) {
		rc = mpc_fail(e, MPC_ERR_USAGE, "body decryption: no transport key");
		goto out;
	}
	if (len > max_len) {
		rc = mpc_fail(e, MPC_ERR_TOO_LARGE,
			      "encrypted body of %zu bytes is over the limit of %zu", len, max_len);
		goto out;
	}
	raw_cap = mpc_base64_decoded_max(len);
	raw = malloc(raw_cap > 0 ? raw_cap : 1);
	if (raw == NULL) {
		rc = mpc_fail(e, MPC_ERR_NOMEM, "body decryption: out of memory");
		goto out;
	}
	rc = mpc_base64_decode(body, len, raw, raw_cap, &raw_len, "encrypted body", NULL);
	if (rc != MPC_OK) {
		/* do not echo the body: name the failure only */
		rc = mpc_fail(e, MPC_ERR_PARSE, "encrypted body is not valid base64 (%zu bytes)",
			      len);
		goto out;
	}
	if (raw_len < MPC_BODY_NONCE_LEN + MPC_BODY_TAG_LEN) {
		rc = mpc_fail(e, MPC_ERR_PARSE,
			      "encrypted body too short (%zu bytes, need nonce and tag)", raw_len);
		goto out;
	}
	n = raw_len - MPC_BODY_NONCE_LEN - MPC_BODY_TAG_LEN;
	plain = mpc_secure_alloc(n + 1, e);
	if (plain == NULL) {
		rc = MPC_ERR_NOMEM;
		goto out;
	}
	if (k->sw != NULL)
		rc = sw_gcm(k->sw, 0, raw, raw + MPC_BODY_NONCE_LEN, n, plain,
			    raw + MPC_BODY_NONCE_LEN + n, e);
	else
		rc = k->decrypt(k->ctx, raw, raw + MPC_BODY_NONCE_LEN, n, plain, e);
	if (rc != MPC_OK)
		goto out;
	plain[n] = 0;
	*pt = plain;
	*pt_len = n;
	plain = NULL;
out:
	free(raw);
	mpc_secure_free(plain);
	return rc;
}
