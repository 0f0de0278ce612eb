/* make-node-certs: write node-style certificate material for an Ed25519 key, as PEM files:
 *
 *   DIR/issuer.pem    the dummy issuer's self-signed certificate (SAN "root"), the trust anchor
 *   DIR/leaf.pem      the key's leaf (SAN "dummy", signed by the dummy issuer), from mpc_node
 *   DIR/leaf-key.pem  the key itself, PKCS#8 PEM (unencrypted)
 *
 * and print "KEY ed25519:<base58>" (the leaf's public key) on stdout.
 *
 * Usage: make-node-certs DIR [KEY.pem]
 *   Without KEY.pem a fresh software Ed25519 key is generated. With it, the PKCS#8 PEM private
 *   key is read and copied to DIR/leaf-key.pem. Test tool: the keys it writes are not protected.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "src/node/cert.h"
#include "src/util/encoding.h"

static int write_pem(const char *dir, const char *name, X509 *cert, EVP_PKEY *key)
{
	char path[4096];
	FILE *f;
	int ok;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
		fprintf(stderr, "make-node-certs: path too long\n");
		return -1;
	}
	f = fopen(path, "w");
	if (f == NULL) {
		perror(path);
		return -1;
	}
	if (cert != NULL)
		ok = PEM_write_X509(f, cert);
	else
		ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	if (fclose(f) != 0)
		ok = 0;
	if (ok != 1) {
		fprintf(stderr, "make-node-certs: cannot write %s\n", path);
		return -1;
	}
	return 0;
}

static EVP_PKEY *load_key(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k;

	if (f == NULL) {
		perror(path);
		return NULL;
	}
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (k == NULL)
		fprintf(stderr, "make-node-certs: %s: not a PEM private key\n", path);
	return k;
}

int main(int argc, char **argv)
{
	struct mpc_err e = { 0 };
	char key_str[MPC_ED25519_KEY_STR_MAX];
	uint8_t pub[32];
	EVP_PKEY *key;
	X509 *issuer = NULL, *leaf = NULL;
	int rc = 1;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: make-node-certs DIR [KEY.pem]\n");
		return 2;
	}
	key = argc == 3 ? load_key(argv[2]) : EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (key == NULL) {
		fprintf(stderr, "make-node-certs: no Ed25519 key\n");
		return 1;
	}
	if (mpc_node_pkey_pub(key, pub, &e) != MPC_OK ||
	    (issuer = mpc_node_cert_issuer(&e)) == NULL ||
	    (leaf = mpc_node_cert_leaf(pub, &e)) == NULL ||
	    mpc_ed25519_key_format(pub, key_str, &e) != MPC_OK) {
		fprintf(stderr, "make-node-certs: %s\n", e.msg);
		goto out;
	}
	if (write_pem(argv[1], "issuer.pem", issuer, NULL) != 0 ||
	    write_pem(argv[1], "leaf.pem", leaf, NULL) != 0 ||
	    write_pem(argv[1], "leaf-key.pem", NULL, key) != 0)
		goto out;
	printf("KEY %s\n", key_str);
	rc = fflush(stdout) == 0 ? 0 : 1;
out:
	X509_free(issuer);
	X509_free(leaf);
	EVP_PKEY_free(key);
	return rc;
}
