/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private parts of the shard shared by its files: the shard's state, the keys and values
 * of its partition and producer tables, and the functions shard.c (the loop),
 * shard_produce.c (dedupe and offsets) and shard_reply.c (replies and TX) call in each
 * other. Every field of struct shard is written by the shard's own lcore only.
 */
#ifndef SL_SHARD_SHARD_INT_H
#define SL_SHARD_SHARD_INT_H

#include "shard/shard.h"

#include "core/wire.h"
#include "route/credit.h"
#include "route/group.h"
#include "route/match.h"

#include <rte_hash.h>

/* Partition table key: topic name and partition, zero-padded so memcmp works. */
struct shard_partition_key {
	uint32_t partition;
	uint8_t name_len;
	uint8_t pad[3];
	uint8_t name[SL_WIRE_TOPIC_BYTES_MAX + 1];
};

/* State of one partition this shard owns. */
struct shard_partition {
	uint64_t next_offset; /* offset the next appended event gets */
};

/* Producer table key: one stream (producer id, partition). */
struct shard_producer_key {
	uint64_t producer_id;
	uint32_t partition_slot; /* position of the partition in the partition table */
	uint32_t zero;
};

/*
 * State of one (producer id, partition) stream. The base offsets of its last appended
 * batches live outside, in shard.offsets: dedupe_window slots per stream, the batch of
 * sequence q in slot q % dedupe_window, valid for q in [max(first_sequence,
 * next_sequence - dedupe_window), next_sequence).
 */
struct shard_producer {
	uint64_t next_sequence;
	uint64_t first_sequence; /* where the stream started or last skipped ahead to */
	uint64_t used_tsc;	 /* last frame seen: idle streams are forgotten */
	uint32_t epoch;
	uint32_t reserved;
};

/* No slot: the end of a subscriber's list, a subscription outside a group. */
#define SHARD_SLOT_NONE UINT32_MAX
/* A replay cursor serving group redeliveries rather than a subscription. */
#define SHARD_SLOT_REDELIVERY (UINT32_MAX - 1)

/* Dead letters: the producer id of shard i's dead-letter streams is this | i; the
 * origin record's key length and the longest origin record value (with a topic of
 * SL_WIRE_TOPIC_BYTES_MAX bytes). */
#define SHARD_DEAD_LETTER_PRODUCER_ID 0x534c444541440000ull /* "SLDEAD" */
#define SHARD_DEAD_LETTER_KEY_BYTES (sizeof(SL_WIRE_DEAD_LETTER_KEY) - 1)
#define SHARD_DEAD_LETTER_ORIGIN_BYTES_MAX (SL_WIRE_TOPIC_BYTES_MAX + 96u)
static_assert(SHARD_SHARDS_MAX <= UINT16_MAX, "shard index in the dead-letter producer id");

/* Subscription table key: (subscriber id, subscription id). */
struct shard_sub_key {
	uint64_t subscriber_id;
	uint32_t subscription_id;
	uint32_t zero;
};

/* A subscriber (one consumer process): where its DELIVERs go and when it was last heard
 * of, by this shard, directly or through a control message. */
struct shard_subscriber {
	struct netdev_peer peer;
	uint64_t heard_tsc;
	uint32_t subscriptions; /* of its subscriptions, how many this shard holds */
	uint32_t first;		/* slot of the first of them: a list through shard_sub.next */
};

/* Where a replay starts (a SUBSCRIBE's start, or a live subscription out of credit). */
enum shard_seek {
	SHARD_SEEK_EARLIEST = 0,
	SHARD_SEEK_TIME = 1,	 /* seek_value: CLOCK_REALTIME ns */
	SHARD_SEEK_POSITION = 2, /* seek_value: journal position of the first batch */
	SHARD_SEEK_OFFSET = 3,	 /* the reader's start offsets: shard_start_seek() */
};

/*
 * Where a reader (a subscription, or a consumer group) that starts at `offsets` begins
 * each partition of this shard while it first replays: the listed partitions at their
 * start offsets (a list through shard.start_offsets), every other partition at the
 * entries from journal position `from_position` on (0: fallback earliest; the journal's
 * end at SUBSCRIBE: fallback latest). Every entry from `until_position` (the journal's
 * end at SUBSCRIBE) on is past the start. Released once the reader is caught up and (a
 * subscription) nothing it was sent from before until_position is unacknowledged: an ack
 * timeout rewinds it there, and the rewind must skip what the start excluded.
 */
