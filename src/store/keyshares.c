/* keyshares.c: shape checks of the node's Keyshare array and its match against a keyset. */
#include "src/store/keyshares.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "src/util/encoding.h"

static const struct {
	const char *name;
	enum mpc_curve curve;
	size_t pk_len;
} schemes[] = {
	{ "Secp256k1", MPC_CURVE_SECP256K1, 33 },
	{ "Ed25519", MPC_CURVE_ED25519, 32 },
	{ "Bls12381", MPC_CURVE_BLS12381, 96 },
};

void mpc_secp256k1_compress_xy(const uint8_t xy[64], uint8_t out[33])
{
	out[0] = (uint8_t)(0x02 | (xy[63] & 1));
	memcpy(out + 1, xy, 32);
}

void mpc_keyshares_meta_free(struct mpc_keyshares_meta *m)
{
	if (m == NULL)
		return;
	free(m->items);
	m->items = NULL;
	m->n = 0;
}

static int get_u64(const json_t *obj, size_t idx, const char *key, uint64_t *out, struct mpc_err *e)
{
	const json_t *v = json_object_get(obj, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return mpc_fail(e, MPC_ERR_PARSE,
				"keyshares[%zu].key_id.%s: missing or not an unsigned integer", idx,
				key);
	*out = (uint64_t)json_integer_value(v);
	return MPC_OK;
}

/* private_share: 64 hex digits, checked in place (never decoded, never copied). */
static int check_private_share(const json_t *inner, size_t idx, const char *scheme,
			       struct mpc_err *e)
{
	const json_t *v = json_object_get(inner, "private_share");
	const char *s;
	unsigned bad = 0;

	if (!json_is_string(v))
		return mpc_fail(e, MPC_ERR_PARSE,
				"keyshares[%zu].data.%s.private_share: missing or not a string",
				idx, scheme);
	if (json_string_length(v) != 64)
		return mpc_fail(
			e, MPC_ERR_PARSE,
			"keyshares[%zu].data.%s.private_share: expected 64 hex digits, got %zu "
			"characters",
			idx, scheme, json_string_length(v));
	s = json_string_value(v);
	for (size_t i = 0; i < 64; i++) {
		unsigned char c = (unsigned char)s[i];
		unsigned ok =
			(c >= '0' && c <= '9') | (c >= 'a' && c <= 'f') | (c >= 'A' && c <= 'F');

		bad |= !ok;
	}
	if (bad)
		return mpc_fail(e, MPC_ERR_PARSE,
				"keyshares[%zu].data.%s.private_share: not hexadecimal", idx,
				scheme);
	return MPC_OK;
}

static int inspect_one(const json_t *item, size_t idx, struct mpc_keyshare_meta *m,
		       struct mpc_err *e)
{
	const json_t *kid, *data, *inner, *pk;
	const char *scheme = NULL;
	size_t si, n = 0;
	char what[96];
	int rc;

	if (!json_is_object(item))
		return mpc_fail(e, MPC_ERR_PARSE, "keyshares[%zu]: not an object", idx);
	kid = json_object_get(item, "key_id");
	if (!json_is_object(kid))
		return mpc_fail(e, MPC_ERR_PARSE, "keyshares[%zu].key_id: missing or not an object",
				idx);
	if ((rc = get_u64(kid, idx, "epoch_id", &m->epoch_id, e)) != MPC_OK ||
	    (rc = get_u64(kid, idx, "domain_id", &m->domain_id, e)) != MPC_OK ||
	    (rc = get_u64(kid, idx, "attempt_id", &m->attempt_id, e)) != MPC_OK)
		return rc;
	data = json_object_get(item, "data");
	if (!json_is_object(data) || json_object_size(data) != 1)
		return mpc_fail(e, MPC_ERR_PARSE,
				"keyshares[%zu].data: expected an object with exactly one scheme",
				idx);
	scheme = json_object_iter_key(json_object_iter((json_t *)data));
	for (si = 0; si < sizeof(schemes) / sizeof(schemes[0]); si++)
		if (strcmp(scheme, schemes[si].name) == 0)
			break;
	if (si == sizeof(schemes) / sizeof(schemes[0]))
		return mpc_fail(
			e, MPC_ERR_PARSE,
			"keyshares[%zu].data: unknown scheme (expected Secp256k1, Ed25519 or "
			"Bls12381)",
			idx);
	scheme = schemes[si].name;
	inner = json_object_get(data, scheme);
	if (!json_is_object(inner))
		return mpc_fail(e, MPC_ERR_PARSE, "keyshares[%zu].data.%s: not an object", idx,
				scheme);
	if ((rc = check_private_share(inner, idx, scheme, e)) != MPC_OK)
		return rc;
	pk = json_object_get(inner, "public_key");
	if (!json_is_string(pk))
		return mpc_fail(e, MPC_ERR_PARSE,
				"keyshares[%zu].data.%s.public_key: missing or not a string", idx,
				scheme);
	snprintf(what, sizeof(what), "keyshares[%zu].data.%s.public_key", idx, scheme);
	rc = mpc_hex_decode(json_string_value(pk), json_string_length(pk), m->pk, sizeof(m->pk), &n,
			    what, e);
	if (rc != MPC_OK)
		return rc;
	if (n != schemes[si].pk_len)
		return mpc_fail(e, MPC_ERR_PARSE, "%s: expected %zu bytes, got %zu", what,
				schemes[si].pk_len, n);
	m->pk_len = n;
	m->curve = schemes[si].curve;
	return MPC_OK;
}

int mpc_keyshares_inspect(const uint8_t *buf, size_t len, struct mpc_keyshares_meta *out,
			  struct mpc_err *e)
{
	struct mpc_keyshares_meta m = { 0 };
	json_error_t jerr;
	json_t *root = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (len > MPC_STORE_KEYSHARES_MAX)
		return mpc_fail(e, MPC_ERR_TOO_LARGE,
				"keyshares: %zu bytes is over the limit of %u", len,
				MPC_STORE_KEYSHARES_MAX);
	/* Never quote jerr.text: it can echo bytes of a private share. */
	root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		/* jansson leaves no error text when its own allocation failed. */
		if (jerr.text[0] == '\0' || json_error_code(&jerr) == json_error_out_of_memory)
			rc = mpc_fail(e, MPC_ERR_NOMEM, "keyshares: out of memory parsing JSON");
		else
			rc = mpc_fail(e, MPC_ERR_PARSE,
				      "keyshares: invalid JSON at line %d column %d", jerr.line,
				      jerr.column);
		goto out;
	}
	if (!json_is_array(root)) {
		rc = mpc_fail(e, MPC_ERR_PARSE, "keyshares: expected a JSON array");
		goto out;
	}
	m.n = json_array_size(root);
	if (m.n == 0) {
		rc = mpc_fail(e, MPC_ERR_PARSE, "keyshares: the array is empty");
		goto out;
	}
	if (m.n > MPC_KEYSET_MAX_DOMAINS) {
		rc = mpc_fail(e, MPC_ERR_TOO_LARGE,
			      "keyshares: %zu entries is over the limit of %d", m.n,
			      MPC_KEYSET_MAX_DOMAINS);
		goto out;
	}
	m.items = calloc(m.n, sizeof(*m.items));
	if (m.items == NULL) {
		rc = mpc_fail(e, MPC_ERR_NOMEM, "keyshares: out of memory");
		goto out;
	}
	for (size_t i = 0; i < m.n; i++) {
		rc = inspect_one(json_array_get(root, i), i, &m.items[i], e);
		if (rc != MPC_OK)
			goto out;
	}
	*out = m;
	m.items = NULL;
	rc = MPC_OK;
out:
	mpc_keyshares_meta_free(&m);
	json_decref(root);
	return rc;
}

