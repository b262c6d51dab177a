/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Subscriptions on the shard: SUBSCRIBE, UNSUBSCRIBE and HEARTBEAT. The shard that
 * receives one applies it to its own copy of the subscription set (table, matcher,
 * groups, subscribers) and broadcasts it to every other shard as a compact control
 * message through the control rings of the mesh, so each shard matches its own batches
 * without a lock. Every shard times subscribers out on its own, from the heartbeats it
 * saw itself or through the rings. All memory is sized by shard_subs_create().
 */
#include "shard/shard_int.h"

#include "core/assert.h"

#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

static unsigned shard_subs_instances;

/* The matcher's cache for --match-cache-topics: a power of two (at least 2) of entries
 * with MATCH_CACHE_IDS_PER_ENTRY ids of ring each, or none. */
static void shard_match_cache_size(struct match_conf *mc, uint32_t topics)
{
	uint32_t entries = 2;

	while (entries < topics) {
		entries *= 2;
	}
	mc->cache_entries = topics == 0 ? 0 : entries;
	mc->cache_ids = entries * MATCH_CACHE_IDS_PER_ENTRY;
}

int shard_subs_create(struct shard *s, int socket)
{
	const struct shard_conf *c = s->env->conf;
	unsigned id = __atomic_fetch_add(&shard_subs_instances, 1, __ATOMIC_RELAXED);
	uint32_t n = c->subscriptions_max;
	uint32_t members = n < SHARD_GROUP_MEMBERS_MAX ? n : SHARD_GROUP_MEMBERS_MAX;
	struct match_conf mc;

	/* Control messages travel in the data of the shard's own mbufs. */
	if (rte_pktmbuf_data_room_size(s->pool) < RTE_PKTMBUF_HEADROOM + sizeof(struct shard_ctl)) {
		return -EINVAL;
	}
	s->subscriptions_max = n;
	s->consumer_timeout_ms = c->consumer_timeout_ms;
	s->ack_timeout_ms = c->ack_timeout_ms;
	s->ack_timeout_tsc = (uint64_t)c->ack_timeout_ms * (rte_get_tsc_hz() / 1000u);
	s->redeliveries_max = c->redeliveries_max;
	s->consumer_timeout_tsc = (uint64_t)c->consumer_timeout_ms * (rte_get_tsc_hz() / 1000u);
	s->sub_state = rte_zmalloc_socket("shard_subs", n * sizeof(*s->sub_state),
					  RTE_CACHE_LINE_SIZE, socket);
	s->subscriber_state = rte_zmalloc_socket(
		"shard_subscribers", n * sizeof(*s->subscriber_state), RTE_CACHE_LINE_SIZE, socket);
	s->groups = rte_zmalloc_socket("shard_groups", SHARD_GROUPS_MAX * sizeof(*s->groups),
				       RTE_CACHE_LINE_SIZE, socket);
	s->matched = rte_zmalloc_socket("shard_matched",
					(n + SHARD_GROUPS_MAX) * sizeof(*s->matched), 0, socket);
	s->redeliveries =
		rte_malloc_socket("shard_redeliveries",
				  SHARD_REDELIVERIES_QUEUED * sizeof(*s->redeliveries), 0, socket);
	s->redelivery_cursor = SHARD_SLOT_NONE;
	shard_dead_letters_init(s);
	s->inflight = rte_malloc_socket("shard_inflight",
					(size_t)n * SHARD_INFLIGHT_SLOTS * sizeof(*s->inflight),
					RTE_CACHE_LINE_SIZE, socket);
	if (s->sub_state == NULL || s->subscriber_state == NULL || s->groups == NULL ||
	    s->matched == NULL || s->inflight == NULL || s->redeliveries == NULL ||
	    shard_starts_create(s, socket) != 0) {
		return -ENOMEM;
	}
	for (uint32_t g = 0; g < SHARD_GROUPS_MAX; g++) {
		struct shard_group *grp = &s->groups[g];
		grp->reader.start.first = SHARD_SLOT_NONE;
		grp->member_slot = rte_zmalloc_socket(
			"shard_group_members", members * sizeof(*grp->member_slot), 0, socket);
		if (grp->member_slot == NULL ||
		    group_create(SL_GROUP_ROUND_ROBIN, members, &grp->members) != 0) {
			return -ENOMEM;
		}
	}
	match_conf_default(&mc, n + SHARD_GROUPS_MAX);
	shard_match_cache_size(&mc, c->match_cache_topics);
	int rc = match_create(&mc, &s->matcher);
	if (rc != 0) {
		return rc;
	}
	s->subs = shard_hash_create("ss", id, s->index, n, sizeof(struct shard_sub_key), socket);
	s->subscribers = shard_hash_create("sc", id, s->index, n, sizeof(uint64_t), socket);
	if (s->subs == NULL || s->subscribers == NULL) {
		return rte_errno > 0 ? -rte_errno : -ENOMEM;
	}
	return 0;
}

