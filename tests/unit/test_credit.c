/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Credit arithmetic: batch and byte windows, either or both; CREDIT frames that are
 * lost (the next one makes good), repeated, reordered (stale, ignored) or ahead of what
 * was sent (refused); a window changed without consuming.
 */
#include "route/credit.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define FRAME 1000u

static struct sl_wire_credit consumed(uint64_t batches, uint64_t bytes, uint32_t window_batches,
				      uint64_t window_bytes)
{
	return (struct sl_wire_credit){.consumed_batches = batches,
				       .consumed_bytes = bytes,
				       .window_batches = window_batches,
				       .window_bytes = window_bytes};
}

/* Sends while credit allows; returns how many went. */
static unsigned send_all(struct credit *c, uint32_t frame_bytes)
{
	unsigned n = 0;

	while (credit_allows(c, frame_bytes) && n < 1000000) {
		credit_sent(c, frame_bytes);
		n++;
	}
	return n;
}

static void test_credit_batch_window(void **state)
{
	struct credit c;

	(void)state;
	credit_init(&c, 4, 0);
	assert_int_equal(send_all(&c, FRAME), 4);
	struct sl_wire_credit m = consumed(3, 3 * FRAME, 4, 0);
	assert_int_equal(credit_update(&c, &m), CREDIT_APPLIED);
	assert_int_equal(send_all(&c, FRAME), 3);
	assert_int_equal(credit_outstanding_batches(&c), 4);
	/* A lost CREDIT (5 consumed) is made good by the next (7 consumed). */
	m = consumed(7, 7 * FRAME, 4, 0);
	assert_int_equal(credit_update(&c, &m), CREDIT_APPLIED);
	assert_int_equal(send_all(&c, FRAME), 4);
	assert_int_equal(c.sent_batches, 11);
}

static void test_credit_byte_window_and_both(void **state)
{
	struct credit c;

	(void)state;
	credit_init(&c, 0, 3500);
	assert_int_equal(send_all(&c, FRAME), 3); /* a fourth would need 4000 bytes */
	assert_true(credit_allows(&c, 500));
	struct sl_wire_credit m = consumed(1, FRAME, 0, 3500);
	assert_int_equal(credit_update(&c, &m), CREDIT_APPLIED);
	assert_int_equal(send_all(&c, FRAME), 1);

	credit_init(&c, 2, 100000); /* both: the batch limit binds */
	assert_int_equal(send_all(&c, FRAME), 2);
	credit_init(&c, 100, 2500); /* both: the byte limit binds */
	assert_int_equal(send_all(&c, FRAME), 2);
}

static void test_credit_stale_ahead_and_window_change(void **state)
{
	struct credit c;

	(void)state;
	credit_init(&c, 10, 0);
	assert_int_equal(send_all(&c, FRAME), 10);
	struct sl_wire_credit newer = consumed(6, 6 * FRAME, 10, 0);
	struct sl_wire_credit older = consumed(4, 4 * FRAME, 20, 0);
	assert_int_equal(credit_update(&c, &newer), CREDIT_APPLIED);
	assert_int_equal(credit_update(&c, &older), CREDIT_STALE); /* reordered: ignored */
	assert_int_equal(c.window_batches, 10);
	assert_int_equal(credit_update(&c, &newer), CREDIT_APPLIED); /* repeated: harmless */
	assert_int_equal(c.consumed_batches, 6);
	/* Inconsistent totals (batches newer, bytes older) are not newer. */
	struct sl_wire_credit mixed = consumed(7, 5 * FRAME, 10, 0);
	assert_int_equal(credit_update(&c, &mixed), CREDIT_STALE);
	/* More consumed than sent: refused, nothing changes. */
	struct sl_wire_credit ahead = consumed(11, 11 * FRAME, 50, 0);
	assert_int_equal(credit_update(&c, &ahead), CREDIT_AHEAD);
	assert_int_equal(c.consumed_batches, 6);
	assert_int_equal(c.window_batches, 10);
	/* The same totals with a larger window: more may go at once. */
	struct sl_wire_credit wider = consumed(6, 6 * FRAME, 12, 0);
	assert_int_equal(credit_update(&c, &wider), CREDIT_APPLIED);
	assert_int_equal(send_all(&c, FRAME), 8);
	/* A smaller window stops sending until enough is consumed. */
	struct sl_wire_credit narrower = consumed(6, 6 * FRAME, 4, 0);
	assert_int_equal(credit_update(&c, &narrower), CREDIT_APPLIED);
	assert_false(credit_allows(&c, FRAME));
	struct sl_wire_credit caught_up = consumed(15, 15 * FRAME, 4, 0);
	assert_int_equal(credit_update(&c, &caught_up), CREDIT_APPLIED);
	assert_int_equal(send_all(&c, FRAME), 1);
}

/* The largest DELIVER (of the largest PRODUCE) fits the smallest byte window whole. */
static void test_credit_smallest_byte_window_holds_the_largest_deliver(void **state)
{
	struct credit c;

	(void)state;
	credit_init(&c, 0, SL_WIRE_WINDOW_BYTES_MIN);
	assert_true(credit_allows(&c, SL_WIRE_PRODUCE_BYTES_MAX + SL_WIRE_DELIVER_EXTRA_BYTES));
	credit_sent(&c, SL_WIRE_PRODUCE_BYTES_MAX + SL_WIRE_DELIVER_EXTRA_BYTES);
	assert_false(credit_allows(&c, SL_WIRE_HEADER_BYTES));
}

/* After a CREDIT ahead of what was sent, everything sent counts as consumed. */
static void test_credit_resync_takes_everything_sent_as_consumed(void **state)
{
	struct credit c;

	(void)state;
	credit_init(&c, 2, 0);
	assert_int_equal(send_all(&c, FRAME), 2);
	struct sl_wire_credit ahead = consumed(7, 7 * FRAME, 2, 0);
	assert_int_equal(credit_update(&c, &ahead), CREDIT_AHEAD);
	credit_resync(&c);
	assert_int_equal(credit_outstanding_batches(&c), 0);
	assert_int_equal(credit_outstanding_bytes(&c), 0);
	assert_int_equal(send_all(&c, FRAME), 2);
	/* Totals counted from the next DELIVER's numbers (2, 2 * FRAME) apply. */
	struct sl_wire_credit resynced = consumed(3, 3 * FRAME, 2, 0);
	assert_int_equal(credit_update(&c, &resynced), CREDIT_APPLIED);
	assert_int_equal(send_all(&c, FRAME), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_credit_batch_window),
		cmocka_unit_test(test_credit_byte_window_and_both),
		cmocka_unit_test(test_credit_stale_ahead_and_window_change),
		cmocka_unit_test(test_credit_smallest_byte_window_holds_the_largest_deliver),
		cmocka_unit_test(test_credit_resync_takes_everything_sent_as_consumed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
