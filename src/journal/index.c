/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Segment indexes (journal/index.h): built from a sealed segment's entries (by the
 * recovery scan as it reads them, or by reading the segment here), stored atomically
 * beside the segment, read back with every field checked, and searched by offset and by
 * time. The file is header + summary + points + state; the header and summary decode in
 * place, so the shard's replay cursor can use them from the buffer it read them into.
 */
#include "journal/index.h"

#include "core/crc32c.h"
#include "core/wire.h"
#include "journal/scan.h"
#include "journal/grow.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Reads of a segment being indexed; the buffer also keeps an entry that straddles two. */
#define INDEX_READ_BYTES (1u << 20)
/* Largest index file accepted: far above what a segment's summary and a shard's state
 * (--producers-max x --dedupe-window) can need. */
#define INDEX_FILE_BYTES_MAX (1ull << 34)

struct index_header {
	uint32_t magic;
	uint16_t version;
	uint16_t header_bytes; /* JOURNAL_INDEX_HEADER_BYTES */
	uint64_t base_position;
	uint64_t end_position;
	uint64_t min_ns;
	uint64_t max_ns;
	uint64_t file_bytes;
	uint32_t nparts;
	uint32_t npoints;
	uint32_t reserved;
	uint32_t crc32c; /* of the whole file with this field zero */
};

static_assert(sizeof(struct index_header) == JOURNAL_INDEX_HEADER_BYTES, "index layout");
static_assert(offsetof(struct index_header, crc32c) == 60, "index layout");
static_assert(sizeof(struct journal_index_part) == 320, "index layout");
static_assert(sizeof(struct journal_index_point) == 32, "index layout");
/* Bytes of a stored part that carry data; the rest is zero padding. */
#define INDEX_PART_DATA_BYTES (offsetof(struct journal_index_part, topic) + 255u)

static uint64_t index_summary_bytes(uint64_t nparts, uint64_t npoints)
{
	return JOURNAL_INDEX_HEADER_BYTES + nparts * sizeof(struct journal_index_part) +
	       npoints * sizeof(struct journal_index_point);
}

