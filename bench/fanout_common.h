/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the two fan-out tools of bench/fanout.sh share, so that their rows measure the
 * same thing: sluice-bench-nats (NATS core, nats_bench.c) and sluice-bench-fanout
 * (sluice, fanout_bench.c) publish to the same eight subjects / topics, subscribe with
 * the same pattern, stamp each message's send time (CLOCK_MONOTONIC ns) into its first
 * 8 bytes and histogram produce -> deliver latency the same way.
 */
#ifndef SL_BENCH_FANOUT_COMMON_H
#define SL_BENCH_FANOUT_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* Publishers cycle bench.0 .. bench.7; every subscriber takes them all. */
#define FANOUT_SUBJECTS 8u
#define FANOUT_PATTERN "bench.>"
#define FANOUT_SUBSCRIBERS_MAX 1024u

/* Latency histogram: 32 linear sub-buckets per power of two of nanoseconds (3% wide). */
#define FANOUT_HIST_SUB_BITS 5u
#define FANOUT_HIST_SUB (1u << FANOUT_HIST_SUB_BITS)
#define FANOUT_HIST_BUCKETS ((64u - FANOUT_HIST_SUB_BITS + 1u) << FANOUT_HIST_SUB_BITS)

/* The bucket of a latency of ns nanoseconds. */
size_t fanout_hist_index(uint64_t ns);

/* The q-quantile (0..1) of hist, `samples` values in all, in microseconds; 0 when empty. */
double fanout_hist_quantile_us(const uint64_t *hist, uint64_t samples, double q);

/* Parses a decimal number without sign. Returns 0 or -EINVAL. */
int fanout_parse_u64(const char *s, uint64_t *out);

/* Parses seconds, 0 <= s < 1e6, fractions allowed. Returns 0 or -EINVAL. */
int fanout_parse_seconds(const char *s, double *out);

/* Sleeps until CLOCK_MONOTONIC reaches t_ns (through signals). */
void fanout_sleep_until(uint64_t t_ns);

#endif
