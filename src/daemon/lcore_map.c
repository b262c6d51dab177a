/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The shard map: shard i runs on the i-th worker lcore and allocates on that lcore's
 * NUMA node. Printed at start so an operator sees which core serves which queue and
 * which partitions before the first datagram arrives.
 */
#include "daemon/daemon.h"

#include "core/log.h"

#include <rte_lcore.h>

#include <stdio.h>
#include <string.h>

uint16_t daemon_lcore_map(struct daemon_place *places, uint16_t max)
{
	unsigned lcore;
	uint16_t n = 0;

	RTE_LCORE_FOREACH_WORKER(lcore)
	{
		if (n == max) {
			break;
		}
		places[n].lcore = lcore;
		places[n].socket = (int)rte_lcore_to_socket_id(lcore);
		n++;
	}
	return n;
}

/* Appends the partitions of topic t that shard owns to line; false when it is full. */
static bool lcore_map_topic(char *line, size_t cap, size_t *used, const struct route_topic *t,
			    uint16_t shard, uint16_t shards)
{
	int n = snprintf(line + *used, cap - *used, " %s:", t->name);
	const char *sep = "";

	if (n < 0 || (size_t)n >= cap - *used) {
		return false;
	}
	*used += (size_t)n;
	for (uint32_t p = 0; p < t->partitions; p++) {
		if (route_owner((const uint8_t *)t->name, t->name_len, p, shards) != shard) {
			continue;
		}
		n = snprintf(line + *used, cap - *used, "%s%u", sep, p);
		if (n < 0 || (size_t)n >= cap - *used) {
			return false;
		}
		*used += (size_t)n;
		sep = ",";
	}
	return true;
}

void daemon_lcore_map_log(const struct daemon_place *places, uint16_t shards,
			  const struct route_table *routes, const struct daemon_flags *f,
			  const char *driver)
{
	for (uint16_t i = 0; i < shards; i++) {
		char owns[512];
		size_t used = 0;
		owns[0] = '\0';
		for (uint32_t t = 0; t < route_topic_count(routes); t++) {
			if (!lcore_map_topic(owns, sizeof(owns) - 4, &used,
					     route_topic_at(routes, t), i, shards)) {
				memcpy(owns + used, " ...", 5);
				break;
			}
		}
		sl_log(SL_LOG_INFO, "sluiced",
		       "shard %u: lcore %u, cpu %d, numa node %d, %s queue %u, owns partitions "
		       "by hash (topic hash + partition) mod %u%s%s",
		       i, places[i].lcore, rte_lcore_to_cpu_id((int)places[i].lcore),
		       places[i].socket, driver, i, shards, used > 0 ? ";" : "", owns);
	}
	sl_log(SL_LOG_INFO, "sluiced",
	       "listening on %s (%s), %u configured topics, other topics %s with %u "
	       "partitions, frames up to %u bytes, dedupe window %u batches per stream",
	       f->listen, driver, route_topic_count(routes),
	       f->auto_create ? "auto-created" : "refused", f->partitions, f->frame_bytes_max,
	       f->dedupe_window);
}
