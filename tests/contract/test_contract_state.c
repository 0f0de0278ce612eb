/* test_contract_state.c: every ProtocolContractState variant from deployed-format fixtures,
 * migration_info, the operator's derived view, migration addresses, and hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "src/contract/address.h"
#include "src/contract/migration.h"
#include "src/contract/state.h"
#include "src/contract/view.h"
#include "src/util/encoding.h"
#include "tests/contract/contract_fixtures.h"

#define OPERATOR "n1-multichain.near"

static void parse_fixture(const char *name, struct mpc_contract_state *st)
{
	size_t len;
	char *t = fixture_read(name, &len);
	struct mpc_err e = { 0 };

	if (mpc_contract_state_parse(t, len, st, &e) != MPC_OK)
		fail_msg("%s: %s", name, e.msg);
	free(t);
}

static void test_mainnet_running(void **state)
{
	struct mpc_contract_state st;
	const struct mpc_keyset *ks;
	const struct mpc_participant *p;
	char addr[MPC_ADDRESS_MAX];
	struct mpc_err e = { 0 };

	(void)state;
	parse_fixture("mainnet", &st);
	assert_int_equal(st.kind, MPC_STATE_RUNNING);
	assert_string_equal(mpc_protocol_kind_name(st.kind), "Running");
	assert_int_equal(st.participants.n, 10);
	assert_int_equal(st.participants.next_id, 12);
	assert_int_equal(st.threshold, 7);
	ks = mpc_contract_state_backup_keyset(&st);
	assert_non_null(ks);
	assert_int_equal(ks->epoch_id, 4);
	assert_int_equal(ks->n_domains, 2);
	assert_int_equal(ks->domains[0].curve, MPC_CURVE_SECP256K1);
	assert_int_equal(ks->domains[0].attempt, 240);
	assert_int_equal(ks->domains[1].curve, MPC_CURVE_ED25519);
	p = mpc_participants_find(&st.participants, OPERATOR);
	assert_non_null(p);
	assert_int_equal(p->participant_id, 8);
	assert_string_equal(p->info.url, "https://multichain-mainnet-0.nearone.org");
	assert_int_equal(mpc_migration_address(NULL, p->account_id, p->info.url, p->info.tls_key,
					       addr, NULL, &e),
			 MPC_OK);
	assert_string_equal(addr, "multichain-mainnet-0.nearone.org:8079");
	p = mpc_participants_find(&st.participants, "stakin-mpc.near");
	assert_non_null(p);
	assert_string_equal(p->info.url, "http://near-mpc-mainnet-1.stakin-nodes.com");
	assert_null(mpc_participants_find(&st.participants, "nobody.near"));
	mpc_contract_state_free(&st);
	mpc_contract_state_free(NULL);
}

static void test_resharing(void **state)
{
	struct mpc_contract_state st;
	const struct mpc_keyset *ks;

	(void)state;
	parse_fixture("resharing.json", &st);
	assert_int_equal(st.kind, MPC_STATE_RESHARING);
	ks = mpc_contract_state_backup_keyset(&st);
	assert_non_null(ks); /* the previous running keyset stays the one to back up */
	assert_int_equal(ks->epoch_id, 4);
	assert_int_equal(ks->domains[0].attempt, 240);
	assert_true(st.has_next_epoch);
	assert_int_equal(st.next_epoch, 5);
	assert_non_null(mpc_participants_find(&st.participants, OPERATOR));
	mpc_contract_state_free(&st);
}

static void test_initializing_and_not_initialized(void **state)
{
	struct mpc_contract_state st;

	(void)state;
	parse_fixture("initializing.json", &st);
	assert_int_equal(st.kind, MPC_STATE_INITIALIZING);
	assert_null(mpc_contract_state_backup_keyset(&st));
	assert_true(st.has_next_epoch);
	assert_int_equal(st.next_epoch, 4);
	mpc_contract_state_free(&st);
	parse_fixture("not-initialized.json", &st);
	assert_int_equal(st.kind, MPC_STATE_NOT_INITIALIZED);
	assert_null(mpc_contract_state_backup_keyset(&st));
	mpc_contract_state_free(&st);
}

