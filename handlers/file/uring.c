/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * handlers/file/uring.c — the io_uring engine of a file device.
 *
 * Everything here runs on the device's ring thread (the I/O callbacks of
 * an ASYNC handler, batch_end and the poll-fd callback all do), so the
 * io_uring needs no lock. SQEs point straight at the data-area iovecs;
 * user_data is the command's struct fh_cmd (its private area). They are
 * submitted once per batch (fh_uring_submit from batch_end) or when the
 * submission queue fills. The ring thread polls the io_uring fd itself
 * (readable while completions wait in the CQ ring: nothing to read() to
 * re-arm it), and batch_end reaps what completed during the submission
 * (buffered reads often do), so a batch can be answered in the same turn
 * of the ring thread. Short transfers are resubmitted from where they
 * stopped.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "file.h"

#ifndef TCMU_FILE_URING

int fh_uring_open(struct fh_dev *d)
{
	return -ENOTSUP;
}

void fh_uring_close(struct fh_dev *d)
{
}

int fh_uring_start(struct fh_dev *d, struct fh_cmd *fc)
{
	return -ENOTSUP;
}

int fh_uring_unmap(struct fh_dev *d, struct fh_cmd *fc,
		   const struct tcmu_range *ranges, size_t nr)
{
	return -ENOTSUP;
}

void fh_uring_submit(struct fh_dev *d)
{
}

void fh_uring_reap(struct fh_dev *d)
{
}

#else

#include <linux/falloc.h>

#define FH_SQ_DEPTH 256
#define FH_CQ_DEPTH 1024 /* overflow beyond it is kept by the kernel (NODROP) */

/*
 * fh_uring_submit — hands every prepared SQE to the kernel with one
 * io_uring_enter. Ring thread; does not wait for completions. On a
 * transient refusal the SQEs stay queued for the next call (the next
 * completion or batch).
 */
void fh_uring_submit(struct fh_dev *d)
{
	int r;

	while (io_uring_sq_ready(&d->ring)) {
		r = io_uring_submit(&d->ring);
		if (r == -EINTR)
			continue;
		if (r < 0) {
			tcmu_dev_dbg(d->dev, "file: io_uring_submit: %s", strerror(-r));
			return;
		}
		if (r == 0)
			return;
	}
}

/* A free SQE, flushing the full queue to the kernel once if needed. */
static struct io_uring_sqe *fh_sqe(struct fh_dev *d, struct fh_cmd *fc)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ring);

	if (!sqe) {
		fh_uring_submit(d);
		sqe = io_uring_get_sqe(&d->ring);
		if (!sqe)
			return NULL;
	}
	io_uring_sqe_set_data(sqe, fc);
	return sqe;
}

static void fh_sqe_file(struct fh_dev *d, struct io_uring_sqe *sqe)
{
	if (d->fixed_file) {
		sqe->fd = 0; /* index into the registered files */
		sqe->flags |= IOSQE_FIXED_FILE;
	}
}

/* Queues the next part of a read or write. Returns 0 or -EBUSY. */
static int fh_queue_rw(struct fh_dev *d, struct fh_cmd *fc)
{
	struct io_uring_sqe *sqe = fh_sqe(d, fc);
	const struct iovec *v;
	unsigned int cnt;

	if (!sqe)
		return -EBUSY;
	v = fh_cursor_window(&fc->cur, &cnt);
	if (fc->op == FH_OP_READ)
		io_uring_prep_readv(sqe, d->fd, v, cnt, fc->cur.off);
	else
		io_uring_prep_writev2(sqe, d->fd, v, cnt, fc->cur.off,
				      fc->dsync ? RWF_DSYNC : 0);
	fh_sqe_file(d, sqe);
	/*
	 * A large buffered transfer is one long memory copy: done inline it
	 * would hold the ring thread (which also pays for the kernel's copy
	 * of every completed read in its notify), so it goes straight to an
	 * io-wq worker and the copies of several commands run on several
	 * CPUs.
	 */
	if (!d->cfg.direct && fc->cur.left >= d->cfg.async_min)
		sqe->flags |= IOSQE_ASYNC;
	return 0;
}

/*
 * fh_uring_start — queues the SQE(s) of a read, write, flush or zeroing
 * write_same. Ring thread; never blocks. Returns 0 (completed later) or
 * -EBUSY when no SQE could be had.
 */
int fh_uring_start(struct fh_dev *d, struct fh_cmd *fc)
{
	struct io_uring_sqe *sqe;
	int mode;

	switch (fc->op) {
	case FH_OP_READ:
	case FH_OP_WRITE:
		return fh_queue_rw(d, fc);
	case FH_OP_FLUSH:
		sqe = fh_sqe(d, fc);
		if (!sqe)
			return -EBUSY;
		io_uring_prep_fsync(sqe, d->fd, d->cfg.full_fsync ? 0 : IORING_FSYNC_DATASYNC);
		fh_sqe_file(d, sqe);
		return 0;
	case FH_OP_WRITE_SAME: /* zero pattern only */
		sqe = fh_sqe(d, fc);
		if (!sqe)
			return -EBUSY;
		mode = fc->ws_flags & TCMU_WRITE_SAME_UNMAP ?
			       FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE :
			       FALLOC_FL_ZERO_RANGE;
		io_uring_prep_fallocate(sqe, d->fd, mode, fc->off, fc->len);
		fh_sqe_file(d, sqe);
		fc->inflight = 1;
		return 0;
	default:
		return -EINVAL;
	}
}

