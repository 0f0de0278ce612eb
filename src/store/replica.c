/* replica.c: the replica set: catching replicas up with the store and comparing them to it. */
#include "src/store/replica.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "src/store/replica_int.h"
#include "src/store/store_int.h"
#include "src/util/file.h"

#define HOST_ID_MAX 32

struct lfile { /* one local store file */
	char name[MPC_STORE_NAME_MAX];
	char path[PATH_MAX];
	uint64_t size;
	struct mpc_replica_digests d;
};

struct remembered {
	enum mpc_replica_finding_kind kind;
	char name[MPC_STORE_NAME_MAX];
};

struct replica {
	struct mpc_replica_status st;
	double behind_since_mono;
	double retry_at;                   /* monotonic: not tried before (after timeouts) */
	unsigned timeouts;                 /* consecutive listing timeouts */
	char (*known)[MPC_STORE_NAME_MAX]; /* store files seen at the last listing */
	size_t n_known;
	struct remembered *seen; /* findings already reported */
	size_t n_seen;
};

struct mpc_replica_set {
	struct mpc_rclone rc;
	char program[PATH_MAX];
	char config[PATH_MAX];
	char host_id[HOST_ID_MAX + 1];
	size_t n;
	struct replica r[MPC_REPLICA_MAX];
};

const char *mpc_replica_finding_name(enum mpc_replica_finding_kind k)
{
	switch (k) {
	case MPC_REPLICA_BEHIND:
		return "behind";
	case MPC_REPLICA_DIFFERENT:
		return "different";
	case MPC_REPLICA_EXTRA:
		return "extra";
	}
	return "?";
}

/* The host's temporaries are named after its full host name (two hosts whose names share a
 * first label must not share temporaries): letters, digits, '-' and '.' kept; any other byte,
 * or a name longer than HOST_ID_MAX, makes it a readable prefix and a hash of the whole name. */
static void sanitize_host(const char *in, char out[HOST_ID_MAX + 1])
{
	size_t o = 0, len = strlen(in);
	uint32_t h = 2166136261u; /* FNV-1a of the name as given */
	int changed = len > HOST_ID_MAX;

	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '-' || (c == '.' && i > 0);

		h = (h ^ (unsigned char)c) * 16777619u;
		changed |= !ok;
		if (o < HOST_ID_MAX)
			out[o++] = (char)(ok ? c : '_');
	}
	if (changed) {
		o = o < HOST_ID_MAX - 9 ? o : HOST_ID_MAX - 9;
		snprintf(out + o, HOST_ID_MAX + 1 - o, "~%08x", (unsigned)h);
		return;
	}
	if (o == 0)
		out[o++] = 'h';
	out[o] = '\0';
}

int mpc_replica_set_new(const struct mpc_replica_opts *o, struct mpc_replica_set **out,
			struct mpc_err *e)
{
	struct mpc_replica_set *s = NULL;
	const char *prog = o->rclone != NULL ? o->rclone : MPC_REPLICA_DEFAULT_RCLONE;
	char host[256];
	int rc;

	if (o->call_timeout < 0 || o->call_timeout > 3600)
		return mpc_fail(e, MPC_ERR_USAGE, "rclone call timeout must be 0..3600 seconds");
	rc = mpc_rclone_check_config(o->config, e);
	if (rc != MPC_OK)
		return rc;
	if (access(prog, X_OK) != 0)
		return mpc_fail(e, MPC_ERR_NOT_FOUND,
				"rclone program %s: %s (install the Debian package rclone)", prog,
				strerror(errno));
	if (strlen(prog) >= PATH_MAX || strlen(o->config) >= PATH_MAX)
		return mpc_fail(e, MPC_ERR_USAGE, "rclone path too long");
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return mpc_fail(e, MPC_ERR_NOMEM, "out of memory");
	snprintf(s->program, sizeof(s->program), "%s", prog);
	snprintf(s->config, sizeof(s->config), "%s", o->config);
	if (o->host_id != NULL) {
		sanitize_host(o->host_id, s->host_id);
	} else {
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "h");
		host[sizeof(host) - 1] = '\0';
		sanitize_host(host, s->host_id);
	}
	s->rc.program = s->program;
	s->rc.config = s->config;
	s->rc.timeout = o->call_timeout > 0 ? o->call_timeout : MPC_REPLICA_DEFAULT_TIMEOUT;
	s->rc.cancel = o->cancel;
	*out = s;
	return MPC_OK;
}

