/* recover.c: a token that went away and came back: re-initialising its module and finding each
 * of its tokens again (the failure is told apart in presence.c, the re-find is in session.c). */
#include "pkcs11/token.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkcs11/internal.h"

#define REINIT_MAX 32

int mpc_token_reinit(struct mpc_token *const *tokens, size_t n, struct mpc_err *e)
{
	struct mpc_token *t[REINIT_MAX];
	struct mpc_p11_module *done[REINIT_MAX];
	size_t nt = 0, nd = 0;
	int rc = MPC_OK;

	for (size_t i = 0; i < n; i++) {
		int dup = tokens[i] == NULL;

		for (size_t k = 0; k < nt && !dup; k++)
			dup = t[k] == tokens[i];
		if (dup)
			continue;
		if (nt == REINIT_MAX)
			return mpc_fail(e, MPC_ERR_USAGE, "at most %d tokens", REINIT_MAX);
		t[nt++] = tokens[i];
	}
	/* One order for every caller (by address): no two callers wait on each other's locks. */
	for (size_t i = 1; i < nt; i++)
		for (size_t k = i; k > 0 && (uintptr_t)t[k - 1] > (uintptr_t)t[k]; k--) {
			struct mpc_token *x = t[k - 1];

			t[k - 1] = t[k];
			t[k] = x;
		}
	for (size_t i = 0; i < nt; i++)
		mpc_token_lock(t[i]);
	/* Re-initialise each module of which a token does not answer, once. */
	for (size_t i = 0; i < nt; i++) {
		struct mpc_p11_module *m = mpc_token_module_of(t[i]);
		struct mpc_err me = { 0 };
		int seen = 0;

		for (size_t k = 0; k < nd && !seen; k++)
			seen = done[k] == m;
		if (m == NULL || seen || (!m->down && mpc_token_probe(t[i]) == CKR_OK))
			continue;
		done[nd++] = m;
		if (mpc_p11_module_reinit(m, &me) != MPC_OK && rc == MPC_OK) {
			if (e != NULL)
				*e = me;
			mpc_err_prefix(e, "token \"%s\" is unavailable: ", MPC_TOKEN_LABEL(t[i]));
			rc = MPC_ERR_TOKEN_UNAVAILABLE;
		}
	}
	/* Find each token again (a re-initialised module) or make sure its session is open. */
	for (size_t i = 0; i < nt; i++) {
		struct mpc_err te = { 0 };
		int trc = mpc_token_ready(t[i], &te);

		if (trc == MPC_OK && mpc_token_probe(t[i]) != CKR_OK)
			trc = mpc_token_classify(t[i], MPC_ERR_PKCS11, &te);
		if (trc != MPC_OK && rc == MPC_OK) {
			if (e != NULL)
				*e = te;
			rc = trc;
		}
	}
	for (size_t i = nt; i-- > 0;)
		mpc_token_unlock(t[i]);
	return rc;
}
