/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The `sluice` command: one entry per subcommand in main.c's dispatch table, each with
 * a parse function (flags into an options struct, testable without running anything)
 * and a run function that talks to the router through libsluice only (`sluice journal`
 * reads journal files instead, offline). Exit statuses:
 * 0 success, 1 the operation failed, 2 a usage error (the message names the flag).
 */
#ifndef SL_CLI_H
#define SL_CLI_H

#include <sluice/client.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAILED = 1,
	CLI_EXIT_USAGE = 2,
};

#define CLI_ROUTER_DEFAULT "127.0.0.1:7800"
#define CLI_ERR_BYTES 256

/* ---- args.c: flag values ---- */

/*
 * Parses a decimal unsigned integer in [min, max] for `flag`. Returns 0, or -EINVAL
 * with a message naming the flag in err[CLI_ERR_BYTES].
 */
int cli_parse_u64(const char *flag, const char *arg, uint64_t min, uint64_t max, uint64_t *out,
		  char *err);

/* Parses none|received|durable. Returns 0 or -EINVAL with a message in err. */
int cli_parse_acks(const char *flag, const char *arg, enum sl_ack_level *out, char *err);

/* Checks the HOST:PORT shape (resolution happens later). Returns 0 or -EINVAL. */
int cli_check_router(const char *flag, const char *arg, char *err);

/* Fills err for an unknown flag or a flag missing its value, as getopt_long reported
 * it (argv[optind - 1] is the culprit). Returns -EINVAL. */
int cli_getopt_error(int argc, char **argv, char *err);

/* The flags of the one-request commands (stats, ping, metadata). */
struct cli_request_opts {
	const char *router;
	const char *topic; /* metadata only; NULL when not given */
	uint32_t timeout_ms;
	bool json;
	bool help;
};

/*
 * Parses --router, --timeout-ms (1..3600000), --json, --help and, when with_topic,
 * --topic (a valid topic name). Returns 0 or -EINVAL with a message in err.
 */
int cli_request_parse(int argc, char **argv, uint32_t timeout_ms_default, bool with_topic,
		      struct cli_request_opts *opts, char *err);

/* sl_strerror(err), except that a timeout says the router did not answer. */
const char *cli_error_text(int err);

/* SIGINT and SIGTERM call `handler` (which should only set a flag the run loop checks);
 * a second one ends the process at once. */
void cli_stop_signals_install(void (*handler)(int));

/* Name of an ack level for output ("none", "received", "durable"). */
const char *cli_acks_name(enum sl_ack_level acks);

/* ---- json.c: writing one JSON object ---- */

/* A minimal streaming writer: nesting up to CLI_JSON_DEPTH, commas handled. */
#define CLI_JSON_DEPTH 8
struct cli_json {
	FILE *f;
	unsigned depth;
	bool first[CLI_JSON_DEPTH];
};

/* Starts writing to f (borrowed until cli_json_finish). */
void cli_json_init(struct cli_json *j, FILE *f);
/* Starts an object (key NULL at top level or inside an array). */
void cli_json_object_begin(struct cli_json *j, const char *key);
/* Ends the innermost object. */
void cli_json_object_end(struct cli_json *j);
/* Starts / ends an array (key NULL inside an array). */
void cli_json_array_begin(struct cli_json *j, const char *key);
void cli_json_array_end(struct cli_json *j);
/* A number or boolean member (key NULL inside an array). */
void cli_json_u64(struct cli_json *j, const char *key, uint64_t v);
void cli_json_double(struct cli_json *j, const char *key, double v);
void cli_json_bool(struct cli_json *j, const char *key, bool v);
/* A string, escaped; NULL writes null. */
void cli_json_string(struct cli_json *j, const char *key, const char *s);
/*
 * A byte string as a JSON string that round-trips losslessly: '"' and '\\' escaped, every
 * byte below 0x20 or from 0x7f up written as \u00XX, so each character's code point is one
 * byte (decode, then encode as Latin-1). The output is pure ASCII.
 */
void cli_json_bytes(struct cli_json *j, const char *key, const uint8_t *p, size_t len);
/* A string of len bytes that the caller checked is valid UTF-8 (cli_utf8_is_valid),
 * escaped as JSON requires (NUL included); NULL writes null. */
