/* bench_monitor.c: what the monitor costs, measured on a real `mpc-backup run` process
 * (SoftHSM2 token, fake-rpc, fake-node on loopback). Prints figures; no assertions.
 *  1. CPU time (user+sys) per poll and peak RSS over 1,000 polls (in all, and in the steady
 *     state after the first backup, read from /proc) (poll interval 0.05 s, the minimum) of (a) a mainnet-sized state
 *     (10 participants, 2 domains) and (b) a 1,000-participant, 100-domain state, the keyset
 *     already covered (each poll: two views from one endpoint, parse, derive, coverage check).
 *  2. Latency from a new keyset appearing on the fake RPC to its sealed file being durable in
 *     the store, against the floor: half a poll interval on average + one backup (handshake,
 *     token ops, fsyncs) measured by the monitor itself.
 * Run: MPC_SOURCE_DIR=<repo> build/bench/monitor/bench_monitor */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "src/util/encoding.h"
#include "tests/fakes/rpc/fake_rpc_spawn.h"
#include "tests/node/node_harness.h"
#include "tests/support/softhsm.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void put(const char *dir, const char *name, const char *text)
{
	char tmp[600], path[600];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(tmp, "w");
	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
		perror("bench_monitor: write timeline");
		exit(1);
	}
}

/* A Running state: `n_domains` Ed25519 domains (synthetic keys, epoch `epoch`), `n_parts`
 * participants, op.near's node = `node_key`. Also writes the keyshares JSON for the keyset. */
static char *make_state(uint64_t epoch, size_t n_domains, size_t n_parts, const char *node_key,
			char **keyshares)
{
	json_t *domains = json_array(), *parts = json_array(), *shares = json_array(), *st;
	char *out;

	for (size_t i = 0; i < n_domains; i++) {
		uint8_t pk[32];
		char b58[64], hex[65], near[80];
		json_t *pt = json_array();

		for (int k = 0; k < 32; k++)
			pk[k] = (uint8_t)(i * 31 + (size_t)k * 7 + 1);
		mpc_base58_encode(pk, 32, b58, sizeof(b58), NULL);
		mpc_hex_encode(pk, 32, hex, sizeof(hex), NULL);
		snprintf(near, sizeof(near), "ed25519:%s", b58);
		for (int k = 0; k < 32; k++)
			json_array_append_new(pt, json_integer(pk[k]));
		json_array_append_new(domains,
				      json_pack("{s:I, s:{s:{s:s, s:o}}, s:I}", "domain_id",
						(json_int_t)i, "key", "Ed25519",
						"near_public_key_compressed", near, "edwards_point",
						pt, "attempt", (json_int_t)(i % 3)));
		json_array_append_new(
			shares,
			json_pack(
				"{s:{s:I, s:I, s:I}, s:{s:{s:s, s:s}}}", "key_id", "epoch_id",
				(json_int_t)epoch, "domain_id", (json_int_t)i, "attempt_id",
				(json_int_t)(i % 3), "data", "Ed25519", "private_share",
				"4868e82fde014d20fa7316500332a9cad79dee5c7aac79b82e69019da9b1790b",
				"public_key", hex));
	}
	for (size_t i = 0; i < n_parts; i++) {
		char acct[64], url[80];

		snprintf(acct, sizeof(acct), i == 0 ? "op.near" : "peer-%zu.near", i);
		snprintf(url, sizeof(url), "https://node-%zu.example", i);
		json_array_append_new(
			parts,
			json_pack("[s, I, {s:s, s:s}]", acct, (json_int_t)i, "url", url,
				  "tls_public_key",
				  i == 0 ? node_key
					 : "ed25519:2XPuwqhg71RXRiTUMKGapd8FYWgXnxVvydYBK9tS1ex2"));
	}
	st = json_pack("{s:{s:{s:[], s:I}, s:{s:I, s:o}, s:{s:{s:I, s:o}, s:I}}}", "Running",
		       "domains", "domains", "next_domain_id", (json_int_t)n_domains, "keyset",
		       "epoch_id", (json_int_t)epoch, "domains", domains, "parameters",
		       "participants", "next_id", (json_int_t)n_parts, "participants", parts,
		       "threshold", (json_int_t)2);
	out = json_dumps(st, JSON_COMPACT);
	*keyshares = json_dumps(shares, JSON_COMPACT);
	json_decref(st);
	json_decref(shares);
	return out;
}

static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		n += strncmp(de->d_name, "keyset-", 7) == 0;
	closedir(d);
	return n;
}

