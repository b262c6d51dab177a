/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Subscriptions end to end: a real sluiced with two shards on loopback UDP, a real
 * libsluice producer and real libsluice consumers, all driven from this one thread (the
 * producer sends a slice, every consumer polls without waiting, and again), so a run is
 * deterministic up to the kernel's scheduling of the router.
 *
 * Every event's value is its index within its (topic, partition), and one producer
 * writes each partition, so an event's offset must equal its value. What the producer's
 * acks say was appended is the expectation each consumer is checked against.
 * Usage: test_consume_e2e SLUICED_PATH
 */
#include "client/consumer_test.h"
#include "core/wire.h"
#include "router_proc.h"

#include <sluice/client.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#define PARTITIONS 4u
#define TOPICS_MAX 5u
#define MEMBERS_MAX 4u
#define POLL_EVENTS 256u
#define SLICE_EVENTS 200u
#define DRAIN_MS 15000

static const char *sluiced_path;

static uint64_t now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};

	(void)nanosleep(&ts, NULL);
}

/* ---- the producer side: what was sent and what the router acknowledged ---- */

struct ledger {
	const char *const *topics;
	unsigned topic_count;
	uint64_t sent[TOPICS_MAX][PARTITIONS];	/* events queued: the next value */
	uint64_t acked[TOPICS_MAX][PARTITIONS]; /* end of the acknowledged offsets */
	uint64_t acked_events;
	int errors;
};

static unsigned topic_index(const struct ledger *l, const char *topic)
{
	for (unsigned t = 0; t < l->topic_count; t++) {
		if (strcmp(l->topics[t], topic) == 0) {
			return t;
		}
	}
	fail_msg("event of an unexpected topic %s", topic);
	return 0;
}

static void ledger_on_delivery(void *ctx, const struct sl_delivery *d)
{
	struct ledger *l = ctx;
	unsigned t = topic_index(l, d->topic);

	if (d->error != 0 || d->partition >= PARTITIONS) {
		l->errors++;
		return;
	}
	/* Batches of one partition are acknowledged in order, each where the last ended. */
	if (d->base_offset != l->acked[t][d->partition]) {
		l->errors++;
	}
	l->acked[t][d->partition] = d->base_offset + d->count;
	l->acked_events += d->count;
}

static struct sl_producer *producer_new(const char *router, struct ledger *l)
{
	struct sl_producer_config cfg;
	struct sl_producer *p = NULL;

	sl_producer_config_init(&cfg);
	cfg.router = router;
	cfg.on_delivery = ledger_on_delivery;
	cfg.ctx = l;
	assert_int_equal(sl_producer_create(&cfg, &p), 0);
	return p;
}

/* Queues the next event of (topic t, partition): value = its index there, key = the
 * partition number (so key-affine members can be checked by key too). */
static void produce_one(struct sl_producer *p, struct ledger *l, unsigned t, uint32_t partition)
{
	char value[24];
	char key[8];
	int value_len =
		snprintf(value, sizeof(value), "%llu", (unsigned long long)l->sent[t][partition]);
	int key_len = snprintf(key, sizeof(key), "k%u", partition);

	for (;;) {
		int rc = sl_produce_to(p, l->topics[t], partition, key, (size_t)key_len, value,
				       (size_t)value_len);
		if (rc == 0) {
			break;
		}
		assert_int_equal(rc, -EAGAIN);
		assert_true(sl_producer_poll(p, 1000) >= 0);
	}
	l->sent[t][partition]++;
}

static void producer_finish(struct sl_producer *p, struct ledger *l)
{
	assert_int_equal(sl_flush(p, 20000), 0);
	assert_int_equal(l->errors, 0);
	for (unsigned t = 0; t < l->topic_count; t++) {
		for (uint32_t q = 0; q < PARTITIONS; q++) {
			assert_true(l->acked[t][q] == l->sent[t][q]);
		}
	}
}

/* ---- the consumer side ---- */

struct member {
	struct sl_consumer *c;
	uint32_t sub;
	int alive;
	const char *pattern;
	uint64_t start[TOPICS_MAX][PARTITIONS]; /* first offset expected (ordered checks) */
	uint64_t next[TOPICS_MAX][PARTITIONS];	/* next offset expected (ordered checks) */
	uint64_t events;
	uint32_t polls;
	uint32_t *seen; /* group checks: per (partition, offset) of topic 0, the poll (from 1)
			 * that returned it, 0 if none */
	uint64_t twice; /* group checks: events this member got more than once */
	struct sl_consumer_stats stats;
};

static void member_subscribe(struct member *m, const char *router, const char *pattern,
			     const struct sl_subscribe_options *opts, uint32_t window_batches)
{
	struct sl_consumer_config cfg;

	sl_consumer_config_init(&cfg);
	cfg.router = router;
	cfg.window_batches = window_batches;
	/* Fixed windows: these tests mean the window they give (one of 1 keeps a partition
	 * in order under loss). Growth is tested in unit_consumer and runs in
	 * integration_bench_fanout, which uses the library's defaults. */
	cfg.window_batches_max = 0;
	cfg.ack_interval_us = 1000;
	memset(m, 0, sizeof(*m));
	m->pattern = pattern;
	assert_int_equal(sl_consumer_create(&cfg, &m->c), 0);
	assert_int_equal(sl_subscribe(m->c, pattern, opts, &m->sub), 0);
	m->alive = 1;
}

static void member_close(struct member *m)
{
	if (m->c != NULL) {
		sl_consumer_stats_get(m->c, &m->stats);
		sl_consumer_destroy(m->c);
		m->c = NULL;
	}
	free(m->seen);
	m->seen = NULL;
}

