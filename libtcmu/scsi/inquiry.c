/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libtcmu/scsi/inquiry.c — INQUIRY (SPC-4 6.6): standard data and the
 * dispatch to the VPD pages (vpd.c), plus the device identity (vendor,
 * product, revision, unit serial) read lazily from configfs.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scsi_priv.h"

#define STD_INQ_LEN 96 /* additional length 91, like LIO */

static int default_read_attr(const struct tcmu_device_info *info,
			     const char *path, char *buf, size_t size)
{
	return tcmu_cfgfs_read_attr(info, path, buf, size);
}

static int default_write_attr(const struct tcmu_device_info *info,
			      const char *path, const char *val)
{
	return tcmu_cfgfs_write_attr(info, path, val);
}

static int default_read_alua(const struct tcmu_device_info *info,
			     struct tcmu_alua_group *groups, size_t max)
{
	return tcmu_cfgfs_read_alua(info, groups, max);
}

/* A path component the kernel could have made: no '/', not . or .. */
static bool port_name_ok(const char *s, size_t n)
{
	return n && memchr(s, '/', n) == NULL && !(n == 1 && s[0] == '.') &&
	       !(n == 2 && s[0] == '.' && s[1] == '.');
}

/*
 * default_read_port_attr — reads <root>/<fabric>/<wwn>/<tpgt>/lun/<lun>/
 * <attr> for a members line "<fabric>/<wwn>/<tpgt>/<lun>" (<root> as
 * tcmu_cfgfs_read_attr: $TCMU_CONFIGFS_ROOT or /sys/kernel/config/target).
 * Any thread; may block briefly. Returns the length (trailing newlines cut)
 * or -errno.
 */
