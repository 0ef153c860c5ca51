/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * handlers/glfs/glfs.c — the "glfs" handler: a LUN backed by a file on a
 * GlusterFS volume, through libgfapi, with asynchronous I/O.
 *
 * Config (after "glfs/", tcmu-runner's syntax; see cfg.c):
 *
 *     <volume>@<host>[:<port>]/<path inside the volume>
 *
 * The file is created (mode 0600) when missing and grown to the LUN size
 * when smaller; it is never shrunk.
 *
 * I/O (concurrency ASYNC): the ring thread starts gfapi's asynchronous
 * calls straight from the data-area iovecs (gfapi copies write data into
 * its own buffers before sending, and read data into ours on the reply);
 * completions arrive on gfapi's threads, which chain the next step (the
 * rest of a short transfer, the fdatasync of a FUA write, the next chunk
 * of a WRITE SAME pattern) and call tcmu_cmd_done(). Per command there is
 * no allocation but on rare paths (a transfer that does not end on an
 * iovec boundary, a WRITE SAME with a non-zero pattern).
 *
 *   READ                 glfs_preadv_async
 *   WRITE                glfs_pwritev_async (+ glfs_fdatasync_async for FUA,
 *                        which the SCSI core also sets when the write
 *                        cache is disabled)
 *   SYNCHRONIZE CACHE    glfs_fdatasync_async
 *   UNMAP                glfs_discard_async per range (hole punch: reads
 *                        back zeroes), glfs_zerofill_async where the brick
 *                        cannot punch holes
 *   WRITE SAME zeroes    glfs_zerofill_async (glfs_discard_async with UNMAP)
 *   WRITE SAME pattern   chunks of glfs_pwritev_async from one buffer
 *
 * Connection loss: gfapi reconnects to glusterd and to the bricks by
 * itself (and reopens our fd on the brick). Meanwhile its calls fail with
 * ENOTCONN and friends, which complete commands with -ENOTCONN: status
 * BUSY, which initiators retry. The first such error and the recovery are
 * logged once each.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tcmu/handler.h>

#include "glfs.h"

#define GL_PATTERN_CHUNK (1u << 20) /* buffer for WRITE SAME patterns */
#define GL_OPEN_FLAGS (O_RDWR | O_DIRECT | O_CLOEXEC)

enum gl_op {
	GL_OP_READ = 1,
	GL_OP_WRITE,
	GL_OP_FLUSH,
	GL_OP_UNMAP,   /* several discards (or zerofills) */
	GL_OP_ZERO,    /* one zerofill or discard */
	GL_OP_PATTERN, /* WRITE SAME with a non-zero pattern */
};

struct gl_dev {
	struct tcmu_device *dev;
	struct gl_cfg cfg;
	struct gl_conn *conn;
	glfs_fd_t *fd;
	bool no_discard;          /* the brick refused to punch holes */
	atomic_bool disconnected; /* I/O saw a transport error (for the log) */
};

/*
 * Per-command state in the command's private area (cmd_priv_size), zeroed
 * when the command arrives.
 */
struct gl_cmd {
	struct tcmu_cmd *cmd;
	struct gl_dev *d;
	enum gl_op op;
	bool sync_after;          /* fdatasync before completing */
	bool syncing;             /* that fdatasync is running */
	atomic_int pending;       /* UNMAP: operations outstanding */
	atomic_int first_err;     /* UNMAP: first errno seen */
	/* read / write: the command's iovecs, consumed up to (idx, skip) */
	const struct iovec *iov;
	size_t iovcnt, idx, skip;
	uint64_t off, left;       /* next byte of the file, bytes to go */
	struct iovec *copy;       /* a window that is not whole iovecs */
	/* WRITE SAME pattern */
	char *buf;
	size_t buf_len;
	struct iovec one;
};

/* ------------------------------------------------------------------ */
/* Errors                                                             */
/* ------------------------------------------------------------------ */

