/* keyset.c: the contract's Keyset: parse, emit, compare, copy. */
#include "src/model/keyset.h"

#include <stdlib.h>
#include <string.h>

#include "src/model/json.h"
#include "src/model/near_key.h"

/* {"Ed25519": {"near_public_key_compressed": ..., "edwards_point": [32 numbers]}}: the point is
 * the compressed encoding again (curve25519-dalek serialises it that way); it must match. */
static int parse_edwards_point(const json_t *inner, const char *path, const uint8_t pk[32],
			       struct mpc_err *e)
{
	char p[MPC_CJSON_PATH_MAX], pi[MPC_CJSON_PATH_MAX];
	json_t *arr = NULL;
	uint8_t pt[32];
	int rc = mpc_cjson_array(inner, path, "edwards_point", &arr, e);

	if (rc != MPC_OK)
		return rc;
	mpc_cjson_path_key(p, path, "edwards_point");
	if (json_array_size(arr) != 32)
		return mpc_fail(e, MPC_ERR_PARSE, "%s: expected 32 numbers, got %zu", p,
				json_array_size(arr));
	for (size_t i = 0; i < 32; i++) {
		uint64_t b = 0;

		mpc_cjson_path_index(pi, p, i);
		rc = mpc_cjson_u64(json_array_get(arr, i), pi, &b, e);
		if (rc != MPC_OK)
			return rc;
		if (b > 255)
			return mpc_fail(e, MPC_ERR_PARSE, "%s: %llu is not a byte", pi,
					(unsigned long long)b);
		pt[i] = (uint8_t)b;
	}
	if (memcmp(pt, pk, 32) != 0)
		return mpc_fail(e, MPC_ERR_PARSE, "%s: does not match near_public_key_compressed",
				p);
	return MPC_OK;
}

static int parse_key(const json_t *key, const char *path, struct mpc_domain_key *d,
		     struct mpc_err *e)
{
	static const struct {
		const char *variant, *field;
		enum mpc_curve curve;
	} kinds[] = {
		{ "Secp256k1", "near_public_key", MPC_CURVE_SECP256K1 },
		{ "Ed25519", "near_public_key_compressed", MPC_CURVE_ED25519 },
		{ "Bls12381", "public_key", MPC_CURVE_BLS12381 },
	};
	char p[MPC_CJSON_PATH_MAX], pf[MPC_CJSON_PATH_MAX];
	const char *s = NULL;
	json_t *inner = NULL;
	int rc = mpc_cjson_expect_object(key, path, e);

	if (rc != MPC_OK)
		return rc;
	if (json_object_size(key) != 1)
		return mpc_fail(
			e, MPC_ERR_PARSE,
			"%s: expected exactly one of Secp256k1, Ed25519, Bls12381 (%zu keys)", path,
			json_object_size(key));
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		if (json_object_get(key, kinds[k].variant) == NULL)
			continue;
		rc = mpc_cjson_object(key, path, kinds[k].variant, &inner, e);
		if (rc != MPC_OK)
			return rc;
		mpc_cjson_path_key(p, path, kinds[k].variant);
		rc = mpc_cjson_string(inner, p, kinds[k].field, &s, e);
		if (rc != MPC_OK)
			return rc;
		mpc_cjson_path_key(pf, p, kinds[k].field);
		d->curve = kinds[k].curve;
		d->pk_len = mpc_near_key_len(d->curve);
		rc = mpc_near_key_parse(s, d->curve, d->pk, pf, e);
		if (rc != MPC_OK)
			return rc;
		if (d->curve == MPC_CURVE_ED25519)
			return parse_edwards_point(inner, p, d->pk, e);
		return MPC_OK;
	}
	return mpc_fail(e, MPC_ERR_PARSE,
			"%s: unknown key variant (expected Secp256k1, Ed25519 "
			"or Bls12381)",
			path);
}

