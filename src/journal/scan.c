/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The read-only recovery scan of one shard's journal directory, shared by journal_open()
 * and the offline `sluice journal` tools. A first pass reads every segment's header and
 * first blocks (unknown versions fail before anything is replayed, and it finds the
 * newest segment holding data); a second pass walks the entries with large sequential
 * reads and classifies the first damage it meets as a torn tail or as corruption.
 * journal_scan() reads beside a running router: a segment that retention removed while it
 * was being read is dropped with the older ones (they went first), not reported as
 * damage.
 */
#include "journal/scan.h"

#include "core/assert.h"

#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One sequential read; the buffer also keeps an entry that straddles two reads. */
#define SCAN_READ_BYTES (1u << 20)
#define SCAN_BUF_BYTES (SCAN_READ_BYTES + JOURNAL_ENTRY_BYTES_MAX)
/* The first pass reads the header block and the first entry block. */
#define SCAN_HEAD_BYTES ((size_t)JOURNAL_BLOCK_BYTES * 2)

/* ---- listing ---- */

static int journal_segment_cmp(const void *a, const void *b)
{
	const struct journal_segment_info *x = a;
	const struct journal_segment_info *y = b;

	return (x->base_position > y->base_position) - (x->base_position < y->base_position);
}

static int journal_dir_add(struct journal_dir *out, unsigned *cap, const char *name, uint64_t base)
{
	if (out->count == *cap) {
		unsigned ncap = *cap == 0 ? 16 : *cap * 2;
		void *p = realloc(out->segments, (size_t)ncap * sizeof(*out->segments));
		if (p == NULL) {
			return -ENOMEM;
		}
		out->segments = p;
		*cap = ncap;
	}
	struct journal_segment_info *s = &out->segments[out->count++];
	memset(s, 0, sizeof(*s));
	s->base_position = base;
	/* journal_segment_name_parse() accepted exactly 24 characters. */
	memcpy(s->name, name, JOURNAL_SEGMENT_NAME_BYTES);
	return 0;
}

/* Sizes every listed file; drops those deleted since readdir (retention may run). */
static int journal_dir_stat(struct journal_dir *out, int dfd)
{
	unsigned kept = 0;

	for (unsigned i = 0; i < out->count; i++) {
		struct stat st;
		if (fstatat(dfd, out->segments[i].name, &st, 0) != 0) {
			if (errno == ENOENT) {
				continue;
			}
			return -errno;
		}
		out->segments[i].file_bytes = (uint64_t)st.st_size;
		out->segments[kept++] = out->segments[i];
	}
	out->count = kept;
	return 0;
}

int journal_dir_list(const char *path, struct journal_dir *out)
{
	unsigned cap = 0;
	int err = 0;
	size_t len = strlen(path);

	memset(out, 0, sizeof(*out));
	if (len >= sizeof(out->path)) {
		return -ENAMETOOLONG;
	}
	memcpy(out->path, path, len + 1);
	DIR *dir = opendir(path);
	if (dir == NULL) {
		return -errno;
	}
	for (;;) {
		uint64_t base;
		errno = 0;
		struct dirent *e = readdir(dir);
		if (e == NULL) {
			err = -errno;
			break;
		}
		if (!journal_segment_name_parse(e->d_name, &base)) {
			continue;
		}
		err = journal_dir_add(out, &cap, e->d_name, base);
		if (err != 0) {
			break;
		}
	}
	if (err == 0) {
		/* An empty directory has no array: qsort must not see NULL. */
		if (out->count > 1) {
			qsort(out->segments, out->count, sizeof(*out->segments),
			      journal_segment_cmp);
		}
		err = journal_dir_stat(out, dirfd(dir));
	}
	(void)closedir(dir);
	if (err != 0) {
		journal_dir_free(out);
	}
	return err;
}

void journal_dir_free(struct journal_dir *d)
{
	free(d->segments);
	d->segments = NULL;
	d->count = 0;
}

/* ---- reading ---- */

