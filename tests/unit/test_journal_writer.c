/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The journal writer (journal/journal.h) against real files in a temporary directory:
 * round trips through close and reopen, the durable end under each --fsync policy,
 * flushing by size and by time, segment rolls, torn tails cut and corruption refused at
 * open, injected storage errors and a full disk, on both I/O back ends and with O_DIRECT
 * on and off. Time is a counter passed to journal_poll(); waiting is polling.
 */
#include "journal/journal.h"

#include "core/crc32c.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TEST_DEADLINE_NS (20ull * 1000000000ull)
#define TEST_BODY_BYTES_MAX 2048u
#define TEST_ENTRIES_MAX 4096u

struct test_batch {
	struct journal_batch b;
	uint8_t topic[16];
	uint8_t body[TEST_BODY_BYTES_MAX];
};

/* What a scan of the entries saw, and what the recovery handed over. */
struct test_replay {
	unsigned count;
	uint64_t last_position;
	bool bad;
	uint64_t next[3][7];	  /* per (topic, partition): from the entries */
	uint64_t recovered[3][7]; /* ... from the recovery's partition callback */
	unsigned streams;	  /* streams the recovery handed over */
};

struct test_ctx {
	char root[64];
	char dir[128];
	uint64_t now_us;
	struct journal_conf conf;
	uint64_t ends[TEST_ENTRIES_MAX]; /* end of entry i */
};

static const char *const test_topics[] = {"alpha", "beta.one", "gamma_2"};

