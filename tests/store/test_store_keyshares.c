/* test_store_keyshares.c: the token-independent parts of the store: keyshare validation against a
 * keyset with real fixture values, and the file format's encoding, bounds and names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "src/store/format.h"
#include "src/store/keyshares.h"
#include "src/util/mem.h"
#include "tests/store/sfix.h"

/* Validate shares s[0..n) against ks; return the code and copy the message. */
static int check(const struct sf_share *s, size_t n, const struct mpc_keyset *ks, char *msg)
{
	struct mpc_err e = { 0 };
	uint8_t *js = NULL;
	size_t len = 0;
	int rc;

	assert_int_equal(sf_shares_json(s, n, &js, &len), 0);
	rc = mpc_keyshares_validate(js, len, ks, &e);
	if (msg != NULL)
		snprintf(msg, MPC_ERR_MSG_MAX, "%s", e.msg);
	mpc_secure_free(js);
	return rc;
}

static void test_fixture_valid(void **state)
{
	struct sf_set f;
	char msg[MPC_ERR_MSG_MAX];

	(void)state;
	for (int who = 0; who < 3; who++) {
		assert_int_equal(sf_fixture_set(who, &f), 0);
		/* the secp256k1 snap key 03aa03...: its decompressed y is odd */
		assert_int_equal(f.ks.domains[0].pk[63] & 1, 1);
		if (check(f.shares, f.n, &f.ks, msg) != MPC_OK)
			fail_msg("fixture %d refused: %s", who, msg);
		sf_set_free(&f);
	}
}

static void test_fixture_inspect_fields(void **state)
{
	struct mpc_keyshares_meta m;
	struct mpc_err e = { 0 };
	struct sf_set f;
	uint8_t *js = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(sf_fixture_set(0, &f), 0);
	assert_int_equal(sf_shares_json(f.shares, f.n, &js, &len), 0);
	assert_int_equal(mpc_keyshares_inspect(js, len, &m, &e), MPC_OK);
	assert_int_equal(m.n, 2);
	assert_int_equal(m.items[0].curve, MPC_CURVE_SECP256K1);
	assert_int_equal(m.items[0].pk_len, 33);
	assert_int_equal(m.items[0].pk[0], 0x03);
	assert_int_equal(m.items[0].attempt_id, 240);
	assert_int_equal(m.items[1].curve, MPC_CURVE_ED25519);
	assert_int_equal(m.items[1].pk[0], 0xe2);
	mpc_keyshares_meta_free(&m);
	mpc_secure_free(js);
	sf_set_free(&f);
}

static void expect_invalid(const struct sf_share *s, size_t n, const struct mpc_keyset *ks,
			   const char *needle)
{
	char msg[MPC_ERR_MSG_MAX];
	int rc = check(s, n, ks, msg);

	if (rc != MPC_ERR_INVALID || strstr(msg, needle) == NULL)
		fail_msg("expected MPC_ERR_INVALID with \"%s\", got %d: %s", needle, rc, msg);
}

static void test_mismatches_refused(void **state)
{
	struct sf_set f;
	struct sf_share s[3];

	(void)state;
	assert_int_equal(sf_fixture_set(1, &f), 0);

	/* missing domain */
	expect_invalid(f.shares, 1, &f.ks, "domain 1 of epoch 4 has no keyshare");
	/* extra domain */
	memcpy(s, f.shares, 2 * sizeof(*s));
	s[2] = f.shares[1];
	s[2].domain = 7;
	expect_invalid(s, 3, &f.ks, "domain 7");
	/* duplicate domain */
	s[2] = f.shares[1];
	expect_invalid(s, 3, &f.ks, "domain 1 has more than one keyshare");
	/* wrong epoch */
	memcpy(s, f.shares, 2 * sizeof(*s));
	s[1].epoch = 3;
	expect_invalid(s, 2, &f.ks, "domain 1 is from epoch 3");
	/* wrong attempt */
	memcpy(s, f.shares, 2 * sizeof(*s));
	s[0].attempt = 239;
	expect_invalid(s, 2, &f.ks, "domain 0 is from attempt 239");
	/* wrong public key: the other parity of the same x */
	memcpy(s, f.shares, 2 * sizeof(*s));
	s[0].pk_hex[1] = '2';
	expect_invalid(s, 2, &f.ks, "domain 0 has a public key that differs");
	/* wrong ed25519 key */
	memcpy(s, f.shares, 2 * sizeof(*s));
	s[1].pk_hex[63] = s[1].pk_hex[63] == '4' ? '5' : '4';
	expect_invalid(s, 2, &f.ks, "domain 1 has a public key that differs");
	/* wrong scheme for the domain's curve */
	memcpy(s, f.shares, 2 * sizeof(*s));
	s[1].scheme = "Secp256k1";
	memcpy(s[1].pk_hex, f.shares[0].pk_hex, sizeof(s[1].pk_hex));
	expect_invalid(s, 2, &f.ks, "domain 1 is a Secp256k1 share, the domain is Ed25519");
	sf_set_free(&f);
}

