/* SPDX-License-Identifier: BSD-3-Clause */
/* Private to crc32c: the CPU-specific implementation meson picks for this machine. */
#ifndef SL_CORE_CRC32C_INT_H
#define SL_CORE_CRC32C_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when this CPU can run crc32c_extend_hw(). */
bool crc32c_hw_available(void);

/* Same contract as crc32c_extend(); only call when crc32c_hw_available(). */
uint32_t crc32c_extend_hw(uint32_t crc, const void *buf, size_t len);

#endif
