/* cli_harness.h: run the mpc-backup program as an operator or a ceremony script does, and the
 * fixtures the end-to-end CLI tests share (keyset and keyshares files that validate, fake-node
 * event reading, servers started as child processes).
 *
 * The binary is $MPC_BACKUP_BIN. Every child is started with PR_SET_PDEATHSIG(SIGKILL), so no
 * process outlives a test program that dies; every run is bounded (a hung mpc-backup is killed
 * after CH_RUN_LIMIT_S seconds and the test fails). An AddressSanitizer/UBSan/LSan report on a
 * child's stderr fails the test.
 */
#ifndef MPC_TESTS_CLI_HARNESS_H
#define MPC_TESTS_CLI_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tests/node/node_harness.h"

#define CH_RUN_LIMIT_S 120
#define CH_OUT_MAX (256 * 1024)

/* Keys that validate against the keyshare fixtures (tests/monitor/fixtures/README.md). */
#define CH_SECP_KEY                                                                            \
	"secp256k1:4Q9aK3YhZAugWM3vJrePc5CAxL81yEXzkcT5zqSscURArmybYWJyDLhJ6vijgdDr6PfCcc3dgCvG2fgd" \
	"oTtFfM7i"
#define CH_ED_KEY "ed25519:GFRaCJ8UDCWt7ZawnTbQ83RGPo7o3viyyer68jysLmVM"
#define CH_ED_POINT                                                                             \
	"[226,145,56,31,230,216,66,243,4,18,49,92,180,49,172,220,24,160,44,186,208,98,22,94,134,63," \
	"26,6,14,43,164,180]"
/* Epoch 4: domain 0 Secp256k1 attempt 240, domain 1 Ed25519 attempt 0. */
#define CH_KEYSET_E4                                                                            \
	"{\"epoch_id\":4,\"domains\":[{\"domain_id\":0,\"key\":{\"Secp256k1\":{\"near_public_key\":\"" \
	CH_SECP_KEY "\"}},\"attempt\":240},{\"domain_id\":1,\"key\":{\"Ed25519\":{"                 \
	"\"near_public_key_compressed\":\"" CH_ED_KEY "\",\"edwards_point\":" CH_ED_POINT "}},"       \
	"\"attempt\":0}]}"
/* Epoch 3: domain 0 Secp256k1 attempt 239 (the harness's epoch-3 keyshare, same public key). */
#define CH_KEYSET_E3                                                                            \
	"{\"epoch_id\":3,\"domains\":[{\"domain_id\":0,\"key\":{\"Secp256k1\":{\"near_public_key\":\"" \
	CH_SECP_KEY "\"}},\"attempt\":239}]}"

struct ch_result {
	int status;          /* exit status, or -1 if killed by a signal */
	char *out, *err;     /* NUL-terminated stdout and stderr (each at most CH_OUT_MAX) */
	size_t out_len, err_len;
};

/* Run `mpc-backup ARGS...` (NULL-terminated). stdin_path: a file for stdin, NULL for
 * /dev/null. env: NULL or a NULL-terminated list of "NAME=value" (set) and "NAME" (unset)
 * applied in the child. The previous contents of r are released. Returns r->status. */
int ch_run(struct ch_result *r, const char *stdin_path, const char *const *env, ...)
	__attribute__((sentinel));
/* The same with an argv array (NULL-terminated, without the program). */
int ch_runv(struct ch_result *r, const char *stdin_path, const char *const *env,
	    const char *const *args);
void ch_result_free(struct ch_result *r);
/* Number of '\n' in s. */
int ch_lines(const char *s);
/* Fail the test with the command's output unless it exited with `want` and, when needle is
 * not NULL, stdout or stderr contains needle. */
void ch_expect(const struct ch_result *r, int want, const char *needle);
/* Fail unless an error run printed exactly one line on stderr, starting "mpc-backup <cmd>: ". */
void ch_expect_one_error_line(const struct ch_result *r, const char *cmd);

/* `token init --token uri`: the TLS public key ("ed25519:...") into key (cap 64). */
void ch_token_init(const char *uri, char *key);

/* Write text to dir/name (path into out, 512 bytes). */
void ch_write(const char *dir, const char *name, const char *text, char *out);
/* Read a whole file (malloc, NUL-terminated); NULL if unreadable. */
char *ch_read(const char *path, size_t *len);
/* Number of regular files in dir whose name ends with suffix (-1 if dir is unreadable). */
int ch_count_files(const char *dir, const char *suffix);

/* Read fake-node event lines until one equal to or starting with `until`, appending every
 * line read (including that one) to log (cap bytes). Fails the test after 20 s. */
void ch_node_events_until(struct nh_node *n, const char *until, char *log, size_t cap);
/* Put a unique marker in the node's event stream (a connection from a throwaway software key,
 * which the node refuses with "REFUSED <key>") and return every event line before it. Use it
 * to show that something did NOT reach the node. */
void ch_node_events_flush(struct nh_node *n, char *log, size_t cap);

/* Start a server process: argv[0] is looked up in PATH; cwd (may be NULL) is its working
 * directory; stdout and stderr go to log_path. Returns its pid. */
pid_t ch_spawn(char *const argv[], const char *cwd, const char *log_path);
/* Like ch_spawn, with stdin a pipe whose write end goes to *stdin_fd (closing it is EOF). */
pid_t ch_spawn_piped(char *const argv[], const char *cwd, const char *log_path, int *stdin_fd);
/* SIGTERM, then SIGKILL after 5 s; reap. Accepts pid <= 0. */
void ch_stop(pid_t *pid);
/* Wait up to 20 s until the file contains needle; returns the file (malloc) or fails. */
char *ch_wait_file(const char *path, const char *needle);
/* A TCP port on 127.0.0.1 that was free a moment ago. */
unsigned ch_free_port(void);
/* A socket bound to a loopback port and not listening: connecting to it is refused. Returns
 * the fd (close it when done) and the port. */
int ch_refusing_port(unsigned *port);

/* A socket on a loopback port that listens and never accepts: a connection completes and a
 * request is sent, and no byte ever comes back (a stalled peer). Returns the fd. */
int ch_stalling_port(unsigned *port);
/* Start `mpc-backup ARGS...` (NULL-terminated array), send it `sig` after `after_ms`, and
 * return its exit status (-1 if killed by a signal); fails the test if it has not ended
 * `limit_s` seconds after the signal. stdout and stderr go to log_path. */
int ch_run_signalled(const char *log_path, int after_ms, int sig, int limit_s,
		     const char *const *args);

struct CMUnitTest;

/* A test program's main: SIGPIPE ignored, libcurl initialised, the group run. */
int ch_main(const char *name, const struct CMUnitTest *tests, size_t n);
#define CH_MAIN(tests) ch_main(__FILE__, tests, sizeof(tests) / sizeof((tests)[0]))

#endif
