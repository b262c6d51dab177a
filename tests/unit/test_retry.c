/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The retry policy and error strings: exponential backoff with its cap, the adaptive
 * retransmit timeout,
 * which NACK reasons are transient and which fail a batch, and sl_strerror for errno
 * values and every router refusal.
 */
#include "client/client_int.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_retry_backoff_ns_doubles_up_to_cap(void **state)
{
	(void)state;
	assert_int_equal(retry_backoff_ns(0, 20000, 500000), 20000000ull);
	assert_int_equal(retry_backoff_ns(1, 20000, 500000), 40000000ull);
	assert_int_equal(retry_backoff_ns(4, 20000, 500000), 320000000ull);
	assert_int_equal(retry_backoff_ns(5, 20000, 500000), 500000000ull);
	assert_int_equal(retry_backoff_ns(1000, 20000, 500000), 500000000ull);
	assert_int_equal(retry_backoff_ns(3, 7, 7), 7000ull);
}

static void test_retry_rto_us_is_the_floor_until_round_trips_exceed_it(void **state)
{
	struct retry_rtt r;

	(void)state;
	retry_rtt_init(&r, 20000);
	assert_int_equal(retry_rto_us(&r, 20000, 500000), 20000);
	/* Steady 50 us round trips: the configured floor stays. */
	for (int i = 0; i < 100; i++) {
		retry_rtt_sample(&r, 50000);
	}
	assert_int_equal(retry_rto_us(&r, 20000, 500000), 20000);
	/* A loaded host: round trips of 30 and 50 ms move the timeout above them all. */
	for (int i = 0; i < 100; i++) {
		retry_rtt_sample(&r, i % 2 == 0 ? 30000000 : 50000000);
	}
	uint32_t rto = retry_rto_us(&r, 20000, 500000);
	assert_true(rto > 50000 && rto < 100000);
	/* Never above the cap. */
	for (int i = 0; i < 100; i++) {
		retry_rtt_sample(&r, 2000000000);
	}
	assert_int_equal(retry_rto_us(&r, 20000, 500000), 500000);
}

static void test_retry_nack_action_transient_and_permanent(void **state)
{
	(void)state;
	assert_int_equal(retry_nack_action(SL_NACK_BUSY), RETRY_NACK_WAIT);
	assert_int_equal(retry_nack_action(SL_NACK_BAD_CRC), RETRY_NACK_WAIT);
	assert_int_equal(retry_nack_action(SL_NACK_OUT_OF_SEQUENCE), RETRY_NACK_RESYNC);
	const unsigned permanent[] = {
		SL_NACK_MALFORMED,     SL_NACK_UNSUPPORTED_VERSION,
		SL_NACK_UNKNOWN_TOPIC, SL_NACK_TOO_LARGE,
		SL_NACK_STORAGE,       SL_NACK_UNAUTHORIZED,
		SL_NACK_FENCED,	       SL_NACK_UNSUPPORTED_TYPE,
	};
	for (size_t i = 0; i < sizeof(permanent) / sizeof(permanent[0]); i++) {
		assert_int_equal(retry_nack_action(permanent[i]), RETRY_NACK_FAIL);
	}
	assert_int_equal(retry_nack_action(0), RETRY_NACK_INVALID);
	assert_int_equal(retry_nack_action(SL_NACK_REASON_MAX + 1), RETRY_NACK_INVALID);
}

static void test_retry_nack_error_maps_to_sl_errors(void **state)
{
	(void)state;
	assert_int_equal(retry_nack_error(SL_NACK_UNKNOWN_TOPIC), -SL_EUNKNOWNTOPIC);
	assert_int_equal(retry_nack_error(SL_NACK_FENCED), -SL_EFENCED);
	assert_int_equal(retry_nack_error(SL_NACK_UNSUPPORTED_TYPE), -SL_EUNSUPPORTED);
	assert_int_equal(retry_nack_error(SL_NACK_MALFORMED), -SL_EMALFORMED);
}

static void test_sl_strerror_names_errno_and_router_errors(void **state)
{
	(void)state;
	assert_string_equal(sl_strerror(0), "success");
	assert_string_equal(sl_strerror(-ETIMEDOUT), strerror(ETIMEDOUT));
	assert_string_equal(sl_strerror(-EAGAIN), strerror(EAGAIN));
	assert_string_equal(sl_strerror(-SL_EUNKNOWNTOPIC), "router: unknown topic or partition");
	assert_string_equal(sl_strerror(-SL_ESTORAGE), "router: durable storage unavailable");
	/* Every NACK reason has its own text. */
	for (int e = SL_EMALFORMED; e <= SL_ENACK_BASE + SL_NACK_REASON_MAX; e++) {
		const char *s = sl_strerror(-e);
		assert_non_null(s);
		assert_true(strncmp(s, "router: ", 8) == 0);
		assert_string_not_equal(s, "router: unknown refusal");
	}
	assert_string_equal(sl_strerror(-(SL_ENACK_BASE + 99)), "router: unknown refusal");
	assert_non_null(sl_strerror(-100000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retry_backoff_ns_doubles_up_to_cap),
		cmocka_unit_test(test_retry_rto_us_is_the_floor_until_round_trips_exceed_it),
		cmocka_unit_test(test_retry_nack_action_transient_and_permanent),
		cmocka_unit_test(test_retry_nack_error_maps_to_sl_errors),
		cmocka_unit_test(test_sl_strerror_names_errno_and_router_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
