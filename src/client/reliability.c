/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The producer's reliability state machine: what an ACK, a NACK or an expired timer
 * does to a batch and to its stream (topic, partition). The router appends a stream's
 * batches strictly in sequence order, so recovery is "go back to the sequence the
 * router waits for"; after a batch fails, the stream's next batch goes out as a stream
 * head and the router skips ahead to it. Acks move each stream's window, which lets
 * the batches waiting beyond it go out. All of it runs on the producer's clock and is
 * driven by poll.c.
 */
#include "client/producer_int.h"

#include "core/assert.h"

#include <errno.h>

/* Early (non-timer) resends of one batch are at least this far apart, however short
 * the measured round trip: a burst of NACKs triggers one resend, not one per NACK. */
#define RELIABILITY_PROMPT_GAP_MIN_NS (50u * 1000u)

/* Queues the waiting batches of s that its window now admits, in sequence order. */
static void producer_window_advance(struct sl_producer *p, struct stream *s)
{
	struct batch *b;

	while ((b = s->waiting.head) != NULL &&
	       b->sequence < s->pending.head->sequence + s->topic->stream_batches_max) {
		batch_list_remove(&s->waiting, b, BATCH_LINK_QUEUE);
		producer_queue_new(p, b);
	}
}

static bool producer_window_fits(const struct sl_producer *p, const struct batch *b)
{
	/* An empty window takes any batch, so a window smaller than a frame never stalls. */
	return p->cfg.send_window_bytes == 0 || p->stats.window_bytes == 0 ||
	       p->stats.window_bytes + b->wb.len <= p->cfg.send_window_bytes;
}

static void producer_window_take(struct sl_producer *p, struct batch *b)
{
	p->stats.window_bytes += b->wb.len;
	b->state = BATCH_QUEUED;
	batch_list_push(&p->sendq, b, BATCH_LINK_QUEUE);
}

void producer_queue_new(struct sl_producer *p, struct batch *b)
{
	if (p->held.head == NULL && producer_window_fits(p, b)) {
		producer_window_take(p, b);
		return;
	}
	b->state = BATCH_HELD;
	batch_list_push(&p->held, b, BATCH_LINK_QUEUE);
	p->stats.window_holds++;
}

/* Gives back finished batch b's room in the window when it was in it (windowed), then
 * queues the held batches the window has room for, oldest first. */
static void producer_window_release(struct sl_producer *p, const struct batch *b, bool windowed)
{
	struct batch *h;

	if (windowed) {
		p->stats.window_bytes -= b->wb.len;
	}
	while ((h = p->held.head) != NULL && producer_window_fits(p, h)) {
		batch_list_remove(&p->held, h, BATCH_LINK_QUEUE);
		producer_window_take(p, h);
	}
}

void producer_finish(struct sl_producer *p, struct batch *b, int error, uint64_t base_offset)
{
	struct stream *s = b->stream;
	/* Queued (first send or retransmit) or sent: taken into the send window. */
	bool windowed = b->state == BATCH_QUEUED || b->state == BATCH_INFLIGHT;

	if (b->state == BATCH_QUEUED) {
		batch_list_remove(&p->sendq, b, BATCH_LINK_QUEUE);
	} else if (b->state == BATCH_WAITING) {
		batch_list_remove(&s->waiting, b, BATCH_LINK_QUEUE);
	} else if (b->state == BATCH_HELD) {
		batch_list_remove(&p->held, b, BATCH_LINK_QUEUE);
	} else {
		SL_ASSERT_HOT(b->state == BATCH_INFLIGHT);
		timer_heap_remove(&p->timers, b);
	}
	bool was_oldest = s->pending.head == b;
	batch_list_remove(&s->pending, b, BATCH_LINK_STREAM);
	seqmap_remove(&p->seqs, b);
	if (was_oldest) {
		producer_window_advance(p, s);
	}
	producer_window_release(p, b, windowed);
	p->stats.inflight_bytes -= b->wb.len;
	p->stats.inflight_batches--;
	if (error != 0) {
		p->stats.events_failed += b->wb.records;
	} else {
		p->stats.events_acked += b->wb.records;
	}
	b->error = error;
	b->base_offset = base_offset;
	b->state = BATCH_DONE;
	batch_list_push(&p->done, b, BATCH_LINK_QUEUE);
}

void producer_fail_from(struct sl_producer *p, struct batch *b, int error)
{
	/* The router appends in order: nothing after a failed batch can be appended
	 * under its current sequence, so the rest of the stream fails with it. The
	 * stream's next batch is then a stream head, which the router skips ahead to. */
	while (b != NULL) {
		struct batch *next = batch_list_next(b, BATCH_LINK_STREAM);
		producer_finish(p, b, error, SL_OFFSET_UNKNOWN);
		b = next;
	}
}

