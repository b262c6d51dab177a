/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sluice-bench: load generator and baselines. `echo` is the kernel-UDP ceiling: a
 * recvmmsg/sendmmsg loop that returns every datagram, with no protocol work. `load`
 * sends pre-encoded, valid PRODUCE frames with a bounded window of datagrams in flight
 * and counts the replies, so the same generator measures the echo baseline and the
 * router (whose replies are ACKs). Results are one JSON line for bench/ scripts.
 */
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

#define BENCH_BURST 64
#define BENCH_DGRAM_MAX 9216
#define BENCH_STREAMS 8

static volatile sig_atomic_t bench_stop;

static void bench_on_signal(int sig)
{
	(void)sig;
	bench_stop = 1;
}

static int bench_parse_addr(const char *s, struct sockaddr_in *out)
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

static int bench_socket(int rcvbuf)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	if (fd >= 0) {
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &rcvbuf, sizeof(rcvbuf));
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
	(void)fprintf(stderr, "usage: sluice-bench echo IP:PORT\n"
			      "       sluice-bench load [--router IP:PORT] [--event-bytes N]\n"
			      "                         [--events-per-frame N] [--frame-bytes N]\n"
			      "                         [--window DATAGRAMS] [--seconds S]\n");
	return 2;
}
