/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The replay cursor (journal/cursor.h) against a real journal of small (64 KiB) segments
 * in a temporary directory, on both I/O back ends: every entry back in order from the
 * earliest data, exact starts from every offset and from times, the handover to what is
 * still in staging and to new appends, a gap left by retention, corruption and injected
 * read errors. Time is a counter passed to journal_poll(); waiting is polling.
 */
#include "journal/cursor.h"
#include "journal/index.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TEST_DEADLINE_NS (20ull * 1000000000ull)
#define TEST_BODY_BYTES_MAX 2048u
#define TEST_ENTRIES_MAX 2048u
#define TEST_TOPICS 3u
#define TEST_PARTITIONS 2u
/* Parts (topic, partition) numbered topic + TEST_TOPICS * partition: six busy ones, then
 * a rare one most segments lack. */
#define TEST_PARTS (TEST_TOPICS * TEST_PARTITIONS + 1)
#define TEST_RARE_EVERY 301u
#define TEST_VALUE_MAX 300u
#define TEST_BUFFER_BYTES (64u * 1024u)
#define TEST_NS_BASE 1000000u
#define TEST_NS_STEP 10u

static const char *const test_topics[TEST_TOPICS] = {"alpha", "beta.one", "gamma_2"};

struct test_batch {
	struct journal_batch b;
	uint8_t topic[16];
	uint8_t body[TEST_BODY_BYTES_MAX];
};

struct test_ctx {
	char root[64];
	char dir[128];
	uint64_t now_us;
	struct journal_conf conf;
	struct journal *j;
	unsigned appended;
	uint64_t next_offset[TEST_PARTS];
	/* Of entry i: its offsets, where it starts and ends. */
	uint64_t base_offset[TEST_ENTRIES_MAX];
	uint16_t records[TEST_ENTRIES_MAX];
	uint64_t start[TEST_ENTRIES_MAX];
	uint64_t end[TEST_ENTRIES_MAX];
};

