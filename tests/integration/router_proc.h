/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test helper: runs a real sluiced process on a free loopback port, waits until it
 * answers PING, and stops it with SIGTERM, reporting how it exited. Used by every
 * integration test; kills only the process it started, by pid.
 */
#ifndef SL_TEST_ROUTER_PROC_H
#define SL_TEST_ROUTER_PROC_H

#include <stdint.h>
#include <sys/types.h>

struct router_proc {
	pid_t pid;
	int exited;	 /* reaped already; status holds how */
	int wait_status; /* from waitpid() once exited */
	uint16_t port;
	char address[32];  /* "127.0.0.1:PORT" */
	char data_dir[64]; /* its --data-dir */
	int own_data_dir;  /* made by router_proc_start(): removed by router_proc_stop() */
};

/*
 * Starts `sluiced_path` with `--listen 127.0.0.1:<free port> --data-dir <a new temporary
 * directory>` followed by the NULL-terminated `extra` flags, and waits up to 20 s for a
 * PONG. Returns 0 or -errno.
 */
int router_proc_start(struct router_proc *r, const char *sluiced_path, const char *const *extra);

/* The same with the caller's data directory (kept at stop) and UDP port (0: a free one),
 * e.g. to restart a router on the journal and address a previous one left. */
int router_proc_start_dir(struct router_proc *r, const char *sluiced_path, const char *data_dir,
			  uint16_t port, const char *const *extra);

/* Kills the router with SIGKILL (a crash) and reaps it. Returns 0 or -errno. */
int router_proc_kill(struct router_proc *r);

/* Sends SIGTERM and waits up to 20 s. Returns the exit status, or -1 if it was killed
 * by a signal or had to be killed after the wait. */
int router_proc_stop(struct router_proc *r);

/* True while the process runs. */
int router_proc_is_running(struct router_proc *r);

/* Removes directory `path` and everything in it (a data directory a test made). */
void remove_tree(const char *path);

/* A UDP port on 127.0.0.1 that was free a moment ago. */
uint16_t free_udp_port(void);

#endif
