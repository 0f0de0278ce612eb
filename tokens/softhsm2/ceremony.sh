#!/usr/bin/env bash
# ceremony.sh (SoftHSM2): make (or reuse) a SoftHSM2 token labelled LABEL, run the mpc-backup key
# ceremony in it and write an audit record. Non-interactive and idempotent: a token with that
# label is reused, keys already in it are kept; PINs only from files, never on a command line.
set -euo pipefail

CEREMONY_PROFILE=softhsm2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tokens/ceremony-lib.sh
. "$here/../ceremony-lib.sh"

usage() {
	cat <<EOF
usage: $0 --pin-file FILE [--so-pin-file FILE] [options]

Makes a SoftHSM2 token labelled LABEL (unless one exists), runs \`mpc-backup token init\` in it
and writes the audit record (JSON: token, keys and attributes, TLS public key, mechanisms, time).

  --pin-file FILE       the user PIN (mode 0600 or 0400; one line)
  --so-pin-file FILE    the security officer PIN; needed only when the token is made
  --label LABEL         the token label (default: mpc-backup; letters, digits, . _ -)
  --softhsm2-conf FILE  SoftHSM2's configuration (default: \$SOFTHSM2_CONF, else
                        /etc/softhsm/softhsm2.conf)
  --module PATH         libsofthsm2.so (default: Debian's)
  --token-only          make the token and its user PIN, no mpc-backup keys and no record
                        (e.g. a TLS-only token for tokens/aws-cloudhsm or tokens/gcp-cloud-hsm)
$COMMON_HELP
EOF
}

label=mpc-backup pin_file='' so_pin_file='' conf=${SOFTHSM2_CONF:-/etc/softhsm/softhsm2.conf}
module='' token_only=0
while [ $# -gt 0 ]; do
	if common_opt "$@"; then
		shift "$COMMON_SHIFT"
		continue
	fi
	case "$1" in
	--pin-file) need_arg "$1" "${2:-}" && pin_file=$2 && shift ;;
	--so-pin-file) need_arg "$1" "${2:-}" && so_pin_file=$2 && shift ;;
	--label) need_arg "$1" "${2:-}" && label=$2 && shift ;;
	--softhsm2-conf) need_arg "$1" "${2:-}" && conf=$2 && shift ;;
	--module) need_arg "$1" "${2:-}" && module=$2 && shift ;;
	--token-only) token_only=1 ;;
	--help | -h)
		usage
		exit 0
		;;
	*) die "unknown option $1 (see --help)" ;;
	esac
	shift
done
case "$label" in
'' | *[!A-Za-z0-9._-]*) die "--label '$label': use letters, digits, '.', '_' and '-' only" ;;
esac
[ ${#label} -le 32 ] || die "--label '$label': at most 32 characters (CK_TOKEN_INFO.label)"
check_secret_file --pin-file "$pin_file"
need_file --softhsm2-conf "$conf"
if [ -z "$module" ]; then
	for m in /usr/lib/*-linux-gnu*/softhsm/libsofthsm2.so /usr/lib/softhsm/libsofthsm2.so \
		/usr/local/lib/softhsm/libsofthsm2.so; do
		[ -f "$m" ] && module=$m && break
	done
	[ -n "$module" ] || [ "$DRY_RUN" = 1 ] || die "libsofthsm2.so not found: give --module"
	module=${module:-/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so}
fi
# pkcs11-tool (OpenSC) makes the token: softhsm2-util --init-token takes the PINs only on its
# command line or from a terminal, while pkcs11-tool reads them from the environment
# (`--so-pin env:NAME`), so no PIN appears in ps output.
need_tool pkcs11-tool "OpenSC, Debian package opensc"
need_tool jq "Debian package jq"
need_tool "$MPC_BACKUP" "mpc-backup"
[ "$DRY_RUN" = 1 ] || conf=$(realpath "$conf")
export SOFTHSM2_CONF=$conf
show_raw "export SOFTHSM2_CONF=$conf"

# Is there a token with this label already? (`token list` needs no PIN.)
existing=0 free_slot=
if [ "$DRY_RUN" = 0 ]; then
	inv=$("$MPC_BACKUP" token list --token "pkcs11:?module-path=$module" --json) ||
		die "mpc-backup token list failed on $module (its message is above)"
	existing=$(jq --arg l "$label" '[.[] | select(.initialized and .label == $l)] | length' <<<"$inv")
	free_slot=$(jq -r '[.[] | select(.initialized | not) | .slot] | first // empty' <<<"$inv")
fi
[ "$existing" -le 1 ] || die "$existing SoftHSM2 tokens are labelled '$label': which one is meant is unclear; relabel or remove the extra ones (softhsm2-util --delete-token)"

# The user PIN may be missing from a token whose making was interrupted: pkcs11-tool -L says.
pin_initialized() {
	pkcs11-tool --module "$module" -L 2>/dev/null | awk -v l="$label" '
		/^ *token label *:/ { sub(/^ *token label *: */, ""); cur = $0 }
		/^ *token flags *:/ && cur == l && /PIN initialized/ { ok = 1 }
		END { exit !ok }'
}

steps=()
if [ "$existing" = 1 ]; then
	say "token '$label' exists: reused (nothing in it is changed or regenerated)"
	steps+=("reused the existing SoftHSM2 token $label")
fi
if [ "$existing" = 0 ] || ! pin_initialized; then
	check_secret_file --so-pin-file "$so_pin_file"
	if [ "$existing" = 0 ]; then
		[ -n "$free_slot" ] || [ "$DRY_RUN" = 1 ] ||
			die "SoftHSM2 reports no free slot in $conf"
		# pkcs11-tool(1), OpenSC 0.23 (Debian 12 opensc; https://manpages.debian.org/bookworm/opensc/pkcs11-tool.1.en.html):
		# --init-token with --label and --so-pin; "If set to env:VARIABLE, the value of the
		# environment variable VARIABLE is used".
		show pkcs11-tool --module "$module" --slot "${free_slot:-FREE_SLOT}" --init-token \
			--label "$label" --so-pin env:MPC_CEREMONY_SO_PIN
		if [ "$DRY_RUN" = 0 ]; then
			MPC_CEREMONY_SO_PIN=$(read_secret "$so_pin_file") pkcs11-tool --module "$module" \
				--slot "$free_slot" --init-token --label "$label" \
				--so-pin env:MPC_CEREMONY_SO_PIN >/dev/null ||
				die "pkcs11-tool --init-token failed"
		fi
		steps+=("made the SoftHSM2 token $label in slot ${free_slot:-FREE_SLOT} (pkcs11-tool --init-token)")
	fi
	# Same page: --init-pin "Initializes the user PIN", logged in as SO, the new PIN by --new-pin.
	show pkcs11-tool --module "$module" --token-label "$label" --login --login-type so \
		--so-pin env:MPC_CEREMONY_SO_PIN --init-pin --new-pin env:MPC_CEREMONY_PIN
	if [ "$DRY_RUN" = 0 ]; then
		MPC_CEREMONY_SO_PIN=$(read_secret "$so_pin_file") \
			MPC_CEREMONY_PIN=$(read_secret "$pin_file") pkcs11-tool --module "$module" \
			--token-label "$label" --login --login-type so --so-pin env:MPC_CEREMONY_SO_PIN \
			--init-pin --new-pin env:MPC_CEREMONY_PIN >/dev/null ||
			die "pkcs11-tool --init-pin failed"
	fi
	steps+=("set the user PIN of $label (pkcs11-tool --init-pin)")
fi
if [ "$token_only" = 1 ]; then
	say "token '$label' ready (--token-only: no mpc-backup keys made, no audit record)"
	exit 0
fi
ceremony_init_and_audit "$(json_strings "${steps[@]}")" --token "pkcs11:token=$label?module-path=$module" \
	--pin-file "$pin_file"
