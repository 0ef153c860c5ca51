/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * handlers/rbd/rbd.c — the "rbd" handler: a LUN backed by a Ceph RBD image,
 * served through librbd's asynchronous API. README.md has the user's view
 * and the design; in short:
 *
 * I/O. ASYNC: the ring thread calls the I/O callbacks, which hand the
 * data-area iovecs straight to rbd_aio_readv/writev (no bounce buffer);
 * completions arrive on librbd threads, which call tcmu_cmd_done(). A
 * command that needs a second step (emulated
 * COMPARE AND WRITE: read, compare, write) submits it from the completion.
 *
 * COMPARE AND WRITE. librbd 16.2 compares and writes atomically on the OSD,
 * but only inside one 512-byte sector. That case (512-byte LUNs, one
 * block) goes to rbd_aio_compare_and_write and is atomic cluster-wide.
 * Anything larger is emulated here (read, compare, write) behind a
 * per-LUN write gate: while an emulated COMPARE AND WRITE runs, no other
 * write, write same, unmap or native compare-and-write of this LUN is in
 * flight, and new ones queue behind it (FIFO). That makes it atomic
 * against everything sent through this daemon; against other rados
 * clients it relies on this client keeping the exclusive lock (see
 * README.md, "Multipath").
 *
 * Connection loss. -ETIMEDOUT (osd_op_timeout), -EROFS (another client
 * holds the lock) and -ESHUTDOWN (this client was blocklisted) complete as
 * BUSY, which initiators retry. -ESHUTDOWN also takes the LUN down: a
 * per-LUN service thread waits until no command uses the old image, closes
 * it, and reopens it on a new connection, retrying with back-off; in the
 * meantime commands are refused with BUSY. Each kind of error is logged
 * once per episode, plus one line when I/O works again.
 *
 * Size. open() gives the LUN the image's size. The service thread also
 * watches the image header (rbd_update_watch): when the image was resized
 * (rbd resize), the LUN follows with tcmu_dev_set_size(), which raises
 * CAPACITY DATA HAS CHANGED. A RECONFIG may make the LUN at most as large
 * as the image.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rbd/librbd.h>
#include <tcmu/handler.h>

#include "rbd.h"

/* librbd 16.2 compares and writes only inside one 512-byte sector. */
#define RBD_CAW_SECTOR 512

enum rbd_state {
	RBD_UP,   /* the image is open: commands go to librbd */
	RBD_DOWN, /* the client was fenced: reopening, commands get BUSY */
};

enum rbd_op {
	OP_READ,
	OP_WRITE,
	OP_FLUSH,
	OP_UNMAP,
	OP_WRITE_SAME,
	OP_CAW,      /* native, inside one sector */
	OP_CAW_EMUL, /* read, compare, write, behind the exclusive gate */
};

enum rbd_step {
	ST_MAIN,     /* the command's own request */
	ST_CAW_WRITE, /* emulated CAW: the write after the compare */
};

enum rbd_gate {
	GATE_NONE,
	GATE_SHARED, /* a write-like command */
	GATE_EXCL,   /* an emulated COMPARE AND WRITE */
};

/* Per-command state, in tcmu_cmd_priv() (zeroed for every command). */
struct rbd_cmd {
	struct rbd_dev *rd;
	struct tcmu_cmd *cmd;
	struct rbd_cmd *gate_next;  /* queued behind the gate */
	uint8_t op, step, gate;
	const struct iovec *iov;    /* data (read: into; others: from) */
	size_t iovcnt;
	const struct iovec *cmp;    /* CAW verify data */
	size_t cmpcnt;
	uint64_t off, len;
	const struct tcmu_range *ranges; /* UNMAP */
	size_t nr;
	atomic_int pending;         /* UNMAP: discards not yet completed */
	atomic_int first_err;       /* UNMAP: first failure */
	uint64_t mismatch;          /* native CAW: librbd's mismatch_off */
	char *buf;                  /* CAW / write same: own copy */
	struct iovec one;           /* write same: the pattern in buf */
	bool zero;                  /* write same: the pattern is all zero */
};

struct rbd_dev {
	struct tcmu_device *dev;
	struct rbd_dev *next;       /* rbd_devs */
	struct rbd_cfg cfg;
	char *label;                /* "pool/image" for logs */

	/* Valid while state is RBD_UP or refs > 0; changed only by open(),
	 * close() and the service thread while state is RBD_DOWN, refs 0. */
	struct rbd_conn *conn;
	rados_ioctx_t ioctx;
	rbd_image_t image;
	uint64_t obj_size;          /* bytes per rados object */
	uint64_t watch_handle;
	bool watching;

	atomic_int state;           /* enum rbd_state */
	atomic_uint refs;           /* commands using the image */
	atomic_ullong image_size;   /* bytes, as last seen */
	atomic_int err_logged;      /* errno last logged, 0 after recovery */

	/* Write gate (see the top of the file). */
	pthread_mutex_t gate_lock;
	unsigned int gate_writes;   /* GATE_SHARED commands running */
	bool gate_excl;             /* a GATE_EXCL command runs */
	struct rbd_cmd *gate_head, *gate_tail;

	/* Service thread: reopen and resize. */
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop, want_reopen, want_resize;
};

/* Every open LUN, to take down all LUNs of a fenced connection at once. */
static pthread_mutex_t rbd_devs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rbd_dev *rbd_devs;

static void rbd_start(struct rbd_cmd *rc);

/* ------------------------------------------------------------------ */
/* Image references, errors                                           */
/* ------------------------------------------------------------------ */

