/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The consumer's front half: configuration, creation and destruction, and the calls
 * that wait for the router: sl_subscribe() (SUBSCRIBE resent until SUBSCRIBED or a
 * NACK) and sl_unsubscribe(). Frames received while waiting go through consumer_rx.c
 * like any other, so DELIVERs of other subscriptions are kept. See consumer_int.h.
 */
#include "client/consumer_int.h"

#include "client/consumer_test.h"
#include "core/assert.h"
#include "core/clock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Destroy waits this many retry timeouts for each UNSUBSCRIBE to be confirmed. */
#define CONSUMER_CLOSE_RETRIES 3u

static uint64_t consumer_clock_monotonic(void *ctx)
{
	(void)ctx;
	return clock_monotonic_ns();
}

void sl_consumer_config_init(struct sl_consumer_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->router = "127.0.0.1:7800";
	cfg->heartbeat_interval_ms = 1000;
	cfg->window_batches = 256;
	cfg->ack_mode = SL_CONSUMER_ACK_AUTO;
	cfg->ack_interval_us = 5000;
	cfg->subscribe_timeout_ms = 5000;
	cfg->retry_timeout_ms = 100;
	cfg->queue_batches_max = 4096;
	cfg->window_batches_max = 1024;
}

void sl_subscribe_options_init(struct sl_subscribe_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->weight = 1;
	opts->strategy = SL_GROUP_ROUND_ROBIN;
	opts->start = SL_START_LATEST;
	opts->start_fallback = SL_START_LATEST;
	opts->slow_policy = SL_SLOW_REPLAY;
}

static int consumer_config_check(const struct sl_consumer_config *cfg)
{
	if (cfg->router == NULL || cfg->heartbeat_interval_ms == 0 ||
	    wire_window_check(cfg->window_batches, cfg->window_bytes) != SL_SUB_OK ||
	    (unsigned)cfg->ack_mode > SL_CONSUMER_ACK_MANUAL || cfg->subscribe_timeout_ms == 0 ||
	    cfg->retry_timeout_ms == 0 || cfg->queue_batches_max == 0 ||
	    cfg->queue_batches_max > CONSUMER_QUEUE_LIMIT ||
	    cfg->window_batches_max > SL_WIRE_WINDOW_BATCHES_MAX) {
		return -EINVAL;
	}
	return 0;
}

static uint32_t consumer_pow2_at_least(uint32_t n)
{
	uint32_t v = 1;

	while (v < n) {
		v <<= 1;
	}
	return v;
}

int consumer_create(const struct sl_consumer_config *cfg, transport_open_fn *open,
		    const void *open_ctx, uint32_t frame_limit, struct sl_consumer **out)
{
	struct sl_consumer *c;
	int rc = consumer_config_check(cfg);

	if (rc != 0) {
		return rc;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return -ENOMEM;
	}
	c->cfg = *cfg;
	c->router_copy = strdup(cfg->router);
	if (c->router_copy == NULL) {
		rc = -ENOMEM;
		goto out_free_consumer;
	}
	c->cfg.router = c->router_copy;
	rc = client_addr_parse(c->router_copy, &c->addr);
	if (rc != 0) {
		goto out_free_router;
	}
	uint32_t slots = consumer_pow2_at_least(cfg->queue_batches_max);
	c->queue = calloc(slots, sizeof(*c->queue));
	if (c->queue == NULL) {
		rc = -ENOMEM;
		goto out_free_router;
	}
	c->queue_mask = slots - 1;
	rc = open(&c->tx, &c->addr, open_ctx);
	if (rc != 0) {
		goto out_free_queue;
	}
	c->id = cfg->subscriber_id != 0 ? cfg->subscriber_id : request_random_u64();
	c->next_sub_id = 1;
	c->frame_limit = frame_limit;
	c->clock = consumer_clock_monotonic;
	c->heartbeat_ns = (uint64_t)cfg->heartbeat_interval_ms * 1000000u;
	*out = c;
	return 0;

out_free_queue:
	free(c->queue);
out_free_router:
	free(c->router_copy);
out_free_consumer:
	free(c);
	return rc;
}

int sl_consumer_create(const struct sl_consumer_config *cfg, struct sl_consumer **out)
{
	return consumer_create(cfg, transport_udp_open, NULL, SL_WIRE_FRAME_BYTES_MAX, out);
}

struct consumer_sub *consumer_sub_find(struct sl_consumer *c, uint32_t id)
{
	for (unsigned i = 0; i < CONSUMER_SUBSCRIPTIONS_MAX; i++) {
		if (c->subs[i].state != SUB_FREE && c->subs[i].id == id) {
			return &c->subs[i];
		}
	}
	return NULL;
}

