/* node_harness.h: test helpers for the node layer: start and stop fake-node processes, read
 * their event lines, make software client keys, and the realistic keyset/keyshares fixtures.
 * Also used by the node benchmarks; store and monitor tests may reuse it. */
#ifndef MPC_TESTS_NODE_HARNESS_H
#define MPC_TESTS_NODE_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>

#include "src/model/keyset.h"

/* The transport key every harness node and test uses (env MPC_BACKUP_ENCRYPTION_KEY_HEX). */
#define NH_TRANSPORT_KEY_HEX "5ab0c1d2e3f405162738495a6b7c8d9eafb0c1d2e3f405162738495a6b7c8d9e"

struct nh_node {
	pid_t pid;
	int out_fd;
	unsigned port;
	uint8_t key[32];   /* the key it advertises on its KEY line */
	char key_str[64];
	char buf[4096];    /* unread stdout */
	size_t buf_len;
};

/* Start FAKE_NODE_PATH with `args` (NULL-terminated, may be NULL), transport key
 * NH_TRANSPORT_KEY_HEX; waits for its PORT and KEY lines. 0 on success. */
int nh_start(struct nh_node *n, const char *const *args);
/* Wait up to timeout_ms for a stdout line starting with `prefix`; copies it to out. 0 if found. */
int nh_wait_line(struct nh_node *n, const char *prefix, int timeout_ms, char *out, size_t cap);
/* SIGTERM, reap, close. Accepts a never-started (zeroed) struct. */
void nh_stop(struct nh_node *n);

/* A software Ed25519 client identity and its raw public key. The one function to swap for a
 * token-backed key (benchmarks call it through a pointer). */
EVP_PKEY *nh_software_key(uint8_t pub[32]);

/* A fresh temporary directory (mkdtemp under /tmp) into out (cap >= 64). */
int nh_tmpdir(char *out, size_t cap);
/* rm -rf of a harness temp dir. */
void nh_rmdir(const char *dir);

/* The mainnet keyset (epoch 4: domain 0 Secp256k1 attempt 240, domain 1 Ed25519 attempt 0)
 * from $MPC_FIXTURES_DIR/near-mpc/mainnet-contract-state.json. 0 on success. */
int nh_mainnet_keyset(struct mpc_keyset *ks);
/* Keyshares JSON text for that keyset (threshold-signatures KeygenOutput shapes), plus one
 * unrelated keyshare of epoch 3 that must never be served. Static string. */
const char *nh_mainnet_keyshares_json(void);
/* The served array for the mainnet keyset, compact, in keyset order. Static string. */
const char *nh_mainnet_served_json(void);

/* A synthetic keyset of n Ed25519 domains (epoch 7) and its keyshares JSON (malloc'd). */
int nh_synthetic(size_t n, struct mpc_keyset *ks, char **keyshares_json);

/* Write text to dir/name; the path goes to out (cap 512). 0 on success. */
int nh_write_file(const char *dir, const char *name, const char *text, char *out);

#endif
