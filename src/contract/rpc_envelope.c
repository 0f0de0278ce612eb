/* rpc_envelope.c: a small validating JSON scanner specialised for the JSON-RPC envelope. */
#include "src/contract/rpc_envelope.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/model/json.h"
#include "src/util/escape.h"

#define ERROR_TEXT_MAX 65536

struct scan {
	const char *s;
	size_t n, i;
	int depth;
};

struct found {
	const char *err; /* top-level "error" value span */
	size_t err_len;
	const char *res_err; /* result.error value span */
	size_t res_err_len;
	int has_bytes;
	int has_result;
	uint64_t block_height;
	const char *hash; /* result.block_hash content span */
	size_t hash_len;
	int seen_hash;
};

static void ws(struct scan *sc)
{
	while (sc->i < sc->n && (sc->s[sc->i] == ' ' || sc->s[sc->i] == '\t' ||
				 sc->s[sc->i] == '\n' || sc->s[sc->i] == '\r'))
		sc->i++;
}

static int bad(struct scan *sc, const char *what, struct mpc_err *e)
{
	return mpc_fail(e, MPC_ERR_PARSE, "rpc response: invalid JSON (%s) at byte %zu", what,
			sc->i);
}

static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A string; start and len get the raw content between the quotes. */
static int scan_string(struct scan *sc, const char **start, size_t *len, struct mpc_err *e)
{
	if (sc->i >= sc->n || sc->s[sc->i] != '"')
		return bad(sc, "expected a string", e);
	sc->i++;
	*start = sc->s + sc->i;
	while (sc->i < sc->n) {
		unsigned char c = (unsigned char)sc->s[sc->i];

		if (c == '"') {
			*len = (size_t)(sc->s + sc->i - *start);
			sc->i++;
			return MPC_OK;
		}
		if (c < 0x20)
			return bad(sc, "control character in a string", e);
		if (c == '\\') {
			if (sc->i + 1 >= sc->n)
				break;
			c = (unsigned char)sc->s[sc->i + 1];
			if (c == 'u') {
				if (sc->i + 6 > sc->n || !is_hex(sc->s[sc->i + 2]) ||
				    !is_hex(sc->s[sc->i + 3]) || !is_hex(sc->s[sc->i + 4]) ||
				    !is_hex(sc->s[sc->i + 5]))
					return bad(sc, "bad \\u escape", e);
				sc->i += 6;
				continue;
			}
			if (c == '\0' || strchr("\"\\/bfnrt", c) == NULL)
				return bad(sc, "bad escape", e);
			sc->i += 2;
			continue;
		}
		sc->i++;
	}
	return bad(sc, "unterminated string", e);
}

static int scan_number(struct scan *sc, struct mpc_err *e)
{
	size_t s = sc->i;

	if (sc->i < sc->n && sc->s[sc->i] == '-')
		sc->i++;
	if (sc->i >= sc->n || sc->s[sc->i] < '0' || sc->s[sc->i] > '9')
		return bad(sc, "bad number", e);
	if (sc->s[sc->i] == '0')
		sc->i++;
	else
		while (sc->i < sc->n && sc->s[sc->i] >= '0' && sc->s[sc->i] <= '9')
			sc->i++;
	if (sc->i < sc->n && sc->s[sc->i] == '.') {
		sc->i++;
		if (sc->i >= sc->n || sc->s[sc->i] < '0' || sc->s[sc->i] > '9')
			return bad(sc, "bad number", e);
		while (sc->i < sc->n && sc->s[sc->i] >= '0' && sc->s[sc->i] <= '9')
			sc->i++;
	}
	if (sc->i < sc->n && (sc->s[sc->i] == 'e' || sc->s[sc->i] == 'E')) {
		sc->i++;
		if (sc->i < sc->n && (sc->s[sc->i] == '+' || sc->s[sc->i] == '-'))
			sc->i++;
		if (sc->i >= sc->n || sc->s[sc->i] < '0' || sc->s[sc->i] > '9')
			return bad(sc, "bad number", e);
		while (sc->i < sc->n && sc->s[sc->i] >= '0' && sc->s[sc->i] <= '9')
			sc->i++;
	}
	return sc->i > s ? MPC_OK : bad(sc, "bad number", e);
}

