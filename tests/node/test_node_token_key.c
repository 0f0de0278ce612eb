/* test_node_token_key.c: the node client with the TLS key in a real SoftHSM2 token, against
 * fake-node: a TLS key that cannot sign (its private half deleted with pkcs11-tool, an
 * independent tool; or a key of another type under its label) fails the handshake on our side,
 * and that is reported as a token error naming the token, never as the node refusing our key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <curl/curl.h>

#include "pkcs11/ed25519.h"
#include "pkcs11/keys.h"
#include "pkcs11/module.h"
#include "pkcs11/provider.h"
#include "pkcs11/token.h"
#include "src/node/client.h"
#include "src/util/encoding.h"
#include "tests/node/node_harness.h"
#include "tests/support/softhsm.h"

struct fx {
	struct th_softhsm hsm;
	struct mpc_p11_ctx *p11;
	struct mpc_token *t;
	struct mpc_provider prov;
	EVP_PKEY *key;
	uint8_t pub[32];
	char pub_str[MPC_ED25519_KEY_STR_MAX];
	struct nh_node node;
	struct mpc_node_client *c;
	char out[8192];
	char last[MPC_ERR_MSG_MAX]; /* the last error expect_token_blamed saw */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct mpc_ceremony_report rep;
	struct mpc_err e = { 0 };

	assert_non_null(f);
	f->node.out_fd = -1;
	assert_int_equal(th_softhsm_setup(&f->hsm, "mpc-backup", NULL), 0);
	assert_int_equal(mpc_p11_ctx_new(&f->p11, &e), MPC_OK);
	assert_int_equal(mpc_token_open(f->p11, f->hsm.uri, NULL, &f->t, &e), MPC_OK);
	assert_int_equal(mpc_key_ceremony(f->t, MPC_CEREMONY_SEAL | MPC_CEREMONY_TLS, &rep, &e),
			 MPC_OK);
	assert_int_equal(mpc_provider_load(NULL, &f->prov, &e), MPC_OK);
	assert_int_equal(mpc_provider_token_pkey(NULL, f->t, &f->key, &e), MPC_OK);
	assert_int_equal(mpc_ed25519_public_key(f->t, f->pub, &e), MPC_OK);
	mpc_ed25519_key_format(f->pub, f->pub_str, NULL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	mpc_node_client_free(f->c);
	nh_stop(&f->node);
	EVP_PKEY_free(f->key);
	mpc_provider_unload(&f->prov);
	mpc_token_close(f->t);
	mpc_p11_ctx_free(f->p11);
	th_softhsm_teardown(&f->hsm);
	free(f);
	return 0;
}

/* A fake node that accepts the token's key, and a client for it. */
static void start(struct fx *f)
{
	const char *args[] = { "--client-key", f->pub_str, NULL };
	struct mpc_node_client_opts o = { 0 };
	char addr[64];
	struct mpc_err e = { 0 };

	assert_int_equal(nh_start(&f->node, args), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", f->node.port);
	o.client_key = f->key;
	memcpy(o.client_pub, f->pub, 32);
	memcpy(o.node_pub, f->node.key, 32);
	o.address = addr;
	o.connect_timeout_ms = 5000;
	o.timeout_ms = 10000;
	o.fresh_connection = 1;
	assert_int_equal(mpc_node_client_new(&o, &f->c, &e), MPC_OK);
}

/* pkcs11-tool (OpenSC), logged in to the test token, with `args`. */
static void p11tool(struct fx *f, const char *args)
{
	char cmd[2048];
	int st;

	snprintf(cmd, sizeof(cmd), "pkcs11-tool --module '%s' --token-label mpc-backup --login "
		 "--pin %s %s 2>&1", f->hsm.module, TH_USER_PIN, args);
	st = th_run(cmd, f->out, sizeof(f->out));
	if (st != 0)
		fail_msg("%s -> %d: %s", cmd, st, f->out);
}

static void expect_token_blamed(struct fx *f)
{
	struct mpc_err e = { 0 };
	int rc = mpc_node_hello(f->c, &e);

	print_message("    -> %s\n", e.msg);
	snprintf(f->last, sizeof(f->last), "%s", e.msg);
	assert_int_equal(rc, MPC_ERR_PKCS11);
	assert_non_null(strstr(e.msg, "token \"mpc-backup\""));
	assert_non_null(strstr(e.msg, "could not sign"));
	assert_null(strstr(e.msg, "refused"));
	assert_null(strstr(e.msg, "rejected"));
	/* the node saw our (right) key in the certificate but no finished handshake */
	assert_int_not_equal(nh_wait_line(&f->node, "ACCEPTED", 300, NULL, 0), 0);
}

static void test_token_key_signs(void **state)
{
	struct fx *f = *state;
	struct mpc_err e = { 0 };

	start(f);
	assert_int_equal(mpc_node_hello(f->c, &e), MPC_OK);
}

static void test_private_key_deleted(void **state)
{
	struct fx *f = *state;

	p11tool(f, "--delete-object --type privkey --label mpc-backup-tls");
	start(f);
	expect_token_blamed(f);
}

/* An EC P-256 private key under the TLS key's label and id (the Ed25519 one gone): found, but
 * CKM_EDDSA cannot sign with it (SoftHSM2 2.6 says CKR_GENERAL_ERROR). */
static void test_private_key_of_wrong_type(void **state)
{
	struct fx *f = *state;

	p11tool(f, "--delete-object --type privkey --label mpc-backup-tls");
	p11tool(f, "--keypairgen --key-type EC:prime256v1 --label mpc-backup-tls --id 77 "
		   "--sensitive --usage-sign");
	p11tool(f, "--delete-object --type pubkey --id 77");
	p11tool(f, "--type privkey --id 77 --set-id 10");
	start(f);
	expect_token_blamed(f);
	assert_non_null(strstr(f->last, "C_Sign(CKM_EDDSA) on mpc-backup-tls failed"));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_token_key_signs),
		T(test_private_key_deleted),
		T(test_private_key_of_wrong_type),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
