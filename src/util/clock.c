/* clock.c: the monotonic clock. */
#include "src/util/clock.h"

#include <time.h>

double mpc_now_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
