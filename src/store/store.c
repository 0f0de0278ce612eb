/* store.c: opening a store directory, reading its files' headers, order and coverage. */
#include "src/store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "src/store/fsio.h"
#include "src/store/store_int.h"
#include "src/util/file.h"

int mpc_store_open(const char *dir, int create, struct mpc_store **out, struct mpc_err *e)
{
	struct mpc_store *s;
	struct stat st;
	int rc, made = 0;

	*out = NULL;
	if (dir == NULL || *dir == '\0' || strlen(dir) >= sizeof(s->dir) - MPC_STORE_NAME_MAX - 16)
		return mpc_fail(e, MPC_ERR_USAGE, "store directory missing or too long");
	if (stat(dir, &st) != 0) {
		if (errno != ENOENT)
			return mpc_fail(e, MPC_ERR_IO, "store directory %s: %s", dir,
					strerror(errno));
		if (!create)
			return mpc_fail(e, MPC_ERR_NOT_FOUND, "store directory %s does not exist",
					dir);
		if ((rc = mpc_store_mkdir(dir, e)) != MPC_OK)
			return rc;
		made = 1;
	} else if (!S_ISDIR(st.st_mode)) {
		return mpc_fail(e, MPC_ERR_USAGE, "store path %s is not a directory", dir);
	}
	/* only we (or root) may add, replace or remove its files */
	if ((rc = mpc_dir_open_checked(dir, MPC_FILE_CONFIG, NULL, e)) != MPC_OK) {
		if (made)
			(void)rmdir(dir); /* refused: leave nothing behind */
		mpc_err_prefix(e, "store directory: ");
		return rc;
	}
	if (create) {
		/* the writers' lock file is part of a store opened for writing from the start, so a
		 * write that fails leaves the directory exactly as it was (best effort: a store that
		 * cannot take it reports that when it is written to) */
		char lock[PATH_MAX];
		int fd;

		snprintf(lock, sizeof(lock), "%s/.lock", dir);
		fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
		if (fd >= 0)
			close(fd);
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return mpc_fail(e, MPC_ERR_NOMEM, "out of memory");
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	*out = s;
	return MPC_OK;
}

void mpc_store_close(struct mpc_store *s)
{
	free(s);
}

int mpc_store_entry_path(const struct mpc_store *s, const struct mpc_store_entry *en,
			 char out[PATH_MAX], struct mpc_err *e)
{
	int n = snprintf(out, PATH_MAX, "%s/%s%s", s->dir, en->quarantined ? "quarantine/" : "",
			 en->name);

	if (n < 0 || n >= PATH_MAX)
		return mpc_fail(e, MPC_ERR_USAGE, "path too long in %s", s->dir);
	return MPC_OK;
}

/* Read the header of one file: the prefix, then exactly the header (bounded). */
static void read_header(const struct mpc_store *s, struct mpc_store_entry *en)
{
	char path[PATH_MAX], want[MPC_STORE_NAME_MAX];
	struct mpc_err e = { 0 };
	uint8_t prefix[MPC_STORE_PREFIX_LEN], *hdr = NULL;
	size_t hl = 0, got = 0;
	struct stat st;
	int fd = -1;

	if (mpc_store_entry_path(s, en, path, &e) != MPC_OK)
		goto out;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		mpc_fail(&e, MPC_ERR_IO, "cannot open: %s", strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		mpc_fail(&e, MPC_ERR_IO, "not a regular file");
		goto out;
	}
	if (mpc_fd_check_owner(fd, path, MPC_FILE_CONFIG, &e) != MPC_OK) {
		en->untrusted = 1;
		goto out;
	}
	en->size = (uint64_t)st.st_size;
	if (read(fd, prefix, sizeof(prefix)) != (ssize_t)sizeof(prefix)) {
		mpc_fail(&e, MPC_ERR_PARSE, "truncated: shorter than a header");
		goto out;
	}
	if (mpc_store_header_len(prefix, sizeof(prefix), &hl, &e) != MPC_OK)
		goto out;
	if ((uint64_t)hl > en->size) {
		mpc_fail(&e, MPC_ERR_PARSE, "truncated in its header");
		goto out;
	}
	hdr = malloc(hl);
	if (hdr == NULL) {
		mpc_fail(&e, MPC_ERR_NOMEM, "out of memory");
		goto out;
	}
	memcpy(hdr, prefix, sizeof(prefix));
	got = sizeof(prefix);
	while (got < hl) {
		ssize_t r = read(fd, hdr + got, hl - got);

		if (r <= 0) {
			mpc_fail(&e, MPC_ERR_PARSE, "truncated in its header");
			goto out;
		}
		got += (size_t)r;
	}
	if (mpc_store_file_parse(hdr, hl, &en->hdr, &hl, NULL, NULL, &e) != MPC_OK)
		goto out;
	if (mpc_store_file_name(hdr, hl, en->hdr.epoch, want, &e) != MPC_OK)
		goto out;
	if (strcmp(want, en->name) != 0) {
		mpc_fail(&e, MPC_ERR_AUTH,
			 "the file name does not match its header (renamed, or header edited or "
			 "swapped; the header says epoch %llu and name %s)",
			 (unsigned long long)en->hdr.epoch, want);
		mpc_store_header_free(&en->hdr);
		goto out;
	}
	en->header_ok = 1;
out:
	if (!en->header_ok) {
		en->problem_code = e.code != MPC_OK ? e.code : MPC_ERR_INTERNAL;
		snprintf(en->problem, sizeof(en->problem), "%s", e.msg);
	}
	free(hdr);
	if (fd >= 0)
		close(fd);
}

static int order(const struct mpc_store_entry *a, const struct mpc_store_entry *b)
{
	/* unreadable headers sort first (oldest), then by (epoch, domains, created, name) */
	if (a->header_ok != b->header_ok)
		return a->header_ok < b->header_ok ? -1 : 1;
	if (a->header_ok) {
		if (a->hdr.epoch != b->hdr.epoch)
			return a->hdr.epoch < b->hdr.epoch ? -1 : 1;
		if (a->hdr.keyset.n_domains != b->hdr.keyset.n_domains)
			return a->hdr.keyset.n_domains < b->hdr.keyset.n_domains ? -1 : 1;
		if (a->hdr.created != b->hdr.created)
			return a->hdr.created < b->hdr.created ? -1 : 1;
	}
	return strcmp(a->name, b->name);
}

static int cmp_entries(const void *x, const void *y)
{
	return order(x, y);
}

static int add_entry(struct mpc_store_list *l, size_t *cap, const char *name, int quarantined,
		     struct mpc_err *e)
{
	struct mpc_store_entry *en;

	if (l->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct mpc_store_entry *ni = realloc(l->items, ncap * sizeof(*ni));

		if (ni == NULL)
			return mpc_fail(e, MPC_ERR_NOMEM, "listing the store: out of memory");
		l->items = ni;
		*cap = ncap;
	}
	en = &l->items[l->n++];
	memset(en, 0, sizeof(*en));
	if (snprintf(en->name, sizeof(en->name), "%s", name) >= (int)sizeof(en->name))
		return mpc_fail(e, MPC_ERR_INTERNAL, "store file name too long");
	en->quarantined = quarantined;
	return MPC_OK;
}

static int scan_dir(const struct mpc_store *s, int quarantined, struct mpc_store_list *l,
		    size_t *cap, struct mpc_err *e)
{
	char path[PATH_MAX];
	struct dirent *d;
	DIR *dh;
	int fd, rc = MPC_OK;

	if (snprintf(path, sizeof(path), "%s%s", s->dir, quarantined ? "/quarantine" : "") >=
	    (int)sizeof(path))
		return mpc_fail(e, MPC_ERR_USAGE, "store path too long");
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (quarantined ? O_NOFOLLOW : 0));
	if (fd < 0) {
		if (quarantined && errno == ENOENT)
			return MPC_OK;
		return mpc_fail(e, MPC_ERR_IO, "cannot read store directory %s: %s", path,
				strerror(errno));
	}
	/* checked on the descriptor that is read: nobody else can have added the names listed */
	if ((rc = mpc_fd_check_owner(fd, path, MPC_FILE_CONFIG, e)) != MPC_OK) {
		close(fd);
		mpc_err_prefix(e, "store directory: ");
		return rc;
	}
	dh = fdopendir(fd);
	if (dh == NULL) {
		rc = mpc_fail(e, MPC_ERR_IO, "cannot read store directory %s: %s", path,
			      strerror(errno));
		close(fd);
		return rc;
	}
	while ((d = readdir(dh)) != NULL) {
		char digest[MPC_STORE_DIGEST_HEX + 1];
		uint64_t ep;
		int dup = 0;

		if (mpc_store_name_is_temp(d->d_name)) {
			l->n_temp++;
			continue;
		}
		if (!mpc_store_name_parse(d->d_name, &ep, digest))
			continue;
		/* a file both here and in quarantine/ (the same inode: link done, unlink not) is an
		 * interrupted quarantine: quarantined. New files never take a quarantined name. */
		for (size_t i = 0; i < l->n; i++)
			if (strcmp(l->items[i].name, d->d_name) == 0)
				dup = 1;
		if (dup)
			continue;
		if ((rc = add_entry(l, cap, d->d_name, quarantined, e)) != MPC_OK)
			break;
	}
	closedir(dh);
	return rc;
}

