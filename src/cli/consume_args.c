/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Flags of `sluice consume`, parsed into struct cli_consume_opts without side effects so
 * that unit tests can check every rejection: the pattern, the group and its weight and
 * strategy, --from in all its forms (latest, earliest, an offset for every partition, a
 * partition:offset list, an RFC 3339 time or @UNIXNS), count, timeout, output format,
 * credit window and slow-consumer policy.
 */
#include "cli/cli.h"

#include "core/wire.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CONSUME_TIMEOUT_S_MAX 31536000u /* a year */

enum {
	OPT_ROUTER = 256,
	OPT_GROUP,
	OPT_WEIGHT,
	OPT_STRATEGY,
	OPT_FROM,
	OPT_COUNT,
	OPT_TIMEOUT,
	OPT_FORMAT,
	OPT_WINDOW_BATCHES,
	OPT_WINDOW_BATCHES_MAX,
	OPT_WINDOW_BYTES,
	OPT_SLOW,
	OPT_JSON,
	OPT_HELP,
};

static const struct option consume_options[] = {
	{"router", required_argument, NULL, OPT_ROUTER},
	{"group", required_argument, NULL, OPT_GROUP},
	{"weight", required_argument, NULL, OPT_WEIGHT},
	{"strategy", required_argument, NULL, OPT_STRATEGY},
	{"from", required_argument, NULL, OPT_FROM},
	{"count", required_argument, NULL, OPT_COUNT},
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{"format", required_argument, NULL, OPT_FORMAT},
	{"window-batches", required_argument, NULL, OPT_WINDOW_BATCHES},
	{"window-batches-max", required_argument, NULL, OPT_WINDOW_BATCHES_MAX},
	{"window-bytes", required_argument, NULL, OPT_WINDOW_BYTES},
	{"slow", required_argument, NULL, OPT_SLOW},
	{"json", no_argument, NULL, OPT_JSON},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

void cli_consume_usage(FILE *f)
{
	fputs("usage: sluice consume [flags] PATTERN\n"
	      "Subscribes to the topics PATTERN matches and prints one event per line.\n"
	      "PATTERN: topic tokens separated by dots; '*' matches one token, a final '>'\n"
	      "one or more (orders.*, orders.>).\n"
	      "\n"
	      "  --router HOST:PORT      router address (default " CLI_ROUTER_DEFAULT ")\n"
	      "  --group G               share the events with the other members of group G\n"
	      "  --weight W              this member's share in a weighted group, 1..1000\n"
	      "                          (default 1; needs --group)\n"
	      "  --strategy S            round-robin, weighted or key-affine (default\n"
	      "                          round-robin, or weighted with --weight; needs --group)\n"
	      "  --from WHERE            latest (default), earliest, OFFSET (every partition of\n"
	      "                          a literal topic), P:OFFSET[,P:OFFSET...] (those\n"
	      "                          partitions of a literal topic, the others latest),\n"
	      "                          an RFC 3339 time (2026-11-23T10:00:00Z) or @UNIXNS\n"
	      "  --count N               exit after N events\n"
	      "  --timeout SECONDS       exit after this long (default: run until interrupted)\n"
	      "  --format F              text (default), json or hex\n"
	      "  --window-batches N      credit per shard in batches, 0 for none (default 256)\n"
	      "  --window-batches-max N  let it grow up to N while the router waits on this\n"
	      "                          consumer's credit (default 1024, 0: fixed)\n"
	      "  --window-bytes N        credit per shard in bytes, 0 for none (default 0)\n"
	      "  --slow POLICY           replay (default) or drop: what the router does when\n"
	      "                          this consumer falls behind its credit\n"
	      "  --json                  print a JSON summary as the last line of stdout\n"
	      "  --help                  this text\n"
	      "\n"
	      "Exit status: 0 when --count events arrived, or when --timeout or an interrupt\n"
	      "ended a run without --count; 1 when the router refused or did not answer, or\n"
	      "--count was not reached; 2 for a usage error.\n",
	      f);
}

static void consume_defaults(struct cli_consume_opts *o)
{
	struct sl_consumer_config cfg;

	sl_consumer_config_init(&cfg);
	memset(o, 0, sizeof(*o));
	o->router = CLI_ROUTER_DEFAULT;
	o->strategy = SL_GROUP_NONE;
	o->start = SL_START_LATEST;
	o->format = CLI_FORMAT_TEXT;
	o->window_batches = cfg.window_batches;
	o->window_batches_max = cfg.window_batches_max;
	o->window_bytes = cfg.window_bytes;
	o->slow = SL_SLOW_REPLAY;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's algorithm). */
static int64_t consume_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* Reads exactly n digits at *p into *v. */
static bool consume_digits(const char **p, unsigned n, unsigned *v)
{
	*v = 0;
	for (unsigned i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9') {
			return false;
		}
		*v = *v * 10 + (unsigned)((*p)[i] - '0');
	}
	*p += n;
	return true;
}

/* Reads an RFC 3339 fraction ".ddd" (up to 9 digits kept) into nanoseconds. */
static bool consume_fraction(const char **p, uint64_t *ns)
{
	uint64_t scale = 100000000u;

	*ns = 0;
	if (**p != '.') {
		return true;
	}
	(*p)++;
	if (**p < '0' || **p > '9') {
		return false;
	}
	for (; **p >= '0' && **p <= '9'; (*p)++) {
		*ns += (uint64_t)(**p - '0') * scale;
		scale /= 10;
	}
	return true;
}

/* Reads "Z" or "+hh:mm" / "-hh:mm" into seconds east of UTC. */
static bool consume_zone(const char **p, int64_t *east_s)
{
	unsigned hh, mm;
	char sign = **p;

	*east_s = 0;
	if (sign == 'Z' || sign == 'z') {
		(*p)++;
		return true;
	}
	if (sign != '+' && sign != '-') {
		return false;
	}
	(*p)++;
	if (!consume_digits(p, 2, &hh) || **p != ':') {
		return false;
	}
	(*p)++;
	if (!consume_digits(p, 2, &mm) || hh > 23 || mm > 59) {
		return false;
	}
	*east_s = (int64_t)(hh * 3600 + mm * 60) * (sign == '-' ? -1 : 1);
	return true;
}

/* RFC 3339 date-time into CLOCK_REALTIME ns. Returns false when malformed or before
 * the epoch. */
static bool consume_parse_rfc3339(const char *s, uint64_t *out)
{
	unsigned y, mo, d, h, mi, sec;
	uint64_t frac;
	int64_t east;
	const char *p = s;
	static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (!consume_digits(&p, 4, &y) || *p++ != '-' || !consume_digits(&p, 2, &mo) ||
	    *p++ != '-' || !consume_digits(&p, 2, &d) || (*p != 'T' && *p != 't')) {
		return false;
	}
	p++;
	if (!consume_digits(&p, 2, &h) || *p++ != ':' || !consume_digits(&p, 2, &mi) ||
	    *p++ != ':' || !consume_digits(&p, 2, &sec) || !consume_fraction(&p, &frac) ||
	    !consume_zone(&p, &east) || *p != '\0') {
		return false;
	}
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60) {
		return false;
	}
	int64_t t = consume_days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 +
		    (int64_t)mi * 60 + sec - east;
	if (t < 0 || (uint64_t)t > UINT64_MAX / 1000000000u - 1) {
		return false;
	}
	*out = (uint64_t)t * 1000000000u + frac;
	return true;
}

