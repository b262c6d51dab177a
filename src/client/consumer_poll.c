/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sl_consumer_poll() and the bookkeeping behind it: events are returned from the queue
 * of DELIVERs, skipping offsets already returned (at-least-once delivery repeats
 * batches) and tracking holes; what a poll returned is released by the next one, which
 * gives the credit back (CREDIT carries consumed totals per shard) and, in auto mode,
 * acknowledges it (CONSUMER_ACK, cumulative per partition, batched). Heartbeats and
 * SUBSCRIBE resends ride on the same calls.
 */
#include "client/consumer_int.h"

#include "core/assert.h"
#include "core/clock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Longest single wait inside a poll, so that heartbeats and acks stay on time. */
#define CONSUMER_WAIT_SLICE_NS 10000000ull

bool consumer_offset_returned(const struct consumer_partition *part, uint64_t offset)
{
	if (!part->started || offset < part->floor) {
		return false;
	}
	if (offset < part->contig) {
		return true;
	}
	for (uint32_t i = 0; i < part->range_count; i++) {
		if (offset >= part->ranges[i].lo && offset < part->ranges[i].hi) {
			return true;
		}
	}
	return false;
}

/* Inserts [lo, hi) (above contig, not overlapping a range) merging with neighbours. */
static void consumer_range_insert(struct consumer_partition *p, uint64_t lo, uint64_t hi)
{
	uint32_t i = 0;

	while (i < p->range_count && p->ranges[i].hi < lo) {
		i++;
	}
	if (i < p->range_count && p->ranges[i].hi == lo) {
		p->ranges[i].hi = hi;
	} else if (i < p->range_count && p->ranges[i].lo == hi) {
		p->ranges[i].lo = lo;
	} else {
		SL_ASSERT(p->range_count < CONSUMER_RANGES_MAX);
		memmove(&p->ranges[i + 1], &p->ranges[i],
			(p->range_count - i) * sizeof(p->ranges[0]));
		p->ranges[i].lo = lo;
		p->ranges[i].hi = hi;
		p->range_count++;
	}
	/* A range that grew may now touch the next one. */
	if (i + 1 < p->range_count && p->ranges[i].hi == p->ranges[i + 1].lo) {
		p->ranges[i].hi = p->ranges[i + 1].hi;
		memmove(&p->ranges[i + 1], &p->ranges[i + 2],
			(p->range_count - i - 2) * sizeof(p->ranges[0]));
		p->range_count--;
	}
}

static void consumer_range_pop(struct consumer_partition *p)
{
	memmove(&p->ranges[0], &p->ranges[1], (p->range_count - 1) * sizeof(p->ranges[0]));
	p->range_count--;
}

/* Moves contig over the ranges that reach it. */
static void consumer_contig_advance(struct consumer_partition *p)
{
	while (p->range_count > 0 && p->ranges[0].lo <= p->contig) {
		if (p->ranges[0].hi > p->contig) {
			p->contig = p->ranges[0].hi;
		}
		consumer_range_pop(p);
	}
}

/*
 * An offset below everything returned so far arrived (reordered on the way, or the
 * first DELIVERs of a subscription crossed): what was returned becomes a range above a
 * new floor. With the range table full it stays untracked: a redelivery of it would be
 * returned again, which at-least-once allows.
 */
static void consumer_floor_lower(struct consumer_partition *p, uint64_t lo)
{
	if (p->range_count == CONSUMER_RANGES_MAX) {
		return;
	}
	if (p->contig > p->floor) {
		memmove(&p->ranges[1], &p->ranges[0], p->range_count * sizeof(p->ranges[0]));
		p->ranges[0].lo = p->floor;
		p->ranges[0].hi = p->contig;
		p->range_count++;
	}
	p->floor = lo;
	p->contig = lo;
}

