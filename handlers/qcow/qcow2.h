/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qcow2.h — the qcow2 format engine's internal state and the API between
 * its files (header, table cache, refcounts/allocation, I/O, compression,
 * check). Written from the published qcow2 specification.
 *
 * Locking: q2->lock (a mutex) protects every piece of metadata: the L1
 * table, both table caches, the refcount table, the allocator and the
 * pending-free list. Functions named *_locked expect it held. Data I/O
 * runs without it; the guest range lock (q2->rl) keeps a cluster's mapping
 * stable while its data is read or written.
 *
 * Crash safety: metadata is written through (never cached dirty) in an
 * order that keeps the image consistent after a crash at any point:
 * refcount increments and new data are made durable (q2_barrier) before
 * an L2/L1 entry points at them, and refcount decrements happen only after
 * the entry that dropped the reference is durable. A crash leaks
 * clusters at worst. With lazy refcounts the image is marked dirty instead
 * and the refcount ordering is skipped.
 */
#ifndef TCMU_QCOW2_H
#define TCMU_QCOW2_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "qimg_int.h"

#define Q2_MAGIC 0x514649fbU /* "QFI\xfb" */

/* Header feature bits. */
#define Q2_INCOMPAT_DIRTY (1ULL << 0)
#define Q2_INCOMPAT_CORRUPT (1ULL << 1)
#define Q2_INCOMPAT_DATA_FILE (1ULL << 2)
#define Q2_INCOMPAT_COMPRESSION (1ULL << 3)
#define Q2_INCOMPAT_EXTL2 (1ULL << 4)
#define Q2_INCOMPAT_KNOWN 0x1fULL
#define Q2_COMPAT_LAZY (1ULL << 0)
#define Q2_AUTOCLEAR_BITMAPS (1ULL << 0)
#define Q2_AUTOCLEAR_RAW_DATA (1ULL << 1)

/* Header field offsets we rewrite. */
#define Q2_HDR_RT_OFFSET 48   /* refcount_table_offset + clusters */
#define Q2_HDR_INCOMPAT 72
#define Q2_HDR_AUTOCLEAR 88

/* Table entry bits. */
#define Q2_OFLAG_COPIED (1ULL << 63)
#define Q2_OFLAG_COMPRESSED (1ULL << 62)
#define Q2_OFLAG_ZERO 1ULL
#define Q2_L1_OFF_MASK 0x00fffffffffffe00ULL
#define Q2_L1_RESERVED 0x7f000000000001ffULL
#define Q2_L2_OFF_MASK 0x00fffffffffffe00ULL
#define Q2_L2_RESERVED 0x3f000000000001feULL
#define Q2_RT_OFF_MASK 0xfffffffffffffe00ULL

/* Sanity limits for untrusted headers. */
#define Q2_MAX_L1_BYTES (32ULL << 20)
#define Q2_MAX_RT_BYTES (8ULL << 20)
#define Q2_MAX_SNAPSHOTS 65536
#define Q2_MAX_SNAP_TABLE (64ULL << 20)

/** A decoded L2 entry (standard or extended). */
struct q2_map {
	bool compressed;
	bool copied;
	bool has_host;   /* host is valid (offset 0 only with a data file) */
	uint64_t host;   /* cluster offset, or byte offset when compressed */
	uint32_t csize;  /* compressed: bytes of compressed data */
	uint32_t alloc;  /* subclusters with data at host */
	uint32_t zero;   /* subclusters that read as zeroes */
};

/** A region of the file that holds fixed metadata (overlap checks). */
struct q2_region {
	uint64_t off, len;
};

/** One internal snapshot (only what we need to protect it). */
struct q2_snap {
	uint64_t l1_off;
	uint32_t l1_size;
};

/** A refcount decrement waiting for the next barrier. */
struct q2_pfree {
	uint64_t first, n; /* host clusters */
	uint64_t seq;      /* q2->meta_seq when queued */
};

struct q2_cache;

struct q2 {
	struct qimg *img;
	int fd;       /* the qcow2 file */
	int data_fd;  /* guest data: fd, or the external data file */
	uint32_t version;
	uint32_t cluster_bits, cluster_size;
	uint32_t header_len;
	uint64_t incompat, compat, autoclear;
	bool ext_l2, lazy, data_file, zstd, has_bitmaps;

