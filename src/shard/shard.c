/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The shard loop: RX burst, validate, dispatch by frame type, route PRODUCE batches to
 * their owner (here, or across the mesh), drain the rings towards this shard, TX. Also
 * the shard's construction, which sizes every array and table from the flags so that
 * the loop itself never allocates.
 */
#include "shard/shard_int.h"

#include "core/assert.h"

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

static unsigned shard_instances;

int shard_env_init(struct shard_env *env, const struct shard_conf *conf,
		   const struct route_table *routes, struct netdev *netdev, struct mesh *mesh)
{
	if (conf->shards == 0 || conf->shards > SHARD_SHARDS_MAX || netdev == NULL ||
	    netdev->queues < conf->shards || (conf->shards > 1 && mesh == NULL)) {
		return -EINVAL;
	}
	memset(env, 0, sizeof(*env));
	env->counters = rte_zmalloc("shard_counters", conf->shards * sizeof(*env->counters),
				    RTE_CACHE_LINE_SIZE);
	if (env->counters == NULL) {
		return -ENOMEM;
	}
	env->conf = conf;
	env->routes = routes;
	env->netdev = netdev;
	env->mesh = mesh;
	return 0;
}

void shard_env_fini(struct shard_env *env)
{
	rte_free(env->counters);
	env->counters = NULL;
}

void shard_env_stop(struct shard_env *env)
{
	/* Pairs with the acquire load in shard_run(). */
	__atomic_store_n(&env->stop, true, __ATOMIC_RELEASE);
}

uint16_t shard_index(const struct shard *s)
{
	return s->index;
}

struct journal *shard_journal(struct shard *s)
{
	return s->journal;
}

static bool shard_conf_is_valid(const struct shard_conf *c)
{
	return c->burst >= 1 && c->burst <= SHARD_BURST_MAX &&
	       c->frame_bytes_max >= SL_WIRE_FRAME_BYTES_MIN &&
	       c->frame_bytes_max <= SL_WIRE_FRAME_BYTES_MAX &&
	       c->partitions_max >= SHARD_TABLE_ENTRIES_MIN &&
	       c->partitions_max <= SHARD_TABLE_ENTRIES_MAX &&
	       c->producers_max >= SHARD_TABLE_ENTRIES_MIN &&
	       c->producers_max <= SHARD_TABLE_ENTRIES_MAX &&
	       c->dedupe_window >= SHARD_DEDUPE_WINDOW_MIN &&
	       c->dedupe_window <= SHARD_DEDUPE_WINDOW_MAX &&
	       c->idle_sleep_us <= SHARD_IDLE_SLEEP_US_MAX &&
	       c->durable_acks_max >= SHARD_DURABLE_ACKS_MIN &&
	       c->durable_acks_max <= SHARD_DURABLE_ACKS_MAX &&
	       c->subscriptions_max >= SHARD_SUBSCRIPTIONS_MIN &&
	       c->subscriptions_max <= SHARD_SUBSCRIPTIONS_MAX &&
	       c->consumer_timeout_ms >= SHARD_CONSUMER_TIMEOUT_MS_MIN &&
	       c->consumer_timeout_ms <= SHARD_CONSUMER_TIMEOUT_MS_MAX &&
	       c->replay_cursors <= SHARD_REPLAY_CURSORS_MAX &&
	       (c->replay_cursors == 0 ||
		(c->replay_buffer_bytes >= SHARD_REPLAY_BUFFER_BYTES_MIN &&
		 c->replay_buffer_bytes <= SHARD_REPLAY_BUFFER_BYTES_MAX)) &&
	       c->match_cache_topics <= SHARD_MATCH_CACHE_TOPICS_MAX &&
	       c->ack_timeout_ms >= SHARD_ACK_TIMEOUT_MS_MIN &&
	       c->ack_timeout_ms <= SHARD_ACK_TIMEOUT_MS_MAX &&
	       c->redeliveries_max <= SHARD_REDELIVERIES_MAX;
}

