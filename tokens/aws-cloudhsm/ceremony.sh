#!/usr/bin/env bash
# ceremony.sh (AWS CloudHSM, client SDK 5): make mpc-backup's crypto user in the cluster if it is
# absent (CloudHSM CLI), then run the mpc-backup key ceremony through libcloudhsm_pkcs11.so and
# write an audit record. The TLS key may live in another token (--tls-token, e.g. a SoftHSM2
# token made by tokens/softhsm2/ceremony.sh --token-only) where the HSM type has no Ed25519.
# Non-interactive and idempotent; passwords only from files, never on a command line.
# NOT RUN AGAINST A CLUSTER HERE: written from AWS's documents (cited at each command).
set -euo pipefail

CEREMONY_PROFILE=aws-cloudhsm
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tokens/ceremony-lib.sh
. "$here/../ceremony-lib.sh"

usage() {
	cat <<EOF
usage: $0 --admin-pin-file FILE --pin-file FILE [--tls-token URI --tls-pin-file FILE] [options]

  --admin-pin-file FILE  a CloudHSM admin as USER:PASSWORD (to create the crypto user)
  --pin-file FILE        mpc-backup's crypto user as USER:PASSWORD (its PKCS#11 PIN)
  --tls-token URI        keep the TLS key in this other token (hsm1.medium and FIPS-mode
                         clusters have no Ed25519); its PIN from --tls-pin-file
  --tls-pin-file FILE    the PIN of --tls-token
  --cluster-id ID        the cluster, when cloudhsm-cli is configured for several
  --token-label LABEL    the PKCS#11 token label (default: match the module's only token)
  --module PATH          libcloudhsm_pkcs11.so (default: /opt/cloudhsm/lib/libcloudhsm_pkcs11.so)
  --cloudhsm-cli PATH    cloudhsm-cli (default: /opt/cloudhsm/bin/cloudhsm-cli)
$COMMON_HELP
EOF
}

admin_pin_file='' pin_file='' tls_token='' tls_pin_file='' cluster=() token_label=''
module=/opt/cloudhsm/lib/libcloudhsm_pkcs11.so cli=/opt/cloudhsm/bin/cloudhsm-cli
while [ $# -gt 0 ]; do
	if common_opt "$@"; then
		shift "$COMMON_SHIFT"
		continue
	fi
	case "$1" in
	--admin-pin-file) need_arg "$1" "${2:-}" && admin_pin_file=$2 && shift ;;
	--pin-file) need_arg "$1" "${2:-}" && pin_file=$2 && shift ;;
	--tls-token) need_arg "$1" "${2:-}" && tls_token=$2 && shift ;;
	--tls-pin-file) need_arg "$1" "${2:-}" && tls_pin_file=$2 && shift ;;
	--cluster-id) need_arg "$1" "${2:-}" && cluster=(--cluster-id "$2") && shift ;;
	--token-label) need_arg "$1" "${2:-}" && token_label=$2 && shift ;;
	--module) need_arg "$1" "${2:-}" && module=$2 && shift ;;
	--cloudhsm-cli) need_arg "$1" "${2:-}" && cli=$2 && shift ;;
	--help | -h)
		usage
		exit 0
		;;
	*) die "unknown option $1 (see --help)" ;;
	esac
	shift
done
check_secret_file --admin-pin-file "$admin_pin_file"
check_secret_file --pin-file "$pin_file"
if [ -n "$tls_token" ]; then
	check_secret_file --tls-pin-file "$tls_pin_file"
elif [ -n "$tls_pin_file" ]; then
	die "--tls-pin-file without --tls-token"
fi
case "$token_label" in *[!A-Za-z0-9._-]*) die "--token-label: letters, digits, . _ - only" ;; esac
need_tool "$cli" "AWS CloudHSM CLI, client SDK 5"
need_tool jq "Debian package jq"
need_tool "$MPC_BACKUP" "mpc-backup"
[ "$DRY_RUN" = 1 ] || [ -f "$module" ] || die "$module not found: install the CloudHSM PKCS#11 library (SDK 5) or give --module"

