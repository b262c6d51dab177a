/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sluice-bench-nats: the peer baseline for sluice's fan-out (bench/fanout.sh). A small
 * client of the NATS core text protocol over TCP (INFO, CONNECT, PUB, SUB, MSG, PING,
 * PONG, +OK, -ERR) drives a nats-server with one publisher thread and N subscriber
 * connections, one thread each, all subscribed to "bench.>" (optionally as one queue
 * group). Each message carries its send time (CLOCK_MONOTONIC ns) in its first 8 bytes,
 * so subscribers histogram produce -> deliver latency. At the end the publisher and
 * then every subscriber round-trip a PING, which proves every message the server
 * accepted has reached the subscribers, so lost = expected - delivered is exact.
 * Prints one JSON line.
 */
#include "fanout_common.h"

#include "core/clock.h"

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* nats-server's default max_payload; the INFO line tells the real one. */
#define NATS_EVENT_BYTES_MAX (1u << 20)
/* Publisher write batch and subscriber read buffer (plus room for one message). */
#define NATS_BATCH_BYTES (256u << 10)
#define NATS_READ_BYTES (256u << 10)
/* Room for a MSG line beside a full read buffer. */
#define NATS_LINE_BYTES 1024u
/* The publisher's read buffer: INFO (which lists cluster URLs) and control lines. */
#define NATS_CONTROL_BYTES (64u << 10)
/* A blocked reader wakes this often to look at the run's flags. */
#define NATS_RECV_TIMEOUT_US 20000
/* The publisher reads what the server sent it (PING, -ERR) at most this often. */
#define NATS_PUB_POLL_NS 50000000ull
/* Bound on the handshake and on each end-of-run PING round trip. */
#define NATS_HANDSHAKE_NS 5000000000ull
#define NATS_DRAIN_NS 10000000000ull
/* Longest -ERR text kept for the report. */
#define NATS_ERR_TEXT_BYTES 120u

struct nats_conf {
	const char *server; /* HOST:PORT */
	const char *group;  /* queue group, or NULL for fan-out */
	uint32_t subscribers;
	uint32_t event_bytes;
	double seconds;
	double warmup_s;
	uint64_t rate;		      /* messages/s, 0 = as fast as the server takes them */
	struct sockaddr_storage addr; /* --server, resolved */
	socklen_t addr_len;
};

/* One TCP connection to nats-server and what it has read but not parsed. */
struct nats_conn {
	int fd;
	char *buf;
	size_t cap;
	size_t len;
	uint64_t pongs;
	uint64_t err_lines;
	uint64_t max_payload; /* from INFO */
	char err_text[NATS_ERR_TEXT_BYTES + 1];
};

struct nats_run;

/* A subscriber; its thread is the only writer of everything but `thread`. */
struct nats_sub {
	_Alignas(64) _Atomic uint64_t delivered; /* read by main for the window */
	_Atomic uint64_t payload_bytes;
	struct nats_conn conn;
	const struct nats_run *run;
	uint64_t hist[FANOUT_HIST_BUCKETS];
	uint64_t samples;
	bool closed_early; /* the server closed the connection before the drain */
	bool drained;	   /* the end-of-run PONG came back */
	int rc;
	pthread_t thread;
};

struct nats_run {
	const struct nats_conf *conf;
	uint64_t start_ns;	  /* publisher's time zero: paced sends are due from here */
	uint64_t window_start_ns; /* after the warm-up */
	uint64_t window_end_ns;	  /* the publisher stops here */
	_Atomic uint64_t published;
	atomic_bool drain; /* publisher -> subscribers: the server has all messages */
	bool pub_drained;
	int pub_rc;
	struct nats_conn pub;
	struct nats_sub **subs;
};

static void nats_usage(FILE *out)
{
	(void)fprintf(
		out,
		"usage: sluice-bench-nats fanout --server HOST:PORT --subscribers N [options]\n"
		"  --group NAME         all subscribers join this queue group (default: none)\n"
		"  --event-bytes B      message payload bytes, >= 8 (default 64)\n"
		"  --seconds S          measured time (default 5)\n"
		"  --warmup-s W         unmeasured time first (default 1)\n"
		"  --rate R             messages/s, open loop (default 0: as fast as possible)\n");
}

