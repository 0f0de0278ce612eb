/* test_contract_quorum.c: K-of-N agreement over three real fake-rpc processes, and
 * `contract status` (JSON and text) built from a poll, with secret-bearing RPC URLs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "src/contract/quorum.h"
#include "src/contract/status.h"
#include "src/util/encoding.h"
#include "tests/contract/contract_fixtures.h"
#include "tests/fakes/rpc/fake_rpc_spawn.h"

#define OPERATOR "n1-multichain.near"
/* The operator's registered backup key in fixtures/migration_info.json. */
#define BACKUP_KEY "ed25519:JBjY7yjbfQ51na3bStPPYMyfModUTFHco5xUNEem3uu6"

struct env {
	const char *dir[3];
	char log[3][512];
	struct mpc_fake_rpc fake[3];
	char url[3][256];       /* with a secret path and query */
	const char *urls[3];
	struct mpc_rpc_options opt;
};

static void reset_timeline(struct env *env)
{
	for (int i = 0; i < 3; i++) {
		fixture_copy("mainnet", env->dir[i], "state.json");
		fixture_copy("migration_info.json", env->dir[i], "migration_info.json");
		fixture_copy("lie-state.json", env->dir[i], "lie-state.json");
		fixture_write(env->dir[i], "fault", "none");
	}
}

static int setup(void **state)
{
	static struct env env;

	for (int i = 0; i < 3; i++) {
		env.dir[i] = fixture_tmpdir(i);
		snprintf(env.log[i], sizeof(env.log[i]), "%s/fake.log", env.dir[i]);
	}
	reset_timeline(&env);
	for (int i = 0; i < 3; i++) {
		if (mpc_fake_rpc_start(&env.fake[i], env.dir[i], NULL, env.log[i]) != 0)
			return -1;
		snprintf(env.url[i], sizeof(env.url[i]), "%s/path-secret?apikey=SECRET123",
			 env.fake[i].url);
		env.urls[i] = env.url[i];
	}
	env.opt.connect_timeout_ms = 2000;
	env.opt.timeout_ms = 5000;
	*state = &env;
	return 0;
}

static int teardown(void **state)
{
	struct env *env = *state;

	for (int i = 0; i < 3; i++) {
		fixture_write(env->dir[i], "fault", "none");
		mpc_fake_rpc_stop(&env->fake[i]);
		fixture_rmdir(env->dir[i]);
	}
	return 0;
}

static int per_test_setup(void **state)
{
	reset_timeline(*state);
	return 0;
}

static void assert_no_secret(const char *s)
{
	if (strstr(s, "SECRET123") != NULL || strstr(s, "path-secret") != NULL ||
	    strstr(s, "apikey") != NULL)
		fail_msg("secret leaked: [%s]", s);
}

/* One poll over endpoints [0, n) with quorum k. */
static int poll(struct env *env, size_t n, size_t k, struct mpc_contract_view *v,
		struct mpc_endpoint_outcome *oc, struct mpc_err *e)
{
	struct mpc_quorum *q = NULL;
	int rc;

	mpc_err_clear(e);
	assert_int_equal(mpc_quorum_new(env->urls, n, k, &env->opt, &q, e), MPC_OK);
	rc = mpc_quorum_poll(q, OPERATOR, v, oc, e);
	mpc_quorum_free(q);
	assert_no_secret(e->msg);
	for (size_t i = 0; i < n; i++) {
		assert_no_secret(oc[i].endpoint);
		assert_no_secret(oc[i].detail);
		assert_string_equal(oc[i].endpoint, env->fake[i].url);
	}
	return rc;
}