/* Moves an INFLIGHT batch to the send queue now, unless it was sent very recently. */
static void producer_resend_early(struct sl_producer *p, struct batch *b, uint64_t now, bool force)
{
	if (b->state != BATCH_INFLIGHT) {
		return; /* already queued */
	}
	if (!force && now - b->sent_ns < p->prompt_gap_ns) {
		return;
	}
	timer_heap_remove(&p->timers, b);
	b->state = BATCH_QUEUED;
	batch_list_push(&p->sendq, b, BATCH_LINK_QUEUE);
}

/*
 * OUT_OF_SEQUENCE for `nacked`: the router waits for `expected`, which goes again. When
 * we have no such batch in flight, the router has no state for the stream (UINT64_MAX),
 * waits for a sequence we gave up, or is past batches whose acks were lost: then the
 * stream's oldest pending batch goes again. As the stream head it (re)starts the stream
 * or makes the router skip ahead; if it was appended already, it draws a DUPLICATE ack
 * with its offset. The router handles a stream's frames in the order they were sent:
 * if the last copy of that batch went out before the first copy of `nacked`, the NACK
 * proves it lost and it goes at once; otherwise (the NACK may answer an older copy)
 * only when its last copy is older than the prompt gap.
 */
static void producer_resync(struct sl_producer *p, struct batch *nacked, uint64_t expected,
			    uint64_t now)
{
	struct stream *s = nacked->stream;
	struct batch *want = s->pending.head;

	SL_ASSERT_HOT(want != NULL);
	if (expected != UINT64_MAX) {
		struct batch *b = seqmap_find(&p->seqs, s->id, expected);
		if (b != NULL && b->transmissions > 0) {
			want = b;
		}
	}
	producer_resend_early(p, want, now, want->sent_serial < nacked->first_serial);
}

/* After the ack of `seq`: resend the batches right after it that were refused as out
 * of sequence (they arrived before it), up to CLIENT_GOBACK_MAX. */
static void producer_go_back(struct sl_producer *p, struct stream *s, uint64_t seq, uint64_t now)
{
	for (unsigned i = 1; i <= CLIENT_GOBACK_MAX; i++) {
		struct batch *b = seqmap_find(&p->seqs, s->id, seq + i);
		if (b == NULL || !b->oos) {
			return;
		}
		producer_resend_early(p, b, now, true);
	}
}

/*
 * After the ack of `seq`, which answers a copy sent no earlier than `first_serial`: the
 * router appends in sequence order and handles a stream's frames in the order they
 * were sent, so every pending batch below `seq` whose last copy went out before that was
 * appended, and its ack lost. Resend those now (a DUPLICATE ack brings each offset
 * back) rather than stall the stream's window until their timers fire. Up to
 * CLIENT_GOBACK_MAX batches.
 */
static void producer_resend_lost_acks(struct sl_producer *p, struct stream *s, uint64_t seq,
				      uint64_t first_serial, uint64_t now)
{
	struct batch *b = s->pending.head;

	for (unsigned i = 0; b != NULL && b->sequence < seq && i < CLIENT_GOBACK_MAX; i++) {
		if (b->state == BATCH_INFLIGHT && b->sent_serial < first_serial) {
			producer_resend_early(p, b, now, true);
		}
		b = batch_list_next(b, BATCH_LINK_STREAM);
	}
}

/* The batch a reply names, or NULL: our id and epoch, a known topic and partition,
 * a pending sequence that was transmitted, the same record count. */
static struct batch *producer_match(struct sl_producer *p, const struct wire_frame *f)
{
	const struct sl_wire_header *h = &f->hdr;
	struct topic *t;
	struct batch *b;

	if (h->producer_id != p->id || h->producer_epoch != p->epoch) {
		return NULL;
	}
	t = topic_table_find(&p->topics, (const char *)f->topic, h->topic_len);
	if (t == NULL || h->partition >= t->partitions) {
		return NULL;
	}
	b = seqmap_find(&p->seqs, t->streams[h->partition].id, h->sequence);
	if (b == NULL || b->transmissions == 0) {
		return NULL;
	}
	return b;
}

