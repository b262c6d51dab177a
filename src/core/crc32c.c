/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CRC32C dispatch and the portable slicing-by-8 implementation. The hardware variant
 * lives in crc32c_sse42.c (compiled only for x86-64 by meson); which one runs is
 * decided once, on first use, from the CPU's feature bits.
 */
#include "core/crc32c.h"
#include "core/crc32c_int.h"

#include <string.h>

#define CRC32C_POLY_REFLECTED 0x82f63b78u

static uint32_t crc32c_table[8][256];
static int crc32c_mode; /* 0: not decided, 1: software, 2: hardware */

static void crc32c_build_table(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++) {
			c = (c & 1u) ? (c >> 1) ^ CRC32C_POLY_REFLECTED : c >> 1;
		}
		crc32c_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++) {
		for (int t = 1; t < 8; t++) {
			uint32_t prev = crc32c_table[t - 1][i];
			crc32c_table[t][i] = (prev >> 8) ^ crc32c_table[0][prev & 0xffu];
		}
	}
}

static void crc32c_decide(void)
{
	/* Benign race: every thread computes the same table and the same mode. */
	crc32c_build_table();
	__atomic_store_n(&crc32c_mode, crc32c_hw_available() ? 2 : 1, __ATOMIC_RELEASE);
}

uint32_t crc32c_extend_sw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t c = ~crc;

	if (__atomic_load_n(&crc32c_mode, __ATOMIC_ACQUIRE) == 0) {
		crc32c_decide();
	}
	while (len >= 8) {
		uint32_t lo;
		uint32_t hi;
		memcpy(&lo, p, 4);
		memcpy(&hi, p + 4, 4);
		lo ^= c;
		c = crc32c_table[7][lo & 0xffu] ^ crc32c_table[6][(lo >> 8) & 0xffu] ^
		    crc32c_table[5][(lo >> 16) & 0xffu] ^ crc32c_table[4][lo >> 24] ^
		    crc32c_table[3][hi & 0xffu] ^ crc32c_table[2][(hi >> 8) & 0xffu] ^
		    crc32c_table[1][(hi >> 16) & 0xffu] ^ crc32c_table[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len-- > 0) {
		c = (c >> 8) ^ crc32c_table[0][(c ^ *p++) & 0xffu];
	}
	return ~c;
}

uint32_t crc32c_extend(uint32_t crc, const void *buf, size_t len)
{
	int mode = __atomic_load_n(&crc32c_mode, __ATOMIC_ACQUIRE);

	if (mode == 0) {
		crc32c_decide();
		mode = __atomic_load_n(&crc32c_mode, __ATOMIC_ACQUIRE);
	}
	if (mode == 2) {
		return crc32c_extend_hw(crc, buf, len);
	}
	return crc32c_extend_sw(crc, buf, len);
}

bool crc32c_is_hw(void)
{
	if (__atomic_load_n(&crc32c_mode, __ATOMIC_ACQUIRE) == 0) {
		crc32c_decide();
	}
	return __atomic_load_n(&crc32c_mode, __ATOMIC_ACQUIRE) == 2;
}
