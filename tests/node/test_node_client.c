/* test_node_client.c: the node client against real fake-node processes over loopback TLS 1.3
 * with a software client key: the happy paths byte for byte, and every failure the brief names
 * (wrong keys both ways, TLS 1.2, no client-certificate request, hang, 500, oversize, garbage,
 * slow drip, wrong transport key), each a clear error within its timeout; and who is blamed
 * when a connection ends without an answer (stall then close, close at once, a certificate
 * alert). An unusable token key: test_node_token_key.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <curl/curl.h>

#include "src/node/client.h"
#include "src/util/encoding.h"
#include "src/util/file.h"
#include "src/util/mem.h"
#include "tests/node/node_harness.h"

struct fx {
	char dir[64];
	char keyshares[512];
	char received[512];
	EVP_PKEY *key;
	uint8_t pub[32];
	char pub_str[MPC_ED25519_KEY_STR_MAX];
	struct mpc_transport_key tk;
	struct mpc_keyset ks;
	struct nh_node node;
	struct mpc_node_client *c;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->node.out_fd = -1;
	assert_int_equal(nh_tmpdir(f->dir, sizeof(f->dir)), 0);
	assert_int_equal(nh_write_file(f->dir, "keyshares.json", nh_mainnet_keyshares_json(),
				       f->keyshares), 0);
	snprintf(f->received, sizeof(f->received), "%s/received.json", f->dir);
	f->key = nh_software_key(f->pub);
	assert_non_null(f->key);
	mpc_ed25519_key_format(f->pub, f->pub_str, NULL);
	assert_int_equal(mpc_transport_key_from_hex(&f->tk, NH_TRANSPORT_KEY_HEX,
						    strlen(NH_TRANSPORT_KEY_HEX), NULL), MPC_OK);
	assert_int_equal(nh_mainnet_keyset(&f->ks), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	mpc_node_client_free(f->c);
	nh_stop(&f->node);
	mpc_keyset_free(&f->ks);
	mpc_transport_key_clear(&f->tk);
	EVP_PKEY_free(f->key);
	nh_rmdir(f->dir);
	free(f);
	return 0;
}

/* Start a fake node that accepts our key (unless told otherwise) with an optional fault. */
static void start_node(struct fx *f, const char *fault, const char *extra1, const char *extra2)
{
	const char *args[16];
	int k = 0;

	args[k++] = "--client-key";
	args[k++] = f->pub_str;
	args[k++] = "--keyshares";
	args[k++] = f->keyshares;
	args[k++] = "--received";
	args[k++] = f->received;
	if (fault != NULL) {
		args[k++] = "--fault";
		args[k++] = fault;
	}
	if (extra1 != NULL)
		args[k++] = extra1;
	if (extra2 != NULL)
		args[k++] = extra2;
	args[k] = NULL;
	assert_int_equal(nh_start(&f->node, args), 0);
}

static void make_client(struct fx *f, const uint8_t *node_pub, long timeout_ms, size_t max)
{
	struct mpc_node_client_opts o = { 0 };
	char addr[64];
	struct mpc_err e = { 0 };

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", f->node.port);
	o.client_key = f->key;
	memcpy(o.client_pub, f->pub, 32);
	memcpy(o.node_pub, node_pub != NULL ? node_pub : f->node.key, 32);
	o.address = addr;
	o.connect_timeout_ms = 5000;
	o.timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
	o.max_response = max;
	mpc_node_client_free(f->c);
	f->c = NULL;
	assert_int_equal(mpc_node_client_new(&o, &f->c, &e), MPC_OK);
}

static void test_hello_keepalive(void **state)
{
	struct fx *f = *state;
	struct mpc_err e = { 0 };
	char line[128];

	start_node(f, NULL, NULL, NULL);
	make_client(f, NULL, 0, 0);
	assert_int_equal(mpc_node_hello(f->c, &e), MPC_OK);
	assert_int_equal(mpc_node_hello(f->c, &e), MPC_OK);
	assert_int_equal(nh_wait_line(&f->node, "ACCEPTED", 5000, line, sizeof(line)), 0);
	/* the second request reused the connection: no second handshake */
	assert_int_not_equal(nh_wait_line(&f->node, "ACCEPTED", 300, line, sizeof(line)), 0);
}

