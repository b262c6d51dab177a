/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Flag value parsing shared by the subcommands of `sluice`: numbers with bounds, ack
 * levels, router addresses. Every error message starts with the flag it is about, so a
 * user (or a test) can tell which argument was wrong.
 */
#include "cli/cli.h"

#include "core/wire.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

int cli_parse_u64(const char *flag, const char *arg, uint64_t min, uint64_t max, uint64_t *out,
		  char *err)
{
	char *end = NULL;
	unsigned long long v;

	if (arg == NULL || arg[0] == '\0' || strspn(arg, "0123456789") != strlen(arg)) {
		snprintf(err, CLI_ERR_BYTES, "%s: expected a non-negative integer, got '%s'", flag,
			 arg != NULL ? arg : "");
		return -EINVAL;
	}
	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max) {
		snprintf(err, CLI_ERR_BYTES, "%s: %s is out of range [%llu, %llu]", flag, arg,
			 (unsigned long long)min, (unsigned long long)max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int cli_parse_acks(const char *flag, const char *arg, enum sl_ack_level *out, char *err)
{
	if (strcmp(arg, "none") == 0) {
		*out = SL_ACKS_NONE;
	} else if (strcmp(arg, "received") == 0) {
		*out = SL_ACKS_RECEIVED;
	} else if (strcmp(arg, "durable") == 0) {
		*out = SL_ACKS_DURABLE;
	} else {
		snprintf(err, CLI_ERR_BYTES, "%s: expected none, received or durable, got '%s'",
			 flag, arg);
		return -EINVAL;
	}
	return 0;
}

const char *cli_acks_name(enum sl_ack_level acks)
{
	switch (acks) {
	case SL_ACKS_NONE:
		return "none";
	case SL_ACKS_RECEIVED:
		return "received";
	case SL_ACKS_DURABLE:
		return "durable";
	}
	return "unknown";
}

int cli_check_router(const char *flag, const char *arg, char *err)
{
	const char *colon = strrchr(arg, ':');
	uint64_t port;
	char sub[CLI_ERR_BYTES];

	if (colon == NULL || colon == arg ||
	    cli_parse_u64(flag, colon + 1, 1, 65535, &port, sub) != 0) {
		snprintf(err, CLI_ERR_BYTES, "%s: expected HOST:PORT, got '%s'", flag, arg);
		return -EINVAL;
	}
	return 0;
}

int cli_getopt_error(int argc, char **argv, char *err)
{
	const char *bad = optind - 1 < argc && optind >= 1 ? argv[optind - 1] : "?";

	if (optopt != 0 && strchr(bad, '=') == NULL && bad[0] == '-' && bad[1] != '-') {
		snprintf(err, CLI_ERR_BYTES, "-%c: unknown flag or missing value", optopt);
	} else {
		snprintf(err, CLI_ERR_BYTES, "%s: unknown flag or missing value", bad);
	}
	return -EINVAL;
}

const char *cli_error_text(int err)
{
	return err == -ETIMEDOUT ? "no answer from the router (timed out)" : sl_strerror(err);
}

enum {
	REQUEST_OPT_ROUTER = 256,
	REQUEST_OPT_TOPIC,
	REQUEST_OPT_TIMEOUT_MS,
	REQUEST_OPT_JSON,
	REQUEST_OPT_HELP,
};

static const struct option request_options[] = {
	{"router", required_argument, NULL, REQUEST_OPT_ROUTER},
	{"topic", required_argument, NULL, REQUEST_OPT_TOPIC},
	{"timeout-ms", required_argument, NULL, REQUEST_OPT_TIMEOUT_MS},
	{"json", no_argument, NULL, REQUEST_OPT_JSON},
	{"help", no_argument, NULL, REQUEST_OPT_HELP},
	{NULL, 0, NULL, 0},
};

/* One flag of a request command; returns 0 or -EINVAL with err filled. */
static int cli_request_flag(int c, bool with_topic, struct cli_request_opts *opts, char *err)
{
	uint64_t v;

	switch (c) {
	case REQUEST_OPT_ROUTER:
		opts->router = optarg;
		return cli_check_router("--router", optarg, err);
	case REQUEST_OPT_TOPIC:
		if (!with_topic) {
			snprintf(err, CLI_ERR_BYTES, "--topic: not a flag of this command");
			return -EINVAL;
		}
		opts->topic = optarg;
		if (!wire_topic_is_valid((const uint8_t *)optarg, strlen(optarg))) {
			snprintf(err, CLI_ERR_BYTES, "--topic: '%s' is not a valid topic", optarg);
			return -EINVAL;
		}
		return 0;
	case REQUEST_OPT_TIMEOUT_MS:
		if (cli_parse_u64("--timeout-ms", optarg, 1, 3600000u, &v, err) != 0) {
			return -EINVAL;
		}
		opts->timeout_ms = (uint32_t)v;
		return 0;
	case REQUEST_OPT_JSON:
		opts->json = true;
		return 0;
	default: /* REQUEST_OPT_HELP */
		opts->help = true;
		return 0;
	}
}

int cli_request_parse(int argc, char **argv, uint32_t timeout_ms_default, bool with_topic,
		      struct cli_request_opts *opts, char *err)
{
	int c;

	memset(opts, 0, sizeof(*opts));
	opts->router = CLI_ROUTER_DEFAULT;
	opts->timeout_ms = timeout_ms_default;
	err[0] = '\0';
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", request_options, NULL)) != -1) {
		if (c == '?' || c == ':') {
			return cli_getopt_error(argc, argv, err);
		}
		if (cli_request_flag(c, with_topic, opts, err) != 0) {
			return -EINVAL;
		}
	}
	if (!opts->help && optind < argc) {
		snprintf(err, CLI_ERR_BYTES, "%s: unexpected argument", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

void cli_stop_signals_install(void (*handler)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sa.sa_flags = (int)SA_RESETHAND; /* a second ^C ends the process at once */
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
}
