/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qcow2_io.c — guest reads, writes and zeroing on a qcow2 image.
 *
 * Reads and in-place writes (to clusters we own alone, whose touched
 * subclusters are allocated) hold a shared range lock and do their data
 * I/O without the metadata lock, so different clusters proceed in
 * parallel. Everything that changes a mapping holds an exclusive range
 * lock on its clusters and runs in phases: (1) under the metadata lock,
 * prepare L2 tables and allocate target clusters; (2) write data, copying
 * in what a partial write does not cover (old data, compressed data,
 * backing data or zeroes); (3) a barrier makes refcounts and data
 * durable; (4) under the lock, write the new L2 entries and queue the
 * refcount decrements of what they replaced.
 *
 * All entry points: any thread, block, return 0 or -errno.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2.h"

/* ---------------------------------------------------------------- */
/* Reads                                                            */
/* ---------------------------------------------------------------- */

enum ext_type { EXT_NONE, EXT_DATA, EXT_ZERO, EXT_BACKING };

/* A run of the request with one source, merged across clusters. */
struct extent {
	enum ext_type type;
	uint64_t host; /* EXT_DATA */
	uint64_t goff; /* guest offset */
	size_t qoff, len;
};

static int ext_flush(struct qimg *img, struct extent *x,
		     const struct qiov *qv)
{
	struct q2 *q = img->q2;
	int ret = 0;

	switch (x->type) {
	case EXT_NONE:
		break;
	case EXT_DATA:
		ret = qiov_pread(q->data_fd, qv, x->qoff, x->len, x->host);
		break;
	case EXT_ZERO:
		qiov_zero(qv, x->qoff, x->len);
		break;
	case EXT_BACKING:
		if (img->backing) {
			ret = img->backing->ops->read == NULL ? -EIO : 0;
			if (ret == 0) {
				uint64_t bsz = img->backing->size;
				size_t in = 0;

				if (x->goff < bsz)
					in = bsz - x->goff < x->len
						     ? (size_t)(bsz - x->goff)
						     : x->len;
				if (in)
					ret = img->backing->ops->read(
						img->backing, x->goff, in, qv,
						x->qoff);
				if (ret == 0 && in < x->len)
					qiov_zero(qv, x->qoff + in,
						  x->len - in);
			}
		} else {
			qiov_zero(qv, x->qoff, x->len);
		}
		break;
	}
	x->type = EXT_NONE;
	x->len = 0;
	return ret;
}

/* Appends a piece to the current extent, flushing it when it does not
 * continue it. */
static int ext_add(struct qimg *img, struct extent *x, const struct qiov *qv,
		   enum ext_type type, uint64_t host, uint64_t goff,
		   size_t qoff, size_t len)
{
	int ret;

	if (x->type == type && x->goff + x->len == goff &&
	    x->qoff + x->len == qoff &&
	    (type != EXT_DATA || x->host + x->len == host)) {
		x->len += len;
		return 0;
	}
	ret = ext_flush(img, x, qv);
	if (ret < 0)
		return ret;
	x->type = type;
	x->host = host;
	x->goff = goff;
	x->qoff = qoff;
	x->len = len;
	return 0;
}

