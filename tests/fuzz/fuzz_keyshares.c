/* fuzz_keyshares.c: the node's plaintext Keyshare array (src/store/keyshares.h), as received from
 * /get_keyshares after transport decryption. Input: keyshares JSON, or keyset JSON NUL keyshares
 * JSON to also run the check against that keyset. Inspected items respect their bounds. */
#include "src/model/keyset.h"
#include "src/store/keyshares.h"
#include "tests/fuzz/fuzz.h"

static void inspect(const uint8_t *buf, size_t len)
{
	struct mpc_err e = { 0 };
	struct mpc_keyshares_meta m = { 0 };
	int rc = mpc_keyshares_inspect(buf, len, &m, &e);

	fuzz_check_rc(rc, &e);
	if (rc != MPC_OK) {
		FUZZ_CHECK(m.n == 0 && m.items == NULL);
		return;
	}
	for (size_t i = 0; i < m.n; i++)
		FUZZ_CHECK(m.items[i].pk_len > 0 && m.items[i].pk_len <= sizeof(m.items[i].pk));
	mpc_keyshares_meta_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mpc_err e = { 0 };
	struct mpc_keyset ks;
	const uint8_t *sep = memchr(data, '\0', size);
	uint8_t *shares;
	size_t n;
	int rc;

	if (sep == NULL) {
		inspect(data, size);
		return 0;
	}
	rc = mpc_keyset_parse((const char *)data, (size_t)(sep - data), &ks, &e);
	fuzz_check_rc(rc, &e);
	n = size - (size_t)(sep + 1 - data);
	shares = malloc(n ? n : 1);
	FUZZ_CHECK(shares != NULL);
	memcpy(shares, sep + 1, n);
	inspect(shares, n);
	if (rc == MPC_OK) {
		memset(&e, 0, sizeof(e));
		rc = mpc_keyshares_validate(shares, n, &ks, &e);
		fuzz_check_rc(rc, &e);
		mpc_keyset_free(&ks);
	}
	free(shares);
	return 0;
}
