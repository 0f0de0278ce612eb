/* test_vendor_e2e.c: the mpc-backup program end to end against each vendor stand-in
 * (tests/vendor/standin.c): key ceremony, backup from a fake node, store verify, restore
 * (the migration push) into another fake node. Where the vendor lacks Ed25519 the TLS key is
 * in a plain SoftHSM2 token (--tls-token) and the sealing keys in the stand-in
 * (--seal-token). CloudHSM's single-part GCM limit: a 64-domain keyset within it (GCM), a
 * 100-domain one over it (CBC+HMAC, chosen before fetching), and over it with no CBC+HMAC
 * keys refused before anything is fetched, naming the limit.
 *
 * A second real implementation: NSS's softokn (Debian libnss3), registered with p11-kit in a
 * private HOME with its initialisation string (x-init-reserved), holds the sealing keys while
 * SoftHSM2 holds the TLS key (NSS 3.87 offers no Ed25519). */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <p11-kit/pkcs11.h>

#include "tests/cli/cli_harness.h"
#include "src/model/keyset.h"
#include "src/store/keyshares.h"
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
static void cycle_want(struct fx *f, const char *tok, const char *tls, const char *seal,
		       const char *mech, const char *want);

static void cycle(struct fx *f, const char *tok, const char *tls, const char *seal,
		  const char *mech)
{
	cycle_want(f, tok, tls, seal, mech, nh_mainnet_served_json());
}

