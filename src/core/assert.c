/* SPDX-License-Identifier: BSD-3-Clause */
/* The one place an assertion failure is reported. */
#include "core/assert.h"

#include <stdio.h>
#include <stdlib.h>

void sl_assert_fail(const char *expr, const char *file, int line)
{
	(void)fprintf(stderr, "sluice: assertion failed: %s (%s:%d)\n", expr, file, line);
	abort();
}
