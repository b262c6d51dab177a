/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * `sluice produce`: generated events (--count, --size) or stdin lines sent through a
 * libsluice producer, paced by --rate, then flushed within the producer's retry budget.
 * The result is a summary on stderr, or with --json one object as the last line of
 * stdout, written on every path out of the run, failures included.
 */
#include "cli/cli.h"

#include "client/producer_test.h"
#include "core/clock.h"

#include <sluice/client_dpdk.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How long one wait for acks or tokens may last: keeps progress and signals lively. */
#define PRODUCE_WAIT_US 1000u
/* A late --rate schedule catches up at most this much at full speed. */
#define PRODUCE_RATE_SLACK_NS 100000000ull
/* Producer work is polled once every this many events even when nothing blocks. */
#define PRODUCE_POLL_EVERY 64u
/* Added to the producer's retry budget for the final flush. */
#define PRODUCE_FLUSH_MARGIN_MS 1000u
/* Flush bound after an interrupt. */
#define PRODUCE_FLUSH_INTERRUPTED_MS 1000u
#define PRODUCE_SEED 0x5eed5eedull

static volatile sig_atomic_t produce_stop;

static void produce_on_signal(int sig)
{
	(void)sig;
	produce_stop = 1;
}

struct produce_run {
	const struct cli_produce_opts *o;
	struct sl_producer *p;
	uint64_t attempted; /* events handed to sl_produce (accepted or rejected) */
	uint64_t rejected;  /* refused by sl_produce: too large and the like */
	int first_delivery_error;
	char error[CLI_ERR_BYTES]; /* "" when the run went well */
	uint64_t start_ns;
	struct cli_progress progress;
};

static void produce_on_delivery(void *ctx, const struct sl_delivery *d)
{
	struct produce_run *r = ctx;

	if (d->error != 0 && r->first_delivery_error == 0) {
		r->first_delivery_error = d->error;
	}
}

/* Keeps the first error of the run: later ones are usually its consequences. */
__attribute__((format(printf, 2, 3))) static void produce_set_error(struct produce_run *r,
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

static void produce_show_progress(struct produce_run *r, uint64_t now)
{
	struct sl_producer_stats st;

	if (!cli_progress_due(&r->progress, now)) {
		return;
	}
	sl_producer_stats_get(r->p, &st);
	double secs = (double)(now - r->start_ns) / 1e9;
	cli_progress_print(&r->progress,
			   "%llu events, %llu acked, %llu failed, %llu retransmits, %.0f events/s",
			   (unsigned long long)r->attempted, (unsigned long long)st.events_acked,
			   (unsigned long long)st.events_failed, (unsigned long long)st.retransmits,
			   secs > 0 ? (double)r->attempted / secs : 0.0);
}

/* Waits for the --rate schedule, polling the producer meanwhile. */
static int produce_pace(struct produce_run *r, uint64_t *sched_ns)
{
	if (r->o->rate == 0) {
		return 0;
	}
	for (;;) {
		uint64_t now = clock_monotonic_ns();
		if (now >= *sched_ns) {
			if (now - *sched_ns > PRODUCE_RATE_SLACK_NS) {
				*sched_ns = now - PRODUCE_RATE_SLACK_NS;
			}
			*sched_ns += 1000000000ull / r->o->rate;
			return 0;
		}
		if (produce_stop) {
			return -EINTR;
		}
		uint64_t wait_us = (*sched_ns - now) / 1000u;
		int rc = sl_producer_poll(
			r->p,
			(uint32_t)(wait_us < PRODUCE_WAIT_US ? wait_us + 1 : PRODUCE_WAIT_US));
		if (rc < 0) {
			return rc;
		}
		produce_show_progress(r, now);
	}
}

/*
 * Hands one event to the producer, polling while it says -EAGAIN. Returns 0 when
 * accepted or rejected for its own sake (counted), or a negative error that ends the
 * run (metadata timeout, unknown topic, interrupt).
 */
static int produce_one(struct produce_run *r, const void *value, size_t len)
{
	const struct cli_produce_opts *o = r->o;
	size_t key_len = o->key != NULL ? strlen(o->key) : 0;
	int rc;

	for (;;) {
		if (o->has_partition) {
			rc = sl_produce_to(r->p, o->topic, o->partition, o->key, key_len, value,
					   len);
		} else {
			rc = sl_produce(r->p, o->topic, o->key, key_len, value, len);
		}
		if (rc != -EAGAIN) {
			break;
		}
		if (produce_stop) {
			return -EINTR;
		}
		rc = sl_producer_poll(r->p, PRODUCE_WAIT_US);
		if (rc < 0) {
			return rc;
		}
		produce_show_progress(r, clock_monotonic_ns());
	}
	r->attempted++;
	if (rc == -EMSGSIZE) {
		r->rejected++;
		produce_set_error(r,
				  "event %llu: %zu bytes do not fit one frame (--frame-bytes and "
				  "the router's limit)",
				  (unsigned long long)r->attempted, len);
		return 0;
	}
	if (rc != 0) {
		r->attempted--;
		return rc;
	}
	if (r->attempted % PRODUCE_POLL_EVERY == 0) {
		rc = sl_producer_poll(r->p, 0);
		if (rc < 0) {
			return rc;
		}
		produce_show_progress(r, clock_monotonic_ns());
	}
	return 0;
}

static int produce_generated(struct produce_run *r)
{
	uint8_t *value = malloc(r->o->size > 0 ? r->o->size : 1);
	uint64_t sched = clock_monotonic_ns();
	int rc = 0;

	if (value == NULL) {
		return -ENOMEM;
	}
	memset(value, 'x', r->o->size);
	for (uint64_t i = 0; i < r->o->count; i++) {
		if (produce_stop) {
			rc = -EINTR;
			break;
		}
		/* The index leads the value when it fits: every event differs. */
		if (r->o->size >= sizeof(i)) {
			memcpy(value, &i, sizeof(i));
		}
		rc = produce_pace(r, &sched);
		if (rc == 0) {
			rc = produce_one(r, value, r->o->size);
		}
		if (rc != 0) {
			break;
		}
	}
	free(value);
	return rc;
}

static int produce_lines(struct produce_run *r)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	uint64_t sched = clock_monotonic_ns();
	int rc = 0;

	while (!produce_stop && (len = getline(&line, &cap, stdin)) >= 0) {
		if (len > 0 && line[len - 1] == '\n') {
			len--;
		}
		rc = produce_pace(r, &sched);
		if (rc == 0) {
			rc = produce_one(r, line, (size_t)len);
		}
		if (rc != 0) {
			break;
		}
	}
	if (rc == 0 && produce_stop) {
		rc = -EINTR;
	}
	free(line);
	return rc;
}

