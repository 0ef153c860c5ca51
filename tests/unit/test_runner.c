/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_runner.c — the ring thread and dispatch (libtcmu/runner.c) against
 * the kernel model: ASYNC / SERIALIZED / PARALLEL handlers, completion
 * from foreign threads, batching (one notify per batch), time-outs that
 * abort without completing early, TMRs, stop with commands in flight,
 * stats, reconfig, handler poll fds and the synchronous test mode.
 *
 * The test handler serves a RAM disk. Its handle_cmd() decodes READ(10) /
 * WRITE(10) itself and issues the I/O through runner_call(), so the whole
 * path is exercised independently of the SCSI core; other opcodes go to
 * the SCSI core (scsi_submit).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "sim.h"
#include "spine.h"

#define READ10 0x28
#define WRITE10 0x2a
#define DISK_SIZE (1u << 20)

enum th_mode {
	TH_INLINE,  /* complete inside the callback */
	TH_THREAD,  /* hand to a helper thread that completes */
	TH_HOLD,    /* keep until released */
	TH_SLEEP,   /* sleep 20 ms, then complete (blocking handlers) */
	TH_POLLFD,  /* complete from the handler's poll fd on the ring thread */
	TH_REFUSE,  /* return -EIO (not taken) */
	TH_BATCH,   /* keep until batch_end(), which completes them all */
};

struct th {
	uint8_t disk[DISK_SIZE];
	enum th_mode mode;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct tcmu_cmd *held[256];
	int nheld;
	/* helper thread */
	pthread_t helper;
	bool helper_stop;
	struct tcmu_cmd *queue[256];
	int nqueue;
	/* observations */
	int opened, closed, batch_ends, aborts;
	int concurrent, max_concurrent;
	bool on_ring_thread_seen, off_ring_thread_seen;
	pthread_t ring_thread;
	int efd; /* TH_POLLFD */
	bool reopen;
	int reconfigs;
	const struct tcmu_reconfig *last_rc;
	bool priv_bad;
	int open_error;
};

static struct th *TH;

static void th_hold(struct tcmu_cmd *cmd)
{
	pthread_mutex_lock(&TH->lock);
	TH->held[TH->nheld++] = cmd;
	pthread_cond_broadcast(&TH->cond);
	pthread_mutex_unlock(&TH->lock);
}

static void th_release_all(int result)
{
	struct tcmu_cmd *list[256];
	int i, n;

	pthread_mutex_lock(&TH->lock);
	n = TH->nheld;
	memcpy(list, TH->held, sizeof(list[0]) * (size_t)n);
	TH->nheld = 0;
	pthread_mutex_unlock(&TH->lock);
	for (i = 0; i < n; i++)
		tcmu_cmd_done(list[i], result);
}

static bool th_wait_held(int n, int timeout_ms)
{
	bool ok;
	int waited = 0;

	pthread_mutex_lock(&TH->lock);
	while (TH->nheld < n && waited < timeout_ms) {
		pthread_mutex_unlock(&TH->lock);
		usleep(1000);
		waited++;
		pthread_mutex_lock(&TH->lock);
	}
	ok = TH->nheld >= n;
	pthread_mutex_unlock(&TH->lock);
	return ok;
}

static void *helper_main(void *arg)
{
	pthread_mutex_lock(&TH->lock);
	while (!TH->helper_stop) {
		while (TH->nqueue) {
			struct tcmu_cmd *cmd = TH->queue[--TH->nqueue];

			pthread_mutex_unlock(&TH->lock);
			tcmu_cmd_done(cmd, 0);
			pthread_mutex_lock(&TH->lock);
		}
		pthread_cond_wait(&TH->cond, &TH->lock);
	}
	pthread_mutex_unlock(&TH->lock);
	return NULL;
}

static void copy_iov(struct tcmu_device *dev, const struct iovec *iov,
		     size_t cnt, uint64_t off, size_t len, bool to_disk)
{
	size_t i;

	for (i = 0; i < cnt && len; i++) {
		size_t l = iov[i].iov_len < len ? iov[i].iov_len : len;

		if (to_disk)
			memcpy(TH->disk + off, iov[i].iov_base, l);
		else
			memcpy(iov[i].iov_base, TH->disk + off, l);
		off += l;
		len -= l;
	}
}

