/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Dedupe and offset assignment on the owner shard. A stream is (producer id, partition);
 * its state (epoch, next expected sequence, the base offsets of its last --dedupe-window
 * appended batches) lives in a bounded rte_hash and a preallocated offset array, as
 * does each owned partition's next offset. A batch is appended exactly when its
 * sequence is the next one of its stream, or when it is a stream head further on;
 * retransmits are answered with their original offsets, and a stream is only ever
 * started or moved forward by a frame flagged STREAM_HEAD, so forgetting state never
 * turns a lost batch into a duplicate. An appended batch is copied into the journal
 * first; state changes only once the journal took it.
 */
#include "shard/shard_int.h"

#include "core/assert.h"

#include <rte_hash_crc.h>

#include <errno.h>
#include <stddef.h>
#include <string.h>

/* Hash signature of a partition key, from the topic hash the router already has. */
static hash_sig_t shard_partition_sig(uint32_t topic_hash, uint32_t partition)
{
	return rte_hash_crc_4byte(partition, topic_hash);
}

/* Only what shard_partition_key_cmp() reads: the name's tail past name_len is never
 * compared (the table's signature comes from the topic hash), so it is not cleared. */
static void shard_partition_key_init(struct shard_partition_key *k, const uint8_t *topic,
				     uint8_t topic_len, uint32_t partition)
{
	memset(k, 0, offsetof(struct shard_partition_key, name));
	k->partition = partition;
	k->name_len = topic_len;
	memcpy(k->name, topic, topic_len);
}

/* Position of an existing or a new partition entry; negative errno when full. */
static int32_t shard_partition_get(struct shard *s, const struct shard_partition_key *k,
				   hash_sig_t sig, bool create)
{
	int32_t pos = rte_hash_lookup_with_hash(s->partitions, k, sig);

	if (pos >= 0 || !create) {
		return pos;
	}
	pos = rte_hash_add_key_with_hash(s->partitions, k, sig);
	if (pos >= 0) {
		SL_ASSERT((uint32_t)pos < s->partitions_max);
		s->partition_state[pos].next_offset = 0;
	}
	return pos;
}

int32_t shard_partition_find(struct shard *s, const uint8_t *topic, uint8_t topic_len,
			     uint32_t partition, uint32_t topic_hash)
{
	struct shard_partition_key k;

	shard_partition_key_init(&k, topic, topic_len, partition);
	return shard_partition_get(s, &k, shard_partition_sig(topic_hash, partition), false);
}

/* Starts a stream at frame h: STREAM_HEAD already checked. */
static void shard_stream_start(struct shard_producer *p, const struct sl_wire_header *h)
{
	p->epoch = h->producer_epoch;
	p->next_sequence = h->sequence;
	p->first_sequence = h->sequence;
}

/* The dedupe_window offset slots of the stream in producer table slot `slot`. */
static uint64_t *shard_stream_offsets(const struct shard *s, uint32_t slot)
{
	return &s->offsets[(size_t)slot * s->dedupe_window];
}

/* Base offset of an appended sequence still remembered, else SL_OFFSET_UNKNOWN. */
static uint64_t shard_stream_recall(const struct shard *s, const struct shard_producer *p,
				    uint32_t slot, uint64_t sequence)
{
	SL_ASSERT_HOT(sequence < p->next_sequence);
	/* Before first_sequence: appended before a skip ahead (its slot may since have been
	 * reused) or skipped over, never appended; either way no offset to tell. */
	if (sequence < p->first_sequence || p->next_sequence - sequence > s->dedupe_window) {
		return SL_OFFSET_UNKNOWN;
	}
	return shard_stream_offsets(s, slot)[sequence % s->dedupe_window];
}

/* Copies the batch into the journal. 0, or the NACK reason that was sent (m freed). */
static int shard_journal_append(struct shard *s, struct rte_mbuf *m, const struct wire_frame *f,
				uint64_t base, uint64_t *end)
{
	const struct sl_wire_header *h = &f->hdr;
	struct journal_batch b = {
		.topic = f->topic,
		.topic_len = h->topic_len,
		.flags = (h->flags & SL_WIRE_FLAG_STREAM_HEAD) != 0 ? JOURNAL_ENTRY_STREAM_HEAD : 0,
		.record_count = h->record_count,
		.partition = h->partition,
		.producer_epoch = h->producer_epoch,
		.base_offset = base,
		.producer_id = h->producer_id,
		.sequence = h->sequence,
		.body = f->body,
		.body_len = f->body_len,
	};
	int rc = journal_append(s->journal, &b, s->now_ns, end);

	if (rc == 0) {
		return 0;
	}
	if (rc == -EAGAIN) {
		shard_count(s, SL_STAT_DROP_JOURNAL_BUSY, 1);
		shard_reply_nack(s, m, h, f->topic, SL_NACK_BUSY, 0, 0);
		return SL_NACK_BUSY;
	}
	shard_count(s, SL_STAT_DROP_STORAGE, 1);
	shard_reply_nack(s, m, h, f->topic, SL_NACK_STORAGE, 0, 0);
	return SL_NACK_STORAGE;
}

