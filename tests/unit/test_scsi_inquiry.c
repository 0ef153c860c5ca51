/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/unit/test_scsi_inquiry.c — standard INQUIRY data and the VPD
 * pages, with configfs replaced by a table (scsi_test_set_cfgfs).
 */
#include "test_scsi_common.h"

#define BS 512
#define NB 2048

/* A fake configfs: attribute -> value. */
static const char *cfg_serial = "T10 VPD Unit Serial Number: 1a2b3c4d-5e6f-7081-92a3-b4c5d6e7f809";
static const char *cfg_vendor = "ACME";
static const char *cfg_product = "Disk 9000";
static const char *cfg_revision = "4.2";
static int cfg_groups; /* ALUA groups to report */
static char cfg_written[128], cfg_written_val[16];

static int fake_read_attr(const struct tcmu_device_info *info,
			  const char *path, char *buf, size_t size)
{
	const char *v = NULL;

	if (!strcmp(path, "wwn/vpd_unit_serial"))
		v = cfg_serial;
	else if (!strcmp(path, "wwn/vendor_id"))
		v = cfg_vendor;
	else if (!strcmp(path, "wwn/product_id"))
		v = cfg_product;
	else if (!strcmp(path, "wwn/revision"))
		v = cfg_revision;
	else if (!strcmp(path, "alua/ao/members"))
		v = "loopback/naa.5001405aaaaaaaa/tpgt_1/lun_0\n";
	else if (!strncmp(path, "alua/", 5))
		v = "";
	if (!v)
		return -ENOENT;
	snprintf(buf, size, "%s", v);
	return (int)strlen(buf);
}

static int fake_write_attr(const struct tcmu_device_info *info,
			   const char *path, const char *val)
{
	snprintf(cfg_written, sizeof(cfg_written), "%s", path);
	snprintf(cfg_written_val, sizeof(cfg_written_val), "%s", val);
	return 0;
}

static int fake_read_alua(const struct tcmu_device_info *info,
			  struct tcmu_alua_group *g, size_t max)
{
	int n = cfg_groups < (int)max ? cfg_groups : (int)max;

	for (int i = 0; i < n; i++) {
		memset(&g[i], 0, sizeof(g[i]));
		snprintf(g[i].name, sizeof(g[i].name), "%s",
			 i == 0 ? "default_tg_pt_gp" : "ao");
		g[i].id = (uint16_t)(i == 0 ? 0 : 7);
		g[i].state = (uint8_t)(i == 0 ? 2 : 0);
		g[i].supported = 0x0f | 0x80;
		g[i].preferred = i == 1;
		g[i].tpgs = TCMU_ALUA_TPGS_IMPLICIT | TCMU_ALUA_TPGS_EXPLICIT;
	}
	return n;
}

static const struct scsi_cfgfs_ops fake_cfgfs = {
	.read_attr = fake_read_attr,
	.write_attr = fake_write_attr,
	.read_alua = fake_read_alua,
};

static int setup(void **state)
{
	scsi_test_set_cfgfs(&fake_cfgfs);
	cfg_groups = 0;
	return 0;
}

static int teardown(void **state)
{
	scsi_test_set_cfgfs(NULL);
	return 0;
}

static void inquiry(struct tdev *t, struct tcmd *c, bool evpd, uint8_t page,
		    uint16_t alloc)
{
	uint8_t cdb[6] = { TCMU_SCSI_OP_INQUIRY, evpd, page, 0, 0, 0 };

	tcmu_put_be16(&cdb[3], alloc);
	t_run(t, c, cdb, 6, alloc);
}

