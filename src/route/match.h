/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The subscription matcher: which subscriptions' patterns match a topic. Patterns are
 * dot-separated tokens where `*` matches exactly one token and a final `>` one or more
 * (docs/PROTOCOL.md, "Patterns"). Every shard keeps one matcher holding the whole
 * subscription set: a token trie, so that matching a batch costs O(topic tokens x trie
 * branching) whatever the number of subscriptions, with a bounded per-topic cache in
 * front of it, fully associative: a hit costs the same whatever the number of
 * subscriptions, and every topic of a working set no larger than the cache hits once
 * warm. All memory is allocated by match_create() (sized from
 * --subscriptions-max); match_add() and match_remove() run when subscription control
 * messages arrive and take from that memory only; match_topic() allocates nothing.
 * One matcher belongs to one thread: nothing here is thread-safe.
 */
#ifndef SL_ROUTE_MATCH_H
#define SL_ROUTE_MATCH_H

#include <stddef.h>
#include <stdint.h>

/* Bounds of struct match_conf, checked by match_create(). */
#define MATCH_SUBSCRIPTIONS_MAX (1u << 24)
#define MATCH_CACHE_ENTRIES_MAX (1u << 20)
/* match_conf_default()'s cache: topics, and ring room for ids per topic. */
#define MATCH_CACHE_ENTRIES_DEFAULT 4096u
#define MATCH_CACHE_IDS_PER_ENTRY 16u
/* Lists of at most this many ids live in their cache entry, not in the ring. */
#define MATCH_CACHE_INLINE_IDS 4u

/* Sizes of a matcher: start from match_conf_default(), then adjust. */
struct match_conf {
	uint32_t subscriptions_max; /* ids are 0..subscriptions_max-1; 1..MATCH_SUBSCRIPTIONS_MAX */
	uint32_t nodes_max;	    /* trie nodes, root included: one per distinct pattern prefix */
	uint32_t token_bytes_max;   /* bytes of the literal tokens the trie stores, 8 per 8 */
	uint32_t cache_entries;	    /* topics whose match is cached, a power of two >= 2; 0: none */
	uint32_t cache_ids;	    /* subscription ids the cache keeps for all its topics */
};

/* Default sizes for subscriptions_max subscriptions: 6 trie nodes and 64 token bytes
 * (tokens take multiples of 8) per subscription, enough for patterns of 5 tokens that
 * share no prefix, about 260 bytes per subscription in all; a 4096-topic cache and 16
 * cached ids per cached topic, about 400 bytes per topic (1.6 MiB). Longer patterns sharing less can exhaust the trie before
 * subscriptions_max: match_add() then says -ENOSPC. */
void match_conf_default(struct match_conf *conf, uint32_t subscriptions_max);

struct match_trie;

/*
 * Allocates a matcher of conf's sizes. Returns 0, -EINVAL when a size is out of bounds
 * (subscriptions_max, nodes_max or token_bytes_max zero or too large, cache_entries not
 * 0 or a power of two in 2..MATCH_CACHE_ENTRIES_MAX, cache_ids zero with a cache), or
 * -ENOMEM. The caller owns *out.
 */
int match_create(const struct match_conf *conf, struct match_trie **out);

/* Frees m (NULL is a no-op). */
void match_destroy(struct match_trie *m);

/*
 * NULL when pattern[0..len) is a valid pattern, else what is wrong with it, for a log
 * line or a reply ("'>' before the last token of the pattern"). The NACK detail for the
 * same problem is wire_pattern_check()'s enum sl_sub_error.
 */
const char *match_pattern_problem(const uint8_t *pattern, size_t len);

/*
 * Adds subscription `id` with pattern[0..len) (copied). Returns 0; -EINVAL when id is not
 * below subscriptions_max or the pattern is invalid (match_pattern_problem() says why);
 * -EEXIST when id is in use; -ENOSPC when the trie's nodes or token bytes are exhausted
 * (the matcher is left as it was). Invalidates the cache.
 */
int match_add(struct match_trie *m, uint32_t id, const uint8_t *pattern, size_t len);

/* Removes subscription id, freeing the trie nodes no other pattern uses. Returns 0 or
 * -ENOENT. Invalidates the cache. */
int match_remove(struct match_trie *m, uint32_t id);

/*
 * The subscriptions whose pattern matches topic[0..len), a valid topic name: writes up to
 * ids_max of their ids to ids, each once, in no particular order, and returns how many
 * match (more than ids_max means the list was cut: size ids for subscriptions_max).
 * Serves from the cache when the topic's match since the last add/remove is there, else
 * walks the trie and caches the result if it fits (a complete list of at most
 * conf.cache_ids ids), taking a never used entry while any is left, else evicting one not
 * hit lately. Allocates nothing.
 */
uint32_t match_topic(struct match_trie *m, const uint8_t *topic, size_t len, uint32_t *ids,
		     uint32_t ids_max);

/* match_topic() for a caller that has route_topic_hash(topic) already (the per-batch path
 * hashes a topic once for ownership, partitions and matching). */
uint32_t match_topic_hashed(struct match_trie *m, uint32_t topic_hash, const uint8_t *topic,
			    size_t len, uint32_t *ids, uint32_t ids_max);

/* Incremented by every successful match_add() and match_remove(): a caller caching
 * anything derived from matches compares it. */
uint64_t match_generation(const struct match_trie *m);

/* What a matcher holds and how its cache fares. */
struct match_stats {
	uint32_t subscriptions;
	uint32_t nodes_used; /* including the root */
	uint32_t token_bytes_used;
	uint64_t cache_hits;
	uint64_t cache_misses;	  /* trie walks, with the cache off too */
	uint64_t cache_evictions; /* cached topics dropped to make room for another */
};

void match_stats_get(const struct match_trie *m, struct match_stats *out);

#endif
