/* monitor.c: the monitor's decisions: what to do after each agreed contract read. */
#include "src/monitor/monitor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "src/contract/rpc.h"
#include "src/model/near_key.h"
#include "src/store/drill.h"
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

/* An oddity starts or clears: logged once each way, counted and shown by the metrics. */
static void anomaly(struct mpc_monitor *m, enum mpc_anomaly a, int active, const char *why,
		    const char *cleared)
{
	if (!mpc_metrics_anomaly(m->metrics, a, active, why))
		return;
	if (active)
		mpc_log(m->log, MPC_LOG_WARN, "%s", why);
	else
		mpc_log(m->log, MPC_LOG_WARN, "cleared: %s", cleared);
}

static void check_registration(struct mpc_monitor *m, const struct mpc_contract_view *v)
{
	char ours[MPC_ED25519_KEY_STR_MAX], theirs[MPC_ED25519_KEY_STR_MAX], msg[MPC_ERR_MSG_MAX];
	const char *contract =
		m->cfg->contract != NULL ? m->cfg->contract : MPC_RPC_DEFAULT_CONTRACT;
	int ok = 0;

	key_str(m->ops.tls_pub, ours);
	if (!v->has_migration || !v->migration.has_backup)
		snprintf(
			msg, sizeof(msg),
			"no backup service is registered on the contract for %s: the node will "
			"refuse this service (run `mpc-backup register --account %s --contract %s` "
			"and submit register_backup_service as %s; the contract removes the "
			"registration of an account that leaves the participants)",
			m->cfg->account, m->cfg->account, contract, m->cfg->account);
	else if (!mpc_memeq_ct(v->migration.backup_key, m->ops.tls_pub, 32))
		snprintf(
			msg, sizeof(msg),
			"the contract registers %s as %s's backup service, not this token's key %s: "
			"the node will refuse this service (run `mpc-backup register --account %s "
			"--contract %s` and submit register_backup_service as %s)",
			key_str(v->migration.backup_key, theirs), m->cfg->account, ours,
			m->cfg->account, contract, m->cfg->account);
	else
		ok = 1;
	anomaly(m, MPC_ANOMALY_REGISTRATION, !ok, msg,
		"migration_info registers this service's key again");
}

/* The epoch going backwards, the operator leaving, an unknown state. */
static void check_oddities(struct mpc_monitor *m, const struct mpc_contract_view *v)
{
	char msg[MPC_ERR_MSG_MAX];

	if (v->has_keyset) {
		int back = m->has_max_epoch && v->keyset.epoch_id < m->max_epoch;

		snprintf(msg, sizeof(msg),
			 "the contract's keyset epoch went backwards: %llu after %llu (epochs only "
			 "grow: the endpoints serve an old state, or the contract was rolled back; "
			 "check them)",
			 (unsigned long long)v->keyset.epoch_id, (unsigned long long)m->max_epoch);
		anomaly(m, MPC_ANOMALY_EPOCH_BACKWARDS, back, msg,
			"the contract's keyset epoch is no longer below one seen before");
		if (!m->has_max_epoch || v->keyset.epoch_id > m->max_epoch)
			m->max_epoch = v->keyset.epoch_id;
		m->has_max_epoch = 1;
	}
	snprintf(msg, sizeof(msg),
		 "the contract is in a state this build does not know, \"%s\": taking no action "
		 "while it lasts (update mpc-backup if the contract has a new state)",
		 v->variant);
	anomaly(m, MPC_ANOMALY_UNKNOWN_STATE, v->kind == MPC_STATE_UNKNOWN, msg,
		"the contract's state is one this build knows again");
	if (v->has_own)
		m->had_own = 1;
	snprintf(
		msg, sizeof(msg),
		"%s is no longer a participant of the contract (state %s): nothing to back up from",
		m->cfg->account, mpc_protocol_kind_name(v->kind));
	anomaly(m, MPC_ANOMALY_OPERATOR_GONE, m->had_own && !v->has_own && v->has_keyset, msg,
		"the operator is a participant again");
}

/* /healthz: the contract's keyset uncovered for longer than uncovered_grace. */
static void coverage_health(struct mpc_monitor *m, const struct mpc_contract_view *v, int covered,
			    double now)
{
	char why[256];

	if (covered) {
		m->uncovered_since = 0;
		mpc_metrics_health(m->metrics, MPC_HEALTH_COVERAGE, 1, NULL);
		return;
	}
	if (m->uncovered_since == 0)
		m->uncovered_since = now;
	if (now - m->uncovered_since < m->cfg->uncovered_grace)
		return;
	snprintf(
		why, sizeof(why),
		"the contract's keyset (epoch %llu) has not been backed up for %.0f s (grace %g s)",
		(unsigned long long)v->keyset.epoch_id, now - m->uncovered_since,
		m->cfg->uncovered_grace);
	mpc_metrics_health(m->metrics, MPC_HEALTH_COVERAGE, 0, why);
}