int journal_index_path(const char *dir, uint64_t base, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/" JOURNAL_INDEX_NAME_FORMAT, dir, (unsigned long long)base);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

void journal_index_free(struct journal_index *ix)
{
	if (!ix->borrowed) {
		free(ix->parts);
		free(ix->points);
	}
	journal_state_free(&ix->state);
	memset(ix, 0, sizeof(*ix));
}

/* ---- Building ---- */

int journal_index_builder_init(struct journal_index_builder *b, uint64_t base_position,
			       struct journal_state *st)
{
	memset(b, 0, sizeof(*b));
	b->ix.base_position = base_position;
	b->ix.end_position = base_position;
	b->st = st;
	/* Only its partitions are used: the window is irrelevant. */
	return journal_state_init(&b->seen, 1, 0);
}

void journal_index_builder_free(struct journal_index_builder *b)
{
	journal_index_free(&b->ix);
	journal_state_free(&b->seen);
	free(b->since_point);
	memset(b, 0, sizeof(*b));
}

/* Index into ix.parts of the entry's partition, added at its first entry; -ENOMEM. */
static int32_t index_part_of(struct journal_index_builder *b, const struct journal_entry *e,
			     bool *first)
{
	const struct journal_entry_header *h = &e->hdr;
	int32_t k = journal_state_get_part(&b->seen, e->topic, h->topic_len, h->partition);

	*first = false;
	if (k < 0) {
		return -ENOMEM;
	}
	if ((uint32_t)k < b->ix.nparts) {
		return k;
	}
	if (journal_array_grow((void **)&b->ix.parts, &b->parts_cap, b->ix.nparts,
			       sizeof(*b->ix.parts)) != 0 ||
	    journal_array_grow((void **)&b->since_point, &b->since_cap, b->ix.nparts,
			       sizeof(*b->since_point)) != 0) {
		return -ENOMEM;
	}
	struct journal_index_part *p = &b->ix.parts[k];
	memset(p, 0, sizeof(*p));
	p->first_offset = h->base_offset;
	p->next_offset = h->base_offset;
	p->first_position = h->position;
	p->min_ns = h->append_ns;
	p->max_ns = h->append_ns;
	p->partition = h->partition;
	p->topic_len = h->topic_len;
	memcpy(p->topic, e->topic, h->topic_len);
	b->since_point[k] = 0;
	b->ix.nparts++;
	*first = true;
	return k;
}

static int index_add_point(struct journal_index_builder *b, const struct journal_entry *e,
			   uint32_t part)
{
	if (journal_array_grow((void **)&b->ix.points, &b->points_cap, b->ix.npoints,
			       sizeof(*b->ix.points)) != 0) {
		return -ENOMEM;
	}
	b->ix.points[b->ix.npoints++] = (struct journal_index_point){
		.base_offset = e->hdr.base_offset,
		.max_ns = b->ix.entries > 0 ? b->ix.max_ns : 0,
		.position = e->hdr.position,
		.part = part,
	};
	b->since_point[part] = 0;
	return 0;
}

int journal_index_builder_add(struct journal_index_builder *b, const struct journal_entry *e)
{
	const struct journal_entry_header *h = &e->hdr;
	bool first;
	int32_t k = index_part_of(b, e, &first);

	if (k < 0) {
		return -ENOMEM;
	}
	if ((first || b->since_point[k] >= JOURNAL_INDEX_INTERVAL_BYTES) &&
	    index_add_point(b, e, (uint32_t)k) != 0) {
		return -ENOMEM;
	}
	struct journal_index_part *p = &b->ix.parts[k];
	uint64_t next = h->base_offset + h->record_count;
	p->next_offset = next > p->next_offset ? next : p->next_offset;
	p->min_ns = h->append_ns < p->min_ns ? h->append_ns : p->min_ns;
	p->max_ns = h->append_ns > p->max_ns ? h->append_ns : p->max_ns;
	p->entries++;
	p->bytes += h->entry_bytes;
	b->since_point[k] += h->entry_bytes;
	if (b->ix.entries == 0 || h->append_ns < b->ix.min_ns) {
		b->ix.min_ns = h->append_ns;
	}
	if (b->ix.entries == 0 || h->append_ns > b->ix.max_ns) {
		b->ix.max_ns = h->append_ns;
	}
	b->ix.entries++;
	b->ix.end_position = h->position + h->entry_bytes;
	return journal_state_apply(b->st, e);
}

int journal_index_builder_finish(struct journal_index_builder *b, uint64_t end_position,
				 struct journal_index *out)
{
	int rc;

	if (b->ix.entries > 0) {
		journal_state_prune(b->st, b->ix.max_ns);
	}
	b->ix.end_position = end_position;
	rc = journal_state_copy(&b->ix.state, b->st);
	if (rc == 0) {
		*out = b->ix;
		memset(&b->ix, 0, sizeof(b->ix));
	}
	journal_index_builder_free(b);
	return rc;
}

__attribute__((format(printf, 3, 4))) static void index_message(char *message, size_t len,
								const char *fmt, ...)
{
	va_list ap;

	if (message == NULL || len == 0) {
		return;
	}
	va_start(ap, fmt);
	(void)vsnprintf(message, len, fmt, ap);
	va_end(ap);
}

static bool index_is_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] != 0) {
			return false;
		}
	}
	return true;
}

/* Sequential reads of one segment: buf[0..len) holds file offsets [off, off + len). */
struct index_reader {
	int fd;
	uint8_t *buf;
	uint64_t off;
	size_t len;
	uint64_t limit; /* end of the segment's data area (past EOF reads as zero) */
};

/* Makes [off, off + JOURNAL_ENTRY_BYTES_MAX) available (clipped at the limit), refilling
 * the buffer from off with one large read when it does not hold that range. */
static int index_read_at(struct index_reader *r, uint64_t off, const uint8_t **p, size_t *avail)
{
	*avail = 0;
	if (off >= r->limit) {
		return 0;
	}
	uint64_t left = r->limit - off;
	uint64_t want = left < JOURNAL_ENTRY_BYTES_MAX ? left : JOURNAL_ENTRY_BYTES_MAX;
	if (off < r->off || off + want > r->off + r->len) {
		size_t len = left < INDEX_READ_BYTES + JOURNAL_ENTRY_BYTES_MAX
				     ? (size_t)left
				     : INDEX_READ_BYTES + JOURNAL_ENTRY_BYTES_MAX;
		int rc = journal_pread_zero(r->fd, r->buf, len, off);
		if (rc != 0) {
			return rc;
		}
		r->off = off;
		r->len = len;
	}
	*p = r->buf + (off - r->off);
	*avail = (size_t)(r->off + r->len - off);
	return 0;
}

