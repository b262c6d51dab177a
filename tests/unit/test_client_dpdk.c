/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libsluice-dpdk's producer transport over a net_ring port (one RX and one TX rte_ring
 * stand in for the wire): ARP resolution of the router (answered, and timing out), the
 * Ethernet/IPv4/UDP frame a produced batch leaves in (addresses, checksums, payload),
 * an ACK read back from the RX queue, datagrams from others ignored and ARP requests for
 * our address answered; and a consumer over the same transport: SUBSCRIBE out,
 * SUBSCRIBED and a DELIVER in, the event returned. Every test ends with the
 * application's pool full again.
 */
#include "core/wire.h"
#include "fake_router.h"
#include "src/client/producer_test.h"

#include <sluice/client_dpdk.h>

#include <rte_arp.h>
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_udp.h>

#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define POOL_MBUFS 256u
#define ROUTER_PORT 7800u
#define LOCAL_PORT 40001u
#define TOPIC "t"

static const struct rte_ether_addr router_mac = {{0x02, 0, 0, 0, 0, 0x0a}};
static const char router_ip[] = "10.97.0.1";
static const char local_ip[] = "10.97.0.2";

struct fixture {
	struct rte_mempool *pool;
	struct rte_ring *rx; /* what the port receives: the test enqueues */
	struct rte_ring *tx; /* what the port sends: the test dequeues */
	uint16_t port_id;
	struct rte_ether_addr mac;
	struct sl_dpdk_transport_config dcfg;
	struct sl_producer_config cfg;
	uint64_t acked;
	uint64_t base_offset;
	int error;
};

static unsigned fixture_id;

