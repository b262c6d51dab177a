/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Synchronous, read-only walk over a shard's journal directory: lists the segments in
 * position order, validates every segment header and every entry (CRC32C included), and
 * tells a torn tail (what a crash leaves behind) from corruption (damage to data that
 * was synced). Used at start-up by journal_open() before the shard polls, and by
 * `sluice journal verify|dump|stats`. Never writes.
 */
#ifndef SL_JOURNAL_SCAN_H
#define SL_JOURNAL_SCAN_H

#include "journal/format.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct journal_segment_info {
	uint64_t base_position; /* from the file name, checked against the header */
	uint64_t capacity;	/* positions the segment holds: segment_bytes - BLOCK */
	uint64_t file_bytes;	/* size of the file now */
	uint64_t created_ns;
	uint64_t end_position; /* after its last valid entry (filled by journal_scan) */
	uint64_t entries;      /* valid entries (filled by journal_scan) */
	char name[JOURNAL_SEGMENT_NAME_BYTES];
};

/* A shard directory's segments, sorted by base position. */
struct journal_dir {
	char path[PATH_MAX];
	struct journal_segment_info *segments; /* [count], malloc'd */
	unsigned count;
};

/*
 * Lists the segments of `path` (files named like JOURNAL_SEGMENT_NAME_FORMAT; anything
 * else is ignored). Reads no segment yet. Returns 0, -ENOENT when path does not exist,
 * -ENOTDIR, -ENOMEM, or -errno of opendir. Allocates: start-up and tools only.
 */
int journal_dir_list(const char *path, struct journal_dir *out);

void journal_dir_free(struct journal_dir *d);

/* What journal_scan() found. */
struct journal_scan_result {
	uint64_t entries;      /* valid entries, all segments */
	uint64_t entry_bytes;  /* their bytes */
	uint64_t end_position; /* after the last valid entry: where appending continues */
	unsigned end_segment;  /* index of the segment holding end_position (count: none) */
	/* Torn tail: damage at the end of the newest data that recovery may cut away. */
	bool torn;
	uint64_t torn_position;
	enum journal_reject torn_reason;
	uint64_t torn_bytes; /* bytes from torn_position to the last non-zero byte seen */
	/* Trailing segments whose header was never completely written (an interrupted
	 * creation): recovery deletes them; they hold no data. */
	unsigned unfinished_segments;
	/* Corruption: damage recovery must not cut away. scan stops there. */
	bool corrupt;
	unsigned corrupt_segment;
	uint64_t corrupt_position;
	enum journal_reject corrupt_reason;
	char message[512]; /* a sentence naming file, position and reason; "" when clean */
	/* journal_scan() only: oldest segments retention removed (renamed to a spare or
	 * unlinked) while the scan read them, beside a running router. Dropped from d, not
	 * damage; updated before fn sees an entry of a later segment. */
	unsigned removed_segments;
	char removed_last[JOURNAL_SEGMENT_NAME_BYTES]; /* the newest of them */
};

/* Called for every valid entry in position order; `segment` indexes d->segments. The
 * entry's pointers are valid during the call only. Return 0 to go on, non-zero to stop
 * the scan with that value. */
typedef int journal_entry_fn(void *ctx, const struct journal_entry *e, unsigned segment);

/*
 * Reads every segment of d in order with large sequential reads, checks each header
 * (magic, CRC, version, base position continuing the previous segment's range) and
 * each entry, calls fn (may be NULL) for each valid entry and fills res and the
 * segments' end_position/entries. Damage in the newest segment holding data is a torn
 * tail when no valid entry lies more than the segment's window_bytes past it; any other
 * damage is corruption.
 * Reading beside a running router, retention may remove the oldest segments meanwhile
 * (rename them to spares that the writer then overwrites, or unlink them): when reading
 * segment i fails in any way (open, read, header, entry) or ends, and its name is gone
 * from the directory, segments [0, i] are dropped from d and counted in
 * res->removed_segments, not as damage, and the scan goes on with the next segment. The
 * entries fn saw from segment i are still exact (each was read whole, CRC-checked, at
 * the position it names), but may stop short of its end. Returns 0 (res says whether it
 * was torn or corrupt), what fn returned, -ENOMEM, -EIO style -errno of a read, or
 * -EPROTO for an unknown format version (res->message names the file and version).
 */
int journal_scan(struct journal_dir *d, journal_entry_fn *fn, void *ctx,
		 struct journal_scan_result *res);

/*
 * journal_scan() of segments [first, count) only: the ones before were checked when they
 * were indexed and are trusted (start-up recovery reads only the segments after the
 * newest valid index). Segment `first` must be based at first_base when first > 0. The
 * torn-tail rule applies to the newest of the scanned segments holding data; when none
 * holds data or has a valid header, res->end_segment is d->count. For start-up, under
 * the data directory's lock (journal/lock.h): nothing removes segments meanwhile, so a
 * segment that cannot be read is an error or damage, never skipped.
 */
int journal_scan_from(struct journal_dir *d, unsigned first, uint64_t first_base,
		      journal_entry_fn *fn, void *ctx, struct journal_scan_result *res);

/* Reads len bytes of fd at offset (retrying short reads and EINTR); what lies past the
 * end of the file reads as zeros. Blocking: start-up and tools only. Returns 0 or
 * -errno. */
int journal_pread_zero(int fd, void *buf, size_t len, uint64_t offset);

#endif
