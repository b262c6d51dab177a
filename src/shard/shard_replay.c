/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Replay from the journal. A subscription that starts earliest, at a time or at offsets,
 * a consumer group that does (as its first member asked: its batches are shared by the
 * members, so the group reads once for all of them), and a live subscription of policy
 * replay that ran out of credit, read the shard's journal through
 * a cursor of the shard's pool (made when the journal opens; when none is free the
 * subscription waits, counted). The cursor's entries are filtered by the subscription's
 * pattern and sent within credit; once the cursor is caught up (it handed out everything
 * up to journal_appended_end()), the subscription turns live in the same loop iteration,
 * so every later append is delivered live: no gap, no duplicate. While a subscription
 * reads from the journal, live delivery passes it by.
 */
#include "shard/shard_int.h"

#include "core/assert.h"
#include "journal/cursor.h"

#include <rte_malloc.h>

#include <errno.h>

int shard_replays_create(struct shard *s)
{
	uint32_t n = s->env->conf->replay_cursors;

	if (n == 0) {
		return 0;
	}
	s->replays = rte_zmalloc("shard_replays", n * sizeof(*s->replays), 0);
	if (s->replays == NULL) {
		return -ENOMEM;
	}
	s->replay_cursors = n;
	for (uint32_t i = 0; i < n; i++) {
		s->replays[i].slot = SHARD_SLOT_NONE;
		int rc = journal_cursor_create(s->journal, s->env->conf->replay_buffer_bytes,
					       &s->replays[i].cursor);
		if (rc != 0) {
			return rc;
		}
	}
	return 0;
}

void shard_replays_destroy(struct shard *s)
{
	for (uint32_t i = 0; i < s->replay_cursors; i++) {
		journal_cursor_destroy(s->replays[i].cursor);
	}
	rte_free(s->replays);
	s->replays = NULL;
	s->replay_cursors = 0;
}

/* A free cursor's index, or SHARD_SLOT_NONE. */
static uint32_t shard_replay_free(const struct shard *s)
{
	for (uint32_t i = 0; i < s->replay_cursors; i++) {
		if (s->replays[i].slot == SHARD_SLOT_NONE) {
			return i;
		}
	}
	return SHARD_SLOT_NONE;
}

/* Positions cursor c where a reader with start st asked (`seek`, `value`). */
static void shard_replay_seek(struct shard *s, struct journal_cursor *c, enum shard_seek seek,
			      uint64_t value, const struct shard_start *st)
{
	switch (seek) {
	case SHARD_SEEK_TIME:
		journal_cursor_seek_time(c, value);
		break;
	case SHARD_SEEK_POSITION:
		journal_cursor_seek_position(c, value);
		break;
	case SHARD_SEEK_OFFSET:
		shard_start_seek(s, st, c);
		break;
	default:
		journal_cursor_seek_earliest(c);
		break;
	}
}

/* Puts waiting subscription `slot` on cursor i, positioned where it asked. */
static void shard_replay_attach(struct shard *s, uint32_t slot, uint32_t i)
{
	struct shard_sub *sub = &s->sub_state[slot];

	SL_ASSERT(sub->mode == SHARD_SUB_REPLAY_WAIT && s->replay_waiting > 0);
	s->replay_waiting--;
	s->replays[i].slot = slot;
	sub->mode = SHARD_SUB_REPLAYING;
	sub->cursor = (uint16_t)i;
	shard_replay_seek(s, s->replays[i].cursor, (enum shard_seek)sub->seek, sub->seek_value,
			  &sub->start);
}

/* Puts waiting group g on cursor i, positioned where its first member asked. */
static void shard_group_replay_attach(struct shard *s, uint32_t g, uint32_t i)
{
	struct shard_group *grp = &s->groups[g];

	SL_ASSERT(grp->mode == SHARD_SUB_REPLAY_WAIT && s->replay_waiting > 0);
	s->replay_waiting--;
	s->replays[i].slot = s->subscriptions_max + g;
	grp->mode = SHARD_SUB_REPLAYING;
	grp->cursor = (uint16_t)i;
	shard_replay_seek(s, s->replays[i].cursor, (enum shard_seek)grp->seek, grp->seek_value,
			  &grp->start);
}

