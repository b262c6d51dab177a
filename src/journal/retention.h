/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Retention rules and the decision they make, with no I/O: how long and how much of each
 * topic a shard's journal keeps (--retain-bytes, --retain-age), and how many of its
 * oldest sealed segments may go. A segment goes only whole, oldest first, and only when
 * every topic it holds lets it go. The maintenance thread (journal/maint.h) feeds this
 * with the segments' index summaries and does the deleting.
 */
#ifndef SL_JOURNAL_RETENTION_H
#define SL_JOURNAL_RETENTION_H

#include <stdbool.h>
#include <stdint.h>

/* Per-topic rules a journal_retention_rules holds at most. */
#define JOURNAL_RETENTION_TOPICS_MAX 1024u
#define JOURNAL_RETENTION_TOPIC_BYTES_MAX 255u

/* Limits of one topic in one shard's journal; 0: unlimited. */
struct journal_retention {
	uint64_t bytes;	 /* keep at least this many entry bytes of the topic */
	uint64_t age_ns; /* keep what was appended less than this long ago */
};

/* A per-topic override: only the limits it sets replace the defaults. */
struct journal_retention_topic {
	uint8_t topic_len;
	bool has_bytes;
	bool has_age;
	struct journal_retention limits;
	uint8_t topic[JOURNAL_RETENTION_TOPIC_BYTES_MAX];
};

struct journal_retention_rules {
	struct journal_retention defaults;
	uint32_t ntopics;
	struct journal_retention_topic topics[JOURNAL_RETENTION_TOPICS_MAX];
};

/* Rules with the given defaults and no override. */
void journal_retention_rules_init(struct journal_retention_rules *r, uint64_t bytes,
				  uint64_t age_ns);

/*
 * Sets the bytes (has_bytes) and/or age (has_age) limit of topic[0..len) (exact name),
 * adding an override when the topic has none. Returns 0, -EINVAL for an empty name, or -ENOSPC when JOURNAL_RETENTION_TOPICS_MAX topics already have one.
 */
int journal_retention_rules_set(struct journal_retention_rules *r, const uint8_t *topic,
				uint8_t len, bool has_bytes, uint64_t bytes, bool has_age,
				uint64_t age_ns);

/* The limits that apply to topic[0..len). */
struct journal_retention journal_retention_resolve(const struct journal_retention_rules *r,
						   const uint8_t *topic, uint8_t len);

/* One topic's share of one segment (from its index summary). */
struct journal_retention_usage {
	uint32_t topic;	 /* the caller's topic number, < ntopics */
	uint64_t bytes;	 /* its entry bytes in the segment, all partitions */
	uint64_t max_ns; /* its newest append time in the segment */
};

/* One sealed, indexed segment: its topics, each once. */
struct journal_retention_segment {
	const struct journal_retention_usage *usage;
	uint32_t nusage;
};

/*
 * How many of the oldest segments segs[0..n) (oldest first, all of a journal's indexed
 * segments) to delete at now_ns: the longest prefix in which, for every topic a segment
 * holds, the topic's age limit lets it go (its newest append there is older than now_ns -
 * age_ns) or its bytes limit does (its bytes in segs without this segment and the ones
 * before it are still >= bytes). A topic with neither limit keeps the segment. The newest
 * segment is never included (recovery starts from its index). limits[ntopics] are the
 * resolved limits per topic number; remaining[ntopics] is scratch. Pure.
 */
uint32_t journal_retention_plan(const struct journal_retention_segment *segs, uint32_t n,
				const struct journal_retention *limits, uint32_t ntopics,
				uint64_t *remaining, uint64_t now_ns);

#endif
