/* json.c: the guarded JSON loader and typed getters used by every contract parser. */
#include "src/model/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The marker a rewritten big integer becomes: a string whose first byte is NUL. Input text can
 * never produce one because the scanner refuses `\u0000` escapes. */
#define BIG_MARK "\"\\u0000"

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Does the integer literal text (optional '-', digits) fit in int64? */
static int fits_int64(const char *s, size_t n)
{
	static const char max_pos[] = "9223372036854775807";
	static const char max_neg[] = "9223372036854775808";
	const char *lim = max_pos;

	if (n > 0 && s[0] == '-') {
		s++;
		n--;
		lim = max_neg;
	}
	if (n < 19)
		return 1;
	if (n > 19)
		return 0;
	return memcmp(s, lim, 19) <= 0;
}

/* Scan `text`, refusing deep nesting and NUL escapes, copying into `out` (capacity checked by
 * the caller: len + len / 2 + 16 suffices, each rewrite of >= 19 bytes grows by 8). */
static int prescan(const char *text, size_t len, const char *what, char *out, size_t *out_len,
		   struct mpc_err *e)
{
	size_t i = 0, o = 0, depth = 0;

	while (i < len) {
		char c = text[i];

		if (c == '"') {
			out[o++] = text[i++];
			while (i < len && text[i] != '"') {
				if (text[i] == '\\' && i + 1 < len) {
					if (text[i + 1] == 'u' && i + 6 <= len &&
					    memcmp(text + i + 2, "0000", 4) == 0)
						return mpc_fail(
							e, MPC_ERR_PARSE,
							"%s: a string contains a \\u0000 escape at byte %zu",
							what, i);
					out[o++] = text[i++];
				}
				out[o++] = text[i++];
			}
			if (i < len)
				out[o++] = text[i++];
			continue;
		}
		if (c == '[' || c == '{') {
			if (++depth > MPC_CJSON_MAX_DEPTH)
				return mpc_fail(e, MPC_ERR_PARSE,
						"%s: JSON nested deeper than %d levels at byte %zu",
						what, MPC_CJSON_MAX_DEPTH, i);
		} else if (c == ']' || c == '}') {
			if (depth > 0)
				depth--;
		} else if (c == '-' || is_digit(c)) {
			/* The whole number token: [-]digits[.digits][(e|E)[+-]digits]. */
			size_t s = i, j = i, k;
			int frac = 0, lead0;

			if (text[j] == '-')
				j++;
			k = j;
			while (j < len && is_digit(text[j]))
				j++;
			lead0 = j - k > 1 && text[k] == '0';
			if (j < len && text[j] == '.') {
				frac = 1;
				j++;
				while (j < len && is_digit(text[j]))
					j++;
			}
			if (j < len && (text[j] == 'e' || text[j] == 'E')) {
				frac = 1;
				j++;
				if (j < len && (text[j] == '+' || text[j] == '-'))
					j++;
				while (j < len && is_digit(text[j]))
					j++;
			}
			if (!frac && !lead0 && j > k && !fits_int64(text + s, j - s)) {
				/* A plain integer jansson cannot hold: hand it over as a marker (bytes
				 * inside a larger text, not a string of its own). */
				/* NOLINTNEXTLINE(bugprone-not-null-terminated-result) */
				memcpy(out + o, BIG_MARK, strlen(BIG_MARK));
				o += strlen(BIG_MARK);
				memcpy(out + o, text + s, j - s);
				o += j - s;
				out[o++] = '"';
			} else {
				/* Anything else, valid or not, is jansson's to judge. */
				memcpy(out + o, text + s, j - s);
				o += j - s;
			}
			i = j;
			continue;
		}
		out[o++] = text[i++];
	}
	*out_len = o;
	return MPC_OK;
}

static int hex4(const char *s, size_t n, unsigned *out)
{
	unsigned v = 0;

	if (n < 4)
		return 0;
	for (int i = 0; i < 4; i++) {
		char c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return 0;
	}
	*out = v;
	return 1;
}

