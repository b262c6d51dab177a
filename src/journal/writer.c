/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The journal writer: recovery at open, then appends staged in chunks and written, synced
 * and rolled over segments through journal/io.h without ever blocking the shard.
 *
 * Positions. A journal position is a virtual byte address. A segment based at b with
 * capacity c (segment_bytes - BLOCK) holds positions [b, b + c) at file offsets
 * BLOCK + (p - b); the next segment is based at b + c, so it can be created, preallocated,
 * given its header and synced ahead of use (from when the current one is half used), then
 * zero-filled while no data write is in flight. Entries never span segments: one that does
 * not fit rolls to the next segment and the rest of the old one stays zero. When the maintenance thread offers a spare (a segment
 * retention removed, journal/maint.h), the next segment is made from it instead: opened,
 * given a recycled header (format version 2), synced, renamed to its segment name and
 * the directory synced; no fallocate, no zero-fill. Stale entries follow its data, so the
 * roll away from a recycled segment writes a zero entry header after its last entry.
 *
 * Staging. `buffers` page-aligned chunks of chunk_bytes (flush_bytes + largest entry +
 * one block) from the shard's NUMA node, registered with io_uring, used in ring order. A
 * chunk covers a block-aligned file range of one segment; entries are encoded straight
 * into it. Sealing pads it with zeros to a block; its partial last block is copied into the
 * next chunk, whose first write rewrites that block with more data (the O_DIRECT tail
 * rewrite). A chunk is sealed at flush_bytes, when its oldest entry is flush_us old, at a
 * roll and at close.
 *
 * Writing and syncing. A sealed chunk goes out as ceil(len / WRITE_BYTES_MAX) unlinked
 * writes. Consecutive chunks overlap on the rewritten block, so chunk k+1 is issued only
 * once every write of chunk k completed; chunk k's fdatasync is issued then (ALWAYS), and
 * runs while chunk k+1 is written (pipelined group commit). INTERVAL issues one when data
 * is unsynced and fsync_us passed; NEVER counts data as durable once written. An
 * fdatasync issued at written end W makes everything below W durable when it completes;
 * the durable end is the largest such W. Except with NEVER, a chunk is not issued while it
 * would leave more than window_bytes (2 chunks, recorded in the segment header) unsynced in
 * its segment: an fdatasync is issued early instead, so recovery can tell a torn tail
 * (within the window) from corruption. Roll barrier: the first write into a segment waits
 * until everything before it is written and synced, even with NEVER, so only the newest
 * segment holding data can have a torn tail.
 *
 * Failure. A failed data write or fdatasync stops the journal for good (no retry: the page
 * cache may have dropped the dirty pages, "fsyncgate"): the durable end freezes and
 * appends answer -EROFS. No space to preallocate the next segment is not a failure: the
 * half-made file is removed, creation is retried once a second from journal_poll(), and
 * meanwhile appends that need the next segment answer -ENOSPC.
 *
 * Threads. journal_open() may run on another thread than the shard; the io_uring ring
 * belongs to the first thread that polls, and journal_close() on another thread cannot
 * wait for it (drain with journal_poll() until journal_is_idle() first). All memory is
 * allocated in journal_open().
 */
#include "journal/journal_int.h"

#include "core/assert.h"
#include "core/clock.h"
#include "core/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <numa.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const journal_stat_names[JOURNAL_STAT_COUNT] = {
	[JOURNAL_STAT_BATCHES] = "batches",
	[JOURNAL_STAT_BYTES] = "bytes",
	[JOURNAL_STAT_WRITES] = "writes",
	[JOURNAL_STAT_WRITE_BYTES] = "write_bytes",
	[JOURNAL_STAT_FSYNCS] = "fsyncs",
	[JOURNAL_STAT_FLUSH_SIZE] = "flush_size",
	[JOURNAL_STAT_FLUSH_TIME] = "flush_time",
	[JOURNAL_STAT_FLUSH_ROLL] = "flush_roll",
	[JOURNAL_STAT_FLUSH_CLOSE] = "flush_close",
	[JOURNAL_STAT_BUSY] = "busy",
	[JOURNAL_STAT_STORAGE_ERRORS] = "storage_errors",
	[JOURNAL_STAT_SEGMENTS_CREATED] = "segments_created",
	[JOURNAL_STAT_SEGMENTS_DELETED] = "segments_deleted",
	[JOURNAL_STAT_RETENTION_BYTES] = "retention_bytes",
	[JOURNAL_STAT_ROLL_WAITS] = "roll_waits",
	[JOURNAL_STAT_TORN_TRUNCATIONS] = "torn_truncations",
	[JOURNAL_STAT_FSYNC_US_LT_50] = "fsync_us_lt_50",
	[JOURNAL_STAT_FSYNC_US_LT_100] = "fsync_us_lt_100",
	[JOURNAL_STAT_FSYNC_US_LT_200] = "fsync_us_lt_200",
	[JOURNAL_STAT_FSYNC_US_LT_500] = "fsync_us_lt_500",
	[JOURNAL_STAT_FSYNC_US_LT_1000] = "fsync_us_lt_1000",
	[JOURNAL_STAT_FSYNC_US_LT_2000] = "fsync_us_lt_2000",
	[JOURNAL_STAT_FSYNC_US_LT_5000] = "fsync_us_lt_5000",
	[JOURNAL_STAT_FSYNC_US_LT_20000] = "fsync_us_lt_20000",
	[JOURNAL_STAT_FSYNC_US_GE_20000] = "fsync_us_ge_20000",
	[JOURNAL_STAT_INDEX_BUILT] = "index_built",
	[JOURNAL_STAT_INDEX_REBUILT] = "index_rebuilt",
	[JOURNAL_STAT_READS] = "reads",
	[JOURNAL_STAT_READ_BYTES] = "read_bytes",
	[JOURNAL_STAT_CURSOR_GAPS] = "cursor_gaps",
	[JOURNAL_STAT_ZERO_FILL_BYTES] = "zero_fill_bytes",
	[JOURNAL_STAT_SEGMENTS_RECYCLED] = "segments_recycled",
	[JOURNAL_STAT_SEGMENTS_REUSED] = "segments_reused",
	[JOURNAL_STAT_MAINT_ERRORS] = "maint_errors",
};

/* Upper bounds (exclusive) of the fsync latency buckets, LT_50 onwards. */
static const uint32_t journal_fsync_bucket_us[] = {50, 100, 200, 500, 1000, 2000, 5000, 20000};

const char *journal_stat_name(enum journal_stat stat)
{
	return stat < JOURNAL_STAT_COUNT ? journal_stat_names[stat] : "unknown";
}

/* Only the journal's thread writes counters; readers load them relaxed. */
void journal_count(struct journal *j, enum journal_stat stat, uint64_t n)
{
	uint64_t *c = journal_counter_slot(j, stat);

	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

static uint64_t journal_round_up(uint64_t v, uint64_t to)
{
	return (v + to - 1) / to * to;
}

static struct journal_seg *journal_seg_of(struct journal *j, uint64_t seq)
{
	return &j->seg[seq % JOURNAL_SEG_SLOTS];
}

static struct journal_chunk *journal_chunk_of(struct journal *j, uint64_t seq)
{
	return &j->chunks[seq % j->nchunks];
}

/* Stops the journal for good after a storage error; logs the first one only. */
static void journal_fail(struct journal *j, int res, const char *what, const char *path)
{
	journal_count(j, JOURNAL_STAT_STORAGE_ERRORS, 1);
	if (j->failed) {
		return;
	}
	j->failed = true;
	j->first_error = res;
	sl_log(SL_LOG_ERR, JOURNAL_LOG,
	       "%s of %s failed: %s; the journal accepts nothing more until restart", what, path,
	       strerror(-res));
}

/* ---- Synchronous helpers, for journal_open() and journal_close() only ---- */

static int journal_pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return n < 0 ? -errno : -EIO;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int journal_fdatasync_now(int fd)
{
	return fdatasync(fd) < 0 ? -errno : 0;
}

int journal_mkdir_parents(const char *dir)
{
	char path[PATH_MAX];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(path)) {
		return -EINVAL;
	}
	memcpy(path, dir, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0') {
			continue;
		}
		char saved = path[i];
		path[i] = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			return -errno;
		}
		path[i] = saved;
	}
	return 0;
}

