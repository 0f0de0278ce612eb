/* test_cli_contract.c: `mpc-backup contract status` against fake-rpc processes serving the
 * contract's `state` (the mainnet fixture with a keyset whose keys match the keyshare fixtures)
 * and `migration_info` views: text and JSON, whether the registered backup key is the token's
 * (--token), whether the store covers the keyset (--store), endpoints that disagree (exit 25,
 * each named), and RPC URLs whose path, query and user info never show in any output. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>

#include "src/node/debug_config.h"
#include "tests/cli/cli_harness.h"
#include "tests/fakes/rpc/fake_rpc_spawn.h"
#include "tests/support/softhsm.h"

#define OPERATOR "n1-multichain.near"
#define SECRET "SECRET123"
#define SECRET_PATH "/secret-path"
#define OTHER_KEY "ed25519:8kjdkEUAD7kXc5aCYJdcSwNQESanvpbqSm325o7uSUQH"

struct fx {
	struct th_softhsm hsm;
	char key[64];
	char dir[3][600], log[3][600];
	struct mpc_fake_rpc rpc[3];
	char url[3][300]; /* with a path and an API key */
	struct nh_node node;
	struct ch_result r;
	char store[600];
};

/* The mainnet state with the fixture keyset at `epoch`, as fake-rpc serves it. */
static void write_state(const char *dir, int epoch)
{
	char path[1024];
	const char *fixtures = getenv("MPC_FIXTURES_DIR");
	json_error_t je;
	json_t *root, *ks;
	char tmp[1200];

	assert_non_null(fixtures);
	snprintf(path, sizeof(path), "%s/near-mpc/mainnet-contract-state.json", fixtures);
	root = json_load_file(path, 0, &je);
	assert_non_null(root);
	ks = json_loads(CH_KEYSET_E4, 0, &je);
	assert_non_null(ks);
	json_object_set_new(ks, "epoch_id", json_integer(epoch));
	assert_int_equal(json_object_set_new(json_object_get(root, "Running"), "keyset", ks), 0);
	snprintf(tmp, sizeof(tmp), "%s/state.json.tmp", dir);
	snprintf(path, sizeof(path), "%s/state.json", dir);
	assert_int_equal(json_dump_file(root, tmp, JSON_COMPACT), 0);
	assert_int_equal(rename(tmp, path), 0);
	json_decref(root);
}

