/* fuzz_contract_state.c: the contract's `state` view (src/contract/state.h) through the
 * hostile-input JSON loader (src/model/json.h), and the Keyset it yields: what parses re-emits
 * as Keyset JSON that parses back to the same keyset. */
#include <jansson.h>

#include "src/contract/state.h"
#include "src/model/json.h"
#include "src/model/keyset.h"
#include "tests/fuzz/fuzz.h"

/* mpc_cjson_load only adds checks to jansson (depth, \u0000, duplicates) and carries integers
 * beyond int64: what it accepts, jansson reading big integers as reals accepts too. */
static void check_loader(const uint8_t *data, size_t size)
{
	struct mpc_err e = { 0 };
	json_error_t jerr;
	json_t *j = NULL, *ref;
	int rc = mpc_cjson_load((const char *)data, size, "fuzz", &j, &e);

	fuzz_check_rc(rc, &e);
	if (rc != MPC_OK)
		return;
	json_decref(j);
	ref = json_loadb((const char *)data, size,
			 JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &jerr);
	if (ref == NULL && json_error_code(&jerr) != json_error_numeric_overflow) {
		fprintf(stderr, "mpc_cjson_load accepted what jansson refuses: %s at %d\n",
			jerr.text, jerr.position);
		FUZZ_CHECK(!"mpc_cjson_load accepted invalid JSON");
	}
	json_decref(ref);
}

static void check_keyset_round_trip(const struct mpc_keyset *ks)
{
	struct mpc_err e = { 0 };
	struct mpc_keyset back;
	json_t *j = mpc_keyset_to_json(ks, &e);
	char *text;
	int rc;

	if (j == NULL) { /* only u64 values jansson cannot hold are refused */
		FUZZ_CHECK(e.code == MPC_ERR_UNSUPPORTED);
		return;
	}
	text = json_dumps(j, JSON_COMPACT);
	FUZZ_CHECK(text != NULL);
	rc = mpc_keyset_parse(text, strlen(text), &back, &e);
	if (rc != MPC_OK)
		fprintf(stderr, "re-parse: %s\n", e.msg);
	FUZZ_CHECK(rc == MPC_OK);
	FUZZ_CHECK(mpc_keyset_equal(ks, &back));
	mpc_keyset_free(&back);
	free(text);
	json_decref(j);
}

/* Participants that parsed have valid account ids and bounded URLs. */
static void check_participants(const struct mpc_participants *ps)
{
	struct mpc_err e = { 0 };

	for (size_t i = 0; i < ps->n; i++) {
		FUZZ_CHECK(mpc_account_id_check(ps->items[i].account_id, "fuzz", &e) == MPC_OK);
		FUZZ_CHECK(memchr(ps->items[i].info.url, '\0', sizeof(ps->items[i].info.url)) != NULL);
		FUZZ_CHECK(mpc_participants_find(ps, ps->items[i].account_id) == &ps->items[i]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mpc_err e = { 0 };
	struct mpc_contract_state st;
	struct mpc_keyset ks;
	const struct mpc_keyset *bk;
	int rc;

	check_loader(data, size);
	/* The whole input as a state view, then as a bare Keyset. */
	rc = mpc_contract_state_parse((const char *)data, size, &st, &e);
	fuzz_check_rc(rc, &e);
	if (rc == MPC_OK) {
		FUZZ_CHECK(mpc_protocol_kind_name(st.kind) != NULL);
		check_participants(&st.participants);
		check_participants(&st.prospective);
		bk = mpc_contract_state_backup_keyset(&st);
		if (bk != NULL)
			check_keyset_round_trip(bk);
		mpc_contract_state_free(&st);
	}
	memset(&e, 0, sizeof(e));
	rc = mpc_keyset_parse((const char *)data, size, &ks, &e);
	fuzz_check_rc(rc, &e);
	if (rc == MPC_OK) {
		check_keyset_round_trip(&ks);
		mpc_keyset_free(&ks);
	}
	return 0;
}
