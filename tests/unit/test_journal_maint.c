/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Journal maintenance (journal/maint.h) over journals written by the writer in a
 * temporary directory, 64 KiB segments: indexes appear for sealed segments only, damaged
 * ones are rebuilt, retention deletes by bytes and by age (a fake clock), honours
 * per-topic limits, moves retained_start first, counts, holds back at a segment it cannot
 * index, and a reopened journal still recovers every partition's next offset. With
 * spares, retention recycles segments the writer then reuses: recovery, the torn-tail cut
 * and replay cursors take exactly the entries written since, never the stale ones. The
 * thread runs passes by itself and carries its name.
 */
#include "journal/cursor.h"
#include "journal/index.h"
#include "journal/journal.h"
#include "journal/maint.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
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
#define TEST_S 1000000000ull
#define TEST_T0 (1700000000ull * TEST_S) /* append time of the first batch */
#define TEST_SEGMENTS_MAX 64u
#define TEST_PARTS 3u

static const char *const test_topics[TEST_PARTS] = {"alpha", "alpha", "beta"};
static const uint32_t test_partitions[TEST_PARTS] = {0, 1, 0};

struct test_ctx {
	char root[64];
	char dir[128];
	uint64_t now_us;
	struct journal_conf conf;
	struct journal_retention_rules rules;
	uint64_t counters[JOURNAL_STAT_COUNT];
	uint64_t next[TEST_PARTS];	/* next offset per test partition */
	uint64_t recovered[TEST_PARTS]; /* what a reopen handed over */
	unsigned batches;
	uint64_t sized_sequence; /* of test_append_sized()'s producer */
};

static uint64_t test_clock_ns(void)
{
	struct timespec ts;
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
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
	(void)snprintf(t->root, sizeof(t->root), "/tmp/sluice-test-maint-XXXXXX");
	assert_non_null(mkdtemp(t->root));
	(void)snprintf(t->dir, sizeof(t->dir), "%s/shard-000", t->root);
	t->now_us = 1000000;
	t->conf = (struct journal_conf){
		.dir = t->dir,
		.socket = -1,
		.segment_bytes = 64u * 1024u,
		.flush_bytes = 4096,
		.fsync = JOURNAL_FSYNC_ALWAYS,
		.buffers = 4,
		.io = JOURNAL_IO_AUTO,
		.counters = t->counters,
	};
	journal_retention_rules_init(&t->rules, 0, 0);
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

static int test_part_of(const uint8_t *topic, uint8_t len, uint32_t partition)
{
	for (unsigned p = 0; p < TEST_PARTS; p++) {
		if (strlen(test_topics[p]) == len && memcmp(test_topics[p], topic, len) == 0 &&
		    test_partitions[p] == partition) {
			return (int)p;
		}
	}
	return -1;
}

static int test_recover_partition(void *ctx, const uint8_t *topic, uint8_t topic_len,
				  uint32_t partition, uint64_t next_offset)
{
	struct test_ctx *t = ctx;
	int p = test_part_of(topic, topic_len, partition);

	if (p < 0) {
		return -EPROTO;
	}
	t->recovered[p] = next_offset;
	return 0;
}

static struct journal *test_open(struct test_ctx *t)
{
	struct journal_recovery rec = {.window = 8, .partition = test_recover_partition, .ctx = t};
	struct journal *j = NULL;

	memset(t->recovered, 0, sizeof(t->recovered));
	assert_int_equal(journal_open(&t->conf, &rec, &j), 0);
	return j;
}

static void test_poll_idle(struct test_ctx *t, struct journal *j)
{
	uint64_t deadline = test_clock_ns() + TEST_DEADLINE_NS;

	while (!journal_is_idle(j) && test_clock_ns() < deadline) {
		if (journal_poll(j, ++t->now_us) == 0) {
			journal_io_wait(journal_test_io(j), 1000);
		}
	}
	assert_true(journal_is_idle(j));
}

/* Appends n batches (2 records of 200-byte values) to test partition p at append_ns. */
static void test_append(struct test_ctx *t, struct journal *j, unsigned p, unsigned n,
			uint64_t append_ns)
{
	uint8_t body[2 * 216]; /* record: 16-byte header, value */

	for (unsigned i = 0; i < n; i++) {
		memset(body, 0, sizeof(body));
		for (unsigned r = 0; r < 2; r++) {
			uint32_t value_len = 200;
			memcpy(body + r * 216, &value_len, sizeof(value_len));
			memset(body + r * 216 + 16, (int)(t->batches + r), value_len);
		}
		struct journal_batch b = {
			.topic = (const uint8_t *)test_topics[p],
			.topic_len = (uint8_t)strlen(test_topics[p]),
			.record_count = 2,
			.partition = test_partitions[p],
			.producer_epoch = 1,
			.base_offset = t->next[p],
			.producer_id = 100 + p,
			.sequence = t->next[p] / 2,
			.body = body,
			.body_len = sizeof(body),
		};
		uint64_t end;
		uint64_t deadline = test_clock_ns() + TEST_DEADLINE_NS;
		int rc;
		while ((rc = journal_append(j, &b, append_ns, &end)) == -EAGAIN &&
		       test_clock_ns() < deadline) {
			if (journal_poll(j, ++t->now_us) == 0) {
				journal_io_wait(journal_test_io(j), 1000);
			}
		}
		assert_int_equal(rc, 0);
		t->next[p] += 2;
		t->batches++;
	}
	test_poll_idle(t, j);
}

static uint64_t test_capacity(const struct test_ctx *t)
{
	return t->conf.segment_bytes - JOURNAL_BLOCK_BYTES;
}

static bool test_file_exists(const struct test_ctx *t, uint64_t base, const char *ext)
{
	char path[256];
	struct stat st;

	(void)snprintf(path, sizeof(path), "%s/%020llu.%s", t->dir, (unsigned long long)base, ext);
	return stat(path, &st) == 0;
}

/* Bytes of every .seg and .idx file in the directory. */
static uint64_t test_dir_bytes(const struct test_ctx *t)
{
	DIR *d = opendir(t->dir);
	struct dirent *e;
	uint64_t sum = 0;
	char path[512];
	struct stat st;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len < 4 || (strcmp(e->d_name + len - 4, ".seg") != 0 &&
				strcmp(e->d_name + len - 4, ".idx") != 0)) {
			continue;
		}
		(void)snprintf(path, sizeof(path), "%s/%s", t->dir, e->d_name);
		assert_int_equal(stat(path, &st), 0);
		sum += (uint64_t)st.st_size;
	}
	(void)closedir(d);
	return sum;
}