static void test_recovery_and_view(void **state)
{
	size_t sl, ml;
	char *s = fixture_read("recovery.json", &sl), *m = fixture_read("migration_info.json", &ml);
	struct mpc_contract_view v, v2, other;
	struct mpc_err e = { 0 };
	char addr[MPC_ADDRESS_MAX], sum[512];

	(void)state;
	assert_int_equal(mpc_contract_view_parse(s, sl, m, ml, OPERATOR, &v, &e), MPC_OK);
	assert_int_equal(v.kind, MPC_STATE_RECOVERY);
	assert_true(v.has_keyset);
	assert_int_equal(v.keyset.epoch_id, 4);
	assert_true(v.has_own);
	assert_string_equal(v.own.info.url, "https://multichain-mainnet-0.nearone.org");
	assert_true(v.has_prospective);
	assert_string_equal(v.prospective.info.url, "https://[2001:db8::7]:443");
	assert_int_equal(mpc_migration_address(NULL, OPERATOR, v.prospective.info.url,
					       v.prospective.info.tls_key, addr, NULL, &e),
			 MPC_OK);
	assert_string_equal(addr, "[2001:db8::7]:8079");
	assert_true(v.has_migration);
	assert_true(v.migration.has_backup);
	assert_true(v.migration.has_destination);
	assert_string_equal(v.migration.destination.url, "http://new-node.example.org:3000");
	assert_int_equal(v.migration.signer_curve, MPC_CURVE_ED25519);
	mpc_contract_view_summary(&v, sum, sizeof(sum));
	assert_non_null(strstr(sum, "Recovery epoch 4 [0@240 1@0] own=yes backup=yes "
				    "destination=yes prospective=yes"));
	assert_int_equal(mpc_contract_view_copy(&v2, &v, &e), MPC_OK);
	assert_true(mpc_contract_view_equal(&v, &v2));
	/* Another operator: unchanged in the prospective set, no destination. */
	assert_int_equal(mpc_contract_view_parse(s, sl, m, ml, "blacksandtech.near", &other, &e),
			 MPC_OK);
	assert_false(other.has_prospective);
	assert_true(other.migration.has_backup);
	assert_false(other.migration.has_destination);
	assert_false(mpc_contract_view_equal(&v, &other));
	mpc_contract_view_free(&other);
	/* Not a participant at all. */
	assert_int_equal(mpc_contract_view_parse(s, sl, "{}", 2, "nobody.near", &other, &e),
			 MPC_OK);
	assert_false(other.has_own);
	assert_false(other.has_migration);
	assert_true(other.has_keyset);
	mpc_contract_view_free(&other);
	mpc_contract_view_free(&v);
	mpc_contract_view_free(&v2);
	mpc_contract_view_free(NULL);
	free(s);
	free(m);
}