void shard_subs_destroy(struct shard *s)
{
	rte_hash_free(s->subscribers);
	rte_hash_free(s->subs);
	match_destroy(s->matcher);
	for (uint32_t g = 0; s->groups != NULL && g < SHARD_GROUPS_MAX; g++) {
		group_destroy(s->groups[g].members);
		rte_free(s->groups[g].member_slot);
	}
	shard_starts_destroy(s);
	rte_free(s->redeliveries);
	rte_free(s->inflight);
	rte_free(s->matched);
	rte_free(s->groups);
	rte_free(s->subscriber_state);
	rte_free(s->sub_state);
}

/* The group named name[0..len), or SHARD_SLOT_NONE. Groups are few: a scan. */
static uint32_t shard_group_find(const struct shard *s, const uint8_t *name, uint8_t len)
{
	for (uint32_t g = 0; g < SHARD_GROUPS_MAX; g++) {
		const struct shard_group *grp = &s->groups[g];
		if (grp->count > 0 && grp->name_len == len && memcmp(grp->name, name, len) == 0) {
			return g;
		}
	}
	return SHARD_SLOT_NONE;
}

static uint32_t shard_group_free_slot(const struct shard *s)
{
	for (uint32_t g = 0; g < SHARD_GROUPS_MAX; g++) {
		if (s->groups[g].count == 0) {
			return g;
		}
	}
	return SHARD_SLOT_NONE;
}

/* Same parameters as subscription sub: a retransmitted SUBSCRIBE. */
static bool shard_sub_is_same(const struct shard *s, const struct shard_sub *sub,
			      const struct shard_ctl *c)
{
	const struct sl_wire_subscribe *a = &sub->params;
	const struct sl_wire_subscribe *b = &c->params;
	const struct shard_group *grp =
		sub->group == SHARD_SLOT_NONE ? NULL : &s->groups[sub->group];

	return sub->pattern_len == c->pattern_len &&
	       memcmp(sub->pattern, c->pattern, c->pattern_len) == 0 &&
	       a->start_value == b->start_value && a->window_bytes == b->window_bytes &&
	       a->window_batches == b->window_batches && a->weight == b->weight &&
	       a->start == b->start && a->start_fallback == b->start_fallback &&
	       a->strategy == b->strategy && a->slow_policy == b->slow_policy &&
	       a->group_len == b->group_len &&
	       (grp == NULL || memcmp(grp->name, c->group, c->group_len) == 0);
}

/* The subscriber slot of id, created (with no subscriptions) if new; negative when full. */
static int32_t shard_subscriber_get(struct shard *s, uint64_t id)
{
	int32_t pos = rte_hash_lookup(s->subscribers, &id);

	if (pos >= 0) {
		return pos;
	}
	pos = rte_hash_add_key(s->subscribers, &id);
	if (pos >= 0) {
		SL_ASSERT((uint32_t)pos < s->subscriptions_max);
		s->subscriber_state[pos] = (struct shard_subscriber){.first = SHARD_SLOT_NONE};
	}
	return pos;
}

/* Refreshes subscriber `slot`: heard from now, at `peer`. */
static void shard_subscriber_heard(struct shard *s, uint32_t slot, const struct netdev_peer *peer)
{
	s->subscriber_state[slot].peer = *peer;
	s->subscriber_state[slot].heard_tsc = s->now_tsc;
}

/* Joins subscription `slot` to group c->group, creating the group when new. 0, or the
 * NACK reason with *why. */
