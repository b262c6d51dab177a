/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The stand-in router of fake_router.h. The reference thread follows the rules of
 * include/sluice/wire.h for PRODUCE: a stream without state starts only at a
 * STREAM_HEAD batch, sequence n is appended only after n-1 or as a STREAM_HEAD further
 * on, earlier sequences are answered DUPLICATE with their original offset while within
 * the last stream_batches_max, later ones without STREAM_HEAD OUT_OF_SEQUENCE.
 */
#include "fake_router.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fake_router_open(struct fake_router *r)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);

	memset(r, 0, sizeof(*r));
	r->produce_bytes_max = SL_WIRE_PRODUCE_BYTES_MAX;
	r->stream_batches_max = 32;
	r->sub_answer = (struct sl_wire_subscribed){
		.consumer_timeout_ms = 3000,
		.ack_timeout_ms = 1000,
		.shards = 2,
		.redeliveries_max = 3,
		.status = SL_SUB_ACTIVE,
	};
	r->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (r->fd < 0) {
		return -errno;
	}
	int bufsz = 8 << 20;
	(void)setsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	(void)setsockopt(r->fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(r->fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(r->fd, (struct sockaddr *)&a, &len) != 0) {
		int rc = -errno;
		close(r->fd);
		return rc;
	}
	snprintf(r->hostport, sizeof(r->hostport), "127.0.0.1:%u", ntohs(a.sin_port));
	return 0;
}

void fake_router_close(struct fake_router *r)
{
	fake_router_stop(r); /* a test that failed midway left its thread running */
	for (unsigned i = 0; i < r->stream_count; i++) {
		free(r->streams[i].base);
	}
	free(r->seen);
	close(r->fd);
}

int fake_router_recv(struct fake_router *r, struct wire_frame *f, int timeout_ms)
{
	struct pollfd pfd = {.fd = r->fd, .events = POLLIN};

	if (poll(&pfd, 1, timeout_ms) <= 0) {
		return -ETIMEDOUT;
	}
	r->peer_len = sizeof(r->peer);
	ssize_t n = recvfrom(r->fd, r->buf, sizeof(r->buf), 0, (struct sockaddr *)&r->peer,
			     &r->peer_len);
	if (n < 0) {
		return -errno;
	}
	return wire_decode(r->buf, (size_t)n, sizeof(r->buf), f) == SL_WIRE_OK ? 0 : -EPROTO;
}

bool fake_router_idle(struct fake_router *r)
{
	struct pollfd pfd = {.fd = r->fd, .events = POLLIN};

	return poll(&pfd, 1, 0) == 0;
}

void fake_router_send(struct fake_router *r, const void *buf, size_t len)
{
	(void)sendto(r->fd, buf, len, 0, (struct sockaddr *)&r->peer, r->peer_len);
}

static void fake_router_reply(struct fake_router *r, const struct wire_frame *req,
			      enum sl_wire_type type, const void *body, size_t body_len)
{
	uint8_t out[SL_WIRE_HEADER_BYTES + SL_WIRE_TOPIC_BYTES_MAX + 64];
	struct sl_wire_header h;
	struct wire_builder b;

	wire_reply_header(&h, &req->hdr, type);
	if (wire_begin(&b, out, sizeof(out), &h, req->topic, req->hdr.topic_len) != 0 ||
	    wire_add_body(&b, body, body_len) != 0) {
		return;
	}
	/* ACK echoes the record count; wire_finish only fills it for PRODUCE. */
	if (type == SL_WIRE_ACK) {
		wire_put_u16(out + offsetof(struct sl_wire_header, record_count),
			     req->hdr.record_count);
	}
	fake_router_send(r, out, wire_finish(&b));
}

void fake_router_ack(struct fake_router *r, const struct wire_frame *req, uint64_t base_offset,
		     uint16_t status)
{
	struct sl_wire_ack a = {
		.base_offset = base_offset,
		.status = status,
		.ack_level = req->hdr.ack_level,
	};
	uint8_t body[sizeof(a)];

	wire_ack_write(body, &a);
	fake_router_reply(r, req, SL_WIRE_ACK, body, sizeof(body));
}