struct rte_hash *shard_hash_create(const char *what, unsigned id, uint16_t index, uint32_t entries,
				   uint32_t key_len, int socket)
{
	char name[RTE_HASH_NAMESIZE];

	(void)snprintf(name, sizeof(name), "%s%u_%u", what, id, index);
	struct rte_hash_parameters p = {
		.name = name,
		.entries = entries,
		.key_len = key_len,
		.hash_func = rte_hash_crc,
		.hash_func_init_val = 0,
		.socket_id = socket,
		/* Extendable buckets: the table holds `entries` keys whatever their hashes. */
		.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	return rte_hash_create(&p);
}

/* rte_hash compares whole keys, all 264 bytes of a partition key for a topic of a few:
 * the partition and the name's length first, then only the name's bytes. 0: equal. */
static int shard_partition_key_cmp(const void *a, const void *b, size_t key_len)
{
	const struct shard_partition_key *x = a;
	const struct shard_partition_key *y = b;

	(void)key_len;
	if (x->partition != y->partition || x->name_len != y->name_len) {
		return 1;
	}
	return memcmp(x->name, y->name, x->name_len);
}

int shard_destroy(struct shard *s)
{
	int rc = 0;

	if (s == NULL) {
		return 0;
	}
	if (s->tx != NULL && s->tx_count > 0) {
		rte_pktmbuf_free_bulk(s->tx, s->tx_count);
	}
	for (; s->durable_head != s->durable_tail; s->durable_head++) {
		rte_pktmbuf_free(s->durable_mbuf[s->durable_head & (s->durable_acks_max - 1)]);
	}
	rc = s->journal_close_rc;
	shard_replays_destroy(s); /* before the journal they read */
	if (s->journal != NULL) {
		rc = journal_close(s->journal);
	}
	shard_subs_destroy(s);
	rte_free(s->durable_len);
	rte_free(s->durable_end);
	rte_free(s->durable_mbuf);
	rte_hash_free(s->producers);
	rte_hash_free(s->partitions);
	rte_free(s->offsets);
	rte_free(s->producer_state);
	rte_free(s->partition_state);
	rte_free(s->mesh_out_count);
	rte_free(s->mesh_out);
	rte_free(s->tx_len);
	rte_free(s->tx);
	rte_free(s->rx);
	rte_free(s);
	return rc;
}

int shard_create(struct shard_env *env, uint16_t index, unsigned lcore, int socket,
		 struct rte_mempool *pool, struct shard **out)
{
	const struct shard_conf *c = env->conf;
	unsigned id = __atomic_fetch_add(&shard_instances, 1, __ATOMIC_RELAXED);
	int rc = -ENOMEM;

	if (index >= c->shards || pool == NULL || !shard_conf_is_valid(c)) {
		return -EINVAL;
	}
	struct shard *s = rte_zmalloc_socket("shard", sizeof(*s), RTE_CACHE_LINE_SIZE, socket);
	if (s == NULL) {
		return -ENOMEM;
	}
	s->index = index;
	s->shards = c->shards;
	s->burst = c->burst;
	s->frame_bytes_max = c->frame_bytes_max;
	s->partitions_max = c->partitions_max;
	s->producers_max = c->producers_max;
	s->dedupe_window = c->dedupe_window;
	s->producer_idle_tsc = (uint64_t)c->producer_idle_s * rte_get_tsc_hz();
	s->producer_idle_ns = (uint64_t)c->producer_idle_s * 1000000000u;
	s->tsc_per_us = rte_get_tsc_hz() / 1000000u > 0 ? rte_get_tsc_hz() / 1000000u : 1;
	s->durable_acks_max = rte_align32pow2(c->durable_acks_max);
	s->env = env;
	s->counters = &env->counters[index];
	s->pool = pool;
	s->now_tsc = rte_rdtsc();

	size_t ptr = sizeof(struct rte_mbuf *);
	s->rx = rte_zmalloc_socket("shard_rx", c->burst * ptr, 0, socket);
	s->tx = rte_zmalloc_socket("shard_tx", c->burst * ptr, 0, socket);
	s->tx_len = rte_zmalloc_socket("shard_tx_len", c->burst * sizeof(uint16_t), 0, socket);
	s->mesh_out =
		rte_zmalloc_socket("shard_mesh_out", (size_t)c->shards * c->burst * ptr, 0, socket);
	s->mesh_out_count =
		rte_zmalloc_socket("shard_mesh_out_count", c->shards * sizeof(uint16_t), 0, socket);
	s->partition_state = rte_zmalloc_socket("shard_partitions",
						c->partitions_max * sizeof(*s->partition_state),
						RTE_CACHE_LINE_SIZE, socket);
	s->producer_state =
		rte_zmalloc_socket("shard_producers", c->producers_max * sizeof(*s->producer_state),
				   RTE_CACHE_LINE_SIZE, socket);
	/* Not zeroed: a slot is read only after its batch was appended. */
	s->offsets = rte_malloc_socket(
		"shard_offsets", (size_t)c->producers_max * c->dedupe_window * sizeof(uint64_t),
		RTE_CACHE_LINE_SIZE, socket);
	s->durable_mbuf =
		rte_zmalloc_socket("shard_durable_mbuf", s->durable_acks_max * ptr, 0, socket);
	s->durable_end = rte_zmalloc_socket("shard_durable_end",
					    s->durable_acks_max * sizeof(uint64_t), 0, socket);
	s->durable_len = rte_zmalloc_socket("shard_durable_len",
					    s->durable_acks_max * sizeof(uint16_t), 0, socket);
	if (s->rx == NULL || s->tx == NULL || s->tx_len == NULL || s->mesh_out == NULL ||
	    s->mesh_out_count == NULL || s->partition_state == NULL || s->producer_state == NULL ||
	    s->offsets == NULL || s->durable_mbuf == NULL || s->durable_end == NULL ||
	    s->durable_len == NULL) {
		goto out_destroy;
	}
	s->partitions = shard_hash_create("sp", id, index, c->partitions_max,
					  sizeof(struct shard_partition_key), socket);
	s->producers = shard_hash_create("sq", id, index, c->producers_max,
					 sizeof(struct shard_producer_key), socket);
	if (s->partitions == NULL || s->producers == NULL) {
		rc = rte_errno > 0 ? -rte_errno : -ENOMEM;
		goto out_destroy;
	}
	rte_hash_set_cmp_func(s->partitions, shard_partition_key_cmp);
	rc = shard_subs_create(s, socket);
	if (rc != 0) {
		goto out_destroy;
	}
	s->counters->lcore = lcore;
	s->counters->socket = (uint32_t)socket;
	*out = s;
	return 0;

out_destroy:
	shard_destroy(s);
	return rc;
}

void shard_frame_trusted(struct rte_mbuf *m, struct wire_frame *f)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);

	memcpy(&f->hdr, p, sizeof(f->hdr));
	f->base = p;
	f->len = m->data_len;
	f->topic = p + SL_WIRE_HEADER_BYTES;
	f->body = p + wire_prefix_bytes(f->hdr.topic_len);
	f->body_len = f->hdr.payload_len - wire_align(f->hdr.topic_len);
	SL_ASSERT_HOT(f->len == SL_WIRE_HEADER_BYTES + f->hdr.payload_len);
}