static enum sl_nack_reason shard_group_join(struct shard *s, uint32_t slot,
					    const struct shard_ctl *c, enum sl_sub_error *why)
{
	struct shard_sub *sub = &s->sub_state[slot];
	uint32_t g = shard_group_find(s, c->group, c->group_len);
	struct shard_group *grp;

	if (g != SHARD_SLOT_NONE) {
		grp = &s->groups[g];
		if (grp->pattern_len != c->pattern_len ||
		    memcmp(grp->pattern, c->pattern, c->pattern_len) != 0 ||
		    grp->strategy != c->params.strategy) {
			*why = SL_SUB_CONFLICT_GROUP;
			return SL_NACK_CONFLICT;
		}
	} else {
		g = shard_group_free_slot(s);
		if (g == SHARD_SLOT_NONE) {
			return SL_NACK_GROUPS_FULL;
		}
		grp = &s->groups[g];
		if (match_add(s->matcher, s->subscriptions_max + g, c->pattern, c->pattern_len) !=
		    0) {
			return SL_NACK_SUBSCRIPTIONS_FULL;
		}
		int rc = group_reset(grp->members, (enum sl_group_strategy)c->params.strategy);
		SL_ASSERT(rc == 0); /* the decoder checked the strategy */
		grp->strategy = c->params.strategy;
		grp->name_len = c->group_len;
		memcpy(grp->name, c->group, c->group_len);
		grp->pattern_len = c->pattern_len;
		memcpy(grp->pattern, c->pattern, c->pattern_len);
	}
	if (group_join(grp->members, sub->member_id, c->params.weight) != 0) {
		if (grp->count == 0) {
			(void)match_remove(s->matcher, s->subscriptions_max + g);
		}
		return SL_NACK_GROUP_FULL;
	}
	grp->member_slot[grp->count++] = slot;
	sub->group = g;
	return 0;
}

/* Takes subscription `slot` out of its group, freeing the group when it empties. */
static void shard_group_leave(struct shard *s, uint32_t slot)
{
	struct shard_sub *sub = &s->sub_state[slot];
	struct shard_group *grp = &s->groups[sub->group];

	int rc = group_leave(grp->members, sub->member_id);
	SL_ASSERT(rc == 0);
	for (uint32_t i = 0; i < grp->count; i++) {
		if (grp->member_slot[i] == slot) {
			grp->member_slot[i] = grp->member_slot[--grp->count];
			break;
		}
	}
	if (grp->count == 0) {
		shard_replay_end(s, s->subscriptions_max + sub->group);
		rc = match_remove(s->matcher, s->subscriptions_max + sub->group);
		SL_ASSERT(rc == 0);
		grp->epoch++; /* redeliveries queued for it find it gone */
	}
	sub->group = SHARD_SLOT_NONE;
}

/* Adds the subscription of c at table position `slot`, subscriber `owner`. 0, or the
 * NACK reason (with *why); nothing is left half-added. */
static enum sl_nack_reason shard_sub_add(struct shard *s, uint32_t slot, uint32_t owner,
					 const struct shard_ctl *c, enum sl_sub_error *why)
{
	struct shard_sub *sub = &s->sub_state[slot];
	struct shard_subscriber *sc = &s->subscriber_state[owner];

	*sub = (struct shard_sub){
		.subscriber_id = c->subscriber_id,
		.subscription_id = c->subscription_id,
		.subscriber = owner,
		.group = SHARD_SLOT_NONE,
		.member_id = group_member_id(c->subscriber_id, c->subscription_id),
		.params = c->params,
		.pattern_len = c->pattern_len,
		.reader = {.start = {.first = SHARD_SLOT_NONE}},
	};
	memcpy(sub->pattern, c->pattern, c->pattern_len);
	credit_init(&sub->credit, c->params.window_batches, c->params.window_bytes);
	enum sl_nack_reason r = 0;
	if (c->group_len > 0) {
		r = shard_group_join(s, slot, c, why);
	} else if (match_add(s->matcher, slot, c->pattern, c->pattern_len) != 0) {
		r = SL_NACK_SUBSCRIPTIONS_FULL;
	}
	if (r != 0) {
		return r;
	}
	sub->next = sc->first;
	sc->first = slot;
	sc->subscriptions++;
	return 0;
}

/* Where a reader starting as SUBSCRIBE c asks begins at this shard. */
struct shard_start_plan {
	struct shard_start start;
	enum shard_seek seek;
	bool is_replay; /* false: live from now on */
};

/*
 * Plans the start of c: live (latest, or no journal to read), or a replay from where it
 * asked. `frame`: the parsed SUBSCRIBE with its start offsets (start `offsets` only).
 * Returns 0, or -ENOSPC when the start offsets found no room (nothing held).
 */
