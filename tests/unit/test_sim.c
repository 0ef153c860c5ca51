/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_sim.c — the kernel model itself behaves like target_core_user:
 * cmd_id allocation (lowest free / cyclic), data area and ring space
 * (qfull -> -EAGAIN, too big -> -EINVAL), entry sizes, event coalescing,
 * a completion for an unknown cmd_id breaking the ring, reset_ring
 * clearing it, and the kernel-thread mode with completion callbacks.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sim.h"
#include "spine.h"

static void io_tur(struct sim_io *io)
{
	uint8_t cdb[6] = { 0 };

	sim_io_init(io, cdb, 6);
}

static void io_read(struct sim_io *io, void *buf, size_t len)
{
	uint8_t cdb[10] = { 0x28 };

	sim_io_init(io, cdb, 10);
	io->in = buf;
	io->in_len = len;
}

static void complete_all(struct tcmu_device *dev)
{
	struct tcmu_cmd *c;

	tcmu_ring_ack_events(dev);
	while ((c = tcmu_ring_next(dev)))
		tcmu_ring_complete(dev, c);
	tcmu_ring_notify(dev);
}

static void test_ids_lowest_free(void **state)
{
	struct sim_config c = { .manual = true };
	struct tcmu_device *dev;
	struct tcmu_cmd *cmds[3];
	struct sim_io io[4];
	struct sim *s;
	int i;

	assert_int_equal(sim_create(&c, &s), 0);
	assert_int_equal(sim_open_device(s, &dev), 0);
	for (i = 0; i < 3; i++) {
		io_tur(&io[i]);
		assert_int_equal(sim_submit(s, &io[i]), i + 1);
	}
	tcmu_ring_ack_events(dev);
	for (i = 0; i < 3; i++)
		cmds[i] = tcmu_ring_next(dev);
	tcmu_ring_complete(dev, cmds[1]); /* id 2 */
	tcmu_ring_notify(dev);
	assert_int_equal(sim_reap(s, 1000, false), 1);
	assert_true(io[1].done);
	io_tur(&io[3]);
	assert_int_equal(sim_submit(s, &io[3]), 2); /* reused at once */
	tcmu_device_close(dev);
	sim_destroy(s);
}

static void test_ids_cyclic(void **state)
{
	struct sim_config c = { .manual = true, .cyclic_ids = true };
	struct tcmu_device *dev;
	struct sim_io io[3];
	struct sim *s;

	assert_int_equal(sim_create(&c, &s), 0);
	assert_int_equal(sim_open_device(s, &dev), 0);
	io_tur(&io[0]);
	assert_int_equal(sim_submit(s, &io[0]), 1);
	complete_all(dev);
	assert_int_equal(sim_reap(s, 1000, false), 1);
	io_tur(&io[1]);
	assert_int_equal(sim_submit(s, &io[1]), 2);
	tcmu_device_close(dev);
	sim_destroy(s);
}

static void test_data_area_and_ring_space(void **state)
{
	struct sim_config c = { .manual = true, .data_size = 4 * 4096,
				.cmdr_size = 4096 };
	uint8_t buf[6 * 4096];
	struct sim_io a, b, d;
	struct sim_stats st;
	struct sim *s;

	assert_int_equal(sim_create(&c, &s), 0);
	assert_int_equal(sim_data_block_size(s), 4096);
	assert_int_equal(sim_cmdr_size(s), 4096);
	io_read(&a, buf, 3 * 4096);
	assert_true(sim_submit(s, &a) > 0);
	sim_get_stats(s, &st);
	assert_int_equal(st.free_blocks, 1);
	assert_int_equal(st.total_blocks, 4);
	io_read(&b, buf, 2 * 4096);
	assert_int_equal(sim_submit(s, &b), -EAGAIN); /* qfull: data area */
	io_read(&d, buf, 5 * 4096);
	assert_int_equal(sim_submit(s, &d), -EINVAL); /* can never fit */
	io_read(&b, buf, 4096);
	assert_true(sim_submit(s, &b) > 0);
	sim_get_stats(s, &st);
	assert_int_equal(st.free_blocks, 0);
	assert_int_equal(st.in_flight, 2);
	assert_int_equal(st.submitted, 2);
	sim_destroy(s);
}

static void test_entry_sizes(void **state)
{
	struct sim_config c = { .manual = true };
	uint8_t buf[5 * 4096];
	struct sim_io io;
	struct sim *s;

	assert_int_equal(sim_create(&c, &s), 0);
	io_tur(&io);
	assert_int_equal(sim_entry_size(s, &io), 112 + 8);
	io_read(&io, buf, 4096);
	assert_int_equal(sim_entry_size(s, &io), 112 + 16);
	io_read(&io, buf, 5 * 4096); /* up to 5 iovecs: 48 + 80 > 112 */
	assert_int_equal(sim_entry_size(s, &io), 48 + 80 + 16);
	sim_destroy(s);
}

static void test_too_big_for_ring(void **state)
{
	/* The kernel refuses an entry larger than half the ring. */
	struct sim_config c = { .manual = true, .cmdr_size = 256 };
	uint8_t cdb32[32] = { 0x7f, 0, 0, 0, 0, 0, 0, 24 };
	struct sim_io io, io2, io3;
	struct sim *s;

	assert_int_equal(sim_create(&c, &s), 0);
	sim_io_init(&io, cdb32, 32); /* 112 + 32 = 144 > 128 */
	assert_int_equal(sim_entry_size(s, &io), 144);
	assert_int_equal(sim_submit(s, &io), -EINVAL);
	io_tur(&io); /* 120 fits */
	assert_int_equal(sim_submit(s, &io), 1);
	io_tur(&io2); /* 256 - 120 - 1 = 135 free */
	assert_int_equal(sim_submit(s, &io2), 2);
	io_tur(&io3); /* 16 to the end + 120 needed, 15 free */
	assert_int_equal(sim_submit(s, &io3), -EAGAIN);
	sim_destroy(s);
}