static void test_all_agree_and_timeline(void **state)
{
	struct env *env = *state;
	struct mpc_contract_view v;
	struct mpc_endpoint_outcome oc[3];
	struct mpc_err e;

	assert_int_equal(poll(env, 3, 0, &v, oc, &e), MPC_OK);
	assert_int_equal(v.kind, MPC_STATE_RUNNING);
	assert_int_equal(v.keyset.domains[0].attempt, 240);
	for (int i = 0; i < 3; i++)
		assert_int_equal(oc[i].status, MPC_ENDPOINT_OK);
	mpc_contract_view_free(&v);
	/* The timeline advances on every endpoint: the next poll sees Resharing. */
	for (int i = 0; i < 3; i++)
		fixture_copy("resharing.json", env->dir[i], "state.json");
	assert_int_equal(poll(env, 3, 0, &v, oc, &e), MPC_OK);
	assert_int_equal(v.kind, MPC_STATE_RESHARING);
	assert_true(v.has_keyset);
	assert_int_equal(v.keyset.epoch_id, 4);
	assert_int_equal(v.next_epoch, 5);
	mpc_contract_view_free(&v);
}

static void test_one_liar_outvoted(void **state)
{
	struct env *env = *state;
	struct mpc_contract_view v;
	struct mpc_endpoint_outcome oc[3];
	struct mpc_err e;

	fixture_write(env->dir[1], "fault", "lie");
	assert_int_equal(poll(env, 3, 0, &v, oc, &e), MPC_OK);
	assert_int_equal(v.keyset.domains[0].attempt, 240);
	assert_int_equal(oc[0].status, MPC_ENDPOINT_OK);
	assert_int_equal(oc[1].status, MPC_ENDPOINT_DISAGREE);
	assert_int_equal(oc[1].code, MPC_ERR_DISAGREE);
	assert_non_null(strstr(oc[1].detail, "Running epoch 4 [0@239 1@0]"));
	assert_int_equal(oc[2].status, MPC_ENDPOINT_OK);
	mpc_contract_view_free(&v);
	/* With quorum 3 the same liar blocks action. */
	assert_int_equal(poll(env, 3, 3, &v, oc, &e), MPC_ERR_DISAGREE);
	assert_int_equal(v.has_keyset, 0);
}

static void test_two_disagreeing_stop(void **state)
{
	struct env *env = *state;
	struct mpc_contract_view v;
	struct mpc_endpoint_outcome oc[3];
	struct mpc_err e;
	char want[256];

	fixture_write(env->dir[1], "fault", "lie");
	fixture_copy("resharing.json", env->dir[2], "lie-state.json");
	fixture_write(env->dir[2], "fault", "lie");
	assert_int_equal(poll(env, 3, 0, &v, oc, &e), MPC_ERR_DISAGREE);
	assert_int_equal(v.kind, 0);
	assert_null(v.keyset.domains);
	assert_non_null(strstr(e.msg, "RPC endpoints do not agree (2 of 3 needed, best 1)"));
	/* The message names each endpoint and what it said. */
	snprintf(want, sizeof(want), "%s: Running epoch 4 [0@240 1@0]", env->fake[0].url);
	assert_non_null(strstr(e.msg, want));
	snprintf(want, sizeof(want), "%s: Running epoch 4 [0@239 1@0]", env->fake[1].url);
	assert_non_null(strstr(e.msg, want));
	snprintf(want, sizeof(want), "%s: Resharing epoch 4 [0@240 1@0]", env->fake[2].url);
	assert_non_null(strstr(e.msg, want));
	for (int i = 0; i < 3; i++)
		assert_int_equal(oc[i].status, MPC_ENDPOINT_DISAGREE);
}

