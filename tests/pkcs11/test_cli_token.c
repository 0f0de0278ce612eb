/* test_cli_token.c: `mpc-backup token ...` and `register` as an operator or a ceremony script
 * runs them: exit statuses, one-line errors, JSON, and PINs that never show. */
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

#include "tests/support/softhsm.h"

struct cli {
	struct th_softhsm hsm;
	char out[16384];
};

static int setup(void **state)
{
	struct cli *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	assert_int_equal(th_softhsm_setup(&c->hsm, "mpc-backup", NULL), 0);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct cli *c = *state;

	th_softhsm_teardown(&c->hsm);
	free(c);
	return 0;
}

/* Run mpc-backup with `args` (and an optional environment prefix). */
static int run(struct cli *c, const char *env, const char *args)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd), "%s '%s' %s", env ? env : "", getenv("MPC_BACKUP_BIN"), args);
	return th_run(cmd, c->out, sizeof(c->out));
}

static int lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void test_init_is_idempotent_and_prints_key(void **state)
{
	struct cli *c = *state;
	char args[1024], key[80];
	json_t *j, *k;
	json_error_t je;

	snprintf(args, sizeof(args), "token init --token '%s'", c->hsm.uri);
	assert_int_equal(run(c, NULL, args), 0);
	assert_non_null(strstr(c->out, "[created]"));
	assert_non_null(strstr(c->out, "TLS public key: ed25519:"));
	snprintf(key, sizeof(key), "%.60s", strstr(c->out, "ed25519:"));
	*strchr(key, '\n') = '\0';
	assert_int_equal(run(c, NULL, args), 0);
	assert_null(strstr(c->out, "[created]"));
	assert_non_null(strstr(c->out, key));
	snprintf(args, sizeof(args), "token show --json --token '%s'", c->hsm.uri);
	assert_int_equal(run(c, NULL, args), 0);
	j = json_loads(c->out, 0, &je);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "tls_public_key")), key);
	assert_int_equal(json_array_size(json_object_get(j, "keys")), 5);
	/* the vendor rules in force: detected from what SoftHSM2 reports */
	k = json_array_get(json_object_get(j, "tokens"), 0);
	assert_string_equal(json_string_value(json_object_get(k, "kind")), "softhsm2");
	assert_true(json_is_true(json_object_get(k, "kind_detected")));
	json_decref(j);
	snprintf(args, sizeof(args), "token show --token '%s'", c->hsm.uri);
	assert_int_equal(run(c, NULL, args), 0);
	assert_non_null(strstr(c->out, "  rules: softhsm2 (detected)\n"));
	/* ... or forced by a profile, and said so */
	snprintf(args, sizeof(args), "token show --json --token-profile generic --token '%s'",
		 c->hsm.uri);
	assert_int_equal(run(c, NULL, args), 0);
	j = json_loads(c->out, 0, &je);
	assert_non_null(j);
	k = json_array_get(json_object_get(j, "tokens"), 0);
	assert_string_equal(json_string_value(json_object_get(k, "kind")), "generic");
	assert_true(json_is_false(json_object_get(k, "kind_detected")));
	json_decref(j);
	snprintf(args, sizeof(args), "token show --token-profile generic --token '%s'", c->hsm.uri);
	assert_int_equal(run(c, NULL, args), 0);
	assert_non_null(strstr(c->out, "  rules: generic (forced by --token-profile or token_profile)\n"));
	snprintf(args, sizeof(args), "register --token '%s' --account op.near --contract v1.signer-prod.testnet --network testnet", c->hsm.uri);
	assert_int_equal(run(c, NULL, args), 0);
	assert_non_null(strstr(c->out, "{\"backup_service_info\":{\"public_key\":\""));
	assert_non_null(strstr(c->out, key));
	assert_non_null(strstr(c->out, "near contract call-function as-transaction v1.signer-prod.testnet register_backup_service"));
	assert_non_null(strstr(c->out, "sign-as op.near network-config testnet"));
	assert_null(strstr(c->out, TH_USER_PIN));
}

