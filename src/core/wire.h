/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The one validating decoder and the encoder of the wire protocol (include/sluice/wire.h),
 * shared by the router, libsluice and the sluice command. wire_decode() is the only way
 * outside bytes become a frame: it never reads past the datagram and names why it
 * rejects one. Everything here is pure: no I/O, no allocation.
 */
#ifndef SL_CORE_WIRE_H
#define SL_CORE_WIRE_H

#include <sluice/wire.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A frame that passed wire_decode(). Pointers borrow the datagram buffer. */
struct wire_frame {
	struct sl_wire_header hdr; /* copied out, host byte order */
	const uint8_t *base;	   /* first byte of the frame */
	const uint8_t *topic;	   /* hdr.topic_len bytes, not NUL-terminated */
	const uint8_t *body;	   /* after the topic and its padding */
	uint32_t body_len;
	uint32_t len; /* whole frame: header + payload */
	/* A subscription frame's rejection: the problem (NACK detail); else SL_SUB_OK. */
	enum sl_sub_error sub_error;
};

/* One record of a PRODUCE frame. Pointers borrow the datagram buffer. */
struct wire_record {
	const uint8_t *key;
	const uint8_t *value;
	uint64_t timestamp_ns;
	uint32_t value_len;
	uint16_t key_len;
};

/* Walks the records of a decoded PRODUCE frame. */
struct wire_record_iter {
	const uint8_t *next;
	const uint8_t *end;
};

/* Incremental encoder writing one frame into a caller-owned buffer. */
struct wire_builder {
	uint8_t *buf;
	uint32_t cap;
	uint32_t len;
	uint32_t records;
};

/* Rounds n up to SL_WIRE_ALIGN. */
static inline uint32_t wire_align(uint32_t n)
{
	return (n + (SL_WIRE_ALIGN - 1)) & ~(SL_WIRE_ALIGN - 1);
}

/* Bytes one record with these key and value lengths takes in a frame. */
static inline uint32_t wire_record_bytes(uint32_t key_len, uint32_t value_len)
{
	return wire_align(SL_WIRE_RECORD_HEADER_BYTES + key_len + value_len);
}

/* Bytes a frame's header and topic (with padding) take before its body. */
static inline uint32_t wire_prefix_bytes(uint32_t topic_len)
{
	return SL_WIRE_HEADER_BYTES + wire_align(topic_len);
}

/* The largest PRODUCE a router with frame limit frame_bytes_max (SL_WIRE_FRAME_BYTES_MIN..
 * SL_WIRE_FRAME_BYTES_MAX) appends: one whose DELIVER fits that limit. */
static inline uint32_t wire_produce_bytes_max(uint32_t frame_bytes_max)
{
	return frame_bytes_max - SL_WIRE_DELIVER_EXTRA_BYTES;
}

/*
 * Validates `len` bytes at `buf` as one frame no larger than `frame_bytes_max` and fills
 * `out`. Checks, in order: length, magic, version, size limit, alignment, payload length,
 * type, flags and reserved fields (aux: DELIVER only), CRC32C, then the body of the
 * frame's type (PRODUCE: topic name, ack level, every record in bounds, count and sizes
 * consistent).
 * Returns SL_WIRE_OK or the enum sl_wire_reject naming the first failed check; on a
 * rejection, `out->hdr` holds whatever header fields could be read (zeros otherwise).
 */
enum sl_wire_reject wire_decode(const void *buf, size_t len, size_t frame_bytes_max,
				struct wire_frame *out);

/* Human-readable name of a rejection ("truncated", "bad crc", ...). */
const char *wire_reject_name(enum sl_wire_reject r);

/* Name of a NACK reason ("busy", "storage", ...); "unknown" out of range. */
const char *wire_nack_reason_name(unsigned reason);

/* Name of a frame type ("produce", ...); "unknown" out of range. */
const char *wire_type_name(unsigned type);

/* Name of counter `stat` (enum sl_stat) as shown by `sluice stats`, or NULL. */
const char *wire_stat_name(unsigned stat);

/* The NACK reason a rejection is answered with. */
enum sl_nack_reason wire_reject_nack_reason(enum sl_wire_reject r);

/* The counter (enum sl_stat) a rejection is counted under. */
enum sl_stat wire_reject_stat(enum sl_wire_reject r);

/* The NACK detail a rejection of frame f (as wire_decode() left it) is answered with:
 * the enum sl_sub_error for subscription frames that have one, else the reject code. */
uint32_t wire_reject_nack_detail(enum sl_wire_reject r, const struct wire_frame *f);