/*
 * fh_uring_unmap — one hole-punching SQE per range; the command completes
 * when the last one does, with the first error. @ranges is only read
 * here. Ring thread; never blocks. Returns 0 or -EBUSY (nothing queued).
 */
int fh_uring_unmap(struct fh_dev *d, struct fh_cmd *fc,
		   const struct tcmu_range *ranges, size_t nr)
{
	size_t i;

	fc->inflight = 1; /* held while queueing */
	for (i = 0; i < nr; i++) {
		struct io_uring_sqe *sqe;

		if (!ranges[i].length)
			continue;
		sqe = fh_sqe(d, fc);
		if (!sqe) {
			if (fc->inflight == 1)
				return -EBUSY;
			fc->result = -EBUSY; /* the queued ones still complete */
			break;
		}
		io_uring_prep_fallocate(sqe, d->fd,
					FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					ranges[i].offset, ranges[i].length);
		fh_sqe_file(d, sqe);
		fc->inflight++;
	}
	if (--fc->inflight == 0)
		tcmu_cmd_done(fc->cmd, fc->result);
	return 0;
}

static bool fh_unsupported(int res)
{
	return res == -EOPNOTSUPP || res == -ENOSYS;
}

/* One CQE of @fc with result @res. Ring thread. */
static void fh_uring_complete(struct fh_dev *d, struct fh_cmd *fc, int res)
{
	switch (fc->op) {
	case FH_OP_READ:
	case FH_OP_WRITE:
		if (res == -EAGAIN || res == -EINTR) {
			res = fh_queue_rw(d, fc); /* try the same part again */
			if (!res)
				return;
			break;
		}
		if (res < 0)
			break;
		if (res == 0) {
			if (fc->op == FH_OP_WRITE) {
				res = -EIO;
				break;
			}
			fh_cursor_zero_rest(&fc->cur); /* past end of file */
		} else {
			fh_cursor_advance(&fc->cur, res);
		}
		if (fc->cur.left) {
			res = fh_queue_rw(d, fc);
			if (!res)
				return;
		}
		res = res < 0 ? res : 0;
		break;
	case FH_OP_FLUSH:
		res = res < 0 ? res : 0;
		break;
	case FH_OP_WRITE_SAME:
		if (fh_unsupported(res)) {
			/* remember, and let a worker zero it another way */
			atomic_store(fc->ws_flags & TCMU_WRITE_SAME_UNMAP ?
					     &d->no_punch : &d->no_zero_range, true);
			fh_pool_queue(d, fc);
			return;
		}
		res = res < 0 ? res : 0;
		break;
	case FH_OP_UNMAP:
		if (fh_unsupported(res))
			atomic_store(&d->no_punch, true); /* the next go to a worker */
		if (res < 0 && !fc->result)
			fc->result = res;
		if (--fc->inflight)
			return;
		res = fc->result;
		break;
	default:
		res = -EINVAL;
	}
	tcmu_cmd_done(fc->cmd, res);
}

/*
 * fh_uring_reap — takes every CQE (each is consumed before its command is
 * completed, so tcmu_cmd_done() may re-enter the handler) and submits any
 * resubmission. No system call unless a CQ overflow must be flushed. Ring
 * thread; never blocks.
 */
void fh_uring_reap(struct fh_dev *d)
{
	struct io_uring_cqe *cqe;
	bool again = false;

	while (io_uring_peek_cqe(&d->ring, &cqe) == 0) {
		struct fh_cmd *fc = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&d->ring, cqe);
		fh_uring_complete(d, fc, res);
		again = true;
	}
	if (again)
		fh_uring_submit(d);
}

/* Poll-fd callback: the io_uring fd is readable, completions are waiting. */
static void fh_uring_ready(struct tcmu_device *dev, void *arg)
{
	fh_uring_reap(arg);
}

/*
 * fh_uring_open — sets up the device's io_uring and has the ring thread
 * poll its fd. Main thread (open). Returns 0 or -errno (nothing is left
 * allocated), e.g. -ENOSYS / -EPERM where io_uring is unavailable, or
 * -EOPNOTSUPP on kernels that may drop completions.
 */
int fh_uring_open(struct fh_dev *d)
{
	struct io_uring_params p = {
		.flags = IORING_SETUP_CQSIZE,
		.cq_entries = FH_CQ_DEPTH,
	};
	int r;

	r = io_uring_queue_init_params(FH_SQ_DEPTH, &d->ring, &p);
	if (r < 0)
		return r;
	d->ring_ready = true;
	if (!(p.features & IORING_FEAT_NODROP)) {
		r = -EOPNOTSUPP;
		goto fail;
	}
	d->fixed_file = io_uring_register_files(&d->ring, &d->fd, 1) == 0;
	r = tcmu_dev_add_poll_fd(d->dev, d->ring.ring_fd, fh_uring_ready, d);
	if (r < 0)
		goto fail;
	return 0;
fail:
	fh_uring_close(d);
	return r;
}

/*
 * fh_uring_close — tears the ring down. Main thread, after the ring thread
 * stopped (or from a failed open).
 */
void fh_uring_close(struct fh_dev *d)
{
	if (!d->ring_ready)
		return;
	io_uring_queue_exit(&d->ring);
	d->ring_ready = false;
	d->fixed_file = false;
}

#endif
