/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_ring_uio.c — tcmu_device_open_uio() on a fake sysfs, configfs and
 * /dev ($TCMU_SYSFS_ROOT, $TCMU_CONFIGFS_ROOT, $TCMU_DEV_ROOT): name and
 * map size from sysfs, attributes from configfs, the mapping checked
 * (mailbox version, geometry), and what happens when pieces are missing.
 */
#include <errno.h>
#include <fcntl.h>
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

#include "spine.h"

#define MAP_SIZE 0x20000u /* mailbox + ring: 64 KiB, data area: 64 KiB */

static char root[256];

static void put(const char *rel, const char *content)
{
	char path[512], *p;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static void put_dev(const char *uio, uint16_t version, uint32_t cmdr_size)
{
	struct tcmu_mailbox mb;
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/dev", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/dev/%s", root, uio);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, MAP_SIZE), 0);
	memset(&mb, 0, sizeof(mb));
	mb.version = version;
	mb.flags = TCMU_MAILBOX_FLAG_CAP_OOOC | TCMU_MAILBOX_FLAG_CAP_READ_LEN;
	mb.cmdr_off = sizeof(mb);
	mb.cmdr_size = cmdr_size;
	assert_int_equal(pwrite(fd, &mb, sizeof(mb), 0), (ssize_t)sizeof(mb));
	close(fd);
}

static int setup(void **state)
{
	char path[512];

	snprintf(root, sizeof(root), "/tmp/tcmu-uio-test.XXXXXX");
	assert_non_null(mkdtemp(root));
	snprintf(path, sizeof(path), "%s/sys", root);
	setenv("TCMU_SYSFS_ROOT", path, 1);
	snprintf(path, sizeof(path), "%s/cfg", root);
	setenv("TCMU_CONFIGFS_ROOT", path, 1);
	snprintf(path, sizeof(path), "%s/dev", root);
	setenv("TCMU_DEV_ROOT", path, 1);

	put("sys/class/uio/uio7/name", "tcm-user/3/lun7/file//var/lib/x.img\n");
	put("sys/class/uio/uio7/maps/map0/size", "0x0000000000020000\n");
	put("cfg/core/user_3/lun7/info",
	    "Status: ACTIVATED  Max Queue Depth: 0  SectorSize: 4096  HwMaxSectors: 256\n"
	    "        Config: file//var/lib/x.img Size: 8388608 MaxDataAreaMB: 1 DataPagesPerBlk: 1\n");
	put("cfg/core/user_3/lun7/attrib/hw_block_size", "4096\n");
	put("cfg/core/user_3/lun7/attrib/hw_max_sectors", "256\n");
	put("cfg/core/user_3/lun7/attrib/emulate_write_cache", "1\n");
	put("cfg/core/user_3/lun7/attrib/cmd_time_out", "45\n");
	put_dev("uio7", TCMU_MAILBOX_VERSION, 65536 - 128);
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void test_open_uio(void **state)
{
	struct tcmu_device *dev;
	const struct tcmu_device_info *info;

	assert_int_equal(tcmu_device_open_uio("uio7", &dev), 0);
	info = tcmu_device_get_info(dev);
	assert_string_equal(info->uio, "uio7");
	assert_string_equal(info->name, "tcm-user/3/lun7");
	assert_string_equal(info->hba, "user_3");
	assert_string_equal(info->dev, "lun7");
	assert_string_equal(info->subtype, "file");
	assert_string_equal(info->cfgstring, "/var/lib/x.img");
	assert_int_equal(info->block_size, 4096);
	assert_int_equal(info->size, 8388608);
	assert_int_equal(info->max_sectors, 256);
	assert_true(info->write_cache);
	assert_int_equal(info->cmd_time_out, 45);
	assert_int_equal(dev->map_size, 0x20000);
	assert_int_equal(tcmu_dev_get_num_lbas(dev), 2048);
	assert_int_equal(tcmu_dev_get_max_xfer_len(dev), 65536); /* data area */
	assert_true(tcmu_device_get_fd(dev) >= 0);
	assert_null(tcmu_ring_next(dev)); /* empty ring */
	tcmu_device_close(dev);
}

static void test_open_uio_defaults(void **state)
{
	struct tcmu_device *dev;
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s/cfg/core/user_3/lun7/attrib'", root);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(tcmu_device_open_uio("uio7", &dev), 0);
	assert_int_equal(tcmu_device_get_info(dev)->block_size, 512);
	assert_int_equal(tcmu_device_get_info(dev)->max_sectors, 128);
	assert_false(tcmu_device_get_info(dev)->write_cache);
	assert_int_equal(tcmu_device_get_info(dev)->size, 8388608);
	tcmu_device_close(dev);
}

static void test_open_uio_errors(void **state)
{
	struct tcmu_device *dev = (void *)1;
	char cmd[600];

	assert_int_equal(tcmu_device_open_uio("uio7/../uio7", &dev), -EINVAL);
	assert_null(dev);
	assert_int_equal(tcmu_device_open_uio("sda", &dev), -EINVAL);
	assert_int_equal(tcmu_device_open_uio("uio8", &dev), -ENOENT);

	/* Not a TCMU device. */
	put("sys/class/uio/uio9/name", "some_other_uio\n");
	assert_int_equal(tcmu_device_open_uio("uio9", &dev), -EINVAL);

	/* Wrong mailbox version. */
	put_dev("uio7", 1, 65536 - 128);
	assert_int_equal(tcmu_device_open_uio("uio7", &dev), -EINVAL);
	/* Ring larger than the mapping. */
	put_dev("uio7", TCMU_MAILBOX_VERSION, 1 << 20);
	assert_int_equal(tcmu_device_open_uio("uio7", &dev), -EINVAL);
	put_dev("uio7", TCMU_MAILBOX_VERSION, 65536 - 128);
	assert_int_equal(tcmu_device_open_uio("uio7", &dev), 0);
	tcmu_device_close(dev);

	/* No device node. */
	snprintf(cmd, sizeof(cmd), "rm -f '%s/dev/uio7'", root);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(tcmu_device_open_uio("uio7", &dev), -ENOENT);
	put_dev("uio7", TCMU_MAILBOX_VERSION, 65536 - 128);

	/* Bad map size. */
	put("sys/class/uio/uio7/maps/map0/size", "zero\n");
	assert_int_equal(tcmu_device_open_uio("uio7", &dev), -EINVAL);
	put("sys/class/uio/uio7/maps/map0/size", "0x20000\n");

	/* No size anywhere. */
	snprintf(cmd, sizeof(cmd), "rm -f '%s/cfg/core/user_3/lun7/info'", root);
	assert_int_equal(system(cmd), 0);
	assert_true(tcmu_device_open_uio("uio7", &dev) < 0);
	assert_null(dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_uio, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_uio_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_uio_errors, setup, teardown),
	};

	tcmu_set_log_level(0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