	/* L2 geometry. */
	uint32_t l2_esize;   /* 8, or 16 with extended entries */
	uint32_t l2_entries; /* entries per table */
	uint32_t nsub;       /* subclusters per cluster: 1 or 32 */
	uint32_t sub_size;

	/* Refcounts. */
	uint32_t refcount_order;
	uint64_t rb_entries; /* refcounts per block */
	uint64_t *rt;        /* refcount table, host endian */
	uint64_t rt_entries;
	uint64_t rt_off;
	uint32_t rt_clusters;

	/* Active L1. */
	uint64_t *l1;
	uint32_t l1_size;
	uint64_t l1_off;

	struct q2_snap *snaps;
	uint32_t nb_snaps;
	uint64_t snap_off, snap_len;

	uint64_t bm_dir_off, bm_dir_size;
	uint32_t nb_bitmaps;

	struct q2_region *fixed; /* header, L1s, RT, snapshot table, ... */
	size_t nfixed;

	uint64_t file_size; /* atomic: bytes known to exist in fd */

	pthread_mutex_t lock;
	struct rangelock rl;
	struct q2_cache *l2c, *rbc;
	uint64_t free_hint;
	uint64_t meta_seq;   /* bumped by every metadata write */
	uint64_t synced_seq; /* meta_seq seen before the last good barrier */
	bool no_dsync;       /* atomic: pwritev2(RWF_DSYNC) unsupported */
	uint64_t fua_fast;   /* atomic: FUA writes done by RWF_DSYNC alone */
	struct q2_pfree *pf;
	size_t npf, pfcap;
	bool marked_dirty;  /* we set the dirty bit and must clear it */
	bool first_write_done;
	bool corrupt;
	char *data_path;
};

/* Big-endian helpers. */
static inline uint64_t q2_be64(const void *p)
{
	const uint8_t *b = p;

	return (uint64_t)b[0] << 56 | (uint64_t)b[1] << 48 |
	       (uint64_t)b[2] << 40 | (uint64_t)b[3] << 32 |
	       (uint64_t)b[4] << 24 | (uint64_t)b[5] << 16 |
	       (uint64_t)b[6] << 8 | b[7];
}

static inline uint32_t q2_be32(const void *p)
{
	const uint8_t *b = p;

	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | b[3];
}

static inline uint16_t q2_be16(const void *p)
{
	const uint8_t *b = p;

	return (uint16_t)(b[0] << 8 | b[1]);
}

static inline void q2_put64(void *p, uint64_t v)
{
	uint8_t *b = p;

	for (int i = 7; i >= 0; i--, v >>= 8)
		b[i] = (uint8_t)v;
}

static inline void q2_put32(void *p, uint32_t v)
{
	uint8_t *b = p;

	for (int i = 3; i >= 0; i--, v >>= 8)
		b[i] = (uint8_t)v;
}

static inline uint64_t q2_file_size(struct q2 *q)
{
	return __atomic_load_n(&q->file_size, __ATOMIC_ACQUIRE);
}

