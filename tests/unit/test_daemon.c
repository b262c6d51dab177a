/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sluiced's wiring without an EAL: flag parsing (defaults, every flag, every error path
 * with its message), the split of argv at "--", and the EAL arguments built when none
 * are given.
 */
#include "daemon/daemon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

static struct daemon_flags flags;
static char err[512];

/* Parses a NULL-terminated list of flags (argv[0] added). */
static int parse_eal(bool have_eal, const char *first, ...)
{
	char *argv[64];
	int argc = 0;
	va_list ap;

	argv[argc++] = (char *)(uintptr_t) "sluiced";
	va_start(ap, first);
	for (const char *a = first; a != NULL; a = va_arg(ap, const char *)) {
		argv[argc++] = (char *)(uintptr_t)a;
	}
	va_end(ap);
	argv[argc] = NULL;
	return daemon_flags_parse(argc, argv, have_eal, &flags, err, sizeof(err));
}

#define parse(...) parse_eal(false, __VA_ARGS__, NULL)

/* The parse fails and the message contains `needle`. */
static void expect_error(int rc, const char *needle)
{
	assert_int_equal(rc, -EINVAL);
	if (strstr(err, needle) == NULL) {
		fail_msg("error '%s' does not mention '%s'", err, needle);
	}
	assert_null(strchr(err, '\n'));
}

static void test_daemon_flags_parse_defaults(void **state)
{
	(void)state;
	assert_int_equal(parse_eal(false, NULL), DAEMON_FLAGS_RUN);
	assert_int_equal(flags.driver, DAEMON_DRIVER_UDP);
	assert_string_equal(flags.listen, "127.0.0.1:7800");
	assert_int_equal(flags.listen_ip4, htonl(0x7f000001));
	assert_int_equal(flags.listen_port, htons(7800));
	assert_int_equal(flags.shards, 1);
	assert_false(flags.shards_set);
	assert_int_equal(flags.memory_mb, 256);
	assert_int_equal(flags.burst, 32);
	assert_int_equal(flags.ring_slots, 1024);
	assert_int_equal(flags.mbufs, 8191);
	assert_int_equal(flags.frame_bytes_max, 1472);
	assert_int_equal(flags.partitions, 8);
	assert_true(flags.auto_create);
	assert_int_equal(flags.partitions_max, DAEMON_PARTITIONS_MAX_DEFAULT);
	assert_int_equal(flags.producers_max, 16384);
	assert_int_equal(flags.dedupe_window, 32);
	assert_int_equal(flags.producer_idle_s, DAEMON_PRODUCER_IDLE_S_DEFAULT);
	assert_int_equal(flags.socket_buffer_bytes, 4u << 20);
	assert_int_equal(flags.idle_sleep_us, 1000);
	assert_int_equal(flags.stats_interval_s, 0);
	assert_int_equal(flags.log_level, SL_LOG_INFO);
	assert_int_equal(flags.topic_count, 0);
	assert_string_equal(flags.data_dir, "./sluice-data");
	assert_true(flags.journal);
	assert_int_equal(flags.segment_bytes, 64u << 20);
	assert_int_equal(flags.flush_bytes, 256u << 10);
	assert_int_equal(flags.flush_us, 100);
	assert_int_equal(flags.fsync, JOURNAL_FSYNC_ALWAYS);
	assert_int_equal(flags.fsync_us, 1000);
	assert_int_equal(flags.journal_buffers, 8);
	assert_true(flags.direct_io);
	assert_true(flags.zero_fill);
	assert_int_equal(flags.journal_io, JOURNAL_IO_AUTO);
	assert_int_equal(flags.durable_acks_max, 8192);
	assert_int_equal(flags.subscriptions_max, 4096);
	assert_int_equal(flags.consumer_timeout_ms, 10000);
	assert_int_equal(flags.replay_cursors, 16);
	assert_int_equal(flags.replay_buffer_bytes, 1u << 20);
	assert_int_equal(flags.ack_timeout_ms, 5000);
	assert_int_equal(flags.max_redeliveries, 5);
	assert_int_equal(flags.match_cache_topics, 4096);
}

