/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The consumer over loopback UDP against fake_router.c. The router thread answers the
 * SUBSCRIBE handshake (ignoring some, or refusing with a NACK); once subscribed the
 * thread is stopped and the test plays the router by hand: DELIVERs in, and CREDIT,
 * CONSUMER_ACK and HEARTBEAT checked as they come out, on a fake clock. Covered: retry
 * on loss, refusals naming the problem, DELIVER parsing and malformed ones ignored,
 * credit accounting, cumulative acks (auto and manual), duplicates skipped, holes
 * filled or counted, heartbeats on time, resubscribing, unsubscribing on destroy.
 */
#include "client/consumer_int.h"
#include "client/consumer_test.h"
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

#define TOPIC "orders.eu"
#define MS 1000000ull
#define RECV_MS 1000

struct fixture {
	struct fake_router router;
	struct sl_consumer *c;
	struct sl_consumer_config cfg;
	struct sl_subscribe_options opts;
	uint32_t sub;
	uint64_t now;
	struct sl_event ev[64];
};

static uint64_t fixture_clock(void *ctx)
{
	return ((struct fixture *)ctx)->now;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	assert_int_equal(fake_router_open(&fx->router), 0);
	sl_consumer_config_init(&fx->cfg);
	fx->cfg.router = fx->router.hostport;
	fx->cfg.retry_timeout_ms = 20;
	fx->cfg.subscribe_timeout_ms = 2000;
	sl_subscribe_options_init(&fx->opts);
	fx->now = 1000 * MS;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	/* Destroy unsubscribes: let a thread answer so that it does not wait long. */
	if (fx->c != NULL) {
		assert_int_equal(fake_router_start(&fx->router, 1, 0), 0);
		sl_consumer_destroy(fx->c);
		fake_router_stop(&fx->router);
	}
	fake_router_close(&fx->router);
	free(fx);
	return 0;
}

static void fixture_create(struct fixture *fx)
{
	assert_int_equal(sl_consumer_create(&fx->cfg, &fx->c), 0);
	consumer_test_set_clock(fx->c, fixture_clock, fx);
}

/* Creates the consumer and subscribes with the router thread answering, then stops the
 * thread: from here on the test is the router. */
static void fixture_subscribe(struct fixture *fx)
{
	fixture_create(fx);
	assert_int_equal(fake_router_start(&fx->router, 1, 0), 0);
	assert_int_equal(sl_subscribe(fx->c, TOPIC, &fx->opts, &fx->sub), 0);
	fake_router_stop(&fx->router);
	assert_int_equal(fx->router.subscriber_id, sl_consumer_id(fx->c));
}

/* Polls until at least `want` events came (or a second passed); returns the count. */
static int fixture_poll(struct fixture *fx, int want)
{
	int got = sl_consumer_poll(fx->c, fx->ev, 64, want > 0 ? RECV_MS : 50);

	assert_true(got >= 0);
	return got;
}

static void test_sl_subscribe_retries_until_subscribed(void **state)
{
	struct fixture *fx = *state;
	struct sl_consumer_stats st;

	fx->router.sub_ignore = 2; /* the first two SUBSCRIBEs are "lost" */
	fixture_subscribe(fx);
	assert_int_equal(atomic_load(&fx->router.subscribes), 3);
	sl_consumer_stats_get(fx->c, &st);
	assert_int_equal(st.subscribes_sent, 3);
	assert_int_not_equal(fx->sub, 0);
}

static void test_sl_subscribe_nack_names_the_problem(void **state)
{
	struct fixture *fx = *state;
	uint32_t id = 0;

	fx->router.sub_nack_reason = SL_NACK_CONFLICT;
	fx->router.sub_nack_detail = SL_SUB_CONFLICT_GROUP;
	fixture_create(fx);
	assert_int_equal(fake_router_start(&fx->router, 1, 0), 0);
	assert_int_equal(sl_subscribe(fx->c, TOPIC, NULL, &id), -SL_ECONFLICT);
	fake_router_stop(&fx->router);
	assert_int_equal(sl_consumer_sub_error(fx->c), SL_SUB_CONFLICT_GROUP);
	assert_string_equal(sl_sub_error_name(SL_SUB_CONFLICT_GROUP),
			    wire_sub_error_name(SL_SUB_CONFLICT_GROUP));
	assert_non_null(strstr(sl_strerror(-SL_ECONFLICT), "conflict"));
}

static void test_sl_subscribe_rejects_invalid_pattern_locally(void **state)
{
	struct fixture *fx = *state;
	uint32_t id = 0;

	fixture_create(fx);
	assert_int_equal(sl_subscribe(fx->c, "orders.>.eu", NULL, &id), -EINVAL);
	assert_int_equal(sl_consumer_sub_error(fx->c), SL_SUB_PATTERN_TAIL_NOT_LAST);
	assert_int_equal(sl_subscribe(fx->c, "orders*", NULL, &id), -EINVAL);
	assert_int_equal(sl_consumer_sub_error(fx->c), SL_SUB_PATTERN_PARTIAL_WILDCARD);
	/* Nothing went out. */
	assert_true(fake_router_idle(&fx->router));
}