/* A subject token: printable, no spaces, dots or wildcards. */
static bool nats_is_token(const char *s)
{
	if (*s == '\0' || strlen(s) > 64) {
		return false;
	}
	return strpbrk(s, " \t\r\n.*>") == NULL;
}

static int nats_parse_option(int opt, struct nats_conf *c)
{
	uint64_t v;

	switch (opt) {
	case 'S':
		c->server = optarg;
		return 0;
	case 'n':
		if (fanout_parse_u64(optarg, &v) != 0 || v == 0 || v > FANOUT_SUBSCRIBERS_MAX) {
			return -EINVAL;
		}
		c->subscribers = (uint32_t)v;
		return 0;
	case 'g':
		c->group = optarg;
		return nats_is_token(optarg) ? 0 : -EINVAL;
	case 'b':
		if (fanout_parse_u64(optarg, &v) != 0 || v < sizeof(uint64_t) ||
		    v > NATS_EVENT_BYTES_MAX) {
			return -EINVAL;
		}
		c->event_bytes = (uint32_t)v;
		return 0;
	case 's':
		return fanout_parse_seconds(optarg, &c->seconds);
	case 'w':
		return fanout_parse_seconds(optarg, &c->warmup_s);
	case 'r':
		return fanout_parse_u64(optarg, &c->rate);
	default:
		return -EINVAL;
	}
}

static int nats_parse(int argc, char **argv, struct nats_conf *c)
{
	static const struct option opts[] = {
		{"server", required_argument, NULL, 'S'},
		{"subscribers", required_argument, NULL, 'n'},
		{"group", required_argument, NULL, 'g'},
		{"event-bytes", required_argument, NULL, 'b'},
		{"seconds", required_argument, NULL, 's'},
		{"warmup-s", required_argument, NULL, 'w'},
		{"rate", required_argument, NULL, 'r'},
		{NULL, 0, NULL, 0},
	};
	int opt;

	*c = (struct nats_conf){.event_bytes = 64, .seconds = 5.0, .warmup_s = 1.0};
	if (argc < 2 || strcmp(argv[1], "fanout") != 0) {
		return -EINVAL;
	}
	optind = 2;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (nats_parse_option(opt, c) != 0) {
			return -EINVAL;
		}
	}
	const char *colon = c->server != NULL ? strrchr(c->server, ':') : NULL;
	if (optind != argc || colon == NULL || colon == c->server || colon[1] == '\0' ||
	    c->subscribers == 0 || c->seconds <= 0 || c->rate > 1000000000u) {
		return -EINVAL;
	}
	return 0;
}

/* Writes all of data. Returns 0 or -errno (the server closed: -EPIPE, -ECONNRESET). */
static int nats_send_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			return -errno;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads what is there into conn's buffer; flags are recv()'s (MSG_DONTWAIT: do not wait
 * out the receive timeout). Returns 0, -EAGAIN after the receive timeout with nothing
 * read, -ECONNRESET when the server closed the connection, or -errno. */
static int nats_recv(struct nats_conn *c, int flags)
{
	ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, flags);
	if (n > 0) {
		c->len += (size_t)n;
		return 0;
	}
	if (n == 0) {
		return -ECONNRESET;
	}
	return errno == EWOULDBLOCK || errno == EINTR ? -EAGAIN : -errno;
}

/* Is the protocol line op (upper case, with its trailing space if any) at the start of
 * line? Operation names are case-insensitive. */
static bool nats_op_is(const char *line, size_t len, const char *op)
{
	size_t n = strlen(op);
	return len >= n && strncasecmp(line, op, n) == 0;
}

/* The payload length: the last field of "MSG <subject> <sid> [reply-to] <#bytes>". */
static int nats_msg_bytes(const char *line, size_t len, uint64_t *out)
{
	size_t i = len;
	uint64_t v = 0, scale = 1;

	while (i > 0 && line[i - 1] >= '0' && line[i - 1] <= '9') {
		v += (uint64_t)(line[i - 1] - '0') * scale;
		scale *= 10;
		i--;
	}
	if (i == len || i == 0 || len - i > 9 || (line[i - 1] != ' ' && line[i - 1] != '\t')) {
		return -EPROTO;
	}
	*out = v;
	return 0;
}

