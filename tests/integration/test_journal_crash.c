/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The journal's promise, end to end: what was acknowledged durable survives a crash,
 * exactly once and in order. One libsluice producer (acks=durable, one id and epoch for
 * the whole test) produces without pause while sluiced is killed with SIGKILL at random
 * instants and restarted on the same data directory and port; the producer's
 * retransmits then meet a router that rebuilt its dedupe state from the journal. At the
 * end the journal is read back with the journal library and checked against every ack,
 * and `sluice journal verify` must pass. Also: a raw retransmit after a clean restart is
 * acked as a duplicate with its original offset.
 * Usage: test_journal_crash SLUICED_PATH SLUICE_PATH   (SLUICE_CRASH_ROUNDS: default 20)
 */
#include "router_proc.h"

#include "core/wire.h"
#include "journal/scan.h"

#include <sluice/client.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define TOPIC "crash.orders"
#define PARTITIONS 4
#define ROUNDS_DEFAULT 20
#define ACKED_MAX (1u << 20)
#define EVENTS_MAX (8u << 20)

static const char *sluiced_path;
static const char *sluice_path;
/* The router of the running test: stopped by the teardown even when an assertion
 * failed, so no sluiced outlives the test (it would hold the test's output open). */
static struct router_proc r;

/* Small segments and a short flush interval: crashes land in rolls and mid-flush. */
static const char *const router_flags[] = {
	"--shards", "2",	  "--partitions", "4", "--segment-bytes",
	"262144",   "--flush-us", "200",	  NULL};

struct acked_batch {
	uint32_t partition;
	uint32_t count;
	uint64_t base_offset;
};

struct producer_run {
	const char *router;
	volatile int stop;
	uint64_t produced;
	struct acked_batch *acked;
	size_t acked_count;
	uint64_t failed;
	int result;
};

static void record_delivery(void *ctx, const struct sl_delivery *d)
{
	struct producer_run *run = ctx;

	if (d->error != 0) {
		if (run->failed++ == 0) {
			(void)fprintf(stderr,
				      "first failed batch: partition %u sequence %llu: %s\n",
				      d->partition, (unsigned long long)d->sequence,
				      sl_strerror(d->error));
		}
		return;
	}
	if (run->acked_count < ACKED_MAX) {
		run->acked[run->acked_count++] =
			(struct acked_batch){.partition = d->partition,
					     .count = d->count,
					     .base_offset = d->base_offset};
	}
}

static void *producer_main(void *arg)
{
	struct producer_run *run = arg;
	struct sl_producer_config cfg;
	struct sl_producer *p = NULL;

	sl_producer_config_init(&cfg);
	cfg.router = run->router;
	cfg.acks = SL_ACKS_DURABLE;
	cfg.linger_us = 200;
	cfg.producer_id = 0x5eed0001u;
	cfg.producer_epoch = 1;
	/* Batches must outlive a restart rather than fail: retry for minutes. */
	cfg.retry_timeout_us = 20000;
	cfg.retry_timeout_max_us = 100000;
	cfg.retries_max = 1000;
	cfg.inflight_bytes_max = 256u << 10;
	cfg.on_delivery = record_delivery;
	cfg.ctx = run;
	run->result = sl_producer_create(&cfg, &p);
	if (run->result != 0) {
		return NULL;
	}
	while (!run->stop && run->produced < EVENTS_MAX) {
		char key[8];
		char value[24];
		int klen = snprintf(key, sizeof(key), "k%u", (unsigned)(run->produced % 64));
		int vlen = snprintf(value, sizeof(value), "id%020llu",
				    (unsigned long long)run->produced);
		int rc = sl_produce(p, TOPIC, key, (size_t)klen, value, (size_t)vlen);
		if (rc == 0) {
			run->produced++;
		} else if (rc == -EAGAIN || rc == -ETIMEDOUT) {
			(void)sl_producer_poll(p, 1000);
		} else {
			run->result = rc;
			break;
		}
	}
	if (run->result == 0) {
		run->result = sl_flush(p, 120000);
	}
	sl_producer_destroy(p);
	return NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
	(void)nanosleep(&ts, NULL);
}

/* What the journal holds, read back with the journal library. */
struct journal_view {
	uint64_t next_offset[PARTITIONS]; /* per partition: offsets must tile [0, next) */
	uint32_t *count_at[PARTITIONS];	  /* [EVENTS_MAX]: batch count at each base offset */
	uint8_t *seen;			  /* [EVENTS_MAX]: event id seen already */
	uint64_t events;
	uint64_t gaps;
	uint64_t duplicates;
	uint64_t foreign;
};

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Reads the event ids of one entry's records (wire format) into v->seen. */
static void view_records(struct journal_view *v, const struct journal_entry *e)
{
	const uint8_t *p = e->body;
	const uint8_t *end = e->body + e->body_len;

	for (uint16_t i = 0; i < e->hdr.record_count && p + SL_WIRE_RECORD_HEADER_BYTES <= end;
	     i++) {
		uint32_t value_len = le32(p);
		uint16_t key_len = (uint16_t)(p[4] | p[5] << 8);
		const uint8_t *value = p + SL_WIRE_RECORD_HEADER_BYTES + key_len;
		unsigned long long id = 0;
		char text[32] = {0};
		if (value_len < sizeof(text)) {
			memcpy(text, value, value_len);
		}
		if (sscanf(text, "id%llu", &id) != 1 || id >= EVENTS_MAX) {
			v->foreign++;
		} else if (v->seen[id]++ > 0) {
			v->duplicates++;
		}
		v->events++;
		p += wire_record_bytes(key_len, value_len);
	}
}

