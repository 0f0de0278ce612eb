/* monitor.c: the monitor's decisions: what to do after each agreed contract read. */
#include "src/monitor/monitor.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "src/contract/rpc.h"
#include "src/util/encoding.h"
#include "src/util/mem.h"

const char *mpc_push_phase_name(enum mpc_push_phase p)
{
	static const char *const names[] = { "idle", "pending", "sent", "concluded", "cancelled" };

	return (unsigned)p < sizeof(names) / sizeof(names[0]) ? names[p] : "?";
}

static int push_active(const struct mpc_push_state *p)
{
	return p->phase == MPC_PUSH_PENDING || p->phase == MPC_PUSH_SENT;
}

static void set_addr_config(struct mpc_monitor *m)
{
	m->addr.migration_port = (uint16_t)m->cfg->migration_port;
	m->addr.overrides = m->cfg->overrides;
	m->addr.n_overrides = m->cfg->n_overrides;
}

void mpc_monitor_init(struct mpc_monitor *m, const struct mpc_config *cfg,
		      const struct mpc_logger *log, struct mpc_metrics *metrics,
		      struct mpc_quorum *quorum, const struct mpc_ops *ops)
{
	memset(m, 0, sizeof(*m));
	m->cfg = cfg;
	m->log = log;
	m->metrics = metrics;
	m->quorum = quorum;
	m->ops = *ops;
	set_addr_config(m);
	m->next_verify = mpc_now_monotonic() + cfg->verify_interval;
}

void mpc_monitor_reconfigure(struct mpc_monitor *m, const struct mpc_config *cfg,
			     struct mpc_quorum *quorum)
{
	m->cfg = cfg;
	m->quorum = quorum;
	set_addr_config(m);
	/* ops point into the configuration: re-point them at the new one */
	m->ops.contract = cfg->contract != NULL ? cfg->contract : MPC_RPC_DEFAULT_CONTRACT;
	m->ops.timeout_ms = (long)(cfg->node_timeout * 1000);
	m->ops.connect_timeout_ms = (long)(cfg->node_connect_timeout * 1000);
}

static const char *key_str(const uint8_t k[32], char buf[MPC_ED25519_KEY_STR_MAX])
{
	if (mpc_ed25519_key_format(k, buf, NULL) != MPC_OK)
		snprintf(buf, MPC_ED25519_KEY_STR_MAX, "ed25519:?");
	return buf;
}

/* A "cannot act" notice: logged when it changes, silent while it stays the same. */
static void notice(struct mpc_monitor *m, char *slot, enum mpc_log_level lvl, const char *msg)
{
	if (strcmp(slot, msg) == 0)
		return;
	snprintf(slot, MPC_ERR_MSG_MAX, "%s", msg);
	if (msg[0] != '\0')
		mpc_log(m->log, lvl, "%s", msg);
}

static void check_registration(struct mpc_monitor *m, const struct mpc_contract_view *v)
{
	char ours[MPC_ED25519_KEY_STR_MAX], theirs[MPC_ED25519_KEY_STR_MAX], msg[MPC_ERR_MSG_MAX];

	if (!v->has_migration || !v->migration.has_backup)
		snprintf(msg, sizeof(msg),
			 "no backup service is registered on the contract for %s: the node will "
			 "refuse this service (run `mpc-backup register`)",
			 m->cfg->account);
	else if (!mpc_memeq_ct(v->migration.backup_key, m->ops.tls_pub, 32))
		snprintf(msg, sizeof(msg) - 1,
			 "the contract registers %s as %s's backup service, not this token's key %s: "
			 "the node will refuse this service",
			 key_str(v->migration.backup_key, theirs), m->cfg->account,
			 key_str(m->ops.tls_pub, ours));
	else
		msg[0] = '\0';
	notice(m, m->reg_note, MPC_LOG_WARN, msg);
}

