/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The recovery scan over journals built in a temporary directory by a small test writer
 * (segments assembled in memory with the format functions, then written as files):
 * clean journals, torn tails at every byte of the last entry, corruption in the middle
 * and in older segments, gaps, unknown versions, unfinished and pre-created segments,
 * and recycled segments (version 2): stale entries of their earlier life after the data.
 */
#include "journal/scan.h"

#include "core/crc32c.h"
#include "core/wire.h"

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

#define SEG_SMALL (64u * 1024u)
#define SEGS_MAX 64
#define ENTRIES_MAX 8192

/* ---- the test writer ---- */

struct tseg {
	uint8_t *buf; /* the whole file, segment_bytes long */
	uint64_t base;
	uint64_t bytes;
	uint64_t used; /* positions used */
};

struct tjournal {
	char dir[64];
	uint64_t seg_bytes;
	uint32_t window;
	unsigned nsegs;
	struct tseg segs[SEGS_MAX];
	unsigned nentries;
	uint64_t pos[ENTRIES_MAX];   /* position of entry i */
	uint32_t bytes[ENTRIES_MAX]; /* its entry_bytes */
	unsigned seg_of[ENTRIES_MAX];
};

static void tj_init(struct tjournal *j, uint64_t seg_bytes, uint32_t window)
{
	memset(j, 0, sizeof(*j));
	strcpy(j->dir, "/tmp/sluice-scan-XXXXXX");
	assert_non_null(mkdtemp(j->dir));
	j->seg_bytes = seg_bytes;
	j->window = window;
}

static struct tseg *tj_add_segment_at(struct tjournal *j, uint64_t base)
{
	assert_true(j->nsegs < SEGS_MAX);
	struct tseg *s = &j->segs[j->nsegs++];
	s->buf = calloc(1, j->seg_bytes);
	assert_non_null(s->buf);
	s->base = base;
	s->bytes = j->seg_bytes;
	s->used = 0;
	journal_segment_header_encode(s->buf, 1, base, j->seg_bytes, 1700000000000000000ull,
				      j->window, false);
	return s;
}

static struct tseg *tj_add_segment(struct tjournal *j)
{
	uint64_t base = 0;

	if (j->nsegs > 0) {
		struct tseg *prev = &j->segs[j->nsegs - 1];
		base = prev->base + prev->bytes - JOURNAL_BLOCK_BYTES;
	}
	return tj_add_segment_at(j, base);
}

/* Appends entry number i (size varies with i and value_bytes) to the last segment, rolling
 * to a new one when it does not fit. */
static void tj_put(struct tjournal *j, const uint8_t *body, uint32_t body_len, unsigned records);

static void tj_append(struct tjournal *j, uint32_t value_bytes)
{
	uint8_t body[8192];
	unsigned i = j->nentries;
	unsigned records = 1 + i % 3;
	uint32_t body_len = 0;

	assert_true(i < ENTRIES_MAX);
	for (unsigned r = 0; r < records; r++) {
		uint32_t vlen = value_bytes / records + (i % 7);
		uint32_t rb = wire_record_bytes(4, vlen);
		assert_true(body_len + rb <= sizeof(body));
		uint8_t *p = body + body_len;
		memset(p, 0, rb);
		wire_put_u32(p, vlen);
		wire_put_u16(p + 4, 4);
		wire_put_u64(p + 8, 5000 + i);
		memcpy(p + 16, "key", 3);
		p[19] = (uint8_t)('0' + r);
		memset(p + 20, 'a' + (int)(i % 26), vlen);
		body_len += rb;
	}
	tj_put(j, body, body_len, records);
}

/* Appends entry number nentries with this body, rolling to a new segment when it does not
 * fit in the last one. */
static void tj_put(struct tjournal *j, const uint8_t *body, uint32_t body_len, unsigned records)
{
	uint8_t entry[JOURNAL_ENTRY_BYTES_MAX];
	struct journal_entry_header h;
	unsigned i = j->nentries;

	memset(&h, 0, sizeof(h));
	h.base_offset = i * 10ull;
	h.producer_id = 42;
	h.sequence = i;
	h.append_ns = 1700000000000000000ull + i;
	h.partition = i % 4;
	h.record_count = (uint16_t)records;
	h.topic_len = 5;
	uint32_t need = journal_entry_bytes(h.topic_len, body_len);
	if (j->nsegs == 0 ||
	    j->segs[j->nsegs - 1].used + need > j->seg_bytes - JOURNAL_BLOCK_BYTES) {
		(void)tj_add_segment(j);
	}
	struct tseg *s = &j->segs[j->nsegs - 1];
	h.position = s->base + s->used;
	uint32_t n = journal_entry_encode(entry, &h, (const uint8_t *)"topic", body, body_len);
	assert_int_equal(n, need);
	memcpy(s->buf + JOURNAL_BLOCK_BYTES + s->used, entry, n);
	j->pos[i] = h.position;
	j->bytes[i] = n;
	j->seg_of[i] = j->nsegs - 1;
	s->used += n;
	j->nentries++;
}

static void tj_append_n(struct tjournal *j, unsigned n, uint32_t value_bytes)
{
	for (unsigned i = 0; i < n; i++) {
		tj_append(j, value_bytes);
	}
}

static void tj_path(const struct tjournal *j, uint64_t base, char *out, size_t cap)
{
	char name[JOURNAL_SEGMENT_NAME_BYTES];

	(void)snprintf(name, sizeof(name), JOURNAL_SEGMENT_NAME_FORMAT, (unsigned long long)base);
	(void)snprintf(out, cap, "%s/%s", j->dir, name);
}

/* Writes the first `len` bytes of segment k's image to a file named by base. */
static void tj_write_bytes(const struct tjournal *j, unsigned k, uint64_t name_base,
			   const uint8_t *buf, uint64_t len)
{
	char path[128];

	tj_path(j, name_base, path, sizeof(path));
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
	(void)k;
}

/* Appends one entry of exactly `bytes` (a multiple of 8, at least 96): one record whose
 * value fills it. */
