/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What a journal says about the shard that wrote it: every partition's next offset and
 * every producer stream's dedupe state (epoch, sequences, base offsets of its last
 * `window` batches). Built by applying entries in position order, with exactly the rules
 * the shard follows when it appends, so a shard restarted from this state deduplicates a
 * retransmit as if it had never stopped. Segment indexes (journal/index.h) carry the
 * state at their segment's end; start-up loads the newest one and applies only the
 * entries after it. Allocates: start-up, the maintenance thread and tools only.
 */
#ifndef SL_JOURNAL_STATE_H
#define SL_JOURNAL_STATE_H

#include "journal/format.h"

#include <assert.h>

#include <stdint.h>

/* One (topic, partition) the journal holds or held. */
struct journal_state_partition {
	uint64_t next_offset; /* offset the next appended event gets */
	uint32_t partition;
	uint8_t topic_len;
	uint8_t topic[255];
};

/*
 * One (producer id, partition) stream. The base offset of the batch with sequence q is
 * offsets[q % window] for q in [max(first_sequence, next_sequence - window),
 * next_sequence) (the shard's convention, struct shard_producer).
 */
struct journal_state_stream {
	uint64_t producer_id;
	uint64_t first_sequence; /* where the stream started or last skipped ahead to */
	uint64_t next_sequence;
	uint64_t last_ns; /* append time of its newest entry */
	uint32_t part;	  /* index into journal_state.parts */
	uint32_t epoch;
	uint64_t *offsets; /* [window] */
};

/* Largest window a stored state may claim (the shard's --dedupe-window is smaller). */
#define JOURNAL_STATE_WINDOW_MAX 65536u

struct journal_state {
	uint32_t window;  /* dedupe window: base offsets kept per stream */
	uint64_t idle_ns; /* streams idle longer than this are dropped; 0: never */
	struct journal_state_partition *parts;
	uint32_t nparts;
	struct journal_state_stream *streams;
	uint32_t nstreams;
	void *lookup; /* private: hash tables of parts and streams, array capacities */
};

/* An empty state. Returns 0 or -ENOMEM / -EINVAL (window 0). */
int journal_state_init(struct journal_state *st, uint32_t window, uint64_t idle_ns);

void journal_state_free(struct journal_state *st);

/*
 * Applies one valid entry (in position order), with the shard's rules: a new stream, a
 * newer epoch, or a stream silent for more than idle_ns before this entry (the shard
 * would have forgotten it) starts at the entry; an entry behind its stream (older epoch
 * or sequence) is ignored; an entry past the next sequence restarts the remembered range
 * there (first_sequence); the entry's base offset goes to offsets[sequence % window]. The
 * partition's next offset becomes at least base_offset + record_count. Because silence is
 * judged from the entries' own times, pruning in between does not change the outcome.
 * Returns 0 or -ENOMEM.
 */
int journal_state_apply(struct journal_state *st, const struct journal_entry *e);

/* Makes dst (not initialised) an independent copy of src. Returns 0 or -ENOMEM. */
int journal_state_copy(struct journal_state *dst, const struct journal_state *src);

/*
 * Changes the dedupe window (the shard's --dedupe-window changed between runs). Every
 * sequence both windows cover keeps its offset; when the window grows, first_sequence
 * moves up to where the old window's memory starts, so older sequences are still
 * duplicates but answer "offset unknown". Returns 0, -EINVAL (window 0) or -ENOMEM.
 */
int journal_state_set_window(struct journal_state *st, uint32_t window);

/* Drops the streams whose newest entry is older than now_ns - idle_ns (idle_ns 0: none). */
void journal_state_prune(struct journal_state *st, uint64_t now_ns);

/* Index of (topic, partition) in st->parts, or -1. */
int32_t journal_state_find_part(const struct journal_state *st, const uint8_t *topic,
				uint8_t topic_len, uint32_t partition);

/* Index of (topic, partition) in st->parts, added (next offset 0) when missing; -1 when
 * out of memory. */
int32_t journal_state_get_part(struct journal_state *st, const uint8_t *topic, uint8_t topic_len,
			       uint32_t partition);

/*
 * The state as stored in a segment index (docs/PROTOCOL.md, "Journal index"): a 24-byte
 * head (window, counts, idle_ns), the partitions, then the streams with their offsets.
 * journal_state_encode() writes journal_state_encoded_bytes() bytes to dst.
 */
uint64_t journal_state_encoded_bytes(const struct journal_state *st);
void journal_state_encode(const struct journal_state *st, void *dst);

/* Decodes exactly len bytes written by journal_state_encode() into out (initialised
 * here). Returns 0, -ENOMEM, or -EPROTO when a count, length, topic or reference is out
 * of range or a partition or stream appears twice. */
int journal_state_decode(const void *buf, uint64_t len, struct journal_state *out);

#endif
