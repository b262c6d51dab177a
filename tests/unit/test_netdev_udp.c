/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The kernel UDP driver on loopback: datagrams land in mbufs of the queue's pool with
 * the sender as peer, replies reach the sender, oversized datagrams are reported longer
 * than the frame limit, a second open of the same address fails, and every mbuf returns
 * to its pool on close.
 */
#include "drivers/udp/netdev_udp.h"

#include <rte_eal.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#define POOL_MBUFS 256u
#define FRAME_MAX 1472u

static struct rte_mempool *pools[2];

/* A loopback port nobody holds right now. */
static uint16_t free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	(void)close(fd);
	return sa.sin_port;
}

static struct netdev_udp_conf conf_for(uint16_t port, uint16_t queues)
{
	return (struct netdev_udp_conf){.ip4 = htonl(INADDR_LOOPBACK),
					.port = port,
					.queues = queues,
					.burst_max = 32,
					.frame_bytes_max = FRAME_MAX,
					.socket_buffer_bytes = 1u << 20,
					.pools = pools};
}

/* Receives on queue 0 until n datagrams came or a second passed. */
static uint16_t rx_wait(struct netdev *nd, struct rte_mbuf **m, uint16_t n)
{
	uint16_t got = 0;

	for (int i = 0; i < 100 && got < n; i++) {
		got = (uint16_t)(got + netdev_rx_burst(nd, 0, m + got, (uint16_t)(n - got)));
		if (got < n) {
			assert_int_equal(netdev_wait(nd, 0, 10000), 0);
		}
	}
	return got;
}

