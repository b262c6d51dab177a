/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sluice wire protocol, version 1: the layout of every frame exchanged between
 * producers, consumers and the router. A frame is exactly one UDP datagram: a fixed
 * 48-byte little-endian header, the topic name padded to 8 bytes, then a body whose
 * shape depends on the frame type. docs/PROTOCOL.md is the prose version of this file.
 * Frames are byte streams: read them with the decoder in libsluice, never by casting
 * a datagram pointer to these structs (a datagram need not be aligned in memory).
 */
#ifndef SLUICE_WIRE_H
#define SLUICE_WIRE_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* "SLCE" as bytes on the wire. */
#define SL_WIRE_MAGIC 0x45434c53u
#define SL_WIRE_VERSION 1u

/* Every frame, record and body starts on a multiple of this, counted from the frame start. */
#define SL_WIRE_ALIGN 8u
#define SL_WIRE_HEADER_BYTES 48u
#define SL_WIRE_RECORD_HEADER_BYTES 16u
#define SL_WIRE_TOPIC_BYTES_MAX 255u
/* UDP payload of a 1500-byte MTU path (1500 - 20 IPv4 - 8 UDP). */
#define SL_WIRE_FRAME_BYTES_DEFAULT 1472u
/* UDP payload of a 9000-byte jumbo MTU path. */
#define SL_WIRE_FRAME_BYTES_MAX 8972u
#define SL_WIRE_FRAME_BYTES_MIN 256u
#define SL_WIRE_RECORDS_MAX 65535u

enum sl_wire_type {
	SL_WIRE_PRODUCE = 1,
	SL_WIRE_ACK = 2,
	SL_WIRE_NACK = 3,
	SL_WIRE_METADATA_REQUEST = 4,
	SL_WIRE_METADATA_RESPONSE = 5,
	SL_WIRE_STATS_REQUEST = 6,
	SL_WIRE_STATS_RESPONSE = 7,
	SL_WIRE_PING = 8,
	SL_WIRE_PONG = 9,
	/* Reserved for subscriptions (a later version); the v1 router NACKs them. */
	SL_WIRE_SUBSCRIBE = 16,
	SL_WIRE_DELIVER = 17,
	SL_WIRE_CREDIT = 18,
	SL_WIRE_CONSUMER_ACK = 19,
	SL_WIRE_UNSUBSCRIBE = 20,
	SL_WIRE_HEARTBEAT = 21,
	SL_WIRE_TYPE_MAX = 21,
};

/* Header flags. */
enum sl_wire_flag {
	/* METADATA_RESPONSE: more topics exist than fit in this datagram. */
	SL_WIRE_FLAG_TRUNCATED = 1u << 0,
	/*
	 * PRODUCE: every earlier sequence of this stream (producer id, epoch, topic,
	 * partition) has been acknowledged or abandoned by the producer (with acks=none:
	 * every batch). Only such a batch may start a stream the router has no state for
	 * (a new producer, a new epoch, state it forgot) or skip ahead of the sequence the
	 * router expects; any other batch is answered OUT_OF_SEQUENCE, so the router never
	 * mistakes an unappended batch for a duplicate.
	 */
	SL_WIRE_FLAG_STREAM_HEAD = 1u << 1,
	SL_WIRE_FLAGS_KNOWN = SL_WIRE_FLAG_TRUNCATED | SL_WIRE_FLAG_STREAM_HEAD,
};

enum sl_ack_level {
	SL_ACKS_NONE = 0,     /* fire and forget: the router sends nothing back */
	SL_ACKS_RECEIVED = 1, /* acked once the owner shard assigned offsets */
	SL_ACKS_DURABLE = 2,  /* acked once the batch is on stable storage */
	SL_ACKS_MAX = 2,
};

/*
 * Frame header. All fields little-endian.
 * sequence: per (producer id, epoch, topic, partition), starting at 0 and strictly
 * consecutive; the router appends sequence n only after n-1 (or as a STREAM_HEAD) and
 * answers a sequence it has already appended with an ACK (status DUPLICATE) carrying
 * the original offsets when it is one of the last stream_batches_max (METADATA).
 * crc32c: CRC32C (Castagnoli) of the whole frame (header + payload_len bytes) computed
 * with this field set to zero.
 */