static uint32_t ip_of(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

static void on_delivery(void *ctx, const struct sl_delivery *d)
{
	struct fixture *fx = ctx;

	fx->acked += d->count;
	fx->base_offset = d->base_offset;
	fx->error = d->error;
}

static int setup(void **state)
{
	static struct fixture fx;
	char name[32];
	unsigned id = fixture_id++;

	memset(&fx, 0, sizeof(fx));
	(void)snprintf(name, sizeof(name), "cpool%u", id);
	fx.pool = rte_pktmbuf_pool_create(name, POOL_MBUFS, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	assert_non_null(fx.pool);
	(void)snprintf(name, sizeof(name), "crx%u", id);
	fx.rx = rte_ring_create(name, 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	(void)snprintf(name, sizeof(name), "ctx%u", id);
	fx.tx = rte_ring_create(name, 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	assert_non_null(fx.rx);
	assert_non_null(fx.tx);
	(void)snprintf(name, sizeof(name), "cport%u", id);
	int port = rte_eth_from_rings(name, &fx.rx, 1, &fx.tx, 1, 0);
	assert_true(port >= 0);
	fx.port_id = (uint16_t)port;
	/* The application starts the port: the producer only uses its queue 0. */
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	assert_int_equal(rte_eth_dev_configure(fx.port_id, 1, 1, &conf), 0);
	assert_int_equal(rte_eth_rx_queue_setup(fx.port_id, 0, 64, 0, NULL, fx.pool), 0);
	assert_int_equal(rte_eth_tx_queue_setup(fx.port_id, 0, 64, 0, NULL), 0);
	assert_int_equal(rte_eth_dev_start(fx.port_id), 0);
	assert_int_equal(rte_eth_macaddr_get(fx.port_id, &fx.mac), 0);

	sl_producer_config_init(&fx.cfg);
	fx.cfg.router = "10.97.0.1:7800";
	fx.cfg.linger_us = 0;
	fx.cfg.on_delivery = on_delivery;
	fx.cfg.ctx = &fx;
	sl_dpdk_transport_config_init(&fx.dcfg);
	fx.dcfg.port_id = fx.port_id;
	fx.dcfg.local_ip = local_ip;
	fx.dcfg.local_port = LOCAL_PORT;
	fx.dcfg.mbuf_pool = fx.pool;
	fx.dcfg.arp_timeout_ms = 40;
	fx.dcfg.arp_retries = 1;
	*state = &fx;
	return 0;
}

static void drain_ring(struct rte_ring *r)
{
	void *m;

	while (rte_ring_dequeue(r, &m) == 0) {
		rte_pktmbuf_free(m);
	}
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	drain_ring(fx->rx);
	drain_ring(fx->tx);
	/* No leak on any path: every mbuf is back. */
	assert_int_equal(rte_mempool_avail_count(fx->pool), POOL_MBUFS);
	(void)rte_eth_dev_stop(fx->port_id);
	(void)rte_eth_dev_close(fx->port_id);
	rte_mempool_free(fx->pool);
	rte_ring_free(fx->rx);
	rte_ring_free(fx->tx);
	return 0;
}

/* Dequeues the next frame the producer sent; fails the test when there is none. */
static struct rte_mbuf *sent_frame(struct fixture *fx)
{
	void *m = NULL;

	assert_int_equal(rte_ring_dequeue(fx->tx, &m), 0);
	return m;
}

/* Checks m is a broadcast ARP request from us for the router, and frees it. */
static void expect_arp_request(struct fixture *fx, struct rte_mbuf *m)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_arp_hdr *a = (struct rte_arp_hdr *)(eth + 1);

	assert_int_equal(m->data_len, 60);
	assert_true(rte_is_broadcast_ether_addr(&eth->dst_addr));
	assert_true(rte_is_same_ether_addr(&eth->src_addr, &fx->mac));
	assert_int_equal(eth->ether_type, htons(RTE_ETHER_TYPE_ARP));
	assert_int_equal(a->arp_opcode, htons(RTE_ARP_OP_REQUEST));
	assert_int_equal(a->arp_data.arp_sip, ip_of(local_ip));
	assert_int_equal(a->arp_data.arp_tip, ip_of(router_ip));
	assert_true(rte_is_same_ether_addr(&a->arp_data.arp_sha, &fx->mac));
	rte_pktmbuf_free(m);
}

/* An ARP frame from the router: a reply to us or a request for `target`. */
static void enqueue_arp(struct fixture *fx, uint16_t op, const char *sender, const char *target)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(fx->pool);
	assert_non_null(m);
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m, 60);
	struct rte_arp_hdr *a = (struct rte_arp_hdr *)(eth + 1);

	memset(eth, 0, 60);
	eth->dst_addr = fx->mac;
	eth->src_addr = router_mac;
	eth->ether_type = htons(RTE_ETHER_TYPE_ARP);
	a->arp_hardware = htons(RTE_ARP_HRD_ETHER);
	a->arp_protocol = htons(RTE_ETHER_TYPE_IPV4);
	a->arp_hlen = RTE_ETHER_ADDR_LEN;
	a->arp_plen = 4;
	a->arp_opcode = htons(op);
	a->arp_data.arp_sha = router_mac;
	a->arp_data.arp_sip = ip_of(sender);
	a->arp_data.arp_tha = fx->mac;
	a->arp_data.arp_tip = ip_of(target);
	assert_int_equal(rte_ring_enqueue(fx->rx, m), 0);
}

/* A UDP datagram carrying payload[0..len) from src_ip:src_port to us, checksums right. */
static void enqueue_udp(struct fixture *fx, const char *src_ip, uint16_t src_port,
			const void *payload, uint16_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(fx->pool);
	assert_non_null(m);
	uint16_t total = (uint16_t)(sizeof(struct rte_ether_hdr) + sizeof(struct rte_ipv4_hdr) +
				    sizeof(struct rte_udp_hdr) + len);
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m, total);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);

	eth->dst_addr = fx->mac;
	eth->src_addr = router_mac;
	eth->ether_type = htons(RTE_ETHER_TYPE_IPV4);
	*ip = (struct rte_ipv4_hdr){
		.version_ihl = RTE_IPV4_VHL_DEF,
		.total_length = htons((uint16_t)(sizeof(*ip) + sizeof(*udp) + len)),
		.time_to_live = 64,
		.next_proto_id = IPPROTO_UDP,
		.src_addr = ip_of(src_ip),
		.dst_addr = ip_of(local_ip),
	};
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	udp->src_port = htons(src_port);
	udp->dst_port = htons(LOCAL_PORT);
	udp->dgram_len = htons((uint16_t)(sizeof(*udp) + len));
	udp->dgram_cksum = 0;
	memcpy(udp + 1, payload, len);
	udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
	assert_int_equal(rte_ring_enqueue(fx->rx, m), 0);
}

