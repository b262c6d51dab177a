/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * `sluice journal verify|dump|stats|index DIR`: offline inspection of the router's
 * journals. DIR is a --data-dir (one shard-NNN directory per shard) or one shard's
 * directory. Every shard is read whole with journal_scan(), the walk the router recovers
 * the tail with, so the tools also see damage in old segments that start-up no longer
 * reads; verify also checks each sealed segment's index against a rebuild. verify, dump
 * and stats open files O_RDONLY and work while the router runs (they only probe the data
 * directory's lock, to say so, and skip the segments retention removes as they read);
 * index writes the missing or damaged segment indexes (atomically, the same bytes the
 * router would write) under the data directory's lock, refused while a router holds it.
 */
#include "cli/cli.h"

#include "core/assert.h"
#include "core/wire.h"
#include "journal/index.h"
#include "journal/lock.h"
#include "journal/scan.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* Shard directories looked at in one data directory, at most. */
#define JOURNAL_CLI_SHARDS_MAX 4096u
/* `index` with no valid index to copy them from: sluiced's --dedupe-window and
 * --producer-idle-s defaults (the router adapts a stored window to its own at start). */
#define JOURNAL_CLI_WINDOW_DEFAULT 32u
#define JOURNAL_CLI_IDLE_NS_DEFAULT (600ull * 1000000000ull)

/* ---- flags ---- */

enum {
	JOURNAL_OPT_TOPIC = 256,
	JOURNAL_OPT_PARTITION,
	JOURNAL_OPT_FROM,
	JOURNAL_OPT_FORMAT,
	JOURNAL_OPT_JSON,
	JOURNAL_OPT_HELP,
};

static const struct option journal_options[] = {
	{"topic", required_argument, NULL, JOURNAL_OPT_TOPIC},
	{"partition", required_argument, NULL, JOURNAL_OPT_PARTITION},
	{"from", required_argument, NULL, JOURNAL_OPT_FROM},
	{"format", required_argument, NULL, JOURNAL_OPT_FORMAT},
	{"json", no_argument, NULL, JOURNAL_OPT_JSON},
	{"help", no_argument, NULL, JOURNAL_OPT_HELP},
	{NULL, 0, NULL, 0},
};

static void journal_usage(FILE *f)
{
	fputs("usage: sluice journal verify DIR\n"
	      "       sluice journal dump DIR [--topic T] [--partition P] [--from OFFSET]\n"
	      "                               [--format text|json]\n"
	      "       sluice journal stats DIR [--json]\n"
	      "       sluice journal index DIR\n"
	      "Reads journals offline (verify, dump, stats: read-only, safe while the router\n"
	      "runs). DIR is a router's --data-dir (shard-NNN directories inside) or one\n"
	      "shard's directory. index takes the data directory's LOCK and is refused while\n"
	      "a router runs there.\n"
	      "\n"
	      "  verify           check every segment, entry CRC, per-partition offset\n"
	      "                   continuity and segment index; exit 0 only when every shard\n"
	      "                   is intact (a missing index is reported, not an error)\n"
	      "  index            write the missing or damaged indexes of sealed segments\n"
	      "                   (what the router does at start); run it with the router down\n"
	      "  dump             print every event, one line each\n"
	      "  stats            segments, positions, sizes, times and partitions per shard\n"
	      "  --topic T        dump: only topic T\n"
	      "  --partition P    dump: only partition P\n"
	      "  --from OFFSET    dump: only events at or after OFFSET (in each partition)\n"
	      "  --format F       dump: text (default) or json (one object per line)\n"
	      "  --json           stats: one JSON object\n"
	      "  --help           this text\n",
	      f);
}

static int journal_flag_error(char *err, const char *flag, const char *cmd)
{
	snprintf(err, CLI_ERR_BYTES, "%s: not a flag of `sluice journal %s`", flag, cmd);
	return -EINVAL;
}

static int journal_flag(int c, struct cli_journal_opts *o, const char *cmd, char *err)
{
	uint64_t v;
	bool dump = o->cmd == CLI_JOURNAL_DUMP;

	switch (c) {
	case JOURNAL_OPT_TOPIC:
		if (!dump) {
			return journal_flag_error(err, "--topic", cmd);
		}
		if (!wire_topic_is_valid((const uint8_t *)optarg, strlen(optarg))) {
			snprintf(err, CLI_ERR_BYTES, "--topic: '%s' is not a valid topic", optarg);
			return -EINVAL;
		}
		o->topic = optarg;
		return 0;
	case JOURNAL_OPT_PARTITION:
		if (!dump) {
			return journal_flag_error(err, "--partition", cmd);
		}
		if (cli_parse_u64("--partition", optarg, 0, UINT32_MAX, &v, err) != 0) {
			return -EINVAL;
		}
		o->has_partition = true;
		o->partition = (uint32_t)v;
		return 0;
	case JOURNAL_OPT_FROM:
		if (!dump) {
			return journal_flag_error(err, "--from", cmd);
		}
		if (cli_parse_u64("--from", optarg, 0, UINT64_MAX, &o->from, err) != 0) {
			return -EINVAL;
		}
		o->has_from = true;
		return 0;
	case JOURNAL_OPT_FORMAT:
		if (!dump) {
			return journal_flag_error(err, "--format", cmd);
		}
		if (strcmp(optarg, "text") != 0 && strcmp(optarg, "json") != 0) {
			snprintf(err, CLI_ERR_BYTES, "--format: '%s' is not text or json", optarg);
			return -EINVAL;
		}
		o->json = strcmp(optarg, "json") == 0;
		return 0;
	case JOURNAL_OPT_JSON:
		if (o->cmd != CLI_JOURNAL_STATS) {
			return journal_flag_error(err, "--json", cmd);
		}
		o->json = true;
		return 0;
	default: /* JOURNAL_OPT_HELP */
		o->help = true;
		return 0;
	}
}

static int journal_parse_cmd(const char *cmd, struct cli_journal_opts *o, char *err)
{
	if (strcmp(cmd, "verify") == 0) {
		o->cmd = CLI_JOURNAL_VERIFY;
	} else if (strcmp(cmd, "dump") == 0) {
		o->cmd = CLI_JOURNAL_DUMP;
	} else if (strcmp(cmd, "stats") == 0) {
		o->cmd = CLI_JOURNAL_STATS;
	} else if (strcmp(cmd, "index") == 0) {
		o->cmd = CLI_JOURNAL_INDEX;
	} else if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		o->help = true;
	} else {
		snprintf(err, CLI_ERR_BYTES,
			 "%s: not a journal command (verify, dump, stats, index)", cmd);
		return -EINVAL;
	}
	return 0;
}

