/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Blocking request/response over UDP, the machinery behind sl_metadata_fetch,
 * sl_stats_fetch, sl_ping and the producer's first METADATA of a topic: send, wait,
 * resend on a short timer, accept only a validated frame that answers the request
 * (matched by the request id in the header's producer_id field), give up at a deadline.
 */
#include "client/client_int.h"

#include "core/clock.h"

#include <errno.h>
#include <sys/random.h>
#include <unistd.h>

uint64_t request_random_u64(void)
{
	uint64_t v = 0;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v)) {
		/* No entropy yet (early boot): still unique enough per process. */
		v = clock_realtime_ns() ^ ((uint64_t)getpid() << 32) ^ clock_monotonic_ns();
		v *= 0x9e3779b97f4a7c15ull;
	}
	return v != 0 ? v : 1;
}

int request_exchange(struct transport *t, const uint8_t *frame, uint32_t len, uint64_t resend_ns,
		     uint64_t deadline_ns, request_match_fn *match, void *ctx)
{
	uint64_t next_send = 0;
	struct iovec iov = {.iov_base = (void *)(uintptr_t)frame, .iov_len = len};

	for (;;) {
		uint64_t now = clock_monotonic_ns();
		if (now >= deadline_ns) {
			return -ETIMEDOUT;
		}
		if (now >= next_send) {
			int rc = transport_send_burst(t, &iov, 1);
			/* A refused or full socket is like a lost datagram: resend later.
			 * ECONNREFUSED (nothing listens yet) is the common case. */
			if (rc < 0 && rc != -EAGAIN && rc != -ENOBUFS && rc != -ECONNREFUSED) {
				return rc;
			}
			next_send = now + resend_ns;
		}
		uint64_t until = next_send < deadline_ns ? next_send : deadline_ns;
		int rc = transport_wait(t, until - now);
		if (rc < 0) {
			return rc;
		}
		if (rc == 0) {
			continue;
		}
		rc = transport_recv_burst(t);
		if (rc < 0 && rc != -ECONNREFUSED) {
			return rc;
		}
		for (unsigned i = 0; i < t->rx_kept; i++) {
			struct wire_frame f;
			if (wire_decode(t->rx_data[i], t->rx_len[i], CLIENT_RX_BYTES, &f) ==
				    SL_WIRE_OK &&
			    match(&f, ctx)) {
				return 0;
			}
		}
	}
}
