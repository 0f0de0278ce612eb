/* import_backupcli.c: reader of backup-cli's secrets.json and of permanent_keys/ files. */
#include "src/store/import_backupcli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include "src/store/keyshares.h"
#include "src/util/encoding.h"
#include "src/util/file.h"
#include "src/util/mem.h"

#define GCM_NONCE 12
#define GCM_TAG   16

/* Open `name` inside the directory `dirfd` (display path `shown`) without following a symlink,
 * check type, owner and mode, and read at most `max` bytes into secure memory. */
static int read_at(int dirfd, const char *name, const char *shown, size_t max, unsigned forbidden,
		   uint8_t **out, size_t *len, struct mpc_err *e)
{
	struct stat st;
	int fd = -1, rc;

	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			rc = mpc_fail(e, MPC_ERR_NOT_FOUND, "%s: no such file", shown);
		else if (errno == ELOOP)
			rc = mpc_fail(e, MPC_ERR_STATE,
				      "%s is a symbolic link: refused (give the "
				      "real file)",
				      shown);
		else
			rc = mpc_fail(e, MPC_ERR_IO, "%s: %s", shown, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		rc = mpc_fail(e, MPC_ERR_IO, "%s: %s", shown, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = mpc_fail(e, MPC_ERR_STATE, "%s is not a regular file", shown);
		goto out;
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		rc = mpc_fail(e, MPC_ERR_STATE,
			      "%s is owned by uid %lu, not by this user (uid %lu) "
			      "or root: refused",
			      shown, (unsigned long)st.st_uid, (unsigned long)geteuid());
		goto out;
	}
	if ((st.st_mode & forbidden) != 0) {
		rc = mpc_fail(e, MPC_ERR_STATE,
			      "%s has mode %04o: others may %s it; run chmod o-rwx "
			      "on it first",
			      shown, (unsigned)(st.st_mode & 07777),
			      (forbidden & 0004) ? "access" : "write");
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		rc = mpc_fail(e, MPC_ERR_TOO_LARGE, "%s is %llu bytes, over the %zu accepted",
			      shown, (unsigned long long)st.st_size, max);
		goto out;
	}
	rc = mpc_fd_read_all(fd, max, 1, shown, out, len, e);
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

static int open_dir(const char *dir, int *fd_out, struct mpc_err *e)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0) {
		if (errno == ENOENT)
			return mpc_fail(e, MPC_ERR_NOT_FOUND, "%s: no such directory", dir);
		if (errno == ELOOP || errno == ENOTDIR)
			return mpc_fail(e, MPC_ERR_STATE,
					"%s is not a directory (symbolic links are "
					"refused)",
					dir);
		return mpc_fail(e, MPC_ERR_IO, "%s: %s", dir, strerror(errno));
	}
	*fd_out = fd;
	return MPC_OK;
}

/* A JSON array of exactly n integers 0..255 (serde's encoding of [u8; n] and of a
 * SigningKey's bytes). */
static int byte_array(const json_t *root, const char *field, uint8_t *out, size_t n,
		      const char *shown, struct mpc_err *e)
{
	const json_t *a = json_object_get(root, field);

	if (a == NULL)
		return mpc_fail(e, MPC_ERR_PARSE, "%s: field \"%s\" is missing", shown, field);
	if (!json_is_array(a) || json_array_size(a) != n)
		return mpc_fail(e, MPC_ERR_PARSE, "%s: \"%s\" is not an array of %zu bytes", shown,
				field, n);
	for (size_t i = 0; i < n; i++) {
		const json_t *v = json_array_get(a, i);

		if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 255)
			return mpc_fail(e, MPC_ERR_PARSE, "%s: \"%s\"[%zu] is not a byte", shown,
					field, i);
		out[i] = (uint8_t)json_integer_value(v);
	}
	return MPC_OK;
}