static int view_entry(void *ctx, const struct journal_entry *e, unsigned segment)
{
	struct journal_view *v = ctx;
	uint32_t part = e->hdr.partition;

	(void)segment;
	if (part >= PARTITIONS || e->hdr.topic_len != strlen(TOPIC) ||
	    memcmp(e->topic, TOPIC, e->hdr.topic_len) != 0) {
		v->foreign++;
		return 0;
	}
	if (e->hdr.base_offset != v->next_offset[part]) {
		v->gaps++;
	}
	if (e->hdr.base_offset < EVENTS_MAX) {
		v->count_at[part][e->hdr.base_offset] = e->hdr.record_count;
	}
	v->next_offset[part] = e->hdr.base_offset + e->hdr.record_count;
	view_records(v, e);
	return 0;
}

static void view_shard(struct journal_view *v, const char *data_dir, unsigned shard)
{
	char path[256];
	struct journal_dir d;
	struct journal_scan_result res;

	(void)snprintf(path, sizeof(path), "%s/" JOURNAL_SHARD_DIR_FORMAT, data_dir, shard);
	assert_int_equal(journal_dir_list(path, &d), 0);
	assert_int_equal(journal_scan(&d, view_entry, v, &res), 0);
	if (res.corrupt || res.torn) {
		(void)fprintf(stderr, "shard %u: %s\n", shard, res.message);
	}
	assert_false(res.corrupt);
	/* The last stop was clean: nothing torn remains. */
	assert_false(res.torn);
	journal_dir_free(&d);
}

