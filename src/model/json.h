/* json.h: hostile-input-safe JSON loading and typed field access for the contract model.
 *
 * mpc_cjson_load() is the only way contract JSON enters the program. Before jansson sees the
 * text it is scanned once: nesting deeper than MPC_CJSON_MAX_DEPTH and `\u0000` escapes are
 * refused, and integer literals jansson cannot hold (outside int64) are rewritten to a private
 * marker string ("\0" + digits) so that mpc_cjson_u64() can accept 18446744073709551615 exactly
 * and refuse anything larger with a message naming the field. Duplicate object keys are refused.
 *
 * Getters take the JSON path of the value they read ("state.Running.keyset.epoch_id") and
 * fail with MPC_ERR_PARSE and a message naming that path. Returned json_t pointers are borrowed.
 */
#ifndef MPC_MODEL_JSON_H
#define MPC_MODEL_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "src/util/err.h"

#define MPC_CJSON_MAX_DEPTH 64
#define MPC_CJSON_PATH_MAX  256

/* Parse `len` bytes of JSON text (need not be NUL-terminated). `what` names the document in
 * messages. On success *out holds a new reference. */
int mpc_cjson_load(const char *text, size_t len, const char *what, json_t **out, struct mpc_err *e);

/* Child paths: "<parent>.<key>" and "<parent>[<i>]", truncated to MPC_CJSON_PATH_MAX. */
void mpc_cjson_path_key(char out[MPC_CJSON_PATH_MAX], const char *parent, const char *key);
void mpc_cjson_path_index(char out[MPC_CJSON_PATH_MAX], const char *parent, size_t i);

/* A u64 (JSON integer 0..2^64-1; no sign, fraction or exponent) at `path`. */
int mpc_cjson_u64(const json_t *v, const char *path, uint64_t *out, struct mpc_err *e);
/* Required member `key` of object `obj` (whose path is `path`): any type / object / array /
 * string / u64. */
int mpc_cjson_member(const json_t *obj, const char *path, const char *key, json_t **out,
		     struct mpc_err *e);
int mpc_cjson_object(const json_t *obj, const char *path, const char *key, json_t **out,
		     struct mpc_err *e);
int mpc_cjson_array(const json_t *obj, const char *path, const char *key, json_t **out,
		    struct mpc_err *e);
int mpc_cjson_string(const json_t *obj, const char *path, const char *key, const char **out,
		     struct mpc_err *e);
int mpc_cjson_member_u64(const json_t *obj, const char *path, const char *key, uint64_t *out,
			 struct mpc_err *e);
/* Check `v` at `path` is an object / string (for values that are not object members). */
int mpc_cjson_expect_object(const json_t *v, const char *path, struct mpc_err *e);
int mpc_cjson_expect_string(const json_t *v, const char *path, const char **out, struct mpc_err *e);

/* Emit a u64 as a JSON integer. Values above INT64_MAX cannot be represented by jansson's
 * json_integer: they are refused with MPC_ERR_UNSUPPORTED. Returns a new reference or NULL. */
json_t *mpc_cjson_from_u64(uint64_t v, const char *path, struct mpc_err *e);

/* A u64 for output meant to be read (status and store listings): a JSON integer when jansson
 * can hold it, else its decimal digits as a string, so no value is ever lost or refused.
 * Returns a new reference, or NULL when out of memory. */
json_t *mpc_cjson_u64_shown(uint64_t v);

#endif
