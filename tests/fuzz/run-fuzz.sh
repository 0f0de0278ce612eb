#!/usr/bin/env bash
# run-fuzz.sh: the ctest label `fuzz` (tests/fuzz/CMakeLists.txt, README.md).
#   run-fuzz.sh build SOURCE_DIR TREE          configure and build the clang tree TREE (reused)
#   run-fuzz.sh run TREE TARGET CORPUS SECONDS replay CORPUS, then fuzz new inputs for SECONDS
# Fails loudly (never skips) when clang or libFuzzer is missing: scripts/bootstrap installs them.
# New inputs go to TREE/fuzz-work/TARGET (the committed corpus is only read); a crash leaves its
# input in TREE/fuzz-artifacts/TARGET/ and the test fails.
set -euo pipefail

die() { echo "run-fuzz: $*" >&2; exit 1; }

case "${1:-}" in
build)
	[ $# -eq 3 ] || die "usage: run-fuzz.sh build SOURCE_DIR TREE"
	src=$2 tree=$3
	cc=${MPC_FUZZ_CC:-clang}
	command -v "$cc" >/dev/null 2>&1 ||
		die "FAIL: $cc not found; the fuzz targets need clang and libFuzzer (run scripts/bootstrap)"
	probe=$(mktemp -d)
	trap 'rm -rf "$probe"' EXIT
	printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);\n%s\n' \
		'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; return (int)(n & 0); }' \
		>"$probe/probe.c"
	"$cc" -fsanitize=fuzzer,address,undefined "$probe/probe.c" -o "$probe/probe" 2>"$probe/err" ||
		die "FAIL: $cc cannot link -fsanitize=fuzzer (libFuzzer runtime missing? run scripts/bootstrap):
$(cat "$probe/err")"
	flags="-O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined"
	flags="$flags -fno-sanitize-recover=all"
	if [ ! -f "$tree/CMakeCache.txt" ]; then
		cmake -S "$src" -B "$tree" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Debug \
			-DCMAKE_C_FLAGS="$flags" -DMPC_FUZZ=ON -DMPC_WERROR=OFF -DMPC_SANITIZE=OFF \
			>"$tree.configure.log" 2>&1 ||
			{ cat "$tree.configure.log" >&2; die "FAIL: configuring $tree"; }
	fi
	cmake --build "$tree" --target fuzz_all -j "${MPC_FUZZ_JOBS:-2}"
	;;
run)
	[ $# -eq 5 ] || die "usage: run-fuzz.sh run TREE TARGET CORPUS SECONDS"
	tree=$2 target=$3 corpus=$4 secs=$5
	here=$(cd "$(dirname "$0")" && pwd)
	bin="$tree/tests/fuzz/$target"
	[ -x "$bin" ] || die "FAIL: $bin not built (did fuzz_build pass?)"
	[ -d "$corpus" ] && [ -n "$(ls -A "$corpus")" ] || die "FAIL: no seed corpus in $corpus"
	work="$tree/fuzz-work/$target" art="$tree/fuzz-artifacts/$target/"
	rm -rf "$work"
	mkdir -p "$work" "$art"
	export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:${ASAN_OPTIONS:-}"
	export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
	export LSAN_OPTIONS="suppressions=$here/../lsan.supp:print_suppressions=0:${LSAN_OPTIONS:-}"
	# -max_total_time covers the replay of the corpus and the new inputs together.
	set +e
	# A fixed seed (MPC_FUZZ_SEED to vary it) keeps a CI run reproducible: the same new inputs in
	# the same order, so a failure is a finding to replay, never a roll of the dice.
	"$bin" -seed="${MPC_FUZZ_SEED:-1}" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$art" "$work" "$corpus" 2>&1 | grep -v '^#[0-9]*	\(NEW\|REDUCE\|pulse\)'
	rc=${PIPESTATUS[0]}
	set -e
	[ "$rc" -eq 0 ] || die "FAIL: $target exited $rc; the input is in $art (replay: $bin FILE)"
	echo "run-fuzz: $target: corpus replayed and fuzzed ${secs}s, no finding"
	;;
*)
	die "usage: run-fuzz.sh build SOURCE_DIR TREE | run TREE TARGET CORPUS SECONDS"
	;;
esac
