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

struct journal_state {
	uint32_t window;  /* dedupe window: base offsets kept per stream */
	uint64_t idle_ns; /* streams idle longer than this are dropped; 0: never */
	struct journal_state_partition *parts;
	uint32_t nparts;
	struct journal_state_stream *streams;
	uint32_t nstreams;
	void *lookup; /* private: hash tables of parts and streams */
};

/* An empty state. Returns 0 or -ENOMEM / -EINVAL (window 0). */
int journal_state_init(struct journal_state *st, uint32_t window, uint64_t idle_ns);

void journal_state_free(struct journal_state *st);

/* Applies one valid entry (in position order). Returns 0 or -ENOMEM. */
int journal_state_apply(struct journal_state *st, const struct journal_entry *e);

/* Drops the streams whose newest entry is older than now_ns - idle_ns (idle_ns 0: none). */
void journal_state_prune(struct journal_state *st, uint64_t now_ns);

/* Index of (topic, partition) in st->parts, or -1. */
int32_t journal_state_find_part(const struct journal_state *st, const uint8_t *topic,
				uint8_t topic_len, uint32_t partition);

#endif
