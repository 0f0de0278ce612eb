/* bench_store.c: figures for the sealed store on a SoftHSM2 token (never run by ctest).
 *
 *   bench_store [REPEATS]
 * 1. seal + fsync of one keyset with 1, 8 and 64 domains: mean time per backup, split into
 *    token time (mpc_seal) and disk time (temp write, fsync, link, dir fsync).
 * 2. verify of a store holding 100 keysets (8 domains each): total and per file.
 * Needs MPC_SOURCE_DIR (for the SoftHSM2 template) like the tests.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "src/store/store.h"
#include "src/util/mem.h"
#include "tests/store/sfix.h"
#include "tests/support/softhsm.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int put_one(struct mpc_store *s, struct mpc_token *t, uint64_t epoch, size_t ndom,
		   struct mpc_store_put_stats *st, size_t *file_len)
{
	struct mpc_store_put_opts o = { .tokens = &t, .n_tokens = 1, .mech = MPC_SEAL_AUTO,
					.contract = "v1.signer", .operator_ = "bench.near",
					.stats = st };
	struct mpc_err e = { 0 };
	struct sf_set f;
	uint8_t *js = NULL;
	size_t len = 0;
	char name[MPC_STORE_NAME_MAX], path[4200];
	int rc;

	if (sf_synthetic_set(epoch, ndom, 1, &f) != 0 || sf_shares_json(f.shares, f.n, &js, &len) != 0)
		return -1;
	rc = mpc_store_put(s, &o, &f.ks, js, len, name, &e);
	if (rc != MPC_OK)
		fprintf(stderr, "put: %s\n", e.msg);
	if (rc == MPC_OK && file_len != NULL) {
		FILE *fp;

		snprintf(path, sizeof(path), "%s/%s", s->dir, name);
		fp = fopen(path, "rb");
		if (fp != NULL) {
			fseek(fp, 0, SEEK_END);
			*file_len = (size_t)ftell(fp);
			fclose(fp);
		}
	}
	mpc_secure_free(js);
	sf_set_free(&f);
	return rc == MPC_OK ? 0 : -1;
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 1, 8, 64 };
	int repeats = argc > 1 ? atoi(argv[1]) : 50;
	struct th_softhsm h;
	struct mpc_p11_ctx *ctx = NULL;
	struct mpc_token *t = NULL;
	struct mpc_err e = { 0 };
	char tmp[] = "/tmp/mpc-bench-store-XXXXXX", dir[128], cmd[160];
	uint64_t epoch = 1;
	int rc = 1;

	if (repeats < 1)
		repeats = 1;
	if (th_softhsm_setup(&h, "bench", NULL) != 0 || mpc_p11_ctx_new(&ctx, &e) != MPC_OK ||
	    sf_token_open(ctx, h.uri, &t) != 0 || mkdtemp(tmp) == NULL) {
		fprintf(stderr, "bench setup failed: %s\n", e.msg);
		goto out;
	}
	printf("store bench: SoftHSM2 token, mechanism %s, files in %s (%d repeats)\n",
	       "auto (aes-256-gcm)", tmp, repeats);
	printf("%-8s %12s %12s %12s %12s\n", "domains", "file bytes", "token ms", "disk ms",
	       "total ms");
	for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
		struct mpc_store *s = NULL;
		double tok = 0, disk = 0, t0, total;
		size_t flen = 0;

		snprintf(dir, sizeof(dir), "%s/s%zu", tmp, sizes[si]);
		if (mpc_store_open(dir, 1, &s, &e) != MPC_OK)
			goto out;
		t0 = now();
		for (int r = 0; r < repeats; r++) {
			struct mpc_store_put_stats st = { 0 };

			if (put_one(s, t, epoch++, sizes[si], &st, &flen) != 0) {
				mpc_store_close(s);
				goto out;
			}
			tok += st.token_seconds;
			disk += st.disk_seconds;
		}
		total = now() - t0;
		printf("%-8zu %12zu %12.3f %12.3f %12.3f\n", sizes[si], flen, tok * 1e3 / repeats,
		       disk * 1e3 / repeats, total * 1e3 / repeats);
		mpc_store_close(s);
	}
	{
		struct mpc_store *s = NULL;
		struct mpc_store_verify_report vr;
		double t0, dt;

		snprintf(dir, sizeof(dir), "%s/verify", tmp);
		if (mpc_store_open(dir, 1, &s, &e) != MPC_OK)
			goto out;
		for (int i = 0; i < 100; i++)
			if (put_one(s, t, epoch++, 8, NULL, NULL) != 0) {
				mpc_store_close(s);
				goto out;
			}
		t0 = now();
		if (mpc_store_verify(s, &t, 1, &vr, &e) != MPC_OK) {
			mpc_store_close(s);
			goto out;
		}
		dt = now() - t0;
		printf("verify of %zu stored keysets (8 domains each): %.1f ms total, %.3f ms per "
		       "file, all_ok=%d\n",
		       vr.n, dt * 1e3, dt * 1e3 / (double)(vr.n ? vr.n : 1), vr.all_ok);
		mpc_store_verify_report_free(&vr);
		mpc_store_close(s);
	}
	rc = 0;
out:
	mpc_token_close(t);
	mpc_p11_ctx_free(ctx);
	th_softhsm_teardown(&h);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmp);
	return rc;
}
