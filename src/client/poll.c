/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The producer's event loop, run by the application through sl_producer_poll() and
 * sl_flush(): seal batches whose linger expired, fire due retransmit timers, send the
 * queue in sendmmsg bursts, read acks in recvmmsg bursts, then call on_delivery for
 * every finished batch. Each step has a bound per poll, so one call never runs long.
 */
#include "client/producer_int.h"

#include "core/assert.h"

#include <errno.h>

/* Flush waits in slices of this much so it can re-check its own deadline. */
#define POLL_FLUSH_SLICE_US 10000u

int producer_transmit(struct sl_producer *p, uint64_t now_ns)
{
	for (unsigned burst = 0; burst < CLIENT_TX_BURSTS_PER_POLL && p->sendq.head != NULL;
	     burst++) {
		unsigned n = 0;
		for (struct batch *b = p->sendq.head; b != NULL && n < CLIENT_BURST;
		     b = batch_list_next(b, BATCH_LINK_QUEUE)) {
			/* STREAM_HEAD: every earlier sequence is acked (or given up). With
			 * acks=none, sending is finishing, so every batch is a head. */
			bool head = p->cfg.acks == SL_ACKS_NONE || b->stream->pending.head == b;
			batch_stamp(b, b->sequence, head ? SL_WIRE_FLAG_STREAM_HEAD : 0);
			p->tx_iov[n].iov_base = b->wb.buf;
			p->tx_iov[n].iov_len = b->wb.len;
			p->tx_batch[n++] = b;
		}
		int rc = transport_send_burst(&p->tx, p->tx_iov, n);
		if (rc == -EAGAIN || rc == -ENOBUFS) {
			return 0; /* socket buffer full: the rest waits for the next poll */
		}
		if (rc < 0) {
			/* ECONNREFUSED (an ICMP error of an earlier datagram), unreachable
			 * networks and the like: this datagram is lost as far as we know and
			 * its timer resends it. Never spin on it. */
			producer_mark_sent(p, p->tx_batch[0], now_ns);
			continue;
		}
		for (int i = 0; i < rc; i++) {
			producer_mark_sent(p, p->tx_batch[i], now_ns);
		}
		if ((unsigned)rc < n) {
			return 0;
		}
	}
	return 0;
}

/* Reads bounded bursts of replies. Returns 0 or -errno. */
static int producer_receive(struct sl_producer *p)
{
	for (unsigned burst = 0; burst < CLIENT_RX_BURSTS_PER_POLL; burst++) {
		int rc = transport_recv_burst(&p->tx);
		if (rc == -ECONNREFUSED) {
			/* An ICMP error from an earlier send: the router is not there (yet).
			 * Timers handle it; keep reading. */
			continue;
		}
		if (rc < 0) {
			return rc;
		}
		p->stats.datagrams_received += (unsigned)rc;
		uint64_t now = producer_now(p);
		for (unsigned i = 0; i < p->tx.rx_kept; i++) {
			struct wire_frame f;
			if (wire_decode(p->tx.rx_data[i], p->tx.rx_len[i], CLIENT_RX_BYTES, &f) !=
			    SL_WIRE_OK) {
				p->stats.datagrams_invalid++;
				continue;
			}
			producer_handle_reply(p, &f, now);
		}
		if ((unsigned)rc < CLIENT_BURST) {
			return 0;
		}
	}
	return 0;
}

/* Seals open batches whose linger expired (all of them when sl_produce starved). */
static void producer_seal_lingering(struct sl_producer *p, uint64_t now_ns)
{
	struct batch *b;

	while ((b = p->lingering.head) != NULL &&
	       (p->starved || now_ns - b->open_ns >= p->linger_ns)) {
		producer_seal(p, b);
	}
	p->starved = false;
}

/* One pass of everything but waiting and callbacks. */
static int producer_work(struct sl_producer *p, uint64_t now_ns)
{
	int rc;

	producer_seal_lingering(p, now_ns);
	producer_expire_timers(p, now_ns);
	rc = producer_transmit(p, now_ns);
	if (rc != 0) {
		return rc;
	}
	rc = producer_receive(p);
	if (rc != 0 || p->sendq.head == NULL) {
		return rc;
	}
	/* Replies queued early resends (OUT_OF_SEQUENCE recovery): send them now, not
	 * one poll later. */
	return producer_transmit(p, producer_now(p));
}

/* Calls on_delivery for every finished batch and returns them to the pool. */
static int producer_deliver(struct sl_producer *p)
{
	struct batch *b;
	int n = 0;

	while ((b = batch_list_pop(&p->done, BATCH_LINK_QUEUE)) != NULL) {
		if (p->cfg.on_delivery != NULL) {
			struct sl_delivery d = {
				.topic = b->stream->topic->name,
				.partition = b->stream->partition,
				.count = b->wb.records,
				.base_offset = b->base_offset,
				.sequence = b->sequence,
				.error = b->error,
			};
			p->cfg.on_delivery(p->cfg.ctx, &d);
		}
		batch_pool_put(&p->pool, b);
		n++;
	}
	return n;
}

/* How long poll may sleep: up to timeout, but not past the next timer or linger. */
static uint64_t producer_wait_ns(const struct sl_producer *p, uint64_t now, uint64_t timeout_ns)
{
	const struct batch *t = timer_heap_peek(&p->timers);
	const struct batch *l = p->lingering.head;
	uint64_t wait = timeout_ns;

	if (t != NULL) {
		uint64_t left = t->deadline_ns > now ? t->deadline_ns - now : 0;
		wait = left < wait ? left : wait;
	}
	if (l != NULL) {
		uint64_t due = l->open_ns + p->linger_ns;
		uint64_t left = due > now ? due - now : 0;
		wait = left < wait ? left : wait;
	}
	return wait;
}

int sl_producer_poll(struct sl_producer *p, uint32_t timeout_us)
{
	uint64_t now = producer_now(p);
	int rc = producer_work(p, now);

	if (rc != 0) {
		return rc;
	}
	if (timeout_us > 0 && p->done.n == 0 && p->sendq.n == 0) {
		uint64_t wait = producer_wait_ns(p, now, (uint64_t)timeout_us * 1000u);
		if (wait > 0) {
			rc = transport_wait(&p->tx, wait);
			if (rc < 0) {
				return rc;
			}
		}
		rc = producer_work(p, producer_now(p));
		if (rc != 0) {
			return rc;
		}
	}
	return producer_deliver(p);
}

int sl_flush(struct sl_producer *p, uint32_t timeout_ms)
{
	uint64_t deadline = producer_now(p) + (uint64_t)timeout_ms * 1000000u;

	/* Everything lingering goes out now. */
	while (p->lingering.head != NULL) {
		producer_seal(p, p->lingering.head);
	}
	for (;;) {
		int rc = sl_producer_poll(p, 0);
		if (rc < 0) {
			return rc;
		}
		if (p->stats.inflight_batches == 0 && p->done.n == 0) {
			return 0;
		}
		uint64_t now = producer_now(p);
		if (now >= deadline) {
			return -ETIMEDOUT;
		}
		uint64_t left_us = (deadline - now) / 1000u;
		rc = sl_producer_poll(p, (uint32_t)(left_us < POLL_FLUSH_SLICE_US
							    ? left_us + 1
							    : POLL_FLUSH_SLICE_US));
		if (rc < 0) {
			return rc;
		}
	}
}
