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
/*
 * A DELIVER is its batch's PRODUCE frame plus a 16-byte struct sl_wire_deliver (same
 * header, same topic, same records). So that every batch a router appends can be
 * delivered within its frame limit F, the router accepts PRODUCE frames of at most
 * F - SL_WIRE_DELIVER_EXTRA_BYTES and announces that limit in METADATA_RESPONSE.
 */
#define SL_WIRE_DELIVER_EXTRA_BYTES 16u
#define SL_WIRE_PRODUCE_BYTES_MAX (SL_WIRE_FRAME_BYTES_MAX - SL_WIRE_DELIVER_EXTRA_BYTES)
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
	/* Subscriptions: see "Subscription frames" below and docs/PROTOCOL.md. */
	SL_WIRE_SUBSCRIBE = 16,	   /* consumer -> router, broadcast to every shard */
	SL_WIRE_DELIVER = 17,	   /* router (partition owner) -> consumer */
	SL_WIRE_CREDIT = 18,	   /* consumer -> router, to the shard it names */
	SL_WIRE_CONSUMER_ACK = 19, /* consumer -> router, to the partition's owner */
	SL_WIRE_UNSUBSCRIBE = 20,  /* consumer -> router, broadcast */
	SL_WIRE_HEARTBEAT = 21,	   /* consumer -> router, broadcast */
	SL_WIRE_SUBSCRIBED = 22,   /* router -> consumer: answer to SUBSCRIBE, UNSUBSCRIBE */
	SL_WIRE_TYPE_MAX = 22,
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
	uint32_t aux;		 /* zero, except DELIVER: struct sl_wire_deliver's sent_bytes */
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
static_assert(offsetof(struct sl_wire_header, aux) == 44, "wire layout");
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
	/* Subscriptions: detail = enum sl_sub_error naming the problem, unless noted. */
	SL_NACK_BAD_PATTERN = 12,	   /* SUBSCRIBE pattern invalid */
	SL_NACK_BAD_CREDIT = 13,	   /* window out of range, or credit past what was sent */
	SL_NACK_BAD_GROUP = 14,		   /* group name, weight or strategy invalid */
	SL_NACK_BAD_START = 15,		   /* start position invalid */
	SL_NACK_CONFLICT = 16,		   /* subscription id or group already used otherwise */
	SL_NACK_UNKNOWN_SUBSCRIPTION = 17, /* detail: subscriptions known for the subscriber */
	SL_NACK_SUBSCRIPTIONS_FULL = 18,   /* --subscriptions-max reached; detail: the limit */
	SL_NACK_UNKNOWN_OFFSET = 19,	   /* CONSUMER_ACK past what was delivered; expected: the
				      * next offset not yet delivered to the subscription */
	SL_NACK_GROUPS_FULL = 20,	   /* every consumer group slot in use; detail: the limit */
	SL_NACK_GROUP_FULL = 21,	   /* the group has its most members; detail: the limit */
	SL_NACK_START_OFFSETS_FULL = 22,   /* the shard's start-offset pool is full (readers
				      * still replaying hold them); detail: its size */
	SL_NACK_REASON_MAX = 22,
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
	/* Largest PRODUCE frame the router accepts: its frame limit (the largest datagram it
	 * sends or takes) minus SL_WIRE_DELIVER_EXTRA_BYTES, so every batch it appends fits
	 * one DELIVER within that limit. */
	uint32_t produce_bytes_max;
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

