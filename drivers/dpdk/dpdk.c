/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The DPDK driver's netdev operations and port bring-up. rx_burst polls the queue and
 * keeps only datagrams for us, queueing ARP and ICMP replies for send; tx_burst
 * encapsulates into a per-queue array that is handed to the port when it fills and on
 * every flush, so the shard's loop sends once per iteration. A TX queue with no room is
 * a counted drop, never a retry. Port statistics are read by the control plane
 * (refresh) and published to the shards as relaxed counters.
 */
#include "drivers/dpdk/dpdk_int.h"

#include "core/assert.h"
#include "core/log.h"

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Descriptors per RX/TX queue asked of the port (it may adjust them). */
#define DPDK_RX_DESC 1024u
#define DPDK_TX_DESC 1024u
/* The longest one wait() sleeps: a vdev has no RX interrupt to wake it sooner. */
#define DPDK_WAIT_US_MAX 1000u

#define DPDK_RX_CKSUM (RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM)
#define DPDK_TX_CKSUM (RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM)

struct dpdk_dev {
	struct netdev nd; /* first: netdev pointers are dpdk_dev pointers */
	uint16_t port_id;
	uint16_t burst_max;
	bool started;
	uint64_t port_v[NETDEV_STAT_COUNT]; /* port-wide counters, written by refresh() */
	struct dpdk_queue *q;		    /* [nd.queues] */
};

static struct dpdk_dev *dpdk_dev_of(struct netdev *nd)
{
	return (struct dpdk_dev *)nd;
}

static const struct dpdk_dev *dpdk_dev_of_const(const struct netdev *nd)
{
	return (const struct dpdk_dev *)nd;
}

/* Hands everything in q->tx to the port once; what does not fit is dropped. */
static void dpdk_tx_send(struct dpdk_queue *q)
{
	uint16_t n = q->tx_count;

	if (n == 0) {
		return;
	}
	uint16_t k = rte_eth_tx_burst(q->port_id, q->queue_id, q->tx, n);
	dpdk_count(q, NETDEV_STAT_TX_FRAMES, k);
	if (k < n) {
		dpdk_count(q, NETDEV_STAT_TX_DROP_FULL, (uint64_t)(n - k));
		rte_pktmbuf_free_bulk(q->tx + k, (unsigned)(n - k));
	}
	q->tx_count = 0;
}

static void dpdk_tx_queue_frame(struct dpdk_queue *q, struct rte_mbuf *m)
{
	if (q->tx_count == q->tx_max) {
		dpdk_tx_send(q);
	}
	q->tx[q->tx_count++] = m;
}

static uint16_t dpdk_rx_burst(struct netdev *nd, uint16_t queue, struct rte_mbuf **mbufs,
			      uint16_t n)
{
	struct dpdk_dev *d = dpdk_dev_of(nd);
	struct dpdk_queue *q = &d->q[queue];
	struct rte_mbuf *drop[NETDEV_DPDK_BURST_MAX];
	uint16_t kept = 0;
	uint16_t dropped = 0;

	SL_ASSERT_HOT(queue < nd->queues);
	if (n > d->burst_max) {
		n = d->burst_max;
	}
	uint16_t got = rte_eth_rx_burst(q->port_id, q->queue_id, mbufs, n);
	if (got == 0) {
		return 0;
	}
	uint64_t now_tsc = rte_rdtsc();
	for (uint16_t i = 0; i < got; i++) {
		struct rte_mbuf *m = mbufs[i];
		switch (dpdk_rx_frame(q, m, now_tsc)) {
		case DPDK_RX_DATAGRAM:
			mbufs[kept++] = m;
			break;
		case DPDK_RX_REPLY:
			dpdk_tx_queue_frame(q, m);
			break;
		case DPDK_RX_DROP:
			drop[dropped++] = m;
			break;
		}
	}
	if (dropped > 0) {
		rte_pktmbuf_free_bulk(drop, dropped);
	}
	return kept;
}

static uint16_t dpdk_tx_burst(struct netdev *nd, uint16_t queue, struct rte_mbuf **mbufs,
			      uint16_t n)
{
	struct dpdk_dev *d = dpdk_dev_of(nd);
	struct dpdk_queue *q = &d->q[queue];
	uint64_t now_tsc = rte_rdtsc();

	SL_ASSERT_HOT(queue < nd->queues);
	for (uint16_t i = 0; i < n; i++) {
		if (dpdk_tx_encap(q, mbufs[i], now_tsc)) {
			dpdk_tx_queue_frame(q, mbufs[i]);
		} else {
			rte_pktmbuf_free(mbufs[i]); /* counted by the encap */
		}
	}
	return n;
}

