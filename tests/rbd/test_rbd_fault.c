/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/rbd/test_rbd_fault.c — the rbd handler when the cluster misbehaves:
 * a hung OSD (SIGSTOP) with osd_op_timeout, an OSD killed during I/O and
 * restarted (with and without osd_op_timeout), and this client blocklisted
 * by another one that broke the exclusive lock. The initiator must only
 * ever see GOOD or BUSY (retryable) or wait, every acknowledged write must
 * be there afterwards, and errors are logged once, not per command.
 */
#include "rbd_test.h"

#define MiB (1ull << 20)
#define NIO 16
static double test_t0;

/* A batch of NIO one-block writes (FUA if @fua) in flight at once, 64 blocks apart. */
struct batch {
	struct sim_io io[NIO];
	uint8_t data[NIO][4096];
	uint64_t lba[NIO];
	bool acked[NIO];
};

static void batch_submit(struct th *t, struct batch *b, uint64_t base, uint64_t *seed,
			 bool fua)
{
	for (int i = 0; i < NIO; i++) {
		b->lba[i] = base + 64 * (uint64_t)i;
		th_fill(b->data[i], t->bs, seed);
		th_rw16(&b->io[i], TH_OP_WRITE16, b->lba[i], 1, fua);
		b->io[i].out = b->data[i];
		b->io[i].out_len = t->bs;
		b->acked[i] = false;
		assert_true(sim_submit_flags(t->sim, &b->io[i], SIM_NO_KICK) > 0);
	}
	sim_kick(t->sim);
}

/*
 * Wait for the batch: each command is GOOD (acknowledged: it must be on
 * the image) or BUSY (not acknowledged). Returns how many were BUSY.
 */
static int batch_wait(struct th *t, struct batch *b, int timeout_ms)
{
	int busy = 0;

	for (int i = 0; i < NIO; i++) {
		if (!sim_wait_done(t->sim, &b->io[i], timeout_ms))
			fail_msg("write %d did not complete in %d ms", i, timeout_ms);
		if (b->io[i].status == TH_GOOD) {
			b->acked[i] = true;
			continue;
		}
		if (b->io[i].status != RT_STATUS_BUSY)
			fail_msg("write %d: status 0x%02x (sense key %x), not GOOD or BUSY",
				 i, b->io[i].status, th_sense_key(&b->io[i]));
		busy++;
	}
	return busy;
}

/* Is every command of @b done right now? */
static int batch_done(struct batch *b)
{
	int n = 0;

	for (int i = 0; i < NIO; i++)
		n += b->io[i].done;
	return n;
}

/* READ of one block until GOOD (BUSY while the cluster recovers). */
static void read_until_good(struct th *t, uint64_t lba, uint8_t *buf, double secs)
{
	double end = rt_now() + secs;

	for (;;) {
		uint8_t st = th_read(t, lba, 1, buf);

		if (st == TH_GOOD)
			return;
		assert_int_equal(st, RT_STATUS_BUSY);
		if (rt_now() > end)
			fail_msg("read still BUSY after %.0f s", secs);
		usleep(200000);
	}
}

/*
 * What an initiator does with BUSY: send the write again until it is
 * acknowledged (up to @secs); then everything must read back.
 */
static void batch_retry_and_check(struct th *t, struct batch *b, double secs)
{
	double end = rt_now() + secs;
	uint8_t back[4096];

	for (int i = 0; i < NIO; i++) {
		while (!b->acked[i]) {
			uint8_t st = th_write(t, b->lba[i], 1, b->data[i], false);

			if (st == TH_GOOD) {
				b->acked[i] = true;
				break;
			}
			assert_int_equal(st, RT_STATUS_BUSY);
			if (rt_now() > end)
				fail_msg("write %d still BUSY after %.0f s", i, secs);
			usleep(200000);
		}
	}
	for (int i = 0; i < NIO; i++) {
		read_until_good(t, b->lba[i], back, secs);
		assert_memory_equal(back, b->data[i], t->bs);
	}
}

/*
 * A hung OSD with osd_op_timeout=2: writes and reads end BUSY after about
 * two seconds, the error is logged once for all of them; after the OSD
 * resumes, retries succeed and the data is there.
 */
