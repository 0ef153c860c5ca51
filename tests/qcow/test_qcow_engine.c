/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_qcow_engine.c — the qcow image engine against qemu-img: images that
 * qemu-img/qemu-io make are read correctly (compared with qemu-img convert
 * -O raw), images we write pass qemu-img check and compare equal to a raw
 * reference, snapshots survive, crashes leave no corruption, concurrent
 * I/O is safe, and damaged images are refused cleanly.
 *
 * Environment: QCOW_TEST_SEED=<n> replays a run; QCOW_TEST_LONG=1 runs
 * more iterations.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "qcow2.h"
#include "qcow_test_util.h"

static uint64_t seed;
static bool longrun;

#define MB (1024ULL * 1024)

/* Opens @path with the engine or fails the test with the reason. */
static struct qimg *xopen(const char *path, unsigned int flags)
{
	char err[QIMG_ERR_LEN] = "";
	struct qimg *img = NULL;
	int ret = qimg_open(path, flags, &img, err);

	if (ret)
		fail_msg("qimg_open(%s): %d: %s", path, ret, err);
	return img;
}

/* Expects qimg_open() to fail with a reason containing @needle. */
static void expect_refused(const char *path, unsigned int flags,
			   const char *needle)
{
	char err[QIMG_ERR_LEN] = "";
	struct qimg *img = NULL;
	int ret = qimg_open(path, flags, &img, err);

	if (ret == 0) {
		qimg_close(img);
		fail_msg("%s: opened, expected a refusal (%s)", path, needle);
	}
	assert_non_null(img == NULL ? err : NULL);
	if (!strstr(err, needle))
		fail_msg("%s: reason '%s' lacks '%s'", path, err, needle);
}

static void xcheck_clean(struct qimg *img)
{
	struct qimg_check_result r;

	assert_int_equal(qimg_check(img, false, &r), 0);
	if (r.leaks || r.corruptions || r.flag_errors)
		fail_msg("engine check: %llu leaks, %llu corruptions, %llu "
			 "flag errors",
			 (unsigned long long)r.leaks,
			 (unsigned long long)r.corruptions,
			 (unsigned long long)r.flag_errors);
}

/* Fills an image with a mix of qemu-io made content: data, zero
 * clusters, discarded clusters, compressed clusters. */
static void populate(const char *img, uint64_t cs, uint64_t size)
{
	uint64_t c2 = 2 * cs > MB ? 2 * cs : MB;

	assert_int_equal(
		tu_sh("qemu-io -f qcow2 -c 'write -P 0x11 0 %llu' "
		      "-c 'write -P 0x22 %llu 3k' "
		      "-c 'write -z %llu %llu' "
		      "-c 'write -P 0x33 %llu %llu' "
		      "-c 'discard %llu %llu' "
		      "-c 'write -c -P 0x44 %llu %llu' "
		      "-c 'write -c -P 0x55 %llu %llu' "
		      "-c 'write -P 0x66 %llu 1k' "
		      "'%s' >/dev/null",
		      (unsigned long long)(cs + cs / 2),
		      (unsigned long long)(c2 + 1024),
		      (unsigned long long)(2 * c2),
		      (unsigned long long)cs,
		      (unsigned long long)(3 * c2),
		      (unsigned long long)(2 * cs),
		      (unsigned long long)(3 * c2),
		      (unsigned long long)cs,
		      (unsigned long long)(4 * c2),
		      (unsigned long long)cs,
		      (unsigned long long)(4 * c2 + cs),
		      (unsigned long long)cs,
		      (unsigned long long)(size - 1024 - 512), img),
		0);
}

struct cfg {
	const char *opts;
	uint64_t cs;
};

static const struct cfg configs[] = {
	{"compat=0.10,cluster_size=65536", 65536},
	{"compat=1.1,cluster_size=65536", 65536},
	{"cluster_size=512", 512},
	{"cluster_size=4096,refcount_bits=1", 4096},
	{"cluster_size=4096,refcount_bits=2", 4096},
	{"cluster_size=4096,refcount_bits=4", 4096},
	{"cluster_size=4096,refcount_bits=8", 4096},
	{"cluster_size=4096,refcount_bits=32", 4096},
	{"cluster_size=512,refcount_bits=64", 512},
	{"cluster_size=2M", 2 * MB},
	{"lazy_refcounts=on", 65536},
	{"extended_l2=on,cluster_size=65536", 65536},
	{"extended_l2=on,cluster_size=16384,refcount_bits=4", 16384},
	{"compat=0.10,cluster_size=1024", 1024},
};

/* Every configuration, written by qemu-io, reads back exactly. */
static void test_read_matrix(void **state)
{
	for (size_t i = 0; i < sizeof(configs) / sizeof(configs[0]); i++) {
		const char *img = tu_p("r.qcow2"), *raw = tu_p("r.raw");
		uint64_t size = configs[i].cs >= MB ? 32 * MB : 16 * MB;
		struct qimg *q;

		assert_int_equal(tu_sh("qemu-img create -q -f qcow2 -o %s '%s' "
				       "%llu",
				       configs[i].opts, img,
				       (unsigned long long)size),
				 0);
		populate(img, configs[i].cs, size);
		assert_int_equal(tu_sh("qemu-img convert -O raw '%s' '%s'",
				       img, raw),
				 0);
		q = xopen(img, QIMG_RDONLY);
		assert_int_equal(qimg_size(q), size);
		assert_int_equal(qimg_format(q), QIMG_FMT_QCOW2);
		tu_verify(q, raw);
		xcheck_clean(q);
		assert_int_equal(qimg_close(q), 0);
	}
}