static int th_io(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		 const struct iovec *iov, size_t cnt, uint64_t off, size_t len,
		 bool to_disk)
{
	int c;

	pthread_mutex_lock(&TH->lock);
	c = ++TH->concurrent;
	if (c > TH->max_concurrent)
		TH->max_concurrent = c;
	if (pthread_equal(pthread_self(), TH->ring_thread))
		TH->on_ring_thread_seen = true;
	else
		TH->off_ring_thread_seen = true;
	pthread_mutex_unlock(&TH->lock);

	if (off + len > DISK_SIZE) {
		pthread_mutex_lock(&TH->lock);
		TH->concurrent--;
		pthread_mutex_unlock(&TH->lock);
		return -ERANGE;
	}
	copy_iov(dev, iov, cnt, off, len, to_disk);
	if (TH->mode == TH_SLEEP)
		usleep(20000);
	pthread_mutex_lock(&TH->lock);
	TH->concurrent--;
	pthread_mutex_unlock(&TH->lock);

	switch (TH->mode) {
	case TH_INLINE:
	case TH_SLEEP:
		tcmu_cmd_done(cmd, 0);
		break;
	case TH_THREAD:
		pthread_mutex_lock(&TH->lock);
		TH->queue[TH->nqueue++] = cmd;
		pthread_cond_broadcast(&TH->cond);
		pthread_mutex_unlock(&TH->lock);
		break;
	case TH_HOLD:
	case TH_BATCH:
		th_hold(cmd);
		break;
	case TH_POLLFD: {
		uint64_t one = 1;

		th_hold(cmd);
		if (write(TH->efd, &one, sizeof(one)) < 0)
			return -errno;
		break;
	}
	case TH_REFUSE:
		return -EIO;
	}
	return 0;
}

static int th_read(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		   const struct iovec *iov, size_t cnt, uint64_t off,
		   size_t len, unsigned int flags)
{
	return th_io(dev, cmd, iov, cnt, off, len, false);
}

static int th_write(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		    const struct iovec *iov, size_t cnt, uint64_t off,
		    size_t len, unsigned int flags)
{
	return th_io(dev, cmd, iov, cnt, off, len, true);
}

/* Raw CDB path: READ(10)/WRITE(10) decoded here, sent through runner_call. */
static int th_handle_cmd(struct tcmu_device *dev, struct tcmu_cmd *cmd)
{
	const uint8_t *cdb = cmd->cdb;
	uint32_t lba, n;

	uint8_t *priv = tcmu_cmd_priv(cmd);
	size_t i;

	TH->ring_thread = pthread_self();
	if (!priv) {
		TH->priv_bad = true;
	} else {
		for (i = 0; i < 24; i++)
			if (priv[i])
				TH->priv_bad = true;
		memset(priv, 0x5a, 24); /* must be zeroed for the next command */
	}
	if (cdb[0] == 0xc0) { /* vendor: explicit CHECK CONDITION */
		tcmu_cmd_set_sense(cmd, 0x05, 0x26, 0x01);
		tcmu_cmd_done_scsi(cmd, 0x02);
		return 0;
	}
	if (cdb[0] == 0xc1) /* vendor: refused by handle_cmd */
		return -EINVAL;
	if (cdb[0] != READ10 && cdb[0] != WRITE10)
		return TCMU_NOT_HANDLED;
	lba = (uint32_t)cdb[2] << 24 | (uint32_t)cdb[3] << 16 |
	      (uint32_t)cdb[4] << 8 | cdb[5];
	n = (uint32_t)cdb[7] << 8 | cdb[8];
	cmd->io.op = cdb[0] == READ10 ? TCMU_IO_READ : TCMU_IO_WRITE;
	cmd->io.offset = (uint64_t)lba * 512;
	cmd->io.length = (uint64_t)n * 512;
	cmd->io.iov = cmd->iov;
	cmd->io.iovcnt = cmd->iov_cnt;
	runner_call(cmd, NULL);
	return 0;
}

static void th_pollfd_cb(struct tcmu_device *dev, void *arg)
{
	uint64_t v;

	if (read(TH->efd, &v, sizeof(v)) < 0)
		return;
	if (!pthread_equal(pthread_self(), TH->ring_thread))
		TH->off_ring_thread_seen = true;
	th_release_all(0);
}

static int th_open(struct tcmu_device *dev, bool reopen)
{
	TH->opened++;
	TH->reopen = reopen;
	if (TH->open_error)
		return TH->open_error;
	tcmu_dev_set_private(dev, TH);
	if (TH->mode == TH_POLLFD)
		return tcmu_dev_add_poll_fd(dev, TH->efd, th_pollfd_cb, NULL);
	return 0;
}

static void th_close(struct tcmu_device *dev)
{
	TH->closed++;
}


static void th_batch_end(struct tcmu_device *dev)
{
	__atomic_add_fetch(&TH->batch_ends, 1, __ATOMIC_RELEASE);
	if (TH->mode == TH_BATCH) /* like io_uring: I/O starts at submit */
		th_release_all(0);
}

