/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/unit/test_scsi_threaded.c — the SCSI core under the real runner
 * (ring threads, worker threads) over the ring simulator: EXTENDED COPY
 * between two devices whose handlers run on different threads, FORMAT
 * UNIT with IMMED polled with REQUEST SENSE, and emulated COMPARE AND
 * WRITE racing ordinary writes.
 */
#include <pthread.h>
#include <time.h>

#include "sim.h"
#include "test_scsi_common.h"

#define SIZE (8u << 20)
#define BS 512
#define WAIT_MS 10000

/* A memory-backed handler; the device's memory is its private pointer. */
static int mem_open(struct tcmu_device *dev, bool reopen)
{
	uint8_t *m = malloc(tcmu_dev_get_size(dev));

	if (!m)
		return -ENOMEM;
	for (size_t i = 0; i < tcmu_dev_get_size(dev); i++)
		m[i] = (uint8_t)(i * 13 + (i >> 9));
	tcmu_dev_set_private(dev, m);
	return 0;
}

static void mem_close(struct tcmu_device *dev)
{
	free(tcmu_dev_get_private(dev));
}

static void mem_copy(const struct iovec *iov, size_t cnt, uint8_t *m,
		     size_t len, bool to_iov)
{
	for (size_t i = 0, done = 0; i < cnt && done < len; i++) {
		size_t l = iov[i].iov_len < len - done ? iov[i].iov_len :
							 len - done;

		if (to_iov)
			memcpy(iov[i].iov_base, m + done, l);
		else
			memcpy(m + done, iov[i].iov_base, l);
		done += l;
	}
}

static int mem_read(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		    const struct iovec *iov, size_t iovcnt, uint64_t offset,
		    size_t length, unsigned int flags)
{
	uint8_t *m = tcmu_dev_get_private(dev);

	mem_copy(iov, iovcnt, m + offset, length, true);
	tcmu_cmd_done(cmd, 0);
	return 0;
}

static int mem_write(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		     const struct iovec *iov, size_t iovcnt, uint64_t offset,
		     size_t length, unsigned int flags)
{
	uint8_t *m = tcmu_dev_get_private(dev);

	/* Widen the window between the CAW's read and write. */
	if (length <= BS)
		usleep(200);
	mem_copy(iov, iovcnt, m + offset, length, false);
	tcmu_cmd_done(cmd, 0);
	return 0;
}

static int fake_read_attr(const struct tcmu_device_info *info,
			  const char *path, char *buf, size_t size)
{
	if (strcmp(path, "wwn/vpd_unit_serial"))
		return -ENOENT;
	snprintf(buf, size, "T10 VPD Unit Serial Number: %s",
		 !strcmp(info->dev, "a") ? "a0a0a0a0" : "b0b0b0b0");
	return (int)strlen(buf);
}

static int fake_read_alua(const struct tcmu_device_info *info,
			  struct tcmu_alua_group *g, size_t max)
{
	return 0;
}

static const struct scsi_cfgfs_ops fake = {
	.read_attr = fake_read_attr,
	.read_alua = fake_read_alua,
};

struct rdev {
	struct sim *s;
	struct tcmu_device *dev;
	struct tcmu_handler h;
};

static void rdev_start(struct rdev *r, const char *name,
		       enum tcmu_concurrency conc)
{
	struct sim_config cfg = { .dev_size = SIZE, .max_sectors = 1024 };
	struct tcmu_device_info info;
	int efd, mfd;
	size_t msize;
	struct sim_io io;

	memset(r, 0, sizeof(*r));
	r->h.subtype = "mem";
	r->h.name = "memory";
	r->h.concurrency = conc;
	r->h.nr_threads = 3;
	r->h.open = mem_open;
	r->h.close = mem_close;
	r->h.read = mem_read;
	r->h.write = mem_write;
	assert_int_equal(sim_create(&cfg, &r->s), 0);
	assert_int_equal(sim_device_fds(r->s, &efd, &mfd, &msize, &info), 0);
	snprintf(info.dev, sizeof(info.dev), "%s", name);
	assert_int_equal(tcmu_device_open_fd(efd, mfd, msize, &info, &r->dev), 0);
	assert_int_equal(tcmu_device_start(r->dev, &r->h, false), 0);
	/* Take the power-on unit attention. */
	sim_io_init(&io, (const uint8_t[6]){ 0 }, 6);
	assert_true(sim_submit(r->s, &io) > 0);
	assert_true(sim_wait_done(r->s, &io, WAIT_MS));
}

