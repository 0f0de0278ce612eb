/* curve.h: the signature curves a keyset domain can use, and the largest public key of any.
 *
 * The bottom of the model layer: keyset.h and near_key.h both build on it, so neither needs the
 * other's header. No allocation, no I/O.
 */
#ifndef MPC_MODEL_CURVE_H
#define MPC_MODEL_CURVE_H

enum mpc_curve {
	MPC_CURVE_SECP256K1 = 1, /* pk: 64 bytes, x||y (the NEAR "secp256k1:" encoding) */
	MPC_CURVE_ED25519 = 2,   /* pk: 32 bytes, compressed Edwards point */
	MPC_CURVE_BLS12381 = 3,  /* pk: 96 bytes, compressed G2 point */
};

#define MPC_PK_MAX 96

/* Static curve name as the JSON variant spells it ("Secp256k1", "Ed25519", "Bls12381"). */
const char *mpc_curve_name(enum mpc_curve c);

#endif
