/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * End to end on kernel UDP: a real sluiced process, producers built on libsluice.
 * Asserts what a user relies on: every event acknowledged exactly once, offsets per
 * partition contiguous with no gap and no duplicate (also when 10% of datagrams are lost
 * each way), garbage counted and survived, SIGTERM answered with exit 0.
 * Usage: test_produce SLUICED_PATH
 */
#include "router_proc.h"

#include "src/client/producer_test.h"

#include <sluice/client.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#define TOPIC "e2e.orders"
#define PARTITIONS 8
#define DELIVERIES_MAX (2u * 1000u * 1000u)

static const char *sluiced_path;

/* One batch outcome, as the delivery callback saw it. */
struct outcome {
	uint32_t partition;
	uint32_t count;
	uint64_t base_offset;
	int error;
};

struct producer_run {
	const char *router;
	uint64_t events;
	unsigned drop_tx_permille;
	unsigned drop_rx_permille;
	uint64_t seed;
	struct outcome *outcomes;
	size_t outcome_count;
	size_t outcome_cap;
	int result; /* 0 or the first error */
	struct sl_producer_stats stats;
};

static void record_delivery(void *ctx, const struct sl_delivery *d)
{
	struct producer_run *run = ctx;

	if (run->outcome_count == run->outcome_cap) {
		run->result = -ENOSPC;
		return;
	}
	run->outcomes[run->outcome_count++] = (struct outcome){
		.partition = d->partition,
		.count = d->count,
		.base_offset = d->base_offset,
		.error = d->error,
	};
}

static void *producer_main(void *arg)
{
	struct producer_run *run = arg;
	struct sl_producer_config cfg;
	struct sl_producer *p = NULL;
	char value[64];

	sl_producer_config_init(&cfg);
	cfg.router = run->router;
	cfg.on_delivery = record_delivery;
	cfg.ctx = run;
	run->result = sl_producer_create(&cfg, &p);
	if (run->result != 0) {
		return NULL;
	}
	if (run->drop_tx_permille > 0 || run->drop_rx_permille > 0) {
		producer_test_set_loss(p, run->drop_tx_permille, run->drop_rx_permille, run->seed);
	}
	memset(value, 'x', sizeof(value));
	for (uint64_t i = 0; i < run->events;) {
		int rc = sl_produce(p, TOPIC, NULL, 0, value, sizeof(value));
		if (rc == 0) {
			i++;
		} else if (rc == -EAGAIN) {
			rc = sl_producer_poll(p, 1000);
			if (rc < 0) {
				run->result = rc;
				break;
			}
		} else {
			run->result = rc;
			break;
		}
	}
	if (run->result == 0) {
		run->result = sl_flush(p, 60000);
	}
	sl_producer_stats_get(p, &run->stats);
	sl_producer_destroy(p);
	return NULL;
}

static int compare_outcomes(const void *a, const void *b)
{
	const struct outcome *x = a;
	const struct outcome *y = b;

	if (x->partition != y->partition) {
		return x->partition < y->partition ? -1 : 1;
	}
	if (x->base_offset != y->base_offset) {
		return x->base_offset < y->base_offset ? -1 : 1;
	}
	return 0;
}

/* On stdout, so that a failure below shows how the run went (CI keeps stdout). */
static void print_producer_stats(unsigned i, const struct producer_run *run)
{
	const struct sl_producer_stats *st = &run->stats;

	print_message("producer %u: result %d, acked %llu, failed %llu, batches %llu, "
		      "retransmits %llu, duplicates %llu, nacks %llu, sent %llu, received %llu\n",
		      i, run->result, (unsigned long long)st->events_acked,
		      (unsigned long long)st->events_failed, (unsigned long long)st->batches_sent,
		      (unsigned long long)st->retransmits, (unsigned long long)st->duplicates,
		      (unsigned long long)st->nacks, (unsigned long long)st->datagrams_sent,
		      (unsigned long long)st->datagrams_received);
}

/*
 * Runs `producers` producers of `events` each against `router`, then checks that every
 * batch succeeded and that, per partition, the acknowledged ranges tile [0, n) exactly.
 */
