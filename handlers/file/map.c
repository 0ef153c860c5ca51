/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * handlers/file/map.c — ;mmap=on: reads and writes of a file on tmpfs or
 * ramfs copied out of / into a shared mapping of the file on the ring
 * thread, instead of io_uring or pwritev2(). Same data (the page cache),
 * but the copy is user space's vector memcpy rather than the kernel's
 * copy_to/from_user (plus its per-page write_begin/write_end), and there
 * is no system call. A read of a hole of a sparse file allocates its page
 * (tmpfs fills holes on a fault), so a thin image grows when read.
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

#include "file.h"

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
 * fh_map_open — maps the first @size bytes of the file shared, for
 * ;mmap=on on a memory filesystem (callers check). Main thread (open,
 * reconfig with the ring paused). Returns 0 or -errno (no mapping then).
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
	return 0;
}

/* fh_map_close — drops the mapping, if any. Main thread, ring idle. */
void fh_map_close(struct fh_dev *d)
{
	if (d->map)
		munmap(d->map, d->map_len);
	d->map = NULL;
	d->map_len = 0;
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
 * inside the mapping) or -EFAULT (a SIGBUS stopped the copy: the caller
 * does the transfer again the usual way).
 */
int fh_map_rw(struct fh_dev *d, const struct fh_cursor *c, bool write)
{
	sigjmp_buf jb;

	if (!d->map || c->off > d->map_len || c->left > d->map_len - c->off)
		return -ERANGE;
	if (sigsetjmp(jb, 0))
		return -EFAULT; /* the guard was cleared by the handler */
	fh_map_guard = &jb;
	fh_map_copy(d->map + c->off, c, write);
	fh_map_guard = NULL;
	return 0;
}