/* zstd images: read when built with libzstd, refused clearly otherwise. */
static void test_zstd(void **state)
{
	const char *img = tu_p("z.qcow2"), *raw = tu_p("z.raw");

	if (tu_sh("qemu-img create -q -f qcow2 -o compression_type=zstd "
		  "'%s' 8M 2>/dev/null",
		  img)) {
		skip();
	}
	populate(img, 65536, 8 * MB);
	assert_int_equal(tu_sh("qemu-img convert -O raw '%s' '%s'", img, raw),
			 0);
#ifdef HAVE_ZSTD
	{
		struct qimg *q = xopen(img, 0);
		struct tu_wl wl = {8 * MB, 512, 200000, 10};

		tu_verify(q, raw);
		tu_workload(q, raw, &wl, 100);
		assert_int_equal(qimg_close(q), 0);
		assert_int_equal(tu_qcheck(img), 0);
		assert_int_equal(tu_qcompare(img, raw), 0);
	}
#else
	expect_refused(img, QIMG_RDONLY, "zstd");
#endif
}

/* Random writes, zeroes and discards through the engine: qemu-img check
 * is clean and the image equals the raw reference. */
static void run_write_cfg(const char *opts, uint64_t cs, uint64_t size,
			  int nops, uint32_t align, bool prefill)
{
	const char *img = tu_p("w.qcow2"), *raw = tu_p("w.raw");
	struct tu_wl wl = {size, align, (uint32_t)(3 * cs + 70000), 15};
	struct qimg *q;

	assert_int_equal(tu_sh("qemu-img create -q -f qcow2 -o %s '%s' %llu",
			       opts, img, (unsigned long long)size),
			 0);
	if (prefill)
		populate(img, cs, size);
	assert_int_equal(tu_sh("qemu-img convert -O raw '%s' '%s'", img, raw),
			 0);
	q = xopen(img, 0);
	tu_workload(q, raw, &wl, nops);
	tu_verify(q, raw);
	assert_int_equal(qimg_flush(q), 0);
	assert_int_equal(qimg_close(q), 0);
	if (tu_qcheck(img) != 0)
		fail_msg("qemu-img check failed for %s (seed %llu)", opts,
			 (unsigned long long)seed);
	assert_int_equal(tu_qcompare(img, raw), 0);
	q = xopen(img, QIMG_RDONLY);
	xcheck_clean(q);
	qimg_close(q);
}

static void test_write_matrix(void **state)
{
	int n = longrun ? 600 : 100;

	for (size_t i = 0; i < sizeof(configs) / sizeof(configs[0]); i++) {
		uint64_t size = configs[i].cs >= MB ? 32 * MB : 8 * MB;

		run_write_cfg(configs[i].opts, configs[i].cs, size, n,
			      i % 3 == 2 ? 1 : 512, i % 2 == 0);
	}
}

/* Small clusters and 64-bit refcounts: many refcount blocks and several
 * refcount table growths. */
static void test_refcount_growth(void **state)
{
	const char *img = tu_p("g.qcow2"), *raw = tu_p("g.raw");
	uint64_t size = 24 * MB, rt_before, rt_after;
	struct qimg *q;
	char *s;

	assert_int_equal(tu_sh("qemu-img create -q -f qcow2 -o "
			       "cluster_size=512,refcount_bits=64 '%s' %llu",
			       img, (unsigned long long)size),
			 0);
	assert_int_equal(tu_sh("truncate -s %llu '%s'",
			       (unsigned long long)size, raw),
			 0);
	s = tu_out("od -An -j48 -N8 -tx1 '%s' | tr -d ' \\n'", img);
	rt_before = strtoull(s, NULL, 16);
	free(s);
	q = xopen(img, 0);
	{
		/* Dense sequential fill, then random rewrites. */
		uint8_t *buf = malloc(MB);
		int fd = open(raw, O_RDWR);
		struct tu_wl wl = {size, 512, 100000, 10};

		for (uint64_t off = 0; off < size; off += MB) {
			struct iovec v = {buf, MB};

			tu_fill(buf, MB);
			assert_int_equal(qimg_write(q, off, MB, &v, 1, false), 0);
			assert_int_equal(pwrite(fd, buf, MB, (off_t)off), (ssize_t)MB);
		}
		close(fd);
		free(buf);
		tu_workload(q, raw, &wl, 100);
	}
	assert_int_equal(qimg_close(q), 0);
	s = tu_out("od -An -j48 -N8 -tx1 '%s' | tr -d ' \\n'", img);
	rt_after = strtoull(s, NULL, 16);
	free(s);
	assert_true(rt_after != rt_before); /* the table moved: it grew */
	assert_int_equal(tu_qcheck(img), 0);
	assert_int_equal(tu_qcompare(img, raw), 0);
}

/* Compressed clusters rewritten by partial writes. */
static void test_compressed_rewrite(void **state)
{
	const char *img = tu_p("c.qcow2"), *src = tu_p("c.src"),
		   *raw = tu_p("c.raw");
	uint64_t size = 8 * MB;
	struct tu_wl wl = {size, 512, 100000, 10};
	struct qimg *q;

	/* A compressible source, converted with compression. */
	assert_int_equal(tu_sh("yes 'compressible text for qcow2' | head -c "
			       "%llu > '%s'",
			       (unsigned long long)size, src),
			 0);
	assert_int_equal(tu_sh("qemu-img convert -q -c -O qcow2 -o "
			       "cluster_size=65536 -f raw '%s' '%s'",
			       src, img),
			 0);
	assert_int_equal(tu_sh("cp '%s' '%s'", src, raw), 0);
	q = xopen(img, 0);
	tu_verify(q, raw);
	tu_workload(q, raw, &wl, 200);
	assert_int_equal(qimg_close(q), 0);
	assert_int_equal(tu_qcheck(img), 0);
	assert_int_equal(tu_qcompare(img, raw), 0);
}

