/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The shard's frame handling, driven without a socket: a fake netdev hands injected
 * mbufs to shard_poll() and captures what it sends, and every reply is checked through
 * wire_decode(). Covers every dedupe branch (stream head, skipping ahead, fencing,
 * duplicates within and beyond the dedupe window, out of sequence), table and ring limits, the mesh
 * hand-off between two shards, the request types, and garbage. After every test the
 * mbuf pools are full again: no leak on any path.
 */
#include "shard/shard_int.h"

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_lcore.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define POOL_MBUFS 512u
#define QUEUE_MAX 64u
#define TOPIC "orders"
#define PARTITIONS 4u
#define WINDOW 8u

/* A netdev whose queues are arrays: tests push RX, shards fill TX. */
struct fake_queue {
	struct rte_mbuf *rx[QUEUE_MAX];
	unsigned rx_n;
	struct rte_mbuf *tx[QUEUE_MAX];
	unsigned tx_n;
	unsigned tx_accept; /* how many more tx_burst accepts */
};

struct fake_dev {
	struct netdev nd;
	struct fake_queue q[2];
};

static uint16_t fake_rx_burst(struct netdev *nd, uint16_t queue, struct rte_mbuf **mbufs,
			      uint16_t n)
{
	struct fake_queue *q = &((struct fake_dev *)nd)->q[queue];
	unsigned k = q->rx_n < n ? q->rx_n : n;

	memcpy(mbufs, q->rx, k * sizeof(*mbufs));
	memmove(q->rx, q->rx + k, (q->rx_n - k) * sizeof(*mbufs));
	q->rx_n -= k;
	return (uint16_t)k;
}

static uint16_t fake_tx_burst(struct netdev *nd, uint16_t queue, struct rte_mbuf **mbufs,
			      uint16_t n)
{
	struct fake_queue *q = &((struct fake_dev *)nd)->q[queue];
	unsigned k = n;

	if (k > q->tx_accept) {
		k = q->tx_accept;
	}
	if (k > QUEUE_MAX - q->tx_n) {
		k = QUEUE_MAX - q->tx_n;
	}
	memcpy(q->tx + q->tx_n, mbufs, k * sizeof(*mbufs));
	q->tx_n += k;
	q->tx_accept -= k;
	return (uint16_t)k;
}

static void fake_close(struct netdev *nd)
{
	(void)nd;
}

static const struct netdev_ops fake_ops = {
	.rx_burst = fake_rx_burst,
	.tx_burst = fake_tx_burst,
	.close = fake_close,
};

struct fixture {
	struct fake_dev dev;
	struct rte_mempool *pool[2];
	struct route_table *routes;
	struct mesh *mesh;
	struct shard_conf conf;
	struct shard_env env;
	struct shard *shard[2];
	uint16_t shards;
};

static struct fixture fx;
static unsigned pool_id;

static void fixture_up_subs(uint16_t shards, uint32_t partitions_max, uint32_t producers_max,
			    uint32_t dedupe_window, bool auto_create, uint32_t subscriptions_max)
{
	struct route_topic topic = {.partitions = PARTITIONS, .name_len = sizeof(TOPIC) - 1};
	struct route_conf rc = {.partitions_default = 8,
				.auto_create = auto_create,
				.topic_count = 1,
				.topics = &topic};
	int sockets[2] = {0, 0};

	memset(&fx, 0, sizeof(fx));
	memcpy(topic.name, TOPIC, sizeof(TOPIC));
	fx.shards = shards;
	fx.dev.nd = (struct netdev){.ops = &fake_ops, .driver = "fake", .queues = shards};
	for (uint16_t i = 0; i < shards; i++) {
		char name[32];
		fx.dev.q[i].tx_accept = UINT32_MAX;
		(void)snprintf(name, sizeof(name), "test%u", pool_id++);
		assert_int_equal(netdev_pool_create(name, POOL_MBUFS, SL_WIRE_FRAME_BYTES_DEFAULT,
						    0, &fx.pool[i]),
				 0);
	}
	assert_int_equal(route_table_create(&rc, &fx.routes), 0);
	if (shards > 1) {
		assert_int_equal(mesh_create(shards, MESH_RING_SLOTS_MIN, sockets, &fx.mesh), 0);
	}
	fx.conf = (struct shard_conf){.shards = shards,
				      .burst = 32,
				      .frame_bytes_max = SL_WIRE_FRAME_BYTES_DEFAULT,
				      .partitions_max = partitions_max,
				      .producers_max = producers_max,
				      .dedupe_window = dedupe_window,
				      .producer_idle_s = 1,
				      .idle_sleep_us = 0,
				      .durable_acks_max = 64,
				      .subscriptions_max = subscriptions_max,
				      .consumer_timeout_ms = 1000,
				      .replay_cursors = 1,
				      .replay_buffer_bytes = 65536,
				      .ack_timeout_ms = 1000,
				      .redeliveries_max = 2,
				      .match_cache_topics = 64};
	assert_int_equal(shard_env_init(&fx.env, &fx.conf, fx.routes, &fx.dev.nd, fx.mesh), 0);
	for (uint16_t i = 0; i < shards; i++) {
		assert_int_equal(
			shard_create(&fx.env, i, rte_lcore_id(), 0, fx.pool[i], &fx.shard[i]), 0);
	}
}

static void fixture_up(uint16_t shards, uint32_t partitions_max, uint32_t producers_max,
		       uint32_t dedupe_window, bool auto_create)
{
	fixture_up_subs(shards, partitions_max, producers_max, dedupe_window, auto_create, 64);
}

static int setup_one(void **state)
{
	(void)state;
	fixture_up(1, 64, 64, WINDOW, true);
	return 0;
}

static int setup_two(void **state)
{
	(void)state;
	fixture_up(2, 64, 64, WINDOW, true);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (uint16_t i = 0; i < fx.shards; i++) {
		struct fake_queue *q = &fx.dev.q[i];
		rte_pktmbuf_free_bulk(q->rx, q->rx_n);
		rte_pktmbuf_free_bulk(q->tx, q->tx_n);
		shard_destroy(fx.shard[i]);
	}
	mesh_destroy(fx.mesh);
	shard_env_fini(&fx.env);
	route_table_destroy(fx.routes);
	for (uint16_t i = 0; i < fx.shards; i++) {
		/* The proof that no path leaks: every mbuf is back. */
		assert_int_equal(rte_mempool_avail_count(fx.pool[i]), POOL_MBUFS);
		rte_mempool_free(fx.pool[i]);
	}
	return 0;
}

static uint64_t counter(uint16_t shard, enum sl_stat stat)
{
	return shard_counters_get(&fx.env.counters[shard], stat);
}

/* Queues raw bytes as a datagram from 10.0.0.1:4000 on the queue of `shard`. */
static void inject_raw(uint16_t shard, const void *data, uint32_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(fx.pool[shard]);
	struct fake_queue *q = &fx.dev.q[shard];

	assert_non_null(m);
	assert_true(q->rx_n < QUEUE_MAX);
	memcpy(rte_pktmbuf_mtod(m, void *), data, len);
	m->data_len = (uint16_t)len;
	m->pkt_len = len;
	netdev_mbuf_peer(m)->ip4 = htonl(0x0a000001);
	netdev_mbuf_peer(m)->port = htons(4000);
	q->rx[q->rx_n++] = m;
}

/* Ack level of a test PRODUCE: zero-initialised means "received". */
enum test_acks {
	TEST_ACKS_RECEIVED = 0,
	TEST_ACKS_NONE,
	TEST_ACKS_DURABLE,
};

struct produce {
	const char *topic;
	uint64_t producer_id;
	uint32_t epoch;
	uint64_t sequence;
	uint32_t partition;
	uint16_t records;
	enum test_acks acks;
	bool head;
};

static uint32_t build_produce(uint8_t *buf, const struct produce *p)
{
	struct sl_wire_header h;
	struct wire_builder b;

	wire_header_init(&h, SL_WIRE_PRODUCE);
	h.producer_id = p->producer_id != 0 ? p->producer_id : 1;
	h.producer_epoch = p->epoch != 0 ? p->epoch : 1;
	h.sequence = p->sequence;
	h.partition = p->partition;
	h.ack_level = p->acks == TEST_ACKS_NONE	     ? SL_ACKS_NONE
		      : p->acks == TEST_ACKS_DURABLE ? SL_ACKS_DURABLE
						     : SL_ACKS_RECEIVED;
	h.flags = p->head ? SL_WIRE_FLAG_STREAM_HEAD : 0;
	const char *topic = p->topic != NULL ? p->topic : TOPIC;
	assert_int_equal(wire_begin(&b, buf, SL_WIRE_FRAME_BYTES_DEFAULT, &h, topic, strlen(topic)),
			 0);
	for (uint16_t i = 0; i < (p->records > 0 ? p->records : 1); i++) {
		assert_int_equal(wire_add_record(&b, "k", 1, "value", 5, 1000 + i), 0);
	}
	return wire_finish(&b);
}

static void inject_produce(uint16_t shard, struct produce p)
{
	uint8_t buf[SL_WIRE_FRAME_BYTES_DEFAULT];

	inject_raw(shard, buf, build_produce(buf, &p));
}

static void inject_request(uint16_t shard, enum sl_wire_type type, uint64_t sequence,
			   const char *topic, const void *body, uint32_t body_len)
{
	uint8_t buf[SL_WIRE_FRAME_BYTES_DEFAULT];
	struct sl_wire_header h;
	struct wire_builder b;

	wire_header_init(&h, type);
	h.producer_id = 77;
	h.sequence = sequence;
	assert_int_equal(
		wire_begin(&b, buf, sizeof(buf), &h, topic, topic != NULL ? strlen(topic) : 0), 0);
	if (body_len > 0) {
		assert_int_equal(wire_add_body(&b, body, body_len), 0);
	}
	inject_raw(shard, buf, wire_finish(&b));
}

/* One sent reply, decoded. */
struct reply {
	struct sl_wire_header hdr;
	char topic[256];
	uint8_t body[SL_WIRE_FRAME_BYTES_DEFAULT];
	uint32_t body_len;
	struct netdev_peer peer;
};

/* Takes the oldest reply queue `shard` sent; it must decode. */
static struct reply take_reply(uint16_t shard)
{
	struct fake_queue *q = &fx.dev.q[shard];
	struct reply r;
	struct wire_frame f;

	assert_true(q->tx_n > 0);
	struct rte_mbuf *m = q->tx[0];
	memmove(q->tx, q->tx + 1, (q->tx_n - 1) * sizeof(q->tx[0]));
	q->tx_n--;
	memset(&r, 0, sizeof(r));
	assert_int_equal(wire_decode(rte_pktmbuf_mtod(m, void *), m->data_len,
				     SL_WIRE_FRAME_BYTES_DEFAULT, &f),
			 SL_WIRE_OK);
	r.hdr = f.hdr;
	memcpy(r.topic, f.topic, f.hdr.topic_len);
	memcpy(r.body, f.body, f.body_len);
	r.body_len = f.body_len;
	r.peer = *netdev_mbuf_peer(m);
	rte_pktmbuf_free(m);
	return r;
}

static void expect_no_reply(uint16_t shard)
{
	assert_int_equal(fx.dev.q[shard].tx_n, 0);
}

static struct sl_wire_ack expect_ack(uint16_t shard, uint64_t sequence, enum sl_ack_status status,
				     uint64_t base)
{
	struct reply r = take_reply(shard);
	struct sl_wire_ack a;

	assert_int_equal(r.hdr.type, SL_WIRE_ACK);
	assert_int_equal(r.hdr.sequence, sequence);
	assert_string_equal(r.topic, TOPIC);
	assert_int_equal(r.peer.ip4, htonl(0x0a000001));
	assert_int_equal(r.peer.port, htons(4000));
	wire_ack_read(r.body, &a);
	assert_int_equal(a.status, status);
	assert_true(a.base_offset == base);
	return a;
}

static struct sl_wire_nack expect_nack(uint16_t shard, enum sl_nack_reason reason,
				       uint64_t expected)
{
	struct reply r = take_reply(shard);
	struct sl_wire_nack n;

	assert_int_equal(r.hdr.type, SL_WIRE_NACK);
	wire_nack_read(r.body, &n);
	assert_int_equal(n.reason, reason);
	assert_true(n.expected == expected);
	return n;
}

/* A PRODUCE of TOPIC; producer id and epoch 0 stand for 1 (see build_produce). */
#define P(...) ((struct produce){__VA_ARGS__})

static void test_shard_produce_stream_head_starts_stream(void **state)
{
	(void)state;
	inject_produce(0, P(.sequence = 5, .head = true, .records = 3));
	inject_produce(0, P(.sequence = 6, .records = 2));
	inject_produce(0, P(.sequence = 7));
	assert_int_equal(shard_poll(fx.shard[0]), 3);
	expect_ack(0, 5, SL_ACK_APPENDED, 0);
	expect_ack(0, 6, SL_ACK_APPENDED, 3);
	expect_ack(0, 7, SL_ACK_APPENDED, 5);
	assert_int_equal(counter(0, SL_STAT_APPENDED_BATCHES), 3);
	assert_int_equal(counter(0, SL_STAT_APPENDED_EVENTS), 6);
	assert_int_equal(counter(0, SL_STAT_ACKS), 3);
	assert_int_equal(counter(0, SL_STAT_PRODUCE_FRAMES), 3);
	assert_int_equal(counter(0, SL_STAT_RX_DATAGRAMS), 3);
	assert_int_equal(counter(0, SL_STAT_TX_DATAGRAMS), 3);
}

static void test_shard_produce_without_state_needs_stream_head(void **state)
{
	(void)state;
	inject_produce(0, P(.sequence = 0));
	shard_poll(fx.shard[0]);
	expect_nack(0, SL_NACK_OUT_OF_SEQUENCE, UINT64_MAX);
	assert_int_equal(counter(0, SL_STAT_DROP_OUT_OF_SEQUENCE), 1);
	assert_int_equal(counter(0, SL_STAT_NACKS), 1);
	/* Nothing was appended: the stream starts at offset 0 afterwards. */
	inject_produce(0, P(.sequence = 0, .head = true));
	shard_poll(fx.shard[0]);
	expect_ack(0, 0, SL_ACK_APPENDED, 0);
}

static void test_shard_produce_offsets_per_partition(void **state)
{
	(void)state;
	inject_produce(0, P(.sequence = 0, .head = true, .records = 2));
	inject_produce(0, P(.sequence = 0, .head = true, .records = 2, .partition = 1));
	inject_produce(0, P(.producer_id = 2, .sequence = 0, .head = true, .records = 4));
	shard_poll(fx.shard[0]);
	expect_ack(0, 0, SL_ACK_APPENDED, 0);
	expect_ack(0, 0, SL_ACK_APPENDED, 0);
	expect_ack(0, 0, SL_ACK_APPENDED, 2); /* second producer, same partition */
}

static void test_shard_produce_newer_epoch_restarts_stream(void **state)
{
	(void)state;
	inject_produce(0, P(.sequence = 0, .head = true));
	inject_produce(0, P(.sequence = 1));
	inject_produce(0, P(.epoch = 2, .sequence = 0));	       /* no head: refused */
	inject_produce(0, P(.epoch = 2, .sequence = 0, .head = true)); /* restarts */
	inject_produce(0, P(.epoch = 2, .sequence = 1));
	shard_poll(fx.shard[0]);
	expect_ack(0, 0, SL_ACK_APPENDED, 0);
	expect_ack(0, 1, SL_ACK_APPENDED, 1);
	expect_nack(0, SL_NACK_OUT_OF_SEQUENCE, UINT64_MAX);
	expect_ack(0, 0, SL_ACK_APPENDED, 2);
	expect_ack(0, 1, SL_ACK_APPENDED, 3);
}

static void test_shard_produce_older_epoch_is_fenced(void **state)
{
	(void)state;
	inject_produce(0, P(.epoch = 3, .sequence = 0, .head = true));
	inject_produce(0, P(.epoch = 2, .sequence = 1));
	inject_produce(0, P(.epoch = 2, .sequence = 0, .head = true));
	shard_poll(fx.shard[0]);
	expect_ack(0, 0, SL_ACK_APPENDED, 0);
	expect_nack(0, SL_NACK_FENCED, 3);
	expect_nack(0, SL_NACK_FENCED, 3);
	assert_int_equal(counter(0, SL_STAT_DROP_FENCED), 2);
}

static void test_shard_produce_duplicate_answers_remembered_offset(void **state)
{
	(void)state;
	inject_produce(0, P(.sequence = 0, .head = true, .records = 2));
	inject_produce(0, P(.sequence = 1, .records = 3));
	inject_produce(0, P(.sequence = 0, .records = 2));
	inject_produce(0, P(.sequence = 1, .records = 3));
	/* A retransmitted stream head of an existing stream is a duplicate too. */
	inject_produce(0, P(.sequence = 0, .head = true, .records = 2));
	shard_poll(fx.shard[0]);
	expect_ack(0, 0, SL_ACK_APPENDED, 0);
	expect_ack(0, 1, SL_ACK_APPENDED, 2);
	expect_ack(0, 0, SL_ACK_DUPLICATE, 0);
	expect_ack(0, 1, SL_ACK_DUPLICATE, 2);
	expect_ack(0, 0, SL_ACK_DUPLICATE, 0);
	assert_int_equal(counter(0, SL_STAT_DUPLICATES), 3);
	assert_int_equal(counter(0, SL_STAT_APPENDED_BATCHES), 2);
}

/* Regression: the window used to be a constant 8, far below what producers keep in
 * flight, so retransmits after ~9 batches were acked with an unknown offset. */
