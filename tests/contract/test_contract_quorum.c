/* test_contract_quorum.c: K-of-N agreement over three real fake-rpc processes, and
 * `contract status` (JSON and text) built from a poll, with secret-bearing RPC URLs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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

static void unlink_file(const char *dir, const char *name)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

static void reset_timeline(struct env *env)
{
	for (int i = 0; i < 3; i++) {
		fixture_copy("mainnet", env->dir[i], "state.json");
		fixture_copy("migration_info.json", env->dir[i], "migration_info.json");
		fixture_copy("lie-state.json", env->dir[i], "lie-state.json");
		fixture_write(env->dir[i], "fault", "none");
		unlink_file(env->dir[i], "lie-height");
		unlink_file(env->dir[i], "lie-hash");
		unlink_file(env->dir[i], "height");
		unlink_file(env->dir[i], "state@1001.json");
		unlink_file(env->dir[i], "migration_info@1001.json");
		unlink_file(env->dir[i], "state@5000.json");
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

/* Item 2's rule: one endpoint that produces a different view blocks, whatever K and wherever
 * it is listed; endpoints that fail neither vote nor block. */
static void test_one_liar_blocks(void **state)
{
	struct env *env = *state;
	struct mpc_contract_view v;
	struct mpc_endpoint_outcome oc[3];
	struct mpc_err e;

	fixture_write(env->dir[1], "fault", "lie");
	assert_int_equal(poll(env, 3, 0, &v, oc, &e), MPC_ERR_DISAGREE);
	assert_int_equal(v.has_keyset, 0);
	assert_non_null(strstr(e.msg, "RPC endpoints do not agree (3 of 3 answered, 2 needed; any "
				      "difference blocks)"));
	for (int i = 0; i < 3; i++) {
		assert_int_equal(oc[i].status, MPC_ENDPOINT_DISAGREE);
		assert_int_equal(oc[i].code, MPC_ERR_DISAGREE);
	}
	assert_non_null(strstr(oc[1].detail, "Running epoch 4 [0@239 1@0]"));
	assert_non_null(strstr(oc[0].detail, "Running epoch 4 [0@240 1@0]"));
	/* With quorum 1 the same liar blocks too. */
	assert_int_equal(poll(env, 3, 1, &v, oc, &e), MPC_ERR_DISAGREE);
	assert_int_equal(v.has_keyset, 0);
	/* The liar goes quiet (fails): the two honest endpoints decide. */
	fixture_write(env->dir[1], "fault", "503");
	assert_int_equal(poll(env, 3, 0, &v, oc, &e), MPC_OK);
	assert_int_equal(v.keyset.domains[0].attempt, 240);
	assert_int_equal(oc[1].status, MPC_ENDPOINT_ERROR);
	assert_int_equal(oc[0].block_height, oc[2].block_height);
	assert_string_equal(oc[0].block_hash, oc[2].block_hash);
	assert_int_equal(v.block_height, oc[0].block_height);
	mpc_contract_view_free(&v);
}

/* Run the three-endpoint poll with the endpoints in the order `ord`. */
static int poll_order(struct env *env, const int ord[3], size_t k, struct mpc_contract_view *v,
		      struct mpc_endpoint_outcome *oc, struct mpc_err *e)
{
	const char *urls[3];
	struct mpc_quorum *q = NULL;
	int rc;

	for (int i = 0; i < 3; i++)
		urls[i] = env->urls[ord[i]];
	mpc_err_clear(e);
	assert_int_equal(mpc_quorum_new(urls, 3, k, &env->opt, &q, e), MPC_OK);
	rc = mpc_quorum_poll(q, OPERATOR, v, oc, e);
	mpc_quorum_free(q);
	assert_no_secret(e->msg);
	return rc;
}

/* Item 2, attack proofs: a liar (endpoint 1), an honest endpoint (0) and a down one (2), in
 * both orders (liar first, liar last), with K = 1 and with the default K = 2. No order and no
 * K lets the liar's view through, and the honest view is never taken while the liar answers. */
