/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The subscription matcher: pattern problems named, matches against a brute-force
 * reference (wire_pattern_matches() on every pattern) over thousands of random patterns
 * and topics with adds and removes in between, cache hits and invalidation, results cut
 * at the caller's array, and exhaustion of each preallocated pool.
 */
#include "core/wire.h"
#include "route/match.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define IDS_MAX 1024u

static struct match_trie *create(uint32_t subscriptions_max, bool cache)
{
	struct match_conf conf;
	struct match_trie *m = NULL;

	match_conf_default(&conf, subscriptions_max);
	if (!cache) {
		conf.cache_entries = 0;
	}
	assert_int_equal(match_create(&conf, &m), 0);
	return m;
}

static int add(struct match_trie *m, uint32_t id, const char *pattern)
{
	return match_add(m, id, (const uint8_t *)pattern, strlen(pattern));
}

/* Matches of topic as a bitmask of ids (< 64), checking each id comes once. */
static uint64_t match_mask(struct match_trie *m, const char *topic)
{
	uint32_t ids[IDS_MAX];
	uint64_t mask = 0;

	uint32_t n = match_topic(m, (const uint8_t *)topic, strlen(topic), ids, IDS_MAX);
	assert_true(n <= IDS_MAX);
	for (uint32_t i = 0; i < n; i++) {
		assert_true(ids[i] < 64);
		assert_false(mask & (1ull << ids[i]));
		mask |= 1ull << ids[i];
	}
	return mask;
}

static void test_match_pattern_problem_names_it(void **state)
{
	(void)state;
	assert_null(match_pattern_problem((const uint8_t *)"orders.*.>", 10));
	assert_string_equal(match_pattern_problem((const uint8_t *)"orders.>.eu", 11),
			    "'>' before the last token of the pattern");
	assert_string_equal(match_pattern_problem((const uint8_t *)"orders*", 7),
			    "'*' or '>' inside a token: a wildcard is a whole token");
	assert_string_equal(match_pattern_problem((const uint8_t *)"a..b", 4),
			    "empty token in pattern (leading, trailing or double dot)");
	assert_string_equal(match_pattern_problem((const uint8_t *)"a/b", 3),
			    "pattern character outside A-Z a-z 0-9 _ - . * >");
	assert_string_equal(match_pattern_problem((const uint8_t *)"", 0), "empty pattern");
}

static void test_match_add_remove_and_match(void **state)
{
	struct match_trie *m = create(16, true);
	struct match_stats st;

	(void)state;
	assert_int_equal(add(m, 0, "a.b"), 0);
	assert_int_equal(add(m, 1, "a.*"), 0);
	assert_int_equal(add(m, 2, "a.>"), 0);
	assert_int_equal(add(m, 3, ">"), 0);
	assert_int_equal(add(m, 4, "*.b"), 0);
	assert_int_equal(add(m, 5, "b"), 0);
	assert_int_equal(add(m, 6, "a.b"), 0); /* same pattern, another subscription */
	assert_int_equal(match_mask(m, "a.b"), 0x5f);
	assert_int_equal(match_mask(m, "a"), 0x08);
	assert_int_equal(match_mask(m, "a.b.c"), 0x0c);
	assert_int_equal(match_mask(m, "b"), 0x28);
	assert_int_equal(match_mask(m, "c.b"), 0x18);
	assert_int_equal(match_remove(m, 2), 0);
	assert_int_equal(match_mask(m, "a.b.c"), 0x08);
	assert_int_equal(match_mask(m, "a.b"), 0x5b);

	assert_int_equal(add(m, 0, "x"), -EEXIST);
	assert_int_equal(add(m, 16, "x"), -EINVAL);
	assert_int_equal(add(m, 7, "x.>.y"), -EINVAL);
	assert_int_equal(match_remove(m, 2), -ENOENT);
	assert_int_equal(match_remove(m, 99), -ENOENT);
	for (uint32_t id = 0; id < 7; id++) {
		if (id != 2) {
			assert_int_equal(match_remove(m, id), 0);
		}
	}
	/* Everything went back to the pools. */
	match_stats_get(m, &st);
	assert_int_equal(st.subscriptions, 0);
	assert_int_equal(st.nodes_used, 1);
	assert_int_equal(st.token_bytes_used, 0);
	assert_int_equal(match_mask(m, "a.b"), 0);
	match_destroy(m);
}

