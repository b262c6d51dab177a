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
