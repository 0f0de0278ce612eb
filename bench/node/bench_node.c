/* bench_node.c: node transport figures. (1) a full TLS 1.3 handshake (new TCP connection, no
 * resumption) plus GET /hello, 200 times, median; (2) GET /get_keyshares of a 32-domain keyset
 * (encrypt on the fake node, decrypt here), on a new connection and on a kept-alive one.
 *
 * Each is run with a software Ed25519 client key (`client_key_source`) and with the key in a
 * SoftHSM2 token (the provider-backed EVP_PKEY), in the same run, next to one token sign alone:
 * the token path should cost the software path plus about one token sign.
 * Usage: bench_node [iterations]   (env MPC_BENCH_ITER also accepted; default 200) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "pkcs11/ed25519.h"
#include "pkcs11/keys.h"
#include "pkcs11/module.h"
#include "pkcs11/provider.h"
#include "src/node/client.h"
#include "tests/support/softhsm.h"
#include "src/util/encoding.h"
#include "src/util/mem.h"
#include "tests/node/node_harness.h"

/* Swap this for the token-key variant. Returns a new reference and fills the raw public key. */
static EVP_PKEY *(*client_key_source)(uint8_t pub[32]) = nh_software_key;

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	printf("%-46s n=%-4d median %8.0f us   p10 %8.0f us   p90 %8.0f us   min %8.0f us\n", what,
	       n, v[n / 2], v[n / 10], v[n * 9 / 10], v[0]);
}

static struct mpc_node_client *client(EVP_PKEY *k, const uint8_t pub[32], struct nh_node *node,
				      int fresh)
{
	struct mpc_node_client_opts o = { 0 };
	struct mpc_node_client *c = NULL;
	struct mpc_err e = { 0 };
	char addr[64];

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", node->port);
	o.client_key = k;
	memcpy(o.client_pub, pub, 32);
	memcpy(o.node_pub, node->key, 32);
	o.address = addr;
	o.fresh_connection = fresh;
	if (mpc_node_client_new(&o, &c, &e) != MPC_OK) {
		fprintf(stderr, "bench_node: %s\n", e.msg);
		exit(1);
	}
	return c;
}

/* A SoftHSM2 token with the ceremony run, and its TLS key as a provider-backed EVP_PKEY. */
struct token_key {
	struct th_softhsm hsm;
	struct mpc_p11_ctx *ctx;
	struct mpc_token *t;
	struct mpc_provider prov;
	EVP_PKEY *key;
	uint8_t pub[32];
};

static int token_key_open(struct token_key *tk)
{
	struct mpc_ceremony_report rep;
	struct mpc_err e = { 0 };

	if (th_softhsm_setup(&tk->hsm, "bench", NULL) != 0 || mpc_provider_load(NULL, &tk->prov, &e) != MPC_OK ||
	    mpc_p11_ctx_new(&tk->ctx, &e) != MPC_OK || mpc_token_open(tk->ctx, tk->hsm.uri, NULL, &tk->t, &e) != MPC_OK ||
	    mpc_key_ceremony(tk->t, MPC_CEREMONY_SEAL | MPC_CEREMONY_TLS, &rep, &e) != MPC_OK ||
	    mpc_provider_token_pkey(NULL, tk->t, &tk->key, &e) != MPC_OK ||
	    mpc_ed25519_public_key(tk->t, tk->pub, &e) != MPC_OK) {
		fprintf(stderr, "bench_node: token setup: %s\n", e.msg);
		return -1;
	}
	return 0;
}

static void token_key_close(struct token_key *tk)
{
	EVP_PKEY_free(tk->key);
	mpc_token_close(tk->t);
	mpc_p11_ctx_free(tk->ctx);
	mpc_provider_unload(&tk->prov);
	th_softhsm_teardown(&tk->hsm);
}

static int start_node(struct nh_node *node, const uint8_t pub[32], const char *ksfile)
{
	char pub_s[MPC_ED25519_KEY_STR_MAX];
	const char *args[] = { "--client-key", pub_s, "--keyshares", ksfile, NULL };

	mpc_ed25519_key_format(pub, pub_s, NULL);
	return nh_start(node, args);
}

/* Median of `iter` full handshakes + /hello with this key, each on a new connection. */
static double hello_loop(const char *what, EVP_PKEY *key, const uint8_t pub[32], struct nh_node *node,
			 double *t, int iter)
{
	struct mpc_node_client *c = client(key, pub, node, 1);
	struct mpc_err e = { 0 };

	for (int i = 0; i < iter; i++) {
		double t0 = now_us();

		if (mpc_node_hello(c, &e) != MPC_OK) {
			fprintf(stderr, "bench_node: %s\n", e.msg);
			exit(1);
		}
		t[i] = now_us() - t0;
	}
	mpc_node_client_free(c);
	report(what, t, iter);
	qsort(t, (size_t)iter, sizeof(*t), cmp_double);
	return t[iter / 2];
}

