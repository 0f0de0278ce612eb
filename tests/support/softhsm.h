/* softhsm.h: a fresh SoftHSM2 token per test, in a private temporary directory.
 *
 * th_softhsm_setup() makes a temp dir with a softhsm2.conf (from
 * tokens/softhsm2/softhsm2.conf.in), points SOFTHSM2_CONF at it, and initialises a token with
 * `softhsm2-util --init-token` (an independent tool). The user PIN is TH_USER_PIN and is exported
 * as MPC_BACKUP_PIN. th_softhsm_teardown() removes the directory.
 */
#ifndef MPC_TESTS_SUPPORT_SOFTHSM_H
#define MPC_TESTS_SUPPORT_SOFTHSM_H

#define TH_USER_PIN "246810"
#define TH_SO_PIN "1357911131"

struct th_softhsm {
	char dir[256];
	char conf[300];
	char module[256];
	char uri[512]; /* pkcs11:token=<label>?module-path=<module> for the first token */
};

/* mechanisms: NULL for "ALL", else a SoftHSM slots.mechanisms value listing the enabled
 * mechanisms ("CKM_AES_KEY_GEN,CKM_AES_CBC_PAD,..."); SoftHSM 2.6.1 ignores "-CKM_X" exclusions. */
int th_softhsm_setup(struct th_softhsm *h, const char *label, const char *mechanisms);
/* Add another token to the same SoftHSM directory; writes its URI to uri (size 512). */
int th_softhsm_add_token(struct th_softhsm *h, const char *label, char *uri);
int th_softhsm_delete_token(struct th_softhsm *h, const char *label);
void th_softhsm_teardown(struct th_softhsm *h);

/* Run a shell command, capturing up to cap-1 bytes of combined stdout+stderr into out.
 * Returns the exit status (or -1). */
int th_run(const char *cmd, char *out, unsigned cap);

#endif
