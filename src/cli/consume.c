/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * `sluice consume`: one libsluice consumer, one subscription, events printed one per
 * line on stdout (consume_format.c) until --count events, --timeout or an interrupt.
 * The result is a summary on stderr, or with --json one object as the last line of
 * stdout, written on every path out of the run, failures included.
 */
#include "cli/cli.h"

#include "core/clock.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Events asked for per poll, and the longest wait of one poll (keeps signals, progress
 * and --timeout lively). */
#define CONSUME_BURST 64u
#define CONSUME_WAIT_MS 100u
/* How long --from OFFSET waits for the topic's partition count. */
#define CONSUME_METADATA_TIMEOUT_MS 5000u

static volatile sig_atomic_t consume_stop;

static void consume_on_signal(int sig)
{
	(void)sig;
	consume_stop = 1;
}

struct consume_run {
	const struct cli_consume_opts *o;
	struct sl_consumer *c;
	uint64_t events;
	bool interrupted;
	bool timed_out;
	int output_errno;	   /* stdout failed (EPIPE and the like); 0 while it works */
	char error[CLI_ERR_BYTES]; /* "" when the run went well */
	uint64_t start_ns;
	struct cli_progress progress;
};

/* Keeps the first error of the run: later ones are usually its consequences. */
__attribute__((format(printf, 2, 3))) static void consume_set_error(struct consume_run *r,
								    const char *fmt, ...)
{
	va_list ap;

	if (r->error[0] != '\0') {
		return;
	}
	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
}

/* --from OFFSET: the same offset for every partition of the (literal) topic. */
static int consume_offsets_everywhere(struct consume_run *r, struct sl_start_offset *offs,
				      uint32_t *count)
{
	const struct cli_consume_opts *o = r->o;
	struct sl_metadata md;
	int rc = sl_metadata_fetch(o->router, o->pattern, CONSUME_METADATA_TIMEOUT_MS, &md);

	if (rc != 0) {
		consume_set_error(r, "--from %llu: partitions of %s: %s",
				  (unsigned long long)o->offset, o->pattern, cli_error_text(rc));
		return rc;
	}
	if (md.partitions == 0 || md.partitions > SL_WIRE_START_OFFSETS_MAX) {
		consume_set_error(r, "--from %llu: topic %s has %u partitions (1..%u needed)",
				  (unsigned long long)o->offset, o->pattern, md.partitions,
				  SL_WIRE_START_OFFSETS_MAX);
		return -EINVAL;
	}
	for (uint32_t p = 0; p < md.partitions; p++) {
		offs[p].partition = p;
		offs[p].offset = o->offset;
	}
	*count = md.partitions;
	return 0;
}

static int consume_subscribe(struct consume_run *r)
{
	static struct sl_start_offset offs[SL_WIRE_START_OFFSETS_MAX];
	const struct cli_consume_opts *o = r->o;
	struct sl_subscribe_options so;
	uint32_t id = 0;
	int rc;

	sl_subscribe_options_init(&so);
	so.group = o->group;
	if (o->group != NULL) {
		so.weight = o->weight;
		so.strategy = o->strategy;
	}
	so.start = o->start;
	so.start_timestamp_ns = o->start_timestamp_ns;
	so.slow_policy = o->slow;
	if (o->start == SL_START_OFFSETS) {
		so.offsets_topic = o->pattern;
		so.offsets = o->offsets;
		so.offset_count = o->offset_count;
		if (o->offset_every_partition) {
			rc = consume_offsets_everywhere(r, offs, &so.offset_count);
			if (rc != 0) {
				return rc;
			}
			so.offsets = offs;
		}
	}
	rc = sl_subscribe(r->c, o->pattern, &so, &id);
	if (rc == -ETIMEDOUT) {
		consume_set_error(r, "subscribe %s: no answer from %s", o->pattern, o->router);
	} else if (rc != 0 && sl_consumer_sub_error(r->c) != SL_SUB_OK) {
		consume_set_error(r, "subscribe %s: %s: %s", o->pattern, sl_strerror(rc),
				  sl_sub_error_name(sl_consumer_sub_error(r->c)));
	} else if (rc != 0) {
		consume_set_error(r, "subscribe %s: %s", o->pattern, sl_strerror(rc));
	}
	return rc;
}

static void consume_show_progress(struct consume_run *r, uint64_t now)
{
	struct sl_consumer_stats st;

	if (!cli_progress_due(&r->progress, now)) {
		return;
	}
	sl_consumer_stats_get(r->c, &st);
	double secs = (double)(now - r->start_ns) / 1e9;
	cli_progress_print(&r->progress,
			   "%llu events, %llu redeliveries, %llu duplicates, %llu gaps, "
			   "%.0f events/s",
			   (unsigned long long)r->events, (unsigned long long)st.redeliveries,
			   (unsigned long long)st.duplicates, (unsigned long long)st.gaps,
			   secs > 0 ? (double)r->events / secs : 0.0);
}