static void test_daemon_flags_parse_subscriptions(void **state)
{
	(void)state;
	assert_int_equal(parse("--subscriptions-max", "100", "--consumer-timeout-ms", "2500",
			       "--replay-cursors", "0", "--ack-timeout-ms", "20",
			       "--max-redeliveries", "0", "--match-cache-topics", "0"),
			 DAEMON_FLAGS_RUN);
	assert_int_equal(flags.subscriptions_max, 100);
	assert_int_equal(flags.consumer_timeout_ms, 2500);
	assert_int_equal(flags.replay_cursors, 0);
	assert_int_equal(flags.ack_timeout_ms, 20);
	assert_int_equal(flags.max_redeliveries, 0);
	assert_int_equal(flags.match_cache_topics, 0);
	assert_int_equal(parse("--match-cache-topics", "100000"), DAEMON_FLAGS_RUN);
	assert_int_equal(flags.match_cache_topics, 100000);
	expect_error(parse("--subscriptions-max", "7"), "--subscriptions-max");
	expect_error(parse("--consumer-timeout-ms", "99"), "--consumer-timeout-ms");
	expect_error(parse("--replay-cursors", "65"), "--replay-cursors");
	expect_error(parse("--replay-buffer-bytes", "100"), "--replay-buffer-bytes");
	assert_int_equal(parse("--replay-buffer-bytes", "65536"), DAEMON_FLAGS_RUN);
	assert_int_equal(flags.replay_buffer_bytes, 65536);
	expect_error(parse("--ack-timeout-ms", "9"), "--ack-timeout-ms");
	expect_error(parse("--max-redeliveries", "1001"), "--max-redeliveries");
	expect_error(parse("--match-cache-topics", "1048577"), "--match-cache-topics");
}

static void test_daemon_flags_parse_journal(void **state)
{
	(void)state;
	assert_int_equal(parse("--data-dir", "/var/lib/sluice", "--segment-bytes", "1048576",
			       "--flush-bytes", "65536", "--flush-us", "0", "--fsync", "interval",
			       "--fsync-us", "5000", "--journal-buffers", "4", "--no-direct-io",
			       "--journal-io", "thread", "--durable-acks-max", "100"),
			 DAEMON_FLAGS_RUN);
	assert_string_equal(flags.data_dir, "/var/lib/sluice");
	assert_int_equal(flags.segment_bytes, 1048576);
	assert_int_equal(flags.flush_bytes, 65536);
	assert_int_equal(flags.flush_us, 0);
	assert_int_equal(flags.fsync, JOURNAL_FSYNC_INTERVAL);
	assert_int_equal(flags.fsync_us, 5000);
	assert_int_equal(flags.journal_buffers, 4);
	assert_false(flags.direct_io);
	assert_int_equal(flags.journal_io, JOURNAL_IO_THREAD);
	assert_int_equal(flags.durable_acks_max, 100);
	assert_int_equal(parse("--no-journal", "--fsync", "never", "--journal-io", "uring"),
			 DAEMON_FLAGS_RUN);
	assert_false(flags.journal);
	assert_int_equal(flags.fsync, JOURNAL_FSYNC_NEVER);
	assert_int_equal(flags.journal_io, JOURNAL_IO_URING);
	assert_int_equal(parse("--no-direct-io", "--direct-io"), DAEMON_FLAGS_RUN);
	assert_true(flags.direct_io);
	assert_int_equal(parse("--no-zero-fill"), DAEMON_FLAGS_RUN);
	assert_false(flags.zero_fill);
	assert_int_equal(parse("--no-zero-fill", "--zero-fill"), DAEMON_FLAGS_RUN);
	assert_true(flags.zero_fill);
	assert_int_equal(flags.segment_spares, DAEMON_SEGMENT_SPARES_DEFAULT);
	assert_int_equal(parse("--segment-spares", "0"), DAEMON_FLAGS_RUN);
	assert_int_equal(flags.segment_spares, 0);
	assert_int_equal(parse("--segment-spares", "16"), DAEMON_FLAGS_RUN);
	assert_int_equal(flags.segment_spares, JOURNAL_SPARES_MAX);
	expect_error(parse("--segment-spares", "17"), "--segment-spares");

	expect_error(parse("--fsync", "sometimes"), "--fsync: 'sometimes' is not one of always");
	expect_error(parse("--journal-io", "aio"), "--journal-io: 'aio' is not one of auto");
	expect_error(parse("--segment-bytes", "100000"), "not a multiple of 4096");
	expect_error(parse("--segment-bytes", "4096"), "--segment-bytes");
	expect_error(parse("--flush-bytes", "100"), "--flush-bytes");
	expect_error(parse("--journal-buffers", "1"), "--journal-buffers");
	expect_error(parse("--durable-acks-max", "1"), "--durable-acks-max");
	expect_error(parse("--data-dir", ""), "--data-dir: the path must be");
}