static void tj_append_bytes(struct tjournal *j, uint32_t bytes)
{
	uint8_t body[8192];
	uint32_t body_len = bytes - journal_entry_bytes(5, 0);
	uint32_t vlen = body_len - SL_WIRE_RECORD_HEADER_BYTES - 4;

	assert_true(bytes % 8 == 0 && bytes >= 96 && body_len <= sizeof(body));
	assert_int_equal(wire_record_bytes(4, vlen), body_len);
	memset(body, 0, body_len);
	wire_put_u32(body, vlen);
	wire_put_u16(body + 4, 4);
	wire_put_u64(body + 8, 5000 + j->nentries);
	memcpy(body + 16, "key0", 4);
	memset(body + 20, 'v', vlen);
	tj_put(j, body, body_len, 1);
}

/* Appends entries until the last segment's data ends exactly at a block boundary. */
static void tj_fill_to_block(struct tjournal *j)
{
	struct tseg *s = &j->segs[j->nsegs - 1];
	uint32_t left = (uint32_t)(JOURNAL_BLOCK_BYTES - s->used % JOURNAL_BLOCK_BYTES);

	if (left < 96) {
		tj_append_bytes(j, 96);
		left = (uint32_t)(JOURNAL_BLOCK_BYTES - s->used % JOURNAL_BLOCK_BYTES);
	}
	tj_append_bytes(j, left);
	assert_int_equal(s->used % JOURNAL_BLOCK_BYTES, 0);
}

/* Adds a segment at the next base made from segment k's image (its entries become stale)
 * with a recycled header: what the writer makes of a spare. */
static struct tseg *tj_add_recycled(struct tjournal *j, unsigned k)
{
	struct tseg *s = tj_add_segment(j);

	memcpy(s->buf + JOURNAL_BLOCK_BYTES, j->segs[k].buf + JOURNAL_BLOCK_BYTES,
	       j->seg_bytes - JOURNAL_BLOCK_BYTES);
	journal_segment_header_encode(s->buf, 1, s->base, j->seg_bytes, 1700000000000000000ull,
				      j->window, true);
	return s;
}

/* Zeroes the last segment from its data end to the end of that block: the padding of the
 * writer's last write. With `terminate`, also a whole zero header there: what the writer
 * writes when it rolls away from a recycled segment. */
static void tj_pad(struct tjournal *j, bool terminate)
{
	struct tseg *s = &j->segs[j->nsegs - 1];
	uint64_t off = JOURNAL_BLOCK_BYTES + s->used;
	uint64_t end = (off + JOURNAL_BLOCK_BYTES - 1) & ~(uint64_t)(JOURNAL_BLOCK_BYTES - 1);

	if (terminate && end < off + JOURNAL_ENTRY_HEADER_BYTES) {
		end = off + JOURNAL_ENTRY_HEADER_BYTES;
	}
	memset(s->buf + off, 0, end - off);
}

/* Writes segments [from, nsegs): the older ones were removed by retention. */
static void tj_write_from(const struct tjournal *j, unsigned from)
{
	for (unsigned k = from; k < j->nsegs; k++) {
		tj_write_bytes(j, k, j->segs[k].base, j->segs[k].buf, j->segs[k].bytes);
	}
}

static void tj_write(const struct tjournal *j)
{
	for (unsigned k = 0; k < j->nsegs; k++) {
		tj_write_bytes(j, k, j->segs[k].base, j->segs[k].buf, j->segs[k].bytes);
	}
}

static void tj_fini(struct tjournal *j)
{
	char cmd[128];

	for (unsigned k = 0; k < j->nsegs; k++) {
		free(j->segs[k].buf);
	}
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", j->dir);
	assert_int_equal(system(cmd), 0);
}

/* File bytes of entry i in its segment's image. */
static uint8_t *tj_entry(struct tjournal *j, unsigned i)
{
	struct tseg *s = &j->segs[j->seg_of[i]];

	return s->buf + JOURNAL_BLOCK_BYTES + (j->pos[i] - s->base);
}

/* ---- scanning ---- */

struct seen {
	unsigned n;
	unsigned stop_at; /* return 7 at this call (0: never) */
	/* Called once after the hook_at-th entry (0: never): retention acting mid-scan. */
	unsigned hook_at;
	void (*hook)(void *arg);
	void *hook_arg;
	uint64_t pos[ENTRIES_MAX];
	unsigned seg[ENTRIES_MAX];
};

static int collect(void *ctx, const struct journal_entry *e, unsigned segment)
{
	struct seen *s = ctx;

	assert_true(s->n < ENTRIES_MAX);
	s->pos[s->n] = e->hdr.position;
	s->seg[s->n] = segment;
	s->n++;
	if (s->hook_at != 0 && s->n == s->hook_at) {
		s->hook(s->hook_arg);
	}
	if (s->stop_at != 0 && s->n == s->stop_at) {
		return 7;
	}
	return 0;
}

static int scan_dir(const char *dir, struct seen *seen, struct journal_scan_result *res,
		    struct journal_dir *d)
{
	assert_int_equal(journal_dir_list(dir, d), 0);
	if (seen != NULL) {
		seen->n = 0;
	}
	return journal_scan(d, collect, seen, res);
}

/* Scans j's directory and checks that entries [0, n) were delivered in order. */
static void scan_expect(struct tjournal *j, unsigned n, struct seen *seen,
			struct journal_scan_result *res)
{
	struct journal_dir d;

	assert_int_equal(scan_dir(j->dir, seen, res, &d), 0);
	assert_int_equal(seen->n, n);
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(seen->pos[i], j->pos[i]);
		assert_int_equal(seen->seg[i], j->seg_of[i]);
	}
	assert_int_equal(res->entries, n);
	journal_dir_free(&d);
}

/* Scans j's directory, whose oldest `gone` segments retention removed, and checks that
 * entries [first, n) were delivered in order and nothing was cut or refused. */
static void scan_expect_from(struct tjournal *j, unsigned gone, unsigned first, unsigned n,
			     struct seen *seen, struct journal_scan_result *res)
{
	struct journal_dir d;

	assert_int_equal(scan_dir(j->dir, seen, res, &d), 0);
	assert_int_equal(seen->n, n - first);
	for (unsigned i = first; i < n; i++) {
		assert_int_equal(seen->pos[i - first], j->pos[i]);
		assert_int_equal(seen->seg[i - first], j->seg_of[i] - gone);
	}
	journal_dir_free(&d);
}

