/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The journal's on-disk format: entry and segment header round trips, every rejection
 * reason, truncation at every byte, seeded random mutations, and segment file names.
 * Under ASan the truncation and mutation tests also show that the decoders never read
 * past the buffer they are given.
 */
#include "journal/format.h"

#include "core/crc32c.h"
#include "core/wire.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define TOPIC "orders.eu"
#define POSITION 4096u

/* Builds a body of n records (record i: key "k<i>", value of i + 3 bytes). */
static uint32_t build_body(uint8_t *body, size_t cap, unsigned n)
{
	uint32_t len = 0;

	for (unsigned i = 0; i < n; i++) {
		uint32_t value_len = i + 3;
		uint32_t key_len = 2;
		uint32_t bytes = wire_record_bytes(key_len, value_len);
		assert_true(len + bytes <= cap);
		uint8_t *p = body + len;
		memset(p, 0, bytes);
		wire_put_u32(p, value_len);
		wire_put_u16(p + 4, (uint16_t)key_len);
		wire_put_u64(p + 8, 1000 + i);
		p[16] = 'k';
		p[17] = (uint8_t)('0' + i % 10);
		memset(p + 18, 'a' + (int)(i % 26), value_len);
		len += bytes;
	}
	return len;
}

static void fill_header(struct journal_entry_header *h, unsigned records)
{
	memset(h, 0, sizeof(*h));
	h->position = POSITION;
	h->base_offset = 77;
	h->producer_id = 0x1122334455667788ull;
	h->sequence = 9;
	h->append_ns = 1700000000000000000ull;
	h->partition = 3;
	h->producer_epoch = 2;
	h->record_count = (uint16_t)records;
	h->topic_len = (uint8_t)strlen(TOPIC);
	h->flags = JOURNAL_ENTRY_STREAM_HEAD;
}

/* Encodes an entry of n records into buf; returns its length. */
static uint32_t build_entry(uint8_t *buf, unsigned n)
{
	uint8_t body[2048];
	struct journal_entry_header h;
	uint32_t body_len = build_body(body, sizeof(body), n);

	fill_header(&h, n);
	return journal_entry_encode(buf, &h, (const uint8_t *)TOPIC, body, body_len);
}

/* Recomputes an entry's CRC after a test edits it on purpose. */
static void reseal(uint8_t *buf, uint32_t len)
{
	uint32_t zero = 0;

	memcpy(buf + offsetof(struct journal_entry_header, crc32c), &zero, 4);
	uint32_t crc = crc32c_extend(0, buf, len);
	memcpy(buf + offsetof(struct journal_entry_header, crc32c), &crc, 4);
}

static void test_journal_entry_decode_round_trip(void **state)
{
	uint8_t buf[JOURNAL_ENTRY_BYTES_MAX];
	uint8_t body[2048];
	struct journal_entry e;
	struct journal_entry_header h;
	(void)state;

	uint32_t body_len = build_body(body, sizeof(body), 5);
	fill_header(&h, 5);
	uint32_t len = journal_entry_encode(buf, &h, (const uint8_t *)TOPIC, body, body_len);
	assert_int_equal(len, journal_entry_bytes(h.topic_len, body_len));
	assert_int_equal(len % JOURNAL_ALIGN, 0);
	assert_int_equal(journal_entry_decode(buf, len, POSITION, &e), JOURNAL_OK);
	assert_int_equal(e.hdr.magic, JOURNAL_ENTRY_MAGIC);
	assert_int_equal(e.hdr.entry_bytes, len);
	assert_int_equal(e.hdr.position, POSITION);
	assert_int_equal(e.hdr.base_offset, 77);
	assert_int_equal(e.hdr.producer_id, 0x1122334455667788ull);
	assert_int_equal(e.hdr.sequence, 9);
	assert_int_equal(e.hdr.append_ns, 1700000000000000000ull);
	assert_int_equal(e.hdr.partition, 3);
	assert_int_equal(e.hdr.producer_epoch, 2);
	assert_int_equal(e.hdr.record_count, 5);
	assert_int_equal(e.hdr.flags, JOURNAL_ENTRY_STREAM_HEAD);
	assert_memory_equal(e.topic, TOPIC, strlen(TOPIC));
	assert_int_equal(e.body_len, body_len);
	assert_memory_equal(e.body, body, body_len);

	/* A longer buffer (the scan hands the rest of its read) decodes the same entry. */
	memset(buf + len, 0xab, sizeof(buf) - len);
	assert_int_equal(journal_entry_decode(buf, sizeof(buf), POSITION, &e), JOURNAL_OK);
	assert_int_equal(e.hdr.entry_bytes, len);

	struct wire_record_iter it;
	struct wire_record r;
	unsigned n = 0;
	wire_record_iter_init_body(&it, e.body, e.body_len);
	while (wire_record_next(&it, &r)) {
		assert_int_equal(r.value_len, n + 3);
		assert_int_equal(r.timestamp_ns, 1000 + n);
		n++;
	}
	assert_int_equal(n, 5);
}

