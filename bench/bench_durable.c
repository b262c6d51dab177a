/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sluice-bench durable: the producer side of the journal benchmark (bench/journal.sh).
 * One producer id sends PRODUCE frames asking acks=durable over one UDP socket, one
 * stream per partition with consecutive sequences, and times every frame until its
 * durable ACK. Without --rate the loop is closed: --window frames in flight, the
 * maximum rate. With --rate new frames are paced open loop and each is timed from its
 * scheduled send, so a stall is charged to every frame it delayed. NACKs busy, storage
 * and out of sequence are counted and the stream is resent from the refused sequence
 * after --retry-us. Prints one JSON line.
 */
#include "bench.h"

#include "core/clock.h"
#include "core/wire.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DURABLE_TOPIC "bench"
#define DURABLE_TOPIC_LEN 5u
#define DURABLE_PARTITIONS_MAX 4096u
/* The router's --dedupe-window cannot exceed this (SHARD_DEDUPE_WINDOW_MAX). */
#define DURABLE_STREAM_WINDOW_MAX 1024u
#define DURABLE_WINDOW_MAX (1u << 20)
#define DURABLE_RATE_MAX 1e8
#define DURABLE_SECONDS_MAX 86400.0
#define DURABLE_RETRY_US_MAX 10000000ull
#define DURABLE_TIMEOUT_MS_MAX 600000ull
/* Log-linear latency histogram in ns: exact below 2^SUB_BITS, then every power of two
 * split into 2^SUB_BITS buckets (at most 0.8% error), up to 2^64. */
#define DURABLE_HIST_SUB_BITS 7u
#define DURABLE_HIST_SUB (1u << DURABLE_HIST_SUB_BITS)
#define DURABLE_HIST_BUCKETS (DURABLE_HIST_SUB + (64u - DURABLE_HIST_SUB_BITS) * DURABLE_HIST_SUB)
/* How often unanswered frames are checked against --timeout-ms. */
#define DURABLE_SCAN_NS 1000000ull
/* Longest one wait for replies blocks (the loop re-checks its clocks after it). */
#define DURABLE_WAIT_NS_MAX 1000000ull

/*
 * One frame of a stream. The router answers every copy it receives, in the order it
 * received them (NACKs at once, durable ACKs after the fdatasync), so `copies` counts the
 * copies whose answer is still due: a NACK arriving while a newer copy is out answers an
 * older copy, and must not rewind the stream again.
 */
struct durable_slot {
	uint64_t t0_ns;	  /* latency origin: scheduled send (paced) or first send */
	uint64_t sent_ns; /* last transmission; 0: not sent yet */
	uint32_t copies;  /* transmissions not answered yet */
	bool acked;
};

/*
 * One stream (partition). Sequences [base, next) exist, at most stream_window of them;
 * [base, tx) have been transmitted since the last rewind; a NACK or a timeout rewinds
 * tx so the stream is resent in order (go-back-N: the router appends n only after n-1).
 */
struct durable_stream {
	struct durable_slot *slots; /* stream_window slots, sequence % stream_window */
	uint64_t base;		    /* lowest unacknowledged sequence */
	uint64_t tx;		    /* next sequence to transmit */
	uint64_t next;		    /* next sequence never created */
	uint64_t retry_ns;	    /* no transmission before this (after a NACK) */
};

/* What the JSON line reports; zeroed when the warm-up ends. */
struct durable_counts {
	uint64_t frames_sent; /* transmissions, retransmits included */
	uint64_t retransmits;
	uint64_t acked;				/* frames acknowledged at --acks, each once */
	uint64_t acks_duplicate;		/* of those, status DUPLICATE */
	uint64_t acks_stale;			/* ACKs of frames already acknowledged */
	uint64_t acks_other_level;		/* ACKs of another level: a router bug */
	uint64_t nacks[SL_NACK_REASON_MAX + 1]; /* by reason; [0]: unknown reason */
	uint64_t timeouts;			/* streams resent after --timeout-ms */
	uint64_t window_stalls; /* paced: frames the window held past their send time */
	uint64_t send_blocked;	/* sendmmsg calls that took fewer frames than offered */
	uint64_t foreign;	/* replies not for this producer, or undecodable */
	uint64_t lat_n;
	uint64_t lat_sum_ns;
	uint64_t lat_max_ns;
};

