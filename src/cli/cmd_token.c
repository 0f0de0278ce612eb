/* cmd_token.c: `mpc-backup token list|init|show`: inventory, the key ceremony, inspection. */
#include <stdlib.h>
#include <string.h>

#include "pkcs11/ed25519.h"
#include "pkcs11/inventory.h"
#include "pkcs11/keys.h"
#include "pkcs11/vendor.h"
#include "src/cli/cfgopts.h"
#include "src/util/encoding.h"
#include "src/util/mem.h"
#include "src/node/body.h"

#define TRANSPORT_ENV MPC_TRANSPORT_KEY_ENV

static const char token_help[] =
	"usage: mpc-backup token list [--token URI] [--json]\n"
	"       mpc-backup token init [options] [--import-transport-key [--transport-key-file F]]\n"
	"       mpc-backup token show [options]\n"
	"\n"
	"list  modules, slots and tokens, and whether each token can do Ed25519 (CKM_EDDSA),\n"
	"      AES-GCM and the AES-CBC-PAD + HMAC-SHA256 fallback, with each token's RFC 7512\n"
	"      URI (give it back as --token to open exactly that token). Needs no PIN. With\n"
	"      --token, only that URI's module.\n"
	"init  the key ceremony: creates, inside the token(s), the sealing keys and the Ed25519\n"
	"      TLS key pair that are missing (idempotent; never overwrites), and prints what it\n"
	"      created and the TLS public key. --import-transport-key also imports the node's\n"
	"      32-byte backup transport key (hex, from --transport-key-file or $" TRANSPORT_ENV
	")\n"
	"      as a non-extractable AES key.\n"
	"show  the keys, their security attributes, and the TLS public key. Without a PIN source\n"
	"      (--pin-file, pin-source=, $MPC_BACKUP_PIN) only the public objects are shown; a\n"
	"      token that keeps its TLS public key private then needs the PIN.\n"
	"\n"
	"options:\n"
	"  --import-transport-key  (init) import the node's transport key\n"
	"  --transport-key-file F  (init) read it from F (32 bytes in hex); implies the import\n" MPC_CLI_CONFIG_HELP
		MPC_CLI_COMMON_HELP "\n"
	"exit status: 0 ok, 2 usage or a URI more than one token matches, 11 module, 12 token\n"
	"             not found, 13 key not found, 14 PIN, 16 unsupported, 17 already exists,\n"
	"             27 inconsistent token, 65 malformed URI; see docs/operations.md\n";

static json_t *capabilities_json(const struct mpc_slot_report *r)
{
	return json_pack(
		"{s:s, s:I, s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:b, s:b, s:{s:b, s:b, s:b}, s:s}",
		"module", r->module, "slot", (json_int_t)r->slot, "label", r->label, "serial",
		r->serial, "manufacturer", r->manufacturer, "model", r->model, "initialized",
		r->token_initialized, "login_required", r->login_required, "user_pin_locked",
		r->user_pin_locked, "user_pin_final_try", r->user_pin_final_try,
		"user_pin_count_low", r->user_pin_count_low, "capabilities", "eddsa", r->eddsa,
		"aes_gcm", r->aes_gcm, "aes_cbc_hmac", r->cbc_hmac, "uri", r->uri);
}

static int token_list(const struct mpc_cli_common *c, int explicit_token)
{
	struct mpc_p11_ctx *ctx = NULL;
	struct mpc_slot_report *r = NULL;
	struct mpc_err e = { 0 };
	size_t n = 0;
	int rc, status = 0;

	rc = mpc_p11_ctx_new(&ctx, &e);
	if (rc == MPC_OK)
		rc = mpc_p11_inventory(ctx, explicit_token ? c->token_uri : NULL, &r, &n, &e);
	if (rc != MPC_OK) {
		status = mpc_cli_fail("token list", &e);
		goto out;
	}
	if (c->json) {
		json_t *arr = json_array();

		for (size_t i = 0; i < n && arr != NULL; i++)
			if (json_array_append_new(arr, capabilities_json(&r[i])) != 0) {
				json_decref(arr);
				arr = NULL;
			}
		status = mpc_cli_print_json(arr);
		goto out;
	}
	if (n == 0)
		printf("no tokens found\n");
	for (size_t i = 0; i < n; i++) {
		printf("%s slot %lu: token \"%s\" serial %s (%s %s)%s%s\n", r[i].module, r[i].slot,
		       r[i].label, r[i].serial, r[i].manufacturer, r[i].model,
		       r[i].token_initialized ? "" : " [not initialised]",
		       r[i].user_pin_locked ? " [user PIN LOCKED]" : "");
		printf("    uri: %s\n", r[i].uri);
		printf("    ed25519 (CKM_EDDSA): %s   aes-256-gcm: %s   aes-cbc-pad+hmac-sha256: %s\n",
		       r[i].eddsa ? "yes" : "no", r[i].aes_gcm ? "yes" : "no",
		       r[i].cbc_hmac ? "yes" : "no");
	}
out:
	free(r);
	mpc_p11_ctx_free(ctx);
	return status;
}

