/* session.c: tokens, provider key, transport key, sealing tokens and store for a command. */
#include "src/cli/session.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pkcs11/ed25519.h"
#include "pkcs11/keys.h"
#include "pkcs11/transport.h"
#include "src/util/encoding.h"
#include "src/util/mem.h"

int mpc_cli_node_opt(const char *cmd, struct mpc_cli_node_opts *o, int opt, const char *arg)
{
	char *end;

	switch (opt) {
	case MPC_OPT_NODE:
		o->node = arg;
		return 1;
	case MPC_OPT_NODE_KEY:
		o->node_key = arg;
		return 1;
	case MPC_OPT_TRANSPORT_FILE:
		o->transport_key_file = arg;
		return 1;
	case MPC_OPT_STORE:
		o->store = arg;
		return 1;
	case MPC_OPT_SEAL_TO:
		if (o->n_seal_to == MPC_STORE_MAX_TOKENS) {
			mpc_cli_usage(cmd, "at most %d --seal-to tokens", MPC_STORE_MAX_TOKENS);
			return -1;
		}
		o->seal_to[o->n_seal_to++] = arg;
		return 1;
	case MPC_OPT_CONTRACT:
		o->contract = arg;
		return 1;
	case MPC_OPT_ACCOUNT:
		o->account = arg;
		return 1;
	case MPC_OPT_NODE_TIMEOUT:
		errno = 0;
		o->node_timeout = strtod(arg, &end);
		if (errno != 0 || *end != '\0' || !isfinite(o->node_timeout) ||
		    o->node_timeout <= 0 || o->node_timeout > 3600) {
			mpc_cli_usage(
				cmd,
				"--node-timeout: \"%.40s\" is not a number of seconds in (0, 3600]",
				arg);
			return -1;
		}
		return 1;
	default:
		return 0;
	}
}

int mpc_cli_node_key(const struct mpc_cli_node_opts *o, uint8_t key[32], struct mpc_err *e)
{
	if (o->node_key == NULL)
		return mpc_fail(
			e, MPC_ERR_USAGE,
			"--node-key ed25519:... is required (the node's tls_public_key on the "
			"contract)");
	return mpc_ed25519_key_parse(o->node_key, key, "--node-key", e);
}

/* Transport key: a file, the environment, or the token's imported key, in that order. */
static int open_transport(const struct mpc_cli_node_opts *o, struct mpc_cli_session *s,
			  struct mpc_err *e)
{
	struct mpc_err nf = { 0 };
	int rc, present = 0;

	if (o->transport_key_file != NULL)
		return mpc_transport_key_from_file(&s->transport, o->transport_key_file, e);
	rc = mpc_transport_key_from_env(&s->transport, NULL, &nf);
	if (rc == MPC_OK) {
		/* It is in locked memory now: do not leave it in the environment for the process's
		 * lifetime (nor for children). */
		char *v = getenv(MPC_TRANSPORT_KEY_ENV);

		if (v != NULL)
			mpc_memzero(v, strlen(v));
		unsetenv(MPC_TRANSPORT_KEY_ENV);
	}
	if (rc != MPC_ERR_NOT_FOUND) {
		if (rc != MPC_OK && e != NULL)
			*e = nf;
		return rc;
	}
	rc = mpc_key_present(s->tk.seal, MPC_KEY_TRANSPORT, &present, &nf);
	if (rc == MPC_OK && present) {
		mpc_transport_key_set_callbacks(&s->transport, mpc_transport_token_encrypt,
						mpc_transport_token_decrypt, s->tk.seal);
		return MPC_OK;
	}
	return mpc_fail(
		e, MPC_ERR_USAGE,
		"no transport key: give --transport-key-file, set %s, or import it into the "
		"token (mpc-backup token init --import-transport-key)",
		MPC_TRANSPORT_KEY_ENV);
}