/*
 * True when name[0..len) is a valid topic: 1..255 bytes of dot-separated tokens, each
 * non-empty and made of [A-Za-z0-9_-]. ('*' and '>' are reserved for patterns.)
 */
bool wire_topic_is_valid(const uint8_t *name, size_t len);

/*
 * Checks a PRODUCE body (body_len bytes, also a journal entry's body): every record in
 * bounds with zero attributes, the records filling the body exactly, and exactly
 * record_count (>= 1) of them. Returns SL_WIRE_OK, SL_WIRE_REJECT_BAD_COUNT or
 * SL_WIRE_REJECT_BAD_FIELD. Reads nothing outside body[0..body_len).
 */
enum sl_wire_reject wire_records_check(const uint8_t *body, uint32_t body_len,
				       uint16_t record_count);

/* Starts iterating the records of a body that passed wire_records_check(). */
static inline void wire_record_iter_init_body(struct wire_record_iter *it, const uint8_t *body,
					      uint32_t body_len)
{
	it->next = body;
	it->end = body + body_len;
}

/* Starts iterating the records of a decoded PRODUCE frame. */
void wire_record_iter_init(struct wire_record_iter *it, const struct wire_frame *f);

/* Reads the next record; false when there is none. Only valid on decoded frames. */
bool wire_record_next(struct wire_record_iter *it, struct wire_record *out);

/* Fills a header with magic, version and type; every other field zero. */
void wire_header_init(struct sl_wire_header *h, enum sl_wire_type type);

/*
 * Starts a frame in buf[0..cap): writes the header `h` (payload_len, record_count and
 * crc32c are filled by wire_finish) and the padded topic. Returns 0, -EINVAL when the
 * topic is longer than 255 bytes, or -EMSGSIZE when cap cannot hold header and topic.
 */
int wire_begin(struct wire_builder *b, void *buf, size_t cap, const struct sl_wire_header *h,
	       const void *topic, size_t topic_len);

/* Appends one PRODUCE record. Returns 0, or -EMSGSIZE when it does not fit (the
 * builder is unchanged), or -EINVAL when key_len > 65535. */
int wire_add_record(struct wire_builder *b, const void *key, size_t key_len, const void *value,
		    size_t value_len, uint64_t timestamp_ns);

/* Appends raw body bytes, zero-padded to SL_WIRE_ALIGN. Returns 0 or -EMSGSIZE. */
int wire_add_body(struct wire_builder *b, const void *data, size_t len);

/* Fills payload_len, record_count (PRODUCE: records added) and the CRC; returns the
 * frame's length in bytes. */
uint32_t wire_finish(struct wire_builder *b);

/* CRC32C a frame of `len` bytes at `buf` would carry (its crc32c field read as zero). */
uint32_t wire_frame_crc(const void *buf, size_t len);

/*
 * Turns a decoded request or PRODUCE frame into its reply header: same producer id,
 * epoch, sequence, partition, topic; the given type; counts and CRC cleared.
 */
void wire_reply_header(struct sl_wire_header *reply, const struct sl_wire_header *req,
		       enum sl_wire_type type);

/* Reads a little-endian value from possibly unaligned bytes. */
static inline uint16_t wire_get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}

static inline uint32_t wire_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t wire_get_u64(const uint8_t *p)
{
	return (uint64_t)wire_get_u32(p) | (uint64_t)wire_get_u32(p + 4) << 32;
}

static inline void wire_put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void wire_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void wire_put_u64(uint8_t *p, uint64_t v)
{
	wire_put_u32(p, (uint32_t)v);
	wire_put_u32(p + 4, (uint32_t)(v >> 32));
}

/* Body codecs: each reads or writes exactly sizeof the struct, in wire byte order. */
void wire_ack_read(const uint8_t *p, struct sl_wire_ack *out);
void wire_ack_write(uint8_t *p, const struct sl_wire_ack *in);
void wire_nack_read(const uint8_t *p, struct sl_wire_nack *out);
void wire_nack_write(uint8_t *p, const struct sl_wire_nack *in);
void wire_metadata_read(const uint8_t *p, struct sl_wire_metadata *out);
void wire_metadata_write(uint8_t *p, const struct sl_wire_metadata *in);
void wire_stats_read(const uint8_t *p, struct sl_wire_stats *out);
void wire_stats_write(uint8_t *p, const struct sl_wire_stats *in);

