/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sluice-bench: load generator and baselines. `echo` is the kernel-UDP ceiling: a
 * recvmmsg/sendmmsg loop that returns every datagram, with no protocol work. `load`
 * sends pre-encoded, valid PRODUCE frames with a bounded window of datagrams in flight
 * and counts the replies, so the same generator measures the echo baseline and the
 * router (whose replies are ACKs). Results are one JSON line for bench/ scripts.
 * `pcap` writes a classic pcap of valid Ethernet/IPv4/UDP PRODUCE frames for the
 * pipeline benchmark (bench/pipeline.sh), which replays it into sluiced with net_pcap.
 * `durable` (bench_durable.c) measures durable-ack rates and latency for bench/journal.sh.
 */
#include "bench.h"

#include "core/clock.h"
#include "core/wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#define BENCH_STREAMS 8

volatile sig_atomic_t bench_stop;

static void bench_on_signal(int sig)
{
	(void)sig;
	bench_stop = 1;
}

int bench_parse_addr(const char *s, struct sockaddr_in *out)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	if (colon == NULL || (size_t)(colon - s) >= sizeof(host)) {
		return -EINVAL;
	}
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port <= 0 || port > 65535) {
		return -EINVAL;
	}
	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &out->sin_addr) == 1 ? 0 : -EINVAL;
}

int bench_socket(int bufbytes)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	if (fd >= 0) {
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufbytes, sizeof(bufbytes));
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufbytes, sizeof(bufbytes));
	}
	return fd;
}

/* The baseline: return every datagram to its sender, in bursts, busy-polling. */
static int bench_echo(const char *listen)
{
	static uint8_t bufs[BENCH_BURST][BENCH_DGRAM_MAX];
	struct mmsghdr msgs[BENCH_BURST];
	struct iovec iovs[BENCH_BURST];
	struct sockaddr_in peers[BENCH_BURST];
	struct sockaddr_in addr;
	uint64_t echoed = 0;
	int fd = bench_socket(4 << 20);

	if (fd < 0 || bench_parse_addr(listen, &addr) != 0 ||
	    bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		(void)fprintf(stderr, "sluice-bench echo: cannot listen on %s: %s\n", listen,
			      strerror(errno));
		return 1;
	}
	while (!bench_stop) {
		for (int i = 0; i < BENCH_BURST; i++) {
			iovs[i] = (struct iovec){.iov_base = bufs[i], .iov_len = BENCH_DGRAM_MAX};
			msgs[i].msg_hdr = (struct msghdr){.msg_name = &peers[i],
							  .msg_namelen = sizeof(peers[i]),
							  .msg_iov = &iovs[i],
							  .msg_iovlen = 1};
		}
		int n = recvmmsg(fd, msgs, BENCH_BURST, MSG_DONTWAIT, NULL);
		if (n <= 0) {
			continue;
		}
		for (int i = 0; i < n; i++) {
			iovs[i].iov_len = msgs[i].msg_len;
		}
		int sent = sendmmsg(fd, msgs, (unsigned)n, MSG_DONTWAIT);
		echoed += sent > 0 ? (uint64_t)sent : 0;
	}
	(void)fprintf(stderr, "sluice-bench echo: %llu datagrams echoed\n",
		      (unsigned long long)echoed);
	(void)close(fd);
	return 0;
}

struct bench_load {
	struct sockaddr_in router;
	uint32_t event_bytes;
	uint32_t frame_bytes;
	uint32_t window;
	double seconds;
	uint64_t producer_id;
	uint32_t epoch;
	uint64_t sequence[BENCH_STREAMS];
	uint32_t events_per_frame;
};

/* Encodes the next PRODUCE frame of stream `s` (partition s) into buf. */
static uint32_t bench_encode(struct bench_load *l, unsigned s, uint8_t *buf)
{
	static uint8_t value[BENCH_DGRAM_MAX];
	struct sl_wire_header h;
	struct wire_builder b;

	wire_header_init(&h, SL_WIRE_PRODUCE);
	h.producer_id = l->producer_id;
	h.producer_epoch = l->epoch;
	h.partition = s;
	h.sequence = l->sequence[s]++;
	h.ack_level = SL_ACKS_RECEIVED;
	h.flags = h.sequence == 0 ? SL_WIRE_FLAG_STREAM_HEAD : 0;
	(void)wire_begin(&b, buf, l->frame_bytes, &h, "bench", 5);
	for (uint32_t i = 0; i < l->events_per_frame; i++) {
		(void)wire_add_record(&b, NULL, 0, value, l->event_bytes, 0);
	}
	return wire_finish(&b);
}

