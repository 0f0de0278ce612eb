/* test_store.c: the sealed store on real files with real SoftHSM2 tokens: round trip, the
 * no-downgrade / no-overwrite / coverage / prune / quarantine rules, every tamper case, keyshare
 * validation leaving the store untouched, two-token sealing with one token deleted, and full
 * disks (injected ENOSPC at every step, and a real 64 KiB tmpfs), and who controls the store: a
 * planted header another user owns or can write never counts, nor does a store others can
 * write (the chown cases need root and are skipped with a message otherwise). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "src/store/store.h"
#include "src/util/file.h"
#include "src/util/mem.h"
#include "tests/store/sfix.h"
#include "tests/support/softhsm.h"

struct st {
	struct th_softhsm h;
	struct mpc_p11_ctx *ctx;
	struct mpc_token *t;
	char tmp[64];
	char dir[256];
	struct mpc_store *s;
};

static int setup(void **state)
{
	struct st *x = calloc(1, sizeof(*x));
	struct mpc_err e = { 0 };

	if (x == NULL || th_softhsm_setup(&x->h, "store-a", NULL) != 0)
		return -1;
	if (mpc_p11_ctx_new(&x->ctx, &e) != MPC_OK || sf_token_open(x->ctx, x->h.uri, &x->t) != 0)
		return -1;
	snprintf(x->tmp, sizeof(x->tmp), "/tmp/mpc-store-XXXXXX");
	if (mkdtemp(x->tmp) == NULL)
		return -1;
	snprintf(x->dir, sizeof(x->dir), "%s/store", x->tmp);
	if (mpc_store_open(x->dir, 1, &x->s, &e) != MPC_OK) {
		fprintf(stderr, "store open: %s\n", e.msg);
		return -1;
	}
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct st *x = *state;
	char cmd[256];

	mpc_store_close(x->s);
	mpc_token_close(x->t);
	mpc_p11_ctx_free(x->ctx);
	th_softhsm_teardown(&x->h);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", x->tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", x->tmp);
	free(x);
	return 0;
}

static int put_toks(struct st *x, struct mpc_token *const *toks, size_t n, const struct sf_set *f,
		    size_t n_shares, char *name, struct mpc_err *e)
{
	struct mpc_store_put_opts o = { .tokens = toks, .n_tokens = n, .mech = MPC_SEAL_AUTO,
					.contract = "v1.signer", .operator_ = "operator.near" };
	uint8_t *js = NULL;
	size_t len = 0;
	int rc;

	assert_int_equal(sf_shares_json(f->shares, n_shares, &js, &len), 0);
	rc = mpc_store_put(x->s, &o, &f->ks, js, len, name, e);
	mpc_secure_free(js);
	return rc;
}

static int put(struct st *x, const struct sf_set *f, char *name, struct mpc_err *e)
{
	return put_toks(x, &x->t, 1, f, f->n, name, e);
}

static void put_ok(struct st *x, const struct sf_set *f, char *name)
{
	struct mpc_err e = { 0 };

	if (put(x, f, name, &e) != MPC_OK)
		fail_msg("put of epoch %llu: %s", (unsigned long long)f->ks.epoch_id, e.msg);
}

static int covered(struct st *x, const struct mpc_keyset *ks)
{
	struct mpc_err e = { 0 };
	int c = -1;

	assert_int_equal(mpc_store_covers(x->s, ks, &c, NULL, &e), MPC_OK);
	return c;
}

/* The directory's names (sorted, one per line) for "untouched" comparisons. */
static void dir_names(const char *dir, char *out, size_t cap)
{
	struct dirent **nl = NULL;
	int n = scandir(dir, &nl, NULL, alphasort);
	size_t off = 0;

	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (strcmp(nl[i]->d_name, ".") && strcmp(nl[i]->d_name, "..") && off < cap)
			off += (size_t)snprintf(out + off, cap - off, "%s\n", nl[i]->d_name);
		free(nl[i]);
	}
	free(nl);
}

static void expect_restore(struct st *x, struct mpc_token *const *toks, size_t n, int newest,
			   uint64_t epoch, const struct sf_set *f)
{
	struct mpc_store_restore r;
	struct mpc_err e = { 0 };
	uint8_t *js = NULL;
	size_t len = 0;

	if (mpc_store_open_keyset(x->s, toks, n, newest, epoch, &r, &e) != MPC_OK)
		fail_msg("open for restore: %s", e.msg);
	assert_int_equal(sf_shares_json(f->shares, f->n, &js, &len), 0);
	assert_int_equal(r.keyshares_len, len);
	assert_memory_equal(r.keyshares, js, len); /* byte-identical to what the node sent */
	assert_true(mpc_keyset_equal(&r.hdr.keyset, &f->ks));
	mpc_secure_free(js);
	mpc_store_restore_free(&r);
}

