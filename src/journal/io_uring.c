/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The front end of journal/io.h and its io_uring back end. The front end bounds the
 * operations queued or in flight by `depth`, applies injected results at reap time and,
 * for AUTO, falls back to the worker thread (io_thread.c) when a ring cannot be created
 * or lacks an operation. The back end keeps one ring per journal, created with
 * SINGLE_ISSUER|DEFER_TASKRUN where the kernel has them and disabled until the first
 * submit, so the thread that polls (not the one that opened the journal) becomes its
 * only issuer. Writes are never linked or drained; a short write is continued from where
 * it stopped, so a write completes with its full length or -errno on both back ends.
 */
#include "journal/io_int.h"

#include "core/assert.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct journal_uring {
	struct io_uring ring;
	struct journal_io_req *slot; /* [depth]: the request behind user_data */
	uint64_t *slot_done;	     /* [depth]: bytes a write completed so far */
	unsigned *slot_free;	     /* [depth]: stack of free slot indices */
	unsigned nfree;
	unsigned depth;
	unsigned pending; /* submitted to the kernel, completion not yet seen */
	unsigned setup_flags;
	bool fixed;   /* buffers registered */
	bool enabled; /* an R_DISABLED ring was enabled by its first submit */
	pid_t owner;  /* the thread that enabled it */
};

struct journal_io_inject_state {
	int32_t res;
	unsigned count;
};

struct journal_io {
	enum journal_io_kind kind;
	unsigned depth;
	unsigned inflight; /* queued, in flight or completed, not yet reaped */
	bool ring_ready;   /* uring.ring was initialised */
	struct journal_uring uring;
	struct journal_io_thread *thread;
	struct journal_io_inject_state inject[JOURNAL_IO_OP_COUNT];
	bool fell_back;
	char reason[160];
};

/* Ring set-ups to try, best first; the next one is tried when the kernel says EINVAL. */
static const unsigned journal_uring_setups[] = {
	IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED,
	IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_R_DISABLED,
	0,
};

static const struct {
	uint8_t opcode;
	const char *name;
} journal_uring_needed[] = {
	{IORING_OP_WRITE, "WRITE"},	      {IORING_OP_READ, "READ"},
	{IORING_OP_FSYNC, "FSYNC"},	      {IORING_OP_FALLOCATE, "FALLOCATE"},
	{IORING_OP_OPENAT, "OPENAT"},	      {IORING_OP_CLOSE, "CLOSE"},
	{IORING_OP_UNLINKAT, "UNLINKAT"},     {IORING_OP_WRITE_FIXED, "WRITE_FIXED"},
	{IORING_OP_READ_FIXED, "READ_FIXED"}, {IORING_OP_RENAMEAT, "RENAMEAT"},
};

static int journal_uring_probe(struct journal_uring *u, char *reason, size_t reason_len)
{
	struct io_uring_probe *p = io_uring_get_probe_ring(&u->ring);
	int rc = 0;

	if (p == NULL) {
		(void)snprintf(reason, reason_len, "io_uring: cannot probe the operations");
		return -EOPNOTSUPP;
	}
	for (size_t i = 0; i < sizeof(journal_uring_needed) / sizeof(journal_uring_needed[0]);
	     i++) {
		if (!io_uring_opcode_supported(p, journal_uring_needed[i].opcode)) {
			(void)snprintf(reason, reason_len,
				       "io_uring: the kernel does not support %s",
				       journal_uring_needed[i].name);
			rc = -EOPNOTSUPP;
			break;
		}
	}
	io_uring_free_probe(p);
	return rc;
}

static int journal_uring_init_ring(struct journal_uring *u, unsigned depth, char *reason,
				   size_t reason_len)
{
	int rc = -EINVAL;

	for (size_t i = 0; i < sizeof(journal_uring_setups) / sizeof(journal_uring_setups[0]);
	     i++) {
		struct io_uring_params p = {.flags = journal_uring_setups[i]};
		rc = io_uring_queue_init_params(depth, &u->ring, &p);
		if (rc == 0) {
			u->setup_flags = journal_uring_setups[i];
			return 0;
		}
		if (rc != -EINVAL) {
			break;
		}
	}
	(void)snprintf(reason, reason_len, "io_uring_queue_init: %s", strerror(-rc));
	return rc;
}

