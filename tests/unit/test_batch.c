/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Batches and the structures that hold them: events fill a frame up to its limit and the
 * sealed, stamped frame passes wire_decode with the right count, sequence and flags; the
 * pool is bounded; the timer heap pops in deadline order with removals anywhere; the
 * sequence map finds, removes and keeps finding across collisions.
 */
#include "client/client_int.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define TOPIC "metrics.cpu"

static struct batch *open_batch(struct batch_pool *bp, uint32_t frame_bytes)
{
	struct sl_wire_header h;
	struct batch *b = batch_pool_get(bp);

	assert_non_null(b);
	wire_header_init(&h, SL_WIRE_PRODUCE);
	h.producer_id = 7;
	h.producer_epoch = 3;
	h.partition = 2;
	h.ack_level = SL_ACKS_RECEIVED;
	assert_int_equal(batch_open(b, &h, TOPIC, strlen(TOPIC), frame_bytes), 0);
	return b;
}

static void test_batch_open_fills_frame_and_decodes(void **state)
{
	struct batch_pool bp;
	struct wire_frame f;
	struct wire_record_iter it;
	struct wire_record r;
	uint8_t value[64];
	unsigned n = 0;

	(void)state;
	assert_int_equal(batch_pool_init(&bp, 4, SL_WIRE_FRAME_BYTES_DEFAULT), 0);
	struct batch *b = open_batch(&bp, SL_WIRE_FRAME_BYTES_DEFAULT);
	uint32_t rec = wire_record_bytes(3, sizeof(value));
	while (batch_has_room(b, rec)) {
		memset(value, 'a' + (int)(n % 26), sizeof(value));
		assert_int_equal(wire_add_record(&b->wb, "key", 3, value, sizeof(value), n), 0);
		n++;
	}
	/* Exactly as many as the frame holds. */
	assert_int_equal(n, (SL_WIRE_FRAME_BYTES_DEFAULT - wire_prefix_bytes(strlen(TOPIC))) / rec);
	assert_int_equal(wire_add_record(&b->wb, "key", 3, value, sizeof(value), 0), -EMSGSIZE);
	batch_seal(b);
	batch_stamp(b, 41, SL_WIRE_FLAG_STREAM_HEAD);
	assert_true(b->wb.len <= SL_WIRE_FRAME_BYTES_DEFAULT);
	assert_int_equal(wire_decode(b->wb.buf, b->wb.len, SL_WIRE_FRAME_BYTES_DEFAULT, &f),
			 SL_WIRE_OK);
	assert_int_equal(f.hdr.record_count, n);
	assert_int_equal(f.hdr.sequence, 41);
	assert_int_equal(f.hdr.flags, SL_WIRE_FLAG_STREAM_HEAD);
	assert_int_equal(f.hdr.partition, 2);
	assert_int_equal(f.hdr.topic_len, strlen(TOPIC));
	wire_record_iter_init(&it, &f);
	for (unsigned i = 0; i < n; i++) {
		assert_true(wire_record_next(&it, &r));
		assert_int_equal(r.timestamp_ns, i);
		assert_int_equal(r.value[0], 'a' + (int)(i % 26));
	}
	assert_false(wire_record_next(&it, &r));
	/* A restamp (retransmit without STREAM_HEAD) still decodes: the CRC follows. */
	batch_stamp(b, 41, 0);
	assert_int_equal(wire_decode(b->wb.buf, b->wb.len, SL_WIRE_FRAME_BYTES_DEFAULT, &f),
			 SL_WIRE_OK);
	assert_int_equal(f.hdr.flags, 0);
	batch_pool_fini(&bp);
}

static void test_batch_open_rejects_topic_longer_than_frame(void **state)
{
	struct batch_pool bp;
	struct sl_wire_header h;
	char topic[SL_WIRE_TOPIC_BYTES_MAX];

	(void)state;
	memset(topic, 'a', sizeof(topic));
	assert_int_equal(batch_pool_init(&bp, 1, SL_WIRE_FRAME_BYTES_MIN), 0);
	struct batch *b = batch_pool_get(&bp);
	wire_header_init(&h, SL_WIRE_PRODUCE);
	assert_int_equal(batch_open(b, &h, topic, sizeof(topic), 64), -EMSGSIZE);
	assert_non_null(b->wb.buf);
	batch_pool_fini(&bp);
}

static void test_batch_pool_get_stops_at_bound(void **state)
{
	struct batch_pool bp;
	struct batch *got[300];

	(void)state;
	assert_int_equal(batch_pool_init(&bp, 300, 512), 0);
	for (unsigned i = 0; i < 300; i++) {
		got[i] = batch_pool_get(&bp);
		assert_non_null(got[i]);
		memset(got[i]->wb.buf, 0xab, 512); /* ASan: every buffer is 512 bytes */
	}
	assert_null(batch_pool_get(&bp));
	batch_pool_put(&bp, got[17]);
	assert_ptr_equal(batch_pool_get(&bp), got[17]);
	batch_pool_fini(&bp);
}

static void test_timer_heap_pops_in_deadline_order(void **state)
{
	enum { N = 500 };
	struct timer_heap h;
	struct batch *bs = calloc(N, sizeof(*bs));

	(void)state;
	assert_non_null(bs);
	assert_int_equal(timer_heap_init(&h, N), 0);
	srand(3);
	for (unsigned i = 0; i < N; i++) {
		bs[i].deadline_ns = (uint64_t)rand() % 10000;
		timer_heap_push(&h, &bs[i]);
	}
	/* Remove every third from anywhere in the heap. */
	for (unsigned i = 0; i < N; i += 3) {
		timer_heap_remove(&h, &bs[i]);
		assert_int_equal(bs[i].heap_pos, UINT32_MAX);
	}
	uint64_t last = 0;
	unsigned popped = 0;
	struct batch *b;
	while ((b = timer_heap_peek(&h)) != NULL) {
		assert_true(b->deadline_ns >= last);
		last = b->deadline_ns;
		timer_heap_remove(&h, b);
		popped++;
	}
	assert_int_equal(popped, N - (N + 2) / 3);
	timer_heap_fini(&h);
	free(bs);
}

static void test_seqmap_find_after_removals(void **state)
{
	enum { N = 1000 };
	struct seqmap m;
	struct stream s[3];
	struct batch *bs = calloc(N, sizeof(*bs));

	(void)state;
	assert_non_null(bs);
	memset(s, 0, sizeof(s));
	for (unsigned i = 0; i < 3; i++) {
		s[i].id = i;
	}
	assert_int_equal(seqmap_init(&m, N), 0);
	for (unsigned i = 0; i < N; i++) {
		bs[i].stream = &s[i % 3];
		bs[i].sequence = i / 3;
		seqmap_insert(&m, &bs[i]);
	}
	for (unsigned i = 0; i < N; i += 2) {
		seqmap_remove(&m, &bs[i]);
	}
	for (unsigned i = 0; i < N; i++) {
		struct batch *b = seqmap_find(&m, i % 3, i / 3);
		assert_ptr_equal(b, i % 2 == 0 ? NULL : &bs[i]);
	}
	assert_null(seqmap_find(&m, 5, 0));
	seqmap_fini(&m);
	free(bs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_open_fills_frame_and_decodes),
		cmocka_unit_test(test_batch_open_rejects_topic_longer_than_frame),
		cmocka_unit_test(test_batch_pool_get_stops_at_bound),
		cmocka_unit_test(test_timer_heap_pops_in_deadline_order),
		cmocka_unit_test(test_seqmap_find_after_removals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