/* A window of one segment file: buf[0..len) holds file offsets [off, off + len). */
struct scan_reader {
	int fd;
	uint8_t *buf;
	uint64_t off;
	size_t len;
	uint64_t limit; /* file offset where readable data ends: min(segment end, EOF) */
};

/*
 * Makes file offsets [off, off + want) available (want <= JOURNAL_ENTRY_BYTES_MAX,
 * clipped at the limit) and points *p at off; *avail receives how many bytes from off
 * the buffer holds (0 at the limit). A refill keeps the bytes from off on (a partly read
 * entry) and reads up to SCAN_READ_BYTES more in one pread. Bytes the file lost to a
 * concurrent truncation read as zero.
 */
static int scan_read(struct scan_reader *r, uint64_t off, size_t want, const uint8_t **p,
		     size_t *avail)
{
	SL_ASSERT(want <= JOURNAL_ENTRY_BYTES_MAX);
	*p = r->buf;
	*avail = 0;
	if (off >= r->limit) {
		return 0;
	}
	uint64_t left = r->limit - off;
	if (want > left) {
		want = (size_t)left;
	}
	if (off >= r->off && off + want <= r->off + r->len) {
		*p = r->buf + (off - r->off);
		*avail = (size_t)(r->off + r->len - off);
		return 0;
	}
	size_t keep = 0;
	if (off >= r->off && off < r->off + r->len) {
		keep = (size_t)(r->off + r->len - off);
		memmove(r->buf, r->buf + (off - r->off), keep);
	}
	size_t total = keep + SCAN_READ_BYTES;
	if (total > left) {
		total = (size_t)left;
	}
	size_t got = keep;
	while (got < total) {
		ssize_t n = pread(r->fd, r->buf + got, total - got, (off_t)(off + got));
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			r->len = 0;
			return -errno;
		}
		if (n == 0) {
			break;
		}
		got += (size_t)n;
	}
	memset(r->buf + got, 0, total - got);
	r->off = off;
	r->len = total;
	*avail = total;
	return 0;
}

int journal_pread_zero(int fd, void *buf, size_t len, uint64_t offset)
{
	uint8_t *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, p + got, len - got, (off_t)(offset + got));
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			return -errno;
		}
		if (n == 0) {
			break;
		}
		got += (size_t)n;
	}
	memset(p + got, 0, len - got);
	return 0;
}

/* Writes res->message (truncated to fit: it is a sentence for a log line). */
__attribute__((format(printf, 2, 3))) static void scan_message(struct journal_scan_result *res,
							       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(res->message, sizeof(res->message), fmt, ap);
	va_end(ap);
}

static bool scan_is_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] != 0) {
			return false;
		}
	}
	return true;
}

/* ---- the scan ---- */

/* What the first pass learnt about one segment. */
struct scan_seg {
	enum journal_reject hdr_reject;
	struct journal_segment_header hdr;
	bool first_block_zero; /* the first entry block (file offset BLOCK) is all zero */
	bool has_data;
	uint64_t data_limit; /* file offset where its data ends: min(segment_bytes, size) */
};

struct scan {
	struct journal_dir *d;
	journal_entry_fn *fn;
	void *ctx;
	struct journal_scan_result *res;
	struct scan_seg *segs;
	struct scan_reader rd;
	int dfd;
	int last_data;		   /* newest segment holding data, -1: none */
	unsigned first_unfinished; /* trailing segments from here on are unfinished */
	unsigned first;		   /* segments before this one are trusted, not read */
	uint64_t first_base;	   /* where segment `first` must start (first > 0) */
	bool beside_router;	   /* retention may remove segments meanwhile */
	bool fn_stopped;	   /* the error being returned is fn's */
};

/* What the search after a bad entry found in the rest of its segment. */
struct scan_search {
	bool any_nonzero;
	uint64_t last_nonzero; /* position of the last non-zero byte at or after the start */
	bool any_valid;
	uint64_t last_valid;  /* position of the farthest valid entry found */
	uint64_t valid_bytes; /* bytes of the valid entries found, nested ones not counted */
	uint64_t skip_until;  /* end of the last valid entry counted */
};

static int scan_search(struct scan *sc, unsigned i, uint64_t from, uint64_t to,
		       struct scan_search *out);

