/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * `sluice metadata`: a router's limits (largest frame, shards, default partitions,
 * whether topics are created on first use, unacknowledged batches a producer may keep
 * in flight per partition) and, with --topic, that topic's partitions.
 */
#include "cli/cli.h"

#include <errno.h>
#include <string.h>

#define METADATA_TIMEOUT_MS_DEFAULT 2000u

static void metadata_usage(FILE *f)
{
	fputs("usage: sluice metadata [--router HOST:PORT] [--topic T] [--timeout-ms N] "
	      "[--json]\n"
	      "Prints the router's limits and, with --topic, the topic's partition count.\n"
	      "\n"
	      "  --router HOST:PORT  router address (default " CLI_ROUTER_DEFAULT ")\n"
	      "  --topic T           also report this topic\n"
	      "  --timeout-ms N      give up after N ms (default 2000)\n"
	      "  --json              one JSON object instead of text\n"
	      "  --help              this text\n",
	      f);
}

int cli_metadata_parse(int argc, char **argv, struct cli_request_opts *opts, char *err)
{
	return cli_request_parse(argc, argv, METADATA_TIMEOUT_MS_DEFAULT, true, opts, err);
}

int cli_metadata_main(int argc, char **argv)
{
	struct cli_request_opts o;
	struct sl_metadata md;
	char err[CLI_ERR_BYTES];
	int rc;

	if (cli_metadata_parse(argc, argv, &o, err) != 0) {
		fprintf(stderr, "sluice metadata: %s\n(see sluice metadata --help)\n", err);
		return CLI_EXIT_USAGE;
	}
	if (o.help) {
		metadata_usage(stdout);
		return CLI_EXIT_OK;
	}
	rc = sl_metadata_fetch(o.router, o.topic, o.timeout_ms, &md);
	if (rc != 0) {
		fprintf(stderr, "sluice metadata: %s: %s\n", o.router, cli_error_text(rc));
		if (o.json) {
			struct cli_json j;
			cli_json_init(&j, stdout);
			cli_json_object_begin(&j, NULL);
			cli_json_string(&j, "error", cli_error_text(rc));
			cli_json_object_end(&j);
			cli_json_finish(&j);
		}
		return CLI_EXIT_FAILED;
	}
	if (o.json) {
		struct cli_json j;
		cli_json_init(&j, stdout);
		cli_json_object_begin(&j, NULL);
		cli_json_u64(&j, "produce_bytes_max", md.produce_bytes_max);
		cli_json_u64(&j, "shards", md.shards);
		cli_json_u64(&j, "partitions_default", md.partitions_default);
		cli_json_bool(&j, "auto_create", md.auto_create != 0);
		cli_json_u64(&j, "stream_batches_max", md.stream_batches_max);
		if (o.topic != NULL) {
			cli_json_string(&j, "topic", o.topic);
			cli_json_u64(&j, "partitions", md.partitions);
		}
		cli_json_string(&j, "error", NULL);
		cli_json_object_end(&j);
		cli_json_finish(&j);
		return CLI_EXIT_OK;
	}
	printf("router              %s\n", o.router);
	printf("produce_bytes_max   %u\n", md.produce_bytes_max);
	printf("shards              %u\n", md.shards);
	printf("partitions_default  %u\n", md.partitions_default);
	printf("auto_create         %s\n", md.auto_create ? "yes" : "no");
	printf("stream_batches_max  %u%s\n", md.stream_batches_max,
	       md.stream_batches_max == 0 ? " (not announced: producers keep 1 in flight)" : "");
	if (o.topic != NULL) {
		printf("topic %s: %u partitions%s\n", o.topic, md.partitions,
		       md.partitions == 0 ? " (does not exist)" : "");
	}
	return CLI_EXIT_OK;
}