void mpc_store_list_free(struct mpc_store_list *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++)
		mpc_store_header_free(&l->items[i].hdr);
	free(l->items);
	memset(l, 0, sizeof(*l));
}

long mpc_store_list_newest(const struct mpc_store_list *l)
{
	long best = -1;

	for (size_t i = 0; i < l->n; i++) {
		const struct mpc_store_entry *en = &l->items[i];

		if (en->quarantined || !en->header_ok)
			continue;
		if (best < 0 || order(en, &l->items[best]) > 0)
			best = (long)i;
	}
	return best;
}

int mpc_store_list(const struct mpc_store *s, struct mpc_store_list *out, struct mpc_err *e)
{
	struct mpc_store_list l = { 0 };
	size_t cap = 0;
	long nw;
	int rc;

	memset(out, 0, sizeof(*out));
	/* quarantine first, so a name in both places is taken as quarantined */
	if ((rc = scan_dir(s, 1, &l, &cap, e)) != MPC_OK ||
	    (rc = scan_dir(s, 0, &l, &cap, e)) != MPC_OK) {
		mpc_store_list_free(&l);
		return rc;
	}
	for (size_t i = 0; i < l.n; i++) {
		read_header(s, &l.items[i]);
		/* Out of memory (or OpenSSL failing) here is this process, not a damaged file:
		 * a listing that would call the file damaged is no listing. */
		if (!l.items[i].header_ok && (l.items[i].problem_code == MPC_ERR_NOMEM ||
					      l.items[i].problem_code == MPC_ERR_INTERNAL)) {
			rc = mpc_fail(e, l.items[i].problem_code, "listing the store: %s: %s",
				      l.items[i].name, l.items[i].problem);
			mpc_store_list_free(&l);
			return rc;
		}
	}
	if (l.n > 1)
		qsort(l.items, l.n, sizeof(*l.items), cmp_entries);
	nw = mpc_store_list_newest(&l);
	if (nw >= 0)
		l.items[nw].newest = 1;
	*out = l;
	return MPC_OK;
}

