/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The producer's state and the functions its .c files share: producer.c (create,
 * produce, batching), reliability.c (what an ACK, NACK or timeout does to a batch and
 * its stream) and poll.c (sending, receiving, timers, delivery). Every function that
 * depends on time takes `now_ns` from the producer's clock, which tests can replace.
 */
#ifndef SL_CLIENT_PRODUCER_INT_H
#define SL_CLIENT_PRODUCER_INT_H

#include "client/client_int.h"

typedef uint64_t producer_clock_fn(void *ctx);

struct sl_producer {
	struct sl_producer_config cfg; /* cfg.router points at router_copy */
	char *router_copy;
	uint64_t id;
	uint32_t epoch;
	uint32_t frame_limit; /* min(cfg.frame_bytes_max, the router's limit) */
	uint64_t linger_ns;
	uint64_t prompt_gap_ns; /* least time between two early resends of a batch */
	struct retry_rtt rtt;	/* round trips of batches sent once */
	uint32_t rto_us;	/* first retransmit timeout, from rtt */
	uint64_t tx_serial;	/* datagrams sent so far: numbers each transmission */
	bool starved;		/* sl_produce said -EAGAIN: seal lingering batches now */
	bool metadata_inband;	/* METADATA goes over tx, not over a socket of its own */
	struct client_addr addr;
	struct transport tx;
	struct batch_pool pool;
	struct timer_heap timers;
	struct seqmap seqs;
	struct topic_table topics;
	struct batch_list lingering; /* OPEN batches, oldest first */
	struct batch_list held;	     /* HELD batches, in seal order */
	struct batch_list sendq;     /* QUEUED batches, in send order */
	struct batch_list done;	     /* DONE batches awaiting their callback */
	producer_clock_fn *clock;
	void *clock_ctx;
	struct sl_producer_stats stats;
	struct iovec tx_iov[CLIENT_BURST];
	struct batch *tx_batch[CLIENT_BURST];
};

static inline uint64_t producer_now(const struct sl_producer *p)
{
	return p->clock(p->clock_ctx);
}

/* ---- producer.c ---- */

/*
 * sl_producer_create() over the transport that open(open_ctx) makes to cfg->router:
 * transport_udp_open for libsluice, the DPDK transport for libsluice-dpdk. With
 * metadata_inband, a topic's first METADATA goes over that transport (acks arriving
 * meanwhile are handled) rather than over a kernel socket of its own. Same returns as
 * sl_producer_create(), plus the open function's errors.
 */
int producer_create(const struct sl_producer_config *cfg, transport_open_fn *open,
		    const void *open_ctx, bool metadata_inband, struct sl_producer **out);

/* Seals b (OPEN): gives it the stream's next sequence and queues it for sending, or
 * makes it wait when its stream's window is full. */
void producer_seal(struct sl_producer *p, struct batch *b);

/* ---- reliability.c ---- */

/*
 * Ends b with `error` (0 or negative) and base_offset: takes it off the send queue, its
 * stream's wait list or the timer heap, its stream and the sequence map, updates the
 * counters and queues it for its delivery callback. When b was its stream's oldest
 * pending batch, the stream's window moves and admitted waiting batches are queued.
 */
void producer_finish(struct sl_producer *p, struct batch *b, int error, uint64_t base_offset);

/* Fails b and every later pending batch of its stream with `error`. */
void producer_fail_from(struct sl_producer *p, struct batch *b, int error);

/* Queues b's first transmission, or holds it (BATCH_HELD) while the send window is
 * full or earlier batches are held: batches leave in the order they were sealed. */
void producer_queue_new(struct sl_producer *p, struct batch *b);

/* Handles one decoded ACK or NACK (any other frame counts as invalid). */
void producer_handle_reply(struct sl_producer *p, const struct wire_frame *f, uint64_t now_ns);

/* Fires due retransmit timers (at most CLIENT_TIMERS_PER_POLL): resend or fail. */
void producer_expire_timers(struct sl_producer *p, uint64_t now_ns);

/* Records a transmission of b: counters, then acks=none finishes it, otherwise it
 * waits INFLIGHT on the timer heap. b must be at the head of the send queue. */
void producer_mark_sent(struct sl_producer *p, struct batch *b, uint64_t now_ns);

/* ---- poll.c ---- */

/* Stamps and sends queued batches in bursts (bounded). Returns 0 or -errno. */
int producer_transmit(struct sl_producer *p, uint64_t now_ns);

#endif