int cli_journal_parse(int argc, char **argv, struct cli_journal_opts *opts, char *err)
{
	int c;

	memset(opts, 0, sizeof(*opts));
	err[0] = '\0';
	if (argc < 2) {
		snprintf(err, CLI_ERR_BYTES, "missing command: verify, dump, stats or index");
		return -EINVAL;
	}
	if (journal_parse_cmd(argv[1], opts, err) != 0) {
		return -EINVAL;
	}
	if (opts->help) {
		return 0;
	}
	/* Flags may come before or after DIR: getopt permutes past argv[1]. */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc - 1, argv + 1, "", journal_options, NULL)) != -1) {
		if (c == '?' || c == ':') {
			return cli_getopt_error(argc - 1, argv + 1, err);
		}
		if (journal_flag(c, opts, argv[1], err) != 0) {
			return -EINVAL;
		}
	}
	if (opts->help) {
		return 0;
	}
	if (optind >= argc - 1) {
		snprintf(err, CLI_ERR_BYTES, "missing DIR (a --data-dir or a shard directory)");
		return -EINVAL;
	}
	opts->dir = argv[1 + optind];
	if (optind + 1 < argc - 1) {
		snprintf(err, CLI_ERR_BYTES, "%s: unexpected argument", argv[2 + optind]);
		return -EINVAL;
	}
	return 0;
}

/* ---- which shard directories ---- */

struct journal_shard_dir {
	char name[32]; /* "shard-007", or the last path component of a shard directory */
	char path[PATH_MAX];
	unsigned number;
};

struct journal_target {
	struct journal_shard_dir *shards;
	unsigned count;
	/* The data directory whose LOCK the router holds: DIR, or the parent of a shard-NNN
	 * directory given alone. */
	char lock_dir[PATH_MAX];
};

/* "shard-" then only digits: the shard's number. */
static bool journal_shard_name_parse(const char *name, unsigned *number)
{
	unsigned long v = 0;
	const char *p = name + 6;

	if (strncmp(name, "shard-", 6) != 0 || *p == '\0' || strlen(p) > 9) {
		return false;
	}
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9') {
			return false;
		}
		v = v * 10 + (unsigned long)(*p - '0');
	}
	*number = (unsigned)v;
	return true;
}

static int journal_shard_cmp(const void *a, const void *b)
{
	const struct journal_shard_dir *x = a;
	const struct journal_shard_dir *y = b;

	return (x->number > y->number) - (x->number < y->number);
}

static int journal_target_add(struct journal_target *t, const char *dir, const char *name,
			      unsigned number)
{
	if (t->count == JOURNAL_CLI_SHARDS_MAX) {
		return -E2BIG;
	}
	struct journal_shard_dir *s = &t->shards[t->count];
	int n = snprintf(s->path, sizeof(s->path), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(s->path)) {
		return -ENAMETOOLONG;
	}
	snprintf(s->name, sizeof(s->name), "%.31s", name);
	s->number = number;
	t->count++;
	return 0;
}

/* The data directory of shard directory `dir`: its parent when it is named shard-NNN as
 * the router names them, else dir itself. */
static void journal_lock_dir_of_shard(const char *dir, char *out)
{
	unsigned number;
	size_t len = strlen(dir);

	snprintf(out, PATH_MAX, "%s", dir);
	while (len > 1 && out[len - 1] == '/') {
		out[--len] = '\0';
	}
	char *slash = strrchr(out, '/');
	if (!journal_shard_name_parse(slash != NULL ? slash + 1 : out, &number)) {
		snprintf(out, PATH_MAX, "%s", dir); /* not the router's layout */
	} else if (slash == NULL) {
		snprintf(out, PATH_MAX, "."); /* "shard-000" */
	} else {
		slash[slash == out ? 1 : 0] = '\0'; /* "/shard-000" is in "/" */
	}
}

/*
 * Finds the shard directories of `dir`: its shard-NNN subdirectories, or dir itself when
 * it holds segment files. Returns 0, -errno of opendir, -ENOMEM, or -ENODATA when it is
 * neither (not a journal).
 */
