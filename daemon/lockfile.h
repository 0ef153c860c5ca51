/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * daemon/lockfile.h — one tcmud per kernel: an exclusive flock() on a
 * lock file (default /run/tcmud.lock) held for the daemon's lifetime.
 */
#ifndef TCMUD_LOCKFILE_H
#define TCMUD_LOCKFILE_H

/*
 * lockfile_acquire — create/open @path and take an exclusive lock on it
 * without waiting; write our pid into it. Main thread. Returns the fd that
 * holds the lock (close it to release), -EBUSY when another process holds
 * it (logged with that process's pid), or -errno.
 */
int lockfile_acquire(const char *path);

#endif