/* Gives up on the lowest hole: its offsets will never be returned. */
static void consumer_hole_abandon(struct sl_consumer *c, struct consumer_partition *p,
				  uint64_t now_ns)
{
	SL_ASSERT(p->range_count > 0);
	c->stats.gaps++;
	c->stats.gap_offsets += p->ranges[0].lo - p->contig;
	p->contig = p->ranges[0].hi;
	consumer_range_pop(p);
	consumer_contig_advance(p);
	p->hole_since_ns = p->range_count > 0 ? now_ns : 0;
}

void consumer_mark_returned(struct sl_consumer *c, struct consumer_sub *sub,
			    struct consumer_partition *part, uint64_t lo, uint64_t hi,
			    uint64_t now_ns)
{
	uint32_t holes_before;

	if (!part->started) {
		part->started = true;
		part->floor = lo;
		part->contig = lo;
		part->end = lo;
	}
	if (lo == part->contig && part->range_count == 0) {
		/* In order with no hole, the common case: no range bookkeeping. */
		part->contig = hi;
		part->end = part->end > hi ? part->end : hi;
		return;
	}
	if (lo < part->floor) {
		consumer_floor_lower(part, lo);
	}
	if (hi <= part->contig) {
		return;
	}
	if (lo < part->contig) {
		lo = part->contig;
	}
	holes_before = part->range_count;
	consumer_range_insert(part, lo, hi);
	consumer_contig_advance(part);
	if (part->range_count < holes_before) {
		c->stats.gaps_filled += holes_before - part->range_count;
	}
	if (hi > part->end) {
		part->end = hi;
	}
	if (part->range_count == 0) {
		part->hole_since_ns = 0;
	} else if (part->hole_since_ns == 0) {
		part->hole_since_ns = now_ns;
	}
	/* Under `drop` the router skipped those batches for good; a full range table
	 * cannot remember more holes. Either way the lowest hole is given up. */
	while (part->range_count > 0 &&
	       (sub->slow_policy == SL_SLOW_DROP || part->range_count == CONSUMER_RANGES_MAX)) {
		consumer_hole_abandon(c, part, now_ns);
	}
}

/* Hands the release of one DELIVER's credit to its shard. */
static void consumer_consumed(struct consumer_delivery *q)
{
	/* A resubscribe may have brought another shard count or restarted the totals
	 * (another epoch): that credit is gone. A late DELIVER gave its credit back as lost. */
	if (q->d.meta.shard >= q->sub->shard_count) {
		return;
	}
	struct consumer_credit *cr = &q->sub->credit[q->d.meta.shard];
	if (q->credit_epoch != cr->epoch) {
		return;
	}

	cr->consumed_batches++;
	cr->consumed_bytes += q->len;
	cr->dirty = true;
}

/* Auto mode, in a group: queues the acknowledgement of q's batch by its base offset.
 * With the list full (acks not sent yet, see consumer_send_acks) it stays unacked and
 * comes back after the router's ack timeout, which at-least-once allows. */
static void consumer_ack_batch(struct sl_consumer *c, const struct consumer_delivery *q)
{
	struct consumer_partition *p = q->part;

	if (c->cfg.ack_mode != SL_CONSUMER_ACK_AUTO || !q->sub->group) {
		return;
	}
	if (p->ack_base_count == SL_WIRE_ACK_BATCHES_MAX) {
		c->stats.acks_deferred++;
		return;
	}
	p->ack_bases[p->ack_base_count++] = q->d.base_offset;
}

void consumer_release(struct sl_consumer *c)
{
	for (; c->rel != c->head; c->rel++) {
		struct consumer_delivery *q = &c->queue[c->rel & c->queue_mask];
		if (q->frame != NULL) {
			consumer_consumed(q);
			consumer_ack_batch(c, q);
			q->sub->released_unacked++;
			free(q->frame);
			q->frame = NULL;
		}
	}
	if (c->cfg.ack_mode != SL_CONSUMER_ACK_AUTO) {
		return;
	}
	for (unsigned i = 0; i < CONSUMER_SUBSCRIPTIONS_MAX; i++) {
		for (struct consumer_partition *p = c->subs[i].partitions; p != NULL; p = p->next) {
			if (p->touched && p->contig > p->ack_want) {
				p->ack_want = p->contig;
			}
			p->touched = false;
		}
	}
}

