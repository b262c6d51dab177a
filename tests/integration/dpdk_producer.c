/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A producer that is itself a DPDK application, for test_dpdk_producer.sh: brings up
 * the EAL and the one port its arguments name (a vdev such as net_af_packet), creates a
 * libsluice-dpdk producer on queue 0, sends --count keyed events and waits for every
 * ack, checking that offsets are contiguous per partition from 0 (a fresh topic). Prints one summary line.
 * Usage: dpdk_producer <EAL args> -- ROUTER_IP:PORT LOCAL_IP COUNT [TOPIC [DROP_PERMILLE]]
 * where DROP_PERMILLE makes the producer lose that share of its datagrams each way
 * (the test hook of producer_test.h), so that retransmits over DPDK are exercised.
 * Exits 0 when every event was acked, 1 otherwise, 77 when the port cannot be used.
 */
#include "src/client/producer_test.h"

#include <sluice/client_dpdk.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RX_DESC 512u
#define TX_DESC 512u
#define RX_MBUFS 2048u
#define FLUSH_TIMEOUT_MS 30000u

struct outcome {
	uint32_t partition;
	uint32_t count;
	uint64_t base_offset;
};

struct run {
	uint64_t acked;
	uint64_t failed;
	struct outcome *outcomes; /* one per acked batch, in delivery order */
	size_t outcome_count;
	size_t outcome_cap;
};

static void on_delivery(void *ctx, const struct sl_delivery *d)
{
	struct run *r = ctx;

	if (d->error != 0) {
		r->failed += d->count;
		return;
	}
	r->acked += d->count;
	if (r->outcome_count < r->outcome_cap) {
		r->outcomes[r->outcome_count++] = (struct outcome){
			.partition = d->partition,
			.count = d->count,
			.base_offset = d->base_offset,
		};
	}
}

static int outcome_cmp(const void *a, const void *b)
{
	const struct outcome *x = a;
	const struct outcome *y = b;

	if (x->partition != y->partition) {
		return x->partition < y->partition ? -1 : 1;
	}
	return x->base_offset < y->base_offset ? -1 : x->base_offset > y->base_offset;
}

/*
 * Batches whose offsets do not follow their partition's previous batch (a gap or an
 * overlap). Acks may arrive out of order under loss: sorted first. Each partition must
 * start at offset 0 (a fresh topic).
 */
static uint64_t offset_gaps(struct run *r)
{
	uint64_t gaps = 0;

	qsort(r->outcomes, r->outcome_count, sizeof(r->outcomes[0]), outcome_cmp);
	for (size_t i = 0; i < r->outcome_count; i++) {
		const struct outcome *o = &r->outcomes[i];
		uint64_t expect = 0;
		if (i > 0 && r->outcomes[i - 1].partition == o->partition) {
			expect = r->outcomes[i - 1].base_offset + r->outcomes[i - 1].count;
		}
		gaps += o->base_offset != expect ? 1u : 0u;
	}
	return gaps;
}

/* One RX and one TX queue, started. Returns 0 or a negative errno. */
static int port_start(uint16_t port)
{
	struct rte_eth_conf conf;
	struct rte_mempool *pool;
	int rc;

	memset(&conf, 0, sizeof(conf));
	pool = rte_pktmbuf_pool_create("rx_pool", RX_MBUFS, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       rte_eth_dev_socket_id(port));
	if (pool == NULL) {
		return -ENOMEM;
	}
	rc = rte_eth_dev_configure(port, 1, 1, &conf);
	if (rc == 0) {
		rc = rte_eth_rx_queue_setup(port, 0, RX_DESC, rte_eth_dev_socket_id(port), NULL,
					    pool);
	}
	if (rc == 0) {
		rc = rte_eth_tx_queue_setup(port, 0, TX_DESC, rte_eth_dev_socket_id(port), NULL);
	}
	if (rc == 0) {
		rc = rte_eth_dev_start(port);
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct sl_producer_config cfg;
	struct sl_dpdk_transport_config dcfg;
	struct sl_producer_stats st;
	struct sl_producer *p;
	struct run r = {0};
	int used = rte_eal_init(argc, argv);

	if (used < 0) {
		fprintf(stderr, "SKIP: rte_eal_init failed\n");
		return 77;
	}
	argc -= used;
	argv += used;
	if (argc < 4) {
		fprintf(stderr, "usage: dpdk_producer <EAL> -- ROUTER LOCAL_IP COUNT [TOPIC "
				"[DROP_PERMILLE]]\n");
		return 1;
	}
	uint64_t count = strtoull(argv[3], NULL, 10);
	const char *topic = argc > 4 ? argv[4] : "dpdk.producer";
	unsigned drop_permille = argc > 5 ? (unsigned)strtoul(argv[5], NULL, 10) : 0;
	if (rte_eth_dev_count_avail() == 0 || port_start(0) != 0) {
		fprintf(stderr, "SKIP: no usable ethdev port\n");
		return 77;
	}
	r.outcome_cap = count > 0 ? count : 1; /* at least one event per batch */
	r.outcomes = calloc(r.outcome_cap, sizeof(r.outcomes[0]));
	if (r.outcomes == NULL) {
		return 1;
	}
	sl_producer_config_init(&cfg);
	cfg.router = argv[1];
	cfg.on_delivery = on_delivery;
	cfg.ctx = &r;
	sl_dpdk_transport_config_init(&dcfg);
	dcfg.port_id = 0;
	dcfg.queue_id = 0;
	dcfg.local_ip = argv[2];
	int rc = sl_producer_create_dpdk(&cfg, &dcfg, &p);
	if (rc != 0) {
		fprintf(stderr, "FAIL: sl_producer_create_dpdk: %s\n", sl_strerror(rc));
		return 1;
	}
	producer_test_set_loss(p, drop_permille, drop_permille, 0x5eed);
	for (uint64_t i = 0; i < count; i++) {
		char key[24];
		char value[64];
		int klen = snprintf(key, sizeof(key), "k%" PRIu64, i % 97);
		int vlen = snprintf(value, sizeof(value), "event %" PRIu64, i);
		while ((rc = sl_produce(p, topic, key, (size_t)klen, value, (size_t)vlen)) ==
		       -EAGAIN) {
			rc = sl_producer_poll(p, 1000);
			if (rc < 0) {
				break;
			}
		}
		if (rc < 0) {
			fprintf(stderr, "FAIL: sl_produce: %s\n", sl_strerror(rc));
			break;
		}
	}
	int frc = sl_flush(p, FLUSH_TIMEOUT_MS);
	sl_producer_stats_get(p, &st);
	uint64_t gaps = offset_gaps(&r);
	printf("acked %" PRIu64 " failed %" PRIu64 " gaps %" PRIu64 " retransmits %" PRIu64
	       " batches %" PRIu64 " flush %d\n",
	       r.acked, r.failed, gaps, st.retransmits, st.batches_sent, frc);
	sl_producer_destroy(p);
	rte_eth_dev_stop(0);
	rte_eth_dev_close(0);
	rte_eal_cleanup();
	free(r.outcomes);
	return rc >= 0 && frc == 0 && r.acked == count && r.failed == 0 && gaps == 0 ? 0 : 1;
}
