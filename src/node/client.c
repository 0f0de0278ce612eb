/* client.c: the node client over libcurl with a pinned-key mutual TLS 1.3 channel. See
 * client.h; docs/node.md explains the verification and the error mapping. */
#include "src/node/client.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "pkcs11/provider.h"
#include "src/node/cert.h"
#include "src/util/encoding.h"
#include "src/util/mem.h"

#define HOST_MAX 256

struct mpc_node_client {
	CURL *curl;
	CURLM *multi;                        /* drives curl so a cancel flag is seen */
	const volatile sig_atomic_t *cancel; /* borrowed, may be NULL */
	EVP_PKEY *key;
	X509 *leaf;
	uint8_t client_pub[32];
	uint8_t node_pub[32];
	char host[HOST_MAX];
	unsigned port;
	char where[HOST_MAX + 16]; /* "host:port" for messages */
	struct curl_slist *connect_to;
	long connect_timeout_ms, timeout_ms;
	size_t max_response;
	int fresh;
	char errbuf[CURL_ERROR_SIZE];
	/* response of the current request */
	uint8_t *resp;
	size_t resp_len, resp_cap;
	int resp_over;
	size_t header_bytes;
	/* state of the current handshake, set by the TLS callbacks */
	int saw_cert_request;
	int peer_ok;
	int alert_recv, alert_sent; /* fatal alert description + 1, 0 for none */
	int hs_done;                /* we sent our Finished: the handshake is complete for us */
	long long hello_ms, rtt_ms, done_ms; /* ClientHello sent, ServerHello after it, Finished */
	struct mpc_err verr;
};

static long long mono_ms(void);

int mpc_node_address_parse(const char *address, char *host, size_t host_cap, unsigned *port,
			   struct mpc_err *e)
{
	const char *p = address, *h, *hend, *ps = NULL;
	size_t hl, pl = 0;
	int v6 = 0;

