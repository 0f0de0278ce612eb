/* inventory.h: what modules, slots and tokens are there and what each token can do, for
 * `mpc-backup token list`. No login is needed.
 */
#ifndef MPC_PKCS11_INVENTORY_H
#define MPC_PKCS11_INVENTORY_H

#include <stddef.h>

#include "pkcs11/module.h"

struct mpc_slot_report {
	const char *module; /* borrowed from the context */
	unsigned long slot;
	char label[33], serial[17], manufacturer[33], model[17];
	int token_initialized, login_required, user_pin_initialized;
	int user_pin_locked, user_pin_final_try, user_pin_count_low;
	int eddsa;    /* CKM_EC_EDWARDS_KEY_PAIR_GEN and CKM_EDDSA */
	int aes_gcm;  /* CKM_AES_GCM encrypt+decrypt */
	int cbc_hmac; /* CKM_AES_CBC_PAD and CKM_SHA256_HMAC */
	/* the RFC 7512 URI that names exactly this token (model, manufacturer, serial, token,
	 * slot-id if another slot of the module shows the same four, and module-name= or
	 * module-path=): given back as --token it opens this token */
	char uri[1024];
};

/* Load the module named by `uri` (module-path= or module-name=), or every p11-kit registered
 * module when uri is NULL or names none, and report every slot with a token. *out is a
 * malloc()ed array of *n entries (free()). */
int mpc_p11_inventory(struct mpc_p11_ctx *ctx, const char *uri, struct mpc_slot_report **out,
		      size_t *n, struct mpc_err *e);

/* The names ("CKM_AES_GCM", ...) of the mechanisms mpc-backup uses (key generation, sealing,
 * TLS signing) that the open token `t` lists with the flags mpc-backup needs of them, in a
 * fixed order: at most `max` static strings into names; returns how many. For the ceremony's
 * audit record (`token show --json`). */
#define MPC_TOKEN_MECHANISMS_MAX 8
struct mpc_token;
size_t mpc_token_mechanism_names(struct mpc_token *t, const char **names, size_t max);

#endif
