/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control plane on the main lcore: turns SIGINT/SIGTERM into stopping journal
 * maintenance, then the shards, and, when asked, logs a one-line summary of the shards'
 * counters at a fixed interval. It never touches a shard's private state; it only reads
 * the shared counters.
 */
#include "daemon/daemon.h"

#include "core/clock.h"
#include "core/log.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

/* The control loop's sleep step: bounds how late a stop is noticed. */
#define CONTROL_STEP_NS 100000000ull

/* Set by the signal handler, read by the control loop; the shards are stopped there,
 * once journal maintenance no longer reads their journals. */
static volatile sig_atomic_t control_stop;

static void control_on_signal(int sig)
{
	(void)sig;
	control_stop = 1;
}

int daemon_signals_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = control_on_signal;
	(void)sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0) {
		return -errno;
	}
	return 0;
}

static uint64_t control_sum(const struct shard_env *env, enum sl_stat stat)
{
	uint64_t sum = 0;

	for (uint16_t i = 0; i < env->conf->shards; i++) {
		sum += shard_counters_get(&env->counters[i], stat);
	}
	return sum;
}

/* The driver's counters summed over the queues, then logged if it keeps any. */
static void control_net_log(const struct shard_env *env)
{
	uint64_t sum[NETDEV_STAT_COUNT] = {0};
	uint64_t v[NETDEV_STAT_COUNT];
	uint64_t drops = 0;

	if (env->netdev->ops->counters == NULL) {
		return;
	}
	for (uint16_t q = 0; q < env->conf->shards; q++) {
		netdev_counters(env->netdev, q, v);
		for (unsigned i = 0; i < NETDEV_STAT_COUNT; i++) {
			sum[i] += v[i];
		}
	}
	for (unsigned i = NETDEV_STAT_TX_DROP_FULL; i <= NETDEV_STAT_UDP_BAD_LENGTH; i++) {
		drops += i == NETDEV_STAT_RX_VLAN ? 0 : sum[i];
	}
	sl_log(SL_LOG_INFO, "stats",
	       "net rx %llu / tx %llu frames, %llu dropped (%llu not for us), arp %llu answered "
	       "/ %llu learned, %llu pings answered, port missed %llu, no mbuf %llu",
	       (unsigned long long)sum[NETDEV_STAT_RX_FRAMES],
	       (unsigned long long)sum[NETDEV_STAT_TX_FRAMES], (unsigned long long)drops,
	       (unsigned long long)sum[NETDEV_STAT_NOT_FOR_US],
	       (unsigned long long)sum[NETDEV_STAT_ARP_REQUESTS_ANSWERED],
	       (unsigned long long)sum[NETDEV_STAT_ARP_REPLIES_LEARNED],
	       (unsigned long long)sum[NETDEV_STAT_ICMP_ECHO_ANSWERED],
	       (unsigned long long)sum[NETDEV_STAT_PORT_IMISSED],
	       (unsigned long long)sum[NETDEV_STAT_PORT_RX_NOMBUF]);
}

void daemon_stats_log(const struct shard_env *env)
{
	uint64_t drops = control_sum(env, SL_STAT_TX_DROP_FULL);

	for (unsigned s = SL_STAT_DROP_MESH_FULL; s <= SL_STAT_DROP_UNEXPECTED; s++) {
		drops += control_sum(env, (enum sl_stat)s);
	}
	sl_log(SL_LOG_INFO, "stats",
	       "rx %llu datagrams, %llu produce frames, appended %llu batches / %llu events, "
	       "%llu duplicates, %llu acks, %llu nacks, %llu drops, mesh %llu out / %llu in",
	       (unsigned long long)control_sum(env, SL_STAT_RX_DATAGRAMS),
	       (unsigned long long)control_sum(env, SL_STAT_PRODUCE_FRAMES),
	       (unsigned long long)control_sum(env, SL_STAT_APPENDED_BATCHES),
	       (unsigned long long)control_sum(env, SL_STAT_APPENDED_EVENTS),
	       (unsigned long long)control_sum(env, SL_STAT_DUPLICATES),
	       (unsigned long long)control_sum(env, SL_STAT_ACKS),
	       (unsigned long long)control_sum(env, SL_STAT_NACKS), (unsigned long long)drops,
	       (unsigned long long)control_sum(env, SL_STAT_MESH_OUT),
	       (unsigned long long)control_sum(env, SL_STAT_MESH_IN));
	control_net_log(env);
}

/* Logs the first dead letter lost (once per run: the counter tells the rest). Shards
 * only count; this is where an operator hears of it. */
static void control_dead_letters_watch(const struct shard_env *env, bool *logged)
{
	if (*logged) {
		return;
	}
	uint64_t lost = control_sum(env, SL_STAT_DEAD_LETTERS_LOST);
	if (lost == 0) {
		return;
	}
	*logged = true;
	sl_log(SL_LOG_WARNING, "dead-letter",
	       "a batch given up after --max-redeliveries could not be written to its "
	       "dead-letter topic and is lost (dead_letters_lost %llu; see the drop_* counters "
	       "for why: storage, journal busy, unknown topic, mesh full); logged once",
	       (unsigned long long)lost);
}

void daemon_control_run(struct shard_env *env, uint32_t stats_interval_s,
			struct journal_maint *maint)
{
	bool dead_letters_logged = false;
	uint64_t interval_ns = (uint64_t)stats_interval_s * 1000000000ull;
	uint64_t next_ns = clock_monotonic_ns() + interval_ns;
	struct timespec step = {.tv_sec = 0, .tv_nsec = (long)CONTROL_STEP_NS};

	while (!control_stop && !__atomic_load_n(&env->stop, __ATOMIC_ACQUIRE)) {
		(void)nanosleep(&step, NULL); /* EINTR: a signal, checked right away */
		netdev_refresh(env->netdev);  /* port statistics, off the shards' lcores */
		control_dead_letters_watch(env, &dead_letters_logged);
		if (interval_ns > 0 && clock_monotonic_ns() >= next_ns) {
			daemon_stats_log(env);
			next_ns += interval_ns;
		}
	}
	/* A stopping shard closes its journal: maintenance must be done with it first. */
	journal_maint_stop(maint);
	shard_env_stop(env);
}
