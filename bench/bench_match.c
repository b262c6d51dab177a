/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sluice-bench-match: cost of matching one batch's topic against the subscription set
 * (match_topic_hashed(), the call a partition owner makes per batch), with 10, 1,000 and
 * 100,000 subscriptions, cache on and off. Topics are realistic names of 3-5 tokens
 * (domain.entity.region.event[.version]); patterns are drawn from the same model, 60%
 * literal, 25% with one `*` token and 15% cut after two or three tokens with `>`. Each
 * run matches `batches` topics drawn uniformly from a working set of `topics` names,
 * their hashes computed beforehand as the shard has them; the cache holds
 * --cache-entries topics and MATCH_CACHE_IDS_PER_ENTRY ids for each. Prints one JSON line per
 * (subscriptions, cache) with the median, min and max ns per match over the runs.
 *
 *   sluice-bench-match [--runs N] [--batches N] [--topics N] [--cache-entries N]
 *                      [--subscriptions N,N,...]
 */
#include "route/match.h"
#include "route/route.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_RUNS_MAX 64u
#define BENCH_SIZES_MAX 8u
#define BENCH_NAME_MAX 96u

static const char *const bench_domains[] = {
	"orders", "payments", "shipping", "inventory", "users",	  "billing", "search",
	"fraud",  "catalog",  "reviews",  "carts",     "pricing", "ads",     "auth",
	"mail",	  "sms",      "audit",	  "metrics",   "logs",	  "returns",
};
static const char *const bench_regions[] = {"eu", "us", "ap", "sa", "af", "me", "cn", "oc"};
static const char *const bench_events[] = {"created", "updated", "deleted", "paid",   "failed",
					   "shipped", "viewed",	 "retried", "closed", "opened"};
#define BENCH_ENTITIES 1000u
#define BENCH_COUNT(a) (sizeof(a) / sizeof((a)[0]))

struct bench_cfg {
	unsigned runs;
	uint32_t batches;
	uint32_t topics;
	uint32_t cache_entries;
	uint32_t sizes[BENCH_SIZES_MAX];
	unsigned size_count;
};

#define BENCH_PATTERN_SEED 0xba77e4u

static uint64_t bench_seed = 0x5eed;

static uint32_t bench_rand(uint32_t n)
{
	bench_seed = bench_seed * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)((bench_seed >> 33) % n);
}

/* The tokens of a random topic of the model: 4 or 5. */
static unsigned bench_topic_tokens(char tokens[5][24])
{
	unsigned n = 4 + bench_rand(2);

	(void)snprintf(tokens[0], 24, "%s", bench_domains[bench_rand(BENCH_COUNT(bench_domains))]);
	(void)snprintf(tokens[1], 24, "e%04u", bench_rand(BENCH_ENTITIES));
	(void)snprintf(tokens[2], 24, "%s", bench_regions[bench_rand(BENCH_COUNT(bench_regions))]);
	(void)snprintf(tokens[3], 24, "%s", bench_events[bench_rand(BENCH_COUNT(bench_events))]);
	(void)snprintf(tokens[4], 24, "v%u", 1 + bench_rand(3));
	return n;
}

static size_t bench_join(char tokens[5][24], unsigned n, char *out)
{
	size_t len = 0;

	for (unsigned i = 0; i < n; i++) {
		len += (size_t)snprintf(out + len, BENCH_NAME_MAX - len, "%s%s", i > 0 ? "." : "",
					tokens[i]);
	}
	return len;
}

/* A topic of 3-5 tokens: the model cut to three tokens one time in five. */
static size_t bench_topic(char *out)
{
	char tokens[5][24];
	unsigned n = bench_topic_tokens(tokens);

	return bench_join(tokens, bench_rand(5) == 0 ? 3 : n, out);
}

static size_t bench_pattern(char *out)
{
	char tokens[5][24];
	unsigned n = bench_topic_tokens(tokens);
	uint32_t kind = bench_rand(100);

	if (kind < 60) {
		return bench_join(tokens, n, out);
	}
	if (kind < 85) {
		(void)snprintf(tokens[1 + bench_rand(n - 1)], 24, "*");
		return bench_join(tokens, n, out);
	}
	unsigned keep = 2 + bench_rand(2);
	(void)snprintf(tokens[keep], 24, ">");
	return bench_join(tokens, keep + 1, out);
}

static uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a;
	double y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The topic working set and the order the batches name them in. */
struct bench_topics {
	uint32_t count;
	char (*name)[BENCH_NAME_MAX];
	uint8_t *len;
	uint32_t *hash;
	uint32_t *order; /* [batches] */
};

static int bench_topics_make(const struct bench_cfg *cfg, struct bench_topics *t)
{
	t->count = cfg->topics;
	t->name = calloc(cfg->topics, sizeof(*t->name));
	t->len = calloc(cfg->topics, sizeof(*t->len));
	t->hash = calloc(cfg->topics, sizeof(*t->hash));
	t->order = calloc(cfg->batches, sizeof(*t->order));
	if (t->name == NULL || t->len == NULL || t->hash == NULL || t->order == NULL) {
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < cfg->topics; i++) {
		t->len[i] = (uint8_t)bench_topic(t->name[i]);
		t->hash[i] = route_topic_hash((const uint8_t *)t->name[i], t->len[i]);
	}
	for (uint32_t i = 0; i < cfg->batches; i++) {
		t->order[i] = bench_rand(cfg->topics);
	}
	return 0;
}

static void bench_topics_free(struct bench_topics *t)
{
	free(t->name);
	free(t->len);
	free(t->hash);
	free(t->order);
}

/* A matcher holding `subs` random patterns (a repeated pattern is another subscription,
 * as two consumers asking the same would be): the same patterns with the cache on and
 * off, drawn from a seed of their own. */
static int bench_matcher(const struct bench_cfg *cfg, uint32_t subs, bool cache,
			 struct match_trie **out)
{
	struct match_conf conf;
	char pattern[BENCH_NAME_MAX];

	bench_seed = BENCH_PATTERN_SEED + subs;
	match_conf_default(&conf, subs);
	conf.cache_entries = cache ? cfg->cache_entries : 0;
	conf.cache_ids = cfg->cache_entries * MATCH_CACHE_IDS_PER_ENTRY;
	int rc = match_create(&conf, out);
	for (uint32_t id = 0; rc == 0 && id < subs; id++) {
		size_t len = bench_pattern(pattern);
		rc = match_add(*out, id, (const uint8_t *)pattern, len);
	}
	return rc;
}

static int bench_one(const struct bench_cfg *cfg, const struct bench_topics *t, uint32_t subs,
		     bool cache, uint32_t *ids)
{
	struct match_trie *m = NULL;
	double ns[BENCH_RUNS_MAX];
	uint64_t matches = 0;
	struct match_stats st;

	uint64_t build_start = bench_now_ns();
	int rc = bench_matcher(cfg, subs, cache, &m);
	if (rc != 0) {
		(void)fprintf(stderr, "sluice-bench-match: building %u subscriptions: %s\n", subs,
			      strerror(-rc));
		match_destroy(m);
		return rc;
	}
	double build_ms = (double)(bench_now_ns() - build_start) / 1e6;
	for (unsigned r = 0; r < cfg->runs; r++) {
		uint64_t start = bench_now_ns();
		for (uint32_t i = 0; i < cfg->batches; i++) {
			uint32_t k = t->order[i];
			matches += match_topic_hashed(m, t->hash[k], (const uint8_t *)t->name[k],
						      t->len[k], ids, subs);
		}
		ns[r] = (double)(bench_now_ns() - start) / cfg->batches;
	}
	match_stats_get(m, &st);
	qsort(ns, cfg->runs, sizeof(ns[0]), bench_cmp_double);
	printf("{\"subscriptions\":%u,\"cache\":%s,\"runs\":%u,\"batches\":%u,\"topics\":%u,"
	       "\"ns_per_match_median\":%.1f,\"ns_per_match_min\":%.1f,"
	       "\"ns_per_match_max\":%.1f,\"matches_per_batch\":%.2f,\"trie_nodes\":%u,"
	       "\"cache_hit_ratio\":%.3f,\"build_ms\":%.1f}\n",
	       subs, cache ? "true" : "false", cfg->runs, cfg->batches, cfg->topics,
	       ns[cfg->runs / 2], ns[0], ns[cfg->runs - 1],
	       (double)matches / ((double)cfg->batches * cfg->runs), st.nodes_used,
	       st.cache_hits + st.cache_misses > 0
		       ? (double)st.cache_hits / (double)(st.cache_hits + st.cache_misses)
		       : 0.0,
	       build_ms);
	(void)fflush(stdout);
	match_destroy(m);
	return 0;
}