static void expect_parse(const char *text, const char *needle)
{
	struct mpc_keyshares_meta m;
	struct mpc_err e = { 0 };
	int rc = mpc_keyshares_inspect((const uint8_t *)text, strlen(text), &m, &e);

	if (rc != MPC_ERR_PARSE || strstr(e.msg, needle) == NULL)
		fail_msg("expected MPC_ERR_PARSE with \"%s\" for %s, got %d: %s", needle, text, rc,
			 e.msg);
	assert_null(m.items);
}

static void test_shapes_refused(void **state)
{
	const char *pk = "e291381fe6d842f30412315cb431acdc18a02cbad062165e863f1a060e2ba4b4";
	const char *sh = "4868e82fde014d20fa7316500332a9cad79dee5c7aac79b82e69019da9b1790b";
	char buf[1024];

	(void)state;
	expect_parse("", "invalid JSON");
	expect_parse("{}", "expected a JSON array");
	expect_parse("[]", "empty");
	expect_parse("[1]", "keyshares[0]: not an object");
	expect_parse("[{\"data\":{}}]", "key_id");
	snprintf(buf, sizeof(buf),
		 "[{\"key_id\":{\"epoch_id\":1,\"domain_id\":0,\"attempt_id\":-1},\"data\":{}}]");
	expect_parse(buf, "attempt_id");
	snprintf(buf, sizeof(buf),
		 "[{\"key_id\":{\"epoch_id\":1,\"domain_id\":0,\"attempt_id\":0},"
		 "\"data\":{\"Ed448\":{\"private_share\":\"%s\",\"public_key\":\"%s\"}}}]", sh, pk);
	expect_parse(buf, "unknown scheme");
	snprintf(buf, sizeof(buf),
		 "[{\"key_id\":{\"epoch_id\":1,\"domain_id\":0,\"attempt_id\":0},"
		 "\"data\":{\"Ed25519\":{\"private_share\":\"%.62s\",\"public_key\":\"%s\"}}}]", sh, pk);
	expect_parse(buf, "expected 64 hex digits");
	snprintf(buf, sizeof(buf),
		 "[{\"key_id\":{\"epoch_id\":1,\"domain_id\":0,\"attempt_id\":0},"
		 "\"data\":{\"Ed25519\":{\"private_share\":\"%.63sz\",\"public_key\":\"%s\"}}}]", sh, pk);
	expect_parse(buf, "not hexadecimal");
	snprintf(buf, sizeof(buf),
		 "[{\"key_id\":{\"epoch_id\":1,\"domain_id\":0,\"attempt_id\":0},"
		 "\"data\":{\"Secp256k1\":{\"private_share\":\"%s\",\"public_key\":\"%s\"}}}]", sh, pk);
	expect_parse(buf, "expected 33 bytes");
	/* duplicate keys in an object */
	snprintf(buf, sizeof(buf),
		 "[{\"key_id\":{\"epoch_id\":1,\"epoch_id\":2,\"domain_id\":0,\"attempt_id\":0},"
		 "\"data\":{}}]");
	expect_parse(buf, "invalid JSON");
	/* an error message never quotes the input (private shares could be echoed) */
	{
		struct mpc_keyshares_meta m;
		struct mpc_err e = { 0 };
		const char *bad = "[{\"private_share\": \"SECRETSECRET";

		assert_int_equal(mpc_keyshares_inspect((const uint8_t *)bad, strlen(bad), &m, &e),
				 MPC_ERR_PARSE);
		assert_null(strstr(e.msg, "SECRET"));
	}
}

