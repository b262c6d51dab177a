/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The part of the netdev interface every driver shares: the mbuf pool layout (payload
 * room sized from the frame limit, struct netdev_peer in the private area). Pools are
 * created before shards start, one per shard, on the shard's NUMA node.
 */
#include "drivers/netdev.h"

#include <rte_errno.h>

#include <errno.h>

/* Per-lcore mempool cache: large enough to amortise the shared ring, bounded by DPDK. */
#define NETDEV_POOL_CACHE_MAX 256u

/* Room past the frame limit: lets drivers see (and reject) oversized datagrams, and the
 * DPDK driver keep Ethernet, VLAN, IPv4 and UDP headers in front of the payload. */
#define NETDEV_POOL_SLACK_BYTES 64u

uint32_t netdev_pool_data_bytes(uint32_t frame_bytes_max)
{
	return RTE_ALIGN_CEIL(frame_bytes_max + NETDEV_POOL_SLACK_BYTES, 64u);
}

int netdev_pool_create(const char *name, uint32_t count, uint32_t frame_bytes_max, int socket,
		       struct rte_mempool **out)
{
	uint32_t cache = count / 8 < NETDEV_POOL_CACHE_MAX ? count / 8 : NETDEV_POOL_CACHE_MAX;
	uint32_t room = RTE_PKTMBUF_HEADROOM + netdev_pool_data_bytes(frame_bytes_max);

	if (room > UINT16_MAX) {
		return -EINVAL;
	}
	struct rte_mempool *mp = rte_pktmbuf_pool_create(name, count, cache, NETDEV_MBUF_PRIV_BYTES,
							 (uint16_t)room, socket);
	if (mp == NULL) {
		return rte_errno > 0 ? -rte_errno : -ENOMEM;
	}
	*out = mp;
	return 0;
}
