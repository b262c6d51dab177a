/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The index of one sealed segment, "<base>.idx" beside "<base>.seg". A segment is sealed
 * once a newer segment holds data (the roll barrier makes it complete and synced); its
 * index is derived data, written once, checked with a CRC32C when read, and rebuilt from
 * the segment (plus the previous segment's index, for the state) when missing, damaged or
 * not matching the segment. It holds:
 *  - summary: per (topic, partition) with entries in the segment, the offsets it holds
 *    [first_offset, next_offset), the position of its first entry, its append-time range,
 *    entries and bytes. Retention (bytes and age per topic) and the reader's choice of
 *    segment use only this.
 *  - points: a sparse offset and time index. For each partition, its first entry in the
 *    segment and then the first entry after at least JOURNAL_INDEX_INTERVAL_BYTES of
 *    that partition's entries since its previous point: base offset, the largest
 *    append time of the segment's entries before that entry, 0 when none (so points are
 *    sorted by time too: every entry before a point is no later than its max_ns),
 *    position.
 *  - state: journal_state at the segment's end (every partition's next offset, every
 *    producer stream not idle), so start-up applies only the entries after it.
 * File layout (little-endian): a 64-byte header (magic "SLJI", version, base and end
 * positions, section counts and byte offsets, CRC32C of the whole file with the field
 * zero), then the summary, the points, the state; docs/PROTOCOL.md "Journal index" has
 * the byte layout. The header and summary come first and are small, so the reader can
 * read just them (journal_index_decode_summary()).
 */
#ifndef SL_JOURNAL_INDEX_H
#define SL_JOURNAL_INDEX_H

#include "journal/state.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JOURNAL_INDEX_MAGIC 0x494a4c53u /* "SLJI" */
#define JOURNAL_INDEX_VERSION 1u
#define JOURNAL_INDEX_INTERVAL_BYTES 65536u
#define JOURNAL_INDEX_NAME_FORMAT "%020llu.idx"
#define JOURNAL_INDEX_HEADER_BYTES 64u

struct journal_index_part {
	uint64_t first_offset; /* of its first entry in the segment */
	uint64_t next_offset;  /* after its last entry in the segment */
	uint64_t first_position;
	uint64_t min_ns; /* append times of its entries */
	uint64_t max_ns;
	uint64_t entries;
	uint64_t bytes; /* entry bytes */
	uint32_t partition;
	uint8_t topic_len;
	uint8_t topic[255];
};

struct journal_index_point {
	uint64_t base_offset;
	uint64_t max_ns; /* largest append time of the entries before this one; 0: none */
	uint64_t position;
	uint32_t part; /* index into journal_index.parts */
	uint32_t reserved;
};

struct journal_index {
	uint64_t base_position;
	uint64_t end_position; /* after the segment's last entry */
	uint64_t entries;
	uint64_t min_ns; /* append-time range of the whole segment (0, 0 when empty) */
	uint64_t max_ns;
	struct journal_index_part *parts; /* in order of first appearance */
	uint32_t nparts;
	struct journal_index_point *points; /* in position order */
	uint32_t npoints;
	struct journal_state state; /* empty after journal_index_decode_summary() */
	/* parts and points point into the caller's buffer (journal_index_decode_summary()):
	 * journal_index_free() leaves them alone. */
	bool borrowed;
};

/*
 * Builds an index from the entries of one segment as they are read, for callers that
 * read the segment anyway (the recovery scan; journal_index_build() is one). Each entry
 * is also applied to the running state `st` (borrowed), which therefore ends as the
 * state after the segment.
 */
struct journal_index_builder {
	struct journal_index ix;   /* parts and points so far */
	struct journal_state *st;  /* the running state */
	struct journal_state seen; /* (topic, partition) -> index into ix.parts */
	uint64_t *since_point;	   /* [parts] entry bytes since the part's last point */
	uint32_t parts_cap;
	uint32_t since_cap;
	uint32_t points_cap;
};

/* Starts an index of the segment based at base_position. Returns 0 or -ENOMEM. */
int journal_index_builder_init(struct journal_index_builder *b, uint64_t base_position,
			       struct journal_state *st);

/* Adds a valid entry of the segment (in position order). Returns 0 or -ENOMEM. */
int journal_index_builder_add(struct journal_index_builder *b, const struct journal_entry *e);

