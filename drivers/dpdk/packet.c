/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The per-frame work of the DPDK driver. Receive: Ethernet (one optional 802.1Q tag),
 * then ARP (answered or learned), ICMP echo (answered) or IPv4/UDP to our address and
 * port (decapsulated: the mbuf's data becomes the UDP payload, the sender its
 * netdev_peer); every other frame is counted under its reason. Send: the reverse, with
 * checksums left to the port when it offers the offload and computed here otherwise.
 * Nothing here allocates: replies are written over the request in the same mbuf.
 */
#include "drivers/dpdk/dpdk_int.h"

#include "core/assert.h"

#include <rte_arp.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include <netinet/in.h>
#include <string.h>

#define DPDK_TTL 64

/* Where the headers of a received frame are. */
struct dpdk_rx_frame {
	uint8_t *base;
	uint32_t len; /* frame bytes in the mbuf */
	uint32_t l2;  /* Ethernet (+ tag) bytes */
	bool tagged;
	uint16_t tci;
	struct rte_ether_hdr *eth;
};

/* One's-complement sum of the UDP pseudo-header and datagram: 0xffff when valid. */
static uint16_t dpdk_udp_sum(const struct rte_ipv4_hdr *ip, const void *l4, uint16_t l4_len)
{
	uint32_t sum = rte_raw_cksum(l4, l4_len);

	sum += rte_ipv4_phdr_cksum(ip, 0);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static enum dpdk_rx_verdict dpdk_drop(struct dpdk_queue *q, enum netdev_stat why)
{
	dpdk_count(q, why, 1);
	return DPDK_RX_DROP;
}

/* The reply leaves the way the request came: back to its sender, tag kept. */
static void dpdk_reply_l2(struct dpdk_queue *q, struct rte_mbuf *m, struct dpdk_rx_frame *fr,
			  uint32_t len)
{
	fr->eth->dst_addr = fr->eth->src_addr;
	fr->eth->src_addr = q->mac;
	m->data_len = (uint16_t)len;
	m->pkt_len = len;
	m->ol_flags &= RTE_MBUF_F_INDIRECT | RTE_MBUF_F_EXTERNAL;
}

static enum dpdk_rx_verdict dpdk_rx_arp(struct dpdk_queue *q, struct rte_mbuf *m,
					struct dpdk_rx_frame *fr, uint64_t now_tsc)
{
	if (fr->len < fr->l2 + sizeof(struct rte_arp_hdr)) {
		return dpdk_drop(q, NETDEV_STAT_ARP_OTHER);
	}
	struct rte_arp_hdr *a = (struct rte_arp_hdr *)(fr->base + fr->l2);
	struct rte_arp_ipv4 *d = &a->arp_data;
	if (a->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
	    a->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
	    a->arp_hlen != RTE_ETHER_ADDR_LEN || a->arp_plen != sizeof(uint32_t) ||
	    d->arp_tip != q->ip4 || d->arp_sip == 0 || d->arp_sip == q->ip4) {
		return dpdk_drop(q, NETDEV_STAT_ARP_OTHER);
	}
	if (a->arp_opcode == rte_cpu_to_be_16(RTE_ARP_OP_REPLY)) {
		if (dpdk_arp_learn(&q->arp, d->arp_sip, &d->arp_sha, now_tsc)) {
			dpdk_count(q, NETDEV_STAT_ARP_EVICTED, 1);
		}
		return dpdk_drop(q, NETDEV_STAT_ARP_REPLIES_LEARNED);
	}
	if (a->arp_opcode != rte_cpu_to_be_16(RTE_ARP_OP_REQUEST)) {
		return dpdk_drop(q, NETDEV_STAT_ARP_OTHER);
	}
	if (dpdk_arp_learn(&q->arp, d->arp_sip, &d->arp_sha, now_tsc)) {
		dpdk_count(q, NETDEV_STAT_ARP_EVICTED, 1);
	}
	a->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
	d->arp_tha = d->arp_sha;
	d->arp_tip = d->arp_sip;
	d->arp_sha = q->mac;
	d->arp_sip = q->ip4;
	/* Keep the Ethernet padding: a frame shorter than 60 bytes is a runt. */
	dpdk_reply_l2(q, m, fr, fr->len);
	dpdk_count(q, NETDEV_STAT_ARP_REQUESTS_ANSWERED, 1);
	return DPDK_RX_REPLY;
}

static enum dpdk_rx_verdict dpdk_rx_icmp(struct dpdk_queue *q, struct rte_mbuf *m,
					 struct dpdk_rx_frame *fr, struct rte_ipv4_hdr *ip,
					 uint32_t ihl, uint32_t ip_len)
{
	uint32_t icmp_len = ip_len - ihl;
	struct rte_icmp_hdr *icmp = (struct rte_icmp_hdr *)((uint8_t *)ip + ihl);

	if (icmp_len < sizeof(*icmp) || icmp->icmp_type != RTE_IP_ICMP_ECHO_REQUEST ||
	    icmp->icmp_code != 0 || rte_raw_cksum(icmp, icmp_len) != 0xffff) {
		return dpdk_drop(q, NETDEV_STAT_ICMP_OTHER);
	}
	icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
	icmp->icmp_cksum = 0;
	icmp->icmp_cksum = (uint16_t)~rte_raw_cksum(icmp, icmp_len);
	ip->dst_addr = ip->src_addr;
	ip->src_addr = q->ip4;
	ip->time_to_live = DPDK_TTL;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	dpdk_reply_l2(q, m, fr, fr->l2 + ip_len);
	dpdk_count(q, NETDEV_STAT_ICMP_ECHO_ANSWERED, 1);
	return DPDK_RX_REPLY;
}

static bool dpdk_ip_cksum_is_bad(const struct dpdk_queue *q, const struct rte_mbuf *m,
				 const struct rte_ipv4_hdr *ip)
{
	if (q->rx_ip_cksum) {
		uint64_t f = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
		if (f == RTE_MBUF_F_RX_IP_CKSUM_GOOD) {
			return false;
		}
		if (f == RTE_MBUF_F_RX_IP_CKSUM_BAD) {
			return true;
		}
	}
	return rte_ipv4_cksum(ip) != 0; /* over a valid header, checksum included: 0 */
}

static bool dpdk_udp_cksum_is_bad(const struct dpdk_queue *q, const struct rte_mbuf *m,
				  const struct rte_ipv4_hdr *ip, const struct rte_udp_hdr *udp,
				  uint16_t udp_len)
{
	if (udp->dgram_cksum == 0) {
		return false; /* IPv4 UDP without checksum (RFC 768) */
	}
	if (q->rx_udp_cksum) {
		uint64_t f = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
		if (f == RTE_MBUF_F_RX_L4_CKSUM_GOOD) {
			return false;
		}
		if (f == RTE_MBUF_F_RX_L4_CKSUM_BAD) {
			return true;
		}
	}
	return dpdk_udp_sum(ip, udp, udp_len) != 0xffff;
}

/* The UDP part: our port, lengths and checksum; on success m holds the payload. */
static enum dpdk_rx_verdict dpdk_rx_udp(struct dpdk_queue *q, struct rte_mbuf *m,
					struct dpdk_rx_frame *fr, struct rte_ipv4_hdr *ip,
					uint32_t ihl, uint32_t ip_len, uint64_t now_tsc,
					struct netdev_peer *peer)
{
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)((uint8_t *)ip + ihl);

	/* The UDP length must fill the IPv4 payload exactly: no trailing bytes to trust. */
	if (ip_len - ihl < sizeof(*udp) || rte_be_to_cpu_16(udp->dgram_len) != ip_len - ihl) {
		return dpdk_drop(q, NETDEV_STAT_UDP_BAD_LENGTH);
	}
	if (udp->dst_port != q->port) {
		return dpdk_drop(q, NETDEV_STAT_NOT_FOR_US);
	}
	uint16_t udp_len = (uint16_t)(ip_len - ihl);
	if (dpdk_udp_cksum_is_bad(q, m, ip, udp, udp_len)) {
		return dpdk_drop(q, NETDEV_STAT_UDP_BAD_CHECKSUM);
	}
	peer->ip4 = ip->src_addr;
	peer->port = udp->src_port;
	memcpy(peer->mac, &fr->eth->src_addr, sizeof(peer->mac));
	peer->vlan_tci = fr->tci;
	peer->vlan_tagged = fr->tagged ? 1 : 0;
	peer->reserved = 0;
	if (dpdk_arp_learn(&q->arp, ip->src_addr, &fr->eth->src_addr, now_tsc)) {
		dpdk_count(q, NETDEV_STAT_ARP_EVICTED, 1);
	}
	uint32_t payload = udp_len - (uint32_t)sizeof(*udp);
	m->data_off = (uint16_t)(m->data_off + fr->l2 + ihl + sizeof(*udp));
	m->data_len = (uint16_t)payload;
	m->pkt_len = payload;
	if (fr->tagged) {
		dpdk_count(q, NETDEV_STAT_RX_VLAN, 1);
	}
	return DPDK_RX_DATAGRAM;
}