int mpc_bcli_read_secrets(const char *home, struct mpc_bcli_secrets **out, struct mpc_err *e)
{
	char shown[4200];
	struct mpc_bcli_secrets *s = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	json_t *root = NULL;
	json_error_t je;
	int dfd = -1, rc;

	snprintf(shown, sizeof(shown), "%s/secrets.json", home);
	rc = open_dir(home, &dfd, e);
	if (rc != MPC_OK)
		goto out;
	rc = read_at(dfd, "secrets.json", shown, MPC_BCLI_SECRETS_MAX, 0007, &buf, &len, e);
	if (rc != MPC_OK)
		goto out;
	root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL || !json_is_object(root)) {
		/* jansson's text can quote the input: only the position is reported */
		rc = mpc_fail(e, MPC_ERR_PARSE, "%s is not a JSON object (line %d, column %d)",
			      shown, root == NULL ? je.line : 1, root == NULL ? je.column : 1);
		goto out;
	}
	s = mpc_secure_alloc(sizeof(*s), e);
	if (s == NULL) {
		rc = MPC_ERR_NOMEM;
		goto out;
	}
	rc = byte_array(root, "p2p_private_key", s->p2p_private_key, 32, shown, e);
	if (rc == MPC_OK)
		rc = byte_array(root, "near_signer_key", s->near_signer_key, 32, shown, e);
	if (rc == MPC_OK)
		rc = byte_array(root, "local_storage_aes_key", s->local_storage_aes_key, 16, shown,
				e);
	if (rc != MPC_OK)
		goto out;
	*out = s;
	s = NULL;
out:
	json_decref(root);
	mpc_secure_free(buf);
	mpc_secure_free(s);
	if (dfd >= 0)
		close(dfd);
	return rc;
}

void mpc_bcli_secrets_free(struct mpc_bcli_secrets *s)
{
	mpc_secure_free(s);
}

int mpc_bcli_read_local_key(const char *path, uint8_t **key, struct mpc_err *e)
{
	char dir[4096];
	struct mpc_err scratch = { 0 };
	const char *slash = strrchr(path, '/'), *base;
	uint8_t *buf = NULL, *k = NULL;
	size_t len = 0, n = 0;
	int dfd = -1, rc;

	if (slash == NULL) {
		snprintf(dir, sizeof(dir), ".");
		base = path;
	} else {
		if ((size_t)(slash - path) >= sizeof(dir))
			return mpc_fail(e, MPC_ERR_USAGE,
					"the key file's directory is over %zu bytes",
					sizeof(dir) - 1);
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
		base = slash + 1;
	}
	rc = open_dir(dir, &dfd, e);
	if (rc != MPC_OK)
		goto out;
	rc = read_at(dfd, base, path, 256, 0007, &buf, &len, e);
	if (rc != MPC_OK)
		goto out;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	k = mpc_secure_alloc(16, e);
	if (k == NULL) {
		rc = MPC_ERR_NOMEM;
		goto out;
	}
	if (len != 32 ||
	    mpc_hex_decode((const char *)buf, len, k, 16, &n, "local key", &scratch) != MPC_OK ||
	    n != 16) {
		rc = mpc_fail(e, MPC_ERR_PARSE, "%s does not hold a 16-byte key as 32 hex digits",
			      path);
		goto out;
	}
	*key = k;
	k = NULL;
out:
	mpc_secure_free(buf);
	mpc_secure_free(k);
	if (dfd >= 0)
		close(dfd);
	return rc;
}

