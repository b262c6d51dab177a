/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The recovered state of a shard's journal (journal/state.h): partitions and producer
 * streams in growable arrays, found through two open-addressing hash tables of array
 * indexes. Built by the start-up recovery, the segment indexer and the tools; never on a
 * shard loop, so it allocates freely.
 */
#include "journal/state.h"

#include "core/crc32c.h"
#include "journal/grow.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define STATE_TABLE_MIN 64u

/* Slots hold array index + 1; 0 is empty. Capacity is a power of two, at most half full. */
struct state_table {
	uint32_t *slots;
	uint32_t cap;
};

struct state_lookup {
	struct state_table parts;
	struct state_table streams;
	uint32_t parts_cap;
	uint32_t streams_cap;
};

static struct state_lookup *state_lookup(const struct journal_state *st)
{
	return st->lookup;
}

static uint32_t state_part_hash(const uint8_t *topic, uint8_t topic_len, uint32_t partition)
{
	return crc32c_extend(partition * 0x9e3779b9u, topic, topic_len);
}

static uint32_t state_stream_hash(uint64_t producer_id, uint32_t part)
{
	uint64_t k[2] = {producer_id, part};

	return crc32c_extend(0, k, sizeof(k));
}

static uint32_t state_part_hash_of(const struct journal_state *st, uint32_t i)
{
	const struct journal_state_partition *p = &st->parts[i];

	return state_part_hash(p->topic, p->topic_len, p->partition);
}

static uint32_t state_stream_hash_of(const struct journal_state *st, uint32_t i)
{
	return state_stream_hash(st->streams[i].producer_id, st->streams[i].part);
}

/* Fills a fresh table of `cap` slots with array indexes [0, n). */
static int state_table_fill(struct state_table *t, uint32_t cap, const struct journal_state *st,
			    uint32_t n, uint32_t (*hash_of)(const struct journal_state *, uint32_t))
{
	uint32_t *slots = calloc(cap, sizeof(*slots));

	if (slots == NULL) {
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint32_t h = hash_of(st, i) & (cap - 1);
		while (slots[h] != 0) {
			h = (h + 1) & (cap - 1);
		}
		slots[h] = i + 1;
	}
	free(t->slots);
	t->slots = slots;
	t->cap = cap;
	return 0;
}

/* Makes room in table t for n + 1 entries. */
static int state_table_reserve(struct state_table *t, const struct journal_state *st, uint32_t n,
			       uint32_t (*hash_of)(const struct journal_state *, uint32_t))
{
	uint32_t cap = t->cap < STATE_TABLE_MIN ? STATE_TABLE_MIN : t->cap;

	while ((uint64_t)(n + 1) * 2 > cap) {
		cap *= 2;
	}
	return cap == t->cap ? 0 : state_table_fill(t, cap, st, n, hash_of);
}

int journal_state_init(struct journal_state *st, uint32_t window, uint64_t idle_ns)
{
	memset(st, 0, sizeof(*st));
	if (window == 0) {
		return -EINVAL;
	}
	st->window = window;
	st->idle_ns = idle_ns;
	st->lookup = calloc(1, sizeof(struct state_lookup));
	return st->lookup == NULL ? -ENOMEM : 0;
}

void journal_state_free(struct journal_state *st)
{
	struct state_lookup *l = state_lookup(st);

	for (uint32_t i = 0; i < st->nstreams; i++) {
		free(st->streams[i].offsets);
	}
	if (l != NULL) {
		free(l->parts.slots);
		free(l->streams.slots);
		free(l);
	}
	free(st->parts);
	free(st->streams);
	memset(st, 0, sizeof(*st));
}

int32_t journal_state_find_part(const struct journal_state *st, const uint8_t *topic,
				uint8_t topic_len, uint32_t partition)
{
	const struct state_table *t = &state_lookup(st)->parts;

	if (t->cap == 0) {
		return -1;
	}
	for (uint32_t h = state_part_hash(topic, topic_len, partition) & (t->cap - 1);
	     t->slots[h] != 0; h = (h + 1) & (t->cap - 1)) {
		const struct journal_state_partition *p = &st->parts[t->slots[h] - 1];
		if (p->partition == partition && p->topic_len == topic_len &&
		    memcmp(p->topic, topic, topic_len) == 0) {
			return (int32_t)(t->slots[h] - 1);
		}
	}
	return -1;
}

static int32_t state_find_stream(const struct journal_state *st, uint64_t producer_id,
				 uint32_t part)
{
	const struct state_table *t = &state_lookup(st)->streams;

	if (t->cap == 0) {
		return -1;
	}
	for (uint32_t h = state_stream_hash(producer_id, part) & (t->cap - 1); t->slots[h] != 0;
	     h = (h + 1) & (t->cap - 1)) {
		const struct journal_state_stream *s = &st->streams[t->slots[h] - 1];
		if (s->producer_id == producer_id && s->part == part) {
			return (int32_t)(t->slots[h] - 1);
		}
	}
	return -1;
}

