/* scen.c: the scenario harness for `mpc-backup run` (see scen.h). */
#include "tests/monitor/scen.h"
#include "src/util/file.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "src/model/keyset.h"
#include "src/util/encoding.h"

/* The fixture keys (tests/monitor/fixtures/README.md) and the .snap keyshares of epoch 4. */
#define SECP_NEAR_KEY \
	"4Q9aK3YhZAugWM3vJrePc5CAxL81yEXzkcT5zqSscURArmybYWJyDLhJ6vijgdDr6PfCcc3dgCvG2fgdoTtFfM7i"
#define SECP_SEC1     "03aa034760c5846f61bd047a4edd088a2b32bee7473a1163926fcc4b27ebc916f0"
#define ED_HEX        "e291381fe6d842f30412315cb431acdc18a02cbad062165e863f1a060e2ba4b4"
#define SECP_SHARE_E4 "add8bea105e6085a3f9d4ee613834280ae277e9516a6d08ba8a1fa88d7ce6225"
#define ED_SHARE_E4   "4868e82fde014d20fa7316500332a9cad79dee5c7aac79b82e69019da9b1790b"

double sc_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void sc_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int sc_count(const char *text, const char *needle)
{
	size_t nl = strlen(needle);
	int n = 0;

	if (text == NULL || nl == 0)
		return 0;
	for (const char *p = strstr(text, needle); p != NULL; p = strstr(p + nl, needle))
		n++;
	return n;
}

char *sc_read_file(const char *path, size_t *len)
{
	uint8_t *buf = NULL;
	size_t n = 0;

	/* test files are small: 64 MiB is a generous bound */
	if (mpc_file_read(path, (size_t)64 << 20, 0, &buf, &n, NULL) != MPC_OK)
		return NULL;
	if (len != NULL)
		*len = n;
	return (char *)buf;
}

static const char *bin_dir(void)
{
	const char *b = getenv("MPC_BINARY_DIR");

	return b != NULL ? b : ".";
}

static void mpc_backup_path(char *out, size_t cap)
{
	snprintf(out, cap, "%s/src/cli/mpc-backup", bin_dir());
}

/* fork + exec with the child killed when this process dies (even by SIGKILL or a ctest
 * timeout), so no fake or monitor outlives its test. */
static pid_t spawn(const char *const *argv, int out_fd, int err_fd)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	if (out_fd >= 0 && out_fd != 1)
		dup2(out_fd, 1);
	if (err_fd >= 0 && err_fd != 2)
		dup2(err_fd, 2);
	execv(argv[0], (char *const *)argv);
	_exit(127);
}

static int write_atomic(const char *path, const char *text)
{
	char tmp[600];
	FILE *f;
	size_t n = strlen(text);

	snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
	f = fopen(tmp, "w");
	if (f == NULL)
		return -1;
	if (fwrite(text, 1, n, f) != n) {
		fclose(f);
		unlink(tmp);
		return -1;
	}
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int key_string(const uint8_t pub[32], char out[64])
{
	char buf[MPC_ED25519_KEY_STR_MAX];

	if (mpc_ed25519_key_format(pub, buf, NULL) != MPC_OK)
		return -1;
	snprintf(out, 64, "%s", buf);
	return 0;
}

/* A fresh Ed25519 identity written as PEM; its "ed25519:" key string. */
static int make_identity(const char *pem_path, uint8_t pub[32], char key[64])
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	size_t n = 32;
	FILE *f;
	int ok;

	if (k == NULL)
		return -1;
	f = fopen(pem_path, "w");
	ok = f != NULL && PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1;
	if (f != NULL && fclose(f) != 0)
		ok = 0;
	ok = ok && EVP_PKEY_get_raw_public_key(k, pub, &n) == 1 && n == 32;
	EVP_PKEY_free(k);
	return ok && key_string(pub, key) == 0 ? 0 : -1;
}