static void th_abort(struct tcmu_device *dev, struct tcmu_cmd *cmd)
{
	pthread_mutex_lock(&TH->lock);
	TH->aborts++;
	pthread_mutex_unlock(&TH->lock);
}

static int th_reconfig(struct tcmu_device *dev, const struct tcmu_reconfig *rc)
{
	TH->reconfigs++;
	TH->last_rc = rc;
	return rc->cfgstring && !strcmp(rc->cfgstring, "bad") ? -EINVAL : 0;
}

static struct tcmu_handler th_handler = {
	.subtype = "test",
	.name = "test handler",
	.open = th_open,
	.close = th_close,
	.read = th_read,
	.write = th_write,
	.handle_cmd = th_handle_cmd,
	.batch_end = th_batch_end,
	.abort = th_abort,
	.reconfig = th_reconfig,
	.cmd_priv_size = 24,
};

struct fx {
	struct sim *s;
	struct tcmu_device *dev;
	struct tcmu_handler h;
};

static struct fx *fx_new(enum tcmu_concurrency conc, enum th_mode mode,
			 const struct sim_config *cfg, bool start)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct sim_config c = { 0 };

	assert_non_null(f);
	TH = calloc(1, sizeof(*TH));
	assert_non_null(TH);
	pthread_mutex_init(&TH->lock, NULL);
	pthread_cond_init(&TH->cond, NULL);
	TH->mode = mode;
	TH->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(pthread_create(&TH->helper, NULL, helper_main, NULL) == 0);
	if (cfg)
		c = *cfg;
	assert_int_equal(sim_create(&c, &f->s), 0);
	assert_int_equal(sim_open_device(f->s, &f->dev), 0);
	f->h = th_handler;
	f->h.concurrency = conc;
	if (conc == TCMU_CONCURRENCY_PARALLEL)
		f->h.nr_threads = 3;
	if (start)
		assert_int_equal(tcmu_device_start(f->dev, &f->h, false), 0);
	return f;
}

static struct fx *fx_start(enum tcmu_concurrency conc, enum th_mode mode,
			   const struct sim_config *cfg)
{
	return fx_new(conc, mode, cfg, true);
}

static void fx_free(struct fx *f)
{
	tcmu_device_close(f->dev);
	sim_destroy(f->s);
	pthread_mutex_lock(&TH->lock);
	TH->helper_stop = true;
	pthread_cond_broadcast(&TH->cond);
	pthread_mutex_unlock(&TH->lock);
	pthread_join(TH->helper, NULL);
	close(TH->efd);
	pthread_mutex_destroy(&TH->lock);
	pthread_cond_destroy(&TH->cond);
	free(TH);
	TH = NULL;
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

/* Write a pattern at every 8th LBA, read it back, compare. */
static void write_read_verify(struct fx *f, int n)
{
	struct sim_io *io = calloc((size_t)n, sizeof(*io));
	uint8_t (*bufs)[4096] = calloc((size_t)n, 4096);
	uint8_t (*rbufs)[4096] = calloc((size_t)n, 4096);
	int i, j;

	assert_non_null(io);
	for (i = 0; i < n; i++) {
		for (j = 0; j < 4096; j++)
			bufs[i][j] = (uint8_t)(i * 31 + j);
		io_rw(&io[i], WRITE10, (uint32_t)i * 8, bufs[i], 4096);
		while (sim_submit(f->s, &io[i]) == -EAGAIN)
			usleep(100);
	}
	for (i = 0; i < n; i++) {
		assert_true(sim_wait_done(f->s, &io[i], 5000));
		assert_int_equal(io[i].status, 0);
	}
	for (i = 0; i < n; i++) {
		io_rw(&io[i], READ10, (uint32_t)i * 8, rbufs[i], 4096);
		while (sim_submit(f->s, &io[i]) == -EAGAIN)
			usleep(100);
	}
	for (i = 0; i < n; i++) {
		assert_true(sim_wait_done(f->s, &io[i], 5000));
		assert_int_equal(io[i].status, 0);
		assert_int_equal(io[i].xfer_len, 4096);
		assert_memory_equal(rbufs[i], bufs[i], 4096);
	}
	free(io);
	free(bufs);
	free(rbufs);
}

/* ---------------------------------------------------------------------- */

static void test_async_inline_end_to_end(void **state)
{
	struct fx *f = fx_start(TCMU_CONCURRENCY_ASYNC, TH_INLINE, NULL);
	struct tcmu_device_stats st;

	assert_int_equal(TH->opened, 1);
	write_read_verify(f, 64);
	assert_true(TH->on_ring_thread_seen);
	assert_false(TH->off_ring_thread_seen);
	tcmu_device_get_stats(f->dev, &st);
	assert_int_equal(st.cmds_completed, 128);
	assert_int_equal(st.bytes_written, 64 * 4096);
	assert_int_equal(st.bytes_read, 64 * 4096);
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.in_flight, 0);
	assert_int_equal(tcmu_device_stop(f->dev, 1000), 0);
	assert_int_equal(TH->closed, 1);
	fx_free(f);
}