static void test_netdev_udp_open_rx_tx_round_trip(void **state)
{
	uint16_t port = free_port();
	struct netdev_udp_conf conf = conf_for(port, 1);
	struct netdev *nd;
	struct rte_mbuf *m[4];
	struct sockaddr_in to = {
		.sin_family = AF_INET, .sin_port = port, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct sockaddr_in me;
	socklen_t len = sizeof(me);
	char buf[64];

	(void)state;
	assert_int_equal(netdev_udp_open(&conf, &nd), 0);
	assert_string_equal(nd->driver, "udp");
	assert_true(netdev_has_wait(nd));
	assert_int_equal(netdev_rx_burst(nd, 0, m, 4), 0);

	int c = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(c >= 0);
	assert_int_equal(sendto(c, "hello", 5, 0, (struct sockaddr *)&to, sizeof(to)), 5);
	assert_int_equal(sendto(c, "world!", 6, 0, (struct sockaddr *)&to, sizeof(to)), 6);
	assert_int_equal(getsockname(c, (struct sockaddr *)&me, &len), 0);
	assert_int_equal(rx_wait(nd, m, 2), 2);
	assert_int_equal(m[0]->data_len, 5);
	assert_int_equal(m[0]->pkt_len, 5);
	assert_memory_equal(rte_pktmbuf_mtod(m[0], void *), "hello", 5);
	assert_int_equal(m[1]->data_len, 6);
	assert_int_equal(netdev_mbuf_peer(m[0])->ip4, htonl(INADDR_LOOPBACK));
	assert_int_equal(netdev_mbuf_peer(m[0])->port, me.sin_port);
	assert_ptr_equal(m[0]->pool, pools[0]);

	/* Reply with the received mbufs: tx_burst takes and frees them. */
	assert_int_equal(netdev_tx_burst(nd, 0, m, 2), 2);
	netdev_flush(nd, 0);
	struct pollfd pfd = {.fd = c, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, 1000), 1);
	assert_int_equal(recv(c, buf, sizeof(buf), 0), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(recv(c, buf, sizeof(buf), 0), 6);
	(void)close(c);
	netdev_close(nd);
	assert_int_equal(rte_mempool_avail_count(pools[0]), POOL_MBUFS);
}

static void test_netdev_udp_rx_oversized_is_longer_than_limit(void **state)
{
	uint16_t port = free_port();
	struct netdev_udp_conf conf = conf_for(port, 1);
	struct netdev *nd;
	struct rte_mbuf *m;
	static char big[4000];
	struct sockaddr_in to = {
		.sin_family = AF_INET, .sin_port = port, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	(void)state;
	assert_int_equal(netdev_udp_open(&conf, &nd), 0);
	int c = socket(AF_INET, SOCK_DGRAM, 0);
	assert_int_equal(sendto(c, big, sizeof(big), 0, (struct sockaddr *)&to, sizeof(to)),
			 sizeof(big));
	assert_int_equal(rx_wait(nd, &m, 1), 1);
	assert_true(m->data_len > FRAME_MAX);
	rte_pktmbuf_free(m);
	(void)close(c);
	netdev_close(nd);
	assert_int_equal(rte_mempool_avail_count(pools[0]), POOL_MBUFS);
}

/* Receives and frees everything waiting on queue 0; returns how many datagrams. */
static unsigned rx_drain(struct netdev *nd)
{
	struct rte_mbuf *m[32];
	unsigned got = 0;
	uint16_t n;

	while ((n = netdev_rx_burst(nd, 0, m, 32)) > 0) {
		got += n;
		rte_pktmbuf_free_bulk(m, n);
	}
	return got;
}

/* Datagrams the kernel dropped on a full socket buffer are counted (SO_RXQ_OVFL) as
 * net_port_imissed, exactly: every one sent is either received or counted. */
static void test_netdev_udp_counts_kernel_drops(void **state)
{
	uint16_t port = free_port();
	struct netdev_udp_conf conf = conf_for(port, 1);
	struct netdev *nd;
	static char payload[1000];
	uint64_t values[NETDEV_STAT_COUNT];
	struct sockaddr_in to = {
		.sin_family = AF_INET, .sin_port = port, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	const unsigned sent = 400;

	(void)state;
	conf.socket_buffer_bytes = 64u << 10;
	assert_int_equal(netdev_udp_open(&conf, &nd), 0);
	netdev_counters(nd, 0, values);
	assert_int_equal(values[NETDEV_STAT_PORT_IMISSED], 0);
	int c = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(c >= 0);
	/* Loopback queues (or drops) each datagram before sendto returns. */
	for (unsigned i = 0; i < sent; i++) {
		assert_int_equal(
			sendto(c, payload, sizeof(payload), 0, (struct sockaddr *)&to, sizeof(to)),
			sizeof(payload));
	}
	unsigned got = rx_drain(nd);
	assert_true(got < sent);
	/* The total rides on datagrams queued after a drop: one more brings it. */
	assert_int_equal(sendto(c, payload, sizeof(payload), 0, (struct sockaddr *)&to, sizeof(to)),
			 sizeof(payload));
	struct rte_mbuf *last;
	assert_int_equal(rx_wait(nd, &last, 1), 1);
	rte_pktmbuf_free(last);
	netdev_counters(nd, 0, values);
	assert_int_equal(values[NETDEV_STAT_PORT_IMISSED], sent - got);
	(void)close(c);
	netdev_close(nd);
	assert_int_equal(rte_mempool_avail_count(pools[0]), POOL_MBUFS);
}

static void test_netdev_udp_open_address_in_use(void **state)
{
	uint16_t port = free_port();
	struct netdev_udp_conf conf = conf_for(port, 2);
	struct netdev *nd;
	struct netdev *nd2 = NULL;

	(void)state;
	assert_int_equal(netdev_udp_open(&conf, &nd), 0);
	assert_int_equal(nd->queues, 2);
	assert_int_equal(netdev_udp_open(&conf, &nd2), -EADDRINUSE);
	assert_null(nd2);
	netdev_close(nd);
	assert_int_equal(netdev_udp_open(&conf, &nd), 0);
	netdev_close(nd);
}

static void test_netdev_udp_open_rejects_bad_conf(void **state)
{
	struct netdev_udp_conf conf = conf_for(free_port(), 1);
	struct netdev *nd = NULL;

	(void)state;
	conf.port = 0;
	assert_int_equal(netdev_udp_open(&conf, &nd), -EINVAL);
	conf = conf_for(free_port(), 1);
	conf.burst_max = 0;
	assert_int_equal(netdev_udp_open(&conf, &nd), -EINVAL);
	conf = conf_for(free_port(), 1);
	conf.frame_bytes_max = 4000; /* the pools were made for 1472 */
	assert_int_equal(netdev_udp_open(&conf, &nd), -EINVAL);
	assert_null(nd);
}

static void test_netdev_pool_create_sizes_room(void **state)
{
	(void)state;
	assert_true(netdev_pool_data_bytes(FRAME_MAX) >= FRAME_MAX + 8);
	assert_true(rte_pktmbuf_priv_size(pools[0]) >= sizeof(struct netdev_peer));
	assert_true(rte_pktmbuf_data_room_size(pools[0]) >=
		    RTE_PKTMBUF_HEADROOM + netdev_pool_data_bytes(FRAME_MAX));
}

int main(void)
{
	char *eal[] = {
		"test_netdev_udp", "--no-huge", "--no-pci",	     "--no-shconf", "-m", "128",
		"--lcores",	   "0",		"--log-level=error", NULL};

	if (rte_eal_init(9, eal) < 0) {
		(void)fprintf(stderr, "EAL init failed: cannot run the udp driver tests\n");
		return 77;
	}
	for (int i = 0; i < 2; i++) {
		char name[16];
		(void)snprintf(name, sizeof(name), "udp%d", i);
		if (netdev_pool_create(name, POOL_MBUFS, FRAME_MAX, 0, &pools[i]) != 0) {
			(void)fprintf(stderr, "cannot create mbuf pools\n");
			return 1;
		}
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_netdev_udp_open_rx_tx_round_trip),
		cmocka_unit_test(test_netdev_udp_rx_oversized_is_longer_than_limit),
		cmocka_unit_test(test_netdev_udp_counts_kernel_drops),
		cmocka_unit_test(test_netdev_udp_open_address_in_use),
		cmocka_unit_test(test_netdev_udp_open_rejects_bad_conf),
		cmocka_unit_test(test_netdev_pool_create_sizes_room),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	rte_mempool_free(pools[0]);
	rte_mempool_free(pools[1]);
	(void)rte_eal_cleanup();
	return failed;
}
