/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/unit/test_pub_handler_ram.c — the "ram" handler through the public
 * API and the ring simulator: check_config, data integrity under random
 * out-of-order I/O, UNMAP, WRITE SAME, COMPARE AND WRITE, the order of
 * dependent commands in one batch, and the stall options (late
 * completion; completion only on abort).
 */
#include <time.h>

#include "test_pub_handler_common.h"

#define TH_TMR_ABORT_TASK 1 /* enum tcmu_tmr_type in target_core_user.h */

static bool ok(const struct tcmu_handler *h, const char *cfg)
{
	char *reason = NULL;
	bool r = h->check_config(cfg, &reason);

	if (!r)
		assert_non_null(reason);
	free(reason);
	return r;
}

static void test_check_config(void **state)
{
	const struct tcmu_handler *h;
	void *dl;

	h = th_load("ram", &dl);
	assert_true(ok(h, ""));
	assert_true(ok(h, "scratch"));
	assert_true(ok(h, "x;size=1G"));
	assert_true(ok(h, "x;stall_ms=10;stall=0"));
	assert_true(ok(h, "x;stall=1"));
	assert_false(ok(h, "x;stall=2"));
	assert_false(ok(h, "x;stall_ms=abc"));
	assert_false(ok(h, "x;stall_ms="));
	assert_false(ok(h, "x;bogus"));
	assert_null(dlsym(dl, "ram_open"));
	dlclose(dl);
}

static void test_random_io(void **state)
{
	uint8_t *shadow;
	struct th t;

	assert_int_equal(th_start(&t, "ram", "bench", NULL), 0);
	shadow = calloc(1, t.size);
	assert_non_null(shadow);
	th_random_io(&t, shadow, 60, 24, 42);
	th_stop(&t);
	free(shadow);
}

static void test_unmap_write_same(void **state)
{
	const uint64_t ranges[2][2] = { { 8, 100 }, { 4096, 8192 } };
	uint8_t *data, *back, pat[512], zero[512] = { 0 };
	uint64_t seed = 17;
	size_t i, total = 16 << 20; /* the whole LUN */
	struct th t;

	assert_int_equal(th_start(&t, "ram", "u", NULL), 0);
	data = malloc(total);
	back = malloc(total);
	assert_true(data && back);
	th_fill(data, total, &seed);
	for (i = 0; i < total; i += TH_CHUNK)
		assert_int_equal(th_write(&t, i / 512, TH_CHUNK / 512, data + i, false), TH_GOOD);

	assert_int_equal(th_unmap(&t, ranges, 2), TH_GOOD);
	memset(data + 8 * 512, 0, 100 * 512);
	memset(data + 4096 * 512, 0, 8192 * 512);

	th_fill(pat, sizeof(pat), &seed);
	assert_int_equal(th_write_same(&t, 20000, 77, pat, false), TH_GOOD);
	for (i = 0; i < 77; i++)
		memcpy(data + (20000 + i) * 512, pat, 512);
	assert_int_equal(th_write_same(&t, 15000, 33, zero, true), TH_GOOD);
	memset(data + 15000 * 512, 0, 33 * 512);

	for (i = 0; i < total; i += TH_CHUNK)
		assert_int_equal(th_read(&t, i / 512, TH_CHUNK / 512, back + i), TH_GOOD);
	assert_memory_equal(back, data, total);
	th_stop(&t);
	free(data);
	free(back);
}

static void test_compare_and_write(void **state)
{
	uint8_t a[1024], b[1024], c[1024], back[1024];
	uint64_t seed = 5;
	struct sim_io io;
	struct th t;

	assert_int_equal(th_start(&t, "ram", "caw", NULL), 0);
	assert_non_null(t.h->compare_and_write);
	th_fill(a, sizeof(a), &seed);
	th_fill(b, sizeof(b), &seed);
	assert_int_equal(th_write(&t, 40, 2, a, false), TH_GOOD);

	/* equal: written */
	assert_int_equal(th_caw(&t, 40, 2, a, b, &io), TH_GOOD);
	assert_int_equal(th_read(&t, 40, 2, back), TH_GOOD);
	assert_memory_equal(back, b, sizeof(b));

	/* different in the second block: MISCOMPARE, nothing written */
	memcpy(c, b, sizeof(c));
	c[700] ^= 0x55;
	assert_int_equal(th_caw(&t, 40, 2, c, a, &io), TH_CHECK);
	assert_int_equal(th_sense_key(&io), TH_KEY_MISCOMPARE);
	assert_int_equal(th_read(&t, 40, 2, back), TH_GOOD);
	assert_memory_equal(back, b, sizeof(b));
	th_stop(&t);
}

/* Queues @io without raising a UIO event: the batch starts with sim_kick(). */
static void submit_quiet(struct th *t, struct sim_io *io)
{
	assert_true(sim_submit_flags(t->sim, io, SIM_NO_KICK) > 0);
}

/*
 * One batch of dependent commands on the same blocks: WRITE, COMPARE AND
 * WRITE against what that write wrote, READ, WRITE, SYNCHRONIZE CACHE,
 * READ: each must see what the ones before it did, however the handler
 * and the SCSI core group the work of a batch.
 */
