/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * raw_send: crafts malformed Ethernet/IPv4/UDP frames by hand and sends them on an
 * AF_PACKET socket, for test_dpdk_malformed.sh. Each case builds a frame that the DPDK
 * driver (or the wire decoder behind it) must drop under one named reason; the frames
 * are otherwise well formed, so the case under test is the only thing wrong with them.
 * `bigudp` instead sends an oversized datagram on an ordinary UDP socket with path MTU
 * discovery off, so that the kernel itself fragments it.
 *
 *   raw_send IFACE DST_MAC SRC_IP DST_IP DST_PORT CASE COUNT
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define RAW_FRAME_MAX 1514
#define RAW_SRC_PORT 40000
#define RAW_ETHERTYPE_OTHER 0x88b5 /* IEEE 802 local experimental */
#define RAW_PROTO_OTHER 253	   /* RFC 3692 experimentation */
#define RAW_BIGUDP_BYTES 3000

struct raw_ctx {
	int fd;
	struct sockaddr_ll to;
	uint8_t dst_mac[6];
	uint8_t src_mac[6];
	uint32_t src_ip; /* network byte order */
	uint32_t dst_ip;
	uint16_t dst_port; /* host byte order */
	uint32_t rng;
};

static uint32_t raw_rand(struct raw_ctx *c)
{
	c->rng ^= c->rng << 13; /* xorshift32: fixed seed, same frames every run */
	c->rng ^= c->rng >> 17;
	c->rng ^= c->rng << 5;
	return c->rng;
}

static uint16_t raw_fold(uint32_t sum)
{
	while (sum >> 16) {
		sum = (sum & 0xffff) + (sum >> 16);
	}
	return (uint16_t)sum;
}

static uint32_t raw_sum(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2) {
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	}
	if (len & 1) {
		sum += (uint32_t)(p[len - 1] << 8);
	}
	return sum;
}

static void raw_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Ethernet header with `type`; returns its length. */
static size_t raw_eth(const struct raw_ctx *c, uint8_t *f, const uint8_t *dst, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, c->src_mac, 6);
	raw_put16(f + 12, type);
	return 14;
}

/* A 20-byte IPv4 header carrying l4_len bytes of `proto`, checksum filled. */
static void raw_ipv4(const struct raw_ctx *c, uint8_t *ip, uint8_t proto, size_t l4_len,
		     uint16_t frag)
{
	memset(ip, 0, 20);
	ip[0] = 0x45;
	raw_put16(ip + 2, (uint16_t)(20 + l4_len));
	raw_put16(ip + 4, 0x1234);
	raw_put16(ip + 6, frag);
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, &c->src_ip, 4);
	memcpy(ip + 16, &c->dst_ip, 4);
	raw_put16(ip + 10, (uint16_t)~raw_fold(raw_sum(ip, 20, 0)));
}

/* UDP header + payload at udp (payload already in place), checksum filled. */
static void raw_udp(const uint8_t *ip, uint8_t *udp, uint16_t dport, size_t payload)
{
	uint16_t len = (uint16_t)(8 + payload);
	uint32_t sum;

	raw_put16(udp, RAW_SRC_PORT);
	raw_put16(udp + 2, dport);
	raw_put16(udp + 4, len);
	raw_put16(udp + 6, 0);
	sum = raw_sum(ip + 12, 8, 0); /* source and destination addresses */
	sum += IPPROTO_UDP + len;
	uint16_t ck = (uint16_t)~raw_fold(raw_sum(udp, len, sum));
	raw_put16(udp + 6, ck == 0 ? 0xffff : ck);
}

/* A complete, valid Ethernet/IPv4/UDP frame with `payload` bytes (already at f+42). */
static size_t raw_udp_frame(const struct raw_ctx *c, uint8_t *f, uint16_t dport, size_t payload)
{
	size_t l2 = raw_eth(c, f, c->dst_mac, ETHERTYPE_IP);

	raw_ipv4(c, f + l2, IPPROTO_UDP, 8 + payload, 0);
	raw_udp(f + l2, f + l2 + 20, dport, payload);
	return l2 + 20 + 8 + payload;
}

static void raw_fill(struct raw_ctx *c, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		p[i] = (uint8_t)raw_rand(c);
	}
}

