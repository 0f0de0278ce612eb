/* test_contract_keyset.c: Keyset parse/emit/compare on the mainnet keyset and hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "src/model/keyset.h"
#include "src/model/near_key.h"

static const char MAINNET_KEYSET[] =
	"{\"epoch_id\": 4, \"domains\": [{\"domain_id\": 0, \"key\": {\"Secp256k1\": "
	"{\"near_public_key\": \"secp256k1:3tFRbMqmoa6AAALMrEFAYCEoHcqKxeW38YptwowBVBtXK1vo36HDb"
	"UWuR6EZmoK4JcH6HDkNMGGqP1ouV7VZUWya\"}}, \"attempt\": 240}, {\"domain_id\": 1, \"key\": "
	"{\"Ed25519\": {\"near_public_key_compressed\": \"ed25519:G9hwngxWNKdmqMCmU1Yt6LPhFpayJeKF"
	"xyAV1HqMNLtF\", \"edwards_point\": [225, 26, 63, 32, 184, 108, 201, 78, 91, 117, 55, 216, "
	"102, 209, 196, 106, 227, 228, 26, 70, 161, 208, 143, 122, 234, 22, 150, 164, 165, 0, 191, "
	"208]}}, \"attempt\": 0}]}";

static void test_mainnet_keyset_roundtrip(void **state)
{
	struct mpc_keyset ks = { 0 }, ks2 = { 0 }, cp = { 0 };
	struct mpc_err e = { 0 };
	json_t *j;
	char *text;

	(void)state;
	assert_int_equal(mpc_keyset_parse(MAINNET_KEYSET, strlen(MAINNET_KEYSET), &ks, &e), MPC_OK);
	assert_int_equal(ks.epoch_id, 4);
	assert_int_equal(ks.n_domains, 2);
	assert_int_equal(ks.domains[0].curve, MPC_CURVE_SECP256K1);
	assert_int_equal(ks.domains[0].attempt, 240);
	assert_int_equal(ks.domains[0].pk_len, 64);
	assert_int_equal(ks.domains[1].curve, MPC_CURVE_ED25519);
	assert_int_equal(ks.domains[1].pk[0], 225);
	assert_int_equal(ks.domains[1].pk[31], 208);
	assert_non_null(mpc_keyset_domain(&ks, 1));
	assert_null(mpc_keyset_domain(&ks, 2));
	assert_string_equal(mpc_curve_name(MPC_CURVE_BLS12381), "Bls12381");

	j = mpc_keyset_to_json(&ks, &e);
	assert_non_null(j);
	text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_non_null(text);
	/* Field order as the node and contract write it. */
	assert_true(strncmp(text, "{\"epoch_id\":4,\"domains\":[{\"domain_id\":0,\"key\":", 45) == 0);
	assert_non_null(strstr(text, "\"attempt\":240"));
	assert_non_null(strstr(text, "\"edwards_point\":[225,26,63,"));
	assert_int_equal(mpc_keyset_parse(text, strlen(text), &ks2, &e), MPC_OK);
	assert_true(mpc_keyset_equal(&ks, &ks2));
	assert_int_equal(mpc_keyset_copy(&cp, &ks, &e), MPC_OK);
	assert_true(mpc_keyset_equal(&cp, &ks));
	cp.domains[0].attempt = 239;
	assert_false(mpc_keyset_equal(&cp, &ks));
	free(text);
	json_decref(j);
	mpc_keyset_free(&ks);
	mpc_keyset_free(&ks2);
	mpc_keyset_free(&cp);
	mpc_keyset_free(NULL);
}

static void test_bls_and_empty(void **state)
{
	uint8_t pk[96];
	char ks_text[768], key[MPC_NEAR_KEY_STR_MAX];
	struct mpc_keyset ks = { 0 };
	struct mpc_err e = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(pk); i++)
		pk[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(mpc_near_key_format(MPC_CURVE_BLS12381, pk, 96, key, &e), MPC_OK);
	snprintf(ks_text, sizeof(ks_text),
		 "{\"epoch_id\":18446744073709551615,\"domains\":[{\"domain_id\":9,\"attempt\":1,"
		 "\"key\":{\"Bls12381\":{\"public_key\":\"%s\"}},\"extra\":true}],\"unknown\":[1],\"f\":0.12345678901234567890123,\"g\":-123456789012345678901234567890,\"h\":1e-3}",
		 key);
	assert_int_equal(mpc_keyset_parse(ks_text, strlen(ks_text), &ks, &e), MPC_OK);
	assert_true(ks.epoch_id == UINT64_MAX);
	assert_int_equal(ks.domains[0].curve, MPC_CURVE_BLS12381);
	assert_memory_equal(ks.domains[0].pk, pk, 96);
	mpc_keyset_free(&ks);
	assert_int_equal(mpc_keyset_parse("{\"epoch_id\":0,\"domains\":[]}", 27, &ks, &e), MPC_OK);
	assert_int_equal(ks.n_domains, 0);
	mpc_keyset_free(&ks);
}