/* Sets up the ring of io (not yet enabled). On failure io->reason says why. */
static int journal_uring_create(struct journal_io *io, const struct iovec *buffers,
				unsigned nbuffers)
{
	struct journal_uring *u = &io->uring;
	int rc = -ENOMEM;

	u->slot = calloc(io->depth, sizeof(*u->slot));
	u->slot_done = calloc(io->depth, sizeof(*u->slot_done));
	u->slot_free = calloc(io->depth, sizeof(*u->slot_free));
	if (u->slot == NULL || u->slot_done == NULL || u->slot_free == NULL) {
		(void)snprintf(io->reason, sizeof(io->reason), "io_uring: out of memory");
		goto out;
	}
	for (unsigned i = 0; i < io->depth; i++) {
		u->slot_free[i] = io->depth - 1 - i;
	}
	u->nfree = io->depth;
	u->depth = io->depth;
	rc = journal_uring_init_ring(u, io->depth, io->reason, sizeof(io->reason));
	if (rc != 0) {
		goto out;
	}
	rc = journal_uring_probe(u, io->reason, sizeof(io->reason));
	if (rc != 0) {
		goto out_exit;
	}
	/* Registration is an optimisation: RLIMIT_MEMLOCK may refuse it, and plain
	 * reads and writes of the same memory work. */
	u->fixed = nbuffers > 0 && io_uring_register_buffers(&u->ring, buffers, nbuffers) == 0;
	io->ring_ready = true;
	return 0;

out_exit:
	io_uring_queue_exit(&u->ring);
out:
	free(u->slot);
	free(u->slot_done);
	free(u->slot_free);
	u->slot = NULL;
	u->slot_done = NULL;
	u->slot_free = NULL;
	return rc;
}

static void journal_uring_prep(struct journal_uring *u, unsigned s)
{
	const struct journal_io_req *r = &u->slot[s];
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
	uint64_t done = u->slot_done[s];

	/* At most depth slots, each with at most one SQE, in a ring of >= depth entries. */
	SL_ASSERT(sqe != NULL);
	switch ((enum journal_io_op)r->op) {
	case JOURNAL_IO_OP_WRITE: {
		const uint8_t *src = (const uint8_t *)r->mem.src + done;
		unsigned len = (unsigned)(r->len - done);
		if (u->fixed && r->buffer_index >= 0) {
			io_uring_prep_write_fixed(sqe, r->fd, src, len, r->offset + done,
						  r->buffer_index);
		} else {
			io_uring_prep_write(sqe, r->fd, src, len, r->offset + done);
		}
		break;
	}
	case JOURNAL_IO_OP_READ:
		if (u->fixed && r->buffer_index >= 0) {
			io_uring_prep_read_fixed(sqe, r->fd, r->mem.dst, (unsigned)r->len,
						 r->offset, r->buffer_index);
		} else {
			io_uring_prep_read(sqe, r->fd, r->mem.dst, (unsigned)r->len, r->offset);
		}
		break;
	case JOURNAL_IO_OP_FDATASYNC:
		io_uring_prep_fsync(sqe, r->fd, IORING_FSYNC_DATASYNC);
		break;
	case JOURNAL_IO_OP_FALLOCATE:
		io_uring_prep_fallocate(sqe, r->fd, 0, r->offset, r->len);
		break;
	case JOURNAL_IO_OP_OPEN:
		io_uring_prep_openat(sqe, AT_FDCWD, r->mem.path, r->flags, 0644);
		break;
	case JOURNAL_IO_OP_CLOSE:
		io_uring_prep_close(sqe, r->fd);
		break;
	case JOURNAL_IO_OP_UNLINK:
		io_uring_prep_unlinkat(sqe, AT_FDCWD, r->mem.path, 0);
		break;
	case JOURNAL_IO_OP_RENAME:
		io_uring_prep_renameat(sqe, AT_FDCWD, r->mem.path, AT_FDCWD, r->to, 0);
		break;
	case JOURNAL_IO_OP_COUNT:
		SL_ASSERT(!"unknown journal I/O operation");
		break;
	}
	io_uring_sqe_set_data64(sqe, s);
}