static void test_addresses(void **state)
{
	struct mpc_address_override ov[2];
	struct mpc_address_config cfg = { 9000, ov, 2 };
	uint8_t key[32], other[32];
	char addr[MPC_ADDRESS_MAX];
	int over = -1;
	struct mpc_err e = { 0 };
	static const struct {
		const char *url, *want;
	} cases[] = {
		{ "https://host.example", "host.example:8079" },
		{ "https://host.example:443/path?x=1", "host.example:8079" },
		{ "HTTP://10.0.0.1:80", "10.0.0.1:8079" },
		{ "http://[::1]:3000", "[::1]:8079" },
		{ "https://[2001:db8::1]", "[2001:db8::1]:8079" },
		{ "https://user:pw@node.example/", "node.example:8079" },
	};

	(void)state;
	memset(key, 7, sizeof(key));
	memset(other, 8, sizeof(other));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(mpc_migration_address(NULL, "a.near", cases[i].url, key, addr,
						       &over, &e),
				 MPC_OK);
		assert_string_equal(addr, cases[i].want);
		assert_false(over);
	}
	assert_int_equal(mpc_migration_address(NULL, "a.near", "ftp://x", key, addr, NULL, &e),
			 MPC_ERR_PARSE);
	mpc_err_clear(&e);
	assert_int_equal(mpc_migration_address(NULL, "a.near", "https://", key, addr, NULL, &e),
			 MPC_ERR_PARSE);
	mpc_err_clear(&e);
	assert_int_equal(mpc_migration_address(NULL, "a.near", "https://h:99999", key, addr, NULL,
					       &e),
			 MPC_ERR_PARSE);
	mpc_err_clear(&e);
	assert_int_equal(mpc_migration_address(NULL, "a.near", "https://[::1", key, addr, NULL,
					       &e),
			 MPC_ERR_PARSE);
	mpc_err_clear(&e);
	/* Overrides: by account, by TLS key (wins), configured port. */
	memset(ov, 0, sizeof(ov));
	ov[0].account_id = "a.near";
	ov[0].address = "10.1.1.1:7000";
	ov[1].has_tls_key = 1;
	memcpy(ov[1].tls_key, key, 32);
	ov[1].address = "[fd00::5]:8078";
	assert_int_equal(mpc_migration_address(&cfg, "a.near", "https://h", key, addr, &over, &e),
		      MPC_OK);
	assert_string_equal(addr, "[fd00::5]:8078");
	assert_true(over);
	assert_int_equal(mpc_migration_address(&cfg, "a.near", "https://h", other, addr, &over,
					       &e),
			 MPC_OK);
	assert_string_equal(addr, "10.1.1.1:7000");
	assert_int_equal(mpc_migration_address(&cfg, "b.near", "https://h", other, addr, &over,
					       &e),
			 MPC_OK);
	assert_string_equal(addr, "h:9000");
	assert_false(over);
}

/* Parse `text` as a state and expect MPC_ERR_PARSE with `want` in the message. */
static void expect_state_error(const char *text, const char *want)
{
	struct mpc_contract_state st;
	struct mpc_err e = { 0 };
	int rc = mpc_contract_state_parse(text, strlen(text), &st, &e);

	if (rc != MPC_ERR_PARSE || strstr(e.msg, want) == NULL)
		fail_msg("rc %d msg [%s], wanted [%s]", rc, e.msg, want);
	assert_int_equal(st.kind, 0);
	assert_null(st.participants.items);
}

static void edit_expect(const char *fixture, const char *from, const char *to, const char *want)
{
	size_t len;
	char *t = fixture_read(fixture, &len), *x = fixture_replace(t, from, to);

	expect_state_error(x, want);
	free(x);
	free(t);
}