void consumer_queue_drop_sub(struct sl_consumer *c, const struct consumer_sub *sub)
{
	for (uint64_t i = c->rel; i != c->tail; i++) {
		struct consumer_delivery *q = &c->queue[i & c->queue_mask];
		if (q->sub == sub) {
			free(q->frame);
			q->frame = NULL;
			q->sub = NULL;
		}
	}
}

static void consumer_event_fill(struct sl_event *ev, const struct consumer_delivery *q,
				const struct wire_record *rec, uint64_t offset)
{
	ev->topic = q->part->topic;
	ev->partition = q->part->partition;
	ev->subscription = q->sub->id;
	ev->offset = offset;
	ev->timestamp_ns = rec->timestamp_ns;
	ev->key = rec->key_len > 0 ? rec->key : NULL;
	ev->key_len = rec->key_len;
	ev->value = rec->value;
	ev->value_len = rec->value_len;
}

/* Offset `off` of delivery q lies below the start offset asked for its partition, in the
 * batch that holds that offset: not asked for, not returned. */
static bool consumer_is_before_start(const struct consumer_delivery *q, uint64_t off)
{
	uint64_t start = q->part->start_offset;

	return off < start && q->d.base_offset + q->d.record_count > start;
}

/* Returns up to n events from the queue, skipping what was already returned. */
static size_t consumer_take(struct sl_consumer *c, struct sl_event *out, size_t n, uint64_t now_ns)
{
	size_t k = 0;

	while (k < n && c->head != c->tail) {
		struct consumer_delivery *q = &c->queue[c->head & c->queue_mask];
		struct wire_record rec;
		if (q->sub == NULL) {
			c->head++; /* its subscription ended */
			continue;
		}
		while (k < n && wire_record_next(&q->it, &rec)) {
			uint64_t off = q->next_offset++;
			if (consumer_is_before_start(q, off)) {
				continue;
			}
			if (consumer_offset_returned(q->part, off)) {
				c->stats.duplicates++;
				if (off < q->part->ack_sent) {
					q->part->ack_resend = true;
				}
				continue;
			}
			consumer_event_fill(&out[k++], q, &rec, off);
			consumer_mark_returned(c, q->sub, q->part, off, off + 1, now_ns);
			q->part->touched = true;
		}
		if (q->it.next != q->it.end) {
			break; /* out[] is full: the rest of this DELIVER waits */
		}
		c->head++;
	}
	c->stats.events += k;
	return k;
}

static int consumer_send_heartbeat(struct sl_consumer *c, uint64_t now_ns)
{
	uint32_t active = 0;
	uint32_t len = 0;

	for (unsigned i = 0; i < CONSUMER_SUBSCRIPTIONS_MAX; i++) {
		if (c->subs[i].state == SUB_ACTIVE) {
			active++;
			/* Credits are totals: resending them repairs any that were lost. */
			for (uint16_t s = 0; s < c->subs[i].shard_count; s++) {
				c->subs[i].credit[s].dirty |=
					c->subs[i].credit[s].received_batches > 0;
			}
		}
	}
	c->heartbeat_due_ns = now_ns + c->heartbeat_ns;
	if (active == 0) {
		return 0;
	}
	int rc = wire_heartbeat_encode(c->txbuf, sizeof(c->txbuf), c->id, active, &len);
	SL_ASSERT(rc == 0);
	c->stats.heartbeats_sent++;
	return consumer_send(c, c->txbuf, len);
}