/* The summary of the sealed segment at base, read from its index. */
static void test_read_index(const struct test_ctx *t, uint64_t base, struct journal_index *ix)
{
	char path[256];

	assert_int_equal(journal_index_path(t->dir, base, path, sizeof(path)), 0);
	assert_int_equal(journal_index_read(path, base, ix), 0);
}

static struct journal_maint *test_maint(struct test_ctx *t, struct journal *j)
{
	struct journal_maint_conf conf = {.rules = &t->rules, .period_ms = 10, .dedupe_window = 8};
	struct journal_maint *m = NULL;

	assert_int_equal(journal_maint_create(&conf, &j, 1, &m), 0);
	return m;
}

static void test_reopen_expect_offsets(struct test_ctx *t)
{
	struct journal *j = test_open(t);

	assert_memory_equal(t->recovered, t->next, sizeof(t->next));
	assert_int_equal(journal_close(j), 0);
}

/* ---- Indexes ---- */

static void test_journal_maint_run_once_indexes_sealed_segments(void **state)
{
	struct test_ctx *t = *state;
	struct journal *j = test_open(t);

	test_append(t, j, 0, 300, TEST_T0);
	test_append(t, j, 2, 300, TEST_T0);
	uint64_t sealed = journal_sealed_below(j);
	unsigned nsealed = (unsigned)(sealed / test_capacity(t));
	assert_true(nsealed >= 4);

	struct journal_maint *m = test_maint(t, j);
	journal_maint_run_once(m, TEST_T0);
	for (uint64_t base = 0; base < sealed; base += test_capacity(t)) {
		assert_true(test_file_exists(t, base, "idx"));
	}
	assert_false(test_file_exists(t, sealed, "idx")); /* not sealed: not indexed */
	assert_int_equal(journal_counter(j, JOURNAL_STAT_INDEX_BUILT), nsealed);
	assert_int_equal(journal_counter(j, JOURNAL_STAT_SEGMENTS_DELETED), 0);
	/* Nothing new sealed: nothing done again. */
	journal_maint_run_once(m, TEST_T0);
	assert_int_equal(journal_counter(j, JOURNAL_STAT_INDEX_BUILT), nsealed);
	journal_maint_destroy(m);

	/* The newest index carries the state: every partition's next offset so far. */
	struct journal_index ix;
	test_read_index(t, sealed - test_capacity(t), &ix);
	int32_t k = journal_state_find_part(&ix.state, (const uint8_t *)"alpha", 5, 0);
	assert_true(k >= 0);
	assert_int_equal(ix.state.parts[k].next_offset, t->next[0]);
	journal_index_free(&ix);

	/* A damaged index is rebuilt by a new maintenance (as after a restart). */
	char path[256];
	assert_int_equal(journal_index_path(t->dir, test_capacity(t), path, sizeof(path)), 0);
	int fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "XXXX", 4, 100), 4);
	assert_int_equal(close(fd), 0);
	m = test_maint(t, j);
	journal_maint_run_once(m, TEST_T0);
	assert_int_equal(journal_counter(j, JOURNAL_STAT_INDEX_REBUILT), 1);
	assert_int_equal(journal_counter(j, JOURNAL_STAT_INDEX_BUILT), nsealed);
	test_read_index(t, test_capacity(t), &ix);
	journal_index_free(&ix);
	journal_maint_destroy(m);
	assert_int_equal(journal_close(j), 0);
	test_reopen_expect_offsets(t);
}

/* ---- Retention ---- */