static void test_hostile_state(void **state)
{
	size_t len;
	char *t;

	(void)state;
	edit_expect("mainnet", "\"keyset\"", "\"keyzet\"", "state.Running.keyset: missing");
	edit_expect("mainnet", "\"epoch_id\": 4", "\"epoch_id\": -1",
		    "state.Running.keyset.epoch_id: expected an unsigned integer, got a negative");
	edit_expect("mainnet", "\"epoch_id\": 4", "\"epoch_id\": 18446744073709551616",
		    "state.Running.keyset.epoch_id: integer out of range");
	edit_expect("mainnet", "\"threshold\": 7", "\"threshold\": 7.5",
		    "state.Running.parameters.threshold: expected an unsigned integer, got a number with a fraction");
	edit_expect("mainnet", "\"threshold\": 7", "\"threshold\": \"7\"",
		    "state.Running.parameters.threshold: expected an unsigned integer, got a string");
	edit_expect("mainnet", "\"next_id\": 12", "\"next_id\": 12, \"next_id\": 13",
		    "duplicate");
	edit_expect("mainnet", "\"mpc-lgns.near\",\n            4,", "\"mpc-lgns.near\",\n            -4,",
		    "state.Running.parameters.participants.participants[2][1]: expected an unsigned integer");
	edit_expect("mainnet", "\"mpc-lgns.near\"", "\"MPC LGNS\"",
		    "state.Running.parameters.participants.participants[2][0]: invalid character");
	edit_expect("mainnet", "\"mpc-lgns.near\"", "\"lifted-mainnet.near\"",
		    "state.Running.parameters.participants.participants[2]: duplicate account id");
	edit_expect("mainnet", "ed25519:EFW6528i4iU1XK3Q53r6kyHEjjA7puJLhHLH3mG1YRZd",
		    "secp256k1:EFW6528i4iU1XK3Q53r6kyHEjjA7puJLhHLH3mG1YRZd",
		    "state.Running.parameters.participants.participants[2][2].tls_public_key");
	edit_expect("mainnet", "\"url\": \"https://near.mpc.lgns.net\"", "\"url\": 5",
		    "state.Running.parameters.participants.participants[2][2].url: expected a string, got a number");
	edit_expect("mainnet", "{\n  \"Running\"", "{\"Resharing\": {}, \"Running\"",
		    "state: expected exactly one key, got 2");
	edit_expect("resharing.json", "\"previous_running_state\"", "\"previous_state\"",
		    "state.Resharing.previous_running_state: missing");
	edit_expect("resharing.json", "\"epoch_id\": 4", "\"epoch_id\": null",
		    "state.Resharing.previous_running_state.keyset.epoch_id: expected an unsigned integer, got null");
	edit_expect("recovery.json", "\"prospective_participants\"", "\"prospective\"",
		    "state.Recovery.prospective_participants: missing");
	edit_expect("initializing.json", "\"epoch_id\": 4,\n  \"generated_keys\"",
		    "\"generated_keys\"", "state.Initializing.epoch_id: missing");
	expect_state_error("42", "state: expected a variant name or an object");
	expect_state_error("", "invalid JSON");
	/* Truncated: every prefix of the mainnet state fails cleanly. */
	t = fixture_read("mainnet", &len);
	for (size_t n = 0; n + 1 < len; n += 7) {
		struct mpc_contract_state st;
		struct mpc_err e = { 0 };

		assert_int_not_equal(mpc_contract_state_parse(t, n, &st, &e), MPC_OK);
		assert_true(e.msg[0] != '\0');
	}
	free(t);
}

/* Item 8: a variant this build does not know is visible as such (no keyset, nothing to act
 * on, its escaped name kept for the alert), and the seed's Recovery is taken field for field. */
static void test_unknown_variant_and_strict_recovery(void **state)
{
	struct mpc_contract_state st;
	struct mpc_contract_view v;
	struct mpc_err e = { 0 };
	size_t len, ml;
	char *t = fixture_read("mainnet", &len), *x;
	char *m = fixture_read("migration_info.json", &ml);

	(void)state;
	/* An object variant: even with a perfectly good Running body inside, nothing is read. */
	x = fixture_replace(t, "\"Running\"", "\"Walking\"");
	assert_int_equal(mpc_contract_state_parse(x, strlen(x), &st, &e), MPC_OK);
	assert_int_equal(st.kind, MPC_STATE_UNKNOWN);
	assert_string_equal(st.variant, "Walking");
	assert_false(st.has_running);
	assert_null(mpc_contract_state_backup_keyset(&st));
	assert_string_equal(mpc_protocol_kind_name(st.kind), "unknown");
	mpc_contract_state_free(&st);
	assert_int_equal(mpc_contract_view_parse(x, strlen(x), m, ml, "n1-multichain.near", &v, &e),
			 MPC_OK);
	assert_int_equal(v.kind, MPC_STATE_UNKNOWN);
	assert_string_equal(v.variant, "Walking");
	assert_false(v.has_keyset);
	assert_false(v.has_own);
	free(x);
	/* A unit variant, and a hostile name: escaped, bounded. */
	assert_int_equal(mpc_contract_state_parse("\"Frozen\"", 8, &st, &e), MPC_OK);
	assert_int_equal(st.kind, MPC_STATE_UNKNOWN);
	assert_string_equal(st.variant, "Frozen");
	{
		static const char evil[] = "{\"Run\\r\\nning\\u202e\": {}}";

		assert_int_equal(mpc_contract_state_parse(evil, strlen(evil), &st, &e), MPC_OK);
		assert_string_equal(st.variant, "Run\\r\\nning\\u202e");
	}
	{
		char big[300];

		memset(big, 'A', sizeof(big));
		big[0] = '"';
		big[298] = '"';
		big[299] = '\0';
		assert_int_equal(mpc_contract_state_parse(big, strlen(big), &st, &e), MPC_OK);
		assert_int_equal(strlen(st.variant), MPC_STATE_VARIANT_MAX - 1);
	}
	/* Known variants keep their name. */
	assert_int_equal(mpc_contract_state_parse(t, len, &st, &e), MPC_OK);
	assert_string_equal(st.variant, "Running");
	mpc_contract_state_free(&st);
	/* Recovery: an extra field anywhere in its own shape, or a missing one, is refused. */
	edit_expect("recovery.json", "\"prospective_participants\": {",
		    "\"note\": 1, \"prospective_participants\": {",
		    "state.Recovery: unexpected field \"note\"");
	edit_expect("recovery.json", "\"prospective_participants\": {",
		    "\"prospective_participants\": {\"extra\": [],",
		    "state.Recovery.prospective_participants: unexpected field \"extra\"");
	edit_expect("recovery.json", "\"prospective_participants\"", "\"prospective\"",
		    "state.Recovery.prospective_participants: missing");
	expect_state_error("{\"Recovery\": {\"previous_running_state\": {}, "
			   "\"prospective_participants\": {\"participants\": []}}}",
			   "state.Recovery.prospective_participants.next_id: missing");
	free(t);
	free(m);
}

