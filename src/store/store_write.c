/* store_write.c: adding a sealed keyset file, pruning, quarantine and cleanup (under the lock). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pkcs11/keys.h"
#include "src/store/fsio.h"
#include "src/store/keyshares.h"
#include "src/store/store.h"
#include "src/store/store_int.h"
#include "src/util/clock.h"
#include "src/util/file.h"

/* Remove DIR/.tmp-* and main-directory copies of files already in quarantine/. Lock held. */
static int cleanup_locked(const struct mpc_store *s, size_t *removed, struct mpc_err *e)
{
	char qpath[PATH_MAX], path[PATH_MAX];
	struct dirent *d;
	size_t n = 0;
	DIR *dh = opendir(s->dir);

	if (dh == NULL)
		return mpc_fail(e, MPC_ERR_IO, "cannot read store directory %s: %s", s->dir,
				strerror(errno));
	while ((d = readdir(dh)) != NULL) {
		int rm = mpc_store_name_is_temp(d->d_name);
		struct stat qs, ms;

		if (snprintf(path, sizeof(path), "%s/%s", s->dir, d->d_name) >= (int)sizeof(path))
			continue;
		/* An interrupted quarantine leaves the same file (same inode) in both places: finish
		 * it. A different file of the same name is never removed. */
		if (!rm && strncmp(d->d_name, "keyset-", 7) == 0 &&
		    snprintf(qpath, sizeof(qpath), "%s/quarantine/%s", s->dir, d->d_name) <
			    (int)sizeof(qpath) &&
		    lstat(qpath, &qs) == 0 && lstat(path, &ms) == 0 && qs.st_ino == ms.st_ino &&
		    qs.st_dev == ms.st_dev)
			rm = 1;
		if (!rm)
			continue;
		if (unlink(path) == 0)
			n++;
	}
	closedir(dh);
	if (removed != NULL)
		*removed = n;
	return n > 0 ? mpc_dir_sync(s->dir, e) : MPC_OK;
}

int mpc_store_cleanup(const struct mpc_store *s, size_t *removed, struct mpc_err *e)
{
	int fd, rc;

	if (removed != NULL)
		*removed = 0;
	if ((rc = mpc_store_lock(s->dir, &fd, e)) != MPC_OK)
		return rc;
	rc = cleanup_locked(s, removed, e);
	mpc_store_unlock(fd);
	return rc;
}

static void fill_token_id(struct mpc_store_token_id *id, struct mpc_token *t,
			  enum mpc_seal_mech mech)
{
	const struct mpc_key_desc *kd =
		mpc_key_desc(mech == MPC_SEAL_AES_GCM ? MPC_KEY_SEAL_GCM : MPC_KEY_SEAL_CBC);
	struct mpc_token_desc td;

	mpc_token_describe(t, &td);
	memset(id, 0, sizeof(*id));
	id->mech = mech;
	snprintf(id->serial, sizeof(id->serial), "%s", td.serial);
	snprintf(id->label, sizeof(id->label), "%s", td.label);
	if (kd != NULL) {
		snprintf(id->key_label, sizeof(id->key_label), "%s", kd->label);
		id->key_id[0] = kd->id;
		id->key_id_len = 1;
	}
}

/* Refuse a downgrade (older epoch than the newest) and an already covered keyset. */
static int check_rules(const struct mpc_store *s, const struct mpc_keyset *ks, struct mpc_err *e)
{
	struct mpc_store_list l;
	long nw;
	int rc = mpc_store_list(s, &l, e);

	if (rc != MPC_OK)
		return rc;
	if ((rc = mpc_store_list_refuse_untrusted(&l, e)) != MPC_OK)
		goto out;
	nw = mpc_store_list_newest(&l);
	if (nw >= 0 && l.items[nw].hdr.epoch > ks->epoch_id) {
		rc = mpc_fail(
			e, MPC_ERR_STATE,
			"refusing to store keyset of epoch %llu: the store already holds epoch "
			"%llu (%s); older epochs are never stored (quarantine the newer file if "
			"it is wrong)",
			(unsigned long long)ks->epoch_id, (unsigned long long)l.items[nw].hdr.epoch,
			l.items[nw].name);
		goto out;
	}
	for (size_t i = 0; i < l.n; i++) {
		const struct mpc_store_entry *en = &l.items[i];

		if (!en->quarantined && en->header_ok && mpc_store_header_covers(&en->hdr, ks)) {
			rc = mpc_fail(e, MPC_ERR_EXISTS,
				      "keyset of epoch %llu is already backed up in %s",
				      (unsigned long long)ks->epoch_id, en->name);
			goto out;
		}
	}
	rc = MPC_OK;
out:
	mpc_store_list_free(&l);
	return rc;
}

