/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Subscription frames of the wire protocol: SUBSCRIBE, SUBSCRIBED, UNSUBSCRIBE,
 * HEARTBEAT, DELIVER, CREDIT and CONSUMER_ACK, their checks and encoders, and the
 * pattern syntax. wire_decode() hands every subscription frame here after the checks
 * common to all frames (length, magic, version, CRC). Checks are strict: a field a type
 * does not use must be zero, so that a later version can give it a meaning.
 */
#include "core/wire.h"

#include "core/assert.h"
#include "core/crc32c.h"
#include "core/wire_int.h"

#include <errno.h>
#include <string.h>

static const char *const wire_sub_error_names[] = {
	[SL_SUB_OK] = "ok",
	[SL_SUB_PATTERN_EMPTY] = "empty pattern",
	[SL_SUB_PATTERN_TOO_LONG] = "pattern longer than 255 bytes",
	[SL_SUB_PATTERN_EMPTY_TOKEN] = "empty token in pattern (leading, trailing or double dot)",
	[SL_SUB_PATTERN_BAD_CHAR] = "pattern character outside A-Z a-z 0-9 _ - . * >",
	[SL_SUB_PATTERN_PARTIAL_WILDCARD] =
		"'*' or '>' inside a token: a wildcard is a whole token",
	[SL_SUB_PATTERN_TAIL_NOT_LAST] = "'>' before the last token of the pattern",
	[SL_SUB_WINDOW_UNLIMITED] = "credit window without a batch or a byte limit",
	[SL_SUB_WINDOW_BATCHES] = "credit window above 65536 batches",
	[SL_SUB_WINDOW_BYTES] = "credit window bytes outside 8972..1073741824",
	[SL_SUB_CREDIT_AHEAD] = "credit counts more consumed than the shard sent",
	[SL_SUB_CREDIT_SHARD] = "credit for a shard that does not exist",
	[SL_SUB_GROUP_NAME] = "group name not 1..64 bytes of topic-name characters",
	[SL_SUB_GROUP_WEIGHT] = "member weight not 1..1000 in a group, or set without a group",
	[SL_SUB_GROUP_STRATEGY] = "group strategy unknown, missing in a group, or set without one",
	[SL_SUB_START_KIND] = "unknown start position or fallback",
	[SL_SUB_START_VALUE] = "start value or fallback set where the start position has none",
	[SL_SUB_START_OFFSETS] = "start offsets: none, more than 512, or given without 'offsets'",
	[SL_SUB_START_TOPIC] = "start offsets topic invalid or not matched by the pattern",
	[SL_SUB_START_PARTITION] = "start offsets partitions not strictly increasing",
	[SL_SUB_CONFLICT_ID] = "subscription id already in use with other parameters",
	[SL_SUB_CONFLICT_GROUP] = "group already exists with another pattern or strategy",
};

static_assert(sizeof(wire_sub_error_names) / sizeof(wire_sub_error_names[0]) ==
		      SL_SUB_ERROR_MAX + 1,
	      "every sl_sub_error has a name");

const char *wire_sub_error_name(unsigned error)
{
	if (error > SL_SUB_ERROR_MAX) {
		return "unknown";
	}
	return wire_sub_error_names[error];
}

/* Checks one pattern token of n >= 1 bytes; sets *tail when it is '>'. */
static enum sl_sub_error wire_pattern_token_check(const uint8_t *t, size_t n, bool *tail)
{
	if (n == 1 && (t[0] == '*' || t[0] == '>')) {
		*tail = t[0] == '>';
		return SL_SUB_OK;
	}
	for (size_t i = 0; i < n; i++) {
		if (t[i] == '*' || t[i] == '>') {
			return SL_SUB_PATTERN_PARTIAL_WILDCARD;
		}
		if (!wire_topic_char_is_valid(t[i])) {
			return SL_SUB_PATTERN_BAD_CHAR;
		}
	}
	return SL_SUB_OK;
}

enum sl_sub_error wire_pattern_check(const uint8_t *pattern, size_t len)
{
	size_t start = 0;
	bool tail = false;