static void test_standard(void **state)
{
	struct tdev *t = t_ready(BS, NB, T_ALL);
	struct tcmd c;

	inquiry(t, &c, false, 0, 255);
	t_expect_good(&c);
	assert_int_equal(c.buf[0], 0x00); /* connected disk */
	assert_int_equal(c.buf[1], 0x00); /* not removable */
	assert_int_equal(c.buf[2], 0x06); /* SPC-4 */
	assert_int_equal(c.buf[3] & 0x0f, 2);
	assert_int_equal(c.buf[4] + 5, 96);
	assert_int_equal(c.buf[5] & 0x08, 0x08); /* 3PC */
	assert_int_equal(c.buf[5] & 0x30, 0);    /* no ALUA groups */
	assert_int_equal(c.buf[7] & 0x02, 0x02); /* CMDQUE */
	assert_memory_equal(&c.buf[8], "ACME    ", 8);
	assert_memory_equal(&c.buf[16], "Disk 9000       ", 16);
	assert_memory_equal(&c.buf[32], "4.2 ", 4);
	assert_int_equal(tcmu_get_be16(&c.buf[58]), 0x00a0); /* SAM-5 */
	assert_int_equal(tcmu_get_be16(&c.buf[60]), 0x0460); /* SPC-4 */
	assert_int_equal(tcmu_get_be16(&c.buf[62]), 0x04c0); /* SBC-3 */
	assert_true(c.cmd.read_len_set);
	assert_int_equal(c.cmd.read_len, 96);
	t_cmd_free(&c);

	/* Short allocation length: truncated, never overrun. */
	inquiry(t, &c, false, 0, 5);
	t_expect_good(&c);
	assert_int_equal(c.buf[4], 91); /* not altered by truncation */
	assert_false(c.cmd.read_len_set);
	t_cmd_free(&c);

	/* TPGS from the ALUA groups. */
	cfg_groups = 2;
	inquiry(t, &c, false, 0, 36);
	assert_int_equal(c.buf[5] & 0x30, 0x30);
	t_cmd_free(&c);
	t_dev_free(t);
}

static void test_defaults_without_configfs(void **state)
{
	struct tdev *t;
	struct tcmd c;

	scsi_test_set_cfgfs(NULL); /* info.hba is empty: no configfs */
	t = t_ready(BS, NB, 0);
	inquiry(t, &c, false, 0, 36);
	t_expect_good(&c);
	assert_memory_equal(&c.buf[8], "LIO-ORG ", 8);
	assert_memory_equal(&c.buf[16], "TCMU device     ", 16);
	t_cmd_free(&c);
	inquiry(t, &c, true, 0x80, 64);
	t_expect_good(&c);
	assert_int_equal(c.buf[3], 0); /* no serial yet */
	t_cmd_free(&c);
	t_dev_free(t);
}

static void test_bad_fields(void **state)
{
	struct tdev *t = t_ready(BS, NB, 0);
	struct tcmd c;
	uint8_t cdb[6] = { TCMU_SCSI_OP_INQUIRY, 0, 0x80, 0, 64, 0 };

	t_run(t, &c, cdb, 6, 64); /* page code without EVPD */
	t_expect_invalid_cdb(&c, 2, 7);
	t_cmd_free(&c);
	inquiry(t, &c, true, 0x99, 64); /* unknown page */
	t_expect_invalid_cdb(&c, 2, 7);
	t_cmd_free(&c);
	cdb[1] = 0x02; /* CMDDT */
	cdb[2] = 0;
	t_run(t, &c, cdb, 6, 64);
	t_expect_invalid_cdb(&c, 1, 1);
	t_cmd_free(&c);
	t_dev_free(t);
}

static void test_vpd_00_80(void **state)
{
	struct tdev *t = t_ready(BS, NB, 0);
	const uint8_t pages[] = { 0x00, 0x80, 0x83, 0x86, 0xb0, 0xb1, 0xb2 };
	struct tcmd c;

	inquiry(t, &c, true, 0x00, 255);
	t_expect_good(&c);
	assert_int_equal(c.buf[1], 0x00);
	assert_int_equal(tcmu_get_be16(&c.buf[2]), sizeof(pages));
	assert_memory_equal(&c.buf[4], pages, sizeof(pages));
	t_cmd_free(&c);

	inquiry(t, &c, true, 0x80, 255);
	t_expect_good(&c);
	assert_int_equal(c.buf[1], 0x80);
	assert_int_equal(c.buf[3], strlen("1a2b3c4d-5e6f-7081-92a3-b4c5d6e7f809") + 1);
	assert_string_equal((char *)&c.buf[4],
			    "1a2b3c4d-5e6f-7081-92a3-b4c5d6e7f809");
	t_cmd_free(&c);
	t_dev_free(t);
}