static void test_pin_sources(void **state)
{
	struct cli *c = *state;
	char args[1024], pinfile[300];
	FILE *f;

	snprintf(pinfile, sizeof(pinfile), "%s/pin", c->hsm.dir);
	f = fopen(pinfile, "w");
	assert_non_null(f);
	fprintf(f, "%s\n", TH_USER_PIN);
	fclose(f);
	/* readable by others: refused before it is read */
	assert_int_equal(chmod(pinfile, 0644), 0);
	snprintf(args, sizeof(args), "token show --token '%s' --pin-file %s", c->hsm.uri, pinfile);
	assert_int_equal(run(c, "env -u MPC_BACKUP_PIN", args), 14);
	assert_non_null(strstr(c->out, "must not be accessible to other users"));
	assert_int_equal(chmod(pinfile, 0600), 0);
	snprintf(args, sizeof(args), "token init --token '%s' --pin-file %s", c->hsm.uri, pinfile);
	assert_int_equal(run(c, "env -u MPC_BACKUP_PIN", args), 0);
	snprintf(args, sizeof(args), "token show --token '%s&pin-source=file:%s'", c->hsm.uri, pinfile);
	assert_int_equal(run(c, "env -u MPC_BACKUP_PIN", args), 0);
	/* no PIN source at all: the public objects, exit 0 (test_no_pin_for_the_public_key) */
	snprintf(args, sizeof(args), "token show --token '%s'", c->hsm.uri);
	assert_int_equal(run(c, "env -u MPC_BACKUP_PIN", args), 0);
	assert_non_null(strstr(c->out, "not logged in"));
}

/* The TLS public key of `token show` output ("TLS public key: ed25519:...") into key[80]. */
static void shown_key(const char *out, char *key)
{
	const char *k = strstr(out, "TLS public key: ed25519:");

	assert_non_null(k);
	snprintf(key, 80, "%.*s", (int)strcspn(k + 16, "\n"), k + 16);
}

/* register and token show read no PIN where the TLS public key is a public object: the
 * environment unset and no file, or every source set to something that fails if read (a wrong
 * PIN, a missing file, a locked token): the same output as with the PIN. */
