/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * handlers/file/file.c — the "file" handler: a LUN backed by a regular file.
 *
 * Config (the part after "file/", compatible with tcmu-runner's
 * "file//path/to/image"):
 *
 *     <absolute path>[;direct][;engine=auto|uring|threads][;sync=fdatasync|fsync][;threads=N]
 *                    [;inline=auto|on|off][;async_min=BYTES][;mmap=auto|off]
 *
 * The path ends at the first ';' (a path containing ';' cannot be used).
 * inline: buffered writes done on the ring thread with pwritev2() instead
 * of io_uring. The kernel cannot write a regular file without blocking
 * through io_uring (it hands every buffered write to an io-wq worker
 * thread), but a write to a memory filesystem never waits for a disk: auto
 * (the default) inlines them when the file is on tmpfs or ramfs and not
 * opened with ;direct.
 * async_min: buffered transfers of at least BYTES (default 131072; 0: none)
 * are copied by io_uring's io-wq workers rather than on the ring thread, so
 * that the copies of large commands run in parallel on several CPUs.
 * mmap: auto (the default; "on" is the same) copies writes, and reads while
 * the file has no hole, into / out of a shared mapping of the file on the
 * ring thread when the file is on a memory filesystem (tmpfs, ramfs) with
 * inline writes (see map.c); off: never. Ignored elsewhere.
 * The file is created (mode 0600) when missing and grown to the device
 * size when smaller; it is never shrunk.
 *
 * This file holds the config parser, open/close/reconfig, the I/O
 * callbacks (which hand the command to the device's engine) and the
 * blocking implementation of every operation that the worker pool runs.
 * See file.h for the engines.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/falloc.h>
#include <linux/magic.h>
#include <sys/vfs.h>

#include "file.h"

#define FH_DEFAULT_THREADS 4
#define FH_MAX_THREADS 64
#define FH_SLOW_THREADS 2 /* pool size beside io_uring (slow paths) */
#define FH_CHUNK (1u << 20) /* zero / pattern buffer for the slow paths */

/* Never written: the source of zero-filling writes (aligned for O_DIRECT). */
static char fh_zero_buf[FH_CHUNK] __attribute__((aligned(4096)));

/* ------------------------------------------------------------------ */
/* Config                                                             */
/* ------------------------------------------------------------------ */

static bool fh_fail(char **reason, const char *fmt, const char *arg)
{
	if (reason && asprintf(reason, fmt, arg) < 0)
		*reason = NULL;
	return false;
}

static int fh_parse_option(const char *opt, struct fh_config *c, char **reason)
{
	const char *val = strchr(opt, '=');
	size_t klen = val ? (size_t)(val - opt) : strlen(opt);

	if (val)
		val++;
	if (klen == 6 && !strncmp(opt, "direct", 6) && !val) {
		c->direct = true;
	} else if (klen == 6 && !strncmp(opt, "engine", 6) && val) {
		if (!strcmp(val, "auto"))
			c->engine = FH_ENGINE_AUTO;
		else if (!strcmp(val, "uring") || !strcmp(val, "io_uring"))
			c->engine = FH_ENGINE_URING;
		else if (!strcmp(val, "threads"))
			c->engine = FH_ENGINE_THREADS;
		else
			return fh_fail(reason, "file: unknown engine '%s' (auto, uring, threads)", val), -EINVAL;
#ifndef TCMU_FILE_URING
		if (c->engine == FH_ENGINE_URING)
			return fh_fail(reason, "file: %s", "built without io_uring support"), -EINVAL;
#endif
	} else if (klen == 6 && !strncmp(opt, "inline", 6) && val) {
		if (!strcmp(val, "auto"))
			c->inline_writes = -1;
		else if (!strcmp(val, "on"))
			c->inline_writes = 1;
		else if (!strcmp(val, "off"))
			c->inline_writes = 0;
		else
			return fh_fail(reason, "file: unknown inline '%s' (auto, on, off)", val), -EINVAL;
	} else if (klen == 9 && !strncmp(opt, "async_min", 9) && val) {
		char *end;
		unsigned long long n;

		errno = 0;
		n = strtoull(val, &end, 10);
		if (errno || end == val || *end)
			return fh_fail(reason, "file: async_min must be a byte count, not '%s'", val), -EINVAL;
		c->async_min = n ? n : UINT64_MAX;
	} else if (klen == 4 && !strncmp(opt, "mmap", 4) && val) {
		if (!strcmp(val, "auto") || !strcmp(val, "on"))
			c->mmap_io = true;
		else if (!strcmp(val, "off"))
			c->mmap_io = false;
		else
			return fh_fail(reason, "file: unknown mmap '%s' (auto, off)", val), -EINVAL;
	} else if (klen == 4 && !strncmp(opt, "sync", 4) && val) {
		if (!strcmp(val, "fsync"))
			c->full_fsync = true;
		else if (!strcmp(val, "fdatasync"))
			c->full_fsync = false;
		else
			return fh_fail(reason, "file: unknown sync '%s' (fdatasync, fsync)", val), -EINVAL;
	} else if (klen == 7 && !strncmp(opt, "threads", 7) && val) {
		char *end;
		unsigned long n;

		errno = 0;
		n = strtoul(val, &end, 10);
		if (errno || end == val || *end || n < 1 || n > FH_MAX_THREADS)
			return fh_fail(reason, "file: threads must be 1..64, not '%s'", val), -EINVAL;
		c->threads = n;
	} else {
		return fh_fail(reason, "file: unknown option '%s'", opt), -EINVAL;
	}
	return 0;
}

/*
 * fh_config_parse — split "<path>[;opt]..." into @c (c->path malloc'ed).
 * Pure string work: touches no file. Any thread. Returns 0, or -EINVAL /
 * -ENOMEM with a message in *@reason (when @reason is not NULL).
 */
int fh_config_parse(const char *cfg, struct fh_config *c, char **reason)
{
	char *dup, *save = NULL, *opt;
	const char *semi;
	size_t plen;
	int ret = 0;

	*c = (struct fh_config){ .engine = FH_ENGINE_AUTO, .inline_writes = -1,
				 .async_min = FH_ASYNC_MIN, .mmap_io = true };
	if (!cfg || !*cfg)
		return fh_fail(reason, "file: %s", "no path given (file//path/to/image)"), -EINVAL;
	semi = strchr(cfg, ';');
	plen = semi ? (size_t)(semi - cfg) : strlen(cfg);
	if (cfg[0] != '/')
		return fh_fail(reason, "file: path must be absolute: '%s'", cfg), -EINVAL;
	if (plen >= PATH_MAX)
		return fh_fail(reason, "file: %s", "path too long"), -EINVAL;
	if (cfg[plen - 1] == '/')
		return fh_fail(reason, "file: path names a directory: '%s'", cfg), -EINVAL;
	c->path = strndup(cfg, plen);
	if (!c->path)
		return -ENOMEM;
	if (!semi)
		return 0;
	dup = strdup(semi + 1);
	if (!dup) {
		ret = -ENOMEM;
		goto fail;
	}
	for (opt = strtok_r(dup, ";", &save); opt; opt = strtok_r(NULL, ";", &save)) {
		ret = fh_parse_option(opt, c, reason);
		if (ret)
			break;
	}
	free(dup);
	if (!ret)
		return 0;
fail:
	fh_config_free(c);
	return ret;
}

/* fh_config_free — frees what fh_config_parse() allocated. Any thread. */
void fh_config_free(struct fh_config *c)
{
	free(c->path);
	c->path = NULL;
}

/*
 * check_config — validates the config without side effects: syntax, the
 * options, and that the path is (or can be created as) a regular file we
 * can read and write. Main thread; stat() and access() only. Returns true,
 * or false with a message in *reason.
 */
static bool fh_check_config(const char *cfgstring, char **reason)
{
	struct fh_config c;
	struct stat st;
	char *parent, *slash;
	bool ok = true;

	if (fh_config_parse(cfgstring, &c, reason))
		return false;
	if (!stat(c.path, &st)) {
		if (S_ISDIR(st.st_mode))
			ok = fh_fail(reason, "file: '%s' is a directory", c.path);
		else if (!S_ISREG(st.st_mode))
			ok = fh_fail(reason, "file: '%s' is not a regular file", c.path);
		else if (access(c.path, R_OK | W_OK))
			ok = fh_fail(reason, "file: cannot read and write '%s'", c.path);
		goto out;
	}
	if (errno != ENOENT) {
		ok = fh_fail(reason, "file: cannot access '%s'", c.path);
		goto out;
	}
	/* Missing file: its directory must exist and let us create it. */
	parent = strdup(c.path);
	if (!parent) {
		ok = fh_fail(reason, "file: %s", "out of memory");
		goto out;
	}
	slash = strrchr(parent, '/');
	if (slash == parent)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (stat(parent, &st) || !S_ISDIR(st.st_mode))
		ok = fh_fail(reason, "file: directory '%s' does not exist", parent);
	else if (access(parent, W_OK | X_OK))
		ok = fh_fail(reason, "file: cannot create a file in '%s'", parent);
	free(parent);
out:
	fh_config_free(&c);
	return ok;
}

/* ------------------------------------------------------------------ */
/* Iovec cursor: resume a transfer after a short read/write           */
/* ------------------------------------------------------------------ */

/*
 * fh_cursor_window — the iovecs for the next transfer from @c: either a run
 * of whole iovecs of the command (no copy), or one partial iovec in
 * c->one (after a short transfer, or when the list holds more than
 * c->left bytes). At most IOV_MAX entries. Returns the array, *@cnt >= 1.
 */
const struct iovec *fh_cursor_window(struct fh_cursor *c, unsigned int *cnt)
{
	const struct iovec *v;
	uint64_t sum = 0;
	unsigned int n = 0;

	/* a window must not start with empty iovecs: 0 bytes would read as EOF */
	while (c->idx + 1 < c->iovcnt && c->iov[c->idx].iov_len == c->skip) {
		c->idx++;
		c->skip = 0;
	}
	v = &c->iov[c->idx];
	if (c->skip || v->iov_len > c->left) {
		size_t len = v->iov_len - c->skip;

		c->one.iov_base = (char *)v->iov_base + c->skip;
		c->one.iov_len = len < c->left ? len : c->left;
		*cnt = 1;
		return &c->one;
	}
	while (c->idx + n < c->iovcnt && n < IOV_MAX &&
	       sum + c->iov[c->idx + n].iov_len <= c->left)
		sum += c->iov[c->idx + n++].iov_len;
	*cnt = n;
	return v;
}

/* fh_cursor_advance — @n more bytes were transferred. */
void fh_cursor_advance(struct fh_cursor *c, size_t n)
{
	c->off += n;
	c->left -= n;
	while (n && c->idx < c->iovcnt) {
		size_t avail = c->iov[c->idx].iov_len - c->skip;

		if (n < avail) {
			c->skip += n;
			return;
		}
		n -= avail;
		c->idx++;
		c->skip = 0;
	}
}

/* fh_cursor_zero_rest — a read hit end of file: the rest reads as zeroes. */
void fh_cursor_zero_rest(struct fh_cursor *c)
{
	while (c->left && c->idx < c->iovcnt) {
		const struct iovec *v = &c->iov[c->idx];
		size_t len = v->iov_len - c->skip;

		if (len > c->left)
			len = c->left;
		memset((char *)v->iov_base + c->skip, 0, len);
		fh_cursor_advance(c, len);
	}
}

/* ------------------------------------------------------------------ */
/* Blocking implementations (worker pool)                             */
/* ------------------------------------------------------------------ */

/* fh_write_dsync — must this write be durable on completion? */
bool fh_write_dsync(const struct fh_dev *d, unsigned int flags)
{
	return (flags & TCMU_IO_FUA) || !tcmu_dev_get_write_cache(d->dev);
}

static bool fh_unsupported(int err)
{
	return err == EOPNOTSUPP || err == ENOSYS;
}

static int fh_flush_blocking(struct fh_dev *d)
{
	int r = d->cfg.full_fsync ? fsync(d->fd) : fdatasync(d->fd);

	return r ? -errno : 0;
}

/*
 * fh_exec_blocking_rw — runs a read or write to the end with preadv2 /
 * pwritev2 (short transfers resumed; past end of file reads zeroes). Worker
 * threads, or the ring thread for inline writes. Returns 0 or -errno.
 */
int fh_exec_blocking_rw(struct fh_dev *d, struct fh_cmd *fc)
{
	struct fh_cursor *c = &fc->cur;

	while (c->left) {
		unsigned int cnt;
		const struct iovec *v = fh_cursor_window(c, &cnt);
		ssize_t n;

		if (fc->op == FH_OP_READ)
			n = preadv2(d->fd, v, cnt, c->off, 0);
		else
			n = pwritev2(d->fd, v, cnt, c->off, fc->dsync ? RWF_DSYNC : 0);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (n == 0) {
			if (fc->op == FH_OP_WRITE)
				return -EIO;
			fh_cursor_zero_rest(c); /* past end of file */
			return 0;
		}
		fh_cursor_advance(c, n);
	}
	return 0;
}

/* Writes @len bytes of @buf (short writes resumed). */
static int fh_pwrite_all(int fd, const char *buf, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, buf, len, off);

		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		buf += n;
		len -= n;
		off += n;
	}
	return 0;
}