/* Counts one delivered message; its first 8 bytes are the send time. */
static void nats_sub_count(struct nats_sub *s, const char *payload, uint64_t len, uint64_t now_ns)
{
	uint64_t sent_ns;

	if (len < sizeof(sent_ns)) {
		return;
	}
	memcpy(&sent_ns, payload, sizeof(sent_ns));
	if (sent_ns >= s->run->window_start_ns && sent_ns < s->run->window_end_ns) {
		s->hist[fanout_hist_index(now_ns > sent_ns ? now_ns - sent_ns : 0)]++;
		s->samples++;
	}
}

static void nats_note_err(struct nats_conn *c, const char *line, size_t len)
{
	if (c->err_lines++ != 0) {
		return;
	}
	len = len < NATS_ERR_TEXT_BYTES ? len : NATS_ERR_TEXT_BYTES;
	for (size_t i = 0; i < len; i++) {
		/* Kept for a JSON string: no quotes, backslashes or control characters. */
		char ch = line[i];
		if (ch == '"' || ch == '\\' || (unsigned char)ch < 0x20) {
			ch = '?';
		}
		c->err_text[i] = ch;
	}
	c->err_text[len] = '\0';
}

/* A control line (not MSG) of len bytes without its CRLF. Returns 0 or -errno. */
static int nats_control(struct nats_conn *c, const char *line, size_t len)
{
	if (nats_op_is(line, len, "PING")) {
		return nats_send_all(c->fd, "PONG\r\n", 6);
	}
	if (nats_op_is(line, len, "PONG")) {
		c->pongs++;
	} else if (nats_op_is(line, len, "-ERR")) {
		nats_note_err(c, line, len);
	} else if (!nats_op_is(line, len, "+OK") && !nats_op_is(line, len, "INFO")) {
		/* HMSG never comes: CONNECT does not ask for headers. */
		return -EPROTO;
	}
	return 0;
}

/*
 * Consumes every complete protocol message in c's buffer and keeps the partial tail
 * for the next read. MSG payloads are counted into s (NULL for the publisher, which
 * subscribes to nothing). Returns 0, -EPROTO on a line this client cannot parse,
 * -EMSGSIZE when one message outgrows the buffer, or a send error from a PONG.
 */
static int nats_consume(struct nats_conn *c, struct nats_sub *s, uint64_t now_ns)
{
	size_t pos = 0;
	uint64_t delivered = 0, bytes = 0;
	int rc = 0;

	while (rc == 0 && pos < c->len) {
		const char *line = c->buf + pos;
		const char *nl = memchr(line, '\n', c->len - pos);
		if (nl == NULL) {
			break;
		}
		size_t line_len = (size_t)(nl - line) + 1u;
		size_t text_len = line_len - 1u - (nl > line && nl[-1] == '\r');
		if (!nats_op_is(line, text_len, "MSG ")) {
			pos += line_len;
			rc = nats_control(c, line, text_len);
			continue;
		}
		uint64_t n;
		rc = nats_msg_bytes(line, text_len, &n);
		if (rc != 0 || c->len - pos < line_len + n + 2u) {
			break;
		}
		if (memcmp(nl + 1 + n, "\r\n", 2) != 0) {
			rc = -EPROTO;
			break;
		}
		if (s != NULL) {
			nats_sub_count(s, nl + 1, n, now_ns);
			delivered++;
			bytes += n;
		}
		pos += line_len + n + 2u;
	}
	if (s != NULL && delivered != 0) {
		/* Single writer: a relaxed store is enough for main's snapshots. */
		atomic_store_explicit(&s->delivered,
				      atomic_load_explicit(&s->delivered, memory_order_relaxed) +
					      delivered,
				      memory_order_relaxed);
		atomic_store_explicit(
			&s->payload_bytes,
			atomic_load_explicit(&s->payload_bytes, memory_order_relaxed) + bytes,
			memory_order_relaxed);
	}
	memmove(c->buf, c->buf + pos, c->len - pos);
	c->len -= pos;
	if (rc == 0 && c->len == c->cap) {
		rc = -EMSGSIZE;
	}
	return rc;
}

/* Reads and consumes until c, a connection subscribed to nothing, has seen `pongs`
 * PONGs. Returns 0, -ETIMEDOUT after timeout_ns, or the error of nats_recv() or
 * nats_consume(). */
