/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/unit/test_scsi_spc.c — TEST UNIT READY, REQUEST SENSE, unit
 * attentions, READ CAPACITY, START STOP UNIT, PREVENT ALLOW MEDIUM
 * REMOVAL, REPORT SUPPORTED OPERATION CODES, unknown opcodes and the sense
 * formats.
 */
#include "test_scsi_common.h"

#define BS 512
#define NB 4096

static void tur(struct tdev *t, struct tcmd *c)
{
	uint8_t cdb[6] = { 0 };

	t_run(t, c, cdb, 6, 0);
}

static void test_power_on_ua_once(void **state)
{
	struct tdev *t = t_dev_new(BS, NB, 0);
	uint8_t inq[6] = { TCMU_SCSI_OP_INQUIRY, 0, 0, 0, 36, 0 };
	struct tcmd c;

	/* INQUIRY neither reports nor clears it. */
	t_run(t, &c, inq, 6, 36);
	t_expect_good(&c);
	t_cmd_free(&c);
	tur(t, &c);
	t_expect_check(&c, TCMU_SENSE_UNIT_ATTENTION, TCMU_ASC_POWER_ON_RESET);
	tur(t, &c);
	t_expect_good(&c);
	t_dev_free(t);
}

static void test_capacity_changed_ua(void **state)
{
	struct tdev *t = t_ready(BS, NB, 0);
	uint8_t rc[10] = { TCMU_SCSI_OP_READ_CAPACITY_10 };
	uint8_t rd[10];
	struct tcmd c;

	scsi_capacity_changed(&t->dev);
	t->dev.info.size /= 2;
	/* Any command but INQUIRY / REQUEST SENSE gets it, once. */
	t_cdb_rw10(rd, TCMU_SCSI_OP_READ_10, 0, 1, 0);
	t_run(t, &c, rd, 10, BS);
	t_expect_check(&c, TCMU_SENSE_UNIT_ATTENTION,
		       TCMU_ASC_CAPACITY_DATA_HAS_CHANGED);
	assert_int_equal(t->nr_read, 0);
	t_cmd_free(&c);
	t_run(t, &c, rc, 10, 8);
	t_expect_good(&c);
	assert_int_equal(tcmu_get_be32(&c.buf[0]), NB / 2 - 1);
	t_cmd_free(&c);
	t_dev_free(t);
}

static void test_mode_changed_ua(void **state)
{
	struct tdev *t = t_ready(BS, NB, T_HAS_FLUSH);
	struct tcmd c;

	t->dev.info.write_cache = false; /* reconfig */
	tur(t, &c);
	t_expect_check(&c, TCMU_SENSE_UNIT_ATTENTION,
		       TCMU_ASC_MODE_PARAMETERS_CHANGED);
	tur(t, &c);
	t_expect_good(&c);
	t_dev_free(t);
}

static void test_request_sense(void **state)
{
	struct tdev *t = t_dev_new(BS, NB, 0);
	uint8_t rs[6] = { TCMU_SCSI_OP_REQUEST_SENSE, 0, 0, 0, 252, 0 };
	struct tcmd c;

	/* The pending unit attention, as parameter data; GOOD status. */
	t_run(t, &c, rs, 6, 252);
	t_expect_good(&c);
	assert_int_equal(c.buf[0], 0x70);
	assert_int_equal(c.buf[2], TCMU_SENSE_UNIT_ATTENTION);
	assert_int_equal(c.buf[12], 0x29);
	assert_int_equal(c.cmd.read_len, 18);
	t_cmd_free(&c);
	/* Cleared: TUR is GOOD and REQUEST SENSE says NO SENSE. */
	tur(t, &c);
	t_expect_good(&c);
	t_run(t, &c, rs, 6, 252);
	assert_int_equal(c.buf[2], TCMU_SENSE_NO_SENSE);
	assert_int_equal(c.buf[12], 0);
	t_cmd_free(&c);

	/* DESC: descriptor format, whatever D_SENSE says. */
	rs[1] = 0x01;
	scsi_capacity_changed(&t->dev);
	t_run(t, &c, rs, 6, 252);
	assert_int_equal(c.buf[0], 0x72);
	assert_int_equal(c.buf[1], TCMU_SENSE_UNIT_ATTENTION);
	assert_int_equal(c.buf[2], 0x2a);
	assert_int_equal(c.buf[3], 0x09);
	assert_int_equal(c.cmd.read_len, 8);
	t_cmd_free(&c);

	/* Allocation length 4: truncated. */
	rs[1] = 0;
	rs[4] = 4;
	t_run(t, &c, rs, 6, 4);
	t_expect_good(&c);
	assert_int_equal(c.buf[0], 0x70);
	t_cmd_free(&c);
	t_dev_free(t);
}

