/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The map from (stream, sequence) to the sealed batch carrying it. Every ACK and NACK
 * echoes topic, partition and sequence; this finds the batch in O(1) even when acks
 * arrive out of order after losses. Linear probing with backward-shift deletion, sized
 * at start for the pool's bound, so it never grows.
 */
#include "client/client_int.h"

#include "core/assert.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint32_t seqmap_hash(uint32_t stream_id, uint64_t sequence)
{
	/* splitmix64 finaliser over both halves of the key. */
	uint64_t x = sequence ^ ((uint64_t)stream_id << 40) ^ ((uint64_t)stream_id >> 24);
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return (uint32_t)x;
}

static uint32_t seqmap_home(const struct seqmap *m, const struct batch *b)
{
	return seqmap_hash(b->stream->id, b->sequence) & m->mask;
}

int seqmap_init(struct seqmap *m, uint32_t batches_max)
{
	uint32_t size = 16;

	while (size < 2 * (uint64_t)batches_max) {
		size *= 2;
	}
	m->mask = size - 1;
	m->n = 0;
	m->slot = calloc(size, sizeof(*m->slot));
	return m->slot != NULL ? 0 : -ENOMEM;
}

void seqmap_fini(struct seqmap *m)
{
	free(m->slot);
	memset(m, 0, sizeof(*m));
}

void seqmap_insert(struct seqmap *m, struct batch *b)
{
	uint32_t i = seqmap_home(m, b);

	SL_ASSERT(m->n < m->mask);
	while (m->slot[i] != NULL) {
		SL_ASSERT_HOT(m->slot[i] != b);
		i = (i + 1) & m->mask;
	}
	m->slot[i] = b;
	m->n++;
}

struct batch *seqmap_find(const struct seqmap *m, uint32_t stream_id, uint64_t sequence)
{
	uint32_t i = seqmap_hash(stream_id, sequence) & m->mask;

	for (;;) {
		struct batch *b = m->slot[i];
		if (b == NULL) {
			return NULL;
		}
		if (b->sequence == sequence && b->stream->id == stream_id) {
			return b;
		}
		i = (i + 1) & m->mask;
	}
}

void seqmap_remove(struct seqmap *m, struct batch *b)
{
	uint32_t i = seqmap_home(m, b);

	while (m->slot[i] != b) {
		SL_ASSERT_HOT(m->slot[i] != NULL);
		i = (i + 1) & m->mask;
	}
	/* Backward shift: pull later entries of the cluster into the gap when their home
	 * slot does not lie cyclically in (gap, j]. */
	uint32_t gap = i;
	uint32_t j = i;
	for (;;) {
		j = (j + 1) & m->mask;
		struct batch *e = m->slot[j];
		if (e == NULL) {
			break;
		}
		uint32_t home = seqmap_home(m, e);
		bool stays = gap <= j ? (gap < home && home <= j) : (gap < home || home <= j);
		if (!stays) {
			m->slot[gap] = e;
			gap = j;
		}
	}
	m->slot[gap] = NULL;
	m->n--;
}
