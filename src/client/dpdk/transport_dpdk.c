/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The DPDK transport of libsluice-dpdk: the producer's datagrams leave as
 * Ethernet/IPv4/UDP frames built into mbufs on one TX queue of an ethdev port the
 * application started, and the router's replies are read from the RX queue of the same
 * number. Framing, checksums, ARP answers and the ARP table are the DPDK driver's own
 * (drivers/dpdk/packet.c, arp.c); this file adds ARP resolution of the router at open
 * and the struct transport_ops that the producer's reliability machinery runs on.
 */
#include <sluice/client_dpdk.h>

#include "client/consumer_int.h"
#include "client/producer_int.h"
#include "core/assert.h"
#include "core/clock.h"
#include "drivers/dpdk/dpdk_int.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_pause.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#define XDPDK_ARP_TIMEOUT_MS_DEFAULT 3000u
#define XDPDK_ARP_RETRIES_DEFAULT 5u
#define XDPDK_ARP_RETRIES_MAX 100u
#define XDPDK_MBUFS_DEFAULT 1024u
#define XDPDK_MBUFS_MIN 64u
/* ARP slots: the router and the odd host that asks for us. */
#define XDPDK_ARP_ENTRIES 16u
/* Ethernet + IPv4 + UDP headers in front of every frame we send. */
#define XDPDK_HEADER_BYTES (RTE_ETHER_HDR_LEN + NETDEV_DPDK_IP_UDP_BYTES)
/* wait() spins this long on an empty RX queue, then yields the CPU between polls. */
#define XDPDK_SPIN_NS 20000u

struct xdpdk {
	struct dpdk_queue q;	   /* our addresses, ARP table, counters, IPv4 id */
	struct netdev_peer router; /* ip4/port network order, mac resolved at open */
	struct rte_mempool *pool;  /* TX frames (and ARP requests) */
	bool pool_owned;
	unsigned rx_stashed; /* datagrams wait() read: recv_burst() returns them first */
	struct rte_mbuf *tx[CLIENT_BURST];
};

static const struct transport_ops transport_dpdk_ops;

void sl_dpdk_transport_config_init(struct sl_dpdk_transport_config *dcfg)
{
	memset(dcfg, 0, sizeof(*dcfg));
	dcfg->arp_timeout_ms = XDPDK_ARP_TIMEOUT_MS_DEFAULT;
	dcfg->arp_retries = XDPDK_ARP_RETRIES_DEFAULT;
	dcfg->mbufs = XDPDK_MBUFS_DEFAULT;
}

static uint64_t xdpdk_now_tsc(void)
{
	return rte_rdtsc();
}

/*
 * Reads one burst from the RX queue: datagrams from the router are copied into t's
 * receive slots (t->rx_kept of them, after the loss hook), ARP and ICMP replies go out
 * at once, everything else is freed. Returns the datagrams from the router.
 */
static unsigned xdpdk_poll_rx(struct transport *t)
{
	struct xdpdk *x = t->priv;
	struct rte_mbuf *m[CLIENT_BURST];
	uint16_t n = rte_eth_rx_burst(x->q.port_id, x->q.queue_id, m, CLIENT_BURST);
	uint64_t now_tsc = xdpdk_now_tsc();
	unsigned from_router = 0;

	t->rx_kept = 0;
	for (uint16_t i = 0; i < n; i++) {
		struct netdev_peer peer;
		switch (dpdk_rx_frame_peer(&x->q, m[i], now_tsc, &peer)) {
		case DPDK_RX_DATAGRAM:
			if (peer.ip4 != x->router.ip4 || peer.port != x->router.port ||
			    m[i]->data_len > CLIENT_RX_BYTES) {
				dpdk_count(&x->q, NETDEV_STAT_NOT_FOR_US, 1);
				break;
			}
			from_router++;
			if (transport_drop(t, t->rx_drop_permille)) {
				break; /* the loss hook: counts as received */
			}
			uint8_t *slot = t->rx_buf + (size_t)t->rx_kept * CLIENT_RX_BYTES;
			memcpy(slot, rte_pktmbuf_mtod(m[i], const void *), m[i]->data_len);
			t->rx_data[t->rx_kept] = slot;
			t->rx_len[t->rx_kept] = m[i]->data_len;
			t->rx_kept++;
			break;
		case DPDK_RX_REPLY:
			if (rte_eth_tx_burst(x->q.port_id, x->q.queue_id, &m[i], 1) == 1) {
				dpdk_count(&x->q, NETDEV_STAT_TX_FRAMES, 1);
				continue; /* the port owns it now */
			}
			dpdk_count(&x->q, NETDEV_STAT_TX_DROP_FULL, 1);
			break;
		case DPDK_RX_DROP:
			break;
		}
		rte_pktmbuf_free(m[i]);
	}
	return from_router;
}

