/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qcow2_refcount.c — reference counts and host cluster allocation:
 * refcount entries of any width (1..64 bits), new refcount blocks (placed
 * in the first cluster of the range they describe, so they count
 * themselves), refcount table growth, deferred frees and write barriers.
 * All *_locked functions expect q2->lock held and may block on file I/O;
 * they return 0 or -errno (-EUCLEAN when the metadata is inconsistent).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2.h"

uint64_t q2_rb_get(const struct q2 *q, const void *rb, uint64_t idx)
{
	const uint8_t *b = rb;
	uint32_t order = q->refcount_order;

	switch (order) {
	case 0:
	case 1:
	case 2: {
		uint32_t bits = 1U << order, per = 8U >> order;
		uint32_t shift = (uint32_t)(idx % per) * bits;

		return (b[idx / per] >> shift) & ((1U << bits) - 1);
	}
	case 3:
		return b[idx];
	case 4:
		return q2_be16(b + 2 * idx);
	case 5:
		return q2_be32(b + 4 * idx);
	default:
		return q2_be64(b + 8 * idx);
	}
}

void q2_rb_set(const struct q2 *q, void *rb, uint64_t idx, uint64_t v)
{
	uint8_t *b = rb;
	uint32_t order = q->refcount_order;

	switch (order) {
	case 0:
	case 1:
	case 2: {
		uint32_t bits = 1U << order, per = 8U >> order;
		uint32_t shift = (uint32_t)(idx % per) * bits;
		uint8_t mask = (uint8_t)(((1U << bits) - 1) << shift);

		b[idx / per] = (uint8_t)((b[idx / per] & ~mask) |
					 ((v << shift) & mask));
		break;
	}
	case 3:
		b[idx] = (uint8_t)v;
		break;
	case 4:
		b[2 * idx] = (uint8_t)(v >> 8);
		b[2 * idx + 1] = (uint8_t)v;
		break;
	case 5:
		q2_put32(b + 4 * idx, (uint32_t)v);
		break;
	default:
		q2_put64(b + 8 * idx, v);
		break;
	}
}

static uint64_t rc_max(const struct q2 *q)
{
	return q->refcount_order == 6 ? UINT64_MAX
				      : (1ULL << (1U << q->refcount_order)) - 1;
}

int q2_meta_write_locked(struct q2 *q, uint64_t off, const void *buf,
			 size_t len)
{
	int ret = qf_pwrite(q->fd, buf, len, off);

	if (ret < 0)
		return ret;
	q->meta_seq++;
	q2_grow_file_size(q, off + len);
	return 0;
}

int q2_refcount_get_locked(struct q2 *q, uint64_t cluster, uint64_t *rc)
{
	uint64_t t = cluster / q->rb_entries;
	void *rb;
	int err = 0;

	*rc = 0;
	if (t >= q->rt_entries || !q->rt[t])
		return 0;
	rb = q2_cache_get(q->rbc, q, q->rt[t], &err);
	if (!rb)
		return err;
	*rc = q2_rb_get(q, rb, cluster % q->rb_entries);
	return 0;
}

/* Writes the refcount of @cluster, whose refcount block must exist. */
static int rc_store_locked(struct q2 *q, uint64_t cluster, uint64_t val)
{
	uint64_t t = cluster / q->rb_entries, idx = cluster % q->rb_entries;
	uint32_t order = q->refcount_order;
	uint64_t boff, blen;
	uint8_t *rb;
	int err = 0;

	if (t >= q->rt_entries || !q->rt[t])
		return -EUCLEAN;
	rb = q2_cache_get(q->rbc, q, q->rt[t], &err);
	if (!rb)
		return err;
	q2_rb_set(q, rb, idx, val);
	boff = (idx << order) >> 3;
	blen = order < 3 ? 1 : 1ULL << (order - 3);
	return q2_meta_write_locked(q, q->rt[t] + boff, rb + boff, blen);
}

/* Grows the refcount table so that entry @need exists. New refcount
 * blocks and the new table go to the first clusters not covered yet;
 * the header switches to the new table only when it is durable. */
