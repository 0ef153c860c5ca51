/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/unit/test_scsi_rw.c — READ/WRITE (6)(10)(12)(16), FUA, VERIFY,
 * WRITE AND VERIFY, SYNCHRONIZE CACHE and the handler result mapping.
 */
#include "test_scsi_common.h"

#define BS 512
#define NB 256

static void test_write10_read10_roundtrip(void **state)
{
	struct tdev *t = t_ready(BS, NB, T_ALL);
	uint8_t cdb[10];
	struct tcmd w, r;

	t_cdb_rw10(cdb, TCMU_SCSI_OP_WRITE_10, 10, 4, 0);
	t_cmd_init(t, &w, cdb, 10, 4 * BS, 3);
	for (size_t i = 0; i < w.len; i++)
		w.buf[i] = (uint8_t)(i ^ 0x5a);
	t_submit(&w);
	t_expect_good(&w);
	assert_int_equal(t->nr_write, 1);
	assert_int_equal(t->last_off, 10 * BS);
	assert_int_equal(t->last_len, 4 * BS);
	assert_int_equal(t->last_iovcnt, 3); /* the data area, not a copy */
	assert_memory_equal(t->mem + 10 * BS, w.buf, 4 * BS);

	t_cdb_rw10(cdb, TCMU_SCSI_OP_READ_10, 10, 4, 0);
	t_cmd_init(t, &r, cdb, 10, 4 * BS, 2);
	t_submit(&r);
	t_expect_good(&r);
	assert_memory_equal(r.buf, w.buf, 4 * BS);
	assert_false(r.cmd.read_len_set);
	t_cmd_free(&w);
	t_cmd_free(&r);
	t_dev_free(t);
}

static void test_read6_zero_means_256(void **state)
{
	struct tdev *t = t_ready(BS, 1024, 0);
	uint8_t cdb[6] = { TCMU_SCSI_OP_READ_6, 0x00, 0x01, 0x00, 0x00, 0 };
	struct tcmd c;

	t_run(t, &c, cdb, 6, 256 * BS);
	t_expect_good(&c);
	assert_int_equal(t->last_off, 256 * BS);
	assert_int_equal(t->last_len, 256 * BS);
	assert_memory_equal(c.buf, t->mem + 256 * BS, 256 * BS);
	t_cmd_free(&c);

	/* WRITE(6): 21-bit LBA, the top bits of byte 1 are not LBA. */
	uint8_t w6[6] = { TCMU_SCSI_OP_WRITE_6, 0xe0, 0x00, 0x05, 0x02, 0 };

	t_run(t, &c, w6, 6, 2 * BS);
	t_expect_good(&c);
	assert_int_equal(t->last_off, 5 * BS);
	t_cmd_free(&c);
	t_dev_free(t);
}

static void test_read12_write16_read16(void **state)
{
	struct tdev *t = t_ready(4096, 64, T_ALL);
	uint8_t cdb[16];
	struct tcmd c;

	memset(cdb, 0, 12);
	cdb[0] = TCMU_SCSI_OP_READ_12;
	tcmu_put_be32(&cdb[2], 7);
	tcmu_put_be32(&cdb[6], 2);
	t_run(t, &c, cdb, 12, 2 * 4096);
	t_expect_good(&c);
	assert_int_equal(t->last_off, 7 * 4096);
	assert_memory_equal(c.buf, t->mem + 7 * 4096, 2 * 4096);
	t_cmd_free(&c);

	t_cdb_rw16(cdb, TCMU_SCSI_OP_WRITE_16, 63, 1, 0);
	t_cmd_init(t, &c, cdb, 16, 4096, 1);
	memset(c.buf, 0xab, 4096);
	t_submit(&c);
	t_expect_good(&c);
	assert_int_equal(t->mem[63 * 4096 + 4095], 0xab);
	t_cmd_free(&c);

	t_cdb_rw16(cdb, TCMU_SCSI_OP_READ_16, 63, 1, 0);
	t_run(t, &c, cdb, 16, 4096);
	t_expect_good(&c);
	assert_int_equal(c.buf[0], 0xab);
	t_cmd_free(&c);

	memset(cdb, 0, 12);
	cdb[0] = TCMU_SCSI_OP_WRITE_12;
	tcmu_put_be32(&cdb[2], 1);
	tcmu_put_be32(&cdb[6], 1);
	t_run(t, &c, cdb, 12, 4096);
	t_expect_good(&c);
	assert_int_equal(t->last_off, 4096);
	t_cmd_free(&c);
	t_dev_free(t);
}

