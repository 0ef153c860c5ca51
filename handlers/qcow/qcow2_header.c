/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qcow2_header.c — reads and validates a qcow2 header, its extensions, the
 * L1 table, the refcount table and the snapshot table; rewrites the few
 * header fields we change (feature bits, refcount table location).
 * Everything read from the file is untrusted: every offset and size is
 * checked against the file size and sane limits before use.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "qcow2.h"

#define EXT_END 0x00000000U
#define EXT_BACKING_FMT 0xe2792acaU
#define EXT_FEATURES 0x6803f857U
#define EXT_BITMAPS 0x23852875U
#define EXT_CRYPTO 0x0537be77U
#define EXT_DATA_FILE 0x44415441U

static bool aligned(const struct q2 *q, uint64_t off)
{
	return (off & (q->cluster_size - 1)) == 0;
}

/* Is [off, off+len) inside the file (no overflow)? */
static bool in_file(const struct q2 *q, uint64_t off, uint64_t len)
{
	return off <= q->file_size && len <= q->file_size - off;
}

/* Copies a length-delimited string out of the header cluster. */
static char *dup_str(const uint8_t *p, size_t len)
{
	char *s = malloc(len + 1);

	if (!s)
		return NULL;
	memcpy(s, p, len);
	s[len] = '\0';
	if (strlen(s) != len) { /* embedded NUL */
		free(s);
		return NULL;
	}
	return s;
}

/* Parses the header extensions in [start, cs) of the header cluster. */
static int parse_extensions(struct q2 *q, const uint8_t *hc, uint32_t start,
			    uint64_t end, char **backing_fmt, char *err)
{
	uint64_t off = start;

	while (off + 8 <= end) {
		uint32_t type = q2_be32(hc + off);
		uint32_t len = q2_be32(hc + off + 4);
		const uint8_t *d = hc + off + 8;

		if (type == EXT_END)
			return 0;
		if (len > end - off - 8) {
			qimg_seterr(err, "invalid qcow2 image: header "
					 "extension runs past the first cluster");
			return -EINVAL;
		}
		switch (type) {
		case EXT_BACKING_FMT:
			if (len > 63 || *backing_fmt) {
				qimg_seterr(err, "invalid qcow2 image: bad "
						 "backing format extension");
				return -EINVAL;
			}
			*backing_fmt = dup_str(d, len);
			if (!*backing_fmt) {
				qimg_seterr(err, "invalid qcow2 image: bad "
						 "backing format extension");
				return -EINVAL;
			}
			break;
		case EXT_BITMAPS:
			if (len < 24) {
				qimg_seterr(err, "invalid qcow2 image: bad "
						 "bitmaps extension");
				return -EINVAL;
			}
			q->nb_bitmaps = q2_be32(d);
			q->bm_dir_size = q2_be64(d + 8);
			q->bm_dir_off = q2_be64(d + 16);
			q->has_bitmaps = true;
			break;
		case EXT_CRYPTO:
			qimg_seterr(err, "encrypted qcow2 images are not "
					 "supported");
			return -ENOTSUP;
		case EXT_DATA_FILE:
			if (len == 0 || len > 4095 || q->data_path) {
				qimg_seterr(err, "invalid qcow2 image: bad "
						 "data file extension");
				return -EINVAL;
			}
			q->data_path = dup_str(d, len);
			if (!q->data_path) {
				qimg_seterr(err, "invalid qcow2 image: bad "
						 "data file extension");
				return -EINVAL;
			}
			break;
		default: /* feature names and unknown extensions: ignored */
			break;
		}
		off += 8 + (((uint64_t)len + 7) & ~7ULL);
	}
	return 0;
}