struct durable_bench {
	struct sockaddr_in router;
	uint32_t event_bytes;
	uint32_t events_per_frame;
	uint32_t partitions;
	uint32_t window;
	uint32_t stream_window;
	uint32_t frame_bytes; /* whole frame */
	uint32_t body_bytes;  /* records with their headers and padding */
	double rate;	      /* frames/s; 0: closed loop */
	double seconds;
	double warmup_s;
	uint64_t retry_ns;
	uint64_t timeout_ns;
	bool busy_poll;
	uint8_t ack_level; /* SL_ACKS_DURABLE; SL_ACKS_RECEIVED for the floor without I/O */
	uint64_t producer_id;
	uint32_t epoch;
	int fd;
	struct durable_stream *streams;
	uint64_t inflight;	/* sum over streams of tx - base */
	unsigned cursor;	/* next stream offered a transmission */
	uint64_t created;	/* frames created (paced: the schedule's index) */
	uint64_t stall_counted; /* paced: frames up to this index counted as stalled */
	uint64_t retry_wake_ns; /* earliest pending retry (a hint for the wait) */
	uint64_t start_ns;
	uint64_t measure_ns; /* end of the warm-up */
	uint64_t deadline_ns;
	struct durable_counts c;
	uint64_t hist[DURABLE_HIST_BUCKETS];
};

/* Keys of the nacks_* fields, by enum sl_nack_reason. */
static const char *const durable_nack_keys[SL_NACK_REASON_MAX + 1] = {
	[0] = "nack_unknown_reason",
	[SL_NACK_MALFORMED] = "nack_malformed",
	[SL_NACK_BAD_CRC] = "nack_bad_crc",
	[SL_NACK_UNSUPPORTED_VERSION] = "nack_unsupported_version",
	[SL_NACK_UNKNOWN_TOPIC] = "nack_unknown_topic",
	[SL_NACK_TOO_LARGE] = "nack_too_large",
	[SL_NACK_BUSY] = "nack_busy",
	[SL_NACK_STORAGE] = "nack_storage",
	[SL_NACK_UNAUTHORIZED] = "nack_unauthorized",
	[SL_NACK_OUT_OF_SEQUENCE] = "nack_out_of_sequence",
	[SL_NACK_FENCED] = "nack_fenced",
	[SL_NACK_UNSUPPORTED_TYPE] = "nack_unsupported_type",
	[SL_NACK_BAD_PATTERN] = "nack_bad_pattern",
	[SL_NACK_BAD_CREDIT] = "nack_bad_credit",
	[SL_NACK_BAD_GROUP] = "nack_bad_group",
	[SL_NACK_BAD_START] = "nack_bad_start",
	[SL_NACK_CONFLICT] = "nack_conflict",
	[SL_NACK_UNKNOWN_SUBSCRIPTION] = "nack_unknown_subscription",
	[SL_NACK_SUBSCRIPTIONS_FULL] = "nack_subscriptions_full",
	[SL_NACK_UNKNOWN_OFFSET] = "nack_unknown_offset",
};

static unsigned durable_hist_index(uint64_t v)
{
	if (v < DURABLE_HIST_SUB) {
		return (unsigned)v;
	}
	unsigned shift = 63u - (unsigned)__builtin_clzll(v) - DURABLE_HIST_SUB_BITS;
	return DURABLE_HIST_SUB + shift * DURABLE_HIST_SUB +
	       (unsigned)((v >> shift) - DURABLE_HIST_SUB);
}

/* The middle of bucket i's range of values. */
static uint64_t durable_hist_value(unsigned i)
{
	if (i < DURABLE_HIST_SUB) {
		return i;
	}
	unsigned shift = (i - DURABLE_HIST_SUB) / DURABLE_HIST_SUB;
	uint64_t low = (uint64_t)(DURABLE_HIST_SUB + (i - DURABLE_HIST_SUB) % DURABLE_HIST_SUB)
		       << shift;
	return low + ((1ull << shift) >> 1);
}

/* The q-quantile (0 < q <= 1) of the recorded latencies in ns, never above the maximum. */
static uint64_t durable_hist_quantile(const struct durable_bench *b, double q)
{
	uint64_t rank = (uint64_t)(q * (double)b->c.lat_n);

	if ((double)rank < q * (double)b->c.lat_n || rank == 0) {
		rank++;
	}
	uint64_t seen = 0;
	for (unsigned i = 0; i < DURABLE_HIST_BUCKETS; i++) {
		seen += b->hist[i];
		if (seen >= rank) {
			uint64_t v = durable_hist_value(i);
			return v < b->c.lat_max_ns ? v : b->c.lat_max_ns;
		}
	}
	return b->c.lat_max_ns;
}