static int nats_wait_pongs(struct nats_conn *c, uint64_t pongs, uint64_t timeout_ns)
{
	uint64_t deadline = clock_monotonic_ns() + timeout_ns;

	while (c->pongs < pongs) {
		if (clock_monotonic_ns() > deadline) {
			return -ETIMEDOUT;
		}
		int rc = nats_recv(c, 0);
		if (rc == -EAGAIN) {
			continue;
		}
		if (rc == 0) {
			rc = nats_consume(c, NULL, clock_monotonic_ns());
		}
		if (rc != 0) {
			return rc;
		}
	}
	return 0;
}

/* Resolves --server HOST:PORT into c->addr once, for every connection. Returns 0 or
 * -EHOSTUNREACH, having said why. */
static int nats_resolve(struct nats_conf *c)
{
	char host[256];
	const char *colon = strrchr(c->server, ':');
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res;

	size_t host_len = (size_t)(colon - c->server);
	if (host_len >= sizeof(host)) {
		(void)fprintf(stderr, "sluice-bench-nats: --server %s: host name too long\n",
			      c->server);
		return -EHOSTUNREACH;
	}
	memcpy(host, c->server, host_len);
	host[host_len] = '\0';
	int rc = getaddrinfo(host, colon + 1, &hints, &res);
	if (rc != 0) {
		(void)fprintf(stderr, "sluice-bench-nats: --server %s: %s\n", c->server,
			      gai_strerror(rc));
		return -EHOSTUNREACH;
	}
	memcpy(&c->addr, res->ai_addr, res->ai_addrlen);
	c->addr_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int nats_connect_fd(const struct nats_conf *c)
{
	int fd = socket(c->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return -errno;
	}
	if (connect(fd, (const struct sockaddr *)&c->addr, c->addr_len) != 0) {
		int rc = -errno;
		(void)close(fd);
		return rc;
	}
	return fd;
}

/* Reads INFO, the server's first line, and keeps max_payload. */
static int nats_read_info(struct nats_conn *c)
{
	uint64_t deadline = clock_monotonic_ns() + NATS_HANDSHAKE_NS;
	const char *nl;

	while ((nl = memchr(c->buf, '\n', c->len)) == NULL) {
		if (c->len == c->cap || clock_monotonic_ns() > deadline) {
			return -EPROTO;
		}
		int rc = nats_recv(c, 0);
		if (rc != 0 && rc != -EAGAIN) {
			return rc;
		}
	}
	if (!nats_op_is(c->buf, (size_t)(nl - c->buf), "INFO ")) {
		return -EPROTO;
	}
	c->max_payload = NATS_EVENT_BYTES_MAX;
	const char *mp = memmem(c->buf, (size_t)(nl - c->buf), "\"max_payload\":", 14);
	if (mp != NULL) {
		c->max_payload = strtoull(mp + 14, NULL, 10);
	}
	size_t used = (size_t)(nl - c->buf) + 1u;
	memmove(c->buf, c->buf + used, c->len - used);
	c->len -= used;
	return 0;
}

/*
 * Connects to the server, reads INFO, sends CONNECT, then `then` (a SUB or nothing)
 * and a PING, and waits for the PONG: once it is back the server has applied the SUB.
 * Allocates c's buffer of read_bytes. Returns 0 or -errno; -EACCES when the server
 * answered -ERR (its text is in c->err_text).
 */
static int nats_open(struct nats_conn *c, const struct nats_conf *conf, const char *name,
		     const char *then, size_t read_bytes)
{
	struct timeval tv = {.tv_sec = 0, .tv_usec = NATS_RECV_TIMEOUT_US};
	char hello[512];
	int one = 1;

	*c = (struct nats_conn){.fd = -1, .cap = read_bytes};
	c->buf = malloc(read_bytes);
	if (c->buf == NULL) {
		return -ENOMEM;
	}
	c->fd = nats_connect_fd(conf);
	if (c->fd < 0) {
		return c->fd;
	}
	/* Paced rows measure latency: no Nagle delay on small writes. */
	if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
	    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0) {
		return -errno;
	}
	int rc = nats_read_info(c);
	if (rc != 0) {
		return rc;
	}
	int len = snprintf(hello, sizeof(hello),
			   "CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"%s\","
			   "\"lang\":\"c\",\"version\":\"0.1.0\",\"protocol\":1}\r\n%sPING\r\n",
			   name, then);
	if (len < 0 || (size_t)len >= sizeof(hello)) {
		return -EINVAL;
	}
	rc = nats_send_all(c->fd, hello, (size_t)len);
	if (rc == 0) {
		rc = nats_wait_pongs(c, 1, NATS_HANDSHAKE_NS);
	}
	if (rc == 0 && c->err_lines != 0) {
		rc = -EACCES;
	}
	return rc;
}