static void test_fua(void **state)
{
	struct tdev *t = t_ready(BS, NB, T_ALL);
	uint8_t cdb[16];
	struct tcmd c;

	/* Write cache on: FUA only when asked. */
	t_cdb_rw10(cdb, TCMU_SCSI_OP_WRITE_10, 0, 1, 0);
	t_run(t, &c, cdb, 10, BS);
	t_expect_good(&c);
	assert_int_equal(t->last_flags & TCMU_IO_FUA, 0);
	t_cmd_free(&c);
	t_cdb_rw10(cdb, TCMU_SCSI_OP_WRITE_10, 0, 1, 0x08 | 0x10); /* FUA DPO */
	t_run(t, &c, cdb, 10, BS);
	t_expect_good(&c);
	assert_int_equal(t->last_flags & TCMU_IO_FUA, TCMU_IO_FUA);
	t_cmd_free(&c);
	t_cdb_rw16(cdb, TCMU_SCSI_OP_WRITE_16, 0, 1, 0x08);
	t_run(t, &c, cdb, 16, BS);
	assert_int_equal(t->last_flags & TCMU_IO_FUA, TCMU_IO_FUA);
	t_cmd_free(&c);

	/* Write cache reported off but the handler caches: write-through. */
	t->dev.info.write_cache = false;
	t_clear_ua(t); /* MODE PARAMETERS CHANGED */
	t_cdb_rw10(cdb, TCMU_SCSI_OP_WRITE_10, 0, 1, 0);
	t_run(t, &c, cdb, 10, BS);
	t_expect_good(&c);
	assert_int_equal(t->last_flags & TCMU_IO_FUA, TCMU_IO_FUA);
	t_cmd_free(&c);

	/* Reads ignore FUA (nothing is cached on the read side). */
	t_cdb_rw10(cdb, TCMU_SCSI_OP_READ_10, 0, 1, 0x08);
	t_run(t, &c, cdb, 10, BS);
	t_expect_good(&c);
	assert_int_equal(t->last_flags, 0);
	t_cmd_free(&c);
	t_dev_free(t);

	/* No flush callback: the handler writes through, no FUA needed. */
	t = t_ready(BS, NB, 0);
	t->dev.info.write_cache = false;
	t_cdb_rw10(cdb, TCMU_SCSI_OP_WRITE_10, 0, 1, 0);
	t_run(t, &c, cdb, 10, BS);
	t_expect_good(&c);
	assert_int_equal(t->last_flags & TCMU_IO_FUA, 0);
	t_cmd_free(&c);
	t_dev_free(t);
}

static void test_lba_out_of_range(void **state)
{
	struct tdev *t = t_ready(BS, NB, 0);
	uint8_t cdb[16];
	struct tcmd c;

	t_cdb_rw10(cdb, TCMU_SCSI_OP_READ_10, NB, 1, 0);
	t_run(t, &c, cdb, 10, BS);
	t_expect_check(&c, TCMU_SENSE_ILLEGAL_REQUEST, TCMU_ASC_LBA_OUT_OF_RANGE);
	t_cmd_free(&c);

	t_cdb_rw10(cdb, TCMU_SCSI_OP_WRITE_10, NB - 1, 2, 0);
	t_run(t, &c, cdb, 10, 2 * BS);
	t_expect_check(&c, TCMU_SENSE_ILLEGAL_REQUEST, TCMU_ASC_LBA_OUT_OF_RANGE);
	t_cmd_free(&c);

	/* LBA + length wraps around 2^64. */
	t_cdb_rw16(cdb, TCMU_SCSI_OP_READ_16, UINT64_MAX, 2, 0);
	t_run(t, &c, cdb, 16, 2 * BS);
	t_expect_check(&c, TCMU_SENSE_ILLEGAL_REQUEST, TCMU_ASC_LBA_OUT_OF_RANGE);
	t_cmd_free(&c);
	assert_int_equal(t->nr_read + t->nr_write, 0);

	/* Zero blocks at the end of the medium is fine and transfers nothing. */
	t_cdb_rw10(cdb, TCMU_SCSI_OP_READ_10, NB, 0, 0);
	t_run(t, &c, cdb, 10, 0);
	t_expect_good(&c);
	assert_int_equal(t->nr_read, 0);
	t_dev_free(t);
}