static int grow_rt_locked(struct q2 *q, uint64_t need)
{
	uint64_t cs = q->cluster_size, per_tc = cs / 8;
	uint64_t old_n = q->rt_entries, p = old_n * q->rb_entries;
	uint64_t k = 1, new_n, tc, old_off = q->rt_off, old_cl = q->rt_clusters;
	uint8_t *blocks = NULL, *table = NULL, hdr[12];
	uint64_t *nrt;
	int ret;

	for (;;) {
		uint64_t need_k;

		new_n = old_n * 2;
		if (new_n < old_n + k)
			new_n = old_n + k;
		if (new_n < need + 1)
			new_n = need + 1;
		new_n = (new_n + per_tc - 1) / per_tc * per_tc;
		tc = new_n / per_tc;
		need_k = (k + tc + q->rb_entries - 1) / q->rb_entries;
		if (need_k <= k)
			break;
		k = need_k;
	}
	if (tc * cs > Q2_MAX_RT_BYTES || p > (1ULL << 56) / cs)
		return -ENOSPC;
	if (q2_overlaps_fixed(q, p * cs, (k + tc) * cs)) {
		q2_mark_corrupt_locked(q, "metadata without refcounts");
		return -EUCLEAN;
	}
	blocks = calloc(k, cs);
	table = calloc(tc, cs);
	nrt = calloc(new_n, sizeof(uint64_t));
	if (!blocks || !table || !nrt) {
		ret = -ENOMEM;
		goto out;
	}
	for (uint64_t c = 0; c < k + tc; c++)
		q2_rb_set(q, blocks + (c / q->rb_entries) * cs,
			  c % q->rb_entries, 1);
	memcpy(nrt, q->rt, old_n * sizeof(uint64_t));
	for (uint64_t j = 0; j < k; j++)
		nrt[old_n + j] = (p + j) * cs;
	for (uint64_t i = 0; i < new_n; i++)
		q2_put64(table + 8 * i, nrt[i]);
	for (uint64_t j = 0; j < k; j++) {
		ret = q2_meta_write_locked(q, (p + j) * cs, blocks + j * cs, cs);
		if (ret < 0)
			goto out;
	}
	ret = q2_meta_write_locked(q, (p + k) * cs, table, tc * cs);
	if (ret < 0)
		goto out;
	ret = q2_barrier_locked(q);
	if (ret < 0)
		goto out;
	q2_put64(hdr, (p + k) * cs);
	q2_put32(hdr + 8, (uint32_t)tc);
	ret = q2_meta_write_locked(q, Q2_HDR_RT_OFFSET, hdr, sizeof(hdr));
	if (ret == 0)
		ret = qf_sync(q->fd);
	if (ret < 0)
		goto out;
	free(q->rt);
	q->rt = nrt;
	nrt = NULL;
	q->rt_entries = new_n;
	q->rt_off = (p + k) * cs;
	q->rt_clusters = (uint32_t)tc;
	ret = q2_build_fixed(q);
	if (ret == 0)
		ret = q2_free_now_locked(q, old_off, old_cl * cs);
out:
	free(blocks);
	free(table);
	free(nrt);
	return ret;
}

/* Creates refcount block @t in the first cluster of the range it covers
 * (all of which is free, having no refcount block). */
static int new_refblock_locked(struct q2 *q, uint64_t t)
{
	uint64_t cs = q->cluster_size, off = t * q->rb_entries * cs;
	uint8_t ent[8];
	void *rb;
	int ret;

	if (t > ((1ULL << 56) / cs) / q->rb_entries)
		return -ENOSPC;
	if (q2_overlaps_fixed(q, off, cs)) {
		q2_mark_corrupt_locked(q, "metadata without refcounts");
		return -EUCLEAN;
	}
	rb = q2_cache_get_new(q->rbc, off);
	if (!rb)
		return -ENOMEM;
	q2_rb_set(q, rb, 0, 1);
	ret = q2_meta_write_locked(q, off, rb, cs);
	if (ret == 0)
		ret = q2_barrier_locked(q);
	if (ret < 0) {
		q2_cache_drop(q->rbc, off);
		return ret;
	}
	q2_put64(ent, off);
	ret = q2_meta_write_locked(q, q->rt_off + 8 * t, ent, 8);
	if (ret < 0) {
		q2_cache_drop(q->rbc, off);
		return ret;
	}
	q->rt[t] = off;
	return 0;
}

/* Makes sure the refcount block covering @cluster exists. */
static int ensure_refblock_locked(struct q2 *q, uint64_t cluster)
{
	uint64_t t = cluster / q->rb_entries;
	int ret;

	if (t >= q->rt_entries) {
		ret = grow_rt_locked(q, t);
		if (ret < 0)
			return ret;
	}
	if (t < q->rt_entries && !q->rt[t])
		return new_refblock_locked(q, t);
	return 0;
}

int q2_refcount_set_locked(struct q2 *q, uint64_t cluster, uint64_t val)
{
	int ret = ensure_refblock_locked(q, cluster);

	if (ret < 0)
		return ret;
	if (val > rc_max(q))
		return -ERANGE;
	return rc_store_locked(q, cluster, val);
}

