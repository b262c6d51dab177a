/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Segment indexes and the recovered state (journal/index.h, journal/state.h): the stream
 * rules one entry at a time, indexes built from generated journals checked against brute
 * force (parts, points, every seek by offset and by time), the stored form (round trip,
 * damage at every byte, unknown version), and start-up recovery from the newest index:
 * the same state as a full replay, missing and damaged indexes rebuilt and counted, and
 * old indexed segments not read at all.
 */
#include "journal/index.h"
#include "journal/journal.h"

#include "core/crc32c.h"
#include "core/wire.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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

#define GEN_ENTRIES_MAX 20000u
#define GEN_STREAMS 12u
#define GEN_WINDOW 8u
#define GEN_IDLE_NS 60000ull
#define GEN_T0_NS 1000000000ull

static const char *const gen_topics[] = {"orders", "clicks.eu"};
/* (topic, partition) of each of the 4 partitions the streams write to. */
static const unsigned gen_part_topic[] = {0, 0, 1, 1};
static const uint32_t gen_part_partition[] = {0, 1, 0, 2};

/* ---- Entries ---- */

struct gen_entry {
	struct journal_entry_header h;
	uint32_t value_len;
};

/* An entry of one record of value_len bytes, encoded into dst (room checked by caller). */
static uint32_t gen_encode(uint8_t *dst, const struct gen_entry *g)
{
	uint8_t body[4096];
	uint32_t body_len = (SL_WIRE_RECORD_HEADER_BYTES + g->value_len + 7u) & ~7u;
	const char *topic = gen_topics[gen_part_topic[g->h.partition % 4]];

	memset(body, 0, sizeof(body));
	memcpy(body, &g->value_len, sizeof(g->value_len));
	memset(body + SL_WIRE_RECORD_HEADER_BYTES, 0x5a, g->value_len);
	struct journal_entry_header h = g->h;
	h.topic_len = (uint8_t)strlen(topic);
	h.partition = gen_part_partition[g->h.partition % 4];
	h.record_count = 1;
	return journal_entry_encode(dst, &h, (const uint8_t *)topic, body, body_len);
}

/* A journal of segments assembled in memory, then written as files. */
struct gen {
	char root[64];
	char dir[128];
	uint64_t seg_bytes;
	uint8_t *seg; /* the segment being filled */
	uint64_t base;
	uint64_t pos;
	unsigned segments;
	unsigned n;
	uint64_t end_ns; /* append time of the last entry */
};

static void gen_flush(struct gen *g)
{
	char path[256];

	(void)snprintf(path, sizeof(path), "%s/" JOURNAL_SEGMENT_NAME_FORMAT, g->dir,
		       (unsigned long long)g->base);
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, g->seg, g->seg_bytes, 0), (ssize_t)g->seg_bytes);
	assert_int_equal(close(fd), 0);
	g->segments++;
}

static void gen_start_segment(struct gen *g)
{
	memset(g->seg, 0, g->seg_bytes);
	/* A window as large as any the tests' writer uses: appends continue in place. */
	journal_segment_header_encode(g->seg, 0, g->base, g->seg_bytes, 1, 1u << 24, false);
}

static void gen_add(struct gen *g, const struct gen_entry *e)
{
	uint8_t buf[JOURNAL_ENTRY_BYTES_MAX];
	uint64_t cap = g->seg_bytes - JOURNAL_BLOCK_BYTES;
	struct gen_entry x = *e;

	x.h.position = g->pos;
	uint32_t bytes = gen_encode(buf, &x);
	if (g->pos + bytes > g->base + cap) {
		gen_flush(g);
		g->base += cap;
		g->pos = g->base;
		x.h.position = g->pos;
		bytes = gen_encode(buf, &x);
		gen_start_segment(g);
	}
	memcpy(g->seg + journal_segment_offset(g->base, g->pos), buf, bytes);
	g->pos += bytes;
	g->n++;
	g->end_ns = e->h.append_ns;
}

static int gen_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static struct gen *gen_create(uint64_t seg_bytes)
{
	struct gen *g = calloc(1, sizeof(*g));

	assert_non_null(g);
	(void)snprintf(g->root, sizeof(g->root), "/tmp/sluice-index-XXXXXX");
	assert_non_null(mkdtemp(g->root));
	(void)snprintf(g->dir, sizeof(g->dir), "%s/shard-000", g->root);
	assert_int_equal(mkdir(g->dir, 0755), 0);
	g->seg_bytes = seg_bytes;
	g->seg = malloc(seg_bytes);
	assert_non_null(g->seg);
	gen_start_segment(g);
	return g;
}

