/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The shard: one per worker lcore, a run-to-completion loop that receives a burst from
 * its netdev queue, validates every frame, hands batches of partitions it does not own
 * to their owner through the mesh, deduplicates and assigns offsets to the batches it
 * owns, and sends the replies. After shard_create() nothing here allocates, locks,
 * blocks (except the bounded idle wait) or prints: problems become counters and NACKs.
 */
#ifndef SL_SHARD_SHARD_H
#define SL_SHARD_SHARD_H

#include "drivers/netdev.h"
#include "journal/journal.h"
#include "route/match.h"
#include "route/route.h"
#include "shard/counters.h"
#include "shard/mesh.h"

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

/* Bounds of the shard's flags, checked by shard_create() (and by the daemon's flags). */
#define SHARD_SHARDS_MAX 128u
#define SHARD_BURST_MAX 256u
#define SHARD_TABLE_ENTRIES_MIN 8u
#define SHARD_TABLE_ENTRIES_MAX (1u << 24)
#define SHARD_IDLE_SLEEP_US_MAX 1000000u
/* Empty polls in a row before a shard does idle work and may sleep. */
#define SHARD_IDLE_POLLS 1000u
/* Producer entries a shard checks for idleness per idle poll. */
#define SHARD_SWEEP_STEP 64u
/*
 * Bounds of the dedupe window: the appended batches per stream whose base offsets a
 * retransmit is told, and so the most unacknowledged batches a producer may have in
 * flight per stream (METADATA's stream_batches_max, a u16 on the wire).
 */
#define SHARD_DEDUPE_WINDOW_MIN 1u
#define SHARD_DEDUPE_WINDOW_MAX 1024u
static_assert(SHARD_DEDUPE_WINDOW_MAX <= UINT16_MAX, "the window travels as a u16");
/* Bounds of the durable-ack queue: acks waiting for their batch's fdatasync. */
#define SHARD_DURABLE_ACKS_MIN 16u
#define SHARD_DURABLE_ACKS_MAX (1u << 20)
/* Bounds of the subscription state (--subscriptions-max, --consumer-timeout). */
#define SHARD_SUBSCRIPTIONS_MIN 8u
#define SHARD_SUBSCRIPTIONS_MAX (1u << 20)
#define SHARD_CONSUMER_TIMEOUT_MS_MIN 100u
#define SHARD_CONSUMER_TIMEOUT_MS_MAX 3600000u
/* How often a shard checks SHARD_SWEEP_STEP subscribers for --consumer-timeout. */
#define SHARD_SUBSCRIBER_SWEEP_US 10000u
/* Most replay cursors per shard: the journal's default cursor reservation. */
#define SHARD_REPLAY_CURSORS_MAX JOURNAL_CURSORS_DEFAULT
/* Bounds of --replay-buffer-bytes: two largest entries, 64 MiB. */
#define SHARD_REPLAY_BUFFER_BYTES_MIN (2u * JOURNAL_ENTRY_BYTES_MAX)
#define SHARD_REPLAY_BUFFER_BYTES_MAX (64u << 20)
/* Bounds of --ack-timeout-ms and --max-redeliveries; unacked DELIVERs kept per
 * subscription at each shard (more stall the subscription until acks come). */
#define SHARD_ACK_TIMEOUT_MS_MIN 10u
#define SHARD_ACK_TIMEOUT_MS_MAX 3600000u
#define SHARD_REDELIVERIES_MAX 1000u
#define SHARD_INFLIGHT_SLOTS SL_WIRE_UNACKED_BATCHES_MAX
/* Group redeliveries a shard queues; more are counted as dead letters. */
#define SHARD_REDELIVERIES_QUEUED 1024u
static_assert((SHARD_INFLIGHT_SLOTS & (SHARD_INFLIGHT_SLOTS - 1)) == 0, "a ring: power of two");
static_assert((SHARD_REDELIVERIES_QUEUED & (SHARD_REDELIVERIES_QUEUED - 1)) == 0,
	      "a ring: power of two");
/* Bound of --match-cache-topics: the matcher's. */
#define SHARD_MATCH_CACHE_TOPICS_MAX MATCH_CACHE_ENTRIES_MAX
/* Start offsets (SUBSCRIBE at `offsets`) a shard keeps at once for the partitions it
 * owns, over every reader still replaying from its start: a full SUBSCRIBE's worth for
 * eight readers. More are refused (the SUBSCRIBE is NACKed "subscription table full" by
 * the shard that received it; another shard starts those partitions at the fallback). */
#define SHARD_START_OFFSETS_POOL (8u * SL_WIRE_START_OFFSETS_MAX)
/* Consumer groups a shard holds at once, and members per group. */
#define SHARD_GROUPS_MAX 64u
#define SHARD_GROUP_MEMBERS_MAX 256u
/* How long a stopping shard keeps polling its journal to send the last durable acks. */
#define SHARD_STOP_DRAIN_US 5000000u

