/* test_cli_import.c: `mpc-backup import` and `mpc-backup drill` as an operator runs them: a
 * backup-cli home written by the independent writer, a SoftHSM2 token, fake-rpc serving the
 * contract's keyset. Imports seal and say what happened per file and how to destroy the old
 * copies; --tls-key puts the p2p key in the (second) token; drills pass while the store holds
 * the contract's keyset and fail (non-zero, on stderr) once the contract has moved on; wrong
 * keys, loose permissions and a node's permanent_keys with its local key file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "src/util/encoding.h"
#include "src/util/mem.h"
#include "tests/cli/cli_harness.h"
#include "tests/fakes/rpc/fake_rpc_spawn.h"
#include "tests/import/bcli_writer.h"
#include "tests/store/sfix.h"
#include "tests/support/softhsm.h"

#define OPERATOR "n1-multichain.near"

struct fx {
	struct th_softhsm hsm;
	char key[64], tls_uri[512];
	char home[600], keys[700], link[700], store[600], rpcdir[600], rpclog[600];
	struct mpc_fake_rpc rpc;
	struct ch_result r;
	uint8_t p2p[32], signer[32], aes[16];
	struct sf_set e3, e4;
};

/* The mainnet state fixture with `ks` as the Running keyset, as fake-rpc serves it. */
static void write_state(const char *dir, const struct mpc_keyset *ks, uint64_t epoch)
{
	char path[1024], tmp[1200];
	const char *fixtures = getenv("MPC_FIXTURES_DIR");
	json_error_t je;
	json_t *root, *k;
	struct mpc_err e = { 0 };

	assert_non_null(fixtures);
	snprintf(path, sizeof(path), "%s/near-mpc/mainnet-contract-state.json", fixtures);
	root = json_load_file(path, 0, &je);
	assert_non_null(root);
	k = mpc_keyset_to_json(ks, &e);
	assert_non_null(k);
	json_object_set_new(k, "epoch_id", json_integer((json_int_t)epoch));
	assert_int_equal(json_object_set_new(json_object_get(root, "Running"), "keyset", k), 0);
	snprintf(tmp, sizeof(tmp), "%s/state.json.tmp", dir);
	snprintf(path, sizeof(path), "%s/state.json", dir);
	assert_int_equal(json_dump_file(root, tmp, JSON_COMPACT), 0);
	assert_int_equal(rename(tmp, path), 0);
	json_decref(root);
}

