/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/unit/test_pub_handler_common.h — helpers for the handler tests
 * (test_pub_handler_*.c): load a handler .so from the build tree, run it on
 * a simulated device through the public API (tcmu_device_open_fd +
 * tcmu_device_start), and send SCSI commands through the ring simulator.
 * Header-only (static functions) so each test stays one binary.
 */
#ifndef TEST_PUB_HANDLER_COMMON_H
#define TEST_PUB_HANDLER_COMMON_H

#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <tcmu/handler.h>
#include <tcmu/libtcmu.h>

#include "sim.h"

#define TH_WAIT_MS 10000
#define TH_CHUNK (64 * 1024) /* largest transfer the tests send */

/* SCSI bits the tests need (kept here so the tests check the wire format). */
#define TH_GOOD 0x00
#define TH_CHECK 0x02
#define TH_OP_READ16 0x88
#define TH_OP_WRITE16 0x8a
#define TH_OP_SYNC10 0x35
#define TH_OP_UNMAP 0x42
#define TH_OP_WS16 0x93
#define TH_OP_CAW 0x89
#define TH_KEY_UA 0x6
#define TH_KEY_MISCOMPARE 0xe

struct th {
	void *dl;
	const struct tcmu_handler *h;
	struct sim *sim;
	struct tcmu_device *dev;
	uint32_t bs;
	uint64_t size;
};

/* Loads handler_<name>.so from the build tree; the test fails if absent. */
static inline const struct tcmu_handler *th_load(const char *name, void **dl)
{
	char path[512];
	tcmu_handler_entry_fn entry;
	const struct tcmu_handler *h;

	snprintf(path, sizeof(path), "%s/handler_%s.so", TCMU_HANDLER_BUILD_DIR, name);
	*dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!*dl)
		fail_msg("dlopen %s: %s", path, dlerror());
	entry = (tcmu_handler_entry_fn)dlsym(*dl, TCMU_HANDLER_ENTRY_SYMBOL);
	assert_non_null(entry);
	h = entry();
	assert_non_null(h);
	assert_int_equal(h->_api_version >> 16, TCMU_HANDLER_API_MAJOR);
	assert_true(h->_struct_size >= offsetof(struct tcmu_handler, nonrotational));
	return h;
}

static inline uint16_t th_submit(struct th *t, struct sim_io *io);
static inline void th_wait(struct th *t, struct sim_io *io);

/*
 * A new LUN reports a unit attention (POWER ON RESET) on its first command:
 * consume it with TEST UNIT READY so that the tests see clean statuses.
 */
static inline void th_clear_ua(struct th *t)
{
	uint8_t cdb[6] = { 0 };
	struct sim_io io;
	int i;

	for (i = 0; i < 4; i++) {
		sim_io_init(&io, cdb, 6);
		th_submit(t, &io);
		th_wait(t, &io);
		if (io.status == TH_GOOD)
			return;
	}
	fail_msg("TEST UNIT READY keeps failing: status 0x%02x", io.status);
}

/*
 * Starts handler @name on a new simulated device with config string @cfg
 * (after "<name>/"), @scfg (NULL: a 16 MiB LUN of 512-byte blocks) and the
 * write cache enabled or not. Returns the device's start result (0 or
 * -errno).
 */
static inline int th_start_wc(struct th *t, const char *name, const char *cfg,
			      const struct sim_config *scfg, bool write_cache)
{
	struct sim_config def = { .dev_size = 16 << 20, .block_size = 512,
				  .max_sectors = 256, .data_size = 8 << 20 };
	struct tcmu_device_info info;
	size_t map_size;
	int efd, mfd, ret;

	memset(t, 0, sizeof(*t));
	t->h = th_load(name, &t->dl);
	assert_int_equal(sim_create(scfg ? scfg : &def, &t->sim), 0);
	assert_int_equal(sim_device_fds(t->sim, &efd, &mfd, &map_size, &info), 0);
	snprintf(info.subtype, sizeof(info.subtype), "%s", name);
	snprintf(info.cfgstring, sizeof(info.cfgstring), "%s", cfg);
	info.write_cache = write_cache;
	t->bs = info.block_size;
	t->size = info.size;
	assert_int_equal(tcmu_device_open_fd(efd, mfd, map_size, &info, &t->dev), 0);
	ret = tcmu_device_start(t->dev, t->h, false);
	if (!ret)
		th_clear_ua(t);
	if (ret) {
		t->dev = tcmu_device_close(t->dev);
		t->sim = sim_destroy(t->sim);
		dlclose(t->dl);
		t->dl = NULL;
	}
	return ret;
}

/* th_start_wc() with the write cache enabled. */
static inline int th_start(struct th *t, const char *name, const char *cfg,
			   const struct sim_config *scfg)
{
	return th_start_wc(t, name, cfg, scfg, true);
}