/* Take a reference to the image for a command. false: the LUN is down. */
static bool rbd_get(struct rbd_dev *rd)
{
	atomic_fetch_add(&rd->refs, 1);
	if (atomic_load(&rd->state) == RBD_UP)
		return true;
	atomic_fetch_sub(&rd->refs, 1);
	/* the service thread may wait for refs to drop to zero */
	pthread_mutex_lock(&rd->lock);
	pthread_cond_broadcast(&rd->cond);
	pthread_mutex_unlock(&rd->lock);
	return false;
}

static void rbd_put(struct rbd_dev *rd)
{
	if (atomic_fetch_sub(&rd->refs, 1) == 1 &&
	    atomic_load(&rd->state) != RBD_UP) {
		pthread_mutex_lock(&rd->lock);
		pthread_cond_broadcast(&rd->cond);
		pthread_mutex_unlock(&rd->lock);
	}
}

/* Wake the service thread for a reopen or a size check. Any thread. */
static void rbd_kick(struct rbd_dev *rd, bool reopen)
{
	pthread_mutex_lock(&rd->lock);
	if (reopen)
		rd->want_reopen = true;
	else
		rd->want_resize = true;
	pthread_cond_broadcast(&rd->cond);
	pthread_mutex_unlock(&rd->lock);
}

/*
 * The client of @rd was blocklisted: take down every LUN on that
 * connection so that each reopens on a fresh one. Any thread (librbd
 * callbacks included); never blocks for long.
 */
static void rbd_fenced(struct rbd_dev *rd)
{
	struct rbd_conn *cn;

	pthread_mutex_lock(&rbd_devs_lock);
	cn = rd->conn;
	if (!cn) { /* already reopening */
		pthread_mutex_unlock(&rbd_devs_lock);
		return;
	}
	rbd_conn_kill(cn);
	for (struct rbd_dev *d = rbd_devs; d; d = d->next) {
		int up = RBD_UP;

		if (d->conn != cn)
			continue;
		if (atomic_compare_exchange_strong(&d->state, &up, RBD_DOWN)) {
			tcmu_dev_warn(d->dev, "rbd %s: this client was blocklisted (another client broke the exclusive lock): reopening",
				      d->label);
			rbd_kick(d, true);
		}
	}
	pthread_mutex_unlock(&rbd_devs_lock);
}

static const char *rbd_err_hint(int r)
{
	switch (r) {
	case -ETIMEDOUT:
		return " (osd_op_timeout: the OSDs did not answer in time)";
	case -EROFS:
		return " (another client holds the exclusive lock)";
	case -ESHUTDOWN:
		return " (blocklisted)";
	default:
		return "";
	}
}

/*
 * Turn a librbd error into what the initiator sees, and log it once per
 * episode. Any thread. Returns the errno for tcmu_cmd_done().
 */
static int rbd_error(struct rbd_dev *rd, int r, const char *what)
{
	if (atomic_exchange(&rd->err_logged, r) != r)
		tcmu_dev_err(rd->dev, "rbd %s: %s failed: %s%s; further errors like this are not logged",
			     rd->label, what, strerror(-r), rbd_err_hint(r));
	switch (r) {
	case -ESHUTDOWN: /* EBLOCKLISTED */
		rbd_fenced(rd);
		return -ESHUTDOWN;
	case -EROFS:
		return -EBUSY; /* the lock may come back: let the initiator retry */
	case -EDQUOT:
		return -ENOSPC;
	default:
		return r; /* -ETIMEDOUT, -ENOTCONN: BUSY; others: medium error */
	}
}

/* A command succeeded: end an error episode. Any thread. */
static void rbd_ok(struct rbd_dev *rd)
{
	if (atomic_load_explicit(&rd->err_logged, memory_order_relaxed) &&
	    atomic_exchange(&rd->err_logged, 0))
		tcmu_dev_info(rd->dev, "rbd %s: I/O works again", rd->label);
}

/* ------------------------------------------------------------------ */
/* The write gate                                                     */
/* ------------------------------------------------------------------ */

/* Start or queue @rc, a GATE_SHARED or GATE_EXCL command. Any thread. */
static void rbd_gate_enter(struct rbd_cmd *rc, enum rbd_gate kind)
{
	struct rbd_dev *rd = rc->rd;
	bool go;

	rc->gate = kind;
	pthread_mutex_lock(&rd->gate_lock);
	go = !rd->gate_excl && !rd->gate_head &&
	     (kind == GATE_SHARED || !rd->gate_writes);
	if (go) {
		if (kind == GATE_EXCL)
			rd->gate_excl = true;
		else
			rd->gate_writes++;
	} else {
		rc->gate_next = NULL;
		if (rd->gate_tail)
			rd->gate_tail->gate_next = rc;
		else
			rd->gate_head = rc;
		rd->gate_tail = rc;
	}
	pthread_mutex_unlock(&rd->gate_lock);
	if (go)
		rbd_start(rc);
}

/* @rc finished: let in the queued commands that may run now. Any thread. */
static void rbd_gate_leave(struct rbd_cmd *rc)
{
	struct rbd_dev *rd = rc->rd;
	struct rbd_cmd *run = NULL, **tail = &run;

	pthread_mutex_lock(&rd->gate_lock);
	if (rc->gate == GATE_EXCL)
		rd->gate_excl = false;
	else
		rd->gate_writes--;
	while (rd->gate_head && !rd->gate_excl) {
		struct rbd_cmd *h = rd->gate_head;

		if (h->gate == GATE_EXCL) {
			if (rd->gate_writes || run)
				break;
			rd->gate_excl = true;
		} else {
			rd->gate_writes++;
		}
		rd->gate_head = h->gate_next;
		if (!rd->gate_head)
			rd->gate_tail = NULL;
		h->gate_next = NULL;
		*tail = h;
		tail = &h->gate_next;
	}
	pthread_mutex_unlock(&rd->gate_lock);
	rc->gate = GATE_NONE;
	while (run) {
		struct rbd_cmd *n = run->gate_next;

		rbd_start(run);
		run = n;
	}
}