/* A tiny LCG: fixed seeds, same runs everywhere. */
static uint32_t rnd(uint64_t *seed, uint32_t n)
{
	*seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)((*seed >> 33) % n);
}

static const char *const tokens[] = {"a", "b", "orders", "eu", "x-1"};

/* A random valid pattern of 1..4 tokens over a small alphabet, with `*` and `>`. */
static void random_pattern(uint64_t *seed, char *out, size_t cap)
{
	uint32_t n = 1 + rnd(seed, 4);
	size_t len = 0;

	out[0] = '\0';
	for (uint32_t i = 0; i < n; i++) {
		uint32_t r = rnd(seed, 10);
		const char *t = r < 2 ? "*" : (r == 2 && i == n - 1) ? ">" : tokens[rnd(seed, 5)];
		len += (size_t)snprintf(out + len, cap - len, "%s%s", i > 0 ? "." : "", t);
	}
}

static void random_topic(uint64_t *seed, char *out, size_t cap)
{
	uint32_t n = 1 + rnd(seed, 5);
	size_t len = 0;

	for (uint32_t i = 0; i < n; i++) {
		len += (size_t)snprintf(out + len, cap - len, "%s%s", i > 0 ? "." : "",
					tokens[rnd(seed, 5)]);
	}
}

#define REF_SUBS 600u

struct reference {
	bool used[REF_SUBS];
	char pattern[REF_SUBS][64];
};

/* Compares the matcher with every live pattern tried one by one; returns the matches. */
static unsigned check_against_reference(struct match_trie *m, const struct reference *ref,
					uint64_t *seed, unsigned topics)
{
	unsigned total = 0;

	uint32_t ids[REF_SUBS];
	bool seen[REF_SUBS];
	char topic[64];

	for (unsigned k = 0; k < topics; k++) {
		random_topic(seed, topic, sizeof(topic));
		uint32_t n = match_topic(m, (const uint8_t *)topic, strlen(topic), ids, REF_SUBS);
		total += n;
		memset(seen, 0, sizeof(seen));
		for (uint32_t i = 0; i < n; i++) {
			assert_true(ids[i] < REF_SUBS);
			assert_false(seen[ids[i]]);
			seen[ids[i]] = true;
		}
		for (uint32_t id = 0; id < REF_SUBS; id++) {
			bool want = ref->used[id] &&
				    wire_pattern_matches((const uint8_t *)ref->pattern[id],
							 strlen(ref->pattern[id]),
							 (const uint8_t *)topic, strlen(topic));
			if (want != seen[id]) {
				fail_msg("topic \"%s\" pattern \"%s\" (id %u): matcher %d, "
					 "reference %d",
					 topic, ref->pattern[id], id, seen[id], want);
			}
		}
	}
	return total;
}

/* Random churn and topics against the reference, with a cache of `cache_entries` topics
 * (0: none) and cache_ids ids. */
static void run_random_against_reference(uint32_t cache_entries, uint32_t cache_ids)
{
	static struct reference ref;
	struct match_conf conf;
	struct match_trie *m = NULL;
	uint64_t seed = 42 + cache_entries;
	struct match_stats st;

	match_conf_default(&conf, REF_SUBS);
	conf.cache_entries = cache_entries;
	conf.cache_ids = cache_ids;
	assert_int_equal(match_create(&conf, &m), 0);

	memset(&ref, 0, sizeof(ref));
	for (int round = 0; round < 6; round++) {
		/* Churn: remove about a third, add until nearly full. */
		for (uint32_t id = 0; id < REF_SUBS; id++) {
			if (ref.used[id] && rnd(&seed, 3) == 0) {
				assert_int_equal(match_remove(m, id), 0);
				ref.used[id] = false;
			}
		}
		for (uint32_t id = 0; id < REF_SUBS; id++) {
			if (!ref.used[id] && rnd(&seed, 10) < 9) {
				random_pattern(&seed, ref.pattern[id], sizeof(ref.pattern[id]));
				assert_int_equal(add(m, id, ref.pattern[id]), 0);
				ref.used[id] = true;
			}
		}
		/* Topics repeat (a small alphabet), so the cache serves many of them. */
		/* Not a vacuous comparison: topics match tens of patterns on average. */
		assert_true(check_against_reference(m, &ref, &seed, 1000) > 10000);
	}
	match_stats_get(m, &st);
	if (cache_entries > 0) {
		assert_true(st.cache_hits > 1000);
		/* A cache smaller than the topics drawn evicts: that path was compared too. */
		assert_true(cache_entries >= 4096 || st.cache_evictions > 1000);
	} else {
		assert_int_equal(st.cache_hits, 0);
	}
	for (uint32_t id = 0; id < REF_SUBS; id++) {
		if (ref.used[id]) {
			assert_int_equal(match_remove(m, id), 0);
		}
	}
	match_stats_get(m, &st);
	assert_int_equal(st.nodes_used, 1);
	assert_int_equal(st.token_bytes_used, 0);
	match_destroy(m);
}