/* Reads the snapshot table: only the L1 tables matter to us. */
static int parse_snapshots(struct q2 *q, char *err)
{
	uint64_t avail, pos = 0;
	uint8_t *t;
	int ret;

	if (!q->nb_snaps)
		return 0;
	if (q->nb_snaps > Q2_MAX_SNAPSHOTS || !aligned(q, q->snap_off) ||
	    !q->snap_off || q->snap_off >= q->file_size) {
		qimg_seterr(err, "invalid qcow2 image: bad snapshot table");
		return -EINVAL;
	}
	avail = q->file_size - q->snap_off;
	if (avail > Q2_MAX_SNAP_TABLE)
		avail = Q2_MAX_SNAP_TABLE;
	t = malloc(avail);
	q->snaps = calloc(q->nb_snaps, sizeof(*q->snaps));
	if (!t || !q->snaps) {
		free(t);
		return -ENOMEM;
	}
	ret = qf_pread(q->fd, t, avail, q->snap_off);
	if (ret < 0) {
		free(t);
		qimg_seterr(err, "cannot read the snapshot table");
		return ret;
	}
	for (uint32_t i = 0; i < q->nb_snaps; i++) {
		uint64_t need, l1_off;
		uint32_t l1_size, extra;
		uint16_t id_len, name_len;

		if (avail - pos < 40)
			goto bad;
		l1_off = q2_be64(t + pos);
		l1_size = q2_be32(t + pos + 8);
		id_len = q2_be16(t + pos + 12);
		name_len = q2_be16(t + pos + 14);
		extra = q2_be32(t + pos + 36);
		if (extra > 65536)
			goto bad;
		need = 40ULL + extra + id_len + name_len;
		if (need > avail - pos)
			goto bad;
		/* The padding of the last entry may lie past EOF. */
		need = (need + 7) & ~7ULL;
		if (need > avail - pos)
			need = avail - pos;
		if ((uint64_t)l1_size * 8 > Q2_MAX_L1_BYTES ||
		    (l1_size && (!aligned(q, l1_off) || !l1_off ||
				 !in_file(q, l1_off, (uint64_t)l1_size * 8))))
			goto bad;
		q->snaps[i].l1_off = l1_off;
		q->snaps[i].l1_size = l1_size;
		pos += need;
	}
	q->snap_len = pos;
	free(t);
	return 0;
bad:
	free(t);
	qimg_seterr(err, "invalid qcow2 image: bad snapshot table");
	return -EINVAL;
}

static int add_fixed(struct q2 *q, uint64_t off, uint64_t len)
{
	struct q2_region *r;

	if (!len)
		return 0;
	r = realloc(q->fixed, (q->nfixed + 1) * sizeof(*r));
	if (!r)
		return -ENOMEM;
	q->fixed = r;
	r[q->nfixed].off = off;
	r[q->nfixed].len = len;
	q->nfixed++;
	return 0;
}

int q2_build_fixed(struct q2 *q)
{
	uint64_t cs = q->cluster_size;
	int ret = 0;

	free(q->fixed);
	q->fixed = NULL;
	q->nfixed = 0;
	ret |= add_fixed(q, 0, cs);
	ret |= add_fixed(q, q->l1_off, (uint64_t)q->l1_size * 8);
	ret |= add_fixed(q, q->rt_off, (uint64_t)q->rt_clusters * cs);
	ret |= add_fixed(q, q->snap_off, q->snap_len);
	for (uint32_t i = 0; i < q->nb_snaps; i++)
		ret |= add_fixed(q, q->snaps[i].l1_off,
				 (uint64_t)q->snaps[i].l1_size * 8);
	if (q->has_bitmaps)
		ret |= add_fixed(q, q->bm_dir_off, q->bm_dir_size);
	return ret ? -ENOMEM : 0;
}

/* Cluster-granular overlap test against the fixed metadata. */
bool q2_overlaps_fixed(const struct q2 *q, uint64_t off, uint64_t len)
{
	uint64_t mask = q->cluster_size - 1;
	uint64_t s = off & ~mask, e = (off + len + mask) & ~mask;

	for (size_t i = 0; i < q->nfixed; i++) {
		uint64_t rs = q->fixed[i].off & ~mask;
		uint64_t re = (q->fixed[i].off + q->fixed[i].len + mask) & ~mask;

		if (s < re && rs < e)
			return true;
	}
	return false;
}