static struct durable_slot *durable_slot(const struct durable_bench *b,
					 const struct durable_stream *s, uint64_t seq)
{
	return &s->slots[seq % b->stream_window];
}

/* Moves a stream's tx, keeping the window's count of frames in flight. */
static void durable_set_tx(struct durable_bench *b, struct durable_stream *s, uint64_t tx)
{
	b->inflight -= s->tx - s->base;
	s->tx = tx;
	b->inflight += s->tx - s->base;
}

/* Rewinds a stream to resend from seq (base <= seq < tx) once --retry-us passed. */
static void durable_rewind(struct durable_bench *b, struct durable_stream *s, uint64_t seq,
			   uint64_t now)
{
	durable_set_tx(b, s, seq);
	s->retry_ns = now + b->retry_ns;
	if (s->retry_ns < b->retry_wake_ns) {
		b->retry_wake_ns = s->retry_ns;
	}
}

/* Slides base past acknowledged frames; tx never stays below base. */
static void durable_advance(struct durable_bench *b, struct durable_stream *s)
{
	b->inflight -= s->tx - s->base;
	while (s->base < s->next && durable_slot(b, s, s->base)->acked) {
		s->base++;
	}
	if (s->tx < s->base) {
		s->tx = s->base;
	}
	b->inflight += s->tx - s->base;
}

/*
 * Chooses the sequence stream s transmits next, if any: a resend first, else a new
 * frame when `new_ok` and the stream's window has room. The global window is checked
 * by the caller. Sets *is_new when a frame was created.
 */
static bool durable_pick(struct durable_bench *b, struct durable_stream *s, bool new_ok,
			 uint64_t now, uint64_t *seq, bool *is_new)
{
	if (now < s->retry_ns) {
		return false;
	}
	while (s->tx < s->next && durable_slot(b, s, s->tx)->acked) {
		durable_set_tx(b, s, s->tx + 1);
	}
	*is_new = false;
	if (s->tx == s->next) {
		if (!new_ok || s->next - s->base >= b->stream_window) {
			return false;
		}
		struct durable_slot *slot = durable_slot(b, s, s->next);
		slot->t0_ns = b->rate > 0
				      ? b->start_ns + (uint64_t)((double)b->created * 1e9 / b->rate)
				      : now;
		slot->sent_ns = 0;
		slot->copies = 0;
		slot->acked = false;
		s->next++;
		b->created++;
		*is_new = true;
	}
	*seq = s->tx;
	durable_set_tx(b, s, s->tx + 1);
	return true;
}

static uint32_t durable_encode(const struct durable_bench *b, unsigned partition, uint64_t seq,
			       uint8_t *buf)
{
	static uint8_t value[BENCH_DGRAM_MAX];
	struct sl_wire_header h;
	struct wire_builder w;

	wire_header_init(&h, SL_WIRE_PRODUCE);
	h.producer_id = b->producer_id;
	h.producer_epoch = b->epoch;
	h.partition = partition;
	h.sequence = seq;
	h.ack_level = b->ack_level;
	h.flags = seq == 0 ? SL_WIRE_FLAG_STREAM_HEAD : 0;
	/* Sizes were checked against BENCH_DGRAM_MAX when the flags were parsed. */
	(void)wire_begin(&w, buf, BENCH_DGRAM_MAX, &h, DURABLE_TOPIC, DURABLE_TOPIC_LEN);
	for (uint32_t i = 0; i < b->events_per_frame; i++) {
		(void)wire_add_record(&w, NULL, 0, value, b->event_bytes, seq);
	}
	return wire_finish(&w);
}

/*
 * Offers every stream in turn one transmission until a burst is full, the window is
 * full or no stream can send; at most new_max new frames. Sends them with one
 * sendmmsg; frames the kernel did not take are resent later. Returns frames sent.
 */