void mpc_replica_set_free(struct mpc_replica_set *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->r[i].known);
		free(s->r[i].seen);
	}
	free(s);
}

size_t mpc_replica_set_count(const struct mpc_replica_set *s)
{
	return s->n;
}

void mpc_replica_status_get(const struct mpc_replica_set *s, size_t i,
			    struct mpc_replica_status *out)
{
	if (i < s->n)
		*out = s->r[i].st;
	else
		memset(out, 0, sizeof(*out));
}

int mpc_replica_set_add(struct mpc_replica_set *s, const char *remote, struct mpc_err *e)
{
	int rc = mpc_replica_check_remote(remote, e);

	if (rc != MPC_OK)
		return rc;
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->r[i].st.remote, remote) == 0)
			return mpc_fail(e, MPC_ERR_EXISTS, "replica %s is configured twice",
					remote);
	if (s->n >= MPC_REPLICA_MAX)
		return mpc_fail(e, MPC_ERR_TOO_LARGE, "more than %d replicas", MPC_REPLICA_MAX);
	memset(&s->r[s->n], 0, sizeof(s->r[s->n]));
	snprintf(s->r[s->n].st.remote, sizeof(s->r[s->n].st.remote), "%s", remote);
	s->n++;
	return MPC_OK;
}

static void hex(const unsigned char *d, size_t n, char *out)
{
	static const char h[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = h[d[i] >> 4];
		out[2 * i + 1] = h[d[i] & 15];
	}
	out[2 * n] = '\0';
}

static int digest_all(const uint8_t *p, size_t len, struct mpc_replica_digests *d,
		      struct mpc_err *e)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n;

	if (EVP_Digest(p, len, md, &n, EVP_sha256(), NULL) != 1)
		return mpc_fail(e, MPC_ERR_INTERNAL, "SHA-256 failed");
	hex(md, n, d->sha256);
	if (EVP_Digest(p, len, md, &n, EVP_sha1(), NULL) != 1)
		return mpc_fail(e, MPC_ERR_INTERNAL, "SHA-1 failed");
	hex(md, n, d->sha1);
	if (EVP_Digest(p, len, md, &n, EVP_md5(), NULL) != 1)
		return mpc_fail(e, MPC_ERR_INTERNAL, "MD5 failed");
	hex(md, n, d->md5);
	return MPC_OK;
}

/* The store's non-quarantined readable files with their digests. */
static int local_files(const struct mpc_store *store, struct lfile **out, size_t *n_out,
		       struct mpc_err *e)
{
	struct mpc_store_list l;
	struct lfile *f = NULL;
	size_t n = 0;
	int rc = mpc_store_list(store, &l, e);

	if (rc != MPC_OK)
		return rc;
	f = calloc(l.n ? l.n : 1, sizeof(*f));
	if (f == NULL) {
		rc = mpc_fail(e, MPC_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < l.n; i++) {
		uint8_t *buf = NULL;
		size_t len = 0;

		if (l.items[i].quarantined || !l.items[i].header_ok)
			continue;
		snprintf(f[n].name, sizeof(f[n].name), "%s", l.items[i].name);
		rc = mpc_store_entry_path(store, &l.items[i], f[n].path, e);
		/* a relative path is given to rclone as ./path: never an option or a remote */
		if (rc == MPC_OK && f[n].path[0] != '/') {
			char rel[PATH_MAX];

			memcpy(rel, f[n].path, sizeof(rel));
			if (snprintf(f[n].path, sizeof(f[n].path), "./%s", rel) >=
			    (int)sizeof(f[n].path))
				rc = mpc_fail(e, MPC_ERR_USAGE, "store path too long");
		}
		if (rc == MPC_OK)
			rc = mpc_file_read(f[n].path, MPC_STORE_FILE_MAX, 0, &buf, &len, e);
		if (rc == MPC_OK)
			rc = digest_all(buf, len, &f[n].d, e);
		free(buf);
		if (rc != MPC_OK)
			goto out;
		f[n].size = len;
		n++;
	}
	*out = f;
	*n_out = n;
	f = NULL;
out:
	free(f);
	mpc_store_list_free(&l);
	return rc;
}

/* `rclone hashsum sha256 --download REMOTE`: fill in SHA-256 for files lacking any digest. */
static int hash_by_download(const struct mpc_rclone *rc, const char *remote, double deadline,
			    struct mpc_replica_rfile *f, size_t n, struct mpc_err *e)
{
	const char *args[] = { "hashsum",   "sha256",         "--download", "--max-depth", "1",
			       "--include", "keyset-e*.mpcs", remote,       NULL };
	struct mpc_rclone_out r;
	int ret = mpc_rclone_run(rc, deadline, args, MPC_RCLONE_LIST_MAX, &r, e);
	char *p;

