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
};

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

/* Queues reply m of `len` bytes for TX, flushing when the burst is full. */
void shard_tx_push(struct shard *s, struct rte_mbuf *m, uint32_t len);

/* Parks durable ack m (`len` bytes) until the journal's durable end reaches `end`. The
 * caller checked shard_durable_has_room(). */
void shard_durable_push(struct shard *s, struct rte_mbuf *m, uint32_t len, uint64_t end);

/* Sends the queued replies through the netdev; what it refuses is freed and counted. */
void shard_tx_flush(struct shard *s);

#endif
