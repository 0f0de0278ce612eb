/* format.c: encoding and bounded parsing of store file headers, blobs and file names. */
#include "src/store/format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "src/model/near_key.h"
#include "src/util/encoding.h"

/* ---- writing ---- */

struct wbuf {
	uint8_t *p;
	size_t n, cap;
	int oom;
};

static void w_bytes(struct wbuf *w, const void *src, size_t n)
{
	if (w->oom)
		return;
	if (w->n + n > w->cap) {
		size_t ncap = w->cap ? w->cap : 256;
		uint8_t *np;

		while (ncap < w->n + n)
			ncap *= 2;
		np = realloc(w->p, ncap);
		if (np == NULL) {
			w->oom = 1;
			return;
		}
		w->p = np;
		w->cap = ncap;
	}
	if (n == 0)
		return;
	memcpy(w->p + w->n, src, n);
	w->n += n;
}

static void w_be(struct wbuf *w, uint64_t v, size_t width)
{
	uint8_t b[8];

	for (size_t i = 0; i < width; i++)
		b[i] = (uint8_t)(v >> (8 * (width - 1 - i)));
	w_bytes(w, b, width);
}

static void w_str8(struct wbuf *w, const char *s)
{
	size_t n = strlen(s);

	w_be(w, n, 1);
	w_bytes(w, s, n);
}

static int printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

static int check_str(const char *s, size_t max, const char *what, struct mpc_err *e)
{
	size_t n = strlen(s);

	if (n > max || !printable(s, n))
		return mpc_fail(e, MPC_ERR_INVALID,
				"store header: %s must be at most %zu printable ASCII characters",
				what, max);
	return MPC_OK;
}

static int check_keyset(const struct mpc_keyset *ks, struct mpc_err *e)
{
	if (ks->n_domains == 0)
		return mpc_fail(e, MPC_ERR_INVALID, "keyset of epoch %llu has no domains",
				(unsigned long long)ks->epoch_id);
	if (ks->n_domains > MPC_KEYSET_MAX_DOMAINS)
		return mpc_fail(e, MPC_ERR_INVALID, "keyset has %zu domains, over the limit of %d",
				ks->n_domains, MPC_KEYSET_MAX_DOMAINS);
	for (size_t i = 0; i < ks->n_domains; i++) {
		const struct mpc_domain_key *d = &ks->domains[i];
		size_t want = mpc_near_key_len(d->curve);

		if (want == 0 || d->pk_len != want)
			return mpc_fail(e, MPC_ERR_INVALID,
					"domain %llu: public key of %zu bytes for curve %d",
					(unsigned long long)d->domain_id, d->pk_len, (int)d->curve);
		for (size_t j = 0; j < i; j++)
			if (ks->domains[j].domain_id == d->domain_id)
				return mpc_fail(e, MPC_ERR_INVALID, "domain %llu appears twice",
						(unsigned long long)d->domain_id);
	}
	return MPC_OK;
}

int mpc_store_header_encode(const struct mpc_store_header *h, uint8_t **out, size_t *len,
			    struct mpc_err *e)
{
	struct wbuf w = { 0 };
	int rc;

	*out = NULL;
	*len = 0;
	if ((rc = check_str(h->contract, MPC_STORE_ACCOUNT_MAX, "contract account", e)) != MPC_OK ||
	    (rc = check_str(h->operator_, MPC_STORE_ACCOUNT_MAX, "operator account", e)) !=
		    MPC_OK ||
	    (rc = check_keyset(&h->keyset, e)) != MPC_OK)
		return rc;
	if (h->n_tokens < 1 || h->n_tokens > MPC_STORE_MAX_TOKENS)
		return mpc_fail(e, MPC_ERR_INVALID, "store header: %zu tokens (1 to %d allowed)",
				h->n_tokens, MPC_STORE_MAX_TOKENS);
	for (size_t i = 0; i < h->n_tokens; i++) {
		const struct mpc_store_token_id *t = &h->tokens[i];

		if (t->mech != MPC_SEAL_AES_GCM && t->mech != MPC_SEAL_AES_CBC_HMAC &&
		    t->mech != MPC_SEAL_AES_CBC_HMAC_DIGEST)
			return mpc_fail(e, MPC_ERR_INVALID,
					"store header: token %zu: bad mechanism", i);
		if ((rc = check_str(t->serial, 16, "token serial", e)) != MPC_OK ||
		    (rc = check_str(t->label, 32, "token label", e)) != MPC_OK ||
		    (rc = check_str(t->key_label, 64, "key label", e)) != MPC_OK)
			return rc;
		if (t->key_id_len > sizeof(t->key_id))
			return mpc_fail(e, MPC_ERR_INVALID, "store header: key id too long");
	}