static void test_journal_maint_retention_by_bytes(void **state)
{
	struct test_ctx *t = *state;
	uint64_t limit = 128u * 1024u;
	struct journal *j = test_open(t);

	test_append(t, j, 0, 400, TEST_T0);
	test_append(t, j, 1, 400, TEST_T0);
	uint64_t sealed = journal_sealed_below(j);
	/* Indexed first without limits, so that the bytes freed are the files' bytes. */
	struct journal_maint *m = test_maint(t, j);
	journal_maint_run_once(m, TEST_T0);
	assert_int_equal(journal_counter(j, JOURNAL_STAT_SEGMENTS_DELETED), 0);
	journal_maint_destroy(m);
	uint64_t before = test_dir_bytes(t);
	journal_retention_rules_init(&t->rules, limit, 0);
	m = test_maint(t, j);
	journal_maint_run_once(m, TEST_T0);

	uint64_t start = journal_retained_start(j);
	uint64_t deleted = journal_counter(j, JOURNAL_STAT_SEGMENTS_DELETED);
	assert_true(deleted >= 2);
	assert_int_equal(start, deleted * test_capacity(t));
	/* Gone below retained_start, there from it on. */
	for (uint64_t base = 0; base < sealed; base += test_capacity(t)) {
		assert_int_equal(test_file_exists(t, base, "seg"), base >= start);
		assert_int_equal(test_file_exists(t, base, "idx"), base >= start);
	}
	assert_int_equal(journal_counter(j, JOURNAL_STAT_RETENTION_BYTES),
			 before - test_dir_bytes(t));
	/* What is kept (indexed segments) is at least the limit, and would not be
	 * without the oldest kept segment: no more and no less was deleted. */
	uint64_t kept = 0;
	uint64_t oldest = 0;
	for (uint64_t base = start; base < sealed; base += test_capacity(t)) {
		struct journal_index ix;
		uint64_t bytes = 0;
		test_read_index(t, base, &ix);
		for (uint32_t p = 0; p < ix.nparts; p++) {
			bytes += ix.parts[p].bytes;
		}
		oldest = base == start ? bytes : oldest;
		kept += bytes;
		journal_index_free(&ix);
	}
	assert_true(kept >= limit);
	assert_true(kept - oldest < limit);
	assert_int_equal(journal_counter(j, JOURNAL_STAT_MAINT_ERRORS), 0);
	/* A second pass with nothing new deletes nothing more. */
	journal_maint_run_once(m, TEST_T0);
	assert_int_equal(journal_counter(j, JOURNAL_STAT_SEGMENTS_DELETED), deleted);
	journal_maint_destroy(m);
	/* An index whose segment is gone (a crash between the two unlinks) is removed by
	 * the first pass of the next maintenance. */
	char orphan[256];
	assert_int_equal(journal_index_path(t->dir, 0, orphan, sizeof(orphan)), 0);
	int fd = open(orphan, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(close(fd), 0);
	m = test_maint(t, j);
	journal_maint_run_once(m, TEST_T0);
	assert_false(test_file_exists(t, 0, "idx"));
	assert_true(test_file_exists(t, start, "idx"));
	assert_int_equal(journal_counter(j, JOURNAL_STAT_SEGMENTS_DELETED), deleted);
	journal_maint_destroy(m);
	assert_int_equal(journal_close(j), 0);

	/* Reopened: offsets from the surviving indexes, data from retained_start. */
	j = test_open(t);
	assert_memory_equal(t->recovered, t->next, sizeof(t->next));
	assert_int_equal(journal_retained_start(j), start);
	struct journal_dir d;
	assert_int_equal(journal_dir_list(t->dir, &d), 0);
	assert_int_equal(d.segments[0].base_position, start);
	journal_dir_free(&d);
	/* Appending continues the offsets. */
	test_append(t, j, 0, 10, TEST_T0);
	assert_int_equal(journal_close(j), 0);
	test_reopen_expect_offsets(t);
}

static void test_journal_maint_retention_by_age_and_topic(void **state)
{
	struct test_ctx *t = *state;
	uint64_t age = 3600 * TEST_S;
	uint64_t now = TEST_T0 + 10 * age;
	struct journal *j = test_open(t);

	/* Old data of alpha and one old batch of beta first, then new data. */
	test_append(t, j, 2, 1, TEST_T0);
	test_append(t, j, 0, 300, TEST_T0);
	test_append(t, j, 0, 300, now - TEST_S);
	uint64_t sealed = journal_sealed_below(j);

	/* beta unlimited: the first segment holds beta, so nothing goes. */
	journal_retention_rules_init(&t->rules, 0, age);
	assert_int_equal(journal_retention_rules_set(&t->rules, (const uint8_t *)"beta", 4, false,
						     0, true, 0),
			 0);
	struct journal_maint *m = test_maint(t, j);
	journal_maint_run_once(m, now);
	assert_int_equal(journal_counter(j, JOURNAL_STAT_SEGMENTS_DELETED), 0);
	assert_int_equal(journal_retained_start(j), 0);
	journal_maint_destroy(m);

	/* Which segments hold only old data: those must go, the first new one stays. */
	uint64_t expect = 0;
	for (uint64_t base = 0; base + test_capacity(t) < sealed; base += test_capacity(t)) {
		struct journal_index ix;
		test_read_index(t, base, &ix);
		bool old = ix.max_ns < now - age;
		journal_index_free(&ix);
		if (!old) {
			break;
		}
		expect = base + test_capacity(t);
	}
	assert_true(expect >= 2 * test_capacity(t));

	/* Not yet old at an earlier now. */
	journal_retention_rules_init(&t->rules, 0, age);
	m = test_maint(t, j);
	journal_maint_run_once(m, TEST_T0 + age);
	assert_int_equal(journal_counter(j, JOURNAL_STAT_SEGMENTS_DELETED), 0);
	journal_maint_run_once(m, now);
	assert_int_equal(journal_retained_start(j), expect);
	assert_int_equal(journal_counter(j, JOURNAL_STAT_SEGMENTS_DELETED),
			 expect / test_capacity(t));
	assert_false(test_file_exists(t, expect - test_capacity(t), "seg"));
	assert_true(test_file_exists(t, expect, "seg"));
	journal_maint_destroy(m);
	assert_int_equal(journal_close(j), 0);
	/* beta's only batch is gone with its segment; its offset is still known. */
	test_reopen_expect_offsets(t);
}

static void test_journal_maint_damaged_segment_holds_back(void **state)
{
	struct test_ctx *t = *state;
	struct journal *j = test_open(t);

	test_append(t, j, 0, 500, TEST_T0);
	uint64_t sealed = journal_sealed_below(j);
	assert_true(sealed >= 4 * test_capacity(t));
	/* Damage an entry in the middle of the third segment. */
	char path[256];
	(void)snprintf(path, sizeof(path), "%s/%020llu.seg", t->dir,
		       (unsigned long long)(2 * test_capacity(t)));
	int fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "\xff\xff\xff\xff", 4, JOURNAL_BLOCK_BYTES + 20000), 4);
	assert_int_equal(close(fd), 0);

	journal_retention_rules_init(&t->rules, 1, 0);
	struct journal_maint *m = test_maint(t, j);
	journal_maint_run_once(m, TEST_T0);
	/* Segments 0 and 1 indexed, 2 refused; only 0 may go (1 is the newest indexed). */
	assert_int_equal(journal_counter(j, JOURNAL_STAT_INDEX_BUILT), 2);
	assert_int_equal(journal_counter(j, JOURNAL_STAT_MAINT_ERRORS), 1);
	assert_int_equal(journal_counter(j, JOURNAL_STAT_SEGMENTS_DELETED), 1);
	assert_int_equal(journal_retained_start(j), test_capacity(t));
	assert_false(test_file_exists(t, 2 * test_capacity(t), "idx"));
	/* Retried (and counted) every pass; nothing more deleted. */
	journal_maint_run_once(m, TEST_T0);
	assert_int_equal(journal_counter(j, JOURNAL_STAT_MAINT_ERRORS), 2);
	assert_int_equal(journal_counter(j, JOURNAL_STAT_SEGMENTS_DELETED), 1);
	journal_maint_destroy(m);
	assert_int_equal(journal_close(j), 0);
}

