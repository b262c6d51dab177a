/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private declarations shared by the .c files of libsluice: the batch pool and its
 * lists, the retransmit timer heap, the (stream, sequence) map, the topic table, the
 * partitioner, the transport interface (kernel UDP here, DPDK in libsluice-dpdk) and the
 * blocking request helper. The producer
 * itself (struct sl_producer) lives in producer_int.h. Nothing here is installed.
 */
#ifndef SL_CLIENT_INT_H
#define SL_CLIENT_INT_H

#include <sluice/client.h>

#include "core/wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* Datagrams per sendmmsg/recvmmsg call (DESIGN.md: bursts of 64 measured best). */
#define CLIENT_BURST 64u
/* Bounds of the work one sl_producer_poll() does, so that a poll never runs long. */
#define CLIENT_TX_BURSTS_PER_POLL 32u
#define CLIENT_RX_BURSTS_PER_POLL 16u
#define CLIENT_TIMERS_PER_POLL 1024u
/* OUT_OF_SEQUENCE recovery: batches resent at once after their predecessor's ack. */
#define CLIENT_GOBACK_MAX 64u
/* Partitions the keyless partitioner looks at for one with room in its window. */
#define CLIENT_STICKY_SCAN_MAX 64u
/* Receive buffer per datagram: the largest frame plus room to notice a longer one. */
#define CLIENT_RX_BYTES (SL_WIRE_FRAME_BYTES_MAX + SL_WIRE_ALIGN)
/* Batches allocated at once when the pool grows (never shrinks until destroy). */
#define CLIENT_BATCH_CHUNK 128u
/* Sanity bounds on configuration and on what a router may announce. */
#define CLIENT_RETRIES_LIMIT 1000u
#define CLIENT_INFLIGHT_BYTES_LIMIT (1ull << 30)
#define CLIENT_PARTITIONS_LIMIT 65536u

/* ---- address.c ---- */

/* A resolved router address. */
struct client_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/*
 * Resolves "HOST:PORT" (HOST a name, an IPv4 address or a [bracketed] IPv6 address)
 * into `out`. Returns 0 or -EINVAL when the string is malformed or does not resolve.
 */
int client_addr_parse(const char *hostport, struct client_addr *out);

/* ---- transports ---- */

struct transport;

/*
 * What a producer or a blocking request needs from the network, implemented by the
 * kernel UDP transport (transport_udp.c) and by libsluice-dpdk's DPDK transport. Every
 * datagram is one whole sluice frame to or from the router; the reliability machinery
 * above (poll.c, reliability.c, request.c) is the same for all transports.
 */
struct transport_ops {
	/* Sends up to n datagrams (iov[i] is one datagram, borrowed for the call). Returns
	 * how many were taken (0..n), or -errno when the first could not be (-EAGAIN or
	 * -ENOBUFS: no room now, try again at the next poll). */
	int (*send_burst)(struct transport *t, const struct iovec *iov, unsigned n);
	/* Receives up to CLIENT_BURST datagrams from the router without blocking. Returns
	 * how many arrived (0..CLIENT_BURST) or -errno; the t->rx_kept kept are
	 * t->rx_data[i] / t->rx_len[i], valid until the next call. */
	int (*recv_burst)(struct transport *t);
	/* Waits up to timeout_ns for a datagram. Returns 1 (recv_burst has something, or
	 * may have), 0 (timeout) or -errno. */
	int (*wait)(struct transport *t, uint64_t timeout_ns);
	/* Releases everything the transport holds. */
	void (*close)(struct transport *t);
};