struct shard_conf {
	uint16_t shards;	    /* 1..SHARD_SHARDS_MAX */
	uint16_t burst;		    /* RX, TX and mesh burst, 1..SHARD_BURST_MAX */
	uint32_t frame_bytes_max;   /* SL_WIRE_FRAME_BYTES_MIN..SL_WIRE_FRAME_BYTES_MAX */
	uint32_t partitions_max;    /* partitions a shard tracks, TABLE_ENTRIES_MIN..MAX */
	uint32_t producers_max;	    /* (producer, partition) streams a shard tracks, same */
	uint32_t dedupe_window;	    /* batches remembered per stream, DEDUPE_WINDOW_MIN..MAX */
	uint32_t producer_idle_s;   /* forget a stream idle this long; 0: never */
	uint32_t idle_sleep_us;	    /* sleep in the netdev after SHARD_IDLE_POLLS; 0: never */
	uint32_t durable_acks_max;  /* durable acks waiting for fdatasync, DURABLE_ACKS_MIN..MAX */
	uint32_t subscriptions_max; /* SUBSCRIPTIONS_MIN..MAX */
	uint32_t consumer_timeout_ms; /* CONSUMER_TIMEOUT_MS_MIN..MAX */
	uint32_t replay_cursors;      /* journal cursors for replays, 0..REPLAY_CURSORS_MAX */
	uint32_t replay_buffer_bytes; /* each one's, REPLAY_BUFFER_BYTES_MIN..MAX */
	uint32_t ack_timeout_ms;      /* ACK_TIMEOUT_MS_MIN..MAX */
	uint16_t redeliveries_max;    /* 0..REDELIVERIES_MAX */
	uint32_t match_cache_topics;  /* matcher cache, 0..MATCH_CACHE_TOPICS_MAX; 0: none */
};

/*
 * What every shard shares. Filled by shard_env_init() before any shard starts, read-only
 * afterwards except: counters[i], written by shard i only (but for the journal
 * maintenance thread's own SL_STAT_JOURNAL_* slots, journal.h), and `stop`, written by
 * the control plane.
 */
struct shard_env {
	const struct shard_conf *conf;
	const struct route_table *routes;
	struct netdev *netdev;		 /* queue i belongs to shard i */
	struct mesh *mesh;		 /* NULL when conf->shards == 1 */
	struct shard_counters *counters; /* [conf->shards] */
	bool stop;			 /* set by shard_env_stop() */
};

struct shard;

/*
 * Fills env and allocates the counters of conf->shards shards (zeroed, lcore and socket
 * unset). Borrows conf, routes, netdev and mesh, which must outlive env. Returns 0,
 * -EINVAL when a bound of conf is out of range, or -ENOMEM.
 */
int shard_env_init(struct shard_env *env, const struct shard_conf *conf,
		   const struct route_table *routes, struct netdev *netdev, struct mesh *mesh);

/* Frees what shard_env_init() allocated. */
void shard_env_fini(struct shard_env *env);

/* Asks every shard to finish its current burst, flush its replies and return. Any
 * thread, including a signal handler. */
void shard_env_stop(struct shard_env *env);

/*
 * Creates shard `index` of env: its partition and producer tables (rte_hash), the
 * producers' remembered offsets (producers_max x dedupe_window x 8 bytes) and its burst
 * arrays, all on NUMA node `socket`, and records `lcore` and `socket` in its
 * counters. Borrows `pool` (the shard's own mbuf pool, also the netdev's RX pool of
 * queue `index`) for replies. Returns 0, -EINVAL, -ENOMEM or the rte_hash error.
 */
int shard_create(struct shard_env *env, uint16_t index, unsigned lcore, int socket,
		 struct rte_mempool *pool, struct shard **out);

/*
 * Opens the journal of s (journal_open() with conf) and recovers s from it: every
 * partition's next offset and every stream's epoch, next sequence and remembered offsets
 * come back as they were when the router stopped, so retransmits across a restart are
 * still deduplicated. Afterwards s appends every batch to the journal and acks durable
 * batches once their fdatasync completed. Call after shard_create(), before the shard
 * runs. Returns 0; -EPROTO for a corrupt journal or one written by a different shard
 * layout (logged with the reason); -ENOSPC when the journal holds more partitions or
 * streams than --partitions-max/--producers-max; or journal_open()'s error.
 */
int shard_journal_open(struct shard *s, const struct journal_conf *conf);

/* Frees s and closes its journal (NULL is a no-op). Call only once s no longer runs.
 * Returns 0, or the journal's first storage error. */
int shard_destroy(struct shard *s);

/*
 * One loop iteration: receive and handle one RX burst, hand off what other shards own,
 * drain the mesh rings towards s, send the replies. Returns the number of datagrams and
 * hand-offs handled (0: idle). Must always be called from the same thread.
 */
unsigned shard_poll(struct shard *s);

/*
 * Idle work for a shard that found nothing to do SHARD_IDLE_POLLS times in a row:
 * forgets up to SHARD_SWEEP_STEP idle producer streams, then sleeps in the netdev for
 * at most conf->idle_sleep_us (if not 0 and the driver can wait).
 */
void shard_idle(struct shard *s);

/* The lcore entry point (lcore_function_t): polls `arg` (a struct shard) until
 * shard_env_stop(), then drains its mesh rings, lets its journal write and sync what it
 * staged (at most SHARD_STOP_DRAIN_US), flushes its replies and closes its journal (on
 * this lcore, which its io_uring belongs to). Returns 0. */
int shard_run(void *arg);

/* Index of s among the shards. */
uint16_t shard_index(const struct shard *s);

/* The journal of s (NULL: none), until shard_run() returns, which closes it. Another
 * thread (journal maintenance) may use only what journal.h allows any thread. */
struct journal *shard_journal(struct shard *s);

#endif