/* Checks that the segment holds nothing from file offset off to its limit. */
static int index_check_rest_zero(struct index_reader *r, uint64_t off, bool *zero)
{
	*zero = true;
	while (off < r->limit) {
		const uint8_t *p;
		size_t avail;
		int rc = index_read_at(r, off, &p, &avail);
		if (rc != 0) {
			return rc;
		}
		if (!index_is_zero(p, avail)) {
			*zero = false;
			return 0;
		}
		off += avail;
	}
	return 0;
}

/* Walks the entries of the segment open in r into builder b. */
static int index_walk(struct index_reader *r, struct journal_index_builder *b, const char *path,
		      uint64_t *end, char *message, size_t message_len)
{
	uint64_t base = b->ix.base_position;
	uint64_t pos = base;
	bool zero;

	for (;;) {
		const uint8_t *p;
		size_t avail;
		struct journal_entry e;
		int rc = index_read_at(r, journal_segment_offset(base, pos), &p, &avail);
		if (rc != 0) {
			return rc;
		}
		if (avail == 0) {
			break;
		}
		enum journal_reject why = journal_entry_decode(p, avail, pos, &e);
		if (why == JOURNAL_REJECT_ZERO) {
			break;
		}
		if (why != JOURNAL_OK) {
			index_message(message, message_len, "%s: %s at position %llu", path,
				      journal_reject_name(why), (unsigned long long)pos);
			return -EPROTO;
		}
		rc = journal_index_builder_add(b, &e);
		if (rc != 0) {
			return rc;
		}
		pos += e.hdr.entry_bytes;
	}
	*end = pos;
	int rc = index_check_rest_zero(r, journal_segment_offset(base, pos), &zero);
	if (rc == 0 && !zero) {
		index_message(message, message_len,
			      "%s: bytes after the last entry (position %llu): the segment is "
			      "damaged or not complete",
			      path, (unsigned long long)pos);
		rc = -EPROTO;
	}
	return rc;
}

/* Opens the segment and checks its header; fills the reader's fd and limit. */
static int index_open_segment(const char *path, uint64_t base, struct index_reader *r,
			      char *message, size_t message_len)
{
	struct journal_segment_header h;
	struct stat st;
	int rc;

	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		rc = -errno;
		index_message(message, message_len, "%s: %s", path, strerror(-rc));
		return rc;
	}
	rc = fstat(r->fd, &st) != 0 ? -errno : 0;
	if (rc == 0) {
		rc = journal_pread_zero(r->fd, r->buf, JOURNAL_BLOCK_BYTES, 0);
	}
	if (rc != 0) {
		index_message(message, message_len, "%s: %s", path, strerror(-rc));
		return rc;
	}
	enum journal_reject why = journal_segment_header_decode(r->buf, JOURNAL_BLOCK_BYTES, &h);
	if (why != JOURNAL_OK || h.base_position != base) {
		index_message(message, message_len, "%s: segment header: %s", path,
			      why != JOURNAL_OK ? journal_reject_name(why) : "wrong base position");
		return -EPROTO;
	}
	r->limit = h.segment_bytes < (uint64_t)st.st_size ? h.segment_bytes : (uint64_t)st.st_size;
	r->len = 0;
	return 0;
}

int journal_index_build(const char *seg_path, uint64_t base_position,
			const struct journal_state *prev, uint32_t window, uint64_t idle_ns,
			struct journal_index *out, char *message, size_t message_len)
{
	struct index_reader r = {.fd = -1};
	struct journal_index_builder b;
	struct journal_state st;
	uint64_t end = base_position;
	int rc;

	memset(out, 0, sizeof(*out));
	index_message(message, message_len, "%s", "");
	rc = prev != NULL ? journal_state_copy(&st, prev)
			  : journal_state_init(&st, window, idle_ns);
	if (rc != 0) {
		return rc;
	}
	r.buf = malloc(INDEX_READ_BYTES + JOURNAL_ENTRY_BYTES_MAX);
	rc = r.buf == NULL ? -ENOMEM : journal_index_builder_init(&b, base_position, &st);
	if (rc != 0) {
		goto out_free;
	}
	rc = index_open_segment(seg_path, base_position, &r, message, message_len);
	if (rc == 0) {
		rc = index_walk(&r, &b, seg_path, &end, message, message_len);
	}
	if (rc == 0) {
		rc = journal_index_builder_finish(&b, end, out);
	} else {
		journal_index_builder_free(&b);
	}
out_free:
	if (r.fd >= 0) {
		(void)close(r.fd);
	}
	free(r.buf);
	journal_state_free(&st);
	return rc;
}

