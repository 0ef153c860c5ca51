/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/unit/test_scsi_caw.c — COMPARE AND WRITE: routed to the handler or
 * emulated, miscompare offsets, errors, and atomicity of the emulation
 * against other writes to the same blocks.
 */
#include "test_scsi_common.h"

#define BS 512
#define NB 1024

/* COMPARE AND WRITE of @nlb blocks at @lba: verify = medium (+ @diff). */
static void caw_init(struct tdev *t, struct tcmd *c, uint64_t lba,
		     uint8_t nlb, uint8_t fill, long diff_at, uint8_t cdb1)
{
	uint8_t cdb[16] = { TCMU_SCSI_OP_COMPARE_AND_WRITE, cdb1 };
	size_t len = (size_t)nlb * BS;

	tcmu_put_be64(&cdb[2], lba);
	cdb[13] = nlb;
	t_cmd_init(t, c, cdb, 16, 2 * len, 3);
	memcpy(c->buf, t->mem + lba * BS, len);
	if (diff_at >= 0)
		c->buf[diff_at] ^= 0x80;
	memset(c->buf + len, fill, len);
}

static void check_miscompare(const struct tcmd *c, uint32_t off)
{
	t_expect_check(c, TCMU_SENSE_MISCOMPARE,
		       TCMU_ASC_MISCOMPARE_DURING_VERIFY);
	assert_true(c->cmd.sense[0] & 0x80); /* VALID */
	assert_int_equal(tcmu_get_be32(&c->cmd.sense[3]), off);
}

static void caw_basic(unsigned int caps)
{
	struct tdev *t = t_ready(BS, NB, caps);
	uint8_t before[2 * BS];
	struct tcmd c;

	caw_init(t, &c, 40, 2, 0x3c, -1, 0);
	t_submit(&c);
	t_expect_good(&c);
	for (int i = 0; i < 2 * BS; i++)
		assert_int_equal(t->mem[40 * BS + i], 0x3c);
	t_cmd_free(&c);

	/* Miscompare in the second block: nothing written, offset reported. */
	memcpy(before, t->mem + 100 * BS, sizeof(before));
	caw_init(t, &c, 100, 2, 0x99, BS + 3, 0);
	t_submit(&c);
	check_miscompare(&c, BS + 3);
	assert_memory_equal(t->mem + 100 * BS, before, sizeof(before));
	t_cmd_free(&c);

	/* Descriptor sense carries the offset in an information descriptor. */
	t->dev.scsi->d_sense = true;
	caw_init(t, &c, 100, 1, 0x99, 7, 0);
	t_submit(&c);
	assert_int_equal(c.cmd.sense[0], 0x72);
	assert_int_equal(c.cmd.sense[1], TCMU_SENSE_MISCOMPARE);
	assert_int_equal(c.cmd.sense[8], 0x00);
	assert_int_equal(tcmu_get_be64(&c.cmd.sense[12]), 7);
	t_cmd_free(&c);
	t_dev_free(t);
}

static void test_native(void **state)
{
	caw_basic(T_ALL);
}

static void test_emulated(void **state)
{
	caw_basic(T_HAS_FLUSH);
}

static void test_native_is_used(void **state)
{
	struct tdev *t = t_ready(BS, NB, T_ALL);
	struct tcmd c;

	caw_init(t, &c, 1, 1, 0, -1, 0);
	t_submit(&c);
	t_expect_good(&c);
	assert_int_equal(t->nr_caw, 1);
	assert_int_equal(t->nr_read + t->nr_write, 0);
	t_cmd_free(&c);
	t_dev_free(t);

	t = t_ready(BS, NB, T_HAS_FLUSH);
	caw_init(t, &c, 1, 1, 0, -1, 0x08); /* FUA */
	t_submit(&c);
	t_expect_good(&c);
	assert_int_equal(t->nr_read, 1);
	assert_int_equal(t->nr_write, 1);
	assert_int_equal(t->last_wflags & TCMU_IO_FUA, TCMU_IO_FUA);
	t_cmd_free(&c);
	t_dev_free(t);
}

