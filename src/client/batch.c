/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Batches: the producer's unit of sending, retransmitting and acknowledging. A batch
 * owns one frame buffer that is encoded once as events arrive and kept until the router
 * acknowledges it, so a retransmit only rewrites the header's sequence, flags and CRC.
 * The pool grows in chunks up to a bound and never frees before destroy: no allocation
 * per event or per batch in steady state.
 */
#include "client/client_int.h"

#include "core/assert.h"
#include "core/crc32c.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void batch_list_push(struct batch_list *l, struct batch *b, enum batch_link_kind kind)
{
	struct batch_link *lk = &b->link[kind];

	lk->next = NULL;
	lk->prev = l->tail;
	if (l->tail != NULL) {
		l->tail->link[kind].next = b;
	} else {
		l->head = b;
	}
	l->tail = b;
	l->n++;
}

void batch_list_remove(struct batch_list *l, struct batch *b, enum batch_link_kind kind)
{
	struct batch_link *lk = &b->link[kind];

	SL_ASSERT_HOT(l->n > 0);
	if (lk->prev != NULL) {
		lk->prev->link[kind].next = lk->next;
	} else {
		l->head = lk->next;
	}
	if (lk->next != NULL) {
		lk->next->link[kind].prev = lk->prev;
	} else {
		l->tail = lk->prev;
	}
	lk->next = NULL;
	lk->prev = NULL;
	l->n--;
}

struct batch *batch_list_pop(struct batch_list *l, enum batch_link_kind kind)
{
	struct batch *b = l->head;

	if (b != NULL) {
		batch_list_remove(l, b, kind);
	}
	return b;
}

int batch_pool_init(struct batch_pool *bp, uint32_t batches_max, uint32_t frame_cap)
{
	memset(bp, 0, sizeof(*bp));
	bp->batches_max = batches_max;
	bp->frame_cap = frame_cap;
	bp->chunk_cap = (batches_max + CLIENT_BATCH_CHUNK - 1) / CLIENT_BATCH_CHUNK;
	bp->chunks = calloc(bp->chunk_cap, sizeof(*bp->chunks));
	return bp->chunks != NULL ? 0 : -ENOMEM;
}

void batch_pool_fini(struct batch_pool *bp)
{
	for (uint32_t i = 0; i < bp->chunk_count; i++) {
		free(bp->chunks[i]);
	}
	free(bp->chunks);
	memset(bp, 0, sizeof(*bp));
}

/* One allocation holds CLIENT_BATCH_CHUNK batches followed by their frame buffers. */
static int batch_pool_grow(struct batch_pool *bp)
{
	uint32_t n = bp->batches_max - bp->batches;
	size_t head;
	uint8_t *mem;
	struct batch *bs;

	if (n == 0 || bp->chunk_count == bp->chunk_cap) {
		return -ENOSPC;
	}
	if (n > CLIENT_BATCH_CHUNK) {
		n = CLIENT_BATCH_CHUNK;
	}
	head = wire_align((uint32_t)(n * sizeof(struct batch))) + 64;
	mem = malloc(head + (size_t)n * bp->frame_cap);
	if (mem == NULL) {
		return -ENOMEM;
	}
	bp->chunks[bp->chunk_count++] = mem;
	bs = (struct batch *)(void *)mem;
	for (uint32_t i = 0; i < n; i++) {
		memset(&bs[i], 0, sizeof(bs[i]));
		bs[i].wb.buf = mem + head + (size_t)i * bp->frame_cap;
		bs[i].state = BATCH_FREE;
		batch_list_push(&bp->free, &bs[i], BATCH_LINK_QUEUE);
	}
	bp->batches += n;
	return 0;
}

struct batch *batch_pool_get(struct batch_pool *bp)
{
	struct batch *b;

	if (bp->free.head == NULL && batch_pool_grow(bp) != 0) {
		return NULL;
	}
	b = batch_list_pop(&bp->free, BATCH_LINK_QUEUE);
	SL_ASSERT_HOT(b->state == BATCH_FREE);
	return b;
}

void batch_pool_put(struct batch_pool *bp, struct batch *b)
{
	b->state = BATCH_FREE;
	/* LIFO: the buffer used last is the one most likely still in cache. */
	b->link[BATCH_LINK_QUEUE].prev = NULL;
	b->link[BATCH_LINK_QUEUE].next = bp->free.head;
	if (bp->free.head != NULL) {
		bp->free.head->link[BATCH_LINK_QUEUE].prev = b;
	} else {
		bp->free.tail = b;
	}
	bp->free.head = b;
	bp->free.n++;
}

int batch_open(struct batch *b, const struct sl_wire_header *h, const char *topic, size_t topic_len,
	       uint32_t frame_bytes)
{
	uint8_t *buf = b->wb.buf;
	int rc = wire_begin(&b->wb, buf, frame_bytes, h, topic, topic_len);

	if (rc != 0) {
		b->wb.buf = buf;
		return rc;
	}
	b->sequence = 0;
	b->open_ns = 0;
	b->sent_ns = 0;
	b->first_serial = 0;
	b->sent_serial = 0;
	b->deadline_ns = 0;
	b->base_offset = SL_OFFSET_UNKNOWN;
	b->error = 0;
	b->heap_pos = UINT32_MAX;
	b->retries = 0;
	b->transmissions = 0;
	b->oos = false;
	return 0;
}

void batch_seal(struct batch *b)
{
	uint8_t *p = b->wb.buf;

	wire_put_u32(p + offsetof(struct sl_wire_header, payload_len),
		     b->wb.len - SL_WIRE_HEADER_BYTES);
	wire_put_u16(p + offsetof(struct sl_wire_header, record_count), (uint16_t)b->wb.records);
}

void batch_stamp(struct batch *b, uint64_t sequence, uint16_t flags)
{
	uint8_t *p = b->wb.buf;

	wire_put_u64(p + offsetof(struct sl_wire_header, sequence), sequence);
	wire_put_u16(p + offsetof(struct sl_wire_header, flags), flags);
	wire_put_u32(p + offsetof(struct sl_wire_header, crc32c), 0);
	wire_put_u32(p + offsetof(struct sl_wire_header, crc32c), wire_frame_crc(p, b->wb.len));
}
