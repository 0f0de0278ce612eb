/* test_doctor.c: `mpc-backup doctor` run as an operator runs it, against a real SoftHSM2 token,
 * two fake-rpc endpoints serving the contract (the operator's node entry carrying the fake
 * node's key, the backup key the token's) and a fake node that accepts only the token's key:
 * every check passes and exits 0 (text and --json); then one failure of each class, each with
 * its FAIL line, a hint, the checks that depend on it skipped, and exit 3: no transport key, a
 * wrong PIN (and a token one try from locking, where no PIN try is spent), a token without
 * keys (also as a --seal-to escrow token), a planted extractable sealing key, a token URI
 * that loads no module or matches no token, endpoints that disagree, a node that does not
 * answer or refuses our key, and a TLS key that is not the one the contract lists. */
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

#include <jansson.h>

#include "tests/cli/cli_harness.h"
#include "tests/fakes/rpc/fake_rpc_spawn.h"
#include "tests/support/softhsm.h"

#define OPERATOR  "n1-multichain.near"
#define OTHER_KEY "ed25519:8kjdkEUAD7kXc5aCYJdcSwNQESanvpbqSm325o7uSUQH"
#define FAILED    3 /* doctor's exit status when a check failed */

struct fx {
	struct th_softhsm hsm;
	char key[64]; /* the token's TLS key */
	char dir[2][600], log[2][600];
	struct mpc_fake_rpc rpc[2];
	struct nh_node node;
	char conf[600], store[600];
	struct ch_result r;
};

/* The mainnet state with the fixture keyset at `epoch` and the operator's node entry carrying
 * `node_key`, as fake-rpc serves it. */
static void write_state(const char *dir, int epoch, const char *node_key)
{
	char path[1024], tmp[1200];
	const char *fixtures = getenv("MPC_FIXTURES_DIR");
	json_error_t je;
	json_t *root, *ks, *parts;
	size_t i;
	json_t *p;

	assert_non_null(fixtures);
	snprintf(path, sizeof(path), "%s/near-mpc/mainnet-contract-state.json", fixtures);
	root = json_load_file(path, 0, &je);
	assert_non_null(root);
	ks = json_loads(CH_KEYSET_E4, 0, &je);
	assert_non_null(ks);
	json_object_set_new(ks, "epoch_id", json_integer(epoch));
	assert_int_equal(json_object_set_new(json_object_get(root, "Running"), "keyset", ks), 0);
	parts = json_object_get(
		json_object_get(json_object_get(json_object_get(root, "Running"), "parameters"),
				"participants"),
		"participants");
	assert_true(json_is_array(parts));
	json_array_foreach(parts, i, p)
	{
		if (strcmp(json_string_value(json_array_get(p, 0)), OPERATOR) == 0)
			assert_int_equal(json_object_set_new(json_array_get(p, 2), "tls_public_key",
							     json_string(node_key)),
					 0);
	}
	snprintf(tmp, sizeof(tmp), "%s/state.json.tmp", dir);
	snprintf(path, sizeof(path), "%s/state.json", dir);
	assert_int_equal(json_dump_file(root, tmp, JSON_COMPACT), 0);
	assert_int_equal(rename(tmp, path), 0);
	json_decref(root);
}

static void write_migration(const char *dir, const char *backup_key)
{
	char text[512], path[600];

	snprintf(text, sizeof(text), "{\"" OPERATOR "\":[{\"public_key\":\"%s\"},null]}",
		 backup_key);
	ch_write(dir, "migration_info.json", text, path);
}