static void backup_duty(struct mpc_monitor *m, const struct mpc_contract_view *v, double now)
{
	struct mpc_backup_outcome out;
	struct mpc_err e = { 0 };
	char addr[MPC_ADDRESS_MAX], msg[MPC_ERR_MSG_MAX];
	int covered = 0, rc;

	if (!v->has_keyset)
		return;
	rc = mpc_store_covers(m->ops.store, &v->keyset, &covered, NULL, &e);
	if (rc != MPC_OK) {
		mpc_metrics_health(m->metrics, MPC_HEALTH_STORE, 0, "cannot read the store");
		notice(m, m->note, MPC_LOG_ERROR, e.msg);
		return;
	}
	if (covered) {
		mpc_metrics_count(m->metrics, MPC_COUNT_BACKUPS_COVERED);
		return;
	}
	if (!v->has_own) {
		snprintf(msg, sizeof(msg),
			 "keyset of epoch %llu is not backed up, and %s is not a participant of the "
			 "running state: there is no node to back it up from",
			 (unsigned long long)v->keyset.epoch_id, m->cfg->account);
		notice(m, m->note, MPC_LOG_WARN, msg);
		return;
	}
	if (!mpc_retry_ready(&m->backup, now))
		return;
	rc = mpc_migration_address(&m->addr, v->own.account_id, v->own.info.url, v->own.info.tls_key,
				   addr, NULL, &e);
	if (rc == MPC_OK)
		rc = mpc_op_backup(&m->ops, addr, v->own.info.tls_key, &v->keyset, &out, &e);
	if (rc == MPC_OK && out.already_covered)
		return;
	if (rc == MPC_OK) {
		mpc_metrics_token_op(m->metrics, out.t.token_s);
		mpc_metrics_backup_stored(m->metrics, v->keyset.epoch_id, (double)time(NULL));
		mpc_metrics_health(m->metrics, MPC_HEALTH_STORE, 1, NULL);
		if (mpc_retry_succeeded(&m->backup))
			mpc_log(m->log, MPC_LOG_INFO, "backup works again");
		mpc_log(m->log, MPC_LOG_INFO,
			"backed up epoch %llu (%zu domains, %zu bytes) from %s into %s "
			"(node %.1f ms, token %.2f ms, disk %.1f ms)",
			(unsigned long long)v->keyset.epoch_id, v->keyset.n_domains, out.bytes, addr,
			out.file, out.t.node_s * 1e3, out.t.token_s * 1e3, out.t.disk_s * 1e3);
		return;
	}
	if (rc == MPC_ERR_CANCELLED)
		return; /* shutting down: not a failure */
	mpc_metrics_count(m->metrics, MPC_COUNT_BACKUPS_ERROR);
	if (rc == MPC_ERR_PKCS11 || rc == MPC_ERR_PIN || rc == MPC_ERR_OBJECT_NOT_FOUND)
		mpc_metrics_health(m->metrics, MPC_HEALTH_TOKEN, 0, "token operation failed (see the log)");
	if (mpc_retry_failed(&m->backup, now, m->cfg->backoff_initial, m->cfg->backoff_max, e.msg))
		mpc_log(m->log, MPC_LOG_ERROR,
			"backup of epoch %llu failed: %s (retrying with backoff, now %.1f s)",
			(unsigned long long)v->keyset.epoch_id, e.msg, m->backup.delay);
}

/* The node to push to, if the contract names one for the operator. */
static int push_target(const struct mpc_contract_view *v, enum mpc_push_kind *kind,
		       const struct mpc_participant_info **target)
{
	if (v->has_migration && v->migration.has_destination) {
		*kind = MPC_PUSH_MIGRATION;
		*target = &v->migration.destination;
		return 1;
	}
	if (v->kind == MPC_STATE_RECOVERY && v->has_prospective) {
		*kind = MPC_PUSH_RECOVERY;
		*target = &v->prospective.info;
		return 1;
	}
	return 0;
}

static const char *kind_name(enum mpc_push_kind k)
{
	return k == MPC_PUSH_RECOVERY ? "recovery" : "migration";
}

