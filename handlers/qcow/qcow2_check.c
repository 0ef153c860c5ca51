/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qcow2_check.c — consistency check and refcount repair. Recomputes every
 * cluster's reference count from the metadata (header, L1/L2 tables of
 * the active layer and of every snapshot, refcount structures, snapshot
 * table, bitmaps), compares with the stored refcounts and the COPIED
 * flags of the active tables, and with @repair rewrites what differs.
 * Runs with q2->lock held for its whole duration; must not race with
 * I/O in practice (open time, tests). Blocks. Returns 0 or -errno.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2.h"

struct counter {
	struct q2 *q;
	uint32_t *c;
	uint64_t n; /* clusters counted */
	struct qimg_check_result *res;
};

/* Adds one reference to every cluster touched by [off, off+len). */
static void ref(struct counter *k, uint64_t off, uint64_t len)
{
	uint64_t cs = k->q->cluster_size;

	if (!len)
		return;
	for (uint64_t c = off / cs; c <= (off + len - 1) / cs; c++) {
		if (c >= k->n) {
			k->res->corruptions++; /* past the end of the file */
			return;
		}
		if (k->c[c] < UINT32_MAX)
			k->c[c]++;
	}
}

/* Reads a big-endian L1 table from the file into host order. */
static int read_l1(struct q2 *q, uint64_t off, uint32_t n, uint64_t **out)
{
	uint8_t *raw = malloc((size_t)n * 8 + 8);
	uint64_t *l1 = calloc((size_t)n + 1, 8);
	int ret;

	if (!raw || !l1) {
		free(raw);
		free(l1);
		return -ENOMEM;
	}
	ret = qf_pread(q->fd, raw, (size_t)n * 8, off);
	for (uint32_t i = 0; i < n; i++)
		l1[i] = q2_be64(raw + 8 * (uint64_t)i);
	free(raw);
	if (ret < 0) {
		free(l1);
		return ret;
	}
	*out = l1;
	return 0;
}

static bool l2_off_ok(const struct q2 *q, uint64_t e)
{
	uint64_t off = e & Q2_L1_OFF_MASK;

	return !(off & (q->cluster_size - 1)) && !(e & Q2_L1_RESERVED) &&
	       off < q2_file_size((struct q2 *)q) &&
	       q->cluster_size <= q2_file_size((struct q2 *)q) - off;
}

/* Counts an L2 table and everything it references. */
static int count_l1(struct counter *k, const uint64_t *l1, uint32_t n)
{
	struct q2 *q = k->q;

	for (uint32_t i = 0; i < n; i++) {
		uint64_t off = l1[i] & Q2_L1_OFF_MASK;
		uint8_t *tbl;
		int err = 0;

		if (!off)
			continue;
		if (!l2_off_ok(q, l1[i])) {
			k->res->corruptions++;
			continue;
		}
		ref(k, off, q->cluster_size);
		tbl = q2_cache_get(q->l2c, q, off, &err);
		if (!tbl) {
			if (err == -ENOMEM || err == -EIO)
				return err;
			k->res->corruptions++;
			continue;
		}
		for (uint32_t j = 0; j < q->l2_entries; j++) {
			struct q2_map m;

			if (q2_decode(q, tbl + (uint64_t)j * q->l2_esize, &m)) {
				k->res->corruptions++;
				continue;
			}
			if (m.compressed)
				ref(k, m.host, m.csize);
			else if (m.has_host && !q->data_file)
				ref(k, m.host, q->cluster_size);
		}
	}
	return 0;
}

/* Counts the bitmap directory, bitmap tables and bitmap data. */
static int count_bitmaps(struct counter *k)
{
	struct q2 *q = k->q;
	uint64_t pos = 0, len = q->bm_dir_size;
	uint8_t *dir;
	int ret;

	if (!q->has_bitmaps || !len)
		return 0;
	ref(k, q->bm_dir_off, len);
	dir = malloc(len);
	if (!dir)
		return -ENOMEM;
	ret = qf_pread(q->fd, dir, len, q->bm_dir_off);
	for (uint32_t b = 0; ret == 0 && b < q->nb_bitmaps; b++) {
		uint64_t toff, ent;
		uint32_t tsize, extra;
		uint16_t nlen;
		uint8_t *t;

		if (len - pos < 24)
			break;
		toff = q2_be64(dir + pos);
		tsize = q2_be32(dir + pos + 8);
		nlen = q2_be16(dir + pos + 18);
		extra = q2_be32(dir + pos + 20);
		ent = (24ULL + extra + nlen + 7) & ~7ULL;
		if (ent > len - pos || (uint64_t)tsize * 8 > (64ULL << 20) ||
		    toff >= q2_file_size(q) ||
		    (uint64_t)tsize * 8 > q2_file_size(q) - toff) {
			k->res->corruptions++;
			break;
		}
		ref(k, toff, (uint64_t)tsize * 8);
		t = malloc((size_t)tsize * 8 + 8);
		if (!t) {
			ret = -ENOMEM;
			break;
		}
		ret = qf_pread(q->fd, t, (size_t)tsize * 8, toff);
		for (uint32_t i = 0; ret == 0 && i < tsize; i++) {
			uint64_t off = q2_be64(t + 8 * (uint64_t)i) &
				       Q2_L2_OFF_MASK;

			if (off)
				ref(k, off, q->cluster_size);
		}
		free(t);
		pos += ent;
	}
	free(dir);
	return ret;
}