	if (len == 0) {
		return SL_SUB_PATTERN_EMPTY;
	}
	if (len > SL_WIRE_TOPIC_BYTES_MAX) {
		return SL_SUB_PATTERN_TOO_LONG;
	}
	for (size_t i = 0; i <= len; i++) {
		if (i < len && pattern[i] != '.') {
			continue;
		}
		if (i == start) {
			return SL_SUB_PATTERN_EMPTY_TOKEN;
		}
		if (tail) {
			return SL_SUB_PATTERN_TAIL_NOT_LAST;
		}
		enum sl_sub_error e = wire_pattern_token_check(pattern + start, i - start, &tail);
		if (e != SL_SUB_OK) {
			return e;
		}
		start = i + 1;
	}
	return SL_SUB_OK;
}

/* Takes the token at *at of s[0..len) and moves *at past it and its dot; false at the
 * end. Only for valid names and patterns (no empty tokens). */
static bool wire_token_next(const uint8_t *s, size_t len, size_t *at, const uint8_t **token,
			    size_t *token_len)
{
	if (*at >= len) {
		return false;
	}
	const uint8_t *start = s + *at;
	const uint8_t *dot = memchr(start, '.', len - *at);
	size_t n = dot != NULL ? (size_t)(dot - start) : len - *at;
	*token = start;
	*token_len = n;
	*at += n + 1;
	return true;
}

bool wire_pattern_matches(const uint8_t *pattern, size_t pattern_len, const uint8_t *topic,
			  size_t topic_len)
{
	size_t pat_at = 0;
	size_t top_at = 0;
	const uint8_t *p;
	const uint8_t *t;
	size_t pn;
	size_t tn;

	while (wire_token_next(pattern, pattern_len, &pat_at, &p, &pn)) {
		bool has_token = wire_token_next(topic, topic_len, &top_at, &t, &tn);
		if (pn == 1 && p[0] == '>') {
			return has_token; /* one or more tokens remain */
		}
		if (!has_token) {
			return false;
		}
		if (pn == 1 && p[0] == '*') {
			continue;
		}
		if (pn != tn || memcmp(p, t, pn) != 0) {
			return false;
		}
	}
	return top_at >= topic_len;
}

enum sl_sub_error wire_window_check(uint32_t window_batches, uint64_t window_bytes)
{
	if (window_batches == 0 && window_bytes == 0) {
		return SL_SUB_WINDOW_UNLIMITED;
	}
	if (window_batches > SL_WIRE_WINDOW_BATCHES_MAX) {
		return SL_SUB_WINDOW_BATCHES;
	}
	if (window_bytes != 0 &&
	    (window_bytes < SL_WIRE_WINDOW_BYTES_MIN || window_bytes > SL_WIRE_WINDOW_BYTES_MAX)) {
		return SL_SUB_WINDOW_BYTES;
	}
	return SL_SUB_OK;
}

/* True when the padding after n bytes at p, up to the next multiple of 8, is zero. */
static bool wire_padding_is_zero(const uint8_t *p, uint32_t n)
{
	for (uint32_t i = n; i < wire_align(n); i++) {
		if (p[i] != 0) {
			return false;
		}
	}
	return true;
}

static enum sl_sub_error wire_subscribe_group_check(const struct wire_subscribe *s)
{
	const struct sl_wire_subscribe *p = &s->params;

	if (p->group_len == 0) {
		if (p->strategy != SL_GROUP_NONE) {
			return SL_SUB_GROUP_STRATEGY;
		}
		return p->weight == 0 ? SL_SUB_OK : SL_SUB_GROUP_WEIGHT;
	}
	if (p->group_len > SL_WIRE_GROUP_BYTES_MAX ||
	    !wire_topic_is_valid(s->group, p->group_len)) {
		return SL_SUB_GROUP_NAME;
	}
	if (p->strategy == SL_GROUP_NONE || p->strategy > SL_GROUP_STRATEGY_MAX) {
		return SL_SUB_GROUP_STRATEGY;
	}
	if (p->weight == 0 || p->weight > SL_WIRE_WEIGHT_MAX) {
		return SL_SUB_GROUP_WEIGHT;
	}
	return SL_SUB_OK;
}