/* A chain raw <- qcow2 <- qcow2 (and extended L2): the top is written,
 * the lower layers stay untouched. */
static void test_backing_chain(void **state)
{
	const char *base = tu_p("base.raw"), *mid = tu_p("mid.qcow2"),
		   *top = tu_p("top.qcow2"), *raw = tu_p("top.raw");
	uint64_t size = 8 * MB;

	for (int v = 0; v < 3; v++) {
		const char *topopts[] = {"cluster_size=65536",
					 "extended_l2=on,cluster_size=65536",
					 "compat=0.10,cluster_size=4096"};
		struct tu_wl wl = {size, 512, 150000, 20};
		char *sum1, *sum2;
		struct qimg *q;

		assert_int_equal(tu_sh("head -c %llu /dev/urandom > '%s'",
				       (unsigned long long)(size - MB), base),
				 0);
		assert_int_equal(tu_sh("qemu-img create -q -f qcow2 -b '%s' "
				       "-F raw '%s' %llu",
				       base, mid, (unsigned long long)size),
				 0);
		assert_int_equal(tu_sh("qemu-io -f qcow2 -c 'write -P 7 1M 100k' "
				       "-c 'write -z 3M 64k' '%s' >/dev/null",
				       mid),
				 0);
		/* Relative backing name, resolved against the image's dir. */
		assert_int_equal(tu_sh("cd '%s' && qemu-img create -q -f qcow2 "
				       "-o %s -b mid.qcow2 -F qcow2 top.qcow2",
				       tu_dir(), topopts[v]),
				 0);
		assert_int_equal(tu_sh("qemu-io -f qcow2 -c 'write -P 9 5M 5k' "
				       "'%s' >/dev/null",
				       top),
				 0);
		assert_int_equal(tu_sh("qemu-img convert -O raw '%s' '%s'", top,
				       raw),
				 0);
		sum1 = tu_out("md5sum < '%s'; md5sum < '%s'", base, mid);
		q = xopen(top, 0);
		tu_verify(q, raw);
		tu_workload(q, raw, &wl, 150);
		tu_verify(q, raw);
		assert_int_equal(qimg_close(q), 0);
		sum2 = tu_out("md5sum < '%s'; md5sum < '%s'", base, mid);
		assert_string_equal(sum1, sum2);
		free(sum1);
		free(sum2);
		assert_int_equal(tu_qcheck(top), 0);
		assert_int_equal(tu_qcompare(top, raw), 0);
	}
}

/* Internal snapshots are listed and read their old data after we write. */
static void test_snapshots(void **state)
{
	const char *img = tu_p("s.qcow2"), *raw = tu_p("s.raw"),
		   *s1 = tu_p("s1.raw"), *s1b = tu_p("s1b.raw");
	uint64_t size = 8 * MB;

	for (int v = 0; v < 2; v++) {
		struct tu_wl wl = {size, 512, 200000, 20};
		struct qimg *q;
		char *list;

		assert_int_equal(tu_sh("qemu-img create -q -f qcow2 -o %s '%s' "
				       "%llu",
				       v ? "extended_l2=on" : "cluster_size=4096",
				       img, (unsigned long long)size),
				 0);
		populate(img, v ? 65536 : 4096, size);
		assert_int_equal(tu_sh("qemu-img snapshot -c s1 '%s'", img), 0);
		assert_int_equal(tu_sh("qemu-io -f qcow2 -c 'write -P 1 0 2M' "
				       "'%s' >/dev/null",
				       img),
				 0);
		assert_int_equal(tu_sh("qemu-img snapshot -c s2 '%s'", img), 0);
		assert_int_equal(tu_sh("qemu-img convert -O raw -l "
				       "snapshot.name=s1 '%s' '%s'",
				       img, s1),
				 0);
		assert_int_equal(tu_sh("qemu-img convert -O raw '%s' '%s'", img,
				       raw),
				 0);
		q = xopen(img, 0);
		tu_workload(q, raw, &wl, 200);
		assert_int_equal(qimg_close(q), 0);
		assert_int_equal(tu_qcheck(img), 0);
		assert_int_equal(tu_qcompare(img, raw), 0);
		list = tu_out("qemu-img snapshot -l '%s'", img);
		assert_non_null(strstr(list, "s1"));
		assert_non_null(strstr(list, "s2"));
		free(list);
		assert_int_equal(tu_sh("qemu-img convert -O raw -l "
				       "snapshot.name=s1 '%s' '%s'",
				       img, s1b),
				 0);
		assert_int_equal(tu_sh("cmp -s '%s' '%s'", s1, s1b), 0);
	}
}

/* Discard semantics: zero clusters on v3 (even over a backing file),
 * deallocation on v2, and the space is really released. */
static void test_discard(void **state)
{
	const char *img = tu_p("d.qcow2"), *base = tu_p("d.base"),
		   *raw = tu_p("d.raw");
	uint64_t size = 4 * MB;
	uint8_t *buf = malloc(size);

	for (int v = 0; v < 4; v++) {
		bool v2 = v & 1, backing = v & 2;
		struct iovec iv = {buf, size};
		struct qimg *q;
		char *map;

		assert_int_equal(tu_sh("head -c %llu /dev/urandom > '%s'",
				       (unsigned long long)size, base),
				 0);
		assert_int_equal(tu_sh("qemu-img create -q -f qcow2 -o "
				       "compat=%s %s '%s' %llu",
				       v2 ? "0.10" : "1.1",
				       backing ? "-b d.base -F raw" : "", img,
				       (unsigned long long)size),
				 0);
		q = xopen(img, 0);
		tu_fill(buf, size);
		assert_int_equal(qimg_write(q, 0, size, &iv, 1, false), 0);
		/* whole clusters, a partial range, an unaligned tail */
		assert_int_equal(qimg_discard(q, 0, 2 * MB), 0);
		assert_int_equal(qimg_discard(q, 2 * MB + 4096, 10000), 0);
		assert_int_equal(qimg_write_zeroes(q, 3 * MB, 65536 + 512, 0), 0);
		memset(buf, 0, 2 * MB);
		memset(buf + 2 * MB + 4096, 0, 10000);
		memset(buf + 3 * MB, 0, 65536 + 512);
		{
			int fd = open(raw, O_CREAT | O_TRUNC | O_WRONLY, 0600);

			assert_int_equal(write(fd, buf, size), (ssize_t)size);
			close(fd);
		}
		tu_verify(q, raw);
		assert_int_equal(qimg_close(q), 0);
		assert_int_equal(tu_qcheck(img), 0);
		assert_int_equal(tu_qcompare(img, raw), 0);
		/* The first 2 MiB no longer hold data clusters (unless v2
		 * over a backing file, where zeroes must be written). */
		map = tu_out("qemu-img map --output=json '%s' | head -1", img);
		if (!(v2 && backing))
			assert_non_null(strstr(map, "\"data\": false"));
		free(map);
	}
	free(buf);
}

