/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Flag parsing of the `sluice` command: defaults, every kind of rejection (unknown
 * flag, missing value, bad number, out of range, bad ack level, bad router, missing or
 * invalid topic, --size without --count), each message naming the flag, the JSON
 * writer's escaping, the commands and flags of `sluice journal`, and `sluice consume`:
 * its flags (every --from form), UTF-8 checking and the three event formats.
 */
#include "cli/cli.h"
#include "fake_router.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define ARGV(...) ((char *[]){"produce", __VA_ARGS__, NULL})
#define ARGC(...) ((int)(sizeof((char *[]){"produce", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(o, err, ...) cli_produce_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), o, err)

static void expect_produce_error(char **argv, int argc, const char *flag)
{
	struct cli_produce_opts o;
	char err[CLI_ERR_BYTES];

	assert_int_equal(cli_produce_parse(argc, argv, &o, err), -EINVAL);
	if (strstr(err, flag) == NULL) {
		fail_msg("message '%s' does not name %s", err, flag);
	}
}

#define EXPECT_ERROR(flag, ...) expect_produce_error(ARGV(__VA_ARGS__), ARGC(__VA_ARGS__), flag)

static void test_cli_produce_parse_defaults(void **state)
{
	struct cli_produce_opts o;
	char err[CLI_ERR_BYTES];

	(void)state;
	assert_int_equal(PARSE(&o, err, "--topic", "t"), 0);
	assert_string_equal(o.router, CLI_ROUTER_DEFAULT);
	assert_int_equal(o.acks, SL_ACKS_RECEIVED);
	assert_false(o.has_count);
	assert_int_equal(o.size, 64);
	assert_int_equal(o.rate, 0);
	assert_false(o.json);
	assert_null(o.key);
	assert_int_equal(o.test_drop_tx_permille, 0);
}

static void test_cli_produce_parse_all_flags(void **state)
{
	struct cli_produce_opts o;
	char err[CLI_ERR_BYTES];

	(void)state;
	assert_int_equal(PARSE(&o, err, "--router", "10.0.0.1:9000", "--topic", "a.b", "--key", "k",
			       "--acks", "none", "--count", "100", "--size", "512", "--rate",
			       "1000", "--json", "--partition", "3", "--test-drop-tx-permille",
			       "100", "--test-drop-rx-permille=50", "--send-window-bytes", "65536"),
			 0);
	assert_string_equal(o.router, "10.0.0.1:9000");
	assert_string_equal(o.topic, "a.b");
	assert_string_equal(o.key, "k");
	assert_int_equal(o.acks, SL_ACKS_NONE);
	assert_true(o.has_count);
	assert_int_equal(o.count, 100);
	assert_int_equal(o.size, 512);
	assert_int_equal(o.rate, 1000);
	assert_true(o.json);
	assert_true(o.has_partition);
	assert_int_equal(o.partition, 3);
	assert_int_equal(o.test_drop_tx_permille, 100);
	assert_int_equal(o.test_drop_rx_permille, 50);
	assert_int_equal(o.send_window_bytes, 65536);
	assert_int_equal(PARSE(&o, err, "--topic", "t", "--send-window-bytes", "0"), 0);
	assert_int_equal(o.send_window_bytes, 0);
}

