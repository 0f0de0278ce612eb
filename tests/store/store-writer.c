/* store-writer.c: test driver that writes one seeded synthetic keyset into a store, so that the
 * crash test can kill it (MPC_STORE_CRASH_AT or a real kill -9) at any instant.
 *
 *   store-writer DIR TOKEN_URI EPOCH NDOMAINS SEED
 *   store-writer DIR quarantine EPOCH          (no token: moves that epoch to quarantine/)
 * The token must already hold the sealing keys; the PIN comes from MPC_BACKUP_PIN.
 * Exit 0: stored; 1: refused or failed (message on stderr); 2: usage.
 *
 * With STORE_WRITER_READY_FD=<fd>, one byte is written to that descriptor once the token is open
 * and logged in, and the process leaves with _exit() right after the store call, without
 * logging out. Reason: SoftHSM2 rewrites its token.object file in place on C_Login (and
 * possibly on logout), so a kill -9 landing there can tear the token itself; the crash test
 * kills only the store's part (a known SoftHSM2 hazard, recorded in docs/store-format.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pkcs11/module.h"
#include "pkcs11/token.h"
#include "src/store/store.h"
#include "src/util/mem.h"
#include "tests/store/sfix.h"

int main(int argc, char **argv)
{
	struct mpc_p11_ctx *ctx = NULL;
	struct mpc_token *t = NULL;
	struct mpc_store *s = NULL;
	struct mpc_pin_opts pin = { 0 };
	struct mpc_err e = { 0 };
	struct sf_set f = { 0 };
	uint8_t *js = NULL;
	size_t len = 0;
	int rc = 1;

	if (argc == 4 && strcmp(argv[2], "quarantine") == 0) {
		if (mpc_store_open(argv[1], 0, &s, &e) != MPC_OK ||
		    mpc_store_quarantine(s, strtoull(argv[3], NULL, 10), NULL, &e) != MPC_OK) {
			fprintf(stderr, "store-writer: %s\n", e.msg);
			mpc_store_close(s);
			return 1;
		}
		mpc_store_close(s);
		return 0;
	}
	if (argc != 6) {
		fprintf(stderr, "usage: store-writer DIR TOKEN_URI EPOCH NDOMAINS SEED\n");
		return 2;
	}
	if (sf_synthetic_set(strtoull(argv[3], NULL, 10), strtoull(argv[4], NULL, 10),
			     strtoull(argv[5], NULL, 10), &f) != 0 ||
	    sf_shares_json(f.shares, f.n, &js, &len) != 0) {
		fprintf(stderr, "store-writer: cannot build the keyset\n");
		goto out;
	}
	if (mpc_p11_ctx_new(&ctx, &e) != MPC_OK || mpc_token_open(ctx, argv[2], &pin, &t, &e) != MPC_OK ||
	    mpc_store_open(argv[1], 1, &s, &e) != MPC_OK)
		goto out;
	if (getenv("STORE_WRITER_READY_FD") != NULL) {
		int fd = atoi(getenv("STORE_WRITER_READY_FD"));

		if (write(fd, "r", 1) != 1)
			goto out;
		close(fd);
	}
	{
		struct mpc_store_put_opts o = { .tokens = &t, .n_tokens = 1, .mech = MPC_SEAL_AUTO,
						.contract = "v1.signer", .operator_ = "crash.near" };
		char name[MPC_STORE_NAME_MAX];

		rc = mpc_store_put(s, &o, &f.ks, js, len, name, &e);
		if (getenv("STORE_WRITER_READY_FD") != NULL) {
			if (rc != MPC_OK)
				fprintf(stderr, "store-writer: %s\n", e.msg);
			_exit(rc == MPC_OK ? 0 : 1);
		}
		if (rc != MPC_OK) {
			rc = 1;
			goto out;
		}
		printf("%s\n", name);
	}
	rc = 0;
out:
	if (rc != 0 && e.code != MPC_OK)
		fprintf(stderr, "store-writer: %s\n", e.msg);
	mpc_secure_free(js);
	sf_set_free(&f);
	mpc_store_close(s);
	mpc_token_close(t);
	mpc_p11_ctx_free(ctx);
	return rc;
}