/* Persistent bitmaps: we do not track them, so the first write marks
 * them in use (inconsistent); their clusters stay accounted for. */
static void test_bitmaps(void **state)
{
	const char *img = tu_p("b.qcow2"), *raw = tu_p("b.raw");
	struct tu_wl wl = {8 * MB, 512, 100000, 20};
	struct qimg *q;
	char *info;

	assert_int_equal(tu_sh("qemu-img create -q -f qcow2 '%s' 8M && "
			       "qemu-io -f qcow2 -c 'write -P 1 0 1M' '%s' "
			       ">/dev/null && qemu-img bitmap --add '%s' bm0 && "
			       "qemu-io -f qcow2 -c 'write -P 2 2M 1M' '%s' "
			       ">/dev/null && qemu-img convert -O raw '%s' '%s'",
			       img, img, img, img, img, raw),
			 0);
	q = xopen(img, 0);
	tu_workload(q, raw, &wl, 50);
	assert_int_equal(qimg_close(q), 0);
	assert_int_equal(tu_qcheck(img), 0);
	assert_int_equal(tu_qcompare(img, raw), 0);
	info = tu_out("qemu-img info '%s' 2>/dev/null", img);
	assert_non_null(strstr(info, "bm0"));
	assert_non_null(strstr(info, "in-use"));
	free(info);
}

/* External data files (plain and raw): guest data lives at the guest
 * offset in the data file; only metadata is in the qcow2 file. */
static void test_data_file(void **state)
{
	const char *img = tu_p("e.qcow2"), *data = tu_p("e.data"),
		   *raw = tu_p("e.raw");
	uint64_t size = 8 * MB;

	for (int v = 0; v < 2; v++) {
		struct tu_wl wl = {size, 512, 150000, 20};
		struct qimg *q;

		assert_int_equal(tu_sh("rm -f '%s' '%s' && qemu-img create -q -f "
				       "qcow2 -o data_file='%s'%s '%s' %llu",
				       img, data, data,
				       v ? ",data_file_raw=on" : "", img,
				       (unsigned long long)size),
				 0);
		assert_int_equal(tu_sh("qemu-io -f qcow2 -c 'write -P 5 100k 300k' "
				       "-c 'write -z 1M 64k' '%s' >/dev/null",
				       img),
				 0);
		assert_int_equal(tu_sh("qemu-img convert -O raw '%s' '%s'", img,
				       raw),
				 0);
		q = xopen(img, 0);
		tu_verify(q, raw);
		tu_workload(q, raw, &wl, 150);
		tu_verify(q, raw);
		assert_int_equal(qimg_close(q), 0);
		assert_int_equal(tu_qcheck(img), 0);
		assert_int_equal(tu_qcompare(img, raw), 0);
	}
	/* A missing data file is refused without naming it. */
	assert_int_equal(tu_sh("rm -f '%s'", data), 0);
	expect_refused(img, QIMG_RDONLY | QIMG_PROBE, "external data file");
}

/* ------------------------------------------------------------------ */
/* Concurrency                                                        */
/* ------------------------------------------------------------------ */

struct thr {
	struct qimg *q;
	int id, nthr, fd;
	uint64_t cs, size;
	uint64_t seed;
};

/* Each thread owns every nthr-th half cluster: neighbours share
 * clusters, so allocations of one cluster race. */
static void *thr_main(void *arg)
{
	struct thr *t = arg;
	uint64_t half = t->cs / 2, n = t->size / half, r = t->seed;
	uint8_t *buf = malloc(half);

	for (int i = 0; i < 300; i++) {
		uint64_t slot;
		struct iovec v = {buf, half};

		r ^= r << 13;
		r ^= r >> 7;
		r ^= r << 17;
		slot = (r % (n / t->nthr)) * t->nthr + (uint64_t)t->id;
		for (uint64_t j = 0; j < half; j++)
			buf[j] = (uint8_t)(r >> (j % 56)) + (uint8_t)j;
		if (i % 10 == 9) {
			if (qimg_write_zeroes(t->q, slot * half, half, 1))
				abort();
			memset(buf, 0, half);
		} else if (qimg_write(t->q, slot * half, half, &v, 1, false)) {
			abort();
		}
		if (pwrite(t->fd, buf, half, (off_t)(slot * half)) != (ssize_t)half)
			abort();
		if (i % 7 == 0) {
			uint8_t *rb = malloc(half);
			struct iovec rv = {rb, half};

			if (qimg_read(t->q, slot * half, half, &rv, 1) ||
			    memcmp(rb, buf, half))
				abort();
			free(rb);
		}
	}
	free(buf);
	return NULL;
}