static unsigned durable_send(struct durable_bench *b, uint64_t now, uint64_t new_max)
{
	static uint8_t tx[BENCH_BURST][BENCH_DGRAM_MAX];
	struct mmsghdr msgs[BENCH_BURST];
	struct iovec iovs[BENCH_BURST];
	unsigned part[BENCH_BURST];
	uint64_t seqs[BENCH_BURST];
	unsigned n = 0;
	unsigned idle = 0;

	while (n < BENCH_BURST && idle < b->partitions && b->inflight < b->window) {
		unsigned p = b->cursor;
		bool is_new;

		b->cursor = (b->cursor + 1) % b->partitions;
		if (!durable_pick(b, &b->streams[p], new_max > 0, now, &seqs[n], &is_new)) {
			idle++;
			continue;
		}
		idle = 0;
		new_max -= is_new;
		part[n] = p;
		iovs[n] = (struct iovec){.iov_base = tx[n],
					 .iov_len = durable_encode(b, p, seqs[n], tx[n])};
		msgs[n].msg_hdr = (struct msghdr){.msg_iov = &iovs[n], .msg_iovlen = 1};
		n++;
	}
	if (n == 0) {
		return 0;
	}
	int r = sendmmsg(b->fd, msgs, n, MSG_DONTWAIT);
	unsigned sent = r > 0 && (unsigned)r <= n ? (unsigned)r : 0;
	for (unsigned i = 0; i < sent; i++) {
		struct durable_slot *slot = durable_slot(b, &b->streams[part[i]], seqs[i]);
		b->c.retransmits += slot->sent_ns != 0;
		slot->sent_ns = now;
		slot->copies++;
	}
	b->c.frames_sent += sent;
	if (sent < n) {
		/* Sequences of one stream are in order in the burst: its first unsent one is
		 * where it resumes. */
		b->c.send_blocked++;
		for (unsigned i = sent; i < n; i++) {
			struct durable_stream *s = &b->streams[part[i]];
			if (seqs[i] < s->tx) {
				durable_set_tx(b, s, seqs[i]);
			}
		}
	}
	return sent;
}

static void durable_on_ack(struct durable_bench *b, struct durable_stream *s, uint64_t seq,
			   const struct sl_wire_ack *ack, uint64_t now)
{
	if (ack->ack_level != b->ack_level) {
		b->c.acks_other_level++;
		return;
	}
	if (seq < s->base || seq >= s->next) {
		b->c.acks_stale++;
		return;
	}
	struct durable_slot *slot = durable_slot(b, s, seq);
	slot->copies -= slot->copies > 0;
	if (slot->acked) {
		b->c.acks_stale++;
		return;
	}
	slot->acked = true;
	b->c.acked++;
	b->c.acks_duplicate += ack->status == SL_ACK_DUPLICATE;
	if (slot->t0_ns >= b->measure_ns) {
		uint64_t lat = now > slot->t0_ns ? now - slot->t0_ns : 0;
		b->hist[durable_hist_index(lat)]++;
		b->c.lat_n++;
		b->c.lat_sum_ns += lat;
		b->c.lat_max_ns = lat > b->c.lat_max_ns ? lat : b->c.lat_max_ns;
	}
	durable_advance(b, s);
}

/* Returns 0, or -EPROTO on a NACK that retrying cannot cure (a setup error). */
static int durable_on_nack(struct durable_bench *b, struct durable_stream *s, uint64_t seq,
			   const struct sl_wire_nack *nack, uint64_t now)
{
	unsigned reason = nack->reason <= SL_NACK_REASON_MAX ? nack->reason : 0;

	b->c.nacks[reason]++;
	if (reason != SL_NACK_BUSY && reason != SL_NACK_STORAGE &&
	    reason != SL_NACK_OUT_OF_SEQUENCE) {
		(void)fprintf(stderr,
			      "sluice-bench durable: partition %u sequence %llu NACKed \"%s\" "
			      "(detail %u): check --partitions and --event-bytes against the "
			      "router\n",
			      (unsigned)(s - b->streams), (unsigned long long)seq,
			      wire_nack_reason_name(nack->reason), nack->detail);
		return -EPROTO;
	}
	if (seq < s->base || seq >= s->next) {
		return 0; /* an old copy of a frame acknowledged since */
	}
	struct durable_slot *slot = durable_slot(b, s, seq);
	slot->copies -= slot->copies > 0;
	if (slot->copies > 0 || slot->acked) {
		return 0; /* an older copy: the newest one's answer decides */
	}
	uint64_t from = seq;
	if (reason == SL_NACK_OUT_OF_SEQUENCE && nack->expected >= s->base &&
	    nack->expected < seq) {
		/* The router waits for an earlier frame: resend from there, unless a copy of
		 * it is still out (its own answer will rewind the stream if needed). */
		if (durable_slot(b, s, nack->expected)->copies > 0) {
			return 0;
		}
		from = nack->expected;
	}
	/* from >= tx: the stream was rewound below it already. */
	if (from < s->tx && !durable_slot(b, s, from)->acked) {
		durable_rewind(b, s, from, now);
	}
	return 0;
}

