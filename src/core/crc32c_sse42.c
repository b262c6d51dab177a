/* SPDX-License-Identifier: BSD-3-Clause */
/* CRC32C with the SSE4.2 crc32 instruction, 8 bytes per step (x86-64 only). */
#include "core/crc32c_int.h"

#include <nmmintrin.h>
#include <string.h>

bool crc32c_hw_available(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("sse4.2");
}

__attribute__((target("sse4.2"))) uint32_t crc32c_extend_hw(uint32_t crc, const void *buf,
							    size_t len)
{
	const uint8_t *p = buf;
	uint64_t c = ~crc;

	while (len >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = _mm_crc32_u64(c, v);
		p += 8;
		len -= 8;
	}
	uint32_t c32 = (uint32_t)c;
	while (len-- > 0) {
		c32 = _mm_crc32_u8(c32, *p++);
	}
	return ~c32;
}