static uint64_t test_clock_ns(void)
{
	struct timespec ts;
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void test_put_u16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void test_put_u32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void test_put_u64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

/* Batch i, the same every time: 1..4 records of random keys and values. */
static void test_batch_make(unsigned i, unsigned value_max, struct test_batch *t)
{
	unsigned seed = 1000u + i;
	uint16_t records = (uint16_t)(1 + rand_r(&seed) % 4);
	uint32_t off = 0;
	size_t tl = strlen(test_topics[i % 3]);

	memcpy(t->topic, test_topics[i % 3], tl);
	memset(t->body, 0, sizeof(t->body));
	for (uint16_t r = 0; r < records; r++) {
		uint16_t key_len = (uint16_t)(rand_r(&seed) % 9);
		uint32_t value_len = (uint32_t)rand_r(&seed) % (value_max + 1);
		uint8_t *p = t->body + off;
		test_put_u32(p, value_len);
		test_put_u16(p + 4, key_len);
		test_put_u16(p + 6, 0);
		test_put_u64(p + 8, 1000ull * i + r);
		for (uint32_t k = 0; k < key_len + value_len; k++) {
			p[16 + k] = (uint8_t)rand_r(&seed);
		}
		off += (16 + key_len + value_len + 7) & ~7u;
	}
	assert_true(off <= sizeof(t->body));
	t->b = (struct journal_batch){
		.topic = t->topic,
		.topic_len = (uint8_t)tl,
		.flags = i % 5 == 0 ? JOURNAL_ENTRY_STREAM_HEAD : 0,
		.record_count = records,
		.partition = i % 7,
		.producer_epoch = 3,
		.base_offset = 10ull * i,
		.producer_id = 77,
		.sequence = i,
		.body = t->body,
		.body_len = off,
	};
}

/* Checks that entry number count is batch number count, in position order. */
static int test_replay_check(void *ctx, const struct journal_entry *e, unsigned segment)
{
	struct test_replay *r = ctx;
	struct test_batch t;

	(void)segment;
	test_batch_make(r->count, 200, &t);
	if (e->hdr.sequence != r->count || e->hdr.topic_len != t.b.topic_len ||
	    memcmp(e->topic, t.topic, t.b.topic_len) != 0 || e->hdr.partition != t.b.partition ||
	    e->hdr.producer_id != t.b.producer_id || e->hdr.producer_epoch != 3 ||
	    e->hdr.base_offset != t.b.base_offset || e->hdr.record_count != t.b.record_count ||
	    e->hdr.flags != t.b.flags || e->body_len != t.b.body_len ||
	    memcmp(e->body, t.body, t.b.body_len) != 0 || e->hdr.append_ns != 5000u + r->count ||
	    (r->count > 0 && e->hdr.position <= r->last_position)) {
		r->bad = true;
	}
	r->last_position = e->hdr.position;
	r->count++;
	uint64_t *next = &r->next[(e->hdr.sequence) % 3][e->hdr.partition % 7];
	if (e->hdr.base_offset + e->hdr.record_count > *next) {
		*next = e->hdr.base_offset + e->hdr.record_count;
	}
	return 0;
}

static int test_topic_index(const uint8_t *topic, uint8_t topic_len)
{
	for (int i = 0; i < 3; i++) {
		if (strlen(test_topics[i]) == topic_len &&
		    memcmp(test_topics[i], topic, topic_len) == 0) {
			return i;
		}
	}
	return -1;
}

static int test_recover_partition(void *ctx, const uint8_t *topic, uint8_t topic_len,
				  uint32_t partition, uint64_t next_offset)
{
	struct test_replay *r = ctx;
	int t = test_topic_index(topic, topic_len);

	if (t < 0 || partition >= 7 || r->recovered[t][partition] != 0) {
		r->bad = true;
		return 0;
	}
	r->recovered[t][partition] = next_offset;
	return 0;
}

static int test_recover_stream(void *ctx, const struct journal_state_partition *part,
			       const struct journal_state_stream *stream, uint32_t window)
{
	struct test_replay *r = ctx;

	(void)part;
	if (stream->producer_id != 77 || stream->epoch != 3 || window != 16) {
		r->bad = true;
	}
	r->streams++;
	return 0;
}

static struct journal_recovery test_recovery(struct test_replay *r)
{
	return (struct journal_recovery){.window = 16,
					 .partition = test_recover_partition,
					 .stream = test_recover_stream,
					 .ctx = r};
}

/* Checks every entry of the journal in dir (r->count of them) against the batches. */
static void test_scan_entries(const char *dir, struct test_replay *r)
{
	struct journal_dir d;
	struct journal_scan_result res;

	r->count = 0;
	assert_int_equal(journal_dir_list(dir, &d), 0);
	assert_int_equal(journal_scan(&d, test_replay_check, r, &res), 0);
	assert_false(res.corrupt);
	journal_dir_free(&d);
}

static int test_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int test_setup(void **state)
{
	struct test_ctx *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	(void)snprintf(t->root, sizeof(t->root), "/tmp/sluice-test-journal-XXXXXX");
	assert_non_null(mkdtemp(t->root));
	/* Two levels under the temporary root: journal_open() creates the parents. */
	(void)snprintf(t->dir, sizeof(t->dir), "%s/data/shard-000", t->root);
	t->now_us = 1000000;
	t->conf = (struct journal_conf){
		.dir = t->dir,
		.shard = 0,
		.socket = -1,
		.segment_bytes = 1u << 20,
		.flush_bytes = 8192,
		.flush_us = 0,
		.fsync = JOURNAL_FSYNC_ALWAYS,
		.fsync_us = 1000,
		.buffers = 4,
		.direct_io = false,
		.zero_fill = true,
		.io = JOURNAL_IO_AUTO,
	};
	*state = t;
	return 0;
}

static int test_teardown(void **state)
{
	struct test_ctx *t = *state;

	(void)nftw(t->root, test_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(t);
	return 0;
}

static unsigned test_poll(struct test_ctx *t, struct journal *j)
{
	unsigned n = journal_poll(j, ++t->now_us);

	if (n == 0) {
		journal_io_wait(journal_test_io(j), 1000); /* blocks on I/O, not on time */
	}
	return n;
}

#define TEST_POLL_UNTIL(t, j, cond)                                                                \
	do {                                                                                       \
		uint64_t deadline_ = test_clock_ns() + TEST_DEADLINE_NS;                           \
		while (!(cond) && test_clock_ns() < deadline_) {                                   \
			(void)test_poll(t, j);                                                     \
		}                                                                                  \
		assert_true(cond);                                                                 \
	} while (0)

/* Appends batch i, polling while the journal answers busy or waits for its segment. */
static void test_append(struct test_ctx *t, struct journal *j, unsigned i, unsigned value_max)
{
	struct test_batch b;
	uint64_t deadline = test_clock_ns() + TEST_DEADLINE_NS;
	int rc;

	test_batch_make(i, value_max, &b);
	for (;;) {
		rc = journal_append(j, &b.b, 5000u + i, &t->ends[i]);
		if ((rc != -EAGAIN && rc != -ENOSPC) || test_clock_ns() > deadline) {
			break;
		}
		(void)test_poll(t, j);
	}
	assert_int_equal(rc, 0);
	assert_int_equal(journal_appended_end(j), t->ends[i]);
}

static struct journal *test_open(struct test_ctx *t, struct test_replay *r)
{
	struct journal *j = NULL;

	*r = (struct test_replay){0};
	struct journal_recovery rec = test_recovery(r);
	assert_int_equal(journal_open(&t->conf, &rec, &j), 0);
	assert_non_null(j);
	/* The recovery handed over what the entries say. */
	test_scan_entries(t->dir, r);
	assert_false(r->bad);
	assert_memory_equal(r->next, r->recovered, sizeof(r->next));
	assert_int_equal(r->streams, r->count < 21 ? r->count : 21);
	return j;
}

static unsigned test_segments(const struct test_ctx *t)
{
	struct journal_dir d;
	unsigned n;

	assert_int_equal(journal_dir_list(t->dir, &d), 0);
	n = d.count;
	journal_dir_free(&d);
	return n;
}

static void test_reopen_expect(struct test_ctx *t, unsigned entries)
{
	struct test_replay r;
	struct journal *j = test_open(t, &r);

	assert_int_equal(r.count, entries);
	assert_int_equal(journal_counter(j, JOURNAL_STAT_TORN_TRUNCATIONS), 0);
	assert_int_equal(journal_close(j), 0);
}

static void test_round_trip(struct test_ctx *t, unsigned n)
{
	struct test_replay r;
	struct journal *j = test_open(t, &r);

	assert_int_equal(r.count, 0);
	for (unsigned i = 0; i < n; i++) {
		test_append(t, j, i, 200);
		if (i % 8 == 7) {
			(void)test_poll(t, j);
		}
	}
	TEST_POLL_UNTIL(t, j, journal_is_idle(j));
	assert_int_equal(journal_durable_end(j), t->ends[n - 1]);
	assert_int_equal(journal_counter(j, JOURNAL_STAT_BATCHES), n);
	assert_false(journal_has_failed(j));
	assert_int_equal(journal_close(j), 0);
	test_reopen_expect(t, n);
}

/* ---- Round trips ---- */

static void test_journal_open_close_replays_every_entry(void **state)
{
	struct test_ctx *t = *state;

	test_round_trip(t, 600);
	/* Appending continues after the last entry, across a second reopen. */
	struct test_replay r;
	struct journal *j = test_open(t, &r);
	assert_int_equal(r.count, 600);
	for (unsigned i = 600; i < 700; i++) {
		test_append(t, j, i, 200);
	}
	assert_int_equal(journal_close(j), 0);
	test_reopen_expect(t, 700);
}

static void test_journal_append_rolls_segments(void **state)
{
	struct test_ctx *t = *state;

	t->conf.segment_bytes = 64u * 1024u;
	t->conf.flush_bytes = 4096;
	test_round_trip(t, 900);
	assert_true(test_segments(t) >= 5);
}

static void test_journal_append_rolls_segments_direct_io(void **state)
{
	struct test_ctx *t = *state;

	t->conf.direct_io = true;
	test_journal_append_rolls_segments(state);
}

/* Zero-fill on: the next segment's data area is written with zeros ahead of use (counted);
 * off: nothing is written twice, and segments still roll and read back. */
static void test_journal_zero_fill_on_off(void **state)
{
	struct test_ctx *t = *state;
	uint64_t area = 64u * 1024u - JOURNAL_BLOCK_BYTES;
	struct test_replay r;

	t->conf.segment_bytes = 64u * 1024u;
	t->conf.flush_bytes = 4096;
	struct journal *j = test_open(t, &r);
	for (unsigned i = 0; i < 900; i++) {
		test_append(t, j, i, 200);
	}
	TEST_POLL_UNTIL(t, j,
			journal_counter(j, JOURNAL_STAT_ZERO_FILL_BYTES) % area == 0 &&
				journal_counter(j, JOURNAL_STAT_ZERO_FILL_BYTES) > 0);
	assert_int_equal(journal_close(j), 0);
	test_reopen_expect(t, 900);

	test_teardown(state);
	assert_int_equal(test_setup(state), 0);
	t = *state;
	t->conf.segment_bytes = 64u * 1024u;
	t->conf.flush_bytes = 4096;
	t->conf.zero_fill = false;
	j = test_open(t, &r);
	for (unsigned i = 0; i < 900; i++) {
		test_append(t, j, i, 200);
	}
	TEST_POLL_UNTIL(t, j, journal_is_idle(j));
	assert_int_equal(journal_counter(j, JOURNAL_STAT_ZERO_FILL_BYTES), 0);
	assert_true(journal_counter(j, JOURNAL_STAT_SEGMENTS_CREATED) >= 5);
	assert_int_equal(journal_close(j), 0);
	test_reopen_expect(t, 900);
}

static void test_journal_open_close_thread_backend(void **state)
{
	struct test_ctx *t = *state;
	struct test_replay r;

	t->conf.io = JOURNAL_IO_THREAD;
	struct journal *j = test_open(t, &r);
	assert_int_equal(journal_io_kind_used(j), JOURNAL_IO_THREAD);
	assert_int_equal(journal_close(j), 0);
	test_round_trip(t, 300);
}

static void test_journal_append_rolls_segments_thread_backend(void **state)
{
	struct test_ctx *t = *state;

	t->conf.io = JOURNAL_IO_THREAD;
	test_journal_append_rolls_segments(state);
}

static void test_journal_append_rolls_segments_thread_direct_io(void **state)
{
	struct test_ctx *t = *state;

	t->conf.io = JOURNAL_IO_THREAD;
	t->conf.direct_io = true;
	test_journal_append_rolls_segments(state);
}

static void test_journal_open_uses_uring_here(void **state)
{
	struct test_ctx *t = *state;
	struct test_replay r;
	struct journal_io *io;

	if (journal_io_create(JOURNAL_IO_URING, 8, NULL, 0, &io) != 0) {
		skip(); /* io_uring disabled here */
	}
	journal_io_destroy(io);
	struct journal *j = test_open(t, &r);
	assert_int_equal(journal_io_kind_used(j), JOURNAL_IO_URING);
	assert_int_equal(journal_close(j), 0);
}

/* ---- Durability ---- */

static void test_journal_durable_end_waits_for_fdatasync(void **state)
{
	struct test_ctx *t = *state;
	struct test_replay r;
	uint64_t fsyncs;

	/* INTERVAL with a long interval: the writes complete, the fdatasync waits. */
	t->conf.fsync = JOURNAL_FSYNC_INTERVAL;
	t->conf.fsync_us = 5000000;
	struct journal *j = test_open(t, &r);
	uint64_t start = journal_durable_end(j);
	t->now_us += 10000000; /* the last fdatasync is long ago: the first goes at once */
	test_append(t, j, 0, 200);
	assert_true(journal_durable_end(j) < t->ends[0]);
	TEST_POLL_UNTIL(t, j, journal_durable_end(j) == t->ends[0]);
	fsyncs = journal_counter(j, JOURNAL_STAT_FSYNCS);
	assert_int_equal(fsyncs, 1);
	assert_true(start < t->ends[0]);

	/* Within the interval: written, not durable. */
	test_append(t, j, 1, 200);
	TEST_POLL_UNTIL(t, j,
			journal_counter(j, JOURNAL_STAT_WRITES) >= 2 &&
				journal_io_inflight(journal_test_io(j)) == 0);
	for (int i = 0; i < 100; i++) {
		(void)test_poll(t, j);
	}
	assert_int_equal(journal_durable_end(j), t->ends[0]);
	assert_false(journal_is_idle(j));
	assert_int_equal(journal_counter(j, JOURNAL_STAT_FSYNCS), fsyncs);
	/* Once the interval passed, the fdatasync goes and the end advances on completion. */
	t->now_us += 5000000;
	TEST_POLL_UNTIL(t, j, journal_durable_end(j) == t->ends[1]);
	assert_int_equal(journal_counter(j, JOURNAL_STAT_FSYNCS), fsyncs + 1);
	assert_int_equal(journal_close(j), 0);
	test_reopen_expect(t, 2);
}

static void test_journal_poll_always_syncs_every_flush(void **state)
{
	struct test_ctx *t = *state;
	struct test_replay r;
	uint64_t sum = 0;

	struct journal *j = test_open(t, &r);
	for (unsigned i = 0; i < 50; i++) {
		test_append(t, j, i, 200);
		assert_true(journal_durable_end(j) < t->ends[i]);
		TEST_POLL_UNTIL(t, j, journal_durable_end(j) == t->ends[i]);
	}
	for (int s = JOURNAL_STAT_FLUSH_SIZE; s <= JOURNAL_STAT_FLUSH_CLOSE; s++) {
		sum += journal_counter(j, (enum journal_stat)s);
	}
	assert_int_equal(journal_counter(j, JOURNAL_STAT_FSYNCS), sum);
	assert_int_equal(journal_counter(j, JOURNAL_STAT_FLUSH_TIME), 50);
	uint64_t hist = 0;
	for (int s = JOURNAL_STAT_FSYNC_US_LT_50; s <= JOURNAL_STAT_FSYNC_US_GE_20000; s++) {
		hist += journal_counter(j, (enum journal_stat)s);
	}
	assert_int_equal(hist, sum);
	assert_int_equal(journal_close(j), 0);
}

static void test_journal_poll_never_durable_once_written(void **state)
{
	struct test_ctx *t = *state;
	struct test_replay r;

	t->conf.fsync = JOURNAL_FSYNC_NEVER;
	struct journal *j = test_open(t, &r);
	for (unsigned i = 0; i < 100; i++) {
		test_append(t, j, i, 200);
	}
	assert_true(journal_durable_end(j) < t->ends[99]);
	TEST_POLL_UNTIL(t, j, journal_durable_end(j) == t->ends[99]);
	assert_int_equal(journal_counter(j, JOURNAL_STAT_FSYNCS), 0);
	assert_int_equal(journal_close(j), 0);
	test_reopen_expect(t, 100);
}

static void test_journal_poll_interval_syncs_early_past_window(void **state)
{
	struct test_ctx *t = *state;
	struct test_replay r;

	/* Chunks of 20 KiB, window 40 KiB; the interval never passes. */
	t->conf.fsync = JOURNAL_FSYNC_INTERVAL;
	t->conf.fsync_us = JOURNAL_FSYNC_US_MAX;
	t->conf.flush_bytes = 4096;
	struct journal *j = test_open(t, &r);
	(void)journal_poll(j, t->now_us); /* the first fdatasync is due at once */
	for (unsigned i = 0; i < 600; i++) {
		test_append(t, j, i, 200);
		(void)test_poll(t, j);
		/* Never more than the window unsynced past the durable end, plus what is
		 * staged and not yet issued. */
		assert_true(journal_appended_end(j) - journal_durable_end(j) <=
			    2 * 20480 + 4 * 20480);
	}
	assert_true(journal_counter(j, JOURNAL_STAT_FSYNCS) >= 4);
	assert_int_equal(journal_close(j), 0);
	test_reopen_expect(t, 600);
}

static void test_journal_append_rolls_segments_never_syncs_at_roll(void **state)
{
	struct test_ctx *t = *state;

	t->conf.fsync = JOURNAL_FSYNC_NEVER;
	t->conf.segment_bytes = 64u * 1024u;
	t->conf.flush_bytes = 4096;
	test_round_trip(t, 900);
	unsigned segments = test_segments(t);
	assert_true(segments >= 5);
	/* Re-count: the round trip's journal is gone; write across rolls again. */
	struct test_replay r;
	struct journal *j = test_open(t, &r);
	for (unsigned i = 900; i < 1300; i++) {
		test_append(t, j, i, 200);
	}
	TEST_POLL_UNTIL(t, j, journal_is_idle(j));
	/* The only fdatasyncs of data are the roll barriers. */
	assert_true(journal_counter(j, JOURNAL_STAT_FSYNCS) >= 2);
	assert_true(journal_counter(j, JOURNAL_STAT_FSYNCS) <= test_segments(t));
	assert_int_equal(journal_close(j), 0);
	test_reopen_expect(t, 1300);
}

/* ---- Flush policy and back-pressure ---- */

static void test_journal_poll_flushes_by_size_and_time(void **state)
{
	struct test_ctx *t = *state;
	struct test_replay r;
	unsigned i = 0;

	t->conf.flush_bytes = 4096;
	t->conf.flush_us = 1000;
	struct journal *j = test_open(t, &r);
	(void)journal_poll(j, t->now_us);
	while (journal_counter(j, JOURNAL_STAT_FLUSH_SIZE) == 0) {
		test_append(t, j, i++, 200);
	}
	assert_int_equal(journal_counter(j, JOURNAL_STAT_FLUSH_TIME), 0);
	TEST_POLL_UNTIL(t, j, journal_is_idle(j));
	/* One small entry: sealed when it is flush_us old, not before. */
	uint64_t t0 = ++t->now_us;
	(void)journal_poll(j, t0);
	test_append(t, j, i, 200);
	(void)journal_poll(j, t0 + 999);
	assert_int_equal(journal_counter(j, JOURNAL_STAT_FLUSH_TIME), 0);
	(void)journal_poll(j, t0 + 1000);
	assert_int_equal(journal_counter(j, JOURNAL_STAT_FLUSH_TIME), 1);
	t->now_us = t0 + 1000;
	TEST_POLL_UNTIL(t, j, journal_durable_end(j) == t->ends[i]);
	assert_int_equal(journal_close(j), 0);
	test_reopen_expect(t, i + 1);
}

static void test_journal_append_busy_when_chunks_full(void **state)
{
	struct test_ctx *t = *state;
	struct test_replay r;
	struct test_batch b;
	uint64_t end;
	unsigned i = 0;
	int rc;

	t->conf.flush_bytes = 4096;
	t->conf.buffers = 2;
	struct journal *j = test_open(t, &r);
	/* No polls: both chunks fill and seal, then nothing is free. */
	do {
		test_batch_make(i, 200, &b);
		rc = journal_append(j, &b.b, 5000u + i, &end);
		if (rc == 0) {
			t->ends[i++] = end;
		}
	} while (rc == 0);
	assert_int_equal(rc, -EAGAIN);
	assert_int_equal(journal_counter(j, JOURNAL_STAT_BUSY), 1);
	assert_int_equal(journal_counter(j, JOURNAL_STAT_FLUSH_SIZE), 2);
	TEST_POLL_UNTIL(t, j, journal_is_idle(j));
	test_append(t, j, i, 200);
	assert_int_equal(journal_close(j), 0);
	test_reopen_expect(t, i + 1);
}

/* ---- Recovery ---- */

static void test_file_path(const struct test_ctx *t, uint64_t base, char *out, size_t len)
{
	(void)snprintf(out, len, "%s/" JOURNAL_SEGMENT_NAME_FORMAT, t->dir,
		       (unsigned long long)base);
}

/* Extents of the file at `path` that are allocated but unwritten (fallocated only), or -1
 * when the file system cannot say (FIEMAP unsupported: tmpfs, for one). */
static int test_unwritten_extents(const char *path)
{
	enum { EXTENTS = 64 };
	struct {
		struct fiemap fm;
		struct fiemap_extent ext[EXTENTS];
	} q;
	int fd = open(path, O_RDONLY);
	int n = 0;

	assert_true(fd >= 0);
	memset(&q, 0, sizeof(q));
	q.fm.fm_length = FIEMAP_MAX_OFFSET;
	q.fm.fm_flags = FIEMAP_FLAG_SYNC;
	q.fm.fm_extent_count = EXTENTS;
	if (ioctl(fd, FS_IOC_FIEMAP, &q.fm) != 0) {
		(void)close(fd);
		return -1;
	}
	for (unsigned i = 0; i < q.fm.fm_mapped_extents; i++) {
		n += (q.ext[i].fe_flags & FIEMAP_EXTENT_UNWRITTEN) != 0;
	}
	(void)close(fd);
	return n;
}

/* A fresh journal's first segment is used at once, so it is zero-filled before the first
 * append (later ones are zero-filled ahead while the disk is idle): its data writes then
 * overwrite written blocks. With --no-zero-fill it stays fallocated only. */
static void test_journal_first_segment_zero_filled_at_creation(void **state)
{
	struct test_ctx *t = *state;
	uint64_t area = 64u * 1024u - JOURNAL_BLOCK_BYTES;
	char path[512];
	struct test_replay r;

	t->conf.segment_bytes = 64u * 1024u;
	struct journal *j = test_open(t, &r);
	assert_int_equal(journal_counter(j, JOURNAL_STAT_ZERO_FILL_BYTES), area);
	test_file_path(t, 0, path, sizeof(path));
	int unwritten = test_unwritten_extents(path);
	if (unwritten >= 0) {
		assert_int_equal(unwritten, 0);
	}
	assert_int_equal(journal_close(j), 0);

	test_teardown(state);
	assert_int_equal(test_setup(state), 0);
	t = *state;
	t->conf.segment_bytes = 64u * 1024u;
	t->conf.zero_fill = false;
	j = test_open(t, &r);
	assert_int_equal(journal_counter(j, JOURNAL_STAT_ZERO_FILL_BYTES), 0);
	test_file_path(t, 0, path, sizeof(path));
	unwritten = test_unwritten_extents(path);
	if (unwritten >= 0) {
		assert_true(unwritten > 0);
	}
	assert_int_equal(journal_close(j), 0);
}

static void test_flip_byte(const struct test_ctx *t, uint64_t base, uint64_t position)
{
	char path[256];
	uint8_t v;
	int fd;

	test_file_path(t, base, path, sizeof(path));
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	off_t off = (off_t)journal_segment_offset(base, position);
	assert_int_equal(pread(fd, &v, 1, off), 1);
	v ^= 0x5a;
	assert_int_equal(pwrite(fd, &v, 1, off), 1);
	assert_int_equal(close(fd), 0);
}

static void test_write_entries(struct test_ctx *t, unsigned n)
{
	struct test_replay r;
	struct journal *j = test_open(t, &r);

	for (unsigned i = 0; i < n; i++) {
		test_append(t, j, i, 200);
	}
	assert_int_equal(journal_close(j), 0);
}

static void test_journal_open_torn_tail_truncated(void **state)
{
	struct test_ctx *t = *state;
	const unsigned n = 20;

	t->conf.fsync = JOURNAL_FSYNC_NEVER; /* fewer fdatasyncs: many rounds */
	test_write_entries(t, n);
	uint64_t first = t->ends[n - 2];
	uint64_t bytes = t->ends[n - 1] - first;
	(void)nftw(t->dir, test_rm_one, 16, FTW_DEPTH | FTW_PHYS);

	/* Every byte of the entry header and every 13th after it, in a fresh journal
	 * each time. */
	for (uint64_t k = 0; k < bytes; k += k < JOURNAL_ENTRY_HEADER_BYTES ? 1 : 13) {
		struct test_replay r;
		test_write_entries(t, n);
		assert_int_equal(t->ends[n - 2], first);
		test_flip_byte(t, 0, first + k);
		struct journal *j = test_open(t, &r);
		assert_int_equal(r.count, n - 1);
		assert_int_equal(journal_counter(j, JOURNAL_STAT_TORN_TRUNCATIONS), 1);
		assert_int_equal(journal_appended_end(j), first);
		test_append(t, j, n - 1, 200);
		assert_int_equal(t->ends[n - 1], first + bytes);
		assert_int_equal(journal_close(j), 0);
		test_reopen_expect(t, n);
		(void)nftw(t->dir, test_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	}
}

/* Reads every segment file, to show that a refused open changed nothing. */
static size_t test_snapshot(const struct test_ctx *t, uint8_t *out, size_t cap)
{
	struct journal_dir d;
	size_t total = 0;
	char path[256];

	assert_int_equal(journal_dir_list(t->dir, &d), 0);
	for (unsigned i = 0; i < d.count; i++) {
		test_file_path(t, d.segments[i].base_position, path, sizeof(path));
		int fd = open(path, O_RDONLY);
		assert_true(fd >= 0);
		ssize_t n = pread(fd, out + total, cap - total, 0);
		assert_true(n >= 0 && (size_t)n < cap - total);
		total += (size_t)n;
		(void)close(fd);
	}
	journal_dir_free(&d);
	return total;
}

static void test_expect_refused_untouched(struct test_ctx *t)
{
	size_t cap = 4u << 20;
	uint8_t *before = malloc(cap);
	uint8_t *after = malloc(cap);
	struct journal *j = NULL;
	struct test_replay r = {0};
	struct journal_recovery rec = test_recovery(&r);

	assert_non_null(before);
	assert_non_null(after);
	size_t n = test_snapshot(t, before, cap);
	assert_int_equal(journal_open(&t->conf, &rec, &j), -EPROTO);
	assert_null(j);
	assert_int_equal(test_snapshot(t, after, cap), n);
	assert_memory_equal(before, after, n);
	free(before);
	free(after);
}

static void test_journal_open_corrupt_middle_eproto(void **state)
{
	struct test_ctx *t = *state;

	/* window: 2 chunks of 20 KiB; entries run ~200 KiB past the damage. */
	t->conf.flush_bytes = 4096;
	test_write_entries(t, 1000);
	test_flip_byte(t, 0, t->ends[2] + 70);
	test_expect_refused_untouched(t);
}

static void test_journal_open_unknown_version_eproto(void **state)
{
	struct test_ctx *t = *state;
	uint8_t hdr[64];
	char path[256];
	uint16_t version = JOURNAL_FORMAT_VERSION_RECYCLED + 1;
	uint32_t crc = 0;

	test_write_entries(t, 10);
	test_file_path(t, 0, path, sizeof(path));
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, hdr, sizeof(hdr), 0), sizeof(hdr));
	memcpy(hdr + 4, &version, sizeof(version));
	memcpy(hdr + 60, &crc, sizeof(crc));
	crc = crc32c_extend(0, hdr, sizeof(hdr));
	memcpy(hdr + 60, &crc, sizeof(crc));
	assert_int_equal(pwrite(fd, hdr, sizeof(hdr), 0), sizeof(hdr));
	assert_int_equal(close(fd), 0);
	test_expect_refused_untouched(t);
}

static void test_journal_open_removes_unfinished_segment(void **state)
{
	struct test_ctx *t = *state;
	char path[256];

	test_write_entries(t, 10);
	/* A creation interrupted before its header was written. */
	test_file_path(t, t->conf.segment_bytes - JOURNAL_BLOCK_BYTES, path, sizeof(path));
	int fd = open(path, O_CREAT | O_RDWR, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 65536), 0);
	assert_int_equal(close(fd), 0);
	assert_int_equal(test_segments(t), 2);
	test_reopen_expect(t, 10);
	assert_int_equal(test_segments(t), 1);
}