static void test_roundtrip(void **state)
{
	struct st *x = *state;
	struct mpc_store_verify_report vr;
	struct mpc_store_restore r;
	struct mpc_store_list l;
	struct mpc_err e = { 0 };
	struct sf_set f;
	char name[MPC_STORE_NAME_MAX], by[MPC_STORE_NAME_MAX];
	json_t *j;
	int c = 0;

	/* an empty store is an error for restore and not "all ok" for verify */
	assert_int_equal(mpc_store_open_keyset(x->s, &x->t, 1, 1, 0, &r, &e), MPC_ERR_NOT_FOUND);
	assert_non_null(strstr(e.msg, "holds no keyset"));
	assert_null(r.keyshares);
	assert_int_equal(mpc_store_verify(x->s, &x->t, 1, &vr, &e), MPC_OK);
	assert_int_equal(vr.all_ok, 0);
	mpc_store_verify_report_free(&vr);

	assert_int_equal(sf_fixture_set(0, &f), 0);
	assert_int_equal(covered(x, &f.ks), 0);
	put_ok(x, &f, name);
	assert_int_equal(strncmp(name, "keyset-e00000000000000000004-", 29), 0);
	assert_int_equal(mpc_store_covers(x->s, &f.ks, &c, by, &e), MPC_OK);
	assert_int_equal(c, 1);
	assert_string_equal(by, name);

	expect_restore(x, &x->t, 1, 1, 0, &f);
	expect_restore(x, &x->t, 1, 0, 4, &f);
	mpc_err_clear(&e);
	assert_int_equal(mpc_store_open_keyset(x->s, &x->t, 1, 0, 5, &r, &e), MPC_ERR_NOT_FOUND);
	assert_non_null(strstr(e.msg, "no keyset of epoch 5"));

	assert_int_equal(mpc_store_list(x->s, &l, &e), MPC_OK);
	assert_int_equal(l.n, 1);
	assert_true(l.items[0].header_ok);
	assert_true(l.items[0].newest);
	assert_false(l.items[0].quarantined);
	assert_int_equal(l.items[0].hdr.tokens[0].mech, MPC_SEAL_AES_GCM);
	assert_string_equal(l.items[0].hdr.tokens[0].label, "store-a");
	assert_string_equal(l.items[0].hdr.tokens[0].key_label, "mpc-backup-seal-gcm");
	assert_string_equal(l.items[0].hdr.operator_, "operator.near");
	j = mpc_store_list_json(&l, &e);
	assert_non_null(j);
	{
		char *txt = json_dumps(j, JSON_COMPACT);

		assert_non_null(strstr(txt, "\"epoch\":4"));
		assert_non_null(strstr(txt, "\"attempt\":240"));
		assert_non_null(strstr(txt, "\"public_key\":\"secp256k1:"));
		assert_non_null(strstr(txt, "\"public_key\":\"ed25519:"));
		free(txt);
	}
	json_decref(j);
	mpc_store_list_free(&l);

	assert_int_equal(mpc_store_verify(x->s, &x->t, 1, &vr, &e), MPC_OK);
	assert_int_equal(vr.n, 1);
	assert_int_equal(vr.all_ok, 1);
	assert_int_equal(vr.items[0].blobs_checked, 1);
	j = mpc_store_verify_report_json(&vr, &e);
	assert_non_null(j);
	assert_true(json_is_true(json_object_get(j, "all_ok")));
	json_decref(j);
	mpc_store_verify_report_free(&vr);
	sf_set_free(&f);
}