/* Find designator @type with @assoc in a VPD 83h page; NULL if absent. */
static const uint8_t *find_desig(const uint8_t *p, int type, int assoc)
{
	size_t len = tcmu_get_be16(&p[2]) + 4;

	for (size_t off = 4; off + 4 <= len; off += 4 + p[off + 3]) {
		if ((p[off + 1] & 0x0f) == type &&
		    ((p[off + 1] >> 4) & 0x3) == assoc)
			return &p[off];
	}
	return NULL;
}

static void test_vpd_83(void **state)
{
	struct tdev *t = t_ready(BS, NB, 0);
	static const uint8_t naa[16] = { 0x60, 0x01, 0x40, 0x51, 0xa2, 0xb3,
					 0xc4, 0xd5, 0xe6, 0xf7, 0x08, 0x19,
					 0x2a, 0x3b, 0x4c, 0x5d };
	const uint8_t *d;
	struct tcmd c;

	cfg_groups = 2;
	inquiry(t, &c, true, 0x83, 1024);
	t_expect_good(&c);
	assert_int_equal(c.buf[1], 0x83);

	d = find_desig(c.buf, 3, 0); /* NAA, logical unit */
	assert_non_null(d);
	assert_int_equal(d[0] & 0x0f, 1); /* binary */
	assert_int_equal(d[3], 16);
	assert_memory_equal(&d[4], naa, 16);

	d = find_desig(c.buf, 1, 0); /* T10 vendor id */
	assert_non_null(d);
	assert_int_equal(d[0] & 0x0f, 2); /* ASCII */
	assert_memory_equal(&d[4], "ACME    Disk 9000:1a2b3c4d", 26);

	d = find_desig(c.buf, 4, 1); /* relative target port */
	assert_non_null(d);
	assert_int_equal(tcmu_get_be16(&d[6]), 1);

	d = find_desig(c.buf, 5, 1); /* target port group: the one with members */
	assert_non_null(d);
	assert_int_equal(tcmu_get_be16(&d[6]), 7);

	d = find_desig(c.buf, 8, 0); /* SCSI name string */
	assert_non_null(d);
	assert_int_equal(d[0] & 0x0f, 3); /* UTF-8 */
	assert_int_equal(d[3] % 4, 0);
	assert_string_equal((char *)&d[4], "naa.60014051A2B3C4D5E6F708192A3B4C5D");
	t_cmd_free(&c);

	/* Without ALUA groups there is no target port group designator. */
	cfg_groups = 0;
	inquiry(t, &c, true, 0x83, 1024);
	assert_null(find_desig(c.buf, 5, 1));
	assert_non_null(find_desig(c.buf, 3, 0));
	t_cmd_free(&c);
	t_dev_free(t);
}

static void test_vpd_86_b1(void **state)
{
	struct tdev *t = t_ready(BS, NB, T_ALL | T_NONROT);
	struct tcmd c;

	inquiry(t, &c, true, 0x86, 64);
	t_expect_good(&c);
	assert_int_equal(tcmu_get_be16(&c.buf[2]), 0x3c);
	assert_int_equal(c.buf[5], 0x07);
	assert_int_equal(c.buf[6] & 0x01, 0x01); /* V_SUP */
	t_cmd_free(&c);

	inquiry(t, &c, true, 0xb1, 64);
	t_expect_good(&c);
	assert_int_equal(tcmu_get_be16(&c.buf[4]), 1); /* non-rotating */
	t_cmd_free(&c);
	t_dev_free(t);

	t = t_ready(BS, NB, 0);
	inquiry(t, &c, true, 0x86, 64);
	assert_int_equal(c.buf[6] & 0x01, 0);
	t_cmd_free(&c);
	inquiry(t, &c, true, 0xb1, 64);
	assert_int_equal(tcmu_get_be16(&c.buf[4]), 0);
	t_cmd_free(&c);
	t_dev_free(t);
}