/* Canonical decimal u64 of s[0..n): no sign, no leading zero, no overflow. */
static int dec_u64(const char *s, size_t n, uint64_t *v)
{
	uint64_t x = 0;

	if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (x > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	*v = x;
	return 0;
}

/* "epoch_<E>_with_<N>_domains" */
static int parse_name(const char *name, uint64_t *epoch, uint64_t *n)
{
	const char *p, *w;
	size_t len = strlen(name);

	if (len >= MPC_BCLI_NAME_MAX || strncmp(name, "epoch_", 6) != 0 || len < 20 ||
	    strcmp(name + len - 8, "_domains") != 0)
		return -1;
	p = name + 6;
	w = strstr(p, "_with_");
	if (w == NULL)
		return -1;
	if (dec_u64(p, (size_t)(w - p), epoch) != 0)
		return -1;
	p = w + 6;
	if (p > name + len - 8 || dec_u64(p, (size_t)(name + len - 8 - p), n) != 0)
		return -1;
	return 0;
}

static int file_cmp(const void *a, const void *b)
{
	const struct mpc_bcli_file *x = a, *y = b;

	if (x->epoch != y->epoch)
		return x->epoch < y->epoch ? -1 : 1;
	if (x->n_domains != y->n_domains)
		return x->n_domains < y->n_domains ? -1 : 1;
	return strcmp(x->name, y->name);
}

int mpc_bcli_list(const char *keys_dir, const char *key_link, struct mpc_bcli_listing *out,
		  struct mpc_err *e)
{
	struct mpc_bcli_listing l = { 0 };
	struct stat link_st;
	int have_link = 0, dfd = -1, dfd2 = -1, rc;
	DIR *d = NULL;
	struct dirent *de;

	memset(out, 0, sizeof(*out));
	if (key_link != NULL && lstat(key_link, &link_st) == 0 && S_ISREG(link_st.st_mode))
		have_link = 1;
	rc = open_dir(keys_dir, &dfd, e);
	if (rc != MPC_OK)
		goto out;
	dfd2 = dup(dfd);
	if (dfd2 < 0 || (d = fdopendir(dfd2)) == NULL) {
		rc = mpc_fail(e, MPC_ERR_IO, "%s: %s", keys_dir, strerror(errno));
		if (dfd2 >= 0)
			close(dfd2);
		goto out;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		struct mpc_bcli_file f;
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		memset(&f, 0, sizeof(f));
		if (parse_name(de->d_name, &f.epoch, &f.n_domains) != 0) {
			l.n_ignored++;
			continue;
		}
		if (l.n >= MPC_BCLI_MAX_FILES) {
			rc = mpc_fail(e, MPC_ERR_TOO_LARGE, "%s holds more than %d keyshare files",
				      keys_dir, MPC_BCLI_MAX_FILES);
			goto out;
		}
		snprintf(f.name, sizeof(f.name), "%s", de->d_name);
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			f.size = (uint64_t)st.st_size;
			f.current = have_link && S_ISREG(st.st_mode) &&
				    st.st_ino == link_st.st_ino && st.st_dev == link_st.st_dev;
		}
		if ((l.n & (l.n + 1)) == 0 || l.items == NULL) {
			struct mpc_bcli_file *ni = realloc(l.items, (l.n * 2 + 2) * sizeof(*ni));

			if (ni == NULL) {
				rc = mpc_fail(e, MPC_ERR_NOMEM, "listing %s: out of memory",
					      keys_dir);
				goto out;
			}
			l.items = ni;
		}
		l.items[l.n++] = f;
	}
	if (errno != 0) {
		rc = mpc_fail(e, MPC_ERR_IO, "reading %s: %s", keys_dir, strerror(errno));
		goto out;
	}
	if (l.n > 0)
		qsort(l.items, l.n, sizeof(*l.items), file_cmp);
	l.has_key_link = have_link;
	*out = l;
	memset(&l, 0, sizeof(l));
out:
	if (d != NULL)
		closedir(d);
	if (dfd >= 0)
		close(dfd);
	mpc_bcli_listing_free(&l);
	return rc;
}

void mpc_bcli_listing_free(struct mpc_bcli_listing *l)
{
	if (l == NULL)
		return;
	free(l->items);
	memset(l, 0, sizeof(*l));
}

/* AES-128-GCM open of nonce(12) || ct || tag(16), no associated data, into secure memory. */
static int gcm_open(const uint8_t *in, size_t n, const uint8_t key[16], const char *shown,
		    uint8_t **out, size_t *out_len, struct mpc_err *e)
{
	EVP_CIPHER_CTX *c = NULL;
	uint8_t *pt = NULL;
	size_t ct_len;
	int l1 = 0, l2 = 0, rc;

	if (n < GCM_NONCE + GCM_TAG) {
		rc = mpc_fail(e, MPC_ERR_PARSE,
			      "%s is %zu bytes: too short for nonce and tag "
			      "(truncated?)",
			      shown, n);
		goto out;
	}
	ct_len = n - GCM_NONCE - GCM_TAG;
	if (ct_len > (size_t)1 << 30) {
		rc = mpc_fail(e, MPC_ERR_TOO_LARGE, "%s is too large", shown);
		goto out;
	}
	pt = mpc_secure_alloc(ct_len + 1, e);
	if (pt == NULL) {
		rc = MPC_ERR_NOMEM;
		goto out;
	}
	c = EVP_CIPHER_CTX_new();
	if (c == NULL || EVP_DecryptInit_ex(c, EVP_aes_128_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, GCM_NONCE, NULL) != 1 ||
	    EVP_DecryptInit_ex(c, NULL, NULL, key, in) != 1 ||
	    EVP_DecryptUpdate(c, pt, &l1, in + GCM_NONCE, (int)ct_len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, GCM_TAG,
				(void *)(in + GCM_NONCE + ct_len)) != 1) {
		rc = mpc_fail(e, MPC_ERR_INTERNAL, "%s: AES-128-GCM could not be set up", shown);
		goto out;
	}
	if (EVP_DecryptFinal_ex(c, pt + l1, &l2) != 1) {
		rc = mpc_fail(e, MPC_ERR_AUTH,
			      "%s does not decrypt: the AES-GCM tag does not verify "
			      "(wrong local key, or the file is damaged or truncated)",
			      shown);
		goto out;
	}
	*out = pt;
	*out_len = (size_t)l1 + (size_t)l2;
	pt = NULL;
	rc = MPC_OK;
out:
	EVP_CIPHER_CTX_free(c);
	mpc_secure_free(pt);
	return rc;
}

