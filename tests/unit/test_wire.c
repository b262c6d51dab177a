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
	const uint8_t bad_types[] = {0, 10, 15, 23, 200};
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
	/* aux is DELIVER's alone. */
	wire_put_u32(buf + offsetof(struct sl_wire_header, aux), 1);
	reseal(buf, len);
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_REJECT_BAD_FIELD);
	wire_put_u32(buf + offsetof(struct sl_wire_header, aux), 0);
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
	struct sl_wire_metadata m = {.produce_bytes_max = 1456,
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

/* --- subscription frames --- */

#define SUB_ID 0xabcdef0123456789ull

/* A SUBSCRIBE in a group starting at offsets, with its parts kept for edits. */
struct sub_sample {
	struct wire_subscribe s;
	struct sl_wire_start_offset offsets[3];
};

static void sub_sample_init(struct sub_sample *x)
{
	memset(x, 0, sizeof(*x));
	x->s.subscriber_id = SUB_ID;
	x->s.subscription_id = 7;
	x->s.pattern = (const uint8_t *)"orders.*.>";
	x->s.pattern_len = 10;
	x->s.group = (const uint8_t *)"billing";
	x->s.offsets_topic = (const uint8_t *)"orders.eu.paid";
	x->s.params = (struct sl_wire_subscribe){.window_batches = 64,
						 .window_bytes = 1u << 20,
						 .weight = 3,
						 .start = SL_START_OFFSETS,
						 .start_fallback = SL_START_EARLIEST,
						 .strategy = SL_GROUP_WEIGHTED,
						 .slow_policy = SL_SLOW_DROP,
						 .group_len = 7,
						 .offsets_topic_len = 14,
						 .offset_count = 3};
	for (uint32_t i = 0; i < 3; i++) {
		x->offsets[i] =
			(struct sl_wire_start_offset){.partition = 2 * i, .offset = 100 + i};
	}
}

static uint32_t sub_sample_encode(const struct sub_sample *x, uint8_t *buf, size_t cap)
{
	uint32_t len = 0;

	assert_int_equal(wire_subscribe_encode(buf, cap, &x->s, x->offsets, &len), 0);
	return len;
}

/* Decodes a sample after an edit: the rejection and the problem it names. */
static void expect_subscribe_reject(const struct sub_sample *x, enum sl_wire_reject want,
				    enum sl_sub_error why)
{
	uint8_t buf[FRAME_MAX];
	struct wire_frame f;

	uint32_t len = sub_sample_encode(x, buf, sizeof(buf));
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), want);
	assert_int_equal(f.sub_error, why);
	uint32_t detail = why != SL_SUB_OK ? (uint32_t)why : (uint32_t)want;
	assert_int_equal(wire_reject_nack_detail(want, &f), detail);
}

static void test_wire_subscribe_round_trip(void **state)
{
	uint8_t buf[FRAME_MAX];
	struct sub_sample x;
	struct wire_frame f;
	struct wire_subscribe s;
	struct sl_wire_start_offset o;
	enum sl_sub_error why;

	(void)state;
	sub_sample_init(&x);
	uint32_t len = sub_sample_encode(&x, buf, sizeof(buf));
	/* header, pattern 16, body 32, group 8, topic 16, offsets 48 */
	assert_int_equal(len, 48 + 16 + 32 + 8 + 16 + 48);
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_OK);
	assert_int_equal(f.hdr.type, SL_WIRE_SUBSCRIBE);
	assert_int_equal(f.sub_error, SL_SUB_OK);
	assert_int_equal(wire_subscribe_parse(&f, &s, &why), SL_WIRE_OK);
	assert_true(s.subscriber_id == SUB_ID);
	assert_int_equal(s.subscription_id, 7);
	assert_int_equal(s.pattern_len, 10);
	assert_memory_equal(s.pattern, "orders.*.>", 10);
	assert_memory_equal(&s.params, &x.s.params, sizeof(s.params));
	assert_memory_equal(s.group, "billing", 7);
	assert_memory_equal(s.offsets_topic, "orders.eu.paid", 14);
	for (uint32_t i = 0; i < 3; i++) {
		wire_start_offset_at(&s, i, &o);
		assert_int_equal(o.partition, 2 * i);
		assert_true(o.offset == 100 + i);
	}
	/* Alone, from the latest batch: no names, no offsets. */
	x.s.params = (struct sl_wire_subscribe){.window_batches = 1};
	len = sub_sample_encode(&x, buf, sizeof(buf));
	assert_int_equal(len, 48 + 16 + 32);
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_OK);
	assert_int_equal(wire_subscribe_parse(&f, &s, &why), SL_WIRE_OK);
	assert_null(s.group);
	assert_null(s.offsets_topic);
	assert_null(s.offsets);
	assert_int_equal(wire_subscribe_encode(buf, len - 1, &x.s, x.offsets, &len), -EMSGSIZE);
}

