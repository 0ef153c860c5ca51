/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_discover — uio name parsing ("tcm-user/%u/%s/%s" of host id,
 * device name and dev_config) and the class/uio scan against a fake sysfs
 * tree ($TCMU_SYSFS_ROOT).
 */
#include <errno.h>
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

/* ---- tcmu_parse_uio_name -------------------------------------------------- */

static void parse_ok(const char *s, const char *name, const char *hba,
		     const char *dev, const char *sub, const char *cfg)
{
	struct tcmu_device_info info;

	memset(&info, 0, sizeof(info));
	strcpy(info.uio, "uio7");
	info.block_size = 4096;
	if (tcmu_parse_uio_name(s, &info))
		fail_msg("rejected: \"%s\"", s);
	assert_string_equal(info.name, name);
	assert_string_equal(info.hba, hba);
	assert_string_equal(info.dev, dev);
	assert_string_equal(info.subtype, sub);
	assert_string_equal(info.cfgstring, cfg);
	assert_string_equal(info.uio, "uio7"); /* the rest is untouched */
	assert_int_equal(info.block_size, 4096);
}

static void parse_bad(const char *s)
{
	struct tcmu_device_info info, before;

	memset(&info, 0x5a, sizeof(info));
	before = info;
	if (tcmu_parse_uio_name(s, &info) != -EINVAL)
		fail_msg("accepted: \"%s\"", s);
	assert_memory_equal(&info, &before, sizeof(info));
}

static void parse_names(void **state)
{
	parse_ok("tcm-user/3/disk1/file//var/lib/x.img", "tcm-user/3/disk1",
		 "user_3", "disk1", "file", "/var/lib/x.img");
	parse_ok("tcm-user/0/d/rbd/pool/image;osd_op_timeout=30",
		 "tcm-user/0/d", "user_0", "d", "rbd",
		 "pool/image;osd_op_timeout=30");
	parse_ok("tcm-user/12/a.b-c_d/qcow/a/b/c/", "tcm-user/12/a.b-c_d",
		 "user_12", "a.b-c_d", "qcow", "a/b/c/");
	parse_ok("tcm-user/4294967295/d/file/x", "tcm-user/4294967295/d",
		 "user_4294967295", "d", "file", "x");
}

static void parse_empty_cfg(void **state)
{
	parse_ok("tcm-user/1/d/null/", "tcm-user/1/d", "user_1", "d", "null", "");
	parse_ok("tcm-user/1/d/null", "tcm-user/1/d", "user_1", "d", "null", "");
	parse_ok("tcm-user/1/d/null\n", "tcm-user/1/d", "user_1", "d", "null", "");
	/* dev_config rewritten with "echo": the newline ends up in the name */
	parse_ok("tcm-user/1/d/file/x\n", "tcm-user/1/d", "user_1", "d", "file",
		 "x");
	parse_ok("tcm-user/1/d/file//", "tcm-user/1/d", "user_1", "d", "file",
		 "/");
}

static void parse_wrong_prefix(void **state)
{
	parse_bad("");
	parse_bad("tcm-user");
	parse_bad("tcm-user/");
	parse_bad("tcm-usr/1/d/file/x");
	parse_bad("TCM-USER/1/d/file/x");
	parse_bad("uio_pdrv_genirq");
	parse_bad(" tcm-user/1/d/file/x");
}

static void parse_bad_host_id(void **state)
{
	parse_bad("tcm-user//d/file/x");
	parse_bad("tcm-user/x/d/file/x");
	parse_bad("tcm-user/-1/d/file/x");
	parse_bad("tcm-user/+1/d/file/x");
	parse_bad("tcm-user/01/d/file/x");
	parse_bad("tcm-user/1a/d/file/x");
	parse_bad("tcm-user/4294967296/d/file/x");
	parse_bad("tcm-user/99999999999/d/file/x");
}

static void parse_bad_dev_or_subtype(void **state)
{
	parse_bad("tcm-user/1");
	parse_bad("tcm-user/1/");
	parse_bad("tcm-user/1/d");   /* no dev_config: no handler */
	parse_bad("tcm-user/1/d/");  /* empty subtype */
	parse_bad("tcm-user/1/d//x");
	parse_bad("tcm-user/1//file/x");
	parse_bad("tcm-user/1/./file/x");
	parse_bad("tcm-user/1/../file/x");
	parse_bad("tcm-user/1/d/fi\nle/x");
}

static void parse_too_long(void **state)
{
	struct tcmu_device_info info;
	char s[8192], field[5000];

	/* dev: 127 fits, 128 does not */
	memset(field, 'd', 127);
	field[127] = '\0';
	snprintf(s, sizeof(s), "tcm-user/1/%s/file/x", field);
	assert_int_equal(tcmu_parse_uio_name(s, &info), 0);
	assert_int_equal(strlen(info.dev), 127);
	strcat(field, "d");
	snprintf(s, sizeof(s), "tcm-user/1/%s/file/x", field);
	parse_bad(s);

	/* subtype: 63 / 64 */
	memset(field, 's', 63);
	field[63] = '\0';
	snprintf(s, sizeof(s), "tcm-user/1/d/%s/x", field);
	assert_int_equal(tcmu_parse_uio_name(s, &info), 0);
	strcat(field, "s");
	snprintf(s, sizeof(s), "tcm-user/1/d/%s/x", field);
	parse_bad(s);

	/* cfgstring: 4095 / 4096 */
	memset(field, 'c', 4095);
	field[4095] = '\0';
	snprintf(s, sizeof(s), "tcm-user/1/d/file/%s", field);
	assert_int_equal(tcmu_parse_uio_name(s, &info), 0);
	assert_int_equal(strlen(info.cfgstring), 4095);
	strcat(field, "c");
	snprintf(s, sizeof(s), "tcm-user/1/d/file/%s", field);
	parse_bad(s);
}