int q2_read(struct qimg *img, uint64_t off, size_t len, const struct qiov *qv,
	    size_t qoff)
{
	struct q2 *q = img->q2;
	uint64_t cs = q->cluster_size, first, last;
	struct extent x = {.type = EXT_NONE};
	struct rl_entry rle;
	uint8_t *cbuf = NULL;
	int ret = 0;

	if (!len)
		return 0;
	first = off >> q->cluster_bits;
	last = (off + len - 1) >> q->cluster_bits;
	rl_lock(&q->rl, &rle, first, last, false);
	for (uint64_t gc = first; gc <= last && ret == 0; gc++) {
		uint64_t cstart = gc * cs;
		uint64_t a = (off > cstart ? off : cstart) - cstart;
		uint64_t b = (off + len < cstart + cs ? off + len : cstart + cs) -
			     cstart;
		size_t qo = qoff + (size_t)(cstart + a - off);
		struct q2_map m;

		pthread_mutex_lock(&q->lock);
		ret = q2_lookup_locked(q, gc, &m);
		pthread_mutex_unlock(&q->lock);
		if (ret < 0)
			break;
		if (m.compressed) {
			ret = ext_flush(img, &x, qv);
			if (ret < 0)
				break;
			if (!cbuf)
				cbuf = malloc(cs);
			if (!cbuf) {
				ret = -ENOMEM;
				break;
			}
			ret = q2_read_compressed(q, &m, cbuf);
			if (ret == 0)
				qiov_from_buf(qv, qo, cbuf + a, b - a);
			continue;
		}
		for (uint64_t pos = a; pos < b && ret == 0;) {
			uint32_t sc = (uint32_t)(pos / q->sub_size);
			uint64_t end = (uint64_t)(sc + 1) * q->sub_size;
			enum ext_type t;

			if (end > b)
				end = b;
			if (m.alloc & (1U << sc))
				t = EXT_DATA;
			else if (m.zero & (1U << sc))
				t = EXT_ZERO;
			else
				t = EXT_BACKING;
			ret = ext_add(img, &x, qv, t, m.host + pos, cstart + pos,
				      qoff + (size_t)(cstart + pos - off),
				      (size_t)(end - pos));
			pos = end;
		}
	}
	if (ret == 0)
		ret = ext_flush(img, &x, qv);
	rl_unlock(&q->rl, &rle);
	free(cbuf);
	return ret;
}

/* ---------------------------------------------------------------- */
/* Writes                                                           */
/* ---------------------------------------------------------------- */

enum plan_kind {
	PLAN_DIRECT, /* in place, touched subclusters already allocated */
	PLAN_FILL,   /* in place, some touched subclusters are new */
	PLAN_MOVE,   /* new host cluster (COW, compressed, unallocated) */
};

struct plan {
	enum plan_kind kind;
	uint64_t gc;
	uint64_t a, b; /* touched bytes within the cluster */
	uint32_t tmask;
	uint64_t target;
	struct q2_map old, new;
	bool committed;
};

static uint32_t all_sub(const struct q2 *q)
{
	return q->nsub == 32 ? UINT32_MAX : 1;
}

/* Subclusters touched by [a, b) of a cluster. */
static uint32_t touch_mask(const struct q2 *q, uint64_t a, uint64_t b)
{
	uint32_t s0 = (uint32_t)(a / q->sub_size);
	uint32_t s1 = (uint32_t)((b - 1) / q->sub_size);
	uint64_t m = ((2ULL << s1) - 1) & ~((1ULL << s0) - 1);

	return (uint32_t)m;
}

/* Decides how to write cluster @p->gc and allocates its target. Locked. */
static int plan_cluster_locked(struct q2 *q, struct plan *p)
{
	uint64_t cs = q->cluster_size;
	struct q2_map *o = &p->old;
	int ret;

	ret = q2_l2_prepare_locked(q, p->gc);
	if (ret < 0)
		return ret;
	ret = q2_lookup_locked(q, p->gc, o);
	if (ret < 0)
		return ret;
	p->tmask = touch_mask(q, p->a, p->b);
	if (q->data_file) {
		p->target = p->gc * cs;
		p->kind = (p->tmask & ~o->alloc) ? PLAN_FILL : PLAN_DIRECT;
	} else if (!o->compressed && o->has_host && o->copied) {
		p->target = o->host;
		p->kind = (p->tmask & ~o->alloc) ? PLAN_FILL : PLAN_DIRECT;
	} else {
		ret = q2_alloc_cluster_locked(q, &p->target);
		if (ret < 0)
			return ret;
		p->kind = PLAN_MOVE;
	}
	p->new.compressed = false;
	p->new.has_host = true;
	p->new.copied = true;
	p->new.host = p->target;
	if (o->compressed) {
		p->new.alloc = all_sub(q);
		p->new.zero = 0;
	} else {
		p->new.alloc = o->alloc | p->tmask;
		p->new.zero = o->zero & ~p->tmask;
	}
	return 0;
}