/* Reads one "P:OFFSET" at *p (up to a ',' or the end) and moves *p past it. */
static bool consume_parse_offset_entry(const char **p, struct sl_start_offset *so)
{
	char *end;

	if (**p < '0' || **p > '9') {
		return false;
	}
	errno = 0;
	unsigned long long part = strtoull(*p, &end, 10);
	if (errno != 0 || *end != ':' || part > UINT32_MAX || end[1] < '0' || end[1] > '9') {
		return false;
	}
	unsigned long long off = strtoull(end + 1, &end, 10);
	if (errno != 0 || (*end != ',' && *end != '\0') || (*end == ',' && end[1] == '\0')) {
		return false;
	}
	so->partition = (uint32_t)part;
	so->offset = off;
	*p = *end == ',' ? end + 1 : end;
	return true;
}

/* "P:OFFSET[,P:OFFSET...]" with strictly increasing partitions. */
static int consume_parse_offset_list(const char *arg, struct cli_consume_opts *o, char *err)
{
	const char *p = arg;

	o->offset_count = 0;
	while (*p != '\0') {
		struct sl_start_offset *so = &o->offsets[o->offset_count];
		if (o->offset_count == SL_WIRE_START_OFFSETS_MAX) {
			snprintf(err, CLI_ERR_BYTES, "--from: more than %u partitions",
				 SL_WIRE_START_OFFSETS_MAX);
			return -EINVAL;
		}
		if (!consume_parse_offset_entry(&p, so)) {
			snprintf(err, CLI_ERR_BYTES,
				 "--from: '%s' is not P:OFFSET[,P:OFFSET...] (non-negative "
				 "integers)",
				 arg);
			return -EINVAL;
		}
		if (o->offset_count > 0 && so->partition <= so[-1].partition) {
			snprintf(err, CLI_ERR_BYTES,
				 "--from: partitions must be strictly increasing, got %u after %u",
				 so->partition, so[-1].partition);
			return -EINVAL;
		}
		o->offset_count++;
	}
	o->start = SL_START_OFFSETS;
	return 0;
}