static void test_daemon_flags_parse_every_flag(void **state)
{
	(void)state;
	assert_int_equal(
		parse("--driver", "udp", "--listen", "0.0.0.0:9000", "--shards", "4", "--memory-mb",
		      "512", "--burst", "64", "--ring-slots", "4096", "--mbufs", "16383",
		      "--frame-bytes-max", "8972", "--partitions", "16", "--topic", "orders:4",
		      "--topic=logs.app:32", "--no-auto-create-topics", "--partitions-max", "100",
		      "--producers-max", "200", "--dedupe-window", "1024", "--producer-idle-s", "0",
		      "--socket-buffer-bytes", "1048576", "--idle-sleep-us", "0",
		      "--stats-interval-s", "5", "--log-level", "debug"),
		DAEMON_FLAGS_RUN);
	assert_int_equal(flags.listen_ip4, 0);
	assert_int_equal(flags.listen_port, htons(9000));
	assert_int_equal(flags.shards, 4);
	assert_true(flags.shards_set);
	assert_int_equal(flags.memory_mb, 512);
	assert_int_equal(flags.burst, 64);
	assert_int_equal(flags.ring_slots, 4096);
	assert_int_equal(flags.mbufs, 16383);
	assert_int_equal(flags.frame_bytes_max, 8972);
	assert_int_equal(flags.partitions, 16);
	assert_int_equal(flags.topic_count, 2);
	assert_string_equal(flags.topics[1].name, "logs.app");
	assert_int_equal(flags.topics[1].partitions, 32);
	assert_false(flags.auto_create);
	assert_int_equal(flags.partitions_max, 100);
	assert_int_equal(flags.producers_max, 200);
	assert_int_equal(flags.dedupe_window, 1024);
	assert_int_equal(flags.producer_idle_s, 0);
	assert_int_equal(flags.socket_buffer_bytes, 1048576);
	assert_int_equal(flags.idle_sleep_us, 0);
	assert_int_equal(flags.stats_interval_s, 5);
	assert_int_equal(flags.log_level, SL_LOG_DEBUG);
	assert_int_equal(parse("--no-auto-create-topics", "--auto-create-topics"),
			 DAEMON_FLAGS_RUN);
	assert_true(flags.auto_create);
}

static void test_daemon_flags_parse_help_and_version(void **state)
{
	(void)state;
	assert_int_equal(parse("--help"), DAEMON_FLAGS_HELP);
	assert_int_equal(parse("-h"), DAEMON_FLAGS_HELP);
	assert_int_equal(parse("--version"), DAEMON_FLAGS_VERSION);
	assert_int_equal(parse("--burst", "8", "-V"), DAEMON_FLAGS_VERSION);
}

static void test_daemon_flags_parse_numbers_out_of_range(void **state)
{
	static const struct {
		const char *flag;
		const char *bad[3];
	} cases[] = {
		{"--shards", {"0", "129", "x"}},
		{"--memory-mb", {"63", "1048577", ""}},
		{"--burst", {"0", "257", "-1"}},
		{"--ring-slots", {"15", "1048577", "1e3"}},
		{"--mbufs", {"255", "16777217", "12 "}},
		{"--frame-bytes-max", {"255", "8973", "0x100"}},
		{"--partitions", {"0", "65537", "+4"}},
		{"--partitions-max", {"7", "16777217", "a"}},
		{"--producers-max", {"7", "16777217", "a"}},
		{"--dedupe-window", {"0", "1025", "32k"}},
		{"--producer-idle-s", {"604801", "-0", "99999999999999999999"}},
		{"--socket-buffer-bytes", {"65535", "1073741825", "4M"}},
		{"--idle-sleep-us", {"1000001", "x", " 1"}},
		{"--stats-interval-s", {"86401", "y", "1.5"}},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (size_t j = 0; j < 3; j++) {
			expect_error(parse(cases[i].flag, cases[i].bad[j]), cases[i].flag);
			assert_non_null(strstr(err, ".."));
		}
	}
}