/* The ACK the router would send for PRODUCE frame `req`. Returns its length. */
static uint32_t ack_for(const struct wire_frame *req, uint64_t base_offset, uint8_t *out,
			size_t cap)
{
	struct sl_wire_ack a = {.base_offset = base_offset, .ack_level = req->hdr.ack_level};
	struct sl_wire_header h;
	struct wire_builder b;
	uint8_t body[sizeof(a)];

	wire_ack_write(body, &a);
	wire_reply_header(&h, &req->hdr, SL_WIRE_ACK);
	assert_int_equal(wire_begin(&b, out, cap, &h, req->topic, req->hdr.topic_len), 0);
	assert_int_equal(wire_add_body(&b, body, sizeof(body)), 0);
	wire_put_u16(out + offsetof(struct sl_wire_header, record_count), req->hdr.record_count);
	return wire_finish(&b);
}

static void test_sl_producer_create_dpdk_arp_timeout(void **state)
{
	struct fixture *fx = *state;
	struct sl_producer *p = NULL;

	assert_int_equal(sl_producer_create_dpdk(&fx->cfg, &fx->dcfg, &p), -EHOSTUNREACH);
	assert_null(p);
	/* The first request and its one retry, then nothing. */
	expect_arp_request(fx, sent_frame(fx));
	expect_arp_request(fx, sent_frame(fx));
	assert_int_equal(rte_ring_count(fx->tx), 0);
}

static void test_sl_producer_create_dpdk_bad_config(void **state)
{
	struct fixture *fx = *state;
	struct sl_producer *p = NULL;

	fx->dcfg.local_ip = "not-an-ip";
	assert_int_equal(sl_producer_create_dpdk(&fx->cfg, &fx->dcfg, &p), -EINVAL);
	fx->dcfg.local_ip = local_ip;
	fx->dcfg.queue_id = 1;
	assert_int_equal(sl_producer_create_dpdk(&fx->cfg, &fx->dcfg, &p), -ENODEV);
	fx->dcfg.queue_id = 0;
	fx->cfg.router = "[::1]:7800";
	assert_int_equal(sl_producer_create_dpdk(&fx->cfg, &fx->dcfg, &p), -EINVAL);
	assert_null(p);
	assert_int_equal(rte_ring_count(fx->tx), 0);
}