int sc_setup(struct sc **out)
{
	struct sc *s = calloc(1, sizeof(*s));
	char cmd[2048], bin[512], res[4096], path[300];
	const char *p;
	uint8_t other[32];

	*out = NULL;
	if (s == NULL)
		return -1;
	for (int i = 0; i < SC_MAX_NODES; i++)
		s->nodes[i].nh.out_fd = -1;
	snprintf(s->dir, sizeof(s->dir), "/tmp/mpc-mon-XXXXXX");
	if (mkdtemp(s->dir) == NULL)
		goto fail;
	if (th_softhsm_setup(&s->th, "mpc-backup", NULL) != 0)
		goto fail;
	setenv("MPC_BACKUP_TRANSPORT_KEY_HEX", NH_TRANSPORT_KEY_HEX, 1);
	snprintf(s->store, sizeof(s->store), "%s/store", s->dir);
	snprintf(s->config, sizeof(s->config), "%s/run.conf", s->dir);
	snprintf(s->runlog, sizeof(s->runlog), "%s/run.log", s->dir);
	mpc_backup_path(bin, sizeof(bin));
	snprintf(cmd, sizeof(cmd), "'%s' token init --token '%s'", bin, s->th.uri);
	if (th_run(cmd, res, sizeof(res)) != 0) {
		printf("token init failed: %s\n", res);
		goto fail;
	}
	p = strstr(res, "TLS public key: ");
	if (p == NULL || sscanf(p + 16, "%63s", s->our_key) != 1 ||
	    mpc_ed25519_key_parse(s->our_key, s->our_pub, "our key", NULL) != MPC_OK) {
		printf("token init printed no TLS public key: %s\n", res);
		goto fail;
	}
	for (int i = 0; i < SC_MAX_NODES; i++) {
		struct sc_node *n = &s->nodes[i];

		snprintf(n->key_file, sizeof(n->key_file), "%s/node%d.pem", s->dir, i);
		snprintf(n->received, sizeof(n->received), "%s/node%d-received.json", s->dir, i);
		snprintf(n->keyshares, sizeof(n->keyshares), "%s/node%d-keyshares.json", s->dir, i);
		if (make_identity(n->key_file, n->pub, n->key) != 0)
			goto fail;
	}
	snprintf(path, sizeof(path), "%s/other.pem", s->dir);
	if (make_identity(path, other, s->other_key) != 0)
		goto fail;
	*out = s;
	return 0;
fail:
	sc_teardown(s);
	return -1;
}

void sc_teardown(struct sc *s)
{
	if (s == NULL)
		return;
	if (getenv("SC_DUMP") != NULL) /* SC_DUMP=1: show every test's logs */
		sc_dump(s);
	if (s->run_pid > 0) {
		kill(s->run_pid, SIGKILL);
		waitpid(s->run_pid, NULL, 0);
		s->run_pid = 0;
	}
	for (int i = 0; i < SC_MAX_NODES; i++)
		sc_node_stop(s, i);
	for (size_t k = 0; k < SC_MAX_RPC; k++)
		mpc_fake_rpc_stop(&s->rpc[k]);
	th_softhsm_teardown(&s->th); /* also after a half-done setup (it checks its dir) */
	if (strncmp(s->dir, "/tmp/mpc-mon-", 13) == 0 && strchr(s->dir, '\'') == NULL) {
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
		if (system(cmd) != 0)
			printf("could not remove %s\n", s->dir);
	}
	free(s);
}

/* ---- fake nodes ---- */

static void count_event(struct sc_node *n, const char *line, size_t len)
{
	if (n->events_len + len + 2 < sizeof(n->events)) {
		memcpy(n->events + n->events_len, line, len);
		n->events_len += len;
		n->events[n->events_len++] = '\n';
		n->events[n->events_len] = '\0';
	}
	if (len >= 4 && memcmp(line, "GET ", 4) == 0)
		n->gets++;
	else if (len >= 4 && memcmp(line, "SET ", 4) == 0)
		n->sets++;
	else if (len >= 7 && memcmp(line, "REFUSED", 7) == 0)
		n->refused++;
	else if (len >= 8 && memcmp(line, "ACCEPTED", 8) == 0)
		n->accepted++;
	else if (len >= 7 && memcmp(line, "CLOSED ", 7) == 0)
		n->closed++;
}

void sc_node_pump(struct sc *s, int i)
{
	struct sc_node *n = &s->nodes[i];

	if (!n->running || n->nh.out_fd < 0)
		return;
	for (;;) {
		struct pollfd pfd = { .fd = n->nh.out_fd, .events = POLLIN };
		char *nl;
		ssize_t r;

		while ((nl = memchr(n->nh.buf, '\n', n->nh.buf_len)) != NULL) {
			size_t l = (size_t)(nl - n->nh.buf);

			count_event(n, n->nh.buf, l);
			memmove(n->nh.buf, nl + 1, n->nh.buf_len - l - 1);
			n->nh.buf_len -= l + 1;
		}
		if (n->nh.buf_len == sizeof(n->nh.buf))
			n->nh.buf_len = 0; /* an absurd line: drop it */
		if (poll(&pfd, 1, 0) <= 0)
			return;
		r = read(n->nh.out_fd, n->nh.buf + n->nh.buf_len,
			 sizeof(n->nh.buf) - n->nh.buf_len);
		if (r <= 0)
			return;
		n->nh.buf_len += (size_t)r;
	}
}

int sc_node_reserve_port(struct sc *s, int i)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) != 0) {
		close(fd);
		return -1;
	}
	s->nodes[i].port = ntohs(a.sin_port);
	close(fd);
	return 0;
}

