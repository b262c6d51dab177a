/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The replay cursor (journal/cursor.h). Where the next entry comes from depends on its
 * position p against the journal's ends:
 *  - p < journal_retained_start(): retention deleted it; skip to the retained start
 *    (a gap, counted).
 *  - p < written_end: from the segment file holding p (found in the journal's segment
 *    catalog, opened asynchronously, read buffered into one of two halves of the read
 *    buffer while the other half's entries are handed out). Reads stop at written_end,
 *    which is always an entry boundary, and at the segment's limit.
 *  - written_end <= p < appended_end: from the staging chunk holding p: those bytes are
 *    not on disk yet (or not known to be), but they never change while the chunk lives.
 *  - p == appended_end: caught up.
 * Every entry goes through journal_entry_decode() (CRC32C included) before it is handed
 * out. Below written_end, a zero header means the segment's data ended (the rest of a
 * segment after its last entry is zero) when written_end lies in a later segment, and
 * corruption otherwise; any other damage is corruption: the cursor fails with -EPROTO.
 * Seeks by offset or time search from the earliest retained data: a bisection over the
 * sealed segments by their indexes' summaries chooses where to start, each sealed
 * segment's index from there on says whether to skip it or where in it to start, and
 * entries are then decoded and skipped up to the first match. Segments without a usable
 * index are read whole; the search only ever starts too early, never too late.
 */
#include "journal/cursor.h"

#include "journal/index.h"
#include "journal/journal_int.h"

#include "core/assert.h"

#include <errno.h>
#include <fcntl.h>
#include <numa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Low bits of a cursor operation's tag say which operation it was; the bits above, the
 * cursor's slot in the journal. */
enum journal_cursor_op {
	JOURNAL_CURSOR_OP_READ0, /* a read into half 0 */
	JOURNAL_CURSOR_OP_READ1, /* ... into half 1 */
	JOURNAL_CURSOR_OP_OPEN,
	JOURNAL_CURSOR_OP_CLOSE,
};
#define JOURNAL_CURSOR_OP_BITS 2u
#define JOURNAL_CURSOR_OP_MASK ((1u << JOURNAL_CURSOR_OP_BITS) - 1u)
/* Moves (gap skips, segment ends) one journal_cursor_next() makes at most before it
 * yields to the loop. */
#define JOURNAL_CURSOR_MOVES_MAX 64u
#define JOURNAL_CURSOR_CLOSE_WAIT_US 1000u

enum journal_half_state {
	JOURNAL_HALF_EMPTY,
	JOURNAL_HALF_READING,
	JOURNAL_HALF_FILLED,
};

/* What lies at a filled half's whole_end. */
enum journal_half_end {
	JOURNAL_HALF_END_READ, /* the end of what was read: read on from there */
	JOURNAL_HALF_END_ZERO, /* a zero header: the segment's data ends there */
	JOURNAL_HALF_END_BAD,  /* a header that is no entry's, or an entry cut short */
};

/* One half of the read buffer, holding positions [pos, pos + len) of one segment. */
struct journal_half {
	uint8_t *mem;
	uint64_t pos;
	uint32_t asked;	    /* bytes the read asked for */
	uint32_t len;	    /* bytes it read (FILLED) */
	uint64_t whole_end; /* FILLED: after the last whole entry its headers chain to */
	enum journal_half_end end;
	enum journal_half_state state;
	bool stale; /* READING: issued before the last seek; a failure is not the cursor's */
	bool index; /* holds the first bytes of a segment index, not entries */
};

enum journal_cursor_file {
	JOURNAL_CURSOR_FILE_CLOSED,
	JOURNAL_CURSOR_FILE_OPENING,
	JOURNAL_CURSOR_FILE_OPEN,
};

enum journal_cursor_seek {
	JOURNAL_CURSOR_SEEK_NONE, /* positioned: hand out every entry */
	JOURNAL_CURSOR_SEEK_OFFSET,
	JOURNAL_CURSOR_SEEK_TIME,
};

/* What one step towards the next entry gave. */
enum journal_cursor_step {
	JOURNAL_CURSOR_STEP_ENTRY, /* *e is the entry at pos */
	JOURNAL_CURSOR_STEP_MOVED, /* pos moved on without an entry: step again */
	JOURNAL_CURSOR_STEP_WAIT,  /* I/O in flight, or caught up */
};

