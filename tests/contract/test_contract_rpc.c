/* test_contract_rpc.c: the RPC client over real loopback HTTP against fake-rpc: the happy path,
 * every fault, size and time bounds, keep-alive, and that an RPC URL's secrets never leak. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "src/contract/rpc.h"
#include "src/contract/rpc_envelope.h"
#include "src/contract/state.h"
#include "src/contract/url.h"
#include "tests/contract/contract_fixtures.h"
#include "tests/fakes/rpc/fake_rpc_spawn.h"

struct env {
	const char *dir;
	char log[512];
	struct mpc_fake_rpc fake;
	char secret_url[256];
};

static int setup(void **state)
{
	static struct env env;

	env.dir = fixture_tmpdir(0);
	fixture_copy("mainnet", env.dir, "state.json");
	fixture_copy("migration_info.json", env.dir, "migration_info.json");
	snprintf(env.log, sizeof(env.log), "%s/fake.log", env.dir);
	if (mpc_fake_rpc_start(&env.fake, env.dir, NULL, env.log) != 0)
		return -1;
	snprintf(env.secret_url, sizeof(env.secret_url), "%s/path-secret?apikey=SECRET123",
		 env.fake.url);
	*state = &env;
	return 0;
}

static int teardown(void **state)
{
	struct env *env = *state;

	mpc_fake_rpc_stop(&env->fake);
	fixture_rmdir(env->dir);
	return 0;
}

static void set_fault(const struct env *env, const char *fault)
{
	fixture_write(env->dir, "fault", fault);
}

static void assert_no_secret(const char *s)
{
	if (strstr(s, "SECRET123") != NULL || strstr(s, "path-secret") != NULL ||
	    strstr(s, "apikey") != NULL)
		fail_msg("secret leaked: [%s]", s);
}

/* Call `method` on a fresh endpoint (opt may be NULL) and return the code; e gets the message. */
static int call(const struct env *env, const struct mpc_rpc_options *opt, const char *method,
		struct mpc_rpc_result *res, struct mpc_err *e)
{
	struct mpc_rpc_endpoint *ep = NULL;
	int rc;

	mpc_err_clear(e);
	assert_int_equal(mpc_rpc_endpoint_new(env->secret_url, opt, &ep, e), MPC_OK);
	assert_string_equal(mpc_rpc_endpoint_name(ep), env->fake.url);
	rc = mpc_rpc_view(ep, method, res, e);
	mpc_rpc_endpoint_free(ep);
	assert_no_secret(e->msg);
	if (rc != MPC_OK)
		assert_non_null(strstr(e->msg, env->fake.url)); /* names the (redacted) endpoint */
	return rc;
}

static void test_happy_path_and_keepalive(void **state)
{
	struct env *env = *state;
	struct mpc_rpc_endpoint *ep = NULL;
	struct mpc_rpc_result res = { 0 };
	struct mpc_contract_state st;
	struct mpc_err e = { 0 };
	size_t len;
	char *want = fixture_read("mainnet", &len);
	int before, after;

	set_fault(env, "none");
	before = mpc_fake_rpc_count(env->log, "fake-rpc: connection");
	assert_int_equal(mpc_rpc_endpoint_new(env->secret_url, NULL, &ep, &e), MPC_OK);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(mpc_rpc_view(ep, "state", &res, &e), MPC_OK);
		assert_int_equal(res.len, len);
		assert_memory_equal(res.json, want, len);
		assert_true(res.block_height >= 100000000ull);
		assert_int_equal(mpc_contract_state_parse(res.json, res.len, &st, &e), MPC_OK);
		assert_int_equal(st.kind, MPC_STATE_RUNNING);
		mpc_contract_state_free(&st);
		mpc_rpc_result_free(&res);
	}
	assert_int_equal(mpc_rpc_view(ep, "migration_info", &res, &e), MPC_OK);
	assert_non_null(strstr(res.json, "n1-multichain.near"));
	mpc_rpc_result_free(&res);
	mpc_rpc_result_free(NULL);
	mpc_rpc_endpoint_free(ep);
	mpc_rpc_endpoint_free(NULL);
	after = mpc_fake_rpc_count(env->log, "fake-rpc: connection");
	assert_int_equal(after - before, 1); /* four requests, one kept-alive connection */
	free(want);
}