static int run_status(const char *cmd)
{
	int status = system(cmd);

	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void check_journal(const char *data_dir, const struct producer_run *run)
{
	static struct journal_view v;
	char cmd[512];

	memset(&v, 0, sizeof(v));
	v.seen = calloc(EVENTS_MAX, 1);
	assert_non_null(v.seen);
	for (unsigned p = 0; p < PARTITIONS; p++) {
		v.count_at[p] = calloc(EVENTS_MAX, sizeof(uint32_t));
		assert_non_null(v.count_at[p]);
	}
	view_shard(&v, data_dir, 0);
	view_shard(&v, data_dir, 1);
	(void)fprintf(stderr, "journal: %llu events; producer: %llu produced, %zu batches acked\n",
		      (unsigned long long)v.events, (unsigned long long)run->produced,
		      run->acked_count);
	assert_int_equal(v.foreign, 0);
	assert_int_equal(v.gaps, 0);	   /* offsets tile [0, next) per partition, in order */
	assert_int_equal(v.duplicates, 0); /* no event appended twice */
	/* Every durable ack names a batch the journal holds, at its offset, whole. */
	for (size_t i = 0; i < run->acked_count; i++) {
		const struct acked_batch *b = &run->acked[i];
		assert_true(b->partition < PARTITIONS);
		assert_true(b->base_offset < EVENTS_MAX);
		assert_int_equal(v.count_at[b->partition][b->base_offset], b->count);
	}
	/* After the final flush everything produced was acked, hence journaled once. */
	assert_int_equal(v.events, run->produced);
	(void)snprintf(cmd, sizeof(cmd), "%s journal verify %s >/dev/null", sluice_path, data_dir);
	assert_int_equal(run_status(cmd), 0);
	for (unsigned p = 0; p < PARTITIONS; p++) {
		free(v.count_at[p]);
	}
	free(v.seen);
}

static unsigned crash_rounds(void)
{
	const char *env = getenv("SLUICE_CRASH_ROUNDS");
	long n = env != NULL ? strtol(env, NULL, 10) : ROUNDS_DEFAULT;

	return n > 0 && n < 100000 ? (unsigned)n : ROUNDS_DEFAULT;
}

static void test_journal_durable_acks_survive_kill_9(void **state)
{
	char data_dir[] = "/tmp/sluice-crash-XXXXXX";
	struct producer_run run = {0};
	pthread_t thread;
	unsigned rounds = crash_rounds();
	uint64_t seed = 0x9e3779b97f4a7c15u;

	(void)state;
	assert_non_null(mkdtemp(data_dir));
	run.acked = calloc(ACKED_MAX, sizeof(*run.acked));
	assert_non_null(run.acked);
	assert_int_equal(router_proc_start_dir(&r, sluiced_path, data_dir, 0, router_flags), 0);
	uint16_t port = r.port;
	run.router = r.address;
	assert_int_equal(pthread_create(&thread, NULL, producer_main, &run), 0);
	for (unsigned i = 0; i < rounds; i++) {
		seed = seed * 6364136223846793005u + 1442695040888963407u;
		sleep_ms(150 + (long)((seed >> 33) % 450));
		size_t acked_before = run.acked_count;
		assert_int_equal(router_proc_kill(&r), 0);
		/* The router must come back on its journal, whatever the kill interrupted. */
		assert_int_equal(
			router_proc_start_dir(&r, sluiced_path, data_dir, port, router_flags), 0);
		(void)fprintf(stderr, "round %u: killed after %zu acked batches in total\n", i + 1,
			      acked_before);
	}
	sleep_ms(300);
	run.stop = 1;
	assert_int_equal(pthread_join(thread, NULL), 0);
	assert_int_equal(run.result, 0);
	assert_int_equal(run.failed, 0);
	assert_true(run.acked_count > rounds);
	assert_int_equal(router_proc_stop(&r), 0);
	check_journal(data_dir, &run);
	free(run.acked);
	remove_tree(data_dir);
}

/* Sends one durable PRODUCE of `sequence` and returns the reply's header and body. */
static void send_produce(int fd, const struct sockaddr_in *to, uint64_t sequence, bool head,
			 struct sl_wire_header *reply, struct sl_wire_ack *ack)
{
	uint8_t buf[512];
	uint8_t in[2048];
	struct sl_wire_header h;
	struct wire_builder b;
	struct wire_frame f;

	wire_header_init(&h, SL_WIRE_PRODUCE);
	h.producer_id = 0xabcdu;
	h.producer_epoch = 7;
	h.sequence = sequence;
	h.partition = 1;
	h.ack_level = SL_ACKS_DURABLE;
	h.flags = head ? SL_WIRE_FLAG_STREAM_HEAD : 0;
	assert_int_equal(wire_begin(&b, buf, sizeof(buf), &h, TOPIC, strlen(TOPIC)), 0);
	assert_int_equal(wire_add_record(&b, "k", 1, "value", 5, 1), 0);
	uint32_t len = wire_finish(&b);
	for (int tries = 0; tries < 50; tries++) {
		assert_true(sendto(fd, buf, len, 0, (const struct sockaddr *)to, sizeof(*to)) ==
			    (ssize_t)len);
		ssize_t n = recv(fd, in, sizeof(in), 0);
		if (n > 0 && wire_decode(in, (size_t)n, sizeof(in), &f) == SL_WIRE_OK &&
		    f.hdr.sequence == sequence) {
			*reply = f.hdr;
			if (f.hdr.type == SL_WIRE_ACK) {
				wire_ack_read(f.body, ack);
			}
			return;
		}
	}
	fail_msg("no reply to sequence %llu", (unsigned long long)sequence);
}

static void test_journal_retransmit_after_restart_is_duplicate(void **state)
{
	char data_dir[] = "/tmp/sluice-restart-XXXXXX";
	struct sl_wire_header h;
	struct sl_wire_ack ack;
	struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};

	(void)state;
	assert_non_null(mkdtemp(data_dir));
	assert_int_equal(router_proc_start_dir(&r, sluiced_path, data_dir, 0, router_flags), 0);
	uint16_t port = r.port;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

	send_produce(fd, &to, 0, true, &h, &ack);
	assert_int_equal(h.type, SL_WIRE_ACK);
	assert_int_equal(ack.status, SL_ACK_APPENDED);
	assert_int_equal(ack.ack_level, SL_ACKS_DURABLE);
	assert_int_equal(ack.base_offset, 0);
	send_produce(fd, &to, 1, false, &h, &ack);
	assert_int_equal(ack.status, SL_ACK_APPENDED);
	assert_int_equal(ack.base_offset, 1);

	assert_int_equal(router_proc_stop(&r), 0);
	assert_int_equal(router_proc_start_dir(&r, sluiced_path, data_dir, port, router_flags), 0);
	/* The router forgot nothing: sequence 1 again is a duplicate at offset 1, and the
	 * stream goes on at sequence 2 and offset 2 without a stream head. */
	send_produce(fd, &to, 1, false, &h, &ack);
	assert_int_equal(h.type, SL_WIRE_ACK);
	assert_int_equal(ack.status, SL_ACK_DUPLICATE);
	assert_int_equal(ack.base_offset, 1);
	send_produce(fd, &to, 2, false, &h, &ack);
	assert_int_equal(h.type, SL_WIRE_ACK);
	assert_int_equal(ack.status, SL_ACK_APPENDED);
	assert_int_equal(ack.base_offset, 2);
	(void)close(fd);
	assert_int_equal(router_proc_stop(&r), 0);
	remove_tree(data_dir);
}

static int teardown_router(void **state)
{
	(void)state;
	if (router_proc_is_running(&r)) {
		(void)router_proc_kill(&r);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_journal_retransmit_after_restart_is_duplicate,
					  teardown_router),
		cmocka_unit_test_teardown(test_journal_durable_acks_survive_kill_9,
					  teardown_router),
	};

	if (argc != 3) {
		(void)fprintf(stderr, "usage: %s SLUICED_PATH SLUICE_PATH\n", argv[0]);
		return 2;
	}
	sluiced_path = argv[1];
	sluice_path = argv[2];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