/* Appends the batch of f as the next of stream p; `skip`: it is a stream head past the
 * expected sequence, so the stream restarts its remembered range there. */
static void shard_append(struct shard *s, struct rte_mbuf *m, const struct wire_frame *f,
			 struct shard_partition *part, struct shard_producer *p, uint32_t slot,
			 bool skip)
{
	const struct sl_wire_header *h = &f->hdr;
	uint64_t base = part->next_offset;
	uint64_t end = 0;

	/* Nothing changes unless the journal took the batch: a refused batch is retried
	 * with the same sequence and must then be appended, not called a duplicate. */
	if (s->journal != NULL && shard_journal_append(s, m, f, base, &end) != 0) {
		return;
	}
	part->next_offset = base + h->record_count;
	if (skip) {
		p->first_sequence = h->sequence;
	}
	p->next_sequence = h->sequence + 1;
	shard_stream_offsets(s, slot)[h->sequence % s->dedupe_window] = base;
	shard_count(s, SL_STAT_APPENDED_BATCHES, 1);
	shard_count(s, SL_STAT_APPENDED_EVENTS, h->record_count);
	shard_count(s, SL_STAT_APPENDED_BYTES, f->body_len);
	/* Before the ack: the DELIVERs share m's records, so the ack cannot reuse m. */
	if (rte_hash_count(s->subs) > 0) {
		struct shard_batch_ref ref = {
			.partition_slot = (uint32_t)(part - s->partition_state),
			.position = s->journal == NULL
					    ? UINT64_MAX
					    : end - journal_entry_bytes(h->topic_len, f->body_len),
		};
		shard_deliver(s, m, f, route_topic_hash(f->topic, h->topic_len), base, &ref);
	}
	shard_reply_ack(s, m, f, SL_ACK_APPENDED, base, end);
}

static void shard_nack_sequence(struct shard *s, struct rte_mbuf *m, const struct wire_frame *f,
				uint64_t expected)
{
	shard_count(s, SL_STAT_DROP_OUT_OF_SEQUENCE, 1);
	shard_reply_nack(s, m, &f->hdr, f->topic, SL_NACK_OUT_OF_SEQUENCE, 0, expected);
}

/* A frame of stream p (in producer table slot `slot`), epoch checked: a duplicate, the
 * next batch, a stream head further on, or a gap. Takes ownership of m. */
static void shard_stream_produce(struct shard *s, struct rte_mbuf *m, const struct wire_frame *f,
				 struct shard_partition *part, struct shard_producer *p,
				 uint32_t slot)
{
	const struct sl_wire_header *h = &f->hdr;

	if (h->sequence < p->next_sequence) {
		/* The original may not be durable yet: its durable ack waits for everything
		 * appended so far, which includes it. */
		uint64_t end = s->journal != NULL ? journal_appended_end(s->journal) : 0;
		shard_count(s, SL_STAT_DUPLICATES, 1);
		shard_reply_ack(s, m, f, SL_ACK_DUPLICATE,
				shard_stream_recall(s, p, slot, h->sequence), end);
		return;
	}
	bool skip = h->sequence > p->next_sequence;
	if (skip && (h->flags & SL_WIRE_FLAG_STREAM_HEAD) == 0) {
		shard_nack_sequence(s, m, f, p->next_sequence);
		return;
	}
	/* A stream head further on: the producer acked or gave up everything before this
	 * batch (with acks=none it never waits): the stream skips ahead rather than wedging
	 * on a loss. */
	shard_append(s, m, f, part, p, slot, skip);
}

