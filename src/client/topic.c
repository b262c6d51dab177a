/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The producer's topics and their streams. A topic is learned from METADATA on its
 * first event (partition count and window) and keeps one stream per partition: the
 * sequence space, the batch being filled, the sealed batches awaiting acks and those
 * waiting for room in the window. Lookups by name are hashed, with the last topic used
 * checked first because producers mostly send to one topic at a time.
 */
#include "client/client_int.h"

#include "core/crc32c.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define TOPIC_TABLE_SLOTS_MIN 16u

int topic_table_init(struct topic_table *tt)
{
	memset(tt, 0, sizeof(*tt));
	tt->slot = calloc(TOPIC_TABLE_SLOTS_MIN, sizeof(*tt->slot));
	if (tt->slot == NULL) {
		return -ENOMEM;
	}
	tt->mask = TOPIC_TABLE_SLOTS_MIN - 1;
	return 0;
}

static void topic_free(struct topic *t)
{
	free(t->streams);
	free(t->name);
	free(t);
}

void topic_table_fini(struct topic_table *tt)
{
	if (tt->slot != NULL) {
		for (uint32_t i = 0; i <= tt->mask; i++) {
			if (tt->slot[i] != NULL) {
				topic_free(tt->slot[i]);
			}
		}
	}
	free(tt->slot);
	memset(tt, 0, sizeof(*tt));
}

struct topic *topic_table_find(struct topic_table *tt, const char *name, size_t len)
{
	struct topic *t = tt->last;
	uint32_t i;

	if (t != NULL && t->name_len == len && memcmp(t->name, name, len) == 0) {
		return t;
	}
	uint32_t hash = crc32c_extend(0, name, len);
	for (i = hash & tt->mask; (t = tt->slot[i]) != NULL; i = (i + 1) & tt->mask) {
		if (t->hash == hash && t->name_len == len && memcmp(t->name, name, len) == 0) {
			tt->last = t;
			return t;
		}
	}
	return NULL;
}

static void topic_table_place(struct topic **slot, uint32_t mask, struct topic *t)
{
	uint32_t i = t->hash & mask;

	while (slot[i] != NULL) {
		i = (i + 1) & mask;
	}
	slot[i] = t;
}

/* Keeps the load at most 1/2: doubles the table when it would pass that. */
static int topic_table_reserve(struct topic_table *tt)
{
	uint32_t size = tt->mask + 1;
	struct topic **slot;

	if (2 * (tt->count + 1) <= size) {
		return 0;
	}
	slot = calloc(2 * (size_t)size, sizeof(*slot));
	if (slot == NULL) {
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < size; i++) {
		if (tt->slot[i] != NULL) {
			topic_table_place(slot, 2 * size - 1, tt->slot[i]);
		}
	}
	free(tt->slot);
	tt->slot = slot;
	tt->mask = 2 * size - 1;
	return 0;
}

int topic_table_add(struct topic_table *tt, const char *name, size_t len, uint32_t partitions,
		    uint32_t stream_batches_max, struct topic **out)
{
	struct topic *t;
	int rc;

	if (partitions == 0 || partitions > CLIENT_PARTITIONS_LIMIT || stream_batches_max == 0 ||
	    len > SL_WIRE_TOPIC_BYTES_MAX) {
		return -EINVAL;
	}
	rc = topic_table_reserve(tt);
	if (rc != 0) {
		return rc;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		return -ENOMEM;
	}
	t->name = malloc(len + 1);
	if (t->name == NULL) {
		rc = -ENOMEM;
		goto out_free_topic;
	}
	t->streams = calloc(partitions, sizeof(*t->streams));
	if (t->streams == NULL) {
		rc = -ENOMEM;
		goto out_free_name;
	}
	memcpy(t->name, name, len);
	t->name[len] = '\0';
	t->name_len = (uint32_t)len;
	t->hash = crc32c_extend(0, name, len);
	t->partitions = partitions;
	t->stream_batches_max = stream_batches_max;
	for (uint32_t i = 0; i < partitions; i++) {
		t->streams[i].topic = t;
		t->streams[i].partition = i;
		t->streams[i].id = tt->next_stream_id++;
	}
	topic_table_place(tt->slot, tt->mask, t);
	tt->count++;
	tt->last = t;
	*out = t;
	return 0;

out_free_name:
	free(t->name);
out_free_topic:
	free(t);
	return rc;
}
