/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sluiced's own flags (those after `--`, or all of them when no EAL arguments are
 * given): their defaults, their bounds and a pure parser from argv to a config struct,
 * so that every error path can be unit tested. Nothing here prints or exits; main.c
 * turns a parse error into one line on stderr and exit status 2.
 */
#ifndef SL_DAEMON_FLAGS_H
#define SL_DAEMON_FLAGS_H

#include "core/log.h"
#include "journal/journal.h"
#include "journal/maint.h"
#include "journal/retention.h"
#include "route/match.h"
#include "route/route.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum daemon_driver {
	DAEMON_DRIVER_UDP,
	DAEMON_DRIVER_DPDK,
};

/* Defaults, shown by --help. */
#define DAEMON_LISTEN_DEFAULT "127.0.0.1:7800"
#define DAEMON_SHARDS_DEFAULT 1u
#define DAEMON_MEMORY_MB_DEFAULT 256u
#define DAEMON_BURST_DEFAULT 32u
#define DAEMON_RING_SLOTS_DEFAULT 1024u
#define DAEMON_MBUFS_DEFAULT 8191u
#define DAEMON_PARTITIONS_DEFAULT 8u
#define DAEMON_PARTITIONS_MAX_DEFAULT 16384u
/* 16384 streams x (32 B of state + 8 B per remembered batch): 4.5 MiB per shard with
 * the default window; 1024 batches take 128 MiB. */
#define DAEMON_PRODUCERS_MAX_DEFAULT 16384u
#define DAEMON_DEDUPE_WINDOW_DEFAULT 32u
#define DAEMON_PRODUCER_IDLE_S_DEFAULT 600u
#define DAEMON_SOCKET_BUFFER_BYTES_DEFAULT (4u << 20)
#define DAEMON_IDLE_SLEEP_US_DEFAULT 1000u
#define DAEMON_STATS_INTERVAL_S_DEFAULT 0u
#define DAEMON_DATA_DIR_DEFAULT "./sluice-data"
#define DAEMON_SEGMENT_BYTES_DEFAULT (64ull << 20)
#define DAEMON_FLUSH_BYTES_DEFAULT (256u << 10)
#define DAEMON_FLUSH_US_DEFAULT 100u
#define DAEMON_FSYNC_US_DEFAULT 1000u
#define DAEMON_JOURNAL_BUFFERS_DEFAULT 8u
#define DAEMON_SEGMENT_SPARES_DEFAULT 2u
#define DAEMON_DURABLE_ACKS_MAX_DEFAULT 8192u
#define DAEMON_RETAIN_BYTES_DEFAULT 0ull /* unlimited */
#define DAEMON_RETAIN_AGE_S_DEFAULT (7ull * 86400ull)
#define DAEMON_MAINT_PERIOD_MS_DEFAULT 1000u
/* Subscriptions (issue 5). */
#define DAEMON_SUBSCRIPTIONS_MAX_DEFAULT 4096u
#define DAEMON_CONSUMER_TIMEOUT_MS_DEFAULT 10000u
#define DAEMON_REPLAY_CURSORS_DEFAULT 16u
/* Each cursor reads half of this at a time, two reads in flight: a replay must outrun
 * live appends, which it cannot with a few small reads per loop. */
#define DAEMON_REPLAY_BUFFER_BYTES_DEFAULT (1u << 20)
#define DAEMON_ACK_TIMEOUT_MS_DEFAULT 5000u
#define DAEMON_MAX_REDELIVERIES_DEFAULT 5u
#define DAEMON_MATCH_CACHE_TOPICS_DEFAULT MATCH_CACHE_ENTRIES_DEFAULT