/*
 * Zeroes [off, off + len): punch a hole when allowed, else
 * FALLOC_FL_ZERO_RANGE, else write zeroes. Remembers what the filesystem
 * refused so later calls skip it.
 */
static int fh_zero_blocking(struct fh_dev *d, uint64_t off, uint64_t len, bool punch)
{
	if (punch && !atomic_load_explicit(&d->no_punch, memory_order_relaxed)) {
		if (!fallocate(d->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len))
			return 0;
		if (!fh_unsupported(errno))
			return -errno;
		atomic_store(&d->no_punch, true);
	}
	if (!atomic_load_explicit(&d->no_zero_range, memory_order_relaxed)) {
		if (!fallocate(d->fd, FALLOC_FL_ZERO_RANGE, off, len))
			return 0;
		if (!fh_unsupported(errno))
			return -errno;
		atomic_store(&d->no_zero_range, true);
	}
	while (len) {
		size_t n = len < FH_CHUNK ? len : FH_CHUNK;
		int r = fh_pwrite_all(d->fd, fh_zero_buf, n, off);

		if (r)
			return r;
		off += n;
		len -= n;
	}
	return 0;
}

/* WRITE SAME with a non-zero pattern: replicate the block into a buffer. */
static int fh_pattern_blocking(struct fh_dev *d, struct fh_cmd *fc)
{
	size_t bs = 0, chunk, filled = 0, i;
	uint64_t off = fc->off, left = fc->len;
	char *buf;
	int r = 0;

	for (i = 0; i < fc->patcnt; i++)
		bs += fc->pat[i].iov_len;
	if (!bs || fc->len % bs)
		return -EINVAL;
	chunk = FH_CHUNK / bs * bs;
	if (!chunk)
		chunk = bs;
	if (chunk > fc->len)
		chunk = fc->len;
	if (posix_memalign((void **)&buf, 4096, chunk))
		return -ENOMEM;
	for (i = 0; i < fc->patcnt; i++) {
		memcpy(buf + filled, fc->pat[i].iov_base, fc->pat[i].iov_len);
		filled += fc->pat[i].iov_len;
	}
	while (filled < chunk) {
		size_t n = filled < chunk - filled ? filled : chunk - filled;

		memcpy(buf + filled, buf, n);
		filled += n;
	}
	while (left && !r) {
		size_t n = left < chunk ? left : chunk;

		r = fh_pwrite_all(d->fd, buf, n, off);
		off += n;
		left -= n;
	}
	free(buf);
	return r;
}

