/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * At-least-once delivery on the partition's owner shard. Every DELIVER of a tracked
 * subscription (with a journal to read batches again from) is kept in the
 * subscription's ring of unacknowledged batches: partition, base offset, records,
 * journal position, send time, attempt. CONSUMER_ACK marks them done, cumulatively per
 * partition and batch by batch for the base offsets it lists (a group member's batches
 * lie between other members', so its cumulative ack would stall at theirs), and frees
 * the acknowledged head of the ring. A subscription whose oldest
 * unacked batch is older than --ack-timeout-ms is sent back to the journal from that
 * batch: everything after it is sent again too (at-least-once; consumers dedupe by
 * offset), with `attempt` one higher. After --max-redeliveries the oldest batch is
 * dropped from the ring and goes to the dead-letter topic (shard_dead.c).
 */
#include "shard/shard_int.h"

#include "core/assert.h"

#include <rte_malloc.h>

static struct shard_inflight *shard_inflight_at(const struct shard *s, uint32_t slot, uint32_t i)
{
	return &s->inflight[(size_t)slot * SHARD_INFLIGHT_SLOTS + (i & (SHARD_INFLIGHT_SLOTS - 1))];
}

bool shard_sub_is_tracked(const struct shard *s, const struct shard_sub *sub)
{
	(void)sub;
	return s->journal != NULL;
}

bool shard_inflight_has_room(const struct shard *s, const struct shard_sub *sub)
{
	return !shard_sub_is_tracked(s, sub) ||
	       sub->inflight_tail - sub->inflight_head < SHARD_INFLIGHT_SLOTS;
}

void shard_inflight_push(struct shard *s, uint32_t slot, const struct shard_batch_ref *ref,
			 const struct wire_deliver *d)
{
	struct shard_sub *sub = &s->sub_state[slot];

	if (!shard_sub_is_tracked(s, sub)) {
		return;
	}
	SL_ASSERT_HOT(shard_inflight_has_room(s, sub));
	*shard_inflight_at(s, slot, sub->inflight_tail++) = (struct shard_inflight){
		.base_offset = d->base_offset,
		.position = ref->position,
		.sent_tsc = s->now_tsc,
		.partition_slot = ref->partition_slot,
		.record_count = d->record_count,
		.attempt = d->meta.attempt,
	};
}

bool shard_inflight_before(const struct shard *s, uint32_t slot, uint64_t position)
{
	const struct shard_sub *sub = &s->sub_state[slot];

	/* Trimmed: the head is unacked, and positions grow along the ring. */
	return sub->inflight_head != sub->inflight_tail &&
	       shard_inflight_at(s, slot, sub->inflight_head)->position < position;
}

/* Frees the acknowledged batches at the head of the ring of `slot`, and its start offsets
 * once no batch from before its start's end is left unacknowledged. */
static void shard_inflight_trim(struct shard *s, uint32_t slot)
{
	struct shard_sub *sub = &s->sub_state[slot];
	struct shard_reader *r = &sub->reader;

	while (sub->inflight_head != sub->inflight_tail &&
	       shard_inflight_at(s, slot, sub->inflight_head)->attempt == SHARD_INFLIGHT_ACKED) {
		sub->inflight_head++;
	}
	/* A live subscription kept its start for rewinds below its end: no longer needed. */
	if (r->mode == SHARD_READER_LIVE && r->start.is_active &&
	    !shard_inflight_before(s, slot, r->start.until_position)) {
		shard_start_release(s, &r->start);
	}
}

/* Marks every unacked batch of partition_slot that ends at or below `offset` done. */
static void shard_inflight_ack(struct shard *s, uint32_t slot, uint32_t partition_slot,
			       uint64_t offset)
{
	struct shard_sub *sub = &s->sub_state[slot];

	for (uint32_t i = sub->inflight_head; i != sub->inflight_tail; i++) {
		struct shard_inflight *e = shard_inflight_at(s, slot, i);
		if (e->partition_slot == partition_slot &&
		    e->base_offset + e->record_count <= offset) {
			e->attempt = SHARD_INFLIGHT_ACKED;
		}
	}
	shard_inflight_trim(s, slot);
}

/* Marks the unacked batch of partition_slot that starts at `base` done, if any (an ack
 * of a batch acknowledged already, or redelivered meanwhile, finds none). */
static void shard_inflight_ack_batch(struct shard *s, uint32_t slot, uint32_t partition_slot,
				     uint64_t base)
{
	struct shard_sub *sub = &s->sub_state[slot];

	for (uint32_t i = sub->inflight_head; i != sub->inflight_tail; i++) {
		struct shard_inflight *e = shard_inflight_at(s, slot, i);
		if (e->partition_slot == partition_slot && e->base_offset == base) {
			e->attempt = SHARD_INFLIGHT_ACKED;
		}
	}
}

/* Whether an ack names an offset that cannot have been delivered: past `next`, the
 * partition's end. */
static bool shard_ack_names_undelivered(const struct wire_frame *f, uint64_t next)
{
	if (f->hdr.sequence > next) {
		return true;
	}
	for (uint32_t i = 0; i < wire_consumer_ack_batches(f); i++) {
		if (wire_consumer_ack_batch(f, i) >= next) {
			return true;
		}
	}
	return false;
}

void shard_consumer_ack(struct shard *s, struct rte_mbuf *m, const struct wire_frame *f)
{
	const struct sl_wire_header *h = &f->hdr;
	struct shard_sub_key k = {.subscriber_id = wire_subscriber_id(h),
				  .subscription_id = wire_subscription_id(h)};
	int32_t pos = rte_hash_lookup(s->subs, &k);

	if (pos < 0) {
		int32_t owner = rte_hash_lookup(s->subscribers, &k.subscriber_id);
		uint32_t known = owner < 0 ? 0 : s->subscriber_state[owner].subscriptions;
		shard_count(s, SL_STAT_UNKNOWN_SUBSCRIPTION, 1);
		shard_reply_nack(s, m, h, f->topic, SL_NACK_UNKNOWN_SUBSCRIPTION, known, 0);
		return;
	}
	uint32_t topic_hash = route_topic_hash(f->topic, h->topic_len);
	int32_t ppos = shard_partition_find(s, f->topic, h->topic_len, h->partition, topic_hash);
	uint64_t next = ppos < 0 ? 0 : s->partition_state[ppos].next_offset;
	/* Nothing past the partition's end can have been delivered. (A finer bound, the
	 * next offset delivered to this subscription, is not kept once acked.) */
	if (shard_ack_names_undelivered(f, next)) {
		shard_count(s, SL_STAT_ACKS_UNKNOWN_OFFSET, 1);
		shard_reply_nack(s, m, h, f->topic, SL_NACK_UNKNOWN_OFFSET, 0, next);
		return;
	}
	shard_count(s, SL_STAT_CONSUMER_ACKS, 1);
	if (ppos >= 0) {
		for (uint32_t i = 0; i < wire_consumer_ack_batches(f); i++) {
			shard_inflight_ack_batch(s, (uint32_t)pos, (uint32_t)ppos,
						 wire_consumer_ack_batch(f, i));
		}
		shard_inflight_ack(s, (uint32_t)pos, (uint32_t)ppos, h->sequence);
	}
	rte_pktmbuf_free(m); /* acks are not answered */
}

/* A group batch that finds the redelivery queue full is given up, unwritten. */
static void shard_redelivery_lost(struct shard *s)
{
	shard_count(s, SL_STAT_DEAD_LETTERS, 1);
	shard_count(s, SL_STAT_DEAD_LETTERS_LOST, 1);
}

/* Queues unacked batch e of member `slot` of group g for whichever member the group
 * picks then; a batch out of attempts goes to the group's dead-letter topic. */
static void shard_redelivery_queue(struct shard *s, uint32_t g, uint32_t slot,
				   const struct shard_inflight *e)
{
	if (e->attempt >= s->redeliveries_max) {
		shard_dead_letter_queue(s, e->position, g, s->sub_state[slot].subscriber_id);
		return;
	}
	if (s->redelivery_tail - s->redelivery_head == SHARD_REDELIVERIES_QUEUED) {
		shard_redelivery_lost(s);
		return;
	}
	s->redeliveries[s->redelivery_tail++ & (SHARD_REDELIVERIES_QUEUED - 1)] =
		(struct shard_redelivery){
			.position = e->position,
			.group = g,
			.group_epoch = s->groups[g].epoch,
			.attempt = (uint16_t)(e->attempt + 1),
		};
}

void shard_group_defer(struct shard *s, uint32_t g, uint64_t position)
{
	if (s->redelivery_tail - s->redelivery_head == SHARD_REDELIVERIES_QUEUED) {
		shard_redelivery_lost(s);
		return;
	}
	s->redeliveries[s->redelivery_tail++ & (SHARD_REDELIVERIES_QUEUED - 1)] =
		(struct shard_redelivery){
			.position = position,
			.group = g,
			.group_epoch = s->groups[g].epoch,
			.attempt = 0, /* never delivered yet */
		};
}

void shard_inflight_hand_over(struct shard *s, uint32_t slot)
{
	struct shard_sub *sub = &s->sub_state[slot];

	for (uint32_t i = sub->inflight_head; i != sub->inflight_tail; i++) {
		const struct shard_inflight *e = shard_inflight_at(s, slot, i);
		if (e->attempt != SHARD_INFLIGHT_ACKED) {
			shard_redelivery_queue(s, sub->group, slot, e);
		}
	}
	sub->inflight_head = sub->inflight_tail;
}

/* The oldest unacked batch of `slot` timed out: send it (and what follows) again from
 * the journal, or give it up as a dead letter after redeliveries_max attempts. A group
 * member's batch goes back to the group instead, alone. */
static void shard_inflight_expire(struct shard *s, uint32_t slot)
{
	struct shard_sub *sub = &s->sub_state[slot];
	struct shard_inflight *oldest = shard_inflight_at(s, slot, sub->inflight_head);

	if (sub->group != SHARD_SLOT_NONE) {
		shard_redelivery_queue(s, sub->group, slot, oldest);
		oldest->attempt = SHARD_INFLIGHT_ACKED;
		shard_inflight_trim(s, slot);
		return;
	}
	if (oldest->attempt >= s->redeliveries_max) {
		shard_dead_letter_queue(s, oldest->position, SHARD_SLOT_NONE, sub->subscriber_id);
		oldest->attempt = SHARD_INFLIGHT_ACKED;
		shard_inflight_trim(s, slot);
		return;
	}
	sub->redeliver_attempt = (uint16_t)(oldest->attempt + 1);
	sub->redeliver_end = sub->sent_end;
	uint64_t from = oldest->position;
	/* Everything from `from` on is sent again and tracked anew. */
	sub->inflight_head = sub->inflight_tail;
	shard_replay_rewind(s, slot, from);
}

void shard_acks_sweep(struct shard *s, unsigned steps)
{
	const void *key;
	void *data;

	for (unsigned i = 0; i < steps; i++) {
		int32_t pos = rte_hash_iterate(s->subs, &key, &data, &s->ack_sweep_next);
		if (pos < 0) {
			s->ack_sweep_next = 0;
			return;
		}
		struct shard_sub *sub = &s->sub_state[pos];
		shard_credit_sweep_one(s, (uint32_t)pos);
		if (sub->inflight_head != sub->inflight_tail &&
		    s->now_tsc - shard_inflight_at(s, (uint32_t)pos, sub->inflight_head)->sent_tsc >
			    s->ack_timeout_tsc) {
			shard_inflight_expire(s, (uint32_t)pos);
		}
	}
}