static void test_daemon_flags_parse_dedupe_window(void **state)
{
	(void)state;
	assert_int_equal(parse("--dedupe-window", "1"), DAEMON_FLAGS_RUN);
	assert_int_equal(flags.dedupe_window, 1);
	assert_int_equal(parse("--dedupe-window=100"), DAEMON_FLAGS_RUN);
	assert_int_equal(flags.dedupe_window, 100);
	expect_error(parse("--dedupe-window", "0"), "--dedupe-window");
	assert_string_equal(err, "--dedupe-window: '0' is not a number in 1..1024");
	expect_error(parse("--dedupe-window", "2048"), "1..1024");
	expect_error(parse("--dedupe-window"), "--dedupe-window: needs a value");
}

static struct journal_retention retention_of(const char *topic)
{
	return journal_retention_resolve(&flags.retention, (const uint8_t *)topic,
					 (uint8_t)strlen(topic));
}

static void test_daemon_flags_parse_retention(void **state)
{
	(void)state;
	/* Defaults: bytes unlimited, 7 days, a pass a second. */
	assert_int_equal(parse_eal(false, NULL), DAEMON_FLAGS_RUN);
	assert_int_equal(flags.retention.defaults.bytes, 0);
	assert_int_equal(flags.retention.defaults.age_ns, 7ull * 86400 * 1000000000ull);
	assert_int_equal(flags.retention.ntopics, 0);
	assert_int_equal(flags.maint_period_ms, 1000);

	assert_int_equal(parse("--retain-bytes", "10G", "--retain-age", "0", "--retain-bytes",
			       "orders=512K", "--retain-age", "orders=36h", "--retain-age",
			       "clicks.raw=15m", "--retain-bytes", "audit=0", "--maint-period-ms",
			       "250"),
			 DAEMON_FLAGS_RUN);
	assert_int_equal(flags.retention.defaults.bytes, 10ull << 30);
	assert_int_equal(flags.retention.defaults.age_ns, 0);
	assert_int_equal(flags.retention.ntopics, 3);
	assert_int_equal(retention_of("orders").bytes, 512u << 10);
	assert_int_equal(retention_of("orders").age_ns, 36ull * 3600 * 1000000000ull);
	assert_int_equal(retention_of("clicks.raw").bytes, 10ull << 30);
	assert_int_equal(retention_of("clicks.raw").age_ns, 15ull * 60 * 1000000000ull);
	assert_int_equal(retention_of("audit").bytes, 0);
	assert_int_equal(retention_of("other").bytes, 10ull << 30);
	assert_int_equal(flags.maint_period_ms, 250);

	/* Every suffix, and plain bytes. */
	assert_int_equal(parse("--retain-bytes", "1000", "--retain-age", "30s"), DAEMON_FLAGS_RUN);
	assert_int_equal(flags.retention.defaults.bytes, 1000);
	assert_int_equal(flags.retention.defaults.age_ns, 30ull * 1000000000ull);
	assert_int_equal(parse("--retain-bytes", "3T", "--retain-age", "2d"), DAEMON_FLAGS_RUN);
	assert_int_equal(flags.retention.defaults.bytes, 3ull << 40);
	assert_int_equal(flags.retention.defaults.age_ns, 2ull * 86400 * 1000000000ull);
	assert_int_equal(parse("--retain-bytes", "7m"), DAEMON_FLAGS_RUN);
	assert_int_equal(flags.retention.defaults.bytes, 7u << 20);
}

static void test_daemon_flags_parse_retention_invalid(void **state)
{
	static const char *const bad_sizes[] = {"",	"x",	    "-1",      "10X", "10KB",
						"1.5G", "2000000T", "orders=", "=5"};
	static const char *const bad_ages[] = {"",    "30",	   "5w",      "1.5h",
					       "-1d", "99999999d", "orders=", "h"};

	(void)state;
	for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
		expect_error(parse("--retain-bytes", bad_sizes[i]), "--retain-bytes");
	}
	for (size_t i = 0; i < sizeof(bad_ages) / sizeof(bad_ages[0]); i++) {
		expect_error(parse("--retain-age", bad_ages[i]), "--retain-age");
	}
	expect_error(parse("--retain-bytes", "10X"), "K, M, G or T");
	expect_error(parse("--retain-age", "30"), "a unit s, m, h or d");
	expect_error(parse("--retain-age", "bad name!=1d"), "is not a topic name");
	expect_error(parse("--maint-period-ms", "5"), "--maint-period-ms");
	expect_error(parse("--maint-period-ms", "3600001"), "--maint-period-ms");
}

