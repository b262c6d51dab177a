/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Wire protocol v1 decoder and encoder. The decoder is the gate every datagram passes
 * before anything trusts it; the checks run cheapest first and each failure has its own
 * reason so that operators can tell a bad client from a bad network. Structs are copied
 * with memcpy because the wire is little-endian like every host sluice supports.
 */
#include "core/wire.h"

#include "core/crc32c.h"
#include "core/wire_int.h"

#include <errno.h>
#include <string.h>

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	      "sluice v1 copies wire structs directly: little-endian hosts only");

static const char *const wire_reject_names[] = {
	[SL_WIRE_OK] = "ok",
	[SL_WIRE_REJECT_TRUNCATED] = "truncated",
	[SL_WIRE_REJECT_BAD_MAGIC] = "bad magic",
	[SL_WIRE_REJECT_BAD_VERSION] = "unsupported version",
	[SL_WIRE_REJECT_BAD_TYPE] = "unknown frame type",
	[SL_WIRE_REJECT_BAD_CRC] = "bad crc",
	[SL_WIRE_REJECT_TOO_LARGE] = "too large",
	[SL_WIRE_REJECT_MISALIGNED] = "misaligned",
	[SL_WIRE_REJECT_BAD_COUNT] = "inconsistent record count",
	[SL_WIRE_REJECT_BAD_FIELD] = "bad field",
	[SL_WIRE_REJECT_BAD_TOPIC] = "invalid topic name",
	[SL_WIRE_REJECT_BAD_PATTERN] = "invalid pattern",
	[SL_WIRE_REJECT_BAD_CREDIT] = "bad credit window",
	[SL_WIRE_REJECT_BAD_GROUP] = "bad consumer group",
	[SL_WIRE_REJECT_BAD_START] = "bad start position",
};

static const char *const wire_nack_names[] = {
	[0] = "none",
	[SL_NACK_MALFORMED] = "malformed",
	[SL_NACK_BAD_CRC] = "bad crc",
	[SL_NACK_UNSUPPORTED_VERSION] = "unsupported version",
	[SL_NACK_UNKNOWN_TOPIC] = "unknown topic or partition",
	[SL_NACK_TOO_LARGE] = "too large",
	[SL_NACK_BUSY] = "busy",
	[SL_NACK_STORAGE] = "storage unavailable",
	[SL_NACK_UNAUTHORIZED] = "unauthorized",
	[SL_NACK_OUT_OF_SEQUENCE] = "out of sequence",
	[SL_NACK_FENCED] = "fenced by a newer producer epoch",
	[SL_NACK_UNSUPPORTED_TYPE] = "unsupported frame type",
	[SL_NACK_BAD_PATTERN] = "invalid pattern",
	[SL_NACK_BAD_CREDIT] = "bad credit",
	[SL_NACK_BAD_GROUP] = "bad consumer group",
	[SL_NACK_BAD_START] = "bad start position",
	[SL_NACK_CONFLICT] = "subscription conflict",
	[SL_NACK_UNKNOWN_SUBSCRIPTION] = "unknown subscription",
	[SL_NACK_SUBSCRIPTIONS_FULL] = "subscription table full",
	[SL_NACK_UNKNOWN_OFFSET] = "ack for an offset not delivered",
	[SL_NACK_GROUPS_FULL] = "consumer group table full",
	[SL_NACK_GROUP_FULL] = "consumer group full",
	[SL_NACK_START_OFFSETS_FULL] = "start offset pool full",
};

static const char *const wire_type_names[] = {
	[SL_WIRE_PRODUCE] = "produce",
	[SL_WIRE_ACK] = "ack",
	[SL_WIRE_NACK] = "nack",
	[SL_WIRE_METADATA_REQUEST] = "metadata request",
	[SL_WIRE_METADATA_RESPONSE] = "metadata response",
	[SL_WIRE_STATS_REQUEST] = "stats request",
	[SL_WIRE_STATS_RESPONSE] = "stats response",
	[SL_WIRE_PING] = "ping",
	[SL_WIRE_PONG] = "pong",
	[SL_WIRE_SUBSCRIBE] = "subscribe",
	[SL_WIRE_DELIVER] = "deliver",
	[SL_WIRE_CREDIT] = "credit",
	[SL_WIRE_CONSUMER_ACK] = "consumer ack",
	[SL_WIRE_UNSUBSCRIBE] = "unsubscribe",
	[SL_WIRE_HEARTBEAT] = "heartbeat",
	[SL_WIRE_SUBSCRIBED] = "subscribed",
};