/* Does topic match pattern? A brute-force reading of docs/PROTOCOL.md "Patterns". */
static int pattern_matches(const char *pattern, const char *topic)
{
	for (;;) {
		const char *pe = strchr(pattern, '.');
		const char *te = strchr(topic, '.');
		size_t pl = pe != NULL ? (size_t)(pe - pattern) : strlen(pattern);
		size_t tl = te != NULL ? (size_t)(te - topic) : strlen(topic);

		if (pl == 1 && pattern[0] == '>') {
			return 1; /* one or more tokens remain in topic */
		}
		if (!(pl == 1 && pattern[0] == '*') &&
		    (pl != tl || memcmp(pattern, topic, pl) != 0)) {
			return 0;
		}
		if (pe == NULL || te == NULL) {
			return pe == NULL && te == NULL;
		}
		pattern = pe + 1;
		topic = te + 1;
	}
}

static uint64_t event_value(const struct sl_event *e)
{
	char buf[24];

	assert_true(e->value_len > 0 && e->value_len < sizeof(buf));
	memcpy(buf, e->value, e->value_len);
	buf[e->value_len] = '\0';
	return strtoull(buf, NULL, 10);
}

/* An ordered subscriber: each (topic, partition) must come in offset order from where
 * it started, none twice, none skipped, and only topics its pattern matches. */
static void take_ordered(struct member *m, const struct ledger *l, const struct sl_event *e)
{
	unsigned t = topic_index(l, e->topic);

	assert_true(pattern_matches(m->pattern, e->topic));
	assert_true(e->partition < PARTITIONS);
	assert_true(e->subscription == m->sub);
	if (e->offset != m->next[t][e->partition]) {
		fail_msg("%s got %s/%u offset %llu, expected %llu", m->pattern, e->topic,
			 e->partition, (unsigned long long)e->offset,
			 (unsigned long long)m->next[t][e->partition]);
	}
	assert_true(event_value(e) == e->offset);
	m->next[t][e->partition]++;
}

typedef void take_fn(struct member *m, const struct ledger *l, const struct sl_event *e);

/* One non-blocking poll of every live member. Returns the events they got. */
static uint64_t poll_members(struct member *ms, unsigned n, const struct ledger *l, take_fn *take,
			     int timeout_ms)
{
	struct sl_event ev[POLL_EVENTS];
	uint64_t got = 0;

	for (unsigned i = 0; i < n; i++) {
		if (!ms[i].alive) {
			continue;
		}
		int rc = sl_consumer_poll(ms[i].c, ev, POLL_EVENTS, timeout_ms);
		assert_true(rc >= 0);
		ms[i].polls += rc > 0; /* the poll number take() records */
		for (int k = 0; k < rc; k++) {
			take(&ms[i], l, &ev[k]);
		}
		ms[i].events += (uint64_t)rc;
		got += (uint64_t)rc;
	}
	return got;
}

/* The events each ordered member must end with: everything acked on its topics. */
static uint64_t expected_events(const struct member *m, const struct ledger *l)
{
	uint64_t sum = 0;

	for (unsigned t = 0; t < l->topic_count; t++) {
		if (pattern_matches(m->pattern, l->topics[t])) {
			for (uint32_t q = 0; q < PARTITIONS; q++) {
				sum += l->acked[t][q] - m->start[t][q];
			}
		}
	}
	return sum;
}

static void drain_ordered(struct member *ms, unsigned n, const struct ledger *l)
{
	uint64_t deadline = now_ms() + DRAIN_MS;

	for (;;) {
		int done = 1;
		for (unsigned i = 0; i < n; i++) {
			done &= !ms[i].alive || ms[i].events >= expected_events(&ms[i], l);
		}
		if (done || now_ms() > deadline) {
			break;
		}
		(void)poll_members(ms, n, l, take_ordered, 1);
	}
	for (unsigned i = 0; i < n; i++) {
		if (!ms[i].alive) {
			continue;
		}
		/* One more quiet poll: nothing beyond the expectation may arrive. */
		(void)poll_members(&ms[i], 1, l, take_ordered, 20);
		for (unsigned t = 0; t < l->topic_count; t++) {
			int match = pattern_matches(ms[i].pattern, l->topics[t]);
			for (uint32_t q = 0; q < PARTITIONS; q++) {
				uint64_t want = match ? l->acked[t][q] : 0;
				if (ms[i].next[t][q] != want) {
					fail_msg("%s: %s/%u ended at %llu of %llu", ms[i].pattern,
						 l->topics[t], q,
						 (unsigned long long)ms[i].next[t][q],
						 (unsigned long long)want);
				}
			}
		}
	}
}

static uint64_t router_counter(const char *router, enum sl_stat stat)
{
	struct sl_shard_stats shards[8];
	unsigned n = 0;
	uint64_t sum = 0;

	assert_int_equal(sl_stats_fetch(router, 5000, shards, 8, &n), 0);
	for (unsigned i = 0; i < n; i++) {
		assert_true(shards[i].counter_count > (unsigned)stat);
		sum += shards[i].counters[stat];
	}
	return sum;
}

/* The router of the running test, stopped by stop_router_after() if an assertion ended
 * the test early (a failed assertion leaves the test function at once). */
static struct router_proc *running_router;

static void start_router(struct router_proc *r, const char *const *extra)
{
	assert_int_equal(router_proc_start(r, sluiced_path, extra), 0);
	running_router = r;
}

static uint64_t test_started_ms;

static int note_start(void **state)
{
	(void)state;
	test_started_ms = now_ms();
	return 0;
}

