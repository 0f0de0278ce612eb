/* uri.c: PKCS#11 URI parsing and matching on top of p11-kit. */
#include "pkcs11/internal.h"
#include "pkcs11/uri.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Lower-case, percent-decoded copy of at most cap-1 bytes of s. */
static void normalise(const char *s, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; s[i] != '\0' && o + 1 < cap; i++) {
		char c = s[i];

		if (c == '%' && isxdigit((unsigned char)s[i + 1]) &&
		    isxdigit((unsigned char)s[i + 2])) {
			char hex[3] = { s[i + 1], s[i + 2], '\0' };

			c = (char)strtol(hex, NULL, 16);
			i += 2;
		}
		out[o++] = (char)tolower((unsigned char)c);
	}
	out[o] = '\0';
}

int mpc_uri_has_pin_value(const char *s)
{
	char n[4200];

	normalise(s, n, sizeof(n));
	return strstr(n, "pin-value") != NULL || strstr(n, "pin_value") != NULL ||
	       strstr(n, "pinvalue") != NULL;
}

void mpc_uri_for_message(const char *s, char *out, size_t cap)
{
	char n[4200];
	size_t len = strcspn(s, "?");

	normalise(s, n, sizeof(n));
	if (strstr(n, "pin") != NULL &&
	    (strstr(n, "pin-source") == NULL || mpc_uri_has_pin_value(s))) {
		snprintf(out, cap, "(not shown)");
		return;
	}
	if (len > 120)
		len = 120;
	snprintf(out, cap, "%.*s%s", (int)len, s, s[len] != '\0' ? "?..." : "");
}

static char *dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

void mpc_token_uri_free(struct mpc_token_uri *u)
{
	if (u == NULL)
		return;
	if (u->uri != NULL)
		p11_kit_uri_free(u->uri);
	free(u->module_path);
	free(u->module_name);
	free(u->pin_file);
	free(u->object);
	free(u->text);
	free(u);
}

/* The attributes of RFC 7512 mpc-backup reads, where each belongs, and for the path's string
 * attributes the size of the PKCS#11 field they match (a longer value can match nothing). */
enum attr_place {
	IN_PATH,
	IN_QUERY
};

static const struct uri_attr {
	const char *name;
	enum attr_place place;
	size_t field; /* bytes of the CK_*_INFO field, 0 if not a string field */
} known_attrs[] = {
	{ "token", IN_PATH, 32 },
	{ "manufacturer", IN_PATH, 32 },
	{ "serial", IN_PATH, 16 },
	{ "model", IN_PATH, 16 },
	{ "slot-description", IN_PATH, 64 },
	{ "slot-manufacturer", IN_PATH, 32 },
	{ "slot-id", IN_PATH, 0 },
	{ "library-description", IN_PATH, 32 },
	{ "library-manufacturer", IN_PATH, 32 },
	{ "library-version", IN_PATH, 0 },
	{ "object", IN_PATH, 0 },
	{ "id", IN_PATH, 0 },
	{ "type", IN_PATH, 0 },
	{ "module-path", IN_QUERY, 0 },
	{ "module-name", IN_QUERY, 0 },
	{ "pin-source", IN_QUERY, 0 },
};

#define N_KNOWN_ATTRS (sizeof(known_attrs) / sizeof(known_attrs[0]))

/* An attribute name as a message may show it: at most 40 characters, anything but letters,
 * digits, '-', '_' and '.' percent-encoded (so never a '?' or a control character). */
static void name_for_message(const char *name, size_t len, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < len && i < 40 && o + 4 < cap; i++) {
		unsigned char c = (unsigned char)name[i];

		if (isalnum(c) || c == '-' || c == '_' || c == '.')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, cap - o, "%%%02X", c);
	}
	if (len > 40 && o + 4 < cap)
		o += (size_t)snprintf(out + o, cap - o, "...");
	out[o] = '\0';
}

/* slot-id: a decimal CK_SLOT_ID, as RFC 7512 writes it (p11-kit reads an empty value as 0 and
 * does not check for overflow, so it is read here). */
static int parse_slot_id(const char *v, size_t len, struct mpc_token_uri *u, const char *shown,
			 struct mpc_err *e)
{
	char digits[24];
	unsigned long long val;
	char *end;