static const char *const wire_stat_names[SL_STAT_COUNT] = {
	[SL_STAT_RX_DATAGRAMS] = "rx_datagrams",
	[SL_STAT_RX_BYTES] = "rx_bytes",
	[SL_STAT_TX_DATAGRAMS] = "tx_datagrams",
	[SL_STAT_TX_BYTES] = "tx_bytes",
	[SL_STAT_TX_DROP_FULL] = "tx_drop_full",
	[SL_STAT_PRODUCE_FRAMES] = "produce_frames",
	[SL_STAT_APPENDED_BATCHES] = "appended_batches",
	[SL_STAT_APPENDED_EVENTS] = "appended_events",
	[SL_STAT_APPENDED_BYTES] = "appended_bytes",
	[SL_STAT_DUPLICATES] = "duplicates",
	[SL_STAT_ACKS] = "acks",
	[SL_STAT_NACKS] = "nacks",
	[SL_STAT_MESH_OUT] = "mesh_out",
	[SL_STAT_MESH_IN] = "mesh_in",
	[SL_STAT_DROP_MESH_FULL] = "drop_mesh_full",
	[SL_STAT_DROP_NOMBUF] = "drop_nombuf",
	[SL_STAT_DROP_TRUNCATED] = "drop_truncated",
	[SL_STAT_DROP_BAD_MAGIC] = "drop_bad_magic",
	[SL_STAT_DROP_BAD_VERSION] = "drop_bad_version",
	[SL_STAT_DROP_BAD_TYPE] = "drop_bad_type",
	[SL_STAT_DROP_BAD_CRC] = "drop_bad_crc",
	[SL_STAT_DROP_TOO_LARGE] = "drop_too_large",
	[SL_STAT_DROP_MISALIGNED] = "drop_misaligned",
	[SL_STAT_DROP_BAD_COUNT] = "drop_bad_count",
	[SL_STAT_DROP_BAD_FIELD] = "drop_bad_field",
	[SL_STAT_DROP_BAD_TOPIC] = "drop_bad_topic",
	[SL_STAT_DROP_UNKNOWN_TOPIC] = "drop_unknown_topic",
	[SL_STAT_DROP_OUT_OF_SEQUENCE] = "drop_out_of_sequence",
	[SL_STAT_DROP_FENCED] = "drop_fenced",
	[SL_STAT_DROP_STORAGE] = "drop_storage",
	[SL_STAT_DROP_PRODUCERS_FULL] = "drop_producers_full",
	[SL_STAT_DROP_PARTITIONS_FULL] = "drop_partitions_full",
	[SL_STAT_DROP_UNEXPECTED] = "drop_unexpected",
	[SL_STAT_METADATA_REQUESTS] = "metadata_requests",
	[SL_STAT_STATS_REQUESTS] = "stats_requests",
	[SL_STAT_PINGS] = "pings",
	[SL_STAT_NET_RX_FRAMES] = "net_rx_frames",
	[SL_STAT_NET_TX_FRAMES] = "net_tx_frames",
	[SL_STAT_NET_TX_DROP_FULL] = "net_tx_drop_full",
	[SL_STAT_NET_TX_DROP_NO_ARP] = "net_tx_drop_no_arp",
	[SL_STAT_NET_TX_DROP_NO_HEADROOM] = "net_tx_drop_no_headroom",
	[SL_STAT_NET_RX_MULTISEG] = "net_rx_multiseg",
	[SL_STAT_NET_RX_VLAN] = "net_rx_vlan",
	[SL_STAT_NET_NOT_IPV4] = "net_not_ipv4",
	[SL_STAT_NET_NOT_UDP] = "net_not_udp",
	[SL_STAT_NET_NOT_FOR_US] = "net_not_for_us",
	[SL_STAT_NET_IP_BAD_CHECKSUM] = "net_ip_bad_checksum",
	[SL_STAT_NET_IP_BAD_HEADER] = "net_ip_bad_header",
	[SL_STAT_NET_IP_FRAGMENT] = "net_ip_fragment",
	[SL_STAT_NET_UDP_BAD_CHECKSUM] = "net_udp_bad_checksum",
	[SL_STAT_NET_UDP_BAD_LENGTH] = "net_udp_bad_length",
	[SL_STAT_NET_ARP_REQUESTS_ANSWERED] = "net_arp_requests_answered",
	[SL_STAT_NET_ARP_REPLIES_LEARNED] = "net_arp_replies_learned",
	[SL_STAT_NET_ARP_OTHER] = "net_arp_other",
	[SL_STAT_NET_ARP_EVICTED] = "net_arp_evicted",
	[SL_STAT_NET_ICMP_ECHO_ANSWERED] = "net_icmp_echo_answered",
	[SL_STAT_NET_ICMP_OTHER] = "net_icmp_other",
	[SL_STAT_NET_PORT_IMISSED] = "net_port_imissed", /* udp: socket buffer full */
	[SL_STAT_NET_PORT_RX_NOMBUF] = "net_port_rx_nombuf",
	[SL_STAT_NET_PORT_IERRORS] = "net_port_ierrors",
	[SL_STAT_NET_PORT_OERRORS] = "net_port_oerrors",
	[SL_STAT_DROP_JOURNAL_BUSY] = "drop_journal_busy",
	[SL_STAT_DURABLE_ACKS] = "durable_acks",
	[SL_STAT_DURABLE_NACKS] = "durable_nacks",
	[SL_STAT_JOURNAL_BATCHES] = "journal_batches",
	[SL_STAT_JOURNAL_BYTES] = "journal_bytes",
	[SL_STAT_JOURNAL_WRITES] = "journal_writes",
	[SL_STAT_JOURNAL_WRITE_BYTES] = "journal_write_bytes",
	[SL_STAT_JOURNAL_FSYNCS] = "journal_fsyncs",
	[SL_STAT_JOURNAL_FLUSH_SIZE] = "journal_flush_size",
	[SL_STAT_JOURNAL_FLUSH_TIME] = "journal_flush_time",
	[SL_STAT_JOURNAL_FLUSH_ROLL] = "journal_flush_roll",
	[SL_STAT_JOURNAL_FLUSH_CLOSE] = "journal_flush_close",
	[SL_STAT_JOURNAL_BUSY] = "journal_busy",
	[SL_STAT_JOURNAL_STORAGE_ERRORS] = "journal_storage_errors",
	[SL_STAT_JOURNAL_SEGMENTS_CREATED] = "journal_segments_created",
	[SL_STAT_JOURNAL_SEGMENTS_DELETED] = "journal_segments_deleted",
	[SL_STAT_JOURNAL_RETENTION_BYTES] = "journal_retention_bytes",
	[SL_STAT_JOURNAL_ROLL_WAITS] = "journal_roll_waits",
	[SL_STAT_JOURNAL_TORN_TRUNCATIONS] = "journal_torn_truncations",
	[SL_STAT_JOURNAL_FSYNC_US_LT_50] = "journal_fsync_us_lt_50",
	[SL_STAT_JOURNAL_FSYNC_US_LT_100] = "journal_fsync_us_lt_100",
	[SL_STAT_JOURNAL_FSYNC_US_LT_200] = "journal_fsync_us_lt_200",
	[SL_STAT_JOURNAL_FSYNC_US_LT_500] = "journal_fsync_us_lt_500",
	[SL_STAT_JOURNAL_FSYNC_US_LT_1000] = "journal_fsync_us_lt_1000",
	[SL_STAT_JOURNAL_FSYNC_US_LT_2000] = "journal_fsync_us_lt_2000",
	[SL_STAT_JOURNAL_FSYNC_US_LT_5000] = "journal_fsync_us_lt_5000",
	[SL_STAT_JOURNAL_FSYNC_US_LT_20000] = "journal_fsync_us_lt_20000",
	[SL_STAT_JOURNAL_FSYNC_US_GE_20000] = "journal_fsync_us_ge_20000",
	[SL_STAT_JOURNAL_INDEX_BUILT] = "journal_index_built",
	[SL_STAT_JOURNAL_INDEX_REBUILT] = "journal_index_rebuilt",
	[SL_STAT_JOURNAL_READS] = "journal_reads",
	[SL_STAT_JOURNAL_READ_BYTES] = "journal_read_bytes",
	[SL_STAT_JOURNAL_CURSOR_GAPS] = "journal_cursor_gaps",
	[SL_STAT_JOURNAL_ZERO_FILL_BYTES] = "journal_zero_fill_bytes",
	[SL_STAT_JOURNAL_SEGMENTS_RECYCLED] = "journal_segments_recycled",
	[SL_STAT_JOURNAL_SEGMENTS_REUSED] = "journal_segments_reused",
	[SL_STAT_NUMA_REMOTE] = "numa_remote",
	[SL_STAT_REDELIVERIES_ORPHANED] = "redeliveries_orphaned",
	[SL_STAT_JOURNAL_MAINT_ERRORS] = "journal_maint_errors",
	[SL_STAT_DROP_BAD_PATTERN] = "drop_bad_pattern",
	[SL_STAT_DROP_BAD_CREDIT] = "drop_bad_credit",
	[SL_STAT_DROP_BAD_GROUP] = "drop_bad_group",
	[SL_STAT_DROP_BAD_START] = "drop_bad_start",
	[SL_STAT_SUBSCRIBES] = "subscribes",
	[SL_STAT_UNSUBSCRIBES] = "unsubscribes",
	[SL_STAT_SUBSCRIBER_TIMEOUTS] = "subscriber_timeouts",
	[SL_STAT_DELIVERIES] = "deliveries",
	[SL_STAT_DELIVERED_BYTES] = "delivered_bytes",
	[SL_STAT_CREDIT_STALLS] = "credit_stalls",
	[SL_STAT_DROP_POLICY_SKIPS] = "drop_policy_skips",
	[SL_STAT_UNKNOWN_SUBSCRIPTION] = "unknown_subscription",
	[SL_STAT_DROP_SUBSCRIPTION_DIVERGED] = "drop_subscription_diverged",
	[SL_STAT_REPLAY_CURSOR_WAITS] = "replay_cursor_waits",
	[SL_STAT_REPLAY_FAILURES] = "replay_failures",
	[SL_STAT_CONSUMER_ACKS] = "consumer_acks",
	[SL_STAT_ACKS_UNKNOWN_OFFSET] = "acks_unknown_offset",
	[SL_STAT_REDELIVERIES] = "redeliveries",
	[SL_STAT_DEAD_LETTERS] = "dead_letters",
	[SL_STAT_DEAD_LETTERS_SENT] = "dead_letters_sent",
	[SL_STAT_DEAD_LETTERS_LOST] = "dead_letters_lost",
	[SL_STAT_CREDIT_RESETS] = "credit_resets",
	[SL_STAT_CREDIT_TIMEOUTS] = "credit_timeouts",
};

