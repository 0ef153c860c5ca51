/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * daemon/util.h — small helpers shared by the daemon modules: cleanup
 * attributes (systemd style) and errno-preserving closers.
 */
#ifndef TCMUD_UTIL_H
#define TCMUD_UTIL_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* freep — cleanup helper: free(*p). */
static inline void freep(void *p)
{
	free(*(void **)p);
}

/* closep — cleanup helper: close(*fd) when >= 0, keeping errno. */
static inline void closep(int *fd)
{
	int saved = errno;

	if (*fd >= 0)
		close(*fd);
	errno = saved;
}

/* fclosep — cleanup helper: fclose(*f) when set, keeping errno. */
static inline void fclosep(FILE **f)
{
	int saved = errno;

	if (*f)
		fclose(*f);
	errno = saved;
}

/* steal_ptr — returns *p and sets it to NULL (ownership transfer). */
#define steal_ptr(p)                      \
	({                                \
		__typeof__(*(p)) _tmp = *(p); \
		*(p) = NULL;              \
		_tmp;                     \
	})

/* steal_fd — returns *fd and sets it to -1. */
static inline int steal_fd(int *fd)
{
	int r = *fd;

	*fd = -1;
	return r;
}

#endif
