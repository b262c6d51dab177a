/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Asynchronous file I/O for one journal: queue operations, submit them, reap their
 * completions, never block the caller. Two back ends behind one interface, chosen at
 * start-up: io_uring (one ring per journal, SINGLE_ISSUER|DEFER_TASKRUN when the kernel
 * offers them, registered buffers) and, where io_uring is unavailable or refused, a
 * worker thread per journal running pwrite/pread/fdatasync/fallocate/openat/close/unlink/
 * rename off the
 * caller's thread. Same semantics on both: operations may complete in any order; a
 * completion's res is what the syscall returned, or -errno.
 */
#ifndef SL_JOURNAL_IO_H
#define SL_JOURNAL_IO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

enum journal_io_kind {
	JOURNAL_IO_AUTO = 0,   /* io_uring if it works here, else the thread */
	JOURNAL_IO_URING = 1,  /* io_uring or fail */
	JOURNAL_IO_THREAD = 2, /* the pwrite + fdatasync worker thread */
};

enum journal_io_op {
	JOURNAL_IO_OP_WRITE,
	JOURNAL_IO_OP_READ,
	JOURNAL_IO_OP_FDATASYNC,
	JOURNAL_IO_OP_FALLOCATE,
	JOURNAL_IO_OP_OPEN, /* openat(AT_FDCWD, path, flags, 0644); res: the fd */
	JOURNAL_IO_OP_CLOSE,
	JOURNAL_IO_OP_UNLINK,
	JOURNAL_IO_OP_RENAME, /* renameat(AT_FDCWD, path, AT_FDCWD, to) */
	JOURNAL_IO_OP_COUNT,
};

/* Bounds of the queue depth (operations queued or in flight at once). */
#define JOURNAL_IO_DEPTH_MIN 4u
#define JOURNAL_IO_DEPTH_MAX 4096u

struct journal_io_completion {
	uint64_t tag; /* the caller's tag of the operation */
	int32_t res;  /* bytes, fd or 0; -errno on failure */
	uint8_t op;   /* enum journal_io_op */
};

struct journal_io;

/*
 * Creates a back end for at most `depth` operations in flight. With `buffers` (may be
 * NULL when nbuffers is 0) the io_uring back end registers them (fixed buffers; when the
 * kernel refuses, e.g. for RLIMIT_MEMLOCK, they are used unregistered); the thread back
 * end ignores them. AUTO tries io_uring first (creation and one probe of the
 * operations used) and falls back to the thread. Returns 0, -EINVAL, -ENOMEM, or the
 * io_uring error when kind is URING. Never logs: journal_io_kind_name(journal_io_kind())
 * and journal_io_fallback_reason() say what was chosen and why.
 */
int journal_io_create(enum journal_io_kind kind, unsigned depth, const struct iovec *buffers,
		      unsigned nbuffers, struct journal_io **out);

/* Waits for every operation in flight, then frees io (NULL is a no-op). */
void journal_io_destroy(struct journal_io *io);

/* The back end in use (URING or THREAD). */
enum journal_io_kind journal_io_kind(const struct journal_io *io);

/* "io_uring", "thread", "auto". */
const char *journal_io_kind_name(enum journal_io_kind kind);

/* Why AUTO fell back to the thread ("io_uring_queue_init: Operation not permitted"),
 * or NULL when it did not. */
const char *journal_io_fallback_reason(const struct journal_io *io);

/*
 * False when only another thread may drive io: an io_uring ring set up SINGLE_ISSUER
 * belongs to the thread that first submitted to it (journal_io_create() leaves it
 * disabled until then, so it may be created on another thread). Elsewhere submit, reap
 * and wait do nothing useful, and journal_io_destroy() does not wait for what is in flight
 * (the kernel finishes it when the ring is torn down).
 */
bool journal_io_is_usable_here(const struct journal_io *io);

/* Operations queued or in flight, not yet reaped. */
unsigned journal_io_inflight(const struct journal_io *io);

/*
 * Queue one operation. The memory (buf, path) is borrowed until its completion is
 * reaped. buffer_index: the index of a registered buffer that contains buf, or -1.
 * Return 0, or -EBUSY when `depth` operations are already queued or in flight. Both back
 * ends continue a short write, so a write completes with len or -errno.
 */
int journal_io_write(struct journal_io *io, int fd, const void *buf, uint32_t len, uint64_t offset,
		     int buffer_index, uint64_t tag);
int journal_io_read(struct journal_io *io, int fd, void *buf, uint32_t len, uint64_t offset,
		    int buffer_index, uint64_t tag);
int journal_io_fdatasync(struct journal_io *io, int fd, uint64_t tag);
int journal_io_fallocate(struct journal_io *io, int fd, uint64_t offset, uint64_t len,
			 uint64_t tag);
int journal_io_open(struct journal_io *io, const char *path, int flags, uint64_t tag);
int journal_io_close(struct journal_io *io, int fd, uint64_t tag);
int journal_io_unlink(struct journal_io *io, const char *path, uint64_t tag);
int journal_io_rename(struct journal_io *io, const char *path, const char *to, uint64_t tag);

/* Hands the queued operations to the kernel (or the worker). Never blocks. Returns 0 or
 * -errno of io_uring_submit (the operations stay queued and are retried next time). */
int journal_io_submit(struct journal_io *io);

/* Takes up to n completions. Never blocks. Returns the number taken. */
unsigned journal_io_reap(struct journal_io *io, struct journal_io_completion *out, unsigned n);

/* Submits, then blocks until at least one completion is ready or timeout_us passes.
 * For start-up, shutdown, tools and tests only: never on a polling shard. */
void journal_io_wait(struct journal_io *io, uint32_t timeout_us);

/*
 * Test hook: the next `count` completions of operation `op` carry `res` instead of what
 * the kernel returned (the operation itself still runs). Used to test -EIO and -ENOSPC.
 */
void journal_io_inject(struct journal_io *io, enum journal_io_op op, int32_t res, unsigned count);

#endif
