/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/unit/test_scsi_alua.c — REPORT / SET TARGET PORT GROUPS from a
 * fake configfs with two ALUA groups.
 */
#include "test_scsi_common.h"

#define BS 512
#define NB 64

static int nr_groups;
static uint8_t tpgs = TCMU_ALUA_TPGS_IMPLICIT | TCMU_ALUA_TPGS_EXPLICIT;
static char written_path[128], written_val[16];
static int write_ret;

static int nr_members = 2;

static int fake_read_attr(const struct tcmu_device_info *info,
			  const char *path, char *buf, size_t size)
{
	if (!strcmp(path, "alua/ao/members")) {
		snprintf(buf, size, "%s", nr_members == 1 ?
			 "iscsi/iqn.x/tpgt_2/lun_0\n" :
			 "iscsi/iqn.x/tpgt_1/lun_0\niscsi/iqn.x/tpgt_2/lun_0");
		return (int)strlen(buf);
	}
	return -ENOENT;
}

/* The relative target port ids of the LUNs: 3 and 4. */
static int fake_read_port_attr(const char *member, const char *attr,
			       char *buf, size_t size)
{
	if (strcmp(attr, "statistics/scsi_port/indx"))
		return -ENOENT;
	if (!strcmp(member, "iscsi/iqn.x/tpgt_1/lun_0"))
		snprintf(buf, size, "3");
	else if (!strcmp(member, "iscsi/iqn.x/tpgt_2/lun_0"))
		snprintf(buf, size, "4");
	else
		return -ENOENT;
	return (int)strlen(buf);
}

static int fake_write_attr(const struct tcmu_device_info *info,
			   const char *path, const char *val)
{
	snprintf(written_path, sizeof(written_path), "%s", path);
	snprintf(written_val, sizeof(written_val), "%s", val);
	return write_ret;
}

static int fake_read_alua(const struct tcmu_device_info *info,
			  struct tcmu_alua_group *g, size_t max)
{
	static const struct tcmu_alua_group groups[] = {
		{ "default_tg_pt_gp", 0, 0x00, 0x8f, false, 0 },
		{ "ao", 17, 0x01, 0x0f, true, 0 },
	};
	int n = nr_groups < (int)max ? nr_groups : (int)max;

	for (int i = 0; i < n; i++) {
		g[i] = groups[i];
		g[i].tpgs = tpgs;
	}
	return n;
}

static const struct scsi_cfgfs_ops fake = {
	.read_attr = fake_read_attr,
	.write_attr = fake_write_attr,
	.read_alua = fake_read_alua,
};

static const struct scsi_cfgfs_ops fake_ports = {
	.read_attr = fake_read_attr,
	.write_attr = fake_write_attr,
	.read_alua = fake_read_alua,
	.read_port_attr = fake_read_port_attr,
};

static int setup(void **state)
{
	scsi_test_set_cfgfs(&fake);
	nr_members = 2;
	nr_groups = 2;
	tpgs = TCMU_ALUA_TPGS_IMPLICIT | TCMU_ALUA_TPGS_EXPLICIT;
	write_ret = 0;
	written_path[0] = '\0';
	return 0;
}

static int teardown(void **state)
{
	scsi_test_set_cfgfs(NULL);
	return 0;
}

static void rtpg(struct tdev *t, struct tcmd *c, uint8_t fmt, uint32_t alloc)
{
	uint8_t cdb[12] = { TCMU_SCSI_OP_MAINTENANCE_IN,
			    (uint8_t)(fmt << 5 | TCMU_SCSI_MI_REPORT_TARGET_PGS) };

	tcmu_put_be32(&cdb[6], alloc);
	t_run(t, c, cdb, 12, alloc);
}

static void test_report(void **state)
{
	struct tdev *t = t_ready(BS, NB, 0);
	struct tcmd c;

	rtpg(t, &c, 0, 256);
	t_expect_good(&c);
	assert_int_equal(tcmu_get_be32(&c.buf[0]), 16);
	assert_int_equal(c.buf[4], 0x00);        /* not preferred, A/O */
	assert_int_equal(c.buf[5], 0x8f);
	assert_int_equal(tcmu_get_be16(&c.buf[6]), 0);
	assert_int_equal(c.buf[12], 0x80 | 0x01); /* PREF, A/NO */
	assert_int_equal(tcmu_get_be16(&c.buf[14]), 17);
	assert_int_equal(c.cmd.read_len, 20);
	t_cmd_free(&c);

	rtpg(t, &c, 1, 256); /* extended header */
	t_expect_good(&c);
	assert_int_equal(tcmu_get_be32(&c.buf[0]), 4 + 16);
	assert_int_equal(c.buf[4], 0x10);
	assert_int_equal(tcmu_get_be16(&c.buf[18]), 17); /* second group id */
	t_cmd_free(&c);

	rtpg(t, &c, 2, 256);
	t_expect_invalid_cdb(&c, 1, 7);
	t_cmd_free(&c);

	rtpg(t, &c, 0, 6); /* truncated */
	t_expect_good(&c);
	assert_int_equal(tcmu_get_be32(&c.buf[0]), 16);
	t_cmd_free(&c);
	t_dev_free(t);
}

/* The relative target port id in VPD page 83h (0: none there). */
static uint16_t vpd83_relative_port(struct tdev *t)
{
	uint8_t cdb[6] = { TCMU_SCSI_OP_INQUIRY, 0x01, 0x83, 0x01, 0x00, 0 };
	uint16_t port = 0;
	struct tcmd c;

	t_run(t, &c, cdb, 6, 256);
	t_expect_good(&c);
	for (size_t off = 4; off + 4 <= 4u + tcmu_get_be16(&c.buf[2]);
	     off += 4u + c.buf[off + 3])
		if ((c.buf[off + 1] & 0x3f) == 0x14) /* target port, relative */
			port = tcmu_get_be16(&c.buf[off + 6]);
	t_cmd_free(&c);
	return port;
}

