/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The smallest libsluice consumer: subscribes to a pattern and prints N events as
 * "topic partition offset value-bytes", acknowledging them as it goes (auto ack mode).
 * Build against an installed libsluice:
 *   cc consume.c $(pkg-config --cflags --libs sluice) -o consume
 * Usage: consume [HOST:PORT] [PATTERN] [N]. Exit 0 once N events arrived.
 */
#include <sluice/client.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	struct sl_consumer_config cfg;
	struct sl_consumer *c;
	struct sl_event ev[64];
	const char *pattern = argc > 2 ? argv[2] : ">";
	unsigned long want = argc > 3 ? strtoul(argv[3], NULL, 10) : 10;
	unsigned long got = 0;
	uint32_t id;
	int rc;

	sl_consumer_config_init(&cfg);
	if (argc > 1) {
		cfg.router = argv[1];
	}
	rc = sl_consumer_create(&cfg, &c);
	if (rc != 0) {
		(void)fprintf(stderr, "create: %s\n", sl_strerror(rc));
		return 1;
	}
	rc = sl_subscribe(c, pattern, NULL, &id);
	if (rc != 0) {
		(void)fprintf(stderr, "subscribe %s: %s (%s)\n", pattern, sl_strerror(rc),
			      sl_sub_error_name(sl_consumer_sub_error(c)));
		sl_consumer_destroy(c);
		return 1;
	}
	while (got < want) {
		int n = sl_consumer_poll(c, ev, 64, 1000);
		if (n < 0) {
			(void)fprintf(stderr, "poll: %s\n", sl_strerror(n));
			break;
		}
		for (int i = 0; i < n; i++) {
			(void)printf("%s %u %llu %u bytes\n", ev[i].topic, ev[i].partition,
				     (unsigned long long)ev[i].offset, ev[i].value_len);
		}
		got += (unsigned long)n;
	}
	/* Acknowledges what was printed and unsubscribes. */
	sl_consumer_destroy(c);
	return got >= want ? 0 : 1;
}