static void test_journal_open_keeps_prepared_segment(void **state)
{
	struct test_ctx *t = *state;
	struct test_replay r;
	struct stat before;
	struct stat after;
	char path[256];
	uint64_t capacity = 65536 - JOURNAL_BLOCK_BYTES;
	unsigned n = 0;

	t->conf.segment_bytes = 65536;
	struct journal *j = test_open(t, &r);
	/* Past half the segment: the next one is prepared ahead of use. */
	while (journal_appended_end(j) < capacity * 3 / 4) {
		test_append(t, j, n++, 200);
	}
	TEST_POLL_UNTIL(t, j, journal_counter(j, JOURNAL_STAT_SEGMENTS_CREATED) == 2);
	TEST_POLL_UNTIL(t, j, journal_is_idle(j));
	assert_int_equal(journal_close(j), 0);
	test_file_path(t, capacity, path, sizeof(path));
	assert_int_equal(stat(path, &before), 0);

	/* Kept as it is, not removed and created again; appending rolls into it. */
	j = test_open(t, &r);
	assert_int_equal(r.count, n);
	assert_int_equal(journal_counter(j, JOURNAL_STAT_SEGMENTS_CREATED), 0);
	assert_int_equal(stat(path, &after), 0);
	assert_int_equal(before.st_ino, after.st_ino);
	assert_int_equal(journal_sealed_below(j), 0);
	unsigned first = n;
	while (journal_appended_end(j) < capacity + 1000) {
		test_append(t, j, n++, 200);
	}
	assert_int_equal(journal_counter(j, JOURNAL_STAT_ROLL_WAITS), 0);
	assert_true(t->ends[first] <= capacity);
	TEST_POLL_UNTIL(t, j, journal_is_idle(j));
	/* Written into the next segment: the first one is sealed. */
	assert_int_equal(journal_sealed_below(j), capacity);
	assert_int_equal(journal_close(j), 0);
	assert_int_equal(test_segments(t), 2);
	test_reopen_expect(t, n);
}