static void gen_destroy(struct gen *g)
{
	(void)nftw(g->root, gen_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(g->seg);
	free(g);
}

/*
 * n entries from 12 streams (3 producers x 4 partitions) with the shard's behaviour:
 * mostly the next sequence, sometimes a stream head further on or a newer epoch, and now
 * and then a silence longer than the idle time. Values of 100..1600 bytes.
 */
static void gen_journal(struct gen *g, unsigned n)
{
	uint64_t next_seq[GEN_STREAMS] = {0};
	uint32_t epoch[GEN_STREAMS] = {0};
	uint64_t next_offset[4] = {0};
	uint64_t now = GEN_T0_NS;
	unsigned seed = 42;

	for (unsigned i = 0; i < n; i++) {
		unsigned s = (unsigned)rand_r(&seed) % GEN_STREAMS;
		unsigned part = s % 4;
		unsigned r = (unsigned)rand_r(&seed) % 100;
		if (r == 0) {
			epoch[s]++;
			next_seq[s] = (unsigned)rand_r(&seed) % 5;
		} else if (r < 4) {
			next_seq[s] += 1 + (unsigned)rand_r(&seed) % 4;
		}
		now += i % 211 == 0 ? 3 * GEN_IDLE_NS : 1000;
		struct gen_entry e = {
			.h = {.base_offset = next_offset[part],
			      .producer_id = 1 + s / 4,
			      .sequence = next_seq[s],
			      .append_ns = now,
			      .partition = part,
			      .producer_epoch = epoch[s]},
			.value_len = 100 + (unsigned)rand_r(&seed) % 1500,
		};
		gen_add(g, &e);
		next_seq[s]++;
		next_offset[part]++;
	}
	gen_flush(g);
}

static void gen_seg_path(const struct gen *g, uint64_t base, char *out, size_t len)
{
	(void)snprintf(out, len, "%s/" JOURNAL_SEGMENT_NAME_FORMAT, g->dir,
		       (unsigned long long)base);
}

/* ---- Brute force: every entry of the journal ---- */

struct seen_entry {
	uint64_t position;
	uint64_t base_offset;
	uint64_t append_ns;
	uint32_t bytes;
	uint32_t partition;
	unsigned segment;
	uint8_t topic_len;
	uint8_t topic[16];
};

struct seen {
	struct seen_entry e[GEN_ENTRIES_MAX];
	unsigned n;
	struct journal_state *st; /* when not NULL, every entry is applied */
};

static int seen_entry(void *ctx, const struct journal_entry *e, unsigned segment)
{
	struct seen *s = ctx;

	assert_true(s->n < GEN_ENTRIES_MAX);
	struct seen_entry *x = &s->e[s->n++];
	x->position = e->hdr.position;
	x->base_offset = e->hdr.base_offset;
	x->append_ns = e->hdr.append_ns;
	x->bytes = e->hdr.entry_bytes;
	x->partition = e->hdr.partition;
	x->segment = segment;
	x->topic_len = e->hdr.topic_len;
	memcpy(x->topic, e->topic, e->hdr.topic_len);
	return s->st != NULL ? journal_state_apply(s->st, e) : 0;
}

static void seen_scan(const char *dir, struct seen *s, struct journal_dir *d)
{
	struct journal_scan_result res;

	s->n = 0;
	assert_int_equal(journal_dir_list(dir, d), 0);
	assert_int_equal(journal_scan(d, seen_entry, s, &res), 0);
	assert_false(res.corrupt);
	assert_false(res.torn);
}

static bool seen_same_part(const struct seen_entry *x, const struct journal_index_part *p)
{
	return x->partition == p->partition && x->topic_len == p->topic_len &&
	       memcmp(x->topic, p->topic, p->topic_len) == 0;
}

/* ---- State rules ---- */

static struct journal_entry state_entry(uint64_t producer, uint32_t epoch, uint64_t seq,
					uint64_t base, uint64_t ns)
{
	static const uint8_t topic[] = "t";
	return (struct journal_entry){.hdr = {.base_offset = base,
					      .producer_id = producer,
					      .sequence = seq,
					      .append_ns = ns,
					      .partition = 3,
					      .producer_epoch = epoch,
					      .record_count = 2,
					      .topic_len = 1},
				      .topic = topic};
}

static void state_apply(struct journal_state *st, uint64_t producer, uint32_t epoch, uint64_t seq,
			uint64_t base, uint64_t ns)
{
	struct journal_entry e = state_entry(producer, epoch, seq, base, ns);
	assert_int_equal(journal_state_apply(st, &e), 0);
}

static void test_journal_state_apply_new_stream_starts_at_entry(void **state)
{
	struct journal_state st;

	(void)state;
	assert_int_equal(journal_state_init(&st, 4, 0), 0);
	state_apply(&st, 9, 2, 17, 100, 5);
	assert_int_equal(st.nparts, 1);
	assert_int_equal(st.parts[0].next_offset, 102);
	assert_int_equal(journal_state_find_part(&st, (const uint8_t *)"t", 1, 3), 0);
	assert_int_equal(journal_state_find_part(&st, (const uint8_t *)"t", 1, 4), -1);
	assert_int_equal(st.nstreams, 1);
	assert_int_equal(st.streams[0].epoch, 2);
	assert_int_equal(st.streams[0].first_sequence, 17);
	assert_int_equal(st.streams[0].next_sequence, 18);
	assert_int_equal(st.streams[0].offsets[17 % 4], 100);
	assert_int_equal(st.streams[0].last_ns, 5);
	journal_state_free(&st);
	assert_int_equal(journal_state_init(&st, 0, 0), -EINVAL);
}

static void test_journal_state_apply_newer_epoch_restarts(void **state)
{
	struct journal_state st;

	(void)state;
	assert_int_equal(journal_state_init(&st, 4, 0), 0);
	state_apply(&st, 9, 2, 17, 100, 5);
	state_apply(&st, 9, 3, 2, 102, 6);
	assert_int_equal(st.nstreams, 1);
	assert_int_equal(st.streams[0].epoch, 3);
	assert_int_equal(st.streams[0].first_sequence, 2);
	assert_int_equal(st.streams[0].next_sequence, 3);
	assert_int_equal(st.streams[0].offsets[2], 102);
	/* An older epoch is behind the stream: ignored. */
	state_apply(&st, 9, 2, 18, 104, 7);
	assert_int_equal(st.streams[0].epoch, 3);
	assert_int_equal(st.streams[0].next_sequence, 3);
	assert_int_equal(st.parts[0].next_offset, 106);
	journal_state_free(&st);
}

static void test_journal_state_apply_gap_sets_first_sequence(void **state)
{
	struct journal_state st;

	(void)state;
	assert_int_equal(journal_state_init(&st, 4, 0), 0);
	state_apply(&st, 9, 0, 0, 0, 1);
	state_apply(&st, 9, 0, 1, 2, 2);
	state_apply(&st, 9, 0, 5, 4, 3);
	assert_int_equal(st.streams[0].first_sequence, 5);
	assert_int_equal(st.streams[0].next_sequence, 6);
	assert_int_equal(st.streams[0].offsets[5 % 4], 4);
	journal_state_free(&st);
}

static void test_journal_state_apply_duplicate_ignored(void **state)
{
	struct journal_state st;

	(void)state;
	assert_int_equal(journal_state_init(&st, 4, 0), 0);
	state_apply(&st, 9, 0, 0, 0, 1);
	state_apply(&st, 9, 0, 1, 2, 2);
	state_apply(&st, 9, 0, 0, 50, 3);
	assert_int_equal(st.streams[0].next_sequence, 2);
	assert_int_equal(st.streams[0].offsets[0], 0);
	assert_int_equal(st.streams[0].last_ns, 2);
	journal_state_free(&st);
}

static void test_journal_state_apply_window_wraps(void **state)
{
	struct journal_state st;

	(void)state;
	assert_int_equal(journal_state_init(&st, 4, 0), 0);
	for (uint64_t q = 0; q < 10; q++) {
		state_apply(&st, 9, 0, q, 10 * q, q);
	}
	for (uint64_t q = 6; q < 10; q++) {
		assert_int_equal(st.streams[0].offsets[q % 4], 10 * q);
	}
	/* A larger window keeps what the old one knew and forgets the rest. */
	assert_int_equal(journal_state_set_window(&st, 8), 0);
	assert_int_equal(st.window, 8);
	assert_int_equal(st.streams[0].first_sequence, 6);
	for (uint64_t q = 6; q < 10; q++) {
		assert_int_equal(st.streams[0].offsets[q % 8], 10 * q);
	}
	assert_int_equal(journal_state_set_window(&st, 2), 0);
	assert_int_equal(st.streams[0].offsets[8 % 2], 80);
	assert_int_equal(st.streams[0].offsets[9 % 2], 90);
	assert_int_equal(journal_state_set_window(&st, 0), -EINVAL);
	journal_state_free(&st);
}

static void test_journal_state_prune_drops_idle_streams(void **state)
{
	struct journal_state st;

	(void)state;
	assert_int_equal(journal_state_init(&st, 4, 100), 0);
	for (uint64_t p = 1; p <= 40; p++) {
		state_apply(&st, p, 0, 0, p, 10 * p);
	}
	journal_state_prune(&st, 300); /* keeps last_ns >= 200: producers 20..40 */
	assert_int_equal(st.nstreams, 21);
	assert_int_equal(st.nparts, 1);
	for (uint64_t p = 1; p <= 40; p++) {
		/* The survivors are still found: applying again moves them on. */
		state_apply(&st, p, 0, 1, 100 + p, 250);
	}
	for (uint32_t i = 0; i < st.nstreams; i++) {
		const struct journal_state_stream *s = &st.streams[i];
		bool kept = s->producer_id >= 20;
		assert_int_equal(s->next_sequence, 2);
		/* The pruned ones started again at sequence 1. */
		assert_int_equal(s->first_sequence, kept ? 0 : 1);
	}
	assert_int_equal(st.nstreams, 40);
	journal_state_free(&st);
}

static void test_journal_state_apply_silence_restarts_stream(void **state)
{
	struct journal_state st;

	(void)state;
	assert_int_equal(journal_state_init(&st, 4, 100), 0);
	state_apply(&st, 9, 0, 0, 0, 1000);
	state_apply(&st, 9, 0, 1, 2, 1100);
	assert_int_equal(st.streams[0].first_sequence, 0);
	state_apply(&st, 9, 0, 2, 4, 1201); /* silent 101 ns: the shard forgot it */
	assert_int_equal(st.streams[0].first_sequence, 2);
	assert_int_equal(st.streams[0].next_sequence, 3);
	journal_state_free(&st);
}

static void test_journal_state_encode_round_trip(void **state)
{
	struct journal_state st;
	struct journal_state back;
	struct journal_state copy;

	(void)state;
	assert_int_equal(journal_state_init(&st, 4, 7), 0);
	for (uint64_t i = 0; i < 30; i++) {
		state_apply(&st, i % 7, (uint32_t)(i % 3), i, i * 3, 1000 + i);
	}
	uint64_t len = journal_state_encoded_bytes(&st);
	uint8_t *a = malloc(len);
	uint8_t *b = malloc(len);
	assert_non_null(a);
	assert_non_null(b);
	journal_state_encode(&st, a);
	assert_int_equal(journal_state_decode(a, len, &back), 0);
	assert_int_equal(journal_state_copy(&copy, &back), 0);
	assert_int_equal(journal_state_encoded_bytes(&copy), len);
	journal_state_encode(&copy, b);
	assert_memory_equal(a, b, len);
	journal_state_free(&back);
	assert_int_equal(journal_state_decode(a, len - 1, &back), -EPROTO);
	free(a);
	free(b);
	journal_state_free(&st);
	journal_state_free(&back);
	journal_state_free(&copy);
}

/* ---- Building and searching ---- */

/* Builds the index of every segment but the newest, chaining the state. */
static void build_all(const struct gen *g, const struct journal_dir *d, struct journal_index *ix,
		      unsigned count)
{
	char path[256];
	char message[256];

	for (unsigned i = 0; i < count; i++) {
		gen_seg_path(g, d->segments[i].base_position, path, sizeof(path));
		const struct journal_state *prev = i > 0 ? &ix[i - 1].state : NULL;
		assert_int_equal(journal_index_build(path, d->segments[i].base_position, prev,
						     GEN_WINDOW, GEN_IDLE_NS, &ix[i], message,
						     sizeof(message)),
				 0);
	}
}

/* The parts and points of ix, recomputed from the entries of segment `segment`. */
static void check_parts_and_points(const struct seen *s, unsigned segment,
				   const struct journal_index *ix)
{
	uint64_t since[8] = {0};
	uint32_t npoints = 0;
	uint64_t entries = 0;

	for (unsigned k = 0; k < s->n; k++) {
		const struct seen_entry *x = &s->e[k];
		if (x->segment != segment) {
			continue;
		}
		int32_t p = journal_index_find_part(ix, x->topic, x->topic_len, x->partition);
		assert_true(p >= 0 && p < 8);
		const struct journal_index_part *part = &ix->parts[p];
		assert_true(x->base_offset >= part->first_offset &&
			    x->base_offset < part->next_offset);
		assert_true(x->append_ns >= part->min_ns && x->append_ns <= part->max_ns);
		if (x->position == part->first_position ||
		    since[p] >= JOURNAL_INDEX_INTERVAL_BYTES) {
			assert_true(npoints < ix->npoints);
			const struct journal_index_point *pt = &ix->points[npoints++];
			assert_int_equal(pt->position, x->position);
			assert_int_equal(pt->part, p);
			assert_int_equal(pt->base_offset, x->base_offset);
			since[p] = 0;
		}
		since[p] += x->bytes;
		entries++;
	}
	assert_int_equal(npoints, ix->npoints);
	assert_int_equal(entries, ix->entries);
}

/* seek_offset lands on an entry of the part at or before every offset, within one
 * interval of it. */
static void check_seek_offset(const struct seen *s, unsigned segment,
			      const struct journal_index *ix)
{
	for (unsigned k = 0; k < s->n; k++) {
		const struct seen_entry *x = &s->e[k];
		if (x->segment != segment) {
			continue;
		}
		int32_t p = journal_index_find_part(ix, x->topic, x->topic_len, x->partition);
		uint64_t pos = journal_index_seek_offset(ix, (uint32_t)p, x->base_offset);
		uint64_t between = 0;
		bool landed = false;
		for (unsigned m = 0; m < s->n; m++) {
			const struct seen_entry *y = &s->e[m];
			if (y->segment != segment || !seen_same_part(y, &ix->parts[p])) {
				continue;
			}
			landed |= y->position == pos;
			if (y->position >= pos && y->position < x->position) {
				between += y->bytes;
			}
		}
		assert_true(landed);
		assert_true(pos <= x->position);
		assert_true(between < JOURNAL_INDEX_INTERVAL_BYTES);
	}
}

/* seek_time: nothing before the position is at or after the time, and the first entry at
 * or after the time is not before it. */
static void check_seek_time(const struct seen *s, unsigned segment, const struct journal_index *ix)
{
	for (unsigned k = 0; k < s->n; k++) {
		if (s->e[k].segment != segment) {
			continue;
		}
		for (uint64_t t = s->e[k].append_ns - 1; t <= s->e[k].append_ns + 1; t++) {
			uint64_t pos = journal_index_seek_time(ix, t);
			for (unsigned m = 0; m < s->n; m++) {
				const struct seen_entry *y = &s->e[m];
				if (y->segment == segment && y->position < pos) {
					assert_true(y->append_ns < t);
				}
			}
			assert_true(pos >= ix->base_position && pos <= ix->end_position);
		}
	}
	assert_int_equal(journal_index_seek_time(ix, 0), ix->base_position);
	assert_int_equal(journal_index_seek_time(ix, ix->max_ns + 1), ix->end_position);
}

static void test_journal_index_build_parts_points_and_seeks(void **state)
{
	struct gen *g = gen_create(512u * 1024u);
	struct seen *s = calloc(1, sizeof(*s));
	struct journal_dir d;
	struct journal_index ix[4];

	(void)state;
	assert_non_null(s);
	gen_journal(g, 1200);
	seen_scan(g->dir, s, &d);
	assert_true(d.count >= 3);
	build_all(g, &d, ix, 2);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(ix[i].base_position, d.segments[i].base_position);
		assert_int_equal(ix[i].end_position, d.segments[i].end_position);
		/* 512 KiB over 4 partitions: several points each. */
		assert_true(ix[i].npoints > ix[i].nparts);
		check_parts_and_points(s, i, &ix[i]);
		check_seek_offset(s, i, &ix[i]);
		check_seek_time(s, i, &ix[i]);
	}
	journal_index_free(&ix[0]);
	journal_index_free(&ix[1]);
	journal_dir_free(&d);
	free(s);
	gen_destroy(g);
}

