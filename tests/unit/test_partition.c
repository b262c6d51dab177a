/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The producer's partitioner: keyed events map to crc32c(key) mod partitions, stable
 * for a key and spread evenly over partitions. (The keyless sticky round robin is
 * tested through the producer in test_producer.c.)
 */
#include "client/client_int.h"
#include "core/crc32c.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static void test_partition_for_key_is_crc32c_mod_partitions(void **state)
{
	(void)state;
	/* crc32c("123456789") = 0xe3069283 = 3808858755 (RFC 3720 check value) */
	assert_int_equal(partition_for_key("123456789", 9, 1), 0);
	assert_int_equal(partition_for_key("123456789", 9, 7), 0xe3069283u % 7);
	assert_int_equal(partition_for_key("123456789", 9, 1000), 755);
}

static void test_partition_for_key_is_stable(void **state)
{
	(void)state;
	for (unsigned i = 0; i < 1000; i++) {
		char key[32];
		int n = snprintf(key, sizeof(key), "user-%u", i);
		uint32_t a = partition_for_key(key, (size_t)n, 12);
		assert_true(a < 12);
		assert_int_equal(partition_for_key(key, (size_t)n, 12), a);
		assert_int_equal(a, crc32c_extend(0, key, (size_t)n) % 12);
	}
}

static void test_partition_for_key_spreads_evenly(void **state)
{
	enum { PARTITIONS = 8, KEYS = 80000 };
	unsigned count[PARTITIONS] = {0};

	(void)state;
	for (unsigned i = 0; i < KEYS; i++) {
		char key[32];
		int n = snprintf(key, sizeof(key), "device-%u", i);
		count[partition_for_key(key, (size_t)n, PARTITIONS)]++;
	}
	/* Each partition within 5% of the mean (10000). */
	for (unsigned i = 0; i < PARTITIONS; i++) {
		assert_in_range(count[i], 9500, 10500);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_partition_for_key_is_crc32c_mod_partitions),
		cmocka_unit_test(test_partition_for_key_is_stable),
		cmocka_unit_test(test_partition_for_key_spreads_evenly),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
