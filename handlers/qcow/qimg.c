/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qimg.c — the engine's entry points: format probing, backing chains,
 * range checks and dispatch to the raw or qcow2 code.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qcow2.h"

void qimg_seterr(char *err, const char *fmt, ...)
{
	va_list ap;

	if (!err || err[0]) /* keep the first (innermost) reason */
		return;
	va_start(ap, fmt);
	vsnprintf(err, QIMG_ERR_LEN, fmt, ap);
	va_end(ap);
}

static void qimg_free(struct qimg *img)
{
	if (!img)
		return;
	qimg_free(img->backing);
	if (img->q2 && img->ops && img->ops->close)
		img->ops->close(img);
	if (img->fd >= 0)
		close(img->fd);
	free(img);
}

/* Names of other formats, so that we refuse them instead of serving their
 * metadata as raw data. */
static const char *foreign_format(const uint8_t *m, size_t n)
{
	if (n >= 4 && !memcmp(m, "KDMV", 4))
		return "vmdk";
	if (n >= 4 && !memcmp(m, "# Di", 4))
		return "vmdk descriptor";
	if (n >= 8 && !memcmp(m, "conectix", 8))
		return "vpc";
	if (n >= 8 && !memcmp(m, "vhdxfile", 8))
		return "vhdx";
	if (n >= 4 && !memcmp(m, "QEF\0", 4))
		return "qed";
	if (n >= 64 && !memcmp(m + 64, "\x7f\x10\xda\xbe", 4))
		return "vdi";
	if (n >= 6 && !memcmp(m, "LUKS\xba\xbe", 6))
		return "luks";
	return NULL;
}

int qimg_open_layer(const char *path, const char *fmt_hint,
		    unsigned int flags, int depth, struct qimg **out,
		    char *err)
{
	bool ro = flags & (QIMG_RDONLY | QIMG_PROBE);
	const char *what = depth ? "a backing file" : "the image";
	struct qimg *img;
	uint8_t magic[128];
	struct stat st;
	const char *foreign;
	int ret;

	*out = NULL;
	if (depth > QIMG_MAX_CHAIN) {
		qimg_seterr(err, "the backing chain is too deep or loops");
		return -ELOOP;
	}
	img = calloc(1, sizeof(*img));
	if (!img)
		return -ENOMEM;
	img->ro = ro;
	img->depth = depth;
	img->fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (img->fd < 0) {
		ret = -errno;
		/* One message for ENOENT, EACCES, ENOTDIR...: we do not tell
		 * a caller which files exist where he cannot look. */
		qimg_seterr(err, "cannot open %s: not found or not accessible",
			    what);
		goto fail;
	}
	if (fstat(img->fd, &st) < 0) {
		ret = -errno;
		qimg_seterr(err, "cannot open %s", what);
		goto fail;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		qimg_seterr(err, "%s is not a regular file or block device",
			    what);
		ret = -EINVAL;
		goto fail;
	}
	ret = qf_pread(img->fd, magic, sizeof(magic), 0);
	if (ret < 0) {
		qimg_seterr(err, "cannot read %s", what);
		goto fail;
	}
	if (fmt_hint && strcmp(fmt_hint, "raw") && strcmp(fmt_hint, "qcow2")) {
		qimg_seterr(err, "unsupported backing file format");
		ret = -ENOTSUP;
		goto fail;
	}
	if ((!fmt_hint || !strcmp(fmt_hint, "qcow2")) &&
	    q2_be32(magic) == Q2_MAGIC) {
		if (q2_be32(magic + 4) == 1) {
			qimg_seterr(err, "qcow version 1 images are not "
					 "supported");
			ret = -ENOTSUP;
			goto fail;
		}
		img->fmt = QIMG_FMT_QCOW2;
		ret = q2_open(img, path, flags, err);
		if (ret < 0)
			goto fail;
		*out = img;
		return 0;
	}
	if (fmt_hint && !strcmp(fmt_hint, "qcow2")) {
		qimg_seterr(err, "%s is not a qcow2 image", what);
		ret = -EINVAL;
		goto fail;
	}
	foreign = fmt_hint ? NULL : foreign_format(magic, sizeof(magic));
	if (foreign) {
		qimg_seterr(err, "%s is a %s image, not qcow2 or raw", what,
			    foreign);
		ret = -ENOTSUP;
		goto fail;
	}
	if (depth && !fmt_hint) {
		/* Serving a probed raw backing file could expose any file the
		 * daemon can read: demand an explicit format. */
		qimg_seterr(err, "a backing file is not qcow2 and the image "
				 "does not name its format (use -F raw)");
		ret = -EINVAL;
		goto fail;
	}
	img->fmt = QIMG_FMT_RAW;
	ret = qimg_raw_init(img, err);
	if (ret < 0)
		goto fail;
	if (!depth && img->size == 0) {
		qimg_seterr(err, "the image is an empty file");
		ret = -EINVAL;
		goto fail;
	}
	*out = img;
	return 0;
fail:
	qimg_free(img);
	return ret;
}

