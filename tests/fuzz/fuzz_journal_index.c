/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for segment indexes (journal/index.h), which come from disk: the
 * input is decoded in place as the replay reader does (journal_index_decode_summary(),
 * no CRC), then, with its size field and CRC32C made right so that mutations reach the
 * field checks, written to a file and read back whole with journal_index_read(). Whatever
 * is accepted is searched, and what journal_index_read() accepted must survive its own
 * encoding. Built as a fuzzer with -Dfuzz=true (clang), and always as a replay of
 * tests/fuzz/corpus/journal_index in `meson test`.
 */
#include "core/assert.h"
#include "core/crc32c.h"
#include "journal/index.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_path[80];

static void fuzz_path_remove(void)
{
	(void)unlink(fuzz_path);
}

static void fuzz_path_init(void)
{
	if (fuzz_path[0] != '\0') {
		return;
	}
	/* tmpfs when there is one: the target writes a file for every input. */
	snprintf(fuzz_path, sizeof(fuzz_path), "%s", "/dev/shm/sluice-fuzz-index-XXXXXX");
	int fd = mkstemp(fuzz_path);
	if (fd < 0) {
		snprintf(fuzz_path, sizeof(fuzz_path), "%s", "/tmp/sluice-fuzz-index-XXXXXX");
		fd = mkstemp(fuzz_path);
	}
	SL_ASSERT(fd >= 0);
	(void)close(fd);
	SL_ASSERT(atexit(fuzz_path_remove) == 0);
}

/* Every search on an accepted index stays within its segment. */
static void fuzz_search(const struct journal_index *ix)
{
	for (uint32_t i = 0; i < ix->nparts; i++) {
		const struct journal_index_part *p = &ix->parts[i];
		SL_ASSERT(journal_index_find_part(ix, p->topic, p->topic_len, p->partition) >= 0);
		uint64_t pos = journal_index_seek_offset(ix, i, p->next_offset);
		SL_ASSERT(pos >= ix->base_position && pos < ix->end_position);
	}
	for (uint32_t i = 0; i < ix->npoints; i++) {
		uint64_t pos = journal_index_seek_time(ix, ix->points[i].max_ns);
		SL_ASSERT(pos >= ix->base_position && pos <= ix->end_position);
	}
}

static void fuzz_write(const uint8_t *buf, size_t size)
{
	int fd = open(fuzz_path, O_WRONLY | O_TRUNC | O_CLOEXEC);

	SL_ASSERT(fd >= 0);
	SL_ASSERT(write(fd, buf, size) == (ssize_t)size);
	(void)close(fd);
}

/* Reads the file back whole; what is accepted must also accept its own encoding. */
static void fuzz_read(uint64_t base)
{
	struct journal_index ix;

	if (journal_index_read(fuzz_path, base, &ix) != 0) {
		return;
	}
	fuzz_search(&ix);
	SL_ASSERT(journal_index_write(fuzz_path, &ix) == 0);
	struct journal_index again;
	SL_ASSERT(journal_index_read(fuzz_path, base, &again) == 0);
	SL_ASSERT(again.entries == ix.entries && again.npoints == ix.npoints &&
		  again.state.nstreams == ix.state.nstreams);
	journal_index_free(&again);
	journal_index_free(&ix);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct journal_index ix;
	uint64_t base = 0;

	if (size < JOURNAL_INDEX_HEADER_BYTES) {
		return 0;
	}
	fuzz_path_init();
	/* 8-aligned, as the reader's buffers are. */
	uint64_t *words = calloc((size + 7) / 8, sizeof(uint64_t));
	SL_ASSERT(words != NULL);
	uint8_t *buf = (uint8_t *)words;
	memcpy(buf, data, size);
	memcpy(&base, buf + 8, sizeof(base));
	if (journal_index_decode_summary(buf, size, base, &ix) == 0) {
		fuzz_search(&ix);
		journal_index_free(&ix);
	}
	/* file_bytes (offset 40) and the CRC32C (offset 60) made to match. */
	uint64_t file_bytes = size;
	uint32_t crc = 0;
	memcpy(buf + 40, &file_bytes, sizeof(file_bytes));
	memcpy(buf + 60, &crc, sizeof(crc));
	crc = crc32c_extend(0, buf, size);
	memcpy(buf + 60, &crc, sizeof(crc));
	fuzz_write(buf, size);
	fuzz_read(base);
	free(words);
	return 0;
}
