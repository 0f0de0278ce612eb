/* test_cli_usage.c: what every mpc-backup command does with its command line, run as an
 * operator types it: `-h` is `--help` everywhere, a mistyped command, subcommand or option gets
 * "did you mean", errors name the full command ("mpc-backup token show: ..."), and
 * `token show --json` gives key ids in hex as the text form does (real SoftHSM2 token). */
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

#include "tests/cli/cli_harness.h"
#include "tests/support/softhsm.h"

/* `CMD [SUB] -h`: exit 0 and the command's usage on stdout (it was "unknown option -h"). */
static void test_dash_h_everywhere(void **state)
{
	static const char *const cmds[][2] = {
		{ "token", NULL },   { "token", "show" },     { "register", NULL },
		{ "node", "hello" }, { "backup", NULL },      { "restore", NULL },
		{ "store", "list" }, { "store", "verify" },   { "contract", "status" },
		{ "run", NULL },     { "import", "node-keys" }, { "drill", NULL },
		{ "doctor", NULL },
	};
	struct ch_result r = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		char want[64];

		if (cmds[i][1] != NULL)
			ch_run(&r, NULL, NULL, cmds[i][0], cmds[i][1], "-h", (char *)NULL);
		else
			ch_run(&r, NULL, NULL, cmds[i][0], "-h", (char *)NULL);
		snprintf(want, sizeof(want), "usage: mpc-backup %s", cmds[i][0]);
		if (r.status != 0 || strstr(r.out, want) == NULL)
			fail_msg("mpc-backup %s %s -h: exit %d, stdout:\n%s\nstderr:\n%s", cmds[i][0],
				 cmds[i][1] ? cmds[i][1] : "", r.status, r.out, r.err);
	}
	ch_result_free(&r);
}

/* Typos: the nearest name, never a value. */
static void test_did_you_mean(void **state)
{
	struct ch_result r = { 0 };

	(void)state;
	ch_run(&r, NULL, NULL, "stor", "list", (char *)NULL);
	ch_expect(&r, 2, "did you mean \"store\"?");
	ch_run(&r, NULL, NULL, "store", "lst", "--store", "/nonexistent", (char *)NULL);
	ch_expect(&r, 2, "did you mean \"list\"?");
	ch_expect_one_error_line(&r, "store");
	ch_run(&r, NULL, NULL, "contract", "stats", (char *)NULL);
	ch_expect(&r, 2, "did you mean \"status\"?");
	ch_run(&r, NULL, NULL, "token", "shwo", (char *)NULL);
	ch_expect(&r, 2, "did you mean \"show\"?");
	ch_run(&r, NULL, NULL, "backup", "--stor", "/nonexistent", (char *)NULL);
	ch_expect(&r, 2, "did you mean \"--store\"?");
	ch_expect_one_error_line(&r, "backup");
	ch_run(&r, NULL, NULL, "store", "list", "--stroe=/nonexistent", (char *)NULL);
	ch_expect(&r, 2, "did you mean \"--store\"?");
	ch_expect_one_error_line(&r, "store list");
	if (strstr(r.err, "/nonexistent") != NULL)
		fail_msg("a mistyped option's value is printed:\n%s", r.err);
	/* nothing near: no suggestion */
	ch_run(&r, NULL, NULL, "backup", "--zzzzzzzz", (char *)NULL);
	ch_expect(&r, 2, "unknown option \"--zzzzzzzz\"");
	assert_null(strstr(r.err, "did you mean"));
	ch_result_free(&r);
}

/* Errors of subcommands name the full command (they said "mpc-backup token:" or
 * "mpc-backup list:"). */
static void test_full_command_prefix(void **state)
{
	struct ch_result r = { 0 };

	(void)state;
	ch_run(&r, NULL, NULL, "token", "show", "--bogus", (char *)NULL);
	ch_expect(&r, 2, NULL);
	ch_expect_one_error_line(&r, "token show");
	ch_run(&r, NULL, NULL, "store", "prune", "--store", "/nonexistent", (char *)NULL);
	ch_expect(&r, 2, "--keep N");
	ch_expect_one_error_line(&r, "store prune");
	ch_result_free(&r);
}