static void test_rules(void **state)
{
	struct st *x = *state;
	struct mpc_store_list l;
	struct mpc_err e = { 0 };
	struct sf_set e5a, e5b, e5c, e6, e4, e5other;
	char n5a[MPC_STORE_NAME_MAX], n5b[MPC_STORE_NAME_MAX], n6[MPC_STORE_NAME_MAX];
	size_t k = 0;

	assert_int_equal(sf_synthetic_set(5, 3, 1, &e5a), 0);
	assert_int_equal(sf_synthetic_set(5, 4, 1, &e5b), 0); /* same 3 domains plus one */
	assert_int_equal(sf_synthetic_set(5, 5, 1, &e5c), 0);
	assert_int_equal(sf_synthetic_set(6, 2, 1, &e6), 0);
	assert_int_equal(sf_synthetic_set(4, 3, 1, &e4), 0);
	assert_int_equal(sf_synthetic_set(5, 3, 2, &e5other), 0); /* other attempts and keys */

	put_ok(x, &e5a, n5a);
	/* no overwrite: the same keyset again is refused */
	assert_int_equal(put(x, &e5a, NULL, &e), MPC_ERR_EXISTS);
	assert_non_null(strstr(e.msg, "already backed up"));
	mpc_err_clear(&e);
	/* no downgrade */
	assert_int_equal(put(x, &e4, NULL, &e), MPC_ERR_STATE);
	assert_non_null(strstr(e.msg, "epoch 4"));
	mpc_err_clear(&e);
	/* same epoch, one more domain (vote_add_domains): not covered, a new file */
	assert_int_equal(covered(x, &e5b.ks), 0);
	put_ok(x, &e5b, n5b);
	assert_string_not_equal(n5a, n5b);
	assert_int_equal(covered(x, &e5a.ks), 1);
	assert_int_equal(covered(x, &e5b.ks), 1);
	assert_int_equal(covered(x, &e5c.ks), 0);
	/* same epoch with other attempts/keys is not covered */
	assert_int_equal(covered(x, &e5other.ks), 0);
	assert_int_equal(mpc_store_list(x->s, &l, &e), MPC_OK);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.items[1].name, n5b);
	assert_true(l.items[1].newest);
	mpc_store_list_free(&l);
	expect_restore(x, &x->t, 1, 1, 0, &e5b); /* newest of the epoch: more domains */

	/* a later epoch covers the older keyset's domains */
	put_ok(x, &e6, n6);
	assert_int_equal(covered(x, &e5a.ks), 1); /* still by the epoch-5 file */
	sf_set_free(&e5c);
	assert_int_equal(sf_synthetic_set(5, 2, 9, &e5c), 0);
	assert_int_equal(covered(x, &e5c.ks), 1); /* domains 0,1 exist in epoch 6 */

	/* prune keeps the newest */
	assert_int_equal(mpc_store_prune(x->s, 0, &k, &e), MPC_ERR_USAGE);
	mpc_err_clear(&e);
	assert_int_equal(mpc_store_prune(x->s, 1, &k, &e), MPC_OK);
	assert_int_equal(k, 2);
	assert_int_equal(mpc_store_list(x->s, &l, &e), MPC_OK);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.items[0].name, n6);
	mpc_store_list_free(&l);
	assert_int_equal(mpc_store_prune(x->s, 1, &k, &e), MPC_OK);
	assert_int_equal(k, 0);

	/* quarantine forgets coverage; the downgrade rule then ignores it */
	assert_int_equal(covered(x, &e6.ks), 1);
	assert_int_equal(mpc_store_quarantine(x->s, 6, &k, &e), MPC_OK);
	assert_int_equal(k, 1);
	assert_int_equal(covered(x, &e6.ks), 0);
	assert_int_equal(mpc_store_quarantine(x->s, 99, &k, &e), MPC_ERR_NOT_FOUND);
	mpc_err_clear(&e);
	{
		struct mpc_store_restore r;

		assert_int_equal(mpc_store_open_keyset(x->s, &x->t, 1, 0, 6, &r, &e),
				 MPC_ERR_NOT_FOUND);
		mpc_err_clear(&e);
	}
	put_ok(x, &e4, NULL);
	assert_int_equal(mpc_store_list(x->s, &l, &e), MPC_OK);
	assert_int_equal(l.n, 2);
	assert_true(l.items[0].quarantined || l.items[1].quarantined);
	mpc_store_list_free(&l);
	/* prune never removes quarantined files */
	assert_int_equal(mpc_store_prune(x->s, 1, &k, &e), MPC_OK);
	assert_int_equal(k, 0);
	expect_restore(x, &x->t, 1, 1, 0, &e4);

	sf_set_free(&e5a);
	sf_set_free(&e5b);
	sf_set_free(&e5c);
	sf_set_free(&e6);
	sf_set_free(&e4);
	sf_set_free(&e5other);
}

/* A keyset stored again in the same second as its quarantine (same header, so the same name
 * digest) gets a new name, counts as a backup, and a second quarantine loses nothing. */
static void test_requarantine_same_second(void **state)
{
	struct st *x = *state;
	struct mpc_store_put_opts o = { .tokens = &x->t, .n_tokens = 1, .mech = MPC_SEAL_AUTO,
					.contract = "v1.signer", .operator_ = "operator.near",
					.created = 1790000000 };
	struct sf_set f;
	struct mpc_store_list l;
	struct mpc_err e = { 0 };
	char n1[MPC_STORE_NAME_MAX], n2[MPC_STORE_NAME_MAX], n3[MPC_STORE_NAME_MAX];
	uint8_t *js = NULL;
	size_t len = 0, k = 0;

	assert_int_equal(sf_synthetic_set(8, 2, 1, &f), 0);
	assert_int_equal(sf_shares_json(f.shares, f.n, &js, &len), 0);
	assert_int_equal(mpc_store_put(x->s, &o, &f.ks, js, len, n1, &e), MPC_OK);
	assert_int_equal(mpc_store_quarantine(x->s, 8, &k, &e), MPC_OK);
	assert_int_equal(covered(x, &f.ks), 0);
	assert_int_equal(mpc_store_put(x->s, &o, &f.ks, js, len, n2, &e), MPC_OK);
	assert_string_not_equal(n1, n2);
	assert_int_equal(covered(x, &f.ks), 1);
	expect_restore(x, &x->t, 1, 0, 8, &f);
	/* quarantine it too, and store it a third time: all three files are kept */
	assert_int_equal(mpc_store_quarantine(x->s, 8, &k, &e), MPC_OK);
	assert_int_equal(mpc_store_put(x->s, &o, &f.ks, js, len, n3, &e), MPC_OK);
	assert_string_not_equal(n3, n1);
	assert_string_not_equal(n3, n2);
	assert_int_equal(mpc_store_list(x->s, &l, &e), MPC_OK);
	assert_int_equal(l.n, 3);
	mpc_store_list_free(&l);
	assert_int_equal(covered(x, &f.ks), 1);
	mpc_secure_free(js);
	sf_set_free(&f);
}