static enum sl_sub_error wire_subscribe_offsets_check(const struct wire_subscribe *s)
{
	const struct sl_wire_subscribe *p = &s->params;
	struct sl_wire_start_offset prev;

	if (p->start_fallback != SL_START_LATEST && p->start_fallback != SL_START_EARLIEST) {
		return SL_SUB_START_KIND;
	}
	if (p->start_value != 0) {
		return SL_SUB_START_VALUE;
	}
	if (p->offset_count == 0 || p->offset_count > SL_WIRE_START_OFFSETS_MAX) {
		return SL_SUB_START_OFFSETS;
	}
	if (!wire_topic_is_valid(s->offsets_topic, p->offsets_topic_len) ||
	    !wire_pattern_matches(s->pattern, s->pattern_len, s->offsets_topic,
				  p->offsets_topic_len)) {
		return SL_SUB_START_TOPIC;
	}
	wire_start_offset_at(s, 0, &prev);
	for (uint32_t i = 1; i < p->offset_count; i++) {
		struct sl_wire_start_offset o;
		wire_start_offset_at(s, i, &o);
		if (o.partition <= prev.partition) {
			return SL_SUB_START_PARTITION;
		}
		prev = o;
	}
	return SL_SUB_OK;
}

static enum sl_sub_error wire_subscribe_start_check(const struct wire_subscribe *s)
{
	const struct sl_wire_subscribe *p = &s->params;

	if (p->start > SL_START_MAX) {
		return SL_SUB_START_KIND;
	}
	if (p->start == SL_START_OFFSETS) {
		return wire_subscribe_offsets_check(s);
	}
	if (p->offsets_topic_len != 0 || p->offset_count != 0) {
		return SL_SUB_START_OFFSETS;
	}
	if (p->start_fallback != 0 || (p->start != SL_START_TIMESTAMP && p->start_value != 0)) {
		return SL_SUB_START_VALUE;
	}
	return SL_SUB_OK;
}

void wire_start_offset_at(const struct wire_subscribe *s, uint32_t i,
			  struct sl_wire_start_offset *out)
{
	memcpy(out, s->offsets + (size_t)i * sizeof(*out), sizeof(*out));
}

/* The layout of a SUBSCRIBE body: sizes, padding and reserved fields. Sets the name and
 * offset pointers of s. */
static enum sl_wire_reject wire_subscribe_layout(const struct wire_frame *f,
						 struct wire_subscribe *s)
{
	const struct sl_wire_subscribe *p = &s->params;
	const uint8_t *at = f->body + sizeof(*p);

	uint64_t need = sizeof(*p) + wire_align(p->group_len) + wire_align(p->offsets_topic_len) +
			(uint64_t)p->offset_count * sizeof(struct sl_wire_start_offset);
	if (need != f->body_len) {
		return SL_WIRE_REJECT_BAD_COUNT;
	}
	if (p->reserved != 0 || p->slow_policy > SL_SLOW_POLICY_MAX) {
		return SL_WIRE_REJECT_BAD_FIELD;
	}
	s->group = p->group_len > 0 ? at : NULL;
	if (!wire_padding_is_zero(at, p->group_len)) {
		return SL_WIRE_REJECT_BAD_FIELD;
	}
	at += wire_align(p->group_len);
	s->offsets_topic = p->offsets_topic_len > 0 ? at : NULL;
	if (!wire_padding_is_zero(at, p->offsets_topic_len)) {
		return SL_WIRE_REJECT_BAD_FIELD;
	}
	at += wire_align(p->offsets_topic_len);
	s->offsets = p->offset_count > 0 ? at : NULL;
	for (uint32_t i = 0; i < p->offset_count; i++) {
		struct sl_wire_start_offset o;
		wire_start_offset_at(s, i, &o);
		if (o.reserved != 0) {
			return SL_WIRE_REJECT_BAD_FIELD;
		}
	}
	return SL_WIRE_OK;
}

enum sl_wire_reject wire_subscribe_parse(const struct wire_frame *f, struct wire_subscribe *out,
					 enum sl_sub_error *why)
{
	const struct sl_wire_header *h = &f->hdr;