static void test_batch_keeps_order(void **state)
{
	uint8_t a[4096], b[1024], c[1024], cw[2048], back1[4096], back2[4096], want[4096];
	uint8_t cdb[16] = { TH_OP_CAW };
	uint64_t seed = 77;
	struct sim_io io[6];
	struct th t;
	int i;

	assert_int_equal(th_start(&t, "ram", "order", NULL), 0);
	assert_int_equal(th_read(&t, 0, 8, back1), TH_GOOD); /* takes the unit attention */
	th_fill(a, sizeof(a), &seed);
	th_fill(b, sizeof(b), &seed);
	th_fill(c, sizeof(c), &seed);
	memcpy(cw, a, 1024);
	memcpy(cw + 1024, b, 1024);

	th_rw16(&io[0], TH_OP_WRITE16, 100, 8, false);
	io[0].out = a;
	io[0].out_len = sizeof(a);
	th_put_be(cdb + 2, 100, 8);
	cdb[13] = 2;
	sim_io_init(&io[1], cdb, 16);
	io[1].out = cw;
	io[1].out_len = sizeof(cw);
	th_rw16(&io[2], TH_OP_READ16, 100, 8, false);
	io[2].in = back1;
	io[2].in_len = sizeof(back1);
	th_rw16(&io[3], TH_OP_WRITE16, 102, 2, false);
	io[3].out = c;
	io[3].out_len = sizeof(c);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = TH_OP_SYNC10;
	sim_io_init(&io[4], cdb, 10);
	th_rw16(&io[5], TH_OP_READ16, 100, 8, false);
	io[5].in = back2;
	io[5].in_len = sizeof(back2);
	for (i = 0; i < 6; i++)
		submit_quiet(&t, &io[i]);
	sim_kick(t.sim);
	for (i = 0; i < 6; i++) {
		th_wait(&t, &io[i]);
		assert_int_equal(io[i].status, TH_GOOD);
	}
	memcpy(want, b, 1024);
	memcpy(want + 1024, a + 1024, 3072);
	assert_memory_equal(back1, want, sizeof(want));
	memcpy(want + 1024, c, 1024);
	assert_memory_equal(back2, want, sizeof(want));
	th_stop(&t);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

static void test_stall_ms(void **state)
{
	uint8_t buf[4096] = { 1, 2, 3 }, back[4096];
	struct sim_io io[4];
	uint64_t t0;
	struct th t;
	int i;

	assert_int_equal(th_start(&t, "ram", "slow;stall_ms=150", NULL), 0);
	t0 = now_ms();
	assert_int_equal(th_write(&t, 0, 8, buf, false), TH_GOOD);
	assert_true(now_ms() - t0 >= 150);

	/* several in flight stall together, not one after the other */
	t0 = now_ms();
	for (i = 0; i < 4; i++) {
		th_rw16(&io[i], TH_OP_READ16, 0, 8, false);
		io[i].in = back;
		io[i].in_len = sizeof(back);
		th_submit(&t, &io[i]);
	}
	for (i = 0; i < 4; i++) {
		th_wait(&t, &io[i]);
		assert_int_equal(io[i].status, TH_GOOD);
	}
	assert_true(now_ms() - t0 >= 150);
	assert_true(now_ms() - t0 < 4 * 150);
	assert_memory_equal(back, buf, sizeof(buf));
	th_stop(&t);
}

static void test_stall_until_abort(void **state)
{
	uint8_t back[4096];
	struct sim_io io, io2;
	uint16_t id, id2;
	struct th t;

	assert_int_equal(th_start(&t, "ram", "hang;stall=1", NULL), 0);
	assert_non_null(t.h->abort);
	th_rw16(&io, TH_OP_READ16, 0, 8, false);
	io.in = back;
	io.in_len = sizeof(back);
	id = th_submit(&t, &io);
	th_rw16(&io2, TH_OP_READ16, 8, 8, false);
	io2.in = back;
	io2.in_len = sizeof(back);
	id2 = th_submit(&t, &io2);
	if (sim_wait_done(t.sim, &io, 300))
		fail_msg("completed while stalled: status 0x%02x sense %02x/%02x/%02x",
			 io.status, th_sense_key(&io), th_sense_asc(&io), th_sense_ascq(&io));

	assert_int_equal(sim_tmr(t.sim, TH_TMR_ABORT_TASK, &id, 1), 0);
	th_wait(&t, &io);
	assert_true(io.aborted);
	/* the other one is still held */
	assert_false(sim_wait_done(t.sim, &io2, 100));
	assert_int_equal(sim_tmr(t.sim, TH_TMR_ABORT_TASK, &id2, 1), 0);
	th_wait(&t, &io2);
	th_stop(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_config),
		cmocka_unit_test(test_random_io),
		cmocka_unit_test(test_unmap_write_same),
		cmocka_unit_test(test_compare_and_write),
		cmocka_unit_test(test_batch_keeps_order),
		cmocka_unit_test(test_stall_ms),
		cmocka_unit_test(test_stall_until_abort),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