static void dpdk_flush(struct netdev *nd, uint16_t queue)
{
	dpdk_tx_send(&dpdk_dev_of(nd)->q[queue]);
}

static int dpdk_wait(struct netdev *nd, uint16_t queue, uint32_t timeout_us)
{
	uint32_t us = timeout_us < DPDK_WAIT_US_MAX ? timeout_us : DPDK_WAIT_US_MAX;
	struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)us * 1000};

	(void)nd;
	(void)queue;
	/* An early wake-up by a signal is fine: the shard polls again. */
	(void)nanosleep(&ts, NULL);
	return 0;
}

static void dpdk_counters(const struct netdev *nd, uint16_t queue, uint64_t *values)
{
	const struct dpdk_dev *d = dpdk_dev_of_const(nd);
	const struct dpdk_queue *q = &d->q[queue];

	for (unsigned i = 0; i < NETDEV_STAT_COUNT; i++) {
		values[i] = __atomic_load_n(&q->v[i], __ATOMIC_RELAXED);
		if (queue == 0) {
			values[i] += __atomic_load_n(&d->port_v[i], __ATOMIC_RELAXED);
		}
	}
}

static void dpdk_refresh(struct netdev *nd)
{
	struct dpdk_dev *d = dpdk_dev_of(nd);
	struct rte_eth_stats st;

	if (rte_eth_stats_get(d->port_id, &st) != 0) {
		return;
	}
	__atomic_store_n(&d->port_v[NETDEV_STAT_PORT_IMISSED], st.imissed, __ATOMIC_RELAXED);
	__atomic_store_n(&d->port_v[NETDEV_STAT_PORT_RX_NOMBUF], st.rx_nombuf, __ATOMIC_RELAXED);
	__atomic_store_n(&d->port_v[NETDEV_STAT_PORT_IERRORS], st.ierrors, __ATOMIC_RELAXED);
	__atomic_store_n(&d->port_v[NETDEV_STAT_PORT_OERRORS], st.oerrors, __ATOMIC_RELAXED);
}

static void dpdk_queue_fini(struct dpdk_queue *q)
{
	if (q->tx != NULL && q->tx_count > 0) {
		rte_pktmbuf_free_bulk(q->tx, q->tx_count);
		q->tx_count = 0;
	}
	rte_free(q->tx);
	q->tx = NULL;
	dpdk_arp_fini(&q->arp);
}

static void dpdk_dev_free(struct dpdk_dev *d)
{
	for (uint16_t i = 0; d->q != NULL && i < d->nd.queues; i++) {
		dpdk_queue_fini(&d->q[i]);
	}
	rte_free(d->q);
	rte_free(d);
}

static void dpdk_close(struct netdev *nd)
{
	struct dpdk_dev *d = dpdk_dev_of(nd);

	if (d->started) {
		/* Stopping releases the mbufs in the RX descriptors back to their pools. */
		(void)rte_eth_dev_stop(d->port_id);
		(void)rte_eth_dev_close(d->port_id);
	}
	dpdk_dev_free(d);
}

static const struct netdev_ops dpdk_ops = {
	.rx_burst = dpdk_rx_burst,
	.tx_burst = dpdk_tx_burst,
	.flush = dpdk_flush,
	.wait = dpdk_wait,
	.close = dpdk_close,
	.counters = dpdk_counters,
	.refresh = dpdk_refresh,
};

static bool dpdk_conf_is_valid(const struct netdev_dpdk_conf *c)
{
	return c->queues > 0 && c->port != 0 && c->burst_max > 0 &&
	       c->burst_max <= NETDEV_DPDK_BURST_MAX && c->pools != NULL &&
	       c->mtu >= NETDEV_DPDK_MTU_MIN && c->mtu <= NETDEV_DPDK_MTU_MAX &&
	       c->frame_bytes_max + NETDEV_DPDK_IP_UDP_BYTES <= c->mtu &&
	       c->arp_entries >= NETDEV_DPDK_ARP_ENTRIES_MIN &&
	       c->arp_entries <= NETDEV_DPDK_ARP_ENTRIES_MAX &&
	       c->arp_timeout_s <= NETDEV_DPDK_ARP_TIMEOUT_S_MAX;
}

static const char *dpdk_yes(uint64_t capa, uint64_t bit)
{
	return (capa & bit) != 0 ? "yes" : "no";
}

