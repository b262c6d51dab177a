/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The wire decoder and encoder: round trips of every frame type, and every rejection
 * path (truncated at every byte, bad CRC, bad counts, oversized, misaligned, unknown
 * version and type, reserved fields, invalid topics). Run under ASan, the truncation and
 * mutation tests also prove the decoder never reads past the datagram.
 */
#include "core/wire.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define FRAME_MAX SL_WIRE_FRAME_BYTES_DEFAULT

/* Builds a PRODUCE frame of `n` records in buf; returns its length. */
static uint32_t build_produce(uint8_t *buf, size_t cap, const char *topic, unsigned n)
{
	struct sl_wire_header h;
	struct wire_builder b;

	wire_header_init(&h, SL_WIRE_PRODUCE);
	h.producer_id = 0x1122334455667788ull;
	h.producer_epoch = 3;
	h.sequence = 42;
	h.partition = 5;
	h.ack_level = SL_ACKS_RECEIVED;
	assert_int_equal(wire_begin(&b, buf, cap, &h, topic, strlen(topic)), 0);
	for (unsigned i = 0; i < n; i++) {
		char key[16];
		char value[64];
		int kl = snprintf(key, sizeof(key), "k%u", i);
		memset(value, 'a' + (int)(i % 26), sizeof(value));
		assert_int_equal(wire_add_record(&b, key, (size_t)kl, value, 10 + i, 1000 + i), 0);
	}
	return wire_finish(&b);
}

/* Recomputes the CRC after a test edits a frame on purpose. */
static void reseal(uint8_t *buf, uint32_t len)
{
	wire_put_u32(buf + offsetof(struct sl_wire_header, crc32c), 0);
	wire_put_u32(buf + offsetof(struct sl_wire_header, crc32c), wire_frame_crc(buf, len));
}

static void test_wire_decode_produce_round_trip(void **state)
{
	uint8_t buf[FRAME_MAX];
	struct wire_frame f;
	struct wire_record_iter it;
	struct wire_record r;
	unsigned i = 0;

	(void)state;
	uint32_t len = build_produce(buf, sizeof(buf), "orders.eu", 7);
	assert_int_equal(len % SL_WIRE_ALIGN, 0);
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_OK);
	assert_int_equal(f.hdr.type, SL_WIRE_PRODUCE);
	assert_int_equal(f.hdr.record_count, 7);
	assert_int_equal(f.hdr.producer_epoch, 3);
	assert_int_equal(f.hdr.sequence, 42);
	assert_int_equal(f.hdr.partition, 5);
	assert_true(f.hdr.producer_id == 0x1122334455667788ull);
	assert_int_equal(f.hdr.topic_len, 9);
	assert_memory_equal(f.topic, "orders.eu", 9);
	wire_record_iter_init(&it, &f);
	while (wire_record_next(&it, &r)) {
		char key[16];
		int kl = snprintf(key, sizeof(key), "k%u", i);
		assert_int_equal(r.key_len, kl);
		assert_memory_equal(r.key, key, (size_t)kl);
		assert_int_equal(r.value_len, 10 + i);
		assert_int_equal(r.value[0], 'a' + (int)(i % 26));
		assert_true(r.timestamp_ns == 1000 + i);
		i++;
	}
	assert_int_equal(i, 7);
}

static void test_wire_decode_truncated_at_every_byte(void **state)
{
	uint8_t buf[FRAME_MAX];
	struct wire_frame f;

	(void)state;
	uint32_t len = build_produce(buf, sizeof(buf), "t", 5);
	for (uint32_t cut = 0; cut < len; cut++) {
		/* A heap copy of exactly `cut` bytes: ASan catches any read past it. */
		uint8_t *copy = malloc(cut == 0 ? 1 : cut);
		assert_non_null(copy);
		memcpy(copy, buf, cut);
		enum sl_wire_reject r = wire_decode(copy, cut, FRAME_MAX, &f);
		free(copy);
		assert_int_equal(r, SL_WIRE_REJECT_TRUNCATED);
	}
}