/* Fills subcluster @sc of @buf from what the cluster read before. */
static int fill_sub(struct qimg *img, const struct plan *p, uint32_t sc,
		    uint8_t *buf)
{
	struct q2 *q = img->q2;
	uint64_t ss = q->sub_size, goff = p->gc * q->cluster_size + sc * ss;

	if (p->old.alloc & (1U << sc))
		return qf_pread(q->data_fd, buf + sc * ss, ss,
				p->old.host + sc * ss);
	if ((p->old.zero & (1U << sc)) || !img->backing) {
		memset(buf + sc * ss, 0, ss);
		return 0;
	}
	return qimg_backing_read(img->backing, goff, ss, buf + sc * ss);
}

/* Phase 2 for one cluster: writes its data to the target. */
static int write_cluster(struct qimg *img, const struct plan *p,
			 const struct qiov *qv, size_t qo, uint8_t **bufp)
{
	struct q2 *q = img->q2;
	uint64_t ss = q->sub_size, cs = q->cluster_size;
	uint32_t need = 0, wmask;
	int ret = 0;

	for (uint32_t sc = 0; sc < q->nsub; sc++) {
		uint32_t bit = 1U << sc;
		uint64_t s0 = sc * ss, s1 = s0 + ss;

		if (p->tmask & bit) {
			if (p->kind != PLAN_DIRECT && (p->a > s0 || p->b < s1))
				need |= bit;
		} else if (p->kind == PLAN_MOVE &&
			   ((p->old.alloc & bit) || p->old.compressed)) {
			need |= bit;
		}
	}
	if (p->old.compressed && p->kind == PLAN_MOVE)
		need = all_sub(q) & ~0U;
	if (!need) {
		ret = qiov_pwrite(q->data_fd, qv, qo, (size_t)(p->b - p->a),
				  p->target + p->a);
		if (ret == 0 && !q->data_file)
			q2_grow_file_size(q, p->target + p->b);
		return ret;
	}
	if (!*bufp) {
		*bufp = malloc(cs);
		if (!*bufp)
			return -ENOMEM;
	}
	if (p->old.compressed) {
		ret = q2_read_compressed(q, &p->old, *bufp);
	} else {
		for (uint32_t sc = 0; sc < q->nsub && ret == 0; sc++)
			if (need & (1U << sc))
				ret = fill_sub(img, p, sc, *bufp);
	}
	if (ret < 0)
		return ret;
	qiov_to_buf(qv, qo, *bufp + p->a, (size_t)(p->b - p->a));
	wmask = need | p->tmask;
	for (uint32_t sc = 0; sc < q->nsub && ret == 0;) {
		uint32_t e = sc;

		if (!(wmask & (1U << sc))) {
			sc++;
			continue;
		}
		while (e < q->nsub && (wmask & (1U << e)))
			e++;
		ret = qf_pwrite(q->data_fd, *bufp + sc * ss, (e - sc) * ss,
				p->target + sc * ss);
		if (ret == 0 && !q->data_file)
			q2_grow_file_size(q, p->target + e * ss);
		sc = e;
	}
	return ret;
}

/* Frees what an entry referenced, after the entry is durable. Locked. */
static int release_old_locked(struct q2 *q, const struct q2_map *o)
{
	if (q->data_file || !o->has_host)
		return 0;
	if (o->compressed)
		return q2_free_later_locked(q, o->host, o->csize);
	return q2_free_later_locked(q, o->host, q->cluster_size);
}

/*
 * Writes [off, off+len) of clusters first..last, which the caller holds
 * exclusively, through the four phases.
 */
