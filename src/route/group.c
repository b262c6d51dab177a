/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Consumer-group member selection. Members sit in an array in join order; joins and
 * leaves scan it (they are rare and off the data path), picks touch only it. Weighted
 * picks use nginx's smooth weighted round-robin: every member gains its weight, the
 * richest is picked and pays the total, which spreads a member of weight w evenly over
 * each window of `total` picks. Key-affine picks score every member with a hash of
 * (member, key) and take the highest: removing a member only re-homes the keys it won.
 */
#include "route/group.h"

#include <errno.h>
#include <stdlib.h>

struct group_member {
	uint64_t id;
	int64_t current; /* smooth weighted round-robin credit */
	uint32_t weight;
};

struct group {
	enum sl_group_strategy strategy;
	uint32_t members_max;
	uint32_t count;
	uint32_t next; /* ROUND_ROBIN: the member after the last pick */
	int64_t weight_total;
	uint64_t generation;
	struct group_member *members; /* [members_max], the first `count` in use */
};

int group_create(enum sl_group_strategy strategy, uint32_t members_max, struct group **out)
{
	if (strategy == SL_GROUP_NONE || strategy > SL_GROUP_STRATEGY_MAX || members_max == 0 ||
	    members_max > GROUP_MEMBERS_MAX) {
		return -EINVAL;
	}
	struct group *g = calloc(1, sizeof(*g));
	if (g == NULL) {
		return -ENOMEM;
	}
	g->members = calloc(members_max, sizeof(*g->members));
	if (g->members == NULL) {
		free(g);
		return -ENOMEM;
	}
	g->strategy = strategy;
	g->members_max = members_max;
	*out = g;
	return 0;
}

void group_destroy(struct group *g)
{
	if (g == NULL) {
		return;
	}
	free(g->members);
	free(g);
}

int group_reset(struct group *g, enum sl_group_strategy strategy)
{
	if (strategy == SL_GROUP_NONE || strategy > SL_GROUP_STRATEGY_MAX) {
		return -EINVAL;
	}
	g->strategy = strategy;
	g->count = 0;
	g->next = 0;
	g->weight_total = 0;
	g->generation++;
	return 0;
}

/* splitmix64's finaliser: a bijection whose output bits each depend on every input bit. */
static uint64_t group_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

uint64_t group_member_id(uint64_t subscriber_id, uint32_t subscription_id)
{
	return group_mix(subscriber_id ^ group_mix(subscription_id));
}

static int64_t group_find(const struct group *g, uint64_t member_id)
{
	for (uint32_t i = 0; i < g->count; i++) {
		if (g->members[i].id == member_id) {
			return i;
		}
	}
	return -1;
}

/* A membership change: the weighted rotation restarts from zero credit, so the weights
 * hold from the next pick on. */
static void group_changed(struct group *g)
{
	for (uint32_t i = 0; i < g->count; i++) {
		g->members[i].current = 0;
	}
	if (g->next >= g->count) {
		g->next = 0;
	}
	g->generation++;
}

int group_join(struct group *g, uint64_t member_id, uint16_t weight)
{
	if (weight == 0 || weight > SL_WIRE_WEIGHT_MAX) {
		return -EINVAL;
	}
	if (group_find(g, member_id) >= 0) {
		return -EEXIST;
	}
	if (g->count == g->members_max) {
		return -ENOSPC;
	}
	g->members[g->count++] = (struct group_member){.id = member_id, .weight = weight};
	g->weight_total += weight;
	group_changed(g);
	return 0;
}

int group_leave(struct group *g, uint64_t member_id)
{
	int64_t i = group_find(g, member_id);

	if (i < 0) {
		return -ENOENT;
	}
	g->weight_total -= g->members[i].weight;
	/* Keep join order (round-robin turns stay fair across the gap). */
	for (uint32_t j = (uint32_t)i + 1; j < g->count; j++) {
		g->members[j - 1] = g->members[j];
	}
	g->count--;
	if (g->next > (uint32_t)i) {
		g->next--;
	}
	group_changed(g);
	return 0;
}

uint32_t group_size(const struct group *g)
{
	return g->count;
}

enum sl_group_strategy group_strategy(const struct group *g)
{
	return g->strategy;
}

uint64_t group_generation(const struct group *g)
{
	return g->generation;
}

static uint32_t group_pick_weighted(struct group *g)
{
	uint32_t best = 0;

	for (uint32_t i = 0; i < g->count; i++) {
		struct group_member *m = &g->members[i];
		m->current += m->weight;
		if (m->current > g->members[best].current) {
			best = i;
		}
	}
	g->members[best].current -= g->weight_total;
	return best;
}

/* Rendezvous hashing: the member with the highest score for the key. Ties (a 2^-64
 * event) go to the larger id, so the choice never depends on join order. */
static uint32_t group_pick_affine(const struct group *g, uint32_t topic_hash, uint32_t partition)
{
	uint64_t key = group_mix((uint64_t)topic_hash << 32 | partition);
	uint32_t best = 0;
	uint64_t best_score = 0;

	for (uint32_t i = 0; i < g->count; i++) {
		uint64_t score = group_mix(g->members[i].id ^ key);
		if (i == 0 || score > best_score ||
		    (score == best_score && g->members[i].id > g->members[best].id)) {
			best = i;
			best_score = score;
		}
	}
	return best;
}

int group_pick(struct group *g, uint32_t topic_hash, uint32_t partition, uint64_t *member_id)
{
	uint32_t i;

	if (g->count == 0) {
		return -ENOENT;
	}
	switch (g->strategy) {
	case SL_GROUP_WEIGHTED:
		i = group_pick_weighted(g);
		break;
	case SL_GROUP_KEY_AFFINE:
		i = group_pick_affine(g, topic_hash, partition);
		break;
	default:
		i = g->next;
		g->next = (g->next + 1) % g->count;
		break;
	}
	*member_id = g->members[i].id;
	return 0;
}
