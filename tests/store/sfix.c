/* sfix.c: keysets with matching keyshares, and ready tokens, for the store tests. */
#include "tests/store/sfix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include "pkcs11/keys.h"
#include "src/store/keyshares.h"
#include "src/util/encoding.h"
#include "src/util/mem.h"

const char *sf_fixtures_dir(void)
{
	const char *d = getenv("MPC_FIXTURES_DIR");

	return d != NULL && *d != '\0' ? d : NULL;
}

void sf_set_free(struct sf_set *s)
{
	if (s == NULL)
		return;
	mpc_keyset_free(&s->ks);
	if (s->shares != NULL)
		mpc_memzero(s->shares, s->n * sizeof(*s->shares));
	free(s->shares);
	memset(s, 0, sizeof(*s));
}

static int alloc_set(struct sf_set *out, uint64_t epoch, size_t n)
{
	memset(out, 0, sizeof(*out));
	out->ks.epoch_id = epoch;
	out->ks.domains = calloc(n, sizeof(*out->ks.domains));
	out->shares = calloc(n, sizeof(*out->shares));
	if (out->ks.domains == NULL || out->shares == NULL) {
		sf_set_free(out);
		return -1;
	}
	out->ks.n_domains = n;
	out->n = n;
	return 0;
}

/* Participant `who` of a snap file: the JSON after the YAML header, [[i, {...}], ...]. */
static int read_snap(const char *file, int who, char share[65], char pk[2 * 96 + 1])
{
	char path[512], buf[8192];
	const char *p;
	json_t *j = NULL, *o;
	json_error_t je;
	size_t n;
	FILE *f;
	int rc = -1;

	if (sf_fixtures_dir() == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/near-mpc/%s", sf_fixtures_dir(), file);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strstr(buf, "---\n");
	p = p ? strstr(p + 4, "---\n") : NULL;
	if (p == NULL)
		return -1;
	j = json_loads(p + 4, 0, &je);
	o = json_array_get(json_array_get(j, (size_t)who), 1);
	if (json_is_string(json_object_get(o, "private_share")) &&
	    json_is_string(json_object_get(o, "public_key"))) {
		snprintf(share, 65, "%s", json_string_value(json_object_get(o, "private_share")));
		snprintf(pk, 2 * 96 + 1, "%s", json_string_value(json_object_get(o, "public_key")));
		rc = 0;
	}
	json_decref(j);
	return rc;
}

/* SEC1 compressed secp256k1 point -> 64-byte x||y, with OpenSSL. */
static int secp_decompress(const uint8_t c[33], uint8_t xy[64])
{
	EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_secp256k1);
	EC_POINT *pt = g ? EC_POINT_new(g) : NULL;
	BIGNUM *x = BN_new(), *y = BN_new();
	int rc = -1;

	if (pt && x && y && EC_POINT_oct2point(g, pt, c, 33, NULL) == 1 &&
	    EC_POINT_get_affine_coordinates(g, pt, x, y, NULL) == 1 && BN_bn2binpad(x, xy, 32) == 32 &&
	    BN_bn2binpad(y, xy + 32, 32) == 32)
		rc = 0;
	BN_free(x);
	BN_free(y);
	EC_POINT_free(pt);
	EC_GROUP_free(g);
	return rc;
}

int sf_fixture_set(int who, struct sf_set *out)
{
	struct sf_share *s0, *s1;
	struct mpc_domain_key *d0, *d1;
	uint8_t c[33];
	size_t n = 0;

	if (alloc_set(out, 4, 2) != 0)
		return -1;
	s0 = &out->shares[0];
	s1 = &out->shares[1];
	d0 = &out->ks.domains[0];
	d1 = &out->ks.domains[1];
	if (read_snap("keygen-output-secp256k1.snap", who, s0->share_hex, s0->pk_hex) != 0 ||
	    read_snap("keygen-output-ed25519.snap", who, s1->share_hex, s1->pk_hex) != 0)
		goto fail;
	s0->epoch = s1->epoch = 4;
	s0->domain = 0;
	s0->attempt = 240;
	s0->scheme = "Secp256k1";
	s1->domain = 1;
	s1->attempt = 0;
	s1->scheme = "Ed25519";
	d0->domain_id = 0;
	d0->attempt = 240;
	d0->curve = MPC_CURVE_SECP256K1;
	d0->pk_len = 64;
	if (mpc_hex_decode(s0->pk_hex, strlen(s0->pk_hex), c, sizeof(c), &n, "pk", NULL) != MPC_OK ||
	    n != 33 || secp_decompress(c, d0->pk) != 0)
		goto fail;
	d1->domain_id = 1;
	d1->attempt = 0;
	d1->curve = MPC_CURVE_ED25519;
	d1->pk_len = 32;
	if (mpc_hex_decode(s1->pk_hex, strlen(s1->pk_hex), d1->pk, 32, &n, "pk", NULL) != MPC_OK ||
	    n != 32)
		goto fail;
	return 0;
fail:
	sf_set_free(out);
	return -1;
}

