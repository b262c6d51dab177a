/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The per-queue ARP table of the DPDK driver: IPv4 address → MAC, learned from ARP
 * requests and replies for our address and from every valid datagram, consulted only to
 * send to a peer whose MAC the mbuf does not already carry. Fixed size, allocated at
 * open on the queue's NUMA node; lookups and inserts probe at most DPDK_ARP_PROBES slots.
 */
#include "drivers/dpdk/dpdk_int.h"

#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include <errno.h>

int dpdk_arp_init(struct dpdk_arp_table *t, uint32_t entries, uint64_t timeout_tsc, int socket)
{
	if (entries == 0 || entries > NETDEV_DPDK_ARP_ENTRIES_MAX) {
		return -EINVAL;
	}
	uint32_t slots = rte_align32pow2(entries);
	t->slots = rte_zmalloc_socket("dpdk_arp", slots * sizeof(*t->slots), RTE_CACHE_LINE_SIZE,
				      socket);
	if (t->slots == NULL) {
		return -ENOMEM;
	}
	t->mask = slots - 1;
	t->timeout_tsc = timeout_tsc;
	return 0;
}

void dpdk_arp_fini(struct dpdk_arp_table *t)
{
	rte_free(t->slots);
	t->slots = NULL;
}

static uint32_t dpdk_arp_probes(const struct dpdk_arp_table *t)
{
	return t->mask + 1 < DPDK_ARP_PROBES ? t->mask + 1 : DPDK_ARP_PROBES;
}

static bool dpdk_arp_is_live(const struct dpdk_arp_entry *e, uint64_t now_tsc)
{
	return e->ip4 != 0 && now_tsc < e->expire_tsc;
}

bool dpdk_arp_learn(struct dpdk_arp_table *t, uint32_t ip4, const struct rte_ether_addr *mac,
		    uint64_t now_tsc)
{
	uint32_t h = rte_hash_crc_4byte(ip4, 0);
	uint32_t probes = dpdk_arp_probes(t);
	struct dpdk_arp_entry *victim = NULL;

	if (ip4 == 0) {
		return false;
	}
	for (uint32_t i = 0; i < probes; i++) {
		struct dpdk_arp_entry *e = &t->slots[(h + i) & t->mask];
		if (e->ip4 == ip4) {
			victim = e; /* the address's own slot, live or not */
			break;
		}
		if (!dpdk_arp_is_live(e, now_tsc)) {
			if (victim == NULL || dpdk_arp_is_live(victim, now_tsc)) {
				victim = e; /* first free slot, unless ip4 sits further on */
			}
		} else if (victim == NULL || (dpdk_arp_is_live(victim, now_tsc) &&
					      e->expire_tsc < victim->expire_tsc)) {
			victim = e;
		}
	}
	bool evicted = victim->ip4 != ip4 && dpdk_arp_is_live(victim, now_tsc);
	victim->ip4 = ip4;
	victim->mac = *mac;
	victim->expire_tsc = now_tsc + t->timeout_tsc;
	return evicted;
}

bool dpdk_arp_lookup(const struct dpdk_arp_table *t, uint32_t ip4, uint64_t now_tsc,
		     struct rte_ether_addr *mac)
{
	uint32_t h = rte_hash_crc_4byte(ip4, 0);
	uint32_t probes = dpdk_arp_probes(t);

	if (ip4 == 0) {
		return false;
	}
	for (uint32_t i = 0; i < probes; i++) {
		const struct dpdk_arp_entry *e = &t->slots[(h + i) & t->mask];
		if (e->ip4 == ip4) {
			if (!dpdk_arp_is_live(e, now_tsc)) {
				return false;
			}
			*mac = e->mac;
			return true;
		}
		if (e->ip4 == 0) {
			return false; /* slots are never emptied: ip4 cannot be further on */
		}
	}
	return false;
}

uint32_t dpdk_arp_count(const struct dpdk_arp_table *t, uint64_t now_tsc)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i <= t->mask; i++) {
		n += dpdk_arp_is_live(&t->slots[i], now_tsc) ? 1u : 0u;
	}
	return n;
}
