/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Entry point of the `sluice` command: a table of subcommands (produce, consume, stats,
 * ping, metadata, journal) and the global --help and --version.
 * Each subcommand parses its own flags; see cli.h for the exit statuses.
 */
#include "cli/cli.h"

#include <string.h>

#ifndef SLUICE_VERSION
#error "SLUICE_VERSION must be defined by the build"
#endif

struct cli_command {
	const char *name;
	const char *summary;
	int (*main)(int argc, char **argv);
};

static const struct cli_command cli_commands[] = {
	{"produce", "send events (generated or stdin lines) and wait for their acks",
	 cli_produce_main},
	{"consume", "subscribe to a pattern and print the events, one per line", cli_consume_main},
	{"stats", "print a router's counters, router-wide and per shard", cli_stats_main},
	{"ping", "check that a router answers and measure the round trip", cli_ping_main},
	{"metadata", "print a router's limits and a topic's partitions", cli_metadata_main},
	{"journal", "verify, dump, summarise or index journal files offline", cli_journal_main},
};

static void cli_usage(FILE *f)
{
	fputs("usage: sluice <command> [flags]\n"
	      "       sluice <command> --help\n"
	      "       sluice --version\n"
	      "\n"
	      "commands:\n",
	      f);
	for (size_t i = 0; i < sizeof(cli_commands) / sizeof(cli_commands[0]); i++) {
		fprintf(f, "  %-10s %s\n", cli_commands[i].name, cli_commands[i].summary);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		cli_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		cli_usage(stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("sluice %s\n", SLUICE_VERSION);
		return CLI_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(cli_commands) / sizeof(cli_commands[0]); i++) {
		if (strcmp(argv[1], cli_commands[i].name) == 0) {
			return cli_commands[i].main(argc - 1, argv + 1);
		}
	}
	fprintf(stderr, "sluice: %s: unknown command\n", argv[1]);
	cli_usage(stderr);
	return CLI_EXIT_USAGE;
}