static_assert(offsetof(struct sl_wire_metadata, produce_bytes_max) == 0, "wire layout");
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
	SL_STAT_JOURNAL_CURSOR_GAPS,	 /* replay cursors that skipped data deleted by retention */
	SL_STAT_JOURNAL_ZERO_FILL_BYTES, /* written zero-filling segments (--zero-fill) */
	SL_STAT_JOURNAL_MAINT_ERRORS,	 /* failed index builds and retention deletions */
	SL_STAT_DROP_BAD_PATTERN,	 /* SUBSCRIBE with an invalid pattern */
	SL_STAT_DROP_BAD_CREDIT,	 /* SUBSCRIBE or CREDIT window out of range */
	SL_STAT_DROP_BAD_GROUP,		 /* SUBSCRIBE group name, weight or strategy invalid */
	SL_STAT_DROP_BAD_START,		 /* SUBSCRIBE start position invalid */
	SL_STAT_SUBSCRIBES,		 /* SUBSCRIBE applied by the shard that received it */
	SL_STAT_UNSUBSCRIBES,		 /* UNSUBSCRIBE received (existing or not) */
	SL_STAT_SUBSCRIBER_TIMEOUTS,	 /* subscribers removed for silence, at this shard */
	SL_STAT_DELIVERIES,		 /* DELIVER frames sent */
	SL_STAT_DELIVERED_BYTES,	 /* their datagram bytes */
	SL_STAT_CREDIT_STALLS,		 /* batches a subscription matched but had no credit for */
	SL_STAT_DROP_POLICY_SKIPS,	 /* of those, skipped for good (policy drop) */
	SL_STAT_UNKNOWN_SUBSCRIPTION,	 /* HEARTBEAT or CREDIT for a subscription not known */
	SL_STAT_DROP_SUBSCRIPTION_DIVERGED, /* broadcast SUBSCRIBE this shard could not apply */
	SL_STAT_REPLAY_CURSOR_WAITS,	    /* replays that found no free cursor and waited */
	SL_STAT_REPLAY_FAILURES,	    /* replays ended by a journal read error */
	SL_STAT_CONSUMER_ACKS,		    /* CONSUMER_ACK applied */
	SL_STAT_ACKS_UNKNOWN_OFFSET,	    /* CONSUMER_ACK past the partition's end */
	SL_STAT_REDELIVERIES,		    /* DELIVERs sent again after --ack-timeout-ms */
	SL_STAT_DEAD_LETTERS,		    /* batches given up after --max-redeliveries */
	SL_STAT_DEAD_LETTERS_SENT,	    /* dead-letter frames produced to a dead-letter topic */
	SL_STAT_DEAD_LETTERS_LOST,	    /* dead letters that could not be written */
	SL_STAT_CREDIT_RESETS,	 /* CREDIT ahead of what was sent: outstanding taken as consumed */
	SL_STAT_CREDIT_TIMEOUTS, /* credit not returned within --ack-timeout-ms: taken back */
	SL_STAT_JOURNAL_SEGMENTS_RECYCLED, /* removed by retention, kept as spares */
	SL_STAT_JOURNAL_SEGMENTS_REUSED,   /* created from a spare (--segment-spares) */
	SL_STAT_NUMA_REMOTE, /* pieces of the shard's memory found on another NUMA node at start */
	SL_STAT_REDELIVERIES_ORPHANED, /* queued for a group that has no member left */
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
	/* Subscription frames; the decoder also names the problem (enum sl_sub_error). */
	SL_WIRE_REJECT_BAD_PATTERN = 11, /* SUBSCRIBE pattern invalid */
	SL_WIRE_REJECT_BAD_CREDIT = 12,	 /* credit window out of range */
	SL_WIRE_REJECT_BAD_GROUP = 13,	 /* group name, weight or strategy invalid */
	SL_WIRE_REJECT_BAD_START = 14,	 /* start position invalid */
	SL_WIRE_REJECT_MAX = 14,
};

/*
 * Subscription frames. A subscriber is a consumer process: a random non-zero 64-bit
 * subscriber id (like a producer id) plus the UDP address it sends from. A subscription
 * is (subscriber id, subscription id), the latter a non-zero 32-bit number the consumer
 * chooses. Header fields keep their offsets and take these roles (every header field a
 * type does not list must be zero; flags must be zero):
 *
 *   type          producer_id    producer_epoch   sequence     partition  topic    body
 *   SUBSCRIBE     subscriber id  subscription id  0            0          pattern  subscribe
 *   SUBSCRIBED    subscriber id  subscription id  0            0          pattern  subscribed
 *   UNSUBSCRIBE   subscriber id  subscription id  0            0          none     none
 *   HEARTBEAT     subscriber id  0                0            0          none     heartbeat
 *   DELIVER       subscriber id  subscription id  base offset  partition  topic    deliver
 *   CREDIT        subscriber id  subscription id  shard index  0          none     credit
 *   CONSUMER_ACK  subscriber id  subscription id  offset       partition  topic    none
 *
 * (DELIVER also sets record_count, and aux: see struct sl_wire_deliver.) So a shard
 * routes every frame from its fixed header and topic alone: SUBSCRIBE, UNSUBSCRIBE and
 * HEARTBEAT are broadcast to every shard, CREDIT goes to the shard in `sequence`,
 * CONSUMER_ACK to route_owner(topic, partition).
 */