struct shard_start {
	uint64_t from_position;
	uint64_t until_position;
	uint32_t first; /* first start offset, or SHARD_SLOT_NONE */
	bool is_active; /* false: every entry the pattern matches is delivered */
	uint8_t topic_len;
	uint8_t topic[SL_WIRE_TOPIC_BYTES_MAX]; /* of the start offsets: the cursor seeks in it */
};

/* Where a reader's batches come from at this shard. */
enum shard_reader_mode {
	SHARD_READER_LIVE = 0,	      /* delivered as they are appended */
	SHARD_READER_REPLAY_WAIT = 1, /* to be read from the journal: waits for a free cursor */
	SHARD_READER_REPLAYING = 2,   /* read from the journal by cursor `cursor` */
};

/*
 * A reader of this shard's batches: a subscription, or a consumer group (which reads the
 * journal once for all its members). Its id is its matcher id: the subscription's slot,
 * or subscriptions_max + g for group g (shard_reader_of()). Live, or replaying from where
 * `seek` and `seek_value` say, through a cursor of the shard's pool (shard_replay.c).
 */
struct shard_reader {
	uint64_t seek_value;	  /* enum shard_seek's value */
	uint16_t cursor;	  /* SHARD_READER_REPLAYING: index in shard.replays */
	uint8_t mode;		  /* enum shard_reader_mode */
	uint8_t seek;		  /* enum shard_seek */
	struct shard_start start; /* start offsets: in force while it first replays */
};

/* One start offset of a reader, for a partition this shard owns: entries holding
 * `offset` or later offsets are delivered. */
struct shard_start_offset {
	uint64_t offset;
	uint32_t partition_slot;
	uint32_t partition;
	uint32_t next; /* of the same reader, or of the free list; SHARD_SLOT_NONE ends it */
};

/* A DELIVER sent and not yet acknowledged (at-least-once): the batch and where to read
 * it again. One ring of SHARD_INFLIGHT_SLOTS per subscription, in delivery order. */
struct shard_inflight {
	uint64_t base_offset;
	uint64_t position; /* the batch's journal position */
	uint64_t sent_tsc;
	uint32_t partition_slot; /* position in the shard's partition table */
	uint16_t record_count;
	uint16_t attempt; /* SHARD_INFLIGHT_ACKED once acknowledged */
};

#define SHARD_INFLIGHT_ACKED UINT16_MAX

/* What a DELIVER is of: the batch's partition table slot and journal position. */
struct shard_batch_ref {
	uint32_t partition_slot;
	uint16_t attempt;  /* a group's redelivery: its attempt; else 0 */
	uint64_t position; /* UINT64_MAX without a journal */
};

/* A batch of a group to send again to whichever member the group picks now: its
 * member's ack timed out, or the member left. Served one at a time by a replay cursor. */
struct shard_redelivery {
	uint64_t position;
	uint64_t subscriber_id; /* is_dead outside a group: names the dead-letter topic */
	uint32_t group;		/* slot in the group pool, or SHARD_SLOT_NONE */
	uint32_t group_epoch;	/* the slot's epoch then: a slot reused since is another group */
	uint16_t attempt;
	bool is_dead; /* out of attempts: appended to the dead-letter topic, not delivered */
	/* is_dead in a group: its name, for the dead-letter topic (the group may be gone by
	 * the time the batch is read back). */
	uint8_t group_name_len;
	uint8_t group_name[SL_WIRE_GROUP_BYTES_MAX];
};

/* One subscription, in the slot its matcher id names (and its subscription table
 * position). */
