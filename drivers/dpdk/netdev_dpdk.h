/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DPDK ethdev driver behind drivers/netdev.h: any port (PCI NIC or vdev) with one RX and
 * one TX queue per shard. It strips Ethernet (one optional 802.1Q tag), IPv4 and UDP on
 * receive, answers ARP and ICMP echo for our address itself, and prepends the headers
 * again on send, with checksums offloaded when the port offers it. The shard above it
 * only ever sees UDP payloads and struct netdev_peer.
 */
#ifndef SL_DRIVERS_DPDK_NETDEV_DPDK_H
#define SL_DRIVERS_DPDK_NETDEV_DPDK_H

#include "drivers/netdev.h"

#include <stdint.h>

/* Bounds of the driver's configuration, checked by netdev_dpdk_open(). */
#define NETDEV_DPDK_BURST_MAX 512u
#define NETDEV_DPDK_MTU_MIN 576u /* IPv4's minimum reassembly size: every host takes it */
#define NETDEV_DPDK_MTU_MAX 9000u
#define NETDEV_DPDK_MTU_DEFAULT 1500u
#define NETDEV_DPDK_ARP_ENTRIES_MIN 8u
#define NETDEV_DPDK_ARP_ENTRIES_MAX (1u << 20)
#define NETDEV_DPDK_ARP_ENTRIES_DEFAULT 1024u
#define NETDEV_DPDK_ARP_TIMEOUT_S_MAX 86400u
#define NETDEV_DPDK_ARP_TIMEOUT_S_DEFAULT 300u
/* Ethernet + IPv4 (no options) + UDP: what a datagram costs on the wire past its MTU. */
#define NETDEV_DPDK_IP_UDP_BYTES 28u

struct netdev_dpdk_conf {
	uint16_t port_id;		  /* ethdev port, started by netdev_dpdk_open() */
	uint32_t ip4;			  /* our address (ARP, ICMP, UDP), network byte order */
	uint16_t port;			  /* our UDP port, network byte order, not 0 */
	uint16_t queues;		  /* RX/TX queue pairs: one per shard */
	uint16_t burst_max;		  /* largest n passed to rx/tx_burst, 1..BURST_MAX */
	uint32_t frame_bytes_max;	  /* largest UDP payload: at most mtu - 28 */
	uint32_t mtu;			  /* IPv4 MTU, MTU_MIN..MTU_MAX */
	uint32_t arp_entries;		  /* ARP table slots per queue (rounded up to 2^n) */
	uint32_t arp_timeout_s;		  /* an ARP entry not refreshed this long is gone */
	struct rte_mempool *const *pools; /* [queues]: RX queue q fills from pools[q], made by
					   * netdev_pool_create() for frame_bytes_max */
};

/*
 * The frame limit to create the shard pools with (netdev_pool_create) for this driver:
 * frame_bytes_max, raised so that each mbuf holds at least RTE_MBUF_DEFAULT_DATAROOM
 * bytes, the buffer PMDs are written for (net_af_packet refuses anything smaller than
 * its 2016-byte frame slot, whatever the MTU).
 */
uint32_t netdev_dpdk_pool_frame_bytes(uint32_t frame_bytes_max);

/*
 * Configures and starts port conf->port_id with conf->queues queue pairs and returns the
 * device through *out. Logs (info) one line saying what the port offers (queues, RSS,
 * checksum offloads, MTU range) and what was chosen, and warns when a pool is on another
 * NUMA node than the port. Fails with -ENODEV (no such port), -EINVAL (bad conf, too
 * few queues, MTU out of the port's range, pools too small for the MTU), -ENOMEM, or the
 * ethdev error; each failure is logged once. Borrows the pools, which must outlive it.
 * netdev_close() stops and closes the port.
 */
int netdev_dpdk_open(const struct netdev_dpdk_conf *conf, struct netdev **out);

#endif