/* Frame types the router itself sends: never answered, so two routers (or a reflecting
 * peer) cannot ping-pong NACKs. */
static bool shard_type_is_reply(unsigned type)
{
	return type == SL_WIRE_ACK || type == SL_WIRE_NACK || type == SL_WIRE_METADATA_RESPONSE ||
	       type == SL_WIRE_STATS_RESPONSE || type == SL_WIRE_PONG || type == SL_WIRE_DELIVER ||
	       type == SL_WIRE_SUBSCRIBED;
}

/* A datagram wire_decode() refused: count it; NACK it only if it looks like sluice. */
static void shard_reject(struct shard *s, struct rte_mbuf *m, const struct wire_frame *f,
			 enum sl_wire_reject r)
{
	const struct sl_wire_header *h = &f->hdr;
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	const uint8_t *topic = NULL;
	struct sl_wire_header req = *h;

	shard_count(s, wire_reject_stat(r), 1);
	if (m->data_len < SL_WIRE_HEADER_BYTES || h->magic != SL_WIRE_MAGIC ||
	    shard_type_is_reply(h->type)) {
		rte_pktmbuf_free(m);
		return;
	}
	if ((uint32_t)SL_WIRE_HEADER_BYTES + h->topic_len <= m->data_len &&
	    wire_topic_is_valid(p + SL_WIRE_HEADER_BYTES, h->topic_len)) {
		topic = p + SL_WIRE_HEADER_BYTES;
	} else {
		req.topic_len = 0;
	}
	enum sl_nack_reason reason = wire_reject_nack_reason(r);
	uint32_t detail = reason != SL_NACK_TOO_LARGE  ? wire_reject_nack_detail(r, f)
			  : h->type == SL_WIRE_PRODUCE ? wire_produce_bytes_max(s->frame_bytes_max)
						       : s->frame_bytes_max;
	shard_reply_nack(s, m, &req, topic, reason, detail, 0);
}

