/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to the wire codec: the hook by which wire_decode() (wire.c) checks the body
 * of a subscription frame (wire_sub.c).
 */
#ifndef SL_CORE_WIRE_INT_H
#define SL_CORE_WIRE_INT_H

#include "core/wire.h"

/* True for the bytes of a topic token: [A-Za-z0-9_-]. */
static inline bool wire_topic_char_is_valid(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

/* True for SUBSCRIBE .. SUBSCRIBED. */
static inline bool wire_type_is_subscription(unsigned type)
{
	return type >= SL_WIRE_SUBSCRIBE && type <= SL_WIRE_SUBSCRIBED;
}

/*
 * Checks a subscription frame that passed wire_decode()'s common checks: header field
 * usage, topic or pattern, body. Sets f->sub_error on the rejections that have one.
 */
enum sl_wire_reject wire_sub_check(struct wire_frame *f);

#endif
