/* node_harness.c: fake-node processes and fixtures for node tests and benchmarks. */
#include "tests/node/node_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "src/node/cert.h"
#include "src/util/encoding.h"

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int nh_wait_line(struct nh_node *n, const char *prefix, int timeout_ms, char *out, size_t cap)
{
	long deadline = now_ms() + timeout_ms;

	for (;;) {
		char *nl;
		struct pollfd p = { .fd = n->out_fd, .events = POLLIN };
		long left;
		ssize_t r;

		while ((nl = memchr(n->buf, '\n', n->buf_len)) != NULL) {
			size_t l = (size_t)(nl - n->buf);
			int match = strncmp(n->buf, prefix, strlen(prefix)) == 0;

			if (match && out != NULL) {
				size_t c = l < cap - 1 ? l : cap - 1;

				memcpy(out, n->buf, c);
				out[c] = '\0';
			}
			memmove(n->buf, nl + 1, n->buf_len - l - 1);
			n->buf_len -= l + 1;
			if (match)
				return 0;
		}
		left = deadline - now_ms();
		if (left <= 0 || n->buf_len == sizeof(n->buf))
			return -1;
		if (poll(&p, 1, (int)left) <= 0)
			return -1;
		r = read(n->out_fd, n->buf + n->buf_len, sizeof(n->buf) - n->buf_len);
		if (r <= 0)
			return -1;
		n->buf_len += (size_t)r;
	}
}