void shard_produce(struct shard *s, struct rte_mbuf *m, const struct wire_frame *f,
		   uint32_t topic_hash)
{
	const struct sl_wire_header *h = &f->hdr;
	bool head = (h->flags & SL_WIRE_FLAG_STREAM_HEAD) != 0;
	struct shard_partition_key pkey;
	struct shard_producer *p = NULL;

	/* Refuse a durable ack that cannot be given before anything is appended, so that
	 * no batch is ever appended without the ack its producer asked for. */
	if (h->ack_level == SL_ACKS_DURABLE) {
		if (s->journal == NULL) {
			shard_count(s, SL_STAT_DROP_STORAGE, 1);
			shard_reply_nack(s, m, h, f->topic, SL_NACK_STORAGE, 0, 0);
			return;
		}
		if (!shard_durable_has_room(s)) {
			shard_count(s, SL_STAT_DROP_JOURNAL_BUSY, 1);
			shard_reply_nack(s, m, h, f->topic, SL_NACK_BUSY, 0, 0);
			return;
		}
	}
	shard_partition_key_init(&pkey, f->topic, h->topic_len, h->partition);
	hash_sig_t psig = shard_partition_sig(topic_hash, h->partition);
	int32_t ppos = shard_partition_get(s, &pkey, psig, head);
	if (ppos < 0 && head) {
		shard_count(s, SL_STAT_DROP_PARTITIONS_FULL, 1);
		shard_reply_nack(s, m, h, f->topic, SL_NACK_BUSY, 0, 0);
		return;
	}
	struct shard_producer_key qkey = {.producer_id = h->producer_id,
					  .partition_slot = (uint32_t)ppos};
	int32_t qpos = ppos < 0 ? -1 : rte_hash_lookup(s->producers, &qkey);
	if (qpos >= 0) {
		p = &s->producer_state[qpos];
		p->used_tsc = s->now_tsc;
	}

	/* No state, or a newer epoch: only a stream head may (re)start the stream. */
	if (p == NULL || h->producer_epoch > p->epoch) {
		if (!head) {
			shard_nack_sequence(s, m, f, UINT64_MAX);
			return;
		}
		if (p == NULL) {
			qpos = rte_hash_add_key(s->producers, &qkey);
			if (qpos < 0) {
				shard_count(s, SL_STAT_DROP_PRODUCERS_FULL, 1);
				shard_reply_nack(s, m, h, f->topic, SL_NACK_BUSY, 0, 0);
				return;
			}
			SL_ASSERT((uint32_t)qpos < s->producers_max);
			p = &s->producer_state[qpos];
			p->used_tsc = s->now_tsc;
		}
		shard_stream_start(p, h);
	}
	if (h->producer_epoch < p->epoch) {
		shard_count(s, SL_STAT_DROP_FENCED, 1);
		shard_reply_nack(s, m, h, f->topic, SL_NACK_FENCED, 0, p->epoch);
		return;
	}
	shard_stream_produce(s, m, f, &s->partition_state[ppos], p, (uint32_t)qpos);
}

int shard_recover_partition(void *ctx, const uint8_t *topic, uint8_t topic_len, uint32_t partition,
			    uint64_t next_offset)
{
	struct shard *s = ctx;
	uint32_t topic_hash = route_topic_hash(topic, topic_len);
	struct shard_partition_key pkey;

	if (route_owner_hashed(topic_hash, partition, s->shards) != s->index) {
		return -EPROTO; /* written with another --shards: the caller says so */
	}
	shard_partition_key_init(&pkey, topic, topic_len, partition);
	int32_t ppos =
		shard_partition_get(s, &pkey, shard_partition_sig(topic_hash, partition), true);
	if (ppos < 0) {
		return -ENOSPC;
	}
	s->partition_state[ppos].next_offset = next_offset;
	return 0;
}

int shard_recover_stream(void *ctx, const struct journal_state_partition *part,
			 const struct journal_state_stream *stream, uint32_t window)
{
	struct shard *s = ctx;
	struct shard_partition_key pkey;

	/* The journal keeps exactly the shard's window (journal_open() was given it). */
	SL_ASSERT(window == s->dedupe_window);
	uint32_t topic_hash = route_topic_hash(part->topic, part->topic_len);
	shard_partition_key_init(&pkey, part->topic, part->topic_len, part->partition);
	/* Partitions are handed over first: this one is in the table. */
	int32_t ppos = shard_partition_get(s, &pkey,
					   shard_partition_sig(topic_hash, part->partition), false);
	SL_ASSERT(ppos >= 0);
	struct shard_producer_key qkey = {.producer_id = stream->producer_id,
					  .partition_slot = (uint32_t)ppos};
	int32_t qpos = rte_hash_add_key(s->producers, &qkey);
	if (qpos < 0) {
		s->replay_streams_lost++;
		return 0;
	}
	SL_ASSERT((uint32_t)qpos < s->producers_max);
	s->producer_state[qpos] = (struct shard_producer){
		.epoch = stream->epoch,
		.next_sequence = stream->next_sequence,
		.first_sequence = stream->first_sequence,
		.used_tsc = s->now_tsc,
	};
	memcpy(shard_stream_offsets(s, (uint32_t)qpos), stream->offsets,
	       (size_t)window * sizeof(uint64_t));
	return 0;
}

void shard_producers_sweep(struct shard *s, unsigned steps)
{
	const void *key;
	void *data;

	if (s->producer_idle_tsc == 0) {
		return;
	}
	for (unsigned i = 0; i < steps; i++) {
		int32_t pos = rte_hash_iterate(s->producers, &key, &data, &s->sweep_next);
		if (pos < 0) {
			s->sweep_next = 0; /* end of the table: start over next time */
			return;
		}
		const struct shard_producer *p = &s->producer_state[pos];
		if (s->now_tsc - p->used_tsc > s->producer_idle_tsc) {
			/* The key is copied first: it lives in the slot being freed. */
			struct shard_producer_key k;
			memcpy(&k, key, sizeof(k));
			(void)rte_hash_del_key(s->producers, &k);
		}
	}
}