void fake_router_nack(struct fake_router *r, const struct wire_frame *req, uint16_t reason,
		      uint64_t expected)
{
	struct sl_wire_nack n = {.reason = reason, .expected = expected};
	uint8_t body[sizeof(n)];

	wire_nack_write(body, &n);
	fake_router_reply(r, req, SL_WIRE_NACK, body, sizeof(body));
}

void fake_router_metadata(struct fake_router *r, const struct wire_frame *req, uint32_t partitions)
{
	uint8_t body[sizeof(struct sl_wire_metadata) + 8 + SL_WIRE_TOPIC_BYTES_MAX + 8];
	struct sl_wire_metadata m = {
		.produce_bytes_max = r->produce_bytes_max,
		.partitions_default = 1,
		.shards = 1,
		.topic_count = req->hdr.topic_len > 0 ? 1 : 0,
		.stream_batches_max = r->stream_batches_max,
	};
	size_t len = sizeof(m);

	wire_metadata_write(body, &m);
	if (req->hdr.topic_len > 0) {
		memset(body + len, 0, 8 + wire_align(req->hdr.topic_len));
		wire_put_u32(body + len, partitions);
		body[len + 4] = req->hdr.topic_len;
		memcpy(body + len + 8, req->topic, req->hdr.topic_len);
		len += 8 + wire_align(req->hdr.topic_len);
	}
	/* The reply to a METADATA_REQUEST names no topic in its header. */
	struct wire_frame plain = *req;
	plain.hdr.topic_len = 0;
	fake_router_reply(r, &plain, SL_WIRE_METADATA_RESPONSE, body, len);
}

void fake_router_subscribed(struct fake_router *r, const struct wire_frame *req)
{
	uint8_t out[SL_WIRE_HEADER_BYTES + SL_WIRE_TOPIC_BYTES_MAX + 64];
	struct sl_wire_subscribed a = {.status = SL_SUB_REMOVED};
	struct wire_subscribe s;
	enum sl_sub_error why;
	uint32_t len = 0;

	if (req->hdr.type == SL_WIRE_SUBSCRIBE) {
		if (wire_subscribe_parse(req, &s, &why) != SL_WIRE_OK) {
			return;
		}
		a = r->sub_answer;
		a.window_batches = s.params.window_batches;
		a.window_bytes = s.params.window_bytes;
		a.weight = s.params.weight;
		a.strategy = s.params.strategy;
		a.slow_policy = s.params.slow_policy;
		if ((a.flags & SL_SUBSCRIBED_CREDIT_KEPT) == 0) {
			/* A subscription created now: its DELIVERs are numbered from zero. */
			memset(r->deliveries, 0, sizeof(r->deliveries));
			memset(r->delivered_bytes, 0, sizeof(r->delivered_bytes));
		}
		if (wire_subscribed_encode(out, sizeof(out), s.subscriber_id, s.subscription_id,
					   s.pattern, s.pattern_len, &a, &len) != 0) {
			return;
		}
	} else if (wire_subscribed_encode(out, sizeof(out), wire_subscriber_id(&req->hdr),
					  wire_subscription_id(&req->hdr), NULL, 0, &a,
					  &len) != 0) {
		return;
	}
	fake_router_send(r, out, len);
}

void fake_router_sub_nack(struct fake_router *r, const struct wire_frame *req, uint16_t reason,
			  uint32_t detail, uint64_t expected)
{
	struct sl_wire_nack n = {.reason = reason, .detail = detail, .expected = expected};
	uint8_t body[sizeof(n)];

	wire_nack_write(body, &n);
	/* Like the router, echo the frame's topic: for a SUBSCRIBE, its pattern. */
	fake_router_reply(r, req, SL_WIRE_NACK, body, sizeof(body));
}