/* 1 if `name` exists in the store directory or in its quarantine. */
static int name_taken(const struct mpc_store *s, const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	if (snprintf(path, sizeof(path), "%s/%s", s->dir, name) < (int)sizeof(path) &&
	    lstat(path, &st) == 0)
		return 1;
	return snprintf(path, sizeof(path), "%s/quarantine/%s", s->dir, name) < (int)sizeof(path) &&
	       lstat(path, &st) == 0;
}

int mpc_store_put(const struct mpc_store *s, const struct mpc_store_put_opts *o,
		  const struct mpc_keyset *ks, const uint8_t *keyshares, size_t len,
		  char name_out[MPC_STORE_NAME_MAX], struct mpc_err *e)
{
	struct mpc_store_header h;
	uint8_t *hdr = NULL, *file = NULL, *blobs[MPC_STORE_MAX_TOKENS] = { 0 };
	size_t hdr_len = 0, file_len = 0, blob_lens[MPC_STORE_MAX_TOKENS] = { 0 };
	char name[MPC_STORE_NAME_MAX];
	double t0, token_s = 0, disk_s = 0;
	int lock = -1, rc;

	memset(&h, 0, sizeof(h));
	if (name_out != NULL)
		name_out[0] = '\0';
	if (o == NULL || o->n_tokens < 1 || o->n_tokens > MPC_STORE_MAX_TOKENS)
		return mpc_fail(e, MPC_ERR_USAGE, "store: 1 to %d sealing tokens are needed",
				MPC_STORE_MAX_TOKENS);
	rc = mpc_keyshares_validate(keyshares, len, ks, e);
	if (rc != MPC_OK) {
		mpc_err_prefix(e,
			       rc == MPC_ERR_NOMEM ? "checking the keyshares for epoch %llu: "
						   : "keyshares for epoch %llu refused: ",
			       (unsigned long long)ks->epoch_id);
		return rc;
	}
	h.version = MPC_STORE_VERSION;
	h.epoch = ks->epoch_id;
	h.created = o->created ? o->created : (uint64_t)time(NULL);
	snprintf(h.contract, sizeof(h.contract), "%s", o->contract ? o->contract : "");
	snprintf(h.operator_, sizeof(h.operator_), "%s", o->operator_ ? o->operator_ : "");
	if ((o->contract && strlen(o->contract) > MPC_STORE_ACCOUNT_MAX) ||
	    (o->operator_ && strlen(o->operator_) > MPC_STORE_ACCOUNT_MAX))
		return mpc_fail(e, MPC_ERR_USAGE, "account ids are at most %d characters",
				MPC_STORE_ACCOUNT_MAX);
	h.n_tokens = o->n_tokens;
	for (size_t i = 0; i < o->n_tokens; i++) {
		enum mpc_seal_mech m;

		if ((rc = mpc_seal_pick_for(o->tokens[i], o->mech, len, &m, e)) != MPC_OK)
			return rc;
		fill_token_id(&h.tokens[i], o->tokens[i], m);
		for (size_t j = 0; j < i; j++)
			if (strcmp(h.tokens[j].serial, h.tokens[i].serial) == 0 &&
			    strcmp(h.tokens[j].label, h.tokens[i].label) == 0)
				return mpc_fail(e, MPC_ERR_USAGE,
						"token %s (serial %s) given twice",
						h.tokens[i].label, h.tokens[i].serial);
	}
	if ((rc = mpc_store_lock(s->dir, &lock, e)) != MPC_OK)
		goto out;
	if ((rc = cleanup_locked(s, NULL, e)) != MPC_OK)
		goto out;
	if ((rc = check_rules(s, ks, e)) != MPC_OK)
		goto out;
	/* The name is a digest of the header; a header equal to an existing file's (same keyset
	 * and tokens in the same second, e.g. right after quarantining it) would give the same
	 * name: move the creation time on until the name is new here and in quarantine/. */
	for (int tries = 0;; tries++) {
		/* the header copies the keyset's public data: borrow the domains array */
		h.keyset = *ks;
		rc = mpc_store_header_encode(&h, &hdr, &hdr_len, e);
		h.keyset.domains = NULL;
		if (rc != MPC_OK)
			goto out;
		if ((rc = mpc_store_file_name(hdr, hdr_len, h.epoch, name, e)) != MPC_OK)
			goto out;
		if (!name_taken(s, name))
			break;
		if (tries == 1000) {
			rc = mpc_fail(e, MPC_ERR_EXISTS,
				      "store: cannot find a new file name for epoch %llu",
				      (unsigned long long)h.epoch);
			goto out;
		}
		free(hdr);
		hdr = NULL;
		h.created++;
	}
	t0 = mpc_now_monotonic();
	for (size_t i = 0; i < o->n_tokens; i++) {
		rc = mpc_seal(o->tokens[i], h.tokens[i].mech, hdr, hdr_len, keyshares, len,
			      &blobs[i], &blob_lens[i], e);
		if (rc != MPC_OK) {
			mpc_err_prefix(e, "sealing to token %s (serial %s): ", h.tokens[i].label,
				       h.tokens[i].serial);
			goto out;
		}
	}
	token_s = mpc_now_monotonic() - t0;
	rc = mpc_store_file_build(hdr, hdr_len, (const uint8_t *const *)blobs, blob_lens,
				  o->n_tokens, &file, &file_len, e);
	if (rc != MPC_OK)
		goto out;
	t0 = mpc_now_monotonic();
	rc = mpc_store_write_new(s->dir, name, file, file_len, e);
	disk_s = mpc_now_monotonic() - t0;
	if (rc != MPC_OK) {
		mpc_err_prefix(e, "storing keyset of epoch %llu: ", (unsigned long long)h.epoch);
		goto out;
	}
	if (name_out != NULL)
		snprintf(name_out, MPC_STORE_NAME_MAX, "%s", name);
	if (o->stats != NULL) {
		o->stats->token_seconds = token_s;
		o->stats->disk_seconds = disk_s;
	}
out:
	mpc_store_unlock(lock);
	for (size_t i = 0; i < MPC_STORE_MAX_TOKENS; i++)
		free(blobs[i]);
	free(file);
	free(hdr);
	return rc;
}

