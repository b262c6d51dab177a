/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Encoding and validation of the journal's on-disk structures: segment headers, entries
 * and segment file names. The decoders are the only way bytes read from a journal file
 * become trusted; they never read past the buffer they are given and name why they
 * refuse. Entry bodies are PRODUCE bodies, checked by the wire decoder's record check.
 */
#include "journal/format.h"

#include "core/crc32c.h"
#include "core/wire.h"

#include <string.h>

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	      "the journal copies its structs directly: little-endian hosts only");

static const char *const journal_reject_names[] = {
	[JOURNAL_OK] = "ok",
	[JOURNAL_REJECT_ZERO] = "zero header",
	[JOURNAL_REJECT_TRUNCATED] = "truncated",
	[JOURNAL_REJECT_BAD_MAGIC] = "bad magic",
	[JOURNAL_REJECT_BAD_VERSION] = "unknown format version",
	[JOURNAL_REJECT_BAD_LENGTH] = "bad length",
	[JOURNAL_REJECT_BAD_POSITION] = "bad position",
	[JOURNAL_REJECT_BAD_CRC] = "bad crc",
	[JOURNAL_REJECT_BAD_FIELD] = "bad field",
};

const char *journal_reject_name(enum journal_reject r)
{
	if ((unsigned)r > JOURNAL_REJECT_MAX) {
		return "unknown";
	}
	return journal_reject_names[r];
}

static bool journal_is_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] != 0) {
			return false;
		}
	}
	return true;
}

/* CRC32C of `len` bytes with the 4-byte field at crc_at read as zero. */
static uint32_t journal_crc(const uint8_t *p, size_t len, size_t crc_at)
{
	static const uint8_t zero[4];
	uint32_t crc = crc32c_extend(0, p, crc_at);

	crc = crc32c_extend(crc, zero, sizeof(zero));
	return crc32c_extend(crc, p + crc_at + 4, len - crc_at - 4);
}

uint32_t journal_entry_encode(void *dst, const struct journal_entry_header *h, const uint8_t *topic,
			      const uint8_t *body, uint32_t body_len)
{
	uint8_t *p = dst;
	struct journal_entry_header hdr = *h;
	uint32_t topic_padded = wire_align(h->topic_len);
	uint32_t bytes = journal_entry_bytes(h->topic_len, body_len);

	hdr.magic = JOURNAL_ENTRY_MAGIC;
	hdr.entry_bytes = bytes;
	hdr.crc32c = 0;
	memcpy(p, &hdr, sizeof(hdr));
	p += JOURNAL_ENTRY_HEADER_BYTES;
	if (h->topic_len > 0) {
		memcpy(p, topic, h->topic_len);
	}
	memset(p + h->topic_len, 0, topic_padded - h->topic_len);
	p += topic_padded;
	if (body_len > 0) {
		memcpy(p, body, body_len);
	}
	uint32_t crc = crc32c_extend(0, dst, bytes);
	memcpy((uint8_t *)dst + offsetof(struct journal_entry_header, crc32c), &crc, sizeof(crc));
	return bytes;
}

enum journal_reject journal_entry_decode(const void *buf, size_t len, uint64_t position,
					 struct journal_entry *out)
{
	const uint8_t *p = buf;
	struct journal_entry_header *h = &out->hdr;

	memset(out, 0, sizeof(*out));
	if (len == 0) {
		return JOURNAL_REJECT_TRUNCATED;
	}
	size_t head = len < JOURNAL_ENTRY_HEADER_BYTES ? len : JOURNAL_ENTRY_HEADER_BYTES;
	if (journal_is_zero(p, head)) {
		return JOURNAL_REJECT_ZERO;
	}
	if (len < JOURNAL_ENTRY_HEADER_BYTES) {
		return JOURNAL_REJECT_TRUNCATED;
	}
	memcpy(h, p, sizeof(*h));
	if (h->magic != JOURNAL_ENTRY_MAGIC) {
		return JOURNAL_REJECT_BAD_MAGIC;
	}
	/* The smallest entry holds a topic and one empty record. */
	uint32_t min_bytes = journal_entry_bytes(h->topic_len, SL_WIRE_RECORD_HEADER_BYTES);
	if (h->entry_bytes % JOURNAL_ALIGN != 0 || h->entry_bytes < min_bytes ||
	    h->entry_bytes > JOURNAL_ENTRY_BYTES_MAX) {
		return JOURNAL_REJECT_BAD_LENGTH;
	}
	if (h->entry_bytes > len) {
		return JOURNAL_REJECT_TRUNCATED;
	}
	if (h->position != position) {
		return JOURNAL_REJECT_BAD_POSITION;
	}
	if (journal_crc(p, h->entry_bytes, offsetof(struct journal_entry_header, crc32c)) !=
	    h->crc32c) {
		return JOURNAL_REJECT_BAD_CRC;
	}
	if ((h->flags & ~(unsigned)JOURNAL_ENTRY_FLAGS_KNOWN) != 0) {
		return JOURNAL_REJECT_BAD_FIELD;
	}
	const uint8_t *topic = p + JOURNAL_ENTRY_HEADER_BYTES;
	uint32_t topic_padded = wire_align(h->topic_len);
	if (!wire_topic_is_valid(topic, h->topic_len) ||
	    !journal_is_zero(topic + h->topic_len, topic_padded - h->topic_len)) {
		return JOURNAL_REJECT_BAD_FIELD;
	}
	const uint8_t *body = topic + topic_padded;
	uint32_t body_len = h->entry_bytes - JOURNAL_ENTRY_HEADER_BYTES - topic_padded;
	if (wire_records_check(body, body_len, h->record_count) != SL_WIRE_OK) {
		return JOURNAL_REJECT_BAD_FIELD;
	}
	out->topic = topic;
	out->body = body;
	out->body_len = body_len;
	return JOURNAL_OK;
}