/* Reads a burst of replies. Returns replies read (0..BENCH_BURST) or -EPROTO. */
static int durable_receive(struct durable_bench *b)
{
	static uint8_t rx[BENCH_BURST][BENCH_DGRAM_MAX];
	struct mmsghdr msgs[BENCH_BURST];
	struct iovec iovs[BENCH_BURST];

	for (int i = 0; i < BENCH_BURST; i++) {
		iovs[i] = (struct iovec){.iov_base = rx[i], .iov_len = BENCH_DGRAM_MAX};
		msgs[i].msg_hdr = (struct msghdr){.msg_iov = &iovs[i], .msg_iovlen = 1};
	}
	int got = recvmmsg(b->fd, msgs, BENCH_BURST, MSG_DONTWAIT, NULL);
	if (got <= 0) {
		return 0;
	}
	uint64_t now = clock_monotonic_ns();
	for (int i = 0; i < got; i++) {
		struct wire_frame f;
		if (wire_decode(rx[i], msgs[i].msg_len, BENCH_DGRAM_MAX, &f) != SL_WIRE_OK ||
		    f.hdr.producer_id != b->producer_id || f.hdr.producer_epoch != b->epoch ||
		    f.hdr.partition >= b->partitions) {
			b->c.foreign++;
			continue;
		}
		struct durable_stream *s = &b->streams[f.hdr.partition];
		if (f.hdr.type == SL_WIRE_ACK && f.body_len >= sizeof(struct sl_wire_ack)) {
			struct sl_wire_ack ack;
			wire_ack_read(f.body, &ack);
			durable_on_ack(b, s, f.hdr.sequence, &ack, now);
		} else if (f.hdr.type == SL_WIRE_NACK &&
			   f.body_len >= sizeof(struct sl_wire_nack)) {
			struct sl_wire_nack nack;
			wire_nack_read(f.body, &nack);
			if (durable_on_nack(b, s, f.hdr.sequence, &nack, now) != 0) {
				return -EPROTO;
			}
		} else {
			b->c.foreign++;
		}
	}
	return got;
}

/* Resends a stream from its oldest frame when that went unanswered for --timeout-ms
 * (a datagram or its reply lost: the router answers every frame it receives). */
static void durable_scan_timeouts(struct durable_bench *b, uint64_t now)
{
	for (unsigned p = 0; p < b->partitions; p++) {
		struct durable_stream *s = &b->streams[p];
		if (s->base == s->tx) {
			continue;
		}
		const struct durable_slot *slot = durable_slot(b, s, s->base);
		if (slot->sent_ns != 0 && now - slot->sent_ns > b->timeout_ns) {
			/* Presumed lost, with every later copy's answer. */
			for (uint64_t q = s->base; q < s->tx; q++) {
				durable_slot(b, s, q)->copies = 0;
			}
			b->c.timeouts++;
			durable_set_tx(b, s, s->base);
		}
	}
}

/* Frames the schedule has due at `now` (paced mode). */
static uint64_t durable_due(const struct durable_bench *b, uint64_t now)
{
	return (uint64_t)((double)(now - b->start_ns) * b->rate / 1e9) + 1;
}

/* Paced, after a send that did not fill a burst: frames due but not created were held
 * back by the windows. Counts each such frame once. */
static void durable_count_stalls(struct durable_bench *b, uint64_t now)
{
	uint64_t due = durable_due(b, now);
	uint64_t from = b->created > b->stall_counted ? b->created : b->stall_counted;

	if (due > from) {
		b->c.window_stalls += due - from;
		b->stall_counted = due;
	}
}

/* Blocks until a reply arrives or the next thing is due: a paced frame, a retry, the
 * end of the warm-up or of the run; at most DURABLE_WAIT_NS_MAX. */
static void durable_wait(struct durable_bench *b, uint64_t now)
{
	uint64_t wake = now + DURABLE_WAIT_NS_MAX;

	if (b->rate > 0) {
		uint64_t next = b->start_ns + (uint64_t)((double)b->created * 1e9 / b->rate);
		wake = next < wake ? next : wake;
	}
	if (b->retry_wake_ns > now && b->retry_wake_ns < wake) {
		wake = b->retry_wake_ns;
	} else if (b->retry_wake_ns <= now) {
		b->retry_wake_ns = UINT64_MAX;
	}
	if (b->measure_ns > now && b->measure_ns < wake) {
		wake = b->measure_ns;
	}
	wake = b->deadline_ns < wake ? b->deadline_ns : wake;
	if (wake <= now) {
		return;
	}
	struct pollfd pfd = {.fd = b->fd, .events = POLLIN};
	struct timespec ts = {.tv_sec = (time_t)((wake - now) / 1000000000u),
			      .tv_nsec = (long)((wake - now) % 1000000000u)};
	(void)ppoll(&pfd, 1, &ts, NULL);
}

