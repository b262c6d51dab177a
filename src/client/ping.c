/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * PING: the cheapest question a router answers, used by `sluice ping` to check that a
 * router is up and to measure the round trip through its receive and send paths.
 */
#include "client/client_int.h"

#include "core/clock.h"

#include <errno.h>

#define PING_RESEND_NS (200u * 1000u * 1000u)

struct ping_match {
	uint64_t request_id;
	int result;
};

static bool ping_match(const struct wire_frame *f, void *ctx)
{
	struct ping_match *pm = ctx;

	if (f->hdr.producer_id != pm->request_id) {
		return false;
	}
	if (f->hdr.type == SL_WIRE_NACK) {
		struct sl_wire_nack n;
		wire_nack_read(f->body, &n);
		pm->result = retry_nack_error(n.reason);
		return true;
	}
	if (f->hdr.type != SL_WIRE_PONG) {
		return false;
	}
	pm->result = 0;
	return true;
}

int sl_ping(const char *router, uint32_t timeout_ms, uint64_t *rtt_ns)
{
	struct client_addr addr;
	struct transport t;
	struct sl_wire_header h;
	struct wire_builder b;
	struct ping_match pm = {.result = -ETIMEDOUT};
	uint8_t frame[SL_WIRE_HEADER_BYTES];
	uint64_t start = clock_monotonic_ns();
	int rc = client_addr_parse(router, &addr);

	if (rc != 0) {
		return rc;
	}
	rc = transport_udp_open(&t, &addr, NULL);
	if (rc != 0) {
		return rc;
	}
	pm.request_id = request_random_u64();
	wire_header_init(&h, SL_WIRE_PING);
	h.producer_id = pm.request_id;
	(void)wire_begin(&b, frame, sizeof(frame), &h, NULL, 0);
	uint32_t len = wire_finish(&b);
	start = clock_monotonic_ns();
	rc = request_exchange(&t, frame, len, PING_RESEND_NS,
			      start + (uint64_t)timeout_ms * 1000000u, ping_match, &pm);
	if (rc == 0) {
		rc = pm.result;
	}
	if (rc == 0 && rtt_ns != NULL) {
		*rtt_ns = clock_monotonic_ns() - start;
	}
	transport_close(&t);
	return rc;
}