struct shard_sub {
	uint64_t subscriber_id;
	uint32_t subscription_id;
	uint32_t subscriber;		 /* slot in the subscriber table */
	uint32_t next;			 /* next subscription of the same subscriber */
	uint32_t group;			 /* slot in the group pool, or SHARD_SLOT_NONE */
	uint64_t member_id;		 /* group_member_id(), in a group */
	struct sl_wire_subscribe params; /* as accepted; offset_count and lengths zeroed */
	struct credit credit;		 /* of this subscription at this shard */
	uint64_t credit_tsc;		 /* when its credit last moved: the first DELIVER
					  * outstanding sent, or consumed totals advanced */
	uint64_t sent_end;		 /* journal position after the last batch sent */
	uint64_t redeliver_end;		 /* batches below it are sent again: attempt */
	uint32_t inflight_head;		 /* ring of unacked batches: next to free */
	uint32_t inflight_tail;		 /* next free */
	uint16_t redeliver_attempt;	 /* attempt of batches sent below redeliver_end */
	uint8_t pattern_len;
	uint8_t pattern[SL_WIRE_TOPIC_BYTES_MAX];
	/* Outside a group; a member is always live (its group reads for it). */
	struct shard_reader reader;
};

/* A consumer group of this shard: a matcher entry of its own (id subscriptions_max +
 * slot) and its members' subscription slots. */
struct shard_group {
	struct group *members; /* from the pool created with the shard, reset on reuse */
	uint32_t *member_slot; /* [SHARD_GROUP_MEMBERS_MAX] subscription slots, join order */
	uint32_t count;	       /* members; 0: the slot is free */
	uint32_t epoch;	       /* incremented each time the slot is freed */
	uint8_t strategy;
	uint8_t name_len;
	uint8_t pattern_len;
	/* The group's own replay, from the start its first member asked for: while it
	 * reads the journal, live delivery passes the group by. */
	struct shard_reader reader;
	uint8_t name[SL_WIRE_GROUP_BYTES_MAX];
	uint8_t pattern[SL_WIRE_TOPIC_BYTES_MAX];
};

/* A replay cursor of the shard and the reader reading through it. */
struct shard_replay {
	struct journal_cursor *cursor;
	/* reader id (struct shard_reader); SHARD_SLOT_REDELIVERY; or SHARD_SLOT_NONE: free */
	uint32_t reader;
};

/* A subscription change broadcast to every shard through the control rings, in the
 * data of an mbuf of the sending shard's pool (freed by the receiver). */
enum shard_ctl_kind {
	SHARD_CTL_SUBSCRIBE = 1,
	SHARD_CTL_UNSUBSCRIBE = 2,
	SHARD_CTL_HEARTBEAT = 3,
};

struct shard_ctl {
	uint64_t subscriber_id;
	uint32_t subscription_id; /* 0 for a heartbeat */
	uint8_t kind;		  /* enum shard_ctl_kind */
	uint8_t pattern_len;
	uint8_t group_len;
	/* SUBSCRIBE at `offsets`: the carrier's next segment is a copy of the frame, whose
	 * start offsets each shard reads for the partitions it owns. */
	bool has_frame;
	struct netdev_peer peer;	 /* the subscriber's address as the receiver saw it */
	struct sl_wire_subscribe params; /* SUBSCRIBE: offset_count, offsets_topic_len zero */
	uint8_t pattern[SL_WIRE_TOPIC_BYTES_MAX];
	uint8_t group[SL_WIRE_GROUP_BYTES_MAX];
};

struct shard {
	/* Read-only after shard_create(). */
	uint16_t index;
	uint16_t shards;
	uint16_t burst;
	uint32_t frame_bytes_max;
	uint32_t partitions_max;
	uint32_t producers_max;
	uint32_t dedupe_window;
	uint64_t producer_idle_tsc; /* 0: never forget */
	struct shard_env *env;
	struct shard_counters *counters; /* &env->counters[index] */
	struct rte_mempool *pool;

	/* Loop state. */
	uint64_t now_tsc;    /* TSC at the start of the current poll */
	uint32_t idle_polls; /* empty polls in a row */
	uint32_t sweep_next; /* rte_hash_iterate cursor of the producer sweep */
	uint16_t tx_count;
	struct rte_mbuf **rx;	    /* [burst] */
	struct rte_mbuf **tx;	    /* [burst] replies waiting for TX */
	uint16_t *tx_len;	    /* [burst] their lengths, for TX_BYTES */
	struct rte_mbuf **mesh_out; /* [shards * burst] hand-offs waiting per owner */
	uint16_t *mesh_out_count;   /* [shards] */

