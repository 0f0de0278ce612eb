/* ptest.h: shared setup for the token-layer tests: a fresh SoftHSM2 token per test with the
 * ceremony run, opened through the real token layer. The tests look inside the token (its
 * session, Cryptoki directly) through the layer's internal header. */
#ifndef MPC_TESTS_PKCS11_PTEST_H
#define MPC_TESTS_PKCS11_PTEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pkcs11/internal.h"
#include "pkcs11/keys.h"
#include "pkcs11/module.h"
#include "pkcs11/token.h"
#include "tests/support/softhsm.h"

struct ptest {
	struct th_softhsm hsm;
	struct mpc_p11_ctx *ctx;
	struct mpc_token *t;
};

static inline struct mpc_token *ptest_open(struct ptest *p, const char *uri)
{
	struct mpc_err e = { 0 };
	struct mpc_token *t = NULL;
	int rc = mpc_token_open(p->ctx, uri, NULL, &t, &e);

	if (rc != MPC_OK)
		fail_msg("mpc_token_open: %s", e.msg);
	return t;
}

static inline int ptest_setup_mech(void **state, const char *mechanisms)
{
	struct ptest *p = calloc(1, sizeof(*p));
	struct mpc_err e = { 0 };
	struct mpc_ceremony_report rep;

	assert_non_null(p);
	assert_int_equal(th_softhsm_setup(&p->hsm, "mpc-backup", mechanisms), 0);
	assert_int_equal(mpc_p11_ctx_new(&p->ctx, &e), MPC_OK);
	p->t = ptest_open(p, p->hsm.uri);
	if (mpc_key_ceremony(p->t, MPC_CEREMONY_SEAL | MPC_CEREMONY_TLS, &rep, &e) != MPC_OK)
		fail_msg("ceremony: %s", e.msg);
	*state = p;
	return 0;
}

static inline int ptest_setup(void **state)
{
	return ptest_setup_mech(state, NULL);
}

static inline int ptest_teardown(void **state)
{
	struct ptest *p = *state;

	mpc_token_close(p->t);
	mpc_p11_ctx_free(p->ctx);
	th_softhsm_teardown(&p->hsm);
	free(p);
	return 0;
}

#endif