/*
 * fh_exec_blocking — runs @fc to the end with blocking system calls.
 * Worker-pool threads. Returns 0 or -errno (the command's result).
 */
int fh_exec_blocking(struct fh_dev *d, struct fh_cmd *fc)
{
	bool wc = tcmu_dev_get_write_cache(d->dev);
	int r = 0;
	size_t i;

	switch (fc->op) {
	case FH_OP_READ:
	case FH_OP_WRITE:
		return fh_exec_blocking_rw(d, fc);
	case FH_OP_FLUSH:
		return fh_flush_blocking(d);
	case FH_OP_UNMAP:
		for (i = 0; i < fc->nr_ranges && !r; i++)
			if (fc->ranges[i].length)
				r = fh_zero_blocking(d, fc->ranges[i].offset,
						     fc->ranges[i].length, true);
		break;
	case FH_OP_WRITE_SAME:
		if (fc->pat_zero)
			r = fh_zero_blocking(d, fc->off, fc->len,
					     fc->ws_flags & TCMU_WRITE_SAME_UNMAP);
		else
			r = fh_pattern_blocking(d, fc);
		break;
	default:
		return -EINVAL;
	}
	if (!r && !wc)
		r = fh_flush_blocking(d);
	return r;
}

/* ------------------------------------------------------------------ */
/* I/O callbacks                                                      */
/* ------------------------------------------------------------------ */