/* Compares (and fixes) the COPIED flags of the active tables. */
static int check_copied(struct counter *k, bool repair)
{
	struct q2 *q = k->q;
	uint64_t cs = q->cluster_size;

	for (uint32_t i = 0; i < q->l1_size; i++) {
		uint64_t off = q->l1[i] & Q2_L1_OFF_MASK;
		bool want, have;
		uint8_t *tbl;
		int err = 0, ret;

		if (!off || !l2_off_ok(q, q->l1[i]))
			continue;
		want = off / cs < k->n && k->c[off / cs] == 1;
		have = q->l1[i] & Q2_OFLAG_COPIED;
		if (want != have) {
			k->res->flag_errors++;
			if (repair) {
				uint8_t b[8];

				q->l1[i] ^= Q2_OFLAG_COPIED;
				q2_put64(b, q->l1[i]);
				ret = q2_meta_write_locked(q, q->l1_off + 8 * i,
							   b, 8);
				if (ret < 0)
					return ret;
				k->res->repaired++;
			}
		}
		tbl = q2_cache_get(q->l2c, q, off, &err);
		if (!tbl)
			continue;
		for (uint32_t j = 0; j < q->l2_entries; j++) {
			uint8_t *e = tbl + (uint64_t)j * q->l2_esize;
			uint64_t w = q2_be64(e);
			struct q2_map m;

			if (q2_decode(q, e, &m) || !m.has_host || q->data_file)
				continue;
			want = !m.compressed && m.host / cs < k->n &&
			       k->c[m.host / cs] == 1;
			if (want == !!(w & Q2_OFLAG_COPIED))
				continue;
			k->res->flag_errors++;
			if (!repair)
				continue;
			q2_put64(e, w ^ Q2_OFLAG_COPIED);
			ret = q2_meta_write_locked(q, off + (uint64_t)j *
							      q->l2_esize,
						   e, 8);
			if (ret < 0)
				return ret;
			k->res->repaired++;
		}
	}
	return 0;
}

/* Compares (and fixes) every stored refcount. */
static int check_refcounts(struct counter *k, bool repair)
{
	struct q2 *q = k->q;
	uint64_t cs = q->cluster_size;

	for (uint64_t t = 0; t < q->rt_entries || t * q->rb_entries < k->n;
	     t++) {
		uint64_t c0 = t * q->rb_entries, c1 = c0 + q->rb_entries;

		if (t >= q->rt_entries || !q->rt[t]) {
			/* No refcount block: every reference is an error. */
			bool need = false;

			for (uint64_t c = c0; c < c1 && c < k->n; c++)
				need |= k->c[c] != 0;
			if (!need)
				continue;
			if (!repair || t >= q->rt_entries || k->c[c0]) {
				for (uint64_t c = c0; c < c1 && c < k->n; c++)
					k->res->corruptions += k->c[c] != 0;
				continue;
			}
			/* The new block goes to c0, which is unused. */
			int ret = q2_refcount_set_locked(q, c0, 1);

			if (ret < 0)
				return ret;
			if (c0 < k->n)
				k->c[c0] = 1;
		}
		for (uint64_t c = c0; c < c1; c++) {
			uint64_t disk, want = c < k->n ? k->c[c] : 0;
			int ret = q2_refcount_get_locked(q, c, &disk);

			if (ret < 0)
				return ret;
			if (disk == want)
				continue;
			if (disk > want)
				k->res->leaks++;
			else
				k->res->corruptions++;
			if (!repair)
				continue;
			ret = q2_refcount_set_locked(q, c, want);
			if (ret < 0)
				return ret;
			k->res->repaired++;
		}
		(void)cs;
	}
	return 0;
}

int q2_check(struct qimg *img, bool repair, struct qimg_check_result *res)
{
	struct q2 *q = img->q2;
	uint64_t cs = q->cluster_size;
	struct counter k = {.q = q, .res = res};
	int ret;

	memset(res, 0, sizeof(*res));
	pthread_mutex_lock(&q->lock);
	k.n = q2_file_size(q) / cs + 2;
	k.c = calloc(k.n, sizeof(uint32_t));
	if (!k.c) {
		pthread_mutex_unlock(&q->lock);
		return -ENOMEM;
	}
	ref(&k, 0, cs);
	ref(&k, q->l1_off, (uint64_t)q->l1_size * 8);
	ref(&k, q->rt_off, (uint64_t)q->rt_clusters * cs);
	for (uint64_t t = 0; t < q->rt_entries; t++)
		if (q->rt[t])
			ref(&k, q->rt[t], cs);
	ref(&k, q->snap_off, q->snap_len);
	ret = count_l1(&k, q->l1, q->l1_size);
	for (uint32_t s = 0; ret == 0 && s < q->nb_snaps; s++) {
		uint64_t *l1;

		ref(&k, q->snaps[s].l1_off, (uint64_t)q->snaps[s].l1_size * 8);
		ret = read_l1(q, q->snaps[s].l1_off, q->snaps[s].l1_size, &l1);
		if (ret == 0) {
			ret = count_l1(&k, l1, q->snaps[s].l1_size);
			free(l1);
		}
	}
	if (ret == 0)
		ret = count_bitmaps(&k);
	if (ret == 0)
		ret = check_copied(&k, repair && !img->ro);
	if (ret == 0)
		ret = check_refcounts(&k, repair && !img->ro);
	if (ret == 0 && repair && !img->ro && res->repaired) {
		q->free_hint = 0;
		ret = q2_barrier_locked(q);
	}
	free(k.c);
	pthread_mutex_unlock(&q->lock);
	return ret;
}