static void test_wire_subscribe_rejects_name_the_problem(void **state)
{
	struct sub_sample x;

	(void)state;
	sub_sample_init(&x);
	x.s.pattern = (const uint8_t *)"orders.>.x";
	expect_subscribe_reject(&x, SL_WIRE_REJECT_BAD_PATTERN, SL_SUB_PATTERN_TAIL_NOT_LAST);
	x.s.pattern_len = 0;
	expect_subscribe_reject(&x, SL_WIRE_REJECT_BAD_PATTERN, SL_SUB_PATTERN_EMPTY);

	sub_sample_init(&x);
	x.s.params.window_batches = 0;
	x.s.params.window_bytes = 0;
	expect_subscribe_reject(&x, SL_WIRE_REJECT_BAD_CREDIT, SL_SUB_WINDOW_UNLIMITED);
	x.s.params.window_batches = SL_WIRE_WINDOW_BATCHES_MAX + 1;
	expect_subscribe_reject(&x, SL_WIRE_REJECT_BAD_CREDIT, SL_SUB_WINDOW_BATCHES);
	x.s.params.window_batches = SL_WIRE_WINDOW_BATCHES_MAX;
	x.s.params.window_bytes = SL_WIRE_WINDOW_BYTES_MIN - 1;
	expect_subscribe_reject(&x, SL_WIRE_REJECT_BAD_CREDIT, SL_SUB_WINDOW_BYTES);
	x.s.params.window_bytes = SL_WIRE_WINDOW_BYTES_MAX + 1;
	expect_subscribe_reject(&x, SL_WIRE_REJECT_BAD_CREDIT, SL_SUB_WINDOW_BYTES);
	x.s.params.window_bytes = SL_WIRE_WINDOW_BYTES_MAX;
	expect_subscribe_reject(&x, SL_WIRE_OK, SL_SUB_OK);

	sub_sample_init(&x);
	x.s.group = (const uint8_t *)"bill ng";
	expect_subscribe_reject(&x, SL_WIRE_REJECT_BAD_GROUP, SL_SUB_GROUP_NAME);
	sub_sample_init(&x);
	x.s.params.weight = SL_WIRE_WEIGHT_MAX + 1;
	expect_subscribe_reject(&x, SL_WIRE_REJECT_BAD_GROUP, SL_SUB_GROUP_WEIGHT);
	x.s.params.weight = 0;
	expect_subscribe_reject(&x, SL_WIRE_REJECT_BAD_GROUP, SL_SUB_GROUP_WEIGHT);
	x.s.params.weight = 1;
	x.s.params.strategy = SL_GROUP_NONE;
	expect_subscribe_reject(&x, SL_WIRE_REJECT_BAD_GROUP, SL_SUB_GROUP_STRATEGY);
	x.s.params.strategy = SL_GROUP_STRATEGY_MAX + 1;
	expect_subscribe_reject(&x, SL_WIRE_REJECT_BAD_GROUP, SL_SUB_GROUP_STRATEGY);
	x.s.params.group_len = 0; /* alone, yet a strategy */
	x.s.params.strategy = SL_GROUP_ROUND_ROBIN;
	expect_subscribe_reject(&x, SL_WIRE_REJECT_BAD_GROUP, SL_SUB_GROUP_STRATEGY);
	x.s.params.strategy = SL_GROUP_NONE; /* alone, yet a weight */
	expect_subscribe_reject(&x, SL_WIRE_REJECT_BAD_GROUP, SL_SUB_GROUP_WEIGHT);

	sub_sample_init(&x);
	x.s.params.start = SL_START_MAX + 1;
	expect_subscribe_reject(&x, SL_WIRE_REJECT_BAD_START, SL_SUB_START_KIND);
	x.s.params.start = SL_START_OFFSETS;
	x.s.params.start_fallback = SL_START_TIMESTAMP;
	expect_subscribe_reject(&x, SL_WIRE_REJECT_BAD_START, SL_SUB_START_KIND);
	x.s.params.start_fallback = SL_START_LATEST;
	x.s.params.start_value = 5;
	expect_subscribe_reject(&x, SL_WIRE_REJECT_BAD_START, SL_SUB_START_VALUE);
	x.s.params.start_value = 0;
	x.s.offsets_topic = (const uint8_t *)"orders.eu-paid"; /* one token short of "*.>" */
	expect_subscribe_reject(&x, SL_WIRE_REJECT_BAD_START, SL_SUB_START_TOPIC);
	x.s.offsets_topic = (const uint8_t *)"orders.eu.paid";
	x.offsets[2].partition = 2;
	expect_subscribe_reject(&x, SL_WIRE_REJECT_BAD_START, SL_SUB_START_PARTITION);
	x.s.params.start = SL_START_EARLIEST; /* offsets given without OFFSETS */
	expect_subscribe_reject(&x, SL_WIRE_REJECT_BAD_START, SL_SUB_START_OFFSETS);
	x.s.params.offsets_topic_len = 0;
	x.s.params.offset_count = 0;
	x.s.params.start_value = 1;
	expect_subscribe_reject(&x, SL_WIRE_REJECT_BAD_START, SL_SUB_START_VALUE);
	x.s.params.start = SL_START_TIMESTAMP;
	expect_subscribe_reject(&x, SL_WIRE_OK, SL_SUB_OK);
	x.s.params.start = SL_START_OFFSETS;
	x.s.params.start_value = 0;
	x.s.params.offsets_topic_len = 14;
	expect_subscribe_reject(&x, SL_WIRE_REJECT_BAD_START, SL_SUB_START_OFFSETS);

	/* Structure: reserved fields, enums, padding, sizes. */
	sub_sample_init(&x);
	x.s.params.slow_policy = SL_SLOW_POLICY_MAX + 1;
	expect_subscribe_reject(&x, SL_WIRE_REJECT_BAD_FIELD, SL_SUB_OK);
	x.s.params.slow_policy = 0;
	x.s.params.reserved = 1;
	expect_subscribe_reject(&x, SL_WIRE_REJECT_BAD_FIELD, SL_SUB_OK);
	x.s.params.reserved = 0;
	x.offsets[1].reserved = 1;
	expect_subscribe_reject(&x, SL_WIRE_REJECT_BAD_FIELD, SL_SUB_OK);
	x.offsets[1].reserved = 0;
	x.s.params.offset_count = 2; /* the body holds three */
	uint8_t buf[FRAME_MAX];
	struct wire_frame f;
	x.s.params.offset_count = 3;
	uint32_t len = sub_sample_encode(&x, buf, sizeof(buf));
	wire_put_u16(buf + wire_prefix_bytes(10) + 28, 2);
	reseal(buf, len);
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_REJECT_BAD_COUNT);
	wire_put_u16(buf + wire_prefix_bytes(10) + 28, 3);
	buf[wire_prefix_bytes(10) + 32 + 7] = 'x'; /* the group name's padding */
	reseal(buf, len);
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_REJECT_BAD_FIELD);
}

