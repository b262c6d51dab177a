/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private declarations of drivers/dpdk, shared by its files and its unit tests: the
 * per-queue state (written only by the queue's shard), the bounded ARP table, and the
 * per-frame functions of the receive and send paths.
 */
#ifndef SL_DRIVERS_DPDK_DPDK_INT_H
#define SL_DRIVERS_DPDK_DPDK_INT_H

#include "drivers/dpdk/netdev_dpdk.h"

#include <rte_ether.h>

#include <stdbool.h>
#include <stdint.h>

/* Slots an ARP lookup or insert probes from the hashed one: bounds the work per frame. */
#define DPDK_ARP_PROBES 8u

struct dpdk_arp_entry {
	uint32_t ip4; /* network byte order; 0: never used */
	struct rte_ether_addr mac;
	uint16_t reserved;
	uint64_t expire_tsc; /* the entry is gone once rte_rdtsc() passes this */
};

/*
 * A fixed-size open-addressing table from IPv4 address to MAC, one per queue. Entries
 * are never removed, only overwritten: an expired entry reads as absent and its slot is
 * reused; when every probed slot is live, the one expiring first is evicted.
 */
struct dpdk_arp_table {
	struct dpdk_arp_entry *slots; /* [mask + 1] */
	uint32_t mask;
	uint64_t timeout_tsc;
};

/* One queue pair: written by its shard's lcore only (counters read by anyone). */
struct dpdk_queue {
	uint64_t v[NETDEV_STAT_COUNT]; /* relaxed atomic stores by the owner */
	uint16_t port_id;
	uint16_t queue_id;
	uint16_t ip_id;	   /* IPv4 identification of the next datagram sent */
	uint16_t tx_count; /* frames waiting in tx[] */
	uint16_t tx_max;   /* tx[] capacity */
	bool rx_ip_cksum;  /* RX offloads enabled: trust the mbuf's GOOD/BAD flags */
	bool rx_udp_cksum;
	bool tx_ip_cksum; /* TX offloads enabled: the port fills the checksums */
	bool tx_udp_cksum;
	uint32_t ip4;  /* ours, network byte order */
	uint16_t port; /* ours, network byte order */
	struct rte_ether_addr mac;
	struct rte_mbuf **tx; /* [tx_max] frames ready for rte_eth_tx_burst */
	struct dpdk_arp_table arp;
} __rte_cache_aligned;

/*
 * Allocates t with at least `entries` slots (a power of two) on NUMA `socket`, entries
 * living timeout_tsc cycles. Returns 0, -EINVAL (entries 0 or above
 * NETDEV_DPDK_ARP_ENTRIES_MAX) or -ENOMEM.
 */
int dpdk_arp_init(struct dpdk_arp_table *t, uint32_t entries, uint64_t timeout_tsc, int socket);

/* Frees t's slots (a zeroed t is fine). */
void dpdk_arp_fini(struct dpdk_arp_table *t);

/*
 * Records (or refreshes) ip4 → mac as of now_tsc. Returns true when a live entry of
 * another address had to be evicted for it. ip4 0 is ignored.
 */
bool dpdk_arp_learn(struct dpdk_arp_table *t, uint32_t ip4, const struct rte_ether_addr *mac,
		    uint64_t now_tsc);

/* Copies the MAC of ip4 into *mac and returns true if a live entry holds it. */
bool dpdk_arp_lookup(const struct dpdk_arp_table *t, uint32_t ip4, uint64_t now_tsc,
		     struct rte_ether_addr *mac);

/* Live entries at now_tsc (walks the table: tests and diagnostics only). */
uint32_t dpdk_arp_count(const struct dpdk_arp_table *t, uint64_t now_tsc);

/* What the receive path did with a frame. */
enum dpdk_rx_verdict {
	DPDK_RX_DATAGRAM, /* m now holds the UDP payload, peer filled: hand it up */
	DPDK_RX_REPLY,	  /* m was rewritten into an ARP or ICMP reply: send it */
	DPDK_RX_DROP,	  /* counted: free m */
};

/*
 * Classifies one received frame of queue q at now_tsc: decapsulates a datagram for our
 * IP and port (learning the sender's MAC), turns an ARP request for our IP or an ICMP
 * echo request to it into its reply in place, learns from ARP replies, and counts every
 * other frame under its reason. Borrows m; the caller acts on the verdict.
 */
enum dpdk_rx_verdict dpdk_rx_frame(struct dpdk_queue *q, struct rte_mbuf *m, uint64_t now_tsc);

/*
 * dpdk_rx_frame() writing the sender of a datagram into *peer instead of m's private
 * area: for mbufs from pools that have none (libsluice-dpdk's producer reads from an RX
 * queue the application configured with its own pool).
 */
enum dpdk_rx_verdict dpdk_rx_frame_peer(struct dpdk_queue *q, struct rte_mbuf *m, uint64_t now_tsc,
					struct netdev_peer *peer);

/*
 * Prepends Ethernet (with the peer's 802.1Q tag if it has one), IPv4 and UDP headers to
 * the payload in m, addressed to m's netdev_peer (MAC from the peer, else from the ARP
 * table), with checksums filled or left to the port's offload. Returns false, with the
 * drop counted and m untouched, when the peer's MAC is unknown or m lacks headroom.
 */
bool dpdk_tx_encap(struct dpdk_queue *q, struct rte_mbuf *m, uint64_t now_tsc);

/* dpdk_tx_encap() to *peer (borrowed) rather than to the peer in m's private area. */
bool dpdk_tx_encap_peer(struct dpdk_queue *q, struct rte_mbuf *m, const struct netdev_peer *peer,
			uint64_t now_tsc);

/*
 * Overwrites m (a fresh single-segment mbuf with at least 60 bytes of room) with a
 * broadcast ARP request from q's MAC and address asking for target_ip4 (network order).
 */
void dpdk_arp_request_build(const struct dpdk_queue *q, struct rte_mbuf *m, uint32_t target_ip4);

/* Adds n to counter `stat` of q. Only q's shard may call this. */
static inline void dpdk_count(struct dpdk_queue *q, enum netdev_stat stat, uint64_t n)
{
	uint64_t v = __atomic_load_n(&q->v[stat], __ATOMIC_RELAXED);

	__atomic_store_n(&q->v[stat], v + n, __ATOMIC_RELAXED);
}

#endif
