/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sluice-bench-mesh: cost of one cross-shard hand-off through the ring mesh. The main
 * lcore plays shard 0 and pushes mbufs of a real mempool through mesh_push_burst() to
 * shard 1 (the first worker lcore), which drains them with mesh_pop_burst() in bursts of
 * the same size. Mode `free` (default) does what sluiced does: shard 1 frees what it
 * receives into shard 0's pool and shard 0 allocates every burst, so the figure includes
 * the mempool round trip. Mode `return` sends the mbufs back on ring (1, 0), so the
 * figure is ring traffic only (two rings busy, no mempool). A push refused by a full
 * ring is counted and retried by the producer: the mesh itself never blocks. Prints one
 * JSON line per burst size (median, min and max over the runs).
 * With --ring rte_ring the same harness (lcores, timing, bursts, modes) calls
 * rte_ring_sp_enqueue_burst()/rte_ring_sc_dequeue_burst() directly on two plain SP/SC
 * rings made like the mesh's (same size and flags, on the consumer's node) instead of
 * going through the mesh: the difference between the two is the mesh's own overhead.
 *
 *   sluice-bench-mesh [--runs N] [--objects N] [--ring-slots N] [--mode free|return]
 *                     [--ring mesh|rte_ring] [-- EAL arguments]
 */
#include "shard/mesh.h"

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_pause.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_BURST_MAX 32u
#define BENCH_RUNS_MAX 64u
#define BENCH_EAL_ARGS_MAX 64
#define BENCH_POOL_CACHE 256u

static const unsigned bench_bursts[] = {1, 8, 32};

static char *bench_eal_default[] = {
	"--no-huge", "--no-pci",    "--no-shconf",     "-m", "256", "--lcores",
	"0@0,1@1",   "--log-level", "lib.eal:warning",
};

struct bench_cfg {
	unsigned runs;
	uint64_t objects;
	uint32_t ring_slots;
	bool is_return;
	bool is_rte_ring; /* plain rte_rings rather than the mesh */
};

/* One run of one burst size, shared by the two lcores: the consumer spins until the
 * producer sets `go`, and stamps end_tsc once it has received every object. */
struct bench_run {
	struct mesh *mesh;
	struct rte_ring *ring_fwd;  /* --ring rte_ring: 0 -> 1 */
	struct rte_ring *ring_back; /* --ring rte_ring: 1 -> 0 (return mode) */
	struct rte_mempool *pool;
	const struct bench_cfg *cfg;
	unsigned burst;
	uint64_t objects;
	int go;		  /* producer: release store; consumer: acquire load */
	int done;	  /* consumer: release store after end_tsc; producer: acquire */
	uint64_t end_tsc; /* consumer */
	/* Totals over the runs, added once per run from locals so that the two lcores do
	 * not share a written cache line inside the timed loops. */
	uint64_t refused_pushes; /* producer: pushes that took fewer than asked */
	uint64_t refused_objects;
	uint64_t pool_empty;   /* producer: failed rte_pktmbuf_alloc_bulk() */
	uint64_t back_refused; /* consumer: refused pushes on ring (1, 0), return mode */
} __rte_cache_aligned;

/* Pushes on the forward path (0 -> 1) or the way back (1 -> 0): the mesh's rings or the
 * plain ones. The branch is taken the same way for a whole run: both rings pay it. */
static inline unsigned bench_push(struct bench_run *r, bool back, struct rte_mbuf **mbufs,
				  unsigned n)
{
	if (r->cfg->is_rte_ring) {
		return rte_ring_sp_enqueue_burst(back ? r->ring_back : r->ring_fwd,
						 (void *const *)mbufs, n, NULL);
	}
	return back ? mesh_push_burst(r->mesh, 1, 0, mbufs, n)
		    : mesh_push_burst(r->mesh, 0, 1, mbufs, n);
}

static inline unsigned bench_pop(struct bench_run *r, bool back, struct rte_mbuf **mbufs,
				 unsigned n)
{
	if (r->cfg->is_rte_ring) {
		return rte_ring_sc_dequeue_burst(back ? r->ring_back : r->ring_fwd, (void **)mbufs,
						 n, NULL);
	}
	return back ? mesh_pop_burst(r->mesh, 1, 0, mbufs, n)
		    : mesh_pop_burst(r->mesh, 0, 1, mbufs, n);
}