static int open_seal_tokens(const struct mpc_cli_common *c, const struct mpc_cli_node_opts *o,
			    struct mpc_cli_session *s, struct mpc_err *e)
{
	if (o->n_seal_to == 0) {
		s->seal[0] = s->tk.seal;
		s->n_seal = 1;
		return MPC_OK;
	}
	for (size_t i = 0; i < o->n_seal_to; i++) {
		const char *seal_uri = c->seal_token_uri != NULL ? c->seal_token_uri : c->token_uri;
		int rc;

		if (strcmp(o->seal_to[i], seal_uri) == 0) {
			s->seal[s->n_seal++] = s->tk.seal;
			continue;
		}
		rc = mpc_token_open(s->tk.p11, o->seal_to[i], &c->pin, &s->seal[s->n_seal], e);
		if (rc != MPC_OK)
			return mpc_err_prefix(e, "--seal-to %.100s: ", o->seal_to[i]);
		s->n_seal++;
	}
	return MPC_OK;
}

int mpc_cli_session_open(const struct mpc_cli_common *c, const struct mpc_cli_node_opts *o,
			 int what, struct mpc_cli_session *s, struct mpc_err *e)
{
	int need = MPC_CLI_NEED_SEAL | ((what & MPC_SESSION_TLS) ? MPC_CLI_NEED_TLS : 0);
	int rc;

	memset(s, 0, sizeof(*s));
	if (what & MPC_SESSION_KEYSHARES) {
		rc = mpc_lock_all_memory(e);
		if (rc != MPC_OK)
			return rc;
	}
	rc = mpc_cli_open_tokens(c, need, &s->tk, e);
	if (rc != MPC_OK)
		return rc;
	if (what & MPC_SESSION_TLS) {
		rc = mpc_provider_load(NULL, &s->prov, e);
		if (rc == MPC_OK)
			rc = mpc_provider_token_pkey(NULL, s->tk.tls, &s->tls_key, e);
		if (rc == MPC_OK)
			rc = mpc_ed25519_public_key(s->tk.tls, s->tls_pub, e);
		if (rc != MPC_OK)
			goto fail;
	}
	if (what & MPC_SESSION_TRANSPORT) {
		rc = open_transport(o, s, e);
		if (rc != MPC_OK)
			goto fail;
	}
	if (what & (MPC_SESSION_STORE | MPC_SESSION_STORE_CREATE)) {
		if (o->store == NULL) {
			rc = mpc_fail(e, MPC_ERR_USAGE, "--store DIR is required");
			goto fail;
		}
		rc = open_seal_tokens(c, o, s, e);
		if (rc == MPC_OK)
			rc = mpc_store_open(o->store, (what & MPC_SESSION_STORE_CREATE) != 0,
					    &s->store, e);
		if (rc != MPC_OK)
			goto fail;
	}
	s->ops.tls_key = s->tls_key;
	s->ops.tls_token = s->tk.tls;
	memcpy(s->ops.tls_pub, s->tls_pub, 32);
	s->ops.seal_tokens = s->seal;
	s->ops.n_seal = s->n_seal;
	s->ops.mech = MPC_SEAL_AUTO;
	s->ops.tk = &s->transport;
	s->ops.store = s->store;
	s->ops.contract = o->contract;
	s->ops.operator_ = o->account;
	s->ops.timeout_ms = (long)(o->node_timeout * 1000);
	s->ops.cancel = mpc_cli_cancel_flag(); /* `run` replaces it with its own stop flag */
	return MPC_OK;
fail:
	mpc_cli_session_close(s);
	return rc;
}

void mpc_cli_session_close(struct mpc_cli_session *s)
{
	for (size_t i = 0; i < s->n_seal; i++)
		if (s->seal[i] != s->tk.seal && s->seal[i] != s->tk.tls)
			mpc_token_close(s->seal[i]);
	mpc_store_close(s->store);
	mpc_transport_key_clear(&s->transport);
	EVP_PKEY_free(s->tls_key);
	mpc_cli_close_tokens(&s->tk);
	if (s->prov.token != NULL || s->prov.deflt != NULL)
		mpc_provider_unload(&s->prov);
	memset(s, 0, sizeof(*s));
}