int mpc_keyset_from_json(const json_t *j, const char *path, struct mpc_keyset *out,
			 struct mpc_err *e)
{
	char p[MPC_CJSON_PATH_MAX], pd[MPC_CJSON_PATH_MAX], pk[MPC_CJSON_PATH_MAX];
	struct mpc_keyset ks = { 0 };
	json_t *domains = NULL;
	size_t n;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = mpc_cjson_member_u64(j, path, "epoch_id", &ks.epoch_id, e);
	if (rc != MPC_OK)
		goto out;
	rc = mpc_cjson_array(j, path, "domains", &domains, e);
	if (rc != MPC_OK)
		goto out;
	mpc_cjson_path_key(p, path, "domains");
	n = json_array_size(domains);
	if (n > MPC_KEYSET_MAX_DOMAINS) {
		rc = mpc_fail(e, MPC_ERR_PARSE, "%s: %zu domains, at most %d allowed", p, n,
			      MPC_KEYSET_MAX_DOMAINS);
		goto out;
	}
	if (n > 0) {
		ks.domains = calloc(n, sizeof(*ks.domains));
		if (ks.domains == NULL) {
			rc = mpc_fail(e, MPC_ERR_NOMEM, "%s: out of memory", p);
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const json_t *dj = json_array_get(domains, i);
		struct mpc_domain_key *d = &ks.domains[i];
		json_t *key = NULL;

		mpc_cjson_path_index(pd, p, i);
		rc = mpc_cjson_member_u64(dj, pd, "domain_id", &d->domain_id, e);
		if (rc == MPC_OK)
			rc = mpc_cjson_member_u64(dj, pd, "attempt", &d->attempt, e);
		if (rc == MPC_OK)
			rc = mpc_cjson_member(dj, pd, "key", &key, e);
		if (rc != MPC_OK)
			goto out;
		mpc_cjson_path_key(pk, pd, "key");
		rc = parse_key(key, pk, d, e);
		if (rc != MPC_OK)
			goto out;
		ks.n_domains = i + 1;
		for (size_t k = 0; k < i; k++) {
			if (ks.domains[k].domain_id == d->domain_id) {
				rc = mpc_fail(e, MPC_ERR_PARSE,
					      "%s.domain_id: duplicate domain id %llu", pd,
					      (unsigned long long)d->domain_id);
				goto out;
			}
		}
	}
	ks.n_domains = n;
	*out = ks;
	memset(&ks, 0, sizeof(ks));
	rc = MPC_OK;
out:
	mpc_keyset_free(&ks);
	return rc;
}

int mpc_keyset_parse(const char *text, size_t len, struct mpc_keyset *out, struct mpc_err *e)
{
	json_t *j = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = mpc_cjson_load(text, len, "keyset", &j, e);
	if (rc == MPC_OK)
		rc = mpc_keyset_from_json(j, "keyset", out, e);
	json_decref(j);
	return rc;
}

static json_t *key_to_json(const struct mpc_domain_key *d, const char *path, struct mpc_err *e)
{
	char s[MPC_NEAR_KEY_STR_MAX];
	json_t *inner = NULL, *outer = NULL, *pt = NULL;

	if (d->pk_len != mpc_near_key_len(d->curve)) {
		mpc_fail(e, MPC_ERR_INVALID, "%s: key of %zu bytes for %s", path, d->pk_len,
			 mpc_curve_name(d->curve));
		return NULL;
	}
	if (mpc_near_key_format(d->curve, d->pk, d->pk_len, s, e) != MPC_OK)
		return NULL;
	switch (d->curve) {
	case MPC_CURVE_SECP256K1:
		inner = json_pack("{s:s}", "near_public_key", s);
		break;
	case MPC_CURVE_ED25519:
		pt = json_array();
		for (size_t i = 0; pt != NULL && i < 32; i++) {
			if (json_array_append_new(pt, json_integer(d->pk[i])) != 0) {
				json_decref(pt);
				pt = NULL;
			}
		}
		if (pt != NULL)
			inner = json_pack("{s:s,s:o}", "near_public_key_compressed", s,
					  "edwards_point", pt);
		break;
	case MPC_CURVE_BLS12381:
		inner = json_pack("{s:s}", "public_key", s);
		break;
	}
	if (inner != NULL)
		outer = json_pack("{s:o}", mpc_curve_name(d->curve), inner);
	if (outer == NULL)
		mpc_fail(e, MPC_ERR_NOMEM, "%s: out of memory", path);
	return outer;
}

json_t *mpc_keyset_to_json(const struct mpc_keyset *ks, struct mpc_err *e)
{
	json_t *root = NULL, *arr = NULL, *ep = NULL;

	ep = mpc_cjson_from_u64(ks->epoch_id, "keyset.epoch_id", e);
	arr = json_array();
	root = json_object();
	if (ep == NULL || arr == NULL || root == NULL)
		goto fail;
	if (json_object_set_new(root, "epoch_id", ep) != 0) {
		ep = NULL;
		goto fail;
	}
	ep = NULL;
	for (size_t i = 0; i < ks->n_domains; i++) {
		const struct mpc_domain_key *d = &ks->domains[i];
		json_t *dj = NULL, *id = NULL, *key = NULL, *att = NULL;

		id = mpc_cjson_from_u64(d->domain_id, "keyset.domains[].domain_id", e);
		key = id != NULL ? key_to_json(d, "keyset.domains[].key", e) : NULL;
		att = key != NULL ? mpc_cjson_from_u64(d->attempt, "keyset.domains[].attempt", e)
				  : NULL;
		if (att != NULL)
			dj = json_pack("{s:o,s:o,s:o}", "domain_id", id, "key", key, "attempt",
				       att);
		else {
			json_decref(id);
			json_decref(key);
		}
		if (dj == NULL || json_array_append_new(arr, dj) != 0)
			goto fail;
	}
	if (json_object_set_new(root, "domains", arr) != 0) {
		arr = NULL;
		goto fail;
	}
	return root;
fail:
	mpc_fail(e, MPC_ERR_NOMEM, "keyset: out of memory building JSON");
	json_decref(ep);
	json_decref(arr);
	json_decref(root);
	return NULL;
}

int mpc_keyset_copy(struct mpc_keyset *dst, const struct mpc_keyset *src, struct mpc_err *e)
{
	memset(dst, 0, sizeof(*dst));
	if (src->n_domains > 0) {
		dst->domains = calloc(src->n_domains, sizeof(*dst->domains));
		if (dst->domains == NULL)
			return mpc_fail(e, MPC_ERR_NOMEM, "keyset copy: out of memory");
		memcpy(dst->domains, src->domains, src->n_domains * sizeof(*dst->domains));
	}
	dst->n_domains = src->n_domains;
	dst->epoch_id = src->epoch_id;
	return MPC_OK;
}

int mpc_keyset_equal(const struct mpc_keyset *a, const struct mpc_keyset *b)
{
	if (a->epoch_id != b->epoch_id || a->n_domains != b->n_domains)
		return 0;
	for (size_t i = 0; i < a->n_domains; i++) {
		const struct mpc_domain_key *x = &a->domains[i], *y = &b->domains[i];

		if (x->domain_id != y->domain_id || x->attempt != y->attempt ||
		    x->curve != y->curve || x->pk_len != y->pk_len ||
		    memcmp(x->pk, y->pk, x->pk_len) != 0)
			return 0;
	}
	return 1;
}

const struct mpc_domain_key *mpc_keyset_domain(const struct mpc_keyset *ks, uint64_t domain_id)
{
	for (size_t i = 0; i < ks->n_domains; i++)
		if (ks->domains[i].domain_id == domain_id)
			return &ks->domains[i];
	return NULL;
}

void mpc_keyset_free(struct mpc_keyset *ks)
{
	if (ks == NULL)
		return;
	free(ks->domains);
	memset(ks, 0, sizeof(*ks));
}