static void test_match_topic_random_vs_reference_cache_off(void **state)
{
	(void)state;
	run_random_against_reference(0, 1);
}

static void test_match_topic_random_vs_reference_cache_on(void **state)
{
	(void)state;
	run_random_against_reference(MATCH_CACHE_ENTRIES_DEFAULT,
				     MATCH_CACHE_ENTRIES_DEFAULT * MATCH_CACHE_IDS_PER_ENTRY);
}

/* A cache far smaller than the topics: evictions and ring wraps all along. */
static void test_match_topic_random_vs_reference_small_cache(void **state)
{
	(void)state;
	run_random_against_reference(64, 2048);
}

static void test_match_cache_invalidated_by_changes(void **state)
{
	struct match_trie *m = create(8, true);
	struct match_stats st;

	(void)state;
	assert_int_equal(match_mask(m, "a.b"), 0);
	assert_int_equal(match_mask(m, "a.b"), 0);
	match_stats_get(m, &st);
	assert_int_equal(st.cache_misses, 1);
	assert_int_equal(st.cache_hits, 1);
	uint64_t gen = match_generation(m);
	assert_int_equal(add(m, 3, "a.*"), 0);
	assert_true(match_generation(m) > gen);
	assert_int_equal(match_mask(m, "a.b"), 0x08);
	assert_int_equal(match_mask(m, "a.b"), 0x08);
	match_stats_get(m, &st);
	assert_int_equal(st.cache_misses, 2);
	assert_int_equal(st.cache_hits, 2);
	assert_int_equal(match_remove(m, 3), 0);
	assert_int_equal(match_mask(m, "a.b"), 0);
	/* A failed change leaves the generation, and so the cache, alone. */
	gen = match_generation(m);
	assert_int_equal(match_remove(m, 3), -ENOENT);
	assert_int_equal(add(m, 1, "a.>.b"), -EINVAL);
	assert_int_equal(match_generation(m), gen);
	match_destroy(m);
}

/* A ring smaller than the results: older entries are overwritten, never served stale. */
static void test_match_cache_ring_overwrites(void **state)
{
	struct match_conf conf;
	struct match_trie *m = NULL;
	char topic[16];

	(void)state;
	match_conf_default(&conf, 8);
	conf.cache_entries = 64;
	conf.cache_ids = 5;
	assert_int_equal(match_create(&conf, &m), 0);
	assert_int_equal(add(m, 0, ">"), 0);
	assert_int_equal(add(m, 1, "*"), 0);
	assert_int_equal(add(m, 2, "*.*"), 0);
	for (int round = 0; round < 3; round++) {
		for (int t = 0; t < 20; t++) {
			snprintf(topic, sizeof(topic), "t%d", t);
			assert_int_equal(match_mask(m, topic), 0x03);
			snprintf(topic, sizeof(topic), "t%d.x", t);
			assert_int_equal(match_mask(m, topic), 0x05);
		}
	}
	match_destroy(m);
}

static struct match_trie *create_cache(uint32_t entries, uint32_t ids)
{
	struct match_conf conf;
	struct match_trie *m = NULL;

	match_conf_default(&conf, 64);
	conf.cache_entries = entries;
	conf.cache_ids = ids;
	assert_int_equal(match_create(&conf, &m), 0);
	return m;
}

/* Matches topic under a hash of the caller's choosing; returns the count. */
static uint32_t match_hashed(struct match_trie *m, uint32_t hash, const char *topic)
{
	uint32_t ids[IDS_MAX];

	return match_topic_hashed(m, hash, (const uint8_t *)topic, strlen(topic), ids, IDS_MAX);
}