static void test_daemon_flags_parse_retention_topics_bounded(void **state)
{
	static char args[JOURNAL_RETENTION_TOPICS_MAX + 1][32];
	static char *argv[2 * (JOURNAL_RETENTION_TOPICS_MAX + 1) + 2];
	int argc = 0;

	(void)state;
	argv[argc++] = (char *)(uintptr_t) "sluiced";
	for (unsigned i = 0; i <= JOURNAL_RETENTION_TOPICS_MAX; i++) {
		(void)snprintf(args[i], sizeof(args[i]), "t%u=%uK", i, i + 1);
		argv[argc++] = (char *)(uintptr_t) "--retain-bytes";
		argv[argc++] = args[i];
	}
	/* One more topic than allowed. */
	assert_int_equal(daemon_flags_parse(argc, argv, false, &flags, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "at most 1024 topics"));
	/* The same topic again is no new rule. */
	argc -= 2;
	argv[argc++] = (char *)(uintptr_t) "--retain-age";
	argv[argc++] = (char *)(uintptr_t) "t0=1h";
	assert_int_equal(daemon_flags_parse(argc, argv, false, &flags, err, sizeof(err)),
			 DAEMON_FLAGS_RUN);
	assert_int_equal(flags.retention.ntopics, JOURNAL_RETENTION_TOPICS_MAX);
	assert_int_equal(retention_of("t0").bytes, 1024);
	assert_int_equal(retention_of("t0").age_ns, 3600ull * 1000000000ull);
}

static void test_daemon_flags_help_lists_every_flag(void **state)
{
	static const char *const names[] = {
		"--driver",
		"--listen",
		"--shards",
		"--memory-mb",
		"--burst",
		"--ring-slots",
		"--mbufs",
		"--frame-bytes-max",
		"--partitions",
		"--topic",
		"--auto-create-topics",
		"--no-auto-create-topics",
		"--partitions-max",
		"--producers-max",
		"--dedupe-window",
		"--producer-idle-s",
		"--socket-buffer-bytes",
		"--idle-sleep-us",
		"--stats-interval-s",
		"--log-level",
		"--port",
		"--mtu",
		"--arp-entries",
		"--arp-timeout-s",
		"--data-dir",
		"--no-journal",
		"--segment-bytes",
		"--flush-bytes",
		"--flush-us",
		"--fsync",
		"--fsync-us",
		"--journal-buffers",
		"--direct-io",
		"--no-direct-io",
		"--zero-fill",
		"--no-zero-fill",
		"--journal-io",
		"--durable-acks-max",
		"--retain-bytes",
		"--retain-age",
		"--maint-period-ms",
		"--subscriptions-max",
		"--consumer-timeout-ms",
		"--replay-cursors",
		"--ack-timeout-ms",
		"--max-redeliveries",
		"--help",
		"--version",
	};
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(f);
	daemon_flags_help(f, "sluiced");
	assert_int_equal(fclose(f), 0);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strstr(text, names[i]) == NULL) {
			fail_msg("--help does not mention %s", names[i]);
		}
	}
	assert_non_null(strstr(text, "(default 32, 1..1024)"));
	assert_non_null(strstr(text, "(default 16384)"));
	free(text);
}

static void test_daemon_flags_parse_listen_invalid(void **state)
{
	static const char *const bad[] = {"127.0.0.1",	   "127.0.0.1:",
					  "127.0.0.1:0",   "127.0.0.1:65536",
					  "localhost:80",  ":80",
					  "::1:80",	   "1.2.3:80",
					  "127.0.0.1:80x", "123456789012345678901234567890:1"};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		expect_error(parse("--listen", bad[i]), "--listen");
	}
}

