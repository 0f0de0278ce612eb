/* clock.h: the one monotonic clock the project measures time with. */
#ifndef MPC_UTIL_CLOCK_H
#define MPC_UTIL_CLOCK_H

/* Seconds since an arbitrary fixed point (CLOCK_MONOTONIC): for intervals and deadlines only,
 * never for wall time. Never fails. */
double mpc_now_monotonic(void);

#endif