static void test_sl_subscribe_times_out_without_answer(void **state)
{
	struct fixture *fx = *state;
	uint32_t id = 0;

	fx->cfg.subscribe_timeout_ms = 100;
	fixture_create(fx);
	assert_int_equal(sl_subscribe(fx->c, TOPIC, NULL, &id), -ETIMEDOUT);
}

static void test_sl_consumer_poll_returns_delivered_events(void **state)
{
	struct fixture *fx = *state;

	fixture_subscribe(fx);
	assert_true(fake_router_deliver(&fx->router, fx->sub, TOPIC, 3, 10, 3, 1, 0) > 0);
	assert_int_equal(fixture_poll(fx, 3), 3);
	for (int i = 0; i < 3; i++) {
		uint64_t v;
		assert_string_equal(fx->ev[i].topic, TOPIC);
		assert_int_equal(fx->ev[i].partition, 3);
		assert_int_equal(fx->ev[i].subscription, fx->sub);
		assert_int_equal(fx->ev[i].offset, 10 + i);
		assert_int_equal(fx->ev[i].timestamp_ns, 1010 + i);
		assert_int_equal(fx->ev[i].key_len, 1);
		assert_memory_equal(fx->ev[i].key, "k", 1);
		assert_int_equal(fx->ev[i].value_len, 8);
		memcpy(&v, fx->ev[i].value, sizeof(v));
		assert_int_equal(v, 10 + i);
	}
}

/* Subscribes TOPIC starting partition 2 at offset 12 (others latest), in group `group`
 * (NULL: alone). */
static void subscribe_from_offset_12(struct fixture *fx, const char *group)
{
	static const struct sl_start_offset offs[] = {{.partition = 2, .offset = 12}};

	fx->opts.start = SL_START_OFFSETS;
	fx->opts.start_fallback = SL_START_LATEST;
	fx->opts.offsets_topic = TOPIC;
	fx->opts.offsets = offs;
	fx->opts.offset_count = 1;
	if (group != NULL) {
		fx->opts.group = group;
		fx->opts.strategy = SL_GROUP_ROUND_ROBIN;
		fx->opts.weight = 1;
	}
	fixture_subscribe(fx);
}

/* The router delivers the batch holding the start offset whole: the records below it are
 * not returned, in that batch or its redelivery; other partitions are untouched. */
static void test_sl_consumer_poll_starts_inside_a_batch_at_its_start_offset(void **state)
{
	struct fixture *fx = *state;

	subscribe_from_offset_12(fx, NULL);
	fake_router_deliver(&fx->router, fx->sub, TOPIC, 2, 10, 5, 0, 0);
	assert_int_equal(fixture_poll(fx, 3), 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(fx->ev[i].partition, 2);
		assert_int_equal(fx->ev[i].offset, 12 + i);
	}
	fake_router_deliver(&fx->router, fx->sub, TOPIC, 2, 10, 5, 0, 1);
	fake_router_deliver(&fx->router, fx->sub, TOPIC, 1, 10, 2, 0, 0);
	assert_int_equal(fixture_poll(fx, 2), 2);
	assert_int_equal(fx->ev[0].partition, 1);
	assert_int_equal(fx->ev[0].offset, 10);
}

/* A group member keeps the whole batch: the group's start is not its own. */
static void test_sl_consumer_poll_group_member_keeps_a_whole_first_batch(void **state)
{
	struct fixture *fx = *state;

	subscribe_from_offset_12(fx, "g");
	fake_router_deliver(&fx->router, fx->sub, TOPIC, 2, 10, 5, 0, 0);
	assert_int_equal(fixture_poll(fx, 5), 5);
	assert_int_equal(fx->ev[0].offset, 10);
}

static void test_sl_consumer_poll_splits_a_delivery_over_polls(void **state)
{
	struct fixture *fx = *state;

	fixture_subscribe(fx);
	fake_router_deliver(&fx->router, fx->sub, TOPIC, 0, 0, 5, 0, 0);
	assert_int_equal(sl_consumer_poll(fx->c, fx->ev, 2, RECV_MS), 2);
	assert_int_equal(fx->ev[1].offset, 1);
	assert_int_equal(sl_consumer_poll(fx->c, fx->ev, 2, 0), 2);
	assert_int_equal(fx->ev[0].offset, 2);
	assert_int_equal(sl_consumer_poll(fx->c, fx->ev, 2, 0), 1);
	assert_int_equal(fx->ev[0].offset, 4);
}

static void test_sl_consumer_poll_ignores_malformed_deliver(void **state)
{
	struct fixture *fx = *state;
	struct sl_consumer_stats st;
	uint8_t buf[SL_WIRE_FRAME_BYTES_MAX];
	uint64_t id;
	uint32_t len;

	fixture_subscribe(fx);
	id = sl_consumer_id(fx->c);
	/* Truncated: the datagram ends before its records do. */
	len = fake_router_deliver_build(buf, sizeof(buf), id, fx->sub, TOPIC, 0, 0, 2, 0, 0);
	fake_router_send(&fx->router, buf, len - 8);
	/* Corrupted in transit: the CRC does not match. */
	buf[len - 1] ^= 0x5a;
	fake_router_send(&fx->router, buf, len);
	/* For a subscription this consumer does not have. */
	len = fake_router_deliver_build(buf, sizeof(buf), id, fx->sub + 7, TOPIC, 0, 0, 2, 0, 0);
	fake_router_send(&fx->router, buf, len);
	/* From a shard SUBSCRIBED did not announce (2 shards). */
	len = fake_router_deliver_build(buf, sizeof(buf), id, fx->sub, TOPIC, 0, 0, 2, 2, 0);
	fake_router_send(&fx->router, buf, len);
	/* For another subscriber. */
	len = fake_router_deliver_build(buf, sizeof(buf), id + 1, fx->sub, TOPIC, 0, 0, 2, 0, 0);
	fake_router_send(&fx->router, buf, len);
	/* Then a good one: only it counts. */
	fake_router_deliver(&fx->router, fx->sub, TOPIC, 0, 0, 2, 0, 0);
	assert_int_equal(fixture_poll(fx, 2), 2);
	sl_consumer_stats_get(fx->c, &st);
	assert_int_equal(st.deliveries, 1);
	assert_int_equal(st.deliveries_invalid, 5);
	assert_int_equal(st.events, 2);
}