static int default_read_port_attr(const char *member, const char *attr,
				  char *buf, size_t size)
{
	const char *root = secure_getenv("TCMU_CONFIGFS_ROOT");
	const char *c[4], *p = member;
	size_t len[4];
	char path[1024];
	ssize_t n;
	int fd, l;

	for (int i = 0; i < 4; i++) {
		const char *slash = strchr(p, '/');

		c[i] = p;
		len[i] = slash ? (size_t)(slash - p) : strlen(p);
		if (!port_name_ok(c[i], len[i]) || (i < 3) != (slash != NULL))
			return -EINVAL;
		p = slash ? slash + 1 : p;
	}
	if (strstr(attr, "..") || size < 2)
		return -EINVAL;
	l = snprintf(path, sizeof(path), "%s/%.*s/%.*s/%.*s/lun/%.*s/%s",
		     root && *root ? root : "/sys/kernel/config/target",
		     (int)len[0], c[0], (int)len[1], c[1], (int)len[2], c[2],
		     (int)len[3], c[3], attr);
	if (l < 0 || (size_t)l >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return (int)n;
	buf[n] = '\0';
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return (int)n;
}

static const struct scsi_cfgfs_ops default_cfgfs = {
	.read_attr = default_read_attr,
	.write_attr = default_write_attr,
	.read_alua = default_read_alua,
	.read_port_attr = default_read_port_attr,
};

struct scsi_cfgfs_ops scsi_cfgfs = {
	.read_attr = default_read_attr,
	.write_attr = default_write_attr,
	.read_alua = default_read_alua,
	.read_port_attr = default_read_port_attr,
};

/* scsi_test_set_cfgfs — see scsi_priv.h. Unit tests only. */
void scsi_test_set_cfgfs(const struct scsi_cfgfs_ops *ops)
{
	scsi_cfgfs = ops ? *ops : default_cfgfs;
}

/* scsi_have_cfgfs — is there a configfs directory to read from? */
bool scsi_have_cfgfs(const struct tcmu_device *dev)
{
	return scsi_have_cfgfs_info(&dev->info);
}

bool scsi_have_cfgfs_info(const struct tcmu_device_info *info)
{
	return scsi_cfgfs.read_attr != default_read_attr ||
	       (info->hba[0] && info->dev[0]);
}

/* Trim trailing white space in place. */
static void rtrim(char *s)
{
	size_t n = strlen(s);

	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
}

/*
 * vpd_get_inquiry_str — configfs attribute @attr (e.g. "wwn/vendor_id"), or
 * @def when it cannot be read or is empty. Ring thread; may block briefly
 * on configfs.
 */
void vpd_get_inquiry_str(struct tcmu_device *dev, const char *attr,
			 const char *def, char *buf, size_t size)
{
	char tmp[256];

	if (scsi_have_cfgfs(dev) &&
	    scsi_cfgfs.read_attr(&dev->info, attr, tmp, sizeof(tmp)) > 0) {
		rtrim(tmp);
		if (tmp[0]) {
			snprintf(buf, size, "%s", tmp);
			return;
		}
	}
	snprintf(buf, size, "%s", def);
}

/*
 * scsi_read_serial — read the unit serial number of the device @info names
 * from configfs (wwn/vpd_unit_serial) into @buf; "" when it is not set.
 * Any thread; may block briefly.
 */
void scsi_read_serial(const struct tcmu_device_info *info, char *buf,
		      size_t size)
{
	char tmp[512];
	const char *p;

	buf[0] = '\0';
	if (!scsi_have_cfgfs_info(info) ||
	    scsi_cfgfs.read_attr(info, "wwn/vpd_unit_serial", tmp,
				 sizeof(tmp)) <= 0)
		return;
	rtrim(tmp);
	/* The kernel prints "T10 VPD Unit Serial Number: <serial>". */
	p = strrchr(tmp, ':');
	p = p ? p + 1 : tmp;
	while (*p == ' ')
		p++;
	if (strlen(p) < size)
		memcpy(buf, p, strlen(p) + 1);
}

/*
 * vpd_get_serial — the unit serial number of @dev, or "" while it is not
 * set. Read lazily: the serial is written after the device is enabled;
 * once known it is cached (LIO refuses to change it while the LUN is
 * exported). Ring thread of @dev; may block briefly on configfs.
 */
void vpd_get_serial(struct tcmu_device *dev, char *buf, size_t size)
{
	struct scsi_dev *sd = dev->scsi;
	char tmp[sizeof(sd->serial)];

	scsi_registry_lock();
	if (sd->serial_known) {
		snprintf(buf, size, "%s", sd->serial);
		scsi_registry_unlock();
		return;
	}
	scsi_registry_unlock();

	scsi_read_serial(&dev->info, tmp, sizeof(tmp));
	if (tmp[0]) {
		scsi_registry_lock();
		if (!sd->serial_known) {
			memcpy(sd->serial, tmp, sizeof(tmp));
			sd->serial_known = true;
		}
		scsi_registry_unlock();
	}
	snprintf(buf, size, "%s", tmp);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * vpd_naa_from_serial — the NAA IEEE Registered Extended designator (NAA 6):
 * the company id 00-14-05 (the one LIO uses) followed by up to 25 hex
 * digits of the unit serial, so a LUN keeps the WWN it had under LIO or
 * other userspace targets. All zero for an empty serial.
 */
void vpd_naa_from_serial(const char *serial, uint8_t naa[16])
{
	const uint32_t company = 0x001405;
	unsigned int nib = 7; /* nibbles used: NAA (1) + company (6) */

	memset(naa, 0, 16);
	if (!serial[0])
		return;
	naa[0] = (uint8_t)(0x60 | ((company >> 20) & 0x0f));
	naa[1] = (uint8_t)(company >> 12);
	naa[2] = (uint8_t)(company >> 4);
	naa[3] = (uint8_t)((company & 0x0f) << 4);
	for (const char *p = serial; *p && nib < 32; p++) {
		int v = hexval(*p);

		if (v < 0)
			continue;
		if (nib & 1)
			naa[nib / 2] |= (uint8_t)v;
		else
			naa[nib / 2] = (uint8_t)(v << 4);
		nib++;
	}
}

/* vpd_naa — @dev's NAA designator (zero while the serial is unknown). */
void vpd_naa(struct tcmu_device *dev, uint8_t naa[16])
{
	char serial[256];

	vpd_get_serial(dev, serial, sizeof(serial));
	vpd_naa_from_serial(serial, naa);
}

/* Copy @s into a space-padded field of @len bytes. */
static void put_padded(uint8_t *dst, const char *s, size_t len)
{
	size_t n = strlen(s);

	memset(dst, ' ', len);
	memcpy(dst, s, SCSI_MIN(n, len));
}

static int alua_tpgs_bits(struct tcmu_device *dev)
{
	struct scsi_alua_group g[SCSI_MAX_ALUA_GROUPS];
	int n = alua_read_groups(dev, g, SCSI_ARRAY_SIZE(g));
	uint8_t bits = 0;

	for (int i = 0; i < n; i++)
		bits |= g[i].access_type;
	return bits;
}

static void std_inquiry(struct tcmu_cmd *cmd, size_t alloc)
{
	struct tcmu_device *dev = cmd->dev;
	uint8_t buf[STD_INQ_LEN] = { 0 };
	char s[64];

	buf[0] = TCMU_SCSI_TYPE_DISK; /* peripheral qualifier 000b */
	buf[2] = 0x06;                 /* VERSION: SPC-4 */
	buf[3] = 0x02;                 /* RESPONSE DATA FORMAT */
	buf[4] = STD_INQ_LEN - 5;      /* ADDITIONAL LENGTH */
	buf[5] = (uint8_t)alua_tpgs_bits(dev) | 0x08; /* TPGS, 3PC */
	buf[7] = 0x02;                 /* CMDQUE */
	vpd_get_inquiry_str(dev, "wwn/vendor_id", "LIO-ORG", s, sizeof(s));
	put_padded(&buf[8], s, 8);
	vpd_get_inquiry_str(dev, "wwn/product_id", "TCMU device", s, sizeof(s));
	put_padded(&buf[16], s, 16);
	vpd_get_inquiry_str(dev, "wwn/revision", "0002", s, sizeof(s));
	put_padded(&buf[32], s, 4);
	/* Version descriptors: SAM-5, SPC-4, SBC-3. */
	tcmu_put_be16(&buf[58], 0x00a0);
	tcmu_put_be16(&buf[60], 0x0460);
	tcmu_put_be16(&buf[62], 0x04c0);

	scsi_data_in(cmd, buf, sizeof(buf), alloc);
	scsi_done_good(cmd);
}

/*
 * INQUIRY: standard data when EVPD is 0 (PAGE CODE must then be 0), else
 * the VPD page. Allocation length truncates, fields are never altered.
 */
void spc_inquiry(struct tcmu_cmd *cmd)
{
	const uint8_t *cdb = cmd->cdb;
	size_t alloc = tcmu_get_be16(&cdb[3]);
	uint8_t buf[1024];
	int n;

	if (cdb[1] & 0x02) { /* CMDDT, obsolete */
		scsi_done_invalid_cdb(cmd, 1, 1);
		return;
	}
	if (!(cdb[1] & 0x01)) {
		if (cdb[2]) {
			scsi_done_invalid_cdb(cmd, 2, 7);
			return;
		}
		std_inquiry(cmd, alloc);
		return;
	}
	n = vpd_page(cmd->dev, cdb[2], buf, sizeof(buf));
	if (n < 0) {
		scsi_done_invalid_cdb(cmd, 2, 7);
		return;
	}
	scsi_data_in(cmd, buf, (size_t)n, alloc);
	scsi_done_good(cmd);
}
