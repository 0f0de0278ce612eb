#!/usr/bin/env bash
# test_install.sh BUILD VERSION: `cmake --install` into a scratch root lays out everything an
# operator needs, the installed binary runs, the man pages render without groff warnings, the
# unit passes systemd-analyze verify and the completion passes shellcheck.
set -euo pipefail
build=$1 version=$2
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
fail() { echo "test_install: $*" >&2; exit 1; }

DESTDIR=$root cmake --install "$build" --prefix /usr >/dev/null
for f in usr/bin/mpc-backup usr/share/man/man1/mpc-backup.1 usr/share/man/man5/mpc-backup.conf.5 \
	 usr/lib/systemd/system/mpc-backup.service usr/lib/sysusers.d/mpc-backup.conf \
	 usr/share/doc/mpc-backup/examples/run.conf usr/share/mpc-backup/tokens/softhsm2/README.md \
	 usr/share/bash-completion/completions/mpc-backup; do
	[ -e "$root/$f" ] || fail "missing after cmake --install: /$f"
done
# The ceremony scripts are installed runnable, beside the library they source.
for v in softhsm2 yubihsm2 aws-cloudhsm gcp-cloud-hsm; do
	f=$root/usr/share/mpc-backup/tokens/$v/ceremony.sh
	[ -x "$f" ] || fail "missing or not executable after cmake --install: ${f#"$root"}"
	"$f" --help >/dev/null || fail "${f#"$root"} --help failed where it is installed"
done
got=$("$root/usr/bin/mpc-backup" --version)
[ "$got" = "mpc-backup $version" ] || fail "--version printed '$got', expected 'mpc-backup $version'"

for page in "$root"/usr/share/man/man1/mpc-backup.1 "$root"/usr/share/man/man5/mpc-backup.conf.5; do
	warnings=$(groff -man -ww -z "$page" 2>&1) || fail "groff failed on $page: $warnings"
	[ -z "$warnings" ] || fail "groff warnings in $page: $warnings"
done

# Every command the man page lists is one the binary knows, and every command the binary knows
# is in the man page.
cmds=$("$root/usr/bin/mpc-backup" --help | awk '/^  [a-z]/ {print $1}')
for c in $cmds; do
	grep -q "^\.BR* \"\?$c" "$root/usr/share/man/man1/mpc-backup.1" ||
		fail "command '$c' (mpc-backup --help) is not in mpc-backup(1)"
done

# Every option a command's --help lists is in the man page (written \-\-name there).
for c in "token list" "token init" "token show" register "node hello" backup restore \
	"store list" "contract status" run "import backup-cli" "import node-keys" drill \
	doctor; do
	# shellcheck disable=SC2086 # "store list" is two arguments
	opts=$("$root/usr/bin/mpc-backup" $c --help | grep -o -- '--[a-z][a-z0-9-]*' | sort -u)
	for o in $opts; do
		grep -qF -- "$(printf '%s' "$o" | sed 's/-/\\-/g')" "$root/usr/share/man/man1/mpc-backup.1" &&
			continue
		# run's options are the configuration keys: documented in mpc-backup.conf(5)
		[ "$c" = run ] && grep -q -- "$(printf '%s' "${o#--}" | sed 's/-/\\\\*_/g')" \
			"$root/usr/share/man/man5/mpc-backup.conf.5" && continue
		fail "option '$o' (mpc-backup $c --help) is not in mpc-backup(1) (nor, for run, its key in mpc-backup.conf(5))"
	done
done

unit=$root/verify/mpc-backup.service
mkdir -p "$root/verify"
sed "s|/usr/bin/mpc-backup|$root/usr/bin/mpc-backup|" \
	"$root/usr/lib/systemd/system/mpc-backup.service" >"$unit"
out=$(MANPATH=$root/usr/share/man systemd-analyze verify "$unit" 2>&1) ||
	fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify: $out"

shellcheck -s bash "$root/usr/share/bash-completion/completions/mpc-backup" ||
	fail "shellcheck found problems in the bash completion"
bash -c "source '$root/usr/share/bash-completion/completions/mpc-backup'; complete -p mpc-backup" \
	>/dev/null || fail "the completion does not register for mpc-backup"