/* ---- Stored form ---- */

uint64_t journal_index_encoded_bytes(const struct journal_index *ix)
{
	return index_summary_bytes(ix->nparts, ix->npoints) +
	       journal_state_encoded_bytes(&ix->state);
}

void journal_index_encode(const struct journal_index *ix, void *out, uint64_t len)
{
	uint8_t *buf = out;
	struct index_header h = {
		.magic = JOURNAL_INDEX_MAGIC,
		.version = JOURNAL_INDEX_VERSION,
		.header_bytes = JOURNAL_INDEX_HEADER_BYTES,
		.base_position = ix->base_position,
		.end_position = ix->end_position,
		.min_ns = ix->min_ns,
		.max_ns = ix->max_ns,
		.file_bytes = len,
		.nparts = ix->nparts,
		.npoints = ix->npoints,
	};
	uint8_t *p = buf + JOURNAL_INDEX_HEADER_BYTES;

	for (uint32_t i = 0; i < ix->nparts; i++) {
		memset(p, 0, sizeof(struct journal_index_part));
		memcpy(p, &ix->parts[i], INDEX_PART_DATA_BYTES);
		p += sizeof(struct journal_index_part);
	}
	for (uint32_t i = 0; i < ix->npoints; i++) {
		struct journal_index_point pt = ix->points[i];
		pt.reserved = 0;
		memcpy(p, &pt, sizeof(pt));
		p += sizeof(pt);
	}
	journal_state_encode(&ix->state, p);
	memcpy(buf, &h, sizeof(h));
	h.crc32c = crc32c_extend(0, buf, len);
	memcpy(buf, &h, sizeof(h));
}

static int index_write_all(int fd, const uint8_t *p, uint64_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return n < 0 ? -errno : -EIO;
		}
		p += n;
		len -= (uint64_t)n;
	}
	return 0;
}

/* fdatasync of the directory holding path, so a rename in it is durable. */
static int index_sync_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t len = slash == NULL ? 1 : (size_t)(slash - path);

	if (len >= sizeof(dir)) {
		return -ENAMETOOLONG;
	}
	memcpy(dir, slash == NULL ? "." : path, len);
	dir[len == 0 ? 1 : len] = '\0';
	if (len == 0) {
		dir[0] = '/';
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	int rc = fdatasync(fd) != 0 ? -errno : 0;
	(void)close(fd);
	return rc;
}

int journal_index_write(const char *path, const struct journal_index *ix)
{
	char tmp[PATH_MAX];
	uint64_t len = journal_index_encoded_bytes(ix);
	uint8_t *buf;
	int rc;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		return -ENAMETOOLONG;
	}
	if (len > INDEX_FILE_BYTES_MAX) {
		return -EFBIG;
	}
	buf = malloc(len);
	if (buf == NULL) {
		return -ENOMEM;
	}
	journal_index_encode(ix, buf, len);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		goto out_free;
	}
	rc = index_write_all(fd, buf, len);
	if (rc == 0 && fdatasync(fd) != 0) {
		rc = -errno;
	}
	if (close(fd) != 0 && rc == 0) {
		rc = -errno;
	}
	if (rc == 0 && rename(tmp, path) != 0) {
		rc = -errno;
	}
	if (rc == 0) {
		rc = index_sync_dir(path);
	} else {
		(void)unlink(tmp);
	}
out_free:
	free(buf);
	return rc;
}

uint32_t journal_index_summary_bytes(const void *buf, size_t len)
{
	struct index_header h;

	if (len < sizeof(h)) {
		return 0;
	}
	memcpy(&h, buf, sizeof(h));
	if (h.magic != JOURNAL_INDEX_MAGIC || h.version != JOURNAL_INDEX_VERSION ||
	    h.header_bytes != JOURNAL_INDEX_HEADER_BYTES) {
		return 0;
	}
	uint64_t bytes = index_summary_bytes(h.nparts, h.npoints);
	return bytes > h.file_bytes || bytes > UINT32_MAX ? 0 : (uint32_t)bytes;
}

