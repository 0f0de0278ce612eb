/* test_encoding.c: hex, base58 and base64 against known vectors and hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "src/util/encoding.h"

static void test_hex(void **state)
{
	uint8_t out[4];
	char s[9];
	size_t n;
	struct mpc_err e = { 0 };

	(void)state;
	assert_int_equal(mpc_hex_decode("00fFa1", 6, out, sizeof(out), &n, "x", &e), MPC_OK);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "\x00\xff\xa1", 3);
	assert_int_equal(mpc_hex_encode(out, 3, s, sizeof(s), &e), MPC_OK);
	assert_string_equal(s, "00ffa1");
	assert_int_equal(mpc_hex_decode("abc", 3, out, sizeof(out), &n, "field", &e), MPC_ERR_PARSE);
	assert_non_null(strstr(e.msg, "field"));
	mpc_err_clear(&e);
	assert_int_equal(mpc_hex_decode("zz", 2, out, sizeof(out), &n, "x", &e), MPC_ERR_PARSE);
	mpc_err_clear(&e);
	assert_int_equal(mpc_hex_decode("0011223344", 10, out, sizeof(out), &n, "x", &e),
			 MPC_ERR_TOO_LARGE);
	mpc_err_clear(&e);
	assert_int_equal(mpc_hex_encode(out, 4, s, 8, &e), MPC_ERR_TOO_LARGE);
}

static void test_base58(void **state)
{
	/* Vectors from the Bitcoin base58 test set. */
	static const struct {
		const char *hex, *b58;
	} v[] = {
		{ "", "" },
		{ "61", "2g" },
		{ "626262", "a3gV" },
		{ "636363", "aPEr" },
		{ "73696d706c792061206c6f6e6720737472696e67", "2cFupjhnEsSn59qHXstmK2ffpLv2" },
		{ "00eb15231dfceb60925886b67d065299925915aeb172c06647", "1NS17iag9jJgTHD1VXjvLCEnZuQ3rJDE9L" },
		{ "516b6fcd0f", "ABnLTmg" },
		{ "0000287fb4cd", "11233QC4" },
	};
	struct mpc_err e = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t bin[64], back[64];
		size_t n = 0, m = 0;
		char s[128];

		assert_int_equal(mpc_hex_decode(v[i].hex, strlen(v[i].hex), bin, sizeof(bin), &n, "v", &e), MPC_OK);
		assert_int_equal(mpc_base58_encode(bin, n, s, sizeof(s), &e), MPC_OK);
		assert_string_equal(s, v[i].b58);
		if (n == 0)
			continue;
		assert_int_equal(mpc_base58_decode(s, strlen(s), back, sizeof(back), &m, "v", &e), MPC_OK);
		assert_int_equal(m, n);
		assert_memory_equal(back, bin, n);
	}
	{
		uint8_t out[8];
		size_t n;

		assert_int_equal(mpc_base58_decode("0OIl", 4, out, sizeof(out), &n, "key", &e), MPC_ERR_PARSE);
		mpc_err_clear(&e);
		assert_int_equal(mpc_base58_decode("", 0, out, sizeof(out), &n, "key", &e), MPC_ERR_PARSE);
		mpc_err_clear(&e);
		assert_int_equal(mpc_base58_decode("2cFupjhnEsSn59qHXstmK2ffpLv2", 28, out, sizeof(out), &n, "key", &e),
				 MPC_ERR_TOO_LARGE);
	}
}

static void test_ed25519_key(void **state)
{
	/* A real participant key from the mainnet contract fixture. */
	const char *k = "ed25519:2XPuwqhg71RXRiTUMKGapd8FYWgXnxVvydYBK9tS1ex2";
	uint8_t key[32];
	char s[MPC_ED25519_KEY_STR_MAX];
	struct mpc_err e = { 0 };

	(void)state;
	assert_int_equal(mpc_ed25519_key_parse(k, key, "tls_public_key", &e), MPC_OK);
	assert_int_equal(mpc_ed25519_key_format(key, s, &e), MPC_OK);
	assert_string_equal(s, k);
	assert_int_equal(mpc_ed25519_key_parse("secp256k1:2XPu", key, "k", &e), MPC_ERR_PARSE);
	mpc_err_clear(&e);
	assert_int_equal(mpc_ed25519_key_parse("ed25519:2XPu", key, "k", &e), MPC_ERR_PARSE);
	assert_non_null(strstr(e.msg, "32 bytes"));
	mpc_err_clear(&e);
	assert_int_equal(mpc_ed25519_key_parse(NULL, key, "k", &e), MPC_ERR_PARSE);
}

static void test_base64(void **state)
{
	static const char *plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *enc[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	static const char *bad[] = { "Zg=", "Z===", "Zh==", "Zm9=", "Zm 9", "=Zm9", "Zg==Zg==", "Zm9v\n" };
	struct mpc_err e = { 0 };

	(void)state;
	for (size_t i = 0; i < 7; i++) {
		char s[16];
		uint8_t out[16];
		size_t n;

		assert_int_equal(mpc_base64_encode((const uint8_t *)plain[i], strlen(plain[i]), s, sizeof(s), &e), MPC_OK);
		assert_string_equal(s, enc[i]);
		assert_int_equal(mpc_base64_decode(enc[i], strlen(enc[i]), out, sizeof(out), &n, "b", &e), MPC_OK);
		assert_int_equal(n, strlen(plain[i]));
		assert_memory_equal(out, plain[i], n);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t out[16];
		size_t n;

		mpc_err_clear(&e);
		assert_int_equal(mpc_base64_decode(bad[i], strlen(bad[i]), out, sizeof(out), &n, "body", &e),
				 MPC_ERR_PARSE);
		assert_non_null(strstr(e.msg, "body"));
	}
	{
		uint8_t out[2];
		size_t n;

		mpc_err_clear(&e);
		assert_int_equal(mpc_base64_decode("Zm9v", 4, out, sizeof(out), &n, "b", &e), MPC_ERR_TOO_LARGE);
	}
}

static void test_err_first_wins(void **state)
{
	struct mpc_err e = { 0 };

	(void)state;
	assert_int_equal(mpc_fail(&e, MPC_ERR_PIN, "inner %d", 1), MPC_ERR_PIN);
	assert_int_equal(mpc_fail(&e, MPC_ERR_PKCS11, "outer"), MPC_ERR_PIN);
	assert_string_equal(e.msg, "inner 1");
	mpc_err_prefix(&e, "login: ");
	assert_string_equal(e.msg, "login: inner 1");
	assert_int_equal(mpc_fail(NULL, MPC_ERR_IO, "x"), MPC_ERR_IO);
	assert_string_equal(mpc_errname(MPC_ERR_PIN), "MPC_ERR_PIN");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_base58),
		cmocka_unit_test(test_ed25519_key),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_err_first_wins),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
