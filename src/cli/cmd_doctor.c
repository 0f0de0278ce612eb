/* cmd_doctor.c: `mpc-backup doctor`: is the token (and, with --config, the configuration, the
 * RPC endpoints, the contract's registration and the node) ready? One line per check, a hint
 * for each failure; nothing is changed or written. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "pkcs11/check.h"
#include "pkcs11/ed25519.h"
#include "pkcs11/provider.h"
#include "pkcs11/vendor.h"
#include "src/cli/cfgopts.h"
#include "src/contract/address.h"
#include "src/contract/quorum.h"
#include "src/node/body.h"
#include "src/node/client.h"
#include "src/util/encoding.h"
#include "src/util/escape.h"

/* Exit status when a check failed (docs/operations.md, "Exit statuses"): outside the 10..28
 * range of single errors, because a report may hold several. */
#define DOCTOR_FAILED 3
#define MAX_CHECKS    160

static const char doctor_help[] =
	"usage: mpc-backup doctor [--token URI] [--tls-token URI] [--seal-token URI] [--json]\n"
	"       mpc-backup doctor --config FILE [options]\n"
	"\n"
	"Says whether everything mpc-backup needs is ready, one line per check: \"ok\", \"FAIL\"\n"
	"with a hint, or \"skip\" with the failed check it depends on. Changes nothing. Token\n"
	"checks: the module loads; exactly one token matches the URI; the token's PIN flags\n"
	"(CKF_USER_PIN_COUNT_LOW, FINAL_TRY, LOCKED, TO_BE_CHANGED; no PIN try is spent on a token\n"
	"one wrong PIN away from locking unless --allow-final-pin-try); the PIN is accepted; the\n"
	"mechanisms mpc-backup uses are offered; each key is there with safe attributes (on the\n"
	"token, sensitive, not extractable; an imported TLS key is reported as imported); the\n"
	"transport key; a seal/unseal self-test per sealing mechanism and an Ed25519 sign/verify\n"
	"self-test, on random bytes, nothing written. With --config (or --rpc-url and --account)\n"
	"also: the configuration has what `run` needs; each RPC endpoint answers and they agree;\n"
	"the contract lists this token's TLS key as the operator's backup service; the operator's\n"
	"node answers /hello over mutual TLS 1.3 with the key the contract lists and accepts ours.\n"
	"Run it before the first start and after any change of token.\n"
	"Exit 0 when every check that ran passed, 3 when one failed, 2 on a usage error.\n"
	"\n"
	"options:\n"
	"  --migration-port PORT  the node's migration port when no address override applies\n"
	"  --node-timeout S     seconds for the node's answer (default 60)\n"
	"  --transport-key-file F  the node's transport key file (else $" MPC_TRANSPORT_KEY_ENV
	",\n"
	"                       else the token's imported key, as `run` looks for it)\n"
	"  --seal-to URI        also check this token's sealing keys (repeatable: escrow tokens)\n" MPC_CLI_CONFIG_HELP
		MPC_CLI_RPC_HELP MPC_CLI_COMMON_HELP;

enum {
	ST_OK = 0,
	ST_FAIL,
	ST_SKIP
};

struct check {
	char name[96];
	int status;
	char detail[MPC_ERR_MSG_MAX];
	char hint[400];
};

struct report {
	struct check items[MAX_CHECKS];
	size_t n, failed;
	int json;
};

static const char *status_name(int s)
{
	return s == ST_OK ? "ok" : s == ST_FAIL ? "FAIL" : "skip";
}

/* Record one check (and print its line at once in text mode, so a slow one shows where it
 * waits). Detail and hint are escaped: they may quote a token label, a node or an endpoint. */
static void add(struct report *r, int status, const char *name, const char *hint, const char *fmt,
		...) __attribute__((format(printf, 5, 6)));
static void add(struct report *r, int status, const char *name, const char *hint, const char *fmt,
		...)
{
	char raw[MPC_ERR_MSG_MAX];
	struct check *c;
	va_list ap;

	if (status == ST_FAIL)
		r->failed++;
	if (r->n == MAX_CHECKS)
		return;
	c = &r->items[r->n++];
	c->status = status;
	mpc_escape_untrusted(name, c->name, sizeof(c->name));
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	mpc_escape_untrusted(raw, c->detail, sizeof(c->detail));
	mpc_escape_untrusted(status == ST_FAIL && hint != NULL ? hint : "", c->hint,
			     sizeof(c->hint));
	if (r->json)
		return;
	printf("%-4s  %-34s %s%s%s\n", status_name(c->status), c->name, c->detail,
	       c->hint[0] ? "  hint: " : "", c->hint);
	fflush(stdout);
}