static int bench_consume(void *arg)
{
	struct bench_run *r = arg;
	struct rte_mbuf *buf[BENCH_BURST_MAX];
	uint64_t back_refused = 0;
	uint64_t got = 0;

	while (!__atomic_load_n(&r->go, __ATOMIC_ACQUIRE)) {
		rte_pause();
	}
	while (got < r->objects) {
		unsigned n = bench_pop(r, false, buf, r->burst);
		if (n == 0) {
			continue;
		}
		got += n;
		if (!r->cfg->is_return) {
			rte_pktmbuf_free_bulk(buf, n);
			continue;
		}
		/* The producer pops ring (1, 0) while it pushes and, once it has sent
		 * everything, until this lcore is done (bench_once()): the retry ends. */
		unsigned done = 0;
		while ((done += bench_push(r, true, buf + done, n - done)) < n) {
			back_refused++;
		}
	}
	r->end_tsc = rte_rdtsc();
	r->back_refused += back_refused;
	/* Pairs with the acquire load in bench_once(): end_tsc is visible first. */
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	return 0;
}

/* Return mode: the mbufs in flight, owned by the producer between hand-offs. */
struct bench_stash {
	struct rte_mbuf **mbufs;
	unsigned count;
	unsigned cap;
};

/* Fills buf[0..want) with mbufs; returns want, or 0 when none are available yet. */
static unsigned bench_get(struct bench_run *r, struct bench_stash *s, struct rte_mbuf **buf,
			  unsigned want)
{
	if (!r->cfg->is_return) {
		if (rte_pktmbuf_alloc_bulk(r->pool, buf, want) != 0) {
			r->pool_empty++;
			return 0;
		}
		return want;
	}
	unsigned room = s->cap - s->count;
	s->count += bench_pop(r, true, s->mbufs + s->count,
			      room < BENCH_BURST_MAX ? room : BENCH_BURST_MAX);
	if (s->count < want) {
		return 0;
	}
	s->count -= want;
	memcpy(buf, s->mbufs + s->count, want * sizeof(*buf));
	return want;
}

/* Runs on the main lcore (shard 0); returns the start timestamp. */
static uint64_t bench_produce(struct bench_run *r, struct bench_stash *s)
{
	struct rte_mbuf *buf[BENCH_BURST_MAX];
	uint64_t refused_pushes = 0;
	uint64_t refused_objects = 0;
	unsigned pending = 0;
	uint64_t sent = 0;

	/* Pairs with the consumer's acquire load: the run's parameters are visible. */
	__atomic_store_n(&r->go, 1, __ATOMIC_RELEASE);
	uint64_t start = rte_rdtsc();
	while (sent < r->objects) {
		if (pending == 0) {
			uint64_t left = r->objects - sent;
			unsigned want = left < r->burst ? (unsigned)left : r->burst;
			pending = bench_get(r, s, buf, want);
			if (pending == 0) {
				continue;
			}
		}
		unsigned k = bench_push(r, false, buf, pending);
		sent += k;
		if (k < pending) {
			refused_pushes++;
			refused_objects += pending - k;
			memmove(buf, buf + k, (pending - k) * sizeof(*buf));
		}
		pending -= k;
	}
	r->refused_pushes += refused_pushes;
	r->refused_objects += refused_objects;
	return start;
}

/* One timed run; returns ns per hand-off, or a negative errno. */
static double bench_once(struct bench_run *r, struct bench_stash *s, unsigned worker)
{
	r->go = 0;
	r->done = 0;
	r->end_tsc = 0;
	int rc = rte_eal_remote_launch(bench_consume, r, worker);
	if (rc != 0) {
		return rc;
	}
	uint64_t start = bench_produce(r, s);
	while (!__atomic_load_n(&r->done, __ATOMIC_ACQUIRE)) {
		if (r->cfg->is_return) {
			s->count += bench_pop(r, true, s->mbufs + s->count, s->cap - s->count);
		}
	}
	rc = rte_eal_wait_lcore(worker);
	if (rc != 0) {
		return -EIO;
	}
	return (double)(r->end_tsc - start) * 1e9 / (double)rte_get_tsc_hz() / (double)r->objects;
}

static int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a;
	double y = *(const double *)b;

	return (x > y) - (x < y);
}