/* fake_router_deliver_build() with the DELIVER numbered (delivery, sent_bytes). */
static uint32_t fake_deliver_build_numbered(uint8_t *buf, size_t cap, uint64_t subscriber_id,
					    uint32_t subscription_id, const char *topic,
					    uint32_t partition, uint64_t base_offset,
					    uint16_t count, uint16_t shard, uint16_t attempt,
					    uint32_t delivery, uint32_t sent_bytes)
{
	uint8_t prod[SL_WIRE_FRAME_BYTES_MAX];
	struct sl_wire_header h;
	struct wire_builder b;
	struct wire_frame f;
	uint32_t len = 0;

	wire_header_init(&h, SL_WIRE_PRODUCE);
	if (wire_begin(&b, prod, sizeof(prod), &h, topic, strlen(topic)) != 0) {
		return 0;
	}
	for (uint16_t i = 0; i < count; i++) {
		uint64_t off = base_offset + i;
		if (wire_add_record(&b, "k", 1, &off, sizeof(off), 1000 + off) != 0) {
			return 0;
		}
	}
	if (wire_decode(prod, wire_finish(&b), sizeof(prod), &f) != SL_WIRE_OK) {
		return 0;
	}
	struct wire_deliver d = {
		.subscriber_id = subscriber_id,
		.subscription_id = subscription_id,
		.partition = partition,
		.base_offset = base_offset,
		.record_count = count,
		.topic_len = (uint8_t)strlen(topic),
		.topic = (const uint8_t *)topic,
		.meta = {.append_ns = 77, .shard = shard, .attempt = attempt, .delivery = delivery},
		.sent_bytes = sent_bytes,
		.records = f.body,
		.records_len = f.body_len,
	};
	return wire_deliver_encode(buf, cap, &d, &len) == 0 ? len : 0;
}

uint32_t fake_router_deliver_build(uint8_t *buf, size_t cap, uint64_t subscriber_id,
				   uint32_t subscription_id, const char *topic, uint32_t partition,
				   uint64_t base_offset, uint16_t count, uint16_t shard,
				   uint16_t attempt)
{
	return fake_deliver_build_numbered(buf, cap, subscriber_id, subscription_id, topic,
					   partition, base_offset, count, shard, attempt, 0, 0);
}

/* Builds the next DELIVER of `shard`, numbered, and counts it sent; `send`: it really
 * goes out (else it is lost on the way). */
static uint32_t fake_router_deliver_numbered(struct fake_router *r, uint32_t subscription_id,
					     const char *topic, uint32_t partition,
					     uint64_t base_offset, uint16_t count, uint16_t shard,
					     uint16_t attempt, bool send)
{
	uint8_t out[SL_WIRE_FRAME_BYTES_MAX];
	uint16_t k = shard % FAKE_SHARDS_MAX;
	uint32_t len = fake_deliver_build_numbered(
		out, sizeof(out), r->subscriber_id, subscription_id, topic, partition, base_offset,
		count, shard, attempt, r->deliveries[k], r->delivered_bytes[k]);

	if (len > 0) {
		r->deliveries[k]++;
		r->delivered_bytes[k] += len;
		if (send) {
			fake_router_send(r, out, len);
		}
	}
	return len;
}

uint32_t fake_router_deliver(struct fake_router *r, uint32_t subscription_id, const char *topic,
			     uint32_t partition, uint64_t base_offset, uint16_t count,
			     uint16_t shard, uint16_t attempt)
{
	return fake_router_deliver_numbered(r, subscription_id, topic, partition, base_offset,
					    count, shard, attempt, true);
}

uint32_t fake_router_deliver_lost(struct fake_router *r, uint32_t subscription_id,
				  const char *topic, uint32_t partition, uint64_t base_offset,
				  uint16_t count, uint16_t shard, uint16_t attempt)
{
	return fake_router_deliver_numbered(r, subscription_id, topic, partition, base_offset,
					    count, shard, attempt, false);
}