/* x||y of a 33-byte SEC1 compressed secp256k1 point (the contract's encoding). */
static int secp_decompress(const uint8_t in[33], uint8_t xy[64], struct mpc_err *e)
{
	EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_secp256k1);
	EC_POINT *p = g != NULL ? EC_POINT_new(g) : NULL;
	uint8_t buf[65];
	int rc = MPC_OK;

	if (p == NULL || EC_POINT_oct2point(g, p, in, 33, NULL) != 1 ||
	    EC_POINT_point2oct(g, p, POINT_CONVERSION_UNCOMPRESSED, buf, sizeof(buf), NULL) != 65)
		rc = mpc_fail(e, MPC_ERR_INVALID,
			      "a secp256k1 public key is not a point on the "
			      "curve");
	else
		memcpy(xy, buf + 1, 64);
	EC_POINT_free(p);
	EC_GROUP_free(g);
	return rc;
}

static int keyset_from_meta(const struct mpc_keyshares_meta *m, uint64_t epoch,
			    struct mpc_keyset *ks, const char *shown, struct mpc_err *e)
{
	struct mpc_keyset k = { 0 };
	int rc = MPC_OK;

	k.epoch_id = epoch;
	k.domains = calloc(m->n, sizeof(*k.domains));
	if (k.domains == NULL)
		return mpc_fail(e, MPC_ERR_NOMEM, "%s: out of memory", shown);
	for (size_t i = 0; i < m->n; i++) {
		const struct mpc_keyshare_meta *s = &m->items[i];
		struct mpc_domain_key *d = &k.domains[i];

		if (s->epoch_id != epoch) {
			rc = mpc_fail(e, MPC_ERR_INVALID,
				      "%s: keyshare %zu (domain %llu) is of epoch "
				      "%llu, the file's epoch_id is %llu",
				      shown, i, (unsigned long long)s->domain_id,
				      (unsigned long long)s->epoch_id, (unsigned long long)epoch);
			goto out;
		}
		for (size_t j = 0; j < i; j++)
			if (k.domains[j].domain_id == s->domain_id) {
				rc = mpc_fail(e, MPC_ERR_INVALID, "%s: domain %llu appears twice",
					      shown, (unsigned long long)s->domain_id);
				goto out;
			}
		d->domain_id = s->domain_id;
		d->attempt = s->attempt_id;
		d->curve = s->curve;
		if (s->curve == MPC_CURVE_SECP256K1) {
			rc = secp_decompress(s->pk, d->pk, e);
			if (rc != MPC_OK) {
				mpc_err_prefix(e, "%s: domain %llu: ", shown,
					       (unsigned long long)s->domain_id);
				goto out;
			}
			d->pk_len = 64;
		} else {
			memcpy(d->pk, s->pk, s->pk_len);
			d->pk_len = s->pk_len;
		}
		k.n_domains++;
	}
	*ks = k;
	memset(&k, 0, sizeof(k));
out:
	mpc_keyset_free(&k);
	return rc;
}