static void test_concurrency(void **state)
{
	const char *img = tu_p("t.qcow2"), *raw = tu_p("t.raw");
	const char *opts[] = {"cluster_size=65536", "cluster_size=4096",
			      "extended_l2=on,cluster_size=65536"};
	uint64_t cs[] = {65536, 4096, 65536};

	for (int v = 0; v < 3; v++) {
		uint64_t size = v == 1 ? 2 * MB : 16 * MB;
		struct thr t[4];
		int nthr = getenv("QCOW_TEST_NTHR") ? atoi(getenv("QCOW_TEST_NTHR")) : 4;
		pthread_t th[4];
		struct qimg *q;
		int fd;

		assert_int_equal(tu_sh("qemu-img create -q -f qcow2 -o %s '%s' "
				       "%llu && rm -f '%s' && truncate -s %llu '%s'",
				       opts[v], img, (unsigned long long)size,
				       raw, (unsigned long long)size, raw),
				 0);
		printf("# concurrency: %s\n", opts[v]);
		q = xopen(img, 0);
		fd = open(raw, O_RDWR);
		for (int i = 0; i < nthr; i++) {
			t[i] = (struct thr){q, i, nthr, fd, cs[v], size,
					    seed * 4 + (uint64_t)i + 1};
			pthread_create(&th[i], NULL, thr_main, &t[i]);
		}
		for (int i = 0; i < nthr; i++)
			pthread_join(th[i], NULL);
		close(fd);
		if (!getenv("QCOW_TEST_NOVERIFY"))
			tu_verify(q, raw);
		assert_int_equal(qimg_close(q), 0);
		assert_int_equal(tu_qcheck(img), 0);
		assert_int_equal(tu_qcompare(img, raw), 0);
	}
}

/* ------------------------------------------------------------------ */
/* FUA by RWF_DSYNC                                                   */
/* ------------------------------------------------------------------ */

/* One FUA write of @len bytes of @pat at @off; returns the write-like
 * system calls it took and sets *@fast when it needed no barrier. */
static long fua_write(struct qimg *q, uint64_t off, size_t len, int pat,
		      bool *fast)
{
	uint64_t before = __atomic_load_n(&q->q2->fua_fast, __ATOMIC_RELAXED);
	long calls = qf_write_calls;
	uint8_t *buf = malloc(len);
	struct iovec v = {buf, len};

	assert_non_null(buf);
	memset(buf, pat, len);
	assert_int_equal(qimg_write(q, off, len, &v, 1, true), 0);
	free(buf);
	*fast = __atomic_load_n(&q->q2->fua_fast, __ATOMIC_RELAXED) != before;
	return qf_write_calls - calls;
}

/* In-place FUA writes with nothing pending take one pwritev2(RWF_DSYNC);
 * allocating ones, and any with metadata not yet synced, keep the
 * write + barrier path. */
static void test_fua_fast(void **state)
{
	const char *img = tu_p("f.qcow2"), *raw = tu_p("f.raw");
	uint64_t cs = 65536;
	struct qimg *q;
	bool fast;
	long n;
	int fd;

	assert_int_equal(tu_sh("qemu-img create -q -f qcow2 -o "
			       "cluster_size=65536 '%s' 4M && rm -f '%s' && "
			       "truncate -s 4M '%s'", img, raw, raw),
			 0);
	q = xopen(img, 0);
	/* Allocating: write + barrier (+ metadata), never the fast path. */
	n = fua_write(q, 0, 2 * cs, 0x11, &fast);
	assert_false(fast);
	assert_true(n > 2);
	/* Its closing barrier synced its L2 update: in place is fast. */
	n = fua_write(q, 0, cs, 0x22, &fast);
	assert_true(fast);
	assert_int_equal(n, 1);
	/* A plain allocating write leaves its L2 update pending: the next
	 * FUA write, even in place elsewhere, syncs it. */
	{
		uint8_t b[512];
		struct iovec v = {b, sizeof(b)};

		memset(b, 0x2a, sizeof(b));
		assert_int_equal(qimg_write(q, 3 * cs, sizeof(b), &v, 1,
					    false),
				 0);
	}
	n = fua_write(q, 0, 512, 0x22, &fast);
	assert_false(fast);
	/* Nothing pending now: in place, one system call. */
	n = fua_write(q, 4096, cs, 0x33, &fast); /* spans 2 clusters */
	assert_true(fast);
	assert_int_equal(n, 1);
	n = fua_write(q, 512, 512, 0x44, &fast);
	assert_true(fast);
	assert_int_equal(n, 1);
	/* Partly allocating: the slow path and a barrier. */
	n = fua_write(q, cs + 4096, cs, 0x55, &fast);
	assert_false(fast);
	assert_true(n > 2);
	assert_int_equal(qimg_flush(q), 0);
	n = fua_write(q, 8192, 4096, 0x66, &fast);
	assert_true(fast);
	assert_int_equal(n, 1);
	assert_int_equal(qimg_close(q), 0);

	/* After an open the first FUA write syncs (an earlier process may
	 * have left metadata in the page cache), then in place is fast. */
	q = xopen(img, 0);
	fua_write(q, 8192, 4096, 0x77, &fast);
	assert_false(fast);
	n = fua_write(q, 8192, 4096, 0x77, &fast);
	assert_true(fast);
	assert_int_equal(n, 1);
	assert_int_equal(qimg_close(q), 0);

	/* Same contents as the plain writes applied to a raw file. */
	fd = open(raw, O_RDWR);
	assert_true(fd >= 0);
	{
		static const struct { uint64_t off, len; int pat; } w[] = {
			{0, 2 * 65536, 0x11}, {0, 65536, 0x22},
			{3 * 65536, 512, 0x2a}, {0, 512, 0x22},
			{4096, 65536, 0x33}, {512, 512, 0x44},
			{65536 + 4096, 65536, 0x55}, {8192, 4096, 0x66},
			{8192, 4096, 0x77},
		};
		uint8_t *b = malloc(2 * cs);

		assert_non_null(b);
		for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
			memset(b, w[i].pat, w[i].len);
			assert_int_equal(pwrite(fd, b, w[i].len, (off_t)w[i].off),
					 (ssize_t)w[i].len);
		}
		free(b);
	}
	close(fd);
	assert_int_equal(tu_qcheck(img), 0);
	assert_int_equal(tu_qcompare(img, raw), 0);
}