/* /healthz: backup_failures_unhealthy consecutive failures, with the last one's message. */
static void backup_health(struct mpc_monitor *m)
{
	char why[256];

	if (m->backup.failures < m->cfg->backup_failures_unhealthy) {
		mpc_metrics_health(m->metrics, MPC_HEALTH_BACKUP, 1, NULL);
		return;
	}
	snprintf(why, sizeof(why), "%u backups failed in a row, the last: %.180s",
		 m->backup.failures, m->backup.last);
	mpc_metrics_health(m->metrics, MPC_HEALTH_BACKUP, 0, why);
}

static int token_error(int rc)
{
	return rc == MPC_ERR_PKCS11 || rc == MPC_ERR_PIN || rc == MPC_ERR_OBJECT_NOT_FOUND ||
	       rc == MPC_ERR_MODULE || rc == MPC_ERR_TOKEN_NOT_FOUND;
}

/* The backup duty. *covered: 1/0 whether the store covers the contract's keyset after it, -1
 * unknown; *what: the decision, for the debug log. */
static void backup_duty(struct mpc_monitor *m, const struct mpc_contract_view *v, double now,
			int *covered_out, const char **what)
{
	struct mpc_backup_outcome out;
	struct mpc_err e = { 0 };
	char addr[MPC_ADDRESS_MAX], msg[MPC_ERR_MSG_MAX];
	int covered = 0, rc;

	*covered_out = -1;
	*what = "no keyset to back up";
	if (!v->has_keyset)
		return;
	rc = mpc_store_covers(m->ops.store, &v->keyset, &covered, NULL, &e);
	if (rc != MPC_OK) {
		*what = "the store cannot be read";
		mpc_metrics_health(m->metrics, MPC_HEALTH_STORE, 0, "cannot read the store");
		notice(m, m->note, MPC_LOG_ERROR, e.msg);
		return;
	}
	*covered_out = covered;
	coverage_health(m, v, covered, now);
	if (covered) {
		*what = "covered by the store";
		mpc_metrics_count(m->metrics, MPC_COUNT_BACKUPS_COVERED);
		return;
	}
	if (!v->has_own) {
		snprintf(
			msg, sizeof(msg),
			"keyset of epoch %llu is not backed up, and %s is not a participant of the "
			"running state: there is no node to back it up from",
			(unsigned long long)v->keyset.epoch_id, m->cfg->account);
		notice(m, m->note, MPC_LOG_WARN, msg);
		*what = "not covered, and no node of the operator to back it up from";
		return;
	}
	if (m->token_down) {
		*what = "not covered: backup waits for the token (unavailable)";
		return;
	}
	if (!mpc_retry_ready(&m->backup, now)) {
		*what = "not covered: backup waits for its backoff";
		return;
	}
	rc = mpc_migration_address(&m->addr, v->own.account_id, v->own.info.url,
				   v->own.info.tls_key, addr, NULL, &e);
	if (rc == MPC_OK)
		rc = mpc_op_backup(&m->ops, addr, v->own.info.tls_key, &v->keyset, &out, &e);
	if (rc == MPC_OK && out.already_covered) {
		*what = "covered by the store (found while backing up)";
		*covered_out = 1;
		coverage_health(m, v, 1, now);
		return;
	}
	if (rc == MPC_OK) {
		*what = "backed up";
		*covered_out = 1;
		coverage_health(m, v, 1, now);
		mpc_metrics_token_op(m->metrics, out.t.token_s);
		mpc_metrics_backup_stored(m->metrics, v->keyset.epoch_id, (double)time(NULL));
		mpc_metrics_health(m->metrics, MPC_HEALTH_STORE, 1, NULL);
		mpc_metrics_health(m->metrics, MPC_HEALTH_TOKEN, 1, NULL);
		if (mpc_retry_succeeded(&m->backup))
			mpc_log(m->log, MPC_LOG_INFO, "backup works again");
		backup_health(m);
		mpc_log(m->log, MPC_LOG_INFO,
			"backed up epoch %llu (%zu domains, %zu bytes) from %s into %s "
			"(node %.1f ms, token %.2f ms, disk %.1f ms)",
			(unsigned long long)v->keyset.epoch_id, v->keyset.n_domains, out.bytes,
			addr, out.file, out.t.node_s * 1e3, out.t.token_s * 1e3,
			out.t.disk_s * 1e3);
		return;
	}
	if (rc == MPC_ERR_CANCELLED) {
		*what = "backup cancelled (stopping)";
		return; /* shutting down: not a failure */
	}
	/* The token went away (the failure says so, or the tokens no longer answer: a TLS
	 * handshake that could not sign looks like the node's doing): not the node's fault, not a
	 * failed backup to retry; the token's recovery backs it up once it is back. */
	if (rc == MPC_ERR_TOKEN_UNAVAILABLE || mpc_monitor_token_probe(m, now)) {
		if (rc == MPC_ERR_TOKEN_UNAVAILABLE)
			mpc_monitor_token_lost(m, now, e.msg);
		mpc_log(m->log, MPC_LOG_DEBUG, "backup of epoch %llu stopped: %s",
			(unsigned long long)v->keyset.epoch_id, e.msg);
		*what = "backup stopped: a token is unavailable";
		return;
	}
	*what = "backup failed";
	mpc_metrics_count(m->metrics, MPC_COUNT_BACKUPS_ERROR);
	if (token_error(rc)) {
		char why[256];

		snprintf(why, sizeof(why), "token error: %.200s", e.msg);
		mpc_metrics_health(m->metrics, MPC_HEALTH_TOKEN, 0, why);
	}
	if (mpc_retry_failed(&m->backup, now, m->cfg->backoff_initial, m->cfg->backoff_max, e.msg))
		mpc_log(m->log, MPC_LOG_ERROR,
			"backup of epoch %llu failed: %s (retrying with backoff, now %.1f s)",
			(unsigned long long)v->keyset.epoch_id, e.msg, m->backup.delay);
	backup_health(m);
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

static int same_target(const struct mpc_participant_info *a, const struct mpc_participant_info *b)
{
	return memcmp(a->tls_key, b->tls_key, 32) == 0 && strcmp(a->url, b->url) == 0;
}

/* Do two agreeing views say the same about what to push, where, and how it ends? */
static int same_push_view(const struct mpc_contract_view *a, const struct mpc_contract_view *b)
{
	const struct mpc_participant_info *ta = NULL, *tb = NULL;
	enum mpc_push_kind ka = MPC_PUSH_MIGRATION, kb = MPC_PUSH_MIGRATION;
	int ha = push_target(a, &ka, &ta), hb = push_target(b, &kb, &tb);

	if (a->kind != b->kind || ha != hb || (ha && (ka != kb || !same_target(ta, tb))))
		return 0;
	if (a->has_keyset != b->has_keyset ||
	    (a->has_keyset && !mpc_keyset_equal(&a->keyset, &b->keyset)))
		return 0;
	return a->has_own == b->has_own &&
	       (!a->has_own || memcmp(a->own.info.tls_key, b->own.info.tls_key, 32) == 0);
}

static const char *kind_name(enum mpc_push_kind k)
{
	return k == MPC_PUSH_RECOVERY ? "recovery" : "migration";
}

static void push_reset(struct mpc_push_state *p, enum mpc_push_phase phase)
{
	mpc_keyset_free(&p->pushed);
	memset(p, 0, sizeof(*p));
	p->phase = phase;
}

/* "epoch 4 [0@240 1@0 2@0]" */
static void keyset_str(const struct mpc_keyset *ks, char *out, size_t cap)
{
	size_t o;

	snprintf(out, cap, "epoch %llu [", (unsigned long long)ks->epoch_id);
	o = strlen(out);
	for (size_t i = 0; i < ks->n_domains && o + 24 < cap; i++) {
		snprintf(out + o, cap - o, "%s%llu@%llu", i ? " " : "",
			 (unsigned long long)ks->domains[i].domain_id,
			 (unsigned long long)ks->domains[i].attempt);
		o += strlen(out + o);
	}
	snprintf(out + o, cap - o, "%s]", o + 24 < cap ? "" : "...");
}

static void push_ended(struct mpc_monitor *m, const struct mpc_contract_view *v)
{
	struct mpc_push_state *p = &m->push;
	char key[MPC_ED25519_KEY_STR_MAX], what[MPC_ERR_MSG_MAX];
	int concluded = v->has_own && mpc_memeq_ct(v->own.info.tls_key, p->target.tls_key, 32);

	mpc_metrics_count(m->metrics, concluded ? MPC_COUNT_MIGRATIONS_CONCLUDED
						: MPC_COUNT_MIGRATIONS_CANCELLED);
	if (concluded) {
		mpc_log(m->log, MPC_LOG_INFO,
			"%s concluded: %s is now %s's participant (node %s) in state %s",
			kind_name(p->kind), key_str(p->target.tls_key, key), m->cfg->account,
			p->address, mpc_protocol_kind_name(v->kind));
		push_reset(p, MPC_PUSH_CONCLUDED);
		return;
	}
	/* Say what happened to this destination, not what the phase suggests. */
	if (p->pushes_ok > 0)
		snprintf(what, sizeof(what),
			 "after the node took the keyshares (%u push(es) taken, the last of epoch "
			 "%llu; %u failed)",
			 p->pushes_ok, (unsigned long long)p->epoch, p->pushes_failed);
	else if (p->pushes_failed > 0)
		snprintf(what, sizeof(what),
			 "before any push succeeded (%u push(es) failed, the last with: %.400s)",
			 p->pushes_failed, p->retry.last);
	else
		snprintf(what, sizeof(what), "before any push was attempted");
	mpc_log(m->log, MPC_LOG_WARN, "%s to %s (%s) was cancelled on the contract (state %s) %s",
		kind_name(p->kind), key_str(p->target.tls_key, key), p->address,
		mpc_protocol_kind_name(v->kind), what);
	push_reset(p, MPC_PUSH_CANCELLED);
}

/* "; ..." about the destination's attestation for the diagnosis (empty when every endpoint
 * that answered has one); its length. Asks each endpoint the contract's `get_attestation` for
 * the destination's TLS key: rare (once per migration that does not conclude), so no pooling. */
static int attestation_note(struct mpc_monitor *m, const uint8_t tls_key[32], char *out, size_t cap)
{
	struct mpc_rpc_options ro;
	char key[MPC_ED25519_KEY_STR_MAX], args[128], failed[256] = "";
	size_t n = m->cfg->n_rpc_url, nulls = 0, some = 0, errors = 0;

	memset(&ro, 0, sizeof(ro));
	ro.contract = m->cfg->contract;
	ro.timeout_ms = (long)(m->cfg->rpc_timeout * 1000);
	ro.connect_timeout_ms = ro.timeout_ms;
	ro.cancel = m->ops.cancel;
	snprintf(args, sizeof(args), "{\"tls_public_key\":\"%s\"}", key_str(tls_key, key));
	for (size_t i = 0; i < n; i++) {
		struct mpc_rpc_endpoint *ep = NULL;
		struct mpc_rpc_query q = { "get_attestation", args, 0 };
		struct mpc_rpc_result r;
		struct mpc_err e = { 0 };
		json_t *j = NULL;

		/* a stop between endpoints ends the diagnosis (each call runs to its timeout) */
		if (m->ops.cancel != NULL && *m->ops.cancel)
			return snprintf(out, cap, "; the attestation check was stopped");
		memset(&r, 0, sizeof(r));
		if (mpc_rpc_endpoint_new(m->cfg->rpc_url[i], &ro, &ep, &e) == MPC_OK &&
		    mpc_rpc_call(ep, &q, &r, &e) == MPC_OK)
			j = json_loadb(r.json, r.len, JSON_DECODE_ANY, NULL);
		if (j != NULL && json_is_null(j))
			nulls++;
		else if (j != NULL)
			some++;
		else if (errors++ == 0)
			snprintf(failed, sizeof(failed), "%.200s", e.msg[0] ? e.msg : "not JSON");
		json_decref(j);
		mpc_rpc_result_free(&r);
		mpc_rpc_endpoint_free(ep);
	}
	if (nulls > 0)
		return snprintf(out, cap,
				"; the contract has no attestation for the destination: "
				"get_attestation(%s) returns null (%zu of %zu endpoints)",
				key, nulls, n);
	if (some == 0)
		return snprintf(out, cap, "; the destination's attestation could not be read (%s)",
				failed);
	return 0;
}

/* The push was taken conclude_timeout ago and the contract has not concluded: say once which
 * of conclude_node_migration's conditions the contract shows as unmet. */
static void diagnose_conclusion(struct mpc_monitor *m, const struct mpc_contract_view *v,
				double now)
{
	struct mpc_push_state *p = &m->push;
	char key[MPC_ED25519_KEY_STR_MAX], signer[MPC_NEAR_KEY_STR_MAX], ks[160], ks2[160];
	char unmet[MPC_ERR_MSG_MAX] = "";
	size_t o = 0;

	if (p->diagnosed || p->kind != MPC_PUSH_MIGRATION ||
	    now - p->sent_at < m->cfg->conclude_timeout)
		return;
	p->diagnosed = 1;
	if (v->kind != MPC_STATE_RUNNING)
		o += (size_t)snprintf(unmet + o, sizeof(unmet) - o,
				      "; the contract is in state %s, not Running",
				      mpc_protocol_kind_name(v->kind));
	if (o < sizeof(unmet) &&
	    (!v->has_keyset || !p->has_pushed || !mpc_keyset_equal(&v->keyset, &p->pushed))) {
		if (v->has_keyset)
			keyset_str(&v->keyset, ks, sizeof(ks));
		else
			snprintf(ks, sizeof(ks), "none");
		if (p->has_pushed)
			keyset_str(&p->pushed, ks2, sizeof(ks2));
		else
			snprintf(ks2, sizeof(ks2), "none");
		o += (size_t)
			snprintf(unmet + o, sizeof(unmet) - o,
				 "; the contract's keyset (%s) differs from the one pushed (%s)",
				 ks, ks2);
	}
	if (o < sizeof(unmet))
		o += (size_t)attestation_note(m, p->target.tls_key, unmet + o, sizeof(unmet) - o);
	if (!v->has_migration || !v->migration.has_destination ||
	    mpc_near_key_format(v->migration.signer_curve, v->migration.signer_pk,
				v->migration.signer_pk_len, signer, NULL) != MPC_OK)
		snprintf(signer, sizeof(signer), "(unknown)");
	mpc_log(m->log, MPC_LOG_WARN,
		"the migration to %s (%s) has not concluded %.0f s after the node took the "
		"keyshares. conclude_node_migration needs the state Running, the contract's keyset "
		"equal to the one pushed, the destination's attestation, and a transaction signed "
		"by the access key the contract expects, %s, on %s (the destination node must hold "
		"it). Unmet as the contract shows it: %s. To give up: cancel_node_migration (see "
		"docs/operations.md)",
		key_str(p->target.tls_key, key), p->address, now - p->sent_at, signer,
		m->cfg->account,
		o > 0 ? unmet + 2
		      : "none of the state, the keyset or the "
			"attestation (check the destination node's log and its signer key)");
}

static void push_duty(struct mpc_monitor *m, const struct mpc_contract_view *v, double now)
{
	struct mpc_push_state *p = &m->push;
	const struct mpc_participant_info *target = NULL;
	enum mpc_push_kind kind = MPC_PUSH_MIGRATION;
	struct mpc_push_outcome out;
	struct mpc_err e = { 0 };
	char key[MPC_ED25519_KEY_STR_MAX], msg[MPC_ERR_MSG_MAX], a[160], b[160];
	int has = push_target(v, &kind, &target), rc;

	/* Act only on what two consecutive agreeing polls show. */
	if (!m->has_prev || !same_push_view(&m->prev, v)) {
		if (m->has_announced && (!has || !same_target(target, &m->announced))) {
			mpc_log(m->log, MPC_LOG_WARN,
				"the %s destination %s named in one poll is not named in the next: not "
				"acted on (a target must hold for two consecutive polls)",
				kind_name(m->announced_kind), key_str(m->announced.tls_key, key));
			m->has_announced = 0;
		}
		if (has && !(push_active(p) && same_target(&p->target, target)) &&
		    !(m->has_announced && same_target(target, &m->announced))) {
			mpc_log(m->log, MPC_LOG_INFO,
				"%s destination %s (contract URL %s) named for %s: acting if the next "
				"poll agrees",
				kind_name(kind), key_str(target->tls_key, key), target->url,
				m->cfg->account);
			m->has_announced = 1;
			m->announced_kind = kind;
			m->announced = *target;
		}
		return;
	}
	m->has_announced = 0;
	if (!has) {
		if (push_active(p))
			push_ended(m, v);
		notice(m, m->push_note, MPC_LOG_INFO, "");
		return;
	}
	if (push_active(p) && (p->kind != kind || !same_target(&p->target, target))) {
		mpc_log(m->log, MPC_LOG_WARN,
			"the %s destination changed from %s (%s): pushing to the new one only",
			kind_name(p->kind), key_str(p->target.tls_key, key), p->address);
		push_reset(p, MPC_PUSH_IDLE);
	}
	if (!push_active(p)) {
		push_reset(p, MPC_PUSH_PENDING);
		p->kind = kind;
		p->target = *target;
		rc = mpc_migration_address(&m->addr, m->cfg->account, target->url, target->tls_key,
					   p->address, NULL, &e);
		if (rc != MPC_OK)
			snprintf(p->address, sizeof(p->address), "(unknown)");
		mpc_log(m->log, MPC_LOG_INFO, "%s of %s to %s at %s (contract URL %s)%s%s",
			kind_name(kind), m->cfg->account, key_str(target->tls_key, key), p->address,
			target->url, rc != MPC_OK ? ": " : "", rc != MPC_OK ? e.msg : "");
		mpc_err_clear(&e);
	}
	if (!v->has_keyset) {
		notice(m, m->note, MPC_LOG_WARN,
		       "a destination is named but the contract has no keyset to push");
		return;
	}
	/* The node imports only in Running (Recovery is the seed design's own state). */
	if (kind == MPC_PUSH_MIGRATION && v->kind != MPC_STATE_RUNNING) {
		snprintf(
			msg, sizeof(msg),
			"the contract is in state %s: the destination node imports keyshares only in "
			"Running, so the migration to %s waits (a state change does not cancel it)",
			mpc_protocol_kind_name(v->kind), key_str(target->tls_key, key));
		notice(m, m->push_note, MPC_LOG_INFO, msg);
		if (p->phase == MPC_PUSH_SENT)
			diagnose_conclusion(m, v, now);
		return;
	}
	if (m->push_note[0] != '\0') {
		mpc_log(m->log, MPC_LOG_INFO, "the contract is %s again: the %s resumes",
			mpc_protocol_kind_name(v->kind), kind_name(kind));
		m->push_note[0] = '\0';
	}
	if (p->phase == MPC_PUSH_SENT) {
		if (p->has_pushed && mpc_keyset_equal(&p->pushed, &v->keyset)) {
			diagnose_conclusion(m, v, now);
			return; /* waiting for the contract; a 200 is not success */
		}
		keyset_str(&p->pushed, a, sizeof(a));
		keyset_str(&v->keyset, b, sizeof(b));
		mpc_log(m->log, MPC_LOG_INFO,
			"the contract's keyset changed since the push (%s, now %s): pushing the %s "
			"again so that the destination holds exactly the contract's keyset",
			a, b, kind_name(kind));
		p->phase = MPC_PUSH_PENDING;
		p->diagnosed = 0;
		mpc_retry_reset(&p->retry);
	}
	if (m->token_down || !mpc_retry_ready(&p->retry, now))
		return; /* a token unavailable: pushed once it is back */
	rc = mpc_migration_address(&m->addr, m->cfg->account, target->url, target->tls_key,
				   p->address, NULL, &e);
	if (rc == MPC_OK)
		rc = mpc_op_push(&m->ops, p->address, target->tls_key, &v->keyset, 0, 0, &out, &e);
	if (rc == MPC_OK) {
		struct mpc_keyset copy;

		mpc_metrics_token_op(m->metrics, out.t.token_s);
		mpc_metrics_health(m->metrics, MPC_HEALTH_TOKEN, 1, NULL);
		mpc_metrics_count(m->metrics, MPC_COUNT_PUSHES_OK);
		mpc_retry_succeeded(&p->retry);
		memset(&copy, 0, sizeof(copy));
		if (mpc_keyset_copy(&copy, &v->keyset, NULL) == MPC_OK) {
			mpc_keyset_free(&p->pushed);
			p->pushed = copy;
			p->has_pushed = 1;
		}
		p->phase = MPC_PUSH_SENT;
		p->pushes_ok++;
		p->sent_at = now;
		p->diagnosed = 0;
		p->epoch = out.epoch;
		mpc_log(m->log, MPC_LOG_INFO,
			"pushed epoch %llu (%zu domains, %zu bytes, from %s) to %s: the node took them; "
			"waiting for the contract to conclude the %s",
			(unsigned long long)out.epoch, out.n_domains, out.bytes, out.file,
			p->address, kind_name(p->kind));
		return;
	}
	if (rc == MPC_ERR_CANCELLED)
		return; /* shutting down: not a failure */
	if (rc == MPC_ERR_TOKEN_UNAVAILABLE || mpc_monitor_token_probe(m, now)) {
		if (rc == MPC_ERR_TOKEN_UNAVAILABLE)
			mpc_monitor_token_lost(m, now, e.msg);
		mpc_log(m->log, MPC_LOG_DEBUG, "%s push to %s stopped: %s", kind_name(p->kind),
			p->address, e.msg);
		return; /* not the destination's fault: pushed once the token is back */
	}
	mpc_metrics_count(m->metrics, MPC_COUNT_PUSHES_ERROR);
	if (token_error(rc)) {
		char why[256];

		snprintf(why, sizeof(why), "token error: %.200s", e.msg);
		mpc_metrics_health(m->metrics, MPC_HEALTH_TOKEN, 0, why);
	}
	p->pushes_failed++;
	if (strstr(e.msg, "answered HTTP 500: keyshares receiver channel is closed") != NULL)
		mpc_err_prefix(&e,
			       "the destination node has left onboarding and no longer imports "
			       "keyshares (near/mpc #3406): restart the destination node, which "
			       "fixes it; ");
	if (mpc_retry_failed(&p->retry, now, m->cfg->backoff_initial, m->cfg->backoff_max, e.msg))
		mpc_log(m->log, MPC_LOG_ERROR,
			"%s push to %s failed: %s (retrying with backoff, now %.1f s)",
			kind_name(p->kind), p->address, e.msg, p->retry.delay);
}

int mpc_monitor_verify_store(struct mpc_monitor *m)
{
	struct mpc_store_verify_report r;
	struct mpc_err e = { 0 };
	double t0 = mpc_now_monotonic();
	int rc;

	if (m->token_down)
		return MPC_ERR_TOKEN_UNAVAILABLE; /* runs once the token is back */
	memset(&r, 0, sizeof(r));
	rc = mpc_store_verify(m->ops.store, m->ops.seal_tokens, m->ops.n_seal, &r, &e);
	if (rc == MPC_ERR_TOKEN_UNAVAILABLE) {
		/* says nothing about any file: the store's health stays as it was */
		mpc_monitor_token_lost(m, t0, e.msg);
		return rc;
	}
	/* Files that fail while the tokens do not answer are the token's failure, not theirs. */
	if (rc == MPC_OK && r.n_failed > 0 && mpc_monitor_token_probe(m, t0)) {
		mpc_store_verify_report_free(&r);
		return MPC_ERR_TOKEN_UNAVAILABLE;
	}
	if (rc != MPC_OK) {
		if (token_error(rc)) {
			char why[256];

			snprintf(why, sizeof(why), "token error: %.200s", e.msg);
			mpc_metrics_health(m->metrics, MPC_HEALTH_TOKEN, 0, why);
		}
		mpc_metrics_health(m->metrics, MPC_HEALTH_STORE, 0,
				   "store verification could not run");
		mpc_log(m->log, MPC_LOG_ERROR, "store verification could not run: %s", e.msg);
		return rc;
	}
	mpc_metrics_token_op(m->metrics, mpc_now_monotonic() - t0);
	if (r.n_ok > 0)
		mpc_metrics_health(m->metrics, MPC_HEALTH_TOKEN, 1, NULL);
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
		mpc_log(m->log, MPC_LOG_INFO,
			"store verified: %zu keyset(s) open and match their headers", r.n_ok);
	}
	rc = r.n_failed > 0 ? MPC_ERR_AUTH : MPC_OK;
	mpc_store_verify_report_free(&r);
	return rc;
}