static struct fh_cmd *fh_cmd_init(struct tcmu_cmd *cmd, enum fh_op op, bool *chained)
{
	struct fh_cmd *fc = tcmu_cmd_priv(cmd);

	/*
	 * The private area is zeroed when a command arrives, so a set ->cmd
	 * means the SCSI core calls us again for the same command (e.g. a
	 * write after the read of an emulated COMPARE AND WRITE), from a
	 * continuation: batch_end() may not follow such a call.
	 */
	*chained = fc->cmd != NULL;
	*fc = (struct fh_cmd){ .cmd = cmd, .op = op };
	return fc;
}

/*
 * Starts @fc on the device's engine. io_uring SQEs wait for batch_end(),
 * except for a chained call, which is submitted at once.
 */
static int fh_start(struct fh_dev *d, struct fh_cmd *fc, bool chained)
{
	int r;

	if (d->engine != FH_ENGINE_URING) {
		fh_pool_queue(d, fc);
		return 0;
	}
	r = fh_uring_start(d, fc);
	if (!r && chained)
		fh_uring_submit(d);
	return r;
}

static int fh_rw(struct tcmu_device *dev, struct tcmu_cmd *cmd, enum fh_op op,
		 const struct iovec *iov, size_t iovcnt, uint64_t offset,
		 size_t length, unsigned int flags)
{
	struct fh_dev *d = tcmu_dev_get_private(dev);
	struct fh_cmd *fc;
	uint64_t total = 0;
	bool chained;
	size_t i;

	for (i = 0; i < iovcnt && total < length; i++)
		total += iov[i].iov_len;
	if (total < length)
		return -EINVAL;
	if (!length) {
		tcmu_cmd_done(cmd, 0);
		return 0;
	}
	fc = fh_cmd_init(cmd, op, &chained);
	fc->cur = (struct fh_cursor){ .iov = iov, .iovcnt = iovcnt,
				      .off = offset, .left = length };
	fc->dsync = op == FH_OP_WRITE && fh_write_dsync(d, flags);
	if (d->map && !fh_map_rw(d, &fc->cur, op == FH_OP_WRITE)) {
		tcmu_cmd_done(cmd, 0); /* memory filesystem: dsync is moot */
		return 0;
	}
	if (op == FH_OP_WRITE && d->inline_writes &&
	    (length < d->cfg.async_min || d->engine != FH_ENGINE_URING)) {
		/* memory filesystem: a plain copy, no I/O to wait for */
		tcmu_cmd_done(cmd, fh_exec_blocking_rw(d, fc));
		return 0;
	}
	return fh_start(d, fc, chained);
}

