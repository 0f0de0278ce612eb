/* test_cli_node.c: `mpc-backup node hello` with the TLS key in a SoftHSM2 token, against
 * independent TLS 1.3 stacks holding a node-style certificate (tests/interop/make-node-certs)
 * and requiring a client certificate:
 *   - openssl s_server -HTTP (serves ./hello as a raw HTTP response) with -trace: its trace of
 *     the handshake shows what it negotiated and the client certificate it received;
 *   - gnutls-serv --http --httpdata, verifying the client certificate against the dummy issuer:
 *     it logs the handshake and the certificate it received;
 *   - rustls-node (rustls 0.20 + webpki, configured as the node's migration server), when it
 *     was built: accepted with the token's key, refused with another expected key.
 * The assertions are on what each server REPORTS: TLS 1.3, exactly one client certificate,
 * the node-style names (CN=rcgen self signed cert, DNS:dummy), the token's public key, and the
 * certificate's bytes equal to mpc_node_cert_leaf(token key).
 * Then the error paths of `node hello` against fake-node: wrong --node-key, refused key, TLS
 * 1.2 only, a hanging node, a node that stalls then closes, connection refused, malformed and
 * missing arguments; and a token whose TLS private key is gone. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "src/node/cert.h"
#include "src/util/encoding.h"
#include "tests/cli/cli_harness.h"
#include "tests/support/softhsm.h"

struct fx {
	struct th_softhsm hsm;
	char key[64];          /* the token's TLS key, ed25519:<base58> */
	uint8_t pub[32];
	char srv[512];         /* make-node-certs output directory */
	char server_key[64];   /* the server leaf's key */
	char leaf[600], leaf_key[600], issuer[600];
	pid_t pid;             /* a server */
	int stdin_fd;          /* rustls-node's stdin */
	char log[600];
	struct nh_node node;
	struct ch_result r;
	char addr[64];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char cmd[1200], line[256] = "";
	FILE *p;

	assert_non_null(f);
	f->stdin_fd = -1;
	assert_int_equal(th_softhsm_setup(&f->hsm, "mpc-backup", NULL), 0);
	ch_token_init(f->hsm.uri, f->key);
	assert_int_equal(mpc_ed25519_key_parse(f->key, f->pub, "token key", NULL), MPC_OK);
	snprintf(f->srv, sizeof(f->srv), "%s/srv", f->hsm.dir);
	assert_int_equal(mkdir(f->srv, 0700), 0);
	snprintf(cmd, sizeof(cmd), "'%s' '%s'", MAKE_NODE_CERTS_PATH, f->srv);
	p = popen(cmd, "r");
	assert_non_null(p);
	if (fgets(line, sizeof(line), p) == NULL)
		line[0] = '\0';
	assert_int_equal(pclose(p), 0);
	assert_int_equal(strncmp(line, "KEY ed25519:", 12), 0);
	snprintf(f->server_key, sizeof(f->server_key), "%.*s", (int)strcspn(line + 4, "\n"), line + 4);
	snprintf(f->leaf, sizeof(f->leaf), "%s/leaf.pem", f->srv);
	snprintf(f->leaf_key, sizeof(f->leaf_key), "%s/leaf-key.pem", f->srv);
	snprintf(f->issuer, sizeof(f->issuer), "%s/issuer.pem", f->srv);
	snprintf(f->log, sizeof(f->log), "%s/server.log", f->hsm.dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->stdin_fd >= 0)
		close(f->stdin_fd);
	ch_stop(&f->pid);
	nh_stop(&f->node);
	ch_result_free(&f->r);
	th_softhsm_teardown(&f->hsm);
	free(f);
	return 0;
}

static int have(const char *tool)
{
	char cmd[200];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	return system(cmd) == 0;
}

static void hello_ok(struct fx *f, const char *node_key)
{
	json_t *j;
	json_error_t je;

	ch_run(&f->r, NULL, NULL, "node", "hello", "--json", "--token", f->hsm.uri, "--node",
	       f->addr, "--node-key", node_key, "--node-timeout", "30", (char *)NULL);
	ch_expect(&f->r, 0, NULL);
	j = json_loads(f->r.out, 0, &je);
	if (j == NULL)
		fail_msg("not JSON: %s", f->r.out);
	assert_true(json_is_true(json_object_get(j, "hello")));
	assert_string_equal(json_string_value(json_object_get(j, "client_key")), f->key);
	assert_string_equal(json_string_value(json_object_get(j, "node_key")), node_key);
	assert_string_equal(json_string_value(json_object_get(j, "node")), f->addr);
	json_decref(j);
}