static int shard_start_plan(struct shard *s, const struct shard_ctl *c,
			    const struct wire_subscribe *frame, struct shard_start_plan *plan)
{
	*plan = (struct shard_start_plan){.start = {.first = SHARD_SLOT_NONE}};
	if (s->journal == NULL) {
		return 0;
	}
	switch (c->params.start) {
	case SL_START_EARLIEST:
		plan->seek = SHARD_SEEK_EARLIEST;
		break;
	case SL_START_TIMESTAMP:
		plan->seek = SHARD_SEEK_TIME;
		break;
	case SL_START_OFFSETS: {
		SL_ASSERT(frame != NULL); /* the frame travels with the control message */
		int rc = shard_start_init(s, &plan->start, frame);
		if (rc != 0) {
			return rc;
		}
		if (!shard_start_needs_replay(&plan->start)) {
			shard_start_release(s, &plan->start);
			return 0;
		}
		plan->seek = SHARD_SEEK_OFFSET;
		break;
	}
	default:
		return 0;
	}
	plan->is_replay = true;
	return 0;
}

/*
 * Starts new subscription `slot` as planned. In a group, the group reads for all its
 * members: the member that created the group on this shard sets where the group starts,
 * and a later member joins the group where it is (its own start is not used).
 */
static void shard_sub_start(struct shard *s, uint32_t slot, struct shard_start_plan *plan)
{
	const struct shard_sub *sub = &s->sub_state[slot];
	uint32_t reader = slot;

	if (!plan->is_replay) {
		return;
	}
	if (sub->group != SHARD_SLOT_NONE) {
		if (s->groups[sub->group].count > 1) {
			shard_start_release(s, &plan->start);
			return;
		}
		reader = s->subscriptions_max + sub->group;
	}
	shard_reader_of(s, reader)->start = plan->start;
	shard_replay_begin(s, reader, plan->seek, sub->params.start_value);
}

/*
 * Applies a SUBSCRIBE: a new subscription, or a retransmit of one that exists with the
 * same parameters (which refreshes the subscriber). `frame`: the parsed SUBSCRIBE when it
 * starts at offsets, else NULL. Returns 0, or the NACK reason with *why (conflict) — the
 * set is then unchanged. Start offsets that find no room here are NACKed "subscription
 * table full" when `strict` (the receiving shard); another shard counts the subscription
 * diverged and starts those partitions at the fallback instead.
 */
static enum sl_nack_reason shard_apply_subscribe(struct shard *s, const struct shard_ctl *c,
						 const struct wire_subscribe *frame, bool strict,
						 enum sl_sub_error *why)
{
	struct shard_start_plan plan;

	struct shard_sub_key k = {.subscriber_id = c->subscriber_id,
				  .subscription_id = c->subscription_id};
	int32_t pos = rte_hash_lookup(s->subs, &k);

	*why = SL_SUB_OK;
	if (pos >= 0) {
		if (!shard_sub_is_same(s, &s->sub_state[pos], c)) {
			*why = SL_SUB_CONFLICT_ID;
			return SL_NACK_CONFLICT;
		}
		shard_subscriber_heard(s, s->sub_state[pos].subscriber, &c->peer);
		return 0;
	}
	if (shard_start_plan(s, c, frame, &plan) != 0) {
		if (strict) {
			return SL_NACK_START_OFFSETS_FULL;
		}
		shard_count(s, SL_STAT_DROP_SUBSCRIPTION_DIVERGED, 1);
		plan.is_replay = c->params.start_fallback == SL_START_EARLIEST;
		plan.seek = SHARD_SEEK_EARLIEST;
	}
	int32_t owner = shard_subscriber_get(s, c->subscriber_id);
	if (owner < 0) {
		shard_start_release(s, &plan.start);
		return SL_NACK_SUBSCRIPTIONS_FULL;
	}
	pos = rte_hash_add_key(s->subs, &k);
	enum sl_nack_reason r = SL_NACK_SUBSCRIPTIONS_FULL;
	if (pos >= 0) {
		SL_ASSERT((uint32_t)pos < s->subscriptions_max);
		r = shard_sub_add(s, (uint32_t)pos, (uint32_t)owner, c, why);
		if (r != 0) {
			(void)rte_hash_del_key(s->subs, &k);
		}
	}
	if (r != 0) {
		shard_start_release(s, &plan.start);
		if (s->subscriber_state[owner].subscriptions == 0) {
			(void)rte_hash_del_key(s->subscribers, &c->subscriber_id);
		}
		return r;
	}
	shard_subscriber_heard(s, (uint32_t)owner, &c->peer);
	shard_sub_start(s, (uint32_t)pos, &plan);
	return 0;
}