const char *wire_reject_name(enum sl_wire_reject r)
{
	if ((unsigned)r > SL_WIRE_REJECT_MAX) {
		return "unknown";
	}
	return wire_reject_names[r];
}

const char *wire_nack_reason_name(unsigned reason)
{
	if (reason > SL_NACK_REASON_MAX) {
		return "unknown";
	}
	return wire_nack_names[reason];
}

const char *wire_type_name(unsigned type)
{
	if (type > SL_WIRE_TYPE_MAX || wire_type_names[type] == NULL) {
		return "unknown";
	}
	return wire_type_names[type];
}

const char *wire_stat_name(unsigned stat)
{
	if (stat >= SL_STAT_COUNT) {
		return NULL;
	}
	return wire_stat_names[stat];
}

enum sl_nack_reason wire_reject_nack_reason(enum sl_wire_reject r)
{
	switch (r) {
	case SL_WIRE_REJECT_BAD_CRC:
		return SL_NACK_BAD_CRC;
	case SL_WIRE_REJECT_BAD_VERSION:
		return SL_NACK_UNSUPPORTED_VERSION;
	case SL_WIRE_REJECT_TOO_LARGE:
		return SL_NACK_TOO_LARGE;
	case SL_WIRE_REJECT_BAD_TYPE:
		return SL_NACK_UNSUPPORTED_TYPE;
	case SL_WIRE_REJECT_BAD_PATTERN:
		return SL_NACK_BAD_PATTERN;
	case SL_WIRE_REJECT_BAD_CREDIT:
		return SL_NACK_BAD_CREDIT;
	case SL_WIRE_REJECT_BAD_GROUP:
		return SL_NACK_BAD_GROUP;
	case SL_WIRE_REJECT_BAD_START:
		return SL_NACK_BAD_START;
	default:
		return SL_NACK_MALFORMED;
	}
}

