/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * netdev: the one datagram I/O interface between a shard and the network, implemented
 * by drivers/udp (kernel sockets) and drivers/dpdk (ethdev ports). A datagram crosses it
 * as an rte_mbuf whose data is exactly the UDP payload; the peer it came from (or goes
 * to) lives in the mbuf private area as a struct netdev_peer, so every mbuf pool that
 * feeds a netdev must be made by netdev_pool_create(). Queue q is used by shard q only:
 * no function here takes a lock, and none may be called for one queue from two lcores.
 */
#ifndef SL_DRIVERS_NETDEV_H
#define SL_DRIVERS_NETDEV_H

#include <rte_common.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <assert.h>
#include <stdint.h>

/*
 * Where a datagram came from, or goes to. Stored in the private area of every mbuf of a
 * netdev pool (rte_mbuf_to_priv), written by the driver on RX and read by it on TX.
 */
struct netdev_peer {
	uint32_t ip4;	     /* IPv4 address, network byte order */
	uint16_t port;	     /* UDP port, network byte order */
	uint8_t mac[6];	     /* Ethernet address: DPDK driver only; zero on kernel UDP */
	uint16_t vlan_tci;   /* 802.1Q tag control (host order) when vlan_tagged */
	uint8_t vlan_tagged; /* DPDK driver: the datagram came with (so goes with) a tag */
	uint8_t reserved;
};

#define NETDEV_MBUF_PRIV_BYTES RTE_ALIGN_CEIL(sizeof(struct netdev_peer), RTE_MBUF_PRIV_ALIGN)
static_assert(sizeof(struct netdev_peer) == 16, "netdev_peer layout");

/*
 * A driver's own counters, per queue, read through netdev_counters(). Drivers count
 * what they drop or answer below the datagram level; a driver without a counter leaves
 * it 0. The port_* counters are port-wide and reported on queue 0 only, so that sums
 * over queues stay right.
 */
enum netdev_stat {
	NETDEV_STAT_RX_FRAMES,		 /* frames taken from the port */
	NETDEV_STAT_TX_FRAMES,		 /* frames the port accepted */
	NETDEV_STAT_TX_DROP_FULL,	 /* frames the port's TX queue had no room for */
	NETDEV_STAT_TX_DROP_NO_ARP,	 /* datagram to a peer with no known MAC */
	NETDEV_STAT_TX_DROP_NO_HEADROOM, /* mbuf without room for the headers */
	NETDEV_STAT_RX_MULTISEG,	 /* frame larger than one mbuf */
	NETDEV_STAT_RX_VLAN,		 /* 802.1Q-tagged frames accepted (tag kept) */
	NETDEV_STAT_NOT_IPV4,		 /* runt, other EtherType, nested VLAN tags */
	NETDEV_STAT_NOT_UDP,		 /* IPv4 for us, protocol neither UDP nor ICMP */
	NETDEV_STAT_NOT_FOR_US,		 /* IPv4 destination or UDP port not ours */
	NETDEV_STAT_IP_BAD_CHECKSUM,
	NETDEV_STAT_IP_BAD_HEADER, /* version, IHL, total length vs frame */
	NETDEV_STAT_IP_FRAGMENT,   /* MF set or offset not 0 */
	NETDEV_STAT_UDP_BAD_CHECKSUM,
	NETDEV_STAT_UDP_BAD_LENGTH, /* UDP length vs IPv4 payload */
	NETDEV_STAT_ARP_REQUESTS_ANSWERED,
	NETDEV_STAT_ARP_REPLIES_LEARNED,
	NETDEV_STAT_ARP_OTHER,	 /* malformed, for another address, other op */
	NETDEV_STAT_ARP_EVICTED, /* live ARP entries replaced: table too small */
	NETDEV_STAT_ICMP_ECHO_ANSWERED,
	NETDEV_STAT_ICMP_OTHER,	    /* other types, truncated, bad checksum */
	NETDEV_STAT_PORT_IMISSED,   /* port-wide: the NIC had no RX descriptor */
	NETDEV_STAT_PORT_RX_NOMBUF, /* port-wide: no mbuf to refill RX */
	NETDEV_STAT_PORT_IERRORS,   /* port-wide: erroneous frames received */
	NETDEV_STAT_PORT_OERRORS,   /* port-wide: failed transmissions */
	NETDEV_STAT_COUNT,
};

struct netdev;

/* Most segments of one datagram handed to tx_burst. */
#define NETDEV_TX_SEGS_MAX 2u

