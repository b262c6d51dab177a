/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The DPDK driver over a net_ring port (one RX and one TX rte_ring stand in for the
 * wire): frames are built by hand, enqueued on the RX ring, polled through the netdev,
 * and what the driver sends is read back from the TX ring and compared byte for byte
 * with packets whose checksums were computed independently. Every test ends with the
 * pool full again: no mbuf leaks on any path.
 */
#include "drivers/dpdk/dpdk_int.h"

#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ring.h>

#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define POOL_MBUFS 512u
#define FRAME_MAX 1472u
#define OUR_PORT 7800u
#define PEER_PORT 40000u

static const uint8_t peer_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
static const uint8_t peer_ip[4] = {10, 99, 0, 2};
static const uint8_t our_ip[4] = {10, 99, 0, 1};
static const char payload[] = "hello sluice"; /* 12 bytes on the wire */

/* IPv4 + UDP of a datagram from the peer, checksums computed outside DPDK. */
static const uint8_t rx_ip_udp[] = {0x45, 0x00, 0x00, 0x28, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11,
				    0x13, 0xc9, 0x0a, 0x63, 0x00, 0x02, 0x0a, 0x63, 0x00, 0x01,
				    0x9c, 0x40, 0x1e, 0x78, 0x00, 0x14, 0xa0, 0x17, 'h',  'e',
				    'l',  'l',	'o',  ' ',  's',  'l',	'u',  'i',  'c',  'e'};
/* The same payload sent back: IPv4 id 0 (the queue's first), DF, TTL 64. */
static const uint8_t tx_ip_udp[] = {0x45, 0x00, 0x00, 0x28, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
				    0x25, 0xfd, 0x0a, 0x63, 0x00, 0x01, 0x0a, 0x63, 0x00, 0x02,
				    0x1e, 0x78, 0x9c, 0x40, 0x00, 0x14, 0xa0, 0x17, 'h',  'e',
				    'l',  'l',	'o',  ' ',  's',  'l',	'u',  'i',  'c',  'e'};
/* ICMP echo request (id 0x77, seq 1, "pingdata") and the reply expected for it. */
static const uint8_t icmp_request[] = {0x45, 0x00, 0x00, 0x24, 0x00, 0x55, 0x00, 0x00, 0x40,
				       0x01, 0x65, 0xbc, 0x0a, 0x63, 0x00, 0x02, 0x0a, 0x63,
				       0x00, 0x01, 0x08, 0x00, 0x3f, 0xf4, 0x00, 0x77, 0x00,
				       0x01, 'p',  'i',	 'n',  'g',  'd',  'a',	 't',  'a'};
static const uint8_t icmp_reply[] = {0x45, 0x00, 0x00, 0x24, 0x00, 0x55, 0x00, 0x00, 0x40,
				     0x01, 0x65, 0xbc, 0x0a, 0x63, 0x00, 0x01, 0x0a, 0x63,
				     0x00, 0x02, 0x00, 0x00, 0x47, 0xf4, 0x00, 0x77, 0x00,
				     0x01, 'p',	 'i',  'n',  'g',  'd',	 'a',  't',  'a'};

struct fixture {
	struct rte_mempool *pool;
	struct rte_ring *rx; /* what the port receives: the test enqueues */
	struct rte_ring *tx; /* what the port sends: the test dequeues */
	uint16_t port_id;
	struct rte_ether_addr mac;
	struct netdev *nd;
};

static unsigned fixture_id;

static uint32_t ip_of(const uint8_t b[4])
{
	uint32_t v;

	memcpy(&v, b, 4);
	return v;
}

static struct netdev_dpdk_conf conf_for(struct fixture *fx)
{
	return (struct netdev_dpdk_conf){
		.port_id = fx->port_id,
		.ip4 = ip_of(our_ip),
		.port = htons(OUR_PORT),
		.queues = 1,
		.burst_max = 32,
		.frame_bytes_max = FRAME_MAX,
		.mtu = 1500,
		.arp_entries = 16,
		.arp_timeout_s = 300,
		.pools = &fx->pool,
	};
}

/* A pool and a ring port whose TX ring holds tx_slots - 1 frames; not opened yet. */
static struct fixture *fixture_create(unsigned tx_slots)
{
	static struct fixture fx;
	char name[32];
	unsigned id = fixture_id++;