/* token show --json: "id" is the hex string the text form prints ("id 01"), not a number. */
static void test_token_show_json_ids_hex(void **state)
{
	struct th_softhsm hsm;
	struct ch_result r = { 0 };
	char key[64];
	json_error_t je;
	json_t *j, *keys;
	size_t i;
	json_t *k;

	(void)state;
	assert_int_equal(th_softhsm_setup(&hsm, "mpc-backup", NULL), 0);
	ch_token_init(hsm.uri, key);
	ch_run(&r, NULL, NULL, "token", "show", "--token", hsm.uri, (char *)NULL);
	ch_expect(&r, 0, key);
	ch_run(&r, NULL, NULL, "token", "show", "--json", "--token", hsm.uri, (char *)NULL);
	ch_expect(&r, 0, NULL);
	j = json_loads(r.out, 0, &je);
	assert_non_null(j);
	keys = json_object_get(j, "keys");
	assert_true(json_array_size(keys) >= 2);
	json_array_foreach(keys, i, k) {
		const char *id = json_string_value(json_object_get(k, "id"));
		char line[128];

		if (id == NULL || strlen(id) != 2 || strspn(id, "0123456789abcdef") != 2)
			fail_msg("key %zu: \"id\" is not two hex digits:\n%s", i, r.out);
		snprintf(line, sizeof(line), "id %s", id);
		/* the text form shows the same id */
		ch_run(&r, NULL, NULL, "token", "show", "--token", hsm.uri, (char *)NULL);
		ch_expect(&r, 0, line);
		break;
	}
	json_decref(j);
	ch_result_free(&r);
	th_softhsm_teardown(&hsm);
}

/* token, store and register take --config (it was `run` only): the token URI and the store come from
 * the file; a flag overrides it. */
static void test_config_for_token_and_store(void **state)
{
	struct th_softhsm hsm;
	struct ch_result r = { 0 };
	char key[64], conf[600], text[1200], store[600];

	(void)state;
	assert_int_equal(th_softhsm_setup(&hsm, "mpc-backup", NULL), 0);
	ch_token_init(hsm.uri, key);
	snprintf(store, sizeof(store), "%s/store", hsm.dir);
	assert_int_equal(mkdir(store, 0700), 0);
	snprintf(text, sizeof(text), "token = %s\nstore = %s\naccount = op.near\n", hsm.uri, store);
	ch_write(hsm.dir, "cli.conf", text, conf);
	ch_run(&r, NULL, NULL, "token", "show", "--config", conf, (char *)NULL);
	ch_expect(&r, 0, key);
	ch_run(&r, NULL, NULL, "store", "list", "--config", conf, (char *)NULL);
	ch_expect(&r, 0, "the store is empty");
	/* register: the account and the token from the file */
	ch_run(&r, NULL, NULL, "register", "--config", conf, (char *)NULL);
	ch_expect(&r, 0, key);
	assert_non_null(strstr(r.out, "sign-as op.near"));
	ch_run(&r, NULL, NULL, "store", "verify", "--config", conf, (char *)NULL);
	ch_expect(&r, 18, "the store holds no keyset");
	ch_run(&r, NULL, NULL, "store", "list", "--config", conf, "--store", "/nonexistent-store",
	       (char *)NULL);
	ch_expect(&r, 18, "/nonexistent-store");
	ch_expect_one_error_line(&r, "store list");
	ch_result_free(&r);
	th_softhsm_teardown(&hsm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dash_h_everywhere),
		cmocka_unit_test(test_did_you_mean),
		cmocka_unit_test(test_full_command_prefix),
		cmocka_unit_test(test_token_show_json_ids_hex),
		cmocka_unit_test(test_config_for_token_and_store),
	};

	return CH_MAIN(tests);
}