/* ---- format ---- */

static void make_header(struct mpc_store_header *h, const struct mpc_keyset *ks, size_t ntok)
{
	memset(h, 0, sizeof(*h));
	h->version = MPC_STORE_VERSION;
	h->epoch = ks->epoch_id;
	h->created = 1764000000;
	snprintf(h->contract, sizeof(h->contract), "v1.signer");
	snprintf(h->operator_, sizeof(h->operator_), "operator.near");
	h->n_tokens = ntok;
	for (size_t i = 0; i < ntok; i++) {
		h->tokens[i].mech = i % 2 ? MPC_SEAL_AES_CBC_HMAC : MPC_SEAL_AES_GCM;
		snprintf(h->tokens[i].serial, sizeof(h->tokens[i].serial), "%016zx", i + 0xabc);
		snprintf(h->tokens[i].label, sizeof(h->tokens[i].label), "token-%zu", i);
		snprintf(h->tokens[i].key_label, sizeof(h->tokens[i].key_label),
			 "mpc-backup-seal-gcm");
		h->tokens[i].key_id[0] = 1;
		h->tokens[i].key_id_len = 1;
	}
	h->keyset = *ks;
}

static void test_format_roundtrip_and_bounds(void **state)
{
	struct mpc_store_blob_ref blobs[MPC_STORE_MAX_TOKENS];
	struct mpc_store_header h, back;
	struct mpc_err e = { 0 };
	struct sf_set f;
	uint8_t *hdr = NULL, *file = NULL;
	const uint8_t *bl[2] = { (const uint8_t *)"blob-zero", (const uint8_t *)"blob-one!" };
	size_t hl = 0, fl = 0, bll[2] = { 9, 9 }, hl2 = 0, nb = 0;
	char name[MPC_STORE_NAME_MAX], digest[17];
	uint64_t ep = 0;

	(void)state;
	assert_int_equal(sf_synthetic_set(42, 9, 5, &f), 0);
	make_header(&h, &f.ks, 2);
	assert_int_equal(mpc_store_header_encode(&h, &hdr, &hl, &e), MPC_OK);
	assert_memory_equal(hdr, "MPCSTORE", 8);
	assert_int_equal(mpc_store_file_build(hdr, hl, bl, bll, 2, &file, &fl, &e), MPC_OK);
	assert_int_equal(mpc_store_file_parse(file, fl, &back, &hl2, blobs, &nb, &e), MPC_OK);
	assert_int_equal(hl2, hl);
	assert_int_equal(nb, 2);
	assert_int_equal(back.epoch, 42);
	assert_int_equal(back.created, 1764000000);
	assert_string_equal(back.contract, "v1.signer");
	assert_string_equal(back.operator_, "operator.near");
	assert_int_equal(back.n_tokens, 2);
	assert_int_equal(back.tokens[1].mech, MPC_SEAL_AES_CBC_HMAC);
	assert_string_equal(back.tokens[1].label, "token-1");
	assert_true(mpc_keyset_equal(&back.keyset, &f.ks));
	assert_int_equal(blobs[1].len, 9);
	assert_memory_equal(blobs[1].p, "blob-one!", 9);
	mpc_store_header_free(&back);

	/* every truncation is refused, never read past the end */
	for (size_t n = 0; n < fl; n++) {
		uint8_t *cut = malloc(n ? n : 1);

		memcpy(cut, file, n);
		mpc_err_clear(&e);
		if (mpc_store_file_parse(cut, n, &back, &hl2, blobs, &nb, &e) == MPC_OK)
			fail_msg("truncation to %zu bytes accepted", n);
		free(cut);
	}
	/* trailing garbage refused */
	{
		uint8_t *more = malloc(fl + 1);

		memcpy(more, file, fl);
		more[fl] = 0;
		assert_int_equal(mpc_store_file_parse(more, fl + 1, &back, &hl2, blobs, &nb, &e),
				 MPC_ERR_PARSE);
		free(more);
	}
	/* every single byte changed: either refused or parsed to a different header (never a
	 * crash); ASan checks the bounds */
	for (size_t i = 0; i < fl; i++) {
		uint8_t *m = malloc(fl);

		memcpy(m, file, fl);
		m[i] ^= 0xff;
		mpc_err_clear(&e);
		if (mpc_store_file_parse(m, fl, &back, &hl2, blobs, &nb, &e) == MPC_OK)
			mpc_store_header_free(&back);
		free(m);
	}

	/* names: bind epoch and header digest */
	assert_int_equal(mpc_store_file_name(hdr, hl, 42, name, &e), MPC_OK);
	assert_int_equal(strlen(name), 50);
	assert_int_equal(strncmp(name, "keyset-e00000000000000000042-", 29), 0);
	assert_int_equal(mpc_store_name_parse(name, &ep, digest), 1);
	assert_int_equal(ep, 42);
	assert_int_equal(mpc_store_name_parse("keyset-e00000000000000000042-0123.mpcs", &ep, digest),
			 0);
	assert_int_equal(mpc_store_name_parse("keyset-e99999999999999999999-0123456789abcdef.mpcs",
					      &ep, digest),
			 0); /* over 2^64 */
	assert_int_equal(mpc_store_name_is_temp(".tmp-keyset-x-AbCdEf"), 1);
	assert_int_equal(mpc_store_name_parse(".tmp-keyset-x-AbCdEf", &ep, digest), 0);
	hdr[20] ^= 1;
	{
		char other[MPC_STORE_NAME_MAX];

		assert_int_equal(mpc_store_file_name(hdr, hl, 42, other, &e), MPC_OK);
		assert_string_not_equal(name, other);
	}
	free(hdr);
	free(file);
	h.keyset.domains = NULL;
	sf_set_free(&f);
}

