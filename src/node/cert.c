/* cert.c: node-style certificates built byte by byte (the layout rcgen 0.13.2 writes), and the
 * authentication of a peer's leaf by its pinned Ed25519 key. See cert.h and docs/node.md. */
#include "src/node/cert.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/sha.h>

#include "src/util/encoding.h"
#include "src/util/mem.h"

/* near/mpc crates/tls/src/constants.rs DUMMY_ISSUER_PRIVATE_KEY: published, not a secret. */
static const char dummy_issuer_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MFECAQEwBQYDK2VwBCIEIGkMPQEb0GXxgFXbgojLebmHnCUpS3QYqJrYcfyFqHtW\n"
	"gSEAAbdC8KDpDZPqZalKndJm2N6EXn+cNxIb2gRa21P5mcs=\n"
	"-----END PRIVATE KEY-----\n";

/* rcgen's default distinguished name, CN as UTF8String. */
static const char rcgen_cn[] = "rcgen self signed cert";
/* 1975-01-01T00:00:00Z falls in 1950..2049: UTCTime. 4096-01-01: GeneralizedTime, no fraction. */
static const char not_before_utc[] = "750101000000Z";
static const char not_after_gen[] = "40960101000000Z";

static const uint8_t oid_ed25519[] = { 0x2b, 0x65, 0x70 };     /* 1.3.101.112 */
static const uint8_t oid_common_name[] = { 0x55, 0x04, 0x03 }; /* 2.5.4.3 */
static const uint8_t oid_subject_alt[] = { 0x55, 0x1d, 0x11 }; /* 2.5.29.17 */

int mpc_node_ossl_nomem(void)
{
	unsigned long l;
	int nomem = 0;

	while ((l = ERR_get_error()) != 0)
		if (ERR_GET_REASON(l) == ERR_GET_REASON(ERR_R_MALLOC_FAILURE))
			nomem = 1;
	return nomem;
}

/* A bounded DER writer: overflow is sticky and checked once at the end. */
struct der {
	uint8_t b[MPC_NODE_CERT_DER_MAX];
	size_t n;
	int overflow;
};

static void der_raw(struct der *d, const void *p, size_t n)
{
	if (d->overflow || n > sizeof(d->b) - d->n) {
		d->overflow = 1;
		return;
	}
	memcpy(d->b + d->n, p, n);
	d->n += n;
}

static void der_byte(struct der *d, uint8_t v)
{
	der_raw(d, &v, 1);
}

static void der_tlv(struct der *d, uint8_t tag, const void *v, size_t n)
{
	der_byte(d, tag);
	if (n < 0x80) {
		der_byte(d, (uint8_t)n);
	} else if (n < 0x100) {
		der_byte(d, 0x81);
		der_byte(d, (uint8_t)n);
	} else {
		der_byte(d, 0x82);
		der_byte(d, (uint8_t)(n >> 8));
		der_byte(d, (uint8_t)n);
	}
	der_raw(d, v, n);
}

/* Wrap what `in` holds as one TLV appended to `out`. */
static void der_wrap(struct der *out, uint8_t tag, const struct der *in)
{
	if (in->overflow)
		out->overflow = 1;
	else
		der_tlv(out, tag, in->b, in->n);
}

static void der_alg_ed25519(struct der *d)
{
	struct der s = { .n = 0 };

	der_tlv(&s, 0x06, oid_ed25519, sizeof(oid_ed25519)); /* no parameters (RFC 8410) */
	der_wrap(d, 0x30, &s);
}

static void der_name(struct der *d)
{
	struct der atv = { .n = 0 }, set = { .n = 0 }, seq = { .n = 0 };

	der_tlv(&atv, 0x06, oid_common_name, sizeof(oid_common_name));
	der_tlv(&atv, 0x0c, rcgen_cn, sizeof(rcgen_cn) - 1); /* UTF8String, as rcgen writes */
	der_wrap(&seq, 0x30, &atv);
	der_wrap(&set, 0x31, &seq);
	der_wrap(d, 0x30, &set);
}

/* rcgen: SHA-256 over the subject key's raw bytes (PublicKeyData::der_bytes(), for Ed25519 the
 * 32-byte key), first 20 bytes, top bit cleared; yasna then strips leading zero bytes. */