static void test_journal_index_build_damaged_segment_eproto(void **state)
{
	struct gen *g = gen_create(64u * 1024u);
	struct journal_index ix;
	char path[256];
	char message[256];

	(void)state;
	gen_journal(g, 200);
	gen_seg_path(g, 0, path, sizeof(path));
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	uint8_t b = 0;
	assert_int_equal(pread(fd, &b, 1, JOURNAL_BLOCK_BYTES + 2000), 1);
	b ^= 0x10;
	assert_int_equal(pwrite(fd, &b, 1, JOURNAL_BLOCK_BYTES + 2000), 1);
	assert_int_equal(close(fd), 0);
	assert_int_equal(journal_index_build(path, 0, NULL, 4, 0, &ix, message, sizeof(message)),
			 -EPROTO);
	assert_non_null(strstr(message, path));
	/* A base that is not the segment's. */
	assert_int_equal(journal_index_build(path, 8, NULL, 4, 0, &ix, message, sizeof(message)),
			 -EPROTO);
	gen_destroy(g);
}

/* ---- Stored form ---- */

static uint8_t *encode_index(const struct journal_index *ix, const char *path, uint64_t *len)
{
	struct stat st;

	assert_int_equal(journal_index_write(path, ix), 0);
	assert_int_equal(stat(path, &st), 0);
	*len = (uint64_t)st.st_size;
	uint8_t *buf = malloc(*len);
	assert_non_null(buf);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, *len, 0), (ssize_t)*len);
	assert_int_equal(close(fd), 0);
	return buf;
}

