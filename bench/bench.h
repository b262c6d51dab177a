/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the modes of sluice-bench share: the stop flag set by SIGINT/SIGTERM, address
 * parsing and the non-blocking UDP socket. sluice_bench.c holds main() and the echo,
 * load and pcap modes; bench_durable.c the durable-ack mode (bench/journal.sh).
 */
#ifndef SL_BENCH_BENCH_H
#define SL_BENCH_BENCH_H

#include <netinet/in.h>
#include <signal.h>

/* Datagrams per sendmmsg/recvmmsg call. */
#define BENCH_BURST 64
/* Largest datagram a mode sends or receives (a jumbo frame's UDP payload and more). */
#define BENCH_DGRAM_MAX 9216

/* Set by SIGINT or SIGTERM: every mode stops its loop and reports what it measured. */
extern volatile sig_atomic_t bench_stop;

/* Parses "IPV4:PORT" into out. Returns 0 or -EINVAL. */
int bench_parse_addr(const char *s, struct sockaddr_in *out);

/* A non-blocking IPv4 UDP socket with receive and send buffers of `bufbytes` (best
 * effort); the fd, or -1 with errno set. */
int bench_socket(int bufbytes);

/*
 * `sluice-bench durable ...`: PRODUCE frames asking acks=durable, closed loop or paced;
 * prints one JSON line of rates, ack latency percentiles and NACKs. argv[0] is
 * "durable". Returns the process exit code: 0, 1 on a tool error, 2 on bad flags.
 */
int bench_durable_main(int argc, char **argv);

#endif
