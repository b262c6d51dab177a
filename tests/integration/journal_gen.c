/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test generator for `sluice journal`: writes a router data directory with two shard
 * journals holding known events (the formula is repeated in test_journal_cli.sh), then
 * optionally damages it. Segments are assembled in memory with the journal's format
 * functions and written as whole files, as a preallocating writer leaves them.
 * Usage: journal_gen DIR [none|torn|corrupt|version|gap|unfinished]
 */
#include "core/crc32c.h"
#include "core/wire.h"
#include "journal/format.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GEN_SEGMENT_BYTES ((size_t)64 * 1024)
#define GEN_WINDOW_BYTES 8192u
#define GEN_SHARDS 2u
#define GEN_PARTS_PER_SHARD 3u
#define GEN_BATCHES 300u /* per partition */
#define GEN_SEGMENTS_MAX 16u

struct gen_segment {
	uint8_t *buf;
	uint64_t base;
	uint64_t used;
};

struct gen_shard {
	unsigned shard;
	struct gen_segment segs[GEN_SEGMENTS_MAX];
	unsigned nsegs;
	uint64_t entry_pos[GEN_PARTS_PER_SHARD * GEN_BATCHES];
	unsigned entry_seg[GEN_PARTS_PER_SHARD * GEN_BATCHES];
	unsigned nentries;
};

static void gen_die(const char *what)
{
	perror(what);
	exit(1);
}

static struct gen_segment *gen_new_segment(struct gen_shard *s)
{
	if (s->nsegs == GEN_SEGMENTS_MAX) {
		fprintf(stderr, "journal_gen: too many segments\n");
		exit(1);
	}
	struct gen_segment *g = &s->segs[s->nsegs];
	g->base = s->nsegs == 0
			  ? 0
			  : s->segs[s->nsegs - 1].base + GEN_SEGMENT_BYTES - JOURNAL_BLOCK_BYTES;
	g->used = 0;
	g->buf = calloc(1, GEN_SEGMENT_BYTES);
	if (g->buf == NULL) {
		gen_die("calloc");
	}
	journal_segment_header_encode(g->buf, (uint16_t)s->shard, g->base, GEN_SEGMENT_BYTES,
				      1700000000000000000ull, GEN_WINDOW_BYTES, false);
	s->nsegs++;
	return g;
}

/* The event formula shared with test_journal_cli.sh. */
static uint32_t gen_add_record(uint8_t *body, uint32_t len, const char *topic, unsigned part,
			       uint64_t offset)
{
	static const uint8_t odd[] = {0x00, 0xff, '"', '\\', '\n', 0xc3, 0xa9, 0x7f, 0x80};
	char key[96];
	uint8_t value[64];
	int key_len = 0;

	if (offset % 7 != 3) {
		key_len = snprintf(key, sizeof(key), "k-%s-%u-%llu", topic, part,
				   (unsigned long long)offset);
	}
	int value_len = snprintf((char *)value, sizeof(value), "v%llu", (unsigned long long)offset);
	if (offset % 5 == 0) {
		memcpy(value + value_len, odd, sizeof(odd));
		value_len += (int)sizeof(odd);
	}
	uint32_t bytes = wire_record_bytes((uint32_t)key_len, (uint32_t)value_len);
	uint8_t *p = body + len;
	memset(p, 0, bytes);
	wire_put_u32(p, (uint32_t)value_len);
	wire_put_u16(p + 4, (uint16_t)key_len);
	wire_put_u64(p + 8, 1700000000000000000ull + offset * 1000 + part);
	memcpy(p + 16, key, (size_t)key_len);
	memcpy(p + 16 + key_len, value, (size_t)value_len);
	return len + bytes;
}

/* Encodes one batch; appends it to the shard's last segment (rolling when full) unless
 * out is given, in which case it is only encoded there. Returns the entry's bytes. */
static uint32_t gen_batch(struct gen_shard *s, const char *topic, unsigned part, uint64_t base,
			  unsigned count, uint64_t seq, uint64_t append_ns, uint8_t *out)
{
	uint8_t body[4096];
	uint8_t entry[JOURNAL_ENTRY_BYTES_MAX];
	struct journal_entry_header h;
	uint32_t body_len = 0;

	for (unsigned r = 0; r < count; r++) {
		body_len = gen_add_record(body, body_len, topic, part, base + r);
	}
	memset(&h, 0, sizeof(h));
	h.base_offset = base;
	h.producer_id = 1000 + part;
	h.producer_epoch = 1;
	h.sequence = seq;
	h.append_ns = append_ns;
	h.partition = part;
	h.record_count = (uint16_t)count;
	h.topic_len = (uint8_t)strlen(topic);
	h.flags = seq == 0 ? JOURNAL_ENTRY_STREAM_HEAD : 0;
	uint32_t need = journal_entry_bytes(h.topic_len, body_len);
	struct gen_segment *g = &s->segs[s->nsegs - 1];
	if (out == NULL && g->used + need > GEN_SEGMENT_BYTES - JOURNAL_BLOCK_BYTES) {
		g = gen_new_segment(s);
	}
	h.position = g->base + g->used;
	uint32_t n = journal_entry_encode(out != NULL ? out : entry, &h, (const uint8_t *)topic,
					  body, body_len);
	if (out == NULL) {
		memcpy(g->buf + JOURNAL_BLOCK_BYTES + g->used, entry, n);
		s->entry_pos[s->nentries] = h.position;
		s->entry_seg[s->nentries] = s->nsegs - 1;
		s->nentries++;
		g->used += n;
	}
	return n;
}

