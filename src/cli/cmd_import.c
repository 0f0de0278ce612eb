/* cmd_import.c: `mpc-backup import backup-cli` (a near/mpc backup-cli home: its keyshares into
 * the store, optionally its p2p key into the token as the TLS key) and `mpc-backup import
 * node-keys` (an MPC node's permanent_keys directory with its local key). */
#include <stdlib.h>
#include <string.h>

#include "pkcs11/ed25519.h"
#include "src/cli/cfgopts.h"
#include "src/store/import_backupcli.h"
#include "src/util/encoding.h"
#include "src/util/mem.h"

static const char import_help[] =
	"usage: mpc-backup import backup-cli --home DIR --store DIR [--tls-key] [options]\n"
	"       mpc-backup import node-keys --keys-dir DIR --local-key-file FILE --store DIR\n"
	"                                   [options]\n"
	"\n"
	"backup-cli reads DIR/secrets.json and DIR/permanent_keys/epoch_<E>_with_<N>_domains\n"
	"(AES-128-GCM with the secrets' local_storage_aes_key); node-keys reads a node's\n"
	"permanent_keys directory with its 16-byte local storage key (FILE: 32 hex digits, not\n"
	"accessible to others). Each keyset is checked (name against content; with --rpc-url and\n"
	"--account against the contract's current keyset), sealed in the token(s) and added to\n"
	"the store, oldest first. Nothing is deleted: the command says how to destroy the old\n"
	"files once the store is verified.\n"
	"\n"
	"  --home DIR           backup-cli's home directory\n"
	"  --tls-key            also import secrets.json's p2p_private_key into the TLS token as\n"
	"                       the TLS key (sensitive, non-extractable; refused if one exists),\n"
	"                       so the backup key registered on the contract stays valid\n"
	"  --keys-dir DIR       a node's permanent_keys directory\n"
	"  --local-key-file F   the node's local storage key (hex)\n" MPC_CLI_CFG_HELP
		MPC_CLI_COMMON_HELP;

enum {
	OPT_HOME = 2000,
	OPT_TLS_KEY,
	OPT_KEYS_DIR,
	OPT_LOCAL_KEY
};

struct import_args {
	const char *home, *keys_dir, *local_key_file;
	int tls_key;
};

static int import_opt(void *ctx, int opt, const char *arg)
{
	struct import_args *a = ctx;

	switch (opt) {
	case OPT_HOME:
		a->home = arg;
		return 1;
	case OPT_TLS_KEY:
		a->tls_key = 1;
		return 1;
	case OPT_KEYS_DIR:
		a->keys_dir = arg;
		return 1;
	case OPT_LOCAL_KEY:
		a->local_key_file = arg;
		return 1;
	}
	return 0;
}

/* Same epoch as the contract: every domain of the file must be the contract's (attempt, curve,
 * public key). *all = 1 when the file has every domain of the contract. */
static int against_contract(const struct mpc_keyset *f, const struct mpc_keyset *c, int *all,
			    struct mpc_err *e)
{
	for (size_t i = 0; i < f->n_domains; i++) {
		const struct mpc_domain_key *d = &f->domains[i];
		const struct mpc_domain_key *k = mpc_keyset_domain(c, d->domain_id);

		if (k == NULL)
			return mpc_fail(e, MPC_ERR_INVALID,
					"domain %llu is not in the contract's "
					"keyset",
					(unsigned long long)d->domain_id);
		if (k->attempt != d->attempt || k->curve != d->curve || k->pk_len != d->pk_len ||
		    memcmp(k->pk, d->pk, d->pk_len) != 0)
			return mpc_fail(e, MPC_ERR_INVALID,
					"domain %llu: the %s differs from the "
					"contract's",
					(unsigned long long)d->domain_id,
					k->attempt != d->attempt ? "attempt"
					: k->curve != d->curve   ? "curve"
								 : "public key");
	}
	*all = f->n_domains == c->n_domains;
	return MPC_OK;
}

