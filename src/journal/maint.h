/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Journal maintenance, off the shard loops: one thread per process ("sluice-maint", on
 * the main lcore's CPUs) that, every period, indexes each shard journal's newly sealed
 * segments (journal/index.h) and applies retention (journal/retention.h), deleting whole
 * segments oldest first. Building an index reads a whole segment and unlinking a large
 * file can take milliseconds: neither may stall a shard. It shares with a shard only what
 * journal.h says another thread may touch: journal_sealed_below() (what it may read and
 * delete), journal_set_retained_start() (readers skip what it is about to delete) and
 * its own counters. Allocates: it is not a shard.
 */
#ifndef SL_JOURNAL_MAINT_H
#define SL_JOURNAL_MAINT_H

#include "journal/journal.h"
#include "journal/retention.h"

#include <sched.h>
#include <stdint.h>

#define JOURNAL_MAINT_PERIOD_MS_MIN 10u
#define JOURNAL_MAINT_PERIOD_MS_MAX 3600000u
#define JOURNAL_MAINT_THREAD_NAME "sluice-maint"

struct journal_maint_conf {
	const struct journal_retention_rules *rules; /* borrowed for the maint's life */
	uint32_t period_ms; /* between passes of the thread, PERIOD_MS_MIN..MAX */
	/* Dedupe state of an index built with no previous segment's index to start from
	 * (journal_index_build()): the shard's --dedupe-window and --producer-idle-s. */
	uint32_t dedupe_window;
	uint64_t producer_idle_ns;
	const cpu_set_t *cpus; /* the thread's CPUs (copied); NULL: inherited */
};

struct journal_maint;

/*
 * Creates the maintenance of journals[0..n) (borrowed: they must outlive it, and may
 * not close before journal_maint_stop()). Nothing runs yet. Returns 0, -EINVAL for a
 * bad conf, or -ENOMEM.
 */
int journal_maint_create(const struct journal_maint_conf *conf, struct journal *const *journals,
			 unsigned n, struct journal_maint **out);

/*
 * One pass over every journal at now_ns (CLOCK_REALTIME, the clock of append times):
 * writes the index of each sealed segment lacking a valid one (chaining the dedupe
 * state from the previous segment's index), then deletes the oldest indexed segments
 * retention lets go (never the newest indexed one), moving retained_start first,
 * renaming the segment to a spare (while the journal holds fewer than its
 * conf.segment_spares) or unlinking it, then unlinking its index, syncing the directory and
 * offering the new spares to the journal's writer (and removes indexes a crash left
 * without their segment). Errors are logged once per cause
 * and counted (MAINT_ERRORS), and retried at the next pass. Blocks on file I/O. Call
 * either this (tests) or journal_maint_start(), not both.
 */
void journal_maint_run_once(struct journal_maint *m, uint64_t now_ns);

/* Starts the thread: a pass every period_ms. Returns 0 or -errno of pthread_create. */
int journal_maint_start(struct journal_maint *m);

/* Stops the thread after its current pass (no-op when not started). Blocks that long. */
void journal_maint_stop(struct journal_maint *m);

/* Stops it and frees m (NULL is a no-op). */
void journal_maint_destroy(struct journal_maint *m);

#endif