static void test_journal_open_larger_window_starts_next_segment(void **state)
{
	struct test_ctx *t = *state;
	struct test_replay r;

	t->conf.flush_bytes = 4096;
	test_write_entries(t, 10);
	assert_int_equal(test_segments(t), 1);
	/* Bigger chunks need a bigger window than the segment's header promises. */
	t->conf.flush_bytes = 65536;
	struct journal *j = test_open(t, &r);
	assert_int_equal(r.count, 10);
	for (unsigned i = 10; i < 20; i++) {
		test_append(t, j, i, 200);
	}
	assert_true(t->ends[10] >= t->conf.segment_bytes - JOURNAL_BLOCK_BYTES);
	assert_true(journal_counter(j, JOURNAL_STAT_ROLL_WAITS) >= 1);
	assert_int_equal(journal_close(j), 0);
	assert_int_equal(test_segments(t), 2);
	test_reopen_expect(t, 20);
}

/* ---- Storage errors ---- */

static void test_expect_failed(struct test_ctx *t, struct journal *j, unsigned i, int err)
{
	struct test_batch b;
	uint64_t end;

	TEST_POLL_UNTIL(t, j, journal_has_failed(j));
	assert_false(journal_is_writable(j));
	assert_true(journal_counter(j, JOURNAL_STAT_STORAGE_ERRORS) >= 1);
	assert_true(journal_durable_end(j) < t->ends[i]);
	test_batch_make(i + 1, 200, &b);
	assert_int_equal(journal_append(j, &b.b, 1, &end), -EROFS);
	for (int k = 0; k < 20; k++) {
		(void)test_poll(t, j);
	}
	assert_true(journal_durable_end(j) < t->ends[i]);
	assert_int_equal(journal_close(j), err);
}