int sc_node_start(struct sc *s, int i, const char *keyshares, const char *client_key,
		  const char *fault)
{
	struct sc_node *n = &s->nodes[i];
	const char *argv[24];
	char port[16], line[128];
	int pfd[2], k = 0;

	if (n->running)
		sc_node_stop(s, i);
	if (keyshares != NULL && write_atomic(n->keyshares, keyshares) != 0)
		return -1;
	snprintf(port, sizeof(port), "%u", n->port);
	argv[k++] = FAKE_NODE_PATH;
	argv[k++] = "--port";
	argv[k++] = port;
	argv[k++] = "--key-file";
	argv[k++] = n->key_file;
	argv[k++] = "--client-key";
	argv[k++] = client_key != NULL ? client_key : s->our_key;
	argv[k++] = "--received";
	argv[k++] = n->received;
	if (keyshares != NULL) {
		argv[k++] = "--keyshares";
		argv[k++] = n->keyshares;
	}
	if (fault != NULL) {
		argv[k++] = "--fault";
		argv[k++] = fault;
	}
	argv[k] = NULL;
	if (pipe2(pfd, O_CLOEXEC) != 0)
		return -1;
	memset(&n->nh, 0, sizeof(n->nh));
	n->nh.out_fd = -1;
	setenv("MPC_BACKUP_ENCRYPTION_KEY_HEX", NH_TRANSPORT_KEY_HEX, 1);
	n->nh.pid = spawn(argv, pfd[1], -1);
	close(pfd[1]);
	if (n->nh.pid < 0) {
		close(pfd[0]);
		return -1;
	}
	n->nh.out_fd = pfd[0];
	n->running = 1;
	if (nh_wait_line(&n->nh, "PORT ", 10000, line, sizeof(line)) != 0)
		goto fail;
	n->nh.port = (unsigned)atoi(line + 5);
	if (nh_wait_line(&n->nh, "KEY ", 10000, line, sizeof(line)) != 0)
		goto fail;
	if (strcmp(line + 4, n->key) != 0) {
		printf("fake-node %d advertises %s, expected %s\n", i, line + 4, n->key);
		goto fail;
	}
	if (n->port != 0 && n->port != n->nh.port)
		goto fail;
	n->port = n->nh.port;
	return 0;
fail:
	printf("fake-node %d did not start\n", i);
	sc_node_stop(s, i);
	return -1;
}

void sc_node_stop(struct sc *s, int i)
{
	struct sc_node *n = &s->nodes[i];

	if (!n->running)
		return;
	sc_node_pump(s, i);
	if (n->nh.pid > 0) {
		kill(n->nh.pid, SIGKILL);
		waitpid(n->nh.pid, NULL, 0);
		n->nh.pid = 0;
	}
	if (n->nh.out_fd >= 0)
		close(n->nh.out_fd);
	n->nh.out_fd = -1;
	n->running = 0;
}

int sc_node_wait(struct sc *s, int i, const int *field, int n, double timeout_s)
{
	double deadline = sc_now() + timeout_s;

	for (;;) {
		sc_node_pump(s, i);
		if (*field >= n)
			return 0;
		if (sc_now() > deadline)
			break;
		sc_sleep_ms(SC_POLL_MS);
	}
	printf("node %d: waited %.0f s for a count of %d, have %d; events:\n%s\n", i, timeout_s, n,
	       *field, s->nodes[i].events);
	sc_dump(s);
	return -1;
}

/* ---- fake RPC ---- */

int sc_rpc_start(struct sc *s, size_t n, const char *url_suffix)
{
	for (size_t k = 0; k < n && k < SC_MAX_RPC; k++) {
		const char *argv[8];
		char line[64];
		size_t got = 0;
		int pfd[2], logfd;

		snprintf(s->tl[k], sizeof(s->tl[k]), "%s/rpc%zu", s->dir, k);
		snprintf(s->rpclog[k], sizeof(s->rpclog[k]), "%s/rpc%zu.log", s->dir, k);
		if (mkdir(s->tl[k], 0700) != 0 && errno != EEXIST)
			return -1;
		argv[0] = MPC_FAKE_RPC_PATH;
		argv[1] = "--dir";
		argv[2] = s->tl[k];
		argv[3] = "--fault";
		argv[4] = "none";
		argv[5] = NULL;
		logfd = open(s->rpclog[k], O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
			     0600);
		if (logfd < 0 || pipe2(pfd, O_CLOEXEC) != 0) {
			if (logfd >= 0)
				close(logfd);
			return -1;
		}
		s->rpc[k].pid = spawn(argv, pfd[1], logfd);
		close(pfd[1]);
		close(logfd);
		while (got + 1 < sizeof(line)) {
			struct pollfd p = { .fd = pfd[0], .events = POLLIN };

			if (poll(&p, 1, 10000) <= 0 || read(pfd[0], line + got, 1) != 1 ||
			    line[got] == '\n')
				break;
			got++;
		}
		line[got] = '\0';
		close(pfd[0]);
		s->n_rpc = k + 1;
		if (s->rpc[k].pid < 0 || sscanf(line, "PORT %u", &s->rpc[k].port) != 1) {
			printf("fake-rpc %zu did not start (\"%s\")\n", k, line);
			return -1;
		}
		snprintf(s->rpc[k].url, sizeof(s->rpc[k].url), "http://127.0.0.1:%u",
			 s->rpc[k].port);
		snprintf(s->rpc_url[k], sizeof(s->rpc_url[k]), "%s%s", s->rpc[k].url,
			 url_suffix != NULL ? url_suffix : "");
	}
	return 0;
}