/*
 * read — reads into the data-area iovecs; past end of file reads zeroes.
 * Ring thread (ASYNC); never blocks: queues an SQE (submitted in
 * batch_end) or hands the command to a worker. Returns 0 (completed later
 * with tcmu_cmd_done) or -errno (-EBUSY: submission queue full).
 */
static int fh_read(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		   const struct iovec *iov, size_t iovcnt, uint64_t offset,
		   size_t length, unsigned int flags)
{
	return fh_rw(dev, cmd, FH_OP_READ, iov, iovcnt, offset, length, flags);
}

/*
 * write — writes from the data-area iovecs, with RWF_DSYNC for FUA or when
 * the write cache is disabled. Ring thread; never blocks; as read().
 */
static int fh_write(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		    const struct iovec *iov, size_t iovcnt, uint64_t offset,
		    size_t length, unsigned int flags)
{
	return fh_rw(dev, cmd, FH_OP_WRITE, iov, iovcnt, offset, length, flags);
}

/*
 * flush — SYNCHRONIZE CACHE: fdatasync (or fsync with ;sync=fsync). Ring
 * thread; never blocks. Returns 0 or -errno.
 */
static int fh_flush(struct tcmu_device *dev, struct tcmu_cmd *cmd)
{
	struct fh_dev *d = tcmu_dev_get_private(dev);
	bool chained;
	struct fh_cmd *fc = fh_cmd_init(cmd, FH_OP_FLUSH, &chained);

	return fh_start(d, fc, chained);
}