/* Errors that mean "the volume is not reachable right now". */
static bool gl_transient(int err)
{
	switch (err) {
	case ENOTCONN:
	case ECONNREFUSED:
	case ECONNRESET:
	case ECONNABORTED:
	case ESHUTDOWN:
	case ETIMEDOUT:
	case EHOSTUNREACH:
	case EHOSTDOWN:
	case ENETDOWN:
	case ENETUNREACH:
	case EPIPE:
	case EAGAIN:
	case EBUSY:
	case EINTR:
	case EBADFD: /* our fd is being reopened on a restarted brick */
		return true;
	default:
		return false;
	}
}

/*
 * The result for tcmu_cmd_done() of a gfapi error @err (a positive errno)
 * on @d: transient errors become -ENOTCONN (BUSY, retried by the
 * initiator), space errors -ENOSPC, everything else -EIO (MEDIUM or WRITE
 * ERROR). Logs the first transient error of an outage. Any thread.
 */
static int gl_result(struct gl_dev *d, int err)
{
	if (gl_transient(err)) {
		if (!atomic_exchange(&d->disconnected, true))
			tcmu_dev_warn(d->dev, "glfs: %s@%s:%u%s: %s; commands get BUSY until it is back",
				      d->cfg.volume, d->cfg.host, d->cfg.port,
				      d->cfg.path, strerror(err));
		return -ENOTCONN;
	}
	switch (err) {
	case ENOSPC:
	case EDQUOT:
		return -ENOSPC;
	case EROFS:
		return -EROFS;
	case ENOMEM:
		return -ENOMEM;
	default:
		tcmu_dev_err(d->dev, "glfs: %s@%s:%u%s: %s", d->cfg.volume,
			     d->cfg.host, d->cfg.port, d->cfg.path, strerror(err));
		return -EIO;
	}
}

/* A call succeeded: log the end of an outage once. Any thread. */
static void gl_ok(struct gl_dev *d)
{
	if (atomic_load_explicit(&d->disconnected, memory_order_relaxed) &&
	    atomic_exchange(&d->disconnected, false))
		tcmu_dev_info(d->dev, "glfs: %s@%s:%u%s: I/O works again",
			      d->cfg.volume, d->cfg.host, d->cfg.port, d->cfg.path);
}

/* errno after a failed gfapi call, never 0. */
static int gl_errno(void)
{
	return errno ? errno : EIO;
}

/* ------------------------------------------------------------------ */
/* The iovec cursor of a read or write                                */
/* ------------------------------------------------------------------ */

/*
 * The iovecs of the next transfer: the command's own array when the rest
 * of it is whole iovecs adding up to exactly gc->left bytes (the usual
 * case), else a trimmed copy in gc->copy. Returns the count (> 0), or
 * -ENOMEM.
 */
static int gl_window(struct gl_cmd *gc, const struct iovec **win)
{
	const struct iovec *v = gc->iov + gc->idx;
	size_t n = gc->iovcnt - gc->idx, i;
	uint64_t sum = 0;

	if (!gc->skip) {
		for (i = 0; i < n && sum < gc->left; i++)
			sum += v[i].iov_len;
		if (sum == gc->left) {
			*win = v;
			return (int)i;
		}
	}
	free(gc->copy);
	gc->copy = malloc(n * sizeof(*v));
	if (!gc->copy)
		return -ENOMEM;
	for (i = 0, sum = 0; i < n && sum < gc->left; i++) {
		gc->copy[i] = v[i];
		if (!i) {
			gc->copy[0].iov_base = (char *)v[0].iov_base + gc->skip;
			gc->copy[0].iov_len -= gc->skip;
		}
		if (gc->copy[i].iov_len > gc->left - sum)
			gc->copy[i].iov_len = gc->left - sum;
		sum += gc->copy[i].iov_len;
	}
	*win = gc->copy;
	return (int)i;
}

/* @n more bytes were transferred. */
static void gl_advance(struct gl_cmd *gc, size_t n)
{
	gc->off += n;
	gc->left -= n;
	while (n && gc->idx < gc->iovcnt) {
		size_t avail = gc->iov[gc->idx].iov_len - gc->skip;

		if (n < avail) {
			gc->skip += n;
			return;
		}
		n -= avail;
		gc->idx++;
		gc->skip = 0;
	}
}

