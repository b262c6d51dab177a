/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The data directory's lock: taken once (a second taker is refused with the holder's
 * pid, even in the same process: flock() belongs to the open file), probed without being
 * taken, released on close, created with its directory, and never created by a probe.
 */
#include "journal/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

struct tdir {
	char root[64];
	char data[96]; /* root/data: made by journal_lock_open() */
	char lock[128];
};

static void tdir_init(struct tdir *t)
{
	strcpy(t->root, "/tmp/sluice-lock-XXXXXX");
	assert_non_null(mkdtemp(t->root));
	(void)snprintf(t->data, sizeof(t->data), "%s/data", t->root);
	(void)snprintf(t->lock, sizeof(t->lock), "%s/" JOURNAL_LOCK_NAME, t->data);
}

static void tdir_fini(const struct tdir *t)
{
	char cmd[128];

	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->root);
	assert_int_equal(system(cmd), 0);
}

static void test_journal_lock_open_twice_is_refused_with_pid(void **state)
{
	struct tdir t;
	pid_t holder = -1;
	(void)state;

	tdir_init(&t);
	int fd = journal_lock_open(t.data, &holder);
	assert_true(fd >= 0);
	assert_int_equal(holder, 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(journal_lock_open(t.data, &holder), -EWOULDBLOCK);
	assert_int_equal(holder, getpid());
	/* The file says who holds it. */
	char buf[32] = "";
	FILE *f = fopen(t.lock, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	(void)fclose(f);
	assert_int_equal(atol(buf), getpid());
	journal_lock_close(fd);
	fd = journal_lock_open(t.data, &holder);
	assert_true(fd >= 0);
	journal_lock_close(fd);
	tdir_fini(&t);
}

static void test_journal_lock_is_held_probes_without_taking(void **state)
{
	struct tdir t;
	struct stat st;
	pid_t holder = -1;
	(void)state;

	tdir_init(&t);
	/* No directory, no lock file: not held, and the probe creates nothing. */
	assert_int_equal(journal_lock_is_held(t.data, &holder), 0);
	assert_int_equal(stat(t.data, &st), -1);
	int fd = journal_lock_open(t.data, &holder);
	assert_true(fd >= 0);
	assert_int_equal(journal_lock_is_held(t.data, &holder), 1);
	assert_int_equal(holder, getpid());
	/* The probe released its shared lock: the holder's stays, a taker is refused. */
	assert_int_equal(journal_lock_open(t.data, &holder), -EWOULDBLOCK);
	journal_lock_close(fd);
	assert_int_equal(journal_lock_is_held(t.data, &holder), 0);
	/* A probe holds nothing afterwards: the lock can be taken. */
	fd = journal_lock_open(t.data, &holder);
	assert_true(fd >= 0);
	journal_lock_close(fd);
	tdir_fini(&t);
}

static void test_journal_lock_open_fails_on_a_file(void **state)
{
	struct tdir t;
	pid_t holder;
	(void)state;

	tdir_init(&t);
	int fd = open(t.data, O_WRONLY | O_CREAT, 0644); /* a file where the directory goes */
	assert_true(fd >= 0);
	(void)close(fd);
	int rc = journal_lock_open(t.data, &holder);
	assert_true(rc == -ENOTDIR || rc == -EEXIST);
	tdir_fini(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_journal_lock_open_twice_is_refused_with_pid),
		cmocka_unit_test(test_journal_lock_is_held_probes_without_taking),
		cmocka_unit_test(test_journal_lock_open_fails_on_a_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
