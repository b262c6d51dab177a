/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The producer's front half: configuration, creation, and sl_produce(), which picks a
 * partition, appends the event to that stream's open batch (encoding it straight into
 * the frame that will be sent) and seals batches that are full. Sending, acks and
 * retransmits are in poll.c and reliability.c. See producer_int.h for the state.
 */
#include "client/producer_int.h"

#include "client/producer_test.h"
#include "core/assert.h"
#include "core/clock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t producer_clock_monotonic(void *ctx)
{
	(void)ctx;
	return clock_monotonic_ns();
}

void sl_producer_config_init(struct sl_producer_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->router = "127.0.0.1:7800";
	cfg->acks = SL_ACKS_RECEIVED;
	cfg->linger_us = 1000;
	cfg->frame_bytes_max = SL_WIRE_FRAME_BYTES_DEFAULT;
	cfg->retry_timeout_us = 20000;
	cfg->retry_timeout_max_us = 500000;
	cfg->retries_max = 20;
	cfg->inflight_bytes_max = 4u << 20;
	cfg->send_window_bytes = 256u << 10;
	cfg->metadata_timeout_ms = 5000;
}

static int producer_config_check(const struct sl_producer_config *cfg)
{
	if (cfg->router == NULL || (unsigned)cfg->acks > SL_ACKS_MAX ||
	    cfg->frame_bytes_max < SL_WIRE_FRAME_BYTES_MIN ||
	    cfg->frame_bytes_max > SL_WIRE_FRAME_BYTES_MAX || cfg->retry_timeout_us == 0 ||
	    cfg->retry_timeout_max_us < cfg->retry_timeout_us ||
	    cfg->retries_max > CLIENT_RETRIES_LIMIT ||
	    cfg->inflight_bytes_max < cfg->frame_bytes_max ||
	    cfg->inflight_bytes_max > CLIENT_INFLIGHT_BYTES_LIMIT ||
	    (cfg->send_window_bytes != 0 && cfg->send_window_bytes < cfg->frame_bytes_max) ||
	    cfg->send_window_bytes > CLIENT_INFLIGHT_BYTES_LIMIT || cfg->metadata_timeout_ms == 0) {
		return -EINVAL;
	}
	return 0;
}

int producer_create(const struct sl_producer_config *cfg, transport_open_fn *open,
		    const void *open_ctx, bool metadata_inband, struct sl_producer **out)
{
	struct sl_producer *p;
	uint32_t batches_max;
	int rc = producer_config_check(cfg);

	if (rc != 0) {
		return rc;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		return -ENOMEM;
	}
	p->cfg = *cfg;
	p->router_copy = strdup(cfg->router);
	if (p->router_copy == NULL) {
		rc = -ENOMEM;
		goto out_free_producer;
	}
	p->cfg.router = p->router_copy;
	rc = client_addr_parse(p->router_copy, &p->addr);
	if (rc != 0) {
		goto out_free_router;
	}
	p->id = cfg->producer_id != 0 ? cfg->producer_id : request_random_u64();
	p->epoch = cfg->producer_epoch;
	if (p->epoch == 0) {
		/* Seconds since 1970: increases across restarts, fits 32 bits until 2106. */
		p->epoch = (uint32_t)(clock_realtime_ns() / 1000000000u);
		p->epoch = p->epoch != 0 ? p->epoch : 1;
	}
	p->frame_limit = cfg->frame_bytes_max;
	p->linger_ns = (uint64_t)cfg->linger_us * 1000u;
	retry_rtt_init(&p->rtt, cfg->retry_timeout_us);
	p->rto_us = cfg->retry_timeout_us;
	p->prompt_gap_ns = p->rtt.srtt_ns;
	p->clock = producer_clock_monotonic;
	/* Twice the frames inflight_bytes_max allows, so half-empty batches (linger) do
	 * not run out before the byte budget does; plus one burst of slack. */
	batches_max =
		(uint32_t)(2 * (cfg->inflight_bytes_max / cfg->frame_bytes_max)) + CLIENT_BURST;
	rc = batch_pool_init(&p->pool, batches_max, cfg->frame_bytes_max);
	if (rc != 0) {
		goto out_free_router;
	}
	rc = timer_heap_init(&p->timers, batches_max);
	if (rc != 0) {
		goto out_fini_pool;
	}
	rc = seqmap_init(&p->seqs, batches_max);
	if (rc != 0) {
		goto out_fini_timers;
	}
	rc = topic_table_init(&p->topics);
	if (rc != 0) {
		goto out_fini_seqs;
	}
	p->metadata_inband = metadata_inband;
	rc = open(&p->tx, &p->addr, open_ctx);
	if (rc != 0) {
		goto out_fini_topics;
	}
	*out = p;
	return 0;

out_fini_topics:
	topic_table_fini(&p->topics);
out_fini_seqs:
	seqmap_fini(&p->seqs);
out_fini_timers:
	timer_heap_fini(&p->timers);
out_fini_pool:
	batch_pool_fini(&p->pool);
out_free_router:
	free(p->router_copy);
out_free_producer:
	free(p);
	return rc;
}

