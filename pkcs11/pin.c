/* pin.c: PIN sources: file or environment, never argv. */
#include "pkcs11/pin.h"

#include <stdlib.h>
#include <string.h>

#include "src/util/file.h"
#include "src/util/mem.h"

static int check_pin(const char *p, size_t n, const char *source, struct mpc_err *e)
{
	if (n == 0)
		return mpc_fail(e, MPC_ERR_PIN, "the PIN from %s is empty", source);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return mpc_fail(e, MPC_ERR_PIN,
					"the PIN from %s contains a control character", source);
	return MPC_OK;
}

int mpc_pin_read(const char *pin_file, const char *uri_pin_file, const char *env_name, char **pin,
		 size_t *len, const char **source, struct mpc_err *e)
{
	uint8_t *buf = NULL;
	size_t n = 0;
	const char *file = pin_file != NULL ? pin_file : uri_pin_file;
	const char *src;
	int rc;

	*pin = NULL;
	*len = 0;
	if (env_name == NULL)
		env_name = "MPC_BACKUP_PIN";
	if (file != NULL) {
		src = pin_file != NULL ? "--pin-file" : "the URI's pin-source";
		rc = mpc_file_read_checked(file, MPC_PIN_MAX, 1, 0007, &buf, &n, e);
		if (rc != MPC_OK) {
			struct mpc_err inner = e != NULL ? *e : (struct mpc_err){ 0 };

			mpc_err_clear(e);
			return mpc_fail(e, MPC_ERR_PIN, "cannot read the PIN (%s): %s", src,
					inner.msg);
		}
		if (n > 0 && buf[n - 1] == '\n')
			buf[--n] = '\0';
		if (n > 0 && buf[n - 1] == '\r')
			buf[--n] = '\0';
	} else {
		const char *v = getenv(env_name);
		size_t vl;

		src = "the environment";
		if (v == NULL)
			return mpc_fail(
				e, MPC_ERR_PIN,
				"no PIN: set %s, use --pin-file, or add pin-source=file:... to "
				"the token URI",
				env_name);
		vl = strlen(v);
		if (vl > MPC_PIN_MAX)
			return mpc_fail(e, MPC_ERR_PIN, "the PIN in %s is longer than %d bytes",
					env_name, MPC_PIN_MAX);
		buf = mpc_secure_alloc(vl + 1, e);
		if (buf == NULL)
			return MPC_ERR_NOMEM;
		memcpy(buf, v, vl);
		n = vl;
	}
	rc = check_pin((const char *)buf, n, src, e);
	if (rc != MPC_OK) {
		mpc_secure_free(buf);
		return rc;
	}
	*pin = (char *)buf;
	*len = n;
	if (source != NULL)
		*source = src;
	return MPC_OK;
}