static void shard_mesh_flush_to(struct shard *s, uint16_t owner);

/* Stages m for the ring towards `owner`, flushing when a burst is staged. */
static void shard_mesh_stage(struct shard *s, struct rte_mbuf *m, uint16_t owner)
{
	uint16_t *count = &s->mesh_out_count[owner];

	s->mesh_out[(unsigned)owner * s->burst + *count] = m;
	if (++*count == s->burst) {
		shard_mesh_flush_to(s, owner);
	}
}

/* Hands the staged batches of one owner to its ring; NACKs BUSY what does not fit. */
static void shard_mesh_flush_to(struct shard *s, uint16_t owner)
{
	struct rte_mbuf **staged = &s->mesh_out[(unsigned)owner * s->burst];
	unsigned n = s->mesh_out_count[owner];
	unsigned k = mesh_push_burst(s->env->mesh, s->index, owner, staged, n);

	s->mesh_out_count[owner] = 0;
	shard_count(s, SL_STAT_MESH_OUT, k);
	for (unsigned i = k; i < n; i++) {
		struct wire_frame f;
		shard_frame_trusted(staged[i], &f);
		shard_count(s, SL_STAT_DROP_MESH_FULL, 1);
		shard_reply_nack(s, staged[i], &f.hdr, f.topic, SL_NACK_BUSY, 0, 0);
	}
}

static void shard_mesh_flush(struct shard *s)
{
	for (uint16_t owner = 0; owner < s->shards; owner++) {
		if (s->mesh_out_count[owner] > 0) {
			shard_mesh_flush_to(s, owner);
		}
	}
}

void shard_route_produce(struct shard *s, struct rte_mbuf *m, const struct wire_frame *f)
{
	const struct sl_wire_header *h = &f->hdr;
	uint32_t topic_hash = route_topic_hash(f->topic, h->topic_len);
	uint32_t partitions =
		route_partitions_hashed(s->env->routes, topic_hash, f->topic, h->topic_len);

	shard_count(s, SL_STAT_PRODUCE_FRAMES, 1);
	/* A batch is appended only if its DELIVER fits the frame limit: it can then be
	 * delivered to any subscriber (and a byte window of the minimum holds it). */
	if (f->len > wire_produce_bytes_max(s->frame_bytes_max)) {
		shard_count(s, SL_STAT_DROP_TOO_LARGE, 1);
		shard_reply_nack(s, m, h, f->topic, SL_NACK_TOO_LARGE,
				 wire_produce_bytes_max(s->frame_bytes_max), 0);
		return;
	}
	if (h->partition >= partitions) {
		shard_count(s, SL_STAT_DROP_UNKNOWN_TOPIC, 1);
		shard_reply_nack(s, m, h, f->topic, SL_NACK_UNKNOWN_TOPIC, partitions, 0);
		return;
	}
	uint16_t owner = route_owner_hashed(topic_hash, h->partition, s->shards);
	if (owner == s->index) {
		shard_produce(s, m, f, topic_hash);
		return;
	}
	/* Ownership of m moves to the owner shard once pushed: it replies from there. */
	shard_mesh_stage(s, m, owner);
}

/* A valid CONSUMER_ACK: to the owner of its (topic, partition), like PRODUCE. */
static void shard_route_consumer_ack(struct shard *s, struct rte_mbuf *m,
				     const struct wire_frame *f)
{
	const struct sl_wire_header *h = &f->hdr;
	uint32_t topic_hash = route_topic_hash(f->topic, h->topic_len);
	uint32_t partitions =
		route_partitions_hashed(s->env->routes, topic_hash, f->topic, h->topic_len);

	if (h->partition >= partitions) {
		shard_count(s, SL_STAT_DROP_UNKNOWN_TOPIC, 1);
		shard_reply_nack(s, m, h, f->topic, SL_NACK_UNKNOWN_TOPIC, partitions, 0);
		return;
	}
	uint16_t owner = route_owner_hashed(topic_hash, h->partition, s->shards);
	if (owner == s->index) {
		shard_consumer_ack(s, m, f);
		return;
	}
	shard_mesh_stage(s, m, owner);
}

