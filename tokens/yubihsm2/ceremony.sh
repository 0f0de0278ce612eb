#!/usr/bin/env bash
# ceremony.sh (YubiHSM 2): give mpc-backup its own authentication key on the device (the PKCS#11
# user), then run the mpc-backup key ceremony through yubihsm_pkcs11.so and write an audit
# record. Non-interactive and idempotent: an authentication key with that id is kept as it is,
# keys already made are kept; passwords only from files, never on a command line.
# NOT RUN AGAINST A DEVICE HERE: written from Yubico's documents (cited at each command).
set -euo pipefail

CEREMONY_PROFILE=yubihsm2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tokens/ceremony-lib.sh
. "$here/../ceremony-lib.sh"

usage() {
	cat <<EOF
usage: $0 --admin-pin-file FILE --pin-file FILE --pkcs11-conf FILE [options]

  --admin-pin-file FILE  an authentication key allowed to put authentication keys, written as
                         the PKCS#11 PIN is: 4 hex digits of its id, then its password
                         (e.g. 0001...); used only to make mpc-backup's key
  --pin-file FILE        mpc-backup's PKCS#11 PIN: 4 hex digits (the id of the authentication
                         key this script makes, not 0001) then its password (8+ characters)
  --pkcs11-conf FILE     yubihsm_pkcs11.conf; written (connector = URL) when it does not exist
  --connector URL        the yubihsm-connector (default: http://127.0.0.1:12345)
  --domains LIST         the domains of mpc-backup's key and of what it makes (default: 1)
  --key-label LABEL      the authentication key's label (default: mpc-backup)
  --module PATH          yubihsm_pkcs11.so (default: Debian's yubihsm-pkcs11 path)
$COMMON_HELP
EOF
}

admin_pin_file='' pin_file='' conf='' connector=http://127.0.0.1:12345 domains=1
key_label=mpc-backup module=/usr/lib/x86_64-linux-gnu/pkcs11/yubihsm_pkcs11.so
while [ $# -gt 0 ]; do
	if common_opt "$@"; then
		shift "$COMMON_SHIFT"
		continue
	fi
	case "$1" in
	--admin-pin-file) need_arg "$1" "${2:-}" && admin_pin_file=$2 && shift ;;
	--pin-file) need_arg "$1" "${2:-}" && pin_file=$2 && shift ;;
	--pkcs11-conf) need_arg "$1" "${2:-}" && conf=$2 && shift ;;
	--connector) need_arg "$1" "${2:-}" && connector=$2 && shift ;;
	--domains) need_arg "$1" "${2:-}" && domains=$2 && shift ;;
	--key-label) need_arg "$1" "${2:-}" && key_label=$2 && shift ;;
	--module) need_arg "$1" "${2:-}" && module=$2 && shift ;;
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
[ -n "$conf" ] || die "--pkcs11-conf is required"
case "$domains" in '' | *[!0-9,]*) die "--domains '$domains': numbers 1-16, comma-separated" ;; esac
case "$key_label" in '' | *[!A-Za-z0-9._-]*) die "--key-label: letters, digits, . _ - only" ;; esac
need_tool yubihsm-shell "Yubico SDK, Debian package yubihsm-shell"
need_tool jq "Debian package jq"
need_tool "$MPC_BACKUP" "mpc-backup"
[ "$DRY_RUN" = 1 ] || [ -f "$module" ] || die "$module not found: install yubihsm-pkcs11 or give --module"

# The capabilities mpc-backup's authentication key needs (names as yubihsm-shell writes them;
# Yubico, "YubiHSM 2 Core Concepts" / Capability list,
# https://docs.yubico.com/hardware/yubihsm-2/hsm-2-user-guide/hsm2-core-concepts.html):
# make the CBC and HMAC sealing keys and the Ed25519 TLS key, use them, and draw IVs from the
# device's RNG. No export-wrapped, no delete: mpc-backup never exports or deletes a key.
caps=generate-symmetric-key,encrypt-cbc,decrypt-cbc,generate-hmac-key,sign-hmac,verify-hmac
caps=$caps,generate-asymmetric-key,sign-eddsa,get-pseudo-random
# What the keys it makes may do (delegated capabilities).
delegated=encrypt-cbc,decrypt-cbc,sign-hmac,verify-hmac,sign-eddsa

