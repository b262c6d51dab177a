/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Retention rules and decision (journal/retention.h), without files: rules resolved per
 * topic, and how many of the oldest segments a plan lets go by bytes, by age, by both,
 * never the newest, never past a topic without a limit.
 */
#include "journal/retention.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define TEST_S 1000000000ull
#define TEST_NOW (1000000ull * TEST_S)

static struct journal_retention_rules test_rules;

static const uint8_t *test_name(const char *s)
{
	return (const uint8_t *)s;
}

static int test_set(const char *topic, bool has_bytes, uint64_t bytes, bool has_age,
		    uint64_t age_ns)
{
	return journal_retention_rules_set(&test_rules, test_name(topic), (uint8_t)strlen(topic),
					   has_bytes, bytes, has_age, age_ns);
}

static struct journal_retention test_resolve(const char *topic)
{
	return journal_retention_resolve(&test_rules, test_name(topic), (uint8_t)strlen(topic));
}

static void test_journal_retention_resolve_overrides_each_limit(void **state)
{
	(void)state;
	journal_retention_rules_init(&test_rules, 1000, 60 * TEST_S);
	assert_int_equal(test_set("orders", true, 5000, false, 0), 0);
	assert_int_equal(test_set("clicks", false, 0, true, 0), 0);
	assert_int_equal(test_set("orders", false, 0, true, 10 * TEST_S), 0);
	assert_int_equal(test_rules.ntopics, 2);

	struct journal_retention r = test_resolve("orders");
	assert_int_equal(r.bytes, 5000);
	assert_int_equal(r.age_ns, 10 * TEST_S);
	r = test_resolve("clicks");
	assert_int_equal(r.bytes, 1000); /* default kept */
	assert_int_equal(r.age_ns, 0);	 /* unlimited */
	/* Exact names: no prefix matching. */
	r = test_resolve("order");
	assert_int_equal(r.bytes, 1000);
	assert_int_equal(r.age_ns, 60 * TEST_S);
}

static void test_journal_retention_rules_set_bounded(void **state)
{
	char name[16];

	(void)state;
	journal_retention_rules_init(&test_rules, 0, 0);
	assert_int_equal(
		journal_retention_rules_set(&test_rules, test_name("x"), 0, true, 1, false, 0),
		-EINVAL);
	for (unsigned i = 0; i < JOURNAL_RETENTION_TOPICS_MAX; i++) {
		(void)snprintf(name, sizeof(name), "t%u", i);
		assert_int_equal(test_set(name, true, i + 1, false, 0), 0);
	}
	assert_int_equal(test_set("one.more", true, 1, false, 0), -ENOSPC);
	/* An existing topic can still change. */
	assert_int_equal(test_set("t7", false, 0, true, 5), 0);
	assert_int_equal(test_resolve("t7").bytes, 8);
	assert_int_equal(test_resolve("t7").age_ns, 5);
}

/* Segments of topics 0 and 1: seg i holds `bytes` of each listed topic, appended at
 * TEST_NOW - age_s[i] seconds. */
struct test_plan {
	struct journal_retention_usage usage[16][2];
	struct journal_retention_segment segs[16];
	struct journal_retention limits[2];
	uint64_t remaining[2];
};

static void test_seg(struct test_plan *p, uint32_t i, uint64_t bytes0, uint64_t bytes1,
		     uint64_t age_s)
{
	uint32_t n = 0;

	if (bytes0 > 0) {
		p->usage[i][n++] = (struct journal_retention_usage){
			.topic = 0, .bytes = bytes0, .max_ns = TEST_NOW - age_s * TEST_S};
	}
	if (bytes1 > 0) {
		p->usage[i][n++] = (struct journal_retention_usage){
			.topic = 1, .bytes = bytes1, .max_ns = TEST_NOW - age_s * TEST_S};
	}
	p->segs[i] = (struct journal_retention_segment){.usage = p->usage[i], .nusage = n};
}

static uint32_t test_plan_run(struct test_plan *p, uint32_t n)
{
	return journal_retention_plan(p->segs, n, p->limits, 2, p->remaining, TEST_NOW);
}

