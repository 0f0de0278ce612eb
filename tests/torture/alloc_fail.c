/* alloc_fail.c: count allocations and fail the N-th one (see alloc_fail.h). */
#include "tests/torture/alloc_fail.h"

#include <errno.h>
#include <execinfo.h>
#include <link.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>

#define MAX_RANGES 8
#define MAX_FRAMES 128

/* The allocation hooks have no context argument: the state is global, atomics for libcurl's
 * resolver thread. */
static atomic_int armed;
static atomic_ulong counter, target, per_src[AF_NSOURCES];
static atomic_int injected, skipped, failed_src;
static uintptr_t ex_lo[MAX_RANGES], ex_hi[MAX_RANGES];
static size_t n_ex;

/* -Wl,--wrap: our objects' references to malloc & co. land here; __real_* is the libc one (or
 * AddressSanitizer's interceptor). */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);

static int in_excluded_module(void)
{
	void *frames[MAX_FRAMES];
	int n = backtrace(frames, MAX_FRAMES);

	for (int i = 0; i < n; i++)
		for (size_t r = 0; r < n_ex; r++)
			if ((uintptr_t)frames[i] >= ex_lo[r] && (uintptr_t)frames[i] < ex_hi[r])
				return 1;
	return 0;
}

/* 1 if this allocation is the one to fail. */
static int fail_now(enum af_source s)
{
	unsigned long k, t;

	if (!atomic_load(&armed))
		return 0;
	k = atomic_fetch_add(&counter, 1) + 1;
	atomic_fetch_add(&per_src[s], 1);
	t = atomic_load(&target);
	if (t == 0 || k != t)
		return 0;
	atomic_store(&failed_src, (int)s);
	if (s == AF_OPENSSL && in_excluded_module()) {
		atomic_store(&skipped, 1);
		return 0;
	}
	atomic_store(&injected, 1);
	errno = ENOMEM;
	return 1;
}

void *__wrap_malloc(size_t n)
{
	return fail_now(AF_OURS) ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return fail_now(AF_OURS) ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	return fail_now(AF_OURS) ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
	return fail_now(AF_OURS) ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
	return fail_now(AF_OURS) ? NULL : __real_strndup(s, n);
}

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return fail_now(AF_MMAP) ? MAP_FAILED : __real_mmap(addr, len, prot, flags, fd, off);
}

static void *j_malloc(size_t n)
{
	return fail_now(AF_JANSSON) ? NULL : __real_malloc(n);
}

static void j_free(void *p)
{
	free(p);
}

/* OpenSSL: the same contract as its defaults (CRYPTO_malloc of 0 bytes is NULL, realloc of
 * NULL is malloc, realloc to 0 frees). */
static void *o_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	if (n == 0)
		return NULL;
	return fail_now(AF_OPENSSL) ? NULL : __real_malloc(n);
}

static void *o_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	if (p == NULL)
		return o_malloc(n, file, line);
	if (n == 0) {
		free(p);
		return NULL;
	}
	return fail_now(AF_OPENSSL) ? NULL : __real_realloc(p, n);
}

static void o_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	free(p);
}

static void *c_malloc(size_t n)
{
	return fail_now(AF_CURL) ? NULL : __real_malloc(n);
}

static void c_free(void *p)
{
	free(p);
}

static void *c_realloc(void *p, size_t n)
{
	return fail_now(AF_CURL) ? NULL : __real_realloc(p, n);
}

static char *c_strdup(const char *s)
{
	return fail_now(AF_CURL) ? NULL : __real_strdup(s);
}

static void *c_calloc(size_t n, size_t size)
{
	return fail_now(AF_CURL) ? NULL : __real_calloc(n, size);
}

int af_install(void)
{
	void *frames[4];

	/* glibc loads its unwinder on the first backtrace(): not inside a hook. */
	backtrace(frames, 4);
	if (CRYPTO_set_mem_functions(o_malloc, o_realloc, o_free) != 1)
		return -1;
	json_set_alloc_funcs(j_malloc, j_free);
	if (curl_global_init_mem(CURL_GLOBAL_DEFAULT, c_malloc, c_free, c_realloc, c_strdup,
				 c_calloc) != CURLE_OK)
		return -1;
	return 0;
}

static int phdr_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	const char *name = data;

	(void)size;
	if (info->dlpi_name == NULL || strstr(info->dlpi_name, name) == NULL)
		return 0;
	for (int i = 0; i < info->dlpi_phnum && n_ex < MAX_RANGES; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		ex_lo[n_ex] = info->dlpi_addr + ph->p_vaddr;
		ex_hi[n_ex] = ex_lo[n_ex] + ph->p_memsz;
		n_ex++;
	}
	return 1;
}

int af_exclude_module(const char *name)
{
	size_t before = n_ex;

	dl_iterate_phdr(phdr_cb, (void *)name);
	return n_ex > before ? 0 : -1;
}

void af_arm(unsigned long n)
{
	atomic_store(&counter, 0);
	for (int s = 0; s < AF_NSOURCES; s++)
		atomic_store(&per_src[s], 0);
	atomic_store(&injected, 0);
	atomic_store(&skipped, 0);
	atomic_store(&failed_src, -1);
	atomic_store(&target, n);
	atomic_store(&armed, 1);
}

unsigned long af_disarm(int *inj, int *skip)
{
	atomic_store(&armed, 0);
	if (inj != NULL)
		*inj = atomic_load(&injected);
	if (skip != NULL)
		*skip = atomic_load(&skipped);
	return atomic_load(&counter);
}

unsigned long af_count(enum af_source s)
{
	return atomic_load(&per_src[s]);
}

enum af_source af_failed_source(void)
{
	return (enum af_source)atomic_load(&failed_src);
}

const char *af_source_name(enum af_source s)
{
	static const char *const names[AF_NSOURCES] = { "ours", "mmap", "jansson", "openssl",
							"curl" };

	return (int)s >= 0 && s < AF_NSOURCES ? names[s] : "none";
}