static void gen_write_file(const char *path, const uint8_t *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0) {
		gen_die(path);
	}
	if (write(fd, buf, len) != (ssize_t)len || close(fd) != 0) {
		gen_die(path);
	}
}

static void gen_write_shard(const char *dir, const struct gen_shard *s)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/" JOURNAL_SHARD_DIR_FORMAT, dir, s->shard);
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		gen_die(path);
	}
	for (unsigned k = 0; k < s->nsegs; k++) {
		snprintf(path, sizeof(path),
			 "%s/" JOURNAL_SHARD_DIR_FORMAT "/" JOURNAL_SEGMENT_NAME_FORMAT, dir,
			 s->shard, (unsigned long long)s->segs[k].base);
		gen_write_file(path, s->segs[k].buf, GEN_SEGMENT_BYTES);
	}
}

/* Fills shard s: partitions s, s + 2 of "orders" and s of "audit.log", batches round
 * robin, `gap_at` (a batch number, or -1) skipping 5 offsets in the first partition. */
static void gen_fill(struct gen_shard *s, unsigned shard, int gap_at)
{
	const char *topics[GEN_PARTS_PER_SHARD] = {"orders", "orders", "audit.log"};
	unsigned parts[GEN_PARTS_PER_SHARD] = {shard, shard + 2, shard};
	uint64_t next[GEN_PARTS_PER_SHARD] = {0};
	uint64_t append_ns = 1700000000500000000ull;

	memset(s, 0, sizeof(*s));
	s->shard = shard;
	(void)gen_new_segment(s);
	for (unsigned b = 0; b < GEN_BATCHES; b++) {
		for (unsigned p = 0; p < GEN_PARTS_PER_SHARD; p++) {
			unsigned count = 1 + b % 3;
			if (p == 0 && (int)b == gap_at) {
				next[p] += 5;
			}
			(void)gen_batch(s, topics[p], parts[p], next[p], count, b, append_ns++,
					NULL);
			next[p] += count;
		}
	}
}

static void gen_damage(struct gen_shard *shards, const char *damage)
{
	if (strcmp(damage, "torn") == 0) {
		/* Half of one more entry at the end of shard 1: a write cut by a crash. */
		struct gen_shard *s = &shards[1];
		uint8_t entry[JOURNAL_ENTRY_BYTES_MAX];
		struct gen_segment *g = &s->segs[s->nsegs - 1];
		uint32_t n = gen_batch(s, "orders", 1, 999999, 3, 999, 1, entry);
		memcpy(g->buf + JOURNAL_BLOCK_BYTES + g->used, entry, n / 2);
	} else if (strcmp(damage, "corrupt") == 0) {
		/* One flipped bit in an entry of shard 0's first segment. */
		struct gen_shard *s = &shards[0];
		s->segs[0].buf[JOURNAL_BLOCK_BYTES + s->entry_pos[10] + 70] ^= 0x01;
	} else if (strcmp(damage, "version") == 0) {
		/* A segment of a future format version, with a valid header CRC. */
		uint8_t *h = shards[0].segs[0].buf;
		uint16_t v = JOURNAL_FORMAT_VERSION_RECYCLED + 1;
		uint32_t crc = 0;
		memcpy(h + offsetof(struct journal_segment_header, version), &v, sizeof(v));
		memcpy(h + offsetof(struct journal_segment_header, crc32c), &crc, sizeof(crc));
		crc = crc32c_extend(0, h, sizeof(struct journal_segment_header));
		memcpy(h + offsetof(struct journal_segment_header, crc32c), &crc, sizeof(crc));
	}
}

int main(int argc, char **argv)
{
	static struct gen_shard shards[GEN_SHARDS];
	const char *damage = argc > 2 ? argv[2] : "none";
	char path[4096];

	if (argc < 2 || argc > 3) {
		fprintf(stderr,
			"usage: journal_gen DIR [none|torn|corrupt|version|gap|unfinished]\n");
		return 2;
	}
	if (mkdir(argv[1], 0755) != 0 && errno != EEXIST) {
		gen_die(argv[1]);
	}
	for (unsigned s = 0; s < GEN_SHARDS; s++) {
		gen_fill(&shards[s], s, s == 1 && strcmp(damage, "gap") == 0 ? 50 : -1);
	}
	/* Shard 0 has its next segment created ahead of use, as the writer does. */
	(void)gen_new_segment(&shards[0]);
	gen_damage(shards, damage);
	for (unsigned s = 0; s < GEN_SHARDS; s++) {
		gen_write_shard(argv[1], &shards[s]);
	}
	if (strcmp(damage, "unfinished") == 0) {
		/* Shard 1's next segment: created, header never written. */
		struct gen_shard *s = &shards[1];
		uint64_t base =
			s->segs[s->nsegs - 1].base + GEN_SEGMENT_BYTES - JOURNAL_BLOCK_BYTES;
		uint8_t *zero = calloc(1, (size_t)2 * JOURNAL_BLOCK_BYTES);
		if (zero == NULL) {
			gen_die("calloc");
		}
		snprintf(path, sizeof(path),
			 "%s/" JOURNAL_SHARD_DIR_FORMAT "/" JOURNAL_SEGMENT_NAME_FORMAT, argv[1],
			 1u, (unsigned long long)base);
		gen_write_file(path, zero, (size_t)2 * JOURNAL_BLOCK_BYTES);
		free(zero);
	}
	printf("%u\n", GEN_SHARDS * GEN_PARTS_PER_SHARD * (GEN_BATCHES / 3) * 6);
	return 0;
}
