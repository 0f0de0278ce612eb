/* test_away.c: a SoftHSM2 token whose directory is moved away and put back (issue 11 item 5):
 * every call says "unavailable" (never a failed authentication or a missing key), the module's
 * re-initialisation finds the token again, and no handle of the module's previous life is used
 * again, also by a second token of the same module. */
#include "tests/pkcs11/ptest.h"

#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>

#include "pkcs11/seal.h"
#include "src/util/mem.h"

static const uint8_t aad[] = "mpc-backup store header";
static const uint8_t secret[] = "keyshares of epoch 4";

/* The per-token directories under the SoftHSM2 token directory, into names[] (up to 4). */
static int token_dirs(struct ptest *p, char names[][300], int cap)
{
	char dir[300];
	struct dirent *d;
	DIR *dp;
	int n = 0;

	snprintf(dir, sizeof(dir), "%s/tokens", p->hsm.dir);
	dp = opendir(dir);
	assert_non_null(dp);
	while ((d = readdir(dp)) != NULL && n < cap)
		if (d->d_name[0] != '.')
			snprintf(names[n++], 300, "%.200s/%.90s", dir, d->d_name);
	closedir(dp);
	return n;
}

static void move(const char *from, const char *to)
{
	if (rename(from, to) != 0)
		fail_msg("rename %s -> %s failed", from, to);
}

static void seal_ok(struct mpc_token *t, uint8_t **blob, size_t *len)
{
	struct mpc_err e = { 0 };

	if (mpc_seal(t, MPC_SEAL_AUTO, aad, sizeof(aad), secret, sizeof(secret), blob, len, &e) !=
	    MPC_OK)
		fail_msg("seal: %s", e.msg);
}

static void unseal_ok(struct mpc_token *t, const uint8_t *blob, size_t len)
{
	struct mpc_err e = { 0 };
	uint8_t *pt = NULL;
	size_t n = 0;

	if (mpc_unseal(t, aad, sizeof(aad), blob, len, &pt, &n, &e) != MPC_OK)
		fail_msg("unseal: %s", e.msg);
	assert_int_equal(n, sizeof(secret));
	assert_memory_equal(pt, secret, n);
	mpc_secure_free(pt);
}

/* The call failed as "unavailable", naming the token and the module, and not as anything an
 * operator would act on against the data or the keys. */
static void is_unavailable(int rc, const struct mpc_err *e, const char *label, const char *module)
{
	if (rc != MPC_ERR_TOKEN_UNAVAILABLE)
		fail_msg("expected MPC_ERR_TOKEN_UNAVAILABLE, got %s: %s", mpc_errname(rc), e->msg);
	assert_int_equal(e->code, MPC_ERR_TOKEN_UNAVAILABLE);
	assert_non_null(strstr(e->msg, "is unavailable"));
	assert_non_null(strstr(e->msg, label));
	assert_non_null(strstr(e->msg, module));
	assert_null(strstr(e->msg, "altered"));
	assert_null(strstr(e->msg, "token init"));
	assert_int_equal(mpc_exit_status(rc), 19);
}

static void check_away(struct ptest *p, struct mpc_token *t, const char *label, const uint8_t *blob,
		       size_t len)
{
	struct mpc_err e = { 0 };
	uint8_t *pt = NULL, *b2 = NULL;
	size_t n = 0, l2 = 0;
	enum mpc_seal_mech m;
	int rc;

	/* a good blob is not reported as failing authentication (with the session and the key
	 * handles of before: SoftHSM2 answers CKR_OBJECT_HANDLE_INVALID) */
	rc = mpc_unseal(t, aad, sizeof(aad), blob, len, &pt, &n, &e);
	is_unavailable(rc, &e, label, p->hsm.module);
	assert_null(pt);
	mpc_err_clear(&e);
	rc = mpc_seal(t, MPC_SEAL_AUTO, aad, sizeof(aad), secret, sizeof(secret), &b2, &l2, &e);
	is_unavailable(rc, &e, label, p->hsm.module);
	assert_null(b2);
	mpc_err_clear(&e);
	/* nor are the keys reported missing (SoftHSM2 finds no objects) */
	rc = mpc_seal_pick(t, MPC_SEAL_AUTO, &m, &e);
	is_unavailable(rc, &e, label, p->hsm.module);
	mpc_err_clear(&e);
	rc = mpc_token_check(t, &e);
	is_unavailable(rc, &e, label, p->hsm.module);
	mpc_err_clear(&e);
	/* a re-initialisation while it is away says so, and can be tried again */
	rc = mpc_token_reinit(&t, 1, &e);
	if (rc != MPC_ERR_TOKEN_UNAVAILABLE)
		fail_msg("reinit while away: %s: %s", mpc_errname(rc), e.msg);
	mpc_err_clear(&e);
	rc = mpc_token_reinit(&t, 1, &e);
	assert_int_equal(rc, MPC_ERR_TOKEN_UNAVAILABLE);
	mpc_err_clear(&e);
	rc = mpc_unseal(t, aad, sizeof(aad), blob, len, &pt, &n, &e);
	is_unavailable(rc, &e, label, p->hsm.module);
}