int consumer_send(struct sl_consumer *c, const uint8_t *buf, uint32_t len)
{
	struct iovec iov = {.iov_base = (void *)(uintptr_t)buf, .iov_len = len};
	int rc = transport_send_burst(&c->tx, &iov, 1);

	if (rc == 1) {
		c->stats.datagrams_sent++;
		return 0;
	}
	/* Nothing listening yet or no room: like a lost datagram, repaired by a resend. */
	if (rc == 0 || rc == -EAGAIN || rc == -ENOBUFS || rc == -ECONNREFUSED) {
		return 0;
	}
	return rc;
}

int consumer_send_subscribe(struct sl_consumer *c, struct consumer_sub *sub, uint64_t now_ns)
{
	sub->resend_ns = now_ns + (uint64_t)c->cfg.retry_timeout_ms * 1000000u;
	c->stats.subscribes_sent++;
	return consumer_send(c, sub->subscribe_frame, sub->subscribe_len);
}

static void consumer_sub_free(struct sl_consumer *c, struct consumer_sub *sub)
{
	consumer_queue_drop_sub(c, sub);
	while (sub->partitions != NULL) {
		struct consumer_partition *p = sub->partitions;
		sub->partitions = p->next;
		free(p);
	}
	free(sub->credit);
	free(sub->subscribe_frame);
	memset(sub, 0, sizeof(*sub));
}

/* The wire form of opts for the SUBSCRIBE of pattern; SL_SUB_OK, or the problem with a
 * length the wire cannot even carry. */
static enum sl_sub_error consumer_subscribe_params(const struct sl_consumer *c, const char *pattern,
						   const struct sl_subscribe_options *o,
						   struct wire_subscribe *s)
{
	size_t group_len = o->group != NULL ? strlen(o->group) : 0;
	size_t topic_len = o->offsets_topic != NULL ? strlen(o->offsets_topic) : 0;
	size_t pattern_len = strlen(pattern);

	if (pattern_len > SL_WIRE_TOPIC_BYTES_MAX) {
		return SL_SUB_PATTERN_TOO_LONG;
	}
	if (group_len > SL_WIRE_GROUP_BYTES_MAX) {
		return SL_SUB_GROUP_NAME;
	}
	if (topic_len > SL_WIRE_TOPIC_BYTES_MAX) {
		return SL_SUB_START_TOPIC;
	}
	if (o->offset_count > SL_WIRE_START_OFFSETS_MAX ||
	    (o->offset_count > 0 && o->offsets == NULL)) {
		return SL_SUB_START_OFFSETS;
	}
	memset(s, 0, sizeof(*s));
	s->subscriber_id = c->id;
	s->pattern = (const uint8_t *)pattern;
	s->pattern_len = (uint8_t)pattern_len;
	s->params.window_batches = c->cfg.window_batches;
	s->params.window_bytes = c->cfg.window_bytes;
	s->params.start = (uint8_t)o->start;
	s->params.slow_policy = (uint8_t)o->slow_policy;
	if (group_len > 0) {
		s->group = (const uint8_t *)o->group;
		s->params.group_len = (uint8_t)group_len;
		s->params.weight = o->weight;
		s->params.strategy = (uint8_t)o->strategy;
	}
	if (o->start == SL_START_TIMESTAMP) {
		s->params.start_value = o->start_timestamp_ns;
	}
	if (o->start == SL_START_OFFSETS) {
		s->params.start_fallback = (uint8_t)o->start_fallback;
		s->offsets_topic = (const uint8_t *)o->offsets_topic;
		s->params.offsets_topic_len = (uint8_t)topic_len;
		s->params.offset_count = (uint16_t)o->offset_count;
	}
	return SL_SUB_OK;
}

/* Notes the start offsets of o in sub's partitions. Not in a group: the group's first
 * member fixes its start, and a member trimming batches to a start of its own would
 * drop records no other member gets. Returns 0 or -ENOMEM. */
static int consumer_start_offsets(struct consumer_sub *sub, const struct sl_subscribe_options *o)
{
	if (o->start != SL_START_OFFSETS || o->group != NULL) {
		return 0;
	}
	for (uint32_t i = 0; i < o->offset_count; i++) {
		struct consumer_partition *p = consumer_partition_get(
			sub, (const uint8_t *)o->offsets_topic, (uint8_t)strlen(o->offsets_topic),
			o->offsets[i].partition);
		if (p == NULL) {
			return -ENOMEM;
		}
		p->start_offset = o->offsets[i].offset;
	}
	return 0;
}

/*
 * Writes sub's SUBSCRIBE and checks it with the decoder the router runs, so that an
 * invalid pattern or option is refused here with the same problem named. Returns 0,
 * -EINVAL (c->sub_error set when a problem has a name), -EMSGSIZE or -ENOMEM.
 */