static void nats_close(struct nats_conn *c)
{
	if (c->fd >= 0) {
		(void)close(c->fd);
	}
	free(c->buf);
}

/* Subscriber thread: consumes until the publisher is done, then round-trips a PING so
 * that everything the server accepted has been read before it stops. */
static void *nats_sub_main(void *arg)
{
	struct nats_sub *s = arg;
	struct nats_conn *c = &s->conn;
	uint64_t deadline = 0;

	for (;;) {
		if (deadline == 0 && atomic_load_explicit(&s->run->drain, memory_order_acquire)) {
			s->rc = nats_send_all(c->fd, "PING\r\n", 6);
			deadline = clock_monotonic_ns() + NATS_DRAIN_NS;
		}
		if (s->rc != 0 || c->pongs >= 2u) {
			break;
		}
		if (deadline != 0 && clock_monotonic_ns() > deadline) {
			break; /* reported as undrained: its backlog outlasted the bound */
		}
		int rc = nats_recv(c, 0);
		if (rc == 0) {
			rc = nats_consume(c, s, clock_monotonic_ns());
		}
		if (rc != 0 && rc != -EAGAIN) {
			s->rc = rc;
		}
	}
	s->drained = c->pongs >= 2u;
	/* nats-server closes a slow consumer's connection; no error reaches the client. */
	s->closed_early = s->rc == -ECONNRESET || s->rc == -EPIPE;
	if (s->closed_early) {
		s->rc = 0;
	}
	return NULL;
}

struct nats_frames {
	char *frame[FANOUT_SUBJECTS]; /* "PUB bench.k B\r\n" payload "\r\n" */
	size_t frame_len;
	size_t ts_offset; /* where the send time goes in each frame */
};

static int nats_frames_init(struct nats_frames *f, uint32_t event_bytes)
{
	char line[64];

	*f = (struct nats_frames){0};
	for (unsigned k = 0; k < FANOUT_SUBJECTS; k++) {
		int n = snprintf(line, sizeof(line), "PUB bench.%u %u\r\n", k, event_bytes);
		f->ts_offset = (size_t)n;
		f->frame_len = (size_t)n + event_bytes + 2u;
		f->frame[k] = malloc(f->frame_len);
		if (f->frame[k] == NULL) {
			return -ENOMEM;
		}
		memcpy(f->frame[k], line, (size_t)n);
		memset(f->frame[k] + n, 0x5a, event_bytes);
		memcpy(f->frame[k] + f->frame_len - 2u, "\r\n", 2);
	}
	return 0;
}

static void nats_frames_fini(struct nats_frames *f)
{
	for (unsigned k = 0; k < FANOUT_SUBJECTS; k++) {
		free(f->frame[k]);
	}
}

/* How many messages to send now, at most max, and the send time of the first; the next
 * ones follow at 1/rate intervals (open loop: a late message keeps its due time). */
static uint64_t nats_due(const struct nats_run *r, uint64_t sent, uint64_t max, uint64_t *first_ns)
{
	uint64_t now = clock_monotonic_ns();
	uint64_t rate = r->conf->rate;

	if (rate == 0) {
		*first_ns = now;
		return max;
	}
	uint64_t due = (uint64_t)((double)(now - r->start_ns) * (double)rate / 1e9) + 1u;
	if (due <= sent) {
		struct timespec ts;
		uint64_t next = r->start_ns + (uint64_t)((double)sent * 1e9 / (double)rate);
		ts.tv_sec = (time_t)(next / 1000000000u);
		ts.tv_nsec = (long)(next % 1000000000u);
		(void)clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		return 0;
	}
	*first_ns = r->start_ns + (uint64_t)((double)sent * 1e9 / (double)rate);
	return due - sent < max ? due - sent : max;
}