/* Builds frame i of case `name` into f; returns its length, or 0 for an unknown case. */
static size_t raw_build(struct raw_ctx *c, const char *name, uint8_t *f, unsigned i)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	uint8_t *ip = f + 14;
	uint8_t *udp = ip + 20;
	size_t payload = 64;

	if (strcmp(name, "random") == 0) {
		/* Random bytes where a sluice frame should be; the first byte is never 'S'
		 * so no run can stumble on the magic. */
		payload = 1 + raw_rand(c) % 1400;
		raw_fill(c, udp + 8, payload);
		udp[8] = (uint8_t)(udp[8] == 'S' ? 'X' : udp[8]);
		return raw_udp_frame(c, f, c->dst_port, payload);
	}
	if (strcmp(name, "short") == 0) {
		/* The magic and then nothing: shorter than a frame header. */
		memcpy(udp + 8, "SLCE", 4);
		return raw_udp_frame(c, f, c->dst_port, 4 + i % 40);
	}
	raw_fill(c, udp + 8, payload);
	if (strcmp(name, "ip-checksum") == 0) {
		size_t n = raw_udp_frame(c, f, c->dst_port, payload);
		ip[10] ^= 0x5a;
		return n;
	}
	if (strcmp(name, "ip-truncated") == 0) {
		/* Ethernet and the first 4..19 bytes of an IPv4 header. */
		raw_udp_frame(c, f, c->dst_port, payload);
		return 14 + 4 + i % 16;
	}
	if (strcmp(name, "ip-bad-length") == 0) {
		/* total_length claims more than the frame holds (checksum kept right). */
		size_t n = raw_udp_frame(c, f, c->dst_port, payload);
		raw_ipv4(c, ip, IPPROTO_UDP, 8 + payload + 100, 0);
		return n;
	}
	if (strcmp(name, "fragment") == 0) {
		/* Alternately a first fragment (MF) and a later one (offset 185 * 8). */
		uint16_t frag = (i & 1) ? 185 : 0x2000;
		size_t n = raw_udp_frame(c, f, c->dst_port, payload);
		raw_ipv4(c, ip, IPPROTO_UDP, 8 + payload, frag);
		return n;
	}
	if (strcmp(name, "udp-checksum") == 0) {
		size_t n = raw_udp_frame(c, f, c->dst_port, payload);
		udp[6] ^= 0x5a;
		if (udp[6] == 0 && udp[7] == 0) {
			udp[7] = 1; /* 0 would mean "no checksum", which is valid */
		}
		return n;
	}
	if (strcmp(name, "udp-length") == 0) {
		size_t n = raw_udp_frame(c, f, c->dst_port, payload);
		raw_put16(udp + 4, (uint16_t)(8 + payload - 1));
		return n;
	}
	if (strcmp(name, "other-port") == 0) {
		return raw_udp_frame(c, f, (uint16_t)(c->dst_port + 1), payload);
	}
	if (strcmp(name, "not-udp") == 0) {
		size_t l2 = raw_eth(c, f, c->dst_mac, ETHERTYPE_IP);
		raw_ipv4(c, f + l2, RAW_PROTO_OTHER, payload, 0);
		return l2 + 20 + payload;
	}
	if (strcmp(name, "not-ip") == 0) {
		size_t l2 = raw_eth(c, f, c->dst_mac, RAW_ETHERTYPE_OTHER);
		raw_fill(c, f + l2, 46);
		return l2 + 46;
	}
	if (strcmp(name, "arp-other") == 0) {
		/* Who has 10.x.y.(dst+100)? — an address that is not the router's. */
		size_t l2 = raw_eth(c, f, bcast, ETHERTYPE_ARP);
		uint8_t *a = f + l2;
		uint32_t tip = htonl(ntohl(c->dst_ip) + 100);
		raw_put16(a, 1);		/* Ethernet */
		raw_put16(a + 2, ETHERTYPE_IP); /* IPv4 */
		a[4] = 6;
		a[5] = 4;
		raw_put16(a + 6, 1); /* request */
		memcpy(a + 8, c->src_mac, 6);
		memcpy(a + 14, &c->src_ip, 4);
		memset(a + 18, 0, 6);
		memcpy(a + 24, &tip, 4);
		memset(a + 28, 0, 18); /* pad to the 60-byte minimum */
		return l2 + 46;
	}
	return 0;
}