static void test_sl_consumer_poll_skips_redelivered_duplicates(void **state)
{
	struct fixture *fx = *state;
	struct sl_consumer_stats st;

	fixture_subscribe(fx);
	fake_router_deliver(&fx->router, fx->sub, TOPIC, 0, 0, 3, 0, 0);
	assert_int_equal(fixture_poll(fx, 3), 3);
	/* The ack was late: the router sends the batch again, then the next one. */
	fake_router_deliver(&fx->router, fx->sub, TOPIC, 0, 0, 3, 0, 1);
	fake_router_deliver(&fx->router, fx->sub, TOPIC, 0, 2, 3, 0, 0); /* overlaps by 1 */
	assert_int_equal(fixture_poll(fx, 2), 2);
	assert_int_equal(fx->ev[0].offset, 3);
	assert_int_equal(fx->ev[1].offset, 4);
	sl_consumer_stats_get(fx->c, &st);
	assert_int_equal(st.duplicates, 4);
	assert_int_equal(st.redeliveries, 1);
	assert_int_equal(st.events, 5);
}

static void test_sl_consumer_poll_never_skips_a_hole_under_replay(void **state)
{
	struct fixture *fx = *state;
	struct sl_consumer_stats st;

	fixture_subscribe(fx);
	fake_router_deliver(&fx->router, fx->sub, TOPIC, 0, 0, 2, 0, 0);
	fake_router_deliver(&fx->router, fx->sub, TOPIC, 0, 4, 2, 0, 0); /* 2..3 lost */
	assert_int_equal(fixture_poll(fx, 4), 4);
	assert_int_equal(fx->ev[2].offset, 4);
	/* The redelivery of the lost batch is returned, not taken for a duplicate. */
	fake_router_deliver(&fx->router, fx->sub, TOPIC, 0, 2, 2, 0, 1);
	assert_int_equal(fixture_poll(fx, 2), 2);
	assert_int_equal(fx->ev[0].offset, 2);
	assert_int_equal(fx->ev[1].offset, 3);
	sl_consumer_stats_get(fx->c, &st);
	assert_int_equal(st.gaps_filled, 1);
	assert_int_equal(st.gaps, 0);
	assert_int_equal(st.duplicates, 0);
}

static void test_sl_consumer_poll_counts_gaps_under_drop(void **state)
{
	struct fixture *fx = *state;
	struct sl_consumer_stats st;

	fx->opts.slow_policy = SL_SLOW_DROP;
	fixture_subscribe(fx);
	fake_router_deliver(&fx->router, fx->sub, TOPIC, 1, 0, 2, 0, 0);
	fake_router_deliver(&fx->router, fx->sub, TOPIC, 1, 5, 2, 0, 0); /* 2..4 skipped */
	assert_int_equal(fixture_poll(fx, 4), 4);
	sl_consumer_stats_get(fx->c, &st);
	assert_int_equal(st.gaps, 1);
	assert_int_equal(st.gap_offsets, 3);
}

static void test_sl_consumer_poll_reports_consumed_credit(void **state)
{
	struct fixture *fx = *state;
	struct sl_wire_credit cr;
	struct wire_frame f;
	uint32_t bytes;

	fx->cfg.window_batches = 4;
	fixture_subscribe(fx);
	bytes = fake_router_deliver(&fx->router, fx->sub, TOPIC, 0, 0, 1, 1, 0);
	bytes += fake_router_deliver(&fx->router, fx->sub, TOPIC, 0, 1, 1, 1, 0);
	assert_int_equal(fixture_poll(fx, 2), 2);
	/* Returned, not yet consumed: no credit may come back yet. */
	assert_true(fake_router_idle(&fx->router));
	/* The next poll releases them: half the window, so the CREDIT goes at once. */
	assert_int_equal(sl_consumer_poll(fx->c, fx->ev, 64, 0), 0);
	assert_int_equal(fake_router_recv_type(&fx->router, &f, SL_WIRE_CREDIT, RECV_MS), 0);
	assert_int_equal(wire_credit_shard(&f.hdr), 1);
	assert_int_equal(wire_subscription_id(&f.hdr), fx->sub);
	wire_credit_read(f.body, &cr);
	assert_int_equal(cr.consumed_batches, 2);
	assert_int_equal(cr.consumed_bytes, bytes);
	assert_int_equal(cr.window_batches, 4);
}