/* One valid frame of every subscription type, for the tests that follow. */
/* The batches build_sub_frame()'s CONSUMER_ACK lists. */
static const uint64_t ack_bases[] = {1200, 1300};

static uint32_t build_sub_frame(unsigned type, uint8_t *buf, size_t cap)
{
	static const uint8_t records[] = {3, 0, 0, 0, 1,   0,	0,   0,	  9, 0, 0, 0,
					  0, 0, 0, 0, 'k', 'a', 'b', 'c', 0, 0, 0, 0};
	const struct sl_wire_subscribed active = {.window_batches = 8,
						  .consumer_timeout_ms = 3000,
						  .ack_timeout_ms = 500,
						  .shards = 2,
						  .redeliveries_max = 5,
						  .weight = 1,
						  .status = SL_SUB_ACTIVE,
						  .strategy = SL_GROUP_KEY_AFFINE};
	const struct sl_wire_credit credit = {
		.consumed_batches = 10, .consumed_bytes = 9000, .window_batches = 16};
	const struct wire_deliver deliver = {.subscriber_id = SUB_ID,
					     .subscription_id = 7,
					     .partition = 3,
					     .base_offset = 1000,
					     .record_count = 1,
					     .topic_len = 9,
					     .topic = (const uint8_t *)"orders.eu",
					     .meta = {.append_ns = 55, .shard = 1, .attempt = 2},
					     .records = records,
					     .records_len = sizeof(records)};
	struct sub_sample x;
	uint32_t len = 0;

	switch (type) {
	case SL_WIRE_SUBSCRIBE:
		sub_sample_init(&x);
		return sub_sample_encode(&x, buf, cap);
	case SL_WIRE_SUBSCRIBED:
		assert_int_equal(wire_subscribed_encode(buf, cap, SUB_ID, 7,
							(const uint8_t *)"orders.*", 8, &active,
							&len),
				 0);
		return len;
	case SL_WIRE_UNSUBSCRIBE:
		assert_int_equal(wire_unsubscribe_encode(buf, cap, SUB_ID, 7, &len), 0);
		return len;
	case SL_WIRE_HEARTBEAT:
		assert_int_equal(wire_heartbeat_encode(buf, cap, SUB_ID, 2, &len), 0);
		return len;
	case SL_WIRE_CREDIT:
		assert_int_equal(wire_credit_encode(buf, cap, SUB_ID, 7, 1, &credit, &len), 0);
		return len;
	case SL_WIRE_CONSUMER_ACK:
		assert_int_equal(wire_consumer_ack_encode(buf, cap, SUB_ID, 7,
							  (const uint8_t *)"orders.eu", 9, 3, 1001,
							  ack_bases, 2, &len),
				 0);
		return len;
	default:
		assert_int_equal(type, SL_WIRE_DELIVER);
		assert_int_equal(wire_deliver_encode(buf, cap, &deliver, &len), 0);
		return len;
	}
}

