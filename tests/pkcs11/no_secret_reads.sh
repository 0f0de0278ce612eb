#!/bin/sh
# no_secret_reads.sh: a guard that no code path reads a key's value out of the token. The only
# CKA_VALUEs in the tree are the templates that import the node's transport key and an old
# backup-cli Ed25519 TLS key (writes).
set -eu
src=${1:?source dir}
hits=$(grep -rn --include='*.c' --include='*.h' -E 'CKA_VALUE([^_A-Z]|$)' "$src/pkcs11" "$src/src" |
  grep -v 'pkcs11/keys.c:.*{ CKA_VALUE, (void \*)key, 32 }' |
  grep -v 'pkcs11/import_ed25519.c:.*{ CKA_VALUE, (void \*)seed, 32 }' | grep -Ev '^[^:]+:[0-9]+:[[:space:]]*(/?\*|//)' || true)
if [ -n "$hits" ]; then
  echo "CKA_VALUE used outside the key import templates:"; echo "$hits"; exit 1
fi
if grep -rn 'C_GetAttributeValue' "$src/pkcs11/provider"; then
  echo "the OpenSSL provider must not read attributes"; exit 1
fi
echo "1 passed, 0 failed"
