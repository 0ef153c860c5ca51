/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qiov.c — byte-addressed helpers over iovec arrays: copy in and out, zero,
 * and positioned file I/O on a sub-range. Any thread; the file helpers
 * block. They return 0 or -errno.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "qimg_int.h"

/* At most this many iovecs per preadv/pwritev call. */
#define QIOV_BATCH 64

/* Finds the iovec holding byte @qoff; returns its index, *inner the offset. */
static int qiov_seek(const struct qiov *qv, size_t qoff, size_t *inner)
{
	int i = 0;

	while (i < qv->cnt && qoff >= qv->iov[i].iov_len) {
		qoff -= qv->iov[i].iov_len;
		i++;
	}
	*inner = qoff;
	return i;
}

/* Calls @fn on each contiguous piece of [qoff, qoff+len). */
static void qiov_walk(const struct qiov *qv, size_t qoff, size_t len,
		      void (*fn)(char *p, size_t n, size_t done, void *arg),
		      void *arg)
{
	size_t inner, done = 0;
	int i = qiov_seek(qv, qoff, &inner);

	for (; len && i < qv->cnt; i++, inner = 0) {
		size_t n = qv->iov[i].iov_len - inner;

		if (n > len)
			n = len;
		fn((char *)qv->iov[i].iov_base + inner, n, done, arg);
		done += n;
		len -= n;
	}
}

static void zero_fn(char *p, size_t n, size_t done, void *arg)
{
	memset(p, 0, n);
}

static void to_buf_fn(char *p, size_t n, size_t done, void *arg)
{
	memcpy((char *)arg + done, p, n);
}

static void from_buf_fn(char *p, size_t n, size_t done, void *arg)
{
	memcpy(p, (const char *)arg + done, n);
}

void qiov_zero(const struct qiov *qv, size_t qoff, size_t len)
{
	qiov_walk(qv, qoff, len, zero_fn, NULL);
}

void qiov_to_buf(const struct qiov *qv, size_t qoff, void *buf, size_t len)
{
	qiov_walk(qv, qoff, len, to_buf_fn, buf);
}

void qiov_from_buf(const struct qiov *qv, size_t qoff, const void *buf,
		   size_t len)
{
	qiov_walk(qv, qoff, len, from_buf_fn, (void *)buf);
}

/* Builds up to QIOV_BATCH iovecs for [qoff, qoff+len); returns the count. */
static int qiov_batch(const struct qiov *qv, size_t qoff, size_t len,
		      struct iovec *out, size_t *bytes)
{
	size_t inner;
	int i = qiov_seek(qv, qoff, &inner), n = 0;

	*bytes = 0;
	for (; len && i < qv->cnt && n < QIOV_BATCH; i++, inner = 0) {
		size_t l = qv->iov[i].iov_len - inner;

		if (l > len)
			l = len;
		if (!l)
			continue;
		out[n].iov_base = (char *)qv->iov[i].iov_base + inner;
		out[n].iov_len = l;
		n++;
		*bytes += l;
		len -= l;
	}
	return n;
}

int qiov_pread(int fd, const struct qiov *qv, size_t qoff, size_t len,
	       uint64_t foff)
{
	struct iovec v[QIOV_BATCH];

	while (len) {
		size_t want;
		int n = qiov_batch(qv, qoff, len, v, &want);
		ssize_t r;

		if (!n)
			return -EINVAL;
		r = qf_preadv(fd, v, n, foff);
		if (r < 0)
			return (int)r;
		if (r == 0) { /* EOF */
			qiov_zero(qv, qoff, len);
			return 0;
		}
		qoff += (size_t)r;
		foff += (uint64_t)r;
		len -= (size_t)r;
	}
	return 0;
}

/* Writes [qoff, qoff+len) at @foff, with RWF_DSYNC when @dsync. */
static int qiov_pwrite_mode(int fd, const struct qiov *qv, size_t qoff,
			    size_t len, uint64_t foff, bool dsync)
{
	struct iovec v[QIOV_BATCH];

	while (len) {
		size_t want;
		int n = qiov_batch(qv, qoff, len, v, &want);
		ssize_t r;

		if (!n)
			return -EINVAL;
		r = dsync ? qf_pwritev_dsync(fd, v, n, foff)
			  : qf_pwritev(fd, v, n, foff);
		if (r < 0)
			return (int)r;
		if (r == 0)
			return -EIO;
		qoff += (size_t)r;
		foff += (uint64_t)r;
		len -= (size_t)r;
	}
	return 0;
}

int qiov_pwrite(int fd, const struct qiov *qv, size_t qoff, size_t len,
		uint64_t foff)
{
	return qiov_pwrite_mode(fd, qv, qoff, len, foff, false);
}

int qiov_pwrite_dsync(int fd, const struct qiov *qv, size_t qoff, size_t len,
		      uint64_t foff)
{
	return qiov_pwrite_mode(fd, qv, qoff, len, foff, true);
}