/* The same, node A serving (and node B expected to receive) `want`. */
static void cycle_want(struct fx *f, const char *tok, const char *tls, const char *seal,
		       const char *mech, const char *want)
{
	const char *backup[] = { "backup", "--store", f->store, "--node", f->addr_a,
				 "--node-key", f->a.key_str, "--keyset", f->keyset, NULL };
	const char *list[] = { "store", "list", "--store", f->store, NULL };
	const char *verify[] = { "store", "verify", "--store", f->store, NULL };
	const char *restore[] = { "restore", "--store", f->store, "--node", f->addr_b,
				  "--node-key", f->b.key_str, NULL };
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
	const char *init_as[] = { "token", "init", "--token-profile", "softhsm2", NULL };
	const char *init_bad[] = { "token", "init", "--token-profile", "yubihsm3", NULL };
	const char *drill[] = { "drill", "--config", NULL, NULL };
	char conf[512];

	/* The override is obeyed: under the softhsm2 rules the device refuses the HMAC key */
	run(f, f->vendor_uri, NULL, NULL, init_as);
	assert_int_not_equal(f->r.status, 0);
	ch_expect_one_error_line(&f->r, "token init");
	assert_non_null(strstr(f->r.err, "mpc-backup-seal-hmac"));
	assert_non_null(strstr(f->r.err, "CKR_ATTRIBUTE_VALUE_INVALID"));
	run(f, f->vendor_uri, NULL, NULL, init_bad);
	ch_expect(&f->r, 2, "unknown token profile");
	assert_non_null(strstr(f->r.err, "yubihsm2"));
	ch_write(f->hsm.dir, "bad-profile.conf", "token_profile = hsm\n", conf);
	drill[2] = conf;
	ch_runv(&f->r, NULL, NULL, drill);
	ch_expect(&f->r, 2, "bad-profile.conf:1");
	assert_non_null(strstr(f->r.err, "unknown token profile"));
	/* detected (auto): the HMAC key made the YubiHSM way */
	run(f, f->vendor_uri, NULL, NULL, init);
	ch_expect(&f->r, 0, "mpc-backup-seal-hmac");
	assert_null(strstr(f->r.out, "mpc-backup-seal-gcm"));
	key_from_output(f);
	run(f, f->vendor_uri, NULL, NULL, init); /* idempotent: same key, nothing new */
	ch_expect(&f->r, 0, f->key);
	start_nodes(f);
	cycle(f, f->vendor_uri, NULL, NULL, "aes-256-cbc-hmac-sha256-digest");
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

/* kmsp11 (no EdDSA, no GCM through C_Encrypt, keys made from CKA_LABEL + CKA_KMS_ALGORITHM
 * and named by version in CKA_ID): the TLS key in SoftHSM2, the sealing keys in the stand-in,
 * sealing by CBC+HMAC. The one-token ceremony is refused with a pointer to --tls-token. */
static void test_kmsp11_split(void **state)
{
	struct fx *f = *state;
	const char *init[] = { "token", "init", NULL };

	run(f, f->vendor_uri, NULL, NULL, init);
	ch_expect(&f->r, 16, "--tls-token");
	run(f, NULL, f->hsm.uri, f->vendor_uri, init);
	ch_expect(&f->r, 0, "mpc-backup-seal-hmac");
	assert_non_null(strstr(f->r.out, "mpc-backup-seal-cbc"));
	assert_null(strstr(f->r.out, "mpc-backup-seal-gcm"));
	key_from_output(f);
	run(f, NULL, f->hsm.uri, f->vendor_uri, init); /* idempotent: found by label again */
	ch_expect(&f->r, 0, f->key);
	start_nodes(f);
	cycle(f, NULL, f->hsm.uri, f->vendor_uri, "aes-256-cbc-hmac-sha256");
}

/* A synthetic keyset of n Ed25519 domains and the node's keyshares for it, written to
 * f->keyset and f->keyshares; *served (malloc) is the array the node answers with. */
static void synthetic(struct fx *f, size_t n, char **served)
{
	struct mpc_keyset ks;
	char *json = NULL, *text;
	json_t *j;

	assert_int_equal(nh_synthetic(n, &ks, &json), 0);
	/* what backup computes before fetching is what the node sends */
	assert_int_equal(mpc_keyshares_expected_size(&ks), strlen(json));
	j = mpc_keyset_to_json(&ks, NULL);
	assert_non_null(j);
	text = json_dumps(j, JSON_COMPACT);
	assert_non_null(text);
	ch_write(f->hsm.dir, "keyset-synthetic.json", text, f->keyset);
	ch_write(f->hsm.dir, "keyshares-synthetic.json", json, f->keyshares);
	free(text);
	json_decref(j);
	mpc_keyset_free(&ks);
	*served = json;
}

/* CloudHSM's single-part AES-GCM limit (16384 bytes of input): an n-domain keyset's backup
 * is sealed with `mech` (GCM within the limit, CBC+HMAC over it, chosen before fetching),
 * verified and restored byte for byte. */
static void cloudhsm_domains(struct fx *f, size_t n, const char *mech)
{
	const char *init[] = { "token", "init", NULL };
	char *served = NULL;

	synthetic(f, n, &served);
	run(f, NULL, f->hsm.uri, f->vendor_uri, init);
	ch_expect(&f->r, 0, "TLS public key: ed25519:");
	key_from_output(f);
	start_nodes(f);
	cycle_want(f, NULL, f->hsm.uri, f->vendor_uri, mech, served);
	free(served);
}

static void test_cloudhsm_64_domains(void **state)
{
	struct mpc_keyset ks;

	/* the size computed from a real keyset (mainnet, epoch 4) is the node's answer's */
	assert_int_equal(mpc_keyset_parse(CH_KEYSET_E4, strlen(CH_KEYSET_E4), &ks, NULL), MPC_OK);
	assert_int_equal(mpc_keyshares_expected_size(&ks), strlen(nh_mainnet_served_json()));
	mpc_keyset_free(&ks);
	cloudhsm_domains(*state, 64, "aes-256-gcm"); /* 15351 bytes: within 16368 */
}

static void test_cloudhsm_100_domains(void **state)
{
	cloudhsm_domains(*state, 100, "aes-256-cbc-hmac-sha256"); /* 23991 bytes: over it */
}

/* YubiHSM 2: a device message takes at most 3134 bytes of HMAC input (yubihsm2.hmac-limit),
 * so the blob's HMAC is taken over a SHA-256 digest: a 64-domain keyset (15 KB) is backed up,
 * verified and restored byte for byte. */
static void test_yubihsm2_64_domains(void **state)
{
	struct fx *f = *state;
	const char *init[] = { "token", "init", NULL };
	char *served = NULL;

	synthetic(f, 64, &served);
	run(f, f->vendor_uri, NULL, NULL, init);
	ch_expect(&f->r, 0, "TLS public key: ed25519:");
	key_from_output(f);
	start_nodes(f);
	cycle_want(f, f->vendor_uri, NULL, NULL, "aes-256-cbc-hmac-sha256-digest", served);
	free(served);
}

/* Destroy the one object labelled `label` in the stand-in's token (as an operator would with
 * the vendor's tools). Returns the first failing CK_RV. */
static CK_RV destroy_in_standin(struct fx *f, const char *label)
{
	void *dl = dlopen(getenv("MPC_STANDIN"), RTLD_NOW | RTLD_LOCAL);
	CK_C_GetFunctionList gfl;
	CK_FUNCTION_LIST *fn;
	CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };
	CK_ATTRIBUTE t = { CKA_LABEL, (void *)label, strlen(label) };
	CK_SLOT_ID slot;
	CK_ULONG n = 1;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE h;
	CK_RV rv;

	(void)f;
	if (dl == NULL)
		return CKR_GENERAL_ERROR;
	gfl = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList");
	if (gfl == NULL || gfl(&fn) != CKR_OK) {
		dlclose(dl);
		return CKR_GENERAL_ERROR;
	}
	if ((rv = fn->C_Initialize(&args)) != CKR_OK) {
		dlclose(dl);
		return rv;
	}
	rv = fn->C_GetSlotList(CK_TRUE, &slot, &n);
	if (rv == CKR_OK)
		rv = fn->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
	if (rv == CKR_OK)
		rv = fn->C_Login(s, CKU_USER, (CK_UTF8CHAR *)TH_USER_PIN, strlen(TH_USER_PIN));
	if (rv == CKR_OK)
		rv = fn->C_FindObjectsInit(s, &t, 1);
	if (rv == CKR_OK) {
		rv = fn->C_FindObjects(s, &h, 1, &n);
		(void)fn->C_FindObjectsFinal(s);
	}
	if (rv == CKR_OK)
		rv = n == 1 ? fn->C_DestroyObject(s, h) : CKR_GENERAL_ERROR;
	(void)fn->C_Finalize(NULL);
	dlclose(dl);
	return rv;
}

