/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Parsing of sluiced's flags with getopt_long. Every value is checked against a named
 * bound and every refusal names the flag, the value and what is accepted, so that an
 * operator can fix a command line from one line of output.
 */
#include "daemon/flags.h"

#include "core/wire.h"
#include "drivers/dpdk/netdev_dpdk.h"
#include "drivers/udp/netdev_udp.h"
#include "shard/mesh.h"
#include "shard/shard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum {
	OPT_DRIVER = 256,
	OPT_LISTEN,
	OPT_SHARDS,
	OPT_MEMORY_MB,
	OPT_BURST,
	OPT_RING_SLOTS,
	OPT_MBUFS,
	OPT_FRAME_BYTES_MAX,
	OPT_PARTITIONS,
	OPT_TOPIC,
	OPT_AUTO_CREATE,
	OPT_NO_AUTO_CREATE,
	OPT_PARTITIONS_MAX,
	OPT_PRODUCERS_MAX,
	OPT_DEDUPE_WINDOW,
	OPT_PRODUCER_IDLE_S,
	OPT_SOCKET_BUFFER_BYTES,
	OPT_IDLE_SLEEP_US,
	OPT_STATS_INTERVAL_S,
	OPT_LOG_LEVEL,
	OPT_PORT,
	OPT_MTU,
	OPT_ARP_ENTRIES,
	OPT_ARP_TIMEOUT_S,
	OPT_DATA_DIR,
	OPT_NO_JOURNAL,
	OPT_SEGMENT_BYTES,
	OPT_FLUSH_BYTES,
	OPT_FLUSH_US,
	OPT_FSYNC,
	OPT_FSYNC_US,
	OPT_JOURNAL_BUFFERS,
	OPT_DIRECT_IO,
	OPT_NO_DIRECT_IO,
	OPT_ZERO_FILL,
	OPT_NO_ZERO_FILL,
	OPT_SEGMENT_SPARES,
	OPT_JOURNAL_IO,
	OPT_DURABLE_ACKS_MAX,
	OPT_RETAIN_BYTES,
	OPT_RETAIN_AGE,
	OPT_MAINT_PERIOD_MS,
	OPT_SUBSCRIPTIONS_MAX,
	OPT_CONSUMER_TIMEOUT_MS,
	OPT_REPLAY_CURSORS,
	OPT_REPLAY_BUFFER_BYTES,
	OPT_ACK_TIMEOUT_MS,
	OPT_MAX_REDELIVERIES,
	OPT_MATCH_CACHE_TOPICS,
};

