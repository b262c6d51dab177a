/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A shard's journal: the only owner of its data files. journal_open() recovers the
 * directory (truncating a torn tail, refusing corruption) from the newest segment index
 * and the segments after it, and hands the shard its partitions' next offsets and its
 * producer streams' dedupe state. On the shard loop,
 * journal_append() copies a batch once into a staging chunk; journal_poll() seals chunks
 * by size (--flush-bytes) or age (--flush-us), writes them with few large aligned writes,
 * issues the fdatasync covering them once their writes completed (group commit,
 * pipelined with the next chunk's writes), and advances the durable end that durable
 * acks wait for. Segments are created, preallocated and zero-filled ahead of use
 * through the same asynchronous I/O, so the shard never blocks. Replay cursors
 * (journal/cursor.h) read the journal beside the writer on the same loop and I/O back
 * end: journal_poll() also completes their reads, and they find segments in the
 * journal's catalog and the unwritten tail in its staging chunks. No DPDK here: memory
 * comes from libnuma on the shard's node.
 */
#ifndef SL_JOURNAL_JOURNAL_H
#define SL_JOURNAL_JOURNAL_H

#include "journal/format.h"
#include "journal/io.h"
#include "journal/scan.h"
#include "journal/state.h"

#include <stdbool.h>
#include <stdint.h>

enum journal_fsync {
	JOURNAL_FSYNC_ALWAYS = 0,   /* one fdatasync per flush */
	JOURNAL_FSYNC_INTERVAL = 1, /* at most one per fsync_us; durable acks wait for it */
	JOURNAL_FSYNC_NEVER = 2,    /* durable once written (survives a process crash only) */
};

/* Bounds checked by journal_open() and the daemon's flags. */
#define JOURNAL_FLUSH_BYTES_MIN JOURNAL_BLOCK_BYTES
#define JOURNAL_FLUSH_BYTES_MAX (64u << 20)
#define JOURNAL_FLUSH_US_MAX 1000000u
#define JOURNAL_FSYNC_US_MAX 10000000u
#define JOURNAL_BUFFERS_MIN 2u
#define JOURNAL_BUFFERS_MAX 1024u
/* Largest single write: a chunk is written as ceil(bytes / this) writes. */
#define JOURNAL_WRITE_BYTES_MAX (1u << 20)
/* Replay cursors (journal/cursor.h) one journal serves at once; 0 in the conf: DEFAULT. */
#define JOURNAL_CURSORS_DEFAULT 64u
#define JOURNAL_CURSORS_MAX 512u
/* Most spare segments a journal keeps (journal_conf.segment_spares). */
#define JOURNAL_SPARES_MAX 16u

struct journal_conf {
	const char *dir;	/* this shard's directory; created (with parents) if missing */
	uint16_t shard;		/* recorded in segment headers */
	int socket;		/* NUMA node of the staging memory; -1: local */
	uint64_t segment_bytes; /* JOURNAL_SEGMENT_BYTES_MIN..MAX, multiple of BLOCK */
	uint32_t flush_bytes;	/* seal a chunk at this many bytes, FLUSH_BYTES_MIN..MAX */
	uint32_t flush_us;	/* or when its oldest entry is this old, 0..FLUSH_US_MAX */
	enum journal_fsync fsync;
	uint32_t fsync_us; /* INTERVAL: at most one fdatasync per this long */
	uint32_t buffers;  /* staging chunks of flush_bytes (+ slack), BUFFERS_MIN..MAX */
	bool direct_io;	   /* O_DIRECT; falls back to buffered where the fs refuses it */
	/* Zero-fill each new segment ahead of use, so data writes overwrite written blocks
	 * (cheaper fdatasyncs) at the price of writing every byte twice; off: data goes
	 * into merely preallocated space. */
	bool zero_fill;
	/* Recycled segments kept for reuse, 0..JOURNAL_SPARES_MAX: retention renames up to
	 * this many removed segments to spares instead of deleting them, and the next segment
	 * is made from a spare when there is one (no fallocate, no zero-fill: its blocks are
	 * written already); 0 turns recycling off. */
	uint32_t segment_spares;
	enum journal_io_kind io;
	uint32_t cursors_max; /* replay cursors, ..CURSORS_MAX; 0: CURSORS_DEFAULT */
	/* Where to count (enum journal_stat, JOURNAL_STAT_COUNT slots), written with
	 * relaxed atomic stores by the journal's thread, except INDEX_BUILT, INDEX_REBUILT,
	 * SEGMENTS_DELETED, RETENTION_BYTES, SEGMENTS_RECYCLED and MAINT_ERRORS, which the maintenance
	 * thread (journal/maint.h) alone writes once started; NULL: an internal array. */
	uint64_t *counters;
	/* Where to count JOURNAL_STAT_MORE_FIRST..COUNT - 1 instead, when the caller keeps
	 * them apart (counters then needs only MORE_FIRST slots); NULL: in `counters`. */
	uint64_t *counters_more;
};

/*
 * Journal counters, in this order in the caller's array (and in enum sl_stat as
 * SL_STAT_JOURNAL_*). The fsync latency histogram counts fdatasyncs by completion time.
 */
enum journal_stat {
	JOURNAL_STAT_BATCHES,	     /* entries appended */
	JOURNAL_STAT_BYTES,	     /* entry bytes appended */
	JOURNAL_STAT_WRITES,	     /* write operations issued */
	JOURNAL_STAT_WRITE_BYTES,    /* bytes they wrote (block-rounded, tail rewrites incl.) */
	JOURNAL_STAT_FSYNCS,	     /* fdatasyncs issued */
	JOURNAL_STAT_FLUSH_SIZE,     /* chunks sealed because they reached flush_bytes */
	JOURNAL_STAT_FLUSH_TIME,     /* ... because flush_us passed */
	JOURNAL_STAT_FLUSH_ROLL,     /* ... because the segment was full */
	JOURNAL_STAT_FLUSH_CLOSE,    /* ... at shutdown */
	JOURNAL_STAT_BUSY,	     /* appends refused: every chunk full or in flight */
	JOURNAL_STAT_STORAGE_ERRORS, /* failed writes, fdatasyncs, creations */
	JOURNAL_STAT_SEGMENTS_CREATED,
	JOURNAL_STAT_SEGMENTS_DELETED, /* by retention */
	JOURNAL_STAT_RETENTION_BYTES,  /* bytes freed by retention */
	JOURNAL_STAT_ROLL_WAITS,       /* appends refused: next segment not ready yet */
	JOURNAL_STAT_TORN_TRUNCATIONS, /* torn tails cut at start-up */
	JOURNAL_STAT_FSYNC_US_LT_50,   /* fdatasync latency histogram */
	JOURNAL_STAT_FSYNC_US_LT_100,
	JOURNAL_STAT_FSYNC_US_LT_200,
	JOURNAL_STAT_FSYNC_US_LT_500,
	JOURNAL_STAT_FSYNC_US_LT_1000,
	JOURNAL_STAT_FSYNC_US_LT_2000,
	JOURNAL_STAT_FSYNC_US_LT_5000,
	JOURNAL_STAT_FSYNC_US_LT_20000,
	JOURNAL_STAT_FSYNC_US_GE_20000,
	JOURNAL_STAT_INDEX_BUILT,   /* segment indexes written for newly sealed segments */
	JOURNAL_STAT_INDEX_REBUILT, /* ... rebuilt because missing, damaged or mismatched */
	JOURNAL_STAT_READS,	    /* reads issued by replay cursors */
	JOURNAL_STAT_READ_BYTES,
	JOURNAL_STAT_CURSOR_GAPS,     /* cursors that skipped data retention had deleted */
	JOURNAL_STAT_ZERO_FILL_BYTES, /* bytes written zero-filling segments ahead of use */
	JOURNAL_STAT_MAINT_ERRORS,    /* failed index builds and deletions (retried next pass) */
	/* From here on: journal_conf.counters_more (added after the SL_STAT_JOURNAL_* block
	 * was followed by other counters, which keep their indexes on the wire). */
	JOURNAL_STAT_SEGMENTS_RECYCLED, /* removed by retention and kept as spares */
	JOURNAL_STAT_SEGMENTS_REUSED,	/* created from a spare (also in SEGMENTS_CREATED) */
	JOURNAL_STAT_COUNT,
};

#define JOURNAL_STAT_MORE_FIRST JOURNAL_STAT_SEGMENTS_RECYCLED

/* Name of a counter as `sluice stats` shows it without the "journal_" prefix. */
const char *journal_stat_name(enum journal_stat stat);

/* One batch to append; pointers are borrowed for the call only. */
struct journal_batch {
	const uint8_t *topic;
	uint8_t topic_len;
	uint8_t flags; /* enum journal_entry_flag */
	uint16_t record_count;
	uint32_t partition;
	uint32_t producer_epoch;
	uint64_t base_offset;
	uint64_t producer_id;
	uint64_t sequence;
	const uint8_t *body; /* the PRODUCE frame's records */
	uint32_t body_len;   /* multiple of 8 */
};

struct journal;

/* Recovery callbacks: return 0 to go on, anything else stops journal_open() with it. */
typedef int journal_partition_fn(void *ctx, const uint8_t *topic, uint8_t topic_len,
				 uint32_t partition, uint64_t next_offset);
/* stream->offsets has `window` slots (struct journal_state_stream); part is its partition.
 * Both are valid during the call only. */
typedef int journal_stream_fn(void *ctx, const struct journal_state_partition *part,
			      const struct journal_state_stream *stream, uint32_t window);

/* What journal_open() recovers and hands back (journal/state.h). */
struct journal_recovery {
	uint32_t window;  /* base offsets kept per stream: the shard's dedupe window */
	uint64_t idle_ns; /* streams silent longer are forgotten; 0: never */
	uint64_t now_ns;  /* CLOCK_REALTIME now: streams idle at this time are dropped */
	journal_partition_fn *partition; /* every partition the journal holds; may be NULL */
	journal_stream_fn *stream;	 /* then every stream kept; may be NULL */
	void *ctx;
};

/*
 * Opens (creating when missing) the journal in conf->dir and recovers its state: loads
 * the state stored in the newest valid segment index (journal/index.h) and scans only the
 * segments after it, applying their entries (CRC-checked; a torn tail in the newest
 * segment holding data is cut, zeroed and synced, counted and logged with its position;
 * any other damage is corruption). Every sealed segment without a valid index gets one
 * (logged, counted as index_rebuilt); the first start of a journal without indexes reads
 * it all once. Then the state is pruned of streams idle at rec->now_ns and handed to
 * rec's callbacks, partitions first (rec may be NULL: window 1, no callbacks). Removes
 * unfinished trailing segments, keeps one prepared ahead when intact, allocates the
 * staging chunks, creates the I/O back end (logging which one and, on fallback, why) and
 * makes sure the segment to append to exists; segments before it are sealed. Blocks:
 * call before the shard polls. Returns 0; -EINVAL for a bad conf or rec; -EPROTO when the
 * journal is corrupt or of an unknown version (logged with file, position and reason)
 * or a callback refused it; what a callback returned; -errno of the I/O.
 */
int journal_open(const struct journal_conf *conf, const struct journal_recovery *rec,
		 struct journal **out);

/*
 * Waits for everything appended to be written and (unless fsync is NEVER) synced, then
 * closes the files and frees j (NULL is a no-op). Blocks: shutdown only. Returns 0 or the
 * first storage error seen since open. An io_uring ring belongs to the thread that first
 * polled the journal: on another thread this cannot drive it, so drain there first
 * (journal_poll() until journal_is_idle()); what is left is logged, not waited for.
 */
int journal_close(struct journal *j);

/*
 * Copies one batch into the staging chunk, stamping it with now_ns (CLOCK_REALTIME) and
 * the next journal position. *end receives the position right after the entry: the
 * batch is durable once journal_durable_end() >= *end. Returns 0; -EAGAIN when no
 * staging chunk has room or the next segment is still being prepared (answer busy);
 * -EROFS when the journal stopped after a storage error, or -ENOSPC while there is no
 * space for its next segment (answer storage).
 * Never blocks, never allocates.
 */
int journal_append(struct journal *j, const struct journal_batch *b, uint64_t now_ns,
		   uint64_t *end);

/*
 * The journal's share of a shard loop iteration: reaps completions, advances the written
 * and durable ends, seals a chunk that reached flush_bytes or whose oldest entry is
 * older than flush_us (now_us: any monotonic microsecond clock), submits writes and
 * fdatasyncs, prepares the next segment, retries a segment creation that failed for
 * space once a second. Never blocks. Returns the number of completions handled.
 */
unsigned journal_poll(struct journal *j, uint64_t now_us);

/* Every entry ending at or before this position is on stable storage (per --fsync). */
uint64_t journal_durable_end(const struct journal *j);

/* Position right after the last appended entry. */
uint64_t journal_appended_end(const struct journal *j);

/* False once a storage error stopped the journal (until restart), or while it waits for
 * space to create its next segment. */
bool journal_is_writable(const struct journal *j);

/* True once a storage error stopped the journal for good (until restart): what was not
 * yet durable will never be. */
bool journal_has_failed(const struct journal *j);

/* True when nothing is staged, in flight or waiting for its fdatasync (zero-filling the
 * next segment ahead of use excepted). */
bool journal_is_idle(const struct journal *j);

/* The first of the journal's write buffers (NUMA memory, faulted in at open): for a
 * start-up check of which node its memory is on. */
const void *journal_write_buffer(const struct journal *j);

/* The I/O back end in use. */
enum journal_io_kind journal_io_kind_used(const struct journal *j);

/* Reads counter `stat`. */
uint64_t journal_counter(const struct journal *j, enum journal_stat stat);

/* Any thread: every segment based below this position is complete and synced (sealed:
 * it may be indexed, read and deleted by retention). Set at open to the base of the
 * segment appending continues in (those before it are indexed by then); moved to a
 * segment's base when its first write is issued (the roll barrier has synced the rest). */
uint64_t journal_sealed_below(const struct journal *j);

/* Any thread: where the oldest data still retained starts. */
uint64_t journal_retained_start(const struct journal *j);

/* Maintenance thread: retention is about to delete everything below `position` (a
 * segment base at or below journal_sealed_below()); readers skip ahead of it. */
void journal_set_retained_start(struct journal *j, uint64_t position);

/* Test hook: the journal's I/O back end, to inject results with journal_io_inject(). */
struct journal_io *journal_test_io(struct journal *j);

#endif
