/* test_import.c: the backup-cli / node permanent_keys reader against homes written by an
 * independent writer (bcli_writer.c), hostile inputs, sealing the imported keysets into a real
 * SoftHSM2 token, restore drills against matching and mismatching contract keysets, and the
 * Ed25519 TLS key import (signatures made in the token verified by OpenSSL with the public key
 * OpenSSL derives from the seed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "pkcs11/ed25519.h"
#include "pkcs11/keys.h"
#include "src/store/drill.h"
#include "src/store/import_backupcli.h"
#include "src/store/keyshares.h"
#include "src/store/store.h"
#include "src/util/mem.h"
#include "tests/import/bcli_writer.h"
#include "tests/store/sfix.h"
#include "tests/support/softhsm.h"

struct fx {
	struct th_softhsm h;
	struct mpc_p11_ctx *ctx;
	struct mpc_token *t;
	char tmp[64], home[128], keys[160], link[160], store_dir[160];
	struct mpc_store *s;
	uint8_t p2p[32], signer[32], aes[16];
	struct sf_set e3, e4; /* epoch 3: 1 Ed25519 domain; epoch 4: the mainnet-shaped fixture */
};

static void write_set(struct fx *f, const struct sf_set *set, const char *name, const char *link)
{
	uint8_t *js;
	size_t len;
	char *pt;

	assert_int_equal(sf_shares_json(set->shares, set->n, &js, &len), 0);
	pt = bw_permanent_json(set->ks.epoch_id, js, len);
	assert_non_null(pt);
	assert_int_equal(bw_write_keyfile(f->keys, name, f->aes, (uint8_t *)pt, strlen(pt), link), 0);
	free(pt);
	mpc_secure_free(js);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct mpc_err e = { 0 };

	if (f == NULL || th_softhsm_setup(&f->h, "import-a", NULL) != 0)
		return -1;
	if (mpc_p11_ctx_new(&f->ctx, &e) != MPC_OK || sf_token_open(f->ctx, f->h.uri, &f->t) != 0)
		return -1;
	snprintf(f->tmp, sizeof(f->tmp), "/tmp/mpc-import-XXXXXX");
	if (mkdtemp(f->tmp) == NULL)
		return -1;
	snprintf(f->home, sizeof(f->home), "%s/home", f->tmp);
	snprintf(f->keys, sizeof(f->keys), "%s/permanent_keys", f->home);
	snprintf(f->link, sizeof(f->link), "%s/key", f->home);
	snprintf(f->store_dir, sizeof(f->store_dir), "%s/store", f->tmp);
	if (mkdir(f->home, 0700) != 0 || mkdir(f->keys, 0700) != 0)
		return -1;
	if (RAND_bytes(f->p2p, 32) != 1 || RAND_bytes(f->signer, 32) != 1 ||
	    RAND_bytes(f->aes, 16) != 1)
		return -1;
	if (sf_synthetic_set(3, 1, 11, &f->e3) != 0 || sf_fixture_set(0, &f->e4) != 0)
		return -1;
	if (bw_write_secrets(f->home, f->p2p, f->signer, f->aes, 0600) != 0)
		return -1;
	write_set(f, &f->e3, "epoch_3_with_1_domains", f->link);
	write_set(f, &f->e4, "epoch_4_with_2_domains", f->link);
	if (mpc_store_open(f->store_dir, 1, &f->s, &e) != MPC_OK)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[256];

	mpc_store_close(f->s);
	mpc_token_close(f->t);
	mpc_p11_ctx_free(f->ctx);
	th_softhsm_teardown(&f->h);
	sf_set_free(&f->e3);
	sf_set_free(&f->e4);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", f->tmp);
	free(f);
	return 0;
}

