/* uri.c: PKCS#11 URI parsing and matching on top of p11-kit. */
#include "pkcs11/internal.h"
#include "pkcs11/uri.h"

#include <ctype.h>
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
	if (p11_kit_uri_any_unrecognized(u->uri)) {
		const char *q = strchr(s, '?');
		size_t path_len = q != NULL ? (size_t)(q - s) : strlen(s);
		static const char *const query_attrs[] = { "module-path=", "module-name=",
							   "pin-source=" };

		for (size_t i = 0; i < 3; i++) {
			const char *hit = strstr(s, query_attrs[i]);

			if (hit != NULL && (size_t)(hit - s) < path_len) {
				/* No '?' in the advice: a message must not be able to
				 * contain the URI's query, even by coincidence. */
				rc = mpc_fail(e, MPC_ERR_PARSE,
					      "PKCS#11 URI \"%s\": %.*s is a query attribute "
					      "(RFC 7512): it goes in the query part, after the "
					      "question mark that ends the path, not among the "
					      "';'-separated path attributes",
					      shown, (int)strlen(query_attrs[i]) - 1,
					      query_attrs[i]);
				goto out;
			}
		}
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