static void test_data_area_mismatch(void **state)
{
	struct tdev *t = t_ready(BS, NB, 0);
	uint8_t cdb[16];
	struct tcmd c;

	/* Read of 4 blocks into a 3-block data area: refused, nothing read. */
	t_cdb_rw10(cdb, TCMU_SCSI_OP_READ_10, 0, 4, 0);
	t_run(t, &c, cdb, 10, 3 * BS);
	t_expect_invalid_cdb(&c, 7, -1);
	assert_int_equal(t->nr_read, 0);
	t_cmd_free(&c);

	/* Write with a larger or smaller data area: refused. */
	t_cdb_rw16(cdb, TCMU_SCSI_OP_WRITE_16, 0, 2, 0);
	t_run(t, &c, cdb, 16, 3 * BS);
	t_expect_invalid_cdb(&c, 10, -1);
	t_cmd_free(&c);
	t_run(t, &c, cdb, 16, BS);
	t_expect_invalid_cdb(&c, 10, -1);
	t_cmd_free(&c);
	assert_int_equal(t->nr_write, 0);

	/* Read into a larger data area: the prefix, with a residual. */
	t_cdb_rw10(cdb, TCMU_SCSI_OP_READ_10, 1, 2, 0);
	t_cmd_init(t, &c, cdb, 10, 3 * BS, 4);
	memset(c.buf, 0xee, c.len);
	t_submit(&c);
	t_expect_good(&c);
	assert_true(c.cmd.read_len_set);
	assert_int_equal(c.cmd.read_len, 2 * BS);
	assert_int_equal(t->last_len, 2 * BS);
	assert_memory_equal(c.buf, t->mem + BS, 2 * BS);
	for (size_t i = 2 * BS; i < 3 * BS; i++)
		assert_int_equal(c.buf[i], 0xee);
	t_cmd_free(&c);
	t_dev_free(t);
}

static void test_protect_refused(void **state)
{
	struct tdev *t = t_ready(BS, NB, 0);
	uint8_t cdb[16];
	struct tcmd c;

	t_cdb_rw10(cdb, TCMU_SCSI_OP_READ_10, 0, 1, 0x20); /* RDPROTECT 001b */
	t_run(t, &c, cdb, 10, BS);
	t_expect_invalid_cdb(&c, 1, 7);
	t_cmd_free(&c);
	t_cdb_rw16(cdb, TCMU_SCSI_OP_WRITE_16, 0, 1, 0x60);
	t_run(t, &c, cdb, 16, BS);
	t_expect_invalid_cdb(&c, 1, 7);
	t_cmd_free(&c);
	t_dev_free(t);
}

static void test_read_only_handler(void **state)
{
	struct tdev *t = t_ready(BS, NB, T_READ_ONLY);
	uint8_t cdb[10];
	struct tcmd c;

	t_cdb_rw10(cdb, TCMU_SCSI_OP_WRITE_10, 0, 1, 0);
	t_run(t, &c, cdb, 10, BS);
	t_expect_check(&c, TCMU_SENSE_DATA_PROTECT, TCMU_ASC_WRITE_PROTECTED);
	t_cmd_free(&c);
	t_cdb_rw10(cdb, TCMU_SCSI_OP_READ_10, 0, 1, 0);
	t_run(t, &c, cdb, 10, BS);
	t_expect_good(&c);
	t_cmd_free(&c);
	t_dev_free(t);
}

static void expect_errno(struct tdev *t, uint8_t op, int err, bool sync,
			 uint8_t status, uint8_t key, uint16_t asc)
{
	uint8_t cdb[10];
	struct tcmd c;

	t->fail_errno = err;
	t->fail_sync = sync;
	t_cdb_rw10(cdb, op, 0, 1, 0);
	t_run(t, &c, cdb, 10, BS);
	assert_int_equal(c.cmd.status, status);
	if (status == TCMU_SCSI_STATUS_CHECK_CONDITION)
		t_expect_check(&c, key, asc);
	else
		assert_int_equal(c.cmd.sense_len, 0);
	t_cmd_free(&c);
}

