/* cert.h: X.509 certificates exactly as the MPC node builds them, and peer verification.
 *
 * The node (near/mpc crates/tls, rcgen 0.13.2) makes every certificate with rcgen's defaults:
 * subject = issuer = CN "rcgen self signed cert" (UTF8String), validity 1975-01-01 (UTCTime) to
 * 4096-01-01 (GeneralizedTime), serial = SHA-256 of the subject's raw 32-byte Ed25519 public key,
 * first 20 bytes, top bit cleared, minimal INTEGER; X.509 v3; one extension, a non-critical
 * subjectAltName with one DNS name; signature Ed25519 by the fixed public "dummy issuer" key.
 * The issuer certificate is the dummy key's own (SAN "root"); a leaf carries SAN "dummy".
 * Ed25519 signatures are deterministic, so a certificate's bytes depend only on its key and SAN.
 * docs/node.md records every layout decision and where it was checked.
 *
 * Only public keys are needed: nothing here touches a private key except the dummy issuer's,
 * which is a published constant, not a secret.
 *
 * Errors: MPC_OK or a negative MPC_ERR_* with one line in `e`. Returned objects are owned by the
 * caller (X509_free, EVP_PKEY_free, free()).
 */
#ifndef MPC_NODE_CERT_H
#define MPC_NODE_CERT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "src/util/err.h"

#define MPC_NODE_SAN_LEAF     "dummy" /* SAN of every peer certificate, and the TLS server name */
#define MPC_NODE_SAN_ISSUER   "root"  /* SAN of the dummy issuer's self-signed certificate */
#define MPC_NODE_CERT_DER_MAX 512

/* DER of a node-style certificate for the Ed25519 public key `pub`, with one SAN DNS name
 * `san_dns` (1..63 printable ASCII characters), signed by the dummy issuer. Writes at most
 * `cap` bytes to `out` (MPC_NODE_CERT_DER_MAX always suffices) and the length to *len. */
int mpc_node_cert_der(const uint8_t pub[32], const char *san_dns, uint8_t *out, size_t cap,
		      size_t *len, struct mpc_err *e);

/* The leaf for `pub` (SAN "dummy") as an X509 object. NULL with e set on failure. */
X509 *mpc_node_cert_leaf(const uint8_t pub[32], struct mpc_err *e);

/* The dummy issuer's self-signed certificate (SAN "root"): the trust anchor the node uses. */
X509 *mpc_node_cert_issuer(struct mpc_err *e);

/* The dummy issuer's key (private: a public constant) and its raw public key. */
EVP_PKEY *mpc_node_cert_dummy_key(struct mpc_err *e);
int mpc_node_cert_dummy_pub(uint8_t out[32], struct mpc_err *e);

/* Raw 32-byte public key of an Ed25519 EVP_PKEY (software or provider-backed: only the public
 * half is read). MPC_ERR_UNSUPPORTED if the key is not Ed25519. */
int mpc_node_pkey_pub(EVP_PKEY *key, uint8_t out[32], struct mpc_err *e);

/* Raw Ed25519 key of a certificate's SubjectPublicKeyInfo. MPC_ERR_PEER_KEY if it is not
 * Ed25519. */
int mpc_node_cert_pub(X509 *cert, uint8_t out[32], struct mpc_err *e);

/* Authenticate a peer's leaf: its key must be Ed25519 and equal to `expected_pub` (constant-time
 * compare), and its signature must verify under the dummy issuer's key. On a key mismatch
 * returns MPC_ERR_PEER_KEY with a message naming both keys as "ed25519:<base58>"; on a bad
 * signature MPC_ERR_TLS. */
int mpc_node_cert_verify_peer(X509 *leaf, const uint8_t expected_pub[32], struct mpc_err *e);

/* After an OpenSSL call failed: 1 if its error queue names an allocation failure (OpenSSL 3.0
 * raises ERR_R_MALLOC_FAILURE; later versions may raise nothing, then 0). Empties the queue. */
int mpc_node_ossl_nomem(void);

#endif
