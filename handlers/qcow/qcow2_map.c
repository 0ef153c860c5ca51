/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qcow2_map.c — guest-to-host mapping: decoding and encoding L2 entries
 * (standard, zero, compressed, extended with subclusters), L1/L2 lookups,
 * and making an L2 table writable (allocating it, or copying it when a
 * snapshot shares it). Called with q2->lock held; may block on file I/O.
 * Returns 0 or -errno; -EUCLEAN marks a broken entry.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2.h"

/* Decodes the L2 entry at @e (8 or 16 bytes) into @m, validating it. */
int q2_decode(struct q2 *q, const uint8_t *e, struct q2_map *m)
{
	uint64_t w = q2_be64(e), cs = q->cluster_size, host;
	bool zflag;

	memset(m, 0, sizeof(*m));
	if (w & Q2_OFLAG_COMPRESSED) {
		uint32_t x = 62 - (q->cluster_bits - 8);
		uint64_t nsec = (w >> x) & ((1ULL << (q->cluster_bits - 8)) - 1);

		host = w & ((1ULL << x) - 1);
		if (q->data_file || host >= (1ULL << 56) ||
		    host >= q2_file_size(q))
			return -EUCLEAN;
		m->compressed = true;
		m->has_host = true;
		m->host = host;
		m->csize = (uint32_t)((nsec + 1) * 512 - (host & 511));
		m->alloc = q->nsub == 32 ? UINT32_MAX : 1;
		return 0;
	}
	if (w & Q2_L2_RESERVED)
		return -EUCLEAN;
	m->copied = w & Q2_OFLAG_COPIED;
	host = w & Q2_L2_OFF_MASK;
	zflag = w & Q2_OFLAG_ZERO;
	if (zflag && (q->version < 3 || q->ext_l2))
		return -EUCLEAN;
	m->has_host = host || (q->data_file && m->copied);
	if (host & (cs - 1))
		return -EUCLEAN;
	if (host && !q->data_file && host >= q2_file_size(q))
		return -EUCLEAN;
	m->host = host;
	if (q->ext_l2) {
		uint64_t bm = q2_be64(e + 8);

		m->alloc = (uint32_t)bm;
		m->zero = (uint32_t)(bm >> 32);
		if ((m->alloc & m->zero) || (m->alloc && !m->has_host))
			return -EUCLEAN;
	} else {
		m->alloc = (m->has_host && !zflag) ? 1 : 0;
		m->zero = zflag ? 1 : 0;
	}
	return 0;
}

/* Encodes a standard (non-compressed) mapping into the entry at @e. */
void q2_encode(const struct q2 *q, const struct q2_map *m, uint8_t *e)
{
	uint64_t w = 0;

	if (m->has_host)
		w = m->host | (m->copied ? Q2_OFLAG_COPIED : 0);
	if (q->ext_l2) {
		q2_put64(e, w);
		q2_put64(e + 8, (uint64_t)m->alloc | (uint64_t)m->zero << 32);
		return;
	}
	if (m->alloc)
		q2_put64(e, w);
	else if (m->zero)
		q2_put64(e, w | Q2_OFLAG_ZERO);
	else
		q2_put64(e, 0);
}

int q2_lookup_locked(struct q2 *q, uint64_t gc, struct q2_map *m)
{
	uint64_t l1i = gc / q->l2_entries, off;
	uint8_t *tbl;
	int err = 0, ret;

	memset(m, 0, sizeof(*m));
	if (l1i >= q->l1_size)
		return -EUCLEAN;
	off = q->l1[l1i] & Q2_L1_OFF_MASK;
	if (!off)
		return 0;
	tbl = q2_cache_get(q->l2c, q, off, &err);
	if (!tbl)
		return err;
	ret = q2_decode(q, tbl + (gc % q->l2_entries) * q->l2_esize, m);
	if (ret < 0)
		q2_mark_corrupt_locked(q, "bad L2 entry");
	return ret;
}

static int write_l1_locked(struct q2 *q, uint64_t l1i)
{
	uint8_t b[8];

	q2_put64(b, q->l1[l1i]);
	return q2_meta_write_locked(q, q->l1_off + 8 * l1i, b, 8);
}