enum sl_stat wire_reject_stat(enum sl_wire_reject r)
{
	switch (r) {
	case SL_WIRE_REJECT_TRUNCATED:
		return SL_STAT_DROP_TRUNCATED;
	case SL_WIRE_REJECT_BAD_MAGIC:
		return SL_STAT_DROP_BAD_MAGIC;
	case SL_WIRE_REJECT_BAD_VERSION:
		return SL_STAT_DROP_BAD_VERSION;
	case SL_WIRE_REJECT_BAD_TYPE:
		return SL_STAT_DROP_BAD_TYPE;
	case SL_WIRE_REJECT_BAD_CRC:
		return SL_STAT_DROP_BAD_CRC;
	case SL_WIRE_REJECT_TOO_LARGE:
		return SL_STAT_DROP_TOO_LARGE;
	case SL_WIRE_REJECT_MISALIGNED:
		return SL_STAT_DROP_MISALIGNED;
	case SL_WIRE_REJECT_BAD_COUNT:
		return SL_STAT_DROP_BAD_COUNT;
	case SL_WIRE_REJECT_BAD_TOPIC:
		return SL_STAT_DROP_BAD_TOPIC;
	case SL_WIRE_REJECT_BAD_PATTERN:
		return SL_STAT_DROP_BAD_PATTERN;
	case SL_WIRE_REJECT_BAD_CREDIT:
		return SL_STAT_DROP_BAD_CREDIT;
	case SL_WIRE_REJECT_BAD_GROUP:
		return SL_STAT_DROP_BAD_GROUP;
	case SL_WIRE_REJECT_BAD_START:
		return SL_STAT_DROP_BAD_START;
	default:
		return SL_STAT_DROP_BAD_FIELD;
	}
}