static void produce_and_check(const char *router, unsigned producers, uint64_t events,
			      unsigned drop_permille)
{
	struct producer_run runs[4];
	pthread_t threads[4];
	uint64_t next_offset[PARTITIONS] = {0};
	uint64_t acked = 0;
	size_t total = 0;

	assert_true(producers <= 4);
	for (unsigned i = 0; i < producers; i++) {
		runs[i] = (struct producer_run){
			.router = router,
			.events = events,
			.drop_tx_permille = drop_permille,
			.drop_rx_permille = drop_permille,
			.seed = 1000 + i,
			.outcome_cap = DELIVERIES_MAX / producers,
		};
		runs[i].outcomes = calloc(runs[i].outcome_cap, sizeof(struct outcome));
		assert_non_null(runs[i].outcomes);
		assert_int_equal(pthread_create(&threads[i], NULL, producer_main, &runs[i]), 0);
	}
	for (unsigned i = 0; i < producers; i++) {
		assert_int_equal(pthread_join(threads[i], NULL), 0);
		print_producer_stats(i, &runs[i]);
		assert_int_equal(runs[i].result, 0);
		assert_int_equal(runs[i].stats.events_failed, 0);
		assert_int_equal(runs[i].stats.events_acked, events);
		if (drop_permille > 0) {
			assert_true(runs[i].stats.retransmits > 0);
		}
		total += runs[i].outcome_count;
	}

	struct outcome *all = calloc(total, sizeof(*all));
	assert_non_null(all);
	size_t n = 0;
	for (unsigned i = 0; i < producers; i++) {
		memcpy(all + n, runs[i].outcomes, runs[i].outcome_count * sizeof(*all));
		n += runs[i].outcome_count;
		free(runs[i].outcomes);
	}
	qsort(all, n, sizeof(*all), compare_outcomes);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(all[i].error, 0);
		assert_true(all[i].partition < PARTITIONS);
		/* Sorted by offset, each batch must start where the previous one ended:
		 * a gap is a lost batch, an overlap a double append or a wrong ack. */
		assert_int_equal(all[i].base_offset, next_offset[all[i].partition]);
		next_offset[all[i].partition] += all[i].count;
		acked += all[i].count;
	}
	free(all);
	assert_true(acked == (uint64_t)producers * events);
	for (unsigned p = 0; p < PARTITIONS; p++) {
		/* keyless events spread: every partition got a share */
		assert_true(next_offset[p] > 0);
	}
}

static uint64_t router_counter_sum(const char *router, enum sl_stat stat)
{
	struct sl_shard_stats shards[16];
	unsigned n = 0;
	uint64_t sum = 0;

	assert_int_equal(sl_stats_fetch(router, 5000, shards, 16, &n), 0);
	assert_true(n > 0);
	for (unsigned i = 0; i < n; i++) {
		if ((unsigned)stat < shards[i].counter_count) {
			sum += shards[i].counters[stat];
		}
	}
	return sum;
}

static uint64_t router_drops_malformed(const char *router)
{
	static const enum sl_stat reasons[] = {
		SL_STAT_DROP_TRUNCATED,	 SL_STAT_DROP_BAD_MAGIC, SL_STAT_DROP_BAD_VERSION,
		SL_STAT_DROP_BAD_TYPE,	 SL_STAT_DROP_BAD_CRC,	 SL_STAT_DROP_TOO_LARGE,
		SL_STAT_DROP_MISALIGNED, SL_STAT_DROP_BAD_COUNT, SL_STAT_DROP_BAD_FIELD,
		SL_STAT_DROP_BAD_TOPIC,
	};
	uint64_t sum = 0;

	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		sum += router_counter_sum(router, reasons[i]);
	}
	return sum;
}

static int setup_router(void **state, const char *const *flags)
{
	struct router_proc *r = calloc(1, sizeof(*r));

	if (r == NULL || router_proc_start(r, sluiced_path, flags) != 0) {
		free(r);
		return -1;
	}
	*state = r;
	return 0;
}

static int setup_two_shards(void **state)
{
	static const char *const flags[] = {"--shards", "2", "--partitions", "8", NULL};
	return setup_router(state, flags);
}

static int setup_no_journal(void **state)
{
	static const char *const flags[] = {"--shards", "2", "--no-journal", NULL};
	return setup_router(state, flags);
}

static int teardown_router(void **state)
{
	struct router_proc *r = *state;
	int rc = router_proc_stop(r);

	free(r);
	/* SIGTERM must end sluiced with exit status 0. */
	return rc == 0 ? 0 : -1;
}