static int journal_target_find(const char *dir, struct journal_target *t)
{
	bool has_segments = false;
	int err = 0;
	DIR *d = opendir(dir);

	t->count = 0;
	t->shards = NULL;
	snprintf(t->lock_dir, sizeof(t->lock_dir), "%s", dir);
	if (d == NULL) {
		return -errno;
	}
	t->shards = calloc(JOURNAL_CLI_SHARDS_MAX, sizeof(*t->shards));
	if (t->shards == NULL) {
		err = -ENOMEM;
		goto out_close;
	}
	for (struct dirent *e = readdir(d); e != NULL && err == 0; e = readdir(d)) {
		uint64_t base;
		unsigned number;
		struct stat st;
		if (journal_segment_name_parse(e->d_name, &base)) {
			has_segments = true;
		} else if (journal_shard_name_parse(e->d_name, &number) &&
			   fstatat(dirfd(d), e->d_name, &st, 0) == 0 && S_ISDIR(st.st_mode)) {
			err = journal_target_add(t, dir, e->d_name, number);
		}
	}
	if (err == 0 && t->count > 0) {
		qsort(t->shards, t->count, sizeof(*t->shards), journal_shard_cmp);
	} else if (err == 0 && has_segments) {
		/* One shard's directory: name it by its last path component. */
		struct journal_shard_dir *s = &t->shards[0];
		const char *slash = strrchr(dir, '/');
		const char *name = slash != NULL && slash[1] != '\0' ? slash + 1 : dir;
		snprintf(s->path, sizeof(s->path), "%s", dir);
		snprintf(s->name, sizeof(s->name), "%.31s", name);
		t->count = 1;
		journal_lock_dir_of_shard(dir, t->lock_dir);
	} else if (err == 0) {
		err = -ENODATA;
	}
out_close:
	(void)closedir(d);
	return err;
}

/* ---- per-partition state ---- */

struct journal_part {
	uint8_t topic[SL_WIRE_TOPIC_BYTES_MAX];
	uint8_t topic_len;
	uint32_t partition;
	uint64_t first_offset;
	uint64_t next_offset; /* after the newest batch */
	uint64_t events;
	unsigned removed_seen; /* the scan's removed_segments at its newest batch */
};

/* Open-addressed index over a growing array. */
struct journal_parts {
	struct journal_part *v;
	unsigned count;
	unsigned cap;
	unsigned *slots; /* index + 1; 0: empty */
	unsigned nslots; /* power of two, > 2 * count */
};

static uint32_t journal_part_hash(const uint8_t *topic, uint8_t len, uint32_t partition)
{
	uint32_t h = 2166136261u;

	for (unsigned i = 0; i < len; i++) {
		h = (h ^ topic[i]) * 16777619u;
	}
	return (h ^ partition) * 16777619u;
}

static void journal_parts_fini(struct journal_parts *ps)
{
	free(ps->v);
	free(ps->slots);
	memset(ps, 0, sizeof(*ps));
}

static int journal_parts_grow(struct journal_parts *ps)
{
	unsigned cap = ps->cap == 0 ? 16 : ps->cap * 2;
	unsigned nslots = cap * 2;
	struct journal_part *v = realloc(ps->v, (size_t)cap * sizeof(*v));

	if (v == NULL) {
		return -ENOMEM;
	}
	ps->v = v;
	unsigned *slots = calloc(nslots, sizeof(*slots));
	if (slots == NULL) {
		return -ENOMEM;
	}
	for (unsigned i = 0; i < ps->count; i++) {
		uint32_t h = journal_part_hash(v[i].topic, v[i].topic_len, v[i].partition);
		unsigned s = h & (nslots - 1);
		while (slots[s] != 0) {
			s = (s + 1) & (nslots - 1);
		}
		slots[s] = i + 1;
	}
	free(ps->slots);
	ps->slots = slots;
	ps->nslots = nslots;
	ps->cap = cap;
	return 0;
}

/* The entry's partition; *is_new when it was not seen before. NULL: out of memory. */
static struct journal_part *journal_parts_get(struct journal_parts *ps, const uint8_t *topic,
					      uint8_t len, uint32_t partition, bool *is_new)
{
	*is_new = false;
	if (ps->count == ps->cap && journal_parts_grow(ps) != 0) {
		return NULL;
	}
	uint32_t h = journal_part_hash(topic, len, partition);
	unsigned s = h & (ps->nslots - 1);
	while (ps->slots[s] != 0) {
		struct journal_part *p = &ps->v[ps->slots[s] - 1];
		if (p->partition == partition && p->topic_len == len &&
		    memcmp(p->topic, topic, len) == 0) {
			return p;
		}
		s = (s + 1) & (ps->nslots - 1);
	}
	struct journal_part *p = &ps->v[ps->count];
	memset(p, 0, sizeof(*p));
	memcpy(p->topic, topic, len);
	p->topic_len = len;
	p->partition = partition;
	ps->slots[s] = ++ps->count;
	*is_new = true;
	return p;
}

static int journal_part_cmp(const void *a, const void *b)
{
	const struct journal_part *x = a;
	const struct journal_part *y = b;
	size_t n = x->topic_len < y->topic_len ? x->topic_len : y->topic_len;
	int c = memcmp(x->topic, y->topic, n);

	if (c != 0) {
		return c;
	}
	if (x->topic_len != y->topic_len) {
		return x->topic_len < y->topic_len ? -1 : 1;
	}
	return (x->partition > y->partition) - (x->partition < y->partition);
}

/* ---- one shard ---- */