uint32_t wire_reject_nack_detail(enum sl_wire_reject r, const struct wire_frame *f)
{
	return f->sub_error != SL_SUB_OK ? (uint32_t)f->sub_error : (uint32_t)r;
}

bool wire_topic_is_valid(const uint8_t *name, size_t len)
{
	size_t token_len = 0;

	if (len == 0 || len > SL_WIRE_TOPIC_BYTES_MAX) {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		if (name[i] == '.') {
			if (token_len == 0) {
				return false;
			}
			token_len = 0;
		} else if (wire_topic_char_is_valid(name[i])) {
			token_len++;
		} else {
			return false;
		}
	}
	return token_len > 0;
}

static bool wire_type_is_known(unsigned type)
{
	return (type >= SL_WIRE_PRODUCE && type <= SL_WIRE_PONG) || wire_type_is_subscription(type);
}

uint32_t wire_frame_crc(const void *buf, size_t len)
{
	static const uint8_t zero[4];
	const uint8_t *p = buf;
	const size_t crc_at = offsetof(struct sl_wire_header, crc32c);
	uint32_t crc = crc32c_extend(0, p, crc_at);

	crc = crc32c_extend(crc, zero, sizeof(zero));
	return crc32c_extend(crc, p + crc_at + 4, len - crc_at - 4);
}

