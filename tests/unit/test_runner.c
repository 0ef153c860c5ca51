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

static __attribute__((unused)) bool th_wait_held(int n, int timeout_ms)
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

	TH->ring_thread = pthread_self();
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

static __attribute__((unused)) void th_pollfd_cb(struct tcmu_device *dev, void *arg)
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
	TH->batch_ends++;
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

static struct fx *fx_start(enum tcmu_concurrency conc, enum th_mode mode,
			   const struct sim_config *cfg)
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
	assert_int_equal(tcmu_device_start(f->dev, &f->h, false), 0);
	return f;
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_async_inline_end_to_end),
		cmocka_unit_test(test_async_foreign_thread_completion),
		cmocka_unit_test(test_serialized),
		cmocka_unit_test(test_parallel),
	};

	tcmu_set_log_level(0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