static void test_journal_maint_deletion_error_retried(void **state)
{
	struct test_ctx *t = *state;
	struct journal *j = test_open(t);
	uint64_t later = TEST_T0 + 7200 * TEST_S;
	char idx[256];
	char blocker[300];

	test_append(t, j, 0, 400, TEST_T0);
	/* Indexed while nothing is old enough; then segment 0's index becomes a directory
	 * that unlink() refuses (EISDIR: what EACCES or EIO look like to retention). */
	journal_retention_rules_init(&t->rules, 0, 3600 * TEST_S);
	struct journal_maint *m = test_maint(t, j);
	journal_maint_run_once(m, TEST_T0);
	assert_int_equal(journal_counter(j, JOURNAL_STAT_SEGMENTS_DELETED), 0);
	assert_int_equal(journal_index_path(t->dir, 0, idx, sizeof(idx)), 0);
	assert_int_equal(unlink(idx), 0);
	assert_int_equal(mkdir(idx, 0755), 0);
	(void)snprintf(blocker, sizeof(blocker), "%s/keep", idx);
	int fd = open(blocker, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(close(fd), 0);

	journal_maint_run_once(m, later);
	/* Readers were told first; the segment went, its index did not: not counted. */
	uint64_t start = journal_sealed_below(j) - test_capacity(t);
	assert_int_equal(journal_retained_start(j), start);
	assert_false(test_file_exists(t, 0, "seg"));
	assert_int_equal(journal_counter(j, JOURNAL_STAT_MAINT_ERRORS), 1);
	assert_int_equal(journal_counter(j, JOURNAL_STAT_SEGMENTS_DELETED), 0);
	assert_int_equal(journal_counter(j, JOURNAL_STAT_RETENTION_BYTES), t->conf.segment_bytes);
	/* Retried and counted every pass. */
	journal_maint_run_once(m, later);
	assert_int_equal(journal_counter(j, JOURNAL_STAT_MAINT_ERRORS), 2);
	assert_true(test_file_exists(t, test_capacity(t), "seg"));
	/* Fixed: the next pass finishes the job. */
	assert_int_equal(unlink(blocker), 0);
	assert_int_equal(rmdir(idx), 0);
	journal_maint_run_once(m, later);
	assert_int_equal(journal_counter(j, JOURNAL_STAT_MAINT_ERRORS), 2);
	uint64_t deleted = journal_counter(j, JOURNAL_STAT_SEGMENTS_DELETED);
	assert_int_equal(deleted, start / test_capacity(t));
	for (uint64_t base = 0; base < start; base += test_capacity(t)) {
		assert_false(test_file_exists(t, base, "seg"));
		assert_false(test_file_exists(t, base, "idx"));
	}
	assert_true(test_file_exists(t, start, "idx"));
	journal_maint_destroy(m);
	assert_int_equal(journal_close(j), 0);
	test_reopen_expect_offsets(t);
}

/* Appends one batch of topic `name`, partition 0, at append_ns. */
static void test_append_topic(struct test_ctx *t, struct journal *j, const char *name,
			      uint64_t append_ns)
{
	uint8_t body[216] = {0};
	uint32_t value_len = 200;
	uint64_t end;
	int rc;

	memcpy(body, &value_len, sizeof(value_len));
	struct journal_batch b = {
		.topic = (const uint8_t *)name,
		.topic_len = (uint8_t)strlen(name),
		.record_count = 1,
		.producer_epoch = 1,
		.producer_id = 7,
		.body = body,
		.body_len = sizeof(body),
	};
	uint64_t deadline = test_clock_ns() + TEST_DEADLINE_NS;
	while ((rc = journal_append(j, &b, append_ns, &end)) == -EAGAIN &&
	       test_clock_ns() < deadline) {
		if (journal_poll(j, ++t->now_us) == 0) {
			journal_io_wait(journal_test_io(j), 1000);
		}
	}
	assert_int_equal(rc, 0);
}

static void test_journal_maint_retention_many_topics(void **state)
{
	struct test_ctx *t = *state;
	uint64_t age = 60 * TEST_S;
	uint64_t now = TEST_T0 + 100 * age;
	char name[16];
	struct journal *j = test_open(t);

	/* 600 topics (more than the first sizes of the topic tables), old, then one batch
	 * of "keep", which has no limit, then new data. */
	for (unsigned i = 0; i < 600; i++) {
		(void)snprintf(name, sizeof(name), "t%u", i);
		test_append_topic(t, j, name, TEST_T0);
	}
	test_append_topic(t, j, "keep", TEST_T0);
	uint64_t keep_at = journal_appended_end(j);
	for (unsigned i = 0; i < 300; i++) {
		test_append_topic(t, j, "fresh", now);
	}
	test_poll_idle(t, j);
	uint64_t keep_base = (keep_at - 1) / test_capacity(t) * test_capacity(t);
	assert_true(keep_base >= 2 * test_capacity(t));
	assert_true(keep_base + test_capacity(t) < journal_sealed_below(j));

	journal_retention_rules_init(&t->rules, 0, age);
	assert_int_equal(journal_retention_rules_set(&t->rules, (const uint8_t *)"keep", 4, false,
						     0, true, 0),
			 0);
	struct journal_maint *m = test_maint(t, j);
	journal_maint_run_once(m, now);
	/* Everything before the segment holding "keep" went; that one stays. */
	assert_int_equal(journal_retained_start(j), keep_base);
	assert_int_equal(journal_counter(j, JOURNAL_STAT_SEGMENTS_DELETED),
			 keep_base / test_capacity(t));
	assert_true(test_file_exists(t, keep_base, "seg"));
	journal_maint_destroy(m);
	assert_int_equal(journal_close(j), 0);
}

/* ---- The thread ---- */

/* ---- Recycling ---- */

static unsigned test_count_spares(const struct test_ctx *t)
{
	DIR *d = opendir(t->dir);
	struct dirent *e;
	unsigned n = 0;
	uint64_t base;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		n += journal_spare_name_parse(e->d_name, &base) ? 1u : 0u;
	}
	(void)closedir(d);
	return n;
}