	w_bytes(&w, MPC_STORE_MAGIC, MPC_STORE_MAGIC_LEN);
	w_be(&w, MPC_STORE_VERSION, 2);
	w_be(&w, 0, 4); /* body_len, patched below */
	w_be(&w, h->epoch, 8);
	w_be(&w, h->created, 8);
	w_str8(&w, h->contract);
	w_str8(&w, h->operator_);
	w_be(&w, h->n_tokens, 1);
	for (size_t i = 0; i < h->n_tokens; i++) {
		const struct mpc_store_token_id *t = &h->tokens[i];

		w_be(&w, (uint64_t)t->mech, 1);
		w_str8(&w, t->serial);
		w_str8(&w, t->label);
		w_str8(&w, t->key_label);
		w_be(&w, t->key_id_len, 1);
		w_bytes(&w, t->key_id, t->key_id_len);
	}
	w_be(&w, h->keyset.n_domains, 4);
	for (size_t i = 0; i < h->keyset.n_domains; i++) {
		const struct mpc_domain_key *d = &h->keyset.domains[i];

		w_be(&w, d->domain_id, 8);
		w_be(&w, d->attempt, 8);
		w_be(&w, (uint64_t)d->curve, 1);
		w_be(&w, d->pk_len, 1);
		w_bytes(&w, d->pk, d->pk_len);
	}
	if (w.oom) {
		free(w.p);
		return mpc_fail(e, MPC_ERR_NOMEM, "store header: out of memory");
	}
	if (w.n - MPC_STORE_PREFIX_LEN > MPC_STORE_HEADER_MAX) {
		free(w.p);
		return mpc_fail(e, MPC_ERR_TOO_LARGE, "store header: over %u bytes",
				MPC_STORE_HEADER_MAX);
	}
	{
		uint32_t body = (uint32_t)(w.n - MPC_STORE_PREFIX_LEN);

		w.p[10] = (uint8_t)(body >> 24);
		w.p[11] = (uint8_t)(body >> 16);
		w.p[12] = (uint8_t)(body >> 8);
		w.p[13] = (uint8_t)body;
	}
	*out = w.p;
	*len = w.n;
	return MPC_OK;
}

int mpc_store_file_build(const uint8_t *hdr, size_t hdr_len, const uint8_t *const *blobs,
			 const size_t *blob_lens, size_t n_blobs, uint8_t **out, size_t *len,
			 struct mpc_err *e)
{
	struct wbuf w = { 0 };

	*out = NULL;
	*len = 0;
	if (n_blobs < 1 || n_blobs > MPC_STORE_MAX_TOKENS)
		return mpc_fail(e, MPC_ERR_INTERNAL, "store file: %zu blobs", n_blobs);
	w_bytes(&w, hdr, hdr_len);
	w_be(&w, n_blobs, 1);
	for (size_t i = 0; i < n_blobs; i++) {
		if (blob_lens[i] > MPC_STORE_BLOB_MAX) {
			free(w.p);
			return mpc_fail(e, MPC_ERR_TOO_LARGE, "store file: blob of %zu bytes",
					blob_lens[i]);
		}
		w_be(&w, i, 1);
		w_be(&w, blob_lens[i], 4);
		w_bytes(&w, blobs[i], blob_lens[i]);
	}
	if (w.oom) {
		free(w.p);
		return mpc_fail(e, MPC_ERR_NOMEM, "store file: out of memory");
	}
	*out = w.p;
	*len = w.n;
	return MPC_OK;
}

/* ---- reading ---- */

struct rbuf {
	const uint8_t *p;
	size_t n, off;
};

static int r_be(struct rbuf *r, size_t width, uint64_t *v, const char *what, struct mpc_err *e)
{
	uint64_t x = 0;

	*v = 0;
	if (r->n - r->off < width)
		return mpc_fail(e, MPC_ERR_PARSE, "store file truncated in %s (offset %zu)", what,
				r->off);
	for (size_t i = 0; i < width; i++)
		x = (x << 8) | r->p[r->off + i];
	r->off += width;
	*v = x;
	return MPC_OK;
}