user_id=XXXX
if [ "$DRY_RUN" = 0 ]; then
	user_pin=$(read_secret "$pin_file")
	user_id=${user_pin:0:4}
	[ ${#user_id} -eq 4 ] || die "--pin-file: must start with the 4 hex digits of the authentication key id"
	case "$user_id" in *[!0-9a-fA-F]*) die "--pin-file: must start with the 4 hex digits of the authentication key id" ;; esac
	[ "$((16#$user_id))" -ne 1 ] || die "--pin-file: key id 0001 is the factory authentication key; give mpc-backup its own id"
	[ ${#user_pin} -ge 12 ] || die "--pin-file: the password after the id must be at least 8 characters (Yubico's PKCS#11 module requires it)"
	unset user_pin
fi

# yubihsm-shell's commands read from its standard input (interactive mode), so no password is
# on its command line. Yubico, "YubiHSM Command Reference"
# (https://docs.yubico.com/hardware/yubihsm-2/hsm-2-user-guide/hsm2-cmd-reference.html): `connect`,
# `session open <authkey> <password>`, `get objectinfo <session> <id> <type>`,
# `put authkey <session> <id> <label> <domains> <capabilities> <delegated> <password>`
# (https://developers.yubico.com/YubiHSM2/Commands/Put_Authentication_Key.html).
# yubihsm-shell's output as shown in an error: any line naming a command that carries a
# password is left out, in case the shell echoes its input.
shown() { printf '%s\n' "$1" | grep -v -i -e 'session open' -e 'put authkey' || true; }

shell_with_admin() { # COMMANDS (after the session is open) on stdin
	local admin
	admin=$(read_secret "$admin_pin_file")
	{
		printf 'connect\nsession open %d %s\n' "$((16#${admin:0:4}))" "${admin:4}"
		cat
		printf 'quit\n'
	} | yubihsm-shell --connector "$connector"
}

show_raw "yubihsm-shell --connector $connector <<< 'connect; session open ADMIN-ID (password from $admin_pin_file); get objectinfo 0 0x$user_id authentication-key'"
steps=()
present=0
if [ "$DRY_RUN" = 0 ]; then
	info=$(printf 'get objectinfo 0 %d authentication-key\n' "$((16#$user_id))" | shell_with_admin 2>&1) ||
		die "yubihsm-shell failed (connector $connector): $(shown "$info")"
	case "$info" in *"type: authentication-key"*) present=1 ;; esac
fi
if [ "$present" = 1 ]; then
	say "authentication key 0x$user_id exists: kept as it is (its capabilities are not changed)"
	steps+=("kept the existing authentication key 0x$user_id")
	# the object's own capabilities come before its delegated ones in get objectinfo's line
	caps_now=${info#*capabilities:}
	caps_now=${caps_now%%delegated*}
	for c in ${caps//,/ }; do
		case "$caps_now" in *"$c"*) ;; *) say "warning: key 0x$user_id may lack capability $c: token init may fail" ;; esac
	done
else
	show_raw "yubihsm-shell --connector $connector <<< 'put authkey 0 0x$user_id $key_label $domains $caps $delegated (password from $pin_file)'"
	if [ "$DRY_RUN" = 0 ]; then
		out=$(printf 'put authkey 0 %d %s %s %s %s %s\n' "$((16#$user_id))" "$key_label" \
			"$domains" "$caps" "$delegated" "$(read_secret "$pin_file" | cut -c5-)" |
			shell_with_admin 2>&1) || die "yubihsm-shell put authkey failed: $(shown "$out")"
		case "$out" in *"Stored Authentication key"*) ;; *) die "yubihsm-shell put authkey did not store the key: $(shown "$out")" ;; esac
	fi
	steps+=("put authentication key 0x$user_id ($key_label, domains $domains, capabilities $caps, delegated $delegated)")
fi

# Yubico, "PKCS#11 with YubiHSM 2" (https://developers.yubico.com/YubiHSM2/Component_Reference/PKCS_11/):
# the module reads yubihsm_pkcs11.conf named by YUBIHSM_PKCS11_CONF; `connector` is mandatory;
# the PIN is the authentication key id in 4 hex digits followed by its password.
if [ ! -e "$conf" ]; then
	show_raw "printf 'connector = %s\\n' '$connector' > $conf"
	if [ "$DRY_RUN" = 0 ]; then # whole or not at all: a cut-short file would be kept next time
		tmp=$(mktemp "$conf.XXXXXX")
		printf 'connector = %s\n' "$connector" >"$tmp"
		ln "$tmp" "$conf" || { rm -f "$tmp"; die "$conf appeared meanwhile: not overwritten"; }
		rm -f "$tmp"
	fi
	steps+=("wrote $conf (connector = $connector)")
elif ! grep -q '^[[:space:]]*connector[[:space:]]*=' "$conf"; then
	die "$conf has no 'connector = URL' line (Yubico's module requires one)"
fi
export YUBIHSM_PKCS11_CONF=$conf
show_raw "export YUBIHSM_PKCS11_CONF=$conf"
# The module's token label is always "YubiHSM" (tokens/yubihsm2/README.md).
ceremony_init_and_audit "$(json_strings "${steps[@]}")" \
	--token "pkcs11:token=YubiHSM?module-path=$module" --pin-file "$pin_file"