void journal_segment_header_encode(void *dst, uint16_t shard, uint64_t base_position,
				   uint64_t segment_bytes, uint64_t created_ns,
				   uint32_t window_bytes, bool recycled)
{
	struct journal_segment_header h;

	memset(&h, 0, sizeof(h));
	h.magic = JOURNAL_SEGMENT_MAGIC;
	h.version = recycled ? JOURNAL_FORMAT_VERSION_RECYCLED : JOURNAL_FORMAT_VERSION;
	h.shard = shard;
	h.base_position = base_position;
	h.segment_bytes = segment_bytes;
	h.created_ns = created_ns;
	h.window_bytes = window_bytes;
	memset(dst, 0, JOURNAL_BLOCK_BYTES);
	memcpy(dst, &h, sizeof(h));
	h.crc32c = crc32c_extend(0, dst, sizeof(h));
	memcpy(dst, &h, sizeof(h));
}

enum journal_reject journal_segment_header_decode(const void *buf, size_t len,
						  struct journal_segment_header *out)
{
	struct journal_segment_header *h = out;

	memset(out, 0, sizeof(*out));
	if (len < sizeof(*h)) {
		return JOURNAL_REJECT_TRUNCATED;
	}
	memcpy(h, buf, sizeof(*h));
	if (h->magic != JOURNAL_SEGMENT_MAGIC) {
		return JOURNAL_REJECT_BAD_MAGIC;
	}
	if (journal_crc(buf, sizeof(*h), offsetof(struct journal_segment_header, crc32c)) !=
	    h->crc32c) {
		return JOURNAL_REJECT_BAD_CRC;
	}
	if (h->version != JOURNAL_FORMAT_VERSION && h->version != JOURNAL_FORMAT_VERSION_RECYCLED) {
		return JOURNAL_REJECT_BAD_VERSION;
	}
	if (h->segment_bytes < (uint64_t)JOURNAL_SEGMENT_BYTES_MIN ||
	    h->segment_bytes > JOURNAL_SEGMENT_BYTES_MAX ||
	    h->segment_bytes % JOURNAL_BLOCK_BYTES != 0) {
		return JOURNAL_REJECT_BAD_LENGTH;
	}
	/* Positions are 8-aligned, and the segment's range must not wrap. */
	if (h->base_position % JOURNAL_ALIGN != 0 ||
	    h->base_position > UINT64_MAX - h->segment_bytes) {
		return JOURNAL_REJECT_BAD_FIELD;
	}
	return JOURNAL_OK;
}

/* Parses "<20 digits><suffix>" exactly. */
static bool journal_numbered_name_parse(const char *name, const char *suffix, uint64_t *base)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < 20; i++) {
		if (name[i] < '0' || name[i] > '9') {
			return false;
		}
		unsigned d = (unsigned)(name[i] - '0');
		if (v > (UINT64_MAX - d) / 10) {
			return false;
		}
		v = v * 10 + d;
	}
	if (strcmp(name + 20, suffix) != 0) {
		return false;
	}
	*base = v;
	return true;
}

bool journal_segment_name_parse(const char *name, uint64_t *base)
{
	return journal_numbered_name_parse(name, ".seg", base);
}

bool journal_spare_name_parse(const char *name, uint64_t *base)
{
	return journal_numbered_name_parse(name, ".spare", base);
}
