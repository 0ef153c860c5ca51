/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/rbd/test_rbd_io.c — the rbd handler's data path on a real cluster,
 * through tests/sim and the public API: random I/O with out-of-order
 * completion checked by readback and by `rbd export`, FUA with the write
 * cache off, UNMAP and WRITE SAME seen in `rbd du`, COMPARE AND WRITE
 * (native and emulated: match, miscompare offset, atomicity under
 * concurrency), image resize and RECONFIG, and the shared connection.
 */
#include "rbd_test.h"

#define MiB (1ull << 20)

static uint8_t *shadow_new(size_t size)
{
	uint8_t *p = calloc(1, size);

	assert_non_null(p);
	return p;
}

/* ---- random I/O, export ------------------------------------------- */

static void random_io(const char *image, const struct sim_config *scfg,
		      bool write_cache, uint64_t seed)
{
	uint64_t size = scfg ? scfg->dev_size : 16 * MiB;
	uint8_t *shadow = shadow_new(size);
	struct th t;

	rt_image_create(image, size);
	assert_int_equal(th_start_wc(&t, "rbd", rt_cfg(image, ""), scfg, write_cache), 0);
	assert_int_equal(t.size, size);
	th_random_io(&t, shadow, 24, 16, seed);
	assert_int_equal(th_sync(&t), TH_GOOD);
	{
		long long wr = rt_perf(image, "wr"), fl = rt_perf(image, "flush");

		printf("# %s: %lld writes, %lld flushes (write cache %s)\n", image,
		       wr, fl, write_cache ? "on" : "off");
		assert_true(wr > 100);
		/* write cache off: every write is FUA, on: 1 in 8; either way
		 * no flush per FUA write (librbd runs uncached: a write
		 * completes once the OSD committed it), only SYNCHRONIZE
		 * CACHE flushes */
		assert_true(fl < wr / 8);
	}
	th_stop(&t);
	rt_export_equals(image, shadow, size);
	rt_image_remove(image);
	free(shadow);
}

static void test_random_io_512(void **state)
{
	random_io("io512", NULL, true, 0x5eed);
}

/* 4 KiB blocks, transfers over several iovecs, write cache off: FUA on
 * every write (no flush each: the handler runs librbd uncached). */
static void test_random_io_4k_fua(void **state)
{
	struct sim_config scfg = { .dev_size = 16 * MiB, .block_size = 4096,
				   .max_sectors = 64, .data_size = 8 * MiB };

	random_io("io4k", &scfg, false, 0xf00d);
}

/* ---- UNMAP, WRITE SAME ----------------------------------------------- */

/*
 * 8 objects of 4 MiB, each written; UNMAP of 4 whole objects and a WRITE
 * SAME with UNMAP of one more: `rbd du` drops by 5 objects, they read back
 * zero. A 4 KiB UNMAP inside an object frees nothing (and may keep the
 * data: no LBPRZ). A WRITE SAME of a pattern reads back as the pattern.
 */
