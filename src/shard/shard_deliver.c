/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Live delivery on the partition's owner shard. Once a batch is appended, its topic goes
 * through the shard's matcher; every matching subscription outside a group, and one
 * member picked by each matching group, gets a DELIVER within its credit at this shard.
 * A DELIVER is a head of its own (header, topic, append time, shard, attempt, delivery
 * number and byte position, with the CRC over head and records) chained to an indirect
 * mbuf of the received batch's records: the records are never copied per subscriber. A
 * batch replayed from the journal is copied once into an mbuf chained the same way.
 * CREDIT frames move the windows; credit held too long without consumption is taken
 * back (a lost DELIVER).
 */
#include "shard/shard_int.h"

#include "core/assert.h"

#include <string.h>

/* The slot of the member of group `g` that gets the next batch of (topic, partition),
 * or SHARD_SLOT_NONE. */
static uint32_t shard_group_pick(struct shard *s, uint32_t g, uint32_t topic_hash,
				 uint32_t partition)
{
	struct shard_group *grp = &s->groups[g];
	uint64_t member_id;

	if (group_pick(grp->members, topic_hash, partition, &member_id) != 0) {
		return SHARD_SLOT_NONE;
	}
	for (uint32_t i = 0; i < grp->count; i++) {
		if (s->sub_state[grp->member_slot[i]].member_id == member_id) {
			return grp->member_slot[i];
		}
	}
	SL_ASSERT(false); /* members and member_slot change together */
	return SHARD_SLOT_NONE;
}

/* The records of batch f (held in m) as an indirect mbuf of the shard's pool, or NULL. */
static struct rte_mbuf *shard_records_clone(struct shard *s, struct rte_mbuf *m,
					    const struct wire_frame *f)
{
	struct rte_mbuf *rec = rte_pktmbuf_clone(m, s->pool);

	if (rec == NULL) {
		return NULL;
	}
	uint16_t skip = (uint16_t)(f->body - rte_pktmbuf_mtod(m, const uint8_t *));
	/* The frame ends with its records: what follows the skip is exactly them. */
	SL_ASSERT_HOT((uint32_t)m->data_len - skip == f->body_len);
	(void)rte_pktmbuf_adj(rec, skip);
	return rec;
}

/* Writes the DELIVER head of subscription `slot` for batch d (records, topic, offsets
 * filled by the caller; ref says which batch) into mbuf head, chains rec (the records)
 * to it, addresses it and queues it for TX, counting it against the subscription's
 * credit and keeping it until acknowledged. */
static void shard_deliver_send(struct shard *s, uint32_t slot, const struct shard_batch_ref *ref,
			       struct wire_deliver *d, struct rte_mbuf *head, struct rte_mbuf *rec)
{
	struct shard_sub *sub = &s->sub_state[slot];
	uint32_t head_bytes = wire_deliver_head_bytes(d->topic_len);
	uint32_t bytes = head_bytes + d->records_len;

	d->subscriber_id = sub->subscriber_id;
	d->subscription_id = sub->subscription_id;
	d->meta.shard = s->index;
	/* Below where a redelivery rewound from, batches are sent again. */
	d->meta.attempt = ref->attempt > 0		       ? ref->attempt
			  : ref->position < sub->redeliver_end ? sub->redeliver_attempt
							       : 0;
	if (d->meta.attempt > 0) {
		shard_count(s, SL_STAT_REDELIVERIES, 1);
	}
	if (ref->position != UINT64_MAX) {
		sub->sent_end = ref->position + 1;
	}
	/* Numbered from the credit totals: a consumer counts the numbers and bytes it never
	 * saw as consumed, so a lost DELIVER does not hold its credit for good. */
	d->meta.delivery = (uint32_t)sub->credit.sent_batches;
	d->sent_bytes = (uint32_t)sub->credit.sent_bytes;
	if (credit_outstanding_batches(&sub->credit) == 0) {
		sub->credit_tsc = s->now_tsc;
	}
	shard_inflight_push(s, slot, ref, d);
	int rc = wire_deliver_head_encode(rte_pktmbuf_mtod(head, void *),
					  rte_pktmbuf_tailroom(head), d);
	SL_ASSERT_HOT(rc == 0); /* a frame's records, a pool mbuf's room */
	(void)rc;
	head->data_len = (uint16_t)head_bytes;
	head->pkt_len = head_bytes;
	rc = rte_pktmbuf_chain(head, rec);
	SL_ASSERT_HOT(rc == 0);
	*netdev_mbuf_peer(head) = s->subscriber_state[sub->subscriber].peer;
	credit_sent(&sub->credit, bytes);
	shard_count(s, SL_STAT_DELIVERIES, 1);
	shard_count(s, SL_STAT_DELIVERED_BYTES, bytes);
	shard_tx_push_chain(s, head);
}

