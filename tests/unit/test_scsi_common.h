/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/unit/test_scsi_common.h — shared fixture of the SCSI core tests.
 *
 * A struct tcmu_device in the runner's synchronous test mode (runner ==
 * NULL: handler calls run inline, tcmu_cmd_done() runs the continuation
 * inline, runner_finish() calls finish_hook) with a memory-backed handler
 * whose optional callbacks can be switched off, whose completions can be
 * held back (to test ordering), and which counts every call.
 */
#ifndef TEST_SCSI_COMMON_H
#define TEST_SCSI_COMMON_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <tcmu/scsi.h>

#include "scsi/scsi_priv.h"
#include "tcmu_internal.h"

#define T_UNUSED __attribute__((unused))

#define T_MAX_HELD 32

enum {
	T_HAS_FLUSH = 1 << 0,
	T_HAS_UNMAP = 1 << 1,
	T_HAS_WS = 1 << 2,
	T_HAS_CAW = 1 << 3,
	T_HAS_LBA_STATUS = 1 << 4,
	T_UNMAP_ZEROES = 1 << 5,
	T_READ_ONLY = 1 << 6,
	T_NONROT = 1 << 7,
	T_ALL = T_HAS_FLUSH | T_HAS_UNMAP | T_HAS_WS | T_HAS_CAW |
		T_HAS_LBA_STATUS | T_UNMAP_ZEROES,
};

struct tdev {
	struct tcmu_device dev; /* first: handler callbacks cast back */
	struct tcmu_handler h;
	uint8_t *mem;
	uint8_t *mapped; /* one byte per block: 1 mapped, 0 deallocated */
	size_t size;
	/* calls */
	int nr_read, nr_write, nr_flush, nr_unmap, nr_ws, nr_caw;
	unsigned int last_flags;   /* flags of the last read/write/ws */
	unsigned int last_wflags;  /* flags of the last write */
	uint64_t last_off, last_len;
	size_t last_iovcnt;
	size_t last_nr_ranges;
	struct tcmu_range ranges[64];
	/* behaviour */
	int fail_errno;      /* next handler call fails with it (once) */
	int fail_op;         /* ... only for this op (-1: any) */
	bool fail_sync;      /* return the error instead of completing */
	bool hold_writes;    /* writes are done but not completed */
	bool hold_reads;
	struct tcmu_cmd *held[T_MAX_HELD];
	int nheld;
	/* finished commands */
	int finished;
};

struct tcmd {
	struct tcmu_cmd cmd; /* first */
	struct iovec iov[8];
	uint8_t *buf;
	size_t len;
	int done;            /* times finished */
};

static T_UNUSED struct tdev *tdev_of(struct tcmu_device *dev)
{
	return (struct tdev *)dev;
}

static void T_UNUSED t_finish_hook(struct tcmu_cmd *cmd)
{
	struct tcmd *c = (struct tcmd *)cmd;

	c->done++;
	tdev_of(cmd->dev)->finished++;
}

/* Complete @cmd from the handler with @ret, or hold it. */
static int t_complete(struct tdev *t, struct tcmu_cmd *cmd, bool hold,
		      int op)
{
	if (t->fail_errno && (t->fail_op < 0 || t->fail_op == op)) {
		int e = t->fail_errno;

		t->fail_errno = 0;
		if (t->fail_sync)
			return -e;
		tcmu_cmd_done(cmd, -e);
		return 0;
	}
	if (hold) {
		assert_true(t->nheld < T_MAX_HELD);
		t->held[t->nheld++] = cmd;
		return 0;
	}
	tcmu_cmd_done(cmd, 0);
	return 0;
}

/* Release held commands in order (they may queue new handler calls). */
static void T_UNUSED t_release(struct tdev *t)
{
	while (t->nheld) {
		struct tcmu_cmd *c = t->held[0];

		memmove(&t->held[0], &t->held[1],
			(size_t)(t->nheld - 1) * sizeof(t->held[0]));
		t->nheld--;
		tcmu_cmd_done(c, 0);
	}
}

static size_t t_iov_copy(const struct iovec *iov, size_t cnt, uint8_t *mem,
			 size_t len, bool to_iov)
{
	size_t done = 0;

	for (size_t i = 0; i < cnt && done < len; i++) {
		size_t l = iov[i].iov_len < len - done ? iov[i].iov_len :
							 len - done;

		if (to_iov)
			memcpy(iov[i].iov_base, mem + done, l);
		else
			memcpy(mem + done, iov[i].iov_base, l);
		done += l;
	}
	return done;
}

