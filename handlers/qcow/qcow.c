/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qcow.c — the "qcow" handler: LUNs backed by qcow2 (or raw) images.
 * Config string: qcow/<absolute path>, as tcmu-runner spells it. The
 * image format engine (qimg_*) does the work; this file only maps the
 * handler callbacks onto it. Concurrency PARALLEL: the callbacks block in
 * the daemon's worker threads, and the engine lets I/O to different
 * clusters run in parallel.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tcmu/handler.h>

#include "qimg.h"

struct qcow_dev {
	struct qimg *img;
	uint64_t served; /* min(LUN size, image size) */
	uint64_t img_size;
};

static struct qcow_dev *qdev(struct tcmu_device *dev)
{
	return tcmu_dev_get_private(dev);
}

/* The config string names the image; tolerate a leading "qcow/". */
static const char *cfg_path(const char *cfg)
{
	if (!cfg)
		return NULL;
	if (!strncmp(cfg, "qcow/", 5))
		cfg += 5;
	return cfg;
}

/*
 * check_config — main thread; opens the image (and its backing chain)
 * read-only to validate it, changes nothing. Returns true when usable;
 * otherwise false with a malloc'ed reason that never quotes image content.
 */
static bool qcow_check_config(const char *cfgstring, char **reason)
{
	const char *path = cfg_path(cfgstring);
	char err[QIMG_ERR_LEN] = "";
	struct qimg *img;
	int ret;

	if (!path || path[0] != '/') {
		if (reason)
			*reason = strdup("the config must be qcow/<absolute "
					 "path of the image>");
		return false;
	}
	ret = qimg_open(path, QIMG_RDONLY | QIMG_PROBE, &img, err);
	if (ret < 0) {
		if (reason)
			*reason = strdup(err[0] ? err : "cannot use the image");
		return false;
	}
	qimg_close(img);
	return true;
}

/*
 * open — main thread; may block. Opens the image read-write (read-only if
 * the file is not writable). The LUN serves min(LUN size, image size).
 * Returns 0 or -errno.
 */
static int qcow_open(struct tcmu_device *dev, bool reopen)
{
	const char *path = cfg_path(tcmu_dev_get_cfgstring(dev));
	char err[QIMG_ERR_LEN] = "";
	struct qcow_dev *q;
	uint64_t lun;
	int ret;

	if (!path || path[0] != '/') {
		tcmu_dev_err(dev, "qcow: bad config, want qcow/<absolute path>");
		return -EINVAL;
	}
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	ret = qimg_open(path, 0, &q->img, err);
	if (ret == -EACCES || ret == -EROFS || ret == -EPERM) {
		err[0] = '\0';
		ret = qimg_open(path, QIMG_RDONLY, &q->img, err);
		if (ret == 0)
			tcmu_dev_warn(dev, "qcow: %s is not writable; serving "
					   "it read-only", path);
	}
	if (ret < 0) {
		tcmu_dev_err(dev, "qcow: %s: %s", path, err[0] ? err : "open failed");
		free(q);
		return ret;
	}
	q->img_size = qimg_size(q->img);
	lun = tcmu_dev_get_size(dev);
	q->served = q->img_size;
	if (lun && lun != q->img_size) {
		tcmu_dev_warn(dev, "qcow: LUN size %llu differs from the image "
				   "size %llu; serving %llu bytes",
			      (unsigned long long)lun,
			      (unsigned long long)q->img_size,
			      (unsigned long long)(lun < q->img_size ? lun : q->img_size));
		if (lun < q->served)
			q->served = lun;
	}
	tcmu_dev_set_private(dev, q);
	(void)reopen;
	return 0;
}

/* close — main thread, after all commands completed; flushes and frees. */
static void qcow_close(struct tcmu_device *dev)
{
	struct qcow_dev *q = qdev(dev);
	int ret;

	if (!q)
		return;
	ret = qimg_close(q->img);
	if (ret < 0)
		tcmu_dev_err(dev, "qcow: final flush failed: %d", ret);
	free(q);
	tcmu_dev_set_private(dev, NULL);
}

/* read — worker thread; blocks. Bytes past the image (a larger LUN) read
 * as zeroes. Completes the command; returns 0. */
static int qcow_read(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		     const struct iovec *iov, size_t iovcnt, uint64_t offset,
		     size_t length, unsigned int flags)
{
	struct qcow_dev *q = qdev(dev);
	size_t in = 0;
	int ret = 0;

	if (offset < q->img_size)
		in = q->img_size - offset < length ? (size_t)(q->img_size - offset)
						   : length;
	if (in)
		ret = qimg_read(q->img, offset, in, iov, (int)iovcnt);
	if (ret == 0 && in < length) {
		/* Zero the tail past the image. */
		size_t skip = in, left = length - in;

		for (size_t i = 0; i < iovcnt && left; i++) {
			size_t l = iov[i].iov_len;

			if (skip >= l) {
				skip -= l;
				continue;
			}
			l -= skip;
			if (l > left)
				l = left;
			memset((char *)iov[i].iov_base + skip, 0, l);
			left -= l;
			skip = 0;
		}
	}
	tcmu_cmd_done(cmd, ret);
	return 0;
}

