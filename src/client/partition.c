/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The producer's partitioner for keyed events: CRC32C of the key modulo the topic's
 * partition count. It is stable across processes, hosts and versions of libsluice,
 * so every producer sends one key to one partition. (Keyless events are spread by the
 * sticky round robin in producer.c.)
 */
#include "client/client_int.h"

#include "core/assert.h"
#include "core/crc32c.h"

uint32_t partition_for_key(const void *key, size_t key_len, uint32_t partitions)
{
	SL_ASSERT_HOT(partitions > 0);
	return crc32c_extend(0, key, key_len) % partitions;
}
