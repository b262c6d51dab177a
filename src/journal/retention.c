/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Retention rules and the retention decision (journal/retention.h). Pure: the
 * maintenance thread resolves each topic's limits once, when it first meets the topic,
 * and asks journal_retention_plan() once per pass.
 */
#include "journal/retention.h"

#include <errno.h>
#include <string.h>

void journal_retention_rules_init(struct journal_retention_rules *r, uint64_t bytes,
				  uint64_t age_ns)
{
	r->defaults = (struct journal_retention){.bytes = bytes, .age_ns = age_ns};
	r->ntopics = 0;
}

/* Index of topic[0..len)'s override, or -1. */
static int32_t journal_retention_find(const struct journal_retention_rules *r, const uint8_t *topic,
				      uint8_t len)
{
	for (uint32_t i = 0; i < r->ntopics; i++) {
		const struct journal_retention_topic *t = &r->topics[i];
		if (t->topic_len == len && memcmp(t->topic, topic, len) == 0) {
			return (int32_t)i;
		}
	}
	return -1;
}

int journal_retention_rules_set(struct journal_retention_rules *r, const uint8_t *topic,
				uint8_t len, bool has_bytes, uint64_t bytes, bool has_age,
				uint64_t age_ns)
{
	struct journal_retention_topic *t;
	int32_t i;

	if (len == 0) {
		return -EINVAL;
	}
	i = journal_retention_find(r, topic, len);
	if (i >= 0) {
		t = &r->topics[i];
	} else if (r->ntopics == JOURNAL_RETENTION_TOPICS_MAX) {
		return -ENOSPC;
	} else {
		t = &r->topics[r->ntopics++];
		*t = (struct journal_retention_topic){.topic_len = len};
		memcpy(t->topic, topic, len);
	}
	if (has_bytes) {
		t->has_bytes = true;
		t->limits.bytes = bytes;
	}
	if (has_age) {
		t->has_age = true;
		t->limits.age_ns = age_ns;
	}
	return 0;
}

struct journal_retention journal_retention_resolve(const struct journal_retention_rules *r,
						   const uint8_t *topic, uint8_t len)
{
	int32_t i = journal_retention_find(r, topic, len);
	struct journal_retention out = r->defaults;

	if (i >= 0 && r->topics[i].has_bytes) {
		out.bytes = r->topics[i].limits.bytes;
	}
	if (i >= 0 && r->topics[i].has_age) {
		out.age_ns = r->topics[i].limits.age_ns;
	}
	return out;
}

/* True when topic u's limits let its share of a segment go; remaining[] counts its
 * bytes from this segment on. */
static bool journal_retention_lets_go(const struct journal_retention_usage *u,
				      const struct journal_retention *limit,
				      const uint64_t *remaining, uint64_t now_ns)
{
	bool old =
		limit->age_ns != 0 && now_ns > limit->age_ns && u->max_ns < now_ns - limit->age_ns;
	bool surplus = limit->bytes != 0 && remaining[u->topic] - u->bytes >= limit->bytes;

	return old || surplus;
}

uint32_t journal_retention_plan(const struct journal_retention_segment *segs, uint32_t n,
				const struct journal_retention *limits, uint32_t ntopics,
				uint64_t *remaining, uint64_t now_ns)
{
	uint32_t k;

	for (uint32_t t = 0; t < ntopics; t++) {
		remaining[t] = 0;
	}
	for (uint32_t i = 0; i < n; i++) {
		for (uint32_t u = 0; u < segs[i].nusage; u++) {
			remaining[segs[i].usage[u].topic] += segs[i].usage[u].bytes;
		}
	}
	for (k = 0; k + 1 < n; k++) {
		const struct journal_retention_segment *s = &segs[k];
		bool go = true;
		for (uint32_t u = 0; u < s->nusage && go; u++) {
			go = journal_retention_lets_go(&s->usage[u], &limits[s->usage[u].topic],
						       remaining, now_ns);
		}
		if (!go) {
			break;
		}
		for (uint32_t u = 0; u < s->nusage; u++) {
			remaining[s->usage[u].topic] -= s->usage[u].bytes;
		}
	}
	return k;
}
