/* encoding.c: strict hex, base58 and base64. */
#include "src/util/encoding.h"

#include <string.h>

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int mpc_hex_encode(const uint8_t *in, size_t n, char *out, size_t out_cap, struct mpc_err *e)
{
	static const char digits[] = "0123456789abcdef";

	if (out_cap < 1 || (out_cap - 1) / 2 < n)
		return mpc_fail(e, MPC_ERR_TOO_LARGE, "hex output buffer too small for %zu bytes",
				n);
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
	return MPC_OK;
}

int mpc_hex_decode(const char *in, size_t len, uint8_t *out, size_t out_cap, size_t *out_len,
		   const char *what, struct mpc_err *e)
{
	if (out_len != NULL)
		*out_len = 0;
	if (len % 2 != 0)
		return mpc_fail(e, MPC_ERR_PARSE, "%s: hex has an odd number of digits (%zu)", what,
				len);
	if (len / 2 > out_cap)
		return mpc_fail(e, MPC_ERR_TOO_LARGE,
				"%s: hex decodes to %zu bytes, at most %zu allowed", what, len / 2,
				out_cap);
	for (size_t i = 0; i < len; i += 2) {
		int hi = hexval(in[i]), lo = hexval(in[i + 1]);

		if (hi < 0 || lo < 0)
			return mpc_fail(e, MPC_ERR_PARSE, "%s: not a hex digit at offset %zu", what,
					hi < 0 ? i : i + 1);
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	if (out_len != NULL)
		*out_len = len / 2;
	return MPC_OK;
}

static const char b58_alphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
#define B58_MAX_CHARS 1024

int mpc_base58_encode(const uint8_t *in, size_t n, char *out, size_t out_cap, struct mpc_err *e)
{
	uint8_t digits[B58_MAX_CHARS * 2];
	size_t zeros = 0, ndig = 0, pos = 0;

	if (n > B58_MAX_CHARS * 7 / 10)
		return mpc_fail(e, MPC_ERR_TOO_LARGE, "base58 input of %zu bytes is too large", n);
	while (zeros < n && in[zeros] == 0)
		zeros++;
	for (size_t i = zeros; i < n; i++) {
		unsigned carry = in[i];

		for (size_t j = 0; j < ndig; j++) {
			carry += (unsigned)digits[j] << 8;
			digits[j] = (uint8_t)(carry % 58);
			carry /= 58;
		}
		while (carry > 0) {
			digits[ndig++] = (uint8_t)(carry % 58);
			carry /= 58;
		}
	}
	if (out_cap < zeros + ndig + 1)
		return mpc_fail(e, MPC_ERR_TOO_LARGE, "base58 output buffer too small");
	for (size_t i = 0; i < zeros; i++)
		out[pos++] = '1';
	for (size_t i = 0; i < ndig; i++)
		out[pos++] = b58_alphabet[digits[ndig - 1 - i]];
	out[pos] = '\0';
	return MPC_OK;
}

static int b58val(char c)
{
	const char *p = c == '\0' ? NULL : strchr(b58_alphabet, c);

	return p == NULL ? -1 : (int)(p - b58_alphabet);
}

int mpc_base58_decode(const char *in, size_t len, uint8_t *out, size_t out_cap, size_t *out_len,
		      const char *what, struct mpc_err *e)
{
	uint8_t bytes[B58_MAX_CHARS]; /* little-endian base-256 accumulator */
	size_t zeros = 0, nbytes = 0;

	if (out_len != NULL)
		*out_len = 0;
	if (len == 0)
		return mpc_fail(e, MPC_ERR_PARSE, "%s: empty base58", what);
	if (len > B58_MAX_CHARS)
		return mpc_fail(e, MPC_ERR_TOO_LARGE, "%s: base58 of %zu characters is too long",
				what, len);
	while (zeros < len && in[zeros] == '1')
		zeros++;
	for (size_t i = zeros; i < len; i++) {
		int v = b58val(in[i]);
		unsigned carry;

		if (v < 0)
			return mpc_fail(e, MPC_ERR_PARSE,
					"%s: not a base58 character at offset %zu", what, i);
		carry = (unsigned)v;
		for (size_t j = 0; j < nbytes; j++) {
			carry += (unsigned)bytes[j] * 58;
			bytes[j] = (uint8_t)(carry & 0xff);
			carry >>= 8;
		}
		while (carry > 0) {
			bytes[nbytes++] = (uint8_t)(carry & 0xff);
			carry >>= 8;
		}
	}
	if (zeros + nbytes > out_cap)
		return mpc_fail(e, MPC_ERR_TOO_LARGE,
				"%s: base58 decodes to %zu bytes, at most %zu allowed", what,
				zeros + nbytes, out_cap);
	memset(out, 0, zeros);
	for (size_t i = 0; i < nbytes; i++)
		out[zeros + i] = bytes[nbytes - 1 - i];
	if (out_len != NULL)
		*out_len = zeros + nbytes;
	return MPC_OK;
}

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t mpc_base64_encoded_len(size_t n)
{
	return (n + 2) / 3 * 4 + 1;
}

int mpc_base64_encode(const uint8_t *in, size_t n, char *out, size_t out_cap, struct mpc_err *e)
{
	size_t o = 0, i = 0;

	if (n > (SIZE_MAX - 1) / 4 * 3 - 3 || out_cap < mpc_base64_encoded_len(n))
		return mpc_fail(e, MPC_ERR_TOO_LARGE,
				"base64 output buffer too small for %zu bytes", n);
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
		out[o++] = b64_alphabet[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;

		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = '=';
		out[o++] = '=';
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
		out[o++] = '=';
	}
	out[o] = '\0';
	return MPC_OK;
}

size_t mpc_base64_decoded_max(size_t len)
{
	return len / 4 * 3 + 3;
}

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int mpc_base64_decode(const char *in, size_t len, uint8_t *out, size_t out_cap, size_t *out_len,
		      const char *what, struct mpc_err *e)
{
	size_t o = 0, pad = 0, need;

	if (out_len != NULL)
		*out_len = 0;
	if (len % 4 != 0)
		return mpc_fail(e, MPC_ERR_PARSE, "%s: base64 length %zu is not a multiple of 4",
				what, len);
	if (len >= 1 && in[len - 1] == '=')
		pad++;
	if (len >= 2 && in[len - 2] == '=')
		pad++;
	need = len / 4 * 3 - pad;
	if (need > out_cap)
		return mpc_fail(e, MPC_ERR_TOO_LARGE,
				"%s: base64 decodes to %zu bytes, at most %zu allowed", what, need,
				out_cap);
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		int last = i + 4 == len;

		for (int k = 0; k < 4; k++) {
			v[k] = b64val(in[i + k]);
			if (v[k] < 0 && !(last && in[i + k] == '=' && k >= 4 - (int)pad))
				return mpc_fail(e, MPC_ERR_PARSE,
						"%s: not a base64 character at offset %zu", what,
						i + (size_t)k);
		}
		out[o++] = (uint8_t)(v[0] << 2 | v[1] >> 4);
		if (last && pad == 2) {
			if ((v[1] & 15) != 0)
				return mpc_fail(e, MPC_ERR_PARSE,
						"%s: non-canonical base64 padding", what);
			break;
		}
		out[o++] = (uint8_t)((v[1] & 15) << 4 | v[2] >> 2);
		if (last && pad == 1) {
			if ((v[2] & 3) != 0)
				return mpc_fail(e, MPC_ERR_PARSE,
						"%s: non-canonical base64 padding", what);
			break;
		}
		out[o++] = (uint8_t)((v[2] & 3) << 6 | v[3]);
	}
	if (out_len != NULL)
		*out_len = o;
	return MPC_OK;
}

int mpc_ed25519_key_format(const uint8_t key[32], char out[MPC_ED25519_KEY_STR_MAX],
			   struct mpc_err *e)
{
	/* The prefix is not a string on its own: the base58 text that follows ends with a NUL. */
	memcpy(out, "ed25519:", 8); /* NOLINT(bugprone-not-null-terminated-result) */
	return mpc_base58_encode(key, 32, out + 8, MPC_ED25519_KEY_STR_MAX - 8, e);
}

int mpc_ed25519_key_parse(const char *in, uint8_t key[32], const char *what, struct mpc_err *e)
{
	size_t n = 0;
	int rc;

	if (in == NULL || strncmp(in, "ed25519:", 8) != 0)
		return mpc_fail(e, MPC_ERR_PARSE, "%s: expected \"ed25519:<base58>\"", what);
	rc = mpc_base58_decode(in + 8, strlen(in + 8), key, 32, &n, what, e);
	if (rc != MPC_OK)
		return rc;
	if (n != 32)
		return mpc_fail(e, MPC_ERR_PARSE, "%s: an ed25519 key is 32 bytes, this one is %zu",
				what, n);
	return MPC_OK;
}