static void test_cli_produce_parse_rejects_bad_flags(void **state)
{
	(void)state;
	EXPECT_ERROR("--bogus", "--topic", "t", "--bogus");
	EXPECT_ERROR("--count", "--topic", "t", "--count");
	EXPECT_ERROR("--count", "--topic", "t", "--count", "12x");
	EXPECT_ERROR("--count", "--topic", "t", "--count", "-5");
	EXPECT_ERROR("--size", "--topic", "t", "--count", "1", "--size", "100000");
	EXPECT_ERROR("--size", "--topic", "t", "--size", "10");
	EXPECT_ERROR("--acks", "--topic", "t", "--acks", "all");
	EXPECT_ERROR("--router", "--topic", "t", "--router", "localhost");
	EXPECT_ERROR("--router", "--topic", "t", "--router", "localhost:99999");
	EXPECT_ERROR("--topic", "--count", "1");
	EXPECT_ERROR("--topic", "--topic", "bad topic");
	EXPECT_ERROR("--topic", "--topic", "a..b");
	EXPECT_ERROR("--rate", "--topic", "t", "--rate", "fast");
	EXPECT_ERROR("--test-drop-tx-permille", "--topic", "t", "--test-drop-tx-permille", "1001");
	EXPECT_ERROR("--frame-bytes", "--topic", "t", "--frame-bytes", "100");
	EXPECT_ERROR("--send-window-bytes", "--topic", "t", "--send-window-bytes", "1000");
	EXPECT_ERROR("extra", "--topic", "t", "extra");
	EXPECT_ERROR("--driver", "--topic", "t", "--driver", "xdp");
	EXPECT_ERROR("--local-ip", "--topic", "t", "--driver", "dpdk", "--", "-l", "0");
	EXPECT_ERROR("--driver dpdk", "--topic", "t", "--driver", "dpdk", "--local-ip", "10.0.0.2");
	EXPECT_ERROR("--driver dpdk", "--topic", "t", "--local-ip", "10.0.0.2");
	EXPECT_ERROR("--driver dpdk", "--topic", "t", "--", "-l", "0");
	EXPECT_ERROR("--port-id", "--topic", "t", "--driver", "dpdk", "--port-id", "65536");
}

static void test_cli_produce_parse_dpdk_driver_takes_eal_args_after_dashes(void **state)
{
	struct cli_produce_opts o;
	char err[CLI_ERR_BYTES];

	(void)state;
	assert_int_equal(PARSE(&o, err, "--topic", "t", "--driver", "dpdk", "--local-ip",
			       "10.0.0.2", "--port-id", "1", "--", "--no-huge", "-l", "0"),
			 0);
	assert_int_equal(o.driver, CLI_DRIVER_DPDK);
	assert_string_equal(o.local_ip, "10.0.0.2");
	assert_int_equal(o.port_id, 1);
	assert_int_equal(o.eal_argc, 3);
	assert_string_equal(o.eal_argv[0], "--no-huge");
	assert_string_equal(o.eal_argv[2], "0");
	assert_int_equal(PARSE(&o, err, "--topic", "t"), 0);
	assert_int_equal(o.driver, CLI_DRIVER_UDP);
	assert_int_equal(o.eal_argc, 0);
}

static void test_cli_produce_parse_help(void **state)
{
	struct cli_produce_opts o;
	char err[CLI_ERR_BYTES];

	(void)state;
	assert_int_equal(PARSE(&o, err, "--help"), 0);
	assert_true(o.help);
}

static void test_cli_stats_parse_rejects_bad_flags(void **state)
{
	struct cli_request_opts o;
	char err[CLI_ERR_BYTES];
	char *ok[] = {"stats", "--router", "127.0.0.1:7800", "--json", "--timeout-ms", "50", NULL};
	char *bad_timeout[] = {"stats", "--timeout-ms", "0", NULL};
	char *bad_router[] = {"stats", "--router", ":80", NULL};

	(void)state;
	assert_int_equal(cli_stats_parse(6, ok, &o, err), 0);
	assert_true(o.json);
	assert_int_equal(o.timeout_ms, 50);
	assert_int_equal(cli_stats_parse(3, bad_timeout, &o, err), -EINVAL);
	assert_non_null(strstr(err, "--timeout-ms"));
	assert_int_equal(cli_stats_parse(3, bad_router, &o, err), -EINVAL);
	assert_non_null(strstr(err, "--router"));
}

static void test_cli_metadata_parse_rejects_bad_topic(void **state)
{
	struct cli_request_opts o;
	char err[CLI_ERR_BYTES];
	char *bad[] = {"metadata", "--topic", "a*", NULL};
	char *ok[] = {"metadata", "--topic", "a.b", NULL};

	(void)state;
	assert_int_equal(cli_metadata_parse(3, bad, &o, err), -EINVAL);
	assert_non_null(strstr(err, "--topic"));
	assert_int_equal(cli_metadata_parse(3, ok, &o, err), 0);
	assert_string_equal(o.topic, "a.b");
}