/* Inserts array index i into table t (room reserved). */
static void state_table_insert(struct state_table *t, uint32_t hash, uint32_t i)
{
	uint32_t h = hash & (t->cap - 1);

	while (t->slots[h] != 0) {
		h = (h + 1) & (t->cap - 1);
	}
	t->slots[h] = i + 1;
}

static int32_t state_add_part(struct journal_state *st, const uint8_t *topic, uint8_t topic_len,
			      uint32_t partition)
{
	struct state_lookup *l = state_lookup(st);

	if (state_table_reserve(&l->parts, st, st->nparts, state_part_hash_of) != 0 ||
	    journal_array_grow((void **)&st->parts, &l->parts_cap, st->nparts,
			       sizeof(*st->parts)) != 0) {
		return -ENOMEM;
	}
	struct journal_state_partition *p = &st->parts[st->nparts];
	memset(p, 0, sizeof(*p));
	p->partition = partition;
	p->topic_len = topic_len;
	memcpy(p->topic, topic, topic_len);
	state_table_insert(&l->parts, state_part_hash(topic, topic_len, partition), st->nparts);
	return (int32_t)st->nparts++;
}

static int32_t state_add_stream(struct journal_state *st, uint64_t producer_id, uint32_t part)
{
	struct state_lookup *l = state_lookup(st);

	if (state_table_reserve(&l->streams, st, st->nstreams, state_stream_hash_of) != 0 ||
	    journal_array_grow((void **)&st->streams, &l->streams_cap, st->nstreams,
			       sizeof(*st->streams)) != 0) {
		return -ENOMEM;
	}
	uint64_t *offsets = calloc(st->window, sizeof(*offsets));
	if (offsets == NULL) {
		return -ENOMEM;
	}
	st->streams[st->nstreams] = (struct journal_state_stream){
		.producer_id = producer_id, .part = part, .offsets = offsets};
	state_table_insert(&l->streams, state_stream_hash(producer_id, part), st->nstreams);
	return (int32_t)st->nstreams++;
}

/* Stream of entry h (partition index part), created when new; NULL on -ENOMEM. *fresh:
 * it starts at this entry. */
static struct journal_state_stream *state_stream_of(struct journal_state *st,
						    const struct journal_entry_header *h,
						    uint32_t part, bool *fresh)
{
	int32_t i = state_find_stream(st, h->producer_id, part);

	*fresh = i < 0;
	if (i < 0) {
		i = state_add_stream(st, h->producer_id, part);
		if (i < 0) {
			return NULL;
		}
	}
	struct journal_state_stream *s = &st->streams[i];
	/* Silent longer than idle_ns: the shard forgot it, and only a stream head could have
	 * started it again. */
	if (!*fresh &&
	    (h->producer_epoch > s->epoch || (st->idle_ns != 0 && h->append_ns > s->last_ns &&
					      h->append_ns - s->last_ns > st->idle_ns))) {
		*fresh = true;
	}
	return s;
}

int journal_state_apply(struct journal_state *st, const struct journal_entry *e)
{
	const struct journal_entry_header *h = &e->hdr;
	int32_t part = journal_state_find_part(st, e->topic, h->topic_len, h->partition);
	bool fresh;

	if (part < 0) {
		part = state_add_part(st, e->topic, h->topic_len, h->partition);
		if (part < 0) {
			return -ENOMEM;
		}
	}
	struct journal_state_partition *p = &st->parts[part];
	if (h->base_offset + h->record_count > p->next_offset) {
		p->next_offset = h->base_offset + h->record_count;
	}
	struct journal_state_stream *s = state_stream_of(st, h, (uint32_t)part, &fresh);
	if (s == NULL) {
		return -ENOMEM;
	}
	if (fresh) {
		s->epoch = h->producer_epoch;
		s->first_sequence = h->sequence;
		s->next_sequence = h->sequence;
		s->last_ns = h->append_ns;
	}
	/* The journal holds appends in the order they were made: an entry behind its
	 * stream cannot have been appended by the shard's rules, so it changes nothing. */
	if (h->producer_epoch < s->epoch || h->sequence < s->next_sequence) {
		return 0;
	}
	if (h->sequence > s->next_sequence) {
		s->first_sequence = h->sequence;
	}
	s->next_sequence = h->sequence + 1;
	s->offsets[h->sequence % st->window] = h->base_offset;
	if (h->append_ns > s->last_ns) {
		s->last_ns = h->append_ns;
	}
	return 0;
}