	if (ret != MPC_OK)
		return mpc_err_prefix(e, "hashing %s: ", remote);
	if (r.status != 0) {
		ret = mpc_rclone_fail(&r, "hashing replica files", e);
		goto out;
	}
	for (p = r.out; p != NULL && *p != '\0';) {
		char *nl = strchr(p, '\n');

		if (nl != NULL)
			*nl = '\0';
		/* "<64 hex>  <name>" */
		if (strlen(p) > 66 && p[64] == ' ' && p[65] == ' ')
			for (size_t i = 0; i < n; i++)
				if (f[i].d.sha256[0] == '\0' && strcmp(f[i].name, p + 66) == 0) {
					memcpy(f[i].d.sha256, p, 64);
					f[i].d.sha256[64] = '\0';
				}
		p = nl != NULL ? nl + 1 : NULL;
	}
out:
	mpc_rclone_out_free(&r);
	return ret;
}

/* 1 same, 0 different, -1 no common digest */
static int compare(const struct lfile *l, const struct mpc_replica_rfile *r)
{
	int compared = 0;

	if (l->size != r->size)
		return 0;
	if (r->d.sha256[0] != '\0') {
		if (strcmp(r->d.sha256, l->d.sha256) != 0)
			return 0;
		compared = 1;
	}
	if (r->d.sha1[0] != '\0') {
		if (strcmp(r->d.sha1, l->d.sha1) != 0)
			return 0;
		compared = 1;
	}
	if (r->d.md5[0] != '\0') {
		if (strcmp(r->d.md5, l->d.md5) != 0)
			return 0;
		compared = 1;
	}
	return compared ? 1 : -1;
}

static void delete_tmp(const struct mpc_replica_set *s, const struct replica *rp, const char *name,
		       double deadline);

/* Copy one local file: to a temporary name, then moved into place without replacing; *present
 * = 1 when the move was skipped because the replica already has the name. */
static int upload(const struct mpc_replica_set *s, const struct replica *rp, const struct lfile *l,
		  double deadline, int *present, struct mpc_err *e)
{
	char tmpname[MPC_STORE_NAME_MAX + HOST_ID_MAX + 8], tmp[MPC_REPLICA_REMOTE_MAX + 128];
	char dst[MPC_REPLICA_REMOTE_MAX + 128];
	struct mpc_rclone_out r;
	int ret;

	snprintf(tmpname, sizeof(tmpname), ".tmp-%s-%s", s->host_id, l->name);
	if ((ret = mpc_replica_join(rp->st.remote, tmpname, tmp, sizeof(tmp), e)) != MPC_OK ||
	    (ret = mpc_replica_join(rp->st.remote, l->name, dst, sizeof(dst), e)) != MPC_OK)
		return ret;
	{
		const char *args[] = { "copyto", "--ignore-times", l->path, tmp, NULL };

		ret = mpc_rclone_run(&s->rc, deadline, args, 65536, &r, e);
		if (ret != MPC_OK)
			return mpc_err_prefix(e, "copying %s: ", l->name);
		if (r.status != 0) {
			(void)mpc_rclone_fail(&r, "copying a file", e);
			mpc_rclone_out_free(&r);
			return mpc_err_prefix(e, "%s: ", l->name);
		}
		mpc_rclone_out_free(&r);
	}
	{
		/* INFO says "Moved" (or "Copied" then deleted) for a move; a move skipped because
		 * the name exists (another host, or an earlier pass that lost its answer) says
		 * nothing and leaves the temporary behind */
		const char *args[] = { "--log-level", "INFO", "moveto", "--ignore-existing",
				       tmp,           dst,    NULL };

		ret = mpc_rclone_run(&s->rc, deadline, args, 65536, &r, e);
		if (ret != MPC_OK)
			return mpc_err_prefix(e, "moving %s into place: ", l->name);
		if (r.status != 0) {
			(void)mpc_rclone_fail(&r, "moving a file into place", e);
			mpc_rclone_out_free(&r);
			return mpc_err_prefix(e, "%s: ", l->name);
		}
		*present = strstr(r.err, "Moved") == NULL && strstr(r.err, "Copied") == NULL;
		mpc_rclone_out_free(&r);
	}
	if (*present)
		delete_tmp(s, rp, tmpname, deadline);
	return MPC_OK;
}

static void delete_tmp(const struct mpc_replica_set *s, const struct replica *rp, const char *name,
		       double deadline)
{
	char path[MPC_REPLICA_REMOTE_MAX + 128];
	struct mpc_rclone_out r;
	struct mpc_err e = { 0 };
	const char *args[] = { "deletefile", path, NULL };

	if (mpc_replica_join(rp->st.remote, name, path, sizeof(path), &e) != MPC_OK)
		return;
	if (mpc_rclone_run(&s->rc, deadline, args, 65536, &r, &e) == MPC_OK)
		mpc_rclone_out_free(&r);
}

static int is_known(const struct replica *rp, const char *name)
{
	for (size_t i = 0; i < rp->n_known; i++)
		if (strcmp(rp->known[i], name) == 0)
			return 1;
	return 0;
}

struct cur_finding {
	enum mpc_replica_finding_kind kind;
	const char *name;
	char detail[128];
};

/* Report each current finding once; forget the ones that are gone. */
static int remember(struct replica *rp, size_t idx, const struct cur_finding *cur, size_t n_cur,
		    struct mpc_replica_report *rep, struct mpc_err *e)
{
	struct remembered *keep = calloc(n_cur + 1, sizeof(*keep));
	size_t nk = 0;