void shard_group_replay_begin(struct shard *s, uint32_t g, enum shard_seek seek, uint64_t value)
{
	struct shard_group *grp = &s->groups[g];

	SL_ASSERT(s->journal != NULL && grp->mode == SHARD_SUB_LIVE);
	grp->mode = SHARD_SUB_REPLAY_WAIT;
	grp->seek = (uint8_t)seek;
	grp->seek_value = value;
	s->replay_waiting++;
	uint32_t i = shard_replay_free(s);
	if (i == SHARD_SLOT_NONE) {
		shard_count(s, SL_STAT_REPLAY_CURSOR_WAITS, 1);
		return;
	}
	shard_group_replay_attach(s, g, i);
}

void shard_group_replay_end(struct shard *s, uint32_t g)
{
	struct shard_group *grp = &s->groups[g];

	if (grp->mode == SHARD_SUB_REPLAY_WAIT) {
		s->replay_waiting--;
	} else if (grp->mode == SHARD_SUB_REPLAYING) {
		s->replays[grp->cursor].slot = SHARD_SLOT_NONE;
	}
	grp->mode = SHARD_SUB_LIVE;
	shard_start_release(s, &grp->start);
}

void shard_replay_begin(struct shard *s, uint32_t slot, enum shard_seek seek, uint64_t value)
{
	struct shard_sub *sub = &s->sub_state[slot];

	SL_ASSERT(s->journal != NULL && sub->mode == SHARD_SUB_LIVE);
	sub->mode = SHARD_SUB_REPLAY_WAIT;
	sub->seek = (uint8_t)seek;
	sub->seek_value = value;
	s->replay_waiting++;
	uint32_t i = shard_replay_free(s);
	if (i == SHARD_SLOT_NONE) {
		shard_count(s, SL_STAT_REPLAY_CURSOR_WAITS, 1);
		return;
	}
	shard_replay_attach(s, slot, i);
}

void shard_replay_end(struct shard *s, uint32_t slot)
{
	struct shard_sub *sub = &s->sub_state[slot];

	if (sub->mode == SHARD_SUB_REPLAY_WAIT) {
		s->replay_waiting--;
	} else if (sub->mode == SHARD_SUB_REPLAYING) {
		/* Reads in flight complete into the cursor; its next seek ignores them. */
		s->replays[sub->cursor].slot = SHARD_SLOT_NONE;
	}
	sub->mode = SHARD_SUB_LIVE;
}

/* Hands free cursors to waiting groups first (few, and each serves several members). */
static void shard_group_replay_assign(struct shard *s)
{
	for (uint32_t g = 0; g < SHARD_GROUPS_MAX && s->replay_waiting > 0; g++) {
		if (s->groups[g].count == 0 || s->groups[g].mode != SHARD_SUB_REPLAY_WAIT) {
			continue;
		}
		uint32_t i = shard_replay_free(s);
		if (i == SHARD_SLOT_NONE) {
			return;
		}
		shard_group_replay_attach(s, g, i);
	}
}

/* Hands free cursors to waiting subscriptions, scanning a few table entries per call. */
static void shard_replay_assign(struct shard *s)
{
	const void *key;
	void *data;

	shard_group_replay_assign(s);
	for (unsigned step = 0; step < SHARD_SWEEP_STEP && s->replay_waiting > 0; step++) {
		uint32_t i = shard_replay_free(s);
		if (i == SHARD_SLOT_NONE) {
			return;
		}
		int32_t pos = rte_hash_iterate(s->subs, &key, &data, &s->replay_scan_next);
		if (pos < 0) {
			s->replay_scan_next = 0;
			continue;
		}
		if (s->sub_state[pos].mode == SHARD_SUB_REPLAY_WAIT) {
			shard_replay_attach(s, (uint32_t)pos, i);
		}
	}
}

/* The partition slot of journal entry e when a reader of `pattern` with start st takes
 * it, else -1. */
static int32_t shard_replay_match(struct shard *s, const uint8_t *pattern, uint8_t pattern_len,
				  const struct shard_start *st, const struct journal_entry *e)
{
	if (!wire_pattern_matches(pattern, pattern_len, e->topic, e->hdr.topic_len)) {
		return -1;
	}
	/* Entries of this shard's journal are of partitions it owns: in its table. */
	int32_t ppos = shard_partition_find(s, e->topic, e->hdr.topic_len, e->hdr.partition,
					    route_topic_hash(e->topic, e->hdr.topic_len));
	SL_ASSERT_HOT(ppos >= 0);
	return shard_start_admits(s, st, (uint32_t)ppos, e) ? ppos : -1;
}