/* True when p[0..avail) starts with an entry header of this segment's life at `position`
 * (magic and position match): a new entry, complete or torn. Stale entries of a recycled
 * segment's earlier lives name positions below its base, never `position`. */
static bool scan_is_new_header(const uint8_t *p, size_t avail, uint64_t position)
{
	struct journal_entry_header h;

	if (avail < JOURNAL_ENTRY_HEADER_BYTES) {
		return false;
	}
	memcpy(&h, p, sizeof(h));
	return h.magic == JOURNAL_ENTRY_MAGIC && h.position == position;
}

/*
 * True when the bytes at `position` of a recycled segment look like the clean end of its
 * data: no new entry header, and zeros from there to the end of the block (the writer pads
 * its last block with zeros; what lies in the next blocks was never written in this life).
 */
static bool scan_is_recycled_end(const uint8_t *p, size_t avail, uint64_t position)
{
	size_t in_block =
		(JOURNAL_BLOCK_BYTES - position % JOURNAL_BLOCK_BYTES) % JOURNAL_BLOCK_BYTES;

	in_block = in_block < JOURNAL_ENTRY_HEADER_BYTES ? in_block : JOURNAL_ENTRY_HEADER_BYTES;
	in_block = in_block < avail ? in_block : avail;
	return scan_is_zero(p, in_block) && !scan_is_new_header(p, avail, position);
}