static void der_serial(struct der *d, const uint8_t pub[32])
{
	uint8_t h[SHA256_DIGEST_LENGTH];
	uint8_t v[21];
	size_t i = 0, n;

	SHA256(pub, 32, h);
	h[0] &= 0x7f;
	while (i < 20 && h[i] == 0)
		i++;
	if (i == 20) {
		v[0] = 0;
		n = 1;
	} else if (h[i] & 0x80) {
		v[0] = 0;
		memcpy(v + 1, h + i, 20 - i);
		n = 21 - i;
	} else {
		memcpy(v, h + i, 20 - i);
		n = 20 - i;
	}
	der_tlv(d, 0x02, v, n);
}

static void der_spki(struct der *d, const uint8_t pub[32])
{
	struct der s = { .n = 0 };
	uint8_t bits[33];

	bits[0] = 0; /* no unused bits */
	memcpy(bits + 1, pub, 32);
	der_alg_ed25519(&s);
	der_tlv(&s, 0x03, bits, sizeof(bits));
	der_wrap(d, 0x30, &s);
}

/* [3] { SEQUENCE { subjectAltName (non-critical: no BOOLEAN) } } */
static void der_extensions(struct der *d, const char *san)
{
	struct der names = { .n = 0 }, gn = { .n = 0 }, ext = { .n = 0 }, exts = { .n = 0 },
		   tagged = { .n = 0 };

	der_tlv(&names, 0x82, san, strlen(san)); /* dNSName [2] IMPLICIT IA5String */
	der_wrap(&gn, 0x30, &names);
	der_tlv(&ext, 0x06, oid_subject_alt, sizeof(oid_subject_alt));
	der_wrap(&ext, 0x04, &gn);
	der_wrap(&exts, 0x30, &ext);
	der_wrap(&tagged, 0x30, &exts);
	/* `tagged` holds SEQUENCE OF Extension; wrap it in the explicit [3]. */
	der_wrap(d, 0xa3, &tagged);
}

static int valid_san(const char *san)
{
	size_t n = san == NULL ? 0 : strlen(san);

	if (n == 0 || n > 63)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (san[i] <= 0x20 || san[i] >= 0x7f)
			return 0;
	return 1;
}

/* OpenSSL 3.0 cannot decode this PKCS#8 v2 (OneAsymmetricKey with the [1] public key), so the
 * structure is checked by hand: the fixed 16-byte header near/mpc's keygen.rs also writes, the
 * 32-byte seed, then [1] BIT STRING with the public key, which must match the seed's. */
EVP_PKEY *mpc_node_cert_dummy_key(struct mpc_err *e)
{
	static const uint8_t header[16] = { 0x30, 0x51, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06,
					    0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20 };
	static const uint8_t middle[3] = { 0x81, 0x21, 0x00 };
	const char *b = strchr(dummy_issuer_pem, '\n') + 1;
	const char *end = strstr(b, "-----END");
	char b64[128];
	uint8_t der[96], derived[32];
	size_t bl = 0, dl = 0, pl = 32;
	EVP_PKEY *k = NULL;

	for (const char *p = b; p < end && bl < sizeof(b64); p++)
		if (*p != '\n')
			b64[bl++] = *p;
	if (mpc_base64_decode(b64, bl, der, sizeof(der), &dl, "dummy issuer key", NULL) != MPC_OK ||
	    dl != 83 || memcmp(der, header, 16) != 0 || memcmp(der + 48, middle, 3) != 0)
		goto out;
	k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, der + 16, 32);
	if (k == NULL || EVP_PKEY_get_raw_public_key(k, derived, &pl) != 1 || pl != 32 ||
	    memcmp(derived, der + 51, 32) != 0) {
		EVP_PKEY_free(k);
		k = NULL;
	}
out:
	mpc_memzero(der, sizeof(der));
	if (k == NULL) {
		if (mpc_node_ossl_nomem())
			mpc_fail(e, MPC_ERR_NOMEM,
				 "cannot load the dummy issuer key: out of memory");
		else
			mpc_fail(e, MPC_ERR_INTERNAL, "cannot load the dummy issuer key");
	}
	return k;
}