/* Reads on for the subscription on cursor i, at most a burst of entries. */
static unsigned shard_replay_step(struct shard *s, uint32_t i)
{
	uint32_t slot = s->replays[i].slot;
	struct shard_sub *sub = &s->sub_state[slot];
	struct journal_cursor *c = s->replays[i].cursor;
	unsigned handled = 0;

	while (handled < s->burst) {
		/* The entry's size is known only once it is taken, and a taken entry must be
		 * sent: ask for room for the largest DELIVER. */
		if (!credit_allows(&sub->credit, s->frame_bytes_max) ||
		    !shard_inflight_has_room(s, sub)) {
			break;
		}
		struct journal_entry e;
		uint64_t at = journal_cursor_position(c);
		int rc = journal_cursor_next(c, &e);
		if (rc == 0) {
			if (journal_cursor_caught_up(c)) {
				/* Live from the next append on. */
				shard_replay_end(s, slot);
				shard_start_release(s, &sub->start);
			}
			break;
		}
		if (rc < 0) {
			/* Damage or a missing segment: the cursor refuses to go on (logged by
			 * nothing on this lcore; the counter says it). The subscription turns
			 * live: what lay beyond the damage is not delivered. */
			shard_count(s, SL_STAT_REPLAY_FAILURES, 1);
			shard_replay_end(s, slot);
			shard_start_release(s, &sub->start);
			break;
		}
		handled++;
		int32_t ppos =
			shard_replay_match(s, sub->pattern, sub->pattern_len, &sub->start, &e);
		if (ppos < 0) {
			continue;
		}
		if (!shard_deliver_entry(s, slot, &e, (uint32_t)ppos, 0)) {
			/* No mbuf: read this entry again next time. */
			journal_cursor_seek_position(c, at);
			break;
		}
	}
	return handled;
}

/*
 * Reads on for group g on cursor i, at most a burst of entries: each matching entry goes
 * to the member the group picks (shard_group_pick_ready()). When no member can take it,
 * the group waits on that entry (read again next time), so its members get every batch
 * from the start exactly once, in order, and the group turns live once caught up.
 */
/* True when some member of group g has room for the largest DELIVER: reading on is
 * worth it (an entry no member can take is read again later). */
static bool shard_group_has_room(const struct shard *s, uint32_t g)
{
	const struct shard_group *grp = &s->groups[g];

	for (uint32_t i = 0; i < grp->count; i++) {
		if (shard_sub_can_take(s, grp->member_slot[i], s->frame_bytes_max)) {
			return true;
		}
	}
	return false;
}

static unsigned shard_group_replay_step(struct shard *s, uint32_t i, uint32_t g)
{
	struct shard_group *grp = &s->groups[g];
	struct journal_cursor *c = s->replays[i].cursor;
	unsigned handled = 0;

	while (handled < s->burst && shard_group_has_room(s, g)) {
		struct journal_entry e;
		uint64_t at = journal_cursor_position(c);
		int rc = journal_cursor_next(c, &e);
		if (rc == 0) {
			if (journal_cursor_caught_up(c)) {
				shard_group_replay_end(s, g);
			}
			break;
		}
		if (rc < 0) {
			shard_count(s, SL_STAT_REPLAY_FAILURES, 1);
			shard_group_replay_end(s, g);
			break;
		}
		handled++;
		int32_t ppos =
			shard_replay_match(s, grp->pattern, grp->pattern_len, &grp->start, &e);
		if (ppos < 0) {
			continue;
		}
		uint32_t topic_hash = route_topic_hash(e.topic, e.hdr.topic_len);
		uint32_t bytes = wire_deliver_head_bytes(e.hdr.topic_len) + e.body_len;
		uint32_t slot = shard_group_pick_ready(s, g, topic_hash, e.hdr.partition, bytes);
		SL_ASSERT_HOT(slot != SHARD_SLOT_NONE); /* a group with no member is freed */
		if (!shard_sub_can_take(s, slot, bytes) ||
		    !shard_deliver_entry(s, slot, &e, (uint32_t)ppos, 0)) {
			journal_cursor_seek_position(c, at); /* this entry again, later */
			break;
		}
	}
	return handled;
}