static void test_wire_sub_frames_round_trip(void **state)
{
	uint8_t buf[FRAME_MAX];
	struct wire_frame f;
	enum sl_sub_error why;

	(void)state;
	for (unsigned t = SL_WIRE_SUBSCRIBE; t <= SL_WIRE_SUBSCRIBED; t++) {
		uint32_t len = build_sub_frame(t, buf, sizeof(buf));
		assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_OK);
		assert_int_equal(f.hdr.type, t);
		assert_true(wire_subscriber_id(&f.hdr) == SUB_ID);
		assert_int_equal(wire_subscription_id(&f.hdr), t == SL_WIRE_HEARTBEAT ? 0 : 7);
		assert_string_not_equal(wire_type_name(t), "unknown");
	}
	struct sl_wire_subscribed sd;
	uint32_t len = build_sub_frame(SL_WIRE_SUBSCRIBED, buf, sizeof(buf));
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_OK);
	assert_int_equal(wire_subscribed_parse(&f, &sd), SL_WIRE_OK);
	assert_int_equal(sd.shards, 2);
	assert_int_equal(sd.consumer_timeout_ms, 3000);
	assert_int_equal(sd.strategy, SL_GROUP_KEY_AFFINE);
	assert_memory_equal(f.topic, "orders.*", 8);

	struct sl_wire_heartbeat hb;
	len = build_sub_frame(SL_WIRE_HEARTBEAT, buf, sizeof(buf));
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_OK);
	assert_int_equal(wire_heartbeat_parse(&f, &hb), SL_WIRE_OK);
	assert_int_equal(hb.subscriptions, 2);

	struct sl_wire_credit c;
	len = build_sub_frame(SL_WIRE_CREDIT, buf, sizeof(buf));
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_OK);
	assert_int_equal(wire_credit_parse(&f, &c, &why), SL_WIRE_OK);
	assert_int_equal(wire_credit_shard(&f.hdr), 1);
	assert_true(c.consumed_batches == 10 && c.consumed_bytes == 9000);
	assert_int_equal(c.window_batches, 16);

	len = build_sub_frame(SL_WIRE_CONSUMER_ACK, buf, sizeof(buf));
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_OK);
	assert_int_equal(f.hdr.partition, 3);
	assert_true(f.hdr.sequence == 1001);
	assert_memory_equal(f.topic, "orders.eu", 9);
	assert_int_equal(wire_consumer_ack_batches(&f), 2);
	assert_true(wire_consumer_ack_batch(&f, 0) == 1200 &&
		    wire_consumer_ack_batch(&f, 1) == 1300);

	struct wire_deliver d;
	len = build_sub_frame(SL_WIRE_DELIVER, buf, sizeof(buf));
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_OK);
	assert_int_equal(wire_deliver_parse(&f, &d), SL_WIRE_OK);
	assert_true(d.base_offset == 1000);
	assert_int_equal(d.partition, 3);
	assert_int_equal(d.record_count, 1);
	assert_int_equal(d.meta.shard, 1);
	assert_int_equal(d.meta.attempt, 2);
	assert_true(d.meta.append_ns == 55);
	assert_int_equal(d.records_len, 24);
	struct wire_record_iter it;
	struct wire_record r;
	wire_record_iter_init_body(&it, d.records, d.records_len);
	assert_true(wire_record_next(&it, &r));
	assert_memory_equal(r.key, "k", 1);
	assert_memory_equal(r.value, "abc", 3);
	assert_false(wire_record_next(&it, &r));

	/* UNSUBSCRIBE's answer: REMOVED, no pattern, nothing else. */
	const struct sl_wire_subscribed removed = {.status = SL_SUB_REMOVED};
	assert_int_equal(
		wire_subscribed_encode(buf, sizeof(buf), SUB_ID, 7, NULL, 0, &removed, &len), 0);
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_OK);
	struct sl_wire_subscribed bad = {.status = SL_SUB_REMOVED, .shards = 1};
	assert_int_equal(wire_subscribed_encode(buf, sizeof(buf), SUB_ID, 7, NULL, 0, &bad, &len),
			 0);
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_REJECT_BAD_FIELD);
	bad.status = SL_SUB_ACTIVE; /* active, but no pattern */
	assert_int_equal(wire_subscribed_encode(buf, sizeof(buf), SUB_ID, 7, NULL, 0, &bad, &len),
			 0);
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_REJECT_BAD_FIELD);
	/* Active with a pattern, but an unlimited window. */
	const uint8_t *pattern = (const uint8_t *)"a";
	assert_int_equal(
		wire_subscribed_encode(buf, sizeof(buf), SUB_ID, 7, pattern, 1, &bad, &len), 0);
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_REJECT_BAD_FIELD);
	bad.window_batches = 1;
	assert_int_equal(
		wire_subscribed_encode(buf, sizeof(buf), SUB_ID, 7, pattern, 1, &bad, &len), 0);
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_OK);
}

/* The router sends a per-subscriber head and the shared records: same bytes on the wire. */
/* A PRODUCE of the largest size a router appends becomes a DELIVER of the largest
 * frame: 16 bytes more, header, topic and records unchanged. */
static void test_wire_deliver_of_the_largest_produce_fits_the_largest_frame(void **state)
{
	static uint8_t produce[SL_WIRE_PRODUCE_BYTES_MAX];
	static uint8_t deliver[SL_WIRE_FRAME_BYTES_MAX];
	static uint8_t value[SL_WIRE_FRAME_BYTES_MAX];
	struct sl_wire_header h;
	struct wire_builder b;
	struct wire_frame f;
	uint32_t len = 0;

	(void)state;
	wire_header_init(&h, SL_WIRE_PRODUCE);
	assert_int_equal(wire_begin(&b, produce, sizeof(produce), &h, "t", 1), 0);
	/* The largest record that fits, rounded down to 8 with the frame. */
	uint32_t value_len = (SL_WIRE_PRODUCE_BYTES_MAX & ~7u) - wire_prefix_bytes(1) -
			     SL_WIRE_RECORD_HEADER_BYTES;
	assert_int_equal(wire_add_record(&b, NULL, 0, value, value_len, 1), 0);
	uint32_t produce_len = wire_finish(&b);
	assert_int_equal(wire_decode(produce, produce_len, SL_WIRE_PRODUCE_BYTES_MAX, &f),
			 SL_WIRE_OK);
	struct wire_deliver d = {.subscriber_id = 1,
				 .subscription_id = 2,
				 .record_count = 1,
				 .topic_len = 1,
				 .topic = (const uint8_t *)"t",
				 .records = f.body,
				 .records_len = f.body_len};
	assert_int_equal(wire_deliver_encode(deliver, sizeof(deliver), &d, &len), 0);
	assert_int_equal(len, produce_len + SL_WIRE_DELIVER_EXTRA_BYTES);
	assert_true(len <= SL_WIRE_FRAME_BYTES_MAX);
	assert_true(len <= SL_WIRE_WINDOW_BYTES_MIN);
	assert_int_equal(wire_decode(deliver, len, SL_WIRE_FRAME_BYTES_MAX, &f), SL_WIRE_OK);
}

