/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/unit/test_scsi_xcopy.c — EXTENDED COPY (LID1) between devices of
 * this process, found by their NAA designators, and RECEIVE COPY RESULTS.
 */
#include "test_scsi_common.h"

#define BS 512
#define NB 8192

static int fake_read_attr(const struct tcmu_device_info *info,
			  const char *path, char *buf, size_t size)
{
	if (strcmp(path, "wwn/vpd_unit_serial"))
		return -ENOENT;
	if (!strcmp(info->dev, "devA"))
		snprintf(buf, size, "T10 VPD Unit Serial Number: aaaa0001");
	else if (!strcmp(info->dev, "devB"))
		snprintf(buf, size, "T10 VPD Unit Serial Number: bbbb0002");
	else
		return -ENOENT;
	return (int)strlen(buf);
}

static int fake_read_alua(const struct tcmu_device_info *info,
			  struct tcmu_alua_group *g, size_t max)
{
	return 0;
}

static const struct scsi_cfgfs_ops fake = {
	.read_attr = fake_read_attr,
	.read_alua = fake_read_alua,
};

static int setup(void **state)
{
	scsi_test_set_cfgfs(&fake);
	return 0;
}

static int teardown(void **state)
{
	scsi_test_set_cfgfs(NULL);
	return 0;
}

static struct tdev *named(const char *name, unsigned int caps)
{
	struct tdev *t = t_ready(BS, NB, caps);

	snprintf(t->dev.info.hba, sizeof(t->dev.info.hba), "user_1");
	snprintf(t->dev.info.dev, sizeof(t->dev.info.dev), "%s", name);
	return t;
}

/* Parameter list builder. */
struct plist {
	uint8_t b[2048];
	size_t ncscd, nseg;
	uint8_t list_id, usage;
};

static void add_cscd(struct plist *pl, const char *serial)
{
	uint8_t *d = &pl->b[16 + 32 * pl->ncscd++];

	memset(d, 0, 32);
	d[0] = 0xe4;
	d[1] = 0x00;       /* disk */
	d[4] = 0x01;       /* binary */
	d[5] = 0x03;       /* LU, NAA */
	d[7] = 16;
	vpd_naa_from_serial(serial, &d[8]);
	tcmu_put_be24(&d[29], BS);
}

static void add_seg(struct plist *pl, uint16_t src, uint16_t dst,
		    uint16_t n, uint64_t slba, uint64_t dlba)
{
	uint8_t *d = &pl->b[16 + 32 * pl->ncscd + 28 * pl->nseg++];

	memset(d, 0, 28);
	d[0] = 0x02;
	tcmu_put_be16(&d[2], 0x18);
	tcmu_put_be16(&d[4], src);
	tcmu_put_be16(&d[6], dst);
	tcmu_put_be16(&d[10], n);
	tcmu_put_be64(&d[12], slba);
	tcmu_put_be64(&d[20], dlba);
}

static size_t finish(struct plist *pl)
{
	pl->b[0] = pl->list_id;
	pl->b[1] = (uint8_t)(pl->usage << 3);
	tcmu_put_be16(&pl->b[2], (uint16_t)(32 * pl->ncscd));
	tcmu_put_be32(&pl->b[8], (uint32_t)(28 * pl->nseg));
	return 16 + 32 * pl->ncscd + 28 * pl->nseg;
}

static void xcopy_init(struct tdev *t, struct tcmd *c, struct plist *pl)
{
	uint8_t cdb[16] = { TCMU_SCSI_OP_EXTENDED_COPY, TCMU_SCSI_EC_LID1 };
	size_t plen = finish(pl);

	tcmu_put_be32(&cdb[10], (uint32_t)plen);
	t_cmd_init(t, c, cdb, 16, plen, 2);
	memcpy(c->buf, pl->b, plen);
}

static void xcopy(struct tdev *t, struct tcmd *c, struct plist *pl)
{
	xcopy_init(t, c, pl);
	t_submit(c);
}