/* One transport instance: the ops, the received burst, and the state of either kind. */
struct transport {
	const struct transport_ops *ops; /* NULL: not open */
	void *priv;			 /* a transport's own state (DPDK) */
	int fd;				 /* UDP: connected non-blocking socket */
	uint32_t tx_drop_permille;	 /* test hook: datagrams silently not sent */
	uint32_t rx_drop_permille;	 /* test hook: datagrams received and discarded */
	uint64_t rng;			 /* xorshift64 state of the loss hook */
	uint8_t *rx_buf;		 /* CLIENT_BURST * CLIENT_RX_BYTES */
	unsigned rx_kept;		 /* datagrams of the last burst that survived the hook */
	const uint8_t *rx_data[CLIENT_BURST];
	uint32_t rx_len[CLIENT_BURST];
	struct mmsghdr rx_msgs[CLIENT_BURST];
	struct iovec rx_iov[CLIENT_BURST];
	struct mmsghdr tx_msgs[CLIENT_BURST];
};

/* Opens a transport to `addr` with transport-specific settings `ctx` (borrowed). */
typedef int transport_open_fn(struct transport *t, const struct client_addr *addr, const void *ctx);

/*
 * The kernel UDP transport: opens a non-blocking UDP socket connected to `addr` and
 * allocates the receive buffers; ctx is unused. Returns 0, -ENOMEM, or -errno from
 * socket/connect.
 */
int transport_udp_open(struct transport *t, const struct client_addr *addr, const void *ctx);

/* The loss hook's decision for one datagram: true drops it (xorshift64 on t->rng). */
static inline bool transport_drop(struct transport *t, uint32_t permille)
{
	uint64_t x = t->rng;

	if (permille == 0) {
		return false;
	}
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	t->rng = x;
	return x % 1000 < permille;
}

/* Closes t. Safe on a zeroed or closed transport. */
static inline void transport_close(struct transport *t)
{
	if (t->ops != NULL) {
		t->ops->close(t);
		t->ops = NULL;
	}
}

/* See struct transport_ops. */
static inline int transport_send_burst(struct transport *t, const struct iovec *iov, unsigned n)
{
	return t->ops->send_burst(t, iov, n);
}

static inline int transport_recv_burst(struct transport *t)
{
	return t->ops->recv_burst(t);
}

static inline int transport_wait(struct transport *t, uint64_t timeout_ns)
{
	return t->ops->wait(t, timeout_ns);
}

/* Test hook: drops tx/rx permille of datagrams with a deterministic PRNG from `seed`.
 * Every transport applies it, below everything that counts datagrams. */
void transport_set_loss(struct transport *t, unsigned tx_permille, unsigned rx_permille,
			uint64_t seed);

/* ---- request.c ---- */

/* Decides whether a received frame answers the request; fills the caller's result. */
typedef bool request_match_fn(const struct wire_frame *f, void *ctx);

/*
 * Sends the frame[0..len) on `t` and resends it every resend_ns until a datagram for
 * which match() returns true arrives or deadline_ns (CLOCK_MONOTONIC) passes. Every
 * datagram is validated with wire_decode() first. Returns 0 or -ETIMEDOUT / -errno.
 */
int request_exchange(struct transport *t, const uint8_t *frame, uint32_t len, uint64_t resend_ns,
		     uint64_t deadline_ns, request_match_fn *match, void *ctx);

/*
 * sl_metadata_fetch() on an already resolved address: used by the producer for the
 * first event to a topic. Returns 0, -ETIMEDOUT, -SL_E* from a NACK, or -errno.
 */
int request_metadata(const struct client_addr *addr, const char *topic, uint32_t timeout_ms,
		     struct sl_metadata *out);

/*
 * request_metadata() over an open transport t (borrowed), for transports that cannot
 * open a second channel (DPDK). Valid frames that do not answer the request are handed
 * to other(other_ctx) when it is not NULL, so that acks arriving meanwhile are not lost.
 */
int request_metadata_on(struct transport *t, const char *topic, uint32_t timeout_ms,
			struct sl_metadata *out,
			void (*other)(const struct wire_frame *f, void *ctx), void *other_ctx);

/* A random 64-bit number from getrandom(2) (clock and pid mixed in as a fallback). */
uint64_t request_random_u64(void);

