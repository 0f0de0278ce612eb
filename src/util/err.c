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
	int exit_status;
	const char *name;
	const char *text;
} codes[] = {
	{ MPC_OK, 0, "MPC_OK", "success" },
	{ MPC_ERR_INTERNAL, 70, "MPC_ERR_INTERNAL", "internal error" },
	{ MPC_ERR_NOMEM, 71, "MPC_ERR_NOMEM", "out of memory or locked memory" },
	{ MPC_ERR_USAGE, 2, "MPC_ERR_USAGE", "usage error" },
	{ MPC_ERR_PARSE, 65, "MPC_ERR_PARSE", "malformed input" },
	{ MPC_ERR_TOO_LARGE, 65, "MPC_ERR_TOO_LARGE", "input too large" },
	{ MPC_ERR_IO, 74, "MPC_ERR_IO", "I/O error" },
	{ MPC_ERR_PKCS11, 10, "MPC_ERR_PKCS11", "PKCS#11 call failed" },
	{ MPC_ERR_MODULE, 11, "MPC_ERR_MODULE", "PKCS#11 module unavailable" },
	{ MPC_ERR_TOKEN_NOT_FOUND, 12, "MPC_ERR_TOKEN_NOT_FOUND", "token not found" },
	{ MPC_ERR_OBJECT_NOT_FOUND, 13, "MPC_ERR_OBJECT_NOT_FOUND", "key not found in token" },
	{ MPC_ERR_PIN, 14, "MPC_ERR_PIN", "PIN problem" },
	{ MPC_ERR_AUTH, 15, "MPC_ERR_AUTH", "authentication failed" },
	{ MPC_ERR_UNSUPPORTED, 16, "MPC_ERR_UNSUPPORTED", "not supported" },
	{ MPC_ERR_EXISTS, 17, "MPC_ERR_EXISTS", "already exists" },
	{ MPC_ERR_NOT_FOUND, 18, "MPC_ERR_NOT_FOUND", "not found" },
	{ MPC_ERR_TLS, 20, "MPC_ERR_TLS", "TLS failure" },
	{ MPC_ERR_PEER_KEY, 21, "MPC_ERR_PEER_KEY", "peer key mismatch" },
	{ MPC_ERR_HTTP, 22, "MPC_ERR_HTTP", "HTTP failure" },
	{ MPC_ERR_TIMEOUT, 23, "MPC_ERR_TIMEOUT", "timed out" },
	{ MPC_ERR_RPC, 24, "MPC_ERR_RPC", "NEAR RPC error" },
	{ MPC_ERR_DISAGREE, 25, "MPC_ERR_DISAGREE", "RPC endpoints disagree" },
	{ MPC_ERR_INVALID, 26, "MPC_ERR_INVALID", "validation failed" },
	{ MPC_ERR_STATE, 27, "MPC_ERR_STATE", "action not allowed in this state" },
	{ MPC_ERR_CANCELLED, 28, "MPC_ERR_CANCELLED", "cancelled" },
	{ MPC_ERR_TOKEN_UNAVAILABLE, 19, "MPC_ERR_TOKEN_UNAVAILABLE", "token unavailable" },
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