static void test_read_home(void **state)
{
	struct fx *f = *state;
	struct mpc_bcli_secrets *sec = NULL;
	struct mpc_bcli_listing l;
	struct mpc_bcli_keyset k;
	struct mpc_err e = { 0 };
	char junk[256];

	snprintf(junk, sizeof(junk), "%s/epoch_05_with_1_domains", f->keys); /* not canonical */
	assert_int_equal(close(open(junk, O_CREAT | O_WRONLY, 0600)), 0);
	assert_int_equal(mpc_bcli_read_secrets(f->home, &sec, &e), MPC_OK);
	assert_memory_equal(sec->p2p_private_key, f->p2p, 32);
	assert_memory_equal(sec->near_signer_key, f->signer, 32);
	assert_memory_equal(sec->local_storage_aes_key, f->aes, 16);
	assert_int_equal(mpc_bcli_list(f->keys, f->link, &l, &e), MPC_OK);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.n_ignored, 1);
	assert_string_equal(l.items[0].name, "epoch_3_with_1_domains");
	assert_string_equal(l.items[1].name, "epoch_4_with_2_domains");
	assert_false(l.items[0].current);
	assert_true(l.items[1].current); /* HOME/key is the newest */
	for (size_t i = 0; i < 2; i++) {
		const struct sf_set *want = i == 0 ? &f->e3 : &f->e4;

		memset(&k, 0, sizeof(k));
		assert_int_equal(mpc_bcli_open_file(f->keys, &l.items[i], sec->local_storage_aes_key,
						    &k, &e),
				 MPC_OK);
		assert_true(mpc_keyset_equal(&k.ks, &want->ks));
		/* the keyshares are the node's Keyshare array and validate against the keyset the
		 * test made independently */
		assert_int_equal(mpc_keyshares_validate(k.keyshares, k.len, &want->ks, &e), MPC_OK);
		mpc_bcli_keyset_free(&k);
	}
	mpc_bcli_listing_free(&l);
	mpc_bcli_secrets_free(sec);
}

static void expect_open_fails(struct fx *f, const char *name, const uint8_t *key, int code,
			      const char *needle)
{
	struct mpc_bcli_file bf;
	struct mpc_bcli_keyset k;
	struct mpc_err e = { 0 };
	char *end;

	memset(&bf, 0, sizeof(bf));
	snprintf(bf.name, sizeof(bf.name), "%s", name);
	bf.epoch = strtoull(name + 6, &end, 10);
	assert_int_equal(strncmp(end, "_with_", 6), 0);
	bf.n_domains = strtoull(end + 6, &end, 10);
	assert_string_equal(end, "_domains");
	assert_int_equal(mpc_bcli_open_file(f->keys, &bf, key, &k, &e), code);
	assert_null(k.keyshares);
	if (strstr(e.msg, needle) == NULL || strstr(e.msg, name) == NULL)
		fail_msg("message \"%s\" lacks \"%s\" or the file name", e.msg, needle);
}