enum sl_wire_reject wire_records_check(const uint8_t *body, uint32_t body_len,
				       uint16_t record_count)
{
	const uint8_t *p = body;
	const uint8_t *end = body + body_len;
	uint32_t count = 0;

	if (record_count == 0) {
		return SL_WIRE_REJECT_BAD_COUNT;
	}
	while (p < end) {
		if ((size_t)(end - p) < SL_WIRE_RECORD_HEADER_BYTES) {
			return SL_WIRE_REJECT_BAD_COUNT;
		}
		uint32_t value_len = wire_get_u32(p);
		uint16_t key_len = wire_get_u16(p + 4);
		uint16_t attributes = wire_get_u16(p + 6);
		if (attributes != 0) {
			return SL_WIRE_REJECT_BAD_FIELD;
		}
		uint64_t need = (uint64_t)SL_WIRE_RECORD_HEADER_BYTES + key_len + value_len;
		if (need > (uint64_t)(end - p)) {
			return SL_WIRE_REJECT_BAD_COUNT;
		}
		p += wire_align((uint32_t)need);
		count++;
		if (count > record_count) {
			return SL_WIRE_REJECT_BAD_COUNT;
		}
	}
	/* p > end only when padding of the last record runs past the body: a body that is
	 * a multiple of 8 cannot do that; keep the check anyway. */
	if (p != end || count != record_count) {
		return SL_WIRE_REJECT_BAD_COUNT;
	}
	return SL_WIRE_OK;
}

static enum sl_wire_reject wire_check_body(struct wire_frame *f)
{
	if (wire_type_is_subscription(f->hdr.type)) {
		return wire_sub_check(f);
	}
	switch (f->hdr.type) {
	case SL_WIRE_PRODUCE:
		if (!wire_topic_is_valid(f->topic, f->hdr.topic_len)) {
			return SL_WIRE_REJECT_BAD_TOPIC;
		}
		if (f->hdr.ack_level > SL_ACKS_MAX) {
			return SL_WIRE_REJECT_BAD_FIELD;
		}
		return wire_records_check(f->body, f->body_len, f->hdr.record_count);
	case SL_WIRE_ACK:
	case SL_WIRE_NACK:
		return f->body_len == 16 ? SL_WIRE_OK : SL_WIRE_REJECT_BAD_COUNT;
	case SL_WIRE_METADATA_REQUEST:
	case SL_WIRE_STATS_REQUEST:
		if (f->hdr.topic_len > 0 && !wire_topic_is_valid(f->topic, f->hdr.topic_len)) {
			return SL_WIRE_REJECT_BAD_TOPIC;
		}
		return f->body_len == 0 ? SL_WIRE_OK : SL_WIRE_REJECT_BAD_COUNT;
	case SL_WIRE_METADATA_RESPONSE: {
		if (f->body_len < sizeof(struct sl_wire_metadata)) {
			return SL_WIRE_REJECT_BAD_COUNT;
		}
		struct sl_wire_metadata m;
		wire_metadata_read(f->body, &m);
		const uint8_t *p = f->body + sizeof(m);
		const uint8_t *end = f->body + f->body_len;
		for (unsigned i = 0; i < m.topic_count; i++) {
			if ((size_t)(end - p) < sizeof(struct sl_wire_topic_entry)) {
				return SL_WIRE_REJECT_BAD_COUNT;
			}
			uint32_t step = 8 + wire_align(p[4]);
			if (step > (size_t)(end - p)) {
				return SL_WIRE_REJECT_BAD_COUNT;
			}
			p += step;
		}
		return p == end ? SL_WIRE_OK : SL_WIRE_REJECT_BAD_COUNT;
	}
	case SL_WIRE_STATS_RESPONSE: {
		if (f->body_len < sizeof(struct sl_wire_stats)) {
			return SL_WIRE_REJECT_BAD_COUNT;
		}
		struct sl_wire_stats s;
		wire_stats_read(f->body, &s);
		uint64_t need = sizeof(s) + (uint64_t)s.counter_count * 8;
		return need == f->body_len ? SL_WIRE_OK : SL_WIRE_REJECT_BAD_COUNT;
	}
	default:
		/* PING/PONG carry an opaque body. */
		return SL_WIRE_OK;
	}
}

enum sl_wire_reject wire_decode(const void *buf, size_t len, size_t frame_bytes_max,
				struct wire_frame *out)
{
	const uint8_t *p = buf;
	struct sl_wire_header *h = &out->hdr;