static void test_cli_json_string_escapes(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct cli_json j;

	(void)state;
	assert_non_null(f);
	cli_json_init(&j, f);
	cli_json_object_begin(&j, NULL);
	cli_json_u64(&j, "events", 3);
	cli_json_string(&j, "error", "a \"b\"\\\n\x01");
	cli_json_string(&j, "none", NULL);
	cli_json_array_begin(&j, "list");
	cli_json_u64(&j, NULL, 1);
	cli_json_u64(&j, NULL, 2);
	cli_json_array_end(&j);
	cli_json_object_end(&j);
	cli_json_finish(&j);
	fclose(f);
	assert_string_equal(buf, "{\"events\":3,\"error\":\"a \\\"b\\\"\\\\\\n\\u0001\","
				 "\"none\":null,\"list\":[1,2]}\n");
	free(buf);
}

static void test_cli_json_bytes_round_trip_escapes(void **state)
{
	static const uint8_t bytes[] = {'a', 0x00, 0x1f, '"', '\\', 0x7f, 0x80, 0xc3, 0xff, ' '};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct cli_json j;

	(void)state;
	assert_non_null(f);
	cli_json_init(&j, f);
	cli_json_object_begin(&j, NULL);
	cli_json_bytes(&j, "value", bytes, sizeof(bytes));
	cli_json_bytes(&j, "empty", bytes, 0);
	cli_json_object_end(&j);
	cli_json_end_line(&j);
	fclose(f);
	assert_string_equal(buf, "{\"value\":\"a\\u0000\\u001f\\\"\\\\\\u007f\\u0080\\u00c3"
				 "\\u00ff \",\"empty\":\"\"}\n");
	free(buf);
}

#define JARGV(...) ((char *[]){"journal", __VA_ARGS__, NULL})
#define JARGC(...) ((int)(sizeof((char *[]){"journal", __VA_ARGS__}) / sizeof(char *)))
#define JPARSE(o, err, ...) cli_journal_parse(JARGC(__VA_ARGS__), JARGV(__VA_ARGS__), o, err)

static void test_cli_journal_parse_commands_and_flags(void **state)
{
	struct cli_journal_opts o;
	char err[CLI_ERR_BYTES];

	(void)state;
	assert_int_equal(JPARSE(&o, err, "verify", "/data"), 0);
	assert_int_equal(o.cmd, CLI_JOURNAL_VERIFY);
	assert_string_equal(o.dir, "/data");
	assert_false(o.json);

	assert_int_equal(JPARSE(&o, err, "dump", "--topic", "a.b", "/data", "--partition", "7",
				"--from=42", "--format", "json"),
			 0);
	assert_int_equal(o.cmd, CLI_JOURNAL_DUMP);
	assert_string_equal(o.dir, "/data");
	assert_string_equal(o.topic, "a.b");
	assert_true(o.has_partition);
	assert_int_equal(o.partition, 7);
	assert_true(o.has_from);
	assert_int_equal(o.from, 42);
	assert_true(o.json);

	assert_int_equal(JPARSE(&o, err, "stats", "/data", "--json"), 0);
	assert_int_equal(o.cmd, CLI_JOURNAL_STATS);
	assert_true(o.json);

	assert_int_equal(JPARSE(&o, err, "dump", "--help"), 0);
	assert_true(o.help);
	assert_int_equal(JPARSE(&o, err, "--help"), 0);
	assert_true(o.help);
}

static void expect_journal_error(char **argv, int argc, const char *text)
{
	struct cli_journal_opts o;
	char err[CLI_ERR_BYTES];

	assert_int_equal(cli_journal_parse(argc, argv, &o, err), -EINVAL);
	if (strstr(err, text) == NULL) {
		fail_msg("message '%s' does not say '%s'", err, text);
	}
}

#define EXPECT_JOURNAL_ERROR(text, ...)                                                            \
	expect_journal_error(JARGV(__VA_ARGS__), JARGC(__VA_ARGS__), text)