static void test_shard_produce_duplicate_within_window_gets_offset(void **state)
{
	const uint32_t window = 5; /* not a power of two: slots are sequence mod window */
	const uint64_t appended = 3 * window + 2;

	(void)state;
	teardown(NULL);
	fixture_up(1, 64, 64, window, true);
	for (uint64_t seq = 0; seq < appended; seq++) {
		inject_produce(0, P(.sequence = seq, .head = seq == 0, .records = 2));
	}
	shard_poll(fx.shard[0]);
	for (uint64_t seq = 0; seq < appended; seq++) {
		expect_ack(0, seq, SL_ACK_APPENDED, 2 * seq);
	}
	/* The last `window` batches are told their offsets, oldest and newest included. */
	for (uint64_t seq = appended - window; seq < appended; seq++) {
		inject_produce(0, P(.sequence = seq, .records = 2));
	}
	shard_poll(fx.shard[0]);
	for (uint64_t seq = appended - window; seq < appended; seq++) {
		expect_ack(0, seq, SL_ACK_DUPLICATE, 2 * seq);
	}
	assert_int_equal(counter(0, SL_STAT_DUPLICATES), window);
	assert_int_equal(counter(0, SL_STAT_APPENDED_BATCHES), appended);
}

static void test_shard_produce_duplicate_beyond_window_is_unknown(void **state)
{
	(void)state;
	for (uint64_t seq = 0; seq <= WINDOW; seq++) {
		inject_produce(0, P(.sequence = seq, .head = seq == 0));
	}
	inject_produce(0, P(.sequence = 0));
	inject_produce(0, P(.sequence = 1));
	shard_poll(fx.shard[0]);
	for (uint64_t seq = 0; seq <= WINDOW; seq++) {
		expect_ack(0, seq, SL_ACK_APPENDED, seq);
	}
	/* Still a duplicate (never appended twice), but its offset is no longer known. */
	expect_ack(0, 0, SL_ACK_DUPLICATE, SL_OFFSET_UNKNOWN);
	expect_ack(0, 1, SL_ACK_DUPLICATE, 1);
	assert_int_equal(counter(0, SL_STAT_APPENDED_BATCHES), WINDOW + 1);
}

static void test_shard_produce_stream_head_skips_ahead(void **state)
{
	(void)state;
	inject_produce(0, P(.sequence = 0, .head = true, .records = 2));
	inject_produce(0, P(.sequence = 1, .records = 3));
	inject_produce(0, P(.sequence = 4, .records = 1));		 /* no head: refused */
	inject_produce(0, P(.sequence = 4, .head = true, .records = 1)); /* skips 2 and 3 */
	inject_produce(0, P(.sequence = 5, .records = 1));
	inject_produce(0, P(.sequence = 4, .records = 1)); /* retransmit of the new head */
	inject_produce(0, P(.sequence = 1, .records = 3)); /* appended before the skip */
	shard_poll(fx.shard[0]);
	expect_ack(0, 0, SL_ACK_APPENDED, 0);
	expect_ack(0, 1, SL_ACK_APPENDED, 2);
	expect_nack(0, SL_NACK_OUT_OF_SEQUENCE, 2);
	expect_ack(0, 4, SL_ACK_APPENDED, 5);
	expect_ack(0, 5, SL_ACK_APPENDED, 6);
	expect_ack(0, 4, SL_ACK_DUPLICATE, 5);
	expect_ack(0, 1, SL_ACK_DUPLICATE, SL_OFFSET_UNKNOWN);
	assert_int_equal(counter(0, SL_STAT_APPENDED_BATCHES), 4);
	assert_int_equal(counter(0, SL_STAT_APPENDED_EVENTS), 7);
	assert_int_equal(counter(0, SL_STAT_DROP_OUT_OF_SEQUENCE), 1);
}

/* With acks=none every batch is a stream head: a lost datagram must not wedge the
 * stream, whose later batches would otherwise all be refused without anyone noticing. */
static void test_shard_produce_ack_none_survives_lost_batch(void **state)
{
	(void)state;
	inject_produce(0, P(.sequence = 0, .head = true, .acks = TEST_ACKS_NONE));
	/* sequence 1 lost on the way */
	inject_produce(0, P(.sequence = 2, .head = true, .acks = TEST_ACKS_NONE));
	inject_produce(0, P(.sequence = 3, .head = true, .acks = TEST_ACKS_NONE));
	shard_poll(fx.shard[0]);
	expect_no_reply(0);
	assert_int_equal(counter(0, SL_STAT_APPENDED_BATCHES), 3);
	assert_int_equal(counter(0, SL_STAT_DROP_OUT_OF_SEQUENCE), 0);
	/* Offsets stayed contiguous: the next stream's batch lands right after them. */
	inject_produce(0, P(.producer_id = 2, .sequence = 0, .head = true));
	shard_poll(fx.shard[0]);
	expect_ack(0, 0, SL_ACK_APPENDED, 3);
}

static void test_shard_produce_gap_is_out_of_sequence(void **state)
{
	(void)state;
	inject_produce(0, P(.sequence = 10, .head = true));
	inject_produce(0, P(.sequence = 12));
	inject_produce(0, P(.sequence = 11));
	shard_poll(fx.shard[0]);
	expect_ack(0, 10, SL_ACK_APPENDED, 0);
	expect_nack(0, SL_NACK_OUT_OF_SEQUENCE, 11);
	expect_ack(0, 11, SL_ACK_APPENDED, 1);
}

static void test_shard_produce_ack_none_sends_nothing(void **state)
{
	(void)state;
	inject_produce(0, P(.sequence = 0, .head = true, .acks = TEST_ACKS_NONE));
	inject_produce(0, P(.sequence = 5, .acks = TEST_ACKS_NONE));
	shard_poll(fx.shard[0]);
	expect_no_reply(0);
	assert_int_equal(counter(0, SL_STAT_APPENDED_BATCHES), 1);
	assert_int_equal(counter(0, SL_STAT_DROP_OUT_OF_SEQUENCE), 1);
	assert_int_equal(counter(0, SL_STAT_ACKS) + counter(0, SL_STAT_NACKS), 0);
}

static void test_shard_produce_durable_is_refused_before_append(void **state)
{
	(void)state;
	inject_produce(0, P(.sequence = 0, .head = true, .acks = TEST_ACKS_DURABLE));
	inject_produce(0, P(.sequence = 0, .head = true));
	shard_poll(fx.shard[0]);
	expect_nack(0, SL_NACK_STORAGE, 0);
	expect_ack(0, 0, SL_ACK_APPENDED, 0);
	assert_int_equal(counter(0, SL_STAT_DROP_STORAGE), 1);
}

/* ---- with a journal ---- */

static char journal_root[] = "/tmp/sluice-shard-test-XXXXXX";

/* Opens shard `shard`'s journal in journal_root; returns shard_journal_open()'s result. */
static int journal_open_rc(uint16_t shard)
{
	char dir[128];
	struct journal_conf jc = {
		.dir = dir,
		.shard = shard,
		.socket = -1,
		.segment_bytes = 1u << 20,
		.flush_bytes = 64u << 10,
		.flush_us = 0,
		.fsync = JOURNAL_FSYNC_ALWAYS,
		.buffers = 4,
		.direct_io = false,
		.io = JOURNAL_IO_AUTO,
		.counters = &fx.env.counters[shard].v[SL_STAT_JOURNAL_BATCHES],
	};

	(void)snprintf(dir, sizeof(dir), "%s/" JOURNAL_SHARD_DIR_FORMAT, journal_root, shard);
	return shard_journal_open(fx.shard[shard], &jc);
}

static void journal_attach(uint16_t shard)
{
	assert_int_equal(journal_open_rc(shard), 0);
}

static int setup_one_journal(void **state)
{
	(void)state;
	fixture_up(1, 64, 64, WINDOW, true);
	(void)snprintf(journal_root, sizeof(journal_root), "/tmp/sluice-shard-test-XXXXXX");
	assert_non_null(mkdtemp(journal_root));
	journal_attach(0);
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path) == 0 ? 0 : -1;
}

