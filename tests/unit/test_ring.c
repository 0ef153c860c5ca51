/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_ring.c — the ring API (tcmu_ring_*) against the kernel model in
 * tests/sim: layout, PAD and wrap, ring full, out-of-order completion,
 * READ_LEN, UNKNOWN_OP, sense, TMR, reset, malformed entries, bidi,
 * mailbox checks. The simulator runs in manual mode: completions are
 * processed only when libtcmu notified (as the kernel does on write()).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim.h"
#include "spine.h"

#define READ10 0x28
#define WRITE10 0x2a
#define TUR 0x00

struct fx {
	struct sim *s;
	struct tcmu_device *dev;
};

static struct fx *fx_new(const struct sim_config *cfg)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct sim_config c = { 0 };

	assert_non_null(f);
	if (cfg)
		c = *cfg;
	c.manual = true;
	assert_int_equal(sim_create(&c, &f->s), 0);
	assert_int_equal(sim_open_device(f->s, &f->dev), 0);
	return f;
}

static void fx_free(struct fx *f)
{
	tcmu_device_close(f->dev);
	sim_destroy(f->s);
	free(f);
}

static void io_rw(struct sim_io *io, uint8_t op, uint32_t lba, void *buf,
		  size_t len)
{
	uint8_t cdb[10] = { op };

	cdb[2] = (uint8_t)(lba >> 24);
	cdb[3] = (uint8_t)(lba >> 16);
	cdb[4] = (uint8_t)(lba >> 8);
	cdb[5] = (uint8_t)lba;
	cdb[7] = (uint8_t)((len / 512) >> 8);
	cdb[8] = (uint8_t)(len / 512);
	sim_io_init(io, cdb, 10);
	if (op == WRITE10) {
		io->out = buf;
		io->out_len = len;
	} else {
		io->in = buf;
		io->in_len = len;
	}
}

static void io_tur(struct sim_io *io)
{
	uint8_t cdb[6] = { TUR };

	sim_io_init(io, cdb, 6);
}

/* Take up to @max commands. */
static size_t take(struct fx *f, struct tcmu_cmd **cmds, size_t max)
{
	struct tcmu_cmd *c;
	size_t n = 0;

	tcmu_ring_ack_events(f->dev);
	while (n < max && (c = tcmu_ring_next(f->dev)))
		cmds[n++] = c;
	return n;
}

static struct tcmu_cmd *take_one(struct fx *f)
{
	struct tcmu_cmd *c = NULL;

	assert_int_equal(take(f, &c, 1), 1);
	return c;
}

static void fill_iov(struct iovec *iov, size_t cnt, uint8_t seed)
{
	size_t i, j, k = 0;

	for (i = 0; i < cnt; i++)
		for (j = 0; j < iov[i].iov_len; j++)
			((uint8_t *)iov[i].iov_base)[j] = (uint8_t)(seed + k++ * 7);
}

static void check_buf(const uint8_t *b, size_t len, uint8_t seed)
{
	size_t k;

	for (k = 0; k < len; k++)
		if (b[k] != (uint8_t)(seed + k * 7))
			fail_msg("byte %zu: %u != %u", k, b[k], (uint8_t)(seed + k * 7));
}

/* ---------------------------------------------------------------------- */

static void test_mailbox_checks(void **state)
{
	struct sim_config c = { .manual = true };
	struct tcmu_device *dev;
	struct sim *s;

	c.mb_version = 1;
	assert_int_equal(sim_create(&c, &s), 0);
	assert_int_equal(sim_open_device(s, &dev), -EINVAL);
	assert_null(dev);
	sim_destroy(s);

	c.mb_version = 3;
	assert_int_equal(sim_create(&c, &s), 0);
	assert_int_equal(sim_open_device(s, &dev), -EINVAL);
	sim_destroy(s);

	c.mb_version = 0;
	c.no_oooc_flag = true;
	assert_int_equal(sim_create(&c, &s), 0);
	assert_int_equal(sim_open_device(s, &dev), -EINVAL);
	sim_destroy(s);

	c.no_oooc_flag = false;
	assert_int_equal(sim_create(&c, &s), 0);
	assert_int_equal(sim_open_device(s, &dev), 0);
	assert_string_equal(tcmu_device_get_info(dev)->name, "tcm-user/1/sim");
	assert_true(tcmu_device_get_fd(dev) >= 0);
	tcmu_device_close(dev);
	sim_destroy(s);
}