static void test_async_foreign_thread_completion(void **state)
{
	struct fx *f = fx_start(TCMU_CONCURRENCY_ASYNC, TH_THREAD, NULL);

	write_read_verify(f, 200);
	fx_free(f);
}

static void test_serialized(void **state)
{
	struct fx *f = fx_start(TCMU_CONCURRENCY_SERIALIZED, TH_SLEEP, NULL);

	write_read_verify(f, 10);
	assert_int_equal(TH->max_concurrent, 1);
	assert_true(TH->off_ring_thread_seen);
	assert_false(TH->on_ring_thread_seen);
	fx_free(f);
}

static void test_parallel(void **state)
{
	struct fx *f = fx_start(TCMU_CONCURRENCY_PARALLEL, TH_SLEEP, NULL);

	write_read_verify(f, 24);
	assert_true(TH->max_concurrent >= 2);
	assert_true(TH->max_concurrent <= 3);
	assert_false(TH->on_ring_thread_seen);
	fx_free(f);
}

static void submit_n(struct fx *f, struct sim_io *io, int n, uint8_t op,
		     unsigned int flags)
{
	static uint8_t bufs[64][4096];
	int i;

	assert_true(n <= 64);
	for (i = 0; i < n; i++) {
		io_rw(&io[i], op, (uint32_t)i, bufs[i], 4096);
		assert_true(sim_submit_flags(f->s, &io[i], flags) > 0);
	}
}

static void wait_batch_ends(int n)
{
	int i;

	for (i = 0; i < 1000 && __atomic_load_n(&TH->batch_ends, __ATOMIC_ACQUIRE) < n; i++)
		usleep(1000);
	usleep(20000); /* and no extra one */
}

/* Everything found in one wakeup is completed with ONE notify write. */
static void test_batching_one_notify_per_batch(void **state)
{
	struct fx *f = fx_start(TCMU_CONCURRENCY_ASYNC, TH_INLINE, NULL);
	struct sim_io io[32];
	struct sim_stats st;
	int i;

	submit_n(f, io, 32, READ10, SIM_NO_KICK);
	sim_kick(f->s);
	assert_true(sim_wait_idle(f->s, 5000));
	for (i = 0; i < 32; i++)
		assert_int_equal(io[i].status, 0);
	sim_get_stats(f->s, &st);
	assert_int_equal(st.notifies, 1);
	wait_batch_ends(1); /* batch_end() runs just after the notify */
	assert_int_equal(ring_notify_count(f->dev), 1);
	assert_int_equal(TH->batch_ends, 1);

	submit_n(f, io, 16, WRITE10, SIM_NO_KICK);
	sim_kick(f->s);
	assert_true(sim_wait_idle(f->s, 5000));
	sim_get_stats(f->s, &st);
	assert_int_equal(st.notifies, 2);
	wait_batch_ends(2);
	assert_int_equal(TH->batch_ends, 2);
	fx_free(f);
}

/* Completions from a worker pool are batched too (fewer notifies than cmds). */
/*
 * A handler that starts I/O only in batch_end() (like io_uring_submit):
 * an emulated COMPARE AND WRITE makes its second handler call (the write)
 * from a continuation, in a turn with no new commands; that call must
 * get a batch_end() too, and its inline completion must not be stranded.
 */