/* Unlinks subscription `slot` from its subscriber's list. */
static void shard_subscriber_unlink(struct shard *s, struct shard_subscriber *sc, uint32_t slot)
{
	uint32_t *link = &sc->first;

	while (*link != slot) {
		SL_ASSERT(*link != SHARD_SLOT_NONE);
		link = &s->sub_state[*link].next;
	}
	*link = s->sub_state[slot].next;
	sc->subscriptions--;
}

/* Removes subscription `slot`; its subscriber goes with its last subscription. */
static void shard_sub_remove(struct shard *s, uint32_t slot)
{
	struct shard_sub *sub = &s->sub_state[slot];
	struct shard_sub_key k = {.subscriber_id = sub->subscriber_id,
				  .subscription_id = sub->subscription_id};
	struct shard_subscriber *sc = &s->subscriber_state[sub->subscriber];

	shard_replay_end(s, slot);
	if (sub->group != SHARD_SLOT_NONE) {
		shard_inflight_hand_over(s, slot);
		shard_group_leave(s, slot);
	} else {
		int rc = match_remove(s->matcher, slot);
		SL_ASSERT(rc == 0);
	}
	shard_subscriber_unlink(s, sc, slot);
	if (sc->subscriptions == 0) {
		uint64_t id = sub->subscriber_id;
		(void)rte_hash_del_key(s->subscribers, &id);
	}
	int32_t pos = rte_hash_del_key(s->subs, &k);
	SL_ASSERT(pos == (int32_t)slot);
}

static void shard_apply_unsubscribe(struct shard *s, const struct shard_ctl *c)
{
	struct shard_sub_key k = {.subscriber_id = c->subscriber_id,
				  .subscription_id = c->subscription_id};
	int32_t pos = rte_hash_lookup(s->subs, &k);

	if (pos >= 0) {
		shard_sub_remove(s, (uint32_t)pos);
	}
}

/* Applies a HEARTBEAT: the subscriber is alive, at c->peer. Returns how many of its
 * subscriptions this shard holds (0: unknown, nothing refreshed). */
static uint32_t shard_apply_heartbeat(struct shard *s, const struct shard_ctl *c)
{
	int32_t pos = rte_hash_lookup(s->subscribers, &c->subscriber_id);

	if (pos < 0) {
		return 0;
	}
	shard_subscriber_heard(s, (uint32_t)pos, &c->peer);
	return s->subscriber_state[pos].subscriptions;
}

/* Removes every subscription of subscriber `slot` (and so the subscriber). */
static void shard_subscriber_remove(struct shard *s, uint32_t slot)
{
	while (s->subscriber_state[slot].subscriptions > 0) {
		shard_sub_remove(s, s->subscriber_state[slot].first);
	}
}

void shard_subscribers_sweep(struct shard *s, unsigned steps)
{
	const void *key;
	void *data;

	for (unsigned i = 0; i < steps; i++) {
		int32_t pos =
			rte_hash_iterate(s->subscribers, &key, &data, &s->subscriber_sweep_next);
		if (pos < 0) {
			s->subscriber_sweep_next = 0;
			return;
		}
		if (s->now_tsc - s->subscriber_state[pos].heard_tsc > s->consumer_timeout_tsc) {
			shard_count(s, SL_STAT_SUBSCRIBER_TIMEOUTS, 1);
			shard_subscriber_remove(s, (uint32_t)pos);
		}
	}
}

/* Fills control message c of kind `kind` from frame f received from `peer`. */
static void shard_ctl_init(struct shard_ctl *c, enum shard_ctl_kind kind,
			   const struct wire_frame *f, const struct netdev_peer *peer)
{
	memset(c, 0, sizeof(*c));
	c->kind = (uint8_t)kind;
	c->subscriber_id = wire_subscriber_id(&f->hdr);
	c->subscription_id = wire_subscription_id(&f->hdr);
	c->peer = *peer;
}