int sc_timeline_text(struct sc *s, int k, const char *name, const char *text)
{
	for (size_t i = 0; i < s->n_rpc; i++) {
		char path[600];

		if (k >= 0 && (size_t)k != i)
			continue;
		snprintf(path, sizeof(path), "%s/%s", s->tl[i], name);
		if (write_atomic(path, text) != 0)
			return -1;
	}
	return 0;
}

int sc_timeline(struct sc *s, int k, const char *name, const json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	int rc;

	if (text == NULL)
		return -1;
	rc = sc_timeline_text(s, k, name, text);
	free(text);
	return rc;
}

int sc_rpc_state_reads(struct sc *s, int k)
{
	return mpc_fake_rpc_count(s->rpclog[k], "method=state");
}

int sc_wait_polls(struct sc *s, int k, int n, double timeout_s)
{
	int target = sc_rpc_state_reads(s, k) + n;
	double deadline = sc_now() + timeout_s;

	while (sc_rpc_state_reads(s, k) < target) {
		if (sc_now() > deadline) {
			printf("waited %.0f s for %d polls\n", timeout_s, n);
			sc_dump(s);
			return -1;
		}
		for (int i = 0; i < SC_MAX_NODES; i++)
			sc_node_pump(s, i);
		sc_sleep_ms(SC_POLL_MS);
	}
	return 0;
}

/* ---- contract JSON ---- */

/* Fixed keys of the two other participants (never contacted). */
#define OTHER1_KEY "ed25519:2XPuwqhg71RXRiTUMKGapd8FYWgXnxVvydYBK9tS1ex2"
#define OTHER2_KEY "ed25519:JBjY7yjbfQ51na3bStPPYMyfModUTFHco5xUNEem3uu6"

static void extra_pk(size_t d, uint8_t pk[32])
{
	for (size_t i = 0; i < 32; i++)
		pk[i] = (uint8_t)(d * 29 + i * 7 + 1);
}

json_t *sc_keyset(uint64_t epoch, size_t n_extra)
{
	struct mpc_domain_key doms[16];
	struct mpc_keyset ks;
	size_t n = 2 + n_extra, len = 0;
	json_t *j;

	if (n > 16)
		return NULL;
	memset(doms, 0, sizeof(doms));
	doms[0].domain_id = 0;
	doms[0].attempt = 240;
	doms[0].curve = MPC_CURVE_SECP256K1;
	doms[0].pk_len = 64;
	if (mpc_base58_decode(SECP_NEAR_KEY, strlen(SECP_NEAR_KEY), doms[0].pk, 64, &len, "secp",
			      NULL) != MPC_OK ||
	    len != 64)
		return NULL;
	doms[1].domain_id = 1;
	doms[1].curve = MPC_CURVE_ED25519;
	doms[1].pk_len = 32;
	if (mpc_hex_decode(ED_HEX, 64, doms[1].pk, 32, &len, "ed", NULL) != MPC_OK)
		return NULL;
	for (size_t d = 2; d < n; d++) {
		doms[d].domain_id = d;
		doms[d].curve = MPC_CURVE_ED25519;
		doms[d].pk_len = 32;
		extra_pk(d, doms[d].pk);
	}
	ks.epoch_id = epoch;
	ks.n_domains = n;
	ks.domains = doms;
	j = mpc_keyset_to_json(&ks, NULL);
	return j;
}