static int scan_literal(struct scan *sc, const char *lit, struct mpc_err *e)
{
	size_t l = strlen(lit);

	if (sc->n - sc->i < l || memcmp(sc->s + sc->i, lit, l) != 0)
		return bad(sc, "unexpected token", e);
	sc->i += l;
	return MPC_OK;
}

static int skip_value(struct scan *sc, struct mpc_err *e);

/* Iterate an object's members: calls `member` with the key span, positioned at the value. */
typedef int (*member_fn)(struct scan *sc, const char *key, size_t klen, void *ctx,
			 struct mpc_err *e);

static int scan_object(struct scan *sc, member_fn member, void *ctx, struct mpc_err *e)
{
	const char *k;
	size_t kl;
	int rc;

	if (sc->i >= sc->n || sc->s[sc->i] != '{')
		return bad(sc, "expected an object", e);
	if (++sc->depth > MPC_CJSON_MAX_DEPTH)
		return bad(sc, "nested too deeply", e);
	sc->i++;
	ws(sc);
	if (sc->i < sc->n && sc->s[sc->i] == '}') {
		sc->i++;
		sc->depth--;
		return MPC_OK;
	}
	for (;;) {
		ws(sc);
		rc = scan_string(sc, &k, &kl, e);
		if (rc != MPC_OK)
			return rc;
		ws(sc);
		if (sc->i >= sc->n || sc->s[sc->i] != ':')
			return bad(sc, "expected ':'", e);
		sc->i++;
		ws(sc);
		rc = member != NULL ? member(sc, k, kl, ctx, e) : skip_value(sc, e);
		if (rc != MPC_OK)
			return rc;
		ws(sc);
		if (sc->i < sc->n && sc->s[sc->i] == ',') {
			sc->i++;
			continue;
		}
		if (sc->i < sc->n && sc->s[sc->i] == '}') {
			sc->i++;
			sc->depth--;
			return MPC_OK;
		}
		return bad(sc, "expected ',' or '}'", e);
	}
}

static int skip_value(struct scan *sc, struct mpc_err *e)
{
	const char *s;
	size_t l;
	int rc;

	if (sc->i >= sc->n)
		return bad(sc, "unexpected end", e);
	switch (sc->s[sc->i]) {
	case '{':
		return scan_object(sc, NULL, NULL, e);
	case '[':
		if (++sc->depth > MPC_CJSON_MAX_DEPTH)
			return bad(sc, "nested too deeply", e);
		sc->i++;
		ws(sc);
		if (sc->i < sc->n && sc->s[sc->i] == ']') {
			sc->i++;
			sc->depth--;
			return MPC_OK;
		}
		for (;;) {
			ws(sc);
			rc = skip_value(sc, e);
			if (rc != MPC_OK)
				return rc;
			ws(sc);
			if (sc->i < sc->n && sc->s[sc->i] == ',') {
				sc->i++;
				continue;
			}
			if (sc->i < sc->n && sc->s[sc->i] == ']') {
				sc->i++;
				sc->depth--;
				return MPC_OK;
			}
			return bad(sc, "expected ',' or ']'", e);
		}
	case '"':
		return scan_string(sc, &s, &l, e);
	case 't':
		return scan_literal(sc, "true", e);
	case 'f':
		return scan_literal(sc, "false", e);
	case 'n':
		return scan_literal(sc, "null", e);
	default:
		return scan_number(sc, e);
	}
}

struct result_ctx {
	struct found *f;
	char *bytes;
	size_t nbytes, cap;
	int seen_result, seen_error, seen_height;
};

static int key_is(const char *k, size_t kl, const char *want)
{
	return kl == strlen(want) && memcmp(k, want, kl) == 0;
}

