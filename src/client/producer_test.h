/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test hooks of the producer, not part of the installed API: loss injection for the
 * integration tests and `sluice produce --test-drop-*`, and a replaceable clock so unit
 * tests drive retransmit timing without sleeping, and topics seeded without METADATA.
 * Link the static libsluice to use them.
 */
#ifndef SL_CLIENT_PRODUCER_TEST_H
#define SL_CLIENT_PRODUCER_TEST_H

#include <sluice/client.h>

#include <stdint.h>

/*
 * Drops tx_permille of the producer's outgoing datagrams (they count as sent) and
 * rx_permille of the incoming ones (they count as received), chosen by a deterministic
 * PRNG seeded with `seed`. Values above 1000 are treated as 1000; 0, 0 disables.
 */
void producer_test_set_loss(struct sl_producer *p, unsigned tx_permille, unsigned rx_permille,
			    uint64_t seed);

/*
 * Replaces the producer's monotonic clock (nanoseconds) with now_ns(ctx); NULL restores
 * CLOCK_MONOTONIC. Waiting in sl_producer_poll() still uses real time, bounded by its
 * timeout_us, so tests should poll with timeout 0 or with data already queued.
 */
void producer_test_set_clock(struct sl_producer *p, uint64_t (*now_ns)(void *ctx), void *ctx);

/*
 * Makes `topic` known with `partitions` partitions and a window of stream_batches_max
 * unacknowledged batches per partition without asking the router, as if METADATA had
 * answered. Returns 0, -EEXIST, -EINVAL or -ENOMEM.
 */
int producer_test_add_topic(struct sl_producer *p, const char *topic, uint32_t partitions,
			    uint32_t stream_batches_max);

#endif