static void test_no_pin_for_the_public_key(void **state)
{
	struct cli *c = *state;
	char args[1024], env[1024], pinned[16384], key[80], key2[80], missing[300];
	json_t *j, *k;
	json_error_t je;

	snprintf(args, sizeof(args), "token init --token '%s'", c->hsm.uri);
	assert_int_equal(run(c, NULL, args), 0);
	snprintf(missing, sizeof(missing), "%s/no-such-pin-file", c->hsm.dir);

	/* register: with the PIN (the harness exports MPC_BACKUP_PIN) the key is verified
	 * against the private key; without any PIN source the same key, said to be unchecked */
	snprintf(args, sizeof(args), "register --token '%s' --account op.near", c->hsm.uri);
	assert_int_equal(run(c, NULL, args), 0);
	snprintf(pinned, sizeof(pinned), "%s", c->out);
	assert_non_null(strstr(pinned, "TLS public key verified"));
	assert_null(strstr(pinned, "NOT verified"));
	assert_int_equal(run(c, "env -u MPC_BACKUP_PIN", args), 0);
	assert_string_equal(strstr(c->out, "register_backup_service arguments:"),
			    strstr(pinned, "register_backup_service arguments:"));
	assert_non_null(strstr(c->out, "NOT verified against the private key, because no PIN"));
	assert_non_null(strstr(c->out, "give the PIN"));
	/* a configured PIN source is used, and its failure reported (as token show does) */
	snprintf(args, sizeof(args), "register --token '%s' --account op.near --pin-file %s",
		 c->hsm.uri, missing);
	assert_int_equal(run(c, "MPC_BACKUP_PIN=99999999", args), 14);
	assert_int_equal(lines(c->out), 1);
	/* a locked token, and no PIN: the public key, unchecked */
	snprintf(args, sizeof(args), "register --account op.near --token "
		 "'pkcs11:token=mpc-backup?module-path=%s'", getenv("LOCKSHIM"));
	snprintf(env, sizeof(env), "LOCKSHIM_REAL=%s LOCKSHIM_FLAGS=%lu env -u MPC_BACKUP_PIN",
		 c->hsm.module, 1UL << 18);
	assert_int_equal(run(c, env, args), 0);
	assert_non_null(strstr(c->out, "NOT verified"));
	assert_string_equal(strstr(c->out, "register_backup_service arguments:"),
			    strstr(pinned, "register_backup_service arguments:"));

	/* token show: with a PIN source every key; without one the public objects, a note, and
	 * the same TLS public key */
	snprintf(args, sizeof(args), "token show --token '%s'", c->hsm.uri);
	assert_int_equal(run(c, NULL, args), 0);
	assert_non_null(strstr(c->out, "mpc-backup-seal-gcm"));
	assert_null(strstr(c->out, "not logged in"));
	shown_key(c->out, key);
	assert_non_null(strstr(pinned, key));
	assert_int_equal(run(c, "env -u MPC_BACKUP_PIN", args), 0);
	assert_null(strstr(c->out, "mpc-backup-seal"));
	assert_non_null(strstr(c->out, "mpc-backup-tls         id 10 public"));
	assert_non_null(strstr(c->out, "not logged in (no PIN configured)"));
	shown_key(c->out, key2);
	assert_string_equal(key, key2);
	snprintf(args, sizeof(args), "token show --token 'pkcs11:token=mpc-backup?module-path=%s'",
		 getenv("LOCKSHIM"));
	/* the locked token (env above), and no PIN */
	assert_int_equal(run(c, env, args), 0);
	shown_key(c->out, key2);
	assert_string_equal(key, key2);
	snprintf(args, sizeof(args), "token show --json --token '%s'", c->hsm.uri);
	assert_int_equal(run(c, "env -u MPC_BACKUP_PIN", args), 0);
	j = json_loads(c->out, 0, &je);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "tls_public_key")), key);
	assert_true(json_is_false(json_object_get(j, "logged_in")));
	assert_int_equal(json_array_size(json_object_get(j, "keys")), 1);
	k = json_array_get(json_object_get(j, "keys"), 0);
	assert_string_equal(json_string_value(json_object_get(k, "class")), "public");
	assert_true(json_is_false(json_object_get(json_object_get(k, "attributes"), "private")));
	json_decref(j);
	/* a configured PIN source is used, and its failure reported (never skipped silently) */
	snprintf(args, sizeof(args), "token show --token '%s' --pin-file %s", c->hsm.uri, missing);
	assert_int_equal(run(c, "env -u MPC_BACKUP_PIN", args), 14);
	assert_int_equal(lines(c->out), 1);
}

/* A token that keeps the TLS public key as a private object (some HSMs do; made here with
 * pkcs11-tool, an independent tool): without a PIN it cannot be read, and both commands say
 * so; with the PIN they log in and print the key. */
static void test_private_public_key_needs_the_pin(void **state)
{
	struct cli *c = *state;
	char cmd[2048], args[1024], key[80];
	json_t *j, *keys;
	json_error_t je;
	int private_pub = 0;

	snprintf(cmd, sizeof(cmd), "pkcs11-tool --module '%s' --token-label mpc-backup --login "
		 "--pin %s --keypairgen --key-type EC:edwards25519 --label mpc-backup-tls --id 10 "
		 "--usage-sign --sensitive --private 2>&1", c->hsm.module, TH_USER_PIN);
	if (th_run(cmd, c->out, sizeof(c->out)) != 0)
		fail_msg("%s: %s", cmd, c->out);
	snprintf(args, sizeof(args), "token show --json --token '%s'", c->hsm.uri);
	assert_int_equal(run(c, NULL, args), 0);
	j = json_loads(c->out, 0, &je);
	assert_non_null(j);
	keys = json_object_get(j, "keys");
	for (size_t i = 0; i < json_array_size(keys); i++) {
		json_t *k = json_array_get(keys, i);

		if (strcmp(json_string_value(json_object_get(k, "class")), "public") == 0)
			private_pub = json_is_true(
				json_object_get(json_object_get(k, "attributes"), "private"));
	}
	snprintf(key, sizeof(key), "%s", json_string_value(json_object_get(j, "tls_public_key")));
	json_decref(j);
	assert_true(private_pub);

	snprintf(args, sizeof(args), "register --token '%s' --account op.near", c->hsm.uri);
	assert_int_equal(run(c, "env -u MPC_BACKUP_PIN", args), 14);
	assert_int_equal(lines(c->out), 1);
	assert_non_null(strstr(c->out, "cannot be read without logging in"));
	assert_int_equal(run(c, NULL, args), 0);
	assert_non_null(strstr(c->out, key));
	assert_non_null(strstr(c->out, "TLS public key verified"));
	snprintf(args, sizeof(args), "token show --token '%s'", c->hsm.uri);
	assert_int_equal(run(c, "env -u MPC_BACKUP_PIN", args), 14);
	assert_non_null(strstr(c->out, "cannot be read without logging in"));
}