/* "<dir>/<base, 20 digits><suffix>": JOURNAL_SEGMENT_NAME_FORMAT, JOURNAL_SPARE_NAME_FORMAT. */
static int journal_file_path(const struct journal *j, const char *suffix, uint64_t base, char *out,
			     size_t len)
{
	char path[PATH_MAX];
	/* Formatted aside: out may lie in j, and snprintf's arguments must not overlap. */
	int n = snprintf(path, sizeof(path), "%s/%020llu%s", j->dir, (unsigned long long)base,
			 suffix);

	if (n < 0 || (size_t)n >= len || (size_t)n >= sizeof(path)) {
		return -ENAMETOOLONG;
	}
	memcpy(out, path, (size_t)n + 1);
	return 0;
}

static int journal_seg_path(const struct journal *j, uint64_t base, char *out, size_t len)
{
	return journal_file_path(j, ".seg", base, out, len);
}

static int journal_spare_path(const struct journal *j, uint64_t base, char *out, size_t len)
{
	return journal_file_path(j, ".spare", base, out, len);
}

/* Opens a data file; drops O_DIRECT for good when the file system refuses it. */
static int journal_open_data_fd(struct journal *j, const char *path, int extra)
{
	int fd = open(path, j->open_flags | extra, 0644);

	if (fd < 0 && errno == EINVAL && (j->open_flags & O_DIRECT)) {
		j->open_flags &= ~O_DIRECT;
		sl_log(SL_LOG_WARNING, JOURNAL_LOG,
		       "the file system of %s refused O_DIRECT: writing through the page cache",
		       j->dir);
		fd = open(path, j->open_flags | extra, 0644);
	}
	return fd < 0 ? -errno : fd;
}

/* ---- Open: configuration and memory ---- */

static bool journal_conf_is_valid(const struct journal_conf *c)
{
	return c->dir != NULL && c->dir[0] != '\0' && strlen(c->dir) < PATH_MAX - 32 &&
	       c->segment_bytes >= JOURNAL_SEGMENT_BYTES_MIN &&
	       c->segment_bytes <= JOURNAL_SEGMENT_BYTES_MAX &&
	       c->segment_bytes % JOURNAL_BLOCK_BYTES == 0 &&
	       c->flush_bytes >= JOURNAL_FLUSH_BYTES_MIN &&
	       c->flush_bytes <= JOURNAL_FLUSH_BYTES_MAX && c->flush_us <= JOURNAL_FLUSH_US_MAX &&
	       c->fsync <= JOURNAL_FSYNC_NEVER && c->fsync_us <= JOURNAL_FSYNC_US_MAX &&
	       c->buffers >= JOURNAL_BUFFERS_MIN && c->buffers <= JOURNAL_BUFFERS_MAX &&
	       c->io <= JOURNAL_IO_THREAD && c->cursors_max <= JOURNAL_CURSORS_MAX &&
	       c->segment_spares <= JOURNAL_SPARES_MAX;
}

void *journal_numa_alloc(size_t bytes, int socket)
{
	if (numa_available() < 0 || socket < 0) {
		return numa_alloc_local(bytes);
	}
	return numa_alloc_onnode(bytes, socket);
}

static void journal_free_memory(struct journal *j)
{
	if (j->chunks != NULL) {
		for (unsigned i = 0; i < j->nchunks; i++) {
			if (j->chunks[i].buf != NULL) {
				numa_free(j->chunks[i].buf, j->chunk_bytes);
			}
		}
	}
	if (j->header_block != NULL) {
		numa_free(j->header_block, JOURNAL_BLOCK_BYTES);
	}
	if (j->zero_block != NULL) {
		numa_free(j->zero_block, JOURNAL_ZERO_BYTES);
	}
	free(j->chunks);
	free(j->spans);
	free(j->cursors);
	free(j);
}

static int journal_alloc(const struct journal_conf *conf, struct journal **out)
{
	struct journal *j = calloc(1, sizeof(*j));

	if (j == NULL) {
		return -ENOMEM;
	}
	j->conf = *conf;
	memcpy(j->dir, conf->dir, strlen(conf->dir) + 1);
	j->conf.dir = j->dir;
	j->counters = conf->counters != NULL ? conf->counters : j->own_counters;
	j->counters_more = conf->counters_more != NULL ? conf->counters_more
						       : j->counters + JOURNAL_STAT_MORE_FIRST;
	j->dir_fd = -1;
	j->open_flags = O_RDWR | O_CLOEXEC | (conf->direct_io ? O_DIRECT : 0);
	/* numa_alloc_* hand out whole pages: O_DIRECT-aligned. */
	j->chunk_bytes = (uint32_t)journal_round_up(
		(uint64_t)conf->flush_bytes + JOURNAL_ENTRY_BYTES_MAX + JOURNAL_BLOCK_BYTES, 4096);
	j->window_bytes = 2 * j->chunk_bytes;
	j->writes_per_chunk_max =
		(j->chunk_bytes + JOURNAL_WRITE_BYTES_MAX - 1) / JOURNAL_WRITE_BYTES_MAX;
	j->nchunks = conf->buffers;
	for (unsigned i = 0; i < JOURNAL_SEG_SLOTS; i++) {
		j->seg[i].fd = -1;
	}
	j->cursors_max = conf->cursors_max != 0 ? conf->cursors_max : JOURNAL_CURSORS_DEFAULT;
	j->cursors = calloc(j->cursors_max, sizeof(*j->cursors));
	j->chunks = calloc(j->nchunks, sizeof(*j->chunks));
	j->header_block = journal_numa_alloc(JOURNAL_BLOCK_BYTES, conf->socket);
	j->zero_block = journal_numa_alloc(JOURNAL_ZERO_BYTES, conf->socket);
	if (j->cursors == NULL || j->chunks == NULL || j->header_block == NULL ||
	    j->zero_block == NULL) {
		goto out_free;
	}
	memset(j->zero_block, 0, JOURNAL_ZERO_BYTES);
	for (unsigned i = 0; i < j->nchunks; i++) {
		j->chunks[i].buf = journal_numa_alloc(j->chunk_bytes, conf->socket);
		if (j->chunks[i].buf == NULL) {
			goto out_free;
		}
		/* Faulted in now, on the node the policy names: the shard takes no page
		 * faults on its first appends, and sluiced's NUMA check sees real pages. */
		memset(j->chunks[i].buf, 0, j->chunk_bytes);
	}
	*out = j;
	return 0;

out_free:
	journal_free_memory(j);
	return -ENOMEM;
}

static int journal_io_setup(struct journal *j)
{
	struct iovec *iov = calloc(j->nchunks + 2, sizeof(*iov));
	unsigned depth = j->writes_per_chunk_max + JOURNAL_FSYNC_SLOTS + JOURNAL_SEG_OPS_MAX +
			 j->cursors_max * JOURNAL_CURSOR_OPS_MAX;
	int rc;

	if (iov == NULL) {
		return -ENOMEM;
	}
	for (unsigned i = 0; i < j->nchunks; i++) {
		iov[i] = (struct iovec){.iov_base = j->chunks[i].buf, .iov_len = j->chunk_bytes};
	}
	iov[j->nchunks] =
		(struct iovec){.iov_base = j->header_block, .iov_len = JOURNAL_BLOCK_BYTES};
	iov[j->nchunks + 1] =
		(struct iovec){.iov_base = j->zero_block, .iov_len = JOURNAL_ZERO_BYTES};
	if (depth < JOURNAL_IO_DEPTH_MIN) {
		depth = JOURNAL_IO_DEPTH_MIN;
	}
	j->io_depth = depth;
	rc = journal_io_create(j->conf.io, depth, iov, j->nchunks + 2, &j->io);
	free(iov);
	if (rc != 0) {
		sl_log(SL_LOG_ERR, JOURNAL_LOG, "%s: cannot start %s I/O: %s", j->dir,
		       journal_io_kind_name(j->conf.io), strerror(-rc));
		return rc;
	}
	if (journal_io_fallback_reason(j->io) != NULL) {
		sl_log(SL_LOG_WARNING, JOURNAL_LOG, "%s: %s; writing with the %s back end", j->dir,
		       journal_io_fallback_reason(j->io),
		       journal_io_kind_name(journal_io_kind(j->io)));
	} else {
		sl_log(SL_LOG_INFO, JOURNAL_LOG, "%s: writing with the %s back end", j->dir,
		       journal_io_kind_name(journal_io_kind(j->io)));
	}
	return 0;
}