struct sl_wire_header {
	uint32_t magic;		 /* SL_WIRE_MAGIC */
	uint8_t version;	 /* SL_WIRE_VERSION */
	uint8_t type;		 /* enum sl_wire_type */
	uint16_t flags;		 /* enum sl_wire_flag; unknown bits are rejected */
	uint64_t producer_id;	 /* PRODUCE/ACK/NACK: the producer; requests: a request id */
	uint64_t sequence;	 /* PRODUCE/ACK/NACK: batch sequence; STATS_REQUEST: shard */
	uint32_t producer_epoch; /* bumped when a producer restarts with the same id */
	uint32_t partition;	 /* PRODUCE/ACK/NACK: partition of the topic */
	uint32_t payload_len;	 /* bytes after the header: topic, padding and body */
	uint16_t record_count;	 /* PRODUCE/ACK: records in the batch */
	uint8_t ack_level;	 /* PRODUCE: enum sl_ack_level */
	uint8_t topic_len;	 /* bytes of topic name right after the header (0..255) */
	uint32_t crc32c;	 /* see above */
	uint32_t reserved;	 /* zero */
};

static_assert(offsetof(struct sl_wire_header, magic) == 0, "wire layout");
static_assert(offsetof(struct sl_wire_header, version) == 4, "wire layout");
static_assert(offsetof(struct sl_wire_header, type) == 5, "wire layout");
static_assert(offsetof(struct sl_wire_header, flags) == 6, "wire layout");
static_assert(offsetof(struct sl_wire_header, producer_id) == 8, "wire layout");
static_assert(offsetof(struct sl_wire_header, sequence) == 16, "wire layout");
static_assert(offsetof(struct sl_wire_header, producer_epoch) == 24, "wire layout");
static_assert(offsetof(struct sl_wire_header, partition) == 28, "wire layout");
static_assert(offsetof(struct sl_wire_header, payload_len) == 32, "wire layout");
static_assert(offsetof(struct sl_wire_header, record_count) == 36, "wire layout");
static_assert(offsetof(struct sl_wire_header, ack_level) == 38, "wire layout");
static_assert(offsetof(struct sl_wire_header, topic_len) == 39, "wire layout");
static_assert(offsetof(struct sl_wire_header, crc32c) == 40, "wire layout");
static_assert(offsetof(struct sl_wire_header, reserved) == 44, "wire layout");
static_assert(sizeof(struct sl_wire_header) == SL_WIRE_HEADER_BYTES, "wire layout");

/*
 * PRODUCE body: record_count records back to back. Each record is this header, then
 * key_len bytes of key, then value_len bytes of value, then zero padding up to the next
 * multiple of SL_WIRE_ALIGN. The records fill the body exactly.
 */
struct sl_wire_record {
	uint32_t value_len;
	uint16_t key_len;
	uint16_t attributes;   /* zero in v1 */
	uint64_t timestamp_ns; /* producer's CLOCK_REALTIME when the event was produced */
};

static_assert(offsetof(struct sl_wire_record, value_len) == 0, "wire layout");
static_assert(offsetof(struct sl_wire_record, key_len) == 4, "wire layout");
static_assert(offsetof(struct sl_wire_record, attributes) == 6, "wire layout");
static_assert(offsetof(struct sl_wire_record, timestamp_ns) == 8, "wire layout");
static_assert(sizeof(struct sl_wire_record) == SL_WIRE_RECORD_HEADER_BYTES, "wire layout");

enum sl_ack_status {
	SL_ACK_APPENDED = 0,  /* appended now at base_offset */
	SL_ACK_DUPLICATE = 1, /* appended earlier; base_offset is the original one, or
			       * SL_OFFSET_UNKNOWN when the router no longer remembers it */
};

#define SL_OFFSET_UNKNOWN UINT64_MAX

/* ACK body. The header echoes producer id, epoch, sequence, topic, partition, count. */
struct sl_wire_ack {
	uint64_t base_offset;
	uint16_t status;   /* enum sl_ack_status */
	uint8_t ack_level; /* the level this ack stands for */
	uint8_t reserved0;
	uint32_t reserved1;
};

static_assert(offsetof(struct sl_wire_ack, base_offset) == 0, "wire layout");
static_assert(offsetof(struct sl_wire_ack, status) == 8, "wire layout");
static_assert(offsetof(struct sl_wire_ack, ack_level) == 10, "wire layout");
static_assert(sizeof(struct sl_wire_ack) == 16, "wire layout");