/* A read hit the end of the file: the rest reads as zeroes. */
static void gl_zero_rest(struct gl_cmd *gc)
{
	while (gc->left && gc->idx < gc->iovcnt) {
		const struct iovec *v = &gc->iov[gc->idx];
		size_t n = v->iov_len - gc->skip;

		if (n > gc->left)
			n = gc->left;
		memset((char *)v->iov_base + gc->skip, 0, n);
		gl_advance(gc, n);
	}
}

/* ------------------------------------------------------------------ */
/* Steps and completion                                               */
/* ------------------------------------------------------------------ */

static void gl_cb(glfs_fd_t *fd, ssize_t ret, struct glfs_stat *pre,
		  struct glfs_stat *post, void *data);

/* Completes @gc with @result (0 or -errno). Any thread. */
static void gl_finish(struct gl_cmd *gc, int result)
{
	struct tcmu_cmd *cmd = gc->cmd;

	free(gc->copy);
	gc->copy = NULL;
	free(gc->buf);
	gc->buf = NULL;
	tcmu_cmd_done(cmd, result);
}

/*
 * Starts the next gfapi call of @gc. Any thread (the ring thread for the
 * first one, then gfapi's); never blocks. Returns 0 when a call is in
 * flight (gl_cb follows), or a positive errno when none could be started.
 */
static int gl_submit(struct gl_cmd *gc)
{
	glfs_fd_t *fd = gc->d->fd;
	const struct iovec *win;
	int cnt, r;

	errno = 0;
	if (gc->syncing) {
		r = glfs_fdatasync_async(fd, gl_cb, gc);
		return r ? gl_errno() : 0;
	}
	switch (gc->op) {
	case GL_OP_READ:
	case GL_OP_WRITE:
		cnt = gl_window(gc, &win);
		if (cnt < 0)
			return -cnt;
		if (gc->op == GL_OP_READ)
			r = glfs_preadv_async(fd, win, cnt, gc->off, 0, gl_cb, gc);
		else
			r = glfs_pwritev_async(fd, win, cnt, gc->off, 0, gl_cb, gc);
		break;
	case GL_OP_PATTERN:
		gc->one.iov_base = gc->buf;
		gc->one.iov_len = gc->left < gc->buf_len ? gc->left : gc->buf_len;
		r = glfs_pwritev_async(fd, &gc->one, 1, gc->off, 0, gl_cb, gc);
		break;
	case GL_OP_FLUSH:
		r = glfs_fdatasync_async(fd, gl_cb, gc);
		break;
	default:
		return EINVAL;
	}
	return r ? gl_errno() : 0;
}

/* The data part of @gc is done: sync if asked to, else complete. */
static void gl_data_done(struct gl_cmd *gc)
{
	int err;

	if (!gc->sync_after) {
		gl_finish(gc, 0);
		return;
	}
	gc->syncing = true;
	err = gl_submit(gc);
	if (err)
		gl_finish(gc, gl_result(gc->d, err));
}

/*
 * One part of an UNMAP ended with @err (0 or a positive errno). Returns
 * true when it was the last one, with the first error in *@err.
 */
static bool gl_unmap_part_done(struct gl_cmd *gc, int *err)
{
	int expected = 0;

	if (*err)
		atomic_compare_exchange_strong(&gc->first_err, &expected, *err);
	if (atomic_fetch_sub(&gc->pending, 1) != 1)
		return false;
	*err = atomic_load(&gc->first_err);
	return true;
}

/*
 * The call of @gc in flight ended: @ret bytes, or @err (a positive errno).
 * Starts the next step or completes the command. Any thread; never blocks.
 */
