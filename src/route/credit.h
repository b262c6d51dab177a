/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Credit-based flow control of one subscription at one shard, as pure arithmetic
 * (docs/PROTOCOL.md, "CREDIT and flow control"). The owner shard keeps one struct credit
 * per (subscription, shard) in its delivery state, asks credit_allows() before sending a
 * DELIVER, records it with credit_sent(), and applies each CREDIT frame with
 * credit_update(). Counts are totals since SUBSCRIBE, so a lost CREDIT is made good by
 * the next and a late one is recognised and ignored.
 */
#ifndef SL_ROUTE_CREDIT_H
#define SL_ROUTE_CREDIT_H

#include <sluice/wire.h>

#include <stdbool.h>
#include <stdint.h>

struct credit {
	uint64_t sent_batches; /* DELIVERs sent, redeliveries included */
	uint64_t sent_bytes;   /* their datagram bytes */
	uint64_t consumed_batches;
	uint64_t consumed_bytes;
	uint64_t window_bytes;	 /* 0: no byte limit */
	uint32_t window_batches; /* 0: no batch limit */
};

/* What credit_update() did with a CREDIT. */
enum credit_result {
	CREDIT_APPLIED, /* consumed totals and window taken */
	CREDIT_STALE,	/* older than one already applied (reordered): ignored */
	CREDIT_AHEAD,	/* counts more consumed than was sent: ignored, NACK bad credit
			 * (SL_SUB_CREDIT_AHEAD) */
};

/* Starts the accounting of a subscription with the SUBSCRIBE's window (checked by the
 * decoder: wire_window_check()). Nothing sent, nothing consumed. */
void credit_init(struct credit *c, uint32_t window_batches, uint64_t window_bytes);

/* True when a DELIVER of frame_bytes may be sent now: fewer than window_batches
 * outstanding, and frame_bytes more fit window_bytes. */
bool credit_allows(const struct credit *c, uint32_t frame_bytes);

/* Records a DELIVER of frame_bytes sent. */
void credit_sent(struct credit *c, uint32_t frame_bytes);

/*
 * Applies a decoded CREDIT (its window checked by the decoder). Totals below the ones
 * applied (either of them) make it stale; totals above what was sent make it ahead;
 * both leave c unchanged. Equal totals apply: that is how a consumer changes its
 * window without consuming.
 */
enum credit_result credit_update(struct credit *c, const struct sl_wire_credit *msg);

/*
 * After a CREDIT_AHEAD: the consumer counts from another start (its SUBSCRIBED was lost
 * across a router restart, or a bug). Everything sent is taken as consumed, so the shard
 * can send again; the consumer restarts its totals from the next DELIVER's delivery
 * number and byte position (docs/PROTOCOL.md, "CREDIT and flow control").
 */
void credit_resync(struct credit *c);

/* Batches and bytes sent but not consumed. */
static inline uint64_t credit_outstanding_batches(const struct credit *c)
{
	return c->sent_batches - c->consumed_batches;
}

static inline uint64_t credit_outstanding_bytes(const struct credit *c)
{
	return c->sent_bytes - c->consumed_bytes;
}

#endif
