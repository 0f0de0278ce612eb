/* contract_fixtures.h: test helpers to read fixture files and edit JSON text. */
#ifndef MPC_TESTS_CONTRACT_FIXTURES_H
#define MPC_TESTS_CONTRACT_FIXTURES_H

#include <stddef.h>

/* Read $MPC_SOURCE_DIR/tests/contract/fixtures/<name>, or the mainnet state for
 * name == "mainnet" ($MPC_FIXTURES_DIR/near-mpc/mainnet-contract-state.json).
 * Aborts the test on failure. free() the result. */
char *fixture_read(const char *name, size_t *len);

/* Copy of `text` with the first occurrence of `from` replaced by `to`; fails the test if
 * `from` is absent. free() the result. */
char *fixture_replace(const char *text, const char *from, const char *to);

/* Write `text` to dir/name atomically (temp + rename), as a timeline step. */
void fixture_write(const char *dir, const char *name, const char *text);

/* Copy a fixture into dir/name. */
void fixture_copy(const char *fixture, const char *dir, const char *name);

/* mkdtemp under TMPDIR or /tmp; the returned path is static storage per call slot (0..7). */
const char *fixture_tmpdir(int slot);

/* Remove the regular files in dir, then dir itself. */
void fixture_rmdir(const char *dir);

#endif