/* Raises the known file size to at least @end. */
static inline void q2_grow_file_size(struct q2 *q, uint64_t end)
{
	uint64_t cur = q2_file_size(q);

	while (cur < end &&
	       !__atomic_compare_exchange_n(&q->file_size, &cur, end, false,
					    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		;
}

/* qcow2_header.c */
int q2_parse_header(struct q2 *q, const char *path, unsigned int flags,
		    char **backing, char **backing_fmt, char *err);
/* Sets/clears incompatible feature bits in the header; syncs. Locked. */
int q2_set_incompat_locked(struct q2 *q, uint64_t set, uint64_t clear);
/* Marks the image corrupt (once) and logs nothing. Locked. */
void q2_mark_corrupt_locked(struct q2 *q, const char *why);
/* First write: clears unknown autoclear bits, sets dirty if lazy. Locked. */
int q2_prepare_write_locked(struct q2 *q);
/* Does [off, off+len) overlap fixed metadata? */
bool q2_overlaps_fixed(const struct q2 *q, uint64_t off, uint64_t len);
/* Rebuilds q->fixed from the current layout. Returns 0 or -ENOMEM. */
int q2_build_fixed(struct q2 *q);

/* qcow2_l2cache.c: a cache of cluster-sized tables (L2 tables and
 * refcount blocks), keyed by file offset. Write-through: callers update
 * the buffer and write the changed bytes themselves. Locked. */
struct q2_cache *q2_cache_new(uint32_t table_size, uint32_t nr);
void q2_cache_free(struct q2_cache *c);
/* Returns the table at @off, reading it if needed; NULL + *err on error. */
void *q2_cache_get(struct q2_cache *c, struct q2 *q, uint64_t off, int *err);
/* Returns a zeroed cache slot for a new table at @off (nothing read). */
void *q2_cache_get_new(struct q2_cache *c, uint64_t off);
/* Forgets @off (the cluster was freed or rewritten elsewhere). */
void q2_cache_drop(struct q2_cache *c, uint64_t off);

/* qcow2_refcount.c */
int q2_refcount_get_locked(struct q2 *q, uint64_t cluster, uint64_t *rc);
/* Allocates one host cluster (refcount 1); returns its offset. */
int q2_alloc_cluster_locked(struct q2 *q, uint64_t *off);
/* Queues a decrement of the refcounts of the host clusters touched by
 * [off, off+len) for after the next barrier. */
int q2_free_later_locked(struct q2 *q, uint64_t off, uint64_t len);
/* Decrements now (only when nothing durable references the clusters). */
int q2_free_now_locked(struct q2 *q, uint64_t off, uint64_t len);
/* Applies queued frees whose seq is <= @seq. */
int q2_process_frees_locked(struct q2 *q, uint64_t seq);
/* Writes metadata bytes and bumps meta_seq. */
int q2_meta_write_locked(struct q2 *q, uint64_t off, const void *buf,
			 size_t len);
/* Makes everything written so far durable, then applies queued frees.
 * The _locked variant syncs while holding the lock. */
int q2_barrier(struct q2 *q);
int q2_barrier_locked(struct q2 *q);
/* True when every metadata write so far is durable (no barrier owed).
 * Locked; never blocks. */
static inline bool q2_fua_clean_locked(const struct q2 *q)
{
	return q->meta_seq == q->synced_seq;
}
/* Sets a refcount directly (check/repair). */
int q2_refcount_set_locked(struct q2 *q, uint64_t cluster, uint64_t val);
/* Reads/writes refcount entries in a refcount block buffer. */
uint64_t q2_rb_get(const struct q2 *q, const void *rb, uint64_t idx);
void q2_rb_set(const struct q2 *q, void *rb, uint64_t idx, uint64_t v);

/* qcow2_map.c: L1/L2 lookups and entry encoding. */
int q2_decode(struct q2 *q, const uint8_t *e, struct q2_map *m);
void q2_encode(const struct q2 *q, const struct q2_map *m, uint8_t *e);
/* Looks up guest cluster @gc; an unallocated L2 table yields an empty map. */
int q2_lookup_locked(struct q2 *q, uint64_t gc, struct q2_map *m);
/* Makes the L2 table of @gc exist and be writable (allocate or COW). */
int q2_l2_prepare_locked(struct q2 *q, uint64_t gc);
/* Writes the L2 entry of @gc (its table must be prepared). */
int q2_l2_update_locked(struct q2 *q, uint64_t gc, const struct q2_map *m);

/* qcow2_compress.c */
/* Reads and inflates the compressed cluster @m into @out (cluster size). */
int q2_read_compressed(struct q2 *q, const struct q2_map *m, void *out);

/* qcow2_io.c: the vtable entries. */
int q2_read(struct qimg *img, uint64_t off, size_t len,
	    const struct qiov *qv, size_t qoff);
int q2_write(struct qimg *img, uint64_t off, size_t len,
	     const struct qiov *qv, size_t qoff, bool fua);
int q2_zero(struct qimg *img, uint64_t off, uint64_t len, bool may_unmap);
int q2_flush(struct qimg *img);
int q2_block_status(struct qimg *img, uint64_t off, bool *alloc,
		    uint64_t *len);

/* qcow2_check.c */
int q2_check(struct qimg *img, bool repair, struct qimg_check_result *res);

#endif