/* The configuration: this token, both endpoints, the node at `node_addr`. */
static void write_conf(struct fx *f, const char *token_uri, const char *node_addr)
{
	char text[3000];

	snprintf(text, sizeof(text),
		 "token = %s\nstore = %s\nrpc_url = %s\nrpc_url = %s\naccount = " OPERATOR "\n"
		 "address.account." OPERATOR " = %s\nnode_timeout = 10\n"
		 "node_connect_timeout = 3\nrpc_timeout = 10\n",
		 token_uri, f->store, f->rpc[0].url, f->rpc[1].url, node_addr);
	ch_write(f->hsm.dir, "doctor.conf", text, f->conf);
	assert_int_equal(chmod(f->conf, 0600), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char addr[64];
	const char *node_args[4];

	assert_non_null(f);
	assert_int_equal(th_softhsm_setup(&f->hsm, "mpc-backup", NULL), 0);
	setenv("MPC_BACKUP_TRANSPORT_KEY_HEX", NH_TRANSPORT_KEY_HEX, 1);
	ch_token_init(f->hsm.uri, f->key);
	node_args[0] = "--client-key";
	node_args[1] = f->key;
	node_args[2] = NULL;
	assert_int_equal(nh_start(&f->node, node_args), 0);
	snprintf(f->store, sizeof(f->store), "%s/store", f->hsm.dir);
	assert_int_equal(mkdir(f->store, 0700), 0);
	for (int i = 0; i < 2; i++) {
		snprintf(f->dir[i], sizeof(f->dir[i]), "%s/rpc%d", f->hsm.dir, i);
		snprintf(f->log[i], sizeof(f->log[i]), "%s/rpc%d.log", f->hsm.dir, i);
		assert_int_equal(mkdir(f->dir[i], 0700), 0);
		write_state(f->dir[i], 4, f->node.key_str);
		write_migration(f->dir[i], f->key);
		assert_int_equal(mpc_fake_rpc_start(&f->rpc[i], f->dir[i], NULL, f->log[i]), 0);
	}
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", f->node.port);
	write_conf(f, f->hsm.uri, addr);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	for (int i = 0; i < 2; i++)
		mpc_fake_rpc_stop(&f->rpc[i]);
	nh_stop(&f->node);
	ch_result_free(&f->r);
	th_softhsm_teardown(&f->hsm);
	unsetenv("MPC_BACKUP_TRANSPORT_KEY_HEX");
	free(f);
	return 0;
}

/* The line of check `name`, which must have `status` ("ok", "FAIL", "skip"); for FAIL a hint;
 * detail_needle (may be NULL) must be on it. */
static void expect_line(const struct ch_result *r, const char *status, const char *name,
			const char *needle)
{
	char head[160];
	const char *p = r->out;

	snprintf(head, sizeof(head), "%-4s  %s ", status, name);
	for (;;) {
		p = strstr(p, head);
		if (p == NULL)
			fail_msg("no line \"%s...\" in doctor's output:\n%s\nstderr:\n%s", head,
				 r->out, r->err);
		if (p == r->out || p[-1] == '\n')
			break;
		p++;
	}
	{
		const char *nl = strchr(p, '\n');
		size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
		char *line = strndup(p, n);

		assert_non_null(line);
		if (needle != NULL && strstr(line, needle) == NULL)
			fail_msg("\"%s\" is not on the line:\n%s", needle, line);
		if (strcmp(status, "FAIL") == 0 && strstr(line, "  hint: ") == NULL)
			fail_msg("a FAIL line without a hint:\n%s", line);
		if (strcmp(status, "FAIL") != 0 && strstr(line, "hint:") != NULL)
			fail_msg("a hint on a line that did not fail:\n%s", line);
		free(line);
	}
}

/* Every line of a run is one check (or the closing count), each ok, FAIL or skip. */
static void expect_lines_well_formed(const struct ch_result *r)
{
	const char *p = r->out;

	while (*p != '\0') {
		const char *nl = strchr(p, '\n');

		assert_non_null(nl);
		if (strncmp(p, "ok    ", 6) != 0 && strncmp(p, "FAIL  ", 6) != 0 &&
		    strncmp(p, "skip  ", 6) != 0 &&
		    (nl - p < 7 || strncmp(nl - 7, " failed", 7) != 0 || nl[1] != '\0'))
			fail_msg("a line that is not a check:\n%.*s", (int)(nl - p), p);
		p = nl + 1;
	}
}

static json_t *parse(const struct ch_result *r)
{
	json_error_t je;
	json_t *j = json_loads(r->out, 0, &je);

	if (j == NULL)
		fail_msg("stdout is not JSON (%s):\n%s", je.text, r->out);
	return j;
}

/* The JSON check named `name`. */
static json_t *jcheck(json_t *j, const char *name)
{
	size_t i;
	json_t *c;

	json_array_foreach(json_object_get(j, "checks"), i, c)
	{
		if (strcmp(json_string_value(json_object_get(c, "name")), name) == 0)
			return c;
	}
	fail_msg("no check \"%s\" in the JSON", name);
	return NULL;
}

/* Everything ready: every check passes, in text and JSON; the node saw our key. With only
 * --token the token is checked and the rest is one skip line. */
static void test_all_pass(void **state)
{
	struct fx *f = *state;
	static const char *const names[] = {
		"module",
		"token",
		"pin-flags",
		"login",
		"token kind",
		"mechanisms",
		"key mpc-backup-seal-gcm",
		"key mpc-backup-seal-cbc",
		"key mpc-backup-seal-hmac",
		"key mpc-backup-transport",
		"key mpc-backup-tls (private)",
		"key mpc-backup-tls (public)",
		"self-test aes-256-gcm",
		"self-test aes-256-cbc-hmac-sha256",
		"self-test aes-256-cbc-hmac-sha256-digest",
		"self-test ed25519",
		"config",
		"rpc agreement",
		"backup key",
		"node",
	};
	static const char *const no_transport[] = { "MPC_BACKUP_TRANSPORT_KEY_HEX", NULL };
	char want[200], events[4096];
	json_t *j, *c;
	size_t i, nrpc = 0;

	ch_run(&f->r, NULL, NULL, "doctor", "--config", f->conf, (char *)NULL);
	ch_expect(&f->r, 0, "0 checks failed");
	expect_lines_well_formed(&f->r);
	assert_null(strstr(f->r.out, "FAIL"));
	assert_null(strstr(f->r.out, "skip"));
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		expect_line(&f->r, "ok", names[i], NULL);
	expect_line(&f->r, "ok", "key mpc-backup-tls (private)", "generated in the token");
	expect_line(&f->r, "ok", "key mpc-backup-transport", "MPC_BACKUP_TRANSPORT_KEY_HEX");
	expect_line(&f->r, "ok", "pin-flags", "no warning flag");
	expect_line(&f->r, "ok", "token kind", "softhsm2 (detected");
	snprintf(want, sizeof(want), "the contract lists this token's key %s", f->key);
	expect_line(&f->r, "ok", "backup key", want);
	expect_line(&f->r, "ok", "node", f->node.key_str);
	for (int k = 0; k < 2; k++) {
		snprintf(want, sizeof(want), "rpc %s", f->rpc[k].url);
		expect_line(&f->r, "ok", want, "Running epoch 4");
	}
	ch_node_events_until(&f->node, "ACCEPTED", events, sizeof(events));

	ch_run(&f->r, NULL, NULL, "doctor", "--config", f->conf, "--json", (char *)NULL);
	ch_expect(&f->r, 0, NULL);
	j = parse(&f->r);
	assert_true(json_is_true(json_object_get(j, "ok")));
	assert_int_equal(json_integer_value(json_object_get(j, "failed")), 0);
	json_array_foreach(json_object_get(j, "checks"), i, c)
	{
		assert_int_equal(json_object_size(c), 4);
		assert_string_equal(json_string_value(json_object_get(c, "status")), "ok");
		assert_true(json_is_string(json_object_get(c, "detail")));
		assert_true(json_is_null(json_object_get(c, "hint")));
		if (strncmp(json_string_value(json_object_get(c, "name")), "rpc http", 8) == 0)
			nrpc++;
	}
	assert_int_equal(nrpc, 2);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		(void)jcheck(j, names[i]);
	json_decref(j);

	/* only the token: the same token checks, the rest one skip line, still exit 0 */
	ch_run(&f->r, NULL, NULL, "doctor", "--token", f->hsm.uri, (char *)NULL);
	ch_expect(&f->r, 0, "0 checks failed");
	expect_line(&f->r, "ok", "self-test ed25519", NULL);
	expect_line(&f->r, "skip", "contract", "--config");
	assert_null(strstr(f->r.out, "rpc "));
	assert_null(strstr(f->r.out, "\nok    node"));
	/* a profile forces the sealing token's rules: said so, with what was detected */
	ch_run(&f->r, NULL, NULL, "doctor", "--token", f->hsm.uri, "--token-profile", "generic",
	       (char *)NULL);
	ch_expect(&f->r, 0, "0 checks failed");
	expect_line(&f->r, "ok", "token kind", "generic (forced by --token-profile");
	expect_line(&f->r, "ok", "token kind", "detected softhsm2");

	/* no transport key anywhere: `run` would need one (a failure), the token alone not */
	ch_run(&f->r, NULL, no_transport, "doctor", "--config", f->conf, (char *)NULL);
	ch_expect(&f->r, FAILED, "1 check failed");
	expect_line(&f->r, "FAIL", "key mpc-backup-transport", "--import-transport-key");
	ch_run(&f->r, NULL, no_transport, "doctor", "--token", f->hsm.uri, (char *)NULL);
	ch_expect(&f->r, 0, NULL);
	expect_line(&f->r, "skip", "key mpc-backup-transport", "transport_key_file");
	/* imported into the token: found there, reported as imported */
	ch_run(&f->r, NULL, NULL, "token", "init", "--token", f->hsm.uri, "--import-transport-key",
	       (char *)NULL);
	ch_expect(&f->r, 0, NULL);
	ch_run(&f->r, NULL, no_transport, "doctor", "--config", f->conf, (char *)NULL);
	ch_expect(&f->r, 0, NULL);
	expect_line(&f->r, "ok", "key mpc-backup-transport", "imported (CKA_LOCAL false)");
}

/* A wrong PIN: login fails with a hint, everything after it is skipped. A token one wrong PIN
 * from locking is not tried at all (no try spent: SoftHSM2 would set COUNT_LOW), unless
 * --allow-final-pin-try; a locked PIN is reported as such. */
static void test_pin(void **state)
{
	struct fx *f = *state;
	static const char *const wrong_pin[] = { "MPC_BACKUP_PIN=000000", NULL };
	char shim_uri[600], real[400], flags[64], pin_file[512];
	const char *shim_env[] = { real, flags, "MPC_BACKUP_PIN=000000", NULL };
	const char *shim_env_ok[] = { real, flags, NULL };
	json_t *j, *c;

	snprintf(shim_uri, sizeof(shim_uri), "pkcs11:token=mpc-backup?module-path=%s",
		 getenv("LOCKSHIM"));
	snprintf(real, sizeof(real), "LOCKSHIM_REAL=%s", f->hsm.module);
	snprintf(flags, sizeof(flags), "LOCKSHIM_FLAGS=%lu", 1UL << 17); /* FINAL_TRY */
	ch_run(&f->r, NULL, shim_env, "doctor", "--token", shim_uri, (char *)NULL);
	ch_expect(&f->r, FAILED, NULL);
	expect_line(&f->r, "FAIL", "pin-flags", "CKF_USER_PIN_FINAL_TRY");
	expect_line(&f->r, "FAIL", "pin-flags", "--allow-final-pin-try");
	expect_line(&f->r, "skip", "login", "needs pin-flags");
	/* no PIN try was spent: the token does not say a wrong PIN was tried */
	ch_run(&f->r, NULL, NULL, "doctor", "--token", f->hsm.uri, (char *)NULL);
	ch_expect(&f->r, 0, NULL);
	expect_line(&f->r, "ok", "pin-flags", "no warning flag");
	/* allowed, with the right PIN: passes */
	ch_run(&f->r, NULL, shim_env_ok, "doctor", "--token", shim_uri, "--allow-final-pin-try",
	       (char *)NULL);
	ch_expect(&f->r, 0, NULL);
	expect_line(&f->r, "ok", "pin-flags", "trying: --allow-final-pin-try");
	snprintf(flags, sizeof(flags), "LOCKSHIM_FLAGS=%lu", 1UL << 18); /* LOCKED */
	ch_run(&f->r, NULL, shim_env_ok, "doctor", "--token", shim_uri, (char *)NULL);
	ch_expect(&f->r, FAILED, NULL);
	expect_line(&f->r, "FAIL", "pin-flags", "CKF_USER_PIN_LOCKED");

	/* a PIN file others can read: refused before it is used, the hint names owner and mode */
	ch_write(f->hsm.dir, "pin", TH_USER_PIN "\n", pin_file);
	assert_int_equal(chmod(pin_file, 0644), 0);
	ch_run(&f->r, NULL, NULL, "doctor", "--token", f->hsm.uri, "--pin-file", pin_file,
	       (char *)NULL);
	ch_expect(&f->r, FAILED, NULL);
	expect_line(&f->r, "FAIL", "login", "mode 0600");
	assert_int_equal(chmod(pin_file, 0600), 0);
	ch_run(&f->r, NULL, wrong_pin, "doctor", "--token", f->hsm.uri, "--pin-file", pin_file,
	       (char *)NULL);
	ch_expect(&f->r, 0, NULL);

	ch_run(&f->r, NULL, wrong_pin, "doctor", "--config", f->conf, (char *)NULL);
	ch_expect(&f->r, FAILED, "1 check failed");
	expect_lines_well_formed(&f->r);
	expect_line(&f->r, "ok", "pin-flags", NULL);
	expect_line(&f->r, "FAIL", "login", "CKR_PIN_INCORRECT");
	expect_line(&f->r, "skip", "token kind", "needs login");
	expect_line(&f->r, "skip", "mechanisms", "needs login");
	expect_line(&f->r, "skip", "keys", "needs login");
	expect_line(&f->r, "skip", "self-test", "needs login");
	expect_line(&f->r, "ok", "rpc agreement", NULL);
	expect_line(&f->r, "skip", "backup key", NULL);
	expect_line(&f->r, "skip", "node", NULL);
	assert_null(strstr(f->r.out, "000000"));
	assert_null(strstr(f->r.err, "000000"));
	/* the token now says a wrong PIN was tried */
	ch_run(&f->r, NULL, wrong_pin, "doctor", "--config", f->conf, "--json", (char *)NULL);
	ch_expect(&f->r, FAILED, NULL);
	j = parse(&f->r);
	assert_true(json_is_false(json_object_get(j, "ok")));
	assert_int_equal(json_integer_value(json_object_get(j, "failed")), 1);
	c = jcheck(j, "login");
	assert_string_equal(json_string_value(json_object_get(c, "status")), "FAIL");
	assert_non_null(strstr(json_string_value(json_object_get(c, "hint")), "PIN"));
	c = jcheck(j, "pin-flags");
	assert_non_null(strstr(json_string_value(json_object_get(c, "detail")),
			       "CKF_USER_PIN_COUNT_LOW"));
	c = jcheck(j, "node");
	assert_string_equal(json_string_value(json_object_get(c, "status")), "skip");
	assert_true(json_is_null(json_object_get(c, "hint")));
	json_decref(j);
}

/* A token without keys (no `token init`): each missing key fails with the ceremony as hint,
 * the self-tests and the checks that need the TLS key are skipped. A URI that matches no
 * token, or loads no module, fails there. */
static void test_missing_keys_and_token(void **state)
{
	struct fx *f = *state;
	char bare[512], uri[700], addr[64];

	assert_int_equal(th_softhsm_add_token(&f->hsm, "bare", bare), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", f->node.port);
	write_conf(f, bare, addr);
	ch_run(&f->r, NULL, NULL, "doctor", "--config", f->conf, (char *)NULL);
	ch_expect(&f->r, FAILED, NULL);
	expect_lines_well_formed(&f->r);
	expect_line(&f->r, "ok", "login", NULL);
	expect_line(&f->r, "FAIL", "key mpc-backup-seal-gcm", "mpc-backup token init");
	expect_line(&f->r, "FAIL", "key mpc-backup-seal-cbc", "mpc-backup token init");
	expect_line(&f->r, "FAIL", "key mpc-backup-tls (private)", "mpc-backup token init");
	expect_line(&f->r, "skip", "self-test aes-256-gcm", "needs key mpc-backup-seal-gcm");
	expect_line(&f->r, "skip", "self-test ed25519", NULL);
	expect_line(&f->r, "skip", "backup key", "self-test ed25519");
	expect_line(&f->r, "skip", "node", NULL);

	snprintf(uri, sizeof(uri), "pkcs11:token=nope?module-path=%s", f->hsm.module);
	ch_run(&f->r, NULL, NULL, "doctor", "--token", uri, (char *)NULL);
	ch_expect(&f->r, FAILED, NULL);
	expect_line(&f->r, "ok", "module", f->hsm.module);
	expect_line(&f->r, "FAIL", "token", "no token matches");
	expect_line(&f->r, "FAIL", "token", "token list");
	expect_line(&f->r, "skip", "login", "needs token");
	/* a URI two tokens match is refused, as every command refuses it */
	snprintf(uri, sizeof(uri), "pkcs11:model=SoftHSM%%20v2?module-path=%s", f->hsm.module);
	ch_run(&f->r, NULL, NULL, "doctor", "--token", uri, (char *)NULL);
	ch_expect(&f->r, FAILED, NULL);
	expect_line(&f->r, "FAIL", "token", "tokens; refusing to guess");
	expect_line(&f->r, "FAIL", "token", "paste one of the URIs");
	expect_line(&f->r, "skip", "pin-flags", "needs token");
	ch_run(&f->r, NULL, NULL, "doctor", "--token",
	       "pkcs11:token=mpc-backup?module-path=/nonexistent/module.so", (char *)NULL);
	ch_expect(&f->r, FAILED, NULL);
	expect_line(&f->r, "FAIL", "module", "/nonexistent/module.so");
	expect_line(&f->r, "skip", "token", "needs module");
	/* split tokens: each is checked under its own name */
	ch_run(&f->r, NULL, NULL, "doctor", "--seal-token", f->hsm.uri, "--tls-token", bare,
	       (char *)NULL);
	ch_expect(&f->r, FAILED, NULL);
	expect_line(&f->r, "ok", "seal-token self-test aes-256-gcm", NULL);
	expect_line(&f->r, "FAIL", "tls-token key mpc-backup-tls (private)", NULL);
	assert_null(strstr(f->r.out, "tls-token key mpc-backup-seal-gcm"));
	/* an escrow token (--seal-to) must be able to seal too; the sealing token is not checked
	 * twice */
	ch_run(&f->r, NULL, NULL, "doctor", "--token", f->hsm.uri, "--seal-to", bare, "--seal-to",
	       f->hsm.uri, (char *)NULL);
	ch_expect(&f->r, FAILED, NULL);
	expect_line(&f->r, "ok", "seal-to 1 login", NULL);
	expect_line(&f->r, "FAIL", "seal-to 1 key mpc-backup-seal-gcm", "mpc-backup token init");
	expect_line(&f->r, "skip", "seal-to 1 self-test aes-256-gcm", NULL);
	expect_line(&f->r, "ok", "self-test aes-256-gcm", NULL);
	assert_null(strstr(f->r.out, "seal-to 1 key mpc-backup-tls"));
	assert_null(strstr(f->r.out, "seal-to 1 key mpc-backup-transport"));
	assert_null(strstr(f->r.out, "seal-to 2"));
}

/* A sealing key planted under mpc-backup's label that can leave the token: refused by name,
 * its self-test skipped, the other mechanism's self-test still run. */
static void test_extractable_key(void **state)
{
	struct fx *f = *state;
	char uri[512], cmd[3000], out[2048];

	assert_int_equal(th_softhsm_add_token(&f->hsm, "planted", uri), 0);
	{
		char key[64];

		/* token init refuses an extractable sealing key, so plant it afterwards in place
		 * of the one it made */
		ch_token_init(uri, key);
	}
	snprintf(cmd, sizeof(cmd),
		 "SOFTHSM2_CONF='%s' pkcs11-tool --module '%s' --token-label planted --login "
		 "--pin " TH_USER_PIN " --delete-object --type secrkey --label mpc-backup-seal-gcm "
		 "&& SOFTHSM2_CONF='%s' pkcs11-tool --module '%s' --token-label planted --login "
		 "--pin " TH_USER_PIN " --keygen --key-type AES:32 --label mpc-backup-seal-gcm "
		 "--id 01 --extractable",
		 f->hsm.conf, f->hsm.module, f->hsm.conf, f->hsm.module);
	if (th_run(cmd, out, sizeof(out)) != 0)
		fail_msg("pkcs11-tool could not plant the key:\n%s", out);
	ch_run(&f->r, NULL, NULL, "doctor", "--token", uri, (char *)NULL);
	ch_expect(&f->r, FAILED, "1 check failed");
	expect_line(&f->r, "FAIL", "key mpc-backup-seal-gcm", "CKA_EXTRACTABLE true");
	expect_line(&f->r, "FAIL", "key mpc-backup-seal-gcm", "CKA_SENSITIVE false");
	expect_line(&f->r, "FAIL", "key mpc-backup-seal-gcm", "delete this object");
	expect_line(&f->r, "skip", "self-test aes-256-gcm", NULL);
	expect_line(&f->r, "ok", "self-test aes-256-cbc-hmac-sha256", NULL);
	expect_line(&f->r, "ok", "self-test ed25519", NULL);
}

/* Endpoints that read different states: each is named, the agreement fails, and nothing that
 * needs the contract's word is checked. */
static void test_rpc_disagree(void **state)
{
	struct fx *f = *state;
	json_t *j;

	write_state(f->dir[1], 5, f->node.key_str);
	ch_run(&f->r, NULL, NULL, "doctor", "--config", f->conf, (char *)NULL);
	ch_expect(&f->r, FAILED, NULL);
	expect_lines_well_formed(&f->r);
	expect_line(&f->r, "ok", "self-test ed25519", NULL);
	expect_line(&f->r, "FAIL", "rpc agreement", "do not agree");
	expect_line(&f->r, "skip", "backup key", "needs rpc agreement");
	expect_line(&f->r, "skip", "node", "needs rpc agreement");
	assert_non_null(strstr(f->r.out, "disagrees: Running epoch 5"));
	ch_run(&f->r, NULL, NULL, "doctor", "--config", f->conf, "--json", (char *)NULL);
	ch_expect(&f->r, FAILED, NULL);
	j = parse(&f->r);
	assert_string_equal(json_string_value(json_object_get(jcheck(j, "rpc agreement"), "status")),
			    "FAIL");
	json_decref(j);
	/* one endpoint down: it fails, and the agreement of one is not enough for a quorum of 2 */
	mpc_fake_rpc_stop(&f->rpc[1]);
	write_state(f->dir[1], 4, f->node.key_str);
	ch_run(&f->r, NULL, NULL, "doctor", "--config", f->conf, (char *)NULL);
	ch_expect(&f->r, FAILED, NULL);
	expect_line(&f->r, "FAIL", "rpc agreement", "too few");
}

/* The node: not answering, and answering but refusing our key. */
static void test_node(void **state)
{
	struct fx *f = *state;
	char addr[64];
	unsigned port;
	int fd = ch_refusing_port(&port);
	const char *other_args[] = { "--client-key", OTHER_KEY, NULL };

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	write_conf(f, f->hsm.uri, addr);
	ch_run(&f->r, NULL, NULL, "doctor", "--config", f->conf, (char *)NULL);
	ch_expect(&f->r, FAILED, "1 check failed");
	expect_line(&f->r, "ok", "backup key", NULL);
	expect_line(&f->r, "FAIL", "node", addr);
	expect_line(&f->r, "FAIL", "node", "firewall");
	close(fd);

	/* a node (with the contract's key) that accepts another backup key only */
	nh_stop(&f->node);
	assert_int_equal(nh_start(&f->node, other_args), 0);
	for (int i = 0; i < 2; i++)
		write_state(f->dir[i], 4, f->node.key_str);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", f->node.port);
	write_conf(f, f->hsm.uri, addr);
	ch_run(&f->r, NULL, NULL, "doctor", "--config", f->conf, (char *)NULL);
	ch_expect(&f->r, FAILED, "1 check failed");
	expect_line(&f->r, "FAIL", "node", "refuses ours");
}

/* The contract lists another backup key than this token's: named with both keys; the node is
 * not asked (it would refuse us). Then no backup service at all. */
static void test_tls_key_not_on_contract(void **state)
{
	struct fx *f = *state;
	char want[200];

	for (int i = 0; i < 2; i++)
		write_migration(f->dir[i], OTHER_KEY);
	ch_run(&f->r, NULL, NULL, "doctor", "--config", f->conf, (char *)NULL);
	ch_expect(&f->r, FAILED, "1 check failed");
	snprintf(want, sizeof(want), "the contract lists " OTHER_KEY " for " OPERATOR
		 "; this token's key is %s", f->key);
	expect_line(&f->r, "FAIL", "backup key", want);
	expect_line(&f->r, "skip", "node", "needs backup key");
	for (int i = 0; i < 2; i++) {
		char path[600];

		ch_write(f->dir[i], "migration_info.json", "{}", path);
	}
	ch_run(&f->r, NULL, NULL, "doctor", "--config", f->conf, (char *)NULL);
	ch_expect(&f->r, FAILED, NULL);
	expect_line(&f->r, "FAIL", "backup key", "no backup service is registered");
	expect_line(&f->r, "FAIL", "backup key", "mpc-backup register");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_all_pass, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_keys_and_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_extractable_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rpc_disagree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_key_not_on_contract, setup, teardown),
	};

	return CH_MAIN(tests);
}
