/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtcmu/configfs.c — a TCMU device's configfs attributes, under
 * $TCMU_CONFIGFS_ROOT (default /sys/kernel/config/target):
 *
 *   core/<hba>/<dev>/info               "Status: ... SectorSize: N  HwMaxSectors: N\n
 *                                         Config: <cfg|NULL> Size: N MaxDataAreaMB: N
 *                                         DataPagesPerBlk: N [CmdRingSizeMB: N]\n"
 *   core/<hba>/<dev>/control            write-only, "key=value,..."; dev_size=N
 *                                        changes the size without a netlink event
 *   core/<hba>/<dev>/attrib/<x>         hw_block_size, hw_max_sectors,
 *                                        emulate_write_cache, cmd_time_out, ...
 *   core/<hba>/<dev>/wwn/vpd_unit_serial "T10 VPD Unit Serial Number: <s>\n"
 *   core/<hba>/<dev>/action/block_dev   write 1 (block) / 0 (unblock)
 *   core/<hba>/<dev>/action/reset_ring  write 1 (fail in-flight with BUSY)
 *                                        or 2 (with CHECK CONDITION)
 *   core/<hba>/<dev>/alua/<group>/      tg_pt_gp_id (empty if unset),
 *                                        alua_access_state, alua_access_type,
 *                                        alua_support_<state>, preferred
 *
 * Writes go in one write() (configfs stores take the whole buffer at once).
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

#define CFGFS_DEFAULT_ROOT "/sys/kernel/config/target"
#define SERIAL_PREFIX "T10 VPD Unit Serial Number:"

static const char *cfgfs_root(void)
{
	const char *root = secure_getenv("TCMU_CONFIGFS_ROOT");

	return root && *root ? root : CFGFS_DEFAULT_ROOT;
}

/* A single path component the kernel could have made: no '/', not . or .. */
static bool cfgfs_name_ok(const char *s)
{
	return s[0] && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

/* A relative path without empty, . or .. components. */
static bool cfgfs_rel_ok(const char *rel)
{
	const char *p = rel;

	if (!*rel)
		return false;
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += n;
		if (*p == '/' && !*++p)
			return false;
	}
	return true;
}

/* <root>/core/<hba>/<dev>/<rel> into @buf. Returns 0 or -errno. */
static int cfgfs_path(const struct tcmu_device_info *info, const char *rel,
		      char *buf, size_t size)
{
	int n;

	if (!info || !rel || !cfgfs_name_ok(info->hba) ||
	    !cfgfs_name_ok(info->dev) || !cfgfs_rel_ok(rel))
		return -EINVAL;
	n = snprintf(buf, size, "%s/core/%s/%s/%s", cfgfs_root(), info->hba,
		     info->dev, rel);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

/*
 * Reads a whole file into @buf (NUL-terminated, trailing newlines cut).
 * Returns the length, -EOVERFLOW if it does not fit, or -errno.
 */
static int read_file(const char *path, char *buf, size_t size)
{
	size_t len = 0;
	int fd;

	if (size < 2)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n = read(fd, buf + len, size - len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			n = -errno;
			close(fd);
			return n;
		}
		if (n == 0)
			break;
		len += n;
		if (len == size) {
			close(fd);
			return -EOVERFLOW;
		}
	}
	close(fd);
	buf[len] = '\0';
	while (len && buf[len - 1] == '\n')
		buf[--len] = '\0';
	return (int)len;
}

