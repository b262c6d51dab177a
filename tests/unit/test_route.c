/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The route module: the owner function is stable (a fixed value for a known name) and
 * spreads a topic's partitions evenly over shards; the topic table answers configured,
 * auto-created and unknown topics; --topic parsing accepts NAME:N and refuses the rest.
 */
#include "route/route.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define NAME(s) (const uint8_t *)(s), strlen(s)

static void test_route_topic_hash_is_crc32c(void **state)
{
	(void)state;
	/* The CRC32C check value: route_owner() must never change across versions. */
	assert_int_equal(route_topic_hash(NAME("123456789")), 0xE3069283u);
	assert_int_equal(route_owner(NAME("123456789"), 0, 7), 0xE3069283u % 7);
	assert_int_equal(route_owner(NAME("123456789"), 5, 7), (0xE3069283ull + 5) % 7);
}

static void test_route_owner_single_shard_is_zero(void **state)
{
	(void)state;
	for (uint32_t p = 0; p < 100; p++) {
		assert_int_equal(route_owner(NAME("orders"), p, 1), 0);
	}
}

static void test_route_owner_spreads_partitions(void **state)
{
	static const char *const topics[] = {"orders", "a", "metrics.cpu", "x-y_z.1"};

	(void)state;
	for (size_t t = 0; t < 4; t++) {
		for (uint16_t shards = 1; shards <= 9; shards++) {
			unsigned count[9] = {0};
			uint32_t partitions = 64;
			for (uint32_t p = 0; p < partitions; p++) {
				uint16_t o = route_owner(NAME(topics[t]), p, shards);
				assert_true(o < shards);
				count[o]++;
			}
			for (uint16_t s = 0; s < shards; s++) {
				assert_in_range(count[s], partitions / shards,
						(partitions + shards - 1) / shards);
			}
		}
	}
}

static void test_route_owner_hashed_matches_route_owner(void **state)
{
	(void)state;
	uint32_t h = route_topic_hash(NAME("orders.eu"));
	for (uint32_t p = 0; p < 32; p++) {
		assert_int_equal(route_owner_hashed(h, p, 5), route_owner(NAME("orders.eu"), p, 5));
	}
}

static struct route_topic topic(const char *name, uint32_t partitions)
{
	struct route_topic t;

	memset(&t, 0, sizeof(t));
	(void)snprintf(t.name, sizeof(t.name), "%s", name);
	t.name_len = (uint8_t)strlen(name);
	t.partitions = partitions;
	return t;
}

static void test_route_partitions_configured_default_unknown(void **state)
{
	struct route_topic topics[] = {topic("orders", 4), topic("logs.app", 16)};
	struct route_conf conf = {
		.partitions_default = 8, .auto_create = true, .topic_count = 2, .topics = topics};
	struct route_table *t;

	(void)state;
	assert_int_equal(route_table_create(&conf, &t), 0);
	assert_int_equal(route_partitions(t, NAME("orders")), 4);
	assert_int_equal(route_partitions(t, NAME("logs.app")), 16);
	assert_int_equal(route_partitions(t, NAME("other")), 8);
	assert_int_equal(route_partitions(t, NAME("order")), 8);
	assert_int_equal(route_topic_count(t), 2);
	assert_string_equal(route_topic_at(t, 1)->name, "logs.app");
	assert_null(route_topic_at(t, 2));
	assert_true(route_auto_create(t));
	assert_int_equal(route_partitions_default(t), 8);
	route_table_destroy(t);

	conf.auto_create = false;
	assert_int_equal(route_table_create(&conf, &t), 0);
	assert_int_equal(route_partitions(t, NAME("orders")), 4);
	assert_int_equal(route_partitions(t, NAME("other")), 0);
	assert_false(route_auto_create(t));
	route_table_destroy(t);
}