int q2_alloc_cluster_locked(struct q2 *q, uint64_t *off)
{
	uint64_t cs = q->cluster_size, limit = (1ULL << 56) / cs;
	uint64_t c = q->free_hint;
	int ret;

	if (q->corrupt)
		return -EUCLEAN;
	for (;; c++) {
		uint64_t t = c / q->rb_entries, rc;

		if (c >= limit)
			return -ENOSPC;
		if (t >= q->rt_entries || !q->rt[t]) {
			ret = ensure_refblock_locked(q, c);
			if (ret < 0)
				return ret;
		}
		ret = q2_refcount_get_locked(q, c, &rc);
		if (ret < 0)
			return ret;
		if (rc)
			continue;
		if (q2_overlaps_fixed(q, c * cs, cs)) {
			q2_mark_corrupt_locked(q, "metadata without refcount");
			return -EUCLEAN;
		}
		break;
	}
	ret = rc_store_locked(q, c, 1);
	if (ret < 0)
		return ret;
	q->free_hint = c + 1;
	*off = c * cs;
	return 0;
}

int q2_free_now_locked(struct q2 *q, uint64_t off, uint64_t len)
{
	uint64_t cs = q->cluster_size;
	uint64_t first = off / cs, last = (off + len - 1) / cs;

	if (!len)
		return 0;
	for (uint64_t c = first; c <= last; c++) {
		uint64_t rc;
		int ret = q2_refcount_get_locked(q, c, &rc);

		if (ret < 0)
			return ret;
		if (rc == 0) {
			q2_mark_corrupt_locked(q, "refcount underflow");
			return -EUCLEAN;
		}
		ret = rc_store_locked(q, c, rc - 1);
		if (ret < 0)
			return ret;
		if (rc == 1) {
			q2_cache_drop(q->l2c, c * cs);
			if (c < q->free_hint)
				q->free_hint = c;
		}
	}
	return 0;
}

int q2_free_later_locked(struct q2 *q, uint64_t off, uint64_t len)
{
	uint64_t cs = q->cluster_size;
	struct q2_pfree *p;

	if (!len)
		return 0;
	/* Lazy refcounts too: the wait is not for the refcounts (a dirty
	 * image gets them rebuilt) but for reuse. A cluster handed out again
	 * before the L2 change that dropped it is durable could, after a
	 * power loss, be referenced by both its old and its new user. */
	if (q->npf == q->pfcap) {
		size_t ncap = q->pfcap ? 2 * q->pfcap : 64;

		p = realloc(q->pf, ncap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		q->pf = p;
		q->pfcap = ncap;
	}
	p = &q->pf[q->npf++];
	p->first = off / cs;
	p->n = (off + len - 1) / cs - p->first + 1;
	p->seq = q->meta_seq;
	return 0;
}

int q2_process_frees_locked(struct q2 *q, uint64_t seq)
{
	uint64_t cs = q->cluster_size;
	size_t i = 0;
	int ret = 0;

	while (i < q->npf && q->pf[i].seq <= seq) {
		ret = q2_free_now_locked(q, q->pf[i].first * cs,
					 q->pf[i].n * cs);
		i++;
		if (ret < 0)
			break;
	}
	if (i) {
		memmove(q->pf, q->pf + i, (q->npf - i) * sizeof(*q->pf));
		q->npf -= i;
	}
	return ret;
}

static int sync_all(struct q2 *q)
{
	int ret = 0;

	if (q->data_fd != q->fd)
		ret = qf_sync(q->data_fd);
	if (ret == 0)
		ret = qf_sync(q->fd);
	return ret;
}

/* Records that metadata up to @seq is durable (a sync that started after
 * meta_seq was @seq succeeded). Locked; never blocks. */
static void note_synced_locked(struct q2 *q, uint64_t seq)
{
	if (seq > q->synced_seq)
		q->synced_seq = seq;
}

int q2_barrier_locked(struct q2 *q)
{
	uint64_t seq = q->meta_seq;
	int ret = sync_all(q);

	if (ret < 0)
		return ret;
	note_synced_locked(q, seq);
	return q2_process_frees_locked(q, seq);
}

int q2_barrier(struct q2 *q)
{
	uint64_t seq;
	int ret;

	pthread_mutex_lock(&q->lock);
	seq = q->meta_seq;
	pthread_mutex_unlock(&q->lock);
	ret = sync_all(q);
	if (ret < 0)
		return ret;
	pthread_mutex_lock(&q->lock);
	note_synced_locked(q, seq);
	ret = q2_process_frees_locked(q, seq);
	pthread_mutex_unlock(&q->lock);
	return ret;
}