int mpc_keyshares_check(const struct mpc_keyshares_meta *m, const struct mpc_keyset *ks,
			struct mpc_err *e)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct mpc_keyshare_meta *k = &m->items[i];

		if (k->epoch_id != ks->epoch_id)
			return mpc_fail(
				e, MPC_ERR_INVALID,
				"keyshare for domain %llu is from epoch %llu, the keyset is epoch "
				"%llu",
				(unsigned long long)k->domain_id, (unsigned long long)k->epoch_id,
				(unsigned long long)ks->epoch_id);
		if (mpc_keyset_domain(ks, k->domain_id) == NULL)
			return mpc_fail(e, MPC_ERR_INVALID,
					"keyshare for domain %llu: the keyset has no such domain",
					(unsigned long long)k->domain_id);
		for (size_t j = 0; j < i; j++)
			if (m->items[j].domain_id == k->domain_id)
				return mpc_fail(e, MPC_ERR_INVALID,
						"domain %llu has more than one keyshare",
						(unsigned long long)k->domain_id);
	}
	for (size_t d = 0; d < ks->n_domains; d++) {
		const struct mpc_domain_key *dk = &ks->domains[d];
		const struct mpc_keyshare_meta *k = NULL;
		uint8_t want[MPC_PK_MAX];
		size_t want_len = dk->pk_len;

		for (size_t i = 0; i < m->n && k == NULL; i++)
			if (m->items[i].domain_id == dk->domain_id)
				k = &m->items[i];
		if (k == NULL)
			return mpc_fail(e, MPC_ERR_INVALID,
					"domain %llu of epoch %llu has no keyshare",
					(unsigned long long)dk->domain_id,
					(unsigned long long)ks->epoch_id);
		if (k->attempt_id != dk->attempt)
			return mpc_fail(
				e, MPC_ERR_INVALID,
				"keyshare for domain %llu is from attempt %llu, the keyset has "
				"attempt %llu",
				(unsigned long long)dk->domain_id,
				(unsigned long long)k->attempt_id, (unsigned long long)dk->attempt);
		if (k->curve != dk->curve)
			return mpc_fail(e, MPC_ERR_INVALID,
					"keyshare for domain %llu is a %s share, the domain is %s",
					(unsigned long long)dk->domain_id, mpc_curve_name(k->curve),
					mpc_curve_name(dk->curve));
		if (dk->curve == MPC_CURVE_SECP256K1 && dk->pk_len == 64) {
			mpc_secp256k1_compress_xy(dk->pk, want);
			want_len = 33;
		} else {
			if (want_len > sizeof(want))
				return mpc_fail(e, MPC_ERR_INTERNAL, "domain %llu: key too long",
						(unsigned long long)dk->domain_id);
			memcpy(want, dk->pk, want_len);
		}
		if (k->pk_len != want_len || memcmp(k->pk, want, want_len) != 0)
			return mpc_fail(
				e, MPC_ERR_INVALID,
				"keyshare for domain %llu has a public key that differs from the "
				"keyset's",
				(unsigned long long)dk->domain_id);
	}
	return MPC_OK;
}