	struct rte_hash *partitions;		 /* shard_partition_key -> slot */
	struct shard_partition *partition_state; /* [partitions_max] */
	struct rte_hash *producers;		 /* shard_producer_key -> slot */
	struct shard_producer *producer_state;	 /* [producers_max] */
	uint64_t *offsets; /* [producers_max * dedupe_window], see struct shard_producer */

	/* The journal (NULL: --no-journal, durable produce is refused) and the acks waiting
	 * for it: a FIFO of durable_acks_max reply mbufs, each sent once the journal's
	 * durable end reaches its end position (ends are appended in increasing order). */
	struct journal *journal;
	uint64_t tsc_per_us;
	uint64_t now_us;		/* now_tsc in microseconds */
	uint64_t now_ns;		/* CLOCK_REALTIME at the start of the current poll */
	uint32_t durable_acks_max;	/* power of two */
	uint32_t durable_head;		/* next to send */
	uint32_t durable_tail;		/* next free */
	struct rte_mbuf **durable_mbuf; /* [durable_acks_max] */
	uint64_t *durable_end;		/* [durable_acks_max] */
	uint16_t *durable_len;		/* [durable_acks_max] */
	uint64_t producer_idle_ns;	/* --producer-idle-s, for the recovery */
	uint64_t replay_streams_lost;	/* recovered streams that found no room */
	int journal_close_rc;		/* journal_close() at the end of shard_run() */

	/* Subscriptions: this shard's copy of the whole set (every shard applies every
	 * change), and the delivery state of the partitions it owns. */
	uint32_t subscriptions_max;
	uint64_t consumer_timeout_tsc;
	uint32_t consumer_timeout_ms;
	uint32_t subscriber_sweep_next;		   /* rte_hash_iterate cursor */
	uint64_t subscriber_sweep_tsc;		   /* when the next sweep step is due */
	struct rte_hash *subs;			   /* shard_sub_key -> slot */
	struct shard_sub *sub_state;		   /* [subscriptions_max] */
	struct rte_hash *subscribers;		   /* subscriber id -> slot */
	struct shard_subscriber *subscriber_state; /* [subscriptions_max] */
	struct shard_group *groups;		   /* [SHARD_GROUPS_MAX] */
	struct match_trie *matcher; /* ids: sub slots, then subscriptions_max + group */
	uint32_t *matched;	    /* [subscriptions_max + SHARD_GROUPS_MAX] */
	/* Replays from the journal: a cursor pool made when the journal opens, the count of
	 * subscriptions waiting for one, and where the scan for them resumes. */
	uint32_t replay_cursors;
	struct shard_replay *replays; /* [replay_cursors] */
	uint32_t replay_waiting;      /* subscriptions and groups */
	uint32_t replay_scan_next;    /* rte_hash_iterate cursor over subs */
	/* Start offsets of readers starting at `offsets` ([SHARD_START_OFFSETS_POOL], lists
	 * through .next) and the head of the free ones. */
	struct shard_start_offset *start_offsets;
	uint32_t start_offsets_free;
	/* At-least-once: unacked DELIVERs per subscription, and the ack timer's sweep. */
	struct shard_inflight *inflight; /* [subscriptions_max * SHARD_INFLIGHT_SLOTS] */
	uint64_t ack_timeout_tsc;
	uint32_t ack_timeout_ms;
	uint16_t redeliveries_max;
	uint32_t ack_sweep_next; /* rte_hash_iterate cursor over subs */
	/* Group redeliveries waiting (a FIFO of SHARD_REDELIVERIES_QUEUED) and the cursor
	 * serving the oldest (SHARD_SLOT_NONE: none taken yet). */
	struct shard_redelivery *redeliveries;
	uint32_t redelivery_head;
	uint32_t redelivery_tail;
	uint32_t redelivery_cursor;
	uint64_t dead_letter_sequence; /* of the next dead-letter frame */
};

/* An rte_hash named "<what><id>_<index>" of `entries` keys of key_len bytes on NUMA node
 * `socket`, with extendable buckets so it holds `entries` keys whatever their hashes. */
struct rte_hash *shard_hash_create(const char *what, unsigned id, uint16_t index, uint32_t entries,
				   uint32_t key_len, int socket);

/* Adds n to counter `stat` of shard s (its own lcore only). */
static inline void shard_count(struct shard *s, enum sl_stat stat, uint64_t n)
{
	shard_counters_add(s->counters, stat, n);
}