static int teardown_journal(void **state)
{
	int rc = teardown(state);

	(void)nftw(journal_root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}

/* Polls shard 0 until it sent a reply, for at most 10 s. */
static void poll_until_reply(void)
{
	uint64_t deadline = rte_get_tsc_cycles() + 10 * rte_get_tsc_hz();

	while (fx.dev.q[0].tx_n == 0 && rte_get_tsc_cycles() < deadline) {
		shard_poll(fx.shard[0]);
	}
}

static void test_shard_durable_ack_waits_for_fdatasync(void **state)
{
	(void)state;
	inject_produce(0, P(.sequence = 0, .head = true, .records = 3, .acks = TEST_ACKS_DURABLE));
	shard_poll(fx.shard[0]);
	struct journal *j = fx.shard[0]->journal;
	/* Whatever the timing, no ack before the batch's fdatasync completed. */
	if (journal_durable_end(j) < journal_appended_end(j)) {
		expect_no_reply(0);
	}
	poll_until_reply();
	assert_true(journal_durable_end(j) >= journal_appended_end(j));
	assert_true(counter(0, SL_STAT_JOURNAL_FSYNCS) >= 1);
	struct sl_wire_ack a = expect_ack(0, 0, SL_ACK_APPENDED, 0);
	assert_int_equal(a.ack_level, SL_ACKS_DURABLE);
	assert_int_equal(counter(0, SL_STAT_DURABLE_ACKS), 1);
	assert_int_equal(counter(0, SL_STAT_JOURNAL_BATCHES), 1);

	/* A retransmit of it is a duplicate, durable too. */
	inject_produce(0, P(.sequence = 0, .head = true, .records = 3, .acks = TEST_ACKS_DURABLE));
	poll_until_reply();
	expect_ack(0, 0, SL_ACK_DUPLICATE, 0);
	assert_int_equal(counter(0, SL_STAT_JOURNAL_BATCHES), 1);
}

static void test_shard_journal_replay_restores_offsets_and_streams(void **state)
{
	(void)state;
	for (uint64_t q = 0; q < 3; q++) {
		inject_produce(0, P(.sequence = q, .head = q == 0, .records = 2));
	}
	shard_poll(fx.shard[0]);
	expect_ack(0, 0, SL_ACK_APPENDED, 0);
	expect_ack(0, 1, SL_ACK_APPENDED, 2);
	expect_ack(0, 2, SL_ACK_APPENDED, 4);

	/* A restart: a new shard on the same journal. */
	assert_int_equal(shard_destroy(fx.shard[0]), 0);
	assert_int_equal(shard_create(&fx.env, 0, rte_lcore_id(), 0, fx.pool[0], &fx.shard[0]), 0);
	journal_attach(0);

	inject_produce(0, P(.sequence = 2, .records = 2));
	inject_produce(0, P(.sequence = 3, .records = 2));
	inject_produce(0, P(.producer_id = 9, .sequence = 0, .head = true));
	shard_poll(fx.shard[0]);
	expect_ack(0, 2, SL_ACK_DUPLICATE, 4);
	expect_ack(0, 3, SL_ACK_APPENDED, 6);
	expect_ack(0, 0, SL_ACK_APPENDED, 8);
}

static void test_shard_journal_recovers_across_a_window_change(void **state)
{
	(void)state;
	for (uint64_t q = 0; q < 10; q++) {
		inject_produce(0, P(.sequence = q, .head = q == 0));
	}
	shard_poll(fx.shard[0]);
	for (uint64_t q = 0; q < 10; q++) {
		expect_ack(0, q, SL_ACK_APPENDED, q);
	}

	/* A restart with a larger --dedupe-window: the tail since the last index is read
	 * with the new window (journal_state_set_window() adapts a loaded index). */
	assert_int_equal(shard_destroy(fx.shard[0]), 0);
	fx.shard[0] = NULL;
	teardown(NULL);
	fixture_up(1, 64, 64, 2 * WINDOW, true);
	journal_attach(0);
	inject_produce(0, P(.sequence = 9));
	inject_produce(0, P(.sequence = 2));
	inject_produce(0, P(.sequence = 1));
	inject_produce(0, P(.sequence = 10));
	shard_poll(fx.shard[0]);
	expect_ack(0, 9, SL_ACK_DUPLICATE, 9);
	expect_ack(0, 2, SL_ACK_DUPLICATE, 2);
	expect_ack(0, 1, SL_ACK_DUPLICATE, 1);
	expect_ack(0, 10, SL_ACK_APPENDED, 10);
}

static void test_shard_journal_open_refuses_another_shard_count(void **state)
{
	(void)state;
	for (uint32_t p = 0; p < PARTITIONS; p++) {
		inject_produce(0, P(.sequence = 0, .head = true, .partition = p));
	}
	shard_poll(fx.shard[0]);
	for (uint32_t p = 0; p < PARTITIONS; p++) {
		expect_ack(0, 0, SL_ACK_APPENDED, 0);
	}

	/* The same directory as shard 0 of two: it holds partitions shard 1 owns. */
	assert_int_equal(shard_destroy(fx.shard[0]), 0);
	fx.shard[0] = NULL;
	teardown(NULL);
	fixture_up(2, 64, 64, WINDOW, true);
	assert_int_equal(journal_open_rc(0), -EPROTO);
}

static void test_shard_produce_unknown_partition(void **state)
{
	(void)state;
	inject_produce(0, P(.sequence = 0, .head = true, .partition = PARTITIONS));
	inject_produce(0, P(.topic = "other", .sequence = 0, .head = true, .partition = 8));
	inject_produce(0, P(.topic = "other", .sequence = 0, .head = true, .partition = 7));
	shard_poll(fx.shard[0]);
	struct sl_wire_nack n = expect_nack(0, SL_NACK_UNKNOWN_TOPIC, 0);
	assert_int_equal(n.detail, PARTITIONS);
	n = expect_nack(0, SL_NACK_UNKNOWN_TOPIC, 0);
	assert_int_equal(n.detail, 8);
	struct reply r = take_reply(0);
	assert_int_equal(r.hdr.type, SL_WIRE_ACK);
	assert_string_equal(r.topic, "other");
	assert_int_equal(counter(0, SL_STAT_DROP_UNKNOWN_TOPIC), 2);
}

static void test_shard_produce_unknown_topic_without_auto_create(void **state)
{
	(void)state;
	teardown(NULL);
	fixture_up(1, 64, 64, WINDOW, false);
	inject_produce(0, P(.topic = "other", .sequence = 0, .head = true));
	inject_produce(0, P(.sequence = 0, .head = true));
	shard_poll(fx.shard[0]);
	struct sl_wire_nack n = expect_nack(0, SL_NACK_UNKNOWN_TOPIC, 0);
	assert_int_equal(n.detail, 0);
	expect_ack(0, 0, SL_ACK_APPENDED, 0);
}

static void test_shard_produce_partitions_full_is_busy(void **state)
{
	(void)state;
	teardown(NULL);
	fixture_up(1, SHARD_TABLE_ENTRIES_MIN, 64, WINDOW, true);
	for (uint32_t p = 0; p <= SHARD_TABLE_ENTRIES_MIN; p++) {
		inject_produce(0, P(.topic = "other", .sequence = 0, .head = true,
				    .partition = p % 8, .producer_id = 1 + p / 8));
	}
	inject_produce(0, P(.sequence = 0, .head = true)); /* a ninth partition */
	shard_poll(fx.shard[0]);
	for (uint32_t p = 0; p <= SHARD_TABLE_ENTRIES_MIN; p++) {
		assert_int_equal(take_reply(0).hdr.type, SL_WIRE_ACK);
	}
	expect_nack(0, SL_NACK_BUSY, 0);
	assert_int_equal(counter(0, SL_STAT_DROP_PARTITIONS_FULL), 1);
}

static void test_shard_produce_producers_full_is_busy(void **state)
{
	(void)state;
	teardown(NULL);
	fixture_up(1, 64, SHARD_TABLE_ENTRIES_MIN, WINDOW, true);
	for (uint64_t id = 1; id <= SHARD_TABLE_ENTRIES_MIN + 1; id++) {
		inject_produce(0, P(.producer_id = id, .sequence = 0, .head = true));
	}
	shard_poll(fx.shard[0]);
	for (uint64_t id = 1; id <= SHARD_TABLE_ENTRIES_MIN; id++) {
		expect_ack(0, 0, SL_ACK_APPENDED, id - 1);
	}
	expect_nack(0, SL_NACK_BUSY, 0);
	assert_int_equal(counter(0, SL_STAT_DROP_PRODUCERS_FULL), 1);
}

static void test_shard_producers_sweep_forgets_idle_streams(void **state)
{
	struct shard *s = fx.shard[0];

	(void)state;
	inject_produce(0, P(.sequence = 0, .head = true));
	shard_poll(s);
	expect_ack(0, 0, SL_ACK_APPENDED, 0);
	shard_producers_sweep(s, SHARD_SWEEP_STEP); /* not idle yet: kept */
	assert_int_equal(rte_hash_count(s->producers), 1);
	s->now_tsc = rte_rdtsc() + 2 * rte_get_tsc_hz(); /* two seconds later */
	for (unsigned i = 0; i < 64 && rte_hash_count(s->producers) > 0; i++) {
		shard_producers_sweep(s, SHARD_SWEEP_STEP);
	}
	assert_int_equal(rte_hash_count(s->producers), 0);
	/* Forgotten: a retransmit is no longer a duplicate, but the offsets live on. */
	inject_produce(0, P(.sequence = 1));
	inject_produce(0, P(.sequence = 1, .head = true));
	shard_poll(s);
	expect_nack(0, SL_NACK_OUT_OF_SEQUENCE, UINT64_MAX);
	expect_ack(0, 1, SL_ACK_APPENDED, 1);
}

static void test_shard_poll_garbage_gets_no_reply(void **state)
{
	uint8_t junk[200];

	(void)state;
	memset(junk, 0xab, sizeof(junk));
	inject_raw(0, junk, sizeof(junk));
	inject_raw(0, junk, 3);
	shard_poll(fx.shard[0]);
	expect_no_reply(0);
	assert_int_equal(counter(0, SL_STAT_DROP_BAD_MAGIC), 1);
	assert_int_equal(counter(0, SL_STAT_DROP_TRUNCATED), 1);
}

static void test_shard_poll_bad_frames_get_nacks(void **state)
{
	uint8_t buf[SL_WIRE_FRAME_BYTES_DEFAULT + 64];
	uint32_t len = build_produce(buf, &P(.sequence = 0, .head = true));

	(void)state;
	buf[len - 1] ^= 1; /* bad CRC */
	inject_raw(0, buf, len);
	inject_raw(0, buf, SL_WIRE_HEADER_BYTES + 8); /* truncated */
	buf[4] = 9;				      /* version */
	inject_raw(0, buf, len);
	memset(buf + len, 0, 64);
	buf[4] = SL_WIRE_VERSION;
	inject_raw(0, buf, SL_WIRE_FRAME_BYTES_DEFAULT + 8); /* too large */
	shard_poll(fx.shard[0]);
	struct reply r = take_reply(0);
	assert_int_equal(r.hdr.type, SL_WIRE_NACK);
	assert_string_equal(r.topic, TOPIC);
	assert_int_equal(r.hdr.producer_id, 1);
	assert_int_equal(wire_get_u16(r.body), SL_NACK_BAD_CRC);
	expect_nack(0, SL_NACK_MALFORMED, 0);
	expect_nack(0, SL_NACK_UNSUPPORTED_VERSION, 0);
	/* A PRODUCE's limit: the frame limit less what its DELIVER adds. */
	struct sl_wire_nack n = expect_nack(0, SL_NACK_TOO_LARGE, 0);
	assert_int_equal(n.detail, SL_WIRE_FRAME_BYTES_DEFAULT - SL_WIRE_DELIVER_EXTRA_BYTES);
	assert_int_equal(counter(0, SL_STAT_DROP_BAD_CRC), 1);
	assert_int_equal(counter(0, SL_STAT_DROP_TRUNCATED), 1);
	assert_int_equal(counter(0, SL_STAT_DROP_BAD_VERSION), 1);
	assert_int_equal(counter(0, SL_STAT_DROP_TOO_LARGE), 1);
}

static void test_shard_poll_replies_are_not_answered(void **state)
{
	uint8_t body[16] = {0};
	const struct sl_wire_heartbeat heartbeat = {.subscriptions = 1};

	(void)state;
	inject_request(0, SL_WIRE_ACK, 0, TOPIC, body, 16);
	inject_request(0, SL_WIRE_PONG, 0, NULL, body, 8);
	/* A request for comparison: a heartbeat of an unknown subscriber is answered. */
	inject_request(0, SL_WIRE_HEARTBEAT, 0, NULL, &heartbeat, sizeof(heartbeat));
	shard_poll(fx.shard[0]);
	expect_nack(0, SL_NACK_UNKNOWN_SUBSCRIPTION, 0);
	expect_no_reply(0);
	assert_int_equal(counter(0, SL_STAT_DROP_UNEXPECTED), 2);
}

static void test_shard_poll_ping_echoes_body(void **state)
{
	(void)state;
	inject_request(0, SL_WIRE_PING, 9, NULL, "0123456789abcdef", 16);
	shard_poll(fx.shard[0]);
	struct reply r = take_reply(0);
	assert_int_equal(r.hdr.type, SL_WIRE_PONG);
	assert_int_equal(r.hdr.producer_id, 77);
	assert_int_equal(r.hdr.sequence, 9);
	assert_int_equal(r.body_len, 16);
	assert_memory_equal(r.body, "0123456789abcdef", 16);
	assert_int_equal(counter(0, SL_STAT_PINGS), 1);
}

static void test_shard_poll_metadata_lists_topics(void **state)
{
	struct sl_wire_metadata md;

	(void)state;
	inject_request(0, SL_WIRE_METADATA_REQUEST, 0, NULL, NULL, 0);
	inject_request(0, SL_WIRE_METADATA_REQUEST, 0, "other", NULL, 0);
	shard_poll(fx.shard[0]);
	struct reply r = take_reply(0);
	assert_int_equal(r.hdr.type, SL_WIRE_METADATA_RESPONSE);
	wire_metadata_read(r.body, &md);
	/* Producers are told the limit whose DELIVERs fit the router's frames. */
	assert_int_equal(md.produce_bytes_max,
			 SL_WIRE_FRAME_BYTES_DEFAULT - SL_WIRE_DELIVER_EXTRA_BYTES);
	assert_int_equal(md.partitions_default, 8);
	assert_int_equal(md.shards, 1);
	assert_int_equal(md.auto_create, 1);
	assert_int_equal(md.stream_batches_max, WINDOW);
	assert_int_equal(md.topic_count, 1);
	assert_int_equal(wire_get_u32(r.body + 16), PARTITIONS);
	assert_int_equal(r.body[20], 6);
	assert_memory_equal(r.body + 24, TOPIC, 6);
	assert_int_equal(r.hdr.flags & SL_WIRE_FLAG_TRUNCATED, 0);
	r = take_reply(0);
	wire_metadata_read(r.body, &md);
	assert_string_equal(r.topic, "other");
	assert_int_equal(md.topic_count, 1);
	assert_int_equal(wire_get_u32(r.body + 16), 8);
	assert_int_equal(counter(0, SL_STAT_METADATA_REQUESTS), 2);
}

static void test_shard_poll_metadata_truncates_topic_list(void **state)
{
	static struct route_topic topics[64];
	struct route_conf rc = {
		.partitions_default = 8, .auto_create = true, .topic_count = 64, .topics = topics};
	struct sl_wire_metadata md;

	(void)state;
	for (unsigned i = 0; i < 64; i++) {
		memset(&topics[i], 0, sizeof(topics[i]));
		topics[i].name_len = (uint8_t)snprintf(topics[i].name, sizeof(topics[i].name),
						       "topic-with-a-long-name-%02u", i);
		topics[i].partitions = i + 1;
	}
	route_table_destroy(fx.routes);
	assert_int_equal(route_table_create(&rc, &fx.routes), 0);
	fx.env.routes = fx.routes;
	inject_request(0, SL_WIRE_METADATA_REQUEST, 0, NULL, NULL, 0);
	shard_poll(fx.shard[0]);
	struct reply r = take_reply(0);
	wire_metadata_read(r.body, &md);
	assert_true(md.topic_count > 10 && md.topic_count < 64);
	assert_int_equal(r.hdr.flags & SL_WIRE_FLAG_TRUNCATED, SL_WIRE_FLAG_TRUNCATED);
}

static void test_shard_poll_stats_of_any_shard(void **state)
{
	struct sl_wire_stats st;

	(void)state;
	inject_produce(1, P(.sequence = 0, .head = true, .acks = TEST_ACKS_NONE));
	shard_poll(fx.shard[1]);
	shard_poll(fx.shard[0]);
	inject_request(0, SL_WIRE_STATS_REQUEST, 1, NULL, NULL, 0);
	inject_request(0, SL_WIRE_STATS_REQUEST, 2, NULL, NULL, 0);
	shard_poll(fx.shard[0]);
	struct reply r = take_reply(0);
	assert_int_equal(r.hdr.type, SL_WIRE_STATS_RESPONSE);
	wire_stats_read(r.body, &st);
	assert_int_equal(st.shard, 1);
	assert_int_equal(st.shards, 2);
	assert_int_equal(st.counter_count, SL_STAT_COUNT);
	assert_int_equal(st.lcore, rte_lcore_id());
	assert_int_equal(wire_get_u64(r.body + 16 + 8 * SL_STAT_RX_DATAGRAMS), 1);
	assert_int_equal(wire_get_u64(r.body + 16 + 8 * SL_STAT_PRODUCE_FRAMES), 1);
	struct sl_wire_nack n = expect_nack(0, SL_NACK_MALFORMED, 2);
	assert_int_equal(n.detail, SL_WIRE_REJECT_BAD_FIELD);
	assert_int_equal(counter(0, SL_STAT_STATS_REQUESTS), 2);
}

/* A partition of TOPIC that shard `owner` of two owns. */
static uint32_t partition_of(uint16_t owner)
{
	for (uint32_t p = 0; p < PARTITIONS; p++) {
		if (route_owner((const uint8_t *)TOPIC, strlen(TOPIC), p, 2) == owner) {
			return p;
		}
	}
	fail();
	return 0;
}

static void test_shard_poll_hands_batch_to_owner(void **state)
{
	uint32_t p1 = partition_of(1);
	uint32_t p0 = partition_of(0);

	(void)state;
	inject_produce(0, P(.sequence = 0, .head = true, .partition = p1, .records = 2));
	inject_produce(0, P(.sequence = 0, .head = true, .partition = p0));
	shard_poll(fx.shard[0]);
	expect_ack(0, 0, SL_ACK_APPENDED, 0); /* p0, answered by shard 0 */
	expect_no_reply(0);
	assert_int_equal(counter(0, SL_STAT_MESH_OUT), 1);
	assert_int_equal(mesh_count(fx.mesh, 0, 1), 1);
	/* The owner appends and replies to the producer stored in the mbuf. */
	assert_int_equal(shard_poll(fx.shard[1]), 1);
	struct sl_wire_ack a = expect_ack(1, 0, SL_ACK_APPENDED, 0);
	(void)a;
	assert_int_equal(counter(1, SL_STAT_MESH_IN), 1);
	assert_int_equal(counter(1, SL_STAT_APPENDED_EVENTS), 2);
	assert_int_equal(counter(0, SL_STAT_PRODUCE_FRAMES), 1 + 1);
	/* Same stream from shard 1's own queue: continues the owner's state. */
	inject_produce(1, P(.sequence = 1, .partition = p1));
	shard_poll(fx.shard[1]);
	expect_ack(1, 1, SL_ACK_APPENDED, 2);
}

static void test_shard_poll_full_ring_is_busy(void **state)
{
	uint32_t p1 = partition_of(1);
	unsigned n = MESH_RING_SLOTS_MIN + 4;

	(void)state;
	for (uint64_t id = 1; id <= n; id++) {
		inject_produce(0,
			       P(.producer_id = id, .sequence = 0, .head = true, .partition = p1));
	}
	shard_poll(fx.shard[0]);
	for (unsigned i = 0; i < 4; i++) {
		expect_nack(0, SL_NACK_BUSY, 0);
	}
	assert_int_equal(counter(0, SL_STAT_DROP_MESH_FULL), 4);
	assert_int_equal(counter(0, SL_STAT_MESH_OUT), MESH_RING_SLOTS_MIN);
	shard_poll(fx.shard[1]);
	for (unsigned i = 0; i < MESH_RING_SLOTS_MIN; i++) {
		assert_int_equal(take_reply(1).hdr.type, SL_WIRE_ACK);
	}
}

static void test_mesh_destroy_frees_what_rings_hold(void **state)
{
	uint32_t p1 = partition_of(1);

	(void)state;
	for (uint64_t id = 1; id <= 5; id++) {
		inject_produce(0,
			       P(.producer_id = id, .sequence = 0, .head = true, .partition = p1));
	}
	shard_poll(fx.shard[0]);
	assert_int_equal(mesh_count(fx.mesh, 0, 1), 5);
	/* teardown() destroys the mesh with 5 mbufs inside and checks the pool is full. */
}

static void test_mesh_push_pop_transfers_in_order(void **state)
{
	struct rte_mbuf *in[8];
	struct rte_mbuf *out[8];

	(void)state;
	assert_int_equal(rte_pktmbuf_alloc_bulk(fx.pool[0], in, 8), 0);
	assert_int_equal(mesh_push_burst(fx.mesh, 0, 1, in, 8), 8);
	assert_int_equal(mesh_pop_burst(fx.mesh, 1, 0, out, 8), 0);
	assert_int_equal(mesh_pop_burst(fx.mesh, 0, 1, out, 3), 3);
	assert_int_equal(mesh_pop_burst(fx.mesh, 0, 1, out + 3, 8), 5);
	assert_memory_equal(in, out, sizeof(in));
	rte_pktmbuf_free_bulk(out, 8);
}

static void test_mesh_create_rejects_bad_bounds(void **state)
{
	struct mesh *m = NULL;
	int sockets[2] = {0, 0};

	(void)state;
	assert_int_equal(mesh_create(2, MESH_RING_SLOTS_MIN - 1, sockets, &m), -EINVAL);
	assert_int_equal(mesh_create(0, 64, sockets, &m), -EINVAL);
	assert_null(m);
}

static void test_shard_tx_flush_counts_refused_replies(void **state)
{
	(void)state;
	fx.dev.q[0].tx_accept = 1;
	inject_produce(0, P(.sequence = 0, .head = true));
	inject_produce(0, P(.sequence = 1));
	inject_produce(0, P(.sequence = 2));
	shard_poll(fx.shard[0]);
	expect_ack(0, 0, SL_ACK_APPENDED, 0);
	expect_no_reply(0);
	assert_int_equal(counter(0, SL_STAT_TX_DATAGRAMS), 1);
	assert_int_equal(counter(0, SL_STAT_TX_DROP_FULL), 2);
}

static void test_shard_reply_without_reusable_mbuf(void **state)
{
	struct rte_mbuf *hold[POOL_MBUFS];
	unsigned held = 0;

	(void)state;
	/* A shared request (refcnt 2) cannot be rewritten: the reply needs a new mbuf. */
	inject_request(0, SL_WIRE_PING, 1, NULL, "abcdefgh", 8);
	struct rte_mbuf *req = fx.dev.q[0].rx[0];
	rte_mbuf_refcnt_update(req, 1);
	shard_poll(fx.shard[0]);
	struct reply r = take_reply(0);
	assert_int_equal(r.hdr.type, SL_WIRE_PONG);
	assert_memory_equal(r.body, "abcdefgh", 8);
	assert_int_equal(r.peer.port, htons(4000));
	assert_int_equal(rte_mbuf_refcnt_read(req), 1);
	rte_pktmbuf_free(req);
	/* Again with the pool empty: the reply is dropped and counted. */
	inject_request(0, SL_WIRE_PING, 2, NULL, "abcdefgh", 8);
	req = fx.dev.q[0].rx[0];
	rte_mbuf_refcnt_update(req, 1);
	while (held < POOL_MBUFS && (hold[held] = rte_pktmbuf_alloc(fx.pool[0])) != NULL) {
		held++;
	}
	shard_poll(fx.shard[0]);
	expect_no_reply(0);
	assert_int_equal(counter(0, SL_STAT_DROP_NOMBUF), 1);
	assert_int_equal(rte_mbuf_refcnt_read(req), 1);
	rte_pktmbuf_free(req);
	rte_pktmbuf_free_bulk(hold, held);
}

static void test_shard_run_stops_and_drains(void **state)
{
	uint32_t p1 = partition_of(1);

	(void)state;
	inject_produce(0, P(.sequence = 0, .head = true, .partition = p1));
	shard_poll(fx.shard[0]);
	shard_env_stop(&fx.env);
	assert_int_equal(shard_run(fx.shard[1]), 0);
	expect_ack(1, 0, SL_ACK_APPENDED, 0);
}

static void test_shard_create_rejects_bad_conf(void **state)
{
	struct shard *s = NULL;
	struct shard_conf saved = fx.conf;

	(void)state;
	assert_int_equal(shard_create(&fx.env, 2, 0, 0, fx.pool[0], &s), -EINVAL);
	fx.conf.burst = 0;
	assert_int_equal(shard_create(&fx.env, 0, 0, 0, fx.pool[0], &s), -EINVAL);
	fx.conf = saved;
	fx.conf.producers_max = SHARD_TABLE_ENTRIES_MIN - 1;
	assert_int_equal(shard_create(&fx.env, 0, 0, 0, fx.pool[0], &s), -EINVAL);
	fx.conf = saved;
	fx.conf.dedupe_window = SHARD_DEDUPE_WINDOW_MIN - 1;
	assert_int_equal(shard_create(&fx.env, 0, 0, 0, fx.pool[0], &s), -EINVAL);
	fx.conf.dedupe_window = SHARD_DEDUPE_WINDOW_MAX + 1;
	assert_int_equal(shard_create(&fx.env, 0, 0, 0, fx.pool[0], &s), -EINVAL);
	fx.conf = saved;
	fx.conf.match_cache_topics = SHARD_MATCH_CACHE_TOPICS_MAX + 1;
	assert_int_equal(shard_create(&fx.env, 0, 0, 0, fx.pool[0], &s), -EINVAL);
	fx.conf = saved;
	assert_null(s);
}

/* Subscriptions. A SUBSCRIBE of subscriber SUBSCRIBER with the given id and pattern. */
#define SUBSCRIBER 0x5151u

struct subscribe {
	uint64_t subscriber; /* 0 stands for SUBSCRIBER */
	uint32_t id;
	const char *pattern;
	const char *group;
	uint8_t strategy;
	uint32_t window_batches; /* 0 stands for 1000 */
	uint8_t slow_policy;
	uint8_t start;
	uint8_t start_fallback;			    /* start offsets: of other partitions */
	uint32_t offset_count;			    /* start offsets of TOPIC */
	const struct sl_wire_start_offset *offsets; /* by increasing partition */
};

static void inject_subscribe(uint16_t shard, struct subscribe p)
{
	uint8_t buf[SL_WIRE_FRAME_BYTES_DEFAULT];
	struct wire_subscribe sub = {
		.subscriber_id = p.subscriber != 0 ? p.subscriber : SUBSCRIBER,
		.subscription_id = p.id,
		.pattern_len = (uint8_t)strlen(p.pattern),
		.pattern = (const uint8_t *)p.pattern,
		.params = {.window_batches = p.window_batches != 0 ? p.window_batches : 1000,
			   .slow_policy = p.slow_policy,
			   .start = p.start,
			   .start_fallback = p.start_fallback},
	};
	uint32_t len;

	if (p.offset_count > 0) {
		sub.offsets_topic = (const uint8_t *)TOPIC;
		sub.params.offsets_topic_len = sizeof(TOPIC) - 1;
		sub.params.offset_count = (uint16_t)p.offset_count;
	}

	if (p.group != NULL) {
		sub.group = (const uint8_t *)p.group;
		sub.params.group_len = (uint8_t)strlen(p.group);
		sub.params.strategy = p.strategy != 0 ? p.strategy : SL_GROUP_ROUND_ROBIN;
		sub.params.weight = 1;
	}
	assert_int_equal(wire_subscribe_encode(buf, sizeof(buf), &sub, p.offsets, &len), 0);
	inject_raw(shard, buf, len);
}

#define SUB(...) ((struct subscribe){__VA_ARGS__})

static struct sl_wire_subscribed expect_subscribed(uint16_t shard, uint32_t id,
						   enum sl_sub_status status)
{
	struct reply r = take_reply(shard);
	struct sl_wire_subscribed sd;

	assert_int_equal(r.hdr.type, SL_WIRE_SUBSCRIBED);
	assert_true(r.hdr.producer_id == SUBSCRIBER);
	assert_int_equal(r.hdr.producer_epoch, id);
	wire_subscribed_read(r.body, &sd);
	assert_int_equal(sd.status, status);
	return sd;
}

/* Subscribes on `shard` and checks the answer. */
static void subscribe(uint16_t shard, struct subscribe p)
{
	inject_subscribe(shard, p);
	shard_poll(fx.shard[shard]);
	expect_subscribed(shard, p.id, SL_SUB_ACTIVE);
}

/* The `attempt`, partition, records, delivery number, sent_bytes and length of the last
 * DELIVER take_deliver() took. */
static uint16_t last_attempt;
static uint32_t last_partition;
static uint16_t last_record_count;
static uint8_t last_records[SL_WIRE_FRAME_BYTES_DEFAULT];
static uint32_t last_records_len;
static uint32_t last_delivery;
static uint32_t last_sent_bytes;
static uint32_t last_deliver_len;

/* Takes the oldest datagram `shard` sent, a DELIVER (gathered from its segments), and
 * returns its subscription id, base offset in *base and topic in topic[]. */
static uint32_t take_deliver(uint16_t shard, uint64_t *base, char *topic)
{
	struct fake_queue *q = &fx.dev.q[shard];
	uint8_t buf[SL_WIRE_FRAME_BYTES_DEFAULT];
	struct wire_frame f;
	struct wire_deliver d;

	assert_true(q->tx_n > 0);
	struct rte_mbuf *m = q->tx[0];
	memmove(q->tx, q->tx + 1, (q->tx_n - 1) * sizeof(q->tx[0]));
	q->tx_n--;
	assert_int_equal(m->nb_segs, 2); /* head of its own, records shared */
	const void *p = rte_pktmbuf_read(m, 0, m->pkt_len, buf);
	assert_non_null(p);
	assert_int_equal(wire_decode(p, m->pkt_len, SL_WIRE_FRAME_BYTES_DEFAULT, &f), SL_WIRE_OK);
	assert_int_equal(f.hdr.type, SL_WIRE_DELIVER);
	assert_int_equal(wire_deliver_parse(&f, &d), SL_WIRE_OK);
	assert_int_equal(d.meta.shard, shard);
	*base = d.base_offset;
	last_attempt = d.meta.attempt;
	last_partition = d.partition;
	last_record_count = d.record_count;
	last_records_len = d.records_len;
	memcpy(last_records, d.records, d.records_len);
	last_delivery = d.meta.delivery;
	last_sent_bytes = d.sent_bytes;
	last_deliver_len = m->pkt_len;
	memcpy(topic, d.topic, d.topic_len);
	topic[d.topic_len] = '\0';
	rte_pktmbuf_free(m);
	return d.subscription_id;
}

/* Produces one batch of `topic` partition 0 on `shard` (its owner) and takes the ack. */
static void produce_to(uint16_t shard, const char *topic, uint64_t sequence)
{
	inject_produce(shard, P(.topic = topic, .sequence = sequence, .head = sequence == 0,
				.acks = TEST_ACKS_NONE));
	shard_poll(fx.shard[shard]);
}

static void test_shard_subscribe_answers_subscribed(void **state)
{
	(void)state;
	inject_subscribe(0, SUB(.id = 1, .pattern = "orders.*", .window_batches = 7));
	shard_poll(fx.shard[0]);
	struct sl_wire_subscribed sd = expect_subscribed(0, 1, SL_SUB_ACTIVE);
	assert_int_equal(sd.window_batches, 7);
	assert_int_equal(sd.shards, 1);
	assert_int_equal(sd.consumer_timeout_ms, 1000);
	/* A retransmit is answered again; other parameters under the same id conflict. */
	inject_subscribe(0, SUB(.id = 1, .pattern = "orders.*", .window_batches = 7));
	inject_subscribe(0, SUB(.id = 1, .pattern = "orders.>", .window_batches = 7));
	shard_poll(fx.shard[0]);
	expect_subscribed(0, 1, SL_SUB_ACTIVE);
	assert_int_equal(expect_nack(0, SL_NACK_CONFLICT, 0).detail, SL_SUB_CONFLICT_ID);
	assert_int_equal(counter(0, SL_STAT_SUBSCRIBES), 2);
	assert_int_equal(rte_hash_count(fx.shard[0]->subs), 1);
}

static void test_shard_subscribe_bad_pattern_is_nacked_with_detail(void **state)
{
	(void)state;
	inject_subscribe(0, SUB(.id = 1, .pattern = "orders.>.eu"));
	inject_subscribe(0, SUB(.id = 2, .pattern = "ord*"));
	shard_poll(fx.shard[0]);
	assert_int_equal(expect_nack(0, SL_NACK_BAD_PATTERN, 0).detail,
			 SL_SUB_PATTERN_TAIL_NOT_LAST);
	assert_int_equal(expect_nack(0, SL_NACK_BAD_PATTERN, 0).detail,
			 SL_SUB_PATTERN_PARTIAL_WILDCARD);
	assert_int_equal(counter(0, SL_STAT_DROP_BAD_PATTERN), 2);
	assert_int_equal(rte_hash_count(fx.shard[0]->subs), 0);
}

static void test_shard_subscribe_full_table_is_nacked(void **state)
{
	(void)state;
	for (uint32_t id = 1; id <= 64; id++) {
		inject_subscribe(0, SUB(.id = id, .pattern = ">"));
		shard_poll(fx.shard[0]);
		expect_subscribed(0, id, SL_SUB_ACTIVE);
	}
	inject_subscribe(0, SUB(.id = 65, .pattern = ">"));
	shard_poll(fx.shard[0]);
	assert_int_equal(expect_nack(0, SL_NACK_SUBSCRIPTIONS_FULL, 0).detail, 64);
}

/* Topics and patterns: id i+1 has patterns[i]; expected[t] lists which ids match. */
static void test_shard_deliver_overlapping_patterns_get_exactly_their_batches(void **state)
{
	static const char *const patterns[] = {"a.b", "a.*", "a.>", "*.c"};
	static const char *const topics[] = {"a.b", "a.c", "a.b.c", "x.c", "y"};
	/* Bit i set: subscription i+1 matches. */
	static const unsigned expected[] = {0x7, 0xe, 0x4, 0x8, 0x0};
	uint64_t next_base[5] = {0};

	(void)state;
	for (uint32_t i = 0; i < 4; i++) {
		subscribe(0, SUB(.id = i + 1, .pattern = patterns[i]));
	}
	for (uint64_t round = 0; round < 2; round++) {
		for (unsigned t = 0; t < 5; t++) {
			produce_to(0, topics[t], round);
			unsigned seen = 0;
			while (fx.dev.q[0].tx_n > 0) {
				uint64_t base;
				char topic[256];
				uint32_t id = take_deliver(0, &base, topic);
				assert_string_equal(topic, topics[t]);
				assert_true(base == next_base[t]); /* in order */
				assert_true(id >= 1 && id <= 4);
				assert_int_equal(seen & (1u << (id - 1)), 0); /* none twice */
				seen |= 1u << (id - 1);
			}
			assert_int_equal(seen, expected[t]);
			next_base[t]++;
		}
	}
	assert_int_equal(counter(0, SL_STAT_DELIVERIES), 2 * (3 + 3 + 1 + 1));
}

static void test_shard_deliver_group_sends_each_batch_to_one_member(void **state)
{
	unsigned got[4] = {0};

	(void)state;
	for (uint32_t id = 1; id <= 3; id++) {
		subscribe(0, SUB(.id = id, .pattern = "orders", .group = "g"));
	}
	/* A member naming the group with another pattern conflicts. */
	inject_subscribe(0, SUB(.id = 9, .pattern = "other", .group = "g"));
	shard_poll(fx.shard[0]);
	assert_int_equal(expect_nack(0, SL_NACK_CONFLICT, 0).detail, SL_SUB_CONFLICT_GROUP);
	for (uint64_t q = 0; q < 9; q++) {
		produce_to(0, TOPIC, q);
		uint64_t base;
		char topic[256];
		got[take_deliver(0, &base, topic)]++;
		assert_true(base == q);
		expect_no_reply(0); /* exactly one member */
	}
	assert_int_equal(got[1], 3);
	assert_int_equal(got[2], 3);
	assert_int_equal(got[3], 3);
}

static void inject_credit(uint16_t shard, uint32_t id, uint16_t to, uint64_t consumed,
			  uint32_t window_batches)
{
	uint8_t buf[SL_WIRE_FRAME_BYTES_DEFAULT];
	struct sl_wire_credit c = {.consumed_batches = consumed, .window_batches = window_batches};
	uint32_t len;

	assert_int_equal(wire_credit_encode(buf, sizeof(buf), SUBSCRIBER, id, to, &c, &len), 0);
	inject_raw(shard, buf, len);
}

static void test_shard_deliver_respects_credit(void **state)
{
	uint64_t base;
	char topic[256];

	(void)state;
	subscribe(0, SUB(.id = 1, .pattern = TOPIC, .window_batches = 2));
	subscribe(0,
		  SUB(.id = 2, .pattern = TOPIC, .window_batches = 1, .slow_policy = SL_SLOW_DROP));
	for (uint64_t q = 0; q < 3; q++) {
		produce_to(0, TOPIC, q);
	}
	/* Subscription 1 gets batches 0 and 1, subscription 2 batch 0; nothing more. */
	uint32_t first = take_deliver(0, &base, topic);
	uint32_t second = take_deliver(0, &base, topic);
	assert_true(base == 0);
	assert_int_equal(first + second, 3);
	assert_int_equal(take_deliver(0, &base, topic), 1);
	assert_true(base == 1);
	expect_no_reply(0);
	assert_int_equal(counter(0, SL_STAT_CREDIT_STALLS), 3);
	/* Without a journal to replay from, policy replay skips too. */
	assert_int_equal(counter(0, SL_STAT_DROP_POLICY_SKIPS), 3);
	/* One consumed: room for one more. A CREDIT counting more than was sent is NACKed,
	 * and the shard takes what it sent as consumed (the consumer resynchronises on the
	 * next DELIVER's numbers): subscription 2 gets the next batch too. */
	inject_credit(0, 1, 0, 1, 2);
	inject_credit(0, 2, 0, 5, 1);
	shard_poll(fx.shard[0]);
	assert_int_equal(expect_nack(0, SL_NACK_BAD_CREDIT, 0).detail, SL_SUB_CREDIT_AHEAD);
	assert_int_equal(counter(0, SL_STAT_CREDIT_RESETS), 1);
	produce_to(0, TOPIC, 3);
	for (int i = 0; i < 2; i++) {
		/* Subscription 1's third DELIVER, subscription 2's second. */
		uint32_t id = take_deliver(0, &base, topic);
		assert_true(base == 3);
		assert_int_equal(last_delivery, id == 1 ? 2 : 1);
	}
	expect_no_reply(0);
}

/* Each subscription numbers its DELIVERs at the shard from 0, with the bytes sent before
 * each; a repeated SUBSCRIBE keeps the numbering (and says so), a new one starts at 0. */
static void test_shard_deliver_numbers_deliveries(void **state)
{
	uint32_t sent_bytes = 0;
	uint64_t base;
	char topic[256];

	(void)state;
	inject_subscribe(0, SUB(.id = 1, .pattern = TOPIC));
	shard_poll(fx.shard[0]);
	assert_int_equal(expect_subscribed(0, 1, SL_SUB_ACTIVE).flags, 0);
	for (uint64_t q = 0; q < 3; q++) {
		produce_to(0, TOPIC, q);
		assert_int_equal(take_deliver(0, &base, topic), 1);
		assert_int_equal(last_delivery, q);
		assert_int_equal(last_sent_bytes, sent_bytes);
		sent_bytes += last_deliver_len;
	}
	inject_subscribe(0, SUB(.id = 1, .pattern = TOPIC));
	shard_poll(fx.shard[0]);
	assert_int_equal(expect_subscribed(0, 1, SL_SUB_ACTIVE).flags, SL_SUBSCRIBED_CREDIT_KEPT);
	inject_subscribe(0, SUB(.id = 2, .pattern = TOPIC));
	shard_poll(fx.shard[0]);
	assert_int_equal(expect_subscribed(0, 2, SL_SUB_ACTIVE).flags, 0);
	produce_to(0, TOPIC, 3);
	for (int i = 0; i < 2; i++) {
		if (take_deliver(0, &base, topic) == 1) {
			assert_int_equal(last_delivery, 3);
			assert_int_equal(last_sent_bytes, sent_bytes);
		} else {
			assert_int_equal(last_delivery, 0);
			assert_int_equal(last_sent_bytes, 0);
		}
	}
	/* UNSUBSCRIBE and SUBSCRIBE again: a new subscription, numbered from 0. */
	uint8_t buf[SL_WIRE_FRAME_BYTES_DEFAULT];
	uint32_t len;
	assert_int_equal(wire_unsubscribe_encode(buf, sizeof(buf), SUBSCRIBER, 1, &len), 0);
	inject_raw(0, buf, len);
	shard_poll(fx.shard[0]);
	expect_subscribed(0, 1, SL_SUB_REMOVED);
	inject_subscribe(0, SUB(.id = 1, .pattern = TOPIC));
	shard_poll(fx.shard[0]);
	assert_int_equal(expect_subscribed(0, 1, SL_SUB_ACTIVE).flags, 0);
	produce_to(0, TOPIC, 4);
	for (int i = 0; i < 2; i++) {
		if (take_deliver(0, &base, topic) == 1) {
			assert_int_equal(last_delivery, 0);
			assert_int_equal(last_sent_bytes, 0);
		}
	}
	expect_no_reply(0);
}

/* Builds a PRODUCE of TOPIC, partition 0, of exactly `bytes` (a multiple of 8): one
 * record whose value fills it. */
static uint32_t build_produce_sized(uint8_t *buf, size_t cap, uint64_t sequence, uint32_t bytes)
{
	static uint8_t value[SL_WIRE_FRAME_BYTES_MAX];
	struct sl_wire_header h;
	struct wire_builder b;

	wire_header_init(&h, SL_WIRE_PRODUCE);
	h.producer_id = 1;
	h.producer_epoch = 1;
	h.sequence = sequence;
	h.ack_level = SL_ACKS_RECEIVED;
	h.flags = SL_WIRE_FLAG_STREAM_HEAD;
	assert_int_equal(wire_begin(&b, buf, cap, &h, TOPIC, strlen(TOPIC)), 0);
	uint32_t value_len = bytes - wire_prefix_bytes(strlen(TOPIC)) - SL_WIRE_RECORD_HEADER_BYTES;
	assert_int_equal(wire_add_record(&b, NULL, 0, value, value_len, 1), 0);
	uint32_t len = wire_finish(&b);
	assert_int_equal(len, bytes);
	return len;
}

/* The router appends only batches whose DELIVER fits its frame limit: the largest it
 * takes is delivered in one frame of exactly that limit; 8 bytes more are refused with
 * the PRODUCE limit in the NACK. */
static void test_shard_produce_limit_leaves_room_for_deliver(void **state)
{
	const uint32_t limit = SL_WIRE_FRAME_BYTES_DEFAULT - SL_WIRE_DELIVER_EXTRA_BYTES;
	uint8_t buf[SL_WIRE_FRAME_BYTES_DEFAULT];
	uint64_t base;
	char topic[256];

	(void)state;
	subscribe(0, SUB(.id = 1, .pattern = TOPIC));
	inject_raw(0, buf, build_produce_sized(buf, sizeof(buf), 0, limit));
	shard_poll(fx.shard[0]);
	assert_int_equal(take_deliver(0, &base, topic), 1);
	assert_int_equal(last_deliver_len, SL_WIRE_FRAME_BYTES_DEFAULT);
	expect_ack(0, 0, SL_ACK_APPENDED, 0);
	inject_raw(0, buf, build_produce_sized(buf, sizeof(buf), 1, limit + 8));
	shard_poll(fx.shard[0]);
	assert_int_equal(expect_nack(0, SL_NACK_TOO_LARGE, 0).detail, limit);
	assert_int_equal(counter(0, SL_STAT_DROP_TOO_LARGE), 1);
	expect_no_reply(0);
}

static void test_shard_credit_unknown_subscription_and_shard(void **state)
{
	(void)state;
	inject_credit(0, 4, 0, 0, 1);
	inject_credit(0, 4, 1, 0, 1);
	shard_poll(fx.shard[0]);
	assert_int_equal(expect_nack(0, SL_NACK_UNKNOWN_SUBSCRIPTION, 0).detail, 0);
	assert_int_equal(expect_nack(0, SL_NACK_BAD_CREDIT, 0).detail, SL_SUB_CREDIT_SHARD);
	assert_int_equal(counter(0, SL_STAT_UNKNOWN_SUBSCRIPTION), 1);
}

static void inject_heartbeat(uint16_t shard, uint32_t subscriptions)
{
	uint8_t buf[SL_WIRE_FRAME_BYTES_DEFAULT];
	uint32_t len;

	assert_int_equal(wire_heartbeat_encode(buf, sizeof(buf), SUBSCRIBER, subscriptions, &len),
			 0);
	inject_raw(shard, buf, len);
}

static void test_shard_consumer_timeout_removes_subscriber(void **state)
{
	struct shard *s = fx.shard[0];

	(void)state;
	subscribe(0, SUB(.id = 1, .pattern = TOPIC));
	subscribe(0, SUB(.id = 2, .pattern = ">"));
	/* A heartbeat with the right count is not answered; a wrong one says the count. */
	inject_heartbeat(0, 2);
	inject_heartbeat(0, 3);
	shard_poll(s);
	assert_int_equal(expect_nack(0, SL_NACK_UNKNOWN_SUBSCRIPTION, 0).detail, 2);
	expect_no_reply(0);
	s->now_tsc = rte_rdtsc() + 2 * rte_get_tsc_hz(); /* two seconds of silence */
	shard_subscribers_sweep(s, SHARD_SWEEP_STEP);
	assert_int_equal(rte_hash_count(s->subs), 0);
	assert_int_equal(rte_hash_count(s->subscribers), 0);
	assert_int_equal(counter(0, SL_STAT_SUBSCRIBER_TIMEOUTS), 1);
	produce_to(0, TOPIC, 0);
	expect_no_reply(0);
}

static void test_shard_unsubscribe_removes_and_answers_removed(void **state)
{
	(void)state;
	subscribe(0, SUB(.id = 1, .pattern = TOPIC, .group = "g"));
	for (unsigned i = 0; i < 2; i++) { /* the retransmit gets the same answer */
		uint8_t buf[SL_WIRE_FRAME_BYTES_DEFAULT];
		uint32_t len;
		assert_int_equal(wire_unsubscribe_encode(buf, sizeof(buf), SUBSCRIBER, 1, &len), 0);
		inject_raw(0, buf, len);
		shard_poll(fx.shard[0]);
		expect_subscribed(0, 1, SL_SUB_REMOVED);
	}
	assert_int_equal(rte_hash_count(fx.shard[0]->subs), 0);
	assert_int_equal(fx.shard[0]->groups[0].count, 0);
	produce_to(0, TOPIC, 0);
	expect_no_reply(0);
	assert_int_equal(counter(0, SL_STAT_UNSUBSCRIBES), 2);
}

/* The shard owning partition 0 of `topic` among two. */
static uint16_t owner_of(const char *topic)
{
	return route_owner_hashed(route_topic_hash((const uint8_t *)topic, strlen(topic)), 0, 2);
}

static void test_shard_subscribe_is_broadcast_to_every_shard(void **state)
{
	const char *topic = NULL;
	static const char *const candidates[] = {"t.0", "t.1", "t.2", "t.3",
						 "t.4", "t.5", "t.6", "t.7"};

	(void)state;
	for (unsigned i = 0; i < RTE_DIM(candidates) && topic == NULL; i++) {
		if (owner_of(candidates[i]) == 1) {
			topic = candidates[i];
		}
	}
	assert_non_null(topic);
	subscribe(0, SUB(.id = 1, .pattern = "t.*"));
	inject_subscribe(0, SUB(.id = 1, .pattern = ">")); /* conflict: not broadcast */
	shard_poll(fx.shard[0]);
	expect_nack(0, SL_NACK_CONFLICT, 0);
	/* Shard 1 applies the control message on its next poll, then delivers the batches
	 * of the partitions it owns. */
	shard_poll(fx.shard[1]);
	assert_int_equal(rte_hash_count(fx.shard[1]->subs), 1);
	produce_to(1, topic, 0);
	uint64_t base;
	char got[256];
	assert_int_equal(take_deliver(1, &base, got), 1);
	assert_string_equal(got, topic);
	/* A heartbeat received by shard 0 keeps the subscriber alive at shard 1 too. */
	int32_t at1 = rte_hash_lookup(fx.shard[1]->subscribers, &(uint64_t){SUBSCRIBER});
	assert_true(at1 >= 0);
	fx.shard[1]->subscriber_state[at1].heard_tsc = 0;
	inject_heartbeat(0, 1);
	shard_poll(fx.shard[0]);
	expect_no_reply(0);
	shard_poll(fx.shard[1]);
	assert_true(fx.shard[1]->subscriber_state[at1].heard_tsc > 0);
	/* Unsubscribe on shard 1: shard 0 drops it too. */
	uint8_t buf[SL_WIRE_FRAME_BYTES_DEFAULT];
	uint32_t len;
	assert_int_equal(wire_unsubscribe_encode(buf, sizeof(buf), SUBSCRIBER, 1, &len), 0);
	inject_raw(1, buf, len);
	shard_poll(fx.shard[1]);
	expect_subscribed(1, 1, SL_SUB_REMOVED);
	shard_poll(fx.shard[0]);
	assert_int_equal(rte_hash_count(fx.shard[0]->subs), 0);
}

/* A SUBSCRIBE answered by shard 0 reaches shard 1 through the control ring; a batch
 * produced straight to its owner, shard 1, right after the answer comes in shard 1's next
 * burst and must find the subscription already applied (commit f83b6c0). */
static void test_shard_subscribe_applies_before_the_owners_next_burst(void **state)
{
	uint64_t base;
	char topic[256];

	(void)state;
	inject_subscribe(0, SUB(.id = 1, .pattern = TOPIC));
	inject_produce(1, P(.sequence = 0, .head = true, .partition = partition_of(1),
			    .acks = TEST_ACKS_NONE));
	shard_poll(fx.shard[0]);
	expect_subscribed(0, 1, SL_SUB_ACTIVE);
	shard_poll(fx.shard[1]);
	assert_int_equal(take_deliver(1, &base, topic), 1);
	assert_true(base == 0);
	assert_string_equal(topic, TOPIC);
	expect_no_reply(1);
}

static void test_shard_subscribe_full_control_ring_is_busy(void **state)
{
	(void)state;
	for (uint32_t id = 1; id <= MESH_RING_SLOTS_MIN; id++) {
		subscribe(0, SUB(.id = id, .pattern = ">"));
	}
	/* Shard 1 has not polled: its control ring from shard 0 is full. */
	inject_subscribe(0, SUB(.id = 99, .pattern = ">"));
	shard_poll(fx.shard[0]);
	expect_nack(0, SL_NACK_BUSY, 0);
	assert_int_equal(rte_hash_count(fx.shard[0]->subs), MESH_RING_SLOTS_MIN);
	shard_poll(fx.shard[1]);
	assert_int_equal(rte_hash_count(fx.shard[1]->subs), MESH_RING_SLOTS_MIN);
}

/* Polls shard 0 until it sent n datagrams, for at most 10 s (journal reads complete
 * through its polls). */
static void poll_until_sent(unsigned n)
{
	uint64_t deadline = rte_get_tsc_cycles() + 10 * rte_get_tsc_hz();

	while (fx.dev.q[0].tx_n < n && rte_get_tsc_cycles() < deadline) {
		shard_poll(fx.shard[0]);
	}
	assert_int_equal(fx.dev.q[0].tx_n, n);
}

/* Takes the next DELIVER and checks it is batch `base` of TOPIC for subscription id. */
static void expect_deliver(uint32_t id, uint64_t base)
{
	uint64_t got;
	char topic[256];

	assert_int_equal(take_deliver(0, &got, topic), id);
	assert_true(got == base);
	assert_string_equal(topic, TOPIC);
}

static void test_shard_replay_earliest_then_live_without_gap_or_duplicate(void **state)
{
	(void)state;
	for (uint64_t q = 0; q < 3; q++) {
		produce_to(0, TOPIC, q);
		produce_to(0, "elsewhere", q); /* not matched: filtered out of the replay */
	}
	subscribe(0, SUB(.id = 1, .pattern = TOPIC, .start = SL_START_EARLIEST));
	poll_until_sent(3);
	for (uint64_t q = 0; q < 3; q++) {
		expect_deliver(1, q);
	}
	/* Caught up: the next appends are delivered live, once each. */
	for (uint64_t q = 3; q < 5; q++) {
		produce_to(0, TOPIC, q);
	}
	poll_until_sent(2);
	expect_deliver(1, 3);
	expect_deliver(1, 4);
	for (unsigned i = 0; i < 100; i++) {
		shard_poll(fx.shard[0]);
	}
	expect_no_reply(0);
	assert_int_equal(fx.shard[0]->sub_state[0].reader.mode, SHARD_READER_LIVE);
	assert_int_equal(counter(0, SL_STAT_DELIVERIES), 5);
}

static void test_shard_replay_policy_resumes_from_the_journal(void **state)
{
	(void)state;
	subscribe(0, SUB(.id = 1, .pattern = TOPIC, .window_batches = 1));
	for (uint64_t q = 0; q < 3; q++) {
		produce_to(0, TOPIC, q);
	}
	/* Batch 0 went live; 1 and 2 found no credit: the subscription reads the journal
	 * from batch 1 once credit returns, one batch per credit, then turns live. */
	expect_deliver(1, 0);
	expect_no_reply(0);
	assert_int_equal(counter(0, SL_STAT_CREDIT_STALLS), 1);
	assert_int_equal(counter(0, SL_STAT_DROP_POLICY_SKIPS), 0);
	for (uint64_t q = 1; q < 3; q++) {
		inject_credit(0, 1, 0, q, 1);
		poll_until_sent(1);
		expect_deliver(1, q);
	}
	inject_credit(0, 1, 0, 3, 1);
	for (unsigned i = 0; i < 100; i++) {
		shard_poll(fx.shard[0]);
	}
	assert_int_equal(fx.shard[0]->sub_state[0].reader.mode, SHARD_READER_LIVE);
	produce_to(0, TOPIC, 3);
	expect_deliver(1, 3);
	expect_no_reply(0);
}

static void test_shard_replay_waits_for_a_free_cursor(void **state)
{
	(void)state;
	produce_to(0, TOPIC, 0);
	/* One cursor: the second replay waits until the first caught up. */
	inject_subscribe(0, SUB(.id = 1, .pattern = TOPIC, .start = SL_START_EARLIEST));
	inject_subscribe(0, SUB(.id = 2, .pattern = ">", .start = SL_START_EARLIEST));
	shard_poll(fx.shard[0]);
	/* Answers come first: replays run after the RX burst. */
	expect_subscribed(0, 1, SL_SUB_ACTIVE);
	expect_subscribed(0, 2, SL_SUB_ACTIVE);
	assert_int_equal(counter(0, SL_STAT_REPLAY_CURSOR_WAITS), 1);
	poll_until_sent(2);
	uint64_t base;
	char topic[256];
	uint32_t a = take_deliver(0, &base, topic);
	uint32_t b = take_deliver(0, &base, topic);
	assert_int_equal(a + b, 3);
	assert_int_equal(fx.shard[0]->replay_waiting, 0);
}

/* Produces `count` one-record batches to partition p of TOPIC on shard `shard` (its
 * owner), sequences from `first`. */
static void produce_partition(uint16_t shard, uint32_t p, uint64_t first, uint64_t count)
{
	for (uint64_t q = first; q < first + count; q++) {
		inject_produce(shard, P(.partition = p, .sequence = q, .head = q == 0,
					.producer_id = 7, .acks = TEST_ACKS_NONE));
		shard_poll(fx.shard[shard]);
	}
}

/* Takes n DELIVERs of subscription id from `shard`, and checks each partition's come in
 * order from first[partition] (UINT64_MAX: none expected) with nothing missing. */
static void expect_partitions_from(uint16_t shard, uint32_t id, unsigned n, const uint64_t *first)
{
	uint64_t next[PARTITIONS];
	uint64_t base;
	char topic[256];

	memcpy(next, first, sizeof(next));
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(take_deliver(shard, &base, topic), id);
		assert_string_equal(topic, TOPIC);
		assert_true(last_partition < PARTITIONS);
		assert_true(next[last_partition] != UINT64_MAX);
		assert_true(base == next[last_partition]);
		next[last_partition]++;
	}
}

