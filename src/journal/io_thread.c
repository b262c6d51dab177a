/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker-thread back end of journal/io.h, for hosts where io_uring is disabled or
 * blocked: one pthread per journal runs pwrite/pread/fdatasync/fallocate/openat/close/
 * unlink off the shard's thread. Requests go to the worker and completions come back
 * through two single-producer/single-consumer rings of free-running 32-bit indices; the
 * worker sleeps on a futex when it has nothing to do and is woken only when it may be
 * asleep, and a caller of journal_io_wait() sleeps on another futex the same way.
 */
#include "journal/io_int.h"

#include "core/assert.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct journal_io_thread {
	/* Written by the submitting thread only. */
	struct journal_io_req *req;	    /* [cap] */
	struct journal_io_completion *comp; /* [cap] */
	uint32_t cap_mask;
	uint32_t req_tail_local; /* queued, not yet handed over */
	uint32_t comp_head_local;
	pthread_t worker;
	/* Published by the submitting thread: requests [req_head, req_tail) are the worker's. */
	alignas(64) uint32_t req_tail;
	uint32_t comp_head;
	uint32_t stop;
	uint32_t waiter_sleeping;
	/* Bumped (then FUTEX_WAKE) to wake the worker; the worker sleeps on it. */
	uint32_t worker_bell;
	/* Written by the worker only. */
	alignas(64) uint32_t req_head;
	uint32_t comp_tail;
	uint32_t worker_sleeping;
	/* Bumped (then FUTEX_WAKE) by the worker to wake a journal_io_wait() caller. */
	uint32_t waiter_bell;
};

static void journal_io_thread_futex_wait(uint32_t *word, uint32_t seen, const struct timespec *ts)
{
	/* EAGAIN (the word moved), EINTR and ETIMEDOUT all mean: look again. */
	(void)syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, seen, ts, NULL, 0);
}

static void journal_io_thread_futex_wake(uint32_t *word)
{
	(void)syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void journal_io_thread_ring(uint32_t *bell)
{
	(void)__atomic_add_fetch(bell, 1, __ATOMIC_SEQ_CST);
	journal_io_thread_futex_wake(bell);
}

static int32_t journal_io_thread_write(const struct journal_io_req *r)
{
	const uint8_t *src = r->mem.src;
	uint64_t done = 0;

	while (done < r->len) {
		ssize_t n = pwrite(r->fd, src + done, r->len - done, (off_t)(r->offset + done));
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			return -errno;
		}
		if (n == 0) {
			return -EIO; /* no progress and no error: do not spin */
		}
		done += (uint64_t)n;
	}
	return (int32_t)done;
}

static int32_t journal_io_thread_read(const struct journal_io_req *r)
{
	ssize_t n;

	do {
		n = pread(r->fd, r->mem.dst, r->len, (off_t)r->offset);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : (int32_t)n;
}

static int32_t journal_io_thread_result(int rc)
{
	return rc < 0 ? -errno : rc;
}

static int32_t journal_io_thread_run(const struct journal_io_req *r)
{
	switch ((enum journal_io_op)r->op) {
	case JOURNAL_IO_OP_WRITE:
		return journal_io_thread_write(r);
	case JOURNAL_IO_OP_READ:
		return journal_io_thread_read(r);
	case JOURNAL_IO_OP_FDATASYNC:
		return journal_io_thread_result(fdatasync(r->fd));
	case JOURNAL_IO_OP_FALLOCATE:
		return journal_io_thread_result(
			fallocate(r->fd, 0, (off_t)r->offset, (off_t)r->len));
	case JOURNAL_IO_OP_OPEN:
		return journal_io_thread_result(openat(AT_FDCWD, r->mem.path, r->flags, 0644));
	case JOURNAL_IO_OP_CLOSE:
		return journal_io_thread_result(close(r->fd));
	case JOURNAL_IO_OP_UNLINK:
		return journal_io_thread_result(unlink(r->mem.path));
	case JOURNAL_IO_OP_RENAME:
		return journal_io_thread_result(rename(r->mem.path, r->to));
	case JOURNAL_IO_OP_COUNT:
		break;
	}
	SL_ASSERT(!"unknown journal I/O operation");
	return -EINVAL;
}

/* Sleeps until the submitter rings or stops. The store of worker_sleeping and the load of
 * req_tail (both SEQ_CST) pair with the SEQ_CST store of req_tail and load of
 * worker_sleeping in journal_io_thread_submit(): at least one side sees the other. */
static void journal_io_thread_sleep(struct journal_io_thread *t, uint32_t head)
{
	uint32_t seen = __atomic_load_n(&t->worker_bell, __ATOMIC_ACQUIRE);

	__atomic_store_n(&t->worker_sleeping, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&t->req_tail, __ATOMIC_SEQ_CST) == head &&
	    !__atomic_load_n(&t->stop, __ATOMIC_SEQ_CST)) {
		journal_io_thread_futex_wait(&t->worker_bell, seen, NULL);
	}
	__atomic_store_n(&t->worker_sleeping, 0, __ATOMIC_RELAXED);
}

/* Publishes one completion. The SEQ_CST store of comp_tail and load of waiter_sleeping
 * pair with journal_io_thread_wait()'s SEQ_CST store of waiter_sleeping and load of
 * comp_tail; the store also releases the slot's contents to journal_io_thread_reap()'s
 * ACQUIRE load of comp_tail. */