static void test_errors(void **state)
{
	struct tdev *t = t_ready(BS, NB, 0);
	uint8_t cdb[16] = { TCMU_SCSI_OP_COMPARE_AND_WRITE };
	struct tcmd c;

	/* Zero blocks: nothing to do. */
	t_run(t, &c, cdb, 16, 0);
	t_expect_good(&c);

	cdb[13] = (uint8_t)(vpd_max_caw_blocks(&t->dev) + 1);
	if (cdb[13] > vpd_max_caw_blocks(&t->dev)) {
		t_run(t, &c, cdb, 16, 2u * cdb[13] * BS);
		t_expect_invalid_cdb(&c, 13, -1);
		t_cmd_free(&c);
	}
	cdb[13] = 2;
	t_run(t, &c, cdb, 16, 3 * BS); /* data-out must be 2 x 2 blocks */
	t_expect_invalid_cdb(&c, 13, -1);
	t_cmd_free(&c);
	tcmu_put_be64(&cdb[2], NB - 1);
	t_run(t, &c, cdb, 16, 4 * BS);
	t_expect_check(&c, TCMU_SENSE_ILLEGAL_REQUEST, TCMU_ASC_LBA_OUT_OF_RANGE);
	t_cmd_free(&c);
	cdb[1] = 0x20; /* WRPROTECT */
	tcmu_put_be64(&cdb[2], 0);
	t_run(t, &c, cdb, 16, 4 * BS);
	t_expect_invalid_cdb(&c, 1, 7);
	t_cmd_free(&c);
	assert_int_equal(t->nr_read + t->nr_write, 0);

	/* A failed read: the handler's error, nothing written. */
	t->fail_errno = EIO;
	caw_init(t, &c, 3, 1, 0, -1, 0);
	t_submit(&c);
	t_expect_check(&c, TCMU_SENSE_MEDIUM_ERROR, TCMU_ASC_READ_ERROR);
	assert_int_equal(t->nr_write, 0);
	t_cmd_free(&c);
	t_dev_free(t);
}

static void write10(struct tdev *t, struct tcmd *c, uint32_t lba, uint16_t n,
		    uint8_t fill)
{
	uint8_t cdb[10];

	t_cdb_rw10(cdb, TCMU_SCSI_OP_WRITE_10, lba, n, 0);
	t_cmd_init(t, c, cdb, 10, (size_t)n * BS, 1);
	memset(c->buf, fill, c->len);
	scsi_submit(&c->cmd);
}

/*
 * An emulated COMPARE AND WRITE waits for overlapping writes already in
 * the handler, and overlapping writes that arrive while it runs wait for
 * it; writes elsewhere are not held up.
 */
static void test_atomic_against_writes(void **state)
{
	struct tdev *t = t_ready(BS, NB, 0);
	struct tcmd w1, caw, w2, w3;

	/* A write to blocks 10..13 is in the handler (held). */
	t->hold_writes = true;
	write10(t, &w1, 10, 4, 0x11);
	assert_int_equal(t->nheld, 1);

	/* CAW on block 12 expects the data w1 is writing. */
	caw_init(t, &caw, 12, 1, 0x22, -1, 0);
	memset(caw.buf, 0x11, BS);
	scsi_submit(&caw.cmd);
	assert_int_equal(t->nr_read, 0); /* waits for w1 */

	/* A write to block 12 arriving now waits behind the CAW... */
	write10(t, &w2, 12, 1, 0x33);
	assert_int_equal(t->nr_write, 1);
	/* ... one elsewhere does not. */
	write10(t, &w3, 500, 1, 0x44);
	assert_int_equal(t->nr_write, 2);
	assert_int_equal(t->nheld, 2);

	/* w1 and w3 complete: the CAW reads, compares, writes (held). */
	t->hold_writes = false;
	t_release(t);
	assert_int_equal(w1.done, 1);
	assert_int_equal(w3.done, 1);
	/* ... and w2 ran after it, in order. */
	assert_int_equal(caw.done, 1);
	t_expect_good(&caw);
	assert_int_equal(w2.done, 1);
	t_expect_good(&w2);
	assert_int_equal(t->mem[12 * BS], 0x33);
	assert_int_equal(t->nr_read, 1);
	assert_int_equal(t->nr_write, 4);
	t_cmd_free(&w1);
	t_cmd_free(&w2);
	t_cmd_free(&w3);
	t_cmd_free(&caw);

	/* While the CAW's read is in the handler, an overlapping write waits. */
	t->hold_reads = true;
	caw_init(t, &caw, 200, 2, 0x55, -1, 0);
	scsi_submit(&caw.cmd);
	assert_int_equal(t->nheld, 1);
	write10(t, &w2, 201, 1, 0x66);
	assert_int_equal(w2.done, 0);
	assert_int_equal(t->nr_write, 4);
	t->hold_reads = false;
	t_release(t);
	t_expect_good(&caw);
	assert_int_equal(w2.done, 1);
	assert_int_equal(t->mem[200 * BS], 0x55);
	assert_int_equal(t->mem[201 * BS], 0x66); /* the later write wins */
	t_cmd_free(&w2);
	t_cmd_free(&caw);

	/* Two CAWs on the same block: the second sees the first's data. */
	t->hold_reads = true;
	caw_init(t, &caw, 300, 1, 0x77, -1, 0);
	scsi_submit(&caw.cmd);
	caw_init(t, &w3, 300, 1, 0x88, -1, 0); /* expects the old data */
	scsi_submit(&w3.cmd);
	assert_int_equal(t->nheld, 1);
	t->hold_reads = false;
	t_release(t);
	t_expect_good(&caw);
	check_miscompare(&w3, 0);
	assert_int_equal(t->mem[300 * BS], 0x77);
	t_cmd_free(&caw);
	t_cmd_free(&w3);
	t_dev_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_native),
		cmocka_unit_test(test_emulated),
		cmocka_unit_test(test_native_is_used),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_atomic_against_writes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
