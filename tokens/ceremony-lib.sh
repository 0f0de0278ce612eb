# ceremony-lib.sh: what the tokens/<vendor>/ceremony.sh scripts share: option helpers, PIN files
# read without ever putting a secret on a command line, --dry-run, and the audit record.
# Sourced, not run. Needs bash, jq and mpc-backup.
# shellcheck shell=bash disable=SC2034 # COMMON_SHIFT and COMMON_HELP are read by the sourcing script

# Set by the sourcing script before calling anything here.
CEREMONY_PROFILE=${CEREMONY_PROFILE:-unknown}
DRY_RUN=0
MPC_BACKUP=${MPC_BACKUP:-mpc-backup}
AUDIT_FILE=
OUT_DIR=.

say() { printf '%s: %s\n' "ceremony-$CEREMONY_PROFILE" "$*" >&2; }
die() {
	say "error: $*"
	exit 1
}

# need_arg OPTION VALUE: refuse an option given without its value.
need_arg() { [ -n "${2:-}" ] || die "$1 needs a value"; }

# Parse the options every script takes; returns 0 when $1 was one of them (the caller shifts
# by COMMON_SHIFT), 1 otherwise.
COMMON_SHIFT=0
common_opt() {
	COMMON_SHIFT=2
	case "$1" in
	--dry-run) DRY_RUN=1 COMMON_SHIFT=1 ;;
	--mpc-backup) need_arg "$1" "${2:-}" && MPC_BACKUP=$2 ;;
	--audit) need_arg "$1" "${2:-}" && AUDIT_FILE=$2 ;;
	--out-dir) need_arg "$1" "${2:-}" && OUT_DIR=$2 ;;
	*) return 1 ;;
	esac
	return 0
}

COMMON_HELP='  --mpc-backup PATH   the mpc-backup binary (default: mpc-backup on PATH)
  --audit FILE        write the audit record there (never overwritten)
  --out-dir DIR       or into DIR as ceremony-PROFILE-YYYYmmddTHHMMSSZ.json (default: .)
  --dry-run           print the vendor and mpc-backup commands instead of running them'

# need_tool NAME WHAT: a tool the ceremony runs must exist; in --dry-run only say so.
need_tool() {
	if command -v "$1" >/dev/null 2>&1; then
		return 0
	fi
	if [ "$DRY_RUN" = 1 ]; then
		say "note: $1 ($2) is not installed here; a real run needs it"
		return 0
	fi
	die "$1 ($2) not found: install it (see tokens/$CEREMONY_PROFILE/README.md) or put it on PATH"
}

# need_file NAME FILE: FILE must exist (not checked in --dry-run).
need_file() {
	[ -n "$2" ] || die "$1 is required"
	[ "$DRY_RUN" = 1 ] && return 0
	[ -f "$2" ] || die "$1 $2: no such file"
}

# check_secret_file OPTION FILE: a file holding a secret is a regular file that only its owner
# can read, as mpc-backup requires of PIN files (docs/operations.md).
check_secret_file() {
	local mode
	need_file "$1" "$2"
	[ "$DRY_RUN" = 1 ] && return 0
	[ ! -L "$2" ] || die "$1 $2: is a symbolic link; give its real path"
	mode=$(stat -c %a "$2")
	case "$mode" in
	[0-7]00) ;;
	*) die "$1 $2: mode $mode gives group or others access; fix with chmod go-rwx $2" ;;
	esac
}

# read_secret FILE: print the first line of FILE without its newline (into a $(...) only,
# never onto a command line).
read_secret() {
	local s=
	IFS= read -r s <"$1" || [ -n "$s" ] || die "$1: empty"
	[ -n "$s" ] || die "$1: empty first line"
	printf '%s' "$s"
}

# show CMD...: how a command is shown, quoted for a shell, in --dry-run (on stdout) and before it
# runs (on stderr). Never a secret: secrets go through environment variables named env:...,
# standard input, or files.
show() {
	local a line='+'
	for a in "$@"; do
		case "$a" in
		'' | *[!A-Za-z0-9_./:=,@%+-]*) line+=" '${a//\'/\'\\\'\'}'" ;;
		*) line+=" $a" ;;
		esac
	done
	show_raw "${line#+ }"
}

# show_raw TEXT: a step that is not one command line (input on stdin, a file written).
show_raw() {
	if [ "$DRY_RUN" = 1 ]; then
		printf '+ %s\n' "$1"
	else
		printf '+ %s\n' "$1" >&2
	fi
}

# run CMD...: show it, and run it unless --dry-run.
run() {
	show "$@"
	[ "$DRY_RUN" = 1 ] || "$@"
}