static void rdev_stop(struct rdev *r)
{
	assert_int_equal(tcmu_device_stop(r->dev, 2000), 0);
	tcmu_device_close(r->dev);
	sim_destroy(r->s);
}

static uint8_t *mem_of(struct rdev *r)
{
	return tcmu_dev_get_private(r->dev);
}

static void run(struct rdev *r, struct sim_io *io)
{
	assert_true(sim_submit(r->s, io) > 0);
	if (!sim_wait_done(r->s, io, WAIT_MS))
		fail_msg("opcode 0x%02x did not complete", io->cdb[0]);
}

static int setup(void **state)
{
	scsi_test_set_cfgfs(&fake);
	return 0;
}

static int teardown(void **state)
{
	scsi_test_set_cfgfs(NULL);
	return 0;
}

static void put_cscd(uint8_t *d, const char *serial)
{
	memset(d, 0, 32);
	d[0] = 0xe4;
	d[4] = 0x01;
	d[5] = 0x03;
	d[7] = 16;
	vpd_naa_from_serial(serial, &d[8]);
	tcmu_put_be24(&d[29], BS);
}

static void put_seg(uint8_t *d, uint16_t src, uint16_t dst, uint16_t n,
		    uint64_t slba, uint64_t dlba)
{
	memset(d, 0, 28);
	d[0] = 0x02;
	tcmu_put_be16(&d[2], 0x18);
	tcmu_put_be16(&d[4], src);
	tcmu_put_be16(&d[6], dst);
	tcmu_put_be16(&d[10], n);
	tcmu_put_be64(&d[12], slba);
	tcmu_put_be64(&d[20], dlba);
}

/* A (SERIALIZED) copies A -> B and B -> A; B's handler is PARALLEL. */
static void test_xcopy_across_ring_threads(void **state)
{
	struct rdev a, b;
	uint8_t pl[16 + 64 + 56] = { 0 };
	uint8_t cdb[16] = { TCMU_SCSI_OP_EXTENDED_COPY };
	struct sim_io io;

	rdev_start(&a, "a", TCMU_CONCURRENCY_SERIALIZED);
	rdev_start(&b, "b", TCMU_CONCURRENCY_PARALLEL);
	pl[1] = 3 << 3; /* no list identifier */
	tcmu_put_be16(&pl[2], 64);
	tcmu_put_be32(&pl[8], 56);
	put_cscd(&pl[16], "a0a0a0a0");
	put_cscd(&pl[48], "b0b0b0b0");
	put_seg(&pl[80], 0, 1, 6000, 0, 2000);  /* A -> B, 3 MiB */
	put_seg(&pl[108], 1, 0, 100, 9000, 7000); /* B -> A */
	tcmu_put_be32(&cdb[10], sizeof(pl));
	sim_io_init(&io, cdb, 16);
	io.out = pl;
	io.out_len = sizeof(pl);
	run(&a, &io);
	assert_int_equal(io.status, TCMU_SCSI_STATUS_GOOD);
	assert_memory_equal(mem_of(&b) + 2000 * BS, mem_of(&a), 6000 * BS);
	assert_memory_equal(mem_of(&a) + 7000 * BS, mem_of(&b) + 9000 * BS,
			    100 * BS);

	/* B stops: a copy on A that needs it finds no target. */
	rdev_stop(&b);
	run(&a, &io);
	assert_int_equal(io.status, TCMU_SCSI_STATUS_CHECK_CONDITION);
	assert_int_equal(io.sense[2] & 0x0f, TCMU_SENSE_COPY_ABORTED);
	rdev_stop(&a);
}

/* FORMAT UNIT with IMMED; REQUEST SENSE shows progress until done. */
static void test_format_immed(void **state)
{
	struct rdev a;
	static const uint8_t param[4] = { 0, 0x02, 0, 0 };
	uint8_t fmt[6] = { TCMU_SCSI_OP_FORMAT_UNIT, 0x10 };
	uint8_t rs[6] = { TCMU_SCSI_OP_REQUEST_SENSE, 0, 0, 0, 18, 0 };
	uint8_t sense[18];
	struct sim_io io;
	int polls = 0;

	rdev_start(&a, "a", TCMU_CONCURRENCY_SERIALIZED);
	sim_io_init(&io, fmt, 6);
	io.out = param;
	io.out_len = sizeof(param);
	run(&a, &io);
	assert_int_equal(io.status, TCMU_SCSI_STATUS_GOOD);
	for (;;) {
		sim_io_init(&io, rs, 6);
		io.in = sense;
		io.in_len = sizeof(sense);
		run(&a, &io);
		assert_int_equal(io.status, TCMU_SCSI_STATUS_GOOD);
		if ((sense[2] & 0x0f) == TCMU_SENSE_NO_SENSE)
			break;
		assert_int_equal(sense[2] & 0x0f, TCMU_SENSE_NOT_READY);
		assert_int_equal(sense[12], 0x04);
		assert_int_equal(sense[13], 0x04);
		assert_true(++polls < 100000);
	}
	for (size_t i = 0; i < SIZE; i++)
		if (mem_of(&a)[i])
			fail_msg("byte %zu not formatted", i);
	rdev_stop(&a);
}