static void gl_step(struct gl_cmd *gc, ssize_t ret, int err)
{
	struct gl_dev *d = gc->d;

	if (gc->op == GL_OP_UNMAP && !gc->syncing &&
	    !gl_unmap_part_done(gc, &err))
		return;
	if (err) {
		gl_finish(gc, gl_result(d, err));
		return;
	}
	gl_ok(d);
	if (gc->syncing || gc->op == GL_OP_FLUSH) {
		gl_finish(gc, 0);
		return;
	}
	switch (gc->op) {
	case GL_OP_READ:
		if (!ret) /* end of file: the rest reads as zeroes */
			gl_zero_rest(gc);
		else
			gl_advance(gc, (size_t)ret);
		break;
	case GL_OP_WRITE:
		if (!ret) {
			gl_finish(gc, -EIO);
			return;
		}
		gl_advance(gc, (size_t)ret);
		break;
	case GL_OP_PATTERN:
		if ((size_t)ret != gc->one.iov_len) { /* short: give up */
			gl_finish(gc, -EIO);
			return;
		}
		gc->off += (uint64_t)ret;
		gc->left -= (uint64_t)ret;
		break;
	default: /* UNMAP, ZERO: one step */
		break;
	}
	if (gc->left) {
		err = gl_submit(gc);
		if (err)
			gl_finish(gc, gl_result(d, err));
		return;
	}
	gl_data_done(gc);
}

/*
 * gl_cb — gfapi's completion of every asynchronous call: @ret is the byte
 * count (or 0), or -1 with errno set. gfapi threads; never blocks.
 */
static void gl_cb(glfs_fd_t *fd, ssize_t ret, struct glfs_stat *pre,
		  struct glfs_stat *post, void *data)
{
	gl_step(data, ret, ret < 0 ? gl_errno() : 0);
}

/* ------------------------------------------------------------------ */
/* I/O callbacks                                                      */
/* ------------------------------------------------------------------ */

/* Fresh state for @cmd (the private area is reused by chained calls). */
static struct gl_cmd *gl_cmd_init(struct tcmu_device *dev,
				  struct tcmu_cmd *cmd, enum gl_op op)
{
	struct gl_cmd *gc = tcmu_cmd_priv(cmd);

	*gc = (struct gl_cmd){ .cmd = cmd, .d = tcmu_dev_get_private(dev),
			       .op = op };
	return gc;
}

/*
 * Starts the first call of @gc from an I/O callback. Returns 0 (taken), or
 * -errno when nothing was started (the command is not completed then).
 */
static int gl_start(struct gl_cmd *gc)
{
	int err = gl_submit(gc);

	if (!err)
		return 0;
	free(gc->copy);
	gc->copy = NULL;
	free(gc->buf);
	gc->buf = NULL;
	return gl_result(gc->d, err);
}

static int gl_rw(struct tcmu_device *dev, struct tcmu_cmd *cmd, enum gl_op op,
		 const struct iovec *iov, size_t iovcnt, uint64_t offset,
		 size_t length, unsigned int flags)
{
	struct gl_cmd *gc;
	uint64_t total = 0;
	size_t i;

	for (i = 0; i < iovcnt && total < length; i++)
		total += iov[i].iov_len;
	if (total < length)
		return -EINVAL;
	if (!length) {
		tcmu_cmd_done(cmd, 0);
		return 0;
	}
	gc = gl_cmd_init(dev, cmd, op);
	gc->iov = iov;
	gc->iovcnt = iovcnt;
	gc->off = offset;
	gc->left = length;
	gc->sync_after = op == GL_OP_WRITE && (flags & TCMU_IO_FUA);
	return gl_start(gc);
}

/*
 * read — glfs_preadv_async into the data-area iovecs; past the end of the
 * file reads zeroes. Ring thread (ASYNC); never blocks. Returns 0 (taken,
 * completed from a gfapi thread) or -errno (-ENOTCONN: volume gone).
 */
static int gl_read(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		   const struct iovec *iov, size_t iovcnt, uint64_t offset,
		   size_t length, unsigned int flags)
{
	return gl_rw(dev, cmd, GL_OP_READ, iov, iovcnt, offset, length, flags);
}

/*
 * write — glfs_pwritev_async from the data-area iovecs, then, for
 * TCMU_IO_FUA, glfs_fdatasync_async. Ring thread; never blocks. As read().
 */
static int gl_write(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		    const struct iovec *iov, size_t iovcnt, uint64_t offset,
		    size_t length, unsigned int flags)
{
	return gl_rw(dev, cmd, GL_OP_WRITE, iov, iovcnt, offset, length, flags);
}