static void test_wire_decode_bad_crc_every_byte(void **state)
{
	uint8_t buf[FRAME_MAX];
	struct wire_frame f;

	(void)state;
	uint32_t len = build_produce(buf, sizeof(buf), "t", 3);
	/* Flipping a payload byte or a header byte the earlier checks ignore must be caught
	 * by the CRC; flipping fields checked before the CRC gives their own reason. */
	for (uint32_t i = SL_WIRE_HEADER_BYTES; i < len; i++) {
		buf[i] ^= 0x40;
		assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_REJECT_BAD_CRC);
		buf[i] ^= 0x40;
	}
	buf[offsetof(struct sl_wire_header, producer_id)] ^= 1;
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_REJECT_BAD_CRC);
	buf[offsetof(struct sl_wire_header, producer_id)] ^= 1;
	buf[offsetof(struct sl_wire_header, crc32c)] ^= 1;
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_REJECT_BAD_CRC);
}

static void test_wire_decode_bad_magic_version_type(void **state)
{
	uint8_t buf[FRAME_MAX];
	struct wire_frame f;

	(void)state;
	uint32_t len = build_produce(buf, sizeof(buf), "t", 1);
	buf[0] ^= 0xff;
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_REJECT_BAD_MAGIC);
	buf[0] ^= 0xff;
	buf[offsetof(struct sl_wire_header, version)] = 2;
	reseal(buf, len);
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_REJECT_BAD_VERSION);
	buf[offsetof(struct sl_wire_header, version)] = SL_WIRE_VERSION;
	const uint8_t bad_types[] = {0, 10, 15, 22, 200};
	for (size_t i = 0; i < sizeof(bad_types); i++) {
		buf[offsetof(struct sl_wire_header, type)] = bad_types[i];
		reseal(buf, len);
		assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_REJECT_BAD_TYPE);
	}
}

static void test_wire_decode_too_large(void **state)
{
	uint8_t buf[SL_WIRE_FRAME_BYTES_MAX];
	struct wire_frame f;
	struct sl_wire_header h;
	struct wire_builder b;
	uint8_t value[2000];

	(void)state;
	memset(value, 'v', sizeof(value));
	wire_header_init(&h, SL_WIRE_PRODUCE);
	assert_int_equal(wire_begin(&b, buf, sizeof(buf), &h, "big", 3), 0);
	assert_int_equal(wire_add_record(&b, NULL, 0, value, sizeof(value), 1), 0);
	uint32_t len = wire_finish(&b);
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_REJECT_TOO_LARGE);
	assert_int_equal(wire_decode(buf, len, SL_WIRE_FRAME_BYTES_MAX, &f), SL_WIRE_OK);
}

static void test_wire_decode_misaligned_payload(void **state)
{
	uint8_t buf[FRAME_MAX];
	struct wire_frame f;

	(void)state;
	uint32_t len = build_produce(buf, sizeof(buf), "t", 1);
	/* Claim three bytes fewer and send three bytes fewer: consistent but misaligned. */
	wire_put_u32(buf + offsetof(struct sl_wire_header, payload_len),
		     len - SL_WIRE_HEADER_BYTES - 3);
	reseal(buf, len - 3);
	assert_int_equal(wire_decode(buf, len - 3, FRAME_MAX, &f), SL_WIRE_REJECT_MISALIGNED);
}

static void test_wire_decode_trailing_bytes(void **state)
{
	uint8_t buf[FRAME_MAX];
	struct wire_frame f;

	(void)state;
	uint32_t len = build_produce(buf, sizeof(buf), "t", 1);
	memset(buf + len, 0, 8);
	assert_int_equal(wire_decode(buf, len + 8, FRAME_MAX, &f), SL_WIRE_REJECT_BAD_FIELD);
}

