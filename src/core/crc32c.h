/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CRC32C (Castagnoli, polynomial 0x1EDC6F41, reflected), the checksum of every frame
 * and every journal record. Uses the SSE4.2 crc32 instruction when the CPU has it and a
 * slicing-by-8 table otherwise; both give identical results.
 */
#ifndef SL_CORE_CRC32C_H
#define SL_CORE_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Extends a finished CRC32C value `crc` (0 for an empty prefix) by `len` bytes of `buf`:
 * crc32c_extend(crc32c_extend(0, a, n), b, m) equals the CRC of a followed by b.
 */
uint32_t crc32c_extend(uint32_t crc, const void *buf, size_t len);

/* The software implementation, whatever the CPU offers (tests compare the two). */
uint32_t crc32c_extend_sw(uint32_t crc, const void *buf, size_t len);

/* True when crc32c_extend() uses the CPU instruction. */
bool crc32c_is_hw(void);

#endif
