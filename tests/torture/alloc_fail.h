/* alloc_fail.h: allocation-failure injection for the torture test: count every allocation made
 * by our code (malloc, calloc, realloc, strdup, strndup and mmap, redirected at link time with
 * -Wl,--wrap), by jansson (json_set_alloc_funcs), by OpenSSL (CRYPTO_set_mem_functions) and by
 * libcurl (curl_global_init_mem), and make exactly the N-th one after af_arm(N) fail.
 *
 * OpenSSL allocations made while a module given to af_exclude_module() is on the stack (the
 * SoftHSM2 token's own OpenSSL backend) are counted but never failed: the token is third-party
 * C++ and out of scope; when the N-th allocation is one of them the run reports "skipped".
 * Test support: no struct mpc_err, the counters are process-global by design (allocation hooks
 * have no context argument). Thread-safe (libcurl may allocate in its resolver thread).
 */
#ifndef MPC_TESTS_TORTURE_ALLOC_FAIL_H
#define MPC_TESTS_TORTURE_ALLOC_FAIL_H

#include <stddef.h>

enum af_source { AF_OURS, AF_MMAP, AF_JANSSON, AF_OPENSSL, AF_CURL, AF_NSOURCES };

/* Install the jansson, OpenSSL and libcurl hooks (this calls curl_global_init_mem). Call first
 * thing in main, before any OpenSSL allocation. 0 on success. */
int af_install(void);
/* Never fail OpenSSL allocations made while code of the loaded module whose path contains
 * `name` is on the call stack. 0 when the module is loaded. */
int af_exclude_module(const char *name);

/* Start counting from zero; fail the n-th allocation (n == 0: count only, fail none). */
void af_arm(unsigned long n);
/* Stop counting. Returns the allocations counted since af_arm; *injected = 1 if the n-th one
 * was made to fail, *skipped = 1 if it was token-internal and let through. */
unsigned long af_disarm(int *injected, int *skipped);
/* Per-source allocation counts of the last armed period. */
unsigned long af_count(enum af_source s);
/* Source of the allocation that was failed (or skipped) in the last armed period. */
enum af_source af_failed_source(void);
const char *af_source_name(enum af_source s);

#endif