static void test_cli_journal_parse_rejects_bad_usage(void **state)
{
	(void)state;
	EXPECT_JOURNAL_ERROR("frob", "frob", "/data");
	EXPECT_JOURNAL_ERROR("missing DIR", "verify");
	EXPECT_JOURNAL_ERROR("unexpected argument", "verify", "/a", "/b");
	EXPECT_JOURNAL_ERROR("--json", "verify", "/data", "--json");
	EXPECT_JOURNAL_ERROR("--topic", "stats", "/data", "--topic", "a");
	EXPECT_JOURNAL_ERROR("--format", "stats", "/data", "--format", "json");
	EXPECT_JOURNAL_ERROR("--format", "dump", "/data", "--format", "xml");
	EXPECT_JOURNAL_ERROR("--topic", "dump", "/data", "--topic", "a*b");
	EXPECT_JOURNAL_ERROR("--partition", "dump", "/data", "--partition", "-1");
	EXPECT_JOURNAL_ERROR("--partition", "dump", "/data", "--partition", "4294967296");
	EXPECT_JOURNAL_ERROR("--from", "dump", "/data", "--from", "x");
	EXPECT_JOURNAL_ERROR("--nope", "dump", "/data", "--nope");
}

#define CARGV(...) ((char *[]){"consume", __VA_ARGS__, NULL})
#define CARGC(...) ((int)(sizeof((char *[]){"consume", __VA_ARGS__}) / sizeof(char *)))
#define CPARSE(o, err, ...) cli_consume_parse(CARGC(__VA_ARGS__), CARGV(__VA_ARGS__), o, err)

static void expect_consume_error(char **argv, int argc, const char *flag)
{
	struct cli_consume_opts o;
	char err[CLI_ERR_BYTES];

	assert_int_equal(cli_consume_parse(argc, argv, &o, err), -EINVAL);
	if (strstr(err, flag) == NULL) {
		fail_msg("message '%s' does not name %s", err, flag);
	}
}

#define EXPECT_CONSUME_ERROR(flag, ...)                                                            \
	expect_consume_error(CARGV(__VA_ARGS__), CARGC(__VA_ARGS__), flag)

static void test_cli_consume_parse_defaults(void **state)
{
	struct cli_consume_opts o;
	char err[CLI_ERR_BYTES];

	(void)state;
	assert_int_equal(CPARSE(&o, err, "orders.>"), 0);
	assert_string_equal(o.pattern, "orders.>");
	assert_string_equal(o.router, CLI_ROUTER_DEFAULT);
	assert_null(o.group);
	assert_int_equal(o.strategy, SL_GROUP_NONE);
	assert_int_equal(o.weight, 0);
	assert_int_equal(o.start, SL_START_LATEST);
	assert_false(o.has_count);
	assert_int_equal(o.timeout_ms, 0);
	assert_int_equal(o.format, CLI_FORMAT_TEXT);
	assert_int_equal(o.window_batches, 256);
	assert_int_equal(o.window_bytes, 0);
	assert_int_equal(o.slow, SL_SLOW_REPLAY);
	assert_false(o.json);
}