/*
 * Subscription frames (include/sluice/wire.h, "Subscription frames"). wire_decode()
 * checks them whole: the header fields each type uses and zeros elsewhere, every length
 * and padding, every enum and bound. The *_parse() functions below are what it runs;
 * called again on a frame wire_decode() accepted they cannot fail, and give the
 * contents. Encoders write what they are given: wire_decode() is the judge, which is
 * what lets tests build invalid frames.
 */

/* Subscriber id and subscription id of a subscription frame's header. */
static inline uint64_t wire_subscriber_id(const struct sl_wire_header *h)
{
	return h->producer_id;
}

static inline uint32_t wire_subscription_id(const struct sl_wire_header *h)
{
	return h->producer_epoch;
}

/*
 * Checks a subscription pattern: 1..255 bytes of dot-separated tokens, each a topic
 * token ([A-Za-z0-9_-]+), `*` (exactly one token) or `>` (one or more trailing tokens,
 * last token only). Returns SL_SUB_OK or the SL_SUB_PATTERN_* naming the first problem.
 */
enum sl_sub_error wire_pattern_check(const uint8_t *pattern, size_t len);

/* True when the valid pattern matches the valid topic name. Linear in their lengths. */
bool wire_pattern_matches(const uint8_t *pattern, size_t pattern_len, const uint8_t *topic,
			  size_t topic_len);

/* Checks a credit window (SUBSCRIBE or CREDIT): SL_SUB_OK or SL_SUB_WINDOW_*. */
enum sl_sub_error wire_window_check(uint32_t window_batches, uint64_t window_bytes);

/* What an enum sl_sub_error means ("'>' before the last token", ...); "unknown" out of
 * range. */
const char *wire_sub_error_name(unsigned error);

/* A SUBSCRIBE's contents. Pointers borrow the datagram buffer. */
struct wire_subscribe {
	uint64_t subscriber_id;	  /* non-zero */
	uint32_t subscription_id; /* non-zero */
	uint8_t pattern_len;
	const uint8_t *pattern;		 /* pattern_len bytes, not NUL-terminated */
	struct sl_wire_subscribe params; /* host order; lengths of the names below */
	const uint8_t *group;		 /* params.group_len bytes, or NULL */
	const uint8_t *offsets_topic;	 /* params.offsets_topic_len bytes, or NULL */
	const uint8_t *offsets;		 /* params.offset_count entries: wire_start_offset_at() */
};

/* Entry i (< offset_count) of a parsed SUBSCRIBE's start offsets. */
void wire_start_offset_at(const struct wire_subscribe *s, uint32_t i,
			  struct sl_wire_start_offset *out);

/*
 * Reads and checks a SUBSCRIBE frame whose header, lengths and CRC wire_decode()
 * checked. Returns SL_WIRE_OK or the rejection, with *why naming the problem for
 * BAD_PATTERN, BAD_CREDIT, BAD_GROUP and BAD_START (SL_SUB_OK otherwise).
 */
enum sl_wire_reject wire_subscribe_parse(const struct wire_frame *f, struct wire_subscribe *out,
					 enum sl_sub_error *why);

/*
 * Writes a SUBSCRIBE of s (s->offsets is ignored: the params.offset_count entries come
 * from `offsets`) into buf[0..cap) and its length into *len. Returns 0, or -EMSGSIZE
 * when it does not fit.
 */
int wire_subscribe_encode(void *buf, size_t cap, const struct wire_subscribe *s,
			  const struct sl_wire_start_offset *offsets, uint32_t *len);

/* Reads and checks a SUBSCRIBED body: status, enums, reserved fields; when active, a
 * pattern, shards >= 1 and the SUBSCRIBE bounds on window and weight. */
enum sl_wire_reject wire_subscribed_parse(const struct wire_frame *f,
					  struct sl_wire_subscribed *out);

/* Writes a SUBSCRIBED with the pattern (pattern_len 0 with status REMOVED). Returns 0,
 * or -EMSGSIZE. */
int wire_subscribed_encode(void *buf, size_t cap, uint64_t subscriber_id, uint32_t subscription_id,
			   const uint8_t *pattern, size_t pattern_len,
			   const struct sl_wire_subscribed *body, uint32_t *len);

/* Writes an UNSUBSCRIBE. Returns 0, or -EMSGSIZE. */
int wire_unsubscribe_encode(void *buf, size_t cap, uint64_t subscriber_id, uint32_t subscription_id,
			    uint32_t *len);

/* Reads and checks a HEARTBEAT body. */
enum sl_wire_reject wire_heartbeat_parse(const struct wire_frame *f, struct sl_wire_heartbeat *out);