static void test_invalid_keyshares_touch_nothing(void **state)
{
	struct st *x = *state;
	struct mpc_err e = { 0 };
	struct sf_set f, g;
	char before[4096], after[4096];

	assert_int_equal(sf_fixture_set(1, &f), 0);
	put_ok(x, &f, NULL);
	dir_names(x->dir, before, sizeof(before));
	assert_int_equal(sf_synthetic_set(7, 3, 3, &g), 0);
	/* missing domain */
	assert_int_equal(put_toks(x, &x->t, 1, &g, 2, NULL, &e), MPC_ERR_INVALID);
	assert_non_null(strstr(e.msg, "domain 2 of epoch 7 has no keyshare"));
	mpc_err_clear(&e);
	/* wrong public key */
	g.shares[1].pk_hex[10] = g.shares[1].pk_hex[10] == 'a' ? 'b' : 'a';
	assert_int_equal(put(x, &g, NULL, &e), MPC_ERR_INVALID);
	assert_non_null(strstr(e.msg, "domain 1 has a public key that differs"));
	dir_names(x->dir, after, sizeof(after));
	assert_string_equal(before, after);
	sf_set_free(&f);
	sf_set_free(&g);
}

/* ---- tampering ---- */

static void write_file(const char *path, const uint8_t *b, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, b, n), (ssize_t)n);
	close(fd);
}

/* Exactly one file fails verification, with `needle` in its message; open of its epoch fails
 * with `code` (or any error if code == 0). */
static void expect_refused(struct st *x, uint64_t epoch, int code, const char *needle)
{
	struct mpc_store_verify_report vr;
	struct mpc_store_restore r;
	struct mpc_err e = { 0 };
	size_t failed = 0;
	int rc;

	assert_int_equal(mpc_store_verify(x->s, &x->t, 1, &vr, &e), MPC_OK);
	assert_int_equal(vr.all_ok, 0);
	for (size_t i = 0; i < vr.n; i++) {
		if (vr.items[i].ok)
			continue;
		failed++;
		if (strstr(vr.items[i].msg, needle) == NULL)
			fail_msg("verify message \"%s\" lacks \"%s\"", vr.items[i].msg, needle);
	}
	assert_int_equal(failed, 1);
	mpc_store_verify_report_free(&vr);
	rc = mpc_store_open_keyset(x->s, &x->t, 1, 0, epoch, &r, &e);
	if (rc == MPC_OK || (code != 0 && rc != code))
		fail_msg("open of epoch %llu: got %d (%s), wanted %d", (unsigned long long)epoch, rc,
			 e.msg, code);
	assert_null(r.keyshares);
}

static void test_tamper(void **state)
{
	struct st *x = *state;
	struct mpc_err e = { 0 };
	struct sf_set fa, fb;
	char na[MPC_STORE_NAME_MAX], nb[MPC_STORE_NAME_MAX], pa[512], pb[512], p2[512];
	uint8_t *a = NULL, *b = NULL, *m;
	size_t al = 0, bl = 0, ahl = 0, bhl = 0;

	assert_int_equal(sf_fixture_set(2, &fa), 0);
	assert_int_equal(sf_synthetic_set(5, 3, 4, &fb), 0);
	put_ok(x, &fa, na);
	put_ok(x, &fb, nb);
	snprintf(pa, sizeof(pa), "%s/%s", x->dir, na);
	snprintf(pb, sizeof(pb), "%s/%s", x->dir, nb);
	assert_int_equal(mpc_file_read(pa, 1 << 20, 0, &a, &al, &e), MPC_OK);
	assert_int_equal(mpc_file_read(pb, 1 << 20, 0, &b, &bl, &e), MPC_OK);
	assert_int_equal(mpc_store_header_len(a, al, &ahl, &e), MPC_OK);
	assert_int_equal(mpc_store_header_len(b, bl, &bhl, &e), MPC_OK);
	m = malloc(al + bl);

	/* 1. a flipped byte in the header (the attempt of domain 0) */
	memcpy(m, a, al);
	m[ahl - 60] ^= 0x01;
	write_file(pa, m, al);
	expect_refused(x, 4, MPC_ERR_AUTH, "does not match its header");
	/* ... and the same edit with the file renamed to the edited header's name */
	{
		char nn[MPC_STORE_NAME_MAX];

		assert_int_equal(mpc_store_file_name(m, ahl, 4, nn, &e), MPC_OK);
		snprintf(p2, sizeof(p2), "%s/%s", x->dir, nn);
		assert_int_equal(rename(pa, p2), 0);
		expect_refused(x, 4, MPC_ERR_AUTH, "blob for token store-a");
		assert_int_equal(unlink(p2), 0);
	}
	write_file(pa, a, al);

	/* 2. a flipped byte in the sealed body */
	memcpy(m, a, al);
	m[al - 5] ^= 0x80;
	write_file(pa, m, al);
	expect_refused(x, 4, MPC_ERR_AUTH, "blob for token store-a");
	write_file(pa, a, al);

	/* 3. the file renamed (moved to another epoch's name) */
	snprintf(p2, sizeof(p2), "%s/keyset-e00000000000000000009-%s", x->dir, na + 29);
	assert_int_equal(rename(pa, p2), 0);
	expect_refused(x, 9, MPC_ERR_AUTH, "does not match its header");
	assert_int_equal(rename(p2, pa), 0);

	/* 4. headers swapped: B's header on A's blobs, under A's name and under B's name */
	memcpy(m, b, bhl);
	memcpy(m + bhl, a + ahl, al - ahl);
	write_file(pa, m, bhl + al - ahl);
	expect_refused(x, 4, 0, "does not match its header");
	write_file(pa, a, al);
	write_file(pb, m, bhl + al - ahl);
	expect_refused(x, 5, MPC_ERR_AUTH, "blob for token store-a");
	write_file(pb, b, bl);

	/* 5. truncated at several points */
	{
		const size_t cuts[] = { 0, 7, 13, ahl - 1, ahl, ahl + 3, al - 1 };

		for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
			write_file(pa, a, cuts[i]);
			expect_refused(x, 4, 0, "truncated");
		}
		write_file(pa, a, al);
	}

	/* everything intact again */
	{
		struct mpc_store_verify_report vr;

		assert_int_equal(mpc_store_verify(x->s, &x->t, 1, &vr, &e), MPC_OK);
		assert_int_equal(vr.all_ok, 1);
		mpc_store_verify_report_free(&vr);
	}
	free(m);
	free(a);
	free(b);
	sf_set_free(&fa);
	sf_set_free(&fb);
}