static void test_rpc_errors(void **state)
{
	struct env *env = *state;
	struct mpc_rpc_result res = { 0 };
	struct mpc_err e = { 0 };

	set_fault(env, "rpc-error");
	assert_int_equal(call(env, NULL, "state", &res, &e), MPC_ERR_RPC);
	assert_non_null(strstr(e.msg, "JSON-RPC error: HANDLER_ERROR: UNKNOWN_BLOCK"));
	assert_non_null(strstr(e.msg, "DB Not Found Error"));
	set_fault(env, "panic");
	assert_int_equal(call(env, NULL, "state", &res, &e), MPC_ERR_RPC);
	assert_non_null(strstr(e.msg, "contract error: wasm execution failed"));
	assert_non_null(strstr(e.msg, "Smart contract panicked: fake-rpc panic"));
	set_fault(env, "none");
	assert_int_equal(call(env, NULL, "no_such_view", &res, &e), MPC_ERR_RPC);
	assert_non_null(strstr(e.msg, "MethodNotFound"));
	set_fault(env, "nonjson");
	assert_int_equal(call(env, NULL, "state", &res, &e), MPC_ERR_PARSE);
	assert_non_null(strstr(e.msg, "rpc response: not a JSON object"));
	set_fault(env, "503");
	assert_int_equal(call(env, NULL, "state", &res, &e), MPC_ERR_HTTP);
	assert_non_null(strstr(e.msg, "HTTP status 503"));
	set_fault(env, "refuse");
	assert_int_equal(call(env, NULL, "state", &res, &e), MPC_ERR_HTTP);
	set_fault(env, "echo");
	assert_int_equal(call(env, NULL, "state", &res, &e), MPC_ERR_RPC);
	assert_non_null(strstr(e.msg, "UNAUTHORIZED")); /* the echo itself was scrubbed */
	assert_null(res.json);
	set_fault(env, "none");
}

static void test_refused_connection(void **state)
{
	struct mpc_rpc_endpoint *ep = NULL;
	struct mpc_rpc_result res = { 0 };
	struct mpc_err e = { 0 };
	struct mpc_fake_rpc dead;
	struct env *env = *state;
	char url[256];

	/* A port nobody listens on: start a fake, note its port, stop it. */
	assert_int_equal(mpc_fake_rpc_start(&dead, env->dir, NULL, NULL), 0);
	snprintf(url, sizeof(url), "%s/path-secret?apikey=SECRET123", dead.url);
	mpc_fake_rpc_stop(&dead);
	assert_int_equal(mpc_rpc_endpoint_new(url, NULL, &ep, &e), MPC_OK);
	assert_int_equal(mpc_rpc_view(ep, "state", &res, &e), MPC_ERR_HTTP);
	assert_no_secret(e.msg);
	mpc_rpc_endpoint_free(ep);
	mpc_err_clear(&e);
	assert_int_equal(mpc_rpc_endpoint_new("ftp://x/SECRET123", NULL, &ep, &e), MPC_ERR_USAGE);
	assert_no_secret(e.msg);
	assert_null(ep);
}

static void test_hang_times_out(void **state)
{
	struct env *env = *state;
	struct mpc_rpc_options opt = { NULL, 0, 1000, 500, NULL, NULL };
	struct mpc_rpc_result res = { 0 };
	struct mpc_err e = { 0 };

	set_fault(env, "hang");
	assert_int_equal(call(env, &opt, "state", &res, &e), MPC_ERR_TIMEOUT);
	set_fault(env, "none"); /* releases the hung request inside the fake */
}

/* The stop flag, set from a signal handler as the monitor's SIGTERM handler sets its own. */
static volatile sig_atomic_t stop_flag;

