/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CRC32C against published test vectors (RFC 3720 appendix B.4, the "123456789" check
 * value) and hardware against software on random buffers of every length and offset.
 */
#include "core/crc32c.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void test_crc32c_extend_check_value(void **state)
{
	(void)state;
	assert_int_equal(crc32c_extend(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(crc32c_extend_sw(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(crc32c_extend(0, "", 0), 0);
}

/* RFC 3720 B.4: 32 bytes of zeros, of ones, incrementing and decrementing. */
static void test_crc32c_extend_rfc3720_vectors(void **state)
{
	uint8_t buf[32];

	(void)state;
	memset(buf, 0, sizeof(buf));
	assert_int_equal(crc32c_extend(0, buf, sizeof(buf)), 0x8a9136aau);
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(crc32c_extend(0, buf, sizeof(buf)), 0x62a8ab43u);
	for (int i = 0; i < 32; i++) {
		buf[i] = (uint8_t)i;
	}
	assert_int_equal(crc32c_extend(0, buf, sizeof(buf)), 0x46dd794eu);
	for (int i = 0; i < 32; i++) {
		buf[i] = (uint8_t)(31 - i);
	}
	assert_int_equal(crc32c_extend(0, buf, sizeof(buf)), 0x113fdb5cu);
	assert_int_equal(crc32c_extend_sw(0, buf, sizeof(buf)), 0x113fdb5cu);
}

static void test_crc32c_extend_hw_matches_sw(void **state)
{
	uint8_t buf[300];

	(void)state;
	srand(7);
	for (size_t i = 0; i < sizeof(buf); i++) {
		buf[i] = (uint8_t)rand();
	}
	for (size_t off = 0; off < 8; off++) {
		for (size_t len = 0; len + off <= sizeof(buf); len++) {
			assert_int_equal(crc32c_extend(0, buf + off, len),
					 crc32c_extend_sw(0, buf + off, len));
		}
	}
}

static void test_crc32c_extend_chains(void **state)
{
	const char *s = "The quick brown fox jumps over the lazy dog";
	size_t n = strlen(s);

	(void)state;
	uint32_t whole = crc32c_extend(0, s, n);
	for (size_t cut = 0; cut <= n; cut++) {
		uint32_t c = crc32c_extend(0, s, cut);
		assert_int_equal(crc32c_extend(c, s + cut, n - cut), whole);
		c = crc32c_extend_sw(0, s, cut);
		assert_int_equal(crc32c_extend_sw(c, s + cut, n - cut), whole);
	}
	assert_int_equal(whole, 0x22620404u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_extend_check_value),
		cmocka_unit_test(test_crc32c_extend_rfc3720_vectors),
		cmocka_unit_test(test_crc32c_extend_hw_matches_sw),
		cmocka_unit_test(test_crc32c_extend_chains),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