/* The kernel fragments an oversized datagram itself when path MTU discovery is off. */
static int raw_bigudp(const struct raw_ctx *c, unsigned count)
{
	static uint8_t buf[RAW_BIGUDP_BYTES];
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(c->dst_port)};
	int pmtu = IP_PMTUDISC_DONT;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0) {
		perror("raw_send: socket");
		return 1;
	}
	to.sin_addr.s_addr = c->dst_ip;
	if (setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof(pmtu)) != 0) {
		perror("raw_send: IP_MTU_DISCOVER");
		close(fd);
		return 1;
	}
	memset(buf, 0xab, sizeof(buf));
	for (unsigned i = 0; i < count; i++) {
		if (sendto(fd, buf, sizeof(buf), 0, (const struct sockaddr *)&to, sizeof(to)) !=
		    (ssize_t)sizeof(buf)) {
			perror("raw_send: sendto");
			close(fd);
			return 1;
		}
	}
	close(fd);
	return 0;
}

static int raw_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) {
		return -EINVAL;
	}
	for (int i = 0; i < 6; i++) {
		if (v[i] > 0xff) {
			return -EINVAL;
		}
		mac[i] = (uint8_t)v[i];
	}
	return 0;
}

static int raw_open(struct raw_ctx *c, const char *ifname)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	if (strlen(ifname) >= sizeof(ifr.ifr_name)) {
		return -EINVAL;
	}
	strcpy(ifr.ifr_name, ifname);
	c->fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (c->fd < 0) {
		return -errno;
	}
	if (ioctl(c->fd, SIOCGIFINDEX, &ifr) != 0) {
		goto out_close_fd;
	}
	memset(&c->to, 0, sizeof(c->to));
	c->to.sll_family = AF_PACKET;
	c->to.sll_ifindex = ifr.ifr_ifindex;
	c->to.sll_halen = 6;
	if (ioctl(c->fd, SIOCGIFHWADDR, &ifr) != 0) {
		goto out_close_fd;
	}
	memcpy(c->src_mac, ifr.ifr_hwaddr.sa_data, 6);
	return 0;

out_close_fd:;
	int err = -errno;
	close(c->fd);
	return err;
}

int main(int argc, char **argv)
{
	static uint8_t frame[RAW_FRAME_MAX];
	struct raw_ctx c = {.rng = 0x5eed1234u};
	struct in_addr a;

	if (argc != 8) {
		fprintf(stderr, "usage: raw_send IFACE DST_MAC SRC_IP DST_IP DST_PORT CASE COUNT\n"
				"cases: random short ip-checksum ip-truncated ip-bad-length "
				"fragment udp-checksum udp-length other-port not-udp not-ip "
				"arp-other bigudp\n");
		return 2;
	}
	if (raw_parse_mac(argv[2], c.dst_mac) != 0) {
		fprintf(stderr, "raw_send: bad MAC %s\n", argv[2]);
		return 2;
	}
	if (inet_pton(AF_INET, argv[3], &a) != 1) {
		fprintf(stderr, "raw_send: bad source IP %s\n", argv[3]);
		return 2;
	}
	c.src_ip = a.s_addr;
	if (inet_pton(AF_INET, argv[4], &a) != 1) {
		fprintf(stderr, "raw_send: bad destination IP %s\n", argv[4]);
		return 2;
	}
	c.dst_ip = a.s_addr;
	long port = strtol(argv[5], NULL, 10);
	long count = strtol(argv[7], NULL, 10);
	if (port <= 0 || port >= 65535 || count <= 0 || count > 1000000) {
		fprintf(stderr, "raw_send: bad port or count\n");
		return 2;
	}
	c.dst_port = (uint16_t)port;
	if (strcmp(argv[6], "bigudp") == 0) {
		return raw_bigudp(&c, (unsigned)count);
	}
	int err = raw_open(&c, argv[1]);
	if (err != 0) {
		fprintf(stderr, "raw_send: %s: %s\n", argv[1], strerror(-err));
		return 1;
	}
	for (unsigned i = 0; i < (unsigned)count; i++) {
		size_t n = raw_build(&c, argv[6], frame, i);
		if (n == 0) {
			fprintf(stderr, "raw_send: unknown case %s\n", argv[6]);
			close(c.fd);
			return 2;
		}
		memcpy(c.to.sll_addr, frame, 6);
		if (sendto(c.fd, frame, n, 0, (const struct sockaddr *)&c.to, sizeof(c.to)) !=
		    (ssize_t)n) {
			perror("raw_send: sendto");
			close(c.fd);
			return 1;
		}
	}
	close(c.fd);
	return 0;
}