static int check_fixed_disjoint(struct q2 *q, char *err)
{
	for (size_t i = 0; i < q->nfixed; i++) {
		for (size_t j = i + 1; j < q->nfixed; j++) {
			const struct q2_region *a = &q->fixed[i];
			const struct q2_region *b = &q->fixed[j];

			if (a->off < b->off + b->len && b->off < a->off + a->len) {
				qimg_seterr(err, "invalid qcow2 image: "
						 "metadata tables overlap");
				return -EINVAL;
			}
		}
	}
	return 0;
}

/* Reads and validates the active L1 table. */
static int load_l1(struct q2 *q, char *err)
{
	uint64_t bytes = (uint64_t)q->l1_size * 8;
	uint8_t *raw;
	int ret;

	q->l1 = calloc(q->l1_size ? q->l1_size : 1, sizeof(uint64_t));
	if (!q->l1)
		return -ENOMEM;
	if (!q->l1_size)
		return 0;
	raw = malloc(bytes);
	if (!raw)
		return -ENOMEM;
	ret = qf_pread(q->fd, raw, bytes, q->l1_off);
	if (ret < 0) {
		free(raw);
		qimg_seterr(err, "cannot read the L1 table");
		return ret;
	}
	for (uint32_t i = 0; i < q->l1_size; i++) {
		uint64_t e = q2_be64(raw + 8 * (uint64_t)i);
		uint64_t off = e & Q2_L1_OFF_MASK;

		q->l1[i] = e;
		if (!off)
			continue;
		if ((e & Q2_L1_RESERVED) || !aligned(q, off) ||
		    !in_file(q, off, q->cluster_size)) {
			free(raw);
			qimg_seterr(err, "invalid qcow2 image: L1 entry %u "
					 "points outside the file or is "
					 "misaligned", i);
			return -EINVAL;
		}
	}
	free(raw);
	return 0;
}

/* Reads and validates the refcount table. */
static int load_rt(struct q2 *q, char *err)
{
	uint64_t bytes = (uint64_t)q->rt_clusters * q->cluster_size;
	uint8_t *raw;
	int ret;

	q->rt_entries = bytes / 8;
	q->rt = calloc(q->rt_entries, sizeof(uint64_t));
	raw = malloc(bytes);
	if (!q->rt || !raw) {
		free(raw);
		return -ENOMEM;
	}
	ret = qf_pread(q->fd, raw, bytes, q->rt_off);
	if (ret < 0) {
		free(raw);
		qimg_seterr(err, "cannot read the refcount table");
		return ret;
	}
	for (uint64_t i = 0; i < q->rt_entries; i++) {
		uint64_t e = q2_be64(raw + 8 * i);

		if (e && ((e & 0x1ff) || !aligned(q, e) ||
			  !in_file(q, e, q->cluster_size))) {
			free(raw);
			qimg_seterr(err, "invalid qcow2 image: refcount "
					 "block %llu points outside the file "
					 "or is misaligned",
				    (unsigned long long)i);
			return -EINVAL;
		}
		q->rt[i] = e;
	}
	free(raw);
	return 0;
}