static int r_bytes(struct rbuf *r, void *dst, size_t n, const char *what, struct mpc_err *e)
{
	if (r->n - r->off < n)
		return mpc_fail(e, MPC_ERR_PARSE, "store file truncated in %s (offset %zu)", what,
				r->off);
	memcpy(dst, r->p + r->off, n);
	r->off += n;
	return MPC_OK;
}

/* str8 into dst[cap] (cap includes the NUL); refuses longer than cap-1 or non-printable. */
static int r_str8(struct rbuf *r, char *dst, size_t cap, const char *what, struct mpc_err *e)
{
	uint64_t n = 0;
	int rc = r_be(r, 1, &n, what, e);

	if (rc != MPC_OK)
		return rc;
	if (n > cap - 1)
		return mpc_fail(e, MPC_ERR_PARSE, "store header: %s of %llu bytes (at most %zu)",
				what, (unsigned long long)n, cap - 1);
	if ((rc = r_bytes(r, dst, (size_t)n, what, e)) != MPC_OK)
		return rc;
	dst[n] = '\0';
	if (!printable(dst, (size_t)n))
		return mpc_fail(e, MPC_ERR_PARSE, "store header: %s is not printable ASCII", what);
	return MPC_OK;
}

void mpc_store_header_free(struct mpc_store_header *h)
{
	if (h == NULL)
		return;
	mpc_keyset_free(&h->keyset);
	memset(h, 0, sizeof(*h));
}

int mpc_store_header_len(const uint8_t *prefix, size_t len, size_t *hdr_len, struct mpc_err *e)
{
	uint32_t body;
	uint16_t ver;

	*hdr_len = 0;
	if (len < MPC_STORE_PREFIX_LEN)
		return mpc_fail(e, MPC_ERR_PARSE,
				"not a store file, or truncated: %zu bytes is too short", len);
	if (memcmp(prefix, MPC_STORE_MAGIC, MPC_STORE_MAGIC_LEN) != 0)
		return mpc_fail(e, MPC_ERR_PARSE, "not a store file: bad magic");
	ver = (uint16_t)(prefix[8] << 8 | prefix[9]);
	if (ver != MPC_STORE_VERSION)
		return mpc_fail(e, MPC_ERR_PARSE,
				"store file format version %u is not supported "
				"(this build reads version %d)",
				ver, MPC_STORE_VERSION);
	body = (uint32_t)prefix[10] << 24 | (uint32_t)prefix[11] << 16 | (uint32_t)prefix[12] << 8 |
	       prefix[13];
	if (body > MPC_STORE_HEADER_MAX)
		return mpc_fail(e, MPC_ERR_PARSE,
				"store header: body of %u bytes is over the limit", body);
	*hdr_len = MPC_STORE_PREFIX_LEN + (size_t)body;
	return MPC_OK;
}

