/* retry.c: capped exponential backoff and log-once bookkeeping. */
#include "src/monitor/retry.h"

#include <stdio.h>
#include <string.h>

int mpc_retry_ready(const struct mpc_retry *r, double now)
{
	return now >= r->next_at;
}

/* The message with what changes from one try of the same failure to the next masked: a
 * temporary file's name (".tmp-NAME-XXXXXX", "FILE.tmp.XXXXXX") and libcurl's elapsed time
 * ("after 1234 ms"). */
static void canonical(const char *msg, char *out, size_t cap)
{
	size_t o = 0;

	while (*msg != '\0' && o + 1 < cap) {
		if (strncmp(msg, ".tmp", 4) == 0 && (msg[4] == '-' || msg[4] == '.')) {
			msg += 5;
			while (*msg != '\0' && strchr(" \t\"':,;()[]", *msg) == NULL)
				msg++;
			if (o + 6 < cap) {
				memcpy(out + o, ".tmp-*", 6);
				o += 6;
			}
			continue;
		}
		if (strncmp(msg, "after ", 6) == 0 && msg[6] >= '0' && msg[6] <= '9') {
			const char *q = msg + 6;

			while (*q >= '0' && *q <= '9')
				q++;
			if (strncmp(q, " ms", 3) == 0 && o + 11 < cap) {
				memcpy(out + o, "after * ms", 10);
				o += 10;
				msg = q + 3;
				continue;
			}
		}
		out[o++] = *msg++;
	}
	out[o] = '\0';
}

int mpc_retry_same_failure(const char *a, const char *b)
{
	char ca[MPC_ERR_MSG_MAX], cb[MPC_ERR_MSG_MAX];

	canonical(a, ca, sizeof(ca));
	canonical(b, cb, sizeof(cb));
	return strcmp(ca, cb) == 0;
}

int mpc_retry_failed(struct mpc_retry *r, double now, double initial, double max, const char *msg)
{
	int is_new = !mpc_retry_same_failure(r->last, msg);

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