static void test_batch_end_after_continuation(void **state)
{
	struct fx *f = fx_start(TCMU_CONCURRENCY_ASYNC, TH_BATCH, NULL);
	uint8_t blk[512], caw[1024], rd[512];
	uint8_t cdb[16] = { 0x89 };
	struct sim_io io;

	memset(blk, 0xab, sizeof(blk));
	io_rw(&io, WRITE10, 10, blk, sizeof(blk));
	assert_true(sim_submit(f->s, &io) > 0);
	assert_true(sim_wait_done(f->s, &io, 5000));
	assert_int_equal(io.status, 0);

	/* The SCSI core reports the power-on unit attention once: take it. */
	sim_io_init(&io, (const uint8_t[6]){ 0x00 }, 6);
	assert_true(sim_submit(f->s, &io) > 0);
	assert_true(sim_wait_done(f->s, &io, 5000));

	memcpy(caw, blk, 512);      /* compare: matches */
	memset(caw + 512, 0xcd, 512); /* write */
	cdb[9] = 10;  /* LBA */
	cdb[13] = 1;  /* one block */
	sim_io_init(&io, cdb, 16);
	io.out = caw;
	io.out_len = sizeof(caw);
	assert_true(sim_submit(f->s, &io) > 0);
	assert_true(sim_wait_done(f->s, &io, 5000));
	assert_int_equal(io.status, 0);

	io_rw(&io, READ10, 10, rd, sizeof(rd));
	assert_true(sim_submit(f->s, &io) > 0);
	assert_true(sim_wait_done(f->s, &io, 5000));
	assert_int_equal(io.status, 0);
	assert_memory_equal(rd, caw + 512, 512);
	assert_int_equal(tcmu_device_stop(f->dev, 1000), 0);
	fx_free(f);
}

static void test_batching_from_threads(void **state)
{
	struct fx *f = fx_start(TCMU_CONCURRENCY_ASYNC, TH_HOLD, NULL);
	struct sim_io io[40];
	struct sim_stats st;

	submit_n(f, io, 40, READ10, 0);
	assert_true(th_wait_held(40, 5000));
	th_release_all(0); /* 40 completions from this (foreign) thread */
	assert_true(sim_wait_idle(f->s, 5000));
	sim_get_stats(f->s, &st);
	assert_true(st.notifies >= 1);
	assert_true(st.notifies < 40);
	fx_free(f);
}

static void test_timeout_aborts_without_completing(void **state)
{
	struct fx *f = fx_start(TCMU_CONCURRENCY_ASYNC, TH_HOLD, NULL);
	struct tcmu_device_stats st;
	struct sim_io io[3];
	int i;

	runner_set_cmd_timeout_ms(f->dev, 50);
	submit_n(f, io, 3, READ10, 0);
	assert_true(th_wait_held(3, 5000));
	usleep(400000);
	pthread_mutex_lock(&TH->lock);
	assert_int_equal(TH->aborts, 3); /* once each, not on every tick */
	pthread_mutex_unlock(&TH->lock);
	tcmu_device_get_stats(f->dev, &st);
	assert_int_equal(st.timeouts, 3);
	assert_int_equal(st.in_flight, 3);
	for (i = 0; i < 3; i++)
		assert_false(io[i].done); /* never completed behind the handler */
	th_release_all(-ECANCELED);
	for (i = 0; i < 3; i++) {
		assert_true(sim_wait_done(f->s, &io[i], 5000));
		assert_int_equal(io[i].status, 0x02);
	}
	fx_free(f);
}

static void test_no_timeout_when_disabled(void **state)
{
	struct fx *f = fx_start(TCMU_CONCURRENCY_ASYNC, TH_HOLD, NULL);
	struct tcmu_device_stats st;
	struct sim_io io[1];

	tcmu_device_set_cmd_timeout(f->dev, 0);
	submit_n(f, io, 1, READ10, 0);
	assert_true(th_wait_held(1, 5000));
	usleep(100000);
	tcmu_device_get_stats(f->dev, &st);
	assert_int_equal(st.timeouts, 0);
	assert_int_equal(TH->aborts, 0);
	th_release_all(0);
	assert_true(sim_wait_done(f->s, &io[0], 5000));
	fx_free(f);
}

static void test_tmr_aborts_held_command(void **state)
{
	struct fx *f = fx_start(TCMU_CONCURRENCY_ASYNC, TH_HOLD, NULL);
	struct tcmu_device_stats st;
	struct sim_io io[2];
	uint16_t ids[2];
	int i;

	submit_n(f, io, 2, READ10, 0);
	assert_true(th_wait_held(2, 5000));
	ids[0] = io[1].cmd_id;
	ids[1] = 999; /* not held: ignored */
	assert_int_equal(sim_tmr(f->s, TCMU_TMR_ABORT_TASK, ids, 2), 0);
	for (i = 0; i < 2000; i++) {
		tcmu_device_get_stats(f->dev, &st);
		if (st.aborts)
			break;
		usleep(1000);
	}
	assert_int_equal(st.aborts, 1);
	pthread_mutex_lock(&TH->lock);
	assert_int_equal(TH->aborts, 1);
	pthread_mutex_unlock(&TH->lock);
	th_release_all(0);
	for (i = 0; i < 2; i++)
		assert_true(sim_wait_done(f->s, &io[i], 5000));
	fx_free(f);
}

