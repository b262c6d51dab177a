/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libsluice-dpdk (pkg-config sluice-dpdk): the libsluice producer and consumer over a
 * DPDK ethdev queue, for producers that are DPDK applications themselves. Same API, batching and
 * reliability as the kernel UDP producer of <sluice/client.h>; only creation differs.
 * The library carries the whole libsluice API: link it instead of libsluice. This
 * header exposes no DPDK type: the port and queue are plain integers, a mempool is an
 * opaque pointer.
 */
#ifndef SLUICE_CLIENT_DPDK_H
#define SLUICE_CLIENT_DPDK_H

#include <sluice/client.h>

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Where and how the producer sends. Fill with sl_dpdk_transport_config_init(). */
struct sl_dpdk_transport_config {
	uint16_t port_id;	 /* ethdev port, configured and started by the application */
	uint16_t queue_id;	 /* RX and TX queue of that port used by this producer alone:
				  * every frame it receives is consumed (ARP requests for
				  * local_ip answered, datagrams from the router read, the
				  * rest dropped). Default 0 */
	const char *local_ip;	 /* the producer's IPv4 address, dotted quad; required */
	uint16_t local_port;	 /* UDP source port; 0 (default): random in 49152..65535 */
	uint8_t router_mac[6];	 /* the router's (or gateway's) MAC; all zero (default):
				  * resolved by ARP at create time */
	uint32_t arp_timeout_ms; /* total time ARP resolution may take; default 3000 */
	uint32_t arp_retries;	 /* ARP requests resent within it; default 5 */
	void *mbuf_pool;	 /* struct rte_mempool * to build frames in (data room of at
				  * least RTE_PKTMBUF_HEADROOM + 42 + frame_bytes_max), or
				  * NULL (default): the producer creates its own, freed by
				  * sl_producer_destroy() once the port has given back every
				  * mbuf (otherwise left allocated: never freed under the PMD) */
	uint32_t mbufs;		 /* size of that own pool; default 1024 */
};

/* Fills `dcfg` with the documented defaults. */
void sl_dpdk_transport_config_init(struct sl_dpdk_transport_config *dcfg);

/*
 * Creates a producer that reaches cfg->router ("IPV4:PORT", a literal address: no name
 * resolution on this path) through RX and TX queue dcfg->queue_id of ethdev port
 * dcfg->port_id. rte_eal_init() must have run and the port must be started; the
 * producer frames its datagrams in Ethernet/IPv4/UDP itself (software checksums),
 * answers ARP for local_ip and resolves router_mac by ARP unless given. Use the
 * producer from one lcore/thread only. Returns 0 and *out; -EINVAL for a bad setting
 * (including a pool too small or an MTU too low for frame_bytes_max), -ENODEV for an
 * invalid port or queue, -EHOSTUNREACH when ARP got no answer, -ENOMEM, or -errno.
 */
int sl_producer_create_dpdk(const struct sl_producer_config *cfg,
			    const struct sl_dpdk_transport_config *dcfg, struct sl_producer **out);

/*
 * Creates a consumer that reaches cfg->router through the same kind of queue as
 * sl_producer_create_dpdk() (same dcfg rules; its SUBSCRIBE must fit 1472 bytes, about
 * 80 start offsets). DELIVERs are read from the queue's RX mbufs, so the port's MTU and
 * RX pool must hold the router's largest frame. Use it from one lcore/thread only.
 * Returns as sl_consumer_create(), plus -ENODEV and -EHOSTUNREACH.
 */
int sl_consumer_create_dpdk(const struct sl_consumer_config *cfg,
			    const struct sl_dpdk_transport_config *dcfg, struct sl_consumer **out);

#ifdef __cplusplus
}
#endif

#endif