static void test_read_capacity(void **state)
{
	struct tdev *t = t_ready(BS, NB, T_ALL);
	uint8_t rc10[10] = { TCMU_SCSI_OP_READ_CAPACITY_10 };
	uint8_t rc16[16] = { TCMU_SCSI_OP_SERVICE_ACTION_IN_16,
			     TCMU_SCSI_SAI_READ_CAPACITY_16 };
	struct tcmd c;

	t_run(t, &c, rc10, 10, 8);
	t_expect_good(&c);
	assert_int_equal(tcmu_get_be32(&c.buf[0]), NB - 1);
	assert_int_equal(tcmu_get_be32(&c.buf[4]), BS);
	t_cmd_free(&c);

	rc10[5] = 1; /* LBA without PMI */
	t_run(t, &c, rc10, 10, 8);
	t_expect_invalid_cdb(&c, 2, 7);
	t_cmd_free(&c);

	tcmu_put_be32(&rc16[10], 32);
	t_run(t, &c, rc16, 16, 32);
	t_expect_good(&c);
	assert_int_equal(tcmu_get_be64(&c.buf[0]), NB - 1);
	assert_int_equal(tcmu_get_be32(&c.buf[8]), BS);
	assert_int_equal(c.buf[14] & 0xc0, 0xc0); /* LBPME LBPRZ */
	t_cmd_free(&c);

	/* Allocation length 12: truncated. */
	tcmu_put_be32(&rc16[10], 12);
	t_run(t, &c, rc16, 16, 12);
	t_expect_good(&c);
	assert_int_equal(tcmu_get_be32(&c.buf[8]), BS);
	t_cmd_free(&c);
	t_dev_free(t);

	/* Without unmap: no LBPME; unmap without zeroes: no LBPRZ. */
	t = t_ready(BS, NB, T_HAS_UNMAP);
	tcmu_put_be32(&rc16[10], 32);
	t_run(t, &c, rc16, 16, 32);
	assert_int_equal(c.buf[14] & 0xc0, 0x80);
	t_cmd_free(&c);
	t_dev_free(t);
	t = t_ready(BS, NB, 0);
	t_run(t, &c, rc16, 16, 32);
	assert_int_equal(c.buf[14] & 0xc0, 0);
	t_cmd_free(&c);

	/* More than 2^32 blocks: READ CAPACITY(10) says FFFFFFFFh. */
	t->dev.info.size = (1ull << 33) * BS;
	rc10[5] = 0;
	t_run(t, &c, rc10, 10, 8);
	t_expect_good(&c);
	assert_int_equal(tcmu_get_be32(&c.buf[0]), 0xffffffffu);
	t_cmd_free(&c);
	t->dev.info.size = NB * BS;
	t_dev_free(t);
}

static void test_start_stop(void **state)
{
	struct tdev *t = t_ready(BS, NB, T_ALL);
	uint8_t cdb[6] = { TCMU_SCSI_OP_START_STOP_UNIT, 0, 0, 0, 0x01, 0 };
	struct tcmd c;

	t_run(t, &c, cdb, 6, 0); /* START */
	t_expect_good(&c);
	assert_int_equal(t->nr_flush, 0);
	cdb[4] = 0x00; /* STOP: flushes the cache */
	t_run(t, &c, cdb, 6, 0);
	t_expect_good(&c);
	assert_int_equal(t->nr_flush, 1);
	cdb[4] = 0x04; /* STOP, NO_FLUSH */
	t_run(t, &c, cdb, 6, 0);
	t_expect_good(&c);
	assert_int_equal(t->nr_flush, 1);
	cdb[4] = 0x02; /* LOEJ: not removable */
	t_run(t, &c, cdb, 6, 0);
	t_expect_invalid_cdb(&c, 4, 1);
	cdb[4] = 0x30; /* power condition */
	t_run(t, &c, cdb, 6, 0);
	t_expect_invalid_cdb(&c, 4, 7);
	t_dev_free(t);
}

static void test_prevent_allow(void **state)
{
	struct tdev *t = t_ready(BS, NB, 0);
	uint8_t cdb[6] = { TCMU_SCSI_OP_PREVENT_ALLOW_MEDIUM_REMOVAL, 0, 0, 0,
			   0x01, 0 };
	struct tcmd c;

	t_run(t, &c, cdb, 6, 0);
	t_expect_good(&c);
	cdb[4] = 0;
	t_run(t, &c, cdb, 6, 0);
	t_expect_good(&c);
	cdb[4] = 0x02;
	t_run(t, &c, cdb, 6, 0);
	t_expect_invalid_cdb(&c, 4, 1);
	t_dev_free(t);
}