/* Releases what the last poll returned and takes the CREDITs that went out (half the
 * window consumed goes at once): the last one. */
static struct sl_wire_credit last_credit(struct fixture *fx)
{
	struct sl_wire_credit cr;
	struct wire_frame f;

	assert_int_equal(sl_consumer_poll(fx->c, fx->ev, 64, 0), 0);
	assert_int_equal(fake_router_recv_type(&fx->router, &f, SL_WIRE_CREDIT, RECV_MS), 0);
	wire_credit_read(f.body, &cr);
	while (fake_router_recv_type(&fx->router, &f, SL_WIRE_CREDIT, 20) == 0) {
		wire_credit_read(f.body, &cr);
	}
	return cr;
}

/* The last CREDIT must count `batches` and `bytes`. */
static void expect_credit(struct fixture *fx, uint64_t batches, uint64_t bytes)
{
	struct sl_wire_credit cr = last_credit(fx);

	assert_int_equal(cr.consumed_batches, batches);
	assert_int_equal(cr.consumed_bytes, bytes);
}

/* Sends n one-record DELIVERs of partition 0 from offset `base` and polls until all n
 * events came back. */
static void deliver_and_take(struct fixture *fx, uint64_t base, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		(void)fake_router_deliver(&fx->router, fx->sub, TOPIC, 0, base + i, 1, 1, 0);
	}
	for (unsigned got = 0; got < n;) {
		int k = fixture_poll(fx, 1);
		assert_true(k > 0);
		got += (unsigned)k;
	}
}

/* The batch window of the last CREDIT sent. */
static uint32_t credit_window(struct fixture *fx)
{
	return last_credit(fx).window_batches;
}

/* The router sent a whole window while the consumer, idle, had consumed everything: the
 * credit round trip set the pace, and the window doubles, up to window_batches_max. */
static void test_sl_consumer_window_grows_when_the_router_waits_on_credit(void **state)
{
	struct fixture *fx = *state;
	struct sl_consumer_stats st;

	fx->cfg.window_batches = 4;
	fx->cfg.window_batches_max = 16;
	fixture_subscribe(fx);
	deliver_and_take(fx, 0, 4);
	assert_int_equal(credit_window(fx), 8);
	deliver_and_take(fx, 4, 8);
	assert_int_equal(credit_window(fx), 16);
	deliver_and_take(fx, 12, 16);
	assert_int_equal(credit_window(fx), 16);
	sl_consumer_stats_get(fx->c, &st);
	assert_int_equal(st.window_grows, 2);
	assert_int_equal(st.credit_overruns, 0);
}

/* A consumer behind on its own work (events received, not yet consumed) keeps its
 * window: growing it would only queue more in front of it. */
static void test_sl_consumer_window_kept_while_behind(void **state)
{
	struct fixture *fx = *state;
	struct sl_consumer_stats st;
	struct sl_wire_credit cr;
	struct wire_frame f;
	unsigned got = 0;

	fx->cfg.window_batches = 4;
	fx->cfg.window_batches_max = 16;
	fixture_subscribe(fx);
	for (uint64_t i = 0; i < 4; i++) {
		(void)fake_router_deliver(&fx->router, fx->sub, TOPIC, 0, i, 1, 1, 0);
	}
	/* Two at a time: when half the window is consumed the CREDIT goes, two still queued. */
	while (got < 2) {
		int k = sl_consumer_poll(fx->c, fx->ev, 2 - got, RECV_MS);
		assert_true(k >= 0);
		got += (unsigned)k;
	}
	sl_consumer_stats_get(fx->c, &st);
	assert_int_equal(st.deliveries, 4); /* the whole window came, two are still queued */
	/* The next poll releases those two (half the window: the CREDIT goes) and returns
	 * one of the two still queued. */
	assert_int_equal(sl_consumer_poll(fx->c, fx->ev, 1, 0), 1);
	assert_int_equal(fake_router_recv_type(&fx->router, &f, SL_WIRE_CREDIT, RECV_MS), 0);
	wire_credit_read(f.body, &cr);
	assert_int_equal(cr.consumed_batches, 2);
	assert_int_equal(cr.window_batches, 4);
	sl_consumer_stats_get(fx->c, &st);
	assert_int_equal(st.window_grows, 0);
}

/* A DELIVER lost on the way would hold its credit for good (a window of one batch would
 * stall): the next one's numbers show the gap, and the CREDIT counts it consumed. A late
 * copy of the lost one is returned but gives no credit twice. */