struct journal_cursor {
	struct journal *j;
	unsigned slot;
	uint32_t half_bytes;
	uint8_t *mem; /* 2 * half_bytes */
	struct journal_half half[2];
	uint64_t pos;
	int error;
	/* The file open or being opened: the segment based at file_base, or its index. */
	enum journal_cursor_file file;
	int fd;
	uint64_t file_base;
	bool file_index;
	int open_error; /* the last open's, for that file; taken by the next step */
	bool closing;	/* a close is in flight */
	unsigned ops;	/* operations in flight, at most JOURNAL_CURSOR_OPS_MAX */
	/* The search of a seek by offset or time. */
	enum journal_cursor_seek seek;
	uint64_t seek_offset;
	uint64_t seek_ns;
	uint32_t seek_partition;
	uint8_t seek_topic_len;
	uint8_t seek_topic[UINT8_MAX];
	bool bisecting; /* choosing the segment to start in: its base lies in [lo, hi] */
	uint64_t lo;
	uint64_t hi;
	bool probed; /* the search looked at the index of the segment based at probed_base */
	uint64_t probed_base;
	char path[PATH_MAX]; /* of the open in flight */
};

static uint64_t journal_cursor_tag(const struct journal_cursor *c, enum journal_cursor_op op)
{
	return journal_tag(JOURNAL_TAG_CURSOR, (uint64_t)c->slot << JOURNAL_CURSOR_OP_BITS | op);
}

/* Issuing: room was reserved for JOURNAL_CURSOR_OPS_MAX per cursor in the I/O depth, so
 * -EBUSY only means the caller's bookkeeping broke. */
static void journal_cursor_issued(struct journal_cursor *c, int rc)
{
	SL_ASSERT(rc == 0 && c->ops < JOURNAL_CURSOR_OPS_MAX);
	c->ops++;
}

/* ---- Creation ---- */

int journal_cursor_create(struct journal *j, uint32_t buffer_bytes, struct journal_cursor **out)
{
	struct journal_cursor *c;
	unsigned slot = 0;

	*out = NULL;
	if (buffer_bytes < JOURNAL_CURSOR_BUFFER_BYTES_MIN ||
	    buffer_bytes > JOURNAL_CURSOR_BUFFER_BYTES_MAX) {
		return -EINVAL;
	}
	while (slot < j->cursors_max && j->cursors[slot] != NULL) {
		slot++;
	}
	if (slot == j->cursors_max) {
		return -ENOSPC;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return -ENOMEM;
	}
	/* Halves start at 8-aligned addresses, like the positions they hold. */
	c->half_bytes = buffer_bytes / 2 & ~(JOURNAL_ALIGN - 1);
	c->mem = journal_numa_alloc(2 * (size_t)c->half_bytes, j->conf.socket);
	if (c->mem == NULL) {
		free(c);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < 2; i++) {
		c->half[i].mem = c->mem + (size_t)i * c->half_bytes;
	}
	c->j = j;
	c->slot = slot;
	c->fd = -1;
	c->pos = journal_retained_start(j);
	j->cursors[slot] = c;
	*out = c;
	return 0;
}

void journal_cursor_destroy(struct journal_cursor *c)
{
	if (c == NULL) {
		return;
	}
	struct journal *j = c->j;
	while (c->ops > 0 && journal_io_is_usable_here(j->io)) {
		if (journal_poll(j, j->now_us) == 0) {
			journal_io_wait(j->io, JOURNAL_CURSOR_CLOSE_WAIT_US);
		}
	}
	SL_ASSERT(c->ops == 0); /* destroyed on a thread that cannot drive the journal's I/O */
	if (c->fd >= 0) {
		(void)close(c->fd);
	}
	j->cursors[c->slot] = NULL;
	numa_free(c->mem, 2 * (size_t)c->half_bytes);
	free(c);
}

/* ---- Completions ---- */

/* Walks the headers of a filled half (no CRC yet: that is for the entries handed out)
 * to find where its whole entries end and what lies there. */