/* ------------------------------------------------------------------ */
/* Completion                                                         */
/* ------------------------------------------------------------------ */

/*
 * Complete @rc with @r (0 or -errno, already mapped). Any thread. @rc is
 * gone afterwards.
 */
static void rbd_finish(struct rbd_cmd *rc, int r)
{
	struct rbd_dev *rd = rc->rd;
	struct tcmu_cmd *cmd = rc->cmd;

	free(rc->buf);
	rc->buf = NULL;
	if (!r)
		rbd_ok(rd);
	if (rc->gate != GATE_NONE)
		rbd_gate_leave(rc);
	rbd_put(rd);
	tcmu_cmd_done(cmd, r);
}

/* Offset of the first byte where @iov (from its start) differs from @buf. */
static size_t rbd_iov_mismatch(const struct iovec *iov, size_t cnt,
			       const char *buf, size_t len)
{
	size_t pos = 0;

	for (size_t i = 0; i < cnt && pos < len; i++) {
		const char *p = iov[i].iov_base;
		size_t n = iov[i].iov_len < len - pos ? iov[i].iov_len : len - pos;

		if (memcmp(p, buf + pos, n)) {
			for (size_t j = 0; j < n; j++)
				if (p[j] != buf[pos + j])
					return pos + j;
		}
		pos += n;
	}
	return len;
}

static void rbd_iov_zero_from(const struct iovec *iov, size_t cnt, size_t from)
{
	size_t pos = 0;

	for (size_t i = 0; i < cnt; i++) {
		size_t l = iov[i].iov_len;

		if (pos + l > from) {
			size_t skip = from > pos ? from - pos : 0;

			memset((char *)iov[i].iov_base + skip, 0, l - skip);
		}
		pos += l;
	}
}

static void rbd_io_cb(rbd_completion_t c, void *arg);

/*
 * The offset of the first differing byte of a native COMPARE AND WRITE,
 * within the compared data, from librbd's mismatch_off. librbd 16.2 gives
 * the start of the object in the image plus the offset within the request
 * (so it looks absolute only when the request starts an object); a fixed
 * librbd gives the absolute image offset. For a request inside one sector
 * the two readings cannot be confused. false: neither fits.
 */
static bool rbd_caw_mismatch(const struct rbd_cmd *rc, uint64_t *at)
{
	uint64_t obj = rc->rd->obj_size;
	uint64_t base = obj ? rc->off - rc->off % obj : rc->off;

	if (rc->mismatch >= rc->off && rc->mismatch - rc->off < rc->len)
		*at = rc->mismatch - rc->off;
	else if (rc->mismatch >= base && rc->mismatch - base < rc->len)
		*at = rc->mismatch - base;
	else
		return false;
	return true;
}

/* Submit the write of an emulated CAW after its compare matched. Any thread
 * (a librbd completion). */
static void rbd_caw_write(struct rbd_cmd *rc)
{
	rbd_completion_t c;
	int r;

	rc->step = ST_CAW_WRITE;
	r = rbd_aio_create_completion(rc, rbd_io_cb, &c);
	if (r < 0) {
		rbd_finish(rc, r);
		return;
	}
	r = rbd_aio_writev(rc->rd->image, rc->iov, (int)rc->iovcnt, rc->off, c);
	if (r < 0) {
		rbd_aio_release(c);
		rbd_finish(rc, rbd_error(rc->rd, r, "submitting a request"));
	}
}

static const char *rbd_op_name(const struct rbd_cmd *rc)
{
	static const char *const names[] = {
		[OP_READ] = "read", [OP_WRITE] = "write", [OP_FLUSH] = "flush",
		[OP_UNMAP] = "discard", [OP_WRITE_SAME] = "write same",
		[OP_CAW] = "compare and write", [OP_CAW_EMUL] = "compare and write",
	};

	return names[rc->op];
}

/*
 * librbd completion of one request of a command (never UNMAP's). librbd
 * thread; never blocks; may submit the command's next request.
 */
static void rbd_io_cb(rbd_completion_t c, void *arg)
{
	struct rbd_cmd *rc = arg;
	ssize_t ret = rbd_aio_get_return_value(c);
	int r = ret < 0 ? (int)ret : 0;

	rbd_aio_release(c);
	if (r == -EILSEQ && rc->op == OP_CAW && rc->step == ST_MAIN) {
		uint64_t at;

		if (rbd_caw_mismatch(rc, &at))
			tcmu_cmd_set_miscompare(rc->cmd, (uint32_t)at);
		rbd_finish(rc, -EILSEQ);
		return;
	}
	if (r < 0) {
		rbd_finish(rc, rbd_error(rc->rd, r, rbd_op_name(rc)));
		return;
	}
	switch (rc->op) {
	case OP_READ:
		/* librbd clips reads at the end of the image */
		if ((uint64_t)ret < rc->len)
			rbd_iov_zero_from(rc->iov, rc->iovcnt, (size_t)ret);
		break;
	case OP_CAW_EMUL:
		if (rc->step == ST_MAIN) {
			size_t at = rbd_iov_mismatch(rc->cmp, rc->cmpcnt, rc->buf,
						     rc->len);

			if (at < rc->len) {
				tcmu_cmd_set_miscompare(rc->cmd, (uint32_t)at);
				rbd_finish(rc, -EILSEQ);
			} else {
				rbd_caw_write(rc);
			}
			return;
		}
		/* fall through */
	default:
		/* FUA needs no flush: librbd runs uncached (conn.c), so a write
		 * completes only once the OSD has committed it. */
		break;
	}
	rbd_finish(rc, 0);
}