static void test_u64_edges(void **state)
{
	size_t len;
	char *t = fixture_read("mainnet", &len);
	char *x = fixture_replace(t, "\"epoch_id\": 4", "\"epoch_id\": 18446744073709551615");
	char *y = fixture_replace(t, "\"attempt\": 240", "\"attempt\": 9223372036854775808");
	struct mpc_contract_state st;
	struct mpc_err e = { 0 };

	(void)state;
	assert_int_equal(mpc_contract_state_parse(x, strlen(x), &st, &e), MPC_OK);
	assert_true(st.keyset.epoch_id == UINT64_MAX);
	mpc_contract_state_free(&st);
	assert_int_equal(mpc_contract_state_parse(y, strlen(y), &st, &e), MPC_OK);
	assert_true(st.keyset.domains[0].attempt == 9223372036854775808ull);
	mpc_contract_state_free(&st);
	free(x);
	free(y);
	free(t);
}

static void test_deep_and_huge(void **state)
{
	size_t depth = 1000000, big = (size_t)50 << 20;
	char *buf = malloc(2 * depth + 1);
	struct mpc_contract_state st;
	struct mpc_err e = { 0 };

	(void)state;
	assert_non_null(buf);
	memset(buf, '[', depth);
	memset(buf + depth, ']', depth);
	buf[2 * depth] = '\0';
	assert_int_equal(mpc_contract_state_parse(buf, 2 * depth, &st, &e), MPC_ERR_PARSE);
	assert_non_null(strstr(e.msg, "state: JSON nested deeper than"));
	free(buf);
	/* Nesting inside a valid-looking state, just over the limit. */
	mpc_err_clear(&e);
	buf = malloc(1024);
	assert_non_null(buf);
	{
		size_t o = (size_t)snprintf(buf, 1024, "{\"Running\":{\"x\":");

		for (int i = 0; i < 70; i++)
			buf[o++] = '[';
		for (int i = 0; i < 70; i++)
			buf[o++] = ']';
		buf[o++] = '}';
		buf[o++] = '}';
		buf[o] = '\0';
		assert_int_equal(mpc_contract_state_parse(buf, o, &st, &e), MPC_ERR_PARSE);
		assert_non_null(strstr(e.msg, "nested deeper"));
	}
	free(buf);
	/* 50 MB of one number: refused with a message, no crash. */
	mpc_err_clear(&e);
	buf = malloc(big + 64);
	assert_non_null(buf);
	memcpy(buf, "{\"Initializing\":{\"epoch_id\":", 28);
	memset(buf + 28, '9', big);
	memcpy(buf + 28 + big, "}}", 3);
	assert_int_equal(mpc_contract_state_parse(buf, 28 + big + 2, &st, &e), MPC_ERR_PARSE);
	assert_non_null(strstr(e.msg, "state.Initializing.epoch_id: integer out of range"));
	free(buf);
}