static void test_sl_consumer_poll_counts_a_lost_deliver_as_consumed(void **state)
{
	struct fixture *fx = *state;
	struct sl_consumer_stats st;
	uint8_t buf[SL_WIRE_FRAME_BYTES_MAX];

	fx->cfg.window_batches = 1;
	fixture_subscribe(fx);
	uint32_t lost = fake_router_deliver_lost(&fx->router, fx->sub, TOPIC, 0, 0, 1, 0, 0);
	uint32_t got = fake_router_deliver(&fx->router, fx->sub, TOPIC, 0, 1, 1, 0, 0);
	assert_int_equal(fixture_poll(fx, 1), 1);
	assert_true(fx->ev[0].offset == 1);
	expect_credit(fx, 2, (uint64_t)lost + got);
	sl_consumer_stats_get(fx->c, &st);
	assert_int_equal(st.deliveries_lost, 1);
	assert_int_equal(st.credit_overruns, 0);
	/* The lost one arrives after all (numbered 0, nothing sent before it). */
	uint32_t len = fake_router_deliver_build(buf, sizeof(buf), fx->router.subscriber_id,
						 fx->sub, TOPIC, 0, 0, 1, 0, 0);
	assert_int_equal(len, lost);
	fake_router_send(&fx->router, buf, len);
	assert_int_equal(fixture_poll(fx, 1), 1);
	assert_true(fx->ev[0].offset == 0);
	/* Released; the heartbeat's CREDIT repeats the same totals. */
	fx->now += 1000 * MS;
	expect_credit(fx, 2, (uint64_t)lost + got);
	sl_consumer_stats_get(fx->c, &st);
	assert_int_equal(st.deliveries_late, 1);
	assert_int_equal(st.deliveries_lost, 1);
}

/* After the router forgot the subscriber, SUBSCRIBED says whether it kept the credit
 * totals of the subscription (kept: the numbering goes on) or created it anew (the
 * consumer's totals start again, like the router's numbering). */
static void test_sl_consumer_credit_follows_subscribed_flag(void **state)
{
	struct fixture *fx = *state;
	struct wire_frame f;
	uint64_t bytes = 0;

	fx->cfg.window_batches = 2;
	fixture_subscribe(fx);
	bytes += fake_router_deliver(&fx->router, fx->sub, TOPIC, 0, 0, 1, 0, 0);
	assert_int_equal(fixture_poll(fx, 1), 1);
	expect_credit(fx, 1, bytes);
	for (int round = 0; round < 2; round++) {
		bool kept = round == 0;
		fx->now += 1000 * MS;
		assert_int_equal(sl_consumer_poll(fx->c, fx->ev, 64, 0), 0);
		assert_int_equal(fake_router_recv_type(&fx->router, &f, SL_WIRE_HEARTBEAT, RECV_MS),
				 0);
		fake_router_sub_nack(&fx->router, &f, SL_NACK_UNKNOWN_SUBSCRIPTION, 0, 0);
		assert_int_equal(sl_consumer_poll(fx->c, fx->ev, 64, 50), 0);
		assert_int_equal(fake_router_recv_type(&fx->router, &f, SL_WIRE_SUBSCRIBE, RECV_MS),
				 0);
		fx->router.sub_answer.flags = kept ? SL_SUBSCRIBED_CREDIT_KEPT : 0;
		fake_router_subscribed(&fx->router, &f);
		assert_int_equal(sl_consumer_poll(fx->c, fx->ev, 64, 50), 0);
		uint32_t len = fake_router_deliver(&fx->router, fx->sub, TOPIC, 0,
						   (uint64_t)round + 1, 1, 0, 0);
		assert_int_equal(fixture_poll(fx, 1), 1);
		if (kept) {
			bytes += len;
			expect_credit(fx, 2, bytes);
		} else {
			expect_credit(fx, 1, len);
		}
	}
}

static void test_sl_consumer_poll_counts_credit_overrun(void **state)
{
	struct fixture *fx = *state;
	struct sl_consumer_stats st;

	fx->cfg.window_batches = 2;
	fixture_subscribe(fx);
	for (unsigned i = 0; i < 3; i++) {
		fake_router_deliver(&fx->router, fx->sub, TOPIC, 0, i, 1, 0, 0);
	}
	assert_int_equal(sl_consumer_poll(fx->c, fx->ev, 1, RECV_MS), 1);
	while (fixture_poll(fx, 0) > 0) {
	}
	sl_consumer_stats_get(fx->c, &st);
	assert_int_equal(st.credit_overruns, 1);
	assert_int_equal(st.events, 3);
}

static void test_sl_consumer_poll_acks_cumulatively_in_auto_mode(void **state)
{
	struct fixture *fx = *state;
	struct wire_frame f;

	fixture_subscribe(fx);
	fake_router_deliver(&fx->router, fx->sub, TOPIC, 2, 40, 3, 0, 0);
	assert_int_equal(fixture_poll(fx, 3), 3);
	fx->now += 10 * MS; /* past ack_interval_us */
	assert_int_equal(sl_consumer_poll(fx->c, fx->ev, 64, 0), 0);
	assert_int_equal(fake_router_recv_type(&fx->router, &f, SL_WIRE_CONSUMER_ACK, RECV_MS), 0);
	assert_int_equal(f.hdr.sequence, 43); /* every offset below 43 is done */
	assert_int_equal(f.hdr.partition, 2);
	assert_int_equal(f.hdr.topic_len, strlen(TOPIC));
	assert_memory_equal(f.topic, TOPIC, strlen(TOPIC));
}

/* A shard keeps at most SL_WIRE_UNACKED_BATCHES_MAX DELIVERs unacknowledged: auto mode
 * acknowledges a quarter of that at once instead of waiting for its ack interval, which
 * would idle the shard (no time passes here). */