int sl_producer_create(const struct sl_producer_config *cfg, struct sl_producer **out)
{
	return producer_create(cfg, transport_udp_open, NULL, false, out);
}

void sl_producer_destroy(struct sl_producer *p)
{
	if (p == NULL) {
		return;
	}
	transport_close(&p->tx);
	topic_table_fini(&p->topics);
	seqmap_fini(&p->seqs);
	timer_heap_fini(&p->timers);
	batch_pool_fini(&p->pool);
	free(p->router_copy);
	free(p);
}

void sl_producer_stats_get(const struct sl_producer *p, struct sl_producer_stats *out)
{
	*out = p->stats;
}

uint64_t sl_producer_id(const struct sl_producer *p)
{
	return p->id;
}

uint32_t sl_producer_epoch(const struct sl_producer *p)
{
	return p->epoch;
}

void producer_test_set_loss(struct sl_producer *p, unsigned tx_permille, unsigned rx_permille,
			    uint64_t seed)
{
	transport_set_loss(&p->tx, tx_permille, rx_permille, seed);
}

void producer_test_set_clock(struct sl_producer *p, uint64_t (*now_ns)(void *ctx), void *ctx)
{
	p->clock = now_ns != NULL ? now_ns : producer_clock_monotonic;
	p->clock_ctx = now_ns != NULL ? ctx : NULL;
}

int producer_test_add_topic(struct sl_producer *p, const char *topic, uint32_t partitions,
			    uint32_t stream_batches_max)
{
	struct topic *t;
	size_t len = strnlen(topic, SL_WIRE_TOPIC_BYTES_MAX + 1);

	if (!wire_topic_is_valid((const uint8_t *)topic, len)) {
		return -EINVAL;
	}
	if (topic_table_find(&p->topics, topic, len) != NULL) {
		return -EEXIST;
	}
	return topic_table_add(&p->topics, topic, len, partitions, stream_batches_max, &t);
}

/* With acks=none a batch is finished once sent and never retransmitted: no window. */
static bool producer_has_room(const struct sl_producer *p, const struct stream *s)
{
	return p->cfg.acks == SL_ACKS_NONE || stream_has_room(s);
}

/*
 * The partition keyless events go to after t->sticky's batch was sealed: the next one
 * whose window has room (up to CLIENT_STICKY_SCAN_MAX looked at), else simply the next
 * one. Events so flow around a stream that waits for a retransmit instead of piling up
 * behind it, and spread round robin when every stream has room.
 */