void journal_state_prune(struct journal_state *st, uint64_t now_ns)
{
	struct state_lookup *l = state_lookup(st);
	uint32_t kept = 0;

	if (st->idle_ns == 0 || now_ns < st->idle_ns) {
		return;
	}
	for (uint32_t i = 0; i < st->nstreams; i++) {
		if (st->streams[i].last_ns < now_ns - st->idle_ns) {
			free(st->streams[i].offsets);
			continue;
		}
		st->streams[kept++] = st->streams[i];
	}
	if (kept == st->nstreams) {
		return;
	}
	st->nstreams = kept;
	/* Rebuilt in place at the same size: nothing to allocate, so nothing can fail. */
	memset(l->streams.slots, 0, (size_t)l->streams.cap * sizeof(*l->streams.slots));
	for (uint32_t i = 0; i < kept; i++) {
		state_table_insert(&l->streams, state_stream_hash_of(st, i), i);
	}
}

int journal_state_copy(struct journal_state *dst, const struct journal_state *src)
{
	int rc = journal_state_init(dst, src->window, src->idle_ns);

	for (uint32_t i = 0; rc == 0 && i < src->nparts; i++) {
		const struct journal_state_partition *p = &src->parts[i];
		int32_t k = state_add_part(dst, p->topic, p->topic_len, p->partition);
		if (k < 0) {
			rc = -ENOMEM;
			break;
		}
		dst->parts[k].next_offset = p->next_offset;
	}
	for (uint32_t i = 0; rc == 0 && i < src->nstreams; i++) {
		const struct journal_state_stream *s = &src->streams[i];
		int32_t k = state_add_stream(dst, s->producer_id, s->part);
		if (k < 0) {
			rc = -ENOMEM;
			break;
		}
		uint64_t *offsets = dst->streams[k].offsets;
		dst->streams[k] = *s;
		dst->streams[k].offsets = offsets;
		memcpy(offsets, s->offsets, (size_t)src->window * sizeof(*offsets));
	}
	if (rc != 0) {
		journal_state_free(dst);
	}
	return rc;
}

/* Moves the offsets of stream s from `from` (old layout) into `to` (window slots). */
static void state_rewindow(struct journal_state_stream *s, uint64_t *to, uint32_t old,
			   uint32_t window)
{
	uint32_t keep = old < window ? old : window;
	uint64_t from = s->next_sequence - s->first_sequence > keep ? s->next_sequence - keep
								    : s->first_sequence;

	for (uint64_t q = from; q < s->next_sequence; q++) {
		to[q % window] = s->offsets[q % old];
	}
	/* What the old window forgot stays forgotten in a larger one. */
	s->first_sequence = from;
	free(s->offsets);
	s->offsets = to;
}

int journal_state_set_window(struct journal_state *st, uint32_t window)
{
	uint64_t **fresh;
	int rc = 0;

	if (window == 0) {
		return -EINVAL;
	}
	if (window == st->window || st->nstreams == 0) {
		st->window = window;
		return 0;
	}
	/* Everything is allocated first: a failure leaves the state as it was. */
	fresh = calloc(st->nstreams, sizeof(*fresh));
	if (fresh == NULL) {
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < st->nstreams && rc == 0; i++) {
		fresh[i] = calloc(window, sizeof(uint64_t));
		rc = fresh[i] == NULL ? -ENOMEM : 0;
	}
	for (uint32_t i = 0; i < st->nstreams; i++) {
		if (rc != 0) {
			free(fresh[i]);
		} else {
			state_rewindow(&st->streams[i], fresh[i], st->window, window);
		}
	}
	free(fresh);
	if (rc == 0) {
		st->window = window;
	}
	return rc;
}

int32_t journal_state_get_part(struct journal_state *st, const uint8_t *topic, uint8_t topic_len,
			       uint32_t partition)
{
	int32_t i = journal_state_find_part(st, topic, topic_len, partition);

	return i >= 0 ? i : state_add_part(st, topic, topic_len, partition);
}

/* ---- Stored form ---- */

struct state_head {
	uint32_t window;
	uint32_t nparts;
	uint32_t nstreams;
	uint32_t reserved;
	uint64_t idle_ns;
};

/* A stored stream; its window base offsets follow. */
struct state_stream_rec {
	uint64_t producer_id;
	uint64_t first_sequence;
	uint64_t next_sequence;
	uint64_t last_ns;
	uint32_t part;
	uint32_t epoch;
};

static_assert(sizeof(struct state_head) == 24, "index layout");
static_assert(sizeof(struct journal_state_partition) == 272, "index layout");
static_assert(sizeof(struct state_stream_rec) == 40, "index layout");

/* Bytes of a stored partition that carry data; the rest is zero padding. */
#define STATE_PART_DATA_BYTES (offsetof(struct journal_state_partition, topic) + 255u)