static void write_file(const char *path, const uint8_t *buf, uint64_t len)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static void test_journal_index_write_read_round_trip(void **state)
{
	struct gen *g = gen_create(512u * 1024u);
	struct seen *s = calloc(1, sizeof(*s));
	struct journal_dir d;
	struct journal_index ix[2];
	struct journal_index back;
	struct journal_index sum;
	char path[256];
	uint64_t len;
	uint64_t len2;

	(void)state;
	assert_non_null(s);
	gen_journal(g, 1200);
	seen_scan(g->dir, s, &d);
	build_all(g, &d, ix, 2);
	assert_int_equal(journal_index_path(g->dir, ix[1].base_position, path, sizeof(path)), 0);
	uint8_t *a = encode_index(&ix[1], path, &len);
	assert_int_equal(journal_index_read(path, ix[1].base_position, &back), 0);
	assert_int_equal(back.entries, ix[1].entries);
	assert_int_equal(back.nparts, ix[1].nparts);
	assert_int_equal(back.npoints, ix[1].npoints);
	assert_memory_equal(back.points, ix[1].points, ix[1].npoints * sizeof(*back.points));
	uint8_t *b = encode_index(&back, path, &len2);
	assert_int_equal(len, len2);
	assert_memory_equal(a, b, len);
	journal_index_free(&back);
	assert_int_equal(journal_index_read(path, ix[1].base_position + 8, &back), -EPROTO);
	/* The header and summary decode in place, from an 8-aligned buffer. */
	uint32_t summary = journal_index_summary_bytes(a, JOURNAL_INDEX_HEADER_BYTES);
	assert_true(summary > JOURNAL_INDEX_HEADER_BYTES && summary < len);
	assert_int_equal(journal_index_decode_summary(a, summary, ix[1].base_position, &sum), 0);
	assert_int_equal(sum.entries, ix[1].entries);
	assert_int_equal(sum.state.nstreams, 0);
	assert_int_equal(journal_index_seek_time(&sum, ix[1].max_ns),
			 journal_index_seek_time(&ix[1], ix[1].max_ns));
	journal_index_free(&sum);
	assert_int_equal(journal_index_decode_summary(a, summary - 1, ix[1].base_position, &sum),
			 -EPROTO);
	assert_int_equal(journal_index_summary_bytes(a + 1, JOURNAL_INDEX_HEADER_BYTES), 0);
	assert_int_equal(journal_index_read("/nonexistent/x.idx", 0, &sum), -ENOENT);
	free(a);
	free(b);
	journal_index_free(&back);
	journal_index_free(&ix[0]);
	journal_index_free(&ix[1]);
	journal_dir_free(&d);
	free(s);
	gen_destroy(g);
}