int fake_router_recv_type(struct fake_router *r, struct wire_frame *f, uint8_t type, int timeout_ms)
{
	for (int tries = 0; tries < 64; tries++) {
		int rc = fake_router_recv(r, f, timeout_ms);
		if (rc == -ETIMEDOUT) {
			return rc;
		}
		if (rc == 0 && f->hdr.type == type) {
			return 0;
		}
	}
	return -ETIMEDOUT;
}

/* Reference mode: the DELIVERs r->sub_deliver_batches asks for, once. */
static void fake_router_deliver_after_subscribe(struct fake_router *r, const struct wire_frame *f)
{
	char topic[SL_WIRE_TOPIC_BYTES_MAX + 1];

	memcpy(topic, f->topic, f->hdr.topic_len);
	topic[f->hdr.topic_len] = '\0';
	for (unsigned i = 0; i < r->sub_deliver_batches; i++) {
		fake_router_deliver(r, r->subscription_id, topic, 0, 2 * i, 2, 0, 0);
	}
	r->sub_deliver_batches = 0;
}

/* Reference mode: the subscription frames of a consumer. */
static void fake_router_consumer_frame(struct fake_router *r, const struct wire_frame *f)
{
	switch (f->hdr.type) {
	case SL_WIRE_SUBSCRIBE:
		atomic_fetch_add(&r->subscribes, 1);
		r->subscriber_id = wire_subscriber_id(&f->hdr);
		r->subscription_id = wire_subscription_id(&f->hdr);
		if (r->sub_ignore > 0) {
			r->sub_ignore--;
		} else if (r->sub_nack_reason != 0) {
			fake_router_sub_nack(r, f, r->sub_nack_reason, r->sub_nack_detail, 0);
		} else {
			fake_router_subscribed(r, f);
			fake_router_deliver_after_subscribe(r, f);
		}
		break;
	case SL_WIRE_UNSUBSCRIBE:
		atomic_fetch_add(&r->unsubscribes, 1);
		fake_router_subscribed(r, f);
		break;
	case SL_WIRE_HEARTBEAT:
		atomic_fetch_add(&r->heartbeats, 1);
		break;
	case SL_WIRE_CREDIT:
		atomic_fetch_add(&r->credits, 1);
		break;
	case SL_WIRE_CONSUMER_ACK:
		atomic_fetch_add(&r->consumer_acks, 1);
		break;
	default:
		break;
	}
}

static struct fake_stream *fake_router_stream(struct fake_router *r, const struct wire_frame *f,
					      bool create)
{
	for (unsigned i = 0; i < r->stream_count; i++) {
		struct fake_stream *s = &r->streams[i];
		if (s->producer_id == f->hdr.producer_id && s->epoch == f->hdr.producer_epoch &&
		    s->partition == f->hdr.partition && strlen(s->topic) == f->hdr.topic_len &&
		    memcmp(s->topic, f->topic, f->hdr.topic_len) == 0) {
			return s;
		}
	}
	if (!create || r->stream_count == FAKE_STREAMS_MAX) {
		return NULL;
	}
	struct fake_stream *s = &r->streams[r->stream_count++];
	memset(s, 0, sizeof(*s));
	s->producer_id = f->hdr.producer_id;
	s->epoch = f->hdr.producer_epoch;
	s->partition = f->hdr.partition;
	memcpy(s->topic, f->topic, f->hdr.topic_len);
	s->next_seq = f->hdr.sequence;
	s->first_seq = f->hdr.sequence;
	s->skip_seq = f->hdr.sequence;
	return s;
}