/*
 * flush — SYNCHRONIZE CACHE: glfs_fdatasync_async (the brick fdatasyncs
 * the file). Ring thread; never blocks. Returns 0 or -errno.
 */
static int gl_flush(struct tcmu_device *dev, struct tcmu_cmd *cmd)
{
	return gl_start(gl_cmd_init(dev, cmd, GL_OP_FLUSH));
}

/*
 * Starts one discard (hole punch) or zerofill of [off, off + len) for
 * @gc. Returns 0 or a positive errno.
 */
static int gl_zero_range(struct gl_cmd *gc, uint64_t off, uint64_t len,
			 bool punch)
{
	int r;

	errno = 0;
	if (punch && !gc->d->no_discard)
		r = glfs_discard_async(gc->d->fd, off, len, gl_cb, gc);
	else
		r = glfs_zerofill_async(gc->d->fd, off, len, gl_cb, gc);
	return r ? gl_errno() : 0;
}

/*
 * unmap — one glfs_discard_async per range (glfs_zerofill_async where the
 * brick cannot punch holes), all in flight at once; the ranges read back
 * as zeroes. With the write cache disabled, an fdatasync follows. Ring
 * thread; never blocks. Returns 0 (taken; completed by the last one).
 */
static int gl_unmap(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		    const struct tcmu_range *ranges, size_t nr)
{
	struct gl_cmd *gc = gl_cmd_init(dev, cmd, GL_OP_UNMAP);
	size_t i;
	int expected = 0;

	gc->sync_after = !tcmu_dev_get_write_cache(dev);
	atomic_store(&gc->pending, 1); /* ours, while submitting */
	for (i = 0; i < nr; i++) {
		int err;

		if (!ranges[i].length)
			continue;
		atomic_fetch_add(&gc->pending, 1);
		err = gl_zero_range(gc, ranges[i].offset, ranges[i].length, true);
		if (err) {
			atomic_fetch_sub(&gc->pending, 1);
			atomic_compare_exchange_strong(&gc->first_err, &expected, err);
			break;
		}
	}
	/* Drop our count like a completion: the last one finishes. */
	gl_step(gc, 0, 0);
	return 0;
}

static bool gl_iov_is_zero(const struct iovec *iov, size_t cnt)
{
	size_t i, j;

	for (i = 0; i < cnt; i++) {
		const unsigned char *p = iov[i].iov_base;

		for (j = 0; j < iov[i].iov_len; j++)
			if (p[j])
				return false;
	}
	return true;
}

/* WRITE SAME with a non-zero pattern: fill a buffer, write it in chunks. */
static int gl_pattern(struct gl_cmd *gc, const struct iovec *iov, size_t iovcnt)
{
	size_t bs = 0, filled = 0, i;

	for (i = 0; i < iovcnt; i++)
		bs += iov[i].iov_len;
	if (!bs || gc->left % bs)
		return -EINVAL;
	gc->buf_len = GL_PATTERN_CHUNK / bs * bs;
	if (!gc->buf_len)
		gc->buf_len = bs;
	if (gc->buf_len > gc->left)
		gc->buf_len = gc->left;
	gc->buf = malloc(gc->buf_len);
	if (!gc->buf)
		return -ENOMEM;
	for (i = 0; i < iovcnt; i++) {
		memcpy(gc->buf + filled, iov[i].iov_base, iov[i].iov_len);
		filled += iov[i].iov_len;
	}
	while (filled < gc->buf_len) {
		size_t n = filled < gc->buf_len - filled ? filled : gc->buf_len - filled;

		memcpy(gc->buf + filled, gc->buf, n);
		filled += n;
	}
	return gl_start(gc);
}

/*
 * write_same — zeroes with glfs_zerofill_async, or glfs_discard_async when
 * TCMU_WRITE_SAME_UNMAP allows; a non-zero pattern is replicated into a
 * buffer (up to 1 MiB) written chunk after chunk. With the write cache
 * disabled an fdatasync follows. Ring thread; never blocks. Returns 0 or
 * -errno.
 */
