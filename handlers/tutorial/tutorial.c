/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * handlers/tutorial/tutorial.c — the smallest useful tcmud handler, written
 * to be read. It serves a sparse in-memory disk: memory is allocated only
 * for the parts that were written, and everything else reads as zeroes.
 * Read README.md next to this file first; then read this file top to
 * bottom.
 *
 * A handler is a shared object (handler_<subtype>.so) that fills in one
 * struct tcmu_handler and registers it with TCMU_REGISTER_HANDLER() at the
 * bottom of the file. The daemon dlopen()s it, finds the one exported
 * symbol, and from then on:
 *
 *   - when someone creates a LUN "user/<name>" with a config string
 *     "tutorial/<something>", the daemon calls our check_config() (when
 *     asked by targetcli), then open() for the new device;
 *   - the device's ring thread parses the SCSI commands the kernel sends.
 *     The SCSI core inside libtcmu answers INQUIRY, READ CAPACITY, MODE
 *     SENSE and friends by itself and turns data commands into calls of our
 *     read(), write(), unmap() ... callbacks;
 *   - when the LUN goes away, close().
 *
 * Threads. We declare TCMU_CONCURRENCY_SERIALIZED below: the daemon gives
 * each device one worker thread, and that thread calls our I/O callbacks
 * one at a time. Two callbacks of the same device never run at once, so
 * this handler needs no lock at all, and a callback may block (a real
 * handler would do its pread() here). Different devices have different
 * workers, so state must live in the per-device structure, never in
 * globals. Handlers that want more speed declare PARALLEL (a pool of
 * workers; then the handler locks what it shares) or ASYNC (callbacks run
 * on the ring thread and must not block; see handlers/ram and
 * handlers/file).
 *
 * Completion. An I/O callback either returns a negative errno (the daemon
 * fails the command with matching sense data), or returns 0 after it has
 * called tcmu_cmd_done(cmd, result) — now, as here, or later from any
 * thread. Exactly one of the two, exactly once.
 *
 * Build it out of tree with:
 *     cc -shared -fPIC -fvisibility=hidden -o handler_tutorial.so \
 *        tutorial.c $(pkg-config --cflags --libs tcmu)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* asprintf() */
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <tcmu/handler.h>

/*
 * The disk is cut into chunks of TUT_CHUNK bytes. chunk[i] is NULL until
 * something non-zero is written into chunk i; a NULL chunk reads as zeroes.
 */
#define TUT_CHUNK (64 * 1024)

/* Everything we know about one device. Found with tcmu_dev_get_private(). */
struct tut_disk {
	uint64_t size;           /* bytes, from tcmu_dev_get_size() */
	uint64_t nr_chunks;
	unsigned char **chunk;   /* nr_chunks pointers, NULL = all zeroes */
};

/*
 * check_config — is "tutorial/<cfgstring>" something we can serve? Our
 * disk needs no configuration, so we accept any name without ';' options.
 * Called from the main thread (targetcli asks over D-Bus) before any
 * device exists; it must not change anything. Returns true, or false with
 * a malloc'ed *reason for the user.
 */
static bool tut_check_config(const char *cfgstring, char **reason)
{
	if (cfgstring && strchr(cfgstring, ';')) {
		if (asprintf(reason, "tutorial: takes no options: '%s'", cfgstring) < 0)
			*reason = NULL;
		return false;
	}
	return true;
}

/*
 * open — prepare a new device. The size, block size and config string
 * come from accessors. Main thread, before the ring thread starts; it may
 * block. Keep what you need with tcmu_dev_set_private(). Returns 0, or
 * -errno to refuse the device (the kernel is told).
 */
static int tut_open(struct tcmu_device *dev, bool reopen)
{
	struct tut_disk *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	d->size = tcmu_dev_get_size(dev);
	d->nr_chunks = (d->size + TUT_CHUNK - 1) / TUT_CHUNK;
	d->chunk = calloc(d->nr_chunks ? d->nr_chunks : 1, sizeof(*d->chunk));
	if (!d->chunk) {
		free(d);
		return -ENOMEM;
	}
	/*
	 * @reopen is true when the daemon restarted and found the device
	 * still there. A memory disk has nothing to recover: it starts empty.
	 */
	tcmu_dev_info(dev, "tutorial: %llu bytes of sparse memory%s",
		      (unsigned long long)d->size, reopen ? " (reopened, empty)" : "");
	tcmu_dev_set_private(dev, d);
	return 0;
}

