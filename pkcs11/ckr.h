/* ckr.h: turning a CK_RV into the project's error type.
 *
 * Every Cryptoki return value that is not CKR_OK goes through mpc_fail_ck(), which records the
 * Cryptoki name ("CKR_PIN_INCORRECT"), the operation ("C_Login") and the object ("token
 * mpc-backup") in one line, maps the value to an MPC_ERR_* class, and keeps the CK_RV in e->ckr.
 */
#ifndef MPC_PKCS11_CKR_H
#define MPC_PKCS11_CKR_H

#include <p11-kit/pkcs11.h>

#include "src/util/err.h"

/* Static name of a CK_RV, or "CKR_0x..." style text in buf for unknown values. */
const char *mpc_ckr_name(CK_RV rv);

/* The MPC_ERR_* class for a CK_RV (MPC_ERR_PIN for PIN errors, MPC_ERR_AUTH for failed
 * decryption or signature checks, MPC_ERR_PKCS11 otherwise). */
int mpc_ckr_class(CK_RV rv);

/* Record "<op> on <object> failed: <CKR name>" (+ detail) and return the mapped class. */
int mpc_fail_ck(struct mpc_err *e, CK_RV rv, const char *op, const char *object);

#endif