/* The "weight" of JSON text: the bytes of every string (keys too, escapes decoded to UTF-8)
 * plus the characters of every integer literal. jansson's lexer silently drops characters
 * when growing its token buffer fails (load.c lex_save ignores the allocation error), so a
 * parse can succeed with a string or integer cut short: comparing this with tree_weight()
 * of the result catches that. Only called on text jansson accepted. */
/* noinline: inlined into mpc_cjson_load, GCC 12 wrongly thinks buf may be uninitialised. */
__attribute__((noinline)) static unsigned long long text_weight(const char *s, size_t n)
{
	unsigned long long w = 0;
	size_t i = 0;

	while (i < n) {
		if (s[i] == '"') {
			for (i++; i < n && s[i] != '"'; w++) {
				unsigned cp = 0, lo = 0;

				if (s[i] != '\\') {
					i++;
				} else if (i + 1 >= n || s[i + 1] != 'u' ||
					   !hex4(s + i + 2, n - i - 2, &cp)) {
					i += 2;
				} else if (cp >= 0xd800 && cp <= 0xdbff && i + 12 <= n &&
					   s[i + 6] == '\\' && s[i + 7] == 'u' &&
					   hex4(s + i + 8, n - i - 8, &lo) && lo >= 0xdc00 &&
					   lo <= 0xdfff) {
					i += 12;
					w += 3;
				} else {
					i += 6;
					w += cp < 0x80 ? 0 : cp < 0x800 ? 1 : 2;
				}
			}
			i++;
		} else if (s[i] == '-' || is_digit(s[i])) {
			size_t j = i;
			int real = 0;

			while (j < n && (is_digit(s[j]) || strchr("+-.eE", s[j]) != NULL)) {
				real |= s[j] == '.' || s[j] == 'e' || s[j] == 'E';
				j++;
			}
			if (!real)
				w += j - i == 2 && s[i] == '-' && s[i + 1] == '0' ? 1 : j - i;
			i = j;
		} else {
			i++;
		}
	}
	return w;
}

static unsigned long long tree_weight(json_t *j)
{
	unsigned long long w = 0;
	const char *k;
	json_t *v;
	size_t i;
	char num[32];

	switch (json_typeof(j)) {
	case JSON_OBJECT:
		json_object_foreach(j, k, v) w += strlen(k) + tree_weight(v);
		break;
	case JSON_ARRAY:
		json_array_foreach(j, i, v) w += tree_weight(v);
		break;
	case JSON_STRING:
		w = json_string_length(j);
		break;
	case JSON_INTEGER:
		w = (unsigned long long)snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
						 json_integer_value(j));
		break;
	default:
		break;
	}
	return w;
}

#define JSON_FLAGS (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | JSON_DECODE_ANY)

/* Does parsing again fail the same way (same place, same message)? */
static int same_failure(const char *buf, size_t n, const json_error_t *first)
{
	json_error_t again;
	json_t *j = json_loadb(buf, n, JSON_FLAGS, &again);

	if (j != NULL) {
		json_decref(j);
		return 0;
	}
	return again.line == first->line && again.column == first->column &&
	       strcmp(again.text, first->text) == 0;
}

