/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Dead letters. A batch not acknowledged after --max-redeliveries is read back from the
 * journal (through the redelivery cursor, like a group redelivery) and produced to the
 * dead-letter topic of its subscription: `_dead.<group>` for a consumer group,
 * `_dead.<subscriber id, 16 hex digits>` otherwise. The shard builds an ordinary PRODUCE
 * frame (acks none, stream head, a producer id of its own) and hands it to the same
 * routing a received PRODUCE takes, so the dead letter is appended by the owner of its
 * partition, journaled, given offsets and delivered like any batch. Its first record
 * says where the batch came from; the original records follow unchanged. A batch that
 * does not fit one frame with that record is split, each part saying which offsets it
 * holds.
 */
#include "shard/shard_int.h"

#include "core/assert.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

bool shard_is_dead_letter(const struct sl_wire_header *h)
{
	return h->type == SL_WIRE_PRODUCE &&
	       (h->producer_id & ~(uint64_t)UINT16_MAX) == SHARD_DEAD_LETTER_PRODUCER_ID;
}

void shard_dead_letters_init(struct shard *s)
{
	s->dead_letter_sequence = shard_clock_realtime_ns();
}

void shard_dead_letter_queue(struct shard *s, uint64_t position, uint32_t group,
			     uint64_t subscriber_id)
{
	shard_count(s, SL_STAT_DEAD_LETTERS, 1);
	if (s->redelivery_tail - s->redelivery_head == SHARD_REDELIVERIES_QUEUED) {
		shard_count(s, SL_STAT_DEAD_LETTERS_LOST, 1);
		return;
	}
	struct shard_redelivery *r =
		&s->redeliveries[s->redelivery_tail++ & (SHARD_REDELIVERIES_QUEUED - 1)];
	*r = (struct shard_redelivery){
		.position = position,
		.subscriber_id = subscriber_id,
		.group = group,
		.group_epoch = group == SHARD_SLOT_NONE ? 0 : s->groups[group].epoch,
		.is_dead = true,
	};
	if (group != SHARD_SLOT_NONE) {
		r->group_name_len = s->groups[group].name_len;
		memcpy(r->group_name, s->groups[group].name, r->group_name_len);
	}
}

/* Writes the dead-letter topic of r into name[] (room for SL_WIRE_TOPIC_BYTES_MAX + 1);
 * returns its length. */
static uint8_t shard_dead_letter_topic(const struct shard_redelivery *r, char *name)
{
	int n;

	if (r->group_name_len > 0) {
		n = snprintf(name, SL_WIRE_TOPIC_BYTES_MAX + 1, SL_WIRE_DEAD_LETTER_PREFIX "%.*s",
			     (int)r->group_name_len, (const char *)r->group_name);
	} else {
		n = snprintf(name, SL_WIRE_TOPIC_BYTES_MAX + 1,
			     SL_WIRE_DEAD_LETTER_PREFIX "%016" PRIx64, r->subscriber_id);
	}
	SL_ASSERT(n > 0 && n <= (int)SL_WIRE_TOPIC_BYTES_MAX); /* prefix + 64 bytes at most */
	return (uint8_t)n;
}

/* The origin record's value for `count` records of e from `offset` on; its length. */
static uint32_t shard_dead_letter_origin(const struct shard *s, const struct journal_entry *e,
					 uint64_t offset, uint32_t count, char *buf, size_t cap)
{
	int n = snprintf(buf, cap,
			 "topic=%.*s partition=%" PRIu32 " offset=%" PRIu64 " records=%" PRIu32
			 " deliveries=%u",
			 (int)e->hdr.topic_len, (const char *)e->topic, e->hdr.partition, offset,
			 count, (unsigned)s->redeliveries_max + 1);
	SL_ASSERT(n > 0 && (size_t)n < cap);
	return (uint32_t)n;
}

/* Bytes of the origin record at most (every number at its widest). */
static uint32_t shard_dead_letter_origin_bytes_max(uint8_t topic_len)
{
	return wire_record_bytes(SHARD_DEAD_LETTER_KEY_BYTES, SHARD_DEAD_LETTER_ORIGIN_BYTES_MAX -
								      SL_WIRE_TOPIC_BYTES_MAX +
								      topic_len);
}

/* Builds and routes one dead-letter frame of topic[0..topic_len): the origin record,
 * then the `count` records of e's body starting at *it (moved past them). */
static void shard_dead_letter_frame(struct shard *s, const struct journal_entry *e,
				    const char *topic, uint8_t topic_len, uint32_t partition,
				    struct wire_record_iter *it, uint64_t offset, uint32_t count)
{
	char origin[SHARD_DEAD_LETTER_ORIGIN_BYTES_MAX + 1];
	struct sl_wire_header h;
	struct wire_builder b;
	struct wire_record rec;
	struct wire_frame f;