static const char *yn(int v)
{
	return v < 0 ? "n/a" : v ? "true" : "false";
}

/* The JSON form: true, false, or null where the attribute does not apply to the class. */
static json_t *yn_json(int v)
{
	return v < 0 ? json_null() : json_boolean(v);
}

/* One line or one JSON object per mpc-backup key in `t`. */
static int describe_keys(struct mpc_token *t, const struct mpc_ceremony_report *rep,
			 json_t *keys_json, struct mpc_err *e)
{
	struct mpc_token_desc td;

	mpc_token_describe(t, &td);
	for (int role = 0; role < MPC_KEY_ROLE_COUNT; role++) {
		const struct mpc_key_desc *d = mpc_key_desc((enum mpc_key_role)role);
		const char *kind = mpc_key_kind_name(d->kind);
		struct mpc_key_attrs a;
		struct mpc_err ke = { 0 };
		int rc = mpc_key_attrs(t, (enum mpc_key_role)role, &a, &ke);

		if (rc == MPC_ERR_OBJECT_NOT_FOUND)
			continue;
		if (rc != MPC_OK) {
			if (e != NULL)
				*e = ke;
			return rc;
		}
		if (keys_json != NULL) {
			char id[8];
			json_t *k;

			/* the key id as the text form and the token's CKA_ID show it: hex */
			snprintf(id, sizeof(id), "%02x", (unsigned)d->id);
			k = json_pack(
				"{s:s, s:s, s:s, s:s, s:b, s:{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}}",
				"token", td.label, "label", d->label, "id", id, "class", kind,
				"created_now", rep != NULL && rep->created[role], "attributes",
				"sensitive", yn_json(a.sensitive), "extractable",
				yn_json(a.extractable), "never_extractable",
				yn_json(a.never_extractable), "private", yn_json(a.private_),
				"encrypt", yn_json(a.encrypt), "decrypt", yn_json(a.decrypt),
				"sign", yn_json(a.sign), "wrap", yn_json(a.wrap));

			if (k == NULL || json_array_append_new(keys_json, k) != 0)
				return mpc_fail(e, MPC_ERR_NOMEM, "out of memory");
		} else {
			printf("  %-22s id %02x %-7s %s sensitive=%s extractable=%s "
			       "never_extractable=%s encrypt=%s decrypt=%s sign=%s wrap=%s\n",
			       d->label, d->id, kind,
			       rep != NULL && rep->created[role] ? "[created]" : "[present]",
			       yn(a.sensitive), yn(a.extractable), yn(a.never_extractable),
			       yn(a.encrypt), yn(a.decrypt), yn(a.sign), yn(a.wrap));
		}
	}
	return MPC_OK;
}

/* The "token ... (serial ..., module ...)" heading of `token show`, and the vendor rules
 * that apply to the token (vendor.h): detected, or forced by --token-profile/token_profile. */
static void print_token_heading(struct mpc_token *t)
{
	struct mpc_token_desc td;
	int forced = 0;
	enum mpc_token_kind k = mpc_token_kind_of(t, &forced);

	mpc_token_describe(t, &td);
	printf("token \"%s\" (serial %s, module %s)\n", td.label, td.serial, td.module);
	printf("  rules: %s (%s)\n", mpc_token_kind_name(k),
	       forced ? "forced by --token-profile or token_profile" : "detected");
}

