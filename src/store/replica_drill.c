/* replica_drill.c: restore drills of the copies on a replica: each copy downloaded to a private
 * temporary, opened in the token(s) and compared with the contract like a store file, deleted. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/store/drill.h"
#include "src/store/replica.h"
#include "src/store/replica_int.h"

/* Newest first: store names carry a zero-padded epoch, so the name order is the epoch order. */
static int newest_first(const void *a, const void *b)
{
	return -strcmp(((const struct mpc_replica_rfile *)a)->name,
		       ((const struct mpc_replica_rfile *)b)->name);
}

/* Record a copy refused before the token saw it (download or name check) as a failed item. */
static int add_failed(struct mpc_drill_report *r, const char *name, const char *why)
{
	struct mpc_drill_item *a = realloc(r->items, (r->n + 1) * sizeof(*a));
	uint64_t epoch = 0;
	char dg[MPC_STORE_DIGEST_HEX + 1];

	if (a == NULL)
		return -1;
	r->items = a;
	a = &r->items[r->n++];
	memset(a, 0, sizeof(*a));
	snprintf(a->name, sizeof(a->name), "%s", name);
	if (mpc_store_name_parse(name, &epoch, dg))
		a->epoch = epoch;
	a->verdict = MPC_DRILL_FAILED;
	snprintf(a->msg, sizeof(a->msg), "%s", why);
	r->n_failed++;
	return 0;
}

void mpc_replica_drill_one(const struct mpc_rclone *rc, const char *remote,
			   const struct mpc_store *store, struct mpc_token *const *tokens,
			   size_t n_tokens, const struct mpc_keyset *contract_ks, double deadline,
			   const struct mpc_replica_drill_bounds *b, struct mpc_drill_replica *out)
{
	struct mpc_replica_rfile *rf = NULL;
	struct mpc_store *stage = NULL;
	struct mpc_err e = { 0 };
	struct { /* copies refused before the token */
		char name[MPC_STORE_NAME_MAX];
		char why[MPC_ERR_MSG_MAX];
	} *bad = NULL;
	char staging[PATH_MAX], path[PATH_MAX];
	size_t nr = 0, take = 0, n_bad = 0;
	uint64_t bytes = 0;
	double t0 = mpc_replica_now();
	int staged = 0, ret;

	ret = mpc_replica_list(rc, remote, deadline, NULL, &rf, &nr, NULL, NULL, &e);
	if (ret != MPC_OK) {
		snprintf(out->error, sizeof(out->error), "%s", e.msg);
		goto out;
	}
	out->n_listed = nr;
	qsort(rf, nr, sizeof(*rf), newest_first);
	/* the newest copies within the bounds; a copy over the store's file bound is refused */
	while (take < nr && take < b->files_max &&
	       (rf[take].size > MPC_STORE_FILE_MAX || bytes + rf[take].size <= b->bytes_max)) {
		bytes += rf[take].size <= MPC_STORE_FILE_MAX ? rf[take].size : 0;
		take++;
	}
	out->n_omitted = nr - take;
	bad = calloc(take + 1, sizeof(*bad));
	if (bad == NULL) {
		snprintf(out->error, sizeof(out->error), "out of memory");
		goto out;
	}
	/* a private staging directory in the store's directory (mkdtemp: mode 0700), given to
	 * rclone as ./path when relative so it is never read as an option or a remote */
	if (snprintf(staging, sizeof(staging), "%s%s/.tmp-drill-XXXXXX",
		     store->dir[0] == '/' ? "" : "./", store->dir) >= (int)sizeof(staging) ||
	    mkdtemp(staging) == NULL) {
		snprintf(out->error, sizeof(out->error),
			 "cannot make a staging directory in %.200s: %s", store->dir,
			 strerror(errno));
		goto out;
	}
	staged = 1;
	for (size_t i = 0; i < take; i++) {
		struct mpc_err fe = { 0 };
		int frc;

		if (rf[i].size > MPC_STORE_FILE_MAX) {
			snprintf(bad[n_bad].name, sizeof(bad[n_bad].name), "%s", rf[i].name);
			snprintf(bad[n_bad++].why, sizeof(bad[0].why),
				 "larger than a store file can be (%llu bytes)",
				 (unsigned long long)rf[i].size);
			continue;
		}
		frc = mpc_replica_download(rc, remote, rf[i].name, staging, deadline, &fe);
		if (frc != MPC_OK && frc != MPC_ERR_TOO_LARGE && frc != MPC_ERR_NOT_FOUND) {
			/* the replica or the drill's time failed, not the copy: not reached */
			snprintf(out->error, sizeof(out->error), "%s", fe.msg);
			goto out;
		}
		if (frc == MPC_OK) {
			struct stat st;

			/* the bytes bound counted listed sizes: a copy that is not its listed
			 * size is refused, so the staging directory never holds more */
			if (snprintf(path, sizeof(path), "%s/%s", staging, rf[i].name) >=
				    (int)sizeof(path) ||
			    lstat(path, &st) != 0)
				mpc_fail(&fe, MPC_ERR_IO, "the downloaded copy is not in %.200s",
					 staging);
			else if ((uint64_t)st.st_size != rf[i].size)
				mpc_fail(&fe, MPC_ERR_INVALID,
					 "the replica listed %llu bytes and sent %llu",
					 (unsigned long long)rf[i].size,
					 (unsigned long long)st.st_size);
			else if (mpc_replica_check_file(path, rf[i].name, &fe) == MPC_OK)
				continue;
			unlink(path);
		}
		snprintf(bad[n_bad].name, sizeof(bad[n_bad].name), "%s", rf[i].name);
		snprintf(bad[n_bad++].why, sizeof(bad[0].why), "%s", fe.msg);
	}
	ret = mpc_store_open(staging, 0, &stage, &e);
	if (ret == MPC_OK)
		ret = mpc_drill_run(stage, tokens, n_tokens, contract_ks, &out->r, &e);
	if (ret != MPC_OK) {
		snprintf(out->error, sizeof(out->error), "%s", e.msg);
		goto out;
	}
	for (size_t i = 0; i < n_bad; i++)
		if (add_failed(&out->r, bad[i].name, bad[i].why) != 0) {
			snprintf(out->error, sizeof(out->error), "out of memory");
			goto out;
		}
	out->r.seconds = mpc_replica_now() - t0;
	out->reached = 1;
out:
	mpc_store_close(stage);
	if (staged)
		mpc_replica_remove_staging(staging);
	if (!out->reached) {
		mpc_drill_report_free(&out->r);
		if (out->error[0] == '\0')
			snprintf(out->error, sizeof(out->error), "not drilled");
	}
	free(bad);
	free(rf);
}