/* Writes @val in one write(). Returns 0 or -errno. */
static int write_file(const char *path, const char *val)
{
	size_t len = strlen(val);
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do
		n = write(fd, val, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		n = -errno;
	else if ((size_t)n != len)
		n = -EIO;
	else
		n = 0;
	if (close(fd) < 0 && n == 0 && errno != EINTR)
		n = -errno;
	return (int)n;
}

/* Strict unsigned decimal, surrounding blanks allowed. 0 or -errno. */
static int parse_u64(const char *s, uint64_t *val)
{
	unsigned long long v;
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	if (!*s)
		return -ENODATA;
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	while (isspace((unsigned char)*end))
		end++;
	if (*end)
		return -EINVAL;
	*val = v;
	return 0;
}

int tcmu_cfgfs_read_attr(const struct tcmu_device_info *info, const char *path,
			 char *buf, size_t size)
{
	char file[PATH_MAX];
	int ret;

	if (!buf || !size)
		return -EINVAL;
	buf[0] = '\0';
	ret = cfgfs_path(info, path, file, sizeof(file));
	if (ret)
		return ret;
	ret = read_file(file, buf, size);
	if (ret < 0)
		return ret;

	/* wwn/vpd_unit_serial: the kernel prefixes the value with a label. */
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	if (!strcmp(base, "vpd_unit_serial") &&
	    !strncmp(buf, SERIAL_PREFIX, strlen(SERIAL_PREFIX))) {
		const char *s = buf + strlen(SERIAL_PREFIX);

		while (*s == ' ')
			s++;
		ret = (int)strlen(s);
		memmove(buf, s, ret + 1);
	}
	return ret;
}

int tcmu_cfgfs_read_u64(const struct tcmu_device_info *info, const char *path,
			uint64_t *val)
{
	char buf[64];
	int ret;

	if (!val)
		return -EINVAL;
	ret = tcmu_cfgfs_read_attr(info, path, buf, sizeof(buf));
	if (ret < 0)
		return ret;
	return parse_u64(buf, val);
}

int tcmu_cfgfs_write_attr(const struct tcmu_device_info *info, const char *path,
			  const char *val)
{
	char file[PATH_MAX];
	int ret;

	if (!val)
		return -EINVAL;
	ret = cfgfs_path(info, path, file, sizeof(file));
	if (ret)
		return ret;
	ret = write_file(file, val);
	if (ret)
		tcmu_dbg("configfs: writing \"%s\" to %s: %s", val, file,
			 strerror(-ret));
	return ret;
}

int tcmu_cfgfs_set_dev_size(const struct tcmu_device_info *info, uint64_t size)
{
	char val[40];

	snprintf(val, sizeof(val), "dev_size=%" PRIu64, size);
	return tcmu_cfgfs_write_attr(info, "control", val);
}

int tcmu_cfgfs_block_dev(const struct tcmu_device_info *info, bool block)
{
	return tcmu_cfgfs_write_attr(info, "action/block_dev", block ? "1" : "0");
}

int tcmu_cfgfs_reset_ring(const struct tcmu_device_info *info)
{
	return tcmu_cfgfs_write_attr(info, "action/reset_ring", "1");
}

/* ------------------------------------------------------------------ */
/* info                                                               */
/* ------------------------------------------------------------------ */

/*
 * The value after "<key>: " where key starts a word (start of @from or
 * after a blank), searching from @from; @last: take the last match.
 */
static const char *info_find(const char *from, const char *key, bool last)
{
	size_t klen = strlen(key);
	const char *found = NULL;

	for (const char *p = from; (p = strstr(p, key)); p++) {
		if (p != from && !isspace((unsigned char)p[-1]))
			continue;
		if (p[klen] != ':' || p[klen + 1] != ' ')
			continue;
		found = p + klen + 2;
		if (!last)
			break;
	}
	return found;
}

/* Decimal at @s ending at a blank or the end. 0 or -EINVAL / -ERANGE. */
static int info_number(const char *s, uint64_t max, uint64_t *val)
{
	unsigned long long v;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE || v > max)
		return -ERANGE;
	if (*end && !isspace((unsigned char)*end))
		return -EINVAL;
	*val = v;
	return 0;
}

int tcmu_cfgfs_read_info(const struct tcmu_device_info *info,
			 struct tcmu_cfgfs_dev_info *out)
{
	char buf[8192];
	const char *size, *v;
	uint64_t n;
	int ret;

	if (!out)
		return -EINVAL;
	ret = tcmu_cfgfs_read_attr(info, "info", buf, sizeof(buf));
	if (ret < 0)
		return ret;

	/*
	 * "Config: <dev_config>" comes first and the config string may hold
	 * anything, "Size: " included: the real Size is the last one, and
	 * the fields after it are searched for only after it.
	 */
	size = info_find(buf, "Size", true);
	if (!size || info_number(size, UINT64_MAX, &n)) {
		tcmu_err("configfs: %s/%s info has no valid Size: \"%s\"",
			 info->hba, info->dev, buf);
		return -EINVAL;
	}
	out->size = n;

	out->max_data_area_mb = 0; /* unknown (older kernels) */
	v = info_find(size, "MaxDataAreaMB", false);
	if (v) {
		if (info_number(v, UINT32_MAX, &n)) {
			tcmu_err("configfs: %s/%s info: bad MaxDataAreaMB",
				 info->hba, info->dev);
			return -EINVAL;
		}
		out->max_data_area_mb = n;
	}

