/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Credit arithmetic. The consumer reports how much it consumed rather than granting
 * increments, which is what makes CREDIT frames safe to lose, repeat and reorder over
 * UDP: the shard keeps the largest totals it saw and compares them with what it sent.
 */
#include "route/credit.h"

#include "core/assert.h"

void credit_init(struct credit *c, uint32_t window_batches, uint64_t window_bytes)
{
	*c = (struct credit){.window_batches = window_batches, .window_bytes = window_bytes};
}

bool credit_allows(const struct credit *c, uint32_t frame_bytes)
{
	if (c->window_batches != 0 && credit_outstanding_batches(c) >= c->window_batches) {
		return false;
	}
	return c->window_bytes == 0 || credit_outstanding_bytes(c) + frame_bytes <= c->window_bytes;
}

void credit_sent(struct credit *c, uint32_t frame_bytes)
{
	c->sent_batches++;
	c->sent_bytes += frame_bytes;
}

void credit_resync(struct credit *c)
{
	c->consumed_batches = c->sent_batches;
	c->consumed_bytes = c->sent_bytes;
}

enum credit_result credit_update(struct credit *c, const struct sl_wire_credit *msg)
{
	if (msg->consumed_batches < c->consumed_batches ||
	    msg->consumed_bytes < c->consumed_bytes) {
		return CREDIT_STALE;
	}
	if (msg->consumed_batches > c->sent_batches || msg->consumed_bytes > c->sent_bytes) {
		return CREDIT_AHEAD;
	}
	c->consumed_batches = msg->consumed_batches;
	c->consumed_bytes = msg->consumed_bytes;
	c->window_batches = msg->window_batches;
	c->window_bytes = msg->window_bytes;
	SL_ASSERT_HOT(c->consumed_batches <= c->sent_batches);
	return CREDIT_APPLIED;
}
