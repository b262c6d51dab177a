/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The consumer's state and the functions its .c files share: consumer.c (create,
 * subscribe, unsubscribe, ack, destroy), consumer_rx.c (what each received frame does:
 * SUBSCRIBED, NACK, DELIVER into the queue), consumer_poll.c (returning events with
 * dedupe and gap tracking, credit, acks, heartbeats). Time comes from the consumer's
 * clock, which tests replace. It runs on the transports of client_int.h.
 */
#ifndef SL_CLIENT_CONSUMER_INT_H
#define SL_CLIENT_CONSUMER_INT_H

#include "client/client_int.h"

/* Subscriptions one consumer holds at once. */
#define CONSUMER_SUBSCRIPTIONS_MAX 64u
/* (topic, partition)s one subscription tracks; DELIVERs for more are ignored
 * (counted invalid): the router decides what arrives, so memory needs a bound. */
#define CONSUMER_PARTITIONS_MAX 4096u
/* Returned offset ranges kept above a partition's contiguous mark (holes between). */
#define CONSUMER_RANGES_MAX 32u
/* Auto mode sends its acks at once, not at the next ack interval, when a subscription
 * has released this many DELIVERs: a shard stops sending past SL_WIRE_UNACKED_BATCHES_MAX
 * unacknowledged ones, and waiting for the interval would idle it. */
#define CONSUMER_ACK_EAGER_BATCHES (SL_WIRE_UNACKED_BATCHES_MAX / 4u)
/* Bounds on configuration. */
#define CONSUMER_QUEUE_LIMIT 65536u
#define CONSUMER_SHARDS_LIMIT 65535u
/* Frames one receive pass takes in, so that a poll never runs long. */
#define CONSUMER_RX_BURSTS_PER_POLL 16u

typedef uint64_t consumer_clock_fn(void *ctx);

/*
 * Credit of one subscription at one shard: what arrived from it and what was consumed,
 * as totals since the router created the subscription (docs/PROTOCOL.md, "CREDIT and
 * flow control"). DELIVERs are numbered (delivery, sent_bytes): one never received is
 * counted received and consumed at once when a later number shows the gap, so that its
 * credit goes back; one arriving after that (numbered below next_delivery) is late and
 * counts nothing. Until `synced`, the next DELIVER's numbers set where the totals stand.
 */
struct consumer_credit {
	uint64_t received_batches; /* received or counted lost */
	uint64_t received_bytes;
	uint64_t consumed_batches;
	uint64_t consumed_bytes;
	uint64_t reported_batches; /* in the last CREDIT sent */
	uint64_t reported_bytes;
	uint64_t due_ns;	  /* no CREDIT before this (batching) */
	uint32_t window_batches;  /* the batch window now: cfg.window_batches, grown up to
				   * cfg.window_batches_max (consumer_credit_grow()) */
	uint64_t epoch;		  /* which start of the totals: queued DELIVERs of an
				   * earlier one give no credit back */
	uint32_t next_delivery;	  /* number of the next DELIVER expected */
	uint32_t next_sent_bytes; /* its sent_bytes */
	bool synced;		  /* next_delivery and next_sent_bytes hold */
	bool dirty;		  /* a CREDIT is owed (consumed more, or a resend is due) */
};

/* An offset range [lo, hi) already returned, above a partition's contiguous mark. */
struct consumer_range {
	uint64_t lo;
	uint64_t hi;
};

/* One (topic, partition) of one subscription: what was returned, what is acked. */
struct consumer_partition {
	struct consumer_partition *next;
	uint32_t partition;
	uint8_t topic_len;
	char topic[SL_WIRE_TOPIC_BYTES_MAX + 1]; /* NUL-terminated: sl_event.topic */
	uint64_t floor;				 /* nothing below was returned */
	uint64_t contig;			 /* every offset in [floor, contig) was returned
						  * or skipped */
	uint64_t end;				 /* highest offset returned + 1 */
	uint32_t range_count;
	struct consumer_range ranges[CONSUMER_RANGES_MAX]; /* sorted, disjoint, above contig */
	uint64_t hole_since_ns;				   /* when ranges[0] opened a hole */
	uint64_t ack_want;				   /* acknowledge every offset below this */
	uint64_t ack_sent;				   /* the last CONSUMER_ACK sent */
	uint64_t ack_due_ns;
	bool ack_resend; /* a redelivery came below ack_sent: that ack may be lost */
	/* A group member's batches lie between other members': auto mode acknowledges
	 * each one it is done with by base offset, as the cumulative ack stops at the
	 * first batch another member took. */
	uint32_t ack_base_count;
	uint64_t ack_bases[SL_WIRE_ACK_BATCHES_MAX];
	bool touched; /* returned events since the last release */
	bool started; /* something was delivered: contig holds */
	/* A start offset asked for it (SL_START_OFFSETS): the router delivers the whole
	 * batch holding it, whose records below it are not returned. 0: none. */
	uint64_t start_offset;
};

enum consumer_sub_state {
	SUB_FREE,
	SUB_SUBSCRIBING, /* SUBSCRIBE sent, no answer yet */
	SUB_ACTIVE,
	SUB_FAILED, /* refused: error holds why */
	SUB_UNSUBSCRIBING,
};