static void journal_half_walk(struct journal_half *h, uint32_t half_bytes)
{
	static const uint8_t zero[JOURNAL_ENTRY_HEADER_BYTES];
	/* Only a full-sized read can cut an entry short: every other read ends at the
	 * written end or the segment's limit, which are entry boundaries. */
	bool full = h->len == half_bytes;
	uint32_t at = 0;

	for (;;) {
		uint32_t left = h->len - at;
		uint32_t head =
			left < JOURNAL_ENTRY_HEADER_BYTES ? left : JOURNAL_ENTRY_HEADER_BYTES;
		struct journal_entry_header hdr;
		if (left == 0) {
			/* A short read ran into the end of the file, which reads as zeros. */
			h->end = h->len < h->asked ? JOURNAL_HALF_END_ZERO : JOURNAL_HALF_END_READ;
			break;
		}
		if (memcmp(h->mem + at, zero, head) == 0 &&
		    (head == JOURNAL_ENTRY_HEADER_BYTES || !full)) {
			h->end = JOURNAL_HALF_END_ZERO;
			break;
		}
		if (left < JOURNAL_ENTRY_HEADER_BYTES) {
			h->end = full ? JOURNAL_HALF_END_READ : JOURNAL_HALF_END_BAD;
			break;
		}
		memcpy(&hdr, h->mem + at, sizeof(hdr));
		if (hdr.magic != JOURNAL_ENTRY_MAGIC || hdr.entry_bytes % JOURNAL_ALIGN != 0 ||
		    hdr.entry_bytes < JOURNAL_ENTRY_HEADER_BYTES ||
		    hdr.entry_bytes > JOURNAL_ENTRY_BYTES_MAX) {
			h->end = JOURNAL_HALF_END_BAD;
			break;
		}
		if (hdr.entry_bytes > left) {
			h->end = full ? JOURNAL_HALF_END_READ : JOURNAL_HALF_END_BAD;
			break;
		}
		at += hdr.entry_bytes;
	}
	h->whole_end = h->pos + at;
}

static void journal_cursor_read_done(struct journal_cursor *c, struct journal_half *h, int32_t res)
{
	SL_ASSERT(h->state == JOURNAL_HALF_READING);
	if (res > 0) {
		journal_count(c->j, JOURNAL_STAT_READ_BYTES, (uint64_t)res);
	}
	if (h->index) {
		/* An unreadable index is no index: the search reads the segment instead. */
		h->len = res > 0 ? (uint32_t)res : 0;
		h->state = JOURNAL_HALF_FILLED;
		return;
	}
	if (res < 0) {
		h->state = JOURNAL_HALF_EMPTY;
		if (!h->stale && c->error == 0) {
			c->error = res;
		}
		return;
	}
	h->len = (uint32_t)res < h->asked ? (uint32_t)res : h->asked;
	h->state = JOURNAL_HALF_FILLED;
	journal_half_walk(h, c->half_bytes);
}

void journal_cursor_done(struct journal *j, uint64_t value, int32_t res)
{
	uint64_t slot = value >> JOURNAL_CURSOR_OP_BITS;
	struct journal_cursor *c = slot < j->cursors_max ? j->cursors[slot] : NULL;

	SL_ASSERT(c != NULL && c->ops > 0);
	c->ops--;
	switch (value & JOURNAL_CURSOR_OP_MASK) {
	case JOURNAL_CURSOR_OP_READ0:
	case JOURNAL_CURSOR_OP_READ1:
		journal_cursor_read_done(c, &c->half[value & 1u], res);
		break;
	case JOURNAL_CURSOR_OP_OPEN:
		SL_ASSERT(c->file == JOURNAL_CURSOR_FILE_OPENING);
		c->file = res >= 0 ? JOURNAL_CURSOR_FILE_OPEN : JOURNAL_CURSOR_FILE_CLOSED;
		c->fd = res >= 0 ? res : -1;
		c->open_error = res >= 0 ? 0 : res;
		break;
	default: /* a close: nothing to learn from its result, the fd is gone either way */
		c->closing = false;
		break;
	}
}

/* ---- Reading ---- */