/* Stops the device (handler close() runs), frees the simulator. */
static inline void th_stop(struct th *t)
{
	if (t->dev) {
		assert_int_equal(tcmu_device_stop(t->dev, 5000), 0);
		t->dev = tcmu_device_close(t->dev);
	}
	t->sim = sim_destroy(t->sim);
	if (t->dl)
		dlclose(t->dl);
	t->dl = NULL;
}

static inline void th_put_be(uint8_t *p, uint64_t v, int bytes)
{
	int i;

	for (i = bytes - 1; i >= 0; i--, v >>= 8)
		p[i] = v & 0xff;
}

/* READ(16) / WRITE(16) of @nr blocks at @lba (FUA with @fua). */
static inline void th_rw16(struct sim_io *io, uint8_t op, uint64_t lba,
			   uint32_t nr, bool fua)
{
	uint8_t cdb[16] = { op, fua ? 0x08 : 0 };

	th_put_be(cdb + 2, lba, 8);
	th_put_be(cdb + 10, nr, 4);
	sim_io_init(io, cdb, 16);
}

/* Submits @io, retrying while the ring is full. Returns its cmd_id. */
static inline uint16_t th_submit(struct th *t, struct sim_io *io)
{
	int r, tries = 0;

	while ((r = sim_submit(t->sim, io)) == -EAGAIN && tries++ < 10000) {
		struct timespec ts = { 0, 200000 };

		nanosleep(&ts, NULL);
	}
	assert_true(r > 0);
	return (uint16_t)r;
}

static inline void th_wait(struct th *t, struct sim_io *io)
{
	if (!sim_wait_done(t->sim, io, TH_WAIT_MS))
		fail_msg("command 0x%02x did not complete", io->cdb[0]);
}

/* The sense key of a finished command (fixed or descriptor format). */
static inline uint8_t th_sense_key(const struct sim_io *io)
{
	if ((io->sense[0] & 0x7f) >= 0x72)
		return io->sense[1] & 0xf;
	return io->sense[2] & 0xf;
}

/* Fails the test, showing the sense data, unless @io finished GOOD. */
#define th_assert_good(io)                                                      \
	do {                                                                    \
		if ((io)->status != TH_GOOD)                                    \
			fail_msg("cdb 0x%02x: status 0x%02x sense %02x/%02x/%02x", \
				 (io)->cdb[0], (io)->status, th_sense_key(io),  \
				 th_sense_asc(io), th_sense_ascq(io));          \
	} while (0)

static inline uint8_t th_sense_asc(const struct sim_io *io)
{
	return (io->sense[0] & 0x7f) >= 0x72 ? io->sense[2] : io->sense[12];
}

static inline uint8_t th_sense_ascq(const struct sim_io *io)
{
	return (io->sense[0] & 0x7f) >= 0x72 ? io->sense[3] : io->sense[13];
}

/* Submits @io and waits; a unit attention is consumed and retried. */
static inline uint8_t th_run(struct th *t, struct sim_io *io)
{
	int i;

	for (i = 0; i < 4; i++) {
		struct sim_io copy = *io;

		th_submit(t, io);
		th_wait(t, io);
		if (io->status != TH_CHECK || th_sense_key(io) != TH_KEY_UA)
			return io->status;
		*io = copy;
	}
	return io->status;
}

/* READ(16) into @buf; returns the status. */
static inline uint8_t th_read(struct th *t, uint64_t lba, uint32_t nr, void *buf)
{
	struct sim_io io;

	th_rw16(&io, TH_OP_READ16, lba, nr, false);
	io.in = buf;
	io.in_len = (size_t)nr * t->bs;
	return th_run(t, &io);
}

/* WRITE(16) from @buf; returns the status. */
static inline uint8_t th_write(struct th *t, uint64_t lba, uint32_t nr,
			       const void *buf, bool fua)
{
	struct sim_io io;

	th_rw16(&io, TH_OP_WRITE16, lba, nr, fua);
	io.out = buf;
	io.out_len = (size_t)nr * t->bs;
	return th_run(t, &io);
}

/* SYNCHRONIZE CACHE(10) of the whole LUN; returns the status. */
static inline uint8_t th_sync(struct th *t)
{
	uint8_t cdb[10] = { TH_OP_SYNC10 };
	struct sim_io io;

	sim_io_init(&io, cdb, 10);
	return th_run(t, &io);
}

/* UNMAP of @n (lba, blocks) pairs; returns the status. */
static inline uint8_t th_unmap(struct th *t, const uint64_t (*ranges)[2], int n)
{
	uint8_t cdb[10] = { TH_OP_UNMAP };
	uint8_t param[8 + 16 * 16] = { 0 };
	size_t len = 8 + 16 * (size_t)n;
	struct sim_io io;
	int i;

	assert_true(n <= 16);
	th_put_be(param, len - 2, 2);
	th_put_be(param + 2, 16 * n, 2);
	for (i = 0; i < n; i++) {
		th_put_be(param + 8 + 16 * i, ranges[i][0], 8);
		th_put_be(param + 8 + 16 * i + 8, ranges[i][1], 4);
	}
	th_put_be(cdb + 7, len, 2);
	sim_io_init(&io, cdb, 10);
	io.out = param;
	io.out_len = len;
	return th_run(t, &io);
}