static void test_unknown_opcodes(void **state)
{
	struct tdev *t = t_ready(BS, NB, 0);
	static const uint8_t ops[] = { 0x01, 0x07, 0x3b, 0x3c, 0x5e, 0xc0, 0xff };
	uint8_t cdb[16] = { 0 };
	struct tcmd c;

	for (size_t i = 0; i < sizeof(ops); i++) {
		cdb[0] = ops[i];
		t_run(t, &c, cdb, 16, 0);
		t_expect_check(&c, TCMU_SENSE_ILLEGAL_REQUEST,
			       TCMU_ASC_INVALID_COMMAND_OPERATION_CODE);
	}
	/* Unknown service action of a known opcode. */
	cdb[0] = TCMU_SCSI_OP_SERVICE_ACTION_IN_16;
	cdb[1] = 0x13;
	t_run(t, &c, cdb, 16, 0);
	t_expect_check(&c, TCMU_SENSE_ILLEGAL_REQUEST,
		       TCMU_ASC_INVALID_COMMAND_OPERATION_CODE);
	/* UNMAP without the handler's unmap(). */
	memset(cdb, 0, 16);
	cdb[0] = TCMU_SCSI_OP_UNMAP;
	t_run(t, &c, cdb, 10, 0);
	t_expect_check(&c, TCMU_SENSE_ILLEGAL_REQUEST,
		       TCMU_ASC_INVALID_COMMAND_OPERATION_CODE);
	t_dev_free(t);
}

static void rsoc(struct tdev *t, struct tcmd *c, uint8_t opts, uint8_t op,
		 uint16_t sa, uint32_t alloc)
{
	uint8_t cdb[12] = { TCMU_SCSI_OP_MAINTENANCE_IN,
			    TCMU_SCSI_MI_REPORT_SUPPORTED_OPCODES, opts, op };

	tcmu_put_be16(&cdb[4], sa);
	tcmu_put_be32(&cdb[6], alloc);
	t_run(t, c, cdb, 12, alloc);
}

/* Find @op/@sa in an "all commands" answer; NULL if absent. */
static const uint8_t *rsoc_find(const struct tcmd *c, uint8_t op, int sa,
				size_t dlen)
{
	size_t len = tcmu_get_be32(&c->buf[0]) + 4;

	for (size_t off = 4; off + 8 <= len; off += dlen) {
		const uint8_t *d = &c->buf[off];

		if (d[0] == op && (sa < 0 || ((d[5] & 1) &&
					      tcmu_get_be16(&d[2]) == sa)))
			return d;
	}
	return NULL;
}

static void test_report_opcodes_all(void **state)
{
	struct tdev *t = t_ready(BS, NB, 0);
	const uint8_t *d;
	struct tcmd c;

	rsoc(t, &c, 0, 0, 0, 4096);
	t_expect_good(&c);
	assert_int_equal(tcmu_get_be32(&c.buf[0]) % 8, 0);
	assert_non_null(d = rsoc_find(&c, TCMU_SCSI_OP_READ_16, -1, 8));
	assert_int_equal(tcmu_get_be16(&d[6]), 16);
	assert_int_equal(d[5] & 0x01, 0);
	assert_non_null(d = rsoc_find(&c, TCMU_SCSI_OP_SERVICE_ACTION_IN_16,
				      TCMU_SCSI_SAI_READ_CAPACITY_16, 8));
	assert_int_equal(d[5] & 0x01, 1); /* SERVACTV */
	assert_non_null(rsoc_find(&c, TCMU_SCSI_OP_COMPARE_AND_WRITE, -1, 8));
	assert_non_null(rsoc_find(&c, TCMU_SCSI_OP_WRITE_SAME_16, -1, 8));
	/* Not offered without the handler's unmap(), nor without ALUA. */
	assert_null(rsoc_find(&c, TCMU_SCSI_OP_UNMAP, -1, 8));
	assert_null(rsoc_find(&c, TCMU_SCSI_OP_MAINTENANCE_IN,
			      TCMU_SCSI_MI_REPORT_TARGET_PGS, 8));
	assert_null(rsoc_find(&c, 0x01, -1, 8));
	t_cmd_free(&c);

	/* RCTD: 20-byte descriptors with timeouts. */
	rsoc(t, &c, 0x80, 0, 0, 8192);
	t_expect_good(&c);
	assert_int_equal(tcmu_get_be32(&c.buf[0]) % 20, 0);
	assert_non_null(d = rsoc_find(&c, TCMU_SCSI_OP_WRITE_10, -1, 20));
	assert_int_equal(d[5] & 0x02, 0x02); /* CTDP */
	assert_int_equal(tcmu_get_be16(&d[8]), 0x0a);
	assert_true(tcmu_get_be32(&d[16]) > 0);
	t_cmd_free(&c);
	t_dev_free(t);

	t = t_ready(BS, NB, T_HAS_UNMAP);
	rsoc(t, &c, 0, 0, 0, 4096);
	assert_non_null(rsoc_find(&c, TCMU_SCSI_OP_UNMAP, -1, 8));
	t_cmd_free(&c);
	t_dev_free(t);
}