/* The start-up line: what the port offers, then what sluiced chose. */
static void dpdk_log_port(const struct netdev_dpdk_conf *c, const struct rte_eth_dev_info *info,
			  const struct rte_eth_conf *pc, const struct rte_ether_addr *mac,
			  uint16_t rxd, uint16_t txd)
{
	char ip[INET_ADDRSTRLEN] = "?";
	char ms[RTE_ETHER_ADDR_FMT_SIZE];
	struct in_addr a = {.s_addr = c->ip4};

	(void)inet_ntop(AF_INET, &a, ip, sizeof(ip));
	rte_ether_format_addr(ms, sizeof(ms), mac);
	sl_log(SL_LOG_INFO, "dpdk",
	       "port %u (%s, numa %d) offers %u/%u rx/tx queues, rss hash 0x%llx%s, rx cksum "
	       "ipv4 %s udp %s, tx cksum ipv4 %s udp %s, mtu %u..%u; chose %u queue pairs "
	       "(%u/%u descriptors), rss %s, %s rx checksums, %s tx checksums, mtu %u, "
	       "frames up to %u bytes; serving %s %s:%u",
	       c->port_id, info->driver_name, rte_eth_dev_socket_id(c->port_id),
	       info->max_rx_queues, info->max_tx_queues,
	       (unsigned long long)info->flow_type_rss_offloads,
	       (info->flow_type_rss_offloads & RTE_ETH_RSS_NONFRAG_IPV4_UDP) != 0 ? " (ipv4/udp)"
										  : "",
	       dpdk_yes(info->rx_offload_capa, RTE_ETH_RX_OFFLOAD_IPV4_CKSUM),
	       dpdk_yes(info->rx_offload_capa, RTE_ETH_RX_OFFLOAD_UDP_CKSUM),
	       dpdk_yes(info->tx_offload_capa, RTE_ETH_TX_OFFLOAD_IPV4_CKSUM),
	       dpdk_yes(info->tx_offload_capa, RTE_ETH_TX_OFFLOAD_UDP_CKSUM), info->min_mtu,
	       info->max_mtu, c->queues, rxd, txd,
	       pc->rxmode.mq_mode == RTE_ETH_MQ_RX_RSS
		       ? "ipv4/udp 4-tuple"
		       : (c->queues > 1 ? "off (software steering through the mesh)" : "off"),
	       (pc->rxmode.offloads & DPDK_RX_CKSUM) == DPDK_RX_CKSUM ? "offloaded"
	       : (pc->rxmode.offloads & DPDK_RX_CKSUM) != 0	      ? "partly offloaded"
								      : "software",
	       (pc->txmode.offloads & DPDK_TX_CKSUM) == DPDK_TX_CKSUM ? "offloaded"
	       : (pc->txmode.offloads & DPDK_TX_CKSUM) != 0	      ? "partly offloaded"
								      : "software",
	       c->mtu, c->mtu + RTE_ETHER_HDR_LEN + RTE_VLAN_HLEN, ms, ip, ntohs(c->port));
}

/* Checks the port can serve conf: queues, MTU, buffer room. Logs what is wrong. */
static int dpdk_port_check(const struct netdev_dpdk_conf *c, const struct rte_eth_dev_info *info)
{
	uint32_t frame = c->mtu + RTE_ETHER_HDR_LEN + RTE_VLAN_HLEN + RTE_ETHER_CRC_LEN;

	if (info->max_rx_queues < c->queues || info->max_tx_queues < c->queues) {
		sl_log(SL_LOG_ERR, "dpdk",
		       "port %u offers %u/%u rx/tx queues, sluiced needs one pair per shard "
		       "(%u): use fewer worker lcores or a port with more queues (qpairs= for "
		       "net_af_packet)",
		       c->port_id, info->max_rx_queues, info->max_tx_queues, c->queues);
		return -EINVAL;
	}
	if (c->mtu < info->min_mtu || c->mtu > info->max_mtu) {
		sl_log(SL_LOG_ERR, "dpdk", "port %u takes an mtu in %u..%u, not %u", c->port_id,
		       info->min_mtu, info->max_mtu, c->mtu);
		return -EINVAL;
	}
	for (uint16_t i = 0; i < c->queues; i++) {
		uint32_t room = rte_pktmbuf_data_room_size(c->pools[i]) - RTE_PKTMBUF_HEADROOM;
		if (room < frame || rte_pktmbuf_priv_size(c->pools[i]) < NETDEV_MBUF_PRIV_BYTES) {
			sl_log(SL_LOG_ERR, "dpdk",
			       "pool of shard %u holds %u-byte frames, mtu %u needs %u: raise "
			       "--frame-bytes-max with --mtu",
			       i, room, c->mtu, frame);
			return -EINVAL;
		}
	}
	return 0;
}