static void write_migration(const char *dir, const char *backup_key)
{
	char text[512], path[512];

	snprintf(text, sizeof(text), "{\"" OPERATOR "\":[{\"public_key\":\"%s\"},null]}", backup_key);
	ch_write(dir, "migration_info.json", text, path);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(th_softhsm_setup(&f->hsm, "mpc-backup", NULL), 0);
	setenv("MPC_BACKUP_TRANSPORT_KEY_HEX", NH_TRANSPORT_KEY_HEX, 1);
	ch_token_init(f->hsm.uri, f->key);
	snprintf(f->store, sizeof(f->store), "%s/store", f->hsm.dir);
	for (int i = 0; i < 3; i++) {
		snprintf(f->dir[i], sizeof(f->dir[i]), "%s/rpc%d", f->hsm.dir, i);
		snprintf(f->log[i], sizeof(f->log[i]), "%s/rpc%d.log", f->hsm.dir, i);
		assert_int_equal(mkdir(f->dir[i], 0700), 0);
		write_state(f->dir[i], 4);
		write_migration(f->dir[i], f->key);
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	for (int i = 0; i < 3; i++)
		mpc_fake_rpc_stop(&f->rpc[i]);
	nh_stop(&f->node);
	ch_result_free(&f->r);
	th_softhsm_teardown(&f->hsm);
	unsetenv("MPC_BACKUP_TRANSPORT_KEY_HEX");
	free(f);
	return 0;
}

static void start_rpc(struct fx *f, int i, const char *fault)
{
	mpc_fake_rpc_stop(&f->rpc[i]);
	assert_int_equal(mpc_fake_rpc_start(&f->rpc[i], f->dir[i], fault, f->log[i]), 0);
	/* user info, a path and an API key that must never be printed */
	snprintf(f->url[i], sizeof(f->url[i]), "http://op:hunter2@127.0.0.1:%u" SECRET_PATH
		 "?apikey=" SECRET, f->rpc[i].port);
}

static void no_secrets(const struct ch_result *r)
{
	static const char *const bad[] = { SECRET, "secret-path", "apikey", "hunter2", "op:", NULL };

	for (int i = 0; bad[i] != NULL; i++)
		if (strstr(r->out, bad[i]) != NULL || strstr(r->err, bad[i]) != NULL)
			fail_msg("\"%s\" from an RPC URL shows in the output:\n%s\n%s", bad[i], r->out,
				 r->err);
}

static json_t *parse(const struct ch_result *r)
{
	json_error_t je;
	json_t *j = json_loads(r->out, 0, &je);

	if (j == NULL)
		fail_msg("stdout is not JSON (%s):\n%s", je.text, r->out);
	return j;
}

static const char *jpath_str(json_t *j, const char *a, const char *b)
{
	json_t *v = json_object_get(b ? json_object_get(j, a) : j, b ? b : a);

	if (!json_is_string(v))
		fail_msg("%s%s%s is not a string", a, b ? "." : "", b ? b : "");
	return json_string_value(v);
}

/* 8a. One endpoint: the operator's view in text and JSON; --token says the key is ours. */
static void test_status(void **state)
{
	struct fx *f = *state;
	char want[300];
	json_t *j, *d;

	start_rpc(f, 0, NULL);
	ch_run(&f->r, NULL, NULL, "contract", "status", "--rpc-url", f->url[0], "--account",
	       OPERATOR, (char *)NULL);
	ch_expect(&f->r, 0, "protocol state:      Running");
	no_secrets(&f->r);
	assert_int_equal(f->r.err_len, 0);
	assert_non_null(strstr(f->r.out, "endpoints:           1 of 1 agree (quorum 1)"));
	assert_non_null(strstr(f->r.out, "keyset:              epoch 4, 2 domain(s)"));
	assert_non_null(strstr(f->r.out, "domain 0  Secp256k1 attempt 240  " CH_SECP_KEY));
	assert_non_null(strstr(f->r.out, "domain 1  Ed25519   attempt 0  " CH_ED_KEY));
	assert_non_null(strstr(f->r.out, OPERATOR " (participant 8)"));
	assert_non_null(strstr(f->r.out, "migration address: multichain-mainnet-0.nearone.org:8079"));
	snprintf(want, sizeof(want), "http://127.0.0.1:%u ", f->rpc[0].port);
	assert_non_null(strstr(f->r.out, want));
	snprintf(want, sizeof(want), "backup service:      registered %s (ours: unknown)", f->key);
	assert_non_null(strstr(f->r.out, want));
	assert_non_null(strstr(f->r.out, "store covers keyset: unknown"));
	/* the contract named, as docs/operations.md writes it (v1.signer, the default) */
	ch_run(&f->r, NULL, NULL, "contract", "status", "--rpc-url", f->url[0], "--account",
	       OPERATOR, "--contract", "v1.signer", (char *)NULL);
	ch_expect(&f->r, 0, "protocol state:      Running");

	/* With the token: the registered key is ours. */
	ch_run(&f->r, NULL, NULL, "contract", "status", "--token", f->hsm.uri, "--rpc-url",
	       f->url[0], "--account", OPERATOR, "--migration-port", "3000", (char *)NULL);
	ch_expect(&f->r, 0, "(ours: yes)");
	assert_non_null(strstr(f->r.out, "migration address: multichain-mainnet-0.nearone.org:3000"));
	no_secrets(&f->r);
	/* the TLS public key is a public object: no PIN source needed (none is read) */
	{
		static const char *const no_pin[] = { "MPC_BACKUP_PIN", NULL };

		ch_run(&f->r, NULL, no_pin, "contract", "status", "--token", f->hsm.uri,
		       "--rpc-url", f->url[0], "--account", OPERATOR, (char *)NULL);
		ch_expect(&f->r, 0, "(ours: yes)");
	}
	ch_run(&f->r, NULL, NULL, "contract", "status", "--json", "--token", f->hsm.uri,
	       "--rpc-url", f->url[0], "--account", OPERATOR, (char *)NULL);
	ch_expect(&f->r, 0, NULL);
	no_secrets(&f->r);
	j = parse(&f->r);
	assert_true(json_is_true(json_object_get(j, "agreed")));
	assert_string_equal(jpath_str(j, "protocol_state", NULL), "Running");
	assert_string_equal(jpath_str(j, "operator_account", NULL), OPERATOR);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "keyset"), "epoch_id")), 4);
	d = json_object_get(json_object_get(j, "keyset"), "domains");
	assert_int_equal(json_array_size(d), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(d, 0), "attempt")), 240);
	assert_string_equal(json_string_value(json_object_get(json_array_get(d, 1), "curve")), "Ed25519");
	assert_string_equal(jpath_str(j, "node", "tls_public_key"), OTHER_KEY);
	assert_string_equal(jpath_str(j, "backup_service", "public_key"), f->key);
	assert_true(json_is_true(json_object_get(json_object_get(j, "backup_service"), "is_ours")));
	assert_true(json_is_null(json_object_get(j, "store_covers_keyset")));
	snprintf(want, sizeof(want), "http://127.0.0.1:%u", f->rpc[0].port);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(j, "endpoints"), 0), "endpoint")),
			    want);
	json_decref(j);

	/* Another key registered: not ours. */
	write_migration(f->dir[0], OTHER_KEY);
	ch_run(&f->r, NULL, NULL, "contract", "status", "--token", f->hsm.uri, "--rpc-url",
	       f->url[0], "--account", OPERATOR, (char *)NULL);
	ch_expect(&f->r, 0, "registered " OTHER_KEY " (ours: no)");
	ch_run(&f->r, NULL, NULL, "contract", "status", "--json", "--token", f->hsm.uri,
	       "--rpc-url", f->url[0], "--account", OPERATOR, (char *)NULL);
	ch_expect(&f->r, 0, NULL);
	j = parse(&f->r);
	assert_true(json_is_false(json_object_get(json_object_get(j, "backup_service"), "is_ours")));
	json_decref(j);
	/* Usage errors. */
	ch_run(&f->r, NULL, NULL, "contract", "status", "--rpc-url", f->url[0], (char *)NULL);
	ch_expect(&f->r, 2, "--account OPERATOR");
	ch_run(&f->r, NULL, NULL, "contract", "status", "--rpc-url", f->url[0], "--account", OPERATOR,
	       "--rpc-quorum", "2", (char *)NULL);
	ch_expect(&f->r, 2, "quorum 2");
	ch_run(&f->r, NULL, NULL, "contract", "status", "--account", OPERATOR, "--rpc-url",
	       "ftp://127.0.0.1:1" SECRET_PATH "?apikey=" SECRET, (char *)NULL);
	ch_expect(&f->r, 2, "http:// or https://");
	no_secrets(&f->r);
}