static int write_slow(struct qimg *img, uint64_t first, uint64_t last,
		      uint64_t off, size_t len, const struct qiov *qv,
		      size_t qoff)
{
	struct q2 *q = img->q2;
	uint64_t cs = q->cluster_size, n = last - first + 1, i;
	struct plan one, *plans = n == 1 ? &one : calloc(n, sizeof(*plans));
	bool need_barrier = false;
	uint8_t *buf = NULL;
	int ret = 0;

	if (!plans)
		return -ENOMEM;
	memset(plans, 0, n * sizeof(*plans));
	pthread_mutex_lock(&q->lock);
	for (i = 0; i < n; i++) {
		struct plan *p = &plans[i];
		uint64_t cstart = (first + i) * cs;

		p->gc = first + i;
		p->a = (off > cstart ? off : cstart) - cstart;
		p->b = (off + len < cstart + cs ? off + len : cstart + cs) -
		       cstart;
		ret = plan_cluster_locked(q, p);
		if (ret < 0)
			break;
	}
	pthread_mutex_unlock(&q->lock);
	n = i; /* plans that exist */

	for (i = 0; i < n && ret == 0; i++) {
		struct plan *p = &plans[i];
		size_t qo = qoff + (size_t)(p->gc * cs + p->a - off);

		ret = write_cluster(img, p, qv, qo, &buf);
		if (p->kind != PLAN_DIRECT)
			need_barrier = true;
	}
	if (ret == 0 && need_barrier &&
	    !(q->lazy && (q->incompat & Q2_INCOMPAT_DIRTY)))
		ret = q2_barrier(q);

	pthread_mutex_lock(&q->lock);
	for (i = 0; i < n && ret == 0; i++) {
		struct plan *p = &plans[i];

		if (p->kind == PLAN_DIRECT)
			continue;
		ret = q2_l2_update_locked(q, p->gc, &p->new);
		if (ret < 0)
			break;
		p->committed = true;
		if (p->kind == PLAN_MOVE)
			ret = release_old_locked(q, &p->old);
	}
	/* Undo allocations nothing points to. */
	for (i = 0; i < n; i++)
		if (plans[i].kind == PLAN_MOVE && !plans[i].committed &&
		    plans[i].target)
			q2_free_now_locked(q, plans[i].target, cs);
	pthread_mutex_unlock(&q->lock);
	free(buf);
	if (plans != &one)
		free(plans);
	return ret;
}

/* Common checks before any change. */
static int prepare_change(struct qimg *img)
{
	struct q2 *q = img->q2;
	int ret = 0;

	if (img->ro)
		return -EROFS;
	pthread_mutex_lock(&q->lock);
	if (q->corrupt)
		ret = -EIO;
	else
		ret = q2_prepare_write_locked(q);
	pthread_mutex_unlock(&q->lock);
	return ret;
}

/*
 * Writes the in-place run @x. With *@dsync it uses pwritev2(RWF_DSYNC) and
 * the run is durable on return; otherwise (or when the kernel refuses the
 * flag, which turns *@dsync and the image's fast FUA off) it writes plainly
 * and sets *@owed: a barrier is owed if the write is FUA. Any thread,
 * without q->lock; blocks. Returns 0 or -errno.
 */
static int write_run(struct q2 *q, const struct qiov *qv,
		     const struct extent *x, bool *dsync, bool *owed)
{
	int ret;

	if (*dsync) {
		ret = qiov_pwrite_dsync(q->data_fd, qv, x->qoff, x->len,
					x->host);
		if (ret != -EOPNOTSUPP && ret != -EINVAL && ret != -ENOSYS)
			return ret;
		__atomic_store_n(&q->no_dsync, true, __ATOMIC_RELAXED);
		*dsync = false;
	}
	*owed = true;
	return qiov_pwrite(q->data_fd, qv, x->qoff, x->len, x->host);
}

/*
 * FUA without a barrier: a FUA write must be durable together with all the
 * metadata that finds it after a power loss. A write that changes no
 * mapping (in place, the cluster ours alone, its subclusters allocated)
 * depends only on the mapping it looked up; the shared range lock keeps
 * that mapping from changing. If, under q->lock at the lookup, meta_seq
 * (bumped by every L1/L2/refcount/header write) equals synced_seq (the
 * meta_seq read before the last successful barrier started), every
 * metadata write so far, that mapping included, is durable, and
 * pwritev2(RWF_DSYNC) of the data alone completes the FUA write. Any
 * lookup that sees metadata pending, any cluster that needs the slow path,
 * and a kernel without RWF_DSYNC fall back to write + q2_barrier().
 */