	if (len == 0 || len >= sizeof(digits) || strspn(v, "0123456789") < len)
		return mpc_fail(e, MPC_ERR_PARSE,
				"PKCS#11 URI \"%s\": slot-id must be a decimal slot number (as "
				"`mpc-backup token list` prints it)",
				shown);
	memcpy(digits, v, len);
	digits[len] = '\0';
	errno = 0;
	val = strtoull(digits, &end, 10);
	if (errno != 0 || *end != '\0' || val > (unsigned long long)(CK_SLOT_ID)-1)
		return mpc_fail(e, MPC_ERR_PARSE, "PKCS#11 URI \"%s\": slot-id %s is out of range",
				shown, digits);
	u->has_slot_id = 1;
	u->slot_id = (CK_SLOT_ID)val;
	return MPC_OK;
}

/* 1 if p11-kit, given this one path attribute alone, marks the URI unrecognised (a value it
 * cannot match: a string longer than its field, an unknown type=). */
static int attr_unrecognised(const char *attr, size_t len)
{
	char buf[4200];
	P11KitUri *one;
	int bad = 0;

	if (len + 8 > sizeof(buf))
		return 1;
	snprintf(buf, sizeof(buf), "pkcs11:%.*s", (int)len, attr);
	one = p11_kit_uri_new();
	if (one == NULL)
		return 0;
	if (p11_kit_uri_parse(buf, P11_KIT_URI_FOR_ANY, one) == P11_KIT_URI_OK)
		bad = p11_kit_uri_any_unrecognized(one);
	p11_kit_uri_free(one);
	return bad;
}

/* One attribute ("name=value", len bytes) of the path or the query. seen[] marks the known
 * attributes met so far. */
static int check_attribute(const char *a, size_t len, enum attr_place place, int *seen,
			   struct mpc_token_uri *u, const char *shown, struct mpc_err *e)
{
	const char *eq = memchr(a, '=', len);
	size_t nlen = eq != NULL ? (size_t)(eq - a) : len;
	char name[200];
	size_t k;

	name_for_message(a, nlen, name, sizeof(name));
	for (k = 0; k < N_KNOWN_ATTRS; k++)
		if (strlen(known_attrs[k].name) == nlen &&
		    memcmp(known_attrs[k].name, a, nlen) == 0)
			break;
	if (k == N_KNOWN_ATTRS)
		return mpc_fail(
			e, MPC_ERR_PARSE,
			"PKCS#11 URI \"%s\": unknown attribute \"%s\" (RFC 7512 %s "
			"attributes mpc-backup reads: %s)",
			shown, name, place == IN_PATH ? "path" : "query",
			place == IN_PATH
				? "token, manufacturer, serial, model, slot-id, "
				  "slot-description, slot-manufacturer, library-description, "
				  "library-manufacturer, library-version, object, id, type"
				: "module-path, module-name, pin-source");
	if (known_attrs[k].place != place) {
		if (place == IN_PATH)
			/* No '?' in the advice: a message must not be able to contain the URI's
			 * query, even by coincidence. */
			return mpc_fail(
				e, MPC_ERR_PARSE,
				"PKCS#11 URI \"%s\": %s is a query attribute (RFC 7512): it "
				"goes in the query part, after the question mark that ends "
				"the path, not among the ';'-separated path attributes",
				shown, name);
		return mpc_fail(e, MPC_ERR_PARSE,
				"PKCS#11 URI \"%s\": %s is a path attribute (RFC 7512): it goes "
				"before the question mark, among the ';'-separated path attributes",
				shown, name);
	}
	if (seen[k])
		return mpc_fail(
			e, MPC_ERR_PARSE,
			"PKCS#11 URI \"%s\": attribute \"%s\" is given twice (RFC 7512 allows "
			"each once)",
			shown, name);
	seen[k] = 1;
	if (eq == NULL)
		return MPC_OK; /* p11-kit refused this already */
	if (strcmp(known_attrs[k].name, "slot-id") == 0)
		return parse_slot_id(eq + 1, len - nlen - 1, u, shown, e);
	if (place == IN_PATH && attr_unrecognised(a, len)) {
		if (strcmp(known_attrs[k].name, "type") == 0)
			return mpc_fail(e, MPC_ERR_PARSE,
					"PKCS#11 URI \"%s\": type must be one of cert, public, "
					"private, secret-key, data",
					shown);
		return mpc_fail(e, MPC_ERR_PARSE,
				"PKCS#11 URI \"%s\": the value of %s is longer than the %zu bytes "
				"of its PKCS#11 field, so it can match nothing",
				shown, name, known_attrs[k].field);
	}
	return MPC_OK;
}