static void test_wire_decode_bad_counts(void **state)
{
	uint8_t buf[FRAME_MAX];
	struct wire_frame f;
	const size_t count_at = offsetof(struct sl_wire_header, record_count);

	(void)state;
	uint32_t len = build_produce(buf, sizeof(buf), "t", 4);
	const uint16_t bad[] = {0, 3, 5, 65535};
	for (size_t i = 0; i < 4; i++) {
		wire_put_u16(buf + count_at, bad[i]);
		reseal(buf, len);
		assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_REJECT_BAD_COUNT);
	}
	wire_put_u16(buf + count_at, 4);
	/* A record whose value length runs past the body. */
	uint32_t first = wire_prefix_bytes(1);
	wire_put_u32(buf + first, 5000);
	reseal(buf, len);
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_REJECT_BAD_COUNT);
	/* A key length that runs past the body. */
	wire_put_u32(buf + first, 10);
	wire_put_u16(buf + first + 4, 60000);
	reseal(buf, len);
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_REJECT_BAD_COUNT);
}

static void test_wire_decode_body_too_short_for_record(void **state)
{
	uint8_t buf[FRAME_MAX];
	struct wire_frame f;
	struct sl_wire_header h;
	struct wire_builder b;
	const uint8_t junk[8] = {1, 0, 0, 0, 0, 0, 0, 0};

	(void)state;
	wire_header_init(&h, SL_WIRE_PRODUCE);
	h.record_count = 1;
	assert_int_equal(wire_begin(&b, buf, sizeof(buf), &h, "t", 1), 0);
	assert_int_equal(wire_add_body(&b, junk, sizeof(junk)), 0);
	uint32_t len = wire_finish(&b);
	wire_put_u16(buf + offsetof(struct sl_wire_header, record_count), 1);
	reseal(buf, len);
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_REJECT_BAD_COUNT);
}

static void test_wire_decode_reserved_fields(void **state)
{
	uint8_t buf[FRAME_MAX];
	struct wire_frame f;

	(void)state;
	uint32_t len = build_produce(buf, sizeof(buf), "t", 1);
	wire_put_u16(buf + offsetof(struct sl_wire_header, flags), 0x8000);
	reseal(buf, len);
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_REJECT_BAD_FIELD);
	wire_put_u16(buf + offsetof(struct sl_wire_header, flags), SL_WIRE_FLAG_STREAM_HEAD);
	reseal(buf, len);
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_OK);
	wire_put_u32(buf + offsetof(struct sl_wire_header, reserved), 1);
	reseal(buf, len);
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_REJECT_BAD_FIELD);
	wire_put_u32(buf + offsetof(struct sl_wire_header, reserved), 0);
	buf[offsetof(struct sl_wire_header, ack_level)] = SL_ACKS_MAX + 1;
	reseal(buf, len);
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_REJECT_BAD_FIELD);
	buf[offsetof(struct sl_wire_header, ack_level)] = SL_ACKS_DURABLE;
	/* Record attributes are reserved too. */
	wire_put_u16(buf + wire_prefix_bytes(1) + 6, 1);
	reseal(buf, len);
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_REJECT_BAD_FIELD);
}

static void test_wire_decode_topic_len_past_payload(void **state)
{
	uint8_t buf[FRAME_MAX];
	struct wire_frame f;
	struct sl_wire_header h;
	struct wire_builder b;

	(void)state;
	wire_header_init(&h, SL_WIRE_PING);
	assert_int_equal(wire_begin(&b, buf, sizeof(buf), &h, NULL, 0), 0);
	assert_int_equal(wire_add_body(&b, "12345678", 8), 0);
	uint32_t len = wire_finish(&b);
	buf[offsetof(struct sl_wire_header, topic_len)] = 200;
	reseal(buf, len);
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_REJECT_TRUNCATED);
}

static void test_wire_decode_invalid_topics(void **state)
{
	uint8_t buf[FRAME_MAX];
	struct wire_frame f;
	const char *bad[] = {"", ".", "a.", ".a", "a..b", "a b", "a*", "a.>", "é"};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint32_t len = build_produce(buf, sizeof(buf), bad[i], 1);
		assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_REJECT_BAD_TOPIC);
	}
	uint32_t len = build_produce(buf, sizeof(buf), "Orders-2.eu_west.x", 1);
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_OK);
}