static int gl_write_same(struct tcmu_device *dev, struct tcmu_cmd *cmd,
			 const struct iovec *iov, size_t iovcnt,
			 uint64_t offset, uint64_t length, unsigned int flags)
{
	struct gl_cmd *gc;
	int err;

	if (!length) {
		tcmu_cmd_done(cmd, 0);
		return 0;
	}
	gc = gl_cmd_init(dev, cmd, GL_OP_ZERO);
	gc->off = offset;
	gc->left = length;
	gc->sync_after = !tcmu_dev_get_write_cache(dev);
	if (!gl_iov_is_zero(iov, iovcnt)) {
		gc->op = GL_OP_PATTERN;
		return gl_pattern(gc, iov, iovcnt);
	}
	gc->left = 0;
	err = gl_zero_range(gc, offset, length, flags & TCMU_WRITE_SAME_UNMAP);
	return err ? gl_result(gc->d, err) : 0;
}

/*
 * get_lba_status — mapped or not, from glfs_lseek SEEK_DATA / SEEK_HOLE.
 * Any thread; two round trips to the brick. Returns 0 or -errno (-ERANGE
 * past the end).
 */
static int gl_get_lba_status(struct tcmu_device *dev, uint64_t offset,
			     bool *mapped, uint64_t *extent_len)
{
	struct gl_dev *d = tcmu_dev_get_private(dev);
	uint64_t size = tcmu_dev_get_size(dev);
	off_t data, hole;

	if (offset >= size)
		return -ERANGE;
	errno = 0;
	data = glfs_lseek(d->fd, offset, SEEK_DATA);
	if (data < 0 && errno != ENXIO)
		return gl_result(d, gl_errno());
	if (data < 0 || (uint64_t)data > offset) {
		*mapped = false;
		*extent_len = (data < 0 || (uint64_t)data > size ? size : (uint64_t)data) - offset;
		return 0;
	}
	hole = glfs_lseek(d->fd, offset, SEEK_HOLE);
	if (hole < 0)
		return gl_result(d, gl_errno());
	*mapped = true;
	*extent_len = ((uint64_t)hole > size ? size : (uint64_t)hole) - offset;
	return 0;
}

/* ------------------------------------------------------------------ */
/* check_config                                                       */
/* ------------------------------------------------------------------ */