/* Every attribute of `s` (which p11-kit parsed) known, in its place, given once, with a value
 * that can match; slot-id read into u. p11-kit itself would let an unknown query attribute
 * through (as a vendor query) and quietly keep the last of a repeated one. */
static int check_attributes(const char *s, struct mpc_token_uri *u, const char *shown,
			    struct mpc_err *e)
{
	char buf[4200];
	int seen[N_KNOWN_ATTRS] = { 0 };
	const char *p, *q;
	size_t o = 0;
	int rc;

	/* p11-kit drops these characters anywhere in the URI before parsing: do the same */
	for (size_t i = 0; s[i] != '\0' && o + 1 < sizeof(buf); i++)
		if (strchr(" \n\r\v", s[i]) == NULL)
			buf[o++] = s[i];
	buf[o] = '\0';
	p = strchr(buf, ':');
	if (p == NULL)
		return MPC_OK; /* p11-kit refused this already */
	p++;
	q = strchr(p, '?');
	for (const char *a = p; a < (q != NULL ? q : p + strlen(p));) {
		size_t len = strcspn(a, ";?");

		if (len > 0) {
			rc = check_attribute(a, len, IN_PATH, seen, u, shown, e);
			if (rc != MPC_OK)
				return rc;
		}
		a += len;
		if (*a == ';')
			a++;
	}
	for (const char *a = q != NULL ? q + 1 : ""; *a != '\0';) {
		size_t len = strcspn(a, "&");

		if (len > 0) {
			rc = check_attribute(a, len, IN_QUERY, seen, u, shown, e);
			if (rc != MPC_OK)
				return rc;
		}
		a += len;
		if (*a == '&')
			a++;
	}
	return MPC_OK;
}