/* IPv4: header sanity, destination, checksum, fragments, then by protocol. */
static enum dpdk_rx_verdict dpdk_rx_ipv4(struct dpdk_queue *q, struct rte_mbuf *m,
					 struct dpdk_rx_frame *fr, uint64_t now_tsc,
					 struct netdev_peer *peer)
{
	if (fr->len < fr->l2 + sizeof(struct rte_ipv4_hdr)) {
		return dpdk_drop(q, NETDEV_STAT_IP_BAD_HEADER);
	}
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(fr->base + fr->l2);
	uint32_t ihl = rte_ipv4_hdr_len(ip);
	uint32_t ip_len = rte_be_to_cpu_16(ip->total_length);
	if ((ip->version_ihl >> 4) != 4 || ihl < sizeof(*ip) || ip_len < ihl ||
	    fr->l2 + ip_len > fr->len) {
		return dpdk_drop(q, NETDEV_STAT_IP_BAD_HEADER);
	}
	if (ip->dst_addr != q->ip4) {
		return dpdk_drop(q, NETDEV_STAT_NOT_FOR_US);
	}
	if (dpdk_ip_cksum_is_bad(q, m, ip)) {
		return dpdk_drop(q, NETDEV_STAT_IP_BAD_CHECKSUM);
	}
	uint16_t frag = rte_be_to_cpu_16(ip->fragment_offset);
	if ((frag & (RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) != 0) {
		return dpdk_drop(q, NETDEV_STAT_IP_FRAGMENT);
	}
	if (ip->next_proto_id == IPPROTO_UDP) {
		return dpdk_rx_udp(q, m, fr, ip, ihl, ip_len, now_tsc, peer);
	}
	if (ip->next_proto_id == IPPROTO_ICMP) {
		enum dpdk_rx_verdict v = dpdk_rx_icmp(q, m, fr, ip, ihl, ip_len);
		if (v == DPDK_RX_REPLY &&
		    dpdk_arp_learn(&q->arp, ip->dst_addr, &fr->eth->dst_addr, now_tsc)) {
			/* dst now holds the pinger: the reply swapped the addresses */
			dpdk_count(q, NETDEV_STAT_ARP_EVICTED, 1);
		}
		return v;
	}
	return dpdk_drop(q, NETDEV_STAT_NOT_UDP);
}

enum dpdk_rx_verdict dpdk_rx_frame_peer(struct dpdk_queue *q, struct rte_mbuf *m, uint64_t now_tsc,
					struct netdev_peer *peer)
{
	struct dpdk_rx_frame fr = {
		.base = rte_pktmbuf_mtod(m, uint8_t *),
		.len = m->data_len,
		.l2 = sizeof(struct rte_ether_hdr),
	};