/* A live subscription without credit for the batch at journal `position`: under policy
 * replay (with a journal, outside a group) it goes back to the journal from there; under
 * drop the batch is skipped for it. */
static void shard_deliver_stall(struct shard *s, uint32_t slot, uint64_t position)
{
	struct shard_sub *sub = &s->sub_state[slot];

	shard_count(s, SL_STAT_CREDIT_STALLS, 1);
	if (sub->params.slow_policy == SL_SLOW_REPLAY && position != UINT64_MAX &&
	    sub->group == SHARD_SLOT_NONE) {
		shard_replay_begin(s, slot, SHARD_SEEK_POSITION, position);
		return;
	}
	shard_count(s, SL_STAT_DROP_POLICY_SKIPS, 1);
}

/* Sends the batch of f to live subscription `slot`, if its credit allows. */
static void shard_deliver_one(struct shard *s, struct rte_mbuf *m, const struct wire_frame *f,
			      uint64_t base, const struct shard_batch_ref *ref, uint32_t slot)
{
	struct shard_sub *sub = &s->sub_state[slot];
	uint32_t bytes = wire_deliver_head_bytes(f->hdr.topic_len) + f->body_len;

	if (sub->reader.mode != SHARD_READER_LIVE) {
		return; /* reading from the journal: the batch comes that way */
	}
	if (!shard_sub_can_take(s, slot, bytes)) {
		shard_deliver_stall(s, slot, ref->position);
		return;
	}
	struct rte_mbuf *head = rte_pktmbuf_alloc(s->pool);
	struct rte_mbuf *rec = head == NULL ? NULL : shard_records_clone(s, m, f);
	if (rec == NULL) {
		rte_pktmbuf_free(head);
		shard_count(s, SL_STAT_DROP_NOMBUF, 1);
		return;
	}
	struct wire_deliver d = {
		.partition = f->hdr.partition,
		.base_offset = base,
		.record_count = f->hdr.record_count,
		.topic_len = f->hdr.topic_len,
		.topic = f->topic,
		.meta = {.append_ns = s->now_ns},
		.records = f->body,
		.records_len = f->body_len,
	};
	shard_deliver_send(s, slot, ref, &d, head, rec);
}

bool shard_deliver_entry(struct shard *s, uint32_t slot, const struct journal_entry *e,
			 uint32_t partition_slot, uint16_t attempt)
{
	struct shard_batch_ref ref = {
		.partition_slot = partition_slot, .attempt = attempt, .position = e->hdr.position};
	struct rte_mbuf *head = rte_pktmbuf_alloc(s->pool);
	struct rte_mbuf *rec = head == NULL ? NULL : rte_pktmbuf_alloc(s->pool);

	if (rec == NULL) {
		rte_pktmbuf_free(head);
		shard_count(s, SL_STAT_DROP_NOMBUF, 1);
		return false;
	}
	/* The entry's bytes live until the next cursor call: the records are copied. */
	void *p = rte_pktmbuf_append(rec, (uint16_t)e->body_len);
	SL_ASSERT_HOT(p != NULL); /* records of a frame fit a pool mbuf */
	memcpy(p, e->body, e->body_len);
	struct wire_deliver d = {
		.partition = e->hdr.partition,
		.base_offset = e->hdr.base_offset,
		.record_count = e->hdr.record_count,
		.topic_len = e->hdr.topic_len,
		.topic = e->topic,
		.meta = {.append_ns = e->hdr.append_ns},
		.records = p,
		.records_len = e->body_len,
	};
	shard_deliver_send(s, slot, &ref, &d, head, rec);
	return true;
}

bool shard_sub_can_take(const struct shard *s, uint32_t slot, uint32_t bytes)
{
	const struct shard_sub *sub = &s->sub_state[slot];

	return credit_allows(&sub->credit, bytes) && shard_inflight_has_room(s, sub);
}

uint32_t shard_group_pick_ready(struct shard *s, uint32_t g, uint32_t topic_hash,
				uint32_t partition, uint32_t bytes)
{
	const struct shard_group *grp = &s->groups[g];
	uint32_t tries = grp->strategy == SL_GROUP_KEY_AFFINE ? 1 : grp->count;
	uint32_t slot = SHARD_SLOT_NONE;

	for (uint32_t t = 0; t < tries; t++) {
		slot = shard_group_pick(s, g, topic_hash, partition);
		if (slot == SHARD_SLOT_NONE || shard_sub_can_take(s, slot, bytes)) {
			break;
		}
	}
	return slot;
}