int q2_write(struct qimg *img, uint64_t off, size_t len, const struct qiov *qv,
	     size_t qoff, bool fua)
{
	struct q2 *q = img->q2;
	uint64_t cs = q->cluster_size, first, last, gc;
	struct extent x = {.type = EXT_NONE};
	struct rl_entry rle;
	bool dsync = fua && !__atomic_load_n(&q->no_dsync, __ATOMIC_RELAXED);
	bool owed = false; /* written without RWF_DSYNC */
	int ret;

	if (!len)
		return fua ? q2_barrier(q) : 0;
	ret = prepare_change(img);
	if (ret < 0)
		return ret;
	first = off >> q->cluster_bits;
	last = (off + len - 1) >> q->cluster_bits;

	/* Fast path: in place, shared lock, no metadata change. */
	rl_lock(&q->rl, &rle, first, last, false);
	for (gc = first; gc <= last; gc++) {
		uint64_t cstart = gc * cs;
		uint64_t a = (off > cstart ? off : cstart) - cstart;
		uint64_t b = (off + len < cstart + cs ? off + len : cstart + cs) -
			     cstart;
		struct q2_map m;
		bool direct;

		pthread_mutex_lock(&q->lock);
		ret = q2_lookup_locked(q, gc, &m);
		direct = ret == 0 && !m.compressed && m.has_host &&
			 (m.copied || q->data_file) &&
			 !(touch_mask(q, a, b) & ~m.alloc);
		if (direct && q->data_file)
			m.host = gc * cs;
		if (!q2_fua_clean_locked(q))
			dsync = false; /* stays off for the rest */
		pthread_mutex_unlock(&q->lock);
		if (ret < 0 || !direct)
			break;
		/* Reuse the read extent merger for writes: EXT_DATA runs. */
		if (x.type == EXT_DATA && x.goff + x.len == cstart + a &&
		    x.host + x.len == m.host + a) {
			x.len += (size_t)(b - a);
			continue;
		}
		if (x.type == EXT_DATA) {
			ret = write_run(q, qv, &x, &dsync, &owed);
			if (ret < 0)
				break;
		}
		x.type = EXT_DATA;
		x.host = m.host + a;
		x.goff = cstart + a;
		x.qoff = qoff + (size_t)(cstart + a - off);
		x.len = (size_t)(b - a);
	}
	if (ret == 0 && x.type == EXT_DATA)
		ret = write_run(q, qv, &x, &dsync, &owed);
	rl_unlock(&q->rl, &rle);
	if (ret < 0)
		return ret;

	if (gc <= last) { /* slow path for the rest */
		uint64_t soff = gc * cs > off ? gc * cs : off;

		rl_lock(&q->rl, &rle, gc, last, true);
		ret = write_slow(img, gc, last, soff, (size_t)(off + len - soff),
				 qv, qoff + (size_t)(soff - off));
		rl_unlock(&q->rl, &rle);
		owed = true;
	}
	if (ret < 0 || !fua)
		return ret;
	if (owed)
		return q2_barrier(q);
	__atomic_add_fetch(&q->fua_fast, 1, __ATOMIC_RELAXED);
	return 0;
}

/* ---------------------------------------------------------------- */
/* Zeroing and discard                                              */
/* ---------------------------------------------------------------- */

/* Writes explicit zeroes over [off, off+len) inside one cluster (held
 * exclusively). */
static int zero_by_write(struct qimg *img, uint64_t gc, uint64_t off,
			 uint64_t len)
{
	void *z = calloc(1, (size_t)len);
	struct iovec v = {z, (size_t)len};
	struct qiov qv = {&v, 1};
	int ret;

	if (!z)
		return -ENOMEM;
	ret = write_slow(img, gc, gc, off, (size_t)len, &qv, 0);
	free(z);
	return ret;
}

/* Zeroes [a, b) of cluster @gc (held exclusively): whole subclusters
 * through metadata where the format can express it, the rest by writing
 * zeroes. */
