/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/unit/test_scsi_mode.c — MODE SENSE (6)/(10) and MODE SELECT
 * (6)/(10): pages, block descriptors, page controls, D_SENSE.
 */
#include "test_scsi_common.h"

#define BS 4096
#define NB 1000

static void sense6(struct tdev *t, struct tcmd *c, uint8_t flags,
		   uint8_t pcpage, uint8_t subpage, uint8_t alloc)
{
	uint8_t cdb[6] = { TCMU_SCSI_OP_MODE_SENSE_6, flags, pcpage, subpage,
			   alloc, 0 };

	t_run(t, c, cdb, 6, alloc);
}

static void sense10(struct tdev *t, struct tcmd *c, uint8_t flags,
		    uint8_t pcpage, uint8_t subpage, uint16_t alloc)
{
	uint8_t cdb[10] = { TCMU_SCSI_OP_MODE_SENSE_10, flags, pcpage, subpage };

	tcmu_put_be16(&cdb[7], alloc);
	t_run(t, c, cdb, 10, alloc);
}

/* Find page @code after the header and block descriptors. */
static const uint8_t *find_page(const struct tcmd *c, bool ten, uint8_t code)
{
	size_t len = ten ? tcmu_get_be16(&c->buf[0]) + 2u : c->buf[0] + 1u;
	size_t off = ten ? 8u + tcmu_get_be16(&c->buf[6]) : 4u + c->buf[3];

	while (off + 2 <= len) {
		if ((c->buf[off] & 0x3f) == code)
			return &c->buf[off];
		off += 2u + c->buf[off + 1];
	}
	return NULL;
}

static void test_all_pages_6(void **state)
{
	struct tdev *t = t_ready(BS, NB, T_ALL);
	const uint8_t *p;
	struct tcmd c;

	sense6(t, &c, 0, 0x3f, 0, 255);
	t_expect_good(&c);
	/* header + 8-byte block descriptor + 12 + 20 + 12 + 12 */
	assert_int_equal(c.buf[0] + 1, 4 + 8 + 56);
	assert_int_equal(c.buf[2] & 0x80, 0);    /* not write protected */
	assert_int_equal(c.buf[2] & 0x10, 0x10); /* DPOFUA */
	assert_int_equal(c.buf[3], 8);
	assert_int_equal(tcmu_get_be32(&c.buf[4]), NB);
	assert_int_equal(tcmu_get_be24(&c.buf[9]), BS);
	assert_non_null(p = find_page(&c, false, 0x01));
	assert_int_equal(p[1], 0x0a);
	assert_non_null(p = find_page(&c, false, 0x08));
	assert_int_equal(p[1], 0x12);
	assert_int_equal(p[2] & 0x04, 0x04); /* WCE: flush + write_cache */
	assert_non_null(p = find_page(&c, false, 0x0a));
	assert_int_equal(p[1], 0x0a);
	assert_int_equal(p[2] & 0x04, 0); /* D_SENSE off */
	assert_non_null(p = find_page(&c, false, 0x1c));
	assert_int_equal(c.cmd.read_len, 68);
	t_cmd_free(&c);

	/* DBD: no block descriptor. */
	sense6(t, &c, 0x08, 0x3f, 0xff, 255);
	t_expect_good(&c);
	assert_int_equal(c.buf[3], 0);
	assert_int_equal(c.buf[0] + 1, 4 + 56);
	t_cmd_free(&c);
	t_dev_free(t);
}

static void test_wce_follows_config(void **state)
{
	struct tdev *t = t_ready(BS, NB, T_ALL);
	struct tcmd c;

	t->dev.info.write_cache = false;
	t_clear_ua(t);
	sense6(t, &c, 0x08, 0x08, 0, 255);
	assert_int_equal(find_page(&c, false, 0x08)[2] & 0x04, 0);
	t_cmd_free(&c);
	t_dev_free(t);

	/* No flush callback: never WCE. */
	t = t_ready(BS, NB, 0);
	sense6(t, &c, 0x08, 0x08, 0, 255);
	assert_int_equal(find_page(&c, false, 0x08)[2] & 0x04, 0);
	t_cmd_free(&c);
	t_dev_free(t);

	t = t_ready(BS, NB, T_READ_ONLY);
	sense6(t, &c, 0x08, 0x08, 0, 255);
	assert_int_equal(c.buf[2] & 0x80, 0x80); /* WP */
	t_cmd_free(&c);
	t_dev_free(t);
}