static void test_journal_entry_decode_zero(void **state)
{
	uint8_t buf[256] = {0};
	struct journal_entry e;
	(void)state;

	assert_int_equal(journal_entry_decode(buf, sizeof(buf), 0, &e), JOURNAL_REJECT_ZERO);
	/* Fewer zero bytes than a header at the end of a segment: also the end of data. */
	assert_int_equal(journal_entry_decode(buf, 8, 0, &e), JOURNAL_REJECT_ZERO);
	assert_int_equal(journal_entry_decode(buf, 0, 0, &e), JOURNAL_REJECT_TRUNCATED);
}

static void test_journal_entry_decode_truncated_at_every_byte(void **state)
{
	uint8_t buf[JOURNAL_ENTRY_BYTES_MAX];
	struct journal_entry e;
	(void)state;

	uint32_t len = build_entry(buf, 4);
	for (uint32_t cut = 0; cut < len; cut++) {
		/* An exact-size copy, so that ASan catches any read past the cut. */
		uint8_t *copy = malloc(cut == 0 ? 1 : cut);
		assert_non_null(copy);
		memcpy(copy, buf, cut);
		assert_int_equal(journal_entry_decode(copy, cut, POSITION, &e),
				 JOURNAL_REJECT_TRUNCATED);
		free(copy);
	}
}

static void test_journal_entry_decode_bad_magic(void **state)
{
	uint8_t buf[JOURNAL_ENTRY_BYTES_MAX];
	struct journal_entry e;
	(void)state;

	uint32_t len = build_entry(buf, 2);
	buf[0] ^= 0xff;
	assert_int_equal(journal_entry_decode(buf, len, POSITION, &e), JOURNAL_REJECT_BAD_MAGIC);
}

static void set_entry_bytes(uint8_t *buf, uint32_t v)
{
	memcpy(buf + offsetof(struct journal_entry_header, entry_bytes), &v, 4);
}

static void test_journal_entry_decode_bad_length(void **state)
{
	uint8_t buf[JOURNAL_ENTRY_BYTES_MAX + 64];
	struct journal_entry e;
	(void)state;

	uint32_t len = build_entry(buf, 2);
	set_entry_bytes(buf, len + 4); /* not a multiple of 8 */
	assert_int_equal(journal_entry_decode(buf, sizeof(buf), POSITION, &e),
			 JOURNAL_REJECT_BAD_LENGTH);
	set_entry_bytes(buf, JOURNAL_ENTRY_HEADER_BYTES); /* no room for topic and record */
	assert_int_equal(journal_entry_decode(buf, sizeof(buf), POSITION, &e),
			 JOURNAL_REJECT_BAD_LENGTH);
	set_entry_bytes(buf, JOURNAL_ENTRY_BYTES_MAX + 8);
	assert_int_equal(journal_entry_decode(buf, sizeof(buf), POSITION, &e),
			 JOURNAL_REJECT_BAD_LENGTH);
	/* A valid length longer than the buffer: truncated. */
	set_entry_bytes(buf, len + 8);
	assert_int_equal(journal_entry_decode(buf, len, POSITION, &e), JOURNAL_REJECT_TRUNCATED);
}

static void test_journal_entry_decode_bad_position(void **state)
{
	uint8_t buf[JOURNAL_ENTRY_BYTES_MAX];
	struct journal_entry e;
	(void)state;

	uint32_t len = build_entry(buf, 2);
	assert_int_equal(journal_entry_decode(buf, len, POSITION + 8, &e),
			 JOURNAL_REJECT_BAD_POSITION);
	assert_int_equal(journal_entry_decode(buf, len, 0, &e), JOURNAL_REJECT_BAD_POSITION);
}