/* One file: open, check, seal. Returns 1 when it counts as a failure. */
static int import_one(struct mpc_cli_session *s, const char *keys_dir,
		      const struct mpc_bcli_file *f, const uint8_t key[16],
		      const struct mpc_keyset *contract, json_t *files, int quiet)
{
	struct mpc_bcli_keyset k;
	struct mpc_store_put_opts po;
	struct mpc_err e = { 0 };
	char name[MPC_STORE_NAME_MAX] = "";
	const char *outcome = "failed";
	char note[MPC_ERR_MSG_MAX] = "";
	int all = 0, rc, failed = 1;

	memset(&k, 0, sizeof(k));
	rc = mpc_bcli_open_file(keys_dir, f, key, &k, &e);
	if (rc == MPC_OK && contract != NULL) {
		if (f->epoch > contract->epoch_id) {
			rc = mpc_fail(&e, MPC_ERR_INVALID,
				      "epoch %llu is later than the contract's "
				      "%llu: not imported",
				      (unsigned long long)f->epoch,
				      (unsigned long long)contract->epoch_id);
		} else if (f->epoch == contract->epoch_id) {
			rc = against_contract(&k.ks, contract, &all, &e);
			if (rc != MPC_OK)
				mpc_err_prefix(&e, "does not match the contract: ");
		}
	}
	if (rc == MPC_OK) {
		memset(&po, 0, sizeof(po));
		po.tokens = s->seal;
		po.n_tokens = s->n_seal;
		po.mech = MPC_SEAL_AUTO;
		po.contract = s->ops.contract;
		po.operator_ = s->ops.operator_;
		/* all domains of the contract: validate and record against the contract's own
		 * keyset (in its order), not the one derived from the file */
		rc = mpc_store_put(s->store, &po, all ? contract : &k.ks, k.keyshares, k.len, name,
				   &e);
	}
	if (rc == MPC_OK) {
		outcome = "imported";
		failed = 0;
		snprintf(note, sizeof(note), "sealed as %s%s", name,
			 contract == NULL                ? " (no contract read)"
			 : f->epoch < contract->epoch_id ? " (an older epoch than the contract's)"
			 : all                           ? "; matches the contract's keyset"
							 : "; the contract's keys, fewer domains");
	} else if (rc == MPC_ERR_EXISTS) {
		outcome = "present";
		failed = 0;
		snprintf(note, sizeof(note), "already in the store");
	} else if (rc == MPC_ERR_STATE && k.keyshares != NULL) {
		outcome = "skipped";
		failed = 0;
		snprintf(note, sizeof(note), "%s", e.msg);
	} else {
		snprintf(note, sizeof(note), "%s", e.msg);
	}
	mpc_bcli_keyset_free(&k);
	if (!quiet)
		printf("%s  epoch %llu  %s  %s\n", f->name, (unsigned long long)f->epoch, outcome,
		       note);
	json_array_append_new(files,
			      json_pack("{s:s, s:I, s:I, s:b, s:s, s:s, s:s}", "file", f->name,
					"epoch", (json_int_t)f->epoch, "domains",
					(json_int_t)f->n_domains, "current", f->current, "outcome",
					outcome, "stored_as", name, "message", note));
	return failed;
}

static int import_tls_key(struct mpc_cli_session *s, const struct mpc_cli_cfg *a,
			  const uint8_t seed[32], char pub_str[MPC_ED25519_KEY_STR_MAX],
			  struct mpc_err *e)
{
	const char *tls_uri = a->c.tls_token_uri != NULL ? a->c.tls_token_uri : a->c.token_uri;
	const char *seal_uri = a->c.seal_token_uri != NULL ? a->c.seal_token_uri : a->c.token_uri;
	struct mpc_token *t = s->tk.seal, *opened = NULL;
	uint8_t pub[32];
	int rc = MPC_OK;

