/* uri.c: PKCS#11 URI parsing and matching on top of p11-kit. */
#include "pkcs11/uri.h"

#include <stdlib.h>
#include <string.h>

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
	const char *src;
	CK_ATTRIBUTE *label;
	int r, rc = MPC_ERR_INTERNAL;

	*out = NULL;
	if (s == NULL || *s == '\0')
		return mpc_fail(e, MPC_ERR_PARSE, "empty PKCS#11 URI");
	if (strlen(s) > 4096)
		return mpc_fail(e, MPC_ERR_TOO_LARGE, "PKCS#11 URI longer than 4096 characters");
	if (strstr(s, "pin-value") != NULL)
		/* Checked before parsing so that no message can echo the PIN. */
		return mpc_fail(e, MPC_ERR_PARSE,
				"PKCS#11 URI carries pin-value: a PIN must never be given on a command "
				"line; use pin-source=file:..., --pin-file or MPC_BACKUP_PIN");
	u = calloc(1, sizeof(*u));
	if (u == NULL || (u->uri = p11_kit_uri_new()) == NULL || (u->text = strdup(s)) == NULL) {
		rc = mpc_fail(e, MPC_ERR_NOMEM, "out of memory");
		goto out;
	}
	r = p11_kit_uri_parse(s, P11_KIT_URI_FOR_ANY, u->uri);
	if (r != P11_KIT_URI_OK) {
		rc = mpc_fail(e, MPC_ERR_PARSE, "malformed PKCS#11 URI \"%.200s\": %s", s,
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
				rc = mpc_fail(e, MPC_ERR_PARSE,
					      "PKCS#11 URI \"%.200s\": %.*s is a query attribute "
					      "(RFC 7512): write it after '?', e.g. "
					      "pkcs11:token=mpc-backup?%s...",
					      s, (int)strlen(query_attrs[i]) - 1, query_attrs[i],
					      query_attrs[i]);
				goto out;
			}
		}
		rc = mpc_fail(e, MPC_ERR_PARSE,
			      "PKCS#11 URI \"%.200s\" has an attribute mpc-backup does not know", s);
		goto out;
	}
	if (p11_kit_uri_get_pin_value(u->uri) != NULL) {
		/* Do not echo the URI: it holds the PIN. */
		rc = mpc_fail(e, MPC_ERR_PARSE,
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
