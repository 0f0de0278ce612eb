/* test_node_cert.c: pins the exact DER of node-style certificates (every rcgen 0.13.2 layout
 * decision, see docs/node.md) and the peer verification rules. If a test here fails after a
 * "simplification" of cert.c, the node will reject us: do not update the pins without
 * re-checking against rcgen and near/mpc. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "src/node/cert.h"
#include "src/util/encoding.h"

/* SHA-256 of the whole issuer certificate DER; cross-checked once against pyca/cryptography
 * building the same parameters (docs/node.md). Ed25519 signing is deterministic. */
static const char issuer_sha256[] =
	"98e6d004540ea3b5ca16d8969e17d19e171f3ce8d3e4d527f08bca58a4b536d0";
/* raw public key inside the PKCS#8 constant of near/mpc crates/tls/src/constants.rs */
static const char dummy_pub_hex[] =
	"01b742f0a0e90d93ea65a94a9dd266d8de845e7f9c37121bda045adb53f999cb";

static const uint8_t name_der[] = {
	0x30, 0x21, 0x31, 0x1f, 0x30, 0x1d, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x16, /* UTF8String */
	'r', 'c', 'g', 'e', 'n', ' ', 's', 'e', 'l', 'f', ' ', 's', 'i', 'g', 'n', 'e', 'd', ' ',
	'c', 'e', 'r', 't'
};
static const uint8_t validity_der[] = {
	0x30, 0x20, 0x17, 0x0d, '7', '5', '0', '1', '0', '1', '0', '0', '0', '0', '0', '0', 'Z',
	0x18, 0x0f, '4', '0', '9', '6', '0', '1', '0', '1', '0', '0', '0', '0', '0', '0', 'Z'
};
static const uint8_t alg_ed25519[] = { 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70 };
static const uint8_t version_v3[] = { 0xa0, 0x03, 0x02, 0x01, 0x02 };

static void hex(const uint8_t *p, size_t n, char *out)
{
	assert_int_equal(mpc_hex_encode(p, n, out, 2 * n + 1, NULL), MPC_OK);
}

static const uint8_t *find(const uint8_t *hay, size_t n, const uint8_t *needle, size_t m)
{
	for (size_t i = 0; i + m <= n; i++)
		if (memcmp(hay + i, needle, m) == 0)
			return hay + i;
	return NULL;
}

static size_t count(const uint8_t *hay, size_t n, const uint8_t *needle, size_t m)
{
	size_t c = 0;

	for (size_t i = 0; i + m <= n; i++)
		if (memcmp(hay + i, needle, m) == 0)
			c++;
	return c;
}

/* Expected serial INTEGER for a key: SHA-256(raw key)[0..20], top bit cleared, minimal. */
static size_t expected_serial(const uint8_t pub[32], uint8_t out[23])
{
	uint8_t h[32], v[21];
	size_t i = 0, n;

	SHA256(pub, 32, h);
	h[0] &= 0x7f;
	while (i < 19 && h[i] == 0)
		i++;
	n = 0;
	if (h[i] & 0x80)
		v[n++] = 0;
	memcpy(v + n, h + i, 20 - i);
	n += 20 - i;
	out[0] = 0x02;
	out[1] = (uint8_t)n;
	memcpy(out + 2, v, n);
	return n + 2;
}

