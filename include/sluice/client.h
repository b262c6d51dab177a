/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libsluice: the producer and consumer APIs and small request/response helpers
 * (metadata, stats, ping) used by applications and by the `sluice` command. Handles are
 * opaque; nothing here exposes DPDK or liburing. A producer or a consumer is
 * single-threaded: call it from one thread (or serialise calls yourself). It never
 * blocks except where a function says so.
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
				       * the router's PRODUCE limit, learned from METADATA,
				       * caps it */
	uint32_t retry_timeout_us;     /* first retransmit after this or, when measured round
				       * trips need longer, srtt + 4 rttvar (RFC 6298);
				       * doubles per retry up to retry_timeout_max_us;
				       * default 20000 */
	uint32_t retry_timeout_max_us; /* default 500000 */
	uint32_t retries_max;	       /* unanswered retransmits before a batch fails; default 20 */
	uint64_t inflight_bytes_max;   /* unacked bytes before sl_produce says -EAGAIN;
				       * default 4 MiB */
	uint64_t producer_id;	       /* 0: random */
	uint32_t producer_epoch;       /* 0: derived from the clock at create time. Set it
				       * (increasing per restart) when you fix producer_id. */
	uint32_t metadata_timeout_ms;  /* first produce to a topic waits at most this long
				       * for its partition count; default 5000 */
	sl_delivery_fn *on_delivery;   /* called from sl_producer_poll/sl_flush; may be NULL */
	void *ctx;		       /* passed to on_delivery */
	uint64_t send_window_bytes;    /* bytes sent and not yet answered: sealed batches
				       * beyond it wait in the producer, in order, so the
				       * router's socket never holds more of ours than
				       * this (no overflow, short queues); default 256 KiB,
				       * 0: no limit but inflight_bytes_max */
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
	uint64_t window_holds;	    /* batches that waited for room in send_window_bytes */
	uint64_t window_bytes;	    /* now: sent (or queued to send) and not answered */
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
	uint32_t produce_bytes_max; /* largest PRODUCE frame the router takes (its frame
				     * limit - SL_WIRE_DELIVER_EXTRA_BYTES) */
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

/* ---- consumer ---- */

struct sl_consumer;

/* When the events a poll returned count as processed (acknowledged to the router). */
enum sl_consumer_ack_mode {
	SL_CONSUMER_ACK_AUTO = 0,   /* at the next sl_consumer_poll (or destroy) */
	SL_CONSUMER_ACK_MANUAL = 1, /* only through sl_consumer_ack() */
};

/* Consumer settings. Fill with sl_consumer_config_init(), then change what you need. */
struct sl_consumer_config {
	const char *router;		    /* "HOST:PORT"; default "127.0.0.1:7800" */
	uint64_t subscriber_id;		    /* 0 (default): random */
	uint32_t heartbeat_interval_ms;	    /* default 1000; never longer than a third of the
					  * router's consumer timeout (from SUBSCRIBED) */
	uint32_t window_batches;	    /* credit window per subscription per shard, in
					  * DELIVERs: 0 (no limit) or 1..65536; default 256 */
	uint64_t window_bytes;		    /* idem in bytes: 0 (default: no limit) or
					  * 8972..2^30; not both 0 */
	enum sl_consumer_ack_mode ack_mode; /* default SL_CONSUMER_ACK_AUTO */
	uint32_t ack_interval_us;	    /* CONSUMER_ACK and CREDIT go out at most this
					  * often per partition / shard; default 5000 */
	uint32_t subscribe_timeout_ms;	    /* sl_subscribe gives up after; default 5000 */
	uint32_t retry_timeout_ms;	    /* SUBSCRIBE/UNSUBSCRIBE resent after; default 100 */
	uint32_t queue_batches_max;	    /* DELIVERs held between receive and poll; more
					  * are dropped (counted) and come back by
					  * redelivery; default 4096 */
	uint32_t window_batches_max;	    /* the batch window doubles, up to this, at a
					  * shard that used it all while this consumer had
					  * consumed everything and waited: the credit
					  * round trip, not the consumer, set the pace;
					  * default 1024. 0 (or at most window_batches):
					  * fixed, e.g. a window of 1 that keeps a
					  * partition in order when DELIVERs are lost */
};

