/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Assertions. SL_ASSERT is always compiled in: a broken invariant aborts with the
 * expression, file and line. SL_ASSERT_HOT guards per-packet checks and is compiled out
 * in release builds (meson -Dhot_asserts=false). Never assert on outside input.
 */
#ifndef SL_CORE_ASSERT_H
#define SL_CORE_ASSERT_H

/* Prints "sluice: assertion failed: EXPR (FILE:LINE)" to stderr and aborts. */
__attribute__((noreturn, cold)) void sl_assert_fail(const char *expr, const char *file, int line);

#define SL_ASSERT(c)                                                                               \
	do {                                                                                       \
		if (__builtin_expect(!(c), 0)) {                                                   \
			sl_assert_fail(#c, __FILE__, __LINE__);                                    \
		}                                                                                  \
	} while (0)

#if defined(SL_HOT_ASSERTS) && SL_HOT_ASSERTS
#define SL_ASSERT_HOT(c) SL_ASSERT(c)
#else
#define SL_ASSERT_HOT(c) ((void)sizeof(c))
#endif

#endif