static void test_journal_entry_decode_bad_crc(void **state)
{
	uint8_t buf[JOURNAL_ENTRY_BYTES_MAX];
	struct journal_entry e;
	(void)state;

	uint32_t len = build_entry(buf, 3);
	buf[len - 9] ^= 0x01; /* a value byte */
	assert_int_equal(journal_entry_decode(buf, len, POSITION, &e), JOURNAL_REJECT_BAD_CRC);
	buf[len - 9] ^= 0x01;
	buf[offsetof(struct journal_entry_header, crc32c)] ^= 0x80;
	assert_int_equal(journal_entry_decode(buf, len, POSITION, &e), JOURNAL_REJECT_BAD_CRC);
}

static void test_journal_entry_decode_bad_field(void **state)
{
	uint8_t buf[JOURNAL_ENTRY_BYTES_MAX];
	struct journal_entry e;
	(void)state;

	/* Unknown flag. */
	uint32_t len = build_entry(buf, 3);
	buf[offsetof(struct journal_entry_header, flags)] |= 0x80;
	reseal(buf, len);
	assert_int_equal(journal_entry_decode(buf, len, POSITION, &e), JOURNAL_REJECT_BAD_FIELD);

	/* Invalid topic character. */
	len = build_entry(buf, 3);
	buf[JOURNAL_ENTRY_HEADER_BYTES] = '*';
	reseal(buf, len);
	assert_int_equal(journal_entry_decode(buf, len, POSITION, &e), JOURNAL_REJECT_BAD_FIELD);

	/* Non-zero topic padding. */
	len = build_entry(buf, 3);
	buf[JOURNAL_ENTRY_HEADER_BYTES + strlen(TOPIC)] = 'x';
	reseal(buf, len);
	assert_int_equal(journal_entry_decode(buf, len, POSITION, &e), JOURNAL_REJECT_BAD_FIELD);

	/* record_count does not match the records. */
	len = build_entry(buf, 3);
	buf[offsetof(struct journal_entry_header, record_count)] = 4;
	reseal(buf, len);
	assert_int_equal(journal_entry_decode(buf, len, POSITION, &e), JOURNAL_REJECT_BAD_FIELD);
	buf[offsetof(struct journal_entry_header, record_count)] = 0;
	reseal(buf, len);
	assert_int_equal(journal_entry_decode(buf, len, POSITION, &e), JOURNAL_REJECT_BAD_FIELD);

	/* A record running past the body. */
	len = build_entry(buf, 3);
	uint32_t body_at = JOURNAL_ENTRY_HEADER_BYTES + wire_align((uint32_t)strlen(TOPIC));
	wire_put_u32(buf + body_at, 5000);
	reseal(buf, len);
	assert_int_equal(journal_entry_decode(buf, len, POSITION, &e), JOURNAL_REJECT_BAD_FIELD);

	/* Non-zero record attributes. */
	len = build_entry(buf, 3);
	wire_put_u16(buf + body_at + 6, 1);
	reseal(buf, len);
	assert_int_equal(journal_entry_decode(buf, len, POSITION, &e), JOURNAL_REJECT_BAD_FIELD);
}

static void test_journal_entry_decode_random_mutations(void **state)
{
	uint8_t orig[JOURNAL_ENTRY_BYTES_MAX];
	struct journal_entry e;
	(void)state;

	srand(20261123);
	uint32_t len = build_entry(orig, 6);
	for (unsigned round = 0; round < 20000; round++) {
		uint8_t *copy = malloc(len);
		assert_non_null(copy);
		memcpy(copy, orig, len);
		unsigned flips = 1 + (unsigned)rand() % 4;
		for (unsigned f = 0; f < flips; f++) {
			copy[(unsigned)rand() % len] = (uint8_t)rand();
		}
		enum journal_reject r = journal_entry_decode(copy, len, POSITION, &e);
		assert_true((unsigned)r <= JOURNAL_REJECT_MAX);
		/* Every stored byte is under the CRC: only an unchanged entry passes. */
		if (memcmp(copy, orig, len) != 0) {
			assert_int_not_equal(r, JOURNAL_OK);
		} else {
			assert_int_equal(r, JOURNAL_OK);
		}
		free(copy);
	}
}

