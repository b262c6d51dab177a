/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The producer end to end over loopback UDP, with the test playing the router. Scripted
 * tests drive a fake clock and answer each frame by hand: linger, STREAM_HEAD, the
 * retransmit backoff, every class of NACK, duplicates, invalid datagrams, backpressure,
 * acks=none. Reference tests run fake_router.c's rule-following router in a thread:
 * METADATA, and every event acknowledged exactly once under 10% loss each way.
 */
#include "client/producer_test.h"
#include "core/wire.h"
#include "fake_router.h"

#include <sluice/client.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define TOPIC "orders"
#define US 1000ull
#define MS (1000ull * US)

struct fixture {
	struct fake_router router;
	struct sl_producer *p;
	struct sl_producer_config cfg;
	uint64_t now;
	uint32_t window; /* stream_batches_max of the topic fixture_start() adds */
	unsigned deliveries;
	unsigned unknown_offsets; /* successful deliveries without a base offset */
	struct sl_delivery last;
	int errors[64];
	uint64_t sequences[64];
};

static uint64_t fixture_clock(void *ctx)
{
	return ((struct fixture *)ctx)->now;
}

static void fixture_on_delivery(void *ctx, const struct sl_delivery *d)
{
	struct fixture *fx = ctx;

	if (fx->deliveries < 64) {
		fx->errors[fx->deliveries] = d->error;
		fx->sequences[fx->deliveries] = d->sequence;
	}
	if (d->error == 0 && d->base_offset == SL_OFFSET_UNKNOWN) {
		fx->unknown_offsets++;
	}
	fx->deliveries++;
	fx->last = *d;
}

/* A producer with a fake clock, talking to fx->router, topic TOPIC with `partitions`. */
static void fixture_start(struct fixture *fx, uint32_t partitions)
{
	int rc;

	fx->cfg.router = fx->router.hostport;
	fx->cfg.on_delivery = fixture_on_delivery;
	fx->cfg.ctx = fx;
	rc = sl_producer_create(&fx->cfg, &fx->p);
	assert_int_equal(rc, 0);
	fx->now = 1000 * MS;
	producer_test_set_clock(fx->p, fixture_clock, fx);
	assert_int_equal(producer_test_add_topic(fx->p, TOPIC, partitions, fx->window), 0);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	assert_int_equal(fake_router_open(&fx->router), 0);
	sl_producer_config_init(&fx->cfg);
	fx->cfg.retry_timeout_us = 1000;
	fx->cfg.retry_timeout_max_us = 4000;
	fx->cfg.retries_max = 3;
	fx->window = 64;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	sl_producer_destroy(fx->p);
	fake_router_close(&fx->router);
	free(fx);
	return 0;
}

/* Polls until `n` deliveries happened in total (bounded by real time). */
static void poll_until(struct fixture *fx, unsigned n)
{
	for (int i = 0; i < 1000 && fx->deliveries < n; i++) {
		assert_true(sl_producer_poll(fx->p, 1000) >= 0);
	}
	assert_int_equal(fx->deliveries, n);
}

/* Polls without time passing and expects no datagram at the router. */
static void expect_nothing_sent(struct fixture *fx)
{
	assert_true(sl_producer_poll(fx->p, 0) >= 0);
	assert_true(fake_router_idle(&fx->router));
}

static void recv_produce(struct fixture *fx, struct wire_frame *f, uint64_t seq, bool head)
{
	assert_true(sl_producer_poll(fx->p, 0) >= 0);
	assert_int_equal(fake_router_recv(&fx->router, f, 1000), 0);
	assert_int_equal(f->hdr.type, SL_WIRE_PRODUCE);
	assert_int_equal(f->hdr.sequence, seq);
	assert_int_equal((f->hdr.flags & SL_WIRE_FLAG_STREAM_HEAD) != 0, head);
}

static void produce_n(struct fixture *fx, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint64_t v = i;
		assert_int_equal(sl_produce_to(fx->p, TOPIC, 0, NULL, 0, &v, sizeof(v)), 0);
	}
}

static void test_sl_producer_poll_sends_after_linger(void **state)
{
	struct fixture *fx = *state;
	struct wire_frame f;
	struct sl_producer_stats st;

	fixture_start(fx, 1);
	produce_n(fx, 3);
	expect_nothing_sent(fx);
	fx->now += 1 * MS;
	recv_produce(fx, &f, 0, true);
	assert_int_equal(f.hdr.record_count, 3);
	assert_int_equal(f.hdr.ack_level, SL_ACKS_RECEIVED);
	assert_int_equal(f.hdr.producer_id, sl_producer_id(fx->p));
	assert_int_equal(f.hdr.producer_epoch, sl_producer_epoch(fx->p));
	fake_router_ack(&fx->router, &f, 77, SL_ACK_APPENDED);
	poll_until(fx, 1);
	assert_int_equal(fx->last.error, 0);
	assert_int_equal(fx->last.count, 3);
	assert_int_equal(fx->last.base_offset, 77);
	assert_string_equal(fx->last.topic, TOPIC);
	sl_producer_stats_get(fx->p, &st);
	assert_int_equal(st.events_produced, 3);
	assert_int_equal(st.events_acked, 3);
	assert_int_equal(st.acks, 1);
	assert_int_equal(st.inflight_bytes, 0);
	assert_int_equal(st.inflight_batches, 0);
}