	memset(out, 0, sizeof(*out));
	*why = SL_SUB_OK;
	out->subscriber_id = wire_subscriber_id(h);
	out->subscription_id = wire_subscription_id(h);
	out->pattern = f->topic;
	out->pattern_len = h->topic_len;
	enum sl_sub_error e = wire_pattern_check(f->topic, h->topic_len);
	if (e != SL_SUB_OK) {
		*why = e;
		return SL_WIRE_REJECT_BAD_PATTERN;
	}
	if (f->body_len < sizeof(out->params)) {
		return SL_WIRE_REJECT_BAD_COUNT;
	}
	wire_subscribe_body_read(f->body, &out->params);
	enum sl_wire_reject r = wire_subscribe_layout(f, out);
	if (r != SL_WIRE_OK) {
		return r;
	}
	e = wire_window_check(out->params.window_batches, out->params.window_bytes);
	if (e != SL_SUB_OK) {
		*why = e;
		return SL_WIRE_REJECT_BAD_CREDIT;
	}
	e = wire_subscribe_group_check(out);
	if (e != SL_SUB_OK) {
		*why = e;
		return SL_WIRE_REJECT_BAD_GROUP;
	}
	e = wire_subscribe_start_check(out);
	if (e != SL_SUB_OK) {
		*why = e;
		return SL_WIRE_REJECT_BAD_START;
	}
	return SL_WIRE_OK;
}

enum sl_wire_reject wire_subscribed_parse(const struct wire_frame *f,
					  struct sl_wire_subscribed *out)
{
	if (f->body_len != sizeof(*out)) {
		return SL_WIRE_REJECT_BAD_COUNT;
	}
	wire_subscribed_read(f->body, out);
	if ((out->flags & ~(unsigned)SL_SUBSCRIBED_FLAGS_KNOWN) != 0 || out->reserved != 0 ||
	    out->strategy > SL_GROUP_STRATEGY_MAX || out->slow_policy > SL_SLOW_POLICY_MAX) {
		return SL_WIRE_REJECT_BAD_FIELD;
	}
	if (out->status == SL_SUB_ACTIVE) {
		bool valid = f->hdr.topic_len > 0 && out->shards > 0 &&
			     out->weight <= SL_WIRE_WEIGHT_MAX &&
			     wire_window_check(out->window_batches, out->window_bytes) == SL_SUB_OK;
		return valid ? SL_WIRE_OK : SL_WIRE_REJECT_BAD_FIELD;
	}
	if (out->status != SL_SUB_REMOVED || f->hdr.topic_len != 0) {
		return SL_WIRE_REJECT_BAD_FIELD;
	}
	static const struct sl_wire_subscribed removed = {.status = SL_SUB_REMOVED};
	return memcmp(out, &removed, sizeof(removed)) == 0 ? SL_WIRE_OK : SL_WIRE_REJECT_BAD_FIELD;
}

enum sl_wire_reject wire_heartbeat_parse(const struct wire_frame *f, struct sl_wire_heartbeat *out)
{
	if (f->body_len != sizeof(*out)) {
		return SL_WIRE_REJECT_BAD_COUNT;
	}
	memcpy(out, f->body, sizeof(*out));
	return out->subscriptions > 0 && out->reserved == 0 ? SL_WIRE_OK : SL_WIRE_REJECT_BAD_FIELD;
}

enum sl_wire_reject wire_credit_parse(const struct wire_frame *f, struct sl_wire_credit *out,
				      enum sl_sub_error *why)
{
	*why = SL_SUB_OK;
	if (f->body_len != sizeof(*out)) {
		return SL_WIRE_REJECT_BAD_COUNT;
	}
	wire_credit_read(f->body, out);
	if (out->reserved != 0) {
		return SL_WIRE_REJECT_BAD_FIELD;
	}
	*why = wire_window_check(out->window_batches, out->window_bytes);
	return *why == SL_SUB_OK ? SL_WIRE_OK : SL_WIRE_REJECT_BAD_CREDIT;
}

enum sl_wire_reject wire_deliver_parse(const struct wire_frame *f, struct wire_deliver *out)
{
	const struct sl_wire_header *h = &f->hdr;