static void test_liar_honest_down_both_orders(void **state)
{
	struct env *env = *state;
	static const int orders[2][3] = { { 1, 0, 2 }, { 2, 0, 1 } };
	static const size_t ks[2] = { 1, 2 };
	struct mpc_contract_view v;
	struct mpc_endpoint_outcome oc[3];
	struct mpc_err e;

	fixture_write(env->dir[1], "fault", "lie");
	fixture_write(env->dir[2], "fault", "refuse");
	for (int o = 0; o < 2; o++) {
		for (int k = 0; k < 2; k++) {
			int rc = poll_order(env, orders[o], ks[k], &v, oc, &e);

			if (rc != MPC_ERR_DISAGREE)
				fail_msg("order %d K=%zu: rc %d (%s)", o, ks[k], rc, e.msg);
			assert_false(v.has_keyset);
		}
	}
	/* The liar inflates its final block (so that honest endpoints look behind) and answers
	 * for it with a fabricated hash: the height read is still one the honest endpoint has,
	 * so it answers, and the liar's answer at that height dissents. */
	fixture_write(env->dir[1], "lie-height", "999999999999");
	fixture_write(env->dir[1], "lie-hash", "LiarLiarLiarLiarLiarLiarLiarLiar");
	fixture_copy("mainnet", env->dir[1], "lie-state.json"); /* same view, other hash */
	for (int o = 0; o < 2; o++) {
		for (int k = 0; k < 2; k++) {
			int rc = poll_order(env, orders[o], ks[k], &v, oc, &e);

			if (rc != MPC_ERR_DISAGREE)
				fail_msg("inflated, order %d K=%zu: rc %d (%s)", o, ks[k], rc, e.msg);
			assert_non_null(strstr(e.msg, "another block hash at the same height"));
			assert_true(oc[1].block_height < 999999999999ull);
			assert_false(v.has_keyset);
		}
	}
	/* The liar alone answers (the honest one down too): with K = 2 nothing is agreed. */
	fixture_write(env->dir[0], "fault", "refuse");
	assert_int_equal(poll_order(env, orders[0], 2, &v, oc, &e), MPC_ERR_HTTP);
	assert_non_null(strstr(e.msg, "too few RPC endpoints answered (1 of 3, 2 needed)"));
	fixture_write(env->dir[0], "fault", "none");
	/* Honest and down, no liar: the honest endpoint alone decides only with K = 1. */
	fixture_write(env->dir[1], "fault", "refuse");
	for (int o = 0; o < 2; o++) {
		assert_int_equal(poll_order(env, orders[o], 1, &v, oc, &e), MPC_OK);
		assert_int_equal(v.keyset.domains[0].attempt, 240);
		mpc_contract_view_free(&v);
		assert_int_equal(poll_order(env, orders[o], 2, &v, oc, &e), MPC_ERR_HTTP);
	}
	unlink_file(env->dir[1], "lie-height");
	unlink_file(env->dir[1], "lie-hash");
}

/* Item 1: the same server counted twice is refused, naming both (redacted). */
static void test_same_server_twice_refused(void **state)
{
	struct env *env = *state;
	char u[6][300];
	const char *urls[2];
	struct mpc_quorum *q = NULL;
	struct mpc_err e;
	/* Each URL is prefix + port + suffix. */
	static const char *const same[][4] = {
		{ "http://127.0.0.1:", "/", "http://127.0.0.1:", "/x?apikey=SECRET123" },
		{ "http://127.0.0.1:", "", "http://127.0.0.1:", "" },
		{ "HTTP://127.0.0.1:", "", "http://127.0.0.1:", "/" },
		{ "http://localhost:", "/", "http://127.0.0.1:", "/path-secret" },
		{ "http://[::1]:", "", "http://[0:0:0:0:0:0:0:1]:", "/" },
		{ "http://[::ffff:127.0.0.1]:", "", "http://127.0.0.1:", "" },
		{ "http://LOCALHOST.:", "", "http://localhost:", "" },
	};
	unsigned port = env->fake[0].port;

	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		snprintf(u[0], sizeof(u[0]), "%s%u%s", same[i][0], port, same[i][1]);
		snprintf(u[1], sizeof(u[1]), "%s%u%s", same[i][2], port, same[i][3]);
		urls[0] = u[0];
		urls[1] = u[1];
		mpc_err_clear(&e);
		if (mpc_quorum_new(urls, 2, 0, &env->opt, &q, &e) != MPC_ERR_USAGE)
			fail_msg("case %zu (%s, %s) not refused: %s", i, u[0], u[1], e.msg);
		assert_null(q);
		assert_non_null(strstr(e.msg, "RPC endpoints 1 ("));
		assert_non_null(strstr(e.msg, "and 2 ("));
		assert_non_null(strstr(e.msg, "are one server"));
		assert_no_secret(e.msg);
	}
	/* The case: H:P, H:P/x and another server: refused, so never "2 of 3 agree". */
	snprintf(u[0], sizeof(u[0]), "%s/", env->fake[0].url);
	snprintf(u[1], sizeof(u[1]), "%s/x", env->fake[0].url);
	snprintf(u[2], sizeof(u[2]), "%s/", env->fake[1].url);
	{
		const char *three[3] = { u[0], u[1], u[2] };

		mpc_err_clear(&e);
		assert_int_equal(mpc_quorum_new(three, 3, 0, &env->opt, &q, &e), MPC_ERR_USAGE);
		snprintf(u[3], sizeof(u[3]), "RPC endpoints 1 (%s) and 2 (%s)", env->fake[0].url,
			 env->fake[0].url);
		assert_non_null(strstr(e.msg, u[3]));
	}
	/* Distinct: another port, another scheme, default ports spelled or not on other hosts. */
	snprintf(u[0], sizeof(u[0]), "http://127.0.0.1:%u", port);
	snprintf(u[1], sizeof(u[1]), "http://127.0.0.1:%u", env->fake[1].port);
	urls[0] = u[0];
	urls[1] = u[1];
	mpc_err_clear(&e);
	assert_int_equal(mpc_quorum_new(urls, 2, 0, &env->opt, &q, &e), MPC_OK);
	mpc_quorum_free(q);
	urls[0] = "http://127.0.0.1:80";
	urls[1] = "http://127.0.0.1";
	mpc_err_clear(&e);
	assert_int_equal(mpc_quorum_new(urls, 2, 0, &env->opt, &q, &e), MPC_ERR_USAGE);
	urls[1] = "https://127.0.0.1";
	mpc_err_clear(&e);
	assert_int_equal(mpc_quorum_new(urls, 2, 0, &env->opt, &q, &e), MPC_OK);
	assert_false(mpc_quorum_single_server_decides(q));
	mpc_quorum_free(q);
	mpc_err_clear(&e);
	assert_int_equal(mpc_quorum_new(urls, 2, 1, &env->opt, &q, &e), MPC_OK);
	assert_true(mpc_quorum_single_server_decides(q));
	mpc_quorum_free(q);
}