/* The flush bound: every retransmit of the last batch, plus its linger and a margin. */
static uint32_t produce_flush_ms(const struct cli_produce_opts *o)
{
	uint64_t us = o->linger_us;
	uint64_t step = o->retry_timeout_us;
	const uint64_t step_max = 500000u;

	for (uint32_t i = 0; i <= o->retries; i++) {
		us += step;
		step = step * 2 > step_max ? (step_max > step ? step_max : step) : step * 2;
	}
	return (uint32_t)(us / 1000u) + PRODUCE_FLUSH_MARGIN_MS;
}

static int produce_report(struct produce_run *r, uint64_t end_ns)
{
	struct sl_producer_stats st = {0};
	double secs = (double)(end_ns - r->start_ns) / 1e9;

	if (r->p != NULL) {
		sl_producer_stats_get(r->p, &st);
	}
	/* Not acknowledged is failed: refused, failed in flight, or still unanswered. */
	uint64_t acked = st.events_acked;
	uint64_t failed = r->attempted - acked;
	if (r->first_delivery_error == -ETIMEDOUT) {
		produce_set_error(r,
				  "%llu events failed, first error: no ack from %s after %u "
				  "retransmits",
				  (unsigned long long)failed, r->o->router, r->o->retries);
	} else if (r->first_delivery_error != 0) {
		produce_set_error(r, "%llu events failed, first error: %s",
				  (unsigned long long)failed, sl_strerror(r->first_delivery_error));
	}
	if (failed > 0) {
		produce_set_error(r, "%llu events not acknowledged", (unsigned long long)failed);
	}
	double rate = secs > 0 ? (double)r->attempted / secs : 0.0;
	cli_progress_end(&r->progress);
	if (r->o->json) {
		struct cli_json j;
		cli_json_init(&j, stdout);
		cli_json_object_begin(&j, NULL);
		cli_json_u64(&j, "events", r->attempted);
		cli_json_u64(&j, "acked", acked);
		cli_json_u64(&j, "failed", failed);
		cli_json_u64(&j, "retransmits", st.retransmits);
		cli_json_u64(&j, "duplicates", st.duplicates);
		cli_json_u64(&j, "nacks", st.nacks);
		cli_json_double(&j, "seconds", secs);
		cli_json_double(&j, "events_per_s", rate);
		cli_json_string(&j, "acks", cli_acks_name(r->o->acks));
		cli_json_u64(&j, "batches", st.batches_sent);
		cli_json_u64(&j, "datagrams_sent", st.datagrams_sent);
		cli_json_u64(&j, "window_holds", st.window_holds);
		cli_json_u64(&j, "datagrams_received", st.datagrams_received);
		cli_json_u64(&j, "datagrams_invalid", st.datagrams_invalid);
		cli_json_u64(&j, "producer_id", r->p != NULL ? sl_producer_id(r->p) : 0);
		cli_json_u64(&j, "producer_epoch", r->p != NULL ? sl_producer_epoch(r->p) : 0);
		cli_json_string(&j, "error", r->error[0] != '\0' ? r->error : NULL);
		cli_json_object_end(&j);
		cli_json_finish(&j);
	} else {
		fprintf(stderr,
			"%llu events, %llu acked, %llu failed, %llu retransmits, %llu duplicates, "
			"%llu nacks in %.3f s (%.0f events/s)\n",
			(unsigned long long)r->attempted, (unsigned long long)acked,
			(unsigned long long)failed, (unsigned long long)st.retransmits,
			(unsigned long long)st.duplicates, (unsigned long long)st.nacks, secs,
			rate);
		if (r->error[0] != '\0') {
			fprintf(stderr, "sluice produce: %s\n", r->error);
		}
	}
	return r->error[0] == '\0' ? CLI_EXIT_OK : CLI_EXIT_FAILED;
}