struct journal_shard {
	const struct cli_journal_opts *opts;
	const struct journal_shard_dir *sd;
	struct journal_dir d;
	struct journal_scan_result res;
	struct journal_parts parts;
	uint64_t events;
	uint64_t oldest_append_ns;
	uint64_t newest_append_ns;
	/* verify: the first break of offset continuity, and how many there were */
	uint64_t offset_breaks;
	char offset_message[512];
	struct cli_json json; /* dump --format json */
};

static void journal_note_break(struct journal_shard *sh, const struct journal_entry *e,
			       const struct journal_part *p)
{
	if (sh->offset_breaks++ > 0) {
		return;
	}
	snprintf(sh->offset_message, sizeof(sh->offset_message),
		 "offset gap in %.*s/%" PRIu32 ": batch at position %" PRIu64
		 " starts at offset %" PRIu64 ", expected %" PRIu64,
		 (int)p->topic_len, (const char *)p->topic, p->partition, e->hdr.position,
		 e->hdr.base_offset, p->next_offset);
}

/* Counts the entry into its partition; checks offset continuity. */
static int journal_account(struct journal_shard *sh, const struct journal_entry *e)
{
	bool is_new;
	struct journal_part *p = journal_parts_get(&sh->parts, e->topic, e->hdr.topic_len,
						   e->hdr.partition, &is_new);

	if (p == NULL) {
		return -ENOMEM;
	}
	if (is_new) {
		/* Retention deletes old segments: a partition may start anywhere. */
		p->first_offset = e->hdr.base_offset;
	} else if (e->hdr.base_offset != p->next_offset &&
		   p->removed_seen == sh->res.removed_segments) {
		journal_note_break(sh, e, p);
	}
	/* Its previous batch was in a segment retention removed while it was read (the scan
	 * updates sh->res before the next entry): the reads of that segment may have
	 * stopped short of its end, so this batch need not continue it. */
	p->removed_seen = sh->res.removed_segments;
	p->next_offset = e->hdr.base_offset + e->hdr.record_count;
	p->events += e->hdr.record_count;
	sh->events += e->hdr.record_count;
	if (sh->oldest_append_ns == 0 || e->hdr.append_ns < sh->oldest_append_ns) {
		sh->oldest_append_ns = e->hdr.append_ns;
	}
	if (e->hdr.append_ns > sh->newest_append_ns) {
		sh->newest_append_ns = e->hdr.append_ns;
	}
	return 0;
}

static int journal_account_fn(void *ctx, const struct journal_entry *e, unsigned segment)
{
	(void)segment;
	return journal_account(ctx, e);
}

/* ---- dump ---- */

/* Bytes as text: printable ASCII as is, backslash and everything else as \xNN. */
static void journal_print_bytes(FILE *f, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\') {
			fputc(p[i], f);
		} else {
			fprintf(f, "\\x%02x", p[i]);
		}
	}
}

/* ISO 8601 UTC with nanoseconds. */
static void journal_print_time(FILE *f, uint64_t ns)
{
	struct tm tm;
	time_t s = (time_t)(ns / 1000000000u);
	char buf[64];

	if (gmtime_r(&s, &tm) == NULL ||
	    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		fprintf(f, "%" PRIu64 "ns", ns);
		return;
	}
	fprintf(f, "%s.%09" PRIu64 "Z", buf, ns % 1000000000u);
}

static void journal_dump_text(const struct journal_entry *e, const struct wire_record *r,
			      uint64_t offset)
{
	FILE *f = stdout;

	fprintf(f, "%.*s %" PRIu32 " %" PRIu64 " ", (int)e->hdr.topic_len, (const char *)e->topic,
		e->hdr.partition, offset);
	journal_print_time(f, r->timestamp_ns);
	fprintf(f,
		" producer=%" PRIu64 " epoch=%" PRIu32 " seq=%" PRIu64 " key=", e->hdr.producer_id,
		e->hdr.producer_epoch, e->hdr.sequence);
	journal_print_bytes(f, r->key, r->key_len);
	fputs(" value=", f);
	journal_print_bytes(f, r->value, r->value_len);
	fputc('\n', f);
}

static void journal_dump_json(struct cli_json *j, const struct journal_entry *e,
			      const struct wire_record *r, uint64_t offset)
{
	cli_json_init(j, stdout);
	cli_json_object_begin(j, NULL);
	cli_json_bytes(j, "topic", e->topic, e->hdr.topic_len);
	cli_json_u64(j, "partition", e->hdr.partition);
	cli_json_u64(j, "offset", offset);
	cli_json_u64(j, "timestamp_ns", r->timestamp_ns);
	cli_json_u64(j, "append_ns", e->hdr.append_ns);
	cli_json_bytes(j, "key", r->key, r->key_len);
	cli_json_bytes(j, "value", r->value, r->value_len);
	cli_json_u64(j, "producer_id", e->hdr.producer_id);
	cli_json_u64(j, "producer_epoch", e->hdr.producer_epoch);
	cli_json_u64(j, "sequence", e->hdr.sequence);
	cli_json_object_end(j);
	cli_json_end_line(j);
}

static bool journal_dump_wanted(const struct cli_journal_opts *o, const struct journal_entry *e)
{
	if (o->topic != NULL && (strlen(o->topic) != e->hdr.topic_len ||
				 memcmp(o->topic, e->topic, e->hdr.topic_len) != 0)) {
		return false;
	}
	if (o->has_partition && e->hdr.partition != o->partition) {
		return false;
	}
	/* Skip whole batches below --from. */
	return !o->has_from || e->hdr.base_offset + e->hdr.record_count > o->from;
}