int mpc_monitor_read_store(struct mpc_monitor *m)
{
	struct mpc_store_list l;
	struct mpc_err e = { 0 };
	const struct mpc_store_entry *newest = NULL;
	int rc;

	memset(&l, 0, sizeof(l));
	rc = mpc_store_list(m->ops.store, &l, &e);
	if (rc != MPC_OK) {
		mpc_log(m->log, MPC_LOG_ERROR, "cannot list the store: %s", e.msg);
		return rc;
	}
	for (size_t i = 0; i < l.n; i++) {
		const struct mpc_store_entry *it = &l.items[i];

		if (it->quarantined || !it->header_ok)
			continue;
		if (newest == NULL || it->hdr.epoch > newest->hdr.epoch ||
		    (it->hdr.epoch == newest->hdr.epoch && it->hdr.created > newest->hdr.created))
			newest = it;
	}
	if (newest != NULL) {
		mpc_metrics_backup_found(m->metrics, newest->hdr.epoch,
					 (double)newest->hdr.created);
		mpc_log(m->log, MPC_LOG_INFO, "the store's newest backup: epoch %llu (%s)",
			(unsigned long long)newest->hdr.epoch, newest->name);
	} else {
		mpc_log(m->log, MPC_LOG_INFO, "the store holds no backup yet");
	}
	mpc_store_list_free(&l);
	return MPC_OK;
}