/* Bounds of subscription frames, checked by the decoder. */
#define SL_WIRE_GROUP_BYTES_MAX 64u	  /* group name: 1..64 bytes, topic-name charset */
#define SL_WIRE_WEIGHT_MAX 1000u	  /* group member weight: 1..1000 */
#define SL_WIRE_WINDOW_BATCHES_MAX 65536u /* credit window, per subscription per shard */
#define SL_WIRE_WINDOW_BYTES_MAX (1ull << 30)
/* A byte window must hold the largest DELIVER (of a PRODUCE of SL_WIRE_PRODUCE_BYTES_MAX),
 * or a large batch would wait forever. */
#define SL_WIRE_WINDOW_BYTES_MIN SL_WIRE_FRAME_BYTES_MAX
static_assert(SL_WIRE_PRODUCE_BYTES_MAX + SL_WIRE_DELIVER_EXTRA_BYTES == SL_WIRE_WINDOW_BYTES_MIN,
	      "a byte window of the minimum holds the largest DELIVER");
#define SL_WIRE_START_OFFSETS_MAX 512u /* (partition, offset) pairs in one SUBSCRIBE */
#define SL_WIRE_ACK_BATCHES_MAX 64u    /* batch base offsets in one CONSUMER_ACK */
/* Unacknowledged DELIVERs a shard keeps per subscription (with a journal): past that it
 * sends no more to it until acks come, as if it were out of credit. */
#define SL_WIRE_UNACKED_BATCHES_MAX 64u

/* Where a subscription starts reading each partition it matches. */
enum sl_start {
	SL_START_LATEST = 0,	/* batches appended from now on */
	SL_START_EARLIEST = 1,	/* the oldest batch retention kept */
	SL_START_TIMESTAMP = 2, /* the first batch appended at or after start_value (ns) */
	SL_START_OFFSETS = 3,	/* listed partitions of offsets_topic at the listed offsets;
				 * every other partition as start_fallback says */
	SL_START_MAX = 3,
};

/* How a consumer group hands each batch to exactly one member. */
enum sl_group_strategy {
	SL_GROUP_NONE = 0,	  /* not in a group: the subscription gets every batch */
	SL_GROUP_ROUND_ROBIN = 1, /* members in turn */
	SL_GROUP_WEIGHTED = 2,	  /* in proportion to member weights */
	SL_GROUP_KEY_AFFINE = 3,  /* a partition stays with one member while membership holds */
	SL_GROUP_STRATEGY_MAX = 3,
};

/* What the owner does when a subscriber's credit runs out. */
enum sl_slow_policy {
	SL_SLOW_REPLAY = 0, /* keep its position; serve it from the journal when credit returns */
	SL_SLOW_DROP = 1,   /* skip what it had no credit for (counted) and stay at the head */
	SL_SLOW_POLICY_MAX = 1,
};

/*
 * Why a subscription frame was refused: the NACK detail of BAD_PATTERN, BAD_CREDIT,
 * BAD_GROUP, BAD_START and CONFLICT. wire_sub_error_name() spells each out.
 */