/*
 * The generator never retransmits: after a frame is lost the router answers the rest
 * of that stream OUT_OF_SEQUENCE. A NACK of the current epoch starts every stream
 * afresh in a new epoch (counted in the result as nacks).
 */
static void bench_restart_streams(struct bench_load *l, const uint8_t *nack)
{
	if (wire_get_u32(nack + offsetof(struct sl_wire_header, producer_epoch)) != l->epoch) {
		return;
	}
	l->epoch++;
	memset(l->sequence, 0, sizeof(l->sequence));
}

/*
 * Closed loop: keep `window` datagrams outstanding, count every reply. A reply lost by
 * the kernel would shrink the window for good, so outstanding credit is restored after
 * a quiet 50 ms.
 */
static int bench_run_load(struct bench_load *l)
{
	static uint8_t tx[BENCH_BURST][BENCH_DGRAM_MAX];
	static uint8_t rx[BENCH_BURST][BENCH_DGRAM_MAX];
	struct mmsghdr tmsgs[BENCH_BURST];
	struct mmsghdr rmsgs[BENCH_BURST];
	struct iovec tiov[BENCH_BURST];
	struct iovec riov[BENCH_BURST];
	uint64_t sent = 0;
	uint64_t replies = 0;
	uint64_t acks = 0;
	uint64_t nacks = 0;
	uint64_t echoes = 0;
	uint64_t stalls = 0;
	uint32_t tlen[BENCH_BURST];
	unsigned pending = 0;
	unsigned stream = 0;
	int fd = bench_socket(4 << 20);

	if (fd < 0 || connect(fd, (struct sockaddr *)&l->router, sizeof(l->router)) != 0) {
		(void)fprintf(stderr, "sluice-bench load: socket: %s\n", strerror(errno));
		return 1;
	}
	uint64_t start = clock_monotonic_ns();
	uint64_t deadline = start + (uint64_t)(l->seconds * 1e9);
	uint64_t last_reply = start;
	uint64_t now = start;
	while (now < deadline && !bench_stop) {
		uint64_t outstanding = sent - replies;
		unsigned want = outstanding >= l->window ? 0 : (unsigned)(l->window - outstanding);
		want = want > BENCH_BURST ? BENCH_BURST : want;
		/* Frames encoded but not yet sent stay in tx[0..pending): sequences must go
		 * out in order, so a partial sendmmsg keeps the rest for the next round. */
		for (; pending < want; pending++) {
			tlen[pending] = bench_encode(l, stream, tx[pending]);
			stream = (stream + 1) % BENCH_STREAMS;
		}
		if (want > 0) {
			for (unsigned i = 0; i < want; i++) {
				tiov[i] = (struct iovec){.iov_base = tx[i], .iov_len = tlen[i]};
				tmsgs[i].msg_hdr =
					(struct msghdr){.msg_iov = &tiov[i], .msg_iovlen = 1};
			}
			int n = sendmmsg(fd, tmsgs, want, MSG_DONTWAIT);
			if (n > 0) {
				sent += (uint64_t)n;
				memmove(tx[0], tx[n],
					(size_t)(pending - (unsigned)n) * sizeof(tx[0]));
				memmove(tlen, tlen + n,
					(size_t)(pending - (unsigned)n) * sizeof(tlen[0]));
				pending -= (unsigned)n;
			}
		}
		for (int i = 0; i < BENCH_BURST; i++) {
			riov[i] = (struct iovec){.iov_base = rx[i], .iov_len = BENCH_DGRAM_MAX};
			rmsgs[i].msg_hdr = (struct msghdr){.msg_iov = &riov[i], .msg_iovlen = 1};
		}
		int got = recvmmsg(fd, rmsgs, BENCH_BURST, MSG_DONTWAIT, NULL);
		now = clock_monotonic_ns();
		if (got > 0) {
			replies += (uint64_t)got;
			last_reply = now;
			for (int i = 0; i < got; i++) {
				uint8_t type = rmsgs[i].msg_len > 5 ? rx[i][5] : 0;
				acks += type == SL_WIRE_ACK;
				echoes += type == SL_WIRE_PRODUCE;
				if (type == SL_WIRE_NACK &&
				    rmsgs[i].msg_len >= SL_WIRE_HEADER_BYTES) {
					nacks++;
					bench_restart_streams(l, rx[i]);
				}
			}
		} else if (now - last_reply > 50000000ull && sent > replies) {
			stalls++;
			replies = sent; /* give the lost window back */
			last_reply = now;
		}
	}
	double secs = (double)(now - start) / 1e9;
	(void)close(fd);
	/* Useful replies: ACKs from the router, or our own frames back from echo. */
	uint64_t useful = acks + echoes;
	printf("{\"datagrams_sent\":%llu,\"acks\":%llu,\"echoes\":%llu,\"nacks\":%llu,"
	       "\"stalls\":%llu,\"seconds\":%.3f,\"datagrams_per_s\":%.0f,"
	       "\"events_per_frame\":%u,\"events_per_s\":%.0f,\"event_bytes\":%u}\n",
	       (unsigned long long)sent, (unsigned long long)acks, (unsigned long long)echoes,
	       (unsigned long long)nacks, (unsigned long long)stalls, secs, (double)useful / secs,
	       l->events_per_frame, (double)useful * l->events_per_frame / secs, l->event_bytes);
	return 0;
}