int cli_consume_parse_from(const char *arg, struct cli_consume_opts *o, char *err)
{
	o->offset_every_partition = false;
	o->offset_count = 0;
	if (strcmp(arg, "latest") == 0) {
		o->start = SL_START_LATEST;
		return 0;
	}
	if (strcmp(arg, "earliest") == 0) {
		o->start = SL_START_EARLIEST;
		return 0;
	}
	if (arg[0] == '@') {
		o->start = SL_START_TIMESTAMP;
		return cli_parse_u64("--from @UNIXNS", arg + 1, 0, UINT64_MAX,
				     &o->start_timestamp_ns, err);
	}
	if (strchr(arg, 'T') != NULL || strchr(arg, 't') != NULL) {
		if (!consume_parse_rfc3339(arg, &o->start_timestamp_ns)) {
			snprintf(err, CLI_ERR_BYTES,
				 "--from: '%s' is not an RFC 3339 time like "
				 "2026-11-23T10:00:00Z (after 1970)",
				 arg);
			return -EINVAL;
		}
		o->start = SL_START_TIMESTAMP;
		return 0;
	}
	if (strchr(arg, ':') != NULL) {
		return consume_parse_offset_list(arg, o, err);
	}
	if (arg[0] >= '0' && arg[0] <= '9') {
		o->start = SL_START_OFFSETS;
		o->offset_every_partition = true;
		return cli_parse_u64("--from", arg, 0, UINT64_MAX, &o->offset, err);
	}
	snprintf(err, CLI_ERR_BYTES,
		 "--from: '%s' is none of latest, earliest, OFFSET, P:OFFSET[,...], an RFC 3339 "
		 "time or @UNIXNS",
		 arg);
	return -EINVAL;
}

static int consume_parse_strategy(const char *arg, enum sl_group_strategy *out, char *err)
{
	if (strcmp(arg, "round-robin") == 0) {
		*out = SL_GROUP_ROUND_ROBIN;
	} else if (strcmp(arg, "weighted") == 0) {
		*out = SL_GROUP_WEIGHTED;
	} else if (strcmp(arg, "key-affine") == 0) {
		*out = SL_GROUP_KEY_AFFINE;
	} else {
		snprintf(err, CLI_ERR_BYTES,
			 "--strategy: expected round-robin, weighted or key-affine, got '%s'", arg);
		return -EINVAL;
	}
	return 0;
}

static int consume_parse_format(const char *arg, enum cli_consume_format *out, char *err)
{
	if (strcmp(arg, "text") == 0) {
		*out = CLI_FORMAT_TEXT;
	} else if (strcmp(arg, "json") == 0) {
		*out = CLI_FORMAT_JSON;
	} else if (strcmp(arg, "hex") == 0) {
		*out = CLI_FORMAT_HEX;
	} else {
		snprintf(err, CLI_ERR_BYTES, "--format: expected text, json or hex, got '%s'", arg);
		return -EINVAL;
	}
	return 0;
}

/* One flag with its value; returns 0 or -EINVAL with err filled. */
static int consume_flag(int c, const char *arg, struct cli_consume_opts *o, char *err)
{
	uint64_t v = 0;
	int rc;

	switch (c) {
	case OPT_ROUTER:
		o->router = arg;
		return cli_check_router("--router", arg, err);
	case OPT_GROUP:
		o->group = arg;
		return 0;
	case OPT_WEIGHT:
		rc = cli_parse_u64("--weight", arg, 1, SL_WIRE_WEIGHT_MAX, &v, err);
		o->weight = (uint16_t)v;
		return rc;
	case OPT_STRATEGY:
		return consume_parse_strategy(arg, &o->strategy, err);
	case OPT_FROM:
		return cli_consume_parse_from(arg, o, err);
	case OPT_COUNT:
		o->has_count = true;
		return cli_parse_u64("--count", arg, 1, UINT64_MAX, &o->count, err);
	case OPT_TIMEOUT:
		rc = cli_parse_u64("--timeout", arg, 1, CONSUME_TIMEOUT_S_MAX, &v, err);
		o->timeout_ms = (uint32_t)(v * 1000u);
		return rc;
	case OPT_FORMAT:
		return consume_parse_format(arg, &o->format, err);
	case OPT_WINDOW_BATCHES:
		rc = cli_parse_u64("--window-batches", arg, 0, SL_WIRE_WINDOW_BATCHES_MAX, &v, err);
		o->window_batches = (uint32_t)v;
		return rc;
	case OPT_WINDOW_BATCHES_MAX:
		rc = cli_parse_u64("--window-batches-max", arg, 0, SL_WIRE_WINDOW_BATCHES_MAX, &v,
				   err);
		o->window_batches_max = (uint32_t)v;
		return rc;
	case OPT_WINDOW_BYTES:
		return cli_parse_u64("--window-bytes", arg, 0, SL_WIRE_WINDOW_BYTES_MAX,
				     &o->window_bytes, err);
	case OPT_SLOW:
		if (strcmp(arg, "replay") == 0) {
			o->slow = SL_SLOW_REPLAY;
		} else if (strcmp(arg, "drop") == 0) {
			o->slow = SL_SLOW_DROP;
		} else {
			snprintf(err, CLI_ERR_BYTES, "--slow: expected replay or drop, got '%s'",
				 arg);
			return -EINVAL;
		}
		return 0;
	case OPT_JSON:
		o->json = true;
		return 0;
	case OPT_HELP:
		o->help = true;
		return 0;
	default:
		return -EINVAL;
	}
}