static void test_sl_producer_create_dpdk_frame_and_ack(void **state)
{
	struct fixture *fx = *state;
	struct sl_producer *p = NULL;
	struct sl_producer_stats st;
	uint8_t ack[256];

	/* The router's ARP reply is waiting: resolution succeeds on the first request. */
	enqueue_arp(fx, RTE_ARP_OP_REPLY, router_ip, local_ip);
	assert_int_equal(sl_producer_create_dpdk(&fx->cfg, &fx->dcfg, &p), 0);
	expect_arp_request(fx, sent_frame(fx));
	assert_int_equal(producer_test_add_topic(p, TOPIC, 1, 8), 0);
	assert_int_equal(sl_produce_to(p, TOPIC, 0, "k", 1, "value", 5), 0);
	assert_true(sl_producer_poll(p, 0) >= 0);

	struct rte_mbuf *m = sent_frame(fx);
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
	assert_true(rte_is_same_ether_addr(&eth->dst_addr, &router_mac));
	assert_true(rte_is_same_ether_addr(&eth->src_addr, &fx->mac));
	assert_int_equal(eth->ether_type, htons(RTE_ETHER_TYPE_IPV4));
	assert_int_equal(ip->src_addr, ip_of(local_ip));
	assert_int_equal(ip->dst_addr, ip_of(router_ip));
	assert_int_equal(ip->next_proto_id, IPPROTO_UDP);
	assert_int_equal(rte_ipv4_cksum(ip), 0); /* valid header sums to zero */
	assert_int_equal(udp->src_port, htons(LOCAL_PORT));
	assert_int_equal(udp->dst_port, htons(ROUTER_PORT));
	uint16_t udp_len = ntohs(udp->dgram_len);
	assert_int_equal(ntohs(ip->total_length), sizeof(*ip) + udp_len);
	assert_int_equal(m->data_len, sizeof(*eth) + sizeof(*ip) + udp_len);
	uint16_t cksum = udp->dgram_cksum;
	udp->dgram_cksum = 0;
	assert_int_equal(rte_ipv4_udptcp_cksum(ip, udp), cksum);
	struct wire_frame f;
	assert_int_equal(wire_decode((const uint8_t *)(udp + 1), udp_len - sizeof(*udp),
				     SL_WIRE_FRAME_BYTES_MAX, &f),
			 SL_WIRE_OK);
	assert_int_equal(f.hdr.type, SL_WIRE_PRODUCE);
	assert_int_equal(f.hdr.record_count, 1);
	assert_int_equal(f.hdr.producer_id, sl_producer_id(p));
	uint32_t ack_len = ack_for(&f, 42, ack, sizeof(ack));
	rte_pktmbuf_free(m);

	/* An ACK from another host or port is ignored; the router's finishes the batch. */
	enqueue_udp(fx, "10.97.0.9", ROUTER_PORT, ack, (uint16_t)ack_len);
	enqueue_udp(fx, router_ip, ROUTER_PORT + 1, ack, (uint16_t)ack_len);
	enqueue_udp(fx, router_ip, ROUTER_PORT, ack, (uint16_t)ack_len);
	/* And someone asks for our MAC: answered on the same queue. */
	enqueue_arp(fx, RTE_ARP_OP_REQUEST, router_ip, local_ip);
	assert_int_equal(sl_flush(p, 1000), 0);
	assert_int_equal(fx->acked, 1);
	assert_int_equal(fx->error, 0);
	assert_int_equal(fx->base_offset, 42);
	sl_producer_stats_get(p, &st);
	assert_int_equal(st.acks, 1);
	assert_int_equal(st.datagrams_received, 1);

	m = sent_frame(fx);
	eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_arp_hdr *a = (struct rte_arp_hdr *)(eth + 1);
	assert_int_equal(a->arp_opcode, htons(RTE_ARP_OP_REPLY));
	assert_int_equal(a->arp_data.arp_sip, ip_of(local_ip));
	assert_true(rte_is_same_ether_addr(&a->arp_data.arp_sha, &fx->mac));
	assert_true(rte_is_same_ether_addr(&eth->dst_addr, &router_mac));
	rte_pktmbuf_free(m);
	assert_int_equal(rte_ring_count(fx->tx), 0);
	sl_producer_destroy(p);
}

static void test_sl_producer_create_dpdk_given_mac_no_arp(void **state)
{
	struct fixture *fx = *state;
	struct sl_producer *p = NULL;

	memcpy(fx->dcfg.router_mac, &router_mac, sizeof(fx->dcfg.router_mac));
	fx->dcfg.mbuf_pool = NULL; /* and the producer's own pool, freed by destroy */
	assert_int_equal(sl_producer_create_dpdk(&fx->cfg, &fx->dcfg, &p), 0);
	assert_int_equal(rte_ring_count(fx->tx), 0);
	assert_int_equal(producer_test_add_topic(p, TOPIC, 1, 8), 0);
	assert_int_equal(sl_produce_to(p, TOPIC, 0, NULL, 0, "v", 1), 0);
	assert_true(sl_producer_poll(p, 0) >= 0);
	assert_int_equal(rte_ring_count(fx->tx), 1);
	drain_ring(fx->tx); /* before destroy frees the pool these came from */
	sl_producer_destroy(p);
}