static void dpdk_port_conf(const struct netdev_dpdk_conf *c, const struct rte_eth_dev_info *info,
			   struct rte_eth_conf *pc)
{
	memset(pc, 0, sizeof(*pc));
	pc->rxmode.mtu = c->mtu;
	pc->rxmode.offloads = info->rx_offload_capa & DPDK_RX_CKSUM;
	pc->txmode.offloads = info->tx_offload_capa & DPDK_TX_CKSUM;
	uint64_t rss = info->flow_type_rss_offloads & RTE_ETH_RSS_NONFRAG_IPV4_UDP;
	if (c->queues > 1 && rss != 0) {
		pc->rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		pc->rx_adv_conf.rss_conf.rss_key = NULL; /* the PMD's default key */
		pc->rx_adv_conf.rss_conf.rss_hf = rss;
	}
}

static int dpdk_queue_init(struct dpdk_dev *d, const struct netdev_dpdk_conf *c,
			   const struct rte_eth_conf *pc, const struct rte_ether_addr *mac,
			   uint16_t i)
{
	struct dpdk_queue *q = &d->q[i];
	int socket = c->pools[i]->socket_id;

	q->port_id = c->port_id;
	q->queue_id = i;
	q->ip4 = c->ip4;
	q->port = c->port;
	q->mac = *mac;
	q->rx_ip_cksum = (pc->rxmode.offloads & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) != 0;
	q->rx_udp_cksum = (pc->rxmode.offloads & RTE_ETH_RX_OFFLOAD_UDP_CKSUM) != 0;
	q->tx_ip_cksum = (pc->txmode.offloads & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) != 0;
	q->tx_udp_cksum = (pc->txmode.offloads & RTE_ETH_TX_OFFLOAD_UDP_CKSUM) != 0;
	/* Replies queued by rx_burst and datagrams by tx_burst share the array. */
	q->tx_max = (uint16_t)(2u * c->burst_max);
	q->tx = rte_zmalloc_socket("dpdk_tx", q->tx_max * sizeof(*q->tx), RTE_CACHE_LINE_SIZE,
				   socket);
	if (q->tx == NULL) {
		return -ENOMEM;
	}
	return dpdk_arp_init(&q->arp, c->arp_entries, (uint64_t)c->arp_timeout_s * rte_get_tsc_hz(),
			     socket);
}

