/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A replay cursor over one shard's journal: hands out the journal's entries in position
 * order from any starting point (a position, the earliest retained data, the end, the
 * first entry of a partition at or after an offset, the first entry appended at or after
 * a time). Subscriptions use it to replay before handing over to live delivery, and slow
 * subscribers to fall back to the journal. It runs on the shard loop beside the writer:
 * segment files are opened, read and closed through the journal's asynchronous I/O (its
 * completions arrive through journal_poll()), written data comes from disk and the tail
 * not yet written from the staging chunks in memory, so the cursor reaches exactly
 * journal_appended_end(). Never blocks, never allocates after journal_cursor_create().
 */
#ifndef SL_JOURNAL_CURSOR_H
#define SL_JOURNAL_CURSOR_H

#include "journal/journal.h"

#include <stdbool.h>
#include <stdint.h>

/* Entries a seek may skip per journal_cursor_next() before it yields to the loop. */
#define JOURNAL_CURSOR_SKIP_BURST 256u
/* Smallest read buffer: two reads in flight of at least one largest entry each. */
#define JOURNAL_CURSOR_BUFFER_BYTES_MIN (2u * JOURNAL_ENTRY_BYTES_MAX)
#define JOURNAL_CURSOR_BUFFER_BYTES_MAX (64u << 20)

struct journal_cursor;

/*
 * Creates a cursor over j with a read buffer of buffer_bytes (BUFFER_BYTES_MIN..MAX;
 * split in two halves so one read is in flight while the other's entries are handed
 * out) from the journal's NUMA node, and registers it with j so journal_poll() delivers
 * its completions. The cursor starts positioned at the earliest retained data.
 * Start-up only (allocates). Returns 0; -EINVAL for a bad size; -ENOSPC when
 * journal_conf.cursors_max cursors exist already; -ENOMEM.
 */
int journal_cursor_create(struct journal *j, uint32_t buffer_bytes, struct journal_cursor **out);

/*
 * Waits for the cursor's operations in flight (polling its journal), closes its file and
 * frees it (NULL is a no-op). Blocks: call it on the thread that polls the journal, and
 * before journal_close().
 */
void journal_cursor_destroy(struct journal_cursor *c);

/*
 * Positioning. Each forgets what the cursor was doing (a failure included); reads still
 * in flight are left to complete and ignored. The first three are ready at once; the
 * last two search from the earliest retained data (through the sealed segments'
 * indexes where they exist, else reading entries) while journal_cursor_next() answers
 * 0, until journal_cursor_is_ready().
 */

/* Next entry at `position`, which must be where an entry starts (a value of
 * journal_cursor_position() or the end of an append). Below the retained data it
 * skips ahead (counted as a gap). */
void journal_cursor_seek_position(struct journal_cursor *c, uint64_t position);

/* Next entry is the oldest one retention kept. */
void journal_cursor_seek_earliest(struct journal_cursor *c);

/* Next entry is the next one appended: the cursor is caught up. */
void journal_cursor_seek_end(struct journal_cursor *c);

/* Next entry is the first of (topic, partition) holding `offset` or any later offset
 * (base_offset + record_count > offset); when there is none yet, the cursor ends caught
 * up and every such entry is still to be appended. Entries of other partitions after it
 * follow it: filtering is the caller's. */
void journal_cursor_seek_offset(struct journal_cursor *c, const uint8_t *topic, uint8_t topic_len,
				uint32_t partition, uint64_t offset);

/* Next entry is the first appended at or after time_ns (CLOCK_REALTIME, as passed to
 * journal_append()), in position order. */
void journal_cursor_seek_time(struct journal_cursor *c, uint64_t time_ns);

/* False while a seek by offset or time is still searching. */
bool journal_cursor_is_ready(const struct journal_cursor *c);

/*
 * Hands out the next entry. Returns 1 with *e filled; 0 when nothing is ready yet (I/O
 * in flight: poll the journal and call again; a seek still searching; or caught up,
 * see journal_cursor_caught_up()); a negative errno when the cursor failed, which it
 * keeps answering until the next seek: -EPROTO when an entry the journal wrote does not
 * decode (corruption: nothing is handed out past it), -ENOENT when a segment that should
 * be retained is missing, or the -errno of a failed open or read.
 * e's pointers borrow the cursor's buffers or the journal's staging chunks: they are
 * valid until the next journal_cursor_next(), seek or journal_poll() on this journal,
 * whichever comes first. Never blocks; may queue reads, submitted by journal_poll().
 */
int journal_cursor_next(struct journal_cursor *c, struct journal_entry *e);

/* True when the cursor is ready and has handed out everything appended so far: from now
 * on, entries are new appends (live delivery takes over with no gap and no duplicate). */
bool journal_cursor_caught_up(const struct journal_cursor *c);

/* Position of the next entry to hand out (while a seek searches: how far it got). */
uint64_t journal_cursor_position(const struct journal_cursor *c);

#endif