static void test_cli_consume_parse_all_flags(void **state)
{
	struct cli_consume_opts o;
	char err[CLI_ERR_BYTES];

	(void)state;
	/* Flags before and after PATTERN, as in the synopsis. */
	assert_int_equal(CPARSE(&o, err, "--router", "10.0.0.1:7900", "orders.*", "--group",
				"billing", "--weight", "5", "--from", "earliest", "--count", "10",
				"--timeout", "3", "--format", "json", "--window-batches", "16",
				"--window-bytes", "65536", "--slow", "drop", "--json",
				"--window-batches-max", "0"),
			 0);
	assert_string_equal(o.router, "10.0.0.1:7900");
	assert_string_equal(o.pattern, "orders.*");
	assert_string_equal(o.group, "billing");
	assert_int_equal(o.weight, 5);
	assert_int_equal(o.strategy, SL_GROUP_WEIGHTED); /* implied by --weight */
	assert_int_equal(o.start, SL_START_EARLIEST);
	assert_true(o.has_count);
	assert_int_equal(o.count, 10);
	assert_int_equal(o.timeout_ms, 3000);
	assert_int_equal(o.format, CLI_FORMAT_JSON);
	assert_int_equal(o.window_batches, 16);
	assert_int_equal(o.window_bytes, 65536);
	assert_int_equal(o.window_batches_max, 0);
	assert_int_equal(o.slow, SL_SLOW_DROP);
	assert_true(o.json);
	assert_int_equal(CPARSE(&o, err, "t", "--group", "g", "--strategy", "key-affine"), 0);
	assert_int_equal(o.strategy, SL_GROUP_KEY_AFFINE);
	assert_int_equal(o.weight, 1);
	assert_int_equal(CPARSE(&o, err, "t", "--format", "hex"), 0);
	assert_int_equal(o.format, CLI_FORMAT_HEX);
}

static void test_cli_consume_parse_from_forms(void **state)
{
	struct cli_consume_opts o;
	char err[CLI_ERR_BYTES];

	(void)state;
	assert_int_equal(CPARSE(&o, err, "orders", "--from", "42"), 0);
	assert_int_equal(o.start, SL_START_OFFSETS);
	assert_true(o.offset_every_partition);
	assert_int_equal(o.offset, 42);
	assert_int_equal(CPARSE(&o, err, "orders", "--from", "0:5,3:7"), 0);
	assert_false(o.offset_every_partition);
	assert_int_equal(o.offset_count, 2);
	assert_int_equal(o.offsets[1].partition, 3);
	assert_int_equal(o.offsets[1].offset, 7);
	assert_int_equal(CPARSE(&o, err, "orders.>", "--from", "2026-11-23T10:00:00Z"), 0);
	assert_int_equal(o.start, SL_START_TIMESTAMP);
	assert_int_equal(o.start_timestamp_ns, 1795428000000000000ull);
	assert_int_equal(CPARSE(&o, err, "t", "--from", "2026-11-23T10:00:00.25+05:30"), 0);
	assert_int_equal(o.start_timestamp_ns, 1795408200250000000ull);
	assert_int_equal(CPARSE(&o, err, "t", "--from", "@123"), 0);
	assert_int_equal(o.start, SL_START_TIMESTAMP);
	assert_int_equal(o.start_timestamp_ns, 123);
	assert_int_equal(CPARSE(&o, err, "t", "--from", "latest"), 0);
	assert_int_equal(o.start, SL_START_LATEST);
}

static void test_cli_consume_parse_rejects_bad_usage(void **state)
{
	(void)state;
	EXPECT_CONSUME_ERROR("PATTERN", "--count", "3");
	EXPECT_CONSUME_ERROR("PATTERN", "a..b");
	EXPECT_CONSUME_ERROR("PATTERN", "a.>.b");
	EXPECT_CONSUME_ERROR("unexpected", "a", "b");
	EXPECT_CONSUME_ERROR("--weight", "a", "--weight", "2");
	EXPECT_CONSUME_ERROR("--strategy", "a", "--strategy", "round-robin");
	EXPECT_CONSUME_ERROR("--strategy", "a", "--group", "g", "--strategy", "random");
	EXPECT_CONSUME_ERROR("--weight", "a", "--group", "g", "--weight", "1001");
	EXPECT_CONSUME_ERROR("--group", "a", "--group", "bad group");
	EXPECT_CONSUME_ERROR("--from", "a.*", "--from", "5");
	EXPECT_CONSUME_ERROR("--from", "a", "--from", "3:1,2:1");
	EXPECT_CONSUME_ERROR("--from", "a", "--from", "1:");
	EXPECT_CONSUME_ERROR("--from", "a", "--from", "2026-13-01T00:00:00Z");
	EXPECT_CONSUME_ERROR("--from", "a", "--from", "2026-11-23T10:00:00");
	EXPECT_CONSUME_ERROR("--from", "a", "--from", "yesterday");
	EXPECT_CONSUME_ERROR("--count", "a", "--count", "0");
	EXPECT_CONSUME_ERROR("--timeout", "a", "--timeout", "1.5");
	EXPECT_CONSUME_ERROR("--format", "a", "--format", "xml");
	EXPECT_CONSUME_ERROR("--slow", "a", "--slow", "fast");
	EXPECT_CONSUME_ERROR("--window-batches", "a", "--window-batches", "65537");
	EXPECT_CONSUME_ERROR("--window-batches-max", "a", "--window-batches-max", "65537");
	EXPECT_CONSUME_ERROR("--window-bytes", "a", "--window-bytes", "100");
	EXPECT_CONSUME_ERROR("--window-batches", "a", "--window-batches", "0");
	EXPECT_CONSUME_ERROR("--router", "a", "--router", "nowhere");
	EXPECT_CONSUME_ERROR("--nope", "a", "--nope");
}

