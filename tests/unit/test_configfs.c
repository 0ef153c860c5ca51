/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_configfs — configfs attribute reads, writes and parsing against a
 * fake tree in a temp directory ($TCMU_CONFIGFS_ROOT), laid out and
 * filled the way target_core_configfs.c / target_core_user.c print.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tcmu_internal.h"

static char root[256];
static struct tcmu_device_info info;

/* mkdir -p of @path's parent directories. */
static void mkparents(const char *path)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) && errno != EEXIST)
			fail_msg("mkdir %s: %s", tmp, strerror(errno));
		*p = '/';
	}
}

/* Writes @content to <root>/core/user_3/disk1/<rel>. */
static void put(const char *rel, const char *content)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/core/%s/%s/%s", root, info.hba,
		 info.dev, rel);
	mkparents(path);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static void get(const char *rel, char *buf, size_t size)
{
	char path[PATH_MAX];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/core/%s/%s/%s", root, info.hba,
		 info.dev, rel);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	return remove(path);
}

static int setup(void **state)
{
	snprintf(root, sizeof(root), "/tmp/tcmu-cfgfs-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	setenv("TCMU_CONFIGFS_ROOT", root, 1);
	memset(&info, 0, sizeof(info));
	strcpy(info.hba, "user_3");
	strcpy(info.dev, "disk1");
	return 0;
}

static int teardown(void **state)
{
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	unsetenv("TCMU_CONFIGFS_ROOT");
	return 0;
}

/* ---- reads ---------------------------------------------------------------- */

static void read_attr_strips_newline(void **state)
{
	char buf[64];

	put("attrib/hw_block_size", "4096\n");
	assert_int_equal(tcmu_cfgfs_read_attr(&info, "attrib/hw_block_size", buf,
					      sizeof(buf)),
			 4);
	assert_string_equal(buf, "4096");
}

static void read_u64_attributes(void **state)
{
	static const struct {
		const char *rel, *content;
		uint64_t want;
	} a[] = {
		{ "attrib/hw_block_size", "512\n", 512 },
		{ "attrib/hw_max_sectors", "1024\n", 1024 },
		{ "attrib/emulate_write_cache", "1\n", 1 },
		{ "attrib/cmd_time_out", "30\n", 30 },
		{ "attrib/max_data_area_mb", "2048\n", 2048 },
		{ "attrib/dev_size", "18446744073709551615\n", UINT64_MAX },
	};

	for (size_t i = 0; i < sizeof(a) / sizeof(a[0]); i++) {
		uint64_t v = 7;

		put(a[i].rel, a[i].content);
		assert_int_equal(tcmu_cfgfs_read_u64(&info, a[i].rel, &v), 0);
		assert_true(v == a[i].want);
	}
}

static void read_u64_garbage(void **state)
{
	static const struct {
		const char *content;
		int ret;
	} a[] = {
		{ "12abc\n", -EINVAL },	 { "-1\n", -EINVAL },
		{ "0x10\n", -EINVAL },	 { "1 2\n", -EINVAL },
		{ "\n", -ENODATA },	 { "", -ENODATA },
		{ "  \n", -ENODATA },	 { "18446744073709551616\n", -ERANGE },
		{ "abc\n", -EINVAL },
	};

	for (size_t i = 0; i < sizeof(a) / sizeof(a[0]); i++) {
		uint64_t v = 7;

		put("attrib/hw_block_size", a[i].content);
		assert_int_equal(tcmu_cfgfs_read_u64(&info, "attrib/hw_block_size",
						     &v),
				 a[i].ret);
		assert_true(v == 7);
	}
}

static void read_missing(void **state)
{
	char buf[64];
	uint64_t v;

	assert_int_equal(tcmu_cfgfs_read_attr(&info, "attrib/hw_block_size", buf,
					      sizeof(buf)),
			 -ENOENT);
	assert_int_equal(tcmu_cfgfs_read_u64(&info, "attrib/nope", &v), -ENOENT);
	put("attrib/hw_block_size", "512\n");
	strcpy(info.dev, "other");
	assert_int_equal(tcmu_cfgfs_read_u64(&info, "attrib/hw_block_size", &v),
			 -ENOENT);
}

static void read_bad_paths(void **state)
{
	static const char *const bad[] = {
		"", "/etc/passwd", "../disk2/info", "attrib/../../x",
		"attrib//hw_block_size", "attrib/", ".", "attrib/./x",
	};
	char buf[64];

	put("info", "x\n");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(tcmu_cfgfs_read_attr(&info, bad[i], buf,
						      sizeof(buf)),
				 -EINVAL);

	static const char *const names[] = { "", ".", "..", "a/b" };
	for (size_t i = 0; i < 4; i++) {
		struct tcmu_device_info x = info;

		strcpy(x.dev, names[i]);
		assert_int_equal(tcmu_cfgfs_read_attr(&x, "info", buf,
						      sizeof(buf)),
				 -EINVAL);
		x = info;
		strcpy(x.hba, names[i]);
		assert_int_equal(tcmu_cfgfs_read_attr(&x, "info", buf,
						      sizeof(buf)),
				 -EINVAL);
	}
	assert_int_equal(tcmu_cfgfs_read_attr(&info, "info", buf, sizeof(buf)), 1);
}

static void read_too_big(void **state)
{
	char buf[8];

	put("info", "0123456789\n");
	assert_int_equal(tcmu_cfgfs_read_attr(&info, "info", buf, sizeof(buf)),
			 -EOVERFLOW);
	put("info", "0123456\n"); /* 8 bytes: no room for the NUL */
	assert_int_equal(tcmu_cfgfs_read_attr(&info, "info", buf, sizeof(buf)),
			 -EOVERFLOW);
	put("info", "012345\n");
	assert_int_equal(tcmu_cfgfs_read_attr(&info, "info", buf, sizeof(buf)), 6);
	assert_string_equal(buf, "012345");
}

static void read_unit_serial(void **state)
{
	char buf[128];

	put("wwn/vpd_unit_serial",
	    "T10 VPD Unit Serial Number: 5f1e2d3c-aaaa-bbbb\n");
	assert_int_equal(tcmu_cfgfs_read_attr(&info, "wwn/vpd_unit_serial", buf,
					      sizeof(buf)),
			 (int)strlen("5f1e2d3c-aaaa-bbbb"));
	assert_string_equal(buf, "5f1e2d3c-aaaa-bbbb");

	/* Not set yet (before enable): empty, and the caller asks later. */
	put("wwn/vpd_unit_serial", "T10 VPD Unit Serial Number: \n");
	assert_int_equal(tcmu_cfgfs_read_attr(&info, "wwn/vpd_unit_serial", buf,
					      sizeof(buf)),
			 0);
	assert_string_equal(buf, "");

	/* Other attributes keep their text. */
	put("wwn/vendor_id", "T10 VPD Unit Serial Number: x\n");
	assert_int_equal(tcmu_cfgfs_read_attr(&info, "wwn/vendor_id", buf,
					      sizeof(buf)),
			 (int)strlen("T10 VPD Unit Serial Number: x"));
}

/* ---- info ------------------------------------------------------------------ */

static void info_kernel_6_1(void **state)
{
	struct tcmu_cfgfs_dev_info di;

	put("info", "Status: ACTIVATED  Max Queue Depth: 128  SectorSize: 512  HwMaxSectors: 128\n"
		    "        Config: file//var/lib/disk.img Size: 1073741824 MaxDataAreaMB: 1024 DataPagesPerBlk: 4\n");
	assert_int_equal(tcmu_cfgfs_read_info(&info, &di), 0);
	assert_true(di.size == 1073741824ULL);
	assert_int_equal(di.max_data_area_mb, 1024);
	assert_int_equal(di.data_pages_per_blk, 4);
}

static void info_newer_kernel_and_tricky_config(void **state)
{
	struct tcmu_cfgfs_dev_info di;

	/* A config string that looks like fields, and CmdRingSizeMB at the end. */
	put("info", "Status: DEACTIVATED  Max Queue Depth: 0  SectorSize: 4096  HwMaxSectors: 8192\n"
		    "        Config: file//x Size: 5 MaxDataAreaMB: 6 DataPagesPerBlk: 7 Size: 8796093022208 MaxDataAreaMB: 8 DataPagesPerBlk: 1 CmdRingSizeMB: 8\n");
	assert_int_equal(tcmu_cfgfs_read_info(&info, &di), 0);
	assert_true(di.size == 8796093022208ULL);
	assert_int_equal(di.max_data_area_mb, 8);
	assert_int_equal(di.data_pages_per_blk, 1);
}

static void info_older_kernel_defaults(void **state)
{
	struct tcmu_cfgfs_dev_info di;

	put("info", "Status: ACTIVATED  Max Queue Depth: 128  SectorSize: 512  HwMaxSectors: 128\n"
		    "        Config: NULL Size: 0\n");
	assert_int_equal(tcmu_cfgfs_read_info(&info, &di), 0);
	assert_true(di.size == 0);
	assert_int_equal(di.max_data_area_mb, 0);
	assert_int_equal(di.data_pages_per_blk, 1);
}

static void info_garbage(void **state)
{
	static const char *const bad[] = {
		/* SectorSize is not Size */
		"Status: ACTIVATED  Max Queue Depth: 128  SectorSize: 512  HwMaxSectors: 128\n        Config: NULL\n",
		"Config: NULL Size: abc MaxDataAreaMB: 1 DataPagesPerBlk: 1\n",
		"Config: NULL Size: 12x MaxDataAreaMB: 1 DataPagesPerBlk: 1\n",
		"Config: NULL Size: 99999999999999999999 MaxDataAreaMB: 1\n",
		"Config: NULL Size: 1 MaxDataAreaMB: 4294967296 DataPagesPerBlk: 1\n",
		"Config: NULL Size: 1 MaxDataAreaMB: -1 DataPagesPerBlk: 1\n",
		"Config: NULL Size: 1 MaxDataAreaMB: 1 DataPagesPerBlk: 0\n",
		"Config: NULL Size: 1 MaxDataAreaMB: 1 DataPagesPerBlk: many\n",
		"",
	};
	struct tcmu_cfgfs_dev_info di;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put("info", bad[i]);
		assert_int_equal(tcmu_cfgfs_read_info(&info, &di), -EINVAL);
	}
	teardown(state);
	setup(state);
	assert_int_equal(tcmu_cfgfs_read_info(&info, &di), -ENOENT);
}

