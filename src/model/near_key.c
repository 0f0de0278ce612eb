/* near_key.c: "<curve>:<base58>" public keys. */
#include "src/model/near_key.h"

#include <string.h>

#include "src/util/encoding.h"

const char *mpc_near_key_prefix(enum mpc_curve c)
{
	switch (c) {
	case MPC_CURVE_SECP256K1:
		return "secp256k1:";
	case MPC_CURVE_ED25519:
		return "ed25519:";
	case MPC_CURVE_BLS12381:
		return "bls12381g2:";
	}
	return "?:";
}

size_t mpc_near_key_len(enum mpc_curve c)
{
	switch (c) {
	case MPC_CURVE_SECP256K1:
		return 64;
	case MPC_CURVE_ED25519:
		return 32;
	case MPC_CURVE_BLS12381:
		return 96;
	}
	return 0;
}

int mpc_near_key_parse(const char *s, enum mpc_curve curve, uint8_t out[MPC_PK_MAX],
		       const char *path, struct mpc_err *e)
{
	const char *prefix = mpc_near_key_prefix(curve);
	size_t pl = strlen(prefix), want = mpc_near_key_len(curve), n = 0;
	uint8_t tmp[MPC_PK_MAX];
	int rc;

	memset(out, 0, MPC_PK_MAX);
	if (s == NULL || strncmp(s, prefix, pl) != 0)
		return mpc_fail(e, MPC_ERR_PARSE, "%s: expected a \"%s<base58>\" key", path,
				prefix);
	rc = mpc_base58_decode(s + pl, strlen(s + pl), tmp, sizeof(tmp), &n, path, e);
	if (rc != MPC_OK) {
		if (e != NULL)
			e->code = MPC_ERR_PARSE; /* an over-long key is malformed input */
		return MPC_ERR_PARSE;
	}
	if (n != want)
		return mpc_fail(e, MPC_ERR_PARSE, "%s: a %s key is %zu bytes, this one is %zu",
				path, mpc_curve_name(curve), want, n);
	memcpy(out, tmp, n);
	return MPC_OK;
}

int mpc_near_key_format(enum mpc_curve curve, const uint8_t *pk, size_t pk_len,
			char out[MPC_NEAR_KEY_STR_MAX], struct mpc_err *e)
{
	const char *prefix = mpc_near_key_prefix(curve);
	size_t pl = strlen(prefix);

	memcpy(out, prefix, pl + 1);
	return mpc_base58_encode(pk, pk_len, out + pl, MPC_NEAR_KEY_STR_MAX - pl, e);
}