int mpc_monitor_drill(struct mpc_monitor *m, const struct mpc_keyset *contract_ks)
{
	struct mpc_drill_report r;
	struct mpc_err e = { 0 };
	char *text = NULL;
	double t0 = mpc_now_monotonic();
	int rc;

	if (m->token_down)
		return MPC_ERR_TOKEN_UNAVAILABLE; /* runs once the token is back */
	memset(&r, 0, sizeof(r));
	rc = mpc_drill_run(m->ops.store, m->ops.seal_tokens, m->ops.n_seal, contract_ks, &r, &e);
	if (rc == MPC_ERR_TOKEN_UNAVAILABLE) {
		mpc_monitor_token_lost(m, t0, e.msg);
		return rc;
	}
	if (rc == MPC_OK && (r.n_failed > 0 || !r.restorable) && mpc_monitor_token_probe(m, t0)) {
		mpc_drill_report_free(&r);
		return MPC_ERR_TOKEN_UNAVAILABLE;
	}
	/* the replica copies too, bounded by a poll interval (at least 30 s) */
	if (rc == MPC_OK && m->replicas != NULL && m->replicas->set != NULL) {
		rc = mpc_replica_drill(m->replicas->set, m->ops.store, m->ops.seal_tokens,
				       m->ops.n_seal, contract_ks,
				       mpc_replica_now() + (m->cfg->poll_interval > 30
								    ? m->cfg->poll_interval
								    : 30),
				       &r, &e);
		if (rc == MPC_ERR_TOKEN_UNAVAILABLE ||
		    (rc == MPC_OK && mpc_monitor_token_probe(m, t0))) {
			if (rc == MPC_ERR_TOKEN_UNAVAILABLE)
				mpc_monitor_token_lost(m, t0, e.msg);
			mpc_drill_report_free(&r);
			return MPC_ERR_TOKEN_UNAVAILABLE;
		}
	}
	if (rc != MPC_OK) {
		if (token_error(rc)) {
			char why[256];

			snprintf(why, sizeof(why), "token error: %.200s", e.msg);
			mpc_metrics_health(m->metrics, MPC_HEALTH_TOKEN, 0, why);
		}
		mpc_log(m->log, MPC_LOG_ERROR, "restore drill could not run: %s", e.msg);
		mpc_drill_report_free(&r);
		return rc;
	}
	mpc_metrics_token_op(m->metrics, r.seconds);
	text = malloc(MPC_DRILL_METRICS_MAX);
	if (text != NULL && mpc_drill_metrics_text(&r, text, MPC_DRILL_METRICS_MAX, &e) > 0)
		mpc_metrics_drill(m->metrics, text);
	free(text);
	for (size_t i = 0; i < r.n_replicas; i++) {
		const struct mpc_drill_replica *p = &r.replicas[i];

		for (size_t j = 0; j < p->r.n; j++)
			if (p->r.items[j].verdict == MPC_DRILL_FAILED ||
			    p->r.items[j].verdict == MPC_DRILL_MISMATCH)
				mpc_log(m->log, MPC_LOG_ERROR, "drill: replica %s: %s: %s: %s",
					p->remote, p->r.items[j].name,
					mpc_drill_verdict_name(p->r.items[j].verdict),
					p->r.items[j].msg);
		if (!p->reached)
			mpc_log(m->log, MPC_LOG_ERROR, "drill: replica %s not drilled: %s",
				p->remote, p->error);
		else if (p->r.restorable)
			mpc_log(m->log, MPC_LOG_INFO,
				"drill: replica %s: %s restores and matches %s (%zu copies, %.2f s)",
				p->remote, p->r.restored,
				contract_ks != NULL ? "the contract's keyset" : "its header",
				p->r.n, p->r.seconds);
		else
			mpc_log(m->log, p->r.none_of_epoch ? MPC_LOG_WARN : MPC_LOG_ERROR,
				"drill: replica %s: NOT restorable: %s", p->remote, p->r.problem);
	}
	for (size_t i = 0; i < r.n; i++)
		if (r.items[i].verdict == MPC_DRILL_FAILED ||
		    r.items[i].verdict == MPC_DRILL_MISMATCH)
			mpc_log(m->log, MPC_LOG_ERROR, "drill: %s: %s: %s", r.items[i].name,
				mpc_drill_verdict_name(r.items[i].verdict), r.items[i].msg);
	if (r.restorable)
		mpc_log(m->log, MPC_LOG_INFO, "drill: %s restores and matches %s (%.2f s)",
			r.restored, contract_ks != NULL ? "the contract's keyset" : "its header",
			r.seconds);
	else
		/* a keyset not backed up yet is the backup duty's to report */
		mpc_log(m->log, r.none_of_epoch ? MPC_LOG_WARN : MPC_LOG_ERROR,
			"drill: NOT restorable: %s", r.problem);
	rc = r.restorable ? MPC_OK : MPC_ERR_AUTH;
	mpc_drill_report_free(&r);
	return rc;
}

