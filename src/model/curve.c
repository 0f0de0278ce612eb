/* curve.c: curve names as the contract's JSON spells them. */
#include "src/model/curve.h"

const char *mpc_curve_name(enum mpc_curve c)
{
	switch (c) {
	case MPC_CURVE_SECP256K1:
		return "Secp256k1";
	case MPC_CURVE_ED25519:
		return "Ed25519";
	case MPC_CURVE_BLS12381:
		return "Bls12381";
	}
	return "unknown";
}