/* SoftHSM2 reads its slot list when the module is initialised: add the token, then reload. */
static void add_second_token(struct st *x, char uri_b[512], struct mpc_token **tb)
{
	struct mpc_err e = { 0 };

	mpc_token_close(x->t);
	mpc_p11_ctx_free(x->ctx);
	assert_int_equal(th_softhsm_add_token(&x->h, "store-b", uri_b), 0);
	assert_int_equal(mpc_p11_ctx_new(&x->ctx, &e), MPC_OK);
	assert_int_equal(sf_token_open(x->ctx, x->h.uri, &x->t), 0);
	assert_int_equal(sf_token_open(x->ctx, uri_b, tb), 0);
}

static void test_file_from_another_token(void **state)
{
	struct st *x = *state;
	struct mpc_store_verify_report vr;
	struct mpc_store_restore r;
	struct mpc_err e = { 0 };
	struct mpc_token *tb = NULL;
	struct sf_set f;
	char uri_b[512];

	add_second_token(x, uri_b, &tb);
	assert_int_equal(sf_synthetic_set(8, 2, 8, &f), 0);
	assert_int_equal(put_toks(x, &tb, 1, &f, f.n, NULL, &e), MPC_OK);
	assert_int_equal(mpc_store_open_keyset(x->s, &x->t, 1, 1, 0, &r, &e),
			 MPC_ERR_TOKEN_NOT_FOUND);
	assert_non_null(strstr(e.msg, "sealed to token(s) store-b"));
	assert_int_equal(mpc_store_verify(x->s, &x->t, 1, &vr, &e), MPC_OK);
	assert_int_equal(vr.all_ok, 0);
	assert_non_null(strstr(vr.items[0].msg, "none of which is open"));
	mpc_store_verify_report_free(&vr);
	expect_restore(x, &tb, 1, 1, 0, &f);
	mpc_token_close(tb);
	sf_set_free(&f);
}

static void test_two_tokens(void **state)
{
	struct st *x = *state;
	struct mpc_store_verify_report vr;
	struct mpc_err e = { 0 };
	struct mpc_token *toks[2] = { x->t, NULL };
	struct sf_set f;
	char uri_b[512];

	add_second_token(x, uri_b, &toks[1]);
	toks[0] = x->t;
	assert_int_equal(sf_fixture_set(0, &f), 0);
	if (put_toks(x, toks, 2, &f, f.n, NULL, &e) != MPC_OK)
		fail_msg("put to two tokens: %s", e.msg);
	assert_int_equal(mpc_store_verify(x->s, toks, 2, &vr, &e), MPC_OK);
	assert_int_equal(vr.all_ok, 1);
	assert_int_equal(vr.items[0].blobs_checked, 2);
	mpc_store_verify_report_free(&vr);

	/* lose token A entirely: the file still opens with B */
	mpc_token_close(toks[1]);
	mpc_token_close(x->t);
	x->t = NULL;
	mpc_p11_ctx_free(x->ctx);
	x->ctx = NULL;
	assert_int_equal(th_softhsm_delete_token(&x->h, "store-a"), 0);
	assert_int_equal(mpc_p11_ctx_new(&x->ctx, &e), MPC_OK);
	assert_int_equal(sf_token_open(x->ctx, uri_b, &x->t), 0);
	expect_restore(x, &x->t, 1, 1, 0, &f);
	assert_int_equal(mpc_store_verify(x->s, &x->t, 1, &vr, &e), MPC_OK);
	assert_int_equal(vr.all_ok, 1);
	assert_int_equal(vr.items[0].blobs_checked, 1);
	assert_int_equal(vr.items[0].blobs_unchecked, 1);
	mpc_store_verify_report_free(&vr);
	sf_set_free(&f);
}

/* ---- full disks ---- */