static void test_migration_info(void **state)
{
	size_t len;
	char *t = fixture_read("migration_info.json", &len), *x;
	struct mpc_migration_info mi;
	const struct mpc_migration_entry *m;
	struct mpc_err e = { 0 };

	(void)state;
	assert_int_equal(mpc_migration_info_parse(t, len, &mi, &e), MPC_OK);
	assert_int_equal(mi.n, 3);
	m = mpc_migration_info_find(&mi, "mpc-lgns.near");
	assert_non_null(m);
	assert_false(m->has_backup);
	assert_false(m->has_destination);
	assert_null(mpc_migration_info_find(&mi, "x.near"));
	mpc_migration_info_free(&mi);
	mpc_migration_info_free(NULL);
	x = fixture_replace(t, "\"public_key\": \"ed25519:JBjY", "\"public_key\": \"ed25519:0BjY");
	assert_int_equal(mpc_migration_info_parse(x, strlen(x), &mi, &e), MPC_ERR_PARSE);
	assert_non_null(strstr(e.msg, "migration_info.n1-multichain.near[0].public_key"));
	free(x);
	mpc_err_clear(&e);
	x = fixture_replace(t, "\"destination_node_info\"", "\"destination\"");
	assert_int_equal(mpc_migration_info_parse(x, strlen(x), &mi, &e), MPC_ERR_PARSE);
	assert_non_null(strstr(e.msg, "migration_info.n1-multichain.near[1].destination_node_info: missing"));
	free(x);
	mpc_err_clear(&e);
	assert_int_equal(mpc_migration_info_parse("{\"a.near\": [null]}", 18, &mi, &e),
			 MPC_ERR_PARSE);
	assert_non_null(strstr(e.msg, "migration_info.a.near: expected [BackupServiceInfo|null"));
	mpc_err_clear(&e);
	assert_int_equal(mpc_migration_info_parse("[]", 2, &mi, &e), MPC_ERR_PARSE);
	assert_non_null(strstr(e.msg, "migration_info: expected an object, got an array"));
	free(t);
}

/* Item 13: the signer key of a migration is Ed25519 only (the deployed contract's type).
 * Item 15: account ids that NEAR would not accept (control or bidi characters, separators
 * misplaced, upper case) are refused with the JSON path, never quoted. */
