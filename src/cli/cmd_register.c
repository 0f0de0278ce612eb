/* cmd_register.c: `mpc-backup register`: what the operator registers on the contract. */
#include <string.h>

#include "pkcs11/ed25519.h"
#include "src/cli/cfgopts.h"
#include "src/util/encoding.h"

static const char register_help[] =
	"usage: mpc-backup register --account OPERATOR [--contract ACCOUNT] [--network NAME]\n"
	"                           [token options]\n"
	"\n"
	"Prints the arguments of register_backup_service with this token's TLS public key, and a\n"
	"near CLI command that the operator runs from their account (it needs a full-access key:\n"
	"the call carries a 1 yoctoNEAR deposit). Nothing is sent. With the PIN, the key printed\n"
	"is verified: the token signs a random challenge with the private key and the signature\n"
	"must verify with it. Without a PIN the public key is read without logging in and is NOT\n"
	"verified (stderr, and \"verified\": false in --json, say so); a token that keeps it as\n"
	"a private object needs the PIN.\n"
	"\n"
	"  --account OPERATOR   the node operator's NEAR account (signs the transaction)\n"
	"  --contract ACCOUNT   the MPC contract (default v1.signer)\n"
	"  --network NAME       near CLI network config (default mainnet)\n" MPC_CLI_CONFIG_HELP
		MPC_CLI_COMMON_HELP;

/* What was checked of the key printed (stderr in text, "verification" in JSON). */
static const char verified_words[] =
	"TLS public key verified: the token signed a random challenge with its TLS private key "
	"and the signature verifies with this key";
static const char unverified_words[] =
	"TLS public key NOT verified against the private key, because no PIN was given: it is "
	"the one public object labelled mpc-backup-tls, which anyone with access to the token "
	"can create without a PIN. To verify it, give the PIN (--pin-file, pin-source= in the "
	"token URI, or MPC_BACKUP_PIN) and run register again";

/* NEAR account ids: 2..64 chars of [a-z0-9._-]; checked so the printed command is safe. */
static int account_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 2 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
		      s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

static int word_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return 0;
	return 1;
}

enum {
	OPT_NETWORK = MPC_OPT_FIRST_COMMAND_OPTION
};

static int register_opt(void *ctx, int opt, const char *arg)
{
	if (opt != OPT_NETWORK)
		return 0;
	*(const char **)ctx = arg;
	return 1;
}

int mpc_cmd_register(int argc, char **argv)
{
	/* --account and --contract are the configuration's keys: --config gives them too */
	static const struct option opts[] = {
		MPC_CLI_CFG_TOKEN_OPTIONS,
		{ "account", required_argument, NULL, 0 },
		{ "contract", required_argument, NULL, 0 },
		{ "network", required_argument, NULL, OPT_NETWORK },
		{ NULL, 0, NULL, 0 },
	};
	struct mpc_cli_cfg a;
	struct mpc_cli_tokens tk;
	struct mpc_err e = { 0 };
	const char *account, *contract, *network = "mainnet";
	char pub_str[MPC_ED25519_KEY_STR_MAX], args[160];
	uint8_t pub[32];
	struct mpc_tls_key_check chk = { 0 };
	int rc, status;

	status = mpc_cli_cfg_parse("register", register_help, argc, argv, opts, &a, register_opt,
				   &network);
	if (status != 0)
		return status < 0 ? 0 : status;
	account = a.cfg.account;
	contract = a.cfg.contract != NULL ? a.cfg.contract : "v1.signer";
	if (account == NULL)
		status = mpc_cli_usage("register", "--account OPERATOR is required");
	else if (!account_ok(account))
		status = mpc_cli_usage("register", "--account: \"%.64s\" is not a NEAR account id",
				       account);
	else if (!account_ok(contract))
		status = mpc_cli_usage("register", "--contract: \"%.64s\" is not a NEAR account id",
				       contract);
	else if (!word_ok(network))
		status = mpc_cli_usage("register", "--network: \"%.64s\" is not a network name",
				       network);
	if (status != 0) {
		mpc_config_free(&a.cfg);
		return status;
	}
	/* With a PIN the key printed is proven to pair with the token's private key; without
	 * one it is read as the public object it is, unchecked, and said so (mpc_token_tls_key) */
	rc = mpc_cli_open_tokens(&a.c, MPC_CLI_NEED_TLS | MPC_CLI_PUBLIC, &tk, &e);
	if (rc == MPC_OK) {
		rc = mpc_token_tls_key(tk.tls, pub, &chk, &e);
		mpc_cli_close_tokens(&tk);
	}
	if (rc == MPC_OK)
		rc = mpc_ed25519_key_format(pub, pub_str, &e);
	if (rc != MPC_OK) {
		mpc_config_free(&a.cfg);
		return mpc_cli_fail("register", &e);
	}
	snprintf(args, sizeof(args), "{\"backup_service_info\":{\"public_key\":\"%s\"}}", pub_str);
	if (a.json) {
		json_t *j =
			json_pack("{s:s, s:s, s:s, s:s, s:{s:{s:s}}, s:s, s:b, s:s}", "contract",
				  contract, "network", network, "account", account, "method",
				  "register_backup_service", "args", "backup_service_info",
				  "public_key", pub_str, "deposit_yoctonear", "1", "verified",
				  chk.verified, "verification",
				  chk.verified ? verified_words : unverified_words);

		mpc_config_free(&a.cfg);
		return mpc_cli_print_json(j);
	}
	fprintf(stderr, "mpc-backup register: %s\n",
		chk.verified ? verified_words : unverified_words);
	printf("register_backup_service arguments:\n%s\n\n", args);
	printf("Run as the operator (account %s, full-access key):\n", account);
	status = printf("near contract call-function as-transaction %s register_backup_service "
			"json-args '%s' prepaid-gas '300.0 Tgas' attached-deposit '1 yoctoNEAR' "
			"sign-as %s network-config %s sign-with-keychain send\n",
			contract, args, account, network);
	mpc_config_free(&a.cfg);
	return status < 0 ? 74 : 0;
}