static void on_alarm(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A single call in flight to a server that never answers ends soon after the cancel flag is
 * set (a stop), not at its 20 s timeout; with the flag already set it does not start. The
 * 5 s bound is a liveness bound (the progress callback runs about once a second). */
static void test_cancel_ends_call_in_flight(void **state)
{
	struct env *env = *state;
	struct mpc_rpc_options opt = { NULL, 0, 20000, 20000, NULL, &stop_flag };
	struct itimerval it = { { 0, 0 }, { 0, 300000 } };
	struct sigaction sa, old;
	struct mpc_rpc_endpoint *ep = NULL;
	struct mpc_rpc_result res = { 0 };
	struct mpc_rpc_block blk;
	struct mpc_err e = { 0 };
	double t0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
	set_fault(env, "hang");
	assert_int_equal(mpc_rpc_endpoint_new(env->secret_url, &opt, &ep, &e), MPC_OK);
	for (int round = 0; round < 2; round++) {
		stop_flag = 0;
		mpc_err_clear(&e);
		t0 = now_s();
		assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
		if (round == 0)
			assert_int_equal(mpc_rpc_view(ep, "state", &res, &e), MPC_ERR_CANCELLED);
		else
			assert_int_equal(mpc_rpc_final_block(ep, &blk, &e), MPC_ERR_CANCELLED);
		assert_true(stop_flag);
		assert_true(now_s() - t0 < 5.0);
		assert_non_null(strstr(e.msg, "cancelled"));
		assert_non_null(strstr(e.msg, env->fake.url));
		assert_no_secret(e.msg);
		assert_null(res.json);
	}
	/* already stopped: fails at once, nothing sent */
	set_fault(env, "none");
	mpc_err_clear(&e);
	t0 = now_s();
	assert_int_equal(mpc_rpc_view(ep, "state", &res, &e), MPC_ERR_CANCELLED);
	assert_true(now_s() - t0 < 1.0);
	/* the endpoint still works once the flag is clear */
	stop_flag = 0;
	assert_int_equal(mpc_rpc_view(ep, "state", &res, &e), MPC_OK);
	mpc_rpc_result_free(&res);
	mpc_rpc_endpoint_free(ep);
	assert_int_equal(sigaction(SIGALRM, &old, NULL), 0);
}

/* Wait (bounded) for the fake to log how much of the oversized stream it sent. */
static unsigned long long oversized_sent(const struct env *env, int nth)
{
	for (int i = 0; i < 300; i++) {
		FILE *fp = fopen(env->log, "r");
		char line[256];
		int seen = 0;
		unsigned long long n = 0;

		assert_non_null(fp);
		while (fgets(line, sizeof(line), fp) != NULL)
			if (sscanf(line, "fake-rpc: oversized stopped after %llu bytes", &n) == 1 &&
			    ++seen == nth) {
				fclose(fp);
				return n;
			}
		fclose(fp);
		usleep(20000);
	}
	fail_msg("fake-rpc never logged the end of the oversized stream");
	return 0;
}

static void test_oversized(void **state)
{
	struct env *env = *state;
	struct mpc_rpc_options small = { NULL, (size_t)1 << 20, 0, 0, NULL, NULL };
	struct mpc_rpc_options tiny = { NULL, 1000, 0, 0, NULL, NULL };
	struct mpc_rpc_result res = { 0 };
	struct mpc_err e = { 0 };
	unsigned long long sent;

	set_fault(env, "oversized");
	assert_int_equal(call(env, NULL, "state", &res, &e), MPC_ERR_TOO_LARGE);
	assert_non_null(strstr(e.msg, "response larger than 33554432 bytes"));
	assert_int_equal(call(env, &small, "state", &res, &e), MPC_ERR_TOO_LARGE);
	assert_non_null(strstr(e.msg, "response larger than 1048576 bytes"));
	/* Both streams were cut short by the client, well before the 50 MB end (the fake logs
	 * when each stream ends; the order of the two lines is not fixed). */
	for (int i = 1; i <= 2; i++) {
		sent = oversized_sent(env, i);
		print_message("oversized: the fake sent %llu bytes before the client hung up\n", sent);
		assert_true(sent < (45ull << 20));
	}
	/* An honest answer over a small bound is refused too. */
	set_fault(env, "none");
	assert_int_equal(call(env, &tiny, "state", &res, &e), MPC_ERR_TOO_LARGE);
	assert_null(res.json);
}

static void test_envelope_hostile(void **state)
{
	static const struct {
		const char *text;
		int rc;
		const char *want;
	} cases[] = {
		{ "{\"result\":{\"result\":[123,125]}}", MPC_OK, NULL },
		{ "{\"result\":{\"result\":[]}}", MPC_OK, NULL },
		{ "{\"result\":{\"result\":[256]}}", MPC_ERR_PARSE, "result.result[0]: expected a byte" },
		{ "{\"result\":{\"result\":[1.0]}}", MPC_ERR_PARSE, "result.result[0]" },
		{ "{\"result\":{\"result\":[-1]}}", MPC_ERR_PARSE, "result.result[0]" },
		{ "{\"result\":{\"result\":[01]}}", MPC_ERR_PARSE, "result.result[0]" },
		{ "{\"result\":{\"result\":[1,\"2\"]}}", MPC_ERR_PARSE, "result.result[1]" },
		{ "{\"result\":{\"result\":[1]},\"result\":{}}", MPC_ERR_PARSE, "result: duplicate key" },
		{ "{\"result\":{\"logs\":[]}}", MPC_ERR_PARSE, "result.result: missing" },
		{ "{\"id\":1}", MPC_ERR_PARSE, "result: missing" },
		{ "{\"result\":{\"result\":[1]}", MPC_ERR_PARSE, "invalid JSON" },
		{ "{\"result\":{\"result\":[1]}} x", MPC_ERR_PARSE, "trailing data" },
		{ "{\"error\":\"boom\"}", MPC_ERR_RPC, "JSON-RPC error: boom" },
		{ "{\"result\":{\"error\":\"panic\\nhere\",\"result\":[]}}", MPC_ERR_RPC, "contract error: panic\\nhere" },
		{ "{\"result\":{\"block_height\":-1,\"result\":[]}}", MPC_ERR_PARSE, "block_height" },
		{ "[1]", MPC_ERR_PARSE, "not a JSON object" },
	};
	struct mpc_err e;
	char *out = NULL;
	size_t len;
	uint64_t h;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc;

		mpc_err_clear(&e);
		rc = mpc_rpc_envelope_decode(cases[i].text, strlen(cases[i].text), &out, &len, &h, &e);
		if (rc != cases[i].rc || (cases[i].want != NULL && strstr(e.msg, cases[i].want) == NULL))
			fail_msg("case %zu [%s]: rc %d msg [%s]", i, cases[i].text, rc, e.msg);
		free(out);
		out = NULL;
	}
	/* Deep nesting inside an ignored member. */
	{
		size_t depth = 200000;
		char *buf = malloc(depth * 2 + 64);
		size_t o = 0;

		assert_non_null(buf);
		o += (size_t)sprintf(buf, "{\"x\":");
		memset(buf + o, '[', depth);
		o += depth;
		memset(buf + o, ']', depth);
		o += depth;
		buf[o++] = '}';
		mpc_err_clear(&e);
		assert_int_equal(mpc_rpc_envelope_decode(buf, o, &out, &len, &h, &e), MPC_ERR_PARSE);
		assert_non_null(strstr(e.msg, "nested too deeply"));
		free(buf);
	}
}

