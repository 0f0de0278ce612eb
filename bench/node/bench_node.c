/* bench_node.c: node transport figures. (1) a full TLS 1.3 handshake (new TCP connection, no
 * resumption) plus GET /hello, 200 times, median; (2) GET /get_keyshares of a 32-domain keyset
 * (encrypt on the fake node, decrypt here), on a new connection and on a kept-alive one.
 *
 * The client identity comes from `client_key_source`: a software Ed25519 key today; point it at
 * a function returning the token's provider-backed EVP_PKEY to measure signing in the token.
 * Usage: bench_node [iterations]   (env MPC_BENCH_ITER also accepted; default 200) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "src/node/client.h"
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

int main(int argc, char **argv)
{
	int iter = argc > 1 ? atoi(argv[1]) : getenv("MPC_BENCH_ITER") ? atoi(getenv("MPC_BENCH_ITER")) : 200;
	uint8_t pub[32];
	char pub_s[MPC_ED25519_KEY_STR_MAX], dir[64], ksfile[512];
	EVP_PKEY *key;
	struct nh_node node = { .out_fd = -1 };
	struct mpc_node_client *c;
	struct mpc_transport_key tk;
	struct mpc_keyset ks;
	struct mpc_err e = { 0 };
	char *ksjson = NULL;
	double *t;
	size_t plain_bytes = 0;

	if (iter < 10)
		iter = 10;
	t = calloc((size_t)iter, sizeof(*t));
	curl_global_init(CURL_GLOBAL_DEFAULT);
	key = client_key_source(pub);
	if (t == NULL || key == NULL || nh_tmpdir(dir, sizeof(dir)) != 0 ||
	    nh_synthetic(32, &ks, &ksjson) != 0 ||
	    nh_write_file(dir, "keyshares.json", ksjson, ksfile) != 0 ||
	    mpc_transport_key_from_hex(&tk, NH_TRANSPORT_KEY_HEX, strlen(NH_TRANSPORT_KEY_HEX), &e) != MPC_OK) {
		fprintf(stderr, "bench_node: setup failed\n");
		return 1;
	}
	mpc_ed25519_key_format(pub, pub_s, NULL);
	{
		const char *args[] = { "--client-key", pub_s, "--keyshares", ksfile, NULL };

		if (nh_start(&node, args) != 0) {
			fprintf(stderr, "bench_node: cannot start fake-node\n");
			return 1;
		}
	}
	printf("node transport benchmark: loopback, fake-node, software Ed25519 client key, %d iterations\n", iter);

	c = client(key, pub, &node, 1);
	for (int i = 0; i < iter; i++) {
		double t0 = now_us();

		if (mpc_node_hello(c, &e) != MPC_OK) {
			fprintf(stderr, "bench_node: %s\n", e.msg);
			return 1;
		}
		t[i] = now_us() - t0;
	}
	report("TLS 1.3 handshake + GET /hello (new conn)", t, iter);
	mpc_node_client_free(c);

	for (int fresh = 1; fresh >= 0; fresh--) {
		int n = iter / 4 < 10 ? 10 : iter / 4;

		c = client(key, pub, &node, fresh);
		for (int i = 0; i < n; i++) {
			uint8_t *pt = NULL;
			double t0 = now_us();

			if (mpc_node_get_keyshares(c, &ks, &tk, &pt, &plain_bytes, &e) != MPC_OK) {
				fprintf(stderr, "bench_node: %s\n", e.msg);
				return 1;
			}
			t[i] = now_us() - t0;
			mpc_secure_free(pt);
		}
		report(fresh ? "GET /get_keyshares 32 domains (new conn)"
			     : "GET /get_keyshares 32 domains (kept alive)", t, n);
		mpc_node_client_free(c);
	}
	printf("32-domain plaintext: %zu bytes\n", plain_bytes);

	nh_stop(&node);
	nh_rmdir(dir);
	free(ksjson);
	free(t);
	mpc_keyset_free(&ks);
	mpc_transport_key_clear(&tk);
	EVP_PKEY_free(key);
	curl_global_cleanup();
	return 0;
}
