/* fuzz_encoding.c: hex, base58, base64 and "ed25519:" key decoding of outside text, with the
 * round-trip properties: what decodes re-encodes to the same text (hex: up to case), and every
 * byte string survives encode then decode. */
#include <ctype.h>

#include "src/util/encoding.h"
#include "tests/fuzz/fuzz.h"

#define CAP 1100

static void check_hex(const char *in, size_t len)
{
	struct mpc_err e = { 0 };
	uint8_t out[CAP];
	char back[2 * CAP + 1];
	size_t n = 0;
	int rc = mpc_hex_decode(in, len, out, sizeof(out), &n, "fuzz", &e);

	fuzz_check_rc(rc, &e);
	if (rc != MPC_OK) {
		FUZZ_CHECK(n == 0);
		return;
	}
	FUZZ_CHECK(n == len / 2);
	FUZZ_CHECK(mpc_hex_encode(out, n, back, sizeof(back), &e) == MPC_OK);
	for (size_t i = 0; i < len; i++)
		FUZZ_CHECK(back[i] == tolower((unsigned char)in[i]));
	FUZZ_CHECK(back[len] == '\0');
}

static void check_base58(const char *in, size_t len)
{
	struct mpc_err e = { 0 };
	uint8_t out[CAP];
	char back[2 * CAP + 1];
	size_t n = 0;
	int rc = mpc_base58_decode(in, len, out, sizeof(out), &n, "fuzz", &e);

	fuzz_check_rc(rc, &e);
	if (rc != MPC_OK) {
		FUZZ_CHECK(n == 0);
		return;
	}
	FUZZ_CHECK(n <= len);
	if (n > 716) /* the encoder's bound (1024 * 7 / 10 bytes); only leading '1's get here */
		return;
	FUZZ_CHECK(mpc_base58_encode(out, n, back, sizeof(back), &e) == MPC_OK);
	FUZZ_CHECK(strlen(back) == len && memcmp(back, in, len) == 0);
}

static void check_base64(const char *in, size_t len)
{
	struct mpc_err e = { 0 };
	size_t cap = mpc_base64_decoded_max(len), n = 0;
	uint8_t *out = malloc(cap);
	char *back;
	int rc;

	FUZZ_CHECK(out != NULL);
	rc = mpc_base64_decode(in, len, out, cap, &n, "fuzz", &e);
	fuzz_check_rc(rc, &e);
	if (rc != MPC_OK) {
		FUZZ_CHECK(n == 0);
		free(out);
		return;
	}
	FUZZ_CHECK(n <= cap);
	back = malloc(mpc_base64_encoded_len(n));
	FUZZ_CHECK(back != NULL);
	FUZZ_CHECK(mpc_base64_encode(out, n, back, mpc_base64_encoded_len(n), &e) == MPC_OK);
	FUZZ_CHECK(strlen(back) == len && memcmp(back, in, len) == 0);
	free(back);
	free(out);
}

/* Bytes -> text -> bytes for all three codecs. */
static void check_bytes(const uint8_t *in, size_t n)
{
	struct mpc_err e = { 0 };
	char *text = malloc(2 * n + mpc_base64_encoded_len(n) + 2 * CAP);
	uint8_t *back = malloc(n + 3);
	size_t m = 0;

	FUZZ_CHECK(text != NULL && back != NULL);
	FUZZ_CHECK(mpc_hex_encode(in, n, text, 2 * n + 1, &e) == MPC_OK);
	FUZZ_CHECK(mpc_hex_decode(text, 2 * n, back, n, &m, "fuzz", &e) == MPC_OK);
	FUZZ_CHECK(m == n && memcmp(back, in, n) == 0);
	FUZZ_CHECK(mpc_base64_encode(in, n, text, mpc_base64_encoded_len(n), &e) == MPC_OK);
	FUZZ_CHECK(mpc_base64_decode(text, strlen(text), back, n, &m, "fuzz", &e) == MPC_OK);
	FUZZ_CHECK(m == n && memcmp(back, in, n) == 0);
	if (n >= 1 && n <= 700) { /* "" is refused by the decoder on purpose ("empty base58") */
		FUZZ_CHECK(mpc_base58_encode(in, n, text, 2 * CAP, &e) == MPC_OK);
		FUZZ_CHECK(mpc_base58_decode(text, strlen(text), back, n, &m, "fuzz", &e) == MPC_OK);
		FUZZ_CHECK(m == n && memcmp(back, in, n) == 0);
	}
	free(back);
	free(text);
}

static void check_ed25519(const char *s)
{
	struct mpc_err e = { 0 };
	uint8_t key[32];
	char back[MPC_ED25519_KEY_STR_MAX];
	int rc = mpc_ed25519_key_parse(s, key, "fuzz", &e);

	fuzz_check_rc(rc, &e);
	if (rc != MPC_OK)
		return;
	FUZZ_CHECK(mpc_ed25519_key_format(key, back, &e) == MPC_OK);
	FUZZ_CHECK(strcmp(back, s) == 0);
}

/* The first byte picks the reader; the rest is its input (exactly sized, so ASan sees any read
 * past `len`). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data + 1;
	size_t len = size - 1;
	char *s;

	if (size < 1)
		return 0;
	switch (data[0] % 5) {
	case 0:
		check_hex(in, len);
		break;
	case 1:
		check_base58(in, len);
		break;
	case 2:
		check_base64(in, len);
		break;
	case 3:
		check_bytes(data + 1, len);
		break;
	default:
		s = fuzz_cstr(data + 1, len);
		check_ed25519(s);
		free(s);
		break;
	}
	return 0;
}
