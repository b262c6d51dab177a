/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Consumer groups: which one live member of a group receives a batch. The partition's
 * owner shard asks group_pick() once per batch for each group whose pattern matches
 * (the subscriptions outside groups each get the batch). Three strategies
 * (enum sl_group_strategy): round-robin; weighted, by smooth weighted round-robin so the
 * weights hold over any window of a few batches; and key-affine, by rendezvous (highest
 * random weight) hashing of the partition over the member ids, so a partition stays with
 * one member while membership holds and a member leaving or joining moves only its own
 * share. Pure and allocation-free after group_create(); one group belongs to one thread.
 */
#ifndef SL_ROUTE_GROUP_H
#define SL_ROUTE_GROUP_H

#include <sluice/wire.h>

#include <stdint.h>

/* Most members a group may have (its pick costs O(members) for WEIGHTED and KEY_AFFINE). */
#define GROUP_MEMBERS_MAX 4096u

struct group;

/*
 * Allocates an empty group of strategy ROUND_ROBIN, WEIGHTED or KEY_AFFINE for up to
 * members_max (1..GROUP_MEMBERS_MAX) members. Returns 0, -EINVAL, or -ENOMEM. The caller
 * owns *out.
 */
int group_create(enum sl_group_strategy strategy, uint32_t members_max, struct group **out);

/* Frees g (NULL is a no-op). */
void group_destroy(struct group *g);

/*
 * Empties g and gives it `strategy` (ROUND_ROBIN, WEIGHTED or KEY_AFFINE), so that a shard
 * can keep a pool of groups created at start-up and reuse one for any new group. Returns
 * 0 or -EINVAL (strategy out of range; g unchanged).
 */
int group_reset(struct group *g, enum sl_group_strategy strategy);

/*
 * The id a member is known by in every shard: a mix of the subscription's subscriber id
 * and subscription id. Key-affine picks depend on member ids only, so every shard (and a
 * restarted router) hands a partition to the same member.
 */
uint64_t group_member_id(uint64_t subscriber_id, uint32_t subscription_id);

/*
 * Adds a member with weight 1..SL_WIRE_WEIGHT_MAX (used by WEIGHTED only). Returns 0,
 * -EINVAL (weight out of range), -EEXIST (member_id already in), or -ENOSPC (full).
 * Restarts the weighted rotation; key-affine partitions move only to the new member.
 */
int group_join(struct group *g, uint64_t member_id, uint16_t weight);

/* Removes a member. Returns 0 or -ENOENT. Only its key-affine partitions move. */
int group_leave(struct group *g, uint64_t member_id);

/* Members now in g. */
uint32_t group_size(const struct group *g);

/* The strategy g was created with. */
enum sl_group_strategy group_strategy(const struct group *g);

/* Incremented by every join and leave: a caller caching key-affine picks per partition
 * compares it. */
uint64_t group_generation(const struct group *g);

/*
 * The member that receives the next batch of (topic, partition), topic named by its
 * route_topic_hash(). ROUND_ROBIN and WEIGHTED advance their rotation; KEY_AFFINE is a
 * pure function of the key and the member ids. Returns 0 with *member_id set, or -ENOENT
 * when the group is empty.
 */
int group_pick(struct group *g, uint32_t topic_hash, uint32_t partition, uint64_t *member_id);

#endif
