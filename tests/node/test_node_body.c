/* test_node_body.c: body encryption round trips, an independent known-answer vector, failure
 * modes (wrong key, truncated, garbage, oversize) and the transport key sources. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "src/node/body.h"
#include "src/util/encoding.h"
#include "src/util/file.h"
#include "src/util/mem.h"

static const char key_hex[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
/* pyca/cryptography AESGCM(key 00..1f), nonce 64..6f, no AAD; base64(nonce||ct||tag) */
static const char kat_body[] =
	"ZGVmZ2hpamtsbW5vE2D8DRyQCfdaQGWT+AAakiGqWWPvTslGi/PIJ5bCzCbLgCTidiK3JpyHDFqQMr6Qcj+63RJ+"
	"cVWHrGAvcUm1LGWd+Dh4JT5aY98=";
static const char kat_plain[] = "[{\"key_id\":{\"epoch_id\":4,\"domain_id\":0,\"attempt_id\":240}}]";

static void load(struct mpc_transport_key *k, const char *hx)
{
	assert_int_equal(mpc_transport_key_from_hex(k, hx, strlen(hx), NULL), MPC_OK);
}

static void test_known_answer(void **state)
{
	struct mpc_transport_key k;
	uint8_t *pt = NULL;
	size_t n = 0;

	(void)state;
	load(&k, key_hex);
	assert_int_equal(mpc_body_decrypt(&k, kat_body, strlen(kat_body), 1 << 20, &pt, &n, NULL),
			 MPC_OK);
	assert_int_equal(n, strlen(kat_plain));
	assert_memory_equal(pt, kat_plain, n);
	assert_int_equal(pt[n], 0);
	mpc_secure_free(pt);
	mpc_transport_key_clear(&k);
	assert_null(k.sw);
}

static void test_round_trip_and_format(void **state)
{
	struct mpc_transport_key k;
	char *body = NULL, *body2 = NULL;
	size_t blen = 0, blen2 = 0, n = 0, rawn = 0;
	uint8_t *pt = NULL, raw[256];

	(void)state;
	load(&k, key_hex);
	assert_int_equal(mpc_body_encrypt(&k, (const uint8_t *)kat_plain, strlen(kat_plain), &body,
					  &blen, NULL), MPC_OK);
	assert_int_equal(blen, strlen(body));
	assert_int_equal(mpc_base64_decode(body, blen, raw, sizeof(raw), &rawn, "b", NULL), MPC_OK);
	assert_int_equal(rawn, 12 + strlen(kat_plain) + 16);
	/* fresh nonce each time */
	assert_int_equal(mpc_body_encrypt(&k, (const uint8_t *)kat_plain, strlen(kat_plain), &body2,
					  &blen2, NULL), MPC_OK);
	assert_true(strcmp(body, body2) != 0);
	assert_int_equal(mpc_body_decrypt(&k, body, blen, 1 << 20, &pt, &n, NULL), MPC_OK);
	assert_int_equal(n, strlen(kat_plain));
	assert_memory_equal(pt, kat_plain, n);
	mpc_secure_free(pt);
	/* empty plaintext works too */
	free(body2);
	assert_int_equal(mpc_body_encrypt(&k, NULL, 0, &body2, &blen2, NULL), MPC_OK);
	assert_int_equal(mpc_body_decrypt(&k, body2, blen2, 1 << 20, &pt, &n, NULL), MPC_OK);
	assert_int_equal(n, 0);
	mpc_secure_free(pt);
	free(body);
	free(body2);
	mpc_transport_key_clear(&k);
}