	if (keep == NULL)
		return mpc_fail(e, MPC_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < n_cur; i++) {
		int old = 0;

		for (size_t j = 0; j < rp->n_seen && !old; j++)
			old = rp->seen[j].kind == cur[i].kind &&
			      strcmp(rp->seen[j].name, cur[i].name) == 0;
		if (!old) {
			struct mpc_replica_finding *f;

			if (rep->n_findings >= MPC_REPLICA_FINDINGS_MAX) {
				rep->findings_omitted++;
				continue; /* not remembered: reported on a later pass */
			}
			f = &rep->findings[rep->n_findings++];
			f->replica = idx;
			f->kind = cur[i].kind;
			snprintf(f->name, sizeof(f->name), "%s", cur[i].name);
			snprintf(f->detail, sizeof(f->detail), "%s", cur[i].detail);
			rp->st.findings_total++;
		}
		keep[nk].kind = cur[i].kind;
		snprintf(keep[nk].name, sizeof(keep[nk].name), "%s", cur[i].name);
		nk++;
	}
	free(rp->seen);
	rp->seen = keep;
	rp->n_seen = nk;
	return MPC_OK;
}

static void set_behind(struct replica *rp, int current)
{
	if (current) {
		rp->st.behind_since = 0;
		rp->behind_since_mono = 0;
	} else if (rp->st.behind_since == 0) {
		rp->st.behind_since = (uint64_t)time(NULL);
		rp->behind_since_mono = mpc_replica_now();
	}
}

/* One replica: list, (copy), compare. Returns MPC_OK or a local failure (NOMEM); replica
 * failures land in rp->st and rep. */
static int pass_one(struct mpc_replica_set *s, size_t idx, const struct lfile *lf, size_t nl,
		    int copy, double deadline, struct mpc_replica_report *rep, struct mpc_err *e)
{
	struct replica *rp = &s->r[idx];
	struct mpc_replica_rfile *rf = NULL;
	size_t nr = 0, n_tmps = 0, nc = 0;
	char(*tmps)[MPC_STORE_NAME_MAX + 64] = NULL;
	char prefix[HOST_ID_MAX + 8];
	struct cur_finding *cur = NULL;
	struct mpc_err re = { 0 };
	int ret = MPC_OK, ok = 1, rc;
	size_t behind = 0, different = 0, extra = 0, unhashed = 0;

	snprintf(prefix, sizeof(prefix), ".tmp-%s-", s->host_id);
	rc = mpc_replica_list(&s->rc, rp->st.remote, deadline, prefix, &rf, &nr, &tmps, &n_tmps,
			      &re);
	if (rc == MPC_ERR_NOMEM)
		return mpc_fail(e, rc, "%s", re.msg);
	if (rc == MPC_ERR_TIMEOUT) {
		double wait = MPC_REPLICA_BACKOFF_BASE;

		for (unsigned k = 0; k < rp->timeouts && wait < MPC_REPLICA_BACKOFF_MAX; k++)
			wait *= 2;
		rp->timeouts++;
		rp->retry_at = mpc_replica_now() +
			       (wait < MPC_REPLICA_BACKOFF_MAX ? wait : MPC_REPLICA_BACKOFF_MAX);
	}
	if (rc != MPC_OK) {
		/* unreachable: behind by what it did not have at its last listing */
		rp->st.reached = 0;
		rp->st.failures_total++;
		snprintf(rp->st.last_error, sizeof(rp->st.last_error), "%s", re.msg);
		for (size_t i = 0; i < nl; i++)
			behind += !is_known(rp, lf[i].name);
		rp->st.files_behind = behind;
		set_behind(rp, behind == 0 && rp->st.files_different == 0);
		rep->failed++;
		return MPC_OK;
	}
	rp->st.reached = 1;
	rp->timeouts = 0;
	rp->retry_at = 0;
	rp->st.last_error[0] = '\0';
	/* temporaries this host left behind (an interrupted upload) */
	for (size_t i = 0; i < n_tmps; i++)
		delete_tmp(s, rp, tmps[i], deadline);
	if (!copy) {
		int need = 0;

		for (size_t i = 0; i < nr; i++)
			need |= rf[i].d.sha256[0] == '\0' && rf[i].d.sha1[0] == '\0' &&
				rf[i].d.md5[0] == '\0';
		if (need &&
		    hash_by_download(&s->rc, rp->st.remote, deadline, rf, nr, &re) != MPC_OK) {
			ok = 0;
			rp->st.failures_total++;
			snprintf(rp->st.last_error, sizeof(rp->st.last_error), "%s", re.msg);
		}
	}
	cur = calloc(nl + nr + 1, sizeof(*cur));
	if (cur == NULL) {
		ret = mpc_fail(e, MPC_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nl; i++) {
		const struct mpc_replica_rfile *match = NULL;

		for (size_t j = 0; j < nr && match == NULL; j++)
			if (strcmp(rf[j].name, lf[i].name) == 0)
				match = &rf[j];
		if (match != NULL) {
			int c = compare(&lf[i], match);

			if (c == 0) {
				different++;
				cur[nc].kind = MPC_REPLICA_DIFFERENT;
				cur[nc].name = lf[i].name;
				snprintf(cur[nc].detail, sizeof(cur[nc].detail),
					 "%s: %llu bytes here, %llu there%s", rp->st.remote,
					 (unsigned long long)lf[i].size,
					 (unsigned long long)match->size,
					 lf[i].size == match->size ? ", other digest" : "");
				nc++;
			}
			unhashed += c < 0;
			continue;
		}
		if (copy && (deadline <= 0 || mpc_replica_now() < deadline)) {
			double t0 = mpc_replica_now();
			int present = 0;

			mpc_err_clear(&re);
			if (upload(s, rp, &lf[i], deadline, &present, &re) == MPC_OK && present) {
				rep->already_present++; /* there by now: compared next pass */
				continue;
			}
			if (re.code == MPC_OK) {
				rp->st.uploads_total++;
				rp->st.last_upload_seconds = mpc_replica_now() - t0;
				rp->st.upload_seconds_total += rp->st.last_upload_seconds;
				rep->uploaded++;
				continue;
			}
			ok = 0;
			rp->st.failures_total++;
			snprintf(rp->st.last_error, sizeof(rp->st.last_error), "%s", re.msg);
		}
		behind++;
		cur[nc].kind = MPC_REPLICA_BEHIND;
		cur[nc].name = lf[i].name;
		snprintf(cur[nc].detail, sizeof(cur[nc].detail), "not on %s", rp->st.remote);
		nc++;
	}
	for (size_t j = 0; j < nr; j++) {
		int here = 0;

		for (size_t i = 0; i < nl && !here; i++)
			here = strcmp(rf[j].name, lf[i].name) == 0;
		if (here)
			continue;
		extra++;
		cur[nc].kind = MPC_REPLICA_EXTRA;
		cur[nc].name = rf[j].name;
		snprintf(cur[nc].detail, sizeof(cur[nc].detail),
			 "on %s only (pruned or quarantined here, or another host's)",
			 rp->st.remote);
		nc++;
	}
	ret = remember(rp, idx, cur, nc, rep, e);
	if (ret != MPC_OK)
		goto out;
	/* what the replica holds now: its listing plus what was copied */
	{
		char(*k)[MPC_STORE_NAME_MAX] = calloc(nr + nl + 1, sizeof(*k));
		size_t nk = 0;

		if (k == NULL) {
			ret = mpc_fail(e, MPC_ERR_NOMEM, "out of memory");
			goto out;
		}
		for (size_t j = 0; j < nr; j++)
			snprintf(k[nk++], sizeof(k[0]), "%s", rf[j].name);
		for (size_t i = 0; i < nl; i++) {
			int listed = 0, missing = 0;

			for (size_t j = 0; j < nr && !listed; j++)
				listed = strcmp(rf[j].name, lf[i].name) == 0;
			for (size_t c = 0; c < nc && !missing; c++)
				missing = cur[c].kind == MPC_REPLICA_BEHIND &&
					  strcmp(cur[c].name, lf[i].name) == 0;
			if (!listed && !missing)
				snprintf(k[nk++], sizeof(k[0]), "%s", lf[i].name);
		}
		free(rp->known);
		rp->known = k;
		rp->n_known = nk;
	}
	rp->st.files_behind = behind;
	rp->st.files_different = different;
	rp->st.files_extra = extra;
	rp->st.files_unhashed = unhashed;
	if (ok && behind == 0)
		rp->st.last_success = (uint64_t)time(NULL);
	if (!ok || behind > 0)
		rep->failed++;
	set_behind(rp, behind == 0 && different == 0);
out:
	free(cur);
	free(rf);
	free(tmps);
	return ret;
}

static int pass(struct mpc_replica_set *s, const struct mpc_store *store, double deadline, int copy,
		struct mpc_replica_report *out, struct mpc_err *e)
{
	struct mpc_replica_report *rep;
	struct lfile *lf = NULL;
	size_t nl = 0;
	double t0 = mpc_replica_now();
	int ret;

	rep = calloc(1, sizeof(*rep));
	if (rep == NULL)
		return mpc_fail(e, MPC_ERR_NOMEM, "out of memory");
	ret = local_files(store, &lf, &nl, e);
	if (ret != MPC_OK) {
		mpc_err_prefix(e, "replicas: reading the local store: ");
		goto out;
	}
	for (size_t i = 0; i < s->n; i++) {
		if ((deadline > 0 && mpc_replica_now() >= deadline) ||
		    (s->rc.cancel != NULL && *s->rc.cancel)) {
			rep->skipped++;
			continue;
		}
		if (s->r[i].retry_at > mpc_replica_now()) {
			struct replica *rp = &s->r[i];
			size_t behind = 0;

			for (size_t k = 0; k < nl; k++)
				behind += !is_known(rp, lf[k].name);
			rp->st.files_behind = behind;
			set_behind(rp, behind == 0 && rp->st.files_different == 0);
			rep->backing_off++;
			continue;
		}
		ret = pass_one(s, i, lf, nl, copy, deadline, rep, e);
		if (ret != MPC_OK)
			goto out;
	}
	rep->n = s->n;
	rep->all_current = rep->skipped == 0 && rep->backing_off == 0;
	for (size_t i = 0; i < s->n; i++) {
		rep->items[i] = s->r[i].st;
		if (!s->r[i].st.reached || s->r[i].st.files_behind || s->r[i].st.files_different)
			rep->all_current = 0;
	}
	rep->seconds = mpc_replica_now() - t0;
	*out = *rep;
out:
	free(lf);
	free(rep);
	return ret;
}

int mpc_replica_sync(struct mpc_replica_set *s, const struct mpc_store *store, double deadline,
		     struct mpc_replica_report *out, struct mpc_err *e)
{
	return pass(s, store, deadline, 1, out, e);
}

int mpc_replica_verify(struct mpc_replica_set *s, const struct mpc_store *store, double deadline,
		       struct mpc_replica_report *out, struct mpc_err *e)
{
	return pass(s, store, deadline, 0, out, e);
}

size_t mpc_replica_overdue(const struct mpc_replica_set *s, double grace)
{
	double now = mpc_replica_now();
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++)
		n += s->r[i].behind_since_mono > 0 && now - s->r[i].behind_since_mono > grace;
	return n;
}

static int jset(json_t *o, const char *k, json_t *v)
{
	return v == NULL ? -1 : json_object_set_new(o, k, v);
}

json_t *mpc_replica_report_json(const struct mpc_replica_report *r, struct mpc_err *e)
{
	json_t *o = json_object(), *reps = json_array(), *fs = json_array();
	int bad = o == NULL || reps == NULL || fs == NULL;

	for (size_t i = 0; !bad && i < r->n; i++) {
		const struct mpc_replica_status *st = &r->items[i];
		json_t *j = json_object();

		bad |= j == NULL;
		if (bad)
			break;
		bad |= jset(j, "remote", json_string(st->remote)) |
		       jset(j, "reached", json_boolean(st->reached)) |
		       jset(j, "last_success", json_integer((json_int_t)st->last_success)) |
		       jset(j, "behind_since", json_integer((json_int_t)st->behind_since)) |
		       jset(j, "files_behind", json_integer((json_int_t)st->files_behind)) |
		       jset(j, "files_different", json_integer((json_int_t)st->files_different)) |
		       jset(j, "files_extra", json_integer((json_int_t)st->files_extra)) |
		       jset(j, "files_unhashed", json_integer((json_int_t)st->files_unhashed)) |
		       jset(j, "uploads_total", json_integer((json_int_t)st->uploads_total)) |
		       jset(j, "failures_total", json_integer((json_int_t)st->failures_total)) |
		       jset(j, "error",
			    st->last_error[0] ? json_string(st->last_error) : json_null());
		bad |= json_array_append_new(reps, j);
	}
	for (size_t i = 0; !bad && i < r->n_findings; i++) {
		const struct mpc_replica_finding *f = &r->findings[i];
		json_t *j = json_object();

		bad |= j == NULL;
		if (bad)
			break;
		bad |= jset(j, "replica", json_string(r->items[f->replica].remote)) |
		       jset(j, "kind", json_string(mpc_replica_finding_name(f->kind))) |
		       jset(j, "name", json_string(f->name)) |
		       jset(j, "detail", json_string(f->detail));
		bad |= json_array_append_new(fs, j);
	}
	if (!bad)
		bad |= jset(o, "replicas", reps) | jset(o, "findings", fs) |
		       jset(o, "uploaded", json_integer((json_int_t)r->uploaded)) |
		       jset(o, "already_present", json_integer((json_int_t)r->already_present)) |
		       jset(o, "failed", json_integer((json_int_t)r->failed)) |
		       jset(o, "skipped", json_integer((json_int_t)r->skipped)) |
		       jset(o, "backing_off", json_integer((json_int_t)r->backing_off)) |
		       jset(o, "all_current", json_boolean(r->all_current)) |
		       jset(o, "seconds", json_real(r->seconds));
	else {
		json_decref(reps);
		json_decref(fs);
	}
	if (bad) {
		json_decref(o);
		mpc_fail(e, MPC_ERR_NOMEM, "building replica JSON failed");
		return NULL;
	}
	return o;
}

int mpc_replica_drill(struct mpc_replica_set *s, const struct mpc_store *store,
		      struct mpc_token *const *tokens, size_t n_tokens,
		      const struct mpc_keyset *contract_ks, double deadline,
		      struct mpc_drill_report *r, struct mpc_err *e)
{
	const struct mpc_replica_drill_bounds b = { MPC_REPLICA_DRILL_FILES_MAX,
						    MPC_REPLICA_DRILL_BYTES_MAX };

	for (size_t i = 0; i < s->n; i++) {
		struct mpc_drill_replica *p = mpc_drill_add_replica(r, s->r[i].st.remote);
		double now = mpc_replica_now();

		if (p == NULL)
			return mpc_fail(e, MPC_ERR_NOMEM, "drill: out of memory");
		if (s->rc.cancel != NULL && *s->rc.cancel)
			snprintf(p->error, sizeof(p->error), "not drilled: stopping");
		else if (deadline > 0 && now >= deadline)
			snprintf(p->error, sizeof(p->error),
				 "not drilled: the drill's time ran out before this replica");
		else if (s->r[i].retry_at > now)
			snprintf(p->error, sizeof(p->error),
				 "not drilled: it timed out recently (retried in %.0f s)",
				 s->r[i].retry_at - now);
		else
			mpc_replica_drill_one(&s->rc, s->r[i].st.remote, store, tokens, n_tokens,
					      contract_ks, deadline, &b, p);
	}
	return MPC_OK;
}
