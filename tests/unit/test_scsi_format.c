/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/unit/test_scsi_format.c — FORMAT UNIT: the three ways of zeroing,
 * IMMED with progress in sense data, errors and a failed format.
 */
#include "test_scsi_common.h"

#define BS 512
#define NB 6000 /* ~2.9 MiB: three 1 MiB write chunks */

static void format(struct tdev *t, struct tcmd *c, uint8_t cdb1,
		   const uint8_t *param, size_t plen)
{
	uint8_t cdb[6] = { TCMU_SCSI_OP_FORMAT_UNIT, cdb1 };

	t_cmd_init(t, c, cdb, 6, plen, 1);
	if (plen)
		memcpy(c->buf, param, plen);
	scsi_submit(&c->cmd);
}

static void expect_zero(struct tdev *t)
{
	for (size_t i = 0; i < t->size; i++)
		if (t->mem[i])
			fail_msg("byte %zu not zeroed", i);
}

static void test_format_write(void **state)
{
	struct tdev *t = t_ready(BS, NB, T_HAS_FLUSH);
	struct tcmd c;

	format(t, &c, 0, NULL, 0);
	assert_int_equal(c.done, 1);
	t_expect_good(&c);
	assert_int_equal(t->nr_write, 3);
	expect_zero(t);
	assert_false(t->dev.scsi->formatting);
	t_dev_free(t);
}

static void test_format_unmap_and_ws(void **state)
{
	struct tdev *t = t_ready(BS, NB, T_ALL);
	struct tcmd c;

	format(t, &c, 0, NULL, 0);
	t_expect_good(&c);
	assert_int_equal(t->nr_unmap, 1);
	assert_int_equal(t->nr_write + t->nr_ws, 0);
	expect_zero(t);
	t_dev_free(t);

	t = t_ready(BS, NB, T_HAS_WS | T_HAS_UNMAP); /* unmap without zeroes */
	format(t, &c, 0, NULL, 0);
	t_expect_good(&c);
	assert_int_equal(t->nr_unmap, 0);
	assert_int_equal(t->nr_ws, 1);
	expect_zero(t);
	t_dev_free(t);
}

static uint16_t progress_of(const uint8_t *s)
{
	assert_int_equal(s[0] & 0x7f, 0x70);
	assert_int_equal(s[2] & 0x0f, TCMU_SENSE_NOT_READY);
	assert_int_equal(s[12], 0x04);
	assert_int_equal(s[13], 0x04);
	assert_true(s[15] & 0x80); /* SKSV */
	return tcmu_get_be16(&s[16]);
}

static void test_format_immed_progress(void **state)
{
	struct tdev *t = t_ready(BS, NB, 0);
	const uint8_t param[4] = { 0, 0x02, 0, 0 }; /* IMMED */
	uint8_t tur[6] = { 0 }, rs[6] = { TCMU_SCSI_OP_REQUEST_SENSE, 0, 0, 0,
					  252, 0 };
	uint8_t inq[6] = { TCMU_SCSI_OP_INQUIRY, 0, 0, 0, 36, 0 };
	uint8_t rd[10];
	struct tcmd c, q;
	uint16_t p0, p1;

	t->hold_writes = true;
	format(t, &c, 0x10, param, sizeof(param));
	assert_int_equal(c.done, 1); /* returned before the work is done */
	t_expect_good(&c);
	t_cmd_free(&c);
	assert_int_equal(t->nheld, 1);

	t_run(t, &q, tur, 6, 0);
	t_expect_check(&q, TCMU_SENSE_NOT_READY,
		       TCMU_ASC_NOT_READY_FORMAT_IN_PROGRESS);
	p0 = progress_of(q.cmd.sense);
	assert_int_equal(p0, 0);
	t_cdb_rw10(rd, TCMU_SCSI_OP_READ_10, 0, 1, 0);
	t_run(t, &q, rd, 10, BS);
	t_expect_check(&q, TCMU_SENSE_NOT_READY,
		       TCMU_ASC_NOT_READY_FORMAT_IN_PROGRESS);
	t_cmd_free(&q);
	t_run(t, &q, inq, 6, 36);
	t_expect_good(&q);
	t_cmd_free(&q);

	/* One chunk done: progress moves; REQUEST SENSE reports it. */
	t->hold_writes = true;
	{
		struct tcmu_cmd *h = t->held[0];

		t->nheld = 0;
		tcmu_cmd_done(h, 0);
	}
	t_run(t, &q, rs, 6, 252);
	t_expect_good(&q);
	p1 = progress_of(q.buf);
	assert_true(p1 > p0);
	assert_int_equal(p1, (uint16_t)(2048ull * 65536 / NB));
	t_cmd_free(&q);

	t->hold_writes = false;
	t_release(t);
	assert_false(t->dev.scsi->formatting);
	t_run(t, &q, tur, 6, 0);
	t_expect_good(&q);
	expect_zero(t);
	t_dev_free(t);
}