static void test_issuer_certificate_layout(void **state)
{
	uint8_t pub[32], der[MPC_NODE_CERT_DER_MAX], h[32], serial[23];
	char hx[65];
	size_t len = 0, sl;
	static const uint8_t ext_root[] = { 0xa3, 0x13, 0x30, 0x11, 0x30, 0x0f, 0x06, 0x03,
					    0x55, 0x1d, 0x11, 0x04, 0x08, 0x30, 0x06, 0x82,
					    0x04, 'r', 'o', 'o', 't' };

	(void)state;
	assert_int_equal(mpc_node_cert_dummy_pub(pub, NULL), MPC_OK);
	hex(pub, 32, hx);
	assert_string_equal(hx, dummy_pub_hex);
	assert_int_equal(mpc_node_cert_der(pub, MPC_NODE_SAN_ISSUER, der, sizeof(der), &len, NULL),
			 MPC_OK);
	assert_int_equal(len, 284);
	SHA256(der, len, h);
	hex(h, 32, hx);
	assert_string_equal(hx, issuer_sha256);

	/* Certificate SEQUENCE, TBSCertificate SEQUENCE, [0] EXPLICIT INTEGER 2 (v3) */
	assert_memory_equal(der + 7, version_v3, sizeof(version_v3));
	/* serial right after the version: from the raw key, not the SPKI DER */
	sl = expected_serial(pub, serial);
	assert_memory_equal(der + 12, serial, sl);
	/* id-Ed25519 without parameters: signature (TBS and outer) and SPKI algorithms */
	assert_int_equal(count(der, len, alg_ed25519, sizeof(alg_ed25519)), 3);
	/* issuer and subject: the same bytes, CN as UTF8String (tag 0x0c), not PrintableString */
	assert_int_equal(count(der, len, name_der, sizeof(name_der)), 2);
	/* validity: UTCTime 1975, GeneralizedTime 4096 without fraction */
	assert_non_null(find(der, len, validity_der, sizeof(validity_der)));
	/* extensions: only a non-critical SAN (no BOOLEAN TRUE), DNS "root" */
	assert_non_null(find(der, len, ext_root, sizeof(ext_root)));
	/* the signature BIT STRING closes the certificate: 64 bytes, no unused bits */
	assert_int_equal(der[len - 67], 0x03);
	assert_int_equal(der[len - 66], 0x41);
	assert_int_equal(der[len - 65], 0x00);
}

static void test_leaf_layout_and_determinism(void **state)
{
	uint8_t pub[32], der[MPC_NODE_CERT_DER_MAX], der2[MPC_NODE_CERT_DER_MAX], serial[23];
	uint8_t spki[44] = { 0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00 };
	static const uint8_t ext_dummy[] = { 0xa3, 0x14, 0x30, 0x12, 0x30, 0x10, 0x06, 0x03, 0x55,
					     0x1d, 0x11, 0x04, 0x09, 0x30, 0x07, 0x82, 0x05, 'd',
					     'u', 'm', 'm', 'y' };
	size_t len = 0, len2 = 0, sl;
	X509 *x, *iss;
	uint8_t got[32];

	(void)state;
	for (int i = 0; i < 32; i++)
		pub[i] = (uint8_t)i;
	memcpy(spki + 12, pub, 32);
	assert_int_equal(mpc_node_cert_der(pub, MPC_NODE_SAN_LEAF, der, sizeof(der), &len, NULL), MPC_OK);
	assert_int_equal(mpc_node_cert_der(pub, MPC_NODE_SAN_LEAF, der2, sizeof(der2), &len2, NULL), MPC_OK);
	assert_int_equal(len, len2);
	assert_memory_equal(der, der2, len);
	sl = expected_serial(pub, serial);
	assert_memory_equal(der + 12, serial, sl);
	assert_int_equal(count(der, len, name_der, sizeof(name_der)), 2);
	assert_non_null(find(der, len, validity_der, sizeof(validity_der)));
	assert_non_null(find(der, len, spki, sizeof(spki)));
	assert_non_null(find(der, len, ext_dummy, sizeof(ext_dummy)));

	/* OpenSSL's view: one extension, the SAN, non-critical; leaf issuer == anchor subject */
	x = mpc_node_cert_leaf(pub, NULL);
	iss = mpc_node_cert_issuer(NULL);
	assert_non_null(x);
	assert_non_null(iss);
	assert_int_equal(X509_get_version(x), 2);
	assert_int_equal(X509_get_ext_count(x), 1);
	assert_int_equal(OBJ_obj2nid(X509_EXTENSION_get_object(X509_get_ext(x, 0))),
			 NID_subject_alt_name);
	assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(x, 0)), 0);
	assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(iss)), 0);
	assert_int_equal(mpc_node_cert_pub(x, got, NULL), MPC_OK);
	assert_memory_equal(got, pub, 32);
	X509_free(x);
	X509_free(iss);
}