static int consumer_subscribe_frame(struct sl_consumer *c, struct consumer_sub *sub,
				    const char *pattern, const struct sl_subscribe_options *o)
{
	struct sl_wire_start_offset *offs = NULL;
	struct wire_subscribe s;
	struct wire_frame f;
	uint32_t len = 0;
	int rc = 0;

	c->sub_error = consumer_subscribe_params(c, pattern, o, &s);
	if (c->sub_error != SL_SUB_OK) {
		return -EINVAL;
	}
	s.subscription_id = sub->id;
	if (s.params.offset_count > 0) {
		offs = calloc(s.params.offset_count, sizeof(*offs));
		if (offs == NULL) {
			return -ENOMEM;
		}
		for (uint32_t i = 0; i < s.params.offset_count; i++) {
			offs[i].partition = o->offsets[i].partition;
			offs[i].offset = o->offsets[i].offset;
		}
	}
	sub->subscribe_frame = malloc(SL_WIRE_FRAME_BYTES_MAX);
	if (sub->subscribe_frame == NULL) {
		rc = -ENOMEM;
		goto out_free_offsets;
	}
	rc = wire_subscribe_encode(sub->subscribe_frame, c->frame_limit, &s, offs, &len);
	if (rc == 0 &&
	    wire_decode(sub->subscribe_frame, len, SL_WIRE_FRAME_BYTES_MAX, &f) != SL_WIRE_OK) {
		c->sub_error = f.sub_error;
		rc = -EINVAL;
	}
	sub->subscribe_len = len;
	sub->pattern_len = s.pattern_len;
	memcpy(sub->pattern, pattern, s.pattern_len);
	sub->slow_policy = o->slow_policy;
	sub->group = o->group != NULL;
	if (rc == 0) {
		rc = consumer_start_offsets(sub, o);
	}
out_free_offsets:
	free(offs);
	return rc;
}

static struct consumer_sub *consumer_sub_alloc(struct sl_consumer *c)
{
	for (unsigned i = 0; i < CONSUMER_SUBSCRIPTIONS_MAX; i++) {
		struct consumer_sub *sub = &c->subs[i];
		if (sub->state == SUB_FREE) {
			memset(sub, 0, sizeof(*sub));
			sub->id = c->next_sub_id++;
			if (c->next_sub_id == 0) {
				c->next_sub_id = 1; /* ids are non-zero */
			}
			return sub;
		}
	}
	return NULL;
}

/*
 * Waits (real time, up to timeout_ms) while sub is in state `while_state`, taking in
 * every frame and resending `frame` every retry timeout. Returns 0 once the state
 * changed, -ETIMEDOUT or -errno.
 */
static int consumer_wait_state(struct sl_consumer *c, struct consumer_sub *sub, uint8_t while_state,
			       const uint8_t *frame, uint32_t len, uint32_t timeout_ms)
{
	uint64_t start = clock_monotonic_ns();
	uint64_t deadline = start + (uint64_t)timeout_ms * 1000000u;
	uint64_t retry = (uint64_t)c->cfg.retry_timeout_ms * 1000000u;
	uint64_t next_send = start + retry;

	while (sub->state == while_state) {
		uint64_t now = clock_monotonic_ns();
		if (now >= deadline) {
			return -ETIMEDOUT;
		}
		if (now >= next_send) {
			if (while_state == SUB_SUBSCRIBING) {
				c->stats.subscribes_sent++;
			}
			int rc = consumer_send(c, frame, len);
			if (rc != 0) {
				return rc;
			}
			next_send = now + retry;
		}
		uint64_t until = next_send < deadline ? next_send : deadline;
		int rc = transport_wait(&c->tx, until - now);
		if (rc < 0) {
			return rc;
		}
		/* Other subscriptions keep their heartbeats, credits and acks going. */
		rc = consumer_receive(c, consumer_now(c));
		if (rc == 0 && sub->state == while_state) {
			rc = consumer_send_due(c, consumer_now(c), false);
		}
		if (rc < 0) {
			return rc;
		}
	}
	return 0;
}

int sl_subscribe(struct sl_consumer *c, const char *pattern,
		 const struct sl_subscribe_options *opts, uint32_t *id)
{
	struct sl_subscribe_options defaults;
	struct consumer_sub *sub;
	int rc;

	if (pattern == NULL || id == NULL) {
		return -EINVAL;
	}
	if (opts == NULL) {
		sl_subscribe_options_init(&defaults);
		opts = &defaults;
	}
	c->sub_error = SL_SUB_OK;
	sub = consumer_sub_alloc(c);
	if (sub == NULL) {
		return -ENOSPC;
	}
	rc = consumer_subscribe_frame(c, sub, pattern, opts);
	if (rc != 0) {
		goto out_free_sub;
	}
	sub->state = SUB_SUBSCRIBING;
	rc = consumer_send_subscribe(c, sub, consumer_now(c));
	if (rc == 0) {
		rc = consumer_wait_state(c, sub, SUB_SUBSCRIBING, sub->subscribe_frame,
					 sub->subscribe_len, c->cfg.subscribe_timeout_ms);
	}
	if (rc == 0 && sub->state == SUB_FAILED) {
		rc = sub->error;
	}
	if (rc != 0) {
		goto out_free_sub;
	}
	c->heartbeat_due_ns = consumer_now(c) + c->heartbeat_ns;
	*id = sub->id;
	return 0;

out_free_sub:
	consumer_sub_free(c, sub);
	return rc;
}

