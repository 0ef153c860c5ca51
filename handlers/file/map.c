/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * handlers/file/map.c — ;mmap=auto (the default): on a memory filesystem
 * (tmpfs, ramfs) reads and writes are copied out of / into a shared
 * mapping of the file on the ring thread, instead of going through
 * io_uring or pwritev2(). Same data (the page cache), but the copy is user
 * space's vector memcpy rather than the kernel's copy_to/from_user (plus
 * its per-page lookups), and there is no system call.
 *
 * Holes: a load from a hole of a tmpfs file allocates its page (a read
 * fault fills it), where pread() returns zeroes and allocates nothing. So
 * reads use the mapping only while the file is known to have no hole:
 * checked (st_blocks) when mapped, and given up for good (until the
 * next reconfig) when an UNMAP or WRITE SAME may punch one or a copy hits
 * SIGBUS. A thin image is therefore read the usual way and only written
 * through the mapping (a write fills a hole either way).
 *
 * Warm-up: the first touch of each page through the mapping is a page
 * fault on the ring thread. For a file without holes a helper thread
 * prefaults the page tables (MADV_POPULATE_WRITE, in chunks, stoppable)
 * right after the mapping is made; it stops before anything may punch a
 * hole, since populating a hole would allocate it.
 *
 * A store into a shared file mapping raises SIGBUS instead of returning an
 * error when the page cannot be had: the file was truncated behind our
 * back, or a hole must be filled and the tmpfs is full. Every copy runs
 * under a guard: a SIGBUS inside it jumps back, and the write is done
 * again the usual way, which reports the error (ENOSPC) or succeeds (a
 * truncated file grows again on a write; a read past its end reads zeroes). A SIGBUS outside a guard goes to the
 * handler that was installed before ours (default: the process dies).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "file.h"

/* prefault step of the warm-up thread: bounds how long stopping it waits */
#define FH_MAP_WARM_CHUNK ((size_t)8 << 20)

static struct sigaction fh_map_prev;
static pthread_once_t fh_map_once = PTHREAD_ONCE_INIT;
static int fh_map_install_err;
/* set while the thread copies into a mapping */
static __thread sigjmp_buf *volatile fh_map_guard;

/*
 * SIGBUS handler (any thread, async-signal context): inside a guarded copy
 * jump back to it; otherwise hand the signal to the previous disposition.
 */
static void fh_map_sigbus(int sig, siginfo_t *si, void *uc)
{
	sigjmp_buf *g = fh_map_guard;

	if (g) {
		fh_map_guard = NULL;
		siglongjmp(*g, 1);
	}
	if ((fh_map_prev.sa_flags & SA_SIGINFO) && fh_map_prev.sa_sigaction) {
		fh_map_prev.sa_sigaction(sig, si, uc);
		return;
	}
	if (fh_map_prev.sa_handler != SIG_DFL && fh_map_prev.sa_handler != SIG_IGN) {
		fh_map_prev.sa_handler(sig);
		return;
	}
	/* default: restore it; the faulting store runs again and kills us */
	sigaction(SIGBUS, &fh_map_prev, NULL);
}

/* Installs the SIGBUS handler once per process (pthread_once). */
static void fh_map_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = fh_map_sigbus;
	/* NODEFER: siglongjmp without restoring the mask leaves SIGBUS open */
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &fh_map_prev))
		fh_map_install_err = -errno;
}

/*
 * Warm-up thread: prefaults the page tables of the whole mapping, a chunk
 * at a time, until done or told to stop. Errors end it quietly (kernels
 * before 5.14 lack MADV_POPULATE_WRITE; a truncated file gives EFAULT):
 * the copies then fault the pages in themselves.
 */