/* One start offset: the first offset delivered from `partition` of the offsets topic. */
struct sl_start_offset {
	uint32_t partition;
	uint64_t offset;
};

/* How one subscription is made. Fill with sl_subscribe_options_init(). */
struct sl_subscribe_options {
	const char *group;		       /* consumer group, or NULL (default): every batch */
	uint16_t weight;		       /* in a group: 1..1000 (default 1); alone: ignored */
	enum sl_group_strategy strategy;       /* in a group; default SL_GROUP_ROUND_ROBIN */
	enum sl_start start;		       /* default SL_START_LATEST */
	uint64_t start_timestamp_ns;	       /* SL_START_TIMESTAMP: CLOCK_REALTIME ns */
	enum sl_start start_fallback;	       /* SL_START_OFFSETS: LATEST (default) or EARLIEST
					  * for partitions not listed */
	const char *offsets_topic;	       /* SL_START_OFFSETS: the topic the offsets are of;
					  * the pattern must match it */
	const struct sl_start_offset *offsets; /* SL_START_OFFSETS: strictly increasing
						* partitions; copied */
	uint32_t offset_count;		       /* 1..512 */
	enum sl_slow_policy slow_policy;       /* default SL_SLOW_REPLAY */
};

/* One event returned by sl_consumer_poll. Pointers are valid until the next poll (or
 * destroy); topic is NUL-terminated, key and value are not. */
struct sl_event {
	const char *topic;
	uint32_t partition;
	uint32_t subscription; /* the subscription id it came through */
	uint64_t offset;
	uint64_t timestamp_ns; /* the producer's CLOCK_REALTIME when it was produced */
	const uint8_t *key;    /* NULL when key_len is 0 */
	const uint8_t *value;
	uint32_t key_len;
	uint32_t value_len;
};

/* Consumer counters, cumulative since create. */
struct sl_consumer_stats {
	uint64_t events;	     /* returned by sl_consumer_poll */
	uint64_t deliveries;	     /* valid DELIVERs taken in */
	uint64_t redeliveries;	     /* of those, with attempt > 0 */
	uint64_t duplicates;	     /* events skipped: already returned (redelivery) */
	uint64_t gaps;		     /* holes in a partition's offsets (drop policy, or a
				    * replay hole never filled): offsets never returned */
	uint64_t gap_offsets;	     /* offsets in those holes */
	uint64_t gaps_filled;	     /* holes closed later by a redelivery */
	uint64_t deliveries_invalid; /* DELIVERs malformed, for an unknown subscription
				      * or shard: ignored */
	uint64_t deliveries_dropped; /* dropped with the queue full (queue_batches_max) */
	uint64_t deliveries_lost;    /* DELIVERs never received (gaps in their numbers),
				      * counted consumed so that their credit goes back;
				      * their events come back by redelivery */
	uint64_t deliveries_late;    /* received after a later one had shown them lost:
				      * returned, but their credit was already given */
	uint64_t credit_resyncs;     /* the router said our credit counted more than it
				      * sent: totals restarted from the next DELIVER */
	uint64_t credit_overruns;    /* DELIVERs beyond the window granted (a router bug) */
	uint64_t credits_sent;
	uint64_t acks_sent;	/* CONSUMER_ACK frames */
	uint64_t acks_deferred; /* group batches left unacknowledged: 64 were waiting for
				 * the next CONSUMER_ACK already; the router redelivers
				 * them after its ack timeout */
	uint64_t heartbeats_sent;
	uint64_t subscribes_sent; /* SUBSCRIBE frames, retransmits included */
	uint64_t resubscribes;	  /* after the router said it did not know us */
	uint64_t nacks;
	uint64_t datagrams_sent;
	uint64_t datagrams_received;
	uint64_t datagrams_invalid; /* not a valid frame for this consumer: ignored */
	uint64_t queued_batches;    /* now: DELIVERs waiting to be polled */
	uint64_t window_grows;	    /* batch windows doubled (window_batches_max) */
};

