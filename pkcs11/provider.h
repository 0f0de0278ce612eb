/* provider.h: the token's Ed25519 key as an OpenSSL EVP_PKEY, so libssl signs the TLS 1.3
 * CertificateVerify with C_Sign(CKM_EDDSA) inside the token.
 *
 * A small OpenSSL 3 provider ("mpc-token", built in, see pkcs11/provider/) implements keymgmt
 * and signature for ED25519 over a reference to an open token. The private key never exists
 * in process memory: the provider cannot export it, and no code path reads CKA_VALUE.
 *
 * mpc_provider_load() loads the "default" provider explicitly and then "mpc-token" into
 * `libctx` (NULL: the default library context, the one libcurl's SSL_CTX uses), and makes
 * software implementations preferred for everything that does not ask for the token
 * ("?provider=default"), so SoftHSM2's own libcrypto use in the same process is unaffected.
 * Call it once at the process entry point; unload with mpc_provider_unload().
 */
#ifndef MPC_PKCS11_PROVIDER_H
#define MPC_PKCS11_PROVIDER_H

#include <openssl/evp.h>
#include <openssl/provider.h>

#include "pkcs11/token.h"

#define MPC_PROVIDER_NAME "mpc-token"
/* The OSSL_PARAM that carries a token reference into the provider's keymgmt import. */
#define MPC_PROVIDER_PARAM_TOKEN_REF "mpc-token-ref"
/* When the token cannot sign, the provider raises one OpenSSL error with one of these reasons
 * (ERR_GET_REASON) and, as its data, the token layer's message naming the token: what a TLS
 * client reads to blame the token rather than its peer. */
#define MPC_PROVIDER_R_TOKEN_SIGN_FAILED 1
#define MPC_PROVIDER_R_TOKEN_UNAVAILABLE 5

struct mpc_provider {
	OSSL_PROVIDER *deflt;
	OSSL_PROVIDER *token;
};

int mpc_provider_load(OSSL_LIB_CTX *libctx, struct mpc_provider *p, struct mpc_err *e);
void mpc_provider_unload(struct mpc_provider *p);

/* An EVP_PKEY (ED25519) for the token's TLS key. The token must stay open for the key's
 * lifetime; free with EVP_PKEY_free. The public key is read once from the token. */
int mpc_provider_token_pkey(OSSL_LIB_CTX *libctx, struct mpc_token *t, EVP_PKEY **out,
			    struct mpc_err *e);

#endif