/* One keyshare, compact, in the node's field order. */
static void keyshare_text(uint64_t epoch, size_t d, char *out, size_t cap)
{
	char share[65], pkh[65];
	uint8_t b[32];

	for (size_t i = 0; i < 32; i++)
		b[i] = (uint8_t)(epoch * 53 + d * 17 + i * 3 + 5);
	mpc_hex_encode(b, 32, share, sizeof(share), NULL);
	if (d == 0) {
		snprintf(
			out, cap,
			"{\"key_id\":{\"epoch_id\":%llu,\"domain_id\":0,\"attempt_id\":240},\"data\":"
			"{\"Secp256k1\":{\"private_share\":\"%s\",\"public_key\":\"" SECP_SEC1
			"\"}}}",
			(unsigned long long)epoch, epoch == 4 ? SECP_SHARE_E4 : share);
		return;
	}
	if (d == 1) {
		snprintf(pkh, sizeof(pkh), "%s", ED_HEX);
	} else {
		extra_pk(d, b);
		mpc_hex_encode(b, 32, pkh, sizeof(pkh), NULL);
		for (size_t i = 0; i < 32; i++)
			b[i] = (uint8_t)(epoch * 53 + d * 17 + i * 3 + 5);
	}
	snprintf(out, cap,
		 "{\"key_id\":{\"epoch_id\":%llu,\"domain_id\":%zu,\"attempt_id\":0},\"data\":"
		 "{\"Ed25519\":{\"private_share\":\"%s\",\"public_key\":\"%s\"}}}",
		 (unsigned long long)epoch, d, epoch == 4 && d == 1 ? ED_SHARE_E4 : share, pkh);
}

static void append(char **buf, size_t *len, size_t *cap, const char *s)
{
	size_t n = strlen(s);

	if (*buf == NULL || *len + n + 1 > *cap) {
		size_t nc = (*cap + n + 1) * 2;
		char *nb = realloc(*buf, nc);

		if (nb == NULL)
			abort();
		*buf = nb;
		*cap = nc;
	}
	memcpy(*buf + *len, s, n + 1);
	*len += n;
}

char *sc_keyshares_multi(const uint64_t *epochs, const size_t *extras, size_t n)
{
	char *buf = NULL, one[600];
	size_t len = 0, cap = 0;
	int first = 1;

	append(&buf, &len, &cap, "[");
	/* Stored in another order than any keyset's: the node must select and order. */
	for (size_t k = n; k-- > 0;) {
		for (size_t d = 2 + extras[k]; d-- > 0;) {
			keyshare_text(epochs[k], d, one, sizeof(one));
			append(&buf, &len, &cap, first ? "" : ",");
			append(&buf, &len, &cap, one);
			first = 0;
		}
	}
	append(&buf, &len, &cap, "]");
	return buf;
}

char *sc_keyshares(uint64_t epoch, size_t n_extra, int with_decoy)
{
	uint64_t epochs[2] = { epoch - 1, epoch };
	size_t extras[2] = { 0, n_extra };

	if (with_decoy && epoch > 0)
		return sc_keyshares_multi(epochs, extras, 2);
	return sc_keyshares_multi(&epoch, &n_extra, 1);
}

char *sc_served(uint64_t epoch, size_t n_extra)
{
	char *buf = NULL, one[600];
	size_t len = 0, cap = 0;

	append(&buf, &len, &cap, "[");
	for (size_t d = 0; d < 2 + n_extra; d++) {
		keyshare_text(epoch, d, one, sizeof(one));
		append(&buf, &len, &cap, d ? "," : "");
		append(&buf, &len, &cap, one);
	}
	append(&buf, &len, &cap, "]");
	return buf;
}

static json_t *participants_json(const struct sc_part *parts, size_t n)
{
	json_t *arr = json_array();
	uint64_t next = 0;

	for (size_t i = 0; i < n; i++) {
		json_array_append_new(arr, json_pack("[s, I, {s:s, s:s}]", parts[i].account,
						     (json_int_t)parts[i].id, "url", parts[i].url,
						     "tls_public_key", parts[i].key));
		if (parts[i].id + 1 > next)
			next = parts[i].id + 1;
	}
	return json_pack("{s:I, s:o}", "next_id", (json_int_t)next, "participants", arr);
}

json_t *sc_running_body(uint64_t epoch, size_t n_extra, const struct sc_part *parts, size_t n_parts)
{
	json_t *doms = json_array();
	json_t *ks = sc_keyset(epoch, n_extra);

	if (ks == NULL) {
		json_decref(doms);
		return NULL;
	}
	json_array_append_new(doms, json_pack("{s:i, s:s, s:s, s:i, s:s}", "id", 0, "curve",
					      "Secp256k1", "protocol", "CaitSith",
					      "reconstruction_threshold", 2, "purpose", "Sign"));
	for (size_t d = 1; d < 2 + n_extra; d++)
		json_array_append_new(doms,
				      json_pack("{s:I, s:s, s:s, s:i, s:s}", "id", (json_int_t)d,
						"curve", "Edwards25519", "protocol", "Frost",
						"reconstruction_threshold", 2, "purpose", "Sign"));
	return json_pack("{s:{s:o, s:I}, s:o, s:{s:o, s:i}}", "domains", "domains", doms,
			 "next_domain_id", (json_int_t)(2 + n_extra), "keyset", ks, "parameters",
			 "participants", participants_json(parts, n_parts), "threshold", 2);
}