/* Polls `shard` until it sent n datagrams, for at most 10 s. */
static void poll_shard_until_sent(uint16_t shard, unsigned n)
{
	uint64_t deadline = rte_get_tsc_cycles() + 10 * rte_get_tsc_hz();

	while (fx.dev.q[shard].tx_n < n && rte_get_tsc_cycles() < deadline) {
		shard_poll(fx.shard[shard]);
	}
	assert_int_equal(fx.dev.q[shard].tx_n, n);
}

/* Polls every shard a hundred times and checks none sent anything. */
static void expect_all_quiet(void)
{
	for (unsigned i = 0; i < 100; i++) {
		for (uint16_t sh = 0; sh < fx.shards; sh++) {
			shard_poll(fx.shard[sh]);
		}
	}
	for (uint16_t sh = 0; sh < fx.shards; sh++) {
		expect_no_reply(sh);
	}
}

static void test_shard_replay_start_offsets_per_partition(void **state)
{
	static const struct sl_wire_start_offset offs[] = {{.partition = 0, .offset = 2},
							   {.partition = 2, .offset = 1}};
	(void)state;
	for (uint32_t p = 0; p < 3; p++) {
		produce_partition(0, p, 0, 4);
	}
	/* Partitions 0 and 2 from their offsets; 1 and 3 as the fallback says: latest. */
	subscribe(0, SUB(.id = 1, .pattern = TOPIC, .start = SL_START_OFFSETS,
			 .start_fallback = SL_START_LATEST, .offset_count = 2, .offsets = offs));
	poll_until_sent(2 + 3);
	expect_partitions_from(0, 1, 5, (const uint64_t[]){2, UINT64_MAX, 1, UINT64_MAX});
	expect_all_quiet();
	assert_int_equal(fx.shard[0]->sub_state[0].reader.mode, SHARD_READER_LIVE);
	/* Caught up and live: every partition from here on, once. */
	for (uint32_t p = 0; p < 3; p++) {
		produce_partition(0, p, 4, 1);
	}
	expect_partitions_from(0, 1, 3, (const uint64_t[]){4, 4, 4, UINT64_MAX});
	expect_all_quiet();
	/* Kept while the batches replayed from before the SUBSCRIBE are unacknowledged (a
	 * rewind must still skip what they excluded): test_shard_rewind_keeps_the_start. */
	assert_true(fx.shard[0]->sub_state[0].reader.start.first != SHARD_SLOT_NONE);
}