enum sl_nack_reason {
	SL_NACK_MALFORMED = 1, /* detail: enum sl_wire_reject */
	SL_NACK_BAD_CRC = 2,
	SL_NACK_UNSUPPORTED_VERSION = 3,
	SL_NACK_UNKNOWN_TOPIC = 4, /* also: partition out of range (detail = partitions) */
	SL_NACK_TOO_LARGE = 5,	   /* detail: the router's frame size limit */
	SL_NACK_BUSY = 6,	   /* transient: retry later */
	SL_NACK_STORAGE = 7,	   /* durable acks cannot be given now */
	SL_NACK_UNAUTHORIZED = 8,
	SL_NACK_OUT_OF_SEQUENCE = 9, /* expected: the sequence the router waits for */
	SL_NACK_FENCED = 10,	     /* a newer epoch of this producer id exists */
	SL_NACK_UNSUPPORTED_TYPE = 11,
	SL_NACK_REASON_MAX = 11,
};

/* NACK body. The header echoes the rejected frame's identity where it could be read. */
struct sl_wire_nack {
	uint16_t reason; /* enum sl_nack_reason */
	uint16_t reserved;
	uint32_t detail;   /* reason-specific, see enum sl_nack_reason */
	uint64_t expected; /* OUT_OF_SEQUENCE: next sequence; FENCED: current epoch */
};

static_assert(offsetof(struct sl_wire_nack, reason) == 0, "wire layout");
static_assert(offsetof(struct sl_wire_nack, detail) == 4, "wire layout");
static_assert(offsetof(struct sl_wire_nack, expected) == 8, "wire layout");
static_assert(sizeof(struct sl_wire_nack) == 16, "wire layout");

/*
 * METADATA_REQUEST: topic = the topic asked about (topic_len 0: every known topic); no
 * body. METADATA_RESPONSE: this body, then topic_count entries.
 */
struct sl_wire_metadata {
	uint32_t frame_bytes_max;    /* largest frame the router accepts */
	uint32_t partitions_default; /* partitions of a topic not configured otherwise */
	uint16_t shards;
	uint16_t topic_count;
	uint8_t auto_create; /* 1: any valid topic name is accepted */
	uint8_t reserved;
	/* The router's dedupe window: the most unacknowledged batches a producer may have
	 * in flight per stream, i.e. it sends sequence n only once every sequence up to
	 * n - stream_batches_max is acknowledged. 0 (a router that does not say): 1. */
	uint16_t stream_batches_max;
};

static_assert(offsetof(struct sl_wire_metadata, frame_bytes_max) == 0, "wire layout");
static_assert(offsetof(struct sl_wire_metadata, partitions_default) == 4, "wire layout");
static_assert(offsetof(struct sl_wire_metadata, shards) == 8, "wire layout");
static_assert(offsetof(struct sl_wire_metadata, topic_count) == 10, "wire layout");
static_assert(offsetof(struct sl_wire_metadata, auto_create) == 12, "wire layout");
static_assert(offsetof(struct sl_wire_metadata, reserved) == 13, "wire layout");
static_assert(offsetof(struct sl_wire_metadata, stream_batches_max) == 14, "wire layout");
static_assert(sizeof(struct sl_wire_metadata) == 16, "wire layout");

/* One topic in a METADATA_RESPONSE: this, then name_len bytes, padded to 8. */
struct sl_wire_topic_entry {
	uint32_t partitions; /* 0: the topic does not exist (and auto_create is off) */
	uint8_t name_len;
	uint8_t reserved[3];
};

static_assert(offsetof(struct sl_wire_topic_entry, partitions) == 0, "wire layout");
static_assert(offsetof(struct sl_wire_topic_entry, name_len) == 4, "wire layout");
static_assert(sizeof(struct sl_wire_topic_entry) == 8, "wire layout");

/*
 * Router counters, per shard, in STATS_RESPONSE order. New counters are appended; a
 * reader uses the counter_count of the response and ignores indices it does not know.
 */