int qimg_open(const char *path, unsigned int flags, struct qimg **out,
	      char *err)
{
	if (err)
		err[0] = '\0';
	return qimg_open_layer(path, NULL, flags, 0, out, err);
}

int qimg_close(struct qimg *img)
{
	int ret = 0;

	if (!img)
		return 0;
	if (img->ops && img->ops->close)
		ret = img->ops->close(img);
	img->ops = NULL;
	img->q2 = NULL;
	qimg_free(img);
	return ret;
}

uint64_t qimg_size(const struct qimg *img)
{
	return img->size;
}

enum qimg_format qimg_format(const struct qimg *img)
{
	return img->fmt;
}

bool qimg_read_only(const struct qimg *img)
{
	return img->ro;
}

uint32_t qimg_cluster_size(const struct qimg *img)
{
	return img->cluster_size;
}

static int check_range(const struct qimg *img, uint64_t off, uint64_t len)
{
	if (off > img->size || len > img->size - off)
		return -ERANGE;
	return 0;
}

int qimg_backing_read(struct qimg *b, uint64_t off, size_t len, void *buf)
{
	struct iovec v = {buf, len};
	struct qiov qv = {&v, 1};
	size_t in = 0;
	int ret = 0;

	if (off < b->size)
		in = b->size - off < len ? (size_t)(b->size - off) : len;
	if (in)
		ret = b->ops->read(b, off, in, &qv, 0);
	if (ret == 0 && in < len)
		memset((char *)buf + in, 0, len - in);
	return ret;
}

int qimg_read(struct qimg *img, uint64_t off, size_t len,
	      const struct iovec *iov, int iovcnt)
{
	struct qiov qv = {iov, iovcnt};
	int ret = check_range(img, off, len);

	if (ret < 0)
		return ret;
	return img->ops->read(img, off, len, &qv, 0);
}

int qimg_write(struct qimg *img, uint64_t off, size_t len,
	       const struct iovec *iov, int iovcnt, bool fua)
{
	struct qiov qv = {iov, iovcnt};
	int ret = check_range(img, off, len);

	if (ret < 0)
		return ret;
	if (img->ro)
		return -EROFS;
	return img->ops->write(img, off, len, &qv, 0, fua);
}

int qimg_write_zeroes(struct qimg *img, uint64_t off, uint64_t len,
		      unsigned int flags)
{
	int ret = check_range(img, off, len);

	if (ret < 0)
		return ret;
	if (img->ro)
		return -EROFS;
	return img->ops->zero(img, off, len, flags & QIMG_ZERO_MAY_UNMAP);
}

int qimg_discard(struct qimg *img, uint64_t off, uint64_t len)
{
	return qimg_write_zeroes(img, off, len, QIMG_ZERO_MAY_UNMAP);
}

int qimg_flush(struct qimg *img)
{
	if (img->ro)
		return 0;
	return img->ops->flush(img);
}

int qimg_block_status(struct qimg *img, uint64_t off, bool *allocated,
		      uint64_t *len)
{
	int ret = check_range(img, off, 1);

	if (ret < 0)
		return ret;
	ret = img->ops->block_status(img, off, allocated, len);
	if (ret == 0 && *len > img->size - off)
		*len = img->size - off;
	return ret;
}

int qimg_check(struct qimg *img, bool repair, struct qimg_check_result *res)
{
	memset(res, 0, sizeof(*res));
	if (repair && img->ro)
		return -EROFS;
	if (!img->ops->check)
		return 0;
	return img->ops->check(img, repair, res);
}