static void shard_ctl_init_subscribe(struct shard_ctl *c, const struct wire_subscribe *sub,
				     const struct netdev_peer *peer)
{
	memset(c, 0, sizeof(*c));
	c->kind = SHARD_CTL_SUBSCRIBE;
	c->subscriber_id = sub->subscriber_id;
	c->subscription_id = sub->subscription_id;
	c->peer = *peer;
	c->params = sub->params;
	/* Start offsets travel in a copy of the frame (has_frame): every shard reads those
	 * of the partitions it owns. The parameters compared for idempotence leave them out. */
	c->has_frame = sub->params.start == SL_START_OFFSETS;
	c->params.offset_count = 0;
	c->params.offsets_topic_len = 0;
	c->pattern_len = sub->pattern_len;
	memcpy(c->pattern, sub->pattern, sub->pattern_len);
	c->group_len = sub->params.group_len;
	if (c->group_len > 0) {
		memcpy(c->group, sub->group, c->group_len);
	}
}

/* A carrier for one control message: an mbuf of s's pool, followed (frame != NULL) by a
 * copy of the frame in `frame` in a second segment. NULL when the pool is empty. */
static struct rte_mbuf *shard_ctl_carrier(struct shard *s, const struct rte_mbuf *frame)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(s->pool);

	if (m == NULL || frame == NULL) {
		return m;
	}
	struct rte_mbuf *copy = rte_pktmbuf_alloc(s->pool);
	void *p = copy == NULL ? NULL : rte_pktmbuf_append(copy, frame->data_len);
	if (p == NULL) {
		rte_pktmbuf_free(copy);
		rte_pktmbuf_free(m);
		return NULL;
	}
	memcpy(p, rte_pktmbuf_mtod(frame, const void *), frame->data_len);
	int rc = rte_pktmbuf_chain(m, copy);
	SL_ASSERT(rc == 0); /* two segments */
	return m;
}

/*
 * Takes one carrier per other shard (with a copy of `frame` when not NULL) and checks
 * every control ring has room, so that the broadcast cannot fail half-way. Returns true
 * with carriers[] filled (one per shard, NULL at s->index), or false with nothing held.
 */
static bool shard_ctl_reserve(struct shard *s, struct rte_mbuf **carriers,
			      const struct rte_mbuf *frame)
{
	struct mesh *mesh = s->env->mesh;

	for (uint16_t to = 0; to < s->shards; to++) {
		if (to != s->index && mesh_ctl_free_count(mesh, s->index, to) == 0) {
			return false;
		}
	}
	carriers[s->index] = NULL;
	for (uint16_t to = 0; to < s->shards; to++) {
		if (to == s->index) {
			continue;
		}
		carriers[to] = shard_ctl_carrier(s, frame);
		if (carriers[to] == NULL) {
			for (uint16_t i = 0; i < to; i++) {
				rte_pktmbuf_free(carriers[i]);
			}
			shard_count(s, SL_STAT_DROP_NOMBUF, 1);
			return false;
		}
	}
	return true;
}

/* Sends c to every other shard through the carriers shard_ctl_reserve() took. */
static void shard_ctl_broadcast(struct shard *s, struct rte_mbuf **carriers,
				const struct shard_ctl *c)
{
	for (uint16_t to = 0; to < s->shards; to++) {
		if (to == s->index) {
			continue;
		}
		struct rte_mbuf *m = carriers[to];
		memcpy(rte_pktmbuf_mtod(m, void *), c, sizeof(*c));
		m->data_len = sizeof(*c);
		m->pkt_len = sizeof(*c) + (m->next == NULL ? 0 : m->next->data_len);
		unsigned k = mesh_ctl_push_burst(s->env->mesh, s->index, to, &m, 1);
		SL_ASSERT(k == 1); /* room checked by shard_ctl_reserve() */
	}
}

/* Reserves the broadcast (carrying a copy of m when `with_frame`), or answers NACK busy
 * (m consumed) and returns false. */
static bool shard_ctl_begin(struct shard *s, struct rte_mbuf *m, const struct wire_frame *f,
			    struct rte_mbuf **carriers, bool with_frame)
{
	if (s->shards == 1 || shard_ctl_reserve(s, carriers, with_frame ? m : NULL)) {
		return true;
	}
	shard_count(s, SL_STAT_DROP_MESH_FULL, 1);
	shard_reply_nack(s, m, &f->hdr, f->topic, SL_NACK_BUSY, 0, 0);
	return false;
}

static void shard_ctl_release(struct shard *s, struct rte_mbuf **carriers)
{
	for (uint16_t to = 0; s->shards > 1 && to < s->shards; to++) {
		rte_pktmbuf_free(carriers[to]); /* NULL at s->index */
	}
}

/* Answers SUBSCRIBED for subscription of c, status `status` (REMOVED: no pattern), with
 * `flags` (enum sl_subscribed_flag, ACTIVE only). */