static int bench_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end = NULL;

	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

static int bench_parse_sizes(char *s, struct bench_cfg *cfg)
{
	char *save = NULL;

	cfg->size_count = 0;
	for (char *tok = strtok_r(s, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		if (cfg->size_count == BENCH_SIZES_MAX ||
		    bench_parse_u32(tok, 1, MATCH_SUBSCRIPTIONS_MAX,
				    &cfg->sizes[cfg->size_count]) != 0) {
			return -EINVAL;
		}
		cfg->size_count++;
	}
	return cfg->size_count > 0 ? 0 : -EINVAL;
}

static int bench_parse(int argc, char **argv, struct bench_cfg *cfg)
{
	static const struct option opts[] = {
		{"runs", required_argument, NULL, 'r'},
		{"batches", required_argument, NULL, 'b'},
		{"topics", required_argument, NULL, 't'},
		{"cache-entries", required_argument, NULL, 'c'},
		{"subscriptions", required_argument, NULL, 's'},
		{NULL, 0, NULL, 0},
	};
	uint32_t runs = 5;
	int c;

	*cfg = (struct bench_cfg){.batches = 1000000,
				  .topics = 10000,
				  .cache_entries = 16384,
				  .sizes = {10, 1000, 100000},
				  .size_count = 3};
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int rc = -EINVAL;
		switch (c) {
		case 'r':
			rc = bench_parse_u32(optarg, 1, BENCH_RUNS_MAX, &runs);
			break;
		case 'b':
			rc = bench_parse_u32(optarg, 1, 1u << 30, &cfg->batches);
			break;
		case 't':
			rc = bench_parse_u32(optarg, 1, 1u << 24, &cfg->topics);
			break;
		case 'c':
			rc = bench_parse_u32(optarg, 1, MATCH_CACHE_ENTRIES_MAX,
					     &cfg->cache_entries);
			if (rc == 0 && (cfg->cache_entries & (cfg->cache_entries - 1)) != 0) {
				rc = -EINVAL;
			}
			break;
		case 's':
			rc = bench_parse_sizes(optarg, cfg);
			break;
		default:
			break;
		}
		if (rc != 0) {
			return rc;
		}
	}
	cfg->runs = runs;
	return optind == argc ? 0 : -EINVAL;
}

int main(int argc, char **argv)
{
	struct bench_cfg cfg;
	struct bench_topics topics = {0};
	uint32_t size_max = 0;
	int rc;

	if (bench_parse(argc, argv, &cfg) != 0) {
		(void)fprintf(stderr,
			      "usage: sluice-bench-match [--runs 1..64] [--batches N] "
			      "[--topics N] [--cache-entries POW2] [--subscriptions N,N,...]\n");
		return 2;
	}
	for (unsigned i = 0; i < cfg.size_count; i++) {
		size_max = cfg.sizes[i] > size_max ? cfg.sizes[i] : size_max;
	}
	uint32_t *ids = calloc(size_max, sizeof(*ids));
	rc = ids == NULL ? -ENOMEM : bench_topics_make(&cfg, &topics);
	for (unsigned i = 0; rc == 0 && i < cfg.size_count; i++) {
		rc = bench_one(&cfg, &topics, cfg.sizes[i], false, ids);
		if (rc == 0) {
			rc = bench_one(&cfg, &topics, cfg.sizes[i], true, ids);
		}
	}
	if (rc == -ENOMEM) {
		(void)fprintf(stderr, "sluice-bench-match: out of memory\n");
	}
	bench_topics_free(&topics);
	free(ids);
	return rc == 0 ? 0 : 1;
}
