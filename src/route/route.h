/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Routing: which topics exist, how many partitions each has, and which shard owns a
 * partition. Pure and allocation-free after route_table_create(): every shard, the
 * control plane and the tests compute route_owner() alike, which is what lets a shard
 * hand a batch to its owner without asking anyone. Topics are named in frames; with
 * auto-create on, any valid name is a topic with the default partition count.
 */
#ifndef SL_ROUTE_ROUTE_H
#define SL_ROUTE_ROUTE_H

#include <sluice/wire.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds of the configuration, checked by route_table_create() and route_topic_parse(). */
#define ROUTE_TOPICS_MAX 1024u
#define ROUTE_PARTITIONS_MAX 65536u

/* One configured topic. */
struct route_topic {
	uint32_t partitions;			/* 1..ROUTE_PARTITIONS_MAX */
	uint8_t name_len;			/* 1..SL_WIRE_TOPIC_BYTES_MAX */
	char name[SL_WIRE_TOPIC_BYTES_MAX + 1]; /* NUL-terminated for logs */
};

struct route_conf {
	uint32_t partitions_default;	  /* partitions of an auto-created topic */
	bool auto_create;		  /* any valid topic name exists */
	uint32_t topic_count;		  /* 0..ROUTE_TOPICS_MAX */
	const struct route_topic *topics; /* [topic_count], borrowed during create only */
};

struct route_table;

/*
 * Builds the topic table from conf (copied). Rejects with -EINVAL an invalid name, a
 * partition count out of 1..ROUTE_PARTITIONS_MAX, more than ROUTE_TOPICS_MAX topics or a
 * topic named twice; -ENOMEM when allocation fails. The caller owns *out.
 */
int route_table_create(const struct route_conf *conf, struct route_table **out);

/* Frees t (NULL is a no-op). */
void route_table_destroy(struct route_table *t);

/*
 * Partitions of topic name[0..len): its configured count, else the default when
 * auto-create is on, else 0 (unknown topic). `name` must be a valid topic name.
 */
uint32_t route_partitions(const struct route_table *t, const uint8_t *name, size_t len);

/* route_partitions() for a caller that already has route_topic_hash(name, len): the
 * per-batch path hashes a topic name once for both this lookup and the owner. */
uint32_t route_partitions_hashed(const struct route_table *t, uint32_t topic_hash,
				 const uint8_t *name, size_t len);

/* Partition count of a topic that is not configured (whether or not auto-create is on). */
uint32_t route_partitions_default(const struct route_table *t);

/* True when any valid topic name is a topic. */
bool route_auto_create(const struct route_table *t);

/* Configured topics, in the order they were given. */
uint32_t route_topic_count(const struct route_table *t);
const struct route_topic *route_topic_at(const struct route_table *t, uint32_t i);

/* Hash of a topic name: CRC32C of its bytes. Stable across processes and versions. */
uint32_t route_topic_hash(const uint8_t *name, size_t len);

/*
 * The shard owning `partition` of the topic whose route_topic_hash() is topic_hash:
 * (topic_hash + partition) mod shards. Consecutive partitions of one topic land on
 * consecutive shards (an even spread), and topics start at different shards.
 * shards must be at least 1.
 */
static inline uint16_t route_owner_hashed(uint32_t topic_hash, uint32_t partition, uint16_t shards)
{
	return (uint16_t)(((uint64_t)topic_hash + partition) % shards);
}

/* route_owner_hashed() of the topic named name[0..len). */
uint16_t route_owner(const uint8_t *name, size_t len, uint32_t partition, uint16_t shards);

/*
 * Parses "NAME:PARTITIONS" (the --topic flag) into *out. Returns 0, -EINVAL when the
 * colon is missing or NAME is not a valid topic name, or -ERANGE when PARTITIONS is not
 * a number in 1..ROUTE_PARTITIONS_MAX.
 */
int route_topic_parse(const char *arg, struct route_topic *out);

#endif
