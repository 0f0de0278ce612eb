/* test_node_rustls.c: node-style certificates against the verifier the MPC node uses: rustls
 * with webpki, trusting only the dummy issuer certificate (Debian's rustls 0.20 / webpki 0.22,
 * built offline from /usr/share/cargo/registry by cargo; the node runs rustls 0.23 / webpki
 * 0.103, same chain rules). (1) a rustls server requiring client certificates accepts our
 * client's leaf, alone, and answers over TLS 1.3; (2) a rustls client with server name
 * "dummy" accepts fake-node's leaf and presents a leaf fake-node accepts. Skipped when cargo or
 * the packaged crates are missing. */
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <openssl/pem.h>

#include "src/node/cert.h"
#include "src/node/client.h"
#include "src/util/encoding.h"
#include "tests/node/node_harness.h"

static char peer_bin[600];

struct proc {
	pid_t pid;
	int fd;
	char buf[8192];
	size_t len;
};

static void proc_start(struct proc *p, char *const argv[])
{
	int pfd[2];

	assert_int_equal(pipe(pfd), 0);
	p->len = 0;
	p->pid = fork();
	assert_true(p->pid >= 0);
	if (p->pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		close(pfd[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	p->fd = pfd[0];
}

/* Next line starting with prefix (or "ERROR"), within 20 s. */
static int proc_line(struct proc *p, const char *prefix, char *out, size_t cap)
{
	for (int rounds = 0; rounds < 200; rounds++) {
		char *nl;
		struct pollfd pf = { .fd = p->fd, .events = POLLIN };
		ssize_t r;

		while ((nl = memchr(p->buf, '\n', p->len)) != NULL) {
			size_t l = (size_t)(nl - p->buf);
			int hit = strncmp(p->buf, prefix, strlen(prefix)) == 0 ||
				  strncmp(p->buf, "ERROR", 5) == 0;

			if (hit) {
				size_t c = l < cap - 1 ? l : cap - 1;

				memcpy(out, p->buf, c);
				out[c] = '\0';
			}
			memmove(p->buf, nl + 1, p->len - l - 1);
			p->len -= l + 1;
			if (hit)
				return strncmp(out, prefix, strlen(prefix)) == 0 ? 0 : -1;
		}
		if (poll(&pf, 1, 100) <= 0)
			continue;
		r = read(p->fd, p->buf + p->len, sizeof(p->buf) - p->len - 1);
		if (r <= 0)
			return -1;
		p->len += (size_t)r;
	}
	return -1;
}

static void proc_stop(struct proc *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGTERM);
		waitpid(p->pid, NULL, 0);
	}
	if (p->pid > 0)
		close(p->fd);
	p->pid = 0;
}

static void write_der(const char *path, const uint8_t *d, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(d, 1, n, f), n);
	fclose(f);
}