/* ---- Open: recovery ---- */

/* Zeroes file offsets [from, to) (to block-aligned) and syncs them. */
static int journal_zero_range(struct journal *j, int fd, uint64_t from, uint64_t to)
{
	uint8_t *buf = j->chunks[0].buf;
	uint64_t off = from & ~(uint64_t)(JOURNAL_BLOCK_BYTES - 1);
	int rc;

	/* The first block keeps its bytes before `from`; O_DIRECT writes whole blocks. */
	rc = journal_pread_zero(fd, buf, JOURNAL_BLOCK_BYTES, off);
	if (rc != 0) {
		return rc;
	}
	memset(buf + (from - off), 0, JOURNAL_BLOCK_BYTES - (from - off));
	memset(buf + JOURNAL_BLOCK_BYTES, 0, j->chunk_bytes - JOURNAL_BLOCK_BYTES);
	while (off < to) {
		uint64_t len = to - off < j->chunk_bytes ? to - off : j->chunk_bytes;
		rc = journal_pwrite_full(fd, buf, len, off);
		if (rc != 0) {
			return rc;
		}
		memset(buf, 0, JOURNAL_BLOCK_BYTES);
		off += len;
	}
	return journal_fdatasync_now(fd);
}

static int journal_cut_torn(struct journal *j, const struct journal_dir *d,
			    const struct journal_scan_result *res)
{
	const struct journal_segment_info *s = NULL;
	char path[PATH_MAX];
	int rc;

	for (unsigned i = 0; i < d->count; i++) {
		const struct journal_segment_info *c = &d->segments[i];
		if (res->torn_position >= c->base_position &&
		    res->torn_position < c->base_position + c->capacity) {
			s = c;
		}
	}
	if (s == NULL) {
		sl_log(SL_LOG_ERR, JOURNAL_LOG, "%s: torn position %llu lies in no segment", j->dir,
		       (unsigned long long)res->torn_position);
		return -EPROTO;
	}
	uint64_t from = journal_segment_offset(s->base_position, res->torn_position);
	uint64_t to = journal_round_up(from + res->torn_bytes, JOURNAL_BLOCK_BYTES);
	uint64_t file_end = journal_round_up(s->file_bytes, JOURNAL_BLOCK_BYTES);
	uint64_t seg_end = JOURNAL_BLOCK_BYTES + s->capacity;
	to = to < seg_end ? to : seg_end;
	to = to < file_end ? to : file_end;
	rc = journal_seg_path(j, s->base_position, path, sizeof(path));
	if (rc != 0) {
		return rc;
	}
	int fd = journal_open_data_fd(j, path, 0);
	if (fd < 0) {
		return fd;
	}
	rc = to > from ? journal_zero_range(j, fd, from, to) : 0;
	(void)close(fd);
	if (rc != 0) {
		sl_log(SL_LOG_ERR, JOURNAL_LOG, "cannot cut the torn tail of %s: %s", path,
		       strerror(-rc));
		return rc;
	}
	journal_count(j, JOURNAL_STAT_TORN_TRUNCATIONS, 1);
	sl_log(SL_LOG_WARNING, JOURNAL_LOG,
	       "cut a torn tail in %s at position %llu (file offset %llu): %s, %llu bytes cut",
	       path, (unsigned long long)res->torn_position, (unsigned long long)from,
	       journal_reject_name(res->torn_reason), (unsigned long long)(to - from));
	return 0;
}

/*
 * The segment right after the one appending continues in, when it was prepared ahead of
 * use by the last run and can serve as the next one as it is: complete header (not
 * unfinished), no data, based where the next segment goes, created with our size and at
 * least our window, its file at full size. Returns its index in d, or d->count; *recycled
 * says whether its header is a recycled segment's.
 */
static unsigned journal_prepared_next(struct journal *j, const struct journal_dir *d,
				      const struct journal_scan_result *res, bool *recycled)
{
	unsigned i = res->end_segment + 1;
	struct journal_segment_header h;
	char path[PATH_MAX];

	if (res->end_segment >= d->count || i + res->unfinished_segments >= d->count) {
		return d->count;
	}
	const struct journal_segment_info *cur = &d->segments[res->end_segment];
	const struct journal_segment_info *s = &d->segments[i];
	if (s->base_position != cur->base_position + cur->capacity ||
	    s->capacity + JOURNAL_BLOCK_BYTES != j->conf.segment_bytes ||
	    s->file_bytes < j->conf.segment_bytes ||
	    journal_seg_path(j, s->base_position, path, sizeof(path)) != 0) {
		return d->count;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return d->count;
	}
	int rc = journal_pread_zero(fd, j->header_block, JOURNAL_BLOCK_BYTES, 0);
	(void)close(fd);
	if (rc != 0 ||
	    journal_segment_header_decode(j->header_block, JOURNAL_BLOCK_BYTES, &h) != JOURNAL_OK ||
	    h.window_bytes < j->window_bytes) {
		return d->count;
	}
	*recycled = journal_segment_is_recycled(&h);
	return i;
}

/* Takes segment info, prepared ahead of use by the last run, as the next one (slot 1):
 * zero-filled again in the background, since the last run may not have finished, unless
 * it is recycled (`recycled`: its header says so) and needs no zeros. */
static int journal_adopt_prepared(struct journal *j, const struct journal_segment_info *info,
				  bool recycled)
{
	struct journal_seg *s = &j->seg[1];

	*s = (struct journal_seg){
		.seq = 1,
		.base = info->base_position,
		.limit = info->base_position + info->capacity,
		.fd = -1,
		.zero_off = JOURNAL_BLOCK_BYTES,
		.zero_synced = recycled,
		.recycled = recycled,
		.state = JOURNAL_SEG_READY,
	};
	int rc = journal_seg_path(j, s->base, s->path, sizeof(s->path));
	if (rc == 0) {
		s->fd = journal_open_data_fd(j, s->path, 0);
		rc = s->fd < 0 ? s->fd : 0;
	}
	if (rc != 0) {
		sl_log(SL_LOG_ERR, JOURNAL_LOG, "cannot open %s: %s", s->path, strerror(-rc));
		s->state = JOURNAL_SEG_EMPTY;
		s->fd = -1;
	}
	return rc;
}

/* Removes the segments after the one appending continues in but `keep`: unfinished
 * creations and segments created ahead of use. They hold no data. */
static int journal_remove_trailing(struct journal *j, const struct journal_dir *d,
				   const struct journal_scan_result *res, unsigned scanned,
				   unsigned keep)
{
	/* Nothing valid after the indexed segments: everything scanned goes. */
	unsigned first = res->end_segment < d->count ? res->end_segment + 1 : scanned;
	unsigned removed = 0;
	char path[PATH_MAX];
	int rc;

	for (unsigned i = first; i < d->count; i++) {
		if (i == keep) {
			continue;
		}
		rc = journal_seg_path(j, d->segments[i].base_position, path, sizeof(path));
		if (rc == 0 && unlink(path) < 0) {
			rc = -errno;
		}
		if (rc != 0) {
			sl_log(SL_LOG_ERR, JOURNAL_LOG, "cannot remove %s: %s", path,
			       strerror(-rc));
			return rc;
		}
		removed++;
	}
	if (removed == 0) {
		return 0;
	}
	sl_log(SL_LOG_INFO, JOURNAL_LOG,
	       "%s: removed %u trailing segments holding no data (%u unfinished)", j->dir, removed,
	       res->unfinished_segments);
	return journal_fdatasync_now(j->dir_fd);
}

/* Creates, preallocates, heads and syncs a segment file now. Returns its fd. */
static int journal_create_segment_now(struct journal *j, uint64_t base, const char *path)
{
	int fd = journal_open_data_fd(j, path, O_CREAT | O_TRUNC);
	int rc;

	if (fd < 0) {
		return fd;
	}
	rc = fallocate(fd, 0, 0, (off_t)j->conf.segment_bytes) < 0 ? -errno : 0;
	if (rc == 0) {
		journal_segment_header_encode(j->header_block, j->conf.shard, base,
					      j->conf.segment_bytes, clock_realtime_ns(),
					      j->window_bytes, false);
		rc = journal_pwrite_full(fd, j->header_block, JOURNAL_BLOCK_BYTES, 0);
	}
	if (rc == 0) {
		rc = journal_fdatasync_now(fd);
	}
	if (rc == 0) {
		rc = journal_fdatasync_now(j->dir_fd);
	}
	if (rc != 0) {
		(void)close(fd);
		(void)unlink(path);
		sl_log(SL_LOG_ERR, JOURNAL_LOG, "cannot create %s: %s", path, strerror(-rc));
		return rc;
	}
	journal_count(j, JOURNAL_STAT_SEGMENTS_CREATED, 1);
	return fd;
}

