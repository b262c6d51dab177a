/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Live delivery on the partition's owner shard. Once a batch is appended, its topic goes
 * through the shard's matcher; every matching subscription outside a group, and one
 * member picked by each matching group, gets a DELIVER within its credit at this shard.
 * A DELIVER is a head of its own (header, topic, append time, shard, attempt, with the
 * CRC over head and records) chained to an indirect mbuf of the received batch's records:
 * the records are never copied per subscriber. CREDIT frames move the windows.
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

/* Sends the batch of f to subscription `slot`, if its credit allows. */
static void shard_deliver_one(struct shard *s, struct rte_mbuf *m, const struct wire_frame *f,
			      uint64_t base, uint32_t slot)
{
	struct shard_sub *sub = &s->sub_state[slot];
	uint32_t head_bytes = wire_deliver_head_bytes(f->hdr.topic_len);
	uint32_t bytes = head_bytes + f->body_len;

	if (!credit_allows(&sub->credit, bytes)) {
		/* Without the journal replay, a subscription out of credit misses the batch
		 * under either policy; `drop` is the one that asked for it. */
		shard_count(s, SL_STAT_CREDIT_STALLS, 1);
		if (sub->params.slow_policy == SL_SLOW_DROP) {
			shard_count(s, SL_STAT_DROP_POLICY_SKIPS, 1);
		}
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
		.subscriber_id = sub->subscriber_id,
		.subscription_id = sub->subscription_id,
		.partition = f->hdr.partition,
		.base_offset = base,
		.record_count = f->hdr.record_count,
		.topic_len = f->hdr.topic_len,
		.topic = f->topic,
		.meta = {.append_ns = s->now_ns, .shard = s->index},
		.records = f->body,
		.records_len = f->body_len,
	};
	int rc = wire_deliver_head_encode(rte_pktmbuf_mtod(head, void *),
					  rte_pktmbuf_tailroom(head), &d);
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

void shard_deliver(struct shard *s, struct rte_mbuf *m, const struct wire_frame *f,
		   uint32_t topic_hash, uint64_t base)
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
		uint32_t slot = id < s->subscriptions_max
					? id
					: shard_group_pick(s, id - s->subscriptions_max, topic_hash,
							   f->hdr.partition);
		if (slot != SHARD_SLOT_NONE) {
			shard_deliver_one(s, m, f, base, slot);
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
	if (credit_update(&s->sub_state[pos].credit, &c) == CREDIT_AHEAD) {
		shard_count(s, SL_STAT_DROP_BAD_CREDIT, 1);
		shard_reply_nack(s, m, &f->hdr, NULL, SL_NACK_BAD_CREDIT, SL_SUB_CREDIT_AHEAD, 0);
		return;
	}
	rte_pktmbuf_free(m); /* applied or stale: a CREDIT is not answered */
}