static void test_journal_reject_name_every_reason(void **state)
{
	(void)state;
	for (unsigned r = 0; r <= JOURNAL_REJECT_MAX; r++) {
		assert_non_null(journal_reject_name((enum journal_reject)r));
	}
	assert_string_equal(journal_reject_name(JOURNAL_REJECT_BAD_CRC), "bad crc");
	assert_string_equal(journal_reject_name((enum journal_reject)99), "unknown");
}

static void test_journal_segment_header_decode_round_trip(void **state)
{
	uint8_t block[JOURNAL_BLOCK_BYTES];
	struct journal_segment_header h;
	(void)state;

	memset(block, 0xee, sizeof(block));
	journal_segment_header_encode(block, 7, 1 << 20, 1 << 20, 123456789, 65536, false);
	for (size_t i = sizeof(h); i < sizeof(block); i++) {
		assert_int_equal(block[i], 0);
	}
	assert_int_equal(journal_segment_header_decode(block, sizeof(block), &h), JOURNAL_OK);
	assert_int_equal(h.magic, JOURNAL_SEGMENT_MAGIC);
	assert_int_equal(h.version, JOURNAL_FORMAT_VERSION);
	assert_int_equal(h.shard, 7);
	assert_int_equal(h.base_position, 1 << 20);
	assert_int_equal(h.segment_bytes, 1 << 20);
	assert_int_equal(h.created_ns, 123456789);
	assert_int_equal(h.window_bytes, 65536);
	assert_false(journal_segment_is_recycled(&h));
	assert_int_equal(journal_segment_header_decode(block, 63, &h), JOURNAL_REJECT_TRUNCATED);
	/* A recycled segment's header: version 2, otherwise the same. */
	journal_segment_header_encode(block, 7, 1 << 20, 1 << 20, 123456789, 65536, true);
	assert_int_equal(journal_segment_header_decode(block, sizeof(block), &h), JOURNAL_OK);
	assert_int_equal(h.version, JOURNAL_FORMAT_VERSION_RECYCLED);
	assert_true(journal_segment_is_recycled(&h));
	assert_int_equal(h.base_position, 1 << 20);
}

static void reseal_segment(uint8_t *block)
{
	uint32_t zero = 0;

	memcpy(block + offsetof(struct journal_segment_header, crc32c), &zero, 4);
	uint32_t crc = crc32c_extend(0, block, sizeof(struct journal_segment_header));
	memcpy(block + offsetof(struct journal_segment_header, crc32c), &crc, 4);
}

static void test_journal_segment_header_decode_bad_crc(void **state)
{
	uint8_t block[JOURNAL_BLOCK_BYTES];
	struct journal_segment_header h;
	(void)state;

	journal_segment_header_encode(block, 0, 0, 1 << 20, 1, 4096, false);
	block[offsetof(struct journal_segment_header, created_ns)] ^= 1;
	assert_int_equal(journal_segment_header_decode(block, sizeof(block), &h),
			 JOURNAL_REJECT_BAD_CRC);
	/* A damaged version byte is a bad CRC, not an unknown version. */
	journal_segment_header_encode(block, 0, 0, 1 << 20, 1, 4096, false);
	block[offsetof(struct journal_segment_header, version)] = 9;
	assert_int_equal(journal_segment_header_decode(block, sizeof(block), &h),
			 JOURNAL_REJECT_BAD_CRC);
	memset(block, 0, sizeof(block));
	assert_int_equal(journal_segment_header_decode(block, sizeof(block), &h),
			 JOURNAL_REJECT_BAD_MAGIC);
}

static void test_journal_segment_header_decode_unknown_version(void **state)
{
	uint8_t block[JOURNAL_BLOCK_BYTES];
	struct journal_segment_header h;
	(void)state;

	journal_segment_header_encode(block, 0, 0, 1 << 20, 1, 4096, false);
	uint16_t v = JOURNAL_FORMAT_VERSION_RECYCLED + 1;
	memcpy(block + offsetof(struct journal_segment_header, version), &v, 2);
	reseal_segment(block);
	assert_int_equal(journal_segment_header_decode(block, sizeof(block), &h),
			 JOURNAL_REJECT_BAD_VERSION);
	assert_int_equal(h.version, JOURNAL_FORMAT_VERSION_RECYCLED + 1);
}