static int scan_bytes(struct scan *sc, struct result_ctx *rc_, struct mpc_err *e)
{
	if (sc->i >= sc->n || sc->s[sc->i] != '[')
		return mpc_fail(e, MPC_ERR_PARSE, "rpc response: result.result: expected an array");
	sc->i++;
	ws(sc);
	if (sc->i < sc->n && sc->s[sc->i] == ']') {
		sc->i++;
		return MPC_OK;
	}
	for (;;) {
		unsigned v = 0;
		size_t d = 0;

		ws(sc);
		while (sc->i < sc->n && sc->s[sc->i] >= '0' && sc->s[sc->i] <= '9' && d < 4) {
			v = v * 10 + (unsigned)(sc->s[sc->i] - '0');
			sc->i++;
			d++;
		}
		if (d == 0 || v > 255 || (d > 1 && sc->s[sc->i - d] == '0') ||
		    (sc->i < sc->n &&
		     (sc->s[sc->i] == '.' || sc->s[sc->i] == 'e' || sc->s[sc->i] == 'E' ||
		      (sc->s[sc->i] >= '0' && sc->s[sc->i] <= '9'))))
			return mpc_fail(e, MPC_ERR_PARSE,
					"rpc response: result.result[%zu]: expected a byte 0..255",
					rc_->nbytes);
		if (rc_->nbytes >= rc_->cap)
			return mpc_fail(e, MPC_ERR_INTERNAL, "rpc response: byte buffer overflow");
		rc_->bytes[rc_->nbytes++] = (char)v;
		ws(sc);
		if (sc->i < sc->n && sc->s[sc->i] == ',') {
			sc->i++;
			continue;
		}
		if (sc->i < sc->n && sc->s[sc->i] == ']') {
			sc->i++;
			return MPC_OK;
		}
		return bad(sc, "expected ',' or ']' in result.result", e);
	}
}

static int result_member(struct scan *sc, const char *k, size_t kl, void *ctx, struct mpc_err *e)
{
	struct result_ctx *r = ctx;
	size_t start = sc->i;
	int rc;

	if (key_is(k, kl, "result")) {
		if (r->seen_result++)
			return mpc_fail(e, MPC_ERR_PARSE,
					"rpc response: result.result: duplicate key");
		rc = scan_bytes(sc, r, e);
		if (rc == MPC_OK)
			r->f->has_bytes = 1;
		return rc;
	}
	if (key_is(k, kl, "error")) {
		if (r->seen_error++)
			return mpc_fail(e, MPC_ERR_PARSE,
					"rpc response: result.error: duplicate key");
		rc = skip_value(sc, e);
		r->f->res_err = sc->s + start;
		r->f->res_err_len = sc->i - start;
		return rc;
	}
	if (key_is(k, kl, "block_hash")) {
		if (r->f->seen_hash++)
			return mpc_fail(e, MPC_ERR_PARSE,
					"rpc response: result.block_hash: duplicate key");
		if (sc->i >= sc->n || sc->s[sc->i] != '"')
			return mpc_fail(e, MPC_ERR_PARSE,
					"rpc response: result.block_hash: expected a string");
		return scan_string(sc, &r->f->hash, &r->f->hash_len, e);
	}
	if (key_is(k, kl, "block_height")) {
		uint64_t h = 0;

		if (r->seen_height++)
			return mpc_fail(e, MPC_ERR_PARSE,
					"rpc response: result.block_height: duplicate key");
		while (sc->i < sc->n && sc->s[sc->i] >= '0' && sc->s[sc->i] <= '9') {
			unsigned dig = (unsigned)(sc->s[sc->i] - '0');

			if (h > (UINT64_MAX - dig) / 10)
				return mpc_fail(e, MPC_ERR_PARSE,
						"rpc response: result.block_height: out of range");
			h = h * 10 + dig;
			sc->i++;
		}
		if (sc->i == start || (sc->i - start > 1 && sc->s[start] == '0'))
			return mpc_fail(
				e, MPC_ERR_PARSE,
				"rpc response: result.block_height: expected an unsigned integer");
		r->f->block_height = h;
		return MPC_OK;
	}
	return skip_value(sc, e);
}

struct top_ctx {
	struct result_ctx *r;
	int seen_result, seen_error;
};

static int top_member(struct scan *sc, const char *k, size_t kl, void *ctx, struct mpc_err *e)
{
	struct top_ctx *t = ctx;
	size_t start = sc->i;
	int rc;

	if (key_is(k, kl, "result")) {
		if (t->seen_result++)
			return mpc_fail(e, MPC_ERR_PARSE, "rpc response: result: duplicate key");
		if (sc->i < sc->n && sc->s[sc->i] != '{')
			return mpc_fail(e, MPC_ERR_PARSE,
					"rpc response: result: expected an object");
		t->r->f->has_result = 1;
		return scan_object(sc, result_member, t->r, e);
	}
	if (key_is(k, kl, "error")) {
		if (t->seen_error++)
			return mpc_fail(e, MPC_ERR_PARSE, "rpc response: error: duplicate key");
		rc = skip_value(sc, e);
		t->r->f->err = sc->s + start;
		t->r->f->err_len = sc->i - start;
		return rc;
	}
	return skip_value(sc, e);
}