static void journal_uring_queue(struct journal_uring *u, const struct journal_io_req *req)
{
	SL_ASSERT(u->nfree > 0);
	unsigned s = u->slot_free[--u->nfree];

	u->slot[s] = *req;
	u->slot_done[s] = 0;
	journal_uring_prep(u, s);
}

static bool journal_uring_is_owned_here(const struct journal_uring *u)
{
	return !(u->setup_flags & IORING_SETUP_SINGLE_ISSUER) || !u->enabled ||
	       u->owner == (pid_t)syscall(SYS_gettid);
}

static int journal_uring_submit(struct journal_uring *u)
{
	if (!u->enabled && (u->setup_flags & IORING_SETUP_R_DISABLED)) {
		/* liburing 2.3 declares io_uring_enable_rings() but does not export it. */
		if (syscall(__NR_io_uring_register, u->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS,
			    NULL, 0) < 0) {
			return -errno;
		}
		u->owner = (pid_t)syscall(SYS_gettid);
	}
	u->enabled = true;
	if (io_uring_sq_ready(&u->ring) == 0) {
		return 0;
	}
	int rc = io_uring_submit(&u->ring);
	if (rc < 0) {
		return rc;
	}
	u->pending += (unsigned)rc;
	return 0;
}

/* Turns one CQE into a completion; false when a short write was continued instead. */
static bool journal_uring_complete(struct journal_uring *u, const struct io_uring_cqe *cqe,
				   struct journal_io_completion *out)
{
	unsigned s = (unsigned)io_uring_cqe_get_data64(cqe);
	const struct journal_io_req *r = &u->slot[s];
	int32_t res = cqe->res;

	SL_ASSERT(s < u->depth && u->pending > 0);
	u->pending--;
	if (r->op == JOURNAL_IO_OP_WRITE && res >= 0) {
		if (res == 0 && r->len > 0) {
			res = -EIO; /* no progress and no error: do not spin */
		} else if (u->slot_done[s] + (uint64_t)res < r->len) {
			u->slot_done[s] += (uint64_t)res;
			journal_uring_prep(u, s);
			return false;
		} else {
			res = (int32_t)r->len;
		}
	}
	*out = (struct journal_io_completion){.tag = r->tag, .res = res, .op = r->op};
	u->slot_free[u->nfree++] = s;
	return true;
}

static unsigned journal_uring_reap(struct journal_uring *u, struct journal_io_completion *out,
				   unsigned n)
{
	struct io_uring_cqe *cqes[32];
	unsigned got = 0;
	bool continued = false;

	/* DEFER_TASKRUN: completions are only posted while this thread is in the kernel. */
	if (u->pending > 0 && io_uring_cq_ready(&u->ring) == 0 && journal_uring_is_owned_here(u)) {
		(void)io_uring_get_events(&u->ring);
	}
	while (got < n) {
		unsigned want = n - got < 32 ? n - got : 32;
		unsigned k = io_uring_peek_batch_cqe(&u->ring, cqes, want);
		if (k == 0) {
			break;
		}
		for (unsigned i = 0; i < k; i++) {
			if (journal_uring_complete(u, cqes[i], &out[got])) {
				got++;
			} else {
				continued = true;
			}
		}
		io_uring_cq_advance(&u->ring, k);
	}
	if (continued) {
		(void)journal_uring_submit(u);
	}
	return got;
}