static void test_read_roundtrip(void **state)
{
	struct fx *f = fx_new(NULL);
	uint8_t buf[8192];
	struct sim_io io;
	struct tcmu_cmd *cmd;
	size_t cnt, len;
	struct iovec *iov;
	const uint8_t *cdb;

	memset(buf, 0xee, sizeof(buf));
	io_rw(&io, READ10, 5, buf, sizeof(buf));
	assert_true(sim_submit(f->s, &io) > 0);
	assert_int_equal(tcmu_ring_ack_events(f->dev), 1);
	assert_int_equal(tcmu_ring_ack_events(f->dev), 0);
	cmd = tcmu_ring_next(f->dev);
	assert_non_null(cmd);
	assert_null(tcmu_ring_next(f->dev));
	assert_int_equal(tcmu_cmd_get_id(cmd), io.cmd_id);
	cdb = tcmu_cmd_get_cdb(cmd, &len);
	assert_int_equal(len, 10);
	assert_memory_equal(cdb, io.cdb, 10);
	iov = tcmu_cmd_get_iov(cmd, &cnt);
	assert_int_equal(cnt, 1); /* two adjacent blocks merged */
	assert_int_equal(iov[0].iov_len, 8192);
	tcmu_cmd_get_bidi_iov(cmd, &cnt);
	assert_int_equal(cnt, 0);
	assert_ptr_equal(tcmu_cmd_get_device(cmd), f->dev);
	fill_iov(iov, 1, 3);
	tcmu_cmd_set_status(cmd, 0, NULL, 0);
	tcmu_ring_complete(f->dev, cmd);

	/* Not processed before libtcmu notifies. */
	assert_int_equal(sim_reap(f->s, 0, false), 0);
	assert_false(io.done);
	assert_int_equal(tcmu_ring_notify(f->dev), 0);
	assert_int_equal(sim_reap(f->s, 1000, false), 1);
	assert_true(io.done);
	assert_int_equal(io.status, 0);
	assert_int_equal(io.xfer_len, 8192);
	check_buf(buf, sizeof(buf), 3);
	fx_free(f);
}