static void expect_cache(const struct match_trie *m, uint64_t hits, uint64_t misses,
			 uint64_t evictions)
{
	struct match_stats st;

	match_stats_get(m, &st);
	assert_int_equal(st.cache_hits, hits);
	assert_int_equal(st.cache_misses, misses);
	assert_int_equal(st.cache_evictions, evictions);
}

/* Short lists live in their entry: a long list wrapping the ring again and again never
 * makes them stale, while the long one itself is served from the ring. */
static void test_match_cache_short_lists_outlive_ring_wraps(void **state)
{
	const uint32_t n = MATCH_CACHE_INLINE_IDS;
	struct match_trie *m = create_cache(8, n + 2);
	uint64_t b = 0x02, d = 0x02;

	(void)state;
	assert_int_equal(add(m, 0, "a"), 0);
	assert_int_equal(add(m, 1, "*"), 0);
	for (uint32_t id = 2; id < 2 + n; id++) {
		assert_int_equal(add(m, id, "b"), 0);
		assert_int_equal(add(m, id + n, "d"), 0);
		b |= 1ull << id;
		d |= 1ull << (id + n);
	}
	/* b and d have n + 1 ids each, one too many to live in their entries: the ring
	 * of n + 2 holds one of them at a time. */
	for (int round = 0; round < 6; round++) {
		assert_int_equal(match_mask(m, "a"), 0x03);
		assert_int_equal(match_mask(m, "b"), b);
		assert_int_equal(match_mask(m, "c"), 0x02);
		assert_int_equal(match_mask(m, "d"), d);
	}
	/* a and c missed once, then hit; b and d overwrote each other every time. */
	expect_cache(m, 10, 14, 0);
	match_destroy(m);
}

/* A working set as large as the cache is served whole once warm, even when every topic
 * has the same hash (a set-associative cache would keep two of them). */
static void test_match_cache_working_set_hits_all_once_warm(void **state)
{
	struct match_trie *m = create_cache(64, 1024);
	char topic[16];

	(void)state;
	assert_int_equal(add(m, 1, "t1"), 0);
	assert_int_equal(add(m, 2, "*"), 0);
	for (int round = 0; round < 5; round++) {
		for (int t = 0; t < 64; t++) {
			snprintf(topic, sizeof(topic), "t%d", t);
			assert_int_equal(match_hashed(m, 7, topic), t == 1 ? 2 : 1);
		}
	}
	expect_cache(m, 64 * 4, 64, 0);
	match_destroy(m);
}

/* A subscription change makes every entry stale: each topic is matched afresh once,
 * refilled in its own entry (nothing evicted), then served from the cache again. */
static void test_match_cache_refreshed_after_subscribe_and_unsubscribe(void **state)
{
	struct match_trie *m = create_cache(32, 1024);
	char topic[16];

	(void)state;
	assert_int_equal(add(m, 0, "eu.>"), 0);
	for (int round = 0; round < 2; round++) {
		for (int t = 0; t < 32; t++) {
			snprintf(topic, sizeof(topic), "%s.%d", t % 2 ? "us" : "eu", t);
			assert_int_equal(match_mask(m, topic), t % 2 ? 0 : 0x01);
		}
	}
	expect_cache(m, 32, 32, 0);
	assert_int_equal(add(m, 5, "*.3"), 0);
	assert_int_equal(add(m, 6, "us.*"), 0);
	for (int round = 0; round < 2; round++) {
		for (int t = 0; t < 32; t++) {
			snprintf(topic, sizeof(topic), "%s.%d", t % 2 ? "us" : "eu", t);
			uint64_t want = (t % 2 ? 0x40 : 0x01) | (t == 3 ? 0x20 : 0);
			assert_int_equal(match_mask(m, topic), want);
		}
	}
	expect_cache(m, 64, 64, 0);
	assert_int_equal(match_remove(m, 0), 0);
	for (int round = 0; round < 2; round++) {
		for (int t = 0; t < 32; t++) {
			snprintf(topic, sizeof(topic), "%s.%d", t % 2 ? "us" : "eu", t);
			uint64_t want = (t % 2 ? 0x40 : 0) | (t == 3 ? 0x20 : 0);
			assert_int_equal(match_mask(m, topic), want);
		}
	}
	expect_cache(m, 96, 96, 0);
	match_destroy(m);
}