/* Item 4: one block per poll. The timeline concludes a migration at block 1001 (the
 * participant's URL becomes the destination's; the migration_info entry goes). Before, state
 * and migration_info were read as two `final` calls, so a conclusion landing between them gave
 * "old participant, no destination" (a cancellation); now both are read at one block. */
static void test_one_block_per_poll(void **state)
{
	struct env *env = *state;
	struct mpc_fake_rpc f;
	struct mpc_contract_view v;
	struct mpc_endpoint_outcome oc[3];
	struct mpc_quorum *q = NULL;
	struct mpc_err e = { 0 };
	size_t len;
	char *st = fixture_read("mainnet", &len), *concluded, log[600];
	const char *url;

	concluded = fixture_replace(st, "https://multichain-mainnet-0.nearone.org",
				    "http://new-node.example.org:3000");
	fixture_write(env->dir[0], "state@1001.json", concluded);
	fixture_write(env->dir[0], "migration_info@1001.json", "{}");
	/* The final height advances by one on every request: exactly the race. */
	fixture_write(env->dir[0], "height", "1000+");
	snprintf(log, sizeof(log), "%s/race.log", env->dir[0]);
	assert_int_equal(mpc_fake_rpc_start(&f, env->dir[0], NULL, log), 0);
	url = f.url;
	assert_int_equal(mpc_quorum_new(&url, 1, 0, &env->opt, &q, &e), MPC_OK);
	assert_int_equal(mpc_quorum_poll(q, OPERATOR, &v, oc, &e), MPC_OK);
	/* Block 1000, both views: the old participant, with the migration still under way. */
	assert_int_equal(v.block_height, 1000);
	assert_true(v.has_own);
	assert_string_equal(v.own.info.url, "https://multichain-mainnet-0.nearone.org");
	assert_true(v.has_migration && v.migration.has_destination);
	mpc_contract_view_free(&v);
	/* The next poll reads one later block, again consistent: concluded, no destination. */
	assert_int_equal(mpc_quorum_poll(q, OPERATOR, &v, oc, &e), MPC_OK);
	assert_true(v.block_height > 1000);
	assert_string_equal(v.own.info.url, "http://new-node.example.org:3000");
	assert_false(v.has_migration);
	mpc_contract_view_free(&v);
	mpc_quorum_free(q);
	mpc_fake_rpc_stop(&f);
	free(st);
	free(concluded);
	unlink_file(env->dir[0], "state@1001.json");
	unlink_file(env->dir[0], "migration_info@1001.json");
	unlink_file(env->dir[0], "height");
}

/* Item 4: honest endpoints at different heights do not disagree; one that does not have the
 * chosen block yet counts as not answering, never as disagreeing. */