static int parse_body(struct rbuf *r, struct mpc_store_header *h, struct mpc_err *e)
{
	uint64_t v = 0;
	int rc;

	if ((rc = r_be(r, 8, &h->epoch, "epoch", e)) != MPC_OK ||
	    (rc = r_be(r, 8, &h->created, "created", e)) != MPC_OK ||
	    (rc = r_str8(r, h->contract, sizeof(h->contract), "contract account", e)) != MPC_OK ||
	    (rc = r_str8(r, h->operator_, sizeof(h->operator_), "operator account", e)) != MPC_OK ||
	    (rc = r_be(r, 1, &v, "token count", e)) != MPC_OK)
		return rc;
	if (v < 1 || v > MPC_STORE_MAX_TOKENS)
		return mpc_fail(e, MPC_ERR_PARSE, "store header: %llu tokens (1 to %d allowed)",
				(unsigned long long)v, MPC_STORE_MAX_TOKENS);
	h->n_tokens = (size_t)v;
	for (size_t i = 0; i < h->n_tokens; i++) {
		struct mpc_store_token_id *t = &h->tokens[i];

		if ((rc = r_be(r, 1, &v, "token mechanism", e)) != MPC_OK)
			return rc;
		if (v != MPC_SEAL_AES_GCM && v != MPC_SEAL_AES_CBC_HMAC &&
		    v != MPC_SEAL_AES_CBC_HMAC_DIGEST)
			return mpc_fail(e, MPC_ERR_PARSE, "store header: unknown mechanism %llu",
					(unsigned long long)v);
		t->mech = (enum mpc_seal_mech)v;
		if ((rc = r_str8(r, t->serial, sizeof(t->serial), "token serial", e)) != MPC_OK ||
		    (rc = r_str8(r, t->label, sizeof(t->label), "token label", e)) != MPC_OK ||
		    (rc = r_str8(r, t->key_label, sizeof(t->key_label), "key label", e)) !=
			    MPC_OK ||
		    (rc = r_be(r, 1, &v, "key id length", e)) != MPC_OK)
			return rc;
		if (v > sizeof(t->key_id))
			return mpc_fail(e, MPC_ERR_PARSE, "store header: key id of %llu bytes",
					(unsigned long long)v);
		t->key_id_len = (size_t)v;
		if ((rc = r_bytes(r, t->key_id, t->key_id_len, "key id", e)) != MPC_OK)
			return rc;
	}
	if ((rc = r_be(r, 4, &v, "domain count", e)) != MPC_OK)
		return rc;
	if (v < 1 || v > MPC_KEYSET_MAX_DOMAINS)
		return mpc_fail(e, MPC_ERR_PARSE, "store header: %llu domains (1 to %d allowed)",
				(unsigned long long)v, MPC_KEYSET_MAX_DOMAINS);
	/* each domain takes at least 18 bytes: refuse a count the body cannot hold before calloc */
	if (v * 18 > r->n - r->off)
		return mpc_fail(e, MPC_ERR_PARSE, "store header truncated in the domain list");
	h->keyset.epoch_id = h->epoch;
	h->keyset.domains = calloc((size_t)v, sizeof(*h->keyset.domains));
	if (h->keyset.domains == NULL)
		return mpc_fail(e, MPC_ERR_NOMEM, "store header: out of memory");
	h->keyset.n_domains = (size_t)v;
	for (size_t i = 0; i < h->keyset.n_domains; i++) {
		struct mpc_domain_key *d = &h->keyset.domains[i];
		uint64_t curve = 0, pkl = 0;

		if ((rc = r_be(r, 8, &d->domain_id, "domain id", e)) != MPC_OK ||
		    (rc = r_be(r, 8, &d->attempt, "attempt", e)) != MPC_OK ||
		    (rc = r_be(r, 1, &curve, "curve", e)) != MPC_OK ||
		    (rc = r_be(r, 1, &pkl, "public key length", e)) != MPC_OK)
			return rc;
		if (curve < MPC_CURVE_SECP256K1 || curve > MPC_CURVE_BLS12381 ||
		    pkl != mpc_near_key_len((enum mpc_curve)curve))
			return mpc_fail(
				e, MPC_ERR_PARSE,
				"store header: domain %llu has curve %llu with a %llu-byte key",
				(unsigned long long)d->domain_id, (unsigned long long)curve,
				(unsigned long long)pkl);
		d->curve = (enum mpc_curve)curve;
		d->pk_len = (size_t)pkl;
		if ((rc = r_bytes(r, d->pk, d->pk_len, "public key", e)) != MPC_OK)
			return rc;
		for (size_t j = 0; j < i; j++)
			if (h->keyset.domains[j].domain_id == d->domain_id)
				return mpc_fail(e, MPC_ERR_PARSE,
						"store header: domain %llu appears twice",
						(unsigned long long)d->domain_id);
	}
	if (r->off != r->n)
		return mpc_fail(e, MPC_ERR_PARSE, "store header: %zu unexpected bytes at its end",
				r->n - r->off);
	return MPC_OK;
}