	if (address == NULL || host == NULL || port == NULL)
		return mpc_fail(e, MPC_ERR_USAGE, "node address: missing");
	if (strncasecmp(p, "https://", 8) == 0)
		p += 8;
	else if (strstr(p, "://") != NULL)
		return mpc_fail(e, MPC_ERR_PARSE, "node address '%.100s': only https:// URLs",
				address);
	if (*p == '[') {
		h = p + 1;
		hend = strchr(h, ']');
		if (hend == NULL)
			return mpc_fail(e, MPC_ERR_PARSE, "node address '%.100s': unclosed '['",
					address);
		p = hend + 1;
		v6 = 1;
	} else {
		h = p;
		hend = p + strcspn(p, ":/");
		p = hend;
	}
	if (*p == ':') {
		ps = ++p;
		pl = strspn(p, "0123456789");
		p += pl;
	}
	if (*p == '/' && p[1] == '\0')
		p++;
	hl = (size_t)(hend - h);
	if (*p != '\0' || hl == 0 || hl >= host_cap || (ps != NULL && (pl == 0 || pl > 5)))
		return mpc_fail(e, MPC_ERR_PARSE,
				"node address '%.100s': expected host:port, [IPv6]:port or "
				"https://host[:port]",
				address);
	for (size_t i = 0; i < hl; i++) {
		unsigned char ch = (unsigned char)h[i];

		if (!(isalnum(ch) || ch == '.' || ch == '-' || ch == '_' || (v6 && ch == ':')))
			return mpc_fail(e, MPC_ERR_PARSE,
					"node address '%.100s': bad character in host", address);
	}
	*port = MPC_NODE_DEFAULT_PORT;
	if (ps != NULL) {
		unsigned long v = strtoul(ps, NULL, 10);

		if (v == 0 || v > 65535)
			return mpc_fail(e, MPC_ERR_PARSE, "node address '%.100s': bad port",
					address);
		*port = (unsigned)v;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	return MPC_OK;
}

static void format_key(const uint8_t k[32], char out[MPC_ED25519_KEY_STR_MAX])
{
	if (mpc_ed25519_key_format(k, out, NULL) != MPC_OK)
		snprintf(out, MPC_ED25519_KEY_STR_MAX, "ed25519:?");
}

/* --- TLS callbacks --------------------------------------------------------------------- */

static void msg_cb(int write_p, int version, int content_type, const void *buf, size_t len,
		   SSL *ssl, void *arg)
{
	struct mpc_node_client *c = arg;
	const uint8_t *b = buf;

	(void)version;
	(void)ssl;
	if (c == NULL || len == 0)
		return;
	if (content_type == SSL3_RT_HANDSHAKE) {
		if (write_p && b[0] == SSL3_MT_CLIENT_HELLO) {
			c->saw_cert_request = 0;
			c->peer_ok = 0;
			c->alert_recv = c->alert_sent = 0;
			c->hs_done = 0;
			c->hello_ms = mono_ms();
			c->rtt_ms = c->done_ms = 0;
			mpc_err_clear(&c->verr);
		} else if (!write_p && b[0] == SSL3_MT_SERVER_HELLO) {
			c->rtt_ms = mono_ms() - c->hello_ms;
		} else if (!write_p && b[0] == SSL3_MT_CERTIFICATE_REQUEST) {
			c->saw_cert_request = 1;
		} else if (write_p && b[0] == SSL3_MT_FINISHED) {
			c->hs_done = 1;
			c->done_ms = mono_ms();
		}
	} else if (content_type == SSL3_RT_ALERT && len == 2 && b[0] == SSL3_AL_FATAL) {
		if (write_p)
			c->alert_sent = b[1] + 1;
		else
			c->alert_recv = b[1] + 1;
	}
}

/* Replaces X509_verify_cert: this is what decides whether the node is accepted. */
static int verify_cb(X509_STORE_CTX *x, void *arg)
{
	struct mpc_node_client *c = arg;
	STACK_OF(X509) *chain = X509_STORE_CTX_get0_untrusted(x);
	X509 *leaf = X509_STORE_CTX_get0_cert(x);
	int n = chain == NULL ? 0 : sk_X509_num(chain);

	c->peer_ok = 0;
	if (!c->saw_cert_request) {
		mpc_fail(&c->verr, MPC_ERR_TLS,
			 "the server did not ask for a client certificate: it is not an MPC "
			 "node's migration server (mutual TLS required)");
		goto refuse;
	}
	if (leaf == NULL || n != 1) {
		mpc_fail(&c->verr, MPC_ERR_TLS,
			 "the server sent %d certificates; an MPC node sends exactly one", n);
		goto refuse;
	}
	if (mpc_node_cert_verify_peer(leaf, c->node_pub, &c->verr) != MPC_OK)
		goto refuse;
	c->peer_ok = 1;
	X509_STORE_CTX_set_error(x, X509_V_OK);
	return 1;
refuse:
	X509_STORE_CTX_set_error(x, X509_V_ERR_APPLICATION_VERIFICATION);
	return 0;
}

static CURLcode ssl_ctx_cb(CURL *curl, void *sslctx, void *arg)
{
	struct mpc_node_client *c = arg;
	SSL_CTX *ctx = sslctx;

	(void)curl;
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_use_certificate(ctx, c->leaf) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, c->key) != 1 || SSL_CTX_clear_chain_certs(ctx) != 1) {
		if (mpc_node_ossl_nomem())
			mpc_fail(&c->verr, MPC_ERR_NOMEM,
				 "out of memory installing the client TLS key and certificate");
		else
			mpc_fail(&c->verr, MPC_ERR_TLS,
				 "cannot install the client TLS key and certificate (key and "
				 "certificate do not match, or the key cannot sign)");
		return CURLE_SSL_CERTPROBLEM;
	}
	SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_cert_verify_callback(ctx, verify_cb, c);
	SSL_CTX_set_msg_callback(ctx, msg_cb);
	SSL_CTX_set_msg_callback_arg(ctx, c);
	return CURLE_OK;
}

/* --- HTTP plumbing ------------------------------------------------------------------------- */

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct mpc_node_client *c = arg;
	size_t n = size * nmemb;

	if (n > c->max_response - c->resp_len) {
		c->resp_over = 1;
		return 0;
	}
	if (c->resp_len + n + 1 > c->resp_cap) {
		size_t cap = c->resp_cap ? c->resp_cap : 4096;
		uint8_t *p;

		while (cap < c->resp_len + n + 1)
			cap *= 2;
		if (cap > c->max_response + 1)
			cap = c->max_response + 1;
		p = realloc(c->resp, cap);
		if (p == NULL)
			return 0;
		c->resp = p;
		c->resp_cap = cap;
	}
	memcpy(c->resp + c->resp_len, ptr, n);
	c->resp_len += n;
	c->resp[c->resp_len] = 0;
	return n;
}

static size_t header_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct mpc_node_client *c = arg;

	(void)ptr;
	c->header_bytes += size * nmemb;
	return size * nmemb;
}

int mpc_node_client_new(const struct mpc_node_client_opts *o, struct mpc_node_client **out,
			struct mpc_err *e)
{
	struct mpc_node_client *c = NULL;
	uint8_t readable[32];
	char ct[HOST_MAX + 64];
	struct mpc_err ignored = { 0 };
	int rc = MPC_ERR_INTERNAL, v6;