/* Sends sub's UNSUBSCRIBE until confirmed or timeout_ms passes; frees sub either way. */
static int consumer_unsubscribe(struct sl_consumer *c, struct consumer_sub *sub,
				uint32_t timeout_ms)
{
	uint8_t frame[SL_WIRE_HEADER_BYTES];
	uint32_t len = 0;
	int rc = wire_unsubscribe_encode(frame, sizeof(frame), c->id, sub->id, &len);

	SL_ASSERT(rc == 0);
	sub->state = SUB_UNSUBSCRIBING;
	rc = consumer_send(c, frame, len);
	if (rc == 0) {
		rc = consumer_wait_state(c, sub, SUB_UNSUBSCRIBING, frame, len, timeout_ms);
	}
	consumer_sub_free(c, sub);
	return rc;
}

int sl_unsubscribe(struct sl_consumer *c, uint32_t id)
{
	struct consumer_sub *sub = consumer_sub_find(c, id);
	uint64_t now = consumer_now(c);
	int rc;

	if (sub == NULL) {
		return -ENOENT;
	}
	consumer_release(c);
	rc = consumer_send_due(c, now, true);
	if (rc != 0) {
		return rc;
	}
	return consumer_unsubscribe(c, sub, c->cfg.subscribe_timeout_ms);
}

void sl_consumer_destroy(struct sl_consumer *c)
{
	uint64_t now;

	if (c == NULL) {
		return;
	}
	now = consumer_now(c);
	consumer_release(c);
	(void)consumer_send_due(c, now, true);
	for (unsigned i = 0; i < CONSUMER_SUBSCRIPTIONS_MAX; i++) {
		struct consumer_sub *sub = &c->subs[i];
		if (sub->state == SUB_ACTIVE || sub->state == SUB_SUBSCRIBING) {
			(void)consumer_unsubscribe(
				c, sub, c->cfg.retry_timeout_ms * CONSUMER_CLOSE_RETRIES);
		} else if (sub->state != SUB_FREE) {
			consumer_sub_free(c, sub);
		}
	}
	transport_close(&c->tx);
	free(c->queue);
	free(c->router_copy);
	free(c);
}

int sl_consumer_ack(struct sl_consumer *c, const char *topic, uint32_t partition, uint64_t offset)
{
	size_t topic_len = topic != NULL ? strlen(topic) : 0;
	bool found = false;

	if (topic_len == 0 || topic_len > SL_WIRE_TOPIC_BYTES_MAX || offset == UINT64_MAX) {
		return -EINVAL;
	}
	for (unsigned i = 0; i < CONSUMER_SUBSCRIPTIONS_MAX; i++) {
		struct consumer_sub *sub = &c->subs[i];
		if (sub->state != SUB_ACTIVE) {
			continue;
		}
		for (struct consumer_partition *p = sub->partitions; p != NULL; p = p->next) {
			if (p->partition != partition || p->topic_len != topic_len ||
			    memcmp(p->topic, topic, topic_len) != 0 || !p->started) {
				continue;
			}
			if (offset >= p->end) {
				return -EINVAL;
			}
			found = true;
			if (offset + 1 > p->ack_want) {
				p->ack_want = offset + 1;
			}
		}
	}
	return found ? 0 : -ENOENT;
}

enum sl_sub_error sl_consumer_sub_error(const struct sl_consumer *c)
{
	return c->sub_error;
}

const char *sl_sub_error_name(unsigned error)
{
	return wire_sub_error_name(error);
}

void sl_consumer_stats_get(const struct sl_consumer *c, struct sl_consumer_stats *out)
{
	*out = c->stats;
	out->queued_batches = c->tail - c->head;
}

uint64_t sl_consumer_id(const struct sl_consumer *c)
{
	return c->id;
}

void consumer_test_set_clock(struct sl_consumer *c, uint64_t (*now_ns)(void *ctx), void *ctx)
{
	c->clock = now_ns != NULL ? now_ns : consumer_clock_monotonic;
	c->clock_ctx = ctx;
}

void consumer_test_set_loss(struct sl_consumer *c, unsigned tx_permille, unsigned rx_permille,
			    uint64_t seed)
{
	transport_set_loss(&c->tx, tx_permille, rx_permille, seed);
}