/* Whether the segment holding position pos (every segment has one size) is recycled. */
static bool test_segment_is_recycled(const struct test_ctx *t, uint64_t pos)
{
	uint8_t block[JOURNAL_BLOCK_BYTES];
	struct journal_segment_header h;
	char path[256];

	(void)snprintf(path, sizeof(path), "%s/" JOURNAL_SEGMENT_NAME_FORMAT, t->dir,
		       (unsigned long long)(pos / test_capacity(t) * test_capacity(t)));
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, block, sizeof(block), 0), (ssize_t)sizeof(block));
	assert_int_equal(close(fd), 0);
	assert_int_equal(journal_segment_header_decode(block, sizeof(block), &h), JOURNAL_OK);
	return journal_segment_is_recycled(&h);
}

/* Follows each test partition's offsets through entries handed out in position order. */
struct test_walk {
	uint64_t next[TEST_PARTS];
	bool started[TEST_PARTS];
	uint64_t entries;
	uint64_t last_position;
	unsigned last_part;
};

/* An entry must continue its partition's offsets exactly: a stale entry (an old offset) or
 * a missing one breaks the chain. */
static void test_walk_entry(struct test_walk *w, const struct journal_entry *e)
{
	int p = test_part_of(e->topic, e->hdr.topic_len, e->hdr.partition);

	assert_true(p >= 0);
	if (w->started[p]) {
		assert_int_equal(e->hdr.base_offset, w->next[p]);
	}
	w->started[p] = true;
	w->next[p] = e->hdr.base_offset + e->hdr.record_count;
	w->entries++;
	w->last_position = e->hdr.position;
	w->last_part = (unsigned)p;
}

static int test_walk_scanned(void *ctx, const struct journal_entry *e, unsigned segment)
{
	(void)segment;
	test_walk_entry(ctx, e);
	return 0;
}

/* Scans the closed journal: intact, and every partition's offsets run to t->next. */
static void test_scan_expect_offsets(const struct test_ctx *t, struct test_walk *w)
{
	struct journal_scan_result res;
	struct journal_dir d;

	memset(w, 0, sizeof(*w));
	assert_int_equal(journal_dir_list(t->dir, &d), 0);
	assert_int_equal(journal_scan(&d, test_walk_scanned, w, &res), 0);
	assert_false(res.corrupt);
	assert_false(res.torn);
	for (unsigned p = 0; p < TEST_PARTS; p++) {
		assert_true(w->started[p]);
		assert_int_equal(w->next[p], t->next[p]);
	}
	journal_dir_free(&d);
}