static void test_unmap_du(void **state)
{
	struct sim_config scfg = { .dev_size = 32 * MiB, .block_size = 512,
				   .max_sectors = 256, .data_size = 8 * MiB };
	const uint64_t obj = 4 * MiB, bpo = obj / 512;
	uint8_t *shadow = shadow_new(32 * MiB), buf[4096], pat[512];
	uint64_t seed = 11, ranges[2][2];
	struct th t;
	uint64_t i;

	rt_image_create("du1", 32 * MiB);
	assert_int_equal(th_start(&t, "rbd", rt_cfg("du1", ""), &scfg), 0);
	for (i = 0; i < 8; i++) {
		th_fill(buf, sizeof(buf), &seed);
		assert_int_equal(th_write(&t, i * bpo + 8, 8, buf, false), TH_GOOD);
		memcpy(shadow + i * obj + 8 * 512, buf, sizeof(buf));
	}
	assert_int_equal(th_sync(&t), TH_GOOD);
	assert_int_equal(rt_du_used("du1"), 32 * MiB);

	/* objects 2..5 in two descriptors */
	ranges[0][0] = 2 * bpo;
	ranges[0][1] = 2 * bpo;
	ranges[1][0] = 4 * bpo;
	ranges[1][1] = 2 * bpo;
	assert_int_equal(th_unmap(&t, (const uint64_t(*)[2])ranges, 2), TH_GOOD);
	memset(shadow + 2 * obj, 0, 4 * obj);
	assert_int_equal(rt_du_used("du1"), 16 * MiB);

	/* WRITE SAME (zeroes, UNMAP) of object 6 */
	memset(pat, 0, sizeof(pat));
	assert_int_equal(th_write_same(&t, 6 * bpo, (uint32_t)bpo, pat, true), TH_GOOD);
	memset(shadow + 6 * obj, 0, obj);
	assert_int_equal(rt_du_used("du1"), 12 * MiB);

	/* a small UNMAP inside object 0: nothing freed */
	ranges[0][0] = 8;
	ranges[0][1] = 8;
	assert_int_equal(th_unmap(&t, (const uint64_t(*)[2])ranges, 1), TH_GOOD);
	assert_int_equal(rt_du_used("du1"), 12 * MiB);
	assert_int_equal(th_read(&t, 8, 8, buf), TH_GOOD);
	memcpy(shadow + 8 * 512, buf, sizeof(buf)); /* old data or zeroes */

	/* WRITE SAME of a pattern over 1 MiB of object 7, crossing into
	 * nothing else; and zeroes without UNMAP over 64 KiB of object 1 */
	th_fill(pat, sizeof(pat), &seed);
	assert_int_equal(th_write_same(&t, 7 * bpo + 1, 2048, pat, false), TH_GOOD);
	for (i = 0; i < 2048; i++)
		memcpy(shadow + 7 * obj + (1 + i) * 512, pat, 512);
	memset(pat, 0, sizeof(pat));
	assert_int_equal(th_write_same(&t, bpo + 4, 128, pat, false), TH_GOOD);
	memset(shadow + obj + 4 * 512, 0, 128 * 512);

	/* the LUN reads what we expect, and so does rbd export */
	for (i = 0; i < 32 * MiB; i += TH_CHUNK) {
		static uint8_t chunk[TH_CHUNK];

		assert_int_equal(th_read(&t, i / 512, TH_CHUNK / 512, chunk), TH_GOOD);
		assert_memory_equal(chunk, shadow + i, TH_CHUNK);
	}
	th_stop(&t);
	rt_export_equals("du1", shadow, 32 * MiB);
	rt_image_remove("du1");
	free(shadow);
}

/* ---- COMPARE AND WRITE ------------------------------------------------ */

/* CAW of @nr blocks at @lba: match writes; miscompare at byte @diff keeps
 * the data and reports MISCOMPARE with the offset in INFORMATION. */
static void caw_cases(struct th *t, uint64_t lba, uint8_t nr, size_t diff)
{
	size_t len = (size_t)nr * t->bs;
	uint8_t *a = malloc(len), *b = malloc(len), *c = malloc(len),
		*back = malloc(len);
	uint64_t seed = lba + nr;
	struct sim_io io;

	assert_true(a && b && c && back);
	th_fill(a, len, &seed);
	th_fill(b, len, &seed);
	th_fill(c, len, &seed);
	assert_int_equal(th_write(t, lba, nr, a, false), TH_GOOD);

	/* match: b replaces a */
	assert_int_equal(th_caw(t, lba, nr, a, b, &io), TH_GOOD);
	assert_int_equal(th_read(t, lba, nr, back), TH_GOOD);
	assert_memory_equal(back, b, len);

	/* miscompare: compare with b changed at byte diff */
	memcpy(a, b, len);
	a[diff] ^= 0x5a;
	assert_int_equal(th_caw(t, lba, nr, a, c, &io), TH_CHECK);
	assert_int_equal(th_sense_key(&io), TH_KEY_MISCOMPARE);
	assert_int_equal(rt_sense_asc(&io), RT_ASC_MISCOMPARE);
	assert_int_equal(rt_sense_info(&io), (int64_t)diff);
	assert_int_equal(th_read(t, lba, nr, back), TH_GOOD);
	assert_memory_equal(back, b, len);
	free(a);
	free(b);
	free(c);
	free(back);
}

/* 512-byte LUN: one block goes to librbd's compare_and_write, two blocks
 * are emulated by the handler. */
static void test_caw_512(void **state)
{
	struct th t;

	rt_image_create("caw512", 16 * MiB);
	assert_int_equal(th_start(&t, "rbd", rt_cfg("caw512", ""), NULL), 0);
	caw_cases(&t, 100, 1, 0);
	caw_cases(&t, 200, 1, 511);
	caw_cases(&t, 8191, 1, 77); /* last block of object 0 */
	caw_cases(&t, 300, 2, 600);
	caw_cases(&t, 8191, 2, 513); /* across objects 0 and 1 */
	th_stop(&t);
	rt_image_remove("caw512");
}