static int bench_load_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"router", required_argument, NULL, 'r'},
		{"event-bytes", required_argument, NULL, 'e'},
		{"frame-bytes", required_argument, NULL, 'f'},
		{"events-per-frame", required_argument, NULL, 'n'},
		{"window", required_argument, NULL, 'w'},
		{"seconds", required_argument, NULL, 's'},
		{NULL, 0, NULL, 0},
	};
	struct bench_load l = {.event_bytes = 64,
			       .epoch = 1,
			       .frame_bytes = SL_WIRE_FRAME_BYTES_DEFAULT,
			       .window = 256,
			       .seconds = 5,
			       .events_per_frame = 0};
	const char *router = "127.0.0.1:7800";
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			router = optarg;
			break;
		case 'e':
			l.event_bytes = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'f':
			l.frame_bytes = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			l.events_per_frame = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'w':
			l.window = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 's':
			l.seconds = strtod(optarg, NULL);
			break;
		default:
			return 2;
		}
	}
	if (bench_parse_addr(router, &l.router) != 0 || l.frame_bytes > BENCH_DGRAM_MAX ||
	    l.frame_bytes < SL_WIRE_FRAME_BYTES_MIN || l.window == 0 || l.seconds <= 0) {
		(void)fprintf(stderr, "sluice-bench load: bad arguments\n");
		return 2;
	}
	uint32_t fit = (l.frame_bytes - wire_prefix_bytes(5)) / wire_record_bytes(0, l.event_bytes);
	if (fit == 0) {
		(void)fprintf(stderr,
			      "sluice-bench load: an event of %u bytes does not fit a "
			      "frame of %u\n",
			      l.event_bytes, l.frame_bytes);
		return 2;
	}
	if (l.events_per_frame == 0 || l.events_per_frame > fit) {
		l.events_per_frame = fit;
	}
	if (getrandom(&l.producer_id, sizeof(l.producer_id), 0) != sizeof(l.producer_id)) {
		return 1;
	}
	return bench_run_load(&l);
}

/* The pcap file: classic format (microsecond timestamps), Ethernet link type. */
#define BENCH_PCAP_MAGIC 0xa1b2c3d4u
#define BENCH_PCAP_LINKTYPE_ETHERNET 1u
#define BENCH_PCAP_SNAPLEN 65535u
#define BENCH_L2L3L4_BYTES 42u /* Ethernet + IPv4 (no options) + UDP */
#define BENCH_PCAP_PARTITIONS_MAX 65536u

struct bench_pcap {
	const char *out;
	uint32_t partitions;
	uint32_t events_per_frame;
	uint32_t event_bytes;
	uint32_t frames;
	uint32_t router_ip; /* network byte order */
	uint32_t src_ip;
	uint16_t router_port; /* host byte order */
	uint8_t router_mac[6];
	uint8_t src_mac[6];
};

static void bench_put16be(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void bench_put32le(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t bench_sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2) {
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	}
	if (len & 1) {
		sum += (uint32_t)(p[len - 1] << 8);
	}
	while (sum >> 16) {
		sum = (sum & 0xffff) + (sum >> 16);
	}
	return sum;
}

/*
 * Wraps the sluice frame at f + 42 (len bytes) in Ethernet/IPv4/UDP addressed to the
 * router, with both checksums computed; returns the Ethernet frame's length. The UDP
 * source port differs per partition, as it would across producers.
 */