/*
 * close — free what open() allocated. Main thread, after the ring thread
 * stopped and every command completed, so nothing else can run now.
 */
static void tut_close(struct tcmu_device *dev)
{
	struct tut_disk *d = tcmu_dev_get_private(dev);
	uint64_t i;

	for (i = 0; i < d->nr_chunks; i++)
		free(d->chunk[i]);
	free(d->chunk);
	free(d);
	tcmu_dev_set_private(dev, NULL);
}

/*
 * Only the worker thread changes chunk pointers, but get_lba_status()
 * (below) may look at them from another thread at the same time, so the
 * pointer itself is stored atomically. The chunk contents need nothing.
 */
static void tut_set_chunk(struct tut_disk *d, uint64_t ci, unsigned char *p)
{
	__atomic_store_n(&d->chunk[ci], p, __ATOMIC_RELEASE);
}

/*
 * Copy @len bytes between the disk at byte @off and the iovecs. The
 * iovecs point straight into the memory the kernel shares with us (the
 * "data area"); we copy without any intermediate buffer. Walks chunk by
 * chunk and iovec by iovec, whichever ends first.
 */
static int tut_copy(struct tut_disk *d, const struct iovec *iov, size_t iovcnt,
		    uint64_t off, size_t len, bool to_disk)
{
	size_t vi = 0, vskip = 0;

	while (len) {
		uint64_t ci = off / TUT_CHUNK;
		size_t coff = off % TUT_CHUNK;
		size_t n = TUT_CHUNK - coff;
		unsigned char *buf;

		if (vi == iovcnt)
			return -EINVAL; /* fewer iovec bytes than @len */
		if (n > len)
			n = len;
		if (n > iov[vi].iov_len - vskip)
			n = iov[vi].iov_len - vskip;
		buf = (unsigned char *)iov[vi].iov_base + vskip;

		if (to_disk) {
			if (!d->chunk[ci]) {
				/* first write here: allocate (zeroed) */
				unsigned char *p = calloc(1, TUT_CHUNK);

				if (!p)
					return -ENOMEM;
				tut_set_chunk(d, ci, p);
			}
			memcpy(d->chunk[ci] + coff, buf, n);
		} else if (d->chunk[ci]) {
			memcpy(buf, d->chunk[ci] + coff, n);
		} else {
			memset(buf, 0, n); /* never written: zeroes */
		}
		off += n;
		len -= n;
		vskip += n;
		if (vskip == iov[vi].iov_len) {
			vi++;
			vskip = 0;
		}
	}
	return 0;
}

/*
 * read — READ(6/10/12/16) and friends: fill @iov with @length bytes from
 * byte @offset. The SCSI core has already checked that the LBA range fits
 * the device; we check again because memory safety is cheap.
 *
 * SERIALIZED: called on the device's worker thread, one at a time; may
 * block. We finish at once, so we call tcmu_cmd_done() and return 0. Had
 * we returned -EINVAL instead, we must NOT call tcmu_cmd_done(): the
 * daemon fails the command for us.
 */
static int tut_read(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		    const struct iovec *iov, size_t iovcnt, uint64_t offset,
		    size_t length, unsigned int flags)
{
	struct tut_disk *d = tcmu_dev_get_private(dev);
	int r;

	if (offset > d->size || length > d->size - offset)
		return -ERANGE; /* becomes LOGICAL BLOCK ADDRESS OUT OF RANGE */
	r = tut_copy(d, iov, iovcnt, offset, length, false);
	if (r)
		return r;
	tcmu_cmd_done(cmd, 0);
	return 0;
}

/*
 * write — WRITE(6/10/12/16): store @length bytes from @iov at @offset.
 * With TCMU_IO_FUA in @flags the data must be durable when we complete;
 * memory is as durable as we can make it, so the flag changes nothing
 * here. Same thread and completion rules as read. A failure after a
 * partial copy is fine: SCSI allows a failed write to leave any mix of old
 * and new data.
 */