/* WRITE SAME(16) of the one block @pattern (UNMAP bit with @unmap). */
static inline uint8_t th_write_same(struct th *t, uint64_t lba, uint32_t nr,
				    const void *pattern, bool unmap)
{
	uint8_t cdb[16] = { TH_OP_WS16, unmap ? 0x08 : 0 };
	struct sim_io io;

	th_put_be(cdb + 2, lba, 8);
	th_put_be(cdb + 10, nr, 4);
	sim_io_init(&io, cdb, 16);
	io.out = pattern;
	io.out_len = t->bs;
	return th_run(t, &io);
}

/* COMPARE AND WRITE of @nr blocks: @cmp then @data; returns the status. */
static inline uint8_t th_caw(struct th *t, uint64_t lba, uint8_t nr,
			     const void *cmp, const void *data, struct sim_io *io)
{
	uint8_t cdb[16] = { TH_OP_CAW };
	size_t len = (size_t)nr * t->bs;
	uint8_t *buf = malloc(2 * len);
	uint8_t st;

	assert_non_null(buf);
	memcpy(buf, cmp, len);
	memcpy(buf + len, data, len);
	th_put_be(cdb + 2, lba, 8);
	cdb[13] = nr;
	sim_io_init(io, cdb, 16);
	io->out = buf;
	io->out_len = 2 * len;
	st = th_run(t, io);
	free(buf);
	return st;
}

/* Deterministic pseudo-random numbers (xorshift64*). */
static inline uint64_t th_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

static inline void th_fill(uint8_t *p, size_t len, uint64_t *seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(th_rand(seed) >> 56);
}

/*
 * Random I/O with up to @qd commands in flight at once (completions come
 * back in any order): writes of random data and reads, on slots that never
 * overlap while in flight, checked against a shadow copy; at the end the
 * whole LUN is read back. @shadow (t->size bytes) holds the expected disk.
 */
static inline void th_random_io(struct th *t, uint8_t *shadow, int rounds,
				int qd, uint64_t seed)
{
	const uint32_t slot_blocks = 64; /* 32 KiB per slot at 512 */
	uint64_t nslots = t->size / t->bs / slot_blocks;
	struct sim_io *io = calloc(qd, sizeof(*io));
	uint8_t **buf = calloc(qd, sizeof(*buf));
	uint64_t *lba = calloc(qd, sizeof(*lba));
	bool *is_write = calloc(qd, sizeof(*is_write));
	uint8_t *used = calloc(nslots, 1);
	size_t slot_bytes = (size_t)slot_blocks * t->bs;
	uint8_t *whole;
	int r, i;

	assert_true(io && buf && lba && is_write && used && nslots >= (uint64_t)qd);

	for (i = 0; i < qd; i++)
		assert_non_null(buf[i] = malloc(slot_bytes));
	for (r = 0; r < rounds; r++) {
		memset(used, 0, nslots);
		for (i = 0; i < qd; i++) {
			uint64_t slot;
			uint32_t off, nr;

			do
				slot = th_rand(&seed) % nslots;
			while (used[slot]);
			used[slot] = 1;
			off = th_rand(&seed) % slot_blocks;
			nr = 1 + th_rand(&seed) % (slot_blocks - off);
			lba[i] = slot * slot_blocks + off;
			is_write[i] = th_rand(&seed) & 1;
			th_rw16(&io[i], is_write[i] ? TH_OP_WRITE16 : TH_OP_READ16,
				lba[i], nr, is_write[i] && !(th_rand(&seed) % 8));
			if (is_write[i]) {
				th_fill(buf[i], (size_t)nr * t->bs, &seed);
				io[i].out = buf[i];
				io[i].out_len = (size_t)nr * t->bs;
			} else {
				io[i].in = buf[i];
				io[i].in_len = (size_t)nr * t->bs;
			}
			th_submit(t, &io[i]);
		}
		for (i = 0; i < qd; i++) {
			size_t off = lba[i] * t->bs;
			size_t len = is_write[i] ? io[i].out_len : io[i].in_len;

			th_wait(t, &io[i]);
			th_assert_good(&io[i]);
			if (is_write[i])
				memcpy(shadow + off, buf[i], len);
			else
				assert_memory_equal(buf[i], shadow + off, len);
		}
	}
	whole = malloc(TH_CHUNK);
	assert_non_null(whole);
	for (uint64_t off = 0; off < t->size; off += TH_CHUNK) {
		assert_int_equal(th_read(t, off / t->bs, TH_CHUNK / t->bs, whole), TH_GOOD);
		assert_memory_equal(whole, shadow + off, TH_CHUNK);
	}
	free(whole);
	for (i = 0; i < qd; i++)
		free(buf[i]);
	free(io);
	free(buf);
	free(lba);
	free(is_write);
	free(used);
}

#endif
