/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The token trie behind match_topic(). A node is a pattern prefix; its literal children
 * sit in one open-addressing table keyed by (parent, token), its `*` child in a field of
 * its own, and the subscriptions whose pattern ends at the node (exactly, or with a `>`
 * after it) in two doubly linked lists threaded through the subscription array. Matching
 * walks the topic's tokens down the literal and `*` edges only, so its cost depends on
 * the topic and on how many patterns share its prefixes, never on how many
 * subscriptions exist elsewhere. In front of the trie, a fully associative cache of
 * topics (an open-addressing index over entries, clock replacement, match lists in a
 * ring of ids) serves a topic seen before without walking: a working set no larger than
 * the cache is served whole. Nodes, token bytes and cache come from arrays sized at
 * creation; nodes and token blocks go back to free lists on removal.
 */
#include "route/match.h"

#include "core/assert.h"
#include "core/crc32c.h"
#include "core/wire.h"
#include "route/route.h"

#include <assert.h>
#include <errno.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MATCH_NONE UINT32_MAX
#define MATCH_ROOT 0u
/* Bounds that keep every index and table size within 32 bits. */
#define MATCH_NODES_MAX (1u << 28)
#define MATCH_TOKEN_BYTES_MAX (1u << 30)
#define MATCH_CACHE_IDS_MAX (1u << 28)
/* Entries the clock hand looks at for one eviction. */
#define MATCH_CACHE_SCAN_MAX 8u
/* A topic of 255 bytes has at most 128 tokens. */
#define MATCH_TOKENS_MAX ((SL_WIRE_TOPIC_BYTES_MAX + 1) / 2)
/* Token blocks are multiples of 8 bytes: one free list per size. */
#define MATCH_TOKEN_CLASSES (SL_WIRE_TOPIC_BYTES_MAX / 8 + 2)

enum match_end {
	MATCH_END_NONE = 0, /* id unused */
	MATCH_END_EXACT,    /* the pattern ends at its node */
	MATCH_END_TAIL,	    /* the pattern's `>` follows its node */
};

struct match_node {
	uint32_t parent;      /* MATCH_NONE for the root; next free node when free */
	uint32_t star;	      /* the `*` child, or 0 (the root is nobody's child) */
	uint32_t exact_first; /* subscriptions ending here, or MATCH_NONE */
	uint32_t tail_first;  /* subscriptions ending in `>` after here, or MATCH_NONE */
	uint32_t refs;	      /* patterns through or ending at this node; 0: free */
	uint32_t hash;	      /* of (parent, token): its slot in the child table */
	uint32_t token_at;    /* literal token in the token arena; MATCH_NONE for `*` */
	uint8_t token_len;
};

struct match_sub {
	uint32_t node;
	uint32_t prev; /* in the node's list, MATCH_NONE at the ends */
	uint32_t next;
	uint8_t end; /* enum match_end */
};

/* One cached topic: its matches are inline_ids[0 .. count) when count is at most
 * MATCH_CACHE_INLINE_IDS, else cache_ids[ids_from .. ids_from + count) modulo the ring;
 * valid while the generation is the matcher's and (ring lists) the ring has not wrapped
 * over them since ids_at. The topic's bytes live in the entry so that a hit reads one
 * entry (its first cache line for topics of up to 16 bytes, the next for longer ones)
 * and, for long lists only, the ring; never the trie. */
struct match_cache_entry {
	alignas(64) uint64_t generation; /* the matcher's when filled */
	uint64_t ids_at;		 /* ring position, counted from the matcher's creation */
	uint32_t ids_from;		 /* ids_at % conf.cache_ids: no division on a hit */
	uint32_t hash;			 /* route_topic_hash() of the topic */
	uint32_t count;
	uint8_t referenced; /* hit since the clock hand last passed: spared once */
	uint8_t topic_len;
	/* A list this short is kept here, in the line a hit reads anyway, not in the ring:
	 * most topics match a few subscriptions, however many there are. */
	uint32_t inline_ids[MATCH_CACHE_INLINE_IDS];
	uint8_t topic[SL_WIRE_TOPIC_BYTES_MAX];
};
static_assert(sizeof(struct match_cache_entry) % 64 == 0, "cache entries share no line");

