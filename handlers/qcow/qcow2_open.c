/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qcow2_open.c — opening and closing a qcow2 layer: header parsing, the
 * external data file, cache sizing, the backing file, and refcount repair
 * of images left dirty (lazy refcounts) by a crash.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qcow2.h"

/* Cache budgets: enough tables to map the whole disk, within limits. */
#define L2_CACHE_MAX_BYTES (32U << 20)
#define RB_CACHE_MAX_BYTES (4U << 20)

static int q2_close(struct qimg *img);

static const struct qimg_ops q2_ops = {
	.read = q2_read,
	.write = q2_write,
	.zero = q2_zero,
	.flush = q2_flush,
	.block_status = q2_block_status,
	.check = q2_check,
	.close = q2_close,
};

/* Resolves @name relative to the directory of @path; malloc'ed. */
static char *resolve_rel(const char *path, const char *name)
{
	char *dup, *dir, *out = NULL;

	if (name[0] == '/')
		return strdup(name);
	dup = strdup(path);
	if (!dup)
		return NULL;
	dir = dirname(dup);
	if (asprintf(&out, "%s/%s", dir, name) < 0)
		out = NULL;
	free(dup);
	return out;
}

static uint32_t clamp_u32(uint64_t v, uint32_t lo, uint32_t hi)
{
	if (v < lo)
		return lo;
	if (v > hi)
		return hi;
	return (uint32_t)v;
}

static void q2_free(struct q2 *q)
{
	if (!q)
		return;
	if (q->data_fd >= 0 && q->data_fd != q->fd)
		close(q->data_fd);
	q2_cache_free(q->l2c);
	q2_cache_free(q->rbc);
	free(q->l1);
	free(q->rt);
	free(q->snaps);
	free(q->fixed);
	free(q->pf);
	free(q->data_path);
	rl_destroy(&q->rl);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

/* Opens the qcow2 layer of @img (img->fd is open). Any thread; blocks.
 * Returns 0 or -errno with a reason in @err. */
int q2_open(struct qimg *img, const char *path, unsigned int flags,
	    char *err)
{
	struct q2 *q = calloc(1, sizeof(*q));
	char *backing = NULL, *bfmt = NULL, *rel;
	uint64_t cs, per_l2, per_rb;
	int ret;

	if (!q)
		return -ENOMEM;
	q->img = img;
	q->fd = q->data_fd = img->fd;
	/* What an earlier process wrote may still sit in the page cache: the
	 * first FUA write must sync (meta_seq != synced_seq). */
	q->meta_seq = 1;
	pthread_mutex_init(&q->lock, NULL);
	rl_init(&q->rl);
	img->q2 = q;
	ret = q2_parse_header(q, path, flags, &backing, &bfmt, err);
	if (ret < 0)
		goto fail;
	cs = q->cluster_size;
	q->corrupt = q->incompat & Q2_INCOMPAT_CORRUPT;

	if (q->data_file) {
		rel = resolve_rel(path, q->data_path);
		if (!rel) {
			ret = -ENOMEM;
			goto fail;
		}
		q->data_fd = open(rel, (img->ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
		free(rel);
		if (q->data_fd < 0) {
			ret = -errno;
			qimg_seterr(err, "cannot open the image's external "
					 "data file: not found or not "
					 "accessible");
			goto fail;
		}
	}

	per_l2 = cs * q->l2_entries;
	q->l2c = q2_cache_new((uint32_t)cs,
			      clamp_u32((img->size + per_l2 - 1) / per_l2, 16,
					L2_CACHE_MAX_BYTES / (uint32_t)cs));
	per_rb = cs * q->rb_entries;
	q->rbc = q2_cache_new((uint32_t)cs,
			      clamp_u32(q2_file_size(q) / per_rb + 4, 8,
					RB_CACHE_MAX_BYTES / (uint32_t)cs));
	if (!q->l2c || !q->rbc) {
		ret = -ENOMEM;
		goto fail;
	}

	if (backing) {
		rel = resolve_rel(path, backing);
		if (!rel) {
			ret = -ENOMEM;
			goto fail;
		}
		ret = qimg_open_layer(rel, bfmt, QIMG_RDONLY | (flags & QIMG_PROBE),
				      img->depth + 1, &img->backing, err);
		free(rel);
		if (ret < 0)
			goto fail;
	}

	if ((q->incompat & Q2_INCOMPAT_DIRTY) && !img->ro &&
	    !(flags & QIMG_PROBE)) {
		struct qimg_check_result res;

		ret = q2_check(img, true, &res);
		if (ret == 0 && res.corruptions > res.repaired)
			ret = -EUCLEAN;
		if (ret == 0) {
			pthread_mutex_lock(&q->lock);
			ret = q2_set_incompat_locked(q, 0, Q2_INCOMPAT_DIRTY);
			pthread_mutex_unlock(&q->lock);
		}
		if (ret < 0) {
			qimg_seterr(err, "the image was not closed cleanly "
					 "and its refcounts could not be "
					 "repaired");
			goto fail;
		}
	}
	img->ops = &q2_ops;
	free(backing);
	free(bfmt);
	return 0;
fail:
	free(backing);
	free(bfmt);
	q2_free(q);
	img->q2 = NULL;
	return ret;
}

/* Flushes, applies pending frees durably, clears the dirty bit we set,
 * frees the state. Main thread, nothing else running. */
static int q2_close(struct qimg *img)
{
	struct q2 *q = img->q2;
	int ret = 0;

	if (!img->ro && !q->corrupt) {
		ret = q2_barrier(q);
		if (ret == 0) /* the frees the first barrier applied */
			ret = q2_barrier(q);
		pthread_mutex_lock(&q->lock);
		if (ret == 0 && q->marked_dirty)
			ret = q2_set_incompat_locked(q, 0, Q2_INCOMPAT_DIRTY);
		pthread_mutex_unlock(&q->lock);
	} else if (!img->ro) {
		ret = qf_sync(q->fd);
	}
	q2_free(q);
	img->q2 = NULL;
	return ret;
}
