#!/usr/bin/env bash
# ceremony.sh (Google Cloud HSM through kmsp11): make the Cloud KMS key ring if it is absent
# (gcloud), write kmsp11's configuration naming it, then run the mpc-backup key ceremony with the
# sealing keys through libkmsp11.so and the TLS key in another token (kmsp11 has no EdDSA), and
# write an audit record. Non-interactive and idempotent: an existing key ring and configuration
# are kept, keys already made are kept. Google credentials come from gcloud's and kmsp11's own
# configuration (application default credentials), never from this script's command line.
# NOT RUN AGAINST CLOUD KMS HERE: written from Google's documents (cited at each command).
set -euo pipefail

CEREMONY_PROFILE=gcp-cloud-hsm
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tokens/ceremony-lib.sh
. "$here/../ceremony-lib.sh"

usage() {
	cat <<EOF
usage: $0 --project P --location L --key-ring R --kmsp11-conf FILE --module PATH
          --pin-file FILE --tls-token URI --tls-pin-file FILE [options]

  --project P, --location L, --key-ring R
                        the Cloud KMS key ring holding the sealing keys (made when absent)
  --kmsp11-conf FILE    kmsp11's YAML configuration (KMS_PKCS11_CONFIG); written when absent
  --module PATH         libkmsp11.so (Google's release; not packaged by Debian)
  --token-label LABEL   the token label the configuration gives the key ring (default: mpc-backup)
  --pin-file FILE       a PIN file for the kmsp11 token (kmsp11 accepts any PIN and ignores it;
                        mpc-backup still logs in)
  --tls-token URI       the token holding the Ed25519 TLS key (e.g. a SoftHSM2 token made by
                        tokens/softhsm2/ceremony.sh --token-only, or a YubiHSM 2)
  --tls-pin-file FILE   its PIN
  --experimental-flags  also write experimental_allow_mac_keys and
                        experimental_allow_raw_encryption_keys (kmsp11 before 1.3 only: 1.3 made
                        them standard and asks that they be removed)
$COMMON_HELP
EOF
}

project='' location='' key_ring='' conf='' module='' token_label=mpc-backup pin_file=''
tls_token='' tls_pin_file='' experimental=0
while [ $# -gt 0 ]; do
	if common_opt "$@"; then
		shift "$COMMON_SHIFT"
		continue
	fi
	case "$1" in
	--project) need_arg "$1" "${2:-}" && project=$2 && shift ;;
	--location) need_arg "$1" "${2:-}" && location=$2 && shift ;;
	--key-ring) need_arg "$1" "${2:-}" && key_ring=$2 && shift ;;
	--kmsp11-conf) need_arg "$1" "${2:-}" && conf=$2 && shift ;;
	--module) need_arg "$1" "${2:-}" && module=$2 && shift ;;
	--token-label) need_arg "$1" "${2:-}" && token_label=$2 && shift ;;
	--pin-file) need_arg "$1" "${2:-}" && pin_file=$2 && shift ;;
	--tls-token) need_arg "$1" "${2:-}" && tls_token=$2 && shift ;;
	--tls-pin-file) need_arg "$1" "${2:-}" && tls_pin_file=$2 && shift ;;
	--experimental-flags) experimental=1 ;;
	--help | -h)
		usage
		exit 0
		;;
	*) die "unknown option $1 (see --help)" ;;
	esac
	shift
done
for v in project location key_ring; do
	val=${!v}
	case "$val" in
	'') die "--${v//_/-} is required" ;;
	*[!A-Za-z0-9_-]*) die "--${v//_/-} '$val': letters, digits, _ and - only (Cloud KMS resource ids)" ;;
	esac
done
[ -n "$conf" ] || die "--kmsp11-conf is required"
[ -n "$module" ] || die "--module is required (the path of Google's libkmsp11.so)"
[ -n "$tls_token" ] || die "--tls-token is required: kmsp11 has no EdDSA, the TLS key lives in another token"
case "$token_label" in '' | *[!A-Za-z0-9._-]*) die "--token-label: letters, digits, . _ - only" ;; esac
check_secret_file --pin-file "$pin_file"
check_secret_file --tls-pin-file "$tls_pin_file"
need_tool gcloud "Google Cloud CLI"
need_tool jq "Debian package jq"
need_tool "$MPC_BACKUP" "mpc-backup"
[ "$DRY_RUN" = 1 ] || [ -f "$module" ] || die "$module not found: install Google's libkmsp11.so or fix --module"

ring=projects/$project/locations/$location/keyRings/$key_ring
steps=()
# Google, "gcloud kms keyrings describe" / "gcloud kms keyrings create"
# (https://cloud.google.com/sdk/gcloud/reference/kms/keyrings/create:
# `gcloud kms keyrings create KEYRING --location=LOCATION`, the project from --project).
show gcloud kms keyrings describe "$key_ring" --location="$location" --project="$project"
if [ "$DRY_RUN" = 0 ] &&
	gcloud kms keyrings describe "$key_ring" --location="$location" --project="$project" \
		--format=value\(name\) >/dev/null 2>&1; then
	say "key ring $ring exists: kept"
	steps+=("kept the existing key ring $ring")
else
	run gcloud kms keyrings create "$key_ring" --location="$location" --project="$project" ||
		die "gcloud kms keyrings create failed (its message is above)"
	steps+=("created the key ring $ring (gcloud kms keyrings create)")
fi

# Google, kmsp11 user guide, "Configuration"
# (https://github.com/GoogleCloudPlatform/kms-integrations/blob/master/kmsp11/docs/user_guide.md):
# a YAML file named by KMS_PKCS11_CONFIG, `tokens:` a list of `key_ring:` (the full resource
# name) and `label:`. The experimental flags are for releases before 1.3 (its change log).
if [ ! -e "$conf" ]; then
	show_raw "write $conf: tokens: [{key_ring: $ring, label: $token_label}]$([ "$experimental" = 0 ] || printf ' + experimental flags')"
	if [ "$DRY_RUN" = 0 ]; then
		{
			printf -- '---\ntokens:\n  - key_ring: "%s"\n    label: "%s"\n' "$ring" "$token_label"
			[ "$experimental" = 0 ] ||
				printf 'experimental_allow_mac_keys: true\nexperimental_allow_raw_encryption_keys: true\n'
		} >"$conf"
		chmod 0644 "$conf"
	fi
	steps+=("wrote $conf for the key ring $ring, label $token_label")
elif ! grep -qF "$ring" "$conf"; then
	die "$conf exists and does not name the key ring $ring: fix it or give another --kmsp11-conf"
fi
export KMS_PKCS11_CONFIG=$conf
show_raw "export KMS_PKCS11_CONFIG=$conf"

steps+=("TLS key in the separate token $tls_token")
ceremony_init_and_audit "$(json_strings "${steps[@]}")" \
	--seal-token "$(pin_uri "pkcs11:token=$token_label?module-path=$module" "$pin_file")" \
	--tls-token "$(pin_uri "$tls_token" "$tls_pin_file")"