/* Sends the batch to one member of group g (shard_group_pick_ready()). */
static void shard_deliver_group(struct shard *s, struct rte_mbuf *m, const struct wire_frame *f,
				uint32_t topic_hash, uint64_t base,
				const struct shard_batch_ref *ref, uint32_t g)
{
	uint32_t bytes = wire_deliver_head_bytes(f->hdr.topic_len) + f->body_len;

	if (s->groups[g].reader.mode != SHARD_READER_LIVE) {
		return; /* the group reads from the journal: the batch comes that way */
	}
	uint32_t slot = shard_group_pick_ready(s, g, topic_hash, f->hdr.partition, bytes);
	if (slot == SHARD_SLOT_NONE) {
		return;
	}
	if (!shard_sub_can_take(s, slot, bytes) && ref->position != UINT64_MAX) {
		/* Every member it may go to is out of credit or of room for unacked batches.
		 * Groups do not replay, so rather than skip it for good the batch waits in
		 * the group redelivery queue for the first member that can take it. */
		shard_count(s, SL_STAT_CREDIT_STALLS, 1);
		shard_group_defer(s, g, ref->position);
		return;
	}
	shard_deliver_one(s, m, f, base, ref, slot);
}

void shard_deliver(struct shard *s, struct rte_mbuf *m, const struct wire_frame *f,
		   uint32_t topic_hash, uint64_t base, const struct shard_batch_ref *ref)
{
	uint32_t ids_max = s->subscriptions_max + SHARD_GROUPS_MAX;

	if (rte_hash_count(s->subs) == 0) {
		return;
	}
	uint32_t n = match_topic_hashed(s->matcher, topic_hash, f->topic, f->hdr.topic_len,
					s->matched, ids_max);
	SL_ASSERT_HOT(n <= ids_max);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t id = s->matched[i];
		if (id < s->subscriptions_max) {
			shard_deliver_one(s, m, f, base, ref, id);
		} else {
			shard_deliver_group(s, m, f, topic_hash, base, ref,
					    id - s->subscriptions_max);
		}
	}
}

void shard_credit(struct shard *s, struct rte_mbuf *m, const struct wire_frame *f)
{
	struct shard_sub_key k = {.subscriber_id = wire_subscriber_id(&f->hdr),
				  .subscription_id = wire_subscription_id(&f->hdr)};
	struct sl_wire_credit c;
	enum sl_sub_error why;

	enum sl_wire_reject r = wire_credit_parse(f, &c, &why);
	SL_ASSERT_HOT(r == SL_WIRE_OK); /* wire_decode() ran the same checks */
	(void)r;
	int32_t pos = rte_hash_lookup(s->subs, &k);
	if (pos < 0) {
		int32_t owner = rte_hash_lookup(s->subscribers, &k.subscriber_id);
		uint32_t known = owner < 0 ? 0 : s->subscriber_state[owner].subscriptions;
		shard_count(s, SL_STAT_UNKNOWN_SUBSCRIPTION, 1);
		shard_reply_nack(s, m, &f->hdr, NULL, SL_NACK_UNKNOWN_SUBSCRIPTION, known, 0);
		return;
	}
	struct shard_sub *sub = &s->sub_state[pos];
	uint64_t consumed = sub->credit.consumed_batches;
	enum credit_result cr = credit_update(&sub->credit, &c);
	if (cr == CREDIT_APPLIED && sub->credit.consumed_batches > consumed) {
		sub->credit_tsc = s->now_tsc;
	}
	if (cr == CREDIT_AHEAD) {
		/* The consumer counts from another start: it resynchronises on the next
		 * DELIVER's numbers, which it needs credit for. */
		credit_resync(&sub->credit);
		shard_count(s, SL_STAT_CREDIT_RESETS, 1);
		shard_count(s, SL_STAT_DROP_BAD_CREDIT, 1);
		shard_reply_nack(s, m, &f->hdr, NULL, SL_NACK_BAD_CREDIT, SL_SUB_CREDIT_AHEAD, 0);
		return;
	}
	rte_pktmbuf_free(m); /* applied or stale: a CREDIT is not answered */
}

void shard_credit_sweep_one(struct shard *s, uint32_t slot)
{
	struct shard_sub *sub = &s->sub_state[slot];

	if (credit_outstanding_batches(&sub->credit) > 0 &&
	    s->now_tsc - sub->credit_tsc > s->ack_timeout_tsc) {
		shard_count(s, SL_STAT_CREDIT_TIMEOUTS, 1);
		credit_resync(&sub->credit);
	}
}