static void test_sense10_long_lba(void **state)
{
	struct tdev *t = t_ready(BS, NB, T_ALL);
	struct tcmd c;

	sense10(t, &c, 0x10, 0x0a, 0, 512); /* LLBAA */
	t_expect_good(&c);
	assert_int_equal(c.buf[4] & 0x01, 1); /* LONGLBA */
	assert_int_equal(tcmu_get_be16(&c.buf[6]), 16);
	assert_int_equal(tcmu_get_be64(&c.buf[8]), NB);
	assert_int_equal(tcmu_get_be32(&c.buf[20]), BS);
	assert_int_equal(tcmu_get_be16(&c.buf[0]) + 2, 8 + 16 + 12);
	assert_int_equal(c.buf[24], 0x0a);
	t_cmd_free(&c);

	sense10(t, &c, 0, 0x08, 0, 512);
	assert_int_equal(tcmu_get_be16(&c.buf[6]), 8);
	assert_int_equal(c.buf[4], 0);
	assert_int_equal(tcmu_get_be32(&c.buf[8]), NB);
	assert_int_equal(tcmu_get_be16(&c.buf[0]) + 2, 8 + 8 + 20);
	t_cmd_free(&c);

	/* Truncated by the allocation length, length field intact. */
	sense10(t, &c, 0, 0x3f, 0, 10);
	t_expect_good(&c);
	assert_int_equal(tcmu_get_be16(&c.buf[0]) + 2, 8 + 8 + 56);
	t_cmd_free(&c);
	t_dev_free(t);
}

static void test_page_controls(void **state)
{
	struct tdev *t = t_ready(BS, NB, T_ALL);
	struct tcmd c;

	t->dev.scsi->d_sense = true;
	sense6(t, &c, 0x08, 0x0a, 0, 255); /* current */
	assert_int_equal(find_page(&c, false, 0x0a)[2] & 0x04, 0x04);
	t_cmd_free(&c);
	sense6(t, &c, 0x08, 0x40 | 0x0a, 0, 255); /* changeable */
	assert_int_equal(find_page(&c, false, 0x0a)[2], 0x04);
	assert_int_equal(find_page(&c, false, 0x0a)[8], 0);
	t_cmd_free(&c);
	sense6(t, &c, 0x08, 0x40 | 0x08, 0, 255); /* WCE not changeable */
	assert_int_equal(find_page(&c, false, 0x08)[2], 0);
	t_cmd_free(&c);
	sense6(t, &c, 0x08, 0x80 | 0x0a, 0, 255); /* default */
	assert_int_equal(find_page(&c, false, 0x0a)[2] & 0x04, 0);
	assert_int_equal(find_page(&c, false, 0x0a)[8], 0xff);
	t_cmd_free(&c);
	sense6(t, &c, 0x08, 0xc0 | 0x0a, 0, 255); /* saved: the defaults */
	t_expect_good(&c);
	assert_int_equal(find_page(&c, false, 0x0a)[2] & 0x04, 0);
	t_cmd_free(&c);
	t_dev_free(t);
}

static void test_bad_pages(void **state)
{
	struct tdev *t = t_ready(BS, NB, T_ALL);
	struct tcmd c;

	sense6(t, &c, 0, 0x03, 0, 255); /* format page: not ours */
	t_expect_invalid_cdb(&c, 2, 5);
	t_cmd_free(&c);
	sense6(t, &c, 0, 0x08, 0x01, 255); /* subpage */
	t_expect_invalid_cdb(&c, 3, 7);
	t_cmd_free(&c);
	sense10(t, &c, 0, 0x3f, 0x05, 255);
	t_expect_invalid_cdb(&c, 3, 7);
	t_cmd_free(&c);
	t_dev_free(t);
}

static void select6(struct tdev *t, struct tcmd *c, uint8_t flags,
		    const uint8_t *param, size_t plen)
{
	uint8_t cdb[6] = { TCMU_SCSI_OP_MODE_SELECT_6, flags, 0, 0,
			   (uint8_t)plen, 0 };

	t_cmd_init(t, c, cdb, 6, plen, 1);
	memcpy(c->buf, param, plen);
	t_submit(c);
}

/* Current control page as MODE SENSE(6) returns it, with D_SENSE @d. */
static size_t control_param(struct tdev *t, uint8_t *out, bool d)
{
	struct tcmd c;

	sense6(t, &c, 0x08, 0x0a, 0, 255);
	memset(out, 0, 4);
	memcpy(out + 4, find_page(&c, false, 0x0a), 12);
	t_cmd_free(&c);
	if (d)
		out[4 + 2] |= 0x04;
	else
		out[4 + 2] &= (uint8_t)~0x04;
	return 16;
}

static void test_select_d_sense(void **state)
{
	struct tdev *t = t_ready(BS, NB, T_ALL);
	uint8_t p[32];
	struct tcmd c;
	size_t n;

	n = control_param(t, p, true);
	select6(t, &c, 0x10, p, n);
	t_expect_good(&c);
	t_cmd_free(&c);
	assert_true(t->dev.scsi->d_sense);

	/* Errors now come in descriptor format. */
	sense6(t, &c, 0, 0x03, 0, 255);
	assert_int_equal(c.cmd.sense[0], 0x72);
	assert_int_equal(c.cmd.sense[1], TCMU_SENSE_ILLEGAL_REQUEST);
	assert_int_equal(c.cmd.sense[2], 0x24);
	assert_int_equal(c.cmd.sense[8], 0x02); /* sense key specific descriptor */
	assert_int_equal(c.cmd.sense[12] & 0xc0, 0xc0); /* SKSV, C/D */
	assert_int_equal(tcmu_get_be16(&c.cmd.sense[13]), 2);
	t_cmd_free(&c);

	n = control_param(t, p, false);
	select6(t, &c, 0x10, p, n);
	t_expect_good(&c);
	t_cmd_free(&c);
	assert_false(t->dev.scsi->d_sense);
	t_dev_free(t);
}