static void test_cli_utf8_is_valid_rejects_malformed(void **state)
{
	(void)state;
	assert_true(cli_utf8_is_valid((const uint8_t *)"", 0));
	assert_true(cli_utf8_is_valid((const uint8_t *)"caf\xc3\xa9 \xe2\x82\xac", 9));
	assert_true(cli_utf8_is_valid((const uint8_t *)"\xf0\x9f\x98\x80", 4));
	assert_false(cli_utf8_is_valid((const uint8_t *)"\xc3", 1));	     /* truncated */
	assert_false(cli_utf8_is_valid((const uint8_t *)"\xc0\xaf", 2));     /* overlong */
	assert_false(cli_utf8_is_valid((const uint8_t *)"\xed\xa0\x80", 3)); /* surrogate */
	assert_false(cli_utf8_is_valid((const uint8_t *)"\xf4\x90\x80\x80", 4));
	assert_false(cli_utf8_is_valid((const uint8_t *)"\xff", 1));
}

/* cli_event_write of ev in format, as a string the caller frees. */
static char *event_line(enum cli_consume_format format, const struct sl_event *ev)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	cli_event_write(f, format, ev);
	fclose(f);
	return buf;
}

static void test_cli_event_write_formats(void **state)
{
	struct sl_event ev = {
		.topic = "orders.eu",
		.partition = 2,
		.offset = 17,
		.timestamp_ns = 99,
		.key = (const uint8_t *)"-",
		.key_len = 1,
		.value = (const uint8_t *)"a b\\\n\xff",
		.value_len = 6,
	};
	char *s;

	(void)state;
	s = event_line(CLI_FORMAT_TEXT, &ev);
	assert_string_equal(s, "orders.eu 2 17 99 \\x2d a\\x20b\\x5c\\x0a\\xff\n");
	free(s);
	s = event_line(CLI_FORMAT_HEX, &ev);
	assert_string_equal(s, "orders.eu 2 17 99 2d 6120625c0aff\n");
	free(s);
	s = event_line(CLI_FORMAT_JSON, &ev);
	assert_string_equal(s, "{\"topic\":\"orders.eu\",\"partition\":2,\"offset\":17,"
			       "\"timestamp_ns\":99,\"key\":\"-\",\"value_base64\":true,"
			       "\"value\":\"YSBiXAr/\"}\n");
	free(s);
	ev.key = NULL;
	ev.key_len = 0;
	ev.value = (const uint8_t *)"h\xc3\xa9\"";
	ev.value_len = 4;
	s = event_line(CLI_FORMAT_JSON, &ev);
	assert_string_equal(s, "{\"topic\":\"orders.eu\",\"partition\":2,\"offset\":17,"
			       "\"timestamp_ns\":99,\"key\":null,\"value\":\"h\xc3\xa9\\\"\"}\n");
	free(s);
	s = event_line(CLI_FORMAT_TEXT, &ev);
	assert_string_equal(s, "orders.eu 2 17 99 - h\\xc3\\xa9\"\n");
	free(s);
}

