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
#include <stddef.h>
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
#define JOURNAL_TAG_CURSOR 4ull
/* Operations one replay cursor has in flight at most: a read per buffer half, the open
 * of the segment it moves to and the close of the one it leaves. */
#define JOURNAL_CURSOR_OPS_MAX 4u

enum journal_seg_state {
	JOURNAL_SEG_EMPTY,	/* slot free */
	JOURNAL_SEG_OPENING,	/* creation: open in flight */
	JOURNAL_SEG_ALLOCATING, /* fallocate in flight */
	JOURNAL_SEG_HEADER,	/* header write in flight */
	JOURNAL_SEG_SYNCING,	/* fdatasync of the file in flight */
	JOURNAL_SEG_RENAMING,	/* recycled: rename of the spare to the segment's name in flight */
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
	/* Made from a spare (header version 2): stale bytes follow its data, so the writer
	 * ends its data with a zero header when it rolls away from it, and never zero-fills
	 * it. */
	bool recycled;
	enum journal_seg_state state;
	char path[PATH_MAX];
	char spare_path[PATH_MAX]; /* recycled, until renamed: the spare it is made from */
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

/* A segment that existed at open: positions [base, limit). */
struct journal_span {
	uint64_t base;
	uint64_t limit;
};

struct journal_cursor;

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
	uint64_t *counters_more; /* slots of JOURNAL_STAT_MORE_FIRST and later */
	/* The segment catalog, for cursors: the segments found at open (oldest first, from
	 * the directory listing), then, from run_start on, one every run_capacity bytes:
	 * every segment this process creates has conf.segment_bytes, and each is based
	 * where the previous one ends. Below journal_retained_start() they may be gone. */
	struct journal_span *spans;
	uint64_t run_start;
	uint64_t run_capacity;
	unsigned nspans;
	/* Replay cursors, registered by journal_cursor_create() (NULL: free slot). */
	unsigned cursors_max;
	struct journal_cursor **cursors;
	/* Shared with the maintenance thread (relaxed loads and stores, release/acquire
	 * where said): every segment based below sealed_below is complete and synced; the
	 * oldest retained data starts at retained_start (retention moves it forward, then
	 * deletes what lies below). */
	_Atomic uint64_t sealed_below;
	_Atomic uint64_t retained_start;
	/* Spare segments, a single-producer single-consumer ring of their old bases: pushed
	 * by journal_open() and then by the maintenance thread alone (after the spare's rename
	 * is synced: release store of spares_pushed), popped by the shard when it prepares
	 * the next segment (release store of spares_popped). */
	uint64_t spare_bases[JOURNAL_SPARES_MAX];
	_Atomic uint64_t spares_pushed;
	_Atomic uint64_t spares_popped;
};

static inline uint64_t journal_tag(uint64_t kind, uint64_t value)
{
	return kind << JOURNAL_TAG_SHIFT | value;
}

/* The slot of counter `stat` (journal_conf.counters or counters_more). */
static inline uint64_t *journal_counter_slot(const struct journal *j, enum journal_stat stat)
{
	return stat < JOURNAL_STAT_MORE_FIRST ? &j->counters[stat]
					      : &j->counters_more[stat - JOURNAL_STAT_MORE_FIRST];
}

/* Adds n to counter `stat`; the journal's thread only. */
void journal_count(struct journal *j, enum journal_stat stat, uint64_t n);

/* Page-aligned memory on NUMA node `socket` (-1: local), freed with numa_free(). */
void *journal_numa_alloc(size_t bytes, int socket);

/* The segment holding `position` (at or above the oldest one found at open): its base
 * and limit. False for a position below every segment. */
bool journal_segment_find(const struct journal *j, uint64_t position, uint64_t *base,
			  uint64_t *limit);

/* Spare segments the journal holds now (any thread). */
unsigned journal_spares(const struct journal *j);

/* Offers the spare whose old base is `base` (file JOURNAL_SPARE_NAME_FORMAT in the journal's
 * directory, renamed and synced): false when conf.segment_spares are held already. The
 * producer's side: journal_open(), then the maintenance thread alone. */
bool journal_spare_push(struct journal *j, uint64_t base);

/* journal_poll(): a completion of a cursor's operation (cursor.c); value: the tag's low
 * bits, res: the operation's result. */
void journal_cursor_done(struct journal *j, uint64_t value, int32_t res);

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

/* Creates directory dir and its missing parents (mode 0755). Returns 0 or -errno. */
int journal_mkdir_parents(const char *dir);

#endif