static void *fh_map_warm_main(void *arg)
{
	struct fh_dev *d = arg;
	struct timespec t0, t1;
	size_t off, n;
	int err = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (off = 0; off < d->map_len; off += n) {
		if (atomic_load_explicit(&d->map_warm_stop, memory_order_relaxed))
			break;
		n = d->map_len - off < FH_MAP_WARM_CHUNK ? d->map_len - off : FH_MAP_WARM_CHUNK;
		if (madvise(d->map + off, n, MADV_POPULATE_WRITE) && errno != EINTR) {
			err = errno;
			break;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	tcmu_dev_dbg(d->dev, "file: prefaulted %zu of %zu MiB of the mapping in %lld ms%s%s",
		     off >> 20, d->map_len >> 20,
		     (long long)(t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000,
		     err ? ": " : "", err ? strerror(err) : "");
	return NULL;
}

/* Stops and joins the warm-up thread, if it runs. Waits for one chunk at most. */
static void fh_map_warm_stop(struct fh_dev *d)
{
	if (!d->map_warm_running)
		return;
	atomic_store(&d->map_warm_stop, true);
	pthread_join(d->map_warm, NULL);
	d->map_warm_running = false;
}

/*
 * Is every page of [0, @size) allocated? tmpfs counts a file's pages in
 * st_blocks, written or fallocate()d; SEEK_HOLE and mincore() cannot tell
 * (they see a fallocated page that was never written as a hole). A file
 * with pages past its end (fallocate KEEP_SIZE) and as many holes inside
 * would pass; nothing here makes such a file, and the cost of that mistake
 * is memory (a read fills a hole), not data.
 */
static bool fh_map_dense(const struct fh_dev *d, uint64_t size)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	struct stat st;

	return !fstat(d->fd, &st) && st.st_blocks >= 0 &&
	       (uint64_t)st.st_blocks * 512 >= (size + page - 1) / page * page;
}

/*
 * fh_map_open — maps the first @size bytes of the file shared, for the
 * ;mmap path on a memory filesystem (callers check). When the file has no
 * hole, reads use the mapping too and a thread starts prefaulting it.
 * Main thread (open, reconfig with the ring paused). Returns 0 or -errno
 * (no mapping then).
 */
int fh_map_open(struct fh_dev *d, uint64_t size)
{
	void *p;

	pthread_once(&fh_map_once, fh_map_install);
	if (fh_map_install_err)
		return fh_map_install_err;
	if (!size || size > SIZE_MAX)
		return -EINVAL;
	p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, d->fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	d->map = p;
	d->map_len = (size_t)size;
	d->map_reads = fh_map_dense(d, size);
	if (d->map_reads) {
		atomic_store(&d->map_warm_stop, false);
		d->map_warm_running = !pthread_create(&d->map_warm, NULL, fh_map_warm_main, d);
		if (d->map_warm_running)
			pthread_setname_np(d->map_warm, "tcmu-file-warm");
	}
	return 0;
}

/* fh_map_close — drops the mapping, if any. Main thread, ring idle; waits for the warm-up. */
void fh_map_close(struct fh_dev *d)
{
	fh_map_warm_stop(d);
	if (d->map)
		munmap(d->map, d->map_len);
	d->map = NULL;
	d->map_len = 0;
	d->map_reads = false;
}

/*
 * fh_map_holes_ahead — the file may get a hole (UNMAP, WRITE SAME about to
 * punch or zero a range): reads stop using the mapping and the warm-up
 * stops, so that neither allocates the hole again. Ring thread; may wait
 * for one warm-up chunk (the first seconds after open only).
 */
void fh_map_holes_ahead(struct fh_dev *d)
{
	if (!d->map_reads)
		return;
	d->map_reads = false;
	fh_map_warm_stop(d);
	tcmu_dev_dbg(d->dev, "file: ranges may be unmapped; reads no longer use the mapping");
}

/*
 * Copies the @c->left bytes at the cursor of @c to @file (a write) or from
 * it into the cursor's iovecs (a read).
 */
static __attribute__((noinline)) void fh_map_copy(char *file, const struct fh_cursor *c,
						  bool write)
{
	const struct iovec *v = c->iov + c->idx;
	size_t skip = c->skip, left = c->left;

	while (left) {
		size_t n = v->iov_len - skip;

		if (n > left)
			n = left;
		if (write)
			memcpy(file, (const char *)v->iov_base + skip, n);
		else
			memcpy((char *)v->iov_base + skip, file, n);
		file += n;
		left -= n;
		skip = 0;
		v++;
	}
}

/*
 * fh_map_rw — copies the whole transfer of @c (not advanced) into the
 * mapping (@write) or out of it. Ring thread; never blocks on I/O
 * (page-cache pages of a memory filesystem). Returns 0, -ERANGE (not
 * inside the mapping, or a read while the file may have holes) or -EFAULT
 * (a SIGBUS stopped the copy: the caller does the transfer again the usual
 * way; the file changed behind our back, so reads leave the mapping).
 */
int fh_map_rw(struct fh_dev *d, const struct fh_cursor *c, bool write)
{
	sigjmp_buf jb;

	if (!d->map || (!write && !d->map_reads) || c->off > d->map_len ||
	    c->left > d->map_len - c->off)
		return -ERANGE;
	if (sigsetjmp(jb, 0)) {
		/* the guard was cleared by the handler */
		fh_map_holes_ahead(d);
		return -EFAULT;
	}
	fh_map_guard = &jb;
	fh_map_copy(d->map + c->off, c, write);
	fh_map_guard = NULL;
	return 0;
}
