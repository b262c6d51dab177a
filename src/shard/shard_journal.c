/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The shard's side of its journal: opening it (which hands the recovered partitions and
 * producer streams to the shard's tables), and the durable-ack queue. An ack at level
 * durable is built when its batch is appended, then parked in a FIFO with the journal
 * position its batch ends at; each loop iteration sends the acks whose position the
 * journal's durable end has reached. If the journal fails for good, the acks still
 * waiting can never be honoured: they are turned into NACK "storage".
 */
#include "shard/shard_int.h"

#include "core/assert.h"
#include "core/log.h"

#include <errno.h>
#include <string.h>
#include <time.h>

uint64_t shard_clock_realtime_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int shard_journal_open(struct shard *s, const struct journal_conf *conf)
{
	s->now_ns = shard_clock_realtime_ns();
	struct journal_recovery rec = {
		.window = s->dedupe_window,
		.idle_ns = s->producer_idle_ns,
		.now_ns = s->now_ns,
		.partition = shard_recover_partition,
		.stream = shard_recover_stream,
		.ctx = s,
	};
	int rc = journal_open(conf, &rec, &s->journal);

	if (rc == -EPROTO) {
		sl_log(SL_LOG_ERR, "shard",
		       "shard %u: the journal in %s cannot be used (see the message above; a "
		       "journal holding partitions another shard owns was written with a "
		       "different --shards, which a data directory cannot change)",
		       s->index, conf->dir);
	} else if (rc == -ENOSPC) {
		sl_log(SL_LOG_ERR, "shard",
		       "shard %u: the journal in %s holds more partitions than "
		       "--partitions-max (%u)",
		       s->index, conf->dir, s->partitions_max);
	}
	if (rc != 0) {
		return rc;
	}
	rc = shard_replays_create(s);
	if (rc != 0) {
		sl_log(SL_LOG_ERR, "shard", "shard %u: cannot create %u replay cursors: %s",
		       s->index, s->env->conf->replay_cursors, strerror(-rc));
		shard_replays_destroy(s);
		(void)journal_close(s->journal);
		s->journal = NULL;
		return rc;
	}
	if (s->replay_streams_lost > 0) {
		sl_log(SL_LOG_WARNING, "shard",
		       "shard %u: %llu producer streams in the journal did not fit "
		       "--producers-max (%u): their next batch must be a stream head, and a "
		       "retransmit of their last batches may be appended again",
		       s->index, (unsigned long long)s->replay_streams_lost, s->producers_max);
	}
	return 0;
}

void shard_durable_push(struct shard *s, struct rte_mbuf *m, uint32_t len, uint64_t end)
{
	uint32_t i = s->durable_tail & (s->durable_acks_max - 1);

	SL_ASSERT_HOT(shard_durable_has_room(s));
	m->data_len = (uint16_t)len;
	m->pkt_len = len;
	s->durable_mbuf[i] = m;
	s->durable_len[i] = (uint16_t)len;
	s->durable_end[i] = end;
	s->durable_tail++;
}

/* Turns parked ack m into NACK "storage": its batch will never be durable. */
static void shard_durable_refuse(struct shard *s, struct rte_mbuf *m)
{
	struct wire_frame f;

	shard_frame_trusted(m, &f);
	/* The ack echoes the batch's identity: answer as if to the PRODUCE itself. */
	f.hdr.type = SL_WIRE_PRODUCE;
	shard_count(s, SL_STAT_DURABLE_NACKS, 1);
	shard_count(s, SL_STAT_DROP_STORAGE, 1);
	shard_reply_nack(s, m, &f.hdr, f.topic, SL_NACK_STORAGE, 0, 0);
}

unsigned shard_journal_poll(struct shard *s)
{
	unsigned done = journal_poll(s->journal, s->now_us);
	uint64_t durable = journal_durable_end(s->journal);
	bool failed = journal_has_failed(s->journal);

	while (s->durable_head != s->durable_tail) {
		uint32_t i = s->durable_head & (s->durable_acks_max - 1);
		if (s->durable_end[i] <= durable) {
			shard_count(s, SL_STAT_ACKS, 1);
			shard_count(s, SL_STAT_DURABLE_ACKS, 1);
			shard_tx_push(s, s->durable_mbuf[i], s->durable_len[i]);
		} else if (failed) {
			shard_durable_refuse(s, s->durable_mbuf[i]);
		} else {
			break; /* ends increase along the queue */
		}
		s->durable_head++;
		done++;
	}
	return done;
}

/* The SL_STAT_JOURNAL_* blocks mirror enum journal_stat, in the same order: the journal
 * counts straight into the shard's counters (journal_conf.counters, counters_more). */
static_assert(SL_STAT_JOURNAL_MAINT_ERRORS - SL_STAT_JOURNAL_BATCHES + 1 == JOURNAL_STAT_MORE_FIRST,
	      "SL_STAT_JOURNAL_* mirrors enum journal_stat");
static_assert(SL_STAT_JOURNAL_SEGMENTS_REUSED - SL_STAT_JOURNAL_SEGMENTS_RECYCLED + 1 ==
		      JOURNAL_STAT_COUNT - JOURNAL_STAT_MORE_FIRST,
	      "SL_STAT_JOURNAL_* mirrors enum journal_stat");
static_assert(SL_STAT_JOURNAL_TORN_TRUNCATIONS - SL_STAT_JOURNAL_BATCHES ==
		      JOURNAL_STAT_TORN_TRUNCATIONS,
	      "SL_STAT_JOURNAL_* mirrors enum journal_stat");
static_assert(SL_STAT_JOURNAL_FSYNC_US_LT_50 - SL_STAT_JOURNAL_BATCHES ==
		      JOURNAL_STAT_FSYNC_US_LT_50,
	      "SL_STAT_JOURNAL_* mirrors enum journal_stat");