static void write_set(const char *dir, const uint8_t aes[16], const struct sf_set *set,
		      const char *name, const char *link)
{
	uint8_t *js;
	size_t len;
	char *pt;

	assert_int_equal(sf_shares_json(set->shares, set->n, &js, &len), 0);
	pt = bw_permanent_json(set->ks.epoch_id, js, len);
	assert_non_null(pt);
	assert_int_equal(bw_write_keyfile(dir, name, aes, (uint8_t *)pt, strlen(pt), link), 0);
	free(pt);
	mpc_secure_free(js);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char text[512], path[700];

	assert_non_null(f);
	assert_int_equal(th_softhsm_setup(&f->hsm, "mpc-backup", NULL), 0);
	ch_token_init(f->hsm.uri, f->key);
	/* a second token without keys, to receive the imported TLS key */
	assert_int_equal(th_softhsm_add_token(&f->hsm, "tls-b", f->tls_uri), 0);
	snprintf(f->home, sizeof(f->home), "%s/bcli", f->hsm.dir);
	snprintf(f->keys, sizeof(f->keys), "%s/permanent_keys", f->home);
	snprintf(f->link, sizeof(f->link), "%s/key", f->home);
	snprintf(f->store, sizeof(f->store), "%s/store", f->hsm.dir);
	snprintf(f->rpcdir, sizeof(f->rpcdir), "%s/rpc", f->hsm.dir);
	snprintf(f->rpclog, sizeof(f->rpclog), "%s/rpc.log", f->hsm.dir);
	assert_int_equal(mkdir(f->home, 0700), 0);
	assert_int_equal(mkdir(f->keys, 0700), 0);
	assert_int_equal(mkdir(f->rpcdir, 0700), 0);
	assert_int_equal(RAND_bytes(f->p2p, 32), 1);
	assert_int_equal(RAND_bytes(f->signer, 32), 1);
	assert_int_equal(RAND_bytes(f->aes, 16), 1);
	assert_int_equal(sf_synthetic_set(3, 1, 5, &f->e3), 0);
	assert_int_equal(sf_fixture_set(1, &f->e4), 0);
	assert_int_equal(bw_write_secrets(f->home, f->p2p, f->signer, f->aes, 0600), 0);
	write_set(f->keys, f->aes, &f->e3, "epoch_3_with_1_domains", f->link);
	write_set(f->keys, f->aes, &f->e4, "epoch_4_with_2_domains", f->link);
	write_state(f->rpcdir, &f->e4.ks, 4);
	snprintf(text, sizeof(text), "{\"" OPERATOR "\":[{\"public_key\":\"%s\"},null]}", f->key);
	ch_write(f->rpcdir, "migration_info.json", text, path);
	assert_int_equal(mpc_fake_rpc_start(&f->rpc, f->rpcdir, NULL, f->rpclog), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	mpc_fake_rpc_stop(&f->rpc);
	ch_result_free(&f->r);
	sf_set_free(&f->e3);
	sf_set_free(&f->e4);
	th_softhsm_teardown(&f->hsm);
	free(f);
	return 0;
}

/* No byte of the secrets shows in any output, in hex or as serde's numbers. */
static void no_secrets(const struct fx *f)
{
	char hex[65], nums[200];
	struct mpc_err e = { 0 };

	assert_int_equal(mpc_hex_encode(f->aes, 16, hex, sizeof(hex), &e), MPC_OK);
	snprintf(nums, sizeof(nums), "%u,%u,%u,%u", f->p2p[0], f->p2p[1], f->p2p[2], f->p2p[3]);
	if (strstr(f->r.out, hex) || strstr(f->r.err, hex) || strstr(f->r.out, nums) ||
	    strstr(f->r.err, nums))
		fail_msg("a secret shows in the output:\n%s\n%s", f->r.out, f->r.err);
}

static void test_import_then_drill(void **state)
{
	struct fx *f = *state;
	uint8_t want[32];
	char want_str[MPC_ED25519_KEY_STR_MAX], line[200];
	size_t n = 32;
	struct mpc_err e = { 0 };
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, f->p2p, 32);

	assert_non_null(k);
	assert_int_equal(EVP_PKEY_get_raw_public_key(k, want, &n), 1);
	EVP_PKEY_free(k);
	assert_int_equal(mpc_ed25519_key_format(want, want_str, &e), MPC_OK);

	ch_run(&f->r, NULL, NULL, "import", "backup-cli", "--home", f->home, "--store", f->store,
	       "--token", f->hsm.uri, "--tls-token", f->tls_uri, "--tls-key", "--rpc-url",
	       f->rpc.url, "--account", OPERATOR, (char *)NULL);
	ch_expect(&f->r, 0, "epoch_4_with_2_domains  epoch 4  imported  sealed as keyset-e");
	assert_non_null(strstr(f->r.out, "matches the contract's keyset"));
	assert_non_null(strstr(f->r.out, "epoch_3_with_1_domains  epoch 3  imported"));
	assert_non_null(strstr(f->r.out, "an older epoch than the contract's"));
	snprintf(line, sizeof(line), "recorded as imported: CKA_LOCAL false): %s", want_str);
	assert_non_null(strstr(f->r.out, line));
	assert_non_null(strstr(f->r.out, "Nothing was deleted"));
	assert_non_null(strstr(f->r.out, "shred -u"));
	no_secrets(f);
	/* the old files are untouched */
	assert_int_equal(ch_count_files(f->keys, "_domains"), 2);
	assert_int_equal(ch_count_files(f->store, ".mpcs"), 2);

	/* again: already there; the TLS key is never overwritten */
	ch_run(&f->r, NULL, NULL, "import", "backup-cli", "--home", f->home, "--store", f->store,
	       "--token", f->hsm.uri, (char *)NULL);
	ch_expect(&f->r, 0, "already in the store");
	ch_run(&f->r, NULL, NULL, "import", "backup-cli", "--json", "--home", f->home, "--store",
	       f->store, "--token", f->hsm.uri, (char *)NULL);
	ch_expect(&f->r, 0, "\"outcome\": \"present\"");
	{
		json_error_t je;
		json_t *j = json_loads(f->r.out, 0, &je);

		assert_non_null(j); /* nothing but the JSON document on stdout */
		assert_int_equal(json_array_size(json_object_get(j, "files")), 2);
		json_decref(j);
	}
	ch_run(&f->r, NULL, NULL, "import", "backup-cli", "--home", f->home, "--store", f->store,
	       "--token", f->hsm.uri, "--tls-token", f->tls_uri, "--tls-key", (char *)NULL);
	assert_int_not_equal(f->r.status, 0);
	assert_non_null(strstr(f->r.err, "already holds a TLS key"));
	/* --json: the per-file results are printed although the TLS-key step failed after them */
	ch_run(&f->r, NULL, NULL, "import", "backup-cli", "--json", "--home", f->home, "--store",
	       f->store, "--token", f->hsm.uri, "--tls-token", f->tls_uri, "--tls-key",
	       (char *)NULL);
	assert_int_not_equal(f->r.status, 0);
	assert_non_null(strstr(f->r.err, "already holds a TLS key"));
	{
		json_error_t je;
		json_t *j = json_loads(f->r.out, 0, &je);

		assert_non_null(j);
		assert_int_equal(json_array_size(json_object_get(j, "files")), 2);
		assert_non_null(strstr(json_string_value(json_object_get(j, "error")),
				       "already holds a TLS key"));
		json_decref(j);
	}

	/* the drill: current and older, restorable */
	ch_run(&f->r, NULL, NULL, "drill", "--store", f->store, "--token", f->hsm.uri, "--rpc-url",
	       f->rpc.url, "--account", OPERATOR, (char *)NULL);
	ch_expect(&f->r, 0, "restorable: keyset-e");
	assert_non_null(strstr(f->r.out, "epoch 4  current"));
	assert_non_null(strstr(f->r.out, "epoch 3  older"));
	ch_run(&f->r, NULL, NULL, "drill", "--json", "--store", f->store, "--token", f->hsm.uri,
	       "--rpc-url", f->rpc.url, "--account", OPERATOR, (char *)NULL);
	ch_expect(&f->r, 0, "\"restorable\": true");
	/* the same from the monitor's configuration file */
	{
		char text[2048], conf[800];

		snprintf(text, sizeof(text), "token = %s\nstore = %s\nrpc_url = %s\naccount = %s\n",
			 f->hsm.uri, f->store, f->rpc.url, OPERATOR);
		ch_write(f->hsm.dir, "run.conf", text, conf);
		assert_int_equal(chmod(conf, 0600), 0);
		ch_run(&f->r, NULL, NULL, "drill", "--config", conf, (char *)NULL);
		ch_expect(&f->r, 0, "epoch 4  current");
		/* import with the same file (docs/operations.md's form): already there */
		ch_run(&f->r, NULL, NULL, "import", "backup-cli", "--home", f->home, "--store",
		       f->store, "--config", conf, (char *)NULL);
		ch_expect(&f->r, 0, "already in the store");
	}
	/* the drill unsealing with the token named by --seal-to */
	ch_run(&f->r, NULL, NULL, "drill", "--store", f->store, "--token", f->hsm.uri, "--seal-to",
	       f->hsm.uri, (char *)NULL);
	ch_expect(&f->r, 0, "restorable: keyset-e");
	/* the contract moves to epoch 5: the store cannot restore it */
	write_state(f->rpcdir, &f->e4.ks, 5);
	ch_run(&f->r, NULL, NULL, "drill", "--store", f->store, "--token", f->hsm.uri, "--rpc-url",
	       f->rpc.url, "--account", OPERATOR, (char *)NULL);
	assert_int_not_equal(f->r.status, 0);
	assert_non_null(strstr(f->r.err, "no stored keyset of the contract's epoch 5"));
	assert_non_null(strstr(f->r.out, "epoch 4  older"));
}

