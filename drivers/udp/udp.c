/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Kernel UDP sockets as a netdev. Each queue keeps a stash of mbufs allocated ahead from
 * its pool so that an empty poll costs one recvmmsg() and no allocation; received
 * datagrams are handed up in the mbufs they landed in, with the sender stored as the
 * mbuf's netdev_peer. Per-queue state is touched only by the queue's shard.
 */
#include "drivers/udp/netdev_udp.h"

#include "core/assert.h"
#include "core/log.h"

#include <rte_malloc.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Room for one SO_RXQ_OVFL control message per received datagram. */
#define UDP_CTRL_BYTES CMSG_SPACE(sizeof(uint32_t))

/* One queue: written by its shard only. */
struct udp_queue {
	int fd;
	uint16_t stash_count;
	uint32_t ovfl_seen;    /* the socket's drop total in the last SO_RXQ_OVFL message */
	uint64_t kernel_drops; /* datagrams the kernel dropped, socket buffer full; read
				  * by any thread (relaxed) */
	uint8_t (*ctrl)[UDP_CTRL_BYTES]; /* [burst_max] control buffers for recvmmsg */
	uint32_t rx_room; /* bytes offered to recvmmsg per datagram: frame limit + 8 */
	struct rte_mempool *pool;
	struct rte_mbuf **stash;   /* [burst_max] mbufs ready to receive into */
	struct mmsghdr *msgs;	   /* [burst_max], shared by RX and TX (never both at once) */
	struct iovec *iov;	   /* [burst_max * NETDEV_TX_SEGS_MAX] */
	struct sockaddr_in *addrs; /* [burst_max] */
} __rte_cache_aligned;

struct udp_dev {
	struct netdev nd; /* first: netdev pointers are udp_dev pointers */
	uint16_t burst_max;
	struct udp_queue *q; /* [nd.queues] */
};

static struct udp_dev *udp_dev_of(struct netdev *nd)
{
	return (struct udp_dev *)nd;
}

/* Tops the stash up to n mbufs; returns how many it holds (fewer when the pool is dry). */
static uint16_t udp_stash_fill(struct udp_queue *q, uint16_t n)
{
	if (q->stash_count >= n) {
		return n;
	}
	unsigned need = (unsigned)n - q->stash_count;
	if (rte_pktmbuf_alloc_bulk(q->pool, q->stash + q->stash_count, need) == 0) {
		q->stash_count = n;
		return n;
	}
	/* The bulk call is all or nothing: take what is left one by one. */
	while (q->stash_count < n) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(q->pool);
		if (m == NULL) {
			break;
		}
		q->stash[q->stash_count++] = m;
	}
	return q->stash_count;
}

/* The kernel's drop total rides on each datagram it queued after a drop (SO_RXQ_OVFL):
 * the newest one tells how many were dropped since the last we saw. */
static void udp_note_drops(struct udp_queue *q, struct msghdr *h)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c != NULL; c = CMSG_NXTHDR(h, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
			uint32_t total;
			memcpy(&total, CMSG_DATA(c), sizeof(total));
			__atomic_store_n(&q->kernel_drops,
					 q->kernel_drops + (uint32_t)(total - q->ovfl_seen),
					 __ATOMIC_RELAXED);
			q->ovfl_seen = total;
		}
	}
}

