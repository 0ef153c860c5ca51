/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_pub_runner.c — the runner through the public API of the shared
 * libtcmu only: a RAM handler started on a simulated device, SCSI
 * commands through the real SCSI core (READ(10)/WRITE(10) become handler
 * read()/write() calls), stats, stop; and the library exports nothing but
 * tcmu_*.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <tcmu/handler.h>
#include <tcmu/libtcmu.h>

#include "sim.h"

#define DISK (4u << 20)

static uint8_t disk[DISK];
static int opened, closed;
static pthread_t ring_tid;

static int ram_open(struct tcmu_device *dev, bool reopen)
{
	opened++;
	return 0;
}

static void ram_close(struct tcmu_device *dev)
{
	closed++;
}

static void copy(const struct iovec *iov, size_t cnt, uint64_t off,
		 size_t len, bool to_disk)
{
	size_t i;

	for (i = 0; i < cnt && len; i++) {
		size_t l = iov[i].iov_len < len ? iov[i].iov_len : len;

		if (to_disk)
			memcpy(disk + off, iov[i].iov_base, l);
		else
			memcpy(iov[i].iov_base, disk + off, l);
		off += l;
		len -= l;
	}
}

static int ram_read(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		    const struct iovec *iov, size_t cnt, uint64_t off,
		    size_t len, unsigned int flags)
{
	ring_tid = pthread_self();
	copy(iov, cnt, off, len, false);
	tcmu_cmd_done(cmd, 0);
	return 0;
}

static int ram_write(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		     const struct iovec *iov, size_t cnt, uint64_t off,
		     size_t len, unsigned int flags)
{
	if (off == 0)
		return -ENOSPC; /* LBA 0 is "full": not taken */
	copy(iov, cnt, off, len, true);
	tcmu_cmd_done(cmd, 0);
	return 0;
}

static struct tcmu_handler ram = {
	.subtype = "pubram",
	.name = "public API test handler",
	.concurrency = TCMU_CONCURRENCY_ASYNC,
	.open = ram_open,
	.close = ram_close,
	.read = ram_read,
	.write = ram_write,
};

static void rw10(struct sim_io *io, uint8_t op, uint32_t lba, void *buf,
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
	if (op == 0x2a) {
		io->out = buf;
		io->out_len = len;
	} else {
		io->in = buf;
		io->in_len = len;
	}
}

/* Run one command; retry while the LUN reports a unit attention. */
static void run(struct sim *s, struct sim_io *io)
{
	int tries;

	for (tries = 0; tries < 5; tries++) {
		struct sim_io copy = *io;

		assert_true(sim_submit(s, &copy) > 0);
		assert_true(sim_wait_done(s, &copy, 5000));
		if (copy.status == 0x02 && (copy.sense[2] & 0x0f) == 0x06)
			continue; /* UNIT ATTENTION */
		*io = copy;
		return;
	}
	fail_msg("unit attention does not clear");
}

static void test_data_through_scsi_core(void **state)
{
	struct sim_config c = { .dev_size = DISK, .block_size = 512 };
	struct tcmu_device_stats st;
	struct tcmu_device *dev;
	uint8_t out[8192], in[8192];
	struct sim_io io;
	struct sim *s;
	size_t i;

	assert_int_equal(sim_create(&c, &s), 0);
	assert_int_equal(sim_open_device(s, &dev), 0);
	assert_int_equal(tcmu_device_start(dev, &ram, false), 0);
	assert_int_equal(opened, 1);

	for (i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i * 5 + 3);
	rw10(&io, 0x2a, 64, out, sizeof(out));
	run(s, &io);
	assert_int_equal(io.status, 0);
	assert_memory_equal(disk + 64 * 512, out, sizeof(out));

	memset(in, 0, sizeof(in));
	rw10(&io, 0x28, 64, in, sizeof(in));
	run(s, &io);
	assert_int_equal(io.status, 0);
	assert_memory_equal(in, out, sizeof(out));
	assert_false(pthread_equal(ring_tid, pthread_self()));

	/* A write the handler refuses: CHECK CONDITION, nothing written. */
	rw10(&io, 0x2a, 0, out, 512);
	run(s, &io);
	assert_int_equal(io.status, 0x02);

	tcmu_device_get_stats(dev, &st);
	assert_true(st.cmds_completed >= 3);
	assert_int_equal(st.bytes_written, sizeof(out));
	assert_int_equal(st.bytes_read, sizeof(in));
	assert_true(st.errors >= 1);
	assert_int_equal(st.in_flight, 0);

	assert_int_equal(tcmu_device_stop(dev, 1000), 0);
	assert_int_equal(closed, 1);
	tcmu_device_close(dev);
	sim_destroy(s);
}

static void test_exports_only_public_api(void **state)
{
	/* Internal names of the spine and the SCSI core are not exported. */
	assert_non_null(dlsym(RTLD_DEFAULT, "tcmu_device_start"));
	assert_non_null(dlsym(RTLD_DEFAULT, "tcmu_ring_next"));
	assert_non_null(dlsym(RTLD_DEFAULT, "tcmu_device_set_busy_poll"));
	assert_non_null(dlsym(RTLD_DEFAULT, "tcmu_device_get_busy_poll"));
	assert_null(dlsym(RTLD_DEFAULT, "ring_set_busy_poll_us"));
	assert_null(dlsym(RTLD_DEFAULT, "runner_busy_poll_hits"));
	assert_null(dlsym(RTLD_DEFAULT, "ring_init"));
	assert_null(dlsym(RTLD_DEFAULT, "runner_call"));
	assert_null(dlsym(RTLD_DEFAULT, "runner_finish"));
	assert_null(dlsym(RTLD_DEFAULT, "scsi_submit"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_data_through_scsi_core),
		cmocka_unit_test(test_exports_only_public_api),
	};

	tcmu_set_log_level(0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