static void keyshares_loop(const char *what, EVP_PKEY *key, const uint8_t pub[32], struct nh_node *node,
			   int fresh, const struct mpc_keyset *ks, const struct mpc_transport_key *tk,
			   double *t, int n, size_t *plain_bytes)
{
	struct mpc_node_client *c = client(key, pub, node, fresh);
	struct mpc_err e = { 0 };

	for (int i = 0; i < n; i++) {
		uint8_t *pt = NULL;
		double t0 = now_us();

		if (mpc_node_get_keyshares(c, ks, tk, &pt, plain_bytes, &e) != MPC_OK) {
			fprintf(stderr, "bench_node: %s\n", e.msg);
			exit(1);
		}
		t[i] = now_us() - t0;
		mpc_secure_free(pt);
	}
	report(what, t, n);
	mpc_node_client_free(c);
}

int main(int argc, char **argv)
{
	int iter = argc > 1 ? atoi(argv[1]) : getenv("MPC_BENCH_ITER") ? atoi(getenv("MPC_BENCH_ITER")) : 200;
	uint8_t pub[32];
	char dir[64], ksfile[512];
	EVP_PKEY *key;
	struct nh_node node = { .out_fd = -1 }, tnode = { .out_fd = -1 };
	struct token_key tok;
	struct mpc_transport_key tk;
	struct mpc_keyset ks;
	struct mpc_err e = { 0 };
	char *ksjson = NULL;
	double *t, soft, token, sign;
	size_t plain_bytes = 0;
	int n;

	if (iter < 10)
		iter = 10;
	n = iter / 4 < 10 ? 10 : iter / 4;
	t = calloc((size_t)iter, sizeof(*t));
	memset(&tok, 0, sizeof(tok));
	curl_global_init(CURL_GLOBAL_DEFAULT);
	key = client_key_source(pub);
	if (t == NULL || key == NULL || nh_tmpdir(dir, sizeof(dir)) != 0 ||
	    nh_synthetic(32, &ks, &ksjson) != 0 ||
	    nh_write_file(dir, "keyshares.json", ksjson, ksfile) != 0 ||
	    mpc_transport_key_from_hex(&tk, NH_TRANSPORT_KEY_HEX, strlen(NH_TRANSPORT_KEY_HEX), &e) != MPC_OK ||
	    token_key_open(&tok) != 0) {
		fprintf(stderr, "bench_node: setup failed\n");
		return 1;
	}
	if (start_node(&node, pub, ksfile) != 0 || start_node(&tnode, tok.pub, ksfile) != 0) {
		fprintf(stderr, "bench_node: cannot start fake-node\n");
		return 1;
	}
	printf("node transport benchmark: loopback, fake-node, %d iterations; the same client with a\n"
	       "software Ed25519 key and with the key in SoftHSM2 (CKM_EDDSA through the provider)\n",
	       iter);
	soft = hello_loop("software key: TLS 1.3 handshake + /hello", key, pub, &node, t, iter);
	token = hello_loop("token key:    TLS 1.3 handshake + /hello", tok.key, tok.pub, &tnode, t, iter);
	for (int i = 0; i < iter; i++) {
		uint8_t sig[64];
		double t0 = now_us();

		if (mpc_ed25519_sign(tok.t, (const uint8_t *)"a TLS 1.3 CertificateVerify input", 33, sig, &e) != MPC_OK) {
			fprintf(stderr, "bench_node: %s\n", e.msg);
			return 1;
		}
		t[i] = now_us() - t0;
	}
	report("one token Ed25519 sign (C_SignInit+C_Sign)", t, iter);
	qsort(t, (size_t)iter, sizeof(*t), cmp_double);
	sign = t[iter / 2];
	printf("token path - software path = %.0f us = %.2f x one token sign (target <= 1.2)\n",
	       token - soft, (token - soft) / sign);
	keyshares_loop("software key: /get_keyshares 32 domains, new conn", key, pub, &node, 1, &ks, &tk, t, n, &plain_bytes);
	keyshares_loop("token key:    /get_keyshares 32 domains, new conn", tok.key, tok.pub, &tnode, 1, &ks, &tk, t, n, &plain_bytes);
	keyshares_loop("token key:    /get_keyshares 32 domains, kept alive", tok.key, tok.pub, &tnode, 0, &ks, &tk, t, n, &plain_bytes);
	printf("32-domain plaintext: %zu bytes\n", plain_bytes);

	nh_stop(&node);
	nh_stop(&tnode);
	nh_rmdir(dir);
	free(ksjson);
	free(t);
	mpc_keyset_free(&ks);
	mpc_transport_key_clear(&tk);
	EVP_PKEY_free(key);
	token_key_close(&tok);
	curl_global_cleanup();
	return 0;
}