static void test_sl_producer_poll_retransmits_with_backoff(void **state)
{
	struct fixture *fx = *state;
	struct wire_frame f;
	struct sl_producer_stats st;

	fx->cfg.linger_us = 0;
	fixture_start(fx, 1);
	produce_n(fx, 1);
	recv_produce(fx, &f, 0, true);
	/* 1 ms, 2 ms, 4 ms, then capped at 4 ms; retries_max 3 */
	const uint64_t waits[] = {1 * MS, 2 * MS, 4 * MS};
	for (unsigned i = 0; i < 3; i++) {
		fx->now += waits[i] - 1;
		expect_nothing_sent(fx);
		fx->now += 1;
		recv_produce(fx, &f, 0, true);
	}
	fx->now += 4 * MS - 1;
	expect_nothing_sent(fx);
	assert_int_equal(fx->deliveries, 0);
	fx->now += 1;
	poll_until(fx, 1);
	assert_int_equal(fx->last.error, -ETIMEDOUT);
	assert_int_equal(fx->last.base_offset, SL_OFFSET_UNKNOWN);
	sl_producer_stats_get(fx->p, &st);
	assert_int_equal(st.retransmits, 3);
	assert_int_equal(st.batches_sent, 1);
	assert_int_equal(st.events_failed, 1);
	assert_true(fake_router_idle(&fx->router));
}

static void test_sl_producer_poll_sets_stream_head_once_earlier_acked(void **state)
{
	struct fixture *fx = *state;
	struct wire_frame f0, f1, f2, f;

	fx->cfg.linger_us = 0;
	fixture_start(fx, 1);
	produce_n(fx, 3);
	recv_produce(fx, &f0, 0, true);
	assert_int_equal(fake_router_recv(&fx->router, &f1, 1000), 0);
	assert_int_equal(f1.hdr.sequence, 1);
	assert_int_equal(f1.hdr.flags & SL_WIRE_FLAG_STREAM_HEAD, 0);
	assert_int_equal(fake_router_recv(&fx->router, &f2, 1000), 0);
	assert_int_equal(f2.hdr.sequence, 2);
	assert_int_equal(f2.hdr.flags & SL_WIRE_FLAG_STREAM_HEAD, 0);
	/* 0 went out before 1, so 1's ack says the router has 0 too: 0's ack was lost and
	 * 0 goes again at once, still the stream head. */
	fake_router_ack(&fx->router, &f1, 10, SL_ACK_APPENDED);
	poll_until(fx, 1);
	assert_int_equal(fake_router_recv(&fx->router, &f, 1000), 0);
	assert_int_equal(f.hdr.sequence, 0);
	assert_int_equal(f.hdr.flags & SL_WIRE_FLAG_STREAM_HEAD, SL_WIRE_FLAG_STREAM_HEAD);
	assert_true(fake_router_idle(&fx->router));
	/* An ack for 1 alone does not make 2 a head: 0 is still unacked. */
	fx->now += 1 * MS;
	assert_true(sl_producer_poll(fx->p, 0) >= 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(fake_router_recv(&fx->router, &f, 1000), 0);
		if (f.hdr.sequence == 2) {
			assert_int_equal(f.hdr.flags & SL_WIRE_FLAG_STREAM_HEAD, 0);
		} else {
			assert_int_equal(f.hdr.sequence, 0);
		}
	}
	/* Once 0 is acked, 2's next transmission is the stream head. */
	fake_router_ack(&fx->router, &f0, 9, SL_ACK_APPENDED);
	poll_until(fx, 2);
	fx->now += 2 * MS;
	recv_produce(fx, &f, 2, true);
	fake_router_ack(&fx->router, &f, 11, SL_ACK_APPENDED);
	poll_until(fx, 3);
}

static void test_sl_producer_poll_keeps_batch_on_busy_nack(void **state)
{
	struct fixture *fx = *state;
	struct wire_frame f;
	struct sl_producer_stats st;

	fx->cfg.linger_us = 0;
	fixture_start(fx, 1);
	produce_n(fx, 1);
	recv_produce(fx, &f, 0, true);
	fake_router_nack(&fx->router, &f, SL_NACK_BUSY, 0);
	expect_nothing_sent(fx);
	assert_int_equal(fx->deliveries, 0);
	fx->now += 1 * MS;
	recv_produce(fx, &f, 0, true);
	fake_router_ack(&fx->router, &f, 5, SL_ACK_APPENDED);
	poll_until(fx, 1);
	assert_int_equal(fx->last.error, 0);
	sl_producer_stats_get(fx->p, &st);
	assert_int_equal(st.nacks, 1);
	assert_int_equal(st.retransmits, 1);
}

static void test_sl_producer_poll_fails_rest_of_stream_on_permanent_nack(void **state)
{
	struct fixture *fx = *state;
	struct wire_frame f0, f1, f2, f;

	fx->cfg.linger_us = 0;
	fixture_start(fx, 1);
	produce_n(fx, 3);
	recv_produce(fx, &f0, 0, true);
	assert_int_equal(fake_router_recv(&fx->router, &f1, 1000), 0);
	assert_int_equal(fake_router_recv(&fx->router, &f2, 1000), 0);
	fake_router_nack(&fx->router, &f1, SL_NACK_TOO_LARGE, 0);
	poll_until(fx, 2);
	assert_int_equal(fx->errors[0], -SL_ETOOLARGE);
	assert_int_equal(fx->sequences[0], 1);
	assert_int_equal(fx->errors[1], -SL_ETOOLARGE);
	assert_int_equal(fx->sequences[1], 2);
	fake_router_ack(&fx->router, &f0, 0, SL_ACK_APPENDED);
	poll_until(fx, 3);
	assert_int_equal(fx->errors[2], 0);

	/* The hole at 1: the next batch goes out as 3 with STREAM_HEAD, which the router
	 * skips ahead to. Not renumbered: sequences are never reused. */
	produce_n(fx, 1);
	recv_produce(fx, &f, 3, true);
	fake_router_ack(&fx->router, &f, 1, SL_ACK_APPENDED);
	poll_until(fx, 4);
	assert_int_equal(fx->last.error, 0);
	assert_int_equal(fx->last.sequence, 3);
	assert_int_equal(fx->last.base_offset, 1);
	/* And the stream continues from there. */
	produce_n(fx, 1);
	recv_produce(fx, &f, 4, true);
}

