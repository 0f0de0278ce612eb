/* replica_fetch.c: fill a store on a new host from a replica, accepting only files whose header
 * and name agree and, with tokens, that the tokens open. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/store/fsio.h"
#include "src/store/replica.h"
#include "src/store/replica_int.h"
#include "src/store/store_int.h"
#include "src/util/file.h"

void mpc_replica_fetch_report_free(struct mpc_replica_fetch_report *r)
{
	if (r == NULL)
		return;
	free(r->items);
	r->items = NULL;
	r->n = 0;
}

static void refuse(struct mpc_replica_fetch_item *it, int code, const char *what, const char *a)
{
	it->accepted = 0;
	it->code = code != MPC_OK ? code : MPC_ERR_INTERNAL;
	snprintf(it->msg, sizeof(it->msg), "%.40s%.600s", what, a);
}

/* Header parses and the name is the one its header gives. */
static int check_file(const uint8_t *buf, size_t len, const char *name, struct mpc_err *e)
{
	struct mpc_store_header h;
	struct mpc_store_blob_ref blobs[MPC_STORE_MAX_TOKENS];
	size_t hdr_len = 0, nb = 0;
	char want[MPC_STORE_NAME_MAX];
	int rc;

	memset(&h, 0, sizeof(h));
	rc = mpc_store_file_parse(buf, len, &h, &hdr_len, blobs, &nb, e);
	if (rc != MPC_OK)
		return rc;
	rc = mpc_store_file_name(buf, hdr_len, h.epoch, want, e);
	if (rc == MPC_OK && strcmp(want, name) != 0)
		rc = mpc_fail(e, MPC_ERR_AUTH,
			      "the name does not carry its header's epoch and digest (header says "
			      "%s): renamed or tampered",
			      want);
	mpc_store_header_free(&h);
	return rc;
}

static int same_bytes(const char *a, const char *b, int *same, struct mpc_err *e)
{
	uint8_t *x = NULL, *y = NULL;
	size_t lx = 0, ly = 0;
	int rc = mpc_file_read(a, MPC_STORE_FILE_MAX, 0, &x, &lx, e);

	if (rc == MPC_OK)
		rc = mpc_file_read(b, MPC_STORE_FILE_MAX, 0, &y, &ly, e);
	if (rc == MPC_OK)
		*same = lx == ly && memcmp(x, y, lx) == 0;
	free(x);
	free(y);
	return rc;
}

int mpc_replica_check_file(const char *path, const char *name, struct mpc_err *e)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = mpc_file_read(path, MPC_STORE_FILE_MAX, 0, &buf, &len, e);

	if (rc == MPC_OK)
		rc = check_file(buf, len, name, e);
	free(buf);
	return rc;
}

int mpc_replica_download(const struct mpc_rclone *rc, const char *remote, const char *name,
			 const char *dir, double deadline, struct mpc_err *e)
{
	char src[MPC_REPLICA_REMOTE_MAX + MPC_STORE_NAME_MAX + 2], dst[PATH_MAX], maxsz[32];
	struct mpc_rclone_out r;
	struct stat st;
	int ret;

	ret = mpc_replica_join(remote, name, src, sizeof(src), e);
	if (ret != MPC_OK)
		return ret;
	if (snprintf(dst, sizeof(dst), "%s/%s", dir, name) >= (int)sizeof(dst))
		return mpc_fail(e, MPC_ERR_USAGE, "%s: path too long", name);
	snprintf(maxsz, sizeof(maxsz), "%zuB", (size_t)MPC_STORE_FILE_MAX);
	{
		/* --max-transfer, not --max-size (a filter copyto refuses): a file that grew
		 * past the bound while being served stops the transfer (exit 8) */
		const char *args[] = { "copyto", "--max-transfer", maxsz, "--cutoff-mode",
				       "hard",   "--ignore-times", src,   dst,
				       NULL };

		ret = mpc_rclone_run(rc, deadline, args, 65536, &r, e);
		if (ret != MPC_OK)
			return mpc_err_prefix(e, "downloading %s: ", name);
		if (r.status == 8) { /* "transfer exceeded": this file is over the bound */
			mpc_rclone_out_free(&r);
			unlink(dst);
			return mpc_fail(e, MPC_ERR_TOO_LARGE, "over %zu bytes",
					(size_t)MPC_STORE_FILE_MAX);
		}
		if (r.status != 0) {
			(void)mpc_rclone_fail(&r, "downloading from the replica", e);
			mpc_rclone_out_free(&r);
			unlink(dst);
			return mpc_err_prefix(e, "%s: ", name);
		}
		mpc_rclone_out_free(&r);
	}
	if (lstat(dst, &st) != 0 || !S_ISREG(st.st_mode))
		return mpc_fail(e, MPC_ERR_NOT_FOUND,
				"not downloaded: gone from the replica, or over %zu bytes",
				(size_t)MPC_STORE_FILE_MAX);
	if ((uint64_t)st.st_size > MPC_STORE_FILE_MAX) {
		unlink(dst);
		return mpc_fail(e, MPC_ERR_TOO_LARGE, "over %zu bytes", (size_t)MPC_STORE_FILE_MAX);
	}
	if (chmod(dst, 0600) != 0) {
		ret = mpc_fail(e, MPC_ERR_IO, "%s: chmod: %s", name, strerror(errno));
		unlink(dst);
		return ret;
	}
	return MPC_OK;
}

