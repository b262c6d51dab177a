/* SPDX-License-Identifier: BSD-3-Clause */
/* CPUs without a CRC32C instruction we use: the software path always runs. */
#include "core/crc32c_int.h"

#include "core/assert.h"

bool crc32c_hw_available(void)
{
	return false;
}

uint32_t crc32c_extend_hw(uint32_t crc, const void *buf, size_t len)
{
	(void)crc;
	(void)buf;
	(void)len;
	SL_ASSERT(!"crc32c_extend_hw called without hardware support");
	return 0;
}