/* ---- writes ---------------------------------------------------------------- */

static void write_block_reset(void **state)
{
	char buf[64];

	put("action/block_dev", "unblocked\n"); /* what a read would show */
	put("action/reset_ring", "");
	assert_int_equal(tcmu_cfgfs_block_dev(&info, true), 0);
	get("action/block_dev", buf, sizeof(buf));
	assert_string_equal(buf, "1");
	assert_int_equal(tcmu_cfgfs_block_dev(&info, false), 0);
	get("action/block_dev", buf, sizeof(buf));
	assert_string_equal(buf, "0");
	assert_int_equal(tcmu_cfgfs_reset_ring(&info), 0);
	get("action/reset_ring", buf, sizeof(buf));
	assert_string_equal(buf, "1");
}

static void write_missing_never_creates(void **state)
{
	char path[PATH_MAX];

	put("info", "x");
	assert_int_equal(tcmu_cfgfs_block_dev(&info, true), -ENOENT);
	assert_int_equal(tcmu_cfgfs_reset_ring(&info), -ENOENT);
	assert_int_equal(tcmu_cfgfs_set_dev_size(&info, 1), -ENOENT);
	snprintf(path, sizeof(path), "%s/core/user_3/disk1/control", root);
	assert_int_equal(access(path, F_OK), -1);
	/* Errors of the write itself come back too. */
	put("action/block_dev/x", "");
	assert_int_equal(tcmu_cfgfs_block_dev(&info, true), -EISDIR);
}

