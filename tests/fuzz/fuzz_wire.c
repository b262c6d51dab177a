/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the wire decoder: any byte string, any length. A decoded frame's
 * records (PRODUCE, DELIVER) and start offsets (SUBSCRIBE) are walked too, so an over-read
 * anywhere in the decoder or the readers shows up under ASan. Built as a fuzzer with
 * -Dfuzz=true (clang), and always as a replay of tests/fuzz/corpus/wire in `meson test`.
 */
#include "core/assert.h"
#include "core/wire.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_frame f;
	/* A copy of exactly `size` bytes, so that ASan sees the datagram's true end. */
	uint8_t *copy = malloc(size == 0 ? 1 : size);

	if (copy == NULL) {
		return 0;
	}
	if (size > 0) {
		memcpy(copy, data, size);
	}
	enum sl_wire_reject r = wire_decode(copy, size, SL_WIRE_FRAME_BYTES_MAX, &f);
	SL_ASSERT((unsigned)r <= SL_WIRE_REJECT_MAX);
	if (r == SL_WIRE_OK && f.hdr.type == SL_WIRE_PRODUCE) {
		struct wire_record_iter it;
		struct wire_record rec;
		unsigned n = 0;
		wire_record_iter_init(&it, &f);
		while (wire_record_next(&it, &rec)) {
			SL_ASSERT(rec.value + rec.value_len <= copy + size);
			n++;
		}
		SL_ASSERT(n == f.hdr.record_count);
	}
	if (r == SL_WIRE_OK && f.hdr.type == SL_WIRE_DELIVER) {
		struct wire_deliver d;
		struct wire_record_iter it;
		struct wire_record rec;
		unsigned n = 0;
		SL_ASSERT(wire_deliver_parse(&f, &d) == SL_WIRE_OK);
		wire_record_iter_init_body(&it, d.records, d.records_len);
		while (wire_record_next(&it, &rec)) {
			SL_ASSERT(rec.value + rec.value_len <= copy + size);
			n++;
		}
		SL_ASSERT(n == d.record_count);
	}
	if (r == SL_WIRE_OK && f.hdr.type == SL_WIRE_SUBSCRIBE) {
		struct wire_subscribe sub;
		struct sl_wire_start_offset o;
		enum sl_sub_error why;
		SL_ASSERT(wire_subscribe_parse(&f, &sub, &why) == SL_WIRE_OK);
		SL_ASSERT(sub.params.group_len == 0 ||
			  sub.group + sub.params.group_len <= copy + size);
		for (uint32_t i = 0; i < sub.params.offset_count; i++) {
			wire_start_offset_at(&sub, i, &o);
			SL_ASSERT(o.reserved == 0);
		}
	}
	free(copy);
	return 0;
}