/* Reads the block holding `end` into chunk 0 so the first write rewrites it intact. */
static int journal_stage_tail(struct journal *j, const struct journal_seg *s, uint64_t end)
{
	struct journal_chunk *c = &j->chunks[0];
	uint64_t off = journal_segment_offset(s->base, end);
	uint32_t carry = (uint32_t)(off % JOURNAL_BLOCK_BYTES);
	int rc;

	j->appended_end = end;
	j->tail_pos = end - carry;
	j->tail_carry = carry;
	if (carry == 0) {
		return 0;
	}
	rc = journal_pread_zero(s->fd, c->buf, JOURNAL_BLOCK_BYTES, off - carry);
	if (rc != 0) {
		return rc;
	}
	*c = (struct journal_chunk){.buf = c->buf,
				    .pos = end - carry,
				    .seg_seq = s->seq,
				    .used = carry,
				    .carry = carry};
	j->open = true;
	return 0;
}

/* Opens the segment appending continues in (or creates it at next_base) as slot 0. */
static int journal_start_segment(struct journal *j, const struct journal_dir *d,
				 const struct journal_scan_result *res, uint64_t next_base)
{
	struct journal_seg *s = &j->seg[0];
	struct journal_segment_header h;
	bool exists = res->end_segment < d->count;
	uint64_t base = exists ? d->segments[res->end_segment].base_position : next_base;
	int rc;

	*s = (struct journal_seg){.base = base, .fd = -1, .state = JOURNAL_SEG_ACTIVE};
	rc = journal_seg_path(j, base, s->path, sizeof(s->path));
	if (rc != 0) {
		return rc;
	}
	if (!exists) {
		s->limit = base + j->conf.segment_bytes - JOURNAL_BLOCK_BYTES;
		s->fd = journal_create_segment_now(j, base, s->path);
		if (s->fd < 0) {
			return s->fd;
		}
		/* Later segments are zero-filled ahead of use while the disk is idle; the
		 * first one is used at once, so it is zero-filled now, before any append:
		 * its data writes then overwrite written blocks too (a fresh journal only,
		 * about segment_bytes / disk bandwidth of start-up). */
		if (j->conf.zero_fill) {
			rc = journal_zero_range(j, s->fd, JOURNAL_BLOCK_BYTES,
						j->conf.segment_bytes);
			if (rc != 0) {
				sl_log(SL_LOG_ERR, JOURNAL_LOG, "cannot zero-fill %s: %s", s->path,
				       strerror(-rc));
				return rc;
			}
			journal_count(j, JOURNAL_STAT_ZERO_FILL_BYTES,
				      j->conf.segment_bytes - JOURNAL_BLOCK_BYTES);
		}
		return journal_stage_tail(j, s, base);
	}
	s->limit = base + d->segments[res->end_segment].capacity;
	s->data_end = res->end_position;
	s->fd = journal_open_data_fd(j, s->path, 0);
	if (s->fd < 0) {
		return s->fd;
	}
	/* Appending into a segment whose header promises a smaller window than ours would
	 * let recovery mistake a torn tail for corruption: start the next one instead. */
	rc = journal_pread_zero(s->fd, j->header_block, JOURNAL_BLOCK_BYTES, 0);
	if (rc == 0) {
		bool valid = journal_segment_header_decode(j->header_block, JOURNAL_BLOCK_BYTES,
							   &h) == JOURNAL_OK;
		s->full = !valid || h.window_bytes < j->window_bytes;
		s->recycled = valid && journal_segment_is_recycled(&h);
		/* What a crashed process left in the page cache becomes durable now. */
		rc = journal_fdatasync_now(s->fd);
	}
	return rc != 0 ? rc : journal_stage_tail(j, s, res->end_position);
}

/* The segment catalog: the segments kept at open, up to the one appending continues in
 * (slot 0, maybe just created); the ones this process creates follow it. Segments are
 * contiguous, each based where the previous one ends, so a kept segment ends where the
 * next begins (capacities of indexed segments are not read at open). */
static int journal_catalog_init(struct journal *j, const struct journal_dir *d)
{
	unsigned kept = 0;

	while (kept < d->count && d->segments[kept].base_position < j->seg[0].base) {
		kept++;
	}
	j->spans = calloc(kept + 1, sizeof(*j->spans));
	if (j->spans == NULL) {
		return -ENOMEM;
	}
	for (unsigned i = 0; i < kept; i++) {
		j->spans[i] = (struct journal_span){
			.base = d->segments[i].base_position,
			.limit = i + 1 < kept ? d->segments[i + 1].base_position : j->seg[0].base,
		};
	}
	j->spans[kept] = (struct journal_span){.base = j->seg[0].base, .limit = j->seg[0].limit};
	j->nspans = kept + 1;
	j->run_start = j->seg[0].limit;
	j->run_capacity = j->conf.segment_bytes - JOURNAL_BLOCK_BYTES;
	return 0;
}

bool journal_segment_find(const struct journal *j, uint64_t position, uint64_t *base,
			  uint64_t *limit)
{
	unsigned lo = 0;
	unsigned hi = j->nspans;

	if (position >= j->run_start) {
		uint64_t k = (position - j->run_start) / j->run_capacity;
		*base = j->run_start + k * j->run_capacity;
		*limit = *base + j->run_capacity;
		return true;
	}
	if (position < j->spans[0].base) {
		return false;
	}
	while (hi - lo > 1) { /* spans[lo].base <= position < spans[hi].base */
		unsigned mid = lo + (hi - lo) / 2;
		if (j->spans[mid].base <= position) {
			lo = mid;
		} else {
			hi = mid;
		}
	}
	*base = j->spans[lo].base;
	*limit = j->spans[lo].limit;
	return true;
}

/* A spare found at open may serve: a file of our segment size whose old base lies below
 * the journal's end (a spare from another journal's past could hold entries that would
 * validate at the positions it is given), while fewer than segment_spares are held. */
static bool journal_spare_is_usable(struct journal *j, int dfd, const char *name, uint64_t base)
{
	struct stat st;

	return base < j->seg[0].base && fstatat(dfd, name, &st, 0) == 0 &&
	       (uint64_t)st.st_size == j->conf.segment_bytes && journal_spare_push(j, base);
}

/* Offers the spares of the directory, deleting those that cannot serve or are too many. */
static int journal_spares_load(struct journal *j)
{
	DIR *dir = opendir(j->dir);
	unsigned removed = 0;
	struct dirent *e;
	uint64_t base;
	int rc = 0;

	if (dir == NULL) {
		return -errno;
	}
	while ((e = readdir(dir)) != NULL) {
		if (!journal_spare_name_parse(e->d_name, &base) ||
		    journal_spare_is_usable(j, dirfd(dir), e->d_name, base)) {
			continue;
		}
		if (unlinkat(dirfd(dir), e->d_name, 0) != 0 && errno != ENOENT) {
			rc = -errno;
			sl_log(SL_LOG_ERR, JOURNAL_LOG, "cannot remove %s/%s: %s", j->dir,
			       e->d_name, strerror(-rc));
			break;
		}
		removed++;
	}
	(void)closedir(dir);
	if (rc == 0 && removed > 0) {
		rc = journal_fdatasync_now(j->dir_fd);
	}
	if (rc == 0 && (removed > 0 || journal_spares(j) > 0)) {
		sl_log(SL_LOG_INFO, JOURNAL_LOG,
		       "%s: %u spare segment%s kept for reuse, %u removed (--segment-spares %u)",
		       j->dir, journal_spares(j), journal_spares(j) == 1 ? "" : "s", removed,
		       j->conf.segment_spares);
	}
	return rc;
}