static bool journal_cursor_reading(const struct journal_cursor *c)
{
	return c->half[0].state == JOURNAL_HALF_READING || c->half[1].state == JOURNAL_HALF_READING;
}

/*
 * Makes the file of the segment based at `base` (or its index) the open one: once reads
 * on the previous one are done, closes it and opens this one, both asynchronously.
 * Returns MOVED when it is open, WAIT while it is not, or the open's -errno.
 */
static int journal_cursor_file_for(struct journal_cursor *c, uint64_t base, bool index)
{
	struct journal *j = c->j;
	bool same = c->file_base == base && c->file_index == index;

	if (c->file == JOURNAL_CURSOR_FILE_OPEN && same) {
		return JOURNAL_CURSOR_STEP_MOVED;
	}
	if (c->file == JOURNAL_CURSOR_FILE_OPENING) {
		return JOURNAL_CURSOR_STEP_WAIT;
	}
	if (c->open_error != 0 && same) {
		/* Retention deletes only below the retained start, which the step checked. */
		int rc = c->open_error;
		c->open_error = 0;
		return rc;
	}
	c->open_error = 0;
	if (c->file == JOURNAL_CURSOR_FILE_OPEN) {
		if (journal_cursor_reading(c) || c->closing) {
			return JOURNAL_CURSOR_STEP_WAIT; /* reads still use the fd */
		}
		journal_cursor_issued(
			c, journal_io_close(j->io, c->fd,
					    journal_cursor_tag(c, JOURNAL_CURSOR_OP_CLOSE)));
		c->closing = true;
		c->fd = -1;
		c->file = JOURNAL_CURSOR_FILE_CLOSED;
	}
	int n = snprintf(c->path, sizeof(c->path),
			 index ? "%s/" JOURNAL_INDEX_NAME_FORMAT
			       : "%s/" JOURNAL_SEGMENT_NAME_FORMAT,
			 j->dir, (unsigned long long)base);
	SL_ASSERT(n > 0 && (size_t)n < sizeof(c->path)); /* the directory's length was checked */
	journal_cursor_issued(c, journal_io_open(j->io, c->path, O_RDONLY | O_CLOEXEC,
						 journal_cursor_tag(c, JOURNAL_CURSOR_OP_OPEN)));
	c->file = JOURNAL_CURSOR_FILE_OPENING;
	c->file_base = base;
	c->file_index = index;
	return JOURNAL_CURSOR_STEP_WAIT;
}

/* Reads positions [pos, min(written end, limit, pos + half)) of the open segment into
 * an empty half; nothing when no half is empty. */
static void journal_cursor_read(struct journal_cursor *c, uint64_t pos, uint64_t limit)
{
	struct journal *j = c->j;
	uint64_t end = j->written_end < limit ? j->written_end : limit;
	unsigned i = c->half[0].state == JOURNAL_HALF_EMPTY ? 0 : 1;
	struct journal_half *h = &c->half[i];

	if (h->state != JOURNAL_HALF_EMPTY || pos >= end) {
		return;
	}
	uint32_t len = end - pos < c->half_bytes ? (uint32_t)(end - pos) : c->half_bytes;
	journal_cursor_issued(c,
			      journal_io_read(j->io, c->fd, h->mem, len,
					      journal_segment_offset(c->file_base, pos), -1,
					      journal_cursor_tag(c, JOURNAL_CURSOR_OP_READ0 + i)));
	*h = (struct journal_half){
		.mem = h->mem, .pos = pos, .asked = len, .state = JOURNAL_HALF_READING};
	journal_count(j, JOURNAL_STAT_READS, 1);
}

/* The filled half whose whole entries hold pos, else one whose whole entries end at pos
 * (the newer read when both do); NULL when none. */
static struct journal_half *journal_cursor_half_at(struct journal_cursor *c, uint64_t pos)
{
	struct journal_half *best = NULL;

	for (unsigned i = 0; i < 2; i++) {
		struct journal_half *h = &c->half[i];
		if (h->state != JOURNAL_HALF_FILLED || h->index || pos < h->pos ||
		    pos > h->whole_end) {
			continue;
		}
		if (pos < h->whole_end) {
			return h;
		}
		if (best == NULL || h->pos > best->pos) {
			best = h;
		}
	}
	return best;
}