static bool index_part_is_valid(const struct journal_index *ix, const struct journal_index_part *p)
{
	return wire_topic_is_valid(p->topic, p->topic_len) &&
	       index_is_zero(p->topic + p->topic_len, sizeof(p->topic) - p->topic_len) &&
	       p->first_offset <= p->next_offset && p->first_position >= ix->base_position &&
	       p->first_position < ix->end_position && p->entries > 0 &&
	       p->bytes >= p->entries * JOURNAL_ENTRY_HEADER_BYTES &&
	       p->bytes <= ix->end_position - ix->base_position && p->min_ns <= p->max_ns &&
	       p->min_ns >= ix->min_ns && p->max_ns <= ix->max_ns;
}

static bool index_points_are_valid(const struct journal_index *ix)
{
	for (uint32_t i = 0; i < ix->npoints; i++) {
		const struct journal_index_point *pt = &ix->points[i];
		if (pt->part >= ix->nparts || pt->position < ix->base_position ||
		    pt->position >= ix->end_position || pt->max_ns > ix->max_ns ||
		    pt->base_offset < ix->parts[pt->part].first_offset ||
		    pt->base_offset >= ix->parts[pt->part].next_offset) {
			return false;
		}
		if (i > 0 && (pt->position <= ix->points[i - 1].position ||
			      pt->max_ns < ix->points[i - 1].max_ns)) {
			return false;
		}
	}
	return true;
}

int journal_index_decode_summary(const void *buf, size_t len, uint64_t base_position,
				 struct journal_index *out)
{
	const uint8_t *p = buf;
	struct index_header h;
	uint32_t summary = journal_index_summary_bytes(buf, len);

	memset(out, 0, sizeof(*out));
	if (summary == 0 || summary > len || ((uintptr_t)buf & 7u) != 0) {
		return -EPROTO;
	}
	memcpy(&h, p, sizeof(h));
	if (h.base_position != base_position || h.end_position < h.base_position ||
	    h.min_ns > h.max_ns || h.reserved != 0 || (h.nparts == 0) != (h.npoints == 0) ||
	    h.npoints < h.nparts) {
		return -EPROTO;
	}
	out->base_position = h.base_position;
	out->end_position = h.end_position;
	out->min_ns = h.min_ns;
	out->max_ns = h.max_ns;
	out->nparts = h.nparts;
	out->npoints = h.npoints;
	out->borrowed = true;
	/* The layout is the structs' own (static_assert above) and buf is 8-aligned. */
	out->parts = (struct journal_index_part *)(uintptr_t)(p + JOURNAL_INDEX_HEADER_BYTES);
	out->points =
		(struct journal_index_point *)(uintptr_t)(p + JOURNAL_INDEX_HEADER_BYTES +
							  (size_t)h.nparts * sizeof(*out->parts));
	for (uint32_t i = 0; i < h.nparts; i++) {
		if (!index_part_is_valid(out, &out->parts[i])) {
			goto out_bad;
		}
		out->entries += out->parts[i].entries;
	}
	if (!index_points_are_valid(out) || (h.nparts == 0 && h.end_position != h.base_position)) {
		goto out_bad;
	}
	return 0;

out_bad:
	memset(out, 0, sizeof(*out));
	return -EPROTO;
}

/* Reads the whole file at path into a malloc'd buffer. */
static int index_slurp(const char *path, uint8_t **out, uint64_t *len)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc = 0;

	*out = NULL;
	if (fd < 0) {
		return -errno;
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		goto out_close;
	}
	if (st.st_size < (off_t)JOURNAL_INDEX_HEADER_BYTES ||
	    (uint64_t)st.st_size > INDEX_FILE_BYTES_MAX) {
		rc = -EPROTO;
		goto out_close;
	}
	*len = (uint64_t)st.st_size;
	*out = malloc(*len); /* malloc aligns for any type: 8 at least */
	if (*out == NULL) {
		rc = -ENOMEM;
		goto out_close;
	}
	rc = journal_pread_zero(fd, *out, *len, 0);
	if (rc != 0) {
		free(*out);
		*out = NULL;
	}
out_close:
	(void)close(fd);
	return rc;
}

static bool index_crc_is_valid(const uint8_t *buf, uint64_t len)
{
	static const uint8_t zero[4];
	uint32_t stored;
	size_t at = offsetof(struct index_header, crc32c);

	memcpy(&stored, buf + at, sizeof(stored));
	uint32_t crc = crc32c_extend(0, buf, at);
	crc = crc32c_extend(crc, zero, sizeof(zero));
	crc = crc32c_extend(crc, buf + at + 4, len - at - 4);
	return crc == stored;
}