/* ---- partition.c ---- */

/* The partition of a keyed event: crc32c(key) mod partitions. partitions > 0. */
uint32_t partition_for_key(const void *key, size_t key_len, uint32_t partitions);

/* ---- batch.c ---- */

enum batch_state {
	BATCH_FREE,	/* in the pool's free list */
	BATCH_OPEN,	/* taking events; in the producer's linger list */
	BATCH_WAITING,	/* sealed, beyond its stream's window: in the stream's wait list */
	BATCH_HELD,	/* sealed, first send beyond the producer's send window: held list */
	BATCH_QUEUED,	/* sealed, waiting in the send queue (first send or retransmit) */
	BATCH_INFLIGHT, /* sent, waiting for an ack; in the timer heap */
	BATCH_DONE,	/* finished, waiting for its delivery callback */
};

/* A batch is on at most one queue (free, linger, wait, send, done) and, from seal to
 * finish, on its stream's pending list: two independent links. */
enum batch_link_kind {
	BATCH_LINK_QUEUE,
	BATCH_LINK_STREAM,
	BATCH_LINKS,
};

struct batch;
struct stream;

struct batch_link {
	struct batch *next;
	struct batch *prev;
};

/* One PRODUCE frame of one stream and its reliability state. */
struct batch {
	struct batch_link link[BATCH_LINKS];
	struct stream *stream;
	struct wire_builder wb; /* wb.buf is this batch's frame buffer (frame_cap bytes) */
	uint64_t sequence;	/* valid once sealed */
	uint64_t open_ns;	/* when the first event arrived: linger starts */
	uint64_t sent_ns;	/* last transmission */
	uint64_t first_serial;	/* producer-wide order of its first transmission (0: none) */
	uint64_t sent_serial;	/* and of its last one: a stream's frames are handled in
				 * this order, so replies tell which copies were lost */
	uint64_t deadline_ns;	/* retransmit timer, while INFLIGHT */
	uint64_t base_offset;	/* result, once DONE */
	int error;		/* result, once DONE */
	uint32_t heap_pos;	/* index in the timer heap, while INFLIGHT */
	uint32_t retries;	/* timer-driven retransmits of unanswered copies */
	uint32_t transmissions; /* datagrams sent for this batch */
	uint8_t state;		/* enum batch_state */
	bool oos; /* last copy answered OUT_OF_SEQUENCE: resend after its predecessor */
};

/* Intrusive doubly-linked list of batches through one of their links. */
struct batch_list {
	struct batch *head;
	struct batch *tail;
	uint32_t n;
};

/* Appends b to l through link `kind`. b must not be on a list through that link. */
void batch_list_push(struct batch_list *l, struct batch *b, enum batch_link_kind kind);

/* Unlinks b (which must be on l through `kind`). */
void batch_list_remove(struct batch_list *l, struct batch *b, enum batch_link_kind kind);

/* Removes and returns the head of l, or NULL when empty. */
struct batch *batch_list_pop(struct batch_list *l, enum batch_link_kind kind);

/* Next batch after b on the list through `kind`, or NULL. */
static inline struct batch *batch_list_next(const struct batch *b, enum batch_link_kind kind)
{
	return b->link[kind].next;
}

/* Batches with frame buffers, allocated in chunks on demand up to batches_max. */
struct batch_pool {
	struct batch_list free;
	void **chunks;
	uint32_t chunk_count;
	uint32_t chunk_cap;
	uint32_t batches; /* allocated so far */
	uint32_t batches_max;
	uint32_t frame_cap; /* bytes of each frame buffer */
};

/* Prepares an empty pool (allocates nothing yet). Returns 0 or -ENOMEM. */
int batch_pool_init(struct batch_pool *bp, uint32_t batches_max, uint32_t frame_cap);

/* Frees every chunk. Batches still in use become invalid. */
void batch_pool_fini(struct batch_pool *bp);