int mpc_store_prune(const struct mpc_store *s, size_t keep, size_t *removed, struct mpc_err *e)
{
	struct mpc_store_list l = { 0 };
	char path[PATH_MAX];
	size_t kept = 0, n = 0;
	int lock = -1, rc;

	if (removed != NULL)
		*removed = 0;
	if (keep < 1)
		return mpc_fail(e, MPC_ERR_USAGE, "prune must keep at least the newest file");
	if ((rc = mpc_store_lock(s->dir, &lock, e)) != MPC_OK)
		return rc;
	if ((rc = mpc_store_list(s, &l, e)) != MPC_OK)
		goto out;
	/* a planted newer file would make prune remove real backups */
	if ((rc = mpc_store_list_refuse_untrusted(&l, e)) != MPC_OK)
		goto out;
	/* newest first; the list is sorted oldest first */
	for (size_t i = l.n; i-- > 0;) {
		const struct mpc_store_entry *en = &l.items[i];

		if (en->quarantined || !en->header_ok)
			continue;
		if (kept < keep || en->newest) {
			kept++;
			continue;
		}
		if ((rc = mpc_store_entry_path(s, en, path, e)) != MPC_OK)
			goto out;
		if (unlink(path) != 0) {
			rc = mpc_fail(e, MPC_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
			goto out;
		}
		n++;
		mpc_store_hook_crash("pruned");
	}
	rc = n > 0 ? mpc_dir_sync(s->dir, e) : MPC_OK;
out:
	if (removed != NULL)
		*removed = n;
	mpc_store_list_free(&l);
	mpc_store_unlock(lock);
	return rc;
}

int mpc_store_quarantine(const struct mpc_store *s, uint64_t epoch, size_t *moved,
			 struct mpc_err *e)
{
	struct mpc_store_list l = { 0 };
	size_t n = 0;
	int lock = -1, rc;

	if (moved != NULL)
		*moved = 0;
	if ((rc = mpc_store_lock(s->dir, &lock, e)) != MPC_OK)
		return rc;
	if ((rc = mpc_store_list(s, &l, e)) != MPC_OK)
		goto out;
	for (size_t i = 0; i < l.n; i++) {
		const struct mpc_store_entry *en = &l.items[i];
		char digest[MPC_STORE_DIGEST_HEX + 1];
		uint64_t ep = 0;

		/* by the name's epoch, so damaged files can be quarantined too */
		if (en->quarantined || !mpc_store_name_parse(en->name, &ep, digest) || ep != epoch)
			continue;
		if ((rc = mpc_store_move_to_quarantine(s->dir, en->name, e)) != MPC_OK)
			goto out;
		n++;
	}
	if (n == 0)
		rc = mpc_fail(e, MPC_ERR_NOT_FOUND, "no stored file of epoch %llu to quarantine",
			      (unsigned long long)epoch);
out:
	if (moved != NULL)
		*moved = n;
	mpc_store_list_free(&l);
	mpc_store_unlock(lock);
	return rc;
}