static void copy_status(struct tdev *t, struct tcmd *c, uint8_t list_id)
{
	uint8_t cdb[16] = { TCMU_SCSI_OP_RECEIVE_COPY_RESULTS,
			    TCMU_SCSI_RCR_COPY_STATUS, list_id };

	tcmu_put_be32(&cdb[10], 64);
	t_run(t, c, cdb, 16, 64);
}

static void test_copy_same_device(void **state)
{
	struct tdev *a = named("devA", 0);
	struct plist pl = { .list_id = 5, .usage = 0 };
	struct tcmd c;

	add_cscd(&pl, "aaaa0001");
	add_seg(&pl, 0, 0, 10, 0, 1000);
	add_seg(&pl, 0, 0, 3, 50, 2000);
	xcopy(a, &c, &pl);
	t_expect_good(&c);
	assert_memory_equal(a->mem + 1000 * BS, a->mem, 10 * BS);
	assert_memory_equal(a->mem + 2000 * BS, a->mem + 50 * BS, 3 * BS);
	t_cmd_free(&c);

	copy_status(a, &c, 5);
	t_expect_good(&c);
	assert_int_equal(tcmu_get_be32(&c.buf[0]), 8);
	assert_int_equal(c.buf[4], 0x01); /* completed, no errors */
	assert_int_equal(tcmu_get_be16(&c.buf[5]), 2);
	assert_int_equal(c.buf[7], 0x01); /* KiB */
	assert_int_equal(tcmu_get_be32(&c.buf[8]), 13 * BS / 1024);
	t_cmd_free(&c);
	/* Reported once: then forgotten. */
	copy_status(a, &c, 5);
	t_expect_invalid_cdb(&c, 2, 7);
	t_cmd_free(&c);
	t_dev_free(a);
}

static void test_copy_between_devices(void **state)
{
	struct tdev *a = named("devA", 0);
	struct tdev *b = named("devB", T_ALL);
	struct plist pl = { .usage = 3 };
	struct tcmd c;

	add_cscd(&pl, "aaaa0001");
	add_cscd(&pl, "bbbb0002");
	add_seg(&pl, 0, 1, 5000, 10, 100); /* A -> B, several chunks */
	add_seg(&pl, 1, 0, 7, 8000, 3);    /* B -> A */
	xcopy(a, &c, &pl);
	t_expect_good(&c);
	assert_memory_equal(b->mem + 100 * BS, a->mem + 10 * BS, 5000 * BS);
	assert_memory_equal(a->mem + 3 * BS, b->mem + 8000 * BS, 7 * BS);
	assert_true(b->nr_write >= 3);
	assert_int_equal(b->nr_read, 1);
	assert_true(a->nr_read >= 3);
	t_cmd_free(&c);

	/* Issued on B, copying A -> A: both ends are foreign. */
	memset(&pl, 0, sizeof(pl));
	pl.usage = 3;
	add_cscd(&pl, "aaaa0001");
	add_seg(&pl, 0, 0, 4, 0, 7000);
	xcopy(b, &c, &pl);
	t_expect_good(&c);
	assert_memory_equal(a->mem + 7000 * BS, a->mem, 4 * BS);
	t_cmd_free(&c);
	t_dev_free(b);
	t_dev_free(a);
}

static void test_operating_parameters(void **state)
{
	struct tdev *a = named("devA", 0);
	uint8_t cdb[16] = { TCMU_SCSI_OP_RECEIVE_COPY_RESULTS,
			    TCMU_SCSI_RCR_OPERATING_PARAMS };
	struct tcmd c;

	tcmu_put_be32(&cdb[10], 64);
	t_run(a, &c, cdb, 16, 64);
	t_expect_good(&c);
	assert_int_equal(tcmu_get_be32(&c.buf[0]), 42);
	assert_int_equal(c.buf[4] & 0x01, 1); /* SNLID */
	assert_true(tcmu_get_be16(&c.buf[8]) >= 2);
	assert_true(tcmu_get_be16(&c.buf[10]) >= 1);
	assert_int_equal(tcmu_get_be32(&c.buf[20]), 0); /* no inline data */
	assert_int_equal(c.buf[43], 2);
	assert_int_equal(c.buf[44], 0x02);
	assert_int_equal(c.buf[45], 0xe4);
	assert_int_equal(c.cmd.read_len, 46);
	t_cmd_free(&c);
	t_dev_free(a);
}

