/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A stand-in router for the producer's and the consumer's unit tests, on a UDP socket at 127.0.0.1 with an
 * ephemeral port. Scripted use: the test receives each frame and answers it by hand.
 * Reference use: a thread answers METADATA and PRODUCE with the protocol's rules
 * (per-stream sequences, STREAM_HEAD starting or skipping ahead, duplicates within the
 * dedupe window, OUT_OF_SEQUENCE) and records what it appended, so tests can check
 * "every event exactly once" and that no producer outran the window. For consumers the
 * reference thread answers SUBSCRIBE (after ignoring a set number, or with a set NACK)
 * and UNSUBSCRIBE and counts the other subscription frames; tests then stop it and
 * script DELIVERs with fake_router_deliver().
 */
#ifndef SL_TEST_FAKE_ROUTER_H
#define SL_TEST_FAKE_ROUTER_H

#include "core/wire.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define FAKE_STREAMS_MAX 64u
#define FAKE_PARTITIONS_MAX 64u
/* Shards whose DELIVERs the fake router numbers (shard % FAKE_SHARDS_MAX). */
#define FAKE_SHARDS_MAX 8u

struct fake_stream {
	uint64_t producer_id;
	uint32_t epoch;
	uint32_t partition;
	char topic[SL_WIRE_TOPIC_BYTES_MAX + 1];
	uint64_t next_seq;
	uint64_t first_seq; /* the stream head it started from */
	uint64_t skip_seq;  /* the stream head it last skipped ahead to (first_seq if none) */
	uint64_t *base;	    /* base offset of each appended sequence - first_seq */
	uint64_t base_cap;
};

struct fake_router {
	int fd;
	char hostport[64];
	struct sockaddr_storage peer;
	socklen_t peer_len;
	uint8_t buf[SL_WIRE_FRAME_BYTES_MAX + 64];
	/* reference mode */
	pthread_t thread;
	bool running; /* thread started and not joined yet */
	atomic_bool stop;
	uint32_t partitions;	     /* answered in METADATA; 0: unknown topic */
	uint32_t produce_bytes_max;  /* answered in METADATA */
	uint16_t stream_batches_max; /* METADATA; reference mode: the dedupe window */
	struct fake_stream streams[FAKE_STREAMS_MAX];
	unsigned stream_count;
	uint64_t next_offset[FAKE_PARTITIONS_MAX];
	uint8_t *seen; /* per generated event index: times appended */
	uint64_t seen_cap;
	atomic_uint_fast64_t appended_events;
	atomic_uint_fast64_t duplicates;
	atomic_uint_fast64_t nacks;
	atomic_uint_fast64_t metadata_requests;
	atomic_uint_fast64_t duplicates_unknown; /* duplicates past the dedupe window */
	bool silent;				 /* reference mode: answer nothing */
	/* consumer side of the reference mode */
	unsigned sub_ignore;	  /* SUBSCRIBEs left unanswered before the first answer */
	uint16_t sub_nack_reason; /* non-zero: SUBSCRIBE answered with this NACK */
	uint32_t sub_nack_detail; /* its detail (enum sl_sub_error) */
	struct sl_wire_subscribed sub_answer; /* what SUBSCRIBED says (window echoed) */
	unsigned sub_deliver_batches;	      /* after the first SUBSCRIBED: that many DELIVERs of
				       * 2 events (offsets 0..) on partition 0 of the
				       * pattern, which must then be a literal topic */
	/* DELIVER numbering per shard (delivery, sent_bytes), for one subscription at a
	 * time: restarted by every SUBSCRIBED without SL_SUBSCRIBED_CREDIT_KEPT. */
	uint32_t deliveries[FAKE_SHARDS_MAX];
	uint32_t delivered_bytes[FAKE_SHARDS_MAX];
	uint64_t subscriber_id; /* of the last SUBSCRIBE */
	uint32_t subscription_id;
	atomic_uint_fast64_t subscribes;
	atomic_uint_fast64_t unsubscribes;
	atomic_uint_fast64_t heartbeats;
	atomic_uint_fast64_t credits;
	atomic_uint_fast64_t consumer_acks;
};

/* Binds 127.0.0.1:0 and fills hostport. Returns 0 or -errno. */
int fake_router_open(struct fake_router *r);

/* Closes the socket and frees what the reference mode recorded. */
void fake_router_close(struct fake_router *r);

/* Receives and decodes one frame within timeout_ms. Returns 0 or -ETIMEDOUT/-EPROTO. */
int fake_router_recv(struct fake_router *r, struct wire_frame *f, int timeout_ms);

/* True when no datagram is waiting right now. */
bool fake_router_idle(struct fake_router *r);

/* Sends raw bytes to the last peer. */
void fake_router_send(struct fake_router *r, const void *buf, size_t len);

/* Answers the PRODUCE `req` (the last received frame). */
void fake_router_ack(struct fake_router *r, const struct wire_frame *req, uint64_t base_offset,
		     uint16_t status);
/* Answers the PRODUCE `req` with a NACK of `reason` (expected: OUT_OF_SEQUENCE). */
void fake_router_nack(struct fake_router *r, const struct wire_frame *req, uint16_t reason,
		      uint64_t expected);
/* Answers a METADATA_REQUEST. */
void fake_router_metadata(struct fake_router *r, const struct wire_frame *req, uint32_t partitions);

/* Answers a SUBSCRIBE with r->sub_answer (status active, the request's window) or an
 * UNSUBSCRIBE with status removed. */
void fake_router_subscribed(struct fake_router *r, const struct wire_frame *req);

/* Answers any subscription frame with a NACK carrying reason, detail and expected. */
void fake_router_sub_nack(struct fake_router *r, const struct wire_frame *req, uint16_t reason,
			  uint32_t detail, uint64_t expected);

/*
 * Writes a DELIVER of `count` records to subscription (subscriber_id, subscription_id):
 * record i has offset base_offset + i, key "k", an 8-byte value holding its offset and
 * timestamp 1000 + its offset, numbered as a subscription's first DELIVER (delivery 0,
 * sent_bytes 0). Returns its length (0 when it does not fit).
 */
uint32_t fake_router_deliver_build(uint8_t *buf, size_t cap, uint64_t subscriber_id,
				   uint32_t subscription_id, const char *topic, uint32_t partition,
				   uint64_t base_offset, uint16_t count, uint16_t shard,
				   uint16_t attempt);

/* Builds such a DELIVER, numbered as the shard's next (delivery, sent_bytes), and sends
 * it to the last peer. Returns its length. */
uint32_t fake_router_deliver(struct fake_router *r, uint32_t subscription_id, const char *topic,
			     uint32_t partition, uint64_t base_offset, uint16_t count,
			     uint16_t shard, uint16_t attempt);

/* The same DELIVER, numbered and counted sent, but lost on the way: not sent. */
uint32_t fake_router_deliver_lost(struct fake_router *r, uint32_t subscription_id,
				  const char *topic, uint32_t partition, uint64_t base_offset,
				  uint16_t count, uint16_t shard, uint16_t attempt);

/* Receives frames until one of `type` arrives (others are skipped) within timeout_ms.
 * Returns 0 or -ETIMEDOUT. */
int fake_router_recv_type(struct fake_router *r, struct wire_frame *f, uint8_t type,
			  int timeout_ms);

/* Starts / stops the reference thread. `events` sizes the exactly-once record. */
int fake_router_start(struct fake_router *r, uint32_t partitions, uint64_t events);

/* Stops and joins the reference thread. */
void fake_router_stop(struct fake_router *r);

#endif