void cli_json_utf8(struct cli_json *j, const char *key, const uint8_t *p, size_t len);
/* Bytes as a base64 string (cli_base64_write). */
void cli_json_base64(struct cli_json *j, const char *key, const uint8_t *p, size_t len);
/* Ends the top-level object with a newline and flushes. */
void cli_json_finish(struct cli_json *j);
/* Ends the top-level object with a newline, without flushing (one object per line). */
void cli_json_end_line(struct cli_json *j);

/* ---- progress.c: a once-a-second status line on a terminal ---- */

struct cli_progress {
	bool enabled;	  /* stderr is a terminal */
	bool shown;	  /* a line is on screen: finish with a newline */
	uint64_t next_ns; /* when the next line is due */
};

/* Enabled when `fd` is a terminal; the first line after one second. */
void cli_progress_init(struct cli_progress *pr, int fd, uint64_t now_ns);

/* True when a line is due at now_ns (and schedules the next one). */
bool cli_progress_due(struct cli_progress *pr, uint64_t now_ns);

/* Prints one status line (overwriting the previous one) to stderr. */
__attribute__((format(printf, 2, 3))) void cli_progress_print(struct cli_progress *pr,
							      const char *fmt, ...);

/* Ends the status line, if one was printed. */
void cli_progress_end(struct cli_progress *pr);

/* ---- produce_args.c / produce.c ---- */

enum cli_driver {
	CLI_DRIVER_UDP,	 /* kernel UDP socket */
	CLI_DRIVER_DPDK, /* libsluice-dpdk on an ethdev port */
};

/* Most EAL arguments `--driver dpdk` passes on. */
#define CLI_EAL_ARGS_MAX 64

struct cli_produce_opts {
	const char *router;
	enum cli_driver driver;
	const char *local_ip; /* --driver dpdk: the producer's IPv4 address */
	uint16_t port_id;     /* --driver dpdk: the ethdev port */
	int eal_argc;	      /* --driver dpdk: the arguments after `--` */
	char **eal_argv;
	const char *topic;
	const char *key; /* NULL: keyless, spread over partitions */
	enum sl_ack_level acks;
	bool has_count; /* --count: generate events; otherwise stdin lines */
	uint64_t count;
	uint32_t size; /* --size: bytes per generated event */
	uint64_t rate; /* events per second; 0: as fast as possible */
	bool json;
	bool has_partition;
	uint32_t partition;
	uint32_t linger_us;
	uint32_t frame_bytes;
	uint64_t inflight_bytes;
	uint64_t send_window_bytes;
	uint32_t retries;
	uint32_t retry_timeout_us;
	uint32_t test_drop_tx_permille; /* test-only: loss injection */
	uint32_t test_drop_rx_permille;
	bool help;
};

/*
 * Parses `sluice produce` flags (argv[0] is "produce"). Returns 0, or -EINVAL with a
 * message naming the bad flag in err[CLI_ERR_BYTES]. opts->help is set by --help.
 */
int cli_produce_parse(int argc, char **argv, struct cli_produce_opts *opts, char *err);

/* Usage text of `sluice produce`. */
void cli_produce_usage(FILE *f);

/* Runs `sluice produce`. Returns an enum cli_exit. */
int cli_produce_main(int argc, char **argv);

/* ---- dpdk_port.c: --driver dpdk ---- */

/*
 * Runs rte_eal_init() on eal_argv[0..eal_argc) and starts ethdev `port` with one RX and
 * one TX queue, its MTU raised for datagrams of frame_bytes. Returns 0, or a negative
 * errno with the reason in err[CLI_ERR_BYTES] (the EAL is cleaned up again).
 */
int cli_dpdk_port_start(int eal_argc, char **eal_argv, uint16_t port, uint32_t frame_bytes,
			char *err);

/* Stops and closes the port, then cleans up the EAL. */
void cli_dpdk_port_stop(uint16_t port);

/* ---- consume_args.c / consume_format.c / consume.c ---- */

enum cli_consume_format {
	CLI_FORMAT_TEXT,
	CLI_FORMAT_JSON,
	CLI_FORMAT_HEX,
};