/* Stops the router left running, and says how long the test took (CI time budget). */
static int stop_router_after(void **state)
{
	(void)state;
	(void)fprintf(stderr, "took %llu ms\n", (unsigned long long)(now_ms() - test_started_ms));
	if (running_router != NULL && running_router->pid > 0) {
		(void)router_proc_stop(running_router);
	}
	running_router = NULL;
	return 0;
}

#define ROUTER_FLAGS "--shards", "2", "--partitions", "4", "--fsync", "never"

/* ---- 1. fan-out ---- */

static const char *const fanout_topics[] = {"orders.created.eu", "orders.created.us",
					    "orders.paid.eu", "payments.created.eu", "orders.eu"};
static const char *const fanout_patterns[] = {"orders.>", "orders.*.eu", "*.created.eu",
					      "orders.created.eu"};

/*
 * Four consumers with overlapping patterns; 20,000 events over five topics and four
 * partitions each (two shards own them). Each consumer gets exactly what its pattern
 * matches, per partition in offset order, none missing, none twice.
 */
static void test_fanout_overlapping_patterns(void **state)
{
	static const char *const flags[] = {ROUTER_FLAGS, NULL};
	static struct router_proc r; /* outlives a failed assertion */
	struct ledger l = {.topics = fanout_topics, .topic_count = 5};
	struct member ms[4];
	(void)state;

	start_router(&r, flags);
	for (unsigned i = 0; i < 4; i++) {
		member_subscribe(&ms[i], r.address, fanout_patterns[i], NULL, 64);
	}
	struct sl_producer *p = producer_new(r.address, &l);
	for (unsigned i = 0; i < 20000; i++) {
		produce_one(p, &l, i % 5, (i / 5) % PARTITIONS);
		if (i % SLICE_EVENTS == SLICE_EVENTS - 1) {
			assert_true(sl_producer_poll(p, 0) >= 0);
			(void)poll_members(ms, 4, &l, take_ordered, 0);
		}
	}
	producer_finish(p, &l);
	sl_producer_destroy(p);
	assert_true(l.acked_events == 20000);
	drain_ordered(ms, 4, &l);
	assert_true(ms[0].events == 16000); /* orders.> */
	assert_true(ms[1].events == 8000);  /* orders.*.eu */
	assert_true(ms[2].events == 8000);  /* *.created.eu */
	assert_true(ms[3].events == 4000);  /* orders.created.eu */
	for (unsigned i = 0; i < 4; i++) {
		member_close(&ms[i]);
		assert_true(ms[i].stats.gaps == 0);
		assert_true(ms[i].stats.credit_overruns == 0);
		assert_true(ms[i].stats.deliveries_invalid == 0);
	}
	assert_int_equal(router_proc_stop(&r), 0);
}

/* ---- 2. groups ---- */

#define GROUP_OFFSETS_MAX 8192u /* per partition of the group topic */

static const char *const group_topics[] = {"jobs"};

/* A group member: records which of its polls returned each offset. */
static void take_group(struct member *m, const struct ledger *l, const struct sl_event *e)
{
	assert_true(topic_index(l, e->topic) == 0);
	assert_true(e->partition < PARTITIONS && e->offset < GROUP_OFFSETS_MAX);
	assert_true(event_value(e) == e->offset);
	uint32_t *slot = &m->seen[e->partition * GROUP_OFFSETS_MAX + e->offset];
	if (*slot != 0) {
		m->twice++;
		return;
	}
	*slot = m->polls;
}

static void group_join(struct member *m, const char *router, enum sl_group_strategy strategy,
		       uint16_t weight)
{
	struct sl_subscribe_options o;

	sl_subscribe_options_init(&o);
	o.group = "workers";
	o.strategy = strategy;
	o.weight = weight;
	member_subscribe(m, router, "jobs", &o, 64);
	m->seen = calloc(PARTITIONS * GROUP_OFFSETS_MAX, sizeof(*m->seen));
	assert_non_null(m->seen);
}

/* How many members returned (partition, offset), counting the dead member `dead`'s events
 * only when returned before its last poll (those were acknowledged by a later poll). */
static unsigned holders(const struct member *ms, unsigned n, uint32_t partition, uint64_t offset,
			int dead)
{
	unsigned count = 0;

	for (unsigned i = 0; i < n; i++) {
		uint32_t poll = ms[i].seen[partition * GROUP_OFFSETS_MAX + offset];
		count += poll != 0 && !((int)i == dead && poll == ms[i].polls);
	}
	return count;
}

static int group_complete(const struct member *ms, unsigned n, const struct ledger *l, int dead)
{
	for (uint32_t q = 0; q < PARTITIONS; q++) {
		for (uint64_t o = 0; o < l->acked[0][q]; o++) {
			if (holders(ms, n, q, o, dead) == 0) {
				return 0;
			}
		}
	}
	return 1;
}

/* A group that did not get every event by its deadline: says which offsets are missing
 * and what the router counted, so that a rare failure can be read from the test log. */