	if (f->body_len < sizeof(out->meta)) {
		return SL_WIRE_REJECT_BAD_COUNT;
	}
	out->subscriber_id = wire_subscriber_id(h);
	out->subscription_id = wire_subscription_id(h);
	out->partition = h->partition;
	out->base_offset = h->sequence;
	out->record_count = h->record_count;
	out->topic_len = h->topic_len;
	out->topic = f->topic;
	wire_deliver_meta_read(f->body, &out->meta);
	out->records = f->body + sizeof(out->meta);
	out->records_len = f->body_len - (uint32_t)sizeof(out->meta);
	out->sent_bytes = h->aux;
	return SL_WIRE_OK;
}

/* The header fields a subscription frame may use; everything else must be zero. */
static enum sl_wire_reject wire_sub_header_check(const struct sl_wire_header *h)
{
	bool has_offset = h->type == SL_WIRE_DELIVER || h->type == SL_WIRE_CONSUMER_ACK;

	if (h->flags != 0 || h->ack_level != 0 || h->producer_id == 0) {
		return SL_WIRE_REJECT_BAD_FIELD;
	}
	/* HEARTBEAT speaks for every subscription of the subscriber, the others for one. */
	if ((h->producer_epoch == 0) != (h->type == SL_WIRE_HEARTBEAT)) {
		return SL_WIRE_REJECT_BAD_FIELD;
	}
	if (!has_offset && h->partition != 0) {
		return SL_WIRE_REJECT_BAD_FIELD;
	}
	if (h->type == SL_WIRE_CREDIT ? h->sequence > UINT16_MAX
				      : (!has_offset && h->sequence != 0)) {
		return SL_WIRE_REJECT_BAD_FIELD;
	}
	if (h->type != SL_WIRE_DELIVER && h->record_count != 0) {
		return SL_WIRE_REJECT_BAD_FIELD;
	}
	return SL_WIRE_OK;
}

/* The topic field: a pattern, a topic, or nothing, by type. */
static enum sl_wire_reject wire_sub_topic_check(struct wire_frame *f)
{
	const struct sl_wire_header *h = &f->hdr;

	switch (h->type) {
	case SL_WIRE_SUBSCRIBE:
		return SL_WIRE_OK; /* the pattern: wire_subscribe_parse() */
	case SL_WIRE_SUBSCRIBED:
		if (h->topic_len > 0) {
			f->sub_error = wire_pattern_check(f->topic, h->topic_len);
			if (f->sub_error != SL_SUB_OK) {
				return SL_WIRE_REJECT_BAD_PATTERN;
			}
		}
		return SL_WIRE_OK;
	case SL_WIRE_DELIVER:
	case SL_WIRE_CONSUMER_ACK:
		return wire_topic_is_valid(f->topic, h->topic_len) ? SL_WIRE_OK
								   : SL_WIRE_REJECT_BAD_TOPIC;
	default:
		return h->topic_len == 0 ? SL_WIRE_OK : SL_WIRE_REJECT_BAD_TOPIC;
	}
}

enum sl_wire_reject wire_sub_check(struct wire_frame *f)
{
	enum sl_wire_reject r = wire_sub_header_check(&f->hdr);

	if (r == SL_WIRE_OK) {
		r = wire_sub_topic_check(f);
	}
	if (r != SL_WIRE_OK) {
		return r;
	}
	switch (f->hdr.type) {
	case SL_WIRE_SUBSCRIBE: {
		struct wire_subscribe s;
		return wire_subscribe_parse(f, &s, &f->sub_error);
	}
	case SL_WIRE_SUBSCRIBED: {
		struct sl_wire_subscribed s;
		return wire_subscribed_parse(f, &s);
	}
	case SL_WIRE_HEARTBEAT: {
		struct sl_wire_heartbeat hb;
		return wire_heartbeat_parse(f, &hb);
	}
	case SL_WIRE_CREDIT: {
		struct sl_wire_credit c;
		return wire_credit_parse(f, &c, &f->sub_error);
	}
	case SL_WIRE_DELIVER: {
		struct wire_deliver d;
		r = wire_deliver_parse(f, &d);
		return r != SL_WIRE_OK
			       ? r
			       : wire_records_check(d.records, d.records_len, d.record_count);
	}
	case SL_WIRE_CONSUMER_ACK: /* a list of batch base offsets, maybe empty */
		return f->body_len % 8u == 0 && f->body_len / 8u <= SL_WIRE_ACK_BATCHES_MAX
			       ? SL_WIRE_OK
			       : SL_WIRE_REJECT_BAD_COUNT;
	default: /* UNSUBSCRIBE: the header says it all */
		return f->body_len == 0 ? SL_WIRE_OK : SL_WIRE_REJECT_BAD_COUNT;
	}
}