/*
 * After a hole at 1, the new stream head (2) is lost and the batch after it (3) reaches
 * the router, which still waits for the failed 1. The producer resends its oldest batch as
 * the stream head rather than renumbering anything: a renumbered copy could be taken
 * for a duplicate of a sequence the router appended after skipping ahead.
 */
static void test_sl_producer_poll_resends_head_when_router_waits_for_hole(void **state)
{
	struct fixture *fx = *state;
	struct wire_frame f0, f1, f2, f3, f;

	fx->cfg.linger_us = 0;
	fixture_start(fx, 1);
	produce_n(fx, 2);
	recv_produce(fx, &f0, 0, true);
	assert_int_equal(fake_router_recv(&fx->router, &f1, 1000), 0);
	fake_router_ack(&fx->router, &f0, 0, SL_ACK_APPENDED);
	fake_router_nack(&fx->router, &f1, SL_NACK_TOO_LARGE, 0);
	poll_until(fx, 2);
	assert_int_equal(fx->errors[1], -SL_ETOOLARGE);
	produce_n(fx, 2);
	recv_produce(fx, &f2, 2, true); /* "lost" */
	assert_int_equal(fake_router_recv(&fx->router, &f3, 1000), 0);
	assert_int_equal(f3.hdr.sequence, 3);
	assert_int_equal(f3.hdr.flags & SL_WIRE_FLAG_STREAM_HEAD, 0);
	fx->now += 500 * US;
	fake_router_nack(&fx->router, &f3, SL_NACK_OUT_OF_SEQUENCE, 1);
	recv_produce(fx, &f, 2, true);
	assert_true(fake_router_idle(&fx->router));
	fake_router_ack(&fx->router, &f, 1, SL_ACK_APPENDED);
	poll_until(fx, 3);
	assert_int_equal(fx->last.sequence, 2);
	/* Its ack brings back 3, now the stream head. */
	assert_int_equal(fake_router_recv(&fx->router, &f, 1000), 0);
	assert_int_equal(f.hdr.sequence, 3);
	assert_int_equal(f.hdr.flags & SL_WIRE_FLAG_STREAM_HEAD, SL_WIRE_FLAG_STREAM_HEAD);
	fake_router_ack(&fx->router, &f, 2, SL_ACK_APPENDED);
	poll_until(fx, 4);
	assert_int_equal(fx->last.error, 0);
}

static void test_sl_producer_poll_resends_expected_on_out_of_sequence(void **state)
{
	struct fixture *fx = *state;
	struct wire_frame f1, f2, f;
	struct sl_producer_stats st;

	fx->cfg.linger_us = 0;
	fixture_start(fx, 1);
	produce_n(fx, 3);
	recv_produce(fx, &f, 0, true); /* "lost": never answered */
	assert_int_equal(fake_router_recv(&fx->router, &f1, 1000), 0);
	assert_int_equal(fake_router_recv(&fx->router, &f2, 1000), 0);
	fx->now += 500 * US; /* past the early-resend gap, before the 1 ms timer */
	fake_router_nack(&fx->router, &f1, SL_NACK_OUT_OF_SEQUENCE, 0);
	fake_router_nack(&fx->router, &f2, SL_NACK_OUT_OF_SEQUENCE, 0);
	/* Two NACKs, one early resend of 0. */
	recv_produce(fx, &f, 0, true);
	assert_true(fake_router_idle(&fx->router));
	/* Its ack brings 1 and 2 back at once (go back N), without waiting for timers. */
	fake_router_ack(&fx->router, &f, 100, SL_ACK_APPENDED);
	poll_until(fx, 1);
	assert_int_equal(fake_router_recv(&fx->router, &f, 1000), 0);
	assert_int_equal(f.hdr.sequence, 1);
	assert_int_equal(f.hdr.flags & SL_WIRE_FLAG_STREAM_HEAD, SL_WIRE_FLAG_STREAM_HEAD);
	fake_router_ack(&fx->router, &f, 101, SL_ACK_APPENDED);
	assert_int_equal(fake_router_recv(&fx->router, &f, 1000), 0);
	assert_int_equal(f.hdr.sequence, 2);
	fake_router_ack(&fx->router, &f, 102, SL_ACK_APPENDED);
	poll_until(fx, 3);
	sl_producer_stats_get(fx->p, &st);
	assert_int_equal(st.nacks, 2);
	assert_int_equal(st.retransmits, 3);
	assert_int_equal(st.events_acked, 3);
}

/* The router handles a stream's frames in the order they were sent: a NACK of 1 that
 * still waits for 0, whose only copy went out before 1, proves that copy lost. */
static void test_sl_producer_poll_resends_at_once_what_a_nack_proves_lost(void **state)
{
	struct fixture *fx = *state;
	struct wire_frame f1, f;
	struct sl_producer_stats st;

	fx->cfg.linger_us = 0;
	fixture_start(fx, 1);
	produce_n(fx, 2);
	recv_produce(fx, &f, 0, true); /* "lost" */
	assert_int_equal(fake_router_recv(&fx->router, &f1, 1000), 0);
	/* No time passes: well within the prompt gap, yet 0 goes again at once. */
	fake_router_nack(&fx->router, &f1, SL_NACK_OUT_OF_SEQUENCE, 0);
	recv_produce(fx, &f, 0, true);
	/* The same copy of 1 NACKed again says nothing about the new copy of 0. */
	fake_router_nack(&fx->router, &f1, SL_NACK_OUT_OF_SEQUENCE, 0);
	expect_nothing_sent(fx);
	fake_router_ack(&fx->router, &f, 0, SL_ACK_APPENDED);
	poll_until(fx, 1);
	recv_produce(fx, &f, 1, true);
	fake_router_ack(&fx->router, &f, 1, SL_ACK_APPENDED);
	poll_until(fx, 2);
	sl_producer_stats_get(fx->p, &st);
	assert_int_equal(st.retransmits, 2);
	assert_int_equal(st.nacks, 2);
}