static int dpdk_queues_setup(const struct netdev_dpdk_conf *c, const struct rte_eth_dev_info *info,
			     const struct rte_eth_conf *pc, uint16_t rxd, uint16_t txd)
{
	int port_socket = rte_eth_dev_socket_id(c->port_id);
	int rc;

	for (uint16_t i = 0; i < c->queues; i++) {
		struct rte_eth_rxconf rxconf = info->default_rxconf;
		struct rte_eth_txconf txconf = info->default_txconf;
		int socket = c->pools[i]->socket_id;

		if (port_socket >= 0 && socket >= 0 && port_socket != socket) {
			sl_log(SL_LOG_WARNING, "dpdk",
			       "port %u is on numa node %d, shard %u on node %d: its frames "
			       "cross the interconnect",
			       c->port_id, port_socket, i, socket);
		}
		rxconf.offloads = pc->rxmode.offloads;
		txconf.offloads = pc->txmode.offloads;
		rc = rte_eth_rx_queue_setup(c->port_id, i, rxd, (unsigned)socket, &rxconf,
					    c->pools[i]);
		if (rc == 0) {
			rc = rte_eth_tx_queue_setup(c->port_id, i, txd, (unsigned)socket, &txconf);
		}
		if (rc != 0) {
			sl_log(SL_LOG_ERR, "dpdk", "port %u: cannot set up queue %u: %s",
			       c->port_id, i, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/* Configures, sets up and starts the port; fills *mac. */
static int dpdk_port_start(const struct netdev_dpdk_conf *c, struct rte_eth_conf *pc,
			   struct rte_ether_addr *mac)
{
	struct rte_eth_dev_info info;
	uint16_t rxd = DPDK_RX_DESC;
	uint16_t txd = DPDK_TX_DESC;
	uint32_t pool_min = UINT32_MAX;
	int rc = rte_eth_dev_info_get(c->port_id, &info);

	if (rc != 0) {
		sl_log(SL_LOG_ERR, "dpdk", "port %u: no device info: %s", c->port_id,
		       strerror(-rc));
		return rc;
	}
	rc = dpdk_port_check(c, &info);
	if (rc != 0) {
		return rc;
	}
	/* The RX ring must leave most of a shard's pool for replies and hand-offs. */
	for (uint16_t i = 0; i < c->queues; i++) {
		uint32_t size = c->pools[i]->size;
		pool_min = size < pool_min ? size : pool_min;
	}
	if (pool_min / 4 < rxd) {
		rxd = (uint16_t)rte_align32prevpow2(pool_min / 4);
	}
	dpdk_port_conf(c, &info, pc);
	rc = rte_eth_dev_configure(c->port_id, c->queues, c->queues, pc);
	if (rc == 0) {
		rc = rte_eth_dev_adjust_nb_rx_tx_desc(c->port_id, &rxd, &txd);
	}
	if (rc == 0) {
		rc = rte_eth_macaddr_get(c->port_id, mac);
	}
	if (rc != 0) {
		sl_log(SL_LOG_ERR, "dpdk", "port %u: cannot configure %u queue pairs, mtu %u: %s",
		       c->port_id, c->queues, c->mtu, strerror(-rc));
		return rc;
	}
	rc = dpdk_queues_setup(c, &info, pc, rxd, txd);
	if (rc != 0) {
		return rc;
	}
	rc = rte_eth_dev_start(c->port_id);
	if (rc != 0) {
		sl_log(SL_LOG_ERR, "dpdk", "port %u: cannot start: %s", c->port_id, strerror(-rc));
		return rc;
	}
	dpdk_log_port(c, &info, pc, mac, rxd, txd);
	return 0;
}

uint32_t netdev_dpdk_pool_frame_bytes(uint32_t frame_bytes_max)
{
	if (netdev_pool_data_bytes(frame_bytes_max) >= RTE_MBUF_DEFAULT_DATAROOM) {
		return frame_bytes_max;
	}
	/* netdev_pool_data_bytes(0) is the pool's slack past the frame limit. */
	uint32_t f = RTE_MBUF_DEFAULT_DATAROOM - netdev_pool_data_bytes(0);
	SL_ASSERT(netdev_pool_data_bytes(f) >= RTE_MBUF_DEFAULT_DATAROOM);
	return f;
}

int netdev_dpdk_open(const struct netdev_dpdk_conf *conf, struct netdev **out)
{
	struct rte_eth_conf pc;
	struct rte_ether_addr mac;
	int rc;

	if (!rte_eth_dev_is_valid_port(conf->port_id)) {
		sl_log(SL_LOG_ERR, "dpdk",
		       "no ethdev port %u (%u available): give a device in the EAL arguments, "
		       "e.g. --vdev=net_af_packet0,iface=eth0",
		       conf->port_id, rte_eth_dev_count_avail());
		return -ENODEV;
	}
	if (!dpdk_conf_is_valid(conf)) {
		return -EINVAL;
	}
	int socket = conf->pools[0]->socket_id;
	struct dpdk_dev *d =
		rte_zmalloc_socket("dpdk_dev", sizeof(*d), RTE_CACHE_LINE_SIZE, socket);
	if (d == NULL) {
		return -ENOMEM;
	}
	d->nd.ops = &dpdk_ops;
	d->nd.driver = "dpdk";
	d->nd.queues = conf->queues;
	d->port_id = conf->port_id;
	d->burst_max = conf->burst_max;
	d->q = rte_zmalloc_socket("dpdk_queues", conf->queues * sizeof(*d->q), RTE_CACHE_LINE_SIZE,
				  socket);
	if (d->q == NULL) {
		rc = -ENOMEM;
		goto out_free_dev;
	}
	rc = dpdk_port_start(conf, &pc, &mac);
	if (rc != 0) {
		goto out_free_dev;
	}
	d->started = true;
	for (uint16_t i = 0; i < conf->queues; i++) {
		rc = dpdk_queue_init(d, conf, &pc, &mac, i);
		if (rc != 0) {
			goto out_close;
		}
	}
	*out = &d->nd;
	return 0;

out_close:
	dpdk_close(&d->nd);
	return rc;
out_free_dev:
	dpdk_dev_free(d);
	return rc;
}
