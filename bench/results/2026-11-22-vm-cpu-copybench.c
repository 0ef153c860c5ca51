/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench/results/2026-11-22-vm-cpu-copybench.c — what a copy and a system
 * call cost in the TCG test VM (docs/tuning.md, "Where the daemon's CPU
 * goes"). Not part of the build:
 *
 *   gcc -O2 -o /tmp/copybench bench/results/2026-11-22-vm-cpu-copybench.c
 *   tests/vm/vm-run -c 1 -m 1G -- '/tmp/copybench 4096 20000 /dev/shm/x; \
 *       /tmp/copybench 1048576 200 /dev/shm/x'
 *
 * Prints ns per operation of BYTES: `rep movsb` (what the kernel's memcpy
 * and copy_*_user use on a CPU with ERMS), an SSE2 loop, glibc memcpy, an
 * empty system call, and pread / pwrite of a tmpfs file.
 */
#define _GNU_SOURCE
#include <emmintrin.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define AREA (1 << 20)

/* now_ns — CLOCK_MONOTONIC in ns. */
static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* copy_movsb — copies @n bytes with one `rep movsb`. */
static void copy_movsb(void *d, const void *s, size_t n)
{
	__asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
}

/* copy_sse — copies @n bytes (a multiple of 64) with 16-byte moves. */
static void copy_sse(void *d, const void *s, size_t n)
{
	__m128i *dd = d;
	const __m128i *ss = s;

	for (size_t i = 0; i < n / 16; i += 4) {
		__m128i a = _mm_loadu_si128(ss + i), b = _mm_loadu_si128(ss + i + 1);
		__m128i c = _mm_loadu_si128(ss + i + 2), e = _mm_loadu_si128(ss + i + 3);

		_mm_storeu_si128(dd + i, a);
		_mm_storeu_si128(dd + i + 1, b);
		_mm_storeu_si128(dd + i + 2, c);
		_mm_storeu_si128(dd + i + 3, e);
	}
}

/* main — BYTES ITERATIONS FILE; prints one line per method. 0 or 1. */
int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 0) : 4096;
	int it = argc > 2 ? atoi(argv[2]) : 20000, i, fd;
	char *a = aligned_alloc(4096, AREA), *b = aligned_alloc(4096, AREA);
	size_t span = AREA - n + 1;
	double t;

	if (!a || !b || n > AREA || n % 64)
		return 1;
	memset(a, 1, AREA);
	memset(b, 2, AREA);
	t = now_ns();
	for (i = 0; i < it; i++)
		copy_movsb(b + (i & 63) * 4096 % span, a, n);
	printf("rep movsb %zu: %.0f ns\n", n, (now_ns() - t) / it);
	t = now_ns();
	for (i = 0; i < it; i++)
		copy_sse(b + (i & 63) * 4096 % span, a, n);
	printf("sse loop  %zu: %.0f ns\n", n, (now_ns() - t) / it);
	t = now_ns();
	for (i = 0; i < it; i++)
		memcpy(b + (i & 63) * 4096 % span, a, n);
	printf("memcpy    %zu: %.0f ns\n", n, (now_ns() - t) / it);
	t = now_ns();
	for (i = 0; i < it; i++)
		syscall(SYS_getppid);
	printf("getppid: %.0f ns\n", (now_ns() - t) / it);
	fd = open(argc > 3 ? argv[3] : "/dev/shm/copybench", O_RDWR | O_CREAT, 0600);
	if (fd < 0 || pwrite(fd, a, AREA, 0) != AREA)
		return 1;
	t = now_ns();
	for (i = 0; i < it; i++)
		if (pread(fd, b, n, (i & 63) * 4096 % span) < 0)
			return 1;
	printf("pread     %zu: %.0f ns\n", n, (now_ns() - t) / it);
	t = now_ns();
	for (i = 0; i < it; i++)
		if (pwrite(fd, a, n, (i & 63) * 4096 % span) < 0)
			return 1;
	printf("pwrite    %zu: %.0f ns\n", n, (now_ns() - t) / it);
	t = now_ns();
	for (i = 0; i < it; i++)
		if (pread(fd, b, 1, 0) < 0)
			return 1;
	printf("pread 1B: %.0f ns\n", (now_ns() - t) / it);
	close(fd);
	return 0;
}