static void group_report_missing(const struct member *ms, unsigned n, const struct ledger *l,
				 int dead, const char *router)
{
	static const enum sl_stat stats[] = {
		SL_STAT_DELIVERIES,	 SL_STAT_REDELIVERIES,	    SL_STAT_REDELIVERIES_ORPHANED,
		SL_STAT_CREDIT_STALLS,	 SL_STAT_DROP_POLICY_SKIPS, SL_STAT_CREDIT_TIMEOUTS,
		SL_STAT_REPLAY_FAILURES, SL_STAT_DEAD_LETTERS,	    SL_STAT_REPLAY_CURSOR_WAITS,
	};
	unsigned missing = 0;

	for (uint32_t q = 0; q < PARTITIONS; q++) {
		for (uint64_t o = 0; o < l->acked[0][q]; o++) {
			if (holders(ms, n, q, o, dead) != 0) {
				continue;
			}
			if (missing++ < 16) { /* the first few say where */
				print_message("missing: partition %u offset %llu of %llu\n", q,
					      (unsigned long long)o,
					      (unsigned long long)l->acked[0][q]);
			}
		}
	}
	print_message("missing offsets: %u\n", missing);
	for (unsigned i = 0; i < n; i++) {
		print_message("member %u: %llu events\n", i, (unsigned long long)ms[i].events);
	}
	for (size_t k = 0; k < sizeof(stats) / sizeof(stats[0]); k++) {
		print_message("router %s: %llu\n", wire_stat_name(stats[k]),
			      (unsigned long long)router_counter(router, stats[k]));
	}
}

/* Polls every live member once; member `stop` (or -1) dies (stops polling: no acks, no
 * heartbeats) right after a poll that returned events, once `may_stop`. */
static void group_poll(struct member *ms, unsigned n, const struct ledger *l, int stop,
		       int may_stop, int timeout_ms)
{
	uint64_t before = stop >= 0 ? ms[stop].events : 0;

	(void)poll_members(ms, n, l, take_group, timeout_ms);
	if (stop >= 0 && may_stop && ms[stop].events > before) {
		ms[stop].alive = 0;
	}
}

/* Produces `events` over the partitions, members polling between slices; member `stop`
 * (or -1) dies after a quarter of them, at its first poll that returns events. */
static void group_run(struct member *ms, unsigned n, struct ledger *l, const char *router,
		      unsigned events, int stop)
{
	struct sl_producer *p = producer_new(router, l);

	for (unsigned i = 0; i < events; i++) {
		produce_one(p, l, 0, i % PARTITIONS);
		if (i % SLICE_EVENTS == SLICE_EVENTS - 1) {
			assert_true(sl_producer_poll(p, 0) >= 0);
			group_poll(ms, n, l, stop, i > events / 4, 0);
		}
	}
	producer_finish(p, l);
	sl_producer_destroy(p);
	assert_true(l->acked_events == events);
	uint64_t deadline = now_ms() + DRAIN_MS;
	while ((stop >= 0 && ms[stop].alive) ||
	       (!group_complete(ms, n, l, stop) && now_ms() < deadline)) {
		group_poll(ms, n, l, stop, 1, 1);
		assert_true(now_ms() < deadline);
	}
	if (!group_complete(ms, n, l, stop)) {
		group_report_missing(ms, n, l, stop, router);
		fail_msg("the group did not get every event within %u ms", DRAIN_MS);
	}
	(void)poll_members(ms, n, l, take_group, 20);
	for (unsigned i = 0; i < n; i++) {
		sl_consumer_stats_get(ms[i].c, &ms[i].stats);
	}
}

/* Without failures, each event went to exactly one member. */
static void assert_each_event_once(const struct member *ms, unsigned n, const struct ledger *l,
				   const char *router)
{
	/* A group batch no member could take waits for one; it is never skipped. */
	assert_true(router_counter(router, SL_STAT_DROP_POLICY_SKIPS) == 0);
	assert_true(router_counter(router, SL_STAT_DEAD_LETTERS) == 0);
	for (uint32_t q = 0; q < PARTITIONS; q++) {
		for (uint64_t o = 0; o < l->acked[0][q]; o++) {
			assert_int_equal(holders(ms, n, q, o, -1), 1);
		}
	}
	for (unsigned i = 0; i < n; i++) {
		assert_true(ms[i].twice == 0);
		assert_true(ms[i].stats.redeliveries == 0);
	}
}

static uint64_t deliveries_total(const struct member *ms, unsigned n)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < n; i++) {
		sum += ms[i].stats.deliveries;
	}
	return sum;
}

/* Round-robin: each event to one member; batches split evenly (each shard takes turns
 * on its own, so each member is within a few batches of a third). */
static void test_group_round_robin(void **state)
{
	static const char *const flags[] = {ROUTER_FLAGS, NULL};
	static struct router_proc r; /* outlives a failed assertion */
	struct ledger l = {.topics = group_topics, .topic_count = 1};
	struct member ms[3];
	(void)state;

	start_router(&r, flags);
	for (unsigned i = 0; i < 3; i++) {
		group_join(&ms[i], r.address, SL_GROUP_ROUND_ROBIN, 1);
	}
	group_run(ms, 3, &l, r.address, 12000, -1);
	assert_each_event_once(ms, 3, &l, r.address);
	uint64_t total = deliveries_total(ms, 3);
	for (unsigned i = 0; i < 3; i++) {
		int64_t off = (int64_t)(ms[i].stats.deliveries * 3) - (int64_t)total;
		assert_true(ms[i].events > 0);
		assert_true(llabs(off) <= 3 * 4); /* ±2 batches per shard */
		member_close(&ms[i]);
	}
	assert_int_equal(router_proc_stop(&r), 0);
}