struct cli_consume_opts {
	const char *router;
	const char *pattern;
	const char *group; /* NULL: no group */
	uint16_t weight;
	enum sl_group_strategy strategy;
	enum sl_start start;
	uint64_t start_timestamp_ns; /* --from TIMESTAMP */
	bool offset_every_partition; /* --from OFFSET: every partition of the topic */
	uint64_t offset;	     /* its value */
	uint32_t offset_count;	     /* --from P:OFFSET,...: the list */
	struct sl_start_offset offsets[SL_WIRE_START_OFFSETS_MAX];
	bool has_count;
	uint64_t count;
	uint32_t timeout_ms; /* --timeout; 0: none */
	enum cli_consume_format format;
	uint32_t window_batches;
	uint32_t window_batches_max;
	uint64_t window_bytes;
	enum sl_slow_policy slow;
	bool json; /* summary object as the last line of stdout */
	bool help;
};

/*
 * Parses `sluice consume` flags (argv[0] is "consume"). Returns 0, or -EINVAL with a
 * message naming the bad flag or argument in err[CLI_ERR_BYTES].
 */
int cli_consume_parse(int argc, char **argv, struct cli_consume_opts *opts, char *err);

/*
 * Parses a --from value: latest, earliest, OFFSET, P:OFFSET[,P:OFFSET...], an RFC 3339
 * UTC or offset time (2026-11-23T10:00:00Z, fractions allowed) or @UNIXNS. Returns 0 or
 * -EINVAL with a message in err.
 */
int cli_consume_parse_from(const char *arg, struct cli_consume_opts *o, char *err);

/* Usage text of `sluice consume`. */
void cli_consume_usage(FILE *f);

/* True when p[0..len) is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF). */
bool cli_utf8_is_valid(const uint8_t *p, size_t len);

/* Writes p[0..len) as standard base64 (with padding) to f. */
void cli_base64_write(FILE *f, const uint8_t *p, size_t len);

/* Writes one event as a line in `format` (docs/OPERATIONS.md, "sluice consume"). */
void cli_event_write(FILE *f, enum cli_consume_format format, const struct sl_event *ev);

/* Runs `sluice consume`. Returns an enum cli_exit. */
int cli_consume_main(int argc, char **argv);

/* ---- stats.c ---- */

/* Parses `sluice stats` flags. Returns 0 or -EINVAL with a message in err. */
int cli_stats_parse(int argc, char **argv, struct cli_request_opts *opts, char *err);

/* Runs `sluice stats` (argv[0] is "stats"). Returns an enum cli_exit. */
int cli_stats_main(int argc, char **argv);

/* ---- ping.c ---- */

/* Parses `sluice ping` flags. Returns 0 or -EINVAL with a message in err. */
int cli_ping_parse(int argc, char **argv, struct cli_request_opts *opts, char *err);

/* Runs `sluice ping`. Returns an enum cli_exit. */
int cli_ping_main(int argc, char **argv);

/* ---- metadata.c ---- */

/* Parses `sluice metadata` flags. Returns 0 or -EINVAL with a message in err. */
int cli_metadata_parse(int argc, char **argv, struct cli_request_opts *opts, char *err);

/* Runs `sluice metadata`. Returns an enum cli_exit. */
int cli_metadata_main(int argc, char **argv);

/* ---- journal.c: offline journal inspection ---- */

enum cli_journal_cmd {
	CLI_JOURNAL_VERIFY,
	CLI_JOURNAL_DUMP,
	CLI_JOURNAL_STATS,
	CLI_JOURNAL_INDEX,
};

struct cli_journal_opts {
	enum cli_journal_cmd cmd;
	const char *dir;   /* a --data-dir (shard-NNN inside) or one shard's directory */
	const char *topic; /* dump: only this topic; NULL: every topic */
	bool has_partition;
	uint32_t partition; /* dump: only this partition */
	bool has_from;
	uint64_t from; /* dump: events at or after this offset, in every partition */
	bool json;     /* dump --format json, stats --json */
	bool help;
};

/*
 * Parses `sluice journal verify|dump|stats|index DIR [flags]` (argv[0] is "journal"). Returns
 * 0, or -EINVAL with a message naming the bad flag or argument in err[CLI_ERR_BYTES].
 * opts->help is set by --help (then cmd and dir may be missing).
 */
int cli_journal_parse(int argc, char **argv, struct cli_journal_opts *opts, char *err);

/* Runs `sluice journal`: verify, dump and stats read the journal files only (O_RDONLY),
 * so they work while the router runs; index writes segment indexes (router down).
 * Returns an enum cli_exit. */
int cli_journal_main(int argc, char **argv);

#endif