/* A frame already validated by wire_decode() on some shard: rebuilds its view of mbuf
 * m without checking again (the bytes have not changed since). */
void shard_frame_trusted(struct rte_mbuf *m, struct wire_frame *f);

/*
 * Handles a valid PRODUCE frame f, held in m, of a partition this shard owns: durable
 * check, dedupe by (producer id, epoch, sequence), offset assignment, reply. Takes
 * ownership of m.
 */
void shard_produce(struct shard *s, struct rte_mbuf *m, const struct wire_frame *f,
		   uint32_t topic_hash);

/*
 * Subscription frames received by this shard (shard_sub.c): each is applied here, then
 * broadcast to every other shard as a control message; the answer goes from here.
 * Take ownership of m.
 */
void shard_subscribe(struct shard *s, struct rte_mbuf *m, const struct wire_frame *f);
void shard_unsubscribe(struct shard *s, struct rte_mbuf *m, const struct wire_frame *f);
void shard_heartbeat(struct shard *s, struct rte_mbuf *m, const struct wire_frame *f);

/* Applies the control messages other shards broadcast to s (from shard `from`). Returns
 * how many. */
unsigned shard_ctl_drain(struct shard *s);
unsigned shard_ctl_drain_from(struct shard *s, uint16_t from);

/* Removes up to `steps` subscribers silent for longer than --consumer-timeout. */
void shard_subscribers_sweep(struct shard *s, unsigned steps);

/* Allocates and frees the subscription state of s (shard_create(), shard_destroy()). */
int shard_subs_create(struct shard *s, int socket);
void shard_subs_destroy(struct shard *s);

/*
 * Live delivery (shard_deliver.c): sends the batch of f, just appended at base offset
 * `base` by this shard (its owner), to every subscription matching its topic, and to one
 * member of every matching group, within their credit. Borrows m: the DELIVERs share its
 * records (it lives until the last of them is sent). `position`: the batch's journal
 * position, where a subscription of policy replay that has no credit for it will resume
 * from the journal (UINT64_MAX without a journal).
 */
void shard_deliver(struct shard *s, struct rte_mbuf *m, const struct wire_frame *f,
		   uint32_t topic_hash, uint64_t base, const struct shard_batch_ref *ref);

/* The reader of id `reader`: subscription `reader`, or group reader - subscriptions_max. */
static inline struct shard_reader *shard_reader_of(struct shard *s, uint32_t reader)
{
	return reader < s->subscriptions_max ? &s->sub_state[reader].reader
					     : &s->groups[reader - s->subscriptions_max].reader;
}

/*
 * Replay (shard_replay.c). shard_replay_begin() sends live reader `reader` to the journal
 * from where `seek` says (REPLAY_WAIT until a cursor is free), with the start offsets the
 * caller put in its start; shard_replay_end() takes it off its cursor, live again, and
 * gives its start offsets back (caught up, failed, or removed); shard_replay_rewind()
 * sends subscription `slot` back to journal `position`, its start offsets kept (the ack
 * timer). shard_replay_poll() lets every replaying reader read on within its credit and
 * turns the caught-up ones live. Returns entries handled.
 */
void shard_replay_begin(struct shard *s, uint32_t reader, enum shard_seek seek, uint64_t value);
void shard_replay_end(struct shard *s, uint32_t reader);
void shard_replay_rewind(struct shard *s, uint32_t slot, uint64_t position);
unsigned shard_replay_poll(struct shard *s);
int shard_replays_create(struct shard *s);
void shard_replays_destroy(struct shard *s);

/*
 * Start offsets (shard_start.c). shard_start_init() fills st for a SUBSCRIBE at
 * `offsets` (journal required): the listed partitions this shard owns, each clamped to
 * the partition's end, and the fallback's journal position; -ENOSPC (st left inactive)
 * when the pool has no room. shard_start_admits() says whether entry e of partition
 * partition_slot is at or past the reader's start; shard_start_needs_replay() whether
 * the reader has anything to read from the journal at all; shard_start_seek() positions
 * a cursor where the reading begins; shard_start_release() gives the offsets back (the
 * reader then gets every matching entry).
 */