/* Reads j from its earliest retained entry to its end with a replay cursor. */
static void test_cursor_expect_offsets(struct test_ctx *t, struct journal *j)
{
	struct journal_cursor *c = NULL;
	struct journal_entry e;
	struct test_walk w;
	uint64_t deadline = test_clock_ns() + TEST_DEADLINE_NS;

	memset(&w, 0, sizeof(w));
	assert_int_equal(journal_cursor_create(j, 64u * 1024u, &c), 0);
	journal_cursor_seek_earliest(c);
	for (;;) {
		int rc = journal_cursor_next(c, &e);
		assert_true(rc >= 0);
		if (rc == 1) {
			test_walk_entry(&w, &e);
			continue;
		}
		if (journal_cursor_caught_up(c)) {
			break;
		}
		assert_true(test_clock_ns() < deadline);
		if (journal_poll(j, ++t->now_us) == 0) {
			journal_io_wait(journal_test_io(j), 1000);
		}
	}
	for (unsigned p = 0; p < TEST_PARTS; p++) {
		assert_int_equal(w.next[p], t->next[p]);
	}
	journal_cursor_destroy(c);
}

/*
 * A journal with two spares: written, indexed, then retention by bytes removes its oldest
 * segments, two of them kept as spares. Then appends until the segment appended to and the
 * one before it were both made from spares: a sealed recycled segment, and a current one
 * with a little new data before the stale rest. Returns it open.
 */
static struct journal *test_recycled_journal(struct test_ctx *t)
{
	t->conf.segment_spares = 2;
	t->conf.zero_fill = true;
	struct journal *j = test_open(t);
	test_append(t, j, 0, 400, TEST_T0);
	test_append(t, j, 1, 400, TEST_T0);
	struct journal_maint *m = test_maint(t, j);
	journal_maint_run_once(m, TEST_T0);
	journal_maint_destroy(m);
	uint64_t before = test_dir_bytes(t);
	journal_retention_rules_init(&t->rules, 128u * 1024u, 0);
	m = test_maint(t, j);
	journal_maint_run_once(m, TEST_T0);
	journal_maint_destroy(m);

	uint64_t recycled = journal_counter(j, JOURNAL_STAT_SEGMENTS_RECYCLED);
	uint64_t deleted = journal_counter(j, JOURNAL_STAT_SEGMENTS_DELETED);
	assert_int_equal(recycled, 2);
	assert_true(deleted >= 1); /* more than the spares allow: the rest deleted */
	assert_int_equal(test_count_spares(t), 2);
	assert_int_equal(journal_retained_start(j), (recycled + deleted) * test_capacity(t));
	/* Retention's bytes are what left the journal, spares included. */
	assert_int_equal(journal_counter(j, JOURNAL_STAT_RETENTION_BYTES),
			 before - test_dir_bytes(t));

	uint64_t created = journal_counter(j, JOURNAL_STAT_SEGMENTS_CREATED);
	uint64_t zero_fill = journal_counter(j, JOURNAL_STAT_ZERO_FILL_BYTES);
	for (unsigned round = 0; round < 200; round++) {
		uint64_t end = journal_appended_end(j);
		if (journal_counter(j, JOURNAL_STAT_SEGMENTS_REUSED) == 2 &&
		    end % test_capacity(t) != 0 && test_segment_is_recycled(t, end) &&
		    test_segment_is_recycled(t, end - test_capacity(t))) {
			break;
		}
		test_append(t, j, 2, 5, TEST_T0);
	}
	/* A few entries more: still far fewer than the stale ones after them. */
	test_append(t, j, 2, 5, TEST_T0);
	assert_int_equal(journal_counter(j, JOURNAL_STAT_SEGMENTS_REUSED), 2);
	assert_true(test_segment_is_recycled(t, journal_appended_end(j)));
	assert_int_equal(test_count_spares(t), 0);
	/* The spares were not zero-filled: at most the segments created anew were. */
	uint64_t fresh = journal_counter(j, JOURNAL_STAT_SEGMENTS_CREATED) - created - 2;
	assert_true(journal_counter(j, JOURNAL_STAT_ZERO_FILL_BYTES) - zero_fill <=
		    fresh * t->conf.segment_bytes);
	return j;
}

static void test_journal_maint_recycled_segments_recover_new_entries_only(void **state)
{
	struct test_ctx *t = *state;
	struct journal *j = test_recycled_journal(t);
	struct test_walk w;

	/* Replay crosses the sealed recycled segment and reads the current one. */
	test_cursor_expect_offsets(t, j);
	assert_int_equal(journal_close(j), 0);
	test_scan_expect_offsets(t, &w);
	/* Reopened: recovery resumes in the recycled segment, before its stale bytes. */
	j = test_open(t);
	assert_memory_equal(t->recovered, t->next, sizeof(t->next));
	assert_int_equal(journal_counter(j, JOURNAL_STAT_TORN_TRUNCATIONS), 0);
	test_append(t, j, 0, 3, TEST_T0);
	assert_int_equal(journal_close(j), 0);
	test_reopen_expect_offsets(t);
	test_scan_expect_offsets(t, &w);
}