	out->data_pages_per_blk = 1; /* older kernels: one page a block */
	v = info_find(size, "DataPagesPerBlk", false);
	if (v) {
		if (info_number(v, UINT32_MAX, &n) || n == 0) {
			tcmu_err("configfs: %s/%s info: bad DataPagesPerBlk",
				 info->hba, info->dev);
			return -EINVAL;
		}
		out->data_pages_per_blk = n;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* ALUA                                                               */
/* ------------------------------------------------------------------ */

static const struct {
	const char *file;
	uint8_t bit;
} alua_support[] = {
	/* RTPG's supported-states byte: T O - LBD U S AN AO */
	{ "alua_support_transitioning", 0x80 },
	{ "alua_support_offline", 0x40 },
	{ "alua_support_lba_dependent", 0x10 },
	{ "alua_support_unavailable", 0x08 },
	{ "alua_support_standby", 0x04 },
	{ "alua_support_active_nonoptimized", 0x02 },
	{ "alua_support_active_optimized", 0x01 },
};

static int alua_read_u64(const struct tcmu_device_info *info,
			 const char *group, const char *file, uint64_t max,
			 uint64_t *val)
{
	char rel[PATH_MAX];
	int ret;

	snprintf(rel, sizeof(rel), "alua/%s/%s", group, file);
	ret = tcmu_cfgfs_read_u64(info, rel, val);
	if (!ret && *val > max)
		ret = -ERANGE;
	return ret;
}

/*
 * One group. Returns 1 if read, 0 to skip it (no id yet, or removed
 * meanwhile), or -errno.
 */
static int alua_read_group(const struct tcmu_device_info *info,
			   const char *name, struct tcmu_alua_group *g)
{
	char rel[PATH_MAX], type[64];
	uint64_t v;
	int ret;

	memset(g, 0, sizeof(*g));
	if (strlen(name) >= sizeof(g->name)) {
		tcmu_err("configfs: %s/%s: ALUA group name too long: %s",
			 info->hba, info->dev, name);
		return -ENAMETOOLONG;
	}
	strcpy(g->name, name);

	ret = alua_read_u64(info, name, "tg_pt_gp_id", UINT16_MAX, &v);
	if (ret == -ENODATA || ret == -ENOENT || ret == -ENOTDIR) {
		tcmu_dbg("configfs: %s/%s: ALUA entry %s skipped (%s)",
			 info->hba, info->dev, name,
			 ret == -ENODATA ? "no tg_pt_gp_id" : strerror(-ret));
		return 0;
	}
	if (ret)
		goto bad;
	g->id = v;

	ret = alua_read_u64(info, name, "alua_access_state", UINT8_MAX, &v);
	if (ret)
		goto bad;
	g->state = v;

	for (size_t i = 0; i < sizeof(alua_support) / sizeof(alua_support[0]);
	     i++) {
		ret = alua_read_u64(info, name, alua_support[i].file, 1, &v);
		if (ret)
			goto bad;
		if (v)
			g->supported |= alua_support[i].bit;
	}

	ret = alua_read_u64(info, name, "preferred", 1, &v);
	if (ret)
		goto bad;
	g->preferred = v;

	snprintf(rel, sizeof(rel), "alua/%s/alua_access_type", name);
	ret = tcmu_cfgfs_read_attr(info, rel, type, sizeof(type));
	if (ret < 0)
		goto bad;
	if (!strcmp(type, "Implicit and Explicit"))
		g->tpgs = TCMU_ALUA_TPGS_IMPLICIT | TCMU_ALUA_TPGS_EXPLICIT;
	else if (!strcmp(type, "Implicit"))
		g->tpgs = TCMU_ALUA_TPGS_IMPLICIT;
	else if (!strcmp(type, "Explicit"))
		g->tpgs = TCMU_ALUA_TPGS_EXPLICIT;
	else if (!strcmp(type, "None"))
		g->tpgs = 0;
	else {
		ret = -EINVAL;
		goto bad;
	}
	return 1;
bad:
	tcmu_err("configfs: %s/%s: ALUA group %s unreadable: %s", info->hba,
		 info->dev, name, strerror(-ret));
	return ret;
}

static int alua_cmp(const void *a, const void *b)
{
	const struct tcmu_alua_group *x = a, *y = b;

	return x->id != y->id ? (x->id < y->id ? -1 : 1) :
				strcmp(x->name, y->name);
}

int tcmu_cfgfs_read_alua(const struct tcmu_device_info *info,
			 struct tcmu_alua_group *groups, size_t max)
{
	struct tcmu_alua_group *all = NULL, *tmp;
	size_t nr = 0, cap = 0;
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int ret;

	if (!groups && max)
		return -EINVAL;
	ret = cfgfs_path(info, "alua", dir, sizeof(dir));
	if (ret)
		return ret;
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((errno = 0, de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		if (nr == cap) {
			cap = cap ? cap * 2 : 4;
			tmp = realloc(all, cap * sizeof(*all));
			if (!tmp) {
				ret = -ENOMEM;
				goto out;
			}
			all = tmp;
		}
		ret = alua_read_group(info, de->d_name, &all[nr]);
		if (ret < 0)
			goto out;
		nr += ret;
	}
	if (errno) {
		ret = -errno;
		goto out;
	}
	if (nr > 1)
		qsort(all, nr, sizeof(*all), alua_cmp);
	if (nr > max)
		tcmu_warn("configfs: %s/%s has %zu ALUA groups, using %zu",
			  info->hba, info->dev, nr, max);
	ret = (int)(nr < max ? nr : max);
	if (ret)
		memcpy(groups, all, ret * sizeof(*all));
out:
	closedir(d);
	free(all);
	return ret;
}