static void test_osd_hung_timeout(void **state)
{
	uint64_t seed = 1;
	struct batch *b = calloc(1, sizeof(*b));
	uint8_t buf[512];
	struct sim_io rd;
	struct th t;
	double t0;
	int busy;

	assert_non_null(b);
	rt_osd("up");
	rt_image_create("hung1", 16 * MiB);
	assert_int_equal(th_start(&t, "rbd", rt_cfg("hung1", ";osd_op_timeout=2"), NULL), 0);
	assert_int_equal(th_write(&t, 0, 1, buf, false), TH_GOOD);

	rt_log_reset();
	rt_osd("pause");
	t0 = rt_now();
	batch_submit(&t, b, 1000, &seed, false);
	busy = batch_wait(&t, b, 20000);
	th_rw16(&rd, TH_OP_READ16, 0, 1, false);
	rd.in = buf;
	rd.in_len = sizeof(buf);
	th_submit(&t, &rd);
	th_wait(&t, &rd);
	printf("# hung OSD: %d of %d writes BUSY after %.1f s, read status 0x%02x\n",
	       busy, NIO, rt_now() - t0, rd.status);
	assert_int_equal(busy, NIO);
	assert_int_equal(rd.status, RT_STATUS_BUSY);
	/* 17 failed commands, one log line */
	assert_int_equal(rt_log_count("Connection timed out"), 1);

	rt_osd("resume");
	batch_retry_and_check(&t, b, 30);
	assert_int_equal(th_read(&t, 0, 1, buf), TH_GOOD);
	assert_int_equal(rt_log_count("Connection timed out"), 1);
	th_stop(&t);
	rt_image_remove_lazy("hung1");
	free(b);
}

/*
 * SIGKILL the OSD during I/O on two LUNs: "wait" (no osd_op_timeout) and
 * "busy" (osd_op_timeout=3, FUA writes, as Linux sends with the write cache
 * off), both after a flush. A first batch of writes races with the kill
 * (each GOOD or BUSY); a second one is sent while the OSD is dead: the
 * first LUN's writes wait, the second's end BUSY. After the OSD restarts,
 * the waiting writes complete GOOD, the BUSY ones succeed when retried,
 * and everything reads back, also through rbd export.
 */
static void test_osd_kill_restart(void **state)
{
	struct batch *b = calloc(4, sizeof(*b)); /* w1, b1, w2, b2 */
	uint8_t *shadow = calloc(1, 16 * MiB);
	uint64_t seed = 2;
	struct th tw, tb;
	double t0;
	int busy1, busy2;

	assert_true(b && shadow);
	rt_osd("up");
	rt_image_create("killw", 16 * MiB);
	rt_image_create("killb", 16 * MiB);
	assert_int_equal(th_start(&tw, "rbd", rt_cfg("killw", ""), NULL), 0);
	assert_int_equal(th_start(&tb, "rbd", rt_cfg("killb", ";osd_op_timeout=3"), NULL), 0);
	/* both own their image's lock before the OSD goes */
	assert_int_equal(th_write(&tw, 0, 1, shadow, false), TH_GOOD);
	assert_int_equal(th_write(&tb, 0, 1, shadow, false), TH_GOOD);
	/* A flush, as every initiator sends: it would switch a librbd cache
	 * from write-through to write-back (rbd_cache_writethrough_until_flush),
	 * after which writes were acknowledged before the OSD had them, and a
	 * failure reached only the next flush. The handler must run uncached. */
	assert_int_equal(th_sync(&tw), TH_GOOD);
	assert_int_equal(th_sync(&tb), TH_GOOD);

	rt_log_reset();
	batch_submit(&tw, &b[0], 100, &seed, false);
	batch_submit(&tb, &b[1], 100, &seed, true);
	rt_osd("kill");
	t0 = rt_now();
	batch_submit(&tw, &b[2], 5000, &seed, false);
	batch_submit(&tb, &b[3], 5000, &seed, true);
	busy1 = batch_wait(&tb, &b[1], 30000);
	busy2 = batch_wait(&tb, &b[3], 30000);
	printf("# OSD killed: osd_op_timeout=3: %d + %d of %d + %d writes BUSY after %.1f s; no time-out: %d + %d done\n",
	       busy1, busy2, NIO, NIO, rt_now() - t0, batch_done(&b[0]), batch_done(&b[2]));
	assert_int_equal(busy2, NIO);
	assert_int_equal(batch_done(&b[2]), 0); /* waiting */
	for (int i = 0; i < NIO; i++)
		if (b[0].io[i].done)
			assert_int_equal(b[0].io[i].status, TH_GOOD);
	assert_int_equal(rt_log_count("Connection timed out"), 1);

	rt_osd("start");
	t0 = rt_now();
	batch_wait(&tw, &b[0], 120000);
	batch_wait(&tw, &b[2], 120000);
	for (int i = 0; i < NIO; i++)
		assert_true(b[0].acked[i] && b[2].acked[i]);
	printf("# OSD restarted: waiting writes done %.1f s later\n", rt_now() - t0);
	batch_retry_and_check(&tb, &b[1], 60);
	batch_retry_and_check(&tb, &b[3], 60);
	batch_retry_and_check(&tw, &b[0], 5);
	batch_retry_and_check(&tw, &b[2], 5);
	th_stop(&tw);
	th_stop(&tb);

	rt_admin_reconnect();
	for (int k = 0; k < 2; k++) {
		memset(shadow, 0, 16 * MiB);
		for (int j = k; j < 4; j += 2)
			for (int i = 0; i < NIO; i++)
				memcpy(shadow + b[j].lba[i] * 512, b[j].data[i], 512);
		rt_export_equals(k ? "killb" : "killw", shadow, 16 * MiB);
	}
	/* The images stay: after the OSD restart the watches of before linger
	 * on the OSD for osd_client_watch_timeout (30 s) and rbd_remove
	 * would wait for them. */
	free(b);
	free(shadow);
}

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
	for (size_t i = 0; i < n; i++)
		if ((uint64_t)w[i].id != self)
			id = w[i].id;
	rbd_watchers_list_cleanup(w, n);
	rbd_close(img);
	return id;
}