static void test_wire_topic_is_valid_lengths(void **state)
{
	uint8_t name[300];

	(void)state;
	memset(name, 'a', sizeof(name));
	assert_true(wire_topic_is_valid(name, 1));
	assert_true(wire_topic_is_valid(name, 255));
	assert_false(wire_topic_is_valid(name, 256));
	assert_false(wire_topic_is_valid(name, 0));
}

static void test_wire_add_record_full_frame(void **state)
{
	uint8_t buf[FRAME_MAX];
	struct sl_wire_header h;
	struct wire_builder b;
	uint8_t value[64] = {0};
	unsigned n = 0;

	(void)state;
	wire_header_init(&h, SL_WIRE_PRODUCE);
	assert_int_equal(wire_begin(&b, buf, sizeof(buf), &h, "t", 1), 0);
	while (wire_add_record(&b, NULL, 0, value, sizeof(value), 0) == 0) {
		n++;
	}
	uint32_t before = b.len;
	assert_int_equal(wire_add_record(&b, NULL, 0, value, sizeof(value), 0), -EMSGSIZE);
	assert_int_equal(b.len, before);
	/* (1472 - 56) / (16 + 64) records of 64 bytes fit one default frame. */
	assert_int_equal(n, (FRAME_MAX - wire_prefix_bytes(1)) / wire_record_bytes(0, 64));
	assert_int_equal(wire_add_record(&b, value, 70000, NULL, 0, 0), -EINVAL);
	struct wire_frame f;
	assert_int_equal(wire_decode(buf, wire_finish(&b), FRAME_MAX, &f), SL_WIRE_OK);
	assert_int_equal(f.hdr.record_count, n);
}

static void test_wire_begin_errors(void **state)
{
	uint8_t buf[64];
	uint8_t topic[256];
	struct sl_wire_header h;
	struct wire_builder b;

	(void)state;
	memset(topic, 'a', sizeof(topic));
	wire_header_init(&h, SL_WIRE_PRODUCE);
	assert_int_equal(wire_begin(&b, buf, sizeof(buf), &h, topic, 256), -EINVAL);
	assert_int_equal(wire_begin(&b, buf, sizeof(buf), &h, topic, 40), -EMSGSIZE);
	assert_int_equal(wire_begin(&b, buf, 47, &h, NULL, 0), -EMSGSIZE);
}