static bool gl_fail(char **reason, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static bool gl_fail(char **reason, const char *fmt, ...)
{
	va_list ap;

	if (reason) {
		va_start(ap, fmt);
		if (vasprintf(reason, fmt, ap) < 0)
			*reason = NULL;
		va_end(ap);
	}
	return false;
}

/* Why gl_conn_get() failed, for the user. */
static bool gl_conn_fail(const struct gl_cfg *c, int r, char **reason)
{
	if (r == -ENOENT)
		return gl_fail(reason, "glfs: no volume '%s' on %s:%u", c->volume,
			       c->host, c->port);
	return gl_fail(reason, "glfs: cannot reach the volume '%s' through %s:%u (%s)",
		       c->volume, c->host, c->port, strerror(-r));
}

/*
 * Is @c->path a regular file we may read and write, or creatable? Looks
 * only (glfs_stat, glfs_access). Main thread; blocks for a few round
 * trips.
 */
static bool gl_check_path(glfs_t *fs, const struct gl_cfg *c, char **reason)
{
	struct stat st;
	char *parent;
	bool ok = true;
	int err;

	errno = 0;
	if (!glfs_stat(fs, c->path, &st)) {
		if (S_ISDIR(st.st_mode))
			return gl_fail(reason, "glfs: '%s' is a directory", c->path);
		if (!S_ISREG(st.st_mode))
			return gl_fail(reason, "glfs: '%s' is not a regular file", c->path);
		if (glfs_access(fs, c->path, R_OK | W_OK))
			return gl_fail(reason, "glfs: cannot read and write '%s'", c->path);
		return true;
	}
	err = gl_errno();
	if (err == ENOTDIR)
		return gl_fail(reason, "glfs: a part of '%s' is not a directory", c->path);
	if (err != ENOENT)
		return gl_fail(reason, "glfs: cannot look at '%s' on volume '%s' (%s)",
			       c->path, c->volume, strerror(err));
	parent = gl_cfg_parent(c);
	if (!parent)
		return gl_fail(reason, "glfs: out of memory");
	errno = 0;
	if (glfs_stat(fs, parent, &st) || !S_ISDIR(st.st_mode))
		ok = gl_fail(reason, "glfs: directory '%s' does not exist on volume '%s'",
			     parent, c->volume);
	else if (glfs_access(fs, parent, W_OK | X_OK))
		ok = gl_fail(reason, "glfs: cannot create a file in '%s'", parent);
	free(parent);
	return ok;
}

/*
 * check_config — validates the config without side effects on the volume:
 * syntax, that the volume is reachable through the host, and that the path
 * is a regular file we may read and write or can be created. Uses (and
 * leaves cached for a while) the shared connection to the volume. Main
 * thread; blocks while connecting (tens of milliseconds to a reachable
 * glusterd). Returns true, or false with a message in *reason.
 */
static bool gl_check_config(const char *cfgstring, char **reason)
{
	struct gl_conn *cn;
	struct gl_cfg c;
	bool ok;
	int r;

	r = gl_cfg_parse(cfgstring, &c, reason);
	if (r)
		return r == -ENOMEM ? gl_fail(reason, "glfs: out of memory") : false;
	r = gl_conn_get(&c, &cn);
	if (r) {
		ok = gl_conn_fail(&c, r, reason);
	} else {
		ok = gl_check_path(cn->fs, &c, reason);
		gl_conn_put(cn);
	}
	gl_cfg_free(&c);
	return ok;
}

/* ------------------------------------------------------------------ */
/* open / close / reconfig                                            */
/* ------------------------------------------------------------------ */

/* Opens (creating when missing) the file. Returns 0 or a positive errno. */
static int gl_open_file(struct gl_dev *d)
{
	glfs_t *fs = d->conn->fs;

	errno = 0;
	d->fd = glfs_open(fs, d->cfg.path, GL_OPEN_FLAGS);
	if (!d->fd && errno == ENOENT) {
		errno = 0;
		d->fd = glfs_creat(fs, d->cfg.path, GL_OPEN_FLAGS | O_EXCL, 0600);
		if (!d->fd && errno == EEXIST) { /* raced with someone */
			errno = 0;
			d->fd = glfs_open(fs, d->cfg.path, GL_OPEN_FLAGS);
		}
	}
	return d->fd ? 0 : gl_errno();
}

/* Grows the file to @size bytes (never shrinks). Returns 0 or -errno. */
static int gl_grow(struct gl_dev *d, uint64_t size)
{
	struct stat st;

	errno = 0;
	if (glfs_fstat(d->fd, &st))
		return -gl_errno();
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	errno = 0;
	if ((uint64_t)st.st_size < size && glfs_ftruncate(d->fd, size, NULL, NULL))
		return -gl_errno();
	return 0;
}

/*
 * Can the brick punch holes? A discard past the end of the file changes
 * nothing (it keeps the size) but is refused where unsupported.
 */
static void gl_probe_discard(struct gl_dev *d, uint64_t size)
{
	uint64_t off = (size + 65535) & ~(uint64_t)65535;

	errno = 0;
	if (glfs_discard(d->fd, off, 65536) &&
	    (errno == EOPNOTSUPP || errno == ENOSYS)) {
		tcmu_dev_info(d->dev, "glfs: %s cannot punch holes; UNMAP writes zeroes",
			      d->cfg.volume);
		d->no_discard = true;
	}
}

static void gl_dev_free(struct gl_dev *d)
{
	if (!d)
		return;
	if (d->fd && glfs_close(d->fd))
		tcmu_dev_warn(d->dev, "glfs: closing %s: %s", d->cfg.path,
			      strerror(gl_errno()));
	gl_conn_put(d->conn);
	gl_cfg_free(&d->cfg);
	free(d);
}

/*
 * open — connects to the volume (or shares the connection of another LUN
 * on it), opens the file with O_DIRECT (created when missing) and grows it
 * to the LUN size. A cached connection that fails is replaced once. Main
 * thread; blocks. Returns 0 or -errno.
 */
static int gl_open(struct tcmu_device *dev, bool reopen)
{
	struct gl_dev *d;
	char *reason = NULL;
	int r, err, tries;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->dev = dev;
	r = gl_cfg_parse(tcmu_dev_get_cfgstring(dev), &d->cfg, &reason);
	if (r) {
		tcmu_dev_err(dev, "%s", reason ? reason : "glfs: bad config");
		free(reason);
		free(d);
		return r;
	}
	for (tries = 0; tries < 2; tries++) {
		r = gl_conn_get(&d->cfg, &d->conn);
		if (r) {
			gl_conn_fail(&d->cfg, r, &reason);
			tcmu_dev_err(dev, "%s", reason ? reason : "glfs: cannot connect");
			free(reason);
			goto fail;
		}
		err = gl_open_file(d);
		if (!err)
			break;
		r = -err;
		tcmu_dev_err(dev, "glfs: cannot open %s on %s@%s:%u: %s", d->cfg.path,
			     d->cfg.volume, d->cfg.host, d->cfg.port, strerror(err));
		if (!gl_transient(err))
			goto fail;
		/* maybe a stale cached connection: try a fresh one */
		gl_conn_retire(d->conn);
		gl_conn_put(d->conn);
		d->conn = NULL;
	}
	if (!d->fd)
		goto fail;
	r = gl_grow(d, tcmu_dev_get_size(dev));
	if (r) {
		tcmu_dev_err(dev, "glfs: cannot size %s to %llu bytes: %s", d->cfg.path,
			     (unsigned long long)tcmu_dev_get_size(dev), strerror(-r));
		goto fail;
	}
	gl_probe_discard(d, tcmu_dev_get_size(dev));
	tcmu_dev_set_private(dev, d);
	tcmu_dev_dbg(dev, "glfs: %s@%s:%u%s open%s", d->cfg.volume, d->cfg.host,
		     d->cfg.port, d->cfg.path, reopen ? " (reopen)" : "");
	return 0;
fail:
	gl_dev_free(d);
	return r;
}

/*
 * close — closes the file and drops the connection (which lingers for
 * the next LUN, see conn.c). Main thread, after every command completed;
 * blocks for a round trip.
 */
static void gl_close(struct tcmu_device *dev)
{
	gl_dev_free(tcmu_dev_get_private(dev));
	tcmu_dev_set_private(dev, NULL);
}

/*
 * reconfig — a larger size grows the file; a different config string is
 * refused (re-create the LUN to move it). Main thread, ring paused; may
 * block. Returns 0 or -errno.
 */
static int gl_reconfig(struct tcmu_device *dev, const struct tcmu_reconfig *rc)
{
	struct gl_dev *d = tcmu_dev_get_private(dev);

	if (rc->cfgstring && strcmp(rc->cfgstring, tcmu_dev_get_cfgstring(dev))) {
		tcmu_dev_warn(dev, "glfs: config changes need the LUN to be re-created");
		return -EOPNOTSUPP;
	}
	if (rc->size)
		return gl_grow(d, rc->size);
	return 0;
}

/*
 * exit — finishes the cached connections (glfs_fini, in parallel). Main
 * thread, after every LUN closed; blocks about ten seconds when a
 * connection is cached.
 */
static void gl_exit(void)
{
	gl_conn_shutdown();
}

static struct tcmu_handler gl_handler = {
	.subtype = "glfs",
	.name = "GlusterFS volume file (libgfapi, async)",
	.cfg_desc = "<volume>@<host>[:<port>]/<path>: a file on a GlusterFS volume, "
		    "e.g. glfs/gv0@gluster1/luns/lun0.img (created if missing; "
		    "port defaults to 24007)",
	.concurrency = TCMU_CONCURRENCY_ASYNC,
	.cmd_priv_size = sizeof(struct gl_cmd),
	.exit = gl_exit,
	.check_config = gl_check_config,
	.open = gl_open,
	.close = gl_close,
	.reconfig = gl_reconfig,
	.read = gl_read,
	.write = gl_write,
	.flush = gl_flush,
	.unmap = gl_unmap,
	.write_same = gl_write_same,
	.get_lba_status = gl_get_lba_status,
	.unmap_zeroes = true,
};

TCMU_REGISTER_HANDLER(gl_handler)