/* Keeps a frame past the router's next receive, which reuses its buffer. */
static void frame_keep(struct wire_frame *dst, uint8_t *buf, size_t cap, const struct wire_frame *f)
{
	assert_true(f->len <= cap);
	memcpy(buf, f->base, f->len);
	assert_int_equal(wire_decode(buf, f->len, cap, dst), SL_WIRE_OK);
}

/* Only a copy that drew no answer counts against retries_max. Here every copy of 1 is
 * refused as out of sequence for longer than retries_max of its timers, while 0 (resent
 * early on each refusal, so its own timer never fires) stays lost: 1 reached the router
 * each time, so it must not fail, and goes through once 0 does. */
static void test_sl_producer_poll_counts_only_unanswered_copies_as_retries(void **state)
{
	struct fixture *fx = *state;
	uint8_t kept[SL_WIRE_FRAME_BYTES_MAX];
	struct wire_frame f, f1;
	unsigned copies_of_1 = 0;

	fx->cfg.linger_us = 0;
	fx->cfg.retry_timeout_max_us = fx->cfg.retry_timeout_us; /* 1 ms, no backoff */
	fx->cfg.retries_max = 2;
	fixture_start(fx, 1);
	produce_n(fx, 2);
	recv_produce(fx, &f, 0, true); /* lost, like every copy of 0 below */
	assert_int_equal(fake_router_recv(&fx->router, &f, 1000), 0);
	frame_keep(&f1, kept, sizeof(kept), &f);
	for (unsigned step = 0; step < 20; step++) {
		fake_router_nack(&fx->router, &f1, SL_NACK_OUT_OF_SEQUENCE, 0);
		fx->now += 400 * US;
		assert_true(sl_producer_poll(fx->p, 0) >= 0);
		while (fake_router_recv(&fx->router, &f, 0) == 0) {
			if (f.hdr.sequence == 1) {
				frame_keep(&f1, kept, sizeof(kept), &f);
				copies_of_1++;
			}
		}
	}
	assert_true(copies_of_1 > fx->cfg.retries_max);
	assert_int_equal(fx->deliveries, 0);
	/* 0 gets through at last; 1 follows. */
	for (unsigned step = 0; step < 20 && fx->deliveries < 2; step++) {
		fx->now += 400 * US;
		assert_true(sl_producer_poll(fx->p, 0) >= 0);
		while (fake_router_recv(&fx->router, &f, 0) == 0) {
			fake_router_ack(&fx->router, &f, 100 + f.hdr.sequence, SL_ACK_APPENDED);
		}
	}
	assert_int_equal(fx->deliveries, 2);
	assert_int_equal(fx->errors[0], 0);
	assert_int_equal(fx->errors[1], 0);
	assert_int_equal(fx->unknown_offsets, 0);
}

static void test_sl_producer_poll_resends_head_when_router_has_no_state(void **state)
{
	struct fixture *fx = *state;
	struct wire_frame f0, f1, f;

	fx->cfg.linger_us = 0;
	fixture_start(fx, 1);
	produce_n(fx, 2);
	recv_produce(fx, &f0, 0, true);
	assert_int_equal(fake_router_recv(&fx->router, &f1, 1000), 0);
	fx->now += 500 * US;
	fake_router_nack(&fx->router, &f1, SL_NACK_OUT_OF_SEQUENCE, UINT64_MAX);
	recv_produce(fx, &f, 0, true);
}

static void test_sl_producer_poll_counts_duplicate_ack(void **state)
{
	struct fixture *fx = *state;
	struct wire_frame f;
	struct sl_producer_stats st;

	fx->cfg.linger_us = 0;
	fixture_start(fx, 1);
	produce_n(fx, 1);
	recv_produce(fx, &f, 0, true);
	fake_router_ack(&fx->router, &f, 42, SL_ACK_DUPLICATE);
	poll_until(fx, 1);
	assert_int_equal(fx->last.error, 0);
	assert_int_equal(fx->last.base_offset, 42);
	sl_producer_stats_get(fx->p, &st);
	assert_int_equal(st.duplicates, 1);
	assert_int_equal(st.acks, 1);
}

static void test_sl_producer_poll_ignores_invalid_datagrams(void **state)
{
	struct fixture *fx = *state;
	struct wire_frame f, other;
	struct sl_producer_stats st;
	const char junk[] = "not a frame at all, just bytes";

	fx->cfg.linger_us = 0;
	fixture_start(fx, 1);
	produce_n(fx, 1);
	recv_produce(fx, &f, 0, true);
	fake_router_send(&fx->router, junk, sizeof(junk));
	other = f;
	other.hdr.sequence = 9; /* no such batch */
	fake_router_ack(&fx->router, &other, 1, SL_ACK_APPENDED);
	other = f;
	other.hdr.producer_id ^= 1; /* someone else's */
	fake_router_ack(&fx->router, &other, 1, SL_ACK_APPENDED);
	other = f;
	other.hdr.record_count = 2; /* wrong count */
	fake_router_ack(&fx->router, &other, 1, SL_ACK_APPENDED);
	fake_router_nack(&fx->router, &f, 200, 0); /* unknown reason */
	for (int i = 0; i < 100; i++) {
		sl_producer_stats_get(fx->p, &st);
		if (st.datagrams_received == 5) {
			break;
		}
		assert_true(sl_producer_poll(fx->p, 1000) >= 0);
	}
	sl_producer_stats_get(fx->p, &st);
	assert_int_equal(st.datagrams_received, 5);
	assert_int_equal(st.datagrams_invalid, 5);
	assert_int_equal(fx->deliveries, 0);
	assert_int_equal(st.inflight_batches, 1);
}