static int bench_burst(struct mesh *m, struct rte_ring *const rings[2], struct rte_mempool *pool,
		       const struct bench_cfg *cfg, struct bench_stash *s, unsigned burst,
		       unsigned worker)
{
	struct bench_run r = {
		.mesh = m,
		.ring_fwd = rings[0],
		.ring_back = rings[1],
		.pool = pool,
		.cfg = cfg,
		.burst = burst,
		.objects = cfg->objects / 16,
	};
	double ns[BENCH_RUNS_MAX];

	/* Warm-up (caches, pool, branch predictors), not reported. */
	if (r.objects > 0 && bench_once(&r, s, worker) < 0) {
		return -EIO;
	}
	r.objects = cfg->objects;
	r.refused_pushes = r.refused_objects = r.pool_empty = r.back_refused = 0;
	for (unsigned i = 0; i < cfg->runs; i++) {
		ns[i] = bench_once(&r, s, worker);
		if (ns[i] < 0) {
			return -EIO;
		}
	}
	qsort(ns, cfg->runs, sizeof(ns[0]), bench_cmp_double);
	double med =
		cfg->runs % 2 ? ns[cfg->runs / 2] : (ns[cfg->runs / 2 - 1] + ns[cfg->runs / 2]) / 2;
	printf("{\"bench\":\"mesh\",\"ring\":\"%s\",\"mode\":\"%s\",\"burst\":%u,\"runs\":%u,"
	       "\"objects\":%" PRIu64
	       ",\"ring_slots\":%u,\"ns_per_handoff\":%.3f,\"ns_min\":%.3f,\"ns_max\":%.3f,"
	       "\"handoffs_per_s\":%.0f,\"refused_pushes\":%" PRIu64 ",\"refused_objects\":%" PRIu64
	       ",\"pool_empty\":%" PRIu64 ",\"back_refused\":%" PRIu64 ",\"tsc_hz\":%" PRIu64 "}\n",
	       cfg->is_rte_ring ? "rte_ring" : "mesh", cfg->is_return ? "return" : "free", burst,
	       cfg->runs, cfg->objects, cfg->ring_slots, med, ns[0], ns[cfg->runs - 1], 1e9 / med,
	       r.refused_pushes, r.refused_objects, r.pool_empty, r.back_refused, rte_get_tsc_hz());
	(void)fflush(stdout);
	return 0;
}

/* --ring rte_ring: the two rings made as mesh_create() makes its own, each on its
 * consumer's node: [0] 0 -> 1, [1] 1 -> 0. Returns 0 or -ENOMEM with nothing made. */
static int bench_rings_create(uint32_t ring_slots, const int sockets[2], struct rte_ring *rings[2])
{
	const unsigned flags = RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ;

	rings[0] = rte_ring_create("bench_fwd", ring_slots, sockets[1], flags);
	rings[1] = rte_ring_create("bench_back", ring_slots, sockets[0], flags);
	if (rings[0] == NULL || rings[1] == NULL) {
		rte_ring_free(rings[0]);
		rte_ring_free(rings[1]);
		return -ENOMEM;
	}
	return 0;
}

/* Frees the mbufs left in rings[] (return mode leaves some on the way back), then the
 * rings; NULL rings are skipped. */
static void bench_rings_destroy(struct rte_ring *rings[2])
{
	for (unsigned i = 0; i < 2; i++) {
		void *m;
		while (rings[i] != NULL && rte_ring_sc_dequeue(rings[i], &m) == 0) {
			rte_pktmbuf_free(m);
		}
		rte_ring_free(rings[i]);
		rings[i] = NULL;
	}
}