static bool journal_cursor_reading_at(const struct journal_cursor *c, uint64_t pos)
{
	for (unsigned i = 0; i < 2; i++) {
		if (c->half[i].state == JOURNAL_HALF_READING && c->half[i].pos == pos) {
			return true;
		}
	}
	return false;
}

/* Empties the filled halves other than `cur` (the one holding pos, or NULL) and what was
 * read ahead after it: their entries were handed out, or belong to another position. */
static void journal_cursor_release(struct journal_cursor *c, const struct journal_half *cur)
{
	for (unsigned i = 0; i < 2; i++) {
		struct journal_half *h = &c->half[i];
		if (h->state == JOURNAL_HALF_FILLED && h != cur &&
		    (h->index || cur == NULL || h->pos != cur->whole_end)) {
			h->state = JOURNAL_HALF_EMPTY;
		}
	}
}

/* What lies at the end of a half's whole entries, pos being there. */
static int journal_cursor_half_end(struct journal_cursor *c, struct journal_half *h, uint64_t limit)
{
	switch (h->end) {
	case JOURNAL_HALF_END_READ:
		h->state = JOURNAL_HALF_EMPTY;
		if (!journal_cursor_reading_at(c, c->pos)) {
			journal_cursor_read(c, c->pos, limit);
		}
		return JOURNAL_CURSOR_STEP_WAIT;
	case JOURNAL_HALF_END_ZERO:
		/* The segment's data ends here: fine when data was written after it, in a
		 * later segment; corruption when the written end lies beyond, in this one. */
		if (c->j->written_end <= limit) {
			return -EPROTO;
		}
		c->pos = limit;
		return JOURNAL_CURSOR_STEP_MOVED;
	default:
		return -EPROTO;
	}
}

/* Reads ahead: the entries after this half's into the other half, while this one's are
 * handed out. */
static void journal_cursor_read_ahead(struct journal_cursor *c, const struct journal_half *h,
				      uint64_t limit)
{
	if (h->end != JOURNAL_HALF_END_READ || h->whole_end == h->pos ||
	    journal_cursor_reading_at(c, h->whole_end)) {
		return;
	}
	journal_cursor_read(c, h->whole_end, limit);
}

/* Reads the first half_bytes of the open index file (of the segment based at `base`):
 * header, summary and points. */
static void journal_cursor_read_index(struct journal_cursor *c, uint64_t base)
{
	unsigned i = c->half[0].state == JOURNAL_HALF_EMPTY ? 0 : 1;
	struct journal_half *h = &c->half[i];

	if (h->state != JOURNAL_HALF_EMPTY) {
		return;
	}
	journal_cursor_issued(c,
			      journal_io_read(c->j->io, c->fd, h->mem, c->half_bytes, 0, -1,
					      journal_cursor_tag(c, JOURNAL_CURSOR_OP_READ0 + i)));
	*h = (struct journal_half){.mem = h->mem,
				   .pos = base,
				   .asked = c->half_bytes,
				   .state = JOURNAL_HALF_READING,
				   .index = true};
	journal_count(c->j, JOURNAL_STAT_READS, 1);
}

/* Where the search continues after reading the index of the segment [ix->base, limit):
 * the segment's limit when no entry in it can match, else the index's point before the
 * first that may. */
static uint64_t journal_cursor_index_start(const struct journal_cursor *c,
					   const struct journal_index *ix, uint64_t limit)
{
	uint64_t start;

	if (c->seek == JOURNAL_CURSOR_SEEK_TIME) {
		if (ix->entries == 0 || ix->max_ns < c->seek_ns) {
			return limit;
		}
		start = journal_index_seek_time(ix, c->seek_ns);
	} else {
		int32_t part = journal_index_find_part(ix, c->seek_topic, c->seek_topic_len,
						       c->seek_partition);
		if (part < 0 || ix->parts[part].next_offset <= c->seek_offset) {
			return limit;
		}
		start = journal_index_seek_offset(ix, (uint32_t)part, c->seek_offset);
	}
	/* An index that does not fit its segment is not followed: read it all instead. */
	return start >= ix->base_position && start < limit ? start : ix->base_position;
}

