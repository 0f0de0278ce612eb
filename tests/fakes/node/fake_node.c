/* fake_node.c: `fake-node`, a stand-in for an MPC node's migration web server, for tests.
 *
 * It speaks what near/mpc crates/node/src/migration_service/web/server.rs speaks: TLS 1.3 with
 * a node-style certificate (its leaf alone, built by src/node/cert.c), a required client
 * certificate signed by the dummy issuer, and after the handshake it keeps the connection only
 * if the client's Ed25519 key is the configured backup service key, otherwise it closes the
 * socket with no HTTP answer and no close_notify (as the node drops the stream). Then HTTP/1.1
 * with keep-alive, one thread per connection:
 *   GET /hello          200 "Hello, world!"
 *   GET /get_keyshares  body = Keyset JSON; 400 "Invalid keyset: ..." if unparsable; the
 *                       keyshares whose key_id matches (epoch_id, domain_id, attempt) for every
 *                       domain, in keyset order, encrypted, 200 with content-type
 *                       application/json; 500 "Failed to get keyshares" if one is missing
 *   PUT /set_keyshares  body = encrypted JSON array; 400 "Invalid Json or encryption: ..." or
 *                       200 "Keyshares received." after writing the decrypted bytes, exactly
 *                       as received, atomically to the --received file
 *   anything else       404 "Not Found"
 * Bodies are read with a 64 MiB bound (the real node has none); socket reads time out at 30 s.
 *
 * Usage: fake-node [options]
 *   --port N               listen port (default 0: any free port)
 *   --ipv6                 listen on [::1] instead of 127.0.0.1
 *   --key-file PATH        the node's Ed25519 private key, PEM (default: a fresh key)
 *   --client-key KEY       "ed25519:<base58>", the only client key accepted (default: none is)
 *   --keyshares PATH       JSON array of Keyshares to serve (default: [])
 *   --received PATH        where /set_keyshares writes what it got (default: not written)
 *   --fault NAME           hang | status500 | garbage | garbage-http | oversize |
 *                          oversize-noclen | slow | wrong-server-key | tls12 | no-client-cert |
 *                          receiver-closed | stall-close | reject-cert
 *   --oversize-bytes N     body size for the oversize faults (default 17 MiB)
 *   --drip-ms N            pause between bytes for --fault slow (default 100)
 *   --stall-ms N           how long --fault stall-close holds a request (default 3000)
 * Environment: MPC_BACKUP_ENCRYPTION_KEY_HEX, the transport key (64 hex), required, as the node.
 * Stdout: "PORT <n>" then "KEY ed25519:<base58>" (the key it advertises), each flushed; then
 * one line per event ("ACCEPTED", "REFUSED ed25519:...", "SET <n>", "GET <n>", "CLOSED <n>").
 * Stderr: errors.
 * Runs until killed.
 *
 * Faults: hang = read requests, never answer; status500 = every request gets 500 "Failed to get
 * keyshares"; garbage = 200 with the node's plain-text failure body "internal error serializing
 * or encrypting keyshares"; garbage-http = bytes that are not HTTP; oversize = 200 with a
 * Content-Length body of --oversize-bytes; oversize-noclen = the same body delimited by closing
 * the connection; slow = every response dripped one byte at a time; wrong-server-key = prints
 * one key but presents another; tls12 = TLS 1.2 only; no-client-cert = never asks for a client
 * certificate (and accepts any client); receiver-closed = /set_keyshares decrypts and parses
 * the body, then answers 500 "keyshares receiver channel is closed" as a node that has left
 * onboarding does (near/mpc #3406; event "CLOSED <n>"), everything else as normal;
 * stall-close = accept the key, read a request, hold it --stall-ms, then close the socket with
 * no answer and no close_notify (event "STALLED"), as a node that fails mid-request;
 * reject-cert = refuse a client key other than --client-key inside the handshake, with a
 * bad_certificate alert (what an OpenSSL or Go server does; in TLS 1.3 the client reads it
 * after its Finished), instead of the node's drop after the handshake.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "src/node/body.h"
#include "src/node/cert.h"
#include "src/util/encoding.h"
#include "src/util/file.h"
#include "src/util/mem.h"

#define HEADER_MAX 16384
#define BODY_MAX   ((size_t)64 << 20)

struct config {
	int port;
	int ipv6;
	const char *key_file;
	int have_client_key;
	uint8_t client_key[32];
	const char *keyshares_file;
	const char *received_file;
	const char *fault;
	size_t oversize_bytes;
	long drip_ms;
	long stall_ms;
	struct mpc_transport_key tk;
	json_t *keyshares; /* array */
	SSL_CTX *ctx;
	pthread_mutex_t out_lock;
};