static void test_journal_index_read_damage_every_byte_eproto(void **state)
{
	struct gen *g = gen_create(64u * 1024u);
	struct journal_index ix;
	struct journal_index back;
	char seg[256];
	char path[256];
	char message[256];
	uint64_t len;

	(void)state;
	gen_journal(g, 12);
	gen_seg_path(g, 0, seg, sizeof(seg));
	assert_int_equal(journal_index_build(seg, 0, NULL, 2, 0, &ix, message, sizeof(message)), 0);
	assert_int_equal(journal_index_path(g->dir, 0, path, sizeof(path)), 0);
	uint8_t *a = encode_index(&ix, path, &len);
	for (uint64_t k = 0; k < len; k++) {
		a[k] ^= 0x41;
		write_file(path, a, len);
		assert_int_equal(journal_index_read(path, 0, &back), -EPROTO);
		a[k] ^= 0x41;
	}
	write_file(path, a, len - 8);
	assert_int_equal(journal_index_read(path, 0, &back), -EPROTO);
	write_file(path, a, len);
	assert_int_equal(journal_index_read(path, 0, &back), 0);
	journal_index_free(&back);
	free(a);
	journal_index_free(&ix);
	gen_destroy(g);
}

static void test_journal_index_read_unknown_version_eproto(void **state)
{
	struct gen *g = gen_create(64u * 1024u);
	struct journal_index ix;
	struct journal_index back;
	char seg[256];
	char path[256];
	uint64_t len;
	uint16_t version = JOURNAL_INDEX_VERSION + 1;
	uint32_t crc = 0;

	(void)state;
	gen_journal(g, 12);
	gen_seg_path(g, 0, seg, sizeof(seg));
	assert_int_equal(journal_index_build(seg, 0, NULL, 2, 0, &ix, NULL, 0), 0);
	assert_int_equal(journal_index_path(g->dir, 0, path, sizeof(path)), 0);
	uint8_t *a = encode_index(&ix, path, &len);
	memcpy(a + 4, &version, sizeof(version));
	memcpy(a + 60, &crc, sizeof(crc));
	crc = crc32c_extend(0, a, len);
	memcpy(a + 60, &crc, sizeof(crc));
	write_file(path, a, len);
	assert_int_equal(journal_index_read(path, 0, &back), -EPROTO);
	assert_int_equal(journal_index_check_header(path, 0), -EPROTO);
	assert_int_equal(journal_index_summary_bytes(a, len), 0);
	free(a);
	journal_index_free(&ix);
	gen_destroy(g);
}

