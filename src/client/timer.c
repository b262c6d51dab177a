/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The retransmit timers of in-flight batches: a binary min-heap on deadline_ns whose
 * entries remember their position, so an ack removes its batch in O(log n) and a poll
 * looks only at the batches that are due, however many are in flight.
 */
#include "client/client_int.h"

#include "core/assert.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int timer_heap_init(struct timer_heap *h, uint32_t cap)
{
	h->n = 0;
	h->cap = cap;
	h->v = calloc(cap, sizeof(*h->v));
	return h->v != NULL ? 0 : -ENOMEM;
}

void timer_heap_fini(struct timer_heap *h)
{
	free(h->v);
	memset(h, 0, sizeof(*h));
}

static void timer_heap_set(struct timer_heap *h, uint32_t i, struct batch *b)
{
	h->v[i] = b;
	b->heap_pos = i;
}

static void timer_heap_up(struct timer_heap *h, uint32_t i)
{
	struct batch *b = h->v[i];

	while (i > 0) {
		uint32_t parent = (i - 1) / 2;
		if (h->v[parent]->deadline_ns <= b->deadline_ns) {
			break;
		}
		timer_heap_set(h, i, h->v[parent]);
		i = parent;
	}
	timer_heap_set(h, i, b);
}

static void timer_heap_down(struct timer_heap *h, uint32_t i)
{
	struct batch *b = h->v[i];

	for (;;) {
		uint32_t child = 2 * i + 1;
		if (child >= h->n) {
			break;
		}
		if (child + 1 < h->n && h->v[child + 1]->deadline_ns < h->v[child]->deadline_ns) {
			child++;
		}
		if (b->deadline_ns <= h->v[child]->deadline_ns) {
			break;
		}
		timer_heap_set(h, i, h->v[child]);
		i = child;
	}
	timer_heap_set(h, i, b);
}

void timer_heap_push(struct timer_heap *h, struct batch *b)
{
	SL_ASSERT(h->n < h->cap);
	h->v[h->n] = b;
	b->heap_pos = h->n;
	h->n++;
	timer_heap_up(h, b->heap_pos);
}

void timer_heap_remove(struct timer_heap *h, struct batch *b)
{
	uint32_t i = b->heap_pos;
	struct batch *last;

	SL_ASSERT_HOT(i < h->n && h->v[i] == b);
	b->heap_pos = UINT32_MAX;
	h->n--;
	if (i == h->n) {
		return;
	}
	last = h->v[h->n];
	timer_heap_set(h, i, last);
	if (i > 0 && h->v[(i - 1) / 2]->deadline_ns > last->deadline_ns) {
		timer_heap_up(h, i);
	} else {
		timer_heap_down(h, i);
	}
}