static void test_hostile_files(void **state)
{
	struct fx *f = *state;
	uint8_t wrong[16];
	char path[256], cmd[2048];
	int fd;

	memcpy(wrong, f->aes, 16);
	wrong[0] ^= 1;
	expect_open_fails(f, "epoch_4_with_2_domains", wrong, MPC_ERR_AUTH, "tag does not verify");
	/* truncated: one byte off the tag, and shorter than nonce + tag */
	snprintf(cmd, sizeof(cmd), "cp %s/epoch_4_with_2_domains %s/epoch_6_with_2_domains && "
		 "truncate -s -1 %s/epoch_6_with_2_domains && head -c 20 %s/epoch_4_with_2_domains "
		 "> %s/epoch_7_with_2_domains", f->keys, f->keys, f->keys, f->keys, f->keys);
	assert_int_equal(system(cmd), 0);
	expect_open_fails(f, "epoch_6_with_2_domains", f->aes, MPC_ERR_AUTH, "tag does not verify");
	expect_open_fails(f, "epoch_7_with_2_domains", f->aes, MPC_ERR_PARSE, "too short");
	/* a file name that disagrees with the content: epoch, and number of domains */
	snprintf(cmd, sizeof(cmd), "cp %s/epoch_4_with_2_domains %s/epoch_5_with_2_domains && "
		 "cp %s/epoch_4_with_2_domains %s/epoch_4_with_1_domains", f->keys, f->keys, f->keys,
		 f->keys);
	assert_int_equal(system(cmd), 0);
	expect_open_fails(f, "epoch_5_with_2_domains", f->aes, MPC_ERR_INVALID,
			  "content's epoch_id is 4");
	expect_open_fails(f, "epoch_4_with_1_domains", f->aes, MPC_ERR_INVALID, "2 keyshares");
	/* keyshares of another epoch inside a file of epoch 9 */
	{
		uint8_t *js;
		size_t len;
		char *pt;

		assert_int_equal(sf_shares_json(f->e4.shares, f->e4.n, &js, &len), 0);
		pt = bw_permanent_json(9, js, len);
		assert_int_equal(bw_write_keyfile(f->keys, "epoch_9_with_2_domains", f->aes,
						  (uint8_t *)pt, strlen(pt), NULL), 0);
		free(pt);
		mpc_secure_free(js);
		expect_open_fails(f, "epoch_9_with_2_domains", f->aes, MPC_ERR_INVALID,
				  "is of epoch 4");
	}
	/* oversized (sparse) */
	snprintf(path, sizeof(path), "%s/epoch_8_with_1_domains", f->keys);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)MPC_BCLI_FILE_MAX + 1), 0);
	close(fd);
	expect_open_fails(f, "epoch_8_with_1_domains", f->aes, MPC_ERR_TOO_LARGE, "over the");
	/* a symlink in place of a keyshare file */
	snprintf(cmd, sizeof(cmd), "ln -s epoch_4_with_2_domains %s/epoch_10_with_2_domains",
		 f->keys);
	assert_int_equal(system(cmd), 0);
	expect_open_fails(f, "epoch_10_with_2_domains", f->aes, MPC_ERR_STATE, "symbolic link");
	/* world-writable */
	snprintf(path, sizeof(path), "%s/epoch_4_with_2_domains", f->keys);
	assert_int_equal(chmod(path, 0646), 0);
	expect_open_fails(f, "epoch_4_with_2_domains", f->aes, MPC_ERR_STATE, "chmod");
}

static void test_hostile_secrets(void **state)
{
	struct fx *f = *state;
	struct mpc_bcli_secrets *sec = NULL;
	struct mpc_err e = { 0 };
	char path[256], cmd[2048];
	uint8_t *key = NULL;

	/* readable by others: refused like a PIN file */
	assert_int_equal(bw_write_secrets(f->home, f->p2p, f->signer, f->aes, 0644), 0);
	assert_int_equal(mpc_bcli_read_secrets(f->home, &sec, &e), MPC_ERR_STATE);
	assert_non_null(strstr(e.msg, "secrets.json"));
	assert_null(sec);
	/* a symlink */
	snprintf(cmd, sizeof(cmd), "cd %s && mv secrets.json real.json && chmod 600 real.json && "
		 "ln -s real.json secrets.json", f->home);
	assert_int_equal(system(cmd), 0);
	memset(&e, 0, sizeof(e));
	assert_int_equal(mpc_bcli_read_secrets(f->home, &sec, &e), MPC_ERR_STATE);
	assert_non_null(strstr(e.msg, "symbolic link"));
	/* a 15-byte AES key, and a missing field: parse errors that quote no secret */
	snprintf(path, sizeof(path), "%s/secrets.json", f->home);
	unlink(path);
	snprintf(cmd, sizeof(cmd), "printf '{\"p2p_private_key\":[%s],\"near_signer_key\":[%s],"
		 "\"local_storage_aes_key\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]}' > %s && "
		 "chmod 600 %s",
		 "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32",
		 "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32",
		 path, path);
	assert_int_equal(system(cmd), 0);
	memset(&e, 0, sizeof(e));
	assert_int_equal(mpc_bcli_read_secrets(f->home, &sec, &e), MPC_ERR_PARSE);
	assert_non_null(strstr(e.msg, "local_storage_aes_key"));
	assert_null(strstr(e.msg, "21,22"));
	/* the node's local key file: 32 hex digits, not readable by others */
	snprintf(path, sizeof(path), "%s/local.key", f->tmp);
	snprintf(cmd, sizeof(cmd), "printf '00112233445566778899aabbccddeeff\\n' > %s && chmod 604 %s",
		 path, path);
	assert_int_equal(system(cmd), 0);
	memset(&e, 0, sizeof(e));
	assert_int_equal(mpc_bcli_read_local_key(path, &key, &e), MPC_ERR_STATE);
	assert_int_equal(chmod(path, 0600), 0);
	memset(&e, 0, sizeof(e));
	assert_int_equal(mpc_bcli_read_local_key(path, &key, &e), MPC_OK);
	assert_int_equal(key[0], 0x00);
	assert_int_equal(key[15], 0xff);
	mpc_secure_free(key);
	key = NULL;
	snprintf(cmd, sizeof(cmd), "printf '0011' > %s", path);
	assert_int_equal(system(cmd), 0);
	memset(&e, 0, sizeof(e));
	assert_int_equal(mpc_bcli_read_local_key(path, &key, &e), MPC_ERR_PARSE);
	assert_null(key);
}