	if (out != NULL)
		*out = NULL;
	if (o == NULL || out == NULL || o->client_key == NULL) {
		rc = mpc_fail(e, MPC_ERR_USAGE, "node client: missing options or client key");
		goto out;
	}
	if (EVP_PKEY_get_base_id(o->client_key) != EVP_PKEY_ED25519 &&
	    !EVP_PKEY_is_a(o->client_key, "ED25519")) {
		rc = mpc_fail(e, MPC_ERR_UNSUPPORTED, "node client: the TLS key is not Ed25519");
		goto out;
	}
	/* A provider key may not expose its public half this way; then the caller's copy rules. */
	if (mpc_node_pkey_pub(o->client_key, readable, &ignored) == MPC_OK &&
	    !mpc_memeq_ct(readable, o->client_pub, 32)) {
		rc = mpc_fail(e, MPC_ERR_USAGE,
			      "node client: client_pub is not the public key of client_key");
		goto out;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		rc = mpc_fail(e, MPC_ERR_NOMEM, "node client: out of memory");
		goto out;
	}
	rc = mpc_node_address_parse(o->address, c->host, sizeof(c->host), &c->port, e);
	if (rc != MPC_OK)
		goto out;
	v6 = strchr(c->host, ':') != NULL;
	snprintf(c->where, sizeof(c->where), v6 ? "[%s]:%u" : "%s:%u", c->host, c->port);
	snprintf(ct, sizeof(ct), v6 ? "%s:%u:[%s]:%u" : "%s:%u:%s:%u", MPC_NODE_SAN_LEAF, c->port,
		 c->host, c->port);
	memcpy(c->client_pub, o->client_pub, 32);
	memcpy(c->node_pub, o->node_pub, 32);
	c->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms
							  : MPC_NODE_CONNECT_TIMEOUT_MS_DEFAULT;
	c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : MPC_NODE_TIMEOUT_MS_DEFAULT;
	c->max_response = o->max_response > 0 ? o->max_response : MPC_NODE_MAX_RESPONSE_DEFAULT;
	c->fresh = o->fresh_connection;
	c->cancel = o->cancel;
	c->leaf = mpc_node_cert_leaf(c->client_pub, e);
	if (c->leaf == NULL) {
		rc = e != NULL && e->code != MPC_OK ? e->code : MPC_ERR_INTERNAL;
		goto out;
	}
	if (EVP_PKEY_up_ref(o->client_key) != 1) {
		rc = mpc_fail(e, MPC_ERR_INTERNAL, "node client: cannot reference the client key");
		goto out;
	}
	c->key = o->client_key;
	c->connect_to = curl_slist_append(NULL, ct);
	c->curl = curl_easy_init();
	c->multi = curl_multi_init();
	if (c->connect_to == NULL || c->curl == NULL || c->multi == NULL) {
		rc = mpc_fail(e, MPC_ERR_NOMEM, "node client: cannot initialise libcurl");
		goto out;
	}
	*out = c;
	c = NULL;
	rc = MPC_OK;
out:
	mpc_node_client_free(c);
	return rc;
}

void mpc_node_client_free(struct mpc_node_client *c)
{
	if (c == NULL)
		return;
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	if (c->multi != NULL)
		curl_multi_cleanup(c->multi);
	curl_slist_free_all(c->connect_to);
	X509_free(c->leaf);
	EVP_PKEY_free(c->key);
	free(c->resp);
	free(c);
}

/* Printable ASCII only, at most 200 characters, for quoting the node's text in messages. */
static void sanitize(const uint8_t *in, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 4 < cap && o < 200; i++)
		out[o++] = (char)((in[i] >= 0x20 && in[i] < 0x7f) ? in[i] : '?');
	if (n > 200 && o + 4 < cap) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* Alerts by which a TLS server says it does not accept our client certificate (in TLS 1.3 they
 * arrive after our Finished: at the first read). */
static int is_cert_rejection(int alert)
{
	return alert == SSL_AD_BAD_CERTIFICATE || alert == SSL_AD_UNSUPPORTED_CERTIFICATE ||
	       alert == SSL_AD_CERTIFICATE_REVOKED || alert == SSL_AD_CERTIFICATE_EXPIRED ||
	       alert == SSL_AD_CERTIFICATE_UNKNOWN || alert == SSL_AD_UNKNOWN_CA ||
	       alert == SSL_AD_ACCESS_DENIED || alert == SSL_AD_CERTIFICATE_REQUIRED;
}

/* The handshake failed on our side after the node's key was accepted: can our own key sign? A
 * token key that cannot (its private half deleted, a key of another type under its label, the
 * token gone) is a token problem, not the node's. Signs a fixed probe text (not a TLS 1.3
 * CertificateVerify input, so the signature is useless to anyone). Returns MPC_OK if the key
 * signs or the failure is not the token's (no provider error says so), else the token's error
 * in *e: MPC_ERR_TOKEN_UNAVAILABLE or MPC_ERR_PKCS11, with the provider's message (which names
 * the token). */
