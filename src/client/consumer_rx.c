/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the consumer does with each datagram from the router: SUBSCRIBED activates (or
 * confirms the removal of) a subscription, a NACK fails a subscription, resubscribes,
 * resynchronises credit or lowers an ack, and a DELIVER is counted against its shard's
 * credit and queued for sl_consumer_poll(). Everything is validated by wire_decode()
 * first; whatever is not a valid frame for this subscriber is counted and ignored.
 */
#include "client/consumer_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct consumer_partition *consumer_partition_get(struct consumer_sub *sub, const uint8_t *topic,
						  uint8_t topic_len, uint32_t partition)
{
	struct consumer_partition *p;

	for (p = sub->partitions; p != NULL; p = p->next) {
		if (p->partition == partition && p->topic_len == topic_len &&
		    memcmp(p->topic, topic, topic_len) == 0) {
			return p;
		}
	}
	if (sub->partition_count == CONSUMER_PARTITIONS_MAX) {
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		return NULL;
	}
	sub->partition_count++;
	p->partition = partition;
	p->topic_len = topic_len;
	memcpy(p->topic, topic, topic_len);
	p->next = sub->partitions;
	sub->partitions = p;
	return p;
}

void consumer_credit_restart(struct sl_consumer *c, struct consumer_credit *cr)
{
	memset(cr, 0, sizeof(*cr));
	cr->epoch = ++c->credit_epochs;
	cr->window_batches = c->cfg.window_batches; /* the SUBSCRIBE's, where totals restart */
}

/* Takes the router's accepted parameters. The credit totals survive only when the router
 * says it kept its own (SL_SUBSCRIBED_CREDIT_KEPT: a repeated SUBSCRIBE); a subscription
 * it created just now counts from zero at every shard, and so does the consumer. */
static int consumer_activate(struct sl_consumer *c, struct consumer_sub *sub,
			     const struct sl_wire_subscribed *s)
{
	bool kept = (s->flags & SL_SUBSCRIBED_CREDIT_KEPT) != 0;

	if (sub->credit == NULL || sub->shard_count != s->shards) {
		struct consumer_credit *credit = calloc(s->shards, sizeof(*credit));
		if (credit == NULL) {
			return -ENOMEM;
		}
		free(sub->credit);
		sub->credit = credit;
		sub->shard_count = s->shards;
		kept = false;
	}
	for (uint16_t i = 0; i < sub->shard_count && !kept; i++) {
		consumer_credit_restart(c, &sub->credit[i]);
	}
	sub->accepted = *s;
	sub->state = SUB_ACTIVE;
	sub->resend_ns = 0;
	/* The router removes a subscriber it has not heard from for consumer_timeout_ms:
	 * three heartbeats fit in that time, so one loss is harmless. */
	uint64_t limit = (uint64_t)s->consumer_timeout_ms * 1000000u / 3u;
	uint64_t want = (uint64_t)c->cfg.heartbeat_interval_ms * 1000000u;
	c->heartbeat_ns = limit > 0 && limit < want ? limit : want;
	return 0;
}

static void consumer_on_subscribed(struct sl_consumer *c, const struct wire_frame *f)
{
	struct consumer_sub *sub = consumer_sub_find(c, wire_subscription_id(&f->hdr));
	struct sl_wire_subscribed s;

	if (sub == NULL || wire_subscribed_parse(f, &s) != SL_WIRE_OK) {
		c->stats.datagrams_invalid++;
		return;
	}
	if (s.status == SL_SUB_REMOVED) {
		if (sub->state == SUB_UNSUBSCRIBING) {
			sub->state = SUB_FAILED;
			sub->error = 0;
		}
		return;
	}
	if (sub->state == SUB_SUBSCRIBING || (sub->state == SUB_ACTIVE && sub->resend_ns != 0)) {
		int rc = consumer_activate(c, sub, &s);
		if (rc != 0) {
			sub->state = SUB_FAILED;
			sub->error = rc;
		}
	}
}

/* The router forgot this subscriber (restart, timeout): send every SUBSCRIBE again,
 * on the resend timer until each is answered. */
static void consumer_resubscribe_all(struct sl_consumer *c, uint64_t now_ns)
{
	c->stats.resubscribes++;
	for (unsigned i = 0; i < CONSUMER_SUBSCRIPTIONS_MAX; i++) {
		struct consumer_sub *sub = &c->subs[i];
		if (sub->state == SUB_ACTIVE) {
			(void)consumer_send_subscribe(c, sub, now_ns);
		}
	}
}