/* Seal both keysets from the home into the store, as `import` does. */
static void import_all(struct fx *f)
{
	struct mpc_bcli_listing l;
	struct mpc_err e = { 0 };
	struct mpc_store_put_opts po;

	memset(&po, 0, sizeof(po));
	po.tokens = &f->t;
	po.n_tokens = 1;
	po.mech = MPC_SEAL_AUTO;
	assert_int_equal(mpc_bcli_list(f->keys, f->link, &l, &e), MPC_OK);
	for (size_t i = 0; i < l.n; i++) {
		struct mpc_bcli_keyset k;

		assert_int_equal(mpc_bcli_open_file(f->keys, &l.items[i], f->aes, &k, &e), MPC_OK);
		assert_int_equal(mpc_store_put(f->s, &po, &k.ks, k.keyshares, k.len, NULL, &e),
				 MPC_OK);
		mpc_bcli_keyset_free(&k);
	}
	mpc_bcli_listing_free(&l);
}

static void test_import_and_drill(void **state)
{
	struct fx *f = *state;
	struct mpc_drill_report r;
	struct mpc_err e = { 0 };
	struct mpc_keyset other;

	import_all(f);
	/* the contract is at epoch 4 with exactly the imported keys */
	assert_int_equal(mpc_drill_run(f->s, &f->t, 1, &f->e4.ks, &r, &e), MPC_OK);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.items[0].verdict, MPC_DRILL_OLDER);
	assert_int_equal(r.items[1].verdict, MPC_DRILL_CURRENT);
	assert_int_equal(r.n_opened, 2);
	assert_true(r.restorable);
	assert_string_equal(r.restored, r.items[1].name);
	{
		char text[2048];

		assert_true(mpc_drill_metrics_text(&r, text, sizeof(text), &e) > 0);
		assert_non_null(strstr(text, "mpc_backup_last_drill_restorable 1\n"));
		assert_non_null(strstr(text, "mpc_backup_last_drill_contract_epoch 4\n"));
		assert_non_null(strstr(text, "mpc_backup_last_drill_files{verdict=\"current\"} 1\n"));
		assert_non_null(strstr(text, "mpc_backup_last_drill_files{verdict=\"older\"} 1\n"));
		assert_non_null(strstr(text, "mpc_backup_last_drill_files{verdict=\"failed\"} 0\n"));
		assert_int_equal(mpc_drill_metrics_text(&r, text, 40, &e), -1);
	}
	mpc_drill_report_free(&r);
	/* the contract has another public key for domain 1 */
	assert_int_equal(mpc_keyset_copy(&other, &f->e4.ks, &e), MPC_OK);
	other.domains[1].pk[5] ^= 1;
	assert_int_equal(mpc_drill_run(f->s, &f->t, 1, &other, &r, &e), MPC_OK);
	assert_int_equal(r.items[1].verdict, MPC_DRILL_MISMATCH);
	assert_int_equal(r.n_mismatch, 1);
	assert_false(r.restorable);
	assert_non_null(strstr(r.problem, "domain 1"));
	assert_false(r.none_of_epoch);
	mpc_drill_report_free(&r);
	/* the contract added a domain: the stored keyset is superseded, not restorable */
	other.domains[1].pk[5] ^= 1;
	{
		struct mpc_domain_key *nd = realloc(other.domains, 3 * sizeof(*nd));

		assert_non_null(nd);
		other.domains = nd;
		other.domains[2] = other.domains[0];
		other.domains[2].domain_id = 7;
		other.n_domains = 3;
	}
	assert_int_equal(mpc_drill_run(f->s, &f->t, 1, &other, &r, &e), MPC_OK);
	assert_int_equal(r.items[1].verdict, MPC_DRILL_SUPERSEDED);
	assert_false(r.restorable);
	mpc_drill_report_free(&r);
	/* the contract moved on to epoch 5: nothing of that epoch is stored */
	other.n_domains = 2;
	other.epoch_id = 5;
	assert_int_equal(mpc_drill_run(f->s, &f->t, 1, &other, &r, &e), MPC_OK);
	assert_false(r.restorable);
	assert_non_null(strstr(r.problem, "epoch 5"));
	assert_true(r.none_of_epoch);
	mpc_drill_report_free(&r);
	mpc_keyset_free(&other);
	/* a damaged newest file: found by the drill, never a fallback */
	{
		char path[512], name[MPC_STORE_NAME_MAX];
		size_t bad = 9;
		int fd;
		uint8_t b;

		assert_int_equal(mpc_drill_run(f->s, &f->t, 1, NULL, &r, &e), MPC_OK);
		assert_true(r.restorable);
		snprintf(name, sizeof(name), "%s", r.items[1].name);
		snprintf(path, sizeof(path), "%s/%s", f->store_dir, name);
		mpc_drill_report_free(&r);
		fd = open(path, O_RDWR);
		assert_true(fd >= 0);
		assert_int_equal(pread(fd, &b, 1, 200), 1);
		b ^= 0x40;
		assert_int_equal(pwrite(fd, &b, 1, 200), 1);
		close(fd);
		assert_int_equal(mpc_drill_run(f->s, &f->t, 1, &f->e4.ks, &r, &e), MPC_OK);
		for (size_t i = 0; i < r.n; i++)
			if (strcmp(r.items[i].name, name) == 0)
				bad = i;
		assert_true(bad < r.n);
		assert_int_equal(r.items[bad].verdict, MPC_DRILL_FAILED);
		assert_int_equal(r.n_failed, 1);
		assert_false(r.restorable);
		mpc_drill_report_free(&r);
	}
}