static void test_endpoints_at_different_heights(void **state)
{
	struct env *env = *state;
	struct mpc_contract_view v;
	struct mpc_endpoint_outcome oc[3];
	struct mpc_err e;

	/* The contract changes at block 5000: endpoint 2 is still at 4998. */
	for (int i = 0; i < 3; i++)
		fixture_copy("resharing.json", env->dir[i], "state@5000.json");
	fixture_write(env->dir[0], "height", "5001");
	fixture_write(env->dir[1], "height", "5003");
	fixture_write(env->dir[2], "height", "4998");
	assert_int_equal(poll(env, 3, 0, &v, oc, &e), MPC_OK);
	/* K' = 2: the 2nd highest of {5001, 5003, 4998}. */
	assert_int_equal(v.block_height, 5001);
	assert_int_equal(v.kind, MPC_STATE_RESHARING);
	assert_int_equal(oc[0].status, MPC_ENDPOINT_OK);
	assert_int_equal(oc[1].status, MPC_ENDPOINT_OK);
	assert_int_equal(oc[2].status, MPC_ENDPOINT_ERROR);
	assert_true(oc[2].behind);
	assert_non_null(strstr(oc[2].detail, "behind: block 5001 not there yet"));
	mpc_contract_view_free(&v);
	/* With all three needed (K' = 3) the read is at the lowest height, which all have. */
	assert_int_equal(poll(env, 3, 3, &v, oc, &e), MPC_OK);
	assert_int_equal(v.block_height, 4998);
	assert_int_equal(v.kind, MPC_STATE_RUNNING);
	mpc_contract_view_free(&v);
	/* Behind plus a failure: too few answers, an RPC failure, not a disagreement. */
	fixture_write(env->dir[0], "fault", "panic");
	assert_int_equal(poll(env, 3, 0, &v, oc, &e), MPC_ERR_RPC);
	assert_non_null(strstr(e.msg, "behind: does not have the chosen final block yet"));
	assert_non_null(strstr(e.msg, "too few RPC endpoints answered (1 of 3, 2 needed)"));
	fixture_write(env->dir[0], "fault", "none");
	/* Read at the lagging endpoint's height when it is the K'-th: everyone has it. */
	fixture_write(env->dir[1], "height", "4998");
	assert_int_equal(poll(env, 3, 0, &v, oc, &e), MPC_OK);
	assert_int_equal(v.block_height, 4998);
	assert_int_equal(v.kind, MPC_STATE_RUNNING);
	for (int i = 0; i < 3; i++)
		assert_int_equal(oc[i].status, MPC_ENDPOINT_OK);
	mpc_contract_view_free(&v);
	for (int i = 0; i < 3; i++) {
		unlink_file(env->dir[i], "height");
		unlink_file(env->dir[i], "state@5000.json");
	}
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
	assert_non_null(strstr(e.msg, "RPC endpoints do not agree (3 of 3 answered, 2 needed"));
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

static void test_failures_neither_vote_nor_block(void **state)
{
	struct env *env = *state;
	struct mpc_contract_view v;
	struct mpc_endpoint_outcome oc[3];
	struct mpc_err e;

	fixture_write(env->dir[1], "fault", "refuse");
	fixture_write(env->dir[2], "fault", "nonjson");
	/* One view, two failures: too few answers (not a disagreement). */
	assert_int_equal(poll(env, 3, 0, &v, oc, &e), MPC_ERR_RPC);
	assert_non_null(strstr(e.msg, "too few RPC endpoints answered (1 of 3, 2 needed)"));
	assert_int_equal(oc[0].status, MPC_ENDPOINT_OK);
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
		cmocka_unit_test_setup(test_one_liar_blocks, per_test_setup),
		cmocka_unit_test_setup(test_liar_honest_down_both_orders, per_test_setup),
		cmocka_unit_test_setup(test_same_server_twice_refused, per_test_setup),
		cmocka_unit_test_setup(test_one_block_per_poll, per_test_setup),
		cmocka_unit_test_setup(test_endpoints_at_different_heights, per_test_setup),
		cmocka_unit_test_setup(test_two_disagreeing_stop, per_test_setup),
		cmocka_unit_test_setup(test_failures_neither_vote_nor_block, per_test_setup),
		cmocka_unit_test_setup(test_hanging_endpoint_bounded, per_test_setup),
		cmocka_unit_test_setup(test_one_of_one, per_test_setup),
		cmocka_unit_test_setup(test_status, per_test_setup),
		cmocka_unit_test_setup(test_status_recovery, per_test_setup),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
