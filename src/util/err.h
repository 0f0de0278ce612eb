/* err.h: the one error type threaded through every mpc-backup call.
 *
 * Every fallible function returns an int: MPC_OK (0) or a negative MPC_ERR_* code, and takes a
 * `struct mpc_err *` (may be NULL) that receives one human-readable line saying what failed and
 * why. Library code never prints or logs; the CLI and the monitor print `err.msg`.
 *
 * The first failure recorded wins: mpc_fail() on an error that already holds a message keeps the
 * original message (the innermost cause is the most precise) unless the caller adds context with
 * mpc_err_prefix(). Messages never contain secrets: callers must not format PINs, keys,
 * keyshares or URL query strings into them.
 *
 * Built with MPC_ERR_LOCATIONS defined (CMAKE_BUILD_TYPE=Debug turns it on), mpc_fail() also
 * records the source file, line and function that recorded the message; the CLI shows them
 * after the message. Without it (release builds) they stay empty and messages are unchanged.
 */
#ifndef MPC_UTIL_ERR_H
#define MPC_UTIL_ERR_H

#include <stdarg.h>
#include <stddef.h>

enum mpc_errcode {
	MPC_OK = 0,
	MPC_ERR_INTERNAL = -1,  /* a bug or an impossible state */
	MPC_ERR_NOMEM = -2,     /* allocation or mlock failed */
	MPC_ERR_USAGE = -3,     /* bad command line or bad argument */
	MPC_ERR_PARSE = -4,     /* malformed input: JSON, URI, hex, base58, stored file */
	MPC_ERR_TOO_LARGE = -5, /* input over its bound */
	MPC_ERR_IO = -6,        /* file system error */
	MPC_ERR_PKCS11 = -7,    /* a Cryptoki call failed (see ckr) */
	MPC_ERR_MODULE = -8,    /* the PKCS#11 module could not be loaded or initialised */
	MPC_ERR_TOKEN_NOT_FOUND = -9,
	MPC_ERR_OBJECT_NOT_FOUND = -10,
	MPC_ERR_PIN = -11,         /* PIN missing, wrong, locked or unreadable */
	MPC_ERR_AUTH = -12,        /* authentication of sealed or encrypted data failed */
	MPC_ERR_UNSUPPORTED = -13, /* the token or peer lacks a required capability */
	MPC_ERR_EXISTS = -14,      /* refusing to overwrite */
	MPC_ERR_NOT_FOUND = -15,   /* a file, keyset or entry is not there */
	MPC_ERR_TLS = -16,         /* TLS handshake or certificate failure */
	MPC_ERR_PEER_KEY = -17,    /* the peer is not who the contract says */
	MPC_ERR_HTTP = -18,        /* transport error or unexpected HTTP status */
	MPC_ERR_TIMEOUT = -19,
	MPC_ERR_RPC = -20,       /* JSON-RPC error or contract panic */
	MPC_ERR_DISAGREE = -21,  /* RPC endpoints disagree */
	MPC_ERR_INVALID = -22,   /* well-formed but semantically wrong (validation) */
	MPC_ERR_STATE = -23,     /* the token or store is in a state that forbids the action */
	MPC_ERR_CANCELLED = -24, /* stopped by a signal */
	MPC_ERR_TOKEN_UNAVAILABLE = -25, /* the token is absent or its device failed: retry later */
};

#define MPC_ERR_MSG_MAX 768

struct mpc_err {
	int code;          /* MPC_OK or MPC_ERR_* */
	unsigned long ckr; /* the Cryptoki return value when code == MPC_ERR_PKCS11 (or a
				* PKCS#11 cause), else 0 */
	const char *file;  /* where msg was recorded (MPC_ERR_LOCATIONS builds), else NULL */
	const char *func;
	int line;
	char msg[MPC_ERR_MSG_MAX];
};

#ifdef MPC_ERR_LOCATIONS
#define MPC_ERR_FILE __FILE__
#define MPC_ERR_LINE __LINE__
#define MPC_ERR_FUNC __func__
#else
#define MPC_ERR_FILE NULL
#define MPC_ERR_LINE 0
#define MPC_ERR_FUNC NULL
#endif

/* Reset to "no error". Accepts NULL. */
void mpc_err_clear(struct mpc_err *e);

/* Record a failure and return its code (so callers can `return mpc_fail(...)`). If `e` already
 * holds a failure, that message and code are kept and the kept code is returned: the innermost
 * cause is the most precise. Accepts e == NULL (then `code` is returned). */
#if defined(__clang_analyzer__) || defined(MPC_STATIC_ANALYSIS)
/* For static analysis only (clang --analyze, and clang-tidy run with -DMPC_STATIC_ANALYSIS by
 * tests/style/static-checks.sh): the analyzer cannot see that mpc_fail_at never returns MPC_OK for a
 * failure code, and would follow impossible "failed but returned MPC_OK" paths. */
#define mpc_fail(e, code, ...) \
	(mpc_fail_at(MPC_ERR_FILE, MPC_ERR_LINE, MPC_ERR_FUNC, e, code, __VA_ARGS__), (code))
#else
#define mpc_fail(e, code, ...) \
	mpc_fail_at(MPC_ERR_FILE, MPC_ERR_LINE, MPC_ERR_FUNC, e, code, __VA_ARGS__)
#endif
#define mpc_vfail(e, code, fmt, ap) \
	mpc_vfail_at(MPC_ERR_FILE, MPC_ERR_LINE, MPC_ERR_FUNC, e, code, fmt, ap)
/* What mpc_fail expands to: file/func NULL and line 0 when locations are not recorded. */
int mpc_fail_at(const char *file, int line, const char *func, struct mpc_err *e, int code,
		const char *fmt, ...) __attribute__((format(printf, 6, 7)));
int mpc_vfail_at(const char *file, int line, const char *func, struct mpc_err *e, int code,
		 const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));

/* "file:line (func)" of where e's message was recorded into buf, or "" when no location was
 * recorded (release builds). Returns buf. */
const char *mpc_err_where(const struct mpc_err *e, char *buf, size_t cap);

/* Prepend context ("backup of epoch 4: ") to an existing message. Returns e->code. */
int mpc_err_prefix(struct mpc_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Static short description of a code, and its name ("MPC_ERR_PIN"). */
const char *mpc_strerror(int code);
const char *mpc_errname(int code);

/* Process exit status for an error code, as documented in docs/operations.md. */
int mpc_exit_status(int code);

#endif