/* Weighted 1:2:3: shares of the batches within 2% of 1/6, 2/6, 3/6. */
static void test_group_weighted(void **state)
{
	static const char *const flags[] = {ROUTER_FLAGS, NULL};
	static struct router_proc r; /* outlives a failed assertion */
	struct ledger l = {.topics = group_topics, .topic_count = 1};
	struct member ms[3];
	(void)state;

	start_router(&r, flags);
	for (unsigned i = 0; i < 3; i++) {
		group_join(&ms[i], r.address, SL_GROUP_WEIGHTED, (uint16_t)(i + 1));
	}
	group_run(ms, 3, &l, r.address, 12000, -1);
	assert_each_event_once(ms, 3, &l, r.address);
	uint64_t total = deliveries_total(ms, 3);
	for (unsigned i = 0; i < 3; i++) {
		double share = (double)ms[i].stats.deliveries / (double)total;
		double want = (double)(i + 1) / 6.0;
		if (share < want - 0.02 || share > want + 0.02) {
			fail_msg("weight %u: share %.3f of %llu batches, want %.3f", i + 1, share,
				 (unsigned long long)total, want);
		}
		member_close(&ms[i]);
	}
	assert_int_equal(router_proc_stop(&r), 0);
}

/* Key-affine: each partition stays with one member. */
static void test_group_key_affine(void **state)
{
	static const char *const flags[] = {ROUTER_FLAGS, NULL};
	static struct router_proc r; /* outlives a failed assertion */
	struct ledger l = {.topics = group_topics, .topic_count = 1};
	struct member ms[3];
	(void)state;

	start_router(&r, flags);
	for (unsigned i = 0; i < 3; i++) {
		group_join(&ms[i], r.address, SL_GROUP_KEY_AFFINE, 1);
	}
	group_run(ms, 3, &l, r.address, 8000, -1);
	assert_each_event_once(ms, 3, &l, r.address);
	for (uint32_t q = 0; q < PARTITIONS; q++) {
		unsigned owners = 0;
		for (unsigned i = 0; i < 3; i++) {
			unsigned got = 0;
			for (uint64_t o = 0; o < l.acked[0][q]; o++) {
				got += ms[i].seen[q * GROUP_OFFSETS_MAX + o] != 0;
			}
			assert_true(got == 0 || got == l.acked[0][q]);
			owners += got != 0;
		}
		assert_int_equal(owners, 1);
	}
	for (unsigned i = 0; i < 3; i++) {
		member_close(&ms[i]);
	}
	assert_int_equal(router_proc_stop(&r), 0);
}

/*
 * A member stops mid-stream (no more polls: no acks, no heartbeats) with events it was
 * given and never acknowledged. The router times it out (300 ms) and its unacknowledged
 * batches go to the other two (ack timeout 200 ms): every event was processed by a live
 * member or acknowledged by the dead one before it died, and those of its last poll,
 * never acknowledged, reached a survivor.
 */
static void test_group_member_dies(void **state)
{
	static const char *const flags[] = {
		ROUTER_FLAGS, "--consumer-timeout-ms", "300", "--ack-timeout-ms", "200", NULL};
	static struct router_proc r; /* outlives a failed assertion */
	struct ledger l = {.topics = group_topics, .topic_count = 1};
	struct member ms[3];
	(void)state;

	start_router(&r, flags);
	for (unsigned i = 0; i < 3; i++) {
		group_join(&ms[i], r.address, SL_GROUP_ROUND_ROBIN, 1);
	}
	group_run(ms, 3, &l, r.address, 6000, 2);
	assert_true(ms[2].alive == 0 && ms[2].polls > 0);
	unsigned orphans = 0;
	for (uint32_t q = 0; q < PARTITIONS; q++) {
		for (uint64_t o = 0; o < l.acked[0][q]; o++) {
			if (ms[2].seen[q * GROUP_OFFSETS_MAX + o] == ms[2].polls) {
				orphans++;
				assert_true(holders(ms, 2, q, o, -1) > 0);
			}
		}
	}
	assert_true(orphans > 0);
	assert_true(ms[0].stats.redeliveries + ms[1].stats.redeliveries > 0);
	assert_true(router_counter(r.address, SL_STAT_SUBSCRIBER_TIMEOUTS) > 0);
	for (unsigned i = 0; i < 3; i++) {
		member_close(&ms[i]);
	}
	assert_int_equal(router_proc_stop(&r), 0);
}

/* ---- 3. replay ---- */

#define REPLAY_EVENTS 1000000u

/*
 * A group started from earliest: the first member fixes the start, the others join it;
 * every event already retained goes to exactly one member, then the live ones, with no
 * gap and no duplicate (the group reads the journal once for all its members).
 */
static void test_group_from_earliest(void **state)
{
	static const char *const flags[] = {ROUTER_FLAGS, NULL};
	static struct router_proc r; /* outlives a failed assertion */
	struct ledger l = {.topics = group_topics, .topic_count = 1};
	struct member ms[3];
	struct sl_subscribe_options o;
	(void)state;

	start_router(&r, flags);
	struct sl_producer *p = producer_new(r.address, &l);
	for (unsigned i = 0; i < 4000; i++) {
		produce_one(p, &l, 0, i % PARTITIONS);
	}
	producer_finish(p, &l);
	for (unsigned i = 0; i < 3; i++) {
		sl_subscribe_options_init(&o);
		o.group = "workers";
		o.strategy = SL_GROUP_ROUND_ROBIN;
		o.weight = 1;
		o.start = i == 0 ? SL_START_EARLIEST : SL_START_LATEST; /* the first one counts */
		member_subscribe(&ms[i], r.address, "jobs", &o, 64);
		ms[i].seen = calloc(PARTITIONS * GROUP_OFFSETS_MAX, sizeof(*ms[i].seen));
		assert_non_null(ms[i].seen);
	}
	/* Live events while the members read the history. */
	for (unsigned i = 0; i < 2000; i++) {
		produce_one(p, &l, 0, i % PARTITIONS);
		if (i % SLICE_EVENTS == SLICE_EVENTS - 1) {
			assert_true(sl_producer_poll(p, 0) >= 0);
			group_poll(ms, 3, &l, -1, 0, 0);
		}
	}
	producer_finish(p, &l);
	sl_producer_destroy(p);
	uint64_t deadline = now_ms() + DRAIN_MS;
	while (!group_complete(ms, 3, &l, -1)) {
		group_poll(ms, 3, &l, -1, 0, 1);
		if (now_ms() >= deadline) {
			group_report_missing(ms, 3, &l, -1, r.address);
			fail_msg("the group did not get every event within %u ms", DRAIN_MS);
		}
	}
	(void)poll_members(ms, 3, &l, take_group, 20);
	for (unsigned i = 0; i < 3; i++) {
		sl_consumer_stats_get(ms[i].c, &ms[i].stats);
		assert_true(ms[i].events > 0);
	}
	assert_each_event_once(ms, 3, &l, r.address);
	for (unsigned i = 0; i < 3; i++) {
		member_close(&ms[i]);
	}
	assert_int_equal(router_proc_stop(&r), 0);
}