/* A refusal of sub's SUBSCRIBE: the subscription fails with the reason's error. */
static void consumer_refused(struct sl_consumer *c, struct consumer_sub *sub,
			     const struct sl_wire_nack *n)
{
	int err = -(SL_ENACK_BASE + (int)n->reason);

	if (n->reason >= SL_NACK_BAD_PATTERN && n->reason <= SL_NACK_CONFLICT) {
		c->sub_error =
			n->detail <= SL_SUB_ERROR_MAX ? (enum sl_sub_error)n->detail : SL_SUB_OK;
	}
	if (sub->state == SUB_ACTIVE) {
		/* Refused while resubscribing: the next poll reports it. */
		c->async_error = err;
	}
	sub->state = SUB_FAILED;
	sub->error = err;
}

/* CREDIT counted more than the shard sent (we kept totals of an earlier start of the
 * subscription, e.g. its SUBSCRIBED was lost across a router restart): the shard took
 * everything it sent as consumed; start the totals of that shard again from the next
 * DELIVER's numbers. */
static void consumer_credit_resync(struct sl_consumer *c, struct consumer_sub *sub, uint64_t shard)
{
	if (shard < sub->shard_count) {
		c->stats.credit_resyncs++;
		consumer_credit_restart(c, &sub->credit[shard]);
	}
}

/* NACK UNKNOWN_OFFSET: never ack beyond what the router says it delivered. */
static void consumer_ack_clamp(struct consumer_sub *sub, const struct wire_frame *f,
			       uint64_t expected)
{
	for (struct consumer_partition *p = sub->partitions; p != NULL; p = p->next) {
		if (p->partition == f->hdr.partition && p->topic_len == f->hdr.topic_len &&
		    memcmp(p->topic, f->topic, f->hdr.topic_len) == 0) {
			if (p->ack_want > expected) {
				p->ack_want = expected;
			}
			p->ack_sent = p->ack_want;
		}
	}
}

static void consumer_on_nack(struct sl_consumer *c, const struct wire_frame *f, uint64_t now_ns)
{
	struct consumer_sub *sub = consumer_sub_find(c, wire_subscription_id(&f->hdr));
	struct sl_wire_nack n;

	if (f->body_len < sizeof(n)) {
		c->stats.datagrams_invalid++;
		return;
	}
	wire_nack_read(f->body, &n);
	c->stats.nacks++;
	if (n.reason == SL_NACK_UNKNOWN_SUBSCRIPTION) {
		consumer_resubscribe_all(c, now_ns);
		return;
	}
	if (sub == NULL || n.reason == SL_NACK_BUSY || n.reason == SL_NACK_BAD_CRC) {
		return; /* transient, or about a subscription already gone */
	}
	if (n.reason == SL_NACK_BAD_CREDIT && n.detail == SL_SUB_CREDIT_AHEAD) {
		consumer_credit_resync(c, sub, f->hdr.sequence);
	} else if (n.reason == SL_NACK_UNKNOWN_OFFSET) {
		consumer_ack_clamp(sub, f, n.expected);
	} else if (sub->state == SUB_SUBSCRIBING ||
		   (sub->state == SUB_ACTIVE && sub->resend_ns != 0)) {
		consumer_refused(c, sub, &n);
	}
}

/*
 * Counts DELIVER d of len bytes against its shard's credit. DELIVERs numbered between the
 * last one counted and d never arrived (lost, or overtaken): they are counted received
 * and consumed now, since the router holds their credit until told. Returns false for a
 * late DELIVER, numbered below one already counted (its credit went back with the gap):
 * it counts nothing. Numbers are modulo 2^32, compared within 2^31: a gap is bounded by
 * what the router may have outstanding, far less.
 */
static bool consumer_credit_received(struct sl_consumer *c, struct consumer_sub *sub,
				     struct consumer_credit *cr, const struct wire_deliver *d,
				     uint32_t len)
{
	uint32_t lost = d->meta.delivery - cr->next_delivery;
	uint32_t lost_bytes = d->sent_bytes - cr->next_sent_bytes;

	if (!cr->synced) {
		/* Totals restarted at zero (consumer_credit_restart()): the router's stand
		 * at d's numbers, whatever came before d was not counted here. */
		lost = d->meta.delivery;
		lost_bytes = d->sent_bytes;
		cr->synced = true;
	} else if (lost >= 1u << 31) {
		c->stats.deliveries_late++;
		return false;
	}
	if (lost > 0 || lost_bytes > 0) {
		c->stats.deliveries_lost += lost;
		cr->received_batches += lost;
		cr->received_bytes += lost_bytes;
		cr->consumed_batches += lost;
		cr->consumed_bytes += lost_bytes;
		cr->dirty = true;
	}
	cr->next_delivery = d->meta.delivery + 1;
	cr->next_sent_bytes = d->sent_bytes + len;
	cr->received_batches++;
	cr->received_bytes += len;
	uint32_t wb = cr->window_batches; /* the SUBSCRIBE's, or grown since */
	uint64_t wy = sub->accepted.window_bytes;
	if ((wb != 0 && cr->received_batches - cr->consumed_batches > wb) ||
	    (wy != 0 && cr->received_bytes - cr->consumed_bytes > wy)) {
		c->stats.credit_overruns++;
	}
	return true;
}