static void test_failures_count_as_disagreement(void **state)
{
	struct env *env = *state;
	struct mpc_contract_view v;
	struct mpc_endpoint_outcome oc[3];
	struct mpc_err e;

	fixture_write(env->dir[1], "fault", "refuse");
	fixture_write(env->dir[2], "fault", "nonjson");
	assert_int_equal(poll(env, 3, 0, &v, oc, &e), MPC_ERR_DISAGREE);
	assert_int_equal(oc[0].status, MPC_ENDPOINT_DISAGREE);
	assert_int_equal(oc[1].status, MPC_ENDPOINT_ERROR);
	assert_int_equal(oc[1].code, MPC_ERR_HTTP);
	assert_int_equal(oc[2].status, MPC_ENDPOINT_ERROR);
	assert_int_equal(oc[2].code, MPC_ERR_PARSE);
	assert_non_null(strstr(e.msg, "error MPC_ERR_PARSE"));
	/* One failure of three still leaves a majority. */
	fixture_write(env->dir[2], "fault", "panic");
	fixture_write(env->dir[1], "fault", "none");
	assert_int_equal(poll(env, 3, 0, &v, oc, &e), MPC_OK);
	assert_int_equal(oc[2].status, MPC_ENDPOINT_ERROR);
	assert_int_equal(oc[2].code, MPC_ERR_RPC);
	mpc_contract_view_free(&v);
	/* A bad migration_info on one endpoint makes that endpoint fail, not the poll. */
	fixture_write(env->dir[2], "fault", "none");
	fixture_write(env->dir[2], "migration_info.json", "{\"n1-multichain.near\": 7}");
	assert_int_equal(poll(env, 3, 0, &v, oc, &e), MPC_OK);
	assert_int_equal(oc[2].status, MPC_ENDPOINT_ERROR);
	assert_non_null(strstr(oc[2].detail, "migration_info.n1-multichain.near: expected"));
	mpc_contract_view_free(&v);
}

static void test_hanging_endpoint_bounded(void **state)
{
	struct env *env = *state;
	struct mpc_contract_view v;
	struct mpc_endpoint_outcome oc[3];
	struct mpc_err e;
	long saved = env->opt.timeout_ms;

	env->opt.timeout_ms = 500;
	fixture_write(env->dir[1], "fault", "hang");
	assert_int_equal(poll(env, 3, 0, &v, oc, &e), MPC_OK);
	assert_int_equal(oc[1].status, MPC_ENDPOINT_ERROR);
	assert_int_equal(oc[1].code, MPC_ERR_TIMEOUT);
	mpc_contract_view_free(&v);
	fixture_write(env->dir[1], "fault", "none");
	env->opt.timeout_ms = saved;
}

static void test_one_of_one(void **state)
{
	struct env *env = *state;
	struct mpc_contract_view v;
	struct mpc_endpoint_outcome oc[1];
	struct mpc_quorum *q = NULL;
	struct mpc_err e;

	assert_int_equal(poll(env, 1, 0, &v, oc, &e), MPC_OK);
	assert_int_equal(v.kind, MPC_STATE_RUNNING);
	mpc_contract_view_free(&v);
	fixture_write(env->dir[0], "fault", "lie");
	assert_int_equal(poll(env, 1, 0, &v, oc, &e), MPC_OK); /* one endpoint: trusted as is */
	assert_int_equal(v.keyset.domains[0].attempt, 239);
	mpc_contract_view_free(&v);
	mpc_err_clear(&e);
	assert_int_equal(mpc_quorum_new(env->urls, 1, 2, NULL, &q, &e), MPC_ERR_USAGE);
	mpc_err_clear(&e);
	assert_int_equal(mpc_quorum_new(env->urls, 0, 0, NULL, &q, &e), MPC_ERR_USAGE);
	assert_null(q);
}

static int covers_yes(void *ctx, const struct mpc_keyset *ks)
{
	*(uint64_t *)ctx = ks->epoch_id;
	return MPC_TRI_YES;
}