static int consumer_send_credit(struct sl_consumer *c, struct consumer_sub *sub, uint16_t shard,
				uint64_t now_ns)
{
	struct consumer_credit *cr = &sub->credit[shard];
	struct sl_wire_credit msg = {
		.consumed_batches = cr->consumed_batches,
		.consumed_bytes = cr->consumed_bytes,
		.window_bytes = c->cfg.window_bytes,
		.window_batches = cr->window_batches,
	};
	uint32_t len = 0;
	int rc = wire_credit_encode(c->txbuf, sizeof(c->txbuf), c->id, sub->id, shard, &msg, &len);

	SL_ASSERT(rc == 0);
	cr->reported_batches = cr->consumed_batches;
	cr->reported_bytes = cr->consumed_bytes;
	cr->dirty = false;
	cr->due_ns = now_ns + (uint64_t)c->cfg.ack_interval_us * 1000u;
	c->stats.credits_sent++;
	return consumer_send(c, c->txbuf, len);
}

/* Half a window consumed and unreported: the router may be waiting, report at once. */
static bool consumer_credit_urgent(const struct sl_consumer *c, const struct consumer_credit *cr)
{
	uint64_t half = cr->window_batches / 2u;

	return (cr->window_batches != 0 &&
		cr->consumed_batches - cr->reported_batches >= (half > 0 ? half : 1)) ||
	       (c->cfg.window_bytes != 0 &&
		cr->consumed_bytes - cr->reported_bytes >= c->cfg.window_bytes / 2u);
}

/*
 * The shard has sent the whole batch window since the last CREDIT, so it waits for the
 * next, while this consumer has consumed everything it received: the credit's round trip
 * (a CREDIT queues behind other datagrams at a busy router), not the consumer, set the
 * pace. Double the window, up to cfg.window_batches_max, so that it covers the round trip
 * (the CREDIT about to go carries it). A consumer behind on its own work never grows it.
 */
static void consumer_credit_grow(struct sl_consumer *c, const struct consumer_sub *sub,
				 struct consumer_credit *cr)
{
	uint32_t max = c->cfg.window_batches_max;
	/* The consumer's queue holds every shard's window. */
	uint32_t room = c->cfg.queue_batches_max / sub->shard_count;

	max = max < room ? max : room;
	if (cr->window_batches == 0 || cr->window_batches >= max ||
	    cr->received_batches - cr->reported_batches < cr->window_batches ||
	    cr->consumed_batches != cr->received_batches) {
		return;
	}
	cr->window_batches = cr->window_batches <= max / 2 ? cr->window_batches * 2 : max;
	c->stats.window_grows++;
}

static int consumer_send_credits(struct sl_consumer *c, struct consumer_sub *sub, uint64_t now_ns,
				 bool force)
{
	for (uint16_t s = 0; s < sub->shard_count; s++) {
		struct consumer_credit *cr = &sub->credit[s];
		consumer_credit_grow(c, sub, cr);
		if (cr->dirty && (force || now_ns >= cr->due_ns || consumer_credit_urgent(c, cr))) {
			int rc = consumer_send_credit(c, sub, s, now_ns);
			if (rc != 0) {
				return rc;
			}
		}
	}
	return 0;
}

static int consumer_send_acks(struct sl_consumer *c, struct consumer_sub *sub, uint64_t now_ns,
			      bool force)
{
	if (c->cfg.ack_mode == SL_CONSUMER_ACK_AUTO &&
	    sub->released_unacked >= CONSUMER_ACK_EAGER_BATCHES) {
		force = true;
	}
	for (struct consumer_partition *p = sub->partitions; p != NULL; p = p->next) {
		uint32_t len = 0;
		bool cumulative = p->ack_want > 0 && (p->ack_want > p->ack_sent || p->ack_resend);
		if ((!cumulative && p->ack_base_count == 0) || (!force && now_ns < p->ack_due_ns)) {
			continue;
		}
		int rc = wire_consumer_ack_encode(c->txbuf, sizeof(c->txbuf), c->id, sub->id,
						  (const uint8_t *)p->topic, p->topic_len,
						  p->partition, p->ack_want, p->ack_bases,
						  p->ack_base_count, &len);
		SL_ASSERT(rc == 0);
		p->ack_sent = p->ack_want;
		p->ack_resend = false;
		p->ack_base_count = 0;
		p->ack_due_ns = now_ns + (uint64_t)c->cfg.ack_interval_us * 1000u;
		sub->released_unacked = 0;
		c->stats.acks_sent++;
		rc = consumer_send(c, c->txbuf, len);
		if (rc != 0) {
			return rc;
		}
	}
	return 0;
}

