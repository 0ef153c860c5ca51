/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/unit/test_scsi_unmap.c — UNMAP and GET LBA STATUS.
 */
#include "test_scsi_common.h"

#define BS 512
#define NB 8192

/* UNMAP with @nd descriptors {lba, n} taken from @d. */
static void unmap(struct tdev *t, struct tcmd *c, const uint64_t (*d)[2],
		  size_t nd, uint8_t cdb1)
{
	uint8_t cdb[10] = { TCMU_SCSI_OP_UNMAP, cdb1 };
	size_t plen = 8 + 16 * nd;

	tcmu_put_be16(&cdb[7], (uint16_t)plen);
	t_cmd_init(t, c, cdb, 10, plen, 2);
	tcmu_put_be16(&c->buf[0], (uint16_t)(plen - 2));
	tcmu_put_be16(&c->buf[2], (uint16_t)(16 * nd));
	for (size_t i = 0; i < nd; i++) {
		tcmu_put_be64(&c->buf[8 + 16 * i], d[i][0]);
		tcmu_put_be32(&c->buf[8 + 16 * i + 8], (uint32_t)d[i][1]);
	}
	t_submit(c);
}

static void test_unmap_descriptors(void **state)
{
	struct tdev *t = t_ready(BS, NB, T_ALL);
	const uint64_t d[][2] = { { 10, 5 }, { 100, 0 }, { 4000, 96 },
				  { NB - 1, 1 } };
	struct tcmd c;

	unmap(t, &c, d, 4, 0);
	t_expect_good(&c);
	assert_int_equal(t->nr_unmap, 1);
	assert_int_equal(t->last_nr_ranges, 3); /* the empty one is dropped */
	assert_int_equal(t->ranges[0].offset, 10 * BS);
	assert_int_equal(t->ranges[0].length, 5 * BS);
	assert_int_equal(t->ranges[1].offset, 4000 * BS);
	assert_int_equal(t->ranges[1].length, 96 * BS);
	assert_int_equal(t->ranges[2].offset, (NB - 1) * (uint64_t)BS);
	assert_int_equal(t->mapped[12], 0);
	assert_int_equal(t->mapped[15], 1);
	t_cmd_free(&c);
	t_dev_free(t);
}

static void test_unmap_errors(void **state)
{
	struct tdev *t = t_ready(BS, NB, T_ALL);
	uint64_t d[SCSI_MAX_UNMAP_DESC + 1][2];
	uint8_t cdb[10] = { TCMU_SCSI_OP_UNMAP };
	struct tcmd c;

	/* Out of range: nothing unmapped. */
	d[0][0] = 0;
	d[0][1] = 8;
	d[1][0] = NB - 4;
	d[1][1] = 5;
	unmap(t, &c, (const uint64_t(*)[2])d, 2, 0);
	t_expect_check(&c, TCMU_SENSE_ILLEGAL_REQUEST, TCMU_ASC_LBA_OUT_OF_RANGE);
	assert_int_equal(t->nr_unmap, 0);
	t_cmd_free(&c);

	/* ANCHOR is not supported. */
	unmap(t, &c, (const uint64_t(*)[2])d, 1, 0x01);
	t_expect_invalid_cdb(&c, 1, 0);
	t_cmd_free(&c);

	/* Too many descriptors for VPD B0h. */
	for (size_t i = 0; i <= SCSI_MAX_UNMAP_DESC; i++) {
		d[i][0] = i;
		d[i][1] = 1;
	}
	unmap(t, &c, (const uint64_t(*)[2])d, SCSI_MAX_UNMAP_DESC + 1, 0);
	t_expect_check(&c, TCMU_SENSE_ILLEGAL_REQUEST,
		       TCMU_ASC_INVALID_FIELD_IN_PARAMETER_LIST);
	t_cmd_free(&c);
	unmap(t, &c, (const uint64_t(*)[2])d, SCSI_MAX_UNMAP_DESC, 0);
	t_expect_good(&c);
	assert_int_equal(t->last_nr_ranges, SCSI_MAX_UNMAP_DESC);
	t_cmd_free(&c);

	/* More blocks than MAXIMUM UNMAP LBA COUNT (handler limit 64 KiB). */
	t->h.max_unmap_len = 64 * 1024;
	d[0][0] = 0;
	d[0][1] = 100;
	d[1][0] = 200;
	d[1][1] = 100;
	unmap(t, &c, (const uint64_t(*)[2])d, 2, 0);
	t_expect_check(&c, TCMU_SENSE_ILLEGAL_REQUEST,
		       TCMU_ASC_INVALID_FIELD_IN_PARAMETER_LIST);
	t_expect_field(&c, false, 8 + 16 + 8, 7);
	t_cmd_free(&c);
	t->h.max_unmap_len = 0;

	/* Parameter list too short for its header. */
	tcmu_put_be16(&cdb[7], 6);
	t_run(t, &c, cdb, 10, 6);
	t_expect_check(&c, TCMU_SENSE_ILLEGAL_REQUEST,
		       TCMU_ASC_PARAMETER_LIST_LENGTH_ERROR);
	t_cmd_free(&c);
	/* ... or longer than the data area. */
	tcmu_put_be16(&cdb[7], 24);
	t_run(t, &c, cdb, 10, 8);
	t_expect_check(&c, TCMU_SENSE_ILLEGAL_REQUEST,
		       TCMU_ASC_PARAMETER_LIST_LENGTH_ERROR);
	t_cmd_free(&c);
	/* Empty parameter list: nothing to do. */
	tcmu_put_be16(&cdb[7], 0);
	t_run(t, &c, cdb, 10, 0);
	t_expect_good(&c);

	/* Handler failure maps to sense. */
	t->fail_errno = ENOSPC;
	unmap(t, &c, (const uint64_t(*)[2])d, 1, 0);
	t_expect_check(&c, TCMU_SENSE_DATA_PROTECT,
		       TCMU_ASC_SPACE_ALLOC_FAILED_WRITE_PROTECT);
	t_cmd_free(&c);
	t_dev_free(t);
}