static void test_result_mapping(void **state)
{
	struct tdev *t = t_ready(BS, NB, T_ALL);
	const uint8_t cc = TCMU_SCSI_STATUS_CHECK_CONDITION;

	for (int sync = 0; sync < 2; sync++) {
		expect_errno(t, TCMU_SCSI_OP_READ_10, EIO, sync, cc,
			     TCMU_SENSE_MEDIUM_ERROR, TCMU_ASC_READ_ERROR);
		expect_errno(t, TCMU_SCSI_OP_WRITE_10, EIO, sync, cc,
			     TCMU_SENSE_MEDIUM_ERROR, TCMU_ASC_WRITE_ERROR);
		expect_errno(t, TCMU_SCSI_OP_WRITE_10, ENOSPC, sync, cc,
			     TCMU_SENSE_DATA_PROTECT,
			     TCMU_ASC_SPACE_ALLOC_FAILED_WRITE_PROTECT);
		expect_errno(t, TCMU_SCSI_OP_WRITE_10, EROFS, sync, cc,
			     TCMU_SENSE_DATA_PROTECT, TCMU_ASC_WRITE_PROTECTED);
		expect_errno(t, TCMU_SCSI_OP_READ_10, ERANGE, sync, cc,
			     TCMU_SENSE_ILLEGAL_REQUEST,
			     TCMU_ASC_LBA_OUT_OF_RANGE);
		expect_errno(t, TCMU_SCSI_OP_READ_10, EINVAL, sync, cc,
			     TCMU_SENSE_ILLEGAL_REQUEST,
			     TCMU_ASC_INVALID_FIELD_IN_CDB);
		expect_errno(t, TCMU_SCSI_OP_READ_10, ECANCELED, sync, cc,
			     TCMU_SENSE_ABORTED_COMMAND, 0);
		expect_errno(t, TCMU_SCSI_OP_READ_10, EAGAIN, sync,
			     TCMU_SCSI_STATUS_BUSY, 0, 0);
		expect_errno(t, TCMU_SCSI_OP_WRITE_10, ETIMEDOUT, sync,
			     TCMU_SCSI_STATUS_BUSY, 0, 0);
		expect_errno(t, TCMU_SCSI_OP_READ_10, ENOMEM, sync,
			     TCMU_SCSI_STATUS_TASK_SET_FULL, 0, 0);
	}
	t_dev_free(t);
}

static int sense_setting_read(struct tcmu_device *dev, struct tcmu_cmd *cmd,
			      const struct iovec *iov, size_t iovcnt,
			      uint64_t offset, size_t length, unsigned int flags)
{
	tcmu_cmd_set_sense(cmd, TCMU_SENSE_HARDWARE_ERROR, 0x44, 0x00);
	tcmu_cmd_done(cmd, -EIO);
	return 0;
}

static void test_handler_sense_wins(void **state)
{
	struct tdev *t = t_ready(BS, NB, 0);
	uint8_t cdb[10];
	struct tcmd c;

	t->h.read = sense_setting_read;
	t_cdb_rw10(cdb, TCMU_SCSI_OP_READ_10, 0, 1, 0);
	t_run(t, &c, cdb, 10, BS);
	t_expect_check(&c, TCMU_SENSE_HARDWARE_ERROR,
		       TCMU_ASC_INTERNAL_TARGET_FAILURE);
	t_cmd_free(&c);

	/* ... and is re-encoded when descriptor sense was selected. */
	t->dev.scsi->d_sense = true;
	t_run(t, &c, cdb, 10, BS);
	assert_int_equal(c.cmd.sense[0], 0x72);
	assert_int_equal(c.cmd.sense[1], TCMU_SENSE_HARDWARE_ERROR);
	assert_int_equal(c.cmd.sense[2], 0x44);
	t_cmd_free(&c);
	t_dev_free(t);
}