int mpc_node_pkey_pub(EVP_PKEY *key, uint8_t out[32], struct mpc_err *e)
{
	size_t n = 32;

	/* a provider-backed key may have no legacy id: ask by name too */
	if (key == NULL ||
	    (EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519 && !EVP_PKEY_is_a(key, "ED25519")))
		return mpc_fail(e, MPC_ERR_UNSUPPORTED,
				"the TLS identity key is not an Ed25519 key");
	if (EVP_PKEY_get_raw_public_key(key, out, &n) != 1 || n != 32) {
		ERR_clear_error();
		return mpc_fail(e, MPC_ERR_UNSUPPORTED,
				"cannot read the raw public half of the Ed25519 TLS key");
	}
	return MPC_OK;
}

int mpc_node_cert_dummy_pub(uint8_t out[32], struct mpc_err *e)
{
	EVP_PKEY *k = mpc_node_cert_dummy_key(e);
	int rc;

	if (k == NULL)
		return e != NULL && e->code != MPC_OK ? e->code : MPC_ERR_INTERNAL;
	rc = mpc_node_pkey_pub(k, out, e);
	EVP_PKEY_free(k);
	return rc;
}

int mpc_node_cert_der(const uint8_t pub[32], const char *san_dns, uint8_t *out, size_t cap,
		      size_t *len, struct mpc_err *e)
{
	struct der tbs_body = { .n = 0 }, tbs = { .n = 0 }, cert_body = { .n = 0 },
		   cert = { .n = 0 };
	static const uint8_t version_v3[] = { 0x02, 0x01, 0x02 };
	EVP_PKEY *issuer = NULL;
	EVP_MD_CTX *md = NULL;
	uint8_t sig[65];
	size_t siglen = 64;
	int rc = MPC_ERR_INTERNAL;

	if (len != NULL)
		*len = 0;
	if (pub == NULL || out == NULL || len == NULL || !valid_san(san_dns)) {
		rc = mpc_fail(e, MPC_ERR_USAGE, "certificate: bad public key or SAN name");
		goto out;
	}
	der_tlv(&tbs_body, 0xa0, version_v3, sizeof(version_v3)); /* [0] EXPLICIT v3 */
	der_serial(&tbs_body, pub);
	der_alg_ed25519(&tbs_body);
	der_name(&tbs_body); /* issuer */
	{
		struct der v = { .n = 0 };

		der_tlv(&v, 0x17, not_before_utc, sizeof(not_before_utc) - 1);
		der_tlv(&v, 0x18, not_after_gen, sizeof(not_after_gen) - 1);
		der_wrap(&tbs_body, 0x30, &v);
	}
	der_name(&tbs_body); /* subject */
	der_spki(&tbs_body, pub);
	der_extensions(&tbs_body, san_dns);
	der_wrap(&tbs, 0x30, &tbs_body);
	if (tbs.overflow) {
		rc = mpc_fail(e, MPC_ERR_INTERNAL, "certificate: DER buffer overflow");
		goto out;
	}

	issuer = mpc_node_cert_dummy_key(e);
	if (issuer == NULL) {
		rc = e != NULL && e->code != MPC_OK ? e->code : MPC_ERR_INTERNAL;
		goto out;
	}
	md = EVP_MD_CTX_new();
	if (md == NULL || EVP_DigestSignInit(md, NULL, NULL, NULL, issuer) != 1 ||
	    EVP_DigestSign(md, sig + 1, &siglen, tbs.b, tbs.n) != 1 || siglen != 64) {
		if (mpc_node_ossl_nomem())
			rc = mpc_fail(e, MPC_ERR_NOMEM,
				      "certificate: out of memory signing with the "
				      "dummy issuer");
		else
			rc = mpc_fail(e, MPC_ERR_INTERNAL,
				      "certificate: signing with the dummy issuer failed");
		goto out;
	}
	sig[0] = 0; /* BIT STRING: no unused bits */

	der_raw(&cert_body, tbs.b, tbs.n);
	der_alg_ed25519(&cert_body);
	der_tlv(&cert_body, 0x03, sig, sizeof(sig));
	der_wrap(&cert, 0x30, &cert_body);
	if (cert.overflow) {
		rc = mpc_fail(e, MPC_ERR_INTERNAL, "certificate: DER buffer overflow");
		goto out;
	}
	if (cert.n > cap) {
		rc = mpc_fail(e, MPC_ERR_TOO_LARGE, "certificate: output buffer too small");
		goto out;
	}
	memcpy(out, cert.b, cert.n);
	*len = cert.n;
	rc = MPC_OK;
out:
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(issuer);
	return rc;
}