static void test_stop_abandons_held_commands(void **state)
{
	struct fx *f = fx_start(TCMU_CONCURRENCY_SERIALIZED, TH_HOLD, NULL);
	struct sim_io io[2];
	struct sim_stats st;

	submit_n(f, io, 2, READ10, 0);
	assert_true(th_wait_held(2, 5000));
	assert_int_equal(tcmu_device_stop(f->dev, 100), -ETIMEDOUT);
	assert_int_equal(TH->closed, 1);
	usleep(50000);
	assert_false(io[0].done);
	assert_false(io[1].done);
	sim_get_stats(f->s, &st);
	assert_int_equal(st.in_flight, 2);
	TH->nheld = 0; /* abandoned with the device */
	fx_free(f);
}

static void *release_later(void *arg)
{
	usleep(50000);
	th_release_all(0);
	return NULL;
}

static void test_stop_waits_for_in_flight(void **state)
{
	struct fx *f = fx_start(TCMU_CONCURRENCY_PARALLEL, TH_HOLD, NULL);
	struct sim_io io[4];
	pthread_t t;
	int i;

	submit_n(f, io, 4, WRITE10, 0);
	assert_true(th_wait_held(4, 5000));
	pthread_create(&t, NULL, release_later, NULL);
	assert_int_equal(tcmu_device_stop(f->dev, 5000), 0);
	pthread_join(t, NULL);
	for (i = 0; i < 4; i++) {
		assert_true(sim_wait_done(f->s, &io[i], 5000));
		assert_int_equal(io[i].status, 0);
	}
	assert_int_equal(TH->closed, 1);
	/* No new command is taken once stopped. */
	submit_n(f, io, 1, READ10, 0);
	usleep(50000);
	assert_false(io[0].done);
	fx_free(f);
}

static uint8_t sense_key(const struct sim_io *io)
{
	return (io->sense[0] & 0x7f) >= 0x72 ? io->sense[1] & 0x0f :
					       io->sense[2] & 0x0f;
}

static void test_refused_io_becomes_check_condition(void **state)
{
	struct fx *f = fx_start(TCMU_CONCURRENCY_ASYNC, TH_REFUSE, NULL);
	struct tcmu_device_stats st;
	struct sim_io io[2];

	submit_n(f, io, 1, READ10, 0);
	assert_true(sim_wait_done(f->s, &io[0], 5000));
	assert_int_equal(io[0].status, 0x02);
	assert_int_equal(sense_key(&io[0]), 0x03); /* MEDIUM ERROR */
	tcmu_device_get_stats(f->dev, &st);
	assert_int_equal(st.errors, 1);
	assert_int_equal(st.bytes_read, 0);
	fx_free(f);

	f = fx_start(TCMU_CONCURRENCY_PARALLEL, TH_REFUSE, NULL);
	submit_n(f, io, 2, WRITE10, 0);
	assert_true(sim_wait_done(f->s, &io[0], 5000));
	assert_true(sim_wait_done(f->s, &io[1], 5000));
	assert_int_equal(io[0].status, 0x02);
	fx_free(f);
}

static void test_handle_cmd_paths(void **state)
{
	struct fx *f = fx_start(TCMU_CONCURRENCY_ASYNC, TH_INLINE, NULL);
	uint8_t vendor[10] = { 0xc0 }, refused[10] = { 0xc1 }, tur[6] = { 0 };
	struct sim_io a, b, c;

	sim_io_init(&a, vendor, 10);
	sim_io_init(&b, refused, 10);
	sim_io_init(&c, tur, 6);
	assert_true(sim_submit(f->s, &a) > 0);
	assert_true(sim_submit(f->s, &b) > 0);
	assert_true(sim_submit(f->s, &c) > 0);
	assert_true(sim_wait_done(f->s, &a, 5000));
	assert_true(sim_wait_done(f->s, &b, 5000));
	assert_true(sim_wait_done(f->s, &c, 5000)); /* went to the SCSI core */
	assert_int_equal(a.status, 0x02);
	assert_int_equal(a.sense[2], 0x05);
	assert_int_equal(a.sense[12], 0x26);
	assert_int_equal(a.sense[13], 0x01);
	assert_int_equal(b.status, 0x02); /* handle_cmd's -errno mapped */
	assert_false(TH->priv_bad);
	fx_free(f);
}

static void test_cmd_priv_zeroed(void **state)
{
	struct fx *f = fx_start(TCMU_CONCURRENCY_ASYNC, TH_INLINE, NULL);

	/* handle_cmd scribbles on priv; each new command must see zeroes. */
	write_read_verify(f, 20);
	assert_false(TH->priv_bad);
	fx_free(f);
}