/* Sends until the window ends. Returns 0 or -errno. */
static int nats_publish(struct nats_run *r, const struct nats_frames *f, char *batch,
			uint64_t per_batch)
{
	double interval_ns = r->conf->rate != 0 ? 1e9 / (double)r->conf->rate : 0;
	uint64_t sent = 0, polled_ns = 0, first_ns = 0;

	while (clock_monotonic_ns() < r->window_end_ns) {
		uint64_t n = nats_due(r, sent, per_batch, &first_ns);
		size_t len = 0;
		for (uint64_t i = 0; i < n; i++) {
			uint64_t ts = first_ns + (uint64_t)((double)i * interval_ns);
			memcpy(batch + len, f->frame[(sent + i) % FANOUT_SUBJECTS], f->frame_len);
			memcpy(batch + len + f->ts_offset, &ts, sizeof(ts));
			len += f->frame_len;
		}
		int rc = nats_send_all(r->pub.fd, batch, len);
		if (rc != 0) {
			return rc;
		}
		sent += n;
		atomic_store_explicit(&r->published, sent, memory_order_relaxed);
		uint64_t now = clock_monotonic_ns();
		if (now - polled_ns >= NATS_PUB_POLL_NS) {
			/* Answer the server's PINGs and notice its -ERR lines. */
			polled_ns = now;
			rc = nats_recv(&r->pub, MSG_DONTWAIT);
			if (rc == 0) {
				rc = nats_consume(&r->pub, NULL, now);
			}
			if (rc != 0 && rc != -EAGAIN) {
				return rc;
			}
		}
	}
	return 0;
}

/* Publisher thread: publishes, then a PING; its PONG says the server has routed every
 * message, so the subscribers may drain. */
static void *nats_pub_main(void *arg)
{
	struct nats_run *r = arg;
	struct nats_frames f;
	char *batch = NULL;
	uint64_t per_batch = 0;

	/* Paced sends wake from clock_nanosleep on time, not 50 us late. */
	(void)prctl(PR_SET_TIMERSLACK, 1ul, 0ul, 0ul, 0ul);
	int rc = nats_frames_init(&f, r->conf->event_bytes);
	if (rc == 0) {
		per_batch = NATS_BATCH_BYTES / f.frame_len + 1u;
		batch = malloc(per_batch * f.frame_len);
		rc = batch == NULL ? -ENOMEM : 0;
	}
	if (rc == 0) {
		rc = nats_publish(r, &f, batch, per_batch);
	}
	if (rc == 0) {
		rc = nats_send_all(r->pub.fd, "PING\r\n", 6);
	}
	if (rc == 0) {
		rc = nats_wait_pongs(&r->pub, 2, NATS_DRAIN_NS);
		r->pub_drained = rc == 0;
		/* A server still routing after the bound is a result, reported as undrained. */
		rc = rc == -ETIMEDOUT ? 0 : rc;
	}
	r->pub_rc = rc;
	atomic_store_explicit(&r->drain, true, memory_order_release);
	free(batch);
	nats_frames_fini(&f);
	return NULL;
}

/* Per-subscriber delivered counts and payload bytes at one instant. */
static void nats_snapshot(const struct nats_run *r, uint64_t *delivered, uint64_t *bytes)
{
	for (uint32_t i = 0; i < r->conf->subscribers; i++) {
		delivered[i] = atomic_load_explicit(&r->subs[i]->delivered, memory_order_relaxed);
		bytes[i] = atomic_load_explicit(&r->subs[i]->payload_bytes, memory_order_relaxed);
	}
}

static int nats_open_subs(struct nats_run *r)
{
	const struct nats_conf *c = r->conf;
	size_t read_bytes = NATS_READ_BYTES + c->event_bytes + NATS_LINE_BYTES;
	char name[32], sub[160];

	for (uint32_t i = 0; i < c->subscribers; i++) {
		struct nats_sub *s = aligned_alloc(64, sizeof(*s));
		if (s == NULL) {
			return -ENOMEM;
		}
		memset(s, 0, sizeof(*s));
		s->conn.fd = -1;
		s->run = r;
		r->subs[i] = s;
		(void)snprintf(name, sizeof(name), "bench-sub-%u", i);
		(void)snprintf(sub, sizeof(sub), "SUB %s %s%s%u\r\n", FANOUT_PATTERN,
			       c->group != NULL ? c->group : "", c->group != NULL ? " " : "",
			       i + 1u);
		int rc = nats_open(&s->conn, c, name, sub, read_bytes);
		if (rc != 0) {
			(void)fprintf(stderr, "sluice-bench-nats: subscriber %u on %s: %s %s\n", i,
				      c->server, strerror(-rc), s->conn.err_text);
			return rc;
		}
	}
	return 0;
}