/* DELIVER numbering: delivery in the body, sent_bytes in the header's aux. */
static void test_wire_deliver_carries_its_numbers(void **state)
{
	uint8_t buf[FRAME_MAX];
	uint8_t records[24] = {0};
	struct wire_frame f;
	struct wire_deliver got;
	uint32_t len = 0;

	(void)state;
	records[0] = 1; /* value_len 1, no key: one 24-byte record */
	struct wire_deliver d = {.subscriber_id = 1,
				 .subscription_id = 2,
				 .record_count = 1,
				 .topic_len = 1,
				 .topic = (const uint8_t *)"t",
				 .meta = {.delivery = 0xfffffffeu},
				 .sent_bytes = 0x89abcdefu,
				 .records = records,
				 .records_len = sizeof(records)};
	assert_int_equal(wire_deliver_encode(buf, sizeof(buf), &d, &len), 0);
	assert_int_equal(wire_get_u32(buf + offsetof(struct sl_wire_header, aux)), 0x89abcdefu);
	assert_int_equal(wire_get_u32(buf + wire_prefix_bytes(1) + 12), 0xfffffffeu);
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_OK);
	assert_int_equal(wire_deliver_parse(&f, &got), SL_WIRE_OK);
	assert_int_equal(got.meta.delivery, 0xfffffffeu);
	assert_int_equal(got.sent_bytes, 0x89abcdefu);
}

static void test_wire_deliver_head_shares_records(void **state)
{
	uint8_t whole[FRAME_MAX];
	uint8_t head[FRAME_MAX];
	uint8_t joined[FRAME_MAX];
	uint8_t records[64];
	struct wire_builder b;
	struct sl_wire_header h;
	struct wire_frame f;

	(void)state;
	/* Records as a PRODUCE carried them. */
	wire_header_init(&h, SL_WIRE_PRODUCE);
	assert_int_equal(wire_begin(&b, whole, sizeof(whole), &h, "t", 1), 0);
	assert_int_equal(wire_add_record(&b, "key", 3, "value", 5, 1), 0);
	assert_int_equal(wire_add_record(&b, NULL, 0, "v2", 2, 2), 0);
	uint32_t produce_len = wire_finish(&b);
	uint32_t records_len = produce_len - wire_prefix_bytes(1);
	assert_true(records_len <= sizeof(records));
	memcpy(records, whole + wire_prefix_bytes(1), records_len);

	struct wire_deliver d = {.subscriber_id = 1,
				 .subscription_id = 2,
				 .base_offset = 40,
				 .record_count = 2,
				 .topic_len = 1,
				 .topic = (const uint8_t *)"t",
				 .records = records,
				 .records_len = records_len};
	uint32_t len = 0;
	assert_int_equal(wire_deliver_encode(whole, sizeof(whole), &d, &len), 0);
	assert_int_equal(wire_deliver_head_encode(head, sizeof(head), &d), 0);
	uint32_t head_len = wire_deliver_head_bytes(1);
	assert_int_equal(len, head_len + records_len);
	memcpy(joined, head, head_len);
	memcpy(joined + head_len, records, records_len);
	assert_memory_equal(joined, whole, len);
	assert_int_equal(wire_decode(joined, len, FRAME_MAX, &f), SL_WIRE_OK);
	/* The count must match the shared records. */
	d.record_count = 3;
	assert_int_equal(wire_deliver_encode(whole, sizeof(whole), &d, &len), 0);
	assert_int_equal(wire_decode(whole, len, FRAME_MAX, &f), SL_WIRE_REJECT_BAD_COUNT);
	d.records_len = 3;
	assert_int_equal(wire_deliver_head_encode(head, sizeof(head), &d), -EINVAL);
	d.records_len = records_len;
	assert_int_equal(wire_deliver_head_encode(head, head_len - 1, &d), -EMSGSIZE);
	assert_int_equal(wire_deliver_encode(whole, head_len + records_len - 1, &d, &len),
			 -EMSGSIZE);
}

static void test_wire_sub_frames_truncated_at_every_byte(void **state)
{
	uint8_t buf[FRAME_MAX];
	struct wire_frame f;

	(void)state;
	for (unsigned t = SL_WIRE_SUBSCRIBE; t <= SL_WIRE_SUBSCRIBED; t++) {
		uint32_t len = build_sub_frame(t, buf, sizeof(buf));
		for (uint32_t cut = 0; cut < len; cut++) {
			uint8_t *copy = malloc(cut == 0 ? 1 : cut);
			assert_non_null(copy);
			memcpy(copy, buf, cut);
			enum sl_wire_reject r = wire_decode(copy, cut, FRAME_MAX, &f);
			free(copy);
			assert_int_equal(r, SL_WIRE_REJECT_TRUNCATED);
		}
	}
}

/* Sets a header field of a sample frame and reseals it; returns the decoder's verdict. */
static enum sl_wire_reject decode_with_field(unsigned type, size_t at, size_t size, uint64_t v)
{
	uint8_t buf[FRAME_MAX];
	struct wire_frame f;

	uint32_t len = build_sub_frame(type, buf, sizeof(buf));
	for (size_t i = 0; i < size; i++) {
		buf[at + i] = (uint8_t)(v >> (8 * i));
	}
	reseal(buf, len);
	return wire_decode(buf, len, FRAME_MAX, &f);
}

