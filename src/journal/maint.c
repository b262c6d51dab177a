/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The maintenance thread (journal/maint.h). Per journal it keeps, oldest first, a short
 * summary of every sealed segment whose index it has read or written: for each topic
 * the segment holds, its bytes and newest append time, with topics numbered per journal
 * so retention compares numbers, not names. It also keeps the newest segment's whole
 * index, whose dedupe state the next segment's index starts from. The directory is
 * listed only when the writer has sealed more since the last pass.
 *
 * Retention keeps up to journal_conf.segment_spares removed segments as spares (renamed,
 * offered to the writer once the rename is synced) and deletes the others.
 *
 * Counters: the slots this thread writes (INDEX_BUILT, INDEX_REBUILT, SEGMENTS_DELETED,
 * SEGMENTS_RECYCLED, RETENTION_BYTES, MAINT_ERRORS) are written by no shard once it runs, so the same
 * relaxed load-and-store as the writer's journal_count() is enough.
 */
#include "journal/maint.h"

#include "core/assert.h"
#include "core/log.h"
#include "journal/index.h"
#include "journal/journal_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A sealed segment with a valid index, as retention sees it. */
struct maint_seg {
	uint64_t base;
	uint64_t end; /* after its last entry */
	struct journal_retention_usage *usage;
	uint32_t nusage;
};

struct maint_topic {
	uint8_t len;
	uint8_t name[JOURNAL_RETENTION_TOPIC_BYTES_MAX];
};

struct maint_journal {
	struct journal *j;
	struct maint_seg *segs; /* oldest first */
	uint32_t nsegs;
	uint32_t segs_cap;
	uint64_t indexed_below;	   /* sealed_below when every segment below had an index */
	struct journal_index last; /* of segs[nsegs - 1], state included */
	bool have_last;
	/* Topics met in this journal's indexes, numbered in order of appearance. */
	struct maint_topic *topics;
	struct journal_retention *limits; /* resolved per topic */
	uint64_t *remaining;		  /* retention's scratch, per topic */
	uint32_t *seen;			  /* per topic: segment stamp when last summarised */
	uint32_t *seen_at;		  /* ... and its usage slot there */
	uint32_t ntopics;
	uint32_t topics_cap;
	uint32_t *slots; /* hash of topic names: topic number + 1, 0 = empty */
	uint32_t nslots; /* power of two, at least twice topics_cap */
	uint32_t stamp;
	struct journal_retention_segment *plan; /* scratch [segs_cap] */
	int logged_error; /* errno of the last error logged, 0 after a clean pass */
};

struct journal_maint {
	struct journal_maint_conf conf;
	cpu_set_t cpus;
	bool has_cpus;
	struct maint_journal *journals;
	unsigned n;
	pthread_t thread;
	bool started;
	pthread_mutex_t lock; /* guards stop, with wake */
	pthread_cond_t wake;
	bool stop;
};