static int tut_write(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		     const struct iovec *iov, size_t iovcnt, uint64_t offset,
		     size_t length, unsigned int flags)
{
	struct tut_disk *d = tcmu_dev_get_private(dev);
	int r;

	if (offset > d->size || length > d->size - offset)
		return -ERANGE;
	r = tut_copy(d, iov, iovcnt, offset, length, true);
	/*
	 * Here we complete with the result instead of returning it: both are
	 * allowed. Out of memory becomes a retryable TASK SET FULL.
	 */
	tcmu_cmd_done(cmd, r);
	return 0;
}

/*
 * unmap — UNMAP and WRITE SAME with the UNMAP bit: forget @nr byte ranges.
 * Whole chunks are freed; partial chunks are zeroed, so that unmapped
 * blocks read back as zeroes as .unmap_zeroes promises below. Same thread
 * and completion rules as read.
 */
static int tut_unmap(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		     const struct tcmu_range *ranges, size_t nr)
{
	struct tut_disk *d = tcmu_dev_get_private(dev);
	size_t i;

	for (i = 0; i < nr; i++) {
		uint64_t off = ranges[i].offset, len = ranges[i].length;

		if (off > d->size || len > d->size - off)
			return -ERANGE;
		while (len) {
			uint64_t ci = off / TUT_CHUNK;
			size_t coff = off % TUT_CHUNK;
			size_t n = TUT_CHUNK - coff < len ? TUT_CHUNK - coff : len;

			if (n == TUT_CHUNK || (coff == 0 && off + n == d->size)) {
				unsigned char *p = d->chunk[ci];

				tut_set_chunk(d, ci, NULL);
				free(p);
			} else if (d->chunk[ci]) {
				memset(d->chunk[ci] + coff, 0, n);
			}
			off += n;
			len -= n;
		}
	}
	tcmu_cmd_done(cmd, 0);
	return 0;
}

/*
 * get_lba_status — GET LBA STATUS asks which blocks hold data. We report
 * a chunk as mapped when it is allocated, and how many bytes from @offset
 * share that state. Any thread; may block briefly. Note that this one is
 * not an I/O callback: it may run at the same time as read/write on
 * another thread. Here it only reads pointers (atomically, see
 * tut_set_chunk) and never what they point to; a stale answer is harmless
 * for GET LBA STATUS, which is only a hint. Returns 0 or -errno.
 */
static int tut_get_lba_status(struct tcmu_device *dev, uint64_t offset,
			      bool *mapped, uint64_t *extent_len)
{
	struct tut_disk *d = tcmu_dev_get_private(dev);
	uint64_t ci, end;

	if (offset >= d->size)
		return -ERANGE;
	ci = offset / TUT_CHUNK;
	*mapped = __atomic_load_n(&d->chunk[ci], __ATOMIC_ACQUIRE) != NULL;
	for (end = ci + 1; end < d->nr_chunks; end++)
		if ((__atomic_load_n(&d->chunk[end], __ATOMIC_ACQUIRE) != NULL) != *mapped)
			break;
	end *= TUT_CHUNK;
	*extent_len = (end < d->size ? end : d->size) - offset;
	return 0;
}

/*
 * The handler itself. Callbacks left NULL are "not implemented": the SCSI
 * core then emulates what it can (WRITE SAME becomes writes, COMPARE AND
 * WRITE becomes a read and a write under a lock) and rejects the rest.
 * We leave out flush(): memory has no cache to flush, and without flush()
 * the LUN reports its write cache as disabled.
 */
static struct tcmu_handler tut_handler = {
	.subtype = "tutorial",
	.name = "Tutorial: sparse in-memory disk",
	.cfg_desc = "Any name, e.g. tutorial/demo (no options)",
	.concurrency = TCMU_CONCURRENCY_SERIALIZED,
	.check_config = tut_check_config,
	.open = tut_open,
	.close = tut_close,
	.read = tut_read,
	.write = tut_write,
	.unmap = tut_unmap,
	.get_lba_status = tut_get_lba_status,
	.unmap_zeroes = true,   /* unmapped blocks read as zeroes */
	.nonrotational = true,  /* no seek penalty: tells the initiator */
};

/*
 * Defines tcmu_handler_entry(), the only symbol this .so exports (we build
 * with -fvisibility=hidden). It stamps the struct with its size and the
 * API version so that a newer daemon knows which fields we have.
 */
TCMU_REGISTER_HANDLER(tut_handler)