static void test_wire_decode_ack_nack_round_trip(void **state)
{
	uint8_t buf[FRAME_MAX];
	uint8_t body[16];
	struct sl_wire_header req;
	struct sl_wire_header h;
	struct wire_builder b;
	struct wire_frame f;
	struct sl_wire_ack ack = {.base_offset = 99, .status = SL_ACK_DUPLICATE, .ack_level = 1};
	struct sl_wire_ack ack2;
	struct sl_wire_nack nack = {.reason = SL_NACK_OUT_OF_SEQUENCE, .detail = 7, .expected = 12};
	struct sl_wire_nack nack2;

	(void)state;
	wire_header_init(&req, SL_WIRE_PRODUCE);
	req.producer_id = 5;
	req.sequence = 11;
	req.partition = 2;
	req.topic_len = 3;
	wire_reply_header(&h, &req, SL_WIRE_ACK);
	h.record_count = 4;
	wire_ack_write(body, &ack);
	assert_int_equal(wire_begin(&b, buf, sizeof(buf), &h, "abc", 3), 0);
	assert_int_equal(wire_add_body(&b, body, sizeof(body)), 0);
	assert_int_equal(wire_decode(buf, wire_finish(&b), FRAME_MAX, &f), SL_WIRE_OK);
	assert_int_equal(f.hdr.type, SL_WIRE_ACK);
	assert_int_equal(f.hdr.sequence, 11);
	assert_int_equal(f.hdr.partition, 2);
	assert_int_equal(f.hdr.record_count, 4);
	wire_ack_read(f.body, &ack2);
	assert_true(ack2.base_offset == 99);
	assert_int_equal(ack2.status, SL_ACK_DUPLICATE);

	wire_reply_header(&h, &req, SL_WIRE_NACK);
	wire_nack_write(body, &nack);
	assert_int_equal(wire_begin(&b, buf, sizeof(buf), &h, "abc", 3), 0);
	assert_int_equal(wire_add_body(&b, body, sizeof(body)), 0);
	assert_int_equal(wire_decode(buf, wire_finish(&b), FRAME_MAX, &f), SL_WIRE_OK);
	wire_nack_read(f.body, &nack2);
	assert_int_equal(nack2.reason, SL_NACK_OUT_OF_SEQUENCE);
	assert_int_equal(nack2.detail, 7);
	assert_true(nack2.expected == 12);

	/* An ACK body of the wrong size is inconsistent. */
	wire_reply_header(&h, &req, SL_WIRE_ACK);
	assert_int_equal(wire_begin(&b, buf, sizeof(buf), &h, "abc", 3), 0);
	assert_int_equal(wire_add_body(&b, body, 8), 0);
	assert_int_equal(wire_decode(buf, wire_finish(&b), FRAME_MAX, &f),
			 SL_WIRE_REJECT_BAD_COUNT);
}

static void test_wire_decode_metadata_and_stats(void **state)
{
	uint8_t buf[FRAME_MAX];
	uint8_t body[16];
	struct sl_wire_header h;
	struct wire_builder b;
	struct wire_frame f;
	struct sl_wire_metadata m = {.frame_bytes_max = 1472,
				     .partitions_default = 8,
				     .shards = 2,
				     .topic_count = 1,
				     .auto_create = 1,
				     .stream_batches_max = 0x0420};
	struct sl_wire_topic_entry e = {.partitions = 4, .name_len = 3};
	struct sl_wire_stats s = {.shard = 1, .shards = 2, .counter_count = 3};
	uint64_t counters[3] = {1, 2, 3};

	(void)state;
	wire_header_init(&h, SL_WIRE_METADATA_RESPONSE);
	wire_metadata_write(body, &m);
	/* stream_batches_max: u16 at 14, little-endian, after a reserved zero byte. */
	assert_int_equal(body[12], 1);
	assert_int_equal(body[13], 0);
	assert_int_equal(body[14], 0x20);
	assert_int_equal(body[15], 0x04);
	assert_int_equal(wire_get_u16(body + 14), 0x0420);
	assert_int_equal(wire_begin(&b, buf, sizeof(buf), &h, NULL, 0), 0);
	assert_int_equal(wire_add_body(&b, body, 16), 0);
	assert_int_equal(wire_add_body(&b, &e, sizeof(e)), 0);
	assert_int_equal(wire_add_body(&b, "abc", 3), 0);
	uint32_t len = wire_finish(&b);
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_OK);
	/* One topic more than the body holds. */
	m.topic_count = 2;
	wire_metadata_write(buf + SL_WIRE_HEADER_BYTES, &m);
	reseal(buf, len);
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_REJECT_BAD_COUNT);

	wire_header_init(&h, SL_WIRE_STATS_RESPONSE);
	wire_stats_write(body, &s);
	assert_int_equal(wire_begin(&b, buf, sizeof(buf), &h, NULL, 0), 0);
	assert_int_equal(wire_add_body(&b, body, 16), 0);
	assert_int_equal(wire_add_body(&b, counters, sizeof(counters)), 0);
	len = wire_finish(&b);
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_OK);
	s.counter_count = 4;
	wire_stats_write(buf + SL_WIRE_HEADER_BYTES, &s);
	reseal(buf, len);
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_REJECT_BAD_COUNT);
}

