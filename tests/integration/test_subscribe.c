/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Subscriptions end to end over the kernel UDP driver, with raw frames: a real sluiced
 * with two shards, a SUBSCRIBE received by whichever shard the kernel picks (so the
 * control messages cross the mesh), PRODUCE batches spread over the partitions of both
 * shards, and the DELIVERs checked byte for byte: each is a head and the batch's shared
 * records sent as one datagram (sendmmsg with two iovecs), whose CRC covers both.
 */
#include "router_proc.h"

#include "core/wire.h"

#include <sluice/client.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#define SUBSCRIBER 0xC0FFEEu
#define PARTITIONS 4u
#define BATCHES_PER_PARTITION 5u

static const char *sluiced_path;

struct conn {
	struct router_proc r;
	int fd;
	struct sockaddr_in to;
};

static int setup(void **state)
{
	static struct conn c;
	static const char *const flags[] = {"--shards", "2", "--partitions", "4", NULL};
	struct timeval tv = {.tv_sec = 5};

	memset(&c, 0, sizeof(c));
	if (router_proc_start(&c.r, sluiced_path, flags) != 0) {
		return -1;
	}
	c.fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (c.fd < 0 || setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0) {
		return -1;
	}
	c.to = (struct sockaddr_in){.sin_family = AF_INET,
				    .sin_port = htons(c.r.port),
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	*state = &c;
	return 0;
}

static int teardown(void **state)
{
	struct conn *c = *state;

	(void)close(c->fd);
	return router_proc_stop(&c->r) == 0 ? 0 : -1;
}

static void send_frame(struct conn *c, const void *buf, uint32_t len)
{
	assert_true(sendto(c->fd, buf, len, 0, (const struct sockaddr *)&c->to, sizeof(c->to)) ==
		    (ssize_t)len);
}

/* Receives one datagram that must decode; returns its type and copies it to buf. */
static unsigned recv_frame(struct conn *c, uint8_t *buf, size_t cap, struct wire_frame *f)
{
	ssize_t n = recv(c->fd, buf, cap, 0);

	assert_true(n > 0);
	assert_int_equal(wire_decode(buf, (uint32_t)n, SL_WIRE_FRAME_BYTES_DEFAULT, f), SL_WIRE_OK);
	return f->hdr.type;
}

static void send_produce(struct conn *c, const char *topic, uint32_t partition, uint64_t sequence)
{
	uint8_t buf[SL_WIRE_FRAME_BYTES_DEFAULT];
	char value[32];
	struct sl_wire_header h;
	struct wire_builder b;

	wire_header_init(&h, SL_WIRE_PRODUCE);
	h.producer_id = 9;
	h.producer_epoch = 1;
	h.sequence = sequence;
	h.partition = partition;
	h.ack_level = SL_ACKS_RECEIVED;
	h.flags = sequence == 0 ? SL_WIRE_FLAG_STREAM_HEAD : 0;
	assert_int_equal(wire_begin(&b, buf, sizeof(buf), &h, topic, strlen(topic)), 0);
	int len = snprintf(value, sizeof(value), "%s/%u/%llu", topic, partition,
			   (unsigned long long)sequence);
	assert_int_equal(wire_add_record(&b, "k", 1, value, (size_t)len, 1), 0);
	send_frame(c, buf, wire_finish(&b));
}

static void test_subscribe_delivers_matching_batches_from_both_shards(void **state)
{
	struct conn *c = *state;
	uint8_t buf[SL_WIRE_FRAME_BYTES_MAX];
	struct wire_frame f;
	uint32_t len;
	struct wire_subscribe sub = {
		.subscriber_id = SUBSCRIBER,
		.subscription_id = 1,
		.pattern = (const uint8_t *)"orders.>",
		.pattern_len = 8,
		.params = {.window_batches = 1000},
	};

	assert_int_equal(wire_subscribe_encode(buf, sizeof(buf), &sub, NULL, &len), 0);
	send_frame(c, buf, len);
	assert_int_equal(recv_frame(c, buf, sizeof(buf), &f), SL_WIRE_SUBSCRIBED);
	struct sl_wire_subscribed sd;
	wire_subscribed_read(f.body, &sd);
	assert_int_equal(sd.status, SL_SUB_ACTIVE);
	assert_int_equal(sd.shards, 2);
	/* No wait for the other shard: every frame of this socket reaches one shard
	 * (SO_REUSEPORT hashes the address pair), which queued the control message before
	 * it answered, and a shard applies its control messages before the batches handed
	 * over to it in the same poll. */

	for (uint64_t q = 0; q < BATCHES_PER_PARTITION; q++) {
		for (uint32_t p = 0; p < PARTITIONS; p++) {
			send_produce(c, "orders.eu", p, q);
			send_produce(c, "payments", p, q); /* not matched */
		}
	}
	unsigned acks = 0;
	unsigned delivers = 0;
	uint64_t next_base[PARTITIONS] = {0};
	unsigned shards_seen = 0;
	while (acks < 2 * PARTITIONS * BATCHES_PER_PARTITION ||
	       delivers < PARTITIONS * BATCHES_PER_PARTITION) {
		unsigned type = recv_frame(c, buf, sizeof(buf), &f);
		if (type == SL_WIRE_ACK) {
			acks++;
			continue;
		}
		assert_int_equal(type, SL_WIRE_DELIVER);
		struct wire_deliver d;
		assert_int_equal(wire_deliver_parse(&f, &d), SL_WIRE_OK);
		assert_true(d.subscriber_id == SUBSCRIBER);
		assert_int_equal(d.subscription_id, 1);
		assert_int_equal(d.topic_len, 9);
		assert_memory_equal(d.topic, "orders.eu", 9);
		assert_true(d.partition < PARTITIONS);
		/* In order within a partition, none twice, none missing. */
		assert_true(d.base_offset == next_base[d.partition]);
		next_base[d.partition]++;
		shards_seen |= 1u << d.meta.shard;
		struct wire_record_iter it;
		struct wire_record rec;
		char want[32];
		wire_record_iter_init_body(&it, d.records, d.records_len);
		assert_true(wire_record_next(&it, &rec));
		int n = snprintf(want, sizeof(want), "orders.eu/%u/%llu", d.partition,
				 (unsigned long long)d.base_offset);
		assert_int_equal(rec.value_len, n);
		assert_memory_equal(rec.value, want, (size_t)n);
		delivers++;
	}
	assert_int_equal(shards_seen, 3); /* both shards own some of the partitions */

	assert_int_equal(wire_unsubscribe_encode(buf, sizeof(buf), SUBSCRIBER, 1, &len), 0);
	send_frame(c, buf, len);
	assert_int_equal(recv_frame(c, buf, sizeof(buf), &f), SL_WIRE_SUBSCRIBED);
	wire_subscribed_read(f.body, &sd);
	assert_int_equal(sd.status, SL_SUB_REMOVED);
}

/* Sends `len` bytes and waits for the NACK they earn (DELIVERs and ACKs meanwhile are
 * skipped); returns it. */
static struct sl_wire_nack send_expect_nack(struct conn *c, const void *frame, uint32_t len)
{
	uint8_t buf[SL_WIRE_FRAME_BYTES_MAX];
	struct wire_frame f;
	struct sl_wire_nack nack;

	send_frame(c, frame, len);
	while (recv_frame(c, buf, sizeof(buf), &f) != SL_WIRE_NACK) {
	}
	wire_nack_read(f.body, &nack);
	return nack;
}

static void subscribe_raw(struct conn *c, uint8_t *buf, size_t cap, struct wire_subscribe *sub)
{
	uint32_t len;

	assert_int_equal(wire_subscribe_encode(buf, cap, sub, NULL, &len), 0);
	send_frame(c, buf, len);
}

static uint64_t counter_sum(struct conn *c, enum sl_stat stat)
{
	struct sl_shard_stats shards[4];
	unsigned n = 0;
	uint64_t sum = 0;

	assert_int_equal(sl_stats_fetch(c->r.address, 5000, shards, 4, &n), 0);
	for (unsigned i = 0; i < n; i++) {
		sum += shards[i].counters[stat];
	}
	return sum;
}

/*
 * Bad subscription frames against a router with a live subscription: an invalid pattern,
 * a window of neither batches nor bytes, CREDIT counting more than was sent or naming a
 * shard that does not exist, CONSUMER_ACK past what was delivered, a SUBSCRIBE cut
 * short. Each is NACKed with its reason and counted; the subscription still gets every
 * batch afterwards.
 */
static void test_subscribe_bad_frames_nacked_router_still_delivers(void **state)
{
	struct conn *c = *state;
	uint8_t buf[SL_WIRE_FRAME_BYTES_MAX];
	struct wire_frame f;
	struct sl_wire_nack nack;
	uint32_t len;
	struct wire_subscribe good = {
		.subscriber_id = SUBSCRIBER,
		.subscription_id = 1,
		.pattern = (const uint8_t *)"orders.>",
		.pattern_len = 8,
		.params = {.window_batches = 1000},
	};

	subscribe_raw(c, buf, sizeof(buf), &good);
	assert_int_equal(recv_frame(c, buf, sizeof(buf), &f), SL_WIRE_SUBSCRIBED);

	struct wire_subscribe bad = good;
	bad.subscription_id = 2;
	bad.pattern = (const uint8_t *)"orders.>.eu";
	bad.pattern_len = 11;
	assert_int_equal(wire_subscribe_encode(buf, sizeof(buf), &bad, NULL, &len), 0);
	nack = send_expect_nack(c, buf, len);
	assert_int_equal(nack.reason, SL_NACK_BAD_PATTERN);
	assert_int_equal(nack.detail, SL_SUB_PATTERN_TAIL_NOT_LAST);

	bad = good;
	bad.subscription_id = 3;
	bad.params.window_batches = 0;
	assert_int_equal(wire_subscribe_encode(buf, sizeof(buf), &bad, NULL, &len), 0);
	nack = send_expect_nack(c, buf, len);
	assert_int_equal(nack.reason, SL_NACK_BAD_CREDIT);
	assert_int_equal(nack.detail, SL_SUB_WINDOW_UNLIMITED);

	/* A SUBSCRIBE cut short: the CRC no longer matches. */
	assert_int_equal(wire_subscribe_encode(buf, sizeof(buf), &good, NULL, &len), 0);
	nack = send_expect_nack(c, buf, len - 8);
	assert_true(nack.reason == SL_NACK_MALFORMED || nack.reason == SL_NACK_BAD_CRC);

	struct sl_wire_credit absurd = {.consumed_batches = UINT64_MAX / 2, .window_batches = 1000};
	assert_int_equal(wire_credit_encode(buf, sizeof(buf), SUBSCRIBER, 1, 0, &absurd, &len), 0);
	nack = send_expect_nack(c, buf, len);
	assert_int_equal(nack.reason, SL_NACK_BAD_CREDIT);
	assert_int_equal(nack.detail, SL_SUB_CREDIT_AHEAD);

	struct sl_wire_credit fine = {.window_batches = 1000};
	assert_int_equal(wire_credit_encode(buf, sizeof(buf), SUBSCRIBER, 1, 7, &fine, &len), 0);
	nack = send_expect_nack(c, buf, len);
	assert_int_equal(nack.reason, SL_NACK_BAD_CREDIT);
	assert_int_equal(nack.detail, SL_SUB_CREDIT_SHARD);

	assert_int_equal(wire_consumer_ack_encode(buf, sizeof(buf), SUBSCRIBER, 1,
						  (const uint8_t *)"orders.eu", 9, 0, 1000000, NULL,
						  0, &len),
			 0);
	nack = send_expect_nack(c, buf, len);
	assert_int_equal(nack.reason, SL_NACK_UNKNOWN_OFFSET);

	assert_true(counter_sum(c, SL_STAT_DROP_BAD_PATTERN) == 1);
	assert_true(counter_sum(c, SL_STAT_DROP_BAD_CREDIT) >= 1);
	assert_true(counter_sum(c, SL_STAT_ACKS_UNKNOWN_OFFSET) == 1);

	/* Still delivering to the good subscription, in order. */
	for (uint32_t p = 0; p < PARTITIONS; p++) {
		send_produce(c, "orders.eu", p, 0);
	}
	unsigned delivers = 0;
	unsigned acks = 0;
	while (delivers < PARTITIONS || acks < PARTITIONS) {
		unsigned type = recv_frame(c, buf, sizeof(buf), &f);
		if (type == SL_WIRE_ACK) {
			acks++;
			continue;
		}
		assert_int_equal(type, SL_WIRE_DELIVER);
		struct wire_deliver d;
		assert_int_equal(wire_deliver_parse(&f, &d), SL_WIRE_OK);
		assert_int_equal(d.subscription_id, 1);
		assert_true(d.base_offset == 0);
		delivers++;
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_subscribe_delivers_matching_batches_from_both_shards, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_subscribe_bad_frames_nacked_router_still_delivers, setup, teardown),
	};

	if (argc != 2) {
		(void)fprintf(stderr, "usage: %s SLUICED\n", argv[0]);
		return 2;
	}
	sluiced_path = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
