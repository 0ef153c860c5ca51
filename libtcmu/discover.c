/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtcmu/discover.c — TCMU devices that already exist when we start
 * ($TCMU_SYSFS_ROOT, default /sys, class/uio/uioN/name), and the uio name
 * the kernel gives them: "tcm-user/%u/%s/%s" of the HBA's host id, the
 * device's configfs name and its dev_config "<subtype>/<cfg>" (just
 * "tcm-user/%u/%s" while dev_config is empty). The HBA's configfs
 * directory is "user_<host id>".
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tcmu_internal.h"

#define UIO_PREFIX "tcm-user/"
#define UIO_NAME_MAX 4096

static const char *sysfs_root(void)
{
	const char *root = secure_getenv("TCMU_SYSFS_ROOT");

	return root && *root ? root : "/sys";
}

/* Copies [s, s+n) into dst[size]; false if it does not fit. */
static bool copy_field(char *dst, size_t size, const char *s, size_t n)
{
	if (n >= size)
		return false;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return true;
}

int tcmu_parse_uio_name(const char *uio_name, struct tcmu_device_info *info)
{
	char name[sizeof(info->name)], hba[sizeof(info->hba)];
	char dev[sizeof(info->dev)], subtype[sizeof(info->subtype)];
	const char *p, *host, *d, *sub, *cfg;
	size_t host_len, dev_len, sub_len, cfg_len;
	unsigned long long id;

	if (!uio_name || !info)
		return -EINVAL;
	if (strncmp(uio_name, UIO_PREFIX, strlen(UIO_PREFIX)))
		return -EINVAL;

	/* Host id: what "%u" prints, no sign, no leading zero. */
	host = uio_name + strlen(UIO_PREFIX);
	host_len = strspn(host, "0123456789");
	if (!host_len || host[host_len] != '/' || host_len > 10 ||
	    (host[0] == '0' && host_len > 1))
		return -EINVAL;
	id = strtoull(host, NULL, 10);
	if (id > UINT32_MAX)
		return -EINVAL;

	/* Device: one configfs name. */
	d = host + host_len + 1;
	dev_len = strcspn(d, "/");
	if (!dev_len || (dev_len == 1 && d[0] == '.') ||
	    (dev_len == 2 && d[0] == '.' && d[1] == '.'))
		return -EINVAL;
	if (d[dev_len] != '/')
		return -EINVAL; /* no dev_config: no handler to serve it */

	/* dev_config: "<subtype>[/<cfg>]", cfg anything (slashes too). */
	sub = d + dev_len + 1;
	sub_len = strcspn(sub, "/\n");
	if (!sub_len)
		return -EINVAL;
	cfg = sub + sub_len;
	if (*cfg == '/')
		cfg++;
	cfg_len = strlen(cfg);
	while (cfg_len && cfg[cfg_len - 1] == '\n')
		cfg_len--;
	if (cfg == sub + sub_len && cfg_len)
		return -EINVAL; /* a newline inside the subtype */

	p = d + dev_len; /* end of "tcm-user/<id>/<dev>" */
	if (!copy_field(name, sizeof(name), uio_name, p - uio_name) ||
	    !copy_field(dev, sizeof(dev), d, dev_len) ||
	    !copy_field(subtype, sizeof(subtype), sub, sub_len) ||
	    cfg_len >= sizeof(info->cfgstring))
		return -EINVAL;
	snprintf(hba, sizeof(hba), "user_%llu", id);

	memcpy(info->name, name, sizeof(name));
	memcpy(info->hba, hba, sizeof(hba));
	memcpy(info->dev, dev, sizeof(dev));
	memcpy(info->subtype, subtype, sizeof(subtype));
	memcpy(info->cfgstring, cfg, cfg_len);
	info->cfgstring[cfg_len] = '\0';
	return 0;
}

/* "uio<digits>" */
static int uio_filter(const struct dirent *de)
{
	const char *s = de->d_name;

	if (strncmp(s, "uio", 3) || !s[3])
		return 0;
	for (s += 3; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

/* Reads class/uio/<uio>/name, trailing newline cut. Length or -errno. */
static int read_uio_name(const char *dir, const char *uio, char *buf,
			 size_t size)
{
	char path[PATH_MAX];
	ssize_t n;
	size_t len = 0;
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s/name", dir, uio) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len < size - 1) {
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			close(fd);
			return (int)n;
		}
		if (n == 0)
			break;
		len += n;
	}
	close(fd);
	buf[len] = '\0';
	if (len && buf[len - 1] == '\n')
		buf[--len] = '\0';
	return (int)len;
}

int tcmu_discover_devices(tcmu_discover_fn fn, void *arg)
{
	struct dirent **list = NULL;
	char dir[PATH_MAX], *name;
	int nr, found = 0, ret = 0;

	if (!fn)
		return -EINVAL;
	if (snprintf(dir, sizeof(dir), "%s/class/uio", sysfs_root()) >=
	    (int)sizeof(dir))
		return -ENAMETOOLONG;
	nr = scandir(dir, &list, uio_filter, versionsort);
	if (nr < 0) {
		if (errno == ENOENT) {
			tcmu_dbg("discover: no %s (uio not loaded): no devices",
				 dir);
			return 0;
		}
		ret = -errno;
		tcmu_dbg("discover: cannot read %s: %s", dir, strerror(-ret));
		return ret;
	}
	name = malloc(UIO_NAME_MAX);
	if (!name) {
		ret = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < nr; i++) {
		const char *uio = list[i]->d_name;
		int r = read_uio_name(dir, uio, name, UIO_NAME_MAX);

		if (r < 0) {
			/* Removed meanwhile, most likely. */
			tcmu_dbg("discover: %s: no name: %s", uio, strerror(-r));
			continue;
		}
		if (strncmp(name, UIO_PREFIX, strlen(UIO_PREFIX)))
			continue;
		found++;
		tcmu_dbg("discover: %s is %s", uio, name);
		r = fn(uio, name, arg);
		if (r) {
			ret = r < 0 ? r : found;
			goto out;
		}
	}
	ret = found;
out:
	free(name);
	for (int i = 0; i < nr; i++)
		free(list[i]);
	free(list);
	return ret;
}