static void write_key(const char *path, EVP_PKEY *k, int pem)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	if (pem)
		assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
	else
		assert_int_equal(i2d_PKCS8PrivateKey_fp(f, k, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
}

static void write_issuer_and_leaf(const char *dir, const uint8_t pub[32], char *issuer, char *leaf)
{
	uint8_t der[MPC_NODE_CERT_DER_MAX], dpub[32];
	size_t n = 0;

	snprintf(issuer, 512, "%s/issuer.der", dir);
	snprintf(leaf, 512, "%s/leaf.der", dir);
	assert_int_equal(mpc_node_cert_dummy_pub(dpub, NULL), MPC_OK);
	assert_int_equal(mpc_node_cert_der(dpub, MPC_NODE_SAN_ISSUER, der, sizeof(der), &n, NULL), MPC_OK);
	write_der(issuer, der, n);
	assert_int_equal(mpc_node_cert_der(pub, MPC_NODE_SAN_LEAF, der, sizeof(der), &n, NULL), MPC_OK);
	write_der(leaf, der, n);
}

static int group_setup(void **state)
{
	const char *src = getenv("MPC_SOURCE_DIR"), *bin = getenv("MPC_BINARY_DIR");
	char cmd[2048];

	(void)state;
	peer_bin[0] = '\0';
	if (src == NULL || bin == NULL || system("command -v cargo >/dev/null 2>&1") != 0 ||
	    access("/usr/share/cargo/registry/rustls-0.20.8", F_OK) != 0)
		return 0;
	snprintf(cmd, sizeof(cmd),
		 "cd '%s/tests/node/rustls-peer' && cargo build -q --release --offline "
		 "--target-dir '%s/rustls-peer' >'%s/rustls-peer.log' 2>&1",
		 src, bin, bin);
	if (system(cmd) != 0)
		return -1; /* the toolchain is there: a build failure is a failure */
	snprintf(peer_bin, sizeof(peer_bin), "%s/rustls-peer/release/rustls-peer", bin);
	return 0;
}

static void test_rustls_server_accepts_our_client(void **state)
{
	char dir[64], issuer[512], leaf[512], key[512], line[2048], hexleaf[2 * MPC_NODE_CERT_DER_MAX + 1];
	uint8_t npub[32], cpub[32], der[MPC_NODE_CERT_DER_MAX];
	size_t n = 0;
	EVP_PKEY *nk, *ck;
	struct proc p = { 0 };
	struct mpc_node_client_opts o = { 0 };
	struct mpc_node_client *c = NULL;
	struct mpc_err e = { 0 };
	char addr[64];

	(void)state;
	if (peer_bin[0] == '\0')
		skip();
	assert_int_equal(nh_tmpdir(dir, sizeof(dir)), 0);
	nk = nh_software_key(npub);
	ck = nh_software_key(cpub);
	write_issuer_and_leaf(dir, npub, issuer, leaf);
	snprintf(key, sizeof(key), "%s/node.pk8", dir);
	write_key(key, nk, 0);
	{
		char *argv[] = { peer_bin, "server", issuer, leaf, key, NULL };

		proc_start(&p, argv);
	}
	assert_int_equal(proc_line(&p, "PORT ", line, sizeof(line)), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%.8s", line + 5);
	o.client_key = ck;
	memcpy(o.client_pub, cpub, 32);
	memcpy(o.node_pub, npub, 32);
	o.address = addr;
	o.timeout_ms = 10000;
	assert_int_equal(mpc_node_client_new(&o, &c, &e), MPC_OK);
	if (mpc_node_hello(c, &e) != MPC_OK)
		print_message("hello: %s\n", e.msg);
	assert_int_equal(e.code, MPC_OK);
	assert_int_equal(proc_line(&p, "REQUEST ", line, sizeof(line)), 0);
	assert_string_equal(line, "REQUEST GET /hello HTTP/1.1");
	assert_int_equal(proc_line(&p, "CLIENT ", line, sizeof(line)), 0);
	assert_int_equal(mpc_node_cert_der(cpub, MPC_NODE_SAN_LEAF, der, sizeof(der), &n, NULL), MPC_OK);
	mpc_hex_encode(der, n, hexleaf, sizeof(hexleaf), NULL);
	assert_string_equal(line + 7, hexleaf); /* webpki accepted exactly our leaf */
	mpc_node_client_free(c);
	proc_stop(&p);
	EVP_PKEY_free(nk);
	EVP_PKEY_free(ck);
	nh_rmdir(dir);
}

static void test_rustls_client_accepts_fake_node(void **state)
{
	char dir[64], issuer[512], leaf[512], ckey[512], nkey[512], line[2048], port[16];
	char cpub_s[MPC_ED25519_KEY_STR_MAX];
	uint8_t npub[32], cpub[32];
	EVP_PKEY *nk, *ck;
	struct proc p = { 0 };
	struct nh_node node = { .out_fd = -1 };

	(void)state;
	if (peer_bin[0] == '\0')
		skip();
	assert_int_equal(nh_tmpdir(dir, sizeof(dir)), 0);
	nk = nh_software_key(npub);
	ck = nh_software_key(cpub);
	mpc_ed25519_key_format(cpub, cpub_s, NULL);
	write_issuer_and_leaf(dir, cpub, issuer, leaf); /* the rustls client's own leaf */
	snprintf(ckey, sizeof(ckey), "%s/client.pk8", dir);
	snprintf(nkey, sizeof(nkey), "%s/node.pem", dir);
	write_key(ckey, ck, 0);
	write_key(nkey, nk, 1);
	{
		const char *args[] = { "--key-file", nkey, "--client-key", cpub_s, NULL };

		assert_int_equal(nh_start(&node, args), 0);
	}
	assert_memory_equal(node.key, npub, 32);
	snprintf(port, sizeof(port), "%u", node.port);
	{
		char *argv[] = { peer_bin, "client", port, issuer, leaf, ckey, NULL };

		proc_start(&p, argv);
	}
	if (proc_line(&p, "RESPONSE ", line, sizeof(line)) != 0)
		print_message("rustls client: %s\n", line);
	assert_string_equal(line, "RESPONSE HTTP/1.1 200 OK | Hello, world!");
	assert_int_equal(nh_wait_line(&node, "ACCEPTED", 5000, NULL, 0), 0);
	proc_stop(&p);
	nh_stop(&node);
	EVP_PKEY_free(nk);
	EVP_PKEY_free(ck);
	nh_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rustls_server_accepts_our_client),
		cmocka_unit_test(test_rustls_client_accepts_fake_node),
	};
	int rc;

	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, group_setup, NULL);
	curl_global_cleanup();
	return rc;
}
