/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The ring mesh: one single-producer single-consumer rte_ring per ordered pair of
 * shards, through which a shard hands a batch (its mbuf) to the shard owning the batch's
 * partition. Pushing transfers ownership of the mbuf to the consumer shard. Rings live
 * on the consumer's NUMA node. No locks: ring (from, to) is pushed only by shard `from`
 * and popped only by shard `to`. A second set of rings of the same shape carries control
 * messages (subscription changes broadcast to every shard), so that a full data ring
 * never holds up a SUBSCRIBE and control messages never sit behind batches.
 */
#ifndef SL_SHARD_MESH_H
#define SL_SHARD_MESH_H

#include <rte_mbuf.h>
#include <rte_ring.h>

#include <stdint.h>

/* Bounds of --ring-slots. */
#define MESH_RING_SLOTS_MIN 16u
#define MESH_RING_SLOTS_MAX (1u << 20)

struct mesh {
	uint16_t shards;
	struct rte_ring **rings;     /* [from * shards + to]; NULL on the diagonal */
	struct rte_ring **ctl_rings; /* control messages, same indexing */
};

/*
 * Creates the rings of `shards` shards, each holding exactly `ring_slots` mbufs, ring
 * (from, to) on NUMA node sockets[to]. Returns 0, -EINVAL for bounds out of range, or
 * -ENOMEM / the rte_ring error; nothing stays allocated on failure. The caller owns *out.
 */
int mesh_create(uint16_t shards, uint32_t ring_slots, const int *sockets, struct mesh **out);

/* Frees every mbuf still in a ring, then the rings and the mesh (NULL is a no-op). Call
 * only once no shard runs. */
void mesh_destroy(struct mesh *m);

/*
 * Shard `from` hands mbufs[0..k) to shard `to` and returns k (0..n); it still owns the
 * rest (ring full). The mbufs stay mbufs of `from`'s pool: shard `to` frees them (or its
 * driver does, after TX) into that pool, which is multi-producer safe; what crosses the
 * ring is ownership, never a copy.
 */
static inline unsigned mesh_push_burst(struct mesh *m, uint16_t from, uint16_t to,
				       struct rte_mbuf **mbufs, unsigned n)
{
	return rte_ring_sp_enqueue_burst(m->rings[(unsigned)from * m->shards + to],
					 (void *const *)mbufs, n, NULL);
}

/* Shard `to` takes up to n mbufs handed by shard `from`; returns how many (0..n). */
static inline unsigned mesh_pop_burst(struct mesh *m, uint16_t from, uint16_t to,
				      struct rte_mbuf **mbufs, unsigned n)
{
	return rte_ring_sc_dequeue_burst(m->rings[(unsigned)from * m->shards + to], (void **)mbufs,
					 n, NULL);
}

/* Control messages: as mesh_push_burst()/mesh_pop_burst(), on the control rings. Each
 * mbuf carries one message in its data; pushing transfers ownership. */
static inline unsigned mesh_ctl_push_burst(struct mesh *m, uint16_t from, uint16_t to,
					   struct rte_mbuf **mbufs, unsigned n)
{
	return rte_ring_sp_enqueue_burst(m->ctl_rings[(unsigned)from * m->shards + to],
					 (void *const *)mbufs, n, NULL);
}

static inline unsigned mesh_ctl_pop_burst(struct mesh *m, uint16_t from, uint16_t to,
					  struct rte_mbuf **mbufs, unsigned n)
{
	return rte_ring_sc_dequeue_burst(m->ctl_rings[(unsigned)from * m->shards + to],
					 (void **)mbufs, n, NULL);
}

/* Free slots of control ring (from, to). Only shard `from` pushes, so what it reads can
 * only grow until it pushes: a push of that many afterwards cannot fail. */
static inline unsigned mesh_ctl_free_count(const struct mesh *m, uint16_t from, uint16_t to)
{
	return rte_ring_free_count(m->ctl_rings[(unsigned)from * m->shards + to]);
}

/* Mbufs waiting in ring (from, to). For tests and the control plane. */
unsigned mesh_count(const struct mesh *m, uint16_t from, uint16_t to);

#endif
