/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qfile.c — the system call shim of the image engine. Every write-like
 * call goes through here so a test build can stop the process after the
 * N-th one (a simulated crash at an exact point of the write ordering).
 * All functions: any thread, block, return 0 / -errno unless noted.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "qimg_int.h"

#ifdef QIMG_TEST_HOOKS
long qf_crash_countdown;
long qf_write_calls;

static void qf_count_write(void)
{
	__atomic_add_fetch(&qf_write_calls, 1, __ATOMIC_RELAXED);
	if (__atomic_load_n(&qf_crash_countdown, __ATOMIC_RELAXED) > 0 &&
	    __atomic_sub_fetch(&qf_crash_countdown, 1, __ATOMIC_SEQ_CST) == 0)
		_exit(86);
}
#else
static inline void qf_count_write(void)
{
}
#endif

int qf_pread(int fd, void *buf, size_t len, uint64_t off)
{
	char *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0) { /* past EOF: zeroes */
			memset(p, 0, len);
			return 0;
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int qf_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	const char *p = buf;

	while (len) {
		ssize_t n;

		qf_count_write();
		n = pwrite(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

/* Returns bytes read or -errno. */
ssize_t qf_preadv(int fd, const struct iovec *iov, int cnt, uint64_t off)
{
	ssize_t n;

	do
		n = preadv(fd, iov, cnt, (off_t)off);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

/* Returns bytes written or -errno. */
ssize_t qf_pwritev(int fd, const struct iovec *iov, int cnt, uint64_t off)
{
	ssize_t n;

	qf_count_write();
	do
		n = pwritev(fd, iov, cnt, (off_t)off);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

int qf_sync(int fd)
{
	qf_count_write();
	if (fdatasync(fd) < 0)
		return -errno;
	return 0;
}

int qf_fallocate(int fd, int mode, uint64_t off, uint64_t len)
{
	qf_count_write();
	if (fallocate(fd, mode, (off_t)off, (off_t)len) < 0)
		return -errno;
	return 0;
}
