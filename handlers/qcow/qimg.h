/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qimg.h — the image engine behind the qcow handler: qcow2 (v2, v3) and raw
 * images, with backing chains. It has no dependency on the daemon, so tests
 * drive it directly.
 *
 * Threads: every function may be called from any thread and may block on
 * file I/O. Reads, writes, discards and flushes may run concurrently on one
 * image: I/O to different clusters proceeds in parallel, metadata updates
 * are serialized inside. qimg_open() and qimg_close() must not race with
 * anything else on the same image.
 *
 * Errors: functions return 0 or a negative errno. -ERANGE: beyond the
 * image; -EROFS: image opened read-only; -EUCLEAN: the image metadata is
 * inconsistent (the image gets the corrupt bit and refuses further
 * writes); -EIO: a system call failed.
 */
#ifndef TCMU_QIMG_H
#define TCMU_QIMG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct qimg;

/* qimg_open() flags. */
#define QIMG_RDONLY 0x1 /* never write to the image */
#define QIMG_PROBE 0x2  /* check_config: validate only, repair nothing */

/* qimg_write_zeroes() flags. */
#define QIMG_ZERO_MAY_UNMAP 0x1 /* the range may be deallocated */

/* Largest length of an error message from qimg_open(). */
#define QIMG_ERR_LEN 256

/** What kind of image qimg_open() found. */
enum qimg_format {
	QIMG_FMT_RAW = 0,
	QIMG_FMT_QCOW2 = 1,
};

/**
 * qimg_open — opens the image at @path (qcow2 or raw; backing files are
 * opened read-only). Any thread; blocks. On failure returns -errno and
 * writes a user-readable reason into @err (QIMG_ERR_LEN bytes, may be
 * NULL); the reason never contains data read from the image (e.g. the
 * backing file's name). Opening a writable qcow2 image with the dirty bit
 * repairs its refcounts first (unless QIMG_PROBE).
 */
int qimg_open(const char *path, unsigned int flags, struct qimg **out,
	      char *err);

/**
 * qimg_close — flushes, clears the dirty bit if we set it, and frees
 * @img (NULL is fine). Must not race with other calls. Returns the result
 * of the final flush.
 */
int qimg_close(struct qimg *img);

/** qimg_size — virtual size in bytes. Any thread, never blocks. */
uint64_t qimg_size(const struct qimg *img);

/** qimg_format — the format of the top image. */
enum qimg_format qimg_format(const struct qimg *img);

/** qimg_read_only — true when writes are refused. */
bool qimg_read_only(const struct qimg *img);

/** qimg_cluster_size — allocation unit (512 for raw). */
uint32_t qimg_cluster_size(const struct qimg *img);

/**
 * qimg_read — reads @len bytes at @off into @iov. The range must lie
 * inside the image (else -ERANGE). Blocks. Returns 0 or -errno.
 */
int qimg_read(struct qimg *img, uint64_t off, size_t len,
	      const struct iovec *iov, int iovcnt);

/**
 * qimg_write — writes @len bytes from @iov at @off; with @fua the data is
 * durable on return. Blocks. Returns 0 or -errno.
 */
int qimg_write(struct qimg *img, uint64_t off, size_t len,
	       const struct iovec *iov, int iovcnt, bool fua);

/**
 * qimg_write_zeroes — makes [@off, @off+@len) read as zeroes, deallocating
 * whole clusters when QIMG_ZERO_MAY_UNMAP is set (qcow2 v3 uses zero
 * clusters, so a backing file never shows through). Blocks.
 */
int qimg_write_zeroes(struct qimg *img, uint64_t off, uint64_t len,
		      unsigned int flags);

/**
 * qimg_discard — UNMAP: deallocates what it can of the range; afterwards
 * the range reads as zeroes. Blocks. Returns 0 or -errno.
 */
int qimg_discard(struct qimg *img, uint64_t off, uint64_t len);

/**
 * qimg_flush — makes every completed write durable: data first, then
 * metadata. Blocks. Returns 0 or -errno.
 */
int qimg_flush(struct qimg *img);

/**
 * qimg_block_status — whether the byte at @off is allocated in the top
 * image (false for zero and unallocated clusters) and how many bytes from
 * @off share that state (at least 1). Blocks briefly.
 */
int qimg_block_status(struct qimg *img, uint64_t off, bool *allocated,
		      uint64_t *len);

/** Result of qimg_check(). */
struct qimg_check_result {
	uint64_t leaks;        /* clusters with refcount > references */
	uint64_t corruptions;  /* refcount < references, bad pointers */
	uint64_t flag_errors;  /* wrong COPIED flags in the active tables */
	uint64_t repaired;     /* entries fixed by a repair */
};

/**
 * qimg_check — recomputes every qcow2 refcount from the metadata and
 * compares (and with @repair fixes) them. Raw images are always clean.
 * Must not race with I/O. Returns 0 or -errno (an error only when the check
 * itself could not run).
 */
int qimg_check(struct qimg *img, bool repair, struct qimg_check_result *res);

#endif