static void lba_status(struct tdev *t, struct tcmd *c, uint64_t lba,
		       uint32_t alloc)
{
	uint8_t cdb[16] = { TCMU_SCSI_OP_SERVICE_ACTION_IN_16,
			    TCMU_SCSI_SAI_GET_LBA_STATUS };

	tcmu_put_be64(&cdb[2], lba);
	tcmu_put_be32(&cdb[10], alloc);
	t_run(t, c, cdb, 16, alloc);
}

static void test_get_lba_status(void **state)
{
	struct tdev *t = t_ready(BS, NB, T_ALL);
	const uint64_t d[][2] = { { 100, 50 } };
	struct tcmd c;

	unmap(t, &c, d, 1, 0);
	t_expect_good(&c);
	t_cmd_free(&c);

	lba_status(t, &c, 90, 8 + 16 * 4);
	t_expect_good(&c);
	assert_int_equal(tcmu_get_be32(&c.buf[0]), 4 + 16 * 3);
	assert_int_equal(tcmu_get_be64(&c.buf[8]), 90);
	assert_int_equal(tcmu_get_be32(&c.buf[16]), 10);
	assert_int_equal(c.buf[20] & 0x0f, 0); /* mapped */
	assert_int_equal(tcmu_get_be64(&c.buf[24]), 100);
	assert_int_equal(tcmu_get_be32(&c.buf[32]), 50);
	assert_int_equal(c.buf[36] & 0x0f, 1); /* deallocated */
	assert_int_equal(tcmu_get_be64(&c.buf[40]), 150);
	assert_int_equal(tcmu_get_be32(&c.buf[48]), NB - 150);
	t_cmd_free(&c);

	/* Room for one descriptor only. */
	lba_status(t, &c, 120, 24);
	t_expect_good(&c);
	assert_int_equal(tcmu_get_be32(&c.buf[0]), 4 + 16);
	assert_int_equal(tcmu_get_be32(&c.buf[16]), 30);
	assert_int_equal(c.buf[20] & 0x0f, 1);
	t_cmd_free(&c);

	lba_status(t, &c, NB, 24);
	t_expect_check(&c, TCMU_SENSE_ILLEGAL_REQUEST, TCMU_ASC_LBA_OUT_OF_RANGE);
	t_cmd_free(&c);
	t_dev_free(t);

	/* A handler that cannot tell: everything mapped. */
	t = t_ready(BS, NB, 0);
	lba_status(t, &c, 5, 64);
	t_expect_good(&c);
	assert_int_equal(tcmu_get_be32(&c.buf[0]), 4 + 16);
	assert_int_equal(tcmu_get_be64(&c.buf[8]), 5);
	assert_int_equal(tcmu_get_be32(&c.buf[16]), NB - 5);
	assert_int_equal(c.buf[20] & 0x0f, 0);
	t_cmd_free(&c);
	t_dev_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unmap_descriptors),
		cmocka_unit_test(test_unmap_errors),
		cmocka_unit_test(test_get_lba_status),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