static int journal_dump_fn(void *ctx, const struct journal_entry *e, unsigned segment)
{
	struct journal_shard *sh = ctx;
	const struct cli_journal_opts *o = sh->opts;
	struct wire_record_iter it;
	struct wire_record r;
	uint64_t offset = e->hdr.base_offset;

	(void)segment;
	if (!journal_dump_wanted(o, e)) {
		return 0;
	}
	wire_record_iter_init_body(&it, e->body, e->body_len);
	for (; wire_record_next(&it, &r); offset++) {
		if (o->has_from && offset < o->from) {
			continue;
		}
		if (o->json) {
			journal_dump_json(&sh->json, e, &r, offset);
		} else {
			journal_dump_text(e, &r, offset);
		}
	}
	return ferror(stdout) ? -EIO : 0;
}

/* ---- output of verify and stats ---- */

static const char *journal_plural(uint64_t n)
{
	return n == 1 ? "" : "s";
}

static uint64_t journal_first_position(const struct journal_shard *sh)
{
	return sh->d.count > 0 ? sh->d.segments[0].base_position : 0;
}

/* True when verify finds the shard intact. Prints its line. */
static bool journal_verify_print(const struct journal_shard *sh)
{
	const struct journal_scan_result *res = &sh->res;

	printf("%s: %u segment%s, %" PRIu64 " entr%s, %" PRIu64 " bytes, end position %" PRIu64
	       ", %u partition%s",
	       sh->sd->name, sh->d.count, journal_plural(sh->d.count), res->entries,
	       res->entries == 1 ? "y" : "ies", res->entry_bytes, res->end_position,
	       sh->parts.count, journal_plural(sh->parts.count));
	if (res->unfinished_segments > 0) {
		printf(", %u unfinished segment%s (removed at next start)",
		       res->unfinished_segments, journal_plural(res->unfinished_segments));
	}
	if (res->corrupt) {
		printf(": CORRUPT: %s\n", res->message);
		return false;
	}
	if (res->torn) {
		printf(": torn tail (recovered at next start): %s\n", res->message);
		return false;
	}
	if (sh->offset_breaks > 0) {
		printf(": %" PRIu64 " offset gap%s, first: %s\n", sh->offset_breaks,
		       journal_plural(sh->offset_breaks), sh->offset_message);
		return false;
	}
	printf(": ok\n");
	return true;
}

static void journal_stats_text(struct journal_shard *sh)
{
	const struct journal_scan_result *res = &sh->res;

	printf("%s (%s)\n", sh->sd->name, sh->sd->path);
	printf("  segments        %u\n", sh->d.count);
	printf("  first position  %" PRIu64 "\n", journal_first_position(sh));
	printf("  end position    %" PRIu64 "\n", res->end_position);
	printf("  entries         %" PRIu64 "\n", res->entries);
	printf("  events          %" PRIu64 "\n", sh->events);
	printf("  bytes           %" PRIu64 "\n", res->entry_bytes);
	if (res->entries > 0) {
		fputs("  oldest append   ", stdout);
		journal_print_time(stdout, sh->oldest_append_ns);
		fputs("\n  newest append   ", stdout);
		journal_print_time(stdout, sh->newest_append_ns);
		fputc('\n', stdout);
	}
	if (res->torn || res->corrupt) {
		printf("  %-15s %s\n", res->corrupt ? "corrupt" : "torn tail", res->message);
	}
	if (sh->parts.count > 0) {
		printf("  %-32s %10s %14s %14s %14s\n", "topic", "partition", "events",
		       "first offset", "next offset");
	}
	for (unsigned i = 0; i < sh->parts.count; i++) {
		const struct journal_part *p = &sh->parts.v[i];
		printf("  %-32.*s %10" PRIu32 " %14" PRIu64 " %14" PRIu64 " %14" PRIu64 "\n",
		       (int)p->topic_len, (const char *)p->topic, p->partition, p->events,
		       p->first_offset, p->next_offset);
	}
}

static void journal_stats_json(struct cli_json *j, struct journal_shard *sh)
{
	const struct journal_scan_result *res = &sh->res;

	cli_json_object_begin(j, NULL);
	cli_json_string(j, "shard", sh->sd->name);
	cli_json_string(j, "path", sh->sd->path);
	cli_json_u64(j, "segments", sh->d.count);
	cli_json_u64(j, "first_position", journal_first_position(sh));
	cli_json_u64(j, "end_position", res->end_position);
	cli_json_u64(j, "entries", res->entries);
	cli_json_u64(j, "events", sh->events);
	cli_json_u64(j, "bytes", res->entry_bytes);
	cli_json_u64(j, "oldest_append_ns", sh->oldest_append_ns);
	cli_json_u64(j, "newest_append_ns", sh->newest_append_ns);
	cli_json_bool(j, "torn", res->torn);
	cli_json_bool(j, "corrupt", res->corrupt);
	cli_json_string(j, "message", res->message);
	cli_json_array_begin(j, "partitions");
	for (unsigned i = 0; i < sh->parts.count; i++) {
		const struct journal_part *p = &sh->parts.v[i];
		cli_json_object_begin(j, NULL);
		cli_json_bytes(j, "topic", p->topic, p->topic_len);
		cli_json_u64(j, "partition", p->partition);
		cli_json_u64(j, "events", p->events);
		cli_json_u64(j, "first_offset", p->first_offset);
		cli_json_u64(j, "next_offset", p->next_offset);
		cli_json_object_end(j);
	}
	cli_json_array_end(j);
	cli_json_object_end(j);
}