static void test_serial_strips_leading_zeros(void **state)
{
	uint8_t pub[32] = { 0 }, der[MPC_NODE_CERT_DER_MAX], h[32], serial[23];
	size_t len = 0, sl;
	uint32_t i;

	(void)state;
	/* find a key whose hash starts with 0x00 or 0x80: yasna drops the zero byte */
	for (i = 0;; i++) {
		memcpy(pub, &i, sizeof(i));
		SHA256(pub, 32, h);
		if ((h[0] & 0x7f) == 0)
			break;
	}
	assert_int_equal(mpc_node_cert_der(pub, MPC_NODE_SAN_LEAF, der, sizeof(der), &len, NULL), MPC_OK);
	sl = expected_serial(pub, serial);
	assert_true(serial[1] <= 20);
	assert_true(serial[1] < 20 || serial[2] == 0x00); /* 19 bytes, or 0x00 + 19 high bytes */
	assert_memory_equal(der + 12, serial, sl);
}

static X509 *resign_with(X509 *x, EVP_PKEY *k)
{
	X509 *y = X509_dup(x);

	assert_non_null(y);
	assert_true(X509_sign(y, k, NULL) > 0);
	return y;
}

static void test_verify_peer(void **state)
{
	EVP_PKEY *a = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY *b = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	uint8_t pa[32], pb[32];
	char sa[MPC_ED25519_KEY_STR_MAX], sb[MPC_ED25519_KEY_STR_MAX];
	struct mpc_err e = { 0 };
	X509 *leaf, *forged, *eccert;

	(void)state;
	assert_int_equal(mpc_node_pkey_pub(a, pa, NULL), MPC_OK);
	assert_int_equal(mpc_node_pkey_pub(b, pb, NULL), MPC_OK);
	assert_int_equal(mpc_node_pkey_pub(ec, pb + 0, &e), MPC_ERR_UNSUPPORTED);
	mpc_err_clear(&e);
	assert_int_equal(mpc_node_pkey_pub(b, pb, NULL), MPC_OK);
	mpc_ed25519_key_format(pa, sa, NULL);
	mpc_ed25519_key_format(pb, sb, NULL);
	leaf = mpc_node_cert_leaf(pa, NULL);
	assert_non_null(leaf);

	assert_int_equal(mpc_node_cert_verify_peer(leaf, pa, &e), MPC_OK);
	assert_int_equal(mpc_node_cert_verify_peer(leaf, pb, &e), MPC_ERR_PEER_KEY);
	assert_non_null(strstr(e.msg, sa));
	assert_non_null(strstr(e.msg, sb));
	mpc_err_clear(&e);

	/* right key, wrong issuer signature */
	forged = resign_with(leaf, b);
	assert_int_equal(mpc_node_cert_verify_peer(forged, pa, &e), MPC_ERR_TLS);
	assert_non_null(strstr(e.msg, "dummy issuer"));
	mpc_err_clear(&e);

	/* not an Ed25519 certificate at all */
	eccert = X509_new();
	assert_non_null(eccert);
	X509_set_pubkey(eccert, ec);
	X509_set_issuer_name(eccert, X509_get_subject_name(leaf));
	assert_true(X509_sign(eccert, ec, EVP_sha256()) > 0);
	assert_int_equal(mpc_node_cert_verify_peer(eccert, pa, &e), MPC_ERR_PEER_KEY);
	mpc_err_clear(&e);

	assert_int_equal(mpc_node_cert_der(pa, "", (uint8_t[8]){ 0 }, 8, &(size_t){ 0 }, &e),
			 MPC_ERR_USAGE);
	X509_free(eccert);
	X509_free(forged);
	X509_free(leaf);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	EVP_PKEY_free(ec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_issuer_certificate_layout),
		cmocka_unit_test(test_leaf_layout_and_determinism),
		cmocka_unit_test(test_serial_strips_leading_zeros),
		cmocka_unit_test(test_verify_peer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
