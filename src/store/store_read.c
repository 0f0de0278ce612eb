/* store_read.c: opening sealed files: verify every file, open one keyset for restore. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/store/keyshares.h"
#include "src/store/store.h"
#include "src/store/store_int.h"
#include "src/util/file.h"
#include "src/util/mem.h"

static int token_matches(const struct mpc_store_token_id *id, struct mpc_token *t)
{
	struct mpc_token_desc td;

	mpc_token_describe(t, &td);
	return strcmp(id->serial, td.serial) == 0 && strcmp(id->label, td.label) == 0;
}

static void describe_tokens(const struct mpc_store_header *h, char *out, size_t cap)
{
	size_t off = 0;

	out[0] = '\0';
	for (size_t i = 0; i < h->n_tokens && off < cap; i++) {
		int n = snprintf(out + off, cap - off, "%s%s (serial %s)", i ? ", " : "",
				 h->tokens[i].label, h->tokens[i].serial);

		if (n < 0)
			break;
		off += (size_t)n;
	}
}

/* Read a store file, refusing a link, a non-regular file and one another user could have
 * written (checked on the descriptor read). */
static int read_trusted(const char *path, uint8_t **buf, size_t *len, struct mpc_err *e)
{
	struct stat st;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return mpc_fail(e, errno == ENOENT ? MPC_ERR_NOT_FOUND : MPC_ERR_IO,
				"cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		rc = mpc_fail(e, MPC_ERR_IO, "%s is not a regular file", path);
	else if ((rc = mpc_fd_check_owner(fd, path, MPC_FILE_CONFIG, e)) == MPC_OK)
		rc = mpc_fd_read_all(fd, MPC_STORE_FILE_MAX, 0, path, buf, len, e);
	close(fd);
	return rc;
}

/* Read, parse and authenticate one file. With `all` set every blob whose token is given must
 * open (verify); otherwise the first blob with a given token is used (restore). On success the
 * plaintext (secure memory) and the header are handed over. */
static int open_file(const struct mpc_store *s, const struct mpc_store_entry *en,
		     struct mpc_token *const *tokens, size_t n_tokens, int all,
		     struct mpc_store_header *h_out, uint8_t **pt_out, size_t *pt_len_out,
		     size_t *checked, size_t *unchecked, struct mpc_err *e)
{
	struct mpc_store_blob_ref blobs[MPC_STORE_MAX_TOKENS];
	struct mpc_store_header h;
	char path[PATH_MAX], want[MPC_STORE_NAME_MAX], who[256];
	uint8_t *buf = NULL, *pt = NULL;
	size_t len = 0, hdr_len = 0, n_blobs = 0, pt_len = 0;
	int rc;

	memset(&h, 0, sizeof(h));
	*pt_out = NULL;
	*pt_len_out = 0;
	*checked = *unchecked = 0;
	if ((rc = mpc_store_entry_path(s, en, path, e)) != MPC_OK)
		return rc;
	if ((rc = read_trusted(path, &buf, &len, e)) != MPC_OK)
		goto out;
	if ((rc = mpc_store_file_parse(buf, len, &h, &hdr_len, blobs, &n_blobs, e)) != MPC_OK)
		goto out;
	if ((rc = mpc_store_file_name(buf, hdr_len, h.epoch, want, e)) != MPC_OK)
		goto out;
	if (strcmp(want, en->name) != 0) {
		rc = mpc_fail(
			e, MPC_ERR_AUTH,
			"the file name does not match its header (renamed, or header edited or "
			"swapped; the header says epoch %llu and name %s)",
			(unsigned long long)h.epoch, want);
		goto out;
	}
	for (size_t b = 0; b < n_blobs; b++) {
		struct mpc_token *t = NULL;
		uint8_t *p = NULL;
		size_t plen = 0;

		for (size_t k = 0; k < n_tokens && t == NULL; k++)
			if (tokens[k] != NULL && token_matches(&h.tokens[b], tokens[k]))
				t = tokens[k];
		if (t == NULL || (!all && pt != NULL)) {
			(*unchecked)++;
			continue;
		}
		rc = mpc_unseal(t, buf, hdr_len, blobs[b].p, blobs[b].len, &p, &plen, e);
		if (rc != MPC_OK) {
			mpc_err_prefix(e, "blob for token %s (serial %s): ", h.tokens[b].label,
				       h.tokens[b].serial);
			goto out;
		}
		(*checked)++;
		if (pt == NULL) {
			pt = p;
			pt_len = plen;
			continue;
		}
		if (plen != pt_len || !mpc_memeq_ct(p, pt, plen)) {
			mpc_secure_free(p);
			rc = mpc_fail(e, MPC_ERR_AUTH,
				      "the blobs for different tokens hold different "
				      "keyshares");
			goto out;
		}
		mpc_secure_free(p);
	}
	if (pt == NULL) {
		struct mpc_token_desc td = { .label = "none", .serial = "-" };

		if (n_tokens > 0 && tokens[0] != NULL)
			mpc_token_describe(tokens[0], &td);
		describe_tokens(&h, who, sizeof(who));
		rc = mpc_fail(
			e, MPC_ERR_TOKEN_NOT_FOUND,
			"sealed to token(s) %s, none of which is open (opened: %s (serial %s))",
			who, td.label, td.serial);
		goto out;
	}
	rc = mpc_keyshares_validate(pt, pt_len, &h.keyset, e);
	if (rc != MPC_OK) {
		if (rc != MPC_ERR_NOMEM)
			mpc_err_prefix(e, "sealed keyshares do not match the header: ");
		goto out;
	}
	*h_out = h;
	memset(&h, 0, sizeof(h));
	*pt_out = pt;
	*pt_len_out = pt_len;
	pt = NULL;
out:
	mpc_secure_free(pt);
	mpc_store_header_free(&h);
	free(buf);
	if (rc != MPC_OK)
		mpc_err_prefix(e, "%s: ", en->name);
	return rc;
}

void mpc_store_verify_report_free(struct mpc_store_verify_report *r)
{
	if (r == NULL)
		return;
	free(r->items);
	memset(r, 0, sizeof(*r));
}

int mpc_store_verify(const struct mpc_store *s, struct mpc_token *const *tokens, size_t n_tokens,
		     struct mpc_store_verify_report *out, struct mpc_err *e)
{
	struct mpc_store_verify_report r = { 0 };
	struct mpc_store_list l;
	size_t n_live = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = mpc_store_list(s, &l, e)) != MPC_OK)
		return rc;
	r.n_temp = l.n_temp;
	r.items = calloc(l.n ? l.n : 1, sizeof(*r.items));
	if (r.items == NULL) {
		mpc_store_list_free(&l);
		return mpc_fail(e, MPC_ERR_NOMEM, "verify: out of memory");
	}
	r.n = l.n;
	for (size_t i = 0; i < l.n; i++) {
		const struct mpc_store_entry *en = &l.items[i];
		struct mpc_store_verify_item *it = &r.items[i];
		struct mpc_store_header h;
		struct mpc_err fe = { 0 };
		uint8_t *pt = NULL;
		size_t pt_len = 0;

		memset(&h, 0, sizeof(h));
		snprintf(it->name, sizeof(it->name), "%s", en->name);
		it->quarantined = en->quarantined;
		if (en->header_ok) {
			it->epoch = en->hdr.epoch;
			it->n_domains = en->hdr.keyset.n_domains;
		}
		if (!en->quarantined)
			n_live++;
		/* a file whose header is unreadable is not opened again (it may not even be a
		 * regular file) */
		if (!en->header_ok)
			it->code = mpc_fail(&fe, en->problem_code, "%s: %s", en->name, en->problem);
		else
			it->code = open_file(s, en, tokens, n_tokens, 1, &h, &pt, &pt_len,
					     &it->blobs_checked, &it->blobs_unchecked, &fe);
		if (it->code == MPC_ERR_TOKEN_UNAVAILABLE) {
			/* Not a verdict on this file or any other: nothing can be verified until
			 * the token is back, and no good file may be reported as failing. */
			if (e != NULL)
				*e = fe;
			mpc_err_prefix(e, "verification stopped: ");
			mpc_store_verify_report_free(&r);
			mpc_store_list_free(&l);
			return MPC_ERR_TOKEN_UNAVAILABLE;
		}
		if (it->code == MPC_OK) {
			it->ok = 1;
			snprintf(it->msg, sizeof(it->msg),
				 "intact: epoch %llu, %zu domain(s), %zu of %zu blob(s) opened",
				 (unsigned long long)h.epoch, h.keyset.n_domains, it->blobs_checked,
				 it->blobs_checked + it->blobs_unchecked);
			mpc_store_header_free(&h);
			mpc_secure_free(pt);
		} else {
			snprintf(it->msg, sizeof(it->msg), "%s", fe.msg);
		}
		if (!en->quarantined) {
			if (it->ok)
				r.n_ok++;
			else
				r.n_failed++;
		}
	}
	r.all_ok = n_live > 0 && r.n_failed == 0;
	mpc_store_list_free(&l);
	*out = r;
	return MPC_OK;
}