json_t *sc_state_running(json_t *body)
{
	return json_pack("{s:o}", "Running", body);
}

json_t *sc_state_resharing(json_t *body, uint64_t next_epoch)
{
	return json_pack("{s:{s:o, s:[], s:{s:I, s:i, s:i}, s:{}}}", "Resharing",
			 "previous_running_state", body, "reshared_keys", "resharing_key",
			 "epoch_id", (json_int_t)next_epoch, "domain_id", 0, "attempt", 0,
			 "cancellation_requests");
}

json_t *sc_state_recovery(json_t *body, const struct sc_part *prospective, size_t n)
{
	return json_pack("{s:{s:o, s:o}}", "Recovery", "previous_running_state", body,
			 "prospective_participants", participants_json(prospective, n));
}

json_t *sc_migration_info(const char *backup_key, const char *dest_url, const char *dest_key)
{
	json_t *b = backup_key != NULL ? json_pack("{s:s}", "public_key", backup_key) : json_null();
	json_t *d = dest_key != NULL ? json_pack("{s:s, s:{s:s, s:s}}", "signer_account_pk",
						 OTHER1_KEY, "destination_node_info", "url",
						 dest_url, "tls_public_key", dest_key)
				     : json_null();

	return json_pack("{s:[o, o]}", SC_OPERATOR, b, d);
}

static const char *const node_urls[SC_MAX_NODES] = { "https://node-a.example",
						     "https://node-b.example",
						     "https://node-c.example",
						     "https://node-d.example" };

json_t *sc_std_body(struct sc *s, uint64_t epoch, size_t n_extra, int own)
{
	struct sc_part parts[3] = {
		{ "alice.near", 0, "https://alice.example", OTHER1_KEY },
		{ SC_OPERATOR, 1, sc_node_url(own), s->nodes[own].key },
		{ "bob.near", 2, "https://bob.example", OTHER2_KEY },
	};

	return sc_running_body(epoch, n_extra, parts, 3);
}

const char *sc_node_url(int i)
{
	return node_urls[i];
}

int sc_publish(struct sc *s, int k, json_t *state, json_t *mi)
{
	int rc = state != NULL && mi != NULL ? 0 : -1;

	/* migration_info first: a reader never sees the new state with a stale destination. */
	if (rc == 0)
		rc = sc_timeline(s, k, "migration_info.json", mi);
	if (rc == 0)
		rc = sc_timeline(s, k, "state.json", state);
	json_decref(state);
	json_decref(mi);
	return rc;
}

json_t *sc_std_mi(struct sc *s, int dest)
{
	return sc_migration_info(s->our_key, dest >= 0 ? node_urls[dest] : NULL,
				 dest >= 0 ? s->nodes[dest].key : NULL);
}

int sc_publish_running(struct sc *s, uint64_t epoch, size_t n_extra, int own, int dest)
{
	return sc_publish(s, -1, sc_state_running(sc_std_body(s, epoch, n_extra, own)),
			  sc_std_mi(s, dest));
}

/* ---- the monitor ---- */

int sc_write_config(struct sc *s, const char *extra)
{
	char *buf = NULL, line[300];
	size_t len = 0, cap = 0;
	int rc;

	append(&buf, &len, &cap,
	       "# written by tests/monitor/scen.c\n"
	       "poll_interval = 0.2\n"
	       "backoff_initial = 0.2\n"
	       "backoff_max = 1\n"
	       "node_timeout = 5\n"
	       "node_connect_timeout = 5\n"
	       "rpc_timeout = 5\n");
	for (int i = 0; i < SC_MAX_NODES; i++) {
		if (s->nodes[i].port == 0)
			continue;
		snprintf(line, sizeof(line), "address.key.%s = 127.0.0.1:%u\n", s->nodes[i].key,
			 s->nodes[i].port);
		append(&buf, &len, &cap, line);
	}
	if (extra != NULL)
		append(&buf, &len, &cap, extra);
	rc = write_atomic(s->config, buf);
	free(buf);
	return rc;
}

int sc_run_alive(struct sc *s)
{
	int st;

	if (s->run_pid <= 0)
		return 0;
	if (waitpid(s->run_pid, &st, WNOHANG) == s->run_pid) {
		printf("mpc-backup run exited early (status 0x%x)\n", st);
		s->run_pid = 0;
		return 0;
	}
	return 1;
}