static void produce_config(const struct cli_produce_opts *o, struct produce_run *r,
			   struct sl_producer_config *cfg)
{
	sl_producer_config_init(cfg);
	cfg->router = o->router;
	cfg->acks = o->acks;
	cfg->linger_us = o->linger_us;
	cfg->frame_bytes_max = o->frame_bytes;
	cfg->inflight_bytes_max = o->inflight_bytes;
	cfg->send_window_bytes = o->send_window_bytes;
	cfg->retries_max = o->retries;
	cfg->retry_timeout_us = o->retry_timeout_us;
	if (cfg->retry_timeout_max_us < cfg->retry_timeout_us) {
		cfg->retry_timeout_max_us = cfg->retry_timeout_us;
	}
	cfg->on_delivery = produce_on_delivery;
	cfg->ctx = r;
}

/* The producer on the chosen driver. Returns 0, or an error already set in r. */
static int produce_create(struct produce_run *r, const struct sl_producer_config *cfg)
{
	const struct cli_produce_opts *o = r->o;
	struct sl_dpdk_transport_config dcfg;
	char err[CLI_ERR_BYTES];
	int rc;

	if (o->driver == CLI_DRIVER_UDP) {
		rc = sl_producer_create(cfg, &r->p);
		if (rc != 0) {
			produce_set_error(r, "cannot create producer for %s: %s", o->router,
					  sl_strerror(rc));
		}
		return rc;
	}
	rc = cli_dpdk_port_start(o->eal_argc, o->eal_argv, o->port_id, o->frame_bytes, err);
	if (rc != 0) {
		produce_set_error(r, "--driver dpdk: %s", err);
		return rc;
	}
	sl_dpdk_transport_config_init(&dcfg);
	dcfg.port_id = o->port_id;
	dcfg.local_ip = o->local_ip;
	rc = sl_producer_create_dpdk(cfg, &dcfg, &r->p);
	if (rc != 0) {
		produce_set_error(r, "cannot create producer for %s on port %u (local %s): %s",
				  o->router, o->port_id, o->local_ip, sl_strerror(rc));
		cli_dpdk_port_stop(o->port_id);
	}
	return rc;
}

int cli_produce_main(int argc, char **argv)
{
	struct cli_produce_opts o;
	struct produce_run r;
	struct sl_producer_config cfg;
	char err[CLI_ERR_BYTES];
	int rc;

	if (cli_produce_parse(argc, argv, &o, err) != 0) {
		fprintf(stderr, "sluice produce: %s\n(see sluice produce --help)\n", err);
		return CLI_EXIT_USAGE;
	}
	if (o.help) {
		cli_produce_usage(stdout);
		return CLI_EXIT_OK;
	}
	memset(&r, 0, sizeof(r));
	r.o = &o;
	r.start_ns = clock_monotonic_ns();
	cli_progress_init(&r.progress, STDERR_FILENO, r.start_ns);
	cli_stop_signals_install(produce_on_signal);

	produce_config(&o, &r, &cfg);
	rc = produce_create(&r, &cfg);
	if (rc != 0) {
		return produce_report(&r, clock_monotonic_ns());
	}
	if (o.test_drop_tx_permille > 0 || o.test_drop_rx_permille > 0) {
		producer_test_set_loss(r.p, o.test_drop_tx_permille, o.test_drop_rx_permille,
				       PRODUCE_SEED);
	}
	rc = o.has_count ? produce_generated(&r) : produce_lines(&r);
	if (rc == -EINTR) {
		produce_set_error(&r, "interrupted");
	} else if (rc == -ETIMEDOUT) {
		produce_set_error(&r, "topic %s: no METADATA answer from %s within %u ms", o.topic,
				  o.router, cfg.metadata_timeout_ms);
	} else if (rc != 0) {
		produce_set_error(&r, "topic %s: %s", o.topic, sl_strerror(rc));
	}
	rc = sl_flush(r.p, rc == -EINTR ? PRODUCE_FLUSH_INTERRUPTED_MS : produce_flush_ms(&o));
	if (rc == -ETIMEDOUT) {
		struct sl_producer_stats st;
		sl_producer_stats_get(r.p, &st);
		produce_set_error(&r, "flush timed out with %llu batches unacknowledged",
				  (unsigned long long)st.inflight_batches);
	} else if (rc != 0) {
		produce_set_error(&r, "flush: %s", sl_strerror(rc));
	}
	rc = produce_report(&r, clock_monotonic_ns());
	sl_producer_destroy(r.p);
	if (o.driver == CLI_DRIVER_DPDK) {
		cli_dpdk_port_stop(o.port_id);
	}
	return rc;
}