static void test_daemon_flags_parse_driver(void **state)
{
	(void)state;
	expect_error(parse("--driver", "xdp"), "udp, dpdk");
	assert_int_equal(parse("--driver", "dpdk", "--port", "3", "--arp-entries", "64",
			       "--arp-timeout-s", "30"),
			 DAEMON_FLAGS_RUN);
	assert_int_equal(flags.driver, DAEMON_DRIVER_DPDK);
	assert_int_equal(flags.dpdk_port, 3);
	assert_int_equal(flags.mtu, 1500);
	assert_int_equal(flags.frame_bytes_max, 1472);
	assert_int_equal(flags.arp_entries, 64);
	assert_int_equal(flags.arp_timeout_s, 30);
	/* Jumbo frames: the frame limit follows the MTU unless given. */
	assert_int_equal(parse("--driver", "dpdk", "--mtu", "9000"), DAEMON_FLAGS_RUN);
	assert_int_equal(flags.frame_bytes_max, 8972);
	assert_int_equal(parse("--driver", "dpdk", "--mtu", "4000", "--frame-bytes-max", "2000"),
			 DAEMON_FLAGS_RUN);
	assert_int_equal(flags.frame_bytes_max, 2000);
	expect_error(parse("--driver", "dpdk", "--mtu", "1500", "--frame-bytes-max", "2000"),
		     "--mtu 1500");
	expect_error(parse("--mtu", "9001"), "--mtu");
	expect_error(parse("--arp-entries", "4"), "--arp-entries");
	expect_error(parse("--arp-timeout-s", "0"), "--arp-timeout-s");
}

static void test_daemon_flags_parse_topic_invalid(void **state)
{

	(void)state;
	expect_error(parse("--topic", "orders"), "NAME:PARTITIONS");
	expect_error(parse("--topic", "bad name:4"), "NAME:PARTITIONS");
	expect_error(parse("--topic", "orders:0"), "1..65536");
	expect_error(parse("--topic", "orders:4", "--topic", "orders:8"), "twice");

	char *argv[2 * ROUTE_TOPICS_MAX + 4];
	static char names[ROUTE_TOPICS_MAX + 1][16];
	int argc = 0;
	argv[argc++] = (char *)(uintptr_t) "sluiced";
	for (unsigned i = 0; i <= ROUTE_TOPICS_MAX; i++) {
		(void)snprintf(names[i], sizeof(names[i]), "t%u:1", i);
		argv[argc++] = (char *)(uintptr_t) "--topic";
		argv[argc++] = names[i];
	}
	argv[argc] = NULL;
	expect_error(daemon_flags_parse(argc, argv, false, &flags, err, sizeof(err)),
		     "at most 1024");
}

static void test_daemon_flags_parse_log_level_invalid(void **state)
{
	(void)state;
	expect_error(parse("--log-level", "loud"), "error, warning, info, debug");
	assert_int_equal(parse("--log-level", "error"), 0);
	assert_int_equal(flags.log_level, SL_LOG_ERR);
	assert_int_equal(parse("--log-level", "warning"), 0);
	assert_int_equal(flags.log_level, SL_LOG_WARNING);
}

static void test_daemon_flags_parse_unknown_and_missing(void **state)
{
	(void)state;
	expect_error(parse("--bogus"), "--bogus: unknown flag");
	expect_error(parse("-l", "0-2"), "EAL arguments go before --");
	expect_error(parse("--burst"), "--burst: needs a value");
	expect_error(parse("--burst", "8", "extra"), "'extra': unexpected argument");
	expect_error(parse("--help=1"), "--help");
}

static void test_daemon_flags_parse_eal_conflicts(void **state)
{
	(void)state;
	expect_error(parse_eal(true, "--shards", "2", NULL), "--shards: not allowed");
	expect_error(parse_eal(true, "--memory-mb", "128", NULL), "--memory-mb: not allowed");
	assert_int_equal(parse_eal(true, "--burst", "8", NULL), 0);
	assert_int_equal(parse("--shards", "2"), 0);
}

static void test_daemon_flags_parse_mbufs_below_burst(void **state)
{
	(void)state;
	expect_error(parse("--burst", "256", "--mbufs", "1000"), "--mbufs");
	assert_int_equal(parse("--burst", "256", "--mbufs", "1024"), 0);
}

static void test_daemon_flags_parse_runs_twice(void **state)
{
	(void)state;
	assert_int_equal(parse("--burst", "8"), 0);
	assert_int_equal(parse("--burst", "9"), 0);
	assert_int_equal(flags.burst, 9);
	assert_int_equal(parse_eal(false, NULL), 0);
	assert_int_equal(flags.burst, 32);
}