/* ------------------------------------------------------------------ */
/* Crash consistency                                                  */
/* ------------------------------------------------------------------ */

/* What the child was doing when it died (shared memory). */
struct crash_log {
	uint64_t range[2]; /* the op in flight: offset, length */
	int inflight;      /* 1 while an op runs */
	long write_calls;  /* write-like calls of a complete run */
};

static void crash_child(const char *img, const char *ref, long countdown,
			bool powerfail, struct crash_log *log,
			const struct tu_wl *wl)
{
	char err[QIMG_ERR_LEN] = "";
	struct qimg *q;
	int fd = open(ref, O_RDWR);

	if (fd < 0 || qimg_open(img, 0, &q, err))
		_exit(2);
	qf_write_calls = 0;
	qf_powerfail = powerfail;
	qf_crash_countdown = countdown;
	tu_pre_log = log->range;
	for (int i = 0; i < 300; i++) {
		uint64_t off, len;
		int kind;

		log->inflight = 1;
		if (tu_one_op(q, fd, wl, &off, &len, &kind))
			_exit(3);
		log->inflight = 0;
		if (i % 50 == 49 && qimg_flush(q))
			_exit(5);
	}
	if (qimg_close(q))
		_exit(6);
	log->write_calls = qf_write_calls;
	_exit(0);
}

/* Compares two files of @size bytes outside [skip, skip+skiplen). */
static void cmp_outside(const char *a, const char *b, uint64_t size,
			uint64_t skip, uint64_t skiplen, const char *what)
{
	uint8_t *x = malloc(size), *y = malloc(size);
	int fa = open(a, O_RDONLY), fb = open(b, O_RDONLY);

	assert_true(fa >= 0 && fb >= 0);
	assert_int_equal(pread(fa, x, size, 0), (ssize_t)size);
	assert_int_equal(pread(fb, y, size, 0), (ssize_t)size);
	if (skiplen) {
		memset(x + skip, 0, skiplen);
		memset(y + skip, 0, skiplen);
	}
	if (memcmp(x, y, size)) {
		uint64_t i = 0;

		while (x[i] == y[i])
			i++;
		fail_msg("%s: completed writes lost, first difference at %llu",
			 what, (unsigned long long)i);
	}
	close(fa);
	close(fb);
	free(x);
	free(y);
}

static long crash_round(const char *opts, long countdown, bool powerfail,
			uint64_t s)
{
	const char *img = tu_p("k.qcow2"), *ref = tu_p("k.ref"),
		   *out = tu_p("k.out");
	struct tu_wl wl = {8 * MB, 512, 200000, 20};
	struct crash_log *log = mmap(NULL, sizeof(*log), PROT_READ | PROT_WRITE,
				     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct qimg_check_result r;
	struct qimg *q;
	char what[160];
	int st, rc;
	long calls;
	pid_t pid;

	snprintf(what, sizeof(what), "%s at write call %ld (%s, seed %llu)",
		 powerfail ? "power loss" : "kill -9", countdown, opts,
		 (unsigned long long)s);
	assert_true(log != MAP_FAILED);
	memset(log, 0, sizeof(*log));
	assert_int_equal(tu_sh("qemu-img create -q -f qcow2 -o %s '%s' 8M",
			       opts, img),
			 0);
	populate(img, 65536, 8 * MB);
	assert_int_equal(tu_sh("qemu-img convert -O raw '%s' '%s'", img, ref),
			 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		tu_srand(s);
		crash_child(img, ref, countdown, powerfail, log, &wl);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) != 86 && WEXITSTATUS(st) != 0)
		fail_msg("%s: child failed with status %d", what,
			 WEXITSTATUS(st));
	/* No corruption; leaks are allowed. */
	rc = tu_sh("qemu-img check -q '%s' >/dev/null 2>&1", img);
	if (rc == 2 && strstr(opts, "lazy")) {
		/* Lazy refcounts: refcounts may lag, but then the image must
		 * be marked dirty so that the next opener repairs them. */
		char *b = tu_out("od -An -j79 -N1 -tu1 '%s'", img);

		if (atoi(b) & 1)
			rc = 0;
		free(b);
	}
	if (rc != 0 && rc != 3) {
		tu_sh("qemu-img check '%s' >&2", img);
		fail_msg("%s: qemu-img check says %d", what, rc);
	}
	/* Completed ops are all there (kill -9 keeps the page cache); only
	 * the op in flight may be partial. */
	assert_int_equal(tu_sh("qemu-img convert -O raw '%s' '%s'", img, out),
			 0);
	if (!powerfail) /* unflushed writes may be lost on power loss */
		cmp_outside(ref, out, 8 * MB, log->range[0],
			    log->inflight ? log->range[1] : 0, what);
	/* The engine repairs what the crash leaked (and dirty images). */
	q = xopen(img, 0);
	assert_int_equal(qimg_check(q, true, &r), 0);
	assert_int_equal(r.corruptions, 0);
	xcheck_clean(q);
	assert_int_equal(qimg_close(q), 0);
	assert_int_equal(tu_qcheck(img), 0);
	calls = log->write_calls;
	munmap(log, sizeof(*log));
	return calls;
}