static void away_and_back(struct ptest *p, int whole)
{
	char dirs[4][300], away[300];
	struct mpc_err e = { 0 };
	uint8_t *blob = NULL;
	size_t len = 0;
	const char *what;

	seal_ok(p->t, &blob, &len);
	unseal_ok(p->t, blob, len); /* key handles cached */
	if (whole) {
		snprintf(dirs[0], sizeof(dirs[0]), "%s/tokens", p->hsm.dir);
	} else {
		assert_int_equal(token_dirs(p, dirs, 4), 1);
	}
	what = dirs[0];
	snprintf(away, sizeof(away), "%s/away", p->hsm.dir);
	move(what, away);
	check_away(p, p->t, "mpc-backup", blob, len);
	/* Put back: without a re-initialisation SoftHSM2 never sees it again; with one, the
	 * token is found, logged in, and its keys looked up afresh. */
	move(away, what);
	assert_int_equal(mpc_token_check(p->t, &e), MPC_ERR_TOKEN_UNAVAILABLE);
	mpc_err_clear(&e);
	if (mpc_token_reinit(&p->t, 1, &e) != MPC_OK)
		fail_msg("reinit after the token came back: %s", e.msg);
	assert_int_equal(mpc_token_check(p->t, &e), MPC_OK);
	unseal_ok(p->t, blob, len);
	free(blob);
	blob = NULL;
	seal_ok(p->t, &blob, &len);
	unseal_ok(p->t, blob, len);
	/* nothing to do when it is there: no re-initialisation, the session is kept */
	assert_int_equal(mpc_token_reinit(&p->t, 1, &e), MPC_OK);
	unseal_ok(p->t, blob, len);
	free(blob);
}

/* The whole token directory: SoftHSM2's C_Initialize itself fails while it is away. */
static void test_token_directory_away(void **state)
{
	away_and_back(*state, 1);
}

/* The token's own directory: the module initialises but lists no such token. */
static void test_token_subdirectory_away(void **state)
{
	away_and_back(*state, 0);
}

/* Two tokens of one module: the one that stays keeps working through the other's absence and
 * the module's re-initialisations (its session re-opened, never another's handle used), also
 * when it was not in the list given to the re-initialisation. */
static void test_second_token_of_the_module(void **state)
{
	struct ptest *p = *state;
	char before[4][300], after[4][300], uri2[512], away[300], *mine = NULL;
	struct mpc_err e = { 0 };
	struct mpc_ceremony_report rep;
	struct mpc_token *t2;
	uint8_t *b1 = NULL, *b2 = NULL;
	size_t l1 = 0, l2 = 0;
	int n;

	assert_int_equal(token_dirs(p, before, 4), 1);
	assert_int_equal(th_softhsm_add_token(&p->hsm, "second", uri2), 0);
	/* SoftHSM2 sees a token added by another process only after a re-initialisation */
	{
		struct mpc_token *only[] = { p->t };
		struct mpc_p11_module *m = NULL;

		for (int i = 0; i < p->ctx->n; i++)
			if (p->ctx->mod[i].fn == p->t->fn)
				m = &p->ctx->mod[i];
		assert_non_null(m);
		mpc_token_lock(p->t);
		assert_int_equal(mpc_p11_module_reinit(m, &e), MPC_OK);
		mpc_token_unlock(p->t);
		assert_int_equal(mpc_token_reinit(only, 1, &e), MPC_OK);
	}
	t2 = ptest_open(p, uri2);
	if (mpc_key_ceremony(t2, MPC_CEREMONY_SEAL, &rep, &e) != MPC_OK)
		fail_msg("ceremony: %s", e.msg);
	n = token_dirs(p, after, 4);
	assert_int_equal(n, 2);
	for (int i = 0; i < n; i++)
		if (strcmp(after[i], before[0]) != 0)
			mine = after[i];
	assert_non_null(mine);
	seal_ok(p->t, &b1, &l1);
	seal_ok(t2, &b2, &l2);
	unseal_ok(t2, b2, l2);

	/* the second token goes away; the first stays */
	snprintf(away, sizeof(away), "%s/away", p->hsm.dir);
	move(mine, away);
	check_away(p, t2, "second", b2, l2); /* re-initialises the module (twice) */
	/* the first token was not in the list: it finds itself again at its next use */
	unseal_ok(p->t, b1, l1);
	{
		struct mpc_token *both[] = { t2, p->t, t2 };

		assert_int_equal(mpc_token_reinit(both, 3, &e), MPC_ERR_TOKEN_UNAVAILABLE);
		assert_non_null(strstr(e.msg, "second"));
		mpc_err_clear(&e);
	}
	unseal_ok(p->t, b1, l1);
	move(away, mine);
	{
		struct mpc_token *both[] = { p->t, t2 };

		if (mpc_token_reinit(both, 2, &e) != MPC_OK)
			fail_msg("reinit: %s", e.msg);
	}
	unseal_ok(t2, b2, l2);
	unseal_ok(p->t, b1, l1);
	free(b1);
	free(b2);
	mpc_token_close(t2);
}