/* Recomputes the COPIED flags of a freshly copied L2 table. */
static int fix_copied_locked(struct q2 *q, uint8_t *tbl)
{
	for (uint32_t i = 0; i < q->l2_entries; i++) {
		uint8_t *e = tbl + (uint64_t)i * q->l2_esize;
		uint64_t w = q2_be64(e), host, rc;
		int ret;

		if (w & Q2_OFLAG_COMPRESSED) {
			q2_put64(e, w & ~Q2_OFLAG_COPIED);
			continue;
		}
		host = w & Q2_L2_OFF_MASK;
		if (!host || q->data_file)
			continue;
		ret = q2_refcount_get_locked(q, host / q->cluster_size, &rc);
		if (ret < 0)
			return ret;
		if (rc == 1)
			w |= Q2_OFLAG_COPIED;
		else
			w &= ~Q2_OFLAG_COPIED;
		q2_put64(e, w);
	}
	return 0;
}

int q2_l2_prepare_locked(struct q2 *q, uint64_t gc)
{
	uint64_t l1i = gc / q->l2_entries, cs = q->cluster_size;
	uint64_t e, off, rc, t;
	uint8_t *tbl, *copy;
	int ret, err = 0;

	if (l1i >= q->l1_size)
		return -EUCLEAN;
	e = q->l1[l1i];
	off = e & Q2_L1_OFF_MASK;
	if (off && (e & Q2_OFLAG_COPIED))
		return 0;
	if (!off) {
		ret = q2_alloc_cluster_locked(q, &t);
		if (ret < 0)
			return ret;
		tbl = q2_cache_get_new(q->l2c, t);
		if (!tbl)
			return -ENOMEM;
		ret = q2_meta_write_locked(q, t, tbl, cs);
		if (ret == 0)
			ret = q2_barrier_locked(q);
		if (ret < 0) {
			q2_cache_drop(q->l2c, t);
			return ret;
		}
		q->l1[l1i] = t | Q2_OFLAG_COPIED;
		return write_l1_locked(q, l1i);
	}
	ret = q2_refcount_get_locked(q, off / cs, &rc);
	if (ret < 0)
		return ret;
	if (rc == 0) {
		q2_mark_corrupt_locked(q, "L2 table with refcount 0");
		return -EUCLEAN;
	}
	if (rc == 1) {
		q->l1[l1i] = off | Q2_OFLAG_COPIED;
		return write_l1_locked(q, l1i);
	}
	/* Shared with a snapshot: copy the table. */
	tbl = q2_cache_get(q->l2c, q, off, &err);
	if (!tbl)
		return err;
	copy = malloc(cs);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, tbl, cs);
	ret = q2_alloc_cluster_locked(q, &t);
	if (ret == 0)
		ret = fix_copied_locked(q, copy);
	if (ret == 0) {
		tbl = q2_cache_get_new(q->l2c, t);
		if (!tbl)
			ret = -ENOMEM;
	}
	if (ret == 0) {
		memcpy(tbl, copy, cs);
		ret = q2_meta_write_locked(q, t, tbl, cs);
	}
	free(copy);
	if (ret == 0)
		ret = q2_barrier_locked(q);
	if (ret < 0)
		return ret;
	q->l1[l1i] = t | Q2_OFLAG_COPIED;
	ret = write_l1_locked(q, l1i);
	if (ret < 0)
		return ret;
	return q2_free_later_locked(q, off, cs);
}

int q2_l2_update_locked(struct q2 *q, uint64_t gc, const struct q2_map *m)
{
	uint64_t l1i = gc / q->l2_entries, off, pos;
	uint8_t *tbl;
	int err = 0;

	if (l1i >= q->l1_size)
		return -EUCLEAN;
	off = q->l1[l1i] & Q2_L1_OFF_MASK;
	if (!off || !(q->l1[l1i] & Q2_OFLAG_COPIED))
		return -EIO;
	tbl = q2_cache_get(q->l2c, q, off, &err);
	if (!tbl)
		return err;
	pos = (gc % q->l2_entries) * q->l2_esize;
	q2_encode(q, m, tbl + pos);
	return q2_meta_write_locked(q, off + pos, tbl + pos, q->l2_esize);
}