/* ---- dead letters ---- */

#define DEAD_SUBSCRIBER 0x00c0ffee00c0ffeeull
#define DEAD_EVENTS_PER_PARTITION 3u

/* What the dead-letter reader saw: per dead-letter partition, the origin record in
 * force, and per original (partition, offset), whether it came. */
struct dead_reader {
	uint32_t origin_partition[PARTITIONS * 2];
	uint64_t origin_next[PARTITIONS * 2];
	uint32_t origin_left[PARTITIONS * 2];
	unsigned seen[PARTITIONS][DEAD_EVENTS_PER_PARTITION];
	unsigned origins;
};

static void dead_take(struct dead_reader *d, const struct sl_event *e)
{
	char buf[256];
	unsigned q;
	unsigned long long offset;
	unsigned records;
	unsigned deliveries;

	assert_string_equal(e->topic, "_dead.00c0ffee00c0ffee");
	assert_true(e->partition < PARTITIONS * 2);
	if (e->key_len == strlen(SL_WIRE_DEAD_LETTER_KEY) &&
	    memcmp(e->key, SL_WIRE_DEAD_LETTER_KEY, e->key_len) == 0) {
		assert_true(e->value_len < sizeof(buf));
		memcpy(buf, e->value, e->value_len);
		buf[e->value_len] = '\0';
		assert_int_equal(sscanf(buf,
					"topic=jobs partition=%u offset=%llu records=%u "
					"deliveries=%u",
					&q, &offset, &records, &deliveries),
				 4);
		assert_true(q < PARTITIONS && records > 0);
		assert_int_equal(deliveries, 2); /* --max-redeliveries 1 */
		assert_int_equal(d->origin_left[e->partition], 0);
		d->origin_partition[e->partition] = q;
		d->origin_next[e->partition] = offset;
		d->origin_left[e->partition] = records;
		d->origins++;
		return;
	}
	/* An original record: the next of the origin record before it. */
	assert_true(d->origin_left[e->partition] > 0);
	uint32_t q0 = d->origin_partition[e->partition];
	uint64_t o = d->origin_next[e->partition]++;
	d->origin_left[e->partition]--;
	assert_true(o < DEAD_EVENTS_PER_PARTITION);
	assert_true(event_value(e) == o); /* the original value: its offset */
	char key[8];
	int key_len = snprintf(key, sizeof(key), "k%u", q0);
	assert_int_equal(e->key_len, (uint32_t)key_len);
	assert_memory_equal(e->key, key, e->key_len);
	d->seen[q0][o]++;
}

static int dead_complete(const struct dead_reader *d)
{
	for (uint32_t q = 0; q < PARTITIONS; q++) {
		for (uint32_t o = 0; o < DEAD_EVENTS_PER_PARTITION; o++) {
			if (d->seen[q][o] == 0) {
				return 0;
			}
		}
	}
	return 1;
}

/*
 * A consumer that never acknowledges: after --max-redeliveries (1) each of its batches
 * is produced to _dead.<its subscriber id> (partitions on both shards: the dead letter
 * crosses the mesh when the other shard owns its partition), and a subscriber of
 * _dead.> receives every event with its original topic, partition and offset.
 */
static void test_dead_letter_topic(void **state)
{
	static const char *const flags[] = {
		ROUTER_FLAGS, "--ack-timeout-ms", "100", "--max-redeliveries", "1", NULL};
	static struct router_proc r; /* outlives a failed assertion */
	static const char *const topics[] = {"jobs"};
	struct ledger l = {.topics = topics, .topic_count = 1};
	struct sl_consumer_config cfg;
	struct sl_consumer *stuck = NULL;
	struct sl_consumer *reader = NULL;
	struct sl_event ev[POLL_EVENTS];
	struct dead_reader d;
	uint32_t sub;
	(void)state;

	memset(&d, 0, sizeof(d));
	start_router(&r, flags);
	sl_consumer_config_init(&cfg);
	cfg.router = r.address;
	cfg.subscriber_id = DEAD_SUBSCRIBER;
	cfg.ack_mode = SL_CONSUMER_ACK_MANUAL; /* and never acks */
	assert_int_equal(sl_consumer_create(&cfg, &stuck), 0);
	assert_int_equal(sl_subscribe(stuck, "jobs", NULL, &sub), 0);
	sl_consumer_config_init(&cfg);
	cfg.router = r.address;
	assert_int_equal(sl_consumer_create(&cfg, &reader), 0);
	assert_int_equal(sl_subscribe(reader, "_dead.>", NULL, &sub), 0);

	struct sl_producer *p = producer_new(r.address, &l);
	for (unsigned i = 0; i < PARTITIONS * DEAD_EVENTS_PER_PARTITION; i++) {
		produce_one(p, &l, 0, i % PARTITIONS);
	}
	producer_finish(p, &l);
	sl_producer_destroy(p);
	uint64_t deadline = now_ms() + DRAIN_MS;
	while (!dead_complete(&d)) {
		assert_true(sl_consumer_poll(stuck, ev, POLL_EVENTS, 0) >= 0);
		int n = sl_consumer_poll(reader, ev, POLL_EVENTS, 1);
		assert_true(n >= 0);
		for (int k = 0; k < n; k++) {
			dead_take(&d, &ev[k]);
		}
		assert_true(now_ms() < deadline);
	}
	for (uint32_t q = 0; q < PARTITIONS; q++) {
		for (uint32_t o = 0; o < DEAD_EVENTS_PER_PARTITION; o++) {
			assert_int_equal(d.seen[q][o], 1);
		}
	}
	assert_true(router_counter(r.address, SL_STAT_DEAD_LETTERS) == d.origins);
	assert_true(router_counter(r.address, SL_STAT_DEAD_LETTERS_SENT) == d.origins);
	assert_true(router_counter(r.address, SL_STAT_DEAD_LETTERS_LOST) == 0);
	sl_consumer_destroy(reader);
	sl_consumer_destroy(stuck);
	assert_int_equal(router_proc_stop(&r), 0);
}