/* A slot of the cache's index: entry + 1 (0: empty) under the topic's hash, so that a
 * probe compares hashes without reading entries. */
struct match_cache_slot {
	uint32_t hash;
	uint32_t entry;
};

struct match_trie {
	struct match_conf conf;
	uint64_t generation;
	uint32_t subscriptions;
	uint32_t nodes_used;
	uint32_t node_free; /* free list through parent */
	uint32_t child_mask;
	uint32_t *children; /* [child_mask + 1] literal child node ids; 0 = empty */
	struct match_node *nodes;
	struct match_sub *subs;
	uint8_t *tokens;
	uint32_t token_bump; /* arena bytes ever handed out */
	uint32_t token_bytes_used;
	uint32_t token_free[MATCH_TOKEN_CLASSES]; /* per block size, through the block */
	struct match_cache_entry *cache;	  /* [conf.cache_entries] */
	struct match_cache_slot *cache_index;	  /* [2 * conf.cache_entries], linear probing */
	uint32_t cache_index_mask;
	uint32_t cache_index_shift; /* 32 - log2(index slots): the index takes the top bits */
	uint32_t cache_filled;	    /* entries ever used: fresh ones are taken first */
	uint32_t cache_hand;	    /* the clock hand: next entry considered for eviction */
	uint32_t *cache_ids;	    /* ring of conf.cache_ids */
	uint64_t cache_ids_at;	    /* next ring position to write */
	uint64_t cache_hits;
	uint64_t cache_misses;
	uint64_t cache_evictions;
};

void match_conf_default(struct match_conf *conf, uint32_t subscriptions_max)
{
	uint64_t nodes = (uint64_t)subscriptions_max * 6 + 1;
	uint64_t bytes = (uint64_t)subscriptions_max * 64;

	conf->subscriptions_max = subscriptions_max;
	conf->nodes_max = nodes < MATCH_NODES_MAX ? (uint32_t)nodes : MATCH_NODES_MAX;
	conf->token_bytes_max =
		bytes < MATCH_TOKEN_BYTES_MAX ? (uint32_t)bytes : MATCH_TOKEN_BYTES_MAX;
	conf->cache_entries = MATCH_CACHE_ENTRIES_DEFAULT;
	conf->cache_ids = MATCH_CACHE_ENTRIES_DEFAULT * MATCH_CACHE_IDS_PER_ENTRY;
}

static bool match_conf_is_valid(const struct match_conf *c)
{
	if (c->subscriptions_max == 0 || c->subscriptions_max > MATCH_SUBSCRIPTIONS_MAX ||
	    c->nodes_max == 0 || c->nodes_max > MATCH_NODES_MAX || c->token_bytes_max == 0 ||
	    c->token_bytes_max > MATCH_TOKEN_BYTES_MAX) {
		return false;
	}
	if (c->cache_entries == 0) {
		return true;
	}
	return c->cache_entries >= 2 && c->cache_entries <= MATCH_CACHE_ENTRIES_MAX &&
	       (c->cache_entries & (c->cache_entries - 1)) == 0 && c->cache_ids > 0 &&
	       c->cache_ids <= MATCH_CACHE_IDS_MAX;
}

/* calloc() that also writes every page, so that they are mapped now and the data path
 * never takes a page fault on them: calloc leaves fresh mmap'd pages unmapped, and a
 * compiler may turn malloc + memset into calloc, hence the volatile stores. */
static void *match_alloc_touched(size_t n, size_t size)
{
	volatile uint8_t *p = calloc(n, size);

	for (size_t at = 0; p != NULL && at < n * size; at += 4096) {
		p[at] = 0;
	}
	return (void *)(uintptr_t)p;
}

/* Zeroed memory on cache-line boundaries, for arrays of aligned entries. memset writes
 * every page now, as match_alloc_touched() does, and cannot become a calloc: there is no
 * aligned one. */
