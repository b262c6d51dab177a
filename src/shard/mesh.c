/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Creation and teardown of the ring mesh. The rings are plain rte_rings in SP/SC mode
 * sized exactly (RING_F_EXACT_SZ) so that --ring-slots is the number of batches in
 * flight between two shards. Ring names carry a per-process instance number because a
 * test may build several meshes in one EAL.
 */
#include "shard/mesh.h"

#include <rte_errno.h>
#include <rte_malloc.h>

#include <errno.h>
#include <stdio.h>

static unsigned mesh_instances;

unsigned mesh_count(const struct mesh *m, uint16_t from, uint16_t to)
{
	const struct rte_ring *r = m->rings[(unsigned)from * m->shards + to];

	return r == NULL ? 0 : rte_ring_count(r);
}

/* Frees the mbufs left in every ring of `rings`, then the rings and the array. */
static void mesh_rings_free(struct rte_ring **rings, unsigned count)
{
	struct rte_mbuf *left[64];

	for (unsigned i = 0; rings != NULL && i < count; i++) {
		struct rte_ring *r = rings[i];
		if (r == NULL) {
			continue;
		}
		unsigned n;
		while ((n = rte_ring_sc_dequeue_burst(r, (void **)left, RTE_DIM(left), NULL)) > 0) {
			rte_pktmbuf_free_bulk(left, n);
		}
		rte_ring_free(r);
	}
	rte_free(rings);
}

void mesh_destroy(struct mesh *m)
{
	if (m == NULL) {
		return;
	}
	mesh_rings_free(m->rings, (unsigned)m->shards * m->shards);
	mesh_rings_free(m->ctl_rings, (unsigned)m->shards * m->shards);
	rte_free(m);
}

/* Creates the rings of one set ("mesh" or "ctl") of mesh m. */
static int mesh_rings_create(struct mesh *m, const char *what, unsigned id, uint32_t ring_slots,
			     const int *sockets, struct rte_ring **rings)
{
	for (uint16_t from = 0; from < m->shards; from++) {
		for (uint16_t to = 0; to < m->shards; to++) {
			char name[RTE_RING_NAMESIZE];
			if (from == to) {
				continue;
			}
			(void)snprintf(name, sizeof(name), "%s%u_%u_%u", what, id, from, to);
			struct rte_ring *r =
				rte_ring_create(name, ring_slots, sockets[to],
						RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ);
			if (r == NULL) {
				return rte_errno > 0 ? -rte_errno : -ENOMEM;
			}
			rings[(unsigned)from * m->shards + to] = r;
		}
	}
	return 0;
}

int mesh_create(uint16_t shards, uint32_t ring_slots, const int *sockets, struct mesh **out)
{
	unsigned id = __atomic_fetch_add(&mesh_instances, 1, __ATOMIC_RELAXED);
	int rc;

	if (shards == 0 || ring_slots < MESH_RING_SLOTS_MIN || ring_slots > MESH_RING_SLOTS_MAX) {
		return -EINVAL;
	}
	struct mesh *m = rte_zmalloc("mesh", sizeof(*m), 0);
	if (m == NULL) {
		return -ENOMEM;
	}
	m->shards = shards;
	m->rings = rte_zmalloc("mesh_rings", (size_t)shards * shards * sizeof(*m->rings), 0);
	m->ctl_rings =
		rte_zmalloc("mesh_ctl_rings", (size_t)shards * shards * sizeof(*m->ctl_rings), 0);
	if (m->rings == NULL || m->ctl_rings == NULL) {
		rc = -ENOMEM;
		goto out_destroy;
	}
	rc = mesh_rings_create(m, "mesh", id, ring_slots, sockets, m->rings);
	if (rc == 0) {
		rc = mesh_rings_create(m, "ctl", id, ring_slots, sockets, m->ctl_rings);
	}
	if (rc != 0) {
		goto out_destroy;
	}
	*out = m;
	return 0;

out_destroy:
	mesh_destroy(m);
	return rc;
}