static void test_report_opcodes_one(void **state)
{
	struct tdev *t = t_ready(BS, NB, 0);
	struct tcmd c;

	rsoc(t, &c, 1, TCMU_SCSI_OP_WRITE_10, 0, 64);
	t_expect_good(&c);
	assert_int_equal(c.buf[1] & 0x07, 0x03); /* supported */
	assert_int_equal(tcmu_get_be16(&c.buf[2]), 10);
	assert_int_equal(c.buf[4], TCMU_SCSI_OP_WRITE_10);
	assert_int_equal(c.buf[5], 0xf8); /* WRPROTECT DPO FUA */
	assert_int_equal(c.cmd.read_len, 14);
	t_cmd_free(&c);

	rsoc(t, &c, 0x82, TCMU_SCSI_OP_SERVICE_ACTION_IN_16,
	     TCMU_SCSI_SAI_READ_CAPACITY_16, 64);
	t_expect_good(&c);
	assert_int_equal(c.buf[1], 0x83); /* CTDP, supported */
	assert_int_equal(c.buf[4], 0x9e);
	assert_int_equal(c.buf[5], TCMU_SCSI_SAI_READ_CAPACITY_16);
	assert_int_equal(tcmu_get_be16(&c.buf[20]), 0x0a); /* timeouts */
	t_cmd_free(&c);

	rsoc(t, &c, 1, 0x01, 0, 64); /* unsupported opcode */
	t_expect_good(&c);
	assert_int_equal(c.buf[1] & 0x07, 0x01);
	t_cmd_free(&c);

	/* Option 1 on an opcode with service actions, 2 on one without. */
	rsoc(t, &c, 1, TCMU_SCSI_OP_SERVICE_ACTION_IN_16, 0, 64);
	t_expect_invalid_cdb(&c, 2, 2);
	t_cmd_free(&c);
	rsoc(t, &c, 2, TCMU_SCSI_OP_READ_10, 0, 64);
	t_expect_invalid_cdb(&c, 2, 2);
	t_cmd_free(&c);
	rsoc(t, &c, 5, 0, 0, 64);
	t_expect_invalid_cdb(&c, 2, 2);
	t_cmd_free(&c);
	t_dev_free(t);
}

static void test_descriptor_sense_info(void **state)
{
	uint8_t b[TCMU_SENSE_BUFFERSIZE];
	struct scsi_sense s = {
		.key = TCMU_SENSE_MISCOMPARE,
		.asc = TCMU_ASC_MISCOMPARE_DURING_VERIFY,
		.info_valid = true,
		.info = 0x123456789ull,
	};
	size_t n;

	n = scsi_build_sense(b, sizeof(b), true, &s);
	assert_int_equal(n, 8 + 12);
	assert_int_equal(b[0], 0x72);
	assert_int_equal(b[7], 12);
	assert_int_equal(b[8], 0x00);  /* information descriptor */
	assert_int_equal(b[9], 0x0a);
	assert_int_equal(b[10], 0x80); /* VALID */
	assert_int_equal(tcmu_get_be64(&b[12]), 0x123456789ull);

	/* Fixed format cannot hold it: VALID stays clear. */
	n = scsi_build_sense(b, sizeof(b), false, &s);
	assert_int_equal(n, 18);
	assert_int_equal(b[0], 0x70);
	s.info = 77;
	scsi_build_sense(b, sizeof(b), false, &s);
	assert_int_equal(b[0], 0xf0);
	assert_int_equal(tcmu_get_be32(&b[3]), 77);
}

/* The dispatch index needs the table sorted by opcode. */
static void test_table_sorted(void **state)
{
	for (size_t i = 1; i < scsi_ops_count; i++) {
		assert_true(scsi_ops[i - 1].opcode <= scsi_ops[i].opcode);
		assert_int_equal(scsi_ops[i].usage[0], scsi_ops[i].opcode);
		assert_true(scsi_ops[i].cdb_len <= 16);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_power_on_ua_once),
		cmocka_unit_test(test_capacity_changed_ua),
		cmocka_unit_test(test_mode_changed_ua),
		cmocka_unit_test(test_request_sense),
		cmocka_unit_test(test_read_capacity),
		cmocka_unit_test(test_start_stop),
		cmocka_unit_test(test_prevent_allow),
		cmocka_unit_test(test_unknown_opcodes),
		cmocka_unit_test(test_report_opcodes_all),
		cmocka_unit_test(test_report_opcodes_one),
		cmocka_unit_test(test_descriptor_sense_info),
		cmocka_unit_test(test_table_sorted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