static uint16_t udp_rx_burst(struct netdev *nd, uint16_t queue, struct rte_mbuf **mbufs, uint16_t n)
{
	struct udp_dev *u = udp_dev_of(nd);
	struct udp_queue *q = &u->q[queue];

	SL_ASSERT_HOT(queue < nd->queues);
	if (n > u->burst_max) {
		n = u->burst_max;
	}
	n = udp_stash_fill(q, n);
	if (n == 0) {
		return 0; /* pool exhausted: datagrams wait in the socket buffer */
	}
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = q->stash[i];
		q->iov[i].iov_base = rte_pktmbuf_mtod(m, void *);
		q->iov[i].iov_len = q->rx_room;
		q->msgs[i].msg_hdr = (struct msghdr){
			.msg_name = &q->addrs[i],
			.msg_namelen = sizeof(q->addrs[i]),
			.msg_iov = &q->iov[i],
			.msg_iovlen = 1,
			.msg_control = q->ctrl[i],
			.msg_controllen = UDP_CTRL_BYTES,
		};
		q->msgs[i].msg_len = 0;
	}
	int r = recvmmsg(q->fd, q->msgs, n, MSG_DONTWAIT, NULL);
	if (r <= 0) {
		return 0; /* EAGAIN: nothing waiting; other errors are transient on UDP */
	}
	udp_note_drops(q, &q->msgs[r - 1].msg_hdr);
	for (int i = 0; i < r; i++) {
		struct rte_mbuf *m = q->stash[i];
		uint32_t len = q->msgs[i].msg_len;
		struct netdev_peer *peer = netdev_mbuf_peer(m);

		/* A datagram cut short is longer than the frame limit: keep a length that
		 * says so, and the decoder counts it as too large. */
		if ((q->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0) {
			len = q->rx_room;
		}
		m->data_len = (uint16_t)len;
		m->pkt_len = len;
		memset(peer, 0, sizeof(*peer));
		peer->ip4 = q->addrs[i].sin_addr.s_addr;
		peer->port = q->addrs[i].sin_port;
		mbufs[i] = m;
	}
	q->stash_count = (uint16_t)(q->stash_count - r);
	memmove(q->stash, q->stash + r, q->stash_count * sizeof(q->stash[0]));
	return (uint16_t)r;
}

static uint16_t udp_tx_burst(struct netdev *nd, uint16_t queue, struct rte_mbuf **mbufs, uint16_t n)
{
	struct udp_dev *u = udp_dev_of(nd);
	struct udp_queue *q = &u->q[queue];
	uint16_t done = 0;

	SL_ASSERT_HOT(queue < nd->queues);
	if (n > u->burst_max) {
		n = u->burst_max;
	}
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = mbufs[i];
		const struct netdev_peer *peer = netdev_mbuf_peer(m);

		SL_ASSERT_HOT(m->nb_segs <= NETDEV_TX_SEGS_MAX);
		q->addrs[i] = (struct sockaddr_in){
			.sin_family = AF_INET,
			.sin_port = peer->port,
			.sin_addr.s_addr = peer->ip4,
		};
		/* A DELIVER is a head of its own chained to the batch's shared records:
		 * one iovec per segment, gathered by the kernel into one datagram. */
		struct iovec *iov = &q->iov[(unsigned)i * NETDEV_TX_SEGS_MAX];
		unsigned segs = 0;
		for (struct rte_mbuf *seg = m; seg != NULL; seg = seg->next) {
			iov[segs].iov_base = rte_pktmbuf_mtod(seg, void *);
			iov[segs].iov_len = seg->data_len;
			segs++;
		}
		q->msgs[i].msg_hdr = (struct msghdr){
			.msg_name = &q->addrs[i],
			.msg_namelen = sizeof(q->addrs[i]),
			.msg_iov = iov,
			.msg_iovlen = segs,
		};
	}
	while (done < n) {
		int r = sendmmsg(q->fd, q->msgs + done, (unsigned)(n - done), MSG_DONTWAIT);
		if (r <= 0) {
			if (r < 0 && errno == EINTR) {
				continue;
			}
			/* Socket buffer full, or an error on datagram `done`: the burst ends
			 * here and the caller drops and counts the rest. */
			break;
		}
		done = (uint16_t)(done + r);
	}
	/* The kernel copied the payload: the mbufs are ours to free. */
	rte_pktmbuf_free_bulk(mbufs, done);
	return done;
}