static void test_get_keyshares_round_trip(void **state)
{
	struct fx *f = *state;
	struct mpc_err e = { 0 };
	uint8_t *pt = NULL;
	size_t n = 0;
	const char *want = nh_mainnet_served_json();

	start_node(f, NULL, NULL, NULL);
	make_client(f, NULL, 0, 0);
	assert_int_equal(mpc_node_get_keyshares(f->c, &f->ks, &f->tk, &pt, &n, &e), MPC_OK);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(pt, want, n);
	assert_int_equal(mpc_secure_size(pt), n + 1);
	mpc_secure_free(pt);
	/* a keyset the node does not hold: 500 with the node's text */
	f->ks.epoch_id = 5;
	assert_int_equal(mpc_node_get_keyshares(f->c, &f->ks, &f->tk, &pt, &n, &e), MPC_ERR_HTTP);
	print_message("    -> %s\n", e.msg);
	assert_non_null(strstr(e.msg, "500"));
	assert_non_null(strstr(e.msg, "Failed to get keyshares"));
	assert_null(pt);
}

static void test_set_keyshares_byte_identical(void **state)
{
	struct fx *f = *state;
	struct mpc_err e = { 0 };
	const char *sent = nh_mainnet_served_json();
	uint8_t *plain = mpc_secure_alloc(strlen(sent), NULL), *got = NULL;
	size_t n = 0;

	assert_non_null(plain);
	memcpy(plain, sent, strlen(sent));
	start_node(f, NULL, NULL, NULL);
	make_client(f, NULL, 0, 0);
	assert_int_equal(mpc_node_set_keyshares(f->c, plain, strlen(sent), &f->tk, &e), MPC_OK);
	assert_int_equal(nh_wait_line(&f->node, "SET 2", 5000, NULL, 0), 0);
	assert_int_equal(mpc_file_read(f->received, 1 << 20, 1, &got, &n, &e), MPC_OK);
	assert_int_equal(n, strlen(sent));
	assert_memory_equal(got, sent, n);
	mpc_secure_free(got);
	mpc_secure_free(plain);
}

static void test_wrong_node_key(void **state)
{
	struct fx *f = *state;
	struct mpc_err e = { 0 };
	uint8_t other[32];
	char other_s[MPC_ED25519_KEY_STR_MAX];
	EVP_PKEY *k = nh_software_key(other);

	start_node(f, NULL, NULL, NULL);
	mpc_ed25519_key_format(other, other_s, NULL);
	make_client(f, other, 0, 0);
	assert_int_equal(mpc_node_hello(f->c, &e), MPC_ERR_PEER_KEY);
	print_message("    -> %s\n", e.msg);
	assert_non_null(strstr(e.msg, other_s));
	assert_non_null(strstr(e.msg, f->node.key_str));
	/* the node never saw an HTTP request */
	assert_int_not_equal(nh_wait_line(&f->node, "ACCEPTED", 300, NULL, 0), 0);
	EVP_PKEY_free(k);
}

static void test_node_presents_other_key(void **state)
{
	struct fx *f = *state;
	struct mpc_err e = { 0 };

	start_node(f, "wrong-server-key", NULL, NULL);
	make_client(f, NULL, 0, 0);
	assert_int_equal(mpc_node_hello(f->c, &e), MPC_ERR_PEER_KEY);
	print_message("    -> %s\n", e.msg);
	assert_non_null(strstr(e.msg, f->node.key_str)); /* what the contract says */
	assert_non_null(strstr(e.msg, "presented"));
}

static void test_wrong_client_key(void **state)
{
	struct fx *f = *state;
	struct mpc_err e = { 0 };
	uint8_t other[32];
	char other_s[MPC_ED25519_KEY_STR_MAX];
	EVP_PKEY *k = nh_software_key(other);
	const char *args[] = { "--client-key", other_s, NULL };

	mpc_ed25519_key_format(other, other_s, NULL);
	assert_int_equal(nh_start(&f->node, args), 0);
	make_client(f, NULL, 0, 0);
	assert_int_equal(mpc_node_hello(f->c, &e), MPC_ERR_PEER_KEY);
	print_message("    -> %s\n", e.msg);
	assert_non_null(strstr(e.msg, "refused our client key"));
	assert_non_null(strstr(e.msg, f->pub_str));
	assert_non_null(strstr(e.msg, "registered on the contract"));
	assert_int_equal(nh_wait_line(&f->node, "REFUSED", 5000, NULL, 0), 0);
	EVP_PKEY_free(k);
}

static void test_tls12_only_node(void **state)
{
	struct fx *f = *state;
	struct mpc_err e = { 0 };

	start_node(f, "tls12", NULL, NULL);
	make_client(f, NULL, 0, 0);
	assert_int_equal(mpc_node_hello(f->c, &e), MPC_ERR_TLS);
	print_message("    -> %s\n", e.msg);
	assert_non_null(strstr(e.msg, "TLS 1.3"));
}