/* librbd completion of one discard of an UNMAP. librbd thread. */
static void rbd_unmap_cb(rbd_completion_t c, void *arg)
{
	struct rbd_cmd *rc = arg;
	ssize_t ret = rbd_aio_get_return_value(c);
	int zero = 0;

	rbd_aio_release(c);
	if (ret < 0)
		atomic_compare_exchange_strong(&rc->first_err, &zero, (int)ret);
	if (atomic_fetch_sub(&rc->pending, 1) != 1)
		return;
	ret = atomic_load(&rc->first_err);
	rbd_finish(rc, ret ? rbd_error(rc->rd, (int)ret, "discard") : 0);
}

/* ------------------------------------------------------------------ */
/* Submission                                                         */
/* ------------------------------------------------------------------ */

/* One discard per range; the last completion finishes. Any thread. */
static void rbd_start_unmap(struct rbd_cmd *rc)
{
	int zero = 0;

	atomic_store(&rc->pending, (int)rc->nr + 1);
	for (size_t i = 0; i < rc->nr; i++) {
		rbd_completion_t c;
		int r = rbd_aio_create_completion(rc, rbd_unmap_cb, &c);

		if (!r) {
			r = rbd_aio_discard(rc->rd->image, rc->ranges[i].offset,
					    rc->ranges[i].length, c);
			if (r < 0)
				rbd_aio_release(c);
		}
		if (r < 0) {
			atomic_compare_exchange_strong(&rc->first_err, &zero, r);
			atomic_fetch_sub(&rc->pending, 1);
		}
	}
	if (atomic_fetch_sub(&rc->pending, 1) == 1) {
		int r = atomic_load(&rc->first_err);

		rbd_finish(rc, r ? rbd_error(rc->rd, r, "discard") : 0);
	}
}

/* Submit @rc's first request. Any thread (ring thread or a completion). */
static void rbd_start(struct rbd_cmd *rc)
{
	rbd_image_t img = rc->rd->image;
	rbd_completion_t c;
	int r;

	if (rc->op == OP_UNMAP) {
		rbd_start_unmap(rc);
		return;
	}
	rc->step = ST_MAIN;
	r = rbd_aio_create_completion(rc, rbd_io_cb, &c);
	if (r < 0) {
		rbd_finish(rc, r);
		return;
	}
	switch (rc->op) {
	case OP_READ:
		r = rbd_aio_readv(img, rc->iov, (int)rc->iovcnt, rc->off, c);
		break;
	case OP_WRITE:
		r = rbd_aio_writev(img, rc->iov, (int)rc->iovcnt, rc->off, c);
		break;
	case OP_FLUSH:
		r = rbd_aio_flush(img, c);
		break;
	case OP_WRITE_SAME:
		if (rc->zero)
			r = rbd_aio_write_zeroes(img, rc->off, rc->len, c, 0, 0);
		else
			r = rbd_aio_writesame(img, rc->off, rc->len, rc->buf,
					      rc->iov[0].iov_len, c, 0);
		break;
	case OP_CAW:
		r = (int)rbd_aio_compare_and_write(img, rc->off, rc->len, rc->buf,
						   rc->buf + rc->len, c,
						   &rc->mismatch, 0);
		break;
	case OP_CAW_EMUL:
		r = rbd_aio_read(img, rc->off, rc->len, rc->buf, c);
		break;
	default:
		r = -EINVAL;
		break;
	}
	if (r < 0) {
		rbd_aio_release(c);
		rbd_finish(rc, rbd_error(rc->rd, r, rbd_op_name(rc)));
	}
}

/*
 * Common start of every I/O callback: fill the per-command state and take
 * an image reference. Ring thread. Returns the command, or NULL when the
 * LUN is down (the callback returns -EBUSY: BUSY status, retried).
 */
static struct rbd_cmd *rbd_cmd_init(struct tcmu_device *dev,
				    struct tcmu_cmd *cmd, enum rbd_op op)
{
	struct rbd_dev *rd = tcmu_dev_get_private(dev);
	struct rbd_cmd *rc = tcmu_cmd_priv(cmd);

	if (!rbd_get(rd))
		return NULL;
	rc->rd = rd;
	rc->cmd = cmd;
	rc->op = op;
	return rc;
}

/* Writes past the image's end (it shrank, the LUN not yet): refuse. */
static bool rbd_in_image(struct rbd_dev *rd, uint64_t off, uint64_t len)
{
	uint64_t size = atomic_load_explicit(&rd->image_size,
					     memory_order_relaxed);

	return off <= size && len <= size - off;
}

/*
 * read — READ: rbd_aio_readv into the data area. Ring thread; never
 * blocks. Returns 0 (completed later on a librbd thread), -EBUSY while
 * the LUN reconnects, or -ERANGE past the end of a shrunk image.
 */
static int rbd_h_read(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		      const struct iovec *iov, size_t iovcnt, uint64_t offset,
		      size_t length, unsigned int flags)
{
	struct rbd_cmd *rc = rbd_cmd_init(dev, cmd, OP_READ);

	if (!rc)
		return -EBUSY;
	if (!rbd_in_image(rc->rd, offset, length)) {
		rbd_put(rc->rd);
		return -ERANGE;
	}
	rc->iov = iov;
	rc->iovcnt = iovcnt;
	rc->off = offset;
	rc->len = length;
	rbd_start(rc);
	return 0;
}

/*
 * write — WRITE: rbd_aio_writev from the data area (FUA needs nothing
 * more: librbd is uncached, a write completes once committed). Ring
 * thread; never blocks. Returns 0, -EBUSY (reconnecting) or -ERANGE (past
 * the end of a shrunk image).
 */