cu=CU_USER
if [ "$DRY_RUN" = 0 ]; then
	cu=$(read_secret "$pin_file")
	cu=${cu%%:*}
	case "$cu" in '' | *[!A-Za-z0-9_]*) die "--pin-file: must be USER:PASSWORD with a user name of letters, digits and _ (AWS's rule for CloudHSM user names)" ;; esac
	cu=$(printf '%s' "$cu" | tr '[:upper:]' '[:lower:]') # CloudHSM shows user names in lower case
fi

# AWS, "List all AWS CloudHSM users with CloudHSM CLI"
# (https://docs.aws.amazon.com/cloudhsm/latest/userguide/cloudhsm_cli-user-list.html):
# `user list` needs no login and prints {"error_code":0,"data":{"users":[{"username","role",...}]}}.
steps=()
run_list() { "$cli" user list "${cluster[@]}"; }
show "$cli" user list "${cluster[@]}"
role=
if [ "$DRY_RUN" = 0 ]; then
	users=$(run_list) || die "cloudhsm-cli user list failed (is the client configured for the cluster?)"
	role=$(jq -r --arg u "$cu" '.data.users[] | select(.username == $u) | .role' <<<"$users")
fi
case "$role" in
crypto-user)
	say "crypto user $cu exists: kept as it is"
	steps+=("kept the existing crypto user $cu")
	;;
'')
	# AWS, "Command modes in CloudHSM CLI"
	# (https://docs.aws.amazon.com/cloudhsm/latest/userguide/cloudhsm_cli-modes.html): single
	# command mode takes the login from CLOUDHSM_ROLE and CLOUDHSM_PIN (USER:PASSWORD).
	# AWS, "Create an AWS CloudHSM user with CloudHSM CLI"
	# (https://docs.aws.amazon.com/cloudhsm/latest/userguide/cloudhsm_cli-user-create.html):
	# `user create --username U --role crypto-user`, the password prompted for (twice) when
	# --password is not given; it is given here on standard input.
	show_raw "CLOUDHSM_ROLE=admin CLOUDHSM_PIN=(from $admin_pin_file) $cli user create ${cluster[*]} --username $cu --role crypto-user <<< (password from $pin_file, twice)"
	if [ "$DRY_RUN" = 0 ]; then
		pw=$(read_secret "$pin_file")
		pw=${pw#*:}
		out=$(printf '%s\n%s\n' "$pw" "$pw" | CLOUDHSM_ROLE=admin \
			CLOUDHSM_PIN=$(read_secret "$admin_pin_file") "$cli" user create "${cluster[@]}" \
			--username "$cu" --role crypto-user 2>&1) || die "cloudhsm-cli user create failed: $out"
		unset pw
		# its JSON answer follows the password prompts
		grep -q '"error_code": *0' <<<"$out" ||
			die "cloudhsm-cli user create did not report success: $out"
	fi
	steps+=("created the crypto user $cu (cloudhsm-cli user create)")
	;;
*) die "user $cu exists with role $role, not crypto-user: give mpc-backup its own crypto user" ;;
esac

seal="pkcs11:${token_label:+token=$token_label}?module-path=$module"
if [ -n "$tls_token" ]; then
	steps+=("TLS key in the separate token $tls_token")
	ceremony_init_and_audit "$(json_strings "${steps[@]}")" \
		--seal-token "$(pin_uri "$seal" "$pin_file")" \
		--tls-token "$(pin_uri "$tls_token" "$tls_pin_file")"
else
	# One token: the cluster must offer Ed25519 (hsm2m.medium, non-FIPS); otherwise token init
	# says so (exit 16) and --tls-token is the way.
	ceremony_init_and_audit "$(json_strings "${steps[@]}")" --token "$seal" --pin-file "$pin_file"
fi
