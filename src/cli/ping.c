/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * `sluice ping`: is a router answering at HOST:PORT, and how long does a round trip
 * through it take. Exits 0 on a reply, 1 on timeout.
 */
#include "cli/cli.h"

#include <errno.h>
#include <string.h>

#define PING_TIMEOUT_MS_DEFAULT 1000u

static void ping_usage(FILE *f)
{
	fputs("usage: sluice ping [--router HOST:PORT] [--timeout-ms N] [--json]\n"
	      "Sends one PING and prints the round-trip time of the PONG.\n"
	      "\n"
	      "  --router HOST:PORT  router address (default " CLI_ROUTER_DEFAULT ")\n"
	      "  --timeout-ms N      give up after N ms (default 1000)\n"
	      "  --json              one JSON object: {\"rtt_us\": ..., \"error\": ...}\n"
	      "  --help              this text\n",
	      f);
}

int cli_ping_parse(int argc, char **argv, struct cli_request_opts *opts, char *err)
{
	return cli_request_parse(argc, argv, PING_TIMEOUT_MS_DEFAULT, false, opts, err);
}

int cli_ping_main(int argc, char **argv)
{
	struct cli_request_opts o;
	char err[CLI_ERR_BYTES];
	uint64_t rtt = 0;
	int rc;

	if (cli_ping_parse(argc, argv, &o, err) != 0) {
		fprintf(stderr, "sluice ping: %s\n(see sluice ping --help)\n", err);
		return CLI_EXIT_USAGE;
	}
	if (o.help) {
		ping_usage(stdout);
		return CLI_EXIT_OK;
	}
	rc = sl_ping(o.router, o.timeout_ms, &rtt);
	if (o.json) {
		struct cli_json j;
		cli_json_init(&j, stdout);
		cli_json_object_begin(&j, NULL);
		cli_json_string(&j, "router", o.router);
		cli_json_double(&j, "rtt_us", rc == 0 ? (double)rtt / 1e3 : 0.0);
		cli_json_string(&j, "error", rc == 0 ? NULL : cli_error_text(rc));
		cli_json_object_end(&j);
		cli_json_finish(&j);
	} else if (rc == 0) {
		printf("pong from %s in %.1f us\n", o.router, (double)rtt / 1e3);
	}
	if (rc != 0) {
		fprintf(stderr, "sluice ping: %s: %s\n", o.router, cli_error_text(rc));
		return CLI_EXIT_FAILED;
	}
	return CLI_EXIT_OK;
}