static void test_vpd_b0(void **state)
{
	struct tdev *t = t_ready(BS, NB, T_ALL);
	struct tcmd c;

	t->h.max_unmap_len = 1 << 20;
	inquiry(t, &c, true, 0xb0, 64);
	t_expect_good(&c);
	assert_int_equal(tcmu_get_be16(&c.buf[2]), 0x3c);
	assert_int_equal(c.buf[4] & 0x01, 1);             /* WSNZ */
	assert_true(c.buf[5] >= 1);                        /* CAW length */
	assert_int_equal(tcmu_get_be16(&c.buf[6]), 8);     /* 4 KiB */
	assert_int_equal(tcmu_get_be32(&c.buf[8]), 1024);  /* hw_max_sectors */
	assert_int_equal(tcmu_get_be32(&c.buf[20]), 2048); /* 1 MiB / 512 */
	assert_int_equal(tcmu_get_be32(&c.buf[24]), SCSI_MAX_UNMAP_DESC);
	assert_int_equal(tcmu_get_be32(&c.buf[28]), 8);
	assert_true(tcmu_get_be64(&c.buf[36]) > 0);
	t_cmd_free(&c);

	t->h.max_unmap_len = 0;
	inquiry(t, &c, true, 0xb0, 64);
	assert_int_equal(tcmu_get_be32(&c.buf[20]), 0xffffffffu);
	t_cmd_free(&c);
	t_dev_free(t);

	/* No unmap: no unmap limits. */
	t = t_ready(4096, 256, 0);
	inquiry(t, &c, true, 0xb0, 64);
	assert_int_equal(tcmu_get_be32(&c.buf[20]), 0);
	assert_int_equal(tcmu_get_be32(&c.buf[24]), 0);
	assert_int_equal(tcmu_get_be16(&c.buf[6]), 1);
	t_cmd_free(&c);
	t_dev_free(t);
}

static void test_vpd_b2(void **state)
{
	struct tdev *t = t_ready(BS, NB, T_ALL);
	struct tcmd c;

	inquiry(t, &c, true, 0xb2, 64);
	t_expect_good(&c);
	assert_int_equal(tcmu_get_be16(&c.buf[2]), 4);
	assert_int_equal(c.buf[5] & 0xe0, 0xe0); /* LBPU LBPWS LBPWS10 */
	assert_int_equal(c.buf[5] & 0x04, 0x04); /* LBPRZ */
	t_cmd_free(&c);
	t_dev_free(t);

	t = t_ready(BS, NB, T_HAS_UNMAP);
	inquiry(t, &c, true, 0xb2, 64);
	assert_int_equal(c.buf[5] & 0xe0, 0xe0);
	assert_int_equal(c.buf[5] & 0x04, 0); /* unmapped blocks are not zero */
	t_cmd_free(&c);
	t_dev_free(t);

	t = t_ready(BS, NB, 0);
	inquiry(t, &c, true, 0xb2, 64);
	assert_int_equal(c.buf[5], 0);
	t_cmd_free(&c);
	t_dev_free(t);
}

static void test_serial_read_lazily(void **state)
{
	struct tdev *t = t_ready(BS, NB, 0);
	const char *saved = cfg_serial;
	struct tcmd c;

	cfg_serial = NULL; /* not written yet */
	inquiry(t, &c, true, 0x80, 255);
	t_expect_good(&c);
	assert_int_equal(c.buf[3], 0);
	t_cmd_free(&c);
	inquiry(t, &c, true, 0x83, 255);
	assert_null(find_desig(c.buf, 3, 0)); /* no NAA without serial */
	t_cmd_free(&c);

	cfg_serial = "T10 VPD Unit Serial Number: beef";
	inquiry(t, &c, true, 0x80, 255);
	assert_string_equal((char *)&c.buf[4], "beef");
	t_cmd_free(&c);

	/* Once known it is kept (LIO refuses changes while exported). */
	cfg_serial = "T10 VPD Unit Serial Number: f00d";
	inquiry(t, &c, true, 0x80, 255);
	assert_string_equal((char *)&c.buf[4], "beef");
	t_cmd_free(&c);
	cfg_serial = saved;
	t_dev_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_standard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defaults_without_configfs,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vpd_00_80, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vpd_83, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vpd_86_b1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vpd_b0, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vpd_b2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_serial_read_lazily, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
