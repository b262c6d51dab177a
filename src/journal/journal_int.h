/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to src/journal: the writer's state (struct journal and its slots), shared by
 * writer.c and the other parts of the journal that work on the shard loop beside it
 * (the replay cursor). Every field is the shard lcore's own unless said otherwise.
 */
#ifndef SL_JOURNAL_JOURNAL_INT_H
#define SL_JOURNAL_JOURNAL_INT_H

#include "journal/index.h"
#include "journal/journal.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define JOURNAL_LOG "journal"
/* Segments open at once: one being retired, the current one, the next one. */
#define JOURNAL_SEG_SLOTS 3u
/* fdatasyncs of data in flight at once. */
#define JOURNAL_FSYNC_SLOTS 8u
/* Operations on segment files in flight at once (creation steps, close, unlink). */
#define JOURNAL_SEG_OPS_MAX (2u * JOURNAL_SEG_SLOTS + 2u)
/* Zero-filling a created segment: bytes per write. */
#define JOURNAL_ZERO_BYTES JOURNAL_WRITE_BYTES_MAX
#define JOURNAL_SPACE_RETRY_US 1000000u
/* Completions taken per journal_poll(): a few bursts, then back to the shard. */
#define JOURNAL_REAP_BURST 32u
#define JOURNAL_REAP_ROUNDS 4u
#define JOURNAL_CLOSE_WAIT_US 100000u

#define JOURNAL_TAG_SHIFT 56
#define JOURNAL_TAG_WRITE 1ull
#define JOURNAL_TAG_FSYNC 2ull
#define JOURNAL_TAG_SEG 3ull

enum journal_seg_state {
	JOURNAL_SEG_EMPTY,	/* slot free */
	JOURNAL_SEG_OPENING,	/* creation: open in flight */
	JOURNAL_SEG_ALLOCATING, /* fallocate in flight */
	JOURNAL_SEG_HEADER,	/* header write in flight */
	JOURNAL_SEG_SYNCING,	/* fdatasync of the file in flight */
	JOURNAL_SEG_DIRSYNC,	/* fdatasync of the directory in flight */
	JOURNAL_SEG_READY,	/* created, waiting for the roll */
	JOURNAL_SEG_ACTIVE,	/* appended to, or still being written and synced */
	JOURNAL_SEG_CLOSING,	/* close in flight */
	JOURNAL_SEG_DISCARDING, /* no space: close and unlink in flight */
};

struct journal_seg {
	uint64_t seq; /* segments in the order this process used them */
	uint64_t base;
	uint64_t limit;	   /* base + capacity */
	uint64_t data_end; /* after the last chunk written into it; 0: none */
	int fd;
	unsigned ops;	   /* operations in flight on this slot */
	bool full;	   /* appends must roll (its header's window is too small) */
	uint64_t zero_off; /* zero-filled up to this file offset */
	bool zero_busy;	   /* a zero-fill write or its fdatasync is in flight */
	bool zero_synced;
	enum journal_seg_state state;
	char path[PATH_MAX];
};

struct journal_chunk {
	uint8_t *buf;
	uint64_t pos;	  /* journal position of buf[0] */
	uint64_t seg_seq; /* the segment it belongs to */
	uint32_t used;	  /* bytes staged, carry included */
	uint32_t carry;	  /* leading bytes copied from the previous chunk */
	uint32_t write_len;
	uint32_t writes_left;
};

struct journal_sync_slot {
	uint64_t covers; /* written end when issued */
	uint64_t issued_ns;
	uint64_t seg_seq;
	bool busy;
};

struct journal {
	char dir[PATH_MAX];
	struct journal_conf conf;
	uint64_t *counters;
	struct journal_io *io;
	int dir_fd;
	int open_flags; /* for data files: O_RDWR | O_CLOEXEC [| O_DIRECT] */
	uint32_t chunk_bytes;
	uint32_t window_bytes;
	uint32_t writes_per_chunk_max;
	unsigned io_depth;
	unsigned nchunks;
	struct journal_chunk *chunks;
	uint8_t *header_block; /* the next segment's header, registered as buffer nchunks */
	uint8_t *zero_block;   /* JOURNAL_ZERO_BYTES of zeros, registered as nchunks + 1 */
	unsigned zero_inflight;
	/* Chunks [free_seq, write_seq) are being written, [write_seq, seal_seq) are sealed,
	 * seal_seq is being filled when `open`. */
	uint64_t free_seq;
	uint64_t write_seq;
	uint64_t seal_seq;
	bool open;
	uint64_t open_since_us; /* poll clock when the open chunk got its first entry */
	uint64_t tail_pos;	/* where the next chunk starts (block-aligned) */
	uint32_t tail_carry;	/* bytes of it the last sealed chunk holds */
	struct journal_seg seg[JOURNAL_SEG_SLOTS];
	uint64_t cur_seq;
	uint64_t appended_end;
	uint64_t written_end; /* every write below completed */
	uint64_t written_seg_seq;
	uint64_t synced_end; /* every byte below is synced */
	uint64_t fsync_issued_end;
	uint64_t last_fsync_us;
	struct journal_sync_slot fsync[JOURNAL_FSYNC_SLOTS];
	uint64_t now_us;
	bool failed;
	int first_error;
	bool space_short; /* the next segment could not be preallocated */
	uint64_t space_retry_us;
	bool closing;
	uint64_t own_counters[JOURNAL_STAT_COUNT];
	/* Shared with the maintenance thread (relaxed loads and stores, release/acquire
	 * where said): every segment based below sealed_below is complete and synced; the
	 * oldest retained data starts at retained_start (retention moves it forward, then
	 * deletes what lies below). */
	_Atomic uint64_t sealed_below;
	_Atomic uint64_t retained_start;
};

/* What start-up recovery (recovery.c) found, for journal_open() to act on. */
struct journal_recovered {
	struct journal_dir d;
	struct journal_scan_result res; /* of the segments after the indexed one */
	struct journal_state st;	/* state after the last valid entry */
	int indexed;			/* newest segment with a valid index, -1: none */
	uint64_t next_base;		/* where appending starts when res.end_segment == d.count */
	int *missing; /* [d.count] per segment: 0 or why its index was not valid */
	unsigned index_rebuilt;
	unsigned missing_built; /* of those, indexes that were missing */
	unsigned missing_last;
};

/*
 * Lists dir, loads the state of the newest valid index, scans the segments after it
 * (journal_scan_from()), writes the index of every sealed segment lacking a valid one
 * and logs what it rebuilt. out->res tells torn or corrupt (message not yet logged).
 * Returns 0 or -errno (logged, except corruption: the caller logs res.message). Free out
 * with journal_recovered_free() whatever it returned.
 */
int journal_recover_state(const char *dir, const struct journal_recovery *rec,
			  struct journal_recovered *out);

/* Prunes the recovered state at rec->now_ns and hands it to rec's callbacks. Returns 0
 * or the first non-zero callback result. */
int journal_recover_hand_over(struct journal_recovered *r, const struct journal_recovery *rec);

void journal_recovered_free(struct journal_recovered *r);

#endif
