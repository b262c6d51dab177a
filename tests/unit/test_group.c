/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Consumer-group member selection: round-robin turns, weighted shares over short
 * windows, key-affine spread and stability when members join and leave (only about 1/n
 * of the partitions move, and only to or from that member), the same picks whatever the
 * join order (every shard must agree), and the errors of an empty or full group.
 */
#include "route/group.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define PARTITIONS 12000u
#define TOPIC_HASH 0x1234abcdu

static struct group *create(enum sl_group_strategy strategy, uint32_t members_max)
{
	struct group *g = NULL;

	assert_int_equal(group_create(strategy, members_max, &g), 0);
	return g;
}

static uint64_t pick(struct group *g, uint32_t partition)
{
	uint64_t id = 0;

	assert_int_equal(group_pick(g, TOPIC_HASH, partition, &id), 0);
	return id;
}

static void test_group_round_robin_takes_turns(void **state)
{
	struct group *g = create(SL_GROUP_ROUND_ROBIN, 8);
	unsigned counts[4] = {0};

	(void)state;
	for (uint64_t id = 1; id <= 3; id++) {
		assert_int_equal(group_join(g, id, 1), 0);
	}
	for (unsigned i = 0; i < 3000; i++) {
		uint64_t id = pick(g, i % 7);
		assert_int_equal(id, 1 + i % 3); /* strict turns, whatever the partition */
		counts[id]++;
	}
	assert_int_equal(counts[1], 1000);
	assert_int_equal(counts[3], 1000);
	/* Leaving: the others keep taking turns, none twice in a row. */
	assert_int_equal(group_leave(g, 2), 0);
	uint64_t last = pick(g, 0);
	for (unsigned i = 0; i < 10; i++) {
		uint64_t id = pick(g, 0);
		assert_int_not_equal(id, last);
		assert_int_not_equal(id, 2);
		last = id;
	}
	group_destroy(g);
}

static void test_group_weighted_holds_over_short_windows(void **state)
{
	struct group *g = create(SL_GROUP_WEIGHTED, 8);
	const uint16_t weights[] = {1, 2, 7};

	(void)state;
	for (uint64_t i = 0; i < 3; i++) {
		assert_int_equal(group_join(g, 100 + i, weights[i]), 0);
	}
	/* Every window of total weight (10) picks holds each member exactly weight times,
	 * and the heavy member never runs more than 3 picks in a row. */
	for (unsigned window = 0; window < 50; window++) {
		unsigned counts[3] = {0};
		unsigned run = 0;
		uint64_t last = 0;
		for (unsigned k = 0; k < 10; k++) {
			uint64_t id = pick(g, k);
			counts[id - 100]++;
			run = id == last ? run + 1 : 1;
			assert_true(run <= 3);
			last = id;
		}
		for (unsigned i = 0; i < 3; i++) {
			assert_int_equal(counts[i], weights[i]);
		}
	}
	assert_int_equal(group_join(g, 200, 0), -EINVAL);
	assert_int_equal(group_join(g, 200, SL_WIRE_WEIGHT_MAX + 1), -EINVAL);
	group_destroy(g);
}

/* Owner of every partition under g's current membership. */
static void owners(struct group *g, uint64_t *out)
{
	for (uint32_t p = 0; p < PARTITIONS; p++) {
		out[p] = pick(g, p);
	}
}

static void test_group_key_affine_stable_across_membership(void **state)
{
	static uint64_t before[PARTITIONS];
	static uint64_t after[PARTITIONS];
	struct group *g = create(SL_GROUP_KEY_AFFINE, 16);
	const unsigned n = 8;

	(void)state;
	for (uint32_t i = 0; i < n; i++) {
		assert_int_equal(group_join(g, group_member_id(0xfeed0000 + i, 1), 1), 0);
	}
	owners(g, before);
	/* Spread: every member within 15% of the mean, and picks repeat (affinity). */
	for (uint32_t i = 0; i < n; i++) {
		uint64_t id = group_member_id(0xfeed0000 + i, 1);
		unsigned count = 0;
		for (uint32_t p = 0; p < PARTITIONS; p++) {
			count += before[p] == id;
		}
		assert_in_range(count, PARTITIONS / n * 85 / 100, PARTITIONS / n * 115 / 100);
	}
	owners(g, after);
	assert_memory_equal(before, after, sizeof(before));

	/* A member joins: only partitions moving to it move, about 1/(n+1) of them. */
	uint64_t newcomer = group_member_id(0xbeef, 9);
	assert_int_equal(group_join(g, newcomer, 1), 0);
	owners(g, after);
	unsigned moved = 0;
	for (uint32_t p = 0; p < PARTITIONS; p++) {
		if (after[p] != before[p]) {
			assert_true(after[p] == newcomer);
			moved++;
		}
	}
	assert_in_range(moved, PARTITIONS / (n + 1) * 80 / 100, PARTITIONS / (n + 1) * 120 / 100);

	/* It leaves again: everything is back where it was. */
	assert_int_equal(group_leave(g, newcomer), 0);
	owners(g, after);
	assert_memory_equal(before, after, sizeof(before));

	/* Another leaves: only its partitions move. */
	uint64_t leaver = group_member_id(0xfeed0003, 1);
	assert_int_equal(group_leave(g, leaver), 0);
	owners(g, after);
	for (uint32_t p = 0; p < PARTITIONS; p++) {
		assert_true(after[p] == before[p] || before[p] == leaver);
		assert_true(after[p] != leaver);
	}
	group_destroy(g);
}