static uint64_t rnd(uint64_t *s)
{
	/* splitmix64: deterministic per seed */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void rnd_bytes(uint64_t *s, uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)rnd(s);
}

int sf_synthetic_set(uint64_t epoch, size_t n, uint64_t seed, struct sf_set *out)
{
	uint64_t st = seed * 1000003u + epoch;

	if (alloc_set(out, epoch, n) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct mpc_domain_key *d = &out->ks.domains[i];
		struct sf_share *sh = &out->shares[i];
		uint8_t share[32], pk[96];
		size_t pkn;

		d->domain_id = i;
		d->attempt = seed % 7;
		d->curve = (enum mpc_curve)(i % 3 == 0 ? MPC_CURVE_ED25519
						       : i % 3 == 1 ? MPC_CURVE_SECP256K1
								    : MPC_CURVE_BLS12381);
		d->pk_len = d->curve == MPC_CURVE_SECP256K1 ? 64 : d->curve == MPC_CURVE_ED25519 ? 32 : 96;
		rnd_bytes(&st, d->pk, d->pk_len);
		rnd_bytes(&st, share, sizeof(share));
		sh->epoch = epoch;
		sh->domain = i;
		sh->attempt = d->attempt;
		sh->scheme = mpc_curve_name(d->curve);
		if (d->curve == MPC_CURVE_SECP256K1) {
			mpc_secp256k1_compress_xy(d->pk, pk);
			pkn = 33;
		} else {
			memcpy(pk, d->pk, d->pk_len);
			pkn = d->pk_len;
		}
		if (mpc_hex_encode(pk, pkn, sh->pk_hex, sizeof(sh->pk_hex), NULL) != MPC_OK ||
		    mpc_hex_encode(share, 32, sh->share_hex, sizeof(sh->share_hex), NULL) != MPC_OK) {
			sf_set_free(out);
			return -1;
		}
	}
	return 0;
}

int sf_shares_json(const struct sf_share *s, size_t n, uint8_t **out, size_t *len)
{
	size_t cap = 512 + n * 512, off = 0;
	uint8_t *buf = mpc_secure_alloc(cap, NULL);

	*out = NULL;
	*len = 0;
	if (buf == NULL)
		return -1;
	off += (size_t)snprintf((char *)buf + off, cap - off, "[");
	for (size_t i = 0; i < n; i++) {
		int w = snprintf((char *)buf + off, cap - off,
				 "%s{\"key_id\":{\"epoch_id\":%llu,\"domain_id\":%llu,\"attempt_id\":%llu},"
				 "\"data\":{\"%s\":{\"private_share\":\"%s\",\"public_key\":\"%s\"}}}",
				 i ? "," : "", (unsigned long long)s[i].epoch,
				 (unsigned long long)s[i].domain, (unsigned long long)s[i].attempt,
				 s[i].scheme, s[i].share_hex, s[i].pk_hex);

		if (w < 0 || (size_t)w >= cap - off) {
			mpc_secure_free(buf);
			return -1;
		}
		off += (size_t)w;
	}
	if (off + 2 > cap) {
		mpc_secure_free(buf);
		return -1;
	}
	buf[off++] = ']';
	buf[off] = '\0';
	*out = buf;
	*len = off;
	return 0;
}

int sf_token_open(struct mpc_p11_ctx *ctx, const char *uri, struct mpc_token **out)
{
	struct mpc_pin_opts pin = { 0 };
	struct mpc_ceremony_report rep;
	struct mpc_err e = { 0 };

	*out = NULL;
	if (mpc_token_open(ctx, uri, &pin, out, &e) != MPC_OK) {
		fprintf(stderr, "token open %s: %s\n", uri, e.msg);
		return -1;
	}
	if (mpc_key_ceremony(*out, MPC_CEREMONY_SEAL, &rep, &e) != MPC_OK) {
		fprintf(stderr, "key ceremony: %s\n", e.msg);
		mpc_token_close(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}
