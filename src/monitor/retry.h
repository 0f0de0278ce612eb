/* retry.h: capped exponential backoff for one duty (a backup, a push), and the bookkeeping
 * that makes each distinct failure logged once and the recovery from it logged once.
 */
#ifndef MPC_MONITOR_RETRY_H
#define MPC_MONITOR_RETRY_H

#include "src/util/err.h"

struct mpc_retry {
	double next_at;             /* monotonic seconds; 0: now */
	double delay;               /* the current backoff, seconds */
	unsigned failures;          /* consecutive */
	char last[MPC_ERR_MSG_MAX]; /* the last failure's message ("" when healthy) */
};

/* 1 if the duty may be attempted at `now`. */
int mpc_retry_ready(const struct mpc_retry *r, double now);

/* Record a failure at `now`: the next attempt waits `initial` seconds after the first failure,
 * doubling up to `max`. Returns 1 if `msg` differs from the previous failure (log it): a
 * message that differs only by a temporary file's name or libcurl's elapsed milliseconds is
 * the same failure (a full disk is logged once, not on every retry). */
int mpc_retry_failed(struct mpc_retry *r, double now, double initial, double max, const char *msg);

/* Record a success. Returns 1 if the duty was failing (log the recovery once). */
int mpc_retry_succeeded(struct mpc_retry *r);

void mpc_retry_reset(struct mpc_retry *r);

/* 1 if the two messages describe the same failure (as mpc_retry_failed compares them). */
int mpc_retry_same_failure(const char *a, const char *b);

#endif