/*
 * Reads the header, summary and points of the index of the segment based at `base` (one
 * read). Returns WAIT while that is in flight, else MOVED with *usable saying whether ix
 * was decoded; ix then borrows a half that nothing reads into before the next step.
 * Missing, unreadable, damaged or larger than half the buffer: not usable.
 */
static int journal_cursor_index_of(struct journal_cursor *c, uint64_t base,
				   struct journal_index *ix, bool *usable)
{
	struct journal_half *h = NULL;
	int rc = journal_cursor_file_for(c, base, true);

	*usable = false;
	if (rc == JOURNAL_CURSOR_STEP_WAIT) {
		return rc;
	}
	for (unsigned i = 0; i < 2 && rc >= 0; i++) {
		if (c->half[i].index && c->half[i].pos == base &&
		    c->half[i].state != JOURNAL_HALF_EMPTY) {
			h = &c->half[i];
		}
	}
	if (rc >= 0 && h == NULL) {
		journal_cursor_release(c, NULL);
		journal_cursor_read_index(c, base);
		return JOURNAL_CURSOR_STEP_WAIT;
	}
	if (h != NULL && h->state == JOURNAL_HALF_READING) {
		return JOURNAL_CURSOR_STEP_WAIT;
	}
	if (h != NULL) {
		h->state = JOURNAL_HALF_EMPTY;
		*usable = journal_index_decode_summary(h->mem, h->len, base, ix) == 0;
	}
	return JOURNAL_CURSOR_STEP_MOVED;
}

/*
 * One step of the binary search a seek by offset or time starts with: over the sealed
 * segments based in [lo, hi], for the first that holds a match or precedes it. The
 * segment in the middle (by position) is probed by its index: it holds an entry of the
 * partition at or past the offset, or one appended at or after the time, so the start
 * is at or before it; or it holds the partition only below the offset (offsets grow
 * with positions) or only older entries, so the start is after it. Without a usable
 * index, or without the partition, it is taken as "at or before": a start too early
 * only costs reading forward, a start too late would miss entries.
 */
static int journal_cursor_bisect(struct journal_cursor *c)
{
	struct journal_index ix;
	uint64_t base;
	uint64_t limit;
	bool usable;
	bool after = false;

	if (c->lo >= c->hi) {
		c->bisecting = false;
		c->pos = c->lo;
		return JOURNAL_CURSOR_STEP_MOVED;
	}
	bool found = journal_segment_find(c->j, c->lo + (c->hi - c->lo) / 2, &base, &limit);
	SL_ASSERT(found && base >= c->lo && base < c->hi);
	int rc = journal_cursor_index_of(c, base, &ix, &usable);
	if (rc != JOURNAL_CURSOR_STEP_MOVED) {
		return rc;
	}
	if (usable && c->seek == JOURNAL_CURSOR_SEEK_TIME) {
		after = ix.entries > 0 && ix.max_ns < c->seek_ns;
	} else if (usable) {
		int32_t part = journal_index_find_part(&ix, c->seek_topic, c->seek_topic_len,
						       c->seek_partition);
		after = part >= 0 && ix.parts[part].next_offset <= c->seek_offset;
	}
	if (after) {
		c->lo = limit;
	} else {
		c->hi = base;
	}
	return JOURNAL_CURSOR_STEP_MOVED;
}

/*
 * The search of a seek at the start of a sealed segment, from the bisection's start on:
 * reads the segment's index and skips the segment or starts at the index's point. Without
 * a usable index the segment is read from its start.
 */
static int journal_cursor_probe(struct journal_cursor *c, uint64_t base, uint64_t limit)
{
	struct journal_index ix;
	bool usable;
	int rc = journal_cursor_index_of(c, base, &ix, &usable);

	if (rc != JOURNAL_CURSOR_STEP_MOVED) {
		return rc;
	}
	c->probed = true;
	c->probed_base = base;
	if (usable) {
		c->pos = journal_cursor_index_start(c, &ix, limit);
	}
	return JOURNAL_CURSOR_STEP_MOVED;
}

/* Whether the search of a seek should look at the index of the segment pos starts: only
 * sealed segments have one. */