/* Plant a public CKO_PUBLIC_KEY labelled mpc-backup-tls (CKA_ID id) from a session that never
 * logs in (plant_tls.c), holding a key whose private half the token does not have. */
static void plant(struct cli *c, const char *id)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "'%s' '%s' mpc-backup %s 2>&1", getenv("PLANT_TLS"),
		 c->hsm.module, id);
	if (th_run(cmd, c->out, sizeof(c->out)) != 0)
		fail_msg("%s: %s", cmd, c->out);
}

/* The JSON of `register --json` (the note goes to stderr only in text form). */
static json_t *register_json(struct cli *c, const char *env, int want)
{
	char args[1024];
	json_error_t je;
	json_t *j;

	snprintf(args, sizeof(args), "register --json --token '%s' --account op.near", c->hsm.uri);
	assert_int_equal(run(c, env, args), want);
	j = json_loads(c->out, 0, &je);
	if (j == NULL)
		fail_msg("not JSON: %s", c->out);
	return j;
}

/* A normal token: with the PIN the key is proven to pair with the private key (text and JSON),
 * without one it is printed as unchecked. */
static void test_register_says_verified(void **state)
{
	struct cli *c = *state;
	char args[1024];
	json_t *j;

	snprintf(args, sizeof(args), "token init --token '%s'", c->hsm.uri);
	assert_int_equal(run(c, NULL, args), 0);
	j = register_json(c, NULL, 0);
	assert_true(json_is_true(json_object_get(j, "verified")));
	assert_non_null(strstr(json_string_value(json_object_get(j, "verification")), "verified"));
	json_decref(j);
	j = register_json(c, "env -u MPC_BACKUP_PIN", 0);
	assert_true(json_is_false(json_object_get(j, "verified")));
	assert_non_null(strstr(json_string_value(json_object_get(j, "verification")),
			       "NOT verified against the private key, because no PIN was given"));
	json_decref(j);
}

/* The reviewer's attack: the token keeps the real TLS public key as a private object, and a
 * public one with the same label is planted without the PIN. With the PIN the two public
 * objects are seen and refused (naming the count and the CKA_IDs); without one the planted key
 * is all the token shows, and it is printed only as unchecked. */
static void test_planted_key_beside_a_private_one(void **state)
{
	struct cli *c = *state;
	char cmd[2048], args[1024];

	snprintf(cmd, sizeof(cmd), "pkcs11-tool --module '%s' --token-label mpc-backup --login "
		 "--pin %s --keypairgen --key-type EC:edwards25519 --label mpc-backup-tls --id 10 "
		 "--usage-sign --sensitive --private 2>&1", c->hsm.module, TH_USER_PIN);
	if (th_run(cmd, c->out, sizeof(c->out)) != 0)
		fail_msg("%s: %s", cmd, c->out);
	plant(c, "10");
	snprintf(args, sizeof(args), "register --token '%s' --account op.near", c->hsm.uri);
	assert_int_equal(run(c, NULL, args), 27);
	assert_int_equal(lines(c->out), 1);
	assert_non_null(strstr(c->out, "has 2 public key objects labelled \"mpc-backup-tls\" "
				       "(CKA_ID 10, 10)"));
	assert_null(strstr(c->out, "ed25519:"));
	/* the same for contract status's and token show's reading of the key */
	snprintf(args, sizeof(args), "token show --token '%s'", c->hsm.uri);
	assert_int_equal(run(c, NULL, args), 27);
	assert_non_null(strstr(c->out, "has 2 public key objects"));
	snprintf(args, sizeof(args), "register --token '%s' --account op.near", c->hsm.uri);
	assert_int_equal(run(c, "env -u MPC_BACKUP_PIN", args), 0);
	assert_non_null(strstr(c->out, "NOT verified against the private key"));
}