static void shard_reply_subscribed(struct shard *s, struct rte_mbuf *m, const struct shard_ctl *c,
				   enum sl_sub_status status, uint8_t flags)
{
	struct sl_wire_subscribed body = {.status = (uint8_t)status};
	uint32_t len = 0;
	uint8_t pattern_len = 0;

	if (status == SL_SUB_ACTIVE) {
		body = (struct sl_wire_subscribed){
			.window_bytes = c->params.window_bytes,
			.window_batches = c->params.window_batches,
			.consumer_timeout_ms = s->consumer_timeout_ms,
			.ack_timeout_ms = s->ack_timeout_ms,
			.redeliveries_max = s->redeliveries_max,
			.shards = s->shards,
			.weight = c->params.weight,
			.status = (uint8_t)status,
			.strategy = c->params.strategy,
			.slow_policy = c->params.slow_policy,
			.flags = flags,
		};
		pattern_len = c->pattern_len;
	}
	/* The request's bytes are copied into c: m can be written over. */
	struct rte_mbuf *out = shard_reply_mbuf_over(s, m);
	if (out == NULL) {
		return;
	}
	int rc = wire_subscribed_encode(rte_pktmbuf_mtod(out, void *), s->frame_bytes_max,
					c->subscriber_id, c->subscription_id, c->pattern,
					pattern_len, &body, &len);
	SL_ASSERT_HOT(rc == 0);
	(void)rc;
	shard_tx_push(s, out, len);
}
/* A refused SUBSCRIBE's NACK detail: the limit it met, or the problem (docs/PROTOCOL.md). */
static uint32_t shard_subscribe_nack_detail(const struct shard *s, enum sl_nack_reason reason,
					    enum sl_sub_error why)
{
	switch (reason) {
	case SL_NACK_SUBSCRIPTIONS_FULL:
		return s->subscriptions_max;
	case SL_NACK_GROUPS_FULL:
		return SHARD_GROUPS_MAX;
	case SL_NACK_GROUP_FULL:
		return SHARD_GROUP_MEMBERS_MAX;
	case SL_NACK_START_OFFSETS_FULL:
		return SHARD_START_OFFSETS_POOL;
	default:
		return (uint32_t)why;
	}
}

void shard_subscribe(struct shard *s, struct rte_mbuf *m, const struct wire_frame *f)
{
	struct rte_mbuf *carriers[SHARD_SHARDS_MAX];
	struct wire_subscribe sub;
	struct shard_ctl c;
	enum sl_sub_error why;

	enum sl_wire_reject r = wire_subscribe_parse(f, &sub, &why);
	SL_ASSERT_HOT(r == SL_WIRE_OK); /* wire_decode() ran the same checks */
	(void)r;
	shard_ctl_init_subscribe(&c, &sub, netdev_mbuf_peer(m));
	if (!shard_ctl_begin(s, m, f, carriers, c.has_frame)) {
		return;
	}
	/* An existing subscription keeps its credit totals and delivery numbering (the
	 * SUBSCRIBE is idempotent): SUBSCRIBED tells the consumer which, so it keeps or
	 * restarts its own. */
	struct shard_sub_key k = {.subscriber_id = c.subscriber_id,
				  .subscription_id = c.subscription_id};
	uint8_t flags = rte_hash_lookup(s->subs, &k) >= 0 ? SL_SUBSCRIBED_CREDIT_KEPT : 0;
	enum sl_nack_reason reason = shard_apply_subscribe(s, &c, &sub, true, &why);
	if (reason != 0) {
		shard_ctl_release(s, carriers);
		shard_reply_nack(s, m, &f->hdr, f->topic, reason,
				 shard_subscribe_nack_detail(s, reason, why), 0);
		return;
	}
	if (s->shards > 1) {
		shard_ctl_broadcast(s, carriers, &c);
	}
	shard_count(s, SL_STAT_SUBSCRIBES, 1);
	shard_reply_subscribed(s, m, &c, SL_SUB_ACTIVE, flags);
}