struct nats_result {
	double window_s;
	uint64_t published;
	uint64_t delivered;
	uint64_t payload_bytes;
	double sub_min_per_s;
	double sub_max_per_s;
	uint64_t hist[FANOUT_HIST_BUCKETS];
	uint64_t samples;
	uint64_t delivered_total;
	uint64_t err_lines;
	uint32_t closed_early;
	uint32_t undrained;
	const char *err_text;
};

static void nats_collect(const struct nats_run *r, const uint64_t *d0, const uint64_t *b0,
			 const uint64_t *d1, const uint64_t *b1, struct nats_result *out)
{
	out->sub_min_per_s = -1;
	out->undrained = !r->pub_drained;
	out->err_lines = r->pub.err_lines;
	out->err_text = r->pub.err_lines != 0 ? r->pub.err_text : "";
	for (uint32_t i = 0; i < r->conf->subscribers; i++) {
		const struct nats_sub *s = r->subs[i];
		double per_s = (double)(d1[i] - d0[i]) / out->window_s;
		out->delivered += d1[i] - d0[i];
		out->payload_bytes += b1[i] - b0[i];
		out->sub_min_per_s = out->sub_min_per_s < 0 || per_s < out->sub_min_per_s
					     ? per_s
					     : out->sub_min_per_s;
		out->sub_max_per_s = per_s > out->sub_max_per_s ? per_s : out->sub_max_per_s;
		for (size_t k = 0; k < FANOUT_HIST_BUCKETS; k++) {
			out->hist[k] += s->hist[k];
		}
		out->samples += s->samples;
		out->delivered_total += atomic_load(&s->delivered);
		out->closed_early += s->closed_early;
		out->undrained += !s->drained;
		if (s->conn.err_lines != 0 && out->err_lines == 0) {
			out->err_text = s->conn.err_text;
		}
		out->err_lines += s->conn.err_lines;
	}
}

static void nats_print(const struct nats_run *r, const struct nats_result *res)
{
	const struct nats_conf *c = r->conf;
	uint64_t published_total = atomic_load(&r->published);
	uint64_t expected = c->group != NULL ? published_total : published_total * c->subscribers;

	printf("{\"mode\":\"fanout\",\"server\":\"%s\",\"subscribers\":%u,\"group\":\"%s\","
	       "\"event_bytes\":%u,\"rate\":%llu,\"seconds\":%.3f,"
	       "\"published_per_s\":%.0f,\"delivered_per_s\":%.0f,"
	       "\"sub_min_delivered_per_s\":%.0f,\"sub_max_delivered_per_s\":%.0f,"
	       "\"delivered_mb_per_s\":%.1f,\"latency_samples\":%llu,\"p50_us\":%.1f,"
	       "\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,\"published_total\":%llu,"
	       "\"expected_total\":%llu,\"delivered_total\":%llu,\"lost\":%lld,"
	       "\"err_lines\":%llu,\"first_err\":\"%s\",\"closed_by_server\":%u,"
	       "\"undrained\":%u}\n",
	       c->server, c->subscribers, c->group != NULL ? c->group : "", c->event_bytes,
	       (unsigned long long)c->rate, res->window_s, (double)res->published / res->window_s,
	       (double)res->delivered / res->window_s, res->sub_min_per_s, res->sub_max_per_s,
	       (double)res->payload_bytes / res->window_s / 1e6, (unsigned long long)res->samples,
	       fanout_hist_quantile_us(res->hist, res->samples, 0.50),
	       fanout_hist_quantile_us(res->hist, res->samples, 0.99),
	       fanout_hist_quantile_us(res->hist, res->samples, 0.999),
	       fanout_hist_quantile_us(res->hist, res->samples, 1.0),
	       (unsigned long long)published_total, (unsigned long long)expected,
	       (unsigned long long)res->delivered_total,
	       (long long)(expected - res->delivered_total), (unsigned long long)res->err_lines,
	       res->err_text, res->closed_early, res->undrained);
}