static struct mpc_p11_module *module_of(struct ptest *p, struct mpc_token *t)
{
	for (int i = 0; i < p->ctx->n; i++)
		if (p->ctx->mod[i].fn == t->fn)
			return &p->ctx->mod[i];
	fail_msg("the token's module is not in the context");
	return NULL;
}

/* Re-initialise t's module as mpc_token_reinit would, without finding t again. */
static void reinit_module(struct ptest *p, struct mpc_token *t)
{
	struct mpc_err e = { 0 };

	mpc_token_lock(t);
	if (mpc_p11_module_reinit(module_of(p, t), &e) != MPC_OK)
		fail_msg("module reinit: %s", e.msg);
	mpc_token_unlock(t);
}

/* The module is found again by the token's URI, as it was opened: here its library-description
 * (a shim module over SoftHSM2 that reports what $LOCKSHIM_LIBRARY says). Once the module is
 * another library, the URI no longer selects it: unavailable, never used anyway; back as it
 * was, the token is found again. */
static void test_refind_honours_the_uri(void **state)
{
	struct ptest *p = *state;
	char uri[1024];
	struct mpc_err e = { 0 };
	uint8_t *blob = NULL;
	size_t len = 0;
	struct mpc_token *t;
	int rc;

	setenv("LOCKSHIM_REAL", p->hsm.module, 1);
	setenv("LOCKSHIM_FLAGS", "0", 1);
	setenv("LOCKSHIM_LIBRARY", "Shim A", 1);
	snprintf(uri, sizeof(uri),
		 "pkcs11:token=mpc-backup;library-description=Shim%%20A?module-path=%s",
		 getenv("LOCKSHIM"));
	t = ptest_open(p, uri);
	seal_ok(t, &blob, &len);
	unseal_ok(t, blob, len);
	setenv("LOCKSHIM_LIBRARY", "Shim B", 1);
	reinit_module(p, t);
	rc = mpc_unseal(t, aad, sizeof(aad), blob, len, &(uint8_t *){ NULL }, &(size_t){ 0 }, &e);
	is_unavailable(rc, &e, "mpc-backup", getenv("LOCKSHIM"));
	assert_non_null(strstr(e.msg, "library-*"));
	mpc_err_clear(&e);
	assert_int_equal(mpc_token_reinit(&t, 1, &e), MPC_ERR_TOKEN_UNAVAILABLE);
	mpc_err_clear(&e);
	setenv("LOCKSHIM_LIBRARY", "Shim A", 1);
	reinit_module(p, t);
	if (mpc_token_reinit(&t, 1, &e) != MPC_OK)
		fail_msg("reinit: %s", e.msg);
	unseal_ok(t, blob, len);
	free(blob);
	mpc_token_close(t);
	unsetenv("LOCKSHIM_LIBRARY");
}

/* A token opened without a PIN (mpc_token_open_public) whose module is re-initialised before it
 * logs in: the session of the module's previous life is forgotten, never closed, so the
 * session that now has its number (another token's here) stays open. */
static void test_login_after_reinit_closes_no_other_session(void **state)
{
	struct ptest *p = *state;
	struct mpc_err e = { 0 };
	struct mpc_token *pub = NULL;
	CK_SESSION_HANDLE old, s[64];
	CK_SESSION_INFO si;
	uint8_t key[32];
	int n = 0;

	if (mpc_token_open_public(p->ctx, p->hsm.uri, NULL, &pub, &e) != MPC_OK)
		fail_msg("open_public: %s", e.msg);
	old = pub->session;
	reinit_module(p, pub);
	/* SoftHSM2 numbers sessions afresh after C_Initialize: open sessions (someone else's)
	 * until one has the old number again */
	do {
		assert_true(n < 64);
		assert_int_equal(pub->fn->C_OpenSession(pub->slot, CKF_SERIAL_SESSION, NULL, NULL,
							&s[n]),
				 CKR_OK);
	} while (s[n++] != old);
	if (mpc_token_login(pub, &e) != MPC_OK)
		fail_msg("login: %s", e.msg);
	assert_int_equal(pub->fn->C_GetSessionInfo(old, &si), CKR_OK);
	assert_int_not_equal(pub->session, old);
	if (mpc_token_tls_public_key(pub, key, NULL, &e) != MPC_OK)
		fail_msg("tls key: %s", e.msg);
	for (int i = 0; i < n; i++)
		assert_int_equal(pub->fn->C_CloseSession(s[i]), CKR_OK);
	mpc_token_close(pub);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_token_directory_away, ptest_setup,
						ptest_teardown),
		cmocka_unit_test_setup_teardown(test_token_subdirectory_away, ptest_setup,
						ptest_teardown),
		cmocka_unit_test_setup_teardown(test_second_token_of_the_module, ptest_setup,
						ptest_teardown),
		cmocka_unit_test_setup_teardown(test_refind_honours_the_uri, ptest_setup,
						ptest_teardown),
		cmocka_unit_test_setup_teardown(test_login_after_reinit_closes_no_other_session,
						ptest_setup, ptest_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