static int t_read(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		  const struct iovec *iov, size_t iovcnt, uint64_t offset,
		  size_t length, unsigned int flags)
{
	struct tdev *t = tdev_of(dev);

	t->nr_read++;
	t->last_off = offset;
	t->last_len = length;
	t->last_iovcnt = iovcnt;
	t->last_flags = flags;
	assert_true(offset + length <= t->size);
	assert_int_equal(t_iov_copy(iov, iovcnt, t->mem + offset, length, true),
			 length);
	return t_complete(t, cmd, t->hold_reads, TCMU_IO_READ);
}

static int t_write(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		   const struct iovec *iov, size_t iovcnt, uint64_t offset,
		   size_t length, unsigned int flags)
{
	struct tdev *t = tdev_of(dev);
	uint32_t bs = dev->info.block_size;

	t->nr_write++;
	t->last_off = offset;
	t->last_len = length;
	t->last_iovcnt = iovcnt;
	t->last_flags = flags;
	t->last_wflags = flags;
	assert_true(offset + length <= t->size);
	if (t->fail_errno && (t->fail_op < 0 || t->fail_op == TCMU_IO_WRITE))
		return t_complete(t, cmd, false, TCMU_IO_WRITE);
	assert_int_equal(t_iov_copy(iov, iovcnt, t->mem + offset, length, false),
			 length);
	memset(t->mapped + offset / bs, 1, length / bs);
	return t_complete(t, cmd, t->hold_writes, TCMU_IO_WRITE);
}

static int t_flush(struct tcmu_device *dev, struct tcmu_cmd *cmd)
{
	struct tdev *t = tdev_of(dev);

	t->nr_flush++;
	return t_complete(t, cmd, false, TCMU_IO_FLUSH);
}

static int t_unmap(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		   const struct tcmu_range *ranges, size_t nr)
{
	struct tdev *t = tdev_of(dev);
	uint32_t bs = dev->info.block_size;

	t->nr_unmap++;
	t->last_nr_ranges = nr;
	for (size_t i = 0; i < nr; i++) {
		if (i < 64)
			t->ranges[i] = ranges[i];
		assert_true(ranges[i].offset + ranges[i].length <= t->size);
		memset(t->mem + ranges[i].offset, 0, ranges[i].length);
		memset(t->mapped + ranges[i].offset / bs, 0,
		       ranges[i].length / bs);
	}
	return t_complete(t, cmd, false, TCMU_IO_UNMAP);
}

static int t_write_same(struct tcmu_device *dev, struct tcmu_cmd *cmd,
			const struct iovec *iov, size_t iovcnt, uint64_t offset,
			uint64_t length, unsigned int flags)
{
	struct tdev *t = tdev_of(dev);
	uint32_t bs = dev->info.block_size;
	uint8_t blk[4096];

	t->nr_ws++;
	t->last_off = offset;
	t->last_len = length;
	t->last_flags = flags;
	assert_true(offset + length <= t->size);
	assert_int_equal(t_iov_copy(iov, iovcnt, blk, bs, false), bs);
	for (uint64_t o = 0; o < length; o += bs)
		memcpy(t->mem + offset + o, blk, bs);
	memset(t->mapped + offset / bs, 1, length / bs);
	return t_complete(t, cmd, false, TCMU_IO_WRITE_SAME);
}

static int t_caw(struct tcmu_device *dev, struct tcmu_cmd *cmd,
		 const struct iovec *cmp, size_t cmpcnt,
		 const struct iovec *data, size_t datacnt, uint64_t offset,
		 size_t length)
{
	struct tdev *t = tdev_of(dev);
	uint8_t *tmp = malloc(length);

	t->nr_caw++;
	assert_non_null(tmp);
	assert_int_equal(t_iov_copy(cmp, cmpcnt, tmp, length, false), length);
	for (size_t i = 0; i < length; i++) {
		if (tmp[i] != t->mem[offset + i]) {
			free(tmp);
			tcmu_cmd_set_miscompare(cmd, (uint32_t)i);
			tcmu_cmd_done(cmd, -EILSEQ);
			return 0;
		}
	}
	free(tmp);
	assert_int_equal(t_iov_copy(data, datacnt, t->mem + offset, length,
				    false),
			 length);
	tcmu_cmd_done(cmd, 0);
	return 0;
}