/* Deterministic byte mutations of a real response: OK or a clean failure, never a crash. */
static void test_envelope_mutations(void **state)
{
	static const char base[] = "{\"jsonrpc\":\"2.0\",\"result\":{\"result\":[123,34,97,34,58,"
				   "49,125],\"logs\":[\"x\"],\"block_height\":17,\"block_hash\":"
				   "\"abc\"},\"id\":\"mpc-backup\"}";
	static const char repl[] = "{}[]\",:-0123456789.eE\\u nt";
	char t[sizeof(base)];
	unsigned seed = 99;

	(void)state;
	for (int round = 0; round < 20000; round++) {
		struct mpc_err e = { 0 };
		char *out = NULL;
		size_t len;
		uint64_t h;

		memcpy(t, base, sizeof(base));
		for (int k = 0; k < 1 + round % 3; k++) {
			seed = seed * 1103515245u + 12345u;
			t[(seed >> 8) % (sizeof(base) - 1)] = repl[(seed >> 20) % (sizeof(repl) - 1)];
		}
		if (mpc_rpc_envelope_decode(t, sizeof(base) - 1, &out, &len, &h, &e) == MPC_OK)
			free(out);
		else
			assert_true(e.msg[0] != '\0');
	}
}

static void test_https(void **state)
{
	struct env *env = *state;
	struct mpc_fake_rpc tls;
	struct mpc_rpc_endpoint *ep = NULL;
	struct mpc_rpc_result res = { 0 };
	struct mpc_rpc_options opt = { 0 };
	struct mpc_err e = { 0 };
	char cert[1024], key[1024], url[512], name[128];
	const char *src = getenv("MPC_SOURCE_DIR");

	assert_non_null(src);
	snprintf(cert, sizeof(cert), "%s/tests/contract/fixtures/tls/rpc-cert.pem", src);
	snprintf(key, sizeof(key), "%s/tests/contract/fixtures/tls/rpc-key.pem", src);
	set_fault(env, "none");
	assert_int_equal(mpc_fake_rpc_start_tls(&tls, env->dir, NULL, NULL, cert, key), 0);
	snprintf(url, sizeof(url), "%s/path-secret?apikey=SECRET123", tls.url);
	snprintf(name, sizeof(name), "https://127.0.0.1:%u", tls.port);
	/* Trusting the test CA: the view comes back over TLS. */
	opt.ca_file = cert;
	assert_int_equal(mpc_rpc_endpoint_new(url, &opt, &ep, &e), MPC_OK);
	assert_string_equal(mpc_rpc_endpoint_name(ep), name);
	assert_int_equal(mpc_rpc_view(ep, "state", &res, &e), MPC_OK);
	assert_non_null(strstr(res.json, "\"Running\""));
	mpc_rpc_result_free(&res);
	mpc_rpc_endpoint_free(ep);
	/* With the system's CAs the self-signed endpoint is refused, as a TLS error. */
	mpc_err_clear(&e);
	assert_int_equal(mpc_rpc_endpoint_new(url, NULL, &ep, &e), MPC_OK);
	assert_int_equal(mpc_rpc_view(ep, "state", &res, &e), MPC_ERR_TLS);
	assert_non_null(strstr(e.msg, name));
	assert_no_secret(e.msg);
	mpc_rpc_endpoint_free(ep);
	mpc_fake_rpc_stop(&tls);
}