static void test_wire_sub_header_fields_unused_must_be_zero(void **state)
{
	const size_t flags = offsetof(struct sl_wire_header, flags);
	const size_t subscriber = offsetof(struct sl_wire_header, producer_id);
	const size_t subscription = offsetof(struct sl_wire_header, producer_epoch);
	const size_t sequence = offsetof(struct sl_wire_header, sequence);
	const size_t partition = offsetof(struct sl_wire_header, partition);
	const size_t count = offsetof(struct sl_wire_header, record_count);
	const size_t ack_level = offsetof(struct sl_wire_header, ack_level);

	(void)state;
	for (unsigned t = SL_WIRE_SUBSCRIBE; t <= SL_WIRE_SUBSCRIBED; t++) {
		bool has_offset = t == SL_WIRE_DELIVER || t == SL_WIRE_CONSUMER_ACK;
		assert_int_equal(decode_with_field(t, flags, 2, SL_WIRE_FLAG_STREAM_HEAD),
				 SL_WIRE_REJECT_BAD_FIELD);
		assert_int_equal(decode_with_field(t, ack_level, 1, 1), SL_WIRE_REJECT_BAD_FIELD);
		assert_int_equal(decode_with_field(t, subscriber, 8, 0), SL_WIRE_REJECT_BAD_FIELD);
		assert_int_equal(
			decode_with_field(t, subscription, 4, t == SL_WIRE_HEARTBEAT ? 1 : 0),
			SL_WIRE_REJECT_BAD_FIELD);
		assert_int_equal(decode_with_field(t, partition, 4, 9),
				 has_offset ? SL_WIRE_OK : SL_WIRE_REJECT_BAD_FIELD);
		if (t == SL_WIRE_CREDIT) {
			assert_int_equal(decode_with_field(t, sequence, 8, UINT16_MAX), SL_WIRE_OK);
			assert_int_equal(decode_with_field(t, sequence, 8, UINT16_MAX + 1u),
					 SL_WIRE_REJECT_BAD_FIELD);
		} else {
			assert_int_equal(decode_with_field(t, sequence, 8, 1u << 20),
					 has_offset ? SL_WIRE_OK : SL_WIRE_REJECT_BAD_FIELD);
		}
		if (t != SL_WIRE_DELIVER) {
			assert_int_equal(decode_with_field(t, count, 2, 1),
					 SL_WIRE_REJECT_BAD_FIELD);
		}
	}
}

static void test_wire_sub_topics_and_bodies(void **state)
{
	uint8_t buf[FRAME_MAX];
	struct wire_frame f;
	uint32_t len = 0;
	const struct sl_wire_credit credit = {.window_batches = 1, .reserved = 1};
	const struct sl_wire_credit no_window = {.consumed_batches = 1};

	(void)state;
	/* A topic where none belongs, a pattern where a topic belongs. */
	assert_int_equal(wire_consumer_ack_encode(buf, sizeof(buf), 1, 2,
						  (const uint8_t *)"orders.*", 8, 0, 0, NULL, 0,
						  &len),
			 0);
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_REJECT_BAD_TOPIC);
	struct sl_wire_header h;
	struct wire_builder b;
	wire_header_init(&h, SL_WIRE_UNSUBSCRIBE);
	h.producer_id = 1;
	h.producer_epoch = 2;
	assert_int_equal(wire_begin(&b, buf, sizeof(buf), &h, "t", 1), 0);
	assert_int_equal(wire_decode(buf, wire_finish(&b), FRAME_MAX, &f),
			 SL_WIRE_REJECT_BAD_TOPIC);
	/* A body where none belongs. */
	assert_int_equal(wire_begin(&b, buf, sizeof(buf), &h, NULL, 0), 0);
	assert_int_equal(wire_add_body(&b, "12345678", 8), 0);
	assert_int_equal(wire_decode(buf, wire_finish(&b), FRAME_MAX, &f),
			 SL_WIRE_REJECT_BAD_COUNT);
	/* CONSUMER_ACK lists at most SL_WIRE_ACK_BATCHES_MAX base offsets. */
	wire_header_init(&h, SL_WIRE_CONSUMER_ACK);
	h.producer_id = 1;
	h.producer_epoch = 2;
	uint64_t bases[SL_WIRE_ACK_BATCHES_MAX + 1] = {0};
	assert_int_equal(wire_consumer_ack_encode(buf, sizeof(buf), 1, 2, (const uint8_t *)"t", 1,
						  0, 0, bases, SL_WIRE_ACK_BATCHES_MAX + 1, &len),
			 -EINVAL);
	assert_int_equal(wire_begin(&b, buf, sizeof(buf), &h, "t", 1), 0);
	assert_int_equal(wire_add_body(&b, bases, sizeof(bases)), 0);
	assert_int_equal(wire_decode(buf, wire_finish(&b), FRAME_MAX, &f),
			 SL_WIRE_REJECT_BAD_COUNT);
	/* Bodies: reserved, zero subscriptions, windows. */
	assert_int_equal(wire_credit_encode(buf, sizeof(buf), 1, 2, 0, &credit, &len), 0);
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_REJECT_BAD_FIELD);
	assert_int_equal(wire_credit_encode(buf, sizeof(buf), 1, 2, 0, &no_window, &len), 0);
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_REJECT_BAD_CREDIT);
	assert_int_equal(f.sub_error, SL_SUB_WINDOW_UNLIMITED);
	assert_int_equal(wire_reject_nack_reason(SL_WIRE_REJECT_BAD_CREDIT), SL_NACK_BAD_CREDIT);
	assert_int_equal(wire_reject_stat(SL_WIRE_REJECT_BAD_CREDIT), SL_STAT_DROP_BAD_CREDIT);
	assert_int_equal(wire_heartbeat_encode(buf, sizeof(buf), 1, 0, &len), 0);
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_REJECT_BAD_FIELD);
	/* SUBSCRIBED with a bad pattern names it. */
	const struct sl_wire_subscribed active = {
		.window_batches = 1, .shards = 1, .status = SL_SUB_ACTIVE};
	assert_int_equal(wire_subscribed_encode(buf, sizeof(buf), 1, 2, (const uint8_t *)"a.>.b", 5,
						&active, &len),
			 0);
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_REJECT_BAD_PATTERN);
	assert_int_equal(f.sub_error, SL_SUB_PATTERN_TAIL_NOT_LAST);
	/* SUBSCRIBED: an unknown flag. */
	struct sl_wire_subscribed flagged = active;
	flagged.flags = 2;
	assert_int_equal(wire_subscribed_encode(buf, sizeof(buf), 1, 2, (const uint8_t *)"a.b", 3,
						&flagged, &len),
			 0);
	assert_int_equal(wire_decode(buf, len, FRAME_MAX, &f), SL_WIRE_REJECT_BAD_FIELD);
}

