/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/unit/test_pub_handler_file_cursor.c — the file handler's iovec
 * cursor, which resumes a read or write after a short transfer. Real short
 * transfers on a local filesystem happen only at end of file, so the
 * end-to-end tests cannot reach every case: here the handler's sources are
 * compiled in (uring.c without liburing: its stubs) and the cursor is
 * driven with random iovec lists and random short transfers.
 */
#include <limits.h>

#include "test_pub_handler_common.h"

#include "../../handlers/file/file.c"
#include "../../handlers/file/map.c"
#include "../../handlers/file/pool.c"
#include "../../handlers/file/uring.c"

/* A random iovec list over @buf of @total bytes; some entries are empty. */
static size_t make_iov(struct iovec *iov, size_t max, uint8_t *buf, size_t total,
		       size_t maxlen, uint64_t *seed)
{
	size_t n = 0, off = 0;

	while (off < total && n < max) {
		size_t len = th_rand(seed) % 7 == 0 ? 0 : 1 + th_rand(seed) % maxlen;

		if (len > total - off || n == max - 1)
			len = total - off;
		iov[n].iov_base = buf + off;
		iov[n].iov_len = len;
		off += len;
		n++;
	}
	return n;
}

/*
 * Transfers @len bytes out of the iovecs in random short pieces, as a
 * readv/writev that keeps stopping early would; returns what arrived.
 */
static void drain(struct fh_cursor *c, uint8_t *out, uint64_t *seed)
{
	uint64_t start = c->off;

	while (c->left) {
		unsigned int cnt, i;
		const struct iovec *w = fh_cursor_window(c, &cnt);
		size_t wbytes = 0, n, done = 0;

		assert_true(cnt >= 1 && cnt <= IOV_MAX);
		for (i = 0; i < cnt; i++)
			wbytes += w[i].iov_len;
		assert_true(wbytes >= 1); /* 0 bytes would look like end of file */
		assert_true(wbytes <= c->left);
		n = th_rand(seed) % 3 ? 1 + th_rand(seed) % wbytes : wbytes;
		for (i = 0; i < cnt && done < n; i++) {
			size_t k = w[i].iov_len < n - done ? w[i].iov_len : n - done;

			memcpy(out + (c->off - start) + done, w[i].iov_base, k);
			done += k;
		}
		fh_cursor_advance(c, n);
	}
}

static void test_short_transfers(void **state)
{
	enum { TOTAL = 64 * 1024 };
	static uint8_t src[TOTAL], out[TOTAL];
	static struct iovec iov[4096];
	uint64_t seed = 0xabcdef;
	int round;

	th_fill(src, sizeof(src), &seed);
	for (round = 0; round < 2000; round++) {
		size_t total = 1 + th_rand(&seed) % TOTAL;
		size_t maxlen = 1 + th_rand(&seed) % (round % 2 ? 8192 : 64);
		size_t n = make_iov(iov, 4096, src, total, maxlen, &seed);
		size_t len = th_rand(&seed) % 4 ? total : 1 + th_rand(&seed) % total;
		struct fh_cursor c = { .iov = iov, .iovcnt = n, .off = 1000, .left = len };

		memset(out, 0, sizeof(out));
		drain(&c, out, &seed);
		assert_int_equal(c.left, 0);
		assert_int_equal(c.off, 1000 + len);
		assert_memory_equal(out, src, len);
	}
}

static void test_iov_max(void **state)
{
	static uint8_t buf[3000 * 8];
	static struct iovec iov[3000];
	struct fh_cursor c = { .iov = iov, .iovcnt = 3000, .left = sizeof(buf) };
	unsigned int cnt, windows = 0;
	int i;

	for (i = 0; i < 3000; i++)
		iov[i] = (struct iovec){ buf + 8 * i, 8 };
	while (c.left) {
		const struct iovec *w = fh_cursor_window(&c, &cnt);

		assert_true(cnt <= IOV_MAX);
		assert_ptr_equal(w, &iov[c.idx]); /* whole iovecs: no copy */
		fh_cursor_advance(&c, (size_t)cnt * 8);
		windows++;
	}
	assert_int_equal(windows, (3000 + IOV_MAX - 1) / IOV_MAX);
}

static void test_zero_rest(void **state)
{
	uint8_t a[100], b[50], c3[200];
	struct iovec iov[3] = { { a, sizeof(a) }, { b, sizeof(b) }, { c3, sizeof(c3) } };
	struct fh_cursor c = { .iov = iov, .iovcnt = 3, .left = 300 };
	uint8_t zero[200] = { 0 }, keep_a[100], keep_c[200];
	uint64_t seed = 3;

	th_fill(a, sizeof(a), &seed);
	th_fill(b, sizeof(b), &seed);
	th_fill(c3, sizeof(c3), &seed);
	memcpy(keep_a, a, sizeof(a));
	memcpy(keep_c, c3, sizeof(c3));
	fh_cursor_advance(&c, 120); /* all of a, 20 bytes of b */
	fh_cursor_zero_rest(&c);    /* the rest of the 300 bytes */
	assert_int_equal(c.left, 0);
	assert_memory_equal(a, keep_a, sizeof(a));
	assert_memory_equal(b + 20, zero, 30);
	assert_memory_equal(c3, zero, 150);
	assert_memory_equal(c3 + 150, keep_c + 150, 50); /* past the length */
}

static void test_config_parse(void **state)
{
	struct fh_config c;
	char *reason = NULL;

	assert_int_equal(fh_config_parse("/a/b.img;direct;engine=threads;sync=fsync;threads=7",
					 &c, &reason), 0);
	assert_string_equal(c.path, "/a/b.img");
	assert_true(c.direct);
	assert_int_equal(c.engine, FH_ENGINE_THREADS);
	assert_true(c.full_fsync);
	assert_int_equal(c.threads, 7);
	fh_config_free(&c);
	assert_int_equal(fh_config_parse("/a;;", &c, &reason), 0);
	assert_string_equal(c.path, "/a");
	assert_int_equal(c.engine, FH_ENGINE_AUTO);
	fh_config_free(&c);
	/* without liburing compiled in, engine=uring is refused */
	assert_int_equal(fh_config_parse("/a;engine=uring", &c, &reason), -EINVAL);
	assert_non_null(reason);
	free(reason);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_short_transfers),
		cmocka_unit_test(test_iov_max),
		cmocka_unit_test(test_zero_rest),
		cmocka_unit_test(test_config_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
