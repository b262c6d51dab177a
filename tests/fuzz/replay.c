/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Replays every file of a corpus directory through a fuzz target's
 * LLVMFuzzerTestOneInput, so that the corpus runs in `meson test` without clang.
 * Usage: replay_<target> CORPUS_DIR. Exits 0 when every input ran.
 */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
	static uint8_t buf[1 << 16];
	FILE *f = fopen(path, "rb");

	if (f == NULL) {
		perror(path);
		return -1;
	}
	size_t n = fread(buf, 1, sizeof(buf), f);
	(void)fclose(f);
	(void)LLVMFuzzerTestOneInput(buf, n);
	return 0;
}

int main(int argc, char **argv)
{
	char path[4096];
	unsigned count = 0;

	if (argc != 2) {
		(void)fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	DIR *d = opendir(argv[1]);
	if (d == NULL) {
		perror(argv[1]);
		return 1;
	}
	for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
		if (e->d_name[0] == '.') {
			continue;
		}
		(void)snprintf(path, sizeof(path), "%s/%s", argv[1], e->d_name);
		if (replay_file(path) != 0) {
			(void)closedir(d);
			return 1;
		}
		count++;
	}
	(void)closedir(d);
	printf("%u passed, 0 failed\n", count);
	return count > 0 ? 0 : 1;
}