	memset(out, 0, sizeof(*out));
	if (len < SL_WIRE_HEADER_BYTES) {
		return SL_WIRE_REJECT_TRUNCATED;
	}
	memcpy(h, p, sizeof(*h));
	if (h->magic != SL_WIRE_MAGIC) {
		return SL_WIRE_REJECT_BAD_MAGIC;
	}
	if (h->version != SL_WIRE_VERSION) {
		return SL_WIRE_REJECT_BAD_VERSION;
	}
	if (len > frame_bytes_max) {
		return SL_WIRE_REJECT_TOO_LARGE;
	}
	if (h->payload_len % SL_WIRE_ALIGN != 0) {
		return SL_WIRE_REJECT_MISALIGNED;
	}
	if ((uint64_t)h->payload_len + SL_WIRE_HEADER_BYTES > len) {
		return SL_WIRE_REJECT_TRUNCATED;
	}
	if ((uint64_t)h->payload_len + SL_WIRE_HEADER_BYTES < len) {
		return SL_WIRE_REJECT_BAD_FIELD; /* trailing bytes after the frame */
	}
	if (!wire_type_is_known(h->type)) {
		return SL_WIRE_REJECT_BAD_TYPE;
	}
	/* aux is DELIVER's sent_bytes and zero everywhere else. */
	if ((h->flags & ~(unsigned)SL_WIRE_FLAGS_KNOWN) != 0 ||
	    (h->aux != 0 && h->type != SL_WIRE_DELIVER)) {
		return SL_WIRE_REJECT_BAD_FIELD;
	}
	if (wire_align(h->topic_len) > h->payload_len) {
		return SL_WIRE_REJECT_TRUNCATED;
	}
	if (wire_frame_crc(p, len) != h->crc32c) {
		return SL_WIRE_REJECT_BAD_CRC;
	}
	out->base = p;
	out->len = (uint32_t)len;
	out->topic = p + SL_WIRE_HEADER_BYTES;
	out->body = p + wire_prefix_bytes(h->topic_len);
	out->body_len = h->payload_len - wire_align(h->topic_len);
	return wire_check_body(out);
}

void wire_record_iter_init(struct wire_record_iter *it, const struct wire_frame *f)
{
	it->next = f->body;
	it->end = f->body + f->body_len;
}

bool wire_record_next(struct wire_record_iter *it, struct wire_record *out)
{
	const uint8_t *p = it->next;

	if (p >= it->end) {
		return false;
	}
	out->value_len = wire_get_u32(p);
	out->key_len = wire_get_u16(p + 4);
	out->timestamp_ns = wire_get_u64(p + 8);
	out->key = p + SL_WIRE_RECORD_HEADER_BYTES;
	out->value = out->key + out->key_len;
	it->next = p + wire_record_bytes(out->key_len, out->value_len);
	return true;
}

void wire_header_init(struct sl_wire_header *h, enum sl_wire_type type)
{
	memset(h, 0, sizeof(*h));
	h->magic = SL_WIRE_MAGIC;
	h->version = SL_WIRE_VERSION;
	h->type = (uint8_t)type;
}

void wire_reply_header(struct sl_wire_header *reply, const struct sl_wire_header *req,
		       enum sl_wire_type type)
{
	wire_header_init(reply, type);
	reply->producer_id = req->producer_id;
	reply->sequence = req->sequence;
	reply->producer_epoch = req->producer_epoch;
	reply->partition = req->partition;
	reply->topic_len = req->topic_len;
	reply->ack_level = req->ack_level;
}