static struct seen *seen_new(void)
{
	struct seen *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	return s;
}

static struct tjournal *tj_new(uint64_t seg_bytes, uint32_t window)
{
	struct tjournal *j = malloc(sizeof(*j));

	assert_non_null(j);
	tj_init(j, seg_bytes, window);
	return j;
}

static void tj_free(struct tjournal *j)
{
	tj_fini(j);
	free(j);
}

/* ---- tests ---- */

static void test_journal_dir_list_missing_and_not_dir(void **state)
{
	struct journal_dir d;
	(void)state;

	assert_int_equal(journal_dir_list("/nonexistent/sluice/journal", &d), -ENOENT);
	assert_int_equal(journal_dir_list("/proc/self/status", &d), -ENOTDIR);
}

static void test_journal_dir_list_sorts_and_ignores_other_names(void **state)
{
	struct tjournal *j = tj_new(SEG_SMALL, 4096);
	struct journal_dir d;
	char path[160];
	(void)state;

	tj_append_n(j, 300, 600);
	assert_true(j->nsegs >= 3);
	tj_write(j);
	(void)snprintf(path, sizeof(path), "%s/notes.txt", j->dir);
	int fd = open(path, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(close(fd), 0);
	(void)snprintf(path, sizeof(path), "%s/00000000000000000000.seg.tmp", j->dir);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(close(fd), 0);

	assert_int_equal(journal_dir_list(j->dir, &d), 0);
	assert_int_equal(d.count, j->nsegs);
	for (unsigned k = 0; k < d.count; k++) {
		assert_int_equal(d.segments[k].base_position, j->segs[k].base);
		assert_int_equal(d.segments[k].file_bytes, SEG_SMALL);
	}
	journal_dir_free(&d);
	tj_free(j);
}

static void test_journal_scan_empty_dir(void **state)
{
	struct tjournal *j = tj_new(SEG_SMALL, 4096);
	struct journal_scan_result res;
	struct seen *seen = seen_new();
	(void)state;

	scan_expect(j, 0, seen, &res);
	assert_int_equal(res.end_segment, 0);
	assert_int_equal(res.end_position, 0);
	assert_false(res.torn);
	assert_false(res.corrupt);
	assert_string_equal(res.message, "");
	free(seen);
	tj_free(j);
}

static void test_journal_scan_segments_in_order(void **state)
{
	struct tjournal *j = tj_new(SEG_SMALL, 4096);
	struct journal_scan_result res;
	struct journal_dir d;
	struct seen *seen = seen_new();
	(void)state;

	tj_append_n(j, 400, 500);
	assert_true(j->nsegs >= 4);
	tj_write(j);
	scan_expect(j, j->nentries, seen, &res);
	assert_false(res.torn);
	assert_false(res.corrupt);
	assert_int_equal(res.unfinished_segments, 0);
	assert_int_equal(res.end_segment, j->nsegs - 1);
	struct tseg *last = &j->segs[j->nsegs - 1];
	assert_int_equal(res.end_position, last->base + last->used);

	assert_int_equal(scan_dir(j->dir, seen, &res, &d), 0);
	uint64_t sum = 0;
	for (unsigned k = 0; k < d.count; k++) {
		assert_int_equal(d.segments[k].end_position, j->segs[k].base + j->segs[k].used);
		assert_int_equal(d.segments[k].capacity, SEG_SMALL - JOURNAL_BLOCK_BYTES);
		sum += d.segments[k].entries;
	}
	assert_int_equal(sum, j->nentries);
	journal_dir_free(&d);
	free(seen);
	tj_free(j);
}

static void test_journal_scan_large_segment_across_reads(void **state)
{
	struct tjournal *j = tj_new(4u << 20, 1u << 20);
	struct journal_scan_result res;
	struct seen *seen = seen_new();
	(void)state;

	/* Entries of ~3-8 KiB: many straddle the 1 MiB read boundaries. */
	for (unsigned i = 0; i < 700; i++) {
		tj_append(j, 3000 + (i * 37) % 5000);
	}
	assert_int_equal(j->nsegs, 1);
	tj_write(j);
	scan_expect(j, j->nentries, seen, &res);
	assert_false(res.torn);
	assert_false(res.corrupt);
	assert_int_equal(res.end_position, j->segs[0].used);
	free(seen);
	tj_free(j);
}

static void test_journal_scan_torn_tail_at_every_byte(void **state)
{
	struct tjournal *j = tj_new(SEG_SMALL, 64 * 1024);
	struct journal_scan_result res;
	struct seen *seen = seen_new();
	(void)state;

	tj_append_n(j, 150, 400);
	unsigned last = j->nentries - 1;
	unsigned k = j->seg_of[last];
	assert_true(k > 0);
	tj_write(j);
	uint8_t *entry = tj_entry(j, last);
	uint32_t len = j->bytes[last];
	uint8_t *saved = malloc(len);
	assert_non_null(saved);
	memcpy(saved, entry, len);

	/* The write of the last entry stopped after `cut` bytes. */
	for (uint32_t cut = 0; cut < len; cut++) {
		memcpy(entry, saved, len);
		memset(entry + cut, 0, len - cut);
		tj_write_bytes(j, k, j->segs[k].base, j->segs[k].buf, j->segs[k].bytes);
		if (memcmp(entry, saved, len) == 0) {
			continue; /* only zero padding was missing: the entry is whole */
		}
		scan_expect(j, last, seen, &res);
		assert_false(res.corrupt);
		assert_int_equal(res.end_position, j->pos[last]);
		assert_int_equal(res.end_segment, k);
		uint32_t nz = 0;
		for (uint32_t b = 0; b < cut; b++) {
			if (saved[b] != 0) {
				nz = b + 1;
			}
		}
		if (nz == 0) {
			assert_false(res.torn); /* nothing of it landed: a clean end */
			continue;
		}
		assert_true(res.torn);
		assert_int_equal(res.torn_position, j->pos[last]);
		assert_int_equal(res.torn_bytes, nz);
		assert_non_null(strstr(res.message, "torn tail"));
	}
	/* One byte of the last entry changed. */
	for (uint32_t b = 0; b < len; b++) {
		memcpy(entry, saved, len);
		entry[b] ^= 0x5a;
		tj_write_bytes(j, k, j->segs[k].base, j->segs[k].buf, j->segs[k].bytes);
		scan_expect(j, last, seen, &res);
		assert_false(res.corrupt);
		assert_true(res.torn);
		assert_int_equal(res.torn_position, j->pos[last]);
		assert_int_equal(res.end_position, j->pos[last]);
	}
	/* The file itself cut short inside the last entry. */
	memcpy(entry, saved, len);
	uint64_t file_len = JOURNAL_BLOCK_BYTES + (j->pos[last] - j->segs[k].base) + len / 2;
	tj_write_bytes(j, k, j->segs[k].base, j->segs[k].buf, file_len);
	scan_expect(j, last, seen, &res);
	assert_true(res.torn);
	assert_int_equal(res.torn_reason, JOURNAL_REJECT_TRUNCATED);
	free(saved);
	free(seen);
	tj_free(j);
}

static void test_journal_scan_bad_crc_far_from_end_is_corrupt(void **state)
{
	struct tjournal *j = tj_new(1u << 20, 4096);
	struct journal_scan_result res;
	struct seen *seen = seen_new();
	(void)state;

	tj_append_n(j, 300, 500);
	assert_int_equal(j->nsegs, 1);
	unsigned bad = 100;
	tj_entry(j, bad)[JOURNAL_ENTRY_HEADER_BYTES + 20] ^= 1;
	tj_write(j);
	scan_expect(j, bad, seen, &res);
	assert_true(res.corrupt);
	assert_false(res.torn);
	assert_int_equal(res.corrupt_segment, 0);
	assert_int_equal(res.corrupt_position, j->pos[bad]);
	assert_int_equal(res.corrupt_reason, JOURNAL_REJECT_BAD_CRC);
	assert_non_null(strstr(res.message, "00000000000000000000.seg: bad crc at position"));
	assert_non_null(strstr(res.message, "the journal is corrupt"));
	free(seen);
	tj_free(j);
}

static void test_journal_scan_bad_crc_within_window_is_torn(void **state)
{
	struct tjournal *j = tj_new(1u << 20, 512 * 1024);
	struct journal_scan_result res;
	struct seen *seen = seen_new();
	(void)state;

	/* A crash with writes in flight: an earlier write lost, later ones landed. */
	tj_append_n(j, 300, 500);
	unsigned bad = 280;
	memset(tj_entry(j, bad), 0, j->bytes[bad]);
	tj_write(j);
	scan_expect(j, bad, seen, &res);
	assert_false(res.corrupt);
	assert_true(res.torn);
	assert_int_equal(res.torn_position, j->pos[bad]);
	assert_int_equal(res.torn_reason, JOURNAL_REJECT_ZERO);
	uint64_t end = j->pos[j->nentries - 1] + j->bytes[j->nentries - 1];
	assert_true(res.torn_bytes <= end - j->pos[bad]);
	assert_true(res.torn_bytes > end - j->pos[bad] - 64);
	free(seen);
	tj_free(j);
}

static void test_journal_scan_zero_entry_in_old_segment_is_corrupt(void **state)
{
	struct tjournal *j = tj_new(SEG_SMALL, 1u << 20);
	struct journal_scan_result res;
	struct seen *seen = seen_new();
	(void)state;

	tj_append_n(j, 300, 500);
	assert_true(j->nsegs >= 3);
	unsigned bad = 5; /* in segment 0 */
	memset(tj_entry(j, bad), 0, j->bytes[bad]);
	tj_write(j);
	scan_expect(j, bad, seen, &res);
	assert_true(res.corrupt);
	assert_int_equal(res.corrupt_segment, 0);
	assert_int_equal(res.corrupt_position, j->pos[bad]);
	free(seen);
	tj_free(j);
}

static void test_journal_scan_damage_in_older_segment_is_corrupt(void **state)
{
	struct tjournal *j = tj_new(SEG_SMALL, 1u << 20);
	struct journal_scan_result res;
	struct seen *seen = seen_new();
	(void)state;

	tj_append_n(j, 300, 500);
	assert_true(j->nsegs >= 3);
	/* The last entry of segment 1, which a newer segment follows. */
	unsigned bad = 0;
	for (unsigned i = 0; i < j->nentries; i++) {
		if (j->seg_of[i] == 1) {
			bad = i;
		}
	}
	tj_entry(j, bad)[j->bytes[bad] - 1] ^= 0xff;
	tj_write(j);
	scan_expect(j, bad, seen, &res);
	assert_true(res.corrupt);
	assert_false(res.torn);
	assert_int_equal(res.corrupt_segment, 1);
	assert_int_equal(res.corrupt_position, j->pos[bad]);
	assert_int_equal(res.corrupt_reason, JOURNAL_REJECT_BAD_CRC);
	free(seen);
	tj_free(j);
}

static void test_journal_scan_gap_between_segments_is_corrupt(void **state)
{
	struct tjournal *j = tj_new(SEG_SMALL, 4096);
	struct journal_scan_result res;
	struct seen *seen = seen_new();
	(void)state;

	tj_append_n(j, 60, 500);
	assert_int_equal(j->nsegs, 1);
	unsigned first = j->nentries;
	(void)tj_add_segment_at(j, SEG_SMALL * 3);
	tj_append_n(j, 10, 500);
	tj_write(j);
	scan_expect(j, first, seen, &res);
	assert_true(res.corrupt);
	assert_int_equal(res.corrupt_segment, 1);
	assert_int_equal(res.corrupt_reason, JOURNAL_REJECT_BAD_POSITION);
	assert_non_null(strstr(res.message, "gap"));
	free(seen);
	tj_free(j);
}

static void test_journal_scan_header_base_mismatch_is_corrupt(void **state)
{
	struct tjournal *j = tj_new(SEG_SMALL, 4096);
	struct journal_scan_result res;
	struct seen *seen = seen_new();
	(void)state;

	tj_append_n(j, 10, 500);
	/* Named 4096 but its header says 0. */
	tj_write_bytes(j, 0, 4096, j->segs[0].buf, j->segs[0].bytes);
	scan_expect(j, 0, seen, &res);
	assert_true(res.corrupt);
	assert_int_equal(res.corrupt_reason, JOURNAL_REJECT_BAD_POSITION);
	free(seen);
	tj_free(j);
}

static void test_journal_scan_unknown_version_fails(void **state)
{
	struct tjournal *j = tj_new(SEG_SMALL, 4096);
	struct journal_scan_result res;
	struct journal_dir d;
	struct seen *seen = seen_new();
	(void)state;

	tj_append_n(j, 200, 500);
	assert_true(j->nsegs >= 2);
	uint8_t *hdr = j->segs[1].buf;
	uint16_t v = 7;
	uint32_t crc = 0;
	memcpy(hdr + offsetof(struct journal_segment_header, version), &v, 2);
	memcpy(hdr + offsetof(struct journal_segment_header, crc32c), &crc, 4);
	crc = crc32c_extend(0, hdr, sizeof(struct journal_segment_header));
	memcpy(hdr + offsetof(struct journal_segment_header, crc32c), &crc, 4);
	tj_write(j);
	assert_int_equal(scan_dir(j->dir, seen, &res, &d), -EPROTO);
	assert_int_equal(seen->n, 0); /* refused before anything was replayed */
	assert_non_null(strstr(res.message, "version 7"));
	assert_non_null(strstr(res.message, d.segments[1].name));
	journal_dir_free(&d);
	free(seen);
	tj_free(j);
}

static void test_journal_scan_unfinished_trailing_segment(void **state)
{
	struct tjournal *j = tj_new(SEG_SMALL, 4096);
	struct journal_scan_result res;
	struct seen *seen = seen_new();
	(void)state;

	tj_append_n(j, 40, 500);
	assert_int_equal(j->nsegs, 1);
	struct tseg *s = tj_add_segment(j);
	tj_write(j);
	/* Header never written (all zero), then a torn one (half of it). */
	uint8_t *zero = calloc(1, 2 * JOURNAL_BLOCK_BYTES);
	assert_non_null(zero);
	tj_write_bytes(j, 1, s->base, zero, 2 * JOURNAL_BLOCK_BYTES);
	scan_expect(j, j->nentries, seen, &res);
	assert_false(res.corrupt);
	assert_false(res.torn);
	assert_int_equal(res.unfinished_segments, 1);
	assert_int_equal(res.end_segment, 0);
	assert_int_equal(res.end_position, j->segs[0].used);

	memcpy(zero, s->buf, 32);
	tj_write_bytes(j, 1, s->base, zero, JOURNAL_BLOCK_BYTES);
	scan_expect(j, j->nentries, seen, &res);
	assert_false(res.corrupt);
	assert_int_equal(res.unfinished_segments, 1);

	/* A torn header with data after it is damage, not an unfinished creation. */
	memset(zero + JOURNAL_BLOCK_BYTES, 0x11, 64);
	tj_write_bytes(j, 1, s->base, zero, 2 * JOURNAL_BLOCK_BYTES);
	scan_expect(j, j->nentries, seen, &res);
	assert_true(res.corrupt);
	assert_int_equal(res.corrupt_segment, 1);
	assert_int_equal(res.corrupt_reason, JOURNAL_REJECT_BAD_CRC);
	free(zero);
	free(seen);
	tj_free(j);
}

static void test_journal_scan_precreated_segment_holds_nothing(void **state)
{
	struct tjournal *j = tj_new(SEG_SMALL, 4096);
	struct journal_scan_result res;
	struct seen *seen = seen_new();
	(void)state;

	tj_append_n(j, 40, 500);
	(void)tj_add_segment(j);
	tj_write(j);
	scan_expect(j, j->nentries, seen, &res);
	assert_false(res.corrupt);
	assert_false(res.torn);
	assert_int_equal(res.unfinished_segments, 0);
	assert_int_equal(res.end_segment, 0);
	assert_int_equal(res.end_position, j->segs[0].used);
	free(seen);
	tj_free(j);
}

static void test_journal_scan_only_empty_segments(void **state)
{
	struct tjournal *j = tj_new(SEG_SMALL, 4096);
	struct journal_scan_result res;
	struct seen *seen = seen_new();
	(void)state;

	(void)tj_add_segment_at(j, 8192);
	(void)tj_add_segment(j);
	tj_write(j);
	scan_expect(j, 0, seen, &res);
	assert_false(res.corrupt);
	assert_int_equal(res.end_segment, 0);
	assert_int_equal(res.end_position, 8192);
	free(seen);
	tj_free(j);
}

static void test_journal_scan_first_write_of_new_segment_lost(void **state)
{
	struct tjournal *j = tj_new(SEG_SMALL, 32 * 1024);
	struct journal_scan_result res;
	struct seen *seen = seen_new();
	(void)state;

	/* Segment 1's first entries never landed but a later one, within the window, did. */
	tj_append_n(j, 40, 500);
	unsigned first = j->nentries;
	(void)tj_add_segment(j);
	tj_append_n(j, 20, 500);
	struct tseg *s = &j->segs[1];
	memset(s->buf + JOURNAL_BLOCK_BYTES, 0, JOURNAL_BLOCK_BYTES + 512);
	tj_write(j);
	scan_expect(j, first, seen, &res);
	assert_false(res.corrupt);
	assert_true(res.torn);
	assert_int_equal(res.end_segment, 1);
	assert_int_equal(res.torn_position, s->base);
	uint64_t nz = 0;
	for (uint64_t b = 0; b < s->used; b++) {
		if (s->buf[JOURNAL_BLOCK_BYTES + b] != 0) {
			nz = b + 1;
		}
	}
	assert_int_equal(res.torn_bytes, nz);
	free(seen);
	tj_free(j);
}

static void test_journal_scan_oldest_segment_deleted_after_listing(void **state)
{
	struct tjournal *j = tj_new(SEG_SMALL, 4096);
	struct journal_scan_result res;
	struct journal_dir d;
	struct seen *seen = seen_new();
	char path[128];
	(void)state;

	tj_append_n(j, 300, 500);
	assert_true(j->nsegs >= 3);
	tj_write(j);
	assert_int_equal(journal_dir_list(j->dir, &d), 0);
	unsigned listed = d.count;
	/* Retention removes the two oldest segments while a tool reads. */
	tj_path(j, j->segs[0].base, path, sizeof(path));
	assert_int_equal(unlink(path), 0);
	tj_path(j, j->segs[1].base, path, sizeof(path));
	assert_int_equal(unlink(path), 0);
	assert_int_equal(journal_scan(&d, collect, seen, &res), 0);
	assert_int_equal(d.count, listed - 2);
	assert_int_equal(d.segments[0].base_position, j->segs[2].base);
	assert_false(res.corrupt);
	assert_false(res.torn);
	unsigned first = 0;
	while (j->seg_of[first] < 2) {
		first++;
	}
	assert_int_equal(seen->n, j->nentries - first);
	assert_int_equal(seen->pos[0], j->pos[first]);
	assert_int_equal(seen->seg[0], 0);
	journal_dir_free(&d);
	free(seen);
	tj_free(j);
}

/* What retention does to the oldest segments in the hooks below. */
struct tj_removal {
	struct tjournal *j;
	unsigned count;	       /* segments [0, count) go, oldest first */
	bool recycle;	       /* renamed to spares (else unlinked) */
	uint64_t overwrite_at; /* recycle: the writer then overwrites segment 0 from here */
	uint8_t fill;	       /* with this byte */
};

static void tj_remove_oldest(void *arg)
{
	struct tj_removal *r = arg;
	char path[128];
	char spare[160];

	for (unsigned k = 0; k < r->count; k++) {
		tj_path(r->j, r->j->segs[k].base, path, sizeof(path));
		if (!r->recycle) {
			assert_int_equal(unlink(path), 0);
			continue;
		}
		(void)snprintf(spare, sizeof(spare), "%s/" JOURNAL_SPARE_NAME_FORMAT, r->j->dir,
			       (unsigned long long)r->j->segs[k].base);
		assert_int_equal(rename(path, spare), 0);
		if (k > 0) {
			continue;
		}
		/* The writer reuses the spare: new bytes over what the scan has yet to read. */
		uint64_t len = r->j->seg_bytes - r->overwrite_at;
		uint8_t *junk = malloc(len);
		assert_non_null(junk);
		memset(junk, r->fill, len);
		int fd = open(spare, O_WRONLY);
		assert_true(fd >= 0);
		assert_int_equal(pwrite(fd, junk, len, (off_t)r->overwrite_at), (ssize_t)len);
		assert_int_equal(close(fd), 0);
		free(junk);
	}
}

/* First entry of segment k. */
static unsigned tj_first_of(const struct tjournal *j, unsigned k)
{
	unsigned i = 0;

	while (j->seg_of[i] < k) {
		i++;
	}
	return i;
}

static void test_journal_scan_segments_removed_between_passes_are_skipped(void **state)
{
	struct tjournal *j = tj_new(SEG_SMALL, 4096);
	struct journal_scan_result res;
	struct journal_dir d;
	struct seen *seen = seen_new();
	(void)state;

	tj_append_n(j, 400, 500);
	assert_true(j->nsegs >= 5);
	tj_write(j);
	assert_int_equal(journal_dir_list(j->dir, &d), 0);
	/* Every header was probed; while the scan reads segment 0's entries retention
	 * unlinks segments 0..2: the reads of 1 and 2 find them gone. */
	struct tj_removal r = {.j = j, .count = 3};
	seen->hook_at = 1;
	seen->hook = tj_remove_oldest;
	seen->hook_arg = &r;
	assert_int_equal(journal_scan(&d, collect, seen, &res), 0);
	assert_false(res.corrupt);
	assert_false(res.torn);
	assert_string_equal(res.message, "");
	assert_int_equal(res.removed_segments, 3);
	char name[JOURNAL_SEGMENT_NAME_BYTES];
	(void)snprintf(name, sizeof(name), JOURNAL_SEGMENT_NAME_FORMAT,
		       (unsigned long long)j->segs[2].base);
	assert_string_equal(res.removed_last, name);
	assert_int_equal(d.count, j->nsegs - 3);
	assert_int_equal(d.segments[0].base_position, j->segs[3].base);
	/* Segment 0 was read whole before it went; then segments 3.. with their new
	 * indexes. */
	unsigned first0 = tj_first_of(j, 1);
	unsigned first3 = tj_first_of(j, 3);
	assert_int_equal(seen->n, first0 + j->nentries - first3);
	for (unsigned i = 0; i < first0; i++) {
		assert_int_equal(seen->pos[i], j->pos[i]);
	}
	for (unsigned i = first3; i < j->nentries; i++) {
		assert_int_equal(seen->pos[first0 + i - first3], j->pos[i]);
		assert_int_equal(seen->seg[first0 + i - first3], j->seg_of[i] - 3);
	}
	assert_int_equal(res.end_segment, d.count - 1);
	struct tseg *last = &j->segs[j->nsegs - 1];
	assert_int_equal(res.end_position, last->base + last->used);
	journal_dir_free(&d);
	free(seen);
	tj_free(j);
}

/* Segment 0 (4 MiB) renamed to a spare while the scan reads it, and overwritten by the
 * writer past the scan's first 1 MiB read with `fill`: zeros (reads as a clean end) or
 * other bytes (reads as damage). Either way: skipped, what was delivered is exact. */
static void scan_recycled_midway(uint8_t fill)
{
	struct tjournal *j = tj_new(4u << 20, 1u << 20);
	struct journal_scan_result res;
	struct journal_dir d;
	struct seen *seen = seen_new();

	for (unsigned i = 0; j->nsegs < 3; i++) {
		tj_append(j, 3000 + (i * 37) % 5000);
	}
	tj_write(j);
	assert_int_equal(journal_dir_list(j->dir, &d), 0);
	struct tj_removal r = {
		.j = j, .count = 1, .recycle = true, .overwrite_at = 2u << 20, .fill = fill};
	seen->hook_at = 1;
	seen->hook = tj_remove_oldest;
	seen->hook_arg = &r;
	assert_int_equal(journal_scan(&d, collect, seen, &res), 0);
	assert_false(res.corrupt);
	assert_false(res.torn);
	assert_string_equal(res.message, "");
	assert_int_equal(res.removed_segments, 1);
	assert_int_equal(d.count, j->nsegs - 1);
	/* A prefix of segment 0 (at least its first read), then every later entry. */
	unsigned first1 = tj_first_of(j, 1);
	unsigned got0 = seen->n - (j->nentries - first1);
	assert_true(got0 > 0 && got0 < first1);
	for (unsigned i = 0; i < got0; i++) {
		assert_int_equal(seen->pos[i], j->pos[i]);
		assert_true(j->pos[i] + j->bytes[i] <= (2u << 20) - JOURNAL_BLOCK_BYTES);
	}
	for (unsigned i = first1; i < j->nentries; i++) {
		assert_int_equal(seen->pos[got0 + i - first1], j->pos[i]);
		assert_int_equal(seen->seg[got0 + i - first1], j->seg_of[i] - 1);
	}
	journal_dir_free(&d);
	free(seen);
	tj_free(j);
}

static void test_journal_scan_segment_recycled_midway_zeros_is_skipped(void **state)
{
	(void)state;
	scan_recycled_midway(0);
}

static void test_journal_scan_segment_recycled_midway_junk_is_skipped(void **state)
{
	(void)state;
	scan_recycled_midway(0xab);
}

static void test_journal_scan_from_missing_segment_is_an_error(void **state)
{
	struct tjournal *j = tj_new(SEG_SMALL, 4096);
	struct journal_scan_result res;
	struct journal_dir d;
	struct seen *seen = seen_new();
	(void)state;

	tj_append_n(j, 300, 500);
	assert_true(j->nsegs >= 3);
	tj_write(j);
	assert_int_equal(journal_dir_list(j->dir, &d), 0);
	/* Start-up holds the data directory's lock: nothing may remove a segment, so one
	 * gone is not skipped. */
	struct tj_removal r = {.j = j, .count = 2};
	seen->hook_at = 1;
	seen->hook = tj_remove_oldest;
	seen->hook_arg = &r;
	assert_int_equal(journal_scan_from(&d, 0, 0, collect, seen, &res), -ENOENT);
	assert_int_equal(res.removed_segments, 0);
	journal_dir_free(&d);
	free(seen);
	tj_free(j);
}

/* ---- recycled segments ---- */

/* Three zero-filled segments, the oldest removed; returns the first entry kept. Then a
 * recycled segment made from the removed one's image, full of stale entries. */
static unsigned tj_recycled_journal(struct tjournal *j)
{
	while (j->nsegs < 3) {
		tj_append(j, 500);
	}
	unsigned first = 0;
	while (j->seg_of[first] == 0) {
		first++;
	}
	(void)tj_add_recycled(j, 0);
	return first;
}

static void test_journal_scan_recycled_segment_ignores_stale_entries(void **state)
{
	struct tjournal *j = tj_new(SEG_SMALL, 8192);
	struct journal_scan_result res;
	struct seen *seen = seen_new();
	(void)state;

	unsigned first = tj_recycled_journal(j);
	tj_append_n(j, 5, 500); /* far shorter than the stale data after it */
	tj_pad(j, false);
	struct tseg *s = &j->segs[3];
	unsigned stale = 0;
	for (uint64_t off = JOURNAL_BLOCK_BYTES + s->used; off < s->bytes; off++) {
		stale += s->buf[off] != 0;
	}
	assert_true(stale > 1000);
	tj_write_from(j, 1);
	scan_expect_from(j, 1, first, j->nentries, seen, &res);
	assert_false(res.torn);
	assert_false(res.corrupt);
	assert_int_equal(res.end_segment, 2);
	assert_int_equal(res.end_position, s->base + s->used);
	free(seen);
	tj_free(j);
}

static void test_journal_scan_recycled_end_at_block_boundary_is_clean(void **state)
{
	struct tjournal *j = tj_new(SEG_SMALL, 8192);
	struct journal_scan_result res;
	struct seen *seen = seen_new();
	(void)state;

	unsigned first = tj_recycled_journal(j);
	tj_append_n(j, 3, 500);
	tj_fill_to_block(j);
	/* Stale bytes start right at the end of the data: no zero header there. */
	struct tseg *s = &j->segs[3];
	struct journal_entry e;
	assert_int_not_equal(journal_entry_decode(s->buf + JOURNAL_BLOCK_BYTES + s->used,
						  JOURNAL_ENTRY_BYTES_MAX, s->base + s->used, &e),
			     JOURNAL_REJECT_ZERO);
	tj_write_from(j, 1);
	scan_expect_from(j, 1, first, j->nentries, seen, &res);
	assert_false(res.torn);
	assert_false(res.corrupt);
	assert_int_equal(res.end_position, s->base + s->used);
	free(seen);
	tj_free(j);
}

static void test_journal_scan_recycled_torn_last_entry(void **state)
{
	struct tjournal *j = tj_new(SEG_SMALL, 8192);
	struct journal_scan_result res;
	struct seen *seen = seen_new();
	(void)state;

	unsigned first = tj_recycled_journal(j);
	tj_append_n(j, 5, 500);
	tj_pad(j, false);
	unsigned last = j->nentries - 1;
	tj_entry(j, last)[JOURNAL_ENTRY_HEADER_BYTES + 40] ^= 0x10; /* half-landed write */
	tj_write_from(j, 1);
	scan_expect_from(j, 1, first, last, seen, &res);
	assert_false(res.corrupt);
	assert_true(res.torn);
	assert_int_equal(res.torn_reason, JOURNAL_REJECT_BAD_CRC);
	assert_int_equal(res.torn_position, j->pos[last]);
	assert_int_equal(res.end_position, j->pos[last]);
	/* Cut through the write window, not through the stale rest of the segment. */
	assert_int_equal(res.torn_bytes, 8192 + JOURNAL_ENTRY_BYTES_MAX);
	free(seen);
	tj_free(j);
}

static void test_journal_scan_recycled_lost_write_is_torn(void **state)
{
	struct tjournal *j = tj_new(SEG_SMALL, 32 * 1024);
	struct journal_scan_result res;
	struct seen *seen = seen_new();
	(void)state;

	unsigned first = tj_recycled_journal(j);
	tj_append_n(j, 10, 500);
	tj_pad(j, false);
	/* The write of entry 7 never landed: its bytes are still the stale ones; 8 and 9
	 * did land. */
	unsigned lost = j->nentries - 3;
	uint64_t off = JOURNAL_BLOCK_BYTES + (j->pos[lost] - j->segs[3].base);
	memcpy(j->segs[3].buf + off, j->segs[0].buf + off, j->bytes[lost]);
	tj_write_from(j, 1);
	scan_expect_from(j, 1, first, lost, seen, &res);
	assert_false(res.corrupt);
	assert_true(res.torn);
	assert_int_equal(res.torn_position, j->pos[lost]);
	free(seen);
	tj_free(j);
}

static void test_journal_scan_recycled_segment_with_stale_only_holds_nothing(void **state)
{
	struct tjournal *j = tj_new(SEG_SMALL, 8192);
	struct journal_scan_result res;
	struct seen *seen = seen_new();
	(void)state;

	/* Made from a spare ahead of use, nothing appended yet: stale bytes only. */
	unsigned first = tj_recycled_journal(j);
	tj_write_from(j, 1);
	scan_expect_from(j, 1, first, j->nentries, seen, &res);
	assert_false(res.torn);
	assert_false(res.corrupt);
	assert_int_equal(res.unfinished_segments, 0);
	assert_int_equal(res.end_segment, 1); /* appending continues before it */
	assert_int_equal(res.end_position, j->segs[2].base + j->segs[2].used);
	free(seen);
	tj_free(j);
}

static void test_journal_scan_recycled_sealed_segment_needs_zero_header(void **state)
{
	(void)state;

	for (int terminated = 1; terminated >= 0; terminated--) {
		struct seen *seen = seen_new();
		struct tjournal *j = tj_new(SEG_SMALL, 8192);
		struct journal_scan_result res;
		struct journal_dir d;
		(void)tj_recycled_journal(j);
		tj_append_n(j, 3, 500);
		tj_fill_to_block(j);
		tj_pad(j, terminated != 0);
		(void)tj_add_recycled(j, 1);
		tj_append_n(j, 3, 500);
		tj_pad(j, false);
		tj_write_from(j, 2);
		assert_int_equal(scan_dir(j->dir, seen, &res, &d), 0);
		/* Without the writer's zero header, stale bytes after a sealed segment's
		 * data are indistinguishable from damage: corruption, never skipped. */
		assert_int_equal(res.corrupt, terminated == 0);
		assert_false(res.torn);
		journal_dir_free(&d);
		free(seen);
		tj_free(j);
	}
}

static void test_journal_scan_fn_nonzero_stops(void **state)
{
	struct tjournal *j = tj_new(SEG_SMALL, 4096);
	struct journal_scan_result res;
	struct journal_dir d;
	struct seen *seen = seen_new();
	(void)state;

	tj_append_n(j, 200, 500);
	tj_write(j);
	assert_int_equal(journal_dir_list(j->dir, &d), 0);
	seen->stop_at = 33;
	assert_int_equal(journal_scan(&d, collect, seen, &res), 7);
	assert_int_equal(seen->n, 33);
	/* Without a callback the scan only counts. */
	assert_int_equal(journal_scan(&d, NULL, NULL, &res), 0);
	assert_int_equal(res.entries, j->nentries);
	journal_dir_free(&d);
	free(seen);
	tj_free(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_journal_dir_list_missing_and_not_dir),
		cmocka_unit_test(test_journal_dir_list_sorts_and_ignores_other_names),
		cmocka_unit_test(test_journal_scan_empty_dir),
		cmocka_unit_test(test_journal_scan_segments_in_order),
		cmocka_unit_test(test_journal_scan_large_segment_across_reads),
		cmocka_unit_test(test_journal_scan_torn_tail_at_every_byte),
		cmocka_unit_test(test_journal_scan_bad_crc_far_from_end_is_corrupt),
		cmocka_unit_test(test_journal_scan_bad_crc_within_window_is_torn),
		cmocka_unit_test(test_journal_scan_zero_entry_in_old_segment_is_corrupt),
		cmocka_unit_test(test_journal_scan_damage_in_older_segment_is_corrupt),
		cmocka_unit_test(test_journal_scan_gap_between_segments_is_corrupt),
		cmocka_unit_test(test_journal_scan_header_base_mismatch_is_corrupt),
		cmocka_unit_test(test_journal_scan_unknown_version_fails),
		cmocka_unit_test(test_journal_scan_unfinished_trailing_segment),
		cmocka_unit_test(test_journal_scan_precreated_segment_holds_nothing),
		cmocka_unit_test(test_journal_scan_only_empty_segments),
		cmocka_unit_test(test_journal_scan_first_write_of_new_segment_lost),
		cmocka_unit_test(test_journal_scan_oldest_segment_deleted_after_listing),
		cmocka_unit_test(test_journal_scan_segments_removed_between_passes_are_skipped),
		cmocka_unit_test(test_journal_scan_segment_recycled_midway_zeros_is_skipped),
		cmocka_unit_test(test_journal_scan_segment_recycled_midway_junk_is_skipped),
		cmocka_unit_test(test_journal_scan_from_missing_segment_is_an_error),
		cmocka_unit_test(test_journal_scan_fn_nonzero_stops),
		cmocka_unit_test(test_journal_scan_recycled_segment_ignores_stale_entries),
		cmocka_unit_test(test_journal_scan_recycled_end_at_block_boundary_is_clean),
		cmocka_unit_test(test_journal_scan_recycled_torn_last_entry),
		cmocka_unit_test(test_journal_scan_recycled_lost_write_is_torn),
		cmocka_unit_test(test_journal_scan_recycled_segment_with_stale_only_holds_nothing),
		cmocka_unit_test(test_journal_scan_recycled_sealed_segment_needs_zero_header),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