int q2_parse_header(struct q2 *q, const char *path, unsigned int flags,
		    char **backing, char **backing_fmt, char *err)
{
	uint8_t h[512];
	uint8_t *hc = NULL;
	struct stat st;
	uint64_t size, bfo, need_l1, cs;
	uint32_t bfs, crypt;
	int ret;

	*backing = *backing_fmt = NULL;
	if (fstat(q->fd, &st) < 0)
		return -errno;
	q->file_size = (uint64_t)st.st_size;
	if (q->file_size < 72) {
		qimg_seterr(err, "invalid qcow2 image: file too small");
		return -EINVAL;
	}
	ret = qf_pread(q->fd, h, sizeof(h), 0);
	if (ret < 0) {
		qimg_seterr(err, "cannot read the image header");
		return ret;
	}
	q->version = q2_be32(h + 4);
	if (q->version != 2 && q->version != 3) {
		qimg_seterr(err, "unsupported qcow2 version %u", q->version);
		return -ENOTSUP;
	}
	bfo = q2_be64(h + 8);
	bfs = q2_be32(h + 16);
	q->cluster_bits = q2_be32(h + 20);
	if (q->cluster_bits < 9 || q->cluster_bits > 21) {
		qimg_seterr(err, "unsupported qcow2 cluster size (bits %u; "
				 "512 B .. 2 MiB are supported)",
			    q->cluster_bits);
		return -ENOTSUP;
	}
	cs = q->cluster_size = 1U << q->cluster_bits;
	size = q2_be64(h + 24);
	crypt = q2_be32(h + 32);
	q->l1_size = q2_be32(h + 36);
	q->l1_off = q2_be64(h + 40);
	q->rt_off = q2_be64(h + 48);
	q->rt_clusters = q2_be32(h + 56);
	q->nb_snaps = q2_be32(h + 60);
	q->snap_off = q2_be64(h + 64);
	if (q->version == 2) {
		q->refcount_order = 4;
		q->header_len = 72;
	} else {
		q->incompat = q2_be64(h + 72);
		q->compat = q2_be64(h + 80);
		q->autoclear = q2_be64(h + 88);
		q->refcount_order = q2_be32(h + 96);
		q->header_len = q2_be32(h + 100);
		if (q->header_len < 104 || q->header_len % 8 ||
		    q->header_len > cs || q->file_size < 104) {
			qimg_seterr(err, "invalid qcow2 image: bad header "
					 "length");
			return -EINVAL;
		}
	}
	if (q->incompat & ~Q2_INCOMPAT_KNOWN) {
		uint64_t unk = q->incompat & ~Q2_INCOMPAT_KNOWN;

		qimg_seterr(err, "unsupported qcow2 feature (incompatible "
				 "feature bit %d)", __builtin_ctzll(unk));
		return -ENOTSUP;
	}
	if (crypt) {
		qimg_seterr(err, "encrypted qcow2 images are not supported");
		return -ENOTSUP;
	}
	if ((q->incompat & Q2_INCOMPAT_CORRUPT) &&
	    (!(flags & QIMG_RDONLY) || (flags & QIMG_PROBE))) {
		qimg_seterr(err, "the image is marked corrupt; repair it "
				 "with 'qemu-img check -r all'");
		return -EUCLEAN;
	}
	if (q->refcount_order > 6) {
		qimg_seterr(err, "invalid qcow2 image: refcount width "
				 "above 64 bits");
		return -EINVAL;
	}
	q->lazy = q->compat & Q2_COMPAT_LAZY;
	q->ext_l2 = q->incompat & Q2_INCOMPAT_EXTL2;
	q->data_file = q->incompat & Q2_INCOMPAT_DATA_FILE;
	if (q->ext_l2 && q->cluster_bits < 14) {
		qimg_seterr(err, "invalid qcow2 image: extended L2 entries "
				 "need 16 KiB clusters or larger");
		return -EINVAL;
	}
	if (q->incompat & Q2_INCOMPAT_COMPRESSION) {
		uint8_t type = q->header_len > 104 ? h[104] : 0;

		if (type == 1) {
#ifdef HAVE_ZSTD
			q->zstd = true;
#else
			qimg_seterr(err, "the image uses zstd compression, "
					 "which this build does not support");
			return -ENOTSUP;
#endif
		} else {
			qimg_seterr(err, "unsupported qcow2 compression type "
					 "%u", type);
			return -ENOTSUP;
		}
	} else if (q->header_len > 104 && h[104] != 0) {
		qimg_seterr(err, "invalid qcow2 image: compression type "
				 "without its feature bit");
		return -EINVAL;
	}

	/* Geometry. */
	q->l2_esize = q->ext_l2 ? 16 : 8;
	q->l2_entries = (uint32_t)(cs / q->l2_esize);
	q->nsub = q->ext_l2 ? 32 : 1;
	q->sub_size = (uint32_t)(cs / q->nsub);
	q->rb_entries = (cs * 8) >> q->refcount_order;
	if (size > (1ULL << 62)) {
		qimg_seterr(err, "invalid qcow2 image: absurd virtual size");
		return -EINVAL;
	}
	need_l1 = (size + cs * q->l2_entries - 1) / (cs * q->l2_entries);
	if (q->l1_size < need_l1 ||
	    (uint64_t)q->l1_size * 8 > Q2_MAX_L1_BYTES) {
		qimg_seterr(err, "invalid qcow2 image: L1 table size does "
				 "not match the virtual size");
		return -EINVAL;
	}
	if (q->l1_size && (!q->l1_off || !aligned(q, q->l1_off) ||
			   !in_file(q, q->l1_off, (uint64_t)q->l1_size * 8))) {
		qimg_seterr(err, "invalid qcow2 image: L1 table outside the "
				 "file or misaligned");
		return -EINVAL;
	}
	if (!q->rt_off || !aligned(q, q->rt_off) || !q->rt_clusters ||
	    (uint64_t)q->rt_clusters * cs > Q2_MAX_RT_BYTES ||
	    !in_file(q, q->rt_off, (uint64_t)q->rt_clusters * cs)) {
		qimg_seterr(err, "invalid qcow2 image: refcount table outside "
				 "the file, misaligned or too large");
		return -EINVAL;
	}
	q->img->size = size;
	q->img->cluster_size = (uint32_t)cs;

	/* The first cluster: extensions and the backing file name. */
	hc = calloc(1, cs);
	if (!hc)
		return -ENOMEM;
	ret = qf_pread(q->fd, hc, cs, 0);
	if (ret < 0) {
		qimg_seterr(err, "cannot read the image header");
		goto out;
	}
	/* bfo is checked below: never let it widen the buffer here. */
	ret = parse_extensions(q, hc, q->header_len,
			       bfo && bfo < cs ? bfo : cs, backing_fmt, err);
	if (ret < 0)
		goto out;
	if (bfo) {
		if (bfs == 0 || bfs > 1023 || bfo < q->header_len ||
		    bfo > cs || bfs > cs - bfo) {
			qimg_seterr(err, "invalid qcow2 image: bad backing "
					 "file name field");
			ret = -EINVAL;
			goto out;
		}
		*backing = dup_str(hc + bfo, bfs);
		if (!*backing) {
			qimg_seterr(err, "invalid qcow2 image: bad backing "
					 "file name field");
			ret = -EINVAL;
			goto out;
		}
	}
	if (q->data_file) {
		if (*backing) {
			qimg_seterr(err, "invalid qcow2 image: a backing file "
					 "and an external data file");
			ret = -EINVAL;
			goto out;
		}
		if (!q->data_path) {
			qimg_seterr(err, "the image needs an external data "
					 "file but does not name it");
			ret = -ENOTSUP;
			goto out;
		}
		if (q->nb_snaps) {
			qimg_seterr(err, "invalid qcow2 image: snapshots "
					 "with an external data file");
			ret = -EINVAL;
			goto out;
		}
	}
	if (q->has_bitmaps &&
	    (!q->bm_dir_off || !aligned(q, q->bm_dir_off) ||
	     q->bm_dir_size > (64ULL << 20) ||
	     !in_file(q, q->bm_dir_off, q->bm_dir_size))) {
		qimg_seterr(err, "invalid qcow2 image: bad bitmap directory");
		ret = -EINVAL;
		goto out;
	}

	ret = load_rt(q, err);
	if (ret < 0)
		goto out;
	ret = load_l1(q, err);
	if (ret < 0)
		goto out;
	ret = parse_snapshots(q, err);
	if (ret < 0)
		goto out;
	ret = q2_build_fixed(q);
	if (ret < 0)
		goto out;
	ret = check_fixed_disjoint(q, err);
out:
	free(hc);
	(void)path;
	return ret;
}