static void test_journal_poll_write_eio_fails(void **state)
{
	struct test_ctx *t = *state;
	struct test_replay r;

	struct journal *j = test_open(t, &r);
	test_append(t, j, 0, 200);
	TEST_POLL_UNTIL(t, j, journal_durable_end(j) == t->ends[0]);
	journal_io_inject(journal_test_io(j), JOURNAL_IO_OP_WRITE, -EIO, 1);
	test_append(t, j, 1, 200);
	test_expect_failed(t, j, 1, -EIO);
	assert_int_equal(t->ends[0] < t->ends[1], true);
}

static void test_journal_poll_fdatasync_eio_fails(void **state)
{
	struct test_ctx *t = *state;
	struct test_replay r;

	struct journal *j = test_open(t, &r);
	journal_io_inject(journal_test_io(j), JOURNAL_IO_OP_FDATASYNC, -EIO, 1);
	test_append(t, j, 0, 200);
	test_expect_failed(t, j, 0, -EIO);
}

static void test_journal_poll_fallocate_enospc_waits(void **state)
{
	struct test_ctx *t = *state;
	struct test_replay r;
	struct test_batch b;
	unsigned i = 0;
	int rc = 0;

	t->conf.segment_bytes = 64u * 1024u;
	t->conf.flush_bytes = 4096;
	struct journal *j = test_open(t, &r);
	journal_io_inject(journal_test_io(j), JOURNAL_IO_OP_FALLOCATE, -ENOSPC, 1);
	/* Fill the first segment; creating the second fails for space. */
	uint64_t deadline = test_clock_ns() + TEST_DEADLINE_NS;
	while ((rc == 0 || rc == -EAGAIN) && test_clock_ns() < deadline) {
		test_batch_make(i, 200, &b);
		rc = journal_append(j, &b.b, 5000u + i, &t->ends[i]);
		if (rc == 0) {
			i++;
		}
		(void)test_poll(t, j);
	}
	assert_int_equal(rc, -ENOSPC);
	assert_false(journal_is_writable(j));
	assert_false(journal_has_failed(j));
	assert_true(journal_counter(j, JOURNAL_STAT_ROLL_WAITS) >= 1);
	/* Less than a second later: still waiting. */
	for (int k = 0; k < 50; k++) {
		(void)test_poll(t, j);
	}
	assert_int_equal(journal_append(j, &b.b, 5000u + i, &t->ends[i]), -ENOSPC);
	assert_false(journal_is_writable(j));
	/* A second later the retry succeeds and appends resume. */
	t->now_us += 1000000;
	TEST_POLL_UNTIL(t, j, journal_is_writable(j));
	test_append(t, j, i, 200);
	test_append(t, j, i + 1, 200);
	assert_int_equal(journal_close(j), 0);
	test_reopen_expect(t, i + 2);
	assert_int_equal(test_segments(t), 2);
}