static void test_signer_key_and_account_ids(void **state)
{
	size_t len;
	char *t = fixture_read("migration_info.json", &len), *x;
	struct mpc_migration_info mi;
	struct mpc_err e = { 0 };
	static const struct {
		const char *id, *want;
	} bad[] = {
		{ "evil\\r\\nx.near", "invalid character in account id at offset 4" },
		{ "evil\\u202e.near", "invalid character in account id at offset 4" },
		{ "evil\\u2066.near", "invalid character in account id at offset 4" },
		{ "a\\u0000b.near", "contains a \\u0000 escape" },
		{ "Upper.near", "invalid character in account id at offset 0" },
		{ ".lead.near", "separator at offset 0" },
		{ "a..b.near", "separator at offset 2" },
		{ "a-_b.near", "separator at offset 2" },
		{ "trail.near-", "ends with a separator" },
		{ "a", "2..64 characters, got 1" },
	};

	(void)state;
	x = fixture_replace(t, "\"signer_account_pk\": \"ed25519:", "\"signer_account_pk\": \"secp256k1:");
	assert_int_equal(mpc_migration_info_parse(x, strlen(x), &mi, &e), MPC_ERR_PARSE);
	assert_non_null(strstr(e.msg, "migration_info.n1-multichain.near[1].signer_account_pk: expected "
				      "an \"ed25519:\" key"));
	free(x);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char from[64], to[128];

		mpc_err_clear(&e);
		snprintf(from, sizeof(from), "\"mpc-lgns.near\"");
		snprintf(to, sizeof(to), "\"%s\"", bad[i].id);
		x = fixture_replace(t, from, to);
		if (mpc_migration_info_parse(x, strlen(x), &mi, &e) != MPC_ERR_PARSE ||
		    strstr(e.msg, bad[i].want) == NULL || strstr(e.msg, "migration_info") == NULL)
			fail_msg("account id %s: [%s], wanted [%s]", bad[i].id, e.msg, bad[i].want);
		assert_null(strchr(e.msg, '\r'));
		assert_null(strstr(e.msg, "\xe2\x80\xae"));
		free(x);
	}
	/* Valid by NEAR's rules: implicit (64 hex), sub-accounts, single separators. */
	x = fixture_replace(t, "\"mpc-lgns.near\"",
			    "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"");
	assert_int_equal(mpc_migration_info_parse(x, strlen(x), &mi, &e), MPC_OK);
	mpc_migration_info_free(&mi);
	free(x);
	x = fixture_replace(t, "\"mpc-lgns.near\"", "\"a_b-c.d-e.near\"");
	assert_int_equal(mpc_migration_info_parse(x, strlen(x), &mi, &e), MPC_OK);
	mpc_migration_info_free(&mi);
	free(x);
	/* The same rule for participants in the state. */
	free(t);
	t = fixture_read("mainnet", &len);
	x = fixture_replace(t, "\"mpc-lgns.near\"", "\"mpc\\u202elgns.near\"");
	mpc_err_clear(&e);
	{
		struct mpc_contract_state st;

		assert_int_equal(mpc_contract_state_parse(x, strlen(x), &st, &e), MPC_ERR_PARSE);
		assert_non_null(strstr(e.msg, "participants[2][0]: invalid character in account id"));
	}
	free(x);
	free(t);
}

/* Deterministic byte mutations of real inputs: every outcome is OK or a clean, explained
 * failure (run under ASan/UBSan in the sanitizer build). */
static void test_mutations(void **state)
{
	static const char *const names[] = { "mainnet", "recovery.json", "migration_info.json" };
	static const char repl[] = "{}[]\",:-0123456789.eE\\u \nxtfn";
	unsigned seed = 12345;

	(void)state;
	for (size_t f = 0; f < sizeof(names) / sizeof(names[0]); f++) {
		size_t len;
		char *orig = fixture_read(names[f], &len);
		char *t = malloc(len + 1);

		assert_non_null(t);
		for (int round = 0; round < 3000; round++) {
			struct mpc_contract_state st;
			struct mpc_migration_info mi;
			struct mpc_err e = { 0 };
			int rc;

			memcpy(t, orig, len + 1);
			for (int k = 0; k < 1 + round % 4; k++) {
				seed = seed * 1103515245u + 12345u;
				t[(seed >> 8) % len] = repl[(seed >> 20) % (sizeof(repl) - 1)];
			}
			if (f == 2)
				rc = mpc_migration_info_parse(t, len, &mi, &e);
			else
				rc = mpc_contract_state_parse(t, len, &st, &e);
			if (rc == MPC_OK) {
				if (f == 2)
					mpc_migration_info_free(&mi);
				else
					mpc_contract_state_free(&st);
			} else {
				assert_true(e.msg[0] != '\0');
			}
		}
		free(t);
		free(orig);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mainnet_running),
		cmocka_unit_test(test_resharing),
		cmocka_unit_test(test_initializing_and_not_initialized),
		cmocka_unit_test(test_recovery_and_view),
		cmocka_unit_test(test_unknown_variant_and_strict_recovery),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_hostile_state),
		cmocka_unit_test(test_u64_edges),
		cmocka_unit_test(test_deep_and_huge),
		cmocka_unit_test(test_migration_info),
		cmocka_unit_test(test_signer_key_and_account_ids),
		cmocka_unit_test(test_mutations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