/* 8b. --store: whether the store covers the contract's keyset. */
static void test_store_coverage(void **state)
{
	struct fx *f = *state;
	char keyshares[600], keyset[600], addr[64];
	const char *node_args[] = { "--client-key", f->key, "--keyshares", keyshares, NULL };
	json_t *j;

	start_rpc(f, 0, NULL);
	assert_int_equal(mkdir(f->store, 0700), 0);
	ch_run(&f->r, NULL, NULL, "contract", "status", "--json", "--store", f->store, "--rpc-url",
	       f->url[0], "--account", OPERATOR, (char *)NULL);
	ch_expect(&f->r, 0, NULL);
	j = parse(&f->r);
	assert_true(json_is_false(json_object_get(j, "store_covers_keyset")));
	json_decref(j);
	ch_run(&f->r, NULL, NULL, "contract", "status", "--store", f->store, "--rpc-url", f->url[0],
	       "--account", OPERATOR, (char *)NULL);
	ch_expect(&f->r, 0, "store covers keyset: no");

	ch_write(f->hsm.dir, "keyshares.json", nh_mainnet_keyshares_json(), keyshares);
	ch_write(f->hsm.dir, "keyset.json", CH_KEYSET_E4, keyset);
	assert_int_equal(nh_start(&f->node, node_args), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", f->node.port);
	ch_run(&f->r, NULL, NULL, "backup", "--token", f->hsm.uri, "--store", f->store, "--node", addr,
	       "--node-key", f->node.key_str, "--keyset", keyset, (char *)NULL);
	ch_expect(&f->r, 0, "stored epoch 4");
	ch_run(&f->r, NULL, NULL, "contract", "status", "--store", f->store, "--token", f->hsm.uri,
	       "--rpc-url", f->url[0], "--account", OPERATOR, (char *)NULL);
	ch_expect(&f->r, 0, "store covers keyset: yes");
	assert_non_null(strstr(f->r.out, "(ours: yes)"));
	ch_run(&f->r, NULL, NULL, "contract", "status", "--json", "--store", f->store, "--rpc-url",
	       f->url[0], "--account", OPERATOR, (char *)NULL);
	ch_expect(&f->r, 0, NULL);
	j = parse(&f->r);
	assert_true(json_is_true(json_object_get(j, "store_covers_keyset")));
	json_decref(j);
	/* The contract moves to epoch 5: no longer covered. */
	write_state(f->dir[0], 5);
	ch_run(&f->r, NULL, NULL, "contract", "status", "--store", f->store, "--rpc-url", f->url[0],
	       "--account", OPERATOR, (char *)NULL);
	ch_expect(&f->r, 0, "store covers keyset: no");
	ch_run(&f->r, NULL, NULL, "contract", "status", "--store", "/nonexistent-mpc-store",
	       "--rpc-url", f->url[0], "--account", OPERATOR, (char *)NULL);
	ch_expect(&f->r, 18, "does not exist");
	ch_expect_one_error_line(&f->r, "contract status");
}

static void expect_endpoint(const struct fx *f, const char *text, int i, const char *status)
{
	char want[200];

	snprintf(want, sizeof(want), "http://127.0.0.1:%u", f->rpc[i].port);
	{
		const char *p = strstr(text, want);
		const char *eol = p ? strchr(p, '\n') : NULL;

		if (p == NULL || eol == NULL || strstr(p, status) == NULL || strstr(p, status) > eol)
			fail_msg("endpoint %s is not shown as \"%s\":\n%s", want, status, text);
	}
}

/* 8c. Three endpoints: 2 of 3 agree (0, the odd one named); all three differ (25, all named). */
/* Items 1 and 2 through the CLI: the same server listed twice is refused naming both (never
 * "2 of 3 agree"), and with --rpc-quorum 1 a dissenting endpoint blocks in either order, with a
 * warning that one server decides. */
static void test_same_server_and_quorum_one(void **state)
{
	struct fx *f = *state;
	char a[300], b[300], want[400];

	for (int i = 0; i < 2; i++)
		start_rpc(f, i, NULL);
	snprintf(a, sizeof(a), "http://127.0.0.1:%u/", f->rpc[0].port);
	snprintf(b, sizeof(b), "http://127.0.0.1:%u/x", f->rpc[0].port);
	ch_run(&f->r, NULL, NULL, "contract", "status", "--rpc-url", a, "--rpc-url", b,
	       "--rpc-url", f->url[1], "--account", OPERATOR, (char *)NULL);
	assert_int_equal(f->r.status, 2);
	snprintf(want, sizeof(want), "RPC endpoints 1 (http://127.0.0.1:%u) and 2 (http://127.0.0.1:%u) are one server",
		 f->rpc[0].port, f->rpc[0].port);
	assert_non_null(strstr(f->r.err, want));
	assert_null(strstr(f->r.out, "agree"));
	no_secrets(&f->r);
	ch_run(&f->r, NULL, NULL, "contract", "status", "--rpc-url", f->url[0], "--rpc-url",
	       f->url[0], "--account", OPERATOR, (char *)NULL);
	assert_int_equal(f->r.status, 2);
	assert_non_null(strstr(f->r.err, "are one server"));
	no_secrets(&f->r);

	/* Quorum 1, two endpoints that disagree: no order lets one of them decide. */
	write_state(f->dir[1], 5);
	ch_run(&f->r, NULL, NULL, "contract", "status", "--rpc-quorum", "1", "--rpc-url", f->url[0],
	       "--rpc-url", f->url[1], "--account", OPERATOR, (char *)NULL);
	ch_expect(&f->r, 25, "NO AGREEMENT");
	assert_non_null(strstr(f->r.out, "WARNING: rpc quorum 1"));
	ch_run(&f->r, NULL, NULL, "contract", "status", "--rpc-quorum", "1", "--rpc-url", f->url[1],
	       "--rpc-url", f->url[0], "--account", OPERATOR, (char *)NULL);
	ch_expect(&f->r, 25, "NO AGREEMENT");
	assert_null(strstr(f->r.out, "protocol state:"));
	no_secrets(&f->r);
	/* Agreeing again: quorum 1 works, still with the warning; quorum 2 has none. */
	write_state(f->dir[1], 4);
	ch_run(&f->r, NULL, NULL, "contract", "status", "--rpc-quorum", "1", "--rpc-url", f->url[1],
	       "--rpc-url", f->url[0], "--account", OPERATOR, (char *)NULL);
	ch_expect(&f->r, 0, "endpoints:           2 of 2 agree (quorum 1)");
	assert_non_null(strstr(f->r.out, "WARNING: rpc quorum 1"));
	ch_run(&f->r, NULL, NULL, "contract", "status", "--rpc-url", f->url[1], "--rpc-url",
	       f->url[0], "--account", OPERATOR, (char *)NULL);
	ch_expect(&f->r, 0, "endpoints:           2 of 2 agree (quorum 2)");
	assert_null(strstr(f->r.out, "WARNING"));
	assert_non_null(strstr(f->r.out, "block:               "));
}

/* Copy of `text` with the first `from` replaced by `to` (fails the test if absent). */
static char *replace_first(const char *text, const char *from, const char *to)
{
	const char *p = strstr(text, from);
	size_t a, b = strlen(to), c;
	char *out;

	assert_non_null(p);
	a = (size_t)(p - text);
	c = strlen(p + strlen(from));
	out = malloc(a + b + c + 1);
	assert_non_null(out);
	memcpy(out, text, a);
	memcpy(out + a, to, b);
	memcpy(out + a + b, p + strlen(from), c + 1);
	return out;
}

/* Item 15: what the contract sends reaches the terminal escaped: a participant URL with \r\n
 * cannot print a fake line, a bidi override cannot reorder the output; --json stays valid. */
static void test_hostile_urls_escaped(void **state)
{
	struct fx *f = *state;
	char path[700], *text, *evil;
	size_t len;
	json_t *j;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/state.json", f->dir[0]);
	fp = fopen(path, "rb");
	assert_non_null(fp);
	text = calloc(1, 16 << 20);
	assert_non_null(text);
	len = fread(text, 1, (16 << 20) - 1, fp);
	fclose(fp);
	text[len] = '\0';
	evil = replace_first(text, "https://multichain-mainnet-0.nearone.org",
			  "https://multichain-mainnet-0.nearone.org\\r\\nbackup service:      "
			  "registered ed25519:FAKE (ours: yes)\\u001b[2K\\u202e");
	ch_write(f->dir[0], "state.json", evil, path);
	start_rpc(f, 0, NULL);
	ch_run(&f->r, NULL, NULL, "contract", "status", "--rpc-url", f->url[0], "--account",
	       OPERATOR, (char *)NULL);
	ch_expect(&f->r, 0, "protocol state:      Running");
	assert_null(strchr(f->r.out, '\r'));
	assert_null(strchr(f->r.out, '\x1b'));
	assert_null(strstr(f->r.out, "\xe2\x80\xae"));
	assert_null(strstr(f->r.out, "\nbackup service:      registered ed25519:FAKE"));
	assert_non_null(strstr(f->r.out, "nearone.org\\r\\nbackup service:      registered "
					 "ed25519:FAKE (ours: yes)\\x1b[2K\\u202e"));
	ch_run(&f->r, NULL, NULL, "contract", "status", "--json", "--rpc-url", f->url[0],
	       "--account", OPERATOR, (char *)NULL);
	ch_expect(&f->r, 0, NULL);
	j = parse(&f->r);
	assert_non_null(strstr(jpath_str(j, "node", "url"), "\\r\\nbackup service"));
	assert_null(strchr(jpath_str(j, "node", "url"), '\r'));
	json_decref(j);
	/* Item 8: an unknown variant is shown as such, its name escaped, with no keyset. */
	ch_write(f->dir[0], "state.json", "{\"Frozen\\u202e\\r\\n\": {\"keyset\": 1}}", path);
	ch_run(&f->r, NULL, NULL, "contract", "status", "--rpc-url", f->url[0], "--account",
	       OPERATOR, (char *)NULL);
	ch_expect(&f->r, 0, "protocol state:      unknown (variant \"Frozen\\u202e\\r\\n\": not "
			    "understood by this version, no action is taken)");
	assert_non_null(strstr(f->r.out, "keyset:              none to back up"));
	assert_null(strchr(f->r.out, '\r'));
	ch_run(&f->r, NULL, NULL, "contract", "status", "--json", "--rpc-url", f->url[0],
	       "--account", OPERATOR, (char *)NULL);
	ch_expect(&f->r, 0, NULL);
	j = parse(&f->r);
	assert_string_equal(jpath_str(j, "protocol_state", NULL), "unknown");
	assert_string_equal(jpath_str(j, "state_variant", NULL), "Frozen\\u202e\\r\\n");
	assert_true(json_is_null(json_object_get(j, "keyset")));
	json_decref(j);
	free(evil);
	free(text);
}

/* --- item 10: the node's own migration port, as a hint ------------------------------------ */

/* A tiny node web UI: /debug/node_config in the mode the test sets. */
struct dbg {
	const char *mode; /* "ok", "ipv6", "big", "hang", "redirect", "garbage" */
	int requests;
};

static enum MHD_Result dbg_handler(void *cls, struct MHD_Connection *c, const char *url,
				   const char *method, const char *version, const char *upload,
				   size_t *upload_size, void **con_cls)
{
	struct dbg *d = cls;
	struct MHD_Response *r;
	enum MHD_Result ret;
	char *body;
	unsigned status = 200;

	(void)version;
	(void)upload;
	(void)upload_size;
	(void)con_cls;
	if (strcmp(method, "GET") != 0 || strcmp(url, "/debug/node_config") != 0)
		return MHD_NO;
	d->requests++;
	if (strcmp(d->mode, "hang") == 0)
		sleep(3);
	if (strcmp(d->mode, "big") == 0) {
		body = malloc(70001);
		assert_non_null(body);
		memset(body, ' ', 70000);
		{
			static const char head[] = "{\"migration_web_ui\":\"0.0.0.0:8081\",\"pad\":\"";

			memcpy(body, head, sizeof(head) - 1);
		}
		memcpy(body + 69998, "\"}", 2);
		body[70000] = '\0';
	} else {
		body = strdup(strcmp(d->mode, "garbage") == 0
				      ? "{\"migration_web_ui\":\"8081\\r\\nfake line\"}"
			      : strcmp(d->mode, "ipv6") == 0
				      ? "{\"web_ui\":\"[::]:8080\",\"migration_web_ui\":\"[::]:8079\"}"
				      : "{\"my_near_account_id\":\"n1-multichain.near\",\"web_ui\":"
					"\"0.0.0.0:8080\",\"migration_web_ui\":\"0.0.0.0:8081\","
					"\"pprof_bind_address\":\"127.0.0.1:34001\"}");
		if (strcmp(d->mode, "redirect") == 0)
			status = 302;
	}
	r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (status == 302)
		MHD_add_response_header(r, "Location", "/elsewhere");
	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static void test_migration_port_hint(void **state)
{
	struct fx *f = *state;
	struct dbg d = { "ok", 0 };
	struct MHD_Daemon *mhd;
	const union MHD_DaemonInfo *info;
	char path[700], port[16], *text, *moved, want[300];
	size_t len;
	json_t *j, *h;
	FILE *fp;
	uint16_t p = 0;
	struct mpc_err e = { 0 };

	mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
			       NULL, NULL, dbg_handler, &d, MHD_OPTION_END);
	assert_non_null(mhd);
	info = MHD_get_daemon_info(mhd, MHD_DAEMON_INFO_BIND_PORT);
	snprintf(port, sizeof(port), "%u", (unsigned)info->port);
	/* The operator's node is at 127.0.0.1 in the contract. */
	snprintf(path, sizeof(path), "%s/state.json", f->dir[0]);
	fp = fopen(path, "rb");
	assert_non_null(fp);
	text = calloc(1, 16 << 20);
	assert_non_null(text);
	len = fread(text, 1, (16 << 20) - 1, fp);
	fclose(fp);
	text[len] = '\0';
	moved = replace_first(text, "https://multichain-mainnet-0.nearone.org", "https://127.0.0.1:3000");
	ch_write(f->dir[0], "state.json", moved, path);
	start_rpc(f, 0, NULL);

	/* Not asked: nothing fetched, nothing printed. */
	ch_run(&f->r, NULL, NULL, "contract", "status", "--rpc-url", f->url[0], "--account",
	       OPERATOR, (char *)NULL);
	ch_expect(&f->r, 0, "protocol state:      Running");
	assert_null(strstr(f->r.out, "migration port hint"));
	assert_int_equal(d.requests, 0);
	/* Asked: the node says 8081; printed as a hint, the derived address unchanged (8079). */
	ch_run(&f->r, NULL, NULL, "contract", "status", "--debug-port", port, "--rpc-url",
	       f->url[0], "--account", OPERATOR, (char *)NULL);
	ch_expect(&f->r, 0, "migration port hint (unauthenticated): 8081");
	assert_non_null(strstr(f->r.out, "migration address: 127.0.0.1:8079"));
	snprintf(want, sizeof(want), "http://127.0.0.1:%s/debug/node_config", port);
	assert_non_null(strstr(f->r.out, want));
	assert_int_equal(d.requests, 1);
	ch_run(&f->r, NULL, NULL, "contract", "status", "--json", "--debug-port", port, "--rpc-url",
	       f->url[0], "--account", OPERATOR, (char *)NULL);
	ch_expect(&f->r, 0, NULL);
	j = parse(&f->r);
	h = json_object_get(j, "migration_port_hint");
	assert_int_equal(json_integer_value(json_object_get(h, "port")), 8081);
	assert_true(json_is_null(json_object_get(h, "error")));
	assert_string_equal(jpath_str(j, "node", "migration_address"), "127.0.0.1:8079");
	json_decref(j);
	/* Bounded and refused: oversized, a redirect (not followed), a non-address, no answer. */
	d.mode = "big";
	ch_run(&f->r, NULL, NULL, "contract", "status", "--debug-port", port, "--rpc-url",
	       f->url[0], "--account", OPERATOR, (char *)NULL);
	ch_expect(&f->r, 0, "could not be read (node debug config: larger than 65536 bytes)");
	d.mode = "redirect";
	ch_run(&f->r, NULL, NULL, "contract", "status", "--debug-port", port, "--rpc-url",
	       f->url[0], "--account", OPERATOR, (char *)NULL);
	ch_expect(&f->r, 0, "could not be read (node debug config: HTTP status 302)");
	d.mode = "garbage";
	ch_run(&f->r, NULL, NULL, "contract", "status", "--debug-port", port, "--rpc-url",
	       f->url[0], "--account", OPERATOR, (char *)NULL);
	ch_expect(&f->r, 0, "migration_web_ui missing or not");
	assert_null(strstr(f->r.out, "fake line"));
	d.mode = "ok";
	/* The function itself: IPv6 socket addresses, the 2 s bound. */
	d.mode = "ipv6";
	assert_int_equal(mpc_node_migration_port_hint("127.0.0.1", info->port, 0, &p, &e), MPC_OK);
	assert_int_equal(p, 8079);
	d.mode = "hang";
	assert_int_equal(mpc_node_migration_port_hint("127.0.0.1", info->port, 300, &p, &e),
			 MPC_ERR_TIMEOUT);
	mpc_err_clear(&e);
	assert_int_equal(mpc_node_migration_port_hint("a/b", info->port, 300, &p, &e), MPC_ERR_USAGE);
	MHD_stop_daemon(mhd);
	free(moved);
	free(text);
}

static void test_endpoints_disagree(void **state)
{
	struct fx *f = *state;
	json_t *j, *eps;

	write_state(f->dir[1], 5);
	for (int i = 0; i < 3; i++)
		start_rpc(f, i, NULL);
	ch_run(&f->r, NULL, NULL, "contract", "status", "--rpc-url", f->url[0], "--rpc-url",
	       f->url[1], "--rpc-url", f->url[2], "--account", OPERATOR, (char *)NULL);
	/* One dissenting endpoint blocks: 2 of 3 agreeing is not enough while one differs. */
	ch_expect(&f->r, 25, "NO AGREEMENT");
	no_secrets(&f->r);
	for (int i = 0; i < 3; i++)
		expect_endpoint(f, f->r.out, i, "disagree");
	assert_null(strstr(f->r.out, "keyset:              epoch 4"));

	write_state(f->dir[2], 6);
	ch_run(&f->r, NULL, NULL, "contract", "status", "--rpc-url", f->url[0], "--rpc-url",
	       f->url[1], "--rpc-url", f->url[2], "--account", OPERATOR, (char *)NULL);
	ch_expect(&f->r, 25, "NO AGREEMENT");
	no_secrets(&f->r);
	for (int i = 0; i < 3; i++)
		expect_endpoint(f, f->r.out, i, "disagree");
	assert_non_null(strstr(f->r.out, "epoch 4"));
	assert_non_null(strstr(f->r.out, "epoch 5"));
	assert_non_null(strstr(f->r.out, "epoch 6"));
	assert_null(strstr(f->r.out, "protocol state:")); /* no view is shown as the contract's */
	ch_run(&f->r, NULL, NULL, "contract", "status", "--json", "--rpc-url", f->url[0],
	       "--rpc-url", f->url[1], "--rpc-url", f->url[2], "--account", OPERATOR, (char *)NULL);
	assert_int_equal(f->r.status, 25);
	no_secrets(&f->r);
	j = parse(&f->r);
	assert_true(json_is_false(json_object_get(j, "agreed")));
	assert_true(json_is_null(json_object_get(j, "keyset")));
	eps = json_object_get(j, "endpoints");
	assert_int_equal(json_array_size(eps), 3);
	for (int i = 0; i < 3; i++) {
		char want[64];

		snprintf(want, sizeof(want), "http://127.0.0.1:%u", f->rpc[i].port);
		assert_string_equal(json_string_value(json_object_get(json_array_get(eps, (size_t)i), "endpoint")),
				    want);
		assert_string_equal(json_string_value(json_object_get(json_array_get(eps, (size_t)i), "status")),
				    "disagree");
		assert_non_null(strstr(jpath_str(j, "disagreement", NULL), want));
	}
	json_decref(j);

	/* Two agree but the operator demands all three: 25. */
	write_state(f->dir[2], 4);
	ch_run(&f->r, NULL, NULL, "contract", "status", "--rpc-quorum", "3", "--rpc-url", f->url[0],
	       "--rpc-url", f->url[1], "--rpc-url", f->url[2], "--account", OPERATOR, (char *)NULL);
	ch_expect(&f->r, 25, "NO AGREEMENT");
	no_secrets(&f->r);
}

/* 8d. An endpoint that quotes the request's path and query back in its error: scrubbed. */
static void test_echoed_secrets_scrubbed(void **state)
{
	struct fx *f = *state;

	start_rpc(f, 0, "echo");
	start_rpc(f, 1, NULL);
	start_rpc(f, 2, NULL);
	ch_run(&f->r, NULL, NULL, "contract", "status", "--rpc-url", f->url[0], "--account", OPERATOR,
	       (char *)NULL);
	if (f->r.status == 0)
		fail_msg("an endpoint answering with an error gave exit 0:\n%s", f->r.out);
	no_secrets(&f->r);
	expect_endpoint(f, f->r.out, 0, "error");
	ch_run(&f->r, NULL, NULL, "contract", "status", "--json", "--rpc-url", f->url[0], "--account",
	       OPERATOR, (char *)NULL);
	assert_true(f->r.status != 0);
	no_secrets(&f->r);
	/* The erring endpoint is outvoted by two that agree. */
	ch_run(&f->r, NULL, NULL, "contract", "status", "--rpc-url", f->url[0], "--rpc-url",
	       f->url[1], "--rpc-url", f->url[2], "--account", OPERATOR, (char *)NULL);
	ch_expect(&f->r, 0, "2 of 3 agree");
	expect_endpoint(f, f->r.out, 0, "error");
	no_secrets(&f->r);
}

/* 8e. Every endpoint fails with a NEAR RPC error or a contract panic: the documented status is
 * 24 ("24 on RPC errors", contract status --help; docs/operations.md: 24 = NEAR RPC error or
 * contract panic), not 25 ("RPC endpoints disagree"). */
static void test_rpc_errors_exit_24(void **state)
{
	struct fx *f = *state;
	static const char *const faults[] = { "rpc-error", "panic" };

	for (size_t i = 0; i < 2; i++) {
		start_rpc(f, 0, faults[i]);
		ch_run(&f->r, NULL, NULL, "contract", "status", "--rpc-url", f->url[0], "--account",
		       OPERATOR, (char *)NULL);
		no_secrets(&f->r);
		expect_endpoint(f, f->r.out, 0, "error");
		if (f->r.status != 24)
			fail_msg("BUG: the only endpoint fails (fake-rpc --fault %s) and contract status "
				 "exits %d (25 = endpoints disagree); its help and docs/operations.md "
				 "say 24 for an RPC error or contract panic. Output:\n%s%s",
				 faults[i], f->r.status, f->r.out, f->r.err);
	}
}

/* --config for contract status and backup: the RPC URL (with its API key) comes from a file,
 * not argv; contract status applies the file's address.* override (it ignored them); backup
 * without --keyset reads the keyset from the contract by the quorum and stores it. */
static void test_config_file(void **state)
{
	struct fx *f = *state;
	char keyshares[600], conf[600], text[2048], addr[64];
	const char *node_args[] = { "--client-key", f->key, "--keyshares", keyshares, NULL };
	json_t *j;

	start_rpc(f, 0, NULL);
	assert_int_equal(mkdir(f->store, 0700), 0);
	ch_write(f->hsm.dir, "keyshares.json", nh_mainnet_keyshares_json(), keyshares);
	assert_int_equal(nh_start(&f->node, node_args), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", f->node.port);
	snprintf(text, sizeof(text),
		 "token = %s\nstore = %s\nrpc_url = %s\naccount = " OPERATOR "\n"
		 "address.account." OPERATOR " = %s\n",
		 f->hsm.uri, f->store, f->url[0], addr);
	ch_write(f->hsm.dir, "cli.conf", text, conf);
	assert_int_equal(chmod(conf, 0600), 0);

	ch_run(&f->r, NULL, NULL, "contract", "status", "--json", "--config", conf, (char *)NULL);
	ch_expect(&f->r, 0, NULL);
	no_secrets(&f->r);
	j = parse(&f->r);
	assert_string_equal(jpath_str(j, "node", "migration_address"), addr);
	assert_true(json_is_true(json_object_get(json_object_get(j, "node"), "address_overridden")));
	json_decref(j);
	ch_run(&f->r, NULL, NULL, "contract", "status", "--config", conf, (char *)NULL);
	ch_expect(&f->r, 0, "(override)");

	/* backup: no --keyset, the contract's (epoch 4) read through the configured endpoint */
	ch_run(&f->r, NULL, NULL, "backup", "--config", conf, "--node", addr, "--node-key",
	       f->node.key_str, (char *)NULL);
	ch_expect(&f->r, 0, "stored epoch 4");
	no_secrets(&f->r);
	assert_int_equal(ch_count_files(f->store, ".mpcs"), 1);
	/* a flag overrides the file */
	ch_run(&f->r, NULL, NULL, "contract", "status", "--config", conf, "--account",
	       "nobody.near", (char *)NULL);
	assert_null(strstr(f->r.out, addr));
	/* restore takes the same file */
	ch_run(&f->r, NULL, NULL, "restore", "--config", conf, "--node", "127.0.0.1:1",
	       "--node-key", f->node.key_str, "--node-timeout", "2", (char *)NULL);
	assert_true(f->r.status != 0 && f->r.status != 2);
	ch_expect_one_error_line(&f->r, "restore");
}

/* Endpoints that do not answer: the cause decides the exit status (docs/operations.md): a
 * refused connection is an RPC failure (24; it was 22, "HTTP failure", against the docs), a
 * stall past --rpc-timeout is 23, and SIGTERM/SIGINT during the read ends the command cleanly
 * with 28 (it was killed: 143/130). */
static void test_endpoints_down_and_signals(void **state)
{
	struct fx *f = *state;
	char url[64], log[700];
	unsigned port;
	int fd = ch_refusing_port(&port), st;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u", port);
	ch_run(&f->r, NULL, NULL, "contract", "status", "--rpc-url", url, "--account", OPERATOR,
	       (char *)NULL);
	ch_expect(&f->r, 24, NULL);
	close(fd);

	fd = ch_stalling_port(&port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", port);
	ch_run(&f->r, NULL, NULL, "contract", "status", "--rpc-url", url, "--account", OPERATOR,
	       "--rpc-timeout", "1", (char *)NULL);
	ch_expect(&f->r, 23, NULL);
	snprintf(log, sizeof(log), "%s/signalled.log", f->hsm.dir);
	{
		const char *args[] = { "contract", "status", "--rpc-url", url, "--account", OPERATOR,
				       "--rpc-timeout", "60", NULL };
		static const int sigs[] = { SIGTERM, SIGINT };

		for (int i = 0; i < 2; i++) {
			st = ch_run_signalled(log, 1500, sigs[i], 5, args);
			if (st != 28)
				fail_msg("contract status stopped by signal %d exits %d, not 28 "
					 "(cancelled)", sigs[i], st);
		}
	}
	close(fd);
}

/* backup stopped by SIGTERM while the node holds the request: exit 28 (it was killed, 143),
 * one error line, nothing stored. */
static void test_backup_signalled(void **state)
{
	struct fx *f = *state;
	char keyset[600], addr[64], log[700];
	const char *node_args[] = { "--client-key", f->key, "--fault", "hang", NULL };
	int st;

	assert_int_equal(mkdir(f->store, 0700), 0);
	ch_write(f->hsm.dir, "keyset.json", CH_KEYSET_E4, keyset);
	assert_int_equal(nh_start(&f->node, node_args), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", f->node.port);
	snprintf(log, sizeof(log), "%s/backup-signalled.log", f->hsm.dir);
	{
		const char *args[] = { "backup", "--token", f->hsm.uri, "--store", f->store, "--node",
				       addr, "--node-key", f->node.key_str, "--keyset", keyset,
				       "--node-timeout", "60", NULL };
		char *text;

		st = ch_run_signalled(log, 2500, SIGTERM, 5, args);
		text = ch_read(log, NULL);
		if (st != 28)
			fail_msg("backup stopped by SIGTERM exits %d, not 28:\n%s", st,
				 text ? text : "");
		assert_non_null(text);
		assert_non_null(strstr(text, "mpc-backup backup: "));
		free(text);
	}
	assert_int_equal(ch_count_files(f->store, ".mpcs"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_coverage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_endpoints_disagree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_server_and_quorum_one, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_urls_escaped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_port_hint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_echoed_secrets_scrubbed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rpc_errors_exit_24, setup, teardown),
		cmocka_unit_test_setup_teardown(test_endpoints_down_and_signals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backup_signalled, setup, teardown),
	};

	return CH_MAIN(tests);
}