static int xdpdk_send_burst(struct transport *t, const struct iovec *iov, unsigned n)
{
	struct xdpdk *x = t->priv;
	uint64_t now_tsc = xdpdk_now_tsc();
	unsigned map[CLIENT_BURST]; /* x->tx[j] carries iov[map[j]] */
	unsigned built = 0;
	unsigned i = 0;

	SL_ASSERT_HOT(n <= CLIENT_BURST);
	for (; i < n; i++) {
		if (transport_drop(t, t->tx_drop_permille)) {
			continue; /* the loss hook: counts as sent */
		}
		struct rte_mbuf *m = rte_pktmbuf_alloc(x->pool);
		if (m == NULL) {
			break; /* pool empty: the rest waits for the next poll */
		}
		/* The producer never sends more than frame_bytes_max, checked at open
		 * against the pool's data room. */
		char *p = rte_pktmbuf_append(m, (uint16_t)iov[i].iov_len);
		SL_ASSERT(p != NULL);
		memcpy(p, iov[i].iov_base, iov[i].iov_len);
		/* Cannot fail: the router's MAC is known and the mbuf has headroom. */
		bool encapped = dpdk_tx_encap_peer(&x->q, m, &x->router, now_tsc);
		SL_ASSERT(encapped);
		x->tx[built] = m;
		map[built++] = i;
	}
	uint16_t sent =
		built > 0 ? rte_eth_tx_burst(x->q.port_id, x->q.queue_id, x->tx, (uint16_t)built)
			  : 0;
	dpdk_count(&x->q, NETDEV_STAT_TX_FRAMES, sent);
	if (sent < built) {
		/* TX queue full: everything before the first unsent frame was taken. */
		dpdk_count(&x->q, NETDEV_STAT_TX_DROP_FULL, built - sent);
		rte_pktmbuf_free_bulk(&x->tx[sent], built - sent);
		return map[sent] > 0 ? (int)map[sent] : -ENOBUFS;
	}
	/* Nothing taken: no mbuf. The producer retries at its next poll. */
	return i > 0 || n == 0 ? (int)i : -ENOBUFS;
}

static int xdpdk_recv_burst(struct transport *t)
{
	struct xdpdk *x = t->priv;

	if (x->rx_stashed > 0) {
		unsigned n = x->rx_stashed;
		x->rx_stashed = 0;
		return (int)n;
	}
	return (int)xdpdk_poll_rx(t);
}

/* There is nothing to sleep on: poll the RX queue until a datagram or the deadline. */
static int xdpdk_wait(struct transport *t, uint64_t timeout_ns)
{
	struct xdpdk *x = t->priv;
	uint64_t start = clock_monotonic_ns();

	for (;;) {
		if (x->rx_stashed > 0) {
			return 1;
		}
		x->rx_stashed = xdpdk_poll_rx(t);
		if (x->rx_stashed > 0) {
			return 1;
		}
		uint64_t waited = clock_monotonic_ns() - start;
		if (waited >= timeout_ns) {
			return 0;
		}
		if (waited < XDPDK_SPIN_NS) {
			rte_pause();
		} else {
			(void)sched_yield();
		}
	}
}

/*
 * Frees the producer's own pool, unless frames from it are still on the port (a NIC
 * frees transmitted mbufs lazily): then the pool is left allocated, since freeing it
 * would hand the PMD freed memory. Asks the PMD to free completed ones first.
 */
static void xdpdk_pool_release(struct xdpdk *x)
{
	(void)rte_eth_tx_done_cleanup(x->q.port_id, x->q.queue_id, 0);
	if (rte_mempool_full(x->pool)) {
		rte_mempool_free(x->pool);
	}
}