/* 4 KiB LUN: every CAW is emulated. */
static void test_caw_4k(void **state)
{
	struct sim_config scfg = { .dev_size = 16 * MiB, .block_size = 4096,
				   .max_sectors = 64, .data_size = 8 * MiB };
	struct th t;

	rt_image_create("caw4k", 16 * MiB);
	assert_int_equal(th_start(&t, "rbd", rt_cfg("caw4k", ""), &scfg), 0);
	caw_cases(&t, 10, 1, 4000);
	caw_cases(&t, 1023, 2, 4096 + 5); /* across objects */
	th_stop(&t);
	rt_image_remove("caw4k");
}

/*
 * Atomicity: @n COMPARE AND WRITEs of the same block in one batch, all
 * expecting the current data X and each writing its own Y_i. Exactly one
 * may win; the others see the winner's data and miscompare. Then writes
 * and CAWs mixed: the final block is the last winner's or a write's data,
 * never a torn mix.
 */
static void caw_storm(struct th *t, uint64_t lba, int n)
{
	size_t len = t->bs;
	uint8_t *x = malloc(len), *ys = malloc((size_t)n * len), *back = malloc(len);
	uint8_t **bufs = calloc((size_t)n, sizeof(*bufs));
	struct sim_io *io = calloc((size_t)n, sizeof(*io));
	uint64_t seed = 4242;
	int good = 0, winner = -1;
	uint8_t cdb[16] = { TH_OP_CAW };

	assert_true(x && ys && back && bufs && io);
	th_fill(x, len, &seed);
	th_fill(ys, (size_t)n * len, &seed);
	assert_int_equal(th_write(t, lba, 1, x, false), TH_GOOD);
	th_put_be(cdb + 2, lba, 8);
	cdb[13] = 1;
	for (int i = 0; i < n; i++) {
		bufs[i] = malloc(2 * len);
		assert_non_null(bufs[i]);
		memcpy(bufs[i], x, len);
		memcpy(bufs[i] + len, ys + (size_t)i * len, len);
		sim_io_init(&io[i], cdb, 16);
		io[i].out = bufs[i];
		io[i].out_len = 2 * len;
		assert_true(sim_submit_flags(t->sim, &io[i], SIM_NO_KICK) > 0);
	}
	sim_kick(t->sim);
	for (int i = 0; i < n; i++) {
		th_wait(t, &io[i]);
		if (io[i].status == TH_GOOD) {
			good++;
			winner = i;
		} else {
			assert_int_equal(io[i].status, TH_CHECK);
			assert_int_equal(th_sense_key(&io[i]), TH_KEY_MISCOMPARE);
		}
	}
	assert_int_equal(good, 1);
	assert_int_equal(th_read(t, lba, 1, back), TH_GOOD);
	assert_memory_equal(back, ys + (size_t)winner * len, len);
	for (int i = 0; i < n; i++)
		free(bufs[i]);
	free(bufs);
	free(io);
	free(x);
	free(ys);
	free(back);
}

static void test_caw_atomic(void **state)
{
	struct sim_config scfg = { .dev_size = 16 * MiB, .block_size = 4096,
				   .max_sectors = 64, .data_size = 8 * MiB };
	struct th t;

	rt_image_create("cawat", 16 * MiB);
	/* native: librbd's compare_and_write on the OSD */
	assert_int_equal(th_start(&t, "rbd", rt_cfg("cawat", ""), NULL), 0);
	caw_storm(&t, 64, 16);
	th_stop(&t);
	/* emulated: the handler's exclusive gate */
	assert_int_equal(th_start(&t, "rbd", rt_cfg("cawat", ""), &scfg), 0);
	caw_storm(&t, 3, 16);
	caw_storm(&t, 1024, 24);
	th_stop(&t);
	rt_image_remove("cawat");
}

/*
 * An emulated CAW between writes in flight: writes to other blocks queue
 * behind it and all complete; data is right afterwards.
 */