static void test_shard_replay_start_offsets_fall_back_to_earliest(void **state)
{
	static const struct sl_wire_start_offset offs[] = {{.partition = 1, .offset = 3},
							   {.partition = 3, .offset = 100}};
	(void)state;
	for (uint32_t p = 0; p < 4; p++) {
		produce_partition(0, p, 0, 4);
	}
	/* Partition 3's offset is past its end: it starts at its end. */
	subscribe(0, SUB(.id = 1, .pattern = TOPIC, .start = SL_START_OFFSETS,
			 .start_fallback = SL_START_EARLIEST, .offset_count = 2, .offsets = offs));
	poll_until_sent(4 + 1 + 4);
	expect_partitions_from(0, 1, 9, (const uint64_t[]){0, 3, 0, UINT64_MAX});
	expect_all_quiet();
	produce_partition(0, 3, 4, 1);
	expect_partitions_from(0, 1, 1, (const uint64_t[]){UINT64_MAX, UINT64_MAX, UINT64_MAX, 4});
}

static int setup_two_journal(void **state)
{
	(void)state;
	fixture_up(2, 64, 64, WINDOW, true);
	(void)snprintf(journal_root, sizeof(journal_root), "/tmp/sluice-shard-test-XXXXXX");
	assert_non_null(mkdtemp(journal_root));
	journal_attach(0);
	journal_attach(1);
	return 0;
}

/* The SUBSCRIBE reaches shard 0; the start offset is of a partition shard 1 owns: it
 * travels with the control message and shard 1 starts there. */
static void test_shard_start_offsets_reach_the_owner_shard(void **state)
{
	uint32_t p1 = partition_of(1);
	uint32_t p0 = partition_of(0);
	const struct sl_wire_start_offset offs[] = {{.partition = p1, .offset = 2}};
	uint64_t first[PARTITIONS];

	(void)state;
	produce_partition(1, p1, 0, 4);
	produce_partition(0, p0, 0, 2);
	subscribe(0, SUB(.id = 1, .pattern = TOPIC, .start = SL_START_OFFSETS,
			 .start_fallback = SL_START_LATEST, .offset_count = 1, .offsets = offs));
	poll_shard_until_sent(1, 2);
	for (uint32_t p = 0; p < PARTITIONS; p++) {
		first[p] = p == p1 ? 2 : UINT64_MAX;
	}
	expect_partitions_from(1, 1, 2, first);
	expect_all_quiet(); /* shard 0's partition starts latest */
}

/* Entries of shard `shard`'s start offset pool taken off its free list by
 * start_offsets_exhaust(), as if other readers held them. */
static uint32_t start_offsets_held = SHARD_SLOT_NONE;

/* Leaves only `keep` entries free in the start offset pool of `shard`. */
static void start_offsets_exhaust(uint16_t shard, unsigned keep)
{
	struct shard *s = fx.shard[shard];
	uint32_t *link = &s->start_offsets_free;

	for (unsigned i = 0; i < keep; i++) {
		assert_int_not_equal(*link, SHARD_SLOT_NONE);
		link = &s->start_offsets[*link].next;
	}
	start_offsets_held = *link;
	*link = SHARD_SLOT_NONE;
}

