/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Start-up recovery of a journal's state from its segment indexes. The newest sealed
 * segment with a valid index that matches its segment gives the state at its end; only
 * the segments after it are scanned (journal_scan_from(), CRC-checked, torn-tail rule
 * unchanged), their entries applied to that state and, for those that are sealed, built
 * into indexes on the way. Older sealed segments whose index is missing or damaged get
 * one rebuilt from the segment and the index before it. Start-up time thus depends on
 * the tail since the last sealed segment, not on the journal's size; sealed segments are
 * trusted as Kafka trusts its recovery point: they were synced before the next segment
 * got data, and fully checked when they were indexed.
 */
#include "journal/journal_int.h"

#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What the scan callback needs: the state and the index being built. */
struct recover_scan {
	struct journal_recovered *out;
	struct journal_index_builder b;
	bool building;
	unsigned cur; /* segment the builder indexes */
	int err;      /* of building or writing an index */
};

static void recover_idx_path(const struct journal_dir *d, unsigned i, char *out, size_t len)
{
	if (journal_index_path(d->path, d->segments[i].base_position, out, len) != 0) {
		out[0] = '\0';
	}
}

static const char *recover_why(int rc)
{
	if (rc == -ENOENT) {
		return "missing";
	}
	if (rc == -EPROTO) {
		return "damaged or of an unknown version";
	}
	return strerror(-rc);
}

/* Writes the index of sealed segment i; counts it, and warns when it replaces one. */
static int recover_write(struct journal_recovered *out, unsigned i, const struct journal_index *ix)
{
	char path[PATH_MAX];

	recover_idx_path(&out->d, i, path, sizeof(path));
	int rc = journal_index_write(path, ix);
	if (rc != 0) {
		sl_log(SL_LOG_ERR, JOURNAL_LOG, "cannot write %s: %s", path, strerror(-rc));
		return rc;
	}
	out->index_rebuilt++;
	if (out->missing[i] != -ENOENT) {
		sl_log(SL_LOG_WARNING, JOURNAL_LOG, "rebuilt %s: the index was %s", path,
		       recover_why(out->missing[i]));
	} else {
		out->missing_built++;
		out->missing_last = i;
	}
	return 0;
}