int sc_run_start(struct sc *s, int metrics, const char *const *extra_args)
{
	const char *argv[64];
	char bin[512];
	int k = 0, fd;

	mpc_backup_path(bin, sizeof(bin));
	argv[k++] = bin;
	argv[k++] = "run";
	argv[k++] = "--token";
	argv[k++] = s->th.uri;
	argv[k++] = "--store";
	argv[k++] = s->store;
	for (size_t i = 0; i < s->n_rpc; i++) {
		argv[k++] = "--rpc-url";
		argv[k++] = s->rpc_url[i];
	}
	argv[k++] = "--account";
	argv[k++] = SC_OPERATOR;
	argv[k++] = "--config";
	argv[k++] = s->config;
	if (metrics) {
		argv[k++] = "--metrics-listen";
		argv[k++] = "127.0.0.1:0";
	}
	for (int i = 0; extra_args != NULL && extra_args[i] != NULL && k < 62; i++)
		argv[k++] = extra_args[i];
	argv[k] = NULL;
	if (access(s->config, R_OK) != 0 && sc_write_config(s, NULL) != 0)
		return -1;
	fd = open(s->runlog, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	s->run_pid = spawn(argv, fd, fd);
	close(fd);
	if (s->run_pid < 0) {
		s->run_pid = 0;
		return -1;
	}
	if (sc_wait_log(s, "mpc-backup run: operator", 1, SC_WAIT) != 0)
		return -1;
	if (metrics) {
		char *log = sc_log_text(s);
		const char *p = strstr(log, "(port ");

		s->metrics_port = 0;
		if (p != NULL)
			s->metrics_port = (unsigned)strtoul(p + 6, NULL, 10);
		free(log);
		if (s->metrics_port == 0)
			return -1;
	}
	return 0;
}

int sc_run_stop(struct sc *s, int sig, double timeout_s, double *elapsed, int *status)
{
	double t0;
	int st = 0;

	if (s->run_pid <= 0)
		return -1;
	t0 = sc_now();
	kill(s->run_pid, sig);
	for (;;) {
		pid_t r = waitpid(s->run_pid, &st, WNOHANG);

		if (r == s->run_pid) {
			if (elapsed != NULL)
				*elapsed = sc_now() - t0;
			if (status != NULL)
				*status = st;
			s->run_pid = 0;
			return 0;
		}
		if (sc_now() - t0 > timeout_s)
			break;
		sc_sleep_ms(2);
	}
	if (elapsed != NULL)
		*elapsed = sc_now() - t0;
	kill(s->run_pid, SIGKILL);
	waitpid(s->run_pid, &st, 0);
	if (status != NULL)
		*status = st;
	s->run_pid = 0;
	return -1;
}

char *sc_log_text(struct sc *s)
{
	char *t = sc_read_file(s->runlog, NULL);

	return t != NULL ? t : strdup("");
}

int sc_log_count(struct sc *s, const char *needle)
{
	char *t = sc_log_text(s);
	int n = 0;

	for (char *line = t; line != NULL && *line != '\0';) {
		char *nl = strchr(line, '\n');

		if (nl != NULL)
			*nl = '\0';
		if (strstr(line, needle) != NULL)
			n++;
		line = nl != NULL ? nl + 1 : NULL;
	}
	free(t);
	return n;
}

/* The failure part of a log line: from needle up to " (retrying", with libcurl's elapsed time
 * ("after 12 ms") replaced by "after # ms" when normalize. */
static void failure_key(const char *line, const char *needle, int normalize, char *out, size_t cap)
{
	const char *p = strstr(line, needle), *end = p != NULL ? strstr(p, " (retrying") : NULL;
	size_t o = 0;

	if (p == NULL) {
		out[0] = '\0';
		return;
	}
	if (end == NULL)
		end = p + strlen(p);
	while (p < end && o + 1 < cap) {
		if (normalize && strncmp(p, "after ", 6) == 0 && p[6] >= '0' && p[6] <= '9') {
			const char *q = p + 6;

			while (*q >= '0' && *q <= '9')
				q++;
			if (strncmp(q, " ms", 3) == 0 && o + 8 < cap) {
				memcpy(out + o, "after #", 7);
				o += 7;
				p = q;
				continue;
			}
		}
		out[o++] = *p++;
	}
	out[o] = '\0';
}

int sc_log_failures(struct sc *s, const char *needle, int *repeats)
{
	enum {
		MAXF = 64,
		KEY = 1024
	};
	char *t = sc_log_text(s), prev[KEY] = "", key[KEY];
	char(*seen)[KEY] = calloc(MAXF, KEY);
	int n_seen = 0;

	*repeats = 0;
	for (char *line = t; seen != NULL && line != NULL && *line != '\0';) {
		char *nl = strchr(line, '\n');

		if (nl != NULL)
			*nl = '\0';
		if (strstr(line, needle) != NULL) {
			int known = 0;

			failure_key(line, needle, 0, key, sizeof(key));
			if (strcmp(key, prev) == 0)
				(*repeats)++;
			snprintf(prev, sizeof(prev), "%s", key);
			failure_key(line, needle, 1, key, sizeof(key));
			for (int i = 0; i < n_seen; i++)
				known |= strcmp(seen[i], key) == 0;
			if (!known && n_seen < MAXF)
				snprintf(seen[n_seen++], KEY, "%s", key);
		}
		line = nl != NULL ? nl + 1 : NULL;
	}
	free(seen);
	free(t);
	return n_seen;
}

void sc_dump(struct sc *s)
{
	char *t = sc_log_text(s);

	printf("---- mpc-backup run log ----\n%s---- end of log ----\n", t);
	free(t);
	for (int i = 0; i < SC_MAX_NODES; i++)
		if (s->nodes[i].events_len > 0)
			printf("---- node %d events ----\n%s", i, s->nodes[i].events);
	fflush(stdout);
}

int sc_wait_log(struct sc *s, const char *needle, int n, double timeout_s)
{
	double deadline = sc_now() + timeout_s;

	for (;;) {
		for (int i = 0; i < SC_MAX_NODES; i++)
			sc_node_pump(s, i);
		if (sc_log_count(s, needle) >= n)
			return 0;
		if (sc_now() > deadline || (s->run_pid > 0 && !sc_run_alive(s)))
			break;
		sc_sleep_ms(SC_POLL_MS);
	}
	if (sc_log_count(s, needle) >= n)
		return 0;
	printf("waited %.0f s for %d log line(s) with \"%s\"\n", timeout_s, n, needle);
	sc_dump(s);
	return -1;
}

/* ---- the store ---- */

static int count_prefix(const char *dir, const char *prefix, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name), sl = suffix != NULL ? strlen(suffix) : 0;

		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		if (suffix != NULL && (l < sl || strcmp(de->d_name + l - sl, suffix) != 0))
			continue;
		n++;
	}
	closedir(d);
	return n;
}