/* Write @data at @lba until GOOD; only BUSY on the way. Returns BUSY count. */
static int write_until_good(struct th *t, uint64_t lba, const uint8_t *data, double secs)
{
	double end = rt_now() + secs;
	int busy = 0;

	for (;;) {
		uint8_t st = th_write(t, lba, 1, data, false);

		if (st == TH_GOOD)
			return busy;
		assert_int_equal(st, RT_STATUS_BUSY);
		busy++;
		if (rt_now() > end)
			fail_msg("still BUSY after %.0f s", secs);
		usleep(100000);
	}
}

/*
 * Another client breaks the exclusive lock (as a multipath peer taking
 * over would): this client is blocklisted. Both LUNs on its connection get
 * BUSY, reopen on a new connection and work again; the other client's
 * write is not overwritten by anything stale.
 */
static void test_blocklist_reopen(void **state)
{
	uint8_t mine[512], theirs[512], back[512];
	uint64_t seed = 3;
	int64_t id1, id2;
	struct th a, b;
	rbd_image_t img;
	rbd_lock_mode_t mode;
	char *owners[4];
	size_t no = 4;
	int busy;

	rt_image_create("bl1", 16 * MiB);
	rt_image_create("bl2", 16 * MiB);
	assert_int_equal(th_start(&a, "rbd", rt_cfg("bl1", ""), NULL), 0);
	assert_int_equal(th_start(&b, "rbd", rt_cfg("bl2", ""), NULL), 0);
	th_fill(mine, sizeof(mine), &seed);
	th_fill(theirs, sizeof(theirs), &seed);
	assert_int_equal(th_write(&a, 10, 1, mine, false), TH_GOOD);
	assert_int_equal(th_write(&b, 10, 1, mine, false), TH_GOOD);
	id1 = watcher_id("bl1");
	assert_int_equal(watcher_id("bl2"), id1);

	/* the takeover */
	rt_log_reset();
	assert_int_equal(rbd_open(rt.io, "bl1", &img, NULL), 0);
	assert_int_equal(rbd_lock_get_owners(img, &mode, owners, &no), 0);
	assert_int_equal(no, 1);
	assert_int_equal(rbd_lock_break(img, RBD_LOCK_MODE_EXCLUSIVE, owners[0]), 0);
	rbd_lock_get_owners_cleanup(owners, no);
	assert_int_equal(rbd_write(img, 20 * 512, sizeof(theirs), (char *)theirs),
			 (ssize_t)sizeof(theirs));
	assert_int_equal(rbd_close(img), 0);

	/* the fenced LUN: BUSY first, then it works on a new client */
	busy = write_until_good(&a, 30, mine, 30);
	printf("# blocklisted: %d BUSY before the write went through\n", busy);
	/* its neighbour on the same connection reopens as well */
	write_until_good(&b, 30, mine, 30);
	id2 = watcher_id("bl1");
	assert_int_not_equal(id2, id1);
	assert_int_equal(watcher_id("bl2"), id2);

	assert_int_equal(th_read(&a, 20, 1, back), TH_GOOD);
	assert_memory_equal(back, theirs, sizeof(back));
	assert_int_equal(th_read(&a, 10, 1, back), TH_GOOD);
	assert_memory_equal(back, mine, sizeof(back));
	assert_int_equal(th_read(&a, 30, 1, back), TH_GOOD);
	assert_memory_equal(back, mine, sizeof(back));
	assert_int_equal(rt_log_count("this client was blocklisted"), 2);
	th_stop(&a);
	th_stop(&b);
	rt_image_remove("bl1");
	rt_image_remove("bl2");
}

static int timing_start(void **state)
{
	test_t0 = rt_now();
	return 0;
}

static int timing_end(void **state)
{
	printf("# %.1f s\n", rt_now() - test_t0);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_osd_hung_timeout, timing_start, timing_end),
		cmocka_unit_test_setup_teardown(test_osd_kill_restart, timing_start, timing_end),
		cmocka_unit_test_setup_teardown(test_blocklist_reopen, timing_start, timing_end),
	};
	int r = rt_prereq();

	if (r)
		return r;
	r = cmocka_run_group_tests(tests, rt_setup, rt_teardown);
	/* leave the OSD running for whoever comes next, even after a failure */
	if (system("\"$TCMU_CLUSTERS_DIR/ceph-osd\" \"$TCMU_RBD_CLUSTER\" up 0"))
		r++;
	return r;
}
