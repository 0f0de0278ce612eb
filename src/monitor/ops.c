/* ops.c: backup from a node into the store, and push from the store to a node. */
#include "src/monitor/ops.h"

#include <string.h>

#include "pkcs11/seal.h"
#include "src/node/client.h"
#include "src/store/keyshares.h"
#include "src/util/clock.h"
#include "src/util/mem.h"

static int node_client(const struct mpc_ops *o, const char *address, const uint8_t node_pub[32],
		       struct mpc_node_client **c, struct mpc_err *e)
{
	struct mpc_node_client_opts no;

	memset(&no, 0, sizeof(no));
	no.client_key = o->tls_key;
	memcpy(no.client_pub, o->tls_pub, 32);
	memcpy(no.node_pub, node_pub, 32);
	no.address = address;
	no.connect_timeout_ms = o->connect_timeout_ms;
	no.timeout_ms = o->timeout_ms;
	no.max_response = o->max_response;
	no.cancel = o->cancel;
	return mpc_node_client_new(&no, c, e);
}

int mpc_op_backup(const struct mpc_ops *o, const char *address, const uint8_t node_pub[32],
		  const struct mpc_keyset *ks, struct mpc_backup_outcome *out, struct mpc_err *e)
{
	struct mpc_node_client *c = NULL;
	struct mpc_store_put_stats st = { 0, 0 };
	struct mpc_store_put_opts po;
	uint8_t *plain = NULL;
	size_t plain_len = 0;
	double t0 = mpc_now_monotonic(), t1;
	int covered = 0, rc;

	memset(out, 0, sizeof(*out));
	rc = mpc_store_covers(o->store, ks, &covered, out->file, e);
	if (rc != MPC_OK)
		return rc;
	if (covered) {
		out->already_covered = 1;
		out->t.total_s = mpc_now_monotonic() - t0;
		return MPC_OK;
	}
	/* Every sealing token must be able to seal (keys present, mechanism offered, the
	 * keyset's size within its single-part limit) before a keyshare is fetched: a token that
	 * cannot is refused with nothing read from the node. */
	for (size_t i = 0; i < o->n_seal; i++) {
		enum mpc_seal_mech m;

		rc = mpc_seal_pick_for(o->seal_tokens[i], o->mech, mpc_keyshares_expected_size(ks),
				       &m, e);
		if (rc != MPC_OK) {
			mpc_err_prefix(e, "epoch %llu not fetched: ",
				       (unsigned long long)ks->epoch_id);
			goto out;
		}
	}
	rc = node_client(o, address, node_pub, &c, e);
	if (rc != MPC_OK)
		goto out;
	t1 = mpc_now_monotonic();
	rc = mpc_node_get_keyshares(c, ks, o->tk, &plain, &plain_len, e);
	out->t.node_s = mpc_now_monotonic() - t1;
	if (rc != MPC_OK) {
		mpc_err_prefix(e, "fetching keyshares of epoch %llu from %s: ",
			       (unsigned long long)ks->epoch_id, address);
		goto out;
	}
	memset(&po, 0, sizeof(po));
	po.tokens = o->seal_tokens;
	po.n_tokens = o->n_seal;
	po.mech = o->mech;
	po.contract = o->contract;
	po.operator_ = o->operator_;
	po.stats = &st;
	rc = mpc_store_put(o->store, &po, ks, plain, plain_len, out->file, e);
	if (rc != MPC_OK) {
		mpc_err_prefix(e, "storing epoch %llu: ", (unsigned long long)ks->epoch_id);
		goto out;
	}
	out->bytes = plain_len;
	out->t.token_s = st.token_seconds;
	out->t.disk_s = st.disk_seconds;
out:
	mpc_secure_free(plain);
	mpc_node_client_free(c);
	out->t.total_s = mpc_now_monotonic() - t0;
	return rc;
}

int mpc_op_push(const struct mpc_ops *o, const char *address, const uint8_t node_pub[32],
		const struct mpc_keyset *exact, int newest, uint64_t epoch,
		struct mpc_push_outcome *out, struct mpc_err *e)
{
	struct mpc_store_restore r;
	struct mpc_node_client *c = NULL;
	double t0 = mpc_now_monotonic(), t1;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&r, 0, sizeof(r));
	if (exact != NULL) {
		newest = 0;
		epoch = exact->epoch_id;
	}
	t1 = mpc_now_monotonic();
	rc = mpc_store_open_keyset(o->store, o->seal_tokens, o->n_seal, newest, epoch, &r, e);
	out->t.token_s = mpc_now_monotonic() - t1;
	if (rc != MPC_OK) {
		if (rc == MPC_ERR_NOT_FOUND && exact != NULL)
			mpc_err_prefix(e, "no backup of the contract's keyset (epoch %llu): ",
				       (unsigned long long)epoch);
		goto out;
	}
	if (exact != NULL && !mpc_keyset_equal(&r.hdr.keyset, exact)) {
		rc = mpc_fail(e, MPC_ERR_INVALID,
			      "the newest backup of epoch %llu (%s) is not the contract's keyset "
			      "(domains, attempts or keys differ): refusing to push another keyset",
			      (unsigned long long)epoch, r.name);
		goto out;
	}
	rc = node_client(o, address, node_pub, &c, e);
	if (rc != MPC_OK)
		goto out;
	t1 = mpc_now_monotonic();
	rc = mpc_node_set_keyshares(c, r.keyshares, r.keyshares_len, o->tk, e);
	out->t.node_s = mpc_now_monotonic() - t1;
	if (rc != MPC_OK) {
		mpc_err_prefix(e, "pushing epoch %llu to %s: ",
			       (unsigned long long)r.hdr.keyset.epoch_id, address);
		goto out;
	}
	memcpy(out->file, r.name, sizeof(out->file));
	out->epoch = r.hdr.keyset.epoch_id;
	out->n_domains = r.hdr.keyset.n_domains;
	out->bytes = r.keyshares_len;
out:
	mpc_store_restore_free(&r);
	mpc_node_client_free(c);
	out->t.total_s = mpc_now_monotonic() - t0;
	return rc;
}
