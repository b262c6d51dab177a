/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for journal recovery: the input becomes one to three segment files
 * in a private directory, which journal_dir_list() and journal_scan() then read exactly
 * as journal_open() does at start-up; every delivered entry's records are walked too.
 * Input layout: byte 0 picks the number of segments (1 + byte % 3); the rest is cut into
 * that many equal files, each named by the base position in its header bytes 8..15 (or
 * by its index when shorter), so mutations reach headers, entries and segment chains.
 * Built as a fuzzer with -Dfuzz=true (clang), and always as a replay of
 * tests/fuzz/corpus/journal in `meson test`.
 */
#include "core/assert.h"
#include "core/wire.h"
#include "journal/scan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUZZ_SEGMENTS_MAX 3u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_dir[64];

static void fuzz_dir_clear(void);

static void fuzz_dir_remove(void)
{
	fuzz_dir_clear();
	(void)rmdir(fuzz_dir);
}

static void fuzz_dir_init(void)
{
	if (fuzz_dir[0] != '\0') {
		return;
	}
	/* tmpfs when there is one: the target writes files for every input. */
	snprintf(fuzz_dir, sizeof(fuzz_dir), "%s", "/dev/shm/sluice-fuzz-journal-XXXXXX");
	if (mkdtemp(fuzz_dir) == NULL) {
		snprintf(fuzz_dir, sizeof(fuzz_dir), "%s", "/tmp/sluice-fuzz-journal-XXXXXX");
		SL_ASSERT(mkdtemp(fuzz_dir) != NULL);
	}
	SL_ASSERT(atexit(fuzz_dir_remove) == 0);
}

static void fuzz_dir_clear(void)
{
	DIR *d = opendir(fuzz_dir);

	SL_ASSERT(d != NULL);
	for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
		if (e->d_name[0] != '.') {
			(void)unlinkat(dirfd(d), e->d_name, 0);
		}
	}
	(void)closedir(d);
}

static void fuzz_write_segment(const uint8_t *p, size_t len, unsigned index)
{
	char path[160];
	uint64_t base = index * (uint64_t)JOURNAL_SEGMENT_BYTES_MIN;

	if (len >= 16) {
		memcpy(&base, p + 8, sizeof(base));
	}
	snprintf(path, sizeof(path), "%s/" JOURNAL_SEGMENT_NAME_FORMAT, fuzz_dir,
		 (unsigned long long)base);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	SL_ASSERT(fd >= 0);
	SL_ASSERT(write(fd, p, len) == (ssize_t)len);
	SL_ASSERT(close(fd) == 0);
}

static int fuzz_entry(void *ctx, const struct journal_entry *e, unsigned segment)
{
	uint64_t *entries = ctx;
	struct wire_record_iter it;
	struct wire_record r;
	unsigned n = 0;

	(void)segment;
	SL_ASSERT(e->body_len + JOURNAL_ENTRY_HEADER_BYTES <= e->hdr.entry_bytes);
	wire_record_iter_init_body(&it, e->body, e->body_len);
	while (wire_record_next(&it, &r)) {
		SL_ASSERT(r.value + r.value_len <= e->body + e->body_len);
		n++;
	}
	SL_ASSERT(n == e->hdr.record_count);
	(*entries)++;
	return 0;
}

/* What any scan result must satisfy, whatever the files held. */
static void fuzz_check(const struct journal_dir *d, const struct journal_scan_result *res, int err,
		       uint64_t entries)
{
	SL_ASSERT(err == 0 || err == -EPROTO);
	SL_ASSERT(memchr(res->message, '\0', sizeof(res->message)) != NULL);
	if (err != 0) {
		return;
	}
	SL_ASSERT(res->entries == entries);
	SL_ASSERT(res->end_segment <= d->count);
	SL_ASSERT(res->unfinished_segments <= d->count);
	SL_ASSERT(!res->corrupt || res->corrupt_segment < d->count);
	SL_ASSERT((res->corrupt || res->torn) == (res->message[0] != '\0'));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct journal_dir d;
	struct journal_scan_result res;
	uint64_t entries = 0;

	if (size < 1) {
		return 0;
	}
	fuzz_dir_init();
	fuzz_dir_clear();
	unsigned nsegs = 1 + data[0] % FUZZ_SEGMENTS_MAX;
	size_t chunk = (size - 1) / nsegs;
	for (unsigned i = 0; i < nsegs; i++) {
		fuzz_write_segment(data + 1 + i * chunk, chunk, i);
	}
	SL_ASSERT(journal_dir_list(fuzz_dir, &d) == 0);
	int err = journal_scan(&d, fuzz_entry, &entries, &res);
	fuzz_check(&d, &res, err, entries);
	journal_dir_free(&d);
	return 0;
}