int mpc_keyshares_validate(const uint8_t *buf, size_t len, const struct mpc_keyset *ks,
			   struct mpc_err *e)
{
	struct mpc_keyshares_meta m;
	int rc = mpc_keyshares_inspect(buf, len, &m, e);

	if (rc != MPC_OK)
		return rc;
	rc = mpc_keyshares_check(&m, ks, e);
	mpc_keyshares_meta_free(&m);
	return rc;
}

/* Decimal digits of v. */
static size_t digits(uint64_t v)
{
	size_t n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

size_t mpc_keyshares_expected_size(const struct mpc_keyset *ks)
{
	size_t n = 2; /* [ ] */

	for (size_t i = 0; i < ks->n_domains; i++) {
		const struct mpc_domain_key *d = &ks->domains[i];
		size_t pk_len = 0;

		for (size_t j = 0; j < sizeof(schemes) / sizeof(schemes[0]); j++)
			if (schemes[j].curve == d->curve)
				pk_len = schemes[j].pk_len;
		/* {"key_id":{"epoch_id":E,"domain_id":D,"attempt_id":A},"data":{"S":
		 * {"private_share":"<64 hex>","public_key":"<hex>"}}} */
		n += strlen("{\"key_id\":{\"epoch_id\":,\"domain_id\":,\"attempt_id\":},\"data\":{\"\":"
			    "{\"private_share\":\"\",\"public_key\":\"\"}}}") +
		     digits(ks->epoch_id) + digits(d->domain_id) + digits(d->attempt) +
		     strlen(mpc_curve_name(d->curve)) + 64 + 2 * pk_len + (i > 0 ? 1 : 0);
	}
	return n;
}