static int journal_recover(struct journal *j, const struct journal_recovery *rec)
{
	struct journal_recovered r;
	int rc = journal_recover_state(j->dir, rec, &r);

	journal_count(j, JOURNAL_STAT_INDEX_REBUILT, r.index_rebuilt);
	if (rc == -EPROTO || (rc == 0 && r.res.corrupt)) {
		if (r.res.message[0] != '\0') {
			sl_log(SL_LOG_ERR, JOURNAL_LOG, "%s", r.res.message);
		}
		rc = -EPROTO;
		goto out_free;
	}
	if (rc != 0) {
		goto out_free;
	}
	/* Before anything changes on disk: a callback may refuse the journal. */
	rc = journal_recover_hand_over(&r, rec);
	if (rc != 0) {
		sl_log(SL_LOG_ERR, JOURNAL_LOG, "%s: the shard refused the recovered journal",
		       j->dir);
		goto out_free;
	}
	if (r.res.torn) {
		rc = journal_cut_torn(j, &r.d, &r.res);
		if (rc != 0) {
			goto out_free;
		}
	}
	bool keep_recycled = false;
	unsigned keep = journal_prepared_next(j, &r.d, &r.res, &keep_recycled);
	rc = journal_remove_trailing(j, &r.d, &r.res, (unsigned)(r.indexed + 1), keep);
	if (rc != 0) {
		goto out_free;
	}
	rc = journal_start_segment(j, &r.d, &r.res, r.next_base);
	if (rc == 0 && keep < r.d.count) {
		rc = journal_adopt_prepared(j, &r.d.segments[keep], keep_recycled);
	}
	if (rc == 0) {
		rc = journal_catalog_init(j, &r.d);
	}
	if (rc == 0) {
		rc = journal_spares_load(j);
	}
	if (rc == 0) {
		j->written_end = j->appended_end;
		j->synced_end = j->appended_end;
		j->fsync_issued_end = j->appended_end;
		/* Every segment before the one appending continues in is complete, synced
		 * and (now) indexed. */
		atomic_store_explicit(&j->sealed_below, j->seg[0].base, memory_order_release);
		/* The oldest segment kept (trailing ones removed above lie after it). */
		uint64_t oldest = r.d.count > 0 ? r.d.segments[0].base_position : j->seg[0].base;
		atomic_store_explicit(&j->retained_start,
				      oldest < j->seg[0].base ? oldest : j->seg[0].base,
				      memory_order_release);
	}
out_free:
	journal_recovered_free(&r);
	return rc;
}

static void journal_close_fds(struct journal *j)
{
	for (unsigned i = 0; i < JOURNAL_SEG_SLOTS; i++) {
		if (j->seg[i].fd >= 0) {
			(void)close(j->seg[i].fd);
			j->seg[i].fd = -1;
		}
	}
	if (j->dir_fd >= 0) {
		(void)close(j->dir_fd);
		j->dir_fd = -1;
	}
}

int journal_open(const struct journal_conf *conf, const struct journal_recovery *rec,
		 struct journal **out)
{
	struct journal *j;
	int rc;

	*out = NULL;
	if (!journal_conf_is_valid(conf) ||
	    (rec != NULL && (rec->window == 0 || rec->window > JOURNAL_STATE_WINDOW_MAX))) {
		return -EINVAL;
	}
	rc = journal_mkdir_parents(conf->dir);
	if (rc != 0) {
		sl_log(SL_LOG_ERR, JOURNAL_LOG, "cannot create %s: %s", conf->dir, strerror(-rc));
		return rc;
	}
	rc = journal_alloc(conf, &j);
	if (rc != 0) {
		return rc;
	}
	j->dir_fd = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (j->dir_fd < 0) {
		rc = -errno;
		goto out_free;
	}
	rc = journal_recover(j, rec);
	if (rc != 0) {
		goto out_close;
	}
	rc = journal_io_setup(j);
	if (rc != 0) {
		goto out_close;
	}
	*out = j;
	return 0;

out_close:
	journal_close_fds(j);
out_free:
	journal_free_memory(j);
	return rc;
}

/* ---- Appending ---- */

/* Seals the open chunk as `len` bytes from its start (whole blocks, zero after used). */
static void journal_chunk_seal_len(struct journal *j, struct journal_chunk *c, uint32_t len,
				   enum journal_stat why)
{
	c->write_len = len;
	j->tail_pos = c->pos + (c->used & ~(JOURNAL_BLOCK_BYTES - 1));
	j->tail_carry = c->used & (JOURNAL_BLOCK_BYTES - 1);
	j->seal_seq++;
	j->open = false;
	journal_count(j, why, 1);
}

/* Seals the open chunk: pads it to a block and notes its partial block for the next. */
static void journal_chunk_seal(struct journal *j, enum journal_stat why)
{
	struct journal_chunk *c = journal_chunk_of(j, j->seal_seq);
	uint32_t len = (uint32_t)journal_round_up(c->used, JOURNAL_BLOCK_BYTES);

	SL_ASSERT(j->open && c->used > c->carry);
	memset(c->buf + c->used, 0, len - c->used);
	journal_chunk_seal_len(j, c, len, why);
}

static bool journal_chunk_has_data(const struct journal *j)
{
	const struct journal_chunk *c = &j->chunks[j->seal_seq % j->nchunks];

	return j->open && c->used > c->carry;
}

/* Opens chunk seal_seq at the tail; false when every chunk is sealed or in flight. */
static bool journal_chunk_open(struct journal *j)
{
	if (j->seal_seq - j->free_seq >= j->nchunks) {
		return false;
	}
	struct journal_chunk *c = journal_chunk_of(j, j->seal_seq);
	*c = (struct journal_chunk){
		.buf = c->buf,
		.pos = j->tail_pos,
		.seg_seq = j->cur_seq,
		.used = j->tail_carry,
		.carry = j->tail_carry,
	};
	if (j->tail_carry > 0) {
		/* The previous chunk is sealed, maybe in flight, never reused before this
		 * one: copying out of it is safe. */
		const struct journal_chunk *prev = journal_chunk_of(j, j->seal_seq - 1);
		memcpy(c->buf, prev->buf + (j->tail_pos - prev->pos), j->tail_carry);
	}
	j->open = true;
	return true;
}

/*
 * Seals the current segment's last chunk with a zero entry header after its data: in a
 * recycled segment stale bytes follow, and a sealed segment's data must end in a zero
 * header (journal/format.h). The zeros are written, not appended: the written end stays
 * at the last entry. Returns 0, or -EAGAIN when no chunk is free to carry them.
 */
static int journal_chunk_seal_terminated(struct journal *j, const struct journal_seg *cur)
{
	if (!j->open && !journal_chunk_open(j)) {
		journal_count(j, JOURNAL_STAT_BUSY, 1);
		return -EAGAIN;
	}
	struct journal_chunk *c = journal_chunk_of(j, j->seal_seq);
	uint64_t end = c->pos + c->used + JOURNAL_ENTRY_HEADER_BYTES;
	end = end < cur->limit ? end : cur->limit;
	uint32_t len = (uint32_t)journal_round_up(end - c->pos, JOURNAL_BLOCK_BYTES);

	/* chunk_bytes leaves a block of slack after flush_bytes plus the largest entry. */
	SL_ASSERT(len <= j->chunk_bytes);
	memset(c->buf + c->used, 0, len - c->used);
	journal_chunk_seal_len(j, c, len, JOURNAL_STAT_FLUSH_ROLL);
	return 0;
}

/* Moves appending to the next segment, which must be ready. */
static int journal_roll(struct journal *j)
{
	struct journal_seg *cur = journal_seg_of(j, j->cur_seq);
	struct journal_seg *next = journal_seg_of(j, j->cur_seq + 1);

	if (next->state != JOURNAL_SEG_READY || next->seq != j->cur_seq + 1) {
		journal_count(j, JOURNAL_STAT_ROLL_WAITS, 1);
		/* Out of space is the operator's problem; a segment still being prepared
		 * under a burst is a moment's wait. */
		return j->space_short ? -ENOSPC : -EAGAIN;
	}
	if (cur->recycled && j->appended_end < cur->limit) {
		int rc = journal_chunk_seal_terminated(j, cur);
		if (rc != 0) {
			return rc;
		}
	} else if (journal_chunk_has_data(j)) {
		journal_chunk_seal(j, JOURNAL_STAT_FLUSH_ROLL);
	}
	j->open = false; /* a chunk holding only the carried block is dropped */
	next->state = JOURNAL_SEG_ACTIVE;
	j->cur_seq++;
	j->appended_end = next->base;
	j->tail_pos = next->base;
	j->tail_carry = 0;
	return 0;
}