static void xdpdk_close(struct transport *t)
{
	struct xdpdk *x = t->priv;

	if (x != NULL) {
		dpdk_arp_fini(&x->q.arp);
		if (x->pool_owned) {
			xdpdk_pool_release(x);
		}
		rte_free(x);
	}
	t->priv = NULL;
	rte_free(t->rx_buf);
	t->rx_buf = NULL;
}

static const struct transport_ops transport_dpdk_ops = {
	.send_burst = xdpdk_send_burst,
	.recv_burst = xdpdk_recv_burst,
	.wait = xdpdk_wait,
	.close = xdpdk_close,
};

/* Asks for the router's MAC until an ARP reply teaches it or the time is up. */
static int xdpdk_resolve(struct transport *t, const struct sl_dpdk_transport_config *dcfg)
{
	struct xdpdk *x = t->priv;
	uint64_t slice_ns = (uint64_t)dcfg->arp_timeout_ms * 1000000u / (dcfg->arp_retries + 1);
	struct rte_ether_addr mac;

	for (uint32_t attempt = 0; attempt <= dcfg->arp_retries; attempt++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(x->pool);
		if (m == NULL) {
			return -ENOMEM;
		}
		dpdk_arp_request_build(&x->q, m, x->router.ip4);
		if (rte_eth_tx_burst(x->q.port_id, x->q.queue_id, &m, 1) != 1) {
			rte_pktmbuf_free(m); /* like a lost request: the next one follows */
		}
		uint64_t until = clock_monotonic_ns() + slice_ns;
		do {
			(void)xdpdk_poll_rx(t);
			if (dpdk_arp_lookup(&x->q.arp, x->router.ip4, xdpdk_now_tsc(), &mac)) {
				memcpy(x->router.mac, &mac, sizeof(x->router.mac));
				return 0;
			}
			(void)sched_yield();
		} while (clock_monotonic_ns() < until);
	}
	return -EHOSTUNREACH;
}

/* Checks the port, queue, pool and MTU against the producer's frame limit. */
static int xdpdk_check_port(const struct sl_dpdk_transport_config *dcfg, uint32_t frame_max)
{
	struct rte_eth_dev_info info;
	uint16_t mtu;

	if (!rte_eth_dev_is_valid_port(dcfg->port_id) ||
	    rte_eth_dev_info_get(dcfg->port_id, &info) != 0) {
		return -ENODEV;
	}
	if (dcfg->queue_id >= info.nb_rx_queues || dcfg->queue_id >= info.nb_tx_queues) {
		return -ENODEV;
	}
	if (rte_eth_dev_get_mtu(dcfg->port_id, &mtu) == 0 &&
	    mtu < frame_max + NETDEV_DPDK_IP_UDP_BYTES) {
		return -EINVAL;
	}
	return 0;
}

static int xdpdk_pool(struct xdpdk *x, const struct sl_dpdk_transport_config *dcfg,
		      uint32_t frame_max)
{
	uint32_t room = RTE_PKTMBUF_HEADROOM + XDPDK_HEADER_BYTES + frame_max;

	if (dcfg->mbuf_pool != NULL) {
		x->pool = dcfg->mbuf_pool;
		return rte_pktmbuf_data_room_size(x->pool) >= room ? 0 : -EINVAL;
	}
	if (dcfg->mbufs < XDPDK_MBUFS_MIN) {
		return -EINVAL;
	}
	char name[RTE_MEMPOOL_NAMESIZE];
	/* Unique per producer in this process: the address of its state. */
	snprintf(name, sizeof(name), "slp_%u_%u_%" PRIxPTR, dcfg->port_id, dcfg->queue_id,
		 (uintptr_t)x & 0xffffffu);
	if (room < RTE_MBUF_DEFAULT_BUF_SIZE) {
		room = RTE_MBUF_DEFAULT_BUF_SIZE;
	}
	x->pool = rte_pktmbuf_pool_create(name, dcfg->mbufs, 0, 0, (uint16_t)room,
					  rte_eth_dev_socket_id(dcfg->port_id));
	if (x->pool == NULL) {
		return rte_errno == EEXIST ? -EEXIST : -ENOMEM;
	}
	x->pool_owned = true;
	return 0;
}

struct xdpdk_open_ctx {
	const struct sl_dpdk_transport_config *dcfg;
	uint32_t frame_max;
};