static void test_write_data_visible(void **state)
{
	struct fx *f = fx_new(NULL);
	uint8_t out[4096 * 3 + 512];
	struct sim_io io;
	struct tcmu_cmd *cmd;
	struct iovec *iov;
	size_t cnt, i, off = 0;

	for (i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i * 13 + 1);
	io_rw(&io, WRITE10, 0, out, sizeof(out));
	assert_true(sim_submit(f->s, &io) > 0);
	cmd = take_one(f);
	iov = tcmu_cmd_get_iov(cmd, &cnt);
	for (i = 0; i < cnt; i++) {
		assert_memory_equal(iov[i].iov_base, out + off, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	assert_int_equal(off, sizeof(out));
	assert_int_equal(cmd->data_len, sizeof(out));
	tcmu_ring_complete(f->dev, cmd);
	tcmu_ring_notify(f->dev);
	assert_int_equal(sim_reap(f->s, 1000, false), 1);
	assert_int_equal(io.status, 0);
	fx_free(f);
}

/* Many commands through a small ring: PAD entries, wrap, id reuse. */
static void test_wrap_with_pad(void **state)
{
	struct sim_config c = { .cmdr_size = 1000, .data_size = 64 << 10 };
	struct fx *f = fx_new(&c);
	struct sim_stats st;
	unsigned int i;

	for (i = 0; i < 300; i++) {
		uint8_t buf[512 * 3];
		struct sim_io io;
		struct tcmu_cmd *cmd;
		struct iovec *iov;
		size_t cnt, len = 512 * (1 + i % 3);

		/* 6-, 10- and 16-byte CDBs: entries of 120 and 128 bytes. */
		io_rw(&io, READ10, i, buf, len);
		if (i % 3 == 1) {
			io.cdb[0] = 0x88; /* READ(16) */
			io.cdb_len = 16;
		} else if (i % 3 == 2) {
			io.cdb[0] = 0x08; /* READ(6) */
			io.cdb_len = 6;
		}
		assert_true(sim_submit(f->s, &io) > 0);
		cmd = take_one(f);
		assert_int_equal(cmd->cdb_len, io.cdb_len);
		assert_int_equal(cmd->cdb[0], io.cdb[0]);
		iov = tcmu_cmd_get_iov(cmd, &cnt);
		assert_int_equal(cmd->data_len, len);
		fill_iov(iov, cnt, (uint8_t)i);
		tcmu_ring_complete(f->dev, cmd);
		assert_int_equal(tcmu_ring_notify(f->dev), 0);
		assert_int_equal(sim_reap(f->s, 1000, false), 1);
		assert_int_equal(io.status, 0);
		check_buf(buf, len, (uint8_t)i);
	}
	sim_get_stats(f->s, &st);
	assert_true(st.pads > 10);
	assert_false(st.broken);
	assert_int_equal(ring_error(f->dev), 0);
	fx_free(f);
}

/* The one-byte-free rule: a ring of k entries plus 7 bytes takes k - 1... */
static void test_ring_full(void **state)
{
	/* TUR entries are 112 + 8 = 120 bytes; 10 entries fill 1200 bytes. */
	struct sim_config c = { .cmdr_size = 1200 };
	struct fx *f = fx_new(&c);
	struct sim_io io[12];
	struct tcmu_cmd *cmds[12];
	unsigned int i;

	for (i = 0; i < 12; i++)
		io_tur(&io[i]);
	assert_int_equal(sim_entry_size(f->s, &io[0]), 120);
	/* A full ring would make head == tail: one slot stays free. */
	for (i = 0; i < 9; i++)
		assert_true(sim_submit(f->s, &io[i]) > 0);
	assert_int_equal(sim_submit(f->s, &io[9]), -EAGAIN);
	assert_int_equal(take(f, cmds, 12), 9);
	/* Taking is not freeing: the kernel frees on completion. */
	assert_int_equal(sim_submit(f->s, &io[9]), -EAGAIN);
	tcmu_ring_complete(f->dev, cmds[4]);
	assert_int_equal(tcmu_ring_notify(f->dev), 0);
	assert_int_equal(sim_reap(f->s, 1000, false), 1);
	/* Completion went into the first slot: it carries cmds[4]'s id. */
	assert_true(io[4].done);
	assert_false(io[0].done);
	assert_true(sim_submit(f->s, &io[9]) > 0);
	assert_int_equal(sim_submit(f->s, &io[10]), -EAGAIN);
	for (i = 0; i < 9; i++)
		if (i != 4)
			tcmu_ring_complete(f->dev, cmds[i]);
	assert_int_equal(take(f, cmds, 12), 1);
	tcmu_ring_complete(f->dev, cmds[0]);
	tcmu_ring_notify(f->dev);
	assert_int_equal(sim_reap(f->s, 1000, false), 9);
	for (i = 0; i < 10; i++)
		assert_true(io[i].done);
	fx_free(f);
}

static void shuffle(struct tcmu_cmd **v, size_t n, unsigned int *seed)
{
	size_t i;

	for (i = n - 1; i > 0; i--) {
		size_t j = (size_t)rand_r(seed) % (i + 1);
		struct tcmu_cmd *t = v[i];

		v[i] = v[j];
		v[j] = t;
	}
}

/* Thousands outstanding, completed in random order with distinct results. */
static void test_thousands_random_order(void **state)
{
	enum { N = 5000 };
	struct sim_config c = { .cmdr_size = (1 << 20) - 128 };
	struct fx *f = fx_new(&c);
	struct sim_io *io = calloc(N, sizeof(*io));
	struct tcmu_cmd **cmds = calloc(N, sizeof(*cmds));
	unsigned int seed = 42, i;
	size_t n;

	assert_non_null(io);
	assert_non_null(cmds);
	for (i = 0; i < N; i++) {
		io_tur(&io[i]);
		assert_int_equal(sim_submit(f->s, &io[i]), i + 1); /* lowest-free ids */
	}
	n = take(f, cmds, N);
	assert_int_equal(n, N);
	assert_int_equal(ring_cmds_in_use(f->dev), N);
	shuffle(cmds, N, &seed);
	for (i = 0; i < N; i++) {
		uint16_t id = tcmu_cmd_get_id(cmds[i]);

		if (id % 3 == 0) {
			uint8_t sense[18] = { 0x70, 0, 0x05, 0, 0, 0, 0, 10 };

			sense[12] = (uint8_t)id; /* ASC carries the id */
			sense[13] = (uint8_t)(id >> 8);
			tcmu_cmd_set_status(cmds[i], 0x02, sense, sizeof(sense));
		}
		tcmu_ring_complete(f->dev, cmds[i]);
		if (i % 700 == 0)
			assert_int_equal(tcmu_ring_notify(f->dev), 0);
	}
	assert_int_equal(tcmu_ring_notify(f->dev), 0);
	while (!sim_wait_idle(f->s, 0))
		assert_true(sim_reap(f->s, 1000, false) >= 0);
	for (i = 0; i < N; i++) {
		uint16_t id = io[i].cmd_id;

		assert_true(io[i].done);
		if (id % 3 == 0) {
			assert_int_equal(io[i].status, 0x02);
			assert_int_equal(io[i].sense[12], (uint8_t)id);
			assert_int_equal(io[i].sense[13], (uint8_t)(id >> 8));
		} else {
			assert_int_equal(io[i].status, 0);
		}
	}
	assert_int_equal(ring_cmds_in_use(f->dev), 0);
	free(io);
	free(cmds);
	fx_free(f);
}

/* Random order with data-in: each initiator gets its own command's data. */
static void test_random_order_data(void **state)
{
	enum { N = 64 };
	struct sim_config c = { .data_size = 1 << 20 };
	struct fx *f = fx_new(&c);
	static uint8_t bufs[N][4096 * 2];
	struct sim_io io[N];
	struct tcmu_cmd *cmds[N];
	unsigned int seed = 7, i;

	for (i = 0; i < N; i++) {
		io_rw(&io[i], READ10, i, bufs[i], (i % 2 + 1) * 4096);
		assert_true(sim_submit(f->s, &io[i]) > 0);
	}
	assert_int_equal(take(f, cmds, N), N);
	for (i = 0; i < N; i++) {
		size_t cnt;
		struct iovec *iov = tcmu_cmd_get_iov(cmds[i], &cnt);

		fill_iov(iov, cnt, (uint8_t)tcmu_cmd_get_id(cmds[i]));
	}
	shuffle(cmds, N, &seed);
	for (i = 0; i < N; i++) {
		tcmu_ring_complete(f->dev, cmds[i]);
		if (i % 5 == 4) {
			tcmu_ring_notify(f->dev);
			sim_reap(f->s, 1000, false);
		}
	}
	tcmu_ring_notify(f->dev);
	sim_reap(f->s, 1000, false);
	for (i = 0; i < N; i++) {
		assert_true(io[i].done);
		assert_int_equal(io[i].xfer_len, (i % 2 + 1) * 4096);
		check_buf(bufs[i], io[i].xfer_len, (uint8_t)io[i].cmd_id);
	}
	fx_free(f);
}

static void test_read_len_residual(void **state)
{
	struct fx *f = fx_new(NULL);
	uint8_t buf[8192];
	struct sim_io io;
	struct tcmu_cmd *cmd;
	struct iovec *iov;
	size_t cnt;

	memset(buf, 0, sizeof(buf));
	io_rw(&io, READ10, 0, buf, sizeof(buf));
	sim_submit(f->s, &io);
	cmd = take_one(f);
	iov = tcmu_cmd_get_iov(cmd, &cnt);
	memset(iov[0].iov_base, 0xab, iov[0].iov_len);
	tcmu_cmd_set_read_len(cmd, 1000);
	tcmu_ring_complete(f->dev, cmd);
	tcmu_ring_notify(f->dev);
	assert_int_equal(sim_reap(f->s, 1000, false), 1);
	assert_true(io.read_len_valid);
	assert_int_equal(io.xfer_len, 1000);
	assert_int_equal(buf[999], 0xab);
	assert_int_equal(buf[1000], 0);
	fx_free(f);
}

static void test_unknown_op_and_sense(void **state)
{
	struct fx *f = fx_new(NULL);
	struct sim_io a, b;
	struct tcmu_cmd *ca, *cb;
	uint8_t cdb[10] = { 0xc5 }; /* vendor specific, group 6: 10 bytes */
	uint8_t sense[18] = { 0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x24 };

	sim_io_init(&a, cdb, 10);
	sim_io_init(&b, cdb, 10);
	sim_submit(f->s, &a);
	sim_submit(f->s, &b);
	ca = take_one(f);
	cb = take_one(f);
	tcmu_cmd_set_unknown_op(ca);
	tcmu_cmd_set_status(cb, 0x02, sense, sizeof(sense));
	tcmu_ring_complete(f->dev, cb);
	tcmu_ring_complete(f->dev, ca);
	tcmu_ring_notify(f->dev);
	assert_int_equal(sim_reap(f->s, 1000, false), 2);
	assert_true(a.unknown_op);
	assert_int_equal(a.status, 0x02);
	assert_false(b.unknown_op);
	assert_int_equal(b.status, 0x02);
	assert_memory_equal(b.sense, sense, sizeof(sense));
	assert_int_equal(b.sense[18], 0); /* the rest of the 96 bytes cleared */
	fx_free(f);
}

struct tmr_seen {
	int calls;
	uint8_t type;
	uint16_t ids[8];
	uint32_t n;
};

static void tmr_cb(struct tcmu_device *dev, uint8_t type, const uint16_t *ids,
		   uint32_t n, void *arg)
{
	struct tmr_seen *t = arg;

	t->calls++;
	t->type = type;
	t->n = n;
	memcpy(t->ids, ids, n * sizeof(*ids));
}

static void test_tmr_delivered(void **state)
{
	struct fx *f = fx_new(NULL);
	struct tmr_seen seen = { 0 };
	struct sim_io io[3];
	struct tcmu_cmd *cmds[3];
	uint16_t ids[2];
	unsigned int i;

	tcmu_ring_set_tmr_fn(f->dev, tmr_cb, &seen);
	for (i = 0; i < 3; i++) {
		io_tur(&io[i]);
		sim_submit(f->s, &io[i]);
	}
	assert_int_equal(take(f, cmds, 3), 3);
	ids[0] = io[0].cmd_id;
	ids[1] = io[2].cmd_id;
	assert_int_equal(sim_tmr(f->s, TCMU_TMR_ABORT_TASK_SET, ids, 2), 0);
	assert_int_equal(take(f, cmds, 3), 0); /* a TMR is not a command */
	assert_int_equal(seen.calls, 1);
	assert_int_equal(seen.type, TCMU_TMR_ABORT_TASK_SET);
	assert_int_equal(seen.n, 2);
	assert_int_equal(seen.ids[0], ids[0]);
	assert_int_equal(seen.ids[1], ids[1]);
	assert_true(io[0].aborted);
	/* Completion steps over the TMR slot, kernel and libtcmu alike. */
	for (i = 0; i < 3; i++)
		tcmu_ring_complete(f->dev, cmds[i]);
	tcmu_ring_notify(f->dev);
	assert_int_equal(sim_reap(f->s, 1000, false), 3);
	/* A TMR after every command completed is still given back. */
	assert_int_equal(sim_tmr(f->s, TCMU_TMR_LUN_RESET, NULL, 0), 0);
	assert_int_equal(take(f, cmds, 3), 0);
	assert_int_equal(seen.calls, 2);
	assert_int_equal(tcmu_ring_notify(f->dev), 0);
	sim_reap(f->s, 1000, false);
	{
		struct sim_stats st;

		sim_get_stats(f->s, &st);
		assert_int_equal(st.last_cleaned, st.head);
		assert_false(st.broken);
	}
	fx_free(f);
}

/* Daemon restart: reset_ring drops what the old daemon held. */
static void test_reset_with_commands_in_flight(void **state)
{
	struct fx *f = fx_new(NULL);
	struct sim_io io[4], nio;
	struct tcmu_cmd *cmds[4];
	uint8_t buf[4096];
	unsigned int i;

	for (i = 0; i < 4; i++) {
		io_tur(&io[i]);
		sim_submit(f->s, &io[i]);
	}
	assert_int_equal(take(f, cmds, 4), 4);
	tcmu_ring_complete(f->dev, cmds[1]); /* written, never notified */
	tcmu_device_close(f->dev);
	sim_reset(f->s, 1);
	for (i = 0; i < 4; i++) {
		assert_true(io[i].done);
		assert_true(io[i].reset);
		assert_int_equal(io[i].status, 0x08); /* BUSY */
	}
	assert_int_equal(sim_open_device(f->s, &f->dev), 0);
	io_rw(&nio, READ10, 0, buf, sizeof(buf));
	assert_int_equal(sim_submit(f->s, &nio), 1);
	cmds[0] = take_one(f);
	assert_int_equal(tcmu_cmd_get_id(cmds[0]), 1);
	tcmu_ring_complete(f->dev, cmds[0]);
	tcmu_ring_notify(f->dev);
	assert_int_equal(sim_reap(f->s, 1000, false), 1);
	assert_true(nio.done);
	assert_false(nio.reset);
	assert_int_equal(nio.status, 0);
	fx_free(f);
}

/* Entries whose CDB or iovecs are bad: completed at once, never used. */
static void check_failed_entry(enum sim_corruption how)
{
	struct fx *f = fx_new(NULL);
	uint8_t buf[4096];
	struct sim_io bad, good;
	struct tcmu_cmd *cmd;

	io_rw(&bad, READ10, 0, buf, sizeof(buf));
	io_rw(&good, READ10, 8, buf, sizeof(buf));
	assert_true(sim_submit_bad(f->s, &bad, how) > 0);
	assert_true(sim_submit(f->s, &good) > 0);
	cmd = take_one(f); /* the bad one was skipped */
	assert_int_equal(tcmu_cmd_get_id(cmd), good.cmd_id);
	assert_int_equal(ring_error(f->dev), 0);
	tcmu_ring_complete(f->dev, cmd);
	assert_int_equal(tcmu_ring_notify(f->dev), 0);
	assert_int_equal(sim_reap(f->s, 1000, false), 2);
	assert_int_equal(bad.status, 0x02);
	assert_int_equal(bad.sense[0], 0x70);
	assert_int_equal(bad.sense[2], 0x04); /* HARDWARE ERROR */
	assert_int_equal(good.status, 0);
	fx_free(f);
}

static void test_bad_iov_out_of_bounds(void **state)
{
	check_failed_entry(SIM_BAD_IOV_OOB);
}

static void test_bad_iov_count(void **state)
{
	check_failed_entry(SIM_BAD_IOV_CNT);
}

static void test_bad_cdb_off(void **state)
{
	check_failed_entry(SIM_BAD_CDB_OFF);
}

/* Headers that make the ring unwalkable: broken, reported, nothing taken. */
static void check_broken(enum sim_corruption how)
{
	struct fx *f = fx_new(NULL);
	struct sim_io first, bad, after;
	struct tcmu_cmd *cmd;

	io_tur(&first);
	io_tur(&bad);
	io_tur(&after);
	sim_submit(f->s, &first);
	cmd = take_one(f);
	assert_true(sim_submit_bad(f->s, &bad, how) > 0);
	if (how != SIM_BAD_LEN_PAST_HEAD && how != SIM_BAD_HEAD_UNALIGNED)
		sim_submit(f->s, &after);
	assert_null(tcmu_ring_next(f->dev));
	assert_int_equal(tcmu_ring_get_error(f->dev), -EIO);
	assert_null(tcmu_ring_next(f->dev));
	/* What was taken before still completes. */
	tcmu_ring_complete(f->dev, cmd);
	assert_int_equal(tcmu_ring_notify(f->dev), 0);
	assert_int_equal(sim_reap(f->s, 1000, false), 1);
	assert_true(first.done);
	assert_false(bad.done);
	fx_free(f);
}

static void test_bad_len_zero(void **state)
{
	check_broken(SIM_BAD_LEN_ZERO);
}

static void test_bad_len_past_head(void **state)
{
	check_broken(SIM_BAD_LEN_PAST_HEAD);
}

static void test_bad_len_past_end(void **state)
{
	check_broken(SIM_BAD_LEN_PAST_END);
}

static void test_bad_len_short(void **state)
{
	check_broken(SIM_BAD_LEN_SHORT);
}

static void test_bad_head_unaligned(void **state)
{
	check_broken(SIM_BAD_HEAD_UNALIGNED);
}

/* An entry with an opcode we do not know is stepped over, and the kernel
 * (which would take it for a command) sees a PAD instead. */
static void test_unknown_entry_opcode(void **state)
{
	struct fx *f = fx_new(NULL);
	struct sim_io good;
	struct tcmu_cmd *cmd;
	struct sim_stats st;

	assert_int_equal(sim_submit_bad(f->s, NULL, SIM_BAD_UNKNOWN_OP), 0);
	io_tur(&good);
	sim_submit(f->s, &good);
	cmd = take_one(f);
	assert_int_equal(tcmu_cmd_get_id(cmd), good.cmd_id);
	assert_int_equal(ring_error(f->dev), 0);
	tcmu_ring_complete(f->dev, cmd);
	tcmu_ring_notify(f->dev);
	assert_int_equal(sim_reap(f->s, 1000, false), 1);
	sim_get_stats(f->s, &st);
	assert_false(st.broken);
	assert_true(good.done);
	fx_free(f);
}

static void test_bidi(void **state)
{
	struct fx *f = fx_new(NULL);
	uint8_t out[4096], in[8192];
	struct sim_io io;
	struct tcmu_cmd *cmd;
	struct iovec *iov, *biov;
	size_t cnt, bcnt;
	uint8_t cdb[10] = { 0x53 }; /* XDWRITEREAD(10) */

	memset(out, 0x11, sizeof(out));
	memset(in, 0, sizeof(in));
	sim_io_init(&io, cdb, 10);
	io.out = out;
	io.out_len = sizeof(out);
	io.in = in;
	io.in_len = sizeof(in);
	sim_submit(f->s, &io);
	cmd = take_one(f);
	iov = tcmu_cmd_get_iov(cmd, &cnt);
	biov = tcmu_cmd_get_bidi_iov(cmd, &bcnt);
	assert_int_equal(cnt, 1);
	assert_int_equal(iov[0].iov_len, sizeof(out));
	assert_int_equal(((uint8_t *)iov[0].iov_base)[100], 0x11);
	assert_int_equal(bcnt, 1);
	assert_int_equal(biov[0].iov_len, sizeof(in));
	fill_iov(biov, bcnt, 9);
	tcmu_ring_complete(f->dev, cmd);
	tcmu_ring_notify(f->dev);
	assert_int_equal(sim_reap(f->s, 1000, false), 1);
	assert_int_equal(io.xfer_len, sizeof(in));
	check_buf(in, sizeof(in), 9);
	fx_free(f);
}

/* Non-adjacent data blocks give several iovecs, in order. */
static void test_fragmented_iovecs(void **state)
{
	struct fx *f = fx_new(NULL);
	uint8_t small[4096], big[4096 * 4];
	struct sim_io a[3], io;
	struct tcmu_cmd *cmds[3], *cmd;
	size_t cnt;
	unsigned int i;

	for (i = 0; i < 3; i++) {
		io_rw(&a[i], READ10, 0, small, sizeof(small));
		sim_submit(f->s, &a[i]);
	}
	assert_int_equal(take(f, cmds, 3), 3);
	tcmu_ring_complete(f->dev, cmds[0]); /* frees block 0 */
	tcmu_ring_complete(f->dev, cmds[2]); /* frees block 2 */
	tcmu_ring_notify(f->dev);
	assert_int_equal(sim_reap(f->s, 1000, false), 2);
	io_rw(&io, READ10, 0, big, sizeof(big)); /* blocks 0, 2, 3, 4 */
	sim_submit(f->s, &io);
	cmd = take_one(f);
	tcmu_cmd_get_iov(cmd, &cnt);
	assert_int_equal(cnt, 2);
	assert_int_equal(cmd->iov[0].iov_len, 4096);
	assert_int_equal(cmd->iov[1].iov_len, 3 * 4096);
	fill_iov(cmd->iov, cnt, 77);
	tcmu_ring_complete(f->dev, cmd);
	tcmu_ring_complete(f->dev, cmds[1]);
	tcmu_ring_notify(f->dev);
	assert_int_equal(sim_reap(f->s, 1000, false), 2);
	check_buf(big, sizeof(big), 77);
	fx_free(f);
}

static void test_notify_batches(void **state)
{
	struct fx *f = fx_new(NULL);
	struct sim_io io[5];
	struct tcmu_cmd *cmds[5];
	struct sim_stats st;
	unsigned int i;

	assert_int_equal(tcmu_ring_notify(f->dev), 0); /* nothing: no write */
	for (i = 0; i < 5; i++) {
		io_tur(&io[i]);
		sim_submit(f->s, &io[i]);
	}
	assert_int_equal(take(f, cmds, 5), 5);
	for (i = 0; i < 5; i++)
		tcmu_ring_complete(f->dev, cmds[i]);
	assert_int_equal(tcmu_ring_notify(f->dev), 0);
	assert_int_equal(tcmu_ring_notify(f->dev), 0);
	assert_int_equal(sim_reap(f->s, 1000, false), 5);
	sim_get_stats(f->s, &st);
	assert_int_equal(st.notifies, 1);
	assert_int_equal(ring_notify_count(f->dev), 1);
	fx_free(f);
}

/* Stats kept by the ring: completed, errors, in flight. */
static void test_ring_stats(void **state)
{
	struct fx *f = fx_new(NULL);
	struct tcmu_device_stats st;
	struct sim_io io[3];
	struct tcmu_cmd *cmds[3];
	unsigned int i;

	for (i = 0; i < 3; i++) {
		io_tur(&io[i]);
		sim_submit(f->s, &io[i]);
	}
	take(f, cmds, 3);
	tcmu_device_get_stats(f->dev, &st);
	assert_int_equal(st.in_flight, 3);
	tcmu_cmd_set_status(cmds[0], 0x02, NULL, 0);
	for (i = 0; i < 3; i++)
		tcmu_ring_complete(f->dev, cmds[i]);
	tcmu_device_get_stats(f->dev, &st);
	assert_int_equal(st.in_flight, 0);
	assert_int_equal(st.cmds_completed, 3);
	assert_int_equal(st.errors, 1);
	fx_free(f);
}

/* More iovecs than preallocated: the command's store grows, data intact. */
static void test_iov_store_growth(void **state)
{
	struct sim_config c = { .max_sectors = 8, .data_size = 1 << 20 };
	struct fx *f = fx_new(&c);
	static uint8_t small[40][4096], big[20 * 4096];
	struct sim_io io[40], bio;
	struct tcmu_cmd *cmds[40], *cmd;
	size_t cnt;
	unsigned int i;

	assert_true(f->dev->ring != NULL);
	for (i = 0; i < 40; i++) {
		io_rw(&io[i], READ10, i, small[i], 4096);
		assert_true(sim_submit(f->s, &io[i]) > 0);
	}
	assert_int_equal(take(f, cmds, 40), 40);
	for (i = 0; i < 40; i += 2) /* free blocks 0, 2, 4, ... 38 */
		tcmu_ring_complete(f->dev, cmds[i]);
	tcmu_ring_notify(f->dev);
	assert_int_equal(sim_reap(f->s, 1000, false), 20);
	io_rw(&bio, READ10, 0, big, sizeof(big));
	assert_true(sim_submit(f->s, &bio) > 0);
	cmd = take_one(f);
	tcmu_cmd_get_iov(cmd, &cnt);
	assert_int_equal(cnt, 20); /* 20 separate blocks > 16 preallocated */
	assert_true(cmd->iov_cap >= 20);
	fill_iov(cmd->iov, cnt, 5);
	tcmu_ring_complete(f->dev, cmd);
	for (i = 1; i < 40; i += 2)
		tcmu_ring_complete(f->dev, cmds[i]);
	tcmu_ring_notify(f->dev);
	assert_int_equal(sim_reap(f->s, 1000, false), 21);
	assert_int_equal(bio.status, 0);
	check_buf(big, sizeof(big), 5);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mailbox_checks),
		cmocka_unit_test(test_read_roundtrip),
		cmocka_unit_test(test_write_data_visible),
		cmocka_unit_test(test_wrap_with_pad),
		cmocka_unit_test(test_ring_full),
		cmocka_unit_test(test_thousands_random_order),
		cmocka_unit_test(test_random_order_data),
		cmocka_unit_test(test_read_len_residual),
		cmocka_unit_test(test_unknown_op_and_sense),
		cmocka_unit_test(test_tmr_delivered),
		cmocka_unit_test(test_reset_with_commands_in_flight),
		cmocka_unit_test(test_bad_iov_out_of_bounds),
		cmocka_unit_test(test_bad_iov_count),
		cmocka_unit_test(test_bad_cdb_off),
		cmocka_unit_test(test_bad_len_zero),
		cmocka_unit_test(test_bad_len_past_head),
		cmocka_unit_test(test_bad_len_past_end),
		cmocka_unit_test(test_bad_len_short),
		cmocka_unit_test(test_bad_head_unaligned),
		cmocka_unit_test(test_unknown_entry_opcode),
		cmocka_unit_test(test_bidi),
		cmocka_unit_test(test_fragmented_iovecs),
		cmocka_unit_test(test_notify_batches),
		cmocka_unit_test(test_ring_stats),
		cmocka_unit_test(test_iov_store_growth),
	};

	tcmu_set_log_level(0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