int mpc_cjson_load(const char *text, size_t len, const char *what, json_t **out, struct mpc_err *e)
{
	char *buf = NULL;
	size_t n = 0;
	json_error_t jerr;
	json_t *j = NULL;
	int rc;

	*out = NULL;
	if (len > (SIZE_MAX - 16) / 2)
		return mpc_fail(e, MPC_ERR_TOO_LARGE, "%s: %zu bytes of JSON is too large", what,
				len);
	buf = malloc(len + len / 2 + 16);
	if (buf == NULL)
		return mpc_fail(e, MPC_ERR_NOMEM, "%s: out of memory for %zu bytes of JSON", what,
				len);
	rc = prescan(text, len, what, buf, &n, e);
	if (rc != MPC_OK)
		goto out;
	j = json_loadb(buf, n, JSON_FLAGS, &jerr);
	if (j == NULL) {
		/* jansson returns NULL without an error text when one of its own allocations
		 * fails (and says json_error_out_of_memory for some), and "invalid token" when
		 * the allocation for a string token fails. A syntax error is deterministic: a
		 * second parse that ends otherwise shows the first failure was memory. */
		if (jerr.text[0] == '\0' || json_error_code(&jerr) == json_error_out_of_memory ||
		    !same_failure(buf, n, &jerr))
			rc = mpc_fail(e, MPC_ERR_NOMEM,
				      "%s: out of memory parsing %zu bytes of JSON", what, len);
		else
			rc = mpc_fail(e, MPC_ERR_PARSE,
				      "%s: invalid JSON at line %d column %d: %.80s", what,
				      jerr.line, jerr.column, jerr.text);
		goto out;
	}
	if (tree_weight(j) != text_weight(buf, n)) {
		json_decref(j);
		rc = mpc_fail(e, MPC_ERR_NOMEM,
			      "%s: out of memory parsing %zu bytes of JSON (the "
			      "parser lost characters)",
			      what, len);
		goto out;
	}
	*out = j;
	rc = MPC_OK;
out:
	free(buf);
	return rc;
}

void mpc_cjson_path_key(char out[MPC_CJSON_PATH_MAX], const char *parent, const char *key)
{
	if (parent == NULL || parent[0] == '\0')
		snprintf(out, MPC_CJSON_PATH_MAX, "%.200s", key);
	else
		snprintf(out, MPC_CJSON_PATH_MAX, "%.150s.%.100s", parent, key);
}

void mpc_cjson_path_index(char out[MPC_CJSON_PATH_MAX], const char *parent, size_t i)
{
	snprintf(out, MPC_CJSON_PATH_MAX, "%.200s[%zu]", parent, i);
}

static const char *type_name(const json_t *v)
{
	if (v == NULL)
		return "nothing";
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return json_string_length(v) > 0 && json_string_value(v)[0] == '\0' ? "a number"
										    : "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "something else";
}

int mpc_cjson_u64(const json_t *v, const char *path, uint64_t *out, struct mpc_err *e)
{
	*out = 0;
	if (json_is_integer(v)) {
		json_int_t x = json_integer_value(v);

		if (x < 0)
			return mpc_fail(e, MPC_ERR_PARSE,
					"%s: expected an unsigned integer, got a negative number",
					path);
		*out = (uint64_t)x;
		return MPC_OK;
	}
	if (json_is_string(v) && json_string_length(v) > 1 && json_string_value(v)[0] == '\0') {
		const char *d = json_string_value(v) + 1;
		size_t n = json_string_length(v) - 1;
		uint64_t acc = 0;

		if (d[0] == '-')
			return mpc_fail(e, MPC_ERR_PARSE,
					"%s: expected an unsigned integer, got a negative number",
					path);
		for (size_t i = 0; i < n; i++) {
			unsigned dig = (unsigned)(d[i] - '0');

			if (dig > 9)
				return mpc_fail(e, MPC_ERR_PARSE,
						"%s: expected an unsigned integer", path);
			if (acc > (UINT64_MAX - dig) / 10)
				return mpc_fail(e, MPC_ERR_PARSE,
						"%s: integer out of range (more than 2^64-1)",
						path);
			acc = acc * 10 + dig;
		}
		*out = acc;
		return MPC_OK;
	}
	if (json_is_real(v))
		return mpc_fail(
			e, MPC_ERR_PARSE,
			"%s: expected an unsigned integer, got a number with a fraction or exponent",
			path);
	return mpc_fail(e, MPC_ERR_PARSE, "%s: expected an unsigned integer, got %s", path,
			type_name(v));
}

int mpc_cjson_member(const json_t *obj, const char *path, const char *key, json_t **out,
		     struct mpc_err *e)
{
	char p[MPC_CJSON_PATH_MAX];

