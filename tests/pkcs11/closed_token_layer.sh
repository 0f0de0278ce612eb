#!/bin/sh
# closed_token_layer.sh: a guard that the token layer stays closed (docs/design.md, "The token
# layer is closed"). Outside pkcs11/ (and the token layer's own tests and benchmarks,
# tests/pkcs11, bench/pkcs11, the URI parser's fuzz target, and tests/vendor, whose stand-in
# modules and checks speak Cryptoki to emulate vendor tokens) no code may include a p11-kit header or the layer's internal
# headers, name a Cryptoki type or constant (CK_*, CKR_*, CKA_*, ...), reach into a token's
# function list (->fn) or call a Cryptoki function (C_Xxx(...)). The public headers of pkcs11/
# themselves must not include p11-kit or name a Cryptoki type either. Comments and string
# literals may mention Cryptoki names (help text says "CKM_EDDSA"): comments are stripped by the
# C preprocessor (without expanding anything), and strings before the name checks.
#
# usage: closed_token_layer.sh SOURCE_DIR [C_COMPILER]
set -eu
src=${1:?source dir}
cc=${2:-cc}
cd "$src"

# The code of a C file with comments removed (includes and macros left as written).
code() {
	"$cc" -w -fpreprocessed -dD -E -P -x c "$1" || echo "cannot read $1: CK_UNREADABLE"
}
# The same with the contents of string literals removed.
code_nostr() {
	code "$1" | sed -E 's/"([^"\\]|\\.)*"/""/g'
}

fail=0
hits=$(mktemp)
trap 'rm -f "$hits"' EXIT
check() { # file, code|code_nostr, extended regex, what is wrong
	r=0
	"$2" "$1" | grep -nE -e "$3" >"$hits" || r=$?
	if [ "$r" -eq 0 ]; then
		echo "$1: $4:"
		sed 's/^/    /' "$hits"
		fail=1
	elif [ "$r" -ne 1 ]; then
		echo "$1: cannot check (grep exit $r)"
		fail=1
	fi
}

inc_internal='#[[:space:]]*include[[:space:]]*[<"](p11-kit/|pkcs11/internal\.h|pkcs11/provider/internal\.h)'
ck_names='\bCK[ROAKMFSUD]?_[A-Z0-9_]+'
function_list='->fn\b|\bC_[A-Z][A-Za-z]+[[:space:]]*\('

n=0
for f in $(find src tests bench -name '*.c' -o -name '*.h' | sort); do
	case "$f" in
	tests/pkcs11/* | bench/pkcs11/* | tests/vendor/* | tests/fuzz/fuzz_pkcs11_uri.c) continue ;;
	esac
	n=$((n + 1))
	check "$f" code "$inc_internal" "includes a Cryptoki or token-internal header"
	check "$f" code_nostr "$ck_names" "names a Cryptoki type or constant"
	check "$f" code_nostr "$function_list" "reaches into a token's function list"
done

# The token layer's public headers: what every other layer includes.
for f in pkcs11/*.h; do
	case "$f" in
	pkcs11/internal.h) continue ;;
	esac
	n=$((n + 1))
	check "$f" code "$inc_internal" "a public token-layer header includes a Cryptoki or internal header"
	check "$f" code_nostr "$ck_names" "a public token-layer header names a Cryptoki type"
done

if [ "$n" -lt 50 ]; then
	echo "only $n files checked: wrong source directory?"
	exit 1
fi
if [ "$fail" -ne 0 ]; then
	exit 1
fi
echo "$n files checked: the token layer is closed"
echo "1 passed, 0 failed"
