/* escape.h: making text from the contract, an RPC server or a node safe to print.
 *
 * Anything another party sends that reaches a terminal or a log line goes through
 * mpc_escape_untrusted() first, so that it cannot forge lines (\r, \n), move the cursor or
 * recolour the terminal (ESC and other C0/C1 controls), or reorder what the reader sees (Unicode
 * bidirectional overrides and isolates, the trick behind "Trojan Source").
 *
 * The output is the input with:
 *   - backslash written as "\\" (so escapes below cannot be forged by the input);
 *   - \n, \r, \t written as "\n", "\r", "\t"; other C0 controls and DEL as "\xNN";
 *   - C1 controls (U+0080..U+009F), the bidi marks, embeddings, overrides and isolates
 *     (U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069) and the line and paragraph
 *     separators (U+2028, U+2029) written as "\uXXXX";
 *   - bytes that are not well-formed UTF-8 (stray continuation bytes, overlongs, surrogates,
 *     code points above U+10FFFF, truncated sequences) written as "\xNN", one per byte;
 *   - everything else (printable ASCII and well-formed UTF-8) unchanged.
 * The result is valid UTF-8 without control characters: it can go into a JSON string, a log
 * line or a terminal as is.
 */
#ifndef MPC_UTIL_ESCAPE_H
#define MPC_UTIL_ESCAPE_H

#include <stddef.h>

/* Escape the NUL-terminated `in` into out[cap]. Like snprintf: returns the length the whole
 * escaped text needs (without the NUL); when that is >= cap the output is cut at an escape or
 * character boundary. out is always NUL-terminated when cap > 0; out may be NULL when cap is
 * 0 (to measure). `in` NULL is treated as "". in and out must not overlap. */
size_t mpc_escape_untrusted(const char *in, char *out, size_t cap);

#endif