int mpc_store_file_parse(const uint8_t *buf, size_t len, struct mpc_store_header *h,
			 size_t *hdr_len, struct mpc_store_blob_ref blobs[MPC_STORE_MAX_TOKENS],
			 size_t *n_blobs, struct mpc_err *e)
{
	struct rbuf r;
	size_t hl = 0;
	uint64_t v = 0;
	int rc;

	memset(h, 0, sizeof(*h));
	*hdr_len = 0;
	if (n_blobs != NULL)
		*n_blobs = 0;
	if ((rc = mpc_store_header_len(buf, len, &hl, e)) != MPC_OK)
		return rc;
	if (hl > len)
		return mpc_fail(e, MPC_ERR_PARSE,
				"store file truncated in its header (%zu of %zu "
				"bytes)",
				len, hl);
	h->version = MPC_STORE_VERSION;
	r.p = buf;
	r.n = hl;
	r.off = MPC_STORE_PREFIX_LEN;
	rc = parse_body(&r, h, e);
	if (rc != MPC_OK)
		goto fail;
	*hdr_len = hl;
	if (blobs == NULL)
		return MPC_OK;
	r.n = len;
	if ((rc = r_be(&r, 1, &v, "blob count", e)) != MPC_OK)
		goto fail;
	if (v != h->n_tokens) {
		rc = mpc_fail(e, MPC_ERR_PARSE, "store file has %llu blobs for %zu tokens",
			      (unsigned long long)v, h->n_tokens);
		goto fail;
	}
	for (size_t i = 0; i < h->n_tokens; i++) {
		uint64_t idx = 0, bl = 0;

		if ((rc = r_be(&r, 1, &idx, "blob token index", e)) != MPC_OK ||
		    (rc = r_be(&r, 4, &bl, "blob length", e)) != MPC_OK)
			goto fail;
		if (idx != i) {
			rc = mpc_fail(e, MPC_ERR_PARSE,
				      "store file: blob %zu is tagged for token %llu", i,
				      (unsigned long long)idx);
			goto fail;
		}
		if (bl > MPC_STORE_BLOB_MAX || bl > r.n - r.off) {
			rc = mpc_fail(e, MPC_ERR_PARSE,
				      "store file truncated in blob %zu (%llu bytes announced, %zu "
				      "left)",
				      i, (unsigned long long)bl, r.n - r.off);
			goto fail;
		}
		blobs[i].token_index = i;
		blobs[i].p = buf + r.off;
		blobs[i].len = (size_t)bl;
		r.off += (size_t)bl;
	}
	if (r.off != r.n) {
		rc = mpc_fail(e, MPC_ERR_PARSE,
			      "store file: %zu unexpected bytes after the last blob", r.n - r.off);
		goto fail;
	}
	if (n_blobs != NULL)
		*n_blobs = h->n_tokens;
	return MPC_OK;
fail:
	*hdr_len = 0;
	mpc_store_header_free(h);
	return rc;
}

/* ---- names ---- */

int mpc_store_file_name(const uint8_t *hdr, size_t hdr_len, uint64_t epoch,
			char out[MPC_STORE_NAME_MAX], struct mpc_err *e)
{
	uint8_t md[32];
	unsigned int mdlen = 0;
	char hex[2 * 8 + 1];
	int rc;

	out[0] = '\0';
	if (EVP_Digest(hdr, hdr_len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		return mpc_fail(e, MPC_ERR_INTERNAL, "SHA-256 of the store header failed");
	if ((rc = mpc_hex_encode(md, 8, hex, sizeof(hex), e)) != MPC_OK)
		return rc;
	snprintf(out, MPC_STORE_NAME_MAX, "keyset-e%020llu-%s.mpcs", (unsigned long long)epoch,
		 hex);
	return MPC_OK;
}

int mpc_store_name_parse(const char *name, uint64_t *epoch, char digest[MPC_STORE_DIGEST_HEX + 1])
{
	const char *p = name;
	uint64_t ep = 0;

	if (strncmp(p, "keyset-e", 8) != 0)
		return 0;
	p += 8;
	for (int i = 0; i < 20; i++, p++) {
		if (*p < '0' || *p > '9')
			return 0;
		if (ep > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return 0;
		ep = ep * 10 + (uint64_t)(*p - '0');
	}
	if (*p++ != '-')
		return 0;
	for (int i = 0; i < MPC_STORE_DIGEST_HEX; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return 0;
	if (strcmp(p + MPC_STORE_DIGEST_HEX, ".mpcs") != 0)
		return 0;
	memcpy(digest, p, MPC_STORE_DIGEST_HEX);
	digest[MPC_STORE_DIGEST_HEX] = '\0';
	*epoch = ep;
	return 1;
}

int mpc_store_name_is_temp(const char *name)
{
	return strncmp(name, ".tmp-", 5) == 0;
}
