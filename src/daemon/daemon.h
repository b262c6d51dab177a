/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sluiced's wiring, shared by the files of src/daemon: the EAL arguments it builds when
 * given none, the map of shards onto lcores and NUMA nodes, and the control plane that
 * runs on the main lcore (signals, periodic counter log) while shards run on workers.
 */
#ifndef SL_DAEMON_DAEMON_H
#define SL_DAEMON_DAEMON_H

#include "daemon/flags.h"
#include "shard/shard.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest EAL argv sluiced builds itself. */
#define DAEMON_EAL_ARGC_MAX 16

/* EAL arguments built by daemon_eal_args_default(); argv points into text. */
struct daemon_eal_args {
	int argc;
	char *argv[DAEMON_EAL_ARGC_MAX + 1];
	char lcores[1024]; /* "--lcores" value */
	char memory[16];   /* "-m" value */
	char text[256];	   /* other values */
};

/*
 * Splits sluiced's argv at the first "--": *eal_argc is the count of argv[0] plus the
 * EAL arguments before it (1 when there are none, or no "--" at all), *flags_at the
 * index where sluiced's flags start, with argv[*flags_at] standing in as the program name
 * for getopt (so flags_at is the "--" itself, or 0 without "--").
 */
void daemon_args_split(int argc, char **argv, int *eal_argc, int *flags_at);

/*
 * Builds the EAL arguments used when none are given: no hugepages, no PCI, no shared
 * config, `memory_mb` of memory, the main lcore on cpus[0] and worker lcore i (shard
 * i-1) on cpus[i mod ncpus], EAL logging at `eal_log_level` ("error", "info"...).
 * Returns 0 or -E2BIG when the lcore list does not fit.
 */
int daemon_eal_args_default(const char *prog, uint16_t shards, uint32_t memory_mb, const int *cpus,
			    unsigned ncpus, const char *eal_log_level, struct daemon_eal_args *out);

/* CPUs this process may run on (sched_getaffinity), ascending; returns how many (0 on
 * error). */
unsigned daemon_cpus_allowed(int *cpus, unsigned max);

/* Where shard i runs: its lcore and NUMA node. */
struct daemon_place {
	unsigned lcore;
	int socket;
};

/*
 * Fills places[] with one entry per worker lcore of the initialised EAL, in lcore
 * order: shard i runs on places[i]. Returns the number of shards (0: no worker lcore),
 * at most max.
 */
uint16_t daemon_lcore_map(struct daemon_place *places, uint16_t max);

/* Logs (info) the start-up map: for each shard its lcore, CPU, NUMA node, queue and
 * partitions, then the listen address and the topics. */
void daemon_lcore_map_log(const struct daemon_place *places, uint16_t shards,
			  const struct route_table *routes, const struct daemon_flags *f,
			  const char *driver);

/* A node not known: SOCKET_ID_ANY from DPDK, or a page the kernel has not placed. */
#define DAEMON_NUMA_UNKNOWN (-1)

/* Where one piece of a shard's memory was found. */
struct daemon_numa_probe {
	const char *what; /* "mbuf pool", "journal buffers"... */
	int node;	  /* NUMA node, or DAEMON_NUMA_UNKNOWN */
};

/*
 * Writes into line (cap bytes, always terminated, truncated if need be) the verdict on
 * the memory of a shard whose lcore is on NUMA `node`: "memory on node N: ok (...)" when
 * every probe is on it, else each probe on another node named with its node; probes of
 * unknown node are listed apart and are not counted. Returns the number of probes on
 * another node. Pure.
 */
unsigned daemon_numa_memory_line(int node, const struct daemon_numa_probe *probes, unsigned n,
				 char *line, size_t cap);

/*
 * Writes into line the verdict on port port_id, on node port_node (negative: unknown,
 * SOCKET_ID_ANY, which the line says), for shards whose lcores are on shard_nodes[].
 * Returns the number of shards on another node than a known port_node. Pure.
 */
unsigned daemon_numa_port_line(uint16_t port_id, int port_node, const int *shard_nodes,
			       uint16_t shards, char *line, size_t cap);

/* NUMA node of the page holding addr (move_pages query), or DAEMON_NUMA_UNKNOWN when
 * the page is not present (never touched) or the kernel cannot say. */
int daemon_numa_node_of_page(const void *addr);

/* NUMA node of DPDK memory at addr: its memory segment's socket, else the page's node. */
int daemon_numa_node_of_dpdk(const void *addr);

/*
 * Start-up, before the shards run: finds where shard `shard`'s memory is (every chunk of
 * its mbuf pool, its state, the mesh rings into it when mesh is not NULL, its journal's
 * write buffers when journal_buffer is not NULL), logs the daemon_numa_memory_line()
 * verdict for it (a warning when some is on another node than `node`) and returns the
 * number of pieces on another node.
 */
unsigned daemon_numa_check_shard(uint16_t shard, int node, struct rte_mempool *pool,
				 const void *shard_state, const struct mesh *mesh,
				 const void *journal_buffer);

/* Start-up: logs the daemon_numa_port_line() verdict for DPDK port port_id and the
 * shards at places[] (a warning when some is on another node); returns its count. */
unsigned daemon_numa_check_port(uint16_t port_id, const struct daemon_place *places,
				uint16_t shards);

/* Installs SIGINT/SIGTERM handlers that end daemon_control_run(). */
int daemon_signals_install(void);

/*
 * Runs the control plane on the main lcore until SIGINT/SIGTERM: sleeps in steps of at
 * most 100 ms and, every stats_interval_s seconds (0: never), logs one line of counters
 * summed over the shards. Then stops the journal maintenance thread (maint, may be
 * NULL), which reads the shards' journals, and only then the shards, which close them.
 */
void daemon_control_run(struct shard_env *env, uint32_t stats_interval_s,
			struct journal_maint *maint);

/* Logs one line of counters summed over every shard of env. */
void daemon_stats_log(const struct shard_env *env);

#endif