/* Replace the first occurrence of `from` in the mainnet keyset by `to` and expect a failure
 * whose message contains `want`. */
static void expect_bad(const char *from, const char *to, const char *want)
{
	char buf[4096];
	const char *p = strstr(MAINNET_KEYSET, from);
	struct mpc_keyset ks = { 0 };
	struct mpc_err e = { 0 };
	int rc;

	assert_non_null(p);
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(p - MAINNET_KEYSET), MAINNET_KEYSET, to,
		 p + strlen(from));
	rc = mpc_keyset_parse(buf, strlen(buf), &ks, &e);
	if (rc == MPC_OK || strstr(e.msg, want) == NULL)
		fail_msg("replacing [%s] by [%s]: rc %d msg [%s], wanted [%s]", from, to, rc, e.msg,
			 want);
	assert_int_equal(rc, MPC_ERR_PARSE);
	assert_int_equal(ks.n_domains, 0);
	assert_null(ks.domains);
}

static void test_hostile(void **state)
{
	(void)state;
	expect_bad("\"epoch_id\": 4", "\"epoch\": 4", "keyset.epoch_id: missing");
	expect_bad("\"epoch_id\": 4", "\"epoch_id\": \"4\"", "keyset.epoch_id: expected an unsigned");
	expect_bad("\"epoch_id\": 4", "\"epoch_id\": -1", "keyset.epoch_id: expected an unsigned integer, got a negative");
	expect_bad("\"epoch_id\": 4", "\"epoch_id\": 4.0", "keyset.epoch_id: expected an unsigned integer, got a number with a fraction");
	expect_bad("\"epoch_id\": 4", "\"epoch_id\": 4e2", "keyset.epoch_id");
	expect_bad("\"epoch_id\": 4", "\"epoch_id\": 18446744073709551616", "keyset.epoch_id: integer out of range");
	expect_bad("\"epoch_id\": 4", "\"epoch_id\": -18446744073709551616", "keyset.epoch_id: expected an unsigned integer, got a negative");
	expect_bad("\"epoch_id\": 4", "\"epoch_id\": 99999999999999999999999999999999", "keyset.epoch_id: integer out of range");
	expect_bad("\"epoch_id\": 4", "\"epoch_id\": 4, \"epoch_id\": 5", "duplicate");
	expect_bad("\"attempt\": 240", "\"attempt\": null", "keyset.domains[0].attempt: expected an unsigned integer, got null");
	expect_bad("\"domain_id\": 1", "\"domain_id\": 0", "keyset.domains[1].domain_id: duplicate domain id 0");
	expect_bad("\"domains\": [", "\"domains\": 7, \"x\": [", "keyset.domains: expected an array, got a number");
	expect_bad("secp256k1:3tFR", "ed25519:3tFR", "keyset.domains[0].key.Secp256k1.near_public_key: expected a \"secp256k1:<base58>\"");
	expect_bad("secp256k1:3tFRbMqmoa6", "secp256k1:3", "keyset.domains[0].key.Secp256k1.near_public_key: a Secp256k1 key is 64 bytes");
	expect_bad("secp256k1:3tFR", "secp256k1:0tFR", "keyset.domains[0].key.Secp256k1.near_public_key: not a base58");
	expect_bad("{\"Secp256k1\"", "{\"Secp256k2\"", "keyset.domains[0].key: unknown key variant");
	expect_bad("[225, 26,", "[226, 26,", "keyset.domains[1].key.Ed25519.edwards_point: does not match");
	expect_bad("[225, 26,", "[256, 26,", "keyset.domains[1].key.Ed25519.edwards_point[0]: 256 is not a byte");
	expect_bad("[225, 26,", "[26,", "keyset.domains[1].key.Ed25519.edwards_point: expected 32 numbers, got 31");
	expect_bad("\"epoch_id\": 4", "\"epoch_id\": 4, \"x\": \"\\u0000\"", "\\u0000");
	expect_bad("\"attempt\": 0}]}", "\"attempt\": 0}]", "invalid JSON");
}

static void test_deep_nesting(void **state)
{
	size_t depth = 100000;
	char *buf = malloc(2 * depth + 1);
	struct mpc_keyset ks = { 0 };
	struct mpc_err e = { 0 };

	(void)state;
	assert_non_null(buf);
	memset(buf, '[', depth);
	memset(buf + depth, ']', depth);
	assert_int_equal(mpc_keyset_parse(buf, 2 * depth, &ks, &e), MPC_ERR_PARSE);
	assert_non_null(strstr(e.msg, "nested deeper than"));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mainnet_keyset_roundtrip),
		cmocka_unit_test(test_bls_and_empty),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_deep_nesting),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