static void test_events_coalesce(void **state)
{
	struct sim_config c = { .manual = true };
	struct tcmu_device *dev;
	struct sim_io io[10];
	struct sim_stats st;
	struct sim *s;
	int i;

	assert_int_equal(sim_create(&c, &s), 0);
	assert_int_equal(sim_open_device(s, &dev), 0);
	for (i = 0; i < 5; i++) {
		io_tur(&io[i]);
		sim_submit(s, &io[i]);
	}
	sim_get_stats(s, &st);
	assert_int_equal(st.events, 1); /* unread event pending: no more */
	assert_int_equal(tcmu_ring_ack_events(dev), 1);
	io_tur(&io[5]);
	sim_submit(s, &io[5]);
	sim_get_stats(s, &st);
	assert_int_equal(st.events, 2);
	for (i = 6; i < 10; i++) {
		io_tur(&io[i]);
		sim_submit_flags(s, &io[i], SIM_NO_KICK);
	}
	assert_int_equal(tcmu_ring_ack_events(dev), 1);
	assert_int_equal(tcmu_ring_ack_events(dev), 0);
	tcmu_device_close(dev);
	sim_destroy(s);
}

/* The kernel marks the ring broken on a completion for an unknown cmd_id. */
static void test_unknown_completion_breaks_ring(void **state)
{
	struct sim_config c = { .manual = true };
	struct tcmu_device *dev;
	struct tcmu_cmd *cmd;
	struct tcmu_mailbox mb;
	struct sim_io io, again;
	struct sim_stats st;
	uint16_t bogus = 999;
	struct sim *s;

	assert_int_equal(sim_create(&c, &s), 0);
	assert_int_equal(sim_open_device(s, &dev), 0);
	io_tur(&io);
	sim_submit(s, &io);
	tcmu_ring_ack_events(dev);
	cmd = tcmu_ring_next(dev);
	assert_non_null(cmd);
	tcmu_ring_complete(dev, cmd);
	/* Forge the slot's cmd_id (the first entry, at cmdr_off). */
	memcpy(&mb, dev->map, sizeof(mb));
	memcpy((uint8_t *)dev->map + mb.cmdr_off +
		       offsetof(struct tcmu_cmd_entry_hdr, cmd_id),
	       &bogus, sizeof(bogus));
	tcmu_ring_notify(dev);
	assert_int_equal(sim_reap(s, 1000, false), -EIO);
	sim_get_stats(s, &st);
	assert_true(st.broken);
	io_tur(&again);
	assert_int_equal(sim_submit(s, &again), -EIO);
	tcmu_device_close(dev);

	sim_reset(s, 2);
	assert_true(io.done);
	assert_true(io.reset);
	assert_int_equal(io.status, 0x02);
	sim_get_stats(s, &st);
	assert_false(st.broken);
	assert_int_equal(st.head, 0);
	assert_int_equal(st.tail, 0);
	assert_int_equal(sim_submit(s, &again), 1);
	sim_destroy(s);
}

struct cb_state {
	int calls;
	int resubmitted;
	struct sim_io extra;
};

static void on_complete(struct sim *s, struct sim_io *io, void *arg)
{
	struct cb_state *cb = arg;

	cb->calls++;
	assert_true(io->done);
	if (!cb->resubmitted) { /* resubmitting from the callback works */
		cb->resubmitted = 1;
		io_tur(&cb->extra);
		assert_true(sim_submit(s, &cb->extra) > 0);
	}
}

static void test_kernel_thread_callbacks(void **state)
{
	struct cb_state cb = { 0 };
	struct sim_config c = { .complete = on_complete, .complete_arg = &cb };
	struct tcmu_device *dev;
	struct sim_io io[3];
	struct sim *s;
	int i;

	assert_int_equal(sim_create(&c, &s), 0);
	assert_int_equal(sim_open_device(s, &dev), 0);
	for (i = 0; i < 3; i++) {
		io_tur(&io[i]);
		sim_submit(s, &io[i]);
	}
	complete_all(dev); /* the kernel thread reaps on this notify */
	for (i = 0; i < 3; i++)
		assert_true(sim_wait_done(s, &io[i], 5000));
	usleep(10000);
	complete_all(dev); /* the command submitted by the callback */
	assert_true(sim_wait_done(s, &cb.extra, 5000));
	assert_true(sim_wait_idle(s, 5000));
	assert_int_equal(cb.calls, 4);
	tcmu_device_close(dev);
	sim_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids_lowest_free),
		cmocka_unit_test(test_ids_cyclic),
		cmocka_unit_test(test_data_area_and_ring_space),
		cmocka_unit_test(test_entry_sizes),
		cmocka_unit_test(test_too_big_for_ring),
		cmocka_unit_test(test_events_coalesce),
		cmocka_unit_test(test_unknown_completion_breaks_ring),
		cmocka_unit_test(test_kernel_thread_callbacks),
	};

	tcmu_set_log_level(0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
