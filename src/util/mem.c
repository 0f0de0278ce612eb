/* mem.c: wiping, constant-time comparison, locked allocations and process hardening. */
#include "src/util/mem.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

void mpc_memzero(void *p, size_t n)
{
	if (p != NULL && n > 0)
		explicit_bzero(p, n);
}

int mpc_memeq_ct(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char d = 0;

	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)(x[i] ^ y[i]);
	return d == 0;
}

/* Layout: one header page holding the sizes, then the user's bytes, all in one mapping. */
struct secure_hdr {
	size_t map_len;
	size_t user_len;
};

static size_t page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);

	return p > 0 ? (size_t)p : 4096;
}

void *mpc_secure_alloc(size_t n, struct mpc_err *e)
{
	size_t pg = page_size();
	size_t body, map_len;
	unsigned char *base;
	struct secure_hdr *h;

	if (n > SIZE_MAX - 2 * pg) {
		mpc_fail(e, MPC_ERR_NOMEM, "secure allocation of %zu bytes is too large", n);
		return NULL;
	}
	body = (n + pg - 1) / pg * pg;
	map_len = pg + (body == 0 ? pg : body);
	base = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED) {
		mpc_fail(e, MPC_ERR_NOMEM, "secure allocation of %zu bytes: %s", n,
			 strerror(errno));
		return NULL;
	}
	if (mlock(base, map_len) != 0) {
		int err = errno;

		munmap(base, map_len);
		mpc_fail(e, MPC_ERR_NOMEM,
			 "cannot lock %zu bytes of memory for secrets (%s); raise RLIMIT_MEMLOCK "
			 "(ulimit -l) for the service",
			 map_len, strerror(err));
		return NULL;
	}
	(void)madvise(base, map_len, MADV_DONTDUMP);
	h = (struct secure_hdr *)(void *)base;
	h->map_len = map_len;
	h->user_len = n;
	return base + pg;
}

static struct secure_hdr *header_of(const void *p)
{
	return (struct secure_hdr *)(void *)((unsigned char *)(uintptr_t)p - page_size());
}

size_t mpc_secure_size(const void *p)
{
	return p == NULL ? 0 : header_of(p)->user_len;
}

void *mpc_secure_realloc(void *p, size_t n, struct mpc_err *e)
{
	void *q;
	size_t old;

	if (p == NULL)
		return mpc_secure_alloc(n, e);
	q = mpc_secure_alloc(n, e);
	if (q == NULL)
		return NULL;
	old = mpc_secure_size(p);
	memcpy(q, p, old < n ? old : n);
	mpc_secure_free(p);
	return q;
}

void mpc_secure_free(void *p)
{
	struct secure_hdr *h;
	size_t map_len;

	if (p == NULL)
		return;
	h = header_of(p);
	map_len = h->map_len;
	explicit_bzero(h, map_len);
	munlock(h, map_len);
	munmap(h, map_len);
}

int mpc_lock_all_memory(struct mpc_err *e)
{
	if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0)
		return mpc_fail(
			e, MPC_ERR_NOMEM,
			"cannot lock the process's memory (%s): raise RLIMIT_MEMLOCK "
			"(systemd LimitMEMLOCK=infinity) or grant CAP_IPC_LOCK; keyshares must "
			"not be swapped",
			strerror(errno));
	return MPC_OK;
}

int mpc_harden_process(struct mpc_err *e)
{
	struct rlimit no_core = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &no_core) != 0)
		return mpc_fail(e, MPC_ERR_INTERNAL, "cannot disable core dumps: %s",
				strerror(errno));
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return mpc_fail(e, MPC_ERR_INTERNAL, "cannot mark the process non-dumpable: %s",
				strerror(errno));
	return MPC_OK;
}