enum sl_sub_error {
	SL_SUB_OK = 0,
	SL_SUB_PATTERN_EMPTY = 1,	     /* no pattern */
	SL_SUB_PATTERN_TOO_LONG = 2,	     /* more than 255 bytes */
	SL_SUB_PATTERN_EMPTY_TOKEN = 3,	     /* leading, trailing or doubled dot */
	SL_SUB_PATTERN_BAD_CHAR = 4,	     /* not A-Z a-z 0-9 _ - . * > */
	SL_SUB_PATTERN_PARTIAL_WILDCARD = 5, /* '*' or '>' inside a token ("a*", "*b") */
	SL_SUB_PATTERN_TAIL_NOT_LAST = 6,    /* '>' before the last token */
	SL_SUB_WINDOW_UNLIMITED = 7,	     /* neither a batch nor a byte limit */
	SL_SUB_WINDOW_BATCHES = 8,	     /* window_batches > SL_WIRE_WINDOW_BATCHES_MAX */
	SL_SUB_WINDOW_BYTES = 9,	     /* window_bytes outside MIN..MAX */
	SL_SUB_CREDIT_AHEAD = 10,	     /* CREDIT counts more consumed than was sent */
	SL_SUB_CREDIT_SHARD = 11,	     /* CREDIT names a shard that does not exist */
	SL_SUB_GROUP_NAME = 12,		     /* group name too long or not topic-name charset */
	SL_SUB_GROUP_WEIGHT = 13,	     /* weight outside 1..1000 in a group, non-zero alone */
	SL_SUB_GROUP_STRATEGY = 14,	     /* unknown strategy, none in a group, one alone */
	SL_SUB_START_KIND = 15,		     /* unknown start or fallback */
	SL_SUB_START_VALUE = 16,	     /* start_value or fallback set where unused */
	SL_SUB_START_OFFSETS = 17,	     /* offsets count 0 or above the maximum, or unused */
	SL_SUB_START_TOPIC = 18,     /* offsets topic invalid or not matched by the pattern */
	SL_SUB_START_PARTITION = 19, /* partitions not strictly increasing */
	SL_SUB_CONFLICT_ID = 20,     /* subscription id in use with other parameters */
	SL_SUB_CONFLICT_GROUP = 21,  /* group exists with another pattern or strategy */
	SL_SUB_ERROR_MAX = 21,
};

/*
 * SUBSCRIBE body: this, then group_len bytes of group name (padded to 8), then
 * offsets_topic_len bytes of topic name (padded to 8), then offset_count
 * struct sl_wire_start_offset sorted by strictly increasing partition. The topic field of
 * the header is the pattern. The window is the credit this subscription starts with at
 * each shard (libsluice's window setting is per shard and sent as is).
 */
struct sl_wire_subscribe {
	uint64_t start_value;	   /* SL_START_TIMESTAMP: CLOCK_REALTIME ns; else 0 */
	uint64_t window_bytes;	   /* 0 (no byte limit) or SL_WIRE_WINDOW_BYTES_MIN..MAX */
	uint32_t window_batches;   /* 0 (no batch limit) or 1..SL_WIRE_WINDOW_BATCHES_MAX */
	uint16_t weight;	   /* in a group: 1..SL_WIRE_WEIGHT_MAX; alone: 0 */
	uint8_t start;		   /* enum sl_start */
	uint8_t start_fallback;	   /* SL_START_OFFSETS: LATEST or EARLIEST; else 0 */
	uint8_t strategy;	   /* enum sl_group_strategy: NONE alone, else 1..MAX */
	uint8_t slow_policy;	   /* enum sl_slow_policy */
	uint8_t group_len;	   /* 0 (no group) .. SL_WIRE_GROUP_BYTES_MAX */
	uint8_t offsets_topic_len; /* SL_START_OFFSETS: 1..255; else 0 */
	uint16_t offset_count;	   /* SL_START_OFFSETS: 1..SL_WIRE_START_OFFSETS_MAX; else 0 */
	uint16_t reserved;	   /* zero */
};

static_assert(offsetof(struct sl_wire_subscribe, start_value) == 0, "wire layout");
static_assert(offsetof(struct sl_wire_subscribe, window_bytes) == 8, "wire layout");
static_assert(offsetof(struct sl_wire_subscribe, window_batches) == 16, "wire layout");
static_assert(offsetof(struct sl_wire_subscribe, weight) == 20, "wire layout");
static_assert(offsetof(struct sl_wire_subscribe, start) == 22, "wire layout");
static_assert(offsetof(struct sl_wire_subscribe, start_fallback) == 23, "wire layout");
static_assert(offsetof(struct sl_wire_subscribe, strategy) == 24, "wire layout");
static_assert(offsetof(struct sl_wire_subscribe, slow_policy) == 25, "wire layout");
static_assert(offsetof(struct sl_wire_subscribe, group_len) == 26, "wire layout");
static_assert(offsetof(struct sl_wire_subscribe, offsets_topic_len) == 27, "wire layout");
static_assert(offsetof(struct sl_wire_subscribe, offset_count) == 28, "wire layout");
static_assert(offsetof(struct sl_wire_subscribe, reserved) == 30, "wire layout");
static_assert(sizeof(struct sl_wire_subscribe) == 32, "wire layout");