/* Random mutations of valid frames: any result but a crash or an over-read. */
static void test_wire_decode_random_mutations(void **state)
{
	uint8_t buf[FRAME_MAX];
	struct wire_frame f;
	uint64_t seed = 12345;

	(void)state;
	uint32_t len = build_produce(buf, sizeof(buf), "fuzz.me", 9);
	for (int round = 0; round < 20000; round++) {
		uint8_t copy[FRAME_MAX];
		memcpy(copy, buf, len);
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		unsigned flips = 1 + (unsigned)(seed >> 60);
		for (unsigned k = 0; k < flips; k++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			copy[(seed >> 33) % len] ^= (uint8_t)(seed >> 8);
		}
		if (round % 2 == 0) {
			reseal(copy, len); /* get past the CRC to reach the body checks */
		}
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		uint32_t cut = (round % 3 == 0) ? (uint32_t)((seed >> 33) % (len + 1)) : len;
		enum sl_wire_reject r = wire_decode(copy, cut, FRAME_MAX, &f);
		assert_true((unsigned)r <= SL_WIRE_REJECT_MAX);
		if (r == SL_WIRE_OK && f.hdr.type == SL_WIRE_PRODUCE) {
			struct wire_record_iter it;
			struct wire_record rec;
			unsigned n = 0;
			wire_record_iter_init(&it, &f);
			while (wire_record_next(&it, &rec)) {
				assert_true(rec.value + rec.value_len <= copy + cut);
				n++;
			}
			assert_int_equal(n, f.hdr.record_count);
		}
	}
}

static void test_wire_names_cover_every_value(void **state)
{
	(void)state;
	for (unsigned i = 0; i < SL_STAT_COUNT; i++) {
		assert_non_null(wire_stat_name(i));
	}
	assert_null(wire_stat_name(SL_STAT_COUNT));
	for (unsigned i = 0; i <= SL_WIRE_REJECT_MAX; i++) {
		assert_non_null(wire_reject_name((enum sl_wire_reject)i));
		assert_true(wire_reject_stat((enum sl_wire_reject)i) < SL_STAT_COUNT);
	}
	for (unsigned i = 1; i <= SL_NACK_REASON_MAX; i++) {
		assert_string_not_equal(wire_nack_reason_name(i), "unknown");
	}
	assert_string_equal(wire_type_name(SL_WIRE_PRODUCE), "produce");
	assert_string_equal(wire_type_name(12), "unknown");
	assert_int_equal(wire_reject_nack_reason(SL_WIRE_REJECT_BAD_CRC), SL_NACK_BAD_CRC);
	assert_int_equal(wire_reject_nack_reason(SL_WIRE_REJECT_TRUNCATED), SL_NACK_MALFORMED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wire_decode_produce_round_trip),
		cmocka_unit_test(test_wire_decode_truncated_at_every_byte),
		cmocka_unit_test(test_wire_decode_bad_crc_every_byte),
		cmocka_unit_test(test_wire_decode_bad_magic_version_type),
		cmocka_unit_test(test_wire_decode_too_large),
		cmocka_unit_test(test_wire_decode_misaligned_payload),
		cmocka_unit_test(test_wire_decode_trailing_bytes),
		cmocka_unit_test(test_wire_decode_bad_counts),
		cmocka_unit_test(test_wire_decode_body_too_short_for_record),
		cmocka_unit_test(test_wire_decode_reserved_fields),
		cmocka_unit_test(test_wire_decode_topic_len_past_payload),
		cmocka_unit_test(test_wire_decode_invalid_topics),
		cmocka_unit_test(test_wire_topic_is_valid_lengths),
		cmocka_unit_test(test_wire_add_record_full_frame),
		cmocka_unit_test(test_wire_begin_errors),
		cmocka_unit_test(test_wire_decode_ack_nack_round_trip),
		cmocka_unit_test(test_wire_decode_metadata_and_stats),
		cmocka_unit_test(test_wire_decode_random_mutations),
		cmocka_unit_test(test_wire_names_cover_every_value),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