static void *match_alloc_lines(size_t n, size_t size)
{
	void *p = aligned_alloc(64, n * size);

	if (p != NULL) {
		memset(p, 0, n * size);
	}
	return p;
}

/* Frees every array of m; m itself stays. */
static void match_free_arrays(struct match_trie *m)
{
	free(m->children);
	free(m->nodes);
	free(m->subs);
	free(m->tokens);
	free(m->cache);
	free(m->cache_index);
	free(m->cache_ids);
}

/* Sizes the cache's index: twice the entries, so that probes stay short when it is full.
 * Returns the number of slots. */
static uint32_t match_cache_index_size(struct match_trie *m)
{
	uint32_t slots = 2 * m->conf.cache_entries;
	uint32_t bits = 0;

	while ((1u << bits) < slots) {
		bits++;
	}
	m->cache_index_mask = slots - 1;
	m->cache_index_shift = 32 - bits;
	return slots;
}

static void match_init_state(struct match_trie *m)
{
	const struct match_conf *c = &m->conf;

	m->generation = 1;
	for (uint32_t i = 0; i < c->subscriptions_max; i++) {
		m->subs[i] = (struct match_sub){
			.node = MATCH_NONE, .prev = MATCH_NONE, .next = MATCH_NONE};
	}
	m->nodes[MATCH_ROOT] = (struct match_node){.parent = MATCH_NONE,
						   .exact_first = MATCH_NONE,
						   .tail_first = MATCH_NONE,
						   .token_at = MATCH_NONE};
	m->nodes_used = 1;
	/* Free nodes 1..nodes_max-1, lowest first. */
	m->node_free = MATCH_NONE;
	for (uint32_t i = c->nodes_max; i-- > 1;) {
		m->nodes[i].parent = m->node_free;
		m->node_free = i;
	}
	for (uint32_t k = 0; k < MATCH_TOKEN_CLASSES; k++) {
		m->token_free[k] = MATCH_NONE;
	}
}

int match_create(const struct match_conf *conf, struct match_trie **out)
{
	if (!match_conf_is_valid(conf)) {
		return -EINVAL;
	}
	struct match_trie *m = calloc(1, sizeof(*m));
	if (m == NULL) {
		return -ENOMEM;
	}
	m->conf = *conf;
	uint32_t slots = 2;
	while (slots < 2 * (uint64_t)conf->nodes_max) {
		slots *= 2;
	}
	m->child_mask = slots - 1;
	m->children = match_alloc_touched(slots, sizeof(*m->children));
	m->nodes = match_alloc_touched(conf->nodes_max, sizeof(*m->nodes));
	m->subs = match_alloc_touched(conf->subscriptions_max, sizeof(*m->subs));
	m->tokens = match_alloc_touched(conf->token_bytes_max, 1);
	if (conf->cache_entries > 0) {
		m->cache = match_alloc_lines(conf->cache_entries, sizeof(*m->cache));
		m->cache_index =
			match_alloc_touched(match_cache_index_size(m), sizeof(*m->cache_index));
		m->cache_ids = match_alloc_touched(conf->cache_ids, sizeof(*m->cache_ids));
	}
	if (m->children == NULL || m->nodes == NULL || m->subs == NULL || m->tokens == NULL ||
	    (conf->cache_entries > 0 &&
	     (m->cache == NULL || m->cache_index == NULL || m->cache_ids == NULL))) {
		match_free_arrays(m);
		free(m);
		return -ENOMEM;
	}
	match_init_state(m);
	*out = m;
	return 0;
}

void match_destroy(struct match_trie *m)
{
	if (m == NULL) {
		return;
	}
	match_free_arrays(m);
	free(m);
}

const char *match_pattern_problem(const uint8_t *pattern, size_t len)
{
	enum sl_sub_error e = wire_pattern_check(pattern, len);

	return e == SL_SUB_OK ? NULL : wire_sub_error_name(e);
}

uint64_t match_generation(const struct match_trie *m)
{
	return m->generation;
}