static void test_poll_fd_completion(void **state)
{
	struct fx *f = fx_start(TCMU_CONCURRENCY_ASYNC, TH_POLLFD, NULL);

	write_read_verify(f, 30);
	assert_false(TH->off_ring_thread_seen);
	fx_free(f);
}

static void test_open_failure(void **state)
{
	struct fx *f = fx_new(TCMU_CONCURRENCY_ASYNC, TH_INLINE, NULL, false);

	f->h.concurrency = (enum tcmu_concurrency)7;
	assert_int_equal(tcmu_device_start(f->dev, &f->h, false), -EINVAL);
	assert_int_equal(TH->opened, 0);
	f->h.concurrency = TCMU_CONCURRENCY_ASYNC;
	TH->open_error = -ENOENT;
	assert_int_equal(tcmu_device_start(f->dev, &f->h, true), -ENOENT);
	assert_true(TH->reopen);
	assert_null(f->dev->runner);
	assert_int_equal(TH->closed, 0);
	TH->open_error = 0;
	assert_int_equal(tcmu_device_start(f->dev, &f->h, false), 0);
	assert_int_equal(tcmu_device_start(f->dev, &f->h, false), -EBUSY);
	write_read_verify(f, 4);
	fx_free(f);
	assert_true(true);
}

static void test_reconfig(void **state)
{
	struct fx *f = fx_start(TCMU_CONCURRENCY_SERIALIZED, TH_INLINE, NULL);
	struct tcmu_reconfig rc = { .cfgstring = NULL, .size = 2 << 20,
				    .write_cache = 1 };

	assert_int_equal(tcmu_device_reconfig(f->dev, &rc), 0);
	assert_int_equal(TH->reconfigs, 1);
	assert_int_equal(tcmu_dev_get_size(f->dev), 2 << 20);
	assert_int_equal(tcmu_dev_get_num_lbas(f->dev), (2 << 20) / 512);
	assert_true(tcmu_dev_get_write_cache(f->dev));
	rc.size = 0;
	rc.write_cache = -1;
	rc.cfgstring = "bad";
	assert_int_equal(tcmu_device_reconfig(f->dev, &rc), -EINVAL);
	assert_string_equal(tcmu_dev_get_cfgstring(f->dev), "");
	rc.cfgstring = "good";
	assert_int_equal(tcmu_device_reconfig(f->dev, &rc), 0);
	assert_string_equal(tcmu_dev_get_cfgstring(f->dev), "good");
	write_read_verify(f, 4); /* the ring runs again */
	/* Without a reconfig callback, config changes are refused. */
	tcmu_device_stop(f->dev, 1000);
	f->h.reconfig = NULL;
	assert_int_equal(tcmu_device_start(f->dev, &f->h, false), 0);
	rc.cfgstring = "other";
	assert_int_equal(tcmu_device_reconfig(f->dev, &rc), -EOPNOTSUPP);
	rc.cfgstring = NULL;
	rc.size = 4 << 20;
	assert_int_equal(tcmu_device_reconfig(f->dev, &rc), 0);
	assert_int_equal(tcmu_dev_get_size(f->dev), 4 << 20);
	fx_free(f);
}

static void test_accessors(void **state)
{
	struct sim_config c = { .dev_size = 8 << 20, .block_size = 4096,
				.max_sectors = 64, .data_size = 1 << 20 };
	struct fx *f = fx_new(TCMU_CONCURRENCY_ASYNC, TH_INLINE, &c, true);

	assert_string_equal(tcmu_dev_get_name(f->dev), "tcm-user/1/sim");
	assert_int_equal(tcmu_dev_get_block_size(f->dev), 4096);
	assert_int_equal(tcmu_dev_get_size(f->dev), 8 << 20);
	assert_int_equal(tcmu_dev_get_num_lbas(f->dev), 2048);
	assert_int_equal(tcmu_dev_get_max_xfer_len(f->dev), 64 * 4096);
	assert_ptr_equal(tcmu_dev_get_private(f->dev), TH);
	assert_false(tcmu_dev_get_write_cache(f->dev));
	fx_free(f);

	c.max_sectors = 4096; /* more than the data area holds */
	f = fx_new(TCMU_CONCURRENCY_ASYNC, TH_INLINE, &c, true);
	assert_int_equal(tcmu_dev_get_max_xfer_len(f->dev), 1 << 20);
	fx_free(f);
}

/* Synchronous test mode (runner == NULL), used by the SCSI core's tests. */
static struct tcmu_cmd *sync_finished;
static int sync_cont_result = 1;

static void sync_finish_hook(struct tcmu_cmd *cmd)
{
	sync_finished = cmd;
}

