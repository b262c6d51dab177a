/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-shard counters (enum sl_stat in include/sluice/wire.h): one cache-line-aligned block
 * per shard, written only by that shard with relaxed atomic stores and read by anyone
 * (other shards answering STATS, the control plane) with relaxed atomic loads. Relaxed
 * is enough: each counter is a monotonic snapshot, never used to order other memory.
 */
#ifndef SL_SHARD_COUNTERS_H
#define SL_SHARD_COUNTERS_H

#include <sluice/wire.h>

#include <rte_common.h>

#include <stdint.h>

struct shard_counters {
	uint64_t v[SL_STAT_COUNT]; /* written by the owning shard's lcore only */
	uint32_t lcore;		   /* set before the shard starts, then read-only */
	uint32_t socket;
} __rte_cache_aligned;

/* Adds n to counter `stat`. Only the shard that owns c may call this. */
static inline void shard_counters_add(struct shard_counters *c, enum sl_stat stat, uint64_t n)
{
	uint64_t v = __atomic_load_n(&c->v[stat], __ATOMIC_RELAXED);

	__atomic_store_n(&c->v[stat], v + n, __ATOMIC_RELAXED);
}

/* Reads counter `stat` of any shard, from any thread. */
static inline uint64_t shard_counters_get(const struct shard_counters *c, enum sl_stat stat)
{
	return __atomic_load_n(&c->v[stat], __ATOMIC_RELAXED);
}

#endif