void match_stats_get(const struct match_trie *m, struct match_stats *out)
{
	*out = (struct match_stats){.subscriptions = m->subscriptions,
				    .nodes_used = m->nodes_used,
				    .token_bytes_used = m->token_bytes_used,
				    .cache_hits = m->cache_hits,
				    .cache_misses = m->cache_misses,
				    .cache_evictions = m->cache_evictions};
}

/* --- token arena: blocks of 8..256 bytes, one free list per size --- */

static uint32_t match_token_class(uint32_t len)
{
	return wire_align(len) / 8;
}

static void match_token_push(struct match_trie *m, uint32_t k, uint32_t at)
{
	wire_put_u32(m->tokens + at, m->token_free[k]);
	m->token_free[k] = at;
}

static uint32_t match_token_pop(struct match_trie *m, uint32_t k)
{
	uint32_t at = m->token_free[k];

	m->token_free[k] = wire_get_u32(m->tokens + at);
	return at;
}

/* A block of align8(len) bytes: freed blocks of its size first, then fresh arena, then
 * a larger freed block split in two. MATCH_NONE when none is left. */
static uint32_t match_token_alloc(struct match_trie *m, uint32_t len)
{
	uint32_t k = match_token_class(len);
	uint32_t at = MATCH_NONE;

	if (m->token_free[k] != MATCH_NONE) {
		at = match_token_pop(m, k);
	} else if (k * 8 <= m->conf.token_bytes_max - m->token_bump) {
		at = m->token_bump;
		m->token_bump += k * 8;
	} else {
		for (uint32_t j = k + 1; j < MATCH_TOKEN_CLASSES && at == MATCH_NONE; j++) {
			if (m->token_free[j] != MATCH_NONE) {
				at = match_token_pop(m, j);
				match_token_push(m, j - k, at + k * 8);
			}
		}
		if (at == MATCH_NONE) {
			return MATCH_NONE;
		}
	}
	m->token_bytes_used += k * 8;
	return at;
}

static void match_token_free(struct match_trie *m, uint32_t at, uint32_t len)
{
	uint32_t k = match_token_class(len);

	match_token_push(m, k, at);
	m->token_bytes_used -= k * 8;
}

/* --- literal children: linear probing, backward-shift deletion --- */

static uint32_t match_child_hash(uint32_t parent, const uint8_t *token, uint32_t len)
{
	return crc32c_extend(parent * 0x9e3779b9u, token, len);
}

static bool match_node_is(const struct match_trie *m, uint32_t node, uint32_t parent,
			  const uint8_t *token, uint32_t len)
{
	const struct match_node *n = &m->nodes[node];

	return n->parent == parent && n->token_len == len &&
	       memcmp(m->tokens + n->token_at, token, len) == 0;
}

/* The literal child of parent for token, or 0. */
static uint32_t match_child_find(const struct match_trie *m, uint32_t parent, uint32_t hash,
				 const uint8_t *token, uint32_t len)
{
	for (uint32_t slot = hash & m->child_mask;; slot = (slot + 1) & m->child_mask) {
		uint32_t node = m->children[slot];
		if (node == 0 || match_node_is(m, node, parent, token, len)) {
			return node;
		}
	}
}

static void match_child_insert(struct match_trie *m, uint32_t node)
{
	uint32_t slot = m->nodes[node].hash & m->child_mask;

	/* Never full: slots >= 2 * nodes_max. */
	while (m->children[slot] != 0) {
		slot = (slot + 1) & m->child_mask;
	}
	m->children[slot] = node;
}

static void match_child_delete(struct match_trie *m, uint32_t node)
{
	uint32_t hole = m->nodes[node].hash & m->child_mask;

	while (m->children[hole] != node) {
		hole = (hole + 1) & m->child_mask;
	}
	/* Move back every later entry of the run whose home is not after the hole, so that
	 * no lookup meets an empty slot before its node. */
	for (uint32_t j = (hole + 1) & m->child_mask; m->children[j] != 0;
	     j = (j + 1) & m->child_mask) {
		uint32_t home = m->nodes[m->children[j]].hash & m->child_mask;
		bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
		if (!stays) {
			m->children[hole] = m->children[j];
			hole = j;
		}
	}
	m->children[hole] = 0;
}