/* ---- Configuration and names ---- */

static void test_journal_open_bad_conf_einval(void **state)
{
	struct test_ctx *t = *state;
	struct journal *j = NULL;
	struct journal_conf c;

	c = t->conf;
	c.segment_bytes = JOURNAL_SEGMENT_BYTES_MIN - JOURNAL_BLOCK_BYTES;
	assert_int_equal(journal_open(&c, NULL, &j), -EINVAL);
	assert_null(j);
	c = t->conf;
	c.segment_bytes += 100;
	assert_int_equal(journal_open(&c, NULL, &j), -EINVAL);
	c = t->conf;
	c.flush_bytes = JOURNAL_FLUSH_BYTES_MAX + 1;
	assert_int_equal(journal_open(&c, NULL, &j), -EINVAL);
	c = t->conf;
	c.buffers = 1;
	assert_int_equal(journal_open(&c, NULL, &j), -EINVAL);
	c = t->conf;
	c.flush_us = JOURNAL_FLUSH_US_MAX + 1;
	assert_int_equal(journal_open(&c, NULL, &j), -EINVAL);
	c = t->conf;
	c.dir = NULL;
	assert_int_equal(journal_open(&c, NULL, &j), -EINVAL);
	assert_int_equal(journal_close(NULL), 0);
}