int wire_begin(struct wire_builder *b, void *buf, size_t cap, const struct sl_wire_header *h,
	       const void *topic, size_t topic_len)
{
	if (topic_len > SL_WIRE_TOPIC_BYTES_MAX) {
		return -EINVAL;
	}
	uint32_t prefix = wire_prefix_bytes((uint32_t)topic_len);
	if (cap < prefix) {
		return -EMSGSIZE;
	}
	b->buf = buf;
	b->cap = cap > UINT32_MAX ? UINT32_MAX : (uint32_t)cap;
	b->records = 0;
	memcpy(b->buf, h, sizeof(*h));
	b->buf[offsetof(struct sl_wire_header, topic_len)] = (uint8_t)topic_len;
	if (topic_len > 0) {
		memcpy(b->buf + SL_WIRE_HEADER_BYTES, topic, topic_len);
	}
	memset(b->buf + SL_WIRE_HEADER_BYTES + topic_len, 0,
	       prefix - SL_WIRE_HEADER_BYTES - topic_len);
	b->len = prefix;
	return 0;
}

int wire_add_record(struct wire_builder *b, const void *key, size_t key_len, const void *value,
		    size_t value_len, uint64_t timestamp_ns)
{
	if (key_len > UINT16_MAX || value_len > UINT32_MAX - 64) {
		return -EINVAL;
	}
	uint64_t need = wire_record_bytes((uint32_t)key_len, (uint32_t)value_len);
	if (need > (uint64_t)(b->cap - b->len) || b->records >= SL_WIRE_RECORDS_MAX) {
		return -EMSGSIZE;
	}
	uint8_t *p = b->buf + b->len;
	wire_put_u32(p, (uint32_t)value_len);
	wire_put_u16(p + 4, (uint16_t)key_len);
	wire_put_u16(p + 6, 0);
	wire_put_u64(p + 8, timestamp_ns);
	p += SL_WIRE_RECORD_HEADER_BYTES;
	if (key_len > 0) {
		memcpy(p, key, key_len);
	}
	if (value_len > 0) {
		memcpy(p + key_len, value, value_len);
	}
	size_t used = SL_WIRE_RECORD_HEADER_BYTES + key_len + value_len;
	memset(b->buf + b->len + used, 0, need - used);
	b->len += (uint32_t)need;
	b->records++;
	return 0;
}

int wire_add_body(struct wire_builder *b, const void *data, size_t len)
{
	if (len > UINT32_MAX - 8) {
		return -EMSGSIZE;
	}
	uint32_t need = wire_align((uint32_t)len);
	if (need > b->cap - b->len) {
		return -EMSGSIZE;
	}
	if (len > 0) {
		memcpy(b->buf + b->len, data, len);
	}
	memset(b->buf + b->len + len, 0, need - len);
	b->len += need;
	return 0;
}

uint32_t wire_finish(struct wire_builder *b)
{
	uint8_t *p = b->buf;

	wire_put_u32(p + offsetof(struct sl_wire_header, payload_len),
		     b->len - SL_WIRE_HEADER_BYTES);
	if (p[offsetof(struct sl_wire_header, type)] == SL_WIRE_PRODUCE) {
		wire_put_u16(p + offsetof(struct sl_wire_header, record_count),
			     (uint16_t)b->records);
	}
	wire_put_u32(p + offsetof(struct sl_wire_header, crc32c), 0);
	wire_put_u32(p + offsetof(struct sl_wire_header, crc32c), wire_frame_crc(p, b->len));
	return b->len;
}

void wire_ack_read(const uint8_t *p, struct sl_wire_ack *out)
{
	memcpy(out, p, sizeof(*out));
}

void wire_ack_write(uint8_t *p, const struct sl_wire_ack *in)
{
	memcpy(p, in, sizeof(*in));
}

void wire_nack_read(const uint8_t *p, struct sl_wire_nack *out)
{
	memcpy(out, p, sizeof(*out));
}

void wire_nack_write(uint8_t *p, const struct sl_wire_nack *in)
{
	memcpy(p, in, sizeof(*in));
}

void wire_metadata_read(const uint8_t *p, struct sl_wire_metadata *out)
{
	memcpy(out, p, sizeof(*out));
}

void wire_metadata_write(uint8_t *p, const struct sl_wire_metadata *in)
{
	memcpy(p, in, sizeof(*in));
}

void wire_stats_read(const uint8_t *p, struct sl_wire_stats *out)
{
	memcpy(out, p, sizeof(*out));
}

void wire_stats_write(uint8_t *p, const struct sl_wire_stats *in)
{
	memcpy(p, in, sizeof(*in));
}