int q2_set_incompat_locked(struct q2 *q, uint64_t set, uint64_t clear)
{
	uint64_t v = (q->incompat | set) & ~clear;
	uint8_t b[8];
	int ret;

	if (q->version < 3 || v == q->incompat)
		return 0;
	q2_put64(b, v);
	ret = qf_pwrite(q->fd, b, 8, Q2_HDR_INCOMPAT);
	if (ret < 0)
		return ret;
	q->meta_seq++; /* see q2_fua_clean_locked() */
	ret = qf_sync(q->fd);
	if (ret < 0)
		return ret;
	q->incompat = v;
	return 0;
}

void q2_mark_corrupt_locked(struct q2 *q, const char *why)
{
#ifdef QIMG_TEST_HOOKS
	if (!q->corrupt && getenv("QCOW_TEST_VERBOSE"))
		fprintf(stderr, "# qcow2: marking corrupt: %s\n", why);
#endif
	(void)why;
	if (q->corrupt)
		return;
	q->corrupt = true;
	if (!q->img->ro)
		q2_set_incompat_locked(q, Q2_INCOMPAT_CORRUPT, 0);
}

/* Marks every persistent bitmap "in use" (inconsistent): we do not track
 * dirty blocks, and QEMU then treats them as it does after its own crash,
 * while their clusters stay accounted for. */