static int own_key_check(struct mpc_node_client *c, struct mpc_err *e)
{
	static const unsigned char probe[] = "mpc-backup: does the TLS key sign?";
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char sig[64];
	size_t sig_len = sizeof(sig);
	const char *data = NULL;
	char msg[400] = "";
	unsigned long code;
	int flags = 0, ok, unavailable = 0;

	if (md == NULL)
		return MPC_OK; /* cannot tell: leave the blame to the other rules */
	ERR_clear_error();
	ok = EVP_DigestSignInit_ex(md, NULL, NULL, NULL, NULL, c->key, NULL) == 1 &&
	     EVP_DigestSign(md, sig, &sig_len, probe, sizeof(probe) - 1) == 1;
	EVP_MD_CTX_free(md);
	if (ok)
		return MPC_OK;
	while ((code = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		if (msg[0] != '\0' || data == NULL || !(flags & ERR_TXT_STRING) || data[0] == '\0')
			continue;
		if (ERR_GET_REASON(code) != MPC_PROVIDER_R_TOKEN_SIGN_FAILED &&
		    ERR_GET_REASON(code) != MPC_PROVIDER_R_TOKEN_UNAVAILABLE)
			continue;
		snprintf(msg, sizeof(msg), "%s", data);
		unavailable = ERR_GET_REASON(code) == MPC_PROVIDER_R_TOKEN_UNAVAILABLE;
	}
	/* Only the provider's word blames the token (an OpenSSL allocation failure leaves none) */
	if (msg[0] == '\0')
		return MPC_OK;
	return mpc_fail(e, unavailable ? MPC_ERR_TOKEN_UNAVAILABLE : MPC_ERR_PKCS11,
			"node at %s: our TLS key could not sign the handshake (a token problem, "
			"not the node refusing us): %s",
			c->where, msg);
}

static int map_curl_error(struct mpc_node_client *c, CURLcode cc, struct mpc_err *e)
{
	char mine[MPC_ED25519_KEY_STR_MAX], node[MPC_ED25519_KEY_STR_MAX];
	const char *detail = c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc);

	if (c->verr.code != MPC_OK) {
		mpc_fail(e, c->verr.code, "%s", c->verr.msg);
		return mpc_err_prefix(e, "node at %s: ", c->where);
	}
	/* We accepted the node, it sent no alert, and our side gave up before our Finished: the
	 * CertificateVerify signature (made in the token) is the one step left that can fail. */
	if (c->peer_ok && !c->hs_done && c->alert_recv == 0 && cc == CURLE_SSL_CONNECT_ERROR &&
	    own_key_check(c, e) != MPC_OK)
		return e != NULL ? e->code : MPC_ERR_PKCS11;
	if (cc == CURLE_OPERATION_TIMEDOUT) {
		curl_off_t connected = 0;

		/* Say which limit fired; curl's own text carries elapsed milliseconds, which would
		 * make each repetition of the same failure look new. */
		curl_easy_getinfo(c->curl, CURLINFO_CONNECT_TIME_T, &connected);
		/* libcurl counts the TLS handshake as part of connecting: a node that takes the TCP
		 * connection and then says nothing ends here too, by whichever limit is smaller */
		if (connected == 0)
			return mpc_fail(
				e, MPC_ERR_TIMEOUT,
				"node at %s: no TLS connection within %ld ms (nothing listening "
				"answered, or the node took the TCP connection and never sent "
				"its TLS handshake)",
				c->where,
				c->connect_timeout_ms < c->timeout_ms ? c->connect_timeout_ms
								      : c->timeout_ms);
		if (c->hs_done && c->header_bytes == 0)
			return mpc_fail(e, MPC_ERR_TIMEOUT,
					"node at %s: no complete answer within %ld ms after a "
					"completed TLS handshake (the node kept the connection, "
					"so it took our key: it drops a key it refuses at once; "
					"it stalled)",
					c->where, c->timeout_ms);
		return mpc_fail(e, MPC_ERR_TIMEOUT, "node at %s: no complete answer within %ld ms",
				c->where, c->timeout_ms);
	}
	if ((cc == CURLE_WRITE_ERROR && c->resp_over) || cc == CURLE_FILESIZE_EXCEEDED)
		return mpc_fail(e, MPC_ERR_TOO_LARGE,
				"node at %s: response body over the limit of %zu bytes", c->where,
				c->max_response);
	/* Our side ran out of memory (libcurl, or OpenSSL as libcurl quotes it): not the node. */
	if (cc == CURLE_OUT_OF_MEMORY || strstr(detail, "malloc failure") != NULL)
		return mpc_fail(e, MPC_ERR_NOMEM, "node at %s: out of memory (%s)", c->where,
				detail);
	/* The node said, with an alert, that it does not take our certificate (a TLS 1.3 server
	 * sends it after our Finished: it arrives at the first read). */
	if (c->peer_ok && c->header_bytes == 0 && is_cert_rejection(c->alert_recv - 1)) {
		format_key(c->client_pub, mine);
		format_key(c->node_pub, node);
		return mpc_fail(e, MPC_ERR_PEER_KEY,
				"node at %s (%s) rejected our client certificate (%s alert): it "
				"does not accept our key %s (most likely it is not the backup "
				"service key registered on the contract for this node's account)",
				c->where, node, SSL_alert_desc_string_long(c->alert_recv - 1),
				mine);
	}
	/* A local OpenSSL failure is not the node closing the connection. */
	if (c->peer_ok && c->header_bytes == 0 && c->alert_recv == 0 &&
	    strstr(detail, "internal error") == NULL &&
	    (cc == CURLE_GOT_NOTHING || cc == CURLE_RECV_ERROR || cc == CURLE_SEND_ERROR ||
	     cc == CURLE_SSL_CONNECT_ERROR)) {
		/* The node refuses a key by dropping the connection right after the handshake
		 * (server.rs: authenticate_peer, then the stream is dropped): within a round
		 * trip or so. One that held the connection longer took our key and then failed. */
		long long window = MPC_NODE_REFUSAL_WINDOW_MS + 4 * c->rtt_ms;

		if (c->hs_done && mono_ms() - c->done_ms > window)
			return mpc_fail(e, MPC_ERR_HTTP,
					"node at %s: the node closed the connection without an "
					"answer more than %lld ms after a completed TLS handshake: "
					"not a refusal of our key (the node drops a key it refuses "
					"at once); it failed or restarted mid-request",
					c->where, MPC_NODE_REFUSAL_WINDOW_MS);
		format_key(c->client_pub, mine);
		format_key(c->node_pub, node);
		return mpc_fail(
			e, MPC_ERR_PEER_KEY,
			"node at %s (%s) completed the TLS handshake and closed the "
			"connection at once without answering: it refused our client key %s "
			"(most likely it is not the backup service key registered on the "
			"contract for this node's account)",
			c->where, node, mine);
	}
	if (c->alert_recv == 70 + 1 || c->alert_sent == 70 + 1)
		return mpc_fail(e, MPC_ERR_TLS,
				"node at %s does not speak TLS 1.3 (protocol_version alert)",
				c->where);
	if (c->alert_recv)
		return mpc_fail(e, MPC_ERR_TLS,
				"node at %s aborted the TLS handshake: %s alert (%s)", c->where,
				SSL_alert_desc_string_long(c->alert_recv - 1), detail);
	/* OpenSSL's words for a server that answered a ClientHello in plain text */
	if (cc == CURLE_SSL_CONNECT_ERROR && strstr(detail, "wrong version number") != NULL)
		return mpc_fail(
			e, MPC_ERR_TLS,
			"node at %s answered in plain text, not TLS: this port serves plain "
			"HTTP (the node's web UI or debug port, 8080?), not the migration "
			"server (8079 in deployments, 8081 on older nodes)",
			c->where);
	if (cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_PEER_FAILED_VERIFICATION ||
	    cc == CURLE_SSL_CERTPROBLEM)
		return mpc_fail(e, MPC_ERR_TLS, "node at %s: TLS handshake failed: %s", c->where,
				detail);
	if (cc == CURLE_WEIRD_SERVER_REPLY || cc == CURLE_UNSUPPORTED_PROTOCOL)
		return mpc_fail(e, MPC_ERR_HTTP, "node at %s: the answer is not HTTP/1.1 (%s)",
				c->where, detail);
	if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST)
		return mpc_fail(e, MPC_ERR_HTTP, "node at %s: cannot connect: %s", c->where,
				curl_easy_strerror(cc));
	return mpc_fail(e, MPC_ERR_HTTP, "node at %s: %s", c->where, detail);
}