/* ---- Recovery ---- */

/* What journal_open() handed over, kept as a state for comparison. */
struct recovered {
	struct journal_state st;
	bool bad;
};

static int rec_partition(void *ctx, const uint8_t *topic, uint8_t topic_len, uint32_t partition,
			 uint64_t next_offset)
{
	struct recovered *r = ctx;
	int32_t k = journal_state_get_part(&r->st, topic, topic_len, partition);

	assert_true(k >= 0);
	r->st.parts[k].next_offset = next_offset;
	return 0;
}

static int rec_stream(void *ctx, const struct journal_state_partition *part,
		      const struct journal_state_stream *stream, uint32_t window)
{
	struct recovered *r = ctx;
	int32_t k = journal_state_find_part(&r->st, part->topic, part->topic_len, part->partition);
	/* Kept as an entry of the stream's newest sequence: enough to compare. */
	r->bad |= k < 0 || window != GEN_WINDOW;
	struct journal_state_stream *s = realloc(r->st.streams, (r->st.nstreams + 1) * sizeof(*s));
	assert_non_null(s);
	r->st.streams = s;
	s = &r->st.streams[r->st.nstreams++];
	*s = *stream;
	s->part = (uint32_t)k;
	s->offsets = malloc(window * sizeof(uint64_t));
	assert_non_null(s->offsets);
	memcpy(s->offsets, stream->offsets, window * sizeof(uint64_t));
	return 0;
}