static void test_daemon_args_split_cases(void **state)
{
	char *a1[] = {"sluiced", "--shards", "2", NULL};
	char *a2[] = {"sluiced", "-l", "0-2", "--", "--burst", "8", NULL};
	char *a3[] = {"sluiced", "--", "--burst", "8", NULL};
	int eal_argc;
	int flags_at;

	(void)state;
	daemon_args_split(3, a1, &eal_argc, &flags_at);
	assert_int_equal(eal_argc, 1);
	assert_int_equal(flags_at, 0);
	daemon_args_split(6, a2, &eal_argc, &flags_at);
	assert_int_equal(eal_argc, 3);
	assert_int_equal(flags_at, 3);
	daemon_args_split(4, a3, &eal_argc, &flags_at);
	assert_int_equal(eal_argc, 1);
	assert_int_equal(flags_at, 1);
}

static void test_daemon_eal_args_default_wraps_cpus(void **state)
{
	static struct daemon_eal_args args;
	int cpus[] = {2, 5};

	(void)state;
	assert_int_equal(daemon_eal_args_default("sluiced", 3, 256, cpus, 2, "warning", &args), 0);
	assert_string_equal(args.lcores, "0@2,1@5,2@2,3@5");
	assert_int_equal(args.argc, 11);
	assert_string_equal(args.argv[0], "sluiced");
	assert_string_equal(args.argv[1], "--no-huge");
	assert_string_equal(args.argv[2], "--no-pci");
	assert_string_equal(args.argv[3], "--no-shconf");
	assert_string_equal(args.argv[5], "256");
	assert_string_equal(args.argv[10], "--log-level=warning");
	assert_null(args.argv[11]);
	assert_int_equal(daemon_eal_args_default("sluiced", 1, 256, cpus, 0, "warning", &args),
			 -EINVAL);
}

static void test_daemon_eal_args_default_too_many_lcores(void **state)
{
	static struct daemon_eal_args args;
	static int cpus[128];

	(void)state;
	for (int i = 0; i < 128; i++) {
		cpus[i] = 1000 + i;
	}
	assert_int_equal(daemon_eal_args_default("sluiced", 128, 256, cpus, 128, "error", &args),
			 -E2BIG);
}

static void test_daemon_cpus_allowed_nonempty(void **state)
{
	int cpus[CPU_SETSIZE];

	(void)state;
	assert_true(daemon_cpus_allowed(cpus, CPU_SETSIZE) >= 1);
}

static void test_daemon_numa_memory_line_all_local(void **state)
{
	const struct daemon_numa_probe probes[] = {{"mbuf pool", 1}, {"shard state", 1}};
	char line[256];

	(void)state;
	assert_int_equal(daemon_numa_memory_line(1, probes, 2, line, sizeof(line)), 0);
	assert_string_equal(line, "memory on node 1: ok (mbuf pool, shard state)");
}

static void test_daemon_numa_memory_line_names_what_is_elsewhere(void **state)
{
	const struct daemon_numa_probe probes[] = {
		{"mbuf pool", 1}, {"shard state", 0}, {"mesh rings in", 0}, {"journal buffers", 3}};
	char line[256];

	(void)state;
	assert_int_equal(daemon_numa_memory_line(0, probes, 4, line, sizeof(line)), 2);
	assert_string_equal(line, "memory on node 0: NOT ALL LOCAL: mbuf pool on node 1, journal "
				  "buffers on node 3 (every access to it crosses the "
				  "interconnect); local: shard state, mesh rings in");
	/* Nothing local at all. */
	assert_int_equal(daemon_numa_memory_line(2, probes, 1, line, sizeof(line)), 1);
	assert_non_null(strstr(line, "mbuf pool on node 1"));
	assert_non_null(strstr(line, "; local: none"));
}

static void test_daemon_numa_memory_line_unknown_not_counted(void **state)
{
	const struct daemon_numa_probe probes[] = {{"mbuf pool", 0},
						   {"journal buffers", DAEMON_NUMA_UNKNOWN}};
	char line[256];

	(void)state;
	assert_int_equal(daemon_numa_memory_line(0, probes, 2, line, sizeof(line)), 0);
	assert_string_equal(line,
			    "memory on node 0: ok (mbuf pool); node unknown: journal buffers");
}