enum sl_stat {
	SL_STAT_RX_DATAGRAMS, /* datagrams handed up by the driver */
	SL_STAT_RX_BYTES,     /* their UDP payload bytes */
	SL_STAT_TX_DATAGRAMS, /* replies handed to the driver */
	SL_STAT_TX_BYTES,
	SL_STAT_TX_DROP_FULL,	  /* replies the driver could not queue */
	SL_STAT_PRODUCE_FRAMES,	  /* valid PRODUCE frames received on this shard */
	SL_STAT_APPENDED_BATCHES, /* batches this shard appended as owner */
	SL_STAT_APPENDED_EVENTS,
	SL_STAT_APPENDED_BYTES, /* record bytes appended */
	SL_STAT_DUPLICATES,	/* retransmits recognised and acked without append */
	SL_STAT_ACKS,
	SL_STAT_NACKS,
	SL_STAT_MESH_OUT,	/* batches handed to their owner shard */
	SL_STAT_MESH_IN,	/* batches received from another shard */
	SL_STAT_DROP_MESH_FULL, /* owner's ring full: NACK busy */
	SL_STAT_DROP_NOMBUF,	/* no buffer for a reply */
	SL_STAT_DROP_TRUNCATED, /* shorter than its header or its payload_len */
	SL_STAT_DROP_BAD_MAGIC,
	SL_STAT_DROP_BAD_VERSION,
	SL_STAT_DROP_BAD_TYPE,
	SL_STAT_DROP_BAD_CRC,
	SL_STAT_DROP_TOO_LARGE,
	SL_STAT_DROP_MISALIGNED,
	SL_STAT_DROP_BAD_COUNT,	    /* records do not match record_count or fill the body */
	SL_STAT_DROP_BAD_FIELD,	    /* reserved field, flag or ack level out of range */
	SL_STAT_DROP_BAD_TOPIC,	    /* invalid topic name */
	SL_STAT_DROP_UNKNOWN_TOPIC, /* unknown topic or partition out of range */
	SL_STAT_DROP_OUT_OF_SEQUENCE,
	SL_STAT_DROP_FENCED,
	SL_STAT_DROP_STORAGE,	      /* durable ack asked, no durable storage */
	SL_STAT_DROP_PRODUCERS_FULL,  /* dedupe table full: NACK busy */
	SL_STAT_DROP_PARTITIONS_FULL, /* partition table full: NACK busy */
	SL_STAT_DROP_UNEXPECTED,      /* a valid frame of a type the router does not serve */
	SL_STAT_METADATA_REQUESTS,
	SL_STAT_STATS_REQUESTS,
	SL_STAT_PINGS,
	/* The netdev driver's own counters (drivers/netdev.h, enum netdev_stat, same
	 * order); 0 on drivers that keep none. net_port_* are port-wide, on shard 0. */
	SL_STAT_NET_RX_FRAMES,		 /* frames taken from the port */
	SL_STAT_NET_TX_FRAMES,		 /* frames the port accepted */
	SL_STAT_NET_TX_DROP_FULL,	 /* port TX queue full */
	SL_STAT_NET_TX_DROP_NO_ARP,	 /* peer MAC unknown */
	SL_STAT_NET_TX_DROP_NO_HEADROOM, /* no room for the headers */
	SL_STAT_NET_RX_MULTISEG,	 /* frame larger than one mbuf */
	SL_STAT_NET_RX_VLAN,		 /* 802.1Q-tagged datagrams accepted */
	SL_STAT_NET_NOT_IPV4,		 /* runt, other EtherType, nested tags */
	SL_STAT_NET_NOT_UDP,		 /* IPv4 to us, neither UDP nor ICMP */
	SL_STAT_NET_NOT_FOR_US,		 /* other IPv4 destination or UDP port */
	SL_STAT_NET_IP_BAD_CHECKSUM,
	SL_STAT_NET_IP_BAD_HEADER, /* version, IHL, total length */
	SL_STAT_NET_IP_FRAGMENT,
	SL_STAT_NET_UDP_BAD_CHECKSUM,
	SL_STAT_NET_UDP_BAD_LENGTH,
	SL_STAT_NET_ARP_REQUESTS_ANSWERED,
	SL_STAT_NET_ARP_REPLIES_LEARNED,
	SL_STAT_NET_ARP_OTHER,	 /* malformed, for another address, other op */
	SL_STAT_NET_ARP_EVICTED, /* live ARP entries replaced: table too small */
	SL_STAT_NET_ICMP_ECHO_ANSWERED,
	SL_STAT_NET_ICMP_OTHER,
	SL_STAT_NET_PORT_IMISSED,
	SL_STAT_NET_PORT_RX_NOMBUF,
	SL_STAT_NET_PORT_IERRORS,
	SL_STAT_NET_PORT_OERRORS,
	SL_STAT_DROP_JOURNAL_BUSY, /* journal staging or durable-ack queue full: NACK busy */
	SL_STAT_DURABLE_ACKS,	   /* acks sent once their batch's fdatasync completed */
	SL_STAT_DURABLE_NACKS,	   /* durable acks turned NACK storage by a journal failure */
	/* The journal's own counters (src/journal/journal.h, enum journal_stat, same order). */
	SL_STAT_JOURNAL_BATCHES, /* entries appended to the journal */
	SL_STAT_JOURNAL_BYTES,
	SL_STAT_JOURNAL_WRITES, /* write operations issued */
	SL_STAT_JOURNAL_WRITE_BYTES,
	SL_STAT_JOURNAL_FSYNCS,
	SL_STAT_JOURNAL_FLUSH_SIZE, /* flushes: --flush-bytes reached */
	SL_STAT_JOURNAL_FLUSH_TIME, /* flushes: --flush-us passed */
	SL_STAT_JOURNAL_FLUSH_ROLL, /* flushes: segment full */
	SL_STAT_JOURNAL_FLUSH_CLOSE,
	SL_STAT_JOURNAL_BUSY,		/* appends refused: staging full */
	SL_STAT_JOURNAL_STORAGE_ERRORS, /* failed writes, fdatasyncs, segment creations */
	SL_STAT_JOURNAL_SEGMENTS_CREATED,
	SL_STAT_JOURNAL_SEGMENTS_DELETED,
	SL_STAT_JOURNAL_RETENTION_BYTES,
	SL_STAT_JOURNAL_ROLL_WAITS, /* appends refused: next segment not ready */
	SL_STAT_JOURNAL_TORN_TRUNCATIONS,
	SL_STAT_JOURNAL_FSYNC_US_LT_50, /* fdatasync latency histogram */
	SL_STAT_JOURNAL_FSYNC_US_LT_100,
	SL_STAT_JOURNAL_FSYNC_US_LT_200,
	SL_STAT_JOURNAL_FSYNC_US_LT_500,
	SL_STAT_JOURNAL_FSYNC_US_LT_1000,
	SL_STAT_JOURNAL_FSYNC_US_LT_2000,
	SL_STAT_JOURNAL_FSYNC_US_LT_5000,
	SL_STAT_JOURNAL_FSYNC_US_LT_20000,
	SL_STAT_JOURNAL_FSYNC_US_GE_20000,
	SL_STAT_JOURNAL_INDEX_BUILT,   /* segment indexes written */
	SL_STAT_JOURNAL_INDEX_REBUILT, /* missing or damaged indexes rebuilt */
	SL_STAT_JOURNAL_READS,	       /* reads issued by replay cursors */
	SL_STAT_JOURNAL_READ_BYTES,
	SL_STAT_JOURNAL_CURSOR_GAPS,  /* replay cursors that skipped data deleted by retention */
	SL_STAT_JOURNAL_MAINT_ERRORS, /* failed index builds and retention deletions */
	SL_STAT_COUNT,
};