static int rbd_h_write(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		       const struct iovec *iov, size_t iovcnt, uint64_t offset,
		       size_t length, unsigned int flags)
{
	struct rbd_cmd *rc = rbd_cmd_init(dev, cmd, OP_WRITE);

	if (!rc)
		return -EBUSY;
	if (!rbd_in_image(rc->rd, offset, length)) {
		rbd_put(rc->rd);
		return -ERANGE;
	}
	rc->iov = iov;
	rc->iovcnt = iovcnt;
	rc->off = offset;
	rc->len = length;
	rbd_gate_enter(rc, GATE_SHARED);
	return 0;
}

/*
 * flush — SYNCHRONIZE CACHE: rbd_aio_flush (librbd runs uncached, see
 * conn.c, so completed writes are already committed; the flush orders
 * behind those in flight). Ring thread; never blocks. Returns 0 or -EBUSY.
 */
static int rbd_h_flush(struct tcmu_device *dev, struct tcmu_cmd *cmd)
{
	struct rbd_cmd *rc = rbd_cmd_init(dev, cmd, OP_FLUSH);

	if (!rc)
		return -EBUSY;
	rbd_start(rc);
	return 0;
}

/*
 * unmap — UNMAP (and WRITE SAME with UNMAP when the core chooses it): one
 * rbd_aio_discard per range. librbd frees whole objects and may leave
 * data in partial ones (rbd_skip_partial_discard), hence no LBPRZ. Ring
 * thread; never blocks. Returns 0 or -EBUSY.
 */
static int rbd_h_unmap(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		       const struct tcmu_range *ranges, size_t nr)
{
	struct rbd_cmd *rc = rbd_cmd_init(dev, cmd, OP_UNMAP);

	if (!rc)
		return -EBUSY;
	rc->ranges = ranges;
	rc->nr = nr;
	rbd_gate_enter(rc, GATE_SHARED);
	return 0;
}

static bool rbd_all_zero(const char *p, size_t n)
{
	return !n || (!p[0] && !memcmp(p, p + 1, n - 1));
}

/*
 * write_same — WRITE SAME: rbd_aio_write_zeroes for a zero pattern (it
 * deallocates whole objects and zeroes the rest, so UNMAP or not the
 * blocks read back as zeroes), rbd_aio_writesame otherwise; with
 * TCMU_IO_FUA nothing more (uncached, see write). Ring thread; never blocks.
 * Returns 0, -EBUSY, -ERANGE or -ENOMEM.
 */
static int rbd_h_write_same(struct tcmu_device *dev, struct tcmu_cmd *cmd,
			    const struct iovec *iov, size_t iovcnt,
			    uint64_t offset, uint64_t length, unsigned int flags)
{
	struct rbd_cmd *rc = rbd_cmd_init(dev, cmd, OP_WRITE_SAME);
	size_t plen = 0;

	if (!rc)
		return -EBUSY;
	for (size_t i = 0; i < iovcnt; i++)
		plen += iov[i].iov_len;
	if (!plen || length % plen || !rbd_in_image(rc->rd, offset, length)) {
		rbd_put(rc->rd);
		return plen && !(length % plen) ? -ERANGE : -EINVAL;
	}
	rc->buf = malloc(plen);
	if (!rc->buf) {
		rbd_put(rc->rd);
		return -ENOMEM;
	}
	for (size_t i = 0, pos = 0; i < iovcnt; pos += iov[i].iov_len, i++)
		memcpy(rc->buf + pos, iov[i].iov_base, iov[i].iov_len);
	rc->one.iov_base = rc->buf;
	rc->one.iov_len = plen;
	rc->iov = &rc->one;
	rc->iovcnt = 1;
	rc->off = offset;
	rc->len = length;
	rc->zero = rbd_all_zero(rc->buf, plen);
	rbd_gate_enter(rc, GATE_SHARED);
	return 0;
}

static void rbd_iov_gather(char *dst, const struct iovec *iov, size_t cnt,
			   size_t len)
{
	size_t pos = 0;

	for (size_t i = 0; i < cnt && pos < len; i++) {
		size_t n = iov[i].iov_len < len - pos ? iov[i].iov_len : len - pos;

		memcpy(dst + pos, iov[i].iov_base, n);
		pos += n;
	}
}

/*
 * compare_and_write — COMPARE AND WRITE. Inside one 512-byte sector:
 * rbd_aio_compare_and_write (atomic on the OSD; a miscompare is -EILSEQ
 * with the absolute offset of the first difference). Larger: read,
 * compare and write here, behind the exclusive write gate. Ring thread;
 * never blocks. Returns 0, -EBUSY, -ERANGE or -ENOMEM.
 */