static void push_ended(struct mpc_monitor *m, const struct mpc_contract_view *v)
{
	struct mpc_push_state *p = &m->push;
	char key[MPC_ED25519_KEY_STR_MAX];
	int concluded = v->has_own && mpc_memeq_ct(v->own.info.tls_key, p->target.tls_key, 32);

	mpc_metrics_count(m->metrics, concluded ? MPC_COUNT_MIGRATIONS_CONCLUDED
						 : MPC_COUNT_MIGRATIONS_CANCELLED);
	if (concluded)
		mpc_log(m->log, MPC_LOG_INFO,
			"%s concluded: %s is now %s's participant (node %s) in state %s", kind_name(p->kind),
			key_str(p->target.tls_key, key), m->cfg->account, p->address,
			mpc_protocol_kind_name(v->kind));
	else
		mpc_log(m->log, MPC_LOG_WARN,
			"%s to %s (%s) was cancelled on the contract (state %s)%s", kind_name(p->kind),
			key_str(p->target.tls_key, key), p->address, mpc_protocol_kind_name(v->kind),
			p->phase == MPC_PUSH_SENT ? " after the keyshares were pushed"
						  : " before any push succeeded");
	memset(p, 0, sizeof(*p));
	p->phase = concluded ? MPC_PUSH_CONCLUDED : MPC_PUSH_CANCELLED;
}

static void push_duty(struct mpc_monitor *m, const struct mpc_contract_view *v, double now)
{
	struct mpc_push_state *p = &m->push;
	const struct mpc_participant_info *target = NULL;
	enum mpc_push_kind kind = MPC_PUSH_MIGRATION;
	struct mpc_push_outcome out;
	struct mpc_err e = { 0 };
	char key[MPC_ED25519_KEY_STR_MAX];
	int rc;

	if (!push_target(v, &kind, &target)) {
		if (push_active(p))
			push_ended(m, v);
		return;
	}
	if (push_active(p) && (p->kind != kind || memcmp(p->target.tls_key, target->tls_key, 32) != 0 ||
			  strcmp(p->target.url, target->url) != 0)) {
		mpc_log(m->log, MPC_LOG_WARN,
			"the %s destination changed from %s (%s): pushing to the new one only",
			kind_name(p->kind), key_str(p->target.tls_key, key), p->address);
		memset(p, 0, sizeof(*p));
	}
	if (!push_active(p)) {
		memset(p, 0, sizeof(*p));
		p->phase = MPC_PUSH_PENDING;
		p->kind = kind;
		p->target = *target;
		rc = mpc_migration_address(&m->addr, m->cfg->account, target->url, target->tls_key,
					   p->address, NULL, &e);
		if (rc != MPC_OK)
			snprintf(p->address, sizeof(p->address), "(unknown)");
		mpc_log(m->log, MPC_LOG_INFO, "%s of %s to %s at %s (contract URL %s)%s%s", kind_name(kind),
			m->cfg->account, key_str(target->tls_key, key), p->address, target->url,
			rc != MPC_OK ? ": " : "", rc != MPC_OK ? e.msg : "");
		mpc_err_clear(&e);
	}
	if (!v->has_keyset) {
		notice(m, m->note, MPC_LOG_WARN,
		       "a destination is named but the contract has no keyset to push");
		return;
	}
	if (p->phase == MPC_PUSH_SENT && p->epoch == v->keyset.epoch_id)
		return; /* waiting for the contract; a 200 is not success */
	if (!mpc_retry_ready(&p->retry, now))
		return;
	rc = mpc_migration_address(&m->addr, m->cfg->account, target->url, target->tls_key,
				   p->address, NULL, &e);
	if (rc == MPC_OK)
		rc = mpc_op_push(&m->ops, p->address, target->tls_key, &v->keyset, 0, 0, &out, &e);
	if (rc == MPC_OK) {
		mpc_metrics_token_op(m->metrics, out.t.token_s);
		mpc_metrics_count(m->metrics, MPC_COUNT_PUSHES_OK);
		mpc_retry_succeeded(&p->retry);
		p->phase = MPC_PUSH_SENT;
		p->pushes_ok++;
		p->epoch = out.epoch;
		mpc_log(m->log, MPC_LOG_INFO,
			"pushed epoch %llu (%zu domains, %zu bytes, from %s) to %s: the node took them; "
			"waiting for the contract to conclude the %s",
			(unsigned long long)out.epoch, out.n_domains, out.bytes, out.file, p->address,
			kind_name(p->kind));
		return;
	}
	if (rc == MPC_ERR_CANCELLED)
		return; /* shutting down: not a failure */
	mpc_metrics_count(m->metrics, MPC_COUNT_PUSHES_ERROR);
	if (mpc_retry_failed(&p->retry, now, m->cfg->backoff_initial, m->cfg->backoff_max, e.msg))
		mpc_log(m->log, MPC_LOG_ERROR, "%s push to %s failed: %s (retrying with backoff, now %.1f s)",
			kind_name(p->kind), p->address, e.msg, p->retry.delay);
}

