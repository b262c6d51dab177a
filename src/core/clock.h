/* SPDX-License-Identifier: BSD-3-Clause */
/* Clocks: monotonic nanoseconds for timers and latencies, realtime for timestamps. */
#ifndef SL_CORE_CLOCK_H
#define SL_CORE_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in nanoseconds. vDSO call, no syscall on Linux. */
static inline uint64_t clock_monotonic_ns(void)
{
	struct timespec ts;
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CLOCK_REALTIME in nanoseconds since the Unix epoch: event timestamps. */
static inline uint64_t clock_realtime_ns(void)
{
	struct timespec ts;
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
