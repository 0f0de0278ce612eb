/* err.c: recording and rendering mpc_err. */
#include "src/util/err.h"

#include <stdio.h>
#include <string.h>

void mpc_err_clear(struct mpc_err *e)
{
	if (e == NULL)
		return;
	e->code = MPC_OK;
	e->ckr = 0;
	e->file = NULL;
	e->func = NULL;
	e->line = 0;
	e->msg[0] = '\0';
}

int mpc_vfail_at(const char *file, int line, const char *func, struct mpc_err *e, int code,
		 const char *fmt, va_list ap)
{
	if (e == NULL)
		return code;
	if (e->msg[0] != '\0' && e->code != MPC_OK)
		return e->code; /* the innermost cause stays */
	e->code = code;
	e->file = file;
	e->line = line;
	e->func = func;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	return code;
}

int mpc_fail_at(const char *file, int line, const char *func, struct mpc_err *e, int code,
		const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	code = mpc_vfail_at(file, line, func, e, code, fmt, ap);
	va_end(ap);
	return code;
}

const char *mpc_err_where(const struct mpc_err *e, char *buf, size_t cap)
{
	if (cap == 0)
		return buf;
	buf[0] = '\0';
	if (e != NULL && e->file != NULL)
		snprintf(buf, cap, "%s:%d (%s)", e->file, e->line, e->func != NULL ? e->func : "?");
	return buf;
}

int mpc_err_prefix(struct mpc_err *e, const char *fmt, ...)
{
	char prefix[256];
	char old[MPC_ERR_MSG_MAX];
	va_list ap;

	if (e == NULL)
		return MPC_ERR_INTERNAL;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	{
		size_t pl = strnlen(prefix, sizeof(e->msg) - 1);
		size_t ol = strnlen(old, sizeof(e->msg) - 1 - pl);

		memcpy(e->msg, prefix, pl);
		memcpy(e->msg + pl, old, ol);
		e->msg[pl + ol] = '\0';
	}
	return e->code;
}

static const struct {
	int code;
	const char *name;
	const char *text;
	int exit_status;
} codes[] = {
	{ MPC_OK, "MPC_OK", "success", 0 },
	{ MPC_ERR_INTERNAL, "MPC_ERR_INTERNAL", "internal error", 70 },
	{ MPC_ERR_NOMEM, "MPC_ERR_NOMEM", "out of memory or locked memory", 71 },
	{ MPC_ERR_USAGE, "MPC_ERR_USAGE", "usage error", 2 },
	{ MPC_ERR_PARSE, "MPC_ERR_PARSE", "malformed input", 65 },
	{ MPC_ERR_TOO_LARGE, "MPC_ERR_TOO_LARGE", "input too large", 65 },
	{ MPC_ERR_IO, "MPC_ERR_IO", "I/O error", 74 },
	{ MPC_ERR_PKCS11, "MPC_ERR_PKCS11", "PKCS#11 call failed", 10 },
	{ MPC_ERR_MODULE, "MPC_ERR_MODULE", "PKCS#11 module unavailable", 11 },
	{ MPC_ERR_TOKEN_NOT_FOUND, "MPC_ERR_TOKEN_NOT_FOUND", "token not found", 12 },
	{ MPC_ERR_OBJECT_NOT_FOUND, "MPC_ERR_OBJECT_NOT_FOUND", "key not found in token", 13 },
	{ MPC_ERR_PIN, "MPC_ERR_PIN", "PIN problem", 14 },
	{ MPC_ERR_AUTH, "MPC_ERR_AUTH", "authentication failed", 15 },
	{ MPC_ERR_UNSUPPORTED, "MPC_ERR_UNSUPPORTED", "not supported", 16 },
	{ MPC_ERR_EXISTS, "MPC_ERR_EXISTS", "already exists", 17 },
	{ MPC_ERR_NOT_FOUND, "MPC_ERR_NOT_FOUND", "not found", 18 },
	{ MPC_ERR_TLS, "MPC_ERR_TLS", "TLS failure", 20 },
	{ MPC_ERR_PEER_KEY, "MPC_ERR_PEER_KEY", "peer key mismatch", 21 },
	{ MPC_ERR_HTTP, "MPC_ERR_HTTP", "HTTP failure", 22 },
	{ MPC_ERR_TIMEOUT, "MPC_ERR_TIMEOUT", "timed out", 23 },
	{ MPC_ERR_RPC, "MPC_ERR_RPC", "NEAR RPC error", 24 },
	{ MPC_ERR_DISAGREE, "MPC_ERR_DISAGREE", "RPC endpoints disagree", 25 },
	{ MPC_ERR_INVALID, "MPC_ERR_INVALID", "validation failed", 26 },
	{ MPC_ERR_STATE, "MPC_ERR_STATE", "action not allowed in this state", 27 },
	{ MPC_ERR_CANCELLED, "MPC_ERR_CANCELLED", "cancelled", 28 },
};

const char *mpc_strerror(int code)
{
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i].code == code)
			return codes[i].text;
	return "unknown error";
}

const char *mpc_errname(int code)
{
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i].code == code)
			return codes[i].name;
	return "MPC_ERR_UNKNOWN";
}

int mpc_exit_status(int code)
{
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i].code == code)
			return codes[i].exit_status;
	return 1;
}