static void test_daemon_numa_memory_line_truncated_terminated(void **state)
{
	const struct daemon_numa_probe probes[] = {{"mbuf pool", 1}, {"shard state", 2}};
	char line[24];

	(void)state;
	memset(line, 'x', sizeof(line));
	assert_int_equal(daemon_numa_memory_line(0, probes, 2, line, 20), 2);
	assert_int_equal(strlen(line), 19);
	assert_int_equal(line[20], 'x');
}

static void test_daemon_numa_port_line_cases(void **state)
{
	const int nodes[] = {1, 0, 1, 0};
	char line[256];

	(void)state;
	/* SOCKET_ID_ANY: said, not counted. */
	assert_int_equal(daemon_numa_port_line(0, -1, nodes, 4, line, sizeof(line)), 0);
	assert_non_null(strstr(line, "port 0: numa node unknown"));
	assert_non_null(strstr(line, "SOCKET_ID_ANY"));
	/* Every shard on the port's node. */
	assert_int_equal(daemon_numa_port_line(2, 1, nodes, 1, line, sizeof(line)), 0);
	assert_string_equal(line, "port 2 on numa node 1: ok, every shard is on it");
	/* Shards 1 and 3 elsewhere. */
	assert_int_equal(daemon_numa_port_line(2, 1, nodes, 4, line, sizeof(line)), 2);
	assert_string_equal(line, "port 2 on numa node 1, but shard 1 on node 0, shard 3 on node "
				  "0: their frames cross the interconnect (give them worker "
				  "lcores on node 1)");
}

static void test_daemon_numa_node_of_page_touched_only(void **state)
{
	long page = sysconf(_SC_PAGESIZE);
	uint8_t *p = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);

	(void)state;
	assert_true(p != MAP_FAILED);
	/* Never touched: no page, no node. */
	assert_int_equal(daemon_numa_node_of_page(p), DAEMON_NUMA_UNKNOWN);
	p[100] = 1;
	assert_true(daemon_numa_node_of_page(p + 100) >= 0);
	assert_int_equal(munmap(p, (size_t)page), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_daemon_flags_parse_defaults),
		cmocka_unit_test(test_daemon_flags_parse_subscriptions),
		cmocka_unit_test(test_daemon_flags_parse_every_flag),
		cmocka_unit_test(test_daemon_flags_parse_journal),
		cmocka_unit_test(test_daemon_flags_parse_help_and_version),
		cmocka_unit_test(test_daemon_flags_parse_numbers_out_of_range),
		cmocka_unit_test(test_daemon_flags_parse_dedupe_window),
		cmocka_unit_test(test_daemon_flags_parse_retention),
		cmocka_unit_test(test_daemon_flags_parse_retention_invalid),
		cmocka_unit_test(test_daemon_flags_parse_retention_topics_bounded),
		cmocka_unit_test(test_daemon_flags_help_lists_every_flag),
		cmocka_unit_test(test_daemon_flags_parse_listen_invalid),
		cmocka_unit_test(test_daemon_flags_parse_driver),
		cmocka_unit_test(test_daemon_flags_parse_topic_invalid),
		cmocka_unit_test(test_daemon_flags_parse_log_level_invalid),
		cmocka_unit_test(test_daemon_flags_parse_unknown_and_missing),
		cmocka_unit_test(test_daemon_flags_parse_eal_conflicts),
		cmocka_unit_test(test_daemon_flags_parse_mbufs_below_burst),
		cmocka_unit_test(test_daemon_flags_parse_runs_twice),
		cmocka_unit_test(test_daemon_args_split_cases),
		cmocka_unit_test(test_daemon_eal_args_default_wraps_cpus),
		cmocka_unit_test(test_daemon_eal_args_default_too_many_lcores),
		cmocka_unit_test(test_daemon_cpus_allowed_nonempty),
		cmocka_unit_test(test_daemon_numa_memory_line_all_local),
		cmocka_unit_test(test_daemon_numa_memory_line_names_what_is_elsewhere),
		cmocka_unit_test(test_daemon_numa_memory_line_unknown_not_counted),
		cmocka_unit_test(test_daemon_numa_memory_line_truncated_terminated),
		cmocka_unit_test(test_daemon_numa_port_line_cases),
		cmocka_unit_test(test_daemon_numa_node_of_page_touched_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