/* Fills `cfg` with the documented defaults. */
void sl_consumer_config_init(struct sl_consumer_config *cfg);

/* Fills `opts` with the documented defaults (latest, no group, replay). */
void sl_subscribe_options_init(struct sl_subscribe_options *opts);

/*
 * Creates a consumer talking to cfg->router over kernel UDP. Copies what it needs.
 * Returns 0 and *out, -EINVAL for a bad setting or address, -ENOMEM, or -errno.
 */
int sl_consumer_create(const struct sl_consumer_config *cfg, struct sl_consumer **out);

/* Acknowledges what auto mode owes, unsubscribes every subscription (waiting at most
 * retry_timeout_ms * 3 for the answers) and frees the consumer. */
void sl_consumer_destroy(struct sl_consumer *c);

/*
 * Subscribes to `pattern` (topic names with `*` for one token, a trailing `>` for one or
 * more; docs/PROTOCOL.md) with `opts` (NULL: defaults). Blocks until the router answers
 * SUBSCRIBED, resending SUBSCRIBE every retry_timeout_ms, for up to
 * subscribe_timeout_ms; DELIVERs of other subscriptions arriving meanwhile are kept.
 * Returns 0 and the subscription id in *id; -EINVAL for invalid options or pattern;
 * -EMSGSIZE when the SUBSCRIBE (start offsets) does not fit one datagram;
 * -SL_E* when the router refused (sl_consumer_sub_error() names the problem);
 * -ETIMEDOUT when it did not answer; -ENOSPC beyond 64 subscriptions; -errno.
 */
int sl_subscribe(struct sl_consumer *c, const char *pattern,
		 const struct sl_subscribe_options *opts, uint32_t *id);

/*
 * Ends subscription `id`: flushes its acks, sends UNSUBSCRIBE until the router confirms
 * (at most subscribe_timeout_ms) and drops its undelivered events. Returns 0, -ENOENT,
 * -ETIMEDOUT (the router will time it out) or -errno.
 */
int sl_unsubscribe(struct sl_consumer *c, uint32_t id);

/*
 * Returns up to n events in out[] (0 when none arrived within timeout_ms; 0 or less: do
 * not wait). First releases what the previous poll returned: its DELIVERs count as consumed
 * (credit goes back to the router) and, in auto ack mode, its events as acknowledged.
 * Also sends heartbeats, credits and acks that are due. Redelivered events already
 * returned are skipped (stats.duplicates); nothing unreturned is ever skipped except
 * holes the router never fills (stats.gaps). Returns the count, or -errno; -SL_E* when
 * the router refused a subscription while resubscribing.
 */
int sl_consumer_poll(struct sl_consumer *c, struct sl_event *out, size_t n, int timeout_ms);

/*
 * Manual ack mode (also allowed in auto mode): every event of (topic, partition) up to
 * and including `offset` is processed. Cumulative; sent within ack_interval_us by a
 * later poll, or by destroy. Returns 0; -ENOENT when no subscription received that
 * partition; -EINVAL when `offset` was not returned yet.
 */
int sl_consumer_ack(struct sl_consumer *c, const char *topic, uint32_t partition, uint64_t offset);

/* The problem the router named in its last refusal of a subscription frame (or the
 * client-side check of sl_subscribe found), SL_SUB_OK when none. */
enum sl_sub_error sl_consumer_sub_error(const struct sl_consumer *c);

/* What an enum sl_sub_error means ("'>' before the last token", ...). Never NULL. */
const char *sl_sub_error_name(unsigned error);

/* Copies the consumer's counters. */
void sl_consumer_stats_get(const struct sl_consumer *c, struct sl_consumer_stats *out);

/* The subscriber id in use (random unless configured). */
uint64_t sl_consumer_id(const struct sl_consumer *c);

#ifdef __cplusplus
}
#endif

#endif
