/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The journal's asynchronous I/O (journal/io.h): every case runs against both back
 * ends, io_uring and the worker thread, which must behave the same: data written reads
 * back, fdatasync/fallocate/open/close/unlink/rename work, the depth bound answers -EBUSY,
 * errors come back as -errno and injected results replace the kernel's.
 */
#include "journal/io.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TEST_DEADLINE_NS (10ull * 1000000000ull)
#define TEST_BUF_BYTES (64u * 1024u)

struct test_io {
	enum journal_io_kind kind;
	char dir[64];
	char path[96];
	int fd;
	uint8_t *buf;
	struct journal_io *io;
};

static uint64_t test_now_ns(void)
{
	struct timespec ts;
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Reaps until n completions arrived (in any order) or the deadline passed. */
static unsigned test_drain(struct journal_io *io, struct journal_io_completion *out, unsigned n)
{
	uint64_t deadline = test_now_ns() + TEST_DEADLINE_NS;
	unsigned got = 0;

	assert_int_equal(journal_io_submit(io), 0);
	while (got < n && test_now_ns() < deadline) {
		unsigned k = journal_io_reap(io, out + got, n - got);
		got += k;
		if (k == 0 && got < n) {
			journal_io_wait(io, 100000);
		}
	}
	return got;
}

static struct journal_io_completion test_one(struct journal_io *io)
{
	struct journal_io_completion c = {0};

	assert_int_equal(test_drain(io, &c, 1), 1);
	return c;
}

static int test_setup(void **state, enum journal_io_kind kind)
{
	struct test_io *t = calloc(1, sizeof(*t));
	struct iovec iov;

	assert_non_null(t);
	t->kind = kind;
	(void)snprintf(t->dir, sizeof(t->dir), "/tmp/sluice-test-io-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	(void)snprintf(t->path, sizeof(t->path), "%s/data", t->dir);
	t->fd = open(t->path, O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	assert_true(t->fd >= 0);
	assert_int_equal(posix_memalign((void **)&t->buf, 4096, TEST_BUF_BYTES), 0);
	iov = (struct iovec){.iov_base = t->buf, .iov_len = TEST_BUF_BYTES};
	assert_int_equal(journal_io_create(kind, 64, &iov, 1, &t->io), 0);
	*state = t;
	return 0;
}

static int test_setup_uring(void **state)
{
	return test_setup(state, JOURNAL_IO_URING);
}

static int test_setup_thread(void **state)
{
	return test_setup(state, JOURNAL_IO_THREAD);
}

static int test_teardown(void **state)
{
	struct test_io *t = *state;

	journal_io_destroy(t->io);
	(void)close(t->fd);
	(void)unlink(t->path);
	(void)rmdir(t->dir);
	free(t->buf);
	free(t);
	return 0;
}

static void test_fill(uint8_t *p, size_t n, unsigned seed)
{
	srand(seed);
	for (size_t i = 0; i < n; i++) {
		p[i] = (uint8_t)rand();
	}
}

static void test_journal_io_write_reads_back(void **state)
{
	struct test_io *t = *state;
	uint8_t *back = malloc(TEST_BUF_BYTES);
	struct journal_io_completion c[2];

	assert_non_null(back);
	test_fill(t->buf, TEST_BUF_BYTES, 11);
	/* One write from the registered buffer, one plain. */
	assert_int_equal(journal_io_write(t->io, t->fd, t->buf, 8192, 4096, 0, 1), 0);
	assert_int_equal(journal_io_write(t->io, t->fd, t->buf + 8192, 4096, 12288, -1, 2), 0);
	assert_int_equal(journal_io_inflight(t->io), 2);
	assert_int_equal(test_drain(t->io, c, 2), 2);
	assert_int_equal(journal_io_inflight(t->io), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(c[i].op, JOURNAL_IO_OP_WRITE);
		assert_int_equal(c[i].res, c[i].tag == 1 ? 8192 : 4096);
	}
	assert_int_equal(pread(t->fd, back, 12288, 4096), 12288);
	assert_memory_equal(back, t->buf, 12288);

	/* And through the back end. */
	memset(t->buf, 0, TEST_BUF_BYTES);
	assert_int_equal(journal_io_read(t->io, t->fd, t->buf, 12288, 4096, 0, 3), 0);
	c[0] = test_one(t->io);
	assert_int_equal(c[0].tag, 3);
	assert_int_equal(c[0].op, JOURNAL_IO_OP_READ);
	assert_int_equal(c[0].res, 12288);
	assert_memory_equal(back, t->buf, 12288);
	free(back);
}

static void test_journal_io_write_many_in_flight(void **state)
{
	struct test_io *t = *state;
	struct journal_io_completion c[16];
	uint8_t back[4096];
	uint64_t seen = 0;

	test_fill(t->buf, TEST_BUF_BYTES, 12);
	for (unsigned i = 0; i < 16; i++) {
		assert_int_equal(journal_io_write(t->io, t->fd, t->buf + i * 4096u, 4096,
						  (uint64_t)i * 4096u, 0, 100 + i),
				 0);
	}
	assert_int_equal(test_drain(t->io, c, 16), 16);
	for (unsigned i = 0; i < 16; i++) {
		assert_int_equal(c[i].res, 4096);
		seen |= 1ull << (c[i].tag - 100);
	}
	assert_int_equal(seen, 0xffff);
	for (unsigned i = 0; i < 16; i++) {
		assert_int_equal(pread(t->fd, back, 4096, (off_t)i * 4096), 4096);
		assert_memory_equal(back, t->buf + i * 4096u, 4096);
	}
}

static void test_journal_io_fdatasync_succeeds(void **state)
{
	struct test_io *t = *state;
	struct journal_io_completion c;

	assert_int_equal(journal_io_fdatasync(t->io, t->fd, 7), 0);
	c = test_one(t->io);
	assert_int_equal(c.tag, 7);
	assert_int_equal(c.op, JOURNAL_IO_OP_FDATASYNC);
	assert_int_equal(c.res, 0);
}

static void test_journal_io_fallocate_extends_file(void **state)
{
	struct test_io *t = *state;
	struct journal_io_completion c;
	struct stat st;

	assert_int_equal(journal_io_fallocate(t->io, t->fd, 0, 1u << 20, 8), 0);
	c = test_one(t->io);
	assert_int_equal(c.op, JOURNAL_IO_OP_FALLOCATE);
	assert_int_equal(c.res, 0);
	assert_int_equal(fstat(t->fd, &st), 0);
	assert_int_equal(st.st_size, 1u << 20);
}

static void test_journal_io_open_close_unlink_file(void **state)
{
	struct test_io *t = *state;
	struct journal_io_completion c;
	char path[128];

	(void)snprintf(path, sizeof(path), "%s/other", t->dir);
	assert_int_equal(journal_io_open(t->io, path, O_CREAT | O_RDWR | O_CLOEXEC, 9), 0);
	c = test_one(t->io);
	assert_int_equal(c.op, JOURNAL_IO_OP_OPEN);
	assert_true(c.res >= 0);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(journal_io_close(t->io, c.res, 10), 0);
	c = test_one(t->io);
	assert_int_equal(c.op, JOURNAL_IO_OP_CLOSE);
	assert_int_equal(c.res, 0);
	assert_int_equal(journal_io_unlink(t->io, path, 11), 0);
	c = test_one(t->io);
	assert_int_equal(c.op, JOURNAL_IO_OP_UNLINK);
	assert_int_equal(c.res, 0);
	assert_int_equal(access(path, F_OK), -1);

	/* Failures come back as -errno. */
	assert_int_equal(journal_io_unlink(t->io, path, 12), 0);
	assert_int_equal(test_one(t->io).res, -ENOENT);
	assert_int_equal(journal_io_open(t->io, path, O_RDONLY, 13), 0);
	assert_int_equal(test_one(t->io).res, -ENOENT);
}

static void test_journal_io_rename_moves_file(void **state)
{
	struct test_io *t = *state;
	struct journal_io_completion c;
	char to[128];

	(void)snprintf(to, sizeof(to), "%s/renamed", t->dir);
	assert_int_equal(journal_io_rename(t->io, t->path, to, 14), 0);
	c = test_one(t->io);
	assert_int_equal(c.op, JOURNAL_IO_OP_RENAME);
	assert_int_equal(c.tag, 14);
	assert_int_equal(c.res, 0);
	assert_int_equal(access(t->path, F_OK), -1);
	assert_int_equal(access(to, F_OK), 0);
	/* Failures come back as -errno. */
	assert_int_equal(journal_io_rename(t->io, t->path, to, 15), 0);
	assert_int_equal(test_one(t->io).res, -ENOENT);
	assert_int_equal(rename(to, t->path), 0);
}

static void test_journal_io_write_bad_fd_ebadf(void **state)
{
	struct test_io *t = *state;

	assert_int_equal(journal_io_write(t->io, 1000000, t->buf, 4096, 0, -1, 1), 0);
	assert_int_equal(test_one(t->io).res, -EBADF);
	assert_int_equal(journal_io_fdatasync(t->io, -1, 2), 0);
	assert_int_equal(test_one(t->io).res, -EBADF);
}

static void test_journal_io_queue_full_ebusy(void **state)
{
	struct test_io *t = *state;
	struct journal_io *io;
	struct journal_io_completion c[4];

	assert_int_equal(journal_io_create(t->kind, JOURNAL_IO_DEPTH_MIN, NULL, 0, &io), 0);
	for (unsigned i = 0; i < JOURNAL_IO_DEPTH_MIN; i++) {
		assert_int_equal(journal_io_fdatasync(io, t->fd, i), 0);
	}
	assert_int_equal(journal_io_fdatasync(io, t->fd, 99), -EBUSY);
	assert_int_equal(journal_io_write(io, t->fd, t->buf, 4096, 0, -1, 99), -EBUSY);
	/* Completed but not reaped still counts. */
	assert_int_equal(test_drain(io, c, 1), 1);
	assert_int_equal(journal_io_fdatasync(io, t->fd, 4), 0);
	assert_int_equal(journal_io_fdatasync(io, t->fd, 99), -EBUSY);
	assert_int_equal(test_drain(io, c, 4), 4);
	assert_int_equal(journal_io_inflight(io), 0);
	journal_io_destroy(io);
}

static void test_journal_io_inject_replaces_results(void **state)
{
	struct test_io *t = *state;
	struct journal_io_completion c;

	journal_io_inject(t->io, JOURNAL_IO_OP_WRITE, -EIO, 1);
	journal_io_inject(t->io, JOURNAL_IO_OP_FALLOCATE, -ENOSPC, 2);
	assert_int_equal(journal_io_write(t->io, t->fd, t->buf, 4096, 0, 0, 1), 0);
	assert_int_equal(test_one(t->io).res, -EIO);
	assert_int_equal(journal_io_write(t->io, t->fd, t->buf, 4096, 0, 0, 2), 0);
	assert_int_equal(test_one(t->io).res, 4096);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(journal_io_fallocate(t->io, t->fd, 0, 8192, 3), 0);
		c = test_one(t->io);
		assert_int_equal(c.op, JOURNAL_IO_OP_FALLOCATE);
		assert_int_equal(c.res, -ENOSPC);
	}
	assert_int_equal(journal_io_fallocate(t->io, t->fd, 0, 8192, 3), 0);
	assert_int_equal(test_one(t->io).res, 0);
	/* Other operations are untouched. */
	journal_io_inject(t->io, JOURNAL_IO_OP_FDATASYNC, -EIO, 1);
	assert_int_equal(journal_io_write(t->io, t->fd, t->buf, 4096, 0, 0, 4), 0);
	assert_int_equal(test_one(t->io).res, 4096);
	assert_int_equal(journal_io_fdatasync(t->io, t->fd, 5), 0);
	assert_int_equal(test_one(t->io).res, -EIO);
}

static void test_journal_io_reap_empty_returns_zero(void **state)
{
	struct test_io *t = *state;
	struct journal_io_completion c;

	assert_int_equal(journal_io_reap(t->io, &c, 1), 0);
	journal_io_wait(t->io, 1000); /* nothing in flight: returns at once */
	assert_int_equal(journal_io_submit(t->io), 0);
	assert_int_equal(journal_io_reap(t->io, &c, 1), 0);
	assert_true(journal_io_is_usable_here(t->io));
}

static void test_journal_io_create_auto_prefers_uring(void **state)
{
	struct journal_io *io;

	(void)state;
	if (journal_io_create(JOURNAL_IO_URING, 8, NULL, 0, &io) != 0) {
		skip(); /* io_uring is disabled here: AUTO's choice cannot be checked */
	}
	journal_io_destroy(io);
	assert_int_equal(journal_io_create(JOURNAL_IO_AUTO, 8, NULL, 0, &io), 0);
	assert_int_equal(journal_io_kind(io), JOURNAL_IO_URING);
	assert_null(journal_io_fallback_reason(io));
	journal_io_destroy(io);
}

static void test_journal_io_create_thread_forced(void **state)
{
	struct journal_io *io;

	(void)state;
	assert_int_equal(journal_io_create(JOURNAL_IO_THREAD, 8, NULL, 0, &io), 0);
	assert_int_equal(journal_io_kind(io), JOURNAL_IO_THREAD);
	assert_null(journal_io_fallback_reason(io));
	assert_string_equal(journal_io_kind_name(journal_io_kind(io)), "thread");
	journal_io_destroy(io);
	assert_string_equal(journal_io_kind_name(JOURNAL_IO_URING), "io_uring");
	assert_string_equal(journal_io_kind_name(JOURNAL_IO_AUTO), "auto");
}

static void test_journal_io_create_bad_depth_einval(void **state)
{
	struct journal_io *io;

	(void)state;
	assert_int_equal(
		journal_io_create(JOURNAL_IO_THREAD, JOURNAL_IO_DEPTH_MIN - 1, NULL, 0, &io),
		-EINVAL);
	assert_int_equal(journal_io_create(JOURNAL_IO_AUTO, JOURNAL_IO_DEPTH_MAX + 1, NULL, 0, &io),
			 -EINVAL);
	assert_int_equal(journal_io_create(JOURNAL_IO_AUTO, 8, NULL, 2, &io), -EINVAL);
}

static void test_journal_io_destroy_waits_in_flight(void **state)
{
	struct test_io *t = *state;
	struct journal_io *io;
	uint8_t back[4096];

	test_fill(t->buf, 4096, 13);
	assert_int_equal(journal_io_create(t->kind, 8, NULL, 0, &io), 0);
	assert_int_equal(journal_io_write(io, t->fd, t->buf, 4096, 65536, -1, 1), 0);
	assert_int_equal(journal_io_submit(io), 0);
	journal_io_destroy(io);
	assert_int_equal(pread(t->fd, back, 4096, 65536), 4096);
	assert_memory_equal(back, t->buf, 4096);
	journal_io_destroy(NULL);
}

struct test_thread_arg {
	struct journal_io *io;
	int fd;
	uint8_t *buf;
	int32_t res;
};

static void *test_thread_drive(void *p)
{
	struct test_thread_arg *a = p;

	a->res = -1;
	if (journal_io_write(a->io, a->fd, a->buf, 4096, 0, -1, 1) == 0) {
		a->res = test_one(a->io).res;
	}
	return NULL;
}

/* The daemon opens journals on its main thread and polls them on shard threads. */
static void test_journal_io_create_other_thread_drives(void **state)
{
	struct test_io *t = *state;
	struct test_thread_arg a = {.fd = t->fd, .buf = t->buf};
	pthread_t th;

	assert_int_equal(journal_io_create(t->kind, 8, NULL, 0, &a.io), 0);
	assert_true(journal_io_is_usable_here(a.io));
	assert_int_equal(pthread_create(&th, NULL, test_thread_drive, &a), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(a.res, 4096);
	if (t->kind == JOURNAL_IO_THREAD) {
		assert_true(journal_io_is_usable_here(a.io));
	}
	journal_io_destroy(a.io);
}

#define TEST_BOTH(f)                                                                               \
	cmocka_unit_test_setup_teardown(f, test_setup_uring, test_teardown),                       \
		cmocka_unit_test_setup_teardown(f, test_setup_thread, test_teardown)

int main(void)
{
	struct journal_io *probe;

	if (journal_io_create(JOURNAL_IO_URING, 8, NULL, 0, &probe) != 0) {
		fprintf(stderr, "io_uring is unavailable here: the io_uring cases cannot run\n");
		return 77;
	}
	journal_io_destroy(probe);

	const struct CMUnitTest tests[] = {
		TEST_BOTH(test_journal_io_write_reads_back),
		TEST_BOTH(test_journal_io_write_many_in_flight),
		TEST_BOTH(test_journal_io_fdatasync_succeeds),
		TEST_BOTH(test_journal_io_fallocate_extends_file),
		TEST_BOTH(test_journal_io_open_close_unlink_file),
		TEST_BOTH(test_journal_io_rename_moves_file),
		TEST_BOTH(test_journal_io_write_bad_fd_ebadf),
		TEST_BOTH(test_journal_io_queue_full_ebusy),
		TEST_BOTH(test_journal_io_inject_replaces_results),
		TEST_BOTH(test_journal_io_reap_empty_returns_zero),
		TEST_BOTH(test_journal_io_destroy_waits_in_flight),
		TEST_BOTH(test_journal_io_create_other_thread_drives),
		cmocka_unit_test(test_journal_io_create_auto_prefers_uring),
		cmocka_unit_test(test_journal_io_create_thread_forced),
		cmocka_unit_test(test_journal_io_create_bad_depth_einval),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