/* One token of `token show --json`'s "tokens": what the ceremony's audit record names it by
 * (label, serial, maker, model, module), its roles, the mechanisms mpc-backup uses that it
 * offers, and whose vendor rules apply ("kind", "kind_detected": false when a profile forced
 * it). */
static json_t *token_json(struct mpc_token *t, int seal, int tls)
{
	const char *names[MPC_TOKEN_MECHANISMS_MAX];
	size_t n = mpc_token_mechanism_names(t, names, MPC_TOKEN_MECHANISMS_MAX);
	struct mpc_token_desc d;
	json_t *mechs = json_array();
	int forced = 0;
	enum mpc_token_kind k = mpc_token_kind_of(t, &forced);

	mpc_token_describe(t, &d);
	for (size_t i = 0; i < n && mechs != NULL; i++)
		if (json_array_append_new(mechs, json_string(names[i])) != 0) {
			json_decref(mechs);
			mechs = NULL;
		}
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:o, s:s, s:b}", "label", d.label,
			 "serial", d.serial, "manufacturer", d.manufacturer, "model", d.model,
			 "module", d.module, "seal", seal, "tls", tls, "mechanisms", mechs, "kind",
			 mpc_token_kind_name(k), "kind_detected", !forced);
}

static int import_transport(struct mpc_token *t, const char *file, struct mpc_err *e)
{
	struct mpc_transport_key k;
	int rc;

	memset(&k, 0, sizeof(k));
	rc = file != NULL ? mpc_transport_key_from_file(&k, file, e)
			  : mpc_transport_key_from_env(&k, TRANSPORT_ENV, e);
	if (rc == MPC_ERR_NOT_FOUND && file == NULL)
		rc = mpc_fail(e, MPC_ERR_USAGE,
			      "--import-transport-key: set %s or give "
			      "--transport-key-file",
			      TRANSPORT_ENV);
	if (rc == MPC_OK)
		rc = mpc_key_import_transport(t, k.sw, e);
	mpc_transport_key_clear(&k);
	return rc;
}

/* `token show` opens its tokens without logging in. With a PIN source configured it logs in
 * and shows every key, as `token init` does; without one it shows the public objects (the TLS
 * public key) and says the rest needs the PIN: it never prompts, and never fails for want of a
 * PIN where the public key is readable. */
static int show_login(struct mpc_cli_tokens *tk, struct mpc_err *e)
{
	int rc = MPC_OK;

	if (!mpc_token_pin_configured(tk->seal) && !mpc_token_pin_configured(tk->tls))
		return MPC_OK;
	rc = mpc_token_login(tk->seal, e);
	if (rc == MPC_OK && tk->tls != tk->seal)
		rc = mpc_token_login(tk->tls, e);
	return rc;
}