/* A full cache evicts the first entry the clock hand finds not hit since it last
 * passed. All topics share one hash, so every eviction takes a topic out of the middle
 * of one probe run: the topics after it must still be found (one miss each, never
 * two entries for one topic). */
static void test_match_cache_evicts_entry_not_hit_lately(void **state)
{
	struct match_trie *m = create_cache(4, 64);
	const char *topics[] = {"a", "b", "c", "d", "e"};

	(void)state;
	assert_int_equal(add(m, 1, "*"), 0);
	for (int t = 0; t < 4; t++) {
		assert_int_equal(match_hashed(m, 7, topics[t]), 1);
	}
	for (int t = 0; t < 3; t++) {
		assert_int_equal(match_hashed(m, 7, topics[t]), 1);
	}
	expect_cache(m, 3, 4, 0);
	/* a, b and c were hit: d goes. */
	assert_int_equal(match_hashed(m, 7, "e"), 1);
	expect_cache(m, 3, 5, 1);
	for (int t = 0; t < 3; t++) {
		assert_int_equal(match_hashed(m, 7, topics[t]), 1);
	}
	assert_int_equal(match_hashed(m, 7, "e"), 1);
	expect_cache(m, 7, 5, 1);
	/* The hand passed a, b and c, clearing their marks, and stopped after d's entry
	 * (now e's, hit since): a goes for d. */
	assert_int_equal(match_hashed(m, 7, "d"), 1);
	expect_cache(m, 7, 6, 2);
	for (int t = 1; t < 5; t++) {
		assert_int_equal(match_hashed(m, 7, topics[t]), 1);
	}
	expect_cache(m, 11, 6, 2);
	assert_int_equal(match_hashed(m, 7, "a"), 1);
	expect_cache(m, 11, 7, 3);
	match_destroy(m);
}

/* A stale entry whose new list no longer fits the ring is never served: the topic is
 * matched afresh each time until its list fits again. */
static void test_match_cache_stale_entry_outgrown(void **state)
{
	const uint32_t n = MATCH_CACHE_INLINE_IDS;
	struct match_trie *m = create_cache(8, n);
	uint64_t all = (1ull << (n + 2)) - 1;

	(void)state;
	assert_int_equal(add(m, 0, "a"), 0);
	assert_int_equal(match_mask(m, "a"), 0x01);
	assert_int_equal(match_mask(m, "a"), 0x01);
	expect_cache(m, 1, 1, 0);
	/* n + 2 ids: more than an entry holds inline and than the ring of n holds. */
	for (uint32_t id = 1; id < n + 2; id++) {
		assert_int_equal(add(m, id, "*"), 0);
	}
	assert_int_equal(match_mask(m, "a"), all);
	assert_int_equal(match_mask(m, "a"), all);
	expect_cache(m, 1, 3, 0);
	assert_int_equal(match_remove(m, n), 0);
	assert_int_equal(match_remove(m, n + 1), 0);
	assert_int_equal(match_mask(m, "a"), all >> 2);
	assert_int_equal(match_mask(m, "a"), all >> 2);
	expect_cache(m, 2, 4, 0);
	match_destroy(m);
}

static void test_match_topic_cut_at_ids_max(void **state)
{
	struct match_trie *m = create(32, true);
	uint32_t ids[32];

	(void)state;
	for (uint32_t id = 0; id < 10; id++) {
		assert_int_equal(add(m, id, "orders.>"), 0);
	}
	assert_int_equal(match_topic(m, (const uint8_t *)"orders.eu", 9, ids, 4), 10);
	/* A cut list is not cached: the whole list comes next time. */
	assert_int_equal(match_topic(m, (const uint8_t *)"orders.eu", 9, ids, 32), 10);
	assert_int_equal(match_mask(m, "orders.eu"), 0x3ff);
	/* A cached list is cut on the way out too. */
	assert_int_equal(match_topic(m, (const uint8_t *)"orders.eu", 9, ids, 2), 10);
	match_destroy(m);
}