static int udp_wait(struct netdev *nd, uint16_t queue, uint32_t timeout_us)
{
	struct udp_dev *u = udp_dev_of(nd);
	struct pollfd pfd = {.fd = u->q[queue].fd, .events = POLLIN};
	struct timespec ts = {
		.tv_sec = timeout_us / 1000000u,
		.tv_nsec = (long)(timeout_us % 1000000u) * 1000,
	};

	if (ppoll(&pfd, 1, &ts, NULL) < 0) {
		return errno == EINTR ? 0 : -errno;
	}
	return 0;
}

static void udp_queue_fini(struct udp_queue *q)
{
	if (q->fd >= 0) {
		(void)close(q->fd);
		q->fd = -1;
	}
	if (q->stash != NULL && q->stash_count > 0) {
		rte_pktmbuf_free_bulk(q->stash, q->stash_count);
		q->stash_count = 0;
	}
	rte_free(q->stash);
	rte_free(q->msgs);
	rte_free(q->iov);
	rte_free(q->addrs);
	rte_free(q->ctrl);
}

static void udp_close(struct netdev *nd)
{
	struct udp_dev *u = udp_dev_of(nd);

	for (uint16_t i = 0; i < nd->queues; i++) {
		udp_queue_fini(&u->q[i]);
	}
	rte_free(u->q);
	rte_free(u);
}

/* The socket's drops are what a NIC's imissed is to a DPDK port, but per queue. */
static void udp_counters(const struct netdev *nd, uint16_t queue, uint64_t *values)
{
	const struct udp_dev *u = (const struct udp_dev *)nd;

	memset(values, 0, NETDEV_STAT_COUNT * sizeof(*values));
	values[NETDEV_STAT_PORT_IMISSED] =
		__atomic_load_n(&u->q[queue].kernel_drops, __ATOMIC_RELAXED);
}

static const struct netdev_ops udp_ops = {
	.rx_burst = udp_rx_burst,
	.tx_burst = udp_tx_burst,
	.counters = udp_counters,
	.flush = NULL, /* tx_burst sends at once: the kernel does the buffering */
	.wait = udp_wait,
	.close = udp_close,
};

/* Sets one socket buffer size; returns the size the kernel granted (0 if unknown). */
static int udp_set_buffer(int fd, int opt_force, int opt, uint32_t bytes)
{
	int want = (int)bytes;
	int got = 0;
	socklen_t len = sizeof(got);

	/* The FORCE variant ignores net.core.[rw]mem_max but needs CAP_NET_ADMIN. */
	if (setsockopt(fd, SOL_SOCKET, opt_force, &want, sizeof(want)) != 0 &&
	    setsockopt(fd, SOL_SOCKET, opt, &want, sizeof(want)) != 0) {
		return 0;
	}
	if (getsockopt(fd, SOL_SOCKET, opt, &got, &len) != 0) {
		return 0;
	}
	return got / 2; /* Linux reports twice the size asked for (bookkeeping overhead) */
}

/* Fails with -EADDRINUSE when any socket already holds the address: SO_REUSEPORT alone
 * would let a second sluiced of the same user silently share the port. */
static int udp_probe_address(const struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc = 0;

	if (fd < 0) {
		return -errno;
	}
	if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) != 0) {
		rc = -errno;
	}
	(void)close(fd);
	return rc;
}

static int udp_socket_open(const struct netdev_udp_conf *conf, const struct sockaddr_in *sa,
			   bool warn_buffers, int *out)
{
	int one = 1;
	int rc;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		return -errno;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
		rc = -errno;
		goto out_close_fd;
	}
	int rcv = udp_set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, conf->socket_buffer_bytes);
	int snd = udp_set_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, conf->socket_buffer_bytes);
	if (warn_buffers && ((uint32_t)rcv < conf->socket_buffer_bytes ||
			     (uint32_t)snd < conf->socket_buffer_bytes)) {
		sl_log(SL_LOG_WARNING, "udp",
		       "asked for %u-byte socket buffers, the kernel granted %d (receive) and "
		       "%d (send): raise net.core.rmem_max and net.core.wmem_max, or run with "
		       "CAP_NET_ADMIN",
		       conf->socket_buffer_bytes, rcv, snd);
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one)) != 0) {
		rc = -errno;
		goto out_close_fd;
	}
	if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) != 0) {
		rc = -errno;
		goto out_close_fd;
	}
	*out = fd;
	return 0;