/* What a driver implements. Burst functions follow DPDK's meaning: they return 0..n. */
struct netdev_ops {
	/*
	 * Receives up to n datagrams on `queue` into mbufs[]. The caller takes ownership of
	 * every mbuf returned: single segment, data = UDP payload, peer in the private area.
	 * Never blocks.
	 */
	uint16_t (*rx_burst)(struct netdev *nd, uint16_t queue, struct rte_mbuf **mbufs,
			     uint16_t n);
	/*
	 * Queues up to n datagrams on `queue` for sending to the peer in each mbuf (the first
	 * segment's private area); a datagram may be a chain of up to NETDEV_TX_SEGS_MAX
	 * segments (a DELIVER head and the batch's shared records) sent as one. Takes
	 * ownership of the first k mbufs and returns k; the caller still owns (and frees,
	 * counting SL_STAT_TX_DROP_FULL) mbufs[k..n). Never blocks.
	 */
	uint16_t (*tx_burst)(struct netdev *nd, uint16_t queue, struct rte_mbuf **mbufs,
			     uint16_t n);
	/* Pushes anything tx_burst buffered on `queue` to the wire. May be NULL. */
	void (*flush)(struct netdev *nd, uint16_t queue);
	/*
	 * Sleeps until `queue` may have a datagram or timeout_us passed, whichever is first.
	 * Returns 0 or a negative errno (-EINTR is not an error). NULL: a driver that can
	 * only be polled; the shard then never sleeps.
	 */
	int (*wait)(struct netdev *nd, uint16_t queue, uint32_t timeout_us);
	/* Releases every resource of the device, mbufs it still holds included. */
	void (*close)(struct netdev *nd);
	/*
	 * Copies the driver counters of `queue` into values[NETDEV_STAT_COUNT]. Any thread:
	 * a relaxed snapshot. NULL: the driver keeps none (all read as 0).
	 */
	void (*counters)(const struct netdev *nd, uint16_t queue, uint64_t *values);
	/*
	 * Control plane (main lcore) only, called periodically: refreshes counters that only
	 * a control-path call can read, such as the port's statistics. May be NULL.
	 */
	void (*refresh)(struct netdev *nd);
};

/* The handle a driver's open function returns; drivers embed it first in their state. */
struct netdev {
	const struct netdev_ops *ops;
	const char *driver; /* "udp", "dpdk" */
	uint16_t queues;    /* queue q belongs to shard q */
};

/* The peer of mbuf m (which must come from a netdev_pool_create() pool). */
static inline struct netdev_peer *netdev_mbuf_peer(struct rte_mbuf *m)
{
	return (struct netdev_peer *)rte_mbuf_to_priv(m);
}

/* ops->rx_burst: receives up to n datagrams; the caller owns what is returned. */
static inline uint16_t netdev_rx_burst(struct netdev *nd, uint16_t queue, struct rte_mbuf **mbufs,
				       uint16_t n)
{
	return nd->ops->rx_burst(nd, queue, mbufs, n);
}

/* ops->tx_burst: takes ownership of mbufs[0..k) and returns k; the caller frees the rest. */
static inline uint16_t netdev_tx_burst(struct netdev *nd, uint16_t queue, struct rte_mbuf **mbufs,
				       uint16_t n)
{
	return nd->ops->tx_burst(nd, queue, mbufs, n);
}

/* ops->flush, when the driver has one. */
static inline void netdev_flush(struct netdev *nd, uint16_t queue)
{
	if (nd->ops->flush != NULL) {
		nd->ops->flush(nd, queue);
	}
}

/* True when the driver can sleep in netdev_wait(). */
static inline bool netdev_has_wait(const struct netdev *nd)
{
	return nd->ops->wait != NULL;
}

/* ops->wait: only when netdev_has_wait(). */
static inline int netdev_wait(struct netdev *nd, uint16_t queue, uint32_t timeout_us)
{
	return nd->ops->wait(nd, queue, timeout_us);
}

/* ops->counters, or all zeros when the driver keeps none. Any thread. */
static inline void netdev_counters(const struct netdev *nd, uint16_t queue, uint64_t *values)
{
	if (nd->ops->counters != NULL) {
		nd->ops->counters(nd, queue, values);
		return;
	}
	for (unsigned i = 0; i < NETDEV_STAT_COUNT; i++) {
		values[i] = 0;
	}
}

/* ops->refresh, when the driver has one. Main lcore only. */
static inline void netdev_refresh(struct netdev *nd)
{
	if (nd->ops->refresh != NULL) {
		nd->ops->refresh(nd);
	}
}

/* Closes nd (NULL is a no-op); nd is invalid afterwards. */
static inline void netdev_close(struct netdev *nd)
{
	if (nd != NULL) {
		nd->ops->close(nd);
	}
}

/*
 * Creates a pktmbuf pool fit for a netdev: `count` mbufs of one segment holding
 * `frame_bytes_max` bytes of payload (plus headroom), with a struct netdev_peer in each
 * mbuf's private area, memory on NUMA `socket`. Returns 0, or a negative errno
 * (rte_errno of rte_pktmbuf_pool_create) with *out untouched.
 */
int netdev_pool_create(const char *name, uint32_t count, uint32_t frame_bytes_max, int socket,
		       struct rte_mempool **out);

/* Payload bytes an mbuf of a netdev pool made for frame_bytes_max can hold at least. */
uint32_t netdev_pool_data_bytes(uint32_t frame_bytes_max);

#endif