static void parse_null_args(void **state)
{
	struct tcmu_device_info info;

	assert_int_equal(tcmu_parse_uio_name(NULL, &info), -EINVAL);
	assert_int_equal(tcmu_parse_uio_name("tcm-user/1/d/file/x", NULL),
			 -EINVAL);
}

/* ---- tcmu_discover_devices ------------------------------------------------ */

static char root[256];

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	return remove(path);
}

static int setup(void **state)
{
	snprintf(root, sizeof(root), "/tmp/tcmu-sysfs-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	setenv("TCMU_SYSFS_ROOT", root, 1);
	return 0;
}

static int teardown(void **state)
{
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	unsetenv("TCMU_SYSFS_ROOT");
	return 0;
}

static void mkdir_p(const char *rel)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s/", root, rel);
	for (char *p = path + strlen(root) + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) && errno != EEXIST)
			fail_msg("mkdir %s: %s", path, strerror(errno));
		*p = '/';
	}
}

/* class/uio/<uio>/name = @name (NULL: the directory without it). */
static void add_uio(const char *uio, const char *name)
{
	char rel[128], path[PATH_MAX];
	FILE *f;

	snprintf(rel, sizeof(rel), "class/uio/%s", uio);
	mkdir_p(rel);
	if (!name)
		return;
	snprintf(path, sizeof(path), "%s/%s/name", root, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(name, f);
	fclose(f);
}

struct seen {
	int n;
	int stop_at; /* return @ret at this call (1-based), 0: never */
	int ret;
	char uio[8][32];
	char name[8][256];
};

static int collect(const char *uio, const char *uio_name, void *arg)
{
	struct seen *s = arg;

	assert_true(s->n < 8);
	snprintf(s->uio[s->n], sizeof(s->uio[0]), "%s", uio);
	snprintf(s->name[s->n], sizeof(s->name[0]), "%s", uio_name);
	s->n++;
	return s->n == s->stop_at ? s->ret : 0;
}

static void fake_devices(void)
{
	add_uio("uio10", "tcm-user/1/c/null/\n");
	add_uio("uio0", "tcm-user/1/a/file//x.img\n");
	add_uio("uio1", "uio_pdrv_genirq\n");
	add_uio("uio2", "tcm-user/2/b/file/y\n");
	add_uio("uio3", NULL); /* going away */
	add_uio("uio4", "tcm-user/2/nocfg\n"); /* a TCMU device without config */
	add_uio("not_uio", "tcm-user/9/z/file/z\n");
}

static void discover_in_order(void **state)
{
	struct seen s = { 0 };

	fake_devices();
	assert_int_equal(tcmu_discover_devices(collect, &s), 4);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.uio[0], "uio0");
	assert_string_equal(s.name[0], "tcm-user/1/a/file//x.img");
	assert_string_equal(s.uio[1], "uio2");
	assert_string_equal(s.name[1], "tcm-user/2/b/file/y");
	assert_string_equal(s.uio[2], "uio4");
	assert_string_equal(s.name[2], "tcm-user/2/nocfg");
	assert_string_equal(s.uio[3], "uio10");
	assert_string_equal(s.name[3], "tcm-user/1/c/null/");
}

static void discover_stops(void **state)
{
	struct seen s = { .stop_at = 2, .ret = -EIO };

	fake_devices();
	assert_int_equal(tcmu_discover_devices(collect, &s), -EIO);
	assert_int_equal(s.n, 2);

	memset(&s, 0, sizeof(s));
	s.stop_at = 2;
	s.ret = 1;
	assert_int_equal(tcmu_discover_devices(collect, &s), 2);
	assert_int_equal(s.n, 2);
}

static void discover_nothing(void **state)
{
	struct seen s = { 0 };
	char path[PATH_MAX];
	FILE *f;

	/* No class/uio (uio not loaded): no devices, not an error. */
	assert_int_equal(tcmu_discover_devices(collect, &s), 0);
	mkdir_p("class/uio");
	assert_int_equal(tcmu_discover_devices(collect, &s), 0);
	add_uio("uio0", "uio_pdrv\n");
	assert_int_equal(tcmu_discover_devices(collect, &s), 0);
	assert_int_equal(s.n, 0);

	/* Unreadable class/uio is an error. */
	teardown(state);
	setup(state);
	mkdir_p("class");
	snprintf(path, sizeof(path), "%s/class/uio", root);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(tcmu_discover_devices(collect, &s), -ENOTDIR);
	assert_int_equal(tcmu_discover_devices(NULL, &s), -EINVAL);
}

/* What a daemon does with each: parse, then find its configfs files. */
static void discover_then_parse(void **state)
{
	struct seen s = { 0 };
	struct tcmu_device_info info;

	fake_devices();
	assert_int_equal(tcmu_discover_devices(collect, &s), 4);
	memset(&info, 0, sizeof(info));
	assert_int_equal(tcmu_parse_uio_name(s.name[0], &info), 0);
	assert_string_equal(info.hba, "user_1");
	assert_string_equal(info.dev, "a");
	assert_string_equal(info.cfgstring, "/x.img");
	assert_int_equal(tcmu_parse_uio_name(s.name[2], &info), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_names),
		cmocka_unit_test(parse_empty_cfg),
		cmocka_unit_test(parse_wrong_prefix),
		cmocka_unit_test(parse_bad_host_id),
		cmocka_unit_test(parse_bad_dev_or_subtype),
		cmocka_unit_test(parse_too_long),
		cmocka_unit_test(parse_null_args),
		cmocka_unit_test_setup_teardown(discover_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(discover_stops, setup, teardown),
		cmocka_unit_test_setup_teardown(discover_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(discover_then_parse, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
