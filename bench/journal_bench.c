/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sluice-bench-journal: drives one journal writer in-process, with no network and no
 * shard, to measure what the journal itself reaches on a file system, beside fio in the
 * same run (bench/journal.sh). Two modes, one JSON line each:
 *   bandwidth  appends as fast as the journal takes them (closed loop) for --seconds;
 *   latency    appends at --rate entries per second and times each from its append to
 *              the moment the journal's durable end covers it.
 * Each entry is one record of --entry-bytes (a batch as the shard would journal it).
 * The end-to-end figures with a UDP producer come from `sluice-bench durable`; the gap
 * between the two is what the network path and the producer cost on the same cores.
 * With --retain-bytes the maintenance thread runs beside it (indexes, retention and, with
 * --segment-spares, recycling), so a run with small segments reaches the steady state in
 * which new segments are made from recycled ones.
 */
#include "journal/journal.h"
#include "journal/maint.h"

#include "core/clock.h"

#include "sluice/wire.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_TOPIC "bench"
#define BENCH_PARTITIONS 32u
/* Latency samples kept: enough for --rate x --seconds at the rates a disk sustains. */
#define BENCH_SAMPLES_MAX (16u << 20)
/* Entries appended but not yet durable, tracked for latency. */
#define BENCH_PENDING_MAX (1u << 20)
#define BENCH_MAINT_PERIOD_MS 100u

struct bench_conf {
	struct journal_conf journal;
	const char *mode;
	double seconds;
	double warmup_s;
	uint32_t entry_bytes;
	uint64_t rate;
	uint64_t retain_bytes; /* 0: no maintenance thread, nothing deleted */
};

struct bench_pending {
	uint64_t end;
	uint64_t t_ns;
};

struct bench_run {
	struct journal *j;
	const struct bench_conf *conf;
	uint8_t *body;
	uint32_t body_len;
	uint64_t sequence;
	uint64_t appended;
	uint64_t busy;
	struct bench_pending *pending; /* ring of BENCH_PENDING_MAX */
	uint64_t pending_head;
	uint64_t pending_tail;
	uint32_t *samples_us;
	uint64_t nsamples;
	bool measuring;
	uint64_t counters_at_start[JOURNAL_STAT_COUNT]; /* when measuring began */
};

static void bench_usage(FILE *out)
{
	fprintf(out, "usage: sluice-bench-journal bandwidth|latency --dir DIR [options]\n"
		     "  --seconds S          measured time (default 3)\n"
		     "  --warmup-s S         unmeasured time first (default 1)\n"
		     "  --entry-bytes N      record value bytes per entry (default 1320)\n"
		     "  --rate N             latency: entries per second (required)\n"
		     "  --segment-bytes N    (default 67108864)\n"
		     "  --flush-bytes N      (default 262144)\n"
		     "  --flush-us N         (default 100)\n"
		     "  --fsync always|interval|never (default always)\n"
		     "  --fsync-us N         (default 1000)\n"
		     "  --buffers N          staging chunks (default 8)\n"
		     "  --no-direct-io       buffered writes\n"
		     "  --no-zero-fill       write new segments into fallocated space\n"
		     "  --retain-bytes N     run retention keeping N bytes (default 0: off)\n"
		     "  --segment-spares N   recycled segments kept (default 0)\n"
		     "  --io auto|uring|thread (default auto)\n");
}