	memset(&fx, 0, sizeof(fx));
	(void)snprintf(name, sizeof(name), "tpool%u", id);
	assert_int_equal(netdev_pool_create(name, POOL_MBUFS, FRAME_MAX, 0, &fx.pool), 0);
	(void)snprintf(name, sizeof(name), "trx%u", id);
	fx.rx = rte_ring_create(name, 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	(void)snprintf(name, sizeof(name), "ttx%u", id);
	fx.tx = rte_ring_create(name, tx_slots, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	assert_non_null(fx.rx);
	assert_non_null(fx.tx);
	(void)snprintf(name, sizeof(name), "tport%u", id);
	int port = rte_eth_from_rings(name, &fx.rx, 1, &fx.tx, 1, 0);
	assert_true(port >= 0);
	fx.port_id = (uint16_t)port;
	return &fx;
}

static int setup(void **state)
{
	struct fixture *fx = fixture_create(1024);
	struct netdev_dpdk_conf conf = conf_for(fx);

	assert_int_equal(netdev_dpdk_open(&conf, &fx->nd), 0);
	assert_int_equal(rte_eth_macaddr_get(fx->port_id, &fx->mac), 0);
	*state = fx;
	return 0;
}

static int setup_small_tx(void **state)
{
	struct fixture *fx = fixture_create(4); /* 3 frames fit */
	struct netdev_dpdk_conf conf = conf_for(fx);

	assert_int_equal(netdev_dpdk_open(&conf, &fx->nd), 0);
	assert_int_equal(rte_eth_macaddr_get(fx->port_id, &fx->mac), 0);
	*state = fx;
	return 0;
}

static void drain_ring(struct rte_ring *r)
{
	void *m;

	while (rte_ring_sc_dequeue(r, &m) == 0) {
		rte_pktmbuf_free(m);
	}
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	netdev_close(fx->nd);
	drain_ring(fx->rx);
	drain_ring(fx->tx);
	assert_int_equal(rte_mempool_avail_count(fx->pool), POOL_MBUFS);
	rte_ring_free(fx->rx);
	rte_ring_free(fx->tx);
	rte_mempool_free(fx->pool);
	return 0;
}

static uint64_t counter(struct fixture *fx, enum netdev_stat stat)
{
	uint64_t v[NETDEV_STAT_COUNT];

	netdev_counters(fx->nd, 0, v);
	return v[stat];
}

/* Ethernet header from the peer to us, optionally tagged; returns its length. */
static size_t put_eth(uint8_t *p, const struct fixture *fx, uint16_t type, int vlan_tci)
{
	size_t n = 0;

	memcpy(p, fx->mac.addr_bytes, 6);
	memcpy(p + 6, peer_mac, 6);
	n = 12;
	if (vlan_tci >= 0) {
		p[n++] = 0x81;
		p[n++] = 0x00;
		p[n++] = (uint8_t)(vlan_tci >> 8);
		p[n++] = (uint8_t)vlan_tci;
	}
	p[n++] = (uint8_t)(type >> 8);
	p[n++] = (uint8_t)type;
	return n;
}

/* Enqueues a frame of `len` bytes on the port's RX ring. */
static void inject(struct fixture *fx, const uint8_t *frame, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(fx->pool);

	assert_non_null(m);
	memcpy(rte_pktmbuf_append(m, (uint16_t)len), frame, len);
	assert_int_equal(rte_ring_sp_enqueue(fx->rx, m), 0);
}

/* Injects Ethernet + l3 bytes. */
static void inject_l3(struct fixture *fx, uint16_t type, int vlan_tci, const uint8_t *l3,
		      size_t l3_len)
{
	uint8_t frame[2048];
	size_t n = put_eth(frame, fx, type, vlan_tci);

	memcpy(frame + n, l3, l3_len);
	inject(fx, frame, n + l3_len);
}

/* Dequeues the one frame the port sent. */
static struct rte_mbuf *sent(struct fixture *fx)
{
	void *m = NULL;

	assert_int_equal(rte_ring_count(fx->tx), 1);
	assert_int_equal(rte_ring_sc_dequeue(fx->tx, &m), 0);
	return m;
}

/* Internet checksum, independent of DPDK's. */
static uint16_t inet_sum(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2) {
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	}
	if (len % 2 != 0) {
		sum += (uint32_t)p[len - 1] << 8;
	}
	while (sum >> 16 != 0) {
		sum = (sum & 0xffff) + (sum >> 16);
	}
	return (uint16_t)~sum;
}

/* Rewrites the IPv4 header checksum of ip (20 bytes). */
static void fix_ip_sum(uint8_t *ip)
{
	ip[10] = 0;
	ip[11] = 0;
	uint16_t s = inet_sum(ip, 20, 0);
	ip[10] = (uint8_t)(s >> 8);
	ip[11] = (uint8_t)s;
}

static void test_netdev_dpdk_rx_tx_known_packet_round_trip(void **state)
{
	struct fixture *fx = *state;
	struct rte_mbuf *m[4];

	inject_l3(fx, RTE_ETHER_TYPE_IPV4, -1, rx_ip_udp, sizeof(rx_ip_udp));
	assert_int_equal(netdev_rx_burst(fx->nd, 0, m, 4), 1);
	assert_int_equal(m[0]->data_len, 12);
	assert_int_equal(m[0]->pkt_len, 12);
	assert_memory_equal(rte_pktmbuf_mtod(m[0], void *), payload, 12);
	const struct netdev_peer *peer = netdev_mbuf_peer(m[0]);
	assert_int_equal(peer->ip4, ip_of(peer_ip));
	assert_int_equal(peer->port, htons(PEER_PORT));
	assert_memory_equal(peer->mac, peer_mac, 6);
	assert_int_equal(peer->vlan_tagged, 0);

	/* The shard replies in the same mbuf: here, the payload itself. */
	assert_int_equal(netdev_tx_burst(fx->nd, 0, m, 1), 1);
	assert_int_equal(rte_ring_count(fx->tx), 0); /* buffered until the flush */
	netdev_flush(fx->nd, 0);
	struct rte_mbuf *out = sent(fx);
	const uint8_t *p = rte_pktmbuf_mtod(out, const uint8_t *);
	assert_int_equal(out->data_len, 14 + sizeof(tx_ip_udp));
	assert_memory_equal(p, peer_mac, 6);
	assert_memory_equal(p + 6, fx->mac.addr_bytes, 6);
	assert_int_equal(p[12], 0x08);
	assert_int_equal(p[13], 0x00);
	assert_memory_equal(p + 14, tx_ip_udp, sizeof(tx_ip_udp));
	rte_pktmbuf_free(out);
	assert_int_equal(counter(fx, NETDEV_STAT_RX_FRAMES), 1);
	assert_int_equal(counter(fx, NETDEV_STAT_TX_FRAMES), 1);

	/* The next datagram sent carries the next IPv4 id. */
	struct rte_mbuf *again = rte_pktmbuf_alloc(fx->pool);
	memcpy(rte_pktmbuf_append(again, 12), payload, 12);
	*netdev_mbuf_peer(again) = *netdev_mbuf_peer(m[0]);
	assert_int_equal(netdev_tx_burst(fx->nd, 0, &again, 1), 1);
	netdev_flush(fx->nd, 0);
	out = sent(fx);
	p = rte_pktmbuf_mtod(out, const uint8_t *);
	assert_int_equal(p[14 + 4], 0x00);
	assert_int_equal(p[14 + 5], 0x01);
	assert_int_equal(inet_sum(p + 14, 20, 0), 0);
	rte_pktmbuf_free(out);
}

static void test_netdev_dpdk_rx_udp_without_checksum_accepted(void **state)
{
	struct fixture *fx = *state;
	uint8_t l3[sizeof(rx_ip_udp)];
	struct rte_mbuf *m;

	memcpy(l3, rx_ip_udp, sizeof(l3));
	l3[26] = 0;
	l3[27] = 0;
	inject_l3(fx, RTE_ETHER_TYPE_IPV4, -1, l3, sizeof(l3));
	assert_int_equal(netdev_rx_burst(fx->nd, 0, &m, 1), 1);
	rte_pktmbuf_free(m);
}

/* One malformed or foreign frame: nothing reaches the shard, `stat` counts it. */
static void expect_drop(struct fixture *fx, uint16_t type, const uint8_t *l3, size_t len,
			enum netdev_stat stat)
{
	struct rte_mbuf *m[2];
	uint64_t before = counter(fx, stat);