/*
 * unmap — punches holes (FALLOC_FL_PUNCH_HOLE | KEEP_SIZE) for every range;
 * holes read back as zeroes. Ring thread; never blocks: one SQE per range,
 * or, where the filesystem cannot punch holes or the write cache is
 * disabled, a worker zeroes the ranges (with a copy of @ranges). Returns 0
 * or -errno.
 */
static int fh_unmap(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		    const struct tcmu_range *ranges, size_t nr)
{
	struct fh_dev *d = tcmu_dev_get_private(dev);
	bool chained;
	struct fh_cmd *fc = fh_cmd_init(cmd, FH_OP_UNMAP, &chained);
	int r;

	fh_map_holes_ahead(d);
	if (d->engine == FH_ENGINE_URING && tcmu_dev_get_write_cache(dev) &&
	    !atomic_load_explicit(&d->no_punch, memory_order_relaxed)) {
		r = fh_uring_unmap(d, fc, ranges, nr);
		if (!r && chained)
			fh_uring_submit(d);
		return r;
	}
	if (nr) {
		fc->ranges = malloc(nr * sizeof(*ranges));
		if (!fc->ranges)
			return -ENOMEM;
		memcpy(fc->ranges, ranges, nr * sizeof(*ranges));
	}
	fc->nr_ranges = nr;
	fh_pool_queue(d, fc); /* the worker frees fc->ranges */
	return 0;
}

static bool fh_iov_is_zero(const struct iovec *iov, size_t cnt)
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

/*
 * write_same — zeroes with FALLOC_FL_ZERO_RANGE (or punches a hole when
 * TCMU_WRITE_SAME_UNMAP allows); a non-zero pattern is replicated by a
 * worker. Ring thread; never blocks. Returns 0 or -errno.
 */
static int fh_write_same(struct tcmu_device *dev, struct tcmu_cmd *cmd,
			 const struct iovec *iov, size_t iovcnt,
			 uint64_t offset, uint64_t length, unsigned int flags)
{
	struct fh_dev *d = tcmu_dev_get_private(dev);
	struct fh_cmd *fc;
	bool chained, punch = flags & TCMU_WRITE_SAME_UNMAP;
	atomic_bool *refused = punch ? &d->no_punch : &d->no_zero_range;

	if (!length) {
		tcmu_cmd_done(cmd, 0);
		return 0;
	}
	fc = fh_cmd_init(cmd, FH_OP_WRITE_SAME, &chained);
	fc->pat = iov;
	fc->patcnt = iovcnt;
	fc->pat_zero = fh_iov_is_zero(iov, iovcnt);
	if (punch || fc->pat_zero)
		fh_map_holes_ahead(d); /* fallocate may punch or zero the range */
	fc->ws_flags = flags;
	fc->off = offset;
	fc->len = length;
	if (d->engine == FH_ENGINE_URING && fc->pat_zero &&
	    tcmu_dev_get_write_cache(dev) &&
	    !atomic_load_explicit(refused, memory_order_relaxed))
		return fh_start(d, fc, chained);
	fh_pool_queue(d, fc);
	return 0;
}

/*
 * batch_end — submits the SQEs the batch queued, with one io_uring_enter,
 * then completes what finished during it (buffered reads from the page
 * cache complete inline), so the runner writes them back in this turn
 * instead of polling again first. Ring thread; never blocks.
 */
static void fh_batch_end(struct tcmu_device *dev)
{
	struct fh_dev *d = tcmu_dev_get_private(dev);

	if (d && d->engine == FH_ENGINE_URING) {
		fh_uring_submit(d);
		fh_uring_reap(d);
	}
}

/*
 * get_lba_status — mapped or not, from SEEK_DATA / SEEK_HOLE. Any thread;
 * two lseek() calls. Returns 0 or -errno (-ERANGE past the end).
 */