/* Reads segment i's header for its capacity (left 0 when the header is not valid). */
static int recover_probe_capacity(struct journal_recovered *out, unsigned i)
{
	char path[PATH_MAX];
	uint8_t block[JOURNAL_BLOCK_BYTES];
	struct journal_segment_header h;
	struct journal_segment_info *s = &out->d.segments[i];

	if (snprintf(path, sizeof(path), "%s/%s", out->d.path, s->name) >= (int)sizeof(path)) {
		return -ENAMETOOLONG;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	int rc = journal_pread_zero(fd, block, sizeof(block), 0);
	(void)close(fd);
	if (rc == 0 && journal_segment_header_decode(block, sizeof(block), &h) == JOURNAL_OK &&
	    h.base_position == s->base_position) {
		s->capacity = h.segment_bytes - JOURNAL_BLOCK_BYTES;
	}
	return rc;
}

/* The index of segment i read whole: valid, and matching its segment's header. */
static int recover_read_index(struct journal_recovered *out, unsigned i, struct journal_index *ix)
{
	char path[PATH_MAX];
	const struct journal_segment_info *s = &out->d.segments[i];

	int rc = s->capacity == 0 ? recover_probe_capacity(out, i) : 0;

	memset(ix, 0, sizeof(*ix));
	if (rc != 0) {
		return rc;
	}
	recover_idx_path(&out->d, i, path, sizeof(path));
	rc = journal_index_read(path, s->base_position, ix);
	if (rc == 0 && (s->capacity == 0 || ix->end_position > s->base_position + s->capacity)) {
		journal_index_free(ix);
		rc = -EPROTO;
	}
	return rc;
}

/* Finds the newest segment whose index is valid: out->indexed and out->st from it. */
static int recover_find_indexed(struct journal_recovered *out)
{
	struct journal_index ix;

	for (unsigned n = out->d.count; n > 0; n--) {
		unsigned i = n - 1;
		int rc = recover_read_index(out, i, &ix);
		if (rc == -ENOMEM) {
			return rc;
		}
		out->missing[i] = rc;
		if (rc == 0) {
			out->indexed = (int)i;
			out->st = ix.state;
			memset(&ix.state, 0, sizeof(ix.state));
			journal_index_free(&ix);
			return 0;
		}
	}
	return 0;
}

static int recover_builder_start(struct recover_scan *rs, unsigned i)
{
	rs->cur = i;
	rs->building = journal_index_builder_init(&rs->b, rs->out->d.segments[i].base_position,
						  &rs->out->st) == 0;
	return rs->building ? 0 : -ENOMEM;
}

/* Segment rs->cur is sealed and read: its index is written, and the next one started. */
static int recover_builder_seal(struct recover_scan *rs)
{
	struct journal_index ix;
	unsigned i = rs->cur;
	int rc;

	rs->building = false;
	rc = journal_index_builder_finish(&rs->b, rs->out->d.segments[i].end_position, &ix);
	if (rc == 0) {
		rc = recover_write(rs->out, i, &ix);
		journal_index_free(&ix);
	}
	return rc != 0 ? rc : recover_builder_start(rs, i + 1);
}

static int recover_entry(void *ctx, const struct journal_entry *e, unsigned segment)
{
	struct recover_scan *rs = ctx;

	while (rs->err == 0 && rs->cur < segment) {
		rs->err = recover_builder_seal(rs);
	}
	if (rs->err == 0) {
		rs->err = journal_index_builder_add(&rs->b, e);
	}
	return rs->err != 0 ? -ECANCELED : 0;
}

/* Scans the segments after the indexed one, indexing those that turn out sealed. */
static int recover_scan_tail(struct journal_recovered *out)
{
	struct recover_scan rs = {.out = out};
	unsigned first = (unsigned)(out->indexed + 1);
	uint64_t first_base = 0;
	int rc;

	if (out->indexed >= 0) {
		const struct journal_segment_info *s = &out->d.segments[out->indexed];
		first_base = s->base_position + s->capacity;
	}
	out->next_base = first_base;
	if (first >= out->d.count) {
		memset(&out->res, 0, sizeof(out->res));
		out->res.end_segment = out->d.count;
		return 0;
	}
	rc = recover_builder_start(&rs, first);
	if (rc == 0) {
		rc = journal_scan_from(&out->d, first, first_base, recover_entry, &rs, &out->res);
	}
	if (rc == -ECANCELED && rs.err != 0) {
		rc = rs.err;
	}
	/* Sealed: every segment before the one appending continues in. */
	while (rc == 0 && !out->res.corrupt && rs.building && rs.cur < out->res.end_segment &&
	       out->res.end_segment < out->d.count) {
		rc = recover_builder_seal(&rs);
	}
	if (rs.building) {
		journal_index_builder_free(&rs.b);
	}
	return rc;
}

/* Rebuilds indexes [from, to] from the state after segment from - 1 (prev, or none). */
static int recover_rebuild_range(struct journal_recovered *out, unsigned from, unsigned to,
				 struct journal_state *prev)
{
	char seg[PATH_MAX];
	char message[512];
	struct journal_index ix;
	int rc = 0;

	for (unsigned i = from; i <= to && rc == 0; i++) {
		const struct journal_segment_info *s = &out->d.segments[i];
		if (snprintf(seg, sizeof(seg), "%s/%s", out->d.path, s->name) >= (int)sizeof(seg)) {
			return -ENAMETOOLONG;
		}
		rc = journal_index_build(seg, s->base_position, prev, out->st.window,
					 out->st.idle_ns, &ix, message, sizeof(message));
		if (rc == -EPROTO) {
			sl_log(SL_LOG_ERR, JOURNAL_LOG,
			       "%s; the journal is corrupt: see `sluice journal verify`", message);
		}
		if (rc != 0) {
			break;
		}
		rc = out->missing[i] != 0 ? recover_write(out, i, &ix) : 0;
		journal_state_free(prev);
		*prev = ix.state;
		memset(&ix.state, 0, sizeof(ix.state));
		journal_index_free(&ix);
	}
	return rc;
}

/*
 * Older sealed segments (before the indexed one) are checked cheaply (index header);
 * the span from the oldest bad one to the newest bad one is rebuilt, starting from the
 * newest index before it that reads valid in full.
 */
static int recover_rebuild_older(struct journal_recovered *out)
{
	int lo = -1;
	int hi = -1;
	struct journal_state prev;
	struct journal_index ix;
	char path[PATH_MAX];

	for (int i = 0; i < out->indexed; i++) {
		recover_idx_path(&out->d, (unsigned)i, path, sizeof(path));
		out->missing[i] =
			journal_index_check_header(path, out->d.segments[i].base_position);
		if (out->missing[i] != 0) {
			lo = lo < 0 ? i : lo;
			hi = i;
		}
	}
	if (lo < 0) {
		return 0;
	}
	int from = lo;
	memset(&prev, 0, sizeof(prev));
	while (from > 0) {
		int rc = recover_read_index(out, (unsigned)from - 1, &ix);
		if (rc == 0) {
			prev = ix.state;
			memset(&ix.state, 0, sizeof(ix.state));
			journal_index_free(&ix);
			break;
		}
		from--;
		out->missing[from] = rc;
	}
	if (prev.lookup == NULL) {
		int rc = journal_state_init(&prev, out->st.window, out->st.idle_ns);
		if (rc != 0) {
			return rc;
		}
	}
	int rc = recover_rebuild_range(out, (unsigned)from, (unsigned)hi, &prev);
	journal_state_free(&prev);
	return rc;
}

static int recover_state_init(struct journal_recovered *out, const struct journal_recovery *rec)
{
	uint32_t window = rec != NULL ? rec->window : 1;
	uint64_t idle_ns = rec != NULL ? rec->idle_ns : 0;

	if (out->indexed < 0) {
		return journal_state_init(&out->st, window, idle_ns);
	}
	/* The flags may have changed since the index was written. */
	out->st.idle_ns = idle_ns;
	return journal_state_set_window(&out->st, window);
}

int journal_recover_state(const char *dir, const struct journal_recovery *rec,
			  struct journal_recovered *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	out->indexed = -1;
	rc = journal_dir_list(dir, &out->d);
	if (rc != 0) {
		sl_log(SL_LOG_ERR, JOURNAL_LOG, "cannot list %s: %s", dir, strerror(-rc));
		return rc;
	}
	out->missing = calloc(out->d.count + 1u, sizeof(*out->missing));
	rc = out->missing == NULL ? -ENOMEM : recover_find_indexed(out);
	if (rc == 0) {
		rc = recover_state_init(out, rec);
	}
	if (rc == 0) {
		rc = recover_scan_tail(out);
	}
	if (rc == 0 && !out->res.corrupt) {
		rc = recover_rebuild_older(out);
	}
	if (out->missing_built > 0) {
		sl_log(SL_LOG_WARNING, JOURNAL_LOG,
		       "%s: built %u missing segment indexes (up to %s's); the next start reads "
		       "only the segments after the newest index",
		       dir, out->missing_built, out->d.segments[out->missing_last].name);
	}
	return rc;
}

int journal_recover_hand_over(struct journal_recovered *r, const struct journal_recovery *rec)
{
	if (rec == NULL) {
		return 0;
	}
	journal_state_prune(&r->st, rec->now_ns);
	for (uint32_t i = 0; i < r->st.nparts && rec->partition != NULL; i++) {
		const struct journal_state_partition *p = &r->st.parts[i];
		int rc = rec->partition(rec->ctx, p->topic, p->topic_len, p->partition,
					p->next_offset);
		if (rc != 0) {
			return rc;
		}
	}
	for (uint32_t i = 0; i < r->st.nstreams && rec->stream != NULL; i++) {
		const struct journal_state_stream *s = &r->st.streams[i];
		int rc = rec->stream(rec->ctx, &r->st.parts[s->part], s, r->st.window);
		if (rc != 0) {
			return rc;
		}
	}
	return 0;
}

void journal_recovered_free(struct journal_recovered *r)
{
	journal_dir_free(&r->d);
	journal_state_free(&r->st);
	free(r->missing);
	r->missing = NULL;
}
