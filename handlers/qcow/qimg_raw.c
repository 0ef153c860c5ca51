/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qimg_raw.c — raw images: the file is the disk. Discard punches holes
 * (reads return zeroes afterwards); write-zeroes uses fallocate where the
 * file system can, and writes zeroes where it cannot. Any thread; blocks;
 * returns 0 or -errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "qimg_int.h"

static int raw_read(struct qimg *img, uint64_t off, size_t len,
		    const struct qiov *qv, size_t qoff)
{
	return qiov_pread(img->fd, qv, qoff, len, off);
}

/* Any thread; blocks. With @fua, writes then fdatasyncs. */
static int raw_write(struct qimg *img, uint64_t off, size_t len,
		     const struct qiov *qv, size_t qoff, bool fua)
{
	int ret = qiov_pwrite(img->fd, qv, qoff, len, off);

	if (ret == 0 && fua)
		ret = qf_sync(img->fd);
	return ret;
}

static int raw_zero(struct qimg *img, uint64_t off, uint64_t len,
		    bool may_unmap)
{
	int mode = may_unmap ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
			     : FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
	size_t chunk = 1 << 20;
	void *z;
	int ret;

	if (qf_fallocate(img->fd, mode, off, len) == 0)
		return 0;
	z = calloc(1, chunk);
	if (!z)
		return -ENOMEM;
	ret = 0;
	while (len && ret == 0) {
		size_t n = len < chunk ? (size_t)len : chunk;

		ret = qf_pwrite(img->fd, z, n, off);
		off += n;
		len -= n;
	}
	free(z);
	return ret;
}

static int raw_flush(struct qimg *img)
{
	return qf_sync(img->fd);
}

static int raw_block_status(struct qimg *img, uint64_t off, bool *alloc,
			    uint64_t *len)
{
	*alloc = true;
	*len = img->size - off;
	return 0;
}

static int raw_close(struct qimg *img)
{
	return img->ro ? 0 : qf_sync(img->fd);
}

static const struct qimg_ops raw_ops = {
	.read = raw_read,
	.write = raw_write,
	.zero = raw_zero,
	.flush = raw_flush,
	.block_status = raw_block_status,
	.close = raw_close,
};

/* Sets up @img (fd open) as a raw image. Returns 0 or -errno. */
int qimg_raw_init(struct qimg *img, char *err)
{
	struct stat st;

	if (fstat(img->fd, &st) < 0)
		return -errno;
	if (S_ISBLK(st.st_mode)) {
		uint64_t sz;

		if (ioctl(img->fd, BLKGETSIZE64, &sz) < 0) {
			qimg_seterr(err, "cannot get the block device size");
			return -errno;
		}
		img->size = sz;
	} else {
		img->size = (uint64_t)st.st_size;
	}
	img->cluster_size = 512;
	img->ops = &raw_ops;
	return 0;
}