static void test_journal_stat_name_names(void **state)
{
	(void)state;
	assert_string_equal(journal_stat_name(JOURNAL_STAT_BATCHES), "batches");
	assert_string_equal(journal_stat_name(JOURNAL_STAT_TORN_TRUNCATIONS), "torn_truncations");
	assert_string_equal(journal_stat_name(JOURNAL_STAT_FSYNC_US_LT_50), "fsync_us_lt_50");
	assert_string_equal(journal_stat_name(JOURNAL_STAT_FSYNC_US_GE_20000), "fsync_us_ge_20000");
	for (int s = 0; s < JOURNAL_STAT_COUNT; s++) {
		assert_non_null(journal_stat_name((enum journal_stat)s));
	}
}

static void test_journal_counter_uses_caller_array(void **state)
{
	struct test_ctx *t = *state;
	uint64_t counters[JOURNAL_STAT_COUNT] = {0};
	struct test_replay r;

	t->conf.counters = counters;
	struct journal *j = test_open(t, &r);
	test_append(t, j, 0, 200);
	assert_int_equal(counters[JOURNAL_STAT_BATCHES], 1);
	assert_int_equal(counters[JOURNAL_STAT_BYTES], t->ends[0]);
	assert_int_equal(journal_close(j), 0);
	assert_int_equal(counters[JOURNAL_STAT_SEGMENTS_CREATED], 1);
}

/* ---- Positions shared with the maintenance thread ---- */

/* Polls once and checks sealed_below: it moves only to the base of the segment being
 * rolled into, and only once everything before that base is durable, nothing after. */