/* The DER of the PEM certificate starting at `pem`, compared with our leaf for the token key. */
static void expect_our_leaf(const struct fx *f, const char *pem, const char *who)
{
	const char *end = strstr(pem, "-----END CERTIFICATE-----");
	BIO *bio;
	X509 *got, *want;
	unsigned char *d1 = NULL, *d2 = NULL;
	int l1, l2;

	assert_non_null(end);
	bio = BIO_new_mem_buf(pem, (int)(end - pem) + 25);
	got = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_non_null(got);
	want = mpc_node_cert_leaf(f->pub, NULL);
	assert_non_null(want);
	l1 = i2d_X509(got, &d1);
	l2 = i2d_X509(want, &d2);
	if (l1 != l2 || memcmp(d1, d2, (size_t)l1) != 0)
		fail_msg("%s received a client certificate other than our leaf for the token key", who);
	OPENSSL_free(d1);
	OPENSSL_free(d2);
	X509_free(got);
	X509_free(want);
}

/* Collect the hex digits (with ':' and whitespace between them) following `p`, up to 64. */
static void hex_after(const char *p, char out[65])
{
	size_t k = 0;

	for (; *p != '\0' && k < 64; p++)
		if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))
			out[k++] = *p;
		else if (*p != ':' && *p != '\n' && *p != '\t' && *p != ' ')
			break;
	out[k] = '\0';
}

/* The trace record (from "Sent Record"/"Received Record" to the next) that contains needle. */
static char *trace_record(const char *trace, const char *dir, const char *needle)
{
	const char *p = trace;

	while ((p = strstr(p, dir)) != NULL) {
		const char *next_s = strstr(p + 1, "\nSent Record"), *next_r = strstr(p + 1, "\nReceived Record");
		const char *end = next_s == NULL ? next_r : next_r == NULL ? next_s : next_s < next_r ? next_s : next_r;
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char *rec = strndup(p, n);

		assert_non_null(rec);
		if (strstr(rec, needle) != NULL)
			return rec;
		free(rec);
		p += n;
	}
	return NULL;
}