struct conn {
	struct config *cfg;
	int fd;
};

static int fault_is(const struct config *cfg, const char *name)
{
	return cfg->fault != NULL && strcmp(cfg->fault, name) == 0;
}

static void event(struct config *cfg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void event(struct config *cfg, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&cfg->out_lock);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	pthread_mutex_unlock(&cfg->out_lock);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int write_all(SSL *ssl, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		int chunk = n > (1 << 20) ? (1 << 20) : (int)n;
		int w = SSL_write(ssl, b, chunk);

		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static int send_response(struct conn *c, SSL *ssl, int status, const char *ctype, const void *body,
			 size_t n)
{
	const char *reason = status == 200   ? "OK"
			     : status == 400 ? "Bad Request"
			     : status == 404 ? "Not Found"
					     : "Internal Server Error";
	char head[512];
	int hl;

	hl = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\n%s%s%scontent-length: %zu\r\n\r\n",
		      status, reason, ctype ? "content-type: " : "", ctype ? ctype : "",
		      ctype ? "\r\n" : "", n);
	if (fault_is(c->cfg, "slow")) {
		for (int i = 0; i < hl; i++) {
			if (SSL_write(ssl, head + i, 1) != 1)
				return -1;
			sleep_ms(c->cfg->drip_ms);
		}
		for (size_t i = 0; i < n; i++) {
			if (SSL_write(ssl, (const uint8_t *)body + i, 1) != 1)
				return -1;
			sleep_ms(c->cfg->drip_ms);
		}
		return 0;
	}
	if (n <= 65536) { /* one TLS record for head and body, as hyper writes them */
		char *one = malloc((size_t)hl + n);
		int rc;

		if (one == NULL)
			return -1;
		memcpy(one, head, (size_t)hl);
		if (n > 0)
			memcpy(one + hl, body, n);
		rc = write_all(ssl, one, (size_t)hl + n);
		free(one);
		return rc;
	}
	if (write_all(ssl, head, (size_t)hl) != 0)
		return -1;
	return write_all(ssl, body, n);
}

static int send_text(struct conn *c, SSL *ssl, int status, const char *text)
{
	return send_response(c, ssl, status, NULL, text, strlen(text));
}

/* The stored keyshares matching the keyset, in keyset order; NULL if one is missing. */
static json_t *select_keyshares(const struct config *cfg, json_t *keyset)
{
	json_t *out = json_array(), *domains = json_object_get(keyset, "domains");
	json_int_t epoch = json_integer_value(json_object_get(keyset, "epoch_id"));
	size_t i, j;
	json_t *d, *ks;

	json_array_foreach(domains, i, d)
	{
		json_int_t dom = json_integer_value(json_object_get(d, "domain_id"));
		json_int_t att = json_integer_value(json_object_get(d, "attempt"));
		json_t *found = NULL;

		json_array_foreach(cfg->keyshares, j, ks)
		{
			json_t *id = json_object_get(ks, "key_id");

			if (json_integer_value(json_object_get(id, "epoch_id")) == epoch &&
			    json_integer_value(json_object_get(id, "domain_id")) == dom &&
			    json_integer_value(json_object_get(id, "attempt_id")) == att)
				found = ks;
		}
		if (found == NULL) {
			json_decref(out);
			return NULL;
		}
		json_array_append(out, found);
	}
	return out;
}

static int handle_get_keyshares(struct conn *c, SSL *ssl, const char *body, size_t n)
{
	struct config *cfg = c->cfg;
	json_error_t jerr;
	json_t *keyset = json_loadb(body, n, 0, &jerr), *sel = NULL;
	char *plain = NULL, *enc = NULL, msg[300];
	size_t enc_len = 0;
	struct mpc_err e = { 0 };
	int rc;

	if (keyset == NULL || !json_is_object(keyset) ||
	    !json_is_integer(json_object_get(keyset, "epoch_id")) ||
	    !json_is_array(json_object_get(keyset, "domains"))) {
		snprintf(msg, sizeof(msg), "Invalid keyset: %s",
			 keyset == NULL ? jerr.text : "missing field `epoch_id` or `domains`");
		rc = send_text(c, ssl, 400, msg);
		goto out;
	}
	sel = select_keyshares(cfg, keyset);
	if (sel == NULL) {
		rc = send_text(c, ssl, 500, "Failed to get keyshares");
		goto out;
	}
	plain = json_dumps(sel, JSON_COMPACT);
	if (plain == NULL || mpc_body_encrypt(&cfg->tk, (const uint8_t *)plain, strlen(plain), &enc,
					      &enc_len, &e) != MPC_OK) {
		rc = send_response(c, ssl, 200, "application/json",
				   "internal error serializing or encrypting keyshares", 50);
		goto out;
	}
	event(cfg, "GET %zu", json_array_size(sel));
	rc = send_response(c, ssl, 200, "application/json", enc, enc_len);
out:
	if (plain != NULL) {
		mpc_memzero(plain, strlen(plain));
		free(plain);
	}
	free(enc);
	json_decref(sel);
	json_decref(keyset);
	return rc;
}

static int handle_set_keyshares(struct conn *c, SSL *ssl, const char *body, size_t n)
{
	struct config *cfg = c->cfg;
	struct mpc_err e = { 0 };
	uint8_t *pt = NULL;
	size_t pt_len = 0;
	json_t *arr = NULL;
	json_error_t jerr;
	char msg[MPC_ERR_MSG_MAX + 64];
	int rc;

	if (mpc_body_decrypt(&cfg->tk, body, n, BODY_MAX, &pt, &pt_len, &e) != MPC_OK) {
		snprintf(msg, sizeof(msg), "Invalid Json or encryption: %s", e.msg);
		rc = send_text(c, ssl, 400, msg);
		goto out;
	}
	arr = json_loadb((const char *)pt, pt_len, 0, &jerr);
	if (arr == NULL || !json_is_array(arr)) {
		snprintf(msg, sizeof(msg), "Invalid Json or encryption: %s",
			 arr == NULL ? jerr.text : "expected a sequence");
		rc = send_text(c, ssl, 400, msg);
		goto out;
	}
	if (fault_is(cfg, "receiver-closed")) {
		/* The node decrypted the body but has left onboarding: nothing imports it. */
		event(cfg, "CLOSED %zu", json_array_size(arr));
		rc = send_text(c, ssl, 500, "keyshares receiver channel is closed");
		goto out;
	}
	if (cfg->received_file != NULL &&
	    mpc_file_write_atomic(cfg->received_file, pt, pt_len, 0600, 0, &e) != MPC_OK) {
		fprintf(stderr, "fake-node: %s\n", e.msg);
		rc = send_text(c, ssl, 500, "keyshares receiver channel is closed");
		goto out;
	}
	event(cfg, "SET %zu", json_array_size(arr));
	rc = send_text(c, ssl, 200, "Keyshares received.");
out:
	json_decref(arr);
	mpc_secure_free(pt);
	return rc;
}

static int send_oversize(struct conn *c, SSL *ssl, int with_length)
{
	size_t n = c->cfg->oversize_bytes, chunk = 65536;
	char head[200];
	char *buf = malloc(chunk);
	int rc = -1;

	if (buf == NULL)
		return -1;
	memset(buf, 'A', chunk);
	if (with_length)
		snprintf(head, sizeof(head),
			 "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
			 "%zu\r\n\r\n",
			 n);
	else
		snprintf(head, sizeof(head),
			 "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: "
			 "close\r\n\r\n");
	if (write_all(ssl, head, strlen(head)) != 0)
		goto out;
	while (n > 0) {
		size_t k = n < chunk ? n : chunk;

		if (write_all(ssl, buf, k) != 0)
			goto out;
		n -= k;
	}
	rc = with_length ? 0 : -1; /* without a length the connection must end */
out:
	free(buf);
	return rc;
}

/* Read one request. Returns 1 with head/body filled, 0 on a clean end, -1 on error. */
static int read_request(SSL *ssl, char *head, size_t *head_len, char **body, size_t *body_len,
			char *carry, size_t *carry_len)
{
	size_t n = *carry_len, cl = 0;
	char *end = NULL, *p;

	memcpy(head, carry, n);
	*carry_len = 0;
	while ((end = memmem(head, n, "\r\n\r\n", 4)) == NULL) {
		int r;

		if (n >= HEADER_MAX)
			return -1;
		r = SSL_read(ssl, head + n, (int)(HEADER_MAX - n));
		if (r <= 0)
			return n == 0 ? 0 : -1;
		n += (size_t)r;
	}
	*head_len = (size_t)(end - head) + 4;
	head[*head_len - 2] = '\0';
	for (p = strstr(head, "\r\n"); p != NULL; p = strstr(p + 2, "\r\n"))
		if (strncasecmp(p + 2, "content-length:", 15) == 0)
			cl = strtoul(p + 17, NULL, 10);
	if (strcasestr(head, "\r\ntransfer-encoding:") != NULL || cl > BODY_MAX)
		return -1;
	*body = malloc(cl + 1);
	if (*body == NULL)
		return -1;
	{
		size_t have = n - *head_len;

		if (have > cl) { /* pipelined bytes: keep them for the next request */
			*carry_len = have - cl;
			memcpy(carry, head + *head_len + cl, *carry_len);
			have = cl;
		}
		memcpy(*body, head + *head_len, have);
		while (have < cl) {
			int r = SSL_read(ssl, *body + have,
					 (int)(cl - have > (1u << 20) ? (1u << 20) : cl - have));

			if (r <= 0) {
				free(*body);
				*body = NULL;
				return -1;
			}
			have += (size_t)r;
		}
	}
	(*body)[cl] = '\0';
	*body_len = cl;
	return 1;
}

static int serve(struct conn *c, SSL *ssl)
{
	static char junk[] = "\x16\x03garbage that is not HTTP\r\n\r\n\x00\xff";
	char *head = malloc(HEADER_MAX + 1), *carry = malloc(HEADER_MAX);
	size_t carry_len = 0;
	int rc = 0;

	if (head == NULL || carry == NULL)
		goto out;
	for (;;) {
		char method[16] = "", path[256] = "";
		size_t head_len = 0, body_len = 0;
		char *body = NULL;
		int r = read_request(ssl, head, &head_len, &body, &body_len, carry, &carry_len);

		if (r <= 0)
			break;
		if (sscanf(head, "%15s %255s", method, path) != 2) {
			free(body);
			break;
		}
		if (fault_is(c->cfg, "hang")) {
			free(body);
			continue; /* read the next request (or EOF) and never answer */
		}
		if (fault_is(c->cfg, "stall-close")) {
			free(body);
			event(c->cfg, "STALLED");
			sleep_ms(c->cfg->stall_ms);
			rc = -1; /* drop: no answer, no close_notify */
			break;
		}
		if (fault_is(c->cfg, "status500"))
			rc = send_text(c, ssl, 500, "Failed to get keyshares");
		else if (fault_is(c->cfg, "garbage-http"))
			rc = write_all(ssl, junk, sizeof(junk)) | -1; /* then close */
		else if (fault_is(c->cfg, "oversize") || fault_is(c->cfg, "oversize-noclen"))
			rc = send_oversize(c, ssl, fault_is(c->cfg, "oversize"));
		else if (fault_is(c->cfg, "garbage") && strcmp(path, "/get_keyshares") == 0)
			rc = send_response(c, ssl, 200, "application/json",
					   "internal error serializing or encrypting keyshares",
					   50);
		else if (strcmp(method, "GET") == 0 && strcmp(path, "/hello") == 0)
			rc = send_text(c, ssl, 200, "Hello, world!");
		else if (strcmp(method, "GET") == 0 && strcmp(path, "/get_keyshares") == 0)
			rc = handle_get_keyshares(c, ssl, body, body_len);
		else if (strcmp(method, "PUT") == 0 && strcmp(path, "/set_keyshares") == 0)
			rc = handle_set_keyshares(c, ssl, body, body_len);
		else
			rc = send_text(c, ssl, 404, "Not Found");
		free(body);
		if (rc != 0 || strcasestr(head, "\r\nconnection: close") != NULL)
			break;
	}
out:
	free(head);
	free(carry);
	return rc;
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	struct config *cfg = c->cfg;
	SSL *ssl = SSL_new(cfg->ctx);
	struct timeval tv = { 30, 0 };
	X509 *peer = NULL;
	uint8_t pub[32];
	char ks[MPC_ED25519_KEY_STR_MAX];
	int clean = 0;

	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (ssl == NULL || SSL_set_fd(ssl, c->fd) != 1)
		goto out;
	if (SSL_accept(ssl) != 1) {
		if (fault_is(cfg, "reject-cert")) {
			/* A lingering close, as TLS servers do after an alert: without it the
			 * client's request, sent after its Finished, would meet a reset that
			 * discards the alert before the client reads it. */
			char sink[4096];
			struct timeval lt = { 2, 0 };

			setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &lt, sizeof(lt));
			shutdown(c->fd, SHUT_WR);
			while (read(c->fd, sink, sizeof(sink)) > 0)
				;
		}
		goto out;
	}
	if (!fault_is(cfg, "no-client-cert")) {
		peer = SSL_get1_peer_certificate(ssl);
		if (peer == NULL || mpc_node_cert_pub(peer, pub, NULL) != MPC_OK)
			goto out;
		if (!cfg->have_client_key || !mpc_memeq_ct(pub, cfg->client_key, 32)) {
			mpc_ed25519_key_format(pub, ks, NULL);
			event(cfg, "REFUSED %s", ks);
			goto out; /* drop: no HTTP answer, no close_notify */
		}
	}
	event(cfg, "ACCEPTED");
	clean = serve(c, ssl) == 0;
out:
	if (clean)
		SSL_shutdown(ssl);
	ERR_clear_error();
	X509_free(peer);
	SSL_free(ssl);
	close(c->fd);
	free(c);
	return NULL;
}