void mpc_monitor_free(struct mpc_monitor *m)
{
	if (m == NULL)
		return;
	push_reset(&m->push, MPC_PUSH_IDLE);
	if (m->has_prev)
		mpc_contract_view_free(&m->prev);
	m->has_prev = 0;
}

int mpc_monitor_poll(struct mpc_monitor *m)
{
	struct mpc_endpoint_outcome outcomes[MPC_QUORUM_MAX_ENDPOINTS];
	struct mpc_contract_view v;
	struct mpc_err e = { 0 };
	size_t n = mpc_quorum_size(m->quorum);
	uint64_t stored;
	double now;
	const char *what = "";
	int rc, covered = -1;

	memset(&v, 0, sizeof(v));
	memset(outcomes, 0, sizeof(outcomes));
	/* A token that went away is noticed here, not only when an operation needs it; one that
	 * is away gets its re-initialisation when due. */
	if (m->token_down)
		(void)mpc_monitor_token_retry(m);
	else
		(void)mpc_monitor_token_probe(m, mpc_now_monotonic());
	rc = mpc_quorum_poll(m->quorum, m->cfg->account, &v, outcomes, &e);
	now = mpc_now_monotonic();
	mpc_metrics_count(m->metrics, MPC_COUNT_POLLS);
	if (rc == MPC_ERR_DISAGREE)
		mpc_metrics_count(m->metrics, MPC_COUNT_DISAGREEMENTS);
	for (size_t i = 0; i < n; i++)
		if (outcomes[i].endpoint[0] != '\0') /* a poll that failed early fills none */
			mpc_metrics_endpoint(m->metrics, outcomes[i].endpoint,
					     (enum mpc_read_outcome)outcomes[i].status);
	if (rc != MPC_OK) {
		char why[256];

		snprintf(why, sizeof(why), "%s: %.200s",
			 rc == MPC_ERR_DISAGREE ? "RPC endpoints disagree" : "contract read failed",
			 e.msg);
		mpc_metrics_health(m->metrics, MPC_HEALTH_CONTRACT, 0, why);
		if (mpc_retry_failed(&m->read, now, 0, 0, e.msg))
			mpc_log(m->log, MPC_LOG_WARN,
				"contract read: %s; taking no action until %zu of %zu endpoints agree",
				e.msg, mpc_quorum_threshold(m->quorum), n);
		mpc_log(m->log, MPC_LOG_DEBUG, "poll: no agreed read (%s): no action", e.msg);
		/* No view: the next one must be confirmed by another before a push acts on it. */
		if (m->has_prev)
			mpc_contract_view_free(&m->prev);
		m->has_prev = 0;
		if (m->replicas != NULL) /* a replica still catches up without the contract */
			mpc_monitor_replicas_step(m->replicas, m->cfg, m->log, m->metrics,
						  m->ops.store, 0);
		return rc;
	}
	mpc_metrics_health(m->metrics, MPC_HEALTH_CONTRACT, 1, NULL);
	if (mpc_retry_succeeded(&m->read))
		mpc_log(m->log, MPC_LOG_INFO, "contract reads agree again (%s)",
			mpc_protocol_kind_name(v.kind));
	check_registration(m, &v);
	check_oddities(m, &v);
	stored = mpc_metrics_get(m->metrics, MPC_COUNT_BACKUPS_OK);
	backup_duty(m, &v, now, &covered, &what);
	stored = mpc_metrics_get(m->metrics, MPC_COUNT_BACKUPS_OK) != stored;
	mpc_metrics_poll_ok(m->metrics, (double)time(NULL), v.has_keyset, v.keyset.epoch_id,
			    covered);
	push_duty(m, &v, now);
	if (v.has_keyset)
		mpc_log(m->log, MPC_LOG_DEBUG,
			"poll: state %s, keyset epoch %llu (%zu domains): %s; push %s",
			mpc_protocol_kind_name(v.kind), (unsigned long long)v.keyset.epoch_id,
			v.keyset.n_domains, what, mpc_push_phase_name(m->push.phase));
	else
		mpc_log(m->log, MPC_LOG_DEBUG, "poll: state %s, no keyset: %s; push %s",
			mpc_protocol_kind_name(v.kind), what, mpc_push_phase_name(m->push.phase));
	/* while a token is unavailable, what falls due waits for it (tokens.c) */
	if (now >= m->next_verify && !m->token_down &&
	    mpc_monitor_verify_store(m) != MPC_ERR_TOKEN_UNAVAILABLE)
		m->next_verify = now + m->cfg->verify_interval;
	if (m->cfg->drill_interval > 0 && now >= m->next_drill && !m->token_down &&
	    mpc_monitor_drill(m, v.has_keyset ? &v.keyset : NULL) != MPC_ERR_TOKEN_UNAVAILABLE)
		m->next_drill = now + m->cfg->drill_interval;
	/* the new file is durable: copy it to the replicas (after the duties, never before) */
	if (m->replicas != NULL)
		mpc_monitor_replicas_step(m->replicas, m->cfg, m->log, m->metrics, m->ops.store,
					  stored != 0);
	/* Keep this view to confirm the next one. */
	if (m->has_prev)
		mpc_contract_view_free(&m->prev);
	m->prev = v;
	m->has_prev = 1;
	return MPC_OK;
}