static void test_url_redaction(void **state)
{
	static const struct {
		const char *url, *want;
	} cases[] = {
		{ "https://rpc.mainnet.near.org", "https://rpc.mainnet.near.org" },
		{ "https://rpc.example.com/v1/SECRET123?apikey=SECRET123", "https://rpc.example.com" },
		{ "http://user:SECRET123@rpc.example.com:8080/x", "http://rpc.example.com:8080" },
		{ "HTTPS://[::1]:3030/?k=SECRET123", "https://[::1]:3030" },
		{ "rpc.example.com/SECRET123", "<invalid url>" },
		{ "https://h?SECRET123", "https://h" },
		{ "https://h#SECRET123", "https://h" },
		/* two '@' before the host: refused (clients disagree on the host) */
		{ "https://user@SECRET123@evil.example/", "<invalid url>" },
	};
	char out[MPC_URL_REDACTED_MAX];
	char text[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		mpc_url_redact(cases[i].url, out);
		assert_string_equal(out, cases[i].want);
	}
	{
		struct mpc_url_parts u;
		struct mpc_err e = { 0 };

		assert_int_equal(mpc_url_split("http://a@b@127.0.0.1:1/", &u, "rpc url", &e),
				 MPC_ERR_PARSE);
		assert_non_null(strstr(e.msg, "more than one '@'"));
		assert_int_equal(mpc_url_split("http://a%40b@127.0.0.1:1/", &u, "rpc url", &e),
				 MPC_OK);
		assert_string_equal(u.host, "127.0.0.1");
	}
	snprintf(text, sizeof(text), "failed: GET /path-secret?apikey=SECRET123 (path-secret) %s",
		 "SECRET123");
	mpc_url_scrub(text, "http://127.0.0.1:1/path-secret?apikey=SECRET123");
	assert_no_secret(text);
	assert_non_null(strstr(text, "failed: GET "));
	/* A message cut to its bound inside the echoed key: the start of the key is blanked too. */
	snprintf(text, sizeof(text), "gateway said: unknown key apikey=SECRE");
	mpc_url_scrub(text, "http://127.0.0.1:1/path?apikey=SECRET123");
	assert_null(strstr(text, "SECRE"));
	assert_non_null(strstr(text, "gateway said: unknown key "));
}