/* A free batch in state BATCH_FREE, or NULL when batches_max are in use or memory ran
 * out (the caller answers -EAGAIN: a failed growth is retried at the next get). */
struct batch *batch_pool_get(struct batch_pool *bp);

/* Gives b back. */
void batch_pool_put(struct batch_pool *bp, struct batch *b);

/*
 * Starts the frame of b: header `h` and topic, limited to frame_bytes bytes (at most
 * the pool's frame_cap). Returns 0, or -EMSGSIZE / -EINVAL from wire_begin().
 */
int batch_open(struct batch *b, const struct sl_wire_header *h, const char *topic, size_t topic_len,
	       uint32_t frame_bytes);

/* True when a record of rec_bytes (wire_record_bytes) still fits in b. */
static inline bool batch_has_room(const struct batch *b, uint32_t rec_bytes)
{
	return b->wb.len + rec_bytes <= b->wb.cap && b->wb.records < SL_WIRE_RECORDS_MAX;
}

/* Fills payload_len and record_count: the frame's length is final after this. */
void batch_seal(struct batch *b);

/*
 * Writes sequence and flags into the sealed frame and recomputes its CRC: called before
 * every transmission, since STREAM_HEAD may change between them.
 */
void batch_stamp(struct batch *b, uint64_t sequence, uint16_t flags);

/* ---- timer.c ---- */

/* Binary min-heap of INFLIGHT batches by deadline_ns: O(log n) insert and removal. */
struct timer_heap {
	struct batch **v;
	uint32_t n;
	uint32_t cap;
};

/* Allocates room for cap batches. Returns 0 or -ENOMEM. */
int timer_heap_init(struct timer_heap *h, uint32_t cap);

/* Frees the heap's array (the batches are not its to free). */
void timer_heap_fini(struct timer_heap *h);

/* Inserts b by b->deadline_ns; asserts there is room (cap = the pool's batches_max). */
void timer_heap_push(struct timer_heap *h, struct batch *b);

/* Removes b, which must be in the heap. */
void timer_heap_remove(struct timer_heap *h, struct batch *b);

/* The batch with the earliest deadline, or NULL. */
static inline struct batch *timer_heap_peek(const struct timer_heap *h)
{
	return h->n > 0 ? h->v[0] : NULL;
}

/* ---- seqmap.c ---- */

/* Open-addressing map (stream id, sequence) -> sealed batch: finds the batch an ACK or
 * NACK is about in O(1). Keys are read from the batches themselves. */
struct seqmap {
	struct batch **slot;
	uint32_t mask;
	uint32_t n;
};

/* Sizes the table for `batches_max` entries (load at most 1/2). Returns 0 or -ENOMEM. */
int seqmap_init(struct seqmap *m, uint32_t batches_max);

/* Frees the table (the batches are not its to free). */
void seqmap_fini(struct seqmap *m);

/* Adds b under (b->stream->id, b->sequence); the key must not be present. */
void seqmap_insert(struct seqmap *m, struct batch *b);

/* Removes b, which must be present under its current key. */
void seqmap_remove(struct seqmap *m, struct batch *b);

/* The batch under (stream_id, sequence), or NULL. */
struct batch *seqmap_find(const struct seqmap *m, uint32_t stream_id, uint64_t sequence);

/* ---- topic.c ---- */

struct topic;

/*
 * One (topic, partition) of this producer: its sequence space and pending batches. Its
 * window: a batch is first sent only when its sequence is below the lowest pending one
 * plus the topic's stream_batches_max, so the router (which remembers the offsets of
 * that many appended batches per stream) can answer a retransmit of any of them with
 * its offset. Sealed batches beyond the window wait, in order, until acks move it.
 */
