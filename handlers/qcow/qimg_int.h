/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qimg_int.h — internals shared by the image engine's files: the format
 * vtable, iovec helpers, the system call shim (with test hooks) and the
 * guest range lock. Not used by the handler glue.
 */
#ifndef TCMU_QIMG_INT_H
#define TCMU_QIMG_INT_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "qimg.h"

/* Deepest backing chain we follow. */
#define QIMG_MAX_CHAIN 16

/** A byte view of an iovec array. */
struct qiov {
	const struct iovec *iov;
	int cnt;
};

struct q2;

/** The per-format operations behind the public qimg_*() calls. */
struct qimg_ops {
	int (*read)(struct qimg *img, uint64_t off, size_t len,
		    const struct qiov *qv, size_t qoff);
	/* With @fua the data is durable on return (and what finds it). */
	int (*write)(struct qimg *img, uint64_t off, size_t len,
		     const struct qiov *qv, size_t qoff, bool fua);
	int (*zero)(struct qimg *img, uint64_t off, uint64_t len,
		    bool may_unmap);
	int (*flush)(struct qimg *img);
	int (*block_status)(struct qimg *img, uint64_t off, bool *alloc,
			    uint64_t *len);
	int (*check)(struct qimg *img, bool repair,
		     struct qimg_check_result *res);
	/* Flushes and frees the format state; returns the flush result. */
	int (*close)(struct qimg *img);
};

struct qimg {
	const struct qimg_ops *ops;
	enum qimg_format fmt;
	int fd;
	bool ro;
	uint64_t size;
	uint32_t cluster_size;
	struct qimg *backing; /* read-only, may be NULL */
	struct q2 *q2;        /* qcow2 state, NULL for raw */
	int depth;            /* 0 for the top image */
};

/* qimg.c */
/* Formats an open error into @err (QIMG_ERR_LEN bytes; @err may be NULL). */
void qimg_seterr(char *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Opens @path as one layer of a chain (depth counts layers above). */
int qimg_open_layer(const char *path, const char *fmt_hint,
		    unsigned int flags, int depth, struct qimg **out,
		    char *err);
/* Reads from a backing image, zero-filling past its end. */
int qimg_backing_read(struct qimg *backing, uint64_t off, size_t len,
		      void *buf);

/* qimg_raw.c */
int qimg_raw_init(struct qimg *img, char *err);

/* qcow2_open.c */
int q2_open(struct qimg *img, const char *path, unsigned int flags,
	    char *err);

/* qiov.c: byte-addressed helpers over iovec arrays. */
void qiov_zero(const struct qiov *qv, size_t qoff, size_t len);
void qiov_to_buf(const struct qiov *qv, size_t qoff, void *buf, size_t len);
void qiov_from_buf(const struct qiov *qv, size_t qoff, const void *buf,
		   size_t len);
/* Reads file bytes into the iovec; bytes past EOF read as zeroes. */
int qiov_pread(int fd, const struct qiov *qv, size_t qoff, size_t len,
	       uint64_t foff);
/* Writes iovec bytes to the file, all or an error. */
int qiov_pwrite(int fd, const struct qiov *qv, size_t qoff, size_t len,
		uint64_t foff);
/* Same with RWF_DSYNC (durable on return); -EOPNOTSUPP, -EINVAL or
 * -ENOSYS when the kernel or file system cannot do that. */
int qiov_pwrite_dsync(int fd, const struct qiov *qv, size_t qoff, size_t len,
		      uint64_t foff);

/* qfile.c: the only place that issues data/metadata system calls. */
/* Reads @len bytes; bytes past EOF read as zeroes. Returns 0 or -errno. */
int qf_pread(int fd, void *buf, size_t len, uint64_t off);
/* Writes all of @buf or fails. Returns 0 or -errno. */
int qf_pwrite(int fd, const void *buf, size_t len, uint64_t off);
/* preadv/pwritev that count as one system call each for the test hooks. */
ssize_t qf_preadv(int fd, const struct iovec *iov, int cnt, uint64_t off);
ssize_t qf_pwritev(int fd, const struct iovec *iov, int cnt, uint64_t off);
/* pwritev2(RWF_DSYNC): bytes written (durable) or -errno. */
ssize_t qf_pwritev_dsync(int fd, const struct iovec *iov, int cnt,
			 uint64_t off);
/* fdatasync. Returns 0 or -errno. */
int qf_sync(int fd);
/* fallocate that counts as a write for the test hooks. */
int qf_fallocate(int fd, int mode, uint64_t off, uint64_t len);

#ifdef QIMG_TEST_HOOKS
/*
 * Test hooks: when qf_crash_countdown is > 0 it is decremented before
 * every write-like system call; the call that brings it to 0 is not
 * issued and the process exits at once with status 86 (a simulated
 * kill -9 at that point).
 */
extern long qf_crash_countdown;
/* Counts every write-like system call issued. */
extern long qf_write_calls;
/*
 * With qf_powerfail set, the simulated crash is a power failure: writes
 * not yet made durable by fdatasync() of their file are each lost or kept
 * at random (in order) before the process exits.
 */
extern int qf_powerfail;
#endif

/* rangelock.c: shared/exclusive locks on ranges of guest clusters. */
struct rl_entry {
	uint64_t first, last; /* inclusive cluster range */
	bool excl;
	struct rl_entry *next;
};

struct rangelock {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct rl_entry *head;
};

void rl_init(struct rangelock *rl);
void rl_destroy(struct rangelock *rl);
/* Blocks until no conflicting range is held, then holds @e. */
void rl_lock(struct rangelock *rl, struct rl_entry *e, uint64_t first,
	     uint64_t last, bool excl);
void rl_unlock(struct rangelock *rl, struct rl_entry *e);

#endif
