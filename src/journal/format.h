/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The journal's on-disk format (docs/PROTOCOL.md, "Journal format"). A shard's journal is
 * a directory of segment files; each segment is one header block, then entries back to
 * back. An entry is one appended batch: a 64-byte header, the topic name padded to 8, then
 * the batch's records exactly as they came in the PRODUCE frame. Every entry carries its
 * own journal position and a CRC32C over its stored bytes, so stale bytes (recycled or
 * torn) are never mistaken for data. Everything here is pure: no I/O, no allocation.
 */
#ifndef SL_JOURNAL_FORMAT_H
#define SL_JOURNAL_FORMAT_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Unit of O_DIRECT I/O and size of a segment's header block. */
#define JOURNAL_BLOCK_BYTES 4096u
#define JOURNAL_SEGMENT_MAGIC 0x47534c53u /* "SLSG" */
#define JOURNAL_ENTRY_MAGIC 0x45534c53u	  /* "SLSE" */
/* Version 1: a zero-filled segment, zeros after its last entry. Version 2: a recycled
 * segment (an old one renamed and given a new header), whose bytes after the data are
 * stale until written: see journal_segment_is_recycled(). */
#define JOURNAL_FORMAT_VERSION 1u
#define JOURNAL_FORMAT_VERSION_RECYCLED 2u
#define JOURNAL_ENTRY_HEADER_BYTES 64u
#define JOURNAL_ALIGN 8u
/* Largest entry: header, longest topic, largest frame body. */
#define JOURNAL_ENTRY_BYTES_MAX (JOURNAL_ENTRY_HEADER_BYTES + 256u + 8976u)
#define JOURNAL_SEGMENT_BYTES_MIN (64u * 1024u)
#define JOURNAL_SEGMENT_BYTES_MAX (1ull << 40)
/* "shard-007", "00000000000012345678.seg": names are fixed-width so they sort. */
#define JOURNAL_SHARD_DIR_FORMAT "shard-%03u"
#define JOURNAL_SEGMENT_NAME_FORMAT "%020llu.seg"
#define JOURNAL_SEGMENT_NAME_BYTES 25u /* 20 digits, ".seg", NUL */
/* A spare: a segment retention removed from the journal and kept for reuse, named by the
 * base it had ("00000000000012345678.spare"). Not a segment: scans ignore it. */
#define JOURNAL_SPARE_NAME_FORMAT "%020llu.spare"

/*
 * First block of every segment, little-endian; the rest of the block is zero.
 * base_position: journal position of the segment's first entry, which sits at file
 * offset JOURNAL_BLOCK_BYTES; position p lives at file offset BLOCK + (p - base).
 * window_bytes: the most bytes the writer ever had in flight and unsynced past the
 * durable end; recovery uses it to tell a torn tail from corruption.
 * crc32c: over the 64 bytes of this struct with the field zero.
 */
struct journal_segment_header {
	uint32_t magic;	  /* JOURNAL_SEGMENT_MAGIC */
	uint16_t version; /* JOURNAL_FORMAT_VERSION */
	uint16_t shard;
	uint64_t base_position;
	uint64_t segment_bytes; /* file size the segment was created with */
	uint64_t created_ns;	/* CLOCK_REALTIME */
	uint32_t window_bytes;
	uint32_t reserved0;
	uint64_t reserved1[2];
	uint32_t reserved2;
	uint32_t crc32c;
};

static_assert(sizeof(struct journal_segment_header) == 64, "journal layout");
static_assert(offsetof(struct journal_segment_header, base_position) == 8, "journal layout");
static_assert(offsetof(struct journal_segment_header, window_bytes) == 32, "journal layout");
static_assert(offsetof(struct journal_segment_header, crc32c) == 60, "journal layout");

/* Entry flags. */
enum journal_entry_flag {
	JOURNAL_ENTRY_STREAM_HEAD = 1u << 0, /* the frame was flagged SL_WIRE_FLAG_STREAM_HEAD */
	JOURNAL_ENTRY_FLAGS_KNOWN = JOURNAL_ENTRY_STREAM_HEAD,
};

/*
 * Header of one entry, little-endian, at an 8-byte aligned position. entry_bytes covers
 * header, topic (padded to 8) and body and is a multiple of 8. crc32c covers all
 * entry_bytes with the field zero.
 */
struct journal_entry_header {
	uint32_t magic; /* JOURNAL_ENTRY_MAGIC */
	uint32_t entry_bytes;
	uint64_t position; /* journal position of this entry */
	uint64_t base_offset;
	uint64_t producer_id;
	uint64_t sequence;
	uint64_t append_ns; /* router's CLOCK_REALTIME at append */
	uint32_t partition;
	uint32_t producer_epoch;
	uint16_t record_count;
	uint8_t topic_len;
	uint8_t flags; /* enum journal_entry_flag */
	uint32_t crc32c;
};