	dpdk_count(q, NETDEV_STAT_RX_FRAMES, 1);
	if (m->nb_segs != 1) {
		return dpdk_drop(q, NETDEV_STAT_RX_MULTISEG);
	}
	if (fr.len < sizeof(struct rte_ether_hdr)) {
		return dpdk_drop(q, NETDEV_STAT_NOT_IPV4);
	}
	fr.eth = (struct rte_ether_hdr *)fr.base;
	uint16_t type = fr.eth->ether_type;
	if (type == rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN)) {
		if (fr.len < sizeof(struct rte_ether_hdr) + sizeof(struct rte_vlan_hdr)) {
			return dpdk_drop(q, NETDEV_STAT_NOT_IPV4);
		}
		const struct rte_vlan_hdr *vh =
			(const struct rte_vlan_hdr *)(fr.base + sizeof(struct rte_ether_hdr));
		fr.tagged = true;
		fr.tci = rte_be_to_cpu_16(vh->vlan_tci);
		fr.l2 += sizeof(struct rte_vlan_hdr);
		type = vh->eth_proto;
	}
	if (type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP)) {
		return dpdk_rx_arp(q, m, &fr, now_tsc);
	}
	if (type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)) {
		return dpdk_drop(q, NETDEV_STAT_NOT_IPV4);
	}
	return dpdk_rx_ipv4(q, m, &fr, now_tsc, peer);
}

enum dpdk_rx_verdict dpdk_rx_frame(struct dpdk_queue *q, struct rte_mbuf *m, uint64_t now_tsc)
{
	return dpdk_rx_frame_peer(q, m, now_tsc, netdev_mbuf_peer(m));
}