int shard_starts_create(struct shard *s, int socket);
void shard_starts_destroy(struct shard *s);
int shard_start_init(struct shard *s, struct shard_start *st, const struct wire_subscribe *sub);
bool shard_start_admits(const struct shard *s, const struct shard_start *st,
			uint32_t partition_slot, const struct journal_entry *e);
bool shard_start_needs_replay(const struct shard_start *st);
void shard_start_seek(struct shard *s, const struct shard_start *st, struct journal_cursor *c);
void shard_start_release(struct shard *s, struct shard_start *st);

/* Sends subscription `slot` a DELIVER of a batch read from the journal (records copied
 * into an mbuf of their own). False when no mbuf was free: nothing sent. */
bool shard_deliver_entry(struct shard *s, uint32_t slot, const struct journal_entry *e,
			 uint32_t partition_slot, uint16_t attempt);

/* True when live subscription `slot` may be sent a DELIVER of `bytes` now (credit and
 * room for one more unacked batch). */
bool shard_sub_can_take(const struct shard *s, uint32_t slot, uint32_t bytes);

/* The member of group g to send a batch of `bytes` of (topic, partition): the group's
 * pick; round-robin and weighted groups pass over members that cannot take it to the
 * next pick (at most one round), so a slow member does not cost the group its batches,
 * while key-affine keeps the partition's member (order first). The last pick when none
 * can take it, SHARD_SLOT_NONE when the group is empty. */
uint32_t shard_group_pick_ready(struct shard *s, uint32_t g, uint32_t topic_hash,
				uint32_t partition, uint32_t bytes);

/*
 * At-least-once (shard_ack.c). A subscription outside a group, on a shard with a journal,
 * keeps its unacked DELIVERs; shard_inflight_has_room() bounds them (a full ring stalls
 * the subscription like missing credit), shard_inflight_push() records one sent.
 * CONSUMER_ACK frees them; shard_acks_sweep() redelivers the oldest of a subscription
 * not acked within --ack-timeout-ms by replaying it from the journal from there (and
 * counts a dead letter after --max-redeliveries).
 */
bool shard_sub_is_tracked(const struct shard *s, const struct shard_sub *sub);
bool shard_inflight_has_room(const struct shard *s, const struct shard_sub *sub);
void shard_inflight_push(struct shard *s, uint32_t slot, const struct shard_batch_ref *ref,
			 const struct wire_deliver *d);
void shard_consumer_ack(struct shard *s, struct rte_mbuf *m, const struct wire_frame *f);
void shard_acks_sweep(struct shard *s, unsigned steps);

/* True when subscription `slot` has a batch sent from below journal `position` that is
 * not acknowledged yet. */
bool shard_inflight_before(const struct shard *s, uint32_t slot, uint64_t position);

/* A group member leaves: its unacked batches are queued for the other members. */
void shard_inflight_hand_over(struct shard *s, uint32_t slot);

/* No member of group g can take the batch at journal `position` now: it is queued for
 * the first member that can (a dead letter if the queue is full). */
void shard_group_defer(struct shard *s, uint32_t g, uint64_t position);

/*
 * Dead letters (shard_dead.c). shard_dead_letter_queue() gives up the batch at journal
 * `position` of group `group` (SHARD_SLOT_NONE: a subscription of subscriber_id outside
 * a group), counted, and queues it to be read back; shard_dead_letter_send() produces
 * the batch read back as e to its dead-letter topic through shard_route_produce().
 * Whatever stops a dead letter on the way is counted in dead_letters_lost.
 */
void shard_dead_letters_init(struct shard *s);
void shard_dead_letter_queue(struct shard *s, uint64_t position, uint32_t group,
			     uint64_t subscriber_id);
void shard_dead_letter_send(struct shard *s, const struct shard_redelivery *r,
			    const struct journal_entry *e);
/* True for a frame a shard produced as a dead letter. */
bool shard_is_dead_letter(const struct sl_wire_header *h);

/* A valid PRODUCE frame f in m (received, or built by this shard): checks its topic
 * and partition, then appends it here or hands it to the owner through the mesh. Takes
 * ownership of m. */
void shard_route_produce(struct shard *s, struct rte_mbuf *m, const struct wire_frame *f);

/* Serves queued group redeliveries through a replay cursor. Returns work done. */
unsigned shard_redeliveries_poll(struct shard *s);