static_assert(sizeof(struct journal_entry_header) == JOURNAL_ENTRY_HEADER_BYTES, "journal layout");
static_assert(offsetof(struct journal_entry_header, position) == 8, "journal layout");
static_assert(offsetof(struct journal_entry_header, append_ns) == 40, "journal layout");
static_assert(offsetof(struct journal_entry_header, partition) == 48, "journal layout");
static_assert(offsetof(struct journal_entry_header, record_count) == 56, "journal layout");
static_assert(offsetof(struct journal_entry_header, crc32c) == 60, "journal layout");

/* A decoded entry. Pointers borrow the buffer it was decoded from. */
struct journal_entry {
	struct journal_entry_header hdr;
	const uint8_t *topic; /* hdr.topic_len bytes, not NUL-terminated */
	const uint8_t *body;  /* the batch's records, wire format (struct sl_wire_record) */
	uint32_t body_len;
};

/* Why an entry or a segment header was refused. */
enum journal_reject {
	JOURNAL_OK = 0,
	JOURNAL_REJECT_ZERO,	  /* all-zero header: the end of written data */
	JOURNAL_REJECT_TRUNCATED, /* fewer bytes than the header or entry_bytes says */
	JOURNAL_REJECT_BAD_MAGIC,
	JOURNAL_REJECT_BAD_VERSION,  /* segment header of an unknown format version */
	JOURNAL_REJECT_BAD_LENGTH,   /* entry_bytes out of range or not a multiple of 8 */
	JOURNAL_REJECT_BAD_POSITION, /* the entry's position is not where it was found */
	JOURNAL_REJECT_BAD_CRC,
	JOURNAL_REJECT_BAD_FIELD, /* unknown flags, topic or records do not fit */
	JOURNAL_REJECT_MAX = JOURNAL_REJECT_BAD_FIELD,
};

/* Bytes an entry with this topic length and body length takes on disk. */
static inline uint32_t journal_entry_bytes(uint32_t topic_len, uint32_t body_len)
{
	uint32_t topic_padded = (topic_len + (JOURNAL_ALIGN - 1)) & ~(JOURNAL_ALIGN - 1);

	return JOURNAL_ENTRY_HEADER_BYTES + topic_padded + body_len;
}

/* Name of a rejection ("bad crc", ...). */
const char *journal_reject_name(enum journal_reject r);

/*
 * Writes the entry `h` (entry_bytes and crc32c are computed here), topic and body into
 * dst, which must hold journal_entry_bytes(h->topic_len, body_len) bytes. body_len must
 * be a multiple of 8. Returns the bytes written.
 */
uint32_t journal_entry_encode(void *dst, const struct journal_entry_header *h, const uint8_t *topic,
			      const uint8_t *body, uint32_t body_len);

/*
 * Validates the entry at buf[0..len), expected at journal position `position`, and fills
 * out. Checks in order: zero header, length, magic, entry_bytes, position, CRC32C,
 * flags, topic and records (each record header in bounds, exact fill, record_count).
 * Returns JOURNAL_OK or the first failed check.
 */
enum journal_reject journal_entry_decode(const void *buf, size_t len, uint64_t position,
					 struct journal_entry *out);

/* Fills a segment header (crc32c computed) into dst[0..JOURNAL_BLOCK_BYTES), rest zero:
 * version JOURNAL_FORMAT_VERSION_RECYCLED when `recycled`, JOURNAL_FORMAT_VERSION if not. */
void journal_segment_header_encode(void *dst, uint16_t shard, uint64_t base_position,
				   uint64_t segment_bytes, uint64_t created_ns,
				   uint32_t window_bytes, bool recycled);

/*
 * True for a recycled segment's header. Its bytes after the data are stale: entries of the
 * segment's earlier lives, whose positions lie below its base and so never validate here.
 * Sealed, it ends with a zero header like any segment (the writer writes one when it
 * rolls away from it); the newest one may end in stale bytes (journal/scan.h).
 */
static inline bool journal_segment_is_recycled(const struct journal_segment_header *h)
{
	return h->version == JOURNAL_FORMAT_VERSION_RECYCLED;
}

/* Validates a segment header block. Returns JOURNAL_OK, TRUNCATED, BAD_MAGIC, BAD_CRC,
 * BAD_VERSION (neither 1 nor 2; checked after the CRC so a damaged header is not called
 * "unknown version"),
 * BAD_LENGTH (segment_bytes out of MIN..MAX or not a multiple of the block) or BAD_FIELD
 * (base_position not 8-aligned, or base + segment_bytes wrapping). */
enum journal_reject journal_segment_header_decode(const void *buf, size_t len,
						  struct journal_segment_header *out);

/* File offset of journal position `position` in a segment based at `base`. */
static inline uint64_t journal_segment_offset(uint64_t base, uint64_t position)
{
	return JOURNAL_BLOCK_BYTES + (position - base);
}

/* Parses a segment file name; true and *base when it is one ("%020llu.seg" exactly). */
bool journal_segment_name_parse(const char *name, uint64_t *base);

/* Parses a spare's file name; true and *base when it is one ("%020llu.spare" exactly). */
bool journal_spare_name_parse(const char *name, uint64_t *base);

#endif