static void write_dev_size(void **state)
{
	char buf[64];

	put("control", "");
	assert_int_equal(tcmu_cfgfs_set_dev_size(&info, 1ULL << 40), 0);
	get("control", buf, sizeof(buf));
	assert_string_equal(buf, "dev_size=1099511627776");
	assert_int_equal(tcmu_cfgfs_set_dev_size(&info, 0), 0);
	get("control", buf, sizeof(buf));
	assert_string_equal(buf, "dev_size=0");
}

static void write_attr_generic(void **state)
{
	char buf[64];

	put("attrib/emulate_write_cache", "0\n");
	assert_int_equal(tcmu_cfgfs_write_attr(&info, "attrib/emulate_write_cache",
					       "1"),
			 0);
	get("attrib/emulate_write_cache", buf, sizeof(buf));
	assert_string_equal(buf, "1");
	assert_int_equal(tcmu_cfgfs_write_attr(&info, "../x", "1"), -EINVAL);
	assert_int_equal(tcmu_cfgfs_write_attr(&info, "attrib/x", NULL), -EINVAL);
}

/* ---- ALUA ------------------------------------------------------------------ */

/* One group as target_core_configfs.c shows it; @sup: bits of RTPG byte 1. */
static void put_group(const char *name, const char *id, const char *state,
		      unsigned int sup, const char *pref, const char *type)
{
	static const struct {
		const char *file;
		unsigned int bit;
	} s[] = {
		{ "alua_support_transitioning", 0x80 },
		{ "alua_support_offline", 0x40 },
		{ "alua_support_lba_dependent", 0x10 },
		{ "alua_support_unavailable", 0x08 },
		{ "alua_support_standby", 0x04 },
		{ "alua_support_active_nonoptimized", 0x02 },
		{ "alua_support_active_optimized", 0x01 },
	};
	char rel[256];

	snprintf(rel, sizeof(rel), "alua/%s/tg_pt_gp_id", name);
	put(rel, id);
	snprintf(rel, sizeof(rel), "alua/%s/alua_access_state", name);
	put(rel, state);
	for (size_t i = 0; i < 7; i++) {
		snprintf(rel, sizeof(rel), "alua/%s/%s", name, s[i].file);
		put(rel, sup & s[i].bit ? "1\n" : "0\n");
	}
	snprintf(rel, sizeof(rel), "alua/%s/preferred", name);
	put(rel, pref);
	snprintf(rel, sizeof(rel), "alua/%s/alua_access_type", name);
	put(rel, type);
	snprintf(rel, sizeof(rel), "alua/%s/alua_access_status", name);
	put(rel, "None\n");
	snprintf(rel, sizeof(rel), "alua/%s/members", name);
	put(rel, "");
}