static void test_sl_produce_returns_eagain_at_inflight_limit(void **state)
{
	struct fixture *fx = *state;
	struct sl_producer_stats st;
	uint8_t value[200];
	unsigned accepted = 0;
	int rc;

	fx->cfg.inflight_bytes_max = 2 * SL_WIRE_FRAME_BYTES_DEFAULT;
	fixture_start(fx, 1);
	memset(value, 'v', sizeof(value));
	while ((rc = sl_produce(fx->p, TOPIC, NULL, 0, value, sizeof(value))) == 0) {
		accepted++;
		assert_true(accepted < 100);
	}
	assert_int_equal(rc, -EAGAIN);
	sl_producer_stats_get(fx->p, &st);
	assert_int_equal(st.events_produced, accepted);
	assert_true(st.inflight_bytes <= fx->cfg.inflight_bytes_max);
	/* Acks free the budget again. */
	for (unsigned got = 0; got < accepted;) {
		struct wire_frame f;
		assert_true(sl_producer_poll(fx->p, 0) >= 0);
		assert_int_equal(fake_router_recv(&fx->router, &f, 1000), 0);
		fake_router_ack(&fx->router, &f, got, SL_ACK_APPENDED);
		got += f.hdr.record_count;
	}
	assert_true(sl_producer_poll(fx->p, 1000) >= 0);
	assert_int_equal(sl_produce(fx->p, TOPIC, NULL, 0, value, sizeof(value)), 0);
}

static void test_sl_produce_rejects_oversize_without_side_effects(void **state)
{
	struct fixture *fx = *state;
	struct sl_producer_stats before, after;
	static uint8_t big[SL_WIRE_FRAME_BYTES_DEFAULT];

	fixture_start(fx, 1);
	sl_producer_stats_get(fx->p, &before);
	assert_int_equal(sl_produce(fx->p, TOPIC, NULL, 0, big, sizeof(big)), -EMSGSIZE);
	/* The largest event that fits: frame - header - topic - record header. */
	size_t fits = SL_WIRE_FRAME_BYTES_DEFAULT - wire_prefix_bytes(strlen(TOPIC)) -
		      SL_WIRE_RECORD_HEADER_BYTES;
	assert_int_equal(sl_produce(fx->p, TOPIC, "k", 1, big, fits), -EMSGSIZE);
	sl_producer_stats_get(fx->p, &after);
	assert_memory_equal(&before, &after, sizeof(before));
	assert_int_equal(sl_produce(fx->p, TOPIC, NULL, 0, big, fits), 0);
	assert_int_equal(sl_produce(fx->p, "bad..topic", NULL, 0, big, 1), -EINVAL);
	assert_int_equal(sl_produce_to(fx->p, TOPIC, 1, NULL, 0, big, 1), -SL_EUNKNOWNTOPIC);
}

static void test_sl_producer_poll_finishes_on_send_with_acks_none(void **state)
{
	struct fixture *fx = *state;
	struct wire_frame f;

	fx->cfg.acks = SL_ACKS_NONE;
	fx->cfg.linger_us = 0;
	fx->window = 1; /* nothing is waited for, so the window does not hold batches back */
	fixture_start(fx, 1);
	produce_n(fx, 2);
	recv_produce(fx, &f, 0, true);
	assert_int_equal(f.hdr.ack_level, SL_ACKS_NONE);
	assert_int_equal(fake_router_recv(&fx->router, &f, 1000), 0);
	assert_int_equal(f.hdr.sequence, 1);
	assert_int_equal(f.hdr.flags & SL_WIRE_FLAG_STREAM_HEAD, SL_WIRE_FLAG_STREAM_HEAD);
	poll_until(fx, 2);
	assert_int_equal(fx->last.error, 0);
	assert_int_equal(fx->last.base_offset, SL_OFFSET_UNKNOWN);
	assert_int_equal(sl_flush(fx->p, 0), 0);
}

/* Receives the next PRODUCE, which must be of `partition` and `seq`. */
static void recv_batch(struct fixture *fx, struct wire_frame *f, uint32_t partition, uint64_t seq)
{
	assert_int_equal(fake_router_recv(&fx->router, f, 1000), 0);
	assert_int_equal(f->hdr.type, SL_WIRE_PRODUCE);
	assert_int_equal(f->hdr.partition, partition);
	assert_int_equal(f->hdr.sequence, seq);
}

/*
 * Regression: the producer kept hundreds of batches per stream in flight while the
 * router remembered 8, so a retransmit of the oldest got an unknown offset. Now at most
 * stream_batches_max are sent past the oldest unacked one; the rest wait for its ack.
 */