	inject_l3(fx, type, -1, l3, len);
	assert_int_equal(netdev_rx_burst(fx->nd, 0, m, 2), 0);
	netdev_flush(fx->nd, 0);
	assert_int_equal(rte_ring_count(fx->tx), 0);
	assert_int_equal(counter(fx, stat), before + 1);
}

static void test_netdev_dpdk_rx_drops_by_reason(void **state)
{
	struct fixture *fx = *state;
	uint8_t l3[sizeof(rx_ip_udp) + 8];
	struct rte_mbuf *m[2];

	/* Not IPv4: IPv6, a runt Ethernet frame, a nested VLAN tag. */
	expect_drop(fx, 0x86dd, rx_ip_udp, sizeof(rx_ip_udp), NETDEV_STAT_NOT_IPV4);
	inject(fx, (const uint8_t *)"short", 5);
	assert_int_equal(netdev_rx_burst(fx->nd, 0, m, 2), 0);
	assert_int_equal(counter(fx, NETDEV_STAT_NOT_IPV4), 2);

	/* Bad headers: version 6, IHL 4, total length past the frame, a cut header. */
	memcpy(l3, rx_ip_udp, sizeof(rx_ip_udp));
	l3[0] = 0x65;
	expect_drop(fx, RTE_ETHER_TYPE_IPV4, l3, sizeof(rx_ip_udp), NETDEV_STAT_IP_BAD_HEADER);
	l3[0] = 0x44;
	expect_drop(fx, RTE_ETHER_TYPE_IPV4, l3, sizeof(rx_ip_udp), NETDEV_STAT_IP_BAD_HEADER);
	memcpy(l3, rx_ip_udp, sizeof(rx_ip_udp));
	l3[3] = 0x40;
	fix_ip_sum(l3);
	expect_drop(fx, RTE_ETHER_TYPE_IPV4, l3, sizeof(rx_ip_udp), NETDEV_STAT_IP_BAD_HEADER);
	expect_drop(fx, RTE_ETHER_TYPE_IPV4, rx_ip_udp, 12, NETDEV_STAT_IP_BAD_HEADER);

	/* Header checksum. */
	memcpy(l3, rx_ip_udp, sizeof(rx_ip_udp));
	l3[11] ^= 0x01;
	expect_drop(fx, RTE_ETHER_TYPE_IPV4, l3, sizeof(rx_ip_udp), NETDEV_STAT_IP_BAD_CHECKSUM);

	/* Fragments: more-fragments set, then a non-zero offset. */
	memcpy(l3, rx_ip_udp, sizeof(rx_ip_udp));
	l3[6] = 0x20;
	fix_ip_sum(l3);
	expect_drop(fx, RTE_ETHER_TYPE_IPV4, l3, sizeof(rx_ip_udp), NETDEV_STAT_IP_FRAGMENT);
	l3[6] = 0x00;
	l3[7] = 0x10;
	fix_ip_sum(l3);
	expect_drop(fx, RTE_ETHER_TYPE_IPV4, l3, sizeof(rx_ip_udp), NETDEV_STAT_IP_FRAGMENT);

	/* Not for us: another destination address, then another UDP port. */
	memcpy(l3, rx_ip_udp, sizeof(rx_ip_udp));
	l3[19] = 9;
	fix_ip_sum(l3);
	expect_drop(fx, RTE_ETHER_TYPE_IPV4, l3, sizeof(rx_ip_udp), NETDEV_STAT_NOT_FOR_US);
	memcpy(l3, rx_ip_udp, sizeof(rx_ip_udp));
	l3[23] ^= 0x01;
	expect_drop(fx, RTE_ETHER_TYPE_IPV4, l3, sizeof(rx_ip_udp), NETDEV_STAT_NOT_FOR_US);

	/* Not UDP: TCP to us. */
	memcpy(l3, rx_ip_udp, sizeof(rx_ip_udp));
	l3[9] = 6;
	fix_ip_sum(l3);
	expect_drop(fx, RTE_ETHER_TYPE_IPV4, l3, sizeof(rx_ip_udp), NETDEV_STAT_NOT_UDP);

	/* UDP checksum, then UDP lengths short and long of the IPv4 payload. */
	memcpy(l3, rx_ip_udp, sizeof(rx_ip_udp));
	l3[sizeof(rx_ip_udp) - 1] ^= 0x01;
	expect_drop(fx, RTE_ETHER_TYPE_IPV4, l3, sizeof(rx_ip_udp), NETDEV_STAT_UDP_BAD_CHECKSUM);
	memcpy(l3, rx_ip_udp, sizeof(rx_ip_udp));
	l3[25] = 0x13;
	expect_drop(fx, RTE_ETHER_TYPE_IPV4, l3, sizeof(rx_ip_udp), NETDEV_STAT_UDP_BAD_LENGTH);
	l3[25] = 0x15;
	expect_drop(fx, RTE_ETHER_TYPE_IPV4, l3, sizeof(rx_ip_udp), NETDEV_STAT_UDP_BAD_LENGTH);
	memcpy(l3, rx_ip_udp, 24);
	l3[3] = 24;
	fix_ip_sum(l3);
	expect_drop(fx, RTE_ETHER_TYPE_IPV4, l3, 24, NETDEV_STAT_UDP_BAD_LENGTH);

	/* ICMP other than an echo request, and an echo request with a bad checksum. */
	memcpy(l3, icmp_request, sizeof(icmp_request));
	l3[20] = 13; /* timestamp */
	expect_drop(fx, RTE_ETHER_TYPE_IPV4, l3, sizeof(icmp_request), NETDEV_STAT_ICMP_OTHER);
	memcpy(l3, icmp_request, sizeof(icmp_request));
	l3[sizeof(icmp_request) - 1] ^= 0x01;
	expect_drop(fx, RTE_ETHER_TYPE_IPV4, l3, sizeof(icmp_request), NETDEV_STAT_ICMP_OTHER);

	assert_int_equal(counter(fx, NETDEV_STAT_RX_FRAMES), 18);
	assert_int_equal(counter(fx, NETDEV_STAT_ARP_EVICTED), 0);
}

/* An ARP packet (28 bytes) with the given op, sender and target IPv4. */
static void put_arp(uint8_t *a, uint16_t op, const uint8_t *sha, const uint8_t sip[4],
		    const uint8_t *tha, const uint8_t tip[4])
{
	static const uint8_t head[6] = {0x00, 0x01, 0x08, 0x00, 6, 4};

	memcpy(a, head, 6);
	a[6] = (uint8_t)(op >> 8);
	a[7] = (uint8_t)op;
	memcpy(a + 8, sha, 6);
	memcpy(a + 14, sip, 4);
	memcpy(a + 18, tha, 6);
	memcpy(a + 24, tip, 4);
}

static void test_netdev_dpdk_arp_request_answered_exact_bytes(void **state)
{
	struct fixture *fx = *state;
	static const uint8_t zero[6];
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	uint8_t frame[60] = {0};
	uint8_t want[60] = {0};
	struct rte_mbuf *m;

	/* Broadcast request, padded to the Ethernet minimum of 60 bytes. */
	memcpy(frame, bcast, 6);
	memcpy(frame + 6, peer_mac, 6);
	frame[12] = 0x08;
	frame[13] = 0x06;
	put_arp(frame + 14, 1, peer_mac, peer_ip, zero, our_ip);
	inject(fx, frame, sizeof(frame));
	assert_int_equal(netdev_rx_burst(fx->nd, 0, &m, 1), 0);
	netdev_flush(fx->nd, 0);

	memcpy(want, peer_mac, 6);
	memcpy(want + 6, fx->mac.addr_bytes, 6);
	want[12] = 0x08;
	want[13] = 0x06;
	put_arp(want + 14, 2, fx->mac.addr_bytes, our_ip, peer_mac, peer_ip);
	struct rte_mbuf *out = sent(fx);
	assert_int_equal(out->data_len, sizeof(want));
	assert_memory_equal(rte_pktmbuf_mtod(out, void *), want, sizeof(want));
	rte_pktmbuf_free(out);
	assert_int_equal(counter(fx, NETDEV_STAT_ARP_REQUESTS_ANSWERED), 1);

	/* A request for another address is not ours to answer. */
	static const uint8_t other_ip[4] = {10, 99, 0, 7};
	put_arp(frame + 14, 1, peer_mac, peer_ip, zero, other_ip);
	inject(fx, frame, sizeof(frame));
	assert_int_equal(netdev_rx_burst(fx->nd, 0, &m, 1), 0);
	netdev_flush(fx->nd, 0);
	assert_int_equal(rte_ring_count(fx->tx), 0);
	assert_int_equal(counter(fx, NETDEV_STAT_ARP_OTHER), 1);
	/* Nor is a truncated ARP packet. */
	inject(fx, frame, 14 + 20);
	assert_int_equal(netdev_rx_burst(fx->nd, 0, &m, 1), 0);
	assert_int_equal(counter(fx, NETDEV_STAT_ARP_OTHER), 2);
}

static void test_netdev_dpdk_arp_reply_learned_for_tx(void **state)
{
	struct fixture *fx = *state;
	uint8_t frame[60] = {0};
	struct rte_mbuf *m;
	static const uint8_t stranger_ip[4] = {10, 99, 0, 3};

	put_eth(frame, fx, RTE_ETHER_TYPE_ARP, -1);
	put_arp(frame + 14, 2, peer_mac, peer_ip, fx->mac.addr_bytes, our_ip);
	inject(fx, frame, sizeof(frame));
	assert_int_equal(netdev_rx_burst(fx->nd, 0, &m, 1), 0);
	assert_int_equal(counter(fx, NETDEV_STAT_ARP_REPLIES_LEARNED), 1);

	/* A datagram whose peer carries no MAC goes to the learned one. */
	m = rte_pktmbuf_alloc(fx->pool);
	memcpy(rte_pktmbuf_append(m, 12), payload, 12);
	*netdev_mbuf_peer(m) =
		(struct netdev_peer){.ip4 = ip_of(peer_ip), .port = htons(PEER_PORT)};
	assert_int_equal(netdev_tx_burst(fx->nd, 0, &m, 1), 1);
	netdev_flush(fx->nd, 0);
	struct rte_mbuf *out = sent(fx);
	assert_memory_equal(rte_pktmbuf_mtod(out, void *), peer_mac, 6);
	assert_memory_equal(rte_pktmbuf_mtod_offset(out, void *, 14), tx_ip_udp, sizeof(tx_ip_udp));
	rte_pktmbuf_free(out);

	/* One to a peer nobody announced is dropped and counted. */
	m = rte_pktmbuf_alloc(fx->pool);
	memcpy(rte_pktmbuf_append(m, 12), payload, 12);
	*netdev_mbuf_peer(m) =
		(struct netdev_peer){.ip4 = ip_of(stranger_ip), .port = htons(PEER_PORT)};
	assert_int_equal(netdev_tx_burst(fx->nd, 0, &m, 1), 1);
	netdev_flush(fx->nd, 0);
	assert_int_equal(rte_ring_count(fx->tx), 0);
	assert_int_equal(counter(fx, NETDEV_STAT_TX_DROP_NO_ARP), 1);
}

static void test_netdev_dpdk_icmp_echo_answered(void **state)
{
	struct fixture *fx = *state;
	struct rte_mbuf *m;

	inject_l3(fx, RTE_ETHER_TYPE_IPV4, -1, icmp_request, sizeof(icmp_request));
	assert_int_equal(netdev_rx_burst(fx->nd, 0, &m, 1), 0);
	netdev_flush(fx->nd, 0);
	struct rte_mbuf *out = sent(fx);
	const uint8_t *p = rte_pktmbuf_mtod(out, const uint8_t *);
	assert_int_equal(out->data_len, 14 + sizeof(icmp_reply));
	assert_memory_equal(p, peer_mac, 6);
	assert_memory_equal(p + 6, fx->mac.addr_bytes, 6);
	assert_memory_equal(p + 14, icmp_reply, sizeof(icmp_reply));
	rte_pktmbuf_free(out);
	assert_int_equal(counter(fx, NETDEV_STAT_ICMP_ECHO_ANSWERED), 1);
}

static void test_netdev_dpdk_vlan_tag_kept_for_reply(void **state)
{
	struct fixture *fx = *state;
	struct rte_mbuf *m;

	inject_l3(fx, RTE_ETHER_TYPE_IPV4, 0x2064, rx_ip_udp, sizeof(rx_ip_udp));
	assert_int_equal(netdev_rx_burst(fx->nd, 0, &m, 1), 1);
	assert_int_equal(m->data_len, 12);
	assert_int_equal(netdev_mbuf_peer(m)->vlan_tagged, 1);
	assert_int_equal(netdev_mbuf_peer(m)->vlan_tci, 0x2064);
	assert_int_equal(counter(fx, NETDEV_STAT_RX_VLAN), 1);

	assert_int_equal(netdev_tx_burst(fx->nd, 0, &m, 1), 1);
	netdev_flush(fx->nd, 0);
	struct rte_mbuf *out = sent(fx);
	const uint8_t *p = rte_pktmbuf_mtod(out, const uint8_t *);
	static const uint8_t tag[6] = {0x81, 0x00, 0x20, 0x64, 0x08, 0x00};
	assert_int_equal(out->data_len, 18 + sizeof(tx_ip_udp));
	assert_memory_equal(p + 12, tag, sizeof(tag));
	assert_memory_equal(p + 18, tx_ip_udp, sizeof(tx_ip_udp));
	rte_pktmbuf_free(out);

	/* A second tag inside the first is not IPv4 to us. */
	uint8_t l3[4 + sizeof(rx_ip_udp)] = {0x00, 0x05, 0x08, 0x00};
	memcpy(l3 + 4, rx_ip_udp, sizeof(rx_ip_udp));
	inject_l3(fx, RTE_ETHER_TYPE_VLAN, 0x0001, l3, sizeof(l3));
	assert_int_equal(netdev_rx_burst(fx->nd, 0, &m, 1), 0);
	assert_int_equal(counter(fx, NETDEV_STAT_NOT_IPV4), 1);

	/* ARP inside a tag is answered inside the same tag. */
	uint8_t arp[28];
	static const uint8_t zero[6];
	put_arp(arp, 1, peer_mac, peer_ip, zero, our_ip);
	inject_l3(fx, RTE_ETHER_TYPE_ARP, 0x0007, arp, sizeof(arp));
	assert_int_equal(netdev_rx_burst(fx->nd, 0, &m, 1), 0);
	netdev_flush(fx->nd, 0);
	out = sent(fx);
	p = rte_pktmbuf_mtod(out, const uint8_t *);
	static const uint8_t arp_tag[6] = {0x81, 0x00, 0x00, 0x07, 0x08, 0x06};
	assert_memory_equal(p + 12, arp_tag, sizeof(arp_tag));
	assert_int_equal(p[18 + 7], 2);
	rte_pktmbuf_free(out);
}

static void test_netdev_dpdk_tx_queue_full_counted(void **state)
{
	struct fixture *fx = *state;
	struct rte_mbuf *m[8];

	for (unsigned i = 0; i < 8; i++) {
		m[i] = rte_pktmbuf_alloc(fx->pool);
		assert_non_null(m[i]);
		memcpy(rte_pktmbuf_append(m[i], 12), payload, 12);
		*netdev_mbuf_peer(m[i]) = (struct netdev_peer){
			.ip4 = ip_of(peer_ip), .port = htons(PEER_PORT), .mac = {2, 0, 0, 0, 0, 2}};
	}
	assert_int_equal(netdev_tx_burst(fx->nd, 0, m, 8), 8);
	netdev_flush(fx->nd, 0);
	assert_int_equal(rte_ring_count(fx->tx), 3);
	assert_int_equal(counter(fx, NETDEV_STAT_TX_FRAMES), 3);
	assert_int_equal(counter(fx, NETDEV_STAT_TX_DROP_FULL), 5);
}

/* The UDP checksum of the IPv4 datagram at ip, computed independently: 0 when valid. */
static uint16_t udp_sum_check(const uint8_t *ip)
{
	uint32_t udp_len = (uint32_t)(ip[20 + 4] << 8 | ip[20 + 5]);
	uint32_t pseudo = 17u + udp_len;

	for (unsigned i = 12; i < 20; i += 2) {
		pseudo += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	}
	return inet_sum(ip + 20, udp_len, pseudo);
}

/*
 * A DELIVER as the shard builds it: a head mbuf of its own chained to an indirect clone
 * of the received mbuf's records. The frame on the wire is exactly head + records with
 * valid checksums, and the received mbuf gets its reference back.
 */
static void test_netdev_dpdk_tx_two_segment_chain_exact_bytes(void **state)
{
	struct fixture *fx = *state;
	static const char head_bytes[] = "DELIVER-HEAD-16b";	       /* 16 bytes */
	static const char produced[] = "PRODUCE-HDR:records one, two"; /* records after 12 */
	const uint16_t skip = 12;
	const uint16_t head_len = sizeof(head_bytes) - 1;
	const uint16_t rec_len = (uint16_t)(sizeof(produced) - 1 - skip);

	struct rte_mbuf *received = rte_pktmbuf_alloc(fx->pool);
	assert_non_null(received);
	memcpy(rte_pktmbuf_append(received, sizeof(produced) - 1), produced, sizeof(produced) - 1);
	struct rte_mbuf *rec = rte_pktmbuf_clone(received, fx->pool);
	assert_non_null(rec);
	assert_true(RTE_MBUF_CLONED(rec));
	assert_non_null(rte_pktmbuf_adj(rec, skip));
	assert_int_equal(rte_mbuf_refcnt_read(received), 2);

	struct rte_mbuf *head = rte_pktmbuf_alloc(fx->pool);
	assert_non_null(head);
	memcpy(rte_pktmbuf_append(head, head_len), head_bytes, head_len);
	*netdev_mbuf_peer(head) = (struct netdev_peer){
		.ip4 = ip_of(peer_ip), .port = htons(PEER_PORT), .mac = {2, 0, 0, 0, 0, 2}};
	assert_int_equal(rte_pktmbuf_chain(head, rec), 0);
	assert_int_equal(head->nb_segs, 2);
	assert_int_equal(rte_mempool_avail_count(fx->pool), POOL_MBUFS - 3);

	assert_int_equal(netdev_tx_burst(fx->nd, 0, &head, 1), 1);
	netdev_flush(fx->nd, 0);
	struct rte_mbuf *out = sent(fx);
	/* The indirect segment is gone and the received mbuf is ours alone again. */
	assert_int_equal(rte_mbuf_refcnt_read(received), 1);
	assert_int_equal(rte_mempool_avail_count(fx->pool), POOL_MBUFS - 2);

	const uint32_t frame_len = 14u + 20u + 8u + head_len + rec_len;
	uint8_t copy[128];
	assert_int_equal(out->pkt_len, frame_len);
	assert_int_equal(out->nb_segs, 1);
	const uint8_t *frame = rte_pktmbuf_read(out, 0, frame_len, copy);
	assert_non_null(frame);
	assert_memory_equal(frame, peer_mac, 6);
	assert_int_equal(frame[12], 0x08);
	assert_int_equal(frame[13], 0x00);
	const uint8_t *ip = frame + 14;
	assert_int_equal(ip[0], 0x45);
	assert_int_equal(ip[2] << 8 | ip[3], 20 + 8 + head_len + rec_len);
	assert_int_equal(ip[9], 17);
	assert_memory_equal(ip + 12, our_ip, 4);
	assert_memory_equal(ip + 16, peer_ip, 4);
	assert_int_equal(inet_sum(ip, 20, 0), 0);
	assert_int_equal(ip[20] << 8 | ip[21], OUR_PORT);
	assert_int_equal(ip[22] << 8 | ip[23], PEER_PORT);
	assert_int_equal(ip[24] << 8 | ip[25], 8 + head_len + rec_len);
	assert_true(ip[26] != 0 || ip[27] != 0); /* a checksum, not "none" */
	assert_int_equal(udp_sum_check(ip), 0);
	assert_memory_equal(ip + 28, head_bytes, head_len);
	assert_memory_equal(ip + 28 + head_len, produced + skip, rec_len);
	rte_pktmbuf_free(out);
	rte_pktmbuf_free(received);
	assert_int_equal(counter(fx, NETDEV_STAT_TX_FRAMES), 1);
	/* teardown: the pool is full again */
}

/* net_ring's MAC is all zeros: the source MAC is checked on a queue made by hand. */
static void test_dpdk_tx_encap_source_mac_and_headroom(void **state)
{
	struct fixture *fx = *state;
	struct dpdk_queue q = {
		.ip4 = ip_of(our_ip),
		.port = htons(OUR_PORT),
		.mac = {{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}},
	};
	struct rte_mbuf *m = rte_pktmbuf_alloc(fx->pool);

	memcpy(rte_pktmbuf_append(m, 12), payload, 12);
	*netdev_mbuf_peer(m) = (struct netdev_peer){
		.ip4 = ip_of(peer_ip), .port = htons(PEER_PORT), .mac = {2, 0, 0, 0, 0, 2}};
	assert_true(dpdk_tx_encap(&q, m, 0));
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	assert_memory_equal(p, peer_mac, 6);
	assert_memory_equal(p + 6, q.mac.addr_bytes, 6);
	assert_memory_equal(p + 14, tx_ip_udp, sizeof(tx_ip_udp));
	assert_int_equal(m->pkt_len, 14 + sizeof(tx_ip_udp));
	assert_int_equal(q.ip_id, 1);

	/* Without headroom for the headers the datagram is dropped and counted. */
	rte_pktmbuf_reset(m);
	m->data_off = 10;
	memcpy(rte_pktmbuf_append(m, 12), payload, 12);
	assert_false(dpdk_tx_encap(&q, m, 0));
	assert_int_equal(q.v[NETDEV_STAT_TX_DROP_NO_HEADROOM], 1);
	rte_pktmbuf_free(m);
}

static void test_dpdk_arp_table_insert_age_out_capacity(void **state)
{
	struct dpdk_arp_table t;
	struct rte_ether_addr mac = {{2, 0, 0, 0, 0, 1}};
	struct rte_ether_addr got;
	const uint64_t timeout = 1000;

	(void)state;
	assert_int_equal(dpdk_arp_init(&t, 0, timeout, 0), -EINVAL);
	assert_int_equal(dpdk_arp_init(&t, 5, timeout, 0), 0); /* rounded up to 8 slots */
	assert_int_equal(t.mask, 7);

	/* Insert, look up, refresh in place. */
	assert_false(dpdk_arp_lookup(&t, htonl(0x0a000001), 0, &got));
	assert_false(dpdk_arp_learn(&t, htonl(0x0a000001), &mac, 0));
	assert_true(dpdk_arp_lookup(&t, htonl(0x0a000001), 999, &got));
	assert_memory_equal(&got, &mac, sizeof(mac));
	mac.addr_bytes[5] = 9;
	assert_false(dpdk_arp_learn(&t, htonl(0x0a000001), &mac, 500));
	assert_int_equal(dpdk_arp_count(&t, 500), 1);
	assert_true(dpdk_arp_lookup(&t, htonl(0x0a000001), 1499, &got));
	assert_int_equal(got.addr_bytes[5], 9);
	/* Age out. */
	assert_false(dpdk_arp_lookup(&t, htonl(0x0a000001), 1500, &got));
	assert_int_equal(dpdk_arp_count(&t, 1500), 0);
	assert_false(dpdk_arp_learn(&t, 0, &mac, 0)); /* address 0 is never learned */

	/* Capacity: 9 live addresses in 8 slots evict the one expiring first. */
	for (uint32_t i = 0; i < 8; i++) {
		assert_false(dpdk_arp_learn(&t, htonl(0x0b000001 + i), &mac, 2000 + i));
	}
	assert_int_equal(dpdk_arp_count(&t, 2100), 8);
	assert_true(dpdk_arp_learn(&t, htonl(0x0c000001), &mac, 2100));
	assert_int_equal(dpdk_arp_count(&t, 2100), 8);
	assert_false(dpdk_arp_lookup(&t, htonl(0x0b000001), 2100, &got));
	for (uint32_t i = 1; i < 8; i++) {
		assert_true(dpdk_arp_lookup(&t, htonl(0x0b000001 + i), 2100, &got));
	}
	assert_true(dpdk_arp_lookup(&t, htonl(0x0c000001), 2100, &got));
	/* Expired entries are reused without eviction. */
	assert_false(dpdk_arp_learn(&t, htonl(0x0d000001), &mac, 5000));
	dpdk_arp_fini(&t);
}

static void test_netdev_dpdk_open_rejects_bad_conf(void **state)
{
	struct fixture *fx = fixture_create(64);
	struct netdev_dpdk_conf conf = conf_for(fx);
	struct rte_mempool *pools[2] = {fx->pool, fx->pool};
	struct netdev *nd = NULL;

	(void)state;
	conf.queues = 2; /* the ring port has one queue pair */
	conf.pools = pools;
	assert_int_equal(netdev_dpdk_open(&conf, &nd), -EINVAL);
	conf = conf_for(fx);
	conf.frame_bytes_max = 1473; /* more than mtu - 28 */
	assert_int_equal(netdev_dpdk_open(&conf, &nd), -EINVAL);
	conf = conf_for(fx);
	conf.mtu = 9000; /* pools made for 1472-byte frames */
	conf.frame_bytes_max = 8000;
	assert_int_equal(netdev_dpdk_open(&conf, &nd), -EINVAL);
	conf = conf_for(fx);
	conf.port = 0;
	assert_int_equal(netdev_dpdk_open(&conf, &nd), -EINVAL);
	conf = conf_for(fx);
	conf.port_id = RTE_MAX_ETHPORTS - 1;
	assert_int_equal(netdev_dpdk_open(&conf, &nd), -ENODEV);
	assert_null(nd);
	/* The port still opens with a good configuration afterwards. */
	conf = conf_for(fx);
	assert_int_equal(netdev_dpdk_open(&conf, &fx->nd), 0);
	assert_string_equal(fx->nd->driver, "dpdk");
	assert_int_equal(fx->nd->queues, 1);
	void *st = fx;
	(void)teardown(&st);
}

int main(void)
{
	char *eal[] = {"test_netdev_dpdk",
		       "--no-huge",
		       "--no-pci",
		       "--no-shconf",
		       "-m",
		       "128",
		       "--lcores",
		       "0",
		       "--log-level=error",
		       "--file-prefix=test_netdev_dpdk",
		       NULL};

	if (rte_eal_init(10, eal) < 0) {
		(void)fprintf(stderr, "EAL init failed: cannot run the DPDK driver tests\n");
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_netdev_dpdk_rx_tx_known_packet_round_trip,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_netdev_dpdk_rx_udp_without_checksum_accepted,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_netdev_dpdk_rx_drops_by_reason, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_netdev_dpdk_arp_request_answered_exact_bytes,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_netdev_dpdk_arp_reply_learned_for_tx, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_netdev_dpdk_icmp_echo_answered, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_netdev_dpdk_vlan_tag_kept_for_reply, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_netdev_dpdk_tx_queue_full_counted,
						setup_small_tx, teardown),
		cmocka_unit_test_setup_teardown(test_dpdk_tx_encap_source_mac_and_headroom, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_netdev_dpdk_tx_two_segment_chain_exact_bytes,
						setup, teardown),
		cmocka_unit_test(test_dpdk_arp_table_insert_age_out_capacity),
		cmocka_unit_test(test_netdev_dpdk_open_rejects_bad_conf),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	(void)rte_eal_cleanup();
	return failed;
}