static uint64_t state_stream_bytes(uint32_t window)
{
	return sizeof(struct state_stream_rec) + (uint64_t)window * sizeof(uint64_t);
}

uint64_t journal_state_encoded_bytes(const struct journal_state *st)
{
	return sizeof(struct state_head) +
	       (uint64_t)st->nparts * sizeof(struct journal_state_partition) +
	       (uint64_t)st->nstreams * state_stream_bytes(st->window);
}

void journal_state_encode(const struct journal_state *st, void *dst)
{
	uint8_t *p = dst;
	struct state_head head = {.window = st->window,
				  .nparts = st->nparts,
				  .nstreams = st->nstreams,
				  .idle_ns = st->idle_ns};

	memcpy(p, &head, sizeof(head));
	p += sizeof(head);
	for (uint32_t i = 0; i < st->nparts; i++) {
		memset(p, 0, sizeof(struct journal_state_partition));
		memcpy(p, &st->parts[i], STATE_PART_DATA_BYTES);
		p += sizeof(struct journal_state_partition);
	}
	for (uint32_t i = 0; i < st->nstreams; i++) {
		const struct journal_state_stream *s = &st->streams[i];
		struct state_stream_rec rec = {.producer_id = s->producer_id,
					       .first_sequence = s->first_sequence,
					       .next_sequence = s->next_sequence,
					       .last_ns = s->last_ns,
					       .part = s->part,
					       .epoch = s->epoch};
		memcpy(p, &rec, sizeof(rec));
		memcpy(p + sizeof(rec), s->offsets, (size_t)st->window * sizeof(uint64_t));
		p += state_stream_bytes(st->window);
	}
}

static bool state_topic_is_valid(const struct journal_state_partition *p)
{
	if (p->topic_len == 0) {
		return false;
	}
	for (unsigned i = p->topic_len; i < sizeof(p->topic); i++) {
		if (p->topic[i] != 0) {
			return false;
		}
	}
	return true;
}

static int state_decode_parts(const uint8_t *p, struct journal_state *st, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		struct journal_state_partition rec;
		memcpy(&rec, p + (size_t)i * sizeof(rec), sizeof(rec));
		if (!state_topic_is_valid(&rec) ||
		    journal_state_find_part(st, rec.topic, rec.topic_len, rec.partition) >= 0) {
			return -EPROTO;
		}
		int32_t k = state_add_part(st, rec.topic, rec.topic_len, rec.partition);
		if (k < 0) {
			return -ENOMEM;
		}
		st->parts[k].next_offset = rec.next_offset;
	}
	return 0;
}

static int state_decode_streams(const uint8_t *p, struct journal_state *st, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		struct state_stream_rec rec;
		const uint8_t *q = p + (uint64_t)i * state_stream_bytes(st->window);
		memcpy(&rec, q, sizeof(rec));
		if (rec.part >= st->nparts || rec.first_sequence > rec.next_sequence ||
		    state_find_stream(st, rec.producer_id, rec.part) >= 0) {
			return -EPROTO;
		}
		int32_t k = state_add_stream(st, rec.producer_id, rec.part);
		if (k < 0) {
			return -ENOMEM;
		}
		struct journal_state_stream *s = &st->streams[k];
		s->first_sequence = rec.first_sequence;
		s->next_sequence = rec.next_sequence;
		s->last_ns = rec.last_ns;
		s->epoch = rec.epoch;
		memcpy(s->offsets, q + sizeof(rec), (size_t)st->window * sizeof(uint64_t));
	}
	return 0;
}

int journal_state_decode(const void *buf, uint64_t len, struct journal_state *out)
{
	const uint8_t *p = buf;
	struct state_head head;
	int rc;

	memset(out, 0, sizeof(*out));
	if (len < sizeof(head)) {
		return -EPROTO;
	}
	memcpy(&head, p, sizeof(head));
	if (head.window == 0 || head.window > JOURNAL_STATE_WINDOW_MAX || head.reserved != 0 ||
	    len != sizeof(head) + (uint64_t)head.nparts * sizeof(struct journal_state_partition) +
			    (uint64_t)head.nstreams * state_stream_bytes(head.window)) {
		return -EPROTO;
	}
	rc = journal_state_init(out, head.window, head.idle_ns);
	if (rc == 0) {
		rc = state_decode_parts(p + sizeof(head), out, head.nparts);
	}
	if (rc == 0) {
		rc = state_decode_streams(p + sizeof(head) +
						  (uint64_t)head.nparts *
							  sizeof(struct journal_state_partition),
					  out, head.nstreams);
	}
	if (rc != 0) {
		journal_state_free(out);
	}
	return rc;
}