/* Writes a HEARTBEAT for `subscriptions` subscriptions. Returns 0, or -EMSGSIZE. */
int wire_heartbeat_encode(void *buf, size_t cap, uint64_t subscriber_id, uint32_t subscriptions,
			  uint32_t *len);

/*
 * Reads and checks a CREDIT body; the shard it is for is wire_credit_shard(). Returns
 * SL_WIRE_OK, or BAD_CREDIT with *why naming the problem, or another rejection.
 */
enum sl_wire_reject wire_credit_parse(const struct wire_frame *f, struct sl_wire_credit *out,
				      enum sl_sub_error *why);

/* The shard a decoded CREDIT grants to. */
static inline uint16_t wire_credit_shard(const struct sl_wire_header *h)
{
	return (uint16_t)h->sequence;
}

/* Writes a CREDIT to `shard`. Returns 0, or -EMSGSIZE. */
int wire_credit_encode(void *buf, size_t cap, uint64_t subscriber_id, uint32_t subscription_id,
		       uint16_t shard, const struct sl_wire_credit *c, uint32_t *len);

/*
 * Writes a CONSUMER_ACK: every offset below `offset` of the topic's partition is done
 * (0: none), and so are the batches whose base offsets bases[0..nbases) list (a group
 * member's own batches, between other members'). Returns 0, -EINVAL (topic longer than
 * 255 bytes, more than SL_WIRE_ACK_BATCHES_MAX bases), or -EMSGSIZE.
 */
int wire_consumer_ack_encode(void *buf, size_t cap, uint64_t subscriber_id,
			     uint32_t subscription_id, const uint8_t *topic, size_t topic_len,
			     uint32_t partition, uint64_t offset, const uint64_t *bases,
			     uint32_t nbases, uint32_t *len);

/* The number of batch base offsets a checked CONSUMER_ACK lists. */
static inline uint32_t wire_consumer_ack_batches(const struct wire_frame *f)
{
	return f->body_len / 8u;
}

/* Its i-th batch base offset. */
static inline uint64_t wire_consumer_ack_batch(const struct wire_frame *f, uint32_t i)
{
	return wire_get_u64(f->body + 8u * i);
}

/* A DELIVER's contents; also what the encoder takes. Pointers borrow their buffers. */
struct wire_deliver {
	uint64_t subscriber_id;
	uint32_t subscription_id;
	uint32_t partition;
	uint64_t base_offset;
	uint16_t record_count;
	uint8_t topic_len;
	const uint8_t *topic;
	struct sl_wire_deliver meta; /* append time, owner shard, attempt, delivery number */
	uint32_t sent_bytes;	/* header aux: bytes the shard sent the subscription before this
			      * DELIVER, modulo 2^32 */
	const uint8_t *records; /* the batch's records, as PRODUCE carried them */
	uint32_t records_len;
};

/* Reads a DELIVER frame (its records were checked by wire_decode()). */
enum sl_wire_reject wire_deliver_parse(const struct wire_frame *f, struct wire_deliver *out);

/*
 * Bytes of a DELIVER before its records: header, padded topic and struct sl_wire_deliver.
 * The records follow, so a router sends a per-subscriber head and the shared records of
 * the batch as one datagram without copying them.
 */
static inline uint32_t wire_deliver_head_bytes(uint32_t topic_len)
{
	return wire_prefix_bytes(topic_len) + (uint32_t)sizeof(struct sl_wire_deliver);
}

/*
 * Writes the head of a DELIVER of d into buf[0..cap) (wire_deliver_head_bytes() of it),
 * with payload_len counting d->records_len and the CRC covering the head followed by the
 * records at d->records (read, not copied). Returns 0, -EINVAL (records_len not a
 * multiple of 8 or too long), or -EMSGSIZE.
 */
int wire_deliver_head_encode(void *buf, size_t cap, const struct wire_deliver *d);

/* Writes a whole DELIVER (head and a copy of the records) and its length into *len.
 * Returns 0, -EINVAL or -EMSGSIZE. */
int wire_deliver_encode(void *buf, size_t cap, const struct wire_deliver *d, uint32_t *len);

/* Body codecs of the subscription frames, like wire_ack_read() and friends. */
void wire_subscribe_body_read(const uint8_t *p, struct sl_wire_subscribe *out);
void wire_subscribed_read(const uint8_t *p, struct sl_wire_subscribed *out);
void wire_credit_read(const uint8_t *p, struct sl_wire_credit *out);
void wire_deliver_meta_read(const uint8_t *p, struct sl_wire_deliver *out);

#endif
