#!/usr/bin/env bash
# test_deb.sh SRC BUILD VERSION: `dpkg-buildpackage -us -uc -b` builds a .deb from a copy of the
# tree (what git tracks, as a clean clone has it), lintian reports no errors, and the packaged
# binary runs from a scratch root.
set -euo pipefail
src=$1 build=$2 version=$3
work=$(mktemp -d "$build/deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "test_deb: $*" >&2; exit 1; }

mkdir "$work/mpc-backup"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
	git -C "$src" ls-files -z --cached --others --exclude-standard |
		(cd "$src" && tar -cf - --no-recursion --null -T -) | tar -xf - -C "$work/mpc-backup"
else
	tar -C "$src" --exclude='./build*' -cf - . | tar -xf - -C "$work/mpc-backup"
fi
(cd "$work/mpc-backup" && DEB_BUILD_OPTIONS="parallel=$(nproc) nocheck" \
	dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1) ||
	{ tail -40 "$work/build.log" >&2; fail "dpkg-buildpackage failed"; }
deb=$work/mpc-backup_${version}_$(dpkg --print-architecture).deb
[ -f "$deb" ] || fail "no $deb"
lint=$(lintian --allow-root --fail-on error "$work"/mpc-backup_*.changes 2>&1) ||
	fail "lintian: $lint"
dpkg -x "$deb" "$work/root"
got=$("$work/root/usr/bin/mpc-backup" --version)
[ "$got" = "mpc-backup $version" ] || fail "packaged --version printed '$got'"
deps=$(dpkg-deb -f "$deb" Depends)
for lib in libssl3 libcurl4 libjansson4 libp11-kit0 libmicrohttpd12; do
	case $deps in *"$lib"*) ;; *) fail "Depends lacks $lib: $deps" ;; esac
done
echo "test_deb: built $(basename "$deb"), lintian clean of errors, Depends: $deps"