static int xdpdk_open(struct transport *t, const struct client_addr *addr, const void *ctx)
{
	const struct xdpdk_open_ctx *oc = ctx;
	const struct sl_dpdk_transport_config *dcfg = oc->dcfg;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&addr->ss;
	struct in_addr local;
	struct xdpdk *x;
	int rc;

	memset(t, 0, sizeof(*t));
	t->fd = -1;
	if (addr->ss.ss_family != AF_INET || dcfg->local_ip == NULL ||
	    inet_pton(AF_INET, dcfg->local_ip, &local) != 1 || local.s_addr == 0 ||
	    dcfg->arp_retries > XDPDK_ARP_RETRIES_MAX) {
		return -EINVAL;
	}
	rc = xdpdk_check_port(dcfg, oc->frame_max);
	if (rc != 0) {
		return rc;
	}
	int socket = rte_eth_dev_socket_id(dcfg->port_id);
	x = rte_zmalloc_socket("sl_xdpdk", sizeof(*x), RTE_CACHE_LINE_SIZE, socket);
	t->rx_buf =
		rte_malloc_socket("sl_xdpdk_rx", (size_t)CLIENT_BURST * CLIENT_RX_BYTES, 0, socket);
	if (x == NULL || t->rx_buf == NULL) {
		rc = -ENOMEM;
		goto out_free;
	}
	t->priv = x;
	x->q.port_id = dcfg->port_id;
	x->q.queue_id = dcfg->queue_id;
	x->q.ip4 = local.s_addr;
	x->q.port =
		htons(dcfg->local_port != 0 ? dcfg->local_port
					    : (uint16_t)(49152u + request_random_u64() % 16384u));
	rc = rte_eth_macaddr_get(dcfg->port_id, &x->q.mac);
	if (rc != 0) {
		goto out_free;
	}
	x->router.ip4 = sin->sin_addr.s_addr;
	x->router.port = sin->sin_port;
	memcpy(x->router.mac, dcfg->router_mac, sizeof(x->router.mac));
	/* Entries outlive the producer: the router's MAC is learned once, at open. */
	rc = dpdk_arp_init(&x->q.arp, XDPDK_ARP_ENTRIES, UINT64_MAX / 2, socket);
	if (rc != 0) {
		goto out_free;
	}
	rc = xdpdk_pool(x, dcfg, oc->frame_max);
	if (rc != 0) {
		goto out_fini_arp;
	}
	struct rte_ether_addr zero = {{0}};
	if (memcmp(x->router.mac, &zero, sizeof(zero)) == 0) {
		rc = xdpdk_resolve(t, dcfg);
		if (rc != 0) {
			goto out_free_pool;
		}
	}
	t->ops = &transport_dpdk_ops;
	return 0;

out_free_pool:
	if (x->pool_owned) {
		xdpdk_pool_release(x);
	}
out_fini_arp:
	dpdk_arp_fini(&x->q.arp);
out_free:
	rte_free(x);
	rte_free(t->rx_buf);
	t->priv = NULL;
	t->rx_buf = NULL;
	return rc;
}

int sl_producer_create_dpdk(const struct sl_producer_config *cfg,
			    const struct sl_dpdk_transport_config *dcfg, struct sl_producer **out)
{
	struct xdpdk_open_ctx oc = {.dcfg = dcfg};

	if (cfg == NULL || dcfg == NULL) {
		return -EINVAL;
	}
	oc.frame_max = cfg->frame_bytes_max;
	return producer_create(cfg, xdpdk_open, &oc, true, out);
}

int sl_consumer_create_dpdk(const struct sl_consumer_config *cfg,
			    const struct sl_dpdk_transport_config *dcfg, struct sl_consumer **out)
{
	/* A consumer sends small frames (SUBSCRIBE, CREDIT, acks): the default frame size
	 * bounds its own pool and the MTU check; DELIVERs arrive in the port's RX mbufs. */
	struct xdpdk_open_ctx oc = {.dcfg = dcfg, .frame_max = SL_WIRE_FRAME_BYTES_DEFAULT};

	if (cfg == NULL || dcfg == NULL) {
		return -EINVAL;
	}
	return consumer_create(cfg, xdpdk_open, &oc, oc.frame_max, out);
}
