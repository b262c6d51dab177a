/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test hooks of the consumer, not part of the installed API: a replaceable clock so
 * unit tests drive heartbeats, ack batching and hole timeouts without sleeping, and
 * loss injection. Link the static libsluice to use them.
 */
#ifndef SL_CLIENT_CONSUMER_TEST_H
#define SL_CLIENT_CONSUMER_TEST_H

#include <sluice/client.h>

#include <stdint.h>

/*
 * Replaces the consumer's monotonic clock (nanoseconds) with now_ns(ctx); NULL restores
 * CLOCK_MONOTONIC. Waiting (poll timeouts, sl_subscribe) still uses real time.
 */
void consumer_test_set_clock(struct sl_consumer *c, uint64_t (*now_ns)(void *ctx), void *ctx);

/* Drops tx/rx permille of the consumer's datagrams (deterministic PRNG from seed). */
void consumer_test_set_loss(struct sl_consumer *c, unsigned tx_permille, unsigned rx_permille,
			    uint64_t seed);

#endif