static void journal_io_thread_complete(struct journal_io_thread *t, uint64_t tag, int32_t res,
				       uint8_t op)
{
	uint32_t tail = t->comp_tail;

	SL_ASSERT(tail - __atomic_load_n(&t->comp_head, __ATOMIC_ACQUIRE) <= t->cap_mask);
	t->comp[tail & t->cap_mask] = (struct journal_io_completion){
		.tag = tag,
		.res = res,
		.op = op,
	};
	__atomic_store_n(&t->comp_tail, tail + 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&t->waiter_sleeping, __ATOMIC_SEQ_CST)) {
		journal_io_thread_ring(&t->waiter_bell);
	}
}

static void *journal_io_thread_main(void *arg)
{
	struct journal_io_thread *t = arg;
	uint32_t head = t->req_head;

	for (;;) {
		/* ACQUIRE pairs with the RELEASE store of req_tail in submit: the slots
		 * before it are fully written. */
		uint32_t tail = __atomic_load_n(&t->req_tail, __ATOMIC_ACQUIRE);
		if (head == tail) {
			if (__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE)) {
				break;
			}
			journal_io_thread_sleep(t, head);
			continue;
		}
		struct journal_io_req r = t->req[head & t->cap_mask];
		/* RELEASE: the slot was copied out before the submitter may reuse it. */
		__atomic_store_n(&t->req_head, ++head, __ATOMIC_RELEASE);
		journal_io_thread_complete(t, r.tag, journal_io_thread_run(&r), r.op);
	}
	return NULL;
}

int journal_io_thread_create(unsigned depth, struct journal_io_thread **out)
{
	uint32_t cap = 1;
	int rc = -ENOMEM;

	while (cap < depth) {
		cap <<= 1;
	}
	struct journal_io_thread *t = aligned_alloc(64, sizeof(*t));
	if (t == NULL) {
		goto out;
	}
	*t = (struct journal_io_thread){.cap_mask = cap - 1};
	t->req = calloc(cap, sizeof(*t->req));
	t->comp = calloc(cap, sizeof(*t->comp));
	if (t->req == NULL || t->comp == NULL) {
		goto out_free;
	}
	rc = -pthread_create(&t->worker, NULL, journal_io_thread_main, t);
	if (rc != 0) {
		goto out_free;
	}
	*out = t;
	return 0;

out_free:
	free(t->req);
	free(t->comp);
	free(t);
out:
	return rc;
}

void journal_io_thread_destroy(struct journal_io_thread *t)
{
	if (t == NULL) {
		return;
	}
	journal_io_thread_submit(t);
	/* The worker drains what was handed over before it looks at stop. */
	__atomic_store_n(&t->stop, 1, __ATOMIC_SEQ_CST);
	journal_io_thread_ring(&t->worker_bell);
	(void)pthread_join(t->worker, NULL);
	free(t->req);
	free(t->comp);
	free(t);
}

void journal_io_thread_queue(struct journal_io_thread *t, const struct journal_io_req *req)
{
	uint32_t tail = t->req_tail_local;

	/* The front end bounds requests queued, in flight and unreaped by depth <= cap. */
	SL_ASSERT(tail - __atomic_load_n(&t->req_head, __ATOMIC_ACQUIRE) <= t->cap_mask);
	t->req[tail & t->cap_mask] = *req;
	t->req_tail_local = tail + 1;
}

void journal_io_thread_submit(struct journal_io_thread *t)
{
	if (t->req_tail_local == t->req_tail) {
		return;
	}
	/* SEQ_CST (a RELEASE for the worker's ACQUIRE load of req_tail) pairs with
	 * journal_io_thread_sleep(): either the worker sees the new tail or we see it
	 * sleeping and ring. */
	__atomic_store_n(&t->req_tail, t->req_tail_local, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&t->worker_sleeping, __ATOMIC_SEQ_CST)) {
		journal_io_thread_ring(&t->worker_bell);
	}
}

unsigned journal_io_thread_reap(struct journal_io_thread *t, struct journal_io_completion *out,
				unsigned n)
{
	/* ACQUIRE pairs with the worker's store of comp_tail in journal_io_thread_complete(). */
	uint32_t tail = __atomic_load_n(&t->comp_tail, __ATOMIC_ACQUIRE);
	uint32_t head = t->comp_head_local;
	unsigned got = 0;

	while (head != tail && got < n) {
		out[got++] = t->comp[head & t->cap_mask];
		head++;
	}
	t->comp_head_local = head;
	/* RELEASE: the slots were copied out before the worker may reuse them. */
	__atomic_store_n(&t->comp_head, head, __ATOMIC_RELEASE);
	return got;
}

void journal_io_thread_wait(struct journal_io_thread *t, uint32_t timeout_us)
{
	struct timespec ts = {
		.tv_sec = timeout_us / 1000000u,
		.tv_nsec = (long)(timeout_us % 1000000u) * 1000,
	};
	uint32_t seen = __atomic_load_n(&t->waiter_bell, __ATOMIC_ACQUIRE);

	journal_io_thread_submit(t);
	/* SEQ_CST pairs with journal_io_thread_complete(): either we see the completion or
	 * the worker sees us sleeping and rings. */
	__atomic_store_n(&t->waiter_sleeping, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&t->comp_tail, __ATOMIC_SEQ_CST) == t->comp_head_local) {
		journal_io_thread_futex_wait(&t->waiter_bell, seen, &ts);
	}
	__atomic_store_n(&t->waiter_sleeping, 0, __ATOMIC_RELAXED);
}