static int t_lba_status(struct tcmu_device *dev, uint64_t offset,
			bool *mapped, uint64_t *extent_len)
{
	struct tdev *t = tdev_of(dev);
	uint32_t bs = dev->info.block_size;
	uint64_t b = offset / bs, e = b;

	while (e < t->size / bs && t->mapped[e] == t->mapped[b])
		e++;
	*mapped = t->mapped[b];
	*extent_len = (e - b) * bs;
	return 0;
}

static int t_open(struct tcmu_device *dev, bool reopen)
{
	return 0;
}

static void t_close(struct tcmu_device *dev)
{
}

/* A device of @blocks blocks of @bs bytes with the callbacks in @caps. */
static T_UNUSED struct tdev *t_dev_new(uint32_t bs, uint64_t blocks,
				       unsigned int caps)
{
	struct tdev *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	t->size = (size_t)(bs * blocks);
	t->mem = calloc(1, t->size);
	t->mapped = calloc(1, (size_t)blocks);
	assert_non_null(t->mem);
	assert_non_null(t->mapped);
	memset(t->mapped, 1, (size_t)blocks);
	for (size_t i = 0; i < t->size; i++)
		t->mem[i] = (uint8_t)(i * 7 + i / bs);
	t->fail_op = -1;

	t->h.subtype = "test";
	t->h.name = "test handler";
	t->h.open = t_open;
	t->h.close = t_close;
	t->h.read = t_read;
	if (!(caps & T_READ_ONLY))
		t->h.write = t_write;
	if (caps & T_HAS_FLUSH)
		t->h.flush = t_flush;
	if (caps & T_HAS_UNMAP)
		t->h.unmap = t_unmap;
	if (caps & T_HAS_WS)
		t->h.write_same = t_write_same;
	if (caps & T_HAS_CAW)
		t->h.compare_and_write = t_caw;
	if (caps & T_HAS_LBA_STATUS)
		t->h.get_lba_status = t_lba_status;
	t->h.unmap_zeroes = caps & T_UNMAP_ZEROES;
	t->h.nonrotational = caps & T_NONROT;

	t->dev.info.block_size = bs;
	t->dev.info.size = t->size;
	t->dev.info.max_sectors = 1024;
	t->dev.info.write_cache = true;
	snprintf(t->dev.info.name, sizeof(t->dev.info.name), "test/%p",
		 (void *)t);
	t->dev.handler = &t->h;
	t->dev.runner = NULL;
	t->dev.finish_hook = t_finish_hook;
	assert_int_equal(scsi_dev_init(&t->dev), 0);
	return t;
}

static void T_UNUSED t_dev_free(struct tdev *t)
{
	scsi_dev_free(&t->dev);
	free(t->mem);
	free(t->mapped);
	free(t);
}

/* Prepare @c with @cdb and one data buffer of @len bytes split in @nseg iovecs. */
static void T_UNUSED t_cmd_init(struct tdev *t, struct tcmd *c,
				const uint8_t *cdb, size_t cdb_len, size_t len,
				int nseg)
{
	size_t off = 0;

	memset(c, 0, sizeof(*c));
	c->cmd.dev = &t->dev;
	c->cmd.cdb_len = (uint8_t)cdb_len;
	memcpy(c->cmd.cdb, cdb, cdb_len);
	c->len = len;
	c->buf = len ? calloc(1, len) : NULL;
	if (len) {
		assert_non_null(c->buf);
		if (nseg < 1)
			nseg = 1;
		for (int i = 0; i < nseg; i++) {
			size_t l = (i == nseg - 1) ? len - off : len / (size_t)nseg;

			c->iov[i].iov_base = c->buf + off;
			c->iov[i].iov_len = l;
			off += l;
		}
		c->cmd.iov = c->iov;
		c->cmd.iov_cnt = (size_t)nseg;
	}
	c->cmd.data_len = len;
}

static void T_UNUSED t_cmd_free(struct tcmd *c)
{
	free(c->buf);
	c->buf = NULL;
}