int nh_start(struct nh_node *n, const char *const *args)
{
	const char *argv[40];
	int pfd[2], k = 0;
	char line[128];

	memset(n, 0, sizeof(*n));
	n->out_fd = -1;
	argv[k++] = FAKE_NODE_PATH;
	for (int i = 0; args != NULL && args[i] != NULL && k < 38; i++)
		argv[k++] = args[i];
	argv[k] = NULL;
	if (pipe(pfd) != 0)
		return -1;
	n->pid = fork();
	if (n->pid < 0)
		return -1;
	if (n->pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		close(pfd[1]);
		setenv("MPC_BACKUP_ENCRYPTION_KEY_HEX", NH_TRANSPORT_KEY_HEX, 1);
		execv(FAKE_NODE_PATH, (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	n->out_fd = pfd[0];
	if (nh_wait_line(n, "PORT ", 10000, line, sizeof(line)) != 0)
		goto fail;
	n->port = (unsigned)atoi(line + 5);
	if (nh_wait_line(n, "KEY ", 10000, line, sizeof(line)) != 0)
		goto fail;
	snprintf(n->key_str, sizeof(n->key_str), "%.60s", line + 4);
	if (mpc_ed25519_key_parse(n->key_str, n->key, "fake-node key", NULL) != MPC_OK)
		goto fail;
	return 0;
fail:
	nh_stop(n);
	return -1;
}

void nh_stop(struct nh_node *n)
{
	if (n == NULL)
		return;
	if (n->pid > 0) {
		kill(n->pid, SIGTERM);
		waitpid(n->pid, NULL, 0);
		n->pid = 0;
	}
	if (n->out_fd > 0) /* a zeroed struct has 0 here: never close stdin */
		close(n->out_fd);
	n->out_fd = -1;
}

EVP_PKEY *nh_software_key(uint8_t pub[32])
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

	if (k != NULL && mpc_node_pkey_pub(k, pub, NULL) != MPC_OK) {
		EVP_PKEY_free(k);
		k = NULL;
	}
	return k;
}

int nh_tmpdir(char *out, size_t cap)
{
	if (cap < 64)
		return -1;
	snprintf(out, cap, "/tmp/mpc-node-XXXXXX");
	return mkdtemp(out) != NULL ? 0 : -1;
}

void nh_rmdir(const char *dir)
{
	char cmd[600];

	if (dir == NULL || strncmp(dir, "/tmp/mpc-node-", 14) != 0)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return;
}

int nh_write_file(const char *dir, const char *name, const char *text, char *out)
{
	FILE *f;
	size_t n = strlen(text);

	snprintf(out, 512, "%s/%s", dir, name);
	f = fopen(out, "w");
	/* 0600: tests write keys here, and mpc-backup refuses secret files others can read */
	if (f == NULL || fchmod(fileno(f), 0600) != 0) {
		if (f != NULL)
			fclose(f);
		return -1;
	}
	if (fwrite(text, 1, n, f) != n) {
		fclose(f);
		return -1;
	}
	return fclose(f) == 0 ? 0 : -1;
}

int nh_mainnet_keyset(struct mpc_keyset *ks)
{
	const char *fixtures = getenv("MPC_FIXTURES_DIR");
	char path[512];
	json_t *root;
	json_error_t jerr;
	int rc;

	if (fixtures == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/near-mpc/mainnet-contract-state.json", fixtures);
	root = json_load_file(path, 0, &jerr);
	if (root == NULL)
		return -1;
	rc = mpc_keyset_from_json(json_object_get(json_object_get(root, "Running"), "keyset"),
				  "state.Running.keyset", ks, NULL);
	json_decref(root);
	return rc == MPC_OK ? 0 : -1;
}

#define KS_SECP                                                                              \
	"{\"key_id\":{\"epoch_id\":4,\"domain_id\":0,\"attempt_id\":240},\"data\":{\"Secp256k1\":" \
	"{\"private_share\":\"add8bea105e6085a3f9d4ee613834280ae277e9516a6d08ba8a1fa88d7ce6225\","  \
	"\"public_key\":\"03aa034760c5846f61bd047a4edd088a2b32bee7473a1163926fcc4b27ebc916f0\"}}}"
#define KS_ED                                                                                \
	"{\"key_id\":{\"epoch_id\":4,\"domain_id\":1,\"attempt_id\":0},\"data\":{\"Ed25519\":"     \
	"{\"private_share\":\"4868e82fde014d20fa7316500332a9cad79dee5c7aac79b82e69019da9b1790b\","  \
	"\"public_key\":\"e291381fe6d842f30412315cb431acdc18a02cbad062165e863f1a060e2ba4b4\"}}}"
#define KS_OLD                                                                               \
	"{\"key_id\":{\"epoch_id\":3,\"domain_id\":0,\"attempt_id\":239},\"data\":{\"Secp256k1\":" \
	"{\"private_share\":\"5e0b14b3b6dbffdd205091178e73efca89630b645d9d9cf66d190c0ebe35fcb0\","  \
	"\"public_key\":\"03aa034760c5846f61bd047a4edd088a2b32bee7473a1163926fcc4b27ebc916f0\"}}}"

const char *nh_mainnet_keyshares_json(void)
{
	return "[" KS_OLD "," KS_ED "," KS_SECP "]";
}

const char *nh_mainnet_served_json(void)
{
	return "[" KS_SECP "," KS_ED "]";
}

int nh_synthetic(size_t n, struct mpc_keyset *ks, char **keyshares_json)
{
	size_t cap = 64 + n * 300, o = 0;
	char *s = malloc(cap);

	memset(ks, 0, sizeof(*ks));
	ks->domains = calloc(n, sizeof(*ks->domains));
	if (s == NULL || ks->domains == NULL) {
		free(s);
		free(ks->domains);
		return -1;
	}
	ks->epoch_id = 7;
	ks->n_domains = n;
	o += (size_t)snprintf(s + o, cap - o, "[");
	for (size_t i = 0; i < n; i++) {
		uint8_t share[32], pk[32];
		char sh[65], pkh[65];

		RAND_bytes(share, 32);
		RAND_bytes(pk, 32);
		mpc_hex_encode(share, 32, sh, sizeof(sh), NULL);
		mpc_hex_encode(pk, 32, pkh, sizeof(pkh), NULL);
		ks->domains[i].domain_id = i;
		ks->domains[i].attempt = i % 3;
		ks->domains[i].curve = MPC_CURVE_ED25519;
		ks->domains[i].pk_len = 32;
		memcpy(ks->domains[i].pk, pk, 32);
		o += (size_t)snprintf(s + o, cap - o,
				      "%s{\"key_id\":{\"epoch_id\":7,\"domain_id\":%zu,\"attempt_id\":%zu},"
				      "\"data\":{\"Ed25519\":{\"private_share\":\"%s\",\"public_key\":\"%s\"}}}",
				      i ? "," : "", i, i % 3, sh, pkh);
	}
	snprintf(s + o, cap - o, "]");
	*keyshares_json = s;
	return 0;
}