/* The partition table slot of (topic, partition), or a negative errno when this shard
 * holds none. */
int32_t shard_partition_find(struct shard *s, const uint8_t *topic, uint8_t topic_len,
			     uint32_t partition, uint32_t topic_hash);

/* A CREDIT for this shard (wire_credit_shard() checked by the caller). Takes ownership
 * of m. */
void shard_credit(struct shard *s, struct rte_mbuf *m, const struct wire_frame *f);

/* Subscription `slot` has had DELIVERs outstanding and no consumption for longer than
 * --ack-timeout-ms: they are presumed lost and taken as consumed, so that a lost DELIVER
 * (which no later DELIVER can reveal to a consumer out of credit) does not hold the
 * credit for good. The consumer counts them through the gap in delivery numbers. */
void shard_credit_sweep_one(struct shard *s, uint32_t slot);

/* Forgets up to `steps` producer streams idle longer than --producer-idle-s. */
void shard_producers_sweep(struct shard *s, unsigned steps);

/* CLOCK_REALTIME in nanoseconds: the append time journal entries carry. */
uint64_t shard_clock_realtime_ns(void);

/* Room for one more durable ack. */
static inline bool shard_durable_has_room(const struct shard *s)
{
	return s->durable_tail - s->durable_head < s->durable_acks_max;
}

/* Recovery callbacks (struct journal_recovery) into the shard `ctx`. A partition another
 * shard owns is -EPROTO (the journal was written with another --shards); no room for a
 * partition is -ENOSPC; a stream that finds no room is counted in replay_streams_lost. */
int shard_recover_partition(void *ctx, const uint8_t *topic, uint8_t topic_len, uint32_t partition,
			    uint64_t next_offset);
int shard_recover_stream(void *ctx, const struct journal_state_partition *part,
			 const struct journal_state_stream *stream, uint32_t window);

/* Polls the journal and sends the durable acks whose batches are now on stable storage
 * (or NACKs them "storage" if the journal failed). Returns completions handled. */
unsigned shard_journal_poll(struct shard *s);

/*
 * Replies. Each takes ownership of m (the request, which is rewritten into the reply
 * when possible), queues the reply for TX and counts it. Requests read from `req`/`f`
 * must not be used after the call: they may point into m.
 */
/* durable_end: for an ack at level durable, the journal position the batch ends at; the
 * ack waits in the durable queue (room checked by the caller) until the journal's
 * durable end reaches it. Ignored at other levels. */
void shard_reply_ack(struct shard *s, struct rte_mbuf *m, const struct wire_frame *f,
		     enum sl_ack_status status, uint64_t base_offset, uint64_t durable_end);
void shard_reply_nack(struct shard *s, struct rte_mbuf *m, const struct sl_wire_header *req,
		      const uint8_t *topic, enum sl_nack_reason reason, uint32_t detail,
		      uint64_t expected);
void shard_reply_metadata(struct shard *s, struct rte_mbuf *m, const struct wire_frame *f);
void shard_reply_stats(struct shard *s, struct rte_mbuf *m, const struct wire_frame *f);
void shard_reply_pong(struct shard *s, struct rte_mbuf *m, const struct wire_frame *f);

/* The mbuf a reply to request m is written into, for a caller that copied what it needs
 * of the request: m itself when it can be written over, else a fresh mbuf with m's peer
 * (m is freed). NULL when the pool is empty (m freed, counted). */
struct rte_mbuf *shard_reply_mbuf_over(struct shard *s, struct rte_mbuf *m);

/* Queues reply m of `len` bytes for TX, flushing when the burst is full. */
void shard_tx_push(struct shard *s, struct rte_mbuf *m, uint32_t len);

/* Queues chained datagram m (data and packet lengths set, pkt_len bytes) for TX. */
void shard_tx_push_chain(struct shard *s, struct rte_mbuf *m);

/* Parks durable ack m (`len` bytes) until the journal's durable end reaches `end`. The
 * caller checked shard_durable_has_room(). */
void shard_durable_push(struct shard *s, struct rte_mbuf *m, uint32_t len, uint64_t end);

/* Sends the queued replies through the netdev; what it refuses is freed and counted. */
void shard_tx_flush(struct shard *s);

#endif