/* Submit @c and require that it was answered (exactly once). */
static void T_UNUSED t_submit(struct tcmd *c)
{
	scsi_submit(&c->cmd);
	assert_int_equal(c->done, 1);
}

/* Key and ASC/ASCQ of a command's sense data (fixed or descriptor). */
static void T_UNUSED t_sense(const struct tcmd *c, uint8_t *key, uint16_t *asc)
{
	assert_true(scsi_parse_sense(c->cmd.sense, c->cmd.sense_len, key, asc));
}

static void T_UNUSED t_expect_good(const struct tcmd *c)
{
	if (c->cmd.status != TCMU_SCSI_STATUS_GOOD) {
		uint8_t key = 0;
		uint16_t asc = 0;

		scsi_parse_sense(c->cmd.sense, c->cmd.sense_len, &key, &asc);
		fail_msg("status 0x%02x sense %x/%04x", c->cmd.status, key, asc);
	}
}

static void T_UNUSED t_expect_check(const struct tcmd *c, uint8_t key,
				    uint16_t asc)
{
	uint8_t k;
	uint16_t a;

	assert_int_equal(c->cmd.status, TCMU_SCSI_STATUS_CHECK_CONDITION);
	t_sense(c, &k, &a);
	assert_int_equal(k, key);
	assert_int_equal(a, asc);
}

/* The sense-key specific bytes of fixed-format sense, SKSV checked. */
static void T_UNUSED t_expect_field(const struct tcmd *c, bool cdb,
				    unsigned int byte, int bit)
{
	const uint8_t *s = c->cmd.sense;

	assert_int_equal(s[0] & 0x7f, 0x70);
	assert_true(s[15] & 0x80); /* SKSV */
	assert_int_equal(!!(s[15] & 0x40), cdb);
	if (bit >= 0) {
		assert_true(s[15] & 0x08); /* BPV */
		assert_int_equal(s[15] & 0x07, bit);
	}
	assert_int_equal(tcmu_get_be16(&s[16]), byte);
}

static void T_UNUSED t_expect_invalid_cdb(const struct tcmd *c,
					  unsigned int byte, int bit)
{
	t_expect_check(c, TCMU_SENSE_ILLEGAL_REQUEST,
		       TCMU_ASC_INVALID_FIELD_IN_CDB);
	t_expect_field(c, true, byte, bit);
}

/* Run @cdb with a data buffer; returns the command for inspection. */
static void T_UNUSED t_run(struct tdev *t, struct tcmd *c, const uint8_t *cdb,
			   size_t cdb_len, size_t len)
{
	t_cmd_init(t, c, cdb, cdb_len, len, 1);
	t_submit(c);
}

/* Consume the power-on unit attention. */
static void T_UNUSED t_clear_ua(struct tdev *t)
{
	uint8_t tur[6] = { 0 };
	struct tcmd c;

	for (int i = 0; i < 8; i++) {
		t_run(t, &c, tur, 6, 0);
		if (c.cmd.status == TCMU_SCSI_STATUS_GOOD)
			return;
		assert_int_equal(c.cmd.status, TCMU_SCSI_STATUS_CHECK_CONDITION);
		assert_int_equal(c.cmd.sense[2] & 0x0f, TCMU_SENSE_UNIT_ATTENTION);
	}
	fail_msg("unit attentions do not stop");
}

/* A device ready for commands (power-on UA consumed). */
static T_UNUSED struct tdev *t_ready(uint32_t bs, uint64_t blocks,
				     unsigned int caps)
{
	struct tdev *t = t_dev_new(bs, blocks, caps);

	t_clear_ua(t);
	return t;
}

/* CDB builders */
static void T_UNUSED t_cdb_rw10(uint8_t *cdb, uint8_t op, uint32_t lba,
				uint16_t nlb, uint8_t flags)
{
	memset(cdb, 0, 10);
	cdb[0] = op;
	cdb[1] = flags;
	tcmu_put_be32(&cdb[2], lba);
	tcmu_put_be16(&cdb[7], nlb);
}

static void T_UNUSED t_cdb_rw16(uint8_t *cdb, uint8_t op, uint64_t lba,
				uint32_t nlb, uint8_t flags)
{
	memset(cdb, 0, 16);
	cdb[0] = op;
	cdb[1] = flags;
	tcmu_put_be64(&cdb[2], lba);
	tcmu_put_be32(&cdb[10], nlb);
}

#endif