/* ---- segment indexes ---- */

/* Segments before the one appending continues in (before the damage, if any): sealed. */
static unsigned journal_sealed_count(const struct journal_shard *sh)
{
	const struct journal_scan_result *res = &sh->res;

	if (res->corrupt) {
		return res->corrupt_segment;
	}
	return res->end_segment < sh->d.count ? res->end_segment : 0;
}

static int journal_segment_paths(const struct journal_shard *sh, unsigned i, char *seg, char *idx)
{
	const struct journal_segment_info *s = &sh->d.segments[i];

	if (snprintf(seg, PATH_MAX, "%s/%s", sh->sd->path, s->name) >= PATH_MAX) {
		return -ENAMETOOLONG;
	}
	return journal_index_path(sh->sd->path, s->base_position, idx, PATH_MAX);
}

/* Bytes [from, to) of both encodings are equal. */
static bool journal_same_bytes(const uint8_t *a, const uint8_t *b, uint64_t from, uint64_t to)
{
	return memcmp(a + from, b + from, (size_t)(to - from)) == 0;
}

/*
 * The stored index equals the rebuilt one: header fields, summary and points; the state
 * too when the rebuild started from the previous index's state (with_state).
 */
static int journal_index_same(const struct journal_index *stored, const struct journal_index *built,
			      bool with_state, bool *same)
{
	uint64_t la = journal_index_encoded_bytes(stored);
	uint64_t lb = journal_index_encoded_bytes(built);
	uint8_t *a = malloc(la);
	uint8_t *b = malloc(lb);

	if (a == NULL || b == NULL) {
		free(a);
		free(b);
		return -ENOMEM;
	}
	journal_index_encode(stored, a, la);
	journal_index_encode(built, b, lb);
	/* Header: positions and times [8, 40), counts [48, 56); not size and CRC. */
	uint32_t summary = journal_index_summary_bytes(a, la);
	*same = summary == journal_index_summary_bytes(b, lb) && journal_same_bytes(a, b, 8, 40) &&
		journal_same_bytes(a, b, 48, 56) &&
		journal_same_bytes(a, b, JOURNAL_INDEX_HEADER_BYTES, summary) &&
		(!with_state || (la == lb && journal_same_bytes(a, b, summary, la)));
	free(a);
	free(b);
	return 0;
}

/* What checking or writing one shard's indexes found. */
struct journal_index_walk {
	struct journal_index prev; /* the previous segment's index, when have_prev */
	bool have_prev;
	unsigned missing;
	unsigned bad;
	unsigned written;
};

static void journal_walk_keep(struct journal_index_walk *w, struct journal_index *ix)
{
	if (w->have_prev) {
		journal_index_free(&w->prev);
	}
	w->prev = *ix;
	w->have_prev = true;
	memset(ix, 0, sizeof(*ix));
}

static void journal_walk_forget(struct journal_index_walk *w)
{
	if (w->have_prev) {
		journal_index_free(&w->prev);
	}
	w->have_prev = false;
}

/* verify: the stored index of segment i against a rebuild. */
static int journal_verify_index(const struct journal_shard *sh, unsigned i,
				struct journal_index_walk *w)
{
	char seg[PATH_MAX];
	char idx[PATH_MAX];
	char message[512];
	struct journal_index stored;
	struct journal_index built;
	bool same = false;
	int rc = journal_segment_paths(sh, i, seg, idx);

	if (rc == 0) {
		rc = journal_index_read(idx, sh->d.segments[i].base_position, &stored);
	}
	if (rc == -ENOENT) {
		w->missing++;
		printf("  %s: index missing, the router rebuilds it at start\n", idx);
		journal_walk_forget(w);
		return 0;
	}
	if (rc == -ENOMEM) {
		return rc;
	}
	if (rc != 0) {
		w->bad++;
		printf("  %s: index DAMAGED (%s): rebuild it with `sluice journal index`\n", idx,
		       rc == -EPROTO ? "bad contents or unknown version" : strerror(-rc));
		journal_walk_forget(w);
		return 0;
	}
	rc = journal_index_build(seg, stored.base_position, w->have_prev ? &w->prev.state : NULL,
				 stored.state.window, stored.state.idle_ns, &built, message,
				 sizeof(message));
	if (rc == 0) {
		rc = journal_index_same(&stored, &built, w->have_prev, &same);
		journal_index_free(&built);
	}
	if (rc == -ENOMEM) {
		journal_index_free(&stored);
		return rc;
	}
	if (rc != 0 || !same) {
		w->bad++;
		printf("  %s: index DIFFERS from its segment%s%s\n", idx, rc != 0 ? ": " : "",
		       rc != 0 ? message : "");
	}
	journal_walk_keep(w, &stored);
	return 0;
}

/* verify: checks every sealed segment's index; false when one is damaged. */
static bool journal_verify_indexes(const struct journal_shard *sh)
{
	struct journal_index_walk w = {0};
	unsigned sealed = journal_sealed_count(sh);
	int rc = 0;

	for (unsigned i = 0; i < sealed && rc == 0; i++) {
		rc = journal_verify_index(sh, i, &w);
	}
	journal_walk_forget(&w);
	if (rc != 0) {
		fprintf(stderr, "sluice journal: %s: %s\n", sh->sd->path, strerror(-rc));
		return false;
	}
	if (w.missing + w.bad > 0) {
		printf("  %s: %u of %u segment indexes missing, %u damaged\n", sh->sd->name,
		       w.missing, sealed, w.bad);
	}
	return w.bad == 0;
}

