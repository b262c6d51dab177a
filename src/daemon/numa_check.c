/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The NUMA check of the start-up map: once every shard's memory is allocated, and
 * before the shards start, look up where that memory really is (DPDK memory by its
 * memory segment's socket, libnuma memory by the node of its page) and where the port
 * is, and say in one line per shard, and one for the port, whether it is all on the
 * shard's node. Start-up only: a few lookups per shard, nothing on the data path.
 */
#include "daemon/daemon.h"

#include "core/log.h"

#include <rte_ethdev.h>
#include <rte_memory.h>
#include <rte_mempool.h>

#include <numaif.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Appends to line, truncating (with the line still terminated) when it is full. */
static void numa_append(char *line, size_t cap, size_t *used, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void numa_append(char *line, size_t cap, size_t *used, const char *fmt, ...)
{
	va_list ap;

	if (*used + 1 >= cap) {
		return;
	}
	va_start(ap, fmt);
	int n = vsnprintf(line + *used, cap - *used, fmt, ap);
	va_end(ap);
	if (n > 0) {
		*used += (size_t)n < cap - *used ? (size_t)n : cap - *used - 1;
	}
}

unsigned daemon_numa_memory_line(int node, const struct daemon_numa_probe *probes, unsigned n,
				 char *line, size_t cap)
{
	size_t used = 0;
	unsigned remote = 0;
	unsigned unknown = 0;
	const char *sep = "";

	line[0] = '\0';
	for (unsigned i = 0; i < n; i++) {
		if (probes[i].node == DAEMON_NUMA_UNKNOWN) {
			unknown++;
		} else if (probes[i].node != node) {
			remote++;
		}
	}
	numa_append(line, cap, &used, "memory on node %d: %s", node,
		    remote == 0 ? "ok" : "NOT ALL LOCAL: ");
	if (remote > 0) {
		for (unsigned i = 0; i < n; i++) {
			if (probes[i].node != DAEMON_NUMA_UNKNOWN && probes[i].node != node) {
				numa_append(line, cap, &used, "%s%s on node %d", sep,
					    probes[i].what, probes[i].node);
				sep = ", ";
			}
		}
		numa_append(line, cap, &used, " (every access to it crosses the interconnect)");
	}
	sep = "";
	numa_append(line, cap, &used, "%s", remote > 0 ? "; local: " : " (");
	for (unsigned i = 0; i < n; i++) {
		if (probes[i].node == node) {
			numa_append(line, cap, &used, "%s%s", sep, probes[i].what);
			sep = ", ";
		}
	}
	if (sep[0] == '\0') {
		numa_append(line, cap, &used, "none");
	}
	numa_append(line, cap, &used, "%s", remote > 0 ? "" : ")");
	if (unknown > 0) {
		sep = "";
		numa_append(line, cap, &used, "; node unknown: ");
		for (unsigned i = 0; i < n; i++) {
			if (probes[i].node == DAEMON_NUMA_UNKNOWN) {
				numa_append(line, cap, &used, "%s%s", sep, probes[i].what);
				sep = ", ";
			}
		}
	}
	return remote;
}

unsigned daemon_numa_port_line(uint16_t port_id, int port_node, const int *shard_nodes,
			       uint16_t shards, char *line, size_t cap)
{
	size_t used = 0;
	unsigned remote = 0;
	const char *sep = "";

	line[0] = '\0';
	if (port_node < 0) {
		numa_append(line, cap, &used,
			    "port %u: numa node unknown (the device reports SOCKET_ID_ANY, as "
			    "virtual devices and machines without NUMA information do): cannot "
			    "check that it is local to the shards",
			    port_id);
		return 0;
	}
	for (uint16_t i = 0; i < shards; i++) {
		remote += shard_nodes[i] != port_node ? 1u : 0u;
	}
	if (remote == 0) {
		numa_append(line, cap, &used, "port %u on numa node %d: ok, every shard is on it",
			    port_id, port_node);
		return 0;
	}
	numa_append(line, cap, &used, "port %u on numa node %d, but ", port_id, port_node);
	for (uint16_t i = 0; i < shards; i++) {
		if (shard_nodes[i] != port_node) {
			numa_append(line, cap, &used, "%sshard %u on node %d", sep, i,
				    shard_nodes[i]);
			sep = ", ";
		}
	}
	numa_append(line, cap, &used,
		    ": their frames cross the interconnect (give them worker lcores on node %d)",
		    port_node);
	return remote;
}

int daemon_numa_node_of_page(const void *addr)
{
	long page = sysconf(_SC_PAGESIZE);
	void *pages[1] = {(void *)((uintptr_t)addr & ~((uintptr_t)page - 1))};
	int status[1] = {-1};

	if (page <= 0 || move_pages(0, 1, pages, NULL, status, 0) != 0 || status[0] < 0) {
		return DAEMON_NUMA_UNKNOWN; /* -ENOENT: no page there yet */
	}
	return status[0];
}

int daemon_numa_node_of_dpdk(const void *addr)
{
	const struct rte_memseg *ms = rte_mem_virt2memseg(addr, NULL);

	if (ms != NULL && ms->socket_id >= 0) {
		return ms->socket_id;
	}
	/* External or --no-huge memory with no socket of its own: ask the kernel. */
	return daemon_numa_node_of_page(addr);
}

/* Folds the node of one more of several objects into *worst: the first node found that
 * is not `node` (a known one before an unknown one), else `node`. */
static void numa_worst(int node, int found, int *worst)
{
	if (found == node || (*worst != node && *worst != DAEMON_NUMA_UNKNOWN)) {
		return;
	}
	*worst = found;
}

struct numa_pool_walk {
	int node;
	int worst;
};

static void numa_pool_chunk(struct rte_mempool *mp, void *opaque, struct rte_mempool_memhdr *mh,
			    unsigned idx)
{
	struct numa_pool_walk *w = opaque;

	(void)mp;
	(void)idx;
	numa_worst(w->node, daemon_numa_node_of_dpdk(mh->addr), &w->worst);
}

unsigned daemon_numa_check_shard(uint16_t shard, int node, struct rte_mempool *pool,
				 const void *shard_state, const struct mesh *mesh,
				 const void *journal_buffer)
{
	struct daemon_numa_probe probes[4];
	unsigned n = 0;
	char line[512];

	struct numa_pool_walk w = {.node = node, .worst = node};
	(void)rte_mempool_mem_iter(pool, numa_pool_chunk, &w);
	probes[n++] = (struct daemon_numa_probe){.what = "mbuf pool", .node = w.worst};
	probes[n++] = (struct daemon_numa_probe){.what = "shard state",
						 .node = daemon_numa_node_of_dpdk(shard_state)};
	if (mesh != NULL) {
		/* The rings into a shard are on its node: it is their consumer. */
		int worst = node;
		for (uint16_t from = 0; from < mesh->shards; from++) {
			unsigned at = (unsigned)from * mesh->shards + shard;
			if (from != shard) {
				numa_worst(node, daemon_numa_node_of_dpdk(mesh->rings[at]), &worst);
				numa_worst(node, daemon_numa_node_of_dpdk(mesh->ctl_rings[at]),
					   &worst);
			}
		}
		probes[n++] = (struct daemon_numa_probe){.what = "mesh rings in", .node = worst};
	}
	if (journal_buffer != NULL) {
		probes[n++] = (struct daemon_numa_probe){
			.what = "journal buffers",
			.node = daemon_numa_node_of_page(journal_buffer)};
	}
	unsigned remote = daemon_numa_memory_line(node, probes, n, line, sizeof(line));
	sl_log(remote > 0 ? SL_LOG_WARNING : SL_LOG_INFO, "sluiced", "shard %u: %s", shard, line);
	return remote;
}

unsigned daemon_numa_check_port(uint16_t port_id, const struct daemon_place *places,
				uint16_t shards)
{
	int nodes[SHARD_SHARDS_MAX];
	char line[512];

	for (uint16_t i = 0; i < shards; i++) {
		nodes[i] = places[i].socket;
	}
	unsigned remote = daemon_numa_port_line(port_id, rte_eth_dev_socket_id(port_id), nodes,
						shards, line, sizeof(line));
	sl_log(remote > 0 ? SL_LOG_WARNING : SL_LOG_INFO, "sluiced", "%s", line);
	return remote;
}
