/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Flags of `sluice produce`, parsed into struct cli_produce_opts without side effects
 * so that unit tests can check every rejection. The --test-drop-* flags are for tests
 * only: they drop that share of datagrams inside the producer and are not in --help.
 */
#include "cli/cli.h"

#include "core/wire.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>

#define PRODUCE_SIZE_DEFAULT 64u

enum {
	OPT_ROUTER = 256,
	OPT_DRIVER,
	OPT_LOCAL_IP,
	OPT_PORT_ID,
	OPT_TOPIC,
	OPT_KEY,
	OPT_ACKS,
	OPT_COUNT,
	OPT_SIZE,
	OPT_RATE,
	OPT_JSON,
	OPT_PARTITION,
	OPT_LINGER_US,
	OPT_FRAME_BYTES,
	OPT_INFLIGHT_BYTES,
	OPT_SEND_WINDOW_BYTES,
	OPT_RETRIES,
	OPT_RETRY_TIMEOUT_US,
	OPT_TEST_DROP_TX,
	OPT_TEST_DROP_RX,
	OPT_HELP,
};

static const struct option produce_options[] = {
	{"router", required_argument, NULL, OPT_ROUTER},
	{"driver", required_argument, NULL, OPT_DRIVER},
	{"local-ip", required_argument, NULL, OPT_LOCAL_IP},
	{"port-id", required_argument, NULL, OPT_PORT_ID},
	{"topic", required_argument, NULL, OPT_TOPIC},
	{"key", required_argument, NULL, OPT_KEY},
	{"acks", required_argument, NULL, OPT_ACKS},
	{"count", required_argument, NULL, OPT_COUNT},
	{"size", required_argument, NULL, OPT_SIZE},
	{"rate", required_argument, NULL, OPT_RATE},
	{"json", no_argument, NULL, OPT_JSON},
	{"partition", required_argument, NULL, OPT_PARTITION},
	{"linger-us", required_argument, NULL, OPT_LINGER_US},
	{"frame-bytes", required_argument, NULL, OPT_FRAME_BYTES},
	{"inflight-bytes", required_argument, NULL, OPT_INFLIGHT_BYTES},
	{"send-window-bytes", required_argument, NULL, OPT_SEND_WINDOW_BYTES},
	{"retries", required_argument, NULL, OPT_RETRIES},
	{"retry-timeout-us", required_argument, NULL, OPT_RETRY_TIMEOUT_US},
	{"test-drop-tx-permille", required_argument, NULL, OPT_TEST_DROP_TX},
	{"test-drop-rx-permille", required_argument, NULL, OPT_TEST_DROP_RX},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

void cli_produce_usage(FILE *f)
{
	fputs("usage: sluice produce --topic T [flags] [-- EAL-ARGS]\n"
	      "Sends events to a router and waits until they are acknowledged.\n"
	      "With --count, generates N events of --size bytes; otherwise each line of\n"
	      "standard input is one event (without its newline).\n"
	      "\n"
	      "  --router HOST:PORT      router address (default " CLI_ROUTER_DEFAULT ")\n"
	      "  --topic T               topic to produce to (required)\n"
	      "  --driver udp|dpdk       udp: a kernel socket (default); dpdk: libsluice-dpdk\n"
	      "                          on an ethdev port brought up with the EAL\n"
	      "                          arguments after --, e.g. -- --no-huge --no-pci -l 0\n"
	      "                          --vdev=net_af_packet0,iface=eth1 (--router must\n"
	      "                          then be a literal IPV4:PORT)\n"
	      "  --local-ip IP           dpdk: this producer's IPv4 address (required)\n"
	      "  --port-id N             dpdk: the ethdev port to use (default 0)\n"
	      "  --key K                 key of every event (default: none, events spread\n"
	      "                          over partitions); keyed events go to\n"
	      "                          crc32c(K) mod partitions\n"
	      "  --partition P           send every event to partition P (with or without\n"
	      "                          a key)\n"
	      "  --acks LEVEL            none, received or durable (default received)\n"
	      "  --count N               generate N events instead of reading stdin\n"
	      "  --size BYTES            bytes per generated event (default 64)\n"
	      "  --rate N                events per second, 0 for as fast as possible\n"
	      "                          (default 0)\n"
	      "  --linger-us N           how long a batch waits to fill (default 1000)\n"
	      "  --frame-bytes N         largest datagram (default 1472, max 8972)\n"
	      "  --inflight-bytes N      unacknowledged bytes before waiting\n"
	      "                          (default 4194304)\n"
	      "  --send-window-bytes N   sent and unanswered bytes; later batches wait in\n"
	      "                          the producer (default 262144, 0: no limit)\n"
	      "  --retries N             unanswered retransmits before a batch fails\n"
	      "                          (default 20)\n"
	      "  --retry-timeout-us N    least first retransmit timeout (longer when round\n"
	      "                          trips are), doubling up to 500 ms (default 20000)\n"
	      "  --json                  print one JSON object with the results as the last\n"
	      "                          line of stdout, also when the run fails\n"
	      "  --help                  this text\n"
	      "\n"
	      "Exit status: 0 when every event was acknowledged (or sent, with --acks none),\n"
	      "1 when some failed or the run stopped, 2 for a usage error.\n",
	      f);
}

static void produce_defaults(struct cli_produce_opts *o)
{
	struct sl_producer_config cfg;

	sl_producer_config_init(&cfg);
	memset(o, 0, sizeof(*o));
	o->router = CLI_ROUTER_DEFAULT;
	o->acks = SL_ACKS_RECEIVED;
	o->size = PRODUCE_SIZE_DEFAULT;
	o->linger_us = cfg.linger_us;
	o->frame_bytes = cfg.frame_bytes_max;
	o->inflight_bytes = cfg.inflight_bytes_max;
	o->send_window_bytes = cfg.send_window_bytes;
	o->retries = cfg.retries_max;
	o->retry_timeout_us = cfg.retry_timeout_us;
}

/* One flag with its value; returns 0 or -EINVAL with err filled. */
static int produce_flag(int c, const char *arg, struct cli_produce_opts *o, bool *has_size,
			char *err)
{
	uint64_t v = 0;
	int rc = 0;

	switch (c) {
	case OPT_ROUTER:
		o->router = arg;
		return cli_check_router("--router", arg, err);
	case OPT_TOPIC:
		o->topic = arg;
		return 0;
	case OPT_DRIVER:
		if (strcmp(arg, "udp") == 0) {
			o->driver = CLI_DRIVER_UDP;
		} else if (strcmp(arg, "dpdk") == 0) {
			o->driver = CLI_DRIVER_DPDK;
		} else {
			snprintf(err, CLI_ERR_BYTES, "--driver: '%s' is not udp or dpdk", arg);
			return -EINVAL;
		}
		return 0;
	case OPT_LOCAL_IP:
		o->local_ip = arg;
		return 0;
	case OPT_PORT_ID:
		rc = cli_parse_u64("--port-id", arg, 0, UINT16_MAX, &v, err);
		o->port_id = (uint16_t)v;
		return rc;
	case OPT_KEY:
		if (strlen(arg) > UINT16_MAX) {
			snprintf(err, CLI_ERR_BYTES, "--key: longer than 65535 bytes");
			return -EINVAL;
		}
		o->key = arg;
		return 0;
	case OPT_ACKS:
		return cli_parse_acks("--acks", arg, &o->acks, err);
	case OPT_COUNT:
		o->has_count = true;
		return cli_parse_u64("--count", arg, 0, UINT64_MAX, &o->count, err);
	case OPT_SIZE:
		*has_size = true;
		rc = cli_parse_u64("--size", arg, 0, SL_WIRE_FRAME_BYTES_MAX, &v, err);
		o->size = (uint32_t)v;
		return rc;
	case OPT_RATE:
		return cli_parse_u64("--rate", arg, 0, 1000000000u, &o->rate, err);
	case OPT_JSON:
		o->json = true;
		return 0;
	case OPT_PARTITION:
		o->has_partition = true;
		rc = cli_parse_u64("--partition", arg, 0, UINT32_MAX, &v, err);
		o->partition = (uint32_t)v;
		return rc;
	case OPT_LINGER_US:
		rc = cli_parse_u64("--linger-us", arg, 0, 10000000u, &v, err);
		o->linger_us = (uint32_t)v;
		return rc;
	case OPT_FRAME_BYTES:
		rc = cli_parse_u64("--frame-bytes", arg, SL_WIRE_FRAME_BYTES_MIN,
				   SL_WIRE_FRAME_BYTES_MAX, &v, err);
		o->frame_bytes = (uint32_t)v;
		return rc;
	case OPT_INFLIGHT_BYTES:
		return cli_parse_u64("--inflight-bytes", arg, SL_WIRE_FRAME_BYTES_MAX, 1u << 30,
				     &o->inflight_bytes, err);
	case OPT_SEND_WINDOW_BYTES:
		return cli_parse_u64("--send-window-bytes", arg, 0, 1u << 30, &o->send_window_bytes,
				     err);
	case OPT_RETRIES:
		rc = cli_parse_u64("--retries", arg, 0, 1000, &v, err);
		o->retries = (uint32_t)v;
		return rc;
	case OPT_RETRY_TIMEOUT_US:
		rc = cli_parse_u64("--retry-timeout-us", arg, 1, 500000, &v, err);
		o->retry_timeout_us = (uint32_t)v;
		return rc;
	case OPT_TEST_DROP_TX:
		rc = cli_parse_u64("--test-drop-tx-permille", arg, 0, 1000, &v, err);
		o->test_drop_tx_permille = (uint32_t)v;
		return rc;
	case OPT_TEST_DROP_RX:
		rc = cli_parse_u64("--test-drop-rx-permille", arg, 0, 1000, &v, err);
		o->test_drop_rx_permille = (uint32_t)v;
		return rc;
	case OPT_HELP:
		o->help = true;
		return 0;
	default:
		return -EINVAL;
	}
}

/* The flags that only make sense with one driver. Returns 0 or -EINVAL with err. */
static int produce_check_driver(const struct cli_produce_opts *o, char *err)
{
	if (o->driver == CLI_DRIVER_UDP) {
		if (o->local_ip != NULL || o->port_id != 0 || o->eal_argc > 0) {
			snprintf(err, CLI_ERR_BYTES,
				 "--local-ip, --port-id and EAL arguments after "
				 "--: only with --driver dpdk");
			return -EINVAL;
		}
		return 0;
	}
	if (o->local_ip == NULL) {
		snprintf(err, CLI_ERR_BYTES, "--local-ip: required with --driver dpdk");
		return -EINVAL;
	}
	if (o->eal_argc == 0) {
		snprintf(err, CLI_ERR_BYTES,
			 "--driver dpdk: give the EAL arguments after --, e.g. -- --no-huge "
			 "--no-pci -l 0 --vdev=net_af_packet0,iface=eth1");
		return -EINVAL;
	}
	if (o->eal_argc > CLI_EAL_ARGS_MAX) {
		snprintf(err, CLI_ERR_BYTES, "--driver dpdk: more than %d EAL arguments",
			 CLI_EAL_ARGS_MAX);
		return -EINVAL;
	}
	return 0;
}

int cli_produce_parse(int argc, char **argv, struct cli_produce_opts *opts, char *err)
{
	bool has_size = false;
	int c;

	produce_defaults(opts);
	err[0] = '\0';
	optind = 0; /* GNU: full re-initialisation, so parsing can run more than once */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", produce_options, NULL)) != -1) {
		if (c == '?' || c == ':') {
			return cli_getopt_error(argc, argv, err);
		}
		int rc = produce_flag(c, optarg, opts, &has_size, err);
		if (rc != 0) {
			return rc;
		}
	}
	if (opts->help) {
		return 0;
	}
	/* getopt stops after a `--`: what follows is for the EAL. */
	bool eal_args = optind > 0 && optind <= argc && strcmp(argv[optind - 1], "--") == 0;
	if (!eal_args && optind < argc) {
		snprintf(err, CLI_ERR_BYTES, "%s: unexpected argument", argv[optind]);
		return -EINVAL;
	}
	if (eal_args) {
		opts->eal_argc = argc - optind;
		opts->eal_argv = argv + optind;
	}
	if (produce_check_driver(opts, err) != 0) {
		return -EINVAL;
	}
	if (opts->topic == NULL) {
		snprintf(err, CLI_ERR_BYTES, "--topic: required");
		return -EINVAL;
	}
	if (!wire_topic_is_valid((const uint8_t *)opts->topic, strlen(opts->topic))) {
		snprintf(err, CLI_ERR_BYTES,
			 "--topic: '%s' is not a valid topic (dot-separated [A-Za-z0-9_-] "
			 "tokens, at most 255 bytes)",
			 opts->topic);
		return -EINVAL;
	}
	if (has_size && !opts->has_count) {
		snprintf(err, CLI_ERR_BYTES,
			 "--size: only with --count (stdin lines are sized "
			 "by their content)");
		return -EINVAL;
	}
	if (opts->inflight_bytes < opts->frame_bytes) {
		snprintf(err, CLI_ERR_BYTES, "--inflight-bytes: must be at least --frame-bytes");
		return -EINVAL;
	}
	if (opts->send_window_bytes != 0 && opts->send_window_bytes < opts->frame_bytes) {
		snprintf(err, CLI_ERR_BYTES,
			 "--send-window-bytes: must be 0 or at least --frame-bytes");
		return -EINVAL;
	}
	return 0;
}