static void test_caw_with_writes(void **state)
{
	struct sim_config scfg = { .dev_size = 16 * MiB, .block_size = 4096,
				   .max_sectors = 64, .data_size = 8 * MiB };
	enum { N = 24 };
	uint8_t data[N][4096], x[4096], y[4096], back[4096];
	uint8_t cdb[16] = { TH_OP_CAW }, cawbuf[8192];
	struct sim_io io[N], caw;
	uint64_t seed = 99;
	struct th t;

	rt_image_create("cawmix", 16 * MiB);
	assert_int_equal(th_start(&t, "rbd", rt_cfg("cawmix", ""), &scfg), 0);
	th_fill(x, sizeof(x), &seed);
	th_fill(y, sizeof(y), &seed);
	assert_int_equal(th_write(&t, 0, 1, x, false), TH_GOOD);
	memcpy(cawbuf, x, 4096);
	memcpy(cawbuf + 4096, y, 4096);
	th_put_be(cdb + 2, 0, 8);
	cdb[13] = 1;
	for (int i = 0; i < N; i++) {
		th_fill(data[i], 4096, &seed);
		th_rw16(&io[i], TH_OP_WRITE16, 10 + (uint64_t)i, 1, false);
		io[i].out = data[i];
		io[i].out_len = 4096;
		assert_true(sim_submit_flags(t.sim, &io[i], SIM_NO_KICK) > 0);
		if (i == N / 2) {
			sim_io_init(&caw, cdb, 16);
			caw.out = cawbuf;
			caw.out_len = sizeof(cawbuf);
			assert_true(sim_submit_flags(t.sim, &caw, SIM_NO_KICK) > 0);
		}
	}
	sim_kick(t.sim);
	th_wait(&t, &caw);
	assert_int_equal(caw.status, TH_GOOD);
	for (int i = 0; i < N; i++) {
		th_wait(&t, &io[i]);
		assert_int_equal(io[i].status, TH_GOOD);
	}
	assert_int_equal(th_read(&t, 0, 1, back), TH_GOOD);
	assert_memory_equal(back, y, 4096);
	for (int i = 0; i < N; i++) {
		assert_int_equal(th_read(&t, 10 + (uint64_t)i, 1, back), TH_GOOD);
		assert_memory_equal(back, data[i], 4096);
	}
	th_stop(&t);
	rt_image_remove("cawmix");
}

/* ---- size ----------------------------------------------------------- */

/* Wait (up to 10 s) for a unit attention CAPACITY DATA HAS CHANGED. */
static void expect_capacity_ua(struct th *t, uint64_t want)
{
	struct sim_io io;
	uint64_t bytes = 0;
	double end = rt_now() + 10;
	bool ua = false;

	while (rt_now() < end) {
		uint8_t st = rt_read_capacity(t, &io, &bytes);

		if (st == TH_CHECK && th_sense_key(&io) == TH_KEY_UA &&
		    rt_sense_asc(&io) == RT_ASC_CAPACITY && rt_sense_ascq(&io) == 0x09) {
			ua = true;
			continue;
		}
		assert_int_equal(st, TH_GOOD);
		if (ua && bytes == want)
			return;
		usleep(50000);
	}
	fail_msg("no CAPACITY DATA HAS CHANGED to %llu bytes (ua %d, size %llu)",
		 (unsigned long long)want, ua, (unsigned long long)bytes);
}

/*
 * rbd resize (by another client) is noticed through the header watch: the
 * LUN follows in both directions, with a unit attention each time, and a
 * write beyond the new end is refused.
 */
static void test_image_resize(void **state)
{
	uint8_t buf[512] = { 1 };
	char ctl[128];
	rbd_image_t img;
	struct th t;

	rt_image_create("rs1", 16 * MiB);
	assert_int_equal(th_start(&t, "rbd", rt_cfg("rs1", ""), NULL), 0);
	assert_int_equal(rbd_open(rt.io, "rs1", &img, NULL), 0);

	assert_int_equal(rbd_resize(img, 24 * MiB), 0);
	expect_capacity_ua(&t, 24 * MiB);
	rt_control(ctl, sizeof(ctl));
	assert_string_equal(ctl, "dev_size=25165824");
	assert_int_equal(th_write(&t, 24 * MiB / 512 - 1, 1, buf, false), TH_GOOD);

	assert_int_equal(rbd_resize(img, 12 * MiB), 0);
	expect_capacity_ua(&t, 12 * MiB);
	assert_int_not_equal(th_write(&t, 16 * MiB / 512, 1, buf, false), TH_GOOD);
	assert_int_equal(th_write(&t, 12 * MiB / 512 - 1, 1, buf, false), TH_GOOD);
	rbd_close(img);
	th_stop(&t);
	rt_image_remove("rs1");
}