# json_strings STRING...: a JSON array of the strings (for the audit record's vendor steps).
json_strings() {
	local sep='' s out='['
	for s in "$@"; do
		s=${s//\\/\\\\}
		out+="$sep\"${s//\"/\\\"}\""
		sep=,
	done
	printf '%s]' "$out"
}

# mpc_backup_json ARGS...: run mpc-backup with --json; its output on stdout. Not in --dry-run.
mpc_backup_json() {
	"$MPC_BACKUP" "$@" --json
}

# audit_path: the audit record's file name: --audit, or a new name in --out-dir (a second run in
# the same second gets -2, -3, ...).
audit_path() {
	local base n=1 p
	if [ -n "$AUDIT_FILE" ]; then
		printf '%s' "$AUDIT_FILE"
		return
	fi
	base=$OUT_DIR/ceremony-$CEREMONY_PROFILE-$(date -u +%Y%m%dT%H%M%SZ)
	p=$base.json
	while [ -e "$p" ] && [ "$n" -lt 100 ]; do
		n=$((n + 1))
		p=$base-$n.json
	done
	printf '%s' "$p"
}

# ceremony_init_and_audit STEPS_JSON TOKEN-ARGS...: `mpc-backup token init` with TOKEN-ARGS
# (--token/--tls-token/--seal-token/--pin-file), then `token show` and `token list` to read back
# what is in the token(s), and the audit record written from them: the tokens (label, serial,
# manufacturer, model, module, role, mechanisms, the vendor kind whose rules applied and whether
# it was detected), every key with its id and attributes and
# whether this run created it, the TLS public key, the vendor steps (STEPS_JSON, an array of
# strings), the UTC time and mpc-backup's version. The record holds no secret: 0644.
ceremony_init_and_audit() {
	local steps=$1 init show list=[] one uri version out tmp dir
	shift
	out=$(audit_path)
	show "$MPC_BACKUP" token init "$@" --json
	show "$MPC_BACKUP" token show "$@" --json
	while IFS= read -r uri; do
		show "$MPC_BACKUP" token list --token "$uri" --json
	done < <(token_uris "$@")
	if [ "$DRY_RUN" = 1 ]; then
		say "dry run: would write the audit record to $out"
		return 0
	fi
	dir=$(dirname "$out")
	[ -d "$dir" ] || die "audit directory $dir does not exist"
	[ ! -e "$out" ] || die "audit record $out exists already; give another --audit"
	init=$(mpc_backup_json token init "$@") || die "mpc-backup token init failed (its message is above)"
	show=$(mpc_backup_json token show "$@") || die "mpc-backup token show failed after init"
	while IFS= read -r uri; do
		one=$(mpc_backup_json token list --token "$uri") ||
			die "mpc-backup token list failed after init"
		list=$(jq -n --argjson a "$list" --argjson b "$one" '$a + $b')
	done < <(token_uris "$@")
	version=$("$MPC_BACKUP" --version)
	# The keys token show reads back must be the ones init reported, one for one.
	jq -en --argjson a "$init" --argjson b "$show" \
		'[$a.keys[] | del(.created_now)] == [$b.keys[] | del(.created_now)]
		 and $a.tls_public_key == $b.tls_public_key' >/dev/null ||
		die "token show does not read back what token init reported"
	tmp=$(mktemp "$dir/.ceremony-audit.XXXXXX")
	# shellcheck disable=SC2064 # expand now: the name is fixed
	trap "rm -f '$tmp'" EXIT
	jq -n --argjson init "$init" --argjson show "$show" --argjson list "$list" \
		--argjson steps "$steps" --arg profile "$CEREMONY_PROFILE" --arg version "$version" \
		--arg time "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg host "$(uname -n)" '
	{
		record: "mpc-backup ceremony audit",
		format: 1,
		time_utc: $time,
		host: $host,
		profile: $profile,
		mpc_backup_version: ($version | sub("^mpc-backup "; "")),
		vendor_steps: $steps,
		tokens: [$show.tokens[] as $t | $t + {
			flags: ([$list[] | select(.module == $t.module and .serial == $t.serial
						  and .label == $t.label)
				 | {login_required, user_pin_locked, user_pin_final_try,
				    user_pin_count_low}] | first // null)
		}],
		tls_public_key: $show.tls_public_key,
		keys: [$init.keys[] | {token: .token, label: .label, id: .id, class: .class,
					 created_now: .created_now, attributes: .attributes}],
		created_now: [$init.keys[] | select(.created_now) | "\(.label) (\(.class))"]
	}' >"$tmp"
	chmod 0644 "$tmp"
	# ln refuses an existing name: a record written meanwhile is never replaced
	ln "$tmp" "$out" || die "audit record $out exists already"
	rm -f "$tmp"
	trap - EXIT
	say "audit record: $out"
	jq -r '"token \(.tokens[] | "\(.label) serial \(.serial) (\(.manufacturer) \(.model))")"' "$out" >&2
	jq -r '"TLS public key: \(.tls_public_key)", "created now: \(.created_now | if length == 0 then "nothing (all keys were there)" else join(", ") end)"' "$out" >&2
}

# pin_uri URI FILE: URI with pin-source=file:FILE (so split tokens can have a PIN each:
# --pin-file would give both the same one).
pin_uri() {
	local f=$2
	[ "$DRY_RUN" = 1 ] || f=$(realpath "$f")
	case "$1" in
	*pin-source=*) printf '%s' "$1" ;;
	*\?*) printf '%s&pin-source=file:%s' "$1" "$f" ;;
	*) printf '%s?pin-source=file:%s' "$1" "$f" ;;
	esac
}

# token_uris TOKEN-ARGS...: each token URI given (--token, --seal-token, --tls-token), a line each.
token_uris() {
	while [ $# -gt 0 ]; do
		case "$1" in
		--token | --seal-token | --tls-token) printf '%s\n' "$2" ;;
		esac
		shift
	done
}
