#!/usr/bin/env bash
# operations_commands.sh: every `mpc-backup ...` command in docs/operations.md's code blocks
# follows the code and is run by a test or by scripts/demo (issue 12's last line).
#
# The runbook's commands are synopses (DIR, URI, [optional] parts), not literal lines to run,
# so running them verbatim would prove nothing. The check, for each one (its doc line given in
# every report), is instead:
#   1. the code: `mpc-backup SUBCOMMAND --help` exits 0 and lists every option the line uses
#      (a renamed or dropped option, or a command that does not exist, fails here);
#   2. the tests: some test (tests/**/*.c, tests/**/*.sh) or scripts/demo runs the subcommand
#      with all of the line's required options (those outside [...]) in one invocation, and
#      each optional option in at least one invocation of that subcommand. An invocation is one
#      C statement (the words of its string literals, in order: the argv of ch_run, an args
#      array, a snprintf'd command line) or one shell command line; the subcommand's words
#      must be adjacent in it. Those tests run the commands against a real SoftHSM2 token,
#      fake-node and fake-rpc, so a covered line is one a test really ran in that form.
# A statement whose literals say "mpc-backup SUBCOMMAND" is text about the command (a message a
# test expects), not a run, and does not count. What this cannot see: a C statement that holds
# the subcommand and options in a literal without running them (an expected help text without
# the "mpc-backup" word) would count; none does today. Prose mentions (`mpc-backup run` in a
# sentence) are not commands and are not checked.
# Commands other sections add later (doctor, ceremony, ...) are picked up the same way; an
# uncovered one is reported as "docs/operations.md:LINE: ..." and fails the test. VERBOSE=1 also
# prints, for each covered line, one invocation that covers it.
#
# Usage: operations_commands.sh SOURCE_DIR MPC_BACKUP_BINARY
set -euo pipefail
src=$1
bin=$2
doc=$src/docs/operations.md
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# --- the commands: code lines (indented 4+ or inside ``` fences) running mpc-backup --------
# A command is "mpc-backup WORD" where WORD is one of the program's commands (from its --help;
# so `sudo -u mpc-backup mpc-backup run` is found, `systemctl status mpc-backup` is not), or a
# line that starts with "mpc-backup WORD" after environment assignments (so a documented command
# the program lacks is reported). One output line per command: LINE<TAB>the command,
# continuation lines joined, the text before "mpc-backup" dropped.
known=$("$bin" --help 2>&1 | awk '/^  [a-z][a-z0-9-]* / { printf "%s ", $1 }')
if [ -z "$known" ]; then
	echo "operations_commands: \`$bin --help\` lists no commands" >&2
	exit 1