static void test_enospc_injected(void **state)
{
	static const char *const ops[] = { "write", "fsync", "link", "dir-sync" };
	struct st *x = *state;
	struct mpc_err e = { 0 };
	struct sf_set f4, f5;
	char before[4096], after[4096];

	assert_int_equal(sf_fixture_set(0, &f4), 0);
	assert_int_equal(sf_synthetic_set(5, 8, 5, &f5), 0);
	put_ok(x, &f4, NULL);
	dir_names(x->dir, before, sizeof(before));
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		setenv("MPC_STORE_FAIL_AT", ops[i], 1);
		mpc_err_clear(&e);
		assert_int_equal(put(x, &f5, NULL, &e), MPC_ERR_IO);
		unsetenv("MPC_STORE_FAIL_AT");
		if (strstr(e.msg, "No space left") == NULL)
			fail_msg("%s: %s", ops[i], e.msg);
		dir_names(x->dir, after, sizeof(after));
		assert_string_equal(before, after);
		expect_restore(x, &x->t, 1, 1, 0, &f4);
	}
	put_ok(x, &f5, NULL);
	expect_restore(x, &x->t, 1, 1, 0, &f5);
	sf_set_free(&f4);
	sf_set_free(&f5);
}

static void test_tmpfs_full(void **state)
{
	struct st *x = *state;
	struct mpc_store *s2 = NULL;
	struct mpc_err e = { 0 };
	struct sf_set f4, f5;
	char mnt[160], fill[200], before[4096], after[4096];
	static uint8_t chunk[4096];
	int fd;

	snprintf(mnt, sizeof(mnt), "%s/small", x->tmp);
	assert_int_equal(mkdir(mnt, 0700), 0);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=64k,mode=0700") != 0) {
		fprintf(stderr, "tmpfs mount not permitted (%s): skipping\n", strerror(errno));
		skip();
	}
	snprintf(x->dir, sizeof(x->dir), "%s/store", mnt);
	mpc_store_close(x->s);
	x->s = NULL;
	assert_int_equal(mpc_store_open(x->dir, 1, &s2, &e), MPC_OK);
	x->s = s2;
	assert_int_equal(sf_fixture_set(0, &f4), 0);
	assert_int_equal(sf_synthetic_set(5, 64, 5, &f5), 0);
	put_ok(x, &f4, NULL);
	/* fill the file system */
	snprintf(fill, sizeof(fill), "%s/fill", mnt);
	fd = open(fill, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	memset(chunk, 0x5a, sizeof(chunk));
	while (write(fd, chunk, sizeof(chunk)) > 0)
		;
	while (write(fd, chunk, 1) > 0)
		;
	close(fd);
	dir_names(x->dir, before, sizeof(before));
	assert_int_equal(put(x, &f5, NULL, &e), MPC_ERR_IO);
	assert_non_null(strstr(e.msg, "No space left"));
	dir_names(x->dir, after, sizeof(after));
	assert_string_equal(before, after);
	expect_restore(x, &x->t, 1, 1, 0, &f4);
	/* space again: the write goes through */
	assert_int_equal(unlink(fill), 0);
	put_ok(x, &f5, NULL);
	expect_restore(x, &x->t, 1, 1, 0, &f5);
	mpc_store_close(x->s);
	x->s = NULL;
	assert_int_equal(umount(mnt), 0);
	sf_set_free(&f4);
	sf_set_free(&f5);
}

/* ---- who controls the store ---- */

#define OTHER_UID 65534 /* nobody */

static int need_root(void)
{
	if (geteuid() == 0)
		return 1;
	fprintf(stderr, "not root: cannot chown files to another user; skipping those cases (CI "
			"runs as root)\n");
	return 0;
}

/* Every operation that trusts the headers fails with MPC_ERR_STATE naming `path` and `needle`;
 * list and verify still report, with the file marked. */
static void expect_untrusted(struct st *x, const struct sf_set *f, const char *path,
			     const char *needle, const char *fix)
{
	struct mpc_store_verify_report vr;
	struct mpc_store_restore r;
	struct mpc_store_list l;
	struct mpc_err e = { 0 };
	struct sf_set g;
	char before[4096], after[4096];
	int c = -1;
	size_t k = 99, bad = 0;

	assert_int_equal(mpc_store_covers(x->s, &f->ks, &c, NULL, &e), MPC_ERR_STATE);
	assert_int_equal(c, 0);
	if (strstr(e.msg, path) == NULL || strstr(e.msg, needle) == NULL ||
	    strstr(e.msg, fix) == NULL)
		fail_msg("covers: \"%s\" lacks %s / %s / %s", e.msg, path, needle, fix);
	mpc_err_clear(&e);
	dir_names(x->dir, before, sizeof(before));
	assert_int_equal(sf_synthetic_set(10, 2, 7, &g), 0); /* a put that would otherwise work */
	assert_int_equal(put(x, &g, NULL, &e), MPC_ERR_STATE);
	assert_non_null(strstr(e.msg, needle));
	mpc_err_clear(&e);
	sf_set_free(&g);
	assert_int_equal(mpc_store_prune(x->s, 1, &k, &e), MPC_ERR_STATE);
	assert_int_equal(k, 0);
	mpc_err_clear(&e);
	dir_names(x->dir, after, sizeof(after));
	assert_string_equal(before, after);
	assert_int_equal(mpc_store_open_keyset(x->s, &x->t, 1, 1, 0, &r, &e), MPC_ERR_STATE);
	assert_non_null(strstr(e.msg, needle));
	mpc_err_clear(&e);
	assert_int_equal(mpc_store_list(x->s, &l, &e), MPC_OK);
	for (size_t i = 0; i < l.n; i++)
		if (l.items[i].untrusted) {
			bad++;
			assert_false(l.items[i].header_ok);
			assert_false(l.items[i].newest);
			assert_non_null(strstr(l.items[i].problem, needle));
		}
	assert_int_equal(bad, 1);
	mpc_store_list_free(&l);
	assert_int_equal(mpc_store_verify(x->s, &x->t, 1, &vr, &e), MPC_OK);
	assert_int_equal(vr.all_ok, 0);
	assert_int_equal(vr.n_failed, 1);
	mpc_store_verify_report_free(&vr);
}

