/* fuzz_migration_info.c: the contract's `migration_info` view (src/contract/migration.h):
 * every parsed entry has a valid account id and is found again by it (duplicate keys are
 * refused), and its strings are bounded. */
#include "src/contract/migration.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mpc_err e = { 0 };
	struct mpc_migration_info mi;
	int rc = mpc_migration_info_parse((const char *)data, size, &mi, &e);

	fuzz_check_rc(rc, &e);
	if (rc != MPC_OK)
		return 0;
	FUZZ_CHECK(mi.n <= MPC_MAX_MIGRATION_ENTRIES);
	for (size_t i = 0; i < mi.n; i++) {
		const struct mpc_migration_entry *m = &mi.entries[i];

		FUZZ_CHECK(memchr(m->account_id, '\0', sizeof(m->account_id)) != NULL);
		FUZZ_CHECK(mpc_account_id_check(m->account_id, "fuzz", &e) == MPC_OK);
		if (m->has_destination)
			FUZZ_CHECK(memchr(m->destination.url, '\0', sizeof(m->destination.url)) !=
				   NULL);
		FUZZ_CHECK(mpc_migration_info_find(&mi, m->account_id) == m);
		FUZZ_CHECK(m->signer_pk_len <= sizeof(m->signer_pk));
	}
	mpc_migration_info_free(&mi);
	return 0;
}