static void test_format_refuses_bad_headers(void **state)
{
	struct mpc_store_header h;
	struct mpc_err e = { 0 };
	struct sf_set f;
	uint8_t *hdr = NULL;
	size_t hl = 0;

	(void)state;
	assert_int_equal(sf_synthetic_set(1, 2, 1, &f), 0);
	make_header(&h, &f.ks, 1);
	snprintf(h.operator_, sizeof(h.operator_), "bad\nname");
	assert_int_equal(mpc_store_header_encode(&h, &hdr, &hl, &e), MPC_ERR_INVALID);
	make_header(&h, &f.ks, 0);
	assert_int_equal(mpc_store_header_encode(&h, &hdr, &hl, &e), MPC_ERR_INVALID);
	make_header(&h, &f.ks, 1);
	f.ks.domains[1].domain_id = f.ks.domains[0].domain_id;
	h.keyset = f.ks;
	assert_int_equal(mpc_store_header_encode(&h, &hdr, &hl, &e), MPC_ERR_INVALID);
	h.keyset.n_domains = 0;
	assert_int_equal(mpc_store_header_encode(&h, &hdr, &hl, &e), MPC_ERR_INVALID);
	assert_null(hdr);
	/* a version this build does not know */
	{
		uint8_t pre[MPC_STORE_PREFIX_LEN] = { 'M', 'P', 'C', 'S', 'T', 'O', 'R', 'E', 0, 2 };

		mpc_err_clear(&e);
		assert_int_equal(mpc_store_header_len(pre, sizeof(pre), &hl, &e), MPC_ERR_PARSE);
		assert_non_null(strstr(e.msg, "version 2"));
		pre[9] = 1;
		pre[10] = 0x7f; /* body_len over the limit */
		assert_int_equal(mpc_store_header_len(pre, sizeof(pre), &hl, &e), MPC_ERR_PARSE);
	}
	sf_set_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture_valid),
		cmocka_unit_test(test_fixture_inspect_fields),
		cmocka_unit_test(test_mismatches_refused),
		cmocka_unit_test(test_shapes_refused),
		cmocka_unit_test(test_format_roundtrip_and_bounds),
		cmocka_unit_test(test_format_refuses_bad_headers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