static void test_select_errors(void **state)
{
	struct tdev *t = t_ready(BS, NB, T_ALL);
	uint8_t p[64];
	struct tcmd c;
	size_t n;

	n = control_param(t, p, true);
	select6(t, &c, 0x00, p, n); /* PF = 0 */
	t_expect_invalid_cdb(&c, 1, 4);
	t_cmd_free(&c);
	select6(t, &c, 0x11, p, n); /* SP = 1 */
	t_expect_invalid_cdb(&c, 1, 0);
	t_cmd_free(&c);

	/* A non-changeable bit: TAS (byte 5 bit 6) of the control page. */
	p[4 + 5] ^= 0x40;
	select6(t, &c, 0x10, p, n);
	t_expect_check(&c, TCMU_SENSE_ILLEGAL_REQUEST,
		       TCMU_ASC_INVALID_FIELD_IN_PARAMETER_LIST);
	t_expect_field(&c, false, 4 + 5, 6);
	t_cmd_free(&c);
	assert_false(t->dev.scsi->d_sense); /* nothing applied */
	p[4 + 5] ^= 0x40;

	/* Wrong page length. */
	p[4 + 1] = 0x0b;
	select6(t, &c, 0x10, p, n);
	t_expect_check(&c, TCMU_SENSE_ILLEGAL_REQUEST,
		       TCMU_ASC_INVALID_FIELD_IN_PARAMETER_LIST);
	t_expect_field(&c, false, 5, 7);
	t_cmd_free(&c);
	p[4 + 1] = 0x0a;

	/* Truncated page: parameter list length error. */
	select6(t, &c, 0x10, p, n - 3);
	t_expect_check(&c, TCMU_SENSE_ILLEGAL_REQUEST,
		       TCMU_ASC_PARAMETER_LIST_LENGTH_ERROR);
	t_cmd_free(&c);

	/* Unknown page. */
	p[4] = 0x03;
	select6(t, &c, 0x10, p, n);
	t_expect_field(&c, false, 4, 5);
	t_cmd_free(&c);
	p[4] = 0x0a;

	/* Block descriptor with a different block length. */
	memmove(p + 12, p + 4, 12);
	memset(p + 4, 0, 8);
	p[3] = 8;
	tcmu_put_be24(&p[9], 512);
	select6(t, &c, 0x10, p, 24);
	t_expect_field(&c, false, 9, 7);
	t_cmd_free(&c);
	/* ... and with ours: fine. */
	tcmu_put_be24(&p[9], BS);
	select6(t, &c, 0x10, p, 24);
	t_expect_good(&c);
	t_cmd_free(&c);

	/* Parameter list shorter than its header. */
	select6(t, &c, 0x10, p, 3);
	t_expect_check(&c, TCMU_SENSE_ILLEGAL_REQUEST,
		       TCMU_ASC_PARAMETER_LIST_LENGTH_ERROR);
	t_cmd_free(&c);
	t_dev_free(t);
}

static void test_select10(void **state)
{
	struct tdev *t = t_ready(BS, NB, T_ALL);
	uint8_t p[64] = { 0 }, cdb[10] = { TCMU_SCSI_OP_MODE_SELECT_10, 0x10 };
	struct tcmd c;

	/* Header of 8, long block descriptor, caching page unchanged. */
	p[4] = 0x01;
	tcmu_put_be16(&p[6], 16);
	tcmu_put_be64(&p[8], NB);
	tcmu_put_be32(&p[20], BS);
	sense6(t, &c, 0x08, 0x08, 0, 255);
	memcpy(&p[24], find_page(&c, false, 0x08), 20);
	t_cmd_free(&c);
	tcmu_put_be16(&cdb[7], 44);
	t_cmd_init(t, &c, cdb, 10, 44, 2);
	memcpy(c.buf, p, 44);
	t_submit(&c);
	t_expect_good(&c);
	t_cmd_free(&c);

	/* Turning WCE off is refused: it follows emulate_write_cache. */
	p[24 + 2] &= (uint8_t)~0x04;
	t_cmd_init(t, &c, cdb, 10, 44, 1);
	memcpy(c.buf, p, 44);
	t_submit(&c);
	t_expect_field(&c, false, 26, 2);
	t_cmd_free(&c);
	t_dev_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_pages_6),
		cmocka_unit_test(test_wce_follows_config),
		cmocka_unit_test(test_sense10_long_lba),
		cmocka_unit_test(test_page_controls),
		cmocka_unit_test(test_bad_pages),
		cmocka_unit_test(test_select_d_sense),
		cmocka_unit_test(test_select_errors),
		cmocka_unit_test(test_select10),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
