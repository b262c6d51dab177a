/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The data directory's lock: one advisory flock() on the file LOCK in a --data-dir, held
 * by whoever writes the journals there (sluiced for its whole life, `sluice journal index`
 * while it writes indexes), so two routers never share a directory and the offline tools
 * know when a router runs beside them. Read-only tools only probe it. Blocking file
 * calls: start-up and tools only, never a shard loop.
 */
#ifndef SL_JOURNAL_LOCK_H
#define SL_JOURNAL_LOCK_H

#include <sys/types.h>

#define JOURNAL_LOCK_NAME "LOCK"

/*
 * Takes the lock of data directory `dir` (created, with its parents, if missing):
 * opens or creates dir/LOCK (O_CLOEXEC), flock(LOCK_EX | LOCK_NB), then writes this
 * process's pid into it for the message of whoever is refused next. The caller owns the
 * returned fd and keeps it open as long as it writes in dir (closing it releases the
 * lock). Returns the fd, -EWOULDBLOCK when another process holds the lock (*holder: its
 * pid, 0 when it did not write it yet), -ENAMETOOLONG, or -errno of mkdir/open/flock.
 */
int journal_lock_open(const char *dir, pid_t *holder);

/* Releases the lock (closes fd); a negative fd is a no-op. */
void journal_lock_close(int fd);

/*
 * Whether a process holds the lock of `dir`, probed without taking it (flock(LOCK_SH |
 * LOCK_NB) on a read-only fd, released at once): 1 held (*holder: its pid or 0), 0 not
 * held or no lock file, or -errno. Creates nothing.
 */
int journal_lock_is_held(const char *dir, pid_t *holder);

#endif