static uint64_t test_clock_ns(void)
{
	struct timespec ts;
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static unsigned test_part(unsigned i)
{
	return i % TEST_RARE_EVERY == TEST_RARE_EVERY - 1 ? TEST_PARTS - 1 : i % (TEST_PARTS - 1);
}

/* Batch i, the same every time but for its base offset: 1..4 records of random bytes. */
static void test_batch_make(unsigned i, uint64_t base_offset, struct test_batch *t)
{
	unsigned seed = 2000u + i;
	uint16_t records = (uint16_t)(1 + rand_r(&seed) % 4);
	const char *topic = test_topics[test_part(i) % TEST_TOPICS];
	size_t tl = strlen(topic);
	uint32_t off = 0;

	memcpy(t->topic, topic, tl);
	memset(t->body, 0, sizeof(t->body));
	for (uint16_t r = 0; r < records; r++) {
		uint16_t key_len = (uint16_t)(rand_r(&seed) % 9);
		uint32_t value_len = (uint32_t)rand_r(&seed) % (TEST_VALUE_MAX + 1);
		uint8_t *p = t->body + off;
		uint64_t ts = 1000ull * i + r;
		memcpy(p, &value_len, 4);
		memcpy(p + 4, &key_len, 2);
		memcpy(p + 8, &ts, 8);
		for (uint32_t k = 0; k < key_len + value_len; k++) {
			p[16 + k] = (uint8_t)rand_r(&seed);
		}
		off += (16 + key_len + value_len + 7) & ~7u;
	}
	assert_true(off <= sizeof(t->body));
	t->b = (struct journal_batch){
		.topic = t->topic,
		.topic_len = (uint8_t)tl,
		.record_count = records,
		.partition = test_part(i) / TEST_TOPICS,
		.producer_epoch = 3,
		.base_offset = base_offset,
		.producer_id = 77,
		.sequence = i,
		.body = t->body,
		.body_len = off,
	};
}

static uint64_t test_ns(unsigned i)
{
	return TEST_NS_BASE + (uint64_t)TEST_NS_STEP * i;
}

static unsigned test_poll(struct test_ctx *t)
{
	unsigned n = journal_poll(t->j, ++t->now_us);

	if (n == 0) {
		journal_io_wait(journal_test_io(t->j), 1000); /* blocks on I/O, not on time */
	}
	return n;
}

#define TEST_POLL_UNTIL(t, cond)                                                                   \
	do {                                                                                       \
		uint64_t deadline_ = test_clock_ns() + TEST_DEADLINE_NS;                           \
		while (!(cond) && test_clock_ns() < deadline_) {                                   \
			(void)test_poll(t);                                                        \
		}                                                                                  \
		assert_true(cond);                                                                 \
	} while (0)

/* Appends the next batch, polling while the journal answers busy. */
static void test_append(struct test_ctx *t)
{
	unsigned i = t->appended;
	struct test_batch b;
	uint64_t deadline = test_clock_ns() + TEST_DEADLINE_NS;
	int rc;

	assert_true(i < TEST_ENTRIES_MAX);
	test_batch_make(i, t->next_offset[test_part(i)], &b);
	for (;;) {
		rc = journal_append(t->j, &b.b, test_ns(i), &t->end[i]);
		if (rc != -EAGAIN || test_clock_ns() > deadline) {
			break;
		}
		(void)test_poll(t);
	}
	assert_int_equal(rc, 0);
	t->start[i] = t->end[i] - journal_entry_bytes(b.b.topic_len, b.b.body_len);
	t->base_offset[i] = b.b.base_offset;
	t->records[i] = b.b.record_count;
	t->next_offset[test_part(i)] += b.b.record_count;
	t->appended++;
}

static void test_append_n(struct test_ctx *t, unsigned n)
{
	for (unsigned k = 0; k < n; k++) {
		test_append(t);
	}
}

/* Appends n batches and polls until every one is written (none left in staging): time
 * jumps by --flush-us so the open chunk is sealed at once. */
static void test_append_written(struct test_ctx *t, unsigned n)
{
	test_append_n(t, n);
	t->now_us += t->conf.flush_us;
	TEST_POLL_UNTIL(t, journal_is_idle(t->j));
}

/* Checks that e is entry i, byte for byte. */
static void test_expect_entry(const struct test_ctx *t, const struct journal_entry *e, unsigned i)
{
	struct test_batch b;

	assert_true(i < t->appended);
	test_batch_make(i, t->base_offset[i], &b);
	assert_int_equal(e->hdr.sequence, i);
	assert_int_equal(e->hdr.position, t->start[i]);
	assert_int_equal(e->hdr.entry_bytes, t->end[i] - t->start[i]);
	assert_int_equal(e->hdr.append_ns, test_ns(i));
	assert_int_equal(e->hdr.partition, b.b.partition);
	assert_int_equal(e->hdr.base_offset, b.b.base_offset);
	assert_int_equal(e->hdr.record_count, b.b.record_count);
	assert_int_equal(e->hdr.topic_len, b.b.topic_len);
	assert_memory_equal(e->topic, b.topic, b.b.topic_len);
	assert_int_equal(e->body_len, b.b.body_len);
	assert_memory_equal(e->body, b.body, b.b.body_len);
}

/* The next entry from c, polling while it is not ready. Returns what next() returned
 * last: 1 (entry in *e), 0 (caught up) or an error. */
static int test_next(struct test_ctx *t, struct journal_cursor *c, struct journal_entry *e)
{
	uint64_t deadline = test_clock_ns() + TEST_DEADLINE_NS;
	int rc;

	for (;;) {
		rc = journal_cursor_next(c, e);
		if (rc != 0 || journal_cursor_caught_up(c) || test_clock_ns() > deadline) {
			return rc;
		}
		(void)test_poll(t);
	}
}

/* Reads entries first..appended-1 from c, then expects it caught up at the end. */
static void test_expect_through(struct test_ctx *t, struct journal_cursor *c, unsigned first)
{
	struct journal_entry e;

	for (unsigned i = first; i < t->appended; i++) {
		assert_int_equal(test_next(t, c, &e), 1);
		test_expect_entry(t, &e, i);
		assert_int_equal(journal_cursor_position(c), t->end[i]);
	}
	assert_int_equal(test_next(t, c, &e), 0);
	assert_true(journal_cursor_caught_up(c));
	assert_int_equal(journal_cursor_position(c), journal_appended_end(t->j));
}

static int test_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void test_open(struct test_ctx *t)
{
	assert_int_equal(journal_open(&t->conf, NULL, &t->j), 0);
}

static int test_setup(void **state, enum journal_io_kind io)
{
	struct test_ctx *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	(void)snprintf(t->root, sizeof(t->root), "/tmp/sluice-test-cursor-XXXXXX");
	assert_non_null(mkdtemp(t->root));
	(void)snprintf(t->dir, sizeof(t->dir), "%s/shard-000", t->root);
	t->now_us = 1000000;
	t->conf = (struct journal_conf){
		.dir = t->dir,
		.socket = -1,
		.segment_bytes = JOURNAL_SEGMENT_BYTES_MIN,
		.flush_bytes = JOURNAL_FLUSH_BYTES_MIN,
		/* Chunks are sealed by size only: what the test does not poll out stays in
		 * staging. */
		.flush_us = JOURNAL_FLUSH_US_MAX,
		.fsync = JOURNAL_FSYNC_NEVER,
		.buffers = 8,
		.io = io,
	};
	test_open(t);
	*state = t;
	return 0;
}

static int test_setup_uring(void **state)
{
	return test_setup(state, JOURNAL_IO_AUTO);
}

static int test_setup_thread(void **state)
{
	return test_setup(state, JOURNAL_IO_THREAD);
}

static int test_teardown(void **state)
{
	struct test_ctx *t = *state;

	if (t->j != NULL) {
		assert_int_equal(journal_close(t->j), 0);
	}
	(void)nftw(t->root, test_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(t);
	return 0;
}

static struct journal_cursor *test_cursor(struct test_ctx *t)
{
	struct journal_cursor *c = NULL;

	assert_int_equal(journal_cursor_create(t->j, TEST_BUFFER_BYTES, &c), 0);
	assert_non_null(c);
	return c;
}

/* Base of the segment holding entry i. */
static uint64_t test_segment_of(const struct test_ctx *t, unsigned i)
{
	uint64_t capacity = t->conf.segment_bytes - JOURNAL_BLOCK_BYTES;

	return t->start[i] / capacity * capacity;
}

/* ---- Tests ---- */

static void test_journal_cursor_next_earliest_reads_every_entry(void **state)
{
	struct test_ctx *t = *state;

	test_append_written(t, 600);
	test_append_n(t, 20); /* left in staging */
	assert_true(test_segment_of(t, 599) >= 3 * (t->conf.segment_bytes - JOURNAL_BLOCK_BYTES));
	assert_true(journal_appended_end(t->j) > t->end[599]);

	struct journal_cursor *c = test_cursor(t);
	assert_true(journal_cursor_is_ready(c));
	test_expect_through(t, c, 0);
	assert_true(journal_counter(t->j, JOURNAL_STAT_READS) > 0);
	assert_true(journal_counter(t->j, JOURNAL_STAT_READ_BYTES) >= t->end[599] / 2);
	assert_int_equal(journal_counter(t->j, JOURNAL_STAT_CURSOR_GAPS), 0);
	journal_cursor_destroy(c);

	/* After a restart, from the segments found at open. */
	assert_int_equal(journal_close(t->j), 0);
	test_open(t);
	c = test_cursor(t);
	test_expect_through(t, c, 0);
	test_append_n(t, 5);
	test_expect_through(t, c, 620);
	journal_cursor_destroy(c);
}

static void test_journal_cursor_seek_position_starts_there(void **state)
{
	struct test_ctx *t = *state;
	struct journal_cursor *c;
	struct journal_entry e;

	test_append_written(t, 400);
	test_append_n(t, 10);
	c = test_cursor(t);
	for (unsigned i = 0; i < t->appended; i += 7) {
		journal_cursor_seek_position(c, t->start[i]);
		assert_true(journal_cursor_is_ready(c));
		assert_int_equal(test_next(t, c, &e), 1);
		test_expect_entry(t, &e, i);
	}
	journal_cursor_seek_end(c);
	assert_true(journal_cursor_caught_up(c));
	assert_int_equal(journal_cursor_next(c, &e), 0);
	journal_cursor_seek_earliest(c);
	test_expect_through(t, c, 0);
	journal_cursor_destroy(c);
}

/* The first entry of part p holding offset or a later one, or appended when none. */
static unsigned test_first_at_offset(const struct test_ctx *t, unsigned p, uint64_t offset)
{
	for (unsigned i = 0; i < t->appended; i++) {
		if (test_part(i) == p && t->base_offset[i] + t->records[i] > offset) {
			return i;
		}
	}
	return t->appended;
}

/* Seeks c to every stride-th offset of every part (and just past each end) and checks
 * where it starts. */
static void test_check_offsets(struct test_ctx *t, struct journal_cursor *c, unsigned stride)
{
	struct journal_entry e;

	for (unsigned p = 0; p < TEST_PARTS; p++) {
		const char *topic = test_topics[p % TEST_TOPICS];
		for (uint64_t off = 0; off <= t->next_offset[p] + 1; off += stride) {
			unsigned want = test_first_at_offset(t, p, off);
			journal_cursor_seek_offset(c, (const uint8_t *)topic,
						   (uint8_t)strlen(topic), p / TEST_TOPICS, off);
			int rc = test_next(t, c, &e);
			assert_true(journal_cursor_is_ready(c));
			if (want == t->appended) {
				assert_int_equal(rc, 0);
				assert_true(journal_cursor_caught_up(c));
				continue;
			}
			assert_int_equal(rc, 1);
			test_expect_entry(t, &e, want);
		}
	}
}

/* Seeks c to every stride-th entry's time (and just after the previous one's) and
 * checks where it starts. */
static void test_check_times(struct test_ctx *t, struct journal_cursor *c, unsigned stride)
{
	struct journal_entry e;

	for (unsigned i = 0; i < t->appended; i += stride) {
		journal_cursor_seek_time(c, test_ns(i));
		assert_int_equal(test_next(t, c, &e), 1);
		test_expect_entry(t, &e, i);
		journal_cursor_seek_time(c, test_ns(i) - TEST_NS_STEP + 1);
		assert_int_equal(test_next(t, c, &e), 1);
		test_expect_entry(t, &e, i);
	}
	journal_cursor_seek_time(c, 0);
	assert_int_equal(test_next(t, c, &e), 1);
	test_expect_entry(t, &e, 0);
	journal_cursor_seek_time(c, test_ns(t->appended));
	assert_int_equal(test_next(t, c, &e), 0);
	assert_true(journal_cursor_caught_up(c));
}

/* Segments of an earlier run with another size stay in the catalog beside this run's. */
static void test_journal_cursor_next_reads_segments_of_both_sizes(void **state)
{
	struct test_ctx *t = *state;
	struct journal_cursor *c;

	test_append_written(t, 300);
	assert_int_equal(journal_close(t->j), 0);
	t->conf.segment_bytes = 2 * JOURNAL_SEGMENT_BYTES_MIN;
	test_open(t);
	test_append_written(t, 500);
	test_append_n(t, 10);
	c = test_cursor(t);
	test_expect_through(t, c, 0);
	test_check_offsets(t, c, 5);
	test_check_times(t, c, 5);
	journal_cursor_destroy(c);
}

static void test_journal_cursor_seek_offset_starts_exactly(void **state)
{
	struct test_ctx *t = *state;
	struct journal_cursor *c;
	struct journal_entry e;

	test_append_written(t, 300);
	test_append_n(t, 12); /* the newest offsets are in staging */
	c = test_cursor(t);
	test_check_offsets(t, c, 1);
	/* Past the end, then the partition's next append is the first entry. */
	journal_cursor_seek_offset(c, (const uint8_t *)test_topics[0], 5, 0, t->next_offset[0]);
	assert_int_equal(test_next(t, c, &e), 0);
	assert_true(journal_cursor_caught_up(c));
	unsigned from = t->appended;
	test_append_n(t, 1);
	assert_int_equal(test_next(t, c, &e), 1);
	test_expect_entry(t, &e, from);
	journal_cursor_destroy(c);
}

static void test_journal_cursor_seek_time_starts_at_first_later_entry(void **state)
{
	struct test_ctx *t = *state;
	struct journal_cursor *c;

	test_append_written(t, 300);
	test_append_n(t, 10);
	c = test_cursor(t);
	test_check_times(t, c, 1);
	journal_cursor_destroy(c);
}

static void test_index_path(const struct test_ctx *t, uint64_t base, char *out, size_t len)
{
	(void)snprintf(out, len, "%s/" JOURNAL_INDEX_NAME_FORMAT, t->dir, (unsigned long long)base);
}

/* After a restart every sealed segment has an index: seeks read those instead of the
 * segments they skip, and land on the same entries; a damaged or missing index only
 * costs reading its segment. */
static void test_journal_cursor_seek_uses_indexes(void **state)
{
	struct test_ctx *t = *state;
	struct journal_cursor *c;
	struct journal_entry e;
	char path[256];

	test_append_written(t, 800);
	assert_int_equal(journal_close(t->j), 0);
	test_open(t);
	uint64_t last = test_segment_of(t, t->appended - 1);
	uint64_t capacity = t->conf.segment_bytes - JOURNAL_BLOCK_BYTES;
	assert_true(last >= 4 * capacity);
	test_index_path(t, last - capacity, path, sizeof(path));
	assert_int_equal(access(path, F_OK), 0);
	c = test_cursor(t);

	/* The first entry of the newest sealed segment, found reading little else. */
	unsigned i = 0;
	while (t->start[i] < last - capacity) {
		i++;
	}
	uint64_t before = journal_counter(t->j, JOURNAL_STAT_READ_BYTES);
	journal_cursor_seek_time(c, test_ns(i));
	assert_int_equal(test_next(t, c, &e), 1);
	test_expect_entry(t, &e, i);
	assert_true(journal_counter(t->j, JOURNAL_STAT_READ_BYTES) - before <
		    2 * t->conf.segment_bytes);
	test_check_offsets(t, c, 1);
	test_check_times(t, c, 2);

	/* A damaged index and a missing one. */
	test_index_path(t, capacity, path, sizeof(path));
	assert_int_equal(truncate(path, 10), 0);
	test_index_path(t, 2 * capacity, path, sizeof(path));
	assert_int_equal(unlink(path), 0);
	test_check_offsets(t, c, 3);
	test_check_times(t, c, 3);
	journal_cursor_destroy(c);
}

/* Reading while appends go on: each entry once, in order, from disk, staging or live. */
static void test_journal_cursor_next_follows_appends(void **state)
{
	struct test_ctx *t = *state;
	struct journal_cursor *c;
	struct journal_entry e;
	unsigned seed = 42;
	unsigned read = 0;

	test_append_written(t, 50);
	c = test_cursor(t);
	for (unsigned round = 1; t->appended < 1500; round++) {
		test_append_n(t, (unsigned)rand_r(&seed) % 12);
		for (unsigned k = rand_r(&seed) % 4; k > 0; k--) {
			(void)journal_poll(t->j, ++t->now_us);
		}
		for (unsigned k = rand_r(&seed) % 16; k > 0; k--) {
			int rc = journal_cursor_next(c, &e);
			assert_true(rc >= 0);
			if (rc == 1) {
				test_expect_entry(t, &e, read++);
			}
		}
		if (round % 25 == 0) {
			/* Catch up: the newest entries are still in the open chunk. */
			test_expect_through(t, c, read);
			read = t->appended;
		}
	}
	test_expect_through(t, c, read);
	journal_cursor_destroy(c);
}

/* A roll while the entries around it are still staged: the cursor hands out the old
 * segment's last entries, jumps over its zero end and goes on in the new one, all from
 * the staging chunks. */
static void test_journal_cursor_next_follows_staged_roll(void **state)
{
	struct test_ctx *t = *state;
	uint64_t capacity = t->conf.segment_bytes - JOURNAL_BLOCK_BYTES;
	struct journal_cursor *early = test_cursor(t);
	struct journal_cursor *late = test_cursor(t);
	struct journal_entry e;

	do {
		test_append_written(t, 1);
	} while (t->end[t->appended - 1] % capacity < capacity - 3 * 1024ull);
	journal_cursor_seek_end(late);
	unsigned first = t->appended;
	test_append_n(t, 24); /* no poll: nothing of these is written */
	unsigned k = first;
	while (k < t->appended && test_segment_of(t, k) == test_segment_of(t, first)) {
		k++;
	}
	/* The roll left the old segment's end unused. */
	assert_true(k > first && k < t->appended);
	assert_int_equal(t->start[k], test_segment_of(t, first) + capacity);
	assert_true(t->end[k - 1] < t->start[k]);
	/* No poll: everything comes from memory at once. */
	for (unsigned i = first; i < t->appended; i++) {
		assert_int_equal(journal_cursor_next(late, &e), 1);
		test_expect_entry(t, &e, i);
	}
	assert_int_equal(journal_cursor_next(late, &e), 0);
	assert_true(journal_cursor_caught_up(late));
	test_expect_through(t, early, 0);
	journal_cursor_destroy(early);
	journal_cursor_destroy(late);
}

/* The same with O_DIRECT writes: the cursor's buffered reads see what they wrote. */
static void test_journal_cursor_next_follows_direct_io_appends(void **state)
{
	struct test_ctx *t = *state;

	assert_int_equal(journal_close(t->j), 0);
	t->conf.direct_io = true;
	test_open(t);
	test_journal_cursor_next_follows_appends(state);
}

static void test_segment_path(const struct test_ctx *t, uint64_t base, char *out, size_t len)
{
	(void)snprintf(out, len, "%s/" JOURNAL_SEGMENT_NAME_FORMAT, t->dir,
		       (unsigned long long)base);
}

static void test_journal_cursor_next_skips_deleted_segment(void **state)
{
	struct test_ctx *t = *state;
	struct journal_cursor *reading = test_cursor(t);
	struct journal_cursor *idle = test_cursor(t);
	struct journal_entry e;
	char path[256];
	unsigned first = 0;

	test_append_written(t, 600);
	/* One cursor has the oldest segment open, the other has not started. */
	assert_int_equal(test_next(t, reading, &e), 1);
	test_expect_entry(t, &e, 0);
	uint64_t second = test_segment_of(t, 0) + t->conf.segment_bytes - JOURNAL_BLOCK_BYTES;
	while (t->start[first] < second) {
		first++;
	}
	assert_int_equal(t->start[first], second);
	journal_set_retained_start(t->j, second);
	test_segment_path(t, 0, path, sizeof(path));
	assert_int_equal(unlink(path), 0);

	assert_int_equal(test_next(t, reading, &e), 1);
	test_expect_entry(t, &e, first);
	assert_int_equal(journal_counter(t->j, JOURNAL_STAT_CURSOR_GAPS), 1);
	journal_cursor_seek_position(idle, 0);
	assert_int_equal(test_next(t, idle, &e), 1);
	test_expect_entry(t, &e, first);
	assert_int_equal(journal_counter(t->j, JOURNAL_STAT_CURSOR_GAPS), 2);
	test_expect_through(t, reading, first + 1);
	journal_cursor_destroy(reading);
	journal_cursor_destroy(idle);
}

static void test_journal_cursor_next_missing_segment_enoent(void **state)
{
	struct test_ctx *t = *state;
	struct journal_cursor *c = test_cursor(t);
	struct journal_entry e;
	char path[256];

	test_append_written(t, 300);
	test_segment_path(t, 0, path, sizeof(path));
	assert_int_equal(unlink(path), 0); /* deleted without retention saying so */
	assert_int_equal(test_next(t, c, &e), -ENOENT);
	assert_int_equal(journal_cursor_next(c, &e), -ENOENT);
	assert_int_equal(journal_counter(t->j, JOURNAL_STAT_CURSOR_GAPS), 0);
	journal_cursor_destroy(c);
}

static void test_journal_cursor_next_corrupt_entry_eproto(void **state)
{
	struct test_ctx *t = *state;
	struct journal_cursor *c;
	struct journal_entry e;
	char path[256];
	uint8_t v;

	test_append_written(t, 300);
	unsigned bad = 150;
	uint64_t base = test_segment_of(t, bad);
	test_segment_path(t, base, path, sizeof(path));
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	off_t off = (off_t)journal_segment_offset(base, t->start[bad] + 70);
	assert_int_equal(pread(fd, &v, 1, off), 1);
	v ^= 0x5a;
	assert_int_equal(pwrite(fd, &v, 1, off), 1);
	assert_int_equal(close(fd), 0);

	c = test_cursor(t);
	for (unsigned i = 0; i < bad; i++) {
		assert_int_equal(test_next(t, c, &e), 1);
		test_expect_entry(t, &e, i);
	}
	assert_int_equal(test_next(t, c, &e), -EPROTO);
	assert_int_equal(journal_cursor_next(c, &e), -EPROTO);
	assert_int_equal(journal_cursor_position(c), t->start[bad]);
	/* A seek past it reads on. */
	journal_cursor_seek_position(c, t->start[bad + 1]);
	test_expect_through(t, c, bad + 1);
	journal_cursor_destroy(c);
}

static void test_journal_cursor_next_read_error_returned(void **state)
{
	struct test_ctx *t = *state;
	struct journal_cursor *c;
	struct journal_entry e;

	test_append_written(t, 300);
	c = test_cursor(t);
	journal_io_inject(journal_test_io(t->j), JOURNAL_IO_OP_READ, -EIO, 1);
	assert_int_equal(test_next(t, c, &e), -EIO);
	assert_int_equal(journal_cursor_next(c, &e), -EIO);
	journal_cursor_seek_earliest(c);
	test_expect_through(t, c, 0);

	/* The cursor is in the newest segment: going back opens the oldest. */
	journal_io_inject(journal_test_io(t->j), JOURNAL_IO_OP_OPEN, -EMFILE, 1);
	journal_cursor_seek_position(c, t->start[1]);
	assert_int_equal(test_next(t, c, &e), -EMFILE);
	journal_cursor_seek_position(c, t->start[1]);
	assert_int_equal(test_next(t, c, &e), 1);
	test_expect_entry(t, &e, 1);
	journal_cursor_destroy(c);
}

static void test_journal_cursor_create_bounds(void **state)
{
	struct test_ctx *t = *state;
	struct journal_cursor *c[3] = {NULL, NULL, NULL};

	assert_int_equal(journal_cursor_create(t->j, JOURNAL_CURSOR_BUFFER_BYTES_MIN - 1, &c[0]),
			 -EINVAL);
	assert_null(c[0]);
	assert_int_equal(journal_close(t->j), 0);
	t->conf.cursors_max = 2;
	test_open(t);
	assert_int_equal(journal_cursor_create(t->j, JOURNAL_CURSOR_BUFFER_BYTES_MIN, &c[0]), 0);
	assert_int_equal(journal_cursor_create(t->j, JOURNAL_CURSOR_BUFFER_BYTES_MIN, &c[1]), 0);
	assert_int_equal(journal_cursor_create(t->j, JOURNAL_CURSOR_BUFFER_BYTES_MIN, &c[2]),
			 -ENOSPC);
	journal_cursor_destroy(c[0]);
	assert_int_equal(journal_cursor_create(t->j, JOURNAL_CURSOR_BUFFER_BYTES_MIN, &c[2]), 0);
	/* The smallest buffer still reads everything. */
	test_append_written(t, 200);
	test_expect_through(t, c[2], 0);
	journal_cursor_destroy(c[1]);
	journal_cursor_destroy(c[2]);
	journal_cursor_destroy(NULL);
	assert_int_equal(journal_close(t->j), 0);
	t->conf.cursors_max = JOURNAL_CURSORS_MAX + 1;
	assert_int_equal(journal_open(&t->conf, NULL, &t->j), -EINVAL);
	t->j = NULL;
}

#define TEST_BOTH(f)                                                                               \
	cmocka_unit_test_setup_teardown(f, test_setup_uring, test_teardown),                       \
		cmocka_unit_test_setup_teardown(f, test_setup_thread, test_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST_BOTH(test_journal_cursor_next_earliest_reads_every_entry),
		TEST_BOTH(test_journal_cursor_next_reads_segments_of_both_sizes),
		TEST_BOTH(test_journal_cursor_seek_position_starts_there),
		TEST_BOTH(test_journal_cursor_seek_offset_starts_exactly),
		TEST_BOTH(test_journal_cursor_seek_time_starts_at_first_later_entry),
		TEST_BOTH(test_journal_cursor_seek_uses_indexes),
		TEST_BOTH(test_journal_cursor_next_follows_appends),
		TEST_BOTH(test_journal_cursor_next_follows_direct_io_appends),
		TEST_BOTH(test_journal_cursor_next_follows_staged_roll),
		TEST_BOTH(test_journal_cursor_next_skips_deleted_segment),
		TEST_BOTH(test_journal_cursor_next_missing_segment_enoent),
		TEST_BOTH(test_journal_cursor_next_corrupt_entry_eproto),
		TEST_BOTH(test_journal_cursor_next_read_error_returned),
		TEST_BOTH(test_journal_cursor_create_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