static int count(const char *s, const char *needle)
{
	int n = 0;

	for (const char *p = s; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/* 6a. openssl s_server: the token-backed key in a real OpenSSL TLS 1.3 handshake. */
static void test_openssl_s_server(void **state)
{
	struct fx *f = *state;
	char www[600], trace[600], hello[600], want_hex[65], got_hex[65], *log, *text, *rec;
	const char *p;
	unsigned port = 0;

	if (!have("openssl"))
		skip();
	snprintf(www, sizeof(www), "%s/www", f->hsm.dir);
	snprintf(trace, sizeof(trace), "%s/trace.log", f->hsm.dir);
	assert_int_equal(mkdir(www, 0700), 0);
	/* -HTTP sends ./hello as the whole response */
	ch_write(www, "hello",
		 "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!",
		 hello);
	{
		char *argv[] = { "openssl", "s_server", "-tls1_3", "-Verify", "1", "-cert", f->leaf,
				 "-key", f->leaf_key, "-HTTP", "-accept", "127.0.0.1:0", "-trace",
				 "-msgfile", trace, NULL };

		f->pid = ch_spawn(argv, www, f->log);
	}
	log = ch_wait_file(f->log, "ACCEPT 127.0.0.1:");
	p = strstr(log, "ACCEPT 127.0.0.1:");
	assert_int_equal(sscanf(p, "ACCEPT 127.0.0.1:%u", &port), 1);
	free(log);
	snprintf(f->addr, sizeof(f->addr), "127.0.0.1:%u", port);

	hello_ok(f, f->server_key);
	free(ch_wait_file(f->log, "FILE:hello")); /* it served the request after the handshake */
	ch_stop(&f->pid);
	text = ch_read(trace, NULL);
	assert_non_null(text);

	/* What it negotiated: TLS 1.3 in its ServerHello. */
	rec = trace_record(text, "Sent Record", "ServerHello");
	assert_non_null(rec);
	assert_non_null(strstr(rec, "extension_type=supported_versions(43), length=2\n            TLS 1.3 (772)"));
	free(rec);
	/* The client certificate it received: one, node-style, the token's key, our exact leaf. */
	rec = trace_record(text, "Received Record", "    Certificate, Length=");
	if (rec == NULL)
		fail_msg("s_server received no client Certificate message:\n%s", text);
	assert_int_equal(count(rec, "ASN.1Cert, length="), 1);
	assert_non_null(strstr(rec, "Subject: CN = rcgen self signed cert"));
	assert_non_null(strstr(rec, "Issuer: CN = rcgen self signed cert"));
	assert_non_null(strstr(rec, "X509v3 Subject Alternative Name: \n                DNS:dummy\n"));
	assert_non_null(strstr(rec, "Public Key Algorithm: ED25519"));
	p = strstr(rec, "pub:");
	assert_non_null(p);
	hex_after(p + 4, got_hex);
	assert_int_equal(mpc_hex_encode(f->pub, 32, want_hex, sizeof(want_hex), NULL), MPC_OK);
	assert_string_equal(got_hex, want_hex);
	p = strstr(rec, "-----BEGIN CERTIFICATE-----");
	assert_non_null(p);
	expect_our_leaf(f, p, "openssl s_server");
	free(rec);
	/* ... and its CertificateVerify, signed with Ed25519 by the token. */
	rec = trace_record(text, "Received Record", "CertificateVerify");
	assert_non_null(rec);
	assert_non_null(strstr(rec, "Signature Algorithm: ed25519 (0x0807)"));
	free(rec);
	free(text);
}

/* 6b. gnutls-serv: the token-backed key in a GnuTLS TLS 1.3 handshake, chain verified. */
static void test_gnutls_serv(void **state)
{
	struct fx *f = *state;
	char body[600], port_s[16], want_hex[65], got_hex[65], *log = NULL;
	const char *p;
	unsigned port = 0;

	if (!have("gnutls-serv"))
		skip();
	ch_write(f->hsm.dir, "hello.txt", "Hello, world!", body);
	for (int attempt = 0; attempt < 5 && port == 0; attempt++) {
		unsigned candidate = ch_free_port();
		char *argv[] = { "gnutls-serv", "--x509certfile", f->leaf, "--x509keyfile", f->leaf_key,
				 "--x509cafile", f->issuer, "--require-client-cert",
				 "--verify-client-cert", "--http", "--httpdata", body, "-p", port_s,
				 "--priority", "NORMAL:-VERS-ALL:+VERS-TLS1.3", NULL };

		snprintf(port_s, sizeof(port_s), "%u", candidate);
		f->pid = ch_spawn(argv, NULL, f->log);
		log = ch_wait_file(f->log, "Server listening");
		if (strstr(log, "listening on IPv4 0.0.0.0 port") != NULL && strstr(log, "...done") != NULL)
			port = candidate;
		else
			ch_stop(&f->pid); /* the port was taken meanwhile: another */
		free(log);
	}
	assert_true(port != 0);
	snprintf(f->addr, sizeof(f->addr), "127.0.0.1:%u", port);

	hello_ok(f, f->server_key);
	log = ch_wait_file(f->log, "- Client Signature:");
	ch_stop(&f->pid);
	free(log);
	log = ch_read(f->log, NULL);
	assert_non_null(log);
	p = strstr(log, "* Accepted connection");
	assert_non_null(p);
	/* its chain check against the dummy issuer, and the protocol */
	assert_non_null(strstr(p, "- Status: The certificate is trusted."));
	assert_non_null(strstr(p, "- Version: TLS1.3"));
	assert_non_null(strstr(p, "- Client Signature: EdDSA-Ed25519"));
	assert_non_null(strstr(p, "(TLS1.3-X.509)"));
	assert_non_null(strstr(p, "- Got a certificate list of 1 certificates."));
	assert_non_null(strstr(p, "Subject: CN=rcgen self signed cert"));
	assert_non_null(strstr(p, "Issuer: CN=rcgen self signed cert"));
	assert_non_null(strstr(p, "DNSname: dummy"));
	p = strstr(p, "Curve:\tEd25519");
	assert_non_null(p);
	p = strstr(p, "X:");
	assert_non_null(p);
	hex_after(p + 2, got_hex);
	assert_int_equal(mpc_hex_encode(f->pub, 32, want_hex, sizeof(want_hex), NULL), MPC_OK);
	assert_string_equal(got_hex, want_hex);
	p = strstr(p, "-----BEGIN CERTIFICATE-----");
	assert_non_null(p);
	expect_our_leaf(f, p, "gnutls-serv");
	free(log);
}

static int rustls_missing(void)
{
	if (access(RUSTLS_NODE_PATH, X_OK) != 0) {
		print_message("rustls-node was not built (%s): see tests/interop/README.md\n",
			      RUSTLS_NODE_PATH);
		return 1;
	}
	return 0;
}

static void rustls_start(struct fx *f, const char *client_key)
{
	char *argv[] = { RUSTLS_NODE_PATH, "--port", "0", "--cert", f->leaf, "--key", f->leaf_key,
			 "--root", f->issuer, "--client-key", (char *)client_key, NULL };
	char *log;
	unsigned port = 0;

	f->pid = ch_spawn_piped(argv, NULL, f->log, &f->stdin_fd);
	log = ch_wait_file(f->log, "PORT ");
	assert_int_equal(sscanf(strstr(log, "PORT "), "PORT %u", &port), 1);
	free(log);
	snprintf(f->addr, sizeof(f->addr), "127.0.0.1:%u", port);
}

static void rustls_stop(struct fx *f)
{
	if (f->stdin_fd >= 0)
		close(f->stdin_fd);
	f->stdin_fd = -1;
	ch_stop(&f->pid);
}

/* 6c. rustls-node: accepted with the token's key, refused (21) when it expects another. */
static void test_rustls_node(void **state)
{
	struct fx *f = *state;
	char want[200], *log;

	if (rustls_missing())
		skip();
	rustls_start(f, f->key);
	ch_run(&f->r, NULL, NULL, "node", "hello", "--token", f->hsm.uri, "--node", f->addr,
	       "--node-key", f->server_key, (char *)NULL);
	ch_expect(&f->r, 0, "answered \"Hello, world!\" over mutual TLS 1.3");
	snprintf(want, sizeof(want), "accepted client %s (sni dummy, Some(TLSv1_3)", f->key);
	free(ch_wait_file(f->log, want));
	rustls_stop(f);

	/* It expects another backup-service key (here: its own): our key is refused. */
	rustls_start(f, f->server_key);
	ch_run(&f->r, NULL, NULL, "node", "hello", "--token", f->hsm.uri, "--node", f->addr,
	       "--node-key", f->server_key, (char *)NULL);
	ch_expect(&f->r, 21, "refused our client key");
	ch_expect_one_error_line(&f->r, "node hello");
	assert_non_null(strstr(f->r.err, f->key));
	snprintf(want, sizeof(want), "rejected client %s: public key mismatch, expected %s", f->key,
		 f->server_key);
	log = ch_wait_file(f->log, want);
	assert_null(strstr(log, "accepted client"));
	free(log);
	rustls_stop(f);
}

static void start_node(struct fx *f, const char *client_key, const char *fault)
{
	const char *args[] = { "--client-key", client_key, fault ? "--fault" : NULL, fault, NULL };

	nh_stop(&f->node);
	assert_int_equal(nh_start(&f->node, args), 0);
	snprintf(f->addr, sizeof(f->addr), "127.0.0.1:%u", f->node.port);
}

static void hello_fails(struct fx *f, const char *node, const char *node_key, const char *timeout,
			int status, const char *needle)
{
	const char *args[16];
	int k = 0;

	args[k++] = "node";
	args[k++] = "hello";
	args[k++] = "--token";
	args[k++] = f->hsm.uri;
	if (node != NULL) {
		args[k++] = "--node";
		args[k++] = node;
	}
	if (node_key != NULL) {
		args[k++] = "--node-key";
		args[k++] = node_key;
	}
	if (timeout != NULL) {
		args[k++] = "--node-timeout";
		args[k++] = timeout;
	}
	args[k] = NULL;
	ch_runv(&f->r, NULL, NULL, args);
	ch_expect(&f->r, status, needle);
	ch_expect_one_error_line(&f->r, "node hello");
	assert_int_equal(f->r.out_len, 0);
	assert_null(strstr(f->r.err, TH_USER_PIN));
}

/* 7. node hello's errors, each with its exit status and a one-line message. */
static void test_hello_errors(void **state)
{
	struct fx *f = *state;
	char addr[64], line[256];
	unsigned port = 0;
	int fd;

	start_node(f, f->key, NULL);
	hello_ok(f, f->node.key_str); /* the control */
	/* The node's key is not the one given: 21, both keys named; nothing asked. */
	hello_fails(f, f->addr, f->key, NULL, 21, f->node.key_str);
	assert_non_null(strstr(f->r.err, f->key));
	/* The node refuses our key (another one is registered): 21. */
	start_node(f, f->server_key, NULL);
	hello_fails(f, f->addr, f->node.key_str, NULL, 21, "refused our client key");
	assert_non_null(strstr(f->r.err, f->key));
	assert_int_equal(nh_wait_line(&f->node, "REFUSED ", 20000, line, sizeof(line)), 0);
	assert_non_null(strstr(line, f->key));
	/* TLS 1.2 only: 20. */
	start_node(f, f->key, "tls12");
	hello_fails(f, f->addr, f->node.key_str, NULL, 20, "TLS 1.3");
	/* A node that never answers, with a 1 s budget: 23. */
	start_node(f, f->key, "hang");
	hello_fails(f, f->addr, f->node.key_str, "1", 23, "no complete answer");
	assert_null(strstr(f->r.err, "refused"));
	/* One that takes our key, holds the request 3 s and closes without an answer failed
	 * mid-request: 22, not "refused our key" (21). */
	start_node(f, f->key, "stall-close");
	hello_fails(f, f->addr, f->node.key_str, "20", 22, "not a refusal of our key");
	assert_null(strstr(f->r.err, "refused our"));
	nh_stop(&f->node);
	/* The TCP connection is taken and no TLS byte ever comes: a timeout (23) that says so,
	 * by the --node-timeout given (it said "no TCP connection within the connect timeout of
	 * 10000 ms"). */
	fd = ch_stalling_port(&port);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	hello_fails(f, addr, f->server_key, "1", 23, "no TLS connection within 1000 ms");
	assert_null(strstr(f->r.err, "refused"));
	close(fd);
	/* Plain HTTP on the port: a clear message, not OpenSSL's "wrong version number". */
	{
		pid_t pid;

		fd = ch_stalling_port(&port);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			static const char reply[] =
				"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
			char buf[4096];
			int cfd = accept(fd, NULL, NULL);

			if (cfd < 0 || read(cfd, buf, sizeof(buf)) <= 0 ||
			    write(cfd, reply, sizeof(reply) - 1) < 0)
				_exit(1);
			close(cfd);
			_exit(0);
		}
		snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
		hello_fails(f, addr, f->server_key, "5", 20, "plain HTTP");
		assert_null(strstr(f->r.err, "wrong version number"));
		close(fd);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	/* Nothing listens: 22. */
	fd = ch_refusing_port(&port);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	hello_fails(f, addr, f->server_key, NULL, 22, "cannot connect");
	close(fd);
	/* Malformed or missing arguments. */
	hello_fails(f, "foo bar:99", f->server_key, NULL, 65, "node address");
	hello_fails(f, "127.0.0.1:notaport", f->server_key, NULL, 65, "node address");
	hello_fails(f, "[::1", f->server_key, NULL, 65, "node address");
	hello_fails(f, addr, NULL, NULL, 2, "--node-key ed25519:... is required");
	hello_fails(f, NULL, f->server_key, NULL, 2, "--node HOST:PORT is required");
	hello_fails(f, addr, "ed25519:xyz", NULL, 65, "--node-key");
	hello_fails(f, addr, "secp256k1:abc", NULL, 65, "--node-key");
	hello_fails(f, addr, f->server_key, "0", 2, "--node-timeout");
	hello_fails(f, addr, f->server_key, "soon", 2, "--node-timeout");
	ch_run(&f->r, NULL, NULL, "node", "goodbye", (char *)NULL);
	ch_expect(&f->r, 2, "unknown subcommand");
	ch_run(&f->r, NULL, NULL, "node", "hello", "--token", f->hsm.uri, "--node", addr,
	       "--node-key", f->server_key, "extra", (char *)NULL);
	ch_expect(&f->r, 2, NULL);
}

/* The token's TLS private key deleted (pkcs11-tool, an independent tool): the handshake fails
 * on our side, and it is the token's problem (10, naming the token), not the node's (21). */
static void test_hello_unusable_token_key(void **state)
{
	struct fx *f = *state;
	char cmd[1024], out[4096];

	start_node(f, f->key, NULL);
	hello_ok(f, f->node.key_str);
	snprintf(cmd, sizeof(cmd), "pkcs11-tool --module '%s' --token-label mpc-backup --login "
		 "--pin %s --delete-object --type privkey --label mpc-backup-tls 2>&1",
		 f->hsm.module, TH_USER_PIN);
	if (th_run(cmd, out, sizeof(out)) != 0)
		fail_msg("%s: %s", cmd, out);
	hello_fails(f, f->addr, f->node.key_str, NULL, 10, "our TLS key could not sign");
	assert_non_null(strstr(f->r.err, "token \"mpc-backup\""));
	assert_null(strstr(f->r.err, "refused"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_openssl_s_server, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gnutls_serv, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rustls_node, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hello_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hello_unusable_token_key, setup, teardown),
	};

	return CH_MAIN(tests);
}