static uint32_t producer_sticky_next(const struct sl_producer *p, const struct topic *t)
{
	uint32_t n = t->partitions;
	uint32_t scan = n - 1 < CLIENT_STICKY_SCAN_MAX ? n - 1 : CLIENT_STICKY_SCAN_MAX;

	for (uint32_t i = 1; i <= scan; i++) {
		uint32_t next = (uint32_t)(((uint64_t)t->sticky + i) % n);
		if (producer_has_room(p, &t->streams[next])) {
			return next;
		}
	}
	return (t->sticky + 1) % n;
}

void producer_seal(struct sl_producer *p, struct batch *b)
{
	struct stream *s = b->stream;
	struct topic *t = s->topic;
	bool room = producer_has_room(p, s);

	SL_ASSERT_HOT(b->state == BATCH_OPEN && s->open == b);
	batch_list_remove(&p->lingering, b, BATCH_LINK_QUEUE);
	batch_seal(b);
	b->sequence = s->next_seq++;
	s->open = NULL;
	batch_list_push(&s->pending, b, BATCH_LINK_STREAM);
	seqmap_insert(&p->seqs, b);
	if (room) {
		producer_queue_new(p, b);
	} else {
		/* Sent now, it could push the router's window past our oldest unacked
		 * batch, whose retransmit would then get no offset. */
		b->state = BATCH_WAITING;
		batch_list_push(&s->waiting, b, BATCH_LINK_QUEUE);
	}
	/* Keyless events fill one partition's batch, then move on. */
	if (t->sticky == s->partition) {
		t->sticky = producer_sticky_next(p, t);
	}
}

/* A reply that arrived during an in-band METADATA exchange: an ack like any other. */
static void producer_reply_meanwhile(const struct wire_frame *f, void *ctx)
{
	struct sl_producer *p = ctx;

	producer_handle_reply(p, f, producer_now(p));
}

/* Finds the topic, asking the router on first use (blocking, bounded). */
static int producer_topic(struct sl_producer *p, const char *name, struct topic **out)
{
	struct sl_metadata md;
	size_t len;
	uint32_t partitions;
	int rc;

	if (name == NULL) {
		return -EINVAL;
	}
	len = strnlen(name, SL_WIRE_TOPIC_BYTES_MAX + 1);
	*out = topic_table_find(&p->topics, name, len);
	if (*out != NULL) {
		return 0;
	}
	if (!wire_topic_is_valid((const uint8_t *)name, len)) {
		return -EINVAL;
	}
	if (p->metadata_inband) {
		rc = request_metadata_on(&p->tx, name, p->cfg.metadata_timeout_ms, &md,
					 producer_reply_meanwhile, p);
	} else {
		rc = request_metadata(&p->addr, name, p->cfg.metadata_timeout_ms, &md);
	}
	if (rc != 0) {
		return rc;
	}
	partitions = md.partitions;
	if (partitions == 0 && md.auto_create) {
		partitions = md.partitions_default;
	}
	if (partitions == 0) {
		return -SL_EUNKNOWNTOPIC;
	}
	if (partitions > CLIENT_PARTITIONS_LIMIT) {
		return -EPROTO;
	}
	/* Batches stay within what the router appends: then they can be delivered too. */
	if (md.produce_bytes_max >= SL_WIRE_FRAME_BYTES_MIN - SL_WIRE_DELIVER_EXTRA_BYTES &&
	    md.produce_bytes_max < p->frame_limit) {
		p->frame_limit = md.produce_bytes_max;
	}
	/* A router that does not announce its window may remember a single batch. */
	return topic_table_add(&p->topics, name, len, partitions,
			       md.stream_batches_max > 0 ? md.stream_batches_max : 1, out);
}