static json_t *report_json(const struct report *r)
{
	json_t *arr = json_array(), *j;

	if (arr == NULL)
		return NULL;
	for (size_t i = 0; i < r->n; i++) {
		const struct check *c = &r->items[i];

		j = json_pack("{s:s, s:s, s:s, s:o}", "name", c->name, "status",
			      status_name(c->status), "detail", c->detail, "hint",
			      c->hint[0] ? json_string(c->hint) : json_null());
		if (j == NULL || json_array_append_new(arr, j) != 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return json_pack("{s:b, s:I, s:o}", "ok", r->failed == 0, "failed", (json_int_t)r->failed,
			 "checks", arr);
}

#define ROLE_SEAL   1
#define ROLE_TLS    2
#define ROLE_ESCROW 4 /* a --seal-to token: sealing keys only, no transport key */
#define MAX_TARGETS (2 + MPC_STORE_MAX_TOKENS)

/* One token to check: the sealing token, the TLS token, or one token holding both. */
struct target {
	const char *uri;
	struct mpc_token *t; /* open and logged in once "login" passed */
	char prefix[24];     /* "", "seal-token ", "tls-token ", "seal-to N " before each name */
	uint8_t tls_pub[32];
	int roles;
	int tls_ok; /* the TLS key pair is there, safe, and signs */
};

static void add_target(struct target *tg, const char *prefix, const char *uri, int roles)
{
	memset(tg, 0, sizeof(*tg));
	snprintf(tg->prefix, sizeof(tg->prefix), "%s", prefix);
	tg->uri = uri;
	tg->roles = roles;
}

static const char *name_of(const struct target *tg, const char *what, char *buf, size_t cap)
{
	snprintf(buf, cap, "%.23s%.70s", tg->prefix, what);
	return buf;
}

/* The checks after a failed one, as "skip" lines naming it. */
static void skip_from(struct report *r, const struct target *tg, int stage, const char *failed)
{
	static const char *const stages[] = {
		"module",     "token",      "pin-flags", "login",
		"token kind", "mechanisms", "keys",      "self-test"
	};
	char n[96];

	for (size_t i = (size_t)stage; i < sizeof(stages) / sizeof(stages[0]); i++)
		add(r, ST_SKIP, name_of(tg, stages[i], n, sizeof(n)), NULL, "needs %s%s",
		    tg->prefix, failed);
}

/* The PIN flags, read without logging in. Returns 1 when login may be tried. */
static int check_pin_flags(struct report *r, const struct target *tg,
			   const struct mpc_check_token *k, const struct mpc_pin_opts *pin)
{
	char n[96], notes[300] = "";

	name_of(tg, "pin-flags", n, sizeof(n));
	if (!k->login_required) {
		add(r, ST_OK, n, NULL, "the token needs no login (CKF_LOGIN_REQUIRED clear)");
		return 1;
	}
	if (!k->user_pin_initialized) {
		add(r, ST_FAIL, n,
		    "set it with the token's own tool (SoftHSM2: softhsm2-util --init-token ... "
		    "--pin), then run `mpc-backup token init`",
		    "token \"%s\" has no user PIN (CKF_USER_PIN_INITIALIZED clear)", k->label);
		return 0;
	}
	if (k->pin_locked) {
		add(r, ST_FAIL, n,
		    "the security officer must unlock or reset the user PIN with the token's own "
		    "tool; nothing can log in until then",
		    "CKF_USER_PIN_LOCKED: the user PIN of token \"%s\" is locked", k->label);
		return 0;
	}
	if (k->pin_to_be_changed) {
		add(r, ST_FAIL, n,
		    "change the user PIN with the token's own tool, then update the PIN file",
		    "CKF_USER_PIN_TO_BE_CHANGED: token \"%s\" wants a new user PIN before use",
		    k->label);
		return 0;
	}
	if (k->pin_final_try && !pin->allow_final_try) {
		add(r, ST_FAIL, n,
		    "make sure the PIN source holds the right PIN, then run again with "
		    "--allow-final-pin-try",
		    "CKF_USER_PIN_FINAL_TRY: one more wrong PIN locks token \"%s\"; not trying",
		    k->label);
		return 0;
	}
	if (k->pin_final_try)
		snprintf(notes, sizeof(notes),
			 "; CKF_USER_PIN_FINAL_TRY: one more wrong PIN locks it (trying: "
			 "--allow-final-pin-try)");
	else if (k->pin_count_low)
		snprintf(notes, sizeof(notes),
			 "; CKF_USER_PIN_COUNT_LOW: a wrong PIN was tried since the last login");
	add(r, ST_OK, n, NULL, "user PIN set%s", notes[0] ? notes : "; no warning flag set");
	return 1;
}

/* Module, token match, PIN flags and login. Returns 1 with tg->t open. */
static int check_open(struct report *r, struct mpc_p11_ctx *ctx, struct target *tg,
		      const struct mpc_pin_opts *pin)
{
	struct mpc_check_token m;
	struct mpc_err e = { 0 };
	char n[96], loaded[600];
	int rc;

	rc = mpc_check_modules(ctx, tg->uri, loaded, sizeof(loaded), &e);
	if (rc != MPC_OK) {
		add(r, ST_FAIL, name_of(tg, "module", n, sizeof(n)),
		    rc == MPC_ERR_PARSE
			    ? "write the URI as pkcs11:token=LABEL?module-path=/path/to/module.so "
			      "(`mpc-backup token list` shows each token's)"
			    : "check module-path= or module-name= in the token URI: the file must "
			      "exist, be owned by root or you and not be writable by others",
		    "%s", e.msg);
		skip_from(r, tg, 1, "module");
		return 0;
	}
	add(r, ST_OK, name_of(tg, "module", n, sizeof(n)), NULL, "loaded %s", loaded);
	name_of(tg, "token", n, sizeof(n));
	rc = mpc_check_token_find(ctx, tg->uri, &m, &e);
	if (rc == MPC_OK && !m.initialized)
		rc = mpc_fail(&e, MPC_ERR_STATE, "token \"%s\" is not initialised", m.label);
	if (rc != MPC_OK) {
		add(r, ST_FAIL, n,
		    rc == MPC_ERR_USAGE ? "paste one of the URIs listed as the token URI (or add "
					  "serial= or slot-id= to yours) so that it names one token"
		    : rc == MPC_ERR_STATE
			    ? "initialise it with the token's own tool, then run `mpc-backup token "
			      "init`"
			    : "`mpc-backup token list` shows every token and its URI; make one with "
			      "the token's own tool (SoftHSM2: softhsm2-util --init-token)",
		    "%s", e.msg);
		skip_from(r, tg, 2, "token");
		return 0;
	}
	add(r, ST_OK, n, NULL, "\"%s\" serial %s (%s %s), slot %lu of %s", m.label, m.serial,
	    m.manufacturer, m.model, m.slot, m.module);
	if (!check_pin_flags(r, tg, &m, pin)) {
		skip_from(r, tg, 3, "pin-flags");
		return 0;
	}
	name_of(tg, "login", n, sizeof(n));
	rc = mpc_token_open(ctx, tg->uri, pin, &tg->t, &e);
	if (rc != MPC_OK) {
		add(r, ST_FAIL, n,
		    rc == MPC_ERR_PIN
			    ? "check the PIN source: --pin-file or pin_file (owned by you or "
			      "root, mode 0600 or 0400), pin-source= in the URI, or $" MPC_DEFAULT_PIN_ENV
			      "; each wrong PIN costs a try"
		    : rc == MPC_ERR_TOKEN_UNAVAILABLE
			    ? "the token is absent or its device failed: check that it is "
			      "connected (for SoftHSM2, its token directory) and run doctor again"
			    : "the token refused a session: the CKR_ code in the message names "
			      "the cause",
		    "%s", e.msg);
		skip_from(r, tg, 4, "login");
		return 0;
	}
	add(r, ST_OK, n, NULL, "%s",
	    m.login_required ? "logged in: the PIN was accepted" : "session open (no login)");
	return 1;
}

/* Mechanisms this target's roles need. Returns 1 when they are there. */
static int check_mechanisms(struct report *r, const struct target *tg, struct mpc_check_mechs *m)
{
	char n[96], detail[300];
	const char *hint = NULL;
	int ok = 1;

	mpc_check_mechanisms(tg->t, m);
	detail[0] = '\0';
	if (tg->roles & ROLE_SEAL) {
		snprintf(detail, sizeof(detail),
			 "aes-256-gcm (CKM_AES_GCM) %s, aes-256-cbc-hmac-sha256 (CKM_AES_CBC_PAD + "
			 "CKM_SHA256_HMAC) %s",
			 m->aes_gcm ? "yes" : "no", m->aes_cbc_pad && m->hmac ? "yes" : "no");
		if (!m->aes_gcm && !(m->aes_cbc_pad && m->hmac)) {
			ok = 0;
			hint = "this token cannot seal: keep the sealing keys in a token that offers "
			       "AES-GCM or AES-CBC-PAD with HMAC-SHA256 (--seal-token)";
		}
	}
	if (tg->roles & ROLE_TLS) {
		size_t used = strlen(detail);

		snprintf(detail + used, sizeof(detail) - used, "%sed25519 (CKM_EDDSA) %s%s",
			 used ? ", " : "", m->eddsa ? "yes" : "no",
			 m->eddsa && !m->eddsa_gen ? " (no CKM_EC_EDWARDS_KEY_PAIR_GEN: import the "
						     "TLS key)"
						   : "");
		if (!m->eddsa) {
			ok = 0;
			hint = "this token cannot sign with Ed25519: keep the TLS key in a token "
			       "that can (--tls-token)";
		}
	}
	add(r, ok ? ST_OK : ST_FAIL, name_of(tg, "mechanisms", n, sizeof(n)), hint, "%s", detail);
	return ok;
}

/* One key: present, and safe for its role. `needed`: its absence is a failure. Returns 1 when
 * the key is there and safe. */
static int check_key(struct report *r, const struct target *tg, enum mpc_key_role role,
		     const char *what, int needed, const char *why_needed)
{
	const struct mpc_key_desc *d = mpc_key_desc(role);
	struct mpc_check_key k;
	struct mpc_err e = { 0 };
	char n[96], key[96], why[200];
	int rc;

	snprintf(key, sizeof(key), "key %s%s", d->label, what);
	name_of(tg, key, n, sizeof(n));
	rc = mpc_check_key(tg->t, role, &k, &e);
	if (rc != MPC_OK) {
		add(r, ST_FAIL, n,
		    "inspect the token (`mpc-backup token show`, or the token's own tool) and "
		    "remove the object that is not mpc-backup's",
		    "%s", e.msg);
		return 0;
	}
	if (!k.present) {
		if (needed)
			add(r, ST_FAIL, n,
			    role == MPC_KEY_TRANSPORT
				    ? "import it (`mpc-backup token init --import-transport-key`) "
				      "or set transport_key_file"
				    : "run `mpc-backup token init` (it makes only what is missing)",
			    "missing (%s)", why_needed);
		else
			add(r, ST_SKIP, n, NULL, "not there (%s)", why_needed);
		return 0;
	}
	if (!mpc_check_key_safe(role, &k, why, sizeof(why))) {
		add(r, ST_FAIL, n,
		    "a key that can leave the token is refused: delete this object with the "
		    "token's own tool and run `mpc-backup token init` to make a sealed one",
		    "unsafe: %s", why);
		return 0;
	}
	if (d->kind == MPC_KEY_KIND_PUBLIC)
		add(r, ST_OK, n, NULL, "present on the token");
	else
		add(r, ST_OK, n, NULL, "present; on the token, sensitive, not extractable; %s",
		    k.local == 1   ? "generated in the token (CKA_LOCAL true)"
		    : k.local == 0 ? "imported (CKA_LOCAL false)"
				   : "origin unknown (no CKA_LOCAL)");
	return 1;
}

/* The transport key, looked for where `run` looks (session.c): transport_key_file, then
 * $MPC_BACKUP_TRANSPORT_KEY_HEX, then the sealing token. `full`: a missing key fails. */
static void check_transport(struct report *r, const struct target *tg, const char *file, int full)
{
	struct mpc_transport_key k;
	struct mpc_err e = { 0 };
	char n[96];
	int rc;

	memset(&k, 0, sizeof(k));
	name_of(tg, "key mpc-backup-transport", n, sizeof(n));
	if (file != NULL) {
		rc = mpc_transport_key_from_file(&k, file, &e);
		mpc_transport_key_clear(&k);
		if (rc == MPC_OK)
			add(r, ST_OK, n, NULL,
			    "read from transport_key_file (used before the token's)");
		else
			add(r, ST_FAIL, n,
			    "the file must hold the node's 32-byte key in hex, be owned by you or "
			    "root and not be readable by others",
			    "%s", e.msg);
		return;
	}
	rc = mpc_transport_key_from_env(&k, NULL, &e);
	mpc_transport_key_clear(&k);
	if (rc == MPC_OK) {
		add(r, ST_OK, n, NULL, "read from $%s (used before the token's)",
		    MPC_TRANSPORT_KEY_ENV);
		return;
	}
	if (rc != MPC_ERR_NOT_FOUND) {
		add(r, ST_FAIL, n, "$" MPC_TRANSPORT_KEY_ENV " must hold 64 hex characters", "%s",
		    e.msg);
		return;
	}
	/* in the token: present, and safe (or an error naming what is wrong) */
	(void)check_key(r, tg, MPC_KEY_TRANSPORT, "", full,
			full ? "no transport_key_file, $" MPC_TRANSPORT_KEY_ENV " unset"
			     : "backup and restore then need transport_key_file or "
			       "$" MPC_TRANSPORT_KEY_ENV);
}

/* Keys and self-tests of an open target. */
static void check_keys(struct report *r, struct target *tg, const struct mpc_check_mechs *m,
		       int mech_ok, const char *transport_file, int full)
{
	struct mpc_err e = { 0 };
	char n[96];
	int gcm = 0, cbc = 0, hmac = 0, priv = 0, pub = 0;
	int cbc_mech = m->aes_cbc_pad && m->hmac;

	if (tg->roles & ROLE_SEAL) {
		gcm = check_key(r, tg, MPC_KEY_SEAL_GCM, "", m->aes_gcm,
				m->aes_gcm ? "the token offers CKM_AES_GCM"
					   : "the token offers no CKM_AES_GCM");
		cbc = check_key(
			r, tg, MPC_KEY_SEAL_CBC, "", cbc_mech,
			cbc_mech ? "the token offers CKM_AES_CBC_PAD and CKM_SHA256_HMAC"
				 : "the token offers no CKM_AES_CBC_PAD with CKM_SHA256_HMAC");
		hmac = check_key(r, tg, MPC_KEY_SEAL_HMAC, "", cbc_mech,
				 cbc_mech ? "the token offers CKM_AES_CBC_PAD and CKM_SHA256_HMAC"
					  : "the token offers no CKM_AES_CBC_PAD with "
					    "CKM_SHA256_HMAC");
		if (!(tg->roles & ROLE_ESCROW))
			check_transport(r, tg, transport_file, full);
	}
	if (tg->roles & ROLE_TLS) {
		priv = check_key(r, tg, MPC_KEY_TLS_PRIVATE, " (private)", 1, "the TLS identity");
		pub = check_key(r, tg, MPC_KEY_TLS_PUBLIC, " (public)", 1, "the TLS identity");
	}
	if (tg->roles & ROLE_SEAL) {
		const struct {
			enum mpc_seal_mech mech;
			int offered, keys;
			const char *needs;
		} tests[] = {
			{ MPC_SEAL_AES_GCM, m->aes_gcm, gcm, "key mpc-backup-seal-gcm" },
			{ MPC_SEAL_AES_CBC_HMAC, cbc_mech, cbc && hmac,
			  "keys mpc-backup-seal-cbc and mpc-backup-seal-hmac" },
			/* what auto picks on a token whose HMAC takes short messages (YubiHSM 2) */
			{ MPC_SEAL_AES_CBC_HMAC_DIGEST, cbc_mech, cbc && hmac,
			  "keys mpc-backup-seal-cbc and mpc-backup-seal-hmac" },
		};

		for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
			char what[96];

			snprintf(what, sizeof(what), "self-test %s",
				 mpc_seal_mech_name(tests[i].mech));
			name_of(tg, what, n, sizeof(n));
			if (!tests[i].offered)
				continue;
			if (!tests[i].keys) {
				add(r, ST_SKIP, n, NULL, "needs %s%s", tg->prefix, tests[i].needs);
				continue;
			}
			mpc_err_clear(&e);
			if (mpc_check_seal_selftest(tg->t, tests[i].mech, &e) == MPC_OK)
				add(r, ST_OK, n, NULL,
				    "sealed 64 random bytes, opened them, a changed blob was "
				    "refused; wiped");
			else
				add(r, ST_FAIL, n,
				    "the token cannot use its sealing key: check the key with the "
				    "token's own tool, or make new keys in a fresh token",
				    "%s", e.msg);
		}
		if (!mech_ok)
			add(r, ST_SKIP, name_of(tg, "self-test seal", n, sizeof(n)), NULL,
			    "needs %smechanisms", tg->prefix);
	}
	if (tg->roles & ROLE_TLS) {
		name_of(tg, "self-test ed25519", n, sizeof(n));
		if (!m->eddsa || !priv || !pub) {
			add(r, ST_SKIP, n, NULL, "needs %s%s", tg->prefix,
			    !m->eddsa ? "mechanisms" : "key mpc-backup-tls");
			return;
		}
		mpc_err_clear(&e);
		if (mpc_check_sign_selftest(tg->t, &e) != MPC_OK ||
		    mpc_ed25519_public_key(tg->t, tg->tls_pub, &e) != MPC_OK) {
			add(r, ST_FAIL, n,
			    "the TLS key pair is unusable: inspect it (`mpc-backup token show`); "
			    "a new key must be registered on the contract again",
			    "%s", e.msg);
			return;
		}
		add(r, ST_OK, n, NULL,
		    "signed random bytes in the token; the signature verifies with its public key");
		tg->tls_ok = 1;
	}
}

/* Whose vendor rules apply (vendor.h): the kind detected from what the token reports, or the
 * one a profile (--token-profile, token_profile; the sealing token only, as `run` applies it)
 * forces. A bad profile name fails; a forced kind is ok but names the detected one too. */
static void check_kind(struct report *r, const struct target *tg, const char *profile)
{
	struct mpc_err e = { 0 };
	char n[96];
	int forced = 0;
	enum mpc_token_kind detected = mpc_token_kind_of(tg->t, NULL), k;

	name_of(tg, "token kind", n, sizeof(n));
	if (profile != NULL && (tg->roles & ROLE_SEAL) && !(tg->roles & ROLE_ESCROW) &&
	    mpc_token_set_profile(tg->t, profile, &e) != MPC_OK) {
		add(r, ST_FAIL, n,
		    "set token_profile (--token-profile) to auto or to one of the kinds named",
		    "%s", e.msg);
		return;
	}
	k = mpc_token_kind_of(tg->t, &forced);
	if (forced)
		add(r, ST_OK, n, NULL,
		    "%s (forced by --token-profile or token_profile; detected %s)",
		    mpc_token_kind_name(k), mpc_token_kind_name(detected));
	else
		add(r, ST_OK, n, NULL, "%s (detected from what the token reports)",
		    mpc_token_kind_name(k));
}

static void check_target(struct report *r, struct mpc_p11_ctx *ctx, struct target *tg,
			 const struct mpc_pin_opts *pin, const char *transport_file, int full,
			 const char *profile)
{
	struct mpc_check_mechs m;
	int mech_ok;

	if (!check_open(r, ctx, tg, pin))
		return;
	check_kind(r, tg, profile);
	mech_ok = check_mechanisms(r, tg, &m);
	check_keys(r, tg, &m, mech_ok, transport_file, full);
}

/* The node check: the operator's node (from the agreed view) answers /hello with the key the
 * contract lists and accepts ours. */
static void check_node(struct report *r, const struct mpc_config *cfg,
		       const struct mpc_contract_view *v, struct target *tls)
{
	const struct mpc_participant *p = v->has_own ? &v->own : &v->prospective;
	struct mpc_address_config ac;
	struct mpc_provider prov;
	struct mpc_node_client_opts co;
	struct mpc_node_client *client = NULL;
	struct mpc_err e = { 0 };
	EVP_PKEY *pkey = NULL;
	char addr[MPC_ADDRESS_MAX], nkey[MPC_ED25519_KEY_STR_MAX] = "?";
	int rc, overridden = 0;
	const char *hint;

	memset(&prov, 0, sizeof(prov));
	memset(&ac, 0, sizeof(ac));
	ac.migration_port = (uint16_t)cfg->migration_port;
	ac.overrides = cfg->overrides;
	ac.n_overrides = cfg->n_overrides;
	if (!v->has_own && !v->has_prospective) {
		add(r, ST_FAIL, "node",
		    "check account= (the operator's NEAR account, as the contract lists it)",
		    "%s is not a participant in the contract's %s state: no node to ask",
		    cfg->account, v->variant);
		return;
	}
	(void)mpc_ed25519_key_format(p->info.tls_key, nkey, NULL);
	rc = mpc_migration_address(&ac, p->account_id, p->info.url, p->info.tls_key, addr,
				   &overridden, &e);
	if (rc != MPC_OK) {
		add(r, ST_FAIL, "node",
		    "name the node's migration address in the configuration: address.account.<"
		    "account> = host:port",
		    "%s", e.msg);
		return;
	}
	rc = mpc_provider_load(NULL, &prov, &e);
	if (rc == MPC_OK)
		rc = mpc_provider_token_pkey(NULL, tls->t, &pkey, &e);
	if (rc == MPC_OK) {
		memset(&co, 0, sizeof(co));
		co.client_key = pkey;
		memcpy(co.client_pub, tls->tls_pub, 32);
		memcpy(co.node_pub, p->info.tls_key, 32);
		co.address = addr;
		co.connect_timeout_ms = (long)(cfg->node_connect_timeout * 1000);
		co.timeout_ms = (long)(cfg->node_timeout * 1000);
		co.fresh_connection = 1;
		co.cancel = mpc_cli_cancel_flag();
		rc = mpc_node_client_new(&co, &client, &e);
	}
	if (rc == MPC_OK)
		rc = mpc_node_hello(client, &e);
	mpc_node_client_free(client);
	EVP_PKEY_free(pkey);
	if (prov.token != NULL || prov.deflt != NULL)
		mpc_provider_unload(&prov);
	if (rc == MPC_OK) {
		add(r, ST_OK, "node", NULL,
		    "%s (%s%s) answered \"Hello, world!\" over mutual TLS 1.3 with its contract "
		    "key %s and accepted ours",
		    addr, overridden ? "address override" : "from the contract's URL",
		    overridden ? "" : " and the migration port", nkey);
		return;
	}
	switch (rc) {
	case MPC_ERR_PEER_KEY:
		hint = "either the node's TLS key is not the one the contract lists for it, or the "
		       "node refuses ours: a node reads the backup service's key from the contract "
		       "(wait for it, or restart the node, after registering)";
		break;
	case MPC_ERR_TLS:
		hint = "is this the node's migration server? check address.account.<account> / "
		       "migration_port (8079; older nodes 8081: `mpc-backup contract status "
		       "--debug-port 8080` asks the node)";
		break;
	default:
		hint = "check that the node runs, its migration port (8079; older nodes 8081) and "
		       "the firewall between; override the address with "
		       "address.account.<account> = host:port";
	}
	add(r, ST_FAIL, "node", hint, "%s (%s): %s", addr,
	    overridden ? "address override" : "from the contract's URL", e.msg);
}

/* Configuration, RPC endpoints and their agreement, the registered backup key, the node. */
static void check_contract(struct report *r, const struct mpc_config *cfg, int has_config,
			   struct target *tls)
{
	struct mpc_quorum *q = NULL;
	struct mpc_contract_view v;
	struct mpc_endpoint_outcome *oc = NULL;
	struct mpc_err e = { 0 };
	char ours[MPC_ED25519_KEY_STR_MAX] = "?", theirs[MPC_ED25519_KEY_STR_MAX] = "?";
	size_t agree = 0;
	int rc, key_ok = 0;

	memset(&v, 0, sizeof(v));
	if (has_config) {
		if (mpc_config_check(cfg, &e) == MPC_OK)
			add(r, ST_OK, "config", NULL, "has everything `run` needs");
		else
			add(r, ST_FAIL, "config", "see mpc-backup.conf(5)", "%s", e.msg);
		mpc_err_clear(&e);
	}
	if (cfg->n_rpc_url == 0 || cfg->account == NULL) {
		add(r, ST_SKIP, "contract", NULL, "%s",
		    has_config ? "needs rpc_url and account in the configuration"
			       : "give --config (or --rpc-url and --account) to check the RPC "
				 "endpoints, the contract and the node");
		return;
	}
	rc = mpc_config_quorum_new(cfg, mpc_cli_cancel_flag(), &q, &e);
	if (rc != MPC_OK) {
		add(r, ST_FAIL, "rpc", "list distinct http(s) endpoints of different providers",
		    "%s", e.msg);
		add(r, ST_SKIP, "backup key", NULL, "needs rpc");
		add(r, ST_SKIP, "node", NULL, "needs rpc");
		return;
	}
	oc = calloc(MPC_QUORUM_MAX_ENDPOINTS, sizeof(*oc));
	if (oc == NULL) {
		add(r, ST_FAIL, "rpc", NULL, "out of memory");
		goto out;
	}
	rc = mpc_quorum_poll(q, cfg->account, &v, oc, &e);
	for (size_t i = 0; i < mpc_quorum_size(q); i++) {
		char n[96];

		snprintf(n, sizeof(n), "rpc %.90s", oc[i].endpoint);
		if (oc[i].status == MPC_ENDPOINT_OK)
			add(r, ST_OK, n, NULL, "answered at block %llu: %s",
			    (unsigned long long)oc[i].block_height, oc[i].detail);
		else if (oc[i].status == MPC_ENDPOINT_DISAGREE)
			add(r, ST_FAIL, n,
			    "it reads another contract state than the others: check the endpoint "
			    "and the contract account (`mpc-backup contract status` compares them)",
			    "disagrees: %s", oc[i].detail);
		else
			add(r, ST_FAIL, n,
			    oc[i].behind ? "it lags behind the others: use a synced endpoint"
					 : "check the URL, its API key and the network; "
					   "`mpc-backup contract status` shows each endpoint",
			    "%s: %s", mpc_errname(oc[i].code), oc[i].detail);
	}
	if (rc != MPC_OK) {
		add(r, ST_FAIL, "rpc agreement",
		    rc == MPC_ERR_DISAGREE
			    ? "nothing is acted on while endpoints disagree: remove or fix the one "
			      "that reads another state"
			    : "too few endpoints answered for the quorum: fix them or add others",
		    "%s", e.msg);
		add(r, ST_SKIP, "backup key", NULL, "needs rpc agreement");
		add(r, ST_SKIP, "node", NULL, "needs rpc agreement");
		goto out;
	}
	for (size_t i = 0; i < mpc_quorum_size(q); i++)
		agree += oc[i].status == MPC_ENDPOINT_OK;
	add(r, ST_OK, "rpc agreement", NULL,
	    "%zu of %zu endpoints agree (quorum %zu) at block %llu", agree, mpc_quorum_size(q),
	    mpc_quorum_threshold(q), (unsigned long long)v.block_height);
	if (tls == NULL || !tls->tls_ok) {
		add(r, ST_SKIP, "backup key", NULL, "needs %sself-test ed25519 (the TLS key)",
		    tls != NULL ? tls->prefix : "");
		add(r, ST_SKIP, "node", NULL, "needs %sself-test ed25519 (the TLS key)",
		    tls != NULL ? tls->prefix : "");
		goto out;
	}
	(void)mpc_ed25519_key_format(tls->tls_pub, ours, NULL);
	if (!v.has_migration || !v.migration.has_backup) {
		add(r, ST_FAIL, "backup key",
		    "`mpc-backup register --account <operator>` prints the register_backup_service "
		    "call to make with the operator's account",
		    "no backup service is registered for %s on %s; this token's key is %s",
		    cfg->account, cfg->contract != NULL ? cfg->contract : "v1.signer", ours);
	} else if (memcmp(v.migration.backup_key, tls->tls_pub, 32) != 0) {
		(void)mpc_ed25519_key_format(v.migration.backup_key, theirs, NULL);
		add(r, ST_FAIL, "backup key",
		    "point --tls-token at the token holding the registered key, or register this "
		    "token's key (`mpc-backup register`)",
		    "the contract lists %s for %s; this token's key is %s", theirs, cfg->account,
		    ours);
	} else {
		key_ok = 1;
		add(r, ST_OK, "backup key", NULL, "the contract lists this token's key %s for %s",
		    ours, cfg->account);
	}
	if (!key_ok)
		add(r, ST_SKIP, "node", NULL,
		    "needs backup key (the node accepts only the key the contract lists)");
	else
		check_node(r, cfg, &v, tls);
out:
	free(oc);
	mpc_contract_view_free(&v);
	mpc_quorum_free(q);
}

int mpc_cmd_doctor(int argc, char **argv)
{
	static const struct option opts[] = {
		MPC_CLI_CFG_TOKEN_OPTIONS,
		MPC_CLI_CFG_RPC_OPTIONS,
		{ "migration-port", required_argument, NULL, 0 },
		{ "node-timeout", required_argument, NULL, 0 },
		{ "transport-key-file", required_argument, NULL, 0 },
		{ "seal-to", required_argument, NULL, 0 },
		{ NULL, 0, NULL, 0 },
	};
	struct mpc_cli_cfg a;
	struct mpc_p11_ctx *ctx = NULL;
	struct report *r = NULL;
	struct target tg[MAX_TARGETS];
	struct mpc_err e = { 0 };
	const char *seal_uri, *tls_uri;
	size_t nt, tls;
	int st, has_config;

	st = mpc_cli_cfg_parse("doctor", doctor_help, argc, argv, opts, &a, NULL, NULL);
	if (st != 0)
		return st < 0 ? 0 : st;
	has_config = a.has_config;
	r = calloc(1, sizeof(*r));
	if (r == NULL || mpc_p11_ctx_new(&ctx, &e) != MPC_OK) {
		free(r);
		mpc_config_free(&a.cfg);
		if (e.code == MPC_OK)
			mpc_fail(&e, MPC_ERR_NOMEM, "out of memory");
		return mpc_cli_fail("doctor", &e);
	}
	r->json = a.json;
	memset(tg, 0, sizeof(tg));
	seal_uri = a.c.seal_token_uri != NULL ? a.c.seal_token_uri : a.c.token_uri;
	tls_uri = a.c.tls_token_uri != NULL ? a.c.tls_token_uri : a.c.token_uri;
	if (strcmp(seal_uri, tls_uri) == 0) {
		add_target(&tg[0], "", seal_uri, ROLE_SEAL | ROLE_TLS);
		nt = 1;
		tls = 0;
	} else {
		add_target(&tg[0], "seal-token ", seal_uri, ROLE_SEAL);
		add_target(&tg[1], "tls-token ", tls_uri, ROLE_TLS);
		nt = 2;
		tls = 1;
	}
	/* --seal-to tokens (escrow): each must be able to seal too; the sealing token itself is
	 * not checked twice */
	for (size_t i = 0; i < a.no.n_seal_to && nt < MAX_TARGETS; i++) {
		char prefix[24];

		if (strcmp(a.no.seal_to[i], seal_uri) == 0)
			continue;
		snprintf(prefix, sizeof(prefix), "seal-to %u ", (unsigned)(i + 1));
		add_target(&tg[nt++], prefix, a.no.seal_to[i], ROLE_SEAL | ROLE_ESCROW);
	}
	for (size_t i = 0; i < nt; i++)
		check_target(r, ctx, &tg[i], &a.c.pin, a.cfg.transport_key_file,
			     has_config || a.cfg.n_rpc_url > 0, a.c.token_profile);
	check_contract(r, &a.cfg, has_config, &tg[tls]);
	for (size_t i = 0; i < nt; i++)
		mpc_token_close(tg[i].t);
	mpc_p11_ctx_free(ctx);
	mpc_config_free(&a.cfg);
	st = r->failed == 0 ? 0 : DOCTOR_FAILED;
	if (r->json) {
		if (mpc_cli_print_json(report_json(r)) != 0)
			st = 70;
	} else {
		printf("%zu check%s failed\n", r->failed, r->failed == 1 ? "" : "s");
	}
	free(r);
	return st;
}
