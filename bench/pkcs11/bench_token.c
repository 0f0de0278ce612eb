/* bench_token.c: the token layer's costs on SoftHSM2, printed as figures (no assertions):
 * seal/unseal latency and throughput for 1 KiB, 64 KiB and 1 MiB next to the floor (a bare
 * C_EncryptInit+C_Encrypt / C_DecryptInit+C_Decrypt loop with the same key in the same run),
 * the key ceremony (`token init`) and one Ed25519 sign.
 * Run: MPC_SOURCE_DIR=<repo> build/bench/pkcs11/bench_token */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pkcs11/ed25519.h"
#include "pkcs11/internal.h"
#include "pkcs11/keys.h"
#include "pkcs11/module.h"
#include "pkcs11/seal.h"
#include "src/util/mem.h"
#include "tests/support/softhsm.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	return v[n / 2];
}

#define MAXIT 4000

static int iterations(size_t n)
{
	return n <= 1024 ? 4000 : n <= 65536 ? 1000 : 100;
}

/* The floor: GCM through the same key, fixed IV, no blob framing, no RNG. */
static double floor_op(struct mpc_token *t, int decrypt, const uint8_t *in, size_t n, uint8_t *out)
{
	uint8_t iv[12] = { 0 };
	CK_GCM_PARAMS p = { iv, 12, 96, NULL, 0, 128 };
	CK_MECHANISM m = { CKM_AES_GCM, &p, sizeof(p) };
	CK_OBJECT_HANDLE k;
	CK_ULONG ol = n + 16;
	double t0;

	mpc_key_get(t, MPC_KEY_SEAL_GCM, &k, NULL);
	t0 = now();
	if (decrypt) {
		t->fn->C_DecryptInit(t->session, &m, k);
		t->fn->C_Decrypt(t->session, (CK_BYTE_PTR)in, n + 16, out, &ol);
	} else {
		t->fn->C_EncryptInit(t->session, &m, k);
		t->fn->C_Encrypt(t->session, (CK_BYTE_PTR)in, n, out, &ol);
	}
	return now() - t0;
}

static void bench_size(struct mpc_token *t, enum mpc_seal_mech mech, size_t n, int alloc)
{
	static double ts[MAXIT], tu[MAXIT], tfe[MAXIT], tfd[MAXIT];
	uint8_t *pt = calloc(1, n + 1), *ct = malloc(n + 64), *back = malloc(n + 64);
	uint8_t *blob = NULL, *opened = NULL;
	uint8_t *blob_buf = malloc(mpc_seal_size(n)), *open_buf = mpc_secure_alloc(mpc_seal_size(n), NULL);
	size_t blob_len, opened_len;
	int it = iterations(n);
	struct mpc_err e = { 0 };

	/* a floor ciphertext to decrypt */
	floor_op(t, 0, pt, n, ct);
	for (int i = 0; i < it; i++) {
		double t0 = now();

		int rc = alloc ? mpc_seal(t, mech, (const uint8_t *)"aad", 3, pt, n, &blob, &blob_len, &e)
			       : mpc_seal_to(t, mech, (const uint8_t *)"aad", 3, pt, n, blob_buf,
					     mpc_seal_size(n), &blob_len, &e);

		if (rc != MPC_OK) {
			fprintf(stderr, "seal: %s\n", e.msg);
			exit(1);
		}
		ts[i] = now() - t0;
		t0 = now();
		rc = alloc ? mpc_unseal(t, (const uint8_t *)"aad", 3, blob, blob_len, &opened, &opened_len, &e)
			   : mpc_unseal_to(t, (const uint8_t *)"aad", 3, blob_buf, blob_len, open_buf,
					   mpc_seal_size(n), &opened_len, &e);
		if (rc != MPC_OK) {
			fprintf(stderr, "unseal: %s\n", e.msg);
			exit(1);
		}
		tu[i] = now() - t0;
		if (alloc) {
			mpc_secure_free(opened);
			free(blob);
		}
		if (mech == MPC_SEAL_AES_GCM) {
			tfe[i] = floor_op(t, 0, pt, n, back);
			tfd[i] = floor_op(t, 1, ct, n, back);
		}
	}
	{
		double ms = median(ts, it), mu = median(tu, it);
		double mb = (double)n / 1048576.0;

		printf("%-24s %s %8zu B  seal %9.1f us (%7.1f MiB/s)  unseal %9.1f us (%7.1f MiB/s)", mpc_seal_mech_name(mech), alloc ? "alloc " : "buffer", n,
		       ms * 1e6, mb / ms, mu * 1e6, mb / mu);
		if (mech == MPC_SEAL_AES_GCM) {
			double fe = median(tfe, it), fd = median(tfd, it);

			printf("  floor enc %9.1f us dec %9.1f us  overhead %+5.1f%% / %+5.1f%%", fe * 1e6, fd * 1e6,
			       (ms / fe - 1) * 100, (mu / fd - 1) * 100);
		}
		printf("   [median of %d]\n", it);
	}
	free(pt);
	free(ct);
	free(back);
	free(blob_buf);
	mpc_secure_free(open_buf);
}

int main(void)
{
	struct th_softhsm hsm;
	struct mpc_p11_ctx *ctx = NULL;
	struct mpc_token *t = NULL;
	struct mpc_ceremony_report rep;
	struct mpc_err e = { 0 };
	const size_t sizes[] = { 1024, 65536, 1048576 };
	double tinit[5], tsign[2000];
	uint8_t sig[64];

	for (int i = 0; i < 5; i++) {
		char label[32];

		snprintf(label, sizeof(label), "bench%d", i);
		if (th_softhsm_setup(&hsm, label, NULL) != 0 || mpc_p11_ctx_new(&ctx, &e) != MPC_OK ||
		    mpc_token_open(ctx, hsm.uri, NULL, &t, &e) != MPC_OK) {
			fprintf(stderr, "setup: %s\n", e.msg);
			return 1;
		}
		{
			double t0 = now();

			if (mpc_key_ceremony(t, MPC_CEREMONY_SEAL | MPC_CEREMONY_TLS, &rep, &e) != MPC_OK) {
				fprintf(stderr, "ceremony: %s\n", e.msg);
				return 1;
			}
			tinit[i] = now() - t0;
		}
		if (i < 4) {
			mpc_token_close(t);
			mpc_p11_ctx_free(ctx);
			th_softhsm_teardown(&hsm);
		}
	}
	printf("token init (key ceremony, 5 keys, SoftHSM2): median %.1f ms of 5\n", median(tinit, 5) * 1e3);
	for (int i = 0; i < 2000; i++) {
		double t0 = now();

		mpc_ed25519_sign(t, (const uint8_t *)"handshake transcript hash.......", 32, sig, &e);
		tsign[i] = now() - t0;
	}
	printf("Ed25519 sign in the token (CKM_EDDSA): median %.1f us of 2000\n", median(tsign, 2000) * 1e6);
	printf("'buffer' rows reuse caller buffers (mpc_seal_to/mpc_unseal_to); 'alloc' rows include a fresh\n"
	       "malloc for the blob and a fresh mlock()ed mapping for the plaintext on every call.\n");
	for (int alloc = 0; alloc < 2; alloc++)
		for (size_t i = 0; i < 3; i++)
			bench_size(t, MPC_SEAL_AES_GCM, sizes[i], alloc);
	for (size_t i = 0; i < 3; i++)
		bench_size(t, MPC_SEAL_AES_CBC_HMAC, sizes[i], 0);
	mpc_token_close(t);
	mpc_p11_ctx_free(ctx);
	th_softhsm_teardown(&hsm);
	return 0;
}
