/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Start offsets on the shard. A SUBSCRIBE at `offsets` lists (partition, offset) pairs of
 * one topic; every shard keeps those of the partitions it owns, for the reader (the
 * subscription, or the group its first member created) while it first replays, in a
 * pool sized at creation. The replay code asks shard_start_admits() of every entry the
 * reader's pattern matches: listed partitions from their offsets on, the others from the
 * fallback on.
 */
#include "shard/shard_int.h"

#include "core/assert.h"
#include "journal/cursor.h"

#include <rte_malloc.h>

#include <errno.h>
#include <string.h>

int shard_starts_create(struct shard *s, int socket)
{
	s->start_offsets = rte_malloc_socket(
		"shard_start_offsets", (size_t)SHARD_START_OFFSETS_POOL * sizeof(*s->start_offsets),
		0, socket);
	if (s->start_offsets == NULL) {
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < SHARD_START_OFFSETS_POOL; i++) {
		s->start_offsets[i].next =
			i + 1 < SHARD_START_OFFSETS_POOL ? i + 1 : SHARD_SLOT_NONE;
	}
	s->start_offsets_free = 0;
	return 0;
}

void shard_starts_destroy(struct shard *s)
{
	rte_free(s->start_offsets);
	s->start_offsets = NULL;
}

void shard_start_release(struct shard *s, struct shard_start *st)
{
	while (st->first != SHARD_SLOT_NONE) {
		uint32_t i = st->first;
		st->first = s->start_offsets[i].next;
		s->start_offsets[i].next = s->start_offsets_free;
		s->start_offsets_free = i;
	}
	st->is_active = false;
}

/* Adds (partition_slot, offset) to the list of st. False when the pool is empty. */
static bool shard_start_push(struct shard *s, struct shard_start *st, uint32_t partition_slot,
			     uint32_t partition, uint64_t offset)
{
	uint32_t i = s->start_offsets_free;

	if (i == SHARD_SLOT_NONE) {
		return false;
	}
	s->start_offsets_free = s->start_offsets[i].next;
	s->start_offsets[i] = (struct shard_start_offset){.offset = offset,
							  .partition_slot = partition_slot,
							  .partition = partition,
							  .next = st->first};
	st->first = i;
	return true;
}

int shard_start_init(struct shard *s, struct shard_start *st, const struct wire_subscribe *sub)
{
	const uint8_t *topic = sub->offsets_topic;
	uint8_t topic_len = sub->params.offsets_topic_len;
	uint32_t topic_hash = route_topic_hash(topic, topic_len);

	SL_ASSERT(sub->params.start == SL_START_OFFSETS && s->journal != NULL);
	*st = (struct shard_start){
		.from_position = sub->params.start_fallback == SL_START_EARLIEST
					 ? 0
					 : journal_appended_end(s->journal),
		.until_position = journal_appended_end(s->journal),
		.first = SHARD_SLOT_NONE,
		.is_active = true,
		.topic_len = topic_len,
	};
	memcpy(st->topic, topic, topic_len);
	for (uint32_t i = 0; i < sub->params.offset_count; i++) {
		struct sl_wire_start_offset so;
		wire_start_offset_at(sub, i, &so);
		/* Not in the table: another shard's partition, or one with nothing appended
		 * yet (its end is 0, where every offset past the end starts). */
		int32_t ppos = shard_partition_find(s, topic, topic_len, so.partition, topic_hash);
		if (ppos < 0) {
			continue;
		}
		uint64_t end = s->partition_state[ppos].next_offset;
		if (!shard_start_push(s, st, (uint32_t)ppos, so.partition,
				      so.offset < end ? so.offset : end)) {
			shard_start_release(s, st);
			return -ENOSPC;
		}
	}
	return 0;
}

bool shard_start_admits(const struct shard *s, const struct shard_start *st,
			uint32_t partition_slot, const struct journal_entry *e)
{
	if (!st->is_active) {
		return true;
	}
	for (uint32_t i = st->first; i != SHARD_SLOT_NONE; i = s->start_offsets[i].next) {
		const struct shard_start_offset *so = &s->start_offsets[i];
		if (so->partition_slot == partition_slot) {
			return e->hdr.base_offset + e->hdr.record_count > so->offset;
		}
	}
	return e->hdr.position >= st->from_position;
}

bool shard_start_needs_replay(const struct shard_start *st)
{
	return st->from_position == 0 || st->first != SHARD_SLOT_NONE;
}

void shard_start_seek(struct shard *s, const struct shard_start *st, struct journal_cursor *c)
{
	const struct shard_start_offset *so =
		st->first == SHARD_SLOT_NONE ? NULL : &s->start_offsets[st->first];

	/* One listed partition and fallback latest: nothing before that partition's start
	 * entry is delivered, so the search can begin there. Otherwise the entries of
	 * several partitions interleave: read from the earliest and filter. */
	if (st->from_position == 0 || so == NULL || so->next != SHARD_SLOT_NONE) {
		journal_cursor_seek_earliest(c);
		return;
	}
	journal_cursor_seek_offset(c, st->topic, st->topic_len, so->partition, so->offset);
}