static void test_poll_watch_sealed(struct test_ctx *t, struct journal *j, unsigned appended,
				   uint64_t *sealed, unsigned *advances)
{
	(void)test_poll(t, j);
	uint64_t now = journal_sealed_below(j);
	if (now == *sealed) {
		return;
	}
	uint64_t last_old = 0;
	for (unsigned i = 0; i < appended; i++) {
		if (t->ends[i] <= now && t->ends[i] > last_old) {
			last_old = t->ends[i];
		}
	}
	assert_true(now > *sealed);
	assert_int_equal((now - *sealed) % (t->conf.segment_bytes - JOURNAL_BLOCK_BYTES), 0);
	assert_int_equal(journal_durable_end(j), last_old);
	*sealed = now;
	(*advances)++;
}

static void test_journal_sealed_below_advances_at_roll_barrier(void **state)
{
	struct test_ctx *t = *state;
	struct test_replay r;
	uint64_t sealed = 0;
	unsigned advances = 0;
	unsigned n = 1200;

	t->conf.segment_bytes = 64u * 1024u;
	t->conf.flush_bytes = 4096;
	struct journal *j = test_open(t, &r);
	assert_int_equal(journal_sealed_below(j), 0);
	assert_int_equal(journal_retained_start(j), 0);
	for (unsigned i = 0; i < n; i++) {
		struct test_batch b;
		uint64_t deadline = test_clock_ns() + TEST_DEADLINE_NS;
		int rc;
		test_batch_make(i, 200, &b);
		while ((rc = journal_append(j, &b.b, 5000u + i, &t->ends[i])) == -EAGAIN &&
		       test_clock_ns() < deadline) {
			test_poll_watch_sealed(t, j, i, &sealed, &advances);
		}
		assert_int_equal(rc, 0);
		test_poll_watch_sealed(t, j, i + 1, &sealed, &advances);
	}
	while (!journal_is_idle(j)) {
		test_poll_watch_sealed(t, j, n, &sealed, &advances);
	}
	/* Every roll passed its barrier: the newest segment's base is sealed_below. */
	uint64_t capacity = t->conf.segment_bytes - JOURNAL_BLOCK_BYTES;
	assert_true(advances >= 4);
	assert_int_equal(sealed, (t->ends[n - 1] - 1) / capacity * capacity);
	assert_int_equal(journal_close(j), 0);
	/* Reopened: the segment appending continues in bounds the sealed ones. */
	j = test_open(t, &r);
	assert_int_equal(r.count, n);
	assert_int_equal(journal_sealed_below(j), sealed);
	assert_int_equal(journal_retained_start(j), 0);
	journal_set_retained_start(j, capacity);
	assert_int_equal(journal_retained_start(j), capacity);
	assert_int_equal(journal_close(j), 0);
}

static void test_journal_sealed_below_stays_when_barrier_fails(void **state)
{
	struct test_ctx *t = *state;
	struct test_replay r;
	unsigned i = 0;

	/* NEVER: the roll barrier's fdatasync is the only one for data. */
	t->conf.segment_bytes = 64u * 1024u;
	t->conf.flush_bytes = 4096;
	t->conf.fsync = JOURNAL_FSYNC_NEVER;
	struct journal *j = test_open(t, &r);
	uint64_t limit = t->conf.segment_bytes - JOURNAL_BLOCK_BYTES;
	while (journal_appended_end(j) + 2048 < limit) {
		test_append(t, j, i++, 200);
	}
	/* The next segment created, zero-filled and synced: only the barrier is left. */
	TEST_POLL_UNTIL(t, j, journal_is_idle(j) && journal_counter(j, JOURNAL_STAT_WRITES) > 0);
	for (int k = 0; k < 200; k++) {
		(void)test_poll(t, j);
	}
	journal_io_inject(journal_test_io(j), JOURNAL_IO_OP_FDATASYNC, -EIO, 1);
	while (journal_appended_end(j) < limit) {
		test_append(t, j, i++, 200);
	}
	TEST_POLL_UNTIL(t, j, journal_has_failed(j));
	for (int k = 0; k < 50; k++) {
		(void)test_poll(t, j);
	}
	assert_int_equal(journal_sealed_below(j), 0);
	assert_int_equal(journal_close(j), -EIO);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, test_setup, test_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_journal_open_close_replays_every_entry),
		TEST(test_journal_append_rolls_segments),
		TEST(test_journal_append_rolls_segments_direct_io),
		TEST(test_journal_zero_fill_on_off),
		TEST(test_journal_first_segment_zero_filled_at_creation),
		TEST(test_journal_open_close_thread_backend),
		TEST(test_journal_append_rolls_segments_thread_backend),
		TEST(test_journal_append_rolls_segments_thread_direct_io),
		TEST(test_journal_open_uses_uring_here),
		TEST(test_journal_durable_end_waits_for_fdatasync),
		TEST(test_journal_poll_always_syncs_every_flush),
		TEST(test_journal_poll_never_durable_once_written),
		TEST(test_journal_poll_interval_syncs_early_past_window),
		TEST(test_journal_append_rolls_segments_never_syncs_at_roll),
		TEST(test_journal_poll_flushes_by_size_and_time),
		TEST(test_journal_append_busy_when_chunks_full),
		TEST(test_journal_open_torn_tail_truncated),
		TEST(test_journal_open_corrupt_middle_eproto),
		TEST(test_journal_open_unknown_version_eproto),
		TEST(test_journal_open_removes_unfinished_segment),
		TEST(test_journal_open_keeps_prepared_segment),
		TEST(test_journal_open_larger_window_starts_next_segment),
		TEST(test_journal_poll_write_eio_fails),
		TEST(test_journal_poll_fdatasync_eio_fails),
		TEST(test_journal_poll_fallocate_enospc_waits),
		TEST(test_journal_open_bad_conf_einval),
		TEST(test_journal_stat_name_names),
		TEST(test_journal_counter_uses_caller_array),
		TEST(test_journal_sealed_below_advances_at_roll_barrier),
		TEST(test_journal_sealed_below_stays_when_barrier_fails),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