static void test_format_errors(void **state)
{
	struct tdev *t = t_ready(BS, NB, 0);
	uint8_t param[8] = { 0 };
	uint8_t rd[10];
	struct tcmd c;

	format(t, &c, 0x40, NULL, 0); /* FMTPINFO */
	t_expect_invalid_cdb(&c, 1, 7);
	param[1] = 0x08; /* IP */
	format(t, &c, 0x10, param, 4);
	t_expect_check(&c, TCMU_SENSE_ILLEGAL_REQUEST,
		       TCMU_ASC_INVALID_FIELD_IN_PARAMETER_LIST);
	t_expect_field(&c, false, 1, 3);
	t_cmd_free(&c);
	param[1] = 0;
	format(t, &c, 0x30, param, 4); /* LONGLIST needs 8 bytes */
	t_expect_check(&c, TCMU_SENSE_ILLEGAL_REQUEST,
		       TCMU_ASC_PARAMETER_LIST_LENGTH_ERROR);
	t_cmd_free(&c);
	param[0] = 0x01; /* protection field usage */
	format(t, &c, 0x10, param, 4);
	t_expect_field(&c, false, 0, 2);
	t_cmd_free(&c);
	assert_int_equal(t->nr_write, 0);

	/* A failed format leaves the medium unusable until the next one. */
	t->fail_errno = EIO;
	format(t, &c, 0, NULL, 0);
	t_expect_check(&c, TCMU_SENSE_MEDIUM_ERROR, TCMU_ASC_WRITE_ERROR);
	t_cdb_rw10(rd, TCMU_SCSI_OP_READ_10, 0, 1, 0);
	t_run(t, &c, rd, 10, BS);
	t_expect_check(&c, TCMU_SENSE_NOT_READY, TCMU_ASC_MEDIUM_FORMAT_CORRUPTED);
	t_cmd_free(&c);
	format(t, &c, 0, NULL, 0);
	t_expect_good(&c);
	t_run(t, &c, rd, 10, BS);
	t_expect_good(&c);
	t_cmd_free(&c);
	t_dev_free(t);

	t = t_ready(BS, NB, T_READ_ONLY);
	format(t, &c, 0, NULL, 0);
	t_expect_check(&c, TCMU_SENSE_DATA_PROTECT, TCMU_ASC_WRITE_PROTECTED);
	t_dev_free(t);
}

static void test_free_during_immed_format(void **state)
{
	struct tdev *t = t_ready(BS, NB, 0);
	const uint8_t param[4] = { 0, 0x02, 0, 0 };
	struct tcmd c;

	t->hold_writes = true;
	format(t, &c, 0x10, param, sizeof(param));
	t_expect_good(&c);
	t_cmd_free(&c);
	/* The device goes away with the internal command in the handler. */
	t_dev_free(t); /* ASan: nothing leaks */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_write),
		cmocka_unit_test(test_format_unmap_and_ws),
		cmocka_unit_test(test_format_immed_progress),
		cmocka_unit_test(test_format_errors),
		cmocka_unit_test(test_free_during_immed_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