/* One start offset of a SUBSCRIBE: `offset` is the first offset delivered. */
struct sl_wire_start_offset {
	uint32_t partition;
	uint32_t reserved; /* zero */
	uint64_t offset;
};

static_assert(offsetof(struct sl_wire_start_offset, partition) == 0, "wire layout");
static_assert(offsetof(struct sl_wire_start_offset, reserved) == 4, "wire layout");
static_assert(offsetof(struct sl_wire_start_offset, offset) == 8, "wire layout");
static_assert(sizeof(struct sl_wire_start_offset) == 16, "wire layout");
static_assert(SL_WIRE_HEADER_BYTES + 2 * 256 + sizeof(struct sl_wire_subscribe) +
			      SL_WIRE_GROUP_BYTES_MAX +
			      SL_WIRE_START_OFFSETS_MAX * sizeof(struct sl_wire_start_offset) <=
		      SL_WIRE_FRAME_BYTES_MAX,
	      "the largest SUBSCRIBE fits the largest frame");

enum sl_sub_status {
	SL_SUB_ACTIVE = 1,  /* the subscription exists with these parameters */
	SL_SUB_REMOVED = 2, /* it does not (any more): answer to UNSUBSCRIBE */
};

/* SUBSCRIBED flags (status ACTIVE only). */
enum sl_subscribed_flag {
	/* The subscription already existed (a retransmitted or repeated SUBSCRIBE): the
	 * router kept its credit totals and delivery numbering at every shard, so the
	 * consumer keeps its own. Clear: the router created it just now and every shard
	 * counts from zero, so the consumer starts its totals again too. */
	SL_SUBSCRIBED_CREDIT_KEPT = 1u << 0,
	SL_SUBSCRIBED_FLAGS_KNOWN = SL_SUBSCRIBED_CREDIT_KEPT,
};

/*
 * SUBSCRIBED body: the router's answer to SUBSCRIBE (topic: the pattern) and to
 * UNSUBSCRIBE (no topic, status REMOVED, every other field zero). It repeats the
 * accepted parameters and says what the consumer must know to keep the subscription.
 */
struct sl_wire_subscribed {
	uint64_t window_bytes;
	uint32_t window_batches;
	uint32_t consumer_timeout_ms; /* heartbeats must come more often than this */
	uint32_t ack_timeout_ms;      /* an unacked DELIVER is sent again after this */
	uint16_t shards;	      /* CREDIT shard indices are 0..shards-1 */
	uint16_t redeliveries_max;    /* then the batch goes to the dead-letter topic */
	uint16_t weight;
	uint8_t status;	  /* enum sl_sub_status */
	uint8_t strategy; /* enum sl_group_strategy */
	uint8_t slow_policy;
	uint8_t flags; /* enum sl_subscribed_flag */
	uint16_t reserved;
};

static_assert(offsetof(struct sl_wire_subscribed, window_bytes) == 0, "wire layout");
static_assert(offsetof(struct sl_wire_subscribed, window_batches) == 8, "wire layout");
static_assert(offsetof(struct sl_wire_subscribed, consumer_timeout_ms) == 12, "wire layout");
static_assert(offsetof(struct sl_wire_subscribed, ack_timeout_ms) == 16, "wire layout");
static_assert(offsetof(struct sl_wire_subscribed, shards) == 20, "wire layout");
static_assert(offsetof(struct sl_wire_subscribed, redeliveries_max) == 22, "wire layout");
static_assert(offsetof(struct sl_wire_subscribed, weight) == 24, "wire layout");
static_assert(offsetof(struct sl_wire_subscribed, status) == 26, "wire layout");
static_assert(offsetof(struct sl_wire_subscribed, strategy) == 27, "wire layout");
static_assert(offsetof(struct sl_wire_subscribed, slow_policy) == 28, "wire layout");
static_assert(offsetof(struct sl_wire_subscribed, flags) == 29, "wire layout");
static_assert(offsetof(struct sl_wire_subscribed, reserved) == 30, "wire layout");
static_assert(sizeof(struct sl_wire_subscribed) == 32, "wire layout");