static int zero_cluster(struct qimg *img, uint64_t gc, uint64_t a, uint64_t b,
			bool may_unmap)
{
	struct q2 *q = img->q2;
	uint64_t cs = q->cluster_size, ss = q->sub_size;
	bool zflags = q->version >= 3; /* zero flag or zero bitmap */
	uint32_t fmask = 0, tmask = touch_mask(q, a, b), zeroish = 0;
	struct q2_map o, nw;
	bool owned, drop_host = false;
	int ret;

	/* Subclusters fully inside [a, b). */
	for (uint32_t sc = 0; sc < q->nsub; sc++)
		if (a <= sc * ss && (sc + 1) * ss <= b)
			fmask |= 1U << sc;

	pthread_mutex_lock(&q->lock);
	ret = q2_lookup_locked(q, gc, &o);
	if (ret < 0)
		goto unlock;
	/* Already reads as zeroes? */
	zeroish = o.compressed ? 0 : o.zero;
	if (!img->backing && !o.compressed)
		zeroish |= all_sub(q) & ~o.alloc;
	if (!(tmask & ~zeroish))
		goto unlock;
	owned = !o.compressed && o.has_host && (o.copied || q->data_file);
	if (!zflags && (img->backing || fmask != all_sub(q)))
		fmask = 0; /* v2: only whole clusters, and only without backing */
	if (o.compressed && fmask != all_sub(q))
		fmask = 0; /* compressed clusters have no subclusters */
	if (!fmask)
		goto unlock;
	nw = o;
	nw.compressed = false;
	if (fmask == all_sub(q)) {
		/* Keep an owned host as preallocation unless we may unmap. */
		drop_host = o.has_host && !q->data_file &&
			    (may_unmap || !owned || !zflags);
		if (drop_host) {
			nw.has_host = false;
			nw.host = 0;
			nw.copied = false;
		}
		nw.alloc = 0;
		nw.zero = zflags ? all_sub(q) : 0;
	} else {
		nw.alloc &= ~fmask;
		nw.zero |= fmask;
	}
	ret = q2_l2_prepare_locked(q, gc);
	if (ret == 0)
		ret = q2_l2_update_locked(q, gc, &nw);
	if (ret == 0 && drop_host)
		ret = release_old_locked(q, &o);
unlock:
	pthread_mutex_unlock(&q->lock);
	if (ret < 0 || !(tmask & ~zeroish))
		return ret;
	/* The bytes outside the zeroed subclusters. */
	if (!fmask)
		return zero_by_write(img, gc, gc * cs + a, b - a);
	{
		uint64_t s0 = (uint64_t)__builtin_ctz(fmask) * ss;
		uint64_t s1 = (uint64_t)(32 - __builtin_clz(fmask)) * ss;

		if (a < s0)
			ret = zero_by_write(img, gc, gc * cs + a, s0 - a);
		if (ret == 0 && s1 < b)
			ret = zero_by_write(img, gc, gc * cs + s1, b - s1);
	}
	return ret;
}

int q2_zero(struct qimg *img, uint64_t off, uint64_t len, bool may_unmap)
{
	struct q2 *q = img->q2;
	uint64_t cs = q->cluster_size, first, last;
	struct rl_entry rle;
	int ret;

	if (!len)
		return 0;
	ret = prepare_change(img);
	if (ret < 0)
		return ret;
	first = off >> q->cluster_bits;
	last = (off + len - 1) >> q->cluster_bits;
	rl_lock(&q->rl, &rle, first, last, true);
	for (uint64_t gc = first; gc <= last && ret == 0; gc++) {
		uint64_t cstart = gc * cs;
		uint64_t a = (off > cstart ? off : cstart) - cstart;
		uint64_t b = (off + len < cstart + cs ? off + len : cstart + cs) -
			     cstart;

		ret = zero_cluster(img, gc, a, b, may_unmap);
	}
	rl_unlock(&q->rl, &rle);
	return ret;
}

int q2_flush(struct qimg *img)
{
	return q2_barrier(img->q2);
}

int q2_block_status(struct qimg *img, uint64_t off, bool *alloc,
		    uint64_t *len)
{
	struct q2 *q = img->q2;
	uint64_t gc = off >> q->cluster_bits, cs = q->cluster_size;
	uint64_t in = off - gc * cs, ss = q->sub_size;
	uint32_t sc = (uint32_t)(in / ss), e;
	struct q2_map m;
	bool a;
	int ret;

	pthread_mutex_lock(&q->lock);
	ret = q2_lookup_locked(q, gc, &m);
	pthread_mutex_unlock(&q->lock);
	if (ret < 0)
		return ret;
	if (m.compressed) {
		*alloc = true;
		*len = cs - in;
		return 0;
	}
	a = m.alloc & (1U << sc);
	for (e = sc + 1; e < q->nsub && !!(m.alloc & (1U << e)) == a; e++)
		;
	*alloc = a;
	*len = e * ss - in;
	return 0;
}
