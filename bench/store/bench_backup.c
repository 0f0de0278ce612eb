/* bench_backup.c: one backup end to end, as `mpc-backup backup` and the monitor do it: TLS 1.3
 * handshake with the token's key, GET /get_keyshares, body decryption, validation against the
 * keyset, sealing in the token, atomic durable write. 1, 8 and 64 domains, against a fake-node
 * on loopback and a SoftHSM2 token. Prints the median of each part; no assertions.
 * Run: MPC_SOURCE_DIR=<repo> build/bench/store/bench_backup [repeats] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "pkcs11/ed25519.h"
#include "pkcs11/keys.h"
#include "pkcs11/module.h"
#include "pkcs11/provider.h"
#include "src/monitor/ops.h"
#include "src/util/encoding.h"
#include "tests/node/node_harness.h"
#include "tests/support/softhsm.h"

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double med(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	return v[n / 2];
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 1, 8, 64 };
	int repeats = argc > 1 ? atoi(argv[1]) : 30;
	struct th_softhsm hsm;
	struct mpc_p11_ctx *ctx = NULL;
	struct mpc_token *t = NULL;
	struct mpc_provider prov;
	struct mpc_ceremony_report rep;
	struct mpc_transport_key tk;
	struct mpc_err e = { 0 };
	EVP_PKEY *key = NULL;
	uint8_t pub[32];
	char pub_s[MPC_ED25519_KEY_STR_MAX], dir[64];
	double *node_t, *tok_t, *disk_t, *tot_t;

	if (repeats < 5)
		repeats = 5;
	node_t = calloc((size_t)repeats, sizeof(double));
	tok_t = calloc((size_t)repeats, sizeof(double));
	disk_t = calloc((size_t)repeats, sizeof(double));
	tot_t = calloc((size_t)repeats, sizeof(double));
	curl_global_init(CURL_GLOBAL_DEFAULT);
	memset(&tk, 0, sizeof(tk));
	if (th_softhsm_setup(&hsm, "bench", NULL) != 0 || mpc_provider_load(NULL, &prov, &e) != MPC_OK ||
	    mpc_p11_ctx_new(&ctx, &e) != MPC_OK || mpc_token_open(ctx, hsm.uri, NULL, &t, &e) != MPC_OK ||
	    mpc_key_ceremony(t, MPC_CEREMONY_SEAL | MPC_CEREMONY_TLS, &rep, &e) != MPC_OK ||
	    mpc_provider_token_pkey(NULL, t, &key, &e) != MPC_OK || mpc_ed25519_public_key(t, pub, &e) != MPC_OK ||
	    mpc_transport_key_from_hex(&tk, NH_TRANSPORT_KEY_HEX, strlen(NH_TRANSPORT_KEY_HEX), &e) != MPC_OK ||
	    nh_tmpdir(dir, sizeof(dir)) != 0) {
		fprintf(stderr, "bench_backup: setup: %s\n", e.msg);
		return 1;
	}
	mpc_ed25519_key_format(pub, pub_s, NULL);
	printf("one backup end to end (token TLS key, fake-node on loopback, SoftHSM2 AES-GCM, ext4 fsync), "
	       "median of %d\n", repeats);
	for (size_t s = 0; s < 3; s++) {
		struct mpc_keyset ks;
		struct nh_node node = { .out_fd = -1 };
		char *json = NULL, ksfile[512], addr[64];
		const char *args[] = { "--client-key", pub_s, "--keyshares", ksfile, NULL };
		size_t bytes = 0;

		if (nh_synthetic(sizes[s], &ks, &json) != 0 || nh_write_file(dir, "ks.json", json, ksfile) != 0 ||
		    nh_start(&node, args) != 0) {
			fprintf(stderr, "bench_backup: fake-node\n");
			return 1;
		}
		snprintf(addr, sizeof(addr), "127.0.0.1:%u", node.port);
		for (int i = 0; i < repeats; i++) {
			struct mpc_store *st = NULL;
			struct mpc_token *seal[1] = { t };
			struct mpc_ops o;
			struct mpc_backup_outcome out;
			char sdir[128], cmd[160];

			snprintf(sdir, sizeof(sdir), "%s/store-%zu-%d", dir, s, i);
			if (mpc_store_open(sdir, 1, &st, &e) != MPC_OK) {
				fprintf(stderr, "bench_backup: %s\n", e.msg);
				return 1;
			}
			memset(&o, 0, sizeof(o));
			o.tls_key = key;
			memcpy(o.tls_pub, pub, 32);
			o.seal_tokens = seal;
			o.n_seal = 1;
			o.tk = &tk;
			o.store = st;
			if (mpc_op_backup(&o, addr, node.key, &ks, &out, &e) != MPC_OK) {
				fprintf(stderr, "bench_backup: %s\n", e.msg);
				return 1;
			}
			node_t[i] = out.t.node_s;
			tok_t[i] = out.t.token_s;
			disk_t[i] = out.t.disk_s;
			tot_t[i] = out.t.total_s;
			bytes = out.bytes;
			mpc_store_close(st);
			snprintf(cmd, sizeof(cmd), "rm -rf '%s'", sdir);
			if (system(cmd) != 0)
				return 1;
		}
		printf("%3zu domains (%6zu bytes): total %7.2f ms = TLS+request+decrypt %6.2f ms, token %5.2f ms, "
		       "disk %5.2f ms, rest (validation, coverage, framing) %5.2f ms\n",
		       sizes[s], bytes, med(tot_t, repeats) * 1e3, med(node_t, repeats) * 1e3,
		       med(tok_t, repeats) * 1e3, med(disk_t, repeats) * 1e3,
		       (med(tot_t, repeats) - med(node_t, repeats) - med(tok_t, repeats) - med(disk_t, repeats)) * 1e3);
		nh_stop(&node);
		free(json);
		mpc_keyset_free(&ks);
	}
	EVP_PKEY_free(key);
	mpc_transport_key_clear(&tk);
	mpc_token_close(t);
	mpc_p11_ctx_free(ctx);
	mpc_provider_unload(&prov);
	th_softhsm_teardown(&hsm);
	nh_rmdir(dir);
	return 0;
}
