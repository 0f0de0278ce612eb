/* test_vendor_e2e.c: the mpc-backup program end to end against each vendor stand-in
 * (tests/vendor/standin.c): key ceremony, backup from a fake node, store verify, restore
 * (the migration push) into another fake node. Where the vendor lacks Ed25519 the TLS key is
 * in a plain SoftHSM2 token (--tls-token) and the sealing keys in the stand-in
 * (--seal-token). Where the product does not support the vendor yet (kmsp11), the test checks
 * that it refuses clearly, before fetching anything, and stores nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/cli/cli_harness.h"
#include "tests/support/softhsm.h"

struct fx {
	struct th_softhsm hsm;   /* token "mpc-backup": the TLS key where the vendor has none */
	char vendor_uri[1024];   /* the stand-in's token */
	char key[64];            /* the TLS public key */
	char keyshares[512], keyset[512], store[512], received[512];
	struct nh_node a, b;
	char addr_a[64], addr_b[64];
	struct ch_result r;
	char ev[8192];
};

static int setup_profile(void **state, const char *profile)
{
	struct fx *f = calloc(1, sizeof(*f));
	char uri[512];

	assert_non_null(f);
	assert_int_equal(th_softhsm_setup(&f->hsm, "mpc-backup", NULL), 0);
	assert_int_equal(th_softhsm_add_token(&f->hsm, "vendor", uri), 0);
	setenv("MPC_STANDIN_MODULE", f->hsm.module, 1);
	setenv("MPC_STANDIN_PROFILE", profile, 1);
	setenv("MPC_STANDIN_TOKEN", "vendor", 1);
	setenv("MPC_BACKUP_TRANSPORT_KEY_HEX", NH_TRANSPORT_KEY_HEX, 1);
	snprintf(f->vendor_uri, sizeof(f->vendor_uri), "pkcs11:token=%s?module-path=%s",
		 strcmp(profile, "yubihsm2") == 0 ? "YubiHSM" : "vendor", getenv("MPC_STANDIN"));
	ch_write(f->hsm.dir, "keyshares.json", nh_mainnet_keyshares_json(), f->keyshares);
	ch_write(f->hsm.dir, "keyset4.json", CH_KEYSET_E4, f->keyset);
	snprintf(f->store, sizeof(f->store), "%s/store", f->hsm.dir);
	snprintf(f->received, sizeof(f->received), "%s/received.json", f->hsm.dir);
	*state = f;
	return 0;
}

static int setup_yubihsm2(void **state)
{
	return setup_profile(state, "yubihsm2");
}

static int setup_cloudhsm(void **state)
{
	return setup_profile(state, "cloudhsm");
}

static int setup_kmsp11(void **state)
{
	return setup_profile(state, "kmsp11");
}

static int teardown(void **state)
{
	struct fx *f = *state;

	nh_stop(&f->a);
	nh_stop(&f->b);
	ch_result_free(&f->r);
	th_softhsm_teardown(&f->hsm);
	unsetenv("MPC_BACKUP_TRANSPORT_KEY_HEX");
	free(f);
	return 0;
}

static void start_nodes(struct fx *f)
{
	const char *a[] = { "--client-key", f->key, "--keyshares", f->keyshares, NULL };
	const char *b[] = { "--client-key", f->key, "--received", f->received, NULL };

	assert_int_equal(nh_start(&f->a, a), 0);
	snprintf(f->addr_a, sizeof(f->addr_a), "127.0.0.1:%u", f->a.port);
	assert_int_equal(nh_start(&f->b, b), 0);
	snprintf(f->addr_b, sizeof(f->addr_b), "127.0.0.1:%u", f->b.port);
}

/* Run `mpc-backup CMD [SUB] <token options> REST...`; tls/seal NULL: --token tok alone. */
static int run(struct fx *f, const char *tok, const char *tls, const char *seal,
	       const char *const *cmd)
{
	const char *args[48];
	int n = 0;

	for (; cmd[n] != NULL && n < 30; n++)
		args[n] = cmd[n];
	if (tok != NULL) {
		args[n++] = "--token";
		args[n++] = tok;
	}
	if (tls != NULL) {
		args[n++] = "--tls-token";
		args[n++] = tls;
	}
	if (seal != NULL) {
		args[n++] = "--seal-token";
		args[n++] = seal;
	}
	args[n] = NULL;
	return ch_runv(&f->r, NULL, NULL, args);
}

static void key_from_output(struct fx *f)
{
	const char *p = strstr(f->r.out, "TLS public key: ");

	assert_non_null(p);
	p += 16;
	snprintf(f->key, sizeof(f->key), "%.*s", (int)strcspn(p, "\n"), p);
}

