/* cmd_register.c: `mpc-backup register`: what the operator registers on the contract. */
#include <string.h>

#include "pkcs11/ed25519.h"
#include "src/cli/cli.h"
#include "src/util/encoding.h"

static const char register_help[] =
	"usage: mpc-backup register --account OPERATOR [--contract ACCOUNT] [--network NAME]\n"
	"                           [token options]\n"
	"\n"
	"Prints the arguments of register_backup_service with this token's TLS public key, and a\n"
	"near CLI command that the operator runs from their account (it needs a full-access key:\n"
	"the call carries a 1 yoctoNEAR deposit). Nothing is sent.\n"
	"\n"
	"  --account OPERATOR   the node operator's NEAR account (signs the transaction)\n"
	"  --contract ACCOUNT   the MPC contract (default v1.signer)\n"
	"  --network NAME       near CLI network config (default mainnet)\n" MPC_CLI_COMMON_HELP;

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

int mpc_cmd_register(int argc, char **argv)
{
	enum { OPT_ACCOUNT = MPC_OPT_FIRST_COMMAND_OPTION, OPT_CONTRACT, OPT_NETWORK };
	static const struct option opts[] = {
		MPC_CLI_COMMON_OPTIONS,
		{ "account", required_argument, NULL, OPT_ACCOUNT },
		{ "contract", required_argument, NULL, OPT_CONTRACT },
		{ "network", required_argument, NULL, OPT_NETWORK },
		{ NULL, 0, NULL, 0 },
	};
	struct mpc_cli_common c;
	struct mpc_cli_tokens tk;
	struct mpc_err e = { 0 };
	const char *account = NULL, *contract = "v1.signer", *network = "mainnet";
	char pub_str[MPC_ED25519_KEY_STR_MAX], args[160];
	uint8_t pub[32];
	int opt, rc, status;

	if (mpc_cli_check_options("register", argc, argv, opts) != 0)
		return 2;
	mpc_cli_common_init(&c);
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == MPC_OPT_HELP) {
			fputs(register_help, stdout);
			return 0;
		}
		if (mpc_cli_common_opt(&c, opt, optarg))
			continue;
		if (opt == OPT_ACCOUNT)
			account = optarg;
		else if (opt == OPT_CONTRACT)
			contract = optarg;
		else if (opt == OPT_NETWORK)
			network = optarg;
		else
			return mpc_cli_bad_option("register", argv);
	}
	if (mpc_cli_no_extra_args("register", argc, argv) != 0)
		return 2;
	if (account == NULL)
		return mpc_cli_usage("register", "--account OPERATOR is required");
	if (!account_ok(account))
		return mpc_cli_usage("register", "--account: \"%.64s\" is not a NEAR account id", account);
	if (!account_ok(contract))
		return mpc_cli_usage("register", "--contract: \"%.64s\" is not a NEAR account id", contract);
	if (!word_ok(network))
		return mpc_cli_usage("register", "--network: \"%.64s\" is not a network name", network);
	rc = mpc_cli_open_tokens(&c, MPC_CLI_NEED_TLS, &tk, &e);
	if (rc == MPC_OK) {
		rc = mpc_ed25519_public_key(tk.tls, pub, &e);
		mpc_cli_close_tokens(&tk);
	}
	if (rc == MPC_OK)
		rc = mpc_ed25519_key_format(pub, pub_str, &e);
	if (rc != MPC_OK)
		return mpc_cli_fail("register", &e);
	snprintf(args, sizeof(args), "{\"backup_service_info\":{\"public_key\":\"%s\"}}", pub_str);
	if (c.json) {
		return mpc_cli_print_json(json_pack(
			"{s:s, s:s, s:s, s:s, s:{s:{s:s}}, s:s}", "contract", contract, "network",
			network, "account", account, "method", "register_backup_service", "args",
			"backup_service_info", "public_key", pub_str, "deposit_yoctonear", "1"));
	}
	printf("register_backup_service arguments:\n%s\n\n", args);
	printf("Run as the operator (account %s, full-access key):\n", account);
	status = printf("near contract call-function as-transaction %s register_backup_service "
			"json-args '%s' prepaid-gas '300.0 Tgas' attached-deposit '1 yoctoNEAR' "
			"sign-as %s network-config %s sign-with-keychain send\n",
			contract, args, account, network);
	return status < 0 ? 74 : 0;
}
