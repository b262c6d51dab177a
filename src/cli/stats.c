/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * `sluice stats`: every shard's counters from a running router, as a table (one row
 * per counter: the router-wide total, then each shard) or as one JSON object with
 * "totals" and "shards". Counter names come from sl_stat_name().
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define STATS_TIMEOUT_MS_DEFAULT 2000u
/* Shards asked for at most; the router's shard count fits 16 bits. */
#define STATS_SHARDS_MAX 1024u
/* Table columns beyond this many shards are left out (totals stay complete). */
#define STATS_TABLE_SHARDS_MAX 16u

static void stats_usage(FILE *f)
{
	fputs("usage: sluice stats [--router HOST:PORT] [--json] [--timeout-ms N]\n"
	      "Prints a router's counters: router-wide totals and each shard's.\n"
	      "\n"
	      "  --router HOST:PORT  router address (default " CLI_ROUTER_DEFAULT ")\n"
	      "  --timeout-ms N      give up after N ms (default 2000)\n"
	      "  --json              one JSON object instead of a table\n"
	      "  --help              this text\n",
	      f);
}

int cli_stats_parse(int argc, char **argv, struct cli_request_opts *opts, char *err)
{
	return cli_request_parse(argc, argv, STATS_TIMEOUT_MS_DEFAULT, false, opts, err);
}

static unsigned stats_counter_count(const struct sl_shard_stats *s, unsigned n)
{
	unsigned count = SL_STAT_COUNT;

	for (unsigned i = 0; i < n; i++) {
		count = s[i].counter_count < count ? s[i].counter_count : count;
	}
	return count;
}

static void stats_print_json(const struct sl_shard_stats *s, unsigned n)
{
	unsigned count = stats_counter_count(s, n);
	struct cli_json j;

	cli_json_init(&j, stdout);
	cli_json_object_begin(&j, NULL);
	cli_json_u64(&j, "shards", n);
	cli_json_object_begin(&j, "totals");
	for (unsigned c = 0; c < count; c++) {
		uint64_t total = 0;
		for (unsigned i = 0; i < n; i++) {
			total += s[i].counters[c];
		}
		cli_json_u64(&j, sl_stat_name(c), total);
	}
	cli_json_object_end(&j);
	cli_json_array_begin(&j, "per_shard");
	for (unsigned i = 0; i < n; i++) {
		cli_json_object_begin(&j, NULL);
		cli_json_u64(&j, "shard", s[i].shard);
		cli_json_u64(&j, "lcore", s[i].lcore);
		cli_json_u64(&j, "numa_node", s[i].numa_node);
		cli_json_object_begin(&j, "counters");
		for (unsigned c = 0; c < count; c++) {
			cli_json_u64(&j, sl_stat_name(c), s[i].counters[c]);
		}
		cli_json_object_end(&j);
		cli_json_object_end(&j);
	}
	cli_json_array_end(&j);
	cli_json_object_end(&j);
	cli_json_finish(&j);
}

static void stats_print_table(const struct sl_shard_stats *s, unsigned n)
{
	unsigned count = stats_counter_count(s, n);
	unsigned cols = n < STATS_TABLE_SHARDS_MAX ? n : STATS_TABLE_SHARDS_MAX;

	printf("%-24s %14s", "counter", "total");
	for (unsigned i = 0; i < cols; i++) {
		char name[16];
		snprintf(name, sizeof(name), "shard%u", s[i].shard);
		printf(" %14s", name);
	}
	printf("\n");
	for (unsigned c = 0; c < count; c++) {
		uint64_t total = 0;
		for (unsigned i = 0; i < n; i++) {
			total += s[i].counters[c];
		}
		printf("%-24s %14llu", sl_stat_name(c), (unsigned long long)total);
		for (unsigned i = 0; i < cols; i++) {
			printf(" %14llu", (unsigned long long)s[i].counters[c]);
		}
		printf("\n");
	}
	if (cols < n) {
		printf("(%u more shards not shown; --json lists all)\n", n - cols);
	}
}

int cli_stats_main(int argc, char **argv)
{
	struct cli_request_opts o;
	struct sl_shard_stats *s;
	char err[CLI_ERR_BYTES];
	unsigned n = 0;
	int rc;

	if (cli_stats_parse(argc, argv, &o, err) != 0) {
		fprintf(stderr, "sluice stats: %s\n(see sluice stats --help)\n", err);
		return CLI_EXIT_USAGE;
	}
	if (o.help) {
		stats_usage(stdout);
		return CLI_EXIT_OK;
	}
	s = calloc(STATS_SHARDS_MAX, sizeof(*s));
	if (s == NULL) {
		fprintf(stderr, "sluice stats: out of memory\n");
		return CLI_EXIT_FAILED;
	}
	rc = sl_stats_fetch(o.router, o.timeout_ms, s, STATS_SHARDS_MAX, &n);
	if (rc != 0) {
		fprintf(stderr, "sluice stats: %s: %s\n", o.router, cli_error_text(rc));
		if (o.json) {
			struct cli_json j;
			cli_json_init(&j, stdout);
			cli_json_object_begin(&j, NULL);
			cli_json_string(&j, "error", cli_error_text(rc));
			cli_json_object_end(&j);
			cli_json_finish(&j);
		}
		free(s);
		return CLI_EXIT_FAILED;
	}
	if (o.json) {
		stats_print_json(s, n);
	} else {
		stats_print_table(s, n);
	}
	free(s);
	return CLI_EXIT_OK;
}