static void test_crash(void **state)
{
	const char *opts[] = {"cluster_size=65536", "lazy_refcounts=on",
			      "extended_l2=on", "cluster_size=4096,refcount_bits=1",
			      "compat=0.10"};
	int rounds = longrun ? 300 : 20;
	long total;

	/* A complete run tells how many write calls there are to stop at. */
	total = crash_round(opts[0], 0, false, seed);
	assert_true(total > 0);
	for (int i = 0; i < rounds; i++) {
		uint64_t s = seed + (uint64_t)i * 7919;
		long cd = 1 + (long)((s * 2654435761ULL) % (uint64_t)total);

		crash_round(opts[i % 5], cd, i % 2, s);
	}
}

/* ------------------------------------------------------------------ */
/* Refusals and damaged images                                        */
/* ------------------------------------------------------------------ */

static void patch(const char *path, uint64_t off, const void *b, size_t n)
{
	int fd = open(path, O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, b, n, (off_t)off), (ssize_t)n);
	close(fd);
}

static void patch64(const char *path, uint64_t off, uint64_t v)
{
	uint8_t b[8];

	q2_put64(b, v);
	patch(path, off, b, 8);
}

static void patch32(const char *path, uint64_t off, uint32_t v)
{
	uint8_t b[4];

	q2_put32(b, v);
	patch(path, off, b, 4);
}

static void fresh(const char *img, const char *opts)
{
	assert_int_equal(tu_sh("qemu-img create -q -f qcow2 -o %s '%s' 8M && "
			       "qemu-io -f qcow2 -c 'write -P 3 0 1M' '%s' "
			       ">/dev/null",
			       opts, img, img),
			 0);
}

static void test_refusals(void **state)
{
	const char *img = tu_p("x.qcow2"), *b = tu_p("x.base");

	expect_refused(tu_dir(), QIMG_RDONLY | QIMG_PROBE,
		       "not a regular file");
	expect_refused(tu_p("nope/none.qcow2"), QIMG_RDONLY | QIMG_PROBE,
		       "not found or not accessible");
	assert_int_equal(tu_sh(": > '%s'", img), 0);
	expect_refused(img, QIMG_RDONLY | QIMG_PROBE, "empty");
	assert_int_equal(tu_sh("qemu-img create -q -f vmdk '%s' 1M", img), 0);
	expect_refused(img, QIMG_RDONLY | QIMG_PROBE, "vmdk");
	assert_int_equal(tu_sh("qemu-img create -q -f qcow '%s' 1M", img), 0);
	expect_refused(img, QIMG_RDONLY | QIMG_PROBE, "version 1");
	/* missing backing file */
	assert_int_equal(tu_sh("qemu-img create -q -f raw '%s' 1M && "
			       "qemu-img create -q -f qcow2 -b '%s' -F raw '%s' && "
			       "rm '%s'",
			       b, b, img, b),
			 0);
	expect_refused(img, QIMG_RDONLY | QIMG_PROBE, "backing file");
	/* a backing chain loop */
	assert_int_equal(tu_sh("qemu-img create -q -f qcow2 '%s' 1M && "
			       "qemu-img rebase -u -b '%s' -F qcow2 '%s'",
			       img, img, img),
			 0);
	expect_refused(img, QIMG_RDONLY | QIMG_PROBE, "too deep");
	/* corrupt bit */
	fresh(img, "compat=1.1");
	patch64(img, 72, Q2_INCOMPAT_CORRUPT);
	expect_refused(img, QIMG_RDONLY | QIMG_PROBE, "corrupt");
	expect_refused(img, 0, "corrupt");
	/* unknown incompatible feature */
	fresh(img, "compat=1.1");
	patch64(img, 72, 1ULL << 40);
	expect_refused(img, QIMG_RDONLY | QIMG_PROBE, "feature");
	/* encryption */
	fresh(img, "compat=1.1");
	patch32(img, 32, 1);
	expect_refused(img, QIMG_RDONLY | QIMG_PROBE, "encrypted");
	/* a raw file is served as raw */
	assert_int_equal(tu_sh("head -c 1M /dev/urandom > '%s'", b), 0);
	{
		struct qimg *q = xopen(b, QIMG_RDONLY | QIMG_PROBE);

		assert_int_equal(qimg_format(q), QIMG_FMT_RAW);
		tu_verify(q, b);
		qimg_close(q);
	}
}