static void test_refusals(void **state)
{
	struct fx *f = *state;
	char path[800], cmd[2000];

	/* a keyset that disagrees with the contract is not sealed */
	{
		struct mpc_keyset other;
		struct mpc_err e = { 0 };

		assert_int_equal(mpc_keyset_copy(&other, &f->e4.ks, &e), MPC_OK);
		other.domains[0].attempt++;
		write_state(f->rpcdir, &other, 4);
		mpc_keyset_free(&other);
	}
	ch_run(&f->r, NULL, NULL, "import", "backup-cli", "--home", f->home, "--store", f->store,
	       "--token", f->hsm.uri, "--rpc-url", f->rpc.url, "--account", OPERATOR,
	       (char *)NULL);
	assert_int_not_equal(f->r.status, 0);
	assert_non_null(strstr(f->r.out, "does not match the contract: domain 0: the attempt"));
	assert_int_equal(ch_count_files(f->store, ".mpcs"), 1); /* epoch 3 only */

	/* secrets.json readable by others */
	snprintf(path, sizeof(path), "%s/secrets.json", f->home);
	assert_int_equal(chmod(path, 0644), 0);
	ch_run(&f->r, NULL, NULL, "import", "backup-cli", "--home", f->home, "--store", f->store,
	       "--token", f->hsm.uri, (char *)NULL);
	assert_int_not_equal(f->r.status, 0);
	ch_expect_one_error_line(&f->r, "import");
	assert_non_null(strstr(f->r.err, "chmod o-rwx"));

	/* a node's permanent_keys with its local key file; then with a wrong key */
	snprintf(path, sizeof(path), "%s/local.key", f->hsm.dir);
	{
		char hex[33];
		struct mpc_err e = { 0 };
		FILE *fp;

		assert_int_equal(mpc_hex_encode(f->aes, 16, hex, sizeof(hex), &e), MPC_OK);
		fp = fopen(path, "w");
		assert_non_null(fp);
		fprintf(fp, "%s\n", hex);
		assert_int_equal(fclose(fp), 0);
		assert_int_equal(chmod(path, 0600), 0);
	}
	snprintf(cmd, sizeof(cmd), "%s/store2", f->hsm.dir);
	write_state(f->rpcdir, &f->e4.ks, 4);
	ch_run(&f->r, NULL, NULL, "import", "node-keys", "--keys-dir", f->keys, "--local-key-file",
	       path, "--store", cmd, "--token", f->hsm.uri, "--rpc-url", f->rpc.url, "--account",
	       OPERATOR, (char *)NULL);
	ch_expect(&f->r, 0, "matches the contract's keyset");
	no_secrets(f);
	{
		FILE *fp = fopen(path, "w");

		assert_non_null(fp);
		fprintf(fp, "00112233445566778899aabbccddeeff\n");
		assert_int_equal(fclose(fp), 0);
	}
	snprintf(cmd, sizeof(cmd), "%s/store3", f->hsm.dir);
	ch_run(&f->r, NULL, NULL, "import", "node-keys", "--keys-dir", f->keys, "--local-key-file",
	       path, "--store", cmd, "--token", f->hsm.uri, (char *)NULL);
	assert_int_not_equal(f->r.status, 0);
	assert_non_null(strstr(f->r.out, "epoch_4_with_2_domains does not decrypt"));
	assert_int_equal(ch_count_files(cmd, ".mpcs"), 0);
	/* usage */
	ch_run(&f->r, NULL, NULL, "import", "backup-cli", "--store", cmd, (char *)NULL);
	assert_int_equal(f->r.status, 2);
	/* a path too long for the reader's buffers is refused, not cut short */
	{
		static char longp[4200];

		memset(longp, 'a', sizeof(longp) - 1);
		longp[0] = '/';
		ch_run(&f->r, NULL, NULL, "import", "backup-cli", "--home", longp, "--store", cmd,
		       "--token", f->hsm.uri, (char *)NULL);
		assert_int_equal(f->r.status, 2);
		assert_non_null(strstr(f->r.err, "path over"));
		ch_run(&f->r, NULL, NULL, "import", "node-keys", "--keys-dir", f->keys,
		       "--local-key-file", longp, "--store", cmd, "--token", f->hsm.uri,
		       (char *)NULL);
		assert_int_equal(f->r.status, 2);
		assert_non_null(strstr(f->r.err, "path over"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_import_then_drill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	};

	return CH_MAIN(tests);
}