static void alua_groups(void **state)
{
	struct tcmu_alua_group g[4];

	put_group("zz_second", "17\n", "1\n", 0x0f, "1\n", "Explicit\n");
	put_group("default_tg_pt_gp", "0\n", "0\n", 0xdf, "0\n",
		  "Implicit and Explicit\n");
	put_group("no_id_yet", "", "0\n", 0xdf, "0\n", "Implicit\n");
	put_group("implicit", "65535\n", "14\n", 0x40, "0\n", "Implicit\n");
	put_group("none", "3\n", "2\n", 0x04, "0\n", "None\n");
	put("alua/stray_file", "x\n");

	memset(g, 0xa5, sizeof(g));
	assert_int_equal(tcmu_cfgfs_read_alua(&info, g, 4), 4);
	assert_string_equal(g[0].name, "default_tg_pt_gp");
	assert_int_equal(g[0].id, 0);
	assert_int_equal(g[0].state, 0);
	assert_int_equal(g[0].supported, 0xdf);
	assert_false(g[0].preferred);
	assert_int_equal(g[0].tpgs,
			 TCMU_ALUA_TPGS_IMPLICIT | TCMU_ALUA_TPGS_EXPLICIT);

	assert_string_equal(g[1].name, "none");
	assert_int_equal(g[1].id, 3);
	assert_int_equal(g[1].state, 2);
	assert_int_equal(g[1].supported, 0x04);
	assert_int_equal(g[1].tpgs, 0);

	assert_string_equal(g[2].name, "zz_second");
	assert_int_equal(g[2].id, 17);
	assert_int_equal(g[2].state, 1);
	assert_int_equal(g[2].supported, 0x0f);
	assert_true(g[2].preferred);
	assert_int_equal(g[2].tpgs, TCMU_ALUA_TPGS_EXPLICIT);

	assert_string_equal(g[3].name, "implicit");
	assert_int_equal(g[3].id, 65535);
	assert_int_equal(g[3].state, 14);
	assert_int_equal(g[3].supported, 0x40);
	assert_int_equal(g[3].tpgs, TCMU_ALUA_TPGS_IMPLICIT);

	/* Fewer slots: the lowest ids. */
	memset(g, 0, sizeof(g));
	assert_int_equal(tcmu_cfgfs_read_alua(&info, g, 1), 1);
	assert_string_equal(g[0].name, "default_tg_pt_gp");
	assert_string_equal(g[1].name, "");
}