static void test_sync_cache(void **state)
{
	struct tdev *t = t_ready(BS, NB, T_ALL);
	uint8_t cdb[16];
	struct tcmd c;

	t_cdb_rw10(cdb, TCMU_SCSI_OP_SYNCHRONIZE_CACHE_10, 0, 0, 0);
	t_run(t, &c, cdb, 10, 0);
	t_expect_good(&c);
	assert_int_equal(t->nr_flush, 1);

	t_cdb_rw16(cdb, TCMU_SCSI_OP_SYNCHRONIZE_CACHE_16, 5, 10, 0x02);
	t_run(t, &c, cdb, 16, 0);
	t_expect_good(&c);
	assert_int_equal(t->nr_flush, 2);

	t_cdb_rw10(cdb, TCMU_SCSI_OP_SYNCHRONIZE_CACHE_10, NB, 1, 0);
	t_run(t, &c, cdb, 10, 0);
	t_expect_check(&c, TCMU_SENSE_ILLEGAL_REQUEST, TCMU_ASC_LBA_OUT_OF_RANGE);
	assert_int_equal(t->nr_flush, 2);

	t->fail_errno = EIO;
	t_cdb_rw10(cdb, TCMU_SCSI_OP_SYNCHRONIZE_CACHE_10, 0, 0, 0);
	t_run(t, &c, cdb, 10, 0);
	t_expect_check(&c, TCMU_SENSE_MEDIUM_ERROR, TCMU_ASC_WRITE_ERROR);
	t_dev_free(t);

	/* Without flush: nothing to do, GOOD. */
	t = t_ready(BS, NB, 0);
	t_cdb_rw10(cdb, TCMU_SCSI_OP_SYNCHRONIZE_CACHE_10, 0, 0, 0);
	t_run(t, &c, cdb, 10, 0);
	t_expect_good(&c);
	t_dev_free(t);
}

static void test_verify(void **state)
{
	struct tdev *t = t_ready(BS, NB, 0);
	uint8_t cdb[16];
	struct tcmd c;

	/* BYTCHK 00b: medium verification only. */
	t_cdb_rw10(cdb, TCMU_SCSI_OP_VERIFY_10, 0, 8, 0);
	t_run(t, &c, cdb, 10, 0);
	t_expect_good(&c);

	/* BYTCHK 01b, equal data. */
	t_cdb_rw10(cdb, TCMU_SCSI_OP_VERIFY_10, 3, 2, 0x02);
	t_cmd_init(t, &c, cdb, 10, 2 * BS, 2);
	memcpy(c.buf, t->mem + 3 * BS, 2 * BS);
	t_submit(&c);
	t_expect_good(&c);
	assert_int_equal(t->nr_read, 1);

	/* ... one byte differs: MISCOMPARE with its offset. */
	c.done = 0;
	c.buf[BS + 17] ^= 1;
	t_submit(&c);
	t_expect_check(&c, TCMU_SENSE_MISCOMPARE,
		       TCMU_ASC_MISCOMPARE_DURING_VERIFY);
	assert_true(c.cmd.sense[0] & 0x80); /* VALID */
	assert_int_equal(tcmu_get_be32(&c.cmd.sense[3]), BS + 17);
	t_cmd_free(&c);

	/* BYTCHK 11b: one block compared with every block. */
	memset(t->mem + 20 * BS, 0x33, 4 * BS);
	t_cdb_rw16(cdb, TCMU_SCSI_OP_VERIFY_16, 20, 4, 0x06);
	t_cmd_init(t, &c, cdb, 16, BS, 1);
	memset(c.buf, 0x33, BS);
	t_submit(&c);
	t_expect_good(&c);
	t->mem[23 * BS + 5] = 0;
	c.done = 0;
	t_submit(&c);
	t_expect_check(&c, TCMU_SENSE_MISCOMPARE,
		       TCMU_ASC_MISCOMPARE_DURING_VERIFY);
	assert_int_equal(tcmu_get_be32(&c.cmd.sense[3]), 3 * BS + 5);
	t_cmd_free(&c);

	/* BYTCHK 10b is reserved; data area must match. */
	t_cdb_rw10(cdb, TCMU_SCSI_OP_VERIFY_10, 0, 1, 0x04);
	t_run(t, &c, cdb, 10, BS);
	t_expect_invalid_cdb(&c, 1, 2);
	t_cmd_free(&c);
	t_cdb_rw10(cdb, TCMU_SCSI_OP_VERIFY_10, 0, 2, 0x02);
	t_run(t, &c, cdb, 10, BS);
	t_expect_invalid_cdb(&c, 7, -1);
	t_cmd_free(&c);
	t_cdb_rw10(cdb, TCMU_SCSI_OP_VERIFY_10, NB, 1, 0x02);
	t_run(t, &c, cdb, 10, BS);
	t_expect_check(&c, TCMU_SENSE_ILLEGAL_REQUEST, TCMU_ASC_LBA_OUT_OF_RANGE);
	t_cmd_free(&c);
	t_dev_free(t);
}