int mpc_store_list_refuse_untrusted(const struct mpc_store_list *l, struct mpc_err *e)
{
	for (size_t i = 0; i < l->n; i++)
		if (!l->items[i].quarantined && l->items[i].untrusted)
			return mpc_fail(
				e, MPC_ERR_STATE,
				"%s (the store is not trusted while another user could have "
				"written one of its files)",
				l->items[i].problem);
	return MPC_OK;
}

int mpc_store_header_covers(const struct mpc_store_header *h, const struct mpc_keyset *ks)
{
	if (h->epoch < ks->epoch_id)
		return 0;
	for (size_t i = 0; i < ks->n_domains; i++) {
		const struct mpc_domain_key *want = &ks->domains[i];
		const struct mpc_domain_key *have = mpc_keyset_domain(&h->keyset, want->domain_id);

		if (have == NULL)
			return 0;
		if (h->epoch == ks->epoch_id &&
		    (have->attempt != want->attempt || have->curve != want->curve ||
		     have->pk_len != want->pk_len || memcmp(have->pk, want->pk, want->pk_len) != 0))
			return 0;
	}
	return 1;
}

int mpc_store_covers(const struct mpc_store *s, const struct mpc_keyset *ks, int *covered,
		     char by[MPC_STORE_NAME_MAX], struct mpc_err *e)
{
	struct mpc_store_list l;
	int rc;

	*covered = 0;
	if (by != NULL)
		by[0] = '\0';
	if ((rc = mpc_store_list(s, &l, e)) != MPC_OK)
		return rc;
	/* a header another user could have planted must not make a keyset look covered */
	if ((rc = mpc_store_list_refuse_untrusted(&l, e)) != MPC_OK) {
		mpc_store_list_free(&l);
		return rc;
	}
	for (size_t i = l.n; i-- > 0;) {
		const struct mpc_store_entry *en = &l.items[i];

		if (en->quarantined || !en->header_ok || !mpc_store_header_covers(&en->hdr, ks))
			continue;
		*covered = 1;
		if (by != NULL)
			snprintf(by, MPC_STORE_NAME_MAX, "%s", en->name);
		break;
	}
	mpc_store_list_free(&l);
	return MPC_OK;
}
