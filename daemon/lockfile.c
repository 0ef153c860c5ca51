/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * daemon/lockfile.c — see lockfile.h. The file is never unlinked: removing
 * it would let a third daemon lock a new file while the second still holds
 * the old one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <tcmu/libtcmu.h>

#include "lockfile.h"
#include "util.h"

int lockfile_acquire(const char *path)
{
	_cleanup_close_ int fd = -1;
	char buf[32];
	ssize_t n;
	int len;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
	if (fd < 0) {
		int r = -errno;

		tcmu_err("lock file %s: %s", path, strerror(-r));
		return r;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int r = -errno;

		if (r != -EWOULDBLOCK) {
			tcmu_err("lock file %s: %s", path, strerror(-r));
			return r;
		}
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		tcmu_err("another tcmud (pid %s) already serves this kernel (lock %s held)",
			 buf[0] ? buf : "unknown", path);
		return -EBUSY;
	}
	len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)len, 0) != len)
		tcmu_warn("lock file %s: cannot write our pid: %s", path,
			  strerror(errno));
	return steal_fd(&fd);
}