static void test_sl_producer_poll_caps_unacked_batches_per_stream(void **state)
{
	struct fixture *fx = *state;
	struct wire_frame fs[6], f0, f;
	struct sl_producer_stats st;

	fx->cfg.linger_us = 0;
	fx->window = 3;
	fixture_start(fx, 1);
	produce_n(fx, 6);
	assert_true(sl_producer_poll(fx->p, 0) >= 0);
	for (uint64_t seq = 0; seq < 3; seq++) {
		recv_batch(fx, &fs[seq], 0, seq);
	}
	assert_true(fake_router_idle(&fx->router));
	sl_producer_stats_get(fx->p, &st);
	assert_int_equal(st.batches_sent, 3);
	assert_int_equal(st.inflight_batches, 6);
	/* An ack past the oldest does not move the window: 3 would be 3 past 0. As 0 went
	 * out before 1, it also says the router has 0: 0's ack was lost, and 0 goes again
	 * at once rather than stall the window until its timer. */
	fx->now += 500 * US;
	fake_router_ack(&fx->router, &fs[1], 1, SL_ACK_APPENDED);
	poll_until(fx, 1);
	recv_produce(fx, &f0, 0, true);
	assert_true(fake_router_idle(&fx->router));
	/* Its duplicate ack, offset known, lets 3 and 4 go: 2 + 3 > 4. */
	fake_router_ack(&fx->router, &f0, 0, SL_ACK_DUPLICATE);
	poll_until(fx, 2);
	assert_int_equal(fx->last.base_offset, 0);
	recv_batch(fx, &fs[3], 0, 3);
	recv_batch(fx, &fs[4], 0, 4);
	assert_true(fake_router_idle(&fx->router));
	/* A full window never holds back the oldest batch's retransmits: 2 goes again on
	 * its timer, now as the stream head. */
	fx->now += 500 * US;
	recv_produce(fx, &f, 2, true);
	assert_true(fake_router_idle(&fx->router));
	for (uint64_t seq = 2; seq < 5; seq++) {
		fake_router_ack(&fx->router, &fs[seq], seq, SL_ACK_APPENDED);
	}
	poll_until(fx, 5);
	recv_batch(fx, &fs[5], 0, 5);
	fake_router_ack(&fx->router, &fs[5], 5, SL_ACK_APPENDED);
	assert_int_equal(sl_flush(fx->p, 1000), 0);
	assert_int_equal(fx->deliveries, 6);
	assert_int_equal(fx->unknown_offsets, 0);
	sl_producer_stats_get(fx->p, &st);
	assert_int_equal(st.batches_sent, 6);
	assert_int_equal(st.retransmits, 2);
	assert_int_equal(st.inflight_batches, 0);
}

/* Each stream has its own window: one stream waiting does not hold back another. */
static void test_sl_producer_poll_caps_each_stream_separately(void **state)
{
	struct fixture *fx = *state;
	struct wire_frame f;

	fx->cfg.linger_us = 0;
	fx->window = 1;
	fixture_start(fx, 2);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(sl_produce_to(fx->p, TOPIC, 0, NULL, 0, "a", 1), 0);
		assert_int_equal(sl_produce_to(fx->p, TOPIC, 1, NULL, 0, "b", 1), 0);
	}
	assert_true(sl_producer_poll(fx->p, 0) >= 0);
	recv_batch(fx, &f, 0, 0);
	recv_batch(fx, &f, 1, 0);
	assert_true(fake_router_idle(&fx->router));
	fake_router_ack(&fx->router, &f, 0, SL_ACK_APPENDED);
	poll_until(fx, 1);
	recv_batch(fx, &f, 1, 1);
	assert_true(fake_router_idle(&fx->router));
}

/*
 * The send window: batches of any stream beyond send_window_bytes (sent, unanswered)
 * wait in the producer, in seal order, and leave as answers free room. A retransmit
 * of a batch already in the window is never held back.
 */
static void test_sl_producer_poll_holds_batches_beyond_send_window(void **state)
{
	struct fixture *fx = *state;
	struct wire_frame f00, f10, f01, again;
	struct sl_producer_stats st;
	uint8_t value[600];

	memset(value, 'w', sizeof(value));
	fx->cfg.linger_us = 0;
	fx->cfg.send_window_bytes = SL_WIRE_FRAME_BYTES_DEFAULT; /* two of these batches */
	fx->window = 8;
	fixture_start(fx, 2);
	assert_int_equal(sl_produce_to(fx->p, TOPIC, 0, NULL, 0, value, sizeof(value)), 0);
	assert_int_equal(sl_produce_to(fx->p, TOPIC, 1, NULL, 0, value, sizeof(value)), 0);
	assert_int_equal(sl_produce_to(fx->p, TOPIC, 0, NULL, 0, value, sizeof(value)), 0);
	assert_true(sl_producer_poll(fx->p, 0) >= 0);
	recv_batch(fx, &f00, 0, 0);
	recv_batch(fx, &f10, 1, 0);
	assert_true(fake_router_idle(&fx->router));
	sl_producer_stats_get(fx->p, &st);
	assert_int_equal(st.window_holds, 1);
	assert_int_equal(st.window_bytes, 2 * f00.len);
	assert_true(st.window_bytes + f00.len > fx->cfg.send_window_bytes);
	/* A full window: the timers still resend both, and 0/1 stays held. */
	fx->now += 100 * MS;
	recv_produce(fx, &again, 0, true);
	recv_produce(fx, &again, 0, true);
	assert_true(fake_router_idle(&fx->router));
	/* 1/0's answer makes room: the held 0/1 goes. */
	fake_router_ack(&fx->router, &f10, 0, SL_ACK_APPENDED);
	poll_until(fx, 1);
	recv_batch(fx, &f01, 0, 1);
	assert_true(fake_router_idle(&fx->router));
	fake_router_ack(&fx->router, &f00, 0, SL_ACK_APPENDED);
	fake_router_ack(&fx->router, &f01, 1, SL_ACK_APPENDED);
	assert_int_equal(sl_flush(fx->p, 1000), 0);
	assert_int_equal(fx->deliveries, 3);
	sl_producer_stats_get(fx->p, &st);
	assert_int_equal(st.window_bytes, 0);
	assert_int_equal(st.inflight_batches, 0);
}

/* Keyless events move on to a partition with room rather than queue behind a stream
 * whose window is full (here: partition 1, waiting for the ack of its only batch). */