/* The frame the port sent, as a decoded sluice frame; m is freed by the caller. */
static void sent_sluice_frame(struct fixture *fx, struct rte_mbuf **m, struct wire_frame *f)
{
	*m = sent_frame(fx);
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(*m, struct rte_ether_hdr *);
	struct rte_udp_hdr *udp =
		(struct rte_udp_hdr *)((uint8_t *)(eth + 1) + sizeof(struct rte_ipv4_hdr));
	assert_int_equal(wire_decode((const uint8_t *)(udp + 1),
				     ntohs(udp->dgram_len) - sizeof(*udp), SL_WIRE_FRAME_BYTES_MAX,
				     f),
			 SL_WIRE_OK);
}

static void test_sl_consumer_create_dpdk_subscribe_and_deliver(void **state)
{
	struct fixture *fx = *state;
	struct sl_consumer_config cfg;
	struct sl_consumer *c = NULL;
	struct sl_wire_subscribed ok = {
		.window_batches = 8,
		.consumer_timeout_ms = 3000,
		.ack_timeout_ms = 1000,
		.shards = 1,
		.status = SL_SUB_ACTIVE,
	};
	struct sl_event ev[4];
	struct rte_mbuf *m;
	struct wire_frame f;
	uint8_t buf[512];
	uint32_t len = 0;
	uint32_t id = 0;

	sl_consumer_config_init(&cfg);
	cfg.router = "10.97.0.1:7800";
	cfg.subscriber_id = 77;
	cfg.window_batches = 8;
	cfg.retry_timeout_ms = 10;
	memcpy(fx->dcfg.router_mac, &router_mac, sizeof(fx->dcfg.router_mac));
	assert_int_equal(sl_consumer_create_dpdk(&cfg, &fx->dcfg, &c), 0);
	/* The answer is already waiting: the first subscription of a consumer is id 1. */
	assert_int_equal(wire_subscribed_encode(buf, sizeof(buf), 77, 1, (const uint8_t *)TOPIC,
						strlen(TOPIC), &ok, &len),
			 0);
	enqueue_udp(fx, router_ip, ROUTER_PORT, buf, (uint16_t)len);
	assert_int_equal(sl_subscribe(c, TOPIC, NULL, &id), 0);
	assert_int_equal(id, 1);
	sent_sluice_frame(fx, &m, &f);
	assert_int_equal(f.hdr.type, SL_WIRE_SUBSCRIBE);
	assert_int_equal(wire_subscriber_id(&f.hdr), 77);
	rte_pktmbuf_free(m);

	len = fake_router_deliver_build(buf, sizeof(buf), 77, 1, TOPIC, 0, 5, 2, 0, 0);
	assert_true(len > 0);
	enqueue_udp(fx, router_ip, ROUTER_PORT, buf, (uint16_t)len);
	assert_int_equal(sl_consumer_poll(c, ev, 4, 1000), 2);
	assert_string_equal(ev[0].topic, TOPIC);
	assert_int_equal(ev[0].offset, 5);
	assert_int_equal(ev[1].offset, 6);
	drain_ring(fx->tx); /* CREDIT and acks of destroy are not this test's subject */
	sl_consumer_destroy(c);
	drain_ring(fx->tx);
}

int main(void)
{
	char *eal[] = {"test_client_dpdk",
		       "--no-huge",
		       "--no-pci",
		       "--no-shconf",
		       "-m",
		       "128",
		       "--lcores",
		       "0",
		       "--log-level=error",
		       "--file-prefix=test_client_dpdk",
		       NULL};

	if (rte_eal_init(10, eal) < 0) {
		(void)fprintf(stderr, "EAL init failed: cannot run the DPDK producer tests\n");
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sl_producer_create_dpdk_arp_timeout, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sl_producer_create_dpdk_bad_config, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sl_producer_create_dpdk_frame_and_ack, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sl_producer_create_dpdk_given_mac_no_arp,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_sl_consumer_create_dpdk_subscribe_and_deliver,
						setup, teardown),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);

	(void)rte_eal_cleanup();
	return failed;
}
