/* test_node_interop.c: our client against independent TLS 1.3 stacks holding a node-style
 * certificate: `openssl s_server -tls1_3 -Verify 1 -www` and `gnutls-serv --require-client-cert
 * --http`. Each must complete the handshake and an HTTP exchange, and report our client
 * certificate: its bytes (OpenSSL prints the PEM) or its key and names (GnuTLS). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <openssl/pem.h>

#include "src/node/cert.h"
#include "src/node/client.h"
#include "src/util/encoding.h"
#include "tests/node/node_harness.h"

struct srv {
	char dir[64];
	char cert[512], key[512], log[512];
	EVP_PKEY *node_key;
	uint8_t node_pub[32];
	EVP_PKEY *client_key;
	uint8_t client_pub[32];
	unsigned port;
	pid_t pid;
};

static unsigned free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned p;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	p = ntohs(a.sin_port);
	close(fd);
	return p;
}

static int setup(void **state)
{
	struct srv *s = calloc(1, sizeof(*s));
	X509 *leaf;
	FILE *f;

	assert_non_null(s);
	assert_int_equal(nh_tmpdir(s->dir, sizeof(s->dir)), 0);
	s->node_key = nh_software_key(s->node_pub);
	s->client_key = nh_software_key(s->client_pub);
	assert_non_null(s->node_key);
	assert_non_null(s->client_key);
	leaf = mpc_node_cert_leaf(s->node_pub, NULL);
	assert_non_null(leaf);
	snprintf(s->cert, sizeof(s->cert), "%s/node-cert.pem", s->dir);
	snprintf(s->key, sizeof(s->key), "%s/node-key.pem", s->dir);
	snprintf(s->log, sizeof(s->log), "%s/server.log", s->dir);
	f = fopen(s->cert, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_X509(f, leaf), 1);
	fclose(f);
	f = fopen(s->key, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PrivateKey(f, s->node_key, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
	X509_free(leaf);
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	struct srv *s = *state;

	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
	}
	EVP_PKEY_free(s->node_key);
	EVP_PKEY_free(s->client_key);
	nh_rmdir(s->dir);
	free(s);
	return 0;
}

static void spawn(struct srv *s, char *const argv[])
{
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		FILE *f = freopen(s->log, "w", stdout);

		if (f == NULL || dup2(1, 2) < 0)
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
}

/* Retry /<path> until the server listens (bounded), return its body. */
static char *exchange(struct srv *s, const char *path, long *status)
{
	struct mpc_node_client_opts o = { 0 };
	struct mpc_node_client *c = NULL;
	struct mpc_err e = { 0 };
	char addr[64], *body = NULL;
	size_t len = 0;
	int rc = MPC_ERR_HTTP;

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", s->port);
	o.client_key = s->client_key;
	memcpy(o.client_pub, s->client_pub, 32);
	memcpy(o.node_pub, s->node_pub, 32);
	o.address = addr;
	o.timeout_ms = 10000;
	o.fresh_connection = 1;
	assert_int_equal(mpc_node_client_new(&o, &c, &e), MPC_OK);
	for (int i = 0; i < 100; i++) {
		struct timespec ts = { 0, 100000000L };

		mpc_err_clear(&e);
		rc = mpc_node_get_raw(c, path, status, &body, &len, &e);
		if (rc == MPC_OK || strstr(e.msg, "cannot connect") == NULL)
			break;
		nanosleep(&ts, NULL);
	}
	if (rc != MPC_OK)
		print_message("exchange failed: %s\n", e.msg);
	assert_int_equal(rc, MPC_OK);
	mpc_node_client_free(c);
	return body;
}

static void test_openssl_s_server(void **state)
{
	struct srv *s = *state;
	char port[16], *body, *pem, *end;
	long status = 0;
	X509 *got, *want;
	BIO *bio;
	unsigned char *d1 = NULL, *d2 = NULL;
	int l1, l2;

	if (system("command -v openssl >/dev/null 2>&1") != 0)
		skip();
	s->port = free_port();
	snprintf(port, sizeof(port), "%u", s->port);
	{
		char *argv[] = { "openssl", "s_server", "-tls1_3", "-Verify", "1", "-cert", s->cert,
				 "-key", s->key, "-www", "-accept", port, "-naccept", "50", NULL };

		spawn(s, argv);
	}
	body = exchange(s, "/", &status);
	assert_int_equal(status, 200);
	assert_non_null(strstr(body, "TLSv1.3"));
	pem = strstr(body, "Client certificate");
	assert_non_null(pem);
	assert_non_null(strstr(pem, "Subject: CN=rcgen self signed cert"));
	assert_non_null(strstr(pem, "Issuer: CN=rcgen self signed cert"));
	assert_non_null(strstr(pem, "DNS:dummy"));
	pem = strstr(pem, "-----BEGIN CERTIFICATE-----");
	assert_non_null(pem);
	end = strstr(pem, "-----END CERTIFICATE-----");
	assert_non_null(end);
	bio = BIO_new_mem_buf(pem, (int)(end - pem) + 26);
	got = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_non_null(got);
	want = mpc_node_cert_leaf(s->client_pub, NULL);
	l1 = i2d_X509(got, &d1);
	l2 = i2d_X509(want, &d2);
	assert_int_equal(l1, l2);
	assert_memory_equal(d1, d2, (size_t)l1); /* exactly our leaf, alone */
	OPENSSL_free(d1);
	OPENSSL_free(d2);
	X509_free(got);
	X509_free(want);
	free(body);
}

static void test_gnutls_serv(void **state)
{
	struct srv *s = *state;
	char port[16], *body, pubhex[65], got[65], *p;
	char client_s[MPC_ED25519_KEY_STR_MAX];
	long status = 0;
	size_t k = 0;

	if (system("command -v gnutls-serv >/dev/null 2>&1") != 0)
		skip();
	s->port = free_port();
	snprintf(port, sizeof(port), "%u", s->port);
	{
		char *argv[] = { "gnutls-serv", "--x509certfile", s->cert, "--x509keyfile", s->key,
				 "--require-client-cert", "--http", "-p", port,
				 "--priority", "NORMAL:-VERS-ALL:+VERS-TLS1.3", NULL };

		spawn(s, argv);
	}
	body = exchange(s, "/", &status);
	assert_int_equal(status, 200);
	mpc_hex_encode(s->client_pub, 32, pubhex, sizeof(pubhex), NULL);
	mpc_ed25519_key_format(s->client_pub, client_s, NULL);
	print_message("gnutls-serv saw client %s\n", client_s);
	assert_non_null(strstr(body, "<TD>Protocol version:</TD><TD>TLS1.3</TD>"));
	assert_non_null(strstr(body, "Subject: CN=rcgen self signed cert"));
	assert_non_null(strstr(body, "Issuer: CN=rcgen self signed cert"));
	assert_non_null(strstr(body, "Subject Alternative Name (not critical):"));
	assert_non_null(strstr(body, "DNSname: dummy"));
	/* the client key as GnuTLS prints it: "X:" then colon-separated hex over two lines */
	p = strstr(body, "Curve:\tEd25519");
	assert_non_null(p);
	p = strstr(p, "X:");
	assert_non_null(p);
	for (p += 2; *p != '\0' && k < 64; p++)
		if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))
			got[k++] = *p;
		else if (*p != ':' && *p != '\n' && *p != '\t' && *p != ' ')
			break;
	got[k] = '\0';
	assert_string_equal(got, pubhex);
	free(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_openssl_s_server, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gnutls_serv, setup, teardown),
	};
	int rc;

	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