/* Over the limit with only the GCM key (no CBC+HMAC keys on the token): refused before
 * anything is fetched, naming the limit; nothing stored. The CBC key is removed with the
 * token's own tools (here: Cryptoki through the stand-in). */
static void test_cloudhsm_over_limit_refused(void **state)
{
	struct fx *f = *state;
	const char *init[] = { "token", "init", NULL };
	const char *backup[] = { "backup", "--store", f->store, "--node", NULL,
				 "--node-key", NULL, "--keyset", f->keyset, NULL };
	char *served = NULL;

	synthetic(f, 100, &served);
	free(served);
	run(f, NULL, f->hsm.uri, f->vendor_uri, init);
	ch_expect(&f->r, 0, "TLS public key: ed25519:");
	key_from_output(f);
	assert_int_equal(destroy_in_standin(f, "mpc-backup-seal-cbc"), CKR_OK);
	start_nodes(f);
	backup[4] = f->addr_a;
	backup[6] = f->a.key_str;
	run(f, NULL, f->hsm.uri, f->vendor_uri, backup);
	assert_int_not_equal(f->r.status, 0);
	ch_expect_one_error_line(&f->r, "backup");
	assert_non_null(strstr(f->r.err, "not fetched"));
	assert_non_null(strstr(f->r.err, "16384"));
	ch_node_events_flush(&f->a, f->ev, sizeof(f->ev));
	assert_null(strstr(f->ev, "GET "));
	assert_true(ch_count_files(f->store, ".mpcs") <= 0);
}

#define NSS_SOFTOKN "/usr/lib/x86_64-linux-gnu/libsoftokn3.so"
#define NSS_TOKEN "NSS Certificate DB"

/* NSS's initialisation string for a database in dir. */
static void nss_params(const char *dir, char *out, size_t cap)
{
	snprintf(out, cap,
		 "configdir='sql:%s/nssdb' certPrefix='' keyPrefix='' secmod='secmod.db' flags=",
		 dir);
}

/* Set the user PIN of a new NSS database (as `certutil -N` would): SO login with the empty
 * PIN, C_InitPIN. Returns the first failing CK_RV. */