static void test_status(void **state)
{
	struct env *env = *state;
	uint8_t ours[32];
	uint64_t asked = 0;
	struct mpc_status_args a = { 0 };
	struct mpc_err e = { 0 };
	json_t *s = NULL;
	char *js, *text;
	int prc = -99;

	assert_int_equal(mpc_ed25519_key_parse(BACKUP_KEY, ours, "k", &e), MPC_OK);
	a.rpc_urls = env->urls;
	a.n_urls = 3;
	a.rpc = &env->opt;
	a.operator_account = OPERATOR;
	a.own_tls_key = ours;
	a.covers = covers_yes;
	a.covers_ctx = &asked;
	fixture_write(env->dir[2], "fault", "echo");
	assert_int_equal(mpc_contract_status_run(&a, &s, &prc, &e), MPC_OK);
	assert_int_equal(prc, MPC_OK);
	assert_int_equal(asked, 4);
	js = json_dumps(s, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_int_equal(mpc_status_render_text(s, &text, &e), MPC_OK);
	assert_no_secret(js);
	assert_no_secret(text);
	assert_non_null(strstr(js, "\"agreed\":true"));
	assert_non_null(strstr(js, "\"protocol_state\":\"Running\""));
	assert_non_null(strstr(js, "\"migration_address\":\"multichain-mainnet-0.nearone.org:8079\""));
	assert_non_null(strstr(js, "\"is_ours\":true"));
	assert_non_null(strstr(js, "\"store_covers_keyset\":true"));
	assert_non_null(strstr(js, "\"url\":\"http://new-node.example.org:3000\""));
	assert_non_null(strstr(js, "\"migration_address\":\"new-node.example.org:8079\""));
	assert_non_null(strstr(js, "\"status\":\"error\""));
	assert_non_null(strstr(text, "endpoints:           2 of 3 agree (quorum 2)"));
	assert_non_null(strstr(text, "domain 0  Secp256k1 attempt 240"));
	assert_non_null(strstr(text, "backup service:      registered " BACKUP_KEY " (ours: yes)"));
	free(js);
	free(text);
	json_decref(s);

	/* Disagreement: still a status, saying so, with nothing secret in it. */
	fixture_write(env->dir[1], "fault", "lie");
	a.own_tls_key = NULL;
	a.covers = NULL;
	assert_int_equal(mpc_contract_status_run(&a, &s, &prc, &e), MPC_OK);
	assert_int_equal(prc, MPC_ERR_DISAGREE);
	js = json_dumps(s, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_int_equal(mpc_status_render_text(s, &text, &e), MPC_OK);
	assert_no_secret(js);
	assert_no_secret(text);
	assert_non_null(strstr(js, "\"agreed\":false"));
	assert_non_null(strstr(js, "\"keyset\":null"));
	assert_non_null(strstr(js, "\"store_covers_keyset\":null"));
	assert_non_null(strstr(text, "NO AGREEMENT"));
	free(js);
	free(text);
	json_decref(s);
}

static void test_status_recovery(void **state)
{
	struct env *env = *state;
	struct mpc_address_override ov = { OPERATOR, 0, { 0 }, "10.9.9.9:7000" };
	struct mpc_address_config cfg = { 0, &ov, 1 };
	struct mpc_status_args a = { 0 };
	struct mpc_err e = { 0 };
	json_t *s = NULL;
	char *js, *text;

	for (int i = 0; i < 3; i++)
		fixture_copy("recovery.json", env->dir[i], "state.json");
	a.rpc_urls = env->urls;
	a.n_urls = 3;
	a.rpc = &env->opt;
	a.operator_account = OPERATOR;
	a.addresses = &cfg;
	assert_int_equal(mpc_contract_status_run(&a, &s, NULL, &e), MPC_OK);
	js = json_dumps(s, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_int_equal(mpc_status_render_text(s, &text, &e), MPC_OK);
	assert_non_null(strstr(js, "\"protocol_state\":\"Recovery\""));
	assert_non_null(strstr(js, "\"prospective\":{\"url\":\"https://[2001:db8::7]:443\""));
	assert_non_null(strstr(js, "\"migration_address\":\"10.9.9.9:7000\",\"address_overridden\":true"));
	assert_non_null(strstr(js, "\"is_ours\":null"));
	assert_non_null(strstr(text, "recovery:            prospective node"));
	free(js);
	free(text);
	json_decref(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_all_agree_and_timeline, per_test_setup),
		cmocka_unit_test_setup(test_one_liar_outvoted, per_test_setup),
		cmocka_unit_test_setup(test_two_disagreeing_stop, per_test_setup),
		cmocka_unit_test_setup(test_failures_count_as_disagreement, per_test_setup),
		cmocka_unit_test_setup(test_hanging_endpoint_bounded, per_test_setup),
		cmocka_unit_test_setup(test_one_of_one, per_test_setup),
		cmocka_unit_test_setup(test_status, per_test_setup),
		cmocka_unit_test_setup(test_status_recovery, per_test_setup),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