/* Accept any single client certificate signed by the dummy issuer (what webpki checks against
 * the dummy root); the key itself is checked after the handshake, as the node does. */
static int client_verify_cb(X509_STORE_CTX *x, void *arg)
{
	const struct config *cfg = arg;
	STACK_OF(X509) *chain = X509_STORE_CTX_get0_untrusted(x);
	X509 *leaf = X509_STORE_CTX_get0_cert(x);
	EVP_PKEY *issuer = mpc_node_cert_dummy_key(NULL);
	uint8_t pub[32];
	int ok, err = X509_V_ERR_CERT_SIGNATURE_FAILURE;

	ok = leaf != NULL && chain != NULL && sk_X509_num(chain) == 1 && issuer != NULL &&
	     X509_verify(leaf, issuer) == 1;
	EVP_PKEY_free(issuer);
	/* reject-cert: the key is checked here, so a refusal is a handshake alert */
	if (ok && fault_is(cfg, "reject-cert") &&
	    (mpc_node_cert_pub(leaf, pub, NULL) != MPC_OK || !cfg->have_client_key ||
	     !mpc_memeq_ct(pub, cfg->client_key, 32))) {
		ok = 0;
		err = X509_V_ERR_CERT_REJECTED;
	}
	X509_STORE_CTX_set_error(x, ok ? X509_V_OK : err);
	return ok;
}