static void test_route_partitions_many_topics(void **state)
{
	static struct route_topic topics[ROUTE_TOPICS_MAX];
	struct route_conf conf = {.partitions_default = 8,
				  .auto_create = false,
				  .topic_count = ROUTE_TOPICS_MAX,
				  .topics = topics};
	struct route_table *t;
	char name[32];

	(void)state;
	for (uint32_t i = 0; i < ROUTE_TOPICS_MAX; i++) {
		(void)snprintf(name, sizeof(name), "t%u", i);
		topics[i] = topic(name, i + 1);
	}
	assert_int_equal(route_table_create(&conf, &t), 0);
	for (uint32_t i = 0; i < ROUTE_TOPICS_MAX; i++) {
		(void)snprintf(name, sizeof(name), "t%u", i);
		assert_int_equal(route_partitions(t, NAME(name)), i + 1);
	}
	assert_int_equal(route_partitions(t, NAME("t1024")), 0);
	route_table_destroy(t);
	conf.topic_count = ROUTE_TOPICS_MAX + 1;
	assert_int_equal(route_table_create(&conf, &t), -EINVAL);
}

static void test_route_table_create_rejects_bad_topics(void **state)
{
	struct route_topic dup[] = {topic("orders", 4), topic("orders", 2)};
	struct route_topic zero[] = {topic("orders", 0)};
	struct route_topic big[] = {topic("orders", ROUTE_PARTITIONS_MAX + 1)};
	struct route_topic bad[] = {topic("bad name", 1)};
	struct route_topic lie[] = {topic("orders", 1)};
	struct route_conf conf = {.partitions_default = 8, .auto_create = true};
	struct route_table *t = NULL;

	(void)state;
	lie[0].name_len = 3;
	struct {
		struct route_topic *topics;
		uint32_t n;
	} cases[] = {{dup, 2}, {zero, 1}, {big, 1}, {bad, 1}, {lie, 1}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		conf.topics = cases[i].topics;
		conf.topic_count = cases[i].n;
		assert_int_equal(route_table_create(&conf, &t), -EINVAL);
	}
	conf.topic_count = 0;
	conf.partitions_default = 0;
	assert_int_equal(route_table_create(&conf, &t), -EINVAL);
	assert_null(t);
}

static void test_route_topic_parse_valid(void **state)
{
	struct route_topic t;

	(void)state;
	assert_int_equal(route_topic_parse("orders.eu:12", &t), 0);
	assert_string_equal(t.name, "orders.eu");
	assert_int_equal(t.name_len, 9);
	assert_int_equal(t.partitions, 12);
	assert_int_equal(route_topic_parse("a:65536", &t), 0);
	assert_int_equal(t.partitions, 65536);
}

static void test_route_topic_parse_invalid(void **state)
{
	struct route_topic t;
	char long_name[300];

	(void)state;
	assert_int_equal(route_topic_parse("orders", &t), -EINVAL);
	assert_int_equal(route_topic_parse(":4", &t), -EINVAL);
	assert_int_equal(route_topic_parse("a b:4", &t), -EINVAL);
	assert_int_equal(route_topic_parse("a..b:4", &t), -EINVAL);
	assert_int_equal(route_topic_parse("a*:4", &t), -EINVAL);
	assert_int_equal(route_topic_parse("a:0", &t), -ERANGE);
	assert_int_equal(route_topic_parse("a:65537", &t), -ERANGE);
	assert_int_equal(route_topic_parse("a:", &t), -ERANGE);
	assert_int_equal(route_topic_parse("a:-1", &t), -ERANGE);
	assert_int_equal(route_topic_parse("a:4x", &t), -ERANGE);
	assert_int_equal(route_topic_parse("a:99999999999999999999999", &t), -ERANGE);
	memset(long_name, 'a', 256);
	memcpy(long_name + 256, ":4", 3);
	assert_int_equal(route_topic_parse(long_name, &t), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_topic_hash_is_crc32c),
		cmocka_unit_test(test_route_owner_single_shard_is_zero),
		cmocka_unit_test(test_route_owner_spreads_partitions),
		cmocka_unit_test(test_route_owner_hashed_matches_route_owner),
		cmocka_unit_test(test_route_partitions_configured_default_unknown),
		cmocka_unit_test(test_route_partitions_many_topics),
		cmocka_unit_test(test_route_table_create_rejects_bad_topics),
		cmocka_unit_test(test_route_topic_parse_valid),
		cmocka_unit_test(test_route_topic_parse_invalid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