static const struct option daemon_options[] = {
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{"driver", required_argument, NULL, OPT_DRIVER},
	{"listen", required_argument, NULL, OPT_LISTEN},
	{"shards", required_argument, NULL, OPT_SHARDS},
	{"memory-mb", required_argument, NULL, OPT_MEMORY_MB},
	{"burst", required_argument, NULL, OPT_BURST},
	{"ring-slots", required_argument, NULL, OPT_RING_SLOTS},
	{"mbufs", required_argument, NULL, OPT_MBUFS},
	{"frame-bytes-max", required_argument, NULL, OPT_FRAME_BYTES_MAX},
	{"partitions", required_argument, NULL, OPT_PARTITIONS},
	{"topic", required_argument, NULL, OPT_TOPIC},
	{"auto-create-topics", no_argument, NULL, OPT_AUTO_CREATE},
	{"no-auto-create-topics", no_argument, NULL, OPT_NO_AUTO_CREATE},
	{"partitions-max", required_argument, NULL, OPT_PARTITIONS_MAX},
	{"producers-max", required_argument, NULL, OPT_PRODUCERS_MAX},
	{"dedupe-window", required_argument, NULL, OPT_DEDUPE_WINDOW},
	{"producer-idle-s", required_argument, NULL, OPT_PRODUCER_IDLE_S},
	{"socket-buffer-bytes", required_argument, NULL, OPT_SOCKET_BUFFER_BYTES},
	{"idle-sleep-us", required_argument, NULL, OPT_IDLE_SLEEP_US},
	{"stats-interval-s", required_argument, NULL, OPT_STATS_INTERVAL_S},
	{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	{"port", required_argument, NULL, OPT_PORT},
	{"mtu", required_argument, NULL, OPT_MTU},
	{"arp-entries", required_argument, NULL, OPT_ARP_ENTRIES},
	{"arp-timeout-s", required_argument, NULL, OPT_ARP_TIMEOUT_S},
	{"data-dir", required_argument, NULL, OPT_DATA_DIR},
	{"no-journal", no_argument, NULL, OPT_NO_JOURNAL},
	{"segment-bytes", required_argument, NULL, OPT_SEGMENT_BYTES},
	{"flush-bytes", required_argument, NULL, OPT_FLUSH_BYTES},
	{"flush-us", required_argument, NULL, OPT_FLUSH_US},
	{"fsync", required_argument, NULL, OPT_FSYNC},
	{"fsync-us", required_argument, NULL, OPT_FSYNC_US},
	{"journal-buffers", required_argument, NULL, OPT_JOURNAL_BUFFERS},
	{"direct-io", no_argument, NULL, OPT_DIRECT_IO},
	{"no-direct-io", no_argument, NULL, OPT_NO_DIRECT_IO},
	{"zero-fill", no_argument, NULL, OPT_ZERO_FILL},
	{"no-zero-fill", no_argument, NULL, OPT_NO_ZERO_FILL},
	{"segment-spares", required_argument, NULL, OPT_SEGMENT_SPARES},
	{"journal-io", required_argument, NULL, OPT_JOURNAL_IO},
	{"durable-acks-max", required_argument, NULL, OPT_DURABLE_ACKS_MAX},
	{"retain-bytes", required_argument, NULL, OPT_RETAIN_BYTES},
	{"retain-age", required_argument, NULL, OPT_RETAIN_AGE},
	{"maint-period-ms", required_argument, NULL, OPT_MAINT_PERIOD_MS},
	{"subscriptions-max", required_argument, NULL, OPT_SUBSCRIPTIONS_MAX},
	{"consumer-timeout-ms", required_argument, NULL, OPT_CONSUMER_TIMEOUT_MS},
	{"replay-cursors", required_argument, NULL, OPT_REPLAY_CURSORS},
	{"replay-buffer-bytes", required_argument, NULL, OPT_REPLAY_BUFFER_BYTES},
	{"ack-timeout-ms", required_argument, NULL, OPT_ACK_TIMEOUT_MS},
	{"max-redeliveries", required_argument, NULL, OPT_MAX_REDELIVERIES},
	{"match-cache-topics", required_argument, NULL, OPT_MATCH_CACHE_TOPICS},
	{NULL, 0, NULL, 0},
};

void daemon_flags_init(struct daemon_flags *f)
{
	memset(f, 0, sizeof(*f));
	f->driver = DAEMON_DRIVER_UDP;
	(void)snprintf(f->listen, sizeof(f->listen), "%s", DAEMON_LISTEN_DEFAULT);
	f->listen_ip4 = htonl(INADDR_LOOPBACK);
	f->listen_port = htons(7800);
	f->shards = DAEMON_SHARDS_DEFAULT;
	f->memory_mb = DAEMON_MEMORY_MB_DEFAULT;
	f->burst = DAEMON_BURST_DEFAULT;
	f->ring_slots = DAEMON_RING_SLOTS_DEFAULT;
	f->mbufs = DAEMON_MBUFS_DEFAULT;
	f->frame_bytes_max = SL_WIRE_FRAME_BYTES_DEFAULT;
	f->partitions = DAEMON_PARTITIONS_DEFAULT;
	f->auto_create = true;
	f->partitions_max = DAEMON_PARTITIONS_MAX_DEFAULT;
	f->producers_max = DAEMON_PRODUCERS_MAX_DEFAULT;
	f->dedupe_window = DAEMON_DEDUPE_WINDOW_DEFAULT;
	f->producer_idle_s = DAEMON_PRODUCER_IDLE_S_DEFAULT;
	f->socket_buffer_bytes = DAEMON_SOCKET_BUFFER_BYTES_DEFAULT;
	f->idle_sleep_us = DAEMON_IDLE_SLEEP_US_DEFAULT;
	f->stats_interval_s = DAEMON_STATS_INTERVAL_S_DEFAULT;
	f->log_level = SL_LOG_INFO;
	f->mtu = NETDEV_DPDK_MTU_DEFAULT;
	f->arp_entries = NETDEV_DPDK_ARP_ENTRIES_DEFAULT;
	f->arp_timeout_s = NETDEV_DPDK_ARP_TIMEOUT_S_DEFAULT;
	(void)snprintf(f->data_dir, sizeof(f->data_dir), "%s", DAEMON_DATA_DIR_DEFAULT);
	f->journal = true;
	f->segment_bytes = DAEMON_SEGMENT_BYTES_DEFAULT;
	f->flush_bytes = DAEMON_FLUSH_BYTES_DEFAULT;
	f->flush_us = DAEMON_FLUSH_US_DEFAULT;
	f->fsync = JOURNAL_FSYNC_ALWAYS;
	f->fsync_us = DAEMON_FSYNC_US_DEFAULT;
	f->journal_buffers = DAEMON_JOURNAL_BUFFERS_DEFAULT;
	f->direct_io = true;
	f->zero_fill = true;
	f->segment_spares = DAEMON_SEGMENT_SPARES_DEFAULT;
	f->journal_io = JOURNAL_IO_AUTO;
	f->durable_acks_max = DAEMON_DURABLE_ACKS_MAX_DEFAULT;
	journal_retention_rules_init(&f->retention, DAEMON_RETAIN_BYTES_DEFAULT,
				     DAEMON_RETAIN_AGE_S_DEFAULT * 1000000000ull);
	f->maint_period_ms = DAEMON_MAINT_PERIOD_MS_DEFAULT;
	f->subscriptions_max = DAEMON_SUBSCRIPTIONS_MAX_DEFAULT;
	f->consumer_timeout_ms = DAEMON_CONSUMER_TIMEOUT_MS_DEFAULT;
	f->replay_cursors = DAEMON_REPLAY_CURSORS_DEFAULT;
	f->replay_buffer_bytes = DAEMON_REPLAY_BUFFER_BYTES_DEFAULT;
	f->ack_timeout_ms = DAEMON_ACK_TIMEOUT_MS_DEFAULT;
	f->max_redeliveries = DAEMON_MAX_REDELIVERIES_DEFAULT;
	f->match_cache_topics = DAEMON_MATCH_CACHE_TOPICS_DEFAULT;
}

__attribute__((format(printf, 3, 4))) static int flags_error(char *err, size_t err_len,
							     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Strict unsigned decimal in [min, max]. */
static int flags_number(const char *name, const char *arg, uint64_t min, uint64_t max,
			uint64_t *out, char *err, size_t err_len)
{
	char *end = NULL;

	if (arg[0] < '0' || arg[0] > '9') {
		goto out_range;
	}
	errno = 0;
	unsigned long long v = strtoull(arg, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max) {
		goto out_range;
	}
	*out = v;
	return 0;

out_range:
	return flags_error(err, err_len, "--%s: '%s' is not a number in %llu..%llu", name, arg,
			   (unsigned long long)min, (unsigned long long)max);
}

static int flags_u32(const char *name, const char *arg, uint64_t min, uint64_t max, uint32_t *out,
		     char *err, size_t err_len)
{
	uint64_t v = 0;
	int rc = flags_number(name, arg, min, max, &v, err, err_len);

	if (rc == 0) {
		*out = (uint32_t)v;
	}
	return rc;
}

static int flags_listen(const char *arg, struct daemon_flags *f, char *err, size_t err_len)
{
	char host[INET_ADDRSTRLEN];
	const char *colon = strrchr(arg, ':');
	struct in_addr a;
	uint64_t port = 0;

	if (colon == NULL || (size_t)(colon - arg) >= sizeof(host) || colon == arg) {
		goto out_bad;
	}
	memcpy(host, arg, (size_t)(colon - arg));
	host[colon - arg] = '\0';
	if (inet_pton(AF_INET, host, &a) != 1) {
		goto out_bad;
	}
	if (flags_number("listen", colon + 1, 1, 65535, &port, err, err_len) != 0) {
		return flags_error(err, err_len,
				   "--listen: '%s' has no UDP port in 1..65535 after the colon",
				   arg);
	}
	f->listen_ip4 = a.s_addr;
	f->listen_port = htons((uint16_t)port);
	(void)snprintf(f->listen, sizeof(f->listen), "%s", arg);
	return 0;

out_bad:
	return flags_error(err, err_len, "--listen: '%s' is not IPV4:PORT (e.g. %s)", arg,
			   DAEMON_LISTEN_DEFAULT);
}

static int flags_topic(const char *arg, struct daemon_flags *f, char *err, size_t err_len)
{
	struct route_topic t;
	int rc = route_topic_parse(arg, &t);

	if (rc == -EINVAL) {
		return flags_error(err, err_len,
				   "--topic: '%s' is not NAME:PARTITIONS with NAME made of "
				   "dot-separated [A-Za-z0-9_-] tokens (1..%u bytes)",
				   arg, SL_WIRE_TOPIC_BYTES_MAX);
	}
	if (rc != 0) {
		return flags_error(err, err_len, "--topic: '%s': PARTITIONS must be in 1..%u", arg,
				   ROUTE_PARTITIONS_MAX);
	}
	for (uint32_t i = 0; i < f->topic_count; i++) {
		if (f->topics[i].name_len == t.name_len &&
		    memcmp(f->topics[i].name, t.name, t.name_len) == 0) {
			return flags_error(err, err_len, "--topic: topic '%s' is given twice",
					   t.name);
		}
	}
	if (f->topic_count == ROUTE_TOPICS_MAX) {
		return flags_error(err, err_len, "--topic: at most %u topics", ROUTE_TOPICS_MAX);
	}
	f->topics[f->topic_count++] = t;
	return 0;
}

static int flags_log_level(const char *arg, struct daemon_flags *f, char *err, size_t err_len)
{
	static const struct {
		const char *name;
		enum sl_log_level level;
	} levels[] = {{"error", SL_LOG_ERR},
		      {"warning", SL_LOG_WARNING},
		      {"info", SL_LOG_INFO},
		      {"debug", SL_LOG_DEBUG}};

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (strcmp(arg, levels[i].name) == 0) {
			f->log_level = levels[i].level;
			return 0;
		}
	}
	return flags_error(err, err_len,
			   "--log-level: '%s' is not one of error, warning, info, debug", arg);
}

static int flags_driver(const char *arg, struct daemon_flags *f, char *err, size_t err_len)
{
	if (strcmp(arg, "udp") == 0) {
		f->driver = DAEMON_DRIVER_UDP;
		return 0;
	}
	if (strcmp(arg, "dpdk") == 0) {
		f->driver = DAEMON_DRIVER_DPDK;
		return 0;
	}
	return flags_error(err, err_len, "--driver: '%s' is not one of udp, dpdk", arg);
}

/* One of `count` names: its index, or -1. */
static int flags_choice(const char *arg, const char *const *names, int count)
{
	for (int i = 0; i < count; i++) {
		if (strcmp(arg, names[i]) == 0) {
			return i;
		}
	}
	return -1;
}

static int flags_fsync(const char *arg, struct daemon_flags *f, char *err, size_t err_len)
{
	/* In enum journal_fsync order. */
	static const char *const names[] = {"always", "interval", "never"};
	int i = flags_choice(arg, names, 3);

	if (i < 0) {
		return flags_error(err, err_len,
				   "--fsync: '%s' is not one of always, interval, never", arg);
	}
	f->fsync = (enum journal_fsync)i;
	return 0;
}

static int flags_journal_io(const char *arg, struct daemon_flags *f, char *err, size_t err_len)
{
	/* In enum journal_io_kind order. */
	static const char *const names[] = {"auto", "uring", "thread"};
	int i = flags_choice(arg, names, 3);

	if (i < 0) {
		return flags_error(err, err_len,
				   "--journal-io: '%s' is not one of auto, uring, thread", arg);
	}
	f->journal_io = (enum journal_io_kind)i;
	return 0;
}

static int flags_data_dir(const char *arg, struct daemon_flags *f, char *err, size_t err_len)
{
	if (arg[0] == '\0' || strlen(arg) >= sizeof(f->data_dir) - 16) {
		return flags_error(err, err_len, "--data-dir: the path must be 1..%u bytes long",
				   DAEMON_DATA_DIR_BYTES - 17);
	}
	(void)snprintf(f->data_dir, sizeof(f->data_dir), "%s", arg);
	return 0;
}

/* A number with one unit letter out of units[].letter (or none when `bare` is not 0:
 * then the number counts bare units), at most max_units after scaling. */
struct flags_unit {
	char letter;
	uint64_t scale;
};

static int flags_scaled(const char *name, const char *arg, const char *what,
			const struct flags_unit *units, unsigned nunits, uint64_t bare,
			uint64_t max, uint64_t *out, char *err, size_t err_len)
{
	char *end = NULL;
	uint64_t scale = bare;

	if (arg[0] < '0' || arg[0] > '9') {
		goto out_bad;
	}
	errno = 0;
	unsigned long long v = strtoull(arg, &end, 10);
	if (errno != 0) {
		goto out_bad;
	}
	if (*end != '\0') {
		scale = 0;
		for (unsigned i = 0; i < nunits && end[1] == '\0'; i++) {
			if (end[0] == units[i].letter) {
				scale = units[i].scale;
			}
		}
	}
	if (v == 0 && *end == '\0') {
		scale = 1; /* 0 = unlimited needs no unit */
	}
	if (scale == 0 || v > max / scale) {
		goto out_bad;
	}
	*out = v * scale;
	return 0;

out_bad:
	return flags_error(err, err_len, "--%s: '%s' is not %s", name, arg, what);
}

/* "[TOPIC=]VALUE": the topic (NULL when none) and where VALUE starts. */
static int flags_topic_value(const char *name, const char *arg, const uint8_t **topic,
			     uint8_t *topic_len, const char **value, char *err, size_t err_len)
{
	const char *eq = strchr(arg, '=');

	*topic = NULL;
	*topic_len = 0;
	*value = arg;
	if (eq == NULL) {
		return 0;
	}
	size_t len = (size_t)(eq - arg);
	if (!wire_topic_is_valid((const uint8_t *)arg, len)) {
		return flags_error(err, err_len,
				   "--%s: '%.*s' is not a topic name (dot-separated "
				   "[A-Za-z0-9_-] tokens, 1..%u bytes)",
				   name, (int)len, arg, SL_WIRE_TOPIC_BYTES_MAX);
	}
	*topic = (const uint8_t *)arg;
	*topic_len = (uint8_t)len;
	*value = eq + 1;
	return 0;
}

/* --retain-bytes [TOPIC=]SIZE and --retain-age [TOPIC=]DURATION. */
static int flags_retain(int opt, const char *arg, struct daemon_flags *f, char *err, size_t err_len)
{
	static const struct flags_unit sizes[] = {
		{'K', 1ull << 10}, {'M', 1ull << 20}, {'G', 1ull << 30}, {'T', 1ull << 40},
		{'k', 1ull << 10}, {'m', 1ull << 20}, {'g', 1ull << 30}, {'t', 1ull << 40}};
	static const struct flags_unit durations[] = {{'s', 1000000000ull},
						      {'m', 60000000000ull},
						      {'h', 3600000000000ull},
						      {'d', 86400000000000ull}};
	bool bytes = opt == OPT_RETAIN_BYTES;
	const char *name = bytes ? "retain-bytes" : "retain-age";
	const uint8_t *topic;
	const char *value;
	uint8_t topic_len;
	uint64_t v = 0;
	int rc = flags_topic_value(name, arg, &topic, &topic_len, &value, err, err_len);

	if (rc != 0) {
		return rc;
	}
	if (bytes) {
		rc = flags_scaled(name, value,
				  "a size: a number of bytes with an optional K, M, G or T "
				  "suffix (binary), 0 = unlimited",
				  sizes, 8, 1, DAEMON_RETAIN_BYTES_MAX, &v, err, err_len);
	} else {
		rc = flags_scaled(name, value,
				  "a duration: a number with a unit s, m, h or d (e.g. 7d), "
				  "0 = unlimited",
				  durations, 4, 0, DAEMON_RETAIN_AGE_S_MAX * 1000000000ull, &v, err,
				  err_len);
	}
	if (rc != 0) {
		return rc;
	}
	if (topic == NULL) {
		if (bytes) {
			f->retention.defaults.bytes = v;
		} else {
			f->retention.defaults.age_ns = v;
		}
		return 0;
	}
	rc = journal_retention_rules_set(&f->retention, topic, topic_len, bytes, v, !bytes, v);
	if (rc != 0) {
		return flags_error(err, err_len, "--%s: at most %u topics have their own limits",
				   name, JOURNAL_RETENTION_TOPICS_MAX);
	}
	return 0;
}

/* The journal's flags with an argument; -ENOENT when opt is not one of them. */
static int flags_journal(int opt, const char *arg, struct daemon_flags *f, char *err,
			 size_t err_len)
{
	switch (opt) {
	case OPT_DATA_DIR:
		return flags_data_dir(arg, f, err, err_len);
	case OPT_SEGMENT_BYTES:
		return flags_number("segment-bytes", arg, JOURNAL_SEGMENT_BYTES_MIN,
				    JOURNAL_SEGMENT_BYTES_MAX, &f->segment_bytes, err, err_len);
	case OPT_FLUSH_BYTES:
		return flags_u32("flush-bytes", arg, JOURNAL_FLUSH_BYTES_MIN,
				 JOURNAL_FLUSH_BYTES_MAX, &f->flush_bytes, err, err_len);
	case OPT_FLUSH_US:
		return flags_u32("flush-us", arg, 0, JOURNAL_FLUSH_US_MAX, &f->flush_us, err,
				 err_len);
	case OPT_FSYNC:
		return flags_fsync(arg, f, err, err_len);
	case OPT_FSYNC_US:
		return flags_u32("fsync-us", arg, 0, JOURNAL_FSYNC_US_MAX, &f->fsync_us, err,
				 err_len);
	case OPT_JOURNAL_BUFFERS:
		return flags_u32("journal-buffers", arg, JOURNAL_BUFFERS_MIN, JOURNAL_BUFFERS_MAX,
				 &f->journal_buffers, err, err_len);
	case OPT_SEGMENT_SPARES:
		return flags_u32("segment-spares", arg, 0, JOURNAL_SPARES_MAX, &f->segment_spares,
				 err, err_len);
	case OPT_JOURNAL_IO:
		return flags_journal_io(arg, f, err, err_len);
	case OPT_DURABLE_ACKS_MAX:
		return flags_u32("durable-acks-max", arg, SHARD_DURABLE_ACKS_MIN,
				 SHARD_DURABLE_ACKS_MAX, &f->durable_acks_max, err, err_len);
	case OPT_RETAIN_BYTES:
	case OPT_RETAIN_AGE:
		return flags_retain(opt, arg, f, err, err_len);
	case OPT_MAINT_PERIOD_MS:
		return flags_u32("maint-period-ms", arg, JOURNAL_MAINT_PERIOD_MS_MIN,
				 JOURNAL_MAINT_PERIOD_MS_MAX, &f->maint_period_ms, err, err_len);
	case OPT_SUBSCRIPTIONS_MAX:
		return flags_u32("subscriptions-max", arg, SHARD_SUBSCRIPTIONS_MIN,
				 SHARD_SUBSCRIPTIONS_MAX, &f->subscriptions_max, err, err_len);
	case OPT_CONSUMER_TIMEOUT_MS:
		return flags_u32("consumer-timeout-ms", arg, SHARD_CONSUMER_TIMEOUT_MS_MIN,
				 SHARD_CONSUMER_TIMEOUT_MS_MAX, &f->consumer_timeout_ms, err,
				 err_len);
	case OPT_REPLAY_CURSORS:
		return flags_u32("replay-cursors", arg, 0, SHARD_REPLAY_CURSORS_MAX,
				 &f->replay_cursors, err, err_len);
	case OPT_REPLAY_BUFFER_BYTES:
		return flags_u32("replay-buffer-bytes", arg, SHARD_REPLAY_BUFFER_BYTES_MIN,
				 SHARD_REPLAY_BUFFER_BYTES_MAX, &f->replay_buffer_bytes, err,
				 err_len);
	case OPT_ACK_TIMEOUT_MS:
		return flags_u32("ack-timeout-ms", arg, SHARD_ACK_TIMEOUT_MS_MIN,
				 SHARD_ACK_TIMEOUT_MS_MAX, &f->ack_timeout_ms, err, err_len);
	case OPT_MAX_REDELIVERIES:
		return flags_u32("max-redeliveries", arg, 0, SHARD_REDELIVERIES_MAX,
				 &f->max_redeliveries, err, err_len);
	case OPT_MATCH_CACHE_TOPICS:
		return flags_u32("match-cache-topics", arg, 0, SHARD_MATCH_CACHE_TOPICS_MAX,
				 &f->match_cache_topics, err, err_len);
	default:
		return -ENOENT;
	}
}

/* One flag with an argument. */
static int flags_one(int opt, const char *arg, struct daemon_flags *f, char *err, size_t err_len)
{
	uint32_t v = 0;
	int rc;

	switch (opt) {
	case OPT_DRIVER:
		return flags_driver(arg, f, err, err_len);
	case OPT_LISTEN:
		return flags_listen(arg, f, err, err_len);
	case OPT_SHARDS:
		rc = flags_u32("shards", arg, 1, SHARD_SHARDS_MAX, &v, err, err_len);
		f->shards = (uint16_t)v;
		f->shards_set = true;
		return rc;
	case OPT_MEMORY_MB:
		f->memory_set = true;
		return flags_u32("memory-mb", arg, DAEMON_MEMORY_MB_MIN, DAEMON_MEMORY_MB_MAX,
				 &f->memory_mb, err, err_len);
	case OPT_BURST:
		rc = flags_u32("burst", arg, 1, SHARD_BURST_MAX, &v, err, err_len);
		f->burst = (uint16_t)v;
		return rc;
	case OPT_RING_SLOTS:
		return flags_u32("ring-slots", arg, MESH_RING_SLOTS_MIN, MESH_RING_SLOTS_MAX,
				 &f->ring_slots, err, err_len);
	case OPT_MBUFS:
		return flags_u32("mbufs", arg, DAEMON_MBUFS_MIN, DAEMON_MBUFS_MAX, &f->mbufs, err,
				 err_len);
	case OPT_FRAME_BYTES_MAX:
		f->frame_bytes_max_set = true;
		return flags_u32("frame-bytes-max", arg, SL_WIRE_FRAME_BYTES_MIN,
				 SL_WIRE_FRAME_BYTES_MAX, &f->frame_bytes_max, err, err_len);
	case OPT_PARTITIONS:
		return flags_u32("partitions", arg, 1, ROUTE_PARTITIONS_MAX, &f->partitions, err,
				 err_len);
	case OPT_TOPIC:
		return flags_topic(arg, f, err, err_len);
	case OPT_PARTITIONS_MAX:
		return flags_u32("partitions-max", arg, SHARD_TABLE_ENTRIES_MIN,
				 SHARD_TABLE_ENTRIES_MAX, &f->partitions_max, err, err_len);
	case OPT_PRODUCERS_MAX:
		return flags_u32("producers-max", arg, SHARD_TABLE_ENTRIES_MIN,
				 SHARD_TABLE_ENTRIES_MAX, &f->producers_max, err, err_len);
	case OPT_DEDUPE_WINDOW:
		return flags_u32("dedupe-window", arg, SHARD_DEDUPE_WINDOW_MIN,
				 SHARD_DEDUPE_WINDOW_MAX, &f->dedupe_window, err, err_len);
	case OPT_PRODUCER_IDLE_S:
		return flags_u32("producer-idle-s", arg, 0, DAEMON_PRODUCER_IDLE_S_MAX,
				 &f->producer_idle_s, err, err_len);
	case OPT_SOCKET_BUFFER_BYTES:
		return flags_u32("socket-buffer-bytes", arg, DAEMON_SOCKET_BUFFER_BYTES_MIN,
				 DAEMON_SOCKET_BUFFER_BYTES_MAX, &f->socket_buffer_bytes, err,
				 err_len);
	case OPT_IDLE_SLEEP_US:
		return flags_u32("idle-sleep-us", arg, 0, SHARD_IDLE_SLEEP_US_MAX,
				 &f->idle_sleep_us, err, err_len);
	case OPT_STATS_INTERVAL_S:
		return flags_u32("stats-interval-s", arg, 0, DAEMON_STATS_INTERVAL_S_MAX,
				 &f->stats_interval_s, err, err_len);
	case OPT_LOG_LEVEL:
		return flags_log_level(arg, f, err, err_len);
	case OPT_PORT:
		rc = flags_u32("port", arg, 0, RTE_MAX_ETHPORTS - 1, &v, err, err_len);
		f->dpdk_port = (uint16_t)v;
		return rc;
	case OPT_MTU:
		f->mtu_set = true;
		return flags_u32("mtu", arg, NETDEV_DPDK_MTU_MIN, NETDEV_DPDK_MTU_MAX, &f->mtu, err,
				 err_len);
	case OPT_ARP_ENTRIES:
		return flags_u32("arp-entries", arg, NETDEV_DPDK_ARP_ENTRIES_MIN,
				 NETDEV_DPDK_ARP_ENTRIES_MAX, &f->arp_entries, err, err_len);
	case OPT_ARP_TIMEOUT_S:
		return flags_u32("arp-timeout-s", arg, 1, NETDEV_DPDK_ARP_TIMEOUT_S_MAX,
				 &f->arp_timeout_s, err, err_len);
	default:
		rc = flags_journal(opt, arg, f, err, err_len);
		if (rc == -ENOENT) {
			return flags_error(err, err_len, "internal error: option %d has no parser",
					   opt);
		}
		return rc;
	}
}

/* Checks between flags, once all are read. */
static int flags_check(const struct daemon_flags *f, bool have_eal_args, char *err, size_t err_len)
{
	if (have_eal_args && f->shards_set) {
		return flags_error(err, err_len,
				   "--shards: not allowed with EAL arguments, which choose the "
				   "shards: one per worker lcore (e.g. -l 0-2 for 2 shards)");
	}
	if (have_eal_args && f->memory_set) {
		return flags_error(err, err_len,
				   "--memory-mb: not allowed with EAL arguments (use the EAL's "
				   "own -m or --socket-mem)");
	}
	if (f->driver == DAEMON_DRIVER_DPDK &&
	    f->frame_bytes_max + NETDEV_DPDK_IP_UDP_BYTES > f->mtu) {
		return flags_error(err, err_len,
				   "--frame-bytes-max: %u does not fit --mtu %u (at most %u: IPv4 "
				   "and UDP take 28 bytes)",
				   f->frame_bytes_max, f->mtu, f->mtu - NETDEV_DPDK_IP_UDP_BYTES);
	}
	if (f->segment_bytes % JOURNAL_BLOCK_BYTES != 0) {
		return flags_error(err, err_len,
				   "--segment-bytes: %llu is not a multiple of %u (the block size)",
				   (unsigned long long)f->segment_bytes, JOURNAL_BLOCK_BYTES);
	}
	if (f->mbufs < 4u * f->burst) {
		return flags_error(err, err_len,
				   "--mbufs: %u is less than 4 x --burst (%u): a shard needs "
				   "mbufs for RX, replies and hand-offs in flight",
				   f->mbufs, 4u * f->burst);
	}
	return 0;
}

int daemon_flags_parse(int argc, char **argv, bool have_eal_args, struct daemon_flags *f, char *err,
		       size_t err_len)
{
	int opt;
	int rc;

	daemon_flags_init(f);
	err[0] = '\0';
	optind = 0; /* glibc: full re-initialisation, so the parser can run again */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":hV", daemon_options, NULL)) != -1) {
		switch (opt) {
		case 'h':
			return DAEMON_FLAGS_HELP;
		case 'V':
			return DAEMON_FLAGS_VERSION;
		case OPT_AUTO_CREATE:
			f->auto_create = true;
			break;
		case OPT_NO_AUTO_CREATE:
			f->auto_create = false;
			break;
		case OPT_NO_JOURNAL:
			f->journal = false;
			break;
		case OPT_DIRECT_IO:
			f->direct_io = true;
			break;
		case OPT_NO_DIRECT_IO:
			f->direct_io = false;
			break;
		case OPT_ZERO_FILL:
			f->zero_fill = true;
			break;
		case OPT_NO_ZERO_FILL:
			f->zero_fill = false;
			break;
		case ':':
			return flags_error(err, err_len, "%s: needs a value (see --help)",
					   argv[optind - 1]);
		case '?':
			return flags_error(err, err_len,
					   "%s: unknown flag (see --help; EAL arguments go "
					   "before --)",
					   argv[optind - 1]);
		default:
			rc = flags_one(opt, optarg, f, err, err_len);
			if (rc != 0) {
				return rc;
			}
			break;
		}
	}
	if (optind < argc) {
		return flags_error(err, err_len, "'%s': unexpected argument (see --help)",
				   argv[optind]);
	}
	/* The frame limit follows --mtu unless given. */
	if (f->mtu_set && !f->frame_bytes_max_set) {
		uint32_t follow = f->mtu - NETDEV_DPDK_IP_UDP_BYTES;
		f->frame_bytes_max =
			follow < SL_WIRE_FRAME_BYTES_MAX ? follow : SL_WIRE_FRAME_BYTES_MAX;
	}
	return flags_check(f, have_eal_args, err, err_len);
}