static void expect_param_error(struct tdev *a, struct plist *pl, uint16_t asc)
{
	struct tcmd c;

	xcopy(a, &c, pl);
	t_expect_check(&c, TCMU_SENSE_ILLEGAL_REQUEST, asc);
	t_cmd_free(&c);
}

static void test_errors(void **state)
{
	struct tdev *a = named("devA", 0);
	struct tdev *ro = named("devB", T_READ_ONLY);
	struct plist pl;
	struct tcmd c;

	/* Unknown NAA: copy target not reachable. */
	memset(&pl, 0, sizeof(pl));
	add_cscd(&pl, "cccc0003");
	add_seg(&pl, 0, 0, 1, 0, 1);
	xcopy(a, &c, &pl);
	t_expect_check(&c, TCMU_SENSE_COPY_ABORTED,
		       TCMU_ASC_COPY_TARGET_DEVICE_NOT_REACHABLE);
	t_cmd_free(&c);

	memset(&pl, 0, sizeof(pl));
	add_cscd(&pl, "aaaa0001");
	pl.b[16] = 0xe0; /* a Fibre Channel N_Port_Name descriptor */
	add_seg(&pl, 0, 0, 1, 0, 1);
	expect_param_error(a, &pl, TCMU_ASC_UNSUPPORTED_TARGET_DESCRIPTOR);

	memset(&pl, 0, sizeof(pl));
	add_cscd(&pl, "aaaa0001");
	add_seg(&pl, 0, 0, 1, 0, 1);
	pl.b[16 + 32] = 0x01; /* block -> stream */
	expect_param_error(a, &pl, TCMU_ASC_UNSUPPORTED_SEGMENT_DESCRIPTOR);

	memset(&pl, 0, sizeof(pl));
	for (int i = 0; i < 17; i++)
		add_cscd(&pl, "aaaa0001");
	expect_param_error(a, &pl, TCMU_ASC_TOO_MANY_TARGET_DESCRIPTORS);

	memset(&pl, 0, sizeof(pl));
	add_cscd(&pl, "aaaa0001");
	add_seg(&pl, 0, 1, 1, 0, 1); /* no descriptor 1 */
	expect_param_error(a, &pl, TCMU_ASC_INVALID_FIELD_IN_PARAMETER_LIST);

	memset(&pl, 0, sizeof(pl));
	add_cscd(&pl, "aaaa0001");
	add_seg(&pl, 0, 0, 2, NB - 1, 0);
	expect_param_error(a, &pl, TCMU_ASC_LBA_OUT_OF_RANGE);

	memset(&pl, 0, sizeof(pl));
	add_cscd(&pl, "aaaa0001");
	add_seg(&pl, 0, 0, 1, 0, 1);
	tcmu_put_be24(&pl.b[16 + 29], 4096); /* wrong block length */
	expect_param_error(a, &pl, TCMU_ASC_INVALID_FIELD_IN_PARAMETER_LIST);

	/* Inline data is not supported. */
	memset(&pl, 0, sizeof(pl));
	add_cscd(&pl, "aaaa0001");
	add_seg(&pl, 0, 0, 1, 0, 1);
	xcopy_init(a, &c, &pl);
	tcmu_put_be32(&c.buf[12], 4);
	t_submit(&c);
	t_expect_check(&c, TCMU_SENSE_ILLEGAL_REQUEST,
		       TCMU_ASC_INVALID_FIELD_IN_PARAMETER_LIST);
	t_expect_field(&c, false, 12, 7);
	t_cmd_free(&c);

	/* Parameter list longer than the data area. */
	xcopy_init(a, &c, &pl);
	tcmu_put_be32(&c.cmd.cdb[10], (uint32_t)c.len + 1);
	t_submit(&c);
	t_expect_check(&c, TCMU_SENSE_ILLEGAL_REQUEST,
		       TCMU_ASC_PARAMETER_LIST_LENGTH_ERROR);
	t_cmd_free(&c);

	/* Read-only destination. */
	memset(&pl, 0, sizeof(pl));
	add_cscd(&pl, "aaaa0001");
	add_cscd(&pl, "bbbb0002");
	add_seg(&pl, 0, 1, 1, 0, 1);
	xcopy(a, &c, &pl);
	t_expect_check(&c, TCMU_SENSE_DATA_PROTECT, TCMU_ASC_WRITE_PROTECTED);
	t_cmd_free(&c);

	/* A read error aborts the copy. */
	memset(&pl, 0, sizeof(pl));
	add_cscd(&pl, "bbbb0002");
	add_cscd(&pl, "aaaa0001");
	add_seg(&pl, 0, 1, 1, 0, 1);
	ro->fail_errno = EIO;
	xcopy(a, &c, &pl);
	t_expect_check(&c, TCMU_SENSE_COPY_ABORTED, TCMU_ASC_READ_ERROR);
	t_cmd_free(&c);
	assert_int_equal(a->nr_write, 0);

	/* Unknown list identifier. */
	copy_status(a, &c, 77);
	t_expect_invalid_cdb(&c, 2, 7);
	t_cmd_free(&c);
	t_dev_free(ro);
	t_dev_free(a);
}

