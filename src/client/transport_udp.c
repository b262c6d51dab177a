/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The kernel UDP transport of libsluice: one connected, non-blocking socket per
 * producer (or per blocking request), sendmmsg and recvmmsg in bursts of CLIENT_BURST
 * (the batching DESIGN.md measured at 0.78 Mpps without loss), ppoll for waiting. The
 * loss hook used by tests sits here, below everything that counts datagrams.
 */
#include "client/client_int.h"

#include "core/assert.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Socket buffers asked for: a full window of acks or frames must not overflow them.
 * The kernel caps this at net.core.[rw]mem_max; a smaller buffer only costs drops. */
#define TRANSPORT_SOCKBUF_BYTES (4 << 20)

static const struct transport_ops transport_udp_ops;

int transport_udp_open(struct transport *t, const struct client_addr *addr, const void *ctx)
{
	int bufsz = TRANSPORT_SOCKBUF_BYTES;
	int rc;

	(void)ctx;
	memset(t, 0, sizeof(*t));
	t->fd = -1;
	t->rx_buf = malloc((size_t)CLIENT_BURST * CLIENT_RX_BYTES);
	if (t->rx_buf == NULL) {
		return -ENOMEM;
	}
	t->fd = socket(addr->ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->fd < 0) {
		rc = -errno;
		goto out_free_buf;
	}
	/* Best effort: a smaller buffer is not an error. */
	(void)setsockopt(t->fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	(void)setsockopt(t->fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	if (connect(t->fd, (const struct sockaddr *)&addr->ss, addr->len) != 0) {
		rc = -errno;
		goto out_close_fd;
	}
	for (unsigned i = 0; i < CLIENT_BURST; i++) {
		t->rx_iov[i].iov_base = t->rx_buf + (size_t)i * CLIENT_RX_BYTES;
		t->rx_iov[i].iov_len = CLIENT_RX_BYTES;
		t->rx_msgs[i].msg_hdr.msg_iov = &t->rx_iov[i];
		t->rx_msgs[i].msg_hdr.msg_iovlen = 1;
	}
	t->ops = &transport_udp_ops;
	return 0;

out_close_fd:
	close(t->fd);
	t->fd = -1;
out_free_buf:
	free(t->rx_buf);
	t->rx_buf = NULL;
	return rc;
}

static void udp_close(struct transport *t)
{
	if (t->fd >= 0) {
		close(t->fd);
	}
	t->fd = -1;
	free(t->rx_buf);
	t->rx_buf = NULL;
}

static int udp_send_burst(struct transport *t, const struct iovec *iov, unsigned n)
{
	unsigned m = 0;
	unsigned map[CLIENT_BURST];
	int rc;

	SL_ASSERT_HOT(n <= CLIENT_BURST);
	for (unsigned i = 0; i < n; i++) {
		if (transport_drop(t, t->tx_drop_permille)) {
			continue;
		}
		memset(&t->tx_msgs[m], 0, sizeof(t->tx_msgs[m]));
		/* sendmmsg does not write through msg_iov: the cast only drops const. */
		t->tx_msgs[m].msg_hdr.msg_iov = (struct iovec *)(uintptr_t)&iov[i];
		t->tx_msgs[m].msg_hdr.msg_iovlen = 1;
		map[m++] = i;
	}
	if (m == 0) {
		return (int)n;
	}
	do {
		rc = sendmmsg(t->fd, t->tx_msgs, m, MSG_DONTWAIT);
	} while (rc < 0 && errno == EINTR);
	if (rc < 0) {
		/* Datagrams the hook dropped before the first failure still count as sent. */
		return map[0] > 0 ? (int)map[0] : -errno;
	}
	/* Sent k of the m real ones: everything up to the next unsent real one is done. */
	return (unsigned)rc == m ? (int)n : (int)map[rc];
}

static int udp_recv_burst(struct transport *t)
{
	int rc;

	t->rx_kept = 0;
	do {
		rc = recvmmsg(t->fd, t->rx_msgs, CLIENT_BURST, MSG_DONTWAIT, NULL);
	} while (rc < 0 && errno == EINTR);
	if (rc < 0) {
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	}
	for (int i = 0; i < rc; i++) {
		if (transport_drop(t, t->rx_drop_permille)) {
			continue;
		}
		t->rx_data[t->rx_kept] = t->rx_iov[i].iov_base;
		t->rx_len[t->rx_kept] = t->rx_msgs[i].msg_len;
		t->rx_kept++;
	}
	return rc;
}

static int udp_wait(struct transport *t, uint64_t timeout_ns)
{
	struct pollfd pfd = {.fd = t->fd, .events = POLLIN};
	struct timespec ts = {
		.tv_sec = (time_t)(timeout_ns / 1000000000u),
		.tv_nsec = (long)(timeout_ns % 1000000000u),
	};
	int rc = ppoll(&pfd, 1, &ts, NULL);

	if (rc < 0) {
		return errno == EINTR ? 0 : -errno;
	}
	return rc > 0 ? 1 : 0;
}

static const struct transport_ops transport_udp_ops = {
	.send_burst = udp_send_burst,
	.recv_burst = udp_recv_burst,
	.wait = udp_wait,
	.close = udp_close,
};

void transport_set_loss(struct transport *t, unsigned tx_permille, unsigned rx_permille,
			uint64_t seed)
{
	t->tx_drop_permille = tx_permille > 1000 ? 1000 : tx_permille;
	t->rx_drop_permille = rx_permille > 1000 ? 1000 : rx_permille;
	/* xorshift64 must not start at zero. */
	t->rng = seed != 0 ? seed : 0x9e3779b97f4a7c15ull;
}