/* Hand-damaged headers and tables: a clear error, never a crash. */
static void test_damaged(void **state)
{
	const char *img = tu_p("y.qcow2");
	struct {
		uint64_t off;
		int width;
		uint64_t val;
		const char *why;
	} cases[] = {
		{4, 4, 4, "version"},
		{20, 4, 30, "cluster size"},
		{20, 4, 8, "cluster size"},
		{24, 8, 1ULL << 63, "virtual size"},
		{36, 4, 0, "L1 table size"},
		{36, 4, 0x10000000, "L1 table size"},
		{40, 8, 1ULL << 40, "L1 table"},
		{40, 8, 65536 + 512, "L1 table"},
		{48, 8, 1ULL << 40, "refcount table"},
		{48, 8, 512, "refcount table"},
		{56, 4, 0, "refcount table"},
		{56, 4, 0x7fffffff, "refcount table"},
		{48, 8, 0, "refcount table"},
		{96, 4, 7, "refcount width"},
		{100, 4, 20, "header length"},
		{60, 4, 1, "snapshot"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fresh(img, "compat=1.1,cluster_size=65536");
		if (cases[i].width == 8)
			patch64(img, cases[i].off, cases[i].val);
		else
			patch32(img, cases[i].off, (uint32_t)cases[i].val);
		expect_refused(img, QIMG_RDONLY | QIMG_PROBE, cases[i].why);
	}
	/* overlapping metadata: the refcount table on the L1 table */
	fresh(img, "compat=1.1,cluster_size=65536");
	{
		char *l1 = tu_out("od -An -j40 -N8 -tx1 '%s' | tr -d ' \\n'",
				  img);

		patch64(img, 48, strtoull(l1, NULL, 16));
		free(l1);
	}
	expect_refused(img, QIMG_RDONLY | QIMG_PROBE, "");
	/* truncated files */
	fresh(img, "compat=1.1,cluster_size=65536");
	assert_int_equal(tu_sh("truncate -s 100000 '%s'", img), 0);
	expect_refused(img, QIMG_RDONLY | QIMG_PROBE, "outside");
	assert_int_equal(tu_sh("truncate -s 50 '%s'", img), 0);
	expect_refused(img, QIMG_RDONLY | QIMG_PROBE, "too small");
}

/* Random mutations of header and tables: open, read, write; the only
 * acceptable outcomes are success or a clean error (ASan watches). */
static void test_fuzz(void **state)
{
	const char *good = tu_p("f.good"), *img = tu_p("f.qcow2");
	int iters = longrun ? 3000 : 400;
	uint64_t l1_off, rt_off, l2_off, rb_off;
	uint8_t *buf = malloc(MB);
	char *s;

	assert_int_equal(tu_sh("qemu-img create -q -f qcow2 -o "
			       "cluster_size=4096 '%s' 8M",
			       good),
			 0);
	populate(good, 4096, 8 * MB);
	assert_int_equal(tu_sh("qemu-img snapshot -c snap '%s'", good), 0);
	s = tu_out("od -An -j40 -N8 -tx1 '%s' | tr -d ' \\n'", good);
	l1_off = strtoull(s, NULL, 16);
	free(s);
	s = tu_out("od -An -j48 -N8 -tx1 '%s' | tr -d ' \\n'", good);
	rt_off = strtoull(s, NULL, 16);
	free(s);
	s = tu_out("od -An -j%llu -N8 -tx1 '%s' | tr -d ' \\n'",
		   (unsigned long long)l1_off, good);
	l2_off = strtoull(s, NULL, 16) & Q2_L1_OFF_MASK;
	free(s);
	s = tu_out("od -An -j%llu -N8 -tx1 '%s' | tr -d ' \\n'",
		   (unsigned long long)rt_off, good);
	rb_off = strtoull(s, NULL, 16);
	free(s);

	for (int i = 0; i < iters; i++) {
		uint64_t regions[] = {0, l1_off, rt_off, l2_off, rb_off};
		int nmut = 1 + (int)(tu_rand() % 4);
		char err[QIMG_ERR_LEN] = "";
		struct qimg *q;

		assert_int_equal(tu_sh("cp '%s' '%s'", good, img), 0);
		for (int m = 0; m < nmut; m++) {
			uint64_t base = regions[tu_rand() % 5];
			uint64_t span = base == 0 ? 128 : 512;
			uint8_t v[8];

			tu_fill(v, sizeof(v));
			patch(img, base + tu_rand() % span, v,
			      1 + tu_rand() % 8);
		}
		if (qimg_open(img, tu_rand() % 2 ? QIMG_RDONLY : 0, &q, err)) {
			assert_true(err[0] != '\0');
			continue;
		}
		for (uint64_t off = 0; off < qimg_size(q) && off < 4 * MB;
		     off += MB) {
			struct iovec v = {buf, MB};
			uint64_t len = qimg_size(q) - off < MB ? qimg_size(q) - off
							     : MB;

			qimg_read(q, off, len, &v, 1);
		}
		if (!qimg_read_only(q)) {
			struct tu_wl wl = {qimg_size(q) < 4 * MB ? qimg_size(q)
								 : 4 * MB,
					   512, 20000, 20};

			for (int k = 0; k < 5 && wl.span >= 512; k++) {
				uint64_t o, l;
				int kind;

				tu_one_op(q, -1, &wl, &o, &l, &kind);
			}
		}
		qimg_close(q);
	}
	free(buf);
}

static int group_setup(void **state)
{
	const char *s = getenv("QCOW_TEST_SEED");

	seed = s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL);
	longrun = getenv("QCOW_TEST_LONG") != NULL;
	printf("# qcow engine tests: QCOW_TEST_SEED=%llu\n",
	       (unsigned long long)seed);
	tu_srand(seed);
	tu_dir();
	return 0;
}

static int group_teardown(void **state)
{
	tu_cleanup();
	return 0;
}

static int need_qemu(void **state)
{
	if (!tu_have_qemu()) {
		printf("# SKIP: qemu-img/qemu-io not installed\n");
		return -1;
	}
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_read_matrix, need_qemu),
		cmocka_unit_test_setup(test_zstd, need_qemu),
		cmocka_unit_test_setup(test_write_matrix, need_qemu),
		cmocka_unit_test_setup(test_refcount_growth, need_qemu),
		cmocka_unit_test_setup(test_compressed_rewrite, need_qemu),
		cmocka_unit_test_setup(test_backing_chain, need_qemu),
		cmocka_unit_test_setup(test_snapshots, need_qemu),
		cmocka_unit_test_setup(test_discard, need_qemu),
		cmocka_unit_test_setup(test_bitmaps, need_qemu),
		cmocka_unit_test_setup(test_data_file, need_qemu),
		cmocka_unit_test_setup(test_concurrency, need_qemu),
		cmocka_unit_test_setup(test_fua_fast, need_qemu),
		cmocka_unit_test_setup(test_crash, need_qemu),
		cmocka_unit_test_setup(test_refusals, need_qemu),
		cmocka_unit_test_setup(test_damaged, need_qemu),
		cmocka_unit_test_setup(test_fuzz, need_qemu),
	};

	if (getenv("QCOW_TEST_ONLY"))
		cmocka_set_test_filter(getenv("QCOW_TEST_ONLY"));
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