static void test_journal_retention_plan_by_bytes(void **state)
{
	struct test_plan p = {0};

	(void)state;
	/* Topic 0 only, 100 bytes per segment, keep 250: 5 segments hold 500, so the two
	 * oldest go (300 left), the third would leave 200 < 250. */
	for (uint32_t i = 0; i < 5; i++) {
		test_seg(&p, i, 100, 0, 10);
	}
	p.limits[0] = (struct journal_retention){.bytes = 250};
	assert_int_equal(test_plan_run(&p, 5), 2);
	/* Exactly the limit left is enough. */
	p.limits[0].bytes = 300;
	assert_int_equal(test_plan_run(&p, 5), 2);
	p.limits[0].bytes = 301;
	assert_int_equal(test_plan_run(&p, 5), 1);
	/* Unlimited: nothing goes. */
	p.limits[0].bytes = 0;
	assert_int_equal(test_plan_run(&p, 5), 0);
}

static void test_journal_retention_plan_never_newest(void **state)
{
	struct test_plan p = {0};

	(void)state;
	for (uint32_t i = 0; i < 4; i++) {
		test_seg(&p, i, 100, 0, 1000);
	}
	p.limits[0] = (struct journal_retention){.bytes = 1, .age_ns = TEST_S};
	/* Everything is old and over the limit: all but the newest go. */
	assert_int_equal(test_plan_run(&p, 4), 3);
	assert_int_equal(test_plan_run(&p, 1), 0);
	assert_int_equal(test_plan_run(&p, 0), 0);
}

static void test_journal_retention_plan_by_age(void **state)
{
	struct test_plan p = {0};

	(void)state;
	/* Ages 500, 400, 300, 200, 100 s; keep 250 s: the three older than that go. */
	for (uint32_t i = 0; i < 5; i++) {
		test_seg(&p, i, 100, 0, 500 - 100 * i);
	}
	p.limits[0] = (struct journal_retention){.age_ns = 250 * TEST_S};
	assert_int_equal(test_plan_run(&p, 5), 3);
	/* Exactly as old as the limit: kept. */
	p.limits[0].age_ns = 300 * TEST_S;
	assert_int_equal(test_plan_run(&p, 5), 2);
	/* An age longer than the clock: nothing is that old. */
	p.limits[0].age_ns = TEST_NOW + TEST_S;
	assert_int_equal(test_plan_run(&p, 5), 0);
}

static void test_journal_retention_plan_every_topic_must_agree(void **state)
{
	struct test_plan p = {0};

	(void)state;
	/* Both topics in every segment; topic 0 is over its bytes limit, topic 1 has no
	 * limit: nothing goes. */
	for (uint32_t i = 0; i < 4; i++) {
		test_seg(&p, i, 100, 50, 10);
	}
	p.limits[0] = (struct journal_retention){.bytes = 100};
	p.limits[1] = (struct journal_retention){0};
	assert_int_equal(test_plan_run(&p, 4), 0);
	/* Topic 1 lets go by age, topic 0 by bytes: a mix of reasons is enough. */
	p.limits[1].age_ns = 5 * TEST_S;
	assert_int_equal(test_plan_run(&p, 4), 3);
	/* A segment holding only topic 1 (old enough) goes whatever topic 0's bytes; then
	 * topic 0's 300 bytes may lose 100, not 200. */
	test_seg(&p, 0, 0, 50, 10);
	p.limits[0].bytes = 200;
	assert_int_equal(test_plan_run(&p, 4), 2);
}

static void test_journal_retention_plan_stops_at_first_kept(void **state)
{
	struct test_plan p = {0};

	(void)state;
	/* Oldest first only: a young segment holds back older-looking ones behind it. */
	test_seg(&p, 0, 100, 0, 1000);
	test_seg(&p, 1, 100, 0, 1);
	test_seg(&p, 2, 100, 0, 1000);
	test_seg(&p, 3, 100, 0, 1);
	p.limits[0] = (struct journal_retention){.age_ns = 100 * TEST_S};
	assert_int_equal(test_plan_run(&p, 4), 1);
	/* An empty segment (no topic) holds nothing back. */
	p.segs[1].nusage = 0;
	assert_int_equal(test_plan_run(&p, 4), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_journal_retention_resolve_overrides_each_limit),
		cmocka_unit_test(test_journal_retention_rules_set_bounded),
		cmocka_unit_test(test_journal_retention_plan_by_bytes),
		cmocka_unit_test(test_journal_retention_plan_never_newest),
		cmocka_unit_test(test_journal_retention_plan_by_age),
		cmocka_unit_test(test_journal_retention_plan_every_topic_must_agree),
		cmocka_unit_test(test_journal_retention_plan_stops_at_first_kept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