static void journal_uring_wait(struct journal_uring *u, uint32_t timeout_us)
{
	struct __kernel_timespec ts = {
		.tv_sec = timeout_us / 1000000u,
		.tv_nsec = (long long)(timeout_us % 1000000u) * 1000,
	};
	struct io_uring_cqe *cqe;

	(void)journal_uring_submit(u);
	if (u->pending == 0 || io_uring_cq_ready(&u->ring) > 0 || !journal_uring_is_owned_here(u)) {
		return;
	}
	(void)io_uring_wait_cqe_timeout(&u->ring, &cqe, &ts);
}

static void journal_uring_destroy(struct journal_uring *u)
{
	io_uring_queue_exit(&u->ring);
	free(u->slot);
	free(u->slot_done);
	free(u->slot_free);
}

int journal_io_create(enum journal_io_kind kind, unsigned depth, const struct iovec *buffers,
		      unsigned nbuffers, struct journal_io **out)
{
	struct journal_io *io;
	int rc = -EINVAL;

	if (depth < JOURNAL_IO_DEPTH_MIN || depth > JOURNAL_IO_DEPTH_MAX ||
	    kind > JOURNAL_IO_THREAD || (nbuffers > 0 && buffers == NULL)) {
		goto out;
	}
	rc = -ENOMEM;
	io = calloc(1, sizeof(*io));
	if (io == NULL) {
		goto out;
	}
	io->depth = depth;
	if (kind != JOURNAL_IO_THREAD) {
		io->kind = JOURNAL_IO_URING;
		rc = journal_uring_create(io, buffers, nbuffers);
		if (rc == 0) {
			*out = io;
			return 0;
		}
		if (kind == JOURNAL_IO_URING) {
			goto out_free;
		}
		io->fell_back = true;
	}
	io->kind = JOURNAL_IO_THREAD;
	rc = journal_io_thread_create(depth, &io->thread);
	if (rc != 0) {
		goto out_free;
	}
	*out = io;
	return 0;

out_free:
	free(io);
out:
	return rc;
}

void journal_io_destroy(struct journal_io *io)
{
	struct journal_io_completion c[16];

	if (io == NULL) {
		return;
	}
	/* A SINGLE_ISSUER ring can only be driven by its owner; elsewhere the kernel
	 * finishes what is in flight when the ring is torn down. */
	while (io->inflight > 0 && journal_io_is_usable_here(io)) {
		journal_io_wait(io, 100000);
		(void)journal_io_reap(io, c, 16);
	}
	if (io->kind == JOURNAL_IO_URING) {
		journal_uring_destroy(&io->uring);
	} else {
		journal_io_thread_destroy(io->thread);
	}
	free(io);
}

enum journal_io_kind journal_io_kind(const struct journal_io *io)
{
	return io->kind;
}

const char *journal_io_kind_name(enum journal_io_kind kind)
{
	switch (kind) {
	case JOURNAL_IO_AUTO:
		return "auto";
	case JOURNAL_IO_URING:
		return "io_uring";
	case JOURNAL_IO_THREAD:
		return "thread";
	}
	return "unknown";
}

const char *journal_io_fallback_reason(const struct journal_io *io)
{
	return io->fell_back ? io->reason : NULL;
}

bool journal_io_is_usable_here(const struct journal_io *io)
{
	return io->kind != JOURNAL_IO_URING || journal_uring_is_owned_here(&io->uring);
}

unsigned journal_io_inflight(const struct journal_io *io)
{
	return io->inflight;
}

static int journal_io_queue(struct journal_io *io, const struct journal_io_req *req)
{
	if (io->inflight >= io->depth) {
		return -EBUSY;
	}
	io->inflight++;
	if (io->kind == JOURNAL_IO_URING) {
		journal_uring_queue(&io->uring, req);
	} else {
		journal_io_thread_queue(io->thread, req);
	}
	return 0;
}

int journal_io_write(struct journal_io *io, int fd, const void *buf, uint32_t len, uint64_t offset,
		     int buffer_index, uint64_t tag)
{
	struct journal_io_req r = {
		.tag = tag,
		.offset = offset,
		.len = len,
		.mem.src = buf,
		.fd = fd,
		.buffer_index = buffer_index,
		.op = JOURNAL_IO_OP_WRITE,
	};
	return journal_io_queue(io, &r);
}