static const char *const replay_topics[] = {"history"};

static void produce_burst(const char *router, struct ledger *l, unsigned events)
{
	struct sl_producer *p = producer_new(router, l);

	for (unsigned i = 0; i < events; i++) {
		produce_one(p, l, 0, i % PARTITIONS);
	}
	producer_finish(p, l);
	sl_producer_destroy(p);
}

/*
 * REPLAY_EVENTS events in the journal, then a consumer from `earliest` gets all of them
 * and then live ones, with no gap and no duplicate (a million: the figure, a
 * few seconds on two cores).
 */
static void test_replay_earliest_then_live(void **state)
{
	static const char *const flags[] = {ROUTER_FLAGS, NULL};
	static struct router_proc r; /* outlives a failed assertion */
	struct ledger l = {.topics = replay_topics, .topic_count = 1};
	struct sl_subscribe_options o;
	struct member m;
	(void)state;

	start_router(&r, flags);
	produce_burst(r.address, &l, REPLAY_EVENTS);
	sl_subscribe_options_init(&o);
	o.start = SL_START_EARLIEST;
	member_subscribe(&m, r.address, "history", &o, 256);
	drain_ordered(&m, 1, &l);
	assert_true(m.events == REPLAY_EVENTS);

	struct sl_producer *p = producer_new(r.address, &l);
	for (unsigned i = 0; i < 4000; i++) {
		produce_one(p, &l, 0, i % PARTITIONS);
		if (i % SLICE_EVENTS == SLICE_EVENTS - 1) {
			assert_true(sl_producer_poll(p, 0) >= 0);
			(void)poll_members(&m, 1, &l, take_ordered, 0);
		}
	}
	producer_finish(p, &l);
	sl_producer_destroy(p);
	drain_ordered(&m, 1, &l);
	assert_true(m.events == REPLAY_EVENTS + 4000);
	member_close(&m);
	assert_true(m.stats.gaps == 0 && m.stats.duplicates == 0);
	assert_int_equal(router_proc_stop(&r), 0);
}

/* Two bursts 100 ms apart; a consumer from a time in the pause starts each partition at
 * the first event of the second burst. */
static void test_replay_from_timestamp(void **state)
{
	static const char *const flags[] = {ROUTER_FLAGS, NULL};
	static struct router_proc r; /* outlives a failed assertion */
	struct ledger l = {.topics = replay_topics, .topic_count = 1};
	struct sl_subscribe_options o;
	struct member m;
	(void)state;

	start_router(&r, flags);
	produce_burst(r.address, &l, 2000);
	uint64_t first_burst[PARTITIONS];
	memcpy(first_burst, l.acked[0], sizeof(first_burst));
	sleep_ms(50);
	uint64_t pause_ns = realtime_ns();
	sleep_ms(50);
	produce_burst(r.address, &l, 2000);

	sl_subscribe_options_init(&o);
	o.start = SL_START_TIMESTAMP;
	o.start_timestamp_ns = pause_ns;
	member_subscribe(&m, r.address, "history", &o, 256);
	memcpy(m.start[0], first_burst, sizeof(first_burst));
	memcpy(m.next[0], first_burst, sizeof(first_burst));
	drain_ordered(&m, 1, &l);
	assert_true(m.events == 2000);
	member_close(&m);
	assert_int_equal(router_proc_stop(&r), 0);
}

/* ---- 4. slow consumers ---- */

static const char *const slow_topics[] = {"ticks"};

/* Policy drop: offsets increase, holes allowed. */
static void take_gappy(struct member *m, const struct ledger *l, const struct sl_event *e)
{
	unsigned t = topic_index(l, e->topic);

	assert_true(e->partition < PARTITIONS);
	assert_true(e->offset >= m->next[t][e->partition]);
	assert_true(event_value(e) == e->offset);
	m->next[t][e->partition] = e->offset + 1;
}

/*
 * A fast consumer, a slow one with policy replay and a slow one with policy drop (windows
 * of 2 batches, polled once per 20 slices) while 20,000 events are produced. The fast one
 * gets everything in order; the replay one gets everything too once the producer stops;
 * the drop one, given a last slice after it caught up, ends with counted gaps and the
 * router counts the skips.
 */
