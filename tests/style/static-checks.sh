#!/usr/bin/env bash
# static-checks.sh tidy|cppcheck|format SRC BUILD: one static check over the product code
# (src/ and pkcs11/), zero findings required. Suppressions live in .clang-tidy (each with its
# reason) and in tests/style/cppcheck.supp (each with its reason); nothing is suppressed inline
# without a comment saying why.
set -euo pipefail
what=$1 src=$2 build=$3
cd "$src"
mapfile -t sources < <(git ls-files 'src/*.c' 'pkcs11/*.c' 2>/dev/null || find src pkcs11 -name '*.c')
mapfile -t all < <(git ls-files 'src/*.[ch]' 'pkcs11/*.[ch]' 2>/dev/null ||
	find src pkcs11 -name '*.[ch]')
need() { command -v "$1" >/dev/null || { echo "static-checks: $1 is not installed (scripts/bootstrap installs it)" >&2; exit 1; }; }
case $what in
tidy)
	need clang-tidy
	[ -f "$build/compile_commands.json" ] || { echo "static-checks: no $build/compile_commands.json" >&2; exit 1; }
	out=$(printf '%s\0' "${sources[@]}" |
		xargs -0 -n 8 -P "$(nproc)" clang-tidy -p "$build" --quiet --extra-arg=-DMPC_STATIC_ANALYSIS 2>/dev/null || true)
	findings=$(printf '%s\n' "$out" | grep -E '(warning|error):' || true)
	;;
cppcheck)
	need cppcheck
	findings=$(cppcheck --quiet --enable=warning,portability,performance --std=c11 \
		--inline-suppr --suppressions-list=tests/style/cppcheck.supp -D_GNU_SOURCE \
		-I . --error-exitcode=0 --template='{file}:{line}: {severity}: {message} [{id}]' \
		-j "$(nproc)" "${sources[@]}" 2>&1 || true)
	;;
format)
	need clang-format
	findings=$(for f in "${all[@]}"; do
		clang-format --dry-run "$f" 2>&1 | grep -m1 -E 'warning|error' || true
	done)
	;;
*) echo "usage: static-checks.sh tidy|cppcheck|format SRC BUILD" >&2; exit 2 ;;
esac
if [ -n "$findings" ]; then
	printf '%s\n' "$findings"
	echo "static-checks $what: $(printf '%s\n' "$findings" | wc -l) finding(s)" >&2
	exit 1
fi
echo "static-checks $what: no findings in ${#sources[@]} files"
