/* retry.c: capped exponential backoff and log-once bookkeeping. */
#include "src/monitor/retry.h"

#include <stdio.h>
#include <string.h>

int mpc_retry_ready(const struct mpc_retry *r, double now)
{
	return now >= r->next_at;
}

int mpc_retry_failed(struct mpc_retry *r, double now, double initial, double max, const char *msg)
{
	int is_new = strcmp(r->last, msg) != 0;

	r->failures++;
	r->delay = r->failures == 1 ? initial : r->delay * 2;
	if (r->delay > max)
		r->delay = max;
	r->next_at = now + r->delay;
	snprintf(r->last, sizeof(r->last), "%s", msg);
	return is_new;
}

int mpc_retry_succeeded(struct mpc_retry *r)
{
	int was_failing = r->failures > 0;

	mpc_retry_reset(r);
	return was_failing;
}

void mpc_retry_reset(struct mpc_retry *r)
{
	memset(r, 0, sizeof(*r));
}
