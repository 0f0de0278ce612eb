/* uri.h: RFC 7512 PKCS#11 URIs as mpc-backup uses them, parsed by p11-kit.
 *
 * Accepted: the token attributes (token, manufacturer, serial, model), slot attributes,
 * object, id, type; the query attributes module-path, module-name and pin-source
 * (a file path or file: URI). Refused with MPC_ERR_PARSE: anything p11-kit cannot parse, an
 * unrecognised attribute, pin-value (a PIN must never be on a command line), and a non-file
 * pin-source. Parsing itself happens inside the token layer (mpc_token_open); what other
 * layers need of a URI before a token is opened is here.
 */
#ifndef MPC_PKCS11_URI_H
#define MPC_PKCS11_URI_H

#include <stddef.h>

/* 1 if `s` carries a pin-value attribute in any spelling (any case, percent-encoded): such a
 * string must be refused without being echoed anywhere. */
int mpc_uri_has_pin_value(const char *s);

/* A printable form of a URI for messages: the part before '?' (the query may hold a PIN source
 * path, never a PIN, but a mistyped PIN attribute must not be echoed), at most 120 characters;
 * "(not shown)" if it mentions a PIN in any form. */
void mpc_uri_for_message(const char *s, char *out, size_t cap);

#endif