/* A valid CREDIT: apply it here, or hand it to the shard it names. */
static void shard_route_credit(struct shard *s, struct rte_mbuf *m, const struct wire_frame *f)
{
	uint16_t to = wire_credit_shard(&f->hdr);

	if (to >= s->shards) {
		shard_count(s, SL_STAT_DROP_BAD_CREDIT, 1);
		shard_reply_nack(s, m, &f->hdr, NULL, SL_NACK_BAD_CREDIT, SL_SUB_CREDIT_SHARD, 0);
		return;
	}
	if (to == s->index) {
		shard_credit(s, m, f);
		return;
	}
	shard_mesh_stage(s, m, to);
}

static void shard_handle(struct shard *s, struct rte_mbuf *m)
{
	struct wire_frame f;

	SL_ASSERT_HOT(m->nb_segs == 1);
	shard_count(s, SL_STAT_RX_DATAGRAMS, 1);
	shard_count(s, SL_STAT_RX_BYTES, m->data_len);
	enum sl_wire_reject r =
		wire_decode(rte_pktmbuf_mtod(m, const void *), m->data_len, s->frame_bytes_max, &f);
	if (r != SL_WIRE_OK) {
		shard_reject(s, m, &f, r);
		return;
	}
	switch (f.hdr.type) {
	case SL_WIRE_PRODUCE:
		shard_route_produce(s, m, &f);
		break;
	case SL_WIRE_SUBSCRIBE:
		shard_subscribe(s, m, &f);
		break;
	case SL_WIRE_UNSUBSCRIBE:
		shard_unsubscribe(s, m, &f);
		break;
	case SL_WIRE_HEARTBEAT:
		shard_heartbeat(s, m, &f);
		break;
	case SL_WIRE_CREDIT:
		shard_route_credit(s, m, &f);
		break;
	case SL_WIRE_CONSUMER_ACK:
		shard_route_consumer_ack(s, m, &f);
		break;
	case SL_WIRE_METADATA_REQUEST:
		shard_count(s, SL_STAT_METADATA_REQUESTS, 1);
		shard_reply_metadata(s, m, &f);
		break;
	case SL_WIRE_STATS_REQUEST:
		shard_count(s, SL_STAT_STATS_REQUESTS, 1);
		shard_reply_stats(s, m, &f);
		break;
	case SL_WIRE_PING:
		shard_count(s, SL_STAT_PINGS, 1);
		shard_reply_pong(s, m, &f);
		break;
	default:
		shard_count(s, SL_STAT_DROP_UNEXPECTED, 1);
		if (shard_type_is_reply(f.hdr.type)) {
			rte_pktmbuf_free(m);
		} else {
			/* Reserved for a later version. */
			shard_reply_nack(s, m, &f.hdr, f.topic, SL_NACK_UNSUPPORTED_TYPE,
					 f.hdr.type, 0);
		}
		break;
	}
}

/* Takes what other shards handed to this one, in bursts, and appends it. */
static unsigned shard_mesh_drain(struct shard *s)
{
	unsigned total = 0;

	for (uint16_t from = 0; from < s->shards; from++) {
		if (from == s->index) {
			continue;
		}
		unsigned n = mesh_pop_burst(s->env->mesh, from, s->index, s->rx, s->burst);
		shard_count(s, SL_STAT_MESH_IN, n);
		/* Shard `from` queued any subscription change before the batches it handed
		 * over after it: applying its control messages now, after taking the
		 * batches, means a batch never overtakes the SUBSCRIBE answered before it. */
		if (n > 0) {
			total += shard_ctl_drain_from(s, from);
		}
		for (unsigned i = 0; i < n; i++) {
			struct wire_frame f;
			shard_frame_trusted(s->rx[i], &f);
			if (f.hdr.type == SL_WIRE_CREDIT) {
				shard_credit(s, s->rx[i], &f);
				continue;
			}
			if (f.hdr.type == SL_WIRE_CONSUMER_ACK) {
				shard_consumer_ack(s, s->rx[i], &f);
				continue;
			}
			shard_produce(s, s->rx[i], &f, route_topic_hash(f.topic, f.hdr.topic_len));
		}
		total += n;
	}
	return total;
}