static void test_sl_produce_keyless_skips_stream_with_full_window(void **state)
{
	struct fixture *fx = *state;
	struct wire_frame fs[3], f0, f2;

	fx->cfg.linger_us = 0; /* every event is a batch of its own */
	fx->window = 1;
	fixture_start(fx, 3);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(sl_produce(fx->p, TOPIC, NULL, 0, "x", 1), 0);
	}
	assert_true(sl_producer_poll(fx->p, 0) >= 0);
	for (uint32_t part = 0; part < 3; part++) {
		recv_batch(fx, &fs[part], part, 0);
	}
	fake_router_ack(&fx->router, &fs[2], 0, SL_ACK_APPENDED);
	poll_until(fx, 1);
	/* Every window was full when 2 was sealed: round robin went on to 0, whose batch
	 * now waits. Then 2 has room and 1 has not: the next event goes to 2. */
	assert_int_equal(sl_produce(fx->p, TOPIC, NULL, 0, "x", 1), 0);
	assert_int_equal(sl_produce(fx->p, TOPIC, NULL, 0, "x", 1), 0);
	assert_true(sl_producer_poll(fx->p, 0) >= 0);
	recv_batch(fx, &f2, 2, 1);
	assert_true(fake_router_idle(&fx->router));
	/* 0's ack releases the batch that waited behind it. */
	fake_router_ack(&fx->router, &fs[0], 0, SL_ACK_APPENDED);
	poll_until(fx, 2);
	recv_batch(fx, &f0, 0, 1);
	assert_true(fake_router_idle(&fx->router));
}

static void test_sl_produce_spreads_keyless_round_robin(void **state)
{
	struct fixture *fx = *state;
	unsigned per_partition[4] = {0};
	struct wire_frame f;
	uint8_t value[100];

	fixture_start(fx, 4);
	memset(value, 'x', sizeof(value));
	/* As many 100-byte events as one default frame holds: 11 of 120 bytes after 56. */
	const unsigned per = (SL_WIRE_FRAME_BYTES_DEFAULT - wire_prefix_bytes(strlen(TOPIC))) /
			     wire_record_bytes(0, sizeof(value));
	assert_int_equal(per, 11);
	for (unsigned i = 0; i < 8 * per; i++) {
		assert_int_equal(sl_produce(fx->p, TOPIC, NULL, 0, value, sizeof(value)), 0);
	}
	fx->now += 1 * MS;
	assert_true(sl_producer_poll(fx->p, 0) >= 0);
	for (unsigned i = 0; i < 8; i++) {
		assert_int_equal(fake_router_recv(&fx->router, &f, 1000), 0);
		assert_int_equal(f.hdr.record_count, per);
		/* Partitions in turn: 0, 1, 2, 3, 0, ... */
		assert_int_equal(f.hdr.partition, i % 4);
		per_partition[f.hdr.partition]++;
	}
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(per_partition[i], 2);
	}
}

static void test_sl_produce_keyed_events_stay_on_one_partition(void **state)
{
	struct fixture *fx = *state;
	struct wire_frame f;

	fixture_start(fx, 8);
	for (unsigned i = 0; i < 5; i++) {
		assert_int_equal(sl_produce(fx->p, TOPIC, "user-17", 7, "v", 1), 0);
	}
	assert_int_equal(sl_flush(fx->p, 0), -ETIMEDOUT);
	assert_int_equal(fake_router_recv(&fx->router, &f, 1000), 0);
	assert_int_equal(f.hdr.record_count, 5);
	assert_true(fake_router_idle(&fx->router));
}

/* ---- against the reference router (real clock) ---- */

static void test_sl_produce_learns_partitions_from_metadata(void **state)
{
	struct fixture *fx = *state;
	struct sl_producer_stats st;

	assert_int_equal(fake_router_start(&fx->router, 3, 0), 0);
	fx->cfg.router = fx->router.hostport;
	fx->cfg.on_delivery = fixture_on_delivery;
	fx->cfg.ctx = fx;
	assert_int_equal(sl_producer_create(&fx->cfg, &fx->p), 0);
	assert_int_equal(sl_produce_to(fx->p, TOPIC, 2, NULL, 0, "x", 1), 0);
	assert_int_equal(sl_produce_to(fx->p, TOPIC, 3, NULL, 0, "x", 1), -SL_EUNKNOWNTOPIC);
	assert_int_equal(sl_flush(fx->p, 5000), 0);
	sl_producer_stats_get(fx->p, &st);
	assert_int_equal(st.events_acked, 1);
	assert_int_equal(atomic_load(&fx->router.metadata_requests), 1);
	fake_router_stop(&fx->router);
}

static void test_sl_produce_unknown_topic_from_metadata(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(fake_router_start(&fx->router, 0, 0), 0);
	fx->cfg.router = fx->router.hostport;
	assert_int_equal(sl_producer_create(&fx->cfg, &fx->p), 0);
	assert_int_equal(sl_produce(fx->p, TOPIC, NULL, 0, "x", 1), -SL_EUNKNOWNTOPIC);
	fake_router_stop(&fx->router);
}

static void test_sl_produce_times_out_without_metadata(void **state)
{
	struct fixture *fx = *state;

	fx->router.silent = true;
	assert_int_equal(fake_router_start(&fx->router, 1, 0), 0);
	fx->cfg.router = fx->router.hostport;
	fx->cfg.metadata_timeout_ms = 150;
	assert_int_equal(sl_producer_create(&fx->cfg, &fx->p), 0);
	assert_int_equal(sl_produce(fx->p, TOPIC, NULL, 0, "x", 1), -ETIMEDOUT);
	fake_router_stop(&fx->router);
}

static void test_sl_flush_times_out_when_router_silent(void **state)
{
	struct fixture *fx = *state;
	struct sl_producer_stats st;

	fx->router.silent = true;
	assert_int_equal(fake_router_start(&fx->router, 1, 0), 0);
	fx->cfg.router = fx->router.hostport;
	assert_int_equal(sl_producer_create(&fx->cfg, &fx->p), 0);
	assert_int_equal(producer_test_add_topic(fx->p, TOPIC, 1, 64), 0);
	assert_int_equal(sl_produce(fx->p, TOPIC, NULL, 0, "x", 1), 0);
	assert_int_equal(sl_flush(fx->p, 3), -ETIMEDOUT);
	/* The retry budget (1 + 2 + 4 + 4 ms) runs out: the batch fails, flush ends. */
	assert_int_equal(sl_flush(fx->p, 2000), 0);
	sl_producer_stats_get(fx->p, &st);
	assert_int_equal(st.events_failed, 1);
	assert_int_equal(st.retransmits, 3);
	fake_router_stop(&fx->router);
}

