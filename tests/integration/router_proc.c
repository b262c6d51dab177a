/* SPDX-License-Identifier: BSD-3-Clause */
/* Starting and stopping a sluiced process for integration tests. */
#include "router_proc.h"

#include <sluice/client.h>

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUTER_ARGS_MAX 64
#define ROUTER_WAIT_MS 20000

uint16_t free_udp_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0) {
		return 0;
	}
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
		(void)close(fd);
		return 0;
	}
	(void)close(fd);
	return ntohs(a.sin_port);
}

/* execv() takes char *const[] for historical reasons and never writes the strings. */
static char *arg_mutable(const char *s)
{
	return (char *)(uintptr_t)s;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
	(void)nanosleep(&ts, NULL);
}

static int router_proc_launch(struct router_proc *r, const char *sluiced_path,
			      const char *const *extra);
static void router_proc_remove_data(struct router_proc *r);

int router_proc_start(struct router_proc *r, const char *sluiced_path, const char *const *extra)
{
	memset(r, 0, sizeof(*r));
	(void)snprintf(r->data_dir, sizeof(r->data_dir), "/tmp/sluice-test-XXXXXX");
	if (mkdtemp(r->data_dir) == NULL) {
		return -errno;
	}
	r->own_data_dir = 1;
	int rc = router_proc_launch(r, sluiced_path, extra);
	if (rc != 0 && r->pid == 0) {
		router_proc_remove_data(r);
	}
	return rc;
}

int router_proc_start_dir(struct router_proc *r, const char *sluiced_path, const char *data_dir,
			  uint16_t port, const char *const *extra)
{
	memset(r, 0, sizeof(*r));
	r->port = port;
	if (strlen(data_dir) >= sizeof(r->data_dir)) {
		return -ENAMETOOLONG;
	}
	(void)snprintf(r->data_dir, sizeof(r->data_dir), "%s", data_dir);
	return router_proc_launch(r, sluiced_path, extra);
}

static int router_proc_launch(struct router_proc *r, const char *sluiced_path,
			      const char *const *extra)
{
	char *argv[ROUTER_ARGS_MAX];
	int argc = 0;

	if (r->port == 0) {
		r->port = free_udp_port();
	}
	if (r->port == 0) {
		return -EADDRNOTAVAIL;
	}
	(void)snprintf(r->address, sizeof(r->address), "127.0.0.1:%u", r->port);
	argv[argc++] = arg_mutable(sluiced_path);
	argv[argc++] = arg_mutable("--listen");
	argv[argc++] = r->address;
	argv[argc++] = arg_mutable("--data-dir");
	argv[argc++] = r->data_dir;
	/* Only warnings and errors: the test's own failure messages then stay readable in
	 * a CI log that keeps a limited part of stderr. */
	argv[argc++] = arg_mutable("--log-level");
	argv[argc++] = arg_mutable("warning");
	for (int i = 0; extra != NULL && extra[i] != NULL && argc < ROUTER_ARGS_MAX - 1; i++) {
		argv[argc++] = arg_mutable(extra[i]);
	}
	argv[argc] = NULL;

	r->pid = fork();
	if (r->pid < 0) {
		return -errno;
	}
	if (r->pid == 0) {
		execv(sluiced_path, argv);
		_exit(127);
	}
	for (int waited = 0; waited < ROUTER_WAIT_MS; waited += 70) {
		uint64_t rtt;
		if (!router_proc_is_running(r)) {
			return -ECHILD;
		}
		if (sl_ping(r->address, 50, &rtt) == 0) {
			return 0;
		}
		sleep_ms(20);
	}
	(void)router_proc_stop(r);
	return -ETIMEDOUT;
}

static int router_proc_remove_one(const char *path, const struct stat *st, int type,
				  struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path) == 0 ? 0 : -1;
}

void remove_tree(const char *path)
{
	(void)nftw(path, router_proc_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void router_proc_remove_data(struct router_proc *r)
{
	if (r->own_data_dir) {
		remove_tree(r->data_dir);
		r->own_data_dir = 0;
	}
}

int router_proc_kill(struct router_proc *r)
{
	int status = 0;

	if (r->pid <= 0 || r->exited) {
		return -ESRCH;
	}
	if (kill(r->pid, SIGKILL) != 0) {
		return -errno;
	}
	(void)waitpid(r->pid, &status, 0);
	r->pid = 0;
	return 0;
}

int router_proc_is_running(struct router_proc *r)
{
	if (r->pid <= 0 || r->exited) {
		return 0;
	}
	if (waitpid(r->pid, &r->wait_status, WNOHANG) == r->pid) {
		r->exited = 1;
		return 0;
	}
	return 1;
}

static int router_proc_exit_code(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int router_proc_stop_process(struct router_proc *r);

int router_proc_stop(struct router_proc *r)
{
	int rc = router_proc_stop_process(r);

	router_proc_remove_data(r);
	return rc;
}

static int router_proc_stop_process(struct router_proc *r)
{
	int status = 0;

	if (r->pid <= 0) {
		return -1;
	}
	if (r->exited) {
		r->pid = 0;
		return router_proc_exit_code(r->wait_status);
	}
	(void)kill(r->pid, SIGTERM);
	for (int waited = 0; waited < ROUTER_WAIT_MS; waited += 10) {
		pid_t got = waitpid(r->pid, &status, WNOHANG);
		if (got == r->pid) {
			r->pid = 0;
			return router_proc_exit_code(status);
		}
		sleep_ms(10);
	}
	(void)kill(r->pid, SIGKILL);
	(void)waitpid(r->pid, &status, 0);
	r->pid = 0;
	return -1;
}
