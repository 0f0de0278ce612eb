/* uri.h: RFC 7512 PKCS#11 URIs as mpc-backup uses them, parsed by p11-kit.
 *
 * Accepted: the token attributes (token, manufacturer, serial, model), slot attributes,
 * object, id, type; the query attributes module-path, module-name and pin-source
 * (a file path or file: URI). Refused with MPC_ERR_PARSE: anything p11-kit cannot parse, an
 * unrecognised attribute, pin-value (a PIN must never be on a command line), and a non-file
 * pin-source.
 */
#ifndef MPC_PKCS11_URI_H
#define MPC_PKCS11_URI_H

#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>

#include "src/util/err.h"

struct mpc_token_uri {
	P11KitUri *uri;       /* owned */
	char *module_path;    /* owned, or NULL */
	char *module_name;    /* owned, or NULL */
	char *pin_file;       /* owned: path from pin-source, or NULL */
	char *object;         /* owned: object= label, or NULL */
	char *text;           /* owned: the URI as given, for messages (holds no secret) */
};

int mpc_token_uri_parse(const char *s, struct mpc_token_uri **out, struct mpc_err *e);
void mpc_token_uri_free(struct mpc_token_uri *u);

/* 1 if the token described by `info` matches the URI's token attributes. */
int mpc_token_uri_match_token(const struct mpc_token_uri *u, CK_TOKEN_INFO *info);

#endif