/*
 * Three threads increment a counter in block 7 with read + emulated
 * COMPARE AND WRITE (v -> v + 1) while another writes blocks 6 and 8. A
 * CAW that succeeds must be the only one to move v to v + 1, so with N
 * successes the counter ends at N.
 */
struct caw_ctx {
	struct rdev *r;
	int ok;
	int iterations;
};

static void *caw_thread(void *arg)
{
	struct caw_ctx *c = arg;
	uint8_t cdb[16] = { TCMU_SCSI_OP_COMPARE_AND_WRITE };
	uint8_t rd10[10] = { TCMU_SCSI_OP_READ_10 };
	uint8_t cur[BS], buf[2 * BS];
	struct sim_io io;

	tcmu_put_be64(&cdb[2], 7);
	cdb[13] = 1;
	tcmu_put_be32(&rd10[2], 7);
	tcmu_put_be16(&rd10[7], 1);
	for (int i = 0; i < c->iterations; i++) {
		uint32_t v;

		sim_io_init(&io, rd10, 10);
		io.in = cur;
		io.in_len = BS;
		assert_true(sim_submit(c->r->s, &io) > 0);
		assert_true(sim_wait_done(c->r->s, &io, WAIT_MS));
		memcpy(buf, cur, BS);
		v = tcmu_get_be32(cur);
		memcpy(buf + BS, cur, BS);
		tcmu_put_be32(buf + BS, v + 1);
		sim_io_init(&io, cdb, 16);
		io.out = buf;
		io.out_len = sizeof(buf);
		while (sim_submit(c->r->s, &io) == -EAGAIN)
			usleep(100);
		assert_true(sim_wait_done(c->r->s, &io, WAIT_MS));
		if (io.status == TCMU_SCSI_STATUS_GOOD)
			c->ok++;
		else
			assert_int_equal(io.sense[2] & 0x0f,
					 TCMU_SENSE_MISCOMPARE);
	}
	return NULL;
}

static void *write_thread(void *arg)
{
	struct caw_ctx *c = arg;
	uint8_t cdb[10];
	uint8_t buf[3 * BS];
	struct sim_io io;

	memset(buf, 0x5a, sizeof(buf));
	for (int i = 0; i < c->iterations * 2; i++) {
		/* The neighbours of the counter block. */
		t_cdb_rw10(cdb, TCMU_SCSI_OP_WRITE_10, (i & 1) ? 6 : 8, 1, 0);
		sim_io_init(&io, cdb, 10);
		io.out = buf;
		io.out_len = BS;
		while (sim_submit(c->r->s, &io) == -EAGAIN)
			usleep(100);
		assert_true(sim_wait_done(c->r->s, &io, WAIT_MS));
		assert_int_equal(io.status, TCMU_SCSI_STATUS_GOOD);
	}
	return NULL;
}

static void test_caw_counter(void **state)
{
	struct rdev a;
	struct caw_ctx c[3];
	pthread_t th[4];
	int total = 0;

	rdev_start(&a, "a", TCMU_CONCURRENCY_PARALLEL);
	memset(mem_of(&a) + 7 * BS, 0, BS);
	for (int i = 0; i < 3; i++) {
		c[i] = (struct caw_ctx){ .r = &a, .iterations = 60 };
		assert_int_equal(pthread_create(&th[i], NULL, caw_thread, &c[i]), 0);
	}
	assert_int_equal(pthread_create(&th[3], NULL, write_thread, &c[0]), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 3; i++)
		total += c[i].ok;
	assert_true(total > 0);
	assert_int_equal(tcmu_get_be32(mem_of(&a) + 7 * BS), (uint32_t)total);
	rdev_stop(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_xcopy_across_ring_threads,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_format_immed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_caw_counter, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
