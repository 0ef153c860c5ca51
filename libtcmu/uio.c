/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtcmu/uio.c — open a TCMU device through its UIO node: /dev/uioN,
 * /sys/class/uio/uioN/{name,maps/map0/size} and the configfs attributes
 * of the LUN. For tests, $TCMU_SYSFS_ROOT replaces /sys (as in
 * discover.c) and $TCMU_DEV_ROOT replaces /dev.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spine.h"

#define TCMU_DEFAULT_BLOCK_SIZE 512
#define TCMU_DEFAULT_MAX_SECTORS 128
#define TCMU_DEFAULT_CMD_TIME_OUT 30

static const char *env_or(const char *name, const char *def)
{
	const char *v = secure_getenv(name);

	return v && *v ? v : def;
}

/* Read a small sysfs file into @buf without its trailing newline. */
static int read_small_file(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do {
		n = read(fd, buf, size - 1);
	} while (n < 0 && errno == EINTR);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	return (int)n;
}

static bool valid_uio_name(const char *uio)
{
	const char *p;

	if (strncmp(uio, "uio", 3) || !uio[3] || strlen(uio) >= 32)
		return false;
	for (p = uio + 3; *p; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	return true;
}

static void read_attr_u64(const struct tcmu_device_info *info,
			  const char *attr, uint64_t *val, uint64_t def)
{
	int ret = tcmu_cfgfs_read_u64(info, attr, val);

	if (ret < 0) {
		tcmu_warn("%s: cannot read %s (%s); using %llu", info->name,
			  attr, strerror(-ret), (unsigned long long)def);
		*val = def;
	}
}

int tcmu_device_open_uio(const char *uio, struct tcmu_device **out)
{
	const char *sysroot = env_or("TCMU_SYSFS_ROOT", "/sys");
	const char *devroot = env_or("TCMU_DEV_ROOT", "/dev");
	struct tcmu_device_info info;
	struct tcmu_cfgfs_dev_info ci;
	char path[4096], name[4352], buf[64];
	uint64_t map_size, v;
	char *end;
	int fd, ret;

	*out = NULL;
	if (!uio || !valid_uio_name(uio))
		return -EINVAL;
	memset(&info, 0, sizeof(info));

	snprintf(path, sizeof(path), "%s/class/uio/%s/name", sysroot, uio);
	ret = read_small_file(path, name, sizeof(name));
	if (ret < 0) {
		tcmu_err("%s: cannot read %s: %s", uio, path, strerror(-ret));
		return ret;
	}
	ret = tcmu_parse_uio_name(name, &info);
	if (ret < 0) {
		tcmu_dbg("%s: \"%s\" is not a TCMU device", uio, name);
		return -EINVAL;
	}
	snprintf(info.uio, sizeof(info.uio), "%s", uio);

	snprintf(path, sizeof(path), "%s/class/uio/%s/maps/map0/size", sysroot, uio);
	ret = read_small_file(path, buf, sizeof(buf));
	if (ret < 0) {
		tcmu_err("%s: cannot read %s: %s", uio, path, strerror(-ret));
		return ret;
	}
	errno = 0;
	map_size = strtoull(buf, &end, 0);
	if (errno || end == buf || !map_size || map_size > SIZE_MAX) {
		tcmu_err("%s: bad map size \"%s\"", uio, buf);
		return -EINVAL;
	}

	read_attr_u64(&info, "attrib/hw_block_size", &v, TCMU_DEFAULT_BLOCK_SIZE);
	info.block_size = v && v <= UINT32_MAX ? (uint32_t)v : TCMU_DEFAULT_BLOCK_SIZE;
	read_attr_u64(&info, "attrib/hw_max_sectors", &v, TCMU_DEFAULT_MAX_SECTORS);
	info.max_sectors = v && v <= UINT32_MAX ? (uint32_t)v : TCMU_DEFAULT_MAX_SECTORS;
	read_attr_u64(&info, "attrib/emulate_write_cache", &v, 0);
	info.write_cache = v != 0;
	read_attr_u64(&info, "attrib/cmd_time_out", &v, TCMU_DEFAULT_CMD_TIME_OUT);
	info.cmd_time_out = v <= UINT32_MAX ? (uint32_t)v : TCMU_DEFAULT_CMD_TIME_OUT;
	ret = tcmu_cfgfs_read_info(&info, &ci);
	if (ret == 0 && ci.size) {
		info.size = ci.size;
	} else if (tcmu_cfgfs_read_u64(&info, "attrib/dev_size", &v) == 0) {
		info.size = v;
	} else {
		tcmu_err("%s: cannot find the size of %s", uio, info.name);
		return ret < 0 ? ret : -ENOENT;
	}

	snprintf(path, sizeof(path), "%s/%s", devroot, uio);
	fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		tcmu_err("%s: cannot open %s: %s", uio, path, strerror(-ret));
		return ret;
	}
	/* One fd for events, notifications and the mapping. */
	return tcmu_device_open_fd(fd, fd, (size_t)map_size, &info, out);
}