/* Checks between flags, once all are read. */
static int consume_check(struct cli_consume_opts *o, char *err)
{
	enum sl_sub_error why = wire_pattern_check((const uint8_t *)o->pattern, strlen(o->pattern));
	bool literal = wire_topic_is_valid((const uint8_t *)o->pattern, strlen(o->pattern));

	if (why != SL_SUB_OK) {
		snprintf(err, CLI_ERR_BYTES, "PATTERN '%s': %s", o->pattern,
			 wire_sub_error_name(why));
		return -EINVAL;
	}
	if (o->group == NULL && (o->weight != 0 || o->strategy != SL_GROUP_NONE)) {
		snprintf(err, CLI_ERR_BYTES, "%s: only with --group",
			 o->weight != 0 ? "--weight" : "--strategy");
		return -EINVAL;
	}
	if (o->group != NULL) {
		size_t len = strlen(o->group);
		if (len == 0 || len > SL_WIRE_GROUP_BYTES_MAX ||
		    !wire_topic_is_valid((const uint8_t *)o->group, len)) {
			snprintf(err, CLI_ERR_BYTES,
				 "--group: '%s' is not 1..64 bytes of [A-Za-z0-9_-] tokens "
				 "separated by dots",
				 o->group);
			return -EINVAL;
		}
		if (o->strategy == SL_GROUP_NONE) {
			o->strategy = o->weight != 0 ? SL_GROUP_WEIGHTED : SL_GROUP_ROUND_ROBIN;
		}
		if (o->weight == 0) {
			o->weight = 1;
		}
	}
	if (o->start == SL_START_OFFSETS && !literal) {
		snprintf(err, CLI_ERR_BYTES,
			 "--from: offsets need a literal topic as PATTERN, not '%s'", o->pattern);
		return -EINVAL;
	}
	if (o->window_batches == 0 && o->window_bytes == 0) {
		snprintf(err, CLI_ERR_BYTES,
			 "--window-batches, --window-bytes: at least one must be non-zero");
		return -EINVAL;
	}
	if (o->window_bytes != 0 && o->window_bytes < SL_WIRE_WINDOW_BYTES_MIN) {
		snprintf(err, CLI_ERR_BYTES,
			 "--window-bytes: at least %u (one largest frame), or 0 for no limit",
			 SL_WIRE_WINDOW_BYTES_MIN);
		return -EINVAL;
	}
	return 0;
}

int cli_consume_parse(int argc, char **argv, struct cli_consume_opts *opts, char *err)
{
	int c;

	consume_defaults(opts);
	err[0] = '\0';
	optind = 0; /* GNU: full re-initialisation, so parsing can run more than once */
	opterr = 0;
	/* Permuting (no "+"): flags may follow PATTERN, as in the synopsis. */
	while ((c = getopt_long(argc, argv, "", consume_options, NULL)) != -1) {
		if (c == '?' || c == ':') {
			return cli_getopt_error(argc, argv, err);
		}
		int rc = consume_flag(c, optarg, opts, err);
		if (rc != 0) {
			return rc;
		}
	}
	if (opts->help) {
		return 0;
	}
	if (optind >= argc) {
		snprintf(err, CLI_ERR_BYTES, "PATTERN: required");
		return -EINVAL;
	}
	opts->pattern = argv[optind++];
	if (optind < argc) {
		snprintf(err, CLI_ERR_BYTES, "%s: unexpected argument", argv[optind]);
		return -EINVAL;
	}
	return consume_check(opts, err);
}
