/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The latency histogram, flag parsing and sleeping shared by sluice-bench-nats and
 * sluice-bench-fanout (bench/fanout.sh).
 */
#include "fanout_common.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

size_t fanout_hist_index(uint64_t ns)
{
	if (ns < FANOUT_HIST_SUB) {
		return (size_t)ns;
	}
	unsigned msb = 63u - (unsigned)__builtin_clzll(ns);
	unsigned shift = msb - FANOUT_HIST_SUB_BITS;
	return ((size_t)(shift + 1u) << FANOUT_HIST_SUB_BITS) +
	       (size_t)((ns >> shift) - FANOUT_HIST_SUB);
}

/* The middle of bucket i, in ns. */
static double fanout_hist_value(size_t i)
{
	if (i < (size_t)2u * FANOUT_HIST_SUB) {
		return (double)i;
	}
	unsigned shift = (unsigned)(i >> FANOUT_HIST_SUB_BITS) - 1u;
	uint64_t low = ((uint64_t)(i & (FANOUT_HIST_SUB - 1u)) + FANOUT_HIST_SUB) << shift;
	return (double)low + (double)(1ull << shift) / 2.0;
}

double fanout_hist_quantile_us(const uint64_t *hist, uint64_t samples, double q)
{
	if (samples == 0) {
		return 0;
	}
	uint64_t rank = (uint64_t)(q * (double)(samples - 1)) + 1u;
	uint64_t seen = 0;
	for (size_t i = 0; i < FANOUT_HIST_BUCKETS; i++) {
		seen += hist[i];
		if (seen >= rank) {
			return fanout_hist_value(i) / 1000.0;
		}
	}
	return fanout_hist_value(FANOUT_HIST_BUCKETS - 1u) / 1000.0;
}

int fanout_parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-') {
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int fanout_parse_seconds(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return errno != 0 || end == s || *end != '\0' || !(*out >= 0 && *out < 1e6) ? -EINVAL : 0;
}

void fanout_sleep_until(uint64_t t_ns)
{
	struct timespec ts = {.tv_sec = (time_t)(t_ns / 1000000000u),
			      .tv_nsec = (long)(t_ns % 1000000000u)};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
	}
}