static int bench_parse_u64(const char *name, const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;

	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < lo || v > hi) {
		(void)fprintf(stderr, "sluice-bench-mesh: --%s must be %" PRIu64 "..%" PRIu64 "\n",
			      name, lo, hi);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int bench_parse(int argc, char **argv, struct bench_cfg *cfg)
{
	static const struct option opts[] = {
		{"runs", required_argument, NULL, 'r'},
		{"objects", required_argument, NULL, 'o'},
		{"ring-slots", required_argument, NULL, 's'},
		{"mode", required_argument, NULL, 'm'},
		{"ring", required_argument, NULL, 'R'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	uint64_t v;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (bench_parse_u64("runs", optarg, 1, BENCH_RUNS_MAX, &v) != 0) {
				return -EINVAL;
			}
			cfg->runs = (unsigned)v;
			break;
		case 'o':
			if (bench_parse_u64("objects", optarg, 1024, UINT64_C(1) << 40, &v) != 0) {
				return -EINVAL;
			}
			cfg->objects = v;
			break;
		case 's':
			if (bench_parse_u64("ring-slots", optarg, MESH_RING_SLOTS_MIN,
					    MESH_RING_SLOTS_MAX, &v) != 0) {
				return -EINVAL;
			}
			cfg->ring_slots = (uint32_t)v;
			break;
		case 'm':
			if (strcmp(optarg, "free") != 0 && strcmp(optarg, "return") != 0) {
				(void)fprintf(stderr,
					      "sluice-bench-mesh: --mode is free or return\n");
				return -EINVAL;
			}
			cfg->is_return = strcmp(optarg, "return") == 0;
			break;
		case 'R':
			if (strcmp(optarg, "mesh") != 0 && strcmp(optarg, "rte_ring") != 0) {
				(void)fprintf(stderr,
					      "sluice-bench-mesh: --ring is mesh or rte_ring\n");
				return -EINVAL;
			}
			cfg->is_rte_ring = strcmp(optarg, "rte_ring") == 0;
			break;
		default:
			(void)fprintf(
				stderr,
				"usage: sluice-bench-mesh [--runs N] [--objects N] "
				"[--ring-slots N] [--mode free|return] [--ring mesh|rte_ring] "
				"[-- EAL arguments]\n");
			return -EINVAL;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct bench_cfg cfg = {.runs = 5, .objects = UINT64_C(1) << 23, .ring_slots = 1024};
	char *eal_argv[BENCH_EAL_ARGS_MAX + 1];
	int eal_argc = 0;
	int dash = argc;
	int rc = EXIT_FAILURE;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			dash = i;
			break;
		}
	}
	if (bench_parse(dash, argv, &cfg) != 0) {
		return EXIT_FAILURE;
	}
	eal_argv[eal_argc++] = argv[0];
	if (dash + 1 < argc) {
		if (argc - dash - 1 > BENCH_EAL_ARGS_MAX) {
			(void)fprintf(stderr, "sluice-bench-mesh: too many EAL arguments\n");
			return EXIT_FAILURE;
		}
		for (int i = dash + 1; i < argc; i++) {
			eal_argv[eal_argc++] = argv[i];
		}
	} else {
		for (size_t i = 0; i < RTE_DIM(bench_eal_default); i++) {
			eal_argv[eal_argc++] = bench_eal_default[i];
		}
	}
	eal_argv[eal_argc] = NULL;
	if (rte_eal_init(eal_argc, eal_argv) < 0) {
		(void)fprintf(stderr, "sluice-bench-mesh: EAL init failed\n");
		return EXIT_FAILURE;
	}
	unsigned worker = rte_get_next_lcore(-1, 1, 0);
	if (worker >= RTE_MAX_LCORE) {
		(void)fprintf(stderr, "sluice-bench-mesh: needs two lcores (main + one worker)\n");
		goto out_cleanup;
	}
	int sockets[2] = {(int)rte_socket_id(), (int)rte_lcore_to_socket_id(worker)};
	struct mesh *m = NULL;
	int err = mesh_create(2, cfg.ring_slots, sockets, &m);
	if (err != 0) {
		(void)fprintf(stderr, "sluice-bench-mesh: mesh_create: %s\n", strerror(-err));
		goto out_cleanup;
	}
	struct rte_ring *rings[2] = {NULL, NULL};
	if (cfg.is_rte_ring && bench_rings_create(cfg.ring_slots, sockets, rings) != 0) {
		(void)fprintf(stderr, "sluice-bench-mesh: rte_ring_create: %s\n",
			      rte_strerror(rte_errno));
		goto out_mesh;
	}
	/* Twice the ring so a fast producer can fill ring (0, 1) in both modes, plus what
	 * the two lcores' mempool caches may hold. */
	unsigned in_flight = 2 * cfg.ring_slots;
	struct rte_mempool *pool =
		rte_pktmbuf_pool_create("mesh_bench", in_flight + 4 * BENCH_POOL_CACHE,
					BENCH_POOL_CACHE, 0, RTE_MBUF_DEFAULT_BUF_SIZE, sockets[0]);
	if (pool == NULL) {
		(void)fprintf(stderr, "sluice-bench-mesh: mempool: %s\n", rte_strerror(rte_errno));
		goto out_rings;
	}
	struct bench_stash stash = {.cap = in_flight};
	stash.mbufs = calloc(in_flight, sizeof(*stash.mbufs));
	if (stash.mbufs == NULL) {
		goto out_pool;
	}
	if (cfg.is_return) {
		if (rte_pktmbuf_alloc_bulk(pool, stash.mbufs, in_flight) != 0) {
			(void)fprintf(stderr, "sluice-bench-mesh: mempool too small\n");
			goto out_stash;
		}
		stash.count = in_flight;
	}
	rc = EXIT_SUCCESS;
	for (size_t i = 0; i < RTE_DIM(bench_bursts) && rc == EXIT_SUCCESS; i++) {
		if (bench_burst(m, rings, pool, &cfg, &stash, bench_bursts[i], worker) != 0) {
			(void)fprintf(stderr, "sluice-bench-mesh: run failed\n");
			rc = EXIT_FAILURE;
		}
	}
	rte_pktmbuf_free_bulk(stash.mbufs, stash.count);
out_stash:
	free(stash.mbufs);
out_pool:
	/* The mesh frees what is left in its rings into the pool: destroy it first. */
	mesh_destroy(m);
	m = NULL;
	bench_rings_destroy(rings);
	rte_mempool_free(pool);
out_rings:
	bench_rings_destroy(rings);
out_mesh:
	mesh_destroy(m);
out_cleanup:
	(void)rte_eal_cleanup();
	return rc;
}