int mpc_monitor_verify_store(struct mpc_monitor *m)
{
	struct mpc_store_verify_report r;
	struct mpc_err e = { 0 };
	double t0 = mpc_now_monotonic();
	int rc = mpc_store_verify(m->ops.store, m->ops.seal_tokens, m->ops.n_seal, &r, &e);

	if (rc != MPC_OK) {
		mpc_metrics_health(m->metrics, MPC_HEALTH_STORE, 0, "store verification could not run");
		mpc_log(m->log, MPC_LOG_ERROR, "store verification could not run: %s", e.msg);
		return rc;
	}
	mpc_metrics_token_op(m->metrics, mpc_now_monotonic() - t0);
	if (r.n_failed > 0) {
		char why[256];

		snprintf(why, sizeof(why), "%zu stored keyset(s) fail verification", r.n_failed);
		mpc_metrics_health(m->metrics, MPC_HEALTH_STORE, 0, why);
		for (size_t i = 0; i < r.n; i++)
			if (!r.items[i].ok && !r.items[i].quarantined)
				mpc_log(m->log, MPC_LOG_ERROR, "store: %s: %s", r.items[i].name,
					r.items[i].msg);
	} else {
		mpc_metrics_health(m->metrics, MPC_HEALTH_STORE, 1, NULL);
		mpc_log(m->log, MPC_LOG_INFO, "store verified: %zu keyset(s) open and match their headers",
			r.n_ok);
	}
	rc = r.n_failed > 0 ? MPC_ERR_AUTH : MPC_OK;
	mpc_store_verify_report_free(&r);
	return rc;
}

int mpc_monitor_poll(struct mpc_monitor *m)
{
	struct mpc_endpoint_outcome outcomes[MPC_QUORUM_MAX_ENDPOINTS];
	struct mpc_contract_view v;
	struct mpc_err e = { 0 };
	size_t n = mpc_quorum_size(m->quorum);
	double now;
	int rc;

	memset(&v, 0, sizeof(v));
	memset(outcomes, 0, sizeof(outcomes));
	rc = mpc_quorum_poll(m->quorum, m->cfg->account, &v, outcomes, &e);
	now = mpc_now_monotonic();
	mpc_metrics_count(m->metrics, MPC_COUNT_POLLS);
	if (rc == MPC_ERR_DISAGREE)
		mpc_metrics_count(m->metrics, MPC_COUNT_DISAGREEMENTS);
	for (size_t i = 0; i < n; i++)
		mpc_metrics_endpoint(m->metrics, outcomes[i].endpoint,
				     (enum mpc_read_outcome)outcomes[i].status);
	if (rc != MPC_OK) {
		mpc_metrics_health(m->metrics, MPC_HEALTH_CONTRACT, 0,
				   rc == MPC_ERR_DISAGREE ? "RPC endpoints disagree" : "contract read failed");
		if (mpc_retry_failed(&m->read, now, 0, 0, e.msg))
			mpc_log(m->log, MPC_LOG_WARN, "contract read: %s; taking no action until %zu of %zu endpoints agree",
				e.msg, mpc_quorum_threshold(m->quorum), n);
		return rc;
	}
	mpc_metrics_health(m->metrics, MPC_HEALTH_CONTRACT, 1, NULL);
	if (mpc_retry_succeeded(&m->read))
		mpc_log(m->log, MPC_LOG_INFO, "contract reads agree again (%s)",
			mpc_protocol_kind_name(v.kind));
	check_registration(m, &v);
	backup_duty(m, &v, now);
	push_duty(m, &v, now);
	if (now >= m->next_verify) {
		(void)mpc_monitor_verify_store(m);
		m->next_verify = now + m->cfg->verify_interval;
	}
	mpc_contract_view_free(&v);
	return MPC_OK;
}