/* The segment's data ends at end_position: prunes the running state at the segment's
 * newest append time, hands the index (with a copy of that state) to out and frees b.
 * Returns 0 or -ENOMEM (b freed either way). */
int journal_index_builder_finish(struct journal_index_builder *b, uint64_t end_position,
				 struct journal_index *out);

/* Frees a builder that is not finished. */
void journal_index_builder_free(struct journal_index_builder *b);

/*
 * Builds the index of the sealed segment `seg_path` (based at base_position) by reading
 * it whole: every entry is decoded and checked (CRC32C included). prev: the state at the
 * end of the previous segment (from its index), or NULL to start from nothing; the new
 * state is prev plus this segment's entries (window and idle_ns taken from prev, else
 * from the arguments), pruned at the segment's newest append time. Returns 0, -ENOMEM,
 * -errno of the I/O, or -EPROTO when the segment is damaged or not complete (message
 * says file, position and reason; message may be NULL).
 */
int journal_index_build(const char *seg_path, uint64_t base_position,
			const struct journal_state *prev, uint32_t window, uint64_t idle_ns,
			struct journal_index *out, char *message, size_t message_len);

/* The stored form of ix (CRC included): journal_index_encoded_bytes() bytes, written to
 * out by journal_index_encode(). */
uint64_t journal_index_encoded_bytes(const struct journal_index *ix);
void journal_index_encode(const struct journal_index *ix, void *out, uint64_t len);

/* Writes ix to `path` atomically (temporary file, fdatasync, rename, directory
 * fdatasync). Returns 0 or -errno. */
int journal_index_write(const char *path, const struct journal_index *ix);

/*
 * Reads and checks the index at `path` (magic, version, CRC32C, every field in range,
 * base_position as expected). Returns 0; -ENOENT when missing; -EPROTO when damaged or
 * of an unknown version (the caller rebuilds it); -ENOMEM or -errno of the read.
 */
int journal_index_read(const char *path, uint64_t base_position, struct journal_index *out);

/* Cheap check of the index at `path`: its header is valid, names base_position and gives
 * the file's size; the rest is not read (start-up checks old indexes this way; readers
 * check the CRC when they read one). Returns 0, -ENOENT, -EPROTO or -errno. */
int journal_index_check_header(const char *path, uint64_t base_position);

/* Size of the header plus summary of an index whose header block is buf[0..len) (at
 * least JOURNAL_INDEX_HEADER_BYTES), or 0 when that header is not valid. */
uint32_t journal_index_summary_bytes(const void *buf, size_t len);

/*
 * Decodes header, summary and points from an index file's first bytes (the reader reads
 * them asynchronously); the state is left empty. Allocation-free: parts and points point
 * into buf, which must stay alive and 8-byte aligned. The CRC covers the whole file, so
 * only the fields are range-checked here. Returns 0 or -EPROTO.
 */
int journal_index_decode_summary(const void *buf, size_t len, uint64_t base_position,
				 struct journal_index *out);

/* Frees what ix owns (NULL arrays and a zeroed ix are fine). */
void journal_index_free(struct journal_index *ix);

/* Path of the index of the segment based at `base` in directory dir. Returns 0 or
 * -ENAMETOOLONG. */
int journal_index_path(const char *dir, uint64_t base, char *out, size_t len);

/* Index into ix->parts of (topic, partition), or -1. */
int32_t journal_index_find_part(const struct journal_index *ix, const uint8_t *topic,
				uint8_t topic_len, uint32_t partition);

/* Position to start reading at to find `offset` of part `part`: the last point of that
 * part with base_offset <= offset (its first_position when none). Points of one part are
 * interleaved with the others' in position order: a linear pass (about
 * segment_bytes / JOURNAL_INDEX_INTERVAL_BYTES + parts points). */
uint64_t journal_index_seek_offset(const struct journal_index *ix, uint32_t part, uint64_t offset);

/* Position to start reading at to find the first entry appended at or after time_ns: the
 * last point whose max_ns < time_ns (every entry before it is earlier), base_position
 * when there is none, end_position when the segment's max_ns < time_ns. */
uint64_t journal_index_seek_time(const struct journal_index *ix, uint64_t time_ns);

#endif