/* One public and one private object that are not one key pair (the real public object deleted
 * with the PIN, a stranger's planted without): with the PIN the signature check refuses it. */
static void test_planted_key_that_does_not_pair(void **state)
{
	struct cli *c = *state;
	char cmd[2048], args[1024];
	json_t *j;

	snprintf(args, sizeof(args), "token init --token '%s'", c->hsm.uri);
	assert_int_equal(run(c, NULL, args), 0);
	snprintf(cmd, sizeof(cmd), "pkcs11-tool --module '%s' --token-label mpc-backup --login "
		 "--pin %s --delete-object --type pubkey --label mpc-backup-tls 2>&1",
		 c->hsm.module, TH_USER_PIN);
	if (th_run(cmd, c->out, sizeof(c->out)) != 0)
		fail_msg("%s: %s", cmd, c->out);
	plant(c, "10");
	snprintf(args, sizeof(args), "register --token '%s' --account op.near", c->hsm.uri);
	assert_int_equal(run(c, NULL, args), 15);
	assert_int_equal(lines(c->out), 1);
	assert_non_null(strstr(c->out, "does not pair with the private key"));
	assert_non_null(strstr(c->out, "not one key pair"));
	assert_null(strstr(c->out, "ed25519:"));
	j = register_json(c, "env -u MPC_BACKUP_PIN", 0);
	assert_true(json_is_false(json_object_get(j, "verified")));
	json_decref(j);
}

/* Without a PIN, a second visible public object (planted beside mpc-backup's own, here under
 * another CKA_ID) is refused, naming both; with the PIN too. */
static void test_second_public_key_without_pin(void **state)
{
	struct cli *c = *state;
	char args[1024];

	snprintf(args, sizeof(args), "token init --token '%s'", c->hsm.uri);
	assert_int_equal(run(c, NULL, args), 0);
	plant(c, "11");
	snprintf(args, sizeof(args), "register --token '%s' --account op.near", c->hsm.uri);
	assert_int_equal(run(c, "env -u MPC_BACKUP_PIN", args), 27);
	assert_int_equal(lines(c->out), 1);
	assert_non_null(strstr(c->out, "has 2 public key objects labelled \"mpc-backup-tls\""));
	assert_non_null(strstr(c->out, "11"));
	assert_null(strstr(c->out, "ed25519:"));
	assert_int_equal(run(c, NULL, args), 27);
	assert_non_null(strstr(c->out, "has 2 public key objects"));
}

static void test_wrong_pin_once(void **state)
{
	struct cli *c = *state;
	char args[1024];

	snprintf(args, sizeof(args), "token show --token '%s'", c->hsm.uri);
	assert_int_equal(run(c, "MPC_BACKUP_PIN=99999999", args), 14);
	assert_int_equal(lines(c->out), 1);
	assert_non_null(strstr(c->out, "CKR_PIN_INCORRECT"));
	assert_non_null(strstr(c->out, "not retried"));
	assert_null(strstr(c->out, "99999999"));
}

static void test_locked_and_final_try(void **state)
{
	struct cli *c = *state;
	char args[1024], env[1024];

	/* A token that reports its user PIN locked (SoftHSM2 has no lockout: the shim module
	 * reports the flag on top of the real token). */
	snprintf(args, sizeof(args), "token show --token 'pkcs11:token=mpc-backup?module-path=%s'",
		 getenv("LOCKSHIM"));
	snprintf(env, sizeof(env), "LOCKSHIM_REAL=%s LOCKSHIM_FLAGS=%lu", c->hsm.module, 1UL << 18);
	assert_int_equal(run(c, env, args), 14);
	assert_int_equal(lines(c->out), 1);
	assert_non_null(strstr(c->out, "locked"));
	snprintf(env, sizeof(env), "LOCKSHIM_REAL=%s LOCKSHIM_FLAGS=%lu", c->hsm.module, 1UL << 17);
	assert_int_equal(run(c, env, args), 14);
	assert_non_null(strstr(c->out, "--allow-final-pin-try"));
	snprintf(args, sizeof(args), "token init --allow-final-pin-try --token 'pkcs11:token=mpc-backup?module-path=%s'",
		 getenv("LOCKSHIM"));
	assert_int_equal(run(c, env, args), 0);
}