/* Entries free in the start offset pool of `shard`. */
static uint32_t start_offsets_free_count(uint16_t shard)
{
	const struct shard *s = fx.shard[shard];
	uint32_t n = 0;

	for (uint32_t i = s->start_offsets_free; i != SHARD_SLOT_NONE;
	     i = s->start_offsets[i].next) {
		n++;
	}
	return n;
}

/* Gives back what start_offsets_exhaust() took. */
static void start_offsets_restore(uint16_t shard)
{
	struct shard *s = fx.shard[shard];
	uint32_t *link = &s->start_offsets_free;

	while (*link != SHARD_SLOT_NONE) {
		link = &s->start_offsets[*link].next;
	}
	*link = start_offsets_held;
	start_offsets_held = SHARD_SLOT_NONE;
	assert_int_equal(start_offsets_free_count(shard), SHARD_START_OFFSETS_POOL);
}

/* The receiving shard's pool has room for one of the two start offsets it owns: the
 * SUBSCRIBE is refused "subscription table full" (strict), the one taken goes back, and
 * nothing reaches the other shard. */
static void test_shard_start_offsets_full_pool_is_nacked_on_the_receiving_shard(void **state)
{
	struct sl_wire_start_offset offs[PARTITIONS];
	uint32_t n = 0;

	(void)state;
	for (uint32_t p = 0; p < PARTITIONS; p++) {
		if (route_owner((const uint8_t *)TOPIC, strlen(TOPIC), p, 2) == 0) {
			produce_partition(0, p, 0, 2);
			offs[n++] = (struct sl_wire_start_offset){.partition = p, .offset = 1};
		}
	}
	assert_true(n >= 2);
	start_offsets_exhaust(0, 1);
	inject_subscribe(0, SUB(.id = 1, .pattern = TOPIC, .start = SL_START_OFFSETS,
				.start_fallback = SL_START_LATEST, .offset_count = n,
				.offsets = offs));
	shard_poll(fx.shard[0]);
	assert_int_equal(expect_nack(0, SL_NACK_START_OFFSETS_FULL, 0).detail,
			 SHARD_START_OFFSETS_POOL);
	assert_int_equal(start_offsets_free_count(0), 1);
	assert_int_equal(rte_hash_count(fx.shard[0]->subs), 0);
	assert_int_equal(rte_hash_count(fx.shard[0]->subscribers), 0);
	assert_int_equal(counter(0, SL_STAT_SUBSCRIBES), 0);
	assert_int_equal(counter(0, SL_STAT_DROP_SUBSCRIPTION_DIVERGED), 0);
	expect_all_quiet();
	assert_int_equal(rte_hash_count(fx.shard[1]->subs), 0);
	/* With room again, the same SUBSCRIBE is taken and starts at its offsets. */
	start_offsets_restore(0);
	subscribe(0, SUB(.id = 1, .pattern = TOPIC, .start = SL_START_OFFSETS,
			 .start_fallback = SL_START_LATEST, .offset_count = n, .offsets = offs));
	poll_shard_until_sent(0, n);
	uint64_t first[PARTITIONS] = {UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX};
	for (uint32_t i = 0; i < n; i++) {
		first[offs[i].partition] = 1;
	}
	expect_partitions_from(0, 1, n, first);
	expect_all_quiet();
}

/* The pool of a shard that is not the receiving one is full: that shard counts the
 * subscription diverged and starts its partitions at the fallback (earliest for id 1,
 * latest for id 2), while the receiving shard answered SUBSCRIBED. */
static void test_shard_start_offsets_full_pool_elsewhere_starts_at_the_fallback(void **state)
{
	uint32_t p1 = partition_of(1);
	const struct sl_wire_start_offset offs[] = {{.partition = p1, .offset = 2}};
	uint64_t first[PARTITIONS] = {UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX};

	(void)state;
	produce_partition(1, p1, 0, 4);
	start_offsets_exhaust(1, 0);
	subscribe(0, SUB(.id = 1, .pattern = TOPIC, .start = SL_START_OFFSETS,
			 .start_fallback = SL_START_EARLIEST, .offset_count = 1, .offsets = offs));
	subscribe(0, SUB(.id = 2, .pattern = TOPIC, .start = SL_START_OFFSETS,
			 .start_fallback = SL_START_LATEST, .offset_count = 1, .offsets = offs));
	/* Id 1 gets p1 from its earliest batch, not from offset 2; id 2 nothing yet. */
	first[p1] = 0;
	poll_shard_until_sent(1, 4);
	expect_partitions_from(1, 1, 4, first);
	expect_all_quiet();
	assert_int_equal(counter(1, SL_STAT_DROP_SUBSCRIPTION_DIVERGED), 2);
	assert_int_equal(counter(0, SL_STAT_DROP_SUBSCRIPTION_DIVERGED), 0);
	assert_int_equal(rte_hash_count(fx.shard[1]->subs), 2);
	/* Both are live at shard 1 from here on. */
	start_offsets_restore(1);
	produce_partition(1, p1, 4, 1);
	poll_shard_until_sent(1, 2);
	uint64_t base;
	char topic[256];
	uint32_t a = take_deliver(1, &base, topic);
	assert_true(base == 4);
	uint32_t b = take_deliver(1, &base, topic);
	assert_true(base == 4);
	assert_int_equal(a + b, 3);
	expect_all_quiet();
}

/* Unsubscribes id on shard 0 and checks the answer. */
static void unsubscribe(uint32_t id)
{
	uint8_t buf[SL_WIRE_FRAME_BYTES_DEFAULT];
	uint32_t len;

	assert_int_equal(wire_unsubscribe_encode(buf, sizeof(buf), SUBSCRIBER, id, &len), 0);
	inject_raw(0, buf, len);
	shard_poll(fx.shard[0]);
	expect_subscribed(0, id, SL_SUB_REMOVED);
}

/* No replay cursor of shard 0 serves `reader` (a cursor may meanwhile serve another,
 * such as the redelivery of a departed member's batches). */
static void expect_no_cursor_for(uint32_t reader)
{
	for (uint32_t i = 0; i < fx.shard[0]->replay_cursors; i++) {
		assert_int_not_equal(fx.shard[0]->replays[i].reader, reader);
	}
}

/* One cursor: id 1 holds it (out of credit mid-replay), id 2 waits for it. Removing the
 * waiting one leaves nothing waiting; removing the replaying one frees the cursor, so a
 * new replay takes it at once and reads everything. */
static void test_shard_replay_removed_subscriptions_give_up_their_cursor(void **state)
{
	(void)state;
	for (uint64_t q = 0; q < 4; q++) {
		produce_to(0, TOPIC, q);
	}
	inject_subscribe(
		0, SUB(.id = 1, .pattern = TOPIC, .start = SL_START_EARLIEST, .window_batches = 1));
	inject_subscribe(0, SUB(.id = 2, .pattern = TOPIC, .start = SL_START_EARLIEST));
	shard_poll(fx.shard[0]);
	expect_subscribed(0, 1, SL_SUB_ACTIVE);
	expect_subscribed(0, 2, SL_SUB_ACTIVE);
	poll_until_sent(1);
	expect_deliver(1, 0);
	expect_all_quiet();
	assert_int_equal(counter(0, SL_STAT_REPLAY_CURSOR_WAITS), 1);
	assert_int_equal(fx.shard[0]->replay_waiting, 1);
	unsubscribe(2);
	assert_int_equal(fx.shard[0]->replay_waiting, 0);
	unsubscribe(1);
	expect_no_cursor_for(0);
	subscribe(0, SUB(.id = 3, .pattern = TOPIC, .start = SL_START_EARLIEST));
	poll_until_sent(4);
	for (uint64_t q = 0; q < 4; q++) {
		expect_deliver(3, q);
	}
	expect_all_quiet();
	assert_int_equal(counter(0, SL_STAT_REPLAY_CURSOR_WAITS), 1);
	assert_int_equal(fx.shard[0]->sub_state[0].reader.mode, SHARD_READER_LIVE);
}

/* A group replaying from start offsets loses its last member mid-replay: the group goes,
 * and with it its cursor and start offsets; a new group replays at once. */
static void test_shard_group_gone_mid_replay_gives_up_cursor_and_start(void **state)
{
	static const struct sl_wire_start_offset offs[] = {{.partition = 0, .offset = 1}};

	(void)state;
	produce_partition(0, 0, 0, 4);
	subscribe(0, SUB(.id = 1, .pattern = TOPIC, .group = "g", .start = SL_START_OFFSETS,
			 .start_fallback = SL_START_EARLIEST, .offset_count = 1, .offsets = offs,
			 .window_batches = 1));
	poll_until_sent(1);
	expect_deliver(1, 1);
	expect_all_quiet();
	assert_int_equal(fx.shard[0]->groups[0].reader.mode, SHARD_READER_REPLAYING);
	assert_int_equal(start_offsets_free_count(0), SHARD_START_OFFSETS_POOL - 1);
	unsubscribe(1);
	assert_int_equal(fx.shard[0]->groups[0].count, 0);
	assert_int_equal(fx.shard[0]->groups[0].reader.mode, SHARD_READER_LIVE);
	expect_no_cursor_for(fx.shard[0]->subscriptions_max + 0);
	/* Its unacked batch 1 has nobody left to go to: dropped without a read. */
	shard_poll(fx.shard[0]);
	assert_int_equal(fx.shard[0]->redelivery_head, fx.shard[0]->redelivery_tail);
	assert_int_equal(fx.shard[0]->redelivery_cursor, SHARD_SLOT_NONE);
	assert_int_equal(counter(0, SL_STAT_REDELIVERIES_ORPHANED), 1);
	assert_int_equal(start_offsets_free_count(0), SHARD_START_OFFSETS_POOL);
	subscribe(0, SUB(.id = 2, .pattern = TOPIC, .group = "h", .start = SL_START_EARLIEST));
	poll_until_sent(4);
	for (uint64_t q = 0; q < 4; q++) {
		expect_deliver(2, q);
	}
	expect_all_quiet();
	assert_int_equal(counter(0, SL_STAT_REPLAY_CURSOR_WAITS), 0);
}

/* Flips a byte of the entry at journal `position` of shard 0 on disk (first segment). */
static void journal_damage(uint64_t position)
{
	char path[256];
	uint8_t v;

	(void)snprintf(path, sizeof(path),
		       "%s/" JOURNAL_SHARD_DIR_FORMAT "/" JOURNAL_SEGMENT_NAME_FORMAT, journal_root,
		       0u, 0ull);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	off_t off = (off_t)journal_segment_offset(0, position);
	assert_int_equal(pread(fd, &v, 1, off), 1);
	v ^= 0x5a;
	assert_int_equal(pwrite(fd, &v, 1, off), 1);
	assert_int_equal(close(fd), 0);
}

/* The journal is damaged under a replay (the second batch's first byte, on disk): the
 * cursor fails, counted; the subscription got what lay before the damage and turns live,
 * giving its cursor back: what lay beyond is not delivered, later appends are. */
static void test_shard_replay_damaged_journal_turns_the_subscription_live(void **state)
{
	const struct journal *j = fx.shard[0]->journal;
	uint64_t damaged = 0;

	(void)state;
	for (uint64_t q = 0; q < 3; q++) {
		if (q == 1) {
			damaged = journal_appended_end(j);
		}
		inject_produce(0, P(.sequence = q, .head = q == 0, .acks = TEST_ACKS_DURABLE));
		poll_until_reply();
		expect_ack(0, q, SL_ACK_APPENDED, q);
	}
	/* Durable, so written: the cursor reads the batches from the file. */
	journal_damage(damaged);
	subscribe(0, SUB(.id = 1, .pattern = TOPIC, .start = SL_START_EARLIEST));
	poll_until_sent(1);
	expect_deliver(1, 0);
	expect_all_quiet();
	assert_int_equal(counter(0, SL_STAT_REPLAY_FAILURES), 1);
	assert_int_equal(fx.shard[0]->sub_state[0].reader.mode, SHARD_READER_LIVE);
	expect_no_cursor_for(0);
	produce_to(0, TOPIC, 3);
	expect_deliver(1, 3);
	expect_all_quiet();
}

/* A SUBSCRIBE at offsets refused after it took its start offsets (a group conflict, the
 * subscriber table full, the subscription table full) gives them back. */
static void test_shard_subscribe_refused_at_offsets_holds_no_start_offsets(void **state)
{
	static const struct sl_wire_start_offset offs[] = {{.partition = 0, .offset = 0}};

	(void)state;
	produce_partition(0, 0, 0, 1); /* partition 0 in the table: its offset is kept */
	subscribe(0, SUB(.id = 1, .pattern = TOPIC, .group = "g"));
	inject_subscribe(0, SUB(.id = 2, .pattern = ">", .group = "g", .start = SL_START_OFFSETS,
				.offset_count = 1, .offsets = offs));
	shard_poll(fx.shard[0]);
	assert_int_equal(expect_nack(0, SL_NACK_CONFLICT, 0).detail, SL_SUB_CONFLICT_GROUP);
	assert_int_equal(start_offsets_free_count(0), SHARD_START_OFFSETS_POOL);
	/* 63 more subscribers of one subscription each: both tables are full. */
	for (uint64_t sc = 1; sc < 64; sc++) {
		inject_subscribe(0,
				 SUB(.subscriber = SUBSCRIBER + sc, .id = 1, .pattern = "other"));
		shard_poll(fx.shard[0]);
		assert_int_equal(take_reply(0).hdr.type, SL_WIRE_SUBSCRIBED);
	}
	inject_subscribe(0, SUB(.subscriber = SUBSCRIBER + 64, .id = 1, .pattern = TOPIC,
				.start = SL_START_OFFSETS, .offset_count = 1, .offsets = offs));
	shard_poll(fx.shard[0]);
	assert_int_equal(expect_nack(0, SL_NACK_SUBSCRIPTIONS_FULL, 0).detail, 64);
	assert_int_equal(start_offsets_free_count(0), SHARD_START_OFFSETS_POOL);
	inject_subscribe(0, SUB(.id = 3, .pattern = TOPIC, .start = SL_START_OFFSETS,
				.offset_count = 1, .offsets = offs));
	shard_poll(fx.shard[0]);
	assert_int_equal(expect_nack(0, SL_NACK_SUBSCRIPTIONS_FULL, 0).detail, 64);
	assert_int_equal(start_offsets_free_count(0), SHARD_START_OFFSETS_POOL);
	assert_int_equal(rte_hash_count(fx.shard[0]->subs), 64);
	assert_int_equal(rte_hash_count(fx.shard[0]->subscribers), 64);
	expect_all_quiet();
}

/* One shard with room for more subscriptions than a group has members
 * (SHARD_GROUP_MEMBERS_MAX) or than the shard has groups (SHARD_GROUPS_MAX). */
#define MANY_SUBSCRIPTIONS (SHARD_GROUP_MEMBERS_MAX + 64u)

static int setup_one_many_subscriptions(void **state)
{
	(void)state;
	fixture_up_subs(1, 64, 64, WINDOW, true, MANY_SUBSCRIPTIONS);
	return 0;
}

/* A group holds SHARD_GROUP_MEMBERS_MAX members: one more is refused "consumer group
 * full" (detail: that limit, not --subscriptions-max, which would not help), leaving the group and the tables as they were; once a member leaves, it fits. */
static void test_shard_group_full_refuses_another_member(void **state)
{
	(void)state;
	for (uint32_t id = 1; id <= SHARD_GROUP_MEMBERS_MAX; id++) {
		subscribe(0, SUB(.id = id, .pattern = TOPIC, .group = "g"));
	}
	inject_subscribe(0, SUB(.id = 999, .pattern = TOPIC, .group = "g"));
	shard_poll(fx.shard[0]);
	assert_int_equal(expect_nack(0, SL_NACK_GROUP_FULL, 0).detail, SHARD_GROUP_MEMBERS_MAX);
	assert_int_equal(fx.shard[0]->groups[0].count, SHARD_GROUP_MEMBERS_MAX);
	assert_int_equal(rte_hash_count(fx.shard[0]->subs), SHARD_GROUP_MEMBERS_MAX);
	/* Every batch still goes to one member, the refused one never. */
	produce_to(0, TOPIC, 0);
	uint64_t base;
	char topic[256];
	uint32_t got = take_deliver(0, &base, topic);
	assert_true(got >= 1 && got <= SHARD_GROUP_MEMBERS_MAX);
	expect_no_reply(0);
	unsubscribe(1);
	subscribe(0, SUB(.id = 999, .pattern = TOPIC, .group = "g"));
	assert_int_equal(fx.shard[0]->groups[0].count, SHARD_GROUP_MEMBERS_MAX);
}

/* The shard holds SHARD_GROUPS_MAX groups: another group is refused "consumer group table
 * full" (detail: that limit; nothing of it is kept) while members still join existing groups; once a group
 * goes, a new one fits. */
static void test_shard_groups_full_refuses_another_group(void **state)
{
	char name[16];

	(void)state;
	for (uint32_t g = 0; g < SHARD_GROUPS_MAX; g++) {
		(void)snprintf(name, sizeof(name), "g%u", g);
		subscribe(0, SUB(.id = g + 1, .pattern = TOPIC, .group = name));
	}
	inject_subscribe(0, SUB(.id = 999, .pattern = TOPIC, .group = "another"));
	shard_poll(fx.shard[0]);
	assert_int_equal(expect_nack(0, SL_NACK_GROUPS_FULL, 0).detail, SHARD_GROUPS_MAX);
	assert_int_equal(rte_hash_count(fx.shard[0]->subs), SHARD_GROUPS_MAX);
	subscribe(0, SUB(.id = 1000, .pattern = TOPIC, .group = "g0"));
	/* One batch to one member of each group, none for the refused one. */
	produce_to(0, TOPIC, 0);
	for (uint32_t g = 0; g < SHARD_GROUPS_MAX; g++) {
		uint64_t base;
		char topic[256];
		assert_int_not_equal(take_deliver(0, &base, topic), 999);
	}
	expect_no_reply(0);
	unsubscribe(2); /* group g1's only member */
	subscribe(0, SUB(.id = 999, .pattern = TOPIC, .group = "another"));
}