/* curl_easy_perform with a bounded wait per round, so a cancel flag set by a signal handler
 * ends even a hanging request within 100 ms. The easy handle's connection cache is kept. */
static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static CURLcode perform(struct mpc_node_client *c, CURL *u)
{
	CURLcode cc = CURLE_OK;
	CURLMsg *msg;
	int running = 1, left;
	/* libcurl's CURLOPT_TIMEOUT_MS normally ends the transfer first; this bound holds even
	 * when it does not (the allocation-failure run once left a PUT polling for 15 minutes
	 * after an OpenSSL allocation failed). */
	long long deadline = mono_ms() + c->timeout_ms + 2000;

	if (curl_multi_add_handle(c->multi, u) != CURLM_OK)
		return CURLE_FAILED_INIT;
	while (running > 0) {
		if (c->cancel != NULL && *c->cancel) {
			cc = CURLE_ABORTED_BY_CALLBACK;
			break;
		}
		if (mono_ms() > deadline) {
			cc = CURLE_OPERATION_TIMEDOUT;
			break;
		}
		if (curl_multi_perform(c->multi, &running) != CURLM_OK) {
			cc = CURLE_FAILED_INIT;
			break;
		}
		if (running > 0 && curl_multi_poll(c->multi, NULL, 0, 100, NULL) != CURLM_OK) {
			cc = CURLE_FAILED_INIT;
			break;
		}
	}
	while ((msg = curl_multi_info_read(c->multi, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == u && cc == CURLE_OK)
			cc = msg->data.result;
	curl_multi_remove_handle(c->multi, u);
	return cc;
}

/* One request. body may be NULL (no body). On MPC_OK *status holds the HTTP status and
 * c->resp/c->resp_len the response body. */
static int request(struct mpc_node_client *c, const char *method, const char *path,
		   const char *body, size_t body_len, const char *content_type, long *status,
		   struct mpc_err *e)
{
	char url[64], ctype[80];
	struct curl_slist *hdrs = NULL, *h;
	CURLcode cc;
	CURL *u = c->curl;
	int rc;

	*status = 0;
	free(c->resp);
	c->resp = NULL;
	c->resp_len = c->resp_cap = 0;
	c->resp_over = 0;
	c->header_bytes = 0;
	c->errbuf[0] = '\0';
	mpc_err_clear(&c->verr);
	snprintf(url, sizeof(url), "https://%s:%u%s", MPC_NODE_SAN_LEAF, c->port, path);
	snprintf(ctype, sizeof(ctype), "Content-Type:%s%s", content_type ? " " : "",
		 content_type ? content_type : "");
	h = curl_slist_append(NULL, "Expect:");
	hdrs = h;
	if (h != NULL)
		h = curl_slist_append(hdrs, "Accept:");
	if (h != NULL)
		h = curl_slist_append(hdrs, ctype);
	if (h == NULL) {
		rc = mpc_fail(e, MPC_ERR_NOMEM, "node client: out of memory");
		goto out;
	}
	curl_easy_reset(u);
	if ((cc = curl_easy_setopt(u, CURLOPT_URL, url)) != CURLE_OK ||
	    (cc = curl_easy_setopt(u, CURLOPT_PROTOCOLS_STR, "https")) != CURLE_OK ||
	    (cc = curl_easy_setopt(u, CURLOPT_CONNECT_TO, c->connect_to)) != CURLE_OK ||
	    (cc = curl_easy_setopt(u, CURLOPT_PROXY, "")) != CURLE_OK ||
	    (cc = curl_easy_setopt(u, CURLOPT_NOSIGNAL, 1L)) != CURLE_OK ||
	    (cc = curl_easy_setopt(u, CURLOPT_ERRORBUFFER, c->errbuf)) != CURLE_OK ||
	    (cc = curl_easy_setopt(u, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1)) !=
		    CURLE_OK ||
	    (cc = curl_easy_setopt(u, CURLOPT_SSL_ENABLE_ALPN, 0L)) != CURLE_OK ||
	    (cc = curl_easy_setopt(u, CURLOPT_SSLVERSION,
				   (long)(CURL_SSLVERSION_TLSv1_3 |
					  CURL_SSLVERSION_MAX_TLSv1_3))) != CURLE_OK ||
	    /* curl's own checks are off only because verify_cb (installed by ssl_ctx_cb with
	     * SSL_VERIFY_PEER) decides instead; a refusal there aborts the handshake. */
	    (cc = curl_easy_setopt(u, CURLOPT_SSL_VERIFYPEER, 0L)) != CURLE_OK ||
	    (cc = curl_easy_setopt(u, CURLOPT_SSL_VERIFYHOST, 0L)) != CURLE_OK ||
	    (cc = curl_easy_setopt(u, CURLOPT_SSL_SESSIONID_CACHE, 0L)) != CURLE_OK ||
	    (cc = curl_easy_setopt(u, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb)) != CURLE_OK ||
	    (cc = curl_easy_setopt(u, CURLOPT_SSL_CTX_DATA, c)) != CURLE_OK ||
	    (cc = curl_easy_setopt(u, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms)) !=
		    CURLE_OK ||
	    (cc = curl_easy_setopt(u, CURLOPT_TIMEOUT_MS, c->timeout_ms)) != CURLE_OK ||
	    (cc = curl_easy_setopt(u, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_response)) !=
		    CURLE_OK ||
	    (cc = curl_easy_setopt(u, CURLOPT_WRITEFUNCTION, write_cb)) != CURLE_OK ||
	    (cc = curl_easy_setopt(u, CURLOPT_WRITEDATA, c)) != CURLE_OK ||
	    (cc = curl_easy_setopt(u, CURLOPT_HEADERFUNCTION, header_cb)) != CURLE_OK ||
	    (cc = curl_easy_setopt(u, CURLOPT_HEADERDATA, c)) != CURLE_OK ||
	    (cc = curl_easy_setopt(u, CURLOPT_HTTPHEADER, hdrs)) != CURLE_OK ||
	    (cc = curl_easy_setopt(u, CURLOPT_FOLLOWLOCATION, 0L)) != CURLE_OK ||
	    (cc = curl_easy_setopt(u, CURLOPT_FRESH_CONNECT, (long)c->fresh)) != CURLE_OK ||
	    (cc = curl_easy_setopt(u, CURLOPT_FORBID_REUSE, (long)c->fresh)) != CURLE_OK) {
		rc = cc == CURLE_OUT_OF_MEMORY
			     ? mpc_fail(e, MPC_ERR_NOMEM,
					"node client: out of memory setting up the "
					"request")
			     : mpc_fail(e, MPC_ERR_INTERNAL,
					"node client: libcurl lacks a required option");
		goto out;
	}
	if (body != NULL) {
		if ((cc = curl_easy_setopt(u, CURLOPT_POSTFIELDS, body)) != CURLE_OK ||
		    (cc = curl_easy_setopt(u, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len)) !=
			    CURLE_OK) {
			rc = mpc_fail(e,
				      cc == CURLE_OUT_OF_MEMORY ? MPC_ERR_NOMEM : MPC_ERR_INTERNAL,
				      "node client: cannot set the body: %s",
				      curl_easy_strerror(cc));
			goto out;
		}
	}
	if ((cc = curl_easy_setopt(u, CURLOPT_CUSTOMREQUEST, method)) != CURLE_OK) {
		rc = mpc_fail(e, cc == CURLE_OUT_OF_MEMORY ? MPC_ERR_NOMEM : MPC_ERR_INTERNAL,
			      "node client: cannot set the method: %s", curl_easy_strerror(cc));
		goto out;
	}
	cc = perform(c, u);
	if (cc == CURLE_ABORTED_BY_CALLBACK && c->cancel != NULL && *c->cancel) {
		rc = mpc_fail(e, MPC_ERR_CANCELLED, "node at %s: request cancelled (shutting down)",
			      c->where);
		goto out;
	}
	if (cc != CURLE_OK) {
		rc = map_curl_error(c, cc, e);
		goto out;
	}
	curl_easy_getinfo(u, CURLINFO_RESPONSE_CODE, status);
	rc = MPC_OK;
out:
	curl_slist_free_all(hdrs);
	/* the handle keeps pointers to hdrs and body: drop them (the connection stays cached) */
	curl_easy_setopt(u, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(u, CURLOPT_POSTFIELDS, NULL);
	return rc;
}

static int status_error(struct mpc_node_client *c, const char *what, long status, struct mpc_err *e)
{
	char text[256];

	sanitize(c->resp, c->resp_len, text, sizeof(text));
	return mpc_fail(e, MPC_ERR_HTTP, "node at %s: %s answered HTTP %ld: %s", c->where, what,
			status, text[0] ? text : "(empty body)");
}

int mpc_node_get_raw(struct mpc_node_client *c, const char *path, long *status, char **body,
		     size_t *len, struct mpc_err *e)
{
	char *copy;
	int rc;

	if (body != NULL)
		*body = NULL;
	if (len != NULL)
		*len = 0;
	if (c == NULL || path == NULL || path[0] != '/' || strlen(path) > 40 || status == NULL ||
	    body == NULL || len == NULL)
		return mpc_fail(e, MPC_ERR_USAGE, "node client: bad raw request");
	rc = request(c, "GET", path, NULL, 0, NULL, status, e);
	if (rc != MPC_OK)
		return rc;
	copy = malloc(c->resp_len + 1);
	if (copy == NULL)
		return mpc_fail(e, MPC_ERR_NOMEM, "node client: out of memory");
	if (c->resp_len > 0)
		memcpy(copy, c->resp, c->resp_len);
	copy[c->resp_len] = '\0';
	*body = copy;
	*len = c->resp_len;
	return MPC_OK;
}

int mpc_node_hello(struct mpc_node_client *c, struct mpc_err *e)
{
	static const char hello[] = "Hello, world!";
	long status = 0;
	int rc;

	if (c == NULL)
		return mpc_fail(e, MPC_ERR_USAGE, "node client: NULL");
	rc = request(c, "GET", "/hello", NULL, 0, NULL, &status, e);
	if (rc != MPC_OK)
		return rc;
	if (status != 200)
		return status_error(c, "/hello", status, e);
	if (c->resp_len != sizeof(hello) - 1 || memcmp(c->resp, hello, c->resp_len) != 0) {
		char text[256];

		sanitize(c->resp, c->resp_len, text, sizeof(text));
		return mpc_fail(e, MPC_ERR_HTTP, "node at %s: /hello answered '%s', not '%s'",
				c->where, text, hello);
	}
	return MPC_OK;
}

static int looks_like_array(const uint8_t *p, size_t n)
{
	size_t i = 0, j = n;

	while (i < n && isspace(p[i]))
		i++;
	while (j > i && isspace(p[j - 1]))
		j--;
	return j - i >= 2 && p[i] == '[' && p[j - 1] == ']';
}

int mpc_node_get_keyshares(struct mpc_node_client *c, const struct mpc_keyset *ks,
			   const struct mpc_transport_key *tk, uint8_t **plain, size_t *plain_len,
			   struct mpc_err *e)
{
	json_t *j = NULL;
	char *body = NULL;
	size_t body_len = 0;
	uint8_t *pt = NULL;
	size_t pt_len = 0;
	long status = 0;
	int rc;

	if (plain != NULL)
		*plain = NULL;
	if (plain_len != NULL)
		*plain_len = 0;
	if (c == NULL || ks == NULL || tk == NULL || plain == NULL || plain_len == NULL) {
		rc = mpc_fail(e, MPC_ERR_USAGE, "get_keyshares: missing argument");
		goto out;
	}
	j = mpc_keyset_to_json(ks, e);
	if (j == NULL) {
		rc = e != NULL && e->code != MPC_OK ? e->code : MPC_ERR_INTERNAL;
		goto out;
	}
	/* json_dumpb, not json_dumps: jansson's json_dumps ignores a failed append of an object
	 * key and returns malformed JSON; dumping into a sized buffer allocates nothing. */
	body_len = json_dumpb(j, NULL, 0, JSON_COMPACT);
	body = body_len > 0 ? malloc(body_len) : NULL;
	if (body == NULL || json_dumpb(j, body, body_len, JSON_COMPACT) != body_len) {
		rc = mpc_fail(e, MPC_ERR_NOMEM, "get_keyshares: cannot serialise the keyset");
		goto out;
	}
	rc = request(c, "GET", "/get_keyshares", body, body_len, NULL, &status, e);
	if (rc != MPC_OK)
		goto out;
	if (status != 200) {
		rc = status_error(c, "/get_keyshares", status, e);
		goto out;
	}
	rc = mpc_body_decrypt(tk, (const char *)c->resp, c->resp_len, c->max_response, &pt, &pt_len,
			      e);
	if (rc != MPC_OK) {
		mpc_err_prefix(e,
			       "node at %s: /get_keyshares answered 200 but its body cannot be "
			       "decrypted: ",
			       c->where);
		goto out;
	}
	if (!looks_like_array(pt, pt_len)) {
		rc = mpc_fail(e, MPC_ERR_PARSE,
			      "node at %s: /get_keyshares plaintext is not a JSON array", c->where);
		goto out;
	}
	*plain = pt;
	*plain_len = pt_len;
	pt = NULL;
out:
	mpc_secure_free(pt);
	free(body);
	json_decref(j);
	return rc;
}

int mpc_node_set_keyshares(struct mpc_node_client *c, const uint8_t *plain, size_t n,
			   const struct mpc_transport_key *tk, struct mpc_err *e)
{
	static const char ok[] = "Keyshares received.";
	char *body = NULL;
	size_t body_len = 0;
	long status = 0;
	int rc;

	if (c == NULL || plain == NULL || tk == NULL) {
		rc = mpc_fail(e, MPC_ERR_USAGE, "set_keyshares: missing argument");
		goto out;
	}
	if (!looks_like_array(plain, n)) {
		rc = mpc_fail(e, MPC_ERR_USAGE,
			      "set_keyshares: the keyshares are not a JSON array");
		goto out;
	}
	rc = mpc_body_encrypt(tk, plain, n, &body, &body_len, e);
	if (rc != MPC_OK)
		goto out;
	rc = request(c, "PUT", "/set_keyshares", body, body_len, "application/json", &status, e);
	if (rc != MPC_OK)
		goto out;
	if (status != 200) {
		rc = status_error(c, "/set_keyshares", status, e);
		goto out;
	}
	if (c->resp_len != sizeof(ok) - 1 || memcmp(c->resp, ok, c->resp_len) != 0) {
		char text[256];

		sanitize(c->resp, c->resp_len, text, sizeof(text));
		rc = mpc_fail(e, MPC_ERR_HTTP,
			      "node at %s: /set_keyshares answered 200 '%s', not '%s'", c->where,
			      text, ok);
		goto out;
	}
	rc = MPC_OK;
out:
	free(body);
	return rc;
}