int mpc_bcli_open_file(const char *keys_dir, const struct mpc_bcli_file *f, const uint8_t key[16],
		       struct mpc_bcli_keyset *out, struct mpc_err *e)
{
	char shown[4200];
	uint8_t *enc = NULL, *pt = NULL, *arr = NULL;
	size_t enc_len = 0, pt_len = 0, need;
	json_t *root = NULL;
	const json_t *jepoch, *jks;
	json_error_t je;
	struct mpc_keyshares_meta m = { 0 };
	struct mpc_keyset ks = { 0 };
	uint64_t epoch;
	int dfd = -1, rc;

	memset(out, 0, sizeof(*out));
	snprintf(shown, sizeof(shown), "%s/%s", keys_dir, f->name);
	rc = open_dir(keys_dir, &dfd, e);
	if (rc != MPC_OK)
		goto out;
	rc = read_at(dfd, f->name, shown, MPC_BCLI_FILE_MAX, 0002, &enc, &enc_len, e);
	if (rc != MPC_OK)
		goto out;
	rc = gcm_open(enc, enc_len, key, shown, &pt, &pt_len, e);
	if (rc != MPC_OK)
		goto out;
	root = json_loadb((const char *)pt, pt_len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL || !json_is_object(root)) {
		rc = mpc_fail(e, MPC_ERR_PARSE,
			      "%s decrypts but is not a JSON object (line %d, "
			      "column %d)",
			      shown, root == NULL ? je.line : 1, root == NULL ? je.column : 1);
		goto out;
	}
	jepoch = json_object_get(root, "epoch_id");
	jks = json_object_get(root, "keyshares");
	if (!json_is_integer(jepoch) || json_integer_value(jepoch) < 0 || !json_is_array(jks)) {
		rc = mpc_fail(e, MPC_ERR_PARSE, "%s: not {\"epoch_id\": u64, \"keyshares\": [...]}",
			      shown);
		goto out;
	}
	epoch = (uint64_t)json_integer_value(jepoch);
	if (epoch != f->epoch) {
		rc = mpc_fail(e, MPC_ERR_INVALID,
			      "%s: the name says epoch %llu but the content's "
			      "epoch_id is %llu",
			      shown, (unsigned long long)f->epoch, (unsigned long long)epoch);
		goto out;
	}
	if (json_array_size(jks) != f->n_domains || f->n_domains == 0) {
		rc = mpc_fail(e, MPC_ERR_INVALID,
			      "%s: the name says %llu domains but it holds %zu "
			      "keyshares",
			      shown, (unsigned long long)f->n_domains, json_array_size(jks));
		goto out;
	}
	/* The Keyshare array in compact form, written straight into locked memory. */
	need = json_dumpb(jks, NULL, 0, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (need == 0 || need > (size_t)MPC_STORE_KEYSHARES_MAX) {
		rc = mpc_fail(e, MPC_ERR_TOO_LARGE, "%s: the keyshares are over %u bytes", shown,
			      MPC_STORE_KEYSHARES_MAX);
		goto out;
	}
	arr = mpc_secure_alloc(need + 1, e);
	if (arr == NULL) {
		rc = MPC_ERR_NOMEM;
		goto out;
	}
	if (json_dumpb(jks, (char *)arr, need, JSON_COMPACT | JSON_PRESERVE_ORDER) != need) {
		rc = mpc_fail(e, MPC_ERR_INTERNAL, "%s: re-encoding the keyshares failed", shown);
		goto out;
	}
	rc = mpc_keyshares_inspect(arr, need, &m, e);
	if (rc != MPC_OK) {
		mpc_err_prefix(e, "%s: ", shown);
		goto out;
	}
	rc = keyset_from_meta(&m, epoch, &ks, shown, e);
	if (rc != MPC_OK)
		goto out;
	out->ks = ks;
	out->keyshares = arr;
	out->len = need;
	memset(&ks, 0, sizeof(ks));
	arr = NULL;
out:
	mpc_keyshares_meta_free(&m);
	mpc_keyset_free(&ks);
	json_decref(root);
	mpc_secure_free(arr);
	mpc_secure_free(pt);
	mpc_secure_free(enc);
	if (dfd >= 0)
		close(dfd);
	return rc;
}

void mpc_bcli_keyset_free(struct mpc_bcli_keyset *k)
{
	if (k == NULL)
		return;
	mpc_keyset_free(&k->ks);
	mpc_secure_free(k->keyshares);
	memset(k, 0, sizeof(*k));
}