/* Polls and prints until --count, --timeout, an interrupt or an error. */
static void consume_loop(struct consume_run *r)
{
	const struct cli_consume_opts *o = r->o;
	uint64_t deadline =
		o->timeout_ms > 0 ? r->start_ns + (uint64_t)o->timeout_ms * 1000000u : UINT64_MAX;
	struct sl_event ev[CONSUME_BURST];

	while (!o->has_count || r->events < o->count) {
		uint64_t now = clock_monotonic_ns();
		if (consume_stop) {
			r->interrupted = true;
			break;
		}
		if (now >= deadline) {
			r->timed_out = true;
			break;
		}
		uint64_t left_ms = (deadline - now + 999999u) / 1000000u;
		size_t want = CONSUME_BURST;
		if (o->has_count && o->count - r->events < want) {
			want = (size_t)(o->count - r->events);
		}
		int n = sl_consumer_poll(
			r->c, ev, want,
			(int)(left_ms < CONSUME_WAIT_MS ? left_ms : CONSUME_WAIT_MS));
		if (n < 0) {
			consume_set_error(r, "poll: %s", sl_strerror(n));
			break;
		}
		for (int i = 0; i < n; i++) {
			cli_event_write(stdout, o->format, &ev[i]);
		}
		r->events += (uint64_t)n;
		if (n > 0 && fflush(stdout) != 0) {
			/* The reader went away (`| head`): stop as if interrupted. */
			r->output_errno = errno != 0 ? errno : EIO;
			break;
		}
		consume_show_progress(r, now);
	}
}

static int consume_report(struct consume_run *r, uint64_t end_ns)
{
	const struct cli_consume_opts *o = r->o;
	struct sl_consumer_stats st = {0};
	double secs = (double)(end_ns - r->start_ns) / 1e9;

	if (r->c != NULL) {
		sl_consumer_stats_get(r->c, &st);
	}
	if (r->output_errno != 0) {
		consume_set_error(r, "stdout: %s", strerror(r->output_errno));
	} else if (o->has_count && r->events < o->count) {
		consume_set_error(r, "%s with %llu of %llu events",
				  r->interrupted ? "interrupted" : "timed out",
				  (unsigned long long)r->events, (unsigned long long)o->count);
	}
	cli_progress_end(&r->progress);
	if (o->json) {
		struct cli_json j;
		cli_json_init(&j, stdout);
		cli_json_object_begin(&j, NULL);
		cli_json_bool(&j, "summary", true);
		cli_json_u64(&j, "events", r->events);
		cli_json_u64(&j, "deliveries", st.deliveries);
		cli_json_u64(&j, "redeliveries", st.redeliveries);
		cli_json_u64(&j, "duplicates", st.duplicates);
		cli_json_u64(&j, "gaps", st.gaps);
		cli_json_u64(&j, "gap_offsets", st.gap_offsets);
		cli_json_u64(&j, "deliveries_invalid", st.deliveries_invalid);
		cli_json_u64(&j, "deliveries_dropped", st.deliveries_dropped);
		cli_json_u64(&j, "deliveries_lost", st.deliveries_lost);
		cli_json_u64(&j, "credit_overruns", st.credit_overruns);
		cli_json_u64(&j, "nacks", st.nacks);
		cli_json_double(&j, "seconds", secs);
		cli_json_double(&j, "events_per_s", secs > 0 ? (double)r->events / secs : 0.0);
		cli_json_u64(&j, "subscriber_id", r->c != NULL ? sl_consumer_id(r->c) : 0);
		cli_json_string(&j, "error", r->error[0] != '\0' ? r->error : NULL);
		cli_json_object_end(&j);
		cli_json_finish(&j);
	} else {
		fprintf(stderr,
			"%llu events, %llu redeliveries, %llu duplicates, %llu gaps, %llu invalid "
			"deliveries in %.3f s\n",
			(unsigned long long)r->events, (unsigned long long)st.redeliveries,
			(unsigned long long)st.duplicates, (unsigned long long)st.gaps,
			(unsigned long long)st.deliveries_invalid, secs);
		if (r->error[0] != '\0') {
			fprintf(stderr, "sluice consume: %s\n", r->error);
		}
	}
	return r->error[0] == '\0' ? CLI_EXIT_OK : CLI_EXIT_FAILED;
}

int cli_consume_main(int argc, char **argv)
{
	struct cli_consume_opts o;
	struct consume_run r;
	struct sl_consumer_config cfg;
	char err[CLI_ERR_BYTES];
	int rc;

	if (cli_consume_parse(argc, argv, &o, err) != 0) {
		fprintf(stderr, "sluice consume: %s\n(see sluice consume --help)\n", err);
		return CLI_EXIT_USAGE;
	}
	if (o.help) {
		cli_consume_usage(stdout);
		return CLI_EXIT_OK;
	}
	memset(&r, 0, sizeof(r));
	r.o = &o;
	r.start_ns = clock_monotonic_ns();
	cli_progress_init(&r.progress, STDERR_FILENO, r.start_ns);
	cli_stop_signals_install(consume_on_signal);
	/* A closed stdout is an error of fflush, not a signal: the consumer still
	 * acknowledges what it printed and unsubscribes. */
	(void)signal(SIGPIPE, SIG_IGN);

	sl_consumer_config_init(&cfg);
	cfg.router = o.router;
	cfg.window_batches = o.window_batches;
	cfg.window_batches_max = o.window_batches_max;
	cfg.window_bytes = o.window_bytes;
	rc = sl_consumer_create(&cfg, &r.c);
	if (rc != 0) {
		consume_set_error(&r, "cannot create consumer for %s: %s", o.router,
				  sl_strerror(rc));
		return consume_report(&r, clock_monotonic_ns());
	}
	if (consume_subscribe(&r) == 0) {
		consume_loop(&r);
	}
	rc = consume_report(&r, clock_monotonic_ns());
	sl_consumer_destroy(r.c);
	return rc;
}