/* The attack of the issue: someone who can write the store plants a well-formed header of a
 * higher epoch with the contract's domains (no token needed: the blobs are junk), which made
 * the keyset look covered until the next verification. A planted file that another user owns
 * or could write is refused, and coverage is an error, not a silent skip. */
static void test_planted_header(void **state)
{
	struct st *x = *state;
	struct mpc_store_blob_ref blobs[MPC_STORE_MAX_TOKENS];
	struct mpc_store_header h;
	struct mpc_err e = { 0 };
	struct sf_set f4, f9;
	char n4[MPC_STORE_NAME_MAX], nf[MPC_STORE_NAME_MAX], p4[512], pf[512];
	uint8_t *a = NULL, *hdr = NULL, *forged = NULL;
	const uint8_t *bp[MPC_STORE_MAX_TOKENS];
	size_t al = 0, ahl = 0, nb = 0, hl = 0, fl = 0, bl[MPC_STORE_MAX_TOKENS], k = 0;

	assert_int_equal(sf_fixture_set(1, &f4), 0);
	assert_int_equal(sf_fixture_set(1, &f9), 0);
	f9.ks.epoch_id = 9; /* the contract moved on: same domains, epoch 9 */
	put_ok(x, &f4, n4);
	snprintf(p4, sizeof(p4), "%s/%s", x->dir, n4);
	assert_int_equal(covered(x, &f9.ks), 0);

	/* forge: the real header with epoch 9, the real (now mismatching) blobs */
	assert_int_equal(mpc_file_read(p4, 1 << 20, 0, &a, &al, &e), MPC_OK);
	assert_int_equal(mpc_store_file_parse(a, al, &h, &ahl, blobs, &nb, &e), MPC_OK);
	h.epoch = 9;
	h.keyset.epoch_id = 9;
	assert_int_equal(mpc_store_header_encode(&h, &hdr, &hl, &e), MPC_OK);
	assert_int_equal(mpc_store_file_name(hdr, hl, 9, nf, &e), MPC_OK);
	for (size_t i = 0; i < nb; i++) {
		bp[i] = blobs[i].p;
		bl[i] = blobs[i].len;
	}
	assert_int_equal(mpc_store_file_build(hdr, hl, bp, bl, nb, &forged, &fl, &e), MPC_OK);
	snprintf(pf, sizeof(pf), "%s/%s", x->dir, nf);
	write_file(pf, forged, fl);

	/* owned by us and 0600 it is believed by the header-only coverage (what verify is for) */
	assert_int_equal(covered(x, &f9.ks), 1);
	/* writable by others: refused, everywhere the headers decide something */
	assert_int_equal(chmod(pf, 0666), 0);
	expect_untrusted(x, &f9, pf, "writable by group and others (mode 0666)", "chmod go-w");
	assert_int_equal(chmod(pf, 0620), 0);
	expect_untrusted(x, &f4, pf, "writable by group (mode 0620)", "chmod go-w");
	assert_int_equal(chmod(pf, 0600), 0);
	if (need_root()) {
		/* owned by another user, even 0600 (they can chmod and rewrite it) */
		assert_int_equal(chown(pf, OTHER_UID, OTHER_UID), 0);
		expect_untrusted(x, &f9, pf, "owned by uid 65534", "fix with chown root");
		/* group-owned by another group but not group-writable: fine */
		assert_int_equal(chown(pf, 0, OTHER_UID), 0);
		assert_int_equal(chmod(pf, 0640), 0);
		assert_int_equal(covered(x, &f9.ks), 1);
		assert_int_equal(chown(pf, OTHER_UID, 0), 0);
	} else {
		assert_int_equal(chmod(pf, 0666), 0);
	}
	/* quarantining the planted file (by its name's epoch) restores service; the quarantined
	 * file never counts */
	assert_int_equal(mpc_store_quarantine(x->s, 9, &k, &e), MPC_OK);
	assert_int_equal(k, 1);
	assert_int_equal(covered(x, &f9.ks), 0);
	assert_int_equal(covered(x, &f4.ks), 1);
	expect_restore(x, &x->t, 1, 1, 0, &f4);

	mpc_store_header_free(&h);
	free(a);
	free(hdr);
	free(forged);
	sf_set_free(&f4);
	sf_set_free(&f9);
}