/* index: writes segment i's index unless a valid one is there. */
static int journal_write_index(const struct journal_shard *sh, unsigned i,
			       struct journal_index_walk *w, uint32_t window, uint64_t idle_ns)
{
	char seg[PATH_MAX];
	char idx[PATH_MAX];
	char message[512];
	struct journal_index ix;
	int rc = journal_segment_paths(sh, i, seg, idx);

	if (rc == 0) {
		rc = journal_index_read(idx, sh->d.segments[i].base_position, &ix);
	}
	if (rc == 0) {
		journal_walk_keep(w, &ix);
		return 0;
	}
	if (rc == -ENOMEM) {
		return rc;
	}
	const char *was = rc == -ENOENT ? "missing" : "damaged";
	rc = journal_index_build(seg, sh->d.segments[i].base_position,
				 w->have_prev ? &w->prev.state : NULL, window, idle_ns, &ix,
				 message, sizeof(message));
	if (rc != 0) {
		fprintf(stderr, "sluice journal: cannot index %s: %s\n", seg,
			rc == -EPROTO ? message : strerror(-rc));
		return rc;
	}
	rc = journal_index_write(idx, &ix);
	if (rc != 0) {
		fprintf(stderr, "sluice journal: cannot write %s: %s\n", idx, strerror(-rc));
		journal_index_free(&ix);
		return rc;
	}
	printf("%s: written (was %s)\n", idx, was);
	w->written++;
	journal_walk_keep(w, &ix);
	return 0;
}

/* The window and idle time of the shard's newest valid index, else sluiced's defaults. */
static void journal_index_params(const struct journal_shard *sh, unsigned sealed, uint32_t *window,
				 uint64_t *idle_ns)
{
	char seg[PATH_MAX];
	char idx[PATH_MAX];
	struct journal_index ix;

	*window = JOURNAL_CLI_WINDOW_DEFAULT;
	*idle_ns = JOURNAL_CLI_IDLE_NS_DEFAULT;
	for (unsigned n = sealed; n > 0; n--) {
		if (journal_segment_paths(sh, n - 1, seg, idx) == 0 &&
		    journal_index_read(idx, sh->d.segments[n - 1].base_position, &ix) == 0) {
			*window = ix.state.window;
			*idle_ns = ix.state.idle_ns;
			journal_index_free(&ix);
			return;
		}
	}
}

/* index: writes the missing or damaged indexes of one shard; false on failure. */
static bool journal_index_shard(const struct journal_shard *sh)
{
	struct journal_index_walk w = {0};
	unsigned sealed = journal_sealed_count(sh);
	uint32_t window;
	uint64_t idle_ns;
	int rc = 0;

	if (sh->res.corrupt) {
		fprintf(stderr, "sluice journal: %s\n", sh->res.message);
	}
	journal_index_params(sh, sealed, &window, &idle_ns);
	for (unsigned i = 0; i < sealed && rc == 0; i++) {
		rc = journal_write_index(sh, i, &w, window, idle_ns);
	}
	journal_walk_forget(&w);
	printf("%s: %u sealed segment%s, %u index%s written\n", sh->sd->name, sealed,
	       journal_plural(sealed), w.written, w.written == 1 ? "" : "es");
	return rc == 0 && !sh->res.corrupt;
}

/* ---- running ---- */

/*
 * Scans one shard directory with the command's callback. Returns 0 when it could be read
 * (res says whether it is damaged) or a negative errno, reported on stderr.
 */
static int journal_shard_scan(struct journal_shard *sh)
{
	const struct cli_journal_opts *o = sh->opts;
	journal_entry_fn *fn = o->cmd == CLI_JOURNAL_DUMP ? journal_dump_fn : journal_account_fn;
	int err = journal_dir_list(sh->sd->path, &sh->d);

	if (err != 0) {
		fprintf(stderr, "sluice journal: %s: %s\n", sh->sd->path, strerror(-err));
		return err;
	}
	err = journal_scan(&sh->d, fn, sh, &sh->res);
	if (err == 0 && sh->res.removed_segments > 0) {
		fprintf(stderr,
			"sluice journal: note: %s: retention removed %u segment%s (up to %s) while "
			"they were read: skipped, not damage; the journal now starts at position "
			"%" PRIu64 "\n",
			sh->sd->path, sh->res.removed_segments,
			journal_plural(sh->res.removed_segments), sh->res.removed_last,
			sh->d.count > 0 ? sh->d.segments[0].base_position : sh->res.end_position);
	}
	if (err == -EPROTO) {
		fprintf(stderr, "sluice journal: %s\n", sh->res.message);
	} else if (err != 0) {
		fprintf(stderr, "sluice journal: %s: %s\n", sh->sd->path, strerror(-err));
	}
	if (err == 0 && sh->parts.count > 1) {
		qsort(sh->parts.v, sh->parts.count, sizeof(*sh->parts.v), journal_part_cmp);
	}
	return err;
}

/* Runs the command over one shard; false when the exit status must be 1. */
static bool journal_shard_run(const struct cli_journal_opts *o, const struct journal_shard_dir *sd,
			      struct cli_json *stats_json)
{
	struct journal_shard *sh = calloc(1, sizeof(*sh));
	bool ok = false;