static void test_sl_consumer_poll_acks_early_after_many_batches(void **state)
{
	struct fixture *fx = *state;
	struct wire_frame f;

	fixture_subscribe(fx);
	/* The first ack goes at once; the interval then starts. */
	fake_router_deliver(&fx->router, fx->sub, TOPIC, 0, 0, 1, 0, 0);
	assert_int_equal(fixture_poll(fx, 1), 1);
	assert_int_equal(sl_consumer_poll(fx->c, fx->ev, 64, 0), 0);
	assert_int_equal(fake_router_recv_type(&fx->router, &f, SL_WIRE_CONSUMER_ACK, RECV_MS), 0);
	assert_int_equal(f.hdr.sequence, 1);
	for (uint64_t i = 1; i < CONSUMER_ACK_EAGER_BATCHES; i++) {
		fake_router_deliver(&fx->router, fx->sub, TOPIC, 0, i, 1, 0, 0);
	}
	int want = (int)CONSUMER_ACK_EAGER_BATCHES - 1;
	int got = 0;
	while (got < want) {
		got += fixture_poll(fx, want - got);
	}
	assert_int_equal(sl_consumer_poll(fx->c, fx->ev, 64, 0), 0); /* releases them */
	assert_int_equal(fake_router_recv_type(&fx->router, &f, SL_WIRE_CONSUMER_ACK, 50),
			 -ETIMEDOUT);
	fake_router_deliver(&fx->router, fx->sub, TOPIC, 0, CONSUMER_ACK_EAGER_BATCHES, 1, 0, 0);
	assert_int_equal(fixture_poll(fx, 1), 1);
	assert_int_equal(sl_consumer_poll(fx->c, fx->ev, 64, 0), 0);
	assert_int_equal(fake_router_recv_type(&fx->router, &f, SL_WIRE_CONSUMER_ACK, RECV_MS), 0);
	assert_int_equal(f.hdr.sequence, CONSUMER_ACK_EAGER_BATCHES + 1);
}

/* A group member gets only some batches of a partition: it acknowledges each one by its
 * base offset, since a cumulative ack would stop at the first batch another member took
 * (and the router would redeliver everything after it on the ack timeout). */
static void test_sl_consumer_poll_acks_group_batches_by_base_offset(void **state)
{
	struct fixture *fx = *state;
	struct wire_frame f;

	fx->opts.group = "workers";
	fixture_subscribe(fx);
	fake_router_deliver(&fx->router, fx->sub, TOPIC, 1, 0, 3, 0, 0);
	fake_router_deliver(&fx->router, fx->sub, TOPIC, 1, 10, 2, 0, 0); /* 3..9: others' */
	assert_int_equal(fixture_poll(fx, 5), 5);
	fx->now += 10 * MS; /* past ack_interval_us */
	assert_int_equal(sl_consumer_poll(fx->c, fx->ev, 64, 0), 0);
	assert_int_equal(fake_router_recv_type(&fx->router, &f, SL_WIRE_CONSUMER_ACK, RECV_MS), 0);
	assert_int_equal(f.hdr.partition, 1);
	assert_int_equal(f.hdr.sequence, 3); /* cumulative: the contiguous prefix */
	assert_int_equal(wire_consumer_ack_batches(&f), 2);
	assert_int_equal(wire_consumer_ack_batch(&f, 0), 0);
	assert_int_equal(wire_consumer_ack_batch(&f, 1), 10);
	/* Sent once: nothing more until more batches are done. */
	fx->now += 10 * MS;
	assert_int_equal(sl_consumer_poll(fx->c, fx->ev, 64, 0), 0);
	assert_int_equal(fake_router_recv_type(&fx->router, &f, SL_WIRE_CONSUMER_ACK, 50),
			 -ETIMEDOUT);
}

static void test_sl_consumer_ack_manual_is_cumulative_and_checked(void **state)
{
	struct fixture *fx = *state;
	struct wire_frame f;

	fx->cfg.ack_mode = SL_CONSUMER_ACK_MANUAL;
	fixture_subscribe(fx);
	fake_router_deliver(&fx->router, fx->sub, TOPIC, 0, 0, 4, 0, 0);
	assert_int_equal(fixture_poll(fx, 4), 4);
	fx->now += 10 * MS;
	/* Nothing acked by itself in manual mode. */
	assert_int_equal(sl_consumer_poll(fx->c, fx->ev, 64, 0), 0);
	assert_int_equal(fake_router_recv_type(&fx->router, &f, SL_WIRE_CONSUMER_ACK, 100),
			 -ETIMEDOUT);
	assert_int_equal(sl_consumer_ack(fx->c, TOPIC, 0, 4), -EINVAL); /* not returned */
	assert_int_equal(sl_consumer_ack(fx->c, TOPIC, 9, 0), -ENOENT);
	assert_int_equal(sl_consumer_ack(fx->c, TOPIC, 0, 2), 0);
	assert_int_equal(sl_consumer_ack(fx->c, TOPIC, 0, 1), 0); /* below: no effect */
	fx->now += 10 * MS;
	assert_int_equal(sl_consumer_poll(fx->c, fx->ev, 64, 0), 0);
	assert_int_equal(fake_router_recv_type(&fx->router, &f, SL_WIRE_CONSUMER_ACK, RECV_MS), 0);
	assert_int_equal(f.hdr.sequence, 3);
}