/* Two members; the first starts the group at earliest: every retained batch goes to
 * exactly one member, then live ones, with no gap and no duplicate. */
static void test_shard_group_starts_earliest_then_live(void **state)
{
	unsigned per_member[3] = {0};
	uint64_t base;
	char topic[256];

	(void)state;
	produce_partition(0, 0, 0, 6);
	inject_subscribe(0,
			 SUB(.id = 1, .pattern = TOPIC, .group = "g", .start = SL_START_EARLIEST));
	inject_subscribe(0, SUB(.id = 2, .pattern = TOPIC, .group = "g")); /* joins */
	shard_poll(fx.shard[0]);
	expect_subscribed(0, 1, SL_SUB_ACTIVE);
	expect_subscribed(0, 2, SL_SUB_ACTIVE);
	poll_until_sent(6);
	for (uint64_t q = 0; q < 6; q++) {
		uint32_t id = take_deliver(0, &base, topic);
		assert_true(id == 1 || id == 2);
		assert_true(base == q);
		per_member[id]++;
	}
	assert_true(per_member[1] > 0 && per_member[2] > 0);
	expect_all_quiet();
	assert_int_equal(fx.shard[0]->groups[0].reader.mode, SHARD_READER_LIVE);
	produce_partition(0, 0, 6, 2);
	for (uint64_t q = 6; q < 8; q++) {
		uint32_t id = take_deliver(0, &base, topic);
		assert_true(id == 1 || id == 2);
		assert_true(base == q);
	}
	expect_all_quiet();
	/* A third member joining later does not restart the group. */
	inject_subscribe(0,
			 SUB(.id = 3, .pattern = TOPIC, .group = "g", .start = SL_START_EARLIEST));
	shard_poll(fx.shard[0]);
	expect_subscribed(0, 3, SL_SUB_ACTIVE);
	expect_all_quiet();
}

static void inject_consumer_ack_batches(uint32_t id, uint64_t offset, const uint64_t *bases,
					uint32_t nbases)
{
	uint8_t buf[SL_WIRE_FRAME_BYTES_DEFAULT];
	uint32_t len;

	assert_int_equal(wire_consumer_ack_encode(buf, sizeof(buf), SUBSCRIBER, id,
						  (const uint8_t *)TOPIC, strlen(TOPIC), 0, offset,
						  bases, nbases, &len),
			 0);
	inject_raw(0, buf, len);
}

static void inject_consumer_ack(uint32_t id, uint64_t offset)
{
	inject_consumer_ack_batches(id, offset, NULL, 0);
}

static uint32_t inflight_count(uint32_t slot)
{
	const struct shard_sub *sub = &fx.shard[0]->sub_state[slot];

	return sub->inflight_tail - sub->inflight_head;
}

static void test_shard_consumer_ack_frees_delivered_batches(void **state)
{
	(void)state;
	subscribe(0, SUB(.id = 1, .pattern = TOPIC));
	for (uint64_t q = 0; q < 3; q++) {
		produce_to(0, TOPIC, q);
		expect_deliver(1, q);
	}
	assert_int_equal(inflight_count(0), 3);
	inject_consumer_ack(1, 2); /* offsets 0 and 1 done */
	inject_consumer_ack(1, 10);
	inject_consumer_ack(7, 1);
	shard_poll(fx.shard[0]);
	expect_nack(0, SL_NACK_UNKNOWN_OFFSET, 3);
	assert_int_equal(expect_nack(0, SL_NACK_UNKNOWN_SUBSCRIPTION, 0).detail, 1);
	assert_int_equal(inflight_count(0), 1);
	assert_int_equal(counter(0, SL_STAT_CONSUMER_ACKS), 1);
	assert_int_equal(counter(0, SL_STAT_ACKS_UNKNOWN_OFFSET), 1);
	inject_consumer_ack(1, 3);
	shard_poll(fx.shard[0]);
	expect_no_reply(0);
	assert_int_equal(inflight_count(0), 0);
}

/* Acks naming batches by base offset free exactly those, wherever they sit in the
 * ring; one naming an offset not delivered yet is refused as a whole. */
static void test_shard_consumer_ack_frees_listed_batches(void **state)
{
	const uint64_t middle[] = {1};
	const uint64_t first_and_beyond[] = {0, 7};
	const uint64_t first[] = {0};

	(void)state;
	subscribe(0, SUB(.id = 1, .pattern = TOPIC));
	for (uint64_t q = 0; q < 3; q++) {
		produce_to(0, TOPIC, q);
		expect_deliver(1, q);
	}
	inject_consumer_ack_batches(1, 0, middle, 1);
	shard_poll(fx.shard[0]);
	expect_no_reply(0);
	/* Batch 1 is done, but batch 0 still holds the ring's head. */
	assert_int_equal(inflight_count(0), 3);
	inject_consumer_ack_batches(1, 0, first_and_beyond, 2);
	shard_poll(fx.shard[0]);
	expect_nack(0, SL_NACK_UNKNOWN_OFFSET, 3);
	assert_int_equal(inflight_count(0), 3);
	inject_consumer_ack_batches(1, 0, first, 1);
	shard_poll(fx.shard[0]);
	expect_no_reply(0);
	assert_int_equal(inflight_count(0), 1); /* 0 and 1 freed, 2 left */
	assert_int_equal(counter(0, SL_STAT_CONSUMER_ACKS), 2);
	assert_int_equal(counter(0, SL_STAT_ACKS_UNKNOWN_OFFSET), 1);
}

/* Runs the ack timer of shard 0 as if `seconds` had passed since now. */
static void ack_timer_after(unsigned seconds)
{
	struct shard *s = fx.shard[0];

	s->now_tsc = rte_rdtsc() + seconds * rte_get_tsc_hz();
	shard_acks_sweep(s, SHARD_SWEEP_STEP);
}

/* A DELIVER lost on the way to a subscription with a window of one batch: no later one
 * can reveal the loss to the consumer, so after --ack-timeout-ms without consumption the
 * shard takes it as consumed and the redelivery goes out, numbered after it. */
static void test_shard_credit_timeout_frees_a_lost_deliver(void **state)
{
	uint8_t buf[SL_WIRE_FRAME_BYTES_DEFAULT];
	uint32_t len;

	(void)state;
	subscribe(0, SUB(.id = 1, .pattern = TOPIC, .window_batches = 1));
	produce_to(0, TOPIC, 0);
	expect_deliver(1, 0); /* lost: the consumer never sees it */
	uint32_t lost_bytes = last_deliver_len;
	produce_to(0, TOPIC, 1);
	expect_no_reply(0); /* out of credit */
	ack_timer_after(0);
	expect_no_reply(0);
	ack_timer_after(2);
	assert_int_equal(counter(0, SL_STAT_CREDIT_TIMEOUTS), 1);
	poll_until_sent(1);
	expect_deliver(1, 0);
	assert_int_equal(last_attempt, 1);
	assert_int_equal(last_delivery, 1);
	assert_int_equal(last_sent_bytes, lost_bytes);
	/* The consumer counts the gap (delivery 0) and the redelivery consumed: batch 1
	 * follows within the window of one. */
	struct sl_wire_credit c = {.consumed_batches = 2,
				   .consumed_bytes = lost_bytes + last_deliver_len,
				   .window_batches = 1};
	assert_int_equal(wire_credit_encode(buf, sizeof(buf), SUBSCRIBER, 1, 0, &c, &len), 0);
	inject_raw(0, buf, len);
	poll_until_sent(1);
	expect_deliver(1, 1);
	assert_int_equal(last_delivery, 2);
	expect_no_reply(0);
}

/*
 * Regression: a subscription started at offsets gave its start offsets back once caught
 * up; an ack timeout then rewound it to its oldest unacked batch and the replay from
 * there sent it batches its start had excluded (partition 1's, appended before the
 * SUBSCRIBE, fallback latest). The start now stays until acks pass the SUBSCRIBE's end.
 */
static void test_shard_rewind_keeps_the_start(void **state)
{
	static const struct sl_wire_start_offset offs[] = {{.partition = 0, .offset = 1}};
	const struct shard_start *st = &fx.shard[0]->sub_state[0].reader.start;
	uint8_t buf[SL_WIRE_FRAME_BYTES_DEFAULT];
	uint32_t len;

	(void)state;
	for (uint64_t q = 0; q < 3; q++) { /* p0 and p1 interleaved in the journal */
		produce_partition(0, 0, q, 1);
		produce_partition(0, 1, q, 1);
	}
	subscribe(0, SUB(.id = 1, .pattern = TOPIC, .start = SL_START_OFFSETS,
			 .start_fallback = SL_START_LATEST, .offset_count = 1, .offsets = offs));
	poll_until_sent(2);
	expect_partitions_from(0, 1, 2, (const uint64_t[]){1, UINT64_MAX, UINT64_MAX, UINT64_MAX});
	expect_all_quiet();
	assert_int_equal(fx.shard[0]->sub_state[0].reader.mode, SHARD_READER_LIVE);
	assert_true(st->is_active);
	/* Late: partition 0 from offset 1 again, attempt 1, and nothing of partition 1. */
	ack_timer_after(2);
	poll_until_sent(2);
	expect_partitions_from(0, 1, 2, (const uint64_t[]){1, UINT64_MAX, UINT64_MAX, UINT64_MAX});
	assert_int_equal(last_attempt, 1);
	expect_all_quiet();
	/* Acks past the SUBSCRIBE's end give the start offsets back. */
	assert_int_equal(wire_consumer_ack_encode(buf, sizeof(buf), SUBSCRIBER, 1,
						  (const uint8_t *)TOPIC, strlen(TOPIC), 0, 3, NULL,
						  0, &len),
			 0);
	inject_raw(0, buf, len);
	shard_poll(fx.shard[0]);
	assert_false(st->is_active);
	assert_int_equal(st->first, SHARD_SLOT_NONE);
	assert_int_equal(start_offsets_free_count(0), SHARD_START_OFFSETS_POOL);
}

static void test_shard_ack_timeout_redelivers_then_dead_letters(void **state)
{
	(void)state;
	subscribe(0, SUB(.id = 1, .pattern = TOPIC));
	produce_to(0, TOPIC, 0);
	produce_to(0, TOPIC, 1);
	expect_deliver(1, 0);
	expect_deliver(1, 1);
	assert_int_equal(last_attempt, 0);
	inject_consumer_ack(1, 1); /* batch 0 done, batch 1 not */
	shard_poll(fx.shard[0]);
	ack_timer_after(0);
	expect_no_reply(0); /* not late yet */
	/* Late: batch 1 comes again from the journal, attempt 1, then 2 (the most). */
	for (uint16_t attempt = 1; attempt <= 2; attempt++) {
		ack_timer_after(2);
		poll_until_sent(1);
		expect_deliver(1, 1);
		assert_int_equal(last_attempt, attempt);
	}
	assert_int_equal(counter(0, SL_STAT_REDELIVERIES), 2);
	/* Live again: the next batch is a first attempt. */
	produce_to(0, TOPIC, 2);
	expect_deliver(1, 2);
	assert_int_equal(last_attempt, 0);
	/* Batch 1 is late a third time: a dead letter, no more redelivery of it. */
	ack_timer_after(2);
	assert_int_equal(counter(0, SL_STAT_DEAD_LETTERS), 1);
	assert_int_equal(inflight_count(0), 1);
	for (unsigned i = 0; i < 100; i++) {
		shard_poll(fx.shard[0]);
	}
	expect_no_reply(0);
}

/* Checks the last DELIVER taken is a dead letter of `dead_topic` whose origin record
 * names TOPIC partition 0 from `offset`, followed by the original record. */
static void expect_dead_letter(const char *topic, const char *dead_topic, uint64_t offset)
{
	char origin[256];
	struct wire_record_iter it;
	struct wire_record rec;

	assert_string_equal(topic, dead_topic);
	assert_int_equal(last_record_count, 2);
	wire_record_iter_init_body(&it, last_records, last_records_len);
	assert_true(wire_record_next(&it, &rec));
	assert_int_equal(rec.key_len, strlen(SL_WIRE_DEAD_LETTER_KEY));
	assert_memory_equal(rec.key, SL_WIRE_DEAD_LETTER_KEY, rec.key_len);
	(void)snprintf(origin, sizeof(origin),
		       "topic=" TOPIC " partition=0 offset=%" PRIu64 " records=1 deliveries=3",
		       offset);
	assert_int_equal(rec.value_len, strlen(origin));
	assert_memory_equal(rec.value, origin, rec.value_len);
	assert_true(wire_record_next(&it, &rec));
	assert_memory_equal(rec.key, "k", 1);
	assert_int_equal(rec.value_len, 5);
	assert_memory_equal(rec.value, "value", 5);
	assert_false(wire_record_next(&it, &rec));
}

/* A batch never acknowledged: after --max-redeliveries (2) it is produced to the
 * subscriber's dead-letter topic, journaled, and a subscriber of it receives it with
 * the original coordinates. */
static void test_shard_dead_letter_goes_to_the_dead_letter_topic(void **state)
{
	uint64_t base;
	char topic[256];

	(void)state;
	subscribe(0, SUB(.id = 9, .pattern = "_dead.>"));
	subscribe(0, SUB(.id = 1, .pattern = TOPIC));
	produce_to(0, TOPIC, 0);
	produce_to(0, TOPIC, 1);
	expect_deliver(1, 0);
	expect_deliver(1, 1);
	inject_consumer_ack(1, 1); /* batch 1 is never acked */
	shard_poll(fx.shard[0]);
	for (uint16_t attempt = 1; attempt <= 2; attempt++) {
		ack_timer_after(2);
		poll_until_sent(1);
		expect_deliver(1, 1);
	}
	ack_timer_after(2);
	assert_int_equal(counter(0, SL_STAT_DEAD_LETTERS), 1);
	poll_until_sent(1);
	assert_int_equal(take_deliver(0, &base, topic), 9);
	assert_true(base == 0); /* the first batch of the dead-letter topic */
	expect_dead_letter(topic, SL_WIRE_DEAD_LETTER_PREFIX "0000000000005151", 1);
	assert_int_equal(counter(0, SL_STAT_DEAD_LETTERS_SENT), 1);
	assert_int_equal(counter(0, SL_STAT_DEAD_LETTERS_LOST), 0);
	expect_all_quiet();
	/* Journaled like any batch: a subscriber from earliest reads it again. */
	subscribe(0, SUB(.id = 10, .pattern = "_dead.*", .start = SL_START_EARLIEST));
	poll_until_sent(1);
	assert_int_equal(take_deliver(0, &base, topic), 10);
	expect_dead_letter(topic, SL_WIRE_DEAD_LETTER_PREFIX "0000000000005151", 1);
}

/* A group's dead letters go to _dead.<group>. */
static void test_shard_group_dead_letter_goes_to_the_group_topic(void **state)
{
	uint64_t base;
	char topic[256];

	(void)state;
	subscribe(0, SUB(.id = 9, .pattern = "_dead.>"));
	subscribe(0, SUB(.id = 1, .pattern = TOPIC, .group = "billing"));
	produce_to(0, TOPIC, 0);
	expect_deliver(1, 0);
	for (uint16_t attempt = 1; attempt <= 2; attempt++) {
		ack_timer_after(2);
		poll_until_sent(1);
		expect_deliver(1, 0);
	}
	ack_timer_after(2);
	poll_until_sent(1);
	assert_int_equal(take_deliver(0, &base, topic), 9);
	expect_dead_letter(topic, SL_WIRE_DEAD_LETTER_PREFIX "billing", 0);
	assert_int_equal(counter(0, SL_STAT_DEAD_LETTERS), 1);
}

/* The group's last member leaves holding a batch out of attempts: the group is gone by
 * the time the batch is read back, and it still goes to _dead.<group>. */
static void test_shard_group_dead_letter_outlives_the_group(void **state)
{
	uint8_t buf[SL_WIRE_FRAME_BYTES_DEFAULT];
	uint64_t base;
	char topic[256];
	uint32_t len;

	(void)state;
	subscribe(0, SUB(.id = 9, .pattern = "_dead.>"));
	subscribe(0, SUB(.id = 1, .pattern = TOPIC, .group = "billing"));
	produce_to(0, TOPIC, 0);
	expect_deliver(1, 0);
	for (uint16_t attempt = 1; attempt <= 2; attempt++) {
		ack_timer_after(2);
		poll_until_sent(1);
		expect_deliver(1, 0);
	}
	assert_int_equal(wire_unsubscribe_encode(buf, sizeof(buf), SUBSCRIBER, 1, &len), 0);
	inject_raw(0, buf, len);
	shard_poll(fx.shard[0]);
	expect_subscribed(0, 1, SL_SUB_REMOVED);
	poll_until_sent(1);
	assert_int_equal(take_deliver(0, &base, topic), 9);
	expect_dead_letter(topic, SL_WIRE_DEAD_LETTER_PREFIX "billing", 0);
}