/* A router that announces no window (0, as before the field existed) gets one batch in
 * flight per partition at a time. */
static void test_sl_produce_window_of_router_announcing_zero_is_one(void **state)
{
	struct fixture *fx = *state;
	struct wire_frame f;

	fx->router.stream_batches_max = 0;
	assert_int_equal(fake_router_start(&fx->router, 1, 0), 0);
	fx->cfg.router = fx->router.hostport;
	fx->cfg.linger_us = 0;
	fx->cfg.retry_timeout_us = 1000000; /* real clock here: no retransmit in the way */
	fx->cfg.retry_timeout_max_us = 1000000;
	fx->cfg.on_delivery = fixture_on_delivery;
	fx->cfg.ctx = fx;
	assert_int_equal(sl_producer_create(&fx->cfg, &fx->p), 0);
	/* METADATA comes from the reference thread; the batch waits for a poll to go. */
	assert_int_equal(sl_produce_to(fx->p, TOPIC, 0, NULL, 0, "a", 1), 0);
	fake_router_stop(&fx->router);
	assert_int_equal(sl_produce_to(fx->p, TOPIC, 0, NULL, 0, "b", 1), 0);
	assert_true(sl_producer_poll(fx->p, 0) >= 0);
	recv_batch(fx, &f, 0, 0);
	assert_true(fake_router_idle(&fx->router));
	fake_router_ack(&fx->router, &f, 0, SL_ACK_APPENDED);
	poll_until(fx, 1);
	recv_batch(fx, &f, 0, 1);
}

static void test_sl_flush_acks_every_event_once_under_loss(void **state)
{
	struct fixture *fx = *state;
	struct sl_producer_stats st;
	const uint64_t events = 20000;

	/* A window far below the ~150 batches the byte budget allows per partition. */
	fx->router.stream_batches_max = 8;
	assert_int_equal(fake_router_start(&fx->router, 4, events), 0);
	fx->cfg.router = fx->router.hostport;
	fx->cfg.retries_max = 20;
	fx->cfg.inflight_bytes_max = 256 * 1024;
	fx->cfg.on_delivery = fixture_on_delivery;
	fx->cfg.ctx = fx;
	assert_int_equal(sl_producer_create(&fx->cfg, &fx->p), 0);
	producer_test_set_loss(fx->p, 100, 100, 42);
	for (uint64_t i = 0; i < events;) {
		uint8_t value[32];
		memset(value, 'e', sizeof(value));
		memcpy(value, &i, sizeof(i));
		int rc = sl_produce(fx->p, TOPIC, NULL, 0, value, sizeof(value));
		if (rc == -EAGAIN) {
			assert_true(sl_producer_poll(fx->p, 1000) >= 0);
			continue;
		}
		assert_int_equal(rc, 0);
		i++;
	}
	assert_int_equal(sl_flush(fx->p, 30000), 0);
	fake_router_stop(&fx->router);
	sl_producer_stats_get(fx->p, &st);
	assert_int_equal(st.events_produced, events);
	assert_int_equal(st.events_acked, events);
	assert_int_equal(st.events_failed, 0);
	assert_true(st.retransmits > 0);
	assert_int_equal(atomic_load(&fx->router.appended_events), events);
	/* Every retransmit stayed within the router's window: all offsets are known. */
	assert_true(atomic_load(&fx->router.duplicates) > 0);
	assert_int_equal(atomic_load(&fx->router.duplicates_unknown), 0);
	assert_int_equal(fx->unknown_offsets, 0);
	for (uint64_t i = 0; i < events; i++) {
		if (fx->router.seen[i] != 1) {
			fail_msg("event %llu appended %u times", (unsigned long long)i,
				 fx->router.seen[i]);
		}
	}
	/* Offsets per partition are contiguous: the router handed out exactly `events`. */
	uint64_t total = 0;
	for (unsigned i = 0; i < 4; i++) {
		assert_true(fx->router.next_offset[i] > 0);
		total += fx->router.next_offset[i];
	}
	assert_int_equal(total, events);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sl_producer_poll_sends_after_linger, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sl_producer_poll_retransmits_with_backoff,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_sl_producer_poll_sets_stream_head_once_earlier_acked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sl_producer_poll_keeps_batch_on_busy_nack,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_sl_producer_poll_fails_rest_of_stream_on_permanent_nack, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_sl_producer_poll_resends_head_when_router_waits_for_hole, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_sl_producer_poll_resends_expected_on_out_of_sequence, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_sl_producer_poll_resends_at_once_what_a_nack_proves_lost, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_sl_producer_poll_resends_head_when_router_has_no_state, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_sl_producer_poll_counts_only_unanswered_copies_as_retries, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_sl_producer_poll_counts_duplicate_ack, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sl_producer_poll_ignores_invalid_datagrams,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_sl_produce_returns_eagain_at_inflight_limit,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_sl_produce_rejects_oversize_without_side_effects, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_sl_producer_poll_finishes_on_send_with_acks_none, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_sl_producer_poll_caps_unacked_batches_per_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_sl_producer_poll_holds_batches_beyond_send_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sl_producer_poll_caps_each_stream_separately,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_sl_produce_keyless_skips_stream_with_full_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sl_produce_spreads_keyless_round_robin, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sl_produce_keyed_events_stay_on_one_partition,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_sl_produce_learns_partitions_from_metadata,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_sl_produce_unknown_topic_from_metadata, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sl_produce_times_out_without_metadata, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sl_flush_times_out_when_router_silent, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_sl_produce_window_of_router_announcing_zero_is_one, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sl_flush_acks_every_event_once_under_loss,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