struct stream {
	struct topic *topic;
	uint32_t partition;
	uint32_t id;		   /* unique per producer: the seqmap key */
	uint64_t next_seq;	   /* sequence of the next batch sealed */
	struct batch *open;	   /* batch taking events, or NULL */
	struct batch_list pending; /* sealed, unfinished batches in sequence order */
	struct batch_list waiting; /* the tail of pending beyond the window (queue link) */
};

struct topic {
	char *name; /* NUL-terminated */
	uint32_t name_len;
	uint32_t hash;
	uint32_t partitions;
	uint32_t stream_batches_max; /* window of each stream, >= 1 (METADATA) */
	uint32_t sticky;	     /* keyless events go here until its batch is sealed */
	struct stream *streams;	     /* [partitions] */
};

/* True when a batch sealed on s now could be sent at once (its window has room). */
static inline bool stream_has_room(const struct stream *s)
{
	return s->waiting.n == 0 &&
	       (s->pending.head == NULL ||
		s->next_seq < s->pending.head->sequence + s->topic->stream_batches_max);
}

/* Topics this producer knows, hashed by name. Grows by doubling (control path only). */
struct topic_table {
	struct topic **slot;
	uint32_t mask;
	uint32_t count;
	uint32_t next_stream_id;
	struct topic *last; /* most recently used: produce loops mostly hit it */
};

/* Returns 0 or -ENOMEM. */
int topic_table_init(struct topic_table *tt);

/* Frees every topic and its streams. */
void topic_table_fini(struct topic_table *tt);

/* The topic named name[0..len), or NULL. */
struct topic *topic_table_find(struct topic_table *tt, const char *name, size_t len);

/* Adds a topic with `partitions` streams (1..CLIENT_PARTITIONS_LIMIT), each with a
 * window of stream_batches_max (>= 1) batches. Returns 0 and *out, -EINVAL, or
 * -ENOMEM. The name must be valid and absent. */
int topic_table_add(struct topic_table *tt, const char *name, size_t len, uint32_t partitions,
		    uint32_t stream_batches_max, struct topic **out);

/* ---- retry.c ---- */

/* What a producer does with a NACK reason. */
enum retry_nack_action {
	RETRY_NACK_INVALID, /* not a reason we know: ignore the datagram */
	RETRY_NACK_WAIT,    /* transient (BUSY, BAD_CRC): keep, resend on the timer */
	RETRY_NACK_RESYNC,  /* OUT_OF_SEQUENCE: resend from the sequence the router wants */
	RETRY_NACK_FAIL,    /* permanent: fail the batch and the rest of its stream */
};

/* Classifies a NACK reason (enum sl_nack_reason). */
enum retry_nack_action retry_nack_action(unsigned reason);

/* Error a batch fails with for a NACK reason: -(SL_ENACK_BASE + reason). */
int retry_nack_error(unsigned reason);

/* Retransmit timeout after a transmission when `retries` retransmits were already
 * timer-driven: timeout_us << retries, capped at timeout_max_us. */
uint64_t retry_backoff_ns(uint32_t retries, uint32_t timeout_us, uint32_t timeout_max_us);

/* The round-trip estimate behind the retransmit timeout (RFC 6298). */
struct retry_rtt {
	uint64_t srtt_ns;   /* smoothed round trip */
	uint64_t rttvar_ns; /* its mean deviation */
};

/* Before any sample: the estimate whose timeout is timeout_us. */
void retry_rtt_init(struct retry_rtt *r, uint32_t timeout_us);

/* Folds in one round trip, measured on a batch sent once (Karn). */
void retry_rtt_sample(struct retry_rtt *r, uint64_t sample_ns);

/* The first retransmit timeout: srtt + 4 rttvar, at least timeout_us (the configured
 * floor) and at most timeout_max_us. A loaded router or host stretches round trips
 * far beyond a fixed floor; without this, every batch would be resent needlessly. */
uint32_t retry_rto_us(const struct retry_rtt *r, uint32_t timeout_us, uint32_t timeout_max_us);

#endif