static void consumer_on_deliver(struct sl_consumer *c, const uint8_t *buf, uint32_t len,
				const struct wire_frame *f)
{
	struct consumer_sub *sub = consumer_sub_find(c, wire_subscription_id(&f->hdr));
	struct consumer_delivery *q;
	struct wire_deliver d;

	if (sub == NULL || sub->state != SUB_ACTIVE || wire_deliver_parse(f, &d) != SL_WIRE_OK ||
	    d.meta.shard >= sub->shard_count) {
		c->stats.deliveries_invalid++;
		return;
	}
	struct consumer_credit *cr = &sub->credit[d.meta.shard];
	bool counted = consumer_credit_received(c, sub, cr, &d, len);
	c->stats.deliveries++;
	if (d.meta.attempt > 0) {
		c->stats.redeliveries++;
	}
	struct consumer_partition *part =
		consumer_partition_get(sub, d.topic, d.topic_len, d.partition);
	uint8_t *copy = part != NULL && c->tail - c->rel <= c->queue_mask ? malloc(len) : NULL;
	if (copy == NULL) {
		/* Queue full, no memory, or too many partitions: not acked, so the
		 * router sends it again; consumed now so that its credit comes back. */
		c->stats.deliveries_dropped++;
		if (counted) {
			cr->consumed_batches++;
			cr->consumed_bytes += len;
			cr->dirty = true;
		}
		return;
	}
	memcpy(copy, buf, len);
	q = &c->queue[c->tail++ & c->queue_mask];
	memset(q, 0, sizeof(*q));
	q->frame = copy;
	q->len = len;
	q->sub = sub;
	q->part = part;
	q->credit_epoch = counted ? cr->epoch : 0;
	/* The receive buffer is reused by the next burst: point into the copy. */
	q->d = d;
	q->d.topic = copy + (d.topic - buf);
	q->d.records = copy + (d.records - buf);
	wire_record_iter_init_body(&q->it, q->d.records, q->d.records_len);
	q->next_offset = q->d.base_offset;
}

static void consumer_handle(struct sl_consumer *c, const uint8_t *buf, uint32_t len,
			    uint64_t now_ns)
{
	struct wire_frame f;

	if (wire_decode(buf, len, CLIENT_RX_BYTES, &f) != SL_WIRE_OK ||
	    wire_subscriber_id(&f.hdr) != c->id) {
		c->stats.datagrams_invalid++;
		if (len >= SL_WIRE_HEADER_BYTES && buf[5] == SL_WIRE_DELIVER) {
			c->stats.deliveries_invalid++;
		}
		return;
	}
	switch (f.hdr.type) {
	case SL_WIRE_DELIVER:
		consumer_on_deliver(c, buf, len, &f);
		break;
	case SL_WIRE_SUBSCRIBED:
		consumer_on_subscribed(c, &f);
		break;
	case SL_WIRE_NACK:
		consumer_on_nack(c, &f, now_ns);
		break;
	default:
		c->stats.datagrams_invalid++;
		break;
	}
}

int consumer_receive(struct sl_consumer *c, uint64_t now_ns)
{
	for (unsigned b = 0; b < CONSUMER_RX_BURSTS_PER_POLL; b++) {
		int rc = transport_recv_burst(&c->tx);
		if (rc < 0) {
			/* The router's port refused an earlier datagram: it is down or
			 * restarting, which resends and heartbeats ride out. */
			return rc == -ECONNREFUSED ? 0 : rc;
		}
		c->stats.datagrams_received += (uint64_t)rc;
		for (unsigned i = 0; i < c->tx.rx_kept; i++) {
			consumer_handle(c, c->tx.rx_data[i], c->tx.rx_len[i], now_ns);
		}
		if ((unsigned)rc < CLIENT_BURST) {
			break;
		}
	}
	return 0;
}