static CK_RV nss_init_pin(const char *params)
{
	void *dl = dlopen(NSS_SOFTOKN, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	CK_C_GetFunctionList gfl;
	CK_FUNCTION_LIST *fn;
	CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK, .pReserved = (void *)params };
	CK_SLOT_ID slots[8];
	CK_ULONG n = 8;
	CK_SESSION_HANDLE s;
	CK_RV rv;

	if (dl == NULL)
		return CKR_GENERAL_ERROR;
	gfl = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList");
	if (gfl == NULL || gfl(&fn) != CKR_OK)
		return CKR_GENERAL_ERROR;
	if ((rv = fn->C_Initialize(&args)) != CKR_OK)
		return rv;
	rv = fn->C_GetSlotList(CK_TRUE, slots, &n);
	for (CK_ULONG i = 0; rv == CKR_OK && i < n; i++) {
		CK_TOKEN_INFO ti;

		if (fn->C_GetTokenInfo(slots[i], &ti) != CKR_OK ||
		    memcmp(ti.label, NSS_TOKEN, strlen(NSS_TOKEN)) != 0)
			continue;
		rv = fn->C_OpenSession(slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
		if (rv == CKR_OK)
			rv = fn->C_Login(s, CKU_SO, (CK_UTF8CHAR *)"", 0);
		if (rv == CKR_OK)
			rv = fn->C_InitPIN(s, (CK_UTF8CHAR *)TH_USER_PIN, strlen(TH_USER_PIN));
		(void)fn->C_CloseAllSessions(slots[i]);
		break;
	}
	(void)fn->C_Finalize(NULL);
	/* not dlclose()d: softokn keeps allocations after C_Finalize, and LeakSanitizer can name
	 * (and tests/vendor/lsan.supp suppress) only frames of a library still loaded */
	return rv;
}

/* p11-kit reads a user's ~/.config/pkcs11 only when the program does not run as root: as
 * root, mpc-backup runs as nobody (setpriv) over a tree nobody owns, with CAP_IPC_LOCK as a
 * service account is given it (it locks its memory). */
static char g_real_bin[600], g_wrapper[600];

static void run_as_nobody(struct fx *f)
{
	char cmd[1400], text[1400], out[512];

	if (geteuid() != 0)
		return;
	snprintf(cmd, sizeof(cmd), "chown -R 65534:65534 '%s'", f->hsm.dir);
	assert_int_equal(th_run(cmd, out, sizeof(out)), 0);
	snprintf(g_real_bin, sizeof(g_real_bin), "%s", getenv("MPC_BACKUP_BIN"));
	snprintf(text, sizeof(text),
		 "#!/bin/sh\nexec setpriv --reuid=65534 --regid=65534 --clear-groups "
		 "--inh-caps=+ipc_lock --ambient-caps=+ipc_lock -- '%s' \"$@\"\n",
		 g_real_bin);
	ch_write(f->hsm.dir, "mpc-backup-as-nobody", text, g_wrapper);
	assert_int_equal(chmod(g_wrapper, 0755), 0);
	setenv("MPC_BACKUP_BIN", g_wrapper, 1);
}

static int setup_nss(void **state)
{
	struct fx *f;
	char params[700], path[900], text[1200], dir[600];
	static char home[300];

	if (setup_profile(state, "none") != 0)
		return -1;
	f = *state;
	snprintf(dir, sizeof(dir), "%s/nssdb", f->hsm.dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	nss_params(f->hsm.dir, params, sizeof(params));
	assert_int_equal(nss_init_pin(params), CKR_OK);
	/* p11-kit reads ~/.config/pkcs11/modules: a private HOME registers softokn, with its
	 * initialisation string, as "mpc-nss" for this test's processes only. */
	snprintf(home, sizeof(home), "%s/home", f->hsm.dir);
	snprintf(path, sizeof(path), "%s/.config/pkcs11/modules", home);
	assert_int_equal(mkdir(home, 0700), 0);
	snprintf(dir, sizeof(dir), "%s/.config", home);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(dir, sizeof(dir), "%s/.config/pkcs11", home);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(text, sizeof(text), "module: %s\nx-init-reserved: %s\n", NSS_SOFTOKN, params);
	ch_write(path, "mpc-nss.module", text, dir);
	setenv("HOME", home, 1);
	snprintf(f->vendor_uri, sizeof(f->vendor_uri),
		 "pkcs11:token=NSS%%20Certificate%%20DB?module-name=mpc-nss");
	run_as_nobody(f);
	return 0;
}

static int teardown_nss(void **state)
{
	unsetenv("HOME");
	if (g_real_bin[0] != '\0')
		setenv("MPC_BACKUP_BIN", g_real_bin, 1);
	return teardown(state);
}

/* NSS softokn holds the sealing keys (AES-GCM chosen; CBC+HMAC made too), SoftHSM2 the TLS
 * key: ceremony, backup, verify, restore. */
static void test_nss_split(void **state)
{
	struct fx *f = *state;
	const char *init[] = { "token", "init", NULL };
	const char *list[] = { "token", "list", "--token", f->vendor_uri, NULL };

	ch_runv(&f->r, NULL, NULL, list);
	ch_expect(&f->r, 0, NSS_TOKEN);
	run(f, f->vendor_uri, NULL, NULL, init);
	ch_expect(&f->r, 16, "--tls-token"); /* no Ed25519 in NSS 3.87's softokn */
	run(f, NULL, f->hsm.uri, f->vendor_uri, init);
	ch_expect(&f->r, 0, "mpc-backup-seal-gcm");
	assert_non_null(strstr(f->r.out, "mpc-backup-seal-hmac"));
	key_from_output(f);
	start_nodes(f);
	cycle(f, NULL, f->hsm.uri, f->vendor_uri, "aes-256-gcm");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_yubihsm2, setup_yubihsm2, teardown),
		cmocka_unit_test_setup_teardown(test_yubihsm2_64_domains, setup_yubihsm2, teardown),
		cmocka_unit_test_setup_teardown(test_cloudhsm_split, setup_cloudhsm, teardown),
		cmocka_unit_test_setup_teardown(test_cloudhsm_64_domains, setup_cloudhsm, teardown),
		cmocka_unit_test_setup_teardown(test_cloudhsm_100_domains, setup_cloudhsm, teardown),
		cmocka_unit_test_setup_teardown(test_cloudhsm_over_limit_refused, setup_cloudhsm,
						teardown),
		cmocka_unit_test_setup_teardown(test_kmsp11_split, setup_kmsp11, teardown),
		cmocka_unit_test_setup_teardown(test_nss_split, setup_nss, teardown_nss),
	};

	return CH_MAIN(tests);
}