/* The general call and the block call: block pinning, a timeline by height, args, any view
 * served from DIR/<method>.json, nearcore's unknown-block error, a liar's fabricated block. */
static void test_call_block_and_pinning(void **state)
{
	struct env *env = *state;
	struct mpc_rpc_endpoint *ep = NULL;
	struct mpc_rpc_result res = { 0 };
	struct mpc_rpc_block blk = { 0 }, blk2 = { 0 };
	struct mpc_rpc_query q = { "state", NULL, 0 };
	struct mpc_err e = { 0 };
	char big[MPC_RPC_ARGS_MAX + 2];

	set_fault(env, "none");
	fixture_write(env->dir, "height", "5000");
	fixture_write(env->dir, "migration_info@4990.json", "{\"later.near\": [null, null]}");
	fixture_write(env->dir, "get_attestation.json", "{\"attestation\": 1}");
	assert_int_equal(mpc_rpc_endpoint_new(env->secret_url, NULL, &ep, &e), MPC_OK);
	assert_int_equal(mpc_rpc_final_block(ep, &blk, &e), MPC_OK);
	assert_int_equal(blk.height, 5000);
	assert_true(strlen(blk.hash) >= 32);
	/* Pinned to a height: the answer is for that block, with that block's hash. */
	q.method = "migration_info";
	q.block_height = 4989;
	assert_int_equal(mpc_rpc_call(ep, &q, &res, &e), MPC_OK);
	assert_int_equal(res.block_height, 4989);
	assert_non_null(strstr(res.json, "n1-multichain.near"));
	mpc_rpc_result_free(&res);
	q.block_height = 4990;
	assert_int_equal(mpc_rpc_call(ep, &q, &res, &e), MPC_OK);
	assert_non_null(strstr(res.json, "later.near"));
	mpc_rpc_result_free(&res);
	q.block_height = 5000;
	assert_int_equal(mpc_rpc_call(ep, &q, &res, &e), MPC_OK);
	assert_string_equal(res.block_hash, blk.hash);
	mpc_rpc_result_free(&res);
	/* Finality final is the final block. */
	q.block_height = 0;
	assert_int_equal(mpc_rpc_call(ep, &q, &res, &e), MPC_OK);
	assert_int_equal(res.block_height, 5000);
	mpc_rpc_result_free(&res);
	/* A block this endpoint does not have yet: nearcore's UNKNOWN_BLOCK, recognised. */
	q.block_height = 5001;
	assert_int_equal(mpc_rpc_call(ep, &q, &res, &e), MPC_ERR_RPC);
	assert_true(mpc_rpc_unknown_block(ep));
	assert_non_null(strstr(e.msg, "UNKNOWN_BLOCK"));
	mpc_err_clear(&e);
	/* ...and other errors are not mistaken for it. */
	q.block_height = 5000;
	set_fault(env, "panic");
	assert_int_equal(mpc_rpc_call(ep, &q, &res, &e), MPC_ERR_RPC);
	assert_false(mpc_rpc_unknown_block(ep));
	mpc_err_clear(&e);
	set_fault(env, "none");
	/* Any view, with arguments, from DIR/<method>.json; a view without a file is a contract
	 * error, as nearcore reports a missing method. */
	q.method = "get_attestation";
	q.args_json = "{\"tls_public_key\":\"ed25519:x\"}";
	assert_int_equal(mpc_rpc_call(ep, &q, &res, &e), MPC_OK);
	assert_string_equal(res.json, "{\"attestation\": 1}");
	mpc_rpc_result_free(&res);
	assert_true(mpc_fake_rpc_count(env->log, "args={\"tls_public_key\":\"ed25519:x\"}") >= 1);
	q.method = "no_such_view";
	assert_int_equal(mpc_rpc_call(ep, &q, &res, &e), MPC_ERR_RPC);
	assert_non_null(strstr(e.msg, "MethodNotFound"));
	mpc_err_clear(&e);
	memset(big, ' ', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	q.args_json = big;
	assert_int_equal(mpc_rpc_call(ep, &q, &res, &e), MPC_ERR_USAGE);
	mpc_err_clear(&e);
	q.method = NULL;
	assert_int_equal(mpc_rpc_call(ep, &q, &res, &e), MPC_ERR_USAGE);
	mpc_err_clear(&e);
	/* A liar reports a fabricated final block and answers with its hash. */
	fixture_write(env->dir, "lie-height", "999999999999");
	fixture_write(env->dir, "lie-hash", "LiarLiarLiarLiarLiarLiarLiarLiar");
	set_fault(env, "lie");
	assert_int_equal(mpc_rpc_final_block(ep, &blk2, &e), MPC_OK);
	assert_int_equal(blk2.height, 999999999999ull);
	assert_string_equal(blk2.hash, "LiarLiarLiarLiarLiarLiarLiarLiar");
	q.method = "state";
	q.args_json = NULL;
	q.block_height = 5000;
	assert_int_equal(mpc_rpc_call(ep, &q, &res, &e), MPC_OK);
	assert_string_equal(res.block_hash, "LiarLiarLiarLiarLiarLiarLiarLiar");
	mpc_rpc_result_free(&res);
	set_fault(env, "none");
	/* Without DIR/height the height follows the clock: two fakes agree. */
	{
		char path[600];

		snprintf(path, sizeof(path), "%s/height", env->dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/migration_info@4990.json", env->dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/lie-height", env->dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/lie-hash", env->dir);
		unlink(path);
	}
	assert_int_equal(mpc_rpc_final_block(ep, &blk, &e), MPC_OK);
	assert_true(blk.height >= 100000000ull);
	mpc_rpc_endpoint_free(ep);
}

/* Block answers that are not blocks. */
static void test_block_decode_hostile(void **state)
{
	static const struct {
		const char *text;
		int rc;
		const char *needle;
	} cases[] = {
		{ "{\"result\":{\"header\":{\"height\":7,\"hash\":\"abc\"}}}", MPC_OK, NULL },
		{ "{\"result\":{}}", MPC_ERR_PARSE, "result.header" },
		{ "{\"result\":{\"header\":{\"height\":-7,\"hash\":\"abc\"}}}", MPC_ERR_PARSE,
		  "height" },
		{ "{\"result\":{\"header\":{\"height\":7,\"hash\":\"a\\nb\"}}}", MPC_ERR_PARSE,
		  "hash" },
		{ "{\"result\":{\"header\":{\"height\":7,\"hash\":\"0OIl\"}}}", MPC_ERR_PARSE,
		  "hash" },
		{ "{\"error\":{\"name\":\"HANDLER_ERROR\",\"cause\":{\"name\":\"UNKNOWN_BLOCK\"}}}",
		  MPC_ERR_RPC, "UNKNOWN_BLOCK" },
		{ "{\"error\":{\"code\":-32000,\"data\":\"DB Not Found Error: BLOCK HEIGHT: 9\"}}",
		  MPC_ERR_RPC, "DB Not Found" },
		{ "nope", MPC_ERR_PARSE, "not a JSON object" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mpc_rpc_meta m;
		struct mpc_err e = { 0 };
		int rc = mpc_rpc_block_decode(cases[i].text, strlen(cases[i].text), &m, &e);

		if (rc != cases[i].rc)
			fail_msg("case %zu: rc %d, want %d (%s)", i, rc, cases[i].rc, e.msg);
		if (cases[i].needle != NULL && strstr(e.msg, cases[i].needle) == NULL)
			fail_msg("case %zu: message [%s] lacks [%s]", i, e.msg, cases[i].needle);
		if (rc == MPC_OK) {
			assert_int_equal(m.block_height, 7);
			assert_string_equal(m.block_hash, "abc");
		}
		assert_int_equal(m.unknown_block, rc == MPC_ERR_RPC);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_happy_path_and_keepalive),
		cmocka_unit_test(test_rpc_errors),
		cmocka_unit_test(test_refused_connection),
		cmocka_unit_test(test_hang_times_out),
		cmocka_unit_test(test_cancel_ends_call_in_flight),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_envelope_hostile),
		cmocka_unit_test(test_https),
		cmocka_unit_test(test_envelope_mutations),
		cmocka_unit_test(test_url_redaction),
		cmocka_unit_test(test_call_block_and_pinning),
		cmocka_unit_test(test_block_decode_hostile),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