static int rbd_h_compare_and_write(struct tcmu_device *dev,
				   struct tcmu_cmd *cmd,
				   const struct iovec *cmp, size_t cmpcnt,
				   const struct iovec *data, size_t datacnt,
				   uint64_t offset, size_t length)
{
	bool native = offset % RBD_CAW_SECTOR + length <= RBD_CAW_SECTOR;
	struct rbd_cmd *rc = rbd_cmd_init(dev, cmd,
					  native ? OP_CAW : OP_CAW_EMUL);

	if (!rc)
		return -EBUSY;
	if (!rbd_in_image(rc->rd, offset, length)) {
		rbd_put(rc->rd);
		return -ERANGE;
	}
	rc->buf = malloc(native ? 2 * length : length);
	if (!rc->buf) {
		rbd_put(rc->rd);
		return -ENOMEM;
	}
	rc->off = offset;
	rc->len = length;
	rc->cmp = cmp;
	rc->cmpcnt = cmpcnt;
	rc->iov = data;
	rc->iovcnt = datacnt;
	if (native) {
		rbd_iov_gather(rc->buf, cmp, cmpcnt, length);
		rbd_iov_gather(rc->buf + length, data, datacnt, length);
		rbd_gate_enter(rc, GATE_SHARED);
	} else {
		rbd_gate_enter(rc, GATE_EXCL);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Opening, reopening, size                                           */
/* ------------------------------------------------------------------ */

/* Header watch: the image changed (resize, snapshot, ...). librbd thread. */
static void rbd_watch_cb(void *arg)
{
	rbd_kick(arg, false);
}

/*
 * Connect (or share a connection), open the image and watch its header.
 * Main thread or the service thread; blocks. Returns 0 or -errno, with a
 * message in *@why.
 */
static int rbd_attach(struct rbd_dev *rd, const char **why)
{
	struct rbd_conn *cn;
	rbd_image_info_t info;
	rados_ioctx_t io;
	rbd_image_t img;
	int r;

	r = rbd_conn_get(&rd->cfg, &cn);
	if (r < 0) {
		*why = "cannot connect to the cluster";
		return r;
	}
	r = rados_ioctx_create(cn->cluster, rd->cfg.pool, &io);
	if (r < 0) {
		*why = "cannot open the pool";
		rbd_conn_put(cn);
		return r;
	}
	if (rd->cfg.ns)
		rados_ioctx_set_namespace(io, rd->cfg.ns);
	r = rbd_open(io, rd->cfg.image, &img, NULL);
	if (r < 0) {
		*why = "cannot open the image";
		goto fail_io;
	}
	r = rbd_stat(img, &info, sizeof(info));
	if (r < 0) {
		*why = "cannot stat the image";
		goto fail_img;
	}
	r = rbd_update_watch(img, &rd->watch_handle, rbd_watch_cb, rd);
	if (r < 0) {
		*why = "cannot watch the image header";
		goto fail_img;
	}
	rd->watching = true;
	rd->ioctx = io;
	rd->image = img;
	rd->obj_size = info.obj_size;
	atomic_store(&rd->image_size, info.size);
	pthread_mutex_lock(&rbd_devs_lock); /* rbd_fenced() reads it */
	rd->conn = cn;
	pthread_mutex_unlock(&rbd_devs_lock);
	return 0;
fail_img:
	rbd_close(img);
fail_io:
	rados_ioctx_destroy(io);
	rbd_conn_put(cn);
	return r;
}

/*
 * Undo rbd_attach(). No command may use the image. Blocks, so it must not
 * hold rbd_devs_lock: librbd threads of the same client may be waiting for
 * it in rbd_fenced() while rbd_close() needs them.
 */
static void rbd_detach(struct rbd_dev *rd)
{
	struct rbd_conn *cn;
	int r;

	if (!rd->image)
		return;
	pthread_mutex_lock(&rbd_devs_lock);
	cn = rd->conn; /* NULL: rbd_fenced() skips this LUN from now on */
	rd->conn = NULL;
	pthread_mutex_unlock(&rbd_devs_lock);
	if (rd->watching)
		rbd_update_unwatch(rd->image, rd->watch_handle);
	rd->watching = false;
	r = rbd_close(rd->image);
	if (r < 0)
		tcmu_dev_dbg(rd->dev, "rbd %s: close: %s", rd->label, strerror(-r));
	rd->image = NULL;
	rados_ioctx_destroy(rd->ioctx);
	rd->ioctx = NULL;
	rbd_conn_put(cn);
}

/* Wait on the service condition for @secs or until stop. true: stop. */
static bool rbd_sleep(struct rbd_dev *rd, unsigned int secs)
{
	struct timespec ts;
	bool stop;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += secs;
	pthread_mutex_lock(&rd->lock);
	while (!rd->stop &&
	       pthread_cond_timedwait(&rd->cond, &rd->lock, &ts) != ETIMEDOUT)
		;
	stop = rd->stop;
	pthread_mutex_unlock(&rd->lock);
	return stop;
}

/*
 * Reopen a fenced LUN: wait until no command uses the image, close it,
 * open it on a new connection, retrying with back-off until it works or
 * the LUN closes. Service thread; blocks.
 */
static void rbd_reopen(struct rbd_dev *rd)
{
	unsigned int delay = 0;
	int last = 0;

	pthread_mutex_lock(&rd->lock);
	while (atomic_load(&rd->refs) && !rd->stop)
		pthread_cond_wait(&rd->cond, &rd->lock);
	pthread_mutex_unlock(&rd->lock);
	if (rd->stop)
		return;
	rbd_detach(rd);
	for (;;) {
		const char *why = "";
		int r = rbd_attach(rd, &why);

		if (!r)
			break;
		if (r != last)
			tcmu_dev_err(rd->dev, "rbd %s: reopen: %s: %s; retrying",
				     rd->label, why, strerror(-r));
		last = r;
		delay = delay ? (delay * 2 > 10 ? 10 : delay * 2) : 1;
		if (rbd_sleep(rd, delay))
			return;
	}
	atomic_store(&rd->state, RBD_UP);
	tcmu_dev_info(rd->dev, "rbd %s: reopened on a new connection", rd->label);
}

/*
 * The image header changed or the LUN was reopened: when the image size
 * changed, the LUN follows (CAPACITY DATA HAS CHANGED). Service thread;
 * blocks.
 */
static void rbd_check_size(struct rbd_dev *rd)
{
	uint32_t bs = tcmu_dev_get_block_size(rd->dev);
	uint64_t size, old;
	int r;

	if (!rbd_get(rd))
		return;
	r = rbd_get_size(rd->image, &size);
	if (r == -ESHUTDOWN) /* the watch broke because we were blocklisted */
		rbd_fenced(rd);
	rbd_put(rd);
	if (r == -ESHUTDOWN)
		return;
	if (r < 0) {
		tcmu_dev_warn(rd->dev, "rbd %s: cannot get the image size: %s",
			      rd->label, strerror(-r));
		return;
	}
	old = atomic_exchange(&rd->image_size, size);
	if (size == old)
		return;
	size -= size % bs;
	tcmu_dev_info(rd->dev, "rbd %s: the image was resized from %" PRIu64 " to %" PRIu64 " bytes; the LUN follows",
		      rd->label, old, size);
	if (size != tcmu_dev_get_size(rd->dev))
		tcmu_dev_set_size(rd->dev, size); /* logs its failure */
}

/* Service thread of one LUN: reopens and size checks. */
static void *rbd_service(void *arg)
{
	struct rbd_dev *rd = arg;
	bool reopen, resize;

	pthread_mutex_lock(&rd->lock);
	for (;;) {
		while (!rd->stop && !rd->want_reopen && !rd->want_resize)
			pthread_cond_wait(&rd->cond, &rd->lock);
		if (rd->stop)
			break;
		reopen = rd->want_reopen;
		resize = rd->want_resize;
		rd->want_reopen = rd->want_resize = false;
		pthread_mutex_unlock(&rd->lock);
		if (reopen)
			rbd_reopen(rd);
		if (resize || reopen)
			rbd_check_size(rd);
		pthread_mutex_lock(&rd->lock);
	}
	pthread_mutex_unlock(&rd->lock);
	return NULL;
}

static void rbd_dev_free(struct rbd_dev *rd)
{
	pthread_mutex_destroy(&rd->gate_lock);
	pthread_mutex_destroy(&rd->lock);
	pthread_cond_destroy(&rd->cond);
	rbd_cfg_free(&rd->cfg);
	free(rd->label);
	free(rd);
}

/*
 * open — parse the config, connect (or share a connection), open the
 * image, give the LUN the image's size, start the service thread. Main
 * thread; blocks (up to RBD_CONNECT_TIMEOUT s on an unreachable cluster).
 * Returns 0 or -errno: -EINVAL bad config, -ENOENT no such pool or image,
 * or what librados / librbd returned.
 */
static int rbd_h_open(struct tcmu_device *dev, bool reopen)
{
	uint32_t bs = tcmu_dev_get_block_size(dev);
	uint64_t lun = tcmu_dev_get_size(dev), img;
	struct rbd_dev *rd;
	const char *why = "";
	char *reason = NULL;
	int r;

	rd = calloc(1, sizeof(*rd));
	if (!rd)
		return -ENOMEM;
	rd->dev = dev;
	pthread_mutex_init(&rd->gate_lock, NULL);
	pthread_mutex_init(&rd->lock, NULL);
	pthread_cond_init(&rd->cond, NULL);
	r = rbd_cfg_parse(tcmu_dev_get_cfgstring(dev), &rd->cfg, &reason);
	if (r) {
		tcmu_dev_err(dev, "%s", reason ? reason : "rbd: bad config");
		free(reason);
		rbd_dev_free(rd);
		return r;
	}
	if (asprintf(&rd->label, "%s/%s%s%s", rd->cfg.pool,
		     rd->cfg.ns ? rd->cfg.ns : "", rd->cfg.ns ? "/" : "",
		     rd->cfg.image) < 0) {
		rd->label = NULL;
		rbd_dev_free(rd);
		return -ENOMEM;
	}
	r = rbd_attach(rd, &why);
	if (r) {
		tcmu_dev_err(dev, "rbd %s: %s: %s", rd->label, why, strerror(-r));
		rbd_dev_free(rd);
		return r;
	}
	img = atomic_load(&rd->image_size);
	img -= img % bs;
	if (!img) {
		tcmu_dev_err(dev, "rbd %s: the image is smaller than one block", rd->label);
		r = -EINVAL;
		goto fail;
	}
	if (img != lun) {
		r = tcmu_dev_set_size(dev, img);
		if (r && lun > img) {
			tcmu_dev_err(dev, "rbd %s: the LUN (%" PRIu64 " bytes) is larger than the image (%" PRIu64 "): rbd resize the image or make the LUN smaller",
				     rd->label, lun, img);
			r = -EINVAL;
			goto fail;
		}
		if (r)
			tcmu_dev_warn(dev, "rbd %s: the LUN serves the first %" PRIu64 " of the image's %" PRIu64 " bytes",
				      rd->label, lun, img);
		else
			tcmu_dev_info(dev, "rbd %s: LUN size set to the image's, %" PRIu64 " bytes",
				      rd->label, img);
	}
	r = pthread_create(&rd->thread, NULL, rbd_service, rd);
	if (r) {
		r = -r;
		goto fail;
	}
	rd->thread_started = true;
	pthread_mutex_lock(&rbd_devs_lock);
	rd->next = rbd_devs;
	rbd_devs = rd;
	pthread_mutex_unlock(&rbd_devs_lock);
	tcmu_dev_set_private(dev, rd);
	tcmu_dev_dbg(dev, "rbd %s: open%s", rd->label, reopen ? " (reopen)" : "");
	return 0;
fail:
	rbd_detach(rd);
	rbd_dev_free(rd);
	return r;
}

/*
 * close — stop the service thread, unwatch and close the image, drop the
 * connection. Main thread, after every command completed; blocks.
 */
static void rbd_h_close(struct tcmu_device *dev)
{
	struct rbd_dev *rd = tcmu_dev_get_private(dev);
	struct rbd_dev **pp;

	if (!rd)
		return;
	pthread_mutex_lock(&rd->lock);
	rd->stop = true;
	pthread_cond_broadcast(&rd->cond);
	pthread_mutex_unlock(&rd->lock);
	if (rd->thread_started)
		pthread_join(rd->thread, NULL);
	pthread_mutex_lock(&rbd_devs_lock);
	for (pp = &rbd_devs; *pp; pp = &(*pp)->next) {
		if (*pp == rd) {
			*pp = rd->next;
			break;
		}
	}
	pthread_mutex_unlock(&rbd_devs_lock);
	rbd_detach(rd);
	tcmu_dev_set_private(dev, NULL);
	rbd_dev_free(rd);
}

/*
 * reconfig — RECONFIG from the kernel. A new config string is accepted
 * only when it names the same image with the same options (a different
 * image needs a new LUN). A new size is accepted up to the image's size.
 * Write cache changes are accepted (the SCSI core then sets FUA on every
 * write). Main thread, ring paused; blocks briefly. Returns 0, -EINVAL,
 * -EOPNOTSUPP or -EBUSY (the LUN is reconnecting).
 */
static int rbd_h_reconfig(struct tcmu_device *dev, const struct tcmu_reconfig *rc)
{
	struct rbd_dev *rd = tcmu_dev_get_private(dev);
	uint32_t bs = tcmu_dev_get_block_size(dev);
	uint64_t size;
	int r;

	if (rc->cfgstring) {
		struct rbd_cfg c;
		char *reason = NULL;
		bool same;

		if (rbd_cfg_parse(rc->cfgstring, &c, &reason)) {
			tcmu_dev_err(dev, "%s", reason ? reason : "rbd: bad config");
			free(reason);
			return -EINVAL;
		}
		same = rbd_cfg_equal(&c, &rd->cfg);
		rbd_cfg_free(&c);
		if (!same) {
			tcmu_dev_err(dev, "rbd %s: changing the image or its options needs a new LUN",
				     rd->label);
			return -EOPNOTSUPP;
		}
	}
	if (rc->size) {
		if (!rbd_get(rd))
			return -EBUSY;
		r = rbd_get_size(rd->image, &size);
		rbd_put(rd);
		if (r < 0) {
			tcmu_dev_err(dev, "rbd %s: cannot get the image size: %s",
				     rd->label, strerror(-r));
			return r;
		}
		atomic_store(&rd->image_size, size);
		size -= size % bs;
		if (rc->size > size) {
			tcmu_dev_err(dev, "rbd %s: the LUN cannot grow to %" PRIu64 " bytes, the image has %" PRIu64 ": rbd resize it first",
				     rd->label, rc->size, size);
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * check_config — parse the config, read the conf file, connect (sharing a
 * connection with open LUNs when there is one) and open the image read-only
 * to prove that pool and image exist; nothing is written or locked. Main
 * thread; blocks (up to RBD_CONNECT_TIMEOUT s on an unreachable cluster).
 * Returns true, or false with the reason.
 */
static bool rbd_h_check_config(const char *cfgstring, char **reason)
{
	struct rbd_cfg c;
	struct rbd_conn *cn;
	rados_ioctx_t io;
	rbd_image_t img;
	FILE *f;
	int r;

	if (rbd_cfg_parse(cfgstring, &c, reason))
		return false;
	if (c.conf) {
		f = fopen(c.conf, "r");
		if (!f) {
			if (reason && asprintf(reason, "rbd: cannot read the ceph config %s", c.conf) < 0)
				*reason = NULL;
			rbd_cfg_free(&c);
			return false;
		}
		fclose(f);
	}
	r = rbd_conn_get(&c, &cn);
	if (r < 0) {
		if (reason && asprintf(reason, "rbd: cannot connect to the cluster as client.%s: %s",
				       c.id ? c.id : "admin", strerror(-r)) < 0)
			*reason = NULL;
		rbd_cfg_free(&c);
		return false;
	}
	r = rados_ioctx_create(cn->cluster, c.pool, &io);
	if (r < 0) {
		if (reason && asprintf(reason, r == -ENOENT ? "rbd: pool '%s' does not exist" : "rbd: cannot open pool '%s': %s",
				       c.pool, strerror(-r)) < 0)
			*reason = NULL;
		goto out;
	}
	if (c.ns)
		rados_ioctx_set_namespace(io, c.ns);
	r = rbd_open_read_only(io, c.image, &img, NULL);
	if (r < 0) {
		if (reason && asprintf(reason, r == -ENOENT ? "rbd: image '%s/%s%s%s' does not exist" : "rbd: cannot open image '%s/%s%s%s': %s",
				       c.pool, c.ns ? c.ns : "", c.ns ? "/" : "", c.image, strerror(-r)) < 0)
			*reason = NULL;
	} else {
		rbd_close(img);
	}
	rados_ioctx_destroy(io);
out:
	rbd_conn_put(cn);
	rbd_cfg_free(&c);
	return r >= 0;
}

static struct tcmu_handler rbd_handler = {
	.subtype = "rbd",
	.name = "Ceph RBD image (librbd, asynchronous)",
	.cfg_desc = "<pool>[/<namespace>]/<image>[;osd_op_timeout=SECONDS][;conf=/path/ceph.conf][;id=CLIENT]",
	.concurrency = TCMU_CONCURRENCY_ASYNC,
	.cmd_priv_size = sizeof(struct rbd_cmd),
	.check_config = rbd_h_check_config,
	.open = rbd_h_open,
	.close = rbd_h_close,
	.reconfig = rbd_h_reconfig,
	.read = rbd_h_read,
	.write = rbd_h_write,
	.flush = rbd_h_flush,
	.unmap = rbd_h_unmap,
	.write_same = rbd_h_write_same,
	.compare_and_write = rbd_h_compare_and_write,
	.unmap_zeroes = false, /* a discard inside an object may keep the data */
};

TCMU_REGISTER_HANDLER(rbd_handler)