static void test_list_id_in_use(void **state)
{
	struct tdev *a = named("devA", 0);
	struct plist pl = { .list_id = 9, .usage = 0 };
	struct tcmd c1, c2;

	add_cscd(&pl, "aaaa0001");
	add_seg(&pl, 0, 0, 1, 0, 1);
	a->hold_reads = true;
	xcopy_init(a, &c1, &pl);
	scsi_submit(&c1.cmd);
	assert_int_equal(c1.done, 0);
	xcopy(a, &c2, &pl);
	t_expect_check(&c2, TCMU_SENSE_ILLEGAL_REQUEST,
		       TCMU_ASC_OPERATION_IN_PROGRESS);
	t_cmd_free(&c2);
	copy_status(a, &c2, 9);
	t_expect_good(&c2);
	assert_int_equal(c2.buf[4], 0x00); /* in progress */
	t_cmd_free(&c2);
	a->hold_reads = false;
	t_release(a);
	t_expect_good(&c1);
	t_cmd_free(&c1);
	t_dev_free(a);
}

static void test_target_removed(void **state)
{
	struct tdev *a = named("devA", 0);
	struct tdev *b = named("devB", 0);
	struct plist pl = { .usage = 3 };
	struct tcmd c;

	add_cscd(&pl, "aaaa0001");
	add_cscd(&pl, "bbbb0002");
	add_seg(&pl, 0, 1, 4, 0, 0);
	b->hold_writes = true;
	xcopy_init(a, &c, &pl);
	scsi_submit(&c.cmd);
	assert_int_equal(c.done, 0);
	assert_int_equal(b->nheld, 1);
	/* B goes away with the write in its handler: the copy fails. */
	b->nheld = 0;
	t_dev_free(b);
	assert_int_equal(c.done, 1);
	t_expect_check(&c, TCMU_SENSE_COPY_ABORTED,
		       TCMU_ASC_COPY_TARGET_DEVICE_NOT_REACHABLE);
	t_cmd_free(&c);

	/* And it is no longer found. */
	xcopy(a, &c, &pl);
	t_expect_check(&c, TCMU_SENSE_COPY_ABORTED,
		       TCMU_ASC_COPY_TARGET_DEVICE_NOT_REACHABLE);
	t_cmd_free(&c);
	t_dev_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_copy_same_device, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_copy_between_devices,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_operating_parameters,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_id_in_use, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_target_removed, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