static void test_sl_consumer_poll_sends_heartbeats_on_time(void **state)
{
	struct fixture *fx = *state;
	struct sl_wire_heartbeat hb;
	struct wire_frame f;

	fx->router.sub_answer.consumer_timeout_ms = 600; /* a third: 200 ms */
	fixture_subscribe(fx);
	fx->now += 199 * MS;
	assert_int_equal(sl_consumer_poll(fx->c, fx->ev, 64, 0), 0);
	assert_true(fake_router_idle(&fx->router));
	fx->now += 1 * MS;
	assert_int_equal(sl_consumer_poll(fx->c, fx->ev, 64, 0), 0);
	assert_int_equal(fake_router_recv_type(&fx->router, &f, SL_WIRE_HEARTBEAT, RECV_MS), 0);
	assert_int_equal(wire_heartbeat_parse(&f, &hb), SL_WIRE_OK);
	assert_int_equal(hb.subscriptions, 1);
	assert_int_equal(wire_subscriber_id(&f.hdr), sl_consumer_id(fx->c));
	/* Not again before the next interval. */
	fx->now += 100 * MS;
	assert_int_equal(sl_consumer_poll(fx->c, fx->ev, 64, 0), 0);
	assert_true(fake_router_idle(&fx->router));
}

static void test_sl_consumer_poll_resubscribes_when_router_forgot(void **state)
{
	struct fixture *fx = *state;
	struct sl_consumer_stats st;
	struct wire_frame f;

	fixture_subscribe(fx);
	fx->now += 1000 * MS;
	assert_int_equal(sl_consumer_poll(fx->c, fx->ev, 64, 0), 0);
	assert_int_equal(fake_router_recv_type(&fx->router, &f, SL_WIRE_HEARTBEAT, RECV_MS), 0);
	fake_router_sub_nack(&fx->router, &f, SL_NACK_UNKNOWN_SUBSCRIPTION, 0, 0);
	assert_int_equal(sl_consumer_poll(fx->c, fx->ev, 64, 50), 0);
	assert_int_equal(fake_router_recv_type(&fx->router, &f, SL_WIRE_SUBSCRIBE, RECV_MS), 0);
	assert_int_equal(wire_subscription_id(&f.hdr), fx->sub);
	sl_consumer_stats_get(fx->c, &st);
	assert_int_equal(st.resubscribes, 1);
	/* Answered: deliveries flow as before. */
	fake_router_subscribed(&fx->router, &f);
	fake_router_deliver(&fx->router, fx->sub, TOPIC, 0, 0, 1, 0, 0);
	assert_int_equal(fixture_poll(fx, 1), 1);
}

static void test_sl_consumer_destroy_acks_and_unsubscribes(void **state)
{
	struct fixture *fx = *state;

	fixture_subscribe(fx);
	fake_router_deliver(&fx->router, fx->sub, TOPIC, 0, 0, 2, 0, 0);
	assert_int_equal(fixture_poll(fx, 2), 2);
	assert_int_equal(fake_router_start(&fx->router, 1, 0), 0);
	sl_consumer_destroy(fx->c);
	fx->c = NULL;
	fake_router_stop(&fx->router);
	assert_int_equal(atomic_load(&fx->router.unsubscribes), 1);
	assert_int_equal(atomic_load(&fx->router.consumer_acks), 1);
	assert_true(atomic_load(&fx->router.credits) >= 1);
}

static void test_sl_unsubscribe_drops_queued_events(void **state)
{
	struct fixture *fx = *state;

	fixture_subscribe(fx);
	fake_router_deliver(&fx->router, fx->sub, TOPIC, 0, 0, 2, 0, 0);
	assert_int_equal(sl_consumer_poll(fx->c, fx->ev, 1, RECV_MS), 1);
	assert_int_equal(fake_router_start(&fx->router, 1, 0), 0);
	assert_int_equal(sl_unsubscribe(fx->c, fx->sub), 0);
	fake_router_stop(&fx->router);
	assert_int_equal(sl_unsubscribe(fx->c, fx->sub), -ENOENT);
	assert_int_equal(sl_consumer_poll(fx->c, fx->ev, 64, 0), 0);
}

static void test_sl_consumer_create_rejects_bad_config(void **state)
{
	struct fixture *fx = *state;
	struct sl_consumer *c = NULL;

	fx->cfg.window_batches = 0;
	fx->cfg.window_bytes = 0;
	assert_int_equal(sl_consumer_create(&fx->cfg, &c), -EINVAL);
	fx->cfg.window_batches = 1;
	fx->cfg.window_bytes = 100; /* below one largest frame */
	assert_int_equal(sl_consumer_create(&fx->cfg, &c), -EINVAL);
	fx->cfg.window_bytes = 0;
	fx->cfg.router = "no-port";
	assert_int_equal(sl_consumer_create(&fx->cfg, &c), -EINVAL);
	assert_null(c);
}