/* A header of a subscription frame: type and ids, every other field zero. */
static void wire_sub_header_init(struct sl_wire_header *h, enum sl_wire_type type,
				 uint64_t subscriber_id, uint32_t subscription_id)
{
	wire_header_init(h, type);
	h->producer_id = subscriber_id;
	h->producer_epoch = subscription_id;
}

int wire_subscribe_encode(void *buf, size_t cap, const struct wire_subscribe *s,
			  const struct sl_wire_start_offset *offsets, uint32_t *len)
{
	const struct sl_wire_subscribe *p = &s->params;
	struct sl_wire_header h;
	struct wire_builder b;
	int rc;

	SL_ASSERT(s->group != NULL || p->group_len == 0);
	SL_ASSERT(s->offsets_topic != NULL || p->offsets_topic_len == 0);
	SL_ASSERT(offsets != NULL || p->offset_count == 0);
	wire_sub_header_init(&h, SL_WIRE_SUBSCRIBE, s->subscriber_id, s->subscription_id);
	rc = wire_begin(&b, buf, cap, &h, s->pattern, s->pattern_len);
	if (rc == 0) {
		rc = wire_add_body(&b, p, sizeof(*p));
	}
	if (rc == 0) {
		rc = wire_add_body(&b, s->group, p->group_len);
	}
	if (rc == 0) {
		rc = wire_add_body(&b, s->offsets_topic, p->offsets_topic_len);
	}
	if (rc == 0) {
		rc = wire_add_body(&b, offsets, (size_t)p->offset_count * sizeof(*offsets));
	}
	if (rc == 0) {
		*len = wire_finish(&b);
	}
	return rc;
}

/* Writes a frame of header h, topic and body; shared by the fixed-shape encoders. */
static int wire_sub_encode(void *buf, size_t cap, const struct sl_wire_header *h,
			   const uint8_t *topic, size_t topic_len, const void *body,
			   size_t body_len, uint32_t *len)
{
	struct wire_builder b;
	int rc = wire_begin(&b, buf, cap, h, topic, topic_len);

	if (rc == 0) {
		rc = wire_add_body(&b, body, body_len);
	}
	if (rc == 0) {
		*len = wire_finish(&b);
	}
	return rc;
}

int wire_subscribed_encode(void *buf, size_t cap, uint64_t subscriber_id, uint32_t subscription_id,
			   const uint8_t *pattern, size_t pattern_len,
			   const struct sl_wire_subscribed *body, uint32_t *len)
{
	struct sl_wire_header h;

	wire_sub_header_init(&h, SL_WIRE_SUBSCRIBED, subscriber_id, subscription_id);
	return wire_sub_encode(buf, cap, &h, pattern, pattern_len, body, sizeof(*body), len);
}

int wire_unsubscribe_encode(void *buf, size_t cap, uint64_t subscriber_id, uint32_t subscription_id,
			    uint32_t *len)
{
	struct sl_wire_header h;

	wire_sub_header_init(&h, SL_WIRE_UNSUBSCRIBE, subscriber_id, subscription_id);
	return wire_sub_encode(buf, cap, &h, NULL, 0, NULL, 0, len);
}

int wire_heartbeat_encode(void *buf, size_t cap, uint64_t subscriber_id, uint32_t subscriptions,
			  uint32_t *len)
{
	struct sl_wire_header h;
	const struct sl_wire_heartbeat hb = {.subscriptions = subscriptions};

	wire_sub_header_init(&h, SL_WIRE_HEARTBEAT, subscriber_id, 0);
	return wire_sub_encode(buf, cap, &h, NULL, 0, &hb, sizeof(hb), len);
}