/* The store directory, its quarantine/ and the directories above: nobody else may write them. */
static void test_store_dir_perms(void **state)
{
	struct st *x = *state;
	struct mpc_store *s2 = NULL;
	struct mpc_store_list l;
	struct mpc_err e = { 0 };
	struct sf_set f4, f5;
	char q[300], before[4096], after[4096], fresh[300];
	int c = -1;

	assert_int_equal(sf_fixture_set(0, &f4), 0);
	assert_int_equal(sf_synthetic_set(5, 2, 3, &f5), 0);
	put_ok(x, &f4, NULL);
	/* 0777: refused at open, naming the path and the fix */
	assert_int_equal(chmod(x->dir, 0777), 0);
	assert_int_equal(mpc_store_open(x->dir, 0, &s2, &e), MPC_ERR_STATE);
	assert_null(s2);
	assert_non_null(strstr(e.msg, x->dir));
	assert_non_null(strstr(e.msg, "writable by group and others (mode 0777)"));
	assert_non_null(strstr(e.msg, "chmod go-w"));
	mpc_err_clear(&e);
	/* ... and by an already open store at the next listing: no coverage, no write */
	assert_int_equal(mpc_store_covers(x->s, &f4.ks, &c, NULL, &e), MPC_ERR_STATE);
	assert_int_equal(c, 0);
	assert_non_null(strstr(e.msg, "mode 0777"));
	mpc_err_clear(&e);
	dir_names(x->dir, before, sizeof(before));
	assert_int_equal(put(x, &f5, NULL, &e), MPC_ERR_STATE);
	mpc_err_clear(&e);
	dir_names(x->dir, after, sizeof(after));
	assert_string_equal(before, after);
	/* sticky does not help a store: others could still add files */
	assert_int_equal(chmod(x->dir, 01777), 0);
	assert_int_equal(mpc_store_open(x->dir, 0, &s2, &e), MPC_ERR_STATE);
	mpc_err_clear(&e);
	assert_int_equal(chmod(x->dir, 0770), 0);
	assert_int_equal(mpc_store_open(x->dir, 0, &s2, &e), MPC_ERR_STATE);
	assert_non_null(strstr(e.msg, "writable by group (mode 0770)"));
	mpc_err_clear(&e);
	assert_int_equal(chmod(x->dir, 0750), 0); /* readable by the group is fine */
	assert_int_equal(mpc_store_open(x->dir, 0, &s2, &e), MPC_OK);
	mpc_store_close(s2);
	s2 = NULL;
	assert_int_equal(covered(x, &f4.ks), 1);
	/* quarantine/ writable by others */
	snprintf(q, sizeof(q), "%s/quarantine", x->dir);
	assert_int_equal(mkdir(q, 0700), 0);
	assert_int_equal(chmod(q, 0757), 0);
	assert_int_equal(mpc_store_list(x->s, &l, &e), MPC_ERR_STATE);
	assert_non_null(strstr(e.msg, q));
	assert_non_null(strstr(e.msg, "writable by others"));
	mpc_err_clear(&e);
	assert_int_equal(chmod(q, 0700), 0);
	/* the directory above writable by group: the store could be swapped */
	assert_int_equal(chmod(x->tmp, 0775), 0);
	assert_int_equal(mpc_store_open(x->dir, 0, &s2, &e), MPC_ERR_STATE);
	assert_non_null(strstr(e.msg, x->tmp));
	mpc_err_clear(&e);
	/* creating a store under such a directory is refused and leaves nothing */
	snprintf(fresh, sizeof(fresh), "%s/fresh", x->tmp);
	assert_int_equal(mpc_store_open(fresh, 1, &s2, &e), MPC_ERR_STATE);
	assert_int_equal(access(fresh, F_OK), -1);
	mpc_err_clear(&e);
	assert_int_equal(chmod(x->tmp, 0700), 0);
	assert_int_equal(mpc_store_open(fresh, 1, &s2, &e), MPC_OK);
	mpc_store_close(s2);
	s2 = NULL;
	if (need_root()) {
		char lock[300];

		assert_int_equal(chown(x->dir, OTHER_UID, OTHER_UID), 0);
		assert_int_equal(mpc_store_open(x->dir, 0, &s2, &e), MPC_ERR_STATE);
		assert_non_null(strstr(e.msg, "owned by uid 65534"));
		assert_non_null(strstr(e.msg, "fix with chown root"));
		mpc_err_clear(&e);
		assert_int_equal(chown(x->dir, 0, 0), 0);
		/* a lock file another user owns could be held by them forever */
		snprintf(lock, sizeof(lock), "%s/.lock", x->dir);
		assert_int_equal(chown(lock, OTHER_UID, 0), 0);
		assert_int_equal(put(x, &f5, NULL, &e), MPC_ERR_STATE);
		assert_non_null(strstr(e.msg, lock));
		mpc_err_clear(&e);
		assert_int_equal(chown(lock, 0, 0), 0);
	}
	put_ok(x, &f5, NULL);
	expect_restore(x, &x->t, 1, 1, 0, &f5);
	sf_set_free(&f4);
	sf_set_free(&f5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_requarantine_same_second, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_keyshares_touch_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tamper, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_from_another_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enospc_injected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tmpfs_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_planted_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_dir_perms, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
