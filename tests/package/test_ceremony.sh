#!/usr/bin/env bash
# test_ceremony.sh SOURCE MPC_BACKUP: tokens/softhsm2/ceremony.sh against a fresh SoftHSM2
# directory, twice (the second run reuses the token and creates nothing), its audit record checked
# field by field against `mpc-backup token show` and pkcs11-tool; refusals (an exposed PIN file, a
# wrong PIN, an existing record) lose nothing; every vendor script's --dry-run prints its vendor
# commands and touches nothing.
set -euo pipefail
src=$(realpath "$1") bin=$(realpath "$2")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
	echo "test_ceremony: $*" >&2
	exit 1
}
module=${SOFTHSM2_MODULE:-/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so}
script=$src/tokens/softhsm2/ceremony.sh
cd "$tmp"
mkdir tokens out
sed -e "s|@TOKENDIR@|$tmp/tokens|" -e 's|@MECHANISMS@|ALL|' "$src/tokens/softhsm2/softhsm2.conf.in" \
	>softhsm2.conf
export SOFTHSM2_CONF=$tmp/softhsm2.conf
user_pin=cer-user-4711 so_pin=cer-so-pin-0815
printf '%s\n' "$user_pin" >pin
printf '%s\n' "$so_pin" >so
chmod 600 pin so
token_uri="pkcs11:token=mpc-backup?module-path=$module"
ceremony() { "$script" --pin-file pin --so-pin-file so --softhsm2-conf softhsm2.conf \
	--module "$module" --mpc-backup "$bin" "$@"; }
objects() { # the token's objects as pkcs11-tool (OpenSC, not mpc-backup) sees them
	MPC_T_PIN=$user_pin pkcs11-tool --module "$module" --token-label mpc-backup --login \
		--pin env:MPC_T_PIN -O 2>/dev/null | grep -c 'Object;'
}
no_secret() { # FILE...: no PIN anywhere in them
	! grep -qF -e "$user_pin" -e "$so_pin" "$@" || fail "a PIN appears in $*"
}