/* Render a JSON value span (an error) as text: strings as their content, objects through the
 * usual NEAR fields (name, cause.name, message, data). */
static void error_text(const char *span, size_t len, char *out, size_t cap, int *unknown_block)
{
	json_t *j = NULL;
	const char *parts[4] = { NULL, NULL, NULL, NULL };
	size_t o = 0;

	out[0] = '\0';
	if (len <= ERROR_TEXT_MAX)
		j = json_loadb(span, len, JSON_DECODE_ANY, NULL);
	if (j == NULL) {
		snprintf(out, cap, "(unreadable error value of %zu bytes)", len);
		return;
	}
	if (json_is_string(j)) {
		parts[0] = json_string_value(j);
	} else if (json_is_object(j)) {
		json_t *c = json_object_get(j, "cause");

		parts[0] = json_string_value(json_object_get(j, "name"));
		parts[1] = json_string_value(json_object_get(c, "name"));
		parts[2] = json_string_value(json_object_get(j, "message"));
		parts[3] = json_string_value(json_object_get(j, "data"));
		/* nearcore: cause UNKNOWN_BLOCK (not produced yet, or garbage-collected) or, for
		 * queries, GARBAGE_COLLECTED_BLOCK; older versions only say so in `data`. */
		if (unknown_block != NULL &&
		    ((parts[1] != NULL && (strcmp(parts[1], "UNKNOWN_BLOCK") == 0 ||
					   strcmp(parts[1], "GARBAGE_COLLECTED_BLOCK") == 0)) ||
		     (parts[1] == NULL && parts[3] != NULL &&
		      strncmp(parts[3], "DB Not Found Error: BLOCK HEIGHT", 32) == 0)))
			*unknown_block = 1;
	}
	for (size_t i = 0; i < 4; i++) {
		int n;

		if (parts[i] == NULL || o >= cap)
			continue;
		n = snprintf(out + o, cap - o, "%s%.200s", o ? ": " : "", parts[i]);
		o = n < 0 ? cap : o + (size_t)n;
	}
	if (out[0] == '\0')
		snprintf(out, cap, "(error value without a message)");
	json_decref(j);
	/* Keep messages one line and printable: the server's text is escaped (controls, bidi
	 * overrides, malformed UTF-8). */
	{
		char raw[600];

		snprintf(raw, sizeof(raw), "%s", out);
		mpc_escape_untrusted(raw, out, cap);
	}
}

int mpc_rpc_envelope_decode(const char *text, size_t len, char **out, size_t *out_len,
			    uint64_t *block_height, struct mpc_err *e)
{
	struct mpc_rpc_meta meta;
	int rc = mpc_rpc_envelope_decode_meta(text, len, out, out_len, &meta, e);

	if (block_height != NULL)
		*block_height = rc == MPC_OK ? meta.block_height : 0;
	return rc;
}

/* A block hash as nearcore writes it: base58, 1..MPC_BLOCK_HASH_MAX-1 characters. */
static int hash_ok(const char *s, size_t n)
{
	static const char alphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

	if (n == 0 || n >= MPC_BLOCK_HASH_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '\0' || strchr(alphabet, s[i]) == NULL)
			return 0;
	return 1;
}

int mpc_rpc_envelope_decode_meta(const char *text, size_t len, char **out, size_t *out_len,
				 struct mpc_rpc_meta *meta, struct mpc_err *e)
{
	struct scan sc = { text, len, 0, 0 };
	struct found f;
	struct result_ctx r;
	struct top_ctx t;
	char msg[600];
	int rc;