	*out = NULL;
	if (!json_is_object(obj))
		return mpc_fail(e, MPC_ERR_PARSE, "%s: expected an object, got %s", path,
				type_name(obj));
	*out = json_object_get(obj, key);
	if (*out == NULL) {
		mpc_cjson_path_key(p, path, key);
		return mpc_fail(e, MPC_ERR_PARSE, "%s: missing", p);
	}
	return MPC_OK;
}

static int member_typed(const json_t *obj, const char *path, const char *key, json_type t,
			const char *tname, json_t **out, struct mpc_err *e)
{
	char p[MPC_CJSON_PATH_MAX];
	int rc = mpc_cjson_member(obj, path, key, out, e);

	if (rc != MPC_OK)
		return rc;
	if (json_typeof(*out) != t) {
		mpc_cjson_path_key(p, path, key);
		rc = mpc_fail(e, MPC_ERR_PARSE, "%s: expected %s, got %s", p, tname,
			      type_name(*out));
		*out = NULL;
		return rc;
	}
	return MPC_OK;
}

int mpc_cjson_object(const json_t *obj, const char *path, const char *key, json_t **out,
		     struct mpc_err *e)
{
	return member_typed(obj, path, key, JSON_OBJECT, "an object", out, e);
}

int mpc_cjson_array(const json_t *obj, const char *path, const char *key, json_t **out,
		    struct mpc_err *e)
{
	return member_typed(obj, path, key, JSON_ARRAY, "an array", out, e);
}

int mpc_cjson_expect_string(const json_t *v, const char *path, const char **out, struct mpc_err *e)
{
	*out = NULL;
	if (!json_is_string(v) || (json_string_length(v) > 0 && json_string_value(v)[0] == '\0'))
		return mpc_fail(e, MPC_ERR_PARSE, "%s: expected a string, got %s", path,
				type_name(v));
	*out = json_string_value(v);
	return MPC_OK;
}

int mpc_cjson_expect_object(const json_t *v, const char *path, struct mpc_err *e)
{
	if (!json_is_object(v))
		return mpc_fail(e, MPC_ERR_PARSE, "%s: expected an object, got %s", path,
				type_name(v));
	return MPC_OK;
}

int mpc_cjson_string(const json_t *obj, const char *path, const char *key, const char **out,
		     struct mpc_err *e)
{
	char p[MPC_CJSON_PATH_MAX];
	json_t *v = NULL;
	int rc = mpc_cjson_member(obj, path, key, &v, e);

	*out = NULL;
	if (rc != MPC_OK)
		return rc;
	mpc_cjson_path_key(p, path, key);
	return mpc_cjson_expect_string(v, p, out, e);
}

int mpc_cjson_member_u64(const json_t *obj, const char *path, const char *key, uint64_t *out,
			 struct mpc_err *e)
{
	char p[MPC_CJSON_PATH_MAX];
	json_t *v = NULL;
	int rc = mpc_cjson_member(obj, path, key, &v, e);

	*out = 0;
	if (rc != MPC_OK)
		return rc;
	mpc_cjson_path_key(p, path, key);
	return mpc_cjson_u64(v, p, out, e);
}

json_t *mpc_cjson_from_u64(uint64_t v, const char *path, struct mpc_err *e)
{
	json_t *j;

	if (v > (uint64_t)INT64_MAX) {
		mpc_fail(e, MPC_ERR_UNSUPPORTED, "%s: %llu is above 2^63-1 and cannot be written",
			 path, (unsigned long long)v);
		return NULL;
	}
	j = json_integer((json_int_t)v);
	if (j == NULL)
		mpc_fail(e, MPC_ERR_NOMEM, "%s: out of memory", path);
	return j;
}

json_t *mpc_cjson_u64_shown(uint64_t v)
{
	char s[24];

	if (v <= (uint64_t)INT64_MAX)
		return json_integer((json_int_t)v);
	snprintf(s, sizeof(s), "%llu", (unsigned long long)v);
	return json_string(s);
}