/* write — worker thread; blocks. Past the image: -ERANGE (LBA out of
 * range). TCMU_IO_FUA makes the data durable first. */
static int qcow_write(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		      const struct iovec *iov, size_t iovcnt, uint64_t offset,
		      size_t length, unsigned int flags)
{
	struct qcow_dev *q = qdev(dev);
	int ret;

	if (offset > q->served || length > q->served - offset)
		ret = -ERANGE;
	else
		ret = qimg_write(q->img, offset, length, iov, (int)iovcnt,
				 flags & TCMU_IO_FUA);
	tcmu_cmd_done(cmd, ret);
	return 0;
}

/* flush — worker thread; blocks. SYNCHRONIZE CACHE: data, then metadata. */
static int qcow_flush(struct tcmu_device *dev, struct tcmu_cmd *cmd)
{
	tcmu_cmd_done(cmd, qimg_flush(qdev(dev)->img));
	return 0;
}

/* unmap — worker thread; blocks. Discards each range (reads return
 * zeroes afterwards: zero clusters or deallocation). */
static int qcow_unmap(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		      const struct tcmu_range *ranges, size_t nr)
{
	struct qcow_dev *q = qdev(dev);
	int ret = 0;

	for (size_t i = 0; i < nr && ret == 0; i++) {
		if (ranges[i].offset > q->served ||
		    ranges[i].length > q->served - ranges[i].offset)
			ret = -ERANGE;
		else
			ret = qimg_discard(q->img, ranges[i].offset,
					   ranges[i].length);
	}
	tcmu_cmd_done(cmd, ret);
	return 0;
}

static bool all_zero(const struct iovec *iov, size_t iovcnt)
{
	for (size_t i = 0; i < iovcnt; i++) {
		const char *p = iov[i].iov_base;

		for (size_t j = 0; j < iov[i].iov_len; j++)
			if (p[j])
				return false;
	}
	return true;
}

/* write_same — worker thread; blocks. Zero patterns become zero clusters
 * (deallocated with TCMU_WRITE_SAME_UNMAP); others are written out in
 * chunks of repeated blocks. */
static int qcow_write_same(struct tcmu_device *dev, struct tcmu_cmd *cmd,
			   const struct iovec *iov, size_t iovcnt,
			   uint64_t offset, uint64_t length, unsigned int flags)
{
	struct qcow_dev *q = qdev(dev);
	size_t bs = 0, chunk, nblk;
	char *buf = NULL;
	int ret = 0;

	for (size_t i = 0; i < iovcnt; i++)
		bs += iov[i].iov_len;
	if (offset > q->served || length > q->served - offset) {
		ret = -ERANGE;
		goto done;
	}
	if (all_zero(iov, iovcnt)) {
		ret = qimg_write_zeroes(q->img, offset, length,
					(flags & TCMU_WRITE_SAME_UNMAP)
						? QIMG_ZERO_MAY_UNMAP
						: 0);
		goto done;
	}
	if (!bs || length % bs) {
		ret = -EINVAL;
		goto done;
	}
	nblk = (1U << 20) / bs ? (1U << 20) / bs : 1;
	chunk = nblk * bs;
	buf = malloc(chunk);
	if (!buf) {
		ret = -ENOMEM;
		goto done;
	}
	for (size_t b = 0; b < nblk; b++) {
		size_t o = b * bs;

		for (size_t i = 0; i < iovcnt; i++) {
			memcpy(buf + o, iov[i].iov_base, iov[i].iov_len);
			o += iov[i].iov_len;
		}
	}
	while (length && ret == 0) {
		size_t n = length < chunk ? (size_t)length : chunk;
		struct iovec v = {buf, n};

		ret = qimg_write(q->img, offset, n, &v, 1, false);
		offset += n;
		length -= n;
	}
done:
	free(buf);
	tcmu_cmd_done(cmd, ret);
	return 0;
}

/* get_lba_status — any thread; blocks briefly. */
static int qcow_get_lba_status(struct tcmu_device *dev, uint64_t offset,
			       bool *mapped, uint64_t *extent_len)
{
	struct qcow_dev *q = qdev(dev);

	if (offset >= q->img_size) {
		*mapped = false;
		*extent_len = q->served > offset ? q->served - offset : 1;
		return 0;
	}
	return qimg_block_status(q->img, offset, mapped, extent_len);
}

static struct tcmu_handler qcow_handler = {
	.subtype = "qcow",
	.name = "qcow2 and raw image handler",
	.cfg_desc = "qcow/<absolute path of a qcow2 or raw image>",
	.concurrency = TCMU_CONCURRENCY_PARALLEL,
	.check_config = qcow_check_config,
	.open = qcow_open,
	.close = qcow_close,
	.read = qcow_read,
	.write = qcow_write,
	.flush = qcow_flush,
	.unmap = qcow_unmap,
	.write_same = qcow_write_same,
	.get_lba_status = qcow_get_lba_status,
	.unmap_zeroes = true,
};

TCMU_REGISTER_HANDLER(qcow_handler)