out_close_fd:
	(void)close(fd);
	return rc;
}

static int udp_queue_init(struct udp_queue *q, const struct netdev_udp_conf *conf,
			  const struct sockaddr_in *sa, uint16_t index)
{
	struct rte_mempool *mp = conf->pools[index];
	int socket = mp->socket_id;
	uint16_t n = conf->burst_max;
	int rc;

	q->fd = -1;
	q->pool = mp;
	q->rx_room = conf->frame_bytes_max + 8;
	if (q->rx_room > netdev_pool_data_bytes(conf->frame_bytes_max) ||
	    rte_pktmbuf_data_room_size(mp) < RTE_PKTMBUF_HEADROOM + q->rx_room) {
		return -EINVAL; /* pool not made by netdev_pool_create for this limit */
	}
	q->stash = rte_zmalloc_socket("udp_stash", n * sizeof(*q->stash), 0, socket);
	q->msgs = rte_zmalloc_socket("udp_msgs", n * sizeof(*q->msgs), 0, socket);
	q->iov = rte_zmalloc_socket("udp_iov", n * NETDEV_TX_SEGS_MAX * sizeof(*q->iov), 0, socket);
	q->addrs = rte_zmalloc_socket("udp_addrs", n * sizeof(*q->addrs), 0, socket);
	q->ctrl = rte_zmalloc_socket("udp_ctrl", n * sizeof(*q->ctrl), 0, socket);
	if (q->stash == NULL || q->msgs == NULL || q->iov == NULL || q->addrs == NULL ||
	    q->ctrl == NULL) {
		return -ENOMEM; /* the caller's udp_queue_fini frees what was allocated */
	}
	rc = udp_socket_open(conf, sa, index == 0, &q->fd);
	if (rc != 0) {
		return rc;
	}
	return 0;
}

int netdev_udp_open(const struct netdev_udp_conf *conf, struct netdev **out)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET,
		.sin_port = conf->port,
		.sin_addr.s_addr = conf->ip4,
	};
	uint16_t opened = 0;
	int rc;

	if (conf->queues == 0 || conf->port == 0 || conf->burst_max == 0 ||
	    conf->burst_max > NETDEV_UDP_BURST_MAX || conf->pools == NULL ||
	    conf->socket_buffer_bytes > INT32_MAX / 2) {
		return -EINVAL;
	}
	rc = udp_probe_address(&sa);
	if (rc != 0) {
		return rc;
	}
	struct udp_dev *u = rte_zmalloc_socket("udp_dev", sizeof(*u), RTE_CACHE_LINE_SIZE,
					       conf->pools[0]->socket_id);
	if (u == NULL) {
		return -ENOMEM;
	}
	u->nd.ops = &udp_ops;
	u->nd.driver = "udp";
	u->nd.queues = conf->queues;
	u->burst_max = conf->burst_max;
	u->q = rte_zmalloc_socket("udp_queues", conf->queues * sizeof(*u->q), RTE_CACHE_LINE_SIZE,
				  conf->pools[0]->socket_id);
	if (u->q == NULL) {
		rc = -ENOMEM;
		goto out_free_dev;
	}
	for (opened = 0; opened < conf->queues; opened++) {
		rc = udp_queue_init(&u->q[opened], conf, &sa, opened);
		if (rc != 0) {
			udp_queue_fini(&u->q[opened]);
			goto out_fini_queues;
		}
	}
	*out = &u->nd;
	return 0;

out_fini_queues:
	while (opened > 0) {
		udp_queue_fini(&u->q[--opened]);
	}
	rte_free(u->q);
out_free_dev:
	rte_free(u);
	return rc;
}
