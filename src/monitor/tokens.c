/* tokens.c: the monitor's view of its tokens: found unavailable, re-initialised with backoff,
 * back. */
#include "src/monitor/monitor.h"

#include <stdio.h>
#include <string.h>

#include "pkcs11/token.h"
#include "src/util/clock.h"

#define MAX_TOKENS (1 + MPC_STORE_MAX_TOKENS)

/* The TLS token and the sealing tokens, each once. */
static size_t all_tokens(const struct mpc_monitor *m, struct mpc_token **out)
{
	size_t n = 0;

	if (m->ops.tls_token != NULL)
		out[n++] = m->ops.tls_token;
	for (size_t i = 0; i < m->ops.n_seal && n < MAX_TOKENS; i++) {
		int dup = m->ops.seal_tokens[i] == NULL;

		for (size_t k = 0; k < n && !dup; k++)
			dup = out[k] == m->ops.seal_tokens[i];
		if (!dup)
			out[n++] = m->ops.seal_tokens[i];
	}
	return n;
}

void mpc_monitor_token_lost(struct mpc_monitor *m, double now, const char *why)
{
	char health[256];

	if (m->token_down)
		return;
	m->token_down = 1;
	m->token_down_since = now;
	m->token_tries = 0;
	m->token_delay = m->cfg->token_retry_initial;
	m->token_next_try = now + m->token_delay;
	m->token_last[0] = '\0';
	snprintf(health, sizeof(health), "token unavailable: %.220s", why);
	mpc_metrics_health(m->metrics, MPC_HEALTH_TOKEN, 0, health);
	mpc_metrics_token_available(m->metrics, 0);
	mpc_log(m->log, MPC_LOG_ERROR,
		"token unavailable: %s. No backup, push, store verification or drill runs until it "
		"is back (none of them is failing); re-initialising the module with backoff (%g s "
		"doubling to %g s)",
		why, m->cfg->token_retry_initial, m->cfg->token_retry_max);
}

int mpc_monitor_token_probe(struct mpc_monitor *m, double now)
{
	struct mpc_token *t[MAX_TOKENS];
	size_t n;

	if (m->token_down)
		return 1;
	n = all_tokens(m, t);
	for (size_t i = 0; i < n; i++) {
		struct mpc_err e = { 0 };

		if (mpc_token_check(t[i], &e) != MPC_OK) {
			mpc_monitor_token_lost(m, now, e.msg);
			return 1;
		}
	}
	return 0;
}

double mpc_monitor_token_due(const struct mpc_monitor *m)
{
	return m->token_down ? m->token_next_try : 0;
}

int mpc_monitor_token_retry(struct mpc_monitor *m)
{
	struct mpc_token *t[MAX_TOKENS];
	struct mpc_err e = { 0 };
	double now = mpc_now_monotonic(), t0;
	size_t n;
	int rc;

	if (!m->token_down)
		return MPC_OK;
	if (now < m->token_next_try)
		return MPC_ERR_TOKEN_UNAVAILABLE;
	n = all_tokens(m, t);
	m->token_tries++;
	t0 = mpc_now_monotonic();
	rc = mpc_token_reinit(t, n, &e);
	now = mpc_now_monotonic();
	if (rc == MPC_OK) {
		mpc_log(m->log, MPC_LOG_INFO,
			"token available again after %.1f s (%u re-initialisation(s), the last took "
			"%.0f ms): verifying the store and backing up what changed meanwhile",
			now - m->token_down_since, m->token_tries, (now - t0) * 1e3);
		m->token_down = 0;
		m->token_last[0] = '\0';
		mpc_metrics_health(m->metrics, MPC_HEALTH_TOKEN, 1, NULL);
		mpc_metrics_token_available(m->metrics, 1);
		/* Whatever was due meanwhile runs now; the verification also shows the token that
		 * came back opens what the store holds. */
		m->next_verify = 0;
		return MPC_OK;
	}
	m->token_delay *= 2;
	if (m->token_delay > m->cfg->token_retry_max)
		m->token_delay = m->cfg->token_retry_max;
	m->token_next_try = now + m->token_delay;
	/* Still away: that is what the first message said. Anything else (a PIN refused, another
	 * token in its place) needs the operator: said once each. */
	if (rc != MPC_ERR_TOKEN_UNAVAILABLE && !mpc_retry_same_failure(m->token_last, e.msg))
		mpc_log(m->log, MPC_LOG_ERROR,
			"token: re-initialisation %u found: %s (trying again with backoff, now "
			"%.1f s)",
			m->token_tries, e.msg, m->token_delay);
	else
		mpc_log(m->log, MPC_LOG_DEBUG, "token: re-initialisation %u: %s (next in %.1f s)",
			m->token_tries, e.msg, m->token_delay);
	snprintf(m->token_last, sizeof(m->token_last), "%s", e.msg);
	return rc;
}