/* --- nodes --- */

/* A new child of parent: literal token[0..len), or `*` when token is NULL. Returns its
 * id, or 0 when nodes or token bytes are exhausted. */
static uint32_t match_node_new(struct match_trie *m, uint32_t parent, const uint8_t *token,
			       uint32_t len, uint32_t hash)
{
	uint32_t node = m->node_free;
	uint32_t token_at = MATCH_NONE;

	if (node == MATCH_NONE) {
		return 0;
	}
	if (token != NULL) {
		token_at = match_token_alloc(m, len);
		if (token_at == MATCH_NONE) {
			return 0;
		}
		memcpy(m->tokens + token_at, token, len);
	}
	m->node_free = m->nodes[node].parent;
	m->nodes[node] = (struct match_node){.parent = parent,
					     .exact_first = MATCH_NONE,
					     .tail_first = MATCH_NONE,
					     .hash = hash,
					     .token_at = token_at,
					     .token_len = (uint8_t)len};
	m->nodes_used++;
	if (token != NULL) {
		match_child_insert(m, node);
	} else {
		m->nodes[parent].star = node;
	}
	return node;
}

static void match_node_free(struct match_trie *m, uint32_t node)
{
	struct match_node *n = &m->nodes[node];

	if (n->token_at == MATCH_NONE) {
		m->nodes[n->parent].star = 0;
	} else {
		match_child_delete(m, node);
		match_token_free(m, n->token_at, n->token_len);
	}
	n->parent = m->node_free;
	m->node_free = node;
	m->nodes_used--;
}

/* Drops one reference from node and each of its ancestors, freeing the nodes no pattern
 * uses any more. */
static void match_unref_path(struct match_trie *m, uint32_t node)
{
	while (node != MATCH_ROOT) {
		uint32_t parent = m->nodes[node].parent;
		SL_ASSERT(m->nodes[node].refs > 0);
		if (--m->nodes[node].refs == 0) {
			match_node_free(m, node);
		}
		node = parent;
	}
	m->nodes[MATCH_ROOT].refs--;
}

/* The child of node for one pattern token, created if missing; 0 when out of room. */
static uint32_t match_child_get(struct match_trie *m, uint32_t node, const uint8_t *token,
				uint32_t len)
{
	if (len == 1 && token[0] == '*') {
		uint32_t star = m->nodes[node].star;
		return star != 0 ? star : match_node_new(m, node, NULL, 0, 0);
	}
	uint32_t hash = match_child_hash(node, token, len);
	uint32_t child = match_child_find(m, node, hash, token, len);
	return child != 0 ? child : match_node_new(m, node, token, len, hash);
}

static void match_list_push(struct match_trie *m, uint32_t *first, uint32_t id)
{
	struct match_sub *s = &m->subs[id];

	s->prev = MATCH_NONE;
	s->next = *first;
	if (*first != MATCH_NONE) {
		m->subs[*first].prev = id;
	}
	*first = id;
}

static void match_list_unlink(struct match_trie *m, uint32_t *first, uint32_t id)
{
	struct match_sub *s = &m->subs[id];

	if (s->prev != MATCH_NONE) {
		m->subs[s->prev].next = s->next;
	} else {
		*first = s->next;
	}
	if (s->next != MATCH_NONE) {
		m->subs[s->next].prev = s->prev;
	}
}