/* Under `replay` a hole is filled by a redelivery within the router's redelivery
 * budget, or the batch went to the dead-letter topic: past that, give it up so that
 * cumulative acks move on. */
static void consumer_expire_holes(struct sl_consumer *c, struct consumer_sub *sub, uint64_t now_ns)
{
	uint64_t budget = (uint64_t)sub->accepted.ack_timeout_ms * 1000000u *
			  ((uint64_t)sub->accepted.redeliveries_max + 2u);

	if (budget == 0) {
		return;
	}
	for (struct consumer_partition *p = sub->partitions; p != NULL; p = p->next) {
		while (p->range_count > 0 && now_ns - p->hole_since_ns >= budget) {
			consumer_hole_abandon(c, p, now_ns);
			p->touched = true; /* auto mode acks past the hole at the next release */
		}
	}
}

int consumer_send_due(struct sl_consumer *c, uint64_t now_ns, bool force)
{
	int rc = 0;

	if (now_ns >= c->heartbeat_due_ns) {
		rc = consumer_send_heartbeat(c, now_ns);
	}
	for (unsigned i = 0; i < CONSUMER_SUBSCRIPTIONS_MAX && rc == 0; i++) {
		struct consumer_sub *sub = &c->subs[i];
		if (sub->state != SUB_ACTIVE) {
			continue;
		}
		if (sub->resend_ns != 0 && now_ns >= sub->resend_ns) {
			rc = consumer_send_subscribe(c, sub, now_ns);
		}
		consumer_expire_holes(c, sub, now_ns);
		if (rc == 0) {
			rc = consumer_send_credits(c, sub, now_ns, force);
		}
		if (rc == 0) {
			rc = consumer_send_acks(c, sub, now_ns, force);
		}
	}
	return rc;
}

/* One round: take in what arrived, return events, send what is due. */
static int consumer_round(struct sl_consumer *c, struct sl_event *out, size_t n, size_t *k)
{
	uint64_t now = consumer_now(c);
	int rc = consumer_receive(c, now);

	if (rc != 0) {
		return rc;
	}
	*k = consumer_take(c, out, n, now);
	rc = consumer_send_due(c, now, false);
	if (rc == 0 && *k == 0 && c->async_error != 0) {
		rc = c->async_error;
		c->async_error = 0;
	}
	return rc;
}

int sl_consumer_poll(struct sl_consumer *c, struct sl_event *out, size_t n, int timeout_ms)
{
	uint64_t deadline =
		clock_monotonic_ns() + (timeout_ms > 0 ? (uint64_t)timeout_ms : 0u) * 1000000u;
	size_t k = 0;
	int rc;

	if (n > 0 && out == NULL) {
		return -EINVAL;
	}
	consumer_release(c);
	rc = consumer_round(c, out, n, &k);
	while (rc == 0 && k == 0 && n > 0) {
		uint64_t now = clock_monotonic_ns();
		if (now >= deadline) {
			break;
		}
		uint64_t wait = deadline - now;
		rc = transport_wait(&c->tx,
				    wait < CONSUMER_WAIT_SLICE_NS ? wait : CONSUMER_WAIT_SLICE_NS);
		if (rc >= 0) {
			rc = consumer_round(c, out, n, &k);
		}
	}
	return rc < 0 ? rc : (int)k;
}