/* Reads the loop clock: TSC, and the microseconds the journal's timers run on. */
static void shard_clock_tick(struct shard *s)
{
	s->now_tsc = rte_rdtsc();
	s->now_us = s->now_tsc / s->tsc_per_us;
}

unsigned shard_poll(struct shard *s)
{
	struct netdev *nd = s->env->netdev;

	shard_clock_tick(s);
	if (s->journal != NULL) {
		s->now_ns = shard_clock_realtime_ns();
	}
	uint16_t n = netdev_rx_burst(nd, s->index, s->rx, s->burst);
	unsigned work = n;
	/* Another shard queues a SUBSCRIBE to us before it answers SUBSCRIBED, so whatever
	 * a client sends after that answer finds it in our ring: applying the rings after
	 * taking the burst and before handling it means a batch produced straight to its
	 * owner after a subscription was confirmed is delivered to it. */
	if (n > 0 && s->shards > 1) {
		work += shard_ctl_drain(s);
	}
	for (uint16_t i = 0; i < n; i++) {
		shard_handle(s, s->rx[i]);
	}
	if (s->shards > 1) {
		shard_mesh_flush(s);
		work += shard_ctl_drain(s);
		work += shard_mesh_drain(s);
	}
	if (s->now_tsc >= s->subscriber_sweep_tsc) {
		/* A few subscribers per tick: timeouts are seconds, the sweep is cheap. */
		s->subscriber_sweep_tsc = s->now_tsc + s->tsc_per_us * SHARD_SUBSCRIBER_SWEEP_US;
		shard_subscribers_sweep(s, SHARD_SWEEP_STEP);
		shard_acks_sweep(s, SHARD_SWEEP_STEP);
	}
	if (s->journal != NULL) {
		work += shard_journal_poll(s);
		work += shard_replay_poll(s);
		work += shard_redeliveries_poll(s);
	}
	shard_tx_flush(s);
	netdev_flush(nd, s->index);
	return work;
}

void shard_idle(struct shard *s)
{
	struct netdev *nd = s->env->netdev;
	uint32_t sleep_us = s->env->conf->idle_sleep_us;

	shard_producers_sweep(s, SHARD_SWEEP_STEP);
	/* A journal with writes in flight or batches staged needs polling: its durable
	 * acks (and --flush-us) cannot wait for the next datagram. */
	if (s->journal != NULL && !journal_is_idle(s->journal)) {
		return;
	}
	if (sleep_us > 0 && netdev_has_wait(nd)) {
		(void)netdev_wait(nd, s->index, sleep_us);
	}
}

/* Lets the journal write and sync what is staged, sending the durable acks, for at
 * most SHARD_STOP_DRAIN_US; journal_close() finishes what remains. */
static void shard_journal_drain(struct shard *s)
{
	if (s->journal == NULL) {
		return;
	}
	uint64_t deadline = rte_rdtsc() + SHARD_STOP_DRAIN_US * s->tsc_per_us;
	do {
		shard_clock_tick(s);
		(void)shard_journal_poll(s);
		shard_tx_flush(s);
	} while ((!journal_is_idle(s->journal) || s->durable_head != s->durable_tail) &&
		 !journal_has_failed(s->journal) && s->now_tsc < deadline);
}

int shard_run(void *arg)
{
	struct shard *s = arg;

	/* Pairs with the release store in shard_env_stop(). */
	while (!__atomic_load_n(&s->env->stop, __ATOMIC_ACQUIRE)) {
		if (shard_poll(s) > 0) {
			s->idle_polls = 0;
		} else if (++s->idle_polls >= SHARD_IDLE_POLLS) {
			shard_idle(s);
		}
	}
	/* Answer what other shards handed over before they stopped. */
	if (s->shards > 1) {
		(void)shard_mesh_drain(s);
	}
	shard_journal_drain(s);
	shard_tx_flush(s);
	netdev_flush(s->env->netdev, s->index);
	/* On this lcore: the journal's io_uring accepts only the thread that drove it. */
	shard_replays_destroy(s);
	if (s->journal != NULL) {
		s->journal_close_rc = journal_close(s->journal);
		s->journal = NULL;
	}
	return 0;
}
