/* test_transport.c: the node's transport key imported into the token: bodies encrypted in the
 * token open with the same key in software (OpenSSL, as the node does) and the other way
 * round; a wrong key or a flipped bit is MPC_ERR_AUTH. */
#include "tests/pkcs11/ptest.h"

#include <stdlib.h>

#include <openssl/evp.h>

#include "pkcs11/transport.h"
#include "src/util/mem.h"

static const uint8_t key[32] = "0123456789abcdef0123456789abcdef";

static void sw_gcm(int enc, const uint8_t iv[12], const uint8_t *in, size_t n, uint8_t *out,
		   uint8_t tag[16], int *ok)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int l = 0;

	*ok = EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, key, iv, enc) == 1 &&
	      EVP_CipherUpdate(c, out, &l, in, (int)n) == 1;
	if (!enc)
		EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag);
	*ok = *ok && EVP_CipherFinal_ex(c, out + l, &l) == 1;
	if (enc)
		EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag);
	EVP_CIPHER_CTX_free(c);
}

static void test_token_and_software_agree(void **state)
{
	struct ptest *p = *state;
	const uint8_t msg[] = "[{\"key_id\":{\"epoch_id\":4}}]";
	size_t n = sizeof(msg) - 1;
	uint8_t iv[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	uint8_t ct[64], out[64], tag[16];
	struct mpc_err e = { 0 };
	int ok;

	assert_int_equal(mpc_key_import_transport(p->t, key, &e), MPC_OK);
	assert_int_equal(mpc_transport_token_encrypt(p->t, iv, msg, n, ct, &e), MPC_OK);
	memcpy(tag, ct + n, 16);
	sw_gcm(0, iv, ct, n, out, tag, &ok);
	assert_true(ok);
	assert_memory_equal(out, msg, n);
	sw_gcm(1, iv, msg, n, ct, tag, &ok);
	assert_true(ok);
	memcpy(ct + n, tag, 16);
	memset(out, 0, sizeof(out));
	assert_int_equal(mpc_transport_token_decrypt(p->t, iv, ct, n, out, &e), MPC_OK);
	assert_memory_equal(out, msg, n);
	ct[3] ^= 1;
	assert_int_equal(mpc_transport_token_decrypt(p->t, iv, ct, n, out, &e), MPC_ERR_AUTH);
	assert_non_null(strstr(e.msg, "wrong transport key"));
}

static void test_no_transport_key(void **state)
{
	struct ptest *p = *state;
	uint8_t iv[12] = { 0 }, ct[32];
	struct mpc_err e = { 0 };

	assert_int_equal(mpc_transport_token_encrypt(p->t, iv, (const uint8_t *)"x", 1, ct, &e),
			 MPC_ERR_OBJECT_NOT_FOUND);
	assert_non_null(strstr(e.msg, "mpc-backup-transport"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_token_and_software_agree, ptest_setup, ptest_teardown),
		cmocka_unit_test_setup_teardown(test_no_transport_key, ptest_setup, ptest_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
