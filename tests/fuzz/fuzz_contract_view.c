/* fuzz_contract_view.c: one reading of the contract as the quorum reader takes it
 * (src/contract/view.h): input = state JSON NUL migration_info JSON [NUL operator account].
 * A derived view equals itself and its copy, and its summary is a bounded string. */
#include "src/contract/view.h"
#include "tests/fuzz/fuzz.h"

#define DEFAULT_OPERATOR "n1-multichain.near"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mpc_err e = { 0 };
	struct mpc_contract_view v, copy;
	const uint8_t *sep = memchr(data, '\0', size), *sep2;
	const char *mi;
	size_t st_len, mi_len;
	char *account, *st_buf, *mi_buf, summary[200];
	int rc;

	if (sep == NULL)
		return 0;
	st_len = (size_t)(sep - data);
	mi = (const char *)sep + 1;
	mi_len = size - st_len - 1;
	sep2 = memchr(mi, '\0', mi_len);
	if (sep2 != NULL) {
		account = fuzz_cstr(sep2 + 1, size - (size_t)(sep2 + 1 - data));
		mi_len = (size_t)(sep2 - (const uint8_t *)mi);
	} else {
		account = fuzz_cstr((const uint8_t *)DEFAULT_OPERATOR, strlen(DEFAULT_OPERATOR));
	}
	/* Each part in its own exactly sized buffer so that ASan sees a read past either. */
	st_buf = malloc(st_len ? st_len : 1);
	mi_buf = malloc(mi_len ? mi_len : 1);
	FUZZ_CHECK(st_buf != NULL && mi_buf != NULL);
	memcpy(st_buf, data, st_len);
	memcpy(mi_buf, mi, mi_len);
	rc = mpc_contract_view_parse(st_buf, st_len, mi_buf, mi_len, account, &v, &e);
	fuzz_check_rc(rc, &e);
	if (rc == MPC_OK) {
		FUZZ_CHECK(mpc_contract_view_equal(&v, &v));
		FUZZ_CHECK(mpc_contract_view_copy(&copy, &v, &e) == MPC_OK);
		FUZZ_CHECK(mpc_contract_view_equal(&copy, &v));
		memset(summary, 'x', sizeof(summary));
		mpc_contract_view_summary(&v, summary, 100);
		FUZZ_CHECK(memchr(summary, '\0', 100) != NULL);
		mpc_contract_view_free(&copy);
		mpc_contract_view_free(&v);
	}
	free(mi_buf);
	free(st_buf);
	free(account);
	return 0;
}