bool dpdk_tx_encap_peer(struct dpdk_queue *q, struct rte_mbuf *m, const struct netdev_peer *peer,
			uint64_t now_tsc)
{
	struct rte_ether_addr dst;
	uint32_t l2 = sizeof(struct rte_ether_hdr) +
		      (peer->vlan_tagged ? (uint32_t)sizeof(struct rte_vlan_hdr) : 0u);
	uint32_t hdr = l2 + sizeof(struct rte_ipv4_hdr) + sizeof(struct rte_udp_hdr);

	/* A chained datagram (a DELIVER head and the shared records) is copied into its
	 * first segment, a full-size mbuf of the shard's pool: multi-segment TX offloads
	 * differ between NICs, one copy of a batch per subscriber here does not. */
	if (m->nb_segs > 1 && rte_pktmbuf_linearize(m) != 0) {
		dpdk_count(q, NETDEV_STAT_TX_DROP_NO_HEADROOM, 1);
		return false;
	}
	uint32_t payload = m->data_len;
	memcpy(&dst, peer->mac, sizeof(dst));
	if (rte_is_zero_ether_addr(&dst) && !dpdk_arp_lookup(&q->arp, peer->ip4, now_tsc, &dst)) {
		dpdk_count(q, NETDEV_STAT_TX_DROP_NO_ARP, 1);
		return false;
	}
	uint8_t *p = (uint8_t *)rte_pktmbuf_prepend(m, (uint16_t)hdr);
	if (p == NULL) {
		dpdk_count(q, NETDEV_STAT_TX_DROP_NO_HEADROOM, 1);
		return false;
	}
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)p;
	eth->dst_addr = dst;
	eth->src_addr = q->mac;
	if (peer->vlan_tagged) {
		struct rte_vlan_hdr *vh = (struct rte_vlan_hdr *)(eth + 1);
		eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN);
		vh->vlan_tci = rte_cpu_to_be_16(peer->vlan_tci);
		vh->eth_proto = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	} else {
		eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	}
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(p + l2);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
	uint16_t udp_len = (uint16_t)(sizeof(*udp) + payload);
	*ip = (struct rte_ipv4_hdr){
		.version_ihl = RTE_IPV4_VHL_DEF,
		.type_of_service = 0,
		.total_length = rte_cpu_to_be_16((uint16_t)(sizeof(*ip) + udp_len)),
		.packet_id = rte_cpu_to_be_16(q->ip_id++),
		.fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG),
		.time_to_live = DPDK_TTL,
		.next_proto_id = IPPROTO_UDP,
		.hdr_checksum = 0,
		.src_addr = q->ip4,
		.dst_addr = peer->ip4,
	};
	udp->src_port = q->port;
	udp->dst_port = peer->port;
	udp->dgram_len = rte_cpu_to_be_16(udp_len);
	udp->dgram_cksum = 0;

	m->ol_flags &= RTE_MBUF_F_INDIRECT | RTE_MBUF_F_EXTERNAL;
	m->l2_len = l2;
	m->l3_len = sizeof(*ip);
	if (q->tx_ip_cksum || q->tx_udp_cksum) {
		m->ol_flags |= RTE_MBUF_F_TX_IPV4;
	}
	if (q->tx_ip_cksum) {
		m->ol_flags |= RTE_MBUF_F_TX_IP_CKSUM;
	} else {
		ip->hdr_checksum = rte_ipv4_cksum(ip);
	}
	if (q->tx_udp_cksum) {
		m->ol_flags |= RTE_MBUF_F_TX_UDP_CKSUM;
		udp->dgram_cksum = rte_ipv4_phdr_cksum(ip, m->ol_flags);
	} else {
		udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
	}
	return true;
}

bool dpdk_tx_encap(struct dpdk_queue *q, struct rte_mbuf *m, uint64_t now_tsc)
{
	return dpdk_tx_encap_peer(q, m, netdev_mbuf_peer(m), now_tsc);
}

void dpdk_arp_request_build(const struct dpdk_queue *q, struct rte_mbuf *m, uint32_t target_ip4)
{
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)p;
	struct rte_arp_hdr *a = (struct rte_arp_hdr *)(eth + 1);

	SL_ASSERT(rte_pktmbuf_tailroom(m) + m->data_len >= RTE_ETHER_MIN_LEN - RTE_ETHER_CRC_LEN);
	/* Padded to the 60 bytes of a minimal frame: the padding is zero. */
	memset(p, 0, RTE_ETHER_MIN_LEN - RTE_ETHER_CRC_LEN);
	memset(&eth->dst_addr, 0xff, sizeof(eth->dst_addr));
	eth->src_addr = q->mac;
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
	a->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	a->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	a->arp_hlen = RTE_ETHER_ADDR_LEN;
	a->arp_plen = sizeof(uint32_t);
	a->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
	a->arp_data.arp_sha = q->mac;
	a->arp_data.arp_sip = q->ip4;
	a->arp_data.arp_tip = target_ip4;
	m->data_len = RTE_ETHER_MIN_LEN - RTE_ETHER_CRC_LEN;
	m->pkt_len = m->data_len;
	m->ol_flags &= RTE_MBUF_F_INDIRECT | RTE_MBUF_F_EXTERNAL;
}