/* STATS_REQUEST: header.sequence = shard asked for. STATS_RESPONSE: this, then
 * counter_count little-endian uint64 values in enum sl_stat order. */
struct sl_wire_stats {
	uint16_t shard;
	uint16_t shards;
	uint16_t counter_count;
	uint16_t reserved;
	uint32_t lcore;
	uint32_t numa_node;
};

static_assert(offsetof(struct sl_wire_stats, shard) == 0, "wire layout");
static_assert(offsetof(struct sl_wire_stats, shards) == 2, "wire layout");
static_assert(offsetof(struct sl_wire_stats, counter_count) == 4, "wire layout");
static_assert(offsetof(struct sl_wire_stats, lcore) == 8, "wire layout");
static_assert(offsetof(struct sl_wire_stats, numa_node) == 12, "wire layout");
static_assert(sizeof(struct sl_wire_stats) == 16, "wire layout");
static_assert(SL_WIRE_HEADER_BYTES + sizeof(struct sl_wire_stats) + SL_STAT_COUNT * 8 <=
		      SL_WIRE_FRAME_BYTES_DEFAULT,
	      "one shard's counters fit one default frame");

/* Why the decoder rejected a frame: NACK detail for SL_NACK_MALFORMED and friends. */
enum sl_wire_reject {
	SL_WIRE_OK = 0,
	SL_WIRE_REJECT_TRUNCATED = 1, /* datagram shorter than header or payload_len says */
	SL_WIRE_REJECT_BAD_MAGIC = 2,
	SL_WIRE_REJECT_BAD_VERSION = 3,
	SL_WIRE_REJECT_BAD_TYPE = 4,
	SL_WIRE_REJECT_BAD_CRC = 5,
	SL_WIRE_REJECT_TOO_LARGE = 6,  /* datagram longer than the frame limit */
	SL_WIRE_REJECT_MISALIGNED = 7, /* payload_len or a record not a multiple of 8 */
	SL_WIRE_REJECT_BAD_COUNT = 8,  /* records do not match record_count / fill body */
	SL_WIRE_REJECT_BAD_FIELD = 9,  /* reserved bits, flags, ack level, trailing bytes */
	SL_WIRE_REJECT_BAD_TOPIC = 10, /* topic name empty where needed or invalid */
	SL_WIRE_REJECT_MAX = 10,
};

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_WIRE_H */