/* Bounds not owned by another module. */
#define DAEMON_MEMORY_MB_MIN 64u
#define DAEMON_MEMORY_MB_MAX (1u << 20)
#define DAEMON_MBUFS_MIN 256u
#define DAEMON_MBUFS_MAX (1u << 24)
#define DAEMON_PRODUCER_IDLE_S_MAX 604800u
#define DAEMON_SOCKET_BUFFER_BYTES_MIN (64u << 10)
#define DAEMON_SOCKET_BUFFER_BYTES_MAX (1u << 30)
#define DAEMON_STATS_INTERVAL_S_MAX 86400u
#define DAEMON_DATA_DIR_BYTES 4000u
#define DAEMON_RETAIN_BYTES_MAX (1ull << 60)
#define DAEMON_RETAIN_AGE_S_MAX (36500ull * 86400ull)

struct daemon_flags {
	enum daemon_driver driver;
	char listen[32];      /* as given, for logs */
	uint32_t listen_ip4;  /* network byte order */
	uint16_t listen_port; /* network byte order */
	uint16_t shards;
	bool shards_set; /* --shards given */
	uint32_t memory_mb;
	bool memory_set; /* --memory-mb given */
	uint16_t burst;
	uint32_t ring_slots;
	uint32_t mbufs; /* per shard pool */
	uint32_t frame_bytes_max;
	uint32_t partitions; /* of topics not given by --topic */
	bool auto_create;
	uint32_t partitions_max;
	uint32_t producers_max;
	uint32_t dedupe_window;
	uint32_t producer_idle_s;
	uint32_t socket_buffer_bytes;
	uint32_t idle_sleep_us;
	uint32_t stats_interval_s;
	uint16_t dpdk_port;	  /* --port: ethdev port id (dpdk driver) */
	uint32_t mtu;		  /* --mtu (dpdk driver) */
	bool mtu_set;		  /* --mtu given */
	bool frame_bytes_max_set; /* --frame-bytes-max given */
	uint32_t arp_entries;	  /* --arp-entries, per queue */
	uint32_t arp_timeout_s;	  /* --arp-timeout-s */
	enum sl_log_level log_level;
	/* The journal. */
	char data_dir[DAEMON_DATA_DIR_BYTES]; /* one shard-NNN directory per shard inside */
	bool journal;			      /* false: --no-journal */
	uint64_t segment_bytes;
	uint32_t flush_bytes;
	uint32_t flush_us;
	enum journal_fsync fsync;
	uint32_t fsync_us;
	uint32_t journal_buffers;
	bool direct_io;
	bool zero_fill;
	uint32_t segment_spares; /* --segment-spares: recycled segments kept, 0: none */
	enum journal_io_kind journal_io;
	uint32_t durable_acks_max;
	/* Retention per shard journal: defaults and per-topic overrides. */
	struct journal_retention_rules retention;
	uint32_t maint_period_ms;
	uint32_t subscriptions_max;
	uint32_t consumer_timeout_ms;
	uint32_t replay_cursors;
	uint32_t replay_buffer_bytes;
	uint32_t ack_timeout_ms;
	uint32_t max_redeliveries;
	uint32_t match_cache_topics;
	uint32_t topic_count;
	struct route_topic topics[ROUTE_TOPICS_MAX];
};

enum daemon_flags_action {
	DAEMON_FLAGS_RUN = 0,
	DAEMON_FLAGS_HELP = 1,	  /* --help: print daemon_flags_help(), exit 0 */
	DAEMON_FLAGS_VERSION = 2, /* --version: print the version, exit 0 */
};

/* Fills f with every default. */
void daemon_flags_init(struct daemon_flags *f);

/*
 * Parses argv[1..argc) (argv[0] is the program name) into f, starting from the
 * defaults. `have_eal_args` says EAL arguments came before `--`: then --shards and
 * --memory-mb are refused (the EAL arguments choose lcores and memory). Returns an enum
 * daemon_flags_action, or -EINVAL with a one-line message naming the flag and what it
 * accepts in err[0..err_len). Not reentrant (getopt_long); may permute argv.
 */
int daemon_flags_parse(int argc, char **argv, bool have_eal_args, struct daemon_flags *f, char *err,
		       size_t err_len);

/* Writes the --help text: usage, every flag with its default. */
void daemon_flags_help(FILE *out, const char *prog);

#endif