static void test_tls_import(void **state)
{
	struct fx *f = *state;
	struct mpc_err e = { 0 };
	uint8_t pub[32], pub_tok[32], want[32], sig[64];
	size_t n = 32;
	struct mpc_key_attrs a;
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, f->p2p, 32);
	EVP_PKEY *vk;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	static const uint8_t msg[] = "the node's TLS 1.3 CertificateVerify input";

	assert_non_null(k);
	assert_int_equal(EVP_PKEY_get_raw_public_key(k, want, &n), 1);
	EVP_PKEY_free(k);
	assert_int_equal(mpc_ed25519_import_tls(f->t, f->p2p, pub, &e), MPC_OK);
	assert_memory_equal(pub, want, 32);
	assert_int_equal(mpc_ed25519_public_key(f->t, pub_tok, &e), MPC_OK);
	assert_memory_equal(pub_tok, want, 32);
	assert_int_equal(mpc_key_attrs(f->t, MPC_KEY_TLS_PRIVATE, &a, &e), MPC_OK);
	assert_int_equal(a.sensitive, 1);
	assert_int_equal(a.extractable, 0);
	assert_int_equal(a.sign, 1);
	/* imported, not generated: the token says it was never anything but sensitive only
	 * from now on */
	assert_int_equal(a.always_sensitive, 0);
	assert_int_equal(mpc_ed25519_sign(f->t, msg, sizeof(msg), sig, &e), MPC_OK);
	vk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, want, 32);
	assert_non_null(vk);
	assert_int_equal(EVP_DigestVerifyInit(md, NULL, NULL, NULL, vk), 1);
	assert_int_equal(EVP_DigestVerify(md, sig, 64, msg, sizeof(msg)), 1);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(vk);
	/* never overwritten */
	memset(&e, 0, sizeof(e));
	assert_int_equal(mpc_ed25519_import_tls(f->t, f->signer, pub, &e), MPC_ERR_EXISTS);
	assert_int_equal(mpc_ed25519_public_key(f->t, pub_tok, &e), MPC_OK);
	assert_memory_equal(pub_tok, want, 32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_home, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_secrets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_and_drill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_import, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