/* Runs `sluice consume ARGS` in this process with stdout captured into out[cap]. */
static int run_consume(char **argv, int argc, char *out, size_t cap)
{
	FILE *tmp = tmpfile();
	int saved = dup(STDOUT_FILENO);
	int rc;

	assert_non_null(tmp);
	assert_true(saved >= 0);
	fflush(stdout);
	assert_true(dup2(fileno(tmp), STDOUT_FILENO) >= 0);
	rc = cli_consume_main(argc, argv);
	fflush(stdout);
	assert_true(dup2(saved, STDOUT_FILENO) >= 0);
	close(saved);
	rewind(tmp);
	size_t n = fread(out, 1, cap - 1, tmp);
	out[n] = '\0';
	fclose(tmp);
	return rc;
}

static void test_cli_consume_main_prints_count_events(void **state)
{
	struct fake_router r;
	char out[4096];

	(void)state;
	assert_int_equal(fake_router_open(&r), 0);
	r.sub_deliver_batches = 3; /* 6 events: offsets 0..5 */
	assert_int_equal(fake_router_start(&r, 1, 0), 0);
	char *argv[] = {"consume", "--router", r.hostport, "orders", "--count",
			"4",	   "--format", "hex",	   "--json", NULL};
	assert_int_equal(run_consume(argv, 9, out, sizeof(out)), CLI_EXIT_OK);
	fake_router_stop(&r);
	/* The fourth event, then the summary as the last line. */
	assert_non_null(strstr(out, "orders 0 0 1000 6b 0000000000000000\n"));
	assert_non_null(strstr(out, "orders 0 3 1003 6b 0300000000000000\n"));
	assert_null(strstr(out, "orders 0 4 "));
	assert_non_null(strstr(out, "{\"summary\":true,\"events\":4,"));
	assert_non_null(strstr(out, "\"error\":null}\n"));
	assert_int_equal(atomic_load(&r.unsubscribes), 1);
	fake_router_close(&r);
}

static void test_cli_consume_main_fails_on_refusal(void **state)
{
	struct fake_router r;
	char out[4096];

	(void)state;
	assert_int_equal(fake_router_open(&r), 0);
	r.sub_nack_reason = SL_NACK_BAD_GROUP;
	r.sub_nack_detail = SL_SUB_GROUP_STRATEGY;
	assert_int_equal(fake_router_start(&r, 1, 0), 0);
	char *argv[] = {"consume", "--router", r.hostport, "orders.*", "--json", NULL};
	assert_int_equal(run_consume(argv, 5, out, sizeof(out)), CLI_EXIT_FAILED);
	fake_router_stop(&r);
	assert_non_null(
		strstr(out, "\"error\":\"subscribe orders.*: router: bad consumer group: "));
	fake_router_close(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cli_produce_parse_defaults),
		cmocka_unit_test(test_cli_produce_parse_all_flags),
		cmocka_unit_test(test_cli_produce_parse_rejects_bad_flags),
		cmocka_unit_test(test_cli_produce_parse_help),
		cmocka_unit_test(test_cli_produce_parse_dpdk_driver_takes_eal_args_after_dashes),
		cmocka_unit_test(test_cli_stats_parse_rejects_bad_flags),
		cmocka_unit_test(test_cli_metadata_parse_rejects_bad_topic),
		cmocka_unit_test(test_cli_json_string_escapes),
		cmocka_unit_test(test_cli_json_bytes_round_trip_escapes),
		cmocka_unit_test(test_cli_journal_parse_commands_and_flags),
		cmocka_unit_test(test_cli_journal_parse_rejects_bad_usage),
		cmocka_unit_test(test_cli_consume_parse_defaults),
		cmocka_unit_test(test_cli_consume_parse_all_flags),
		cmocka_unit_test(test_cli_consume_parse_from_forms),
		cmocka_unit_test(test_cli_consume_parse_rejects_bad_usage),
		cmocka_unit_test(test_cli_utf8_is_valid_rejects_malformed),
		cmocka_unit_test(test_cli_event_write_formats),
		cmocka_unit_test(test_cli_consume_main_prints_count_events),
		cmocka_unit_test(test_cli_consume_main_fails_on_refusal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
