/* uri.h: RFC 7512 PKCS#11 URIs as mpc-backup uses them, parsed by p11-kit.
 *
 * Accepted path attributes: token, manufacturer, serial, model (CK_TOKEN_INFO); slot-id (a
 * decimal CK_SLOT_ID), slot-description, slot-manufacturer (CK_SLOT_INFO); library-description,
 * library-manufacturer, library-version ("M" meaning M.0, or "M.m"; CK_INFO of C_GetInfo);
 * object, id, type. Accepted query attributes: module-path, module-name and pin-source (a file
 * path or file: URI). Every token, slot and library attribute filters: a token is opened only
 * when all of them match (strings compare with trailing blanks ignored), and a URI that more
 * than one token matches is refused (MPC_ERR_USAGE, exit 2) listing each match's URI.
 * Refused with MPC_ERR_PARSE, by name: an attribute mpc-backup does not know (in the path or
 * the query: p11-kit would take an unknown query attribute as a vendor query), a query
 * attribute in the path or a path attribute in the query, an attribute given twice, a slot-id
 * that is not a decimal number, a value longer than its PKCS#11 field or an unknown type=
 * (they can match nothing); also anything p11-kit cannot parse, pin-value (a PIN must never be
 * on a command line) and a non-file pin-source. A value from the query is never echoed.
 * Parsing and matching happen inside the token layer (mpc_token_open, mpc_token_find in
 * internal.h); what other layers need of a URI before a token is opened is here.
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