	struct rte_mbuf *m = rte_pktmbuf_alloc(s->pool);
	if (m == NULL) {
		shard_count(s, SL_STAT_DROP_NOMBUF, 1);
		shard_count(s, SL_STAT_DEAD_LETTERS_LOST, 1);
		for (uint32_t i = 0; i < count; i++) {
			(void)wire_record_next(it, &rec);
		}
		return;
	}
	wire_header_init(&h, SL_WIRE_PRODUCE);
	h.producer_id = SHARD_DEAD_LETTER_PRODUCER_ID | s->index;
	h.producer_epoch = 1;
	/* A stream head with a sequence from the clock (shard_dead_letters_init()): the
	 * stream may start or skip ahead at every frame, and sequences grow across restarts,
	 * so no dead letter is ever mistaken for a duplicate. */
	h.sequence = s->dead_letter_sequence++;
	h.partition = partition;
	h.ack_level = SL_ACKS_NONE;
	h.flags = SL_WIRE_FLAG_STREAM_HEAD;
	/* Sizes were checked by the caller against frame_bytes_max: nothing below fails. */
	SL_ASSERT(rte_pktmbuf_tailroom(m) >= s->frame_bytes_max); /* pools hold frames */
	int rc = wire_begin(&b, rte_pktmbuf_mtod(m, void *), s->frame_bytes_max, &h, topic,
			    topic_len);
	uint32_t len = shard_dead_letter_origin(s, e, offset, count, origin, sizeof(origin));
	rc |= wire_add_record(&b, SL_WIRE_DEAD_LETTER_KEY, SHARD_DEAD_LETTER_KEY_BYTES, origin, len,
			      s->now_ns);
	for (uint32_t i = 0; i < count; i++) {
		bool more = wire_record_next(it, &rec);
		SL_ASSERT(more);
		rc |= wire_add_record(&b, rec.key, rec.key_len, rec.value, rec.value_len,
				      rec.timestamp_ns);
	}
	SL_ASSERT(rc == 0);
	uint32_t frame_len = wire_finish(&b);
	m->data_len = (uint16_t)frame_len;
	m->pkt_len = frame_len;
	memset(netdev_mbuf_peer(m), 0, sizeof(struct netdev_peer));
	shard_frame_trusted(m, &f);
	shard_count(s, SL_STAT_DEAD_LETTERS_SENT, 1);
	shard_route_produce(s, m, &f);
}

void shard_dead_letter_send(struct shard *s, const struct shard_redelivery *r,
			    const struct journal_entry *e)
{
	char topic[SL_WIRE_TOPIC_BYTES_MAX + 1];
	uint8_t body[SL_WIRE_FRAME_BYTES_MAX];
	struct wire_record_iter it;
	struct wire_record rec;

	uint8_t topic_len = shard_dead_letter_topic(r, topic);
	uint32_t partitions = route_partitions(s->env->routes, (const uint8_t *)topic, topic_len);
	if (partitions == 0) {
		/* --no-auto-create and no --topic for it: nowhere to write. */
		shard_count(s, SL_STAT_DEAD_LETTERS_LOST, 1);
		return;
	}
	/* The entry's bytes may be recycled by the appends below: the records are copied. */
	uint32_t overhead =
		wire_prefix_bytes(topic_len) + shard_dead_letter_origin_bytes_max(e->hdr.topic_len);
	if (overhead >= s->frame_bytes_max) {
		shard_count(s, SL_STAT_DEAD_LETTERS_LOST, 1);
		return;
	}
	SL_ASSERT(e->body_len <= sizeof(body));
	memcpy(body, e->body, e->body_len);
	struct journal_entry copy = *e;
	copy.body = body;
	wire_record_iter_init_body(&it, body, e->body_len);
	struct wire_record_iter scan = it;
	uint32_t room_max = s->frame_bytes_max - overhead;
	uint64_t offset = e->hdr.base_offset;
	uint32_t count = 0;
	uint32_t room = room_max;
	/* Consecutive records as long as they fit one frame with the origin record. */
	while (wire_record_next(&scan, &rec)) {
		uint32_t bytes = wire_record_bytes(rec.key_len, rec.value_len);
		if (bytes > room && count > 0) {
			shard_dead_letter_frame(s, &copy, topic, topic_len,
						e->hdr.partition % partitions, &it, offset, count);
			offset += count;
			count = 0;
			room = room_max;
		}
		if (bytes > room) {
			/* One record too large for a frame with the origin record. */
			shard_count(s, SL_STAT_DEAD_LETTERS_LOST, 1);
			return;
		}
		room -= bytes;
		count++;
	}
	shard_dead_letter_frame(s, &copy, topic, topic_len, e->hdr.partition % partitions, &it,
				offset, count);
}