fi
awk -v known="$known" '
	BEGIN { nk = split(known, cmds, " ") }
	/^```/ { fenced = !fenced; pending_flush(); next }
	function pending_flush() { if (cmd != "") print start "\t" cmd; cmd = ""; cont = 0 }
	{
		code = fenced || $0 ~ /^    /
		if (!code) { pending_flush(); next }
		line = $0
		if (cmd != "" && (cont || line ~ /^[ \t]+(\[|--)/) && line !~ /mpc-backup /) {
			sub(/^[ \t]+/, "", line)
			cont = sub(/[ \t]*\\$/, "", line)
			cmd = cmd " " line
			next
		}
		pending_flush()
		i = 0
		for (k = 1; k <= nk; k++)
			if (match(line, "(^|[ \t])mpc-backup " cmds[k] "([ \t]|$)") &&
			    (i == 0 || RSTART < i))
				i = RSTART
		if (i > 0)
			i += substr(line, i, 1) != "m"
		else if (line ~ /^[ \t]*([A-Za-z_][A-Za-z0-9_]*=[^ \t]*[ \t]+)*mpc-backup [a-z]/)
			i = index(line, "mpc-backup ")
		if (i == 0) next
		line = substr(line, i)
		start = NR
		cont = sub(/[ \t]*\\$/, "", line)
		cmd = line
	}
	END { pending_flush() }
' "$doc" >"$work/commands"

if [ ! -s "$work/commands" ]; then
	echo "operations_commands: no mpc-backup command found in $doc (extraction broken?)" >&2
	exit 1
fi

# --- the invocations in the tests and the demo: one per line, words separated by spaces ----
# C: the string literals of each statement (split at ';' outside literals), their words in
# order; quotes around a word (a '%s' URI) dropped. Shell: each command line.
{
	(cd "$src" && find tests/ -path tests/fixtures -prune -o -type f -name '*.c' -print) |
		sort | while read -r f; do
		awk -v F="$f" '
			{ text = text $0 "\n" }
			END {
				n = length(text); inlit = 0; lit = ""; words = ""; line = 1; sline = 1
				for (i = 1; i <= n; i++) {
					ch = substr(text, i, 1)
					if (ch == "\n") line++
					if (inlit) {
						if (ch == "\\") { lit = lit substr(text, i + 1, 1); i++; continue }
						if (ch == "\"") { inlit = 0; words = words " " lit; lit = ""; continue }
						lit = lit ch
						continue
					}
					if (ch == "\"") { inlit = 1; continue }
					if (ch == ";") {
						if (words ~ /--|mpc-backup|[a-z] [a-z]/) emit(words)
						words = ""; sline = line
					}
				}
			}
			function emit(w) {
				gsub(/[\047\t\n]/, " ", w); gsub(/\\n/, " ", w); gsub(/  +/, " ", w)
				print F ":" sline "\t " w " "
			}
		' "$src/$f"
	done
	(cd "$src" && find tests/ -path tests/fixtures -prune -o -type f -name '*.sh' -print) |
		sort >"$work/shell-files"
	echo "scripts/demo" >>"$work/shell-files"
	while read -r f; do
		awk -v F="$f" '
			{
				l = $0
				if (acc == "") start = NR
				if (sub(/\\$/, "", l)) { acc = acc " " l; next }
				acc = acc " " l
				gsub(/["\047\t]/, " ", acc); gsub(/  +/, " ", acc)
				print F ":" start "\t " acc " "
				acc = ""
			}
		' "$src/$f"
	done <"$work/shell-files"
} >"$work/invocations"

# --- check each command --------------------------------------------------------------------
fail=0
report() {
	echo "docs/operations.md:$1: \`$2\`: $3"
	fail=1
}
while IFS=$'\t' read -r line cmd; do
	# words after "mpc-backup": the subcommand (leading lowercase words), then the rest
	read -r -a words <<<"${cmd#mpc-backup }"
	sub=()
	for w in "${words[@]}"; do
		[[ $w =~ ^[a-z][a-z0-9-]*$ ]] || break
		sub+=("$w")
	done
	if [ ${#sub[@]} -eq 0 ]; then
		report "$line" "$cmd" "no subcommand"
		continue
	fi
	# required options (outside [...]) and optional ones
	required=() optional=() depth=0
	for w in "${words[@]:${#sub[@]}}"; do
		opt=${w//[\[\]]/}
		opens=${w//[^\[]/} closes=${w//[^\]]/}
		depth=$((depth + ${#opens}))
		if [[ $opt =~ ^--[a-z][a-z0-9-]*(=.*)?$ ]]; then
			opt=${opt%%=*}
			if [ $depth -gt 0 ]; then optional+=("$opt"); else required+=("$opt"); fi
		fi
		depth=$((depth - ${#closes}))
	done
	# 1. the code: the subcommand exists and its --help lists each option
	help=$("$bin" "${sub[@]}" --help 2>&1) || {
		report "$line" "$cmd" "\`mpc-backup ${sub[*]} --help\` fails: no such command?"
		continue
	}
	# a group command's help (token, store) may say "usage: mpc-backup token init ..."; the
	# subcommand word itself must appear in a usage line
	if ! grep -q -- "mpc-backup ${sub[*]}" <<<"$help"; then
		report "$line" "$cmd" "\`mpc-backup ${sub[*]} --help\` does not show that command"
	fi
	for o in "${required[@]}" "${optional[@]}"; do
		grep -q -e "$o\\b" <<<"$help" ||
			report "$line" "$cmd" "$o is not an option of \`mpc-backup ${sub[*]}\` (its --help)"
	done
	# 2. the tests: invocations of the subcommand (its words adjacent)
	# ("mpc-backup SUB" in a literal is text about the command, a message a test expects,
	# not a run of it: those statements do not count)
	grep -F -- " ${sub[*]} " "$work/invocations" | grep -v -F -- "mpc-backup ${sub[*]} " \
		>"$work/hits" || true
	if [ ! -s "$work/hits" ]; then
		report "$line" "$cmd" "no test or scripts/demo runs \`mpc-backup ${sub[*]}\`"
		continue
	fi
	cp "$work/hits" "$work/req"
	for o in "${required[@]}"; do
		grep -E -- " $o( |=)" "$work/req" >"$work/req2" || true
		mv "$work/req2" "$work/req"
	done
	if [ ! -s "$work/req" ]; then
		report "$line" "$cmd" "no test runs \`mpc-backup ${sub[*]}\` with all of ${required[*]}"
	fi
	for o in "${optional[@]}"; do
		grep -q -E -- " $o( |=)" "$work/hits" ||
			report "$line" "$cmd" "no test runs \`mpc-backup ${sub[*]}\` with $o"
	done
	if [ -n "${VERBOSE:-}" ]; then
		echo "docs/operations.md:$line: ${sub[*]}: covered by $(head -n1 "$work/req" | cut -f1)"
	fi
done <"$work/commands"

n=$(wc -l <"$work/commands")
if [ $fail -ne 0 ]; then
	echo "operations_commands: some of the $n commands in docs/operations.md are not" \
		"exercised as written (above)" >&2
	exit 1
fi
echo "operations_commands: all $n commands in docs/operations.md follow the code and are run by tests"
