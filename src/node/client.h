/* client.h: the MPC node migration client: mutual TLS 1.3 over libcurl, /hello,
 * /get_keyshares and /set_keyshares.
 *
 * Identity: the caller passes the client's Ed25519 key as an EVP_PKEY (a software key or a
 * provider-backed token key: only signing is asked of it, never its private bytes) and its raw
 * 32-byte public key; the client builds the node-style leaf for that key (cert.h) and presents
 * it alone. The node is authenticated by pinning its leaf's Ed25519 key to the key the contract
 * lists (`node_pub`) and checking the leaf is signed by the dummy issuer; OpenSSL's chain
 * verification is replaced, not used. TLS 1.3 only, server name "dummy" whatever is dialled, no
 * ALPN, HTTP/1.1, no session resumption, proxies ignored.
 *
 * Bounds: a connect timeout (TCP + TLS), a total timeout per request, and a cap on the response
 * body enforced while receiving. Error messages carry the HTTP status and up to 200 sanitized
 * characters of the node's text, never keys other than public ones, never keyshares.
 *
 * libcurl must be initialised once per process (curl_global_init) before the first client is
 * made when several threads are involved; a client itself is for one thread at a time.
 */
#ifndef MPC_NODE_CLIENT_H
#define MPC_NODE_CLIENT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "src/model/keyset.h"
#include "src/node/body.h"
#include "src/util/err.h"

#define MPC_NODE_DEFAULT_PORT               8079
#define MPC_NODE_CONNECT_TIMEOUT_MS_DEFAULT 10000L
#define MPC_NODE_TIMEOUT_MS_DEFAULT         60000L
#define MPC_NODE_MAX_RESPONSE_DEFAULT       ((size_t)16 << 20)
/* A node refuses a client key by closing the connection right after the handshake. A close
 * without an answer within this many ms (plus four handshake round trips) of our Finished is
 * reported as that refusal (MPC_ERR_PEER_KEY); a later one as the node failing mid-request
 * (MPC_ERR_HTTP). See docs/node.md. */
#define MPC_NODE_REFUSAL_WINDOW_MS 1000LL

struct mpc_node_client_opts {
	EVP_PKEY *client_key;    /* Ed25519 TLS identity; the client takes its own reference */
	uint8_t client_pub[32];  /* its raw public key (checked against client_key when readable) */
	uint8_t node_pub[32];    /* the node's tls_public_key from the contract */
	const char *address;     /* "host:port", "1.2.3.4:port", "[::1]:port" or
				    "https://host[:port][/]"; no port: MPC_NODE_DEFAULT_PORT */
	long connect_timeout_ms; /* 0: default; TCP connect and TLS handshake */
	long timeout_ms;         /* 0: default; whole request, connection included */
	size_t max_response;     /* 0: default; bytes of response body */
	int fresh_connection;    /* 1: a new TCP+TLS connection per request (benchmarks, probes) */
	const volatile sig_atomic_t *cancel; /* non-zero (set by a signal handler) aborts a request
						within 100 ms with MPC_ERR_CANCELLED; may be NULL */
};

struct mpc_node_client; /* opaque; reuses one CURL handle and its connection */

/* Split an address into host (IPv6 without brackets) and port. MPC_ERR_PARSE when malformed. */
int mpc_node_address_parse(const char *address, char *host, size_t host_cap, unsigned *port,
			   struct mpc_err *e);

/* Make a client. Does not connect. *out is set only on success; free with
 * mpc_node_client_free(). */
int mpc_node_client_new(const struct mpc_node_client_opts *o, struct mpc_node_client **out,
			struct mpc_err *e);
void mpc_node_client_free(struct mpc_node_client *c);

/* GET `path` without a body and hand back the status and the body (malloc(), NUL-terminated,
 * free() it), whatever the status. For probes and interop tests; not for keyshares. */
int mpc_node_get_raw(struct mpc_node_client *c, const char *path, long *status, char **body,
		     size_t *len, struct mpc_err *e);

/* GET /hello; MPC_OK when the node answers 200 "Hello, world!". */
int mpc_node_hello(struct mpc_node_client *c, struct mpc_err *e);

/* GET /get_keyshares with the Keyset as JSON body. On 200 the body is decrypted with `tk`; the
 * plaintext (the node's JSON array of Keyshares, not parsed here beyond checking it is an
 * array) goes to *plain in mpc_secure_alloc() memory with a NUL after *plain_len bytes; the
 * caller wipes and frees it with mpc_secure_free(). An undecodable 200 body is a failure. */
int mpc_node_get_keyshares(struct mpc_node_client *c, const struct mpc_keyset *ks,
			   const struct mpc_transport_key *tk, uint8_t **plain, size_t *plain_len,
			   struct mpc_err *e);

/* PUT /set_keyshares with the encrypted JSON array `plain` (n bytes, the caller's secure
 * memory). MPC_OK on 200 "Keyshares received." (which only means the node took the body: the
 * import is confirmed by the contract, not here). */
int mpc_node_set_keyshares(struct mpc_node_client *c, const uint8_t *plain, size_t n,
			   const struct mpc_transport_key *tk, struct mpc_err *e);

#endif