int match_add(struct match_trie *m, uint32_t id, const uint8_t *pattern, size_t len)
{
	uint32_t node = MATCH_ROOT;
	size_t start = 0;
	enum match_end end = MATCH_END_EXACT;

	if (id >= m->conf.subscriptions_max || wire_pattern_check(pattern, len) != SL_SUB_OK) {
		return -EINVAL;
	}
	if (m->subs[id].end != MATCH_END_NONE) {
		return -EEXIST;
	}
	m->nodes[MATCH_ROOT].refs++;
	while (start < len) {
		const uint8_t *dot = memchr(pattern + start, '.', len - start);
		uint32_t n =
			(uint32_t)(dot != NULL ? (size_t)(dot - pattern) - start : len - start);
		if (n == 1 && pattern[start] == '>') {
			end = MATCH_END_TAIL; /* valid patterns have `>` last only */
			break;
		}
		uint32_t child = match_child_get(m, node, pattern + start, n);
		if (child == 0) {
			match_unref_path(m, node);
			return -ENOSPC;
		}
		m->nodes[child].refs++;
		node = child;
		start += n + 1;
	}
	struct match_node *at = &m->nodes[node];
	match_list_push(m, end == MATCH_END_TAIL ? &at->tail_first : &at->exact_first, id);
	m->subs[id].node = node;
	m->subs[id].end = (uint8_t)end;
	m->subscriptions++;
	m->generation++;
	return 0;
}

int match_remove(struct match_trie *m, uint32_t id)
{
	if (id >= m->conf.subscriptions_max || m->subs[id].end == MATCH_END_NONE) {
		return -ENOENT;
	}
	struct match_sub *s = &m->subs[id];
	struct match_node *at = &m->nodes[s->node];
	match_list_unlink(m, s->end == MATCH_END_TAIL ? &at->tail_first : &at->exact_first, id);
	match_unref_path(m, s->node);
	*s = (struct match_sub){.node = MATCH_NONE, .prev = MATCH_NONE, .next = MATCH_NONE};
	m->subscriptions--;
	m->generation++;
	return 0;
}

/* --- matching --- */

/* Where the matches of one topic go: the first `max` into ids, all of them counted. */
struct match_out {
	uint32_t *ids;
	uint32_t max;
	uint32_t count;
};

static void match_emit_list(const struct match_trie *m, uint32_t first, struct match_out *out)
{
	for (uint32_t id = first; id != MATCH_NONE; id = m->subs[id].next) {
		if (out->count < out->max) {
			out->ids[out->count] = id;
		}
		out->count++;
	}
}

/* Splits a valid topic into its tokens; returns how many. */
static uint32_t match_tokenize(const uint8_t *topic, size_t len, const uint8_t **tok,
			       uint8_t *tok_len)
{
	uint32_t n = 0;
	size_t start = 0;

	while (start < len) {
		const uint8_t *dot = memchr(topic + start, '.', len - start);
		size_t end = dot != NULL ? (size_t)(dot - topic) : len;
		SL_ASSERT_HOT(n < MATCH_TOKENS_MAX);
		tok[n] = topic + start;
		tok_len[n] = (uint8_t)(end - start);
		n++;
		start = end + 1;
	}
	return n;
}

/*
 * Depth-first walk of the nodes whose prefix matches the topic's first tokens. Each node
 * is reached by exactly one path (its pattern prefix against the topic's prefix of the
 * same length), so each subscription is emitted at most once.
 */
static void match_walk(const struct match_trie *m, const uint8_t *topic, size_t len,
		       struct match_out *out)
{
	const uint8_t *tok[MATCH_TOKENS_MAX];
	uint8_t tok_len[MATCH_TOKENS_MAX];
	/* Each level leaves at most one sibling waiting: depth + 2 entries suffice. */
	struct {
		uint32_t node;
		uint32_t depth;
	} stack[MATCH_TOKENS_MAX + 2];
	uint32_t top = 0;
	uint32_t n = match_tokenize(topic, len, tok, tok_len);

	stack[0].node = MATCH_ROOT;
	stack[0].depth = 0;
	top = 1;
	while (top > 0) {
		top--;
		uint32_t node = stack[top].node;
		uint32_t depth = stack[top].depth;
		const struct match_node *nd = &m->nodes[node];
		if (depth == n) {
			match_emit_list(m, nd->exact_first, out);
			continue;
		}
		match_emit_list(m, nd->tail_first, out); /* `>`: one or more tokens remain */
		if (nd->star != 0) {
			SL_ASSERT_HOT(top < MATCH_TOKENS_MAX + 2);
			stack[top].node = nd->star;
			stack[top++].depth = depth + 1;
		}
		uint32_t hash = match_child_hash(node, tok[depth], tok_len[depth]);
		uint32_t child = match_child_find(m, node, hash, tok[depth], tok_len[depth]);
		if (child != 0) {
			SL_ASSERT_HOT(top < MATCH_TOKENS_MAX + 2);
			stack[top].node = child;
			stack[top++].depth = depth + 1;
		}
	}
}

