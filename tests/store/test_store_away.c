/* test_store_away.c: verification, restore and drill of a store whose SoftHSM2 token directory
 * is moved away (issue 11 item 5): each stops with MPC_ERR_TOKEN_UNAVAILABLE and no verdict on
 * any file (a report listing good files as failing could get them quarantined); once the
 * directory is back and the module re-initialised, every file verifies again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "src/store/drill.h"
#include "src/store/store.h"
#include "src/util/mem.h"
#include "tests/store/sfix.h"
#include "tests/support/softhsm.h"

static void put_ok(struct mpc_store *s, struct mpc_token *t, const struct sf_set *f)
{
	struct mpc_store_put_opts o = { .tokens = &t,
					.n_tokens = 1,
					.mech = MPC_SEAL_AUTO,
					.contract = "v1.signer",
					.operator_ = "operator.near" };
	struct mpc_err e = { 0 };
	char name[MPC_STORE_NAME_MAX];
	uint8_t *js = NULL;
	size_t len = 0;

	assert_int_equal(sf_shares_json(f->shares, f->n, &js, &len), 0);
	if (mpc_store_put(s, &o, &f->ks, js, len, name, &e) != MPC_OK)
		fail_msg("put: %s", e.msg);
	mpc_secure_free(js);
}

static void test_verify_restore_drill_while_away(void **state)
{
	struct th_softhsm h;
	struct mpc_p11_ctx *ctx = NULL;
	struct mpc_token *t = NULL;
	struct mpc_store *s = NULL;
	struct mpc_store_verify_report vr;
	struct mpc_store_restore r;
	struct mpc_drill_report dr;
	struct mpc_err e = { 0 };
	struct sf_set f4, f5;
	char tmp[64] = "/tmp/mpc-store-away-XXXXXX", dir[128], tokdir[300], away[300], cmd[200];
	int rc;

	(void)state;
	assert_int_equal(th_softhsm_setup(&h, "store-a", NULL), 0);
	assert_int_equal(mpc_p11_ctx_new(&ctx, &e), MPC_OK);
	assert_int_equal(sf_token_open(ctx, h.uri, &t), 0);
	assert_non_null(mkdtemp(tmp));
	snprintf(dir, sizeof(dir), "%s/store", tmp);
	assert_int_equal(mpc_store_open(dir, 1, &s, &e), MPC_OK);
	assert_int_equal(sf_fixture_set(0, &f4), 0);
	assert_int_equal(sf_synthetic_set(5, 3, 7, &f5), 0);
	put_ok(s, t, &f4);
	put_ok(s, t, &f5);
	assert_int_equal(mpc_store_verify(s, &t, 1, &vr, &e), MPC_OK);
	assert_int_equal(vr.n_ok, 2);
	mpc_store_verify_report_free(&vr);

	snprintf(tokdir, sizeof(tokdir), "%s/tokens", h.dir);
	snprintf(away, sizeof(away), "%s/away", h.dir);
	assert_int_equal(rename(tokdir, away), 0);

	memset(&vr, 0, sizeof(vr));
	rc = mpc_store_verify(s, &t, 1, &vr, &e);
	if (rc != MPC_ERR_TOKEN_UNAVAILABLE)
		fail_msg("verify while away: %s (%zu failed): %s", mpc_errname(rc), vr.n_failed,
			 e.msg);
	assert_non_null(strstr(e.msg, "verification stopped"));
	assert_non_null(strstr(e.msg, "is unavailable"));
	assert_null(strstr(e.msg, "altered"));
	assert_int_equal(vr.n, 0);
	assert_null(vr.items);
	mpc_err_clear(&e);

	memset(&r, 0, sizeof(r));
	rc = mpc_store_open_keyset(s, &t, 1, 1, 0, &r, &e);
	assert_int_equal(rc, MPC_ERR_TOKEN_UNAVAILABLE);
	assert_null(r.keyshares);
	mpc_err_clear(&e);

	memset(&dr, 0, sizeof(dr));
	rc = mpc_drill_run(s, &t, 1, &f5.ks, &dr, &e);
	assert_int_equal(rc, MPC_ERR_TOKEN_UNAVAILABLE);
	assert_int_equal(dr.n, 0);
	mpc_err_clear(&e);

	/* nothing was moved to quarantine or removed */
	assert_int_equal(rename(away, tokdir), 0);
	if (mpc_token_reinit(&t, 1, &e) != MPC_OK)
		fail_msg("reinit: %s", e.msg);
	assert_int_equal(mpc_store_verify(s, &t, 1, &vr, &e), MPC_OK);
	assert_int_equal(vr.n, 2);
	assert_int_equal(vr.n_ok, 2);
	assert_int_equal(vr.n_failed, 0);
	mpc_store_verify_report_free(&vr);
	assert_int_equal(mpc_drill_run(s, &t, 1, &f5.ks, &dr, &e), MPC_OK);
	assert_true(dr.restorable);
	mpc_drill_report_free(&dr);

	sf_set_free(&f4);
	sf_set_free(&f5);
	mpc_store_close(s);
	mpc_token_close(t);
	mpc_p11_ctx_free(ctx);
	th_softhsm_teardown(&h);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verify_restore_drill_while_away),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