int wire_credit_encode(void *buf, size_t cap, uint64_t subscriber_id, uint32_t subscription_id,
		       uint16_t shard, const struct sl_wire_credit *c, uint32_t *len)
{
	struct sl_wire_header h;

	wire_sub_header_init(&h, SL_WIRE_CREDIT, subscriber_id, subscription_id);
	h.sequence = shard;
	return wire_sub_encode(buf, cap, &h, NULL, 0, c, sizeof(*c), len);
}

int wire_consumer_ack_encode(void *buf, size_t cap, uint64_t subscriber_id,
			     uint32_t subscription_id, const uint8_t *topic, size_t topic_len,
			     uint32_t partition, uint64_t offset, const uint64_t *bases,
			     uint32_t nbases, uint32_t *len)
{
	uint8_t body[SL_WIRE_ACK_BATCHES_MAX * 8u];
	struct sl_wire_header h;

	if (nbases > SL_WIRE_ACK_BATCHES_MAX) {
		return -EINVAL;
	}
	for (uint32_t i = 0; i < nbases; i++) {
		wire_put_u64(body + 8u * i, bases[i]);
	}
	wire_sub_header_init(&h, SL_WIRE_CONSUMER_ACK, subscriber_id, subscription_id);
	h.partition = partition;
	h.sequence = offset;
	return wire_sub_encode(buf, cap, &h, topic, topic_len, nbases > 0 ? body : NULL,
			       8u * (size_t)nbases, len);
}

int wire_deliver_head_encode(void *buf, size_t cap, const struct wire_deliver *d)
{
	struct sl_wire_header h;
	struct wire_builder b;
	uint8_t *p = buf;

	if (d->records_len % SL_WIRE_ALIGN != 0 || d->records_len > SL_WIRE_FRAME_BYTES_MAX) {
		return -EINVAL;
	}
	wire_sub_header_init(&h, SL_WIRE_DELIVER, d->subscriber_id, d->subscription_id);
	h.sequence = d->base_offset;
	h.partition = d->partition;
	h.record_count = d->record_count;
	h.aux = d->sent_bytes;
	int rc = wire_begin(&b, buf, cap, &h, d->topic, d->topic_len);
	if (rc == 0) {
		rc = wire_add_body(&b, &d->meta, sizeof(d->meta));
	}
	if (rc != 0) {
		return rc;
	}
	wire_put_u32(p + offsetof(struct sl_wire_header, payload_len),
		     b.len - SL_WIRE_HEADER_BYTES + d->records_len);
	wire_put_u32(p + offsetof(struct sl_wire_header, crc32c), 0);
	/* The CRC runs over the head, then the shared records where they lie. */
	uint32_t crc = crc32c_extend(0, p, b.len);
	crc = crc32c_extend(crc, d->records, d->records_len);
	wire_put_u32(p + offsetof(struct sl_wire_header, crc32c), crc);
	return 0;
}

int wire_deliver_encode(void *buf, size_t cap, const struct wire_deliver *d, uint32_t *len)
{
	uint32_t head = wire_deliver_head_bytes(d->topic_len);

	if ((uint64_t)head + d->records_len > cap) {
		return -EMSGSIZE;
	}
	int rc = wire_deliver_head_encode(buf, cap, d);
	if (rc != 0) {
		return rc;
	}
	if (d->records_len > 0) {
		memcpy((uint8_t *)buf + head, d->records, d->records_len);
	}
	*len = head + d->records_len;
	return 0;
}

void wire_subscribe_body_read(const uint8_t *p, struct sl_wire_subscribe *out)
{
	memcpy(out, p, sizeof(*out));
}

void wire_subscribed_read(const uint8_t *p, struct sl_wire_subscribed *out)
{
	memcpy(out, p, sizeof(*out));
}

void wire_credit_read(const uint8_t *p, struct sl_wire_credit *out)
{
	memcpy(out, p, sizeof(*out));
}

void wire_deliver_meta_read(const uint8_t *p, struct sl_wire_deliver *out)
{
	memcpy(out, p, sizeof(*out));
}