static void test_wire_pattern_check_names_the_problem(void **state)
{
	static const struct {
		const char *pattern;
		enum sl_sub_error want;
	} cases[] = {
		{"orders", SL_SUB_OK},
		{"*", SL_SUB_OK},
		{">", SL_SUB_OK},
		{"orders.*.eu", SL_SUB_OK},
		{"orders.>", SL_SUB_OK},
		{"*.*.>", SL_SUB_OK},
		{"Or_d-3.x", SL_SUB_OK},
		{"", SL_SUB_PATTERN_EMPTY},
		{".", SL_SUB_PATTERN_EMPTY_TOKEN},
		{"a.", SL_SUB_PATTERN_EMPTY_TOKEN},
		{".a", SL_SUB_PATTERN_EMPTY_TOKEN},
		{"a..b", SL_SUB_PATTERN_EMPTY_TOKEN},
		{"a b", SL_SUB_PATTERN_BAD_CHAR},
		{"a.é", SL_SUB_PATTERN_BAD_CHAR},
		{"a*", SL_SUB_PATTERN_PARTIAL_WILDCARD},
		{"a.*b", SL_SUB_PATTERN_PARTIAL_WILDCARD},
		{"a.>>", SL_SUB_PATTERN_PARTIAL_WILDCARD},
		{"a.b>", SL_SUB_PATTERN_PARTIAL_WILDCARD},
		{">.a", SL_SUB_PATTERN_TAIL_NOT_LAST},
		{"a.>.*", SL_SUB_PATTERN_TAIL_NOT_LAST},
	};
	uint8_t long_pattern[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *p = cases[i].pattern;
		enum sl_sub_error e = wire_pattern_check((const uint8_t *)p, strlen(p));
		if (e != cases[i].want) {
			fail_msg("pattern \"%s\": %s, expected %s", p, wire_sub_error_name(e),
				 wire_sub_error_name(cases[i].want));
		}
	}
	memset(long_pattern, 'a', sizeof(long_pattern));
	assert_int_equal(wire_pattern_check(long_pattern, 255), SL_SUB_OK);
	assert_int_equal(wire_pattern_check(long_pattern, 256), SL_SUB_PATTERN_TOO_LONG);
	for (unsigned e = 0; e <= SL_SUB_ERROR_MAX; e++) {
		assert_string_not_equal(wire_sub_error_name(e), "unknown");
	}
	assert_string_equal(wire_sub_error_name(SL_SUB_ERROR_MAX + 1), "unknown");
	assert_string_equal(wire_sub_error_name(SL_SUB_PATTERN_TAIL_NOT_LAST),
			    "'>' before the last token of the pattern");
}

static void test_wire_pattern_matches_tokens(void **state)
{
	static const struct {
		const char *pattern;
		const char *topic;
		bool want;
	} cases[] = {
		{"a", "a", true},	   {"a", "b", false},
		{"a", "a.b", false},	   {"a.b", "a", false},
		{"*", "a", true},	   {"*", "a.b", false},
		{">", "a", true},	   {">", "a.b.c", true},
		{"a.>", "a", false},	   {"a.>", "a.b", true},
		{"a.>", "a.b.c", true},	   {"a.*", "a.b", true},
		{"a.*", "a.b.c", false},   {"*.b", "a.b", true},
		{"*.b", "a.c", false},	   {"a.*.c", "a.x.c", true},
		{"a.*.c", "a.x.d", false}, {"ab", "a", false},
		{"a", "ab", false},	   {"a.*.>", "a.b", false},
		{"a.*.>", "a.b.c", true},  {"orders.eu", "orders.eu", true},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *p = cases[i].pattern;
		const char *t = cases[i].topic;
		bool got = wire_pattern_matches((const uint8_t *)p, strlen(p), (const uint8_t *)t,
						strlen(t));
		if (got != cases[i].want) {
			fail_msg("pattern \"%s\" topic \"%s\": got %d", p, t, got);
		}
	}
}