# --- first run: makes the token and the keys
ceremony --audit a1.json >run1.out 2>run1.err || { cat run1.err >&2; fail "first run failed"; }
no_secret run1.out run1.err a1.json
[ "$(stat -c %a a1.json)" = 644 ] || fail "audit record mode $(stat -c %a a1.json), expected 644"
show=$("$bin" token show --token "$token_uri" --pin-file pin --json)
jq -e --argjson s "$show" --arg v "$("$bin" --version)" '
	.record == "mpc-backup ceremony audit" and .profile == "softhsm2"
	and ("mpc-backup " + .mpc_backup_version) == $v
	and (.time_utc | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"))
	and .tokens == [$s.tokens[0] + {flags: .tokens[0].flags}]
	and .tokens[0].label == "mpc-backup" and (.tokens[0].serial | length) > 0
	and .tokens[0].manufacturer == "SoftHSM project" and .tokens[0].model == "SoftHSM v2"
	and .tokens[0].seal and .tokens[0].tls and .tokens[0].flags.login_required
	and .tokens[0].kind == "softhsm2" and .tokens[0].kind_detected
	and ([.tokens[0].mechanisms[]] | contains(["CKM_AES_GCM", "CKM_AES_CBC_PAD",
		"CKM_SHA256_HMAC", "CKM_EDDSA"]))
	and .tls_public_key == $s.tls_public_key and (.tls_public_key | startswith("ed25519:"))
	and [.keys[] | del(.created_now)] == [$s.keys[] | del(.created_now)]
	and ([.keys[] | [.label, .id, .class]] == [["mpc-backup-seal-gcm", "01", "secret"],
		["mpc-backup-seal-cbc", "02", "secret"], ["mpc-backup-seal-hmac", "03", "secret"],
		["mpc-backup-tls", "10", "private"], ["mpc-backup-tls", "10", "public"]])
	and all(.keys[]; .created_now) and (.created_now | length) == 5
	and all(.keys[] | select(.class != "public"); .attributes.sensitive
		and (.attributes.extractable | not) and .attributes.never_extractable)
	and (.vendor_steps | map(test("init-token")) | any)' a1.json >/dev/null ||
	fail "audit record of the first run does not match token show: $(cat a1.json)"
# The serial is the token's own, as OpenSC reads it.
serial=$(pkcs11-tool --module "$module" -L | awk '/token label *: mpc-backup *$/ {f=1} f && /serial num/ {print $NF; exit}')
[ "$(jq -r '.tokens[0].serial' a1.json)" = "$serial" ] || fail "serial differs from pkcs11-tool's $serial"
n1=$(objects) tokens1=$(find tokens -mindepth 1 -maxdepth 1 -type d | wc -l)
[ "$n1" = 5 ] || fail "the token holds $n1 objects after the first run, expected 5"

# --- second run: the same token and keys, nothing new
ceremony --out-dir out >run2.out 2>run2.err || { cat run2.err >&2; fail "second run failed"; }
no_secret run2.out run2.err out/*.json
a2=$(find out -name 'ceremony-softhsm2-*.json')
[ -n "$a2" ] || fail "the second run wrote no record into --out-dir"
jq -e --slurpfile a1 a1.json '
	.tokens[0].serial == $a1[0].tokens[0].serial and .tls_public_key == $a1[0].tls_public_key
	and [.keys[] | del(.created_now)] == [$a1[0].keys[] | del(.created_now)]
	and all(.keys[]; .created_now | not) and .created_now == []
	and (.vendor_steps | map(test("reused")) | any)' "$a2" >/dev/null ||
	fail "the second run is not idempotent: $(cat "$a2")"
[ "$(objects)" = "$n1" ] || fail "the second run changed the token's object count"
[ "$(find tokens -mindepth 1 -maxdepth 1 -type d | wc -l)" = "$tokens1" ] ||
	fail "the second run made another token"
grep -q "reused" run2.err || fail "the second run did not say it reused the token"

# --- refusals lose nothing
cp a1.json a1.keep
if ceremony --audit a1.json >/dev/null 2>err; then fail "an existing audit record was overwritten"; fi
cmp -s a1.json a1.keep || fail "an existing audit record changed"
grep -q "exists already" err || fail "no clear message for an existing record: $(cat err)"
chmod 644 pin
if ceremony --audit a3.json >/dev/null 2>err; then fail "a PIN file readable by others was used"; fi
grep -q "chmod go-rwx" err || fail "no fix given for an exposed PIN file: $(cat err)"
[ ! -e a3.json ] || fail "a record was written after a refusal"
chmod 600 pin
printf 'not-the-pin\n' >wrong
chmod 600 wrong
if "$script" --pin-file wrong --softhsm2-conf softhsm2.conf --module "$module" --mpc-backup "$bin" \
	--audit a4.json >/dev/null 2>err; then fail "a wrong PIN passed"; fi
grep -q "CKR_PIN_INCORRECT" err || fail "a wrong PIN not named: $(cat err)"
[ ! -e a4.json ] || fail "a record was written after a wrong PIN"
[ "$(objects)" = "$n1" ] || fail "a refused run changed the token"
[ -z "$(find . -maxdepth 1 -name '.ceremony-audit.*')" ] || fail "a temporary record was left behind"

# --- split tokens (what the CloudHSM and Cloud HSM scripts do with --tls-token): two tokens made
# by --token-only, a PIN each through pin-source=file:, one record naming both
printf 'cer-tls-pin-2\n' >tlspin
chmod 600 tlspin
for t in seal:pin tls:tlspin; do
	"$script" --token-only --label "${t%%:*}" --pin-file "${t#*:}" --so-pin-file so \
		--softhsm2-conf softhsm2.conf --module "$module" --mpc-backup "$bin" >/dev/null 2>err ||
		fail "--token-only ${t%%:*} failed: $(cat err)"
done
(
	# shellcheck source=tokens/ceremony-lib.sh
	. "$src/tokens/ceremony-lib.sh"
	CEREMONY_PROFILE=split MPC_BACKUP=$bin AUDIT_FILE=split.json
	ceremony_init_and_audit '["split"]' \
		--seal-token "$(pin_uri "pkcs11:token=seal?module-path=$module" pin)" \
		--tls-token "$(pin_uri "pkcs11:token=tls?module-path=$module" tlspin)"
) >/dev/null 2>err || fail "split-token ceremony failed: $(cat err)"
no_secret split.json err
grep -qF cer-tls-pin-2 split.json err && fail "the TLS token's PIN appears in the record"
jq -e '[.tokens[] | [.label, .seal, .tls]] == [["seal", true, false], ["tls", false, true]]
	and ([.keys[] | select(.token == "seal") | .label] | sort) ==
		["mpc-backup-seal-cbc", "mpc-backup-seal-gcm", "mpc-backup-seal-hmac"]
	and [.keys[] | select(.token == "tls") | .class] == ["private", "public"]
	and (.tokens | map(.serial) | unique | length) == 2
	and (.tokens[1].mechanisms | index("CKM_EDDSA")) != null' split.json >/dev/null ||
	fail "split-token record wrong: $(cat split.json)"

# --- every vendor script's --dry-run: prints the vendor commands, runs and writes nothing
dry() { # NAME EXPECTED-TEXT... -- ARGS...
	local name=$1 want=() out
	shift
	while [ "$1" != -- ]; do want+=("$1") && shift; done
	shift
	out=$("$src/tokens/$name/ceremony.sh" --dry-run --mpc-backup "$bin" --out-dir out "$@" \
		2>dry.err) || fail "$name --dry-run failed: $(cat dry.err)"
	for w in "${want[@]}" "mpc-backup token init"; do
		grep -qF -- "${w/mpc-backup /}" <<<"$out" || fail "$name --dry-run does not show '$w': $out"
	done
	no_secret dry.err <(printf '%s' "$out")
}
before=$(find . | sort)
dry softhsm2 "pkcs11-tool" "--init-token" "--init-pin" -- --label dry --pin-file pin \
	--so-pin-file so --softhsm2-conf softhsm2.conf --module "$module"
dry yubihsm2 "yubihsm-shell" "put authkey" "YUBIHSM_PKCS11_CONF" -- --admin-pin-file so \
	--pin-file pin --pkcs11-conf yh.conf
dry aws-cloudhsm "cloudhsm-cli user list" "user create" "--role crypto-user" -- \
	--admin-pin-file so --pin-file pin --tls-token "$token_uri" --tls-pin-file pin
dry gcp-cloud-hsm "gcloud kms keyrings describe" "gcloud kms keyrings create" \
	"KMS_PKCS11_CONFIG" -- --project p --location europe-west1 --key-ring mpc \
	--kmsp11-conf k.yaml --module /nonexistent/libkmsp11.so --pin-file pin --tls-token "$token_uri" \
	--tls-pin-file pin
rm -f dry.err
[ "$(find . | sort)" = "$before" ] || fail "a --dry-run wrote files: $(diff <(echo "$before") <(find . | sort))"
[ "$(objects)" = "$n1" ] || fail "a --dry-run changed the token"
echo "test_ceremony: ok (token $serial, $n1 objects, two runs, refusals and four dry runs)"
