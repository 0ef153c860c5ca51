/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qfile.c — the system call shim of the image engine. Every write-like
 * call goes through here so a test build can stop the process after the
 * N-th one (a simulated crash at an exact point of the write ordering).
 * All functions: any thread, block, return 0 / -errno unless noted.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "qimg_int.h"

#ifdef QIMG_TEST_HOOKS
#include <stdlib.h>

long qf_crash_countdown;
long qf_write_calls;
int qf_powerfail;

/* Power-failure model: writes since the last fdatasync of their file are
 * journaled with their old contents; a simulated crash keeps a random
 * subset of them (in order) and loses the rest, like a disk cache. */
struct qf_jent {
	int fd;
	uint64_t off;
	size_t len;
	bool durable; /* written with RWF_DSYNC: survives the power loss */
	uint8_t *old, *new;
};

static struct qf_jent *qf_j;
static size_t qf_jn, qf_jcap;
static pthread_mutex_t qf_jlock = PTHREAD_MUTEX_INITIALIZER;

/* Journals a write (before it is issued); @durable for RWF_DSYNC. */
static void qf_journal(int fd, const void *buf, size_t len, uint64_t off,
		       bool durable)
{
	struct qf_jent *e;
	ssize_t n;

	pthread_mutex_lock(&qf_jlock);
	if (qf_jn == qf_jcap) {
		qf_jcap = qf_jcap ? 2 * qf_jcap : 256;
		qf_j = realloc(qf_j, qf_jcap * sizeof(*qf_j));
		if (!qf_j)
			abort();
	}
	e = &qf_j[qf_jn++];
	e->fd = fd;
	e->off = off;
	e->len = len;
	e->durable = durable;
	e->old = calloc(1, len);
	e->new = malloc(len);
	if (!e->old || !e->new)
		abort();
	n = pread(fd, e->old, len, (off_t)off);
	(void)n; /* short: past EOF reads as zeroes */
	memcpy(e->new, buf, len);
	pthread_mutex_unlock(&qf_jlock);
}

static void qf_journal_synced(int fd)
{
	size_t k = 0;

	pthread_mutex_lock(&qf_jlock);
	for (size_t i = 0; i < qf_jn; i++) {
		if (qf_j[i].fd == fd) {
			free(qf_j[i].old);
			free(qf_j[i].new);
		} else {
			qf_j[k++] = qf_j[i];
		}
	}
	qf_jn = k;
	pthread_mutex_unlock(&qf_jlock);
}

static void qf_power_loss(void)
{
	uint64_t r = (uint64_t)qf_write_calls * 0x9e3779b97f4a7c15ULL + 1;

	for (size_t i = qf_jn; i-- > 0;)
		if (pwrite(qf_j[i].fd, qf_j[i].old, qf_j[i].len,
			   (off_t)qf_j[i].off) < 0)
			abort();
	for (size_t i = 0; i < qf_jn; i++) {
		r ^= r << 13;
		r ^= r >> 7;
		r ^= r << 17;
		if (((r & 1) || qf_j[i].durable) && pwrite(qf_j[i].fd, qf_j[i].new, qf_j[i].len,
				      (off_t)qf_j[i].off) < 0)
			abort();
	}
}

static void qf_count_write(void)
{
	__atomic_add_fetch(&qf_write_calls, 1, __ATOMIC_RELAXED);
	if (__atomic_load_n(&qf_crash_countdown, __ATOMIC_RELAXED) > 0 &&
	    __atomic_sub_fetch(&qf_crash_countdown, 1, __ATOMIC_SEQ_CST) == 0) {
		if (qf_powerfail) {
			pthread_mutex_lock(&qf_jlock);
			qf_power_loss();
		}
		_exit(86);
	}
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
#ifdef QIMG_TEST_HOOKS
		if (qf_powerfail)
			qf_journal(fd, p, len, off, false);
#endif
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

/* pwritev2 with @flags (0 or RWF_DSYNC); bytes written or -errno. */
static ssize_t qf_pwritev_flags(int fd, const struct iovec *iov, int cnt,
				uint64_t off, int flags)
{
	ssize_t n;

	qf_count_write();
#ifdef QIMG_TEST_HOOKS
	if (qf_powerfail) {
		uint64_t o = off;

		/* RWF_DSYNC writes are journaled durable in full: a short
		 * one is retried with the same bytes, and a refused one
		 * (EOPNOTSUPP, not on the test file systems) is rewritten
		 * plainly and synced before the FUA write completes. */
		for (int i = 0; i < cnt; i++) {
			qf_journal(fd, iov[i].iov_base, iov[i].iov_len, o,
				   flags != 0);
			o += iov[i].iov_len;
		}
	}
#endif
	do
		n = flags ? pwritev2(fd, iov, cnt, (off_t)off, flags)
			  : pwritev(fd, iov, cnt, (off_t)off);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

/* Returns bytes written or -errno. */
ssize_t qf_pwritev(int fd, const struct iovec *iov, int cnt, uint64_t off)
{
	return qf_pwritev_flags(fd, iov, cnt, off, 0);
}

/* pwritev2(RWF_DSYNC): returns bytes written (durable) or -errno. */
ssize_t qf_pwritev_dsync(int fd, const struct iovec *iov, int cnt,
			 uint64_t off)
{
	return qf_pwritev_flags(fd, iov, cnt, off, RWF_DSYNC);
}

int qf_sync(int fd)
{
	qf_count_write();
	if (fdatasync(fd) < 0)
		return -errno;
#ifdef QIMG_TEST_HOOKS
	if (qf_powerfail)
		qf_journal_synced(fd);
#endif
	return 0;
}

int qf_fallocate(int fd, int mode, uint64_t off, uint64_t len)
{
	qf_count_write();
	if (fallocate(fd, mode, (off_t)off, (off_t)len) < 0)
		return -errno;
	return 0;
}