/* --- the cache: fully associative, clock replacement --- */

/* The topic's home slot in the cache's index: the top bits of a multiplicative hash.
 * Not the low bits of topic_hash itself: a shard owns the topics whose hash is its index
 * modulo the shard count (route_owner_hashed()), so those bits are alike in every topic
 * it sees. */
static uint32_t match_cache_home(const struct match_trie *m, uint32_t topic_hash)
{
	return (topic_hash * 0x9e3779b9u) >> m->cache_index_shift;
}

static bool match_cache_entry_is_fresh(const struct match_trie *m,
				       const struct match_cache_entry *e)
{
	return e->generation == m->generation && (e->count <= MATCH_CACHE_INLINE_IDS ||
						  m->cache_ids_at - e->ids_at <= m->conf.cache_ids);
}

/* The entry holding topic, fresh or stale, or MATCH_NONE. The index is never full (it
 * has twice as many slots as entries), so every probe ends at an empty slot. */
static uint32_t match_cache_find(const struct match_trie *m, uint32_t topic_hash,
				 const uint8_t *topic, size_t len)
{
	for (uint32_t slot = match_cache_home(m, topic_hash);;
	     slot = (slot + 1) & m->cache_index_mask) {
		const struct match_cache_slot *s = &m->cache_index[slot];
		if (s->entry == 0) {
			return MATCH_NONE;
		}
		const struct match_cache_entry *e = &m->cache[s->entry - 1];
		if (s->hash == topic_hash && e->topic_len == len &&
		    memcmp(e->topic, topic, len) == 0) {
			return s->entry - 1;
		}
	}
}

static void match_cache_index_insert(struct match_trie *m, uint32_t topic_hash, uint32_t entry)
{
	uint32_t slot = match_cache_home(m, topic_hash);

	while (m->cache_index[slot].entry != 0) {
		slot = (slot + 1) & m->cache_index_mask;
	}
	m->cache_index[slot] = (struct match_cache_slot){.hash = topic_hash, .entry = entry + 1};
}

/* Takes entry's topic out of the index by backward shift, as match_child_delete(). */
static void match_cache_index_delete(struct match_trie *m, uint32_t entry)
{
	uint32_t mask = m->cache_index_mask;
	uint32_t hole = match_cache_home(m, m->cache[entry].hash);

	while (m->cache_index[hole].entry != entry + 1) {
		hole = (hole + 1) & mask;
	}
	for (uint32_t j = (hole + 1) & mask; m->cache_index[j].entry != 0; j = (j + 1) & mask) {
		uint32_t home = match_cache_home(m, m->cache_index[j].hash);
		bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
		if (!stays) {
			m->cache_index[hole] = m->cache_index[j];
			hole = j;
		}
	}
	m->cache_index[hole] = (struct match_cache_slot){0};
}

/*
 * An entry for a topic the cache does not hold, out of the index: a never used one while
 * any is left, so that a working set no larger than the cache stays whole; else the
 * first the clock hand finds stale or not hit since the hand last passed it. The hand
 * looks at MATCH_CACHE_SCAN_MAX entries at most, so that a miss costs a bounded time
 * even when every entry is busy: the last one looked at goes then.
 */
static uint32_t match_cache_take(struct match_trie *m)
{
	uint32_t mask = m->conf.cache_entries - 1;
	uint32_t entry = m->cache_hand;

	if (m->cache_filled < m->conf.cache_entries) {
		return m->cache_filled++;
	}
	for (uint32_t looked = 1; looked < MATCH_CACHE_SCAN_MAX; looked++) {
		struct match_cache_entry *e = &m->cache[entry];
		if (!e->referenced || !match_cache_entry_is_fresh(m, e)) {
			break;
		}
		e->referenced = 0;
		entry = (entry + 1) & mask;
	}
	m->cache_hand = (entry + 1) & mask;
	m->cache_evictions++;
	match_cache_index_delete(m, entry);
	return entry;
}

