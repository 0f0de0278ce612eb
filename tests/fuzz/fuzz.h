/* fuzz.h: what every libFuzzer target here checks besides the sanitizers: a failure returns a
 * negative MPC_ERR_* equal to e.code with a non-empty message, and a property violation aborts
 * (so libFuzzer records the input). Header-only: each target is one file. */
#ifndef MPC_TESTS_FUZZ_H
#define MPC_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/util/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                          \
	do {                                                                                      \
		if (!(cond)) {                                                                    \
			fprintf(stderr, "fuzz property failed: %s (%s:%d)\n", #cond, __FILE__,    \
				__LINE__);                                                        \
			abort();                                                                  \
		}                                                                                 \
	} while (0)

/* rc is what a parser returned with e; on failure it must be recorded in e with a message. */
static inline void fuzz_check_rc(int rc, const struct mpc_err *e)
{
	if (rc == MPC_OK)
		return;
	FUZZ_CHECK(rc < 0);
	FUZZ_CHECK(e->code == rc);
	FUZZ_CHECK(memchr(e->msg, '\0', sizeof(e->msg)) != NULL);
	FUZZ_CHECK(e->msg[0] != '\0');
}

/* A NUL-terminated malloc()ed copy of the input, for readers that take C strings. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif
