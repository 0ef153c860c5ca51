/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_runner_busy_poll.c — tcmu_device_set_busy_poll(): the ring thread
 * spinning for new ring entries and completions before it sleeps, against
 * the kernel model. Every command must still be answered, with the right
 * data, at QD1 and QD>1, whether the handler completes on the ring thread,
 * on a thread of its own, or on the runner's workers; the value may change
 * from another thread while commands flow; an idle device does not spin;
 * the setter keeps its value across start/stop and refuses too large ones.
 * Also the ring thread's early answers (a long turn answers what the
 * handler completed inline before going on), which share the fixture.
 *
 * The handler is a RAM disk behind the real SCSI core (READ(10) /
 * WRITE(10) become read() / write() calls).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sim.h"
#include "spine.h"

#define READ10 0x28
#define WRITE10 0x2a
#define BLK 4096u
#define NBLK 256u
#define DISK_SIZE (NBLK * BLK)
#define WAIT_MS 10000

enum bp_mode {
	BP_INLINE,   /* ASYNC: complete inside the callback (ring thread) */
	BP_THREAD,   /* ASYNC: a helper thread calls tcmu_cmd_done() */
	BP_PARALLEL, /* PARALLEL: the runner's workers call and complete */
};

static struct {
	uint8_t disk[DISK_SIZE];
	enum bp_mode mode;
	pthread_t ring_thread;
	bool ring_thread_known;
	/* helper thread of BP_THREAD */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct tcmu_cmd *queue[1024];
	unsigned int qhead, qtail;
	bool stop;
	pthread_t helper;
} H;

static void *helper_main(void *arg)
{
	pthread_mutex_lock(&H.lock);
	for (;;) {
		while (H.qhead != H.qtail) {
			struct tcmu_cmd *cmd = H.queue[H.qhead++ % 1024];

			pthread_mutex_unlock(&H.lock);
			tcmu_cmd_done(cmd, 0);
			pthread_mutex_lock(&H.lock);
		}
		if (H.stop)
			break;
		pthread_cond_wait(&H.cond, &H.lock);
	}
	pthread_mutex_unlock(&H.lock);
	return NULL;
}

static int bp_io(struct tcmu_cmd *cmd, const struct iovec *iov, size_t cnt,
		 uint64_t off, size_t len, bool to_disk)
{
	size_t i;

	if (off + len > DISK_SIZE)
		return -ERANGE;
	if (H.mode == BP_INLINE && !H.ring_thread_known) {
		H.ring_thread = pthread_self();
		H.ring_thread_known = true;
	}
	for (i = 0; i < cnt && len; i++) {
		size_t l = iov[i].iov_len < len ? iov[i].iov_len : len;

		if (to_disk)
			memcpy(H.disk + off, iov[i].iov_base, l);
		else
			memcpy(iov[i].iov_base, H.disk + off, l);
		off += l;
		len -= l;
	}
	if (H.mode == BP_THREAD) {
		pthread_mutex_lock(&H.lock);
		H.queue[H.qtail++ % 1024] = cmd;
		pthread_cond_signal(&H.cond);
		pthread_mutex_unlock(&H.lock);
	} else {
		tcmu_cmd_done(cmd, 0);
	}
	return 0;
}

static int bp_read(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		   const struct iovec *iov, size_t cnt, uint64_t off, size_t len,
		   unsigned int flags)
{
	return bp_io(cmd, iov, cnt, off, len, false);
}

static int bp_write(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		    const struct iovec *iov, size_t cnt, uint64_t off,
		    size_t len, unsigned int flags)
{
	return bp_io(cmd, iov, cnt, off, len, true);
}

static int bp_open(struct tcmu_device *dev, bool reopen)
{
	return 0;
}

static void bp_close(struct tcmu_device *dev)
{
}

struct fx {
	struct sim *s;
	struct tcmu_device *dev;
	struct tcmu_handler h;
};

/* The fixture of the running test, freed by teardown() even after a failure. */
static struct fx *cur_fx;

static struct fx *fx_new(enum bp_mode mode)
{
	struct sim_config c = { .dev_size = DISK_SIZE, .block_size = 512 };
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	memset(&H, 0, sizeof(H));
	H.mode = mode;
	pthread_mutex_init(&H.lock, NULL);
	pthread_cond_init(&H.cond, NULL);
	assert_int_equal(pthread_create(&H.helper, NULL, helper_main, NULL), 0);
	assert_int_equal(sim_create(&c, &f->s), 0);
	assert_int_equal(sim_open_device(f->s, &f->dev), 0);
	f->h = (struct tcmu_handler){
		.subtype = "bpram",
		.name = "busy poll test handler",
		.concurrency = mode == BP_PARALLEL ? TCMU_CONCURRENCY_PARALLEL :
						     TCMU_CONCURRENCY_ASYNC,
		.nr_threads = 3,
		.open = bp_open,
		.close = bp_close,
		.read = bp_read,
		.write = bp_write,
	};
	cur_fx = f;
	return f;
}

static void fx_free(struct fx *f)
{
	tcmu_device_close(f->dev);
	sim_destroy(f->s);
	pthread_mutex_lock(&H.lock);
	H.stop = true;
	pthread_cond_broadcast(&H.cond);
	pthread_mutex_unlock(&H.lock);
	pthread_join(H.helper, NULL);
	pthread_mutex_destroy(&H.lock);
	pthread_cond_destroy(&H.cond);
	free(f);
	cur_fx = NULL;
}

static int teardown(void **state)
{
	if (cur_fx)
		fx_free(cur_fx);
	return 0;
}

static void rw10(struct sim_io *io, uint8_t op, uint32_t blk, void *buf)
{
	uint32_t lba = blk * (BLK / 512);
	uint8_t cdb[10] = { op };

	cdb[2] = (uint8_t)(lba >> 24);
	cdb[3] = (uint8_t)(lba >> 16);
	cdb[4] = (uint8_t)(lba >> 8);
	cdb[5] = (uint8_t)lba;
	cdb[8] = BLK / 512;
	sim_io_init(io, cdb, 10);
	if (op == WRITE10) {
		io->out = buf;
		io->out_len = BLK;
	} else {
		io->in = buf;
		io->in_len = BLK;
	}
}

/* TEST UNIT READY until the power-on unit attention is consumed. */
static void settle(struct fx *f)
{
	static const uint8_t tur[6] = { 0 };
	struct sim_io io;
	int i;

	for (i = 0; i < 5; i++) {
		sim_io_init(&io, tur, 6);
		assert_true(sim_submit(f->s, &io) > 0);
		assert_true(sim_wait_done(f->s, &io, WAIT_MS));
		if (io.status == 0)
			return;
	}
	fail_msg("unit attention does not clear");
}

static void fill(uint8_t *buf, uint32_t blk, unsigned int gen)
{
	for (uint32_t j = 0; j < BLK; j++)
		buf[j] = (uint8_t)(blk * 7 + j * 13 + gen * 101);
}

static void submit(struct fx *f, struct sim_io *io)
{
	int r;

	while ((r = sim_submit(f->s, io)) == -EAGAIN)
		usleep(50);
	assert_true(r > 0);
}

/*
 * Write every block with generation @gen, then read every block back and
 * compare, keeping @qd commands in flight (a new one as soon as the oldest
 * is answered). Every command must be answered within WAIT_MS.
 */
static void stream(struct fx *f, unsigned int qd, unsigned int gen)
{
	struct sim_io *io = calloc(qd, sizeof(*io));
	uint8_t (*buf)[BLK] = calloc(qd, BLK);
	uint32_t *blk = calloc(qd, sizeof(*blk));
	uint8_t want[BLK];
	unsigned int pass, i, sent, done;

	assert_non_null(io);
	assert_non_null(buf);
	assert_non_null(blk);
	for (pass = 0; pass < 2; pass++) {
		uint8_t op = pass ? READ10 : WRITE10;

		sent = done = 0;
		while (done < NBLK) {
			while (sent < NBLK && sent - done < qd) {
				i = sent % qd;
				blk[i] = (sent * 37) % NBLK; /* a permutation */
				if (op == WRITE10)
					fill(buf[i], blk[i], gen);
				else
					memset(buf[i], 0, BLK);
				rw10(&io[i], op, blk[i], buf[i]);
				submit(f, &io[i]);
				sent++;
			}
			i = done % qd;
			if (!sim_wait_done(f->s, &io[i], WAIT_MS))
				fail_msg("QD%u gen %u: %s of block %u not answered",
					 qd, gen, pass ? "read" : "write", blk[i]);
			assert_int_equal(io[i].status, 0);
			if (op == READ10) {
				fill(want, blk[i], gen);
				assert_int_equal(io[i].xfer_len, BLK);
				assert_memory_equal(buf[i], want, BLK);
			}
			done++;
		}
	}
	free(io);
	free(buf);
	free(blk);
}

/* Busy poll at its maximum (most spinning), QD1 and QD8, one mode. */
static void run_mode(enum bp_mode mode)
{
	struct fx *f = fx_new(mode);
	struct tcmu_device_stats st;
	unsigned int gen;

	assert_int_equal(tcmu_device_set_busy_poll(f->dev, TCMU_BUSY_POLL_MAX_US), 0);
	assert_int_equal(tcmu_device_start(f->dev, &f->h, false), 0);
	settle(f);
	for (gen = 1; gen <= 4; gen++)
		stream(f, 1, gen);
	for (; gen <= 8; gen++)
		stream(f, 8, gen);
	/* The spin was really used: some turns found work without sleeping. */
	assert_true(runner_busy_poll_hits(f->dev) > 0);
	tcmu_device_get_stats(f->dev, &st);
	assert_int_equal(st.in_flight, 0);
	assert_int_equal(st.bytes_written, 4u * NBLK * BLK + 4u * NBLK * BLK);
	assert_int_equal(st.bytes_read, st.bytes_written);
	assert_int_equal(tcmu_device_stop(f->dev, 1000), 0);
}

static void test_inline(void **state)
{
	run_mode(BP_INLINE);
}

static void test_foreign_thread_completion(void **state)
{
	run_mode(BP_THREAD);
}

static void test_parallel_workers(void **state)
{
	run_mode(BP_PARALLEL);
}

/* The setter: range, NULL, value kept before start and across stop/start. */
static void test_setter(void **state)
{
	struct fx *f = fx_new(BP_INLINE);

	assert_int_equal(tcmu_device_get_busy_poll(f->dev), 0); /* default off */
	assert_int_equal(tcmu_device_set_busy_poll(f->dev, 20), 0);
	assert_int_equal(tcmu_device_get_busy_poll(f->dev), 20);
	assert_int_equal(tcmu_device_set_busy_poll(f->dev, TCMU_BUSY_POLL_MAX_US + 1),
			 -EINVAL);
	assert_int_equal(tcmu_device_set_busy_poll(f->dev, 4000000000u), -EINVAL);
	assert_int_equal(tcmu_device_get_busy_poll(f->dev), 20); /* unchanged */
	assert_int_equal(tcmu_device_set_busy_poll(NULL, 1), -EINVAL);
	assert_int_equal(tcmu_device_set_busy_poll(f->dev, TCMU_BUSY_POLL_MAX_US), 0);
	assert_int_equal(tcmu_device_get_busy_poll(f->dev), TCMU_BUSY_POLL_MAX_US);
	assert_int_equal(tcmu_device_set_busy_poll(f->dev, 20), 0);

	assert_int_equal(tcmu_device_start(f->dev, &f->h, false), 0);
	assert_int_equal(tcmu_device_get_busy_poll(f->dev), 20);
	settle(f);
	stream(f, 1, 1);
	assert_int_equal(tcmu_device_stop(f->dev, 1000), 0);
	assert_int_equal(tcmu_device_get_busy_poll(f->dev), 20);
	assert_int_equal(tcmu_device_start(f->dev, &f->h, false), 0);
	assert_int_equal(tcmu_device_get_busy_poll(f->dev), 20);
	assert_int_equal(tcmu_device_set_busy_poll(f->dev, 0), 0); /* while running */
	assert_int_equal(tcmu_device_get_busy_poll(f->dev), 0);
	settle(f);
	stream(f, 4, 2);
	assert_int_equal(tcmu_device_stop(f->dev, 1000), 0);
}

struct toggler {
	struct tcmu_device *dev;
	_Atomic bool stop;
	unsigned int sets;
};

static void *toggle_main(void *arg)
{
	static const unsigned int vals[] = { 0, 1, 50, TCMU_BUSY_POLL_MAX_US, 7, 0, 300 };
	struct toggler *t = arg;

	while (!atomic_load(&t->stop)) {
		if (tcmu_device_set_busy_poll(t->dev, vals[t->sets % 7]) != 0)
			return (void *)1;
		t->sets++;
		usleep(200);
	}
	return NULL;
}

/* The value changes from another thread while commands flow: all answered. */
static void test_change_while_running(void **state)
{
	struct fx *f = fx_new(BP_THREAD);
	struct toggler t = { .dev = f->dev };
	pthread_t tid;
	void *ret;

	assert_int_equal(tcmu_device_start(f->dev, &f->h, false), 0);
	settle(f);
	assert_int_equal(pthread_create(&tid, NULL, toggle_main, &t), 0);
	stream(f, 1, 1);
	stream(f, 4, 2);
	stream(f, 1, 3);
	atomic_store(&t.stop, true);
	pthread_join(tid, &ret);
	assert_null(ret);
	assert_true(t.sets > 1);
	assert_int_equal(tcmu_device_stop(f->dev, 1000), 0);
}

static uint64_t thread_cpu_ns(pthread_t t)
{
	struct timespec ts;
	clockid_t cid;

	assert_int_equal(pthread_getcpuclockid(t, &cid), 0);
	assert_int_equal(clock_gettime(cid, &ts), 0);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * An idle device does not spin: after the last command the ring thread
 * spins at most once (1 ms here) and then sleeps, even with busy poll at
 * its maximum and the time-out timer turning the loop (turns that take no
 * command do not spin).
 */
/*
 * Early answers (answer_early in runner.c): with the threshold at one
 * block, every READ/WRITE the handler completes inline is answered before
 * the ring thread takes the next command. Nothing may be lost or answered
 * twice, at QD1 and QD8, with and without the busy poll.
 */
static void test_early_answers(void **state)
{
	struct fx *f = fx_new(BP_INLINE);
	struct tcmu_device_stats st;
	unsigned int gen;

	assert_int_equal(tcmu_device_start(f->dev, &f->h, false), 0);
	runner_set_early_answer_bytes(f->dev, BLK);
	settle(f);
	for (gen = 1; gen <= 2; gen++)
		stream(f, 1, gen);
	for (; gen <= 4; gen++)
		stream(f, 8, gen);
	assert_int_equal(tcmu_device_set_busy_poll(f->dev, 50), 0);
	for (; gen <= 6; gen++)
		stream(f, 8, gen);
	/* one early answer per READ/WRITE: 6 generations x (write + read pass) */
	assert_true(runner_early_answers(f->dev) >= 6u * 2u * NBLK);
	tcmu_device_get_stats(f->dev, &st);
	assert_int_equal(st.in_flight, 0);
	assert_int_equal(st.bytes_written, 6u * NBLK * BLK);
	assert_int_equal(st.bytes_read, st.bytes_written);
	assert_int_equal(tcmu_device_stop(f->dev, 1000), 0);
}

static void test_idle_does_not_spin(void **state)
{
	struct fx *f = fx_new(BP_INLINE);
	uint64_t c0, c1;

	assert_int_equal(tcmu_device_set_busy_poll(f->dev, TCMU_BUSY_POLL_MAX_US), 0);
	/* The time-out scan turns the loop every 10 ms while idle. */
	runner_set_cmd_timeout_ms(f->dev, 40);
	assert_int_equal(tcmu_device_start(f->dev, &f->h, false), 0);
	settle(f);
	stream(f, 1, 1);
	assert_true(H.ring_thread_known);
	usleep(50000);
	c0 = thread_cpu_ns(H.ring_thread);
	usleep(400000);
	c1 = thread_cpu_ns(H.ring_thread);
	/*
	 * Spinning after each of the ~40 timer turns would be ~40 ms (and
	 * all along ~400 ms); sleeping between turns costs a few.
	 */
	if (c1 - c0 > 15000000ull)
		fail_msg("idle ring thread used %llu ms of CPU in 400 ms",
			 (unsigned long long)((c1 - c0) / 1000000ull));
	assert_int_equal(tcmu_device_stop(f->dev, 1000), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_setter, teardown),
		cmocka_unit_test_teardown(test_inline, teardown),
		cmocka_unit_test_teardown(test_foreign_thread_completion, teardown),
		cmocka_unit_test_teardown(test_parallel_workers, teardown),
		cmocka_unit_test_teardown(test_change_while_running, teardown),
		cmocka_unit_test_teardown(test_idle_does_not_spin, teardown),
		cmocka_unit_test_teardown(test_early_answers, teardown),
	};

	tcmu_set_log_level(0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