static void maint_count(struct maint_journal *mj, enum journal_stat stat, uint64_t n)
{
	uint64_t *c = journal_counter_slot(mj->j, stat);

	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

/* Counts an error and logs it unless the same cause was logged since the last clean
 * pass: a disk that stays broken is one line, not one per second. */
__attribute__((format(printf, 3, 4))) static void maint_error(struct maint_journal *mj, int err,
							      const char *fmt, ...)
{
	char what[PATH_MAX + 256];
	va_list ap;

	maint_count(mj, JOURNAL_STAT_MAINT_ERRORS, 1);
	if (mj->logged_error == err) {
		return;
	}
	mj->logged_error = err;
	va_start(ap, fmt);
	(void)vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	sl_log(SL_LOG_ERR, JOURNAL_LOG, "maintenance: %s: %s; retrying every pass", what,
	       strerror(err));
}

/* Path of the segment based at base. */
static int maint_seg_path(const struct maint_journal *mj, uint64_t base, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/" JOURNAL_SEGMENT_NAME_FORMAT, mj->j->dir,
			 (unsigned long long)base);

	return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

/* ---- Topics ---- */

static uint32_t maint_topic_hash(const uint8_t *name, uint8_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (uint8_t i = 0; i < len; i++) {
		h = (h ^ name[i]) * 16777619u;
	}
	return h;
}

/* Puts topic t in the hash (at most half full: a free slot is always found). */
static void maint_slot_insert(struct maint_journal *mj, uint32_t t)
{
	uint32_t s = maint_topic_hash(mj->topics[t].name, mj->topics[t].len);

	while (mj->slots[s & (mj->nslots - 1)] != 0) {
		s++;
	}
	mj->slots[s & (mj->nslots - 1)] = t + 1;
}

/* Grows every per-topic array to twice its size. */
static int maint_topics_grow(struct maint_journal *mj)
{
	uint32_t cap = mj->topics_cap != 0 ? 2 * mj->topics_cap : 64;
	void *p;

#define MAINT_GROW(field)                                                                          \
	do {                                                                                       \
		p = realloc(mj->field, (size_t)cap * sizeof(*mj->field));                          \
		if (p == NULL) {                                                                   \
			return -ENOMEM;                                                            \
		}                                                                                  \
		mj->field = p;                                                                     \
	} while (0)
	MAINT_GROW(topics);
	MAINT_GROW(limits);
	MAINT_GROW(remaining);
	MAINT_GROW(seen);
	MAINT_GROW(seen_at);
#undef MAINT_GROW
	p = calloc((size_t)cap * 2, sizeof(*mj->slots));
	if (p == NULL) {
		return -ENOMEM;
	}
	memset(mj->seen + mj->topics_cap, 0, (size_t)(cap - mj->topics_cap) * sizeof(*mj->seen));
	free(mj->slots);
	mj->slots = p;
	mj->nslots = cap * 2;
	mj->topics_cap = cap;
	for (uint32_t t = 0; t < mj->ntopics; t++) {
		maint_slot_insert(mj, t);
	}
	return 0;
}

/* The number of topic name[0..len) in this journal, numbering it when new; -ENOMEM. */
static int64_t maint_topic_id(struct journal_maint *m, struct maint_journal *mj,
			      const uint8_t *name, uint8_t len)
{
	uint32_t s = maint_topic_hash(name, len);

	for (;; s++) {
		uint32_t t = mj->slots != NULL ? mj->slots[s & (mj->nslots - 1)] : 0;
		if (t == 0) {
			break;
		}
		if (mj->topics[t - 1].len == len &&
		    memcmp(mj->topics[t - 1].name, name, len) == 0) {
			return t - 1;
		}
	}
	if (mj->ntopics == mj->topics_cap && maint_topics_grow(mj) != 0) {
		return -ENOMEM;
	}
	uint32_t t = mj->ntopics++;
	mj->topics[t].len = len;
	memcpy(mj->topics[t].name, name, len);
	mj->limits[t] = journal_retention_resolve(m->conf.rules, name, len);
	mj->seen[t] = 0;
	maint_slot_insert(mj, t);
	return t;
}

/* ---- Indexing ---- */

/* Appends the summary of ix (the next sealed segment) to mj->segs. */
static int maint_seg_add(struct journal_maint *m, struct maint_journal *mj,
			 const struct journal_index *ix)
{
	struct maint_seg *s;

	if (mj->nsegs == mj->segs_cap) {
		uint32_t cap = mj->segs_cap != 0 ? 2 * mj->segs_cap : 64;
		void *p = realloc(mj->segs, (size_t)cap * sizeof(*mj->segs));
		if (p == NULL) {
			return -ENOMEM;
		}
		mj->segs = p;
		p = realloc(mj->plan, (size_t)cap * sizeof(*mj->plan));
		if (p == NULL) {
			return -ENOMEM;
		}
		mj->plan = p;
		mj->segs_cap = cap;
	}
	s = &mj->segs[mj->nsegs];
	*s = (struct maint_seg){.base = ix->base_position, .end = ix->end_position};
	s->usage = calloc(ix->nparts > 0 ? ix->nparts : 1, sizeof(*s->usage));
	if (s->usage == NULL) {
		return -ENOMEM;
	}
	mj->stamp++;
	for (uint32_t i = 0; i < ix->nparts; i++) {
		const struct journal_index_part *p = &ix->parts[i];
		int64_t t = maint_topic_id(m, mj, p->topic, p->topic_len);
		if (t < 0) {
			free(s->usage);
			return (int)t;
		}
		if (mj->seen[t] != mj->stamp) {
			mj->seen[t] = mj->stamp;
			mj->seen_at[t] = s->nusage;
			s->usage[s->nusage++] =
				(struct journal_retention_usage){.topic = (uint32_t)t};
		}
		struct journal_retention_usage *u = &s->usage[mj->seen_at[t]];
		u->bytes += p->bytes;
		u->max_ns = p->max_ns > u->max_ns ? p->max_ns : u->max_ns;
	}
	mj->nsegs++;
	return 0;
}

/* Builds and writes the index of the sealed segment at base into *ix; counts it as
 * `stat`. */
static int maint_index_build(struct journal_maint *m, struct maint_journal *mj, uint64_t base,
			     const char *idx_path, enum journal_stat stat, struct journal_index *ix)
{
	char seg_path[PATH_MAX];
	char message[512] = "";
	/* The previous segment's index carries the state this one continues. */
	const struct journal_state *prev =
		mj->have_last && mj->last.end_position <= base ? &mj->last.state : NULL;
	int rc = maint_seg_path(mj, base, seg_path, sizeof(seg_path));

	if (rc == 0) {
		rc = journal_index_build(seg_path, base, prev, m->conf.dedupe_window,
					 m->conf.producer_idle_ns, ix, message, sizeof(message));
	}
	if (rc != 0) {
		/* The message names the file, position and reason. */
		maint_error(mj, -rc, "cannot index %s", message[0] != '\0' ? message : seg_path);
		return rc;
	}
	rc = journal_index_write(idx_path, ix);
	if (rc != 0) {
		maint_error(mj, -rc, "cannot write %s", idx_path);
		journal_index_free(ix);
		return rc;
	}
	maint_count(mj, stat, 1);
	return 0;
}

/* Makes sure the sealed segment at base has a valid index and summarises it. */
static int maint_index_segment(struct journal_maint *m, struct maint_journal *mj, uint64_t base)
{
	char idx_path[PATH_MAX];
	struct journal_index ix;
	int rc = journal_index_path(mj->j->dir, base, idx_path, sizeof(idx_path));

	if (rc != 0) {
		maint_error(mj, -rc, "%s: index path too long", mj->j->dir);
		return rc;
	}
	rc = journal_index_read(idx_path, base, &ix);
	if (rc == -ENOENT || rc == -EPROTO) {
		rc = maint_index_build(
			m, mj, base, idx_path,
			rc == -ENOENT ? JOURNAL_STAT_INDEX_BUILT : JOURNAL_STAT_INDEX_REBUILT, &ix);
		if (rc != 0) {
			return rc;
		}
	} else if (rc != 0) {
		maint_error(mj, -rc, "cannot read %s", idx_path);
		return rc;
	}
	rc = maint_seg_add(m, mj, &ix);
	if (rc != 0) {
		maint_error(mj, -rc, "%s: cannot keep the summary of %s", mj->j->dir, idx_path);
		journal_index_free(&ix);
		return rc;
	}
	if (mj->have_last) {
		journal_index_free(&mj->last);
	}
	mj->last = ix;
	mj->have_last = true;
	return 0;
}

static int maint_sync_dir(struct maint_journal *mj)
{
	int fd = open(mj->j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = fd < 0 ? -errno : 0;

	if (rc == 0 && fsync(fd) != 0) {
		rc = -errno;
	}
	if (fd >= 0) {
		(void)close(fd);
	}
	if (rc != 0) {
		maint_error(mj, -rc, "cannot sync the directory %s after retention", mj->j->dir);
	}
	return rc;
}

/* True when name is an index file's ("<20 digits>.idx"), with its segment's base. */
static bool maint_index_name_parse(const char *name, uint64_t *base)
{
	uint64_t v = 0;

	if (strlen(name) != 24 || strcmp(name + 20, ".idx") != 0) {
		return false;
	}
	for (unsigned i = 0; i < 20; i++) {
		if (name[i] < '0' || name[i] > '9') {
			return false;
		}
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	*base = v;
	return true;
}

/*
 * Retention unlinks a segment, then its index: a crash in between leaves an index with
 * no segment, which start-up does not look at (it lists segments). Whenever the
 * directory is listed, removes the indexes based below the oldest segment.
 */
static void maint_remove_orphans(struct maint_journal *mj, uint64_t oldest)
{
	DIR *dir = opendir(mj->j->dir);
	char path[PATH_MAX];
	struct dirent *e;
	unsigned removed = 0;
	uint64_t base;

	if (dir == NULL) {
		maint_error(mj, errno, "cannot list %s", mj->j->dir);
		return;
	}
	while ((e = readdir(dir)) != NULL) {
		if (!maint_index_name_parse(e->d_name, &base) || base >= oldest ||
		    journal_index_path(mj->j->dir, base, path, sizeof(path)) != 0) {
			continue;
		}
		if (unlink(path) != 0 && errno != ENOENT) {
			maint_error(mj, errno, "cannot remove %s, whose segment is gone", path);
			continue;
		}
		removed++;
	}
	(void)closedir(dir);
	if (removed > 0 && maint_sync_dir(mj) == 0) {
		sl_log(SL_LOG_INFO, JOURNAL_LOG,
		       "%s: removed %u index file%s whose segments retention had deleted",
		       mj->j->dir, removed, removed == 1 ? "" : "s");
	}
}

/* Indexes every sealed segment not summarised yet, oldest first. */
static int maint_index_sealed(struct journal_maint *m, struct maint_journal *mj)
{
	uint64_t sealed = journal_sealed_below(mj->j);
	struct journal_dir d;
	int rc;

	if (sealed == mj->indexed_below) {
		return 0;
	}
	rc = journal_dir_list(mj->j->dir, &d);
	if (rc != 0) {
		maint_error(mj, -rc, "cannot list %s", mj->j->dir);
		return rc;
	}
	if (d.count > 0) {
		maint_remove_orphans(mj, d.segments[0].base_position);
	}
	for (unsigned i = 0; i < d.count && rc == 0; i++) {
		uint64_t base = d.segments[i].base_position;
		if (base >= sealed) {
			break;
		}
		if (mj->nsegs > 0 && base <= mj->segs[mj->nsegs - 1].base) {
			continue;
		}
		rc = maint_index_segment(m, mj, base);
	}
	journal_dir_free(&d);
	if (rc == 0) {
		mj->indexed_below = sealed;
	}
	return rc;
}

/* ---- Retention ---- */

/* Unlinks path, adding its size to *bytes; a file already gone is not an error. */
static int maint_unlink_file(struct maint_journal *mj, const char *path, uint64_t *bytes)
{
	struct stat st;
	uint64_t size = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;

	if (unlink(path) != 0) {
		if (errno == ENOENT) {
			return 0;
		}
		int rc = -errno;
		maint_error(mj, -rc, "retention cannot delete %s", path);
		return rc;
	}
	*bytes += size;
	return 0;
}

/*
 * Renames the segment at seg_path to the spare of its base when it has the size the
 * writer creates (a spare replaces one of those); *recycled says whether it did. Adds
 * its size to *bytes: it left the journal either way.
 */
static int maint_recycle_file(struct maint_journal *mj, const char *seg_path, uint64_t base,
			      uint64_t *bytes, bool *recycled)
{
	char spare_path[PATH_MAX];
	struct stat st;
	int n = snprintf(spare_path, sizeof(spare_path), "%s/" JOURNAL_SPARE_NAME_FORMAT,
			 mj->j->dir, (unsigned long long)base);

	*recycled = false;
	if (n < 0 || (size_t)n >= sizeof(spare_path) || stat(seg_path, &st) != 0 ||
	    (uint64_t)st.st_size != mj->j->conf.segment_bytes) {
		return maint_unlink_file(mj, seg_path, bytes);
	}
	if (rename(seg_path, spare_path) != 0) {
		int rc = -errno;
		maint_error(mj, -rc, "retention cannot rename %s to %s", seg_path, spare_path);
		return rc;
	}
	*bytes += (uint64_t)st.st_size;
	*recycled = true;
	return 0;
}

/* Removes segment s, then its index: the segment is kept as a spare when `recycle` and it
 * fits (*recycled says so), deleted otherwise. */
static int maint_unlink_segment(struct maint_journal *mj, const struct maint_seg *s, bool recycle,
				uint64_t *bytes, bool *recycled)
{
	char seg_path[PATH_MAX];
	char idx_path[PATH_MAX];
	int rc = maint_seg_path(mj, s->base, seg_path, sizeof(seg_path));

	*recycled = false;
	if (rc == 0) {
		rc = journal_index_path(mj->j->dir, s->base, idx_path, sizeof(idx_path));
	}
	if (rc == 0) {
		rc = recycle ? maint_recycle_file(mj, seg_path, s->base, bytes, recycled)
			     : maint_unlink_file(mj, seg_path, bytes);
	}
	return rc != 0 ? rc : maint_unlink_file(mj, idx_path, bytes);
}

/* Drops the first k summaries. */
static void maint_segs_drop(struct maint_journal *mj, uint32_t k)
{
	if (k == 0) {
		return; /* segs may not exist yet */
	}
	for (uint32_t i = 0; i < k; i++) {
		free(mj->segs[i].usage);
	}
	memmove(mj->segs, mj->segs + k, (size_t)(mj->nsegs - k) * sizeof(*mj->segs));
	mj->nsegs -= k;
}

/* Offers the spares renamed by this pass to the writer, once their renames are synced: a
 * spare's header is overwritten only when no crash can bring back its segment name. */
static void maint_offer_spares(struct maint_journal *mj, const uint64_t *bases, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		bool offered = journal_spare_push(mj->j, bases[i]);
		SL_ASSERT(offered); /* only this thread adds, and it counted the room first */
	}
}

static int maint_retain(struct maint_journal *mj, uint64_t now_ns)
{
	uint64_t bytes = 0;
	uint64_t spare_bases[JOURNAL_SPARES_MAX];
	uint32_t room = mj->j->conf.segment_spares - journal_spares(mj->j);
	uint32_t nspares = 0;
	uint32_t k;
	uint32_t done = 0;
	uint32_t deleted = 0;
	int rc = 0;

	if (mj->nsegs < 2) {
		return 0; /* the newest indexed segment always stays */
	}
	for (uint32_t i = 0; i < mj->nsegs; i++) {
		mj->plan[i] = (struct journal_retention_segment){.usage = mj->segs[i].usage,
								 .nusage = mj->segs[i].nusage};
	}
	k = journal_retention_plan(mj->plan, mj->nsegs, mj->limits, mj->ntopics, mj->remaining,
				   now_ns);
	if (k == 0) {
		return 0;
	}
	/* Readers skip ahead before the files go; the plan keeps the newest, so segs[k]
	 * exists. Release in journal_set_retained_start() pairs with readers' acquire. */
	journal_set_retained_start(mj->j, mj->segs[k].base);
	while (done < k && rc == 0) {
		bool recycled;
		rc = maint_unlink_segment(mj, &mj->segs[done], nspares < room, &bytes, &recycled);
		if (recycled) {
			spare_bases[nspares++] = mj->segs[done].base;
		}
		if (rc == 0) {
			deleted += recycled ? 0u : 1u;
			done++;
		}
	}
	/* Bytes of files gone count even when the rest of their segment is not. */
	maint_count(mj, JOURNAL_STAT_RETENTION_BYTES, bytes);
	if (done == 0 && nspares == 0) {
		return rc;
	}
	int sync_rc = maint_sync_dir(mj);
	if (sync_rc == 0) {
		maint_offer_spares(mj, spare_bases, nspares);
	}
	/* A spare not offered (the sync failed) stays on disk: the next start offers it. */
	maint_count(mj, JOURNAL_STAT_SEGMENTS_RECYCLED, nspares);
	maint_count(mj, JOURNAL_STAT_SEGMENTS_DELETED, deleted);
	if (done == 0) {
		return rc;
	}
	sl_log(SL_LOG_INFO, JOURNAL_LOG,
	       "%s: retention removed %u segment%s (%llu bytes, positions %llu..%llu; %u kept "
	       "as spare%s, %u deleted); data now starts at position %llu",
	       mj->j->dir, done, done == 1 ? "" : "s", (unsigned long long)bytes,
	       (unsigned long long)mj->segs[0].base, (unsigned long long)mj->segs[done - 1].end,
	       done - deleted, done - deleted == 1 ? "" : "s", deleted,
	       (unsigned long long)mj->segs[done].base);
	maint_segs_drop(mj, done);
	return rc != 0 ? rc : sync_rc;
}

/* ---- Passes and the thread ---- */

void journal_maint_run_once(struct journal_maint *m, uint64_t now_ns)
{
	for (unsigned i = 0; i < m->n; i++) {
		struct maint_journal *mj = &m->journals[i];
		/* Deleting waits for indexing: a segment goes only once summarised. */
		int rc = maint_index_sealed(m, mj);
		int retain_rc = maint_retain(mj, now_ns);
		if (rc == 0 && retain_rc == 0) {
			mj->logged_error = 0;
		}
	}
}

static uint64_t maint_realtime_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *maint_thread(void *arg)
{
	struct journal_maint *m = arg;
	struct timespec until;

	(void)pthread_mutex_lock(&m->lock);
	while (!m->stop) {
		(void)pthread_mutex_unlock(&m->lock);
		journal_maint_run_once(m, maint_realtime_ns());
		(void)clock_gettime(CLOCK_MONOTONIC, &until);
		uint64_t ns = (uint64_t)until.tv_nsec + (uint64_t)m->conf.period_ms * 1000000u;
		until.tv_sec += (time_t)(ns / 1000000000u);
		until.tv_nsec = (long)(ns % 1000000000u);
		(void)pthread_mutex_lock(&m->lock);
		int waited = 0;
		while (!m->stop && waited != ETIMEDOUT) {
			waited = pthread_cond_timedwait(&m->wake, &m->lock, &until);
		}
	}
	(void)pthread_mutex_unlock(&m->lock);
	return NULL;
}

int journal_maint_start(struct journal_maint *m)
{
	pthread_attr_t attr;
	int rc = pthread_attr_init(&attr);

	if (rc != 0) {
		return -rc;
	}
	if (m->has_cpus) {
		rc = pthread_attr_setaffinity_np(&attr, sizeof(m->cpus), &m->cpus);
	}
	if (rc == 0) {
		m->stop = false;
		rc = pthread_create(&m->thread, &attr, maint_thread, m);
	}
	(void)pthread_attr_destroy(&attr);
	if (rc != 0) {
		sl_log(SL_LOG_ERR, JOURNAL_LOG, "cannot start the maintenance thread: %s",
		       strerror(rc));
		return -rc;
	}
	(void)pthread_setname_np(m->thread, JOURNAL_MAINT_THREAD_NAME);
	m->started = true;
	return 0;
}

void journal_maint_stop(struct journal_maint *m)
{
	if (m == NULL || !m->started) {
		return;
	}
	(void)pthread_mutex_lock(&m->lock);
	m->stop = true;
	(void)pthread_cond_signal(&m->wake);
	(void)pthread_mutex_unlock(&m->lock);
	(void)pthread_join(m->thread, NULL);
	m->started = false;
}

void journal_maint_destroy(struct journal_maint *m)
{
	if (m == NULL) {
		return;
	}
	journal_maint_stop(m);
	for (unsigned i = 0; i < m->n; i++) {
		struct maint_journal *mj = &m->journals[i];
		maint_segs_drop(mj, mj->nsegs);
		if (mj->have_last) {
			journal_index_free(&mj->last);
		}
		free(mj->segs);
		free(mj->plan);
		free(mj->topics);
		free(mj->limits);
		free(mj->remaining);
		free(mj->seen);
		free(mj->seen_at);
		free(mj->slots);
	}
	(void)pthread_cond_destroy(&m->wake);
	(void)pthread_mutex_destroy(&m->lock);
	free(m->journals);
	free(m);
}

int journal_maint_create(const struct journal_maint_conf *conf, struct journal *const *journals,
			 unsigned n, struct journal_maint **out)
{
	struct journal_maint *m;
	pthread_condattr_t ca;

	*out = NULL;
	if (conf->rules == NULL || conf->period_ms < JOURNAL_MAINT_PERIOD_MS_MIN ||
	    conf->period_ms > JOURNAL_MAINT_PERIOD_MS_MAX || conf->dedupe_window == 0) {
		return -EINVAL;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL) {
		return -ENOMEM;
	}
	m->journals = calloc(n > 0 ? n : 1, sizeof(*m->journals));
	if (m->journals == NULL) {
		free(m);
		return -ENOMEM;
	}
	m->conf = *conf;
	if (conf->cpus != NULL) {
		m->cpus = *conf->cpus;
		m->has_cpus = true;
	}
	m->conf.cpus = NULL;
	m->n = n;
	for (unsigned i = 0; i < n; i++) {
		/* Nothing indexed yet: the first pass lists every directory. */
		m->journals[i] =
			(struct maint_journal){.j = journals[i], .indexed_below = UINT64_MAX};
	}
	/* The period is waited on the monotonic clock: a wall-clock step changes nothing. */
	(void)pthread_condattr_init(&ca);
	(void)pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	(void)pthread_cond_init(&m->wake, &ca);
	(void)pthread_condattr_destroy(&ca);
	(void)pthread_mutex_init(&m->lock, NULL);
	*out = m;
	return 0;
}