static int scan_open_segment(struct scan *sc, unsigned i, uint64_t *size)
{
	struct stat st;
	int fd = openat(sc->dfd, sc->d->segments[i].name, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		return -errno;
	}
	if (fstat(fd, &st) != 0) {
		int err = -errno;
		(void)close(fd);
		return err;
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

static void scan_path(const struct scan *sc, unsigned i, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s/%s", sc->d->path, sc->d->segments[i].name);

	if (n < 0 || (size_t)n >= cap) {
		out[cap - 1] = '\0';
	}
}

/* Window searched after a bad entry in the newest segment: what the writer may have had in
 * flight past the durable end, and the entry it ends inside. */
static uint64_t scan_window(const struct scan_seg *s)
{
	return (uint64_t)s->hdr.window_bytes + JOURNAL_ENTRY_BYTES_MAX;
}

/*
 * True when a segment holds bytes within its header's write window although its first
 * entry is missing: a crash can land later writes of a batch and lose the first one. In
 * a zero-filled segment that is any non-zero byte; in a recycled one, a valid entry.
 */
static int scan_window_has_data(struct scan *sc, unsigned i, bool *out)
{
	const struct scan_seg *s = &sc->segs[i];
	uint64_t end = JOURNAL_BLOCK_BYTES + scan_window(s);
	uint64_t off = SCAN_HEAD_BYTES;

	*out = false;
	if (journal_segment_is_recycled(&s->hdr)) {
		uint64_t base = sc->d->segments[i].base_position;
		struct scan_search found;
		int err = scan_search(sc, i, base, base + scan_window(s), &found);
		*out = found.any_valid;
		return err;
	}
	if (end > sc->rd.limit) {
		end = sc->rd.limit;
	}
	while (off < end) {
		const uint8_t *p;
		size_t avail;
		int err = scan_read(&sc->rd, off, JOURNAL_ENTRY_BYTES_MAX, &p, &avail);
		if (err != 0) {
			return err;
		}
		if (avail == 0) {
			break;
		}
		if (avail > end - off) {
			avail = (size_t)(end - off);
		}
		if (!scan_is_zero(p, avail)) {
			*out = true;
			return 0;
		}
		off += avail;
	}
	return 0;
}

/* First pass over segment i: header, first entry block, whether it holds data. */
static int scan_probe(struct scan *sc, unsigned i)
{
	struct scan_seg *s = &sc->segs[i];
	struct journal_segment_info *info = &sc->d->segments[i];
	uint8_t *head = sc->rd.buf;
	uint64_t size = 0;
	int err = 0;
	int fd = scan_open_segment(sc, i, &size);

	if (fd < 0) {
		return fd;
	}
	err = journal_pread_zero(fd, head, SCAN_HEAD_BYTES, 0);
	if (err != 0) {
		goto out_close;
	}
	s->hdr_reject = journal_segment_header_decode(head, JOURNAL_BLOCK_BYTES, &s->hdr);
	s->first_block_zero = scan_is_zero(head + JOURNAL_BLOCK_BYTES, JOURNAL_BLOCK_BYTES);
	s->has_data = !s->first_block_zero;
	if (s->hdr_reject == JOURNAL_REJECT_BAD_VERSION) {
		char path[PATH_MAX];
		scan_path(sc, i, path, sizeof(path));
		scan_message(sc->res,
			     "%s: unknown journal format version %u (this build reads versions %u "
			     "and %u)",
			     path, (unsigned)s->hdr.version, JOURNAL_FORMAT_VERSION,
			     JOURNAL_FORMAT_VERSION_RECYCLED);
		err = -EPROTO;
		goto out_close;
	}
	if (s->hdr_reject != JOURNAL_OK) {
		goto out_close;
	}
	info->capacity = s->hdr.segment_bytes - JOURNAL_BLOCK_BYTES;
	info->created_ns = s->hdr.created_ns;
	s->data_limit = s->hdr.segment_bytes < size ? s->hdr.segment_bytes : size;
	if (journal_segment_is_recycled(&s->hdr)) {
		/* Its first block holds stale bytes anyway: only this life's entries count. */
		s->has_data = scan_is_new_header(head + JOURNAL_BLOCK_BYTES, JOURNAL_BLOCK_BYTES,
						 info->base_position);
	}
	if (!s->has_data) {
		sc->rd.fd = fd;
		sc->rd.len = 0;
		sc->rd.off = 0;
		sc->rd.limit = s->data_limit;
		err = scan_window_has_data(sc, i, &s->has_data);
	}
out_close:
	(void)close(fd);
	return err;
}

/* Unfinished: after the newest data, header zero or torn, first entry block zero. */
static bool scan_is_unfinished(const struct scan *sc, unsigned i)
{
	const struct scan_seg *s = &sc->segs[i];

	if ((int)i <= sc->last_data || !s->first_block_zero) {
		return false;
	}
	return s->hdr_reject == JOURNAL_REJECT_BAD_MAGIC ||
	       s->hdr_reject == JOURNAL_REJECT_BAD_CRC || s->hdr_reject == JOURNAL_REJECT_TRUNCATED;
}

static void scan_corrupt(struct scan *sc, unsigned i, uint64_t position, enum journal_reject why,
			 const char *what, uint64_t valid_bytes)
{
	struct journal_scan_result *res = sc->res;
	const struct journal_segment_info *info = &sc->d->segments[i];
	char path[PATH_MAX];
	unsigned later = 0;

	for (unsigned j = i + 1; j < sc->d->count; j++) {
		later += sc->segs[j].has_data;
	}
	scan_path(sc, i, path, sizeof(path));
	res->corrupt = true;
	res->corrupt_segment = i;
	res->corrupt_position = position;
	res->corrupt_reason = why;
	scan_message(res,
		     "%s: %s at position %llu (file offset %llu); %llu bytes of valid data "
		     "follow in this segment and %u later segments hold data; the journal is "
		     "corrupt: see `sluice journal verify`",
		     path, what, (unsigned long long)position,
		     (unsigned long long)journal_segment_offset(info->base_position, position),
		     (unsigned long long)valid_bytes, later);
}

/* Highest non-zero byte of a little-endian word (w != 0). */
static unsigned scan_last_byte(uint64_t w)
{
	return 7u - (unsigned)__builtin_clzll(w) / 8u;
}

/*
 * scan_search() looks at positions [from, to) of segment i (the reader open on it) for
 * non-zero bytes and for valid entries at 8-aligned positions after `from`. The tail
 * classification reads to the end of the segment: damage is rare, and the torn bytes (or
 * valid entries past the window: corruption) must all be found.
 */
/* A candidate entry (magic found) at position q, file offset off, buffer p[0..avail):
 * returns false when the buffer must be refilled from off first. */
static bool scan_search_candidate(struct scan *sc, const uint8_t *p, size_t avail, uint64_t q,
				  uint64_t off, struct scan_search *out)
{
	struct journal_entry e;
	size_t need = JOURNAL_ENTRY_BYTES_MAX;

	if (need > sc->rd.limit - off) {
		need = (size_t)(sc->rd.limit - off);
	}
	if (avail < need) {
		return false;
	}
	if (journal_entry_decode(p, need, q, &e) == JOURNAL_OK) {
		out->any_valid = true;
		out->last_valid = q;
		/* Entries inside a valid entry's bytes are not counted twice. */
		if (q >= out->skip_until) {
			out->valid_bytes += e.hdr.entry_bytes;
			out->skip_until = q + e.hdr.entry_bytes;
		}
	}
	return true;
}

static int scan_search(struct scan *sc, unsigned i, uint64_t from, uint64_t to,
		       struct scan_search *out)
{
	uint64_t base = sc->d->segments[i].base_position;
	uint64_t q = from;

	memset(out, 0, sizeof(*out));
	out->skip_until = from;
	while (q < to) {
		const uint8_t *p;
		size_t avail;
		uint64_t off = journal_segment_offset(base, q);
		int err = scan_read(&sc->rd, off, JOURNAL_ENTRY_BYTES_MAX, &p, &avail);
		if (err != 0) {
			return err;
		}
		if (avail == 0) {
			return 0;
		}
		size_t k = 0;
		while (k < avail) {
			uint64_t w = 0;
			size_t n = avail - k < 8 ? avail - k : 8;
			memcpy(&w, p + k, n);
			if (w != 0) {
				out->any_nonzero = true;
				out->last_nonzero = q + k + scan_last_byte(w);
			}
			if (q + k != from && (uint32_t)w == JOURNAL_ENTRY_MAGIC &&
			    !scan_search_candidate(sc, p + k, avail - k, q + k, off + k, out)) {
				break; /* refill from here */
			}
			k += n;
		}
		q += k;
	}
	return 0;
}

static int scan_deliver(struct scan *sc, const struct journal_entry *e, unsigned i)
{
	sc->d->segments[i].entries++;
	sc->res->entries++;
	sc->res->entry_bytes += e->hdr.entry_bytes;
	if (sc->fn == NULL) {
		return 0;
	}
	int rc = sc->fn(sc->ctx, e, i);
	sc->fn_stopped = rc != 0;
	return rc;
}

/*
 * True when the end of data found at `bad` in the newest segment i is clean (no torn
 * write to cut). Zero-filled: a zero header and nothing non-zero after it. Recycled: the
 * bytes there look like an end (scan_is_recycled_end()) and no valid entry follows; stale
 * bytes after it are expected.
 */
static bool scan_is_clean_end(const struct scan *sc, unsigned i, enum journal_reject why,
			      bool recycled_end, const struct scan_search *found)
{
	if (journal_segment_is_recycled(&sc->segs[i].hdr)) {
		return recycled_end && !found->any_valid;
	}
	return why == JOURNAL_REJECT_ZERO && !found->any_nonzero;
}

/* Bytes to cut from a torn position `bad` in segment i: to the last non-zero byte of a
 * zero-filled segment; through the write window of a recycled one, whose stale bytes
 * after it are harmless but whose new ones (maybe valid entries) must all go. */
static uint64_t scan_torn_bytes(const struct scan *sc, unsigned i, uint64_t bad,
				const struct scan_search *found)
{
	const struct scan_seg *s = &sc->segs[i];
	uint64_t data_end = sc->d->segments[i].base_position + s->data_limit - JOURNAL_BLOCK_BYTES;
	uint64_t to = bad + scan_window(s);

	if (!journal_segment_is_recycled(&s->hdr)) {
		return found->last_nonzero + 1 - bad;
	}
	return (to < data_end ? to : data_end) - bad;
}

/* Damage at position `bad` of segment i: torn tail, corruption or the clean end of the
 * segment's data. p[0..avail) holds the bytes at `bad`. */
static int scan_classify(struct scan *sc, unsigned i, uint64_t bad, enum journal_reject why,
			 const uint8_t *p, size_t avail)
{
	struct journal_scan_result *res = sc->res;
	bool newest = (int)i == sc->last_data;
	uint64_t window = sc->segs[i].hdr.window_bytes;
	bool recycled_end = scan_is_recycled_end(p, avail, bad);
	struct scan_search found;

	int err = scan_search(sc, i, bad, UINT64_MAX, &found);
	if (err != 0) {
		return err;
	}
	if (found.any_valid && (!newest || found.last_valid - bad > window)) {
		scan_corrupt(sc, i, bad, why, journal_reject_name(why), found.valid_bytes);
		return 0;
	}
	/* A sealed segment ends in a zero header, recycled or not (the writer wrote one). */
	if (why == JOURNAL_REJECT_ZERO && !newest) {
		return 0;
	}
	if (newest && scan_is_clean_end(sc, i, why, recycled_end, &found)) {
		return 0; /* the end of the journal's data */
	}
	if (!newest) {
		scan_corrupt(sc, i, bad, why, journal_reject_name(why), found.valid_bytes);
		return 0;
	}
	char path[PATH_MAX];
	uint64_t base = sc->d->segments[i].base_position;
	scan_path(sc, i, path, sizeof(path));
	res->torn = true;
	res->torn_position = bad;
	res->torn_reason = why;
	res->torn_bytes = scan_torn_bytes(sc, i, bad, &found);
	scan_message(res,
		     "%s: torn tail at position %llu (file offset %llu): %s; %llu bytes to cut",
		     path, (unsigned long long)bad,
		     (unsigned long long)journal_segment_offset(base, bad),
		     journal_reject_name(why), (unsigned long long)res->torn_bytes);
	return 0;
}

/* Walks the entries of segment i (header already checked) and classifies its end. */
static int scan_walk(struct scan *sc, unsigned i)
{
	struct journal_segment_info *info = &sc->d->segments[i];
	uint64_t base = info->base_position;
	uint64_t pos = base;
	uint64_t size = 0;
	enum journal_reject why = JOURNAL_REJECT_ZERO;
	int fd = scan_open_segment(sc, i, &size);
	int err = 0;

	if (fd < 0) {
		return fd;
	}
	sc->rd.fd = fd;
	sc->rd.len = 0;
	sc->rd.off = 0;
	sc->rd.limit = sc->segs[i].hdr.segment_bytes < size ? sc->segs[i].hdr.segment_bytes : size;
	for (;;) {
		const uint8_t *p;
		size_t avail;
		struct journal_entry e;
		err = scan_read(&sc->rd, journal_segment_offset(base, pos), JOURNAL_ENTRY_BYTES_MAX,
				&p, &avail);
		if (err != 0) {
			goto out_close;
		}
		if (avail == 0) {
			break; /* the segment (or the file) ends here */
		}
		why = journal_entry_decode(p, avail, pos, &e);
		if (why != JOURNAL_OK) {
			info->end_position = pos;
			err = scan_classify(sc, i, pos, why, p, avail);
			goto out_close;
		}
		err = scan_deliver(sc, &e, i);
		if (err != 0) {
			goto out_close;
		}
		pos += e.hdr.entry_bytes;
		info->end_position = pos;
	}
out_close:
	(void)close(fd);
	return err;
}

/* Second pass over segment i: header checks, then its entries. */
static int scan_segment(struct scan *sc, unsigned i, uint64_t *next_base, bool *have_prev)
{
	struct journal_segment_info *info = &sc->d->segments[i];
	const struct scan_seg *s = &sc->segs[i];
	char what[96];

	info->end_position = info->base_position;
	info->entries = 0;
	if (s->hdr_reject != JOURNAL_OK) {
		(void)snprintf(what, sizeof(what), "segment header: %s",
			       journal_reject_name(s->hdr_reject));
		scan_corrupt(sc, i, info->base_position, s->hdr_reject, what, 0);
		return 0;
	}
	if (s->hdr.base_position != info->base_position) {
		(void)snprintf(what, sizeof(what), "segment header says base position %llu",
			       (unsigned long long)s->hdr.base_position);
		scan_corrupt(sc, i, info->base_position, JOURNAL_REJECT_BAD_POSITION, what, 0);
		return 0;
	}
	if (*have_prev && info->base_position != *next_base) {
		(void)snprintf(what, sizeof(what), "gap (previous segment ends at position %llu)",
			       (unsigned long long)*next_base);
		scan_corrupt(sc, i, info->base_position, JOURNAL_REJECT_BAD_POSITION, what, 0);
		return 0;
	}
	*have_prev = true;
	*next_base = info->base_position + info->capacity;
	if ((int)i > sc->last_data) {
		return 0; /* created ahead of use: holds nothing yet */
	}
	return scan_walk(sc, i);
}

static void scan_fill_end(struct scan *sc)
{
	struct journal_scan_result *res = sc->res;
	struct journal_dir *d = sc->d;

	res->end_segment = d->count;
	res->end_position = 0;
	if (sc->last_data >= 0) {
		res->end_segment = (unsigned)sc->last_data;
		res->end_position = d->segments[sc->last_data].end_position;
		return;
	}
	for (unsigned i = sc->first; i < sc->first_unfinished; i++) {
		if (sc->segs[i].hdr_reject == JOURNAL_OK) {
			res->end_segment = i;
			res->end_position = d->segments[i].base_position;
			return;
		}
	}
}

/* ---- segments removed while being read ---- */

/* True when reading beside the router and segment i's name is gone from the directory:
 * retention renamed it to a spare or unlinked it since it was listed. Names are never
 * reused (positions only grow), so a name still there is the segment that was listed. */
static bool scan_is_removed(const struct scan *sc, unsigned i)
{
	struct stat st;

	return sc->beside_router && fstatat(sc->dfd, sc->d->segments[i].name, &st, 0) != 0 &&
	       errno == ENOENT;
}

/*
 * Forgets the damage recorded while reading a segment found removed: a spare being
 * overwritten by the writer reads as damage, and an unlinked file as missing. Only the
 * segment just read can have recorded any (the scan stops at corruption; a torn tail is
 * in the newest segment, the last one read).
 */
static void scan_forget_damage(struct journal_scan_result *res)
{
	res->torn = false;
	res->torn_position = 0;
	res->torn_reason = JOURNAL_OK;
	res->torn_bytes = 0;
	res->corrupt = false;
	res->corrupt_segment = 0;
	res->corrupt_position = 0;
	res->corrupt_reason = JOURNAL_OK;
	res->message[0] = '\0';
}

/*
 * Drops segments [0, i] from d (and their first-pass state): i was removed, and
 * retention removes oldest first, so every older one went before it. The journal now
 * starts at the next segment; indexes shift down by i + 1.
 */
static void scan_drop_removed(struct scan *sc, unsigned i)
{
	struct journal_dir *d = sc->d;
	unsigned n = i + 1;

	scan_forget_damage(sc->res);
	sc->res->removed_segments += n;
	memcpy(sc->res->removed_last, d->segments[i].name, sizeof(sc->res->removed_last));
	memmove(d->segments, d->segments + n, (size_t)(d->count - n) * sizeof(*d->segments));
	memmove(sc->segs, sc->segs + n, (size_t)(d->count - n) * sizeof(*sc->segs));
	d->count -= n;
	sc->first = sc->first > n ? sc->first - n : 0;
	sc->first_unfinished = sc->first_unfinished > n ? sc->first_unfinished - n : 0;
	sc->last_data = sc->last_data >= (int)n ? sc->last_data - (int)n : -1;
}

/* First pass over every segment from sc->first: headers, where the data ends. */
static int scan_probe_all(struct scan *sc)
{
	struct journal_dir *d = sc->d;
	unsigned i = sc->first;

	while (i < d->count) {
		int err = scan_probe(sc, i);
		if (err != 0 && scan_is_removed(sc, i)) {
			/* Every segment probed so far goes with it: start over at the new
			 * oldest, not probed yet. */
			scan_drop_removed(sc, i);
			i = 0;
			continue;
		}
		if (err != 0) {
			return err;
		}
		if (sc->segs[i].has_data) {
			sc->last_data = (int)i;
		}
		i++;
	}
	return 0;
}

/* Second pass: every segment's entries, up to the first corruption. */
static int scan_walk_all(struct scan *sc)
{
	uint64_t next_base = sc->first_base;
	bool have_prev = sc->first > 0;
	unsigned i = sc->first;

	while (i < sc->first_unfinished && !sc->res->corrupt) {
		int err = scan_segment(sc, i, &next_base, &have_prev);
		if (sc->fn_stopped) {
			return err;
		}
		/*
		 * Checked after every segment, read clean or not: a spare the writer reuses
		 * can read as damage, as missing, or as a clean end (zeros of its new life)
		 * before the segment's real end. Whatever fn was given from it is still
		 * exact: each entry was read whole, its CRC matched, and it names the
		 * position it was read at, in this segment's range; an entry of the file's
		 * new life names a position of its new range and is refused, and stale bytes
		 * of its old life still valid are this segment's own entries. Only the
		 * entries after the point where the reads were overtaken may be missing.
		 */
		if (scan_is_removed(sc, i)) {
			scan_drop_removed(sc, i);
			i = 0;
			have_prev = false; /* the journal now starts at the next segment */
			continue;
		}
		if (err != 0) {
			return err;
		}
		i++;
	}
	return 0;
}

static int scan_run(struct scan *sc)
{
	struct journal_dir *d = sc->d;
	int err = scan_probe_all(sc);

	if (err != 0) {
		return err;
	}
	sc->first_unfinished = d->count;
	while (sc->first_unfinished > sc->first &&
	       scan_is_unfinished(sc, sc->first_unfinished - 1)) {
		sc->first_unfinished--;
	}
	sc->res->unfinished_segments = d->count - sc->first_unfinished;
	err = scan_walk_all(sc);
	if (err != 0) {
		return err;
	}
	if (!sc->res->corrupt) {
		scan_fill_end(sc);
	} else {
		unsigned c = sc->res->corrupt_segment;
		sc->res->end_segment = c;
		sc->res->end_position = d->segments[c].end_position;
	}
	return 0;
}

static int scan_start(struct journal_dir *d, unsigned first, uint64_t first_base,
		      bool beside_router, journal_entry_fn *fn, void *ctx,
		      struct journal_scan_result *res)
{
	struct scan sc = {
		.d = d,
		.fn = fn,
		.ctx = ctx,
		.res = res,
		.last_data = -1,
		.first = first,
		.first_base = first_base,
		.beside_router = beside_router,
	};
	int err;

	memset(res, 0, sizeof(*res));
	res->end_segment = d->count;
	for (unsigned i = first; i < d->count; i++) {
		d->segments[i].end_position = d->segments[i].base_position;
		d->segments[i].entries = 0;
	}
	if (first >= d->count) {
		return 0;
	}
	sc.dfd = open(d->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sc.dfd < 0) {
		return -errno;
	}
	sc.segs = calloc(d->count, sizeof(*sc.segs));
	if (sc.segs == NULL) {
		err = -ENOMEM;
		goto out_close_dir;
	}
	sc.rd.buf = malloc(SCAN_BUF_BYTES);
	if (sc.rd.buf == NULL) {
		err = -ENOMEM;
		goto out_free_segs;
	}
	err = scan_run(&sc);
	free(sc.rd.buf);
out_free_segs:
	free(sc.segs);
out_close_dir:
	(void)close(sc.dfd);
	return err;
}

int journal_scan(struct journal_dir *d, journal_entry_fn *fn, void *ctx,
		 struct journal_scan_result *res)
{
	return scan_start(d, 0, 0, true, fn, ctx, res);
}

int journal_scan_from(struct journal_dir *d, unsigned first, uint64_t first_base,
		      journal_entry_fn *fn, void *ctx, struct journal_scan_result *res)
{
	return scan_start(d, first, first_base, false, fn, ctx, res);
}