/* Copies the borrowed parts and points of ix into memory ix owns. */
static int index_own_arrays(struct journal_index *ix)
{
	struct journal_index_part *parts = NULL;
	struct journal_index_point *points = NULL;

	if (ix->nparts > 0) {
		parts = malloc((size_t)ix->nparts * sizeof(*parts));
		points = malloc((size_t)ix->npoints * sizeof(*points));
		if (parts == NULL || points == NULL) {
			free(parts);
			free(points);
			return -ENOMEM;
		}
		memcpy(parts, ix->parts, (size_t)ix->nparts * sizeof(*parts));
		memcpy(points, ix->points, (size_t)ix->npoints * sizeof(*points));
	}
	ix->parts = parts;
	ix->points = points;
	ix->borrowed = false;
	return 0;
}

int journal_index_read(const char *path, uint64_t base_position, struct journal_index *out)
{
	struct index_header h;
	uint8_t *buf = NULL;
	uint64_t len = 0;
	int rc = index_slurp(path, &buf, &len);

	memset(out, 0, sizeof(*out));
	if (rc != 0 || buf == NULL) {
		return rc != 0 ? rc : -EIO;
	}
	memcpy(&h, buf, sizeof(h));
	if (!index_crc_is_valid(buf, len) || h.file_bytes != len) {
		rc = -EPROTO;
		goto out_free;
	}
	rc = journal_index_decode_summary(buf, len, base_position, out);
	if (rc != 0) {
		goto out_free;
	}
	uint64_t summary = index_summary_bytes(h.nparts, h.npoints);
	struct journal_state st;
	rc = journal_state_decode(buf + summary, len - summary, &st);
	if (rc == 0) {
		rc = index_own_arrays(out);
		if (rc != 0) {
			journal_state_free(&st);
		}
	}
	if (rc != 0) {
		memset(out, 0, sizeof(*out));
		goto out_free;
	}
	out->state = st;
	/* Every partition with entries in the segment is in the state after it. */
	for (uint32_t i = 0; i < out->nparts; i++) {
		const struct journal_index_part *p = &out->parts[i];
		int32_t k = journal_state_find_part(&st, p->topic, p->topic_len, p->partition);
		if (k < 0 || st.parts[k].next_offset < p->next_offset) {
			journal_index_free(out);
			rc = -EPROTO;
			break;
		}
	}
out_free:
	free(buf);
	return rc;
}

/* ---- Searching ---- */

int32_t journal_index_find_part(const struct journal_index *ix, const uint8_t *topic,
				uint8_t topic_len, uint32_t partition)
{
	for (uint32_t i = 0; i < ix->nparts; i++) {
		const struct journal_index_part *p = &ix->parts[i];
		if (p->partition == partition && p->topic_len == topic_len &&
		    memcmp(p->topic, topic, topic_len) == 0) {
			return (int32_t)i;
		}
	}
	return -1;
}

uint64_t journal_index_seek_offset(const struct journal_index *ix, uint32_t part, uint64_t offset)
{
	uint64_t position = part < ix->nparts ? ix->parts[part].first_position : ix->base_position;

	for (uint32_t i = 0; i < ix->npoints; i++) {
		const struct journal_index_point *pt = &ix->points[i];
		if (pt->part != part) {
			continue;
		}
		if (pt->base_offset > offset) {
			break; /* a part's points go up in offset */
		}
		position = pt->position;
	}
	return position;
}

uint64_t journal_index_seek_time(const struct journal_index *ix, uint64_t time_ns)
{
	uint32_t lo = 0;
	uint32_t hi = ix->npoints;

	if (ix->entries == 0 || ix->max_ns < time_ns) {
		return ix->end_position;
	}
	/* First point with max_ns >= time_ns; points are sorted by max_ns. */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (ix->points[mid].max_ns < time_ns) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo == 0 ? ix->base_position : ix->points[lo - 1].position;
}

int journal_index_check_header(const char *path, uint64_t base_position)
{
	struct index_header h;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc;

	if (fd < 0) {
		return -errno;
	}
	rc = fstat(fd, &st) != 0 ? -errno : journal_pread_zero(fd, &h, sizeof(h), 0);
	(void)close(fd);
	if (rc != 0) {
		return rc;
	}
	if (journal_index_summary_bytes(&h, sizeof(h)) == 0 || h.base_position != base_position ||
	    h.file_bytes != (uint64_t)st.st_size || h.end_position < h.base_position) {
		return -EPROTO;
	}
	return 0;
}