static const struct journal_state_stream *find_stream(const struct journal_state *st,
						      const struct journal_state_partition *part,
						      uint64_t producer_id)
{
	for (uint32_t i = 0; i < st->nstreams; i++) {
		const struct journal_state_partition *p = &st->parts[st->streams[i].part];
		if (st->streams[i].producer_id == producer_id && p->partition == part->partition &&
		    p->topic_len == part->topic_len &&
		    memcmp(p->topic, part->topic, part->topic_len) == 0) {
			return &st->streams[i];
		}
	}
	return NULL;
}

/* a and b hold the same partitions and streams (offsets compared where remembered). */
static void expect_same_state(const struct journal_state *a, const struct journal_state *b)
{
	assert_int_equal(a->nparts, b->nparts);
	assert_int_equal(a->nstreams, b->nstreams);
	for (uint32_t i = 0; i < a->nparts; i++) {
		const struct journal_state_partition *p = &a->parts[i];
		int32_t k = journal_state_find_part(b, p->topic, p->topic_len, p->partition);
		assert_true(k >= 0);
		assert_int_equal(b->parts[k].next_offset, p->next_offset);
	}
	for (uint32_t i = 0; i < a->nstreams; i++) {
		const struct journal_state_stream *x = &a->streams[i];
		const struct journal_state_stream *y =
			find_stream(b, &a->parts[x->part], x->producer_id);
		assert_non_null(y);
		assert_int_equal(x->epoch, y->epoch);
		assert_int_equal(x->first_sequence, y->first_sequence);
		assert_int_equal(x->next_sequence, y->next_sequence);
		assert_int_equal(x->last_ns, y->last_ns);
		uint64_t from = x->next_sequence - x->first_sequence > GEN_WINDOW
					? x->next_sequence - GEN_WINDOW
					: x->first_sequence;
		for (uint64_t q = from; q < x->next_sequence; q++) {
			assert_int_equal(x->offsets[q % GEN_WINDOW], y->offsets[q % GEN_WINDOW]);
		}
	}
}

static struct journal_conf rec_conf(const struct gen *g)
{
	return (struct journal_conf){
		.dir = g->dir,
		.socket = -1,
		.segment_bytes = g->seg_bytes,
		.flush_bytes = 8192,
		.fsync = JOURNAL_FSYNC_ALWAYS,
		.fsync_us = 1000,
		.buffers = 4,
		.io = JOURNAL_IO_THREAD,
	};
}

/* Opens the journal of g, returns its index_rebuilt count and what it handed over. */
static uint64_t rec_open(const struct gen *g, struct recovered *r)
{
	struct journal_conf conf = rec_conf(g);
	struct journal *j = NULL;
	struct journal_recovery rec = {.window = GEN_WINDOW,
				       .idle_ns = GEN_IDLE_NS,
				       .now_ns = g->end_ns + GEN_IDLE_NS / 2,
				       .partition = rec_partition,
				       .stream = rec_stream,
				       .ctx = r};

	memset(r, 0, sizeof(*r));
	assert_int_equal(journal_state_init(&r->st, GEN_WINDOW, GEN_IDLE_NS), 0);
	assert_int_equal(journal_open(&conf, &rec, &j), 0);
	assert_false(r->bad);
	uint64_t rebuilt = journal_counter(j, JOURNAL_STAT_INDEX_REBUILT);
	assert_int_equal(journal_close(j), 0);
	return rebuilt;
}

/* The state a full replay of every entry gives. */
static void full_replay(const struct gen *g, struct journal_state *st)
{
	struct seen *s = calloc(1, sizeof(*s));
	struct journal_dir d;

	assert_non_null(s);
	assert_int_equal(journal_state_init(st, GEN_WINDOW, GEN_IDLE_NS), 0);
	s->st = st;
	seen_scan(g->dir, s, &d);
	journal_state_prune(st, g->end_ns + GEN_IDLE_NS / 2);
	journal_dir_free(&d);
	free(s);
}

static unsigned count_indexes(const struct gen *g, unsigned segments)
{
	char path[256];
	unsigned n = 0;

	for (unsigned i = 0; i < segments; i++) {
		uint64_t base = (uint64_t)i * (g->seg_bytes - JOURNAL_BLOCK_BYTES);
		assert_int_equal(journal_index_path(g->dir, base, path, sizeof(path)), 0);
		n += access(path, F_OK) == 0;
	}
	return n;
}

static void flip_file_byte(const char *path, uint64_t off)
{
	uint8_t b = 0;
	int fd = open(path, O_RDWR);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, (off_t)off), 1);
	b ^= 0x20;
	assert_int_equal(pwrite(fd, &b, 1, (off_t)off), 1);
	assert_int_equal(close(fd), 0);
}