static bool journal_cursor_may_probe(const struct journal_cursor *c, uint64_t base)
{
	return c->seek != JOURNAL_CURSOR_SEEK_NONE && c->pos == base &&
	       base < journal_sealed_below(c->j) && !(c->probed && c->probed_base == base);
}

/* The entry at pos, below the written end: from a filled half, else read. */
static int journal_cursor_from_disk(struct journal_cursor *c, struct journal_entry *e)
{
	uint64_t base;
	uint64_t limit;
	bool found = journal_segment_find(c->j, c->pos, &base, &limit);
	int rc;

	SL_ASSERT(found); /* pos >= retained start >= the oldest segment's base */
	if (journal_cursor_may_probe(c, base)) {
		return journal_cursor_probe(c, base, limit);
	}
	rc = journal_cursor_file_for(c, base, false);
	if (rc != JOURNAL_CURSOR_STEP_MOVED) {
		return rc;
	}
	struct journal_half *h = journal_cursor_half_at(c, c->pos);
	journal_cursor_release(c, h);
	if (h == NULL) {
		if (!journal_cursor_reading_at(c, c->pos)) {
			journal_cursor_read(c, c->pos, limit);
		}
		return JOURNAL_CURSOR_STEP_WAIT;
	}
	if (c->pos == h->whole_end) {
		return journal_cursor_half_end(c, h, limit);
	}
	uint32_t at = (uint32_t)(c->pos - h->pos);
	if (journal_entry_decode(h->mem + at, h->whole_end - c->pos, c->pos, e) != JOURNAL_OK) {
		return -EPROTO;
	}
	journal_cursor_read_ahead(c, h, limit);
	return JOURNAL_CURSOR_STEP_ENTRY;
}

/* The entry at pos, at or above the written end: from the staging chunk holding it. */
static int journal_cursor_from_staging(struct journal_cursor *c, struct journal_entry *e)
{
	const struct journal *j = c->j;
	uint64_t end_seq = j->seal_seq + (j->open ? 1 : 0);
	uint64_t base;
	uint64_t limit;

	/* Chunks from free_seq on are not reused before a journal_poll() frees them. */
	for (uint64_t seq = j->free_seq; seq < end_seq; seq++) {
		const struct journal_chunk *k = &j->chunks[seq % j->nchunks];
		if (c->pos >= k->pos && c->pos < k->pos + k->used) {
			uint32_t at = (uint32_t)(c->pos - k->pos);
			return journal_entry_decode(k->buf + at, k->used - at, c->pos, e) ==
					       JOURNAL_OK
				       ? JOURNAL_CURSOR_STEP_ENTRY
				       : -EPROTO;
		}
	}
	/* In no chunk: the zero end of a segment appending rolled away from. */
	bool found = journal_segment_find(j, c->pos, &base, &limit);
	SL_ASSERT(found && limit <= j->appended_end);
	c->pos = limit;
	return JOURNAL_CURSOR_STEP_MOVED;
}

static int journal_cursor_step(struct journal_cursor *c, struct journal_entry *e)
{
	struct journal *j = c->j;
	uint64_t retained = journal_retained_start(j);

	/* Below the oldest segment found at open nothing exists, whatever retention says. */
	retained = retained > j->spans[0].base ? retained : j->spans[0].base;
	if (c->pos < retained) {
		c->pos = retained;
		journal_count(j, JOURNAL_STAT_CURSOR_GAPS, 1);
		return JOURNAL_CURSOR_STEP_MOVED;
	}
	if (c->bisecting) {
		c->lo = c->lo > retained ? c->lo : retained;
		return journal_cursor_bisect(c);
	}
	if (c->pos >= j->appended_end) {
		c->seek = JOURNAL_CURSOR_SEEK_NONE; /* nothing matched yet: what comes will */
		return JOURNAL_CURSOR_STEP_WAIT;
	}
	if (c->pos >= j->written_end) {
		/* After a storage error, chunks are dropped unwritten: what is staged will
		 * never be durable, and is not to be replayed. */
		return j->failed ? j->first_error : journal_cursor_from_staging(c, e);
	}
	return journal_cursor_from_disk(c, e);
}