static int bench_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0') {
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int bench_u32(const char *s, uint32_t *out)
{
	uint64_t v;

	if (bench_u64(s, &v) != 0 || v > UINT32_MAX) {
		return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

static int bench_parse(int argc, char **argv, struct bench_conf *c)
{
	static const struct option opts[] = {
		{"dir", required_argument, NULL, 'd'},
		{"seconds", required_argument, NULL, 's'},
		{"warmup-s", required_argument, NULL, 'w'},
		{"entry-bytes", required_argument, NULL, 'e'},
		{"rate", required_argument, NULL, 'r'},
		{"segment-bytes", required_argument, NULL, 'S'},
		{"flush-bytes", required_argument, NULL, 'F'},
		{"flush-us", required_argument, NULL, 'U'},
		{"fsync", required_argument, NULL, 'y'},
		{"fsync-us", required_argument, NULL, 'Y'},
		{"buffers", required_argument, NULL, 'b'},
		{"no-direct-io", no_argument, NULL, 'n'},
		{"no-zero-fill", no_argument, NULL, 'z'},
		{"io", required_argument, NULL, 'i'},
		{"retain-bytes", required_argument, NULL, 'R'},
		{"segment-spares", required_argument, NULL, 'P'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	uint64_t v;
	int opt;

	*c = (struct bench_conf){
		.journal = {.shard = 0,
			    .socket = -1,
			    .segment_bytes = 64ull << 20,
			    .flush_bytes = 256u << 10,
			    .flush_us = 100,
			    .fsync = JOURNAL_FSYNC_ALWAYS,
			    .fsync_us = 1000,
			    .buffers = 8,
			    .direct_io = true,
			    .zero_fill = true,
			    .io = JOURNAL_IO_AUTO},
		.seconds = 3.0,
		.warmup_s = 1.0,
		.entry_bytes = 1320,
	};
	if (argc < 2) {
		return -EINVAL;
	}
	c->mode = argv[1];
	optind = 2;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			c->journal.dir = optarg;
			break;
		case 's':
			c->seconds = atof(optarg);
			break;
		case 'w':
			c->warmup_s = atof(optarg);
			break;
		case 'e':
			if (bench_u64(optarg, &v) != 0 || v == 0 || v > 8192) {
				return -EINVAL;
			}
			c->entry_bytes = (uint32_t)v;
			break;
		case 'r':
			if (bench_u64(optarg, &c->rate) != 0) {
				return -EINVAL;
			}
			break;
		case 'S':
			if (bench_u64(optarg, &c->journal.segment_bytes) != 0) {
				return -EINVAL;
			}
			break;
		case 'F':
			if (bench_u32(optarg, &c->journal.flush_bytes) != 0) {
				return -EINVAL;
			}
			break;
		case 'U':
			if (bench_u32(optarg, &c->journal.flush_us) != 0) {
				return -EINVAL;
			}
			break;
		case 'y':
			if (strcmp(optarg, "always") == 0) {
				c->journal.fsync = JOURNAL_FSYNC_ALWAYS;
			} else if (strcmp(optarg, "interval") == 0) {
				c->journal.fsync = JOURNAL_FSYNC_INTERVAL;
			} else if (strcmp(optarg, "never") == 0) {
				c->journal.fsync = JOURNAL_FSYNC_NEVER;
			} else {
				return -EINVAL;
			}
			break;
		case 'Y':
			if (bench_u32(optarg, &c->journal.fsync_us) != 0) {
				return -EINVAL;
			}
			break;
		case 'b':
			if (bench_u32(optarg, &c->journal.buffers) != 0) {
				return -EINVAL;
			}
			break;
		case 'n':
			c->journal.direct_io = false;
			break;
		case 'R':
			if (bench_u64(optarg, &c->retain_bytes) != 0) {
				return -EINVAL;
			}
			break;
		case 'P':
			if (bench_u32(optarg, &c->journal.segment_spares) != 0) {
				return -EINVAL;
			}
			break;
		case 'z':
			c->journal.zero_fill = false;
			break;
		case 'i':
			if (strcmp(optarg, "auto") == 0) {
				c->journal.io = JOURNAL_IO_AUTO;
			} else if (strcmp(optarg, "uring") == 0) {
				c->journal.io = JOURNAL_IO_URING;
			} else if (strcmp(optarg, "thread") == 0) {
				c->journal.io = JOURNAL_IO_THREAD;
			} else {
				return -EINVAL;
			}
			break;
		default:
			return -EINVAL;
		}
	}
	bool latency = strcmp(c->mode, "latency") == 0;
	if ((!latency && strcmp(c->mode, "bandwidth") != 0) || c->journal.dir == NULL ||
	    c->seconds <= 0 || c->warmup_s < 0 || (latency && c->rate == 0) || optind != argc) {
		return -EINVAL;
	}
	return 0;
}

/* One record of value_len bytes, padded to 8: the body of a one-event PRODUCE frame. */
static uint32_t bench_body_init(uint8_t *body, uint32_t value_len)
{
	struct sl_wire_record r = {.value_len = value_len, .timestamp_ns = clock_realtime_ns()};
	uint32_t len = SL_WIRE_RECORD_HEADER_BYTES + ((value_len + 7u) & ~7u);

	memset(body, 0x5a, len);
	memcpy(body, &r, sizeof(r));
	memset(body + SL_WIRE_RECORD_HEADER_BYTES + value_len, 0,
	       len - SL_WIRE_RECORD_HEADER_BYTES - value_len);
	return len;
}

/* Appends one entry. Returns 0, -EAGAIN when the journal is busy, or its error. */
static int bench_append(struct bench_run *r, uint64_t now_ns)
{
	uint32_t partition = (uint32_t)(r->sequence % BENCH_PARTITIONS);
	struct journal_batch b = {
		.topic = (const uint8_t *)BENCH_TOPIC,
		.topic_len = (uint8_t)strlen(BENCH_TOPIC),
		.record_count = 1,
		.partition = partition,
		.base_offset = r->sequence / BENCH_PARTITIONS,
		.producer_id = 1,
		.sequence = r->sequence / BENCH_PARTITIONS,
		.body = r->body,
		.body_len = r->body_len,
	};
	uint64_t end;

	int rc = journal_append(r->j, &b, clock_realtime_ns(), &end);
	if (rc != 0) {
		return rc;
	}
	r->sequence++;
	if (r->measuring) {
		r->appended++;
		if (r->pending_tail - r->pending_head < BENCH_PENDING_MAX) {
			r->pending[r->pending_tail++ % BENCH_PENDING_MAX] =
				(struct bench_pending){.end = end, .t_ns = now_ns};
		}
	}
	return 0;
}

/* Polls the journal and records the latency of the entries now durable. */
static int bench_poll(struct bench_run *r, uint64_t now_ns)
{
	journal_poll(r->j, now_ns / 1000u);
	if (journal_has_failed(r->j)) {
		return -EIO;
	}
	uint64_t durable = journal_durable_end(r->j);
	while (r->pending_head != r->pending_tail) {
		const struct bench_pending *p = &r->pending[r->pending_head % BENCH_PENDING_MAX];
		if (p->end > durable) {
			break;
		}
		if (r->nsamples < BENCH_SAMPLES_MAX) {
			uint64_t us = (now_ns - p->t_ns) / 1000u;
			r->samples_us[r->nsamples++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
		}
		r->pending_head++;
	}
	return 0;
}

static int bench_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static uint32_t bench_percentile(const uint32_t *sorted, uint64_t n, double q)
{
	if (n == 0) {
		return 0;
	}
	uint64_t i = (uint64_t)(q * (double)(n - 1) + 0.5);
	return sorted[i];
}

/* Runs the warm-up and the measured period. Returns 0 or -errno. */
static int bench_loop(struct bench_run *r, uint64_t *write_bytes, double *elapsed_s)
{
	const struct bench_conf *c = r->conf;
	uint64_t start = clock_monotonic_ns();
	uint64_t measure_at = start + (uint64_t)(c->warmup_s * 1e9);
	uint64_t stop_at = measure_at + (uint64_t)(c->seconds * 1e9);
	uint64_t interval_ns = c->rate != 0 ? 1000000000u / c->rate : 0;
	uint64_t next_send = start;
	uint64_t bytes_at_start = 0;

	for (;;) {
		uint64_t now = clock_monotonic_ns();
		if (!r->measuring && now >= measure_at) {
			r->measuring = true;
			bytes_at_start = journal_counter(r->j, JOURNAL_STAT_WRITE_BYTES);
			for (unsigned s = 0; s < JOURNAL_STAT_COUNT; s++) {
				r->counters_at_start[s] =
					journal_counter(r->j, (enum journal_stat)s);
			}
			next_send = now;
		}
		if (now >= stop_at) {
			*write_bytes =
				journal_counter(r->j, JOURNAL_STAT_WRITE_BYTES) - bytes_at_start;
			*elapsed_s = (double)(now - measure_at) / 1e9;
			return 0;
		}
		/* Paced: every entry due by now (open loop: a late one still counts from its
		 * due time). Closed loop: a burst, until the journal pushes back. */
		for (unsigned i = 0; i < 64; i++) {
			uint64_t due = now;
			if (interval_ns != 0) {
				if (next_send > now) {
					break;
				}
				due = next_send;
			}
			int rc = bench_append(r, due);
			if (rc == -EAGAIN) {
				r->busy += r->measuring;
				break;
			}
			if (rc != 0) {
				return rc;
			}
			next_send += interval_ns;
		}
		int rc = bench_poll(r, clock_monotonic_ns());
		if (rc != 0) {
			return rc;
		}
	}
}

/* Counter `stat` since the measured period began (the drain after it included). */
static uint64_t bench_measured(const struct bench_run *r, enum journal_stat stat)
{
	return journal_counter(r->j, stat) - r->counters_at_start[stat];
}

/* The maintenance thread with retention by bytes, when asked for; *out NULL if not. */
static int bench_maint_start(const struct bench_conf *c, struct journal_retention_rules *rules,
			     struct journal *j, struct journal_maint **out)
{
	*out = NULL;
	if (c->retain_bytes == 0) {
		return 0;
	}
	journal_retention_rules_init(rules, c->retain_bytes, 0);
	struct journal_maint_conf mc = {
		.rules = rules,
		.period_ms = BENCH_MAINT_PERIOD_MS,
		.dedupe_window = 32,
		.producer_idle_ns = 600ull * 1000000000u,
	};
	int rc = journal_maint_create(&mc, &j, 1, out);
	if (rc == 0) {
		rc = journal_maint_start(*out);
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct bench_conf c;
	struct bench_run r = {0};
	uint64_t write_bytes = 0;
	double elapsed = 0;
	uint8_t body[SL_WIRE_FRAME_BYTES_MAX];

	if (argc > 1 && strcmp(argv[1], "--help") == 0) {
		bench_usage(stdout);
		return 0;
	}
	if (bench_parse(argc, argv, &c) != 0) {
		bench_usage(stderr);
		return 2;
	}
	r.conf = &c;
	r.body = body;
	r.body_len = bench_body_init(body, c.entry_bytes);
	r.pending = calloc(BENCH_PENDING_MAX, sizeof(*r.pending));
	r.samples_us = calloc(BENCH_SAMPLES_MAX, sizeof(*r.samples_us));
	if (r.pending == NULL || r.samples_us == NULL) {
		fprintf(stderr, "sluice-bench-journal: out of memory\n");
		return 1;
	}
	int rc = journal_open(&c.journal, NULL, &r.j);
	if (rc != 0) {
		fprintf(stderr, "sluice-bench-journal: cannot open the journal in %s: %s\n",
			c.journal.dir, strerror(-rc));
		return 1;
	}
	struct journal_retention_rules rules;
	struct journal_maint *maint;
	rc = bench_maint_start(&c, &rules, r.j, &maint);
	if (rc == 0) {
		rc = bench_loop(&r, &write_bytes, &elapsed);
	}
	/* Drain, so what was appended is written before the files close. */
	while (rc == 0 && !journal_is_idle(r.j)) {
		rc = bench_poll(&r, clock_monotonic_ns());
	}
	journal_maint_destroy(maint);
	uint64_t fsyncs = journal_counter(r.j, JOURNAL_STAT_FSYNCS);
	uint64_t hist[JOURNAL_STAT_FSYNC_US_GE_20000 - JOURNAL_STAT_FSYNC_US_LT_50 + 1];
	for (unsigned i = 0; i < sizeof(hist) / sizeof(hist[0]); i++) {
		hist[i] = journal_counter(r.j, JOURNAL_STAT_FSYNC_US_LT_50 + i);
	}
	/* Segment counters over the measured period: shows whether it ran in the steady
	 * state (with spares: every segment reused, no zero-fill). */
	uint64_t created = bench_measured(&r, JOURNAL_STAT_SEGMENTS_CREATED);
	uint64_t reused = bench_measured(&r, JOURNAL_STAT_SEGMENTS_REUSED);
	uint64_t recycled = bench_measured(&r, JOURNAL_STAT_SEGMENTS_RECYCLED);
	uint64_t deleted = bench_measured(&r, JOURNAL_STAT_SEGMENTS_DELETED);
	uint64_t zero_fill = bench_measured(&r, JOURNAL_STAT_ZERO_FILL_BYTES);
	int close_rc = journal_close(r.j);
	if (rc == 0) {
		rc = close_rc;
	}
	if (rc != 0) {
		fprintf(stderr, "sluice-bench-journal: journal error: %s\n", strerror(-rc));
		return 1;
	}
	qsort(r.samples_us, r.nsamples, sizeof(*r.samples_us), bench_cmp_u32);
	printf("{\"mode\":\"%s\",\"seconds\":%.3f,\"entries_per_s\":%.0f,"
	       "\"entry_bytes\":%u,\"write_mb_per_s\":%.1f,\"appended_mb_per_s\":%.1f,"
	       "\"busy\":%llu,\"fsyncs\":%llu,\"samples\":%llu,\"p50_us\":%u,\"p99_us\":%u,"
	       "\"p999_us\":%u,\"max_us\":%u,\"segments_created\":%llu,"
	       "\"segments_reused\":%llu,\"segments_recycled\":%llu,\"segments_deleted\":%llu,"
	       "\"zero_fill_bytes\":%llu,\"fsync_us_hist\":[",
	       c.mode, elapsed, (double)r.appended / elapsed, c.entry_bytes,
	       (double)write_bytes / elapsed / 1e6,
	       (double)r.appended * journal_entry_bytes(strlen(BENCH_TOPIC), r.body_len) / elapsed /
		       1e6,
	       (unsigned long long)r.busy, (unsigned long long)fsyncs,
	       (unsigned long long)r.nsamples, bench_percentile(r.samples_us, r.nsamples, 0.50),
	       bench_percentile(r.samples_us, r.nsamples, 0.99),
	       bench_percentile(r.samples_us, r.nsamples, 0.999),
	       bench_percentile(r.samples_us, r.nsamples, 1.0), (unsigned long long)created,
	       (unsigned long long)reused, (unsigned long long)recycled,
	       (unsigned long long)deleted, (unsigned long long)zero_fill);
	/* fdatasync latency buckets: <50 <100 <200 <500 <1000 <2000 <5000 <20000 >=20000 us */
	for (unsigned i = 0; i < sizeof(hist) / sizeof(hist[0]); i++) {
		printf("%s%llu", i == 0 ? "" : ",", (unsigned long long)hist[i]);
	}
	printf("]}\n");
	free(r.pending);
	free(r.samples_us);
	return 0;
}
