/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * STATS requests: every shard's counters. One request asks one shard (its index in the
 * header's sequence field); shard 0 is asked first and its answer says how many shards
 * exist, then the others are asked together and resent until each has answered.
 */
#include "client/client_int.h"

#include "core/clock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define STATS_RESEND_NS (100u * 1000u * 1000u)
/* The wire's shards field is 16 bits wide. */
#define STATS_SHARDS_LIMIT 65536u

struct stats_match {
	uint64_t request_id;
	struct sl_shard_stats *out;
	unsigned max;
	uint8_t *have; /* [max]: 1 once that shard answered */
	unsigned missing;
	uint32_t shards; /* 0 until shard 0 answered */
	int result;
};

static bool stats_match(const struct wire_frame *f, void *ctx)
{
	struct stats_match *sm = ctx;
	struct sl_wire_stats s;

	if (f->hdr.producer_id != sm->request_id) {
		return false;
	}
	if (f->hdr.type == SL_WIRE_NACK) {
		struct sl_wire_nack n;
		wire_nack_read(f->body, &n);
		sm->result = retry_nack_error(n.reason);
		return true;
	}
	if (f->hdr.type != SL_WIRE_STATS_RESPONSE) {
		return false;
	}
	wire_stats_read(f->body, &s);
	if (s.shard >= sm->max || s.shard >= s.shards || sm->have[s.shard]) {
		return false;
	}
	struct sl_shard_stats *o = &sm->out[s.shard];
	memset(o, 0, sizeof(*o));
	o->shard = s.shard;
	o->shards = s.shards;
	o->lcore = s.lcore;
	o->numa_node = s.numa_node;
	o->counter_count = s.counter_count < SL_STAT_COUNT ? s.counter_count : SL_STAT_COUNT;
	for (unsigned i = 0; i < o->counter_count; i++) {
		o->counters[i] = wire_get_u64(f->body + sizeof(s) + 8 * (size_t)i);
	}
	sm->have[s.shard] = 1;
	if (sm->shards == 0) {
		sm->shards = s.shards;
		sm->missing = (s.shards < sm->max ? s.shards : sm->max);
	}
	sm->missing--;
	return true;
}

/* Builds the request for one shard into frame (SL_WIRE_HEADER_BYTES bytes). */
static uint32_t stats_request(uint8_t *frame, uint64_t request_id, unsigned shard)
{
	struct sl_wire_header h;
	struct wire_builder b;

	wire_header_init(&h, SL_WIRE_STATS_REQUEST);
	h.producer_id = request_id;
	h.sequence = shard;
	(void)wire_begin(&b, frame, SL_WIRE_HEADER_BYTES, &h, NULL, 0);
	return wire_finish(&b);
}

/* Asks every shard not yet heard from, one burst per call. */
static int stats_send_missing(struct transport *t, struct stats_match *sm, uint8_t *frames)
{
	struct iovec iov[CLIENT_BURST];
	unsigned n = 0;
	unsigned limit = sm->shards < sm->max ? sm->shards : sm->max;

	for (unsigned i = 0; i < limit; i++) {
		if (sm->have[i]) {
			continue;
		}
		uint8_t *frame = frames + (size_t)i * SL_WIRE_HEADER_BYTES;
		iov[n].iov_base = frame;
		iov[n].iov_len = stats_request(frame, sm->request_id, i);
		if (++n == CLIENT_BURST) {
			int rc = transport_send_burst(t, iov, n);
			if (rc < 0 && rc != -EAGAIN && rc != -ECONNREFUSED) {
				return rc;
			}
			n = 0;
		}
	}
	if (n > 0) {
		int rc = transport_send_burst(t, iov, n);
		if (rc < 0 && rc != -EAGAIN && rc != -ECONNREFUSED) {
			return rc;
		}
	}
	return 0;
}

/* After shard 0: collect the others until all answered or the deadline. */
static int stats_collect(struct transport *t, struct stats_match *sm, uint64_t deadline)
{
	uint8_t *frames = malloc((size_t)sm->max * SL_WIRE_HEADER_BYTES);
	uint64_t next_send = 0;
	int rc = 0;

	if (frames == NULL) {
		return -ENOMEM;
	}
	while (sm->missing > 0 && sm->result == 0) {
		uint64_t now = clock_monotonic_ns();
		if (now >= deadline) {
			rc = -ETIMEDOUT;
			break;
		}
		if (now >= next_send) {
			rc = stats_send_missing(t, sm, frames);
			if (rc != 0) {
				break;
			}
			next_send = now + STATS_RESEND_NS;
		}
		uint64_t until = next_send < deadline ? next_send : deadline;
		rc = transport_wait(t, until - now);
		if (rc < 0) {
			break;
		}
		rc = transport_recv_burst(t);
		if (rc < 0 && rc != -ECONNREFUSED) {
			break;
		}
		rc = 0;
		for (unsigned i = 0; i < t->rx_kept; i++) {
			struct wire_frame f;
			if (wire_decode(t->rx_data[i], t->rx_len[i], CLIENT_RX_BYTES, &f) ==
			    SL_WIRE_OK) {
				(void)stats_match(&f, sm);
			}
		}
	}
	free(frames);
	return rc != 0 ? rc : sm->result;
}

int sl_stats_fetch(const char *router, uint32_t timeout_ms, struct sl_shard_stats *out,
		   unsigned max, unsigned *n)
{
	struct client_addr addr;
	struct transport t;
	struct stats_match sm = {.out = out, .max = max};
	uint8_t frame[SL_WIRE_HEADER_BYTES];
	uint64_t deadline = clock_monotonic_ns() + (uint64_t)timeout_ms * 1000000u;
	int rc;

	*n = 0;
	if (max == 0 || out == NULL) {
		return -EINVAL;
	}
	if (max > STATS_SHARDS_LIMIT) {
		max = STATS_SHARDS_LIMIT;
		sm.max = max;
	}
	rc = client_addr_parse(router, &addr);
	if (rc != 0) {
		return rc;
	}
	sm.have = calloc(max, 1);
	if (sm.have == NULL) {
		return -ENOMEM;
	}
	rc = transport_udp_open(&t, &addr, NULL);
	if (rc != 0) {
		goto out_free_have;
	}
	sm.request_id = request_random_u64();
	uint32_t len = stats_request(frame, sm.request_id, 0);
	rc = request_exchange(&t, frame, len, STATS_RESEND_NS, deadline, stats_match, &sm);
	if (rc == 0) {
		rc = sm.result;
	}
	if (rc == 0) {
		rc = stats_collect(&t, &sm, deadline);
	}
	if (rc == 0) {
		*n = sm.shards < max ? sm.shards : max;
	}
	transport_close(&t);
out_free_have:
	free(sm.have);
	return rc;
}

const char *sl_stat_name(unsigned stat)
{
	return wire_stat_name(stat);
}
