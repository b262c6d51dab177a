/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * METADATA requests: the router's limits (largest frame, default partition count,
 * shards, batches in flight per stream) and one topic's partition count. The producer
 * asks once per topic, on the topic's first event; `sluice metadata` asks on demand.
 */
#include "client/client_int.h"

#include "core/clock.h"

#include <errno.h>
#include <string.h>

/* Resend a request this often until its deadline: a lost datagram costs this much. */
#define METADATA_RESEND_NS (100u * 1000u * 1000u)

struct metadata_match {
	uint64_t request_id;
	const char *topic;
	size_t topic_len;
	struct sl_metadata *out;
	int result;
	void (*other)(const struct wire_frame *f, void *ctx);
	void *other_ctx;
};

static void metadata_find_topic(const struct wire_frame *f, const struct sl_wire_metadata *m,
				struct metadata_match *mm)
{
	const uint8_t *p = f->body + sizeof(*m);

	/* wire_decode() checked that every entry lies inside the body. */
	for (unsigned i = 0; i < m->topic_count; i++) {
		uint32_t partitions = wire_get_u32(p);
		uint8_t name_len = p[4];
		if (name_len == mm->topic_len && memcmp(p + 8, mm->topic, name_len) == 0) {
			mm->out->partitions = partitions;
			return;
		}
		p += 8 + wire_align(name_len);
	}
}

static bool metadata_match(const struct wire_frame *f, void *ctx)
{
	struct metadata_match *mm = ctx;
	struct sl_wire_metadata m;

	if (f->hdr.producer_id != mm->request_id) {
		if (mm->other != NULL) {
			mm->other(f, mm->other_ctx);
		}
		return false;
	}
	if (f->hdr.type == SL_WIRE_NACK) {
		struct sl_wire_nack n;
		wire_nack_read(f->body, &n);
		mm->result = retry_nack_error(n.reason);
		return true;
	}
	if (f->hdr.type != SL_WIRE_METADATA_RESPONSE) {
		return false;
	}
	wire_metadata_read(f->body, &m);
	memset(mm->out, 0, sizeof(*mm->out));
	mm->out->produce_bytes_max = m.produce_bytes_max;
	mm->out->partitions_default = m.partitions_default;
	mm->out->shards = m.shards;
	mm->out->auto_create = m.auto_create != 0;
	mm->out->stream_batches_max = m.stream_batches_max;
	if (mm->topic_len > 0) {
		metadata_find_topic(f, &m, mm);
	}
	mm->result = 0;
	return true;
}

int request_metadata_on(struct transport *t, const char *topic, uint32_t timeout_ms,
			struct sl_metadata *out,
			void (*other)(const struct wire_frame *f, void *ctx), void *other_ctx)
{
	uint8_t frame[SL_WIRE_HEADER_BYTES + SL_WIRE_TOPIC_BYTES_MAX + SL_WIRE_ALIGN];
	struct sl_wire_header h;
	struct wire_builder b;
	struct metadata_match mm = {
		.topic = topic,
		.out = out,
		.result = -ETIMEDOUT,
		.other = other,
		.other_ctx = other_ctx,
	};
	uint64_t deadline = clock_monotonic_ns() + (uint64_t)timeout_ms * 1000000u;
	int rc;

	mm.topic_len = topic != NULL ? strlen(topic) : 0;
	if (mm.topic_len > 0 && !wire_topic_is_valid((const uint8_t *)topic, mm.topic_len)) {
		return -EINVAL;
	}
	mm.request_id = request_random_u64();
	wire_header_init(&h, SL_WIRE_METADATA_REQUEST);
	h.producer_id = mm.request_id;
	rc = wire_begin(&b, frame, sizeof(frame), &h, topic, mm.topic_len);
	if (rc != 0) {
		return rc;
	}
	uint32_t len = wire_finish(&b);
	rc = request_exchange(t, frame, len, METADATA_RESEND_NS, deadline, metadata_match, &mm);
	return rc == 0 ? mm.result : rc;
}

int request_metadata(const struct client_addr *addr, const char *topic, uint32_t timeout_ms,
		     struct sl_metadata *out)
{
	struct transport t;
	int rc = transport_udp_open(&t, addr, NULL);

	if (rc != 0) {
		return rc;
	}
	rc = request_metadata_on(&t, topic, timeout_ms, out, NULL, NULL);
	transport_close(&t);
	return rc;
}

int sl_metadata_fetch(const char *router, const char *topic, uint32_t timeout_ms,
		      struct sl_metadata *out)
{
	struct client_addr addr;
	int rc = client_addr_parse(router, &addr);

	if (rc != 0) {
		return rc;
	}
	return request_metadata(&addr, topic, timeout_ms, out);
}