/* Every shard builds its group from control messages in its own order: picks agree. */
static void test_group_key_affine_independent_of_join_order(void **state)
{
	struct group *a = create(SL_GROUP_KEY_AFFINE, 8);
	struct group *b = create(SL_GROUP_KEY_AFFINE, 8);

	(void)state;
	for (uint32_t i = 0; i < 5; i++) {
		assert_int_equal(group_join(a, group_member_id(77, i + 1), 1), 0);
		assert_int_equal(group_join(b, group_member_id(77, 5 - i), 3), 0);
	}
	for (uint32_t p = 0; p < 1000; p++) {
		assert_true(pick(a, p) == pick(b, p));
	}
	group_destroy(a);
	group_destroy(b);
}

static void test_group_empty_full_and_errors(void **state)
{
	struct group *g = create(SL_GROUP_ROUND_ROBIN, 2);
	struct group *bad = NULL;
	uint64_t id = 0;

	(void)state;
	assert_int_equal(group_pick(g, TOPIC_HASH, 0, &id), -ENOENT);
	assert_int_equal(group_size(g), 0);
	uint64_t gen = group_generation(g);
	assert_int_equal(group_join(g, 1, 1), 0);
	assert_true(group_generation(g) > gen);
	assert_int_equal(group_join(g, 1, 1), -EEXIST);
	assert_int_equal(group_join(g, 2, 1), 0);
	assert_int_equal(group_join(g, 3, 1), -ENOSPC);
	assert_int_equal(group_size(g), 2);
	assert_int_equal(group_leave(g, 3), -ENOENT);
	assert_int_equal(group_leave(g, 1), 0);
	assert_int_equal(group_leave(g, 2), 0);
	assert_int_equal(group_pick(g, TOPIC_HASH, 0, &id), -ENOENT);
	assert_int_equal(group_strategy(g), SL_GROUP_ROUND_ROBIN);
	group_destroy(g);
	group_destroy(NULL);
	assert_int_equal(group_create(SL_GROUP_NONE, 4, &bad), -EINVAL);
	assert_int_equal(group_create(SL_GROUP_STRATEGY_MAX + 1, 4, &bad), -EINVAL);
	assert_int_equal(group_create(SL_GROUP_WEIGHTED, 0, &bad), -EINVAL);
	assert_int_equal(group_create(SL_GROUP_WEIGHTED, GROUP_MEMBERS_MAX + 1, &bad), -EINVAL);
	/* Member ids: distinct for distinct subscriptions, the same in every process. */
	assert_true(group_member_id(1, 1) != group_member_id(1, 2));
	assert_true(group_member_id(1, 1) != group_member_id(2, 1));
	assert_true(group_member_id(1, 1) == group_member_id(1, 1));
}

static void test_group_reset_empties_and_changes_strategy(void **state)
{
	struct group *g = create(SL_GROUP_ROUND_ROBIN, 4);
	uint64_t id = 0;

	(void)state;
	assert_int_equal(group_join(g, 1, 1), 0);
	assert_int_equal(group_join(g, 2, 1), 0);
	(void)pick(g, 0);
	uint64_t gen = group_generation(g);
	assert_int_equal(group_reset(g, SL_GROUP_NONE), -EINVAL);
	assert_int_equal(group_size(g), 2); /* unchanged by a refused reset */
	assert_int_equal(group_reset(g, SL_GROUP_WEIGHTED), 0);
	assert_true(group_generation(g) > gen);
	assert_int_equal(group_size(g), 0);
	assert_int_equal(group_strategy(g), SL_GROUP_WEIGHTED);
	assert_int_equal(group_pick(g, TOPIC_HASH, 0, &id), -ENOENT);
	/* Reused: weights apply from the first pick, whatever the old rotation was. */
	assert_int_equal(group_join(g, 7, 3), 0);
	assert_int_equal(group_join(g, 8, 1), 0);
	unsigned sevens = 0;
	for (uint32_t i = 0; i < 4; i++) {
		sevens += pick(g, i) == 7;
	}
	assert_int_equal(sevens, 3);
	group_destroy(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_group_round_robin_takes_turns),
		cmocka_unit_test(test_group_weighted_holds_over_short_windows),
		cmocka_unit_test(test_group_key_affine_stable_across_membership),
		cmocka_unit_test(test_group_key_affine_independent_of_join_order),
		cmocka_unit_test(test_group_empty_full_and_errors),
		cmocka_unit_test(test_group_reset_empties_and_changes_strategy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
