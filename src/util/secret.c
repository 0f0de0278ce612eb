/* secret.c: hex secrets from a file or the environment into locked memory. */
#include "src/util/secret.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/util/encoding.h"
#include "src/util/file.h"
#include "src/util/mem.h"

int mpc_secret_hex_read(const char *file, const char *env, size_t n, uint8_t **out,
			struct mpc_err *e)
{
	uint8_t *text = NULL, *key = NULL;
	size_t len = 0, got = 0;
	char what[128];
	int rc;

	*out = NULL;
	if (file != NULL) {
		snprintf(what, sizeof(what), "key file %.100s", file);
		rc = mpc_file_read(file, 2 * n + 2, 1, &text, &len, e);
		if (rc != MPC_OK)
			return rc;
	} else {
		const char *v = env != NULL ? getenv(env) : NULL;

		snprintf(what, sizeof(what), "environment variable %.100s", env ? env : "(none)");
		if (v == NULL)
			return mpc_fail(e, MPC_ERR_USAGE, "no key: %s is not set and no key file given",
					env ? env : "the key variable");
		len = strlen(v);
		if (len > 2 * n + 2)
			return mpc_fail(e, MPC_ERR_PARSE, "%s: expected %zu hex digits", what, 2 * n);
		text = mpc_secure_alloc(len + 1, e);
		if (text == NULL)
			return MPC_ERR_NOMEM;
		memcpy(text, v, len);
	}
	if (len > 0 && text[len - 1] == '\n')
		len--;
	if (len > 0 && text[len - 1] == '\r')
		len--;
	if (len != 2 * n) {
		rc = mpc_fail(e, MPC_ERR_PARSE, "%s: expected %zu hex digits, found %zu characters",
			      what, 2 * n, len);
		goto out;
	}
	key = mpc_secure_alloc(n, e);
	if (key == NULL) {
		rc = MPC_ERR_NOMEM;
		goto out;
	}
	rc = mpc_hex_decode((const char *)text, len, key, n, &got, what, e);
	if (rc != MPC_OK)
		goto out;
	*out = key;
	key = NULL;
out:
	mpc_secure_free(key);
	mpc_secure_free(text);
	return rc;
}
