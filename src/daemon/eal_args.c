/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sluiced is a DPDK application even on a laptop: with no EAL arguments it builds its
 * own, asking for no hugepages, no PCI devices and no shared files, and places the main
 * lcore and one worker lcore per shard on the CPUs the process may use.
 */
#include "daemon/daemon.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

void daemon_args_split(int argc, char **argv, int *eal_argc, int *flags_at)
{
	*eal_argc = 1;
	*flags_at = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			*eal_argc = i;
			*flags_at = i;
			return;
		}
	}
}

unsigned daemon_cpus_allowed(int *cpus, unsigned max)
{
	cpu_set_t set;
	unsigned n = 0;

	if (sched_getaffinity(0, sizeof(set), &set) != 0) {
		return 0;
	}
	for (int cpu = 0; cpu < CPU_SETSIZE && n < max; cpu++) {
		if (CPU_ISSET(cpu, &set)) {
			cpus[n++] = cpu;
		}
	}
	return n;
}

int daemon_eal_args_default(const char *prog, uint16_t shards, uint32_t memory_mb, const int *cpus,
			    unsigned ncpus, const char *eal_log_level, struct daemon_eal_args *out)
{
	size_t used = 0;
	int argc = 0;

	if (ncpus == 0) {
		return -EINVAL;
	}
	memset(out, 0, sizeof(*out));
	for (unsigned lcore = 0; lcore <= shards; lcore++) {
		int n = snprintf(out->lcores + used, sizeof(out->lcores) - used, "%s%u@%d",
				 lcore == 0 ? "" : ",", lcore, cpus[lcore % ncpus]);
		if (n < 0 || (size_t)n >= sizeof(out->lcores) - used) {
			return -E2BIG;
		}
		used += (size_t)n;
	}
	(void)snprintf(out->memory, sizeof(out->memory), "%u", memory_mb);
	(void)snprintf(out->text, sizeof(out->text), "--log-level=%s", eal_log_level);

	out->argv[argc++] = (char *)(uintptr_t)prog;
	out->argv[argc++] = (char *)(uintptr_t) "--no-huge";
	out->argv[argc++] = (char *)(uintptr_t) "--no-pci";
	out->argv[argc++] = (char *)(uintptr_t) "--no-shconf";
	out->argv[argc++] = (char *)(uintptr_t) "-m";
	out->argv[argc++] = out->memory;
	out->argv[argc++] = (char *)(uintptr_t) "--lcores";
	out->argv[argc++] = out->lcores;
	out->argv[argc++] = (char *)(uintptr_t) "--main-lcore";
	out->argv[argc++] = (char *)(uintptr_t) "0";
	out->argv[argc++] = out->text;
	out->argv[argc] = NULL;
	out->argc = argc;
	return 0;
}