static EVP_PKEY *load_key(const char *path)
{
	EVP_PKEY *k = NULL;
	FILE *f;

	if (path == NULL)
		return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	return k;
}

static int usage(const char *why)
{
	fprintf(stderr, "fake-node: %s (see the top comment of tests/fakes/node/fake_node.c)\n",
		why);
	return 2;
}

int main(int argc, char **argv)
{
	struct config cfg = {
		.port = 0, .oversize_bytes = (size_t)17 << 20, .drip_ms = 100, .stall_ms = 3000
	};
	struct mpc_err e = { 0 };
	EVP_PKEY *key = NULL, *presented = NULL;
	X509 *leaf = NULL;
	uint8_t pub[32], ppub[32];
	char ks[MPC_ED25519_KEY_STR_MAX];
	int lfd, one = 1;

	signal(SIGPIPE, SIG_IGN);
	pthread_mutex_init(&cfg.out_lock, NULL);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--ipv6") == 0) {
			cfg.ipv6 = 1;
			continue;
		}
		if (v == NULL)
			return usage("missing option value");
		i++;
		if (strcmp(a, "--port") == 0)
			cfg.port = atoi(v);
		else if (strcmp(a, "--key-file") == 0)
			cfg.key_file = v;
		else if (strcmp(a, "--client-key") == 0) {
			if (mpc_ed25519_key_parse(v, cfg.client_key, "--client-key", &e) != MPC_OK)
				return usage(e.msg);
			cfg.have_client_key = 1;
		} else if (strcmp(a, "--keyshares") == 0)
			cfg.keyshares_file = v;
		else if (strcmp(a, "--received") == 0)
			cfg.received_file = v;
		else if (strcmp(a, "--fault") == 0)
			cfg.fault = v;
		else if (strcmp(a, "--oversize-bytes") == 0)
			cfg.oversize_bytes = strtoul(v, NULL, 10);
		else if (strcmp(a, "--drip-ms") == 0)
			cfg.drip_ms = atol(v);
		else if (strcmp(a, "--stall-ms") == 0)
			cfg.stall_ms = atol(v);
		else
			return usage("unknown option");
	}
	if (mpc_transport_key_from_env(&cfg.tk, "MPC_BACKUP_ENCRYPTION_KEY_HEX", &e) != MPC_OK)
		return usage(e.msg);
	if (cfg.keyshares_file != NULL) {
		json_error_t jerr;

		cfg.keyshares = json_load_file(cfg.keyshares_file, 0, &jerr);
		if (cfg.keyshares == NULL || !json_is_array(cfg.keyshares))
			return usage("--keyshares: not a JSON array");
	} else {
		cfg.keyshares = json_array();
	}
	key = load_key(cfg.key_file);
	if (key == NULL || mpc_node_pkey_pub(key, pub, &e) != MPC_OK)
		return usage("cannot load or make the node key");
	presented = key;
	if (fault_is(&cfg, "wrong-server-key")) {
		presented = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		if (presented == NULL)
			return usage("keygen failed");
	}
	if (mpc_node_pkey_pub(presented, ppub, &e) != MPC_OK ||
	    (leaf = mpc_node_cert_leaf(ppub, &e)) == NULL)
		return usage(e.msg);

	cfg.ctx = SSL_CTX_new(TLS_server_method());
	if (cfg.ctx == NULL)
		return usage("SSL_CTX_new failed");
	{
		int v = fault_is(&cfg, "tls12") ? TLS1_2_VERSION : TLS1_3_VERSION;

		SSL_CTX_set_min_proto_version(cfg.ctx, v);
		SSL_CTX_set_max_proto_version(cfg.ctx, v);
	}
	if (SSL_CTX_use_certificate(cfg.ctx, leaf) != 1 ||
	    SSL_CTX_use_PrivateKey(cfg.ctx, presented) != 1)
		return usage("cannot install the node certificate");
	SSL_CTX_set_mode(cfg.ctx, SSL_MODE_NO_AUTO_CHAIN);
	SSL_CTX_set_options(cfg.ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(cfg.ctx, SSL_SESS_CACHE_OFF);
	if (!fault_is(&cfg, "no-client-cert")) {
		SSL_CTX_set_verify(cfg.ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
				   NULL);
		SSL_CTX_set_cert_verify_callback(cfg.ctx, client_verify_cb, &cfg);
	}

	lfd = socket(cfg.ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (cfg.ipv6) {
		struct sockaddr_in6 a = { .sin6_family = AF_INET6,
					  .sin6_port = htons((uint16_t)cfg.port) };
		socklen_t al = sizeof(a);

		a.sin6_addr = in6addr_loopback;
		if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
		    getsockname(lfd, (struct sockaddr *)&a, &al) != 0)
			return usage(strerror(errno));
		cfg.port = ntohs(a.sin6_port);
	} else {
		struct sockaddr_in a = { .sin_family = AF_INET,
					 .sin_port = htons((uint16_t)cfg.port) };
		socklen_t al = sizeof(a);

		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
		    getsockname(lfd, (struct sockaddr *)&a, &al) != 0)
			return usage(strerror(errno));
		cfg.port = ntohs(a.sin_port);
	}
	if (listen(lfd, 64) != 0)
		return usage(strerror(errno));
	mpc_ed25519_key_format(pub, ks, NULL);
	printf("PORT %d\nKEY %s\n", cfg.port, ks);
	fflush(stdout);

	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		struct conn *c;
		pthread_t t;

		if (fd < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		c = malloc(sizeof(*c));
		if (c == NULL) {
			close(fd);
			continue;
		}
		c->cfg = &cfg;
		c->fd = fd;
		if (pthread_create(&t, NULL, conn_main, c) != 0) {
			close(fd);
			free(c);
			continue;
		}
		pthread_detach(t);
	}
	return 1;
}