	if (strcmp(tls_uri, seal_uri) != 0) {
		rc = mpc_token_open(s->tk.p11, tls_uri, &a->c.pin, &opened, e);
		t = opened;
	}
	if (rc == MPC_OK)
		rc = mpc_ed25519_import_tls(t, seed, pub, e);
	if (rc == MPC_OK)
		rc = mpc_ed25519_key_format(pub, pub_str, e);
	mpc_token_close(opened);
	return rc;
}

int mpc_cmd_import(int argc, char **argv)
{
	static const struct option opts[] = {
		MPC_CLI_CFG_OPTIONS,
		{ "home", required_argument, NULL, OPT_HOME },
		{ "tls-key", no_argument, NULL, OPT_TLS_KEY },
		{ "keys-dir", required_argument, NULL, OPT_KEYS_DIR },
		{ "local-key-file", required_argument, NULL, OPT_LOCAL_KEY },
		{ NULL, 0, NULL, 0 },
	};
	struct import_args ia = { 0 };
	struct mpc_cli_cfg a;
	struct mpc_cli_session s;
	struct mpc_keyset ks = { 0 };
	struct mpc_bcli_secrets *sec = NULL;
	struct mpc_bcli_listing l = { 0 };
	struct mpc_err e = { 0 };
	uint8_t *local_key = NULL;
	const uint8_t *key;
	char keys_dir[4096], key_link[4096], pub_str[MPC_ED25519_KEY_STR_MAX] = "";
	json_t *files = NULL;
	const char *sub;
	int rc, st, have_ks = 0, session = 0, bcli;
	size_t failed = 0;

	memset(&s, 0, sizeof(s));
	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		fputs(import_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	sub = argv[1];
	bcli = strcmp(sub, "backup-cli") == 0;
	if (!bcli && strcmp(sub, "node-keys") != 0) {
		static const char *const subs[] = { "backup-cli", "node-keys", NULL };

		return mpc_cli_unknown_subcommand("import", sub, subs);
	}
	st = mpc_cli_cfg_parse("import", import_help, argc - 1, argv + 1, opts, &a, import_opt,
			       &ia);
	if (st != 0)
		return st < 0 ? 0 : st;
	st = 0;
	if (a.no.store == NULL)
		st = mpc_cli_usage("import", "--store DIR is required");
	else if (bcli && (ia.home == NULL || ia.keys_dir != NULL || ia.local_key_file != NULL))
		st = mpc_cli_usage("import backup-cli", "--home DIR is required (and only it)");
	else if (!bcli && (ia.keys_dir == NULL || ia.local_key_file == NULL || ia.home != NULL ||
			   ia.tls_key))
		st = mpc_cli_usage("import node-keys",
				   "--keys-dir DIR and --local-key-file FILE are required");
	/* the paths below are built in fixed buffers: a longer one is refused, never cut */
	else if (bcli && strlen(ia.home) + sizeof("/permanent_keys") > sizeof(keys_dir))
		st = mpc_cli_usage("import backup-cli", "--home: path over %zu bytes",
				   sizeof(keys_dir) - sizeof("/permanent_keys"));
	else if (!bcli && (strlen(ia.keys_dir) + sizeof("/../key") > sizeof(keys_dir) ||
			   strlen(ia.local_key_file) >= sizeof(keys_dir)))
		st = mpc_cli_usage("import node-keys",
				   "--keys-dir / --local-key-file: path over %zu bytes",
				   sizeof(keys_dir) - sizeof("/../key"));
	if (st != 0) {
		mpc_config_free(&a.cfg);
		return st;
	}
	if (bcli) {
		snprintf(keys_dir, sizeof(keys_dir), "%s/permanent_keys", ia.home);
		snprintf(key_link, sizeof(key_link), "%s/key", ia.home);
	} else {
		snprintf(keys_dir, sizeof(keys_dir), "%s", ia.keys_dir);
		snprintf(key_link, sizeof(key_link), "%s/../key", ia.keys_dir);
	}
	/* Lock memory before any secret is read. */
	rc = mpc_lock_all_memory(&e);
	if (rc == MPC_OK && a.cfg.n_rpc_url > 0) {
		rc = mpc_cli_contract_keyset(&a.cfg, &ks, &e);
		have_ks = rc == MPC_OK;
	}
	if (rc == MPC_OK)
		rc = bcli ? mpc_bcli_read_secrets(ia.home, &sec, &e)
			  : mpc_bcli_read_local_key(ia.local_key_file, &local_key, &e);
	if (rc == MPC_OK)
		rc = mpc_bcli_list(keys_dir, key_link, &l, &e);
	if (rc == MPC_OK && l.n == 0 && !(bcli && ia.tls_key))
		rc = mpc_fail(&e, MPC_ERR_NOT_FOUND, "%s holds no epoch_<E>_with_<N>_domains file",
			      keys_dir);
	if (rc == MPC_OK) {
		rc = mpc_cli_session_open(&a.c, &a.no,
					  MPC_SESSION_KEYSHARES | MPC_SESSION_STORE |
						  MPC_SESSION_STORE_CREATE,
					  &s, &e);
		session = rc == MPC_OK;
	}
	if (rc == MPC_OK && (files = json_array()) == NULL)
		rc = mpc_fail(&e, MPC_ERR_NOMEM, "out of memory");
	if (rc != MPC_OK)
		goto out;
	key = bcli ? sec->local_storage_aes_key : local_key;
	if (have_ks && !a.json)
		printf("the contract's keyset: epoch %llu, %zu domains\n",
		       (unsigned long long)ks.epoch_id, ks.n_domains);
	for (size_t i = 0; i < l.n; i++)
		failed += (size_t)import_one(&s, keys_dir, &l.items[i], key, have_ks ? &ks : NULL,
					     files, a.json);
	if (bcli && ia.tls_key) {
		rc = import_tls_key(&s, &a, sec->p2p_private_key, pub_str, &e);
		if (rc != MPC_OK)
			goto out;
		if (!a.json)
			printf("TLS key imported into the token (sensitive, non-extractable, recorded as "
			       "imported: CKA_LOCAL false): %s\n"
			       "it must be the backup service key registered on the contract for your "
			       "account\n",
			       pub_str);
	}
	if (a.json)
		goto out;
	printf("%zu file(s) read, %zu failed. Nothing was deleted.\n", l.n, failed);
	if (!bcli) {
		printf("The node's files are its live keys: they were only read. Keep the local key\n"
		       "file only where the node needs it.\n");
		goto out;
	}
	printf("When `mpc-backup drill` shows the store restorable, destroy the old copies:\n"
	       "  shred -u %s/* %s\n"
	       "(and their backups; on SSDs and copy-on-write file systems shred is not enough:\n"
	       "destroy the volume or its encryption key)\n"
	       "  shred -u %s/secrets.json   (once the TLS key is in the token, or the backup key\n"
	       "  registered on the contract is replaced)\n",
	       keys_dir, key_link, ia.home);
out:
	if (session)
		mpc_cli_session_close(&s);
	mpc_bcli_secrets_free(sec);
	mpc_secure_free(local_key);
	mpc_bcli_listing_free(&l);
	mpc_keyset_free(&ks);
	mpc_config_free(&a.cfg);
	if (rc != MPC_OK) {
		/* files already sealed are reported even when a later step (the TLS key) failed */
		if (a.json && files != NULL && json_array_size(files) > 0)
			(void)mpc_cli_print_json(json_pack("{s:o, s:I, s:s, s:s}", "files", files,
							   "failed", (json_int_t)failed, "tls_key",
							   "", "error", e.msg));
		else
			json_decref(files);
		return mpc_cli_fail("import", &e);
	}
	if (a.json) {
		st = mpc_cli_print_json(json_pack("{s:o, s:I, s:s}", "files", files, "failed",
						  (json_int_t)failed, "tls_key", pub_str));
		if (st != 0)
			return st;
	} else {
		json_decref(files);
	}
	return failed > 0 ? mpc_exit_status(MPC_ERR_INVALID) : 0;
}