static void test_match_add_pool_exhaustion(void **state)
{
	struct match_conf conf;
	struct match_trie *m = NULL;
	struct match_stats before;
	struct match_stats after;

	(void)state;
	match_conf_default(&conf, 8);
	conf.nodes_max = 5; /* the root and four more */
	assert_int_equal(match_create(&conf, &m), 0);
	assert_int_equal(add(m, 0, "a.b"), 0);
	assert_int_equal(add(m, 1, "a.*"), 0);
	match_stats_get(m, &before);
	/* Needs two new nodes, finds room for one: rolled back whole. */
	assert_int_equal(add(m, 2, "c.d"), -ENOSPC);
	match_stats_get(m, &after);
	assert_int_equal(after.subscriptions, before.subscriptions);
	assert_int_equal(after.nodes_used, before.nodes_used);
	assert_int_equal(after.token_bytes_used, before.token_bytes_used);
	assert_int_equal(add(m, 2, "a.b.>"), 0); /* shares every node: fits */
	assert_int_equal(match_mask(m, "a.b"), 0x03);
	assert_int_equal(match_mask(m, "a.b.c"), 0x04);
	assert_int_equal(add(m, 3, "c"), 0);
	assert_int_equal(add(m, 4, "d"), -ENOSPC);
	assert_int_equal(match_remove(m, 3), 0);
	assert_int_equal(add(m, 4, "d"), 0);
	assert_int_equal(match_mask(m, "d"), 0x10);
	match_destroy(m);

	match_conf_default(&conf, 8);
	conf.token_bytes_max = 16;
	assert_int_equal(match_create(&conf, &m), 0);
	assert_int_equal(add(m, 0, "abcdefghijklmnop"), 0); /* 16 bytes */
	assert_int_equal(add(m, 1, "*.>"), 0);		    /* wildcards store no bytes */
	assert_int_equal(add(m, 2, "q"), -ENOSPC);
	assert_int_equal(match_remove(m, 0), 0);
	assert_int_equal(add(m, 2, "q"), 0); /* half of the freed 16-byte block */
	assert_int_equal(add(m, 3, "r"), 0); /* the other half */
	assert_int_equal(add(m, 4, "s"), -ENOSPC);
	assert_int_equal(match_mask(m, "q"), 0x04);
	assert_int_equal(match_mask(m, "r"), 0x08);
	match_destroy(m);
}

static void test_match_create_rejects_bad_conf(void **state)
{
	struct match_conf conf;
	struct match_trie *m = NULL;

	(void)state;
	match_conf_default(&conf, 0);
	assert_int_equal(match_create(&conf, &m), -EINVAL);
	match_conf_default(&conf, MATCH_SUBSCRIPTIONS_MAX + 1);
	assert_int_equal(match_create(&conf, &m), -EINVAL);
	match_conf_default(&conf, 8);
	conf.cache_entries = 100;
	assert_int_equal(match_create(&conf, &m), -EINVAL);
	conf.cache_entries = 1;
	assert_int_equal(match_create(&conf, &m), -EINVAL);
	match_conf_default(&conf, 8);
	conf.cache_ids = 0;
	assert_int_equal(match_create(&conf, &m), -EINVAL);
	match_conf_default(&conf, 8);
	conf.nodes_max = 0;
	assert_int_equal(match_create(&conf, &m), -EINVAL);
	match_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_pattern_problem_names_it),
		cmocka_unit_test(test_match_add_remove_and_match),
		cmocka_unit_test(test_match_topic_random_vs_reference_cache_off),
		cmocka_unit_test(test_match_topic_random_vs_reference_cache_on),
		cmocka_unit_test(test_match_topic_random_vs_reference_small_cache),
		cmocka_unit_test(test_match_cache_invalidated_by_changes),
		cmocka_unit_test(test_match_cache_ring_overwrites),
		cmocka_unit_test(test_match_cache_short_lists_outlive_ring_wraps),
		cmocka_unit_test(test_match_cache_working_set_hits_all_once_warm),
		cmocka_unit_test(test_match_cache_refreshed_after_subscribe_and_unsubscribe),
		cmocka_unit_test(test_match_cache_evicts_entry_not_hit_lately),
		cmocka_unit_test(test_match_cache_stale_entry_outgrown),
		cmocka_unit_test(test_match_topic_cut_at_ids_max),
		cmocka_unit_test(test_match_add_pool_exhaustion),
		cmocka_unit_test(test_match_create_rejects_bad_conf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