static int fh_get_lba_status(struct tcmu_device *dev, uint64_t offset,
			     bool *mapped, uint64_t *extent_len)
{
	struct fh_dev *d = tcmu_dev_get_private(dev);
	uint64_t size = tcmu_dev_get_size(dev);
	off_t data, hole;

	if (offset >= size)
		return -ERANGE;
	data = lseek(d->fd, offset, SEEK_DATA);
	if (data < 0 && errno != ENXIO)
		return -errno;
	if (data < 0 || (uint64_t)data > offset) {
		/* a hole up to the next data, or up to the end */
		*mapped = false;
		*extent_len = (data < 0 || (uint64_t)data > size ? size : (uint64_t)data) - offset;
		return 0;
	}
	hole = lseek(d->fd, offset, SEEK_HOLE);
	if (hole < 0)
		return -errno;
	*mapped = true;
	*extent_len = ((uint64_t)hole > size ? size : (uint64_t)hole) - offset;
	return 0;
}

/* ------------------------------------------------------------------ */
/* open / close / reconfig                                            */
/* ------------------------------------------------------------------ */

/* Grows the file to @size bytes (never shrinks it). */
static int fh_grow(struct fh_dev *d, uint64_t size)
{
	struct stat st;

	if (fstat(d->fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size < size && ftruncate(d->fd, size))
		return -errno;
	return 0;
}

/*
 * Can this filesystem punch holes? Punching a block past the end of the
 * file (KEEP_SIZE) changes nothing but is refused where unsupported.
 */
static void fh_probe_punch(struct fh_dev *d, uint64_t size)
{
	uint64_t off = (size + 65535) & ~(uint64_t)65535;

	if (fallocate(d->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, 65536) &&
	    fh_unsupported(errno)) {
		tcmu_dev_info(d->dev, "file: %s cannot punch holes; UNMAP writes zeroes",
			      d->cfg.path);
		atomic_store(&d->no_punch, true);
	}
}

static void fh_free(struct fh_dev *d)
{
	if (!d)
		return;
	fh_uring_close(d);
	fh_pool_stop(d);
	fh_map_close(d);
	if (d->fd >= 0)
		close(d->fd);
	fh_config_free(&d->cfg);
	free(d);
}

/* Is the file on tmpfs / ramfs, opened without O_DIRECT? Main thread. */
static bool fh_on_memfs(struct fh_dev *d)
{
	struct statfs sf;

	if (d->cfg.direct || fstatfs(d->fd, &sf))
		return false;
	return sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC;
}

/*
 * Should buffered writes run on the ring thread? ;inline=on/off, or auto:
 * yes on tmpfs / ramfs without O_DIRECT (no disk to wait for; through
 * io_uring each would cost a hand-off to an io-wq thread). Main thread.
 */
static bool fh_inline_writes(const struct fh_dev *d, bool memfs)
{
	if (d->cfg.inline_writes >= 0)
		return d->cfg.inline_writes;
	return memfs;
}

/*
 * Maps the first @size bytes of the file for ;mmap; on failure the
 * device goes on without (I/O through the engine), said once. Main thread.
 */
static void fh_map_start(struct tcmu_device *dev, struct fh_dev *d, uint64_t size)
{
	int r = fh_map_open(d, size);

	if (r)
		tcmu_dev_warn(dev, "file: cannot map %s (%s); I/O uses the engine",
			      d->cfg.path, strerror(-r));
	else
		tcmu_dev_dbg(dev, "file: %s mapped; %s through the mapping", d->cfg.path,
			     d->map_reads ? "reads and writes" : "writes (the file has holes)");
}

/*
 * open — opens (creating it if missing) the backing file, grows it to the
 * device size and starts the engine: io_uring unless unavailable or
 * ;engine=threads. Main thread; may block. Returns 0 or -errno.
 */

static int fh_open(struct tcmu_device *dev, bool reopen)
{
	struct fh_dev *d;
	char *reason = NULL;
	int flags = O_RDWR | O_CREAT | O_CLOEXEC;
	uint64_t size = tcmu_dev_get_size(dev);
	bool memfs;
	int r;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->dev = dev;
	d->fd = -1;
	r = fh_config_parse(tcmu_dev_get_cfgstring(dev), &d->cfg, &reason);
	if (r) {
		tcmu_dev_err(dev, "%s", reason ? reason : "file: bad config");
		free(reason);
		free(d);
		return r;
	}
	if (d->cfg.direct)
		flags |= O_DIRECT;
	d->fd = open(d->cfg.path, flags, 0600);
	if (d->fd < 0) {
		r = -errno;
		tcmu_dev_err(dev, "file: cannot open %s: %s", d->cfg.path, strerror(-r));
		goto fail;
	}
	r = fh_grow(d, size);
	if (r) {
		tcmu_dev_err(dev, "file: cannot size %s to %llu bytes: %s", d->cfg.path,
			     (unsigned long long)size, strerror(-r));
		goto fail;
	}
	fh_probe_punch(d, size);
	memfs = fh_on_memfs(d);
	d->inline_writes = fh_inline_writes(d, memfs);
	if (d->cfg.mmap_io && d->inline_writes && memfs)
		fh_map_start(dev, d, size);

	d->engine = FH_ENGINE_THREADS;
	if (d->cfg.engine != FH_ENGINE_THREADS) {
		r = fh_uring_open(d);
		if (!r) {
			d->engine = FH_ENGINE_URING;
		} else if (d->cfg.engine == FH_ENGINE_URING) {
			tcmu_dev_err(dev, "file: io_uring unavailable: %s", strerror(-r));
			goto fail;
		} else {
			tcmu_dev_info(dev, "file: io_uring unavailable (%s), using threads",
				      strerror(-r));
		}
	}
	r = fh_pool_start(d, d->engine == FH_ENGINE_URING ? FH_SLOW_THREADS :
			     d->cfg.threads ? d->cfg.threads : FH_DEFAULT_THREADS);
	if (r) {
		tcmu_dev_err(dev, "file: cannot start workers: %s", strerror(-r));
		goto fail;
	}
	tcmu_dev_set_private(dev, d);
	tcmu_dev_dbg(dev, "file: %s%s, %s engine%s", d->cfg.path, reopen ? " (reopen)" : "",
		     d->engine == FH_ENGINE_URING ? "io_uring" : "threads",
		     d->inline_writes ? ", writes inline" : "");
	return 0;
fail:
	fh_free(d);
	return r;
}

/*
 * close — stops the engine and closes the file. Main thread, after every
 * command completed; may block (joins the workers).
 */
static void fh_close(struct tcmu_device *dev)
{
	fh_free(tcmu_dev_get_private(dev));
	tcmu_dev_set_private(dev, NULL);
}

/*
 * reconfig — a larger size grows the file; a different config string is
 * refused (re-create the device to change the file or its options). Main
 * thread, ring paused; may block. Returns 0 or -errno.
 */
static int fh_reconfig(struct tcmu_device *dev, const struct tcmu_reconfig *rc)
{
	struct fh_dev *d = tcmu_dev_get_private(dev);

	if (rc->cfgstring && strcmp(rc->cfgstring, tcmu_dev_get_cfgstring(dev))) {
		tcmu_dev_warn(dev, "file: config changes need the device to be re-created");
		return -EOPNOTSUPP;
	}
	if (rc->size) {
		int r = fh_grow(d, rc->size);

		if (r || !d->map)
			return r;
		fh_map_close(d); /* the ring is paused: no copy is running */
		fh_map_start(dev, d, rc->size);
	}
	return 0;
}

static struct tcmu_handler fh_handler = {
	.subtype = "file",
	.name = "File-backed LUN (io_uring)",
	.cfg_desc = "Absolute path of the backing file, created if missing, e.g. "
		    "file//var/lib/disk.img. Options: ;direct (O_DIRECT), "
		    ";engine=auto|uring|threads, ;sync=fdatasync|fsync, ;threads=N, "
		    ";inline=auto|on|off, ;async_min=BYTES, ;mmap=auto|off",
	.concurrency = TCMU_CONCURRENCY_ASYNC,
	.cmd_priv_size = sizeof(struct fh_cmd),
	.check_config = fh_check_config,
	.open = fh_open,
	.close = fh_close,
	.reconfig = fh_reconfig,
	.read = fh_read,
	.write = fh_write,
	.flush = fh_flush,
	.unmap = fh_unmap,
	.write_same = fh_write_same,
	.batch_end = fh_batch_end,
	.get_lba_status = fh_get_lba_status,
	.unmap_zeroes = true,
	.nonrotational = true,
};

TCMU_REGISTER_HANDLER(fh_handler)