void daemon_flags_help(FILE *out, const char *prog)
{
	(void)fprintf(
		out,
		"usage: %s [EAL arguments --] [flags]\n"
		"\n"
		"sluice router. Without EAL arguments it needs no hugepages and no NIC.\n"
		"\n"
		"  --driver udp|dpdk          datagram I/O (default udp); dpdk: an ethdev port\n"
		"                             from the EAL arguments, one queue pair per shard\n"
		"  --listen IPV4:PORT         address to serve (default %s); dpdk: the IP the\n"
		"                             router answers ARP and ICMP echo for\n"
		"  --shards N                 shards, one worker lcore each, only without EAL\n"
		"                             arguments (default %u, 1..%u)\n"
		"  --memory-mb MB             DPDK memory without EAL arguments (default %u)\n"
		"  --burst N                  RX/TX/mesh burst (default %u, 1..%u)\n"
		"  --ring-slots N             batches in flight between two shards (default %u)\n"
		"  --mbufs N                  mbufs per shard pool (default %u)\n"
		"  --frame-bytes-max N        largest frame (default %u, %u..%u for jumbo)\n"
		"  --partitions N             partitions of a topic not given by --topic\n"
		"                             (default %u, 1..%u)\n"
		"  --topic NAME:PARTITIONS    a topic with its partition count (repeatable)\n"
		"  --auto-create-topics       any valid topic name is a topic (default)\n"
		"  --no-auto-create-topics    only --topic topics exist\n"
		"  --partitions-max N         partitions one shard tracks (default %u)\n"
		"  --producers-max N          (producer, partition) streams one shard tracks\n"
		"                             (default %u)\n"
		"  --dedupe-window N          appended batches per stream whose offsets a\n"
		"                             retransmit is told: the most unacked batches a\n"
		"                             producer sends per stream (default %u, %u..%u);\n"
		"                             each shard holds producers-max x N x 8 bytes\n"
		"  --producer-idle-s S        forget a stream idle this long, 0 = never\n"
		"                             (default %u)\n"
		"  --socket-buffer-bytes N    udp: SO_RCVBUF/SO_SNDBUF (default %u)\n"
		"  --idle-sleep-us US         sleep this long when idle, 0 = busy poll\n"
		"                             (default %u)\n"
		"  --stats-interval-s S       log counters every S seconds, 0 = off (default %u)\n"
		"  --log-level LEVEL          error|warning|info|debug (default info)\n"
		"  --port N                   dpdk: ethdev port id (default 0)\n"
		"  --mtu N                    dpdk: IPv4 MTU (default %u, %u..%u for jumbo);\n"
		"                             --frame-bytes-max follows as MTU - 28\n"
		"  --arp-entries N            dpdk: ARP table slots per queue (default %u)\n"
		"  --arp-timeout-s S          dpdk: forget a MAC not heard this long\n"
		"                             (default %u)\n"
		"\n"
		"journal (docs/OPERATIONS.md, \"Journal\"):\n"
		"  --data-dir DIR             journals, one shard-NNN directory per shard\n"
		"                             (default %s)\n"
		"  --no-journal               keep nothing on disk; durable produce is refused\n"
		"  --segment-bytes N          segment file size (default %llu, multiple of 4096)\n"
		"  --flush-bytes N            write a batch group at this size (default %u)\n"
		"  --flush-us US              ... or when its oldest batch is this old\n"
		"                             (default %u, 0 = every loop)\n"
		"  --fsync always|interval|never\n"
		"                             fdatasync every flush (default), at most every\n"
		"                             --fsync-us, or never (durable = written)\n"
		"  --fsync-us US              interval of --fsync interval (default %u)\n"
		"  --journal-buffers N        staging buffers of --flush-bytes per shard\n"
		"                             (default %u, %u..%u)\n"
		"  --direct-io, --no-direct-io\n"
		"                             O_DIRECT writes (default on; off: page cache)\n"
		"  --zero-fill, --no-zero-fill\n"
		"                             zero-fill segments ahead of use (default on;\n"
		"                             off: write into fallocated space)\n"
		"  --segment-spares N         segments retention recycles instead of deleting,\n"
		"                             kept to become new segments without zero-fill\n"
		"                             (default %u, 0..%u; 0 = always delete)\n"
		"  --journal-io auto|uring|thread\n"
		"                             io_uring, or the pwrite+fdatasync thread (default\n"
		"                             auto: io_uring when the kernel allows it)\n"
		"  --durable-acks-max N       durable acks waiting for fdatasync per shard\n"
		"                             (default %u)\n"
		"  --retain-bytes [TOPIC=]SIZE\n"
		"                             keep at least SIZE bytes of each topic (or of\n"
		"                             TOPIC) per shard; older segments are deleted\n"
		"                             (K/M/G/T suffixes, repeatable; default 0 =\n"
		"                             unlimited)\n"
		"  --retain-age [TOPIC=]DURATION\n"
		"                             keep what is younger than DURATION (s/m/h/d,\n"
		"                             repeatable; default 7d, 0 = unlimited); a segment\n"
		"                             goes once every topic in it allows it by bytes\n"
		"                             or by age\n"
		"  --maint-period-ms MS       indexing and retention pass period (default %u,\n"
		"                             %u..%u)\n"
		"\n"
		"subscriptions (docs/OPERATIONS.md, \"Subscriptions\"):\n"
		"  --subscriptions-max N      subscriptions every shard holds (default %u,\n"
		"                             %u..%u)\n"
		"  --consumer-timeout-ms MS   remove a subscriber not heard from this long\n"
		"                             (default %u, %u..%u)\n"
		"  --replay-cursors N         journal readers per shard for subscriptions that\n"
		"                             replay; more wait their turn (default %u, 0..%u)\n"
		"  --replay-buffer-bytes N    read buffer of each of them, two reads in flight\n"
		"                             (default %u, %u..%u)\n"
		"  --ack-timeout-ms MS        send a DELIVER again if not acknowledged within\n"
		"                             this (default %u, %u..%u)\n"
		"  --max-redeliveries N       then give it up as a dead letter after N\n"
		"                             redeliveries (default %u, 0..%u)\n"
		"  --match-cache-topics N     topics whose matching subscriptions each shard\n"
		"                             caches, rounded up to a power of two (default %u,\n"
		"                             0..%u; 0: none)\n"
		"  --help, --version\n",
		prog, DAEMON_LISTEN_DEFAULT, DAEMON_SHARDS_DEFAULT, SHARD_SHARDS_MAX,
		DAEMON_MEMORY_MB_DEFAULT, DAEMON_BURST_DEFAULT, SHARD_BURST_MAX,
		DAEMON_RING_SLOTS_DEFAULT, DAEMON_MBUFS_DEFAULT, SL_WIRE_FRAME_BYTES_DEFAULT,
		SL_WIRE_FRAME_BYTES_MIN, SL_WIRE_FRAME_BYTES_MAX, DAEMON_PARTITIONS_DEFAULT,
		ROUTE_PARTITIONS_MAX, DAEMON_PARTITIONS_MAX_DEFAULT, DAEMON_PRODUCERS_MAX_DEFAULT,
		DAEMON_DEDUPE_WINDOW_DEFAULT, SHARD_DEDUPE_WINDOW_MIN, SHARD_DEDUPE_WINDOW_MAX,
		DAEMON_PRODUCER_IDLE_S_DEFAULT, DAEMON_SOCKET_BUFFER_BYTES_DEFAULT,
		DAEMON_IDLE_SLEEP_US_DEFAULT, DAEMON_STATS_INTERVAL_S_DEFAULT,
		NETDEV_DPDK_MTU_DEFAULT, NETDEV_DPDK_MTU_MIN, NETDEV_DPDK_MTU_MAX,
		NETDEV_DPDK_ARP_ENTRIES_DEFAULT, NETDEV_DPDK_ARP_TIMEOUT_S_DEFAULT,
		DAEMON_DATA_DIR_DEFAULT, (unsigned long long)DAEMON_SEGMENT_BYTES_DEFAULT,
		DAEMON_FLUSH_BYTES_DEFAULT, DAEMON_FLUSH_US_DEFAULT, DAEMON_FSYNC_US_DEFAULT,
		DAEMON_JOURNAL_BUFFERS_DEFAULT, JOURNAL_BUFFERS_MIN, JOURNAL_BUFFERS_MAX,
		DAEMON_SEGMENT_SPARES_DEFAULT, JOURNAL_SPARES_MAX, DAEMON_DURABLE_ACKS_MAX_DEFAULT,
		DAEMON_MAINT_PERIOD_MS_DEFAULT, JOURNAL_MAINT_PERIOD_MS_MIN,
		JOURNAL_MAINT_PERIOD_MS_MAX, DAEMON_SUBSCRIPTIONS_MAX_DEFAULT,
		SHARD_SUBSCRIPTIONS_MIN, SHARD_SUBSCRIPTIONS_MAX,
		DAEMON_CONSUMER_TIMEOUT_MS_DEFAULT, SHARD_CONSUMER_TIMEOUT_MS_MIN,
		SHARD_CONSUMER_TIMEOUT_MS_MAX, DAEMON_REPLAY_CURSORS_DEFAULT,
		SHARD_REPLAY_CURSORS_MAX, DAEMON_REPLAY_BUFFER_BYTES_DEFAULT,
		SHARD_REPLAY_BUFFER_BYTES_MIN, SHARD_REPLAY_BUFFER_BYTES_MAX,
		DAEMON_ACK_TIMEOUT_MS_DEFAULT, SHARD_ACK_TIMEOUT_MS_MIN, SHARD_ACK_TIMEOUT_MS_MAX,
		DAEMON_MAX_REDELIVERIES_DEFAULT, SHARD_REDELIVERIES_MAX,
		DAEMON_MATCH_CACHE_TOPICS_DEFAULT, SHARD_MATCH_CACHE_TOPICS_MAX);
}