static uint32_t bench_pcap_encap(const struct bench_pcap *c, uint8_t *f, uint32_t len,
				 uint32_t partition, uint16_t ip_id)
{
	uint8_t *ip = f + 14;
	uint8_t *udp = ip + 20;
	uint16_t udp_len = (uint16_t)(8 + len);

	memcpy(f, c->router_mac, 6);
	memcpy(f + 6, c->src_mac, 6);
	bench_put16be(f + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	bench_put16be(ip + 2, (uint16_t)(20 + udp_len));
	bench_put16be(ip + 4, ip_id);
	bench_put16be(ip + 6, 0x4000); /* DF */
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	memcpy(ip + 12, &c->src_ip, 4);
	memcpy(ip + 16, &c->router_ip, 4);
	bench_put16be(ip + 10, (uint16_t)~bench_sum16(ip, 20, 0));
	bench_put16be(udp, (uint16_t)(20000 + partition % 40000));
	bench_put16be(udp + 2, c->router_port);
	bench_put16be(udp + 4, udp_len);
	bench_put16be(udp + 6, 0);
	uint32_t sum = bench_sum16(ip + 12, 8, IPPROTO_UDP + udp_len);
	uint16_t ck = (uint16_t)~bench_sum16(udp, udp_len, sum);
	bench_put16be(udp + 6, ck == 0 ? 0xffff : ck);
	return BENCH_L2L3L4_BYTES + len;
}

static int bench_pcap_write(const struct bench_pcap *c, FILE *fp)
{
	static uint8_t frame[BENCH_DGRAM_MAX + BENCH_L2L3L4_BYTES];
	static uint8_t value[BENCH_DGRAM_MAX];
	uint8_t hdr[24];
	uint64_t producer_id = 0x736c75696365ull; /* "sluice": fixed, the file is reproducible */

	bench_put32le(hdr, BENCH_PCAP_MAGIC);
	hdr[4] = 2; /* version 2.4 */
	hdr[5] = 0;
	hdr[6] = 4;
	hdr[7] = 0;
	bench_put32le(hdr + 8, 0);  /* thiszone */
	bench_put32le(hdr + 12, 0); /* sigfigs */
	bench_put32le(hdr + 16, BENCH_PCAP_SNAPLEN);
	bench_put32le(hdr + 20, BENCH_PCAP_LINKTYPE_ETHERNET);
	if (fwrite(hdr, sizeof(hdr), 1, fp) != 1) {
		return -EIO;
	}
	memset(value, 0x5a, sizeof(value));
	for (uint32_t i = 0; i < c->frames; i++) {
		/* Round robin over the partitions: stream p's frames are i = p, p + N, ... so
		 * each stream's sequences are consecutive in file order from 0. */
		uint32_t p = i % c->partitions;
		struct sl_wire_header h;
		struct wire_builder b;

		wire_header_init(&h, SL_WIRE_PRODUCE);
		h.producer_id = producer_id;
		h.producer_epoch = 1;
		h.partition = p;
		h.sequence = i / c->partitions;
		h.ack_level = SL_ACKS_RECEIVED;
		h.flags = h.sequence == 0 ? SL_WIRE_FLAG_STREAM_HEAD : 0;
		if (wire_begin(&b, frame + BENCH_L2L3L4_BYTES, BENCH_DGRAM_MAX, &h, "bench", 5) !=
		    0) {
			return -EMSGSIZE;
		}
		for (uint32_t e = 0; e < c->events_per_frame; e++) {
			if (wire_add_record(&b, NULL, 0, value, c->event_bytes, i) != 0) {
				return -EMSGSIZE;
			}
		}
		uint32_t len = bench_pcap_encap(c, frame, wire_finish(&b), p, (uint16_t)i);
		uint8_t rec[16];
		bench_put32le(rec, i / 1000000u); /* one frame per microsecond */
		bench_put32le(rec + 4, i % 1000000u);
		bench_put32le(rec + 8, len);
		bench_put32le(rec + 12, len);
		if (fwrite(rec, sizeof(rec), 1, fp) != 1 || fwrite(frame, len, 1, fp) != 1) {
			return -EIO;
		}
	}
	return 0;
}

static int bench_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char extra;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &extra) !=
	    6) {
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

static int bench_pcap_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"out", required_argument, NULL, 'o'},
		{"partitions", required_argument, NULL, 'p'},
		{"events-per-frame", required_argument, NULL, 'n'},
		{"event-bytes", required_argument, NULL, 'e'},
		{"frames", required_argument, NULL, 'f'},
		{"router-ip", required_argument, NULL, 'i'},
		{"router-port", required_argument, NULL, 'P'},
		{"router-mac", required_argument, NULL, 'm'},
		{"src-ip", required_argument, NULL, 's'},
		{"src-mac", required_argument, NULL, 'S'},
		{NULL, 0, NULL, 0},
	};
	struct bench_pcap c = {.partitions = 16,
			       .events_per_frame = 1,
			       .event_bytes = 64,
			       .frames = 4096,
			       .router_port = 7800,
			       .src_mac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};
	const char *router_ip = "10.0.0.1";
	const char *src_ip = "10.0.0.2";
	const char *router_mac = "02:70:63:61:70:00"; /* net_pcap's first port */
	unsigned long port = c.router_port;
	int bad = 0;
	int ch;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'o':
			c.out = optarg;
			break;
		case 'p':
			c.partitions = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			c.events_per_frame = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'e':
			c.event_bytes = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'f':
			c.frames = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'i':
			router_ip = optarg;
			break;
		case 'P':
			port = strtoul(optarg, NULL, 10);
			break;
		case 'm':
			router_mac = optarg;
			break;
		case 's':
			src_ip = optarg;
			break;
		case 'S':
			bad |= bench_parse_mac(optarg, c.src_mac);
			break;
		default:
			return 2;
		}
	}
	bad |= bench_parse_mac(router_mac, c.router_mac);
	bad |= inet_pton(AF_INET, router_ip, &c.router_ip) == 1 ? 0 : -EINVAL;
	bad |= inet_pton(AF_INET, src_ip, &c.src_ip) == 1 ? 0 : -EINVAL;
	uint32_t frame =
		wire_prefix_bytes(5) + c.events_per_frame * wire_record_bytes(0, c.event_bytes);
	if (bad != 0 || c.out == NULL || c.partitions == 0 ||
	    c.partitions > BENCH_PCAP_PARTITIONS_MAX || c.events_per_frame == 0 ||
	    c.events_per_frame > SL_WIRE_RECORDS_MAX || c.frames == 0 || port == 0 ||
	    port > 65535 || c.event_bytes > SL_WIRE_FRAME_BYTES_MAX) {
		(void)fprintf(stderr, "sluice-bench pcap: bad arguments\n");
		return 2;
	}
	if (frame > SL_WIRE_FRAME_BYTES_DEFAULT) {
		(void)fprintf(stderr,
			      "sluice-bench pcap: %u events of %u bytes make a %u-byte frame, "
			      "above the router's default %u\n",
			      c.events_per_frame, c.event_bytes, frame,
			      SL_WIRE_FRAME_BYTES_DEFAULT);
		return 2;
	}
	c.router_port = (uint16_t)port;
	FILE *fp = fopen(c.out, "wb");
	if (fp == NULL) {
		(void)fprintf(stderr, "sluice-bench pcap: %s: %s\n", c.out, strerror(errno));
		return 1;
	}
	int err = bench_pcap_write(&c, fp);
	if (fclose(fp) != 0 && err == 0) {
		err = -errno;
	}
	if (err != 0) {
		(void)fprintf(stderr, "sluice-bench pcap: %s: %s\n", c.out, strerror(-err));
		return 1;
	}
	printf("{\"frames\":%u,\"partitions\":%u,\"events_per_frame\":%u,\"event_bytes\":%u,"
	       "\"frame_bytes\":%u}\n",
	       c.frames, c.partitions, c.events_per_frame, c.event_bytes,
	       frame + BENCH_L2L3L4_BYTES);
	return 0;
}