static void test_journal_maint_recycled_segment_torn_tail_cut(void **state)
{
	struct test_ctx *t = *state;
	struct journal *j = test_recycled_journal(t);
	struct test_walk w;

	assert_int_equal(journal_close(j), 0);
	test_scan_expect_offsets(t, &w);
	/* The last entry's write landed only in part. */
	char path[256];
	uint64_t base = w.last_position / test_capacity(t) * test_capacity(t);
	(void)snprintf(path, sizeof(path), "%s/" JOURNAL_SEGMENT_NAME_FORMAT, t->dir,
		       (unsigned long long)base);
	int fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	uint64_t off =
		journal_segment_offset(base, w.last_position) + JOURNAL_ENTRY_HEADER_BYTES + 32;
	assert_int_equal(pwrite(fd, "torn", 4, (off_t)off), 4);
	assert_int_equal(close(fd), 0);

	uint64_t torn = t->counters[JOURNAL_STAT_TORN_TRUNCATIONS];
	j = test_open(t);
	assert_int_equal(journal_counter(j, JOURNAL_STAT_TORN_TRUNCATIONS), torn + 1);
	t->next[w.last_part] -= 2;
	assert_memory_equal(t->recovered, t->next, sizeof(t->next));
	assert_int_equal(journal_appended_end(j), w.last_position);
	/* Appending goes on where the torn entry was; nothing stale or cut comes back. */
	test_append(t, j, w.last_part, 2, TEST_T0);
	assert_int_equal(journal_close(j), 0);
	test_scan_expect_offsets(t, &w);
	test_reopen_expect_offsets(t);
}

/* Appends one batch of one record to test partition 2 (its own producer) that takes exactly
 * entry_bytes in the journal (a multiple of 8, 88..). */
static void test_append_sized(struct test_ctx *t, struct journal *j, uint32_t entry_bytes)
{
	static uint8_t body[JOURNAL_ENTRY_BYTES_MAX];
	uint32_t body_len = entry_bytes - journal_entry_bytes(4, 0); /* "beta" */
	uint32_t value_len = body_len - 16;

	assert_true(entry_bytes % 8 == 0 && entry_bytes >= 88);
	memset(body, 0, body_len);
	memcpy(body, &value_len, sizeof(value_len));
	memset(body + 16, 'z', value_len);
	struct journal_batch b = {
		.topic = (const uint8_t *)test_topics[2],
		.topic_len = (uint8_t)strlen(test_topics[2]),
		.record_count = 1,
		.partition = test_partitions[2],
		.producer_epoch = 1,
		.base_offset = t->next[2],
		.producer_id = 300,
		.sequence = t->sized_sequence,
		.body = body,
		.body_len = body_len,
	};
	uint64_t end;
	uint64_t deadline = test_clock_ns() + TEST_DEADLINE_NS;
	int rc;
	while ((rc = journal_append(j, &b, TEST_T0, &end)) == -EAGAIN &&
	       test_clock_ns() < deadline) {
		if (journal_poll(j, ++t->now_us) == 0) {
			journal_io_wait(journal_test_io(j), 1000);
		}
	}
	assert_int_equal(rc, 0);
	t->next[2]++;
	t->sized_sequence++;
	t->batches++;
}

static void test_journal_maint_recycled_segment_rolled_at_block_boundary(void **state)
{
	struct test_ctx *t = *state;
	struct journal *j = test_recycled_journal(t);
	struct test_walk w;

	/* Fill the recycled segment with block-sized entries so that its data ends on a block
	 * boundary with a block left, then roll away from it: stale bytes start right after
	 * its last entry unless the writer ends the data with a zero header. */
	uint64_t end = journal_appended_end(j);
	uint64_t limit = (end / test_capacity(t) + 1) * test_capacity(t);
	uint32_t align = (uint32_t)(JOURNAL_BLOCK_BYTES - end % JOURNAL_BLOCK_BYTES);
	test_append_sized(t, j, align < 88 ? align + JOURNAL_BLOCK_BYTES : align);
	while (limit - journal_appended_end(j) > JOURNAL_BLOCK_BYTES) {
		test_append_sized(t, j, JOURNAL_BLOCK_BYTES);
	}
	assert_int_equal(limit - journal_appended_end(j), JOURNAL_BLOCK_BYTES);
	test_append_sized(t, j, 2 * JOURNAL_BLOCK_BYTES); /* does not fit: rolls */
	assert_true(journal_appended_end(j) > limit);
	test_poll_idle(t, j);
	test_cursor_expect_offsets(t, j);
	assert_int_equal(journal_close(j), 0);
	test_scan_expect_offsets(t, &w);
	test_reopen_expect_offsets(t);
}

static void test_journal_maint_spares_gone_before_use_created_anew(void **state)
{
	struct test_ctx *t = *state;

	/* Spares offered to the shard, then deleted by hand before it made a segment of
	 * them: the shard creates its next segments anew, nothing fails. */
	t->conf.segment_spares = 2;
	struct journal *j = test_open(t);
	test_append(t, j, 0, 400, TEST_T0);
	test_append(t, j, 1, 400, TEST_T0);
	journal_retention_rules_init(&t->rules, 128u * 1024u, 0);
	struct journal_maint *m = test_maint(t, j);
	journal_maint_run_once(m, TEST_T0);
	journal_maint_destroy(m);
	assert_int_equal(journal_counter(j, JOURNAL_STAT_SEGMENTS_RECYCLED), 2);
	DIR *d = opendir(t->dir);
	struct dirent *e;
	uint64_t base;
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (journal_spare_name_parse(e->d_name, &base)) {
			assert_int_equal(unlinkat(dirfd(d), e->d_name, 0), 0);
		}
	}
	(void)closedir(d);
	uint64_t created = journal_counter(j, JOURNAL_STAT_SEGMENTS_CREATED);
	test_append(t, j, 1, 400, TEST_T0);
	assert_false(journal_has_failed(j));
	assert_true(journal_counter(j, JOURNAL_STAT_SEGMENTS_CREATED) >= created + 2);
	assert_int_equal(journal_counter(j, JOURNAL_STAT_SEGMENTS_REUSED), 0);
	assert_int_equal(journal_close(j), 0);
	test_reopen_expect_offsets(t);
}

