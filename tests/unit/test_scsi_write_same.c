/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/unit/test_scsi_write_same.c — WRITE SAME (10)(16): emulation with
 * write(), routing to write_same() and unmap(), UNMAP and NDOB, errors.
 */
#include "test_scsi_common.h"

#define BS 512
#define NB 16384

static void ws16(struct tdev *t, struct tcmd *c, uint64_t lba, uint32_t nlb,
		 uint8_t flags, uint8_t fill, size_t len)
{
	uint8_t cdb[16];

	t_cdb_rw16(cdb, TCMU_SCSI_OP_WRITE_SAME_16, lba, nlb, flags);
	t_cmd_init(t, c, cdb, 16, len, 1);
	if (len)
		memset(c->buf, fill, len);
	t_submit(c);
}

static void expect_fill(struct tdev *t, uint64_t lba, uint64_t nlb,
			uint8_t v)
{
	for (uint64_t i = lba * BS; i < (lba + nlb) * BS; i++)
		if (t->mem[i] != v)
			fail_msg("byte %llu is %02x, not %02x",
				 (unsigned long long)i, t->mem[i], v);
}

static void test_emulated(void **state)
{
	struct tdev *t = t_ready(BS, NB, T_HAS_FLUSH);
	uint8_t cdb[10];
	struct tcmd c;

	/* WRITE SAME(10) of 5000 blocks: several 1 MiB chunks of pattern. */
	t_cdb_rw10(cdb, TCMU_SCSI_OP_WRITE_SAME_10, 1000, 5000, 0);
	t_cmd_init(t, &c, cdb, 10, BS, 1);
	for (int i = 0; i < BS; i++)
		c.buf[i] = (uint8_t)i;
	t_submit(&c);
	t_expect_good(&c);
	assert_int_equal(t->nr_write, 3); /* 2048 + 2048 + 904 blocks */
	for (uint64_t b = 1000; b < 6000; b++)
		assert_memory_equal(t->mem + b * BS, c.buf, BS);
	assert_int_not_equal(t->mem[999 * BS + 511], 511 & 0xff);
	t_cmd_free(&c);

	/* UNMAP without unmap(): written all the same. */
	ws16(t, &c, 7000, 3, 0x08, 0, BS);
	t_expect_good(&c);
	expect_fill(t, 7000, 3, 0);
	t_cmd_free(&c);
	t_dev_free(t);
}

static void test_routed_to_handler(void **state)
{
	struct tdev *t = t_ready(BS, NB, T_ALL);
	struct tcmd c;

	ws16(t, &c, 10, 20, 0, 0xa5, BS);
	t_expect_good(&c);
	assert_int_equal(t->nr_ws, 1);
	assert_int_equal(t->nr_write, 0);
	assert_int_equal(t->last_off, 10 * BS);
	assert_int_equal(t->last_len, 20 * BS);
	assert_int_equal(t->last_flags & TCMU_WRITE_SAME_UNMAP, 0);
	expect_fill(t, 10, 20, 0xa5);
	t_cmd_free(&c);

	/* UNMAP with a zero pattern: deallocated through unmap(). */
	t->h.max_unmap_len = 8 * BS;
	ws16(t, &c, 100, 20, 0x08, 0, BS);
	t_expect_good(&c);
	assert_int_equal(t->nr_unmap, 1);
	assert_int_equal(t->last_nr_ranges, 3); /* 8 + 8 + 4 blocks */
	assert_int_equal(t->ranges[2].offset, 116 * BS);
	assert_int_equal(t->ranges[2].length, 4 * BS);
	assert_int_equal(t->mapped[110], 0);
	t_cmd_free(&c);

	/* NDOB + UNMAP: no data-out, zeroes, deallocated. */
	ws16(t, &c, 200, 4, 0x09, 0, 0);
	t_expect_good(&c);
	assert_int_equal(t->nr_unmap, 2);
	expect_fill(t, 200, 4, 0);
	t_cmd_free(&c);

	/* UNMAP with a non-zero pattern: written, with the UNMAP hint. */
	ws16(t, &c, 300, 2, 0x08, 0x11, BS);
	t_expect_good(&c);
	assert_int_equal(t->nr_unmap, 2);
	assert_int_equal(t->nr_ws, 2);
	assert_int_equal(t->last_flags & TCMU_WRITE_SAME_UNMAP,
			 TCMU_WRITE_SAME_UNMAP);
	expect_fill(t, 300, 2, 0x11);
	t_cmd_free(&c);

	/* NDOB without UNMAP: zeroes through write_same(). */
	ws16(t, &c, 400, 2, 0x01, 0, 0);
	t_expect_good(&c);
	assert_int_equal(t->nr_ws, 3);
	expect_fill(t, 400, 2, 0);
	t_cmd_free(&c);

	/*
	 * Write cache off: the write goes through with FUA, and FUA must not
	 * read as "may deallocate" (the two flags once shared a bit).
	 */
	t->dev.info.write_cache = false;
	t_clear_ua(t); /* MODE PARAMETERS CHANGED */
	ws16(t, &c, 500, 2, 0, 0, BS);
	t_expect_good(&c);
	assert_int_equal(t->nr_ws, 4);
	assert_int_equal(t->last_flags & TCMU_IO_FUA, TCMU_IO_FUA);
	assert_int_equal(t->last_flags & TCMU_WRITE_SAME_UNMAP, 0);
	t_cmd_free(&c);
	t_dev_free(t);

	/* Unmapped blocks that do not read back as zeroes: never unmap(). */
	t = t_ready(BS, NB, T_HAS_UNMAP);
	ws16(t, &c, 10, 4, 0x08, 0, BS);
	t_expect_good(&c);
	assert_int_equal(t->nr_unmap, 0);
	assert_int_equal(t->nr_write, 1);
	expect_fill(t, 10, 4, 0);
	t_cmd_free(&c);
	t_dev_free(t);
}