int journal_append(struct journal *j, const struct journal_batch *b, uint64_t now_ns, uint64_t *end)
{
	uint32_t bytes = journal_entry_bytes(b->topic_len, b->body_len);
	const struct journal_seg *s = journal_seg_of(j, j->cur_seq);
	int rc;

	if (j->failed) {
		return -EROFS;
	}
	if (b->body_len % JOURNAL_ALIGN != 0 || bytes > JOURNAL_ENTRY_BYTES_MAX) {
		return -EINVAL;
	}
	if (s->full || j->appended_end + bytes > s->limit) {
		rc = journal_roll(j);
		if (rc != 0) {
			return rc;
		}
	}
	if (!j->open && !journal_chunk_open(j)) {
		journal_count(j, JOURNAL_STAT_BUSY, 1);
		return -EAGAIN;
	}
	struct journal_chunk *c = journal_chunk_of(j, j->seal_seq);
	struct journal_entry_header h = {
		.magic = JOURNAL_ENTRY_MAGIC,
		.position = j->appended_end,
		.base_offset = b->base_offset,
		.producer_id = b->producer_id,
		.sequence = b->sequence,
		.append_ns = now_ns,
		.partition = b->partition,
		.producer_epoch = b->producer_epoch,
		.record_count = b->record_count,
		.topic_len = b->topic_len,
		.flags = b->flags,
	};
	SL_ASSERT_HOT(c->pos + c->used == j->appended_end && c->used + bytes <= j->chunk_bytes);
	if (c->used == c->carry) {
		j->open_since_us = j->now_us;
	}
	c->used += journal_entry_encode(c->buf + c->used, &h, b->topic, b->body, b->body_len);
	j->appended_end += bytes;
	*end = j->appended_end;
	journal_count(j, JOURNAL_STAT_BATCHES, 1);
	journal_count(j, JOURNAL_STAT_BYTES, bytes);
	if (c->used >= j->conf.flush_bytes) {
		journal_chunk_seal(j, JOURNAL_STAT_FLUSH_SIZE);
	}
	return 0;
}

/* ---- Writing and syncing ---- */

/* Issues an fdatasync covering everything written, unless one already does. */
static void journal_sync_issue(struct journal *j)
{
	struct journal_seg *s = journal_seg_of(j, j->written_seg_seq);
	unsigned slot = 0;

	if (j->fsync_issued_end >= j->written_end) {
		return;
	}
	while (slot < JOURNAL_FSYNC_SLOTS && j->fsync[slot].busy) {
		slot++;
	}
	if (slot == JOURNAL_FSYNC_SLOTS ||
	    journal_io_fdatasync(j->io, s->fd, journal_tag(JOURNAL_TAG_FSYNC, slot)) != 0) {
		return; /* retried at the next poll */
	}
	j->fsync[slot] = (struct journal_sync_slot){
		.covers = j->written_end,
		.issued_ns = clock_monotonic_ns(),
		.seg_seq = j->written_seg_seq,
		.busy = true,
	};
	s->ops++;
	j->fsync_issued_end = j->written_end;
	j->last_fsync_us = j->now_us;
	journal_count(j, JOURNAL_STAT_FSYNCS, 1);
}

/* True when chunk c may be written now; issues the fdatasync it waits for if needed. */
static bool journal_chunk_may_write(struct journal *j, const struct journal_chunk *c)
{
	const struct journal_seg *s = journal_seg_of(j, c->seg_seq);

	if (c->seg_seq != j->written_seg_seq && j->synced_end < j->written_end) {
		journal_sync_issue(j); /* roll barrier */
		return false;
	}
	if (c->seg_seq != j->written_seg_seq && s->zero_busy) {
		return false; /* a zero-fill write may overlap this one: no ordering between them */
	}
	if (j->conf.fsync != JOURNAL_FSYNC_NEVER) {
		uint64_t synced = j->synced_end > s->base ? j->synced_end : s->base;
		if (c->pos + c->used - synced > j->window_bytes) {
			journal_sync_issue(j);
			return false;
		}
	}
	return journal_io_inflight(j->io) + j->writes_per_chunk_max <= j->io_depth;
}

/* Issues the writes of the oldest sealed chunk once the one before it is written. */
static void journal_write_next(struct journal *j)
{
	if (j->write_seq == j->seal_seq || j->write_seq != j->free_seq) {
		return;
	}
	struct journal_chunk *c = journal_chunk_of(j, j->write_seq);
	struct journal_seg *s = journal_seg_of(j, c->seg_seq);
	uint64_t off = journal_segment_offset(s->base, c->pos);
	int index = (int)(j->write_seq % j->nchunks);
	uint32_t done = 0;

	if (!journal_chunk_may_write(j, c)) {
		return;
	}
	if (c->seg_seq != j->written_seg_seq) {
		/* The roll barrier held: every segment before this one is complete and synced.
		 * Pairs with the acquire in journal_sealed_below(). */
		atomic_store_explicit(&j->sealed_below, s->base, memory_order_release);
	}
	c->writes_left = 0;
	while (done < c->write_len) {
		uint32_t len = c->write_len - done < JOURNAL_WRITE_BYTES_MAX
				       ? c->write_len - done
				       : JOURNAL_WRITE_BYTES_MAX;
		int rc = journal_io_write(j->io, s->fd, c->buf + done, len, off + done, index,
					  journal_tag(JOURNAL_TAG_WRITE, (uint64_t)index));
		SL_ASSERT(rc == 0); /* room was checked above */
		c->writes_left++;
		done += len;
	}
	s->ops += c->writes_left;
	j->write_seq++;
	journal_count(j, JOURNAL_STAT_WRITES, c->writes_left);
	journal_count(j, JOURNAL_STAT_WRITE_BYTES, c->write_len);
}

static void journal_write_done(struct journal *j, uint64_t index, int32_t res)
{
	struct journal_chunk *c = journal_chunk_of(j, j->free_seq);
	struct journal_seg *s = journal_seg_of(j, c->seg_seq);

	SL_ASSERT(j->free_seq < j->write_seq && index == j->free_seq % j->nchunks &&
		  c->writes_left > 0);
	s->ops--;
	if (res < 0) {
		journal_fail(j, res, "a write", s->path);
	}
	if (--c->writes_left > 0) {
		return;
	}
	j->free_seq++;
	if (j->failed) {
		return;
	}
	j->written_end = c->pos + c->used;
	j->written_seg_seq = c->seg_seq;
	s->data_end = j->written_end;
	if (j->conf.fsync == JOURNAL_FSYNC_ALWAYS) {
		journal_sync_issue(j);
	}
}

static void journal_fsync_done(struct journal *j, uint64_t slot, int32_t res)
{
	struct journal_sync_slot *f = &j->fsync[slot];
	struct journal_seg *s = journal_seg_of(j, f->seg_seq);
	uint64_t us = (clock_monotonic_ns() - f->issued_ns) / 1000u;
	unsigned b = 0;

	SL_ASSERT(slot < JOURNAL_FSYNC_SLOTS && f->busy);
	f->busy = false;
	s->ops--;
	while (b < sizeof(journal_fsync_bucket_us) / sizeof(journal_fsync_bucket_us[0]) &&
	       us >= journal_fsync_bucket_us[b]) {
		b++;
	}
	journal_count(j, (enum journal_stat)(JOURNAL_STAT_FSYNC_US_LT_50 + b), 1);
	if (res < 0) {
		journal_fail(j, res, "fdatasync", s->path);
	} else if (!j->failed && f->covers > j->synced_end) {
		j->synced_end = f->covers;
	}
}

/* ---- Segments: creation ahead of use, retirement ---- */

static void journal_seg_issue(struct journal_seg *s, int rc)
{
	SL_ASSERT(rc == 0); /* depth leaves JOURNAL_SEG_OPS_MAX for segment operations */
	s->ops++;
}

static uint64_t journal_seg_tag(const struct journal *j, const struct journal_seg *s)
{
	return journal_tag(JOURNAL_TAG_SEG, (uint64_t)(s - j->seg));
}

/* Takes the oldest spare offered (its old base), if any. */
static bool journal_spare_pop(struct journal *j, uint64_t *base)
{
	uint64_t popped = atomic_load_explicit(&j->spares_popped, memory_order_relaxed);

	/* Pairs with the release in journal_spare_push(): the rename is done and synced. */
	if (popped == atomic_load_explicit(&j->spares_pushed, memory_order_acquire)) {
		return false;
	}
	*base = j->spare_bases[popped % JOURNAL_SPARES_MAX];
	/* Pairs with the acquire in journal_spare_push(): the slot may be reused. */
	atomic_store_explicit(&j->spares_popped, popped + 1, memory_order_release);
	return true;
}

