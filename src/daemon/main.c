/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sluiced: parses its flags, brings up the EAL (with its own defaults when given no EAL
 * arguments), builds every shard's memory on the shard's NUMA node, launches one shard
 * per worker lcore and runs the control plane (with the journal maintenance thread on the
 * main lcore's CPUs) until SIGINT/SIGTERM. Before anything else it takes the lock of its
 * --data-dir (journal/lock.h), held for its whole life: one router per data directory.
 * Start-up errors are logged once and exit 1; flag errors exit 2.
 */
#include "daemon/daemon.h"

#include "core/assert.h"
#include "core/log.h"
#include "drivers/dpdk/netdev_dpdk.h"
#include "drivers/udp/netdev_udp.h"
#include "journal/lock.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAEMON_EXIT_FLAGS 2

/* Everything sluiced builds between EAL init and cleanup. */
struct daemon {
	const struct daemon_flags *flags;
	uint16_t shards;
	struct daemon_place places[SHARD_SHARDS_MAX];
	struct route_table *routes;
	struct rte_mempool *pools[SHARD_SHARDS_MAX];
	struct netdev *netdev;
	struct mesh *mesh;
	struct shard_conf conf;
	struct shard_env env;
	struct shard *shard[SHARD_SHARDS_MAX];
	char journal_dir[SHARD_SHARDS_MAX][DAEMON_DATA_DIR_BYTES];
	struct journal_maint *maint; /* NULL without a journal */
};

static const char *daemon_eal_log_level(enum sl_log_level level)
{
	switch (level) {
	case SL_LOG_ERR:
		return "error";
	case SL_LOG_DEBUG:
		return "info";
	default:
		return "warning"; /* the EAL's notices are noise to an operator */
	}
}

static int daemon_eal_init(int argc, char **argv, int eal_argc, const struct daemon_flags *f)
{
	struct daemon_eal_args args;
	int cpus[CPU_SETSIZE];
	int rc;

	if (eal_argc > 1) {
		rc = rte_eal_init(eal_argc, argv);
	} else {
		unsigned ncpus = daemon_cpus_allowed(cpus, CPU_SETSIZE);
		rc = daemon_eal_args_default(argc > 0 ? argv[0] : "sluiced", f->shards,
					     f->memory_mb, cpus, ncpus,
					     daemon_eal_log_level(f->log_level), &args);
		if (rc != 0) {
			sl_log(SL_LOG_ERR, "sluiced", "cannot build EAL arguments: %s",
			       strerror(-rc));
			return rc;
		}
		rc = rte_eal_init(args.argc, args.argv);
	}
	if (rc < 0) {
		sl_log(SL_LOG_ERR, "sluiced", "EAL initialisation failed: %s",
		       rte_strerror(rte_errno));
		return -rte_errno;
	}
	return 0;
}

static int daemon_routes_create(struct daemon *d)
{
	const struct daemon_flags *f = d->flags;
	struct route_conf rc = {
		.partitions_default = f->partitions,
		.auto_create = f->auto_create,
		.topic_count = f->topic_count,
		.topics = f->topics,
	};
	int err = route_table_create(&rc, &d->routes);

	if (err != 0) {
		sl_log(SL_LOG_ERR, "sluiced", "cannot build the topic table: %s", strerror(-err));
	}
	return err;
}

static int daemon_pools_create(struct daemon *d)
{
	for (uint16_t i = 0; i < d->shards; i++) {
		char name[RTE_MEMPOOL_NAMESIZE];
		(void)snprintf(name, sizeof(name), "shard%u", i);
		uint32_t frame = d->flags->frame_bytes_max;
		if (d->flags->driver == DAEMON_DRIVER_DPDK) {
			frame = netdev_dpdk_pool_frame_bytes(frame);
		}
		int rc = netdev_pool_create(name, d->flags->mbufs, frame, d->places[i].socket,
					    &d->pools[i]);
		if (rc != 0) {
			sl_log(SL_LOG_ERR, "sluiced",
			       "cannot create %u mbufs for shard %u on numa node %d: %s (lower "
			       "--mbufs or raise --memory-mb)",
			       d->flags->mbufs, i, d->places[i].socket, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/* The DPDK driver logs its own failures, port and queues included. */
static int daemon_netdev_open_dpdk(struct daemon *d)
{
	const struct daemon_flags *f = d->flags;
	struct netdev_dpdk_conf conf = {
		.port_id = f->dpdk_port,
		.ip4 = f->listen_ip4,
		.port = f->listen_port,
		.queues = d->shards,
		.burst_max = f->burst,
		.frame_bytes_max = f->frame_bytes_max,
		.mtu = f->mtu,
		.arp_entries = f->arp_entries,
		.arp_timeout_s = f->arp_timeout_s,
		.pools = d->pools,
	};
	int rc = netdev_dpdk_open(&conf, &d->netdev);

	if (rc != 0) {
		sl_log(SL_LOG_ERR, "sluiced", "cannot serve %s on dpdk port %u: %s", f->listen,
		       f->dpdk_port, strerror(-rc));
	}
	return rc;
}

static int daemon_netdev_open(struct daemon *d)
{
	const struct daemon_flags *f = d->flags;
	if (f->driver == DAEMON_DRIVER_DPDK) {
		return daemon_netdev_open_dpdk(d);
	}
	struct netdev_udp_conf conf = {
		.ip4 = f->listen_ip4,
		.port = f->listen_port,
		.queues = d->shards,
		.burst_max = f->burst,
		.frame_bytes_max = f->frame_bytes_max,
		.socket_buffer_bytes = f->socket_buffer_bytes,
		.pools = d->pools,
	};
	int rc = netdev_udp_open(&conf, &d->netdev);

	if (rc != 0) {
		sl_log(SL_LOG_ERR, "sluiced", "cannot listen on %s: %s%s", f->listen, strerror(-rc),
		       rc == -EADDRINUSE ? " (is another sluiced running?)" : "");
	}
	return rc;
}

static int daemon_shards_create(struct daemon *d)
{
	const struct daemon_flags *f = d->flags;
	int sockets[SHARD_SHARDS_MAX];
	int rc;

	for (uint16_t i = 0; i < d->shards; i++) {
		sockets[i] = d->places[i].socket;
	}
	if (d->shards > 1) {
		rc = mesh_create(d->shards, f->ring_slots, sockets, &d->mesh);
		if (rc != 0) {
			sl_log(SL_LOG_ERR, "sluiced", "cannot create the ring mesh: %s",
			       strerror(-rc));
			return rc;
		}
	}
	d->conf = (struct shard_conf){
		.shards = d->shards,
		.burst = f->burst,
		.frame_bytes_max = f->frame_bytes_max,
		.partitions_max = f->partitions_max,
		.producers_max = f->producers_max,
		.dedupe_window = f->dedupe_window,
		.producer_idle_s = f->producer_idle_s,
		.idle_sleep_us = f->idle_sleep_us,
		.durable_acks_max = f->durable_acks_max,
		.subscriptions_max = f->subscriptions_max,
		.consumer_timeout_ms = f->consumer_timeout_ms,
		.replay_cursors = f->replay_cursors,
		.replay_buffer_bytes = f->replay_buffer_bytes,
		.ack_timeout_ms = f->ack_timeout_ms,
		.redeliveries_max = (uint16_t)f->max_redeliveries,
		.match_cache_topics = f->match_cache_topics,
	};
	rc = shard_env_init(&d->env, &d->conf, d->routes, d->netdev, d->mesh);
	if (rc != 0) {
		sl_log(SL_LOG_ERR, "sluiced", "cannot set up shards: %s", strerror(-rc));
		return rc;
	}
	for (uint16_t i = 0; i < d->shards; i++) {
		rc = shard_create(&d->env, i, d->places[i].lcore, d->places[i].socket, d->pools[i],
				  &d->shard[i]);
		if (rc != 0) {
			sl_log(SL_LOG_ERR, "sluiced",
			       "cannot create shard %u (%u partitions, %u producers, dedupe window "
			       "%u): %s (lower --partitions-max/--producers-max/--dedupe-window or "
			       "raise --memory-mb)",
			       i, f->partitions_max, f->producers_max, f->dedupe_window,
			       strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/* Opens (recovering) the journal of every shard, in its shard-NNN directory. */
static int daemon_journals_open(struct daemon *d)
{
	const struct daemon_flags *f = d->flags;

	if (!f->journal) {
		sl_log(SL_LOG_WARNING, "sluiced",
		       "--no-journal: nothing is kept on disk and durable produce is refused");
		return 0;
	}
	for (uint16_t i = 0; i < d->shards; i++) {
		int n = snprintf(d->journal_dir[i], sizeof(d->journal_dir[i]),
				 "%s/" JOURNAL_SHARD_DIR_FORMAT, f->data_dir, i);
		/* --data-dir leaves room for the suffix: checked by the flag parser. */
		SL_ASSERT(n > 0 && (size_t)n < sizeof(d->journal_dir[i]));
		struct journal_conf jc = {
			.dir = d->journal_dir[i],
			.shard = i,
			.socket = d->places[i].socket,
			.segment_bytes = f->segment_bytes,
			.flush_bytes = f->flush_bytes,
			.flush_us = f->flush_us,
			.fsync = f->fsync,
			.fsync_us = f->fsync_us,
			.buffers = f->journal_buffers,
			.direct_io = f->direct_io,
			.zero_fill = f->zero_fill,
			.segment_spares = f->segment_spares,
			.io = f->journal_io,
			.counters = &d->env.counters[i].v[SL_STAT_JOURNAL_BATCHES],
			.counters_more = &d->env.counters[i].v[SL_STAT_JOURNAL_SEGMENTS_RECYCLED],
		};
		int rc = shard_journal_open(d->shard[i], &jc);
		if (rc != 0) {
			sl_log(SL_LOG_ERR, "sluiced",
			       "cannot open the journal of shard %u in %s: %s", i,
			       d->journal_dir[i], strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/* Creates the maintenance (indexes, retention) of every shard's journal; started once
 * the shards run, stopped before they close their journals. */
static int daemon_maint_create(struct daemon *d)
{
	const struct daemon_flags *f = d->flags;
	struct journal *journals[SHARD_SHARDS_MAX];
	rte_cpuset_t cpus = rte_lcore_cpuset(rte_get_main_lcore());
	struct journal_maint_conf conf = {
		.rules = &f->retention,
		.period_ms = f->maint_period_ms,
		.dedupe_window = f->dedupe_window,
		.producer_idle_ns = (uint64_t)f->producer_idle_s * 1000000000ull,
		.cpus = &cpus,
	};

	if (!f->journal) {
		return 0;
	}
	for (uint16_t i = 0; i < d->shards; i++) {
		journals[i] = shard_journal(d->shard[i]);
	}
	int rc = journal_maint_create(&conf, journals, d->shards, &d->maint);
	if (rc != 0) {
		sl_log(SL_LOG_ERR, "sluiced", "cannot set up journal maintenance: %s",
		       strerror(-rc));
	}
	return rc;
}

/* The NUMA lines of the start-up map: each shard's memory, then the DPDK port. */
static void daemon_numa_check(struct daemon *d)
{
	for (uint16_t i = 0; i < d->shards; i++) {
		const void *journal_buffer =
			d->flags->journal ? journal_write_buffer(shard_journal(d->shard[i])) : NULL;
		unsigned remote = daemon_numa_check_shard(i, d->places[i].socket, d->pools[i],
							  d->shard[i], d->mesh, journal_buffer);
		/* Before the shard runs: its launch orders this store before its own. */
		__atomic_store_n(&d->env.counters[i].v[SL_STAT_NUMA_REMOTE], remote,
				 __ATOMIC_RELAXED);
	}
	if (d->flags->driver == DAEMON_DRIVER_DPDK) {
		(void)daemon_numa_check_port(d->flags->dpdk_port, d->places, d->shards);
	}
}

static void daemon_destroy(struct daemon *d)
{
	journal_maint_destroy(d->maint);
	for (uint16_t i = 0; i < d->shards; i++) {
		int rc = shard_destroy(d->shard[i]);
		if (rc != 0) {
			sl_log(SL_LOG_ERR, "sluiced",
			       "shard %u: its journal had a storage error: what was not acked "
			       "durable may be missing (%s)",
			       i, strerror(-rc));
		}
	}
	if (d->env.counters != NULL) {
		shard_env_fini(&d->env);
	}
	mesh_destroy(d->mesh);
	netdev_close(d->netdev);
	for (uint16_t i = 0; i < d->shards; i++) {
		rte_mempool_free(d->pools[i]);
	}
	route_table_destroy(d->routes);
}

static int daemon_run(struct daemon *d)
{
	int rc;

	d->shards = daemon_lcore_map(d->places, SHARD_SHARDS_MAX);
	if (d->shards == 0) {
		sl_log(SL_LOG_ERR, "sluiced",
		       "the EAL arguments give no worker lcore: sluiced runs one shard per "
		       "worker lcore (e.g. -l 0-1 for one shard)");
		return -EINVAL;
	}
	rc = daemon_routes_create(d);
	if (rc == 0) {
		rc = daemon_pools_create(d);
	}
	if (rc == 0) {
		rc = daemon_netdev_open(d);
	}
	if (rc == 0) {
		rc = daemon_shards_create(d);
	}
	if (rc == 0) {
		rc = daemon_journals_open(d);
	}
	if (rc == 0) {
		rc = daemon_maint_create(d);
	}
	if (rc == 0) {
		rc = daemon_signals_install();
	}
	if (rc != 0) {
		goto out_destroy;
	}
	daemon_lcore_map_log(d->places, d->shards, d->routes, d->flags, d->netdev->driver);
	daemon_numa_check(d);
	for (uint16_t i = 0; i < d->shards; i++) {
		rc = rte_eal_remote_launch(shard_run, d->shard[i], d->places[i].lcore);
		if (rc != 0) {
			sl_log(SL_LOG_ERR, "sluiced", "cannot launch shard %u on lcore %u: %s", i,
			       d->places[i].lcore, strerror(-rc));
			shard_env_stop(&d->env);
			break;
		}
	}
	if (rc == 0 && d->maint != NULL) {
		rc = journal_maint_start(d->maint);
		if (rc != 0) {
			shard_env_stop(&d->env);
		}
	}
	if (rc == 0) {
		sl_log(SL_LOG_INFO, "sluiced", "ready: %u shards", d->shards);
		daemon_control_run(&d->env, d->flags->stats_interval_s, d->maint);
		sl_log(SL_LOG_INFO, "sluiced", "stopping: shards finish their burst");
	}
	rte_eal_mp_wait_lcore();
	daemon_stats_log(&d->env);

out_destroy:
	daemon_destroy(d);
	return rc;
}

/*
 * Takes the lock of --data-dir before any shard journal is touched (none without a
 * journal: nothing is read or written there). *lock_fd receives the lock's fd, kept open
 * until exit (the kernel releases it however the process ends), or -1. Returns 0 or a
 * negative errno, logged.
 */
static int daemon_data_dir_lock(const struct daemon_flags *f, int *lock_fd)
{
	pid_t holder;
	int fd;

	*lock_fd = -1;
	if (!f->journal) {
		return 0;
	}
	fd = journal_lock_open(f->data_dir, &holder);
	if (fd == -EWOULDBLOCK && holder != 0) {
		sl_log(SL_LOG_ERR, "sluiced",
		       "another sluiced holds %s/" JOURNAL_LOCK_NAME
		       " (pid %ld): one router per --data-dir; stop it or choose another "
		       "directory",
		       f->data_dir, (long)holder);
	} else if (fd == -EWOULDBLOCK) {
		sl_log(SL_LOG_ERR, "sluiced",
		       "another sluiced holds %s/" JOURNAL_LOCK_NAME
		       " (pid not written yet): one router per --data-dir; stop it or choose "
		       "another directory",
		       f->data_dir);
	} else if (fd < 0) {
		sl_log(SL_LOG_ERR, "sluiced",
		       "cannot lock the data directory: %s/" JOURNAL_LOCK_NAME ": %s", f->data_dir,
		       strerror(-fd));
	}
	if (fd < 0) {
		return fd;
	}
	*lock_fd = fd;
	return 0;
}

int main(int argc, char **argv)
{
	static struct daemon_flags flags;
	static struct daemon d;
	char err[512];
	int eal_argc;
	int flags_at;

	daemon_args_split(argc, argv, &eal_argc, &flags_at);
	int rc = daemon_flags_parse(argc - flags_at, argv + flags_at, eal_argc > 1, &flags, err,
				    sizeof(err));
	if (rc < 0) {
		(void)fprintf(stderr, "sluiced: %s\n", err);
		return DAEMON_EXIT_FLAGS;
	}
	if (rc == DAEMON_FLAGS_HELP) {
		daemon_flags_help(stdout, "sluiced");
		return 0;
	}
	if (rc == DAEMON_FLAGS_VERSION) {
		(void)printf("sluiced %s (wire protocol %u)\n", SL_VERSION, SL_WIRE_VERSION);
		return 0;
	}
	sl_log_set_level(flags.log_level);
	int lock_fd;
	if (daemon_data_dir_lock(&flags, &lock_fd) != 0) {
		return 1;
	}
	if (daemon_eal_init(argc, argv, eal_argc, &flags) != 0) {
		journal_lock_close(lock_fd);
		return 1;
	}
	d.flags = &flags;
	rc = daemon_run(&d);
	(void)rte_eal_cleanup();
	journal_lock_close(lock_fd);
	return rc == 0 ? 0 : 1;
}
