/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* qcow_test_util.c — see qcow_test_util.h. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "qcow_test_util.h"

static char dir[256];
volatile uint64_t *tu_pre_log;
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

const char *tu_dir(void)
{
	if (!dir[0]) {
		const char *t = getenv("TMPDIR");

		snprintf(dir, sizeof(dir), "%s/qcowtest.XXXXXX", t ? t : "/tmp");
		assert_non_null(mkdtemp(dir));
	}
	return dir;
}

void tu_cleanup(void)
{
	if (dir[0]) {
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", dir);
		dir[0] = '\0';
	}
}

const char *tu_p(const char *name)
{
	static char bufs[8][512];
	static int i;
	char *b = bufs[i++ % 8];

	snprintf(b, 512, "%s/%s", tu_dir(), name);
	return b;
}

int tu_sh(const char *fmt, ...)
{
	char *cmd;
	va_list ap;
	int st;

	va_start(ap, fmt);
	assert_true(vasprintf(&cmd, fmt, ap) >= 0);
	va_end(ap);
	st = system(cmd);
	if (st != 0 && getenv("QCOW_TEST_VERBOSE"))
		fprintf(stderr, "# command failed (%d): %s\n", st, cmd);
	free(cmd);
	if (st < 0 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

char *tu_out(const char *fmt, ...)
{
	char *cmd, *out = NULL;
	size_t len = 0;
	va_list ap;
	FILE *f, *m;
	int c;

	va_start(ap, fmt);
	assert_true(vasprintf(&cmd, fmt, ap) >= 0);
	va_end(ap);
	f = popen(cmd, "r");
	assert_non_null(f);
	m = open_memstream(&out, &len);
	while ((c = fgetc(f)) != EOF)
		fputc(c, m);
	fclose(m);
	pclose(f);
	free(cmd);
	return out;
}

bool tu_have_qemu(void)
{
	return tu_sh("qemu-img --version >/dev/null 2>&1 && "
		     "qemu-io --version >/dev/null 2>&1") == 0;
}

int tu_qcheck(const char *img)
{
	int r = tu_sh("qemu-img check -q '%s' >/dev/null 2>&1", img);

	if (r != 0)
		tu_sh("qemu-img check '%s' >&2", img);
	return r;
}

int tu_qcompare(const char *img, const char *raw)
{
	int r = tu_sh("qemu-img compare -q -F raw '%s' '%s' 2>&1", img, raw);

	if (r != 0)
		tu_sh("qemu-img compare -F raw '%s' '%s' >&2", img, raw);
	return r;
}

void tu_srand(uint64_t seed)
{
	rng = seed * 0x2545f4914f6cdd1dULL + 1;
}

uint64_t tu_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

void tu_fill(void *buf, size_t len)
{
	uint8_t *p = buf;
	uint64_t v = tu_rand() | 1;

	for (size_t i = 0; i < len; i++) {
		if (i % 8 == 0)
			v = v * 6364136223846793005ULL + 1442695040888963407ULL;
		p[i] = (uint8_t)(v >> (8 * (i % 8)));
	}
}

void tu_verify(struct qimg *img, const char *raw)
{
	uint64_t size = qimg_size(img), off = 0;
	int fd = open(raw, O_RDONLY);
	size_t max = 3 << 20;
	uint8_t *a = malloc(max), *b = malloc(max);

	assert_true(fd >= 0);
	assert_non_null(a);
	assert_non_null(b);
	while (off < size) {
		size_t len = 1 + tu_rand() % max;
		size_t cut = len > 2 ? 1 + tu_rand() % (len - 1) : len;
		struct iovec v[2] = {{a, cut}, {a + cut, len - cut}};
		ssize_t n;

		if (tu_rand() % 2)
			len = (len + 511) & ~511UL;
		if (len > max)
			len = max;
		if (len > size - off)
			len = size - off;
		if (cut > len)
			cut = len;
		v[0].iov_len = cut;
		v[1].iov_base = a + cut;
		v[1].iov_len = len - cut;
		assert_int_equal(qimg_read(img, off, len, v, 2), 0);
		n = pread(fd, b, len, (off_t)off);
		assert_true(n >= 0);
		if ((size_t)n < len)
			memset(b + n, 0, len - n);
		if (memcmp(a, b, len)) {
			size_t i = 0;

			while (a[i] == b[i])
				i++;
			fail_msg("engine read differs at byte %llu "
				 "(engine %02x, reference %02x)",
				 (unsigned long long)(off + i), a[i], b[i]);
		}
		off += len;
	}
	close(fd);
	free(a);
	free(b);
}

int tu_one_op(struct qimg *img, int reffd, const struct tu_wl *wl,
	      uint64_t *offp, uint64_t *lenp, int *kindp)
{
	uint64_t len = 1 + tu_rand() % wl->max_len, off;
	int kind = (int)(tu_rand() % 100) < wl->zero_pct
			   ? 1 + (int)(tu_rand() % 2)
			   : 0;
	uint8_t *buf;
	int ret;

	len = (len + wl->align - 1) / wl->align * wl->align;
	if (len > wl->span)
		len = wl->span;
	off = tu_rand() % (wl->span - len + 1);
	off = off / wl->align * wl->align;
	*offp = off;
	*lenp = len;
	if (tu_pre_log) {
		tu_pre_log[0] = off;
		tu_pre_log[1] = len;
	}
	*kindp = kind;
	buf = kind ? calloc(1, len) : malloc(len);
	assert_non_null(buf);
	if (kind == 0) {
		size_t cut = (size_t)(tu_rand() % len);
		struct iovec v[2] = {{buf, cut}, {buf + cut, len - cut}};

		tu_fill(buf, len);
		ret = qimg_write(img, off, len, v, 2, tu_rand() % 16 == 0);
	} else if (kind == 1) {
		ret = qimg_write_zeroes(img, off, len,
					tu_rand() % 2 ? QIMG_ZERO_MAY_UNMAP : 0);
	} else {
		ret = qimg_discard(img, off, len);
	}
	if (ret == 0 && reffd >= 0)
		assert_int_equal(pwrite(reffd, buf, len, (off_t)off),
				 (ssize_t)len);
	free(buf);
	return ret;
}

void tu_workload(struct qimg *img, const char *ref, const struct tu_wl *wl,
		 int nops)
{
	int fd = open(ref, O_RDWR);

	assert_true(fd >= 0);
	for (int i = 0; i < nops; i++) {
		uint64_t off, len;
		int kind, ret = tu_one_op(img, fd, wl, &off, &len, &kind);

		if (ret != 0)
			fail_msg("op %d (kind %d, %llu+%llu) failed: %d", i,
				 kind, (unsigned long long)off,
				 (unsigned long long)len, ret);
		if (i % 97 == 0)
			assert_int_equal(qimg_flush(img), 0);
	}
	close(fd);
}