static void test_journal_maint_spares_bounded_at_open(void **state)
{
	struct test_ctx *t = *state;
	char path[256];

	/* Three spares left by an earlier run with more, one too small, one based past the
	 * journal's end: one spare kept, the rest deleted. */
	t->conf.segment_spares = 1;
	struct journal *j = test_open(t);
	test_append(t, j, 0, 400, TEST_T0);
	assert_int_equal(journal_close(j), 0);
	const uint64_t bases[] = {8, 16, 24, 1ull << 40};
	for (unsigned i = 0; i < 4; i++) {
		(void)snprintf(path, sizeof(path), "%s/" JOURNAL_SPARE_NAME_FORMAT, t->dir,
			       (unsigned long long)bases[i]);
		int fd = open(path, O_CREAT | O_WRONLY, 0644);
		assert_true(fd >= 0);
		assert_int_equal(ftruncate(fd, i == 2 ? 4096 : (off_t)t->conf.segment_bytes), 0);
		assert_int_equal(close(fd), 0);
	}
	j = test_open(t);
	assert_int_equal(test_count_spares(t), 1);
	/* The next segment is made from it. */
	uint64_t reused = journal_counter(j, JOURNAL_STAT_SEGMENTS_REUSED);
	test_append(t, j, 0, 300, TEST_T0);
	assert_int_equal(journal_counter(j, JOURNAL_STAT_SEGMENTS_REUSED), reused + 1);
	assert_int_equal(test_count_spares(t), 0);
	assert_int_equal(journal_close(j), 0);
	test_reopen_expect_offsets(t);
}

static bool test_thread_named(const char *name)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	bool found = false;

	assert_non_null(d);
	while (!found && (e = readdir(d)) != NULL) {
		char path[300];
		char comm[32] = "";
		(void)snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		FILE *f = fopen(path, "r");
		if (f == NULL) {
			continue;
		}
		found = fgets(comm, sizeof(comm), f) != NULL &&
			strncmp(comm, name, strlen(name)) == 0;
		(void)fclose(f);
	}
	(void)closedir(d);
	return found;
}

static void test_journal_maint_start_runs_passes(void **state)
{
	struct test_ctx *t = *state;
	struct journal *j = test_open(t);
	cpu_set_t cpus;

	assert_int_equal(sched_getaffinity(0, sizeof(cpus), &cpus), 0);
	struct journal_maint_conf conf = {
		.rules = &t->rules, .period_ms = 10, .dedupe_window = 8, .cpus = &cpus};
	struct journal_maint *m = NULL;
	assert_int_equal(journal_maint_create(&conf, &j, 1, &m), 0);
	assert_int_equal(journal_maint_start(m), 0);
	assert_true(test_thread_named(JOURNAL_MAINT_THREAD_NAME));
	/* The shard goes on appending while the thread indexes behind it. */
	test_append(t, j, 0, 300, TEST_T0);
	uint64_t deadline = test_clock_ns() + TEST_DEADLINE_NS;
	while (journal_counter(j, JOURNAL_STAT_INDEX_BUILT) <
		       journal_sealed_below(j) / test_capacity(t) &&
	       test_clock_ns() < deadline) {
		struct timespec ms = {.tv_nsec = 1000000};
		(void)nanosleep(&ms, NULL);
	}
	assert_int_equal(journal_counter(j, JOURNAL_STAT_INDEX_BUILT),
			 journal_sealed_below(j) / test_capacity(t));
	journal_maint_stop(m);
	assert_false(test_thread_named(JOURNAL_MAINT_THREAD_NAME));
	journal_maint_destroy(m);
	assert_int_equal(journal_close(j), 0);
}

static void test_journal_maint_create_bad_conf_einval(void **state)
{
	struct test_ctx *t = *state;
	struct journal_maint *m = NULL;
	struct journal_maint_conf conf = {.rules = &t->rules, .period_ms = 5, .dedupe_window = 8};

	assert_int_equal(journal_maint_create(&conf, NULL, 0, &m), -EINVAL);
	assert_null(m);
	conf.period_ms = 1000;
	conf.rules = NULL;
	assert_int_equal(journal_maint_create(&conf, NULL, 0, &m), -EINVAL);
	conf.rules = &t->rules;
	conf.dedupe_window = 0;
	assert_int_equal(journal_maint_create(&conf, NULL, 0, &m), -EINVAL);
	journal_maint_destroy(NULL);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, test_setup, test_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_journal_maint_run_once_indexes_sealed_segments),
		TEST(test_journal_maint_retention_by_bytes),
		TEST(test_journal_maint_retention_by_age_and_topic),
		TEST(test_journal_maint_damaged_segment_holds_back),
		TEST(test_journal_maint_deletion_error_retried),
		TEST(test_journal_maint_retention_many_topics),
		TEST(test_journal_maint_recycled_segments_recover_new_entries_only),
		TEST(test_journal_maint_recycled_segment_torn_tail_cut),
		TEST(test_journal_maint_recycled_segment_rolled_at_block_boundary),
		TEST(test_journal_maint_spares_bounded_at_open),
		TEST(test_journal_maint_spares_gone_before_use_created_anew),
		TEST(test_journal_maint_start_runs_passes),
		TEST(test_journal_maint_create_bad_conf_einval),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