unsigned shard_replay_poll(struct shard *s)
{
	unsigned work = 0;

	if (s->replay_waiting > 0) {
		shard_replay_assign(s);
	}
	for (uint32_t i = 0; i < s->replay_cursors; i++) {
		uint32_t slot = s->replays[i].slot;
		if (slot == SHARD_SLOT_NONE || slot == SHARD_SLOT_REDELIVERY) {
			continue;
		}
		if (slot >= s->subscriptions_max) {
			work += shard_group_replay_step(s, i, slot - s->subscriptions_max);
		} else {
			work += shard_replay_step(s, i);
		}
	}
	return work;
}

/* Positions the redelivery cursor on the oldest queued redelivery. */
static void shard_redelivery_seek(struct shard *s)
{
	const struct shard_redelivery *r =
		&s->redeliveries[s->redelivery_head & (SHARD_REDELIVERIES_QUEUED - 1)];

	journal_cursor_seek_position(s->replays[s->redelivery_cursor].cursor, r->position);
}

/* Done with the oldest queued redelivery: on to the next, or the cursor goes back. */
static void shard_redelivery_pop(struct shard *s)
{
	s->redelivery_head++;
	if (s->redelivery_head != s->redelivery_tail) {
		shard_redelivery_seek(s);
		return;
	}
	s->replays[s->redelivery_cursor].slot = SHARD_SLOT_NONE;
	s->redelivery_cursor = SHARD_SLOT_NONE;
}

/* Sends the batch of the oldest queued redelivery, read as e, to a member of its group
 * that can take it. False when none can now (it is read again next time). */
static bool shard_redelivery_send(struct shard *s, const struct shard_redelivery *r,
				  const struct journal_entry *e)
{
	const struct shard_group *grp = &s->groups[r->group];

	if (grp->count == 0 || grp->epoch != r->group_epoch) {
		return true; /* the group is gone: nobody is left to receive it */
	}
	uint32_t topic_hash = route_topic_hash(e->topic, e->hdr.topic_len);
	uint32_t bytes = wire_deliver_head_bytes(e->hdr.topic_len) + e->body_len;
	uint32_t slot = shard_group_pick_ready(s, r->group, topic_hash, e->hdr.partition, bytes);
	if (slot == SHARD_SLOT_NONE || !shard_sub_can_take(s, slot, bytes)) {
		return false;
	}
	int32_t ppos =
		shard_partition_find(s, e->topic, e->hdr.topic_len, e->hdr.partition, topic_hash);
	SL_ASSERT_HOT(ppos >= 0); /* entries of this journal: partitions of this shard */
	return shard_deliver_entry(s, slot, e, (uint32_t)ppos, r->attempt);
}

unsigned shard_redeliveries_poll(struct shard *s)
{
	if (s->redelivery_head == s->redelivery_tail) {
		return 0;
	}
	if (s->redelivery_cursor == SHARD_SLOT_NONE) {
		uint32_t i = shard_replay_free(s);
		if (i == SHARD_SLOT_NONE) {
			return 0; /* every cursor replays: the redeliveries wait */
		}
		s->replays[i].slot = SHARD_SLOT_REDELIVERY;
		s->redelivery_cursor = i;
		shard_redelivery_seek(s);
	}
	const struct shard_redelivery *r =
		&s->redeliveries[s->redelivery_head & (SHARD_REDELIVERIES_QUEUED - 1)];
	struct journal_entry e;
	int rc = journal_cursor_next(s->replays[s->redelivery_cursor].cursor, &e);
	if (rc == 0) {
		return 0; /* reading */
	}
	if (rc < 0) {
		shard_count(s, SL_STAT_REPLAY_FAILURES, 1);
		if (r->is_dead) {
			shard_count(s, SL_STAT_DEAD_LETTERS_LOST, 1);
		}
		shard_redelivery_pop(s);
		return 1;
	}
	if (r->is_dead) {
		shard_dead_letter_send(s, r, &e);
		shard_redelivery_pop(s);
		return 1;
	}
	if (shard_redelivery_send(s, r, &e)) {
		shard_redelivery_pop(s);
	} else {
		shard_redelivery_seek(s); /* no member can take it now: read it again later */
	}
	return 1;
}
