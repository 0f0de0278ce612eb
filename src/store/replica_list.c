/* replica_list.c: what every replica operation builds on: a remote's name checked, a file's
 * path on it, and its listing (`rclone lsjson`). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "src/store/replica.h"
#include "src/store/replica_int.h"
#include "src/store/store_int.h"

int mpc_replica_check_remote(const char *remote, struct mpc_err *e)
{
	const char *colon;
	size_t len;

	if (remote == NULL || remote[0] == '\0')
		return mpc_fail(e, MPC_ERR_USAGE, "replica: empty remote (want remote:path)");
	len = strlen(remote);
	if (len >= MPC_REPLICA_REMOTE_MAX)
		return mpc_fail(e, MPC_ERR_USAGE, "replica: remote longer than %d bytes",
				MPC_REPLICA_REMOTE_MAX - 1);
	for (size_t i = 0; i < len; i++)
		if (remote[i] < 0x21 || remote[i] > 0x7e)
			return mpc_fail(e, MPC_ERR_USAGE,
					"replica: remote has a space or non-printable byte at %zu",
					i);
	colon = strchr(remote, ':');
	if (remote[0] == '-' || colon == NULL || colon == remote)
		return mpc_fail(e, MPC_ERR_USAGE,
				"replica: want remote:path with a remote named in the rclone "
				"configuration (a local directory is refused)");
	/* Only a name the rclone configuration defines: rclone's inline form
	 * (`s3,secret_access_key=...:bucket`) would put credentials on argv, in messages and in
	 * metrics, and would override the checked configuration file. */
	for (const char *p = remote; p < colon; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.'))
			return mpc_fail(
				e, MPC_ERR_USAGE,
				"replica: the remote name before ':' may hold only letters, "
				"digits, '_', '-' and '.' (a remote of the rclone "
				"configuration; inline options are refused)");
	if (strstr(colon, "..") != NULL)
		return mpc_fail(e, MPC_ERR_USAGE, "replica: path has \"..\"");
	return MPC_OK;
}

/* remote:path + "/" + name */
int mpc_replica_join(const char *remote, const char *name, char *out, size_t cap, struct mpc_err *e)
{
	size_t len = strlen(remote);
	int sep = len > 0 && remote[len - 1] != ':' && remote[len - 1] != '/';
	int n = snprintf(out, cap, "%s%s%s", remote, sep ? "/" : "", name);

	if (n < 0 || (size_t)n >= cap)
		return mpc_fail(e, MPC_ERR_USAGE, "replica path too long");
	return MPC_OK;
}

static void copy_hash(json_t *hashes, const char *key, char *dst, size_t want_len)
{
	const char *v = json_string_value(json_object_get(hashes, key));

	if (v != NULL && strlen(v) == want_len) {
		for (size_t i = 0; i < want_len; i++) {
			char c = v[i];

			dst[i] = (char)((c >= 'A' && c <= 'F') ? c - 'A' + 'a' : c);
		}
		dst[want_len] = '\0';
	}
}

/* `rclone lsjson --hash REMOTE`: the store files on it, and the names of this host's stale
 * temporaries (if tmp_prefix). *found = 0 if the directory does not exist (an empty replica). */
int mpc_replica_list(const struct mpc_rclone *rc, const char *remote, double deadline,
		     const char *tmp_prefix, struct mpc_replica_rfile **out, size_t *n_out,
		     char (**tmps)[MPC_STORE_NAME_MAX + 64], size_t *n_tmps, struct mpc_err *e)
{
	const char *args[] = { "lsjson",      "--hash", "--files-only", "--no-mimetype",
			       "--max-depth", "1",      remote,         NULL };
	struct mpc_rclone_out r;
	json_error_t je;
	json_t *arr = NULL;
	struct mpc_replica_rfile *f = NULL;
	char(*t)[MPC_STORE_NAME_MAX + 64] = NULL;
	size_t n = 0, nt = 0;
	int ret;

	ret = mpc_rclone_run(rc, deadline, args, MPC_RCLONE_LIST_MAX, &r, e);
	if (ret != MPC_OK)
		return mpc_err_prefix(e, "listing %s: ", remote);
	if (r.status == 3) { /* directory not found: nothing there yet */
		*out = calloc(1, sizeof(**out));
		if (tmps != NULL)
			*tmps = NULL;
		mpc_rclone_out_free(&r);
		if (*out == NULL)
			return mpc_fail(e, MPC_ERR_NOMEM, "out of memory");
		*n_out = 0;
		if (n_tmps != NULL)
			*n_tmps = 0;
		return MPC_OK;
	}
	if (r.status != 0) {
		ret = mpc_rclone_fail(&r, "listing replica", e);
		goto out;
	}
	arr = json_loadb(r.out, r.out_len, JSON_REJECT_DUPLICATES, &je);
	if (arr == NULL || !json_is_array(arr)) {
		ret = mpc_fail(e, MPC_ERR_PARSE, "listing %s: rclone printed no JSON array",
			       remote);
		goto out;
	}
	f = calloc(json_array_size(arr) + 1, sizeof(*f));
	t = calloc(json_array_size(arr) + 1, sizeof(*t));
	if (f == NULL || t == NULL) {
		ret = mpc_fail(e, MPC_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < json_array_size(arr); i++) {
		json_t *o = json_array_get(arr, i), *sz = json_object_get(o, "Size");
		const char *name = json_string_value(json_object_get(o, "Name"));
		json_t *hashes = json_object_get(o, "Hashes");
		uint64_t ep;
		char dg[MPC_STORE_DIGEST_HEX + 1];

		if (name == NULL || json_is_true(json_object_get(o, "IsDir")))
			continue;
		/* this host's temporary: its prefix then a store name (".tmp-a-" is not a prefix
		 * of host a-b's ".tmp-a-b-keyset-...": the rest would not be a store name) */
		if (tmp_prefix != NULL && strncmp(name, tmp_prefix, strlen(tmp_prefix)) == 0 &&
		    strlen(name) < sizeof(t[0]) &&
		    mpc_store_name_parse(name + strlen(tmp_prefix), &ep, dg)) {
			snprintf(t[nt++], sizeof(t[0]), "%s", name);
			continue;
		}
		if (!mpc_store_name_parse(name, &ep, dg) || !json_is_integer(sz) ||
		    json_integer_value(sz) < 0)
			continue;
		snprintf(f[n].name, sizeof(f[n].name), "%s", name);
		f[n].size = (uint64_t)json_integer_value(sz);
		if (json_is_object(hashes)) {
			copy_hash(hashes, "sha256", f[n].d.sha256, 64);
			copy_hash(hashes, "sha1", f[n].d.sha1, 40);
			copy_hash(hashes, "md5", f[n].d.md5, 32);
		}
		n++;
	}
	*out = f;
	*n_out = n;
	f = NULL;
	if (tmps != NULL) {
		*tmps = t;
		*n_tmps = nt;
		t = NULL;
	}
out:
	free(f);
	free(t);
	json_decref(arr);
	mpc_rclone_out_free(&r);
	return ret;
}