	if (sh == NULL) {
		fprintf(stderr, "sluice journal: out of memory\n");
		return false;
	}
	sh->opts = o;
	sh->sd = sd;
	if (journal_shard_scan(sh) != 0) {
		goto out_free;
	}
	switch (o->cmd) {
	case CLI_JOURNAL_VERIFY:
		ok = journal_verify_print(sh);
		ok = journal_verify_indexes(sh) && ok;
		break;
	case CLI_JOURNAL_INDEX:
		ok = journal_index_shard(sh);
		break;
	case CLI_JOURNAL_DUMP:
		ok = !sh->res.corrupt;
		break;
	case CLI_JOURNAL_STATS:
		ok = !sh->res.corrupt;
		if (o->json) {
			journal_stats_json(stats_json, sh);
		} else {
			journal_stats_text(sh);
		}
		break;
	}
	if (o->cmd != CLI_JOURNAL_VERIFY && o->cmd != CLI_JOURNAL_INDEX &&
	    (sh->res.corrupt || sh->res.torn)) {
		fprintf(stderr, "sluice journal: %s%s\n", sh->res.message,
			sh->res.torn ? " (recovered at the router's next start)" : "");
	}
out_free:
	journal_dir_free(&sh->d);
	journal_parts_fini(&sh->parts);
	free(sh);
	return ok;
}

/* "a router (pid N)", or "a router" when the holder has not written its pid yet. */
static void journal_lock_holder(pid_t holder, char *out, size_t len)
{
	if (holder != 0) {
		snprintf(out, len, "a router (pid %ld)", (long)holder);
	}
}

/*
 * index takes the lock of data directory lock_dir (*lock_fd, held until the command
 * ends): a running router indexes its sealed segments itself, and two writers of the
 * same index files must not meet. verify, dump and stats only probe it, to say on stderr
 * that they read beside a running router. Returns 0, or -errno when index may not run
 * (reported).
 */
static int journal_lock_router(const struct cli_journal_opts *o, const char *lock_dir, int *lock_fd)
{
	char who[48] = "a router";
	pid_t holder;
	int rc;

	*lock_fd = -1;
	if (o->cmd != CLI_JOURNAL_INDEX) {
		if (journal_lock_is_held(lock_dir, &holder) == 1) {
			journal_lock_holder(holder, who, sizeof(who));
			fprintf(stderr,
				"sluice journal: note: %s runs on %s: reading beside it; segments "
				"retention removes meanwhile are skipped\n",
				who, lock_dir);
		}
		return 0;
	}
	rc = journal_lock_open(lock_dir, &holder);
	if (rc == -EWOULDBLOCK) {
		journal_lock_holder(holder, who, sizeof(who));
		fprintf(stderr,
			"sluice journal: %s runs on %s: it holds %s/" JOURNAL_LOCK_NAME
			"; stop it first (a running router writes its indexes itself)\n",
			who, lock_dir, lock_dir);
		return rc;
	}
	if (rc < 0) {
		fprintf(stderr, "sluice journal: cannot lock %s/" JOURNAL_LOCK_NAME ": %s\n",
			lock_dir, strerror(-rc));
		return rc;
	}
	*lock_fd = rc;
	return 0;
}

static int journal_run(const struct cli_journal_opts *o)
{
	struct journal_target t;
	struct cli_json j;
	bool ok = true;

	SL_ASSERT(o->dir != NULL); /* the parser refuses a command without DIR */
	int err = journal_target_find(o->dir, &t);

	if (err == -ENODATA) {
		fprintf(stderr,
			"sluice journal: %s: not a sluice journal (no segment files and no "
			"shard-NNN directories)\n",
			o->dir);
	} else if (err != 0) {
		fprintf(stderr, "sluice journal: %s: %s\n", o->dir, strerror(-err));
	}
	if (err != 0) {
		free(t.shards);
		return CLI_EXIT_FAILED;
	}
	int lock_fd = -1;
	if (journal_lock_router(o, t.lock_dir, &lock_fd) != 0) {
		free(t.shards);
		return CLI_EXIT_FAILED;
	}
	bool stats_json = o->cmd == CLI_JOURNAL_STATS && o->json;
	if (stats_json) {
		cli_json_init(&j, stdout);
		cli_json_object_begin(&j, NULL);
		cli_json_string(&j, "dir", o->dir);
		cli_json_array_begin(&j, "shards");
	}
	for (unsigned i = 0; i < t.count; i++) {
		ok = journal_shard_run(o, &t.shards[i], &j) && ok;
	}
	if (stats_json) {
		cli_json_array_end(&j);
		cli_json_object_end(&j);
		cli_json_finish(&j);
	}
	free(t.shards);
	journal_lock_close(lock_fd);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "sluice journal: writing the output: %s\n", strerror(errno));
		return CLI_EXIT_FAILED;
	}
	return ok ? CLI_EXIT_OK : CLI_EXIT_FAILED;
}

int cli_journal_main(int argc, char **argv)
{
	struct cli_journal_opts o;
	char err[CLI_ERR_BYTES];

	if (cli_journal_parse(argc, argv, &o, err) != 0) {
		fprintf(stderr, "sluice journal: %s\n", err);
		journal_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (o.help) {
		journal_usage(stdout);
		return CLI_EXIT_OK;
	}
	return journal_run(&o);
}