static void fake_router_append(struct fake_router *r, struct fake_stream *s,
			       const struct wire_frame *f)
{
	struct wire_record_iter it;
	struct wire_record rec;
	uint64_t idx = s->next_seq - s->first_seq;

	while (idx >= s->base_cap) {
		s->base_cap = s->base_cap ? 2 * s->base_cap : 1024;
		s->base = realloc(s->base, s->base_cap * sizeof(*s->base));
	}
	uint64_t base = r->next_offset[f->hdr.partition];
	s->base[idx] = base;
	r->next_offset[f->hdr.partition] += f->hdr.record_count;
	s->next_seq++;
	wire_record_iter_init(&it, f);
	while (wire_record_next(&it, &rec)) {
		uint64_t ev;
		if (rec.value_len >= sizeof(ev)) {
			memcpy(&ev, rec.value, sizeof(ev));
			if (ev < r->seen_cap && r->seen[ev] < UINT8_MAX) {
				r->seen[ev]++;
			}
		}
	}
	atomic_fetch_add(&r->appended_events, f->hdr.record_count);
	fake_router_ack(r, f, base, SL_ACK_APPENDED);
}

static void fake_router_produce(struct fake_router *r, const struct wire_frame *f)
{
	struct fake_stream *s = fake_router_stream(r, f, false);
	uint64_t seq = f->hdr.sequence;

	if (f->hdr.partition >= r->partitions || f->hdr.partition >= FAKE_PARTITIONS_MAX) {
		atomic_fetch_add(&r->nacks, 1);
		fake_router_nack(r, f, SL_NACK_UNKNOWN_TOPIC, 0);
		return;
	}
	if (s == NULL) {
		if (!(f->hdr.flags & SL_WIRE_FLAG_STREAM_HEAD)) {
			atomic_fetch_add(&r->nacks, 1);
			fake_router_nack(r, f, SL_NACK_OUT_OF_SEQUENCE, UINT64_MAX);
			return;
		}
		s = fake_router_stream(r, f, true);
	}
	if (seq < s->next_seq) {
		uint64_t base = SL_OFFSET_UNKNOWN;
		if (seq >= s->skip_seq && s->next_seq - seq <= r->stream_batches_max) {
			base = s->base[seq - s->first_seq];
		} else {
			atomic_fetch_add(&r->duplicates_unknown, 1);
		}
		atomic_fetch_add(&r->duplicates, 1);
		fake_router_ack(r, f, base, SL_ACK_DUPLICATE);
	} else if (seq > s->next_seq && !(f->hdr.flags & SL_WIRE_FLAG_STREAM_HEAD)) {
		atomic_fetch_add(&r->nacks, 1);
		fake_router_nack(r, f, SL_NACK_OUT_OF_SEQUENCE, s->next_seq);
	} else {
		if (seq > s->next_seq) {
			s->skip_seq = seq; /* skipped sequences are never appended */
			s->next_seq = seq;
		}
		fake_router_append(r, s, f);
	}
}

static void *fake_router_main(void *arg)
{
	struct fake_router *r = arg;
	struct wire_frame f;

	while (!atomic_load(&r->stop)) {
		if (fake_router_recv(r, &f, 10) != 0 || r->silent) {
			continue;
		}
		switch (f.hdr.type) {
		case SL_WIRE_METADATA_REQUEST:
			atomic_fetch_add(&r->metadata_requests, 1);
			fake_router_metadata(r, &f, r->partitions);
			break;
		case SL_WIRE_PRODUCE:
			fake_router_produce(r, &f);
			break;
		default:
			fake_router_consumer_frame(r, &f);
			break;
		}
	}
	return NULL;
}

int fake_router_start(struct fake_router *r, uint32_t partitions, uint64_t events)
{
	r->partitions = partitions;
	r->seen_cap = events;
	free(r->seen); /* the thread may be started again */
	r->seen = calloc(events > 0 ? events : 1, 1);
	if (r->seen == NULL) {
		return -ENOMEM;
	}
	atomic_store(&r->stop, false);
	int rc = pthread_create(&r->thread, NULL, fake_router_main, r);
	r->running = rc == 0;
	return -rc;
}

void fake_router_stop(struct fake_router *r)
{
	if (!r->running) {
		return;
	}
	atomic_store(&r->stop, true);
	(void)pthread_join(r->thread, NULL);
	r->running = false;
}