/* Without a topic to write to (no auto-create) the dead letter is counted lost. */
static void test_shard_dead_letter_without_its_topic_is_lost(void **state)
{
	(void)state;
	subscribe(0, SUB(.id = 1, .pattern = TOPIC));
	produce_to(0, TOPIC, 0);
	expect_deliver(1, 0);
	for (uint16_t attempt = 1; attempt <= 2; attempt++) {
		ack_timer_after(2);
		poll_until_sent(1);
		expect_deliver(1, 0);
	}
	ack_timer_after(2);
	for (unsigned i = 0; i < 1000 && counter(0, SL_STAT_DEAD_LETTERS_LOST) == 0; i++) {
		shard_poll(fx.shard[0]);
	}
	assert_int_equal(counter(0, SL_STAT_DEAD_LETTERS), 1);
	assert_int_equal(counter(0, SL_STAT_DEAD_LETTERS_LOST), 1);
	assert_int_equal(counter(0, SL_STAT_DEAD_LETTERS_SENT), 0);
	expect_all_quiet();
}

static int setup_one_journal_fixed_topics(void **state)
{
	(void)state;
	fixture_up(1, 64, 64, WINDOW, false);
	(void)snprintf(journal_root, sizeof(journal_root), "/tmp/sluice-shard-test-XXXXXX");
	assert_non_null(mkdtemp(journal_root));
	journal_attach(0);
	return 0;
}

static void test_shard_deliver_group_passes_over_a_member_without_credit(void **state)
{
	unsigned got[3] = {0};

	(void)state;
	subscribe(0, SUB(.id = 1, .pattern = TOPIC, .group = "g", .window_batches = 1));
	subscribe(0, SUB(.id = 2, .pattern = TOPIC, .group = "g", .window_batches = 100));
	/* Member 1 has room for one batch: every other batch goes to member 2. */
	for (uint64_t q = 0; q < 6; q++) {
		produce_to(0, TOPIC, q);
		uint64_t base;
		char topic[256];
		got[take_deliver(0, &base, topic)]++;
		assert_true(base == q);
		expect_no_reply(0);
	}
	assert_int_equal(got[1], 1);
	assert_int_equal(got[2], 5);
	assert_int_equal(counter(0, SL_STAT_DROP_POLICY_SKIPS), 0);
}

/* Subscribes members 1 and 2 of round-robin group "g" and delivers batch 0 to one of
 * them, whose id it returns. */
static uint32_t group_with_one_batch_out(void)
{
	uint64_t base;
	char topic[256];

	subscribe(0, SUB(.id = 1, .pattern = TOPIC, .group = "g"));
	subscribe(0, SUB(.id = 2, .pattern = TOPIC, .group = "g"));
	produce_to(0, TOPIC, 0);
	uint32_t first = take_deliver(0, &base, topic);
	assert_true(base == 0);
	expect_no_reply(0);
	return first;
}

static void test_shard_group_ack_timeout_redelivers_to_another_member(void **state)
{
	(void)state;
	uint32_t first = group_with_one_batch_out();
	ack_timer_after(2);
	poll_until_sent(1);
	/* Round-robin's next member gets it, marked as a second attempt. */
	expect_deliver(3 - first, 0);
	assert_int_equal(last_attempt, 1);
	assert_int_equal(counter(0, SL_STAT_REDELIVERIES), 1);
}

static void test_shard_group_member_gone_hands_its_batches_over(void **state)
{
	uint8_t buf[SL_WIRE_FRAME_BYTES_DEFAULT];
	uint32_t len;

	(void)state;
	uint32_t first = group_with_one_batch_out();
	assert_int_equal(wire_unsubscribe_encode(buf, sizeof(buf), SUBSCRIBER, first, &len), 0);
	inject_raw(0, buf, len);
	shard_poll(fx.shard[0]);
	expect_subscribed(0, first, SL_SUB_REMOVED);
	poll_until_sent(1);
	expect_deliver(3 - first, 0);
	assert_int_equal(last_attempt, 1);
}

/* Polls shard 0 100 times and checks it sent nothing. */
static void expect_quiet(void)
{
	for (unsigned i = 0; i < 100; i++) {
		shard_poll(fx.shard[0]);
	}
	expect_no_reply(0);
}

/* Every member out of credit: later batches wait for one instead of being skipped, and
 * go out once each as credit returns (commit ea72761). */
static void test_shard_group_batch_waits_for_a_member_with_credit(void **state)
{
	uint64_t base;
	char topic[256];

	(void)state;
	subscribe(0, SUB(.id = 1, .pattern = TOPIC, .group = "g", .window_batches = 1));
	subscribe(0, SUB(.id = 2, .pattern = TOPIC, .group = "g", .window_batches = 1));
	for (uint64_t q = 0; q < 4; q++) {
		produce_to(0, TOPIC, q);
	}
	/* Batches 0 and 1 fill both windows; 2 and 3 find no member with credit. */
	uint32_t first = take_deliver(0, &base, topic);
	assert_true(base == 0);
	assert_int_equal(take_deliver(0, &base, topic), 3 - first);
	assert_true(base == 1);
	expect_no_reply(0);
	assert_int_equal(counter(0, SL_STAT_CREDIT_STALLS), 2);
	assert_int_equal(counter(0, SL_STAT_DROP_POLICY_SKIPS), 0);
	/* One member consumed its batch: it gets batch 2, a first attempt; batch 3 waits. */
	inject_credit(0, first, 0, 1, 1);
	poll_until_sent(1);
	expect_deliver(first, 2);
	assert_int_equal(last_attempt, 0);
	expect_quiet();
	inject_credit(0, 3 - first, 0, 1, 1);
	poll_until_sent(1);
	expect_deliver(3 - first, 3);
	assert_int_equal(last_attempt, 0);
	expect_quiet();
	assert_int_equal(counter(0, SL_STAT_DROP_POLICY_SKIPS), 0);
	assert_int_equal(counter(0, SL_STAT_DEAD_LETTERS), 0);
	assert_int_equal(counter(0, SL_STAT_DELIVERIES), 4);
}

/* A member with the most unacked batches the shard keeps: the next batch waits for its
 * ack instead of being skipped. */
static void test_shard_group_batch_waits_for_an_ack(void **state)
{
	(void)state;
	subscribe(0, SUB(.id = 1, .pattern = TOPIC, .group = "g"));
	for (uint64_t q = 0; q < SHARD_INFLIGHT_SLOTS; q++) {
		produce_to(0, TOPIC, q);
		expect_deliver(1, q);
	}
	produce_to(0, TOPIC, SHARD_INFLIGHT_SLOTS);
	expect_quiet();
	assert_int_equal(counter(0, SL_STAT_DROP_POLICY_SKIPS), 0);
	inject_consumer_ack(1, 1); /* batch 0 done: room for one */
	poll_until_sent(1);
	expect_deliver(1, SHARD_INFLIGHT_SLOTS);
	assert_int_equal(last_attempt, 0);
	expect_quiet();
	assert_int_equal(counter(0, SL_STAT_DROP_POLICY_SKIPS), 0);
	assert_int_equal(counter(0, SL_STAT_DEAD_LETTERS), 0);
}

int main(void)
{
	char *eal[] = {"test_shard", "--no-huge", "--no-pci", "--no-shconf",	   "-m",
		       "128",	     "--lcores",  "0",	      "--log-level=error", NULL};

	if (rte_eal_init(9, eal) < 0) {
		(void)fprintf(stderr, "EAL init failed: cannot run the shard tests\n");
		return 77;
	}
	const struct CMUnitTest one[] = {
		cmocka_unit_test_setup_teardown(test_shard_produce_stream_head_starts_stream,
						setup_one, teardown),
		cmocka_unit_test_setup_teardown(test_shard_produce_without_state_needs_stream_head,
						setup_one, teardown),
		cmocka_unit_test_setup_teardown(test_shard_produce_offsets_per_partition, setup_one,
						teardown),
		cmocka_unit_test_setup_teardown(test_shard_produce_newer_epoch_restarts_stream,
						setup_one, teardown),
		cmocka_unit_test_setup_teardown(test_shard_produce_older_epoch_is_fenced, setup_one,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_shard_produce_duplicate_answers_remembered_offset, setup_one,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_shard_produce_duplicate_within_window_gets_offset, setup_one,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_shard_produce_duplicate_beyond_window_is_unknown, setup_one, teardown),
		cmocka_unit_test_setup_teardown(test_shard_produce_stream_head_skips_ahead,
						setup_one, teardown),
		cmocka_unit_test_setup_teardown(test_shard_produce_ack_none_survives_lost_batch,
						setup_one, teardown),
		cmocka_unit_test_setup_teardown(test_shard_produce_gap_is_out_of_sequence,
						setup_one, teardown),
		cmocka_unit_test_setup_teardown(test_shard_produce_ack_none_sends_nothing,
						setup_one, teardown),
		cmocka_unit_test_setup_teardown(test_shard_durable_ack_waits_for_fdatasync,
						setup_one_journal, teardown_journal),
		cmocka_unit_test_setup_teardown(
			test_shard_journal_replay_restores_offsets_and_streams, setup_one_journal,
			teardown_journal),
		cmocka_unit_test_setup_teardown(test_shard_journal_recovers_across_a_window_change,
						setup_one_journal, teardown_journal),
		cmocka_unit_test_setup_teardown(test_shard_journal_open_refuses_another_shard_count,
						setup_one_journal, teardown_journal),
		cmocka_unit_test_setup_teardown(test_shard_produce_durable_is_refused_before_append,
						setup_one, teardown),
		cmocka_unit_test_setup_teardown(test_shard_produce_unknown_partition, setup_one,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_shard_produce_unknown_topic_without_auto_create, setup_one, teardown),
		cmocka_unit_test_setup_teardown(test_shard_produce_partitions_full_is_busy,
						setup_one, teardown),
		cmocka_unit_test_setup_teardown(test_shard_produce_producers_full_is_busy,
						setup_one, teardown),
		cmocka_unit_test_setup_teardown(test_shard_producers_sweep_forgets_idle_streams,
						setup_one, teardown),
		cmocka_unit_test_setup_teardown(test_shard_poll_garbage_gets_no_reply, setup_one,
						teardown),
		cmocka_unit_test_setup_teardown(test_shard_poll_bad_frames_get_nacks, setup_one,
						teardown),
		cmocka_unit_test_setup_teardown(test_shard_poll_replies_are_not_answered, setup_one,
						teardown),
		cmocka_unit_test_setup_teardown(test_shard_poll_ping_echoes_body, setup_one,
						teardown),
		cmocka_unit_test_setup_teardown(test_shard_poll_metadata_lists_topics, setup_one,
						teardown),
		cmocka_unit_test_setup_teardown(test_shard_poll_metadata_truncates_topic_list,
						setup_one, teardown),
		cmocka_unit_test_setup_teardown(test_shard_tx_flush_counts_refused_replies,
						setup_one, teardown),
		cmocka_unit_test_setup_teardown(test_shard_reply_without_reusable_mbuf, setup_one,
						teardown),
		cmocka_unit_test_setup_teardown(test_shard_poll_stats_of_any_shard, setup_two,
						teardown),
		cmocka_unit_test_setup_teardown(test_shard_poll_hands_batch_to_owner, setup_two,
						teardown),
		cmocka_unit_test_setup_teardown(test_shard_poll_full_ring_is_busy, setup_two,
						teardown),
		cmocka_unit_test_setup_teardown(test_mesh_destroy_frees_what_rings_hold, setup_two,
						teardown),
		cmocka_unit_test_setup_teardown(test_mesh_push_pop_transfers_in_order, setup_two,
						teardown),
		cmocka_unit_test_setup_teardown(test_mesh_create_rejects_bad_bounds, setup_two,
						teardown),
		cmocka_unit_test_setup_teardown(test_shard_run_stops_and_drains, setup_two,
						teardown),
		cmocka_unit_test_setup_teardown(test_shard_subscribe_answers_subscribed, setup_one,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_shard_subscribe_bad_pattern_is_nacked_with_detail, setup_one,
			teardown),
		cmocka_unit_test_setup_teardown(test_shard_subscribe_full_table_is_nacked,
						setup_one, teardown),
		cmocka_unit_test_setup_teardown(
			test_shard_deliver_overlapping_patterns_get_exactly_their_batches,
			setup_one, teardown),
		cmocka_unit_test_setup_teardown(
			test_shard_deliver_group_sends_each_batch_to_one_member, setup_one,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_shard_deliver_group_passes_over_a_member_without_credit, setup_one,
			teardown),
		cmocka_unit_test_setup_teardown(test_shard_deliver_respects_credit, setup_one,
						teardown),
		cmocka_unit_test_setup_teardown(test_shard_deliver_numbers_deliveries, setup_one,
						teardown),
		cmocka_unit_test_setup_teardown(test_shard_produce_limit_leaves_room_for_deliver,
						setup_one, teardown),
		cmocka_unit_test_setup_teardown(test_shard_credit_unknown_subscription_and_shard,
						setup_one, teardown),
		cmocka_unit_test_setup_teardown(test_shard_consumer_timeout_removes_subscriber,
						setup_one, teardown),
		cmocka_unit_test_setup_teardown(test_shard_unsubscribe_removes_and_answers_removed,
						setup_one, teardown),
		cmocka_unit_test_setup_teardown(test_shard_subscribe_is_broadcast_to_every_shard,
						setup_two, teardown),
		cmocka_unit_test_setup_teardown(test_shard_subscribe_full_control_ring_is_busy,
						setup_two, teardown),
		cmocka_unit_test_setup_teardown(
			test_shard_subscribe_applies_before_the_owners_next_burst, setup_two,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_shard_replay_earliest_then_live_without_gap_or_duplicate,
			setup_one_journal, teardown_journal),
		cmocka_unit_test_setup_teardown(test_shard_replay_policy_resumes_from_the_journal,
						setup_one_journal, teardown_journal),
		cmocka_unit_test_setup_teardown(test_shard_replay_waits_for_a_free_cursor,
						setup_one_journal, teardown_journal),
		cmocka_unit_test_setup_teardown(
			test_shard_subscribe_refused_at_offsets_holds_no_start_offsets,
			setup_one_journal, teardown_journal),
		cmocka_unit_test_setup_teardown(
			test_shard_replay_damaged_journal_turns_the_subscription_live,
			setup_one_journal, teardown_journal),
		cmocka_unit_test_setup_teardown(
			test_shard_replay_removed_subscriptions_give_up_their_cursor,
			setup_one_journal, teardown_journal),
		cmocka_unit_test_setup_teardown(
			test_shard_group_gone_mid_replay_gives_up_cursor_and_start,
			setup_one_journal, teardown_journal),
		cmocka_unit_test_setup_teardown(test_shard_consumer_ack_frees_delivered_batches,
						setup_one_journal, teardown_journal),
		cmocka_unit_test_setup_teardown(test_shard_consumer_ack_frees_listed_batches,
						setup_one_journal, teardown_journal),
		cmocka_unit_test_setup_teardown(test_shard_ack_timeout_redelivers_then_dead_letters,
						setup_one_journal, teardown_journal),
		cmocka_unit_test_setup_teardown(test_shard_rewind_keeps_the_start,
						setup_one_journal, teardown_journal),
		cmocka_unit_test_setup_teardown(test_shard_credit_timeout_frees_a_lost_deliver,
						setup_one_journal, teardown_journal),
		cmocka_unit_test_setup_teardown(
			test_shard_group_ack_timeout_redelivers_to_another_member,
			setup_one_journal, teardown_journal),
		cmocka_unit_test_setup_teardown(test_shard_group_member_gone_hands_its_batches_over,
						setup_one_journal, teardown_journal),
		cmocka_unit_test_setup_teardown(
			test_shard_group_batch_waits_for_a_member_with_credit, setup_one_journal,
			teardown_journal),
		cmocka_unit_test_setup_teardown(test_shard_group_batch_waits_for_an_ack,
						setup_one_journal, teardown_journal),
		cmocka_unit_test_setup_teardown(test_shard_replay_start_offsets_per_partition,
						setup_one_journal, teardown_journal),
		cmocka_unit_test_setup_teardown(
			test_shard_replay_start_offsets_fall_back_to_earliest, setup_one_journal,
			teardown_journal),
		cmocka_unit_test_setup_teardown(test_shard_start_offsets_reach_the_owner_shard,
						setup_two_journal, teardown_journal),
		cmocka_unit_test_setup_teardown(
			test_shard_start_offsets_full_pool_is_nacked_on_the_receiving_shard,
			setup_two_journal, teardown_journal),
		cmocka_unit_test_setup_teardown(
			test_shard_start_offsets_full_pool_elsewhere_starts_at_the_fallback,
			setup_two_journal, teardown_journal),
		cmocka_unit_test_setup_teardown(test_shard_group_starts_earliest_then_live,
						setup_one_journal, teardown_journal),
		cmocka_unit_test_setup_teardown(test_shard_group_full_refuses_another_member,
						setup_one_many_subscriptions, teardown),
		cmocka_unit_test_setup_teardown(test_shard_groups_full_refuses_another_group,
						setup_one_many_subscriptions, teardown),
		cmocka_unit_test_setup_teardown(
			test_shard_dead_letter_goes_to_the_dead_letter_topic, setup_one_journal,
			teardown_journal),
		cmocka_unit_test_setup_teardown(
			test_shard_group_dead_letter_goes_to_the_group_topic, setup_one_journal,
			teardown_journal),
		cmocka_unit_test_setup_teardown(test_shard_group_dead_letter_outlives_the_group,
						setup_one_journal, teardown_journal),
		cmocka_unit_test_setup_teardown(test_shard_dead_letter_without_its_topic_is_lost,
						setup_one_journal_fixed_topics, teardown_journal),
		cmocka_unit_test_setup_teardown(test_shard_create_rejects_bad_conf, setup_two,
						teardown),
	};
	int failed = cmocka_run_group_tests(one, NULL, NULL);
	(void)rte_eal_cleanup();
	return failed;
}