static void test_clear_errors(void **state)
{
	struct cli *c = *state;
	char args[1024];
	static const struct {
		const char *args;
		int status;
		const char *needle;
	} cases[] = {
		{ "token show --token 'pkcs11:token=mpc-backup?module-path=/nonexistent/module.so'", 11, "cannot load PKCS#11 module /nonexistent/module.so" },
		{ "token show --token 'pkcs11:token=nope?module-path=%s'", 12, "no token matches" },
		{ "token show --token 'pkcs11:token=%%zz'", 65, "malformed PKCS#11 URI" },
		{ "token show --token 'https://example'", 65, "malformed PKCS#11 URI" },
		{ "token show --token 'pkcs11:token=x?pin-value=1234'", 65, "never be given on a command line" },
		{ "token show --token 'pkcs11:token=x?PIN%%2DVALUE=1234'", 65, "never be given on a command line" },
		{ "token show --token 'pkcs11:token=x;pIn-VaLuE=1234'", 65, "never be given on a command line" },
		{ "token show --pin=1234", 2, "unknown option \"--pin\"" },
		{ "token init --transport-key=1234", 2, "unknown option \"--transport-key\"" },
		{ "token init --import-transport-key 1234", 2, "not shown" },
		{ "token frobnicate", 2, "unknown subcommand" },
		{ "token show --bogus", 2, "mpc-backup token show: unknown option \"--bogus\" (see mpc-backup token show --help)" },
		{ "register --token 'pkcs11:token=mpc-backup?module-path=%s'", 2, "--account OPERATOR is required" },
		{ "register --account 'bad account;rm' --token 'pkcs11:token=mpc-backup?module-path=%s'", 2, "not a NEAR account id" },
		{ "nonsense", 2, "unknown command" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int st;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		snprintf(args, sizeof(args), cases[i].args, c->hsm.module);
#pragma GCC diagnostic pop
		st = run(c, NULL, args);
		if (st != cases[i].status || strstr(c->out, cases[i].needle) == NULL || lines(c->out) != 1)
			fail_msg("`%s` -> %d, output: %s", args, st, c->out);
		assert_null(strstr(c->out, "1234"));
	}
	/* The token has no keys yet: a clear pointer to the ceremony. */
	snprintf(args, sizeof(args), "register --account op.near --token '%s'", c->hsm.uri);
	assert_int_equal(run(c, NULL, args), 13);
	assert_non_null(strstr(c->out, "mpc-backup token init"));
}

static void test_list(void **state)
{
	struct cli *c = *state;
	char args[1024];
	json_t *j;
	json_error_t je;

	snprintf(args, sizeof(args), "token list --json --token 'pkcs11:?module-path=%s'", c->hsm.module);
	assert_int_equal(run(c, "env -u MPC_BACKUP_PIN", args), 0);
	j = json_loads(c->out, 0, &je);
	assert_non_null(j);
	assert_true(json_array_size(j) >= 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "label")), "mpc-backup");
	assert_true(json_is_true(json_object_get(json_object_get(json_array_get(j, 0), "capabilities"), "eddsa")));
	json_decref(j);
	assert_int_equal(run(c, NULL, "token --help"), 0);
	assert_non_null(strstr(c->out, "usage: mpc-backup token"));
}

/* `token list` prints each token's RFC 7512 URI; given back as --token it opens exactly that
 * token, while a URI two tokens match is refused (exit 2) listing both URIs. */
