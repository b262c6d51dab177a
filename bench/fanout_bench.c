/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sluice-bench-fanout: sluice's side of bench/fanout.sh, the same measurement
 * sluice-bench-nats makes of NATS core. Producer threads (one libsluice producer each)
 * publish events to topics bench.0 .. bench.7 while N subscriber threads (one libsluice
 * consumer each) take them through pattern "bench.>", every one of them or, with
 * --group, as one consumer group. Each event's first 8 bytes are its send time
 * (CLOCK_MONOTONIC ns; producers and subscribers share the machine's clock), so
 * subscribers histogram produce -> deliver latency. After the window the producers
 * flush (every event acknowledged by the router) and the subscribers drain, so
 * lost = expected - delivered counts what the router acknowledged and never delivered.
 * --slow-rate adds one more subscriber that reads at that rate (the slow-consumer rows).
 * Prints one JSON line.
 */
#include "fanout_common.h"

#include "core/clock.h"

#include <sluice/client.h>

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#define FANOUT_PRODUCERS_MAX 64u
/* The router's largest frame: no event beyond it fits a batch. */
#define FANOUT_EVENT_BYTES_MAX 8972u
/* Events one sl_consumer_poll returns at most. */
#define FANOUT_POLL_EVENTS 256u
/* A subscriber waits at most this long in one poll, then looks at the run's flags. */
#define FANOUT_POLL_MS 10
/* A closed-loop producer polls (seals lingering batches, reads acks) this often. */
#define FANOUT_PRODUCE_POLL_EVERY 64u
/* Longest wait for acks when the producer's in-flight window is full. */
#define FANOUT_PRODUCE_WAIT_US 1000u
/* Bound on each producer's final flush. */
#define FANOUT_FLUSH_MS 10000u
/* The drain ends when every expected event arrived, when nothing arrived for
 * --drain-quiet-ms, or after FANOUT_DRAIN_NS. */
#define FANOUT_DRAIN_NS 10000000000ull
#define FANOUT_DRAIN_STEP_NS 10000000ull
#define FANOUT_METADATA_MS 5000u
/* Most shards sl_stats_fetch reports (sluiced --shards 1..128). */
#define FANOUT_SHARDS_MAX 128u
/* Topic names "bench.K" and a consumer group name fit this. */
#define FANOUT_NAME_BYTES 72u
/* A (topic, partition) a subscriber has seen nothing of yet. */
#define FANOUT_UNSEEN UINT64_MAX

struct fanout_conf {
	const char *router; /* HOST:PORT */
	const char *group;  /* consumer group, or NULL for fan-out */
	uint32_t subscribers;
	uint32_t producers;
	uint32_t event_bytes;
	uint32_t window_batches;     /* credit per subscription per shard, in DELIVERs */
	uint32_t window_batches_max; /* how far it may grow (0: fixed) */
	uint32_t ack_interval_us;    /* consumers' CONSUMER_ACK and CREDIT period */
	uint32_t linger_us;
	uint32_t frame_bytes; /* producers' frame_bytes_max */
	bool send_window_set;
	uint64_t send_window_bytes;
	uint32_t drain_quiet_ms; /* the drain gives up after this long without an event */
	double seconds;
	double warmup_s;
	uint64_t rate;	    /* events/s of all producers, 0 = closed loop */
	uint64_t slow_rate; /* events/s the extra slow subscriber reads, 0 = none */
};

struct fanout_run;

/* A subscriber; its thread is the only writer of everything but `thread`. */
struct fanout_sub {
	_Alignas(64) _Atomic uint64_t delivered; /* read by main for the window */
	_Atomic uint64_t payload_bytes;
	struct sl_consumer *c;
	const struct fanout_run *run;
	uint64_t read_rate;    /* events/s it takes at most, 0 = all that come */
	uint64_t *next_offset; /* fan-out: per (topic, partition) the offset due next */
	uint64_t gaps;	       /* offsets jumped forward (fan-out only) */
	uint64_t gap_offsets;  /* offsets jumped over */
	uint64_t late;	       /* offsets below the one due: a jumped-over one arriving */
	uint64_t foreign;      /* events of another topic or partition, or too short */
	uint64_t hist[FANOUT_HIST_BUCKETS];
	uint64_t samples;
	struct sl_consumer_stats stats; /* taken at close */
	int rc;
	pthread_t thread;
};

/* A producer; its thread is the only writer of everything but `thread`. */
struct fanout_prod {
	_Alignas(64) _Atomic uint64_t produced; /* accepted by sl_produce; read by main */
	struct sl_producer *p;
	struct fanout_run *run;
	uint32_t index;
	uint64_t rate; /* its share of --rate, 0 = closed loop */
	struct sl_producer_stats stats;
	bool flushed; /* every batch finished within FANOUT_FLUSH_MS */
	int rc;
	pthread_t thread;
};

struct fanout_run {
	const struct fanout_conf *conf;
	uint32_t partitions;	  /* of each topic, from METADATA */
	uint64_t start_ns;	  /* producers' time zero: paced sends are due from here */
	uint64_t window_start_ns; /* after the warm-up */
	uint64_t window_end_ns;	  /* producers stop here */
	atomic_bool stop;	  /* main -> subscribers: the drain is over */
	char topics[FANOUT_SUBJECTS][FANOUT_NAME_BYTES];
	struct fanout_sub **subs; /* conf->subscribers, then the slow one if any */
	uint32_t sub_count;
	struct fanout_prod *prods;
};

/* Router counters read before and after the run; the report gives their growth. */
static const enum sl_stat fanout_router_stats[] = {
	SL_STAT_DELIVERIES,	   SL_STAT_CREDIT_STALLS,    SL_STAT_DROP_POLICY_SKIPS,
	SL_STAT_REDELIVERIES,	   SL_STAT_DEAD_LETTERS,     SL_STAT_TX_DROP_FULL,
	SL_STAT_DROP_JOURNAL_BUSY, SL_STAT_NET_PORT_IMISSED,
};
#define FANOUT_ROUTER_STATS (sizeof(fanout_router_stats) / sizeof(fanout_router_stats[0]))
static const char *const fanout_router_stat_keys[FANOUT_ROUTER_STATS] = {
	"router_deliveries",   "router_credit_stalls", "router_policy_skips", "router_redeliveries",
	"router_dead_letters", "router_tx_drop_full",  "router_journal_busy", "router_rx_missed",
};

static void fanout_usage(FILE *out)
{
	(void)fprintf(
		out,
		"usage: sluice-bench-fanout --router HOST:PORT --subscribers N [options]\n"
		"  --group NAME         all subscribers join this consumer group (round-robin)\n"
		"  --event-bytes B      event value bytes, 8..%u (default 64)\n"
		"  --seconds S          measured time (default 5)\n"
		"  --warmup-s W         unmeasured time first (default 1)\n"
		"  --rate R             events/s of all producers, open loop (default 0: as fast\n"
		"                       as the router acknowledges)\n"
		"  --producers P        producer threads (default 1, 1..%u)\n"
		"  --slow-rate R        one more subscriber, reading R events/s (default 0: none;\n"
		"                       not with --group)\n"
		"  --window-batches N   consumer credit window per shard (default 256, 1..65536)\n"
		"  --window-batches-max N  let that window grow up to N (default 0: fixed)\n"
		"  --ack-interval-us US consumer ack and credit period (default 5000)\n"
		"  --linger-us US       producer linger (default 1000)\n"
		"  --send-window-bytes N producer send window (default: the library's)\n"
		"  --frame-bytes N      producers' datagram limit (default 1472; the router's\n"
		"                       --frame-bytes-max must allow it)\n"
		"  --drain-quiet-ms MS  after the run, stop waiting for missing events once\n"
		"                       none came for MS (default 500; at most 10 s in all)\n",
		FANOUT_EVENT_BYTES_MAX, FANOUT_PRODUCERS_MAX);
}

/* A consumer group name: topic-name characters, 1..64 bytes (docs/PROTOCOL.md). */
static bool fanout_is_group_name(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 64 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

/* Parses a number within [min, max] into *out. Returns 0 or -EINVAL. */
static int fanout_parse_u32(const char *s, uint64_t min, uint64_t max, uint32_t *out)
{
	uint64_t v;

	if (fanout_parse_u64(s, &v) != 0 || v < min || v > max) {
		return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

static int fanout_parse_option(int opt, struct fanout_conf *c)
{
	switch (opt) {
	case 'R':
		c->router = optarg;
		return 0;
	case 'n':
		return fanout_parse_u32(optarg, 1, FANOUT_SUBSCRIBERS_MAX, &c->subscribers);
	case 'g':
		c->group = optarg;
		return fanout_is_group_name(optarg) ? 0 : -EINVAL;
	case 'b':
		return fanout_parse_u32(optarg, sizeof(uint64_t), FANOUT_EVENT_BYTES_MAX,
					&c->event_bytes);
	case 's':
		return fanout_parse_seconds(optarg, &c->seconds);
	case 'w':
		return fanout_parse_seconds(optarg, &c->warmup_s);
	case 'r':
		return fanout_parse_u64(optarg, &c->rate);
	case 'p':
		return fanout_parse_u32(optarg, 1, FANOUT_PRODUCERS_MAX, &c->producers);
	case 'S':
		return fanout_parse_u64(optarg, &c->slow_rate);
	case 'W':
		return fanout_parse_u32(optarg, 1, 65536, &c->window_batches);
	case 'G':
		return fanout_parse_u32(optarg, 0, 65536, &c->window_batches_max);
	case 'A':
		return fanout_parse_u32(optarg, 0, 10000000, &c->ack_interval_us);
	case 'L':
		return fanout_parse_u32(optarg, 0, 10000000, &c->linger_us);
	case 'D':
		return fanout_parse_u32(optarg, 1, 10000, &c->drain_quiet_ms);
	case 'F':
		return fanout_parse_u32(optarg, SL_WIRE_FRAME_BYTES_MIN, SL_WIRE_FRAME_BYTES_MAX,
					&c->frame_bytes);
	case 'X':
		c->send_window_set = true;
		return fanout_parse_u64(optarg, &c->send_window_bytes);
	default:
		return -EINVAL;
	}
}

static int fanout_parse(int argc, char **argv, struct fanout_conf *c)
{
	static const struct option opts[] = {
		{"router", required_argument, NULL, 'R'},
		{"subscribers", required_argument, NULL, 'n'},
		{"group", required_argument, NULL, 'g'},
		{"event-bytes", required_argument, NULL, 'b'},
		{"seconds", required_argument, NULL, 's'},
		{"warmup-s", required_argument, NULL, 'w'},
		{"rate", required_argument, NULL, 'r'},
		{"producers", required_argument, NULL, 'p'},
		{"slow-rate", required_argument, NULL, 'S'},
		{"window-batches", required_argument, NULL, 'W'},
		{"window-batches-max", required_argument, NULL, 'G'},
		{"ack-interval-us", required_argument, NULL, 'A'},
		{"linger-us", required_argument, NULL, 'L'},
		{"drain-quiet-ms", required_argument, NULL, 'D'},
		{"send-window-bytes", required_argument, NULL, 'X'},
		{"frame-bytes", required_argument, NULL, 'F'},
		{NULL, 0, NULL, 0},
	};
	int opt;

	*c = (struct fanout_conf){.event_bytes = 64,
				  .producers = 1,
				  .window_batches = 256,
				  .ack_interval_us = 5000,
				  .linger_us = 1000,
				  .frame_bytes = SL_WIRE_FRAME_BYTES_DEFAULT,
				  .drain_quiet_ms = 500,
				  .seconds = 5.0,
				  .warmup_s = 1.0};
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (fanout_parse_option(opt, c) != 0) {
			return -EINVAL;
		}
	}
	if (optind != argc || c->router == NULL || c->subscribers == 0 || c->seconds <= 0 ||
	    c->rate > 1000000000u || c->slow_rate > 1000000000u ||
	    (c->group != NULL && c->slow_rate != 0)) {
		return -EINVAL;
	}
	return 0;
}

/* ---- subscribers ---- */

/* The index K of topic "bench.K" (K < FANOUT_SUBJECTS), or -1. */
static int fanout_topic_index(const char *topic)
{
	static const char prefix[] = "bench.";

	if (strncmp(topic, prefix, sizeof(prefix) - 1u) != 0) {
		return -1;
	}
	const char *k = topic + sizeof(prefix) - 1u;
	if (k[0] < '0' || k[0] >= (char)('0' + FANOUT_SUBJECTS) || k[1] != '\0') {
		return -1;
	}
	return k[0] - '0';
}

/* Fan-out: every subscriber takes every batch of a partition, in offset order, so an
 * offset past the one due is a gap and one below it a late arrival (a redelivery). */
static void fanout_track_offset(struct fanout_sub *s, size_t slot, uint64_t offset)
{
	uint64_t *next = &s->next_offset[slot];

	if (*next == FANOUT_UNSEEN || offset == *next) {
		*next = offset + 1u;
	} else if (offset > *next) {
		s->gaps++;
		s->gap_offsets += offset - *next;
		*next = offset + 1u;
	} else {
		s->late++;
	}
}

/* Counts one event: latency if it was sent inside the window, order in fan-out. */
static void fanout_take(struct fanout_sub *s, const struct sl_event *e, uint64_t now_ns)
{
	const struct fanout_run *r = s->run;
	int t = fanout_topic_index(e->topic);
	uint64_t sent_ns;

	if (t < 0 || e->partition >= r->partitions || e->value_len < sizeof(sent_ns)) {
		s->foreign++;
		return;
	}
	memcpy(&sent_ns, e->value, sizeof(sent_ns));
	if (sent_ns >= r->window_start_ns && sent_ns < r->window_end_ns) {
		s->hist[fanout_hist_index(now_ns > sent_ns ? now_ns - sent_ns : 0)]++;
		s->samples++;
	}
	if (s->next_offset != NULL) {
		fanout_track_offset(s, (size_t)t * r->partitions + e->partition, e->offset);
	}
}

/* How many events a paced reader may take now (at most FANOUT_POLL_EVENTS). */
static size_t fanout_read_allowance(const struct fanout_sub *s, uint64_t taken, uint64_t now_ns)
{
	if (s->read_rate == 0) {
		return FANOUT_POLL_EVENTS;
	}
	uint64_t due =
		(uint64_t)((double)(now_ns - s->run->start_ns) * (double)s->read_rate / 1e9) + 1u;
	if (due <= taken) {
		return 0;
	}
	return due - taken < FANOUT_POLL_EVENTS ? (size_t)(due - taken) : FANOUT_POLL_EVENTS;
}

/* Waits until a paced reader may take its next event, at most FANOUT_POLL_MS. */
static void fanout_read_wait(const struct fanout_sub *s, uint64_t taken, uint64_t now_ns)
{
	uint64_t next = s->run->start_ns + (uint64_t)((double)taken * 1e9 / (double)s->read_rate);
	uint64_t cap = now_ns + (uint64_t)FANOUT_POLL_MS * 1000000u;

	fanout_sleep_until(next < cap ? next : cap);
}

/* Subscriber thread: polls until main says the drain is over. */
static void *fanout_sub_main(void *arg)
{
	struct fanout_sub *s = arg;
	struct sl_event ev[FANOUT_POLL_EVENTS];
	uint64_t taken = 0, bytes = 0;

	while (!atomic_load_explicit(&s->run->stop, memory_order_acquire)) {
		size_t want = fanout_read_allowance(s, taken, clock_monotonic_ns());
		/* A paced reader with nothing due still polls: heartbeats and credit. */
		int n = sl_consumer_poll(s->c, ev, want, want != 0 ? FANOUT_POLL_MS : 0);
		if (n < 0) {
			s->rc = n;
			break;
		}
		uint64_t now = clock_monotonic_ns();
		for (int i = 0; i < n; i++) {
			fanout_take(s, &ev[i], now);
			bytes += ev[i].value_len;
		}
		taken += (uint64_t)n;
		/* Single writer: relaxed stores are enough for main's snapshots. */
		atomic_store_explicit(&s->delivered, taken, memory_order_relaxed);
		atomic_store_explicit(&s->payload_bytes, bytes, memory_order_relaxed);
		if (want == 0) {
			fanout_read_wait(s, taken, now);
		}
	}
	return NULL;
}

/* Creates subscriber i's consumer and subscribes it (blocking until SUBSCRIBED). */
static int fanout_sub_open(struct fanout_run *r, struct fanout_sub *s, uint64_t read_rate)
{
	const struct fanout_conf *c = r->conf;
	struct sl_consumer_config cfg;
	struct sl_subscribe_options opts;
	uint32_t id;

	s->run = r;
	s->read_rate = read_rate;
	if (c->group == NULL) {
		size_t slots = (size_t)FANOUT_SUBJECTS * r->partitions;
		s->next_offset = malloc(slots * sizeof(*s->next_offset));
		if (s->next_offset == NULL) {
			return -ENOMEM;
		}
		for (size_t i = 0; i < slots; i++) {
			s->next_offset[i] = FANOUT_UNSEEN;
		}
	}
	sl_consumer_config_init(&cfg);
	cfg.router = c->router;
	cfg.window_batches = c->window_batches;
	cfg.window_batches_max = c->window_batches_max;
	cfg.ack_interval_us = c->ack_interval_us;
	int rc = sl_consumer_create(&cfg, &s->c);
	if (rc != 0) {
		return rc;
	}
	sl_subscribe_options_init(&opts);
	opts.group = c->group;
	return sl_subscribe(s->c, FANOUT_PATTERN, &opts, &id);
}

static int fanout_open_subs(struct fanout_run *r)
{
	const struct fanout_conf *c = r->conf;

	for (uint32_t i = 0; i < r->sub_count; i++) {
		struct fanout_sub *s = aligned_alloc(64, sizeof(*s));
		if (s == NULL) {
			return -ENOMEM;
		}
		memset(s, 0, sizeof(*s));
		r->subs[i] = s;
		int rc = fanout_sub_open(r, s, i < c->subscribers ? 0 : c->slow_rate);
		if (rc != 0) {
			enum sl_sub_error why =
				s->c != NULL ? sl_consumer_sub_error(s->c) : SL_SUB_OK;
			(void)fprintf(stderr, "sluice-bench-fanout: subscriber %u on %s: %s%s%s\n",
				      i, c->router, sl_strerror(rc), why != SL_SUB_OK ? ": " : "",
				      why != SL_SUB_OK ? sl_sub_error_name(why) : "");
			return rc;
		}
	}
	return 0;
}

/* ---- producers ---- */

/* Hands one event to the producer, polling while its in-flight window is full. A
 * closed-loop event is stamped when it is accepted, a paced one with its due time. */
static int fanout_produce_one(struct fanout_prod *pr, uint8_t *value, uint64_t seq, uint64_t due_ns)
{
	const struct fanout_run *r = pr->run;
	const char *topic = r->topics[(seq + pr->index) % FANOUT_SUBJECTS];

	for (;;) {
		uint64_t ts = due_ns != 0 ? due_ns : clock_monotonic_ns();
		memcpy(value, &ts, sizeof(ts));
		int rc = sl_produce(pr->p, topic, NULL, 0, value, r->conf->event_bytes);
		if (rc != -EAGAIN) {
			return rc;
		}
		rc = sl_producer_poll(pr->p, FANOUT_PRODUCE_WAIT_US);
		if (rc < 0) {
			return rc;
		}
	}
}

/* Closed loop: as many events as the router acknowledges. Returns 0 or -errno. */
static int fanout_produce_max(struct fanout_prod *pr, uint8_t *value)
{
	uint64_t sent = 0;

	while (clock_monotonic_ns() < pr->run->window_end_ns) {
		int rc = fanout_produce_one(pr, value, sent, 0);
		if (rc != 0) {
			return rc;
		}
		sent++;
		atomic_store_explicit(&pr->produced, sent, memory_order_relaxed);
		if (sent % FANOUT_PRODUCE_POLL_EVERY == 0) {
			rc = sl_producer_poll(pr->p, 0);
			if (rc < 0) {
				return rc;
			}
		}
	}
	return 0;
}

/* Open loop: event k is due at start + k / rate and carries that time, however late it
 * goes out, so a stall is charged to every event it delays. Returns 0 or -errno. */
static int fanout_produce_paced(struct fanout_prod *pr, uint8_t *value)
{
	const struct fanout_run *r = pr->run;
	double interval_ns = 1e9 / (double)pr->rate;
	uint64_t sent = 0;

	for (;;) {
		uint64_t now = clock_monotonic_ns();
		if (now >= r->window_end_ns) {
			return 0;
		}
		uint64_t due = (uint64_t)((double)(now - r->start_ns) / interval_ns) + 1u;
		for (; sent < due; sent++) {
			int rc = fanout_produce_one(pr, value, sent,
						    r->start_ns +
							    (uint64_t)((double)sent * interval_ns));
			if (rc != 0) {
				return rc;
			}
		}
		atomic_store_explicit(&pr->produced, sent, memory_order_relaxed);
		/* Until the next event is due: send what lingered, read acks. */
		uint64_t next = r->start_ns + (uint64_t)((double)sent * interval_ns);
		now = clock_monotonic_ns();
		uint64_t wait_us = next > now ? (next - now) / 1000u : 0;
		int rc = sl_producer_poll(pr->p, wait_us < FANOUT_PRODUCE_WAIT_US
							 ? (uint32_t)wait_us
							 : FANOUT_PRODUCE_WAIT_US);
		if (rc < 0) {
			return rc;
		}
	}
}

/* Producer thread: produces until the window ends, then flushes (every batch
 * acknowledged or failed) and keeps its counters. */
static void *fanout_prod_main(void *arg)
{
	struct fanout_prod *pr = arg;
	uint8_t *value = malloc(pr->run->conf->event_bytes);

	/* Paced sends wake on time, not 50 us late. */
	(void)prctl(PR_SET_TIMERSLACK, 1ul, 0ul, 0ul, 0ul);
	if (value == NULL) {
		pr->rc = -ENOMEM;
		return NULL;
	}
	memset(value, 0x5a, pr->run->conf->event_bytes);
	pr->rc = pr->rate != 0 ? fanout_produce_paced(pr, value) : fanout_produce_max(pr, value);
	int rc = sl_flush(pr->p, FANOUT_FLUSH_MS);
	pr->flushed = rc == 0;
	sl_producer_stats_get(pr->p, &pr->stats);
	free(value);
	return NULL;
}

static int fanout_open_prods(struct fanout_run *r)
{
	const struct fanout_conf *c = r->conf;

	for (uint32_t i = 0; i < c->producers; i++) {
		struct fanout_prod *pr = &r->prods[i];
		struct sl_producer_config cfg;

		pr->run = r;
		pr->index = i;
		pr->rate = c->rate / c->producers + (i < c->rate % c->producers);
		if (c->rate != 0 && pr->rate == 0) {
			pr->rate = 1;
		}
		sl_producer_config_init(&cfg);
		cfg.router = c->router;
		cfg.linger_us = c->linger_us;
		cfg.frame_bytes_max = c->frame_bytes;
		if (c->send_window_set) {
			cfg.send_window_bytes = c->send_window_bytes;
		}
		int rc = sl_producer_create(&cfg, &pr->p);
		if (rc != 0) {
			(void)fprintf(stderr, "sluice-bench-fanout: producer %u on %s: %s\n", i,
				      c->router, sl_strerror(rc));
			return rc;
		}
	}
	return 0;
}

/* ---- the run ---- */

struct fanout_result {
	double window_s;
	uint64_t published; /* events accepted by the producers in the window */
	uint64_t delivered; /* by the full-speed subscribers in the window */
	uint64_t payload_bytes;
	double sub_min_per_s;
	double sub_max_per_s;
	double slow_per_s;
	uint64_t hist[FANOUT_HIST_BUCKETS];
	uint64_t samples;
	uint64_t acked;		  /* events the router acknowledged, whole run */
	uint64_t failed;	  /* events in batches that failed */
	uint64_t nacks;		  /* producers' NACKs */
	uint64_t retransmits;	  /* producers' */
	uint64_t delivered_total; /* full-speed subscribers, whole run and drain */
	uint64_t slow_total;
	uint64_t gaps, gap_offsets, late, foreign; /* full-speed subscribers */
	uint64_t slow_gaps;
	struct sl_consumer_stats lib; /* summed over every subscriber, the slow one too */
	uint32_t unflushed;	      /* producers whose flush timed out */
	double drain_s;
	uint64_t router[FANOUT_ROUTER_STATS]; /* growth over the run; all shards */
	bool router_ok;
};

/* Sums the counters of fanout_router_stats over every shard into out. */
static int fanout_router_counters(const char *router, uint64_t *out)
{
	struct sl_shard_stats *shards = calloc(FANOUT_SHARDS_MAX, sizeof(*shards));
	unsigned n = 0;

	if (shards == NULL) {
		return -ENOMEM;
	}
	int rc = sl_stats_fetch(router, FANOUT_METADATA_MS, shards, FANOUT_SHARDS_MAX, &n);
	memset(out, 0, FANOUT_ROUTER_STATS * sizeof(*out));
	for (unsigned i = 0; rc == 0 && i < n; i++) {
		for (size_t k = 0; k < FANOUT_ROUTER_STATS; k++) {
			unsigned stat = (unsigned)fanout_router_stats[k];
			out[k] += stat < shards[i].counter_count ? shards[i].counters[stat] : 0;
		}
	}
	free(shards);
	return rc;
}

/* Delivered counts and payload bytes of every subscriber at one instant. */
static void fanout_snapshot(const struct fanout_run *r, uint64_t *delivered, uint64_t *bytes)
{
	for (uint32_t i = 0; i < r->sub_count; i++) {
		delivered[i] = atomic_load_explicit(&r->subs[i]->delivered, memory_order_relaxed);
		bytes[i] = atomic_load_explicit(&r->subs[i]->payload_bytes, memory_order_relaxed);
	}
}

static uint64_t fanout_published(const struct fanout_run *r)
{
	uint64_t sum = 0;

	for (uint32_t i = 0; i < r->conf->producers; i++) {
		sum += atomic_load_explicit(&r->prods[i].produced, memory_order_relaxed);
	}
	return sum;
}

/* Events the full-speed subscribers have taken so far. */
static uint64_t fanout_delivered_now(const struct fanout_run *r)
{
	uint64_t sum = 0;

	for (uint32_t i = 0; i < r->conf->subscribers; i++) {
		sum += atomic_load_explicit(&r->subs[i]->delivered, memory_order_relaxed);
	}
	return sum;
}

/* After the producers flushed: waits until the full-speed subscribers have what the
 * router acknowledged, or nothing more comes, then stops every subscriber thread. */
static void fanout_drain(struct fanout_run *r, uint64_t expected, struct fanout_result *res)
{
	uint64_t start = clock_monotonic_ns();
	uint64_t last = fanout_delivered_now(r), last_change = start;

	for (;;) {
		uint64_t now = clock_monotonic_ns();
		uint64_t got = fanout_delivered_now(r);
		if (got != last) {
			last = got;
			last_change = now;
		}
		if (got >= expected ||
		    now - last_change >= (uint64_t)r->conf->drain_quiet_ms * 1000000u ||
		    now - start >= FANOUT_DRAIN_NS) {
			break;
		}
		fanout_sleep_until(now + FANOUT_DRAIN_STEP_NS);
	}
	res->drain_s = (double)(clock_monotonic_ns() - start) / 1e9;
	atomic_store_explicit(&r->stop, true, memory_order_release);
}

static void fanout_collect_subs(const struct fanout_run *r, const uint64_t *d0, const uint64_t *b0,
				const uint64_t *d1, const uint64_t *b1, struct fanout_result *out)
{
	out->sub_min_per_s = -1;
	for (uint32_t i = 0; i < r->sub_count; i++) {
		const struct fanout_sub *s = r->subs[i];
		double per_s = (double)(d1[i] - d0[i]) / out->window_s;
		uint64_t total = atomic_load(&s->delivered);
		if (i >= r->conf->subscribers) {
			out->slow_per_s = per_s;
			out->slow_total = total;
			out->slow_gaps = s->gaps;
		} else {
			out->delivered += d1[i] - d0[i];
			out->payload_bytes += b1[i] - b0[i];
			out->sub_min_per_s = out->sub_min_per_s < 0 || per_s < out->sub_min_per_s
						     ? per_s
						     : out->sub_min_per_s;
			out->sub_max_per_s =
				per_s > out->sub_max_per_s ? per_s : out->sub_max_per_s;
			out->delivered_total += total;
			for (size_t k = 0; k < FANOUT_HIST_BUCKETS; k++) {
				out->hist[k] += s->hist[k];
			}
			out->samples += s->samples;
			out->gaps += s->gaps;
			out->gap_offsets += s->gap_offsets;
			out->late += s->late;
		}
		out->foreign += s->foreign;
		out->lib.gaps += s->stats.gaps;
		out->lib.gap_offsets += s->stats.gap_offsets;
		out->lib.duplicates += s->stats.duplicates;
		out->lib.redeliveries += s->stats.redeliveries;
		out->lib.deliveries_dropped += s->stats.deliveries_dropped;
		out->lib.deliveries_invalid += s->stats.deliveries_invalid;
		out->lib.credit_overruns += s->stats.credit_overruns;
		out->lib.resubscribes += s->stats.resubscribes;
	}
}

static void fanout_collect_prods(const struct fanout_run *r, struct fanout_result *out)
{
	for (uint32_t i = 0; i < r->conf->producers; i++) {
		const struct fanout_prod *pr = &r->prods[i];
		out->acked += pr->stats.events_acked;
		out->failed += pr->stats.events_failed;
		out->nacks += pr->stats.nacks;
		out->retransmits += pr->stats.retransmits;
		out->unflushed += !pr->flushed;
	}
}

static void fanout_print(const struct fanout_run *r, const struct fanout_result *res)
{
	const struct fanout_conf *c = r->conf;
	uint64_t expected = c->group != NULL ? res->acked : res->acked * c->subscribers;

	printf("{\"mode\":\"fanout\",\"router\":\"%s\",\"subscribers\":%u,\"group\":\"%s\","
	       "\"event_bytes\":%u,\"rate\":%llu,\"producers\":%u,\"window_batches\":%u,"
	       "\"ack_interval_us\":%u,\"linger_us\":%u,\"frame_bytes\":%u,\"seconds\":%.3f,"
	       "\"published_per_s\":%.0f,\"delivered_per_s\":%.0f,"
	       "\"sub_min_delivered_per_s\":%.0f,\"sub_max_delivered_per_s\":%.0f,"
	       "\"delivered_mb_per_s\":%.1f,\"latency_samples\":%llu,\"p50_us\":%.1f,"
	       "\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,\"published_total\":%llu,"
	       "\"produce_failed\":%llu,\"produce_nacks\":%llu,\"produce_retransmits\":%llu,"
	       "\"unflushed\":%u,"
	       "\"expected_total\":%llu,\"delivered_total\":%llu,\"lost\":%lld,"
	       "\"gaps\":%llu,\"gap_offsets\":%llu,\"late\":%llu,\"foreign\":%llu,"
	       "\"lib_gaps\":%llu,\"lib_gap_offsets\":%llu,\"duplicates\":%llu,"
	       "\"redeliveries\":%llu,\"deliveries_dropped\":%llu,\"deliveries_invalid\":%llu,"
	       "\"credit_overruns\":%llu,\"resubscribes\":%llu,\"drain_s\":%.3f,"
	       "\"slow_rate\":%llu,\"slow_delivered_per_s\":%.0f,\"slow_delivered_total\":%llu,"
	       "\"slow_gaps\":%llu",
	       c->router, c->subscribers, c->group != NULL ? c->group : "", c->event_bytes,
	       (unsigned long long)c->rate, c->producers, c->window_batches, c->ack_interval_us,
	       c->linger_us, c->frame_bytes, res->window_s, (double)res->published / res->window_s,
	       (double)res->delivered / res->window_s, res->sub_min_per_s, res->sub_max_per_s,
	       (double)res->payload_bytes / res->window_s / 1e6, (unsigned long long)res->samples,
	       fanout_hist_quantile_us(res->hist, res->samples, 0.50),
	       fanout_hist_quantile_us(res->hist, res->samples, 0.99),
	       fanout_hist_quantile_us(res->hist, res->samples, 0.999),
	       fanout_hist_quantile_us(res->hist, res->samples, 1.0),
	       (unsigned long long)res->acked, (unsigned long long)res->failed,
	       (unsigned long long)res->nacks, (unsigned long long)res->retransmits, res->unflushed,
	       (unsigned long long)expected, (unsigned long long)res->delivered_total,
	       (long long)(expected - res->delivered_total), (unsigned long long)res->gaps,
	       (unsigned long long)res->gap_offsets, (unsigned long long)res->late,
	       (unsigned long long)res->foreign, (unsigned long long)res->lib.gaps,
	       (unsigned long long)res->lib.gap_offsets, (unsigned long long)res->lib.duplicates,
	       (unsigned long long)res->lib.redeliveries,
	       (unsigned long long)res->lib.deliveries_dropped,
	       (unsigned long long)res->lib.deliveries_invalid,
	       (unsigned long long)res->lib.credit_overruns,
	       (unsigned long long)res->lib.resubscribes, res->drain_s,
	       (unsigned long long)c->slow_rate, res->slow_per_s,
	       (unsigned long long)res->slow_total, (unsigned long long)res->slow_gaps);
	for (size_t k = 0; k < FANOUT_ROUTER_STATS; k++) {
		if (res->router_ok) {
			printf(",\"%s\":%llu", fanout_router_stat_keys[k],
			       (unsigned long long)res->router[k]);
		} else {
			printf(",\"%s\":null", fanout_router_stat_keys[k]);
		}
	}
	printf("}\n");
}

/* Starts the subscriber and producer threads; on failure stops those that started.
 * Returns 0 or -errno. */
static int fanout_start(struct fanout_run *r, uint32_t *subs_started, uint32_t *prods_started)
{
	int rc = 0;

	r->start_ns = clock_monotonic_ns();
	r->window_start_ns = r->start_ns + (uint64_t)(r->conf->warmup_s * 1e9);
	r->window_end_ns = r->window_start_ns + (uint64_t)(r->conf->seconds * 1e9);
	for (*subs_started = 0; rc == 0 && *subs_started < r->sub_count; (*subs_started)++) {
		rc = -pthread_create(&r->subs[*subs_started]->thread, NULL, fanout_sub_main,
				     r->subs[*subs_started]);
	}
	*subs_started -= rc != 0;
	for (*prods_started = 0; rc == 0 && *prods_started < r->conf->producers;
	     (*prods_started)++) {
		rc = -pthread_create(&r->prods[*prods_started].thread, NULL, fanout_prod_main,
				     &r->prods[*prods_started]);
	}
	*prods_started -= rc != 0;
	return rc;
}

/* Joins the threads that started; returns the first error any of them had. */
static int fanout_join(struct fanout_run *r, uint32_t subs, uint32_t prods, int rc)
{
	for (uint32_t i = 0; i < prods; i++) {
		(void)pthread_join(r->prods[i].thread, NULL);
		rc = rc != 0 ? rc : r->prods[i].rc;
	}
	/* Subscribers stop once the drain says so (or at once after a failed start). */
	atomic_store_explicit(&r->stop, true, memory_order_release);
	for (uint32_t i = 0; i < subs; i++) {
		(void)pthread_join(r->subs[i]->thread, NULL);
		rc = rc != 0 ? rc : r->subs[i]->rc;
	}
	return rc;
}

/* Runs the producers and subscribers, snapshots the window, drains. Returns 0 or -errno. */
static int fanout_measure(struct fanout_run *r, struct fanout_result *res)
{
	size_t n = r->sub_count;
	uint64_t *snap = calloc(4 * n, sizeof(*snap));
	uint64_t router0[FANOUT_ROUTER_STATS] = {0};
	uint32_t subs = 0, prods = 0;

	if (snap == NULL) {
		return -ENOMEM;
	}
	res->router_ok = fanout_router_counters(r->conf->router, router0) == 0;
	int rc = fanout_start(r, &subs, &prods);
	if (rc == 0) {
		fanout_sleep_until(r->window_start_ns);
		uint64_t published0 = fanout_published(r);
		fanout_snapshot(r, snap, snap + n);
		fanout_sleep_until(r->window_end_ns);
		fanout_snapshot(r, snap + 2 * n, snap + 3 * n);
		res->window_s = (double)(clock_monotonic_ns() - r->window_start_ns) / 1e9;
		res->published = fanout_published(r) - published0;
		for (uint32_t i = 0; i < prods; i++) {
			(void)pthread_join(r->prods[i].thread, NULL);
			rc = rc != 0 ? rc : r->prods[i].rc;
		}
		prods = 0;
		fanout_collect_prods(r, res);
		fanout_drain(
			r, r->conf->group != NULL ? res->acked : res->acked * r->conf->subscribers,
			res);
	}
	rc = fanout_join(r, subs, prods, rc);
	for (uint32_t i = 0; i < r->sub_count; i++) {
		/* Acknowledges what auto mode owes and unsubscribes: the next run starts clean. */
		sl_consumer_stats_get(r->subs[i]->c, &r->subs[i]->stats);
		sl_consumer_destroy(r->subs[i]->c);
		r->subs[i]->c = NULL;
	}
	fanout_collect_subs(r, snap, snap + n, snap + 2 * n, snap + 3 * n, res);
	if (res->router_ok && fanout_router_counters(r->conf->router, res->router) == 0) {
		for (size_t k = 0; k < FANOUT_ROUTER_STATS; k++) {
			res->router[k] -= router0[k];
		}
	} else {
		res->router_ok = false;
	}
	free(snap);
	return rc;
}

/* Asks the router for bench.0's partition count (every bench.K has the same, from
 * --partitions or --topic) and names the topics. Returns 0 or -errno, having said why. */
static int fanout_prepare(struct fanout_run *r)
{
	struct sl_metadata md;

	int rc = sl_metadata_fetch(r->conf->router, "bench.0", FANOUT_METADATA_MS, &md);
	if (rc != 0) {
		(void)fprintf(stderr, "sluice-bench-fanout: metadata from %s: %s\n",
			      r->conf->router, sl_strerror(rc));
		return rc;
	}
	if (md.partitions == 0) {
		(void)fprintf(stderr,
			      "sluice-bench-fanout: %s does not serve topic bench.0 (start it "
			      "with --auto-create-topics or --topic bench.K:N for K = 0..%u)\n",
			      r->conf->router, FANOUT_SUBJECTS - 1u);
		return -ENOENT;
	}
	r->partitions = md.partitions;
	for (unsigned k = 0; k < FANOUT_SUBJECTS; k++) {
		(void)snprintf(r->topics[k], sizeof(r->topics[k]), "bench.%u", k);
	}
	return 0;
}

static void fanout_free(struct fanout_run *r)
{
	for (uint32_t i = 0; r->subs != NULL && i < r->sub_count && r->subs[i] != NULL; i++) {
		sl_consumer_destroy(r->subs[i]->c);
		free(r->subs[i]->next_offset);
		free(r->subs[i]);
	}
	for (uint32_t i = 0; r->prods != NULL && i < r->conf->producers; i++) {
		sl_producer_destroy(r->prods[i].p);
	}
	free(r->subs);
	free(r->prods);
}

int main(int argc, char **argv)
{
	struct fanout_conf c;
	struct fanout_run r = {.conf = &c};
	struct fanout_result *res = NULL;

	if (argc > 1 && strcmp(argv[1], "--help") == 0) {
		fanout_usage(stdout);
		return 0;
	}
	if (fanout_parse(argc, argv, &c) != 0) {
		fanout_usage(stderr);
		return 2;
	}
	r.sub_count = c.subscribers + (c.slow_rate != 0);
	r.subs = calloc(r.sub_count, sizeof(struct fanout_sub *));
	r.prods = aligned_alloc(64, c.producers * sizeof(*r.prods));
	res = calloc(1, sizeof(*res));
	int rc = r.subs == NULL || r.prods == NULL || res == NULL ? -ENOMEM : 0;
	if (r.prods != NULL) {
		memset(r.prods, 0, c.producers * sizeof(*r.prods));
	}
	if (rc == 0) {
		rc = fanout_prepare(&r);
	}
	if (rc == 0) {
		rc = fanout_open_subs(&r);
	}
	if (rc == 0) {
		rc = fanout_open_prods(&r);
	}
	if (rc == 0) {
		rc = fanout_measure(&r, res);
		if (rc != 0) {
			(void)fprintf(stderr, "sluice-bench-fanout: run failed: %s%s\n",
				      sl_strerror(rc),
				      rc == -EMSGSIZE ? " (--event-bytes does not fit the router's "
							"frame: sluiced --frame-bytes-max)"
						      : "");
		}
	}
	if (rc == 0) {
		fanout_print(&r, res);
	}
	fanout_free(&r);
	free(res);
	return rc == 0 ? 0 : 1;
}