struct run {
	pid_t pid;
	char log[600];
};

static void start_run(struct run *r, const char *work, const char *token_uri, const char *rpc_url,
		      const char *conf, const char *poll)
{
	char store[600];

	snprintf(store, sizeof(store), "%s/store", work);
	fflush(NULL);
	snprintf(r->log, sizeof(r->log), "%s/run.log", work);
	r->pid = fork();
	if (r->pid == 0) {
		FILE *f = freopen(r->log, "a", stderr);

		(void)f;
		execl(MPC_BACKUP_PATH, "mpc-backup", "run", "--token", token_uri, "--store", store,
		      "--rpc-url", rpc_url, "--account", "op.near", "--poll-interval", poll,
		      "--config", conf, (char *)NULL);
		_exit(127);
	}
}

/* Wait a little; if the monitor died, show its log and stop. */
static void alive_or_die(struct run *r)
{
	int st;
	char cmd[700];

	usleep(2000);
	if (waitpid(r->pid, &st, WNOHANG) == r->pid) {
		snprintf(cmd, sizeof(cmd), "tail -n 5 '%s' >&2", r->log);
		if (system(cmd) != 0)
			fprintf(stderr, "bench_monitor: cannot show %s\n", r->log);
		fprintf(stderr, "bench_monitor: mpc-backup run exited\n");
		exit(1);
	}
}

static void stop_run(struct run *r, struct rusage *ru)
{
	int st;

	kill(r->pid, SIGTERM);
	wait4(r->pid, &st, 0, ru);
}