/* Creates segment s's file anew: open, then fallocate, header, syncs (journal_seg_step). */
static void journal_seg_create(struct journal *j, struct journal_seg *s)
{
	s->recycled = false;
	journal_seg_issue(s, journal_io_open(j->io, s->path, j->open_flags | O_CREAT | O_TRUNC,
					     journal_seg_tag(j, s)));
}

static bool journal_is_space_error(int32_t res)
{
	return res == -ENOSPC || res == -EDQUOT;
}

/* No room for the next segment: drop the half-made file and retry in a second. */
static void journal_seg_no_space(struct journal *j, struct journal_seg *s, int32_t res)
{
	journal_count(j, JOURNAL_STAT_STORAGE_ERRORS, 1);
	if (!j->space_short) {
		sl_log(SL_LOG_WARNING, JOURNAL_LOG,
		       "no space to create %s (%s): retrying every second; appends past the "
		       "current segment are refused meanwhile",
		       s->path, strerror(-res));
	}
	j->space_short = true;
	j->space_retry_us = j->now_us + JOURNAL_SPACE_RETRY_US;
	s->state = JOURNAL_SEG_EMPTY;
	if (s->fd >= 0) {
		s->state = JOURNAL_SEG_DISCARDING;
		journal_seg_issue(s, journal_io_close(j->io, s->fd, journal_seg_tag(j, s)));
		journal_seg_issue(s, journal_io_unlink(j->io, s->path, journal_seg_tag(j, s)));
		s->fd = -1;
	}
}

static void journal_seg_ready(struct journal *j, struct journal_seg *s)
{
	s->state = JOURNAL_SEG_READY;
	s->zero_off = JOURNAL_BLOCK_BYTES;
	/* A recycled segment's blocks are written already: data writes overwrite them. */
	s->zero_synced = s->recycled;
	journal_count(j, JOURNAL_STAT_SEGMENTS_CREATED, 1);
	journal_count(j, JOURNAL_STAT_SEGMENTS_REUSED, s->recycled ? 1 : 0);
	if (j->space_short) {
		sl_log(SL_LOG_INFO, JOURNAL_LOG, "created %s: appends resume", s->path);
	}
	j->space_short = false;
}

/* Advances the creation of segment s by one step after an operation completed. */
static void journal_seg_step(struct journal *j, struct journal_seg *s)
{
	uint64_t tag = journal_seg_tag(j, s);

	switch (s->state) {
	case JOURNAL_SEG_OPENING:
		if (!s->recycled) {
			s->state = JOURNAL_SEG_ALLOCATING;
			journal_seg_issue(s, journal_io_fallocate(j->io, s->fd, 0,
								  j->conf.segment_bytes, tag));
			break;
		}
		/* A spare is allocated and written already: straight to its new header. */
		/* fall through */
	case JOURNAL_SEG_ALLOCATING:
		journal_segment_header_encode(j->header_block, j->conf.shard, s->base,
					      j->conf.segment_bytes, clock_realtime_ns(),
					      j->window_bytes, s->recycled);
		s->state = JOURNAL_SEG_HEADER;
		journal_seg_issue(s,
				  journal_io_write(j->io, s->fd, j->header_block,
						   JOURNAL_BLOCK_BYTES, 0, (int)j->nchunks, tag));
		break;
	case JOURNAL_SEG_HEADER:
		s->state = JOURNAL_SEG_SYNCING;
		journal_seg_issue(s, journal_io_fdatasync(j->io, s->fd, tag));
		break;
	case JOURNAL_SEG_SYNCING:
		if (s->recycled) {
			/* Named a segment only once its new header is on disk: a crash before
			 * leaves a spare, never a segment whose header names another base. */
			s->state = JOURNAL_SEG_RENAMING;
			journal_seg_issue(s, journal_io_rename(j->io, s->spare_path, s->path, tag));
			break;
		}
		/* fall through */
	case JOURNAL_SEG_RENAMING:
		s->state = JOURNAL_SEG_DIRSYNC;
		journal_seg_issue(s, journal_io_fdatasync(j->io, j->dir_fd, tag));
		break;
	case JOURNAL_SEG_DIRSYNC:
		journal_seg_ready(j, s);
		break;
	default:
		SL_ASSERT(!"segment step in a state without operations");
	}
}

static void journal_seg_done(struct journal *j, uint64_t slot, int32_t res)
{
	struct journal_seg *s = &j->seg[slot];

	SL_ASSERT(slot < JOURNAL_SEG_SLOTS && s->ops > 0);
	s->ops--;
	if (s->zero_busy) {
		s->zero_busy = false;
		j->zero_inflight--;
		if (res < 0) {
			journal_fail(j, res, "zero-filling", s->path);
		}
		return;
	}
	if (s->state == JOURNAL_SEG_OPENING && res >= 0) {
		s->fd = res; /* closed with the others even when the journal failed */
	}
	if (s->state == JOURNAL_SEG_OPENING && res < 0 && s->recycled && !j->failed) {
		/* The spare is gone or unusable (removed by hand?): make the segment anew. */
		journal_seg_create(j, s);
		return;
	}
	if (s->state == JOURNAL_SEG_CLOSING || s->state == JOURNAL_SEG_DISCARDING) {
		if (s->ops == 0) {
			s->state = JOURNAL_SEG_EMPTY;
		}
		return;
	}
	if (j->failed) {
		return;
	}
	if (res < 0 && journal_is_space_error(res) &&
	    (s->state == JOURNAL_SEG_OPENING || s->state == JOURNAL_SEG_ALLOCATING)) {
		journal_seg_no_space(j, s, res);
		return;
	}
	if (res < 0) {
		journal_fail(j, res, "creating the segment", s->path);
		return;
	}
	journal_seg_step(j, s);
}

/* Starts creating the next segment once the current one is half used. */
static void journal_prepare_next(struct journal *j)
{
	const struct journal_seg *cur = journal_seg_of(j, j->cur_seq);
	struct journal_seg *next = journal_seg_of(j, j->cur_seq + 1);
	uint64_t half = cur->base + (cur->limit - cur->base) / 2;

	if (next->state != JOURNAL_SEG_EMPTY || j->closing ||
	    (j->space_short && j->now_us < j->space_retry_us) ||
	    (!cur->full && j->appended_end < half)) {
		return;
	}
	*next = (struct journal_seg){
		.seq = j->cur_seq + 1,
		.base = cur->limit,
		.limit = cur->limit + j->conf.segment_bytes - JOURNAL_BLOCK_BYTES,
		.fd = -1,
		.state = JOURNAL_SEG_OPENING,
	};
	int rc = journal_seg_path(j, next->base, next->path, sizeof(next->path));
	SL_ASSERT(rc == 0); /* the directory's length was checked at open */
	uint64_t spare;
	if (journal_spare_pop(j, &spare)) {
		rc = journal_spare_path(j, spare, next->spare_path, sizeof(next->spare_path));
		SL_ASSERT(rc == 0);
		next->recycled = true;
		journal_seg_issue(next, journal_io_open(j->io, next->spare_path, j->open_flags,
							journal_seg_tag(j, next)));
		return;
	}
	journal_seg_create(j, next);
}

/*
 * Zero-fills the next segment's data area, one write at a time and only while no data
 * write is in flight (it competes for bandwidth), then syncs it: an fdatasync after
 * overwriting written blocks costs a quarter of one after writing into merely
 * preallocated ones (DESIGN.md). The segment is usable before this finishes.
 */
static void journal_zero_ahead(struct journal *j)
{
	struct journal_seg *s = journal_seg_of(j, j->cur_seq + 1);
	uint64_t tag = journal_seg_tag(j, s);
	int rc;

	if (!j->conf.zero_fill || s->state != JOURNAL_SEG_READY || s->zero_busy || s->zero_synced ||
	    j->closing || j->free_seq != j->write_seq) {
		return;
	}
	if (s->zero_off < j->conf.segment_bytes) {
		uint64_t left = j->conf.segment_bytes - s->zero_off;
		uint32_t len = left < JOURNAL_ZERO_BYTES ? (uint32_t)left : JOURNAL_ZERO_BYTES;
		rc = journal_io_write(j->io, s->fd, j->zero_block, len, s->zero_off,
				      (int)j->nchunks + 1, tag);
		if (rc == 0) {
			s->zero_off += len;
			journal_count(j, JOURNAL_STAT_ZERO_FILL_BYTES, len);
		}
	} else {
		rc = journal_io_fdatasync(j->io, s->fd, tag);
		s->zero_synced = rc == 0;
	}
	if (rc == 0) {
		s->zero_busy = true;
		s->ops++;
		j->zero_inflight++;
	}
}

