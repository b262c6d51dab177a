/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The smallest libsluice producer: sends N events to a router and waits for their acks.
 * Build against an installed libsluice:
 *   cc produce.c $(pkg-config --cflags --libs sluice) -o produce
 * Usage: produce [HOST:PORT] [N]. Exit 0 when every event was acknowledged.
 */
#include <sluice/client.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static unsigned long acked;
static unsigned long failed;

static void on_delivery(void *ctx, const struct sl_delivery *d)
{
	(void)ctx;
	if (d->error != 0) {
		failed += d->count;
		(void)fprintf(stderr, "batch of %u failed: %s\n", d->count, sl_strerror(d->error));
		return;
	}
	acked += d->count;
}

int main(int argc, char **argv)
{
	struct sl_producer_config cfg;
	struct sl_producer *p;
	unsigned long n = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000;

	sl_producer_config_init(&cfg);
	if (argc > 1) {
		cfg.router = argv[1];
	}
	cfg.on_delivery = on_delivery;
	int rc = sl_producer_create(&cfg, &p);
	if (rc != 0) {
		(void)fprintf(stderr, "sl_producer_create: %s\n", sl_strerror(rc));
		return 1;
	}
	for (unsigned long i = 0; i < n;) {
		char value[32];
		int len = snprintf(value, sizeof(value), "event %lu", i);
		rc = sl_produce(p, "examples", NULL, 0, value, (size_t)len);
		if (rc == 0) {
			i++;
		} else if (rc == -EAGAIN) {
			(void)sl_producer_poll(p, 1000);
		} else {
			(void)fprintf(stderr, "sl_produce: %s\n", sl_strerror(rc));
			break;
		}
	}
	rc = sl_flush(p, 10000);
	sl_producer_destroy(p);
	printf("%lu acked, %lu failed\n", acked, failed);
	return rc == 0 && acked == n ? 0 : 1;
}