static void test_produce_two_producers_million_events_contiguous(void **state)
{
	struct router_proc *r = *state;

	produce_and_check(r->address, 2, 500000, 0);
	assert_true(router_counter_sum(r->address, SL_STAT_APPENDED_EVENTS) == 1000000);
	/* Two shards, partitions spread over both: some batches crossed the mesh. */
	assert_true(router_counter_sum(r->address, SL_STAT_MESH_OUT) > 0);
	assert_true(router_counter_sum(r->address, SL_STAT_MESH_IN) ==
		    router_counter_sum(r->address, SL_STAT_MESH_OUT));
}

static void test_produce_ten_percent_loss_acked_exactly_once(void **state)
{
	struct router_proc *r = *state;
	uint64_t before = router_counter_sum(r->address, SL_STAT_APPENDED_EVENTS);

	produce_and_check(r->address, 2, 100000, 100);
	/* Exactly once: the router appended each event one time despite retransmits. */
	assert_true(router_counter_sum(r->address, SL_STAT_APPENDED_EVENTS) - before == 200000);
	assert_true(router_counter_sum(r->address, SL_STAT_DUPLICATES) > 0);
}

static void test_router_random_datagrams_counted_and_survived(void **state)
{
	struct router_proc *r = *state;
	struct sockaddr_in to = {.sin_family = AF_INET,
				 .sin_port = htons(r->port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	uint8_t buf[2048];
	uint64_t seed = 42;
	const unsigned total = 100000;
	const unsigned burst = 500;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	uint64_t before = router_drops_malformed(r->address);
	for (unsigned sent = 0; sent < total;) {
		for (unsigned i = 0; i < burst; i++, sent++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			size_t len = 1 + (size_t)((seed >> 33) % sizeof(buf));
			for (size_t k = 0; k < len; k++) {
				seed = seed * 6364136223846793005ull + 1442695040888963407ull;
				buf[k] = (uint8_t)(seed >> 56);
			}
			/* Every tenth datagram starts like a real frame to get past the
			 * magic check and exercise the deeper ones. */
			if (i % 10 == 0 && len >= 8) {
				memcpy(buf, "SLCE\x01\x01\x00\x00", 8);
			}
			assert_true(sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to)) ==
				    (ssize_t)len);
		}
		/* Pace on the router's own count so the kernel never drops for lack of
		 * socket buffer: the assertion below is then exact. */
		for (int tries = 0; tries < 500; tries++) {
			if (router_drops_malformed(r->address) - before >= sent) {
				break;
			}
			usleep(2000);
		}
	}
	(void)close(fd);
	assert_true(router_proc_is_running(r));
	assert_true(router_drops_malformed(r->address) - before == total);
	uint64_t rtt;
	assert_int_equal(sl_ping(r->address, 1000, &rtt), 0);
}

static void test_produce_durable_without_journal_is_refused(void **state)
{
	struct router_proc *r = *state;
	struct sl_producer_config cfg;
	struct sl_producer *p = NULL;
	struct producer_run run = {.outcome_cap = 16};
	struct outcome outcomes[16];

	run.outcomes = outcomes;
	sl_producer_config_init(&cfg);
	cfg.router = r->address;
	cfg.acks = SL_ACKS_DURABLE;
	cfg.on_delivery = record_delivery;
	cfg.ctx = &run;
	assert_int_equal(sl_producer_create(&cfg, &p), 0);
	assert_int_equal(sl_produce(p, TOPIC, "k", 1, "v", 1), 0);
	(void)sl_flush(p, 10000);
	sl_producer_destroy(p);
	assert_int_equal(run.outcome_count, 1);
	assert_int_equal(outcomes[0].error, -SL_ESTORAGE);
	assert_true(router_counter_sum(r->address, SL_STAT_DROP_STORAGE) >= 1);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_produce_two_producers_million_events_contiguous, setup_two_shards,
			teardown_router),
		cmocka_unit_test_setup_teardown(test_produce_ten_percent_loss_acked_exactly_once,
						setup_two_shards, teardown_router),
		cmocka_unit_test_setup_teardown(test_router_random_datagrams_counted_and_survived,
						setup_two_shards, teardown_router),
		cmocka_unit_test_setup_teardown(test_produce_durable_without_journal_is_refused,
						setup_no_journal, teardown_router),
	};

	if (argc != 2) {
		(void)fprintf(stderr, "usage: %s SLUICED_PATH\n", argv[0]);
		return 2;
	}
	sluiced_path = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