static void test_journal_segment_header_decode_bad_size(void **state)
{
	uint8_t block[JOURNAL_BLOCK_BYTES];
	struct journal_segment_header h;
	(void)state;

	journal_segment_header_encode(block, 0, 0, JOURNAL_SEGMENT_BYTES_MIN - 4096, 1, 4096,
				      false);
	assert_int_equal(journal_segment_header_decode(block, sizeof(block), &h),
			 JOURNAL_REJECT_BAD_LENGTH);
	journal_segment_header_encode(block, 0, 0, JOURNAL_SEGMENT_BYTES_MIN + 100, 1, 4096, false);
	assert_int_equal(journal_segment_header_decode(block, sizeof(block), &h),
			 JOURNAL_REJECT_BAD_LENGTH);
	journal_segment_header_encode(block, 0, 0, JOURNAL_SEGMENT_BYTES_MAX * 2, 1, 4096, false);
	assert_int_equal(journal_segment_header_decode(block, sizeof(block), &h),
			 JOURNAL_REJECT_BAD_LENGTH);
	journal_segment_header_encode(block, 0, 12, 1 << 20, 1, 4096, false);
	assert_int_equal(journal_segment_header_decode(block, sizeof(block), &h),
			 JOURNAL_REJECT_BAD_FIELD);
	journal_segment_header_encode(block, 0, UINT64_MAX - 7, 1 << 20, 1, 4096, false);
	assert_int_equal(journal_segment_header_decode(block, sizeof(block), &h),
			 JOURNAL_REJECT_BAD_FIELD);
}

static void test_journal_segment_name_parse_valid_and_invalid(void **state)
{
	uint64_t base = 0;
	(void)state;

	assert_true(journal_segment_name_parse("00000000000000000000.seg", &base));
	assert_int_equal(base, 0);
	assert_true(journal_segment_name_parse("00000000000012345678.seg", &base));
	assert_int_equal(base, 12345678);
	assert_true(journal_segment_name_parse("18446744073709551615.seg", &base));
	assert_int_equal(base, UINT64_MAX);
	assert_false(journal_segment_name_parse("18446744073709551616.seg", &base));
	assert_false(journal_segment_name_parse("99999999999999999999.seg", &base));
	assert_false(journal_segment_name_parse("0000000000001234567.seg", &base));
	assert_false(journal_segment_name_parse("000000000000123456789.seg", &base));
	assert_false(journal_segment_name_parse("00000000000012345678.seg~", &base));
	assert_false(journal_segment_name_parse("00000000000012345678.idx", &base));
	assert_false(journal_segment_name_parse("0000000000001234567x.seg", &base));
	assert_false(journal_segment_name_parse("", &base));
	assert_false(journal_segment_name_parse(".", &base));
	/* Spares are not segments, and the other way round. */
	assert_false(journal_segment_name_parse("00000000000012345678.spare", &base));
	assert_true(journal_spare_name_parse("00000000000012345678.spare", &base));
	assert_int_equal(base, 12345678);
	assert_false(journal_spare_name_parse("00000000000012345678.seg", &base));
	assert_false(journal_spare_name_parse("0000000000001234567.spare", &base));

	char name[JOURNAL_SEGMENT_NAME_BYTES];
	int n = snprintf(name, sizeof(name), JOURNAL_SEGMENT_NAME_FORMAT, 987654321ull);
	assert_int_equal(n, JOURNAL_SEGMENT_NAME_BYTES - 1);
	assert_true(journal_segment_name_parse(name, &base));
	assert_int_equal(base, 987654321ull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_journal_entry_decode_round_trip),
		cmocka_unit_test(test_journal_entry_decode_zero),
		cmocka_unit_test(test_journal_entry_decode_truncated_at_every_byte),
		cmocka_unit_test(test_journal_entry_decode_bad_magic),
		cmocka_unit_test(test_journal_entry_decode_bad_length),
		cmocka_unit_test(test_journal_entry_decode_bad_position),
		cmocka_unit_test(test_journal_entry_decode_bad_crc),
		cmocka_unit_test(test_journal_entry_decode_bad_field),
		cmocka_unit_test(test_journal_entry_decode_random_mutations),
		cmocka_unit_test(test_journal_reject_name_every_reason),
		cmocka_unit_test(test_journal_segment_header_decode_round_trip),
		cmocka_unit_test(test_journal_segment_header_decode_bad_crc),
		cmocka_unit_test(test_journal_segment_header_decode_unknown_version),
		cmocka_unit_test(test_journal_segment_header_decode_bad_size),
		cmocka_unit_test(test_journal_segment_name_parse_valid_and_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
