/* SPDX-License-Identifier: BSD-3-Clause */
/* Growing arrays for the journal's off-loop code (start-up, maintenance, tools). */
#ifndef SL_JOURNAL_GROW_H
#define SL_JOURNAL_GROW_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* Makes room in *array (of *cap elements of `size` bytes) for element n, doubling.
 * Returns 0 or -ENOMEM (the array is left as it was). */
static inline int journal_array_grow(void **array, uint32_t *cap, uint32_t n, size_t size)
{
	if (n < *cap) {
		return 0;
	}
	uint32_t ncap = *cap == 0 ? 16 : *cap * 2;
	void *p = realloc(*array, (size_t)ncap * size);
	if (p == NULL) {
		return -ENOMEM;
	}
	*array = p;
	*cap = ncap;
	return 0;
}

#endif