/* Stores topic's count matches from ids in entry (indexed already): in the entry itself
 * when they fit, else in the ring. */
static void match_cache_fill(struct match_trie *m, uint32_t entry, uint32_t topic_hash,
			     const uint8_t *topic, size_t len, const uint32_t *ids, uint32_t count)
{
	struct match_cache_entry *e = &m->cache[entry];

	if (count <= MATCH_CACHE_INLINE_IDS) {
		memcpy(e->inline_ids, ids, (size_t)count * sizeof(*ids));
	} else {
		uint32_t size = m->conf.cache_ids;
		uint32_t from = (uint32_t)(m->cache_ids_at % size);
		uint32_t first = count < size - from ? count : size - from;
		memcpy(m->cache_ids + from, ids, (size_t)first * sizeof(*ids));
		memcpy(m->cache_ids, ids + first, (size_t)(count - first) * sizeof(*ids));
		e->ids_at = m->cache_ids_at;
		e->ids_from = from;
		m->cache_ids_at += count;
	}
	e->generation = m->generation;
	e->hash = topic_hash;
	e->count = count;
	e->referenced = 0;
	e->topic_len = (uint8_t)len;
	memcpy(e->topic, topic, len);
}

/* Serves a fresh entry: its first ids_max ids into ids; returns its count. */
static uint32_t match_cache_hit(struct match_trie *m, struct match_cache_entry *e, uint32_t *ids,
				uint32_t ids_max)
{
	uint32_t size = m->conf.cache_ids;
	uint32_t n = e->count < ids_max ? e->count : ids_max;

	m->cache_hits++;
	e->referenced = 1;
	if (e->count <= MATCH_CACHE_INLINE_IDS) {
		for (uint32_t i = 0; i < n; i++) {
			ids[i] = e->inline_ids[i];
		}
		return e->count;
	}
	uint32_t first = n < size - e->ids_from ? n : size - e->ids_from;
	memcpy(ids, m->cache_ids + e->ids_from, (size_t)first * sizeof(*ids));
	if (n > first) {
		memcpy(ids + first, m->cache_ids, (size_t)(n - first) * sizeof(*ids));
	}
	return e->count;
}

uint32_t match_topic_hashed(struct match_trie *m, uint32_t topic_hash, const uint8_t *topic,
			    size_t len, uint32_t *ids, uint32_t ids_max)
{
	struct match_out out = {.ids = ids, .max = ids_max};
	uint32_t entry = MATCH_NONE;

	SL_ASSERT_HOT(len > 0 && len <= SL_WIRE_TOPIC_BYTES_MAX);
	if (m->cache != NULL) {
		entry = match_cache_find(m, topic_hash, topic, len);
		if (entry != MATCH_NONE && match_cache_entry_is_fresh(m, &m->cache[entry])) {
			return match_cache_hit(m, &m->cache[entry], ids, ids_max);
		}
	}
	m->cache_misses++;
	match_walk(m, topic, len, &out);
	/* Cache only complete lists, and only those the entry or the ring can hold. A stale
	 * entry of the same topic is refilled where it is. */
	if (m->cache != NULL && out.count <= ids_max &&
	    (out.count <= MATCH_CACHE_INLINE_IDS || out.count <= m->conf.cache_ids)) {
		if (entry == MATCH_NONE) {
			entry = match_cache_take(m);
			match_cache_index_insert(m, topic_hash, entry);
		}
		match_cache_fill(m, entry, topic_hash, topic, len, ids, out.count);
	}
	return out.count;
}

uint32_t match_topic(struct match_trie *m, const uint8_t *topic, size_t len, uint32_t *ids,
		     uint32_t ids_max)
{
	return match_topic_hashed(m, route_topic_hash(topic, len), topic, len, ids, ids_max);
}
