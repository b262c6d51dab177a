/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private interface between the front end of journal/io.h (io_uring.c: depth accounting,
 * fault injection, the AUTO fallback) and the worker-thread back end (io_thread.c). A
 * request is queued locally, handed over at submit and comes back as a completion; the
 * back end never holds more than `depth` requests because the front end refuses more.
 */
#ifndef SL_JOURNAL_IO_INT_H
#define SL_JOURNAL_IO_INT_H

#include "journal/io.h"

#include <stdint.h>

/* One queued operation, as the caller described it. Memory is borrowed until reaped. */
struct journal_io_req {
	uint64_t tag;
	uint64_t offset;
	uint64_t len; /* bytes to write or read, or the fallocate length */
	union {
		const void *src;  /* WRITE */
		void *dst;	  /* READ */
		const char *path; /* OPEN, UNLINK, RENAME */
	} mem;
	const char *to; /* RENAME: the new name */
	int fd;
	int flags; /* OPEN */
	int buffer_index;
	uint8_t op; /* enum journal_io_op */
};

struct journal_io_thread;

/* Starts the worker for at most `depth` requests. Returns 0, -ENOMEM or -errno of
 * pthread_create. */
int journal_io_thread_create(unsigned depth, struct journal_io_thread **out);

/* Waits for every handed-over request, stops and joins the worker, frees t. */
void journal_io_thread_destroy(struct journal_io_thread *t);

/* Queues a request locally (the front end guarantees room). */
void journal_io_thread_queue(struct journal_io_thread *t, const struct journal_io_req *req);

/* Hands the locally queued requests to the worker, waking it if it may be asleep. */
void journal_io_thread_submit(struct journal_io_thread *t);

/* Takes up to n completions without blocking. */
unsigned journal_io_thread_reap(struct journal_io_thread *t, struct journal_io_completion *out,
				unsigned n);

/* Blocks until a completion is ready or timeout_us passes. */
void journal_io_thread_wait(struct journal_io_thread *t, uint32_t timeout_us);

#endif