static void test_failures(void **state)
{
	struct mpc_transport_key k, wrong;
	struct mpc_err e = { 0 };
	uint8_t *pt = (uint8_t *)1;
	size_t n = 7;
	char buf[256];

	(void)state;
	load(&k, key_hex);
	load(&wrong, "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
	assert_int_equal(mpc_body_decrypt(&wrong, kat_body, strlen(kat_body), 1 << 20, &pt, &n, &e),
			 MPC_ERR_AUTH);
	assert_string_equal(e.msg, "wrong transport key or corrupted body");
	assert_null(pt);
	assert_int_equal(n, 0);
	mpc_err_clear(&e);
	/* one flipped ciphertext character */
	snprintf(buf, sizeof(buf), "%s", kat_body);
	buf[30] = buf[30] == 'A' ? 'B' : 'A';
	assert_int_equal(mpc_body_decrypt(&k, buf, strlen(buf), 1 << 20, &pt, &n, &e), MPC_ERR_AUTH);
	mpc_err_clear(&e);
	/* truncated by one base64 quantum: a wrong tag */
	assert_int_equal(mpc_body_decrypt(&k, kat_body, strlen(kat_body) - 4, 1 << 20, &pt, &n, &e),
			 MPC_ERR_AUTH);
	mpc_err_clear(&e);
	/* truncated mid-quantum: not base64 */
	assert_int_equal(mpc_body_decrypt(&k, kat_body, strlen(kat_body) - 3, 1 << 20, &pt, &n, &e),
			 MPC_ERR_PARSE);
	mpc_err_clear(&e);
	/* shorter than nonce + tag */
	assert_int_equal(mpc_body_decrypt(&k, "AAAAAAAAAAAA", 12, 1 << 20, &pt, &n, &e), MPC_ERR_PARSE);
	mpc_err_clear(&e);
	/* the node's plain-text failure body, and whitespace */
	assert_int_equal(mpc_body_decrypt(&k, "internal error serializing or encrypting keyshares",
					  50, 1 << 20, &pt, &n, &e), MPC_ERR_PARSE);
	assert_null(strstr(e.msg, "internal error")); /* the body is not echoed */
	mpc_err_clear(&e);
	snprintf(buf, sizeof(buf), "%s\n", kat_body);
	assert_int_equal(mpc_body_decrypt(&k, buf, strlen(buf), 1 << 20, &pt, &n, &e), MPC_ERR_PARSE);
	mpc_err_clear(&e);
	/* over the bound: refused before decoding */
	assert_int_equal(mpc_body_decrypt(&k, kat_body, strlen(kat_body), 16, &pt, &n, &e),
			 MPC_ERR_TOO_LARGE);
	mpc_err_clear(&e);
	/* no key at all */
	mpc_transport_key_clear(&wrong);
	assert_int_equal(mpc_body_decrypt(&wrong, kat_body, strlen(kat_body), 1 << 20, &pt, &n, &e),
			 MPC_ERR_USAGE);
	mpc_transport_key_clear(&k);
}

static void test_key_sources(void **state)
{
	struct mpc_transport_key k;
	struct mpc_err e = { 0 };
	char path[] = "/tmp/mpc-tk-XXXXXX", line[80];
	int fd;

	(void)state;
	snprintf(line, sizeof(line), "%s\n", key_hex);
	assert_int_equal(mpc_transport_key_from_hex(&k, line, strlen(line), NULL), MPC_OK);
	assert_int_equal(mpc_secure_size(k.sw), 32);
	assert_int_equal(k.sw[31], 0x1f);
	mpc_transport_key_clear(&k);
	/* wrong length and non-hex: the message never quotes the input */
	assert_int_equal(mpc_transport_key_from_hex(&k, key_hex, 63, &e), MPC_ERR_PARSE);
	mpc_err_clear(&e);
	snprintf(line, sizeof(line), "zz%s", key_hex + 2);
	assert_int_equal(mpc_transport_key_from_hex(&k, line, strlen(line), &e), MPC_ERR_PARSE);
	assert_null(strstr(e.msg, "zz"));
	assert_null(strstr(e.msg, key_hex + 2));
	mpc_err_clear(&e);

	unsetenv(MPC_TRANSPORT_KEY_ENV);
	assert_int_equal(mpc_transport_key_from_env(&k, NULL, &e), MPC_ERR_NOT_FOUND);
	mpc_err_clear(&e);
	setenv(MPC_TRANSPORT_KEY_ENV, key_hex, 1);
	assert_int_equal(mpc_transport_key_from_env(&k, NULL, &e), MPC_OK);
	assert_int_equal(k.sw[0], 0x00);
	mpc_transport_key_clear(&k);
	unsetenv(MPC_TRANSPORT_KEY_ENV);

	fd = mkstemp(path);
	assert_true(fd >= 0);
	snprintf(line, sizeof(line), "%s\n", key_hex);
	assert_int_equal(write(fd, line, strlen(line)), (ssize_t)strlen(line));
	close(fd);
	assert_int_equal(mpc_transport_key_from_file(&k, path, &e), MPC_OK);
	assert_int_equal(k.sw[16], 0x10);
	mpc_transport_key_clear(&k);
	unlink(path);
	assert_true(mpc_transport_key_from_file(&k, path, &e) != MPC_OK);
	assert_null(k.sw);
}

/* A stand-in for the token: software GCM behind the callbacks; it picks its own IV. */
struct fake_token {
	uint8_t key[32];
	int calls;
};

static int tok_encrypt(void *ctx, uint8_t iv[12], const uint8_t *pt, size_t n, uint8_t *ct,
		       struct mpc_err *e)
{
	struct fake_token *t = ctx;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int l = 0, ok;

	(void)e;
	t->calls++;
	memset(iv, 0x42, 12); /* "token-generated" IV, reported back */
	ok = EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, t->key, iv) == 1 &&
	     (n == 0 || EVP_EncryptUpdate(c, ct, &l, pt, (int)n) == 1) &&
	     EVP_EncryptFinal_ex(c, ct + l, &l) == 1 &&
	     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, ct + n) == 1;
	EVP_CIPHER_CTX_free(c);
	return ok ? MPC_OK : MPC_ERR_PKCS11;
}