int journal_io_read(struct journal_io *io, int fd, void *buf, uint32_t len, uint64_t offset,
		    int buffer_index, uint64_t tag)
{
	struct journal_io_req r = {
		.tag = tag,
		.offset = offset,
		.len = len,
		.mem.dst = buf,
		.fd = fd,
		.buffer_index = buffer_index,
		.op = JOURNAL_IO_OP_READ,
	};
	return journal_io_queue(io, &r);
}

int journal_io_fdatasync(struct journal_io *io, int fd, uint64_t tag)
{
	struct journal_io_req r = {
		.tag = tag, .fd = fd, .buffer_index = -1, .op = JOURNAL_IO_OP_FDATASYNC};
	return journal_io_queue(io, &r);
}

int journal_io_fallocate(struct journal_io *io, int fd, uint64_t offset, uint64_t len, uint64_t tag)
{
	struct journal_io_req r = {
		.tag = tag,
		.offset = offset,
		.len = len,
		.fd = fd,
		.buffer_index = -1,
		.op = JOURNAL_IO_OP_FALLOCATE,
	};
	return journal_io_queue(io, &r);
}

int journal_io_open(struct journal_io *io, const char *path, int flags, uint64_t tag)
{
	struct journal_io_req r = {
		.tag = tag,
		.mem.path = path,
		.fd = -1,
		.flags = flags,
		.buffer_index = -1,
		.op = JOURNAL_IO_OP_OPEN,
	};
	return journal_io_queue(io, &r);
}

int journal_io_close(struct journal_io *io, int fd, uint64_t tag)
{
	struct journal_io_req r = {
		.tag = tag, .fd = fd, .buffer_index = -1, .op = JOURNAL_IO_OP_CLOSE};
	return journal_io_queue(io, &r);
}

int journal_io_unlink(struct journal_io *io, const char *path, uint64_t tag)
{
	struct journal_io_req r = {
		.tag = tag,
		.mem.path = path,
		.fd = -1,
		.buffer_index = -1,
		.op = JOURNAL_IO_OP_UNLINK,
	};
	return journal_io_queue(io, &r);
}

int journal_io_rename(struct journal_io *io, const char *path, const char *to, uint64_t tag)
{
	struct journal_io_req r = {
		.tag = tag,
		.mem.path = path,
		.to = to,
		.fd = -1,
		.buffer_index = -1,
		.op = JOURNAL_IO_OP_RENAME,
	};
	return journal_io_queue(io, &r);
}

int journal_io_submit(struct journal_io *io)
{
	if (io->kind == JOURNAL_IO_URING) {
		return journal_uring_submit(&io->uring);
	}
	journal_io_thread_submit(io->thread);
	return 0;
}

unsigned journal_io_reap(struct journal_io *io, struct journal_io_completion *out, unsigned n)
{
	unsigned got;

	if (io->kind == JOURNAL_IO_URING) {
		got = journal_uring_reap(&io->uring, out, n);
	} else {
		got = journal_io_thread_reap(io->thread, out, n);
	}
	SL_ASSERT(got <= io->inflight);
	io->inflight -= got;
	for (unsigned i = 0; i < got; i++) {
		struct journal_io_inject_state *inj = &io->inject[out[i].op];
		if (inj->count > 0) {
			inj->count--;
			out[i].res = inj->res;
		}
	}
	return got;
}

void journal_io_wait(struct journal_io *io, uint32_t timeout_us)
{
	if (io->kind == JOURNAL_IO_URING) {
		journal_uring_wait(&io->uring, timeout_us);
	} else if (io->inflight > 0) {
		journal_io_thread_wait(io->thread, timeout_us);
	}
}

void journal_io_inject(struct journal_io *io, enum journal_io_op op, int32_t res, unsigned count)
{
	SL_ASSERT(op < JOURNAL_IO_OP_COUNT);
	io->inject[op] = (struct journal_io_inject_state){.res = res, .count = count};
}