static void test_sl_consumer_poll_acks_below_a_hole_until_it_expires(void **state)
{
	struct fixture *fx = *state;
	struct sl_consumer_stats st;
	struct wire_frame f;

	fixture_subscribe(fx);
	fake_router_deliver(&fx->router, fx->sub, TOPIC, 0, 0, 2, 0, 0);
	fake_router_deliver(&fx->router, fx->sub, TOPIC, 0, 4, 2, 0, 0); /* 2..3 missing */
	assert_int_equal(fixture_poll(fx, 4), 4);
	fx->now += 10 * MS;
	assert_int_equal(sl_consumer_poll(fx->c, fx->ev, 64, 0), 0);
	/* Cumulative: an ack past the hole would tell the router 2..3 were done. */
	assert_int_equal(fake_router_recv_type(&fx->router, &f, SL_WIRE_CONSUMER_ACK, RECV_MS), 0);
	assert_int_equal(f.hdr.sequence, 2);
	/* No redelivery within ack_timeout x (redeliveries_max + 2) = 5 s: given up. */
	fx->now += 5000 * MS;
	assert_int_equal(sl_consumer_poll(fx->c, fx->ev, 64, 0), 0);
	fx->now += 10 * MS;
	assert_int_equal(sl_consumer_poll(fx->c, fx->ev, 64, 0), 0);
	assert_int_equal(fake_router_recv_type(&fx->router, &f, SL_WIRE_CONSUMER_ACK, RECV_MS), 0);
	assert_int_equal(f.hdr.sequence, 6);
	sl_consumer_stats_get(fx->c, &st);
	assert_int_equal(st.gaps, 1);
	assert_int_equal(st.gap_offsets, 2);
}

static void test_sl_consumer_poll_returns_each_offset_once_when_reordered(void **state)
{
	struct fixture *fx = *state;
	struct sl_consumer_stats st;
	uint8_t seen[256] = {0};
	uint64_t rng = 0x2545f4914f6cdd1dull;
	unsigned sent = 0;
	unsigned dups = 0;
	int got = 0;

	fx->cfg.window_batches = 0;
	fx->cfg.window_bytes = SL_WIRE_WINDOW_BYTES_MAX;
	fixture_subscribe(fx);
	/* 256 one-event batches, shuffled within blocks of 8 (reordering on the way),
	 * a third of them sent twice (redeliveries). */
	for (unsigned block = 0; block < 256; block += 8) {
		unsigned order[8] = {0, 1, 2, 3, 4, 5, 6, 7};
		for (unsigned i = 7; i > 0; i--) {
			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			unsigned j = (unsigned)(rng % (i + 1));
			unsigned t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
		for (unsigned i = 0; i < 8; i++) {
			unsigned copies = rng % 3 == 0 ? 2 : 1;
			for (unsigned k = 0; k < copies; k++) {
				fake_router_deliver(&fx->router, fx->sub, TOPIC, 1,
						    block + order[i], 1, 0, (uint16_t)k);
				sent++;
			}
			dups += copies - 1;
			rng = rng * 6364136223846793005ull + 1;
		}
		/* Let the consumer keep up so the socket buffer never overflows. */
		while (got < (int)(block + 8)) {
			int n = sl_consumer_poll(fx->c, fx->ev, 64, RECV_MS);
			assert_true(n > 0);
			for (int i = 0; i < n; i++) {
				assert_true(fx->ev[i].offset < 256);
				seen[fx->ev[i].offset]++;
			}
			got += n;
		}
	}
	assert_int_equal(sl_consumer_poll(fx->c, fx->ev, 64, 50), 0);
	for (unsigned i = 0; i < 256; i++) {
		assert_int_equal(seen[i], 1);
	}
	sl_consumer_stats_get(fx->c, &st);
	assert_int_equal(st.deliveries, sent);
	assert_int_equal(st.duplicates, dups);
	assert_int_equal(st.gaps, 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_sl_subscribe_retries_until_subscribed),
		T(test_sl_subscribe_nack_names_the_problem),
		T(test_sl_subscribe_rejects_invalid_pattern_locally),
		T(test_sl_subscribe_times_out_without_answer),
		T(test_sl_consumer_poll_returns_delivered_events),
		T(test_sl_consumer_poll_starts_inside_a_batch_at_its_start_offset),
		T(test_sl_consumer_poll_group_member_keeps_a_whole_first_batch),
		T(test_sl_consumer_poll_splits_a_delivery_over_polls),
		T(test_sl_consumer_poll_ignores_malformed_deliver),
		T(test_sl_consumer_poll_skips_redelivered_duplicates),
		T(test_sl_consumer_poll_never_skips_a_hole_under_replay),
		T(test_sl_consumer_poll_counts_gaps_under_drop),
		T(test_sl_consumer_poll_reports_consumed_credit),
		T(test_sl_consumer_window_grows_when_the_router_waits_on_credit),
		T(test_sl_consumer_window_kept_while_behind),
		T(test_sl_consumer_poll_counts_credit_overrun),
		T(test_sl_consumer_poll_counts_a_lost_deliver_as_consumed),
		T(test_sl_consumer_credit_follows_subscribed_flag),
		T(test_sl_consumer_poll_acks_cumulatively_in_auto_mode),
		T(test_sl_consumer_poll_acks_group_batches_by_base_offset),
		T(test_sl_consumer_poll_acks_early_after_many_batches),
		T(test_sl_consumer_poll_acks_below_a_hole_until_it_expires),
		T(test_sl_consumer_poll_returns_each_offset_once_when_reordered),
		T(test_sl_consumer_ack_manual_is_cumulative_and_checked),
		T(test_sl_consumer_poll_sends_heartbeats_on_time),
		T(test_sl_consumer_poll_resubscribes_when_router_forgot),
		T(test_sl_consumer_destroy_acks_and_unsubscribes),
		T(test_sl_unsubscribe_drops_queued_events),
		T(test_sl_consumer_create_rejects_bad_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