static int tok_decrypt(void *ctx, const uint8_t iv[12], const uint8_t *ct, size_t n, uint8_t *pt,
		       struct mpc_err *e)
{
	struct fake_token *t = ctx;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int l = 0, ok;

	t->calls++;
	ok = EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, t->key, iv) == 1 &&
	     (n == 0 || EVP_DecryptUpdate(c, pt, &l, ct, (int)n) == 1) &&
	     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, (void *)(ct + n)) == 1 &&
	     EVP_DecryptFinal_ex(c, pt + l, &l) == 1;
	EVP_CIPHER_CTX_free(c);
	return ok ? MPC_OK : mpc_fail(e, MPC_ERR_AUTH, "wrong transport key or corrupted body");
}

static void test_callback_key(void **state)
{
	struct fake_token tok = { .calls = 0 };
	struct mpc_transport_key tk = { 0 }, sw;
	char *body = NULL;
	size_t blen = 0, n = 0;
	uint8_t *pt = NULL;

	(void)state;
	for (int i = 0; i < 32; i++)
		tok.key[i] = (uint8_t)i;
	mpc_transport_key_set_callbacks(&tk, tok_encrypt, tok_decrypt, &tok);
	load(&sw, key_hex);
	/* token decrypts what an independent implementation made */
	assert_int_equal(mpc_body_decrypt(&tk, kat_body, strlen(kat_body), 1 << 20, &pt, &n, NULL),
			 MPC_OK);
	assert_memory_equal(pt, kat_plain, n);
	mpc_secure_free(pt);
	/* software decrypts what the token made, with the token's own IV */
	assert_int_equal(mpc_body_encrypt(&tk, (const uint8_t *)kat_plain, strlen(kat_plain), &body,
					  &blen, NULL), MPC_OK);
	assert_memory_equal(body, "QkJCQkJCQkJCQkJC", 16); /* base64 of 12 x 0x42 */
	assert_int_equal(mpc_body_decrypt(&sw, body, blen, 1 << 20, &pt, &n, NULL), MPC_OK);
	assert_memory_equal(pt, kat_plain, n);
	assert_int_equal(tok.calls, 2);
	mpc_secure_free(pt);
	free(body);
	mpc_transport_key_clear(&sw);
	mpc_transport_key_clear(&tk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_answer),
		cmocka_unit_test(test_round_trip_and_format),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_key_sources),
		cmocka_unit_test(test_callback_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