/* Starts the threads, snapshots the window, joins. Returns 0 or -errno. */
static int nats_measure(struct nats_run *r, struct nats_result *res)
{
	size_t n = r->conf->subscribers;
	uint64_t *snap = calloc(4 * n, sizeof(*snap));
	pthread_t pub;
	uint32_t started = 0;
	int rc = snap == NULL ? -ENOMEM : 0;

	res->window_s = r->conf->seconds;
	r->start_ns = clock_monotonic_ns();
	r->window_start_ns = r->start_ns + (uint64_t)(r->conf->warmup_s * 1e9);
	r->window_end_ns = r->window_start_ns + (uint64_t)(r->conf->seconds * 1e9);
	for (; rc == 0 && started < n; started++) {
		rc = -pthread_create(&r->subs[started]->thread, NULL, nats_sub_main,
				     r->subs[started]);
	}
	started -= rc != 0;
	if (rc == 0) {
		rc = -pthread_create(&pub, NULL, nats_pub_main, r);
	}
	if (rc != 0) {
		/* Let the subscribers that did start find their way out. */
		atomic_store_explicit(&r->drain, true, memory_order_release);
	} else {
		fanout_sleep_until(r->window_start_ns);
		uint64_t published0 = atomic_load(&r->published);
		nats_snapshot(r, snap, snap + n);
		fanout_sleep_until(r->window_end_ns);
		nats_snapshot(r, snap + 2 * n, snap + 3 * n);
		res->window_s = (double)(clock_monotonic_ns() - r->window_start_ns) / 1e9;
		res->published = atomic_load(&r->published) - published0;
		(void)pthread_join(pub, NULL);
		rc = r->pub_rc;
	}
	for (uint32_t i = 0; i < started; i++) {
		(void)pthread_join(r->subs[i]->thread, NULL);
		rc = rc != 0 ? rc : r->subs[i]->rc;
	}
	if (snap != NULL) {
		nats_collect(r, snap, snap + n, snap + 2 * n, snap + 3 * n, res);
	}
	free(snap);
	return rc;
}

int main(int argc, char **argv)
{
	struct nats_conf c;
	struct nats_run r = {.conf = &c};
	struct nats_result *res = NULL;

	if (argc > 1 && strcmp(argv[1], "--help") == 0) {
		nats_usage(stdout);
		return 0;
	}
	if (nats_parse(argc, argv, &c) != 0) {
		nats_usage(stderr);
		return 2;
	}
	r.pub.fd = -1;
	r.subs = calloc(c.subscribers, sizeof(struct nats_sub *));
	res = calloc(1, sizeof(*res));
	int rc = r.subs == NULL || res == NULL ? -ENOMEM : nats_resolve(&c);
	if (rc == 0) {
		rc = nats_open_subs(&r);
	}
	if (rc == 0) {
		rc = nats_open(&r.pub, &c, "bench-pub", "", NATS_CONTROL_BYTES);
		if (rc != 0) {
			(void)fprintf(stderr, "sluice-bench-nats: publisher on %s: %s %s\n",
				      c.server, strerror(-rc), r.pub.err_text);
		}
	}
	if (rc == 0 && c.event_bytes > r.pub.max_payload) {
		(void)fprintf(stderr,
			      "sluice-bench-nats: --event-bytes %u exceeds the server's "
			      "max_payload %llu\n",
			      c.event_bytes, (unsigned long long)r.pub.max_payload);
		rc = -EMSGSIZE;
	}
	if (rc == 0) {
		rc = nats_measure(&r, res);
		if (rc != 0) {
			(void)fprintf(stderr, "sluice-bench-nats: run failed: %s %s\n",
				      strerror(-rc), res->err_text != NULL ? res->err_text : "");
		}
	}
	if (rc == 0) {
		nats_print(&r, res);
	}
	for (uint32_t i = 0; r.subs != NULL && i < c.subscribers && r.subs[i] != NULL; i++) {
		nats_close(&r.subs[i]->conn);
		free(r.subs[i]);
	}
	nats_close(&r.pub);
	free(r.subs);
	free(res);
	return rc == 0 ? 0 : 1;
}
