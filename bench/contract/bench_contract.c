/* bench_contract.c: figures for the contract layer (prints, never asserts).
 *
 *   1. parse + derive time per read and peak jansson heap for the mainnet state (10
 *      participants, 2 domains) and a generated state of 1,000 participants and 100 domains;
 *   2. CPU and wall time of one quorum poll round (state + migration_info) over three fake-rpc
 *      processes on loopback, for both states.
 *
 * Usage: bench_contract [iterations]   (default 500)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "src/model/near_key.h"
#include "src/contract/quorum.h"
#include "src/contract/view.h"
#include "src/util/file.h"
#include "tests/fakes/rpc/fake_rpc_spawn.h"

#define OPERATOR "n1-multichain.near"

/* Jansson heap accounting (bench only): a size header in front of each block. */
static size_t g_cur, g_peak;

static void *count_malloc(size_t n)
{
	size_t *p = malloc(n + sizeof(size_t) * 2);

	if (p == NULL)
		return NULL;
	p[0] = n;
	g_cur += n;
	if (g_cur > g_peak)
		g_peak = g_cur;
	return p + 2;
}

static void count_free(void *q)
{
	size_t *p = q;

	if (p == NULL)
		return;
	g_cur -= p[-2];
	free(p - 2);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static long maxrss_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static char *slurp(const char *path, size_t *len)
{
	uint8_t *d = NULL;
	struct mpc_err e = { 0 };

	if (mpc_file_read(path, 256u << 20, 0, &d, len, &e) != MPC_OK) {
		fprintf(stderr, "bench: %s\n", e.msg);
		exit(1);
	}
	return (char *)d;
}

static void copy_into(const char *src, const char *dir, const char *name)
{
	char path[256];
	size_t len;
	char *d = slurp(src, &len);
	struct mpc_err e = { 0 };

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (mpc_file_write_atomic(path, (const uint8_t *)d, len, 0600, 0, &e) != MPC_OK) {
		fprintf(stderr, "bench: %s\n", e.msg);
		exit(1);
	}
	free(d);
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
	p[0] |= 1; /* no leading zero bytes: keeps base58 lengths canonical */
}

/* A Running state with n_parts participants and n_domains domains. */
static char *generate_state(size_t n_parts, size_t n_domains, size_t *len)
{
	json_t *doms = json_array(), *parts = json_array(), *root;
	char s[MPC_NEAR_KEY_STR_MAX], acct[64], url[128];
	uint8_t pk[64];
	char *text;

	for (size_t i = 0; i < n_domains; i++) {
		json_t *key;

		if (i % 2 == 0) {
			fill(pk, 64, (unsigned)i);
			mpc_near_key_format(MPC_CURVE_SECP256K1, pk, 64, s, NULL);
			key = json_pack("{s:{s:s}}", "Secp256k1", "near_public_key", s);
		} else {
			json_t *pt = json_array();

			fill(pk, 32, (unsigned)i);
			mpc_near_key_format(MPC_CURVE_ED25519, pk, 32, s, NULL);
			for (size_t b = 0; b < 32; b++)
				json_array_append_new(pt, json_integer(pk[b]));
			key = json_pack("{s:{s:s,s:o}}", "Ed25519", "near_public_key_compressed", s,
					"edwards_point", pt);
		}
		json_array_append_new(doms, json_pack("{s:I,s:o,s:I}", "domain_id", (json_int_t)i,
						      "key", key, "attempt", (json_int_t)(i * 3)));
	}
	for (size_t i = 0; i < n_parts; i++) {
		if (i == 0)
			snprintf(acct, sizeof(acct), "%s", OPERATOR);
		else
			snprintf(acct, sizeof(acct), "node-%zu.near", i);
		snprintf(url, sizeof(url), "https://mpc-%zu.example.org", i);
		fill(pk, 32, (unsigned)(1000 + i));
		mpc_near_key_format(MPC_CURVE_ED25519, pk, 32, s, NULL);
		json_array_append_new(parts, json_pack("[s,I,{s:s,s:s}]", acct, (json_int_t)i, "url",
						       url, "tls_public_key", s));
	}
	root = json_pack("{s:{s:{s:[],s:I},s:{s:I,s:o},s:{s:{s:I,s:o},s:I},s:{},s:{}}}",
			 "Running", "domains", "domains", "next_domain_id", (json_int_t)n_domains,
			 "keyset", "epoch_id", (json_int_t)9, "domains", doms, "parameters",
			 "participants", "next_id", (json_int_t)n_parts, "participants", parts,
			 "threshold", (json_int_t)(n_parts * 2 / 3 + 1), "parameters_votes",
			 "add_domains_votes");
	{
		char *t = json_dumps(root, JSON_COMPACT);

		text = strdup(t);
		count_free(t);
	}
	json_decref(root);
	*len = strlen(text);
	return text;
}

static void bench_parse(const char *label, const char *state, size_t slen, const char *mi,
			size_t mlen, int iters)
{
	struct mpc_contract_view v;
	struct mpc_err e = { 0 };
	double t0, t1;
	long rss0 = maxrss_kb();

	g_peak = g_cur = 0;
	if (mpc_contract_view_parse(state, slen, mi, mlen, OPERATOR, &v, &e) != MPC_OK) {
		fprintf(stderr, "bench: %s: %s\n", label, e.msg);
		exit(1);
	}
	mpc_contract_view_free(&v);
	t0 = now_s();
	for (int i = 0; i < iters; i++) {
		mpc_contract_view_parse(state, slen, mi, mlen, OPERATOR, &v, &e);
		mpc_contract_view_free(&v);
	}
	t1 = now_s();
	printf("parse+derive %-34s %8zu bytes  %9.1f us/read  peak jansson heap %8.1f KiB  "
	       "maxrss +%ld KiB\n",
	       label, slen, (t1 - t0) / iters * 1e6, (double)g_peak / 1024.0,
	       maxrss_kb() - rss0);
}

static void bench_poll(const char *label, const char *state_path, const char *mi_path,
		       int iters)
{
	struct mpc_fake_rpc f[3];
	char dirs[3][64];
	const char *urls[3];
	struct mpc_quorum *q = NULL;
	struct mpc_endpoint_outcome oc[3];
	struct mpc_contract_view v;
	struct mpc_err e = { 0 };
	double c0, c1, w0, w1;
	int ok = 0;

	for (int i = 0; i < 3; i++) {
		snprintf(dirs[i], sizeof(dirs[i]), "/tmp/bench-contract-XXXXXX");
		if (mkdtemp(dirs[i]) == NULL)
			exit(1);
		copy_into(state_path, dirs[i], "state.json");
		copy_into(mi_path, dirs[i], "migration_info.json");
		if (mpc_fake_rpc_start(&f[i], dirs[i], NULL, NULL) != 0)
			exit(1);
		urls[i] = f[i].url;
	}
	if (mpc_quorum_new(urls, 3, 0, NULL, &q, &e) != MPC_OK)
		exit(1);
	mpc_quorum_poll(q, OPERATOR, &v, oc, &e); /* warm up: connections */
	mpc_contract_view_free(&v);
	c0 = cpu_s();
	w0 = now_s();
	for (int i = 0; i < iters; i++) {
		mpc_err_clear(&e);
		ok += mpc_quorum_poll(q, OPERATOR, &v, oc, &e) == MPC_OK;
		mpc_contract_view_free(&v);
	}
	c1 = cpu_s();
	w1 = now_s();
	printf("poll round   %-34s 3 endpoints  %9.1f us CPU/poll  %9.1f us wall/poll  (%d/%d "
	       "agreed)\n",
	       label, (c1 - c0) / iters * 1e6, (w1 - w0) / iters * 1e6, ok, iters);
	mpc_quorum_free(q);
	for (int i = 0; i < 3; i++) {
		char p[512];

		mpc_fake_rpc_stop(&f[i]);
		snprintf(p, sizeof(p), "%s/state.json", dirs[i]);
		unlink(p);
		snprintf(p, sizeof(p), "%s/migration_info.json", dirs[i]);
		unlink(p);
		rmdir(dirs[i]);
	}
}

int main(int argc, char **argv)
{
	int iters = argc > 1 ? atoi(argv[1]) : 500;
	size_t mlen, slen, glen;
	char *mi, *state, *gen;
	char gen_path[] = "/tmp/bench-contract-gen-XXXXXX";
	int fd;

	if (iters <= 0)
		iters = 500;
	json_set_alloc_funcs(count_malloc, count_free);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	state = slurp(MPC_BENCH_NEAR_FIXTURES_DIR "/mainnet-contract-state.json", &slen);
	mi = slurp(MPC_BENCH_FIXTURES_DIR "/migration_info.json", &mlen);
	gen = generate_state(1000, 100, &glen);
	bench_parse("mainnet (10 participants, 2 domains)", state, slen, mi, mlen, iters);
	bench_parse("generated (1000 part., 100 domains)", gen, glen, mi, mlen, iters / 10 + 1);
	fd = mkstemp(gen_path);
	if (fd < 0 || write(fd, gen, glen) != (ssize_t)glen)
		return 1;
	close(fd);
	bench_poll("mainnet (10 participants, 2 domains)",
		   MPC_BENCH_NEAR_FIXTURES_DIR "/mainnet-contract-state.json",
		   MPC_BENCH_FIXTURES_DIR "/migration_info.json", iters / 5 + 1);
	bench_poll("generated (1000 part., 100 domains)", gen_path,
		   MPC_BENCH_FIXTURES_DIR "/migration_info.json", iters / 50 + 1);
	unlink(gen_path);
	printf("peak RSS of the whole run: %ld KiB\n", maxrss_kb());
	free(state);
	free(mi);
	free(gen);
	curl_global_cleanup();
	return 0;
}
