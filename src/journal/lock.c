/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The data directory's lock (journal/lock.h). flock() locks belong to the open file
 * description: the kernel drops them when the holder exits, however it exits, so a crash
 * never leaves a stale lock behind, and a stale pid in the file is harmless (it is read
 * only for a message, and only while the lock is held).
 */
#include "journal/lock.h"

#include "journal/journal_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* "<pid>\n" */
#define LOCK_PID_BYTES 24u

static int lock_path(const char *dir, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/" JOURNAL_LOCK_NAME, dir);

	return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

/* The pid the holder wrote in fd's file; 0 when there is none yet (or garbage). */
static pid_t lock_read_pid(int fd)
{
	char buf[LOCK_PID_BYTES];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	char *end;

	if (n <= 0) {
		return 0;
	}
	buf[n] = '\0';
	long v = strtol(buf, &end, 10);
	return end != buf && v > 0 && v <= INT_MAX ? (pid_t)v : 0;
}

static int lock_write_pid(int fd)
{
	char buf[LOCK_PID_BYTES];
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

	if (ftruncate(fd, 0) != 0) {
		return -errno;
	}
	return pwrite(fd, buf, (size_t)n, 0) == n ? 0 : -EIO;
}

int journal_lock_open(const char *dir, pid_t *holder)
{
	char path[PATH_MAX];
	int rc = lock_path(dir, path, sizeof(path));

	*holder = 0;
	if (rc == 0) {
		rc = journal_mkdir_parents(dir);
	}
	if (rc != 0) {
		return rc;
	}
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		rc = errno == EWOULDBLOCK ? -EWOULDBLOCK : -errno;
		if (rc == -EWOULDBLOCK) {
			*holder = lock_read_pid(fd);
		}
		goto out_close;
	}
	rc = lock_write_pid(fd);
	if (rc != 0) {
		goto out_close;
	}
	return fd;
out_close:
	(void)close(fd);
	return rc;
}

void journal_lock_close(int fd)
{
	if (fd >= 0) {
		(void)close(fd);
	}
}

int journal_lock_is_held(const char *dir, pid_t *holder)
{
	char path[PATH_MAX];
	int rc = lock_path(dir, path, sizeof(path));

	*holder = 0;
	if (rc != 0) {
		return rc;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return errno == ENOENT ? 0 : -errno;
	}
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		rc = 0; /* closing the fd releases the probe's shared lock */
	} else if (errno == EWOULDBLOCK) {
		*holder = lock_read_pid(fd);
		rc = 1;
	} else {
		rc = -errno;
	}
	(void)close(fd);
	return rc;
}