static void test_verify_large_chunks(void **state)
{
	/* 3 MiB compared in bounce-buffer chunks. */
	struct tdev *t = t_ready(4096, 1024, 0);
	uint8_t cdb[16];
	struct tcmd c;
	uint32_t nlb = 768;

	t_cdb_rw16(cdb, TCMU_SCSI_OP_VERIFY_16, 100, nlb, 0x02);
	t_cmd_init(t, &c, cdb, 16, (size_t)nlb * 4096, 5);
	memcpy(c.buf, t->mem + 100 * 4096, c.len);
	t_submit(&c);
	t_expect_good(&c);
	assert_true(t->nr_read >= 3);
	c.done = 0;
	c.buf[c.len - 1] ^= 0xff;
	t_submit(&c);
	t_expect_check(&c, TCMU_SENSE_MISCOMPARE,
		       TCMU_ASC_MISCOMPARE_DURING_VERIFY);
	assert_int_equal(tcmu_get_be32(&c.cmd.sense[3]), c.len - 1);
	t_cmd_free(&c);
	t_dev_free(t);
}

static void test_write_and_verify(void **state)
{
	struct tdev *t = t_ready(BS, NB, T_ALL);
	uint8_t cdb[16];
	struct tcmd c;

	t_cdb_rw10(cdb, TCMU_SCSI_OP_WRITE_VERIFY_10, 9, 3, 0x02);
	t_cmd_init(t, &c, cdb, 10, 3 * BS, 2);
	memset(c.buf, 0x77, c.len);
	t_submit(&c);
	t_expect_good(&c);
	assert_int_equal(t->nr_write, 1);
	assert_int_equal(t->last_wflags & TCMU_IO_FUA, TCMU_IO_FUA);
	assert_int_equal(t->nr_read, 1); /* read back for BYTCHK */
	assert_int_equal(t->mem[9 * BS], 0x77);
	t_cmd_free(&c);

	memset(cdb, 0, 12);
	cdb[0] = TCMU_SCSI_OP_WRITE_VERIFY_12;
	tcmu_put_be32(&cdb[2], 1);
	tcmu_put_be32(&cdb[6], 1);
	t_run(t, &c, cdb, 12, BS);
	t_expect_good(&c);
	assert_int_equal(t->nr_read, 1); /* no BYTCHK: no read back */
	t_cmd_free(&c);

	t_cdb_rw16(cdb, TCMU_SCSI_OP_WRITE_VERIFY_16, NB, 1, 0);
	t_run(t, &c, cdb, 16, BS);
	t_expect_check(&c, TCMU_SENSE_ILLEGAL_REQUEST, TCMU_ASC_LBA_OUT_OF_RANGE);
	t_cmd_free(&c);
	t_dev_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write10_read10_roundtrip),
		cmocka_unit_test(test_read6_zero_means_256),
		cmocka_unit_test(test_read12_write16_read16),
		cmocka_unit_test(test_fua),
		cmocka_unit_test(test_lba_out_of_range),
		cmocka_unit_test(test_data_area_mismatch),
		cmocka_unit_test(test_protect_refused),
		cmocka_unit_test(test_read_only_handler),
		cmocka_unit_test(test_result_mapping),
		cmocka_unit_test(test_handler_sense_wins),
		cmocka_unit_test(test_sync_cache),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_verify_large_chunks),
		cmocka_unit_test(test_write_and_verify),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