static int token_init_or_show(const struct mpc_cli_common *c, int init, int import,
			      const char *transport_file)
{
	const char *cmd = init ? "token init" : "token show";
	struct mpc_cli_tokens tk;
	struct mpc_ceremony_report rep_seal, rep_tls;
	struct mpc_err e = { 0 };
	uint8_t pub[32];
	char pub_str[MPC_ED25519_KEY_STR_MAX];
	json_t *keys = c->json ? json_array() : NULL;
	int rc, status = 0, public_only = 0;

	memset(&rep_seal, 0, sizeof(rep_seal));
	memset(&rep_tls, 0, sizeof(rep_tls));
	/* show reads no PIN unless one is configured (see show_login) */
	rc = mpc_cli_open_tokens(c,
				 MPC_CLI_NEED_TLS | MPC_CLI_NEED_SEAL | (init ? 0 : MPC_CLI_PUBLIC),
				 &tk, &e);
	if (rc == MPC_OK && !init)
		rc = show_login(&tk, &e);
	if (rc != MPC_OK) {
		mpc_cli_close_tokens(&tk);
		json_decref(keys);
		return mpc_cli_fail(cmd, &e);
	}
	if (init) {
		int same = tk.tls == tk.seal;

		rc = mpc_key_ceremony(tk.seal,
				      same ? MPC_CEREMONY_SEAL | MPC_CEREMONY_TLS
					   : MPC_CEREMONY_SEAL,
				      &rep_seal, &e);
		if (rc == MPC_OK && !same)
			rc = mpc_key_ceremony(tk.tls, MPC_CEREMONY_TLS, &rep_tls, &e);
		if (rc == MPC_OK && import)
			rc = import_transport(tk.seal, transport_file, &e);
		if (rc == MPC_OK && import)
			rep_seal.created[MPC_KEY_TRANSPORT] = 1;
		if (rc != MPC_OK)
			goto fail;
	}
	rc = mpc_token_tls_public_key(tk.tls, pub, NULL, &e);
	if (rc == MPC_OK)
		rc = mpc_ed25519_key_format(pub, pub_str, &e);
	if (rc != MPC_OK)
		goto fail;
	public_only = mpc_token_needs_login(tk.seal) || mpc_token_needs_login(tk.tls);
	if (!c->json)
		print_token_heading(tk.seal);
	rc = describe_keys(tk.seal, &rep_seal, keys, &e);
	if (rc == MPC_OK && tk.tls != tk.seal) {
		if (!c->json)
			print_token_heading(tk.tls);
		rc = describe_keys(tk.tls, &rep_tls, keys, &e);
	}
	if (rc != MPC_OK)
		goto fail;
	if (c->json) {
		struct mpc_token_desc sd;

		mpc_token_describe(tk.seal, &sd);
		json_t *toks = json_pack("[o]", token_json(tk.seal, 1, tk.tls == tk.seal));

		if (toks != NULL && tk.tls != tk.seal &&
		    json_array_append_new(toks, token_json(tk.tls, 0, 1)) != 0) {
			json_decref(toks);
			toks = NULL;
		}
		status = mpc_cli_print_json(json_pack("{s:s, s:s, s:o, s:o, s:b}", "tls_public_key",
						      pub_str, "token", sd.label, "keys", keys,
						      "tokens", toks, "logged_in", !public_only));
		keys = NULL;
	} else {
		if (public_only)
			printf("not logged in (no PIN configured): private and secret keys are "
			       "not listed; give the PIN (--pin-file, pin-source= in the URI or "
			       "$%s) to see them\n",
			       c->pin.pin_env != NULL ? c->pin.pin_env : MPC_DEFAULT_PIN_ENV);
		printf("TLS public key: %s\n", pub_str);
	}
	goto out;
fail:
	status = mpc_cli_fail(cmd, &e);
out:
	json_decref(keys);
	mpc_cli_close_tokens(&tk);
	return status;
}

struct token_ctx {
	int import;
	const char *transport_file; /* the flag only: a config file's key never imports */
};

enum {
	OPT_IMPORT = MPC_OPT_FIRST_COMMAND_OPTION,
	OPT_TRANSPORT_FILE
};

static int token_opt(void *ctx, int opt, const char *arg)
{
	struct token_ctx *tc = ctx;

	if (opt == OPT_TRANSPORT_FILE)
		tc->transport_file = arg;
	else if (opt != OPT_IMPORT)
		return 0;
	tc->import = 1;
	return 1;
}

int mpc_cmd_token(int argc, char **argv)
{
	static const struct option opts[] = {
		MPC_CLI_CFG_TOKEN_OPTIONS,
		{ "import-transport-key", no_argument, NULL, OPT_IMPORT },
		{ "transport-key-file", required_argument, NULL, OPT_TRANSPORT_FILE },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const subs[] = { "list", "show", "init", NULL };
	struct mpc_cli_cfg a;
	struct token_ctx tc = { 0, NULL };
	const char *sub;
	char cmd[16];
	int st;

	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		fputs(token_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	sub = argv[1];
	if (strcmp(sub, "list") != 0 && strcmp(sub, "init") != 0 && strcmp(sub, "show") != 0)
		return mpc_cli_unknown_subcommand("token", sub, subs);
	snprintf(cmd, sizeof(cmd), "token %s", sub); /* errors name the full command */
	st = mpc_cli_cfg_parse(cmd, token_help, argc - 1, argv + 1, opts, &a, token_opt, &tc);
	if (st != 0)
		return st < 0 ? 0 : st;
	if (strcmp(sub, "list") == 0)
		st = token_list(&a.c, a.cfg.token != NULL);
	else if (strcmp(sub, "init") == 0)
		st = token_init_or_show(&a.c, 1, tc.import, tc.transport_file);
	else
		st = token_init_or_show(&a.c, 0, 0, NULL);
	mpc_config_free(&a.cfg);
	return st;
}