static void sync_cont(struct tcmu_cmd *cmd, int result)
{
	sync_cont_result = result;
	runner_finish(cmd);
}

static void test_sync_test_mode(void **state)
{
	struct fx *f = fx_new(TCMU_CONCURRENCY_ASYNC, TH_INLINE, NULL, false);
	struct sim_io io;
	uint8_t buf[4096];
	struct tcmu_cmd *cmd;

	f->dev->handler = &f->h;
	f->dev->finish_hook = sync_finish_hook;
	memset(TH->disk, 0x42, 4096);
	io_rw(&io, READ10, 0, buf, sizeof(buf));
	sim_submit(f->s, &io);
	usleep(10000);
	tcmu_ring_ack_events(f->dev);
	cmd = tcmu_ring_next(f->dev);
	assert_non_null(cmd);
	cmd->io.op = TCMU_IO_READ;
	cmd->io.offset = 0;
	cmd->io.length = 4096;
	cmd->io.iov = cmd->iov;
	cmd->io.iovcnt = cmd->iov_cnt;
	runner_call(cmd, sync_cont); /* handler runs and completes inline */
	assert_int_equal(sync_cont_result, 0);
	assert_ptr_equal(sync_finished, cmd);
	assert_int_equal(((uint8_t *)cmd->iov[0].iov_base)[4095], 0x42);

	/* Refused call without continuation: mapped and finished inline. */
	sync_finished = NULL;
	TH->mode = TH_REFUSE;
	runner_call(cmd, NULL);
	assert_ptr_equal(sync_finished, cmd);
	assert_int_equal(cmd->status, 0x02);
	tcmu_ring_complete(f->dev, cmd);
	tcmu_ring_notify(f->dev);
	assert_true(sim_wait_done(f->s, &io, 5000));
	f->dev->handler = NULL;
	fx_free(f);
}

/* A timeout set before the ring thread starts is honoured. */
static void test_timeout_set_before_start(void **state)
{
	struct fx *f = fx_new(TCMU_CONCURRENCY_ASYNC, TH_HOLD, NULL, false);
	struct tcmu_device_stats st;
	struct sim_io io[1];

	runner_set_cmd_timeout_ms(f->dev, 30);
	assert_int_equal(tcmu_device_start(f->dev, &f->h, false), 0);
	submit_n(f, io, 1, READ10, 0);
	assert_true(th_wait_held(1, 5000));
	usleep(300000);
	tcmu_device_get_stats(f->dev, &st);
	assert_int_equal(st.timeouts, 1);
	th_release_all(0);
	assert_true(sim_wait_done(f->s, &io[0], 5000));
	fx_free(f);
}

/* Tiny ring and data area: constant wrap and qfull, workers, foreign
 * completions; every byte still lands where it should. */
static void test_stress_small_ring(void **state)
{
	struct sim_config c = { .cmdr_size = 2000, .data_size = 64 << 10 };
	struct fx *f = fx_start(TCMU_CONCURRENCY_PARALLEL, TH_THREAD, &c);
	struct sim_stats st;
	int round;

	for (round = 0; round < 3; round++)
		write_read_verify(f, 200);
	sim_get_stats(f->s, &st);
	assert_true(st.pads > 0);
	assert_false(st.broken);
	assert_int_equal(ring_error(f->dev), 0);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_async_inline_end_to_end),
		cmocka_unit_test(test_async_foreign_thread_completion),
		cmocka_unit_test(test_serialized),
		cmocka_unit_test(test_parallel),
		cmocka_unit_test(test_batching_one_notify_per_batch),
		cmocka_unit_test(test_batching_from_threads),
		cmocka_unit_test(test_batch_end_after_continuation),
		cmocka_unit_test(test_timeout_aborts_without_completing),
		cmocka_unit_test(test_no_timeout_when_disabled),
		cmocka_unit_test(test_tmr_aborts_held_command),
		cmocka_unit_test(test_stop_abandons_held_commands),
		cmocka_unit_test(test_stop_waits_for_in_flight),
		cmocka_unit_test(test_refused_io_becomes_check_condition),
		cmocka_unit_test(test_handle_cmd_paths),
		cmocka_unit_test(test_cmd_priv_zeroed),
		cmocka_unit_test(test_poll_fd_completion),
		cmocka_unit_test(test_open_failure),
		cmocka_unit_test(test_reconfig),
		cmocka_unit_test(test_accessors),
		cmocka_unit_test(test_sync_test_mode),
		cmocka_unit_test(test_timeout_set_before_start),
		cmocka_unit_test(test_stress_small_ring),
	};

	tcmu_set_log_level(0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