/*
 * The target ports of a group are its members' relative port ids (read
 * from each LUN's statistics); VPD 83h names the LUN's port when it has
 * only one.
 */
static void test_report_ports(void **state)
{
	struct tdev *t;
	struct tcmd c;

	scsi_test_set_cfgfs(&fake_ports);
	t = t_ready(BS, NB, 0);
	rtpg(t, &c, 0, 256);
	t_expect_good(&c);
	assert_int_equal(tcmu_get_be32(&c.buf[0]), 8 + 8 + 2 * 4);
	assert_int_equal(c.buf[11], 0);             /* default group: no ports */
	assert_int_equal(tcmu_get_be16(&c.buf[14]), 17);
	assert_int_equal(c.buf[19], 2);             /* TARGET PORT COUNT */
	assert_int_equal(tcmu_get_be16(&c.buf[22]), 3);
	assert_int_equal(tcmu_get_be16(&c.buf[26]), 4);
	assert_int_equal(c.cmd.read_len, 28);
	t_cmd_free(&c);
	assert_int_equal(vpd83_relative_port(t), 1); /* two ports: unknown */

	nr_members = 1;
	rtpg(t, &c, 1, 256);
	t_expect_good(&c);
	assert_int_equal(tcmu_get_be32(&c.buf[0]), 4 + 8 + 8 + 4);
	assert_int_equal(c.buf[23], 1);
	assert_int_equal(tcmu_get_be16(&c.buf[26]), 4);
	t_cmd_free(&c);
	assert_int_equal(vpd83_relative_port(t), 4);

	/* Without the statistics the ports stay unknown. */
	scsi_test_set_cfgfs(&fake);
	rtpg(t, &c, 0, 256);
	assert_int_equal(tcmu_get_be32(&c.buf[0]), 16);
	assert_int_equal(c.buf[19], 0);
	t_cmd_free(&c);
	assert_int_equal(vpd83_relative_port(t), 1);
	t_dev_free(t);
}

static void test_no_groups(void **state)
{
	struct tdev *t = t_ready(BS, NB, 0);
	uint8_t inq[6] = { TCMU_SCSI_OP_INQUIRY, 0, 0, 0, 36, 0 };
	struct tcmd c;

	nr_groups = 0;
	rtpg(t, &c, 0, 256);
	t_expect_check(&c, TCMU_SENSE_ILLEGAL_REQUEST,
		       TCMU_ASC_INVALID_COMMAND_OPERATION_CODE);
	t_cmd_free(&c);
	t_run(t, &c, inq, 6, 36);
	assert_int_equal(c.buf[5] & 0x30, 0);
	t_cmd_free(&c);

	nr_groups = 2;
	tpgs = TCMU_ALUA_TPGS_IMPLICIT;
	t_run(t, &c, inq, 6, 36);
	assert_int_equal(c.buf[5] & 0x30, 0x10);
	t_cmd_free(&c);
	t_dev_free(t);
}

static void stpg(struct tdev *t, struct tcmd *c, const uint8_t (*d)[2],
		 size_t nd)
{
	uint8_t cdb[12] = { TCMU_SCSI_OP_MAINTENANCE_OUT,
			    TCMU_SCSI_MO_SET_TARGET_PGS };
	size_t plen = 4 + 4 * nd;

	tcmu_put_be32(&cdb[6], (uint32_t)plen);
	t_cmd_init(t, c, cdb, 12, plen, 1);
	for (size_t i = 0; i < nd; i++) {
		c->buf[4 + 4 * i] = d[i][0];
		tcmu_put_be16(&c->buf[4 + 4 * i + 2], d[i][1]);
	}
	t_submit(c);
}

static void test_set(void **state)
{
	struct tdev *t = t_ready(BS, NB, 0);
	struct tcmd c;
	const uint8_t ok[][2] = { { 0x02, 17 } };  /* standby */
	const uint8_t bad_grp[][2] = { { 0x00, 0 }, { 0x00, 99 } };
	const uint8_t bad_state[][2] = { { 0x0e, 17 } }; /* offline */

	stpg(t, &c, ok, 1);
	t_expect_good(&c);
	assert_string_equal(written_path, "alua/ao/alua_access_state");
	assert_string_equal(written_val, "2");
	t_cmd_free(&c);

	written_path[0] = '\0';
	stpg(t, &c, bad_grp, 2);
	t_expect_check(&c, TCMU_SENSE_ILLEGAL_REQUEST,
		       TCMU_ASC_INVALID_FIELD_IN_PARAMETER_LIST);
	t_expect_field(&c, false, 10, 7);
	assert_string_equal(written_path, ""); /* nothing applied */
	t_cmd_free(&c);

	stpg(t, &c, bad_state, 1);
	t_expect_field(&c, false, 4, 3);
	t_cmd_free(&c);

	write_ret = -EINVAL;
	stpg(t, &c, ok, 1);
	t_expect_check(&c, TCMU_SENSE_HARDWARE_ERROR, 0x670a);
	t_cmd_free(&c);

	/* Implicit-only groups cannot be set. */
	write_ret = 0;
	tpgs = TCMU_ALUA_TPGS_IMPLICIT;
	stpg(t, &c, ok, 1);
	t_expect_check(&c, TCMU_SENSE_ILLEGAL_REQUEST,
		       TCMU_ASC_INVALID_FIELD_IN_PARAMETER_LIST);
	t_cmd_free(&c);
	t_dev_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_report, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_ports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_groups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