/* RECONFIG: a size up to the image's is taken, a larger one refused; the
 * same config string is taken, another image refused. */
static void test_reconfig(void **state)
{
	struct tcmu_reconfig rc = { .write_cache = -1 };
	char same[1200];
	struct sim_io io;
	uint64_t bytes;
	struct th t;

	rt_image_create("rc1", 16 * MiB);
	assert_int_equal(th_start(&t, "rbd", rt_cfg("rc1", ""), NULL), 0);
	rc.size = 8 * MiB;
	assert_int_equal(tcmu_device_reconfig(t.dev, &rc), 0);
	expect_capacity_ua(&t, 8 * MiB);
	rc.size = 16 * MiB;
	assert_int_equal(tcmu_device_reconfig(t.dev, &rc), 0);
	expect_capacity_ua(&t, 16 * MiB);
	rc.size = 32 * MiB;
	assert_int_not_equal(tcmu_device_reconfig(t.dev, &rc), 0);
	assert_int_equal(rt_read_capacity(&t, &io, &bytes), TH_GOOD);
	assert_int_equal(bytes, 16 * MiB);

	rc.size = 0;
	snprintf(same, sizeof(same), "%s", rt_cfg("rc1", ""));
	rc.cfgstring = same;
	assert_int_equal(tcmu_device_reconfig(t.dev, &rc), 0);
	rc.cfgstring = rt_cfg("other", "");
	assert_int_not_equal(tcmu_device_reconfig(t.dev, &rc), 0);
	rc.cfgstring = rt_cfg("rc1", ";osd_op_timeout=9");
	assert_int_not_equal(tcmu_device_reconfig(t.dev, &rc), 0);
	rc.cfgstring = NULL;
	rc.write_cache = 0;
	assert_int_equal(tcmu_device_reconfig(t.dev, &rc), 0);
	th_stop(&t);
	rt_image_remove("rc1");
}

/* ---- connections ------------------------------------------------------ */

/* The rados client id watching image @name, other than the test's own. */
static int64_t watcher_id(const char *name)
{
	rbd_image_watcher_t w[8];
	uint64_t self = rados_get_instance_id(rt.cl);
	int64_t id = -1;
	rbd_image_t img;
	size_t n = 8;

	assert_int_equal(rbd_open_read_only(rt.io, name, &img, NULL), 0);
	assert_int_equal(rbd_watchers_list(img, w, &n), 0);
	for (size_t i = 0; i < n; i++) {
		if ((uint64_t)w[i].id != self) {
			assert_int_equal(id, -1); /* one handler client */
			id = w[i].id;
		}
	}
	rbd_watchers_list_cleanup(w, n);
	rbd_close(img);
	assert_true(id >= 0);
	return id;
}

/* LUNs with the same conf, id and osd_op_timeout share one rados client;
 * another osd_op_timeout gets its own. */
static void test_shared_connection(void **state)
{
	struct th a, b, c;

	rt_image_create("sh1", 16 * MiB);
	rt_image_create("sh2", 16 * MiB);
	assert_int_equal(th_start(&a, "rbd", rt_cfg("sh1", ""), NULL), 0);
	assert_int_equal(th_start(&b, "rbd", rt_cfg("sh2", ""), NULL), 0);
	assert_int_equal(watcher_id("sh1"), watcher_id("sh2"));
	th_stop(&b);
	assert_int_equal(th_start(&c, "rbd", rt_cfg("sh2", ";osd_op_timeout=7"), NULL), 0);
	assert_int_not_equal(watcher_id("sh1"), watcher_id("sh2"));
	th_stop(&c);
	th_stop(&a);
	rt_image_remove("sh1");
	rt_image_remove("sh2");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_io_512),
		cmocka_unit_test(test_random_io_4k_fua),
		cmocka_unit_test(test_unmap_du),
		cmocka_unit_test(test_caw_512),
		cmocka_unit_test(test_caw_4k),
		cmocka_unit_test(test_caw_atomic),
		cmocka_unit_test(test_caw_with_writes),
		cmocka_unit_test(test_image_resize),
		cmocka_unit_test(test_reconfig),
		cmocka_unit_test(test_shared_connection),
	};
	int r = rt_prereq();

	if (r)
		return r;
	return cmocka_run_group_tests(tests, rt_setup, rt_teardown);
}