int mpc_token_uri_parse(const char *s, struct mpc_token_uri **out, struct mpc_err *e)
{
	struct mpc_token_uri *u = NULL;
	char shown[160];
	const char *src;
	CK_ATTRIBUTE *label;
	int r, rc = MPC_ERR_INTERNAL;

	*out = NULL;
	if (s == NULL || *s == '\0')
		return mpc_fail(e, MPC_ERR_PARSE, "empty PKCS#11 URI");
	if (strlen(s) > 4096)
		return mpc_fail(e, MPC_ERR_TOO_LARGE, "PKCS#11 URI longer than 4096 characters");
	if (mpc_uri_has_pin_value(s))
		/* Checked before parsing so that no message can echo the PIN. */
		return mpc_fail(
			e, MPC_ERR_PARSE,
			"PKCS#11 URI carries pin-value: a PIN must never be given on a command "
			"line; use pin-source=file:..., --pin-file or MPC_BACKUP_PIN");
	u = calloc(1, sizeof(*u));
	if (u == NULL || (u->uri = p11_kit_uri_new()) == NULL || (u->text = strdup("")) == NULL) {
		rc = mpc_fail(e, MPC_ERR_NOMEM, "out of memory");
		goto out;
	}
	mpc_uri_for_message(s, shown, sizeof(shown));
	free(u->text);
	if ((u->text = strdup(shown)) == NULL) {
		rc = mpc_fail(e, MPC_ERR_NOMEM, "out of memory");
		goto out;
	}
	r = p11_kit_uri_parse(s, P11_KIT_URI_FOR_ANY, u->uri);
	if (r != P11_KIT_URI_OK) {
		rc = mpc_fail(e, MPC_ERR_PARSE, "malformed PKCS#11 URI \"%s\": %s", shown,
			      p11_kit_uri_message(r));
		goto out;
	}
	rc = check_attributes(s, u, shown, e);
	if (rc != MPC_OK)
		goto out;
	if (p11_kit_uri_any_unrecognized(u->uri)) {
		/* check_attributes names every case p11-kit flags; this is the safety net */
		rc = mpc_fail(e, MPC_ERR_PARSE,
			      "PKCS#11 URI \"%s\" has an attribute mpc-backup does not know",
			      shown);
		goto out;
	}
	if (p11_kit_uri_get_pin_value(u->uri) != NULL) {
		/* Do not echo the URI: it holds the PIN. */
		rc = mpc_fail(
			e, MPC_ERR_PARSE,
			"PKCS#11 URI carries pin-value: a PIN must never be given on a command "
			"line; use pin-source=file:..., --pin-file or MPC_BACKUP_PIN");
		goto out;
	}
	src = p11_kit_uri_get_pin_source(u->uri);
	if (src != NULL) {
		if (strncmp(src, "file:", 5) == 0)
			src += 5;
		if (src[0] == '\0' || strchr(src, '|') != NULL || strchr(src, ':') != NULL) {
			rc = mpc_fail(e, MPC_ERR_PARSE,
				      "PKCS#11 URI pin-source must be a file path or file: URI");
			goto out;
		}
		u->pin_file = strdup(src);
		if (u->pin_file == NULL) {
			rc = mpc_fail(e, MPC_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	u->module_path = dup_or_null(p11_kit_uri_get_module_path(u->uri));
	u->module_name = dup_or_null(p11_kit_uri_get_module_name(u->uri));
	label = p11_kit_uri_get_attribute(u->uri, CKA_LABEL);
	if (label != NULL && label->pValue != NULL) {
		u->object = strndup(label->pValue, label->ulValueLen);
		if (u->object == NULL) {
			rc = mpc_fail(e, MPC_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	*out = u;
	u = NULL;
	rc = MPC_OK;
out:
	mpc_token_uri_free(u);
	return rc;
}

int mpc_token_uri_match_token(const struct mpc_token_uri *u, CK_TOKEN_INFO *info)
{
	return p11_kit_uri_match_token_info(u->uri, info);
}

int mpc_token_uri_match_module(const struct mpc_token_uri *u, const CK_INFO *info)
{
	return p11_kit_uri_match_module_info(u->uri, info);
}

int mpc_token_uri_has_slot_info(const struct mpc_token_uri *u)
{
	CK_SLOT_INFO *si = p11_kit_uri_get_slot_info(u->uri);

	return si->slotDescription[0] != 0 || si->manufacturerID[0] != 0;
}

int mpc_token_uri_match_slot(const struct mpc_token_uri *u, CK_SLOT_ID id, const CK_SLOT_INFO *info)
{
	if (u->has_slot_id && id != u->slot_id)
		return 0;
	if (!mpc_token_uri_has_slot_info(u))
		return 1;
	return info != NULL && p11_kit_uri_match_slot_info(u->uri, info);
}

/* Append `v` percent-encoded for a query value: RFC 7512 lets '/' stand as it is there, so a
 * module path stays readable. */
static void query_encode(char *out, size_t cap, size_t *o, const char *v)
{
	for (; *v != '\0' && *o + 4 < cap; v++) {
		unsigned char c = (unsigned char)*v;

		if (isalnum(c) || strchr("-._~/", c) != NULL)
			out[(*o)++] = (char)c;
		else
			*o += (size_t)snprintf(out + *o, cap - *o, "%%%02X", c);
	}
	out[*o] = '\0';
}

int mpc_token_uri_format(const CK_TOKEN_INFO *ti, CK_SLOT_ID slot, int with_slot,
			 const struct mpc_p11_module *m, char **out, struct mpc_err *e)
{
	P11KitUri *uri = p11_kit_uri_new();
	char *path = NULL, *full = NULL;
	const char *key = m->name != NULL ? "module-name" : "module-path";
	const char *val = m->name != NULL ? m->name : m->path;
	size_t cap, o;
	int rc = MPC_ERR_NOMEM;

	*out = NULL;
	if (uri == NULL)
		goto out;
	*p11_kit_uri_get_token_info(uri) = *ti;
	if (with_slot)
		p11_kit_uri_set_slot_id(uri, slot);
	if (p11_kit_uri_format(uri, P11_KIT_URI_FOR_TOKEN | (with_slot ? P11_KIT_URI_FOR_SLOT : 0),
			       &path) != P11_KIT_URI_OK) {
		rc = MPC_ERR_INTERNAL;
		goto out;
	}
	cap = strlen(path) + strlen(key) + 3 * strlen(val) + 8;
	full = malloc(cap);
	if (full == NULL)
		goto out;
	o = (size_t)snprintf(full, cap, "%s?%s=", path, key);
	query_encode(full, cap, &o, val);
	*out = full;
	full = NULL;
	rc = MPC_OK;
out:
	if (rc == MPC_ERR_NOMEM)
		mpc_fail(e, rc, "out of memory");
	else if (rc != MPC_OK)
		mpc_fail(e, rc, "p11-kit could not format a PKCS#11 URI");
	free(path);
	free(full);
	if (uri != NULL)
		p11_kit_uri_free(uri);
	return rc;
}
