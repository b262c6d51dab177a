/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The `sluice` command against a real sluiced: produce from --count and from stdin, the
 * --json summary line (also when the router is not there), exit statuses,
 * `sluice stats`, `sluice metadata`, and `sluice consume` after `sluice produce`.
 * Usage: test_cli SLUICED_PATH SLUICE_PATH
 */
#include "router_proc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

static const char *sluiced_path;
static const char *sluice_path;

/*
 * Runs a shell command; returns its exit status and the last line of its stdout. When
 * `all` is not NULL it also gets the whole output (truncated to all_cap).
 */
static int run_output(const char *cmd, char *last, size_t cap, char *all, size_t all_cap)
{
	char *line = NULL; /* whole lines, however long (stats --json is one) */
	size_t line_cap = 0;
	size_t used = 0;
	FILE *f = popen(cmd, "r");

	assert_non_null(f);
	last[0] = '\0';
	while (getline(&line, &line_cap, f) >= 0) {
		(void)snprintf(last, cap, "%s", line);
		if (all != NULL && used < all_cap) {
			int n = snprintf(all + used, all_cap - used, "%s", line);
			used += n > 0 ? (size_t)n : 0;
		}
	}
	free(line);
	int status = pclose(f);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int run_last_line(const char *cmd, char *last, size_t cap)
{
	return run_output(cmd, last, cap, NULL, 0);
}

/* The integer value of "key": in a one-line JSON object, or -1. */
static long long json_int(const char *json, const char *key)
{
	char pattern[64];

	(void)snprintf(pattern, sizeof(pattern), "\"%s\":", key);
	const char *p = strstr(json, pattern);
	if (p == NULL) {
		return -1;
	}
	p += strlen(pattern);
	while (*p == ' ') {
		p++;
	}
	return strtoll(p, NULL, 10);
}

static int setup_router(void **state)
{
	static const char *const flags[] = {NULL};
	struct router_proc *r = calloc(1, sizeof(*r));

	if (r == NULL || router_proc_start(r, sluiced_path, flags) != 0) {
		free(r);
		return -1;
	}
	*state = r;
	return 0;
}

static int setup_router_window(void **state)
{
	static const char *const flags[] = {"--dedupe-window", "48", "--partitions", "3", NULL};
	struct router_proc *r = calloc(1, sizeof(*r));

	if (r == NULL || router_proc_start(r, sluiced_path, flags) != 0) {
		free(r);
		return -1;
	}
	*state = r;
	return 0;
}

static int teardown_router(void **state)
{
	struct router_proc *r = *state;
	int rc = router_proc_stop(r);

	free(r);
	return rc == 0 ? 0 : -1;
}

static void test_cli_produce_count_json(void **state)
{
	struct router_proc *r = *state;
	char cmd[512];
	char last[4096];

	(void)snprintf(cmd, sizeof(cmd),
		       "%s produce --router %s --topic cli.count --count 20000 --size 100 --json",
		       sluice_path, r->address);
	assert_int_equal(run_last_line(cmd, last, sizeof(last)), 0);
	assert_true(json_int(last, "events") == 20000);
	assert_true(json_int(last, "acked") == 20000);
	assert_true(json_int(last, "failed") == 0);
	assert_true(json_int(last, "retransmits") >= 0);
	assert_non_null(strstr(last, "\"events_per_s\":"));
	assert_non_null(strstr(last, "\"seconds\":"));
}

static void test_cli_produce_stdin_lines(void **state)
{
	struct router_proc *r = *state;
	char cmd[512];
	char last[4096];

	(void)snprintf(cmd, sizeof(cmd),
		       "printf 'one\\ntwo\\nthree\\n' | %s produce --router %s --topic cli.lines "
		       "--key k --json",
		       sluice_path, r->address);
	assert_int_equal(run_last_line(cmd, last, sizeof(last)), 0);
	assert_true(json_int(last, "events") == 3);
	assert_true(json_int(last, "acked") == 3);
}

static void test_cli_produce_rate_paces(void **state)
{
	struct router_proc *r = *state;
	char cmd[512];
	char last[4096];

	(void)snprintf(cmd, sizeof(cmd),
		       "%s produce --router %s --topic cli.rate --count 2000 --rate 4000 --json",
		       sluice_path, r->address);
	assert_int_equal(run_last_line(cmd, last, sizeof(last)), 0);
	assert_true(json_int(last, "acked") == 2000);
	/* 2000 events at 4000/s take about half a second; never much less. */
	const char *secs = strstr(last, "\"seconds\":");
	assert_non_null(secs);
	assert_true(strtod(secs + strlen("\"seconds\":"), NULL) >= 0.4);
}

static void test_cli_stats_json(void **state)
{
	struct router_proc *r = *state;
	char cmd[512];
	char last[65536];

	(void)snprintf(cmd, sizeof(cmd), "%s stats --router %s --json", sluice_path, r->address);
	assert_int_equal(run_last_line(cmd, last, sizeof(last)), 0);
	assert_non_null(strstr(last, "\"rx_datagrams\""));
	assert_non_null(strstr(last, "\"appended_events\""));
}

static void test_cli_metadata_reports_dedupe_window(void **state)
{
	struct router_proc *r = *state;
	char cmd[512];
	char last[4096];
	char all[8192];

	(void)snprintf(cmd, sizeof(cmd), "%s metadata --router %s --topic cli.md --json",
		       sluice_path, r->address);
	assert_int_equal(run_last_line(cmd, last, sizeof(last)), 0);
	assert_true(json_int(last, "stream_batches_max") == 48);
	assert_true(json_int(last, "partitions") == 3);
	(void)snprintf(cmd, sizeof(cmd), "%s metadata --router %s", sluice_path, r->address);
	assert_int_equal(run_output(cmd, last, sizeof(last), all, sizeof(all)), 0);
	assert_non_null(strstr(all, "stream_batches_max  48\n"));
}

static void test_cli_produce_no_router_reports_failure(void **state)
{
	char cmd[512];
	char last[4096];

	(void)state;
	/* Nobody listens on this port: every batch fails, the summary still comes. */
	(void)snprintf(cmd, sizeof(cmd),
		       "%s produce --router 127.0.0.1:%u --topic cli.none --count 10 --json "
		       "2>/dev/null",
		       sluice_path, free_udp_port());
	int rc = run_last_line(cmd, last, sizeof(last));
	assert_int_not_equal(rc, 0);
	assert_int_not_equal(rc, 2);
	assert_true(last[0] == '{');
	assert_true(json_int(last, "acked") == 0);
	assert_non_null(strstr(last, "\"error\":\""));
}

static void test_cli_produce_bad_flag_is_usage_error(void **state)
{
	char cmd[512];
	char last[4096];
	char all[8192];

	(void)state;
	(void)snprintf(cmd, sizeof(cmd),
		       "%s produce --router 127.0.0.1:1 --topic t --acks sometimes 2>&1",
		       sluice_path);
	assert_int_equal(run_output(cmd, last, sizeof(last), all, sizeof(all)), 2);
	/* The message names the flag and the value it did not accept. */
	assert_non_null(strstr(all, "--acks"));
	assert_non_null(strstr(all, "sometimes"));
}

/* `sluice produce` then `sluice consume --count N --format json` from earliest: N JSON
 * lines, each with topic, partition, offset, timestamp and the key and value produced,
 * offsets in order, then exit 0. */
static void test_cli_consume_count_json(void **state)
{
	struct router_proc *r = *state;
	static const char *const values[] = {"one", "two", "three", "four", "five"};
	char cmd[512];
	char last[4096];
	char all[8192];

	(void)snprintf(cmd, sizeof(cmd),
		       "printf 'one\\ntwo\\nthree\\nfour\\nfive\\n' | %s produce --router %s "
		       "--topic cli.consume --key k",
		       sluice_path, r->address);
	assert_int_equal(run_last_line(cmd, last, sizeof(last)), 0);
	(void)snprintf(cmd, sizeof(cmd),
		       "%s consume --router %s --from earliest --count 5 --format json "
		       "--timeout 20 cli.consume",
		       sluice_path, r->address);
	assert_int_equal(run_output(cmd, last, sizeof(last), all, sizeof(all)), 0);
	const char *line = all;
	for (unsigned i = 0; i < 5; i++) {
		char want[128];
		const char *end = strchr(line, '\n');
		assert_non_null(end);
		/* One key is one partition: offsets 0..4 in the order produced. */
		assert_non_null(strstr(line, "\"topic\":\"cli.consume\""));
		assert_true(json_int(line, "partition") >= 0);
		assert_true(json_int(line, "offset") == i);
		assert_true(json_int(line, "timestamp_ns") > 0);
		(void)snprintf(want, sizeof(want), "\"key\":\"k\",\"value\":\"%s\"}", values[i]);
		assert_non_null(strstr(line, want));
		assert_true(strstr(line, want) < end);
		line = end + 1;
	}
	assert_true(*line == '\0'); /* exactly 5 lines */
}

/* Runs `sluice consume --from FROM --count N` on cli.from and checks it prints exactly
 * offsets first..first+n-1 (one partition); returns that partition. */
static long long consume_from(const struct router_proc *r, const char *from, unsigned first,
			      unsigned n)
{
	char cmd[512];
	char last[4096];
	char all[8192];
	long long partition = -1;

	(void)snprintf(cmd, sizeof(cmd),
		       "%s consume --router %s --from %s --count %u --format json --timeout 20 "
		       "cli.from",
		       sluice_path, r->address, from, n);
	assert_int_equal(run_output(cmd, last, sizeof(last), all, sizeof(all)), 0);
	const char *line = all;
	for (unsigned i = 0; i < n; i++) {
		const char *end = strchr(line, '\n');
		assert_non_null(end);
		assert_true(json_int(line, "offset") == first + i);
		partition = json_int(line, "partition");
		line = end + 1;
	}
	assert_true(*line == '\0');
	return partition;
}

/* `sluice consume --from OFFSET` and `--from P:OFFSET` start exactly there, even inside
 * a batch (the five lines are produced as one). */
static void test_cli_consume_from_offsets(void **state)
{
	struct router_proc *r = *state;
	char cmd[512];
	char last[4096];
	char from[64];

	(void)snprintf(cmd, sizeof(cmd),
		       "printf 'one\\ntwo\\nthree\\nfour\\nfive\\n' | %s produce --router %s "
		       "--topic cli.from --key k",
		       sluice_path, r->address);
	assert_int_equal(run_last_line(cmd, last, sizeof(last)), 0);
	long long partition = consume_from(r, "2", 2, 3);
	(void)snprintf(from, sizeof(from), "%lld:3", partition);
	assert_true(consume_from(r, from, 3, 2) == partition);
}

/* A pattern the consumer cannot send is a usage error (exit 2) naming the problem. */
static void test_cli_consume_bad_pattern(void **state)
{
	struct router_proc *r = *state;
	char cmd[512];
	char last[4096];
	char all[8192];

	(void)snprintf(cmd, sizeof(cmd), "%s consume --router %s 'orders.>.eu' 2>&1", sluice_path,
		       r->address);
	assert_int_equal(run_output(cmd, last, sizeof(last), all, sizeof(all)), 2);
	assert_non_null(strstr(all, "orders.>.eu"));
	assert_non_null(strstr(all, "'>' before the last token"));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cli_produce_count_json, setup_router,
						teardown_router),
		cmocka_unit_test_setup_teardown(test_cli_produce_stdin_lines, setup_router,
						teardown_router),
		cmocka_unit_test_setup_teardown(test_cli_produce_rate_paces, setup_router,
						teardown_router),
		cmocka_unit_test_setup_teardown(test_cli_stats_json, setup_router, teardown_router),
		cmocka_unit_test_setup_teardown(test_cli_metadata_reports_dedupe_window,
						setup_router_window, teardown_router),
		cmocka_unit_test_setup_teardown(test_cli_consume_count_json, setup_router,
						teardown_router),
		cmocka_unit_test_setup_teardown(test_cli_consume_from_offsets, setup_router,
						teardown_router),
		cmocka_unit_test_setup_teardown(test_cli_consume_bad_pattern, setup_router,
						teardown_router),
		cmocka_unit_test(test_cli_produce_no_router_reports_failure),
		cmocka_unit_test(test_cli_produce_bad_flag_is_usage_error),
	};

	if (argc != 3) {
		(void)fprintf(stderr, "usage: %s SLUICED_PATH SLUICE_PATH\n", argv[0]);
		return 2;
	}
	sluiced_path = argv[1];
	sluice_path = argv[2];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