/* Whatever the decoder accepted holds values within the protocol's bounds. */
static void check_decoded_sub_frame(const struct wire_frame *f)
{
	enum sl_sub_error why;

	if (f->hdr.type < SL_WIRE_SUBSCRIBE) {
		return; /* a flipped type bit made it a PING, an ACK ...: checked elsewhere */
	}
	assert_true(wire_subscriber_id(&f->hdr) != 0);
	assert_int_equal(f->hdr.flags, 0);
	switch (f->hdr.type) {
	case SL_WIRE_SUBSCRIBE: {
		struct wire_subscribe s;
		assert_int_equal(wire_subscribe_parse(f, &s, &why), SL_WIRE_OK);
		assert_int_equal(wire_pattern_check(s.pattern, s.pattern_len), SL_SUB_OK);
		assert_int_equal(wire_window_check(s.params.window_batches, s.params.window_bytes),
				 SL_SUB_OK);
		assert_true(s.params.weight <= SL_WIRE_WEIGHT_MAX);
		assert_true(s.params.start <= SL_START_MAX);
		assert_true(s.params.offset_count <= SL_WIRE_START_OFFSETS_MAX);
		assert_true(s.params.group_len <= SL_WIRE_GROUP_BYTES_MAX);
		break;
	}
	case SL_WIRE_CREDIT: {
		struct sl_wire_credit c;
		assert_int_equal(wire_credit_parse(f, &c, &why), SL_WIRE_OK);
		assert_true(c.window_batches <= SL_WIRE_WINDOW_BATCHES_MAX);
		assert_true(c.window_bytes <= SL_WIRE_WINDOW_BYTES_MAX);
		assert_true(f->hdr.sequence <= UINT16_MAX);
		break;
	}
	case SL_WIRE_DELIVER: {
		struct wire_deliver d;
		assert_int_equal(wire_deliver_parse(f, &d), SL_WIRE_OK);
		assert_true(d.records + d.records_len <= f->base + f->len);
		assert_true(wire_topic_is_valid(d.topic, d.topic_len));
		break;
	}
	case SL_WIRE_SUBSCRIBED: {
		struct sl_wire_subscribed s;
		assert_int_equal(wire_subscribed_parse(f, &s), SL_WIRE_OK);
		assert_true(s.status == SL_SUB_ACTIVE || s.status == SL_SUB_REMOVED);
		break;
	}
	case SL_WIRE_HEARTBEAT: {
		struct sl_wire_heartbeat hb;
		assert_int_equal(wire_heartbeat_parse(f, &hb), SL_WIRE_OK);
		assert_true(hb.subscriptions > 0);
		break;
	}
	case SL_WIRE_CONSUMER_ACK:
		assert_true(wire_topic_is_valid(f->topic, f->hdr.topic_len));
		assert_true(f->body_len % 8 == 0 &&
			    wire_consumer_ack_batches(f) <= SL_WIRE_ACK_BATCHES_MAX);
		break;
	default:
		assert_int_equal(f->hdr.type, SL_WIRE_UNSUBSCRIBE);
		assert_int_equal(f->body_len, 0);
		break;
	}
}

/* Random mutations of every subscription frame: rejected, or decoded to values in bounds. */
static void test_wire_sub_random_mutations(void **state)
{
	uint8_t buf[FRAME_MAX];
	struct wire_frame f;
	uint64_t seed = 777;
	unsigned accepted = 0;

	(void)state;
	for (int round = 0; round < 30000; round++) {
		unsigned type = SL_WIRE_SUBSCRIBE + (unsigned)round % 7;
		uint32_t len = build_sub_frame(type, buf, sizeof(buf));
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		unsigned flips = 1 + (unsigned)(seed >> 62);
		for (unsigned k = 0; k < flips; k++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			buf[(seed >> 33) % len] ^= (uint8_t)(1u << ((seed >> 20) & 7));
		}
		reseal(buf, len);
		uint8_t *copy = malloc(len);
		assert_non_null(copy);
		memcpy(copy, buf, len);
		enum sl_wire_reject r = wire_decode(copy, len, FRAME_MAX, &f);
		assert_true((unsigned)r <= SL_WIRE_REJECT_MAX);
		assert_true((unsigned)f.sub_error <= SL_SUB_ERROR_MAX);
		if (r == SL_WIRE_OK) {
			accepted++;
			check_decoded_sub_frame(&f);
		}
		free(copy);
	}
	/* Some mutations land in fields with no constraint (ids, offsets, counters). */
	assert_true(accepted > 0);
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
		cmocka_unit_test(test_wire_subscribe_round_trip),
		cmocka_unit_test(test_wire_subscribe_rejects_name_the_problem),
		cmocka_unit_test(test_wire_sub_frames_round_trip),
		cmocka_unit_test(test_wire_deliver_head_shares_records),
		cmocka_unit_test(test_wire_deliver_of_the_largest_produce_fits_the_largest_frame),
		cmocka_unit_test(test_wire_deliver_carries_its_numbers),
		cmocka_unit_test(test_wire_sub_frames_truncated_at_every_byte),
		cmocka_unit_test(test_wire_sub_header_fields_unused_must_be_zero),
		cmocka_unit_test(test_wire_sub_topics_and_bodies),
		cmocka_unit_test(test_wire_pattern_check_names_the_problem),
		cmocka_unit_test(test_wire_pattern_matches_tokens),
		cmocka_unit_test(test_wire_sub_random_mutations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
