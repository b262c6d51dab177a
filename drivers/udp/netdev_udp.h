/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Kernel UDP driver behind drivers/netdev.h: one non-blocking socket per queue, all
 * bound to the same IPv4 address and port with SO_REUSEPORT so the kernel spreads
 * producers over shards. recvmmsg() fills mbufs of the queue's own pool directly and
 * sendmmsg() sends replies from them: no copy in user space. The portable default,
 * needing no NIC and no hugepages.
 */
#ifndef SL_DRIVERS_UDP_NETDEV_UDP_H
#define SL_DRIVERS_UDP_NETDEV_UDP_H

#include "drivers/netdev.h"

#include <stdint.h>

/* Largest burst one recvmmsg()/sendmmsg() call moves (the kernel caps vlen at 1024). */
#define NETDEV_UDP_BURST_MAX 1024u

struct netdev_udp_conf {
	uint32_t ip4;			  /* address to bind, network byte order */
	uint16_t port;			  /* UDP port to bind, network byte order, not 0 */
	uint16_t queues;		  /* sockets to open: one per shard */
	uint16_t burst_max;		  /* largest n passed to rx/tx_burst, 1..BURST_MAX */
	uint32_t frame_bytes_max;	  /* larger datagrams reach the shard as longer than this */
	uint32_t socket_buffer_bytes;	  /* SO_RCVBUF and SO_SNDBUF asked for each socket */
	struct rte_mempool *const *pools; /* [queues]: RX mbufs of queue q come from pools[q],
					   * made by netdev_pool_create() */
};

/*
 * Opens `conf->queues` sockets bound to ip4:port with SO_REUSEPORT and returns the
 * device through *out. Fails with -EADDRINUSE when another socket (of any process)
 * already holds the address, -EINVAL on a bad conf, or the errno of the failed
 * socket call; nothing stays open on failure. Logs once (warning) when the kernel
 * grants smaller socket buffers than asked. Borrows the pools, which must outlive it.
 */
int netdev_udp_open(const struct netdev_udp_conf *conf, struct netdev **out);

#endif