void mpc_replica_remove_staging(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[PATH_MAX];

	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			if (snprintf(p, sizeof(p), "%s/%s", dir, de->d_name) < (int)sizeof(p))
				unlink(p);
		}
		closedir(d);
	}
	rmdir(dir);
}

int mpc_replica_fetch(const struct mpc_replica_opts *o, const char *remote,
		      const struct mpc_store *store, struct mpc_token *const *tokens,
		      size_t n_tokens, struct mpc_replica_fetch_report *out, struct mpc_err *e)
{
	struct mpc_rclone rc = { 0 };
	struct mpc_store_list local;
	struct mpc_replica_rfile *rf = NULL;
	struct mpc_replica_fetch_item *items = NULL;
	struct mpc_store *stage = NULL;
	unsigned char *fresh = NULL; /* 1: a new file staged for the store */
	char staging[PATH_MAX], path[PATH_MAX];
	size_t nr = 0, n_ok = 0, n_bad = 0, n_present = 0;
	int ret, have_local = 0, staged = 0, lock = -1;

	memset(&local, 0, sizeof(local));
	ret = mpc_replica_check_remote(remote, e);
	if (ret == MPC_OK)
		ret = mpc_rclone_check_config(o->config, e);
	if (ret != MPC_OK)
		return ret;
	rc.program = o->rclone != NULL ? o->rclone : MPC_REPLICA_DEFAULT_RCLONE;
	rc.config = o->config;
	rc.timeout = o->call_timeout > 0 ? o->call_timeout : MPC_REPLICA_DEFAULT_TIMEOUT;
	rc.cancel = o->cancel;

	ret = mpc_store_list(store, &local, e);
	if (ret != MPC_OK)
		return ret;
	have_local = 1;
	ret = mpc_replica_list(&rc, remote, 0, NULL, &rf, &nr, NULL, NULL, e);
	if (ret != MPC_OK)
		goto out;
	if (nr == 0) {
		ret = mpc_fail(e, MPC_ERR_NOT_FOUND, "replica %s holds no store file", remote);
		goto out;
	}
	/* a store that holds files only takes a resumed fetch: each of its files on the replica */
	for (size_t i = 0; i < local.n; i++) {
		int there = 0;

		for (size_t j = 0; j < nr && !there; j++)
			there = strcmp(rf[j].name, local.items[i].name) == 0 &&
				rf[j].size == local.items[i].size && !local.items[i].quarantined;
		if (!there) {
			ret = mpc_fail(
				e, MPC_ERR_EXISTS,
				"the store %s is not empty and %s is not on the replica with "
				"the same size: fetch fills an empty store only",
				store->dir, local.items[i].name);
			goto out;
		}
	}
	/* bounded before anything is downloaded: a replica is not trusted with our disk */
	{
		uint64_t total = 0;

		/* saturating: listed sizes are the replica's word */
		for (size_t j = 0; j < nr; j++)
			total = rf[j].size > UINT64_MAX - total ? UINT64_MAX : total + rf[j].size;
		if (nr > MPC_REPLICA_FETCH_FILES_MAX || total > MPC_REPLICA_FETCH_BYTES_MAX) {
			ret = mpc_fail(e, MPC_ERR_TOO_LARGE,
				       "replica %s lists %zu store files, %llu bytes: over the "
				       "bound of %d files, %llu bytes; nothing fetched",
				       remote, nr, (unsigned long long)total,
				       MPC_REPLICA_FETCH_FILES_MAX,
				       (unsigned long long)MPC_REPLICA_FETCH_BYTES_MAX);
			goto out;
		}
	}
	items = calloc(nr, sizeof(*items));
	fresh = calloc(nr, sizeof(*fresh));
	if (items == NULL || fresh == NULL) {
		ret = mpc_fail(e, MPC_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* a relative path is given to rclone as ./path: never read as an option or a remote */
	if (snprintf(staging, sizeof(staging), "%s%s/.tmp-fetch-XXXXXX",
		     store->dir[0] == '/' ? "" : "./", store->dir) >= (int)sizeof(staging) ||
	    mkdtemp(staging) == NULL) {
		ret = mpc_fail(e, MPC_ERR_IO, "cannot make a staging directory in %s: %s",
			       store->dir, strerror(errno));
		goto out;
	}
	staged = 1;
	/* header and name of each file; files already here must be byte-identical */
	for (size_t j = 0; j < nr; j++) {
		struct mpc_replica_fetch_item *it = &items[j];
		struct mpc_err fe = { 0 };
		uint8_t *buf = NULL;
		size_t len = 0;
		int frc;

		snprintf(it->name, sizeof(it->name), "%s", rf[j].name);
		it->code = MPC_OK;
		if (snprintf(path, sizeof(path), "%s/%s", staging, it->name) >= (int)sizeof(path)) {
			refuse(it, MPC_ERR_USAGE, "", "path too long");
			continue;
		}
		/* one rclone call per file: each has the call timeout, none the whole download's */
		frc = rf[j].size > MPC_STORE_FILE_MAX
			      ? mpc_fail(&fe, MPC_ERR_TOO_LARGE, "over %zu bytes",
					 (size_t)MPC_STORE_FILE_MAX)
			      : mpc_replica_download(&rc, remote, it->name, staging, 0, &fe);
		if (frc != MPC_OK && frc != MPC_ERR_TOO_LARGE && frc != MPC_ERR_NOT_FOUND) {
			*e = fe;
			ret = mpc_err_prefix(e, "downloading from %s: ", remote);
			goto out;
		}
		if (frc != MPC_OK) {
			refuse(it, frc, "refused: ", fe.msg);
			continue;
		}
		frc = mpc_file_read(path, MPC_STORE_FILE_MAX, 0, &buf, &len, &fe);
		/* the bound above counted listed sizes: a file that is not its listed size is
		 * refused, so what stays on our disk is never more than the bound */
		if (frc == MPC_OK && (uint64_t)len != rf[j].size)
			frc = mpc_fail(&fe, MPC_ERR_INVALID,
				       "the replica listed %llu bytes and sent %zu",
				       (unsigned long long)rf[j].size, len);
		if (frc == MPC_OK)
			frc = check_file(buf, len, it->name, &fe);
		free(buf);
		if (frc != MPC_OK) {
			refuse(it, frc, "refused: ", fe.msg);
			unlink(path);
			continue;
		}
		for (size_t i = 0; i < local.n; i++) {
			char lp[PATH_MAX];
			int same = 0;

			if (strcmp(local.items[i].name, it->name) != 0)
				continue;
			if (mpc_store_entry_path(store, &local.items[i], lp, &fe) != MPC_OK ||
			    same_bytes(lp, path, &same, &fe) != MPC_OK) {
				refuse(it, fe.code, "refused: ", fe.msg);
			} else if (!same) {
				refuse(it, MPC_ERR_EXISTS, "",
				       "refused: the store holds another file of this name");
			} else {
				it->accepted = 1;
				snprintf(it->msg, sizeof(it->msg),
					 "already in the store, identical");
				n_present++;
			}
			unlink(path);
			goto next;
		}
		it->accepted = 1; /* provisional until the tokens say */
		fresh[j] = 1;
		snprintf(it->msg, sizeof(it->msg), "header and name agree");
next:;
	}
	/* open in the tokens */
	if (n_tokens > 0) {
		struct mpc_store_verify_report vr;

		ret = mpc_store_open(staging, 0, &stage, e);
		if (ret == MPC_OK)
			ret = mpc_store_verify(stage, tokens, n_tokens, &vr, e);
		if (ret != MPC_OK)
			goto out;
		for (size_t j = 0; j < nr; j++) {
			struct mpc_replica_fetch_item *it = &items[j];

			if (!fresh[j])
				continue;
			it->accepted = 0;
			it->code = MPC_ERR_AUTH;
			snprintf(it->msg, sizeof(it->msg), "refused: not opened by the token");
			for (size_t k = 0; k < vr.n; k++) {
				if (strcmp(vr.items[k].name, it->name) != 0)
					continue;
				if (vr.items[k].ok && vr.items[k].blobs_checked > 0) {
					it->accepted = 1;
					it->code = MPC_OK;
					snprintf(it->msg, sizeof(it->msg),
						 "opened by the token: %.600s", vr.items[k].msg);
				} else {
					/* Sealed only to tokens not given is "the token does not open
					 * it" (15), like a bad tag: not "no token matches a URI". */
					it->code = vr.items[k].ok || vr.items[k].code ==
									     MPC_ERR_TOKEN_NOT_FOUND
							   ? MPC_ERR_AUTH
							   : vr.items[k].code;
					snprintf(it->msg, sizeof(it->msg),
						 "refused by the token: %.600s",
						 vr.items[k].ok
							 ? "sealed to none of the tokens given"
							 : vr.items[k].msg);
				}
			}
		}
		mpc_store_verify_report_free(&vr);
	}
	/* write the accepted files durably, never replacing */
	ret = mpc_store_lock(store->dir, &lock, e);
	if (ret != MPC_OK)
		goto out;
	for (size_t j = 0; j < nr; j++) {
		struct mpc_replica_fetch_item *it = &items[j];
		struct mpc_err fe = { 0 };
		uint8_t *buf = NULL;
		size_t len = 0;
		int frc;

		if (!it->accepted || !fresh[j])
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", staging, it->name) >= (int)sizeof(path))
			continue;
		frc = mpc_file_read(path, MPC_STORE_FILE_MAX, 0, &buf, &len, &fe);
		if (frc == MPC_OK)
			frc = mpc_store_write_new(store->dir, it->name, buf, len, &fe);
		free(buf);
		if (frc != MPC_OK) {
			refuse(it, frc, "not written: ", fe.msg);
			continue;
		}
		n_ok++;
	}
	for (size_t j = 0; j < nr; j++)
		n_bad += !items[j].accepted;
	out->n = nr;
	out->items = items;
	out->n_accepted = n_ok;
	out->n_refused = n_bad;
	out->n_present = n_present;
	out->verified = n_tokens > 0;
	items = NULL;
	ret = MPC_OK;
out:
	if (lock >= 0)
		mpc_store_unlock(lock);
	mpc_store_close(stage);
	if (staged)
		mpc_replica_remove_staging(staging);
	if (have_local)
		mpc_store_list_free(&local);
	free(items);
	free(fresh);
	free(rf);
	return ret;
}

json_t *mpc_replica_fetch_report_json(const struct mpc_replica_fetch_report *r, struct mpc_err *e)
{
	json_t *o = json_object(), *a = json_array();
	int bad = o == NULL || a == NULL;

	for (size_t i = 0; !bad && i < r->n; i++) {
		json_t *j =
			json_pack("{s:s, s:b, s:s, s:s}", "name", r->items[i].name, "accepted",
				  r->items[i].accepted, "code",
				  r->items[i].accepted ? "MPC_OK" : mpc_errname(r->items[i].code),
				  "message", r->items[i].msg);

		bad |= j == NULL || json_array_append_new(a, j) != 0;
	}
	if (!bad)
		bad |= json_object_set_new(o, "files", a) != 0;
	else
		json_decref(a);
	if (!bad) {
		json_t *s = json_pack("{s:I, s:I, s:I, s:b}", "written", (json_int_t)r->n_accepted,
				      "refused", (json_int_t)r->n_refused, "already_present",
				      (json_int_t)r->n_present, "verified_by_token", r->verified);

		bad |= s == NULL || json_object_update(o, s) != 0;
		json_decref(s);
	}
	if (bad) {
		json_decref(o);
		mpc_fail(e, MPC_ERR_NOMEM, "building fetch JSON failed");
		return NULL;
	}
	return o;
}