static void durable_report(const struct durable_bench *b, uint64_t end_ns)
{
	double secs = (double)(end_ns - b->measure_ns) / 1e9;
	double fps = secs > 0 ? (double)b->c.acked / secs : 0;
	uint64_t nacks = 0;

	for (unsigned r = 0; r <= SL_NACK_REASON_MAX; r++) {
		nacks += b->c.nacks[r];
	}
	printf("{\"mode\":\"%s\",\"acks\":\"%s\",\"rate_target\":%.0f,\"seconds\":%.3f,\"warmup_"
	       "s\":%.3f,"
	       "\"partitions\":%u,\"window\":%u,\"stream_window\":%u,\"event_bytes\":%u,"
	       "\"events_per_frame\":%u,\"frame_bytes\":%u,\"body_bytes\":%u,",
	       b->rate > 0 ? "paced" : "closed",
	       b->ack_level == SL_ACKS_DURABLE ? "durable" : "received", b->rate, secs, b->warmup_s,
	       b->partitions, b->window, b->stream_window, b->event_bytes, b->events_per_frame,
	       b->frame_bytes, b->body_bytes);
	printf("\"frames_sent\":%llu,\"retransmits\":%llu,\"frames_acked\":%llu,"
	       "\"frames_per_s\":%.0f,\"events_per_s\":%.0f,\"payload_mb_per_s\":%.3f,"
	       "\"body_bytes_per_s\":%.0f,\"frame_bytes_per_s\":%.0f,",
	       (unsigned long long)b->c.frames_sent, (unsigned long long)b->c.retransmits,
	       (unsigned long long)b->c.acked, fps, fps * b->events_per_frame,
	       fps * b->events_per_frame * b->event_bytes / 1e6, fps * b->body_bytes,
	       fps * b->frame_bytes);
	printf("\"lat_samples\":%llu,\"lat_mean_us\":%.1f,\"lat_p50_us\":%.1f,"
	       "\"lat_p99_us\":%.1f,\"lat_p999_us\":%.1f,\"lat_max_us\":%.1f,",
	       (unsigned long long)b->c.lat_n,
	       b->c.lat_n ? (double)b->c.lat_sum_ns / (double)b->c.lat_n / 1e3 : 0.0,
	       b->c.lat_n ? (double)durable_hist_quantile(b, 0.50) / 1e3 : 0.0,
	       b->c.lat_n ? (double)durable_hist_quantile(b, 0.99) / 1e3 : 0.0,
	       b->c.lat_n ? (double)durable_hist_quantile(b, 0.999) / 1e3 : 0.0,
	       (double)b->c.lat_max_ns / 1e3);
	printf("\"nacks\":%llu,", (unsigned long long)nacks);
	for (unsigned r = 0; r <= SL_NACK_REASON_MAX; r++) {
		printf("\"%s\":%llu,", durable_nack_keys[r], (unsigned long long)b->c.nacks[r]);
	}
	printf("\"acks_duplicate\":%llu,\"acks_stale\":%llu,\"acks_other_level\":%llu,"
	       "\"timeouts\":%llu,\"window_stalls\":%llu,\"send_blocked\":%llu,"
	       "\"foreign_replies\":%llu,\"inflight_at_end\":%llu}\n",
	       (unsigned long long)b->c.acks_duplicate, (unsigned long long)b->c.acks_stale,
	       (unsigned long long)b->c.acks_other_level, (unsigned long long)b->c.timeouts,
	       (unsigned long long)b->c.window_stalls, (unsigned long long)b->c.send_blocked,
	       (unsigned long long)b->c.foreign, (unsigned long long)b->inflight);
	(void)fflush(stdout);
}