/* Ceremony done: backup from A, the store lists the mechanism, verify, restore into B. */
static void cycle(struct fx *f, const char *tok, const char *tls, const char *seal,
		  const char *mech)
{
	const char *backup[] = { "backup", "--store", f->store, "--node", f->addr_a,
				 "--node-key", f->a.key_str, "--keyset", f->keyset, NULL };
	const char *list[] = { "store", "list", "--store", f->store, NULL };
	const char *verify[] = { "store", "verify", "--store", f->store, NULL };
	const char *restore[] = { "restore", "--store", f->store, "--node", f->addr_b,
				  "--node-key", f->b.key_str, NULL };
	const char *want = nh_mainnet_served_json();
	size_t len = 0;
	char *got;

	run(f, tok, tls, seal, backup);
	ch_expect(&f->r, 0, NULL);
	ch_node_events_until(&f->a, "GET ", f->ev, sizeof(f->ev));
	ch_runv(&f->r, NULL, NULL, list);
	ch_expect(&f->r, 0, mech);
	run(f, tok, tls, seal, verify);
	ch_expect(&f->r, 0, NULL);
	run(f, tok, tls, seal, restore);
	ch_expect(&f->r, 0, NULL);
	got = ch_read(f->received, &len);
	assert_non_null(got);
	if (len != strlen(want) || memcmp(got, want, len) != 0)
		fail_msg("node B received %zu bytes:\n%s\nnode A served:\n%s", len, got, want);
	free(got);
}

/* YubiHSM 2: everything in the one device; sealing by CBC+HMAC (no GCM). */
static void test_yubihsm2(void **state)
{
	struct fx *f = *state;
	const char *init[] = { "token", "init", NULL };

	run(f, f->vendor_uri, NULL, NULL, init);
	ch_expect(&f->r, 0, "mpc-backup-seal-hmac");
	assert_null(strstr(f->r.out, "mpc-backup-seal-gcm"));
	key_from_output(f);
	run(f, f->vendor_uri, NULL, NULL, init); /* idempotent: same key, nothing new */
	ch_expect(&f->r, 0, f->key);
	start_nodes(f);
	cycle(f, f->vendor_uri, NULL, NULL, "aes-256-cbc-hmac-sha256");
}

/* CloudHSM (hsm1, no Ed25519): TLS key in SoftHSM2, sealing (GCM, token-written IV) in the
 * stand-in. The one-token ceremony is refused with a pointer to --tls-token. */
static void test_cloudhsm_split(void **state)
{
	struct fx *f = *state;
	const char *init[] = { "token", "init", NULL };

	run(f, f->vendor_uri, NULL, NULL, init);
	ch_expect(&f->r, 16, "--tls-token");
	run(f, NULL, f->hsm.uri, f->vendor_uri, init);
	ch_expect(&f->r, 0, "TLS public key: ed25519:");
	key_from_output(f);
	start_nodes(f);
	cycle(f, NULL, f->hsm.uri, f->vendor_uri, "aes-256-gcm");
}

/* kmsp11: the ceremony's template is not one kmsp11 accepts (remaining work), so `token init`
 * fails clearly; a backup with no sealing keys is refused before anything is fetched and the
 * store stays empty. */
static void test_kmsp11_refused(void **state)
{
	struct fx *f = *state;
	const char *init[] = { "token", "init", NULL };
	const char *backup[] = { "backup", "--store", f->store, "--node", f->addr_a,
				 "--node-key", f->a.key_str, "--keyset", f->keyset, NULL };

	run(f, NULL, f->hsm.uri, f->vendor_uri, init);
	assert_int_not_equal(f->r.status, 0);
	ch_expect_one_error_line(&f->r, "token init");
	assert_non_null(strstr(f->r.err, "C_GenerateKey"));
	assert_non_null(strstr(f->r.err, "CKR_TEMPLATE_INCONSISTENT"));
	/* the TLS key alone, in SoftHSM2 */
	run(f, f->hsm.uri, NULL, NULL, init);
	ch_expect(&f->r, 0, "TLS public key: ed25519:");
	key_from_output(f);
	start_nodes(f);
	backup[4] = f->addr_a;
	backup[6] = f->a.key_str;
	run(f, NULL, f->hsm.uri, f->vendor_uri, backup);
	assert_int_not_equal(f->r.status, 0);
	ch_expect_one_error_line(&f->r, "backup");
	assert_non_null(strstr(f->r.err, "mpc-backup-seal"));
	ch_node_events_flush(&f->a, f->ev, sizeof(f->ev));
	assert_null(strstr(f->ev, "GET "));
	assert_true(ch_count_files(f->store, ".mpcs") <= 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_yubihsm2, setup_yubihsm2, teardown),
		cmocka_unit_test_setup_teardown(test_cloudhsm_split, setup_cloudhsm, teardown),
		cmocka_unit_test_setup_teardown(test_kmsp11_refused, setup_kmsp11, teardown),
	};

	return CH_MAIN(tests);
}