void mpc_store_restore_free(struct mpc_store_restore *r)
{
	if (r == NULL)
		return;
	mpc_secure_free(r->keyshares);
	mpc_store_header_free(&r->hdr);
	memset(r, 0, sizeof(*r));
}

int mpc_store_open_keyset(const struct mpc_store *s, struct mpc_token *const *tokens,
			  size_t n_tokens, int newest, uint64_t epoch,
			  struct mpc_store_restore *out, struct mpc_err *e)
{
	struct mpc_store_list l;
	size_t checked, unchecked;
	long pick = -1;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = mpc_store_list(s, &l, e)) != MPC_OK)
		return rc;
	/* which file is the newest depends on every header: none may be another user's */
	if ((rc = mpc_store_list_refuse_untrusted(&l, e)) != MPC_OK)
		goto out;
	if (newest) {
		pick = mpc_store_list_newest(&l);
	} else {
		for (size_t i = 0; i < l.n; i++)
			if (!l.items[i].quarantined && l.items[i].header_ok &&
			    l.items[i].hdr.epoch == epoch)
				pick = (long)i; /* sorted: the last is the newest of that epoch */
	}
	/* A damaged file that could be the one asked for is never skipped silently. */
	for (size_t i = 0; i < l.n; i++) {
		const struct mpc_store_entry *en = &l.items[i];
		char digest[MPC_STORE_DIGEST_HEX + 1];
		uint64_t ep = 0;

		if (en->quarantined || en->header_ok ||
		    !mpc_store_name_parse(en->name, &ep, digest))
			continue;
		if (newest ? (pick < 0 || ep >= l.items[pick].hdr.epoch) : ep == epoch) {
			rc = mpc_fail(
				e, en->problem_code,
				"%s: %s; quarantine epoch %llu to restore from another backup",
				en->name, en->problem, (unsigned long long)ep);
			goto out;
		}
	}
	if (pick < 0) {
		if (newest)
			rc = mpc_fail(
				e, MPC_ERR_NOT_FOUND,
				"the store in %s holds no keyset to restore (%zu file(s), none "
				"usable and not quarantined)",
				s->dir, l.n);
		else
			rc = mpc_fail(e, MPC_ERR_NOT_FOUND,
				      "the store in %s holds no keyset of epoch %llu", s->dir,
				      (unsigned long long)epoch);
		goto out;
	}
	rc = open_file(s, &l.items[pick], tokens, n_tokens, 0, &out->hdr, &out->keyshares,
		       &out->keyshares_len, &checked, &unchecked, e);
	if (rc == MPC_OK)
		snprintf(out->name, sizeof(out->name), "%s", l.items[pick].name);
out:
	mpc_store_list_free(&l);
	return rc;
}