static void test_no_client_cert_request(void **state)
{
	struct fx *f = *state;
	struct mpc_err e = { 0 };

	start_node(f, "no-client-cert", NULL, NULL);
	make_client(f, NULL, 0, 0);
	assert_int_equal(mpc_node_hello(f->c, &e), MPC_ERR_TLS);
	print_message("    -> %s\n", e.msg);
	assert_non_null(strstr(e.msg, "did not ask for a client certificate"));
	assert_int_not_equal(nh_wait_line(&f->node, "ACCEPTED", 300, NULL, 0), 0);
}

static void test_hang_times_out(void **state)
{
	struct fx *f = *state;
	struct mpc_err e = { 0 };

	start_node(f, "hang", NULL, NULL);
	make_client(f, NULL, 1500, 0);
	assert_int_equal(mpc_node_hello(f->c, &e), MPC_ERR_TIMEOUT);
	print_message("    -> %s\n", e.msg);
	assert_non_null(strstr(e.msg, "1500 ms"));
	/* the handshake completed and the node kept the connection: a stall, not a refusal */
	assert_non_null(strstr(e.msg, "completed TLS handshake"));
	assert_null(strstr(e.msg, "refused"));
}

/* A node that takes our key, holds a request, then closes without an answer failed
 * mid-request: it did not refuse our key (the node refuses by closing at once). */
static void test_stall_then_close(void **state)
{
	struct fx *f = *state;
	struct mpc_err e = { 0 };

	start_node(f, "stall-close", "--stall-ms", "2500");
	make_client(f, NULL, 20000, 0);
	assert_int_equal(mpc_node_hello(f->c, &e), MPC_ERR_HTTP);
	print_message("    -> %s\n", e.msg);
	assert_non_null(strstr(e.msg, "closed the connection without an answer"));
	assert_non_null(strstr(e.msg, "not a refusal of our key"));
	assert_null(strstr(e.msg, "refused our"));
	assert_int_equal(nh_wait_line(&f->node, "ACCEPTED", 5000, NULL, 0), 0);
	assert_int_equal(nh_wait_line(&f->node, "STALLED", 5000, NULL, 0), 0);
}

/* The same node, but closing at once: indistinguishable from the node's refusal, and reported
 * as one (the node gives no other signal). */
static void test_close_at_once_is_refusal(void **state)
{
	struct fx *f = *state;
	struct mpc_err e = { 0 };

	start_node(f, "stall-close", "--stall-ms", "0");
	make_client(f, NULL, 20000, 0);
	assert_int_equal(mpc_node_hello(f->c, &e), MPC_ERR_PEER_KEY);
	print_message("    -> %s\n", e.msg);
	assert_non_null(strstr(e.msg, "refused our client key"));
}

/* A server that rejects our certificate inside the handshake: in TLS 1.3 its alert arrives
 * after our Finished, at the first read; it is named, and it is the node refusing our key. */
static void test_certificate_rejected_by_alert(void **state)
{
	struct fx *f = *state;
	struct mpc_err e = { 0 };
	uint8_t other[32];
	char other_s[MPC_ED25519_KEY_STR_MAX];
	EVP_PKEY *k = nh_software_key(other);
	const char *args[] = { "--client-key", other_s, "--fault", "reject-cert", NULL };

	mpc_ed25519_key_format(other, other_s, NULL);
	assert_int_equal(nh_start(&f->node, args), 0);
	make_client(f, NULL, 0, 0);
	assert_int_equal(mpc_node_hello(f->c, &e), MPC_ERR_PEER_KEY);
	print_message("    -> %s\n", e.msg);
	assert_non_null(strstr(e.msg, "rejected our client certificate"));
	assert_non_null(strstr(e.msg, "bad certificate"));
	assert_non_null(strstr(e.msg, f->pub_str));
	assert_int_not_equal(nh_wait_line(&f->node, "ACCEPTED", 300, NULL, 0), 0);
	/* and the same node takes the key it was configured with */
	nh_stop(&f->node);
	start_node(f, "reject-cert", NULL, NULL);
	make_client(f, NULL, 0, 0);
	assert_int_equal(mpc_node_hello(f->c, &e), MPC_OK);
	EVP_PKEY_free(k);
}

static void test_slow_drip_times_out(void **state)
{
	struct fx *f = *state;
	struct mpc_err e = { 0 };

	start_node(f, "slow", "--drip-ms", "200");
	make_client(f, NULL, 1500, 0);
	assert_int_equal(mpc_node_hello(f->c, &e), MPC_ERR_TIMEOUT);
	print_message("    -> %s\n", e.msg);
}