static void alua_garbage(void **state)
{
	static const struct {
		const char *id, *st, *pref, *type;
	} bad[] = {
		{ "x\n", "0\n", "0\n", "None\n" },
		{ "65536\n", "0\n", "0\n", "None\n" },
		{ "1\n", "zero\n", "0\n", "None\n" },
		{ "1\n", "256\n", "0\n", "None\n" },
		{ "1\n", "0\n", "2\n", "None\n" },
		{ "1\n", "0\n", "0\n", "Sometimes\n" },
	};
	struct tcmu_alua_group g[2];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put_group("g", bad[i].id, bad[i].st, 0x01, bad[i].pref,
			  bad[i].type);
		assert_true(tcmu_cfgfs_read_alua(&info, g, 2) < 0);
	}
	put_group("g", "1\n", "0\n", 0x01, "0\n", "None\n");
	put("alua/g/alua_support_standby", "2\n");
	assert_int_equal(tcmu_cfgfs_read_alua(&info, g, 2), -ERANGE);
	put("alua/g/alua_support_standby", "1\n");
	assert_int_equal(tcmu_cfgfs_read_alua(&info, g, 2), 1);
	assert_int_equal(g[0].supported, 0x05);
}

static void alua_missing(void **state)
{
	struct tcmu_alua_group g[2];

	assert_int_equal(tcmu_cfgfs_read_alua(&info, g, 2), -ENOENT);
	put("alua/g/tg_pt_gp_id", "1\n"); /* the rest missing */
	assert_int_equal(tcmu_cfgfs_read_alua(&info, g, 2), -ENOENT);
}

static void alua_empty(void **state)
{
	struct tcmu_alua_group g[2];
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/core/user_3/disk1/alua/x", root);
	mkparents(path);
	assert_int_equal(tcmu_cfgfs_read_alua(&info, g, 2), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(read_attr_strips_newline),
		T(read_u64_attributes),
		T(read_u64_garbage),
		T(read_missing),
		T(read_bad_paths),
		T(read_too_big),
		T(read_unit_serial),
		T(info_kernel_6_1),
		T(info_newer_kernel_and_tricky_config),
		T(info_older_kernel_defaults),
		T(info_garbage),
		T(write_block_reset),
		T(write_missing_never_creates),
		T(write_dev_size),
		T(write_attr_generic),
		T(alua_groups),
		T(alua_garbage),
		T(alua_missing),
		T(alua_empty),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