static int bitmaps_in_use_locked(struct q2 *q)
{
	uint64_t pos = 0, len = q->bm_dir_size;
	uint8_t *dir;
	int ret;

	if (!len)
		return 0;
	dir = malloc(len);
	if (!dir)
		return -ENOMEM;
	ret = qf_pread(q->fd, dir, len, q->bm_dir_off);
	for (uint32_t b = 0; ret == 0 && b < q->nb_bitmaps; b++) {
		uint64_t ent;

		if (len - pos < 24)
			break;
		ent = (24ULL + q2_be32(dir + pos + 20) + q2_be16(dir + pos + 18) +
		       7) & ~7ULL;
		if (ent > len - pos)
			break;
		dir[pos + 15] |= 1; /* flags bit 0: in_use */
		pos += ent;
	}
	if (ret == 0)
		ret = q2_meta_write_locked(q, q->bm_dir_off, dir, len);
	free(dir);
	return ret;
}

int q2_prepare_write_locked(struct q2 *q)
{
	uint64_t keep = 0;
	int ret;

	if (q->first_write_done)
		return 0;
	if (q->version >= 3 && q->has_bitmaps &&
	    (q->autoclear & Q2_AUTOCLEAR_BITMAPS)) {
		ret = bitmaps_in_use_locked(q);
		if (ret < 0)
			return ret;
		keep = Q2_AUTOCLEAR_BITMAPS;
	}
	if (q->version >= 3 && (q->autoclear & ~keep)) {
		uint8_t b[8];

		/* We maintain none of the other auto-clear features. */
		q2_put64(b, q->autoclear & keep);
		ret = qf_pwrite(q->fd, b, 8, Q2_HDR_AUTOCLEAR);
		if (ret == 0) {
			q->meta_seq++;
			ret = qf_sync(q->fd);
		}
		if (ret < 0)
			return ret;
		q->autoclear &= keep;
	} else if (keep) {
		ret = qf_sync(q->fd);
		if (ret < 0)
			return ret;
	}
	if (q->lazy && !(q->incompat & Q2_INCOMPAT_DIRTY)) {
		ret = q2_set_incompat_locked(q, Q2_INCOMPAT_DIRTY, 0);
		if (ret < 0)
			return ret;
		q->marked_dirty = true;
	}
	q->first_write_done = true;
	return 0;
}