void shard_unsubscribe(struct shard *s, struct rte_mbuf *m, const struct wire_frame *f)
{
	struct rte_mbuf *carriers[SHARD_SHARDS_MAX];
	struct shard_ctl c;

	shard_ctl_init(&c, SHARD_CTL_UNSUBSCRIBE, f, netdev_mbuf_peer(m));
	if (!shard_ctl_begin(s, m, f, carriers, false)) {
		return;
	}
	shard_apply_unsubscribe(s, &c);
	if (s->shards > 1) {
		shard_ctl_broadcast(s, carriers, &c);
	}
	shard_count(s, SL_STAT_UNSUBSCRIBES, 1);
	shard_reply_subscribed(s, m, &c, SL_SUB_REMOVED, 0);
}

void shard_heartbeat(struct shard *s, struct rte_mbuf *m, const struct wire_frame *f)
{
	struct rte_mbuf *carriers[SHARD_SHARDS_MAX];
	struct sl_wire_heartbeat hb;
	struct shard_ctl c;

	enum sl_wire_reject r = wire_heartbeat_parse(f, &hb);
	SL_ASSERT_HOT(r == SL_WIRE_OK);
	(void)r;
	shard_ctl_init(&c, SHARD_CTL_HEARTBEAT, f, netdev_mbuf_peer(m));
	if (!shard_ctl_begin(s, m, f, carriers, false)) {
		return;
	}
	/* Applied everywhere even when the count differs: what the subscriber still holds
	 * stays alive while it subscribes again. */
	uint32_t known = shard_apply_heartbeat(s, &c);
	if (s->shards > 1) {
		shard_ctl_broadcast(s, carriers, &c);
	}
	if (known != hb.subscriptions) {
		/* The consumer subscribes again; SUBSCRIBE is idempotent. */
		shard_count(s, SL_STAT_UNKNOWN_SUBSCRIPTION, 1);
		shard_reply_nack(s, m, &f->hdr, NULL, SL_NACK_UNKNOWN_SUBSCRIPTION, known, 0);
		return;
	}
	rte_pktmbuf_free(m); /* a heartbeat that matches is not answered */
}

/* The SUBSCRIBE frame carried in the second segment of control message m, parsed. */
static void shard_ctl_frame(const struct rte_mbuf *m, struct wire_subscribe *out)
{
	struct wire_frame f;
	enum sl_sub_error why;

	SL_ASSERT(m->next != NULL);
	shard_frame_trusted(m->next, &f);
	enum sl_wire_reject r = wire_subscribe_parse(&f, out, &why);
	SL_ASSERT(r == SL_WIRE_OK); /* the receiving shard decoded the same bytes */
	(void)r;
}

/* Applies one control message c from another shard, carried by m. A SUBSCRIBE that
 * cannot be applied here (this shard's table or matcher full, a conflict created
 * concurrently on another shard) is counted: the receiving shard answered for the set it
 * holds. */
static void shard_ctl_apply(struct shard *s, const struct shard_ctl *c, const struct rte_mbuf *m)
{
	struct wire_subscribe frame;
	enum sl_sub_error why;

	switch (c->kind) {
	case SHARD_CTL_SUBSCRIBE:
		if (c->has_frame) {
			shard_ctl_frame(m, &frame);
		}
		if (shard_apply_subscribe(s, c, c->has_frame ? &frame : NULL, false, &why) != 0) {
			shard_count(s, SL_STAT_DROP_SUBSCRIPTION_DIVERGED, 1);
		}
		break;
	case SHARD_CTL_UNSUBSCRIBE:
		shard_apply_unsubscribe(s, c);
		break;
	case SHARD_CTL_HEARTBEAT:
		(void)shard_apply_heartbeat(s, c);
		break;
	default:
		SL_ASSERT(false); /* only shards write control messages */
	}
}

unsigned shard_ctl_drain_from(struct shard *s, uint16_t from)
{
	struct rte_mbuf *ctl[SHARD_BURST_MAX];
	unsigned total = 0;
	unsigned n;

	do {
		n = mesh_ctl_pop_burst(s->env->mesh, from, s->index, ctl, s->burst);
		for (unsigned i = 0; i < n; i++) {
			struct shard_ctl c;
			memcpy(&c, rte_pktmbuf_mtod(ctl[i], const void *), sizeof(c));
			shard_ctl_apply(s, &c, ctl[i]);
		}
		if (n > 0) {
			rte_pktmbuf_free_bulk(ctl, n);
		}
		total += n;
	} while (n == s->burst);
	return total;
}

unsigned shard_ctl_drain(struct shard *s)
{
	unsigned total = 0;

	for (uint16_t from = 0; from < s->shards; from++) {
		if (from != s->index) {
			total += shard_ctl_drain_from(s, from);
		}
	}
	return total;
}