int main(int argc, char **argv)
{
	(void)signal(SIGINT, bench_on_signal);
	(void)signal(SIGTERM, bench_on_signal);
	if (argc >= 3 && strcmp(argv[1], "echo") == 0) {
		return bench_echo(argv[2]);
	}
	if (argc >= 2 && strcmp(argv[1], "load") == 0) {
		return bench_load_main(argc - 1, argv + 1);
	}
	if (argc >= 2 && strcmp(argv[1], "pcap") == 0) {
		return bench_pcap_main(argc - 1, argv + 1);
	}
	if (argc >= 2 && strcmp(argv[1], "durable") == 0) {
		return bench_durable_main(argc - 1, argv + 1);
	}
	(void)fprintf(stderr, "usage: sluice-bench echo IP:PORT\n"
			      "       sluice-bench load [--router IP:PORT] [--event-bytes N]\n"
			      "                         [--events-per-frame N] [--frame-bytes N]\n"
			      "                         [--window DATAGRAMS] [--seconds S]\n"
			      "       sluice-bench pcap --out FILE [--partitions N] [--frames M]\n"
			      "                         [--events-per-frame K] [--event-bytes B]\n"
			      "                         [--router-ip IP] [--router-port P]\n"
			      "                         [--router-mac MAC] [--src-ip IP]\n"
			      "                         [--src-mac MAC]\n"
			      "       sluice-bench durable [--router IP:PORT] [--event-bytes B]\n"
			      "                         [--events-per-frame K] [--partitions N]\n"
			      "                         [--window FRAMES] [--rate FRAMES_PER_S]\n"
			      "                         [--seconds S] [--warmup-s S] (--help)\n");
	return 2;
}