/* HEARTBEAT body. The router NACKs UNKNOWN_SUBSCRIPTION when it knows another count. */
struct sl_wire_heartbeat {
	uint32_t subscriptions; /* subscriptions the subscriber holds: 1.. */
	uint32_t reserved;	/* zero */
};

static_assert(offsetof(struct sl_wire_heartbeat, subscriptions) == 0, "wire layout");
static_assert(offsetof(struct sl_wire_heartbeat, reserved) == 4, "wire layout");
static_assert(sizeof(struct sl_wire_heartbeat) == 8, "wire layout");

/*
 * DELIVER body: this, then the batch's records exactly as PRODUCE carried them
 * (record_count of them, filling the rest of the body). The header's sequence is the
 * base offset: record i has offset sequence + i. The header's `aux` is sent_bytes: the
 * bytes of every DELIVER the shard sent this subscription before this one, modulo 2^32.
 * With `delivery` it lets a consumer count DELIVERs lost on the way (and their bytes)
 * as consumed, so that their credit comes back (docs/PROTOCOL.md, "DELIVER").
 */
struct sl_wire_deliver {
	uint64_t append_ns; /* the router's CLOCK_REALTIME when it appended the batch */
	uint16_t shard;	    /* the owner shard: send CREDIT for this delivery there */
	uint16_t attempt;   /* 0 first delivery, then 1..redeliveries_max */
	uint32_t delivery;  /* DELIVERs the shard sent this subscription before this one,
			     * redeliveries included, modulo 2^32: 0, 1, 2, ... */
};

static_assert(offsetof(struct sl_wire_deliver, append_ns) == 0, "wire layout");
static_assert(offsetof(struct sl_wire_deliver, shard) == 8, "wire layout");
static_assert(offsetof(struct sl_wire_deliver, attempt) == 10, "wire layout");
static_assert(offsetof(struct sl_wire_deliver, delivery) == 12, "wire layout");
static_assert(sizeof(struct sl_wire_deliver) == 16, "wire layout");

/*
 * Dead letters. A batch not acknowledged after redeliveries_max redeliveries is produced
 * by the router to the dead-letter topic of its subscription, DEAD_LETTER_PREFIX then
 * the group name, or (outside a group) the subscriber id in 16 lowercase hex digits:
 * "_dead.billing", "_dead.00c0ffee00c0ffee". Each dead-letter batch starts with one
 * origin record, key DEAD_LETTER_KEY, value the text
 * "topic=T partition=P offset=O records=N deliveries=D": its other N records are the
 * original records of offsets O..O+N-1 of partition P of topic T, unchanged.
 */
#define SL_WIRE_DEAD_LETTER_PREFIX "_dead."
#define SL_WIRE_DEAD_LETTER_KEY "sluice-dead-letter"

/*
 * CREDIT body, for one subscription at the shard in the header's sequence. Counts are
 * totals since the subscription was created (SUBSCRIBED without CREDIT_KEPT), DELIVERs
 * the consumer knows lost (gaps in `delivery`) included, so a lost or reordered CREDIT
 * is repaired by the next one:
 * the shard keeps the largest it saw and may have at most window_batches batches and
 * window_bytes bytes (whole DELIVER datagrams) sent but not consumed. The window
 * replaces the one in force; its bounds are SUBSCRIBE's.
 */
struct sl_wire_credit {
	uint64_t consumed_batches; /* DELIVERs from this shard the consumer is done with */
	uint64_t consumed_bytes;   /* their datagram bytes */
	uint64_t window_bytes;
	uint32_t window_batches;
	uint32_t reserved; /* zero */
};

static_assert(offsetof(struct sl_wire_credit, consumed_batches) == 0, "wire layout");
static_assert(offsetof(struct sl_wire_credit, consumed_bytes) == 8, "wire layout");
static_assert(offsetof(struct sl_wire_credit, window_bytes) == 16, "wire layout");
static_assert(offsetof(struct sl_wire_credit, window_batches) == 24, "wire layout");
static_assert(offsetof(struct sl_wire_credit, reserved) == 28, "wire layout");
static_assert(sizeof(struct sl_wire_credit) == 32, "wire layout");

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_WIRE_H */