struct consumer_sub {
	uint32_t id;
	uint8_t state; /* enum consumer_sub_state */
	int error;
	uint8_t *subscribe_frame; /* kept for retransmits and resubscribing */
	uint32_t subscribe_len;
	uint64_t resend_ns; /* when SUBSCRIBE goes again; 0 once answered (ACTIVE) */
	uint8_t pattern_len;
	char pattern[SL_WIRE_TOPIC_BYTES_MAX + 1];
	enum sl_slow_policy slow_policy;
	bool group;			    /* a consumer-group member */
	uint32_t released_unacked;	    /* auto mode: DELIVERs released since acks last went */
	struct sl_wire_subscribed accepted; /* the router's last SUBSCRIBED */
	struct consumer_credit *credit;	    /* [shard_count] */
	uint16_t shard_count;
	struct consumer_partition *partitions; /* list: a subscription reads few */
	uint32_t partition_count;
};

/* A DELIVER taken in, its records returned a poll at a time. */
struct consumer_delivery {
	uint8_t *frame; /* malloc'd copy of the datagram */
	uint32_t len;
	struct consumer_sub *sub;
	struct consumer_partition *part;
	uint64_t credit_epoch; /* consumer_credit.epoch it counts in; 0: late, counts nothing */
	struct wire_deliver d; /* pointers into frame */
	struct wire_record_iter it;
	uint64_t next_offset; /* of the next record it holds */
};

struct sl_consumer {
	struct sl_consumer_config cfg; /* cfg.router points at router_copy */
	char *router_copy;
	uint64_t id;
	uint32_t frame_limit; /* largest datagram the transport sends */
	struct client_addr addr;
	struct transport tx;
	struct consumer_sub subs[CONSUMER_SUBSCRIPTIONS_MAX];
	uint32_t next_sub_id;
	uint64_t credit_epochs; /* consumer_credit.epoch values handed out */
	enum sl_sub_error sub_error;
	int async_error;       /* a refusal while resubscribing, reported by the next poll */
	uint64_t heartbeat_ns; /* interval in force */
	uint64_t heartbeat_due_ns;
	/* Ring of DELIVERs: [rel, head) returned by the last poll, not yet released;
	 * [head, tail) waiting. Indices grow forever, slots are index & mask. */
	struct consumer_delivery *queue;
	uint32_t queue_mask;
	uint64_t rel;
	uint64_t head;
	uint64_t tail;
	consumer_clock_fn *clock;
	void *clock_ctx;
	struct sl_consumer_stats stats;
	uint8_t txbuf[SL_WIRE_FRAME_BYTES_MAX];
};

static inline uint64_t consumer_now(const struct sl_consumer *c)
{
	return c->clock(c->clock_ctx);
}

/* ---- consumer.c ---- */

/* sl_consumer_create() over the transport that open(open_ctx) makes to cfg->router:
 * transport_udp_open for libsluice, the DPDK transport for libsluice-dpdk. Same returns
 * as sl_consumer_create(), plus the open function's errors. frame_limit bounds what the
 * consumer sends (a larger SUBSCRIBE fails with -EMSGSIZE). */
int consumer_create(const struct sl_consumer_config *cfg, transport_open_fn *open,
		    const void *open_ctx, uint32_t frame_limit, struct sl_consumer **out);

/* The subscription with this id in any state but FREE, or NULL. */
struct consumer_sub *consumer_sub_find(struct sl_consumer *c, uint32_t id);

/* Sends one frame of len bytes from buf. Returns 0 or -errno; a full or refusing socket
 * counts as a lost datagram (0): every frame the consumer sends is repeated or
 * repaired by a later one. */
int consumer_send(struct sl_consumer *c, const uint8_t *buf, uint32_t len);

/* Sends sub's SUBSCRIBE (again) and schedules the next resend. */
int consumer_send_subscribe(struct sl_consumer *c, struct consumer_sub *sub, uint64_t now_ns);

/* ---- consumer_rx.c ---- */

/* Takes in every datagram waiting (bounded), handling each frame. Returns 0 or -errno. */
int consumer_receive(struct sl_consumer *c, uint64_t now_ns);

/* Starts the credit totals of one shard again (the router counts from zero, or from
 * where the next DELIVER says): queued DELIVERs counted before give nothing back. */
void consumer_credit_restart(struct sl_consumer *c, struct consumer_credit *cr);

/* Finds or adds the state of (topic, partition) in sub. NULL when out of memory or
 * CONSUMER_PARTITIONS_MAX are tracked. */
struct consumer_partition *consumer_partition_get(struct consumer_sub *sub, const uint8_t *topic,
						  uint8_t topic_len, uint32_t partition);

/* ---- consumer_poll.c ---- */

/* Releases what the last poll returned: DELIVERs become consumed (credit owed) and,
 * in auto mode, returned events acknowledged. */
void consumer_release(struct sl_consumer *c);

/* Sends what is due: SUBSCRIBE resends, heartbeats, CREDITs, CONSUMER_ACKs; with
 * `force`, every owed CREDIT and ACK at once (destroy, unsubscribe). Returns 0 or
 * -errno. */
int consumer_send_due(struct sl_consumer *c, uint64_t now_ns, bool force);

/* Drops every queued DELIVER of sub (unsubscribe), consuming its credit. */
void consumer_queue_drop_sub(struct sl_consumer *c, const struct consumer_sub *sub);

/* True when offset was already returned from part (or skipped as a hole). */
bool consumer_offset_returned(const struct consumer_partition *part, uint64_t offset);

/* Records [lo, hi) as returned from part; a range starting above everything returned
 * before opens a hole, closed at once under the drop policy (counted as a gap). */
void consumer_mark_returned(struct sl_consumer *c, struct consumer_sub *sub,
			    struct consumer_partition *part, uint64_t lo, uint64_t hi,
			    uint64_t now_ns);

#endif