static void producer_handle_ack(struct sl_producer *p, struct batch *b, const struct wire_frame *f,
				uint64_t now)
{
	struct stream *s = b->stream;
	struct sl_wire_ack a;
	uint64_t seq = b->sequence;
	uint64_t first_serial = b->first_serial;

	wire_ack_read(f->body, &a);
	if (f->hdr.record_count != b->wb.records || a.status > SL_ACK_DUPLICATE ||
	    a.ack_level < p->cfg.acks) {
		p->stats.datagrams_invalid++;
		return;
	}
	p->stats.acks++;
	if (a.status == SL_ACK_DUPLICATE) {
		p->stats.duplicates++;
	}
	if (b->transmissions == 1) {
		/* Karn: only unambiguous samples. */
		retry_rtt_sample(&p->rtt, now - b->sent_ns);
		p->rto_us =
			retry_rto_us(&p->rtt, p->cfg.retry_timeout_us, p->cfg.retry_timeout_max_us);
		p->prompt_gap_ns = 2 * p->rtt.srtt_ns;
		if (p->prompt_gap_ns < RELIABILITY_PROMPT_GAP_MIN_NS) {
			p->prompt_gap_ns = RELIABILITY_PROMPT_GAP_MIN_NS;
		}
	}
	producer_finish(p, b, 0, a.base_offset);
	producer_go_back(p, s, seq, now);
	producer_resend_lost_acks(p, s, seq, first_serial, now);
}

static void producer_handle_nack(struct sl_producer *p, struct batch *b, const struct wire_frame *f,
				 uint64_t now)
{
	struct sl_wire_nack n;

	wire_nack_read(f->body, &n);
	switch (retry_nack_action(n.reason)) {
	case RETRY_NACK_WAIT:
		p->stats.nacks++;
		return; /* the timer resends it, with backoff */
	case RETRY_NACK_RESYNC:
		p->stats.nacks++;
		b->oos = true;
		producer_resync(p, b, n.expected, now);
		return;
	case RETRY_NACK_FAIL:
		p->stats.nacks++;
		producer_fail_from(p, b, retry_nack_error(n.reason));
		return;
	case RETRY_NACK_INVALID:
		break;
	}
	p->stats.datagrams_invalid++;
}

void producer_handle_reply(struct sl_producer *p, const struct wire_frame *f, uint64_t now_ns)
{
	struct batch *b;

	if (f->hdr.type != SL_WIRE_ACK && f->hdr.type != SL_WIRE_NACK) {
		p->stats.datagrams_invalid++;
		return;
	}
	b = producer_match(p, f);
	if (b == NULL) {
		p->stats.datagrams_invalid++;
		return;
	}
	if (f->hdr.type == SL_WIRE_ACK) {
		producer_handle_ack(p, b, f, now_ns);
	} else {
		producer_handle_nack(p, b, f, now_ns);
	}
}

void producer_expire_timers(struct sl_producer *p, uint64_t now_ns)
{
	for (unsigned i = 0; i < CLIENT_TIMERS_PER_POLL; i++) {
		struct batch *b = timer_heap_peek(&p->timers);
		if (b == NULL || b->deadline_ns > now_ns) {
			return;
		}
		/* Only a copy that drew no answer at all counts against retries_max: one
		 * refused as out of sequence reached the router, which wanted an earlier
		 * batch first, and that batch's own retries bound the wait. */
		if (!b->oos) {
			if (b->retries >= p->cfg.retries_max) {
				producer_fail_from(p, b, -ETIMEDOUT);
				continue;
			}
			b->retries++;
		}
		timer_heap_remove(&p->timers, b);
		b->state = BATCH_QUEUED;
		batch_list_push(&p->sendq, b, BATCH_LINK_QUEUE);
	}
}

void producer_mark_sent(struct sl_producer *p, struct batch *b, uint64_t now_ns)
{
	SL_ASSERT_HOT(b->state == BATCH_QUEUED && p->sendq.head == b);
	if (b->transmissions == 0) {
		p->stats.batches_sent++;
	} else {
		p->stats.retransmits++;
	}
	b->transmissions++;
	b->oos = false; /* until a NACK says this copy came too early */
	b->sent_ns = now_ns;
	b->sent_serial = ++p->tx_serial;
	if (b->first_serial == 0) {
		b->first_serial = b->sent_serial;
	}
	p->stats.datagrams_sent++;
	if (p->cfg.acks == SL_ACKS_NONE) {
		producer_finish(p, b, 0, SL_OFFSET_UNKNOWN);
		return;
	}
	batch_list_remove(&p->sendq, b, BATCH_LINK_QUEUE);
	b->deadline_ns =
		now_ns + retry_backoff_ns(b->retries, p->rto_us, p->cfg.retry_timeout_max_us);
	b->state = BATCH_INFLIGHT;
	timer_heap_push(&p->timers, b);
}
