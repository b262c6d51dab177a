/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libsluice: the producer API and small request/response helpers (metadata, stats,
 * ping) used by applications and by the `sluice` command. Handles are opaque; nothing
 * here exposes DPDK or liburing. A producer is single-threaded: call it from one thread
 * (or serialise calls yourself). It never blocks except where a function says so.
 */
#ifndef SLUICE_CLIENT_H
#define SLUICE_CLIENT_H

#include <sluice/error.h>
#include <sluice/wire.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sl_producer;

/* The outcome of one batch, reported through sl_producer_config.on_delivery. */
struct sl_delivery {
	const char *topic; /* valid during the callback only */
	uint32_t partition;
	uint32_t count;	      /* events in the batch, in the order they were produced */
	uint64_t base_offset; /* offset of the first event; SL_OFFSET_UNKNOWN if not known
			       * (acks=none, failures, or a duplicate the router forgot) */
	uint64_t sequence;    /* the batch's sequence number in its partition */
	int error;	      /* 0, or negative: -ETIMEDOUT after the last retry, -SL_E* */
};

typedef void sl_delivery_fn(void *ctx, const struct sl_delivery *delivery);

/* Producer settings. Fill with sl_producer_config_init(), then change what you need. */
struct sl_producer_config {
	const char *router;	       /* "HOST:PORT"; default "127.0.0.1:7800" */
	enum sl_ack_level acks;	       /* default SL_ACKS_RECEIVED */
	uint32_t linger_us;	       /* how long a batch may wait to fill; default 1000 */
	uint32_t frame_bytes_max;      /* datagram size limit; default 1472 (1500 MTU);
				       * the router's limit, learned from METADATA, caps it */
	uint32_t retry_timeout_us;     /* first retransmit after; doubles per retry up to
				       * retry_timeout_max_us; default 20000 */
	uint32_t retry_timeout_max_us; /* default 500000 */
	uint32_t retries_max;	       /* retransmits before a batch fails; default 20 */
	uint64_t inflight_bytes_max;   /* unacked bytes before sl_produce says -EAGAIN;
				       * default 4 MiB */
	uint64_t producer_id;	       /* 0: random */
	uint32_t producer_epoch;       /* 0: derived from the clock at create time. Set it
				       * (increasing per restart) when you fix producer_id. */
	uint32_t metadata_timeout_ms;  /* first produce to a topic waits at most this long
				       * for its partition count; default 5000 */
	sl_delivery_fn *on_delivery;   /* called from sl_producer_poll/sl_flush; may be NULL */
	void *ctx;		       /* passed to on_delivery */
};

/* Producer counters, cumulative since create. */
struct sl_producer_stats {
	uint64_t events_produced; /* accepted by sl_produce */
	uint64_t events_acked;	  /* in batches acknowledged (or sent, with acks=none) */
	uint64_t events_failed;	  /* in batches that failed */
	uint64_t batches_sent;	  /* first transmissions */
	uint64_t retransmits;
	uint64_t acks;
	uint64_t duplicates; /* acks saying the router had the batch already */
	uint64_t nacks;
	uint64_t datagrams_sent;
	uint64_t datagrams_received;
	uint64_t datagrams_invalid; /* received but not a valid frame for us: ignored */
	uint64_t inflight_bytes;    /* now */
	uint64_t inflight_batches;  /* now */
};

/* Fills `cfg` with the documented defaults. */
void sl_producer_config_init(struct sl_producer_config *cfg);

/*
 * Creates a producer talking to cfg->router over kernel UDP. Copies what it needs from
 * cfg. Returns 0 and *out, -EINVAL for a bad setting or address, -errno on socket errors.
 */
int sl_producer_create(const struct sl_producer_config *cfg, struct sl_producer **out);

/* Frees the producer. Batches still in flight are abandoned without callbacks: call
 * sl_flush() first to wait for them. */
void sl_producer_destroy(struct sl_producer *p);

/*
 * Queues one event. Copies topic, key and value. The partition is hash(key) mod the
 * topic's partition count; keyless events (key NULL or key_len 0) go round-robin.
 * The first event to a topic blocks up to metadata_timeout_ms to learn its partitions.
 * Returns 0; -EAGAIN when inflight_bytes_max is reached (call sl_producer_poll and try
 * again); -EMSGSIZE when the event cannot fit one frame; -EINVAL for an invalid topic;
 * -SL_EUNKNOWNTOPIC when the router does not serve the topic; -ETIMEDOUT when the
 * metadata did not come.
 */
int sl_produce(struct sl_producer *p, const char *topic, const void *key, size_t key_len,
	       const void *value, size_t value_len);

/* Like sl_produce, with an explicit partition (-SL_EUNKNOWNTOPIC when out of range). */
int sl_produce_to(struct sl_producer *p, const char *topic, uint32_t partition, const void *key,
		  size_t key_len, const void *value, size_t value_len);

/*
 * Sends batches whose linger expired, reads acks, retransmits what timed out, and calls
 * on_delivery for finished batches. Waits at most timeout_us for something to arrive
 * (0: do not wait). Returns the number of batches finished, or -errno.
 */
int sl_producer_poll(struct sl_producer *p, uint32_t timeout_us);

/* Sends everything queued and polls until no batch is in flight or timeout_ms passes.
 * Returns 0, or -ETIMEDOUT with batches still in flight. */
int sl_flush(struct sl_producer *p, uint32_t timeout_ms);

/* Copies the producer's counters. */
void sl_producer_stats_get(const struct sl_producer *p, struct sl_producer_stats *out);

/* The producer id and epoch in use (random / clock-derived unless configured). */
uint64_t sl_producer_id(const struct sl_producer *p);
uint32_t sl_producer_epoch(const struct sl_producer *p);

/* One shard's counters as served by STATS. */
struct sl_shard_stats {
	uint32_t shard;
	uint32_t shards;
	uint32_t lcore;
	uint32_t numa_node;
	uint32_t counter_count;		  /* entries valid in counters[] */
	uint64_t counters[SL_STAT_COUNT]; /* enum sl_stat order */
};

/*
 * Asks the router at `router` ("HOST:PORT") for every shard's counters, blocking up to
 * timeout_ms. Fills out[0..*n) with at most `max` shards. Returns 0, -ETIMEDOUT, or
 * -errno.
 */
int sl_stats_fetch(const char *router, uint32_t timeout_ms, struct sl_shard_stats *out,
		   unsigned max, unsigned *n);

/* Name of counter `stat` (enum sl_stat) as printed by `sluice stats`; NULL if unknown. */
const char *sl_stat_name(unsigned stat);

/* The router's limits and one topic's partition count, from METADATA. */
struct sl_metadata {
	uint32_t frame_bytes_max;
	uint32_t partitions_default;
	uint32_t shards;
	uint32_t partitions; /* of the topic asked about; 0 if it does not exist */
	int auto_create;
	uint32_t stream_batches_max; /* the router's dedupe window: most unacknowledged
				      * batches a producer keeps in flight per partition
				      * (0 from a router that does not say) */
};

/* Blocking METADATA request for `topic` (NULL: router limits only), up to timeout_ms. */
int sl_metadata_fetch(const char *router, const char *topic, uint32_t timeout_ms,
		      struct sl_metadata *out);

/* Blocking PING; *rtt_ns gets the round trip. Returns 0, -ETIMEDOUT or -errno. */
int sl_ping(const char *router, uint32_t timeout_ms, uint64_t *rtt_ns);

#ifdef __cplusplus
}
#endif

#endif