static int durable_run(struct durable_bench *b)
{
	bool measuring = b->warmup_s <= 0;
	uint64_t last_scan;
	uint64_t now;
	int err = 0;

	/* Wake-ups of the paced schedule and of ppoll() should not be rounded up by the
	 * default 50 us timer slack. */
	(void)prctl(PR_SET_TIMERSLACK, 1ul, 0ul, 0ul, 0ul);
	b->fd = bench_socket(8 << 20);
	if (b->fd < 0 ||
	    connect(b->fd, (const struct sockaddr *)&b->router, sizeof(b->router)) != 0) {
		(void)fprintf(stderr, "sluice-bench durable: socket: %s\n", strerror(errno));
		return 1;
	}
	now = clock_monotonic_ns();
	b->start_ns = now;
	b->measure_ns = now + (uint64_t)(b->warmup_s * 1e9);
	b->deadline_ns = b->measure_ns + (uint64_t)(b->seconds * 1e9);
	b->retry_wake_ns = UINT64_MAX;
	last_scan = now;
	while (now < b->deadline_ns && !bench_stop) {
		if (!measuring && now >= b->measure_ns) {
			memset(&b->c, 0, sizeof(b->c));
			memset(b->hist, 0, sizeof(b->hist));
			measuring = true;
		}
		uint64_t new_max = UINT64_MAX;
		if (b->rate > 0) {
			uint64_t due = durable_due(b, now);
			new_max = due > b->created ? due - b->created : 0;
		}
		unsigned sent = durable_send(b, now, new_max);
		if (b->rate > 0 && sent < BENCH_BURST) {
			durable_count_stalls(b, now);
		}
		int got = durable_receive(b);
		if (got < 0) {
			err = 1;
			break;
		}
		now = clock_monotonic_ns();
		if (now - last_scan > DURABLE_SCAN_NS) {
			durable_scan_timeouts(b, now);
			last_scan = now;
		}
		if (sent == 0 && got == 0 && !b->busy_poll) {
			durable_wait(b, now);
			now = clock_monotonic_ns();
		}
	}
	if (measuring) {
		durable_report(b, now < b->deadline_ns ? now : b->deadline_ns);
	}
	(void)close(b->fd);
	return err;
}

static void durable_usage(FILE *f)
{
	(void)fputs(
		"usage: sluice-bench durable [--router IP:PORT] [--event-bytes B]\n"
		"           [--events-per-frame K] [--partitions N] [--window FRAMES]\n"
		"           [--stream-window FRAMES] [--rate FRAMES_PER_S] [--seconds S]\n"
		"           [--warmup-s S] [--retry-us US] [--timeout-ms MS] [--busy-poll]\n"
		"           [--acks durable|received]\n"
		"Sends PRODUCE frames asking acks=durable to topic \"bench\", one stream per\n"
		"partition, and prints one JSON line: acked rates, ack latency percentiles,\n"
		"NACKs by reason, retransmits.\n"
		"\n"
		"  --router IP:PORT        router address (default 127.0.0.1:7800)\n"
		"  --event-bytes B         value bytes of each event (default 64)\n"
		"  --events-per-frame K    events in each frame (default 16)\n"
		"  --partitions N          partitions of topic bench used, one stream each\n"
		"                          (default 8, the router's default)\n"
		"  --window FRAMES         frames in flight at most, all streams (default 256)\n"
		"  --stream-window FRAMES  frames in flight per stream, at most the router's\n"
		"                          --dedupe-window (default 32, its default)\n"
		"  --rate FRAMES_PER_S     pace new frames open loop; latency counts from each\n"
		"                          frame's scheduled send (default: closed loop)\n"
		"  --seconds S             measured time (default 5)\n"
		"  --warmup-s S            unmeasured time before it (default 1)\n"
		"  --retry-us US           resend delay after NACK busy/storage (default 1000)\n"
		"  --timeout-ms MS         resend a frame unanswered this long (default 1000)\n"
		"  --busy-poll             spin instead of blocking in ppoll() while idle\n"
		"  --acks durable|received ack level asked (default durable; received is the\n"
		"                          floor: the same path without the journal's I/O)\n",
		f);
}