int sc_store_files(struct sc *s)
{
	return count_prefix(s->store, "keyset-", ".mpcs");
}

int sc_store_temps(struct sc *s)
{
	return count_prefix(s->store, ".tmp-", NULL);
}

int sc_store_cmd(struct sc *s, const char *sub, char *out, unsigned cap)
{
	char cmd[2048], bin[512];

	mpc_backup_path(bin, sizeof(bin));
	snprintf(cmd, sizeof(cmd), "'%s' store %s --store '%s'%s%s%s", bin, sub, s->store,
		 strcmp(sub, "verify") == 0 ? " --token '" : "",
		 strcmp(sub, "verify") == 0 ? s->th.uri : "",
		 strcmp(sub, "verify") == 0 ? "'" : "");
	return th_run(cmd, out, cap);
}

/* ---- metrics ---- */

int sc_http_get(unsigned port, const char *path, int *status, char *body, size_t cap)
{
	struct sockaddr_in a;
	struct timeval tv = { 5, 0 };
	char req[256], *buf = malloc(256 * 1024);
	size_t n = 0, bufcap = 256 * 1024;
	const char *p;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rc = -1;

	*status = 0;
	if (body != NULL && cap > 0)
		body[0] = '\0';
	if (fd < 0 || buf == NULL)
		goto out;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		goto out;
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req))
		goto out;
	for (;;) {
		ssize_t r = recv(fd, buf + n, bufcap - 1 - n, 0);

		if (r <= 0)
			break;
		n += (size_t)r;
		if (n == bufcap - 1)
			break;
	}
	buf[n] = '\0';
	if (sscanf(buf, "HTTP/1.%*d %d", status) != 1)
		goto out;
	p = strstr(buf, "\r\n\r\n");
	if (p != NULL && body != NULL && cap > 0)
		snprintf(body, cap, "%s", p + 4);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

double sc_metric(const char *text, const char *name)
{
	size_t nl = strlen(name);

	for (const char *line = text; line != NULL && *line != '\0';) {
		const char *next = strchr(line, '\n');

		if (strncmp(line, name, nl) == 0 && line[nl] == ' ')
			return strtod(line + nl + 1, NULL);
		line = next != NULL ? next + 1 : NULL;
	}
	return -1;
}

double sc_metric_get(struct sc *s, const char *name)
{
	char *body = malloc(128 * 1024);
	int status = 0;
	double v = -1;

	if (body == NULL)
		return -1;
	if (sc_http_get(s->metrics_port, "/metrics", &status, body, 128 * 1024) == 0 &&
	    status == 200)
		v = sc_metric(body, name);
	free(body);
	return v;
}

int sc_cmocka_setup(void **state)
{
	struct sc *s;

	if (sc_setup(&s) != 0)
		return -1;
	*state = s;
	return 0;
}

int sc_cmocka_teardown(void **state)
{
	sc_teardown(*state);
	return 0;
}