/* Whether the search of a seek stops at e. */
static bool journal_cursor_wants(const struct journal_cursor *c, const struct journal_entry *e)
{
	switch (c->seek) {
	case JOURNAL_CURSOR_SEEK_OFFSET:
		return e->hdr.partition == c->seek_partition &&
		       e->hdr.topic_len == c->seek_topic_len &&
		       memcmp(e->topic, c->seek_topic, c->seek_topic_len) == 0 &&
		       e->hdr.base_offset + e->hdr.record_count > c->seek_offset;
	case JOURNAL_CURSOR_SEEK_TIME:
		return e->hdr.append_ns >= c->seek_ns;
	default:
		return true;
	}
}

int journal_cursor_next(struct journal_cursor *c, struct journal_entry *e)
{
	unsigned moves = 0;
	unsigned skipped = 0;

	while (c->error == 0 && moves < JOURNAL_CURSOR_MOVES_MAX &&
	       skipped < JOURNAL_CURSOR_SKIP_BURST) {
		int rc = journal_cursor_step(c, e);
		if (rc < 0) {
			c->error = rc;
		} else if (rc == JOURNAL_CURSOR_STEP_WAIT) {
			return 0;
		} else if (rc == JOURNAL_CURSOR_STEP_MOVED) {
			moves++;
		} else {
			c->pos += e->hdr.entry_bytes;
			if (journal_cursor_wants(c, e)) {
				c->seek = JOURNAL_CURSOR_SEEK_NONE;
				return 1;
			}
			skipped++;
		}
	}
	return c->error;
}

/* ---- Positioning ---- */

static void journal_cursor_seek_at(struct journal_cursor *c, uint64_t position,
				   enum journal_cursor_seek seek)
{
	uint64_t end = c->j->appended_end;

	c->pos = position < end ? position : end;
	c->seek = seek;
	c->probed = false;
	/* Offset and time seeks first bisect the sealed segments by their indexes. */
	c->lo = c->pos;
	c->hi = journal_sealed_below(c->j);
	c->bisecting = seek != JOURNAL_CURSOR_SEEK_NONE && c->lo < c->hi;
	c->error = 0;
	c->open_error = 0;
	for (unsigned i = 0; i < 2; i++) {
		/* What was read stays true (data below the written end never changes), but a
		 * failure of a read issued for another position is not this seek's. */
		c->half[i].stale = c->half[i].state == JOURNAL_HALF_READING;
	}
}

void journal_cursor_seek_position(struct journal_cursor *c, uint64_t position)
{
	journal_cursor_seek_at(c, position, JOURNAL_CURSOR_SEEK_NONE);
}

void journal_cursor_seek_earliest(struct journal_cursor *c)
{
	journal_cursor_seek_at(c, journal_retained_start(c->j), JOURNAL_CURSOR_SEEK_NONE);
}

void journal_cursor_seek_end(struct journal_cursor *c)
{
	journal_cursor_seek_at(c, c->j->appended_end, JOURNAL_CURSOR_SEEK_NONE);
}

void journal_cursor_seek_offset(struct journal_cursor *c, const uint8_t *topic, uint8_t topic_len,
				uint32_t partition, uint64_t offset)
{
	journal_cursor_seek_at(c, journal_retained_start(c->j), JOURNAL_CURSOR_SEEK_OFFSET);
	memcpy(c->seek_topic, topic, topic_len);
	c->seek_topic_len = topic_len;
	c->seek_partition = partition;
	c->seek_offset = offset;
}

void journal_cursor_seek_time(struct journal_cursor *c, uint64_t time_ns)
{
	journal_cursor_seek_at(c, journal_retained_start(c->j), JOURNAL_CURSOR_SEEK_TIME);
	c->seek_ns = time_ns;
}

bool journal_cursor_is_ready(const struct journal_cursor *c)
{
	return c->seek == JOURNAL_CURSOR_SEEK_NONE;
}

bool journal_cursor_caught_up(const struct journal_cursor *c)
{
	return c->error == 0 && c->seek == JOURNAL_CURSOR_SEEK_NONE && c->pos >= c->j->appended_end;
}

uint64_t journal_cursor_position(const struct journal_cursor *c)
{
	return c->pos;
}