	*out = NULL;
	*out_len = 0;
	memset(meta, 0, sizeof(*meta));
	memset(&f, 0, sizeof(f));
	memset(&r, 0, sizeof(r));
	memset(&t, 0, sizeof(t));
	r.f = &f;
	t.r = &r;
	r.cap = len / 2 + 1;
	r.bytes = malloc(r.cap + 1);
	if (r.bytes == NULL)
		return mpc_fail(e, MPC_ERR_NOMEM, "rpc response: out of memory");
	ws(&sc);
	if (sc.i >= sc.n || sc.s[sc.i] != '{') {
		rc = mpc_fail(e, MPC_ERR_PARSE, "rpc response: not a JSON object");
		goto out;
	}
	rc = scan_object(&sc, top_member, &t, e);
	if (rc != MPC_OK)
		goto out;
	ws(&sc);
	if (sc.i != sc.n) {
		rc = bad(&sc, "trailing data", e);
		goto out;
	}
	if (f.err != NULL) {
		error_text(f.err, f.err_len, msg, sizeof(msg), &meta->unknown_block);
		rc = mpc_fail(e, MPC_ERR_RPC, "JSON-RPC error: %s", msg);
		goto out;
	}
	if (f.res_err != NULL) {
		error_text(f.res_err, f.res_err_len, msg, sizeof(msg), NULL);
		rc = mpc_fail(e, MPC_ERR_RPC, "contract error: %s", msg);
		goto out;
	}
	if (!f.has_result || !f.has_bytes) {
		rc = mpc_fail(e, MPC_ERR_PARSE, "rpc response: %s: missing",
			      f.has_result ? "result.result" : "result");
		goto out;
	}
	if (f.hash != NULL && !hash_ok(f.hash, f.hash_len)) {
		rc = mpc_fail(e, MPC_ERR_PARSE,
			      "rpc response: result.block_hash: expected 1..%d base58 characters",
			      MPC_BLOCK_HASH_MAX - 1);
		goto out;
	}
	r.bytes[r.nbytes] = '\0';
	*out = r.bytes;
	*out_len = r.nbytes;
	r.bytes = NULL;
	meta->block_height = f.block_height;
	if (f.hash != NULL) {
		memcpy(meta->block_hash, f.hash, f.hash_len);
		meta->block_hash[f.hash_len] = '\0';
	}
	rc = MPC_OK;
out:
	free(r.bytes);
	return rc;
}

int mpc_rpc_block_decode(const char *text, size_t len, struct mpc_rpc_meta *meta, struct mpc_err *e)
{
	json_t *j = NULL, *res, *hdr, *err;
	const char *hash;
	json_int_t h;
	char msg[600];
	int rc;

	memset(meta, 0, sizeof(*meta));
	j = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(j)) {
		rc = mpc_fail(e, MPC_ERR_PARSE, "rpc block response: not a JSON object");
		goto out;
	}
	err = json_object_get(j, "error");
	if (err != NULL) {
		char *span = json_dumps(err, JSON_COMPACT | JSON_ENCODE_ANY);

		if (span == NULL) {
			rc = mpc_fail(e, MPC_ERR_NOMEM, "rpc block response: out of memory");
			goto out;
		}
		error_text(span, strlen(span), msg, sizeof(msg), &meta->unknown_block);
		free(span);
		rc = mpc_fail(e, MPC_ERR_RPC, "JSON-RPC error: %s", msg);
		goto out;
	}
	res = json_object_get(j, "result");
	hdr = json_object_get(res, "header");
	if (!json_is_object(hdr)) {
		rc = mpc_fail(e, MPC_ERR_PARSE, "rpc block response: result.header: missing");
		goto out;
	}
	if (!json_is_integer(json_object_get(hdr, "height")) ||
	    (h = json_integer_value(json_object_get(hdr, "height"))) <= 0) {
		rc = mpc_fail(
			e, MPC_ERR_PARSE,
			"rpc block response: result.header.height: expected a positive integer");
		goto out;
	}
	hash = json_string_value(json_object_get(hdr, "hash"));
	if (hash == NULL || !hash_ok(hash, strlen(hash))) {
		rc = mpc_fail(e, MPC_ERR_PARSE,
			      "rpc block response: result.header.hash: expected 1..%d base58 "
			      "characters",
			      MPC_BLOCK_HASH_MAX - 1);
		goto out;
	}
	meta->block_height = (uint64_t)h;
	snprintf(meta->block_hash, sizeof(meta->block_hash), "%s", hash);
	rc = MPC_OK;
out:
	json_decref(j);
	return rc;
}
