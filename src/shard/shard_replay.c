/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Replay from the journal. A reader (struct shard_reader) reads the shard's journal
 * through a cursor of the shard's pool (made when the journal opens; when none is free
 * the reader waits, counted): a subscription that starts earliest, at a time or at
 * offsets; a consumer group that does (as its first member asked: its batches are shared
 * by the members, so the group reads once for all of them and hands each entry to the
 * member it picks); a live subscription of policy replay that ran out of credit, or
 * whose oldest unacked batch timed out. The cursor's entries are filtered by the
 * reader's pattern and start and sent within credit; once the cursor is caught up (it
 * handed out everything up to journal_appended_end()), the reader turns live in the same
 * loop iteration, so every later append is delivered live: no gap, no duplicate. While a
 * reader reads from the journal, live delivery passes it by.
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
		s->replays[i].reader = SHARD_SLOT_NONE;
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
		if (s->replays[i].reader == SHARD_SLOT_NONE) {
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

/* Puts waiting reader `reader` on cursor i, positioned where it asked. */
static void shard_replay_attach(struct shard *s, uint32_t reader, uint32_t i)
{
	struct shard_reader *r = shard_reader_of(s, reader);

	SL_ASSERT(r->mode == SHARD_READER_REPLAY_WAIT && s->replay_waiting > 0);
	s->replay_waiting--;
	s->replays[i].reader = reader;
	r->mode = SHARD_READER_REPLAYING;
	r->cursor = (uint16_t)i;
	shard_replay_seek(s, s->replays[i].cursor, (enum shard_seek)r->seek, r->seek_value,
			  &r->start);
}

void shard_replay_begin(struct shard *s, uint32_t reader, enum shard_seek seek, uint64_t value)
{
	struct shard_reader *r = shard_reader_of(s, reader);

	SL_ASSERT(s->journal != NULL && r->mode == SHARD_READER_LIVE);
	r->mode = SHARD_READER_REPLAY_WAIT;
	r->seek = (uint8_t)seek;
	r->seek_value = value;
	s->replay_waiting++;
	uint32_t i = shard_replay_free(s);
	if (i == SHARD_SLOT_NONE) {
		shard_count(s, SL_STAT_REPLAY_CURSOR_WAITS, 1);
		return;
	}
	shard_replay_attach(s, reader, i);
}

/* Takes reader `reader` off its cursor (or out of the wait for one): live again. */
static void shard_replay_detach(struct shard *s, uint32_t reader)
{
	struct shard_reader *r = shard_reader_of(s, reader);

	if (r->mode == SHARD_READER_REPLAY_WAIT) {
		s->replay_waiting--;
	} else if (r->mode == SHARD_READER_REPLAYING) {
		/* Reads in flight complete into the cursor; its next seek ignores them. */
		s->replays[r->cursor].reader = SHARD_SLOT_NONE;
	}
	r->mode = SHARD_READER_LIVE;
}

void shard_replay_end(struct shard *s, uint32_t reader)
{
	shard_replay_detach(s, reader);
	shard_start_release(s, &shard_reader_of(s, reader)->start);
}

void shard_replay_rewind(struct shard *s, uint32_t slot, uint64_t position)
{
	shard_replay_detach(s, slot);
	shard_replay_begin(s, slot, SHARD_SEEK_POSITION, position);
}

/* Hands free cursors to waiting groups first (few, and each serves several members). */
static void shard_group_replay_assign(struct shard *s)
{
	for (uint32_t g = 0; g < SHARD_GROUPS_MAX && s->replay_waiting > 0; g++) {
		if (s->groups[g].count == 0 ||
		    s->groups[g].reader.mode != SHARD_READER_REPLAY_WAIT) {
			continue;
		}
		uint32_t i = shard_replay_free(s);
		if (i == SHARD_SLOT_NONE) {
			return;
		}
		shard_replay_attach(s, s->subscriptions_max + g, i);
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
		if (s->sub_state[pos].reader.mode == SHARD_READER_REPLAY_WAIT) {
			shard_replay_attach(s, (uint32_t)pos, i);
		}
	}
}

/* True when the pattern of reader `reader` matches the topic of journal entry e. */
static bool shard_replay_pattern_matches(const struct shard *s, uint32_t reader,
					 const struct journal_entry *e)
{
	if (reader < s->subscriptions_max) {
		const struct shard_sub *sub = &s->sub_state[reader];
		return wire_pattern_matches(sub->pattern, sub->pattern_len, e->topic,
					    e->hdr.topic_len);
	}
	const struct shard_group *grp = &s->groups[reader - s->subscriptions_max];
	return wire_pattern_matches(grp->pattern, grp->pattern_len, e->topic, e->hdr.topic_len);
}

/* The partition slot of journal entry e when reader `reader` takes it (its pattern
 * matches, its start admits it), else -1. */
static int32_t shard_replay_match(struct shard *s, uint32_t reader, const struct journal_entry *e)
{
	if (!shard_replay_pattern_matches(s, reader, e)) {
		return -1;
	}
	/* Entries of this shard's journal are of partitions it owns: in its table. */
	int32_t ppos = shard_partition_find(s, e->topic, e->hdr.topic_len, e->hdr.partition,
					    route_topic_hash(e->topic, e->hdr.topic_len));
	SL_ASSERT_HOT(ppos >= 0);
	const struct shard_start *st = &shard_reader_of(s, reader)->start;
	return shard_start_admits(s, st, (uint32_t)ppos, e) ? ppos : -1;
}

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

/* True when reader `reader` can be sent the largest DELIVER: the entry's size is known
 * only once it is taken, and a taken entry must be sent. */
static bool shard_replay_has_room(const struct shard *s, uint32_t reader)
{
	if (reader < s->subscriptions_max) {
		return shard_sub_can_take(s, reader, s->frame_bytes_max);
	}
	return shard_group_has_room(s, reader - s->subscriptions_max);
}

/*
 * Sends entry e of partition slot ppos to reader `reader`: a subscription gets it; a
 * group gives it to the member shard_group_pick_ready() names. False when it could not
 * be sent now (no member can take it, or no mbuf): the entry is read again next time, so
 * a group's members get every batch from its start exactly once, in order.
 */
static bool shard_replay_send(struct shard *s, uint32_t reader, const struct journal_entry *e,
			      int32_t ppos)
{
	if (reader < s->subscriptions_max) {
		return shard_deliver_entry(s, reader, e, (uint32_t)ppos, 0);
	}
	uint32_t topic_hash = route_topic_hash(e->topic, e->hdr.topic_len);
	uint32_t bytes = wire_deliver_head_bytes(e->hdr.topic_len) + e->body_len;
	uint32_t slot = shard_group_pick_ready(s, reader - s->subscriptions_max, topic_hash,
					       e->hdr.partition, bytes);
	SL_ASSERT_HOT(slot != SHARD_SLOT_NONE); /* a group with no member is freed */
	return shard_sub_can_take(s, slot, bytes) &&
	       shard_deliver_entry(s, slot, e, (uint32_t)ppos, 0);
}

/* Reader `reader` caught up (or its cursor failed): live from the next append on. A
 * subscription keeps its start offsets while a batch it was sent from before its start's
 * end is unacknowledged: an ack timeout rewinds it to that batch, and the rewind must
 * skip what the start excluded (shard_ack.c releases them once acks pass that end). */
static void shard_replay_caught_up(struct shard *s, uint32_t reader)
{
	const struct shard_reader *r = shard_reader_of(s, reader);

	if (reader < s->subscriptions_max && r->start.is_active &&
	    shard_inflight_before(s, reader, r->start.until_position)) {
		shard_replay_detach(s, reader);
		return;
	}
	shard_replay_end(s, reader);
}

/* Reads on for the reader on cursor i, at most a burst of entries, filtered by its
 * pattern and start. */
static unsigned shard_replay_step(struct shard *s, uint32_t i)
{
	uint32_t reader = s->replays[i].reader;
	struct journal_cursor *c = s->replays[i].cursor;
	unsigned handled = 0;

	while (handled < s->burst && shard_replay_has_room(s, reader)) {
		struct journal_entry e;
		uint64_t at = journal_cursor_position(c);
		int rc = journal_cursor_next(c, &e);
		if (rc == 0) {
			if (journal_cursor_caught_up(c)) {
				shard_replay_caught_up(s, reader);
			}
			break;
		}
		if (rc < 0) {
			/* Damage or a missing segment: the cursor refuses to go on (logged by
			 * nothing on this lcore; the counter says it). The reader turns live:
			 * what lay beyond the damage is not delivered. */
			shard_count(s, SL_STAT_REPLAY_FAILURES, 1);
			shard_replay_caught_up(s, reader);
			break;
		}
		handled++;
		int32_t ppos = shard_replay_match(s, reader, &e);
		if (ppos < 0) {
			continue;
		}
		if (!shard_replay_send(s, reader, &e, ppos)) {
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
		uint32_t reader = s->replays[i].reader;
		if (reader != SHARD_SLOT_NONE && reader != SHARD_SLOT_REDELIVERY) {
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
	s->replays[s->redelivery_cursor].reader = SHARD_SLOT_NONE;
	s->redelivery_cursor = SHARD_SLOT_NONE;
}

/* A queued redelivery for a group that is gone (not a dead letter, which still goes to
 * the group's dead-letter topic): nobody is left to receive it. */
static bool shard_redelivery_is_orphan(const struct shard *s, const struct shard_redelivery *r)
{
	if (r->is_dead) {
		return false;
	}
	const struct shard_group *grp = &s->groups[r->group];
	return grp->count == 0 || grp->epoch != r->group_epoch;
}

/* Sends the batch of the oldest queued redelivery, read as e, to a member of its group
 * that can take it. False when none can now (it is read again next time). */
static bool shard_redelivery_send(struct shard *s, const struct shard_redelivery *r,
				  const struct journal_entry *e)
{
	if (shard_redelivery_is_orphan(s, r)) {
		shard_count(s, SL_STAT_REDELIVERIES_ORPHANED, 1); /* went while it was read */
		return true;
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
	/* Orphans go without a read, and without taking a cursor a replay may need. */
	while (s->redelivery_head != s->redelivery_tail &&
	       s->redelivery_cursor == SHARD_SLOT_NONE &&
	       shard_redelivery_is_orphan(
		       s, &s->redeliveries[s->redelivery_head & (SHARD_REDELIVERIES_QUEUED - 1)])) {
		s->redelivery_head++;
		shard_count(s, SL_STAT_REDELIVERIES_ORPHANED, 1);
	}
	if (s->redelivery_head == s->redelivery_tail) {
		return 0;
	}
	if (s->redelivery_cursor == SHARD_SLOT_NONE) {
		uint32_t i = shard_replay_free(s);
		if (i == SHARD_SLOT_NONE) {
			return 0; /* every cursor replays: the redeliveries wait */
		}
		s->replays[i].reader = SHARD_SLOT_REDELIVERY;
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