static void test_errors(void **state)
{
	struct tdev *t = t_ready(BS, NB, T_ALL);
	uint8_t cdb[10];
	struct tcmd c;

	ws16(t, &c, 0, 0, 0, 0, BS); /* WSNZ */
	t_expect_invalid_cdb(&c, 10, -1);
	t_cmd_free(&c);
	ws16(t, &c, 0, SCSI_MAX_WRITE_SAME + 1, 0, 0, BS);
	t_expect_invalid_cdb(&c, 10, -1);
	t_cmd_free(&c);
	ws16(t, &c, NB - 1, 2, 0, 0, BS);
	t_expect_check(&c, TCMU_SENSE_ILLEGAL_REQUEST, TCMU_ASC_LBA_OUT_OF_RANGE);
	t_cmd_free(&c);
	ws16(t, &c, 0, 1, 0x10, 0, BS); /* ANCHOR */
	t_expect_invalid_cdb(&c, 1, 4);
	t_cmd_free(&c);
	ws16(t, &c, 0, 1, 0x20, 0, BS); /* WRPROTECT */
	t_expect_invalid_cdb(&c, 1, 7);
	t_cmd_free(&c);
	t_cdb_rw10(cdb, TCMU_SCSI_OP_WRITE_SAME_10, 0, 1, 0x02); /* LBDATA */
	t_run(t, &c, cdb, 10, BS);
	t_expect_invalid_cdb(&c, 1, 1);
	t_cmd_free(&c);
	t_cdb_rw10(cdb, TCMU_SCSI_OP_WRITE_SAME_10, 0, 1, 0);
	t_run(t, &c, cdb, 10, 2 * BS); /* data-out is not one block */
	t_expect_invalid_cdb(&c, 7, -1);
	t_cmd_free(&c);
	assert_int_equal(t->nr_ws + t->nr_write + t->nr_unmap, 0);

	t->fail_errno = EIO;
	ws16(t, &c, 0, 4, 0, 1, BS);
	t_expect_check(&c, TCMU_SENSE_MEDIUM_ERROR, TCMU_ASC_WRITE_ERROR);
	t_cmd_free(&c);
	t_dev_free(t);

	/* Emulation stops at the first failed chunk. */
	t = t_ready(BS, NB, 0);
	t->fail_errno = EIO;
	t_cdb_rw10(cdb, TCMU_SCSI_OP_WRITE_SAME_10, 0, 5000, 0);
	t_run(t, &c, cdb, 10, BS);
	t_expect_check(&c, TCMU_SENSE_MEDIUM_ERROR, TCMU_ASC_WRITE_ERROR);
	assert_int_equal(t->nr_write, 1);
	t_cmd_free(&c);
	t_dev_free(t);

	t = t_ready(BS, NB, T_READ_ONLY);
	ws16(t, &c, 0, 1, 0, 0, BS);
	t_expect_check(&c, TCMU_SENSE_DATA_PROTECT, TCMU_ASC_WRITE_PROTECTED);
	t_cmd_free(&c);
	t_dev_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_emulated),
		cmocka_unit_test(test_routed_to_handler),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