static void test_list_uris(void **state)
{
	struct cli *c = *state;
	char args[3072], other[512], uri[2][1024], serial[2][32];
	json_t *j;
	json_error_t je;

	assert_int_equal(th_softhsm_add_token(&c->hsm, "mpc-backup", other), 0);
	snprintf(args, sizeof(args), "token list --json --token 'pkcs11:?module-path=%s'", c->hsm.module);
	assert_int_equal(run(c, "env -u MPC_BACKUP_PIN", args), 0);
	j = json_loads(c->out, 0, &je);
	assert_non_null(j);
	for (int i = 0; i < 2; i++) {
		json_t *t = json_array_get(j, (size_t)i);
		const char *u = json_string_value(json_object_get(t, "uri"));

		assert_non_null(u);
		assert_string_equal(json_string_value(json_object_get(t, "label")), "mpc-backup");
		assert_non_null(strstr(u, "model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial="));
		snprintf(uri[i], sizeof(uri[i]), "%s", u);
		snprintf(serial[i], sizeof(serial[i]), "%s",
			 json_string_value(json_object_get(t, "serial")));
	}
	json_decref(j);
	/* the text form shows the same URIs */
	snprintf(args, sizeof(args), "token list --token 'pkcs11:?module-path=%s'", c->hsm.module);
	assert_int_equal(run(c, "env -u MPC_BACKUP_PIN", args), 0);
	assert_non_null(strstr(c->out, uri[0]));
	assert_non_null(strstr(c->out, uri[1]));
	/* two tokens labelled mpc-backup: refused, naming both */
	snprintf(args, sizeof(args), "token init --token '%s'", c->hsm.uri);
	assert_int_equal(run(c, NULL, args), 2);
	assert_non_null(strstr(c->out, "matches 2 tokens"));
	assert_non_null(strstr(c->out, uri[0]));
	assert_non_null(strstr(c->out, uri[1]));
	assert_int_equal(lines(c->out), 1);
	/* each listed URI opens its own token */
	for (int i = 0; i < 2; i++) {
		snprintf(args, sizeof(args), "token init --token '%s'", uri[i]);
		assert_int_equal(run(c, NULL, args), 0);
		assert_non_null(strstr(c->out, serial[i]));
		assert_null(strstr(c->out, serial[1 - i]));
	}
	/* an unknown attribute is named */
	snprintf(args, sizeof(args), "token show --token '%s&colour=blue'", uri[0]);
	assert_int_equal(run(c, NULL, args), 65);
	assert_non_null(strstr(c->out, "unknown attribute \"colour\""));
}

/* A module another user could have written or swapped is never loaded: its file, and each
 * directory above it, must be ours or root's and not writable by group or others. */
static void test_module_file_checked(void **state)
{
	struct cli *c = *state;
	char dir[] = "/tmp/mpc-module-XXXXXX", copy[256], args[1024], cmd[1024];

	assert_non_null(mkdtemp(dir));
	snprintf(copy, sizeof(copy), "%s/libsofthsm2.so", dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", c->hsm.module, copy);
	assert_int_equal(system(cmd), 0);
	snprintf(args, sizeof(args), "token list --token 'pkcs11:?module-path=%s'", copy);
	assert_int_equal(chmod(dir, 0700), 0);
	assert_int_equal(chmod(copy, 0755), 0);
	assert_int_equal(run(c, "env -u MPC_BACKUP_PIN", args), 0);
	/* The module file writable by group, then its directory writable by others. */
	assert_int_equal(chmod(copy, 0775), 0);
	assert_int_equal(run(c, "env -u MPC_BACKUP_PIN", args), 11);
	assert_non_null(strstr(c->out, "refusing to load PKCS#11 module"));
	assert_non_null(strstr(c->out, copy));
	assert_int_equal(chmod(copy, 0755), 0);
	assert_int_equal(chmod(dir, 0777), 0);
	assert_int_equal(run(c, "env -u MPC_BACKUP_PIN", args), 11);
	assert_non_null(strstr(c->out, dir));
	/* Owned by another user (as root, the CI user, only). */
	assert_int_equal(chmod(dir, 0700), 0);
	if (geteuid() == 0) {
		assert_int_equal(chown(copy, 65534, 65534), 0);
		assert_int_equal(run(c, "env -u MPC_BACKUP_PIN", args), 11);
		assert_non_null(strstr(c->out, "65534"));
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_init_is_idempotent_and_prints_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pin_sources, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_pin_for_the_public_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_private_public_key_needs_the_pin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_says_verified, setup, teardown),
		cmocka_unit_test_setup_teardown(test_planted_key_beside_a_private_one, setup, teardown),
		cmocka_unit_test_setup_teardown(test_planted_key_that_does_not_pair, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_public_key_without_pin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_pin_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_locked_and_final_try, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clear_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_uris, setup, teardown),
		cmocka_unit_test_setup_teardown(test_module_file_checked, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