static void test_status_500(void **state)
{
	struct fx *f = *state;
	struct mpc_err e = { 0 };

	start_node(f, "status500", NULL, NULL);
	make_client(f, NULL, 0, 0);
	assert_int_equal(mpc_node_hello(f->c, &e), MPC_ERR_HTTP);
	print_message("    -> %s\n", e.msg);
	assert_non_null(strstr(e.msg, "HTTP 500: Failed to get keyshares"));
}

static void test_oversize(void **state)
{
	struct fx *f = *state;
	struct mpc_err e = { 0 };
	uint8_t *pt = NULL;
	size_t n = 0;

	/* default limit (16 MiB) against the default 17 MiB body, announced by Content-Length */
	start_node(f, "oversize", NULL, NULL);
	make_client(f, NULL, 0, 0);
	assert_int_equal(mpc_node_get_keyshares(f->c, &f->ks, &f->tk, &pt, &n, &e),
			 MPC_ERR_TOO_LARGE);
	print_message("    -> %s\n", e.msg);
	assert_non_null(strstr(e.msg, "16777216"));
	nh_stop(&f->node);
	mpc_err_clear(&e);
	/* no Content-Length: enforced while receiving */
	start_node(f, "oversize-noclen", "--oversize-bytes", "3000000");
	make_client(f, NULL, 0, 1 << 20);
	assert_int_equal(mpc_node_get_keyshares(f->c, &f->ks, &f->tk, &pt, &n, &e),
			 MPC_ERR_TOO_LARGE);
	print_message("    -> %s\n", e.msg);
	assert_null(pt);
}

static void test_garbage(void **state)
{
	struct fx *f = *state;
	struct mpc_err e = { 0 };
	uint8_t *pt = NULL;
	size_t n = 0;

	/* 200 with the node's plain-text failure body */
	start_node(f, "garbage", NULL, NULL);
	make_client(f, NULL, 0, 0);
	assert_int_equal(mpc_node_get_keyshares(f->c, &f->ks, &f->tk, &pt, &n, &e), MPC_ERR_PARSE);
	print_message("    -> %s\n", e.msg);
	assert_non_null(strstr(e.msg, "cannot be decrypted"));
	assert_null(pt);
	nh_stop(&f->node);
	mpc_err_clear(&e);
	/* not HTTP at all */
	start_node(f, "garbage-http", NULL, NULL);
	make_client(f, NULL, 0, 0);
	assert_int_equal(mpc_node_hello(f->c, &e), MPC_ERR_HTTP);
	print_message("    -> %s\n", e.msg);
	assert_non_null(strstr(e.msg, "not HTTP/1.1"));
}

static void test_wrong_transport_key(void **state)
{
	struct fx *f = *state;
	struct mpc_err e = { 0 };
	struct mpc_transport_key wrong;
	uint8_t *pt = NULL;
	size_t n = 0;
	const char *sent = nh_mainnet_served_json();

	assert_int_equal(mpc_transport_key_from_hex(&wrong,
		"0000000000000000000000000000000000000000000000000000000000000001", 64, NULL), MPC_OK);
	start_node(f, NULL, NULL, NULL);
	make_client(f, NULL, 0, 0);
	assert_int_equal(mpc_node_get_keyshares(f->c, &f->ks, &wrong, &pt, &n, &e), MPC_ERR_AUTH);
	print_message("    -> %s\n", e.msg);
	assert_non_null(strstr(e.msg, "wrong transport key or corrupted body"));
	assert_null(pt);
	mpc_err_clear(&e);
	assert_int_equal(mpc_node_set_keyshares(f->c, (const uint8_t *)sent, strlen(sent), &wrong, &e),
			 MPC_ERR_HTTP);
	print_message("    -> %s\n", e.msg);
	assert_non_null(strstr(e.msg, "HTTP 400: Invalid Json or encryption"));
	mpc_transport_key_clear(&wrong);
}