static void test_journal_open_recovers_same_state_as_full_replay(void **state)
{
	struct gen *g = gen_create(64u * 1024u);
	struct journal_state full;
	struct recovered r;
	char path[256];

	(void)state;
	gen_journal(g, 3000);
	unsigned segments = g->segments;
	assert_true(segments >= 20);
	full_replay(g, &full);
	assert_true(full.nstreams > 0);

	/* First start: no index yet, everything is read once and indexed. */
	assert_int_equal(rec_open(g, &r), segments - 1);
	expect_same_state(&full, &r.st);
	journal_state_free(&r.st);
	assert_int_equal(count_indexes(g, segments), segments - 1);

	/* Then only the tail is read. */
	assert_int_equal(rec_open(g, &r), 0);
	expect_same_state(&full, &r.st);
	journal_state_free(&r.st);

	/* The newest sealed segment's index deleted: rebuilt, counted, same state. */
	uint64_t newest_sealed = (uint64_t)(segments - 2) * (g->seg_bytes - JOURNAL_BLOCK_BYTES);
	assert_int_equal(journal_index_path(g->dir, newest_sealed, path, sizeof(path)), 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rec_open(g, &r), 1);
	expect_same_state(&full, &r.st);
	journal_state_free(&r.st);

	/* ... or damaged. */
	flip_file_byte(path, 100);
	assert_int_equal(rec_open(g, &r), 1);
	expect_same_state(&full, &r.st);
	journal_state_free(&r.st);

	/* An old index missing: rebuilt from the one before it. */
	assert_int_equal(journal_index_path(g->dir, 3 * (g->seg_bytes - JOURNAL_BLOCK_BYTES), path,
					    sizeof(path)),
			 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rec_open(g, &r), 1);
	expect_same_state(&full, &r.st);
	journal_state_free(&r.st);
	assert_int_equal(count_indexes(g, segments), segments - 1);

	journal_state_free(&full);
	gen_destroy(g);
}

static void test_journal_open_does_not_read_indexed_segments(void **state)
{
	struct gen *g = gen_create(64u * 1024u);
	struct journal_state full;
	struct recovered r;
	struct journal_dir d;
	struct journal_scan_result res;
	char path[256];

	(void)state;
	gen_journal(g, 1500);
	full_replay(g, &full);
	assert_int_equal(rec_open(g, &r), g->segments - 1);
	journal_state_free(&r.st);

	/* Damage in the middle of an old, indexed segment: start-up does not look. */
	gen_seg_path(g, 2 * (g->seg_bytes - JOURNAL_BLOCK_BYTES), path, sizeof(path));
	flip_file_byte(path, g->seg_bytes / 2);
	assert_int_equal(rec_open(g, &r), 0);
	expect_same_state(&full, &r.st);
	journal_state_free(&r.st);

	/* A full scan (what `sluice journal verify` does) sees it. */
	assert_int_equal(journal_dir_list(g->dir, &d), 0);
	assert_int_equal(journal_scan(&d, NULL, NULL, &res), 0);
	assert_true(res.corrupt);
	assert_int_equal(res.corrupt_segment, 2);
	journal_dir_free(&d);

	/* Without its index, the damaged segment must be read: the open refuses. */
	assert_int_equal(journal_index_path(g->dir, 2 * (g->seg_bytes - JOURNAL_BLOCK_BYTES), path,
					    sizeof(path)),
			 0);
	assert_int_equal(unlink(path), 0);
	struct journal_conf conf = rec_conf(g);
	struct journal *j = NULL;
	assert_int_equal(journal_open(&conf, NULL, &j), -EPROTO);
	assert_null(j);
	journal_state_free(&full);
	gen_destroy(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_journal_state_apply_new_stream_starts_at_entry),
		cmocka_unit_test(test_journal_state_apply_newer_epoch_restarts),
		cmocka_unit_test(test_journal_state_apply_gap_sets_first_sequence),
		cmocka_unit_test(test_journal_state_apply_duplicate_ignored),
		cmocka_unit_test(test_journal_state_apply_window_wraps),
		cmocka_unit_test(test_journal_state_prune_drops_idle_streams),
		cmocka_unit_test(test_journal_state_apply_silence_restarts_stream),
		cmocka_unit_test(test_journal_state_encode_round_trip),
		cmocka_unit_test(test_journal_index_build_parts_points_and_seeks),
		cmocka_unit_test(test_journal_index_build_damaged_segment_eproto),
		cmocka_unit_test(test_journal_index_write_read_round_trip),
		cmocka_unit_test(test_journal_index_read_damage_every_byte_eproto),
		cmocka_unit_test(test_journal_index_read_unknown_version_eproto),
		cmocka_unit_test(test_journal_open_recovers_same_state_as_full_replay),
		cmocka_unit_test(test_journal_open_does_not_read_indexed_segments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