/* Closes segments nothing refers to any more. */
static void journal_retire_segments(struct journal *j)
{
	uint64_t oldest =
		j->free_seq < j->seal_seq ? journal_chunk_of(j, j->free_seq)->seg_seq : j->cur_seq;

	for (unsigned i = 0; i < JOURNAL_SEG_SLOTS; i++) {
		struct journal_seg *s = &j->seg[i];
		if (s->state != JOURNAL_SEG_ACTIVE || s->seq >= oldest || s->seq >= j->cur_seq ||
		    s->ops > 0 || j->synced_end < s->data_end) {
			continue;
		}
		s->state = JOURNAL_SEG_CLOSING;
		journal_seg_issue(s, journal_io_close(j->io, s->fd, journal_seg_tag(j, s)));
		s->fd = -1;
	}
}

/* ---- The loop ---- */

static void journal_dispatch(struct journal *j, const struct journal_io_completion *c)
{
	uint64_t kind = c->tag >> JOURNAL_TAG_SHIFT;
	uint64_t value = c->tag & ((1ull << JOURNAL_TAG_SHIFT) - 1);

	switch (kind) {
	case JOURNAL_TAG_WRITE:
		journal_write_done(j, value, c->res);
		break;
	case JOURNAL_TAG_FSYNC:
		journal_fsync_done(j, value, c->res);
		break;
	case JOURNAL_TAG_SEG:
		journal_seg_done(j, value, c->res);
		break;
	case JOURNAL_TAG_CURSOR:
		journal_cursor_done(j, value, c->res);
		break;
	default:
		SL_ASSERT(!"completion with an unknown tag");
	}
}

static unsigned journal_reap(struct journal *j)
{
	struct journal_io_completion c[JOURNAL_REAP_BURST];
	unsigned total = 0;

	for (unsigned round = 0; round < JOURNAL_REAP_ROUNDS; round++) {
		unsigned n = journal_io_reap(j->io, c, JOURNAL_REAP_BURST);
		for (unsigned i = 0; i < n; i++) {
			journal_dispatch(j, &c[i]);
		}
		total += n;
		if (n < JOURNAL_REAP_BURST) {
			break;
		}
	}
	return total;
}

static void journal_sync_by_policy(struct journal *j, uint64_t now_us)
{
	switch (j->conf.fsync) {
	case JOURNAL_FSYNC_ALWAYS:
		journal_sync_issue(j); /* when the one at write completion found no room */
		break;
	case JOURNAL_FSYNC_INTERVAL:
		if (now_us - j->last_fsync_us >= j->conf.fsync_us) {
			journal_sync_issue(j);
		}
		break;
	case JOURNAL_FSYNC_NEVER:
		break;
	}
}

unsigned journal_poll(struct journal *j, uint64_t now_us)
{
	unsigned n;

	j->now_us = now_us;
	n = journal_reap(j);
	if (!j->failed) {
		/* Group commit: while an earlier chunk is still sealed or being written, the
		 * open chunk keeps filling (sealing it would only queue a small write behind
		 * that one); it is sealed by age once the write path is free. */
		bool write_path_free = j->free_seq == j->seal_seq;
		if (journal_chunk_has_data(j) && write_path_free &&
		    (j->conf.flush_us == 0 || now_us - j->open_since_us >= j->conf.flush_us)) {
			journal_chunk_seal(j, JOURNAL_STAT_FLUSH_TIME);
		}
		journal_write_next(j);
		journal_sync_by_policy(j, now_us);
		if (j->closing && j->conf.fsync != JOURNAL_FSYNC_NEVER) {
			journal_sync_issue(j);
		}
		journal_prepare_next(j);
		journal_zero_ahead(j);
		journal_retire_segments(j);
	}
	(void)journal_io_submit(j->io);
	return n;
}

uint64_t journal_durable_end(const struct journal *j)
{
	return j->conf.fsync == JOURNAL_FSYNC_NEVER ? j->written_end : j->synced_end;
}

uint64_t journal_appended_end(const struct journal *j)
{
	return j->appended_end;
}

bool journal_is_writable(const struct journal *j)
{
	return !j->failed && !j->space_short;
}

bool journal_has_failed(const struct journal *j)
{
	return j->failed;
}

bool journal_is_idle(const struct journal *j)
{
	return !journal_chunk_has_data(j) && j->free_seq == j->seal_seq &&
	       (j->conf.fsync == JOURNAL_FSYNC_NEVER || j->synced_end >= j->written_end) &&
	       journal_io_inflight(j->io) == j->zero_inflight;
}

const void *journal_write_buffer(const struct journal *j)
{
	return j->chunks[0].buf;
}

enum journal_io_kind journal_io_kind_used(const struct journal *j)
{
	return journal_io_kind(j->io);
}

uint64_t journal_counter(const struct journal *j, enum journal_stat stat)
{
	return stat < JOURNAL_STAT_COUNT
		       ? __atomic_load_n(journal_counter_slot(j, stat), __ATOMIC_RELAXED)
		       : 0;
}

struct journal_io *journal_test_io(struct journal *j)
{
	return j->io;
}

uint64_t journal_sealed_below(const struct journal *j)
{
	return atomic_load_explicit(&j->sealed_below, memory_order_acquire);
}

unsigned journal_spares(const struct journal *j)
{
	return (unsigned)(atomic_load_explicit(&j->spares_pushed, memory_order_acquire) -
			  atomic_load_explicit(&j->spares_popped, memory_order_acquire));
}

bool journal_spare_push(struct journal *j, uint64_t base)
{
	uint64_t pushed = atomic_load_explicit(&j->spares_pushed, memory_order_relaxed);
	/* Pairs with the release in journal_spare_pop(): the slot was read. */
	uint64_t popped = atomic_load_explicit(&j->spares_popped, memory_order_acquire);

	if (pushed - popped >= j->conf.segment_spares) {
		return false;
	}
	j->spare_bases[pushed % JOURNAL_SPARES_MAX] = base;
	atomic_store_explicit(&j->spares_pushed, pushed + 1, memory_order_release);
	return true;
}

uint64_t journal_retained_start(const struct journal *j)
{
	return atomic_load_explicit(&j->retained_start, memory_order_acquire);
}

void journal_set_retained_start(struct journal *j, uint64_t position)
{
	atomic_store_explicit(&j->retained_start, position, memory_order_release);
}

/* ---- Close ---- */

static bool journal_is_drained(const struct journal *j)
{
	/* A zero-fill write left in flight is harmless: journal_io_destroy() waits for it. */
	if (journal_io_inflight(j->io) > j->zero_inflight) {
		return false;
	}
	return j->failed || (j->free_seq == j->seal_seq && (j->conf.fsync == JOURNAL_FSYNC_NEVER ||
							    j->synced_end >= j->written_end));
}

int journal_close(struct journal *j)
{
	int rc;

	if (j == NULL) {
		return 0;
	}
	j->closing = true;
	if (!j->failed && journal_chunk_has_data(j)) {
		journal_chunk_seal(j, JOURNAL_STAT_FLUSH_CLOSE);
	}
	while (journal_io_is_usable_here(j->io)) {
		/* The caller's clock, not ours: time only matters to sealing (done above) and
		 * INTERVAL, which closing overrides. */
		(void)journal_poll(j, j->now_us);
		if (journal_is_drained(j)) {
			break;
		}
		journal_io_wait(j->io, JOURNAL_CLOSE_WAIT_US);
	}
	if (!journal_is_drained(j)) {
		sl_log(SL_LOG_WARNING, JOURNAL_LOG,
		       "%s: closed from another thread than the one that polled it, with %u "
		       "operations in flight: what they carry is not known to be durable",
		       j->dir, journal_io_inflight(j->io));
	}
	rc = j->first_error;
	journal_io_destroy(j->io);
	journal_close_fds(j);
	journal_free_memory(j);
	return rc;
}