static X509 *cert_x509(const uint8_t pub[32], const char *san, struct mpc_err *e)
{
	uint8_t der[MPC_NODE_CERT_DER_MAX];
	const unsigned char *p = der;
	size_t len = 0;
	X509 *x;

	if (mpc_node_cert_der(pub, san, der, sizeof(der), &len, e) != MPC_OK)
		return NULL;
	x = d2i_X509(NULL, &p, (long)len);
	if (x == NULL) {
		if (mpc_node_ossl_nomem())
			mpc_fail(e, MPC_ERR_NOMEM,
				 "certificate: out of memory parsing the built DER");
		else
			mpc_fail(e, MPC_ERR_INTERNAL,
				 "certificate: OpenSSL cannot parse the built DER");
	}
	return x;
}

X509 *mpc_node_cert_leaf(const uint8_t pub[32], struct mpc_err *e)
{
	return cert_x509(pub, MPC_NODE_SAN_LEAF, e);
}

X509 *mpc_node_cert_issuer(struct mpc_err *e)
{
	uint8_t pub[32];

	if (mpc_node_cert_dummy_pub(pub, e) != MPC_OK)
		return NULL;
	return cert_x509(pub, MPC_NODE_SAN_ISSUER, e);
}

int mpc_node_cert_pub(X509 *cert, uint8_t out[32], struct mpc_err *e)
{
	EVP_PKEY *k = cert == NULL ? NULL : X509_get0_pubkey(cert);
	size_t n = 32;

	if (k == NULL && mpc_node_ossl_nomem())
		return mpc_fail(e, MPC_ERR_NOMEM,
				"out of memory reading the peer's certificate key");
	if (k == NULL || EVP_PKEY_get_base_id(k) != EVP_PKEY_ED25519) {
		ERR_clear_error();
		return mpc_fail(e, MPC_ERR_PEER_KEY, "the peer's certificate key is not Ed25519");
	}
	if (EVP_PKEY_get_raw_public_key(k, out, &n) != 1 || n != 32) {
		ERR_clear_error();
		return mpc_fail(e, MPC_ERR_PEER_KEY, "the peer's Ed25519 key cannot be read");
	}
	return MPC_OK;
}

int mpc_node_cert_verify_peer(X509 *leaf, const uint8_t expected_pub[32], struct mpc_err *e)
{
	uint8_t got[32];
	char got_s[MPC_ED25519_KEY_STR_MAX], want_s[MPC_ED25519_KEY_STR_MAX];
	EVP_PKEY *issuer = NULL;
	int rc;

	rc = mpc_node_cert_pub(leaf, got, e);
	if (rc != MPC_OK)
		goto out;
	if (!mpc_memeq_ct(got, expected_pub, 32)) {
		if (mpc_ed25519_key_format(got, got_s, NULL) != MPC_OK ||
		    mpc_ed25519_key_format(expected_pub, want_s, NULL) != MPC_OK) {
			rc = mpc_fail(e, MPC_ERR_INTERNAL, "cannot format Ed25519 keys");
			goto out;
		}
		rc = mpc_fail(e, MPC_ERR_PEER_KEY,
			      "the peer presented TLS key %s but the contract says %s", got_s,
			      want_s);
		goto out;
	}
	issuer = mpc_node_cert_dummy_key(e);
	if (issuer == NULL) {
		rc = e != NULL && e->code != MPC_OK ? e->code : MPC_ERR_INTERNAL;
		goto out;
	}
	if (X509_verify(leaf, issuer) != 1) {
		if (mpc_node_ossl_nomem())
			rc = mpc_fail(e, MPC_ERR_NOMEM,
				      "out of memory verifying the peer certificate's signature");
		else
			rc = mpc_fail(e, MPC_ERR_TLS,
				      "peer certificate is not signed by the MPC dummy issuer key");
		goto out;
	}
	rc = MPC_OK;
out:
	EVP_PKEY_free(issuer);
	return rc;
}
