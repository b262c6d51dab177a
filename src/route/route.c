/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The topic table and the owner function. Configured topics sit in an array in flag
 * order and are found through an open-addressing index of twice their count, keyed by
 * route_topic_hash(); lookups touch no allocator and take no lock, so every shard may
 * share one table read-only.
 */
#include "route/route.h"

#include "core/crc32c.h"
#include "core/wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct route_table {
	uint32_t partitions_default;
	bool auto_create;
	uint32_t topic_count;
	uint32_t index_mask;	    /* index slots - 1; slots is a power of two */
	uint32_t *index;	    /* [slots]: topic number + 1, 0 = empty */
	struct route_topic *topics; /* [topic_count] */
};

uint32_t route_topic_hash(const uint8_t *name, size_t len)
{
	return crc32c_extend(0, name, len);
}

uint16_t route_owner(const uint8_t *name, size_t len, uint32_t partition, uint16_t shards)
{
	return route_owner_hashed(route_topic_hash(name, len), partition, shards);
}

/* Slot of name in the index: its topic's slot, or the empty slot where it would go. */
static uint32_t route_index_find(const struct route_table *t, uint32_t topic_hash,
				 const uint8_t *name, size_t len)
{
	uint32_t slot = topic_hash & t->index_mask;

	for (;;) {
		uint32_t v = t->index[slot];
		if (v == 0) {
			return slot;
		}
		const struct route_topic *topic = &t->topics[v - 1];
		if (topic->name_len == len && memcmp(topic->name, name, len) == 0) {
			return slot;
		}
		slot = (slot + 1) & t->index_mask; /* never full: slots >= 2 * topics */
	}
}

static bool route_topic_is_valid(const struct route_topic *topic)
{
	return topic->partitions >= 1 && topic->partitions <= ROUTE_PARTITIONS_MAX &&
	       topic->name_len == strnlen(topic->name, sizeof(topic->name)) &&
	       wire_topic_is_valid((const uint8_t *)topic->name, topic->name_len);
}

int route_table_create(const struct route_conf *conf, struct route_table **out)
{
	uint32_t slots = 2;
	int rc;

	if (conf->topic_count > ROUTE_TOPICS_MAX || conf->partitions_default < 1 ||
	    conf->partitions_default > ROUTE_PARTITIONS_MAX) {
		return -EINVAL;
	}
	while (slots < 2 * conf->topic_count) {
		slots *= 2;
	}
	struct route_table *t = calloc(1, sizeof(*t));
	if (t == NULL) {
		return -ENOMEM;
	}
	t->partitions_default = conf->partitions_default;
	t->auto_create = conf->auto_create;
	t->index_mask = slots - 1;
	t->index = calloc(slots, sizeof(*t->index));
	if (t->index == NULL) {
		rc = -ENOMEM;
		goto out_free_table;
	}
	t->topics = calloc(conf->topic_count > 0 ? conf->topic_count : 1, sizeof(*t->topics));
	if (t->topics == NULL) {
		rc = -ENOMEM;
		goto out_free_index;
	}
	for (uint32_t i = 0; i < conf->topic_count; i++) {
		const struct route_topic *topic = &conf->topics[i];
		if (!route_topic_is_valid(topic)) {
			rc = -EINVAL;
			goto out_free_topics;
		}
		const uint8_t *name = (const uint8_t *)topic->name;
		uint32_t slot = route_index_find(t, route_topic_hash(name, topic->name_len), name,
						 topic->name_len);
		if (t->index[slot] != 0) {
			rc = -EINVAL; /* named twice */
			goto out_free_topics;
		}
		t->topics[i] = *topic;
		t->index[slot] = i + 1;
		t->topic_count = i + 1;
	}
	*out = t;
	return 0;

out_free_topics:
	free(t->topics);
out_free_index:
	free(t->index);
out_free_table:
	free(t);
	return rc;
}

void route_table_destroy(struct route_table *t)
{
	if (t == NULL) {
		return;
	}
	free(t->topics);
	free(t->index);
	free(t);
}

uint32_t route_partitions(const struct route_table *t, const uint8_t *name, size_t len)
{
	return route_partitions_hashed(t, route_topic_hash(name, len), name, len);
}

uint32_t route_partitions_hashed(const struct route_table *t, uint32_t topic_hash,
				 const uint8_t *name, size_t len)
{
	uint32_t v = t->index[route_index_find(t, topic_hash, name, len)];

	if (v != 0) {
		return t->topics[v - 1].partitions;
	}
	return t->auto_create ? t->partitions_default : 0;
}

uint32_t route_partitions_default(const struct route_table *t)
{
	return t->partitions_default;
}

bool route_auto_create(const struct route_table *t)
{
	return t->auto_create;
}

uint32_t route_topic_count(const struct route_table *t)
{
	return t->topic_count;
}

const struct route_topic *route_topic_at(const struct route_table *t, uint32_t i)
{
	return i < t->topic_count ? &t->topics[i] : NULL;
}

int route_topic_parse(const char *arg, struct route_topic *out)
{
	const char *colon = strrchr(arg, ':');

	if (colon == NULL) {
		return -EINVAL;
	}
	size_t name_len = (size_t)(colon - arg);
	if (!wire_topic_is_valid((const uint8_t *)arg, name_len)) {
		return -EINVAL;
	}
	const char *num = colon + 1;
	char *end = NULL;
	if (*num < '0' || *num > '9') {
		return -ERANGE;
	}
	errno = 0;
	unsigned long long n = strtoull(num, &end, 10);
	if (errno != 0 || *end != '\0' || n < 1 || n > ROUTE_PARTITIONS_MAX) {
		return -ERANGE;
	}
	memset(out, 0, sizeof(*out));
	memcpy(out->name, arg, name_len);
	out->name_len = (uint8_t)name_len;
	out->partitions = (uint32_t)n;
	return 0;
}