static void test_address_forms(void **state)
{
	struct fx *f = *state;
	struct mpc_node_client_opts o = { 0 };
	struct mpc_err e = { 0 };
	struct nh_node v6 = { .out_fd = -1 };
	const char *v6args[] = { "--client-key", f->pub_str, "--ipv6", NULL };
	char addr[80];
	const char *forms[] = { "https://127.0.0.1:", "https://localhost:", "localhost:" };
	const char *tails[] = { "", "/", "" };

	start_node(f, NULL, NULL, NULL);
	o.client_key = f->key;
	memcpy(o.client_pub, f->pub, 32);
	memcpy(o.node_pub, f->node.key, 32);
	o.timeout_ms = 10000;
	for (size_t i = 0; i < 3; i++) {
		snprintf(addr, sizeof(addr), "%s%u%s", forms[i], f->node.port, tails[i]);
		o.address = addr;
		mpc_node_client_free(f->c);
		f->c = NULL;
		assert_int_equal(mpc_node_client_new(&o, &f->c, &e), MPC_OK);
		assert_int_equal(mpc_node_hello(f->c, &e), MPC_OK);
	}
	/* IPv6 loopback, when the machine has it */
	if (nh_start(&v6, v6args) == 0) {
		snprintf(addr, sizeof(addr), "[::1]:%u", v6.port);
		o.address = addr;
		memcpy(o.node_pub, v6.key, 32);
		mpc_node_client_free(f->c);
		f->c = NULL;
		assert_int_equal(mpc_node_client_new(&o, &f->c, &e), MPC_OK);
		assert_int_equal(mpc_node_hello(f->c, &e), MPC_OK);
		nh_stop(&v6);
	} else {
		print_message("IPv6 loopback unavailable: [::1] dial not exercised\n");
	}
	/* nothing listens: a clear connect error */
	nh_stop(&f->node);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", f->node.port);
	o.address = addr;
	mpc_node_client_free(f->c);
	f->c = NULL;
	assert_int_equal(mpc_node_client_new(&o, &f->c, &e), MPC_OK);
	assert_int_equal(mpc_node_hello(f->c, &e), MPC_ERR_HTTP);
	print_message("    -> %s\n", e.msg);
	assert_non_null(strstr(e.msg, "cannot connect"));
}

static void test_address_parse_and_opts(void **state)
{
	struct fx *f = *state;
	char host[256];
	unsigned port = 0;
	struct mpc_node_client_opts o = { 0 };
	struct mpc_node_client *c = NULL;
	struct mpc_err e = { 0 };

	assert_int_equal(mpc_node_address_parse("10.0.0.1:8079", host, sizeof(host), &port, NULL), MPC_OK);
	assert_string_equal(host, "10.0.0.1");
	assert_int_equal(port, 8079);
	assert_int_equal(mpc_node_address_parse("[fe80::1]:9", host, sizeof(host), &port, NULL), MPC_OK);
	assert_string_equal(host, "fe80::1");
	assert_int_equal(port, 9);
	assert_int_equal(mpc_node_address_parse("https://node.example.org", host, sizeof(host), &port, NULL), MPC_OK);
	assert_string_equal(host, "node.example.org");
	assert_int_equal(port, MPC_NODE_DEFAULT_PORT);
	assert_int_equal(mpc_node_address_parse("http://x:1", host, sizeof(host), &port, NULL), MPC_ERR_PARSE);
	assert_int_equal(mpc_node_address_parse("x:0", host, sizeof(host), &port, NULL), MPC_ERR_PARSE);
	assert_int_equal(mpc_node_address_parse("x:65536", host, sizeof(host), &port, NULL), MPC_ERR_PARSE);
	assert_int_equal(mpc_node_address_parse("::1:80", host, sizeof(host), &port, NULL), MPC_ERR_PARSE);
	assert_int_equal(mpc_node_address_parse("h/path:1", host, sizeof(host), &port, NULL), MPC_ERR_PARSE);
	assert_int_equal(mpc_node_address_parse("a b:1", host, sizeof(host), &port, NULL), MPC_ERR_PARSE);
	/* client_pub must belong to client_key */
	o.client_key = f->key;
	o.address = "127.0.0.1:1";
	memset(o.client_pub, 7, 32);
	assert_int_equal(mpc_node_client_new(&o, &c, &e), MPC_ERR_USAGE);
	assert_null(c);
	mpc_node_client_free(NULL);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_hello_keepalive),       T(test_get_keyshares_round_trip),
		T(test_set_keyshares_byte_identical), T(test_wrong_node_key),
		T(test_node_presents_other_key), T(test_wrong_client_key),
		T(test_tls12_only_node),       T(test_no_client_cert_request),
		T(test_hang_times_out),        T(test_slow_drip_times_out),
		T(test_stall_then_close),      T(test_close_at_once_is_refusal),
		T(test_certificate_rejected_by_alert),
		T(test_status_500),            T(test_oversize),
		T(test_garbage),               T(test_wrong_transport_key),
		T(test_address_forms),         T(test_address_parse_and_opts),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
