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
	char *text;           /* owned: the URI as shown in messages (mpc_uri_for_message) */
};

int mpc_token_uri_parse(const char *s, struct mpc_token_uri **out, struct mpc_err *e);

/* 1 if `s` carries a pin-value attribute in any spelling (any case, percent-encoded): such a
 * string must be refused without being echoed anywhere. */
int mpc_uri_has_pin_value(const char *s);

/* A printable form of a URI for messages: the part before '?' (the query may hold a PIN source
 * path, never a PIN, but a mistyped PIN attribute must not be echoed), at most 120 characters;
 * "(not shown)" if it mentions a PIN in any form. */
void mpc_uri_for_message(const char *s, char *out, size_t cap);
void mpc_token_uri_free(struct mpc_token_uri *u);

/* 1 if the token described by `info` matches the URI's token attributes. */
int mpc_token_uri_match_token(const struct mpc_token_uri *u, CK_TOKEN_INFO *info);

#endif