/* CPU seconds (user + system) a running process has used so far, from /proc (clock ticks). */
static double proc_cpu(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* fields after the command name: state is field 3 */
	if (p == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double cpu(const struct rusage *ru)
{
	return (double)ru->ru_utime.tv_sec + (double)ru->ru_utime.tv_usec / 1e6 +
	       (double)ru->ru_stime.tv_sec + (double)ru->ru_stime.tv_usec / 1e6;
}

/* Keyshares of epochs first..last in one array, so the node serves every epoch the timeline
 * will name. */
static char *all_epochs(uint64_t first, uint64_t last, size_t n_domains, size_t n_parts)
{
	size_t cap = 64, len = 1;
	char *all = malloc(cap);

	all[0] = '[';
	for (uint64_t e = first; e <= last; e++) {
		char *ks = NULL, *st = make_state(e, n_domains, n_parts, "x", &ks);
		size_t l = strlen(ks) - 2; /* without the brackets */

		while (len + l + 3 > cap)
			all = realloc(all, cap *= 2);
		if (len > 1)
			all[len++] = ',';
		memcpy(all + len, ks + 1, l);
		len += l;
		free(ks);
		free(st);
	}
	all[len++] = ']';
	all[len] = '\0';
	return all;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(void)
{
	struct th_softhsm hsm;
	struct mpc_fake_rpc rpc;
	char work[64], tl[600], conf[600], rpclog[600], store[600], key[80], ksfile[512];
	char out[4096], cmd[1024], line[256];
	static const struct {
		size_t domains, parts;
		const char *name;
	} sizes[] = {
		{ 2, 10, "mainnet-sized (10 participants, 2 domains)" },
		{ 100, 1000, "1,000 participants, 100 domains" },
	};

	setenv("MPC_BACKUP_TRANSPORT_KEY_HEX", NH_TRANSPORT_KEY_HEX, 1);
	if (nh_tmpdir(work, sizeof(work)) != 0 || th_softhsm_setup(&hsm, "mpc-backup", NULL) != 0)
		return 1;
	snprintf(cmd, sizeof(cmd), "'%s' token init --token '%s'", MPC_BACKUP_PATH, hsm.uri);
	if (th_run(cmd, out, sizeof(out)) != 0 || strstr(out, "TLS public key: ") == NULL) {
		fprintf(stderr, "bench_monitor: token init: %s\n", out);
		return 1;
	}
	sscanf(strstr(out, "TLS public key: ") + 16, "%79s", key);
	snprintf(tl, sizeof(tl), "%s/timeline", work);
	mkdir(tl, 0700);
	snprintf(rpclog, sizeof(rpclog), "%s/rpc.log", work);
	snprintf(conf, sizeof(conf), "%s/run.conf", work);
	snprintf(store, sizeof(store), "%s/store", work);
	printf("monitor benchmark: one `mpc-backup run` process, SoftHSM2, fake-rpc and fake-node on loopback\n");
	for (size_t s = 0; s < 2; s++) {
		struct nh_node node = { .out_fd = -1 };
		struct run r;
		struct rusage ru;
		char *state, *ks = NULL, *all = all_epochs(4, 13, sizes[s].domains, sizes[s].parts);
		const char *args[] = { "--client-key", key, "--keyshares", ksfile, NULL };
		double lat[9], t0, wall, backup_s = 0, steady0, steady;
		int base, polls;

		nh_write_file(work, "keyshares.json", all, ksfile);
		free(all);
		if (nh_start(&node, args) != 0)
			return 1;
		state = make_state(4, sizes[s].domains, sizes[s].parts, node.key_str, &ks);
		put(tl, "state.json", state);
		free(state);
		free(ks);
		snprintf(line, sizeof(line), "{\"op.near\":[{\"public_key\":\"%s\"},null]}", key);
		put(tl, "migration_info.json", line);
		snprintf(out, sizeof(out), "address.key.%s = 127.0.0.1:%u\n", node.key_str,
			 node.port);
		put(work, "run.conf", out);
		if (mpc_fake_rpc_start(&rpc, tl, NULL, rpclog) != 0)
			return 1;
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", store);
		if (system(cmd) != 0)
			return 1;

		/* 1. 1,000 polls of a covered keyset, as fast as the monitor goes. */
		start_run(&r, work, hsm.uri, rpc.url, conf, "0.05");
		while (count_files(store) == 0)
			alive_or_die(&r);
		base = mpc_fake_rpc_count(rpclog, "method=state");
		steady0 = proc_cpu(r.pid);
		t0 = now();
		while (mpc_fake_rpc_count(rpclog, "method=state") < base + 1000)
			alive_or_die(&r);
		wall = now() - t0;
		polls = mpc_fake_rpc_count(rpclog, "method=state") - base;
		steady = proc_cpu(r.pid) - steady0;
		stop_run(&r, &ru);
		printf("%-44s %d polls in %.2f s: process CPU %.3f s in all = %.0f us/poll (start-up and the\n"
		       "%44s first backup included), peak RSS %ld KiB; steady state (after the first\n"
		       "%44s backup): %.0f us/poll\n",
		       sizes[s].name, polls, wall, cpu(&ru), cpu(&ru) / polls * 1e6, "",
		       ru.ru_maxrss, "", steady / polls * 1e6);

		/* 2. New keyset -> durable sealed file, at a 0.5 s poll interval. */
		start_run(&r, work, hsm.uri, rpc.url, conf, "0.5");
		sleep(1);
		for (int k = 0; k < 9; k++) {
			int have = count_files(store);

			state = make_state((uint64_t)(5 + k), sizes[s].domains, sizes[s].parts,
					   node.key_str, &ks);
			/* a random phase against the poll clock, as a real keyset change has */
			usleep((useconds_t)(random() % 500000));
			t0 = now();
			put(tl, "state.json", state);
			while (count_files(store) == have)
				alive_or_die(&r);
			lat[k] = now() - t0;
			free(state);
			free(ks);
		}
		stop_run(&r, &ru);
		/* the monitor logs each backup's own cost: node (handshake+request), token, disk */
		{
			char grep[900];
			FILE *p;

			snprintf(
				grep, sizeof(grep),
				"grep -o 'node [0-9.]* ms, token [0-9.]* ms, disk [0-9.]* ms' '%s' | tail -n 9",
				r.log);
			p = popen(grep, "r");
			while (p != NULL && fgets(line, sizeof(line), p) != NULL) {
				double a, b, c;

				if (sscanf(line, "node %lf ms, token %lf ms, disk %lf ms", &a, &b,
					   &c) == 3)
					backup_s += (a + b + c) / 9e3;
			}
			if (p != NULL)
				pclose(p);
		}
		qsort(lat, 9, sizeof(lat[0]), cmp_d);
		printf("%-44s new keyset -> sealed file durable: median %.0f ms (min %.0f, max %.0f) of 9;\n"
		       "%44s floor = poll interval/2 (250 ms average wait) + one backup (%.1f ms) = %.0f ms\n",
		       sizes[s].name, lat[4] * 1e3, lat[0] * 1e3, lat[8] * 1e3, "", backup_s * 1e3,
		       (0.25 + backup_s) * 1e3);
		mpc_fake_rpc_stop(&rpc);
		nh_stop(&node);
		unlink(r.log);
	}
	th_softhsm_teardown(&hsm);
	nh_rmdir(work);
	return 0;
}