static int durable_u64(const char *arg, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;

	errno = 0;
	unsigned long long v = strtoull(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || arg[0] == '-' || v < min || v > max) {
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int durable_double(const char *arg, double min, double max, double *out)
{
	char *end;

	errno = 0;
	double v = strtod(arg, &end);
	if (errno != 0 || end == arg || *end != '\0' || !(v >= min && v <= max)) {
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* Parses one option into b; 0, -EINVAL on a bad value, 1 on --help. */
static int durable_parse_opt(struct durable_bench *b, int c, const char *arg)
{
	uint64_t v = 0;
	int err;

	switch (c) {
	case 'r':
		return bench_parse_addr(arg, &b->router);
	case 'e':
		err = durable_u64(arg, 0, SL_WIRE_FRAME_BYTES_MAX, &v);
		b->event_bytes = (uint32_t)v;
		return err;
	case 'n':
		err = durable_u64(arg, 1, SL_WIRE_RECORDS_MAX, &v);
		b->events_per_frame = (uint32_t)v;
		return err;
	case 'p':
		err = durable_u64(arg, 1, DURABLE_PARTITIONS_MAX, &v);
		b->partitions = (uint32_t)v;
		return err;
	case 'w':
		err = durable_u64(arg, 1, DURABLE_WINDOW_MAX, &v);
		b->window = (uint32_t)v;
		return err;
	case 'W':
		err = durable_u64(arg, 1, DURABLE_STREAM_WINDOW_MAX, &v);
		b->stream_window = (uint32_t)v;
		return err;
	case 'R':
		return durable_double(arg, 0, DURABLE_RATE_MAX, &b->rate);
	case 's':
		return durable_double(arg, 1e-3, DURABLE_SECONDS_MAX, &b->seconds);
	case 'u':
		return durable_double(arg, 0, DURABLE_SECONDS_MAX, &b->warmup_s);
	case 'y':
		err = durable_u64(arg, 0, DURABLE_RETRY_US_MAX, &v);
		b->retry_ns = v * 1000u;
		return err;
	case 't':
		err = durable_u64(arg, 1, DURABLE_TIMEOUT_MS_MAX, &v);
		b->timeout_ns = v * 1000000u;
		return err;
	case 'b':
		b->busy_poll = true;
		return 0;
	case 'a':
		if (strcmp(arg, "durable") == 0 || strcmp(arg, "received") == 0) {
			b->ack_level = arg[0] == 'd' ? SL_ACKS_DURABLE : SL_ACKS_RECEIVED;
			return 0;
		}
		return -EINVAL;
	case 'h':
		return 1;
	default:
		return -EINVAL;
	}
}

int bench_durable_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"router", required_argument, NULL, 'r'},
		{"event-bytes", required_argument, NULL, 'e'},
		{"events-per-frame", required_argument, NULL, 'n'},
		{"partitions", required_argument, NULL, 'p'},
		{"window", required_argument, NULL, 'w'},
		{"stream-window", required_argument, NULL, 'W'},
		{"rate", required_argument, NULL, 'R'},
		{"seconds", required_argument, NULL, 's'},
		{"warmup-s", required_argument, NULL, 'u'},
		{"retry-us", required_argument, NULL, 'y'},
		{"timeout-ms", required_argument, NULL, 't'},
		{"busy-poll", no_argument, NULL, 'b'},
		{"acks", required_argument, NULL, 'a'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static struct durable_bench b = {.event_bytes = 64,
					 .events_per_frame = 16,
					 .partitions = 8,
					 .window = 256,
					 .stream_window = 32,
					 .seconds = 5,
					 .warmup_s = 1,
					 .retry_ns = 1000000u,
					 .timeout_ns = 1000000000u,
					 .ack_level = SL_ACKS_DURABLE,
					 .epoch = 1};
	int c;

	(void)bench_parse_addr("127.0.0.1:7800", &b.router);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int err = durable_parse_opt(&b, c, optarg);
		if (err == 1) {
			durable_usage(stdout);
			return 0;
		}
		if (err != 0) {
			if (optarg != NULL && c != '?') {
				(void)fprintf(stderr, "sluice-bench durable: bad value '%s'\n",
					      optarg);
			}
			durable_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		(void)fprintf(stderr, "sluice-bench durable: unexpected argument '%s'\n",
			      argv[optind]);
		durable_usage(stderr);
		return 2;
	}
	b.body_bytes = b.events_per_frame * wire_record_bytes(0, b.event_bytes);
	b.frame_bytes = wire_prefix_bytes(DURABLE_TOPIC_LEN) + b.body_bytes;
	if (b.frame_bytes > SL_WIRE_FRAME_BYTES_MAX) {
		(void)fprintf(stderr,
			      "sluice-bench durable: %u events of %u bytes make a %u-byte frame, "
			      "above %u\n",
			      b.events_per_frame, b.event_bytes, b.frame_bytes,
			      SL_WIRE_FRAME_BYTES_MAX);
		durable_usage(stderr);
		return 2;
	}
	b.streams = calloc(b.partitions, sizeof(*b.streams));
	struct durable_slot *slots = calloc((size_t)b.partitions * b.stream_window, sizeof(*slots));
	if (b.streams == NULL || slots == NULL ||
	    getrandom(&b.producer_id, sizeof(b.producer_id), 0) != sizeof(b.producer_id)) {
		(void)fprintf(stderr, "sluice-bench durable: %s\n", strerror(errno));
		free(slots);
		free(b.streams);
		return 1;
	}
	for (unsigned p = 0; p < b.partitions; p++) {
		b.streams[p].slots = &slots[(size_t)p * b.stream_window];
	}
	int rc = durable_run(&b);
	free(slots);
	free(b.streams);
	return rc;
}