static void test_slow_consumers(void **state)
{
	static const char *const flags[] = {ROUTER_FLAGS, NULL};
	static struct router_proc r; /* outlives a failed assertion */
	struct ledger l = {.topics = slow_topics, .topic_count = 1};
	struct sl_subscribe_options o;
	struct member fast;
	struct member slow[2]; /* replay, drop */
	(void)state;

	start_router(&r, flags);
	member_subscribe(&fast, r.address, "ticks", NULL, 256);
	sl_subscribe_options_init(&o);
	member_subscribe(&slow[0], r.address, "ticks", &o, 2);
	o.slow_policy = SL_SLOW_DROP;
	member_subscribe(&slow[1], r.address, "ticks", &o, 2);

	struct sl_producer *p = producer_new(r.address, &l);
	for (unsigned i = 0; i < 20000; i++) {
		produce_one(p, &l, 0, i % PARTITIONS);
		if (i % SLICE_EVENTS == SLICE_EVENTS - 1) {
			assert_true(sl_producer_poll(p, 0) >= 0);
			(void)poll_members(&fast, 1, &l, take_ordered, 0);
			if (i % (20 * SLICE_EVENTS) == SLICE_EVENTS - 1) {
				(void)poll_members(&slow[0], 1, &l, take_ordered, 0);
				(void)poll_members(&slow[1], 1, &l, take_gappy, 0);
			}
		}
	}
	/* The drop consumer sees a hole only when something after it arrives: let it
	 * take its credit back, then produce a last slice it has room for. */
	assert_int_equal(sl_flush(p, 20000), 0);
	for (int k = 0; k < 10; k++) {
		(void)poll_members(&slow[1], 1, &l, take_gappy, 5);
	}
	for (unsigned i = 0; i < 8; i++) {
		produce_one(p, &l, 0, i % PARTITIONS);
	}
	producer_finish(p, &l);
	sl_producer_destroy(p);
	assert_true(l.acked_events == 20008);
	drain_ordered(&fast, 1, &l);
	assert_true(fast.events == 20008);
	drain_ordered(&slow[0], 1, &l);
	assert_true(slow[0].events == 20008);
	for (int k = 0; k < 20; k++) {
		(void)poll_members(&slow[1], 1, &l, take_gappy, 5);
	}
	member_close(&fast);
	member_close(&slow[0]);
	member_close(&slow[1]);
	assert_true(fast.stats.gaps == 0);
	assert_true(slow[0].stats.gaps == 0);
	assert_true(slow[1].events < 20008);
	assert_true(slow[1].stats.gaps > 0);
	assert_true(router_counter(r.address, SL_STAT_DROP_POLICY_SKIPS) > 0);
	assert_int_equal(router_proc_stop(&r), 0);
}

/* ---- 5. lost DELIVERs ---- */

/*
 * A consumer with a window of one batch per shard loses a fifth of the datagrams the
 * router sends it. Each lost DELIVER is shown by the next one's number or, with nothing
 * else in flight, taken back by the shard after --ack-timeout-ms, then redelivered: the
 * consumer still gets every event in order, and the credit never sticks.
 */
static void test_lost_delivers_do_not_stall_a_small_window(void **state)
{
	static const char *const flags[] = {ROUTER_FLAGS, "--ack-timeout-ms", "100", NULL};
	static struct router_proc r; /* outlives a failed assertion */
	struct ledger l = {.topics = slow_topics, .topic_count = 1};
	struct member m;
	(void)state;

	start_router(&r, flags);
	member_subscribe(&m, r.address, "ticks", NULL, 1);
	consumer_test_set_loss(m.c, 0, 200, 7);
	struct sl_producer *p = producer_new(r.address, &l);
	for (unsigned i = 0; i < 400; i++) {
		produce_one(p, &l, 0, i % PARTITIONS);
		if (i % 20 == 19) {
			assert_true(sl_producer_poll(p, 0) >= 0);
			(void)poll_members(&m, 1, &l, take_ordered, 0);
		}
	}
	producer_finish(p, &l);
	sl_producer_destroy(p);
	drain_ordered(&m, 1, &l);
	assert_true(m.events == 400);
	member_close(&m);
	assert_true(m.stats.deliveries_lost > 0);
	assert_true(router_counter(r.address, SL_STAT_CREDIT_TIMEOUTS) > 0);
	assert_int_equal(router_proc_stop(&r), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fanout_overlapping_patterns, note_start,
						stop_router_after),
		cmocka_unit_test_setup_teardown(test_group_round_robin, note_start,
						stop_router_after),
		cmocka_unit_test_setup_teardown(test_group_weighted, note_start, stop_router_after),
		cmocka_unit_test_setup_teardown(test_group_key_affine, note_start,
						stop_router_after),
		cmocka_unit_test_setup_teardown(test_group_member_dies, note_start,
						stop_router_after),
		cmocka_unit_test_setup_teardown(test_group_from_earliest, note_start,
						stop_router_after),
		cmocka_unit_test_setup_teardown(test_dead_letter_topic, note_start,
						stop_router_after),
		cmocka_unit_test_setup_teardown(test_replay_earliest_then_live, note_start,
						stop_router_after),
		cmocka_unit_test_setup_teardown(test_replay_from_timestamp, note_start,
						stop_router_after),
		cmocka_unit_test_setup_teardown(test_slow_consumers, note_start, stop_router_after),
		cmocka_unit_test_setup_teardown(test_lost_delivers_do_not_stall_a_small_window,
						note_start, stop_router_after),
	};

	if (argc != 2) {
		(void)fprintf(stderr, "usage: %s SLUICED\n", argv[0]);
		return 2;
	}
	sluiced_path = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