/* Takes a batch from the pool and makes it s's open batch. */
static int producer_open(struct sl_producer *p, struct stream *s, uint64_t now)
{
	struct sl_wire_header h;
	struct batch *b = batch_pool_get(&p->pool);

	if (b == NULL) {
		return -EAGAIN;
	}
	wire_header_init(&h, SL_WIRE_PRODUCE);
	h.producer_id = p->id;
	h.producer_epoch = p->epoch;
	h.partition = s->partition;
	h.ack_level = (uint8_t)p->cfg.acks;
	int rc = batch_open(b, &h, s->topic->name, s->topic->name_len, p->frame_limit);
	SL_ASSERT(rc == 0); /* the topic was validated and fits any legal frame */
	b->stream = s;
	b->open_ns = now;
	b->state = BATCH_OPEN;
	s->open = b;
	batch_list_push(&p->lingering, b, BATCH_LINK_QUEUE);
	p->stats.inflight_batches++;
	p->stats.inflight_bytes += b->wb.len;
	return 0;
}

static int producer_append(struct sl_producer *p, struct topic *t, uint32_t partition, bool keyless,
			   const void *key, size_t key_len, const void *value, size_t value_len)
{
	struct stream *s = &t->streams[partition];
	uint64_t now;
	int rc;

	if (value == NULL && value_len > 0) {
		return -EINVAL;
	}
	/* -EMSGSIZE before anything changes: the event could never be sent. */
	if (key_len > UINT16_MAX || value_len > SL_WIRE_FRAME_BYTES_MAX) {
		return -EMSGSIZE;
	}
	uint32_t rec = wire_record_bytes((uint32_t)key_len, (uint32_t)value_len);
	uint32_t prefix = wire_prefix_bytes(t->name_len);
	if (prefix + rec > p->frame_limit) {
		return -EMSGSIZE;
	}
	/* A full open batch is sealed; keyless events then follow the sticky partition,
	 * which sealing advanced. Bounded: a sealed stream has no open batch. */
	while (s->open != NULL && !batch_has_room(s->open, rec)) {
		producer_seal(p, s->open);
		if (!keyless) {
			break;
		}
		s = &t->streams[t->sticky];
	}
	uint64_t need = rec + (s->open == NULL ? prefix : 0);
	if (p->stats.inflight_bytes + need > p->cfg.inflight_bytes_max) {
		p->starved = true;
		return -EAGAIN;
	}
	now = producer_now(p);
	if (s->open == NULL) {
		rc = producer_open(p, s, now);
		if (rc != 0) {
			p->starved = true;
			return rc;
		}
	}
	uint32_t before = s->open->wb.len;
	rc = wire_add_record(&s->open->wb, key, key_len, value, value_len, clock_realtime_ns());
	SL_ASSERT(rc == 0); /* room was checked above */
	p->stats.inflight_bytes += s->open->wb.len - before;
	p->stats.events_produced++;
	/* Seal now when not even an empty record fits, or when lingering is off. */
	if (p->linger_ns == 0 || !batch_has_room(s->open, wire_record_bytes(0, 0))) {
		producer_seal(p, s->open);
	}
	if (p->sendq.n >= CLIENT_BURST) {
		/* A full burst is ready: send it now rather than at the next poll. Errors
		 * are left for sl_producer_poll() to report; the batches stay queued. */
		(void)producer_transmit(p, now);
	}
	return 0;
}

int sl_produce(struct sl_producer *p, const char *topic, const void *key, size_t key_len,
	       const void *value, size_t value_len)
{
	struct topic *t;
	int rc = producer_topic(p, topic, &t);

	if (rc != 0) {
		return rc;
	}
	if (key == NULL || key_len == 0) {
		return producer_append(p, t, t->sticky, true, NULL, 0, value, value_len);
	}
	return producer_append(p, t, partition_for_key(key, key_len, t->partitions), false, key,
			       key_len, value, value_len);
}

int sl_produce_to(struct sl_producer *p, const char *topic, uint32_t partition, const void *key,
		  size_t key_len, const void *value, size_t value_len)
{
	struct topic *t;
	int rc = producer_topic(p, topic, &t);

	if (rc != 0) {
		return rc;
	}
	if (partition >= t->partitions) {
		return -SL_EUNKNOWNTOPIC;
	}
	if (key == NULL) {
		key_len = 0;
	}
	return producer_append(p, t, partition, false, key, key_len, value, value_len);
}
